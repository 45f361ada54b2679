//! What the crate decides, told to metrics (feature `metrics`, through the
//! `metrics` facade: no exporter is chosen for you) and to `tracing`.
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `tower_cognito_requests_total` | counter | `route`, `outcome` (`admitted`, `anonymous`, `refused`), `kind` (an [`AuthErrorKind::label`], or `none`) | every request a layer decided |
//! | `tower_cognito_token_cache_total` | counter | `result` (`hit`, `miss`) | verified-token cache look-ups |
//!
//! Label values come from configuration only: `route` is the layer's
//! [`name`](crate::CognitoAuthLayer::name) (an imported operation's
//! `GET /pets/{petId}`, `unknown` for requests no operation matched), `pool` a
//! configured pool id. No `sub`, `kid` or token is ever a label.

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

/// A layer decided a request.
pub(crate) fn request(route: &Arc<str>, outcome: Outcome) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "tower_cognito_requests_total",
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
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "tower_cognito_token_cache_total",
        "result" => if hit { "hit" } else { "miss" },
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = hit;
}
