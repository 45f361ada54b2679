//! The verified-token cache: a token verified once is not verified again while
//! its verdict stands. One entry type ([`Verified`]) in two tiers: a moka cache
//! shared by every thread, hashed by the token's tail ([`TokenHasher`]), each
//! entry kept until the token's `exp` ([`UntilExp`]); and in front of it, a few
//! slots per thread that a hit reads without a lock. Whether a verdict still
//! stands (its key trusted, the token unexpired, its pool's key set on
//! schedule) is the verifier's to say: [`TokenCache::get`] asks it.

use super::claims::Claims;
use super::keys::Key;
use moka::Expiry;
use moka::sync::Cache;
use std::cell::RefCell;
use std::hash::{BuildHasher, DefaultHasher, Hasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The verified tokens of one verifier.
pub(super) struct TokenCache {
    /// Tells this verifier's entries apart in the per-thread slots.
    id: u64,
    shared: Cache<String, Verified, TokenHasher>,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (more than zero).
    pub(super) fn new(capacity: u64) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shared: Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExp)
                .build_with_hasher(TokenHasher::default()),
        }
    }

    /// Remembers a token just verified, in this thread's slot and the shared cache.
    pub(super) fn insert(&self, token: &str, verified: Verified) {
        remember(self.id, token, &verified);
        self.shared.insert(token.to_owned(), verified);
    }

    /// The claims of `token` if it is held and `valid` says its verdict still
    /// stands (a shared entry that no longer does is dropped), and `on_schedule`
    /// says its pool's key set may be used without waiting for a refresh.
    pub(super) fn get(
        &self,
        token: &str,
        valid: impl Fn(&Key, &Claims) -> bool,
        on_schedule: impl Fn(usize) -> bool,
    ) -> Option<Claims> {
        // This thread's slots first: no lock, nothing shared written but one count.
        let local = LOCAL.with_borrow(|slots| {
            let entry = slots[local_slot(token)].as_ref()?;
            (entry.verifier == self.id
                && *entry.token == *token
                && valid(&entry.verified.key, &entry.verified.claims))
            .then(|| (entry.verified.pool, entry.verified.claims.clone()))
        });
        if let Some((pool, claims)) = local {
            return on_schedule(pool).then_some(claims);
        }
        let hit = self.shared.get(token)?;
        if !valid(&hit.key, &hit.claims) {
            self.shared.invalidate(token);
            return None;
        }
        if !on_schedule(hit.pool) {
            return None;
        }
        remember(self.id, token, &hit);
        Some(hit.claims)
    }
}

/// One verdict of the cache: the claims of a verified token, the key that
/// verified it (the verdict stands only while that key is trusted) and the
/// index of its pool.
#[derive(Clone)]
pub(super) struct Verified {
    pub(super) claims: Claims,
    pub(super) key: Arc<Key>,
    pub(super) pool: usize,
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
    verified: Verified,
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
            verified: verified.clone(),
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
        let left = value.claims.exp().saturating_sub(super::now_secs());
        Some(Duration::from_secs(left.min(MAX_CACHED_SECS)))
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
