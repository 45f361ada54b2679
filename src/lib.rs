//! Amazon Cognito user pool authorization for Tower and axum services, with the
//! semantics of Amazon API Gateway's Cognito authorizer.
//!
//! Wrap a router or any Tower service with [`CognitoAuthLayer`]: every request's
//! token is verified against the user pool's keys ([`Verifier`]), the route's
//! [`Requirement`] (token use, OAuth scopes, groups, app clients) is enforced,
//! rejections get API Gateway's exact responses (or RFC 6750's, see
//! [`Responses`]), and the handler receives the caller's [`Claims`].
//!
//! # Quickstart (axum)
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tower_cognito::{Claims, CognitoAuthLayer, Requirement, UserPool, Verifier};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let verifier = Verifier::builder()
//!         .pool(UserPool::new("us-east-1_AbCdEfGhI"))
//!         .client_id("1example23456789")
//!         .build()?;
//!     verifier.prefetch().await?; // fail fast on a wrong pool id or an unreachable JWKS
//!     let auth = CognitoAuthLayer::new(verifier);
//!
//!     let app = Router::new()
//!         // A method without scopes: an ID token.
//!         .route("/me", get(|claims: Claims| async move { claims.sub().to_owned() }))
//!         .route_layer(auth.clone())
//!         // A method with scopes: an access token holding any one of them.
//!         .merge(
//!             Router::new()
//!                 .route("/notes", get(|c: Claims| async move { format!("notes of {}", c.sub()) }))
//!                 .route_layer(auth.require(Requirement::any_scope(["notes/read"]))?),
//!         )
//!         // No layer: public.
//!         .route("/health", get(|| async { "ok" }));
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Put the layer on routes with `route_layer` (not `layer`), so that unknown paths
//! stay 404 instead of 401, and take [`Claims`] (or `Option<Claims>` behind an
//! [`optional`](CognitoAuthLayer::optional) layer) as an extractor. Identify users
//! by [`Claims::sub`], never by the username: usernames can be reassigned. Any
//! Tower service works too: the layer puts the [`Claims`] in the request's
//! extensions.
//!
//! # Testing your handlers
//!
//! Build the router in a function that takes the layer, so that tests hand it a
//! layer on a [`test_util::LocalUserPool`] (real RSA keys and a JWKS endpoint on
//! 127.0.0.1, tokens shaped like Cognito's) and production hands it one on the real
//! pool. A refusal carries its [`AuthError`] in the response's extensions, so a test
//! can tell an expired token from a missing scope without parsing the body.
//!
//! ```toml
//! [dev-dependencies]
//! tower-cognito = { version = "0.1", features = ["test-util"] }
//! tower = { version = "0.5", features = ["util"] } # ServiceExt::oneshot
//! http = "1"
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt as _;
//! use tower_cognito::test_util::LocalUserPool;
//! use tower_cognito::{AuthError, AuthErrorKind, Claims, CognitoAuthLayer, ConfigError, Requirement};
//!
//! fn app(auth: &CognitoAuthLayer) -> Result<Router, ConfigError> {
//!     Ok(Router::new()
//!         .route("/notes", get(|c: Claims| async move { format!("notes of {}", c.sub()) }))
//!         .route_layer(auth.clone().require(Requirement::any_scope(["notes/read"]))?))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In a test file: #[tokio::test] async fn notes_need_the_read_scope() { ... }
//! let pool = LocalUserPool::start().await?;
//! let app = app(&CognitoAuthLayer::new(pool.verifier()))?;
//! let get = |token: String| {
//!     Request::get("/notes")
//!         .header("authorization", format!("Bearer {token}"))
//!         .body(Body::empty())
//! };
//!
//! // The scope: the handler runs.
//! let token = pool.access_token().sub("user-1").scopes(["notes/read"]).sign();
//! let response = app.clone().oneshot(get(token)?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
//! assert_eq!(body, "notes of user-1");
//!
//! // Another scope: API Gateway's 401 (a REST API answers a missing scope as it
//! // answers a bad token), and the reason in the extensions.
//! let token = pool.access_token().scopes(["notes/write"]).sign();
//! let response = app.clone().oneshot(get(token)?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! let error = response.extensions().get::<AuthError>().expect("a refusal");
//! assert_eq!(error.kind(), AuthErrorKind::InsufficientScope);
//!
//! // An expired token: 401 with API Gateway's body.
//! let token = pool.access_token().scopes(["notes/read"]).expired().sign();
//! let response = app.oneshot(get(token)?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.extensions().get::<AuthError>().map(AuthError::kind), Some(AuthErrorKind::Expired));
//! let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
//! assert_eq!(body, r#"{"message":"The incoming token has expired"}"#);
//! # Ok(()) }
//! ```
//!
//! The rules are the REST API's `COGNITO_USER_POOLS` authorizer's by default;
//! [`CognitoAuthLayer::http_api`] takes the HTTP API JWT authorizer's instead
//! (see [`Profile`]).
//!
//! # Features
//!
//! - `aws-lc-rs` (default): signatures checked with aws-lc-rs. `rust-crypto`:
//!   with RustCrypto, through jsonwebtoken's provider (jsonwebtoken is a
//!   dependency only then). With both on, aws-lc-rs is used; with neither, the
//!   crate does not compile.
//! - `axum` (default): [`Claims`] and `Option<Claims>` as axum extractors.
//! - `openapi`: import of API Gateway OpenAPI 3.0 / Swagger 2.0 exports.
//! - `alb`: [`alb`], verification of an Application Load Balancer's signed user
//!   claims (`x-amzn-oidc-data`) and its access token, behind [`alb::AlbAuthLayer`].
//! - `grpc`: [`grpc::GrpcAuthLayer`], a per-method table for tonic servers, and
//!   [`Responses::grpc`], refusals as gRPC statuses. Pulls in no gRPC crate.
//! - `test-util`: [`test_util::LocalUserPool`], a user pool for tests.
//! - `lambda`: [`lambda::Authorizer`], an API Gateway Lambda authorizer (TOKEN
//!   and REQUEST) that verifies Cognito tokens and answers with an IAM policy,
//!   on `lambda_runtime`. The layer itself runs on Lambda without it, under
//!   `lambda_http`.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The walls: `verifier` (tokens, keys, claims; no HTTP service) is below,
// `auth` (the Tower layer, requirements, responses) stands on it, and the
// integrations (`axum`, `openapi`, `alb`, `grpc`, `lambda`, `test_util`) are on
// top, behind their features. `defaults`, `error` and `observe` are shared by
// all of them, and `setters` by the two verifiers' builders.
#[cfg(feature = "alb")]
pub mod alb;
mod auth;
#[cfg(feature = "axum")]
mod axum;
mod defaults;
mod error;
#[cfg(feature = "grpc")]
pub mod grpc;
#[cfg(feature = "lambda")]
pub mod lambda;
mod observe;
#[cfg(feature = "openapi")]
pub mod openapi;
mod setters;
mod verifier;

#[cfg(any(test, feature = "test-util"))]
pub mod test_util;

/// Entry points for the fuzz targets under `fuzz/`, where going through the public
/// API would take a JWKS fetch per input. Not part of the API: hidden, behind
/// `test-util`, and free to change in any release.
#[cfg(feature = "test-util")]
#[doc(hidden)]
pub mod __fuzz {
    /// Reads a JWKS body as a key-set fetch reads it: the sorted `kid`s of the keys
    /// kept, or why the whole document is refused.
    pub fn jwks_kids(body: &[u8]) -> Result<Vec<String>, String> {
        let url = url::Url::parse("https://fuzz.invalid/.well-known/jwks.json").expect("a URL");
        let mut kids: Vec<String> = crate::verifier::keys::parse_jwks(body, &url)?
            .into_keys()
            .collect();
        kids.sort_unstable();
        Ok(kids)
    }
}

#[cfg(feature = "axum")]
pub use self::axum::MissingClaims;
pub use auth::{
    CognitoAuth, CognitoAuthLayer, Profile, RequestHead, Requirement, ResponseBody, ResponseFuture,
    Responses, TokenSource, TokenUseRule,
};
pub use error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};
pub use verifier::{
    ApiGatewayClaims, Claims, ClaimsError, DEFAULT_MAX_JWKS_SIZE, DEFAULT_MAX_TOKEN_SIZE,
    DEFAULT_TOKEN_CACHE_CAPACITY, HttpApiClaims, JwksFuture, JwksProvider, PoolReadiness,
    Readiness, Revocation, RevocationError, RevocationList, Revoked, TokenUse, UserPool, Verifier,
    VerifierBuilder,
};

// What a multi-threaded server needs, checked at compile time: the shared parts
// are `Send + Sync` and, where their docs promise cheap clones (a Tower layer and
// service are cloned per connection), `Clone`. The response future is `Send`: a
// future is polled by one task at a time, and the boxed verification it may hold
// is `Send` only, as is usual for futures.
const _: fn() = || {
    use tower_service_fn_stand_in::Service;
    fn shared<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    shared::<Verifier>();
    shared::<CognitoAuthLayer>();
    shared::<CognitoAuth<Service>>();
    send::<ResponseFuture<Service, ()>>();
    send::<ResponseBody<()>>();
    #[cfg(feature = "openapi")]
    {
        shared::<openapi::RouteTableLayer>();
        shared::<openapi::RouteTable<Service>>();
    }
    // The gRPC table, which a tonic server clones onto every connection.
    #[cfg(feature = "grpc")]
    {
        shared::<grpc::GrpcAuthLayer>();
        shared::<grpc::GrpcAuth<Service>>();
    }
    #[cfg(feature = "alb")]
    {
        shared::<alb::AlbVerifier>();
        shared::<alb::AlbAuthLayer>();
        shared::<alb::AlbAuth<Service>>();
    }
    #[cfg(feature = "lambda")]
    shared::<lambda::Authorizer>();
};

/// A `Send + Sync` service, for the assertions above.
mod tower_service_fn_stand_in {
    use std::convert::Infallible;
    use std::future::Ready;
    use std::task::{Context, Poll};

    #[derive(Clone, Debug)]
    pub(crate) struct Service;

    impl tower_service::Service<http::Request<()>> for Service {
        type Response = http::Response<()>;
        type Error = Infallible;
        type Future = Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::ready(Ok(http::Response::new(())))
        }
    }
}

/// The README's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
