//! A gRPC notes service on tonic, each method protected as API Gateway's Cognito
//! authorizer would protect it, refusals answered as gRPC statuses.
//!
//! | method                          | token                                 |
//! |---------------------------------|---------------------------------------|
//! | `/notes.v1.Notes/List`          | access token with scope `notes/read`  |
//! | `/notes.v1.Notes/Create`        | access token with scope `notes/write` |
//! | `/grpc.health.v1.Health/Check`  | none (public)                         |
//! | anything else                   | refused, `UNIMPLEMENTED`              |
//!
//! ```text
//! cargo run --example grpc
//! ```
//!
//! It starts a local user pool (the `test-util` kit), listens on `BIND`
//! (default `127.0.0.1:50051`), calls itself with its own tonic client to show
//! each answer, and prints tokens and `grpcurl` commands to try.
//!
//! The service is defined by `examples/proto/notes.proto`; the message types
//! and the service below are written by hand after it (prost's derive, tonic's
//! `server::Grpc` and `client::Grpc`), so the build needs no `protoc`. The
//! health service is tonic-health's.

use std::convert::Infallible;
use std::error::Error;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Bytes, Context, Poll, Service, StdError, http};
use tonic::metadata::MetadataValue;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, IntoRequest, Request, Response, Status};
use tonic_prost::ProstCodec;
use tower_cognito::grpc::GrpcAuthLayer;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{Claims, ConfigError, Requirement, Verifier};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// The messages of `examples/proto/notes.proto`, package `notes.v1`.
pub mod proto {
    /// `notes.v1.Note`.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct Note {
        /// Unique across all users.
        #[prost(int64, tag = "1")]
        pub id: i64,
        /// What the user wrote.
        #[prost(string, tag = "2")]
        pub content: String,
        /// The `sub` of the token that created it.
        #[prost(string, tag = "3")]
        pub owner: String,
    }

    /// `notes.v1.ListNotesRequest`.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct ListNotesRequest {}

    /// `notes.v1.ListNotesResponse`.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct ListNotesResponse {
        /// The caller's notes, oldest first.
        #[prost(message, repeated, tag = "1")]
        pub notes: Vec<Note>,
    }

    /// `notes.v1.CreateNoteRequest`.
    #[derive(Clone, PartialEq, Eq, prost::Message)]
    pub struct CreateNoteRequest {
        /// What to write.
        #[prost(string, tag = "1")]
        pub content: String,
    }
}

use proto::{CreateNoteRequest, ListNotesRequest, ListNotesResponse, Note};

/// Scope that lets a caller list their notes.
pub const READ_SCOPE: &str = "notes/read";
/// Scope that lets a caller create notes.
pub const WRITE_SCOPE: &str = "notes/write";
/// The service's name, as in the `.proto`.
pub const SERVICE: &str = "notes.v1.Notes";
/// The `List` method's path.
pub const LIST: &str = "/notes.v1.Notes/List";
/// The `Create` method's path.
pub const CREATE: &str = "/notes.v1.Notes/Create";
/// The standard health check's path.
pub const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
/// Longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 10_000;

/// The table: each method with the requirement API Gateway would give it. Any
/// method not named (the health service's `Watch`, a method added to the
/// service later) is refused until it is added here.
pub fn auth(verifier: Verifier) -> Result<GrpcAuthLayer, ConfigError> {
    GrpcAuthLayer::new(verifier)
        .method(LIST, Requirement::any_scope([READ_SCOPE]))?
        .method(CREATE, Requirement::any_scope([WRITE_SCOPE]))?
        .public(HEALTH_CHECK)
}

/// The notes of every user, in memory.
#[derive(Clone, Debug, Default)]
pub struct Notes {
    store: Arc<Mutex<Vec<Note>>>,
}

/// The caller, as the layer verified it: the token's `sub` (never the
/// username, which can be reassigned).
fn caller<T>(request: &Request<T>) -> Result<String, Status> {
    match request.extensions().get::<Claims>() {
        Some(claims) => Ok(claims.sub().to_owned()),
        // Only when the service is served without the layer: refuse.
        None => Err(Status::unauthenticated("no verified caller")),
    }
}

impl Notes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Note>> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `List`: the caller's notes.
    pub fn list(
        &self,
        request: Request<ListNotesRequest>,
    ) -> Result<Response<ListNotesResponse>, Status> {
        let owner = caller(&request)?;
        let notes = self
            .lock()
            .iter()
            .filter(|n| n.owner == owner)
            .cloned()
            .collect();
        Ok(Response::new(ListNotesResponse { notes }))
    }

    /// `Create`: a new note for the caller.
    pub fn create(&self, request: Request<CreateNoteRequest>) -> Result<Response<Note>, Status> {
        let owner = caller(&request)?;
        let content = request.into_inner().content;
        if content.trim().is_empty() || content.chars().count() > MAX_NOTE_CHARS {
            return Err(Status::invalid_argument(format!(
                "content must be 1 to {MAX_NOTE_CHARS} characters"
            )));
        }
        let mut store = self.lock();
        let note = Note {
            id: store.last().map_or(1, |n| n.id + 1),
            content,
            owner,
        };
        store.push(note.clone());
        tracing::info!(id = note.id, owner = %note.owner, "note created");
        Ok(Response::new(note))
    }
}

/// The tonic service for `notes.v1.Notes`, written the way tonic's code
/// generator writes one: the method is chosen by the request's path, and
/// `tonic::server::Grpc` decodes the request and encodes the answer.
#[derive(Clone, Debug, Default)]
pub struct NotesServer {
    notes: Notes,
}

impl NotesServer {
    /// The service over these notes.
    pub fn new(notes: Notes) -> Self {
        Self { notes }
    }
}

impl NamedService for NotesServer {
    const NAME: &'static str = SERVICE;
}

impl<B> Service<http::Request<B>> for NotesServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let notes = self.notes.clone();
        match request.uri().path() {
            LIST => Box::pin(async move {
                let method = tower::service_fn(move |r| std::future::ready(notes.list(r)));
                let mut grpc = tonic::server::Grpc::new(ProstCodec::default());
                Ok(grpc.unary(method, request).await)
            }),
            CREATE => Box::pin(async move {
                let method = tower::service_fn(move |r| std::future::ready(notes.create(r)));
                let mut grpc = tonic::server::Grpc::new(ProstCodec::default());
                Ok(grpc.unary(method, request).await)
            }),
            _ => Box::pin(async { Ok(Status::unimplemented("").into_http()) }),
        }
    }
}

/// A client for `notes.v1.Notes`, over any tonic transport.
#[derive(Clone, Debug)]
pub struct NotesClient<T> {
    inner: tonic::client::Grpc<T>,
}

impl NotesClient<Channel> {
    /// Connects over plaintext HTTP/2.
    pub async fn connect(addr: SocketAddr) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect()
            .await?;
        Ok(Self::new(channel))
    }
}

impl<T> NotesClient<T>
where
    T: tonic::client::GrpcService<Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<StdError> + Send,
{
    /// A client over this transport.
    pub fn new(inner: T) -> Self {
        Self {
            inner: tonic::client::Grpc::new(inner),
        }
    }

    async fn unary<M1, M2>(
        &mut self,
        request: Request<M1>,
        path: &'static str,
    ) -> Result<Response<M2>, Status>
    where
        M1: prost::Message + Send + Sync + 'static,
        M2: prost::Message + Default + Send + Sync + 'static,
    {
        self.inner
            .ready()
            .await
            .map_err(|e| Status::unknown(format!("service was not ready: {}", e.into())))?;
        let path = http::uri::PathAndQuery::from_static(path);
        self.inner.unary(request, path, ProstCodec::default()).await
    }

    /// Calls `List`.
    pub async fn list(
        &mut self,
        request: impl IntoRequest<ListNotesRequest>,
    ) -> Result<Response<ListNotesResponse>, Status> {
        self.unary(request.into_request(), LIST).await
    }

    /// Calls `Create`.
    pub async fn create(
        &mut self,
        request: impl IntoRequest<CreateNoteRequest>,
    ) -> Result<Response<Note>, Status> {
        self.unary(request.into_request(), CREATE).await
    }
}

/// A request carrying `token` in the `authorization` metadata.
pub fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}")).expect("a JWT is visible ASCII");
    request.metadata_mut().insert("authorization", value);
    request
}

/// Both services, the notes and tonic-health's (reporting the notes service as
/// serving), ready for `Server::add_routes`.
pub async fn routes(notes: Notes) -> Routes {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<NotesServer>().await;
    Routes::new(health).add_service(NotesServer::new(notes))
}

/// Serves the notes and the health check on `listener`, behind `auth`, until
/// `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    auth: GrpcAuthLayer,
    notes: Notes,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .layer(auth)
        .add_routes(routes(notes).await)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
}

/// How a call went, in one line.
fn outcome<T>(result: Result<Response<T>, Status>, ok: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(response) => format!("OK: {}", ok(response.into_inner())),
        Err(status) => format!(
            "{:?} ({}): {:?}",
            status.code(),
            status.code() as i32,
            status.message()
        ),
    }
}

/// Calls the server with the example's own client, one line per call.
async fn demo(addr: SocketAddr, writer: &str, reader: &str) -> Result<(), Box<dyn Error>> {
    let mut client = NotesClient::connect(addr).await?;
    let note = CreateNoteRequest {
        content: "hello from the grpc example".to_owned(),
    };
    let created = client.create(with_token(note.clone(), writer)).await;
    println!(
        "  Create as alice                      -> {}",
        outcome(created, |n| format!(
            "note {} {:?}, owner {}",
            n.id, n.content, n.owner
        ))
    );
    let listed = client.list(with_token(ListNotesRequest {}, writer)).await;
    println!(
        "  List as alice                        -> {}",
        outcome(listed, |r| format!("{} note(s)", r.notes.len()))
    );
    let anonymous = client.list(ListNotesRequest {}).await;
    println!(
        "  List without a token                 -> {}",
        outcome(anonymous, |_| String::new())
    );
    let denied = client.create(with_token(note, reader)).await;
    println!(
        "  Create as bob (only notes/read)      -> {}",
        outcome(denied, |_| String::new())
    );

    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let checked = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: SERVICE.to_owned(),
        })
        .await;
    println!(
        "  Health check without a token         -> {}",
        outcome(checked, |r| format!("{:?}", r.status()))
    );
    let watched = health
        .watch(tonic_health::pb::HealthCheckRequest::default())
        .await;
    println!(
        "  Health watch (not in the table)      -> {}",
        outcome(watched, |_| String::new())
    );
    Ok(())
}

fn print_commands(pool: &LocalUserPool, addr: SocketAddr, writer: &str, reader: &str) {
    let code = |c: Code| format!("{c:?} ({})", c as i32);
    println!(
        r#"
Tokens (valid for one hour) for alice ({READ_SCOPE} {WRITE_SCOPE}) and bob ({READ_SCOPE}); paste into a shell:

ALICE='{writer}'
BOB='{reader}'

With grpcurl (https://github.com/fullstorydev/grpcurl), from the crate's directory:

# create a note (OK), then list alice's notes (OK)
grpcurl -plaintext -import-path examples/proto -proto notes.proto -H "authorization: Bearer $ALICE" -d '{{"content":"my first note"}}' {addr} {SERVICE}/Create
grpcurl -plaintext -import-path examples/proto -proto notes.proto -H "authorization: Bearer $ALICE" {addr} {SERVICE}/List
# no token: {unauthenticated}
grpcurl -plaintext -import-path examples/proto -proto notes.proto {addr} {SERVICE}/List
# bob may read but not write: {denied}
grpcurl -plaintext -import-path examples/proto -proto notes.proto -H "authorization: Bearer $BOB" -d '{{"content":"x"}}' {addr} {SERVICE}/Create
# the health check is public (SERVING)
grpcurl -plaintext -import-path examples/proto -proto health.proto -d '{{"service":"{SERVICE}"}}' {addr} grpc.health.v1.Health/Check

Local user pool {pool_id}, keys at {jwks}. Ctrl-C stops the server."#,
        unauthenticated = code(Code::Unauthenticated),
        denied = code(Code::PermissionDenied),
        pool_id = pool.pool_id(),
        jwks = pool.jwks_url(),
    );
}

async fn run() -> Result<(), String> {
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:50051".to_owned());
    let pool = LocalUserPool::start()
        .await
        .map_err(|e| format!("cannot start the local user pool: {e}"))?;
    let auth = auth(pool.verifier()).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| {
        format!(
            "cannot listen on {bind}: {e} (set BIND to another address, such as 127.0.0.1:50052)"
        )
    })?;
    let mut addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, "notes gRPC service listening");
    // Calls go to loopback when listening on every address.
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let server = tokio::spawn(serve(listener, auth, Notes::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    }));

    let writer = pool
        .access_token()
        .username("alice")
        .scopes([READ_SCOPE, WRITE_SCOPE])
        .sign();
    let reader = pool
        .access_token()
        .username("bob")
        .scopes([READ_SCOPE])
        .sign();
    println!("\nThe example's own tonic client, calling {addr}:");
    demo(addr, &writer, &reader)
        .await
        .map_err(|e| format!("the demonstration calls failed: {e}"))?;
    print_commands(&pool, addr, &writer, &reader);

    match server.await {
        Ok(result) => result.map_err(|e| format!("server error: {e}")),
        Err(e) => Err(format!("server task failed: {e}")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // Why each call was refused (the crate logs it at debug), without the
    // HTTP/2 frames that h2 logs at debug too.
    let filter = Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("tower_cognito", tracing::Level::DEBUG);
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
