//! What one invocation of the Lambda authorizer costs in the function itself:
//! the TOKEN event parsed from JSON, the token verified and the requirement
//! applied, the policy written back as JSON — what `lambda_runtime` has the
//! handler do for each event. Measured in a loop, for new tokens (a full RS256
//! verification each) and for one repeated token (the verifier's cache), on a
//! warm process (the keys already fetched from a local pool on 127.0.0.1).
//!
//! ```text
//! cargo bench --features lambda --bench lambda_authorizer
//! ```
//!
//! `LAMBDA_BENCH_EVENTS` sets how many events each case handles (default
//! 2,000). Under `cargo test` (no `--bench` argument) each case handles 20.
//! Start-up (the JWKS fetch, the process itself) and Lambda's own overhead are
//! not in these numbers.

use std::time::{Duration, Instant};
use tower_cognito::lambda::{Authorizer, AuthorizerEvent};
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{Requirement, TokenUseRule};

const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/notes";

fn event(token: &str) -> String {
    serde_json::json!({
        "type": "TOKEN",
        "authorizationToken": token,
        "methodArn": METHOD_ARN,
    })
    .to_string()
}

/// Handles every event in turn, as the function would; returns the total time.
async fn handle(authorizer: &Authorizer, events: &[String]) -> Duration {
    let started = Instant::now();
    for event in events {
        let event: AuthorizerEvent = serde_json::from_str(event).expect("an event");
        let response = authorizer.authorize(event).await.expect("allowed");
        let out = serde_json::to_vec(&response).expect("JSON");
        std::hint::black_box(out);
    }
    started.elapsed()
}

fn report(case: &str, events: usize, total: Duration) {
    let per_event = total.as_secs_f64() * 1e6 / events as f64;
    println!("{case:<24} {events:>6} events  {total:>10.1?} total  {per_event:>8.1} µs/event");
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let count = if benching {
        std::env::var("LAMBDA_BENCH_EVENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000)
    } else {
        20
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let pool = LocalUserPool::start().await.expect("a local pool");
        let verifier = pool.verifier_builder().build().expect("a verifier");
        verifier.prefetch().await.expect("the keys");
        let authorizer = Authorizer::new(verifier)
            .require(Requirement::new().token_use(TokenUseRule::Access))
            .expect("a requirement");

        let new: Vec<String> = (0..count)
            .map(|_| event(&pool.access_token().sign()))
            .collect();
        let repeated = vec![event(&pool.access_token().sign()); count];

        // One pass of each to warm up, then the measured ones.
        handle(&authorizer, &repeated[..count.min(100)]).await;
        let total = handle(&authorizer, &new).await;
        report("new token each event", count, total);
        let total = handle(&authorizer, &repeated).await;
        report("repeated token", count, total);
    });
}
