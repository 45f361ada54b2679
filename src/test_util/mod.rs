//! A local Cognito user pool for tests: real RSA keys, a real JWKS endpoint on
//! 127.0.0.1, and tokens shaped like Cognito's. Behind the `test-util` feature.
//!
//! Testing a handler of your own, with no Cognito pool and no network:
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//! use tower_cognito::test_util::LocalUserPool;
//! use tower_cognito::{Claims, CognitoAuthLayer, Requirement};
//!
//! async fn my_notes(claims: Claims) -> String {
//!     format!("notes of {}", claims.sub())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let pool = LocalUserPool::start().await.unwrap();
//! let auth = CognitoAuthLayer::new(pool.verifier());
//! let app = Router::new()
//!     .route("/notes", get(my_notes))
//!     .route_layer(auth.require(Requirement::any_scope(["notes/read"])).unwrap());
//!
//! let call = |token: String| {
//!     let request = Request::get("/notes")
//!         .header("authorization", format!("Bearer {token}"))
//!         .body(Body::empty())
//!         .unwrap();
//!     app.clone().oneshot(request)
//! };
//!
//! let token = pool.access_token().sub("user-1").scopes(["notes/read"]).sign();
//! assert_eq!(call(token).await.unwrap().status(), StatusCode::OK);
//!
//! let wrong_scope = pool.access_token().scopes(["notes/write"]).sign();
//! assert_eq!(call(wrong_scope).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//!
//! let expired = pool.access_token().scopes(["notes/read"]).expired().sign();
//! assert_eq!(call(expired).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```

#[cfg(feature = "alb")]
pub mod alb;
mod server;

pub use server::{JwksBehavior, JwksServer, RecordedRequest};

use crate::{UserPool, Verifier, VerifierBuilder};
use aws_lc_rs::rand::SecureRandom as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Writes a signing key's struct (its `kid` and its key pair, `$pair`), its
/// `Debug`, which shows the `kid` and never the private key, and `with_pair`,
/// which makes one: for the pool's RSA keys and the load balancer's P-256
/// keys (`alb::AlbSigningKey`).
macro_rules! signing_key {
    ($(#[$attr:meta])* pub struct $name:ident($pair:ty);) => {
        $(#[$attr])*
        #[derive(Clone)]
        pub struct $name {
            kid: String,
            pair: ::std::sync::Arc<$pair>,
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("kid", &self.kid)
                    .field("private", &"<redacted>")
                    .finish()
            }
        }

        impl $name {
            fn with_pair(kid: impl Into<String>, pair: $pair) -> Self {
                Self {
                    kid: kid.into(),
                    pair: ::std::sync::Arc::new(pair),
                }
            }
        }
    };
}

#[cfg(feature = "alb")]
use signing_key;

signing_key! {
    /// A signing key of a [`LocalUserPool`].
    pub struct SigningKey(KeyPair);
}

impl SigningKey {
    /// A fresh 2048-bit RSA key with this `kid`.
    pub fn generate(kid: impl Into<String>) -> Self {
        Self::generate_sized(kid, KeySize::Rsa2048)
    }

    fn generate_sized(kid: impl Into<String>, size: KeySize) -> Self {
        Self::with_pair(kid, KeyPair::generate(size).expect("RSA key generation"))
    }

    /// The key's `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK, as Cognito publishes it.
    pub fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "alg": "RS256",
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            "kid": self.kid,
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "use": "sig",
        })
    }

    /// The public key in DER (SubjectPublicKeyInfo), as an attacker could find it.
    pub fn public_key_der(&self) -> Vec<u8> {
        use aws_lc_rs::encoding::AsDer;
        self.pair
            .public_key()
            .as_der()
            .map(|der| der.as_ref().to_vec())
            .unwrap_or_default()
    }

    /// Signs `header.payload` (both given as JSON text) with RS256.
    pub fn sign_raw(&self, header: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("RSA signing");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// A user pool that lives in the test process: two RSA keys (one for ID tokens,
/// one for access tokens, as Cognito has), a JWKS endpoint on 127.0.0.1, and
/// builders for tokens with every claim Cognito puts in them.
///
/// Its tokens carry the AWS issuer form
/// (`https://cognito-idp.us-east-1.amazonaws.com/us-east-1_…`) while its keys are
/// served on loopback, so [`user_pool`](Self::user_pool) sets an explicit JWKS URL.
/// The server stops when the pool is dropped.
#[derive(Clone)]
pub struct LocalUserPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    pool_id: String,
    issuer: String,
    client_id: String,
    server: JwksServer,
    keys: Mutex<Keys>,
}

struct Keys {
    published: Vec<SigningKey>,
    id_key: SigningKey,
    access_key: SigningKey,
}

impl fmt::Debug for LocalUserPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalUserPool")
            .field("pool_id", &self.inner.pool_id)
            .field("jwks", &self.inner.server.url(""))
            .finish_non_exhaustive()
    }
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("random bytes");
    bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A random version-4 UUID, as Cognito uses for `sub`, `jti` and `event_id`.
pub fn uuid() -> String {
    let hex = random_string(32, b"0123456789abcdef");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// An HTTP client for the test kit's servers on 127.0.0.1: the verifier's
/// default client (a 2 s connect timeout, no redirects, no idle connections) but
/// for proxies, which it never uses. A proxy in the environment (`HTTP_PROXY`
/// without a `NO_PROXY` for loopback, as on many CI machines) would otherwise get
/// the key fetches of a local pool and fail them. The builders of
/// [`LocalUserPool`] and [`LocalAlb`](alb::LocalAlb) use it.
pub fn loopback_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(crate::defaults::CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .expect("the test kit's HTTP client builds")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A JSON array of these strings.
fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Value {
    Value::Array(items.into_iter().map(|s| Value::String(s.into())).collect())
}

/// Writes a token builder's setter and remover of one of its JSON maps
/// (`TokenBuilder`'s claims, and `alb::AlbDataBuilder`'s claims and header),
/// and for claims, the setter of `sub`: the map, the names, then a
/// `{ /// doc }` block for each.
macro_rules! map_setters {
    ($map:ident: $set:ident, $remove:ident $(, $sub:ident)?;
        { $(#[$set_doc:meta])* }
        { $(#[$remove_doc:meta])* }
        $({ $(#[$sub_doc:meta])* })?
    ) => {
        $(#[$set_doc])*
        pub fn $set(
            mut self,
            name: impl Into<String>,
            value: impl Into<::serde_json::Value>,
        ) -> Self {
            self.$map.insert(name.into(), value.into());
            self
        }

        $(#[$remove_doc])*
        pub fn $remove(mut self, name: &str) -> Self {
            self.$map.remove(name);
            self
        }

        $(
            $(#[$sub_doc])*
            #[allow(clippy::should_implement_trait)]
            pub fn $sub(self, sub: impl Into<String>) -> Self {
                self.$set("sub", sub.into())
            }
        )?
    };
}

#[cfg(feature = "alb")]
use map_setters;

/// Locks `m`, also when a panic while it was held poisoned it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LocalUserPool {
    /// Generates the pool's keys and starts its JWKS endpoint.
    pub async fn start() -> io::Result<Self> {
        let pool_id = format!("us-east-1_{}", random_string(9, ALNUM));
        let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{pool_id}");
        let id_key = SigningKey::generate(random_kid());
        let access_key = SigningKey::generate(random_kid());
        let keys = Keys {
            published: vec![id_key.clone(), access_key.clone()],
            id_key,
            access_key,
        };
        let server = JwksServer::start(jwks_document(&keys.published)).await?;
        Ok(Self {
            inner: Arc::new(PoolInner {
                pool_id,
                issuer,
                client_id: random_string(26, b"abcdefghijklmnopqrstuvwxyz0123456789"),
                server,
                keys: Mutex::new(keys),
            }),
        })
    }

    /// The pool id, such as `us-east-1_AbCdEfGhI`.
    pub fn pool_id(&self) -> &str {
        &self.inner.pool_id
    }

    /// The issuer its tokens carry.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The app client id its tokens are issued to by default.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The URL of its JWKS.
    pub fn jwks_url(&self) -> String {
        self.inner
            .server
            .url(&format!("{}/.well-known/jwks.json", self.inner.pool_id))
    }

    /// The JWKS document of the keys published now, as its endpoint serves it:
    /// for [`UserPool::static_jwks`], or a [`JwksProvider`](crate::JwksProvider)
    /// of a test's own.
    pub fn jwks_json(&self) -> String {
        let keys = self.lock_keys();
        String::from_utf8(jwks_document(&keys.published)).expect("JSON is UTF-8")
    }

    /// The JWKS endpoint, to count requests or make it fail.
    pub fn server(&self) -> &JwksServer {
        &self.inner.server
    }

    /// The [`UserPool`] configuration that trusts this pool.
    pub fn user_pool(&self) -> UserPool {
        UserPool::new(self.inner.pool_id.clone()).jwks_url(self.jwks_url())
    }

    /// A verifier builder for this pool, limited to its app client. Its HTTP
    /// client is [`loopback_client`]: it goes to the pool's loopback endpoint
    /// directly, whatever `HTTP_PROXY` says. (So the builder's `connect_timeout`
    /// does not apply; give it an [`http_client`](VerifierBuilder::http_client)
    /// of your own to test one.)
    pub fn verifier_builder(&self) -> VerifierBuilder {
        Verifier::builder()
            .pool(self.user_pool())
            .client_id(self.client_id())
            .http_client(loopback_client())
    }

    /// A verifier for this pool, limited to its app client.
    pub fn verifier(&self) -> Verifier {
        self.verifier_builder()
            .build()
            .expect("a local pool's configuration is valid")
    }

    /// A builder for an ID token.
    pub fn id_token(&self) -> TokenBuilder {
        TokenBuilder::new(self.clone(), crate::TokenUse::Id)
    }

    /// A builder for an access token.
    pub fn access_token(&self) -> TokenBuilder {
        TokenBuilder::new(self.clone(), crate::TokenUse::Access)
    }

    /// Adds a new key pair for each token use, publishes them beside the old ones,
    /// and signs new tokens with them, as Cognito does when it rotates keys.
    /// Returns the new `kid`s (ID key, access key).
    pub fn rotate_keys(&self) -> (String, String) {
        let mut keys = self.lock_keys();
        keys.id_key = SigningKey::generate(random_kid());
        keys.access_key = SigningKey::generate(random_kid());
        let (id, access) = (keys.id_key.clone(), keys.access_key.clone());
        keys.published.push(id.clone());
        keys.published.push(access.clone());
        self.publish(&keys);
        (id.kid, access.kid)
    }

    /// Stops publishing the key with this `kid` (tokens it signed will no longer verify
    /// once verifiers refresh).
    pub fn retire_key(&self, kid: &str) {
        let mut keys = self.lock_keys();
        keys.published.retain(|k| k.kid != kid);
        self.publish(&keys);
    }

    /// The keys currently published.
    pub fn published_keys(&self) -> Vec<SigningKey> {
        self.lock_keys().published.clone()
    }

    /// Publishes this extra key (for example one with an odd `kid`).
    pub fn publish_key(&self, key: &SigningKey) {
        let mut keys = self.lock_keys();
        keys.published.push(key.clone());
        self.publish(&keys);
    }

    /// The key that signs tokens of this use.
    pub fn signing_key(&self, token_use: crate::TokenUse) -> SigningKey {
        let keys = self.lock_keys();
        match token_use {
            crate::TokenUse::Access => keys.access_key.clone(),
            _ => keys.id_key.clone(),
        }
    }

    fn lock_keys(&self) -> std::sync::MutexGuard<'_, Keys> {
        lock(&self.inner.keys)
    }

    fn publish(&self, keys: &Keys) {
        self.inner.server.set_jwks(jwks_document(&keys.published));
    }
}

fn random_kid() -> String {
    // Cognito's kids are base64 of a hash: they contain `+`, `/` and `=`.
    format!(
        "{}+/{}=",
        random_string(20, ALNUM),
        random_string(20, ALNUM)
    )
}

fn jwks_document(keys: &[SigningKey]) -> Vec<u8> {
    let keys: Vec<Value> = keys.iter().map(SigningKey::jwk).collect();
    serde_json::to_vec(&json!({ "keys": keys })).expect("JSON")
}

/// Builds a token of a [`LocalUserPool`], with every claim Cognito issues set to
/// a realistic value; each setter overrides one.
///
/// ```
/// use std::time::Duration;
/// use tower_cognito::test_util::LocalUserPool;
/// use tower_cognito::{AuthErrorKind, TokenUse};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = LocalUserPool::start().await?;
/// let verifier = pool.verifier();
///
/// // An ID token of a user in a group, with a custom attribute.
/// let token = pool
///     .id_token()
///     .sub("user-1")
///     .email("ana@example.com")
///     .groups(["admins"])
///     .attribute("custom:tenant", "acme")
///     .sign();
/// let claims = verifier.verify(&token).await?;
/// assert_eq!(claims.token_use(), TokenUse::Id);
/// assert_eq!(claims.groups(), ["admins"]);
/// assert_eq!(claims.get("custom:tenant").and_then(|v| v.as_str()), Some("acme"));
///
/// // An access token with scopes, valid for a minute.
/// let token = pool
///     .access_token()
///     .scopes(["notes/read"])
///     .expires_in(Duration::from_secs(60))
///     .sign();
/// assert!(verifier.verify(&token).await?.scopes().contains("notes/read"));
///
/// // Tokens a service must refuse.
/// let expired = pool.access_token().expired().sign();
/// let error = verifier.verify(&expired).await.unwrap_err();
/// assert_eq!(error.kind(), AuthErrorKind::Expired);
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct TokenBuilder {
    pool: LocalUserPool,
    token_use: crate::TokenUse,
    claims: Map<String, Value>,
    key: Option<SigningKey>,
    header: Option<Value>,
}

impl fmt::Debug for TokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("token_use", &self.token_use)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl TokenBuilder {
    fn new(pool: LocalUserPool, token_use: crate::TokenUse) -> Self {
        let now = now();
        let sub = uuid();
        let origin = uuid();
        let mut claims = Map::new();
        let mut set = |k: &str, v: Value| {
            claims.insert(k.to_owned(), v);
        };
        set("sub", json!(sub));
        set("iss", json!(pool.issuer()));
        set("token_use", json!(token_use.as_str()));
        set("auth_time", json!(now));
        set("iat", json!(now));
        set("exp", json!(now + 3600));
        set("jti", json!(uuid()));
        set("origin_jti", json!(origin));
        set("event_id", json!(uuid()));
        match token_use {
            crate::TokenUse::Access => {
                set("client_id", json!(pool.client_id()));
                set("scope", json!("aws.cognito.signin.user.admin"));
                set("username", json!("test-user"));
                set("version", json!(2));
            }
            _ => {
                set("aud", json!(pool.client_id()));
                set("cognito:username", json!("test-user"));
                set("email", json!("test-user@example.com"));
                set("email_verified", json!(true));
            }
        }
        Self {
            pool,
            token_use,
            claims,
            key: None,
            header: None,
        }
    }

    map_setters! { claims: claim, without, sub;
        {
            /// Sets any claim.
        }
        {
            /// Removes a claim.
        }
        {
            /// `sub`.
        }
    }

    /// The username (`cognito:username` in ID tokens, `username` in access tokens).
    pub fn username(self, username: impl Into<String>) -> Self {
        let name = self.by_use("username", "cognito:username");
        self.claim(name, username.into())
    }

    /// `email` (and `email_verified: true`).
    pub fn email(self, email: impl Into<String>) -> Self {
        self.claim("email", email.into())
            .claim("email_verified", true)
    }

    /// `cognito:groups`.
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(self, groups: I) -> Self {
        self.claim("cognito:groups", strings(groups))
    }

    /// A user attribute such as `custom:role`.
    pub fn attribute(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claim(name, value)
    }

    /// The access token's `scope`, joined with spaces.
    pub fn scopes<I: IntoIterator<Item = S>, S: AsRef<str>>(self, scopes: I) -> Self {
        let joined: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.claim("scope", joined.join(" "))
    }

    /// The app client: `aud` of an ID token, `client_id` of an access token.
    pub fn client_id(self, client_id: impl Into<String>) -> Self {
        let name = self.by_use("client_id", "aud");
        self.claim(name, client_id.into())
    }

    /// The claim called `access` in access tokens and `id` in ID tokens.
    fn by_use(&self, access: &'static str, id: &'static str) -> &'static str {
        match self.token_use {
            crate::TokenUse::Access => access,
            _ => id,
        }
    }

    /// `aud`, on any token: an access token with an `aud`, as HTTP API's JWT
    /// authorizer reads it before `client_id`.
    pub fn audience(self, aud: impl Into<String>) -> Self {
        self.claim("aud", aud.into())
    }

    /// `scp`, an array of scopes (the claim HTTP API's JWT authorizer reads
    /// beside `scope`; other providers issue it, Cognito does not).
    pub fn scp<I: IntoIterator<Item = S>, S: Into<String>>(self, scopes: I) -> Self {
        self.claim("scp", strings(scopes))
    }

    /// `token_use`, for tokens that claim to be of the other kind.
    pub fn token_use(self, token_use: impl Into<String>) -> Self {
        self.claim("token_use", token_use.into())
    }

    /// `iss`.
    pub fn issuer(self, issuer: impl Into<String>) -> Self {
        self.claim("iss", issuer.into())
    }

    /// `exp` this long after `iat`.
    pub fn expires_in(self, lifetime: Duration) -> Self {
        let exp = now() + lifetime.as_secs();
        self.claim("exp", exp)
    }

    /// Issued two hours ago, expired one hour ago.
    pub fn expired(self) -> Self {
        let now = now();
        self.claim("iat", now - 7200)
            .claim("auth_time", now - 7200)
            .claim("exp", now - 3600)
    }

    /// Signs with this key instead of the pool's.
    pub fn signed_by(mut self, key: &SigningKey) -> Self {
        self.key = Some(key.clone());
        self
    }

    /// Uses this JSON header instead of `{"kid": …, "alg": "RS256"}`.
    pub fn header(mut self, header: Value) -> Self {
        self.header = Some(header);
        self
    }

    /// The payload as it will be signed.
    pub fn payload(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Signs the token.
    pub fn sign(self) -> String {
        let key = self
            .key
            .unwrap_or_else(|| self.pool.signing_key(self.token_use));
        let header = self
            .header
            .unwrap_or_else(|| json!({ "kid": key.kid(), "alg": "RS256" }));
        key.sign_raw(&header.to_string(), &Value::Object(self.claims).to_string())
    }
}
