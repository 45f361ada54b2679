//! The Notes service's custom authorizer (AWS's "Integrating Amazon Cognito
//! User Pools with API Gateway"), in Rust: an API Gateway Lambda authorizer that
//! lets a call through when it carries a valid access token of the user pool,
//! with `principalId` set to the token's `sub`.
//!
//! The Node authorizer is configured by editing `userPoolId` and `region` in its
//! source; this one reads the environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `COGNITO_USER_POOL_ID` | the pool, such as `us-east-1_AbCdEfGhI` (the region is read from it); required |
//! | `COGNITO_CLIENT_ID` | only tokens of this app client (the Node authorizer takes any client of the pool) |
//! | `COGNITO_SCOPES` | space-separated; the token must hold one of them (the Node authorizer checks none) |
//! | `COGNITO_ISSUER`, `COGNITO_JWKS_URL` | another issuer and key URL (emulators) |
//! | `AUTHORIZER_TOKEN_HEADER` | the header a REQUEST authorizer reads the token from (default `Authorization`) |
//! | `AUTHORIZER_POLICY_RESOURCE` | `method` (default: the `methodArn`) or `stage` (every method of the stage; use it with authorizer caching) |
//!
//! It answers TOKEN and REQUEST events alike. On Lambda (the `provided.al2023`
//! runtime, the binary named `bootstrap`) it reads events from the Lambda
//! runtime API. Outside Lambda there is no runtime API: it reads one event as
//! JSON from standard input instead and prints what Lambda would hand API
//! Gateway, so that it can be tried against a real pool:
//!
//! ```text
//! export COGNITO_USER_POOL_ID=us-east-1_AbCdEfGhI
//! echo '{"type":"TOKEN","authorizationToken":"'"$ACCESS_TOKEN"'",
//!        "methodArn":"arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/notes"}' |
//!   cargo run --features lambda --example lambda_authorizer
//! ```
//!
//! `tests/lambda.rs` runs this file's functions against a local user pool.

use std::io::Read as _;
use std::process::ExitCode;
use tower_cognito::lambda::{Authorizer, AuthorizerError, AuthorizerEvent, PolicyResource};
use tower_cognito::{Requirement, TokenUseRule, UserPool, Verifier};

/// The authorizer the environment describes; `env` looks a variable up.
pub fn authorizer_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Authorizer, String> {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let pool_id = var("COGNITO_USER_POOL_ID")
        .ok_or("COGNITO_USER_POOL_ID is not set: the authorizer needs the user pool's id")?;
    let mut pool = UserPool::new(pool_id);
    if let Some(issuer) = var("COGNITO_ISSUER") {
        pool = pool.issuer(issuer);
    }
    if let Some(url) = var("COGNITO_JWKS_URL") {
        pool = pool.jwks_url(url);
    }
    let mut verifier = Verifier::builder().pool(pool);
    if let Some(client) = var("COGNITO_CLIENT_ID") {
        verifier = verifier.client_id(client);
    }
    let verifier = verifier.build().map_err(|e| e.to_string())?;

    // As the Node authorizer: access tokens only ("Not an access token" is
    // Unauthorized), and with scopes, any one of them.
    let requirement = match var("COGNITO_SCOPES") {
        Some(scopes) => Requirement::any_scope(scopes.split_whitespace().map(str::to_owned)),
        None => Requirement::new().token_use(TokenUseRule::Access),
    };
    let mut authorizer = Authorizer::new(verifier)
        .require(requirement)
        .map_err(|e| e.to_string())?;
    if let Some(header) = var("AUTHORIZER_TOKEN_HEADER") {
        let name = header
            .parse()
            .map_err(|_| format!("AUTHORIZER_TOKEN_HEADER {header:?} is not a header name"))?;
        authorizer = authorizer.header(name);
    }
    match var("AUTHORIZER_POLICY_RESOURCE").as_deref() {
        None | Some("method") => {}
        Some("stage") => authorizer = authorizer.resource(PolicyResource::Stage),
        Some(other) => {
            return Err(format!(
                "AUTHORIZER_POLICY_RESOURCE is method or stage, not {other:?}"
            ));
        }
    }
    Ok(authorizer)
}

/// Answers one event given as JSON, as Lambda would return it to API Gateway:
/// the policy, or the function error `{"errorType": …, "errorMessage": …}`
/// (API Gateway answers 401 for the message `Unauthorized`, 500 for any other).
/// The `bool` is whether a policy came back.
pub async fn answer(authorizer: &Authorizer, event: &str) -> (bool, serde_json::Value) {
    let failure = |error: AuthorizerError| {
        let diagnostic = lambda_runtime::Diagnostic::from(error);
        serde_json::json!({
            "errorType": diagnostic.error_type,
            "errorMessage": diagnostic.error_message,
        })
    };
    let event: AuthorizerEvent = match serde_json::from_str(event) {
        Ok(event) => event,
        Err(e) => {
            return (
                false,
                serde_json::json!({"errorType": "InvalidEvent", "errorMessage": e.to_string()}),
            );
        }
    };
    match authorizer.authorize(event).await {
        Ok(policy) => (
            true,
            serde_json::to_value(policy).expect("a policy serializes"),
        ),
        Err(error) => (false, failure(error)),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .without_time() // Lambda's log lines carry their own time
        .init();
    let authorizer = match authorizer_from_env(&|name| std::env::var(name).ok()) {
        Ok(authorizer) => authorizer,
        Err(why) => {
            eprintln!("lambda_authorizer: {why}");
            return ExitCode::from(2);
        }
    };
    // During the init phase, so the first event finds the keys. A failure is
    // not fatal: the verifier fetches again when a token needs a key, and until
    // the keys come every call fails with a 500, never with an Allow.
    if let Err(e) = authorizer.verifier().prefetch().await {
        tracing::warn!(error = %e, "could not fetch the user pool's keys at start-up");
    }

    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return match authorizer.run().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lambda_authorizer: {e}");
                ExitCode::FAILURE
            }
        };
    }

    eprintln!("lambda_authorizer: not on Lambda; reading one event from standard input");
    let mut event = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut event) {
        eprintln!("lambda_authorizer: {e}");
        return ExitCode::from(2);
    }
    let (policy, answer) = answer(&authorizer, &event).await;
    println!(
        "{}",
        serde_json::to_string_pretty(&answer).expect("JSON serializes")
    );
    if policy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
