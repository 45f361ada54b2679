//! An axum router behind `CognitoAuthLayer`, run on AWS Lambda by `lambda_http`,
//! for a function that is reached without API Gateway's authorizer: a Lambda
//! Function URL (auth type `NONE`), an HTTP API or REST API route without
//! authorizer, or an Application Load Balancer. The function checks the tokens
//! itself, with API Gateway's Cognito authorizer's rules and responses.
//!
//! | method and path | token |
//! |---|---|
//! | `GET /me`       | ID token; returns the `sub` and the claims as API Gateway's flat strings |
//! | `GET /notes`    | access token with scope `notes/read` |
//! | `GET /health`   | none |
//!
//! `lambda_http::run` takes any Tower service; the layer is one, so nothing
//! Lambda-specific is needed beyond this file's `main`. The verifier is built
//! once, in `main`, so a warm environment keeps the keys and the verified tokens
//! between invocations.
//!
//! REST API events reach the router with the stage in front of the path
//! (`/prod/me`): `lambda_http` puts it there unless the function's environment
//! sets `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true`. Function URL events and
//! HTTP API `$default` stages have no such prefix.
//!
//! | variable | meaning |
//! |---|---|
//! | `COGNITO_USER_POOL_ID` | the pool, such as `us-east-1_AbCdEfGhI`; required |
//! | `COGNITO_CLIENT_ID` | only tokens of this app client (set it in production) |
//! | `COGNITO_ISSUER`, `COGNITO_JWKS_URL` | another issuer and key URL (emulators) |
//!
//! It only runs on Lambda (the `provided.al2023` runtime, the binary named
//! `bootstrap`): `lambda_http` reads requests from the Lambda runtime API.
//! Outside Lambda it reads one event as JSON from standard input (an API
//! Gateway or Function URL event), answers it with the router, and prints the
//! status and body. `tests/lambda.rs` drives this router with such events.

use axum::Json;
use axum::Router;
use axum::routing::get;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use std::io::Read as _;
use std::process::ExitCode;
use tower::ServiceExt as _;
use tower_cognito::{
    ApiGatewayClaims, Claims, CognitoAuthLayer, ConfigError, Requirement, UserPool, Verifier,
};

/// The scope `GET /notes` requires.
pub const READ_SCOPE: &str = "notes/read";

/// The router: `/me` for ID tokens, `/notes` for access tokens with
/// [`READ_SCOPE`], `/health` open.
pub fn app(auth: &CognitoAuthLayer) -> Result<Router, ConfigError> {
    Ok(Router::new()
        .route("/me", get(me))
        .route_layer(auth.clone())
        .merge(
            Router::new()
                .route("/notes", get(notes))
                .route_layer(auth.require(Requirement::any_scope([READ_SCOPE]))?),
        )
        .route("/health", get(|| async { "ok" })))
}

async fn me(claims: Claims) -> Json<Value> {
    Json(json!({
        "sub": claims.sub(),
        "claims": ApiGatewayClaims::new(&claims).into_map(),
    }))
}

async fn notes(claims: Claims) -> Json<Value> {
    Json(json!({ "owner": claims.sub(), "notes": [] }))
}

/// The verifier the environment describes; `env` looks a variable up.
pub fn verifier_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Verifier, String> {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let pool_id = var("COGNITO_USER_POOL_ID").ok_or("COGNITO_USER_POOL_ID is not set")?;
    let mut pool = UserPool::new(pool_id);
    if let Some(issuer) = var("COGNITO_ISSUER") {
        pool = pool.issuer(issuer);
    }
    if let Some(url) = var("COGNITO_JWKS_URL") {
        pool = pool.jwks_url(url);
    }
    let mut builder = Verifier::builder().pool(pool);
    if let Some(client) = var("COGNITO_CLIENT_ID") {
        builder = builder.client_id(client);
    }
    builder.build().map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .without_time()
        .init();
    let router = match verifier_from_env(&|name| std::env::var(name).ok())
        .and_then(|verifier| app(&CognitoAuthLayer::new(verifier)).map_err(|e| e.to_string()))
    {
        Ok(router) => router,
        Err(why) => {
            eprintln!("lambda_http example: {why}");
            return ExitCode::from(2);
        }
    };

    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return match lambda_http::run(router).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lambda_http example: {e}");
                ExitCode::FAILURE
            }
        };
    }

    eprintln!("lambda_http example: not on Lambda; reading one event from standard input");
    let mut event = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut event) {
        eprintln!("lambda_http example: {e}");
        return ExitCode::from(2);
    }
    // The conversion lambda_http applies to every event on Lambda.
    let request = match lambda_http::request::from_str(&event) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("lambda_http example: {e}");
            return ExitCode::from(2);
        }
    };
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    println!("{status}\n{}", String::from_utf8_lossy(&body));
    if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
