//! A JWKS endpoint on 127.0.0.1 whose behaviour a test controls.

use super::lock;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How a [`JwksServer`] answers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksBehavior {
    /// Serve the key set (200, JSON).
    Serve,
    /// Answer with this status and an empty body.
    Status(u16),
    /// Wait this long, then serve the key set.
    Delay(Duration),
    /// Serve these bytes as the body (200).
    Body(Vec<u8>),
    /// Stream this many bytes of JSON-looking filler (200). With
    /// `declare_length`, a `Content-Length` header announces the size;
    /// without it the body ends when the connection closes.
    Huge {
        /// Bytes to send.
        bytes: u64,
        /// Whether to send `Content-Length`.
        declare_length: bool,
    },
}

/// One request a [`JwksServer`] received, as it came over the wire.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The method, as sent (`GET`).
    pub method: String,
    /// The request target, as sent: the path and any query.
    pub path: String,
    /// The protocol version, as sent (`HTTP/1.1`).
    pub version: String,
    /// The header fields (a field whose name or value is not valid HTTP is left out).
    pub headers: HeaderMap,
    /// When the server had read the request's head.
    pub at: Instant,
}

/// How many requests a [`JwksServer`] keeps for [`JwksServer::recorded`].
const RECORDED_LIMIT: usize = 10_000;

/// Writes a loopback server's struct (its `addr`, its `state: Arc<$state>`
/// and the accepting `task` of [`spawn_loopback`]), its `Debug` (the address
/// and the `requests()` count), its `Drop` (which stops accepting) and its
/// `spawn`, which starts it with the `serve` of the module it is written in:
/// for this one and the load balancer's key endpoint (`alb::AlbKeyServer`).
macro_rules! loopback_server {
    ($(#[$attr:meta])* pub struct $name:ident serving $state:ty;) => {
        $(#[$attr])*
        pub struct $name {
            addr: ::std::net::SocketAddr,
            state: ::std::sync::Arc<$state>,
            task: ::tokio::task::JoinHandle<()>,
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("addr", &self.addr)
                    .field("requests", &self.requests())
                    .finish_non_exhaustive()
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.task.abort();
            }
        }

        impl $name {
            /// Starts serving `state` with `serve` on an ephemeral port of 127.0.0.1.
            async fn spawn(state: $state) -> ::std::io::Result<Self> {
                let state = ::std::sync::Arc::new(state);
                let (addr, task) = $crate::test_util::server::spawn_loopback(&state, serve).await?;
                Ok(Self { addr, state, task })
            }
        }
    };
}

#[cfg(feature = "alb")]
pub(super) use loopback_server;

struct State {
    jwks: Mutex<Vec<u8>>,
    behavior: Mutex<JwksBehavior>,
    requests: AtomicUsize,
    recorded: Mutex<VecDeque<RecordedRequest>>,
    bytes_sent: AtomicUsize,
}

loopback_server! {
    /// A minimal HTTP/1.1 server on `127.0.0.1` that serves a JWKS document, counts
    /// and records requests, and can be told to fail, hang or send garbage. Stopped
    /// when dropped.
    ///
    /// Counting and inspecting the key fetches a service makes:
    ///
    /// ```
    /// use tower_cognito::test_util::LocalUserPool;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = LocalUserPool::start().await.unwrap();
    /// let verifier = pool.verifier();
    /// verifier.verify(&pool.id_token().sign()).await.unwrap();
    /// verifier.verify(&pool.id_token().sign()).await.unwrap();
    ///
    /// // One fetch for both tokens, of the pool's JWKS URL and nothing else.
    /// let fetches = pool.server().recorded();
    /// assert_eq!((fetches.len(), pool.server().requests()), (1, 1));
    /// assert_eq!(fetches[0].method, "GET");
    /// assert_eq!(pool.server().url(&fetches[0].path), pool.jwks_url());
    /// assert!(fetches[0].headers.contains_key("host"));
    /// # }
    /// ```
    pub struct JwksServer serving State;
}

impl JwksServer {
    /// Starts serving `jwks` on an ephemeral port of 127.0.0.1.
    pub async fn start(jwks: Vec<u8>) -> io::Result<Self> {
        Self::spawn(State {
            jwks: Mutex::new(jwks),
            behavior: Mutex::new(JwksBehavior::Serve),
            requests: AtomicUsize::new(0),
            recorded: Mutex::new(VecDeque::new()),
            bytes_sent: AtomicUsize::new(0),
        })
        .await
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A URL on this server (every path serves the same document).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Replaces the document served.
    pub fn set_jwks(&self, jwks: Vec<u8>) {
        *lock(&self.state.jwks) = jwks;
    }

    /// Changes how the server answers from the next request on.
    pub fn set_behavior(&self, behavior: JwksBehavior) {
        *lock(&self.state.behavior) = behavior;
    }

    /// How many requests have arrived so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The requests that have arrived so far, oldest first: the latest 10,000
    /// (`requests` counts them all).
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        lock(&self.state.recorded).iter().cloned().collect()
    }

    /// How many body bytes the server managed to write so far.
    pub fn bytes_sent(&self) -> usize {
        self.state.bytes_sent.load(Ordering::SeqCst)
    }
}

/// Accepts connections on an ephemeral port of 127.0.0.1 and serves each with
/// `serve` and `state`, on a task of its own: the loop of both loopback servers
/// (this one and the load balancer's key endpoint, `alb::AlbKeyServer`).
/// Returns the address and the accepting task, which the server aborts when
/// dropped.
pub(super) async fn spawn_loopback<T, F, Fut>(
    state: &Arc<T>,
    serve: F,
) -> io::Result<(SocketAddr, JoinHandle<()>)>
where
    T: Send + Sync + 'static,
    F: Fn(TcpStream, Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let state = Arc::clone(state);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, Arc::clone(&state)));
        }
    });
    Ok((addr, task))
}

/// Reads a request up to the blank line that ends its head (and whatever came
/// with it); `None` when the connection closes or fails first, or sends more
/// than 16 KiB without one.
pub(super) async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if request.len() > 16 * 1024 {
            return None;
        }
    }
    Some(request)
}

async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let Some(request) = read_head(&mut stream).await else {
        return;
    };
    record(&state, &request);
    let behavior = lock(&state.behavior).clone();
    let jwks = lock(&state.jwks).clone();
    let _ = match behavior {
        JwksBehavior::Serve => respond(&mut stream, 200, &jwks, &state).await,
        JwksBehavior::Status(code) => respond(&mut stream, code, b"", &state).await,
        JwksBehavior::Delay(delay) => {
            tokio::time::sleep(delay).await;
            respond(&mut stream, 200, &jwks, &state).await
        }
        JwksBehavior::Body(body) => respond(&mut stream, 200, &body, &state).await,
        JwksBehavior::Huge {
            bytes,
            declare_length,
        } => huge(&mut stream, bytes, declare_length, &state).await,
    };
    let _ = stream.shutdown().await;
}

/// Counts and records a request whose head (up to its blank line) is `head`.
fn record(state: &State, head: &[u8]) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut start = lines.next().unwrap_or_default().splitn(3, ' ');
    let mut part = || start.next().unwrap_or_default().to_owned();
    let (method, path, version) = (part(), part(), part());
    let mut headers = HeaderMap::new();
    for line in lines.take_while(|line| !line.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(name, value);
        }
    }
    let request = RecordedRequest {
        method,
        path,
        version,
        headers,
        at: Instant::now(),
    };
    let mut recorded = lock(&state.recorded);
    if recorded.len() == RECORDED_LIMIT {
        recorded.pop_front();
    }
    recorded.push_back(request);
    state.requests.fetch_add(1, Ordering::SeqCst);
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    body: &[u8],
    state: &State,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    state.bytes_sent.fetch_add(body.len(), Ordering::SeqCst);
    Ok(())
}

async fn huge(
    stream: &mut TcpStream,
    bytes: u64,
    declare_length: bool,
    state: &State,
) -> io::Result<()> {
    let length = if declare_length {
        format!("content-length: {bytes}\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{length}connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let chunk = vec![b' '; 64 * 1024];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        stream.write_all(&chunk[..n]).await?;
        state.bytes_sent.fetch_add(n, Ordering::SeqCst);
        left -= n as u64;
    }
    Ok(())
}
