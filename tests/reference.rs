//! Agreement with AWS's own verifier, the npm package `aws-jwt-verify` .
//!
//! Needs Node and the package: `.ci/reference.sh` installs it and prints the path to set as
//! `REFERENCE_NODE_MODULES`; `.ci/run` does both and runs this with `--ignored`. The reference
//! runs with the JWKS handed to it (`verifySync`), so nothing leaves the machine.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::io::Write;
use tower_cognito::test_util::{LocalUserPool, SigningKey};
use tower_cognito::{TokenUse, Verifier};

mod support;

/// Where this crate is stricter than the reference on purpose (README, "Stricter than aws-jwt-verify"),
/// or more lenient on purpose: a claim that the verification does not read may have
/// any shape, and fails only a route requirement that reads it (the reference refuses
/// a non-string `scope` or `jti` while parsing).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Agree,
    Stricter,
    Laxer,
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn weak_key_token(pool: &LocalUserPool) -> (Value, String) {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs1v15::SigningKey as RsaSigner;
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;
    let weak =
        rsa::RsaPrivateKey::from_pkcs1_der(include_bytes!("data/rsa1024-pkcs1.der")).unwrap();
    let jwk = json!({
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "weak",
        "n": URL_SAFE_NO_PAD.encode(weak.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(weak.e().to_bytes_be()),
    });
    let payload = Value::Object(pool.id_token().payload().clone()).to_string();
    let input = format!(
        "{}.{}",
        b64(r#"{"kid":"weak","alg":"RS256"}"#),
        b64(&payload)
    );
    let signature = RsaSigner::<rsa::sha2::Sha256>::new(weak).sign(input.as_bytes());
    (
        jwk,
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())),
    )
}

#[tokio::test]
#[ignore = "needs Node and aws-jwt-verify: run .ci/reference.sh, set REFERENCE_NODE_MODULES"]
async fn agrees_with_aws_jwt_verify() {
    let modules = support::reference_modules();
    let pool = LocalUserPool::start().await.unwrap();
    let id_key = pool.signing_key(TokenUse::Id);
    let (weak_jwk, weak_token) = weak_key_token(&pool);
    let mut keys: Vec<Value> = pool.published_keys().iter().map(SigningKey::jwk).collect();
    keys.push(weak_jwk);
    let jwks = json!({ "keys": keys });
    pool.server().set_jwks(serde_json::to_vec(&jwks).unwrap());

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let payload = |token: tower_cognito::test_util::TokenBuilder| {
        Value::Object(token.payload().clone()).to_string()
    };
    let tampered = {
        let genuine = pool.id_token().sub("alice").sign();
        let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
        parts[1] = b64(&payload(pool.id_token().sub("mallory")));
        parts.join(".")
    };
    let hs256 = {
        let input = format!(
            "{}.{}",
            b64(&json!({"alg": "HS256", "kid": id_key.kid()}).to_string()),
            b64(&payload(pool.id_token()))
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &id_key.public_key_der());
        let mac = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    };
    let duplicate_sub = {
        let body = payload(pool.id_token().sub("alice"));
        let body = format!("{},\"sub\":\"mallory\"}}", &body[..body.len() - 1]);
        id_key.sign_raw(
            &json!({"kid": id_key.kid(), "alg": "RS256"}).to_string(),
            &body,
        )
    };
    let global_issuer = format!(
        "https://issuer-cognito-idp.us-east-1.amazonaws.com/{}",
        pool.pool_id()
    );

    let cases: Vec<(&str, String, Expect)> = vec![
        ("valid ID token", pool.id_token().sign(), Expect::Agree),
        (
            "valid access token",
            pool.access_token().scopes(["a/b"]).sign(),
            Expect::Agree,
        ),
        (
            "global issuer form",
            pool.id_token().issuer(global_issuer).sign(),
            Expect::Agree,
        ),
        ("expired", pool.id_token().expired().sign(), Expect::Agree),
        (
            "not yet valid",
            pool.id_token().claim("nbf", now + 600).sign(),
            Expect::Agree,
        ),
        (
            "other pool's issuer",
            pool.id_token()
                .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")
                .sign(),
            Expect::Agree,
        ),
        (
            "other client (ID)",
            pool.id_token().client_id("other").sign(),
            Expect::Agree,
        ),
        (
            "other client (access)",
            pool.access_token().client_id("other").sign(),
            Expect::Agree,
        ),
        ("changed payload", tampered, Expect::Agree),
        (
            "unknown kid",
            pool.id_token()
                .signed_by(&SigningKey::generate("nope"))
                .sign(),
            Expect::Agree,
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "kid": id_key.kid()}).to_string()),
                b64(&payload(pool.id_token()))
            ),
            Expect::Agree,
        ),
        ("HS256 keyed with the public key", hs256, Expect::Agree),
        (
            "RS512 claimed for an RS256 key",
            pool.id_token()
                .header(json!({"kid": id_key.kid(), "alg": "RS512"}))
                .sign(),
            Expect::Agree,
        ),
        (
            "token_use refresh",
            pool.id_token().token_use("refresh").sign(),
            Expect::Agree,
        ),
        (
            "exp as a string",
            pool.id_token().claim("exp", (now + 600).to_string()).sign(),
            Expect::Agree,
        ),
        (
            "fractional exp and nbf",
            pool.id_token()
                .claim("exp", now as f64 + 600.5)
                .claim("nbf", now as f64 - 60.5)
                .sign(),
            Expect::Agree,
        ),
        (
            "fractional exp just passed",
            pool.id_token().claim("exp", now as f64 - 5.5).sign(),
            Expect::Agree,
        ),
        (
            "iat as a string",
            pool.id_token().claim("iat", "yesterday").sign(),
            Expect::Agree,
        ),
        (
            "header is an array",
            id_key.sign_raw(
                &json!(["RS256", id_key.kid()]).to_string(),
                &payload(pool.id_token()),
            ),
            Expect::Agree,
        ),
        (
            "cognito:groups as a string",
            pool.id_token().claim("cognito:groups", "admins").sign(),
            Expect::Agree,
        ),
        (
            "trigger claims of other types",
            pool.id_token()
                .claim("email_verified", "true")
                .claim("cognito:username", 5)
                .claim("custom:role", json!({"a": [1]}))
                .sign(),
            Expect::Agree,
        ),
        // The documented stricter cases.
        (
            "no exp",
            pool.id_token().without("exp").sign(),
            Expect::Stricter,
        ),
        (
            "crit header",
            pool.id_token()
                .header(json!({"kid": id_key.kid(), "alg": "RS256", "crit": ["exp"]}))
                .sign(),
            Expect::Stricter,
        ),
        ("1024-bit key", weak_token, Expect::Stricter),
        (
            "sub twice (checks could read either)",
            duplicate_sub,
            Expect::Stricter,
        ),
        (
            "a header name twice",
            id_key.sign_raw(
                &format!(
                    r#"{{"kid":{:?},"alg":"RS256","typ":"JWT","typ":"JWT"}}"#,
                    id_key.kid()
                ),
                &payload(pool.id_token()),
            ),
            Expect::Stricter,
        ),
        // The documented more lenient cases.
        (
            "scope as an array",
            pool.access_token().claim("scope", json!(["a/b"])).sign(),
            Expect::Laxer,
        ),
        (
            "jti as a number",
            pool.id_token().claim("jti", 7).sign(),
            Expect::Laxer,
        ),
    ];

    let input = json!({
        "userPoolId": pool.pool_id(),
        "clientId": pool.client_id(),
        "jwks": jwks,
        "tokens": cases.iter().map(|(_, token, _)| token).collect::<Vec<_>>(),
    });
    let mut child = support::reference_node("verify.mjs", &modules);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the reference script failed");
    let reference: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reference.len(), cases.len());

    let verifier = Verifier::builder()
        .pool(pool.user_pool())
        .client_id(pool.client_id())
        .build()
        .unwrap();
    let mut table = Vec::new();
    for ((name, token, expect), theirs) in cases.iter().zip(&reference) {
        let ours = verifier.verify(token).await;
        let their_valid = theirs["valid"].as_bool().unwrap();
        table.push(format!(
            "{name:<34} reference: {:<40} tower-cognito: {}",
            if their_valid {
                "valid".to_owned()
            } else {
                format!("invalid ({})", theirs["error"].as_str().unwrap_or("?"))
            },
            match &ours {
                Ok(_) => "valid".to_owned(),
                Err(e) => format!("invalid ({:?})", e.kind()),
            }
        ));
        match expect {
            Expect::Agree => assert_eq!(
                ours.is_ok(),
                their_valid,
                "{name}: {}",
                table.last().unwrap()
            ),
            Expect::Stricter => {
                assert!(
                    their_valid,
                    "{name}: the reference was expected to accept it"
                );
                assert!(
                    ours.is_err(),
                    "{name}: tower-cognito was expected to refuse it"
                );
            }
            Expect::Laxer => {
                assert!(
                    !their_valid,
                    "{name}: the reference was expected to refuse it"
                );
                assert!(
                    ours.is_ok(),
                    "{name}: tower-cognito was expected to accept it"
                );
            }
        }
    }
    println!("{}", table.join("\n"));
}
