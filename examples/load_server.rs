//! The server of the HTTP load comparison (`scripts/load.sh`, see `BENCHMARKS.md`),
//! and the two helpers the script needs around it. Three modes:
//!
//! ```text
//! load_server mint  --dir DIR [--tokens 20000]
//! load_server serve --dir DIR --port-file FILE [--port 0] [--cache 10000] [--spin-ns 0]
//! load_server floor --dir DIR [--checks 20000]
//! ```
//!
//! `mint` starts a [`LocalUserPool`], signs `--tokens` distinct access tokens with
//! the scope `bench/read` (on every core) and writes to `DIR`: `tokens` (one a
//! line), `token` (the first, for the repeated-token runs), `forged` (a token
//! with the same `kid` signed by another key), `expired`, `jwks.json` (the pool's
//! keys) and `pool.json` (`userPoolId`, `clientId`, `issuer`, `jwks`). Every
//! server of the comparison reads its keys from these files, so all of them
//! check the same tokens against the same keys.
//!
//! `serve` serves one trivial handler on five routes of an axum server on
//! 127.0.0.1: `/bare` as it is, `/layered` behind a tower layer that does
//! nothing (what axum's `route_layer` costs any layer), `/extension` behind one
//! that only puts a shared value in the request's extensions (what handing the
//! handler anything costs, as the crate hands it the claims), `/minimal` behind
//! `Minimal` of `benches/support/minimal.rs` (the least a layer that refuses what it cannot vouch for does for
//! a repeated token: a lower bound for the crate's repeated path, not a
//! verifier), and `/auth` behind [`CognitoAuthLayer`] requiring the scope
//! `bench/read`. The keys are fetched, as in production, from a JWKS endpoint on
//! 127.0.0.1 that serves `DIR/jwks.json`, before the server listens; then it
//! writes its port to `--port-file` and runs until killed. With `--spin-ns N`, a
//! sixth route `/spin` answers like `/bare` after a busy wait of N nanoseconds,
//! without the layer: what any N ns of work per request costs in requests per
//! second on the same machine.
//!
//! `floor` times `--checks` RS256 signature checks of the minted tokens (cycled)
//! with the key parsed once (`aws_lc_rs::signature::ParsedPublicKey`, as
//! `floor/parsed_key` of `benches/verify.rs`), signatures decoded beforehand, and
//! prints `floor_us_per_check N`: the parsed-key floor of one new token.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::hint::black_box;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tower_cognito::test_util::{JwksServer, LocalUserPool, SigningKey};
use tower_cognito::{CognitoAuthLayer, Requirement, TokenUse, UserPool, Verifier};

#[path = "../benches/support/minimal.rs"]
mod minimal;
use minimal::MinimalLayer;

/// The scope `/auth` requires; every minted token holds it.
const SCOPE: &str = "bench/read";

const USAGE: &str = "usage: load_server mint --dir DIR [--tokens 20000]\n       \
                     load_server serve --dir DIR --port-file FILE [--port 0] [--cache 10000] [--spin-ns 0]\n       \
                     load_server floor --dir DIR [--checks 20000]";

struct Args {
    mode: String,
    dir: PathBuf,
    port_file: Option<PathBuf>,
    port: u16,
    tokens: usize,
    cache: u64,
    spin_ns: u64,
    checks: usize,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("no mode given")?;
    if !matches!(mode.as_str(), "mint" | "serve" | "floor") {
        return Err(format!("unknown mode {mode}"));
    }
    let mut args = Args {
        mode,
        dir: PathBuf::new(),
        port_file: None,
        port: 0,
        tokens: 20_000,
        cache: tower_cognito::DEFAULT_TOKEN_CACHE_CAPACITY,
        spin_ns: 0,
        checks: 20_000,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--dir" => args.dir = PathBuf::from(&value),
            "--port-file" => args.port_file = Some(PathBuf::from(&value)),
            "--port" => args.port = value.parse().map_err(bad)?,
            "--tokens" => args.tokens = value.parse().map_err(bad)?,
            "--cache" => args.cache = value.parse().map_err(bad)?,
            "--spin-ns" => args.spin_ns = value.parse().map_err(bad)?,
            "--checks" => args.checks = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.dir.as_os_str().is_empty() {
        return Err("--dir is required".to_owned());
    }
    if args.mode == "serve" && args.port_file.is_none() {
        return Err("serve needs --port-file".to_owned());
    }
    Ok(args)
}

async fn hello() -> &'static str {
    "ok"
}

/// Busy-waits this long, then answers as [`hello`].
fn spinning(ns: u64) -> impl Fn() -> std::future::Ready<&'static str> + Clone {
    move || {
        let until = Instant::now() + std::time::Duration::from_nanos(ns);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        std::future::ready("ok")
    }
}

/// `count` distinct access tokens, signed on every core.
fn mint_tokens(pool: &LocalUserPool, count: usize) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let share = count / threads + usize::from(i < count % threads);
                scope.spawn(move || {
                    (0..share)
                        .map(|_| pool.access_token().scopes([SCOPE]).sign())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("minting thread"))
            .collect()
    })
}

async fn mint(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let dir = &args.dir;
    let pool = LocalUserPool::start().await?;
    let started = Instant::now();
    let tokens = tokio::task::block_in_place(|| mint_tokens(&pool, args.tokens.max(1)));
    eprintln!(
        "minted {} tokens in {:.1?}",
        tokens.len(),
        started.elapsed()
    );
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("tokens"))?);
    for token in &tokens {
        writeln!(out, "{token}")?;
    }
    out.flush()?;
    std::fs::write(dir.join("token"), &tokens[0])?;
    // The same kid as the pool's access key, so that every server finds a key
    // and must refuse the signature.
    let other = SigningKey::generate(pool.signing_key(TokenUse::Access).kid());
    let forged = pool.access_token().scopes([SCOPE]).signed_by(&other).sign();
    std::fs::write(dir.join("forged"), forged)?;
    let expired = pool.access_token().scopes([SCOPE]).expired().sign();
    std::fs::write(dir.join("expired"), expired)?;
    let jwks: Value = serde_json::from_str(&pool.jwks_json())?;
    std::fs::write(dir.join("jwks.json"), jwks.to_string())?;
    let description = json!({
        "userPoolId": pool.pool_id(),
        "clientId": pool.client_id(),
        "issuer": pool.issuer(),
        "scope": SCOPE,
        "jwks": jwks,
    });
    std::fs::write(dir.join("pool.json"), description.to_string())?;
    Ok(())
}

fn read_pool(args: &Args) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(serde_json::from_str(&std::fs::read_to_string(
        args.dir.join("pool.json"),
    )?)?)
}

fn field<'a>(value: &'a Value, name: &str) -> Result<&'a str, String> {
    value[name]
        .as_str()
        .ok_or_else(|| format!("pool.json has no string {name}"))
}

async fn serve(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let description = read_pool(args)?;
    let pool_id = field(&description, "userPoolId")?;
    let jwks_server = JwksServer::start(std::fs::read(args.dir.join("jwks.json"))?).await?;
    let verifier = Verifier::builder()
        .pool(
            UserPool::new(pool_id)
                .jwks_url(jwks_server.url(&format!("{pool_id}/.well-known/jwks.json"))),
        )
        .client_id(field(&description, "clientId")?)
        .token_cache_capacity(args.cache)
        .build()?;
    verifier.prefetch().await?;

    let auth = CognitoAuthLayer::new(verifier).require(Requirement::any_scope([SCOPE]))?;
    // The same handler behind a tower layer that does nothing: what axum's
    // `route_layer` costs any layer (its clones, boxes and moves per request).
    let layered =
        Router::new()
            .route("/layered", get(hello))
            .route_layer(tower::util::MapRequestLayer::new(
                |request: axum::extract::Request| request,
            ));
    // The same, putting one shared value in the request's extensions: what
    // handing the handler anything costs, as the crate's layer hands it the
    // claims (an `Arc` too).
    let handed = Arc::new(SCOPE.to_owned());
    let extension = Router::new().route("/extension", get(hello)).route_layer(
        tower::util::MapRequestLayer::new(move |mut request: axum::extract::Request| {
            request.extensions_mut().insert(Arc::clone(&handed));
            request
        }),
    );
    let minimal = Router::new().route("/minimal", get(hello)).route_layer(
        MinimalLayer::new(
            std::fs::read_to_string(args.dir.join("token"))?.trim(),
            Arc::new(SCOPE.to_owned()),
        )
        .ok_or("the token file holds no token with an exp")?,
    );
    let mut app = Router::new()
        .route("/auth", get(hello))
        .route_layer(auth)
        .merge(layered)
        .merge(extension)
        .merge(minimal)
        .route("/bare", get(hello));
    if args.spin_ns > 0 {
        app = app.route("/spin", get(spinning(args.spin_ns)));
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let port = listener.local_addr()?.port();
    let port_file = args.port_file.as_ref().expect("checked in args");
    std::fs::write(port_file, port.to_string())?;
    eprintln!(
        "load_server: 127.0.0.1:{port}, token cache {} entries, {} worker threads",
        args.cache,
        tokio::runtime::Handle::current().metrics().num_workers()
    );
    axum::serve(listener, app).await?;
    Ok(())
}

fn floor(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let description = read_pool(args)?;
    let tokens = std::fs::read_to_string(args.dir.join("tokens"))?;
    let mut checks = Vec::new();
    let mut key = None;
    for token in tokens.lines().take(args.checks.max(1)) {
        let (input, signature) = token.rsplit_once('.').ok_or("a token without dots")?;
        if key.is_none() {
            let header: Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD.decode(input.split('.').next().unwrap_or_default())?,
            )?;
            let jwk = description["jwks"]["keys"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|k| k["kid"] == header["kid"])
                .ok_or("no key for the tokens' kid")?;
            let n = URL_SAFE_NO_PAD.decode(field(jwk, "n")?)?;
            let e = URL_SAFE_NO_PAD.decode(field(jwk, "e")?)?;
            key = Some(
                RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
                    .map_err(|_| "unusable RSA key")?,
            );
        }
        checks.push((input.to_owned(), URL_SAFE_NO_PAD.decode(signature)?));
    }
    let key = key.ok_or("no tokens")?;
    let check = |i: usize| {
        let (input, signature) = &checks[i % checks.len()];
        key.verify_sig(black_box(input.as_bytes()), black_box(signature))
            .expect("a minted token verifies");
    };
    (0..args.checks.min(1_000)).for_each(check);
    let started = Instant::now();
    (0..args.checks).for_each(check);
    let per_check = started.elapsed().as_secs_f64() / args.checks.max(1) as f64;
    println!("floor_us_per_check {:.3}", per_check * 1e6);
    eprintln!(
        "floor: {:.2} us per RS256 check, key parsed once ({} checks over {} distinct tokens)",
        per_check * 1e6,
        args.checks,
        checks.len()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args().map_err(|e| format!("{e}\n{USAGE}"))?;
    if args.mode == "floor" {
        return floor(&args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.mode == "mint" {
        std::fs::create_dir_all(&args.dir)?;
        runtime.block_on(mint(&args))
    } else {
        runtime.block_on(serve(&args))
    }
}
