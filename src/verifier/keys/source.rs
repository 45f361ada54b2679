//! A user pool's key set: fetching the JWKS, caching decoded keys, refreshing.
//!
//! How the [`KeySource`] behaves, and why (AWS's reference verifier,
//! aws-jwt-verify, keeps removed keys, does not back off, locks a JWKS out for
//! 10 s after any unknown `kid`, reads any size and drops a whole set for one
//! bad key; each point below answers one of these):
//!
//! - **Known `kid`** (the hot path): one lookup in a moka cache and two clock
//!   reads. No lock is taken and nothing but the lookup is awaited, so a slow or
//!   hanging fetch never delays a token whose key is cached.
//! - **Every fetch goes through one gate** ([`KeySource::begin_fetch`]): under a
//!   short `std` mutex (never held across an await) it either joins the fetch
//!   under way (single flight), starts one if the rate limit allows, or declines.
//!   The fetch runs in its own task, so a request that is cancelled (its client
//!   went away) does not cancel the fetch the others wait for.
//! - **No fetch stalls the set**: a fetch's task owns a guard, made before the
//!   task is spawned, that ends the flight and wakes its waiters if the task is
//!   dropped at any point (its runtime shut down, even before the task first
//!   ran), and puts the schedule back so that the next request fetches at once.
//!   A flight that outlives the fetch timeout (plus [`FLIGHT_GRACE`]) is one
//!   whose runtime no longer runs it (idle or blocked): waiters stop waiting at
//!   that deadline, and the next caller starts another fetch. So a verifier can
//!   be shared by several runtimes (two `#[tokio::test]`s, a runtime replaced),
//!   and no wait for keys lasts longer than about the fetch timeout. Waiting
//!   uses the Tokio timer: the runtime must have time enabled, as reqwest's
//!   timeouts need anyway.
//! - **Unknown `kid`**: a fetch may start at most once per `unknown_kid_cooldown`,
//!   counted from the start of the previous fetch, whatever started it. A flood of
//!   random `kid`s therefore costs at most one fetch per cooldown, and since every
//!   fetch reads the whole set, a genuine rotation is seen by the first fetch after
//!   it was published: within one cooldown, flood or not.
//! - **Failures back off**: after a failed fetch the next one waits the cooldown
//!   (at least [`MIN_RETRY_DELAY`]), doubling per consecutive failure up to
//!   `max_backoff`; an outage never turns requests into fetches.
//! - **Refresh**: a timer task re-reads the set every `refresh_interval`, so a key
//!   removed from the JWKS stops being trusted within that interval even without
//!   traffic; [`KeySource::tick`] (called on every cache hit) starts the refresh
//!   when the timer is not running (its runtime shut down: the timer is then
//!   started again on the caller's runtime). When the refresh is overdue by more
//!   than a fetch and a cooldown, nobody kept the schedule (no timer, no
//!   traffic), and cached verdicts and keys are used only after a refresh: a key
//!   removed from the JWKS is refused within one refresh interval plus the
//!   cooldown (plus one fetch), whatever runtime the verifier was first used on.
//! - **Stale-if-error**: while fetches fail, the last good set keeps serving for
//!   `max_stale` after the last successful fetch; then its keys (and tokens in the
//!   verifier's cache that they signed) stop being trusted.
//! - **Bounded fetches**: total timeout, status 200 only, `Content-Length` checked
//!   first, the body read chunk by chunk and abandoned at `max_jwks_size`.
//! - **One bad key does not spoil the set**: unusable keys are skipped (and
//!   logged); the set fails only when no usable key is left.
//!
//! Where a set comes from ([`KeyOrigin`]): an HTTP download (the default), a
//! user's [`JwksProvider`], which takes the download's place and nothing else
//! (every point above holds for it), or a static document given at build time.
//! A static set is configuration: it is read once, by [`parse_static_jwks`], with
//! the same key rules, but a key that breaks one is an error instead of being
//! skipped; it is never fetched, never refreshed, and always trusted.

use super::provider::JwksProvider;
use crate::error::{AuthError, AuthErrorKind};
use crate::observe;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use moka::future::Cache;
use reqwest::Url;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Smallest RSA modulus accepted, in bits (the reference verifier
/// accepts weaker keys).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (bounds the cost of one verification).
pub(crate) const MAX_RSA_BITS: usize = 8192;
/// Most keys kept from one JWKS (Cognito publishes two; a rotation briefly four).
pub(crate) const MAX_KEYS: usize = 1024;
/// Shortest wait after a failed fetch, even with a zero cooldown: an outage must
/// not turn every request into a fetch.
pub(crate) const MIN_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Unusable keys of one JWKS logged one by one; the rest are only counted.
const MAX_LOGGED_SKIPS: usize = 5;
/// Longest the refresh timer sleeps before it looks at the schedule again.
const MAX_TIMER_SLEEP: Duration = Duration::from_secs(60);
/// Shortest the refresh timer sleeps, so that it can never spin.
const MIN_TIMER_SLEEP: Duration = Duration::from_millis(10);
/// How long after its fetch timeout a fetch may still be under way (its own
/// timeout adds 100 ms, then the new set is put in place). A flight older than
/// the fetch timeout plus this is presumed lost, and its waiters stop waiting.
const FLIGHT_GRACE: Duration = Duration::from_millis(250);

/// How the key sets of all pools of one verifier are fetched and kept. The
/// defaults are set (and documented for users) in `VerifierBuilder`; they are
/// repeated here with the reason for each.
#[derive(Clone, Debug)]
pub(crate) struct KeySettings {
    /// Default: rustls, 2 s connect timeout (a healthy endpoint connects in
    /// milliseconds; an unreachable one should fail a prefetch quickly).
    pub(crate) client: reqwest::Client,
    /// Longest one fetch may take, from connecting to the last body byte.
    /// Default 5 s: requests waiting on a cold cache wait at most this long
    /// (plus [`FLIGHT_GRACE`]), even for a fetch whose runtime stopped running it.
    pub(crate) fetch_timeout: Duration,
    /// Largest body read; a larger one is a failed fetch. Default 1 MiB: a
    /// Cognito JWKS is under 1 KiB, and 1 MiB bounds what a hostile or broken
    /// endpoint can make each fetch hold.
    pub(crate) max_jwks_size: usize,
    /// Time from one successful fetch to the next background refresh. Default
    /// 15 min: a key Cognito removes stops being trusted within 15 minutes, at
    /// the cost of 4 small fetches an hour.
    pub(crate) refresh_interval: Duration,
    /// Least time between the starts of two fetches (except a prefetch), and the
    /// first step of the back-off after a failure. Default 5 s: a random-`kid`
    /// flood costs at most 12 fetches a minute, and a rotation is seen within 5 s.
    pub(crate) unknown_kid_cooldown: Duration,
    /// Longest wait between two attempts while the endpoint fails. Default 60 s:
    /// one fetch a minute during an outage, and recovery seen within a minute.
    pub(crate) max_backoff: Duration,
    /// How long after its last successful fetch a key set may still be used.
    /// Default 24 h: rides out a long outage of the endpoint, and equals the
    /// longest token lifetime Cognito allows.
    pub(crate) max_stale: Duration,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Until when the keys of one source may be trusted: `max_stale` after the last
/// successful fetch. Shared by the source and all its keys, so a key held by the
/// verifier's token cache stops being trusted along with its set.
#[derive(Debug)]
pub(crate) struct Trust {
    epoch: Instant,
    /// Milliseconds after `epoch`; 0 before the first successful fetch.
    until_ms: AtomicU64,
}

impl Trust {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            until_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    fn holds(&self) -> bool {
        self.now_ms() < self.until_ms.load(Ordering::Acquire)
    }
}

/// The public parts of one JWK that passed every rule.
#[derive(PartialEq, Eq)]
pub(crate) struct RsaJwk {
    kid: String,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl fmt::Debug for RsaJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaJwk")
            .field("kid", &self.kid)
            .field("bits", &(self.n.len() * 8))
            .finish_non_exhaustive()
    }
}

/// One RSA public key from a JWKS.
pub(crate) struct Key {
    jwk: RsaJwk,
    public: crate::verifier::crypto::RsaPublicKey,
    removed: AtomicBool,
    trust: Arc<Trust>,
}

impl Key {
    fn new(jwk: RsaJwk, trust: Arc<Trust>) -> Self {
        let public = crate::verifier::crypto::RsaPublicKey::new(&jwk.n, &jwk.e);
        Self {
            jwk,
            public,
            removed: AtomicBool::new(false),
            trust,
        }
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.public.verify_rs256(message, signature)
    }

    /// Whether this key, and every verdict it gave, may still be relied on.
    ///
    /// The contract: a cached verdict dies with its key. True only while the key
    /// is in its pool's last good key set (no refresh has found it removed from,
    /// or replaced in, the JWKS) and that set is fresh enough: its last
    /// successful fetch is less than `max_stale` ago. The verifier's token cache
    /// asks this on every hit, so a token is never accepted from the cache once
    /// the key that signed it would not be used to verify it again.
    pub(crate) fn is_trusted(&self) -> bool {
        !self.removed.load(Ordering::Acquire) && self.trust.holds()
    }

    fn retire(&self) {
        self.removed.store(true, Ordering::Release);
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.jwk.kid)
            .finish_non_exhaustive()
    }
}

/// Decodes one JWK, applying every rule a Cognito signing key must meet: a
/// non-empty string `kid`, `kty` RSA, `use` sig or absent, `alg` RS256 or absent,
/// base64url `n` and `e`, an odd modulus of 2048 to 8192 bits, an odd exponent
/// from 3 to 2^32 - 1. Every member it reads must be a string.
pub(crate) fn decode_key(jwk: &Value) -> Result<RsaJwk, &'static str> {
    let text = |name: &str| -> Result<Option<&str>, &'static str> {
        match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err("a member is not a string"),
        }
    };
    let kid = text("kid")?.filter(|k| !k.is_empty()).ok_or("no kid")?;
    if text("kty")? != Some("RSA") {
        return Err("kty is not RSA");
    }
    if !matches!(text("use")?, None | Some("sig")) {
        return Err("use is not sig");
    }
    if !matches!(text("alg")?, None | Some("RS256")) {
        return Err("alg is not RS256");
    }
    let n = URL_SAFE_NO_PAD
        .decode(text("n")?.ok_or("no n")?)
        .map_err(|_| "n is not base64url")?;
    let e = URL_SAFE_NO_PAD
        .decode(text("e")?.ok_or("no e")?)
        .map_err(|_| "e is not base64url")?;
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    let bits = n
        .first()
        .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
    if bits < MIN_RSA_BITS {
        return Err("modulus is shorter than 2048 bits");
    }
    if bits > MAX_RSA_BITS {
        return Err("modulus is longer than 8192 bits");
    }
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err("modulus is even");
    }
    if e.is_empty() || e.len() > 4 || e.last().is_some_and(|b| b & 1 == 0) || e == [1] {
        return Err("exponent is not an odd number from 3 to 2^32");
    }
    Ok(RsaJwk {
        kid: kid.to_owned(),
        n: n.to_vec(),
        e: e.to_vec(),
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The `keys` of a JWKS document.
fn read_set(body: &[u8]) -> Result<Vec<Value>, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| {
        // serde_json's own message quotes the body: say only what kind and where.
        format!(
            "not a JWKS document ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        )
    })?;
    Ok(set.keys)
}

/// Parses a fetched JWKS document (`source` names where it came from, for the
/// logs). Keys that break a rule are skipped (the first few logged one by one,
/// then a count); the set fails only when no usable key is left.
pub(crate) fn parse_jwks(
    body: &[u8],
    source: &dyn fmt::Display,
) -> Result<HashMap<String, RsaJwk>, String> {
    let set = read_set(body)?;
    let mut keys = HashMap::new();
    let mut skipped = 0usize;
    for (index, jwk) in set.iter().enumerate() {
        if keys.len() >= MAX_KEYS {
            tracing::warn!(%source, "JWKS has more than {MAX_KEYS} usable keys; the rest are ignored");
            break;
        }
        match decode_key(jwk) {
            Ok(key) if keys.contains_key(&key.kid) => {
                tracing::warn!(
                    %source,
                    index,
                    kid = %key.kid,
                    "JWKS repeats a kid; the first key is kept"
                );
            }
            Ok(key) => {
                keys.insert(key.kid.clone(), key);
            }
            Err(reason) => {
                skipped += 1;
                if skipped <= MAX_LOGGED_SKIPS {
                    tracing::warn!(%source, index, reason, "skipping unusable key in JWKS");
                }
            }
        }
    }
    if skipped > MAX_LOGGED_SKIPS {
        tracing::warn!(
            %source,
            skipped,
            "JWKS has many unusable keys; only the first few were logged"
        );
    }
    if keys.is_empty() {
        return Err(if skipped > 0 {
            format!("JWKS has no usable RS256 key ({skipped} unusable)")
        } else {
            "JWKS has no keys".to_owned()
        });
    }
    Ok(keys)
}

/// Parses a static JWKS document, given as configuration: the key rules are
/// [`decode_key`]'s, exactly as for a fetched set, but nothing is skipped. A key
/// that breaks one, a repeated `kid`, more than [`MAX_KEYS`] keys or no key at
/// all is an error, which names the key by its `kid` (or its index when it has
/// no usable `kid`).
pub(crate) fn parse_static_jwks(body: &[u8]) -> Result<HashMap<String, RsaJwk>, String> {
    let set = read_set(body)?;
    if set.is_empty() {
        return Err("has no keys".to_owned());
    }
    if set.len() > MAX_KEYS {
        return Err(format!("has {} keys, more than {MAX_KEYS}", set.len()));
    }
    let mut keys = HashMap::new();
    for (index, jwk) in set.iter().enumerate() {
        let key = decode_key(jwk).map_err(|reason| {
            let name = match jwk.get("kid") {
                Some(Value::String(kid)) if !kid.is_empty() => {
                    format!("key `{}` (index {index})", kid.escape_debug())
                }
                _ => format!("the key at index {index}"),
            };
            format!("{name} is refused: {reason}")
        })?;
        if keys.contains_key(&key.kid) {
            return Err(format!(
                "key `{}` (index {index}) repeats a kid",
                key.kid.escape_debug()
            ));
        }
        keys.insert(key.kid.clone(), key);
    }
    Ok(keys)
}

/// What asked for a fetch; decides whether the rate limit applies, and is logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    /// A token named a `kid` that is not in the cached set (or there is no set).
    UnknownKid,
    /// The refresh interval passed, or a retry after a failure is due.
    Refresh,
    /// The service asked at start-up; not rate-limited.
    Prefetch,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Self::UnknownKid => "unknown kid",
            Self::Refresh => "refresh",
            Self::Prefetch => "prefetch",
        }
    }
}

/// Where a pool's key set comes from, once its configuration is checked.
pub(crate) enum KeyOrigin {
    /// Downloaded from this URL (the default).
    Http(Url),
    /// Read from the user's provider, in the download's place.
    Provider(Arc<dyn JwksProvider>),
    /// Given at build time and checked by [`parse_static_jwks`]: never fetched.
    Static(HashMap<String, RsaJwk>),
}

impl fmt::Debug for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(url) => f.debug_tuple("Http").field(&url.as_str()).finish(),
            Self::Provider(_) => f.write_str("Provider(<JwksProvider>)"),
            Self::Static(keys) => {
                let mut kids: Vec<&String> = keys.keys().collect();
                kids.sort();
                f.debug_struct("Static").field("kids", &kids).finish()
            }
        }
    }
}

/// How a [`KeySource`] gets its set.
enum Origin {
    Http(Url),
    Provider(Arc<dyn JwksProvider>),
    /// The keys of a static set, trusted for ever: there is nothing to fetch.
    Static(HashMap<String, Arc<Key>>),
}

/// The key set of one JWKS URL, provider or static document; see the module
/// docs for its behaviour.
pub(crate) struct KeySource {
    /// The pool id in metrics labels.
    label: Arc<str>,
    origin: Origin,
    /// Names the origin in logs and errors: `JWKS https://...`, or which pool's
    /// provider or static set.
    location: String,
    settings: Arc<KeySettings>,
    keys: Cache<String, Arc<Key>>,
    trust: Arc<Trust>,
    state: Mutex<FetchState>,
    /// Bumped (under `state`) when a fetch ends or is abandoned, to wake those
    /// who joined it.
    done: watch::Sender<u64>,
    /// When the next background refresh is due, in ms after `trust.epoch`;
    /// `u64::MAX` until the first attempt. Read without a lock on the hot path,
    /// written under `state`.
    refresh_due_ms: AtomicU64,
    /// Until when the set may be used without waiting for a refresh, in ms after
    /// `trust.epoch`: the next scheduled attempt, plus the time a fetch may take,
    /// plus one cooldown. Past it, the schedule was not kept (no timer or request
    /// started the refresh: the runtime that ran the timer shut down or stalled),
    /// and a key removed meanwhile could still be trusted; so a token is then
    /// verified only after a refresh. Written when a fetch ends; `u64::MAX` until
    /// the first one.
    schedule_kept_until_ms: AtomicU64,
    /// The refresh timer task, once started.
    refresher: Mutex<Option<tokio::task::AbortHandle>>,
}

#[derive(Debug, Default)]
struct FetchState {
    /// The fetch under way, if any.
    flight: Option<Flight>,
    /// The id of the last flight started, so that a flight presumed lost cannot
    /// end the one that replaced it.
    last_flight: u64,
    /// No fetch may start before this (except a prefetch while nothing has
    /// failed), in ms after the epoch.
    next_attempt_ms: u64,
    consecutive_failures: u32,
    /// When the set in use was fetched, in ms after the epoch.
    last_ok_ms: Option<u64>,
    /// How many keys it has (moka's own count lags behind).
    keys_in_use: usize,
    /// Why the last fetch failed; `None` when it succeeded.
    last_error: Option<String>,
}

/// One fetch under way.
#[derive(Clone, Copy, Debug)]
struct Flight {
    id: u64,
    /// When its waiters stop waiting, and the next caller presumes it lost: its
    /// own timeout ends a fetch that runs well before this, so a flight still
    /// under way then is one whose task is not being run (its runtime is idle,
    /// blocked, or shutting down). In ms after the epoch.
    deadline_ms: u64,
    /// The schedule before it started, put back when it is lost: a fetch that
    /// never happened must neither hold back the next one nor move the refresh.
    prior_next_attempt_ms: u64,
    prior_refresh_due_ms: u64,
}

/// A fetch a caller joined; see [`KeySource::wait`].
struct Joined {
    done: watch::Receiver<u64>,
    deadline_ms: u64,
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySource")
            .field("source", &self.location)
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl Drop for KeySource {
    fn drop(&mut self) {
        if let Some(timer) = lock(&self.refresher).take() {
            timer.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl KeySource {
    /// `label` names the source in metrics: the id of the (first) pool it serves.
    /// A static origin is loaded here, and is ready at once.
    pub(crate) fn new(origin: KeyOrigin, label: Arc<str>, settings: Arc<KeySettings>) -> Self {
        // No capacity bound: the set is bounded by MAX_KEYS already, and a bound
        // would bring in moka's admission policy, which may refuse a new key. No
        // time to live either: staleness is `Trust`'s business, and a key must
        // only ever leave the cache through `apply`, which marks it removed (one
        // that expired silently could come back to life in the token cache).
        let keys = Cache::builder().build();
        let trust = Arc::new(Trust::new());
        let mut state = FetchState::default();
        let (origin, location) = match origin {
            KeyOrigin::Http(url) => {
                let location = format!("JWKS {url}");
                (Origin::Http(url), location)
            }
            KeyOrigin::Provider(provider) => (
                Origin::Provider(provider),
                format!("the JwksProvider of pool `{label}`"),
            ),
            KeyOrigin::Static(jwks) => {
                // Configuration, not a fetch: trusted for as long as the verifier lives.
                trust.until_ms.store(u64::MAX, Ordering::Release);
                state.last_ok_ms = Some(0);
                state.keys_in_use = jwks.len();
                let keys = jwks
                    .into_iter()
                    .map(|(kid, jwk)| (kid, Arc::new(Key::new(jwk, Arc::clone(&trust)))))
                    .collect();
                (
                    Origin::Static(keys),
                    format!("the static JWKS of pool `{label}`"),
                )
            }
        };
        Self {
            origin,
            location,
            label,
            settings,
            keys,
            trust,
            state: Mutex::new(state),
            done: watch::Sender::new(0),
            refresh_due_ms: AtomicU64::new(u64::MAX),
            schedule_kept_until_ms: AtomicU64::new(u64::MAX),
            refresher: Mutex::new(None),
        }
    }

    /// Whether the set is static: nothing to fetch, refresh or time out.
    fn is_static(&self) -> bool {
        matches!(self.origin, Origin::Static(_))
    }

    /// The longest a fetch may stay under way: the fetch timeout plus
    /// [`FLIGHT_GRACE`].
    fn flight_span_ms(&self) -> u64 {
        millis(self.settings.fetch_timeout.saturating_add(FLIGHT_GRACE))
    }

    /// The key with this `kid`. An unknown `kid` joins the fetch under way or
    /// starts one if the rate limit allows, and waits for it (at most until that
    /// fetch's deadline, about the fetch timeout). A known `kid` is returned at
    /// once, unless the set is overdue for its refresh ([`tick`](Self::tick)
    /// returns false): then the refresh is started or joined and waited for
    /// first, so that a key removed meanwhile is not used.
    ///
    /// Errors: `UnknownKey` when a good, current set lacks the `kid`;
    /// `KeySetUnavailable` when there is no usable set, or when the last fetch
    /// failed (the `kid` may belong to a rotation that cannot be seen: the client
    /// should retry, not sign in again).
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<Key>, AuthError> {
        if let Some(key) = self.lookup(kid).await {
            if self.tick() {
                return Ok(key);
            }
            if let Some(joined) = self.begin_fetch(Why::Refresh) {
                self.wait(joined).await;
            }
            // A failed refresh keeps the set (stale-if-error); a good one may
            // have removed the key.
            return self.lookup(kid).await.ok_or_else(|| self.miss_error());
        }
        self.ensure_refresher();
        if let Some(joined) = self.begin_fetch(Why::UnknownKid) {
            self.wait(joined).await;
        }
        // Also when no fetch was allowed: one may have ended since the first lookup.
        if let Some(key) = self.lookup(kid).await {
            return Ok(key);
        }
        Err(self.miss_error())
    }

    /// Fetches the set unless a usable one is held, and returns why it failed.
    /// Ignores the unknown-kid cooldown (a start-up fetch is never held back by
    /// a fetch that succeeded), but not the back-off after a failure: during an
    /// outage a prefetch within the back-off returns the last failure without
    /// fetching, however often it is called. Also starts the refresh timer.
    pub(crate) async fn prefetch(self: &Arc<Self>) -> Result<(), AuthError> {
        self.ensure_refresher();
        if self.is_ready() {
            return Ok(());
        }
        if let Some(joined) = self.begin_fetch(Why::Prefetch) {
            self.wait(joined).await;
        }
        if self.is_ready() {
            Ok(())
        } else {
            Err(self.miss_error())
        }
    }

    /// Whether the source holds a usable key set: one fetched successfully less
    /// than `max_stale` ago.
    pub(crate) fn is_ready(&self) -> bool {
        self.trust.holds()
    }

    /// The set in use, for a readiness report: how many keys, how old, and how
    /// many fetches have failed in a row since the last good one.
    pub(crate) fn status(&self) -> KeySetStatus {
        let state = self.lock_state();
        KeySetStatus {
            usable: self.trust.holds(),
            keys: state.keys_in_use,
            age: state
                .last_ok_ms
                .map(|ok| Duration::from_millis(self.trust.now_ms().saturating_sub(ok))),
            failures: state.consecutive_failures,
        }
    }

    /// Called on every use of a cached verdict. Starts a background refresh when
    /// one is due: normally the timer has started it already, and this covers a
    /// timer that is not running (its runtime shut down, or there was none when
    /// the source was first used). Returns whether the set may be used without
    /// waiting: false once the refresh is overdue by more than a fetch and a
    /// cooldown (see `schedule_kept_until_ms`), so that a cached verdict is then
    /// redone after the refresh ([`key`](Self::key) waits for it). Cheap when no
    /// refresh is due: one clock read and two atomic loads.
    pub(crate) fn tick(self: &Arc<Self>) -> bool {
        let now = self.trust.now_ms();
        if now >= self.refresh_due_ms.load(Ordering::Acquire) {
            self.ensure_refresher();
            let _ = self.begin_fetch(Why::Refresh);
        }
        now < self.schedule_kept_until_ms.load(Ordering::Acquire)
    }

    async fn lookup(&self, kid: &str) -> Option<Arc<Key>> {
        let key = match &self.origin {
            Origin::Static(keys) => keys.get(kid).cloned(),
            Origin::Http(_) | Origin::Provider(_) => self.keys.get(kid).await,
        };
        key.filter(|key| key.is_trusted())
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, FetchState> {
        lock(&self.state)
    }

    fn miss_error(&self) -> AuthError {
        let state = self.lock_state();
        let location = &self.location;
        if !self.trust.holds() {
            let reason = state
                .last_error
                .as_deref()
                .unwrap_or("no key set fetched yet");
            AuthError::new(
                AuthErrorKind::KeySetUnavailable,
                format!("no usable key set from {location}: {reason}"),
            )
        } else if let Some(reason) = &state.last_error {
            AuthError::new(
                AuthErrorKind::KeySetUnavailable,
                format!("token kid is not in the last good key set and {location} fails: {reason}"),
            )
        } else {
            AuthError::new(
                AuthErrorKind::UnknownKey,
                format!("no key with the token's kid in {location}"),
            )
        }
    }

    /// The gate every fetch goes through. Joins the fetch under way, or starts one
    /// when `why` may start one now; returns what to wait on for that fetch, or
    /// `None` when no fetch is under way or allowed.
    ///
    /// A flight past its deadline is presumed lost (its task is not being run)
    /// and forgotten, as if it had never started, so that a fetch parked on an
    /// idle or blocked runtime cannot keep the set "in flight" forever; a flight
    /// whose task was dropped ends itself (see [`FlightGuard`]).
    fn begin_fetch(self: &Arc<Self>, why: Why) -> Option<Joined> {
        if self.is_static() {
            return None;
        }
        let mut state = self.lock_state();
        // Subscribed under the lock that `finish` sends under: no end is missed.
        let done = self.done.subscribe();
        let now = self.trust.now_ms();
        if let Some(flight) = state.flight {
            if now < flight.deadline_ms {
                return Some(Joined {
                    done,
                    deadline_ms: flight.deadline_ms,
                });
            }
            state.flight = None;
            state.next_attempt_ms = flight.prior_next_attempt_ms;
            tracing::warn!(
                source = %self.location,
                why = why.as_str(),
                "JWKS fetch did not end within the fetch timeout: the Tokio runtime it was \
                 started on is not running it (shut down, idle or blocked); starting another"
            );
        }
        // A prefetch may skip the cooldown, never the back-off after a failure.
        let limited = why != Why::Prefetch || state.consecutive_failures > 0;
        if limited && now < state.next_attempt_ms {
            if why == Why::UnknownKid {
                observe::unknown_kid_held_back(&self.label);
            }
            if why == Why::Refresh {
                // Come back when an attempt is allowed, not on every request.
                self.refresh_due_ms
                    .store(state.next_attempt_ms, Ordering::Release);
            }
            return None;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(state);
            tracing::warn!(
                source = %self.location,
                why = why.as_str(),
                "cannot fetch JWKS outside a Tokio runtime"
            );
            return None;
        };
        state.last_flight = state.last_flight.wrapping_add(1);
        let flight = Flight {
            id: state.last_flight,
            deadline_ms: now.saturating_add(self.flight_span_ms()),
            prior_next_attempt_ms: state.next_attempt_ms,
            prior_refresh_due_ms: self.refresh_due_ms.load(Ordering::Acquire),
        };
        state.flight = Some(flight);
        // The cooldown counts from the start of a fetch, whatever started it.
        state.next_attempt_ms = now.saturating_add(millis(self.settings.unknown_kid_cooldown));
        // Nothing for the hot path to do until this fetch has ended.
        self.refresh_due_ms
            .store(flight.deadline_ms, Ordering::Release);
        drop(state);
        // The guard exists before the task does: if the task is dropped before
        // its first poll (its runtime shut down), the guard still ends the flight.
        let guard = FlightGuard {
            source: Arc::clone(self),
            id: flight.id,
            ended: false,
        };
        // Its own span: a fetch outlives the request that started it.
        let span = tracing::debug_span!(parent: None, "jwks_fetch", pool = %self.label, why = why.as_str());
        runtime.spawn(tracing::Instrument::instrument(guard.run(why), span));
        Some(Joined {
            done,
            deadline_ms: flight.deadline_ms,
        })
    }

    /// Waits until the joined fetch ends or is abandoned, and no longer than its
    /// deadline (the fetch timeout plus [`FLIGHT_GRACE`]), so that a fetch whose
    /// task is not being run holds up no one. Uses the Tokio timer when called
    /// inside a runtime; outside one (another executor) it relies on the flight
    /// ending, which its guard ensures even when the task is dropped.
    async fn wait(&self, joined: Joined) {
        let Joined {
            mut done,
            deadline_ms,
        } = joined;
        // Err only if the source is gone, which cannot be while `self` is held.
        if tokio::runtime::Handle::try_current().is_ok() {
            let left = Duration::from_millis(deadline_ms.saturating_sub(self.trust.now_ms()));
            let _ = tokio::time::timeout(left, done.changed()).await;
        } else {
            let _ = done.changed().await;
        }
    }

    /// Whether flight `id` is still the one under way.
    fn is_current(&self, id: u64) -> bool {
        self.lock_state().flight.is_some_and(|f| f.id == id)
    }

    /// Ends flight `id`, whose task was dropped before it could finish: puts the
    /// schedule back as it was before the flight, so that the next caller starts
    /// a fetch at once, and wakes those who joined it.
    fn abandon(&self, id: u64) {
        let mut state = self.lock_state();
        let Some(flight) = state.flight.filter(|f| f.id == id) else {
            return;
        };
        state.flight = None;
        state.next_attempt_ms = flight.prior_next_attempt_ms;
        self.refresh_due_ms
            .store(flight.prior_refresh_due_ms, Ordering::Release);
        self.done
            .send_modify(|generation| *generation = generation.wrapping_add(1));
        drop(state);
        tracing::debug!(
            source = %self.location,
            "JWKS fetch abandoned: its task was dropped (its runtime shut down)"
        );
    }

    /// Puts a freshly fetched set in place of the old one and returns its size.
    /// Keys whose material did not change keep their `Arc` (the verifier's token
    /// cache holds them); removed or replaced ones are marked, so that tokens they
    /// signed stop being accepted, even from the token cache.
    async fn apply(&self, fresh: HashMap<String, RsaJwk>) -> usize {
        let count = fresh.len();
        let mut added = Vec::new();
        let mut replaced = Vec::new();
        let mut removed = Vec::new();
        let old: HashMap<Arc<String>, Arc<Key>> = self.keys.iter().collect();
        for (kid, key) in &old {
            if !fresh.contains_key(kid.as_str()) {
                self.keys.invalidate(kid.as_str()).await;
                key.retire();
                removed.push(kid.to_string());
            }
        }
        for (kid, jwk) in fresh {
            let key = match old.get(&kid) {
                Some(known) if known.jwk == jwk => Arc::clone(known),
                Some(known) => {
                    known.retire();
                    replaced.push(kid.clone());
                    Arc::new(Key::new(jwk, Arc::clone(&self.trust)))
                }
                None => {
                    added.push(kid.clone());
                    Arc::new(Key::new(jwk, Arc::clone(&self.trust)))
                }
            };
            self.keys.insert(kid, key).await;
        }
        added.sort();
        replaced.sort();
        removed.sort();
        if old.is_empty() {
            tracing::info!(source = %self.location, kids = ?added, "loaded JWKS");
        } else if !added.is_empty() || !replaced.is_empty() || !removed.is_empty() {
            tracing::info!(
                source = %self.location,
                ?added,
                ?removed,
                ?replaced,
                keys = count,
                "JWKS keys changed"
            );
        }
        count
    }

    /// Records how flight `id` ended, schedules the next fetch, and wakes those
    /// who joined it. Does nothing if the flight was presumed lost meanwhile.
    fn finish(&self, id: u64, why: Why, started: Instant, result: Result<usize, FetchError>) {
        let mut state = self.lock_state();
        if state.flight.is_none_or(|f| f.id != id) {
            return;
        }
        let now = self.trust.now_ms();
        let took_ms = millis(started.elapsed());
        let outcome = result
            .as_ref()
            .map_or_else(|e| e.outcome, |_| observe::Fetch::Ok);
        observe::jwks_fetch(&self.label, outcome, started.elapsed());
        if let Ok(keys) = &result {
            state.last_ok_ms = Some(now);
            state.keys_in_use = *keys;
            observe::jwks_state(&self.label, Duration::ZERO, *keys);
        } else if let Some(ok) = state.last_ok_ms {
            let age = Duration::from_millis(now.saturating_sub(ok));
            observe::jwks_state(&self.label, age, state.keys_in_use);
        }
        match result {
            Ok(keys) => {
                let until = now.saturating_add(millis(self.settings.max_stale));
                self.trust.until_ms.store(until, Ordering::Release);
                if state.consecutive_failures > 0 {
                    tracing::info!(
                        source = %self.location,
                        failures = state.consecutive_failures,
                        "JWKS fetch succeeded again after failures"
                    );
                }
                tracing::debug!(source = %self.location, why = why.as_str(), keys, took_ms, "fetched JWKS");
                state.consecutive_failures = 0;
                state.last_error = None;
                let due = now
                    .saturating_add(millis(self.settings.refresh_interval))
                    .max(state.next_attempt_ms);
                self.refresh_due_ms.store(due, Ordering::Release);
            }
            Err(FetchError { reason, .. }) => {
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                let first = self.settings.unknown_kid_cooldown.max(MIN_RETRY_DELAY);
                let doublings = state.consecutive_failures.saturating_sub(1).min(20);
                let backoff = first
                    .saturating_mul(1 << doublings)
                    .min(self.settings.max_backoff.max(first));
                let retry = now.saturating_add(millis(backoff));
                state.next_attempt_ms = state.next_attempt_ms.max(retry);
                // Retry in the background too, so the set recovers without traffic.
                self.refresh_due_ms
                    .store(state.next_attempt_ms, Ordering::Release);
                let serving_stale = self.trust.holds();
                tracing::warn!(
                    source = %self.location,
                    why = why.as_str(),
                    %reason,
                    failures = state.consecutive_failures,
                    retry_in_ms = millis(backoff),
                    took_ms,
                    serving_stale,
                    "JWKS fetch failed; {}",
                    if serving_stale {
                        "the last good key set keeps serving"
                    } else {
                        "no usable key set: tokens cannot be verified"
                    }
                );
                state.last_error = Some(reason);
            }
        }
        state.flight = None;
        // The hot path trusts the set until the next attempt is a fetch and a
        // cooldown late.
        let kept_until = self
            .refresh_due_ms
            .load(Ordering::Acquire)
            .saturating_add(self.flight_span_ms())
            .saturating_add(millis(self.settings.unknown_kid_cooldown));
        self.schedule_kept_until_ms
            .store(kept_until, Ordering::Release);
        self.done
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// Starts the refresh timer in the current runtime, unless it is running.
    fn ensure_refresher(self: &Arc<Self>) {
        if self.is_static() {
            return;
        }
        let mut slot = lock(&self.refresher);
        if slot.as_ref().is_some_and(|timer| !timer.is_finished()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let source = Arc::downgrade(self);
        *slot = Some(runtime.spawn(refresh_timer(source)).abort_handle());
    }

    /// One fetch: the document from the origin, then the key rules.
    async fn download(&self) -> Result<HashMap<String, RsaJwk>, FetchError> {
        let body = match &self.origin {
            Origin::Http(url) => self.download_http(url).await?,
            Origin::Provider(provider) => self.call_provider(provider).await?,
            Origin::Static(_) => {
                return Err(FetchError {
                    outcome: observe::Fetch::Error,
                    reason: "a static JWKS is never fetched".to_owned(),
                });
            }
        };
        parse_jwks(&body, &self.location).map_err(|reason| FetchError {
            outcome: observe::Fetch::BadDocument,
            reason,
        })
    }

    async fn download_http(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let max = self.settings.max_jwks_size;
        let mut response = self
            .settings
            .client
            .get(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .timeout(self.settings.fetch_timeout)
            .send()
            .await
            .map_err(describe)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError {
                outcome: observe::Fetch::Status(response.status().as_u16()),
                reason: format!("HTTP status {}", response.status()),
            });
        }
        if let Some(length) = response.content_length().filter(|&len| len > max as u64) {
            return Err(FetchError::too_large(format!(
                "Content-Length {length} is over the {max}-byte limit"
            )));
        }
        let expected = response.content_length().unwrap_or(0) as usize;
        let mut body = Vec::with_capacity(expected.min(max));
        // Chunk by chunk, so that an oversized body is dropped (and its connection
        // closed) at the limit instead of being read whole.
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if chunk.len() > max - body.len() {
                return Err(FetchError::too_large(format!(
                    "response is over the {max}-byte limit"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Calls the user's provider in a task of its own, so that a panic in it is
    /// a failed fetch (and not an abandoned flight, which would let the next
    /// request call it again at once), bounded by the fetch timeout.
    async fn call_provider(&self, provider: &Arc<dyn JwksProvider>) -> Result<Vec<u8>, FetchError> {
        let provider = Arc::clone(provider);
        let task = tokio::spawn(async move { provider.fetch().await });
        let abort = task.abort_handle();
        let body = match tokio::time::timeout(self.settings.fetch_timeout, task).await {
            Err(_) => {
                abort.abort();
                return Err(FetchError {
                    outcome: observe::Fetch::Timeout,
                    reason: "timed out".to_owned(),
                });
            }
            Ok(Err(join)) => {
                return Err(FetchError {
                    outcome: observe::Fetch::Error,
                    reason: if join.is_panic() {
                        "the JwksProvider panicked".to_owned()
                    } else {
                        "the JwksProvider's task was cancelled".to_owned()
                    },
                });
            }
            Ok(Ok(Err(err))) => {
                return Err(FetchError {
                    outcome: observe::Fetch::Error,
                    reason: error_chain(&*err),
                });
            }
            Ok(Ok(Ok(body))) => body,
        };
        let max = self.settings.max_jwks_size;
        if body.len() > max {
            return Err(FetchError::too_large(format!(
                "document of {} bytes is over the {max}-byte limit",
                body.len()
            )));
        }
        Ok(body)
    }
}

/// Owns one flight's task. Made before the task is spawned and moved into it, so
/// that a task dropped at any point, even before its first poll (its runtime shut
/// down, or was already shutting down when the task was spawned), ends the
/// flight and releases its waiters instead of leaving the set "in flight".
struct FlightGuard {
    source: Arc<KeySource>,
    id: u64,
    ended: bool,
}

impl FlightGuard {
    async fn run(mut self, why: Why) {
        let source = Arc::clone(&self.source);
        let started = Instant::now();
        tracing::debug!(source = %source.location, why = why.as_str(), "fetching JWKS");
        let limit = source
            .settings
            .fetch_timeout
            .saturating_add(Duration::from_millis(100));
        let result = match tokio::time::timeout(limit, source.download()).await {
            Ok(result) => result,
            Err(_) => Err(FetchError {
                outcome: observe::Fetch::Timeout,
                reason: "timed out".to_owned(),
            }),
        };
        // A flight presumed lost (see `begin_fetch`) has been replaced: its late
        // result must not overwrite what the newer fetch finds.
        if !source.is_current(self.id) {
            self.ended = true;
            tracing::debug!(source = %source.location, "late JWKS fetch ignored: another replaced it");
            return;
        }
        let result = match result {
            Ok(fresh) => Ok(source.apply(fresh).await),
            Err(reason) => Err(reason),
        };
        source.finish(self.id, why, started, result);
        self.ended = true;
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if !self.ended {
            self.source.abandon(self.id);
        }
    }
}

/// Re-reads the set when a refresh is due. Holds the source only weakly, so it
/// ends when the verifier is dropped (which also aborts it). Sleeps until the
/// refresh is due, or until a fetch ends (which moves the schedule).
async fn refresh_timer(source: Weak<KeySource>) {
    loop {
        let (sleep_ms, mut fetch_ended) = {
            let Some(source) = source.upgrade() else {
                return;
            };
            // Subscribed before the schedule is read: a fetch that ends after the
            // read wakes the timer.
            let fetch_ended = source.done.subscribe();
            if source.trust.now_ms() >= source.refresh_due_ms.load(Ordering::Acquire) {
                let _ = source.begin_fetch(Why::Refresh);
            }
            let due = source.refresh_due_ms.load(Ordering::Acquire);
            (due.saturating_sub(source.trust.now_ms()), fetch_ended)
        };
        let sleep = Duration::from_millis(sleep_ms).clamp(MIN_TIMER_SLEEP, MAX_TIMER_SLEEP);
        // Err when the source is gone; the next round notices.
        let _ = tokio::time::timeout(sleep, fetch_ended.changed()).await;
    }
}

/// What [`KeySource::status`] reports.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeySetStatus {
    pub(crate) usable: bool,
    pub(crate) keys: usize,
    pub(crate) age: Option<Duration>,
    pub(crate) failures: u32,
}

/// Why a fetch failed: its class for metrics, and words for the logs.
#[derive(Debug)]
struct FetchError {
    outcome: observe::Fetch,
    reason: String,
}

impl FetchError {
    fn too_large(reason: String) -> Self {
        Self {
            outcome: observe::Fetch::TooLarge,
            reason,
        }
    }
}

fn describe(err: reqwest::Error) -> FetchError {
    let outcome = if err.is_timeout() {
        observe::Fetch::Timeout
    } else {
        observe::Fetch::Error
    };
    FetchError {
        outcome,
        reason: describe_text(err),
    }
}

fn describe_text(err: reqwest::Error) -> String {
    let err = err.without_url();
    if err.is_timeout() {
        let mut text = "timed out".to_owned();
        if let Some(source) = std::error::Error::source(&err) {
            text.push_str(": ");
            text.push_str(&error_chain(source));
        }
        text
    } else {
        error_chain(&err)
    }
}

/// An error and its sources, joined by `: `.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A modulus of `bytes` bytes with the top bit set (so exactly `bytes * 8`
    /// bits) and odd, base64url-encoded. Not a real RSA modulus: `decode_key`
    /// only checks its shape.
    fn modulus(bytes: usize) -> String {
        let mut n = vec![0x5a; bytes];
        n[0] = 0xc3;
        n[bytes - 1] = 0x01 | 0x5a;
        URL_SAFE_NO_PAD.encode(n)
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A JWK as Cognito publishes it, with a 2048-bit modulus and e = 65537.
    fn good() -> Value {
        json!({
            "alg": "RS256",
            "e": "AQAB",
            "kid": "abc+/def=",
            "kty": "RSA",
            "n": modulus(256),
            "use": "sig",
        })
    }

    fn with(name: &str, value: Value) -> Value {
        let mut jwk = good();
        jwk[name] = value;
        jwk
    }

    fn without(name: &str) -> Value {
        let mut jwk = good();
        jwk.as_object_mut().unwrap().remove(name);
        jwk
    }

    #[test]
    fn accepts_a_cognito_key() {
        let jwk = decode_key(&good()).unwrap();
        assert_eq!(jwk.kid, "abc+/def=");
        assert_eq!(jwk.n.len(), 256);
        assert_eq!(jwk.e, [1, 0, 1]);
    }

    #[test]
    fn use_and_alg_may_be_absent() {
        assert!(decode_key(&without("use")).is_ok());
        assert!(decode_key(&without("alg")).is_ok());
    }

    #[test]
    fn kty_must_be_rsa() {
        assert_eq!(
            decode_key(&with("kty", json!("EC"))).unwrap_err(),
            "kty is not RSA"
        );
        assert_eq!(
            decode_key(&with("kty", json!("rsa"))).unwrap_err(),
            "kty is not RSA"
        );
        assert_eq!(decode_key(&without("kty")).unwrap_err(), "kty is not RSA");
    }

    #[test]
    fn use_must_be_sig() {
        assert_eq!(
            decode_key(&with("use", json!("enc"))).unwrap_err(),
            "use is not sig"
        );
        assert_eq!(
            decode_key(&with("use", json!(""))).unwrap_err(),
            "use is not sig"
        );
    }

    #[test]
    fn alg_must_be_rs256() {
        for alg in ["RS384", "RS512", "PS256", "HS256", "none", "rs256"] {
            assert_eq!(
                decode_key(&with("alg", json!(alg))).unwrap_err(),
                "alg is not RS256",
                "{alg}"
            );
        }
    }

    #[test]
    fn kid_must_be_a_non_empty_string() {
        assert_eq!(decode_key(&without("kid")).unwrap_err(), "no kid");
        assert_eq!(decode_key(&with("kid", json!(""))).unwrap_err(), "no kid");
        assert_eq!(
            decode_key(&with("kid", json!(7))).unwrap_err(),
            "a member is not a string"
        );
    }

    #[test]
    fn members_must_be_strings() {
        for (name, value) in [
            ("kty", json!(["RSA"])),
            ("use", json!(null)),
            ("alg", json!({"name": "RS256"})),
            ("n", json!(12345)),
            ("e", json!(65537)),
            ("kid", json!(true)),
        ] {
            assert_eq!(
                decode_key(&with(name, value)).unwrap_err(),
                "a member is not a string",
                "{name}"
            );
        }
    }

    #[test]
    fn a_jwk_that_is_not_an_object_is_refused() {
        assert!(decode_key(&json!("RSA")).is_err());
        assert!(decode_key(&json!([good()])).is_err());
        assert!(decode_key(&json!(null)).is_err());
    }

    #[test]
    fn n_and_e_must_be_present_unpadded_base64url() {
        assert_eq!(decode_key(&without("n")).unwrap_err(), "no n");
        assert_eq!(decode_key(&without("e")).unwrap_err(), "no e");
        assert_eq!(
            decode_key(&with("n", json!("not base64!"))).unwrap_err(),
            "n is not base64url"
        );
        assert_eq!(
            decode_key(&with("e", json!("AQAB=="))).unwrap_err(),
            "e is not base64url"
        );
        let standard = base64::engine::general_purpose::STANDARD_NO_PAD.encode([0xfb; 256]);
        assert_eq!(
            decode_key(&with("n", json!(standard))).unwrap_err(),
            "n is not base64url"
        );
    }

    #[test]
    fn modulus_below_2048_bits_is_refused() {
        // 1024 bits: 128 bytes with the top bit set.
        assert_eq!(
            decode_key(&with("n", json!(modulus(128)))).unwrap_err(),
            "modulus is shorter than 2048 bits"
        );
        // 2047 bits: 256 bytes whose top bit is clear.
        let mut n = vec![0x5b; 256];
        n[0] = 0x7f;
        assert_eq!(
            decode_key(&with("n", json!(b64(&n)))).unwrap_err(),
            "modulus is shorter than 2048 bits"
        );
        // Leading zero bytes do not count: 8 zero bytes + 1024 bits is still 1024 bits.
        let mut n = vec![0; 8];
        n.extend(URL_SAFE_NO_PAD.decode(modulus(128)).unwrap());
        assert_eq!(
            decode_key(&with("n", json!(b64(&n)))).unwrap_err(),
            "modulus is shorter than 2048 bits"
        );
        assert_eq!(
            decode_key(&with("n", json!(""))).unwrap_err(),
            "modulus is shorter than 2048 bits"
        );
    }

    #[test]
    fn modulus_with_a_leading_zero_byte_keeps_its_size() {
        let mut n = vec![0];
        n.extend(URL_SAFE_NO_PAD.decode(modulus(256)).unwrap());
        let jwk = decode_key(&with("n", json!(b64(&n)))).unwrap();
        assert_eq!(jwk.n.len(), 256);
    }

    #[test]
    fn modulus_above_8192_bits_is_refused() {
        assert!(decode_key(&with("n", json!(modulus(1024)))).is_ok());
        assert_eq!(
            decode_key(&with("n", json!(modulus(1025)))).unwrap_err(),
            "modulus is longer than 8192 bits"
        );
    }

    #[test]
    fn even_modulus_is_refused() {
        let mut n = URL_SAFE_NO_PAD.decode(modulus(256)).unwrap();
        n[255] &= 0xfe;
        assert_eq!(
            decode_key(&with("n", json!(b64(&n)))).unwrap_err(),
            "modulus is even"
        );
    }

    #[test]
    fn exponent_must_be_odd_and_from_3_to_2_pow_32() {
        let refused = "exponent is not an odd number from 3 to 2^32";
        for e in [
            &[][..],
            &[0],
            &[1],
            &[2],
            &[1, 0, 0],
            &[1, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0],
        ] {
            assert_eq!(
                decode_key(&with("e", json!(b64(e)))).unwrap_err(),
                refused,
                "{e:?}"
            );
        }
        for e in [
            &[3][..],
            &[1, 0, 1],
            &[0, 1, 0, 1],
            &[0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(decode_key(&with("e", json!(b64(e)))).is_ok(), "{e:?}");
        }
    }

    fn url() -> Url {
        Url::parse("https://example.test/.well-known/jwks.json").unwrap()
    }

    fn set(keys: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn one_malformed_key_does_not_spoil_the_set() {
        let mut weak = with("kid", json!("weak"));
        weak["n"] = json!(modulus(128));
        let body = set(vec![
            weak,
            good(),
            json!("not an object"),
            with("alg", json!("HS256")),
        ]);
        let keys = parse_jwks(&body, &url()).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.contains_key("abc+/def="));
    }

    #[test]
    fn a_set_without_a_usable_key_fails() {
        let err = parse_jwks(&set(vec![with("kty", json!("EC"))]), &url()).unwrap_err();
        assert!(err.contains("no usable RS256 key"), "{err}");
        assert!(parse_jwks(&set(vec![]), &url()).is_err());
        assert!(
            parse_jwks(b"<html>", &url())
                .unwrap_err()
                .starts_with("not a JWKS document")
        );
        assert!(parse_jwks(b"{\"keys\": {}}", &url()).is_err());
        assert!(parse_jwks(b"[]", &url()).is_err());
    }

    #[test]
    fn a_repeated_kid_keeps_the_first_key() {
        let second = with("n", json!(modulus(512)));
        let keys = parse_jwks(&set(vec![good(), second]), &url()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["abc+/def="].n.len(), 256);
    }

    #[test]
    fn at_most_max_keys_are_kept() {
        let keys: Vec<Value> = (0..MAX_KEYS + 5)
            .map(|i| with("kid", json!(format!("k{i}"))))
            .collect();
        assert_eq!(parse_jwks(&set(keys), &url()).unwrap().len(), MAX_KEYS);
    }

    #[test]
    fn a_static_set_refuses_what_a_fetched_set_skips_naming_the_key() {
        let mut weak = with("kid", json!("weak"));
        weak["n"] = json!(modulus(128));
        let cases = [
            (
                weak,
                "key `weak` (index 1) is refused: modulus is shorter than 2048 bits",
            ),
            (
                with("use", json!("enc")),
                "key `abc+/def=` (index 1) is refused: use is not sig",
            ),
            (without("kid"), "the key at index 1 is refused: no kid"),
            (json!("RSA"), "the key at index 1 is refused: no kid"),
        ];
        let other = with("kid", json!("other"));
        for (bad, expected) in cases {
            let body = set(vec![other.clone(), bad]);
            // Fetched: the bad key is skipped, the good one kept.
            assert_eq!(parse_jwks(&body, &url()).unwrap().len(), 1, "{expected}");
            // Static: the set is refused, and the message names the key.
            assert_eq!(parse_static_jwks(&body).unwrap_err(), expected);
        }
        let repeated = set(vec![good(), with("n", json!(modulus(512)))]);
        assert_eq!(
            parse_static_jwks(&repeated).unwrap_err(),
            "key `abc+/def=` (index 1) repeats a kid"
        );
        assert_eq!(parse_static_jwks(&set(vec![])).unwrap_err(), "has no keys");
        assert!(
            parse_static_jwks(b"<html>")
                .unwrap_err()
                .starts_with("not a JWKS document")
        );
        let keys = parse_static_jwks(&set(vec![good(), other])).unwrap();
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn a_static_set_is_checked_by_the_one_key_validator() {
        // Every rule of `decode_key` refuses a static set with `decode_key`'s
        // own reason: the two paths cannot drift apart.
        for bad in [
            with("kty", json!("EC")),
            with("alg", json!("RS512")),
            with("n", json!("not base64!")),
            with("e", json!(b64(&[2]))),
            with("n", json!(modulus(1025))),
        ] {
            let reason = decode_key(&bad).unwrap_err();
            let err = parse_static_jwks(&set(vec![bad])).unwrap_err();
            assert_eq!(
                err,
                format!("key `abc+/def=` (index 0) is refused: {reason}")
            );
        }
    }

    #[test]
    fn a_key_is_untrusted_once_retired_or_stale() {
        let trust = Arc::new(Trust::new());
        let key = Key::new(decode_key(&good()).unwrap(), Arc::clone(&trust));
        // Never confirmed by a fetch: not trusted.
        assert!(!key.is_trusted());
        trust.until_ms.store(u64::MAX, Ordering::Release);
        assert!(key.is_trusted());
        key.retire();
        assert!(!key.is_trusted());
        // Stale beyond max_stale: not trusted either, even if never retired.
        let fresh = Key::new(decode_key(&good()).unwrap(), Arc::clone(&trust));
        assert!(fresh.is_trusted());
        trust.until_ms.store(trust.now_ms(), Ordering::Release);
        assert!(!fresh.is_trusted());
    }
}
