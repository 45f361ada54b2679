//! One key of a set ([`Key`]) and the trust it shares with its set ([`Trust`]):
//! a cached verdict dies with its key.

use super::jwk::RsaJwk;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Until when the keys of one source may be trusted: `max_stale` after the last
/// successful fetch. Shared by the source and all its keys, so a key held by the
/// verifier's token cache stops being trusted along with its set.
#[derive(Debug)]
pub(crate) struct Trust {
    pub(super) epoch: Instant,
    /// Milliseconds after `epoch`; 0 before the first successful fetch.
    pub(super) until_ms: AtomicU64,
}

impl Trust {
    pub(super) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            until_ms: AtomicU64::new(0),
        }
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    /// `now` in milliseconds after `epoch` (0 before it).
    pub(super) fn ms_at(&self, now: Instant) -> u64 {
        millis(now.saturating_duration_since(self.epoch))
    }

    pub(super) fn holds(&self) -> bool {
        self.holds_at(Instant::now())
    }

    pub(super) fn holds_at(&self, now: Instant) -> bool {
        self.ms_at(now) < self.until_ms.load(Ordering::Acquire)
    }
}

/// One RSA public key from a JWKS, and the trust in what it verified.
///
/// A cached verdict dies with its key: whatever keeps a verdict this key gave
/// (the verifier's token cache, its per-thread slots) relies on it only while
/// [`is_trusted`](Self::is_trusted) holds, which it stops doing when a refresh
/// finds the key gone from the JWKS, when the set goes stale, and before the
/// set was ever fetched.
pub(crate) struct Key {
    pub(super) jwk: RsaJwk,
    public: crate::verifier::crypto::RsaPublicKey,
    removed: AtomicBool,
    trust: Arc<Trust>,
}

impl Key {
    pub(super) fn new(jwk: RsaJwk, trust: Arc<Trust>) -> Self {
        let public = crate::verifier::crypto::RsaPublicKey::new(&jwk.n, &jwk.e);
        Self {
            jwk,
            public,
            removed: AtomicBool::new(false),
            trust,
        }
    }

    /// Checks an RS256 signature of `message`, whose digest is `digest`.
    pub(crate) fn verify(
        &self,
        message: &[u8],
        digest: &crate::verifier::crypto::SigningDigest,
        signature: &[u8],
    ) -> bool {
        self.public.verify_rs256(message, digest, signature)
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
        self.is_trusted_at(Instant::now())
    }

    /// [`is_trusted`](Self::is_trusted) at `now` (read once for several checks).
    pub(crate) fn is_trusted_at(&self, now: Instant) -> bool {
        !self.removed.load(Ordering::Acquire) && self.trust.holds_at(now)
    }

    pub(super) fn retire(&self) {
        self.removed.store(true, Ordering::Release);
    }

    /// A key whose set was fetched just now and that verifies nothing, for tests
    /// of what holds keys (the token cache).
    #[cfg(test)]
    pub(crate) fn trusted_for_tests() -> Arc<Self> {
        let trust = Arc::new(Trust::new());
        trust.until_ms.store(u64::MAX, Ordering::Release);
        let jwk = RsaJwk {
            kid: "test".into(),
            n: vec![1],
            e: vec![1],
        };
        Arc::new(Self::new(jwk, trust))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.jwk.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::keys::jwk::decode_key;
    use crate::verifier::keys::jwk::tests::good;

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
