//! What both fuzz targets share: one runtime, one local JWKS endpoint serving a
//! key with a fixed `kid`, and a verifier for a pool with a fixed id, issuer and
//! client, so that seeds written once keep reaching deep into the checks.

#![allow(dead_code)]

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tower_cognito::test_util::{LocalUserPool, SigningKey};
use tower_cognito::{Claims, TokenUse, UserPool, Verifier};

/// The pool the verifier trusts.
pub const POOL_ID: &str = "us-east-1_FuzzP00l1";
/// Its issuer: what `iss` must say.
pub const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_FuzzP00l1";
/// The only app client the verifier accepts.
pub const CLIENT_ID: &str = "1example23456789fuzzclient";
/// The `kid` of the key the harness signs with (a fresh RSA key every run).
pub const KID: &str = "fuzz-key-1/+=";

pub struct Env {
    pub runtime: tokio::runtime::Runtime,
    pub verifier: Verifier,
    pub key: SigningKey,
    /// A valid ID token of the pool.
    pub valid: String,
    /// Hashes of every token the harness signed: nothing else may ever be accepted.
    signed: Mutex<HashSet<u64>>,
    /// Serves the JWKS; stops when dropped, which it never is.
    _pool: LocalUserPool,
}

pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (pool, verifier, key) = runtime.block_on(async {
            let pool = LocalUserPool::start().await.expect("a local JWKS endpoint");
            let key = SigningKey::generate(KID);
            pool.publish_key(&key);
            let verifier = Verifier::builder()
                .pool(UserPool::new(POOL_ID).jwks_url(pool.jwks_url()))
                .client_id(CLIENT_ID)
                // Unknown kids must not turn the run into a stream of fetches.
                .unknown_kid_cooldown(Duration::from_secs(24 * 3600))
                .refresh_interval(Duration::from_secs(24 * 3600))
                .build()
                .expect("a valid configuration");
            verifier.prefetch().await.expect("the local JWKS");
            (pool, verifier, key)
        });
        let env = Env {
            runtime,
            verifier,
            key,
            valid: String::new(),
            signed: Mutex::new(HashSet::new()),
            _pool: pool,
        };
        let header = format!(r#"{{"kid":"{KID}","alg":"RS256"}}"#);
        let valid = env.sign(&header, &id_payload());
        let claims = env
            .runtime
            .block_on(env.verifier.verify(&valid))
            .expect("the harness's token is valid");
        assert_eq!(claims.token_use(), TokenUse::Id);
        Env { valid, ..env }
    })
}

fn hash(token: &str) -> u64 {
    let mut h = DefaultHasher::new();
    token.hash(&mut h);
    h.finish()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An ID token payload of the pool, valid for a day.
pub fn id_payload() -> String {
    let now = now();
    format!(
        r#"{{"sub":"8f2a1c34-5b6d-4e7f-8a9b-0c1d2e3f4a5b","aud":"{CLIENT_ID}","email_verified":true,"event_id":"0b6b5e4c-3d2a-4f1e-9c8b-7a6d5e4f3a2b","token_use":"id","auth_time":{now},"iss":"{ISSUER}","cognito:username":"fuzz-user","exp":{},"iat":{now},"email":"fuzz@example.com"}}"#,
        now + 86_400
    )
}

impl Env {
    /// Signs `header.payload` (JSON text) with the harness key and remembers the token.
    pub fn sign(&self, header: &str, payload: &str) -> String {
        let token = self.key.sign_raw(header, payload);
        self.signed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash(&token));
        token
    }

    /// The oracle for an accepted token: the harness signed it, and every check the
    /// verifier promises holds for its claims.
    pub fn assert_acceptable(&self, token: &str, claims: &Claims) {
        assert!(
            self.signed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&hash(token)),
            "accepted a token the harness never signed: {token:?}"
        );
        assert_eq!(claims.issuer(), ISSUER, "accepted another issuer");
        assert_eq!(
            claims.client_id(),
            Some(CLIENT_ID),
            "accepted another client"
        );
        // A few seconds of slack: the check ran a moment before this one.
        assert!(
            claims.exp().saturating_add(5) > now(),
            "accepted an expired token"
        );
        assert!(!claims.sub().is_empty(), "accepted a token without sub");
        assert_eq!(claims.pool_id(), POOL_ID);
    }
}
