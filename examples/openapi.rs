//! Serves an API from its API Gateway definition: the export (OpenAPI 3.0 or
//! Swagger 2.0, JSON or YAML) says which operations take which tokens, and the
//! crate enforces it as API Gateway's Cognito authorizer would.
//!
//! ```text
//! cargo run --example openapi                              # tests/fixtures/pets.openapi3.json
//! cargo run --example openapi -- tests/fixtures/pets.swagger2.yaml
//! cargo run --example openapi -- tests/fixtures/httpapi.openapi3.json   # an HTTP API's export
//! cargo run --example openapi -- path/to/your-export.yaml
//! ```
//!
//! It runs offline: each user pool of the file is replaced by a local one (real
//! RSA keys, a JWKS endpoint on 127.0.0.1) whose pool id takes the file's place,
//! and the `curl` commands it prints carry tokens those pools signed. Every
//! operation answers with JSON naming the operation and the caller; a path the
//! definition does not list gets API Gateway's 403 `Missing Authentication
//! Token` (an HTTP API's: 404 `Not Found`, or its `$default` route). For an
//! HTTP API's JWT authorizers the tokens are issued to the authorizer's first
//! audience. `BIND` sets the listen address (default `127.0.0.1:3000`).

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use tower_cognito::openapi::{ApiDefinition, Route};
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{Claims, ConfigError, Profile};

/// The definition served when no file is named.
pub const DEFAULT_DEFINITION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/pets.openapi3.json"
);

/// One local pool per pool of the definition, and the definition pointed at them.
pub async fn with_local_pools(
    api: ApiDefinition,
) -> std::io::Result<(ApiDefinition, Vec<(String, LocalUserPool)>)> {
    let mut pools = Vec::new();
    for pool in api.pools() {
        pools.push((pool.id().to_owned(), LocalUserPool::start().await?));
    }
    let api = api.map_pools(|pool| {
        let (_, local) = pools
            .iter()
            .find(|(id, _)| id == pool.id())
            .expect("a local pool for each pool of the definition");
        local.user_pool()
    });
    Ok((api, pools))
}

/// The API: one handler for every operation of the definition, behind the
/// definition's authorization. The verifier trusts the definition's pools.
pub fn app(api: &ApiDefinition) -> Result<Router, ConfigError> {
    let layer = api.layer(api.verifier_builder().build()?)?;
    Ok(Router::new()
        .fallback(operation)
        .with_state(Arc::new(api.clone()))
        .layer(layer))
}

async fn operation(
    State(api): State<Arc<ApiDefinition>>,
    method: Method,
    uri: Uri,
    claims: Option<Claims>,
) -> Response {
    let Some(route) = api.route(&method, uri.path()) else {
        // What API Gateway answers for a resource or method it does not have.
        if api.is_http_api() {
            let body = json!({ "message": "Not Found" });
            return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
        }
        let body = json!({ "message": "Missing Authentication Token" });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    };
    let caller = claims.map(|c| {
        json!({
            "sub": c.sub(),
            "username": c.username(),
            "token_use": c.token_use().as_str(),
            "scopes": c.scopes(),
            "pool": c.pool_id(),
        })
    });
    axum::Json(json!({
        "operation": route.to_string(),
        "path": uri.path(),
        "caller": caller,
    }))
    .into_response()
}

/// A request path for a template: `{param}` becomes `1`, `{proxy+}` `a/b`;
/// an HTTP API's `$default` route gets a path no other route has.
fn sample_path(template: &str) -> String {
    if template == "/$default" {
        return "/somewhere/else".to_owned();
    }
    let segments: Vec<&str> = template
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if name.ends_with('+') => "a/b",
                Some(_) => "1",
                None => s,
            },
        )
        .collect();
    segments.join("/")
}

/// Shell variables with tokens, and a `curl` command per operation.
pub fn commands(api: &ApiDefinition, pools: &[(String, LocalUserPool)], base: &str) -> String {
    // The shell variables' number of the first pool a route takes tokens of.
    let number = |route: &Route| {
        let first = route.pool_ids().first();
        pools
            .iter()
            .position(|(_, p)| Some(p.pool_id()) == first.map(String::as_str))
            .unwrap_or(0)
            + 1
    };
    let mut out = String::from("Tokens valid for one hour. Paste into a shell:\n\n");
    for (i, (file_id, pool)) in pools.iter().enumerate() {
        // Every scope any operation of this pool names, so one token passes them all.
        let scopes: BTreeSet<&str> = api
            .routes()
            .iter()
            .filter(|r| r.pool_ids().iter().any(|id| id == pool.pool_id()))
            .flat_map(|r| r.scopes().iter().map(String::as_str))
            .collect();
        // An HTTP API authorizer's first audience, as the app client.
        let audience = api
            .routes()
            .iter()
            .filter(|r| r.pool_ids().iter().any(|id| id == pool.pool_id()))
            .find_map(|r| match r.profile() {
                Some(Profile::HttpApi { audiences }) => audiences.first().cloned(),
                _ => None,
            });
        let client = |b: tower_cognito::test_util::TokenBuilder| match &audience {
            Some(aud) => b.client_id(aud.clone()),
            None => b,
        };
        let n = i + 1;
        out.push_str(&format!(
            "# pool {file_id} of the file, served locally as {}\n",
            pool.pool_id()
        ));
        out.push_str(&format!(
            "ID_{n}='{}'\n",
            client(pool.id_token().username("alice")).sign()
        ));
        if !scopes.is_empty() {
            let token = client(pool.access_token().username("alice").scopes(&scopes)).sign();
            out.push_str(&format!("ACCESS_{n}='{token}'\n"));
        }
    }
    out.push('\n');
    for route in api.routes() {
        let method = route.method().map_or("GET", Method::as_str);
        let url = format!("{base}{}", sample_path(route.path()));
        let pool = number(route);
        let http_api = matches!(route.profile(), Some(Profile::HttpApi { .. }));
        let (what, header) = match (route.header(), route.scopes()) {
            (None, _) => ("public".to_owned(), String::new()),
            (Some(header), []) => (
                if http_api {
                    "any token of an audience"
                } else {
                    "ID token"
                }
                .to_owned(),
                format!(" -H \"{header}: Bearer $ID_{pool}\""),
            ),
            (Some(header), scopes) => (
                format!(
                    "{} with {}",
                    if http_api { "a token" } else { "access token" },
                    scopes.join(" or ")
                ),
                format!(" -H \"{header}: Bearer $ACCESS_{pool}\""),
            ),
        };
        out.push_str(&format!("# {route}: {what}\n"));
        out.push_str(&format!("curl -i -w '\\n' -X {method} {url}{header}\n"));
    }
    if let Some(route) = api.routes().iter().find(|r| !r.is_public()) {
        let method = route.method().map_or("GET", Method::as_str);
        out.push_str(&format!(
            "# {route} without a token: 401\ncurl -i -w '\\n' -X {method} {base}{}\n",
            sample_path(route.path())
        ));
    }
    out
}

async fn run() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_DEFINITION.to_owned());
    let api = ApiDefinition::from_path(&path).map_err(|e| format!("{path}: {e}"))?;
    for route in api.routes() {
        let http_api = matches!(route.profile(), Some(Profile::HttpApi { .. }));
        let auth = match (route.authorizer(), route.scopes()) {
            (None, _) => "public".to_owned(),
            (Some(a), []) if http_api => format!("{a}: any token of an audience"),
            (Some(a), []) => format!("{a}: ID token"),
            (Some(a), scopes) if http_api => format!("{a}: a token with {}", scopes.join(" or ")),
            (Some(a), scopes) => format!("{a}: access token with {}", scopes.join(" or ")),
        };
        tracing::info!("{route:<32} {auth}");
    }
    let (api, pools) = with_local_pools(api)
        .await
        .map_err(|e| format!("cannot start a local user pool: {e}"))?;
    let app = app(&api).map_err(|e| e.to_string())?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| {
        format!(
            "cannot listen on {bind}: {e} (set BIND to another address, such as 127.0.0.1:3001)"
        )
    })?;
    let mut addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, definition = %path, "listening");
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    println!("{}", commands(&api, &pools, &format!("http://{addr}")));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server error: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
