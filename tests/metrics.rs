//! Metrics, read back through `metrics-util`'s debugging recorder after driving
//! requests through the layer and the route table: the counts match the
//! requests exactly, and no label carries a `sub`, a `kid` or a token.

use http::{Request, Response};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use std::collections::BTreeMap;
use std::convert::Infallible;
use tower::{Layer, ServiceExt, service_fn};
use tower_cognito::openapi::ApiDefinition;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{CognitoAuthLayer, Requirement};

type Counts = BTreeMap<String, u64>;

/// Counters as `name{label=value,...}` → count.
fn counters(recorder: &DebuggingRecorder) -> Counts {
    recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let DebugValue::Counter(count) = value else {
                return None;
            };
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            Some((format!("{}{{{}}}", key.name(), labels.join(",")), count))
        })
        .collect()
}

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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let counts = metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
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
                .from_yaml(
                    r#"
openapi: 3.0.1
paths:
  /pets/{petId}:
    get:
      security: [{ Pool: [] }]
components:
  securitySchemes:
    Pool:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authorizer:
        type: cognito_user_pools
        providerARNs: ["${Pool.Arn}"]
"#,
                )
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
        });
        counters(&recorder)
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
