//! Every default and limit of the verifiers' configuration, each named once,
//! with the reason for its value.
//!
//! [`VerifierBuilder`](crate::VerifierBuilder) and the key source it configures
//! (`verifier::keys::source`) read these, and so do the load balancer's
//! verifier and key source (`alb`), which share the JWKS source's fetch
//! discipline. The public `DEFAULT_*` constants are re-exported where users
//! find them (`tower_cognito::DEFAULT_MAX_TOKEN_SIZE`,
//! `tower_cognito::alb::DEFAULT_MAX_KEY_SIZE`, ...); the others are the
//! crate's own, and the builders' setter docs state their values to users, so
//! a change here is a change to those docs too.

use std::time::Duration;

// ---------------------------------------------------------------------------
// Sizes and capacities (public).

/// Default largest token accepted, in bytes.
pub const DEFAULT_MAX_TOKEN_SIZE: usize = 16 * 1024;
/// Default largest JWKS response accepted, in bytes.
pub const DEFAULT_MAX_JWKS_SIZE: usize = 1024 * 1024;
/// Default number of verified tokens kept.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: u64 = 10_000;
/// Default largest `x-amzn-oidc-data` value accepted, in bytes. The load
/// balancer refuses sessions whose claims and access token exceed 11 KiB.
#[cfg(feature = "alb")]
pub const DEFAULT_MAX_ALB_TOKEN_SIZE: usize = 16 * 1024;
/// Default largest key document read, in bytes (a P-256 key in PEM is 178).
#[cfg(feature = "alb")]
pub const DEFAULT_MAX_KEY_SIZE: usize = 4 * 1024;

// ---------------------------------------------------------------------------
// Fetching keys: the defaults of both builders.

/// Default longest one fetch may take, from connecting to the last body byte:
/// 5 s. Requests waiting on a cold cache wait at most this long (plus
/// [`FLIGHT_GRACE`]), even for a fetch whose runtime stopped running it.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Default longest the default HTTP client waits to connect: 2 s. A healthy
/// endpoint connects in milliseconds; an unreachable one should fail a
/// prefetch quickly.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time from one successful JWKS fetch to the next background
/// refresh: 15 minutes. A key Cognito removes stops being trusted within 15
/// minutes, at the cost of 4 small fetches an hour.
pub(crate) const REFRESH_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Default least time between the starts of two fetches caused by unknown
/// `kid`s, and the first step of the back-off after a failure: 5 s. A
/// random-`kid` flood costs at most 12 fetches a minute, and a rotation is
/// seen within 5 s.
pub(crate) const UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(5);
/// Default longest wait between two attempts while the endpoint fails: 60 s.
/// One fetch a minute during an outage, and recovery seen within a minute.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Default time after its last successful fetch that a JWKS may still be
/// used: [`LONGEST_TOKEN_LIFETIME`]. Rides out a long outage of the endpoint.
pub(crate) const MAX_STALE: Duration = LONGEST_TOKEN_LIFETIME;
/// Default age at which a load balancer key is fetched again when next needed:
/// [`LONGEST_TOKEN_LIFETIME`], as [`MAX_STALE`] for a JWKS.
#[cfg(feature = "alb")]
pub(crate) const MAX_KEY_AGE: Duration = LONGEST_TOKEN_LIFETIME;
/// Default number of fetches for new load balancer `kid`s that may start at
/// once, before the cooldown applies: 5. A service starting behind a load
/// balancer may meet several keys at the same time.
#[cfg(feature = "alb")]
pub(crate) const UNKNOWN_KID_BURST: u32 = 5;

/// Shortest wait after a failed fetch, even with a zero cooldown: an outage must
/// not turn every request into a fetch.
pub(crate) const MIN_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Added to the fetch timeout for the timer around a whole fetch, so that the
/// HTTP client's own timeout, which names the cause, fires first.
pub(crate) const FETCH_TIMEOUT_SLACK: Duration = Duration::from_millis(100);
/// How long after its fetch timeout a JWKS fetch may still be under way (its
/// own timer adds [`FETCH_TIMEOUT_SLACK`], then the new set is put in place).
/// A flight older than the fetch timeout plus this is presumed lost, and its
/// waiters stop waiting.
pub(crate) const FLIGHT_GRACE: Duration = Duration::from_millis(250);
/// Longest the JWKS refresh timer sleeps before it looks at the schedule again.
pub(crate) const MAX_TIMER_SLEEP: Duration = Duration::from_secs(60);
/// Shortest the JWKS refresh timer sleeps, so that it can never spin.
pub(crate) const MIN_TIMER_SLEEP: Duration = Duration::from_millis(10);

// ---------------------------------------------------------------------------
// Key counts.

/// Most keys kept from one JWKS (Cognito publishes two; a rotation briefly four).
pub(crate) const MAX_JWKS_KEYS: usize = 1024;
/// Most load balancer keys kept (the endpoint serves only real ALB keys, a
/// handful per region).
#[cfg(feature = "alb")]
pub(crate) const MAX_ALB_KEYS: u64 = 1024;
/// Most `kid`s remembered as unknown to the load balancer key endpoint.
#[cfg(feature = "alb")]
pub(crate) const MAX_MISSING_KIDS: u64 = 4096;

// ---------------------------------------------------------------------------
// Limits that the builders enforce.

/// Most entries a verified-token cache may be asked for: 10 million. Its table is
/// allocated whole when the verifier is built (56 bytes an entry and 16 to 32
/// bytes of counts: under 900 MB at this size), so a mistyped capacity must be
/// an error, not an allocation that fails.
pub(crate) const MAX_TOKEN_CACHE_CAPACITY: u64 = 10_000_000;

/// Longest clock skew allowed on `exp` and `nbf`: 5 minutes. More would keep
/// an expired token usable for a noticeable time.
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// Smallest `max_token_size` accepted, in bytes.
pub(crate) const MIN_TOKEN_SIZE_LIMIT: usize = 64;
/// Smallest `max_jwks_size` accepted, in bytes.
pub(crate) const MIN_JWKS_SIZE_LIMIT: usize = 256;
/// Smallest `max_key_size` accepted, in bytes (a P-256 key in PEM is 178).
#[cfg(feature = "alb")]
pub(crate) const MIN_KEY_SIZE_LIMIT: usize = 256;
/// Most user pools one verifier trusts, as API Gateway allows.
pub(crate) const MAX_POOLS: usize = 1000;
/// Most load balancers one verifier trusts.
#[cfg(feature = "alb")]
pub(crate) const MAX_LOAD_BALANCERS: usize = 100;

// ---------------------------------------------------------------------------
// Lifetimes.

/// Cognito's longest token lifetime (an ID or access token lives at most a
/// day): the longest a verified token is remembered whatever its `exp` says
/// (the load balancer verifier's cache here; the JWKS verifier's token cache,
/// `verifier::cache`, keeps its own `MAX_CACHED_SECS` of the same value), and
/// the longest a revocation of a `sub` must be remembered.
pub(crate) const LONGEST_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
