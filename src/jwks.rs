//! A user pool's key set: fetching the JWKS, caching decoded keys, refreshing.

use crate::error::{AuthError, AuthErrorKind};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use moka::future::Cache;
use reqwest::Url;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (bounds the cost of one verification).
pub(crate) const MAX_RSA_BITS: usize = 8192;
/// Most keys kept from one JWKS.
pub(crate) const MAX_KEYS: usize = 1024;

/// How the key sets of all pools of one verifier are fetched and kept.
#[derive(Clone, Debug)]
pub(crate) struct KeySettings {
    pub(crate) client: reqwest::Client,
    pub(crate) fetch_timeout: Duration,
    pub(crate) max_jwks_size: usize,
    pub(crate) refresh_interval: Duration,
    pub(crate) unknown_kid_cooldown: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_stale: Duration,
}

/// One RSA public key from a JWKS.
pub(crate) struct Key {
    kid: String,
    decoding: DecodingKey,
    removed: AtomicBool,
}

impl Key {
    pub(crate) fn verify(&self, message: &[u8], signature: &Vec<u8>) -> bool {
        crate::crypto::verify_rs256(&self.decoding, message, signature)
    }

    /// Whether a refresh found this key gone from the pool's key set.
    pub(crate) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// Decodes one JWK, applying every rule a Cognito signing key must meet.
pub(crate) fn decode_key(jwk: &Value) -> Result<Key, &'static str> {
    let field = |name: &str| jwk.get(name);
    let text = |name: &str| -> Result<Option<&str>, &'static str> {
        match field(name) {
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
    let bits = n.first().map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
    if bits < MIN_RSA_BITS {
        return Err("modulus is shorter than 2048 bits");
    }
    if bits > MAX_RSA_BITS {
        return Err("modulus is longer than 8192 bits");
    }
    if e.is_empty() || e.len() > 4 || e.last().is_some_and(|b| b & 1 == 0) || e == [1] {
        return Err("exponent is not an odd number from 3 to 2^32");
    }
    Ok(Key {
        kid: kid.to_owned(),
        decoding: DecodingKey::from_rsa_raw_components(n, e),
        removed: AtomicBool::new(false),
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Parses a JWKS document. Keys that break a rule are skipped with a log line;
/// the set fails only when no usable key is left.
pub(crate) fn parse_jwks(body: &[u8], url: &Url) -> Result<HashMap<String, Arc<Key>>, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = HashMap::new();
    for (index, jwk) in set.keys.iter().enumerate() {
        if keys.len() >= MAX_KEYS {
            tracing::warn!(%url, "JWKS has more than {MAX_KEYS} usable keys; the rest are ignored");
            break;
        }
        match decode_key(jwk) {
            Ok(key) => {
                if keys.contains_key(&key.kid) {
                    tracing::warn!(%url, index, kid = %key.kid, "JWKS repeats a kid; the first key is kept");
                } else {
                    keys.insert(key.kid.clone(), Arc::new(key));
                }
            }
            Err(reason) => tracing::warn!(%url, index, reason, "skipping unusable key in JWKS"),
        }
    }
    if keys.is_empty() {
        return Err("JWKS has no usable RS256 key".to_owned());
    }
    Ok(keys)
}

/// The key set of one user pool: decoded keys in a moka cache, refreshed in the
/// background, refetched (rate-limited) when an unknown `kid` appears, kept while
/// the endpoint fails (up to `max_stale`).
pub(crate) struct KeySource {
    url: Url,
    settings: Arc<KeySettings>,
    keys: Cache<String, Arc<Key>>,
    state: Mutex<FetchState>,
    /// Held for the duration of a fetch: one fetch at a time (single flight).
    fetch_lock: tokio::sync::Mutex<()>,
    /// Bumped after every fetch attempt, so waiters can tell one happened.
    generation: AtomicU64,
    /// Milliseconds after `epoch` at which a background refresh is due.
    refresh_due_ms: AtomicU64,
    refreshing: AtomicBool,
    epoch: Instant,
}

#[derive(Default)]
struct FetchState {
    /// No fetch may start before this (cooldown after success, back-off after failure).
    next_attempt: Option<Instant>,
    consecutive_failures: u32,
    last_error: Option<String>,
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySource").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

impl KeySource {
    pub(crate) fn new(url: Url, settings: Arc<KeySettings>) -> Self {
        let keys = Cache::builder()
            .max_capacity(MAX_KEYS as u64)
            .time_to_live(settings.max_stale)
            .build();
        Self {
            url,
            settings,
            keys,
            state: Mutex::new(FetchState::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            refresh_due_ms: AtomicU64::new(u64::MAX),
            refreshing: AtomicBool::new(false),
            epoch: Instant::now(),
        }
    }

    /// The key with this `kid`, fetching the set if it is not known yet and a fetch
    /// is allowed now.
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<Key>, AuthError> {
        if let Some(key) = self.keys.get(kid).await {
            self.tick();
            return Ok(key);
        }
        let seen = self.generation.load(Ordering::Acquire);
        {
            let _fetching = self.fetch_lock.lock().await;
            // If a fetch finished while we waited, its result is what we wanted.
            if self.generation.load(Ordering::Acquire) == seen && self.may_fetch_now() {
                self.fetch_and_store("unknown kid").await;
            }
        }
        if let Some(key) = self.keys.get(kid).await {
            return Ok(key);
        }
        Err(self.miss_error())
    }

    /// Fetches the set now unless one is present, for start-up. Returns the error
    /// of the fetch if it failed.
    pub(crate) async fn prefetch(self: &Arc<Self>) -> Result<(), AuthError> {
        let _fetching = self.fetch_lock.lock().await;
        if self.is_ready() {
            return Ok(());
        }
        self.fetch_and_store("prefetch").await;
        if self.is_ready() {
            Ok(())
        } else {
            Err(self.miss_error())
        }
    }

    /// Whether the source holds a usable key set.
    pub(crate) fn is_ready(&self) -> bool {
        self.keys.iter().next().is_some()
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, FetchState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn miss_error(&self) -> AuthError {
        let state = self.lock_state();
        match &state.last_error {
            Some(reason) => AuthError::new(
                AuthErrorKind::KeySetUnavailable,
                format!("JWKS {} unavailable: {reason}", self.url),
            ),
            None => AuthError::new(
                AuthErrorKind::UnknownKey,
                format!("no key with the token's kid in JWKS {}", self.url),
            ),
        }
    }

    fn may_fetch_now(&self) -> bool {
        self.lock_state()
            .next_attempt
            .is_none_or(|at| Instant::now() >= at)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Starts a background refresh when one is due. Cheap: one atomic load when not.
    pub(crate) fn tick(self: &Arc<Self>) {
        if self.now_ms() < self.refresh_due_ms.load(Ordering::Relaxed) {
            return;
        }
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refreshing.store(false, Ordering::Release);
            return;
        };
        let this = Arc::clone(self);
        runtime.spawn(async move {
            {
                let _fetching = this.fetch_lock.lock().await;
                if this.may_fetch_now() {
                    this.fetch_and_store("refresh").await;
                } else {
                    this.schedule_refresh(this.lock_state().next_attempt.unwrap_or_else(Instant::now));
                }
            }
            this.refreshing.store(false, Ordering::Release);
        });
    }

    fn schedule_refresh(&self, at: Instant) {
        let ms = at.saturating_duration_since(self.epoch).as_millis() as u64;
        self.refresh_due_ms.store(ms, Ordering::Relaxed);
    }

    /// Fetches the set and stores it. Must be called with `fetch_lock` held.
    async fn fetch_and_store(&self, why: &'static str) {
        tracing::debug!(url = %self.url, why, "fetching JWKS");
        let result = self.fetch().await;
        let now = Instant::now();
        match result {
            Ok(fresh) => {
                let mut added = Vec::new();
                for (kid, key) in &fresh {
                    let known = self.keys.get(kid.as_str()).await;
                    if known.is_none() {
                        added.push(kid.as_str());
                    }
                    // Re-inserting restarts the entry's staleness clock.
                    self.keys.insert(kid.clone(), known.unwrap_or_else(|| Arc::clone(key))).await;
                }
                let removed: Vec<Arc<String>> = self
                    .keys
                    .iter()
                    .map(|(kid, _)| kid)
                    .filter(|kid| !fresh.contains_key(kid.as_str()))
                    .collect();
                for kid in &removed {
                    if let Some(old) = self.keys.remove(kid.as_str()).await {
                        old.removed.store(true, Ordering::Relaxed);
                    }
                }
                if !added.is_empty() || !removed.is_empty() {
                    tracing::info!(url = %self.url, ?added, ?removed, "JWKS keys changed");
                }
                let mut state = self.lock_state();
                state.next_attempt = Some(now + self.settings.unknown_kid_cooldown);
                state.consecutive_failures = 0;
                state.last_error = None;
                drop(state);
                self.schedule_refresh(now + self.settings.refresh_interval);
            }
            Err(reason) => {
                let mut state = self.lock_state();
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                let exponent = state.consecutive_failures.saturating_sub(1).min(16);
                let backoff = self
                    .settings
                    .unknown_kid_cooldown
                    .saturating_mul(1 << exponent)
                    .min(self.settings.max_backoff);
                let retry = now + backoff;
                state.next_attempt = Some(retry);
                tracing::warn!(
                    url = %self.url,
                    %reason,
                    failures = state.consecutive_failures,
                    retry_in_ms = backoff.as_millis() as u64,
                    "JWKS fetch failed; keeping the last good key set"
                );
                state.last_error = Some(reason);
                drop(state);
                self.schedule_refresh(retry);
            }
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<Key>>, String> {
        let max = self.settings.max_jwks_size;
        let mut response = self
            .settings
            .client
            .get(self.url.clone())
            .header(http::header::ACCEPT, "application/json")
            .timeout(self.settings.fetch_timeout)
            .send()
            .await
            .map_err(describe)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("HTTP status {}", response.status()));
        }
        if response.content_length().is_some_and(|len| len > max as u64) {
            return Err(format!("response is larger than the {max}-byte limit"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > max {
                return Err(format!("response is larger than the {max}-byte limit"));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body, &self.url)
    }
}

fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = if err.is_timeout() {
        "timed out".to_owned()
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(&err);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
