//! The layer over a real TCP socket with a real HTTP client, and around a plain
//! `tower::service_fn`.

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderName, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_cognito::test_util::{JwksBehavior, LocalUserPool};
use tower_cognito::{AuthError, AuthErrorKind, Claims, CognitoAuthLayer, Requirement, Responses};

mod support;
use support::{Answer, Server, send, serve};

struct App {
    pool: LocalUserPool,
    server: Server,
}

async fn who(claims: Claims) -> String {
    claims.sub().to_owned()
}

async fn maybe(claims: Option<Claims>) -> String {
    claims.map_or_else(|| "anonymous".to_owned(), |c| c.sub().to_owned())
}

fn router(auth: &CognitoAuthLayer) -> Router {
    let scoped = auth
        .require(Requirement::any_scope(["notes/read", "notes/admin"]))
        .unwrap();
    Router::new()
        .route("/me", get(who))
        .route_layer(auth.clone())
        .merge(Router::new().route("/notes", get(who)).route_layer(scoped))
        .merge(
            Router::new()
                .route("/maybe", get(maybe))
                .route_layer(auth.clone().optional()),
        )
        .merge(
            Router::new()
                .route("/header", get(who))
                .route_layer(auth.clone().header(HeaderName::from_static("x-id-token"))),
        )
        .route("/public", get(|| async { "hello" }))
        .route("/unwired", get(who))
}

async fn start(configure: impl FnOnce(CognitoAuthLayer) -> CognitoAuthLayer) -> App {
    let pool = LocalUserPool::start().await.unwrap();
    let auth = configure(CognitoAuthLayer::new(pool.verifier()));
    let server = serve(router(&auth)).await;
    App { pool, server }
}

impl App {
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.server.request(Method::GET, path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(request).await
    }

    async fn bearer(&self, path: &str, token: &str) -> Answer {
        self.server.bearer(path, token).await
    }
}

fn assert_api_gateway_401(answer: &Answer, body: &str) {
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body, body);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(answer.headers["x-amzn-errortype"], "UnauthorizedException");
    assert!(answer.headers.get("www-authenticate").is_none());
}

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;

#[tokio::test]
async fn public_routes_need_no_token_and_unknown_paths_stay_404() {
    let app = start(|l| l).await;
    let answer = app.get("/public", &[]).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "hello"));
    assert_eq!(app.get("/nowhere", &[]).await.status, 404);
    assert_eq!(app.pool.server().requests(), 0);
}

#[tokio::test]
async fn id_token_route() {
    let app = start(|l| l).await;
    let id = app.pool.id_token().sub("alice-sub").sign();
    let answer = app.bearer("/me", &id).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "alice-sub"));

    // An access token on a route without scopes (API Gateway: rejected).
    let access = app.pool.access_token().scopes(["notes/read"]).sign();
    assert_api_gateway_401(&app.bearer("/me", &access).await, UNAUTHORIZED);
}

#[tokio::test]
async fn scoped_route_takes_an_access_token_with_any_listed_scope() {
    let app = start(|l| l).await;
    for scopes in [
        &["notes/read"][..],
        &["notes/admin"],
        &["other", "notes/read"],
    ] {
        let token = app.pool.access_token().sub("bob").scopes(scopes).sign();
        let answer = app.bearer("/notes", &token).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "bob"),
            "{scopes:?}"
        );
    }
    for scopes in [
        &["notes/write"][..],
        &["Notes/Read"],
        &["notes/read/x"],
        &[],
    ] {
        let token = app.pool.access_token().scopes(scopes).sign();
        assert_api_gateway_401(&app.bearer("/notes", &token).await, UNAUTHORIZED);
    }
    // An ID token on a scoped route (API Gateway: rejected).
    assert_api_gateway_401(
        &app.bearer("/notes", &app.pool.id_token().sign()).await,
        UNAUTHORIZED,
    );
}

#[tokio::test]
async fn missing_malformed_and_expired_tokens_get_api_gateway_answers() {
    let app = start(|l| l).await;
    assert_api_gateway_401(&app.get("/me", &[]).await, UNAUTHORIZED);
    assert_api_gateway_401(&app.bearer("/me", "not.a.token").await, UNAUTHORIZED);
    assert_api_gateway_401(
        &app.get("/me", &[("authorization", "Basic YWxpY2U6cGFzcw==")])
            .await,
        UNAUTHORIZED,
    );
    let expired = app.pool.id_token().expired().sign();
    assert_api_gateway_401(
        &app.bearer("/me", &expired).await,
        r#"{"message":"The incoming token has expired"}"#,
    );
}

#[tokio::test]
async fn bearer_in_any_case_and_bare_tokens_are_read() {
    let app = start(|l| l).await;
    let token = app.pool.id_token().sub("carol").sign();
    for value in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER {token}"),
        token.clone(),
    ] {
        let answer = app.get("/me", &[("authorization", &value)]).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, "carol"));
    }
}

#[tokio::test]
async fn the_token_header_can_be_renamed() {
    let app = start(|l| l).await;
    let token = app.pool.id_token().sub("dave").sign();
    let answer = app.get("/header", &[("x-id-token", &token)]).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "dave"));
    // Authorization is not read on that route.
    assert_api_gateway_401(&app.bearer("/header", &token).await, UNAUTHORIZED);
}

#[tokio::test]
async fn optional_auth_lets_anonymous_requests_through_but_not_bad_tokens() {
    let app = start(|l| l).await;
    assert_eq!(app.get("/maybe", &[]).await.body, "anonymous");
    // A scheme with no token after it is no token, on every path.
    for value in ["Bearer ", "bearer", ""] {
        for _ in 0..2 {
            let answer = app.get("/maybe", &[("authorization", value)]).await;
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (200, "anonymous"),
                "{value:?}"
            );
        }
        assert_api_gateway_401(
            &app.get("/me", &[("authorization", value)]).await,
            UNAUTHORIZED,
        );
    }
    let token = app.pool.id_token().sub("erin").sign();
    assert_eq!(app.bearer("/maybe", &token).await.body, "erin");
    assert_api_gateway_401(&app.bearer("/maybe", "a.b.c").await, UNAUTHORIZED);
    let expired = app.pool.id_token().expired().sign();
    assert_eq!(app.bearer("/maybe", &expired).await.status, 401);
}

#[tokio::test]
async fn handler_without_the_layer_gets_a_clear_500() {
    let app = start(|l| l).await;
    let answer = app.get("/unwired", &[]).await;
    assert_eq!(answer.status, 500);
    assert!(answer.body.contains("CognitoAuthLayer"), "{}", answer.body);
}

#[tokio::test]
async fn two_headers_or_non_ascii_never_panic() {
    let app = start(|l| l.responses(Responses::rfc6750("notes"))).await;
    let token = app.pool.id_token().sign();
    let response = app
        .server
        .request(Method::GET, "/me")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="notes", error="invalid_request", error_description="the request does not carry exactly one readable bearer token""#
    );
    let value = reqwest::header::HeaderValue::from_bytes(b"Bearer \xe2\x82\xac.b.c").unwrap();
    let response = app
        .server
        .request(Method::GET, "/me")
        .header("authorization", value)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn rfc6750_answers() {
    let app = start(|l| l.responses(Responses::rfc6750("notes"))).await;
    let missing = app.get("/notes", &[]).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.headers["www-authenticate"],
        r#"Bearer realm="notes""#
    );
    assert_eq!(missing.body, "");

    let expired = app
        .bearer("/notes", &app.pool.access_token().expired().sign())
        .await;
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.headers["www-authenticate"],
        r#"Bearer realm="notes", error="invalid_token", error_description="the token has expired""#
    );

    let bad = app.bearer("/notes", "x.y.z").await;
    assert_eq!(bad.status, 401);
    assert!(bad.challenge().contains(r#"error="invalid_token""#));

    let unscoped = app
        .bearer("/notes", &app.pool.access_token().scopes(["other"]).sign())
        .await;
    assert_eq!(unscoped.status, 403);
    assert_eq!(
        unscoped.headers["www-authenticate"],
        r#"Bearer realm="notes", error="insufficient_scope", error_description="the token lacks the required scope", scope="notes/read notes/admin""#
    );

    let id_on_scoped = app.bearer("/notes", &app.pool.id_token().sign()).await;
    assert_eq!(id_on_scoped.status, 401);
    let ok = app
        .bearer(
            "/notes",
            &app.pool.access_token().scopes(["notes/read"]).sign(),
        )
        .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn no_usable_key_is_a_server_error_not_a_401() {
    let app = start(|l| l).await;
    app.pool.server().set_behavior(JwksBehavior::Status(500));
    let token = app.pool.id_token().sign();
    let answer = app.bearer("/me", &token).await;
    assert_eq!(answer.status, 500);
    assert_eq!(answer.body, r#"{"message":null}"#);
    assert_eq!(
        answer.headers["x-amzn-errortype"],
        "AuthorizerConfigurationException"
    );

    let app = start(|l| l.responses(Responses::rfc6750("notes"))).await;
    app.pool.server().set_behavior(JwksBehavior::Status(503));
    let answer = app.bearer("/me", &app.pool.id_token().sign()).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.headers["retry-after"], "5");
}

#[tokio::test]
async fn custom_responses() {
    let app = start(|l| {
        l.responses(Responses::custom(|err: &AuthError| {
            let mut response = Response::new(Bytes::from(format!("nope: {:?}", err.kind())));
            *response.status_mut() = StatusCode::IM_A_TEAPOT;
            response
        }))
    })
    .await;
    let answer = app.get("/me", &[]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (418, "nope: MissingToken")
    );
}

#[tokio::test]
async fn wraps_a_plain_tower_service_and_never_calls_it_on_rejection() {
    let pool = LocalUserPool::start().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let inner = service_fn(move |request: Request<String>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let sub = request
            .extensions()
            .get::<Claims>()
            .map(|c| c.sub().to_owned());
        async move { Ok::<_, Infallible>(Response::new(sub.unwrap_or_default())) }
    });
    let service = CognitoAuthLayer::new(pool.verifier())
        .require(Requirement::any_scope(["s"]))
        .unwrap()
        .layer(inner);

    let request = |token: Option<String>| {
        let mut builder = Request::builder().uri("/");
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.body(String::new()).unwrap()
    };

    for (token, kind) in [
        (None, AuthErrorKind::MissingToken),
        (Some("garbage".to_owned()), AuthErrorKind::MalformedToken),
        (
            Some(pool.access_token().scopes(["t"]).sign()),
            AuthErrorKind::InsufficientScope,
        ),
        (Some(pool.id_token().sign()), AuthErrorKind::WrongTokenUse),
        (
            Some(pool.access_token().scopes(["s"]).expired().sign()),
            AuthErrorKind::Expired,
        ),
    ] {
        let response = service.clone().oneshot(request(token)).await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(support::auth_error_kind(&response), Some(kind));
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.starts_with(b"{\"message\":"));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a rejection never reaches the inner service"
    );

    let token = pool.access_token().sub("frank").scopes(["s"]).sign();
    let response = service.clone().oneshot(request(Some(token))).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "frank"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A token this thread has verified is recognised by its bytes before they
/// are read as a token: that first look must not change what is refused. On
/// one thread, so that every request after the first can hit the thread's
/// slot.
#[tokio::test(flavor = "current_thread")]
async fn a_known_token_is_refused_wherever_the_careful_reading_refuses_it() {
    let pool = LocalUserPool::start().await.unwrap();
    let service = |layer: CognitoAuthLayer| {
        layer.layer(service_fn(|request: Request<String>| async move {
            let sub = request
                .extensions()
                .get::<Claims>()
                .map(|c| c.sub().to_owned());
            Ok::<_, Infallible>(Response::new(sub.unwrap_or_default()))
        }))
    };
    let auth = CognitoAuthLayer::new(pool.verifier());
    let token = pool.id_token().sub("grace").sign();
    let request = |values: &[String]| {
        let mut builder = Request::builder().uri("/");
        for value in values {
            builder = builder.header("authorization", value);
        }
        builder.body(String::new()).unwrap()
    };
    let kind_of = |response: &Response<_>| support::auth_error_kind(response);
    // The token with one character of its signature changed.
    let flipped = |token: &str| {
        let mut bytes = token.as_bytes().to_vec();
        let at = bytes.len() - 20;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    let plain = service(auth.clone());
    for value in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER {token}"),
        token.clone(),
    ] {
        // The first verifies and fills the slot, the others hit it.
        for _ in 0..2 {
            let response = plain
                .clone()
                .oneshot(request(std::slice::from_ref(&value)))
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{value}");
        }
    }
    for (values, kind) in [
        (
            vec![format!("Bearer {token}"), format!("Bearer {token}")],
            AuthErrorKind::InvalidRequest,
        ),
        (
            vec![format!("Bearer  {token}")],
            AuthErrorKind::InvalidRequest,
        ),
        (
            vec![format!("Bearer {token} {token}")],
            AuthErrorKind::InvalidRequest,
        ),
        (
            vec![format!("Basic {token}")],
            AuthErrorKind::InvalidRequest,
        ),
        (
            vec![format!("Bearer {token}x")],
            AuthErrorKind::MalformedToken,
        ),
        (
            vec![format!("Bearer {}", flipped(&token))],
            AuthErrorKind::BadSignature,
        ),
    ] {
        let response = plain.clone().oneshot(request(&values)).await.unwrap();
        assert_eq!(kind_of(&response), Some(kind), "{values:?}");
    }
    // A route that reads another header does not take the token from
    // `Authorization`, and one that reads two places refuses it in both.
    let other = service(auth.clone().header(HeaderName::from_static("x-id-token")));
    let response = other
        .oneshot(request(&[format!("Bearer {token}")]))
        .await
        .unwrap();
    assert_eq!(kind_of(&response), Some(AuthErrorKind::MissingToken));
    let two = service(
        auth.clone()
            .token_sources([
                tower_cognito::TokenSource::authorization(),
                tower_cognito::TokenSource::cookie("id"),
            ])
            .unwrap(),
    );
    let mut both = request(&[format!("Bearer {token}")]);
    both.headers_mut()
        .insert("cookie", format!("id={token}").parse().unwrap());
    let response = two.oneshot(both).await.unwrap();
    assert_eq!(kind_of(&response), Some(AuthErrorKind::InvalidRequest));
    // And the known token still answers.
    let response = plain
        .oneshot(request(&[format!("Bearer {token}")]))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn contradictory_requirements_are_config_errors() {
    let rt = support::runtime();
    let pool = rt.block_on(LocalUserPool::start()).unwrap();
    let auth = CognitoAuthLayer::new(pool.verifier());
    let id_with_scopes = Requirement::any_scope(["a"]).token_use(tower_cognito::TokenUseRule::Id);
    assert!(
        auth.require(id_with_scopes)
            .unwrap_err()
            .message()
            .contains("ID tokens")
    );
    assert!(
        auth.require(Requirement::any_scope(Vec::<String>::new()))
            .is_err()
    );
    assert!(auth.require(Requirement::any_scope(["a b"])).is_err());
}

#[tokio::test]
async fn layers_made_from_one_verifier_share_one_key_cache() {
    let pool = LocalUserPool::start().await.unwrap();
    let auth = CognitoAuthLayer::new(support::uncached(&pool));
    let echo = || {
        service_fn(|_: Request<String>| async { Ok::<_, Infallible>(Response::new(String::new())) })
    };
    let id_route = auth.clone().layer(echo());
    let scoped_route = auth
        .require(Requirement::any_scope(["s"]))
        .unwrap()
        .layer(echo());
    let request = |token: String| {
        Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(String::new())
            .unwrap()
    };
    // ID and access tokens are signed by different keys of the same set.
    let response = id_route
        .oneshot(request(pool.id_token().sign()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = scoped_route
        .oneshot(request(pool.access_token().scopes(["s"]).sign()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        pool.server().requests(),
        1,
        "the second layer used the first one's keys"
    );
}

#[tokio::test]
async fn a_repeated_token_still_meets_each_routes_requirement() {
    let pool = LocalUserPool::start().await.unwrap();
    let auth = CognitoAuthLayer::new(pool.verifier());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let inner = service_fn(move |request: Request<String>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let has_claims = request.extensions().get::<Claims>().is_some();
        async move { Ok::<_, Infallible>(Response::new(has_claims.to_string())) }
    });
    let read = auth
        .require(Requirement::any_scope(["read"]))
        .unwrap()
        .layer(inner.clone());
    let write = auth
        .require(Requirement::any_scope(["write"]))
        .unwrap()
        .layer(inner.clone());
    let identity = auth.layer(inner);
    let request = |token: &str| {
        Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(String::new())
            .unwrap()
    };
    let token = pool.access_token().scopes(["read"]).sign();
    for _ in 0..3 {
        // The first pass verifies the token; the next two find it in the cache.
        let response = read.clone().oneshot(request(&token)).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.into_body().collect().await.unwrap().to_bytes(),
            "true"
        );
        let response = write.clone().oneshot(request(&token)).await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            support::auth_error_kind(&response),
            Some(AuthErrorKind::InsufficientScope)
        );
        let response = identity.clone().oneshot(request(&token)).await.unwrap();
        assert_eq!(
            support::auth_error_kind(&response),
            Some(AuthErrorKind::WrongTokenUse)
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "only the read route's requests got through"
    );
    assert_eq!(pool.server().requests(), 1);
}

/// A service that counts its clones and calls.
#[derive(Default)]
struct Counted {
    clones: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Self {
            clones: Arc::clone(&self.clones),
            calls: Arc::clone(&self.calls),
        }
    }
}

impl tower::Service<Request<String>> for Counted {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<String>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(Response::new(String::new())))
    }
}

#[tokio::test]
async fn the_inner_service_is_cloned_only_to_wait_for_a_verification() {
    let pool = LocalUserPool::start().await.unwrap();
    let inner = Counted::default();
    let (clones, calls) = (Arc::clone(&inner.clones), Arc::clone(&inner.calls));
    let mut service = CognitoAuthLayer::new(pool.verifier())
        .optional()
        .layer(inner);
    let token = pool.id_token().sign();
    let mut send = async |token: Option<&str>| {
        let mut request = Request::builder().uri("/");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(String::new()).unwrap();
        let before = clones.load(Ordering::SeqCst);
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        (
            response.status().as_u16(),
            clones.load(Ordering::SeqCst) - before,
        )
    };
    // A new token: the ready service waits in the future, a clone stays behind.
    assert_eq!(send(Some(&token)).await, (200, 1));
    // Known, absent or refused: decided at once, nothing cloned.
    assert_eq!(send(Some(&token)).await, (200, 0));
    assert_eq!(send(None).await, (200, 0));
    assert_eq!(send(Some("Basic dXNlcjpwYXNz")).await, (401, 0));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
