//! The verified-token cache: a token verified once is not verified again while
//! its verdict stands. Two tiers:
//!
//! - a table shared by every thread, keyed by the SHA-256 digest of the token's
//!   signing input (`header.payload`, [`Digest`]), the digest the RS256 check
//!   computes anyway, and holding the token's signature segment, compared byte
//!   for byte, and the verdict ([`Verdict`]: the key that verified the token,
//!   its `exp`, its pool). Nothing else the token says is stored twice: on a
//!   hit the claims are read again from the token in hand, which the digest and
//!   the signature prove is the one verified. An entry is 72 bytes in a fixed
//!   table (the key it names is shared) and the signature on the heap (342
//!   bytes for Cognito's 2048-bit keys), where the token and its parsed claims
//!   took about 4.5 KiB;
//! - in front of it, a few slots per thread holding the whole token and its parsed
//!   [`Claims`], which a hit reads without a lock, a hash or a parse.
//!
//! The shared table is set-associative: the digest picks one of 64 shards (each
//! behind its own mutex) and, in it, a set of [`WAYS`] entries. A lookup compares
//! at most sixteen digests, and the signature of the one that matches; an insert
//! writes one entry in place, reusing the signature's allocation of the entry it
//! replaces. No background work or queue follows an insert: a general
//! concurrent cache (moka, measured) spent 2 to 7 µs per miss-and-insert on this
//! machine, half the cost of the RSA check the cache exists to skip.
//!
//! Admission and eviction are TinyLFU's, per set: every shared lookup, hit or
//! miss, counts toward the digest's frequency in a count-min sketch (4-bit counts,
//! sixteen an entry, halved every ten lookups per entry, so that old popularity
//! fades). A
//! new verdict takes an empty entry, an expired one, or one whose key is no
//! longer trusted; when the set is full of live ones, it takes the place of the
//! one seen least often only if it has been seen more often than that one. So a
//! flood of tokens seen once (a long tail of users, or garbage signed by nobody,
//! which is never inserted) cannot push out the tokens of users who call often.
//!
//! Whether a verdict still stands (its key trusted, the token unexpired, its
//! pool's key set on schedule) is the verifier's to say: [`TokenCache::get`]
//! asks it. An expired verdict is never served; it stays until its entry is
//! needed, within the table's fixed size.

use super::claims::Claims;
use super::crypto::SigningDigest;
use super::keys::Key;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A token's key in the shared table: the SHA-256 digest of its signing input
/// (`header.payload`), the [`SigningDigest`] its RS256 check needs, so that a
/// miss hashes the token once for both. Collision-resistant in the signing
/// input; the entry holds the signature segment, compared in full, so an entry
/// found for a token means the same token (a signature taken from a log with
/// its end cut off, or any other, does not match). One hash of the signing
/// input and a comparison cost less than a second hash over the signature (342
/// bytes: about 280 ns on the machine of `BENCHMARKS.md`). Its bytes are
/// uniform, so they index the table directly: bytes 0-7 pick the shard, 8-15
/// the set, 16-31 the sketch's counters. Only verified tokens are inserted.
pub(crate) type Digest = [u8; 32];

/// A token's signing input and signature segment (empty without a dot).
fn split(token: &str) -> (&[u8], &[u8]) {
    match memchr::memrchr(b'.', token.as_bytes()) {
        Some(dot) => (&token.as_bytes()[..dot], &token.as_bytes()[dot + 1..]),
        None => (token.as_bytes(), b""),
    }
}

/// The digest of a token's signing input, the table's key for it.
fn signing_digest(signing_input: &[u8], token: &str) -> SigningDigest {
    super::token::touch(token);
    SigningDigest::of(signing_input)
}

#[cfg(test)]
fn digest(token: &str) -> Digest {
    *signing_digest(split(token).0, token).as_bytes()
}

/// Word `i` (0 to 3) of a digest, little-endian.
fn word(digest: &Digest, i: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[i * 8..i * 8 + 8]);
    u64::from_le_bytes(bytes)
}

/// `hash` mapped onto `0..n` by a multiply (Lemire's reduction): uniform for a
/// uniform hash, for any `n`, without a division.
fn reduce(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

/// Entries per set.
const WAYS: usize = 16;
/// Most shards: enough that two cores (or sixty-four) rarely wait for one lock.
const MAX_SHARDS: usize = 64;

/// A lookup that found nothing, with the digest it computed, so that neither
/// the RS256 check nor the insert after it computes it again. (Not the clocks
/// it read: the check may run later than the lookup, and reads them itself.)
pub(crate) struct Miss(Option<SigningDigest>);

impl Miss {
    /// A miss of a verifier without a cache, or one where nothing was computed.
    pub(crate) const NONE: Miss = Miss(None);

    /// The digest of the token's signing input, if the lookup computed it.
    pub(crate) fn signing_digest(&self) -> Option<&SigningDigest> {
        self.0.as_ref()
    }
}

/// The verified tokens of one verifier.
pub(super) struct TokenCache {
    /// Tells this verifier's entries apart in the per-thread slots.
    id: u64,
    shards: Box<[Mutex<Shard>]>,
}

impl TokenCache {
    /// A cache of at least `capacity` tokens (more than zero): the table holds
    /// `capacity` rounded up to whole sets in every shard (at most 1,023 more).
    pub(super) fn new(capacity: u64) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX).max(1);
        let sets = capacity.div_ceil(WAYS);
        let shards = sets.min(MAX_SHARDS);
        let sets_per_shard = sets.div_ceil(shards);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shards: (0..shards)
                .map(|_| Mutex::new(Shard::new(sets_per_shard)))
                .collect(),
        }
    }

    /// Entries the shared table holds at most.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.shards.len() * self.lock(0).sets.len() * WAYS
    }

    fn lock(&self, shard: usize) -> std::sync::MutexGuard<'_, Shard> {
        // Nothing panics while a shard is locked; were it to, the table is still
        // consistent (every write is one assignment).
        self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn shard_of(&self, digest: &Digest) -> usize {
        reduce(word(digest, 0), self.shards.len())
    }

    /// Remembers a token just verified, in this thread's slot and the shared
    /// table (if admitted). `miss` is what the lookup returned; `now`, the wall
    /// clock's seconds as the token's checks read them.
    pub(super) fn insert(&self, token: &str, miss: Miss, verified: Verified, now: u64) {
        let verdict = Verdict {
            key: Arc::clone(&verified.key),
            exp: verified.claims.exp(),
            pool: verified.pool,
        };
        remember(self.id, token, verified);
        let (signing_input, signature) = split(token);
        // The miss must be this token's: its digest is the entry's key.
        debug_assert!(
            miss.0
                .as_ref()
                .is_none_or(|d| d.as_bytes() == SigningDigest::of(signing_input).as_bytes()),
            "a miss of another token"
        );
        let digest = *miss
            .0
            .unwrap_or_else(|| signing_digest(signing_input, token))
            .as_bytes();
        self.lock(self.shard_of(&digest))
            .insert(digest, signature, verdict, now);
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
    ) -> Result<Claims, Miss> {
        // This thread's slots first: no lock, nothing shared written but one count.
        if let Some((pool, claims)) = self.local(token.as_bytes(), &valid) {
            return if on_schedule(pool) {
                Ok(claims)
            } else {
                Err(Miss::NONE)
            };
        }
        let (signing_input, signature) = split(token);
        let signing = signing_digest(signing_input, token);
        let digest = *signing.as_bytes();
        let hit = self
            .lock(self.shard_of(&digest))
            .get(&digest, signature, &valid);
        let miss = || Err(Miss(Some(signing.clone())));
        let Some(hit) = hit else {
            return miss();
        };
        if !on_schedule(hit.pool) {
            return miss();
        }
        let Some(claims) = claims(hit.pool) else {
            return miss();
        };
        remember(
            self.id,
            token,
            Verified {
                claims: claims.clone(),
                key: hit.key,
                pool: hit.pool,
            },
        );
        Ok(claims)
    }

    /// The pool and claims of `token` if this thread's slot for it holds
    /// exactly these bytes, for this verifier, and `valid` says its verdict
    /// still stands.
    fn local(&self, token: &[u8], valid: impl Fn(&Key, u64) -> bool) -> Option<(usize, Claims)> {
        LOCAL.with_borrow(|slots| {
            let entry = slots[local_slot(token)].as_ref()?;
            (entry.verifier == self.id
                && entry.token.as_bytes() == token
                && valid(&entry.verified.key, entry.verified.claims.exp()))
            .then(|| (entry.verified.pool, entry.verified.claims.clone()))
        })
    }

    /// The claims of a token this thread's slots hold, given as the bytes a
    /// request carried, not yet read as a token: only bytes equal to a token
    /// this verifier verified can match, so nothing else about them needs
    /// checking first. `None` when there is no such slot, when its verdict no
    /// longer stands, or when its pool's key set is off schedule: the caller
    /// then reads the token the usual way, which finds the same.
    pub(super) fn get_in_thread(
        &self,
        token: &[u8],
        valid: impl Fn(&Key, u64) -> bool,
        on_schedule: impl Fn(usize) -> bool,
    ) -> Option<Claims> {
        let (pool, claims) = self.local(token, valid)?;
        on_schedule(pool).then_some(claims)
    }

    /// Empties this thread's slots, for tests that read the shared tier.
    #[cfg(test)]
    fn settle(&self) {
        LOCAL.with_borrow_mut(|slots| slots.iter_mut().for_each(|slot| *slot = None));
    }
}

/// One shard of the shared table: its sets, and the sketch of how often the
/// digests that map to it were looked up.
struct Shard {
    sets: Box<[[Option<Entry>; WAYS]]>,
    sketch: Sketch,
}

struct Entry {
    digest: Digest,
    /// The token's signature segment, as it came: with the digest, the token.
    signature: Box<[u8]>,
    verdict: Verdict,
}

// What the docs say an entry costs: the digest, the signature's pointer and
// length, the key's pointer, `exp` and the pool's index; an empty entry is the
// key pointer's niche.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Option<Entry>>() == 72);

impl Shard {
    fn new(sets: usize) -> Self {
        Self {
            sets: (0..sets).map(|_| [const { None }; WAYS]).collect(),
            sketch: Sketch::new(sets * WAYS),
        }
    }

    fn set_of(&self, digest: &Digest) -> usize {
        reduce(word(digest, 1), self.sets.len())
    }

    /// The verdict for the token of `digest` and `signature`, if held and
    /// `valid`; one that is not valid is dropped. Counts the lookup either way.
    fn get(
        &mut self,
        digest: &Digest,
        signature: &[u8],
        valid: impl Fn(&Key, u64) -> bool,
    ) -> Option<Verdict> {
        self.sketch.count(digest);
        let set = self.set_of(digest);
        let way = self.sets[set]
            .iter()
            .position(|e| e.as_ref().is_some_and(|e| e.digest == *digest))?;
        let slot = &mut self.sets[set][way];
        let entry = slot.as_ref()?;
        // The same signing input under another signature is another token: not
        // this entry's, and no reason to drop it.
        if *entry.signature != *signature {
            return None;
        }
        if valid(&entry.verdict.key, entry.verdict.exp) {
            Some(entry.verdict.clone())
        } else {
            *slot = None;
            None
        }
    }

    fn insert(&mut self, digest: Digest, signature: &[u8], verdict: Verdict, now: u64) {
        let set = self.set_of(&digest);
        // The entry to write: this digest's own, an empty one, or an expired one.
        let free = self.sets[set].iter().position(|e| match e {
            None => true,
            Some(e) => e.digest == digest || e.verdict.exp <= now,
        });
        let way = match free {
            Some(way) => way,
            None => {
                // The live entry seen least often gives way, if the newcomer was
                // seen more often than it, or its key is no longer trusted.
                let (way, seen) = self.sets[set]
                    .iter()
                    .enumerate()
                    .filter_map(|(way, e)| Some((way, self.sketch.estimate(&e.as_ref()?.digest))))
                    .min_by_key(|&(_, seen)| seen)
                    .unwrap_or((0, 0));
                let untrusted = self.sets[set][way]
                    .as_ref()
                    .is_some_and(|e| !e.verdict.key.is_trusted());
                if !untrusted && self.sketch.estimate(&digest) <= seen {
                    return;
                }
                way
            }
        };
        match &mut self.sets[set][way] {
            // The entry given way keeps its allocation when the signature fits
            // it, as every signature of one key size does.
            Some(entry) if entry.signature.len() == signature.len() => {
                entry.digest = digest;
                entry.signature.copy_from_slice(signature);
                entry.verdict = verdict;
            }
            slot => {
                *slot = Some(Entry {
                    digest,
                    signature: signature.into(),
                    verdict,
                });
            }
        }
    }
}

/// A count-min sketch of 4-bit counts (in bytes, saturating at 15): how often
/// each digest was looked up, lately. Four counters a digest, picked by double
/// hashing from the digest's last 16 bytes; the estimate is the least of them.
/// Every ten lookups per entry of its shard, every count is halved.
struct Sketch {
    counts: Box<[u8]>,
    mask: usize,
    lookups: usize,
    halve_after: usize,
}

impl Sketch {
    fn new(entries: usize) -> Self {
        // Sixteen counts an entry, as Caffeine's sketch has: the digests looked up
        // between two halvings are many more than the entries.
        let width = entries.saturating_mul(16).next_power_of_two().max(64);
        Self {
            counts: vec![0; width].into_boxed_slice(),
            mask: width - 1,
            lookups: 0,
            halve_after: entries.saturating_mul(10).max(1),
        }
    }

    fn indices(&self, digest: &Digest) -> [usize; 4] {
        let (h1, h2) = (word(digest, 2), word(digest, 3) | 1);
        std::array::from_fn(|i| (h1.wrapping_add(h2.wrapping_mul(i as u64)) as usize) & self.mask)
    }

    fn count(&mut self, digest: &Digest) {
        for i in self.indices(digest) {
            let c = &mut self.counts[i];
            *c = (*c + 1).min(15);
        }
        self.lookups += 1;
        if self.lookups >= self.halve_after {
            self.lookups = 0;
            self.counts.iter_mut().for_each(|c| *c /= 2);
        }
    }

    fn estimate(&self, digest: &Digest) -> u8 {
        self.indices(digest)
            .into_iter()
            .map(|i| self.counts[i])
            .min()
            .unwrap_or(0)
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

/// What the shared table holds of a verified token: no claims, no token.
#[derive(Clone)]
struct Verdict {
    key: Arc<Key>,
    exp: u64,
    pool: usize,
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
    /// Reused by the next token the slot takes: no allocation while it fits
    /// (at most the verifier's token size limit).
    token: String,
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
fn local_slot(token: &(impl AsRef<[u8]> + ?Sized)) -> usize {
    let bytes = token.as_ref();
    let mut word = [0u8; 8];
    match bytes.len().checked_sub(9) {
        // A fixed-size copy is one load; a copy of a length known only at run
        // time is a call to memcpy, on every hit.
        Some(start) => word.copy_from_slice(&bytes[start..start + 8]),
        None => {
            let end = bytes.len().saturating_sub(1);
            word[..end].copy_from_slice(&bytes[..end]);
        }
    }
    let mixed = u64::from_le_bytes(word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - LOCAL_SLOTS.trailing_zeros())) as usize
}

/// Puts a verified token in this thread's slot for it.
fn remember(verifier: u64, token: &str, verified: Verified) {
    LOCAL.with_borrow_mut(|slots| match &mut slots[local_slot(token)] {
        Some(entry) => {
            entry.verifier = verifier;
            entry.token.clear();
            entry.token.push_str(token);
            entry.verified = verified;
        }
        empty @ None => {
            *empty = Some(LocalEntry {
                verifier,
                token: token.to_owned(),
                verified,
            });
        }
    });
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

    /// The key is the digest of the signing input, the one the RS256 check
    /// uses; the signature is compared in full: the same header and payload
    /// under another signature (one character changed, or cut short) is not a
    /// hit, and leaves the genuine token's entry in place.
    #[test]
    fn the_signature_is_compared_in_full() {
        assert_eq!(
            digest("header.payload.signature-a"),
            *SigningDigest::of(b"header.payload").as_bytes()
        );
        assert_eq!(
            digest("header.payload.signature-a"),
            digest("header.payload.signature-b")
        );
        assert_ne!(
            digest("header.payload.signature-a"),
            digest("header.payloaD.signature-a")
        );
        let cache = TokenCache::new(100);
        let key = Key::trusted_for_tests();
        assert!(!call(&cache, "header.payload.signature-a", &key));
        for other in [
            "header.payload.signature-b",
            "header.payload.signature-",
            "header.payload.signature-aa",
            "header.payload.",
            "header.payload",
        ] {
            cache.settle();
            let got = cache.get(other, |_, _| true, |_| true, |_| unreachable!());
            assert!(got.is_err(), "{other:?} was a hit");
        }
        cache.settle();
        assert!(call(&cache, "header.payload.signature-a", &key));
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

    /// A signature segment for the tests that use the shard directly.
    const SIGNATURE: &[u8] = b"signature";

    fn exp() -> u64 {
        super::super::now_secs() + 3600
    }

    /// Looks `token` up as the verifier does, inserting it on a miss; whether it hit.
    fn call(cache: &TokenCache, token: &str, key: &Arc<Key>) -> bool {
        let exp = exp();
        match cache.get(
            token,
            |k, _| k.is_trusted(),
            |_| true,
            |_| Some(claims(token, exp)),
        ) {
            Ok(_) => true,
            Err(miss) => {
                let verified = Verified {
                    claims: claims(token, exp),
                    key: Arc::clone(key),
                    pool: 0,
                };
                cache.insert(token, miss, verified, super::super::now_secs());
                false
            }
        }
    }

    /// A fixed sequence (a linear congruential generator): the same run each time.
    fn sequence() -> impl FnMut() -> u64 {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        }
    }

    /// Hit rate of the hot tokens on a skewed workload: 3,000 hot users whose
    /// tokens make 40% of the calls, and a long tail of tokens each seen once
    /// (60%), through a cache of 4,000 entries; `call` looks a token up and
    /// inserts it on a miss, and says whether it hit.
    fn hot_hit_rate(mut call: impl FnMut(&str) -> bool) -> f64 {
        const HOT: u64 = 3_000;
        const CALLS: u64 = 120_000;
        let mut next = sequence();
        let (mut hot_calls, mut hot_hits) = (0u64, 0u64);
        for i in 0..CALLS {
            let r = next();
            if r % 10 < 4 {
                let hit = call(&format!("hot.{}.sig", r / 10 % HOT));
                // The first third warms the cache up.
                if i > CALLS / 3 {
                    hot_calls += 1;
                    hot_hits += u64::from(hit);
                }
            } else {
                call(&format!("tail.{i}.sig"));
            }
        }
        hot_hits as f64 / hot_calls as f64
    }

    /// Tokens seen once do not push out tokens seen often: with this table's
    /// TinyLFU admission the hot users' tokens stay cached through the tail, as
    /// well as in moka's cache (its default policy, TinyLFU with LRU order), and
    /// far better than with LRU, where the tail pushes them out. The per-thread
    /// slots are emptied before every call, so that only the shared tier
    /// answers. Run with `--nocapture` to see the rates.
    #[test]
    fn a_long_tail_of_tokens_seen_once_does_not_push_out_hot_tokens() {
        let key = Key::trusted_for_tests();
        let cache = TokenCache::new(4_000);
        let table = hot_hit_rate(|token| {
            cache.settle();
            call(&cache, token, &key)
        });
        let moka = |policy| {
            let cache: moka::sync::Cache<Digest, ()> = moka::sync::Cache::builder()
                .max_capacity(4_000)
                .eviction_policy(policy)
                .build();
            hot_hit_rate(|token| {
                cache.run_pending_tasks();
                let digest = digest(token);
                let hit = cache.get(&digest).is_some();
                if !hit {
                    cache.insert(digest, ());
                }
                hit
            })
        };
        let tiny_lfu = moka(moka::policy::EvictionPolicy::tiny_lfu());
        let lru = moka(moka::policy::EvictionPolicy::lru());
        println!(
            "hot-token hit rate, 3,000 hot users (40% of calls), a tail seen once (60%), \
             4,000 entries: this table {:.1}%, moka TinyLFU (its default) {:.1}%, moka LRU {:.1}%",
            table * 100.0,
            tiny_lfu * 100.0,
            lru * 100.0
        );
        assert!(table > 0.9, "hot hit rate {table}");
        assert!(table > lru + 0.2, "this table {table}, LRU {lru}");
    }

    /// The table holds what it was asked to, rounded up to whole sets per shard.
    #[test]
    fn capacity_is_what_was_asked_rounded_up_to_whole_sets() {
        for (asked, held) in [
            (1, 16),
            (16, 16),
            (17, 32),
            (10_000, 10_240),
            (100_000, 100_352),
        ] {
            let cache = TokenCache::new(asked);
            assert_eq!(cache.capacity(), held, "asked {asked}");
        }
        // More distinct tokens than the table holds: each set keeps what fits.
        let cache = TokenCache::new(64);
        let key = Key::trusted_for_tests();
        for i in 0..1_000 {
            call(&cache, &format!("t.{i}.s"), &key);
        }
        let held: usize = (0..cache.shards.len())
            .map(|s| cache.lock(s).sets.iter().flatten().flatten().count())
            .sum();
        assert!(held <= 64, "{held} entries in a table of 64");
    }

    /// A shard of one set, the wall clock's seconds, and verdicts of one
    /// trusted key by `exp`.
    fn one_set() -> (Shard, u64, impl Fn(u64) -> Verdict) {
        let key = Key::trusted_for_tests();
        let verdict = move |exp| Verdict {
            key: Arc::clone(&key),
            exp,
            pool: 0,
        };
        (Shard::new(1), super::super::now_secs(), verdict)
    }

    /// An expired verdict is never served, and its entry is the first to go.
    #[test]
    fn an_expired_verdict_gives_way_to_a_new_one() {
        let (mut shard, now, verdict) = one_set();
        // A full set of live verdicts, each looked up often.
        let digests: Vec<Digest> = (0..WAYS).map(|i| digest(&format!("live-{i}"))).collect();
        for d in &digests {
            shard.insert(*d, SIGNATURE, verdict(now + 3600), now);
            for _ in 0..5 {
                assert!(shard.get(d, SIGNATURE, |_, _| true).is_some());
            }
        }
        // A newcomer seen once does not push out any of them...
        let new = digest("new");
        shard.get(&new, SIGNATURE, |_, _| true);
        shard.insert(new, SIGNATURE, verdict(now + 3600), now);
        assert!(shard.get(&new, SIGNATURE, |_, _| true).is_none());
        // ...but takes the place of one that has expired.
        shard.insert(digests[3], SIGNATURE, verdict(now - 1), now);
        shard.insert(new, SIGNATURE, verdict(now + 3600), now);
        assert!(shard.get(&new, SIGNATURE, |_, _| true).is_some());
        assert!(shard.get(&digests[3], SIGNATURE, |_, _| true).is_none());
        // A verdict `valid` refuses is dropped on its lookup.
        assert!(shard.get(&digests[0], SIGNATURE, |_, _| false).is_none());
        assert!(shard.get(&digests[0], SIGNATURE, |_, _| true).is_none());
    }

    /// An entry that gives way keeps its signature's allocation when the
    /// newcomer's signature has the same length, and holds the newcomer's bytes
    /// after: the newcomer hits under its own signature only, the token it
    /// replaced no longer does, and a longer signature gets an allocation of its
    /// own.
    #[test]
    fn a_replaced_entry_holds_the_newcomers_signature() {
        let (mut shard, now, verdict) = one_set();
        let (old, new, long) = (digest("old"), digest("new"), digest("long"));
        shard.insert(old, b"signature-old", verdict(now - 1), now);
        let allocation = shard.sets[0][0].as_ref().unwrap().signature.as_ptr();
        shard.insert(new, b"signature-new", verdict(now + 3600), now);
        let entry = shard.sets[0][0].as_ref().unwrap();
        assert_eq!(entry.digest, new);
        assert_eq!(
            entry.signature.as_ptr(),
            allocation,
            "the allocation is reused"
        );
        assert!(shard.get(&new, b"signature-new", |_, _| true).is_some());
        assert!(shard.get(&new, b"signature-old", |_, _| true).is_none());
        assert!(shard.get(&old, b"signature-old", |_, _| true).is_none());
        // Expired again, then replaced by a longer signature.
        shard.insert(new, b"signature-new", verdict(now - 1), now);
        shard.insert(long, b"a-longer-signature", verdict(now + 3600), now);
        assert!(
            shard
                .get(&long, b"a-longer-signature", |_, _| true)
                .is_some()
        );
        assert!(
            shard
                .get(&long, b"a-longer-signatur", |_, _| true)
                .is_none()
        );
        assert!(shard.get(&new, b"signature-new", |_, _| true).is_none());
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
        assert_eq!(
            got.ok().map(|c| c.sub().to_owned()).as_deref(),
            Some("again")
        );
        assert_eq!(read, 1);
        // Now from this thread's slot: no second read.
        let got = cache.get("a.b.c", |_, _| true, |_| true, |_| unreachable!());
        assert!(got.is_ok());
        cache.settle();
        assert!(
            cache
                .get("a.b.c", |_, _| false, |_| true, |_| unreachable!())
                .is_err()
        );
        cache.settle();
        assert!(
            cache
                .get("a.b.c", |_, _| true, |_| true, |_| unreachable!())
                .is_err()
        );
    }

    #[test]
    fn any_token_has_a_slot() {
        for token in ["", "a", "abcdefgh", "abcdefghi", "a.b.c", &"x".repeat(5000)] {
            assert!(local_slot(token) < LOCAL_SLOTS, "{token:?}");
        }
    }

    /// The slot is read from the 8 bytes before the last (zeros in front when
    /// there are fewer), at every length: the last byte and anything before
    /// those 8 do not move it.
    #[test]
    fn the_slot_comes_from_the_eight_bytes_before_the_last() {
        let text: Vec<u8> = (0..40u8).map(|i| b'A' + i).collect();
        for len in 0..text.len() {
            let token = &text[..len];
            let end = len.saturating_sub(1);
            let start = end.saturating_sub(8);
            let mut word = [0u8; 8];
            word[..end - start].copy_from_slice(&token[start..end]);
            let expected = (u64::from_le_bytes(word).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                >> (64 - LOCAL_SLOTS.trailing_zeros())) as usize;
            assert_eq!(local_slot(token), expected, "{len} bytes");
            if len > 9 {
                let mut changed = token.to_vec();
                changed[0] ^= 1;
                changed[len - 1] ^= 1;
                assert_eq!(local_slot(&changed), expected, "{len} bytes, ends changed");
            }
        }
    }

    /// What a miss and its insert cost in this table and in moka (with the key,
    /// value and per-entry expiry the crate used), full caches, 100,000 digests
    /// cycling. A measurement for BENCHMARKS.md, not a test of speed:
    /// `cargo test --release --lib miss_and_insert_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement; run with --ignored --nocapture"]
    fn miss_and_insert_cost() {
        struct UntilExp;
        impl moka::Expiry<Digest, Verdict> for UntilExp {
            fn expire_after_create(
                &self,
                _: &Digest,
                value: &Verdict,
                _: std::time::Instant,
            ) -> Option<std::time::Duration> {
                Some(std::time::Duration::from_secs(value.exp))
            }
        }
        const KEYS: usize = 100_000;
        const CALLS: usize = 2_000_000;
        let key = Key::trusted_for_tests();
        let now = super::super::now_secs();
        let digests: Vec<Digest> = (0..KEYS).map(|i| digest(&i.to_string())).collect();
        let verdict = || Verdict {
            key: Arc::clone(&key),
            exp: now + 3600,
            pool: 0,
        };
        let token = "t".repeat(1_061);
        let started = std::time::Instant::now();
        for _ in 0..CALLS / 10 {
            std::hint::black_box(digest(std::hint::black_box(&token)));
        }
        let hashed = started.elapsed().as_nanos() as f64 / (CALLS / 10) as f64;
        println!("SHA-256 of a 1,061-byte token: {hashed:.0} ns");
        for capacity in [16u64, 10_000] {
            let table = TokenCache::new(capacity);
            let started = std::time::Instant::now();
            for i in 0..CALLS {
                let d = digests[i % KEYS];
                let shard = table.shard_of(&d);
                if table.lock(shard).get(&d, SIGNATURE, |_, _| true).is_none() {
                    table.lock(shard).insert(d, SIGNATURE, verdict(), now);
                }
            }
            let ours = started.elapsed().as_nanos() as f64 / CALLS as f64;
            let moka: moka::sync::Cache<Digest, Verdict> = moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExp)
                .build();
            let started = std::time::Instant::now();
            for i in 0..CALLS {
                let d = digests[i % KEYS];
                if moka.get(&d).is_none() {
                    moka.insert(d, verdict());
                }
            }
            let theirs = started.elapsed().as_nanos() as f64 / CALLS as f64;
            println!(
                "capacity {capacity}, {KEYS} digests cycling: lookup and insert {ours:.0} ns in this table, {theirs:.0} ns in moka"
            );
        }
    }
}
