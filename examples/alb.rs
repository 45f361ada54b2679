//! A service behind an Application Load Balancer's `authenticate-cognito`
//! action: the load balancer signs the user's claims into `x-amzn-oidc-data`
//! and forwards the user pool's access token in `x-amzn-oidc-accesstoken`;
//! `AlbAuthLayer` verifies them.
//!
//! | method and path | what the request needs |
//! |-----------------|------------------------|
//! | `GET /me`       | the load balancer's user claims |
//! | `GET /notes`    | the user claims and an access token with scope `notes/read` |
//! | `GET /health`   | nothing |
//!
//! ```text
//! cargo run --example alb
//! ```
//!
//! With no configuration it starts a local user pool and a local stand-in for
//! the load balancer (its ES256 key served on 127.0.0.1), and prints `curl`
//! commands with the headers the load balancer would add. Behind a real load
//! balancer, set `ALB_LOAD_BALANCER_ARN`, `COGNITO_USER_POOL_ID` and
//! `COGNITO_CLIENT_ID` (the authenticate action's pool and app client). `BIND`
//! sets the listen address (default `127.0.0.1:3000`). Only expose the service
//! through the load balancer: the headers are trustworthy because nothing else
//! can reach it.

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::ExitCode;
use tower_cognito::alb::{AlbAuthLayer, AlbUserClaims, AlbVerifier};
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::test_util::alb::LocalAlb;
use tower_cognito::{Claims, ConfigError, Requirement, UserPool, Verifier};

/// Scope `GET /notes` requires of the access token.
pub const READ_SCOPE: &str = "notes/read";

/// The service. `alb` verifies the user claims, `cognito` the access token.
pub fn app(alb: AlbVerifier, cognito: Verifier) -> Result<Router, ConfigError> {
    let user = AlbAuthLayer::new(alb);
    let reader = user
        .clone()
        .access_token(cognito, Requirement::any_scope([READ_SCOPE]))?;
    Ok(Router::new()
        .route("/me", get(me))
        .route_layer(user)
        .merge(
            Router::new()
                .route("/notes", get(notes))
                .route_layer(reader),
        )
        .route("/health", get(|| async { "ok" })))
}

/// What the load balancer says of the user.
async fn me(claims: Claims) -> Json<Value> {
    Json(json!({
        "sub": claims.sub(),
        "email": claims.email(),
        "username": claims.username(),
        "issuer": claims.issuer(),
        "pool_id": claims.pool_id(),
        "claims": claims.as_map(),
    }))
}

/// `Claims` are the access token's here (its scopes and groups); the user
/// claims are still at hand.
async fn notes(claims: Claims, user: AlbUserClaims) -> Json<Value> {
    Json(json!({
        "owner": claims.sub(),
        "email": user.email(),
        "scopes": claims.scopes(),
        "notes": [],
    }))
}

const DEMO_SUB: &str = "5f0c3b9e-7a41-4d2b-9c1e-3d2a8b6f4e10";

fn env(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

/// Where the verifiers come from.
enum Mode {
    /// A user pool and a load balancer stand-in in this process.
    Local(LocalUserPool, LocalAlb),
    /// A real load balancer and pool.
    Configured { arn: String },
}

async fn configure() -> Result<(Mode, AlbVerifier, Verifier), String> {
    let arn = env("ALB_LOAD_BALANCER_ARN")?;
    let pool_id = env("COGNITO_USER_POOL_ID")?;
    let client_id = env("COGNITO_CLIENT_ID")?;
    match (arn, pool_id, client_id) {
        (Some(arn), Some(pool_id), Some(client_id)) => {
            let region = pool_id.split('_').next().unwrap_or_default().to_owned();
            let alb = AlbVerifier::builder()
                .load_balancer_arn(arn.clone())
                .client_id(client_id.clone())
                .issuer(format!(
                    "https://cognito-idp.{region}.amazonaws.com/{pool_id}"
                ))
                .build()
                .map_err(|e| e.to_string())?;
            let cognito = Verifier::builder()
                .pool(UserPool::new(pool_id))
                .client_id(client_id)
                .build()
                .map_err(|e| e.to_string())?;
            Ok((Mode::Configured { arn }, alb, cognito))
        }
        (None, None, None) => {
            let pool = LocalUserPool::start()
                .await
                .map_err(|e| format!("cannot start the local user pool: {e}"))?;
            let alb = LocalAlb::for_pool(&pool)
                .await
                .map_err(|e| format!("cannot start the local load balancer: {e}"))?;
            let (alb_verifier, cognito) = (alb.verifier(), pool.verifier());
            Ok((Mode::Local(pool, alb), alb_verifier, cognito))
        }
        _ => Err(
            "set ALB_LOAD_BALANCER_ARN, COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID together, \
                  or none of them for a local stand-in"
                .into(),
        ),
    }
}

fn reachable(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    addr
}

fn print_local_commands(alb: &LocalAlb, base: &str) {
    let user = alb
        .data()
        .sub(DEMO_SUB)
        .email("alice@example.com")
        .username("alice");
    let data = user.sign();
    let access = user
        .access_token()
        .expect("the stand-in fronts a pool")
        .username("alice")
        .scopes(["openid", READ_SCOPE])
        .sign();
    let no_scope = user
        .access_token()
        .expect("the stand-in fronts a pool")
        .scopes(["openid"])
        .sign();
    let other = alb.data().signer(alb.other_load_balancer_arn()).sign();
    println!(
        r#"
Local load balancer {arn}
(its ES256 key at {keys}/{kid}), in front of user pool {pool}.
Headers it would add for alice (sub {DEMO_SUB}), valid for one hour. Paste into a shell:

DATA='{data}'
ACCESS='{access}'
NO_SCOPE='{no_scope}'
OTHER_LB='{other}'

# alice's claims, as the load balancer signed them (200)
curl -i -w '\n' {base}/me -H "x-amzn-oidc-data: $DATA" -H 'x-amzn-oidc-identity: {DEMO_SUB}'
# an identity header that is not the signed sub (401)
curl -i -w '\n' {base}/me -H "x-amzn-oidc-data: $DATA" -H 'x-amzn-oidc-identity: admin'
# signed, but by another load balancer of the region (401)
curl -i -w '\n' {base}/me -H "x-amzn-oidc-data: $OTHER_LB"
# alice's notes: her access token has {READ_SCOPE} (200)
curl -i -w '\n' {base}/notes -H "x-amzn-oidc-data: $DATA" -H "x-amzn-oidc-accesstoken: $ACCESS"
# an access token without {READ_SCOPE} (401)
curl -i -w '\n' {base}/notes -H "x-amzn-oidc-data: $DATA" -H "x-amzn-oidc-accesstoken: $NO_SCOPE"
# no headers (401)
curl -i -w '\n' {base}/me
"#,
        arn = alb.arn(),
        keys = alb.key_endpoint(),
        kid = alb.signing_key().kid(),
        pool = alb.pool().map_or("?", LocalUserPool::pool_id),
    );
}

async fn run() -> Result<(), String> {
    let (mode, alb, cognito) = configure().await?;
    let bind = env("BIND")?.unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let app = app(alb, cognito).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| {
        format!(
            "cannot listen on {bind}: {e} (set BIND to another address, such as 127.0.0.1:3001)"
        )
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{}", reachable(addr));
    tracing::info!(%addr, "service behind the load balancer listening");
    match &mode {
        Mode::Local(_pool, alb) => print_local_commands(alb, &base),
        Mode::Configured { arn } => println!(
            "\nTrusting load balancer {arn}; reach {base} through it only (its listener rule \
             authenticate-cognito, then forward).\n"
        ),
    }
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
        .with_max_level(
            std::env::var("RUST_LOG")
                .ok()
                .and_then(|level| level.parse().ok())
                .unwrap_or(tracing::Level::DEBUG),
        )
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
