//! [`Verifier`]: turns a token string into verified [`Claims`].
//!
//! Everything that decides whether a token is good lives below this module and
//! knows nothing of HTTP services, requirements or responses (those are
//! `crate::auth`'s, on top): the token's splitting and decoding (`token`), its
//! claims (`claims`), the user pools (`pool`), the signature backend (`crypto`),
//! the key sets (`keys`) and revocation (`revocation`). Here: the verifier, its
//! builder (`builder`, with the defaults) and its verified-token cache (`cache`).

mod builder;
mod cache;
pub(crate) mod claims;
pub(crate) mod crypto;
pub(crate) mod keys;
pub(crate) mod pool;
pub(crate) mod revocation;
pub(crate) mod token;

#[cfg(feature = "alb")]
pub(crate) use builder::SharedSettings;
pub use builder::{
    DEFAULT_MAX_JWKS_SIZE, DEFAULT_MAX_TOKEN_SIZE, DEFAULT_TOKEN_CACHE_CAPACITY, VerifierBuilder,
};
pub use claims::{ApiGatewayClaims, Claims, ClaimsError, HttpApiClaims, TokenUse};
pub use keys::{JwksFuture, JwksProvider};
pub use pool::UserPool;
pub use revocation::{Revocation, RevocationError, RevocationList, Revoked};

use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::observe;
pub(crate) use cache::Miss;
use cache::{TokenCache, Verified};
use claims::AppClient;
use crypto::SigningDigest;
use keys::{Key, KeySource};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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
    pools: Vec<Pool>,
    by_issuer: HashMap<String, usize>,
    client_ids: Vec<String>,
    leeway: u64,
    max_token_size: usize,
    tokens: Option<TokenCache>,
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

/// Both clocks, read once for all of one token's checks: the monotonic one for
/// the keys' trust and schedule, the wall clock (whole seconds) for `exp` and
/// `nbf`. A reading is kept only while nothing waits: after a key fetch the
/// clocks are read again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Now {
    instant: Instant,
    secs: u64,
}

impl Now {
    pub(crate) fn read() -> Self {
        Self {
            instant: Instant::now(),
            secs: now_secs(),
        }
    }
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
        match self.cached(token, None) {
            Ok(claims) => match self.screen(claims) {
                Screened::Done(result) => result,
                Screened::Later(check) => check.await,
            },
            Err(miss) => self.verify_miss(token, miss).await,
        }
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

    /// Verifies a token that [`cached`](Self::cached) did not know (`miss` is what
    /// it returned), and remembers it: the cache is not looked up again, nor the
    /// token's digest computed again. The caller has called
    /// [`check_size`](Self::check_size): the size is checked once per request,
    /// and not again here.
    /// The revocation check, if any, comes last.
    pub(crate) async fn verify_miss(&self, token: &str, miss: Miss) -> Result<Claims, AuthError> {
        debug_assert!(
            token.len() <= self.inner.max_token_size,
            "verify_miss called without check_size"
        );
        let (claims, key, pool, now) = self
            .verify_uncached(token, miss.signing_digest(), Now::read())
            .await?;
        if let Some(cache) = &self.inner.tokens {
            let verified = Verified {
                claims: claims.clone(),
                key,
                pool,
            };
            cache.insert(token, miss, verified, now.secs);
        }
        match self.screen(claims) {
            Screened::Done(result) => result,
            Screened::Later(check) => check.await,
        }
    }

    /// The claims of a token this verifier has verified before, if it is still in
    /// the cache, unexpired, and its key is still trusted; otherwise the miss, to
    /// hand to [`verify_miss`](Self::verify_miss). Never waits: the layer answers
    /// a repeated token without building a future for it. The caller has checked
    /// the token's size. `now`: the clocks as
    /// [`cached_in_thread`](Self::cached_in_thread) read them for this request,
    /// if it did; otherwise they are read here.
    pub(crate) fn cached(&self, token: &str, now: Option<Now>) -> Result<Claims, Miss> {
        let inner = &*self.inner;
        let Some(cache) = inner.tokens.as_ref() else {
            return Err(Miss::NONE);
        };
        let claims = self.lookup(cache, token, now.unwrap_or_else(Now::read));
        observe::token_cache(claims.is_ok());
        claims
    }

    fn lookup(&self, cache: &TokenCache, token: &str, now: Now) -> Result<Claims, Miss> {
        let inner = &*self.inner;
        let (valid, on_schedule) = self.verdict_checks(now);
        // A shared entry holds no claims: they are read again from the token in
        // hand, whose digest is the entry's key, so it is the token verified.
        let claims = |pool: usize| {
            let payload = token::verified_payload(token)?;
            Claims::from_payload(payload, Arc::clone(&inner.pools[pool].id)).ok()
        };
        cache.get(token, valid, on_schedule, claims)
    }

    /// What a cached verdict must pass, for [`TokenCache::get`]. A verdict
    /// stands while its key is trusted (see `Key::is_trusted`) and the token has
    /// not expired; and only while the pool's key set is kept on schedule: when
    /// a refresh is overdue (`KeySource::tick` is false) the token goes the miss
    /// path, which waits for that refresh. The clocks are read once (`now`).
    fn verdict_checks(
        &self,
        now: Now,
    ) -> (impl Fn(&Key, u64) -> bool + '_, impl Fn(usize) -> bool + '_) {
        let inner = &*self.inner;
        let Now {
            instant: now,
            secs: now_s,
        } = now;
        let valid = move |key: &Key, exp: u64| {
            key.is_trusted_at(now) && now_s < exp.saturating_add(inner.leeway)
        };
        (valid, move |pool: usize| inner.pools[pool].keys.tick(now))
    }

    /// The claims of a token this thread verified or found lately, recognised
    /// by the bytes a request carried where the route reads its token (see
    /// `token_source::exact`): the layers' first look, which reads nothing of
    /// the token when it is one the thread knows. An `Err` sends the request the
    /// usual way ([`cached`](Self::cached)), which decides it; it holds the
    /// clocks read here (none without a cache), for `cached` to use rather than
    /// read them again a few hundred nanoseconds later.
    pub(crate) fn cached_in_thread(&self, token: &[u8]) -> Result<Claims, Option<Now>> {
        let Some(cache) = self.inner.tokens.as_ref() else {
            return Err(None);
        };
        let now = Now::read();
        let (valid, on_schedule) = self.verdict_checks(now);
        let claims = cache
            .get_in_thread(token, valid, on_schedule)
            .ok_or(Some(now))?;
        observe::token_cache(true);
        Ok(claims)
    }

    /// Verifies a token in full. `signing` is the digest of its signing input,
    /// when the cache lookup computed it; `now`, the clocks as read when the
    /// check began. Returns the clocks its checks used (read again if a key
    /// fetch was waited for), for the cache insert.
    async fn verify_uncached(
        &self,
        token: &str,
        signing: Option<&SigningDigest>,
        mut now: Now,
    ) -> Result<(Claims, Arc<Key>, usize, Now), AuthError> {
        let inner = &*self.inner;
        // The size was checked once, by `check_size`, before the cache lookup.
        let parsed = token::parse(token)?;
        let Some(issuer) = parsed.payload.iss() else {
            return Err(AuthError::malformed("token has no string iss claim"));
        };
        let Some(&index) = inner.by_issuer.get(issuer) else {
            return Err(AuthError::new(
                AuthErrorKind::WrongIssuer,
                "token iss is not a configured user pool",
            ));
        };
        let pool = &inner.pools[index];
        let (key, waited) = pool.keys.key(parsed.kid.as_str(), now.instant).await?;
        if waited.0 {
            now = Now::read();
        }
        let computed;
        let digest = match signing {
            Some(digest) => digest,
            None => {
                computed = SigningDigest::of(parsed.signing_input);
                &computed
            }
        };
        if !key.verify(parsed.signing_input, digest, &parsed.signature) {
            return Err(AuthError::new(
                AuthErrorKind::BadSignature,
                "token signature does not verify",
            ));
        }
        let claims = Claims::from_payload(parsed.payload, Arc::clone(&pool.id))?;
        let Now { secs: now_s, .. } = now;
        if now_s >= claims.exp().saturating_add(inner.leeway) {
            return Err(AuthError::new(
                AuthErrorKind::Expired,
                "token exp has passed",
            ));
        }
        if claims
            .nbf()
            .is_some_and(|nbf| now_s.saturating_add(inner.leeway) < nbf)
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
            let allowed = match claims.app_client() {
                AppClient::Absent => false,
                AppClient::Is(client) => inner.client_ids.iter().any(|c| c == client),
                AppClient::NotAString => {
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
        Ok((claims, key, index, now))
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
