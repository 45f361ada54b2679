//! The load balancer's public keys: one PEM document per `kid`, fetched from the
//! regional key endpoint and kept, with the same discipline as the JWKS key
//! source (`crate::verifier::keys`):
//!
//! - **Known `kid`** (the hot path): one lookup in a moka cache. No lock, no await.
//! - **Single flight per `kid`**: the first request for an unknown `kid` starts
//!   a fetch in its own task (a request that goes away cannot cancel it); the
//!   others for that `kid` wait for the same fetch.
//! - **A rate limit on new `kid`s**: a key endpoint is asked per `kid`, so a
//!   flood of random `kid`s could otherwise cost a fetch each. Fetches start at
//!   most `unknown_kid_burst` at once and then one per `unknown_kid_cooldown`
//!   (a token bucket); a `kid` the endpoint answered 404 for is remembered for a
//!   cooldown and refused without a fetch.
//! - **Failures back off**: after a failed fetch (timeout, 5xx, a body that is
//!   not a P-256 key in PEM), no fetch starts for the cooldown, doubling per
//!   consecutive failure up to `max_backoff`; keys already held keep serving.
//! - **Bounded fetches**: one total timeout, status 200 only, `Content-Length`
//!   checked first, the body read chunk by chunk and abandoned at
//!   `max_key_size`; the default client follows no redirects.
//! - **Parsed once**: a key is checked to be an uncompressed P-256 point in a
//!   SubjectPublicKeyInfo and prepared for the backend when it is fetched.

use crate::defaults::{FETCH_TIMEOUT_SLACK, MAX_ALB_KEYS, MAX_MISSING_KIDS, MIN_RETRY_DELAY};
use crate::error::{AuthError, AuthErrorKind};
use crate::verifier::keys::FetchSettings;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use moka::sync::Cache;
use reqwest::Url;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The DER of a P-256 SubjectPublicKeyInfo up to its point: SEQUENCE {
/// SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (65 bytes) }.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A P-256 public key, prepared once for the backend in use.
pub(crate) struct EcPublicKey {
    #[cfg(feature = "aws-lc-rs")]
    parsed: aws_lc_rs::signature::ParsedPublicKey,
    #[cfg(not(feature = "aws-lc-rs"))]
    decoding: jsonwebtoken::DecodingKey,
}

impl EcPublicKey {
    /// From an uncompressed point (`04 || x || y`); `None` when it is not on the curve.
    fn new(point: &[u8]) -> Option<Self> {
        #[cfg(feature = "aws-lc-rs")]
        {
            use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
            ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .ok()
                .map(|parsed| Self { parsed })
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            use jsonwebtoken::{Algorithm, DecodingKey};
            let decoding = DecodingKey::from_ec_der(point);
            // The RustCrypto verifier checks the point when it is made.
            (crate::verifier::crypto::provider().verifier_factory)(&Algorithm::ES256, &decoding)
                .ok()?;
            Some(Self { decoding })
        }
    }

    /// Checks an ES256 signature (`r || s`) over `message`.
    pub(crate) fn verify_es256(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        #[cfg(feature = "aws-lc-rs")]
        {
            self.parsed.verify_sig(message, signature).is_ok()
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            use jsonwebtoken::Algorithm;
            match (crate::verifier::crypto::provider().verifier_factory)(
                &Algorithm::ES256,
                &self.decoding,
            ) {
                Ok(verifier) => verifier.verify(message, &signature.to_vec()).is_ok(),
                Err(_) => false,
            }
        }
    }
}

/// Reads a public key document as the key endpoint serves it: one
/// `-----BEGIN PUBLIC KEY-----` block (SubjectPublicKeyInfo) holding an
/// uncompressed P-256 point. Anything else is refused, with a reason that
/// never quotes the body.
pub(crate) fn parse_pem(body: &[u8]) -> Result<EcPublicKey, &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8")?;
    let inner = text
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|rest| rest.strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or("the body is not one PEM PUBLIC KEY block")?;
    let base64: String = inner.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD
        .decode(base64)
        .map_err(|_| "the PEM block is not base64")?;
    let point = der
        .strip_prefix(&P256_SPKI_PREFIX[..])
        .filter(|point| point.len() == 65 && point[0] == 0x04)
        .ok_or("the key is not an uncompressed P-256 public key")?;
    EcPublicKey::new(point).ok_or("the key is not a point on P-256")
}

/// One key of the load balancer.
pub(crate) struct AlbKey {
    kid: String,
    public: EcPublicKey,
}

impl AlbKey {
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.public.verify_es256(message, signature)
    }
}

impl fmt::Debug for AlbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlbKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// How one fetch ended, as those who waited for it see it.
#[derive(Clone, Debug)]
enum Outcome {
    Found,
    /// The endpoint has no key with that `kid` (404, or S3's 403).
    Missing,
    Failed(String),
}

type Flight = watch::Receiver<Option<Outcome>>;

#[derive(Debug, Default)]
struct FetchState {
    /// Fetches under way, by `kid`.
    flights: HashMap<String, Flight>,
    /// Token bucket as a theoretical arrival time (ms after the epoch): a fetch
    /// may start while this is at most `burst - 1` cooldowns ahead of now.
    bucket_ms: u64,
    /// No fetch starts before this (back-off), in ms after the epoch.
    retry_at_ms: u64,
    consecutive_failures: u32,
    last_error: Option<String>,
}

/// How keys are fetched and kept; the defaults are set and documented in
/// `AlbVerifierBuilder`, from the constants of [`crate::defaults`].
#[derive(Clone, Debug)]
pub(crate) struct KeySettings {
    /// The client, the timeout, the largest key (`max_key_size`) and the pace
    /// of fetches, as the JWKS source's.
    pub(crate) fetch: FetchSettings,
    pub(crate) unknown_kid_burst: u32,
    pub(crate) max_key_age: Duration,
}

/// The keys of one key endpoint; see the module docs.
pub(crate) struct KeySource {
    /// The endpoint's base URL, without a trailing `/`; a key is at `{base}/{kid}`.
    base: String,
    settings: KeySettings,
    keys: Cache<String, Arc<AlbKey>>,
    missing: Cache<String, ()>,
    state: Mutex<FetchState>,
    epoch: Instant,
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySource")
            .field("endpoint", &self.base)
            .field("keys", &self.keys.entry_count())
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the gate decided for an unknown `kid`.
enum Gate {
    /// A fetch is under way (maybe just started): wait for it.
    Wait(Flight),
    /// Another fetch ended while the lock was awaited.
    Ready(Arc<AlbKey>),
}

impl KeySource {
    pub(crate) fn new(base: String, settings: KeySettings) -> Self {
        let keys = Cache::builder()
            .max_capacity(MAX_ALB_KEYS)
            .time_to_live(settings.max_key_age)
            .build();
        let missing = Cache::builder()
            .max_capacity(MAX_MISSING_KIDS)
            .time_to_live(settings.fetch.unknown_kid_cooldown.max(MIN_RETRY_DELAY))
            .build();
        Self {
            base,
            settings,
            keys,
            missing,
            state: Mutex::new(FetchState::default()),
            epoch: Instant::now(),
        }
    }

    /// The endpoint's base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// The key with this `kid` (already checked by `token::check_kid`).
    ///
    /// Errors: `UnknownKey` when the endpoint has no such key (now, or within a
    /// cooldown), or when the rate limit allows no fetch while the endpoint is
    /// healthy; `KeySetUnavailable` when the fetch failed or the endpoint is
    /// backing off after failures.
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<AlbKey>, AuthError> {
        if let Some(key) = self.keys.get(kid) {
            return Ok(key);
        }
        if self.missing.contains_key(kid) {
            return Err(self.unknown(kid));
        }
        let mut flight = match self.begin_fetch(kid)? {
            Gate::Ready(key) => return Ok(key),
            Gate::Wait(flight) => flight,
        };
        let outcome = match flight.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone(),
            // The task was dropped (its runtime shut down) before it ended.
            Err(_) => Some(Outcome::Failed("the fetch was abandoned".to_owned())),
        };
        match outcome {
            Some(Outcome::Found) => self
                .keys
                .get(kid)
                .ok_or_else(|| self.unavailable("the fetched key was not kept")),
            Some(Outcome::Missing) => Err(self.unknown(kid)),
            Some(Outcome::Failed(reason)) => Err(self.unavailable(&reason)),
            None => Err(self.unavailable("the fetch ended without an outcome")),
        }
    }

    fn unknown(&self, kid: &str) -> AuthError {
        AuthError::new(
            AuthErrorKind::UnknownKey,
            format!(
                "the load balancer key endpoint {} has no key `{}`",
                self.base,
                kid.escape_debug()
            ),
        )
    }

    fn unavailable(&self, reason: &str) -> AuthError {
        AuthError::new(
            AuthErrorKind::KeySetUnavailable,
            format!(
                "no key from the load balancer key endpoint {}: {reason}",
                self.base
            ),
        )
    }

    /// The gate every fetch goes through: joins the fetch for `kid` under way,
    /// or starts one when the back-off and the rate limit allow.
    fn begin_fetch(self: &Arc<Self>, kid: &str) -> Result<Gate, AuthError> {
        let mut state = lock(&self.state);
        if let Some(flight) = state.flights.get(kid) {
            // `has_changed` fails once the fetch's task is gone.
            if flight.has_changed().is_ok() {
                return Ok(Gate::Wait(flight.clone()));
            }
            state.flights.remove(kid);
        }
        // A fetch may have ended between the caller's lookup and this lock.
        if let Some(key) = self.keys.get(kid) {
            return Ok(Gate::Ready(key));
        }
        if self.missing.contains_key(kid) {
            return Err(self.unknown(kid));
        }
        let now = self.now_ms();
        if now < state.retry_at_ms {
            let reason = state.last_error.as_deref().unwrap_or("fetches fail");
            return Err(self.unavailable(&format!(
                "{reason}; the next attempt is allowed in {} ms",
                state.retry_at_ms - now
            )));
        }
        let cooldown = millis(self.settings.fetch.unknown_kid_cooldown);
        let burst = u64::from(self.settings.unknown_kid_burst.max(1));
        let from = state.bucket_ms.max(now);
        if from - now > cooldown.saturating_mul(burst - 1) {
            if state.consecutive_failures > 0 {
                let reason = state.last_error.as_deref().unwrap_or("fetches fail");
                return Err(self.unavailable(reason));
            }
            // A healthy endpoint that was not asked: the client is told the key
            // is unknown, as the JWKS source says when its set is fresh.
            return Err(AuthError::new(
                AuthErrorKind::UnknownKey,
                format!(
                    "token kid `{}` is not known and the rate limit on fetches for new kids \
                     allows none from {} now",
                    kid.escape_debug(),
                    self.base
                ),
            ));
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(self.unavailable("no Tokio runtime to fetch in"));
        };
        let url = self.url(kid)?;
        state.bucket_ms = from.saturating_add(cooldown);
        let (sender, flight) = watch::channel(None);
        state.flights.insert(kid.to_owned(), flight.clone());
        drop(state);
        let this = Arc::clone(self);
        let kid = kid.to_owned();
        runtime.spawn(async move { this.run_fetch(kid, url, sender).await });
        Ok(Gate::Wait(flight))
    }

    fn url(&self, kid: &str) -> Result<Url, AuthError> {
        let url = format!("{}/{}", self.base, super::token::encode_kid(kid));
        Url::parse(&url).map_err(|_| self.unavailable("the key URL does not parse"))
    }

    async fn run_fetch(
        self: Arc<Self>,
        kid: String,
        url: Url,
        sender: watch::Sender<Option<Outcome>>,
    ) {
        let started = Instant::now();
        tracing::debug!(endpoint = %self.base, kid = %kid.escape_debug(), "fetching load balancer key");
        let limit = self
            .settings
            .fetch
            .fetch_timeout
            .saturating_add(FETCH_TIMEOUT_SLACK);
        let result = match tokio::time::timeout(limit, self.download(url)).await {
            Ok(result) => result,
            Err(_) => Err(Fetched::Failed("timed out".to_owned())),
        };
        let took_ms = millis(started.elapsed());
        let outcome = match result {
            Ok(public) => {
                let key = Arc::new(AlbKey {
                    kid: kid.clone(),
                    public,
                });
                self.keys.insert(kid.clone(), key);
                tracing::info!(endpoint = %self.base, kid = %kid.escape_debug(), took_ms, "loaded load balancer key");
                Outcome::Found
            }
            Err(Fetched::Missing(status)) => {
                self.missing.insert(kid.clone(), ());
                tracing::debug!(endpoint = %self.base, kid = %kid.escape_debug(), status, "the key endpoint has no such key");
                Outcome::Missing
            }
            Err(Fetched::Failed(reason)) => Outcome::Failed(reason),
        };
        let mut state = lock(&self.state);
        match &outcome {
            Outcome::Failed(reason) => {
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                let backoff = self.settings.fetch.backoff(state.consecutive_failures);
                state.retry_at_ms = self.now_ms().saturating_add(millis(backoff));
                tracing::warn!(
                    endpoint = %self.base,
                    kid = %kid.escape_debug(),
                    %reason,
                    failures = state.consecutive_failures,
                    retry_in_ms = millis(backoff),
                    took_ms,
                    "load balancer key fetch failed; keys already held keep serving"
                );
                state.last_error = Some(reason.clone());
            }
            Outcome::Found | Outcome::Missing => {
                if state.consecutive_failures > 0 {
                    tracing::info!(
                        endpoint = %self.base,
                        failures = state.consecutive_failures,
                        "load balancer key endpoint answers again after failures"
                    );
                }
                state.consecutive_failures = 0;
                state.last_error = None;
            }
        }
        if state
            .flights
            .get(&kid)
            .is_some_and(|flight| flight.same_channel(&sender.subscribe()))
        {
            state.flights.remove(&kid);
        }
        drop(state);
        let _ = sender.send(Some(outcome));
    }

    async fn download(&self, url: Url) -> Result<EcPublicKey, Fetched> {
        let max = self.settings.fetch.max_size;
        let mut response = self
            .settings
            .fetch
            .client
            .get(url)
            .timeout(self.settings.fetch.fetch_timeout)
            .send()
            .await
            .map_err(|e| Fetched::Failed(describe(e)))?;
        let status = response.status();
        // S3 (the GovCloud endpoints) answers 403 for an object that does not exist.
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
            return Err(Fetched::Missing(status.as_u16()));
        }
        if status != reqwest::StatusCode::OK {
            return Err(Fetched::Failed(format!("HTTP status {status}")));
        }
        if let Some(length) = response.content_length().filter(|&len| len > max as u64) {
            return Err(Fetched::Failed(format!(
                "Content-Length {length} is over the {max}-byte limit"
            )));
        }
        let mut body =
            Vec::with_capacity(response.content_length().unwrap_or(0).min(max as u64) as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Fetched::Failed(describe(e)))?
        {
            if chunk.len() > max - body.len() {
                return Err(Fetched::Failed(format!(
                    "response is over the {max}-byte limit"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        parse_pem(&body).map_err(|reason| Fetched::Failed(reason.to_owned()))
    }
}

/// Why a download gave no key.
enum Fetched {
    Missing(u16),
    Failed(String),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 public key in PEM, as the key endpoint serves it.
    fn pem() -> String {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = pair.public_key().as_der().unwrap();
        let b64 = STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn reads_a_p256_public_key_in_pem() {
        let pem = pem();
        assert!(parse_pem(pem.as_bytes()).is_ok());
        assert!(parse_pem(pem.replace('\n', "\r\n").as_bytes()).is_ok());
    }

    #[test]
    fn refuses_everything_else() {
        let pem = pem();
        let der = {
            let inner: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            STANDARD.decode(inner).unwrap()
        };
        let wrap = |der: &[u8]| {
            format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                STANDARD.encode(der)
            )
        };
        // Not on the curve: y changed.
        let mut off = der.clone();
        *off.last_mut().unwrap() ^= 1;
        // Compressed point (02 || x) in an SPKI of the right shape.
        let mut compressed = der.clone();
        compressed[26] = 0x02;
        // Another named curve's OID in place of P-256's.
        let mut other_curve = der.clone();
        other_curve[22] = 0x08;
        for (bad, why) in [
            (b"".to_vec(), "not one PEM"),
            (b"<html>Not Found</html>".to_vec(), "not one PEM"),
            (vec![0xff, 0xfe], "not UTF-8"),
            (
                pem.replace("PUBLIC KEY", "CERTIFICATE").into_bytes(),
                "not one PEM",
            ),
            (pem.replacen("M", "!", 1).into_bytes(), "not base64"),
            (
                wrap(&der[..der.len() - 1]).into_bytes(),
                "not an uncompressed P-256",
            ),
            (wrap(&compressed).into_bytes(), "not an uncompressed P-256"),
            (wrap(&other_curve).into_bytes(), "not an uncompressed P-256"),
            (wrap(&off).into_bytes(), "not a point on P-256"),
            (format!("{pem}{pem}").into_bytes(), "not base64"),
        ] {
            let err = parse_pem(&bad).err().expect("refused");
            assert!(err.contains(why), "{why}: {err}");
        }
    }
}
