//! The pets and verify examples' own code: the pets router served on 127.0.0.1
//! and called over HTTP, and the verify command run as a function.

#[allow(dead_code)]
#[path = "../examples/pets.rs"]
mod pets;

#[allow(dead_code)]
#[path = "../examples/verify.rs"]
mod verify;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tower_cognito::test_util::{JwksBehavior, LocalUserPool};
use tower_cognito::{AuthErrorKind, CognitoAuthLayer, Requirement};

mod support;
use support::Server;

// ---------------------------------------------------------------- pets

/// The pets router on 127.0.0.1.
struct PetsServer(Server);

impl PetsServer {
    async fn start(pool: &LocalUserPool) -> Self {
        Self::start_with(&CognitoAuthLayer::new(pool.verifier())).await
    }

    async fn start_with(auth: &CognitoAuthLayer) -> Self {
        Self(support::serve(pets::app(auth, pets::Store::with_samples()).unwrap()).await)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let answer = self
            .0
            .call(method, path, token, body.map(|b| b.to_string()))
            .await;
        (answer.code(), answer.body)
    }

    async fn stop(self) {
        self.0.stop().await;
    }
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;

#[tokio::test]
async fn pets_behind_the_http_api_profile() {
    let pool = LocalUserPool::start().await.unwrap();
    let auth = pets::auth(&pool, pets::Door::HttpApi).unwrap();
    let server = PetsServer::start_with(&auth).await;
    let bird = json!({ "type": "bird", "price": 19.99 });

    // Public reads stay public.
    assert_eq!(
        server.call(Method::GET, "/pets", None, None).await.0,
        StatusCode::OK
    );
    // Adding: any token issued to the app client, ID or access.
    for token in [pool.id_token().sign(), pool.access_token().sign()] {
        let (status, text) = server
            .call(Method::POST, "/pets", Some(&token), Some(bird.clone()))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
    }
    let other_client = pool.id_token().client_id("someone-else").sign();
    let (status, text) = server
        .call(Method::POST, "/pets", Some(&other_client), Some(bird))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, UNAUTHORIZED)
    );
    // Deleting: the scope in any token, else 403 Forbidden.
    for token in [pool.id_token().sign(), pool.access_token().sign()] {
        let (status, text) = server
            .call(Method::DELETE, "/pets/1", Some(&token), None)
            .await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::FORBIDDEN, r#"{"message":"Forbidden"}"#)
        );
    }
    let scp = pool.access_token().scp([pets::DELETE_SCOPE]).sign();
    let (status, _) = server
        .call(Method::DELETE, "/pets/1", Some(&scp), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.stop().await;
}

#[tokio::test]
async fn pets_reads_are_public() {
    let pool = LocalUserPool::start().await.unwrap();
    let server = PetsServer::start(&pool).await;

    let (status, text) = server.call(Method::GET, "/pets", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<String> = json_of(&text)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["dog", "cat", "fish"]);

    let (status, text) = server.call(Method::GET, "/pets/2", None, None).await;
    assert_eq!(
        (status, json_of(&text)["type"].clone()),
        (StatusCode::OK, json!("cat"))
    );

    // A bad token on a public method is not even looked at.
    let (status, _) = server
        .call(Method::GET, "/pets", Some("garbage"), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _) = server.call(Method::GET, "/pets/99", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, text) = server.call(Method::GET, "/pets/abc", None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json_of(&text)["message"].is_string());
    server.stop().await;
}

#[tokio::test]
async fn adding_a_pet_takes_an_id_token() {
    let pool = LocalUserPool::start().await.unwrap();
    let server = PetsServer::start(&pool).await;
    let bird = json!({ "type": "bird", "price": 19.99 });

    let (status, text) = server
        .call(Method::POST, "/pets", None, Some(bird.clone()))
        .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNAUTHORIZED, UNAUTHORIZED)
    );
    // An access token, even with every scope, is not what the method takes.
    let access = pool.access_token().scopes([pets::DELETE_SCOPE]).sign();
    let (status, _) = server
        .call(Method::POST, "/pets", Some(&access), Some(bird.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let id = pool.id_token().sub("alice-sub").sign();
    let (status, text) = server
        .call(Method::POST, "/pets", Some(&id), Some(bird))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let pet = json_of(&text);
    assert_eq!(
        (pet["type"].clone(), pet["added_by"].clone()),
        (json!("bird"), json!("alice-sub"))
    );

    let (status, text) = server
        .call(Method::GET, &format!("/pets/{}", pet["id"]), None, None)
        .await;
    assert_eq!((status, json_of(&text)), (StatusCode::OK, pet));

    for bad in [
        json!({ "type": "bird" }),
        json!({ "type": "", "price": 1 }),
        json!({ "type": "x", "price": -1 }),
    ] {
        let (status, text) = server
            .call(Method::POST, "/pets", Some(&id), Some(bad.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {text}");
        assert!(json_of(&text)["message"].is_string());
    }
    server.stop().await;
}

#[tokio::test]
async fn deleting_a_pet_takes_the_delete_scope() {
    let pool = LocalUserPool::start().await.unwrap();
    let server = PetsServer::start(&pool).await;

    let id = pool.id_token().sign();
    let plain = pool.access_token().sign();
    let other_scope = pool.access_token().scopes(["pets/read"]).sign();
    let admin = pool
        .access_token()
        .scopes(["pets/read", pets::DELETE_SCOPE])
        .sign();

    for token in [None, Some(&id), Some(&plain), Some(&other_scope)] {
        let (status, text) = server
            .call(Method::DELETE, "/pets/1", token.map(String::as_str), None)
            .await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::UNAUTHORIZED, UNAUTHORIZED)
        );
    }
    let (status, _) = server.call(Method::GET, "/pets/1", None, None).await;
    assert_eq!(status, StatusCode::OK, "refused deletes left the pet alone");

    let (status, text) = server
        .call(Method::DELETE, "/pets/1", Some(&admin), None)
        .await;
    assert_eq!((status, text.as_str()), (StatusCode::NO_CONTENT, ""));
    let (status, _) = server.call(Method::GET, "/pets/1", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .call(Method::DELETE, "/pets/1", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

// ---------------------------------------------------------------- verify

struct Run {
    status: u8,
    out: String,
    err: String,
}

async fn run_verify(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = verify::run(&args, &lookup, &mut stdin.as_bytes(), &mut out, &mut err).await;
    Run {
        status,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

/// The arguments naming a local pool: `--pool`, `--jwks-url`, `--client-id`.
fn pool_args(pool: &LocalUserPool) -> Vec<String> {
    vec![
        "--pool".into(),
        pool.pool_id().into(),
        "--jwks-url".into(),
        pool.jwks_url(),
        "--client-id".into(),
        pool.client_id().into(),
    ]
}

fn with<'a>(base: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect()
}

/// The claims JSON printed after `claims:`.
fn printed_claims(out: &str) -> Value {
    let (_, json) = out
        .split_once("claims:\n")
        .unwrap_or_else(|| panic!("no claims in {out}"));
    json_of(json)
}

#[tokio::test]
async fn verify_passes_an_id_token_and_prints_its_claims() {
    let pool = LocalUserPool::start().await.unwrap();
    let base = pool_args(&pool);
    let token = pool
        .id_token()
        .sub("alice-sub")
        .username("alice")
        .attribute("custom:team", "blue")
        .sign();

    let run = run_verify(&with(&base, &[&token]), &[], "").await;
    assert_eq!(run.status, 0, "{}{}", run.out, run.err);
    assert!(
        run.out.starts_with("PASS: API Gateway would answer 200"),
        "{}",
        run.out
    );
    let claims = printed_claims(&run.out);
    assert_eq!(claims["sub"], "alice-sub");
    assert_eq!(claims["cognito:username"], "alice");
    assert_eq!(claims["custom:team"], "blue");
}

#[tokio::test]
async fn verify_fails_with_the_reason_and_api_gateways_answer() {
    let pool = LocalUserPool::start().await.unwrap();
    let base = pool_args(&pool);

    // No scopes: the console's Test wants an ID token.
    let access = pool.access_token().scopes(["notes/read"]).sign();
    let run = run_verify(&with(&base, &[&access]), &[], "").await;
    assert_eq!(run.status, 1);
    assert!(
        run.out
            .starts_with(r#"FAIL: API Gateway would answer 401 {"message":"Unauthorized"}"#),
        "{}",
        run.out
    );
    assert!(
        run.out.contains("reason: WrongTokenUse (wrong token use)"),
        "{}",
        run.out
    );
    assert!(run.out.contains("hint: "), "{}", run.out);
    assert!(
        !run.out.contains("claims:"),
        "no claims for a failing token: {}",
        run.out
    );

    // With the method's scope, the same token passes; with another, it does not.
    let run = run_verify(&with(&base, &["--scope", "notes/read", &access]), &[], "").await;
    assert_eq!(run.status, 0, "{}", run.out);
    assert_eq!(printed_claims(&run.out)["scope"], "notes/read");
    let run = run_verify(&with(&base, &["--scope", "notes/write", &access]), &[], "").await;
    assert_eq!(run.status, 1);
    assert!(run.out.contains("reason: InsufficientScope"), "{}", run.out);

    let expired = pool.id_token().expired().sign();
    let run = run_verify(&with(&base, &[&expired]), &[], "").await;
    assert_eq!(run.status, 1);
    assert!(
        run.out
            .contains(r#"401 {"message":"The incoming token has expired"}"#),
        "{}",
        run.out
    );
    assert!(run.out.contains("reason: Expired"), "{}", run.out);

    let other_client = pool.id_token().client_id("someone-else").sign();
    let run = run_verify(&with(&base, &[&other_client]), &[], "").await;
    assert_eq!(run.status, 1);
    assert!(run.out.contains("reason: WrongClient"), "{}", run.out);

    let run = run_verify(&with(&base, &["not-a-jwt"]), &[], "").await;
    assert_eq!(run.status, 1);
    assert!(run.out.contains("reason: MalformedToken"), "{}", run.out);

    // The key set cannot be had: API Gateway's 500.
    let fresh = LocalUserPool::start().await.unwrap();
    fresh.server().set_behavior(JwksBehavior::Status(500));
    let run = run_verify(
        &with(&pool_args(&fresh), &[&fresh.id_token().sign()]),
        &[],
        "",
    )
    .await;
    assert_eq!(run.status, 1);
    assert!(run.out.contains(r#"500 {"message":null}"#), "{}", run.out);
    assert!(run.out.contains("reason: KeySetUnavailable"), "{}", run.out);
}

#[tokio::test]
async fn verify_reads_the_token_and_settings_from_stdin_and_env() {
    let pool = LocalUserPool::start().await.unwrap();
    let token = pool.id_token().sub("from-stdin").sign();
    let env = [
        ("COGNITO_USER_POOL_ID", pool.pool_id()),
        ("COGNITO_CLIENT_ID", pool.client_id()),
    ];
    let jwks = pool.jwks_url();
    let env: Vec<(&str, &str)> = env
        .into_iter()
        .chain([("COGNITO_JWKS_URL", jwks.as_str())])
        .collect();

    // Absent token and `-` both read stdin; surrounding whitespace is ignored.
    for args in [&[][..], &["-"][..]] {
        let run = run_verify(args, &env, &format!("  {token}\n")).await;
        assert_eq!(run.status, 0, "{args:?}: {}{}", run.out, run.err);
        assert_eq!(printed_claims(&run.out)["sub"], "from-stdin");
    }

    // The command line wins over the environment.
    let run = run_verify(&["--client-id", "another-client", &token], &env, "").await;
    assert_eq!(run.status, 1);
    assert!(run.out.contains("reason: WrongClient"), "{}", run.out);

    // Issuer and JWKS URL without a pool id (the id is the issuer's last segment).
    let run = run_verify(
        &[
            "--issuer",
            pool.issuer(),
            &format!("--jwks-url={jwks}"),
            &token,
        ],
        &[],
        "",
    )
    .await;
    assert_eq!(run.status, 0, "{}{}", run.out, run.err);
}

#[tokio::test]
async fn verify_demo_runs_offline() {
    let run = run_verify(&["--demo"], &[], "").await;
    assert_eq!(run.status, 0, "{}{}", run.out, run.err);
    assert!(run.out.contains("PASS"), "{}", run.out);
    assert_eq!(printed_claims(&run.out)["token_use"], "id");

    let run = run_verify(&["--demo", "--scope", "pets/delete"], &[], "").await;
    assert_eq!(run.status, 0, "{}{}", run.out, run.err);
    let claims = printed_claims(&run.out);
    assert_eq!(
        (claims["token_use"].clone(), claims["scope"].clone()),
        (json!("access"), json!("pets/delete"))
    );
}

#[tokio::test]
async fn verify_usage_errors_exit_2() {
    let pool = LocalUserPool::start().await.unwrap();
    let token = pool.id_token().sign();
    let jwks = pool.jwks_url();
    for (args, says) in [
        (vec![token.as_str()], "no user pool"),
        (vec!["--pool"], "--pool needs a value"),
        (vec!["--bogus", token.as_str()], "unknown option --bogus"),
        (vec!["--pool", "not-a-pool-id", token.as_str()], "region"),
        (
            vec![
                "--pool",
                pool.pool_id(),
                "--jwks-url",
                "ftp://x/y",
                token.as_str(),
            ],
            "ftp",
        ),
        (
            vec!["--pool", pool.pool_id(), "--jwks-url", &jwks, "a", "b"],
            "more than one token",
        ),
        (
            vec!["--pool", pool.pool_id(), "--jwks-url", &jwks],
            "no token",
        ),
        (
            vec![
                "--pool",
                pool.pool_id(),
                "--token-use",
                "id",
                "--scope",
                "s",
                token.as_str(),
            ],
            "scopes of ID tokens",
        ),
        (
            vec!["--token-use", "refresh", token.as_str()],
            "--token-use takes",
        ),
        (vec!["--demo", token.as_str()], "give no token"),
    ] {
        let run = run_verify(&args, &[], "").await;
        assert_eq!(run.status, 2, "{args:?}: {}{}", run.out, run.err);
        assert!(run.err.contains(says), "{args:?}: {}", run.err);
        assert!(run.out.is_empty(), "{args:?}: {}", run.out);
    }

    let run = run_verify(&["--help"], &[], "").await;
    assert_eq!(run.status, 0);
    assert!(run.out.contains("usage: verify"));
}

#[tokio::test]
async fn verify_test_token_is_the_layers_verdict() {
    let pool = LocalUserPool::start().await.unwrap();
    let verifier = pool.verifier();
    let token = pool.access_token().scopes(["a"]).sign();

    let verdict = verify::test_token(&verifier, Requirement::any_scope(["a"]), &token)
        .await
        .unwrap();
    assert_eq!((verdict.status, verdict.body.as_str()), (200, ""));
    assert!(verdict.result.unwrap().has_scope("a"));

    let verdict = verify::test_token(&verifier, Requirement::new(), &token)
        .await
        .unwrap();
    assert_eq!((verdict.status, verdict.body.as_str()), (401, UNAUTHORIZED));
    assert_eq!(
        verdict.result.unwrap_err().kind,
        AuthErrorKind::WrongTokenUse
    );

    // A pasted "Bearer <token>" is read as API Gateway reads the header.
    let verdict = verify::test_token(
        &verifier,
        Requirement::any_scope(["a"]),
        &format!("Bearer {token}"),
    )
    .await
    .unwrap();
    assert_eq!(verdict.status, 200);

    let verdict = verify::test_token(&verifier, Requirement::new(), "tab\tand\u{7f}")
        .await
        .unwrap();
    assert_eq!(
        verdict.result.unwrap_err().kind,
        AuthErrorKind::MalformedToken
    );
}
