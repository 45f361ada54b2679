//! The imported route table fails closed: every request is decided on the
//! definition's own templates, wherever the table sits (around the router,
//! inside it, before or after tower-http's `NormalizePathLayer`), and no
//! request the definition protects or does not list reaches a handler without
//! its token. Requests go over a real socket as raw HTTP/1.1, so that paths
//! reach the server exactly as written (an HTTP client would resolve `..`).

use axum::Router;
use axum::routing::{any, get};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::Layer;
use tower_cognito::openapi::{ApiDefinition, ImportErrorKind, ImportOptions, RouteTableLayer};
use tower_cognito::test_util::LocalUserPool;
use tower_http::normalize_path::NormalizePathLayer;

mod support;

const DEFINITION: &str = r#"
openapi: 3.0.1
security:
  - Pool: []
paths:
  /pets:
    get:
      security: [{ Pool: [] }]
  /pets/{petId}:
    get:
      security: [{ Pool: [] }]
  /admin:
    get:
      security: [{ Pool: [] }]
  /inherits:
    get: {}
  /public:
    get:
      security: []
  /files/{proxy+}:
    x-amazon-apigateway-any-method:
      security: []
  /iam:
    get:
      x-amazon-apigateway-auth: { type: AWS_IAM }
  /keyed:
    get:
      security: [{ Pool: [] }, { api_key: [] }]
  /sam-public:
    get:
      security: [{ NONE: [] }]
components:
  securitySchemes:
    Pool:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: cognito_user_pools
      x-amazon-apigateway-authorizer:
        type: cognito_user_pools
        providerARNs: ["${CognitoUserPool.Arn}"]
    api_key:
      type: apiKey
      name: x-api-key
      in: header
"#;

fn import(pool: &LocalUserPool) -> ApiDefinition {
    ImportOptions::default()
        .authorizer_pool("Pool", pool.user_pool())
        .public_path("/health")
        .refuse_unenforceable()
        .from_yaml(DEFINITION)
        .unwrap()
}

/// The app's routes. `/pets/{*rest}` is wider than the definition's
/// `/pets/{petId}`, and `/internal` is not in the definition at all.
fn router(runs: &Arc<AtomicUsize>) -> Router {
    let handler = {
        let runs = Arc::clone(runs);
        move || {
            let runs = Arc::clone(&runs);
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                "ran"
            }
        }
    };
    Router::new()
        .route("/pets", get(handler.clone()))
        .route("/pets/{*rest}", get(handler.clone()))
        .route("/admin", get(handler.clone()))
        .route("/inherits", get(handler.clone()))
        .route("/public", get(handler.clone()))
        .route("/files/{*rest}", any(handler.clone()))
        .route("/iam", get(handler.clone()))
        .route("/keyed", get(handler.clone()))
        .route("/sam-public", get(handler.clone()))
        .route("/internal", get(handler.clone()))
        .route("/health", get(handler))
}

/// The ways an app can stack the table, the router and a path normaliser.
fn arrangements(layer: &RouteTableLayer, runs: &Arc<AtomicUsize>) -> Vec<(&'static str, Router)> {
    let trim = NormalizePathLayer::trim_trailing_slash;
    vec![
        (
            "around the router",
            Router::new().fallback_service(layer.layer(router(runs))),
        ),
        ("inside the router", router(runs).layer(layer.clone())),
        (
            "after the normaliser",
            Router::new().fallback_service(trim().layer(layer.layer(router(runs)))),
        ),
        (
            "before the normaliser",
            Router::new().fallback_service(layer.layer(trim().layer(router(runs)))),
        ),
        (
            "inside the router, after the normaliser",
            Router::new().fallback_service(trim().layer(router(runs).layer(layer.clone()))),
        ),
    ]
}

const MISSING: &str = r#"{"message":"Missing Authentication Token"}"#;

/// Requests without a token: (method, path, status). Only a 200 may run a
/// handler.
const WITHOUT_TOKEN: &[(&str, &str, u16)] = &[
    ("GET", "/pets", 401),
    ("GET", "/pets/1", 401),
    // A router template wider than the definition's widens nothing.
    ("GET", "/pets/1/2", 403),
    // Doubled, leading and trailing slashes, dot segments, encodings.
    ("GET", "//pets", 401),
    ("GET", "/pets/", 401),
    ("GET", "/pets//", 401),
    ("GET", "/pets/1/", 401),
    ("GET", "/pets//1", 401),
    ("GET", "//pets//1//", 401),
    ("GET", "/pets/./1", 401),
    ("GET", "/p%65ts/1", 401),
    ("GET", "/pets%2F1", 401),
    ("GET", "/pets/1%2F", 401),
    ("GET", "/admin", 401),
    ("GET", "//admin/", 401),
    ("GET", "/admin%2F", 401),
    ("GET", "/public/../admin", 401),
    ("GET", "/public/./../admin/.", 401),
    // Under a public greedy path, a way out to a protected one is refused.
    ("GET", "/files/../admin", 403),
    ("GET", "/files/%2e%2e/admin", 403),
    ("GET", "/files/a/../../admin", 403),
    // HEAD is held to GET's requirement.
    ("HEAD", "/pets/1", 401),
    ("HEAD", "/admin/", 401),
    // Global security.
    ("GET", "/inherits", 401),
    ("GET", "//inherits", 401),
    // Not in the definition: unknown paths, methods and spellings.
    ("GET", "/internal", 403),
    ("GET", "//internal//", 403),
    ("POST", "/pets", 403),
    ("DELETE", "/pets/1", 403),
    ("GET", "/Pets", 403),
    ("GET", "/files", 403),
    ("GET", "/files/", 403),
    // IAM and API-key operations, imported as refused.
    ("GET", "/iam", 403),
    ("GET", "/keyed", 403),
    // Public, and run.
    ("GET", "/public", 200),
    ("HEAD", "/public", 200),
    ("GET", "/files/a/b", 200),
    ("PUT", "/files/a", 200),
    ("GET", "/sam-public", 200),
    ("GET", "/health", 200),
];

#[tokio::test]
async fn no_request_reaches_a_handler_it_may_not() {
    let pool = LocalUserPool::start().await.unwrap();
    let api = import(&pool);
    let layer = api.layer(api.verifier_builder().build().unwrap()).unwrap();
    let token = pool.id_token().sign();
    for arrangement in 0..5 {
        let runs = Arc::new(AtomicUsize::new(0));
        let (name, app) = arrangements(&layer, &runs).swap_remove(arrangement);
        let server = support::serve(app).await;
        for &(method, path, expected) in WITHOUT_TOKEN {
            let before = runs.load(Ordering::SeqCst);
            let (status, body) = server.raw(method, path, None).await;
            let ran = runs.load(Ordering::SeqCst) - before;
            let case = format!("{name}: {method} {path}");
            assert_eq!(status, expected, "{case}: {body}");
            assert_eq!(ran, usize::from(expected == 200), "{case}: handler runs");
            if expected == 403 && path != "/iam" && path != "/keyed" && method != "HEAD" {
                assert_eq!(body, MISSING, "{case}");
            }
        }
        // With a token: the protected operations run, the refused and unknown
        // ones still do not.
        for (method, path, expected) in [
            ("GET", "/pets", 200),
            ("GET", "/pets/1", 200),
            ("GET", "/admin", 200),
            ("GET", "/inherits", 200),
            ("HEAD", "/pets/1", 200),
            ("GET", "/iam", 403),
            ("GET", "/keyed", 403),
            ("GET", "/internal", 403),
            ("GET", "/pets/1/2", 403),
            ("GET", "/files/../admin", 403),
        ] {
            let before = runs.load(Ordering::SeqCst);
            let (status, body) = server.raw(method, path, Some(&token)).await;
            let ran = runs.load(Ordering::SeqCst) - before;
            let case = format!("{name}: {method} {path} with a token");
            assert_eq!(status, expected, "{case}: {body}");
            assert_eq!(ran, usize::from(expected == 200), "{case}: handler runs");
        }
        let refused = server.raw("GET", "/iam", Some(&token)).await.1;
        assert_eq!(refused, r#"{"message":"Forbidden"}"#, "{name}");
    }
}

#[test]
fn unenforceable_operations_are_import_errors_by_default() {
    let options = ImportOptions::default()
        .authorizer_pool("Pool", tower_cognito::UserPool::new("us-east-1_AbCdEfGhI"));
    let err = options.from_yaml(DEFINITION).unwrap_err();
    assert_eq!(err.kind(), ImportErrorKind::UnsupportedAuthorizer, "{err}");
    assert_eq!(err.operation(), Some("GET /iam"), "{err}");
    assert!(err.message().contains("AWS_IAM"), "{err}");

    let without_iam = DEFINITION.replace("x-amazon-apigateway-auth: { type: AWS_IAM }", "{}");
    let err = options.from_yaml(&without_iam).unwrap_err();
    assert_eq!(err.kind(), ImportErrorKind::ApiKeyRequired, "{err}");
    assert_eq!(err.operation(), Some("GET /keyed"), "{err}");
    assert!(
        err.message().contains("ignore_api_key(\"api_key\")"),
        "{err}"
    );
    // Opting in by name enforces the authorizer alone.
    let api = options
        .ignore_api_key("api_key")
        .from_yaml(&without_iam)
        .unwrap();
    let keyed = api.route(&http::Method::GET, "/keyed").unwrap();
    assert_eq!(keyed.authorizer(), Some("Pool"));
    assert!(!keyed.is_public() && !keyed.is_refused());
}

#[test]
fn a_public_head_beside_a_protected_get_is_an_import_error() {
    let text = r#"
openapi: 3.0.1
paths:
  /pets/{petId}:
    get:
      security: [{ Pool: [] }]
    head:
      security: []
components:
  securitySchemes:
    Pool:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authorizer:
        type: cognito_user_pools
        providerARNs: [arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEfGhI]
"#;
    let err = ApiDefinition::from_yaml(text).unwrap_err();
    assert_eq!(err.kind(), ImportErrorKind::Contradictory, "{err}");
    assert!(
        err.message().contains("HEAD /pets/{petId}") && err.message().contains("GET /pets/{petId}"),
        "{err}"
    );
    // Under ANY, too.
    let any = text.replace("    get:\n", "    x-amazon-apigateway-any-method:\n");
    let err = ApiDefinition::from_yaml(&any).unwrap_err();
    assert!(err.message().contains("ANY /pets/{petId}"), "{err}");
    // The same security is fine.
    let same = text.replace("security: []", "security: [{ Pool: [] }]");
    assert!(ApiDefinition::from_yaml(&same).is_ok());
}

#[test]
fn public_paths_cannot_take_over_the_definitions_own() {
    let pool = tower_cognito::UserPool::new("us-east-1_AbCdEfGhI");
    for path in ["/pets/{id}", "/pets/{*rest}"] {
        let options = ImportOptions::default()
            .authorizer_pool("Pool", pool.clone())
            .refuse_unenforceable()
            .public_path(path);
        let result = options.from_yaml(DEFINITION);
        if path == "/pets/{id}" {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ImportErrorKind::Contradictory, "{err}");
        } else {
            // A wider public template only takes what the definition does not list.
            let api = result.unwrap();
            assert!(
                !api.route(&http::Method::GET, "/pets/1")
                    .unwrap()
                    .is_public()
            );
            assert!(
                api.route(&http::Method::GET, "/pets/1/2")
                    .unwrap()
                    .is_public()
            );
        }
    }
    let err = ImportOptions::default()
        .authorizer_pool("Pol", pool)
        .from_yaml(DEFINITION)
        .unwrap_err();
    assert_eq!(err.kind(), ImportErrorKind::UnknownScheme, "{err}");
}

const SAM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sam.openapi3.yaml"
);

#[tokio::test]
async fn a_sam_definition_imports_and_is_served() {
    // The pool ARN is `Fn::GetAtt`: unusable until it is named.
    let err = ApiDefinition::from_path(SAM).unwrap_err();
    assert_eq!(err.kind(), ImportErrorKind::MalformedArn, "{err}");
    assert!(
        err.message()
            .contains("authorizer_pool(\"CognitoAuthorizer\""),
        "{err}"
    );

    let pool = LocalUserPool::start().await.unwrap();
    let options = ImportOptions::default().authorizer_pool("CognitoAuthorizer", pool.user_pool());
    // The API key beside the authorizer, then IAM, must be decided on.
    let err = options.from_path(SAM).unwrap_err();
    assert_eq!(
        (err.kind(), err.operation()),
        (
            ImportErrorKind::ApiKeyRequired,
            Some("DELETE /notes/{noteId}")
        ),
        "{err}"
    );
    let err = options
        .clone()
        .ignore_api_key("api_key")
        .from_path(SAM)
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.operation()),
        (
            ImportErrorKind::UnsupportedAuthorizer,
            Some("ANY /ops/{proxy+}")
        ),
        "{err}"
    );
    let api = options
        .ignore_api_key("api_key")
        .refuse_unenforceable()
        .from_path(SAM)
        .unwrap();
    let route = |m: http::Method, p: &str| api.route(&m, p).unwrap();
    // `securityDefinitions` in OpenAPI 3, inherited top-level security.
    assert_eq!(
        route(http::Method::GET, "/notes").authorizer(),
        Some("CognitoAuthorizer")
    );
    assert_eq!(
        route(http::Method::POST, "/notes").scopes(),
        ["notes/write"]
    );
    assert_eq!(
        route(http::Method::DELETE, "/notes/1").authorizer(),
        Some("CognitoAuthorizer")
    );
    // SAM's NONE marker, and x-amazon-apigateway-auth NONE.
    assert!(route(http::Method::GET, "/health").is_public());
    assert!(route(http::Method::GET, "/status").is_public());
    assert!(route(http::Method::PUT, "/ops/x").is_refused());

    let layer = api.layer(api.verifier_builder().build().unwrap()).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let handler = {
        let runs = Arc::clone(&runs);
        move || {
            let runs = Arc::clone(&runs);
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
            }
        }
    };
    let app = Router::new()
        .route("/notes", get(handler.clone()).post(handler.clone()))
        .route("/notes/{id}", get(handler.clone()).delete(handler.clone()))
        .route("/health", get(handler.clone()))
        .route("/ops/{*rest}", any(handler))
        .layer(layer);
    let server = support::serve(app).await;
    let id = pool.id_token().sign();
    let writer = pool.access_token().scopes(["notes/write"]).sign();
    for (method, path, token, status) in [
        ("GET", "/notes", None, 401),
        ("GET", "/notes", Some(&id), 200),
        ("POST", "/notes", Some(&id), 401),
        ("POST", "/notes", Some(&writer), 200),
        ("DELETE", "/notes/1", None, 401),
        ("DELETE", "/notes/1", Some(&id), 200),
        ("GET", "/health", None, 200),
        ("GET", "/ops/restart", Some(&id), 403),
        ("GET", "/elsewhere", Some(&id), 403),
    ] {
        let before = runs.load(Ordering::SeqCst);
        let answer = server.raw(method, path, token.map(String::as_str)).await;
        assert_eq!(answer.0, status, "{method} {path}: {}", answer.1);
        let ran = runs.load(Ordering::SeqCst) - before;
        assert_eq!(ran, usize::from(status == 200), "{method} {path}");
    }
}

#[tokio::test]
async fn a_definition_without_cognito_still_builds_its_layer() {
    let api = ApiDefinition::from_yaml(
        "openapi: 3.0.1\npaths:\n  /health:\n    get: {}\n  /version:\n    get:\n      security: []\n",
    )
    .unwrap();
    assert!(api.pools().is_empty());
    let layer = api.layer(api.verifier_builder().build().unwrap()).unwrap();
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/secret", get(|| async { "secret" }))
        .layer(layer);
    let server = support::serve(app).await;
    assert_eq!(server.raw("GET", "/health", None).await.0, 200);
    assert_eq!(server.raw("GET", "/secret", None).await.0, 403);
    // A verifier of its own still needs a pool.
    assert!(tower_cognito::Verifier::builder().build().is_err());
}

#[test]
fn a_cognito_scheme_without_its_authorizer_object_says_so() {
    let text = r#"
openapi: 3.0.1
paths:
  /pets:
    get:
      security: [{ Pool: [] }]
components:
  securitySchemes:
    Pool:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: cognito_user_pools
"#;
    let err = ApiDefinition::from_yaml(text).unwrap_err();
    assert_eq!(err.operation(), Some("GET /pets"), "{err}");
    assert!(
        err.message()
            .contains("has no x-amazon-apigateway-authorizer object"),
        "{err}"
    );
    // NONE beside the authorizer: the stricter reading, the authorizer applies.
    let both = text.replace(
        "      security: [{ Pool: [] }]",
        "      x-amazon-apigateway-auth: { type: NONE }\n      security: [{ Pool: [] }]",
    );
    let with_authorizer = both.replace(
        "      x-amazon-apigateway-authtype: cognito_user_pools\n",
        "      x-amazon-apigateway-authorizer:\n        type: cognito_user_pools\n        providerARNs: [arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEfGhI]\n",
    );
    let api = ApiDefinition::from_yaml(&with_authorizer).unwrap();
    assert!(!api.route(&http::Method::GET, "/pets").unwrap().is_public());
}
