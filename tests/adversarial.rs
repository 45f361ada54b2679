//! Hostile tokens and headers. Each must end in the exact rejection it deserves,
//! through `Verifier::verify` and through the layer (over a real HTTP server where
//! the transport matters): never a panic, an accepted forgery, or a fetch of a URL
//! the token chose.
//!
//! Every forged token here is built so that only the property under test is wrong:
//! its issuer, client and lifetime are right, and wherever possible it is signed by
//! a key the pool really publishes.

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaEncoding};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tower::ServiceExt as _;
use tower_cognito::test_util::{JwksServer, LocalUserPool, SigningKey};
use tower_cognito::{
    AuthError, AuthErrorKind, Claims, CognitoAuthLayer, Requirement, Responses, TokenUse,
    TokenUseRule, UserPool, Verifier, VerifierBuilder,
};

use AuthErrorKind as K;

mod support;
use support::Server;

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// The `kid` of an RSA key the harness holds itself, so it can sign any bytes with
/// any RSA algorithm.
const EXTRA_KID: &str = "extra-rsa";
/// The `kid` of a symmetric key the hostile JWKS also lists (it must never be used).
const OCT_KID: &str = "oct-key";
/// The secret of that symmetric key.
const OCT_SECRET: &[u8] = b"a shared secret an attacker knows";
/// The `kid` of a P-256 key the JWKS also lists (it must never be used).
const EC_KID: &str = "ec-key";

/// A local pool, a JWKS endpoint (the test kit's, which records every request, so
/// a test can tell exactly which URLs the verifier fetched) that serves its keys
/// plus three more (an RSA key the test can sign anything with, a symmetric key and
/// an EC key), and a verifier for it with the token cache off and a long unknown-`kid`
/// cooldown, its keys already fetched.
struct Harness {
    pool: LocalUserPool,
    id_key: SigningKey,
    extra: RsaKeyPair,
    ec: EcdsaKeyPair,
    jwks: JwksServer,
    path: String,
    verifier: Verifier,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_jwk(pair: &RsaKeyPair, kid: &str) -> Value {
    let public = pair.public_key();
    json!({
        "alg": "RS256",
        "e": b64(public.exponent().big_endian_without_leading_zero()),
        "kid": kid,
        "kty": "RSA",
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "use": "sig",
    })
}

fn base_builder(pool: &LocalUserPool, jwks: &JwksServer, path: &str) -> VerifierBuilder {
    Verifier::builder()
        .pool(UserPool::new(pool.pool_id()).jwks_url(jwks.url(path)))
        .client_id(pool.client_id())
        .token_cache_capacity(0)
        .unknown_kid_cooldown(Duration::from_secs(60))
}

impl Harness {
    async fn start() -> Self {
        Self::with(|builder| builder).await
    }

    async fn with(configure: impl FnOnce(VerifierBuilder) -> VerifierBuilder) -> Self {
        let pool = LocalUserPool::start().await.unwrap();
        let extra = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let ec = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = ec.public_key().as_ref().to_vec();
        let mut keys: Vec<Value> = pool.published_keys().iter().map(SigningKey::jwk).collect();
        keys.push(rsa_jwk(&extra, EXTRA_KID));
        keys.push(json!({"kty": "oct", "kid": OCT_KID, "alg": "HS256", "use": "sig", "k": b64(OCT_SECRET)}));
        keys.push(json!({
            "kty": "EC", "kid": EC_KID, "alg": "ES256", "use": "sig", "crv": "P-256",
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        }));
        let jwks = JwksServer::start(serde_json::to_vec(&json!({ "keys": keys })).unwrap())
            .await
            .unwrap();
        let path = format!("/{}/.well-known/jwks.json", pool.pool_id());
        let builder = base_builder(&pool, &jwks, &path);
        let verifier = configure(builder).build().unwrap();
        verifier.prefetch().await.unwrap();
        let id_key = pool.signing_key(TokenUse::Id);
        Self {
            pool,
            id_key,
            extra,
            ec,
            jwks,
            path,
            verifier,
        }
    }

    /// A builder configured as the harness's verifier was, before `configure`.
    fn builder(&self) -> VerifierBuilder {
        base_builder(&self.pool, &self.jwks, &self.path)
    }

    /// A valid ID token's payload, to be spoiled by the test.
    fn payload(&self) -> Map<String, Value> {
        self.pool.id_token().payload().clone()
    }

    fn payload_text(&self) -> String {
        Value::Object(self.payload()).to_string()
    }

    /// The ID key's RS256 header.
    fn header(&self) -> String {
        json!({"alg": "RS256", "kid": self.id_key.kid()}).to_string()
    }

    /// Signs this header and payload (JSON text) with the pool's ID key.
    fn signed(&self, header: &str, payload: &str) -> String {
        self.id_key.sign_raw(header, payload)
    }

    /// A valid ID token, built the same way as the forgeries.
    fn valid(&self) -> String {
        self.signed(&self.header(), &self.payload_text())
    }

    /// `input.signature` where the signature is the extra RSA key's over `input`
    /// with this algorithm.
    fn extra_signed(&self, input: &str, alg: &'static dyn RsaEncoding) -> String {
        let mut sig = vec![0; self.extra.public_modulus_len()];
        self.extra
            .sign(alg, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .unwrap();
        format!("{input}.{}", b64(sig))
    }

    /// Asserts that no request went anywhere but the configured JWKS path, and at
    /// most `max` went at all.
    fn assert_fetches(&self, max: usize) {
        let lines: Vec<String> = self
            .jwks
            .recorded()
            .iter()
            .map(|r| format!("{} {} {}", r.method, r.path, r.version))
            .collect();
        let expected = format!("GET {} HTTP/1.1", self.path);
        assert!(
            lines.iter().all(|l| *l == expected),
            "fetched other URLs: {lines:?}"
        );
        assert!(
            lines.len() <= max,
            "{} fetches, at most {max} expected: {lines:?}",
            lines.len()
        );
    }
}

/// Adds raw JSON members (`"name":value,…`) to the front of a JSON object's text,
/// so that the result can hold what `serde_json::Value` cannot: duplicate names,
/// numbers out of range, nesting deeper than its parser allows.
fn with_raw(object: &str, raw: &str) -> String {
    assert!(object.starts_with('{') && object.len() > 2);
    format!("{{{raw},{}", &object[1..])
}

/// Adds raw JSON members to the end of a JSON object's text.
fn append_raw(object: &str, raw: &str) -> String {
    assert!(object.ends_with('}') && object.len() > 2);
    format!("{},{raw}}}", &object[..object.len() - 1])
}

/// The payload text without these members.
fn without(payload: &Map<String, Value>, names: &[&str]) -> String {
    let mut payload = payload.clone();
    for name in names {
        payload.remove(*name);
    }
    Value::Object(payload).to_string()
}

/// Verifies every case and fails with the list of those that were accepted or
/// rejected with another kind.
async fn check(verifier: &Verifier, cases: &[(&str, String, AuthErrorKind)]) {
    let mut wrong = Vec::new();
    for (label, token, expected) in cases {
        match verifier.verify(token).await {
            Ok(claims) => wrong.push(format!("{label}: ACCEPTED (sub {})", claims.sub())),
            Err(e) if e.kind() != *expected => {
                wrong.push(format!(
                    "{label}: {:?} ({}), expected {expected:?}",
                    e.kind(),
                    e.detail()
                ));
            }
            Err(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

async fn accepts(verifier: &Verifier, token: &str) -> Claims {
    match verifier.verify(token).await {
        Ok(claims) => claims,
        Err(e) => panic!("a valid token was rejected: {e}"),
    }
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

fn hmac_token(
    alg: &str,
    hmac_alg: hmac::Algorithm,
    kid: &str,
    payload: &str,
    secret: &[u8],
) -> String {
    let input = format!(
        "{}.{}",
        b64(json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string()),
        b64(payload)
    );
    let tag = hmac::sign(&hmac::Key::new(hmac_alg, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

// ---------------------------------------------------------------------------
// Algorithms
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_harness_accepts_its_own_valid_tokens() {
    // Every forgery below differs from one of these in the property under test only.
    let h = Harness::start().await;
    assert_eq!(
        accepts(&h.verifier, &h.valid()).await.issuer(),
        h.pool.issuer()
    );
    let extra = h.extra_signed(
        &format!(
            "{}.{}",
            b64(json!({"alg": "RS256", "kid": EXTRA_KID}).to_string()),
            b64(h.payload_text())
        ),
        &signature::RSA_PKCS1_SHA256,
    );
    accepts(&h.verifier, &extra).await;
    accepts(&h.verifier, &h.pool.access_token().sign()).await;
    h.assert_fetches(1);
}

#[tokio::test]
async fn alg_none_is_refused_with_or_without_a_signature() {
    let h = Harness::start().await;
    let payload = b64(h.payload_text());
    let kid = h.id_key.kid();
    let none = |alg: &str| b64(json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string());
    let valid_sig = h.valid().rsplit_once('.').unwrap().1.to_owned();
    let mut cases = vec![
        (
            "none, no signature segment",
            format!("{}.{payload}", none("none")),
            K::MalformedToken,
        ),
        (
            "none, empty signature",
            format!("{}.{payload}.", none("none")),
            K::MalformedToken,
        ),
        (
            "none, some signature",
            format!("{}.{payload}.{}", none("none"), b64("sig")),
            K::DisallowedAlgorithm,
        ),
        (
            "none, a real RS256 signature",
            format!("{}.{payload}.{valid_sig}", none("none")),
            K::DisallowedAlgorithm,
        ),
        (
            "none without kid",
            format!("{}.{payload}.{}", b64(r#"{"alg":"none"}"#), b64("x")),
            K::DisallowedAlgorithm,
        ),
        (
            "no alg at all",
            format!(
                "{}.{payload}.{valid_sig}",
                b64(json!({"kid": kid}).to_string())
            ),
            K::MalformedToken,
        ),
        (
            "alg null",
            format!(
                "{}.{payload}.{valid_sig}",
                b64(json!({"alg": null, "kid": kid}).to_string())
            ),
            K::MalformedToken,
        ),
        (
            "alg as number",
            format!(
                "{}.{payload}.{valid_sig}",
                b64(json!({"alg": 256, "kid": kid}).to_string())
            ),
            K::MalformedToken,
        ),
        (
            "alg as array",
            format!(
                "{}.{payload}.{valid_sig}",
                b64(json!({"alg": ["RS256"], "kid": kid}).to_string())
            ),
            K::MalformedToken,
        ),
    ];
    for alg in [
        "None",
        "NONE",
        "nOnE",
        "",
        "RS256 ",
        " RS256",
        "rs256",
        "RS256\u{0}",
        "RS2560",
    ] {
        cases.push((
            "alg variant",
            format!("{}.{payload}.{valid_sig}", none(alg)),
            K::DisallowedAlgorithm,
        ));
    }
    check(&h.verifier, &cases).await;
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    // The classic key-confusion attack: HS256 with the RSA public key as the secret.
    let h = Harness::start().await;
    let kid = h.id_key.kid().to_owned();
    let payload = h.payload_text();
    let der = h.id_key.public_key_der();
    let jwk = h.id_key.jwk();
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let pem = pem(&der);
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("PEM", pem.clone().into_bytes()),
        (
            "PEM without final newline",
            pem.trim_end().as_bytes().to_vec(),
        ),
        ("DER", der.clone()),
        ("JWK JSON", jwk.to_string().into_bytes()),
        ("modulus", n),
        ("empty", Vec::new()),
    ];
    let mut cases = Vec::new();
    for (what, secret) in &secrets {
        for (alg, hmac_alg) in [
            ("HS256", hmac::HMAC_SHA256),
            ("HS384", hmac::HMAC_SHA384),
            ("HS512", hmac::HMAC_SHA512),
        ] {
            cases.push((
                *what,
                hmac_token(alg, hmac_alg, &kid, &payload, secret),
                K::DisallowedAlgorithm,
            ));
        }
        // The same MAC under a header that claims RS256: the pinned algorithm checks
        // it as an RSA signature, which it is not.
        cases.push((
            *what,
            hmac_token("RS256", hmac::HMAC_SHA256, &kid, &payload, secret),
            K::BadSignature,
        ));
    }
    // The JWKS also lists a symmetric key whose secret the attacker knows.
    cases.push((
        "oct key, HS256",
        hmac_token("HS256", hmac::HMAC_SHA256, OCT_KID, &payload, OCT_SECRET),
        K::DisallowedAlgorithm,
    ));
    cases.push((
        "oct key, RS256",
        hmac_token("RS256", hmac::HMAC_SHA256, OCT_KID, &payload, OCT_SECRET),
        K::UnknownKey,
    ));
    check(&h.verifier, &cases).await;
    h.assert_fetches(1);
}

#[tokio::test]
async fn other_rsa_and_ec_algorithms_are_refused() {
    // Real signatures of each algorithm by a key the JWKS publishes.
    let h = Harness::start().await;
    let payload = b64(h.payload_text());
    let input = |alg: &str, kid: &str| {
        format!(
            "{}.{payload}",
            b64(json!({"alg": alg, "kid": kid}).to_string())
        )
    };
    let algs: [(&str, &'static dyn RsaEncoding); 5] = [
        ("RS384", &signature::RSA_PKCS1_SHA384),
        ("RS512", &signature::RSA_PKCS1_SHA512),
        ("PS256", &signature::RSA_PSS_SHA256),
        ("PS384", &signature::RSA_PSS_SHA384),
        ("PS512", &signature::RSA_PSS_SHA512),
    ];
    let mut cases = Vec::new();
    for (alg, encoding) in algs {
        // Honest header: the algorithm is not RS256.
        cases.push((
            alg,
            h.extra_signed(&input(alg, EXTRA_KID), encoding),
            K::DisallowedAlgorithm,
        ));
        // Lying header: says RS256, but the signature is of another scheme.
        cases.push((
            alg,
            h.extra_signed(&input("RS256", EXTRA_KID), encoding),
            K::BadSignature,
        ));
    }
    let ec_signed = |alg: &str| {
        let input = input(alg, EC_KID);
        let sig = h.ec.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    };
    cases.push(("ES256", ec_signed("ES256"), K::DisallowedAlgorithm));
    // The EC key is skipped when the JWKS is read: no RSA key has its kid.
    cases.push(("ES256 as RS256", ec_signed("RS256"), K::UnknownKey));
    check(&h.verifier, &cases).await;
    h.assert_fetches(1);
}

#[tokio::test]
async fn crit_headers_are_refused() {
    let h = Harness::start().await;
    let payload = h.payload_text();
    let kid = h.id_key.kid();
    let mut cases = Vec::new();
    for crit in [
        json!(["exp"]),
        json!(["b64"]),
        json!([]),
        json!("exp"),
        json!({}),
        json!(1),
        json!([null]),
    ] {
        let header = json!({"alg": "RS256", "kid": kid, "crit": crit, "exp": 1}).to_string();
        cases.push(("crit", h.signed(&header, &payload), K::DisallowedAlgorithm));
    }
    check(&h.verifier, &cases).await;
}

#[tokio::test]
async fn crit_null_is_refused() {
    let h = Harness::start().await;
    let header = json!({"alg": "RS256", "kid": h.id_key.kid(), "crit": null}).to_string();
    check(
        &h.verifier,
        &[(
            "crit null",
            h.signed(&header, &h.payload_text()),
            K::DisallowedAlgorithm,
        )],
    )
    .await;
}

// ---------------------------------------------------------------------------
// kid
// ---------------------------------------------------------------------------

/// `kid`s that would change a URL if anything built one from them.
fn url_kids() -> Vec<String> {
    let mut kids: Vec<String> = [
        "../../../../etc/passwd",
        "../jwks.json",
        "..",
        ".",
        "/",
        "//evil.example/jwks.json",
        "?kid=1",
        "&x=1",
        "#fragment",
        "%2e%2e%2f%2e%2e%2f",
        "%2F..%2F",
        "%00",
        "http://evil.example/jwks.json",
        "https://127.0.0.1:1/.well-known/jwks.json",
        "@evil.example",
        "a b",
        "\r\nHost: evil.example\r\n\r\n",
        "\u{0}",
        "..\\..\\windows",
        "\u{202e}\u{fe0f}é",
        "{kid}",
        "*",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    kids.push("A".repeat(10 * 1024));
    kids.push("../".repeat(3000));
    kids
}

#[tokio::test]
async fn missing_empty_and_mistyped_kids_are_malformed() {
    let h = Harness::start().await;
    let payload = h.payload_text();
    let mut cases = Vec::new();
    for header in [
        json!({"alg": "RS256"}),
        json!({"alg": "RS256", "kid": ""}),
        json!({"alg": "RS256", "kid": null}),
        json!({"alg": "RS256", "kid": 1}),
        json!({"alg": "RS256", "kid": [h.id_key.kid()]}),
        json!({"alg": "RS256", "kid": {"kid": h.id_key.kid()}}),
    ] {
        cases.push((
            "kid",
            h.signed(&header.to_string(), &payload),
            K::MalformedToken,
        ));
    }
    check(&h.verifier, &cases).await;
    h.assert_fetches(1);
}

#[tokio::test]
async fn kids_with_url_characters_never_change_the_fetched_url() {
    let h = Harness::start().await;
    let payload = h.payload_text();
    let mut cases = Vec::new();
    for kid in url_kids() {
        let token = h.signed(&json!({"alg": "RS256", "kid": kid}).to_string(), &payload);
        assert!(
            token.len() <= tower_cognito::DEFAULT_MAX_TOKEN_SIZE,
            "the 10 KB kid must fit the size limit"
        );
        cases.push(("url kid", token, K::UnknownKey));
    }
    check(&h.verifier, &cases).await;
    // The prefetch and nothing else: the cooldown holds every unknown kid back.
    h.assert_fetches(1);
    assert_eq!(h.jwks.recorded().len(), 1);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_at_most_once_per_cooldown() {
    let cooldown = Duration::from_millis(200);
    let h = Harness::with(|b| b.unknown_kid_cooldown(cooldown)).await;
    let payload = h.payload_text();
    let started = Instant::now();
    let mut cases = Vec::new();
    for round in 0..3 {
        for kid in url_kids() {
            let kid = format!("{kid}{round}");
            cases.push((
                "flood",
                h.signed(&json!({"alg": "RS256", "kid": kid}).to_string(), &payload),
                K::UnknownKey,
            ));
        }
    }
    for (i, chunk) in cases.chunks(cases.len() / 3).enumerate() {
        if i > 0 {
            tokio::time::sleep(cooldown + Duration::from_millis(50)).await;
        }
        check(&h.verifier, chunk).await;
    }
    let windows = (started.elapsed().as_millis() / cooldown.as_millis()) as usize + 1;
    // The prefetch, plus at most one fetch per cooldown window.
    h.assert_fetches(1 + windows);
    assert!(
        h.jwks.recorded().len() >= 2,
        "an unknown kid after the cooldown fetches again"
    );
}

#[tokio::test]
async fn odd_kids_are_opaque_names_matched_exactly() {
    // A pool may publish keys with any kid; they are looked up as exact strings.
    let pool = LocalUserPool::start().await.unwrap();
    let odd = SigningKey::generate("../../x?y=1#z%2e/\\ é");
    let huge = SigningKey::generate("K".repeat(10 * 1024));
    pool.publish_key(&odd);
    pool.publish_key(&huge);
    let verifier = support::uncached(&pool);
    verifier.prefetch().await.unwrap();
    let fetches = pool.server().requests();
    assert_eq!(
        accepts(&verifier, &pool.id_token().signed_by(&odd).sign())
            .await
            .issuer(),
        pool.issuer()
    );
    accepts(&verifier, &pool.id_token().signed_by(&huge).sign()).await;
    let payload = Value::Object(pool.id_token().payload().clone()).to_string();
    let mut cases = Vec::new();
    for kid in [
        format!("{}/", odd.kid()),
        odd.kid().replace("%2e", "."),
        odd.kid().to_uppercase(),
        format!(" {}", odd.kid()),
        huge.kid()[1..].to_owned(),
    ] {
        cases.push((
            "near-miss kid",
            odd.sign_raw(&json!({"alg": "RS256", "kid": kid}).to_string(), &payload),
            K::UnknownKey,
        ));
    }
    check(&verifier, &cases).await;
    // One cooldown-limited fetch at most for all the near misses.
    assert!(pool.server().requests() <= fetches + 1);
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------

#[tokio::test]
async fn duplicate_names_are_malformed() {
    let h = Harness::start().await;
    let p = h.payload();
    let text = h.payload_text();
    let kid = h.id_key.kid();
    let other = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other";
    let cases = vec![
        (
            "token_use id then access",
            h.signed(
                &h.header(),
                &with_raw(&without(&p, &[]), r#""token_use":"access""#),
            ),
            K::MalformedToken,
        ),
        (
            "token_use twice, same value",
            h.signed(&h.header(), &with_raw(&text, r#""token_use":"id""#)),
            K::MalformedToken,
        ),
        (
            "token_use escaped",
            h.signed(
                &h.header(),
                &with_raw(&text, r#""token_\u0075se":"access""#),
            ),
            K::MalformedToken,
        ),
        (
            "iss of another pool first",
            h.signed(
                &h.header(),
                &with_raw(&text, &format!(r#""iss":"{other}""#)),
            ),
            K::MalformedToken,
        ),
        (
            "iss: ours, then another",
            h.signed(
                &h.header(),
                &append_raw(&text, &format!(r#""iss":"{other}""#)),
            ),
            K::MalformedToken,
        ),
        (
            "iss: another, then ours",
            h.signed(
                &h.header(),
                &append_raw(
                    &with_raw(&without(&p, &["iss"]), &format!(r#""iss":"{other}""#)),
                    &format!(r#""iss":"{}""#, h.pool.issuer()),
                ),
            ),
            K::MalformedToken,
        ),
        (
            "aud twice",
            h.signed(&h.header(), &with_raw(&text, r#""aud":"someone-else""#)),
            K::MalformedToken,
        ),
        (
            "exp twice",
            h.signed(&h.header(), &with_raw(&text, r#""exp":1"#)),
            K::MalformedToken,
        ),
        (
            "sub twice",
            h.signed(&h.header(), &with_raw(&text, r#""sub":"admin""#)),
            K::MalformedToken,
        ),
        (
            "kid twice",
            h.signed(
                &format!(r#"{{"alg":"RS256","kid":"{kid}","kid":"{kid}"}}"#),
                &text,
            ),
            K::MalformedToken,
        ),
        (
            "kid twice, another first",
            h.signed(
                &format!(r#"{{"kid":"nope","alg":"RS256","kid":"{kid}"}}"#),
                &text,
            ),
            K::MalformedToken,
        ),
        (
            "alg twice",
            h.signed(
                &format!(r#"{{"alg":"none","alg":"RS256","kid":"{kid}"}}"#),
                &text,
            ),
            K::MalformedToken,
        ),
        (
            "alg twice, escaped",
            h.signed(
                &format!(r#"{{"\u0061lg":"none","alg":"RS256","kid":"{kid}"}}"#),
                &text,
            ),
            K::MalformedToken,
        ),
    ];
    check(&h.verifier, &cases).await;
}

#[tokio::test]
async fn structural_json_problems_are_malformed() {
    let h = Harness::start().await;
    let text = h.payload_text();
    let header = h.header();
    let cases = vec![
        (
            "header is an array",
            h.signed("[]", &text),
            K::MalformedToken,
        ),
        (
            "header is a string",
            h.signed(r#""RS256""#, &text),
            K::MalformedToken,
        ),
        ("header is null", h.signed("null", &text), K::MalformedToken),
        (
            "header has trailing data",
            h.signed(&format!("{header}x"), &text),
            K::MalformedToken,
        ),
        (
            "header is two objects",
            h.signed(&format!("{header}{header}"), &text),
            K::MalformedToken,
        ),
        (
            "header with a BOM",
            h.signed(&format!("\u{feff}{header}"), &text),
            K::MalformedToken,
        ),
        (
            "payload is an array",
            h.signed(&header, "[]"),
            K::MalformedToken,
        ),
        (
            "payload is a string",
            h.signed(&header, &format!("{text:?}")),
            K::MalformedToken,
        ),
        (
            "payload has trailing data",
            h.signed(&header, &format!("{text},")),
            K::MalformedToken,
        ),
        (
            "payload is cut short",
            h.signed(&header, &text[..text.len() - 1]),
            K::MalformedToken,
        ),
        (
            "payload has a lone surrogate",
            h.signed(&header, &with_raw(&text, r#""name":"\ud800""#)),
            K::MalformedToken,
        ),
        (
            "payload has a comment",
            h.signed(&header, &with_raw(&text, "/* */\"a\":1")),
            K::MalformedToken,
        ),
        (
            "payload has a trailing comma",
            h.signed(&header, &format!("{},}}", text.trim_end_matches('}'))),
            K::MalformedToken,
        ),
        (
            "payload has NaN",
            h.signed(&header, &with_raw(&text, r#""x":NaN"#)),
            K::MalformedToken,
        ),
        ("payload is empty", h.signed(&header, ""), K::MalformedToken),
    ];
    check(&h.verifier, &cases).await;
    // Not UTF-8 at all (sign_raw only takes text, so build this one by hand).
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "RS256", "kid": EXTRA_KID}).to_string()),
        b64(b"{\"sub\":\"\xff\"}")
    );
    check(
        &h.verifier,
        &[(
            "payload not UTF-8",
            h.extra_signed(&input, &signature::RSA_PKCS1_SHA256),
            K::MalformedToken,
        )],
    )
    .await;
}

#[tokio::test]
async fn deep_nesting_is_rejected_without_overflowing_the_stack() {
    let deep_arrays = format!(
        r#""custom:deep":{}1{}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let deep_objects = format!(
        r#""custom:deep":{}1{}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    // A default verifier refuses these on size alone.
    let h = Harness::start().await;
    let text = h.payload_text();
    let arrays = h.signed(&h.header(), &with_raw(&text, &deep_arrays));
    let objects = h.signed(&h.header(), &with_raw(&text, &deep_objects));
    assert!(arrays.len() > tower_cognito::DEFAULT_MAX_TOKEN_SIZE);
    check(
        &h.verifier,
        &[
            ("arrays, default size", arrays, K::MalformedToken),
            ("objects, default size", objects, K::MalformedToken),
        ],
    )
    .await;
    // With room for them, the JSON parser's depth limit refuses them.
    let big = Harness::with(|b| b.max_token_size(1024 * 1024)).await;
    let text = big.payload_text();
    let cases = vec![
        (
            "10,000 nested arrays",
            big.signed(&big.header(), &with_raw(&text, &deep_arrays)),
            K::MalformedToken,
        ),
        (
            "10,000 nested objects",
            big.signed(&big.header(), &with_raw(&text, &deep_objects)),
            K::MalformedToken,
        ),
        (
            "100,000 nested arrays",
            big.signed(
                &big.header(),
                &with_raw(
                    &text,
                    &deep_arrays
                        .replace("[", "[[[[[[[[[[")
                        .replace("]", "]]]]]]]]]]"),
                ),
            ),
            K::MalformedToken,
        ),
        (
            "unclosed nesting",
            big.signed(&big.header(), &format!("{{\"a\":{}", "[".repeat(50_000))),
            K::MalformedToken,
        ),
    ];
    check(&big.verifier, &cases).await;
    // Deep nesting in an unknown header member is skipped without recursion: it
    // neither crashes nor makes a bad signature pass.
    let header = with_raw(&big.header(), &deep_arrays);
    let forged = format!("{}.{}.{}", b64(&header), b64(&text), b64([7u8; 256]));
    check(
        &big.verifier,
        &[("nesting in the header, forged", forged, K::BadSignature)],
    )
    .await;
}

#[tokio::test]
async fn out_of_range_and_mistyped_dates_are_rejected() {
    let h = Harness::start().await;
    let p = h.payload();
    let text = h.payload_text();
    let no_exp = without(&p, &["exp"]);
    let raw_exp = |v: &str| h.signed(&h.header(), &with_raw(&no_exp, &format!(r#""exp":{v}"#)));
    let cases = vec![
        ("exp 1e400", raw_exp("1e400"), K::MalformedToken),
        ("exp -1e400", raw_exp("-1e400"), K::MalformedToken),
        (
            "exp 1000 digits",
            raw_exp(&format!("1{}", "0".repeat(1000))),
            K::MalformedToken,
        ),
        ("exp -1e300", raw_exp("-1e300"), K::Expired),
        ("exp string", raw_exp(r#""4102444800""#), K::MalformedToken),
        ("exp null", raw_exp("null"), K::MalformedToken),
        ("exp true", raw_exp("true"), K::MalformedToken),
        ("exp array", raw_exp("[4102444800]"), K::MalformedToken),
        (
            "exp leading zero",
            raw_exp("04102444800"),
            K::MalformedToken,
        ),
        ("exp hex", raw_exp("0x7fffffff"), K::MalformedToken),
        (
            "exp missing",
            h.signed(&h.header(), &no_exp),
            K::MalformedToken,
        ),
        ("exp negative", raw_exp("-1"), K::Expired),
        ("exp i64::MIN", raw_exp("-9223372036854775808"), K::Expired),
        ("exp zero", raw_exp("0"), K::Expired),
        (
            "nbf u64::MAX",
            h.signed(
                &h.header(),
                &with_raw(&text, r#""nbf":18446744073709551615"#),
            ),
            K::NotYetValid,
        ),
        (
            "iat string",
            h.signed(
                &h.header(),
                &without(&p, &["iat"]).replacen('{', r#"{"iat":"now","#, 1),
            ),
            K::MalformedToken,
        ),
        (
            "auth_time 1e400",
            h.signed(
                &h.header(),
                &without(&p, &["auth_time"]).replacen('{', r#"{"auth_time":1e400,"#, 1),
            ),
            K::MalformedToken,
        ),
        (
            "any claim 1e999",
            h.signed(&h.header(), &with_raw(&text, r#""custom:n":1e999"#)),
            K::MalformedToken,
        ),
    ];
    check(&h.verifier, &cases).await;
    // RFC 7519 NumericDates: any JSON number, as aws-jwt-verify reads them;
    // beyond u64 is the far future.
    for (name, token) in [
        ("exp float", raw_exp("1893456000.5")),
        ("exp integral float", raw_exp("4102444800.0")),
        ("exp exponent form", raw_exp("4.1e9")),
        ("exp 30 digits", raw_exp("123456789012345678901234567890")),
        ("exp u64::MAX + 1", raw_exp("18446744073709551616")),
        (
            "nbf float",
            h.signed(&h.header(), &with_raw(&text, r#""nbf":1.5"#)),
        ),
    ] {
        let verified = h.verifier.verify(&token).await;
        assert!(verified.is_ok(), "{name}: {verified:?}");
    }
}

#[tokio::test]
async fn a_far_future_exp_is_accepted_when_it_fits() {
    // Not an attack (the signature is the pool's), but the numbers must not break
    // anything: the largest exp a SystemTime can hold, with the token cache on.
    let pool = LocalUserPool::start().await.unwrap();
    let verifier = pool.verifier();
    let exp = i64::MAX as u64;
    let token = pool.id_token().claim("exp", exp).sign();
    assert_eq!(accepts(&verifier, &token).await.exp(), exp);
    assert_eq!(accepts(&verifier, &token).await.exp(), exp);
}

#[tokio::test]
async fn an_exp_beyond_system_time_does_not_panic_with_the_cache_on() {
    let pool = LocalUserPool::start().await.unwrap();
    let token = pool.id_token().claim("exp", u64::MAX).sign();
    let uncached = support::uncached(&pool);
    let without_cache = uncached
        .verify(&token)
        .await
        .map(|c| c.exp())
        .map_err(|e| e.kind());
    let cached = pool.verifier();
    let with_cache = tokio::spawn(async move {
        cached
            .verify(&token)
            .await
            .map(|c| c.exp())
            .map_err(|e| e.kind())
    })
    .await
    .expect("verify panicked");
    assert_eq!(with_cache, without_cache, "the cache changes the verdict");
}

// ---------------------------------------------------------------------------
// Encoding and shape
// ---------------------------------------------------------------------------

/// The three segments of a token.
fn segments(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    [
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    ]
}

#[tokio::test]
async fn padding_standard_alphabet_and_whitespace_are_malformed() {
    let h = Harness::start().await;
    let valid = h.valid();
    let [hd, pl, sg] = segments(&valid);
    let mut cases = Vec::new();
    for (i, suffix) in [
        (0, "="),
        (0, "=="),
        (1, "="),
        (1, "=="),
        (2, "="),
        (2, "=="),
    ] {
        let mut parts = [hd.clone(), pl.clone(), sg.clone()];
        parts[i].push_str(suffix);
        cases.push(("padding appended", parts.join("."), K::MalformedToken));
    }
    // The signature re-encoded: padded, and in the standard alphabet.
    let sig = URL_SAFE_NO_PAD.decode(&sg).unwrap();
    cases.push((
        "signature padded",
        format!("{hd}.{pl}.{}", URL_SAFE.encode(&sig)),
        K::MalformedToken,
    ));
    let std_sig = STANDARD_NO_PAD.encode(&sig);
    if std_sig != sg {
        cases.push((
            "signature standard alphabet",
            format!("{hd}.{pl}.{std_sig}"),
            K::MalformedToken,
        ));
    }
    // A signature whose last character differs only in the unused low bits decodes
    // to the same bytes in a lenient decoder: it must not be a second valid form.
    let last = sg.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    let sibling = alphabet.as_bytes()[index ^ 1] as char;
    cases.push((
        "signature non-canonical last char",
        format!("{hd}.{pl}.{}{sibling}", &sg[..sg.len() - 1]),
        K::MalformedToken,
    ));
    for (label, token) in [
        ("leading space", format!(" {valid}")),
        ("trailing space", format!("{valid} ")),
        ("trailing newline", format!("{valid}\n")),
        ("trailing CRLF", format!("{valid}\r\n")),
        ("leading tab", format!("\t{valid}")),
        (
            "newline in payload",
            format!("{hd}.{}\n{}.{sg}", &pl[..10], &pl[10..]),
        ),
        (
            "space in header",
            format!("{} {}.{pl}.{sg}", &hd[..5], &hd[5..]),
        ),
        (
            "tab in signature",
            format!("{hd}.{pl}.{}\t{}", &sg[..100], &sg[100..]),
        ),
        (
            "NBSP in signature",
            format!("{hd}.{pl}.{}\u{a0}{}", &sg[..100], &sg[100..]),
        ),
        ("space around dots", format!("{hd} . {pl} . {sg}")),
        (
            "wrapped at 64 columns",
            valid
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("Bearer prefix", format!("Bearer {valid}")),
        ("quoted", format!("\"{valid}\"")),
    ] {
        cases.push((label, token, K::MalformedToken));
    }
    check(&h.verifier, &cases).await;

    // The same encodings with signatures that are correct over the encoded bytes: the
    // decoder itself must refuse them, not just the signature check.
    let filler = ">>>???>>>???"; // groups of these bytes encode to `+` and `/`
    let header = json!({"alg": "RS256", "kid": EXTRA_KID, "x": filler}).to_string();
    let mut payload = h.payload();
    payload.insert("custom:x".into(), json!(filler));
    let payload = Value::Object(payload).to_string();
    let std_input = format!(
        "{}.{}",
        STANDARD_NO_PAD.encode(&header),
        STANDARD_NO_PAD.encode(&payload)
    );
    assert!(std_input.contains(['+', '/']));
    let mut padded = None;
    for extra in ["", "a", "aa"] {
        let header =
            json!({"alg": "RS256", "kid": EXTRA_KID, "x": format!("{filler}{extra}")}).to_string();
        if !header.len().is_multiple_of(3) {
            padded = Some(format!("{}.{}", URL_SAFE.encode(&header), b64(&payload)));
            break;
        }
    }
    let padded = padded.unwrap();
    assert!(padded.contains('='));
    let url_input = format!("{}.{}", b64(&header), b64(&payload));
    let resigned = vec![
        (
            "standard alphabet, signed",
            h.extra_signed(&std_input, &signature::RSA_PKCS1_SHA256),
            K::MalformedToken,
        ),
        (
            "padded header, signed",
            h.extra_signed(&padded, &signature::RSA_PKCS1_SHA256),
            K::MalformedToken,
        ),
        (
            "newline before the dot, signed",
            h.extra_signed(
                &url_input.replacen('.', "\n.", 1),
                &signature::RSA_PKCS1_SHA256,
            ),
            K::MalformedToken,
        ),
    ];
    check(&h.verifier, &resigned).await;
    // Control: the URL-safe, unpadded form of the very same content is accepted.
    accepts(
        &h.verifier,
        &h.extra_signed(&url_input, &signature::RSA_PKCS1_SHA256),
    )
    .await;
}

#[tokio::test]
async fn anything_but_three_segments_is_malformed() {
    let h = Harness::start().await;
    let valid = h.valid();
    let [hd, pl, sg] = segments(&valid);
    let cases = vec![
        ("empty", String::new(), K::MalformedToken),
        ("one segment", hd.clone(), K::MalformedToken),
        ("two segments", format!("{hd}.{pl}"), K::MalformedToken),
        (
            "two segments, trailing dot",
            format!("{hd}.{pl}."),
            K::MalformedToken,
        ),
        ("four segments", format!("{valid}.{sg}"), K::MalformedToken),
        (
            "four segments, empty last",
            format!("{valid}."),
            K::MalformedToken,
        ),
        (
            "five segments (JWE shape)",
            format!("{hd}.{pl}.{sg}.{pl}.{sg}"),
            K::MalformedToken,
        ),
        ("empty header", format!(".{pl}.{sg}"), K::MalformedToken),
        ("empty payload", format!("{hd}..{sg}"), K::MalformedToken),
        ("only dots", "..".to_owned(), K::MalformedToken),
        ("many dots", ".".repeat(1000), K::MalformedToken),
        ("leading dot", format!(".{valid}"), K::MalformedToken),
    ];
    check(&h.verifier, &cases).await;
}

#[tokio::test]
async fn oversized_tokens_are_malformed_before_parsing() {
    let h = Harness::start().await;
    let big = h.signed(
        &h.header(),
        &with_raw(
            &h.payload_text(),
            &format!(r#""custom:pad":"{}""#, "x".repeat(17 * 1024)),
        ),
    );
    assert!(big.len() > tower_cognito::DEFAULT_MAX_TOKEN_SIZE);
    let cases = vec![
        ("17 KiB, valid signature", big, K::MalformedToken),
        (
            "limit + 1 of junk",
            "a".repeat(tower_cognito::DEFAULT_MAX_TOKEN_SIZE + 1),
            K::MalformedToken,
        ),
        (
            "10 MiB of dots",
            ".".repeat(10 * 1024 * 1024),
            K::MalformedToken,
        ),
    ];
    check(&h.verifier, &cases).await;
    // The limit is exact: a token of exactly the limit passes, one byte more does not.
    let token = h.valid();
    let exact = h.builder().max_token_size(token.len()).build().unwrap();
    accepts(&exact, &token).await;
    let under = h.builder().max_token_size(token.len() - 1).build().unwrap();
    check(&under, &[("one byte over", token, K::MalformedToken)]).await;
}

// ---------------------------------------------------------------------------
// Valid signatures, wrong audience
// ---------------------------------------------------------------------------

/// The id with the case of its letters changed: lower case, or upper case when
/// the random id has no upper-case letter (lower-casing would change nothing).
fn other_case(id: &str) -> String {
    let lower = id.to_lowercase();
    if lower != id {
        lower
    } else {
        id.to_uppercase()
    }
}

#[tokio::test]
async fn tokens_of_another_pool_are_wrong_issuer() {
    let h = Harness::start().await;
    let other = LocalUserPool::start().await.unwrap();
    let other_key = other.signing_key(TokenUse::Id);
    let ours = h.pool.issuer();
    let cases = vec![
        (
            "other pool's own token",
            other.id_token().client_id(h.pool.client_id()).sign(),
            K::WrongIssuer,
        ),
        (
            "other pool's access token",
            other.access_token().client_id(h.pool.client_id()).sign(),
            K::WrongIssuer,
        ),
        (
            "trailing slash",
            h.pool.id_token().issuer(format!("{ours}/")).sign(),
            K::WrongIssuer,
        ),
        (
            "http scheme",
            h.pool
                .id_token()
                .issuer(ours.replace("https://", "http://"))
                .sign(),
            K::WrongIssuer,
        ),
        (
            "upper-case host",
            h.pool
                .id_token()
                .issuer(ours.replace("cognito-idp", "COGNITO-IDP"))
                .sign(),
            K::WrongIssuer,
        ),
        (
            "pool id in another case",
            h.pool
                .id_token()
                .issuer(ours.replace(h.pool.pool_id(), &other_case(h.pool.pool_id())))
                .sign(),
            K::WrongIssuer,
        ),
        (
            "other region",
            h.pool
                .id_token()
                .issuer(ours.replace(".us-east-1.", ".us-west-2."))
                .sign(),
            K::WrongIssuer,
        ),
        (
            "trailing space",
            h.pool.id_token().issuer(format!("{ours} ")).sign(),
            K::WrongIssuer,
        ),
        (
            "query",
            h.pool.id_token().issuer(format!("{ours}?x")).sign(),
            K::WrongIssuer,
        ),
        ("empty", h.pool.id_token().issuer("").sign(), K::WrongIssuer),
        (
            "not a string",
            h.pool.id_token().claim("iss", json!([ours])).sign(),
            K::MalformedToken,
        ),
        (
            "missing",
            h.pool.id_token().without("iss").sign(),
            K::MalformedToken,
        ),
        // Our issuer, but signed by the other pool's key under its own kid: our
        // key set does not have that kid.
        (
            "our iss, their key",
            h.pool.id_token().signed_by(&other_key).sign(),
            K::UnknownKey,
        ),
        // Our issuer and our kid, their key: the signature fails.
        (
            "our iss and kid, their key",
            other_key.sign_raw(&h.header(), &h.payload_text()),
            K::BadSignature,
        ),
    ];
    check(&h.verifier, &cases).await;
    // A token of another issuer is refused before any key is fetched.
    assert_eq!(other.server().requests(), 0);
    h.assert_fetches(1);
    // The second issuer form Cognito uses for the same pool is accepted.
    let alt = ours.replace("https://cognito-idp.", "https://issuer-cognito-idp.");
    accepts(&h.verifier, &h.pool.id_token().issuer(alt).sign()).await;
}

#[tokio::test]
async fn keys_of_one_trusted_pool_do_not_sign_for_another() {
    let a = LocalUserPool::start().await.unwrap();
    let b = LocalUserPool::start().await.unwrap();
    let verifier = Verifier::builder()
        .pool(a.user_pool())
        .pool(b.user_pool())
        .client_ids([a.client_id(), b.client_id()])
        .token_cache_capacity(0)
        .unknown_kid_cooldown(Duration::from_secs(60))
        .build()
        .unwrap();
    verifier.prefetch().await.unwrap();
    assert_eq!(
        accepts(&verifier, &a.id_token().sign()).await.pool_id(),
        a.pool_id()
    );
    assert_eq!(
        accepts(&verifier, &b.id_token().sign()).await.pool_id(),
        b.pool_id()
    );
    let cases = vec![
        (
            "a's iss, b's key",
            a.id_token().signed_by(&b.signing_key(TokenUse::Id)).sign(),
            K::UnknownKey,
        ),
        (
            "b's iss, a's key",
            b.access_token()
                .signed_by(&a.signing_key(TokenUse::Access))
                .sign(),
            K::UnknownKey,
        ),
    ];
    check(&verifier, &cases).await;
}

#[tokio::test]
async fn tokens_for_another_client_are_wrong_client() {
    let h = Harness::start().await;
    let ours = h.pool.client_id();
    let cases = vec![
        (
            "id token, other aud",
            h.pool.id_token().client_id("another-client").sign(),
            K::WrongClient,
        ),
        (
            "id token, aud in upper case",
            h.pool.id_token().client_id(ours.to_uppercase()).sign(),
            K::WrongClient,
        ),
        (
            "id token, aud with suffix",
            h.pool.id_token().client_id(format!("{ours}x")).sign(),
            K::WrongClient,
        ),
        (
            "id token, no aud",
            h.pool.id_token().without("aud").sign(),
            K::WrongClient,
        ),
        (
            "id token, no aud but client_id",
            h.pool
                .id_token()
                .without("aud")
                .claim("client_id", ours)
                .sign(),
            K::WrongClient,
        ),
        (
            "id token, other aud but client_id",
            h.pool
                .id_token()
                .client_id("x")
                .claim("client_id", ours)
                .sign(),
            K::WrongClient,
        ),
        (
            "id token, aud as array",
            h.pool.id_token().claim("aud", json!([ours])).sign(),
            K::MalformedToken,
        ),
        (
            "access token, other client",
            h.pool.access_token().client_id("another-client").sign(),
            K::WrongClient,
        ),
        (
            "access token, no client_id",
            h.pool.access_token().without("client_id").sign(),
            K::WrongClient,
        ),
        (
            "access token, no client_id but aud",
            h.pool
                .access_token()
                .without("client_id")
                .claim("aud", ours)
                .sign(),
            K::WrongClient,
        ),
        (
            "access token, client_id as number",
            h.pool.access_token().claim("client_id", 1).sign(),
            K::MalformedToken,
        ),
    ];
    check(&h.verifier, &cases).await;
}

#[tokio::test]
async fn token_use_must_be_id_or_access() {
    let h = Harness::start().await;
    let cases = vec![
        (
            "refresh",
            h.pool.id_token().token_use("refresh").sign(),
            K::WrongTokenUse,
        ),
        (
            "upper case",
            h.pool.id_token().token_use("ID").sign(),
            K::WrongTokenUse,
        ),
        (
            "padded",
            h.pool.access_token().token_use("access ").sign(),
            K::WrongTokenUse,
        ),
        (
            "number",
            h.pool.id_token().claim("token_use", 1).sign(),
            K::WrongTokenUse,
        ),
        (
            "array",
            h.pool.id_token().claim("token_use", json!(["id"])).sign(),
            K::WrongTokenUse,
        ),
        (
            "missing",
            h.pool.id_token().without("token_use").sign(),
            K::MalformedToken,
        ),
    ];
    check(&h.verifier, &cases).await;
}

// ---------------------------------------------------------------------------
// Through the layer
// ---------------------------------------------------------------------------

type Outcome = Result<Claims, AuthErrorKind>;

/// Sends one request with these `Authorization` values through the layer over a
/// `service_fn`, and returns the claims the inner service saw or the rejection's kind.
async fn through_layer(layer: &CognitoAuthLayer, values: &[HeaderValue]) -> Outcome {
    let inner = tower::service_fn(|request: Request<()>| async move {
        let mut response = Response::new(http_body_util::Empty::<Bytes>::new());
        response
            .extensions_mut()
            .insert(request.extensions().get::<Claims>().cloned());
        Ok::<_, Infallible>(response)
    });
    let mut request = Request::new(());
    for value in values {
        request
            .headers_mut()
            .append(http::header::AUTHORIZATION, value.clone());
    }
    let response = tower::Layer::layer(layer, inner)
        .oneshot(request)
        .await
        .unwrap();
    match response.extensions().get::<AuthError>() {
        Some(error) => {
            assert_ne!(response.status(), StatusCode::OK);
            Err(error.kind())
        }
        None => {
            assert_eq!(response.status(), StatusCode::OK);
            Ok(response
                .extensions()
                .get::<Option<Claims>>()
                .cloned()
                .flatten()
                .expect("claims reached the service"))
        }
    }
}

fn value(bytes: impl AsRef<[u8]>) -> HeaderValue {
    HeaderValue::from_bytes(bytes.as_ref()).unwrap()
}

#[tokio::test]
async fn the_layer_rejects_hostile_headers_with_the_right_kind() {
    let h = Harness::start().await;
    let layer = CognitoAuthLayer::new(h.verifier.clone());
    let valid = h.valid();
    let bearer = format!("Bearer {valid}");
    assert!(through_layer(&layer, &[value(&bearer)]).await.is_ok());
    assert!(
        through_layer(&layer, &[value(&valid)]).await.is_ok(),
        "a bare token is accepted, as by API Gateway"
    );
    assert!(
        through_layer(&layer, &[value(format!("bEaReR {valid}"))])
            .await
            .is_ok()
    );

    let none = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"none"}"#),
        b64(h.payload_text()),
        b64("x")
    );
    let huge = format!("Bearer {}", "a".repeat(1024 * 1024));
    let cases: Vec<(&str, Vec<HeaderValue>, AuthErrorKind)> = vec![
        ("no header", vec![], K::MissingToken),
        ("empty", vec![value("")], K::MissingToken),
        ("scheme only", vec![value("Bearer ")], K::MissingToken),
        (
            "twice, same token",
            vec![value(&bearer), value(&bearer)],
            K::InvalidRequest,
        ),
        (
            "twice, junk first",
            vec![value("Bearer x"), value(&bearer)],
            K::InvalidRequest,
        ),
        (
            "twice, junk last",
            vec![value(&bearer), value("Bearer x")],
            K::InvalidRequest,
        ),
        (
            "obs-text byte",
            vec![value(format!("Bearer {valid}\u{e9}"))],
            K::InvalidRequest,
        ),
        (
            "raw 0xff",
            vec![value(
                [b"Bearer ".as_slice(), &[0xff], valid.as_bytes()].concat(),
            )],
            K::InvalidRequest,
        ),
        (
            "two spaces",
            vec![value(format!("Bearer  {valid}"))],
            K::InvalidRequest,
        ),
        (
            "trailing space",
            vec![value(format!("{bearer} "))],
            K::InvalidRequest,
        ),
        (
            "two tokens",
            vec![value(format!("{bearer} {valid}"))],
            K::InvalidRequest,
        ),
        (
            "Basic",
            vec![value("Basic dXNlcjpwYXNz")],
            K::InvalidRequest,
        ),
        (
            "other scheme",
            vec![value(format!("JWT {valid}"))],
            K::InvalidRequest,
        ),
        (
            "tab after scheme",
            vec![value(format!("Bearer\t{valid}"))],
            K::MalformedToken,
        ),
        (
            "comma after token",
            vec![value(format!("{bearer},"))],
            K::MalformedToken,
        ),
        (
            "scheme without space",
            vec![value(format!("Bearer{valid}"))],
            K::MalformedToken,
        ),
        (
            "alg none",
            vec![value(format!("Bearer {none}"))],
            K::DisallowedAlgorithm,
        ),
        ("1 MiB value", vec![value(&huge)], K::MalformedToken),
        (
            "17 KiB token",
            vec![value(format!("Bearer {}", "a.b.".repeat(17 * 256)))],
            K::MalformedToken,
        ),
    ];
    let mut wrong = Vec::new();
    for (label, values, expected) in &cases {
        match through_layer(&layer, values).await {
            Ok(c) => wrong.push(format!("{label}: ACCEPTED ({})", c.sub())),
            Err(kind) if kind != *expected => {
                wrong.push(format!("{label}: {kind:?}, expected {expected:?}"))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // A token in another header is not read by a layer that reads Authorization.
    let mut request = Request::new(());
    request
        .headers_mut()
        .insert(HeaderName::from_static("x-token"), value(&valid));
    let response = tower::Layer::layer(
        &layer,
        tower::service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(http_body_util::Empty::<Bytes>::new()))
        }),
    )
    .oneshot(request)
    .await
    .unwrap();
    assert_eq!(support::auth_error_kind(&response), Some(K::MissingToken));
    h.assert_fetches(1);
}

#[tokio::test]
async fn route_requirements_see_the_same_claims_the_signature_covered() {
    // token_use read one way by the verifier and another by the requirement would
    // let an ID token into an access-token route; duplicates never get that far.
    let h = Harness::start().await;
    let layer = CognitoAuthLayer::new(h.verifier.clone())
        .require(Requirement::any_scope(["notes/read"]))
        .unwrap();
    let access = h.pool.access_token().scopes(["notes/read"]);
    let payload = Value::Object(access.payload().clone()).to_string();
    let access_key = h.pool.signing_key(TokenUse::Access);
    let header = json!({"alg": "RS256", "kid": access_key.kid()}).to_string();
    assert!(
        through_layer(&layer, &[value(access_key.sign_raw(&header, &payload))])
            .await
            .is_ok()
    );
    let id_then_access = access_key.sign_raw(&header, &with_raw(&payload, r#""token_use":"id""#));
    let scope_twice = access_key.sign_raw(&header, &with_raw(&payload, r#""scope":"openid""#));
    assert_eq!(
        through_layer(&layer, &[value(id_then_access)])
            .await
            .unwrap_err(),
        K::MalformedToken
    );
    assert_eq!(
        through_layer(&layer, &[value(scope_twice)])
            .await
            .unwrap_err(),
        K::MalformedToken
    );
    let id_token = h.valid();
    assert_eq!(
        through_layer(&layer, &[value(id_token)]).await.unwrap_err(),
        K::WrongTokenUse
    );
    let either = CognitoAuthLayer::new(h.verifier.clone())
        .require(Requirement::new().token_use(TokenUseRule::Either))
        .unwrap();
    assert!(through_layer(&either, &[value(h.valid())]).await.is_ok());
}

// ---------------------------------------------------------------------------
// Over HTTP
// ---------------------------------------------------------------------------

/// An axum app on 127.0.0.1 behind the layer; rejections carry their kind in an
/// `x-auth-error` header so the test can tell them apart over the wire.
async fn serve(verifier: Verifier) -> Server {
    use axum::{Router, routing::get};
    let responses = Responses::custom(|error: &AuthError| {
        let mut response = Response::new(Bytes::from_static(br#"{"message":"Unauthorized"}"#));
        *response.status_mut() = if error.kind().is_server_error() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::UNAUTHORIZED
        };
        response.headers_mut().insert(
            support::AUTH_ERROR,
            HeaderValue::from_static(error.kind().as_str()),
        );
        response
    });
    let app = Router::new()
        .route(
            "/",
            get(|claims: Claims| async move { claims.sub().to_owned() }),
        )
        .layer(CognitoAuthLayer::new(verifier.clone()).responses(responses))
        .merge(
            Router::new()
                .route(
                    "/apigw",
                    get(|claims: Claims| async move { claims.sub().to_owned() }),
                )
                .layer(CognitoAuthLayer::new(verifier)),
        );
    support::serve(app).await
}

/// Status, `x-auth-error` and body of a GET with these `Authorization` values
/// (status 0 and the error when no answer came).
async fn get(server: &Server, path: &str, values: &[Vec<u8>]) -> (u16, Option<String>, String) {
    let mut request = server.request(http::Method::GET, path);
    for v in values {
        request = request.header(
            http::header::AUTHORIZATION,
            HeaderValue::from_bytes(v).unwrap(),
        );
    }
    match support::try_send(request).await {
        Ok(answer) => (answer.status, answer.auth_error(), answer.body),
        Err(e) => (0, None, e.to_string()),
    }
}

#[tokio::test]
async fn over_http_hostile_requests_get_the_right_rejection() {
    let h = Harness::start().await;
    let server = serve(h.verifier.clone()).await;
    let valid = h.valid();
    let sub = accepts(&h.verifier, &valid).await.sub().to_owned();
    let bearer = |t: &str| format!("Bearer {t}").into_bytes();

    assert_eq!(
        get(&server, "/", &[bearer(&valid)]).await,
        (200, None, sub.clone())
    );
    // HTTP strips whitespace around a field value, so the layer never sees it.
    assert_eq!(
        get(&server, "/", &[format!("  Bearer {valid}\t ").into_bytes()])
            .await
            .0,
        200
    );

    let payload = h.payload_text();
    let kid = h.id_key.kid().to_owned();
    let none = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"none"}"#),
        b64(&payload),
        b64("x")
    );
    let hs256 = hmac_token(
        "HS256",
        hmac::HMAC_SHA256,
        &kid,
        &payload,
        pem(&h.id_key.public_key_der()).as_bytes(),
    );
    let url_kid = h.signed(
        &json!({"alg": "RS256", "kid": "../../evil?x=1#"}).to_string(),
        &payload,
    );
    let dup = h.signed(&h.header(), &with_raw(&payload, r#""token_use":"access""#));
    let deep = h.signed(
        &h.header(),
        &with_raw(
            &payload,
            &format!(r#""d":{}1{}"#, "[".repeat(10_000), "]".repeat(10_000)),
        ),
    );
    let other = LocalUserPool::start().await.unwrap();
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        ("no header", vec![], "missing token"),
        ("alg none", vec![bearer(&none)], "disallowed algorithm"),
        (
            "HS256 with PEM",
            vec![bearer(&hs256)],
            "disallowed algorithm",
        ),
        ("path kid", vec![bearer(&url_kid)], "unknown signing key"),
        ("duplicate token_use", vec![bearer(&dup)], "malformed token"),
        ("deep nesting", vec![bearer(&deep)], "malformed token"),
        (
            "two headers",
            vec![bearer(&valid), bearer(&valid)],
            "invalid request",
        ),
        (
            "obs-text",
            vec![[bearer(&valid), vec![0xe9]].concat()],
            "invalid request",
        ),
        (
            "two spaces",
            vec![format!("Bearer  {valid}").into_bytes()],
            "invalid request",
        ),
        (
            "space inside",
            vec![bearer(&valid.replacen('.', " .", 1))],
            "invalid request",
        ),
        (
            "tab inside",
            vec![bearer(&valid.replacen('.', "\t.", 1))],
            "malformed token",
        ),
        (
            "20 KiB",
            vec![bearer(&format!("{valid}{}", "A".repeat(20 * 1024)))],
            "malformed token",
        ),
        (
            "64 KiB",
            vec![bearer(&"A".repeat(64 * 1024))],
            "malformed token",
        ),
        (
            "other pool",
            vec![bearer(
                &other.id_token().client_id(h.pool.client_id()).sign(),
            )],
            "wrong issuer",
        ),
        (
            "other client",
            vec![bearer(&h.pool.id_token().client_id("x").sign())],
            "wrong app client",
        ),
        (
            "expired",
            vec![bearer(&h.pool.id_token().expired().sign())],
            "token expired",
        ),
    ];
    let mut wrong = Vec::new();
    for (label, values, expected) in &cases {
        let (status, kind, _) = get(&server, "/", values).await;
        if status != 401 || kind.as_deref() != Some(*expected) {
            wrong.push(format!(
                "{label}: {status} {kind:?}, expected 401 {expected:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // API Gateway's constant body, whatever the token.
    for values in [
        vec![bearer(&none)],
        vec![bearer(&"A".repeat(64 * 1024))],
        vec![bearer(&valid), bearer(&valid)],
    ] {
        let (status, kind, body) = get(&server, "/apigw", &values).await;
        assert_eq!(
            (status, kind, body.as_str()),
            (401, None, r#"{"message":"Unauthorized"}"#)
        );
    }
    // A header larger than the HTTP server takes never reaches the layer.
    let (status, kind, _) = get(&server, "/", &[bearer(&"A".repeat(1024 * 1024))]).await;
    // hyper answers 431; the client may see the connection closed first, while
    // it is still writing the header (status 0 here). Either way, no 2xx.
    assert!(status == 431 || status == 0, "1 MiB header: {status}");
    assert_eq!(kind, None);
    // None of it fetched anything but the configured JWKS URL.
    h.assert_fetches(1);
    assert_eq!(other.server().requests(), 0);
}
