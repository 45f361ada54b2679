//! OpenAPI import: a realistic API Gateway export of a pets API, in OpenAPI 3.0
//! JSON, Swagger 2.0 YAML and OpenAPI 3.0 YAML (with inherited top-level
//! security), gives over a real socket the same answers as the hand-written
//! route configuration of the same API; and every unsupported or contradictory
//! definition is an error naming the operation.

#[allow(dead_code)]
#[path = "../examples/openapi.rs"]
mod example;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{any, get};
use http::{HeaderName, Method, Request, StatusCode, Uri};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use tower::{Layer, ServiceExt, service_fn};
use tower_cognito::openapi::{ApiDefinition, ImportError, ImportErrorKind};
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{Claims, CognitoAuthLayer, Requirement, Responses, Verifier};

const FIXTURES: [&str; 3] = [
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pets.openapi3.json"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pets.swagger2.yaml"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pets.openapi3.yaml"
    ),
];
const PETS_POOL: &str = "us-east-1_PetsPool1";
const ADMIN_POOL: &str = "us-east-1_AdminPool";

mod support;
use support::{Server, cognito_scheme, openapi3, send, serve};

/// Every handler: which request it served and for whom.
async fn echo(method: Method, uri: Uri, claims: Option<Claims>) -> String {
    let who = claims.as_ref().map_or("-", Claims::sub);
    format!("{method} {} {who}", uri.path())
}

/// The pets API's routes, without any authorization.
fn plain_router() -> Router {
    Router::new()
        .route("/health", get(echo))
        .route("/pets", get(echo).post(echo).options(echo))
        .route("/pets/search", get(echo))
        .route("/pets/{petId}", get(echo).delete(echo))
        .route("/pets/{petId}/photos", get(echo))
        .route("/me", get(echo))
        .route("/admin/stats", get(echo))
        .route("/files/{*proxy}", any(echo))
}

/// The same API configured by hand, as the definition files describe it: one
/// verifier per user pool (no app client check, as API Gateway), a layer per
/// operation.
fn hand_written(pets: &LocalUserPool, admin: &LocalUserPool) -> Router {
    let verifier =
        |pool: &LocalUserPool| Verifier::builder().pool(pool.user_pool()).build().unwrap();
    let id_token = CognitoAuthLayer::new(verifier(pets));
    let scopes = |s: &[&str]| {
        id_token
            .require(Requirement::any_scope(s.iter().copied()))
            .unwrap()
    };
    let web_app = id_token
        .require(Requirement::new().aud_matches("[a-z0-9]{26}"))
        .unwrap();
    let admin_id_token =
        CognitoAuthLayer::new(verifier(admin)).header(HeaderName::from_static("x-admin-token"));
    Router::new()
        .route("/health", get(echo))
        .route(
            "/pets",
            get(echo.layer(scopes(&["pets/read", "pets/admin"])))
                .post(echo.layer(scopes(&["pets/write"])))
                .options(echo),
        )
        .route("/pets/search", get(echo))
        .route(
            "/pets/{petId}",
            get(echo.layer(id_token.clone())).delete(echo.layer(scopes(&["pets/admin"]))),
        )
        .route("/pets/{petId}/photos", get(echo.layer(id_token.clone())))
        .route("/me", get(echo.layer(web_app)))
        .route("/admin/stats", get(echo.layer(admin_id_token)))
        .route("/files/{*proxy}", any(echo.layer(id_token)))
}

fn load(path: &str, pets: &LocalUserPool, admin: &LocalUserPool) -> ApiDefinition {
    ApiDefinition::from_path(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .map_pools(|pool| match pool.id() {
            PETS_POOL => pets.user_pool(),
            ADMIN_POOL => admin.user_pool(),
            other => panic!("unexpected pool {other}"),
        })
}

/// Status, content type, `x-amzn-ErrorType`, `WWW-Authenticate` and body.
type Answer = (u16, Option<String>, Option<String>, Option<String>, String);

async fn ask(server: &Server, method: &Method, path: &str, header: Option<(&str, &str)>) -> Answer {
    let mut request = server.request(method.clone(), path);
    if let Some((name, token)) = header {
        request = request.header(name, format!("Bearer {token}"));
    }
    let answer = send(request).await;
    (
        answer.status,
        answer.header("content-type"),
        answer.header("x-amzn-errortype"),
        answer.header("www-authenticate"),
        answer.body,
    )
}

const AUTH: &str = "authorization";
const ADMIN: &str = "x-admin-token";

/// (method, path, token header, token name, expected status)
const REQUESTS: &[(&str, &str, &str, &str, u16)] = &[
    // Public operations take any request, and ignore a bad token.
    ("GET", "/health", AUTH, "", 200),
    ("GET", "/health", AUTH, "garbage", 200),
    ("OPTIONS", "/pets", AUTH, "", 200),
    ("GET", "/pets/search", AUTH, "", 200),
    ("GET", "/pets/search", AUTH, "expired", 200),
    // Scopes: an access token with any one of them.
    ("GET", "/pets", AUTH, "", 401),
    ("GET", "/pets", AUTH, "id", 401),
    ("GET", "/pets", AUTH, "read", 200),
    ("GET", "/pets", AUTH, "admin-scope", 200),
    ("GET", "/pets", AUTH, "write", 401),
    ("GET", "/pets", AUTH, "no-scope", 401),
    ("GET", "/pets", AUTH, "admin-pool-access", 401),
    ("GET", "/pets", AUTH, "stranger-access", 401),
    ("GET", "/pets", AUTH, "expired-access", 401),
    ("POST", "/pets", AUTH, "write", 200),
    ("POST", "/pets", AUTH, "read", 401),
    ("POST", "/pets", AUTH, "id", 401),
    ("DELETE", "/pets/42", AUTH, "admin-scope", 200),
    ("DELETE", "/pets/42", AUTH, "read", 401),
    ("DELETE", "/pets/42", AUTH, "id", 401),
    // No scopes: an ID token of the authorizer's pool.
    ("GET", "/pets/42", AUTH, "", 401),
    ("GET", "/pets/42", AUTH, "id", 200),
    ("GET", "/pets/42", AUTH, "id-other-client", 200),
    ("GET", "/pets/42", AUTH, "read", 401),
    ("GET", "/pets/42", AUTH, "admin-pool-id", 401),
    ("GET", "/pets/42", AUTH, "stranger-id", 401),
    ("GET", "/pets/42", AUTH, "expired", 401),
    ("GET", "/pets/42", AUTH, "garbage", 401),
    ("HEAD", "/pets/42", AUTH, "", 401),
    ("HEAD", "/pets/42", AUTH, "id", 200),
    ("GET", "/pets/42/photos", AUTH, "id", 200),
    ("GET", "/pets/42/photos", AUTH, "", 401),
    ("GET", "/pets/42/photos", AUTH, "admin-pool-id", 401),
    // The token validation expression on aud.
    ("GET", "/me", AUTH, "id", 200),
    ("GET", "/me", AUTH, "id-other-client", 401),
    ("GET", "/me", AUTH, "read", 401),
    // Another authorizer: another pool, another header.
    ("GET", "/admin/stats", ADMIN, "admin-pool-id", 200),
    ("GET", "/admin/stats", ADMIN, "id", 401),
    ("GET", "/admin/stats", ADMIN, "admin-pool-access", 401),
    ("GET", "/admin/stats", ADMIN, "", 401),
    ("GET", "/admin/stats", AUTH, "admin-pool-id", 401),
    // ANY on a greedy path.
    ("GET", "/files/a/b.txt", AUTH, "id", 200),
    ("PUT", "/files/report.pdf", AUTH, "id", 200),
    ("DELETE", "/files/x", AUTH, "", 401),
    ("PATCH", "/files/x", AUTH, "read", 401),
];

/// Not in the API: the hand-written router answers 404 or 405, the imported
/// definition what API Gateway answers, and the handler never runs.
const UNLISTED: &[(&str, &str, &str, &str)] = &[
    ("GET", "/files", AUTH, "id"),
    ("GET", "/nothing", AUTH, ""),
    ("PUT", "/health", AUTH, ""),
    ("PUT", "/pets/42", AUTH, "id"),
    ("GET", "/pets/1/photos/x", AUTH, "id"),
];

fn tokens(
    pets: &LocalUserPool,
    admin: &LocalUserPool,
    stranger: &LocalUserPool,
) -> HashMap<&'static str, String> {
    let all = ["pets/read", "pets/write", "pets/admin"];
    HashMap::from([
        ("garbage", "not-a-token".to_owned()),
        ("id", pets.id_token().sub("pets-user").sign()),
        (
            "id-other-client",
            pets.id_token()
                .sub("pets-user")
                .client_id("Other-Client")
                .sign(),
        ),
        ("expired", pets.id_token().expired().sign()),
        ("read", pets.access_token().scopes(["pets/read"]).sign()),
        (
            "write",
            pets.access_token().scopes(["openid", "pets/write"]).sign(),
        ),
        (
            "admin-scope",
            pets.access_token().scopes(["pets/admin"]).sign(),
        ),
        ("no-scope", pets.access_token().sign()),
        (
            "expired-access",
            pets.access_token().scopes(all).expired().sign(),
        ),
        ("admin-pool-id", admin.id_token().sub("admin-user").sign()),
        ("admin-pool-access", admin.access_token().scopes(all).sign()),
        ("stranger-id", stranger.id_token().sign()),
        (
            "stranger-access",
            stranger.access_token().scopes(all).sign(),
        ),
    ])
}

#[tokio::test]
async fn imported_definitions_answer_like_the_hand_written_configuration() {
    let pets = LocalUserPool::start().await.unwrap();
    let admin = LocalUserPool::start().await.unwrap();
    let stranger = LocalUserPool::start().await.unwrap();
    let tokens = tokens(&pets, &admin, &stranger);

    let reference = serve(hand_written(&pets, &admin)).await;
    let mut apps = Vec::new();
    for path in FIXTURES {
        let api = load(path, &pets, &admin);
        let verifier = api.verifier_builder().build().unwrap();
        let layer = api.layer(verifier).unwrap();
        // (a) inside an axum router.
        apps.push((
            format!("{path} in a router"),
            serve(plain_router().layer(layer.clone())).await,
        ));
        // (b) around a service that knows nothing of the definition.
        let service = layer.layer(plain_router());
        apps.push((
            format!("{path} around a service"),
            serve(Router::new().fallback_service(service)).await,
        ));
    }

    for &(method, path, header, token, status) in REQUESTS {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let header = (!token.is_empty()).then(|| (header, tokens[token].as_str()));
        let expected = ask(&reference, &method, path, header).await;
        let case = format!(
            "{method} {path} with token {token:?} in {:?}",
            header.map(|h| h.0)
        );
        assert_eq!(
            expected.0, status,
            "hand-written configuration, {case}: {expected:?}"
        );
        if status == 200 && method != Method::HEAD {
            assert!(
                expected.4.starts_with(&format!("{method} {path} ")),
                "{case}: {expected:?}"
            );
        }
        for (name, app) in &apps {
            let answer = ask(app, &method, path, header).await;
            assert_eq!(answer, expected, "{name}, {case}");
        }
    }
    for &(method, path, header, token) in UNLISTED {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let header = (!token.is_empty()).then(|| (header, tokens[token].as_str()));
        let by_hand = ask(&reference, &method, path, header).await.0;
        assert!([404, 405].contains(&by_hand), "{method} {path}: {by_hand}");
        for (name, app) in &apps {
            assert_eq!(
                ask(app, &method, path, header).await,
                (
                    403,
                    Some("application/json".to_owned()),
                    Some("MissingAuthenticationTokenException".to_owned()),
                    None,
                    r#"{"message":"Missing Authentication Token"}"#.to_owned()
                ),
                "{name}, {method} {path}"
            );
        }
    }
    // The unlisted pool's keys were never fetched.
    assert_eq!(stranger.server().requests(), 0);
}

#[tokio::test]
async fn expired_and_unauthorized_bodies_are_api_gateways() {
    let pets = LocalUserPool::start().await.unwrap();
    let admin = LocalUserPool::start().await.unwrap();
    let api = load(FIXTURES[1], &pets, &admin);
    let server =
        serve(plain_router().layer(api.layer(api.verifier_builder().build().unwrap()).unwrap()))
            .await;
    let expired = pets.id_token().expired().sign();
    let answer = ask(&server, &Method::GET, "/pets/1", Some((AUTH, &expired))).await;
    let json = Some("application/json".to_owned());
    let unauthorized = Some("UnauthorizedException".to_owned());
    assert_eq!(
        answer,
        (
            401,
            json.clone(),
            unauthorized.clone(),
            None,
            r#"{"message":"The incoming token has expired"}"#.to_owned()
        )
    );
    let answer = ask(&server, &Method::GET, "/pets/1", None).await;
    assert_eq!(
        answer,
        (
            401,
            json,
            unauthorized,
            None,
            r#"{"message":"Unauthorized"}"#.to_owned()
        )
    );
}

/// What a route is, in words, to compare imports.
fn describe(api: &ApiDefinition) -> Vec<String> {
    let mut routes: Vec<String> = api
        .routes()
        .iter()
        .map(|r| {
            format!(
                "{r} authorizer={:?} header={:?} scopes={:?} public={} requirement={:?}",
                r.authorizer(),
                r.header(),
                r.scopes(),
                r.is_public(),
                r.requirement()
            )
        })
        .collect();
    routes.sort();
    routes
}

#[test]
fn all_formats_import_to_the_same_routes_and_pools() {
    let apis: Vec<ApiDefinition> = FIXTURES
        .iter()
        .map(|p| ApiDefinition::from_path(p).unwrap())
        .collect();
    let first = describe(&apis[0]);
    assert_eq!(first.len(), 11, "{first:#?}");
    for (path, api) in FIXTURES.iter().zip(&apis) {
        assert_eq!(describe(api), first, "{path}");
        let mut pools: Vec<&str> = api.pools().iter().map(|p| p.id()).collect();
        pools.sort_unstable();
        assert_eq!(pools, [ADMIN_POOL, PETS_POOL], "{path}");
    }
    // Spot checks of what was read.
    let api = &apis[0];
    let route = |m: Method, p: &str| api.route(&m, p).unwrap_or_else(|| panic!("{m} {p}"));
    let get = route(Method::GET, "/pets/7");
    assert_eq!(
        (get.to_string().as_str(), get.scopes()),
        ("GET /pets/{petId}", &[][..])
    );
    assert_eq!(get.authorizer(), Some("PetsPool"));
    assert_eq!(
        route(Method::GET, "/pets").scopes(),
        ["pets/read", "pets/admin"]
    );
    assert!(route(Method::GET, "/pets/search").is_public());
    assert!(route(Method::OPTIONS, "/pets").is_public());
    let stats = route(Method::GET, "/admin/stats");
    assert_eq!(
        stats.header().map(HeaderName::as_str),
        Some("x-admin-token")
    );
    let me = route(Method::GET, "/me");
    assert_eq!(
        me.requirement().unwrap().aud_pattern(),
        Some("[a-z0-9]{26}")
    );
    let files = route(Method::POST, "/files/a/b");
    assert_eq!(
        (files.to_string().as_str(), files.method()),
        ("ANY /files/{proxy+}", None)
    );
    assert!(api.route(&Method::GET, "/files").is_none());
    assert!(api.route(&Method::PUT, "/pets/7").is_none());
    // HEAD takes GET's operation.
    assert_eq!(
        route(Method::HEAD, "/pets/7").to_string(),
        "GET /pets/{petId}"
    );
}

#[tokio::test]
async fn a_plain_tower_service_is_matched_by_path() {
    let pets = LocalUserPool::start().await.unwrap();
    let admin = LocalUserPool::start().await.unwrap();
    let api = load(FIXTURES[0], &pets, &admin);
    let service = api
        .layer(api.verifier_builder().build().unwrap())
        .unwrap()
        .layer(service_fn(|request: Request<String>| async move {
            let who = request
                .extensions()
                .get::<Claims>()
                .map(|c| c.sub().to_owned());
            Ok::<_, Infallible>(http::Response::new(who.unwrap_or_default()))
        }));
    let call = |method: Method, path: &str, token: Option<&str>| {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        let service = service.clone();
        let request = request.body(String::new()).unwrap();
        async move {
            let response = service.oneshot(request).await.unwrap();
            let status = response.status();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let id = pets.id_token().sub("u-1").sign();
    // A literal segment wins over a parameter.
    assert_eq!(
        call(Method::GET, "/pets/search", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(Method::GET, "/pets/searching", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(Method::GET, "/pets/searching", Some(&id)).await,
        (StatusCode::OK, "u-1".to_owned())
    );
    // {proxy+} takes the rest, at any depth, for any method.
    assert_eq!(
        call(Method::POST, "/files/a/b/c", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(Method::POST, "/files/a/b/c", Some(&id)).await.0,
        StatusCode::OK
    );
    // HEAD is GET's.
    assert_eq!(
        call(Method::HEAD, "/pets/1", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Unlisted methods and paths are refused as API Gateway refuses them.
    let missing = (
        StatusCode::FORBIDDEN,
        r#"{"message":"Missing Authentication Token"}"#.to_owned(),
    );
    assert_eq!(call(Method::PUT, "/pets/1", None).await, missing);
    assert_eq!(call(Method::GET, "/pets/1/photos/x", None).await, missing);
    assert_eq!(call(Method::GET, "/elsewhere", Some(&id)).await, missing);
    // A trailing slash is the operation's, so that a path-normalizing layer
    // inside this one cannot reach the handler without a token.
    assert_eq!(
        call(Method::GET, "/pets/1/", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A public operation does not verify the token or hand on claims.
    assert_eq!(
        call(Method::GET, "/health", Some(&id)).await,
        (StatusCode::OK, String::new())
    );
}

#[tokio::test]
async fn inside_a_nested_router_the_stripped_paths_are_matched() {
    let pets = LocalUserPool::start().await.unwrap();
    let admin = LocalUserPool::start().await.unwrap();
    let api = load(FIXTURES[2], &pets, &admin);
    let layer = api.layer(api.verifier_builder().build().unwrap()).unwrap();
    let app = Router::new().nest("/v1", plain_router().layer(layer));
    let server = serve(app).await;
    let id = pets.id_token().sign();
    assert_eq!(ask(&server, &Method::GET, "/v1/pets/1", None).await.0, 401);
    assert_eq!(
        ask(&server, &Method::GET, "/v1/pets/1", Some((AUTH, &id)))
            .await
            .0,
        200
    );
    assert_eq!(ask(&server, &Method::GET, "/v1/health", None).await.0, 200);
}

#[tokio::test]
async fn responses_can_be_rfc6750s() {
    let pets = LocalUserPool::start().await.unwrap();
    let admin = LocalUserPool::start().await.unwrap();
    let api = load(FIXTURES[0], &pets, &admin);
    let layer = api
        .layer(api.verifier_builder().build().unwrap())
        .unwrap()
        .responses(Responses::rfc6750("pets"));
    let server = serve(plain_router().layer(layer)).await;
    let write = pets.access_token().scopes(["pets/write"]).sign();
    let (status, _, _, challenge, _) =
        ask(&server, &Method::GET, "/pets", Some((AUTH, &write))).await;
    assert_eq!(status, 403);
    let challenge = challenge.unwrap();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"scope="pets/read pets/admin""#),
        "{challenge}"
    );
    let (status, ..) = ask(&server, &Method::GET, "/pets/1", None).await;
    assert_eq!(status, 401);
}

#[test]
fn the_verifier_must_trust_every_pool_of_the_definition() {
    let api = ApiDefinition::from_path(FIXTURES[0]).unwrap();
    let only_pets = Verifier::builder()
        .pool(tower_cognito::UserPool::new(PETS_POOL))
        .build()
        .unwrap();
    let err = api.layer(only_pets).unwrap_err();
    assert!(err.message().contains(ADMIN_POOL), "{err}");
    assert!(api.layer(api.verifier_builder().build().unwrap()).is_ok());
}

#[test]
fn map_pools_moves_the_routes_to_the_new_pool() {
    let api = ApiDefinition::from_path(FIXTURES[0])
        .unwrap()
        .map_pools(|pool| match pool.id() {
            PETS_POOL => tower_cognito::UserPool::new("eu-west-1_NewPets1"),
            _ => pool,
        });
    let ids: Vec<&str> = api.pools().iter().map(|p| p.id()).collect();
    assert!(
        ids.contains(&"eu-west-1_NewPets1") && !ids.contains(&PETS_POOL),
        "{ids:?}"
    );
    let requirement = api
        .route(&Method::GET, "/pets/1")
        .unwrap()
        .requirement()
        .unwrap();
    assert!(
        format!("{requirement:?}").contains(r#"pool_ids: ["eu-west-1_NewPets1"]"#),
        "{requirement:?}"
    );
}

/// The example's own code: each definition served with local pools, and every
/// `curl` command it prints replayed: each succeeds, the last (no token) is 401.
#[tokio::test]
async fn the_example_serves_each_definition_and_its_commands_work() {
    for path in FIXTURES {
        let api = ApiDefinition::from_path(path).unwrap();
        let (api, pools) = example::with_local_pools(api).await.unwrap();
        assert_eq!(pools.len(), 2, "{path}");
        let server = serve(example::app(&api).unwrap()).await;
        let text = example::commands(&api, &pools, &server.base);

        let mut statuses = Vec::new();
        for (line, answer) in server.replay_curl(&text).await {
            let body = answer.json();
            if answer.status == 200 {
                assert!(body["operation"].is_string(), "{path}: {line}: {body}");
            }
            statuses.push((line, answer.status));
        }
        let (last, others) = statuses.split_last().unwrap();
        assert_eq!(
            others.len(),
            11,
            "{path}: one command per operation\n{text}"
        );
        for (line, status) in others {
            assert_eq!(*status, 200, "{path}: {line}");
        }
        assert_eq!(last.1, 401, "{path}: {}", last.0);

        // What API Gateway answers for a path it does not have.
        let answer = server.get("/nowhere").await;
        assert_eq!(answer.status, 403);
        assert_eq!(answer.body, r#"{"message":"Missing Authentication Token"}"#);
    }
}

// ---- errors ----

fn good_pool() -> Value {
    cognito_scheme(json!([
        "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEfGhI"
    ]))
}

fn lambda() -> Value {
    json!({
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "custom",
        "x-amazon-apigateway-authorizer": {
            "type": "token",
            "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations",
            "authorizerResultTtlInSeconds": 300
        }
    })
}

fn error_of(text: &str) -> ImportError {
    match ApiDefinition::parse(text) {
        Ok(api) => panic!("imported: {api:?}"),
        Err(err) => err,
    }
}

/// Checks the kind, that the error names `GET /pets/{petId}`, and the message.
fn assert_operation_error(text: &str, kind: ImportErrorKind, words: &str) {
    let err = error_of(text);
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(err.operation(), Some("GET /pets/{petId}"), "{err}");
    let shown = err.to_string();
    assert!(shown.starts_with("GET /pets/{petId}: "), "{shown}");
    assert!(shown.contains(words), "{shown:?} should say {words:?}");
}

#[test]
fn an_authorizer_other_than_cognito_is_refused() {
    let schemes = json!({ "Pool": good_pool(), "Lambda": lambda() });
    assert_operation_error(
        &openapi3(schemes.clone(), json!([{ "Lambda": [] }])),
        ImportErrorKind::UnsupportedAuthorizer,
        "`Lambda`, which is a `token` authorizer",
    );
    let iam = json!({ "type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4" });
    assert_operation_error(
        &openapi3(json!({ "sigv4": iam }), json!([{ "sigv4": [] }])),
        ImportErrorKind::UnsupportedAuthorizer,
        "IAM authorization (awsSigv4)",
    );
    let api_key = json!({ "type": "apiKey", "name": "x-api-key", "in": "header" });
    assert_operation_error(
        &openapi3(json!({ "api_key": api_key }), json!([{ "api_key": [] }])),
        ImportErrorKind::ApiKeyRequired,
        "the API key `api_key`",
    );
    // Defined but unused: fine.
    let api = ApiDefinition::parse(&openapi3(schemes, json!([{ "Pool": [] }]))).unwrap();
    assert_eq!(api.routes().len(), 1);
}

#[test]
fn an_unknown_scheme_is_refused() {
    assert_operation_error(
        &openapi3(
            json!({ "Pool": good_pool() }),
            json!([{ "MyUserPool": [] }]),
        ),
        ImportErrorKind::UnknownScheme,
        "`MyUserPool` is not defined in components.securitySchemes",
    );
    // No schemes at all.
    let text = json!({
        "swagger": "2.0",
        "paths": { "/pets/{petId}": { "get": { "security": [{ "Pool": [] }] } } }
    })
    .to_string();
    assert_operation_error(
        &text,
        ImportErrorKind::UnknownScheme,
        "not defined in securityDefinitions",
    );
}

#[test]
fn several_schemes_on_one_operation_are_refused() {
    let schemes = json!({
        "Pool": good_pool(),
        "Other": cognito_scheme(json!(["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Other1"])),
        "api_key": { "type": "apiKey", "name": "x-api-key", "in": "header" }
    });
    assert_operation_error(
        &openapi3(schemes.clone(), json!([{ "Pool": [] }, { "Other": [] }])),
        ImportErrorKind::SeveralSchemes,
        "names the authorizers `Pool`, `Other`",
    );
    assert_operation_error(
        &openapi3(schemes, json!([{ "Pool": [], "Other": [] }])),
        ImportErrorKind::SeveralSchemes,
        "one authorizer per method",
    );
}

#[test]
fn scopes_on_a_scheme_that_is_not_cognito_are_refused() {
    let oauth = json!({
        "type": "oauth2",
        "flows": { "clientCredentials": { "tokenUrl": "https://auth.example.com/token", "scopes": { "pets/read": "" } } }
    });
    assert_operation_error(
        &openapi3(
            json!({ "OAuth": oauth }),
            json!([{ "OAuth": ["pets/read"] }]),
        ),
        ImportErrorKind::ScopesWithoutCognito,
        "scopes for `OAuth`, which is a `oauth2` scheme",
    );
    assert_operation_error(
        &openapi3(
            json!({ "Lambda": lambda() }),
            json!([{ "Lambda": ["pets/read"] }]),
        ),
        ImportErrorKind::ScopesWithoutCognito,
        "not a cognito_user_pools authorizer",
    );
}

#[test]
fn a_malformed_arn_is_refused() {
    for (arns, words) in [
        (
            json!(["arn:aws:cognito-idp:us-east-1:123456789012:userpool"]),
            "does not name a user pool",
        ),
        (
            json!(["arn:aws:cognito-idp:{region}:{account_id}:userpool/{user_pool_id}"]),
            "region",
        ),
        (
            json!(["arn:aws:cognito-idp:us-east-1:123456789012:userpool/eu-west-1_AbC"]),
            "not in region",
        ),
        (
            json!(["arn:aws:lambda:us-east-1:123456789012:function:auth"]),
            "not `cognito-idp`",
        ),
        (json!(["us-east-1_AbCdEfGhI"]), "six"),
        (json!([]), "does not list any"),
        (json!([42]), "non-string"),
    ] {
        assert_operation_error(
            &openapi3(
                json!({ "Pool": cognito_scheme(arns) }),
                json!([{ "Pool": [] }]),
            ),
            ImportErrorKind::MalformedArn,
            words,
        );
    }
}

#[test]
fn contradictions_are_refused() {
    let mut strict = good_pool();
    strict["x-amazon-apigateway-authorizer"]["identityValidationExpression"] = json!("web-.*");
    assert_operation_error(
        &openapi3(
            json!({ "Pool": strict.clone() }),
            json!([{ "Pool": ["pets/read"] }]),
        ),
        ImportErrorKind::Contradictory,
        "access tokens lack",
    );
    // Without scopes the expression is fine.
    assert!(
        ApiDefinition::parse(&openapi3(
            json!({ "Pool": strict }),
            json!([{ "Pool": [] }])
        ))
        .is_ok()
    );

    let mut two_headers = good_pool();
    two_headers["x-amazon-apigateway-authorizer"]["identitySource"] =
        json!("method.request.header.X-Token");
    assert_operation_error(
        &openapi3(json!({ "Pool": two_headers }), json!([{ "Pool": [] }])),
        ImportErrorKind::Contradictory,
        "identitySource reads `X-Token`",
    );

    let text = json!({
        "openapi": "3.0.0",
        "paths": { "/pets/{id}": { "get": {} }, "/pets/{petId}": { "delete": {} } }
    })
    .to_string();
    let err = error_of(&text);
    assert_eq!(err.kind(), ImportErrorKind::Contradictory, "{err}");
    assert_eq!(err.operation(), Some("/pets/{petId}"), "{err}");
    assert!(err.message().contains("match the same requests"), "{err}");
}

#[test]
fn invalid_values_are_refused() {
    let mut bad_regex = good_pool();
    bad_regex["x-amazon-apigateway-authorizer"]["identityValidationExpression"] = json!("web-(");
    assert_operation_error(
        &openapi3(json!({ "Pool": bad_regex }), json!([{ "Pool": [] }])),
        ImportErrorKind::Invalid,
        "does not compile",
    );
    assert_operation_error(
        &openapi3(
            json!({ "Pool": good_pool() }),
            json!([{ "Pool": ["pets read"] }]),
        ),
        ImportErrorKind::Invalid,
        "space",
    );
    assert_operation_error(
        &openapi3(
            json!({ "Pool": good_pool() }),
            json!([{ "Pool": "pets/read" }]),
        ),
        ImportErrorKind::Invalid,
        "not a list of strings",
    );
    let mut query = good_pool();
    query["in"] = json!("query");
    assert_operation_error(
        &openapi3(json!({ "Pool": query }), json!([{ "Pool": [] }])),
        ImportErrorKind::Invalid,
        "reads a header",
    );
    let err = error_of(
        &json!({ "openapi": "3.0.0", "paths": { "/pets/{id}.json": { "get": {} } } }).to_string(),
    );
    assert_eq!(
        (err.kind(), err.operation()),
        (ImportErrorKind::Invalid, Some("/pets/{id}.json")),
        "{err}"
    );
    // An operation under a key that is not a method would be silently public.
    let text = json!({
        "openapi": "3.0.0",
        "paths": { "/pets": { "GET": { "security": [{ "Pool": [] }] }, "parameters": [] } },
        "components": { "securitySchemes": { "Pool": good_pool() } }
    });
    let err = error_of(&text.to_string());
    assert_eq!(
        (err.kind(), err.operation()),
        (ImportErrorKind::Invalid, Some("/pets")),
        "{err}"
    );
    assert!(err.message().contains("unknown field `GET`"), "{err}");
}

#[test]
fn documents_that_are_not_definitions_are_refused() {
    for (text, words) in [
        ("{\"openapi\": ", "not valid JSON"),
        ("openapi: [3.0", "not valid YAML"),
        ("{\"info\": {}}", "neither"),
        ("swagger: \"1.2\"", "Swagger version `1.2`"),
        ("openapi: 4.0.0", "OpenAPI version `4.0.0`"),
        ("- 1\n- 2\n", "not an object"),
    ] {
        let err = error_of(text);
        assert_eq!(err.kind(), ImportErrorKind::Syntax, "{text}: {err}");
        assert!(err.to_string().contains(words), "{text}: {err}");
        assert_eq!(err.operation(), None);
    }
    let err = ApiDefinition::from_path("tests/fixtures/no-such-file.yaml").unwrap_err();
    assert_eq!(err.kind(), ImportErrorKind::Read, "{err}");
    assert!(err.to_string().contains("no-such-file.yaml"), "{err}");
}

#[test]
fn security_is_inherited_as_openapi_says() {
    let definition = json!({
        "swagger": "2.0",
        "security": [{ "Pool": [] }],
        "paths": {
            "/inherits": { "get": {} },
            "/overrides": { "get": { "security": [{ "Pool": ["pets/read"] }] } },
            "/public": { "get": { "security": [] } },
            "/anonymous": { "get": { "security": [{}] } }
        },
        "securityDefinitions": { "Pool": good_pool() }
    });
    let api = ApiDefinition::parse(&definition.to_string()).unwrap();
    let route = |p: &str| api.route(&Method::GET, p).unwrap();
    assert_eq!(
        (route("/inherits").is_public(), route("/inherits").scopes()),
        (false, &[][..])
    );
    assert_eq!(route("/overrides").scopes(), ["pets/read"]);
    assert!(route("/public").is_public());
    assert!(route("/anonymous").is_public());
    // Without a top-level security, an operation without one is public.
    let mut without = definition;
    without.as_object_mut().unwrap().remove("security");
    let api = ApiDefinition::parse(&without.to_string()).unwrap();
    assert!(api.route(&Method::GET, "/inherits").unwrap().is_public());
}
