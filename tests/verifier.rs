//! The full token check (README, "What is checked"), against a real JWKS endpoint on 127.0.0.1.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tower_cognito::test_util::{LocalUserPool, SigningKey};
use tower_cognito::{AuthErrorKind, Requirement, TokenUse, UserPool, Verifier};

mod support;

async fn pool() -> LocalUserPool {
    LocalUserPool::start().await.expect("local pool")
}

async fn kind(verifier: &Verifier, token: &str) -> AuthErrorKind {
    match verifier.verify(token).await {
        Ok(claims) => panic!("token accepted: {claims:?}"),
        Err(err) => err.kind(),
    }
}

#[tokio::test]
async fn accepts_id_and_access_tokens_with_typed_claims() {
    let pool = pool().await;
    let verifier = pool.verifier();

    let id = pool
        .id_token()
        .sub("11111111-2222-3333-4444-555555555555")
        .username("alice")
        .email("alice@example.com")
        .groups(["admins", "staff"])
        .attribute("custom:role", "owner")
        .sign();
    let claims = verifier.verify(&id).await.unwrap();
    assert_eq!(claims.token_use(), TokenUse::Id);
    assert_eq!(claims.sub(), "11111111-2222-3333-4444-555555555555");
    assert_eq!(claims.username(), Some("alice"));
    assert_eq!(claims.email(), Some("alice@example.com"));
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.groups(), ["admins", "staff"]);
    assert_eq!(claims.get_str("custom:role"), Some("owner"));
    assert_eq!(claims.client_id(), Some(pool.client_id()));
    assert_eq!(claims.pool_id(), pool.pool_id());
    assert_eq!(claims.issuer(), pool.issuer());
    assert!(claims.jti().is_some() && claims.origin_jti().is_some() && claims.event_id().is_some());
    assert!(claims.iat().is_some() && claims.auth_time().is_some());

    let access = pool
        .access_token()
        .username("bob")
        .scopes(["notes/read", "notes/write"])
        .sign();
    let claims = verifier.verify(&access).await.unwrap();
    assert_eq!(claims.token_use(), TokenUse::Access);
    assert_eq!(claims.username(), Some("bob"));
    assert!(claims.has_scope("notes/read") && claims.has_scope("notes/write"));
    assert_eq!(claims.client_id(), Some(pool.client_id()));
}

#[tokio::test]
async fn both_issuer_forms_are_accepted_and_others_are_not() {
    let pool = pool().await;
    let verifier = pool.verifier();
    let second = format!(
        "https://issuer-cognito-idp.us-east-1.amazonaws.com/{}",
        pool.pool_id()
    );
    assert!(
        verifier
            .verify(&pool.id_token().issuer(second).sign())
            .await
            .is_ok()
    );
    assert!(verifier.verify(&pool.id_token().sign()).await.is_ok());

    for wrong in [
        format!(
            "https://cognito-idp.us-east-1.amazonaws.com/{}/",
            pool.pool_id()
        ),
        format!(
            "https://cognito-idp.us-west-2.amazonaws.com/{}",
            pool.pool_id()
        ),
        format!(
            "http://cognito-idp.us-east-1.amazonaws.com/{}",
            pool.pool_id()
        ),
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other".to_owned(),
    ] {
        let token = pool.id_token().issuer(wrong.clone()).sign();
        assert_eq!(
            kind(&verifier, &token).await,
            AuthErrorKind::WrongIssuer,
            "{wrong}"
        );
    }
    let token = pool.id_token().without("iss").sign();
    assert_eq!(kind(&verifier, &token).await, AuthErrorKind::MalformedToken);
}

#[tokio::test]
async fn explicit_issuer_for_emulators() {
    let pool = pool().await;
    let issuer = format!("http://{}/local_3NbqUrDa", pool.server().addr());
    let verifier = Verifier::new(
        UserPool::new("local_3NbqUrDa")
            .issuer(issuer.clone())
            .jwks_url(pool.jwks_url()),
    )
    .unwrap();
    assert!(
        verifier
            .verify(&pool.id_token().issuer(issuer).sign())
            .await
            .is_ok()
    );
    // The AWS forms are not trusted once an issuer is given.
    assert_eq!(
        kind(&verifier, &pool.id_token().sign()).await,
        AuthErrorKind::WrongIssuer
    );
}

#[tokio::test]
async fn key_added_after_the_first_fetch_is_picked_up() {
    let pool = pool().await;
    let verifier = pool
        .verifier_builder()
        .unknown_kid_cooldown(Duration::from_millis(100))
        .build()
        .unwrap();
    assert!(verifier.verify(&pool.access_token().sign()).await.is_ok());
    assert_eq!(pool.server().requests(), 1);

    pool.rotate_keys();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let rotated = pool.access_token().sign();
    assert!(verifier.verify(&rotated).await.is_ok());
    assert_eq!(pool.server().requests(), 2);
}

/// The token cache's key covers the signature: a verified token's header and
/// payload under any other signature is checked, and refused, however often
/// the genuine token was seen.
#[tokio::test]
async fn a_cached_token_under_another_signature_is_refused() {
    let pool = pool().await;
    let verifier = pool.verifier();
    let genuine = pool.access_token().sub("alice").sign();
    for _ in 0..3 {
        assert!(verifier.verify(&genuine).await.is_ok());
    }
    let (signed, signature) = genuine.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[0] ^= 1;
    let other = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(&bytes));
    // Another signature from the same key, of another token.
    let borrowed = pool.access_token().sub("alice").sign();
    let borrowed = format!("{signed}.{}", borrowed.rsplit_once('.').unwrap().1);
    for token in [other, borrowed] {
        for _ in 0..2 {
            assert_eq!(kind(&verifier, &token).await, AuthErrorKind::BadSignature);
        }
    }
    assert!(verifier.verify(&genuine).await.is_ok());
}

#[tokio::test]
async fn unknown_kid_and_bad_signature() {
    let pool = pool().await;
    let verifier = pool.verifier();
    let stranger = SigningKey::generate("not-published");
    let token = pool.id_token().signed_by(&stranger).sign();
    assert_eq!(kind(&verifier, &token).await, AuthErrorKind::UnknownKey);

    // A published kid, signed by another key.
    let published = pool.signing_key(TokenUse::Id);
    let impostor = pool
        .id_token()
        .signed_by(&stranger)
        .header(json!({"kid": published.kid(), "alg": "RS256"}))
        .sign();
    assert_eq!(
        kind(&verifier, &impostor).await,
        AuthErrorKind::BadSignature
    );

    // A changed payload under a genuine signature.
    let genuine = pool.id_token().sub("alice").sign();
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("mallory");
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    assert_eq!(
        kind(&verifier, &parts.join(".")).await,
        AuthErrorKind::BadSignature
    );
}

/// Genuinely signed tokens whose header is not a JSON object, or repeats a
/// member name, are malformed: an array of the header's values (which a derived
/// struct would read as `alg` and `kid`) would otherwise verify.
#[tokio::test]
async fn the_header_is_a_json_object_with_unique_names() {
    let pool = pool().await;
    let verifier = pool.verifier();
    let key = pool.signing_key(TokenUse::Id);
    let kid = key.kid();
    let payload = serde_json::Value::Object(pool.id_token().payload().clone()).to_string();
    let good = json!({"alg": "RS256", "kid": kid}).to_string();
    assert!(
        verifier
            .verify(&key.sign_raw(&good, &payload))
            .await
            .is_ok()
    );
    for header in [
        json!(["RS256", kid]).to_string(),
        json!(["RS256", kid, null]).to_string(),
        json!("RS256").to_string(),
        format!(r#"{{"alg":"RS256","kid":{kid:?},"typ":"JWT","typ":"JWT"}}"#),
        format!(r#"{{"alg":"RS256","kid":{kid:?},"alg":"RS256"}}"#),
    ] {
        assert_eq!(
            kind(&verifier, &key.sign_raw(&header, &payload)).await,
            AuthErrorKind::MalformedToken,
            "{header}"
        );
    }
    for body in [json!([payload]).to_string(), json!(payload).to_string()] {
        assert_eq!(
            kind(&verifier, &key.sign_raw(&good, &body)).await,
            AuthErrorKind::MalformedToken,
            "{body}"
        );
    }
}

#[tokio::test]
async fn alg_none_and_hs256_with_the_public_key_are_refused() {
    let pool = pool().await;
    let verifier = pool.verifier();
    let kid = pool.signing_key(TokenUse::Id).kid().to_owned();
    let payload = serde_json::Value::Object(pool.id_token().payload().clone()).to_string();
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);

    let none_header = json!({"alg": "none", "kid": kid}).to_string();
    let unsigned = format!("{}.{}.", b64(&none_header), b64(&payload));
    assert_eq!(
        kind(&verifier, &unsigned).await,
        AuthErrorKind::MalformedToken
    );
    let with_sig = format!("{}.{}.{}", b64(&none_header), b64(&payload), b64("x"));
    assert_eq!(
        kind(&verifier, &with_sig).await,
        AuthErrorKind::DisallowedAlgorithm
    );

    // HS256 keyed with the public key (the classic algorithm confusion).
    let der = pool.signing_key(TokenUse::Id).public_key_der();
    let input = format!(
        "{}.{}",
        b64(&json!({"alg": "HS256", "kid": kid}).to_string()),
        b64(&payload)
    );
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &der),
        input.as_bytes(),
    );
    let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
    assert_eq!(
        kind(&verifier, &forged).await,
        AuthErrorKind::DisallowedAlgorithm
    );
}

#[tokio::test]
async fn a_1024_bit_key_is_never_used() {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs1v15::SigningKey as RsaSigner;
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;

    let pool = pool().await;
    let weak =
        rsa::RsaPrivateKey::from_pkcs1_der(include_bytes!("data/rsa1024-pkcs1.der")).unwrap();
    assert_eq!(weak.n().bits(), 1024);
    let jwk = json!({
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "weak",
        "n": URL_SAFE_NO_PAD.encode(weak.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(weak.e().to_bytes_be()),
    });
    let mut keys: Vec<_> = pool.published_keys().iter().map(SigningKey::jwk).collect();
    keys.push(jwk);
    pool.server()
        .set_jwks(serde_json::to_vec(&json!({ "keys": keys })).unwrap());

    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let payload = serde_json::Value::Object(pool.id_token().payload().clone()).to_string();
    let input = format!(
        "{}.{}",
        b64(r#"{"kid":"weak","alg":"RS256"}"#),
        b64(&payload)
    );
    let signature = RsaSigner::<rsa::sha2::Sha256>::new(weak).sign(input.as_bytes());
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));

    let verifier = pool.verifier();
    assert_eq!(kind(&verifier, &token).await, AuthErrorKind::UnknownKey);
    // The good keys of the same set still work.
    assert!(verifier.verify(&pool.id_token().sign()).await.is_ok());
}

#[tokio::test]
async fn expiry_leeway_and_not_before() {
    let pool = pool().await;
    let verifier = pool.verifier();
    assert_eq!(
        kind(&verifier, &pool.id_token().expired().sign()).await,
        AuthErrorKind::Expired
    );
    assert_eq!(
        kind(&verifier, &pool.id_token().without("exp").sign()).await,
        AuthErrorKind::MalformedToken
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let just_expired = pool.id_token().claim("exp", now - 10).sign();
    assert_eq!(kind(&verifier, &just_expired).await, AuthErrorKind::Expired);
    let lenient = pool
        .verifier_builder()
        .leeway(Duration::from_secs(30))
        .build()
        .unwrap();
    assert!(lenient.verify(&just_expired).await.is_ok());

    let future = pool.id_token().claim("nbf", now + 120).sign();
    assert_eq!(kind(&verifier, &future).await, AuthErrorKind::NotYetValid);
    assert!(
        verifier
            .verify(&pool.id_token().claim("nbf", now - 1).sign())
            .await
            .is_ok()
    );
}

/// NumericDates are any JSON number (RFC 7519), fractions included, as AWS's
/// reference verifier reads them; a fractional `exp` counts from its whole
/// second (the stricter reading). Absurd values are far past or far future and
/// break nothing, the token cache included. Non-numbers are malformed.
#[tokio::test]
async fn dates_are_json_numbers_with_fractions() {
    let pool = pool().await;
    let verifier = pool.verifier();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fractional = pool.id_token().claim("exp", now as f64 + 600.5).sign();
    assert_eq!(verifier.verify(&fractional).await.unwrap().exp(), now + 600);
    let passed = pool.id_token().claim("exp", now as f64 - 0.5).sign();
    assert_eq!(kind(&verifier, &passed).await, AuthErrorKind::Expired);
    let nbf = pool
        .id_token()
        .claim("nbf", now as f64 - 1.5)
        .claim("iat", now as f64 - 1.5)
        .claim("auth_time", now as f64 - 1.5)
        .sign();
    let claims = verifier.verify(&nbf).await.unwrap();
    assert_eq!(claims.iat(), Some(now - 2));
    let future_nbf = pool.id_token().claim("nbf", now as f64 + 120.5).sign();
    assert_eq!(
        kind(&verifier, &future_nbf).await,
        AuthErrorKind::NotYetValid
    );

    for _ in 0..2 {
        let far = pool.id_token().claim("exp", 1e300).sign();
        assert_eq!(verifier.verify(&far).await.unwrap().exp(), u64::MAX);
        assert_eq!(verifier.verify(&far).await.unwrap().exp(), u64::MAX);
    }
    let before_1970 = pool.id_token().claim("exp", -1e300).sign();
    assert_eq!(kind(&verifier, &before_1970).await, AuthErrorKind::Expired);

    for (name, value) in [
        ("exp", json!((now + 600).to_string())),
        ("exp", json!(null)),
        ("nbf", json!("yesterday")),
        ("iat", json!(true)),
        ("auth_time", json!([now])),
    ] {
        let token = pool.id_token().claim(name, value.clone()).sign();
        assert_eq!(
            kind(&verifier, &token).await,
            AuthErrorKind::MalformedToken,
            "{name} = {value}"
        );
    }
}

/// The app client claim is read by the verification only when client ids are
/// configured, and only then must it be a string.
#[tokio::test]
async fn the_app_client_claim_is_strict_only_when_it_is_checked() {
    let pool = pool().await;
    let checking = pool.verifier();
    let any_client = Verifier::new(pool.user_pool()).unwrap();
    for token in [
        pool.id_token()
            .claim("aud", json!([pool.client_id()]))
            .sign(),
        pool.access_token().claim("client_id", 5).sign(),
    ] {
        assert_eq!(kind(&checking, &token).await, AuthErrorKind::MalformedToken);
        let claims = any_client.verify(&token).await.unwrap();
        assert_eq!(claims.client_id(), None);
    }
}

#[tokio::test]
async fn app_client_is_checked_when_configured() {
    let pool = pool().await;
    let verifier = pool.verifier();
    let other_id = pool.id_token().client_id("someotherclient").sign();
    let other_access = pool.access_token().client_id("someotherclient").sign();
    assert_eq!(kind(&verifier, &other_id).await, AuthErrorKind::WrongClient);
    assert_eq!(
        kind(&verifier, &other_access).await,
        AuthErrorKind::WrongClient
    );
    assert_eq!(
        kind(&verifier, &pool.id_token().without("aud").sign()).await,
        AuthErrorKind::WrongClient
    );

    // API Gateway's default: no client configured, any client of the pool passes.
    let any_client = Verifier::new(pool.user_pool()).unwrap();
    assert!(any_client.verify(&other_id).await.is_ok());
    assert!(any_client.verify(&other_access).await.is_ok());

    let two = pool
        .verifier_builder()
        .client_id("someotherclient")
        .build()
        .unwrap();
    assert!(
        two.verify(&other_id).await.is_ok() && two.verify(&pool.id_token().sign()).await.is_ok()
    );
}

#[tokio::test]
async fn token_use_must_be_id_or_access_and_match_the_route() {
    let pool = pool().await;
    let verifier = pool.verifier();
    for bad in ["refresh", "ID", ""] {
        let token = pool.id_token().token_use(bad).sign();
        assert_eq!(
            kind(&verifier, &token).await,
            AuthErrorKind::WrongTokenUse,
            "{bad}"
        );
    }
    assert_eq!(
        kind(&verifier, &pool.id_token().without("token_use").sign()).await,
        AuthErrorKind::MalformedToken
    );

    let id = verifier.verify(&pool.id_token().sign()).await.unwrap();
    let access = verifier
        .verify(&pool.access_token().scopes(["notes/read"]).sign())
        .await
        .unwrap();
    let scoped = Requirement::any_scope(["notes/read"]);
    assert_eq!(
        scoped.evaluate(&id).unwrap_err().kind(),
        AuthErrorKind::WrongTokenUse
    );
    assert!(scoped.evaluate(&access).is_ok());
    let identity = Requirement::new();
    assert!(identity.evaluate(&id).is_ok());
    assert_eq!(
        identity.evaluate(&access).unwrap_err().kind(),
        AuthErrorKind::WrongTokenUse
    );
}

#[tokio::test]
async fn size_limit_comes_first() {
    let pool = pool().await;
    let token = pool
        .id_token()
        .attribute("custom:padding", "x".repeat(20 * 1024))
        .sign();
    let verifier = pool.verifier();
    assert_eq!(kind(&verifier, &token).await, AuthErrorKind::MalformedToken);
    assert_eq!(
        pool.server().requests(),
        0,
        "nothing was fetched for an oversized token"
    );
    let roomy = pool
        .verifier_builder()
        .max_token_size(64 * 1024)
        .build()
        .unwrap();
    assert!(roomy.verify(&token).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_cache_is_filled_by_exactly_one_fetch() {
    let pool = pool().await;
    let verifier = support::uncached(&pool);
    let token: Arc<str> = pool.access_token().sign().into();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), Arc::clone(&token));
            tokio::spawn(async move { verifier.verify(&token).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(pool.server().requests(), 1);
}

/// Whether two verifications returned the very same claims (one allocation):
/// what the token cache hands out, where a fresh verification builds new ones.
fn same_claims(a: &tower_cognito::Claims, b: &tower_cognito::Claims) -> bool {
    std::ptr::eq(a.as_map(), b.as_map())
}

/// A repeated token is answered from the cache: the second verification returns
/// the claims the first one built (both are alive, so a fresh verification could
/// not share their allocation). With the cache off (capacity 0) it does not,
/// which shows what this observes. And a cached token still expires at its exp.
#[tokio::test]
async fn repeated_tokens_come_from_the_cache_and_still_expire() {
    let pool = pool().await;
    let verifier = pool.verifier();
    // Valid for at least 1 s and at most 2 s after this second begins.
    let token = pool.id_token().expires_in(Duration::from_secs(2)).sign();
    let first = verifier.verify(&token).await.unwrap();
    let second = verifier.verify(&token).await.unwrap();
    assert!(
        same_claims(&first, &second),
        "the second came from the cache"
    );
    // From another thread (no per-thread slot there): the shared cache, which
    // holds the verdict and reads the claims again from the token. The cache's
    // own counter, on that thread's recorder, tells a hit from a verification.
    let (shared, hits, misses) = {
        let (verifier, token) = (verifier.clone(), token.clone());
        tokio::task::spawn_blocking(move || {
            let recorder = metrics_util::debugging::DebuggingRecorder::new();
            let claims = support::recorded(&recorder, verifier.verify(&token));
            let metrics = support::Metrics::of(&recorder);
            let count = |result: &str| {
                metrics.counter(&format!(
                    "tower_cognito_token_cache_total{{result={result}}}"
                ))
            };
            (claims, count("hit"), count("miss"))
        })
        .await
        .unwrap()
    };
    let shared = shared.unwrap();
    assert_eq!((hits, misses), (1, 0), "from the shared cache");
    assert_eq!(shared.as_map(), first.as_map(), "the same claims");
    assert!(
        !same_claims(&first, &shared),
        "read again from the token: the shared cache holds no claims"
    );

    let uncached = support::uncached(&pool);
    let a = uncached.verify(&token).await.unwrap();
    let b = uncached.verify(&token).await.unwrap();
    assert_eq!(a.jti(), b.jti());
    assert!(
        !same_claims(&a, &b),
        "without a cache each verification is new"
    );

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(kind(&verifier, &token).await, AuthErrorKind::Expired);
}

#[tokio::test]
async fn claims_deserialize_into_a_type_of_ones_own() {
    #[derive(serde::Deserialize)]
    struct Mine {
        sub: String,
        #[serde(rename = "custom:tenant")]
        tenant: String,
        #[serde(rename = "cognito:groups", default)]
        groups: Vec<String>,
    }
    let pool = pool().await;
    let token = pool
        .id_token()
        .sub("u-9")
        .attribute("custom:tenant", "acme")
        .groups(["g"])
        .sign();
    let mine: Mine = pool
        .verifier()
        .verify(&token)
        .await
        .unwrap()
        .deserialize()
        .unwrap();
    assert_eq!(
        (
            mine.sub.as_str(),
            mine.tenant.as_str(),
            mine.groups.as_slice()
        ),
        ("u-9", "acme", &["g".to_owned()][..])
    );
}

#[test]
fn bad_configuration_is_reported_at_build_time() {
    let err = Verifier::builder().build().unwrap_err();
    assert!(err.message().contains("no user pool"), "{err}");
    let err = Verifier::new(UserPool::new("not-a-pool")).unwrap_err();
    assert!(err.message().contains("not-a-pool"), "{err}");
    let err = Verifier::builder()
        .pool(UserPool::new("us-east-1_AbC"))
        .leeway(Duration::from_secs(3600))
        .build()
        .unwrap_err();
    assert!(err.message().contains("leeway"), "{err}");
    let err = Verifier::builder()
        .pool(UserPool::new("us-east-1_AbC"))
        .unknown_kid_cooldown(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(
        err.message().contains("unknown_kid_cooldown is zero"),
        "{err}"
    );
    let err = Verifier::builder()
        .pool(UserPool::new("us-east-1_AbC"))
        .pool(UserPool::new("us-east-1_AbC"))
        .build()
        .unwrap_err();
    assert!(err.message().contains("configured twice"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_token_cached_by_one_verifier_is_not_trusted_by_another() {
    let pool = pool().await;
    let lenient = Verifier::new(pool.user_pool()).unwrap();
    let strict = pool
        .verifier_builder()
        .client_id("only-this-client")
        .build()
        .unwrap();
    let token = pool.id_token().client_id("another-client").sign();
    // Same thread, same token: the first verifier's cached verdict must not leak.
    for _ in 0..3 {
        assert!(lenient.verify(&token).await.is_ok());
        assert_eq!(kind(&strict, &token).await, AuthErrorKind::WrongClient);
    }
}

/// The test kit's verifiers fetch from their loopback endpoints directly, even
/// with a proxy in the environment (as on many CI machines): this test runs
/// `a_local_pool_verifies_in_the_child` in a child process whose `HTTP_PROXY`
/// points at a port where nothing listens.
#[test]
fn a_local_pool_ignores_proxy_settings() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "a_local_pool_verifies_in_the_child"])
        .env("HTTP_PROXY", &proxy)
        .env("http_proxy", &proxy)
        .env("ALL_PROXY", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .status()
        .unwrap();
    assert!(status.success(), "the child failed behind a dead proxy");
}

#[tokio::test]
#[ignore = "run by a_local_pool_ignores_proxy_settings, with a proxy set"]
async fn a_local_pool_verifies_in_the_child() {
    assert!(
        std::env::var_os("HTTP_PROXY").is_some(),
        "run without a proxy"
    );
    let pool = LocalUserPool::start().await.unwrap();
    let token = pool.id_token().sign();
    pool.verifier().verify(&token).await.unwrap();
    let alb = tower_cognito::test_util::alb::LocalAlb::for_pool(&pool)
        .await
        .unwrap();
    alb.verifier().verify(&alb.data().sign()).await.unwrap();
}
