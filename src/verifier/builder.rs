//! [`VerifierBuilder`]: the verifier's configuration, its defaults, and its checks.

use super::cache::TokenCache;
use super::keys::{FetchSettings, KeyOrigin, KeySettings, KeySource};
use super::pool::UserPool;
use super::revocation::Revocation;
use super::{Hook, Inner, Pool, Verifier, crypto};
use crate::defaults;
pub use crate::defaults::{
    DEFAULT_MAX_JWKS_SIZE, DEFAULT_MAX_TOKEN_SIZE, DEFAULT_TOKEN_CACHE_CAPACITY,
};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::setters::shared_setters;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`Verifier`]; see its setters for the defaults.
#[derive(Clone, Debug)]
#[must_use]
pub struct VerifierBuilder {
    pools: Vec<UserPool>,
    client_ids: Vec<String>,
    shared: SharedSettings,
    max_jwks_size: usize,
    refresh_interval: Duration,
    max_stale: Duration,
    /// Set by an API definition without Cognito authorizers: a verifier with no
    /// pool, which refuses every token, is what such a definition needs.
    no_pools_ok: bool,
    revocation: Option<Hook>,
    revocation_fail_open: bool,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        Self {
            pools: Vec::new(),
            client_ids: Vec::new(),
            shared: SharedSettings::new(DEFAULT_MAX_TOKEN_SIZE),
            max_jwks_size: DEFAULT_MAX_JWKS_SIZE,
            refresh_interval: defaults::REFRESH_INTERVAL,
            max_stale: defaults::MAX_STALE,
            no_pools_ok: false,
            revocation: None,
            revocation_fail_open: false,
        }
    }
}

impl VerifierBuilder {
    /// Lets [`build`](Self::build) succeed without a pool (the verifier then
    /// refuses every token as from the wrong issuer), for API definitions
    /// that have no Cognito authorizer.
    #[cfg(feature = "openapi")]
    pub(crate) fn no_pools_ok(mut self) -> Self {
        self.no_pools_ok = true;
        self
    }

    /// Trusts tokens of this user pool. Call once per pool (up to 1,000, as API
    /// Gateway allows); the pool is chosen by the token's `iss`.
    pub fn pool(mut self, pool: UserPool) -> Self {
        self.pools.push(pool);
        self
    }

    /// Trusts tokens of each of these pools.
    pub fn pools(mut self, pools: impl IntoIterator<Item = UserPool>) -> Self {
        self.pools.extend(pools);
        self
    }

    /// Accepts only tokens issued to this app client (`aud` of ID tokens,
    /// `client_id` of access tokens). Call again to allow several. Default: any
    /// client of the pool, as API Gateway does; set this in production.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_ids.push(client_id.into());
        self
    }

    /// Accepts only tokens issued to one of these app clients.
    pub fn client_ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.client_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    shared_setters! { leeway, max_token_size, http_client, fetch_timeout, connect_timeout;
        {
            /// Clock skew allowed on `exp` and `nbf`. Default: none. At most 5 minutes.
        }
        {
            /// Largest token accepted, in bytes, checked before anything is decoded.
            /// Default: [`DEFAULT_MAX_TOKEN_SIZE`] (16 KiB; Cognito tokens are 1 to 4 KiB).
        }
        {
            /// The HTTP client for JWKS fetches. Default: a rustls client with a 2 s
            /// connect timeout that follows no redirects. The [`fetch_timeout`](Self::fetch_timeout) applies to
            /// every fetch either way.
        }
        {
            /// Longest a JWKS fetch may take, from connecting to the last byte. A request
            /// that waits for keys waits no longer than this (plus 250 ms), even when the
            /// fetch it waits for was started on a Tokio runtime that has since shut down
            /// or stopped running it: the next request then starts a fetch of its own.
            /// Default: 5 s.
        }
        {
            /// Longest the default client waits to connect. Default: 2 s.
        }
    }

    /// Largest JWKS response read, in bytes; a larger one is a failed fetch, cut
    /// off at the limit. Default: [`DEFAULT_MAX_JWKS_SIZE`] (1 MiB).
    pub fn max_jwks_size(mut self, bytes: usize) -> Self {
        self.max_jwks_size = bytes;
        self
    }

    /// How often the key sets are re-read in the background (on a timer, so no
    /// traffic is needed, and never more often than the
    /// [`unknown_kid_cooldown`](Self::unknown_kid_cooldown)), so that a key Cognito
    /// removed stops being trusted within this interval (plus the cooldown and
    /// one fetch). This holds whatever runtime the verifier was first used on:
    /// the timer runs on a Tokio runtime and dies with it, so cache hits start a
    /// due refresh themselves, and once a refresh is overdue by more than a fetch
    /// and a cooldown, a token is accepted only after the refresh. Default: 15
    /// minutes.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    shared_setters! { unknown_kid_cooldown, max_backoff;
        {
            /// Least time between two fetches caused by tokens with unknown `kid`s, counted
            /// from the start of any fetch: a flood of random `kid`s causes at most one
            /// fetch per cooldown, and a real rotation is seen within one. Also the first
            /// step of the back-off after a failed fetch (doubling up to
            /// [`max_backoff`](Self::max_backoff)). Must not be zero. Default: 5 s.
        }
        {
            /// Longest wait between fetch attempts while the JWKS endpoint fails. Default: 60 s.
        }
    }

    /// How long the last good key set keeps serving while every refresh fails.
    /// After that, requests are answered as "key set unavailable" (5xx).
    /// Default: 24 hours.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    shared_setters! { token_cache_capacity;
        {
            /// How many verified tokens are remembered, so a repeated token skips the
            /// signature check (none is served after its `exp`, or once its key leaves
            /// the key set). The table is allocated whole when the verifier is built, 72
            /// bytes an entry plus 16 to 32 bytes of counts, with the number rounded up to whole
            /// sets of 16 entries in each of up to 64 shards (at most 1,023 more); an entry
            /// in use also holds its token's signature (342 bytes for a 2048-bit key).
            /// `0` turns the cache off; more than 10 million is a configuration error.
            /// Default: [`DEFAULT_TOKEN_CACHE_CAPACITY`] (10,000).
        }
    }

    /// Consults `revocation` for every token after it verifies and before it is
    /// accepted, on every request, tokens from the cache included (see
    /// [`Revocation`], and [`RevocationList`](crate::RevocationList) for one in
    /// memory). A revoked token gets API Gateway's `Unauthorized`. A check that
    /// fails refuses the request (5xx,
    /// [`AuthErrorKind::RevocationUnavailable`](crate::AuthErrorKind::RevocationUnavailable))
    /// unless [`revocation_fail_open`](Self::revocation_fail_open) is set.
    /// Default: none, as API Gateway (revoked tokens pass until `exp`).
    pub fn revocation(mut self, revocation: impl Revocation) -> Self {
        self.revocation = Some(Hook {
            revocation: Arc::new(revocation),
            fail_open: false,
        });
        self
    }

    /// **Lets tokens through when the revocation check fails** (its store is
    /// down), logging a warning, instead of refusing them: availability over
    /// revocation. Only with [`revocation`](Self::revocation).
    pub fn revocation_fail_open(mut self) -> Self {
        self.revocation_fail_open = true;
        self
    }

    /// Checks the configuration and builds the verifier.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.pools.is_empty() && !self.no_pools_ok {
            return Err(ConfigError::new(
                ConfigErrorKind::NoPool,
                "no user pool configured",
            ));
        }
        if self.pools.len() > defaults::MAX_POOLS {
            return Err(ConfigError::new(
                ConfigErrorKind::OutOfRange,
                "more than 1,000 user pools configured",
            ));
        }
        self.shared.check(
            (
                "max_jwks_size",
                self.max_jwks_size,
                defaults::MIN_JWKS_SIZE_LIMIT,
            ),
            &[
                ("refresh_interval", self.refresh_interval),
                ("max_stale", self.max_stale),
            ],
        )?;
        if self.client_ids.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidClientId,
                "an empty client id is configured",
            ));
        }
        let settings = Arc::new(KeySettings {
            fetch: self.shared.fetch(self.max_jwks_size)?,
            refresh_interval: self.refresh_interval,
            max_stale: self.max_stale,
        });

        let mut pools = Vec::with_capacity(self.pools.len());
        let mut by_issuer = HashMap::new();
        let mut by_url: HashMap<String, Arc<KeySource>> = HashMap::new();
        for pool in &self.pools {
            let resolved = pool.resolve()?;
            let label: Arc<str> = Arc::from(pool.id());
            let keys = match resolved.keys {
                // Pools served from one JWKS URL share one key source.
                KeyOrigin::Http(url) => by_url
                    .entry(url.to_string())
                    .or_insert_with(|| {
                        Arc::new(KeySource::new(
                            KeyOrigin::Http(url),
                            label,
                            Arc::clone(&settings),
                        ))
                    })
                    .clone(),
                // A provider or a static set is the pool's own.
                origin => Arc::new(KeySource::new(origin, label, Arc::clone(&settings))),
            };
            for issuer in &resolved.issuers {
                if by_issuer.insert(issuer.clone(), pools.len()).is_some() {
                    return Err(ConfigError::new(
                        ConfigErrorKind::DuplicateIssuer,
                        format!("issuer `{issuer}` is configured twice"),
                    ));
                }
            }
            pools.push(Pool {
                id: Arc::from(resolved.id),
                keys,
            });
        }
        let capacity = self.shared.token_cache_capacity;
        let tokens = (capacity > 0).then(|| TokenCache::new(capacity));
        tracing::debug!(
            backend = crypto::BACKEND,
            pools = pools.len(),
            "built Cognito verifier"
        );
        Ok(Verifier {
            inner: Arc::new(Inner {
                pools,
                by_issuer,
                client_ids: self.client_ids,
                leeway: self.shared.leeway.as_secs(),
                max_token_size: self.shared.max_token_size,
                tokens,
                revocation: self.revocation.map(|hook| Hook {
                    fail_open: self.revocation_fail_open,
                    ..hook
                }),
            }),
        })
    }
}

/// The settings this builder shares with the load balancer's
/// (`alb::AlbVerifierBuilder`): their defaults, from [`crate::defaults`], and
/// their checks, with the messages both give.
#[derive(Clone, Debug)]
pub(crate) struct SharedSettings {
    pub(crate) leeway: Duration,
    pub(crate) max_token_size: usize,
    pub(crate) client: Option<reqwest::Client>,
    pub(crate) fetch_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) unknown_kid_cooldown: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) token_cache_capacity: u64,
}

impl SharedSettings {
    /// The defaults, with this largest token.
    pub(crate) fn new(max_token_size: usize) -> Self {
        Self {
            leeway: Duration::ZERO,
            max_token_size,
            client: None,
            fetch_timeout: defaults::FETCH_TIMEOUT,
            connect_timeout: defaults::CONNECT_TIMEOUT,
            unknown_kid_cooldown: defaults::UNKNOWN_KID_COOLDOWN,
            max_backoff: defaults::MAX_BACKOFF,
            token_cache_capacity: DEFAULT_TOKEN_CACHE_CAPACITY,
        }
    }

    /// Checks these settings, then the builder's own: a size limit (its
    /// setter's name, its value and the least allowed) and durations that must
    /// not be zero (named as their setters).
    pub(crate) fn check(
        &self,
        (what, bytes, least): (&str, usize, usize),
        durations: &[(&str, Duration)],
    ) -> Result<(), ConfigError> {
        let out_of_range =
            |message: String| Err(ConfigError::new(ConfigErrorKind::OutOfRange, message));
        if self.token_cache_capacity > defaults::MAX_TOKEN_CACHE_CAPACITY {
            return out_of_range(format!(
                "token_cache_capacity is more than {} entries",
                defaults::MAX_TOKEN_CACHE_CAPACITY
            ));
        }
        if self.leeway > defaults::MAX_LEEWAY {
            let minutes = defaults::MAX_LEEWAY.as_secs() / 60;
            return out_of_range(format!("leeway is longer than {minutes} minutes"));
        }
        for (what, bytes, least) in [
            (
                "max_token_size",
                self.max_token_size,
                defaults::MIN_TOKEN_SIZE_LIMIT,
            ),
            (what, bytes, least),
        ] {
            if bytes < least {
                return out_of_range(format!("{what} is below {least} bytes"));
            }
        }
        let shared = [
            ("fetch_timeout", self.fetch_timeout),
            ("connect_timeout", self.connect_timeout),
            ("unknown_kid_cooldown", self.unknown_kid_cooldown),
        ];
        for &(what, duration) in shared.iter().chain(durations) {
            if duration.is_zero() {
                return out_of_range(format!("{what} is zero"));
            }
        }
        Ok(())
    }

    /// How keys are fetched: the HTTP client (the one given, or the default
    /// one, with rustls and these timeouts), the fetch timeout, the largest
    /// body (`max_size`, the builder's own setting), the cooldown,
    /// and the longest back-off, never shorter than the cooldown. The default
    /// client follows no redirects (the keys come from the configured URL or
    /// not at all) and keeps no idle connections (fetches are minutes apart,
    /// and a pooled connection can outlive the runtime that opened it).
    pub(crate) fn fetch(&self, max_size: usize) -> Result<FetchSettings, ConfigError> {
        let client = match &self.client {
            Some(client) => client.clone(),
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .timeout(self.fetch_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .map_err(|e| {
                    ConfigError::new(
                        ConfigErrorKind::HttpClient,
                        format!("cannot build the HTTP client: {e}"),
                    )
                })?,
        };
        Ok(FetchSettings {
            client,
            fetch_timeout: self.fetch_timeout,
            max_size,
            unknown_kid_cooldown: self.unknown_kid_cooldown,
            max_backoff: self.max_backoff.max(self.unknown_kid_cooldown),
        })
    }
}
