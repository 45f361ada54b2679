//! Where keys come from: a static JWKS given at build time, a `JwksProvider` of
//! the user's own, and the key location of a multi-Region (replicated) pool.
//! Each is tested through an axum app behind `CognitoAuthLayer` on a real
//! socket (accepted and refused), and against the key set rules that the HTTP
//! source obeys (single flight, cooldown, back-off, refresh, stale-if-error,
//! size limit, key rules).

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tower_cognito::test_util::{LocalUserPool, SigningKey, uuid};
use tower_cognito::{
    AuthErrorKind, Claims, CognitoAuthLayer, JwksFuture, JwksProvider, TokenUse, UserPool, Verifier,
};

mod support;
use support::{Metrics, RawServer, Server, serve};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

async fn start() -> LocalUserPool {
    LocalUserPool::start().await.expect("local user pool")
}

/// An app whose `/me` route needs an ID token of the verifier's pools and
/// answers with its `sub`.
async fn app(verifier: Verifier) -> Server {
    let router = Router::new()
        .route(
            "/me",
            get(|claims: Claims| async move { claims.sub().to_owned() }),
        )
        .route_layer(CognitoAuthLayer::new(verifier));
    serve(router).await
}

/// GET `/me` with this bearer token: the status and the body.
async fn call(server: &Server, token: &str) -> (u16, String) {
    server.bearer("/me", token).await.status_and_body()
}

/// The kind of the error a verification ends in, or `None` when it passes.
async fn outcome(verifier: &Verifier, token: &str) -> Option<AuthErrorKind> {
    verifier.verify(token).await.err().map(|e| e.kind())
}

/// Polls `condition` every 20 ms until it holds or `limit` passes.
async fn eventually<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut condition: impl FnMut() -> F,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition().await
}

/// A JWKS document with these keys.
fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// The pool's published keys as JWKs.
fn pool_keys(pool: &LocalUserPool) -> Vec<Value> {
    pool.published_keys().iter().map(SigningKey::jwk).collect()
}

/// A token of the pool whose header names a `kid` no key set has.
fn random_kid_token(pool: &LocalUserPool) -> String {
    pool.id_token()
        .header(json!({ "kid": uuid(), "alg": "RS256" }))
        .sign()
}

/// An ID token of the pool, signed by a stranger's key under the pool's `kid`:
/// the key is found, the signature does not verify.
fn forged_token(pool: &LocalUserPool) -> String {
    let kid = pool.signing_key(TokenUse::Id).kid().to_owned();
    let impostor = SigningKey::generate(kid);
    pool.id_token().signed_by(&impostor).sign()
}

/// The 1,024-bit key of `tests/data` as a JWK with this `kid` (it meets every
/// rule but the size).
fn weak_jwk(kid: &str) -> Value {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let weak =
        rsa::RsaPrivateKey::from_pkcs1_der(include_bytes!("data/rsa1024-pkcs1.der")).unwrap();
    json!({
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(weak.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(weak.e().to_bytes_be()),
    })
}

/// A client whose every request goes to the pool's JWKS server as a proxy: a
/// verifier built with it cannot fetch anything without the server counting it.
fn snitch_client(pool: &LocalUserPool) -> reqwest::Client {
    support::client_builder()
        .proxy(reqwest::Proxy::all(pool.server().url("")).unwrap())
        .build()
        .unwrap()
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(contents: &str) -> Self {
        let path = std::env::temp_dir().join(format!("tower-cognito-jwks-{}.json", uuid()));
        std::fs::write(&path, contents).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---------------------------------------------------------------------------
// Static JWKS
// ---------------------------------------------------------------------------

/// A static set verifies its pool's tokens over a real socket, refuses an
/// unknown `kid` at once (no fetch to wait for, so `UnknownKey` rather than
/// `KeySetUnavailable`) and a bad signature, is ready before any request, and
/// never makes a request: every HTTP request of the verifier would go to the
/// JWKS server, which counts none.
#[tokio::test]
async fn static_jwks_verifies_over_a_real_socket_without_any_fetch() {
    let pool = start().await;
    let verifier = Verifier::builder()
        .pool(UserPool::new(pool.pool_id()).static_jwks(pool.jwks_json()))
        .client_id(pool.client_id())
        .http_client(snitch_client(&pool))
        .build()
        .unwrap();
    assert!(verifier.is_ready(), "a static set is ready from the start");
    let readiness = verifier.readiness();
    assert!(readiness.ready);
    assert_eq!(readiness.pools[0].keys, 2);
    assert_eq!(readiness.pools[0].failed_fetches, 0);
    verifier.prefetch().await.unwrap();

    let server = app(verifier.clone()).await;
    let token = pool.id_token().sub("alice").sign();
    assert_eq!(call(&server, &token).await, (200, "alice".to_owned()));
    // The access key is in the set too (the route wants an ID token).
    let access = pool.access_token().sign();
    assert_eq!(
        outcome(&verifier, &access).await,
        None,
        "the access key verifies"
    );

    let unknown = random_kid_token(&pool);
    assert_eq!(call(&server, &unknown).await.0, 401);
    for _ in 0..20 {
        assert_eq!(
            outcome(&verifier, &unknown).await,
            Some(AuthErrorKind::UnknownKey)
        );
    }
    let forged = forged_token(&pool);
    assert_eq!(call(&server, &forged).await.0, 401);
    assert_eq!(
        outcome(&verifier, &forged).await,
        Some(AuthErrorKind::BadSignature)
    );
    let stranger = start().await;
    assert_eq!(call(&server, &stranger.id_token().sign()).await.0, 401);

    assert_eq!(pool.server().requests(), 0, "a static set is never fetched");
    assert_eq!(stranger.server().requests(), 0);
    assert!(verifier.readiness().ready);

    // The control: the same client on a pool whose keys are fetched does reach
    // the server (as a proxy), so the count above would have seen a fetch.
    let fetching = Verifier::builder()
        .pool(UserPool::new(pool.pool_id()))
        .http_client(snitch_client(&pool))
        .build()
        .unwrap();
    assert!(fetching.prefetch().await.is_err());
    assert_eq!(pool.server().requests(), 1);
}

/// A static set from a file is read once, when the verifier is built: the file
/// can go away afterwards. A file that cannot be read is a `ConfigError` that
/// names it.
#[tokio::test]
async fn static_jwks_file_is_read_when_the_verifier_is_built() {
    let pool = start().await;
    let file = TempFile::new(&pool.jwks_json());
    let verifier = Verifier::new(UserPool::new(pool.pool_id()).static_jwks_file(&file.0)).unwrap();
    drop(file);
    let server = app(verifier).await;
    let token = pool.id_token().sub("bob").sign();
    assert_eq!(call(&server, &token).await, (200, "bob".to_owned()));
    assert_eq!(call(&server, &random_kid_token(&pool)).await.0, 401);
    assert_eq!(pool.server().requests(), 0);

    let missing = std::env::temp_dir().join(format!("tower-cognito-missing-{}.json", uuid()));
    let err = Verifier::new(UserPool::new(pool.pool_id()).static_jwks_file(&missing)).unwrap_err();
    assert!(
        err.message().contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(err.message().contains("cannot read"), "{err}");
}

/// The same rules as fetched keys, but configuration: a weak key among good
/// ones refuses the whole static set when the verifier is built, with an error
/// that names the key; the same document fetched over HTTP has the weak key
/// skipped and the good ones used.
#[tokio::test]
async fn static_jwks_with_a_weak_key_is_refused_at_build_naming_it() {
    let pool = start().await;
    let mut keys = pool_keys(&pool);
    keys.push(weak_jwk("weak-1024"));
    let document = jwks(&keys);

    let err =
        Verifier::new(UserPool::new(pool.pool_id()).static_jwks(document.clone())).unwrap_err();
    let message = err.message();
    assert!(message.contains("`weak-1024`"), "{err}");
    assert!(
        message.contains("modulus is shorter than 2048 bits"),
        "{err}"
    );
    assert!(message.contains(pool.pool_id()), "{err}");
    let file = TempFile::new(&document);
    let err = Verifier::new(UserPool::new(pool.pool_id()).static_jwks_file(&file.0)).unwrap_err();
    assert!(err.message().contains("`weak-1024`"), "{err}");
    assert!(
        err.message().contains(&file.0.display().to_string()),
        "{err}"
    );

    // Fetched, the same document loses only its weak key.
    pool.server().set_jwks(document.into_bytes());
    let fetched = pool.verifier();
    let server = app(fetched.clone()).await;
    assert_eq!(call(&server, &pool.id_token().sign()).await.0, 200);
    let readiness = fetched.readiness();
    assert_eq!(readiness.pools[0].keys, 2, "the weak key was skipped");
    assert_eq!(pool.server().requests(), 1);
}

/// Each way a key can break the rules refuses a static set at build time, with
/// an error that names the key (by `kid`, or by index when it has none) and the
/// rule; so do a document that is not a JWKS, an empty set and a repeated `kid`.
#[tokio::test]
async fn static_jwks_with_a_malformed_key_is_refused_at_build_naming_it() {
    let pool = start().await;
    let good = pool_keys(&pool);
    let mutate = |kid: &str, change: &dyn Fn(&mut Value)| {
        let mut jwk = good[0].clone();
        jwk["kid"] = json!(kid);
        change(&mut jwk);
        jwk
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            mutate("bad-n", &|k| k["n"] = json!("not base64url!")),
            "`bad-n`",
            "n is not base64url",
        ),
        (
            mutate("ec", &|k| k["kty"] = json!("EC")),
            "`ec`",
            "kty is not RSA",
        ),
        (
            mutate("enc", &|k| k["use"] = json!("enc")),
            "`enc`",
            "use is not sig",
        ),
        (
            mutate("rs384", &|k| k["alg"] = json!("RS384")),
            "`rs384`",
            "alg is not RS256",
        ),
        (
            mutate("hs256", &|k| k["alg"] = json!("HS256")),
            "`hs256`",
            "alg is not RS256",
        ),
        (
            mutate("no-e", &|k| {
                k.as_object_mut().unwrap().remove("e");
            }),
            "`no-e`",
            "no e",
        ),
        (
            mutate("even", &|k| {
                let mut n = URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).unwrap();
                *n.last_mut().unwrap() &= 0xfe;
                k["n"] = json!(URL_SAFE_NO_PAD.encode(n));
            }),
            "`even`",
            "modulus is even",
        ),
        (
            mutate("typed", &|k| k["e"] = json!(65537)),
            "`typed`",
            "a member is not a string",
        ),
        (
            mutate("", &|k| {
                k.as_object_mut().unwrap().remove("kid");
            }),
            "index 2",
            "no kid",
        ),
    ];
    for (bad, name, reason) in cases {
        let document = jwks(&[good[0].clone(), good[1].clone(), bad]);
        let err = Verifier::new(UserPool::new(pool.pool_id()).static_jwks(document)).unwrap_err();
        assert!(err.message().contains(name), "{name}: {err}");
        assert!(err.message().contains(reason), "{name}: {err}");
    }
    for (document, why) in [
        ("<html>".to_owned(), "not a JWKS document"),
        (r#"{"keys": {}}"#.to_owned(), "not a JWKS document"),
        (jwks(&[]), "has no keys"),
        (jwks(&[good[0].clone(), good[0].clone()]), "repeats a kid"),
    ] {
        let err = Verifier::new(UserPool::new(pool.pool_id()).static_jwks(document)).unwrap_err();
        assert!(err.message().contains(why), "{why}: {err}");
    }
    // Keys come from one place.
    let err = Verifier::new(pool.user_pool().static_jwks(pool.jwks_json())).unwrap_err();
    assert!(err.message().contains("only one of"), "{err}");
}

// ---------------------------------------------------------------------------
// A provider of the user's own
// ---------------------------------------------------------------------------

/// A provider that serves a document it is handed, counts its calls, and can be
/// told to fail, wait or panic.
#[derive(Clone, Default)]
struct Provided {
    inner: Arc<ProvidedState>,
}

#[derive(Default)]
struct ProvidedState {
    document: Mutex<Option<Vec<u8>>>,
    failure: Mutex<Option<String>>,
    delay: Mutex<Duration>,
    panics: AtomicBool,
    calls: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Provided {
    fn serving(document: impl Into<Vec<u8>>) -> Self {
        let provided = Self::default();
        provided.serve(document);
        provided
    }

    fn serve(&self, document: impl Into<Vec<u8>>) {
        *lock(&self.inner.document) = Some(document.into());
        *lock(&self.inner.failure) = None;
        self.inner.panics.store(false, Ordering::SeqCst);
    }

    fn fail(&self, why: &str) {
        *lock(&self.inner.failure) = Some(why.to_owned());
    }

    fn delay(&self, delay: Duration) {
        *lock(&self.inner.delay) = delay;
    }

    fn panic(&self) {
        self.inner.panics.store(true, Ordering::SeqCst);
    }

    fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }
}

impl JwksProvider for Provided {
    fn fetch(&self) -> JwksFuture<'_> {
        Box::pin(async move {
            self.inner.calls.fetch_add(1, Ordering::SeqCst);
            let delay = *lock(&self.inner.delay);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            assert!(
                !self.inner.panics.load(Ordering::SeqCst),
                "the test provider panics on purpose"
            );
            if let Some(why) = lock(&self.inner.failure).clone() {
                return Err(why.into());
            }
            Ok(lock(&self.inner.document).clone().unwrap_or_default())
        })
    }
}

/// A pool whose keys come from `provider`.
fn provided_pool(pool: &LocalUserPool, provider: &Provided) -> UserPool {
    UserPool::new(pool.pool_id()).jwks_provider(provider.clone())
}

/// A provider's keys verify over a real socket; an unknown `kid` and a bad
/// signature are refused; the keys are read once and kept; the pool's HTTP
/// endpoint is never asked.
#[tokio::test]
async fn provider_keys_verify_over_a_real_socket() {
    let pool = start().await;
    let provider = Provided::serving(pool.jwks_json());
    let verifier = Verifier::builder()
        .pool(provided_pool(&pool, &provider))
        .client_id(pool.client_id())
        .unknown_kid_cooldown(Duration::from_secs(60))
        .http_client(snitch_client(&pool))
        .build()
        .unwrap();
    assert!(!verifier.is_ready(), "nothing read yet");
    let server = app(verifier.clone()).await;
    for user in ["alice", "bob", "carol"] {
        let token = pool.id_token().sub(user).sign();
        assert_eq!(call(&server, &token).await, (200, user.to_owned()));
    }
    assert_eq!(provider.calls(), 1, "one read, then the cached set");
    assert!(verifier.is_ready());

    assert_eq!(call(&server, &forged_token(&pool)).await.0, 401);
    assert_eq!(
        outcome(&verifier, &forged_token(&pool)).await,
        Some(AuthErrorKind::BadSignature)
    );
    assert_eq!(call(&server, &random_kid_token(&pool)).await.0, 401);
    let err = verifier.verify(&random_kid_token(&pool)).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::UnknownKey, "{err}");
    assert!(
        err.detail().contains("JwksProvider of pool"),
        "{}",
        err.detail()
    );
    // Unknown kids within the cooldown (60 s) cost no further read.
    assert_eq!(provider.calls(), 1);
    assert_eq!(pool.server().requests(), 0, "no HTTP request at all");
}

/// Like the HTTP source: a hundred verifications of a cold set wait for one
/// read; a flood of unknown `kid`s within the cooldown reads nothing more; a
/// rotation is seen at the first read after one cooldown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_reads_are_single_flight_and_obey_the_cooldown() {
    let pool = start().await;
    let provider = Provided::serving(pool.jwks_json());
    provider.delay(Duration::from_millis(200));
    let cooldown = Duration::from_millis(500);
    let verifier = Verifier::builder()
        .pool(provided_pool(&pool, &provider))
        .unknown_kid_cooldown(cooldown)
        .token_cache_capacity(0)
        .build()
        .unwrap();
    let token = pool.id_token().sign();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let verifier = verifier.clone();
            let token = token.clone();
            tokio::spawn(async move { verifier.verify(&token).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(provider.calls(), 1, "single flight");

    provider.delay(Duration::ZERO);
    let started = Instant::now();
    let mut flood = 0;
    while started.elapsed() < cooldown / 2 {
        assert_eq!(
            outcome(&verifier, &random_kid_token(&pool)).await,
            Some(AuthErrorKind::UnknownKey)
        );
        flood += 1;
    }
    assert!(flood > 10, "{flood}");
    assert!(
        provider.calls() <= 2,
        "{} reads for {flood} unknown kids",
        provider.calls()
    );

    // A rotation: the new key is seen within one cooldown.
    pool.rotate_keys();
    provider.serve(pool.jwks_json());
    let rotated = pool.id_token().sign();
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    assert_eq!(outcome(&verifier, &rotated).await, None);
    assert!(provider.calls() <= 3, "{}", provider.calls());
}

/// A failing provider: with no set, requests are answered as key set
/// unavailable (API Gateway's 500), the error's text is in the detail, and
/// requests within the back-off cause no read; once it works again, the set
/// recovers (the background retry reads it) and tokens pass.
#[tokio::test]
async fn failing_provider_is_unavailable_then_recovers() {
    let pool = start().await;
    let provider = Provided::default();
    provider.fail("secrets store unreachable");
    let verifier = Verifier::builder()
        .pool(provided_pool(&pool, &provider))
        .unknown_kid_cooldown(Duration::from_secs(1))
        .build()
        .unwrap();
    let server = app(verifier.clone()).await;
    let token = pool.id_token().sub("dave").sign();
    let (status, body) = call(&server, &token).await;
    assert_eq!((status, body.as_str()), (500, r#"{"message":null}"#));
    let err = verifier.verify(&token).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable, "{err}");
    assert!(
        err.detail().contains("secrets store unreachable"),
        "{}",
        err.detail()
    );
    for _ in 0..20 {
        assert_eq!(call(&server, &token).await.0, 500);
    }
    assert!(verifier.prefetch().await.is_err());
    assert_eq!(provider.calls(), 1, "the back-off holds every retry back");
    assert_eq!(verifier.readiness().pools[0].failed_fetches, 1);

    provider.serve(pool.jwks_json());
    assert!(
        eventually(Duration::from_secs(10), || async {
            call(&server, &token).await.0 == 200
        })
        .await
    );
    assert_eq!(call(&server, &token).await, (200, "dave".to_owned()));
    assert!(
        (2..=3).contains(&provider.calls()),
        "{} reads",
        provider.calls()
    );
    assert!(verifier.is_ready());
    assert_eq!(verifier.readiness().pools[0].failed_fetches, 0);
}

/// Refresh and stale-if-error apply to a provider: a key it stops serving is
/// refused after the refresh interval; while it fails, the last good set keeps
/// serving until `max_stale`, then requests are answered as unavailable.
#[tokio::test]
async fn provider_sets_are_refreshed_and_served_stale_until_max_stale() {
    let pool = start().await;
    let provider = Provided::serving(pool.jwks_json());
    let verifier = Verifier::builder()
        .pool(provided_pool(&pool, &provider))
        .refresh_interval(Duration::from_millis(200))
        .unknown_kid_cooldown(Duration::from_millis(100))
        .max_stale(Duration::from_millis(1500))
        .build()
        .unwrap();
    let server = app(verifier.clone()).await;
    let token = pool.id_token().sign();
    assert_eq!(call(&server, &token).await.0, 200);

    // The refresh timer reads again without traffic.
    assert!(eventually(Duration::from_secs(5), || async { provider.calls() >= 3 }).await);

    // The endpoint fails: the last good set keeps serving.
    provider.fail("rotating credentials");
    let failing_since = Instant::now();
    let calls = provider.calls();
    assert!(
        eventually(Duration::from_secs(5), || async {
            verifier.readiness().pools[0].failed_fetches >= 1
        })
        .await
    );
    assert!(provider.calls() > calls);
    if failing_since.elapsed() < Duration::from_millis(1000) {
        assert_eq!(call(&server, &token).await.0, 200, "stale-if-error");
    }
    // Past max_stale without a good read: unavailable.
    assert!(
        eventually(Duration::from_secs(5), || async {
            call(&server, &token).await.0 == 500
        })
        .await
    );
    assert_eq!(
        outcome(&verifier, &token).await,
        Some(AuthErrorKind::KeySetUnavailable)
    );

    // Working again, without the ID key: the access key verifies, the ID key
    // no longer does.
    let id_kid = pool.signing_key(TokenUse::Id).kid().to_owned();
    pool.retire_key(&id_kid);
    provider.serve(pool.jwks_json());
    assert!(
        eventually(Duration::from_secs(5), || async {
            outcome(&verifier, &pool.access_token().sign())
                .await
                .is_none()
        })
        .await
    );
    assert_eq!(
        outcome(&verifier, &token).await,
        Some(AuthErrorKind::UnknownKey)
    );
    assert_eq!(call(&server, &token).await.0, 401);
}

/// Puts a provider in the state a case needs.
type Arrange = Box<dyn Fn(&Provided)>;

/// A provider that hangs past the fetch timeout, panics, serves more than the
/// size limit, serves something that is not a JWKS, or serves only keys that
/// break the rules: each is a failed read, reported as unavailable, and backs
/// off like a failed download.
#[tokio::test]
async fn provider_failures_are_bounded_like_failed_downloads() {
    let pool = start().await;
    let weak_only = vec![weak_jwk("weak")];
    let cases: Vec<(&str, Arrange)> = vec![
        (
            "timed out",
            Box::new(|p: &Provided| p.delay(Duration::from_secs(30))),
        ),
        ("panicked", Box::new(|p: &Provided| p.panic())),
        (
            "over the 512-byte limit",
            Box::new(|p: &Provided| p.serve(" ".repeat(600))),
        ),
        (
            "not a JWKS document",
            Box::new(|p: &Provided| p.serve("<html>")),
        ),
        (
            "no usable RS256 key",
            Box::new(move |p: &Provided| p.serve(jwks(&weak_only))),
        ),
    ];
    for (why, arrange) in cases {
        let provider = Provided::serving(pool.jwks_json());
        arrange(&provider);
        let verifier = Verifier::builder()
            .pool(provided_pool(&pool, &provider))
            .fetch_timeout(Duration::from_millis(300))
            .max_jwks_size(512)
            .unknown_kid_cooldown(Duration::from_secs(30))
            .build()
            .unwrap();
        let server = app(verifier.clone()).await;
        let started = Instant::now();
        let (status, _) = tokio::time::timeout(
            Duration::from_secs(10),
            call(&server, &pool.id_token().sign()),
        )
        .await
        .unwrap_or_else(|_| panic!("{why}: the request hung"));
        assert_eq!(status, 500, "{why}");
        assert!(started.elapsed() < Duration::from_secs(5), "{why}");
        let err = verifier.verify(&pool.id_token().sign()).await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable, "{why}");
        assert!(err.detail().contains(why), "{why}: {}", err.detail());
        for _ in 0..5 {
            assert_eq!(call(&server, &pool.id_token().sign()).await.0, 500);
        }
        assert_eq!(provider.calls(), 1, "{why}: the back-off holds");
    }
}

/// A provider's reads are counted in the metrics like downloads: `ok`, and
/// `error` for an `Err`.
#[test]
fn provider_reads_are_counted_by_outcome() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let pool_id = support::recorded(&recorder, async {
        let pool = start().await;
        let good = Provided::serving(pool.jwks_json());
        let verifier = Verifier::new(provided_pool(&pool, &good)).unwrap();
        verifier.verify(&pool.id_token().sign()).await.unwrap();

        let other = start().await;
        let failing = Provided::default();
        failing.fail("no such secret");
        let verifier = Verifier::new(provided_pool(&other, &failing)).unwrap();
        assert!(verifier.prefetch().await.is_err());
        (pool.pool_id().to_owned(), other.pool_id().to_owned())
    });
    let counts = Metrics::of(&recorder).counters_named("tower_cognito_jwks_fetches_total");
    let (good, failing) = pool_id;
    assert_eq!(
        counts.get(&format!("pool={good},outcome=ok")),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(
        counts.get(&format!("pool={failing},outcome=error")),
        Some(&1),
        "{counts:?}"
    );
}

// ---------------------------------------------------------------------------
// Multi-Region (replicated) pools
// ---------------------------------------------------------------------------

/// A TCP listener on loopback that counts connections and closes each at once:
/// it stands in for an AWS host, which a test must never reach.
async fn refuser() -> RawServer {
    RawServer::start(|stream| async move { drop(stream) }).await
}

/// Where a replicated pool's keys are fetched from, seen on real sockets: AWS's
/// host names are resolved to loopback listeners (the test never reaches AWS).
/// With `multi_region_issuer` the keys come from the updated issuer's host,
/// which AWS serves in several Regions ("IssuerConfigurationType"); without it,
/// from the original issuer's host, as before.
#[tokio::test]
async fn multi_region_issuer_fetches_keys_from_the_updated_issuer() {
    let pool_id = "us-east-1_AbCdEfGhI";
    for (replicated, host, path) in [
        (
            true,
            "issuer-cognito-idp.us-east-1.amazonaws.com",
            "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI/.well-known/jwks.json",
        ),
        (
            false,
            "cognito-idp.us-east-1.amazonaws.com",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI/.well-known/jwks.json",
        ),
    ] {
        let updated = refuser().await;
        let original = refuser().await;
        let client = support::client_builder()
            .resolve("issuer-cognito-idp.us-east-1.amazonaws.com", updated.addr)
            .resolve("cognito-idp.us-east-1.amazonaws.com", original.addr)
            .build()
            .unwrap();
        let mut user_pool = UserPool::new(pool_id);
        if replicated {
            user_pool = user_pool.multi_region_issuer();
        }
        let verifier = Verifier::builder()
            .pool(user_pool)
            .http_client(client)
            .fetch_timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let err = verifier.prefetch().await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::KeySetUnavailable, "{err}");
        assert!(err.detail().contains(path), "{host}: {}", err.detail());
        let (asked, spared) = if replicated {
            (&updated, &original)
        } else {
            (&original, &updated)
        };
        assert_eq!(asked.connections(), 1, "{host}");
        assert_eq!(spared.connections(), 0, "{host}");
    }
}

/// What a replicated pool accepts is what an unreplicated one accepts, on a
/// real socket: both issuer forms of the pool's own (primary) Region. AWS
/// documents that a replica is a pool with the same id whose tokens carry the
/// multi-Region issuer of the primary Region ("Multi-Region replication for
/// user pools", "IssuerConfigurationType"), and no issuer that names a
/// replica's Region: such a token is refused either way, before any fetch.
#[tokio::test]
async fn a_replica_region_issuer_is_refused_with_or_without_multi_region() {
    let pool = start().await;
    let id = pool.pool_id().to_owned();
    let plain = app(Verifier::new(pool.user_pool()).unwrap()).await;
    let replicated = app(Verifier::new(pool.user_pool().multi_region_issuer()).unwrap()).await;
    let cases = [
        (
            format!("https://cognito-idp.us-east-1.amazonaws.com/{id}"),
            200,
        ),
        (
            format!("https://issuer-cognito-idp.us-east-1.amazonaws.com/{id}"),
            200,
        ),
        (
            format!("https://cognito-idp.eu-west-1.amazonaws.com/{id}"),
            401,
        ),
        (
            format!("https://issuer-cognito-idp.eu-west-1.amazonaws.com/{id}"),
            401,
        ),
        (
            format!("https://issuer-cognito-idp.us-west-2.amazonaws.com/{id}"),
            401,
        ),
        (
            format!("https://issuer-cognito-idp.eu-west-1.amazonaws.com/{id}/"),
            401,
        ),
    ];
    for (issuer, expected) in &cases {
        let token = pool.id_token().issuer(issuer.clone()).sign();
        assert_eq!(
            call(&plain, &token).await.0,
            *expected,
            "unreplicated: {issuer}"
        );
        assert_eq!(
            call(&replicated, &token).await.0,
            *expected,
            "replicated: {issuer}"
        );
    }
    // One fetch per verifier, for the accepted tokens: the refused issuers were
    // refused before any key was looked for.
    assert_eq!(pool.server().requests(), 2);
    let verifier = Verifier::new(pool.user_pool().multi_region_issuer()).unwrap();
    let replica = pool
        .id_token()
        .issuer(format!(
            "https://issuer-cognito-idp.eu-west-1.amazonaws.com/{id}"
        ))
        .sign();
    assert_eq!(
        outcome(&verifier, &replica).await,
        Some(AuthErrorKind::WrongIssuer)
    );
    assert_eq!(pool.server().requests(), 2);
}
