//! The notes example's own router, served on 127.0.0.1 and called over HTTP.

#[allow(dead_code)]
#[path = "../examples/notes.rs"]
mod notes;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tower_cognito::CognitoAuthLayer;
use tower_cognito::test_util::LocalUserPool;

mod support;
use support::Server;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tower-cognito-notes-{}",
            tower_cognito::test_util::uuid()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("notes.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Fixture {
    pool: LocalUserPool,
    auth: CognitoAuthLayer,
    client: Client,
    dir: TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let pool = LocalUserPool::start().await.unwrap();
        let auth = CognitoAuthLayer::new(pool.verifier());
        let client = support::client();
        Self {
            pool,
            auth,
            client,
            dir: TempDir::new(),
        }
    }

    async fn serve(&self) -> Server {
        support::serve(notes::app(&self.auth, self.dir.db()).unwrap()).await
    }

    /// An access token of user `sub` with these scopes.
    fn access(&self, sub: &str, scopes: &[&str]) -> String {
        self.pool.access_token().sub(sub).scopes(scopes).sign()
    }

    fn id(&self, sub: &str) -> String {
        self.pool.id_token().sub(sub).sign()
    }
}

const RW: &[&str] = &[notes::READ_SCOPE, notes::WRITE_SCOPE];

/// Sends a request; `body` is sent as it is, with a JSON content type.
async fn call(
    client: &Client,
    method: Method,
    url: String,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String) {
    let answer = support::call(client, method, url, token, body.map(str::to_owned)).await;
    (answer.code(), answer.body)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn create(client: &Client, base: &str, token: &str, content: &str) -> i64 {
    let body = json!({ "content": content }).to_string();
    let (status, text) = call(
        client,
        Method::POST,
        format!("{base}/notes"),
        Some(token),
        Some(&body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let note = json(&text);
    assert_eq!(note["content"], content);
    note["id"].as_i64().unwrap()
}

#[tokio::test]
async fn create_list_get_delete() {
    let fx = Fixture::new().await;
    let server = fx.serve().await;
    let (c, base) = (&fx.client, server.base.as_str());
    let alice = fx.access("alice-sub", RW);

    let first = create(c, base, &alice, "first").await;
    let second = create(c, base, &alice, "second").await;

    let (status, text) = call(c, Method::GET, format!("{base}/notes"), Some(&alice), None).await;
    assert_eq!(status, StatusCode::OK);
    let list = json(&text);
    let contents: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["first", "second"]);

    let (status, text) = call(
        c,
        Method::GET,
        format!("{base}/notes/{second}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&text)["content"], "second");

    let (status, text) = call(
        c,
        Method::DELETE,
        format!("{base}/notes/{first}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    assert!(text.is_empty());
    let (status, text) = call(
        c,
        Method::GET,
        format!("{base}/notes/{first}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json(&text), json!({ "message": "note not found" }));
    let (status, _) = call(
        c,
        Method::DELETE,
        format!("{base}/notes/{first}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn a_user_cannot_see_or_delete_another_users_notes() {
    let fx = Fixture::new().await;
    let server = fx.serve().await;
    let (c, base) = (&fx.client, server.base.as_str());
    let alice = fx.access("alice-sub", RW);
    // Bob has every scope, and even Alice's username: notes belong to the sub.
    let bob = fx
        .pool
        .access_token()
        .sub("bob-sub")
        .username("test-user")
        .scopes(RW)
        .sign();

    let note = create(c, base, &alice, "alice's secret").await;
    let bobs = create(c, base, &bob, "bob's note").await;

    // Each list holds its owner's note and nothing else.
    for (token, id, content) in [(&alice, note, "alice's secret"), (&bob, bobs, "bob's note")] {
        let (status, text) = call(c, Method::GET, format!("{base}/notes"), Some(token), None).await;
        assert_eq!(status, StatusCode::OK);
        let list = json(&text);
        assert_eq!(list.as_array().unwrap().len(), 1, "{text}");
        assert_eq!(
            (&list[0]["id"], &list[0]["content"]),
            (&json!(id), &json!(content))
        );
    }

    // Another user's note answers exactly like a note that does not exist.
    let (status, theirs) = call(
        c,
        Method::GET,
        format!("{base}/notes/{note}"),
        Some(&bob),
        None,
    )
    .await;
    let (missing_status, missing) = call(
        c,
        Method::GET,
        format!("{base}/notes/999999"),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(
        (status, missing_status),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(theirs, missing);

    let (status, _) = call(
        c,
        Method::DELETE,
        format!("{base}/notes/{note}"),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Still there for Alice.
    let (status, text) = call(
        c,
        Method::GET,
        format!("{base}/notes/{note}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&text)["content"], "alice's secret");
    server.stop().await;
}

#[tokio::test]
async fn scopes_are_enforced_per_method() {
    let fx = Fixture::new().await;
    let server = fx.serve().await;
    let (c, base) = (&fx.client, server.base.as_str());
    let writer = fx.access("u", &[notes::WRITE_SCOPE]);
    let reader = fx.access("u", &[notes::READ_SCOPE]);
    let unrelated = fx.access("u", &["aws.cognito.signin.user.admin"]);
    let body = r#"{"content":"x"}"#;

    let note = create(c, base, &writer, "x").await;

    // Read-only: can read, cannot write (API Gateway answers a missing scope with 401).
    let (status, _) = call(c, Method::GET, format!("{base}/notes"), Some(&reader), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        c,
        Method::GET,
        format!("{base}/notes/{note}"),
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, text) = call(
        c,
        Method::POST,
        format!("{base}/notes"),
        Some(&reader),
        Some(body),
    )
    .await;
    assert_eq!(
        (status, json(&text)),
        (
            StatusCode::UNAUTHORIZED,
            json!({ "message": "Unauthorized" })
        )
    );
    let (status, _) = call(
        c,
        Method::DELETE,
        format!("{base}/notes/{note}"),
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Write-only: can write, cannot read.
    let (status, _) = call(c, Method::GET, format!("{base}/notes"), Some(&writer), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        c,
        Method::GET,
        format!("{base}/notes/{note}"),
        Some(&writer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Neither scope: nothing.
    for (method, path) in [
        (Method::GET, "/notes".to_owned()),
        (Method::DELETE, format!("/notes/{note}")),
    ] {
        let (status, _) = call(c, method, format!("{base}{path}"), Some(&unrelated), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    // An ID token carries no scopes: refused on the notes routes.
    let (status, _) = call(
        c,
        Method::GET,
        format!("{base}/notes"),
        Some(&fx.id("u")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The DELETE that the reader could not do, the writer can.
    let (status, _) = call(
        c,
        Method::DELETE,
        format!("{base}/notes/{note}"),
        Some(&writer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.stop().await;
}

#[tokio::test]
async fn me_needs_an_id_token_and_returns_the_claims() {
    let fx = Fixture::new().await;
    let server = fx.serve().await;
    let (c, base) = (&fx.client, server.base.as_str());

    let (status, _) = call(
        c,
        Method::GET,
        format!("{base}/me"),
        Some(&fx.access("u", RW)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let id = fx
        .pool
        .id_token()
        .sub("alice-sub")
        .username("alice")
        .email("alice@example.com")
        .groups(["editors"])
        .attribute("custom:team", "blue")
        .sign();
    let (status, text) = call(c, Method::GET, format!("{base}/me"), Some(&id), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let me = json(&text);
    assert_eq!(me["sub"], "alice-sub");
    assert_eq!(me["username"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["groups"], json!(["editors"]));
    assert_eq!(me["token_use"], "id");
    assert_eq!(me["claims"]["custom:team"], "blue");
    assert_eq!(me["claims"]["email_verified"], true);
    // API Gateway's view: every value a string.
    assert_eq!(me["api_gateway_claims"]["email_verified"], "true");
    assert_eq!(me["api_gateway_claims"]["cognito:groups"], "editors");
    assert!(
        me["api_gateway_claims"]["exp"]
            .as_str()
            .unwrap()
            .contains(" UTC ")
    );
    server.stop().await;
}

#[tokio::test]
async fn notes_survive_a_restart() {
    let fx = Fixture::new().await;
    let alice = fx.access("alice-sub", RW);

    let server = fx.serve().await;
    let note = create(&fx.client, &server.base, &alice, "still here").await;
    server.stop().await;

    // A new router over the same file, on a new port.
    let server = fx.serve().await;
    let (status, text) = call(
        &fx.client,
        Method::GET,
        format!("{}/notes", server.base),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&text)[0]["id"], note);
    assert_eq!(json(&text)[0]["content"], "still here");
    // Ids keep counting after a restart: a new note does not reuse the old id.
    let next = create(&fx.client, &server.base, &alice, "after restart").await;
    assert!(next > note);
    server.stop().await;
    assert!(fx.dir.db().exists());
}

#[tokio::test]
async fn missing_or_bad_tokens_get_api_gateway_401() {
    let fx = Fixture::new().await;
    let server = fx.serve().await;
    let (c, base) = (&fx.client, server.base.as_str());

    for (method, path) in [
        (Method::GET, "/notes"),
        (Method::POST, "/notes"),
        (Method::GET, "/notes/1"),
        (Method::DELETE, "/notes/1"),
        (Method::GET, "/me"),
    ] {
        let response = c
            .request(method.clone(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "UnauthorizedException"
        );
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"message":"Unauthorized"}"#
        );
    }

    let expired = fx.pool.access_token().scopes(RW).expired().sign();
    let (status, text) = call(
        c,
        Method::GET,
        format!("{base}/notes"),
        Some(&expired),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(text, r#"{"message":"The incoming token has expired"}"#);

    let (status, text) = call(
        c,
        Method::GET,
        format!("{base}/notes"),
        Some("not.a.token"),
        None,
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"message":"Unauthorized"}"#)
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx() {
    let fx = Fixture::new().await;
    let server = fx.serve().await;
    let (c, base) = (&fx.client, server.base.as_str());
    let alice = fx.access("alice-sub", RW);
    let notes = format!("{base}/notes");

    for (body, expected) in [
        ("{not json", StatusCode::BAD_REQUEST),
        ("", StatusCode::BAD_REQUEST),
        (
            r#"{"text":"wrong field"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (r#"{"content":42}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (r#"{"content":"   "}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (r#""just a string""#, StatusCode::UNPROCESSABLE_ENTITY),
        ("null", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, text) = call(c, Method::POST, notes.clone(), Some(&alice), Some(body)).await;
        assert_eq!(status, expected, "{body:?}: {text}");
        assert!(json(&text)["message"].is_string(), "{body:?}: {text}");
    }

    let too_long = json!({ "content": "x".repeat(notes::MAX_NOTE_CHARS + 1) }).to_string();
    let (status, _) = call(
        c,
        Method::POST,
        notes.clone(),
        Some(&alice),
        Some(&too_long),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Not JSON at all.
    let response = c
        .post(notes.clone())
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(json(&response.text().await.unwrap())["message"].is_string());

    for id in ["abc", "1.5", "99999999999999999999999", "%20"] {
        for method in [Method::GET, Method::DELETE] {
            let (status, text) = call(
                c,
                method.clone(),
                format!("{notes}/{id}"),
                Some(&alice),
                None,
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {id}: {text}");
            assert_eq!(
                json(&text),
                json!({ "message": "note id must be an integer" })
            );
        }
    }

    // Nothing was stored by any of it, and the server still answers.
    let (status, text) = call(c, Method::GET, notes, Some(&alice), None).await;
    assert_eq!((status, json(&text)), (StatusCode::OK, json!([])));
    server.stop().await;
}

#[tokio::test]
async fn unknown_database_directory_is_an_error_not_a_panic() {
    let fx = Fixture::new().await;
    let missing: &Path = &fx.dir.0.join("no-such-dir").join("notes.db");
    assert!(notes::app(&fx.auth, missing).is_err());
}

#[tokio::test]
async fn the_ready_route_reports_the_key_sets() {
    let fixture = Fixture::new().await;
    let server = fixture.serve().await;
    let ready = || {
        call(
            &fixture.client,
            Method::GET,
            format!("{}/ready", server.base),
            None,
            None,
        )
    };
    // No key fetched yet: not ready.
    let (status, body) = ready().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["ready"], false);
    assert_eq!(report["pools"][0]["keys"], 0);
    assert_eq!(report["pools"][0]["key_set_age_secs"], Value::Null);
    // After one request the keys are loaded.
    let token = fixture.id("u");
    let (status, _) = call(
        &fixture.client,
        Method::GET,
        format!("{}/me", server.base),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = ready().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["ready"], true);
    assert_eq!(report["pools"][0]["pool"], fixture.pool.user_pool().id());
    assert_eq!(report["pools"][0]["keys"], 2);
    assert_eq!(report["pools"][0]["failed_fetches"], 0);
    assert!(
        report["oldest_key_set_age_secs"].as_u64().is_some(),
        "{body}"
    );
}
