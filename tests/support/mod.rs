//! Shared by the integration tests: servers on 127.0.0.1 for the length of one
//! test (an axum app, any server a test starts on a listener, a raw TCP server),
//! clients that never go through a proxy, and the requests the tests send; the
//! runtimes and verifiers the tests build by hand, and what they read back (the
//! rejection's kind, metrics from a debugging recorder, captured logs, small
//! OpenAPI definitions).
//!
//! Each test binary uses part of it.
#![allow(dead_code)]

use axum::Router;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{AuthError, AuthErrorKind, Verifier};
use tracing_subscriber::fmt::MakeWriter;

// ---------------------------------------------------------------------------
// Runtimes and verifiers
// ---------------------------------------------------------------------------

/// A runtime like `#[tokio::test]`'s: one thread, driven only inside `block_on`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A runtime with a worker thread of its own, so that the servers spawned on
/// it keep serving between (and outside) calls to `block_on`.
pub fn worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A [`worker_runtime`] built the first time it is asked for and kept for the
/// whole test binary: for what the cases of property tests share (the servers
/// started on it keep serving from one case to the next).
pub fn shared_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(worker_runtime)
}

/// The pool's verifier with the token cache off, so that every verification
/// runs the full check.
pub fn uncached(pool: &LocalUserPool) -> Verifier {
    pool.verifier_builder()
        .token_cache_capacity(0)
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

/// A client builder that ignores the proxy settings of the environment, for
/// tests that configure more (a timeout, a resolver, a proxy of their own).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().no_proxy()
}

/// A client that ignores the proxy settings of the environment.
pub fn client() -> reqwest::Client {
    client_builder().build().unwrap()
}

/// A tonic channel to a gRPC server on `addr` (plain HTTP/2, no proxy).
pub async fn grpc_channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------
// Listeners and servers
// ---------------------------------------------------------------------------

/// A listener on an ephemeral port of 127.0.0.1.
pub async fn listener() -> TcpListener {
    TcpListener::bind(("127.0.0.1", 0)).await.unwrap()
}

/// An address of 127.0.0.1 where nothing listens (a port that was free a moment ago).
pub fn closed_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.local_addr().unwrap()
}

/// Resolves when a [`Server`] is asked to stop: for a server's graceful shutdown.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A running server on 127.0.0.1. `stop` shuts it down gracefully and waits until
/// it has finished (and dropped what it served); dropping it aborts the task.
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client for it.
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server on a fresh loopback listener: `run` gets the listener and the
/// future that resolves when the server should shut down, and returns the
/// server's future (a panic in it fails `Server::stop`).
pub async fn spawn<F, Fut>(run: F) -> Server
where
    F: FnOnce(TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = listener().await;
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown: Shutdown = Box::pin(async {
        let _ = stopped.await;
    });
    let task = tokio::spawn(run(listener, shutdown));
    Server {
        addr,
        base: format!("http://{addr}"),
        client: client(),
        stop: Some(stop),
        task,
    }
}

/// Serves `app` with axum on an ephemeral port of 127.0.0.1.
pub async fn serve(app: Router) -> Server {
    spawn(|listener, shutdown| async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .unwrap();
    })
    .await
}

impl Server {
    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Shuts the server down gracefully and waits until it has finished; fails
    /// if it had finished before.
    pub async fn stop(mut self) {
        let stop = self.stop.take().unwrap();
        assert!(stop.send(()).is_ok(), "the server had stopped already");
        (&mut self.task).await.unwrap();
    }

    /// A request to `path` with this server's client.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// GET `path`, no token.
    pub async fn get(&self, path: &str) -> Answer {
        send(self.request(Method::GET, path)).await
    }

    /// GET `path` with `Authorization: Bearer {token}`.
    pub async fn bearer(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// A request with an optional bearer token and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        json: Option<String>,
    ) -> Answer {
        call(&self.client, method, self.url(path), token, json).await
    }

    /// A request written on the socket exactly as given (`Host`, `Connection: close`
    /// and the bearer token added), for paths a client would normalise: the status
    /// and the body.
    pub async fn raw(&self, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {response:?}"));
        let body = response
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        (status, body)
    }

    /// Runs the `curl -i -w '\n' -X METHOD URL [-H "name: Scheme $VAR"]` commands
    /// of a shell script (after its `VAR='value'` lines) with this server's client,
    /// and returns each command line with its answer.
    pub async fn replay_curl(&self, script: &str) -> Vec<(String, Answer)> {
        let mut variables = std::collections::HashMap::new();
        let mut answers = Vec::new();
        for line in script.lines() {
            if let Some((name, value)) = line.split_once("='") {
                variables.insert(format!("${name}"), value.trim_end_matches('\'').to_owned());
            } else if let Some(command) = line.strip_prefix("curl -i -w '\\n' -X ") {
                let (method, rest) = command.split_once(' ').unwrap();
                let (url, header) = match rest.split_once(" -H \"") {
                    Some((url, header)) => (url, Some(header.trim_end_matches('"'))),
                    None => (rest, None),
                };
                let mut request = self
                    .client
                    .request(Method::from_bytes(method.as_bytes()).unwrap(), url);
                if let Some(header) = header {
                    let (name, value) = header.split_once(": ").unwrap();
                    let (scheme, variable) = value.split_once(' ').unwrap();
                    request = request.header(name, format!("{scheme} {}", variables[variable]));
                }
                answers.push((line.to_owned(), send(request).await));
            }
        }
        answers
    }
}

/// A TCP server on 127.0.0.1 that hands every connection to a handler of the
/// test's and counts them; stopped when dropped.
pub struct RawServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawServer {
    /// Accepts connections on an ephemeral port and runs `handle` on each in a
    /// task of its own.
    pub async fn start<F, Fut>(handle: F) -> Self
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = listener().await;
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handle(stream));
            }
        });
        Self {
            addr,
            connections,
            task,
        }
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many connections it has accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads a request's head, up to and including its blank line (and whatever
/// follows it in the same read); `None` if the connection ends first.
pub async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(head)
}

// ---------------------------------------------------------------------------
// Requests and answers
// ---------------------------------------------------------------------------

/// The header in which [`expose_auth_error`] carries a rejection's kind.
pub const AUTH_ERROR: &str = "x-auth-error";

/// Copies the rejection's `AuthError` (in the response extensions) into the
/// [`AUTH_ERROR`] header as the kind's `Debug` name, so that the kind can be
/// asserted over the socket. For `tower::util::MapResponseLayer::new`.
pub fn expose_auth_error<B>(mut response: http::Response<B>) -> http::Response<B> {
    let kind = response
        .extensions()
        .get::<tower_cognito::AuthError>()
        .map(|e| format!("{:?}", e.kind()));
    if let Some(kind) = kind {
        response
            .headers_mut()
            .insert(AUTH_ERROR, HeaderValue::from_str(&kind).unwrap());
    }
    response
}

/// The kind of the `AuthError` a refusal carries in its extensions (`None`
/// when there is none: the request got through, or something else answered).
pub fn auth_error_kind<B>(response: &http::Response<B>) -> Option<AuthErrorKind> {
    response
        .extensions()
        .get::<AuthError>()
        .map(AuthError::kind)
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The status and the body.
    pub fn status_and_body(self) -> (u16, String) {
        (self.status, self.body)
    }

    /// The status as a `StatusCode`.
    pub fn code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The `WWW-Authenticate` challenge, which must be there.
    pub fn challenge(&self) -> String {
        self.header("www-authenticate")
            .unwrap_or_else(|| panic!("no WWW-Authenticate: {self:?}"))
    }

    /// The rejection's kind in the [`AUTH_ERROR`] header (where
    /// [`expose_auth_error`] writes it).
    pub fn auth_error(&self) -> Option<String> {
        self.header(AUTH_ERROR)
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Sends the request and reads the whole answer.
pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let (mut answer, body) = head(request.send().await.unwrap());
    answer.body = body.await.unwrap();
    answer
}

/// Sends the request: the answer, or the error if it could not be sent or its
/// head not read (a body that cannot be read is empty).
pub async fn try_send(request: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let (mut answer, body) = head(request.send().await?);
    answer.body = body.await.unwrap_or_default();
    Ok(answer)
}

/// The status and headers of a response, and the future of its body.
fn head(response: reqwest::Response) -> (Answer, impl Future<Output = reqwest::Result<String>>) {
    let answer = Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: String::new(),
    };
    (answer, response.text())
}

/// A request with `Authorization: Bearer {token}` when there is a token, and a
/// JSON body (sent as it is, with a JSON content type) when there is one.
pub async fn call(
    client: &reqwest::Client,
    method: Method,
    url: impl reqwest::IntoUrl,
    token: Option<&str>,
    json: Option<String>,
) -> Answer {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = json {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    send(request).await
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/// Runs `test` to the end on a fresh [`runtime`], with `recorder` as this
/// thread's metrics recorder (so nothing else a test binary runs meanwhile
/// counts in it).
pub fn recorded<T>(recorder: &DebuggingRecorder, test: impl Future<Output = T>) -> T {
    let runtime = runtime();
    metrics::with_local_recorder(recorder, || runtime.block_on(test))
}

/// What a debugging recorder holds at one moment: each metric by its name and
/// its labels (`key=value`, joined by commas, in the order they were given).
#[derive(Debug)]
pub struct Metrics(Vec<(String, String, DebugValue)>);

impl Metrics {
    /// The recorder's metrics now.
    pub fn of(recorder: &DebuggingRecorder) -> Self {
        let metrics = recorder
            .snapshotter()
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                (key.name().to_owned(), labels.join(","), value)
            })
            .collect();
        Self(metrics)
    }

    /// Every counter as `name{labels}` → count.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.0
            .iter()
            .filter_map(|(name, labels, value)| match value {
                DebugValue::Counter(count) => Some((format!("{name}{{{labels}}}"), *count)),
                _ => None,
            })
            .collect()
    }

    /// The counters called `name`, as their labels → count.
    pub fn counters_named(&self, name: &str) -> BTreeMap<String, u64> {
        self.0
            .iter()
            .filter_map(|(n, labels, value)| match value {
                DebugValue::Counter(count) if n == name => Some((labels.clone(), *count)),
                _ => None,
            })
            .collect()
    }

    /// The count of the counter `name{labels}`: 0 when it was never counted.
    pub fn counter(&self, key: &str) -> u64 {
        self.counters().get(key).copied().unwrap_or(0)
    }

    /// Every metric as `name{labels}` → its value as text: a counter's or a
    /// gauge's number, a histogram's `N samples`.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(name, labels, value)| {
                let value = match value {
                    DebugValue::Counter(n) => n.to_string(),
                    DebugValue::Gauge(g) => g.to_string(),
                    DebugValue::Histogram(h) => format!("{} samples", h.len()),
                };
                (format!("{name}{{{labels}}}"), value)
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------

/// A buffer that `tracing_subscriber::fmt` writes into (`.with_writer(buffer.clone())`);
/// its clones write into the same bytes.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// What has been written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The buffer of the process-wide subscriber at TRACE level, installed the
/// first time this is called: events of every thread and task end up in it.
/// The test binary must install no other global subscriber.
pub fn global_logs() -> &'static LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this binary");
        logs
    })
}

// ---------------------------------------------------------------------------
// OpenAPI definitions
// ---------------------------------------------------------------------------

/// A one-operation OpenAPI 3 document (`GET /pets/{petId}`) with these schemes
/// and this operation security, as JSON text (which is YAML, too).
pub fn openapi3(schemes: Value, security: Value) -> String {
    json!({
        "openapi": "3.0.1",
        "info": { "title": "t", "version": "1" },
        "paths": { "/pets/{petId}": { "get": { "security": security, "responses": {} } } },
        "components": { "securitySchemes": schemes }
    })
    .to_string()
}

/// A security scheme of API Gateway's Cognito user pool authorizer, for the
/// pools of these ARNs (a JSON array).
pub fn cognito_scheme(arns: Value) -> Value {
    json!({
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": { "type": "cognito_user_pools", "providerARNs": arns }
    })
}

// ---------------------------------------------------------------------------
// The reference verifier (aws-jwt-verify, under Node)
// ---------------------------------------------------------------------------

/// The `node_modules` holding aws-jwt-verify that `.ci/reference.sh` installed
/// and printed, from `REFERENCE_NODE_MODULES`.
pub fn reference_modules() -> String {
    std::env::var("REFERENCE_NODE_MODULES").expect(
        "REFERENCE_NODE_MODULES must point at the node_modules that .ci/reference.sh installed",
    )
}

/// Node running `tests/reference/{script}` with the `modules` of
/// [`reference_modules`], its stdin and stdout piped.
pub fn reference_node(script: &str, modules: &str) -> std::process::Child {
    let script = format!("{}/tests/reference/{script}", env!("CARGO_MANIFEST_DIR"));
    std::process::Command::new("node")
        .arg(script)
        .env("REFERENCE_NODE_MODULES", modules)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs")
}
