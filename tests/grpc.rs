//! The grpc example's service behind the gRPC table, served by tonic on
//! 127.0.0.1 and called with a real tonic client over HTTP/2: accepted calls
//! reach the method with the caller's claims, refusals are exact gRPC statuses
//! and never reach it.

#[allow(dead_code)]
#[path = "../examples/grpc.rs"]
mod example;

use bytes::Bytes;
use example::proto::{CreateNoteRequest, ListNotesRequest};
use example::{
    CREATE, HEALTH_CHECK, LIST, NotesClient, READ_SCOPE, SERVICE, WRITE_SCOPE, with_token,
};
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use tower::{Layer, Service, ServiceExt};
use tower_cognito::grpc::GrpcAuthLayer;
use tower_cognito::test_util::{JwksBehavior, LocalUserPool, SigningKey};
use tower_cognito::{CognitoAuthLayer, Requirement, ResponseBody, Responses};

mod support;

const MISSING: &str = "missing bearer token";
const INVALID: &str = "the token is not valid";
const EXPIRED: &str = "the token has expired";
const WRONG_KIND: &str = "the token is not of the kind this method takes";
const UNREADABLE: &str = "the request does not carry exactly one readable bearer token";
const NO_SCOPE: &str = "the token lacks the required scope";
const NO_KEYS: &str = "the keys to verify the token are unavailable";
const UNKNOWN: &str = "unknown method";

/// The example's services, counting the calls that get past the layer.
#[derive(Clone)]
struct Counting {
    inner: Routes,
    calls: Arc<AtomicUsize>,
}

impl Service<http::Request<Body>> for Counting {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = <Routes as Service<http::Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<http::Request<Body>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.call(request)
    }
}

/// A tonic server on 127.0.0.1, stopped when dropped.
struct TestServer {
    server: support::Server,
    calls: Arc<AtomicUsize>,
}

impl TestServer {
    /// Serves the example's services, wrapped by `layer`, with tonic's server.
    async fn start<L>(layer: L) -> Self
    where
        L: Layer<Counting>,
        L::Service: Service<
                http::Request<Body>,
                Response = http::Response<ResponseBody<Body>>,
                Error = Infallible,
            > + Clone
            + Send
            + 'static,
        <L::Service as Service<http::Request<Body>>>::Future: Send + 'static,
    {
        let calls = Arc::new(AtomicUsize::new(0));
        let service = layer.layer(Counting {
            inner: example::routes(example::Notes::default()).await.prepare(),
            calls: Arc::clone(&calls),
        });
        let server = support::spawn(|listener, shutdown| async move {
            Server::builder()
                .serve_with_incoming_shutdown(service, TcpIncoming::from(listener), shutdown)
                .await
                .unwrap();
        })
        .await;
        Self { server, calls }
    }

    async fn channel(&self) -> Channel {
        support::grpc_channel(self.server.addr).await
    }

    async fn client(&self) -> NotesClient<Channel> {
        NotesClient::new(self.channel().await)
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// The status of a refused call, checked to be exactly the crate's answer:
/// the code, the message, `content-type: application/grpc`, and nothing of
/// the token in what came back.
fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    message: &str,
    token: &str,
) {
    let status = result.expect_err("the call is refused");
    assert_eq!((status.code(), status.message()), (code, message));
    let metadata = status.metadata();
    assert_eq!(metadata.get("content-type").unwrap(), "application/grpc");
    // tonic moves grpc-status and grpc-message out of the metadata into the status.
    assert!(metadata.get("grpc-status").is_none());
    assert!(status.details().is_empty());
    if !token.is_empty() {
        let everything = format!("{status:?}");
        assert!(
            !everything.contains(token),
            "token material in {everything}"
        );
    }
}

fn note(content: &str) -> CreateNoteRequest {
    CreateNoteRequest {
        content: content.to_owned(),
    }
}

async fn example_table(pool: &LocalUserPool) -> TestServer {
    TestServer::start(example::auth(pool.verifier()).unwrap()).await
}

#[tokio::test]
async fn accepted_calls_reach_the_method_with_the_callers_claims() {
    let pool = LocalUserPool::start().await.unwrap();
    let server = example_table(&pool).await;
    let mut client = server.client().await;
    let writer = pool
        .access_token()
        .sub("user-1")
        .scopes([WRITE_SCOPE])
        .sign();
    let reader = pool
        .access_token()
        .sub("user-1")
        .scopes([READ_SCOPE])
        .sign();
    let other = pool
        .access_token()
        .sub("user-2")
        .scopes([READ_SCOPE])
        .sign();

    let created = client
        .create(with_token(note("first"), &writer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((created.id, created.content.as_str()), (1, "first"));
    // The method read the sub from the claims the layer put in the extensions.
    assert_eq!(created.owner, "user-1");

    let listed = client
        .list(with_token(ListNotesRequest {}, &reader))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.notes, [created]);
    let theirs = client
        .list(with_token(ListNotesRequest {}, &other))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.notes.is_empty());
    // The same token again: answered from the verified-token cache, same claims.
    let again = client
        .list(with_token(ListNotesRequest {}, &reader))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.notes.len(), 1);
    assert_eq!(server.calls(), 4);

    // Public: no token needed.
    let mut health = HealthClient::new(server.channel().await);
    let checked = health
        .check(HealthCheckRequest {
            service: SERVICE.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.status(), ServingStatus::Serving);
    assert_eq!(server.calls(), 5);
}

#[tokio::test]
async fn missing_or_bad_tokens_are_unauthenticated() {
    let pool = LocalUserPool::start().await.unwrap();
    let server = example_table(&pool).await;
    let mut client = server.client().await;

    assert_refused(
        client.list(ListNotesRequest {}).await,
        Code::Unauthenticated,
        MISSING,
        "",
    );

    let garbage = "not-a-jwt";
    assert_refused(
        client.list(with_token(ListNotesRequest {}, garbage)).await,
        Code::Unauthenticated,
        INVALID,
        garbage,
    );

    let expired = pool.access_token().scopes([READ_SCOPE]).expired().sign();
    assert_refused(
        client.list(with_token(ListNotesRequest {}, &expired)).await,
        Code::Unauthenticated,
        EXPIRED,
        &expired,
    );

    // From another pool: its issuer is not trusted, its key not published.
    let stranger = LocalUserPool::start().await.unwrap();
    let forged = stranger.access_token().scopes([READ_SCOPE]).sign();
    assert_refused(
        client.list(with_token(ListNotesRequest {}, &forged)).await,
        Code::Unauthenticated,
        INVALID,
        &forged,
    );

    // The pool's issuer, a key it never published.
    let unpublished = SigningKey::generate("unpublished");
    let forged = pool
        .access_token()
        .scopes([READ_SCOPE])
        .signed_by(&unpublished)
        .sign();
    assert_refused(
        client.list(with_token(ListNotesRequest {}, &forged)).await,
        Code::Unauthenticated,
        INVALID,
        &forged,
    );

    // A good token with its signature altered.
    let good = pool.access_token().scopes([READ_SCOPE]).sign();
    let (signed, signature) = good.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
    assert_refused(
        client
            .list(with_token(ListNotesRequest {}, &tampered))
            .await,
        Code::Unauthenticated,
        INVALID,
        &tampered,
    );

    // An ID token where the method takes an access token (API Gateway: 401).
    let id = pool.id_token().sign();
    assert_refused(
        client.list(with_token(ListNotesRequest {}, &id)).await,
        Code::Unauthenticated,
        WRONG_KIND,
        &id,
    );

    // Another scheme than Bearer.
    let mut request = tonic::Request::new(ListNotesRequest {});
    request
        .metadata_mut()
        .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    assert_refused(
        client.list(request).await,
        Code::Unauthenticated,
        UNREADABLE,
        "dXNlcjpwYXNz",
    );

    assert_eq!(server.calls(), 0, "no refused call reached the service");
}

#[tokio::test]
async fn a_token_without_the_methods_scope_is_permission_denied() {
    let pool = LocalUserPool::start().await.unwrap();
    let server = example_table(&pool).await;
    let mut client = server.client().await;
    let reader = pool.access_token().scopes([READ_SCOPE]).sign();
    assert_refused(
        client.create(with_token(note("x"), &reader)).await,
        Code::PermissionDenied,
        NO_SCOPE,
        &reader,
    );
    let writer = pool.access_token().scopes([WRITE_SCOPE]).sign();
    assert_refused(
        client.list(with_token(ListNotesRequest {}, &writer)).await,
        Code::PermissionDenied,
        NO_SCOPE,
        &writer,
    );
    assert_eq!(server.calls(), 0);
}

#[tokio::test]
async fn a_key_set_outage_is_unavailable() {
    let pool = LocalUserPool::start().await.unwrap();
    pool.server().set_behavior(JwksBehavior::Status(503));
    let server = example_table(&pool).await;
    let mut client = server.client().await;
    let reader = pool.access_token().scopes([READ_SCOPE]).sign();
    assert_refused(
        client.list(with_token(ListNotesRequest {}, &reader)).await,
        Code::Unavailable,
        NO_KEYS,
        &reader,
    );
    assert!(pool.server().requests() >= 1, "the keys were asked for");
    assert_eq!(server.calls(), 0);
}

/// A table that names two methods: `List` (the read scope) and the health check
/// (public).
fn list_and_health(pool: &LocalUserPool) -> GrpcAuthLayer {
    GrpcAuthLayer::new(pool.verifier())
        .method(LIST, Requirement::any_scope([READ_SCOPE]))
        .unwrap()
        .public(HEALTH_CHECK)
        .unwrap()
}

#[tokio::test]
async fn methods_the_table_does_not_name_are_unimplemented() {
    let pool = LocalUserPool::start().await.unwrap();
    // Create is served but not named: refused, even with the right token.
    let table = list_and_health(&pool);
    let server = TestServer::start(table.clone()).await;
    let mut client = server.client().await;
    let writer = pool.access_token().scopes([WRITE_SCOPE]).sign();
    assert_refused(
        client.create(with_token(note("x"), &writer)).await,
        Code::Unimplemented,
        UNKNOWN,
        &writer,
    );
    // The health service's Watch is served by tonic-health but not named.
    let mut health = HealthClient::new(server.channel().await);
    let watched = health.watch(HealthCheckRequest::default()).await;
    assert_refused(watched, Code::Unimplemented, UNKNOWN, "");
    assert_eq!(server.calls(), 0);

    // With a default, methods not named take it; the named ones keep theirs.
    let server = TestServer::start(
        table
            .default(Requirement::any_scope([WRITE_SCOPE]))
            .unwrap(),
    )
    .await;
    let mut client = server.client().await;
    let created = client.create(with_token(note("x"), &writer)).await.unwrap();
    assert_eq!(created.into_inner().content, "x");
    assert_refused(
        client.list(with_token(ListNotesRequest {}, &writer)).await,
        Code::PermissionDenied,
        NO_SCOPE,
        &writer,
    );
    assert_refused(
        client.create(note("y")).await,
        Code::Unauthenticated,
        MISSING,
        "",
    );
    assert_eq!(server.calls(), 1);
}

/// A raw gRPC call over the tonic channel (HTTP/2), to see the answer as sent.
async fn raw_call(server: &TestServer, path: &str, token: Option<&str>) -> http::Response<Body> {
    // One empty, uncompressed message: flag 0, length 0.
    let frame = http_body_util::Full::new(Bytes::from_static(&[0, 0, 0, 0, 0]));
    let mut request = http::Request::post(server.server.url(path))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Body::new(frame)).unwrap();
    server.channel().await.oneshot(request).await.unwrap()
}

#[tokio::test]
async fn refusals_are_trailers_only_responses_on_the_wire() {
    let pool = LocalUserPool::start().await.unwrap();
    let server = example_table(&pool).await;
    let reader = pool.access_token().scopes([READ_SCOPE]).sign();
    for (path, token, code, message) in [
        (LIST, None, "16", MISSING),
        (LIST, Some("a.b.c"), "16", INVALID),
        (CREATE, Some(reader.as_str()), "7", NO_SCOPE),
        (
            "/notes.v1.Notes/Delete",
            Some(reader.as_str()),
            "12",
            UNKNOWN,
        ),
        (
            "/notes.v1.Notes/List/",
            Some(reader.as_str()),
            "12",
            UNKNOWN,
        ),
    ] {
        let response = raw_call(&server, path, token).await;
        assert_eq!(response.status(), http::StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], "application/grpc", "{path}");
        assert_eq!(headers["grpc-status"], code, "{path}");
        assert_eq!(headers["grpc-message"], message, "{path}");
        let grpc: Vec<_> = headers
            .keys()
            .filter(|k| k.as_str().starts_with("grpc-"))
            .collect();
        assert_eq!(grpc, ["grpc-status", "grpc-message"], "{path}");
        // Trailers-only: the HEADERS frame ends the stream; no message, no trailers.
        let mut body = response.into_body();
        assert!(http_body::Body::is_end_stream(&body), "{path}");
        assert!(body.frame().await.is_none(), "{path}");
    }
    assert_eq!(server.calls(), 0);

    // An accepted call, for contrast: the status comes in the trailers.
    let response = raw_call(&server, LIST, Some(&reader)).await;
    assert!(response.headers().get("grpc-status").is_none());
    assert!(!http_body::Body::is_end_stream(response.body()));
    let trailers = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .trailers()
        .cloned()
        .unwrap();
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn one_requirement_for_every_method_with_cognito_auth_layer() {
    let pool = LocalUserPool::start().await.unwrap();
    let auth = CognitoAuthLayer::new(pool.verifier())
        .responses(Responses::grpc())
        .require(Requirement::any_scope([READ_SCOPE]))
        .unwrap();
    let server = TestServer::start(auth).await;
    let mut client = server.client().await;
    let reader = pool
        .access_token()
        .sub("user-9")
        .scopes([READ_SCOPE])
        .sign();
    let created = client.create(with_token(note("z"), &reader)).await.unwrap();
    assert_eq!(created.into_inner().owner, "user-9");
    assert_refused(
        client.list(ListNotesRequest {}).await,
        Code::Unauthenticated,
        MISSING,
        "",
    );
    let writer = pool.access_token().scopes([WRITE_SCOPE]).sign();
    assert_refused(
        client.list(with_token(ListNotesRequest {}, &writer)).await,
        Code::PermissionDenied,
        NO_SCOPE,
        &writer,
    );
    // Every method, the health check too.
    let mut health = HealthClient::new(server.channel().await);
    let checked = health.check(HealthCheckRequest::default()).await;
    assert_refused(checked, Code::Unauthenticated, MISSING, "");
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn the_example_serves_behind_its_table_with_tonics_server_layer() {
    let pool = LocalUserPool::start().await.unwrap();
    let auth = example::auth(pool.verifier()).unwrap();
    let server = support::spawn(|listener, shutdown| async move {
        example::serve(listener, auth, example::Notes::default(), shutdown)
            .await
            .unwrap();
    })
    .await;
    let addr = server.addr;
    let mut client = NotesClient::connect(addr).await.unwrap();
    let token = pool
        .access_token()
        .sub("user-3")
        .scopes([READ_SCOPE, WRITE_SCOPE])
        .sign();
    let created = client
        .create(with_token(note("hello"), &token))
        .await
        .unwrap();
    assert_eq!(created.into_inner().owner, "user-3");
    let listed = client
        .list(with_token(ListNotesRequest {}, &token))
        .await
        .unwrap();
    assert_eq!(listed.into_inner().notes.len(), 1);
    assert_refused(
        client.list(ListNotesRequest {}).await,
        Code::Unauthenticated,
        MISSING,
        "",
    );
    let checked = HealthClient::new(support::grpc_channel(addr).await)
        .check(HealthCheckRequest::default())
        .await
        .unwrap();
    assert_eq!(checked.into_inner().status(), ServingStatus::Serving);
    drop(client);
    server.stop().await;
}

/// The table names each call in metrics by the method path it matched (all
/// configuration): `default` for the default, `unknown` for a refused method,
/// never the path a caller sent.
#[test]
fn calls_are_counted_by_the_method_the_table_matched() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    support::recorded(&recorder, async {
        let pool = LocalUserPool::start().await.unwrap();
        let table = list_and_health(&pool);
        let inner = tower::service_fn(|_: http::Request<String>| async {
            Ok::<_, Infallible>(http::Response::new(String::new()))
        });
        let reader = pool.access_token().scopes([READ_SCOPE]).sign();
        let id = pool.id_token().sign();
        let call = |service: tower_cognito::grpc::GrpcAuth<_>, path: &str, token: Option<&str>| {
            let mut request = http::Request::post(path);
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            service.oneshot(request.body(String::new()).unwrap())
        };
        let service = table.clone().layer(inner);
        call(service.clone(), LIST, Some(&reader)).await.unwrap();
        call(service.clone(), LIST, None).await.unwrap();
        call(service.clone(), HEALTH_CHECK, None).await.unwrap();
        call(service.clone(), "/secret.Service/Probe", None)
            .await
            .unwrap();
        let service = table.default(Requirement::new()).unwrap().layer(inner);
        call(service.clone(), "/notes.v1.Notes/Other", Some(&id))
            .await
            .unwrap();
    });
    let requests: Vec<(String, u64)> = support::Metrics::of(&recorder)
        .counters_named("tower_cognito_requests_total")
        .into_iter()
        .collect();
    // The public health check is not an authorization: not counted.
    assert_eq!(
        requests,
        [
            (
                "route=/notes.v1.Notes/List,outcome=admitted,kind=none".to_owned(),
                1
            ),
            (
                "route=/notes.v1.Notes/List,outcome=refused,kind=missing_token".to_owned(),
                1
            ),
            ("route=default,outcome=admitted,kind=none".to_owned(), 1),
            (
                "route=unknown,outcome=refused,kind=unknown_operation".to_owned(),
                1
            ),
        ]
    );
}
