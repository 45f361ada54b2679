//! The SecurePets API of AWS's "Secure AWS API Gateway Using Cognito": each
//! method protected on its own, as API Gateway lets you choose per method.
//!
//! | method and path          | authorization                               |
//! |--------------------------|---------------------------------------------|
//! | `GET /pets`              | none (public)                               |
//! | `GET /pets/{petId}`      | none (public)                               |
//! | `POST /pets`             | ID token (a signed-in user)                 |
//! | `DELETE /pets/{petId}`   | access token with scope `pets/delete`       |
//!
//! ```text
//! cargo run --example pets                     # API Gateway REST API's rules
//! PROFILE=http-api cargo run --example pets    # API Gateway HTTP API's
//! ```
//!
//! The same routes behind an HTTP API's JWT authorizer (`PROFILE=http-api`,
//! one line: `CognitoAuthLayer::http_api(verifier, [client_id])`): any token
//! issued to the app client may add a pet, ID or access; deleting takes
//! `pets/delete` in any token's `scope` or `scp`, and a token without it gets
//! 403 `{"message":"Forbidden"}` instead of 401.
//!
//! It runs offline: a local user pool signs the tokens in the `curl` commands it
//! prints. `BIND` sets the listen address (default `127.0.0.1:3000`).

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{Claims, CognitoAuthLayer, ConfigError, Requirement, Verifier};

/// The scope `DELETE /pets/{petId}` requires.
pub const DELETE_SCOPE: &str = "pets/delete";

/// A pet for sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pet {
    /// Its id.
    pub id: u64,
    /// `dog`, `cat`, `fish`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Its price.
    pub price: f64,
    /// The `sub` of the user who added it (none for the store's own pets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
}

/// The body of `POST /pets`.
#[derive(Debug, Deserialize)]
pub struct NewPet {
    /// `dog`, `cat`, `fish`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Its price, at least zero.
    pub price: f64,
}

/// The store: pets by id, in memory.
#[derive(Clone, Debug, Default)]
pub struct Store {
    pets: Arc<Mutex<(u64, BTreeMap<u64, Pet>)>>,
}

impl Store {
    /// The pets of API Gateway's PetStore sample.
    pub fn with_samples() -> Self {
        let store = Self::default();
        for (kind, price) in [("dog", 249.99), ("cat", 124.99), ("fish", 0.99)] {
            store.add(kind.to_owned(), price, None);
        }
        store
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeMap<u64, Pet>)> {
        self.pets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn add(&self, kind: String, price: f64, added_by: Option<String>) -> Pet {
        let mut guard = self.lock();
        let (next, pets) = &mut *guard;
        *next += 1;
        let pet = Pet {
            id: *next,
            kind,
            price,
            added_by,
        };
        pets.insert(pet.id, pet.clone());
        pet
    }
}

/// The front door to stand in for: API Gateway's REST API (`rest`, the
/// default) or HTTP API (`http-api`), from `PROFILE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// `COGNITO_USER_POOLS` authorizer.
    Rest,
    /// JWT authorizer.
    HttpApi,
}

/// The layer for `door`, trusting `pool`: REST's checks the pool's app client
/// as a verifier setting; HTTP API's takes it as the authorizer's audience.
pub fn auth(pool: &LocalUserPool, door: Door) -> Result<CognitoAuthLayer, ConfigError> {
    match door {
        Door::Rest => Ok(CognitoAuthLayer::new(pool.verifier())),
        Door::HttpApi => {
            let verifier = Verifier::builder().pool(pool.user_pool()).build()?;
            CognitoAuthLayer::http_api(verifier, [pool.client_id()])
        }
    }
}

/// The API, each method behind its own requirement. `auth` gives the verifier,
/// the front door's rules and the response style.
pub fn app(auth: &CognitoAuthLayer, store: Store) -> Result<Router, ConfigError> {
    // API Gateway: a method with the authorizer and no scopes takes ID tokens...
    let signed_in = auth.require(Requirement::new())?;
    // ... and a method with OAuth scopes takes access tokens holding one of them.
    let can_delete = auth.require(Requirement::any_scope([DELETE_SCOPE]))?;

    // `route_layer` on a method router wraps only the methods it has so far:
    // the public GET is merged in unwrapped.
    Ok(Router::new()
        .route(
            "/pets",
            get(list_pets).merge(post(add_pet).route_layer(signed_in)),
        )
        .route(
            "/pets/{petId}",
            get(get_pet).merge(delete(delete_pet).route_layer(can_delete)),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .with_state(store))
}

/// A client error, answered as `{"message": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, &self.message)
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

fn parse_id(id: &str) -> Result<u64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "petId must be a positive integer"))
}

fn pet_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "pet not found")
}

async fn list_pets(State(store): State<Store>) -> Json<Vec<Pet>> {
    Json(store.lock().1.values().cloned().collect())
}

async fn get_pet(
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Json<Pet>, ApiError> {
    let id = parse_id(&id)?;
    let pet = store.lock().1.get(&id).cloned();
    pet.map(Json).ok_or_else(pet_not_found)
}

async fn add_pet(
    State(store): State<Store>,
    claims: Claims,
    body: Result<Json<NewPet>, JsonRejection>,
) -> Result<(StatusCode, Json<Pet>), ApiError> {
    // axum's rejection keeps its status (400 bad JSON, 415 not JSON, 422 missing
    // or mistyped field); it is sent as JSON like every error.
    let Json(new) =
        body.map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    if new.kind.trim().is_empty() || new.kind.len() > 64 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "type must be 1 to 64 bytes",
        ));
    }
    if !new.price.is_finite() || new.price < 0.0 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "price must be a number of at least 0",
        ));
    }
    let pet = store.add(new.kind, new.price, Some(claims.sub().to_owned()));
    tracing::info!(id = pet.id, by = claims.sub(), "pet added");
    Ok((StatusCode::CREATED, Json(pet)))
}

async fn delete_pet(
    State(store): State<Store>,
    claims: Claims,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let removed = store.lock().1.remove(&id);
    match removed {
        Some(_) => {
            tracing::info!(id, by = claims.sub(), "pet deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(pet_not_found()),
    }
}

fn print_commands(pool: &LocalUserPool, base: &str, door: Door) {
    let id = pool
        .id_token()
        .username("alice")
        .email("alice@example.com")
        .sign();
    let no_scope = pool.access_token().username("alice").sign();
    let admin = pool
        .access_token()
        .username("admin")
        .scopes([DELETE_SCOPE])
        .sign();
    let (post, delete) = match door {
        Door::Rest => (
            "# adding a pet takes an ID token: none (401), then alice's (201)",
            format!(
                "# deleting takes an access token with {DELETE_SCOPE}: ID token (401), access token without the scope (401), with it (204)"
            ),
        ),
        Door::HttpApi => (
            "# adding a pet takes any token of the app client: none (401), then alice's ID token (201)",
            format!(
                "# deleting takes {DELETE_SCOPE} in any token: ID token (403), access token without the scope (403), with it (204)"
            ),
        ),
    };
    println!(
        r#"
Local user pool {pool_id}. Tokens valid for one hour. Paste into a shell:

ID='{id}'
ACCESS='{no_scope}'
ADMIN='{admin}'

# public: no token needed (200)
curl -i -w '\n' {base}/pets
curl -i -w '\n' {base}/pets/1
{post}
curl -i -w '\n' -X POST {base}/pets -H 'Content-Type: application/json' -d '{{"type":"bird","price":19.99}}'
curl -i -w '\n' -X POST {base}/pets -H "Authorization: Bearer $ID" -H 'Content-Type: application/json' -d '{{"type":"bird","price":19.99}}'
{delete}
curl -i -w '\n' -X DELETE {base}/pets/3 -H "Authorization: Bearer $ID"
curl -i -w '\n' -X DELETE {base}/pets/3 -H "Authorization: Bearer $ACCESS"
curl -i -w '\n' -X DELETE {base}/pets/3 -H "Authorization: Bearer $ADMIN"
"#,
        pool_id = pool.pool_id(),
    );
}

async fn run() -> Result<(), String> {
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let pool = LocalUserPool::start()
        .await
        .map_err(|e| format!("cannot start the local user pool: {e}"))?;
    let door = match std::env::var("PROFILE").as_deref() {
        Err(_) | Ok("rest") => Door::Rest,
        Ok("http-api") => Door::HttpApi,
        Ok(other) => return Err(format!("PROFILE is `{other}`; expected rest or http-api")),
    };
    let auth = auth(&pool, door).map_err(|e| e.to_string())?;
    let app = app(&auth, Store::with_samples()).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| {
        format!(
            "cannot listen on {bind}: {e} (set BIND to another address, such as 127.0.0.1:3001)"
        )
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, ?door, "SecurePets listening");
    // Commands go to loopback when listening on every address.
    let mut reachable = addr;
    if addr.ip().is_unspecified() {
        reachable.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    print_commands(&pool, &format!("http://{reachable}"), door);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server error: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
