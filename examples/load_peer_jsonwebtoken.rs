//! A peer of the HTTP load comparison (`scripts/load.sh`, see `BENCHMARKS.md`):
//! the Cognito check a service would write by hand on axum, jsonwebtoken and
//! moka, instead of using this crate. Not an example to copy: it exists to be
//! measured against.
//!
//! ```text
//! load_peer_jsonwebtoken --pool DIR/pool.json --port-file FILE [--port 0] [--cache 10000]
//! ```
//!
//! Reads the pool that `load_server mint` wrote (pool id, app client, JWKS) and
//! serves the same handler as `load_server` on two routes, each behind the same
//! middleware ([`cognito`]): `/jwt` verifies every request with
//! `jsonwebtoken::decode` (no cache), `/jwt-moka` first looks the token up in a
//! `moka::sync::Cache` of `--cache` entries keyed by the token's SHA-256. The
//! middleware checks what this crate's layer checks for `load_server`'s `/auth`:
//! the key by `kid` (`DecodingKey`s built once from the JWKS), RS256, `iss`, `exp`
//! (no leeway), `token_use` `access`, `client_id`, and the scope `bench/read`;
//! a cached token's `exp` and scope are checked again on every hit. Anything else
//! is answered 401. The port goes to `--port-file` once the server listens.

use aws_lc_rs::digest::{SHA256, digest};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header::AUTHORIZATION};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use moka::sync::Cache;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The scope the routes require (the one `load_server`'s `/auth` requires).
const SCOPE: &str = "bench/read";

/// The claims the middleware reads.
#[derive(Deserialize)]
struct Claims {
    exp: u64,
    token_use: String,
    client_id: String,
    scope: String,
}

/// What the middleware needs, built once.
struct Auth {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
    client_id: String,
    cache: Option<Cache<[u8; 32], Arc<Claims>>>,
}

impl Auth {
    /// jsonwebtoken's check (key by `kid`, signature, `iss`, `exp`), then Cognito's.
    fn verify(&self, token: &str) -> Option<Arc<Claims>> {
        let key = self.keys.get(decode_header(token).ok()?.kid.as_deref()?)?;
        let claims = decode::<Claims>(token, key, &self.validation).ok()?.claims;
        (claims.token_use == "access" && claims.client_id == self.client_id)
            .then(|| Arc::new(claims))
    }
}

/// The hand-written middleware.
async fn cognito(State(auth): State<Arc<Auth>>, mut request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let claims = token
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| {
            let Some(cache) = &auth.cache else {
                return auth.verify(token);
            };
            let hash: [u8; 32] = digest(&SHA256, token.as_bytes()).as_ref().try_into().ok()?;
            let now = jsonwebtoken::get_current_timestamp();
            let hit = cache.get(&hash).filter(|claims| now < claims.exp);
            hit.or_else(|| {
                auth.verify(token)
                    .inspect(|c| cache.insert(hash, c.clone()))
            })
        });
    match claims {
        Some(claims) if claims.scope.split(' ').any(|s| s == SCOPE) => {
            request.extensions_mut().insert(claims);
            next.run(request).await
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// The same trivial handler as `load_server`'s.
async fn hello() -> &'static str {
    "ok"
}

struct Args {
    pool: PathBuf,
    port_file: PathBuf,
    port: u16,
    cache: u64,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        pool: PathBuf::new(),
        port_file: PathBuf::new(),
        port: 0,
        cache: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--pool" => args.pool = PathBuf::from(&value),
            "--port-file" => args.port_file = PathBuf::from(&value),
            "--port" => args.port = value.parse().map_err(bad)?,
            "--cache" => args.cache = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.pool.as_os_str().is_empty() || args.port_file.as_os_str().is_empty() {
        return Err("--pool and --port-file are required".to_owned());
    }
    Ok(args)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pool {
    client_id: String,
    issuer: String,
    jwks: JwkSet,
}

fn auth(pool: &Pool, cache: Option<u64>) -> Result<Arc<Auth>, jsonwebtoken::errors::Error> {
    let mut keys = HashMap::new();
    for jwk in &pool.jwks.keys {
        if let Some(kid) = &jwk.common.key_id {
            keys.insert(kid.clone(), DecodingKey::from_jwk(jwk)?);
        }
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&pool.issuer]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.leeway = 0;
    // Access tokens name their app client in `client_id`; they have no `aud`.
    validation.validate_aud = false;
    Ok(Arc::new(Auth {
        keys,
        validation,
        client_id: pool.client_id.clone(),
        cache: cache.map(Cache::new),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args().map_err(|e| {
        format!(
            "{e}\nusage: load_peer_jsonwebtoken --pool POOL_JSON --port-file FILE [--port 0] \
             [--cache 10000]"
        )
    })?;
    // jsonwebtoken has both of its backends when tower-cognito's `rust-crypto`
    // feature is on too: choose aws-lc-rs, the crate's default backend.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let pool: Pool = serde_json::from_str(&std::fs::read_to_string(&args.pool)?)?;

    let app = Router::new()
        .route("/jwt", get(hello))
        .route_layer(from_fn_with_state(auth(&pool, None)?, cognito))
        .merge(
            Router::new()
                .route("/jwt-moka", get(hello))
                .route_layer(from_fn_with_state(auth(&pool, Some(args.cache))?, cognito)),
        );

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let port = listener.local_addr()?.port();
    std::fs::write(&args.port_file, port.to_string())?;
    eprintln!(
        "load_peer_jsonwebtoken: 127.0.0.1:{port}, moka cache {} entries, {} worker threads",
        args.cache,
        tokio::runtime::Handle::current().metrics().num_workers()
    );
    axum::serve(listener, app).await?;
    Ok(())
}
