//! Revocation: a token revoked by `origin_jti`, `jti`, or `sub` and a time is
//! refused on the next request, although it sits in both verified-token caches
//! (this thread's slots and the shared one); a failing check fails closed unless
//! told otherwise; an asynchronous store is awaited.

use axum::Router;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{
    AuthErrorKind, Claims, CognitoAuthLayer, Revocation, RevocationList, Revoked, Verifier,
};

mod support;

fn app(verifier: Verifier, runs: &Arc<AtomicUsize>) -> Router {
    let runs = Arc::clone(runs);
    Router::new()
        .route(
            "/me",
            get(move |claims: Claims| {
                runs.fetch_add(1, Ordering::SeqCst);
                async move { claims.sub().to_owned() }
            }),
        )
        .route_layer(CognitoAuthLayer::new(verifier))
}

async fn get_me(server: &support::Server, token: &str) -> (u16, String) {
    server.bearer("/me", token).await.status_and_body()
}

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn revoked_tokens_are_refused_even_from_the_caches() {
    let pool = LocalUserPool::start().await.unwrap();
    let list = Arc::new(RevocationList::new());
    let verifier = pool
        .verifier_builder()
        .revocation(list.clone())
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let server = support::serve(app(verifier.clone(), &runs)).await;

    let by_origin = pool
        .id_token()
        .sub("ana")
        .claim("origin_jti", "refresh-1")
        .sign();
    let sibling = pool
        .id_token()
        .sub("ana")
        .claim("origin_jti", "refresh-1")
        .sign();
    let by_jti = pool.id_token().sub("bo").claim("jti", "jti-2").sign();
    let old = pool.id_token().sub("carla").claim("iat", now() - 60).sign();
    let others = pool.id_token().sub("dan").sign();
    let all = [&by_origin, &sibling, &by_jti, &old, &others];
    // Twice each, so that every token is in the shared cache and this
    // process's per-thread slots.
    for token in all.iter().chain(all.iter()) {
        assert_eq!(get_me(&server, token).await.0, 200);
        verifier.verify(token).await.unwrap();
    }
    assert_eq!(runs.load(Ordering::SeqCst), 10);

    list.revoke_origin_jti("refresh-1");
    list.revoke_jti("jti-2", now() + 3600);
    list.revoke_sub("carla", SystemTime::now());
    for token in [&by_origin, &sibling, &by_jti, &old] {
        assert_eq!(get_me(&server, token).await, (401, UNAUTHORIZED.to_owned()));
        let err = verifier.verify(token).await.unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::Revoked);
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        10,
        "no revoked token reached the handler"
    );
    assert_eq!(get_me(&server, &others).await, (200, "dan".to_owned()));
    // Signed in again after the sign-out: a token issued later passes.
    let fresh = pool.id_token().sub("carla").claim("iat", now() + 2).sign();
    assert_eq!(get_me(&server, &fresh).await, (200, "carla".to_owned()));
    // revoke_token takes a token's jti and origin_jti.
    let claims = verifier.verify(&others).await.unwrap();
    list.revoke_token(&claims);
    assert_eq!(get_me(&server, &others).await.0, 401);
}

/// A store that answers later, and can be made to fail: a client of a shared
/// store holds its connection behind an `Arc`, as this does its state.
#[derive(Clone, Default)]
struct Store(Arc<State>);

#[derive(Default)]
struct State {
    down: AtomicBool,
    asked: AtomicUsize,
    revoked: std::sync::Mutex<Vec<String>>,
}

impl std::ops::Deref for Store {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl Revocation for Store {
    fn is_revoked(&self, claims: &Claims) -> Revoked {
        let store = self.clone();
        let sub = claims.sub().to_owned();
        Revoked::Later(Box::pin(async move {
            store.asked.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            if store.down.load(Ordering::SeqCst) {
                return Err("the store is unreachable".into());
            }
            Ok(store.revoked.lock().unwrap().contains(&sub))
        }))
    }
}

#[tokio::test]
async fn a_shared_store_is_awaited_and_fails_closed() {
    let pool = LocalUserPool::start().await.unwrap();
    let store = Store::default();
    let verifier = pool
        .verifier_builder()
        .revocation(store.clone())
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let server = support::serve(app(verifier, &runs)).await;
    let token = pool.id_token().sub("eve").sign();
    for _ in 0..3 {
        assert_eq!(get_me(&server, &token).await, (200, "eve".to_owned()));
    }
    assert_eq!(
        store.asked.load(Ordering::SeqCst),
        3,
        "asked on every request"
    );
    store.revoked.lock().unwrap().push("eve".to_owned());
    assert_eq!(get_me(&server, &token).await.0, 401);
    store.revoked.lock().unwrap().clear();
    store.down.store(true, Ordering::SeqCst);
    let (status, body) = get_me(&server, &token).await;
    assert_eq!((status, body.as_str()), (500, r#"{"message":null}"#));
    assert_eq!(runs.load(Ordering::SeqCst), 3);

    // Failing open, by choice.
    let open = pool
        .verifier_builder()
        .revocation(store.clone())
        .revocation_fail_open()
        .build()
        .unwrap();
    let server = support::serve(app(open, &runs)).await;
    assert_eq!(get_me(&server, &token).await, (200, "eve".to_owned()));
}
