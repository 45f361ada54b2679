//! The crate's metrics in a Prometheus scrape: the notes-like routes behind the
//! layer on a built-in local user pool, a few requests, then the text
//! `GET /metrics` would serve.
//!
//! ```sh
//! cargo run --example metrics --features metrics,test-util
//! ```
//!
//! In a service, install the recorder once at start-up and serve
//! `handle.render()` on a route of its own (public, or behind your own check).

use axum::Router;
use axum::routing::get;
use http::{Request, StatusCode};
use metrics_exporter_prometheus::PrometheusBuilder;
use tower::ServiceExt;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{Claims, CognitoAuthLayer, Requirement};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let handle = PrometheusBuilder::new().install_recorder()?;

    let pool = LocalUserPool::start().await?;
    let auth = CognitoAuthLayer::new(pool.verifier());
    let app = Router::new()
        .route(
            "/notes",
            get(|claims: Claims| async move { format!("notes of {}", claims.sub()) }).route_layer(
                auth.require(Requirement::any_scope(["notes/read"]))?
                    .name("notes_read"),
            ),
        )
        .route(
            "/me",
            get(|claims: Claims| async move { claims.sub().to_owned() })
                .route_layer(auth.clone().name("me")),
        )
        .route("/metrics", get(move || std::future::ready(handle.render())));

    let reader = pool.access_token().scopes(["notes/read"]).sign();
    let id = pool.id_token().sign();
    let expired = pool.id_token().expired().sign();
    for (path, token) in [
        ("/notes", Some(&reader)),
        ("/notes", Some(&reader)),
        ("/notes", Some(&id)),
        ("/notes", None),
        ("/me", Some(&id)),
        ("/me", Some(&expired)),
    ] {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(axum::body::Body::empty())?)
            .await?;
        println!("GET {path:<7} {}", response.status());
    }

    let response = app
        .oneshot(Request::get("/metrics").body(axum::body::Body::empty())?)
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let scrape = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
    println!("\nGET /metrics\n{}", String::from_utf8_lossy(&scrape));
    Ok(())
}
