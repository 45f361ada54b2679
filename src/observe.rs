//! What the crate decides, told to metrics (feature `metrics`, through the
//! `metrics` facade: no exporter is chosen for you) and to `tracing`.
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `tower_cognito_requests_total` | counter | `route`, `outcome` (`admitted`, `anonymous`, `refused`), `kind` (an [`AuthErrorKind::label`], or `none`) | every request a layer decided |
//! | `tower_cognito_token_cache_total` | counter | `result` (`hit`, `miss`) | verified-token cache look-ups |
//! | `tower_cognito_jwks_fetches_total` | counter | `pool`, `outcome` (`ok`, `http_4xx`, `http_5xx`, `http_other`, `timeout`, `too_large`, `bad_document`, `error`) | key set fetches |
//! | `tower_cognito_jwks_fetch_duration_seconds` | histogram | `pool` | how long each fetch took, whatever its outcome |
//! | `tower_cognito_jwks_age_seconds` | gauge | `pool` | age of the key set in use (since its fetch), set after each fetch attempt |
//! | `tower_cognito_jwks_keys` | gauge | `pool` | keys in the set in use |
//! | `tower_cognito_unknown_kid_held_back_total` | counter | `pool` | fetches for an unknown `kid` the cooldown held back |
//!
//! Label values come from configuration only: `route` is the layer's
//! [`name`](crate::CognitoAuthLayer::name) (an imported operation's
//! `GET /pets/{petId}`, a gRPC table's method path `/notes.v1.Notes/List` or
//! `default`, `unknown` for requests no operation or method matched), `pool` the
//! configured id of the (first) pool whose keys the set holds. No `sub`, `kid` or token is ever a label.

use crate::error::AuthErrorKind;
use std::sync::Arc;

/// How a request left a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// With verified claims.
    Admitted,
    /// Without a token, on an optional route.
    Anonymous,
    /// Answered with a rejection.
    Refused(AuthErrorKind),
}

impl Outcome {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Admitted => "admitted",
            Self::Anonymous => "anonymous",
            Self::Refused(_) => "refused",
        }
    }

    pub(crate) fn kind(self) -> &'static str {
        match self {
            Self::Refused(kind) => kind.label(),
            _ => "none",
        }
    }
}

/// A route's name in metrics and traces (it reads as the name: `Deref` to
/// `Arc<str>`). With the `metrics` feature it also holds the keys of the
/// route's admitted and anonymous request counts, built once: a key with a
/// label computed at run time is otherwise built, and allocated, on every
/// request. The recorder is still looked up on every request, as the
/// `metrics` macros do, so a recorder installed after the route is built
/// counts from then on.
#[derive(Clone, Debug)]
pub(crate) struct RouteName {
    name: Arc<str>,
    #[cfg(feature = "metrics")]
    passed: Arc<[metrics::Key; 2]>,
}

impl RouteName {
    pub(crate) fn new(name: impl Into<Arc<str>>) -> Self {
        let name = name.into();
        Self {
            #[cfg(feature = "metrics")]
            passed: Arc::new([Outcome::Admitted, Outcome::Anonymous].map(|outcome| {
                metrics::Key::from_parts(
                    REQUESTS,
                    vec![
                        metrics::Label::new(
                            "route",
                            metrics::SharedString::from(Arc::clone(&name)),
                        ),
                        metrics::Label::new("outcome", outcome.label()),
                        metrics::Label::new("kind", outcome.kind()),
                    ],
                )
            })),
            name,
        }
    }
}

impl std::ops::Deref for RouteName {
    type Target = Arc<str>;
    fn deref(&self) -> &Arc<str> {
        &self.name
    }
}

#[cfg(feature = "metrics")]
const REQUESTS: &str = "tower_cognito_requests_total";

/// A request the route let through, with claims or (optional route) without.
pub(crate) fn passed(route: &RouteName, outcome: Outcome) {
    #[cfg(feature = "metrics")]
    {
        static METADATA: metrics::Metadata<'static> =
            metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
        let key = match outcome {
            Outcome::Admitted => &route.passed[0],
            Outcome::Anonymous => &route.passed[1],
            Outcome::Refused(_) => return request(route, outcome),
        };
        metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA)).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (route, outcome);
}

/// A layer decided a request.
pub(crate) fn request(route: &Arc<str>, outcome: Outcome) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        REQUESTS,
        "route" => metrics::SharedString::from(Arc::clone(route)),
        "outcome" => outcome.label(),
        "kind" => outcome.kind(),
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (route, outcome);
}

/// The verified-token cache was looked up.
pub(crate) fn token_cache(hit: bool) {
    // Two calls with literal labels, so that each key is built once (a label
    // computed at run time builds the key, and allocates, on every call).
    #[cfg(feature = "metrics")]
    if hit {
        metrics::counter!("tower_cognito_token_cache_total", "result" => "hit").increment(1);
    } else {
        metrics::counter!("tower_cognito_token_cache_total", "result" => "miss").increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = hit;
}

/// How a key set fetch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fetch {
    Ok,
    Status(u16),
    Timeout,
    TooLarge,
    BadDocument,
    Error,
}

impl Fetch {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Status(400..=499) => "http_4xx",
            Self::Status(500..=599) => "http_5xx",
            Self::Status(_) => "http_other",
            Self::Timeout => "timeout",
            Self::TooLarge => "too_large",
            Self::BadDocument => "bad_document",
            Self::Error => "error",
        }
    }
}

/// A key set fetch ended.
pub(crate) fn jwks_fetch(pool: &Arc<str>, outcome: Fetch, elapsed: std::time::Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(
            "tower_cognito_jwks_fetches_total",
            "pool" => metrics::SharedString::from(Arc::clone(pool)),
            "outcome" => outcome.label(),
        )
        .increment(1);
        metrics::histogram!(
            "tower_cognito_jwks_fetch_duration_seconds",
            "pool" => metrics::SharedString::from(Arc::clone(pool)),
        )
        .record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (pool, outcome, elapsed);
}

/// The key set in use: its age and how many keys it has.
pub(crate) fn jwks_state(pool: &Arc<str>, age: std::time::Duration, keys: usize) {
    #[cfg(feature = "metrics")]
    {
        let label = || metrics::SharedString::from(Arc::clone(pool));
        metrics::gauge!("tower_cognito_jwks_age_seconds", "pool" => label()).set(age.as_secs_f64());
        metrics::gauge!("tower_cognito_jwks_keys", "pool" => label()).set(keys as f64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (pool, age, keys);
}

/// A fetch for an unknown `kid` was held back by the cooldown.
pub(crate) fn unknown_kid_held_back(pool: &Arc<str>) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "tower_cognito_unknown_kid_held_back_total",
        "pool" => metrics::SharedString::from(Arc::clone(pool)),
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = pool;
}
