//! [`Verifier`]: turns a token string into verified [`Claims`].
//!
//! Everything that decides whether a token is good lives below this module and
//! knows nothing of HTTP services, requirements or responses (those are
//! `crate::auth`'s, on top): the token's splitting and decoding (`token`), its
//! claims (`claims`), the user pools (`pool`), the signature backend (`crypto`),
//! the key sets (`keys`) and revocation (`revocation`).

pub(crate) mod claims;
pub(crate) mod crypto;
pub(crate) mod keys;
pub(crate) mod pool;
pub(crate) mod revocation;
pub(crate) mod token;

pub use claims::{ApiGatewayClaims, Claims, ClaimsError, HttpApiClaims, TokenUse};
pub use keys::{JwksFuture, JwksProvider};
pub use pool::UserPool;
pub use revocation::{Revocation, RevocationError, RevocationList, Revoked};

use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::observe;
use keys::{Key, KeyOrigin, KeySettings, KeySource};
use moka::Expiry;
use moka::sync::Cache;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, DefaultHasher, Hasher, RandomState};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default largest token accepted, in bytes.
pub const DEFAULT_MAX_TOKEN_SIZE: usize = 16 * 1024;
/// Default largest JWKS response accepted, in bytes.
pub const DEFAULT_MAX_JWKS_SIZE: usize = 1024 * 1024;
/// Default number of verified tokens kept.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: u64 = 10_000;

/// Verifies Cognito tokens against one or more user pools.
///
/// Cloning is cheap, and clones share everything: the pools' key caches and the
/// verified-token cache. Build one per set of pools and hand clones to every layer.
///
/// A token passes when, in this order (the full check of Cognito's docs):
/// 1. it is at most [`max_token_size`](VerifierBuilder::max_token_size) bytes;
/// 2. it has exactly three unpadded base64url segments whose header and payload
///    are JSON objects without duplicate names;
/// 3. its header says `alg: RS256` (pinned: the token never chooses), has a
///    `kid`, and has no `crit`;
/// 4. its `iss` is exactly the issuer of a configured pool (a token of any other
///    issuer is refused before any key is fetched);
/// 5. that pool's key set has an RSA key with that `kid` (`use` sig or absent,
///    `alg` RS256 or absent, 2048 to 8192 bits), and the signature verifies;
/// 6. `exp` is present and not passed, `nbf` (if present) has come, both with
///    the configured [`leeway`](VerifierBuilder::leeway) (default none); the
///    dates (`iat` and `auth_time` too) are JSON numbers, fractions included,
///    read to the stricter whole second (see [`Claims`]);
/// 7. `token_use` is `id` or `access`, and `sub` is a non-empty string;
/// 8. when [client ids](VerifierBuilder::client_id) are configured, the ID
///    token's `aud` or the access token's `client_id` is a string and one of
///    them.
///
/// No other claim is checked: one of an unexpected shape (a `cognito:groups`
/// that is not an array, a Pre Token Generation trigger's own claim) fails only
/// a route [`Requirement`](crate::Requirement) that reads it.
///
/// Which token use and scopes a route needs is the route's business:
/// see [`Requirement`](crate::Requirement).
///
/// ```no_run
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// use tower_cognito::{UserPool, Verifier};
///
/// let verifier = Verifier::builder()
///     .pool(UserPool::new("us-east-1_AbCdEfGhI"))
///     .client_id("1example23456789")
///     .build()?;
/// let claims = verifier.verify(token).await?;
/// println!("hello {}", claims.sub());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tells this verifier's entries apart in the per-thread caches.
    id: u64,
    pools: Vec<Pool>,
    by_issuer: HashMap<String, usize>,
    client_ids: Vec<String>,
    leeway: u64,
    max_token_size: usize,
    tokens: Option<Cache<String, Verified, TokenHasher>>,
    revocation: Option<Hook>,
}

/// The verifier's revocation check and what a failing one means.
#[derive(Clone)]
struct Hook {
    revocation: Arc<dyn Revocation>,
    fail_open: bool,
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

/// What the revocation check made of verified claims.
pub(crate) enum Screened {
    /// Decided now.
    Done(Result<Claims, AuthError>),
    /// The check is under way.
    Later(Pin<Box<dyn Future<Output = Result<Claims, AuthError>> + Send>>),
}

struct Pool {
    id: Arc<str>,
    keys: Arc<KeySource>,
}

#[derive(Clone)]
struct Verified {
    claims: Claims,
    key: Arc<Key>,
    pool: usize,
}

/// Hashes a cached token by its length and its last 64 bytes (the end of its RSA
/// signature) with SipHash under a per-process random key. Entries are still
/// found by comparing the whole token: this only spares hashing all of a 1 to
/// 4 KiB token on every request, which was half the cost of a cache hit. Only
/// verified tokens are stored and no one can choose their signatures, so the
/// tails spread as well as whole tokens would.
#[derive(Clone, Default)]
struct TokenHasher(RandomState);

impl BuildHasher for TokenHasher {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

struct TailHasher(DefaultHasher);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write_usize(bytes.len());
        self.0.write(&bytes[bytes.len().saturating_sub(64)..]);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Slots of the per-thread token cache (a power of two: see `local_slot`).
const LOCAL_SLOTS: usize = 16;
const _: () = assert!(LOCAL_SLOTS.is_power_of_two() && LOCAL_SLOTS > 1);

/// A token this thread verified or found in the shared cache lately. A hit here
/// takes no lock and writes nothing the other threads use but the claims'
/// reference count, where a hit in moka records the read in its shared log and
/// clones two `Arc`s: on a busy multi-threaded server that traffic between cores
/// cost more than the lookup itself.
struct LocalEntry {
    verifier: u64,
    token: Box<str>,
    claims: Claims,
    key: Arc<Key>,
    pool: usize,
}

thread_local! {
    static LOCAL: RefCell<[Option<LocalEntry>; LOCAL_SLOTS]> =
        const { RefCell::new([const { None }; LOCAL_SLOTS]) };
}

/// The slot of a token, from the end of its signature, which no one can choose.
///
/// Not from the last character: a 2048-bit signature is 256 bytes, 342 base64url
/// characters, and the last one carries only the signature's last 2 bits (it is
/// one of `A`, `Q`, `g`, `w`), so slots picked from it fill 4 of 16. The 8
/// characters before it carry 6 random bits each; read as one word and mixed by
/// a multiply (Fibonacci hashing), the word's top bits pick the slot. One load,
/// one multiply, one shift: this runs on every cache hit. Tokens shorter than 9
/// bytes (never verified ones) are padded with zeros.
fn local_slot(token: &str) -> usize {
    let bytes = token.as_bytes();
    let end = bytes.len().saturating_sub(1);
    let start = end.saturating_sub(8);
    let mut word = [0u8; 8];
    word[..end - start].copy_from_slice(&bytes[start..end]);
    let mixed = u64::from_le_bytes(word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - LOCAL_SLOTS.trailing_zeros())) as usize
}

/// Puts a verified token in this thread's slot for it.
fn remember(verifier: u64, token: &str, verified: &Verified) {
    LOCAL.with_borrow_mut(|slots| {
        slots[local_slot(token)] = Some(LocalEntry {
            verifier,
            token: token.into(),
            claims: verified.claims.clone(),
            key: Arc::clone(&verified.key),
            pool: verified.pool,
        });
    });
}

struct UntilExp;

/// Longest a verified token is remembered: Cognito's longest token lifetime.
const MAX_CACHED_SECS: u64 = 24 * 60 * 60;

impl Expiry<String, Verified> for UntilExp {
    fn expire_after_create(
        &self,
        _: &String,
        value: &Verified,
        _: std::time::Instant,
    ) -> Option<Duration> {
        // At the token's exp, and within a day (Cognito's longest lifetime) so that
        // an absurd exp cannot overflow the cache's clock.
        let left = value.claims.exp().saturating_sub(now_secs());
        Some(Duration::from_secs(left.min(MAX_CACHED_SECS)))
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "pools",
                &self.inner.pools.iter().map(|p| &*p.id).collect::<Vec<_>>(),
            )
            .field("issuers", &self.inner.by_issuer.keys().collect::<Vec<_>>())
            .field("client_ids", &self.inner.client_ids)
            .field("leeway_secs", &self.inner.leeway)
            .field("max_token_size", &self.inner.max_token_size)
            .field("token_cache", &self.inner.tokens.is_some())
            .field("revocation", &self.inner.revocation)
            .finish()
    }
}

/// The request's fate after the revocation check answered.
fn judge(
    claims: Claims,
    answer: Result<bool, RevocationError>,
    fail_open: bool,
) -> Result<Claims, AuthError> {
    match answer {
        Ok(false) => Ok(claims),
        Ok(true) => Err(AuthError::new(
            AuthErrorKind::Revoked,
            "the token was revoked",
        )),
        Err(error) if fail_open => {
            tracing::warn!(%error, "revocation check failed; letting the token through (fail open)");
            Ok(claims)
        }
        Err(error) => {
            tracing::warn!(%error, "revocation check failed; refusing the token (fail closed)");
            Err(AuthError::new(
                AuthErrorKind::RevocationUnavailable,
                "the revocation check failed",
            ))
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Verifier {
    /// A builder with secure defaults.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// A verifier for one pool, every other setting at its default.
    pub fn new(pool: UserPool) -> Result<Self, ConfigError> {
        Self::builder().pool(pool).build()
    }

    /// Verifies a token (the bare token, without `Bearer `) and returns its claims.
    ///
    /// With a [`revocation`](VerifierBuilder::revocation) check, a revoked
    /// token is refused ([`AuthErrorKind::Revoked`]), whether it came from the
    /// cache or not.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        self.check_size(token)?;
        if let Some(claims) = self.cached(token) {
            return match self.screen(claims) {
                Screened::Done(result) => result,
                Screened::Later(check) => check.await,
            };
        }
        self.verify_miss(token).await
    }

    /// Puts verified claims through the revocation check, if there is one. A
    /// local check ([`Revoked::Now`]) is decided here, without a future.
    pub(crate) fn screen(&self, claims: Claims) -> Screened {
        let Some(hook) = &self.inner.revocation else {
            return Screened::Done(Ok(claims));
        };
        let fail_open = hook.fail_open;
        match hook.revocation.is_revoked(&claims) {
            Revoked::Now(answer) => Screened::Done(judge(claims, answer, fail_open)),
            Revoked::Later(answer) => {
                Screened::Later(Box::pin(
                    async move { judge(claims, answer.await, fail_open) },
                ))
            }
        }
    }

    /// Refuses a token larger than the size limit, before anything reads it.
    pub(crate) fn check_size(&self, token: &str) -> Result<(), AuthError> {
        if token.len() > self.inner.max_token_size {
            return Err(AuthError::malformed("token is larger than the size limit"));
        }
        Ok(())
    }

    /// Verifies a token that [`cached`](Self::cached) did not know, and remembers
    /// it: the cache is not looked up again. The caller has called
    /// [`check_size`](Self::check_size): the size is checked once per request,
    /// and not again here.
    /// The revocation check, if any, comes last.
    pub(crate) async fn verify_miss(&self, token: &str) -> Result<Claims, AuthError> {
        debug_assert!(
            token.len() <= self.inner.max_token_size,
            "verify_miss called without check_size"
        );
        let (claims, key, pool) = self.verify_uncached(token).await?;
        if let Some(cache) = &self.inner.tokens {
            let verified = Verified {
                claims: claims.clone(),
                key,
                pool,
            };
            remember(self.inner.id, token, &verified);
            cache.insert(token.to_owned(), verified);
        }
        match self.screen(claims) {
            Screened::Done(result) => result,
            Screened::Later(check) => check.await,
        }
    }

    /// The claims of a token this verifier has verified before, if it is still in
    /// the cache, unexpired, and its key is still trusted. Never waits: the layer
    /// answers a repeated token without building a future for it. The caller has
    /// checked the token's size.
    pub(crate) fn cached(&self, token: &str) -> Option<Claims> {
        let inner = &*self.inner;
        let cache = inner.tokens.as_ref()?;
        let claims = self.lookup(cache, token);
        observe::token_cache(claims.is_some());
        claims
    }

    fn lookup(&self, cache: &Cache<String, Verified, TokenHasher>, token: &str) -> Option<Claims> {
        let inner = &*self.inner;
        // A verdict stands while its key is trusted (see `Key::is_trusted`) and
        // the token has not expired; and only while the pool's key set is kept
        // on schedule: when a refresh is overdue (`KeySource::tick` is false) the
        // token goes the miss path, which waits for that refresh.
        let valid = |key: &Key, claims: &Claims| {
            key.is_trusted() && now_secs() < claims.exp().saturating_add(inner.leeway)
        };
        // This thread's slots first: no lock, nothing shared written but one count.
        let local = LOCAL.with_borrow(|slots| {
            let entry = slots[local_slot(token)].as_ref()?;
            (entry.verifier == inner.id
                && *entry.token == *token
                && valid(&entry.key, &entry.claims))
            .then(|| (entry.pool, entry.claims.clone()))
        });
        if let Some((pool, claims)) = local {
            return inner.pools[pool].keys.tick().then_some(claims);
        }
        let hit = cache.get(token)?;
        if !valid(&hit.key, &hit.claims) {
            cache.invalidate(token);
            return None;
        }
        if !inner.pools[hit.pool].keys.tick() {
            return None;
        }
        remember(inner.id, token, &hit);
        Some(hit.claims)
    }

    async fn verify_uncached(&self, token: &str) -> Result<(Claims, Arc<Key>, usize), AuthError> {
        let inner = &*self.inner;
        // The size was checked once, by `check_size`, before the cache lookup.
        let parsed = token::parse(token)?;
        let issuer = match parsed.payload.get("iss") {
            Some(Value::String(iss)) => iss,
            _ => return Err(AuthError::malformed("token has no string iss claim")),
        };
        let Some(&index) = inner.by_issuer.get(issuer.as_str()) else {
            return Err(AuthError::new(
                AuthErrorKind::WrongIssuer,
                "token iss is not a configured user pool",
            ));
        };
        let pool = &inner.pools[index];
        let key = pool.keys.key(&parsed.kid).await?;
        if !key.verify(parsed.signing_input, &parsed.signature) {
            return Err(AuthError::new(
                AuthErrorKind::BadSignature,
                "token signature does not verify",
            ));
        }
        let claims = Claims::from_payload(parsed.payload, Arc::clone(&pool.id))?;
        let now = now_secs();
        if now >= claims.exp().saturating_add(inner.leeway) {
            return Err(AuthError::new(
                AuthErrorKind::Expired,
                "token exp has passed",
            ));
        }
        if claims
            .nbf()
            .is_some_and(|nbf| now.saturating_add(inner.leeway) < nbf)
        {
            return Err(AuthError::new(
                AuthErrorKind::NotYetValid,
                "token nbf has not come",
            ));
        }
        if !inner.client_ids.is_empty() {
            // The one optional claim the verification reads, so the one that must
            // have its type when present: `aud` of an ID token, `client_id` of
            // an access token.
            let allowed = match claims.get(claims.client_claim()) {
                None => false,
                Some(Value::String(client)) => inner.client_ids.iter().any(|c| c == client),
                Some(_) => {
                    return Err(AuthError::malformed(
                        "token's app client claim (aud or client_id) is not a string",
                    ));
                }
            };
            if !allowed {
                return Err(AuthError::new(
                    AuthErrorKind::WrongClient,
                    "token was issued to an app client that is not configured",
                ));
            }
        }
        Ok((claims, key, index))
    }

    /// Fetches every pool's key set now, for start-up. Fails with the first pool's
    /// error, so a wrong pool id or an unreachable JWKS shows before traffic does.
    /// A pool whose key set is usable is not fetched again.
    ///
    /// A prefetch is not held back by the [unknown-kid
    /// cooldown](VerifierBuilder::unknown_kid_cooldown), but it does obey the
    /// back-off after a failed fetch: called again within the back-off (a
    /// readiness loop during an outage), it returns the last failure without
    /// fetching, so an outage never turns calls into fetches.
    pub async fn prefetch(&self) -> Result<(), AuthError> {
        for pool in &self.inner.pools {
            pool.keys.prefetch().await?;
        }
        Ok(())
    }

    /// Whether every pool has a usable key set (for a readiness probe). False until
    /// the first successful fetch, and once a pool's set is older than
    /// [`max_stale`](VerifierBuilder::max_stale) because every refresh failed.
    pub fn is_ready(&self) -> bool {
        self.inner.pools.iter().all(|p| p.keys.is_ready())
    }

    /// The state of every pool's key set, for a health endpoint: whether each
    /// is usable, how many keys it holds and how old it is. Reads no network:
    /// start-up still wants [`prefetch`](Self::prefetch).
    ///
    /// ```
    /// # use tower_cognito::Verifier;
    /// # fn demo(verifier: &Verifier) {
    /// let readiness = verifier.readiness();
    /// let status = if readiness.is_ready() { 200 } else { 503 };
    /// let body = serde_json::to_string(&readiness).unwrap();
    /// # let _ = (status, body);
    /// # }
    /// ```
    pub fn readiness(&self) -> Readiness {
        let pools: Vec<PoolReadiness> = self
            .inner
            .pools
            .iter()
            .map(|pool| {
                let status = pool.keys.status();
                PoolReadiness {
                    pool: pool.id.to_string(),
                    ready: status.usable,
                    keys: status.keys,
                    key_set_age_secs: status.age.map(|a| a.as_secs()),
                    failed_fetches: status.failures,
                }
            })
            .collect();
        Readiness {
            ready: pools.iter().all(|p| p.ready),
            oldest_key_set_age_secs: pools
                .iter()
                .map(|p| p.key_set_age_secs)
                .try_fold(0u64, |oldest, age| age.map(|a| oldest.max(a))),
            pools,
        }
    }

    /// The clock skew allowed on dates, in seconds (HTTP API's `iat` rule).
    pub(crate) fn leeway_secs(&self) -> u64 {
        self.inner.leeway
    }

    /// The configured pools' ids.
    pub fn pool_ids(&self) -> impl Iterator<Item = &str> {
        self.inner.pools.iter().map(|p| &*p.id)
    }
}

/// What [`Verifier::readiness`] reports; serialises to JSON for a health
/// endpoint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Readiness {
    /// Whether every pool has a usable key set ([`Verifier::is_ready`]).
    pub ready: bool,
    /// Seconds since the oldest pool's key set was fetched; `None` while a pool
    /// has never had one.
    pub oldest_key_set_age_secs: Option<u64>,
    /// Each pool.
    pub pools: Vec<PoolReadiness>,
}

impl Readiness {
    /// Whether every pool has a usable key set.
    pub fn is_ready(&self) -> bool {
        self.ready
    }
}

/// One pool in a [`Readiness`] report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PoolReadiness {
    /// The pool id.
    pub pool: String,
    /// Whether its key set is usable: fetched, and not older than `max_stale`.
    pub ready: bool,
    /// Keys in the set.
    pub keys: usize,
    /// Seconds since the set was fetched; `None` before the first fetch.
    pub key_set_age_secs: Option<u64>,
    /// Fetches failed in a row since the last good one.
    pub failed_fetches: u32,
}

/// Builds a [`Verifier`]; see its setters for the defaults.
#[derive(Clone, Debug)]
#[must_use]
pub struct VerifierBuilder {
    pools: Vec<UserPool>,
    client_ids: Vec<String>,
    leeway: Duration,
    max_token_size: usize,
    client: Option<reqwest::Client>,
    fetch_timeout: Duration,
    connect_timeout: Duration,
    max_jwks_size: usize,
    refresh_interval: Duration,
    unknown_kid_cooldown: Duration,
    max_backoff: Duration,
    max_stale: Duration,
    token_cache_capacity: u64,
    /// Set by an API definition without Cognito authorizers: a verifier with no
    /// pool, which refuses every token, is what such a definition needs.
    no_pools_ok: bool,
    revocation: Option<Hook>,
    revocation_fail_open: bool,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        Self {
            pools: Vec::new(),
            client_ids: Vec::new(),
            leeway: Duration::ZERO,
            max_token_size: DEFAULT_MAX_TOKEN_SIZE,
            client: None,
            fetch_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_jwks_size: DEFAULT_MAX_JWKS_SIZE,
            refresh_interval: Duration::from_secs(15 * 60),
            unknown_kid_cooldown: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
            max_stale: Duration::from_secs(24 * 60 * 60),
            token_cache_capacity: DEFAULT_TOKEN_CACHE_CAPACITY,
            no_pools_ok: false,
            revocation: None,
            revocation_fail_open: false,
        }
    }
}

impl VerifierBuilder {
    /// Lets [`build`](Self::build) succeed without a pool (the verifier then
    /// refuses every token as from the wrong issuer), for API definitions
    /// that have no Cognito authorizer.
    #[cfg(feature = "openapi")]
    pub(crate) fn no_pools_ok(mut self) -> Self {
        self.no_pools_ok = true;
        self
    }

    /// Trusts tokens of this user pool. Call once per pool (up to 1,000, as API
    /// Gateway allows); the pool is chosen by the token's `iss`.
    pub fn pool(mut self, pool: UserPool) -> Self {
        self.pools.push(pool);
        self
    }

    /// Trusts tokens of each of these pools.
    pub fn pools(mut self, pools: impl IntoIterator<Item = UserPool>) -> Self {
        self.pools.extend(pools);
        self
    }

    /// Accepts only tokens issued to this app client (`aud` of ID tokens,
    /// `client_id` of access tokens). Call again to allow several. Default: any
    /// client of the pool, as API Gateway does; set this in production.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_ids.push(client_id.into());
        self
    }

    /// Accepts only tokens issued to one of these app clients.
    pub fn client_ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.client_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Clock skew allowed on `exp` and `nbf`. Default: none. At most 5 minutes.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Largest token accepted, in bytes, checked before anything is decoded.
    /// Default: 16 KiB (Cognito tokens are 1 to 4 KiB).
    pub fn max_token_size(mut self, bytes: usize) -> Self {
        self.max_token_size = bytes;
        self
    }

    /// The HTTP client for JWKS fetches. Default: a rustls client with a 2 s
    /// connect timeout that follows no redirects. The [`fetch_timeout`](Self::fetch_timeout) applies to
    /// every fetch either way.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Longest a JWKS fetch may take, from connecting to the last byte. A request
    /// that waits for keys waits no longer than this (plus 250 ms), even when the
    /// fetch it waits for was started on a Tokio runtime that has since shut down
    /// or stopped running it: the next request then starts a fetch of its own.
    /// Default: 5 s.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Longest the default client waits to connect. Default: 2 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Largest JWKS response read, in bytes; a larger one is a failed fetch, cut
    /// off at the limit. Default: 1 MiB.
    pub fn max_jwks_size(mut self, bytes: usize) -> Self {
        self.max_jwks_size = bytes;
        self
    }

    /// How often the key sets are re-read in the background (on a timer, so no
    /// traffic is needed, and never more often than the
    /// [`unknown_kid_cooldown`](Self::unknown_kid_cooldown)), so that a key Cognito
    /// removed stops being trusted within this interval (plus the cooldown and
    /// one fetch). This holds whatever runtime the verifier was first used on:
    /// the timer runs on a Tokio runtime and dies with it, so cache hits start a
    /// due refresh themselves, and once a refresh is overdue by more than a fetch
    /// and a cooldown, a token is accepted only after the refresh. Default: 15
    /// minutes.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Least time between two fetches caused by tokens with unknown `kid`s, counted
    /// from the start of any fetch: a flood of random `kid`s causes at most one
    /// fetch per cooldown, and a real rotation is seen within one. Also the first
    /// step of the back-off after a failed fetch (doubling up to
    /// [`max_backoff`](Self::max_backoff)). Must not be zero. Default: 5 s.
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.unknown_kid_cooldown = cooldown;
        self
    }

    /// Longest wait between fetch attempts while the JWKS endpoint fails. Default: 60 s.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// How long the last good key set keeps serving while every refresh fails.
    /// After that, requests are answered as "key set unavailable" (5xx).
    /// Default: 24 hours.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Most verified tokens remembered, so a repeated token skips the signature
    /// check (each is forgotten at its `exp`, or when its key leaves the key set).
    /// `0` turns the cache off. Default: 10,000.
    pub fn token_cache_capacity(mut self, entries: u64) -> Self {
        self.token_cache_capacity = entries;
        self
    }

    /// Consults `revocation` for every token after it verifies and before it is
    /// accepted, on every request, tokens from the cache included (see
    /// [`Revocation`], and [`RevocationList`](crate::RevocationList) for one in
    /// memory). A revoked token gets API Gateway's `Unauthorized`. A check that
    /// fails refuses the request (5xx, [`AuthErrorKind::RevocationUnavailable`])
    /// unless [`revocation_fail_open`](Self::revocation_fail_open) is set.
    /// Default: none, as API Gateway (revoked tokens pass until `exp`).
    pub fn revocation(mut self, revocation: impl Revocation) -> Self {
        self.revocation = Some(Hook {
            revocation: Arc::new(revocation),
            fail_open: false,
        });
        self
    }

    /// **Lets tokens through when the revocation check fails** (its store is
    /// down), logging a warning, instead of refusing them: availability over
    /// revocation. Only with [`revocation`](Self::revocation).
    pub fn revocation_fail_open(mut self) -> Self {
        self.revocation_fail_open = true;
        self
    }

    /// Checks the configuration and builds the verifier.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.pools.is_empty() && !self.no_pools_ok {
            return Err(ConfigError::new("no user pool configured"));
        }
        if self.pools.len() > 1000 {
            return Err(ConfigError::new("more than 1,000 user pools configured"));
        }
        if self.leeway > Duration::from_secs(300) {
            return Err(ConfigError::new("leeway is longer than 5 minutes"));
        }
        if self.max_token_size < 64 {
            return Err(ConfigError::new("max_token_size is below 64 bytes"));
        }
        if self.max_jwks_size < 256 {
            return Err(ConfigError::new("max_jwks_size is below 256 bytes"));
        }
        for (what, d) in [
            ("fetch_timeout", self.fetch_timeout),
            ("connect_timeout", self.connect_timeout),
            ("refresh_interval", self.refresh_interval),
            ("max_stale", self.max_stale),
            ("unknown_kid_cooldown", self.unknown_kid_cooldown),
        ] {
            if d.is_zero() {
                return Err(ConfigError::new(format!("{what} is zero")));
            }
        }
        if self.client_ids.iter().any(String::is_empty) {
            return Err(ConfigError::new("an empty client id is configured"));
        }
        let client = match self.client {
            Some(client) => client,
            // No redirects: the JWKS comes from the configured URL or not at all.
            // No idle connections: fetches are minutes apart, and a pooled
            // connection can outlive the runtime that opened it.
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .timeout(self.fetch_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .map_err(|e| ConfigError::new(format!("cannot build the HTTP client: {e}")))?,
        };
        let settings = Arc::new(KeySettings {
            client,
            fetch_timeout: self.fetch_timeout,
            max_jwks_size: self.max_jwks_size,
            refresh_interval: self.refresh_interval,
            unknown_kid_cooldown: self.unknown_kid_cooldown,
            max_backoff: self.max_backoff.max(self.unknown_kid_cooldown),
            max_stale: self.max_stale,
        });

        let mut pools = Vec::with_capacity(self.pools.len());
        let mut by_issuer = HashMap::new();
        let mut by_url: HashMap<String, Arc<KeySource>> = HashMap::new();
        for pool in &self.pools {
            let resolved = pool.resolve()?;
            let label: Arc<str> = Arc::from(pool.id());
            let keys = match resolved.keys {
                // Pools served from one JWKS URL share one key source.
                KeyOrigin::Http(url) => by_url
                    .entry(url.to_string())
                    .or_insert_with(|| {
                        Arc::new(KeySource::new(
                            KeyOrigin::Http(url),
                            label,
                            Arc::clone(&settings),
                        ))
                    })
                    .clone(),
                // A provider or a static set is the pool's own.
                origin => Arc::new(KeySource::new(origin, label, Arc::clone(&settings))),
            };
            for issuer in &resolved.issuers {
                if by_issuer.insert(issuer.clone(), pools.len()).is_some() {
                    return Err(ConfigError::new(format!(
                        "issuer `{issuer}` is configured twice"
                    )));
                }
            }
            pools.push(Pool {
                id: Arc::from(resolved.id),
                keys,
            });
        }
        let tokens = (self.token_cache_capacity > 0).then(|| {
            Cache::builder()
                .max_capacity(self.token_cache_capacity)
                .expire_after(UntilExp)
                .build_with_hasher(TokenHasher::default())
        });
        tracing::debug!(
            backend = crypto::BACKEND,
            pools = pools.len(),
            "built Cognito verifier"
        );
        Ok(Verifier {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                pools,
                by_issuer,
                client_ids: self.client_ids,
                leeway: self.leeway.as_secs(),
                max_token_size: self.max_token_size,
                tokens,
                revocation: self.revocation.map(|hook| Hook {
                    fail_open: self.revocation_fail_open,
                    ..hook
                }),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::LocalUserPool;

    /// 2,000 real tokens of one pool (2048-bit signatures) fill every slot, none
    /// with more than twice or less than half its fair share (125): the slot
    /// comes from bits that are random, not from the last character's 2 bits.
    #[tokio::test]
    async fn tokens_spread_over_every_local_slot() {
        const TOKENS: usize = 2_000;
        let pool = LocalUserPool::start().await.unwrap();
        let mut counts = [0usize; LOCAL_SLOTS];
        for i in 0..TOKENS {
            let token = if i % 2 == 0 {
                pool.id_token().sign()
            } else {
                pool.access_token().sign()
            };
            counts[local_slot(&token)] += 1;
        }
        let fair = TOKENS / LOCAL_SLOTS;
        assert!(
            counts.iter().all(|&n| n >= fair / 2 && n <= fair * 2),
            "slot counts {counts:?}, fair share {fair}"
        );
    }

    #[test]
    fn any_token_has_a_slot() {
        for token in ["", "a", "abcdefgh", "abcdefghi", "a.b.c", &"x".repeat(5000)] {
            assert!(local_slot(token) < LOCAL_SLOTS, "{token:?}");
        }
    }
}
