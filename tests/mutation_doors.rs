//! Property tests at the front doors: a changed token is refused wherever the
//! request carries it, and the handler never runs. The doors: `Authorization`
//! under the REST API profile and the HTTP API profile, a cookie, a query
//! parameter and a WebSocket subprotocol (token sources), and the load balancer's
//! `x-amzn-oidc-data` (the ALB front door).
//!
//! One router holds every door, with the token cache on as configured by default,
//! so a changed token must also miss the entry of the valid one. Each door is first
//! checked to let the unchanged token through, so every refusal is the change's doing.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderValue, Request};
use proptest::prelude::*;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tower::ServiceExt;
use tower_cognito::alb::AlbAuthLayer;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::test_util::alb::LocalAlb;
use tower_cognito::{Claims, CognitoAuthLayer, TokenSource};

mod support;

static CALLS: AtomicUsize = AtomicUsize::new(0);

async fn handler(claims: Claims) -> String {
    CALLS.fetch_add(1, Ordering::SeqCst);
    claims.sub().to_owned()
}

#[derive(Clone, Copy, Debug)]
enum Door {
    Rest,
    HttpApi,
    Cookie,
    Query,
    WebSocket,
    Alb,
}

const DOORS: [Door; 6] = [
    Door::Rest,
    Door::HttpApi,
    Door::Cookie,
    Door::Query,
    Door::WebSocket,
    Door::Alb,
];

struct Env {
    app: Router,
    /// Kept alive: their servers stop when they are dropped.
    _pool: LocalUserPool,
    _alb: LocalAlb,
    id_token: String,
    access_token: String,
    alb_data: String,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let env = support::shared_runtime().block_on(async {
            let pool = LocalUserPool::start().await.unwrap();
            let alb = LocalAlb::for_pool(&pool).await.unwrap();
            let verifier = pool
                .verifier_builder()
                // Changed kids must not turn the run into a stream of fetches.
                .unknown_kid_cooldown(Duration::from_secs(3600))
                .build()
                .unwrap();
            verifier.prefetch().await.unwrap();
            let auth = CognitoAuthLayer::new(verifier.clone());
            let sources = |source: TokenSource| auth.clone().token_sources([source]).unwrap();
            let http_api = CognitoAuthLayer::http_api(verifier, [pool.client_id()]).unwrap();
            let alb_auth = AlbAuthLayer::new(alb.verifier());
            let app = Router::new()
                .route("/rest", get(handler).route_layer(auth.clone()))
                .route("/http", get(handler).route_layer(http_api))
                .route(
                    "/cookie",
                    get(handler).route_layer(sources(TokenSource::cookie("id_token"))),
                )
                .route(
                    "/query",
                    get(handler).route_layer(sources(TokenSource::query("access_token"))),
                )
                .route(
                    "/ws",
                    get(handler).route_layer(sources(TokenSource::websocket_protocol("bearer"))),
                )
                .route("/alb", get(handler).route_layer(alb_auth));
            let id_token = pool.id_token().sub("ana").sign();
            let access_token = pool.access_token().sub("ana").sign();
            let alb_data = alb.data().sub("ana").sign();
            Env {
                app,
                _pool: pool,
                _alb: alb,
                id_token,
                access_token,
                alb_data,
            }
        });
        for door in DOORS {
            let token = valid(&env, door, false).to_vec();
            let (status, called) = send(&env, door, &token).expect("a request");
            assert_eq!(
                (status, called),
                (200, true),
                "{door:?}: the unchanged token"
            );
        }
        env
    })
}

fn valid(env: &Env, door: Door, access: bool) -> &[u8] {
    match door {
        Door::Alb => env.alb_data.as_bytes(),
        // HTTP API takes ID and access tokens alike; the others take either.
        _ if access => env.access_token.as_bytes(),
        _ => env.id_token.as_bytes(),
    }
}

/// Every byte but the unreserved ones percent-encoded: the query decodes to
/// exactly these bytes.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends `token` through `door`: the status, and whether the handler ran. `None`
/// when the bytes cannot be a header value at all (no client could send them).
fn send(env: &Env, door: Door, token: &[u8]) -> Option<(u16, bool)> {
    let header = |prefix: &str| {
        let mut value = prefix.as_bytes().to_vec();
        value.extend_from_slice(token);
        HeaderValue::from_bytes(&value).ok()
    };
    let request = Request::builder();
    let request = match door {
        Door::Rest => request
            .uri("/rest")
            .header("authorization", header("Bearer ")?),
        Door::HttpApi => request
            .uri("/http")
            .header("authorization", header("Bearer ")?),
        Door::Cookie => request
            .uri("/cookie")
            .header("cookie", header("id_token=")?),
        Door::Query => request.uri(format!("/query?access_token={}", percent_encode(token))),
        Door::WebSocket => request
            .uri("/ws")
            .header("sec-websocket-protocol", header("bearer, ")?),
        Door::Alb => request.uri("/alb").header("x-amzn-oidc-data", header("")?),
    };
    let request = request.body(Body::empty()).unwrap();
    let before = CALLS.load(Ordering::SeqCst);
    let response = support::shared_runtime()
        .block_on(env.app.clone().oneshot(request))
        .unwrap();
    Some((
        response.status().as_u16(),
        CALLS.load(Ordering::SeqCst) != before,
    ))
}

#[derive(Clone, Debug)]
enum Change {
    /// One byte XORed with a non-zero value.
    Flip(prop::sample::Index, u8),
    /// One byte replaced by a character tokens are made of.
    Alphabet(prop::sample::Index, u8),
    /// A proper prefix.
    Truncate(prop::sample::Index),
    /// Bytes inserted, or (with none) one byte removed.
    Splice(prop::sample::Index, Vec<u8>),
}

fn change() -> impl Strategy<Value = Change> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=".to_vec();
    prop_oneof![
        (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(at, x)| Change::Flip(at, x)),
        (any::<prop::sample::Index>(), prop::sample::select(alphabet))
            .prop_map(|(at, to)| Change::Alphabet(at, to)),
        any::<prop::sample::Index>().prop_map(Change::Truncate),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(|(at, bytes)| Change::Splice(at, bytes)),
    ]
}

/// What a token says: its bytes, the signature's base64 padding aside. Cognito's
/// tokens have no padding. A load balancer's signature segment may; its verifier
/// reads that segment with or without its `=` (the bytes are the same), while its
/// header and payload are checked exactly as sent (they are what was signed). So
/// removing the signature's padding is no change.
fn says(token: &[u8]) -> (&[u8], &[u8]) {
    let last = token.iter().rposition(|&b| b == b'.').map_or(0, |i| i + 1);
    let (signed, signature) = token.split_at(last);
    let end = signature
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(0, |i| i + 1);
    (signed, &signature[..end])
}

/// The changed token, or `None` when the change leaves it as it was, or changes
/// only its signature's padding.
fn apply(token: &[u8], change: &Change) -> Option<Vec<u8>> {
    let mut bytes = token.to_vec();
    let len = bytes.len();
    match change {
        Change::Flip(at, x) => bytes[at.index(len)] ^= x,
        Change::Alphabet(at, to) => bytes[at.index(len)] = *to,
        Change::Truncate(keep) => bytes.truncate(keep.index(len)),
        Change::Splice(at, insert) => {
            let at = at.index(len);
            if insert.is_empty() {
                bytes.remove(at);
            } else {
                bytes.splice(at..at, insert.iter().copied());
            }
        }
    }
    (says(&bytes) != says(token)).then_some(bytes)
}

fn door() -> impl Strategy<Value = Door> {
    prop::sample::select(DOORS.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A changed token is refused at every door: 401, or 400 where the door reads
    /// the request as malformed (bytes a query cannot decode to text), and the
    /// handler does not run.
    #[test]
    fn a_changed_token_is_refused_at_every_door(door in door(), access: bool, change in change()) {
        let env = env();
        let Some(token) = apply(valid(env, door, access), &change) else {
            return Ok(());
        };
        let Some((status, called)) = send(env, door, &token) else {
            return Ok(());
        };
        prop_assert!(!called, "{:?}: the handler ran for a changed token", door);
        prop_assert!(
            status == 401 || status == 400,
            "{:?}: status {} for a changed token",
            door,
            status
        );
    }
}
