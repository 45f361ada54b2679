//! Nothing the crate writes (its `tracing` output, its errors, its `Debug` output)
//! contains a token or key material.
//!
//! This test binary installs a process-wide `tracing` subscriber at TRACE level
//! that writes into a buffer, so events from every thread and task are captured,
//! then sends rejected requests of many kinds through the layer over a real HTTP
//! server and searches the buffer for the tokens it sent and the keys it used.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::HeaderValue;
use std::time::Duration;
use tower_cognito::test_util::{JwksBehavior, LocalUserPool, SigningKey};
use tower_cognito::{
    AuthError, AuthErrorKind, Claims, CognitoAuthLayer, Requirement, TokenUse, Verifier,
};

mod support;
use support::Server;

/// Secrets to look for, with a name for the failure message. Besides whole values,
/// every 32-character window (at a step of 8) is a secret of its own, so a log that
/// prints part of a token or key is caught too.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, name: &str, value: &str) {
        self.0.push((name.to_owned(), value.to_owned()));
        let chars: Vec<char> = value.chars().collect();
        if chars.len() > 32 {
            for start in (0..=chars.len() - 32).step_by(8) {
                let window: String = chars[start..start + 32].iter().collect();
                self.0
                    .push((format!("{name} [{start}..{}]", start + 32), window));
            }
        }
    }

    /// A token, its three segments, and pieces of each.
    fn token(&mut self, name: &str, token: &str) {
        self.0.push((format!("{name} (whole)"), token.to_owned()));
        let segments: Vec<&str> = token.split('.').collect();
        for (segment, what) in segments.iter().zip(["header", "payload", "signature"]) {
            if segment.len() >= 16 {
                self.add(&format!("{name} {what} segment"), segment);
            }
        }
    }

    /// A signing key's public material: the JWK `n` and the DER.
    fn key(&mut self, key: &SigningKey) {
        let jwk = key.jwk();
        self.add(&format!("n of {}", key.kid()), jwk["n"].as_str().unwrap());
        let der = key.public_key_der();
        self.add(
            &format!("DER of {} (base64)", key.kid()),
            &STANDARD.encode(&der),
        );
        self.add(
            &format!("DER of {} (base64url)", key.kid()),
            &URL_SAFE_NO_PAD.encode(&der),
        );
    }

    /// Every key the pools publish, and one they do not.
    fn keys_of(&mut self, pools: &[&LocalUserPool], stranger: &SigningKey) {
        for pool in pools {
            for key in pool.published_keys() {
                self.key(&key);
            }
        }
        self.key(stranger);
    }

    /// Fails naming every secret that appears in `text`.
    fn assert_absent(&self, what: &str, text: &str) {
        let found: Vec<&str> = self
            .0
            .iter()
            .filter(|(_, v)| text.contains(v.as_str()))
            .map(|(n, _)| n.as_str())
            .collect();
        assert!(found.is_empty(), "{what} contains {found:?}:\n{text}");
    }
}

/// Serves `/me` (ID token) and `/notes` (access token with `notes/write`) behind
/// layers made from this verifier.
async fn serve(verifier: Verifier) -> Server {
    use axum::{Router, routing::get};
    let auth = CognitoAuthLayer::new(verifier);
    let notes = auth
        .require(Requirement::any_scope(["notes/write"]))
        .unwrap();
    let app = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub().to_owned() }))
        .route_layer(auth)
        .merge(
            Router::new()
                .route("/notes", get(|| async { "[]" }))
                .route_layer(notes),
        );
    support::serve(app).await
}

async fn send(client: &reqwest::Client, url: &str, values: &[&str]) -> u16 {
    let mut request = client.get(url);
    for v in values {
        request = request.header(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(v).unwrap(),
        );
    }
    support::send(request).await.status
}

#[tokio::test]
async fn rejected_requests_leave_no_token_or_key_in_the_logs() {
    let capture = support::global_logs();
    let pool = LocalUserPool::start().await.unwrap();
    let other = LocalUserPool::start().await.unwrap();
    let stranger = SigningKey::generate(pool.signing_key(TokenUse::Id).kid());
    let server = serve(pool.verifier()).await;
    let client = &server.client;
    let me = server.url("/me");
    let notes = server.url("/notes");

    let valid = pool.id_token().sign();
    let id_header = valid.split('.').next().unwrap();
    let payload = valid.split('.').nth(1).unwrap();
    let cases: Vec<(&str, String, &str, u16)> = vec![
        ("valid", valid.clone(), &me, 200),
        ("expired", pool.id_token().expired().sign(), &me, 401),
        (
            "bad signature",
            pool.id_token().signed_by(&stranger).sign(),
            &me,
            401,
        ),
        ("wrong issuer", other.id_token().sign(), &me, 401),
        (
            "wrong client",
            pool.id_token().client_id("someone-else").sign(),
            &me,
            401,
        ),
        (
            "unknown kid",
            pool.id_token()
                .signed_by(&SigningKey::generate("unpublished"))
                .sign(),
            &me,
            401,
        ),
        (
            "malformed: two segments",
            format!("{id_header}.{payload}"),
            &me,
            401,
        ),
        (
            "malformed: truncated",
            valid[..valid.len() - 7].to_owned(),
            &me,
            401,
        ),
        ("malformed: junk", format!("{valid}junk"), &me, 401),
        (
            "alg none",
            format!(
                "{}.{payload}.c2ln",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#)
            ),
            &me,
            401,
        ),
        (
            "missing scope",
            pool.access_token().scopes(["notes/read"]).sign(),
            &notes,
            401,
        ),
        (
            "ID token on an access route",
            pool.id_token().sign(),
            &notes,
            401,
        ),
    ];
    let mut secrets = Secrets::default();
    secrets.keys_of(&[&pool, &other], &stranger);
    for (name, token, url, status) in &cases {
        secrets.token(name, token);
        assert_eq!(
            send(client, url, &[&format!("Bearer {token}")]).await,
            *status,
            "{name}"
        );
    }
    // The same token twice in one request.
    assert_eq!(send(client, &me, &[&valid, &valid]).await, 401);

    // A key set that cannot be had: an error status, a body that is not JSON, a hang.
    for behavior in [
        JwksBehavior::Status(500),
        JwksBehavior::Body(b"<html>oops</html>".to_vec()),
        JwksBehavior::Delay(Duration::from_secs(2)),
    ] {
        let broken = LocalUserPool::start().await.unwrap();
        broken.server().set_behavior(behavior);
        let verifier = broken
            .verifier_builder()
            .fetch_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let failing = serve(verifier).await;
        let token = broken.id_token().sign();
        secrets.token("token of a pool whose JWKS fails", &token);
        for key in broken.published_keys() {
            secrets.key(&key);
        }
        assert_eq!(
            send(client, &failing.url("/me"), &[&format!("Bearer {token}")]).await,
            500
        );
    }

    let logs = capture.text();
    assert!(!logs.is_empty(), "nothing was captured");
    for kind in [
        AuthErrorKind::Expired,
        AuthErrorKind::BadSignature,
        AuthErrorKind::WrongIssuer,
        AuthErrorKind::WrongClient,
        AuthErrorKind::UnknownKey,
        AuthErrorKind::MalformedToken,
        AuthErrorKind::DisallowedAlgorithm,
        AuthErrorKind::InsufficientScope,
        AuthErrorKind::WrongTokenUse,
        AuthErrorKind::InvalidRequest,
        AuthErrorKind::KeySetUnavailable,
    ] {
        assert!(
            logs.contains(&format!("{kind:?}")),
            "no log line says {kind:?}:\n{logs}"
        );
    }
    secrets.assert_absent("the tracing output", &logs);
}

#[tokio::test]
async fn errors_and_debug_output_hold_no_token_or_key() {
    let capture = support::global_logs();
    let pool = LocalUserPool::start().await.unwrap();
    let other = LocalUserPool::start().await.unwrap();
    let verifier = pool.verifier();
    let stranger = SigningKey::generate(pool.signing_key(TokenUse::Id).kid());
    let mut secrets = Secrets::default();
    secrets.keys_of(&[&pool, &other], &stranger);

    let valid = pool
        .access_token()
        .scopes(["notes/read"])
        .groups(["admins"])
        .sign();
    secrets.token("valid", &valid);
    let claims = verifier.verify(&valid).await.unwrap();
    let id_claims = verifier.verify(&pool.id_token().sign()).await.unwrap();

    let payload = valid.split('.').nth(1).unwrap().to_owned();
    let hostile = [
        pool.id_token().expired().sign(),
        pool.id_token().signed_by(&stranger).sign(),
        other.id_token().sign(),
        pool.id_token().client_id("x").sign(),
        pool.id_token().token_use("refresh").sign(),
        pool.id_token().claim("exp", "soon").sign(),
        pool.id_token()
            .signed_by(&SigningKey::generate("unpublished"))
            .sign(),
        format!(
            "{}.{payload}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#)
        ),
        format!("{valid}.{payload}"),
        valid[..valid.len() - 1].to_owned(),
        "A".repeat(20_000),
    ];
    let mut errors: Vec<AuthError> = Vec::new();
    for token in &hostile {
        secrets.token("hostile", token);
        errors.push(verifier.verify(token).await.unwrap_err());
    }
    // Requirement failures and a key set that cannot be had.
    errors.push(
        Requirement::any_scope(["notes/write"])
            .evaluate(&claims)
            .unwrap_err(),
    );
    errors.push(Requirement::new().evaluate(&claims).unwrap_err());
    errors.push(
        Requirement::new()
            .any_group(["ops"])
            .evaluate(&id_claims)
            .unwrap_err(),
    );
    let broken = LocalUserPool::start().await.unwrap();
    broken.server().set_behavior(JwksBehavior::Status(503));
    let broken_token = broken.id_token().sign();
    secrets.token("token of a pool whose JWKS fails", &broken_token);
    errors.push(broken.verifier().verify(&broken_token).await.unwrap_err());
    assert!(
        errors
            .iter()
            .any(|e| e.kind() == AuthErrorKind::KeySetUnavailable)
    );

    for error in &errors {
        secrets.assert_absent("an error's Display", &error.to_string());
        secrets.assert_absent("an error's Debug", &format!("{error:?}"));
        secrets.assert_absent("an error's detail", error.detail());
    }
    let layer = CognitoAuthLayer::new(verifier.clone())
        .require(Requirement::any_scope(["notes/read"]))
        .unwrap();
    let signing_keys: Vec<String> = pool
        .published_keys()
        .iter()
        .map(|k| format!("{k:?}"))
        .collect();
    for (what, text) in [
        ("Claims", format!("{claims:?}")),
        ("Claims (pretty)", format!("{claims:#?}")),
        ("ID Claims", format!("{id_claims:?}")),
        ("Verifier", format!("{verifier:?}")),
        ("CognitoAuthLayer", format!("{layer:?}")),
        ("LocalUserPool", format!("{pool:?}")),
        ("SigningKey", signing_keys.join("\n")),
    ] {
        secrets.assert_absent(what, &text);
    }
    secrets.assert_absent("the tracing output", &capture.text());
}

#[tokio::test]
async fn a_hostile_jwks_body_is_not_reflected_into_errors_or_logs() {
    let capture = support::global_logs();
    let pool = LocalUserPool::start().await.unwrap();
    let marker = "eyJhbGciOiJSUzI1NiJ9-reflected";
    let body = format!(r#"{{"keys":"{}"}}"#, marker.repeat(1000));
    pool.server()
        .set_behavior(JwksBehavior::Body(body.into_bytes()));
    let error = pool
        .verifier()
        .verify(&pool.id_token().sign())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::KeySetUnavailable);
    assert!(
        error.detail().len() < 1024,
        "a {}-byte detail, built again for every rejected request",
        error.detail().len()
    );
    assert!(
        !error.detail().contains(marker),
        "the detail quotes the JWKS body"
    );
    assert!(
        !capture.text().contains(marker),
        "the logs quote the JWKS body"
    );
}
