//! The notes service of AWS's "Integrating Amazon Cognito User Pools with API
//! Gateway", protected the way API Gateway's Cognito authorizer would protect it.
//!
//! | method and path      | token                                  |
//! |----------------------|----------------------------------------|
//! | `POST /notes`        | access token with scope `notes/write`  |
//! | `GET /notes`         | access token with scope `notes/read`   |
//! | `GET /notes/{id}`    | access token with scope `notes/read`   |
//! | `DELETE /notes/{id}` | access token with scope `notes/write`  |
//! | `GET /me`            | ID token                               |
//!
//! Notes belong to the token's `sub` (never the username, which can be
//! reassigned) and live in an SQLite file, `NOTES_DB` (default `notes.db`).
//!
//! ```text
//! cargo run --example notes
//! ```
//!
//! With no configuration it starts a local user pool and prints `curl` commands
//! with fresh tokens. With `COGNITO_USER_POOL_ID` and `COGNITO_CLIENT_ID` it
//! trusts that pool instead; `COGNITO_JWKS_URL` and `COGNITO_ISSUER` override
//! where its keys come from and which issuer its tokens carry (emulators such as
//! moto). `BIND` sets the listen address (default `127.0.0.1:3000`).

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, routing};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::error::Error;
use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{
    ApiGatewayClaims, Claims, CognitoAuthLayer, ConfigError, Requirement, UserPool, Verifier,
};

/// Scope that lets a caller list and read their notes.
pub const READ_SCOPE: &str = "notes/read";
/// Scope that lets a caller create and delete their notes.
pub const WRITE_SCOPE: &str = "notes/write";
/// Longest note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 10_000;

/// The service: every route, each behind the requirement API Gateway would
/// apply to that method. `auth` gives the verifier (and the response style);
/// the notes are kept in the SQLite file at `db_path`, created if missing.
pub fn app(
    auth: &CognitoAuthLayer,
    db_path: impl AsRef<FsPath>,
) -> Result<Router, Box<dyn Error + Send + Sync>> {
    Ok(router(auth, Db::open(db_path.as_ref())?)?)
}

/// [`app`] over a database that is already open.
pub fn router(auth: &CognitoAuthLayer, db: Db) -> Result<Router, ConfigError> {
    let read = auth.require(Requirement::any_scope([READ_SCOPE]))?;
    let write = auth.require(Requirement::any_scope([WRITE_SCOPE]))?;
    let id_token = auth.require(Requirement::new())?;

    // `route_layer` on a method router protects only the methods added before
    // it, so each method gets its own requirement and the two are merged.
    let notes = get(list_notes)
        .route_layer(read.clone())
        .merge(routing::post(create_note).route_layer(write.clone()));
    let note = get(get_note)
        .route_layer(read)
        .merge(routing::delete(delete_note).route_layer(write));
    Ok(Router::new()
        .route("/notes", notes)
        .route("/notes/{id}", note)
        .route("/me", get(me).route_layer(id_token))
        .route("/ready", get(ready).with_state(auth.verifier().clone()))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .with_state(db))
}

/// `GET /ready`: public, for a readiness probe. 200 with the key sets' state
/// once every pool's keys are loaded, 503 with the same report before.
async fn ready(
    axum::extract::State(verifier): axum::extract::State<tower_cognito::Verifier>,
) -> (StatusCode, Json<tower_cognito::Readiness>) {
    let readiness = verifier.readiness();
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}

/// A note as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Its id, unique across all users.
    pub id: i64,
    /// What the user wrote.
    pub content: String,
    /// When it was created, in seconds since the Unix epoch.
    pub created_at: i64,
}

/// The body of `POST /notes`.
#[derive(Debug, Deserialize)]
pub struct NewNote {
    /// What to write.
    pub content: String,
}

/// The notes table, behind a mutex that is only ever held on a blocking thread.
#[derive(Clone, Debug)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (or creates) the database file and its table.
    pub fn open(path: &FsPath) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS notes (
                 id         INTEGER PRIMARY KEY AUTOINCREMENT,
                 owner      TEXT    NOT NULL, -- the token's sub
                 content    TEXT    NOT NULL,
                 created_at INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS notes_by_owner ON notes (owner, id);",
        )?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on a blocking thread, so that SQLite never
    /// stalls the async runtime and the lock is never held across an `.await`.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let conn = Arc::clone(&self.conn);
        let result = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&conn)
        })
        .await;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "database error");
                Err(ApiError::internal())
            }
            Err(e) => {
                tracing::error!(error = %e, "database task failed");
                Err(ApiError::internal())
            }
        }
    }

    /// Stores a note of `owner` and returns it.
    pub async fn insert(&self, owner: &str, content: String) -> Result<Note, ApiError> {
        let owner = owner.to_owned();
        let created_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO notes (owner, content, created_at) VALUES (?1, ?2, ?3)",
                params![owner, content, created_at],
            )?;
            Ok(Note {
                id: conn.last_insert_rowid(),
                content,
                created_at,
            })
        })
        .await
    }

    /// The notes of `owner`, oldest first.
    pub async fn list(&self, owner: &str) -> Result<Vec<Note>, ApiError> {
        let owner = owner.to_owned();
        self.run(move |conn| {
            let mut statement = conn.prepare(
                "SELECT id, content, created_at FROM notes WHERE owner = ?1 ORDER BY id",
            )?;
            let rows = statement.query_map(params![owner], note_from_row)?;
            rows.collect()
        })
        .await
    }

    /// The note `id` if `owner` owns it.
    pub async fn get(&self, owner: &str, id: i64) -> Result<Option<Note>, ApiError> {
        let owner = owner.to_owned();
        self.run(move |conn| {
            conn.query_row(
                "SELECT id, content, created_at FROM notes WHERE id = ?1 AND owner = ?2",
                params![id, owner],
                note_from_row,
            )
            .optional()
        })
        .await
    }

    /// Deletes the note `id` if `owner` owns it; whether it did.
    pub async fn delete(&self, owner: &str, id: i64) -> Result<bool, ApiError> {
        let owner = owner.to_owned();
        self.run(move |conn| {
            let deleted = conn.execute(
                "DELETE FROM notes WHERE id = ?1 AND owner = ?2",
                params![id, owner],
            )?;
            Ok(deleted > 0)
        })
        .await
    }
}

fn note_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Note> {
    Ok(Note {
        id: row.get(0)?,
        content: row.get(1)?,
        created_at: row.get(2)?,
    })
}

/// A client or server error, answered as `{"message": "..."}`.
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

    fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// The same answer for a note that does not exist and for another user's
    /// note, so that ids of other users' notes cannot be probed.
    fn note_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "note not found")
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

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "note id must be an integer"))
}

async fn create_note(
    State(db): State<Db>,
    claims: Claims,
    body: Result<Json<NewNote>, JsonRejection>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    // axum's rejection keeps its status (400 bad JSON, 415 not JSON, 422 missing
    // or mistyped field) and explains itself; it is sent as JSON like every error.
    let Json(new) =
        body.map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    if new.content.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "content must not be empty",
        ));
    }
    if new.content.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("content is longer than {MAX_NOTE_CHARS} characters"),
        ));
    }
    let note = db.insert(claims.sub(), new.content).await?;
    tracing::info!(sub = claims.sub(), id = note.id, "note created");
    Ok((StatusCode::CREATED, Json(note)))
}

async fn list_notes(State(db): State<Db>, claims: Claims) -> Result<Json<Vec<Note>>, ApiError> {
    Ok(Json(db.list(claims.sub()).await?))
}

async fn get_note(
    State(db): State<Db>,
    claims: Claims,
    Path(id): Path<String>,
) -> Result<Json<Note>, ApiError> {
    let id = parse_id(&id)?;
    db.get(claims.sub(), id)
        .await?
        .map(Json)
        .ok_or_else(ApiError::note_not_found)
}

async fn delete_note(
    State(db): State<Db>,
    claims: Claims,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    if db.delete(claims.sub(), id).await? {
        tracing::info!(sub = claims.sub(), id, "note deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::note_not_found())
    }
}

/// The caller's identity: the main claims, every claim as the token has it, and
/// the flat string map API Gateway would hand a Lambda
/// (`$context.authorizer.claims`).
async fn me(claims: Claims) -> Json<Value> {
    Json(json!({
        "sub": claims.sub(),
        "username": claims.username(),
        "email": claims.email(),
        "groups": claims.groups(),
        "token_use": claims.token_use().as_str(),
        "claims": claims.as_map(),
        "api_gateway_claims": ApiGatewayClaims::new(&claims).as_map(),
    }))
}

/// A fixed `sub` for the local pool's demo user, so that its notes are there
/// again after a restart.
const DEMO_SUB: &str = "5f0c3b9e-7a41-4d2b-9c1e-3d2a8b6f4e10";
const DEMO_OTHER_SUB: &str = "b8e2d6a1-0c4f-4e7a-a3b5-9f1d7c2e6a84";

fn env(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

/// Where the tokens come from.
enum Mode {
    /// A user pool in this process, with tokens printed for the user.
    Local(LocalUserPool),
    /// A real (or emulated) pool given by the environment.
    Configured { pool_id: String, client_id: String },
}

async fn configure() -> Result<(Mode, Verifier), String> {
    let pool_id = env("COGNITO_USER_POOL_ID")?;
    let client_id = env("COGNITO_CLIENT_ID")?;
    let jwks_url = env("COGNITO_JWKS_URL")?;
    let issuer = env("COGNITO_ISSUER")?;
    match (pool_id, client_id) {
        (Some(pool_id), Some(client_id)) => {
            let mut pool = UserPool::new(pool_id.clone());
            if let Some(url) = jwks_url {
                pool = pool.jwks_url(url);
            }
            if let Some(issuer) = issuer {
                pool = pool.issuer(issuer);
            }
            let verifier = Verifier::builder()
                .pool(pool)
                .client_id(client_id.clone())
                .build()
                .map_err(|e| e.to_string())?;
            Ok((Mode::Configured { pool_id, client_id }, verifier))
        }
        (None, None) => {
            if jwks_url.is_some() || issuer.is_some() {
                return Err("COGNITO_JWKS_URL and COGNITO_ISSUER need COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID".into());
            }
            let local = LocalUserPool::start()
                .await
                .map_err(|e| format!("cannot start the local user pool: {e}"))?;
            let verifier = local.verifier();
            Ok((Mode::Local(local), verifier))
        }
        (Some(_), None) => Err("COGNITO_USER_POOL_ID is set but COGNITO_CLIENT_ID is not: set both, or neither for a local pool".into()),
        (None, Some(_)) => Err("COGNITO_CLIENT_ID is set but COGNITO_USER_POOL_ID is not: set both, or neither for a local pool".into()),
    }
}

fn log_level() -> tracing::Level {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|level| level.parse().ok())
        .unwrap_or(tracing::Level::DEBUG)
}

/// The address to put in printed commands: the bound one, with a wildcard
/// address replaced by loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    addr
}

fn print_local_commands(local: &LocalUserPool, base: &str, welcome: &Note) {
    let access = local
        .access_token()
        .sub(DEMO_SUB)
        .username("alice")
        .scopes([READ_SCOPE, WRITE_SCOPE])
        .sign();
    let id = local
        .id_token()
        .sub(DEMO_SUB)
        .username("alice")
        .email("alice@example.com")
        .groups(["notes-users"])
        .sign();
    let other = local
        .access_token()
        .sub(DEMO_OTHER_SUB)
        .username("bob")
        .scopes([READ_SCOPE])
        .sign();
    let n = welcome.id;
    println!(
        r#"
Local user pool {pool} (keys at {jwks}).
Tokens for alice (sub {DEMO_SUB}) and bob, valid for one hour. Paste into a shell:

ACCESS='{access}'
ID='{id}'
BOB='{other}'

# create a note (201)
curl -i -w '\n' -X POST {base}/notes -H "Authorization: Bearer $ACCESS" -H 'Content-Type: application/json' -d '{{"content":"my first note"}}'
# list alice's notes (200)
curl -i -w '\n' {base}/notes -H "Authorization: Bearer $ACCESS"
# read the note created at start-up (200)
curl -i -w '\n' {base}/notes/{n} -H "Authorization: Bearer $ACCESS"
# bob cannot see it (404)
curl -i -w '\n' {base}/notes/{n} -H "Authorization: Bearer $BOB"
# alice's claims, from her ID token (200)
curl -i -w '\n' {base}/me -H "Authorization: Bearer $ID"
# delete the start-up note (204)
curl -i -w '\n' -X DELETE {base}/notes/{n} -H "Authorization: Bearer $ACCESS"
# no token (401)
curl -i -w '\n' {base}/notes
"#,
        pool = local.pool_id(),
        jwks = local.jwks_url(),
    );
}

fn print_configured_commands(pool_id: &str, client_id: &str, base: &str) {
    println!(
        r#"
Trusting user pool {pool_id}, app client {client_id}.
Get tokens from the pool (for example `aws cognito-idp initiate-auth`), then:

ACCESS='<access token with scopes {READ_SCOPE} {WRITE_SCOPE}>'
ID='<ID token>'

curl -i -w '\n' -X POST {base}/notes -H "Authorization: Bearer $ACCESS" -H 'Content-Type: application/json' -d '{{"content":"my first note"}}'
curl -i -w '\n' {base}/notes -H "Authorization: Bearer $ACCESS"
curl -i -w '\n' {base}/me -H "Authorization: Bearer $ID"
curl -i -w '\n' {base}/notes
"#
    );
}

async fn run() -> Result<(), String> {
    let (mode, verifier) = configure().await?;
    let db_path = env("NOTES_DB")?.unwrap_or_else(|| "notes.db".to_owned());
    let bind = env("BIND")?.unwrap_or_else(|| "127.0.0.1:3000".to_owned());

    if let Mode::Configured { .. } = &mode {
        // Fetch the keys now, so that a wrong pool id or an unreachable JWKS shows
        // at start-up; requests are answered 500 until the keys can be had.
        if let Err(e) = verifier.prefetch().await {
            tracing::warn!(error = %e, "cannot fetch the user pool's keys yet");
        }
    }

    let db = Db::open(FsPath::new(&db_path))
        .map_err(|e| format!("cannot open the database {db_path}: {e}"))?;
    let auth = CognitoAuthLayer::new(verifier);
    let app = router(&auth, db.clone()).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| {
        format!(
            "cannot listen on {bind}: {e} (set BIND to another address, such as 127.0.0.1:3001)"
        )
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{}", reachable(addr));
    tracing::info!(%addr, db = %db_path, "notes service listening");

    match &mode {
        Mode::Local(local) => {
            // A note to read and delete in the printed commands.
            let welcome = db
                .insert(DEMO_SUB, "hello from the notes example".to_owned())
                .await
                .map_err(|e| format!("cannot write to {db_path}: {}", e.message))?;
            print_local_commands(local, &base, &welcome);
        }
        Mode::Configured { pool_id, client_id } => {
            print_configured_commands(pool_id, client_id, &base)
        }
    }

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
        .with_max_level(log_level())
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
