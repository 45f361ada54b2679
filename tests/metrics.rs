//! Metrics, read back through `metrics-util`'s debugging recorder after driving
//! requests through the layer and the route table: the counts match the
//! requests exactly, and no label carries a `sub`, a `kid` or a token.

use http::{Request, Response};
use metrics_util::debugging::DebuggingRecorder;
use serde_json::json;
use std::collections::BTreeMap;
use std::convert::Infallible;
use tower::{Layer, ServiceExt, service_fn};
use tower_cognito::openapi::ApiDefinition;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{CognitoAuthLayer, Requirement};

mod support;
use support::Metrics;

type Counts = BTreeMap<String, u64>;

fn request(token: Option<&str>, path: &str) -> Request<String> {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(String::new()).unwrap()
}

#[test]
fn requests_and_cache_lookups_are_counted_exactly() {
    let recorder = DebuggingRecorder::new();
    let counts = support::recorded(&recorder, async {
        let pool = LocalUserPool::start().await.unwrap();
        let inner = service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        });
        let auth = CognitoAuthLayer::new(pool.verifier());
        let notes = auth
            .require(Requirement::any_scope(["notes/read"]))
            .unwrap()
            .name("notes")
            .layer(inner);
        let me = auth.clone().name("me").optional().layer(inner);
        let reader = pool
            .access_token()
            .sub("secret-sub")
            .scopes(["notes/read"])
            .sign();
        let writer = pool.access_token().scopes(["notes/write"]).sign();
        for token in [
            Some(&reader),
            Some(&reader),
            Some(&reader),
            Some(&writer),
            None,
        ] {
            notes
                .clone()
                .oneshot(request(token.map(String::as_str), "/"))
                .await
                .unwrap();
        }
        let id = pool.id_token().sign();
        for token in [Some(id.as_str()), Some(id.as_str()), None, Some("x.y.z")] {
            me.clone().oneshot(request(token, "/")).await.unwrap();
        }

        // The route table names its operations.
        let api = ApiDefinition::options()
            .authorizer_pool("Pool", pool.user_pool())
            .parse(&support::openapi3(
                json!({ "Pool": support::cognito_scheme(json!(["${Pool.Arn}"])) }),
                json!([{ "Pool": [] }]),
            ))
            .unwrap();
        let table = api
            .layer(api.verifier_builder().build().unwrap())
            .unwrap()
            .layer(inner);
        for (token, path) in [
            (Some(id.as_str()), "/pets/1"),
            (None, "/pets/1"),
            (None, "/cats"),
        ] {
            table.clone().oneshot(request(token, path)).await.unwrap();
        }
        Metrics::of(&recorder).counters()
    });
    let expected: Counts = [
        ("tower_cognito_requests_total{route=notes,outcome=admitted,kind=none}", 3),
        ("tower_cognito_requests_total{route=notes,outcome=refused,kind=insufficient_scope}", 1),
        ("tower_cognito_requests_total{route=notes,outcome=refused,kind=missing_token}", 1),
        ("tower_cognito_requests_total{route=me,outcome=admitted,kind=none}", 2),
        ("tower_cognito_requests_total{route=me,outcome=anonymous,kind=none}", 1),
        ("tower_cognito_requests_total{route=me,outcome=refused,kind=malformed_token}", 1),
        ("tower_cognito_requests_total{route=GET /pets/{petId},outcome=admitted,kind=none}", 1),
        ("tower_cognito_requests_total{route=GET /pets/{petId},outcome=refused,kind=missing_token}", 1),
        ("tower_cognito_requests_total{route=unknown,outcome=refused,kind=unknown_operation}", 1),
        // reader: miss then 2 hits; writer: miss; id: miss then hit; x.y.z: miss;
        // the table's id token: a hit (another verifier, though: its own cache).
        ("tower_cognito_token_cache_total{result=hit}", 3),
        ("tower_cognito_token_cache_total{result=miss}", 5),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let requests_and_cache: Counts = counts
        .iter()
        .filter(|(k, _)| {
            k.starts_with("tower_cognito_requests") || k.starts_with("tower_cognito_token_cache")
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(requests_and_cache, expected);
    for key in counts.keys() {
        assert!(!key.contains("secret-sub"), "{key}");
    }
}

#[test]
fn key_set_fetches_are_counted_by_outcome() {
    use std::time::Duration;
    use tower_cognito::test_util::JwksBehavior;
    let recorder = DebuggingRecorder::new();
    let (metrics, pool_id, kid) = support::recorded(&recorder, async {
        let pool = LocalUserPool::start().await.unwrap();
        let verifier = pool
            .verifier_builder()
            .unknown_kid_cooldown(Duration::from_secs(60))
            .build()
            .unwrap();
        // ok: one fetch, two keys.
        verifier.verify(&pool.id_token().sign()).await.unwrap();
        // Unknown kids within the cooldown: held back, twice, no fetch.
        let stranger = LocalUserPool::start().await.unwrap();
        let foreign = stranger.id_token().issuer(pool.issuer()).sign();
        for _ in 0..2 {
            let err = verifier.verify(&foreign).await.unwrap_err();
            assert_eq!(
                err.kind(),
                tower_cognito::AuthErrorKind::UnknownKey,
                "{err}"
            );
        }
        // A 503 endpoint, for a prefetch on a cold verifier.
        pool.server().set_behavior(JwksBehavior::Status(503));
        let cold = pool.verifier();
        assert!(cold.prefetch().await.is_err());
        let kid = stranger
            .signing_key(tower_cognito::TokenUse::Id)
            .kid()
            .to_owned();
        let metrics = Metrics::of(&recorder).values();
        (metrics, pool.user_pool().id().to_owned(), kid)
    });
    let get = |name: &str| metrics.get(&format!("{name}{{pool={pool_id}}}")).cloned();
    let fetches = |outcome: &str| {
        metrics
            .get(&format!(
                "tower_cognito_jwks_fetches_total{{pool={pool_id},outcome={outcome}}}"
            ))
            .cloned()
    };
    assert_eq!(fetches("ok").as_deref(), Some("1"), "{metrics:#?}");
    assert_eq!(fetches("http_5xx").as_deref(), Some("1"), "{metrics:#?}");
    assert_eq!(
        get("tower_cognito_unknown_kid_held_back_total").as_deref(),
        Some("2"),
        "{metrics:#?}"
    );
    assert_eq!(
        get("tower_cognito_jwks_fetch_duration_seconds").as_deref(),
        Some("2 samples")
    );
    assert_eq!(get("tower_cognito_jwks_keys").as_deref(), Some("2"));
    assert!(get("tower_cognito_jwks_age_seconds").is_some());
    for key in metrics.keys() {
        assert!(!key.contains(&kid), "{key}");
    }
}
