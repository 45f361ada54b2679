//! Token sources over a real socket: a header, a cookie, a query parameter, a
//! WebSocket subprotocol (with a real WebSocket upgrade and a real client), a
//! function of one's own; accepted, refused, and two tokens in two places
//! refused as ambiguous.

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{AuthErrorKind, Claims, CognitoAuthLayer, TokenSource};
use tungstenite::client::IntoClientRequest;

mod support;

async fn who(claims: Claims) -> String {
    claims.sub().to_owned()
}

/// A WebSocket that says whose it is, then echoes.
async fn socket(claims: Claims, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .protocols(["bearer"])
        .on_upgrade(move |mut socket| async move {
            let _ = socket.send(Message::text(claims.sub().to_owned())).await;
            while let Some(Ok(Message::Text(text))) = socket.recv().await {
                if socket.send(Message::Text(text)).await.is_err() {
                    break;
                }
            }
        })
}

fn app(pool: &LocalUserPool) -> Router {
    let auth = CognitoAuthLayer::new(pool.verifier());
    let browser = auth
        .clone()
        .token_sources([
            TokenSource::authorization(),
            TokenSource::cookie("id_token"),
            TokenSource::custom(|head| {
                head.headers()
                    .get("x-test-token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            }),
        ])
        .unwrap();
    let websocket = auth
        .token_sources([
            TokenSource::websocket_protocol("bearer"),
            TokenSource::query("access_token"),
        ])
        .unwrap();
    Router::new()
        .route("/me", get(who).route_layer(browser))
        .route("/ws", get(socket).route_layer(websocket))
}

#[tokio::test]
async fn headers_cookies_and_functions_are_read_and_two_places_are_refused() {
    let pool = LocalUserPool::start().await.unwrap();
    let server = support::serve(app(&pool)).await;
    let token = pool.id_token().sub("ana").sign();
    let other = pool.id_token().sub("bo").sign();
    let get = |headers: Vec<(&'static str, String)>| {
        let mut request = server.request(http::Method::GET, "/me");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { support::send(request).await.status_and_body() }
    };
    let ok = |sub: &str| (200, sub.to_owned());
    let refused = (401, r#"{"message":"Unauthorized"}"#.to_owned());
    assert_eq!(
        get(vec![("authorization", format!("Bearer {token}"))]).await,
        ok("ana")
    );
    assert_eq!(
        get(vec![("cookie", format!("theme=dark; id_token={token}"))]).await,
        ok("ana")
    );
    assert_eq!(get(vec![("x-test-token", other.clone())]).await, ok("bo"));
    assert_eq!(get(vec![]).await, refused);
    assert_eq!(
        get(vec![("cookie", "id_token=garbage".to_owned())]).await,
        refused
    );
    // A cookie holds the bare token.
    assert_eq!(
        get(vec![("cookie", format!("id_token=Bearer {token}"))]).await,
        refused
    );
    // Two places, even with the same token: ambiguous.
    for headers in [
        vec![
            ("authorization", format!("Bearer {token}")),
            ("cookie", format!("id_token={token}")),
        ],
        vec![
            ("cookie", format!("id_token={token}")),
            ("x-test-token", other.clone()),
        ],
        vec![("cookie", format!("id_token={token}; id_token={other}"))],
    ] {
        assert_eq!(get(headers).await, refused);
    }
}

#[tokio::test]
async fn an_ambiguous_request_is_an_invalid_request() {
    use tower::ServiceExt;
    let pool = LocalUserPool::start().await.unwrap();
    let token = pool.id_token().sign();
    let request = http::Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .header("cookie", format!("id_token={token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app(&pool).oneshot(request).await.unwrap();
    let kind = support::auth_error_kind(&response);
    assert_eq!(kind, Some(AuthErrorKind::InvalidRequest));
}

/// Found by the `token_sources` fuzz target: `%+F` in the token parameter was read as
/// the byte 0x0F (`u8::from_str_radix` takes a sign), so a parameter that is not valid
/// percent-encoding went on to the verifier instead of being refused as an invalid
/// request.
#[tokio::test]
async fn a_query_token_with_a_sign_in_a_percent_escape_is_an_invalid_request() {
    use tower::{Layer, ServiceExt};
    let pool = LocalUserPool::start().await.unwrap();
    let auth = CognitoAuthLayer::new(pool.verifier())
        .token_sources([TokenSource::query("access_token")])
        .unwrap();
    let service = auth.layer(tower::service_fn(|_: http::Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    for query in ["ab%+Fc", "ab%-1c", "%+0", "ab%2"] {
        let request = http::Request::get(format!("/ws?access_token={query}"))
            .body(())
            .unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        let kind = support::auth_error_kind(&response);
        assert_eq!(kind, Some(AuthErrorKind::InvalidRequest), "{query}");
    }
}

#[tokio::test]
async fn a_websocket_upgrade_takes_its_token_from_the_subprotocol_or_the_query() {
    let pool = LocalUserPool::start().await.unwrap();
    let server = support::serve(app(&pool)).await;
    let ws = server.base.replace("http://", "ws://") + "/ws";
    let token = pool.id_token().sub("carla").sign();

    // The browser's `new WebSocket(url, ["bearer", token])`.
    let mut request = ws.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("bearer, {token}").parse().unwrap(),
    );
    let (mut stream, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "bearer");
    let hello = stream.next().await.unwrap().unwrap();
    assert_eq!(hello.into_text().unwrap().as_str(), "carla");
    stream
        .send(tungstenite::Message::text("ping"))
        .await
        .unwrap();
    let echo = stream.next().await.unwrap().unwrap();
    assert_eq!(echo.into_text().unwrap().as_str(), "ping");
    stream.close(None).await.unwrap();

    // The query parameter.
    let (mut stream, _) = tokio_tungstenite::connect_async(format!("{ws}?access_token={token}"))
        .await
        .unwrap();
    let hello = stream.next().await.unwrap().unwrap();
    assert_eq!(hello.into_text().unwrap().as_str(), "carla");

    // No token, a bad one, or one in both places: the upgrade is refused.
    let status = |result: Result<_, tungstenite::Error>| match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("{other}"),
        Ok(_) => 101,
    };
    assert_eq!(
        status(
            tokio_tungstenite::connect_async(ws.as_str())
                .await
                .map(|_| ())
        ),
        401
    );
    let mut bad = ws.as_str().into_client_request().unwrap();
    bad.headers_mut().insert(
        "sec-websocket-protocol",
        "bearer, not.a.token".parse().unwrap(),
    );
    assert_eq!(
        status(tokio_tungstenite::connect_async(bad).await.map(|_| ())),
        401
    );
    let mut both = format!("{ws}?access_token={token}")
        .into_client_request()
        .unwrap();
    both.headers_mut().insert(
        "sec-websocket-protocol",
        format!("bearer, {token}").parse().unwrap(),
    );
    assert_eq!(
        status(tokio_tungstenite::connect_async(both).await.map(|_| ())),
        401
    );
}

#[test]
fn an_empty_list_of_sources_is_a_config_error() {
    let rt = support::runtime();
    let pool = rt.block_on(LocalUserPool::start()).unwrap();
    let auth = CognitoAuthLayer::new(pool.verifier());
    assert!(auth.clone().token_sources([]).is_err());
    let twice = auth.token_sources([TokenSource::authorization(), TokenSource::authorization()]);
    assert!(twice.is_err());
}
