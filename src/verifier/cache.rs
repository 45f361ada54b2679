//! The verified-token cache: a token verified once is not verified again while
//! its verdict stands. Two tiers:
//!
//! - a moka cache shared by every thread, keyed by the token's SHA-256 digest
//!   ([`Digest`]) and holding only the verdict ([`Verdict`]: the key that verified
//!   the token, its `exp`, its pool), each entry kept until the token's `exp`
//!   ([`UntilExp`]). Nothing the token itself says is stored twice: on a hit the
//!   claims are read again from the token in hand, whose digest proves it is the
//!   one verified. An entry costs a few hundred bytes where the token and its
//!   parsed claims took about 4.5 KiB;
//! - in front of it, a few slots per thread holding the whole token and its parsed
//!   [`Claims`], which a hit reads without a lock, a hash or a parse.
//!
//! Admission and eviction are moka's: TinyLFU. Every lookup, hit or miss, counts
//! toward the token's frequency, and when the cache is full a new token is kept
//! only if it has been seen more often than the one it would push out, so a flood
//! of tokens seen once (a long tail of users, or garbage signed by nobody, which
//! is never inserted) cannot push out the tokens of users who call often.
//!
//! Whether a verdict still stands (its key trusted, the token unexpired, its
//! pool's key set on schedule) is the verifier's to say: [`TokenCache::get`]
//! asks it.

use super::claims::Claims;
use super::keys::Key;
use moka::Expiry;
use moka::sync::Cache;
use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The SHA-256 digest of a token: the shared cache's key. Collision-resistant, so
/// equal digests mean the same token, without holding the token to compare.
type Digest = [u8; 32];

fn digest(token: &str) -> Digest {
    #[cfg(feature = "aws-lc-rs")]
    {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
    #[cfg(not(feature = "aws-lc-rs"))]
    {
        use sha2::Digest as _;
        sha2::Sha256::digest(token.as_bytes()).into()
    }
}

/// The verified tokens of one verifier.
pub(super) struct TokenCache {
    /// Tells this verifier's entries apart in the per-thread slots.
    id: u64,
    shared: Cache<Digest, Verdict, DigestHasher>,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (more than zero).
    pub(super) fn new(capacity: u64) -> Self {
        Self::with_policy(capacity, moka::policy::EvictionPolicy::tiny_lfu())
    }

    fn with_policy(capacity: u64, policy: moka::policy::EvictionPolicy) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shared: Cache::builder()
                .max_capacity(capacity)
                .eviction_policy(policy)
                .expire_after(UntilExp)
                .build_with_hasher(DigestHasher),
        }
    }

    /// Remembers a token just verified, in this thread's slot and the shared cache.
    pub(super) fn insert(&self, token: &str, verified: Verified) {
        let verdict = Verdict {
            key: Arc::clone(&verified.key),
            exp: verified.claims.exp(),
            pool: verified.pool,
        };
        remember(self.id, token, verified);
        self.shared.insert(digest(token), verdict);
    }

    /// The claims of `token` if it is held and `valid` (given the key and the
    /// token's `exp`) says its verdict still stands (a shared entry that no longer
    /// does is dropped), and `on_schedule` says its pool's key set may be used
    /// without waiting for a refresh. On a shared hit, `claims` reads the token's
    /// claims again for its pool (the entry does not hold them); `None` from it is
    /// a miss.
    pub(super) fn get(
        &self,
        token: &str,
        valid: impl Fn(&Key, u64) -> bool,
        on_schedule: impl Fn(usize) -> bool,
        claims: impl FnOnce(usize) -> Option<Claims>,
    ) -> Option<Claims> {
        // This thread's slots first: no lock, nothing shared written but one count.
        let local = LOCAL.with_borrow(|slots| {
            let entry = slots[local_slot(token)].as_ref()?;
            (entry.verifier == self.id
                && *entry.token == *token
                && valid(&entry.verified.key, entry.verified.claims.exp()))
            .then(|| (entry.verified.pool, entry.verified.claims.clone()))
        });
        if let Some((pool, claims)) = local {
            return on_schedule(pool).then_some(claims);
        }
        let digest = digest(token);
        let hit = self.shared.get(&digest)?;
        if !valid(&hit.key, hit.exp) {
            self.shared.invalidate(&digest);
            return None;
        }
        if !on_schedule(hit.pool) {
            return None;
        }
        let claims = claims(hit.pool)?;
        remember(
            self.id,
            token,
            Verified {
                claims: claims.clone(),
                key: hit.key,
                pool: hit.pool,
            },
        );
        Some(claims)
    }

    /// Runs moka's pending maintenance (evictions, admissions) and empties this
    /// thread's slots, for tests that read the shared tier.
    #[cfg(test)]
    fn settle(&self) {
        self.shared.run_pending_tasks();
        LOCAL.with_borrow_mut(|slots| slots.iter_mut().for_each(|slot| *slot = None));
    }
}

/// A token just verified: its claims, the key that verified it (the verdict
/// stands only while that key is trusted) and the index of its pool. What the
/// per-thread slots hold.
#[derive(Clone)]
pub(super) struct Verified {
    pub(super) claims: Claims,
    pub(super) key: Arc<Key>,
    pub(super) pool: usize,
}

/// What the shared cache holds of a verified token: no claims, no token.
#[derive(Clone)]
struct Verdict {
    key: Arc<Key>,
    exp: u64,
    pool: usize,
}

/// Hashes a digest by its first eight bytes. The digest is SHA-256, so those
/// bytes are as uniform as any hash of them would be; hashing them again would
/// only cost time. Only verified tokens are inserted, and no one can choose the
/// digest of a token Cognito signed.
#[derive(Clone, Copy, Default)]
struct DigestHasher;

impl BuildHasher for DigestHasher {
    type Hasher = PrefixHasher;

    fn build_hasher(&self) -> PrefixHasher {
        PrefixHasher(0)
    }
}

struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as its length, then its bytes: the bytes are the
        // 32-byte write.
        if let Some(prefix) = bytes.first_chunk::<8>() {
            self.0 ^= u64::from_le_bytes(*prefix);
        }
    }

    fn write_usize(&mut self, _: usize) {}

    fn finish(&self) -> u64 {
        self.0
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
fn remember(verifier: u64, token: &str, verified: Verified) {
    LOCAL.with_borrow_mut(|slots| {
        slots[local_slot(token)] = Some(LocalEntry {
            verifier,
            token: token.into(),
            verified,
        });
    });
}

struct UntilExp;

/// Longest a verified token is remembered: Cognito's longest token lifetime.
const MAX_CACHED_SECS: u64 = 24 * 60 * 60;

impl Expiry<Digest, Verdict> for UntilExp {
    fn expire_after_create(
        &self,
        _: &Digest,
        value: &Verdict,
        _: std::time::Instant,
    ) -> Option<Duration> {
        // At the token's exp, and within a day (Cognito's longest lifetime) so that
        // an absurd exp cannot overflow the cache's clock.
        let left = value.exp.saturating_sub(super::now_secs());
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

    fn claims(sub: &str, exp: u64) -> Claims {
        let payload = serde_json::json!({
            "sub": sub, "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test",
            "token_use": "access", "exp": exp, "scope": "a/b",
        });
        let serde_json::Value::Object(map) = payload else {
            unreachable!()
        };
        Claims::from_payload(map, Arc::from("us-east-1_test")).unwrap()
    }

    fn exp() -> u64 {
        super::super::now_secs() + 3600
    }

    /// Looks `token` up as the verifier does, inserting it on a miss; whether it hit.
    fn call(cache: &TokenCache, token: &str, key: &Arc<Key>) -> bool {
        let exp = exp();
        let hit = cache
            .get(
                token,
                |k, _| k.is_trusted(),
                |_| true,
                |_| Some(claims(token, exp)),
            )
            .is_some();
        if !hit {
            let verified = Verified {
                claims: claims(token, exp),
                key: Arc::clone(key),
                pool: 0,
            };
            cache.insert(token, verified);
        }
        hit
    }

    /// Hit rate of the hot tokens on a skewed workload: 3,000 hot users whose
    /// tokens make 40% of the calls, and a long tail of tokens each seen once
    /// (60%), through a cache of 4,000 entries, the per-thread slots emptied
    /// before every call so that only the shared tier answers.
    fn hot_hit_rate(policy: moka::policy::EvictionPolicy) -> f64 {
        const HOT: u64 = 3_000;
        const CALLS: u64 = 120_000;
        let cache = TokenCache::with_policy(4_000, policy);
        let key = Key::trusted_for_tests();
        // A fixed sequence (a linear congruential generator): the same run each time.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let (mut hot_calls, mut hot_hits) = (0u64, 0u64);
        for i in 0..CALLS {
            cache.settle();
            let r = next();
            if r % 10 < 4 {
                let token = format!("hot.{}.sig", r / 10 % HOT);
                let hit = call(&cache, &token, &key);
                // The first third warms the cache up.
                if i > CALLS / 3 {
                    hot_calls += 1;
                    hot_hits += u64::from(hit);
                }
            } else {
                call(&cache, &format!("tail.{i}.sig"), &key);
            }
        }
        hot_hits as f64 / hot_calls as f64
    }

    /// Tokens seen once do not push out tokens seen often: with TinyLFU (the
    /// policy this cache uses, moka's default) the hot users' tokens stay cached
    /// through the tail; with LRU, the tail pushes them out. Run with
    /// `--nocapture` to see both rates.
    #[test]
    fn a_long_tail_of_tokens_seen_once_does_not_push_out_hot_tokens() {
        let tiny_lfu = hot_hit_rate(moka::policy::EvictionPolicy::tiny_lfu());
        let lru = hot_hit_rate(moka::policy::EvictionPolicy::lru());
        println!(
            "hot-token hit rate, 3,000 hot users (40% of calls), a tail seen once (60%), \
             4,000 entries: TinyLFU {:.1}%, LRU {:.1}%",
            tiny_lfu * 100.0,
            lru * 100.0
        );
        assert!(tiny_lfu > 0.9, "TinyLFU hot hit rate {tiny_lfu}");
        assert!(tiny_lfu > lru + 0.2, "TinyLFU {tiny_lfu}, LRU {lru}");
    }

    /// A shared hit reads the claims again, for the token in hand, and a verdict
    /// whose key is no longer trusted is dropped on its first lookup.
    #[test]
    fn a_shared_hit_reads_the_claims_again_and_an_untrusted_verdict_is_dropped() {
        let cache = TokenCache::new(100);
        let key = Key::trusted_for_tests();
        assert!(!call(&cache, "a.b.c", &key));
        cache.settle();
        let mut read = 0;
        let got = cache.get(
            "a.b.c",
            |_, _| true,
            |_| true,
            |_| {
                read += 1;
                Some(claims("again", exp()))
            },
        );
        assert_eq!(got.map(|c| c.sub().to_owned()).as_deref(), Some("again"));
        assert_eq!(read, 1);
        // Now from this thread's slot: no second read.
        let got = cache.get("a.b.c", |_, _| true, |_| true, |_| unreachable!());
        assert!(got.is_some());
        cache.settle();
        assert!(
            cache
                .get("a.b.c", |_, _| false, |_| true, |_| unreachable!())
                .is_none()
        );
        cache.settle();
        assert!(
            cache
                .get("a.b.c", |_, _| true, |_| true, |_| unreachable!())
                .is_none()
        );
    }

    #[test]
    fn any_token_has_a_slot() {
        for token in ["", "a", "abcdefgh", "abcdefghi", "a.b.c", &"x".repeat(5000)] {
            assert!(local_slot(token) < LOCAL_SLOTS, "{token:?}");
        }
    }
}
