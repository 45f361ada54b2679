//! API Gateway HTTP API's JWT authorizer, reproduced by the HTTP API profile:
//! every check of "Controlling access to HTTP APIs with JWT authorizers"
//! accepted and refused over a real socket, with HTTP API's responses byte
//! for byte; and an HTTP API's OpenAPI export (`tests/fixtures/`) served as a
//! route table.

use axum::Router;
use axum::routing::{any, get};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tower::Layer;
use tower_cognito::openapi::{ApiDefinition, ImportErrorKind, ImportOptions};
use tower_cognito::test_util::{JwksBehavior, LocalUserPool};
use tower_cognito::{
    Claims, CognitoAuthLayer, HttpApiClaims, Profile, Requirement, Responses, UserPool, Verifier,
};

mod support;
use support::{Server, send, serve};

#[allow(dead_code)]
#[path = "../examples/openapi.rs"]
mod example;

/// A second app client, as HTTP API's audience list often has (a web client
/// and a machine client).
const M2M_CLIENT: &str = "7m2m8client9id0abcdefghij";
const SCOPES: [&str; 2] = ["pets/read", "pets/admin"];

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Status, `content-type`, `www-authenticate`, `x-amzn-errortype`, body.
type Answer = (u16, Option<String>, Option<String>, Option<String>, String);

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;

fn unauthorized(scope: &str, description: &str) -> Answer {
    (
        401,
        Some("application/json".into()),
        Some(format!(
            r#"Bearer scope="{scope}" error="invalid_token" error_description="{description}""#
        )),
        None,
        UNAUTHORIZED.into(),
    )
}

fn forbidden(scope: &str) -> Answer {
    (
        403,
        Some("application/json".into()),
        Some(format!(
            r#"Bearer scope="{scope}" error="insufficient_scope" error_description="the token does not have the required scope""#
        )),
        None,
        FORBIDDEN.into(),
    )
}

fn no_token() -> Answer {
    (
        401,
        Some("application/json".into()),
        Some("Bearer".into()),
        None,
        UNAUTHORIZED.into(),
    )
}

async fn ask(server: &Server, path: &str, headers: &[(&str, String)]) -> Answer {
    let mut request = server.request(http::Method::GET, path);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let answer = send(request).await;
    (
        answer.status,
        answer.header("content-type"),
        answer.header("www-authenticate"),
        answer.header("x-amzn-errortype"),
        answer.body,
    )
}

fn bearer(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {token}"))]
}

/// An API behind the HTTP API profile: `/open` has no scopes, `/read` takes
/// any of [`SCOPES`]. Handlers count their runs and answer with the caller's
/// `sub` and HTTP API's view of the claims.
struct Api {
    server: Server,
    runs: Arc<AtomicUsize>,
}

impl Api {
    async fn start(verifier: Verifier, audiences: &[&str]) -> Self {
        let runs = Arc::new(AtomicUsize::new(0));
        let handler = {
            let runs = Arc::clone(&runs);
            move |claims: Claims| {
                let runs = Arc::clone(&runs);
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let view = HttpApiClaims::new(&claims);
                    axum::Json(json!({"sub": claims.sub(), "claims": view.as_map()}))
                }
            }
        };
        let auth = CognitoAuthLayer::http_api(verifier, audiences.iter().copied()).unwrap();
        let app = Router::new()
            .route("/open", get(handler.clone()))
            .route_layer(auth.clone())
            .merge(
                Router::new()
                    .route("/read", get(handler))
                    .route_layer(auth.require(Requirement::any_scope(SCOPES)).unwrap()),
            );
        Self {
            server: serve(app).await,
            runs,
        }
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

/// A verifier of the pool that checks no app client: the audience check is
/// the profile's, as HTTP API's.
fn verifier(pool: &LocalUserPool) -> Verifier {
    Verifier::builder().pool(pool.user_pool()).build().unwrap()
}

async fn api(pool: &LocalUserPool) -> Api {
    Api::start(verifier(pool), &[pool.client_id(), M2M_CLIENT]).await
}

async fn admitted(api: &Api, path: &str, token: &str) -> Value {
    let before = api.runs();
    let (status, _, header, _, body) = ask(&api.server, path, &bearer(token)).await;
    assert_eq!((status, header), (200, None), "{body}");
    assert_eq!(api.runs(), before + 1);
    serde_json::from_str(&body).unwrap()
}

async fn refused(api: &Api, path: &str, headers: &[(&str, String)], want: Answer) {
    let before = api.runs();
    assert_eq!(ask(&api.server, path, headers).await, want, "{path}");
    assert_eq!(api.runs(), before, "{path}: the handler must not run");
}

#[tokio::test]
async fn tokens_from_the_identity_source_bare_or_bearer() {
    let pool = LocalUserPool::start().await.unwrap();
    let api = api(&pool).await;
    let id = pool.id_token().sub("user-1").sign();
    let body = admitted(&api, "/open", &id).await;
    assert_eq!(body["sub"], "user-1");
    // The bare token, as "the identitySource can include only the token".
    let before = api.runs();
    let (status, ..) = ask(&api.server, "/open", &[("authorization", id.clone())]).await;
    assert_eq!((status, api.runs()), (200, before + 1));
    let (status, ..) = ask(
        &api.server,
        "/open",
        &[("authorization", format!("bearer {id}"))],
    )
    .await;
    assert_eq!(status, 200);
    // No token; an empty header; a token that is not three segments.
    refused(&api, "/open", &[], no_token()).await;
    refused(&api, "/read", &[], no_token()).await;
    refused(
        &api,
        "/open",
        &[("authorization", String::new())],
        no_token(),
    )
    .await;
    refused(
        &api,
        "/open",
        &bearer("not-a-token"),
        unauthorized("", "token contains an invalid number of segments"),
    )
    .await;
    refused(
        &api,
        "/read",
        &bearer("a.b"),
        unauthorized(
            "pets/read pets/admin",
            "token contains an invalid number of segments",
        ),
    )
    .await;
}

#[tokio::test]
async fn the_audience_is_aud_else_client_id() {
    let pool = LocalUserPool::start().await.unwrap();
    let api = api(&pool).await;
    let wrong = unauthorized("", "the token does not have a valid audience");
    // An ID token's aud; an access token's client_id (Cognito's have no aud).
    admitted(&api, "/open", &pool.id_token().sign()).await;
    admitted(&api, "/open", &pool.access_token().sign()).await;
    admitted(
        &api,
        "/open",
        &pool.access_token().client_id(M2M_CLIENT).sign(),
    )
    .await;
    // aud present but wrong.
    let token = pool.id_token().client_id("someone-else").sign();
    refused(&api, "/open", &bearer(&token), wrong.clone()).await;
    // No aud, client_id wrong.
    let token = pool.access_token().client_id("someone-else").sign();
    refused(&api, "/open", &bearer(&token), wrong.clone()).await;
    // aud wrong, client_id right: aud is the one evaluated.
    let token = pool.access_token().audience("someone-else").sign();
    refused(&api, "/open", &bearer(&token), wrong.clone()).await;
    // aud right, client_id wrong: accepted, for the same reason.
    let token = pool
        .access_token()
        .audience(M2M_CLIENT)
        .client_id("someone-else")
        .sign();
    admitted(&api, "/open", &token).await;
    // An aud array with one of the audiences (RFC 7519); exact comparison.
    let token = pool
        .id_token()
        .claim("aud", json!(["x", pool.client_id()]))
        .sign();
    admitted(&api, "/open", &token).await;
    let token = pool
        .id_token()
        .client_id(pool.client_id().to_uppercase())
        .sign();
    refused(&api, "/open", &bearer(&token), wrong.clone()).await;
    // No aud and no client_id.
    let token = pool.access_token().without("client_id").sign();
    refused(&api, "/open", &bearer(&token), wrong).await;
}

#[tokio::test]
async fn dates_exp_nbf_and_iat() {
    let pool = LocalUserPool::start().await.unwrap();
    let api = api(&pool).await;
    let t = now();
    let token = pool.access_token().expired().sign();
    refused(
        &api,
        "/open",
        &bearer(&token),
        unauthorized("", "the token has expired"),
    )
    .await;
    let token = pool.access_token().claim("nbf", t + 600).sign();
    refused(
        &api,
        "/open",
        &bearer(&token),
        unauthorized("", "the token is not valid yet"),
    )
    .await;
    admitted(
        &api,
        "/open",
        &pool.access_token().claim("nbf", t - 5).sign(),
    )
    .await;
    // iat "must be before the current time".
    let token = pool.access_token().claim("iat", t + 600).sign();
    refused(
        &api,
        "/open",
        &bearer(&token),
        unauthorized("", "the token is not valid yet"),
    )
    .await;
    // iat is evaluated, so a token without one is refused (Cognito always sets it).
    let token = pool.access_token().without("iat").sign();
    refused(
        &api,
        "/open",
        &bearer(&token),
        unauthorized("", "the token is not valid"),
    )
    .await;
    // The verifier's leeway applies to iat as to exp and nbf.
    let lenient = Verifier::builder()
        .pool(pool.user_pool())
        .leeway(Duration::from_secs(120))
        .build()
        .unwrap();
    let lenient = Api::start(lenient, &[pool.client_id()]).await;
    admitted(
        &lenient,
        "/open",
        &pool.access_token().claim("iat", t + 60).sign(),
    )
    .await;
    let token = pool.access_token().claim("iat", t + 600).sign();
    refused(
        &lenient,
        "/open",
        &bearer(&token),
        unauthorized("", "the token is not valid yet"),
    )
    .await;
}

#[tokio::test]
async fn the_issuer_must_be_the_configured_one() {
    let pool = LocalUserPool::start().await.unwrap();
    let api = api(&pool).await;
    let token = pool
        .access_token()
        .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_SomeOther")
        .sign();
    refused(
        &api,
        "/open",
        &bearer(&token),
        unauthorized("", "the token does not have a valid issuer"),
    )
    .await;
    // Pinned to one issuer form, the other form is another issuer, as for
    // HTTP API's single `issuer`.
    let pinned = Verifier::new(
        UserPool::new(pool.pool_id())
            .issuer(pool.issuer())
            .jwks_url(pool.jwks_url()),
    )
    .unwrap();
    let pinned = Api::start(pinned, &[pool.client_id()]).await;
    admitted(&pinned, "/open", &pool.access_token().sign()).await;
    let other_form = pool
        .issuer()
        .replace("://cognito-idp.", "://issuer-cognito-idp.");
    let token = pool.access_token().issuer(other_form).sign();
    refused(
        &pinned,
        "/open",
        &bearer(&token),
        unauthorized("", "the token does not have a valid issuer"),
    )
    .await;
}

#[tokio::test]
async fn id_and_access_tokens_alike_and_scopes_from_scope_or_scp() {
    let pool = LocalUserPool::start().await.unwrap();
    let api = api(&pool).await;
    let scope = "pets/read pets/admin";
    // No distinction: an ID token passes a route without scopes, an access
    // token too (above); with scopes, whichever holds one.
    admitted(&api, "/open", &pool.id_token().sign()).await;
    admitted(
        &api,
        "/read",
        &pool.access_token().scopes(["pets/read"]).sign(),
    )
    .await;
    admitted(
        &api,
        "/read",
        &pool.access_token().scopes(["x", "pets/admin"]).sign(),
    )
    .await;
    admitted(
        &api,
        "/read",
        &pool.access_token().scp(["pets/admin"]).sign(),
    )
    .await;
    admitted(
        &api,
        "/read",
        &pool.access_token().claim("scp", "y pets/read").sign(),
    )
    .await;
    admitted(&api, "/read", &pool.id_token().scp(["pets/read"]).sign()).await;
    // None of them: 403 Forbidden, not 401.
    let token = pool.access_token().scopes(["pets/write"]).sign();
    refused(&api, "/read", &bearer(&token), forbidden(scope)).await;
    let token = pool.access_token().scopes(["Pets/Read"]).sign();
    refused(&api, "/read", &bearer(&token), forbidden(scope)).await;
    refused(
        &api,
        "/read",
        &bearer(&pool.id_token().sign()),
        forbidden(scope),
    )
    .await;
    // A bad token on a route with scopes names them too.
    let token = pool.access_token().scopes(["pets/read"]).expired().sign();
    refused(
        &api,
        "/read",
        &bearer(&token),
        unauthorized(scope, "the token has expired"),
    )
    .await;
}

#[tokio::test]
async fn handlers_get_the_http_api_claims_view() {
    let pool = LocalUserPool::start().await.unwrap();
    let api = api(&pool).await;
    let token = pool
        .id_token()
        .groups(["admins", "staff"])
        .attribute(
            "identities",
            json!([{"userId": "1", "providerName": "Google", "providerType": "Google",
                    "issuer": null, "primary": "true", "dateCreated": "1583766787000"}]),
        )
        .sign();
    let body = admitted(&api, "/open", &token).await;
    let claims = &body["claims"];
    assert_eq!(claims["cognito:groups"], "[admins staff]");
    assert_eq!(claims["email_verified"], "true");
    assert!(claims["exp"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(
        claims["identities"],
        "[map[dateCreated:1583766787000 issuer:<nil> primary:true providerName:Google \
         providerType:Google userId:1]]"
    );
}

#[tokio::test]
async fn a_key_outage_is_a_500() {
    let pool = LocalUserPool::start().await.unwrap();
    pool.server().set_behavior(JwksBehavior::Status(503));
    let api = api(&pool).await;
    refused(
        &api,
        "/open",
        &bearer(&pool.access_token().sign()),
        (
            500,
            Some("application/json".into()),
            None,
            None,
            r#"{"message":"Internal Server Error"}"#.into(),
        ),
    )
    .await;
}

#[tokio::test]
async fn the_profile_is_configuration_checked_when_built() {
    let pool = LocalUserPool::start().await.unwrap();
    let err = CognitoAuthLayer::http_api(verifier(&pool), Vec::<String>::new()).unwrap_err();
    assert!(err.message().contains("at least one audience"), "{err}");
    let err = CognitoAuthLayer::new(verifier(&pool))
        .profile(Profile::http_api([""]))
        .unwrap_err();
    assert!(err.message().contains("empty audience"), "{err}");
    // The REST profile stays the default, with REST's answers.
    let rest = CognitoAuthLayer::new(verifier(&pool));
    assert_eq!(rest.front_door(), &Profile::RestApi);
    // A requirement given before the profile gets its rules too.
    let layer = CognitoAuthLayer::new(verifier(&pool))
        .require(Requirement::any_scope(["pets/read"]))
        .unwrap()
        .profile(Profile::http_api([pool.client_id()]))
        .unwrap();
    let text = format!("{:?}", layer.requirement());
    assert!(
        text.contains("Either") && text.contains("scp: true"),
        "{text}"
    );
    // Another response style after the profile wins.
    let layer = layer.responses(Responses::rfc6750("pets"));
    let app = Router::new()
        .route("/", get(|| async { "ran" }))
        .route_layer(layer);
    let server = serve(app).await;
    let (status, _, header, ..) = ask(&server, "/", &[]).await;
    assert_eq!(
        (status, header.as_deref()),
        (401, Some(r#"Bearer realm="pets""#))
    );
}

// ------------------------------------------------------- the OpenAPI export

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/httpapi.openapi3.json"
);
const PETS_POOL: &str = "us-east-1_PetsPool1";
const ADMIN_POOL: &str = "us-east-1_AdminPool";
const WEB_CLIENT: &str = "4example5client6id7abcdefgh";
const ADMIN_CLIENT: &str = "1admin2console3abcdefghijk";

/// The export's routes, served with counting handlers behind its route
/// table, the pets and admin authorizers' pools replaced by local ones.
async fn export(pets: &LocalUserPool, admin: &LocalUserPool) -> (Server, Arc<AtomicUsize>) {
    let api = ApiDefinition::from_path(FIXTURE).unwrap();
    assert!(api.is_http_api());
    let api = api.map_pools(|pool| match pool.id() {
        PETS_POOL => pets.user_pool(),
        ADMIN_POOL => admin.user_pool(),
        other => panic!("unexpected pool {other}"),
    });
    let runs = Arc::new(AtomicUsize::new(0));
    let handler = {
        let runs = Arc::clone(&runs);
        move |uri: axum::http::Uri| {
            let runs = Arc::clone(&runs);
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                uri.path().to_owned()
            }
        }
    };
    let router = Router::new()
        .route("/pets", get(handler.clone()).post(handler.clone()))
        .route(
            "/pets/{petId}",
            get(handler.clone()).delete(handler.clone()),
        )
        .route("/health", get(handler.clone()))
        .route("/admin/{*rest}", any(handler.clone()))
        .fallback(handler);
    let layer = api.layer(api.verifier_builder().build().unwrap()).unwrap();
    (
        serve(Router::new().fallback_service(layer.layer(router))).await,
        runs,
    )
}

#[test]
fn the_export_imports_as_http_api_routes() {
    let api = ApiDefinition::from_path(FIXTURE).unwrap();
    assert!(api.is_http_api());
    let ids: Vec<&str> = api.pools().iter().map(UserPool::id).collect();
    assert_eq!(ids, [PETS_POOL, ADMIN_POOL]);
    let get = |method: &str, path: &str| {
        api.route(&method.parse().unwrap(), path)
            .unwrap_or_else(|| panic!("{method} {path}"))
    };
    let pets = get("GET", "/pets");
    assert_eq!(pets.scopes(), ["pets/read", "pets/admin"]);
    assert_eq!(
        pets.profile(),
        Some(Profile::http_api([WEB_CLIENT, "7m2m8client9id0abcdefghij"]))
    );
    let admin = get("PATCH", "/admin/users/7");
    assert_eq!(admin.header().unwrap(), "x-admin-token");
    assert_eq!(admin.profile(), Some(Profile::http_api([ADMIN_CLIENT])));
    assert!(get("GET", "/health").is_public());
    // The $default route takes what no other route does.
    assert!(get("GET", "/nowhere").is_default());
    assert!(get("PUT", "/pets").is_default());
    assert_eq!(get("PUT", "/pets").to_string(), "ANY /$default");
    // But not a path that reads as a route as written and as none once
    // normalised: the router could take it to the route's handler.
    assert!(api.route(&http::Method::GET, "/admin/../nowhere").is_none());
    assert!(get("GET", "/pets/./7").path() == "/pets/{petId}");
}

#[tokio::test]
async fn the_export_is_served_with_http_api_rules() {
    let pets = LocalUserPool::start().await.unwrap();
    let admin = LocalUserPool::start().await.unwrap();
    let (server, runs) = export(&pets, &admin).await;
    let call = |path: &'static str, headers: Vec<(&'static str, String)>| {
        let server = &server;
        async move { ask(server, path, &headers).await }
    };
    let ran = || runs.load(Ordering::SeqCst);
    let web = |b: tower_cognito::test_util::TokenBuilder| b.client_id(WEB_CLIENT);

    // Public.
    assert_eq!(call("/health", vec![]).await.0, 200);
    // GET /pets: pets/read or pets/admin, from any token of the pool issued
    // to one of the authorizer's audiences.
    let reader = web(pets.access_token()).scopes(["pets/read"]).sign();
    assert_eq!(call("/pets", bearer(&reader)).await.0, 200);
    let id = web(pets.id_token()).sign();
    assert_eq!(
        call("/pets", bearer(&id)).await,
        forbidden("pets/read pets/admin")
    );
    // The pool's default client is not an audience of the authorizer.
    let stranger = pets.access_token().scopes(["pets/read"]).sign();
    assert_eq!(
        call("/pets", bearer(&stranger)).await,
        unauthorized(
            "pets/read pets/admin",
            "the token does not have a valid audience"
        )
    );
    // GET /pets/{petId}: no scopes, so an ID token or an access token.
    assert_eq!(call("/pets/7", bearer(&id)).await.0, 200);
    assert_eq!(call("/pets/7", bearer(&reader)).await.0, 200);
    assert_eq!(call("/pets/7", vec![]).await, no_token());
    // The admin authorizer: its own header, pool and audience.
    let admin_token = admin.id_token().client_id(ADMIN_CLIENT).sign();
    let header = |t: &str| vec![("x-admin-token", format!("Bearer {t}"))];
    assert_eq!(call("/admin/users", header(&admin_token)).await.0, 200);
    assert_eq!(
        call("/admin/users", header(&id)).await,
        unauthorized("", "the token does not have a valid issuer")
    );
    assert_eq!(call("/admin/users", bearer(&admin_token)).await, no_token());
    // $default: every other request, behind the pets authorizer.
    let before = ran();
    assert_eq!(call("/nowhere", vec![]).await, no_token());
    assert_eq!(ran(), before);
    assert_eq!(call("/nowhere", bearer(&id)).await.0, 200);
    assert_eq!(ran(), before + 1);
}

#[tokio::test]
async fn an_export_without_default_route_answers_not_found() {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    doc["paths"].as_object_mut().unwrap().remove("/$default");
    let api = ApiDefinition::from_json(&doc.to_string()).unwrap();
    let (pets, admin) = (
        LocalUserPool::start().await.unwrap(),
        LocalUserPool::start().await.unwrap(),
    );
    let api = api.map_pools(|pool| match pool.id() {
        PETS_POOL => pets.user_pool(),
        _ => admin.user_pool(),
    });
    let layer = api.layer(api.verifier_builder().build().unwrap()).unwrap();
    let router = Router::new().fallback(|| async { "ran" });
    let server = serve(Router::new().fallback_service(layer.layer(router))).await;
    assert_eq!(
        ask(&server, "/nowhere", &[]).await,
        (
            404,
            Some("application/json".into()),
            None,
            None,
            r#"{"message":"Not Found"}"#.into()
        )
    );
    assert_eq!(ask(&server, "/health", &[]).await.0, 200);
}

fn http_api_doc(scheme: Value, security: Value) -> String {
    json!({
        "openapi": "3.0.1",
        "paths": {"/pets/{petId}": {"get": {"security": security}}},
        "components": {"securitySchemes": {"Jwt": scheme}},
    })
    .to_string()
}

fn jwt(issuer: &str, audience: Value, source: &str) -> Value {
    json!({
        "type": "oauth2",
        "flows": {},
        "x-amazon-apigateway-authorizer": {
            "type": "jwt",
            "identitySource": source,
            "jwtConfiguration": {"issuer": issuer, "audience": audience},
        },
    })
}

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_PetsPool1";

#[test]
fn jwt_authorizers_that_cannot_be_enforced_are_import_errors() {
    let auth = "$request.header.Authorization";
    let security = json!([{"Jwt": []}]);
    for (scheme, kind, words) in [
        (
            jwt("https://example.auth0.com", json!(["a"]), auth),
            ImportErrorKind::UnsupportedAuthorizer,
            "is not a Cognito user pool",
        ),
        (
            jwt(ISSUER, json!([]), auth),
            ImportErrorKind::Invalid,
            "lists no audience",
        ),
        (
            jwt(ISSUER, json!(["a", 7]), auth),
            ImportErrorKind::Invalid,
            "not a non-empty string",
        ),
        (
            jwt(ISSUER, json!(["a"]), "$request.querystring.token"),
            ImportErrorKind::Invalid,
            "is not a request header",
        ),
        (
            jwt(ISSUER, json!(["a"]), "$request.header.A, $request.header.B"),
            ImportErrorKind::Invalid,
            "several sources",
        ),
        (
            jwt(
                "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}",
                json!(["a"]),
                auth,
            ),
            ImportErrorKind::Invalid,
            "ImportOptions::authorizer_pool(\"Jwt\"",
        ),
        (
            jwt(
                "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_PetsPool1",
                json!(["a"]),
                auth,
            ),
            ImportErrorKind::Invalid,
            "of region `us-east-1`",
        ),
        (
            jwt(&format!("{ISSUER}/"), json!(["a"]), auth),
            ImportErrorKind::Invalid,
            "user pool id",
        ),
    ] {
        let err = ApiDefinition::parse(&http_api_doc(scheme, security.clone())).unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.operation(), Some("GET /pets/{petId}"), "{err}");
        assert!(
            err.to_string().contains(words),
            "{err} should say {words:?}"
        );
    }
    // Refused instead of an import error, on request; never public.
    let other = jwt("https://example.auth0.com", json!(["a"]), auth);
    let api = ImportOptions::default()
        .refuse_unenforceable()
        .parse(&http_api_doc(other, security))
        .unwrap();
    assert!(api.is_http_api());
    assert!(api.routes()[0].is_refused());
}

#[test]
fn jwt_authorizers_read_as_http_api_reads_them() {
    let auth = "$request.header.Authorization";
    // openIdConnectUrl gives the issuer; the pool trusts that issuer only.
    let scheme = json!({
        "type": "openIdConnect",
        "openIdConnectUrl": format!("{ISSUER}/.well-known/openid-configuration"),
        "x-amazon-apigateway-authorizer": {
            "type": "jwt",
            "identitySource": auth,
            "jwtConfiguration": {"audience": ["a"]},
        },
    });
    let api = ApiDefinition::parse(&http_api_doc(scheme, json!([{"Jwt": ["s"]}]))).unwrap();
    assert_eq!(
        api.pools(),
        [UserPool::new("us-east-1_PetsPool1").issuer(ISSUER)]
    );
    assert_eq!(api.routes()[0].scopes(), ["s"]);
    // A placeholder issuer, with the pool named.
    let scheme = jwt(
        "https://cognito-idp.${region}.amazonaws.com/${id}",
        json!(["a"]),
        auth,
    );
    let api = ImportOptions::default()
        .authorizer_pool("Jwt", UserPool::new("us-east-1_Named1"))
        .parse(&http_api_doc(scheme, json!([{"Jwt": []}])))
        .unwrap();
    assert_eq!(api.pools(), [UserPool::new("us-east-1_Named1")]);
    // The other issuer form keeps its keys under cognito-idp.
    let other = ISSUER.replace("://cognito-idp.", "://issuer-cognito-idp.");
    let api = ApiDefinition::parse(&http_api_doc(
        jwt(&other, json!(["a"]), auth),
        json!([{"Jwt": []}]),
    ))
    .unwrap();
    assert_eq!(
        api.pools(),
        [UserPool::new("us-east-1_PetsPool1")
            .issuer(other.clone())
            .jwks_url(format!("{ISSUER}/.well-known/jwks.json"))]
    );
    // A REST authorizer beside a JWT one: an API is one or the other.
    let doc = json!({
        "openapi": "3.0.1",
        "paths": {},
        "components": {"securitySchemes": {
            "Jwt": jwt(ISSUER, json!(["a"]), auth),
            "Pool": {
                "type": "apiKey", "name": "Authorization", "in": "header",
                "x-amazon-apigateway-authtype": "cognito_user_pools",
                "x-amazon-apigateway-authorizer": {
                    "type": "cognito_user_pools",
                    "providerARNs": ["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_PetsPool1"],
                },
            },
        }},
    });
    let err = ApiDefinition::parse(&doc.to_string()).unwrap_err();
    assert_eq!(err.kind(), ImportErrorKind::Contradictory, "{err}");
}

/// The openapi example serves the HTTP API export with local pools, and every
/// `curl` command it prints works: each succeeds, the last (no token) is 401.
#[tokio::test]
async fn the_openapi_example_serves_the_export() {
    let api = ApiDefinition::from_path(FIXTURE).unwrap();
    let (api, pools) = example::with_local_pools(api).await.unwrap();
    let server = serve(example::app(&api).unwrap()).await;
    let text = example::commands(&api, &pools, &server.base);
    let statuses: Vec<(String, u16)> = server
        .replay_curl(&text)
        .await
        .into_iter()
        .map(|(line, answer)| (line, answer.status))
        .collect();
    let (last, others) = statuses.split_last().unwrap();
    assert_eq!(others.len(), 7, "one command per route\n{text}");
    for (line, status) in others {
        assert_eq!(*status, 200, "{line}\n{text}");
    }
    assert_eq!(last.1, 401, "{}", last.0);
}
