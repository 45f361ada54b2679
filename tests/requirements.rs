//! Each kind of route requirement, accepted and refused, over a real socket:
//! an axum app on 127.0.0.1 behind `CognitoAuthLayer`, called with reqwest.

use axum::Router;
use axum::routing::get;
use serde_json::json;
use tower_cognito::test_util::{LocalUserPool, TokenBuilder};
use tower_cognito::{Claims, CognitoAuthLayer, Requirement, Responses, TokenUseRule, Verifier};

mod support;
use support::{Server, serve};

/// One route per requirement kind. The verifier checks no app client, as API
/// Gateway does, so that the routes' own client rules are what is tested.
fn routes(auth: &CognitoAuthLayer) -> Router {
    let route = |path: &str, requirement: Requirement| {
        Router::new()
            .route(path, get(|c: Claims| async move { c.sub().to_owned() }))
            .route_layer(auth.require(requirement).unwrap())
    };
    Router::new()
        .merge(route(
            "/any-scope",
            Requirement::any_scope(["pets/read", "pets/admin"]),
        ))
        .merge(route(
            "/all-scopes",
            Requirement::all_scopes(["pets/read", "pets/write"]),
        ))
        .merge(route(
            "/group",
            Requirement::new().any_group(["admins", "staff"]),
        ))
        .merge(route(
            "/id-only",
            Requirement::new().token_use(TokenUseRule::Id),
        ))
        .merge(route(
            "/access-only",
            Requirement::new().token_use(TokenUseRule::Access),
        ))
        .merge(route(
            "/either",
            Requirement::new().token_use(TokenUseRule::Either),
        ))
        .merge(route(
            "/clients",
            Requirement::new()
                .token_use(TokenUseRule::Either)
                .client_ids(["web-app", "cli-app"]),
        ))
        .merge(route("/aud", Requirement::new().aud_matches("web-[a-z]+")))
        .merge(route(
            "/aud-either",
            Requirement::new()
                .token_use(TokenUseRule::Either)
                .aud_matches(".*"),
        ))
        .merge(route(
            "/check",
            Requirement::new().check(|c| c.get_str("custom:tenant") == Some("acme")),
        ))
        .merge(route(
            "/scope-and-group",
            Requirement::any_scope(["A", "B"]).any_group(["admins"]),
        ))
}

async fn start(responses: Responses) -> (LocalUserPool, Server) {
    let pool = LocalUserPool::start().await.unwrap();
    let verifier = Verifier::builder().pool(pool.user_pool()).build().unwrap();
    let auth = CognitoAuthLayer::new(verifier).responses(responses);
    let server = serve(routes(&auth)).await;
    (pool, server)
}

/// Status, body and the `error` of `WWW-Authenticate`, if any.
async fn call(server: &Server, path: &str, token: &str) -> (u16, String, Option<String>) {
    let answer = server.bearer(path, token).await;
    let error = answer
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("error=\"").nth(1))
        .and_then(|v| v.split('"').next())
        .map(str::to_owned);
    (answer.status, answer.body, error)
}

const OK: Outcome = (200, None);
const WRONG_TOKEN: Outcome = (401, Some("invalid_token"));
const NOT_ALLOWED: Outcome = (403, Some("insufficient_scope"));

type Outcome = (u16, Option<&'static str>);

/// Sends `token` to `path` and checks the outcome; on success the handler saw the
/// token's claims (it answers with their `sub`).
async fn expect(server: &Server, path: &str, token: TokenBuilder, outcome: Outcome) {
    let token = token.sub("the-user");
    let claims = serde_json::Value::Object(token.payload().clone());
    let (status, body, error) = call(server, path, &token.sign()).await;
    assert_eq!(
        (status, error.as_deref()),
        outcome,
        "{path} with {claims}: body {body:?}"
    );
    if status == 200 {
        assert_eq!(body, "the-user", "{path}");
    }
}

/// [`expect`] for each token in turn, with its outcome.
async fn expect_each(
    server: &Server,
    path: &str,
    cases: impl IntoIterator<Item = (TokenBuilder, Outcome)>,
) {
    for (token, outcome) in cases {
        expect(server, path, token, outcome).await;
    }
}

#[tokio::test]
async fn any_of_scopes() {
    let (pool, server) = start(Responses::rfc6750("pets")).await;
    let access = || pool.access_token();
    expect_each(
        &server,
        "/any-scope",
        [
            (access().scopes(["pets/admin"]), OK),
            (access().scopes(["openid", "pets/read"]), OK),
            (access().scopes(["pets/write"]), NOT_ALLOWED),
            // Exact, case-sensitive comparison.
            (access().scopes(["pets/READ", "pets"]), NOT_ALLOWED),
            // A route with scopes takes access tokens only.
            (pool.id_token(), WRONG_TOKEN),
        ],
    )
    .await;
}

#[tokio::test]
async fn all_of_scopes() {
    let (pool, server) = start(Responses::rfc6750("pets")).await;
    let access = || pool.access_token();
    expect_each(
        &server,
        "/all-scopes",
        [
            (access().scopes(["pets/write", "pets/read"]), OK),
            (access().scopes(["pets/read"]), NOT_ALLOWED),
            (access().scopes(["pets/write"]), NOT_ALLOWED),
            (pool.id_token(), WRONG_TOKEN),
        ],
    )
    .await;
}

#[tokio::test]
async fn groups() {
    let (pool, server) = start(Responses::rfc6750("pets")).await;
    let p = "/group";
    expect(&server, p, pool.id_token().groups(["staff"]), OK).await;
    expect(&server, p, pool.id_token().groups(["users", "admins"]), OK).await;
    expect(&server, p, pool.id_token().groups(["users"]), NOT_ALLOWED).await;
    expect(&server, p, pool.id_token(), NOT_ALLOWED).await;
    // Group names are exact.
    expect(&server, p, pool.id_token().groups(["Admins"]), NOT_ALLOWED).await;
}

#[tokio::test]
async fn token_use() {
    let (pool, server) = start(Responses::rfc6750("pets")).await;
    expect(&server, "/id-only", pool.id_token(), OK).await;
    expect(&server, "/id-only", pool.access_token(), WRONG_TOKEN).await;
    expect(&server, "/access-only", pool.access_token(), OK).await;
    expect(&server, "/access-only", pool.id_token(), WRONG_TOKEN).await;
    expect(&server, "/either", pool.id_token(), OK).await;
    expect(&server, "/either", pool.access_token(), OK).await;
    // Neither kind: refused even where either is taken.
    expect(
        &server,
        "/either",
        pool.id_token().token_use("refresh"),
        WRONG_TOKEN,
    )
    .await;
}

#[tokio::test]
async fn app_client_allow_list() {
    let (pool, server) = start(Responses::rfc6750("pets")).await;
    expect_each(
        &server,
        "/clients",
        [
            // `aud` of ID tokens, `client_id` of access tokens.
            (pool.id_token().client_id("web-app"), OK),
            (pool.access_token().client_id("cli-app"), OK),
            (pool.id_token().client_id("other-app"), WRONG_TOKEN),
            (pool.access_token().client_id("other-app"), WRONG_TOKEN),
            // An ID token's client is its aud, not a client_id claim.
            (
                pool.id_token()
                    .client_id("other-app")
                    .claim("client_id", "web-app"),
                WRONG_TOKEN,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn token_validation_expression_on_aud() {
    let (pool, server) = start(Responses::rfc6750("pets")).await;
    let id_for = |client: &str| pool.id_token().client_id(client);
    expect_each(
        &server,
        "/aud",
        [
            (id_for("web-shop"), OK),
            (id_for("mobile-shop"), WRONG_TOKEN),
            // The whole aud must match.
            (id_for("web-shop-2"), WRONG_TOKEN),
            (id_for("my-web-shop"), WRONG_TOKEN),
        ],
    )
    .await;
    // Access tokens have no aud: they always fail the expression, even `.*` on a
    // route that takes either kind, and even with an aud-looking client_id.
    expect_each(
        &server,
        "/aud-either",
        [
            (pool.id_token(), OK),
            (pool.access_token(), WRONG_TOKEN),
            (pool.access_token().client_id("web-shop"), WRONG_TOKEN),
        ],
    )
    .await;
}

#[tokio::test]
async fn custom_check() {
    let (pool, server) = start(Responses::rfc6750("pets")).await;
    let tenant = |name: &str| pool.id_token().attribute("custom:tenant", name);
    expect_each(
        &server,
        "/check",
        [
            (tenant("acme"), OK),
            (tenant("umbrella"), NOT_ALLOWED),
            (pool.id_token(), NOT_ALLOWED),
            // The check runs after the token use rule.
            (
                pool.access_token().claim("custom:tenant", "acme"),
                WRONG_TOKEN,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn composed_scope_or_scope_and_group() {
    let (pool, server) = start(Responses::rfc6750("pets")).await;
    let access = |scopes: &[&str], groups: &[&str]| {
        pool.access_token()
            .scopes(scopes.iter().copied())
            .groups(groups.iter().copied())
    };
    expect_each(
        &server,
        "/scope-and-group",
        [
            (access(&["B"], &["admins"]), OK),
            (access(&["A", "C"], &["x", "admins"]), OK),
            (access(&["C"], &["admins"]), NOT_ALLOWED),
            (access(&["A"], &["users"]), NOT_ALLOWED),
            (pool.id_token().groups(["admins"]), WRONG_TOKEN),
        ],
    )
    .await;
}

/// A claim of an unexpected shape (a Pre Token Generation trigger can put
/// anything in one) does not fail verification: a route that does not read it
/// takes the token, and only the routes that read it refuse it.
#[tokio::test]
async fn claims_of_an_unexpected_shape_fail_only_the_routes_that_read_them() {
    let (pool, server) = start(Responses::rfc6750("pets")).await;
    for groups in [json!("admins"), json!(["admins", 1]), json!({"admins": 1})] {
        let token = || pool.id_token().claim("cognito:groups", groups.clone());
        expect(&server, "/id-only", token(), OK).await;
        expect(&server, "/group", token(), NOT_ALLOWED).await;
    }
    let scope_list = || pool.access_token().claim("scope", json!(["pets/read"]));
    expect(&server, "/access-only", scope_list(), OK).await;
    expect(&server, "/any-scope", scope_list(), NOT_ALLOWED).await;
    let odd = pool
        .id_token()
        .claim("email_verified", "true")
        .claim("cognito:username", 5)
        .claim("email", json!(["a@example.com"]))
        .claim("jti", 7)
        .claim("custom:role", json!({"nested": [1, 2]}));
    expect(&server, "/id-only", odd, OK).await;
    let tenant_number = || pool.id_token().claim("custom:tenant", 42);
    expect(&server, "/id-only", tenant_number(), OK).await;
    expect(&server, "/check", tenant_number(), NOT_ALLOWED).await;
    // No client ids on this verifier: an aud of another shape fails only the
    // routes that read it.
    let aud_list = || pool.id_token().claim("aud", json!(["web-shop"]));
    expect(&server, "/id-only", aud_list(), OK).await;
    expect(&server, "/aud", aud_list(), WRONG_TOKEN).await;
    expect(&server, "/clients", aud_list(), WRONG_TOKEN).await;
}

#[tokio::test]
async fn api_gateway_responses_answer_every_refusal_with_401() {
    let (pool, server) = start(Responses::api_gateway()).await;
    let unauthorized = (401, r#"{"message":"Unauthorized"}"#.to_owned(), None);
    for (path, token) in [
        ("/any-scope", pool.access_token().scopes(["pets/write"])),
        ("/any-scope", pool.id_token()),
        ("/all-scopes", pool.access_token().scopes(["pets/read"])),
        ("/group", pool.id_token().groups(["users"])),
        ("/access-only", pool.id_token()),
        ("/clients", pool.id_token().client_id("other-app")),
        ("/aud", pool.id_token().client_id("mobile-shop")),
        ("/aud-either", pool.access_token()),
        ("/check", pool.id_token()),
    ] {
        assert_eq!(
            call(&server, path, &token.sign()).await,
            unauthorized,
            "{path}"
        );
    }
    // And lets the same routes through with the right token.
    let token = pool.access_token().sub("u").scopes(["pets/read"]).sign();
    assert_eq!(
        call(&server, "/any-scope", &token).await,
        (200, "u".to_owned(), None)
    );
}

#[test]
fn a_bad_expression_is_refused_when_the_layer_is_built() {
    let verifier = Verifier::builder()
        .pool(tower_cognito::UserPool::new("us-east-1_AbCdEfGhI"))
        .build()
        .unwrap();
    let auth = CognitoAuthLayer::new(verifier);
    let err = auth
        .require(Requirement::new().aud_matches("web-("))
        .unwrap_err();
    assert!(err.message().contains("does not compile"), "{err}");
    let err = auth
        .require(Requirement::any_scope(["pets/read"]).aud_matches("web-.*"))
        .unwrap_err();
    assert!(err.message().contains("access tokens have no aud"), "{err}");
}
