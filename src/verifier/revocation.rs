//! Revocation: refusing a token before its `exp`.
//!
//! Cognito's own revocation ties tokens together the way this module keys them:
//! revoking a refresh token (`RevokeToken`) ends every ID and access token made
//! from it, and those share its `origin_jti`; one token is its `jti`; "sign out
//! everywhere" (`GlobalSignOut`, `AdminUserGlobalSignOut`) ends every token of
//! a user issued before a moment, that is its `sub` and `iat`. API Gateway's
//! authorizer does not consult any of this (a revoked token passes until it
//! expires); with a [`Revocation`] on the [`Verifier`](crate::Verifier), this
//! crate does, on every request, after the token verified and before the
//! handler runs, including for tokens answered from the verified-token cache.
//!
//! [`RevocationList`] keeps revocations in memory, each until the tokens it
//! covers have expired. For several instances of a service, implement
//! [`Revocation`] over a shared store (see its contract).

use crate::defaults::LONGEST_TOKEN_LIFETIME;
use crate::verifier::claims::Claims;
use moka::Expiry;
use moka::sync::Cache;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What a store failed with.
pub type RevocationError = Box<dyn Error + Send + Sync>;

/// The answer of a [`Revocation`]: known at once (a local lookup), or later (a
/// shared store). `Ok(true)`: revoked.
pub enum Revoked {
    /// Known now.
    Now(Result<bool, RevocationError>),
    /// To be awaited.
    Later(Pin<Box<dyn Future<Output = Result<bool, RevocationError>> + Send>>),
}

impl fmt::Debug for Revoked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Now(answer) => f.debug_tuple("Now").field(answer).finish(),
            Self::Later(_) => f.write_str("Later(<future>)"),
        }
    }
}

/// Decides whether a verified token is revoked.
///
/// The contract, for an implementation over a shared store (Redis, DynamoDB):
///
/// - Key revocations as Cognito does: by `origin_jti` (a refresh token and every
///   token made from it), by `jti` (one token), and by `sub` with a time (every
///   token of the user whose `iat` is before it). Read them with
///   [`Claims::origin_jti`], [`Claims::jti`], [`Claims::sub`] and
///   [`Claims::iat`]; a token without `iat` must count as issued before any
///   sign-out of its user.
/// - Keep each entry at least until the tokens it covers have expired: a
///   token's `exp` for `jti` and `origin_jti`; for a `sub`, the sign-out time
///   plus the longest token lifetime of the pool (at most a day).
/// - Answer `Err` when the store cannot be read: the verifier then refuses the
///   request (fail closed) unless it was built with
///   [`revocation_fail_open`](crate::VerifierBuilder::revocation_fail_open).
/// - Answer quickly: the check runs on every request. Answer with
///   [`Revoked::Now`] when no I/O is needed; the layer then decides without a
///   future.
pub trait Revocation: Send + Sync + 'static {
    /// Whether the token with these (verified) claims is revoked.
    fn is_revoked(&self, claims: &Claims) -> Revoked;
}

/// A revocation list in this process: each entry lives until the tokens it
/// covers have expired, so memory stays bounded by the tokens revoked within
/// one token lifetime.
///
/// ```
/// use std::sync::Arc;
/// use tower_cognito::{RevocationList, Verifier, UserPool};
///
/// # fn demo() -> Result<(), tower_cognito::ConfigError> {
/// let revoked = Arc::new(RevocationList::new());
/// let verifier = Verifier::builder()
///     .pool(UserPool::new("us-east-1_AbCdEfGhI"))
///     .revocation(revoked.clone())
///     .build()?;
/// // Later, when the user signs out everywhere (AdminUserGlobalSignOut):
/// revoked.revoke_sub("4c8e0c1a-0000-4000-8000-000000000000", std::time::SystemTime::now());
/// # Ok(()) }
/// ```
pub struct RevocationList {
    jti: Kind,
    origin_jti: Kind,
    /// For a `sub`, tokens issued before `Entry::before` are revoked.
    sub: Kind,
}

/// The revocations of one kind, by the claim's value.
struct Kind {
    entries: Cache<String, Entry>,
    /// Entries ever added: while none was, a check costs one atomic load.
    added: AtomicU64,
}

impl Kind {
    fn new() -> Self {
        Self {
            entries: Cache::builder().expire_after(EntryExpiry).build(),
            added: AtomicU64::new(0),
        }
    }

    fn insert(&self, key: String, entry: Entry) {
        self.entries.insert(key, entry);
        self.added.fetch_add(1, Ordering::Release);
    }

    fn get(&self, key: &str) -> Option<Entry> {
        if self.added.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.entries.get(key)
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Tokens issued before this (epoch seconds) are revoked; `u64::MAX` for a
    /// `jti` or `origin_jti`.
    before: u64,
    ttl: Duration,
}

struct EntryExpiry;

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How long until `exp` (epoch seconds), at least a second, at most Cognito's
/// longest token lifetime: a `sub` sign-out must outlive every token issued
/// before it.
fn until(exp: u64) -> Duration {
    Duration::from_secs(
        exp.saturating_sub(now_secs())
            .clamp(1, LONGEST_TOKEN_LIFETIME.as_secs()),
    )
}

impl Default for RevocationList {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationList")
            .field("jti", &self.jti.entries.entry_count())
            .field("origin_jti", &self.origin_jti.entries.entry_count())
            .field("sub", &self.sub.entries.entry_count())
            .finish()
    }
}

impl RevocationList {
    /// An empty list.
    pub fn new() -> Self {
        Self {
            jti: Kind::new(),
            origin_jti: Kind::new(),
            sub: Kind::new(),
        }
    }

    /// Revokes one token (its `jti`) until `exp`, its expiry in epoch seconds.
    pub fn revoke_jti(&self, jti: impl Into<String>, exp: u64) {
        let entry = Entry {
            before: u64::MAX,
            ttl: until(exp),
        };
        self.jti.insert(jti.into(), entry);
    }

    /// Revokes every token made from one refresh token (their `origin_jti`),
    /// for the longest token lifetime (a day): what `RevokeToken` does.
    pub fn revoke_origin_jti(&self, origin_jti: impl Into<String>) {
        let entry = Entry {
            before: u64::MAX,
            ttl: LONGEST_TOKEN_LIFETIME,
        };
        self.origin_jti.insert(origin_jti.into(), entry);
    }

    /// Revokes a token and its siblings: its `jti` until its `exp`, and its
    /// `origin_jti` (the refresh token it came from), when it has them.
    pub fn revoke_token(&self, claims: &Claims) {
        if let Some(jti) = claims.jti() {
            self.revoke_jti(jti, claims.exp());
        }
        if let Some(origin) = claims.origin_jti() {
            self.revoke_origin_jti(origin);
        }
    }

    /// Revokes every token of the user `sub` issued before `at`: "sign out
    /// everywhere" (`GlobalSignOut`). Tokens issued after it pass. A later call
    /// moves the time.
    pub fn revoke_sub(&self, sub: impl Into<String>, at: SystemTime) {
        let before = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let entry = Entry {
            before,
            ttl: LONGEST_TOKEN_LIFETIME,
        };
        self.sub.insert(sub.into(), entry);
    }

    /// Whether these claims are revoked, now.
    pub fn contains(&self, claims: &Claims) -> bool {
        if claims.jti().is_some_and(|jti| self.jti.get(jti).is_some()) {
            return true;
        }
        if claims
            .origin_jti()
            .is_some_and(|origin| self.origin_jti.get(origin).is_some())
        {
            return true;
        }
        match self.sub.get(claims.sub()) {
            // A token without iat counts as issued before the sign-out.
            Some(entry) => claims.iat().is_none_or(|iat| iat < entry.before),
            None => false,
        }
    }
}

impl Revocation for RevocationList {
    fn is_revoked(&self, claims: &Claims) -> Revoked {
        Revoked::Now(Ok(self.contains(claims)))
    }
}

impl<R: Revocation + ?Sized> Revocation for Arc<R> {
    fn is_revoked(&self, claims: &Claims) -> Revoked {
        (**self).is_revoked(claims)
    }
}
