//! Tracing: at `info` a healthy service says nothing per request; at `debug`
//! every request has an `authorize` span with its outcome, kind, pool and token
//! use, every refusal an event, and the `sub` appears only when asked for.

use http::{Request, Response};
use std::convert::Infallible;
use tower::{Layer, ServiceExt, service_fn};
use tower_cognito::CognitoAuthLayer;
use tower_cognito::test_util::LocalUserPool;
use tracing_subscriber::fmt::format::FmtSpan;

mod support;
use support::LogBuffer;

/// Held by each test for its whole run. tracing caches, per call site, whether
/// any subscriber wants it; a call site first reached on one thread while
/// another thread installs its scoped subscriber can keep a stale answer, and
/// a span then goes missing from the other test's output. One test at a time,
/// in this binary of its own, leaves nothing to race.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs requests under a subscriber at `level`, on this thread, and returns what
/// it printed: one accepted token twice (a miss, then a hit), no token, a bad one.
fn run(level: tracing::Level, trace_sub: bool) -> String {
    let _one = one_at_a_time();
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(level)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let rt = support::runtime();
    // Keys loaded before: loading them is logged at info, once per key set.
    let (_pool, verifier, token) = rt.block_on(async {
        let pool = LocalUserPool::start().await.unwrap();
        let token = pool.id_token().sub("sub-that-must-not-leak").sign();
        let verifier = pool.verifier();
        verifier.prefetch().await.unwrap();
        (pool, verifier, token)
    });
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let mut auth = CognitoAuthLayer::new(verifier.clone()).name("me");
            if trace_sub {
                auth = auth.trace_sub();
            }
            let service = auth.layer(service_fn(|_: Request<()>| async {
                Ok::<_, Infallible>(Response::new(()))
            }));
            for header in [
                Some(token.as_str()),
                Some(token.as_str()),
                None,
                Some("x.y.z"),
            ] {
                let mut request = Request::get("/");
                if let Some(token) = header {
                    request = request.header("authorization", format!("Bearer {token}"));
                }
                service
                    .clone()
                    .oneshot(request.body(()).unwrap())
                    .await
                    .unwrap();
            }
        })
    });
    logs.text()
}

#[test]
fn info_is_quiet_and_debug_shows_every_decision() {
    let info = run(tracing::Level::INFO, false);
    assert_eq!(info, "", "nothing per request at info");

    let debug = run(tracing::Level::DEBUG, false);
    let spans: Vec<&str> = debug.lines().filter(|l| l.contains("authorize{")).collect();
    let closes: Vec<&&str> = spans.iter().filter(|l| l.contains(": close ")).collect();
    assert_eq!(closes.len(), 4, "one span per request:\n{debug}");
    let admitted = closes
        .iter()
        .filter(|l| {
            l.contains("outcome=\"admitted\"")
                && l.contains("token_use=\"id\"")
                && l.contains("pool=")
        })
        .count();
    assert_eq!(admitted, 2, "{debug}");
    assert!(
        closes.iter().any(|l| l.contains("kind=\"missing_token\"")),
        "{debug}"
    );
    assert!(
        closes
            .iter()
            .any(|l| l.contains("kind=\"malformed_token\"")),
        "{debug}"
    );
    assert_eq!(debug.matches("request rejected").count(), 2, "{debug}");
    assert!(!debug.contains("sub-that-must-not-leak"), "{debug}");

    let with_sub = run(tracing::Level::DEBUG, true);
    assert!(
        with_sub.contains("sub=\"sub-that-must-not-leak\""),
        "{with_sub}"
    );
}

#[test]
fn key_fetches_have_spans_of_their_own() {
    let _one = one_at_a_time();
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let rt = support::runtime();
    let pool = rt.block_on(LocalUserPool::start()).unwrap();
    let id = pool.user_pool().id().to_owned();
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async { pool.verifier().prefetch().await.unwrap() })
    });
    let text = logs.text();
    let fetched = text
        .lines()
        .find(|l| l.contains("fetched JWKS"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        fetched.contains(&format!("jwks_fetch{{pool={id} why=\"prefetch\"}}")),
        "{fetched}"
    );
}
