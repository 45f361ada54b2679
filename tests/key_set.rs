//! Key set resilience (issue 4), against the real loopback JWKS server of the test
//! kit: it counts requests and can fail, hang, or send garbage or huge bodies.
//! Every test asserts a fetch count or a status.
//!
//! Intervals are short (100 to 500 ms) so the tests stay quick; sleeps wait for a
//! configured interval plus a margin, never for a guess at how fast something is.

use http::header::{AUTHORIZATION, RETRY_AFTER};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;
use tower_cognito::test_util::{JwksBehavior, LocalUserPool, uuid};
use tower_cognito::{AuthErrorKind, CognitoAuthLayer, Responses, TokenUse, Verifier};

mod support;
use support::RawServer;

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

async fn start() -> LocalUserPool {
    LocalUserPool::start().await.expect("local user pool")
}

/// A token of the pool, signed by its ID key, whose header names a random `kid`.
fn random_kid_token(pool: &LocalUserPool) -> String {
    pool.id_token()
        .header(json!({ "kid": uuid(), "alg": "RS256" }))
        .sign()
}

/// The kind of the error a verification ends in, or `None` when it passes.
async fn outcome(verifier: &Verifier, token: &str) -> Option<AuthErrorKind> {
    verifier.verify(token).await.err().map(|e| e.kind())
}

/// Polls `condition` every 10 ms until it holds or `limit` passes.
async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

/// The status the layer answers a GET with this token with (ID-token route).
async fn status(layer: &CognitoAuthLayer, token: &str) -> StatusCode {
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "ok" }))
        .route_layer(layer.clone());
    let request = Request::get("/")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    app.oneshot(request).await.unwrap().status()
}

/// A JWKS document with these keys.
fn jwks(keys: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "keys": keys })).unwrap()
}

/// How long a test waits for something that must happen before it calls it a
/// hang. A guard against a stalled test, never an assertion about speed.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// Runs `future` under the hang guard.
async fn guarded<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after {HANG_GUARD:?}"))
}

/// Polls `future` once, drops it, and says whether it was pending.
async fn poll_once<F: Future>(future: F) -> bool {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await
}

// ---------------------------------------------------------------------------
// Unknown kids: rate limit, rotation, single flight
// ---------------------------------------------------------------------------

/// 1,000 tokens with random `kid`s inside one cooldown (the default, 5 s) cost
/// one fetch (the cold cache's), and never a 401-turned-fetch each.
#[tokio::test]
async fn random_kid_flood_within_one_cooldown_costs_at_most_two_fetches() {
    let pool = start().await;
    let verifier = support::uncached(&pool);
    let started = Instant::now();
    for _ in 0..1000 {
        let token = random_kid_token(&pool);
        assert_eq!(
            outcome(&verifier, &token).await,
            Some(AuthErrorKind::UnknownKey)
        );
    }
    let fetches = pool.server().requests();
    eprintln!(
        "1,000 random kids in {:?}: {fetches} fetch(es)",
        started.elapsed()
    );
    // The flood must fit in one cooldown for the bound to apply; it takes well
    // under a second, and if the machine were that slow the test says so.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "flood outlasted the cooldown"
    );
    assert!((1..=2).contains(&fetches), "{fetches} fetches");
    // The set it fetched is good: real tokens pass without another fetch.
    assert_eq!(outcome(&verifier, &pool.id_token().sign()).await, None);
    assert_eq!(pool.server().requests(), fetches);
}

/// A key added to the JWKS is accepted one cooldown after it was published, even
/// while other tasks send random `kid`s the whole time; and the flood costs at
/// most one fetch per cooldown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_is_accepted_within_one_cooldown_during_a_random_kid_flood() {
    const COOLDOWN: Duration = Duration::from_millis(400);
    let pool = start().await;
    let verifier = pool
        .verifier_builder()
        .unknown_kid_cooldown(COOLDOWN)
        .token_cache_capacity(0)
        .build()
        .unwrap();
    verifier.prefetch().await.unwrap();
    let started = Instant::now();

    let stop = Arc::new(AtomicBool::new(false));
    let flood_count = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for _ in 0..2 {
        let (pool, verifier, stop, count) = (
            pool.clone(),
            verifier.clone(),
            stop.clone(),
            flood_count.clone(),
        );
        flood.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let kind = outcome(&verifier, &random_kid_token(&pool)).await;
                assert_eq!(kind, Some(AuthErrorKind::UnknownKey));
                count.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }));
    }
    // Let the flood run into its rate limit first.
    tokio::time::sleep(COOLDOWN).await;

    let (new_id_kid, _) = pool.rotate_keys();
    let rotated = Instant::now();
    let token = pool.id_token().sign();
    assert_eq!(
        pool.signing_key(tower_cognito::TokenUse::Id).kid(),
        new_id_kid
    );
    // One cooldown (plus a margin for the fetch itself) after publication, the
    // first fetch that started after it has happened: the new key is known.
    tokio::time::sleep(COOLDOWN + Duration::from_millis(150)).await;
    let result = outcome(&verifier, &token).await;
    let waited = rotated.elapsed();

    stop.store(true, Ordering::Relaxed);
    for task in flood {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let fetches = pool.server().requests();
    let flood = flood_count.load(Ordering::Relaxed);
    eprintln!(
        "new key accepted when checked {waited:?} after publication \
         (cooldown {COOLDOWN:?}); {flood} random-kid tokens and {fetches} fetches in {elapsed:?}"
    );
    assert_eq!(
        result, None,
        "new key not accepted {waited:?} after publication"
    );
    // Prefetch + at most one fetch per started cooldown.
    let bound = 2 + (elapsed.as_millis() / COOLDOWN.as_millis()) as usize;
    assert!(fetches <= bound, "{fetches} fetches > {bound}");
    assert!(
        flood > 10 * fetches,
        "flood of {flood} vs {fetches} fetches"
    );
}

/// 100 verifications racing on a cold cache share one fetch (single flight), and
/// all pass: none is refused because another caller's fetch was under way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_verifications_of_a_cold_cache_make_exactly_one_fetch() {
    let pool = start().await;
    // A slow endpoint, so that every caller arrives while the fetch is under way.
    pool.server()
        .set_behavior(JwksBehavior::Delay(Duration::from_millis(300)));
    let verifier = support::uncached(&pool);
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let token = if i % 2 == 0 {
            pool.id_token().sign()
        } else {
            pool.access_token().sign()
        };
        let (verifier, barrier) = (verifier.clone(), barrier.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            outcome(&verifier, &token).await
        });
    }
    let results = tasks.join_all().await;
    let passed = results.iter().filter(|r| r.is_none()).count();
    let fetches = pool.server().requests();
    eprintln!("100 concurrent cold verifications: {passed} passed, {fetches} fetch(es)");
    assert_eq!(passed, 100, "{results:?}");
    assert_eq!(fetches, 1);
    assert!(verifier.is_ready());
}

// ---------------------------------------------------------------------------
// Outages: stale-if-error, back-off, 5xx on a cold cache
// ---------------------------------------------------------------------------

/// With the endpoint answering 500, tokens whose key is cached keep passing (200
/// through the layer) from the last good set, while refreshes and unknown `kid`s
/// back off: a few fetches for hundreds of requests.
#[tokio::test]
async fn endpoint_answering_500_keeps_cached_keys_serving_with_bounded_fetches() {
    let pool = start().await;
    let verifier = pool
        .verifier_builder()
        .refresh_interval(Duration::from_millis(100))
        .unknown_kid_cooldown(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(400))
        .token_cache_capacity(0)
        .build()
        .unwrap();
    verifier.prefetch().await.unwrap();
    let layer = CognitoAuthLayer::new(verifier.clone());
    let token = pool.id_token().sign();
    assert_eq!(status(&layer, &token).await, StatusCode::OK);

    pool.server().set_behavior(JwksBehavior::Status(500));
    let started = Instant::now();
    let mut requests = 0;
    let mut outage_seen = false;
    while started.elapsed() < Duration::from_millis(1500) {
        assert_eq!(status(&layer, &token).await, StatusCode::OK);
        // Once a fetch has failed, an unknown kid may be a rotation that cannot be
        // seen: 5xx (retry later), not 401 (sign in again).
        let kind = outcome(&verifier, &random_kid_token(&pool)).await;
        if outage_seen {
            assert_eq!(kind, Some(AuthErrorKind::KeySetUnavailable));
        } else {
            assert!(matches!(
                kind,
                Some(AuthErrorKind::UnknownKey | AuthErrorKind::KeySetUnavailable)
            ));
            outage_seen = kind == Some(AuthErrorKind::KeySetUnavailable);
        }
        requests += 2;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let fetches = pool.server().requests() - 1;
    eprintln!(
        "500 for {:?}: {requests} requests, {fetches} failed fetches",
        started.elapsed()
    );
    assert!(outage_seen, "no failed fetch was noticed");
    assert!(verifier.is_ready(), "the last good set keeps serving");
    // Back-off 100, 200, 400, 400… ms from the first refresh at 100 ms: about 5.
    assert!((1..=8).contains(&fetches), "{fetches} fetches");
    assert!(requests > 20 * fetches);

    // The endpoint recovers: the background retry picks it up, and unknown kids
    // are plain 401s again.
    pool.server().set_behavior(JwksBehavior::Serve);
    let deadline = Instant::now() + Duration::from_secs(3);
    while outcome(&verifier, &random_kid_token(&pool)).await != Some(AuthErrorKind::UnknownKey) {
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// With the endpoint hanging past the fetch timeout, tokens whose key is cached
/// pass without waiting for the hanging fetch (no lock on the hot path), and each
/// timed-out fetch backs off.
#[tokio::test]
async fn endpoint_hanging_past_the_timeout_does_not_hold_up_cached_keys() {
    const FETCH_TIMEOUT: Duration = Duration::from_millis(1000);
    let pool = start().await;
    let verifier = pool
        .verifier_builder()
        .fetch_timeout(FETCH_TIMEOUT)
        .refresh_interval(Duration::from_millis(100))
        .unknown_kid_cooldown(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(400))
        .token_cache_capacity(0)
        .build()
        .unwrap();
    verifier.prefetch().await.unwrap();
    pool.server()
        .set_behavior(JwksBehavior::Delay(Duration::from_secs(30)));
    let layer = CognitoAuthLayer::new(verifier.clone());
    let token = pool.access_token().sign();
    let id_token = pool.id_token().sign();

    // Wait until a refresh is hanging.
    assert!(eventually(Duration::from_secs(2), || pool.server().requests() == 2).await);
    let started = Instant::now();
    let mut verified = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        // Half the fetch timeout: a verification that waited for the hanging
        // fetch would take up to the whole of it.
        let result = tokio::time::timeout(FETCH_TIMEOUT / 2, verifier.verify(&token))
            .await
            .expect("a cached key waited for the hanging fetch");
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(status(&layer, &id_token).await, StatusCode::OK);
        verified += 2;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let fetches = pool.server().requests() - 1;
    eprintln!(
        "hanging endpoint for {:?}: {verified} verifications, {fetches} fetches",
        started.elapsed()
    );
    // Attempts at ~0.1 s (times out at 1.1 s), ~1.2 s (2.2 s), ~2.4 s.
    assert!((1..=4).contains(&fetches), "{fetches} fetches");
    assert!(verifier.is_ready());
}

/// While every fetch fails, the last good set keeps serving (also to the
/// verified-token cache) for `max_stale` after the last successful fetch, and no
/// longer: then requests are 5xx and the verifier reports not ready.
#[tokio::test]
async fn last_good_set_serves_until_max_stale_then_requests_fail_as_unavailable() {
    const MAX_STALE: Duration = Duration::from_millis(1500);
    let pool = start().await;
    let verifier = pool
        .verifier_builder()
        .refresh_interval(Duration::from_millis(100))
        .unknown_kid_cooldown(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(200))
        .max_stale(MAX_STALE)
        .build()
        .unwrap();
    let layer = CognitoAuthLayer::new(verifier.clone());
    let fetched = Instant::now();
    verifier.prefetch().await.unwrap();
    pool.server().set_behavior(JwksBehavior::Status(500));
    let token = pool.id_token().sign();
    assert_eq!(outcome(&verifier, &token).await, None);

    // A refresh has failed; the set is stale but younger than max_stale.
    assert!(eventually(Duration::from_secs(1), || pool.server().requests() >= 3).await);
    assert_eq!(outcome(&verifier, &token).await, None);
    assert_eq!(status(&layer, &token).await, StatusCode::OK);
    assert!(verifier.is_ready());
    assert!(
        fetched.elapsed() < MAX_STALE,
        "the machine is too slow for this test"
    );

    tokio::time::sleep(MAX_STALE.saturating_sub(fetched.elapsed()) + Duration::from_millis(200))
        .await;
    assert!(!verifier.is_ready());
    let err = verifier.verify(&token).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable, "{err}");
    assert_eq!(
        status(&layer, &token).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let fetches = pool.server().requests();
    let elapsed = fetched.elapsed();
    eprintln!("max_stale {MAX_STALE:?}: {fetches} fetches in {elapsed:?}");
    // Prefetch, the first refresh, then attempts at least 100, then 200 ms apart.
    let bound = 3 + (elapsed.as_millis() / 200) as usize;
    assert!(fetches <= bound, "{fetches} fetches > {bound}");
}

/// Cold cache and the endpoint down: requests are answered 5xx (500 in API
/// Gateway's mode, 503 with `Retry-After` in RFC 6750 mode), never 401, and the
/// back-off means a few fetches for 200 requests. Once the endpoint is back, the
/// background retry makes the verifier ready without any request.
#[tokio::test]
async fn cold_cache_with_endpoint_down_answers_5xx_and_backs_off() {
    let pool = start().await;
    pool.server().set_behavior(JwksBehavior::Status(503));
    let verifier = pool
        .verifier_builder()
        .unknown_kid_cooldown(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(800))
        .token_cache_capacity(0)
        .build()
        .unwrap();
    let api_gateway = CognitoAuthLayer::new(verifier.clone());
    let bearer = CognitoAuthLayer::new(verifier.clone()).responses(Responses::rfc6750("api"));
    let token = pool.id_token().sign();

    let err = verifier.verify(&token).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable);
    assert!(err.detail().contains("HTTP status 503"), "{err}");
    assert!(err.detail().contains(&pool.jwks_url()), "{err}");

    let n = 200;
    let started = Instant::now();
    for i in 0..n {
        if i % 2 == 0 {
            assert_eq!(
                status(&api_gateway, &token).await,
                StatusCode::INTERNAL_SERVER_ERROR
            );
        } else {
            let app = axum::Router::new()
                .route("/", axum::routing::get(|| async { "ok" }))
                .route_layer(bearer.clone());
            let request = Request::get("/")
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(response.headers().contains_key(RETRY_AFTER));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let fetches = pool.server().requests();
    eprintln!(
        "endpoint down, cold cache: {n} requests in {:?}, {fetches} fetches",
        started.elapsed()
    );
    assert!(!verifier.is_ready());
    // Back-off 100, 200, 400, 800 ms: about 5 over 1+ s.
    assert!((1..=8).contains(&fetches), "{fetches} fetches");
    assert!(fetches * 10 < n);

    pool.server().set_behavior(JwksBehavior::Serve);
    assert!(eventually(Duration::from_secs(3), || verifier.is_ready()).await);
    assert_eq!(status(&api_gateway, &token).await, StatusCode::OK);
}

// ---------------------------------------------------------------------------
// Refresh: removed keys stop being trusted
// ---------------------------------------------------------------------------

/// A key removed from the JWKS keeps working only until the next refresh (every
/// 300 ms here), which happens on the timer, with no request needed; the pool's
/// other key keeps working.
#[tokio::test]
async fn removed_key_stops_being_accepted_after_the_refresh_interval() {
    const REFRESH: Duration = Duration::from_millis(300);
    let pool = start().await;
    let verifier = pool
        .verifier_builder()
        .refresh_interval(REFRESH)
        .unknown_kid_cooldown(Duration::from_millis(100))
        .token_cache_capacity(0)
        .build()
        .unwrap();
    verifier.prefetch().await.unwrap();
    let id_token = pool.id_token().sign();
    let access_token = pool.access_token().sign();
    assert_eq!(outcome(&verifier, &id_token).await, None);

    let id_kid = pool
        .signing_key(tower_cognito::TokenUse::Id)
        .kid()
        .to_owned();
    pool.retire_key(&id_kid);
    // Until the refresh, the cached set still holds it, and using it costs no fetch.
    assert_eq!(outcome(&verifier, &id_token).await, None);
    assert_eq!(pool.server().requests(), 1);

    tokio::time::sleep(REFRESH + Duration::from_millis(200)).await;
    let refreshes = pool.server().requests() - 1;
    assert!(refreshes >= 1, "no refresh after {REFRESH:?}");
    assert_eq!(
        outcome(&verifier, &id_token).await,
        Some(AuthErrorKind::UnknownKey)
    );
    assert_eq!(outcome(&verifier, &access_token).await, None);
    eprintln!("removed key refused after {refreshes} timer refresh(es)");
}

/// A token in the verified-token cache stops being accepted once a refresh
/// removes the key that signed it: the cache does not outlive the key.
#[tokio::test]
async fn cached_token_stops_being_accepted_once_its_key_is_removed() {
    const REFRESH: Duration = Duration::from_millis(300);
    let pool = start().await;
    let verifier = pool
        .verifier_builder()
        .refresh_interval(REFRESH)
        .unknown_kid_cooldown(Duration::from_millis(100))
        .build()
        .unwrap();
    let token = pool.id_token().sign();
    assert_eq!(outcome(&verifier, &token).await, None);
    assert_eq!(outcome(&verifier, &token).await, None);
    assert_eq!(pool.server().requests(), 1);

    pool.retire_key(pool.signing_key(tower_cognito::TokenUse::Id).kid());
    tokio::time::sleep(REFRESH + Duration::from_millis(200)).await;
    assert!(pool.server().requests() >= 2, "no refresh");
    assert_eq!(
        outcome(&verifier, &token).await,
        Some(AuthErrorKind::UnknownKey)
    );
}

// ---------------------------------------------------------------------------
// Bounded fetches: size, malformed keys
// ---------------------------------------------------------------------------

async fn huge_response_is_cut_off(declare_length: bool) {
    const HUGE: u64 = 50 * 1024 * 1024;
    let pool = start().await;
    pool.server().set_behavior(JwksBehavior::Huge {
        bytes: HUGE,
        declare_length,
    });
    let verifier = support::uncached(&pool);
    assert!(!verifier.is_ready());

    let err = verifier.prefetch().await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable);
    assert!(err.detail().contains("limit"), "{err}");
    let err = verifier.verify(&pool.id_token().sign()).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable);
    assert!(!verifier.is_ready());

    // Let the server notice the closed connection, then count what it wrote: the
    // default limit (1 MiB) plus what the loopback socket buffers took.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = pool.server().bytes_sent();
    let fetches = pool.server().requests();
    eprintln!(
        "50 MiB body (Content-Length: {declare_length}): \
         server wrote {:.1} MiB, {fetches} fetch(es)",
        sent as f64 / 1024.0 / 1024.0
    );
    assert!(sent < 16 * 1024 * 1024, "{sent} bytes were sent");
    // Prefetch, then the token's fetch is held back by the back-off.
    assert_eq!(fetches, 1);
}

/// A 50 MiB body without `Content-Length` is read up to the 1 MiB limit and
/// abandoned there: the server manages to write only a small part of it.
#[tokio::test]
async fn huge_response_without_content_length_is_cut_off_at_the_limit() {
    huge_response_is_cut_off(false).await;
}

/// A 50 MiB body announced by `Content-Length` fails the fetch and is not read
/// whole. (The limit on the body read alone would also pass this; the test
/// below shows that the announced length is refused before any body is read.)
#[tokio::test]
async fn huge_response_with_content_length_is_not_read_whole() {
    huge_response_is_cut_off(true).await;
}

/// A JWKS endpoint on 127.0.0.1 that answers 200 with `Content-Length:
/// {length}`, sends `body`, then sends nothing more and never closes the
/// connection. Returns the server and a count of the requests it received.
async fn announcing_server(length: u64, body: Vec<u8>) -> (RawServer, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&requests);
    let server = RawServer::start(move |mut stream| {
        let body = body.clone();
        let count = Arc::clone(&count);
        async move {
            if support::read_head(&mut stream).await.is_none() {
                return;
            }
            count.fetch_add(1, Ordering::SeqCst);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.write_all(&body).await;
            // The rest never comes; wait until the client hangs up.
            let mut buf = [0u8; 1024];
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
        }
    })
    .await;
    (server, requests)
}

/// A `Content-Length` over the limit fails the fetch as soon as the headers
/// arrive, before any of the body is read. The endpoint announces 50 MiB, sends
/// a small valid key set, and then stalls: a client that read the body would
/// wait for the rest until the fetch timeout and report that instead.
#[tokio::test]
async fn announced_content_length_over_the_limit_is_refused_before_the_body_is_read() {
    const ANNOUNCED: u64 = 50 * 1024 * 1024;
    let pool = start().await;
    let keys = jwks(pool.published_keys().iter().map(|k| k.jwk()).collect());
    let (server, requests) = announcing_server(ANNOUNCED, keys).await;
    let verifier = Verifier::builder()
        .pool(pool.user_pool().jwks_url(server.url("/jwks.json")))
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = guarded("prefetch", verifier.prefetch()).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable);
    let expected = format!(
        "Content-Length {ANNOUNCED} is over the {}-byte limit",
        tower_cognito::DEFAULT_MAX_JWKS_SIZE
    );
    assert!(err.detail().contains(&expected), "{err}");
    assert!(!verifier.is_ready());
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

/// A JWKS whose other keys are malformed (wrong type, weak, broken base64, no
/// `kid`, wrong `alg`, not an object) still verifies tokens of its good keys;
/// a token naming a malformed key's `kid` is refused as an unknown key.
#[tokio::test]
async fn jwks_with_malformed_keys_still_verifies_its_good_keys() {
    let pool = start().await;
    let good: Vec<Value> = pool.published_keys().iter().map(|k| k.jwk()).collect();
    let mut weak = good[0].clone();
    weak["kid"] = json!("weak-1024");
    let mut short = vec![0xc5u8; 128];
    short[127] |= 1;
    weak["n"] = json!(base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        short
    ));
    let mut keys = vec![
        json!({ "kid": "ec", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA" }),
        weak,
        json!({ "kid": "broken", "kty": "RSA", "e": "AQAB", "n": "***" }),
        json!({ "kty": "RSA", "e": "AQAB", "n": good[0]["n"] }),
        json!({ "kid": "hmac", "kty": "RSA", "alg": "HS256", "e": "AQAB", "n": good[0]["n"] }),
        json!("not a key"),
    ];
    keys.insert(3, good[0].clone());
    keys.push(good[1].clone());
    pool.server().set_behavior(JwksBehavior::Body(jwks(keys)));

    let verifier = support::uncached(&pool);
    verifier.prefetch().await.unwrap();
    assert_eq!(outcome(&verifier, &pool.id_token().sign()).await, None);
    assert_eq!(outcome(&verifier, &pool.access_token().sign()).await, None);
    let weak_token = pool
        .id_token()
        .header(json!({ "kid": "weak-1024", "alg": "RS256" }))
        .sign();
    assert_eq!(
        outcome(&verifier, &weak_token).await,
        Some(AuthErrorKind::UnknownKey)
    );
    assert_eq!(pool.server().requests(), 1);
}

/// A document with no usable key at all (or no JWKS at all) is a failed fetch:
/// a cold cache cannot verify anything (5xx), and a warm one keeps its last good set.
#[tokio::test]
async fn jwks_without_a_usable_key_is_a_failed_fetch() {
    let pool = start().await;
    let verifier = pool
        .verifier_builder()
        .refresh_interval(Duration::from_millis(100))
        .unknown_kid_cooldown(Duration::from_millis(100))
        .token_cache_capacity(0)
        .build()
        .unwrap();
    pool.server().set_behavior(JwksBehavior::Body(jwks(vec![
        json!({ "kid": "x", "kty": "EC" }),
    ])));
    let err = verifier.prefetch().await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable);
    assert!(err.detail().contains("no usable RS256 key"), "{err}");

    pool.server().set_behavior(JwksBehavior::Serve);
    // Past the back-off (the cooldown, 100 ms) a prefetch may fetch again.
    tokio::time::sleep(Duration::from_millis(150)).await;
    verifier.prefetch().await.unwrap();
    pool.server()
        .set_behavior(JwksBehavior::Body(b"<html>gateway error</html>".to_vec()));
    let before = pool.server().requests();
    assert!(
        eventually(Duration::from_secs(2), || pool.server().requests()
            > before + 1)
        .await
    );
    assert_eq!(outcome(&verifier, &pool.id_token().sign()).await, None);
    assert!(verifier.is_ready());
}

// ---------------------------------------------------------------------------
// Start-up: prefetch and readiness
// ---------------------------------------------------------------------------

/// Prefetch fails at once on a bad configuration (the JWKS URL answers 404, or
/// nothing listens), and readiness turns true after the first good fetch.
#[tokio::test]
async fn prefetch_fails_fast_on_a_bad_config_and_readiness_follows_a_good_fetch() {
    const COOLDOWN: Duration = Duration::from_millis(500);
    let pool = start().await;
    pool.server().set_behavior(JwksBehavior::Status(404));
    let verifier = pool
        .verifier_builder()
        .unknown_kid_cooldown(COOLDOWN)
        .build()
        .unwrap();
    assert!(!verifier.is_ready());

    let err = verifier.prefetch().await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable);
    assert!(err.detail().contains("404"), "{err}");
    assert!(!verifier.is_ready());
    assert_eq!(pool.server().requests(), 1);

    // Within the back-off a prefetch reports the last failure without fetching
    // (even though the endpoint is fixed by now)...
    pool.server().set_behavior(JwksBehavior::Serve);
    let err = verifier.prefetch().await.unwrap_err();
    assert!(err.detail().contains("404"), "{err}");
    assert_eq!(pool.server().requests(), 1);
    // ...and once it has passed, the next one (or the background retry) fetches.
    tokio::time::sleep(COOLDOWN).await;
    guarded("prefetch after the back-off", async {
        while verifier.prefetch().await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(verifier.is_ready());
    assert_eq!(pool.server().requests(), 2);
    // A ready verifier does not fetch again on prefetch.
    verifier.prefetch().await.unwrap();
    assert_eq!(pool.server().requests(), 2);

    // Nothing listening on the JWKS port.
    let closed = support::closed_addr();
    let verifier = Verifier::builder()
        .pool(
            pool.user_pool()
                .jwks_url(format!("http://{closed}/jwks.json")),
        )
        .build()
        .unwrap();
    let err = verifier.prefetch().await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable);
    assert!(!verifier.is_ready());
}

/// During an outage, a prefetch called again and again (a readiness loop, a
/// retrying start-up) obeys the back-off like every other fetch: 100 calls
/// within one back-off cost one fetch, and each reports the failure.
#[tokio::test]
async fn prefetch_called_repeatedly_during_an_outage_obeys_the_back_off() {
    let pool = start().await;
    pool.server().set_behavior(JwksBehavior::Status(500));
    let verifier = pool
        .verifier_builder()
        // The back-off after the first failure: longer than this test can run.
        .unknown_kid_cooldown(Duration::from_secs(3600))
        .build()
        .unwrap();
    for _ in 0..100 {
        let err = verifier.prefetch().await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable);
        assert!(err.detail().contains("HTTP status 500"), "{err}");
    }
    assert_eq!(pool.server().requests(), 1);
    assert!(!verifier.is_ready());
}

// ---------------------------------------------------------------------------
// Runtimes: a verifier outlives the runtime it was first used on
// ---------------------------------------------------------------------------

/// One verifier, two runtimes (as with a verifier in a `static` shared by two
/// `#[tokio::test]`s). On the first, a new `kid` starts a fetch, and the
/// runtime shuts down before that fetch's task ever runs. On the second, the
/// next request starts a fetch of its own and the new key is accepted; then a
/// key removed from the JWKS is refused once the refresh interval has passed.
#[test]
fn a_fetch_lost_with_its_runtime_does_not_stall_the_next_runtime() {
    const COOLDOWN: Duration = Duration::from_millis(100);
    const REFRESH: Duration = Duration::from_millis(300);
    let server = support::worker_runtime();
    let pool = server.block_on(start());
    let verifier = pool
        .verifier_builder()
        .refresh_interval(REFRESH)
        .unknown_kid_cooldown(COOLDOWN)
        .build()
        .unwrap();
    let old_kid = pool.signing_key(TokenUse::Id).kid().to_owned();
    let old_token = pool.id_token().sign();

    let first = support::runtime();
    assert_eq!(first.block_on(outcome(&verifier, &old_token)), None);
    assert_eq!(pool.server().requests(), 1);
    pool.rotate_keys();
    let new_token = pool.id_token().sign();
    // Past the cooldown, so that the new kid may start a fetch.
    std::thread::sleep(COOLDOWN + Duration::from_millis(50));
    let waiting = first.block_on(poll_once(verifier.verify(&new_token)));
    assert!(waiting, "the new kid waits for a fetch");
    drop(first);
    assert_eq!(pool.server().requests(), 1, "the lost fetch never ran");

    let second = support::runtime();
    second.block_on(guarded("the second runtime", async {
        assert_eq!(outcome(&verifier, &new_token).await, None);
        assert_eq!(pool.server().requests(), 2);
        pool.retire_key(&old_kid);
        while outcome(&verifier, &old_token).await.is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            outcome(&verifier, &old_token).await,
            Some(AuthErrorKind::UnknownKey)
        );
        assert_eq!(outcome(&verifier, &new_token).await, None);
    }));
}

/// The refresh that a cache hit starts on one runtime is lost when that runtime
/// shuts down at once, and the refresh timer dies with it. The next runtime
/// only ever sees cache hits of a token whose key was removed meanwhile; it
/// still refreshes the set, and the token is refused.
#[test]
fn a_refresh_lost_with_its_runtime_is_made_up_on_the_next_runtime() {
    const REFRESH: Duration = Duration::from_millis(300);
    let server = support::worker_runtime();
    let pool = server.block_on(start());
    let verifier = pool
        .verifier_builder()
        .refresh_interval(REFRESH)
        .unknown_kid_cooldown(Duration::from_millis(100))
        .build()
        .unwrap();
    let token = pool.id_token().sign();

    let first = support::runtime();
    assert_eq!(first.block_on(outcome(&verifier, &token)), None);
    pool.retire_key(pool.signing_key(TokenUse::Id).kid());
    std::thread::sleep(REFRESH + Duration::from_millis(50));
    // A cache hit: served, and the due refresh is spawned on this runtime, which
    // shuts down before the refresh (or the timer) runs again.
    assert_eq!(first.block_on(outcome(&verifier, &token)), None);
    drop(first);
    assert_eq!(pool.server().requests(), 1, "the lost refresh never ran");

    let second = support::runtime();
    second.block_on(guarded("the removed key is refused", async {
        while outcome(&verifier, &token).await.is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }));
    assert_eq!(
        second.block_on(outcome(&verifier, &token)),
        Some(AuthErrorKind::UnknownKey)
    );
    assert!(pool.server().requests() >= 2);
}

/// The refresh timer dies with the first runtime, and nothing runs for a while.
/// The first request on the next runtime comes after the refresh fell due by
/// more than a fetch and a cooldown: it does not take the cached verdict on
/// trust but waits for the refresh, so a token whose key was removed meanwhile
/// is refused on that very request, while the pool's other key keeps working.
#[test]
fn a_removed_key_is_refused_on_the_first_request_after_an_overdue_refresh() {
    const REFRESH: Duration = Duration::from_millis(300);
    const COOLDOWN: Duration = Duration::from_millis(100);
    const FETCH_TIMEOUT: Duration = Duration::from_millis(300);
    let server = support::worker_runtime();
    let pool = server.block_on(start());
    let verifier = pool
        .verifier_builder()
        .refresh_interval(REFRESH)
        .unknown_kid_cooldown(COOLDOWN)
        .fetch_timeout(FETCH_TIMEOUT)
        .build()
        .unwrap();
    let id_token = pool.id_token().sign();
    let access_token = pool.access_token().sign();

    let first = support::runtime();
    first.block_on(async {
        assert_eq!(outcome(&verifier, &id_token).await, None);
        assert_eq!(outcome(&verifier, &access_token).await, None);
    });
    drop(first);
    assert_eq!(pool.server().requests(), 1);
    pool.retire_key(pool.signing_key(TokenUse::Id).kid());
    // The refresh interval, a fetch (its timeout plus 250 ms), a cooldown, and
    // a margin.
    std::thread::sleep(REFRESH + FETCH_TIMEOUT + COOLDOWN + Duration::from_millis(450));

    let second = support::runtime();
    second.block_on(guarded("the second runtime", async {
        assert_eq!(
            outcome(&verifier, &id_token).await,
            Some(AuthErrorKind::UnknownKey)
        );
        assert_eq!(outcome(&verifier, &access_token).await, None);
    }));
    assert_eq!(pool.server().requests(), 2);
}

/// A runtime that is still alive but no longer driven (a current-thread runtime
/// outside `block_on`) holds the cold cache's fetch, which never runs. A caller
/// on another runtime that joins it is released at its deadline (about the
/// fetch timeout) with a 5xx-kind error, and the next caller fetches for itself.
#[test]
fn a_fetch_parked_on_an_idle_runtime_holds_up_no_one() {
    let server = support::worker_runtime();
    let pool = server.block_on(start());
    let verifier = pool
        .verifier_builder()
        .fetch_timeout(Duration::from_millis(500))
        .unknown_kid_cooldown(Duration::from_millis(100))
        .build()
        .unwrap();
    let token = pool.id_token().sign();

    let idle = support::runtime();
    assert!(idle.block_on(poll_once(verifier.verify(&token))));

    let second = support::runtime();
    let first_try = second.block_on(guarded("the second runtime", async {
        let first_try = outcome(&verifier, &token).await;
        while outcome(&verifier, &token).await.is_some() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        first_try
    }));
    assert_eq!(first_try, Some(AuthErrorKind::KeySetUnavailable));
    assert_eq!(pool.server().requests(), 1, "the parked fetch never ran");
    drop(idle);
    assert_eq!(second.block_on(outcome(&verifier, &token)), None);
}

// ---------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The lines logged so far that mention `needle`.
    fn lines_with(&self, needle: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

/// Everything this test binary logs at INFO and above. A process-wide subscriber,
/// because a thread-scoped one can miss events when tests run in parallel (the
/// callsite interest cache is global); tests pick their lines by JWKS URL.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        captured
    })
}

/// A failed fetch is a warning naming the URL and the reason; a rotation is an
/// info event naming the added and removed `kid`s.
#[tokio::test]
async fn fetch_failures_and_key_changes_are_logged() {
    let logs = logs();
    let pool = start().await;
    let verifier = pool
        .verifier_builder()
        .unknown_kid_cooldown(Duration::from_millis(50))
        .token_cache_capacity(0)
        .build()
        .unwrap();
    pool.server().set_behavior(JwksBehavior::Status(500));
    assert!(verifier.prefetch().await.is_err());
    let url = pool.jwks_url();
    let lines = logs.lines_with(&url);
    let warning = lines
        .iter()
        .find(|l| l.contains("WARN"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(warning.contains("HTTP status 500"), "{warning}");

    pool.server().set_behavior(JwksBehavior::Serve);
    // Past the back-off (the cooldown, but at least 100 ms) a prefetch may
    // fetch again.
    tokio::time::sleep(Duration::from_millis(150)).await;
    verifier.prefetch().await.unwrap();
    let old = pool
        .signing_key(tower_cognito::TokenUse::Id)
        .kid()
        .to_owned();
    let (new, _) = pool.rotate_keys();
    pool.retire_key(&old);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(outcome(&verifier, &pool.id_token().sign()).await, None);
    let lines = logs.lines_with(&url);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("INFO") && l.contains("loaded JWKS")),
        "{lines:?}"
    );
    let change = lines
        .iter()
        .rfind(|l| l.contains("JWKS keys changed"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(change.contains("INFO"), "{change}");
    assert!(change.contains(&new) && change.contains(&old), "{change}");
    assert_eq!(pool.server().requests(), 3);
}
