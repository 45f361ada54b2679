//! A stand-in for an Application Load Balancer (features `test-util` and
//! `alb`): ES256 keys, a key endpoint on 127.0.0.1 serving them as PEM by
//! `kid`, and a builder that signs `x-amzn-oidc-data` as the load balancer
//! does (padded base64url segments, the header fields it sets).
//!
//! ```
//! use tower_cognito::test_util::LocalUserPool;
//! use tower_cognito::test_util::alb::LocalAlb;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let pool = LocalUserPool::start().await.unwrap();
//! // A load balancer whose authenticate-cognito action uses this pool and its client.
//! let alb = LocalAlb::for_pool(&pool).await.unwrap();
//! let headers = alb.data().sub("user-1").email("alice@example.com").headers();
//! assert!(headers.contains_key("x-amzn-oidc-data"));
//! assert_eq!(headers["x-amzn-oidc-identity"], "user-1");
//! // The pool's access token for the same user, as the load balancer forwards it.
//! assert!(headers.contains_key("x-amzn-oidc-accesstoken"));
//! let claims = alb.verifier().verify(headers["x-amzn-oidc-data"].to_str().unwrap()).await.unwrap();
//! assert_eq!(claims.email(), Some("alice@example.com"));
//! # }
//! ```

use super::server::{loopback_server, read_head};
use super::{
    LocalUserPool, TokenBuilder, lock, map_setters, now, random_string, signing_key, uuid,
};
use crate::alb::{AlbVerifier, AlbVerifierBuilder};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

signing_key! {
    /// A load balancer's ES256 signing key (P-256).
    pub struct AlbSigningKey(EcdsaKeyPair);
}

impl AlbSigningKey {
    /// A fresh P-256 key with this `kid`.
    pub fn generate(kid: impl Into<String>) -> Self {
        let pair =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key generation");
        Self::with_pair(kid, pair)
    }

    /// The key's `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key in PEM (SubjectPublicKeyInfo), as the key endpoint serves it.
    pub fn public_key_pem(&self) -> String {
        let der = self.pair.public_key().as_der().expect("public key DER");
        let b64 = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// Signs `message` with ES256: `r || s`, 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&aws_lc_rs::rand::SystemRandom::new(), message)
            .expect("ECDSA signing")
            .as_ref()
            .to_vec()
    }

    /// Signs `header.payload` (JSON texts) as the load balancer does: each
    /// segment base64url with padding (`padded`), or without.
    pub fn sign_raw(&self, header: &str, payload: &str, padded: bool) -> String {
        let encode = |bytes: &[u8]| {
            if padded {
                URL_SAFE.encode(bytes)
            } else {
                URL_SAFE_NO_PAD.encode(bytes)
            }
        };
        let input = format!(
            "{}.{}",
            encode(header.as_bytes()),
            encode(payload.as_bytes())
        );
        let signature = self.sign(input.as_bytes());
        format!("{input}.{}", encode(&signature))
    }
}

/// How an [`AlbKeyServer`] answers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlbKeyBehavior {
    /// The PEM of a published key (200), 404 for any other `kid`.
    Serve,
    /// This status and an empty body, for every `kid`.
    Status(u16),
    /// Wait this long, then serve.
    Delay(Duration),
    /// These bytes as the body (200), for every `kid`.
    Body(Vec<u8>),
}

struct ServerState {
    keys: Mutex<Vec<AlbSigningKey>>,
    behavior: Mutex<AlbKeyBehavior>,
    requests: AtomicUsize,
    paths: Mutex<Vec<String>>,
}

loopback_server! {
    /// A key endpoint on `127.0.0.1`: `GET /{kid}` answers with the PEM of that
    /// published key, or 404. Counts requests, remembers their paths, and can be
    /// told to fail, hang or send garbage. Stopped when dropped.
    pub struct AlbKeyServer serving ServerState;
}

impl AlbKeyServer {
    /// Starts serving these keys on an ephemeral port of 127.0.0.1.
    pub async fn start(keys: Vec<AlbSigningKey>) -> io::Result<Self> {
        Self::spawn(ServerState {
            keys: Mutex::new(keys),
            behavior: Mutex::new(AlbKeyBehavior::Serve),
            requests: AtomicUsize::new(0),
            paths: Mutex::new(Vec::new()),
        })
        .await
    }

    /// The base URL keys are served under (`{url}/{kid}`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes how the server answers from the next request on.
    pub fn set_behavior(&self, behavior: AlbKeyBehavior) {
        *lock(&self.state.behavior) = behavior;
    }

    /// Publishes one more key.
    pub fn publish(&self, key: &AlbSigningKey) {
        lock(&self.state.keys).push(key.clone());
    }

    /// How many requests have arrived so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The paths requested so far, as sent (percent-encoded).
    pub fn paths(&self) -> Vec<String> {
        lock(&self.state.paths).clone()
    }
}

fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let hex = |at: usize| bytes.get(at).and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2))
        {
            out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn serve(mut stream: TcpStream, state: Arc<ServerState>) {
    let Some(request) = read_head(&mut stream).await else {
        return;
    };
    state.requests.fetch_add(1, Ordering::SeqCst);
    let line = String::from_utf8_lossy(&request);
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    lock(&state.paths).push(path.clone());
    let kid = percent_decode(path.trim_start_matches('/'));
    let behavior = lock(&state.behavior).clone();
    let pem = lock(&state.keys)
        .iter()
        .find(|k| k.kid == kid)
        .map(AlbSigningKey::public_key_pem);
    let published = || match &pem {
        Some(pem) => (200, pem.clone().into_bytes()),
        None => (404, b"<Error><Code>NoSuchKey</Code></Error>".to_vec()),
    };
    let (status, body) = match behavior {
        AlbKeyBehavior::Serve => published(),
        AlbKeyBehavior::Status(code) => (code, Vec::new()),
        AlbKeyBehavior::Delay(delay) => {
            tokio::time::sleep(delay).await;
            published()
        }
        AlbKeyBehavior::Body(body) => (200, body),
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/x-pem-file\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

/// A load balancer that lives in the test process: an ARN in `us-east-1`, the
/// app client and issuer of its authenticate action, an ES256 key published on
/// a loopback key endpoint, and a builder for the `x-amzn-oidc-data` it signs.
/// With [`for_pool`](Self::for_pool), it fronts a [`LocalUserPool`] and its
/// requests carry that pool's access tokens.
#[derive(Clone)]
pub struct LocalAlb {
    inner: Arc<AlbInner>,
}

struct AlbInner {
    arn: String,
    client_id: String,
    issuer: String,
    server: AlbKeyServer,
    key: Mutex<AlbSigningKey>,
    pool: Option<LocalUserPool>,
}

impl fmt::Debug for LocalAlb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalAlb")
            .field("arn", &self.inner.arn)
            .field("key_endpoint", &self.inner.server.url())
            .finish_non_exhaustive()
    }
}

fn load_balancer_arn(name: &str) -> String {
    format!(
        "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/{name}/{}",
        random_string(16, b"0123456789abcdef")
    )
}

impl LocalAlb {
    /// A load balancer in front of a Cognito user pool of its own (random pool
    /// id and app client), which issues no access tokens.
    pub async fn start() -> io::Result<Self> {
        let pool_id = format!(
            "{REGION}_{}",
            random_string(
                9,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
            )
        );
        let issuer = format!("https://cognito-idp.{REGION}.amazonaws.com/{pool_id}");
        let client = random_string(26, b"abcdefghijklmnopqrstuvwxyz0123456789");
        Self::new(issuer, client, None).await
    }

    /// A load balancer whose `authenticate-cognito` action uses this pool and
    /// its app client: its claims carry the pool's issuer and client, and
    /// [`AlbDataBuilder::headers`] adds the pool's access token for the same user.
    pub async fn for_pool(pool: &LocalUserPool) -> io::Result<Self> {
        Self::new(
            pool.issuer().to_owned(),
            pool.client_id().to_owned(),
            Some(pool.clone()),
        )
        .await
    }

    async fn new(
        issuer: String,
        client_id: String,
        pool: Option<LocalUserPool>,
    ) -> io::Result<Self> {
        let key = AlbSigningKey::generate(uuid());
        let server = AlbKeyServer::start(vec![key.clone()]).await?;
        Ok(Self {
            inner: Arc::new(AlbInner {
                arn: load_balancer_arn("local-alb"),
                client_id,
                issuer,
                server,
                key: Mutex::new(key),
                pool,
            }),
        })
    }

    /// The load balancer's ARN (the tokens' `signer`).
    pub fn arn(&self) -> &str {
        &self.inner.arn
    }

    /// Its region, `us-east-1`.
    pub fn region(&self) -> &str {
        REGION
    }

    /// The ARN of another load balancer in the same region and account.
    pub fn other_load_balancer_arn(&self) -> String {
        load_balancer_arn("other-alb")
    }

    /// The app client of its authenticate action (the tokens' `client`).
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The identity provider's issuer (the tokens' `iss`).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The user pool it fronts, with [`for_pool`](Self::for_pool).
    pub fn pool(&self) -> Option<&LocalUserPool> {
        self.inner.pool.as_ref()
    }

    /// The key endpoint's base URL.
    pub fn key_endpoint(&self) -> String {
        self.inner.server.url()
    }

    /// The key endpoint, to count requests or make it fail.
    pub fn server(&self) -> &AlbKeyServer {
        &self.inner.server
    }

    /// The key new tokens are signed with.
    pub fn signing_key(&self) -> AlbSigningKey {
        lock(&self.inner.key).clone()
    }

    /// Publishes a new key and signs new tokens with it; returns its `kid`.
    pub fn rotate_key(&self) -> String {
        let key = AlbSigningKey::generate(uuid());
        self.inner.server.publish(&key);
        let kid = key.kid.clone();
        *lock(&self.inner.key) = key;
        kid
    }

    /// A verifier that trusts this load balancer.
    pub fn verifier(&self) -> AlbVerifier {
        self.verifier_builder()
            .build()
            .expect("a local load balancer's configuration is valid")
    }

    /// A verifier builder that trusts this load balancer: its ARN, client,
    /// issuer, and key endpoint, with [`loopback_client`](super::loopback_client)
    /// as its HTTP client.
    pub fn verifier_builder(&self) -> AlbVerifierBuilder {
        AlbVerifier::builder()
            .load_balancer_arn(self.arn())
            .client_id(self.client_id())
            .issuer(self.issuer())
            .key_endpoint(self.key_endpoint())
            .http_client(super::loopback_client())
    }

    /// A builder for the `x-amzn-oidc-data` of one request.
    pub fn data(&self) -> AlbDataBuilder {
        AlbDataBuilder::new(self.clone())
    }
}

/// Builds the `x-amzn-oidc-data` of a [`LocalAlb`] as the load balancer does:
/// the header `{"typ","kid","alg":"ES256","iss","client","signer","exp"}`, the
/// user claims Cognito's user info endpoint returns (`sub`, `email_verified`,
/// `email`, `username`, with `exp` and `iss`), each segment base64url with
/// padding. Valid for an hour by default; each setter overrides one part.
#[derive(Clone)]
#[must_use]
pub struct AlbDataBuilder {
    alb: LocalAlb,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    key: Option<AlbSigningKey>,
    padded: bool,
}

impl fmt::Debug for AlbDataBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The two segments as they stand; not the key, nor the load balancer.
        let Self { header, claims, .. } = self;
        f.debug_struct("AlbDataBuilder")
            .field("header", header)
            .field("claims", claims)
            .finish_non_exhaustive()
    }
}

impl AlbDataBuilder {
    fn new(alb: LocalAlb) -> Self {
        let exp = now() + 3600;
        let key = alb.signing_key();
        let mut header = Map::new();
        header.insert("typ".into(), json!("JWT"));
        header.insert("kid".into(), json!(key.kid()));
        header.insert("alg".into(), json!("ES256"));
        header.insert("iss".into(), json!(alb.issuer()));
        header.insert("client".into(), json!(alb.client_id()));
        header.insert("signer".into(), json!(alb.arn()));
        header.insert("exp".into(), json!(exp));
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(uuid()));
        // Cognito's user info endpoint sends email_verified as a string.
        claims.insert("email_verified".into(), json!("true"));
        claims.insert("email".into(), json!("test-user@example.com"));
        claims.insert("username".into(), json!("test-user"));
        claims.insert("exp".into(), json!(exp));
        claims.insert("iss".into(), json!(alb.issuer()));
        Self {
            alb,
            header,
            claims,
            key: None,
            padded: true,
        }
    }

    map_setters! { claims: claim, without, sub;
        {
            /// Sets a user claim.
        }
        {
            /// Removes a user claim.
        }
        {
            /// `sub` (also what [`headers`](Self::headers) sends as `x-amzn-oidc-identity`).
        }
    }

    /// `email`.
    pub fn email(self, email: impl Into<String>) -> Self {
        self.claim("email", email.into())
    }

    /// `username`.
    pub fn username(self, username: impl Into<String>) -> Self {
        self.claim("username", username.into())
    }

    map_setters! { header: header_field, without_header;
        {
            /// Sets a header field.
        }
        {
            /// Removes a header field.
        }
    }

    /// The header's `signer` (another load balancer's ARN).
    pub fn signer(self, arn: impl Into<String>) -> Self {
        self.header_field("signer", arn.into())
    }

    /// The header's `client`.
    pub fn client(self, client_id: impl Into<String>) -> Self {
        self.header_field("client", client_id.into())
    }

    /// The header's and the payload's `iss`.
    pub fn issuer(self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        self.header_field("iss", issuer.clone())
            .claim("iss", issuer)
    }

    /// The header's `kid` (the key still signs).
    pub fn kid(self, kid: impl Into<String>) -> Self {
        self.header_field("kid", kid.into())
    }

    /// The header's `alg` (the token is still signed with ES256).
    pub fn alg(self, alg: impl Into<String>) -> Self {
        self.header_field("alg", alg.into())
    }

    /// `exp` (header and payload) this long from now.
    pub fn expires_in(self, lifetime: Duration) -> Self {
        self.exp(now() + lifetime.as_secs())
    }

    /// Expired a minute ago (header and payload).
    pub fn expired(self) -> Self {
        self.exp(now() - 60)
    }

    /// `exp`, in the header and the payload alike.
    fn exp(self, exp: u64) -> Self {
        self.header_field("exp", exp).claim("exp", exp)
    }

    /// Signs with this key, keeping the header's `kid` unless it is set too.
    pub fn signed_by(mut self, key: &AlbSigningKey) -> Self {
        self.key = Some(key.clone());
        self
    }

    /// Segments without padding, as RFC 7515 writes them (the load balancer pads).
    pub fn unpadded(mut self) -> Self {
        self.padded = false;
        self
    }

    /// The user claims as they will be signed.
    pub fn payload(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The `sub` the claims carry.
    pub fn sub_claim(&self) -> &str {
        self.claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Signs the token: the value of `x-amzn-oidc-data`.
    pub fn sign(&self) -> String {
        let key = self.key.clone().unwrap_or_else(|| self.alb.signing_key());
        key.sign_raw(
            &Value::Object(self.header.clone()).to_string(),
            &Value::Object(self.claims.clone()).to_string(),
            self.padded,
        )
    }

    /// The pool's access token for the same `sub` (with
    /// [`LocalAlb::for_pool`]), to adjust before it is signed.
    pub fn access_token(&self) -> Option<TokenBuilder> {
        let pool = self.alb.pool()?;
        Some(
            pool.access_token()
                .sub(self.sub_claim())
                .client_id(self.alb.client_id()),
        )
    }

    /// The headers the load balancer adds: `x-amzn-oidc-data`,
    /// `x-amzn-oidc-identity` (the `sub`) and, with [`LocalAlb::for_pool`],
    /// `x-amzn-oidc-accesstoken` (the pool's access token for the same user,
    /// with scope `openid`).
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = |text: String| HeaderValue::from_str(&text).expect("tokens are visible ASCII");
        headers.insert("x-amzn-oidc-data", value(self.sign()));
        headers.insert("x-amzn-oidc-identity", value(self.sub_claim().to_owned()));
        if let Some(access) = self.access_token() {
            headers.insert(
                "x-amzn-oidc-accesstoken",
                value(access.scopes(["openid"]).sign()),
            );
        }
        headers
    }
}
