//! A user pool's key set: fetching the JWKS, caching decoded keys, refreshing.
//!
//! How the [`KeySource`] behaves, and why (AWS's reference verifier,
//! aws-jwt-verify, keeps removed keys, does not back off, locks a JWKS out for
//! 10 s after any unknown `kid`, reads any size and drops a whole set for one
//! bad key; each point below answers one of these):
//!
//! - **Known `kid`** (the hot path): one hash map lookup under a read lock and
//!   two clock reads. Nothing is awaited, and the write lock is taken only to
//!   swap in a set a fetch brought (never across a fetch), so a slow or hanging
//!   fetch never delays a token whose key is cached.
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
//! A static set is configuration: it is read once, by
//! [`parse_static_jwks`](super::jwk::parse_static_jwks), with the same key rules, but a key that breaks one is an error instead of being
//! skipped; it is never fetched, never refreshed, and always trusted.

use super::fetch::{self, FetchError};
use super::jwk::{RsaJwk, parse_jwks};
use super::key::{Key, Trust, millis};
use super::provider::JwksProvider;
use crate::defaults::{
    FETCH_TIMEOUT_SLACK, FLIGHT_GRACE, MAX_TIMER_SLEEP, MIN_RETRY_DELAY, MIN_TIMER_SLEEP,
};
use crate::error::{AuthError, AuthErrorKind};
use crate::observe;
use reqwest::Url;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How the key sets of all pools of one verifier are fetched and kept. The
/// defaults are set (and documented for users) in `VerifierBuilder`, from the
/// constants of [`crate::defaults`], which give the reason for each.
#[derive(Clone, Debug)]
pub(crate) struct KeySettings {
    /// The client, the timeout, the largest body and the pace of fetches.
    /// The largest body defaults to
    /// [`DEFAULT_MAX_JWKS_SIZE`](crate::defaults::DEFAULT_MAX_JWKS_SIZE): a
    /// Cognito JWKS is under 1 KiB, and 1 MiB bounds what a hostile or broken
    /// endpoint can make each fetch hold.
    pub(crate) fetch: FetchSettings,
    /// Time from one successful fetch to the next background refresh.
    /// Default: [`REFRESH_INTERVAL`](crate::defaults::REFRESH_INTERVAL).
    pub(crate) refresh_interval: Duration,
    /// How long after its last successful fetch a key set may still be used.
    /// Default: [`MAX_STALE`](crate::defaults::MAX_STALE).
    pub(crate) max_stale: Duration,
}

/// How keys are fetched, and how often: the settings this key source shares
/// with the load balancer's (`alb::keys`), both built by
/// `SharedSettings::fetch`.
#[derive(Clone, Debug)]
pub(crate) struct FetchSettings {
    /// Default: rustls, with a [`CONNECT_TIMEOUT`](crate::defaults::CONNECT_TIMEOUT),
    /// following no redirects.
    pub(crate) client: reqwest::Client,
    /// Longest one fetch may take, from connecting to the last body byte.
    /// Default: [`FETCH_TIMEOUT`](crate::defaults::FETCH_TIMEOUT).
    pub(crate) fetch_timeout: Duration,
    /// Largest body read (a JWKS, or one PEM key); a larger one is a failed
    /// fetch. Each source has its own default.
    pub(crate) max_size: usize,
    /// Least time between the starts of two fetches (for the JWKS, except a
    /// prefetch; for the load balancer, after its burst), and the first step
    /// of the back-off after a failure. Default:
    /// [`UNKNOWN_KID_COOLDOWN`](crate::defaults::UNKNOWN_KID_COOLDOWN).
    pub(crate) unknown_kid_cooldown: Duration,
    /// Longest wait between two attempts while the endpoint fails, never
    /// below the cooldown. Default: [`MAX_BACKOFF`](crate::defaults::MAX_BACKOFF).
    pub(crate) max_backoff: Duration,
}

impl FetchSettings {
    /// The wait before the next attempt after `failures` (at least one)
    /// failed fetches in a row: the cooldown, at least
    /// [`MIN_RETRY_DELAY`], doubled for each failure after the first, up to
    /// the longest back-off (or the first step, when that is longer).
    pub(crate) fn backoff(&self, failures: u32) -> Duration {
        let first = self.unknown_kid_cooldown.max(MIN_RETRY_DELAY);
        let doublings = failures.saturating_sub(1).min(20);
        first
            .saturating_mul(1 << doublings)
            .min(self.max_backoff.max(first))
    }
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
    /// Given at build time and checked by [`parse_static_jwks`](super::jwk::parse_static_jwks): never fetched.
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
    /// The keys of the last good set, by `kid`: read under a read lock on
    /// every new token, written only when a fetch brings a set.
    keys: RwLock<HashMap<String, Arc<Key>>>,
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
    /// How many keys it has.
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

/// Whether [`KeySource::key`] waited for a fetch before it had the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waited(pub(crate) bool);

impl KeySource {
    /// `label` names the source in metrics: the id of the (first) pool it serves.
    /// A static origin is loaded here, and is ready at once.
    pub(crate) fn new(origin: KeyOrigin, label: Arc<str>, settings: Arc<KeySettings>) -> Self {
        // No capacity bound: the set is bounded by MAX_JWKS_KEYS already, and a bound
        // would bring in moka's admission policy, which may refuse a new key. No
        // time to live either: staleness is `Trust`'s business, and a key must
        // only ever leave the cache through `apply`, which marks it removed (one
        // that expired silently could come back to life in the token cache).
        let keys = RwLock::default();
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
        millis(
            self.settings
                .fetch
                .fetch_timeout
                .saturating_add(FLIGHT_GRACE),
        )
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
    ///
    /// `now` is the caller's reading of the clock, for the first look; with
    /// the key comes whether it was waited for (the caller's reading is then
    /// old).
    pub(crate) async fn key(
        self: &Arc<Self>,
        kid: &str,
        now: Instant,
    ) -> Result<(Arc<Key>, Waited), AuthError> {
        if let Some(key) = self.lookup(kid, now) {
            if self.tick(now) {
                return Ok((key, Waited(false)));
            }
            if let Some(joined) = self.begin_fetch(Why::Refresh) {
                self.wait(joined).await;
            }
            // A failed refresh keeps the set (stale-if-error); a good one may
            // have removed the key.
            return self
                .lookup(kid, Instant::now())
                .map(|key| (key, Waited(true)))
                .ok_or_else(|| self.miss_error());
        }
        self.ensure_refresher();
        if let Some(joined) = self.begin_fetch(Why::UnknownKid) {
            self.wait(joined).await;
        }
        // Also when no fetch was allowed: one may have ended since the first lookup.
        if let Some(key) = self.lookup(kid, Instant::now()) {
            return Ok((key, Waited(true)));
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
    /// refresh is due: two atomic loads (`now` is the caller's reading of the
    /// clock, read once for several checks).
    pub(crate) fn tick(self: &Arc<Self>, now: Instant) -> bool {
        let now = self.trust.ms_at(now);
        if now >= self.refresh_due_ms.load(Ordering::Acquire) {
            self.ensure_refresher();
            let _ = self.begin_fetch(Why::Refresh);
        }
        now < self.schedule_kept_until_ms.load(Ordering::Acquire)
    }

    /// The key `kid` of the set in use, trusted or not.
    fn key_in_use(&self, kid: &str) -> Option<Arc<Key>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    fn lookup(&self, kid: &str, now: Instant) -> Option<Arc<Key>> {
        let key = match &self.origin {
            Origin::Static(keys) => keys.get(kid).cloned(),
            Origin::Http(_) | Origin::Provider(_) => self.key_in_use(kid),
        };
        key.filter(|key| key.is_trusted_at(now))
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
        state.next_attempt_ms =
            now.saturating_add(millis(self.settings.fetch.unknown_kid_cooldown));
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
    fn apply(&self, fresh: HashMap<String, RsaJwk>) -> usize {
        let count = fresh.len();
        let mut added = Vec::new();
        let mut replaced = Vec::new();
        let mut removed = Vec::new();
        let mut next = HashMap::with_capacity(fresh.len());
        for (kid, jwk) in fresh {
            let key = match self.key_in_use(&kid) {
                Some(known) if known.jwk == jwk => known,
                Some(_) => {
                    replaced.push(kid.clone());
                    Arc::new(Key::new(jwk, Arc::clone(&self.trust)))
                }
                None => {
                    added.push(kid.clone());
                    Arc::new(Key::new(jwk, Arc::clone(&self.trust)))
                }
            };
            next.insert(kid, key);
        }
        // Nothing panics while the lock is held: a poisoned lock still holds a
        // whole map.
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let old = std::mem::replace(&mut *keys, next);
        for (kid, key) in &old {
            match keys.get(kid) {
                Some(new) if Arc::ptr_eq(new, key) => {}
                // Replaced: counted above.
                Some(_) => key.retire(),
                None => {
                    key.retire();
                    removed.push(kid.clone());
                }
            }
        }
        drop(keys);
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
                let backoff = self.settings.fetch.backoff(state.consecutive_failures);
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
            .saturating_add(millis(self.settings.fetch.unknown_kid_cooldown));
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
            Origin::Http(url) => fetch::download_http(&self.settings, url).await?,
            Origin::Provider(provider) => fetch::call_provider(&self.settings, provider).await?,
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
            .fetch
            .fetch_timeout
            .saturating_add(FETCH_TIMEOUT_SLACK);
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
            Ok(fresh) => Ok(source.apply(fresh)),
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
