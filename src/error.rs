//! Errors: [`AuthError`] for rejected requests and [`ConfigError`] for bad configuration.

use std::borrow::Cow;
use std::fmt;

/// Why a request was not authorized.
///
/// Every rejection the crate makes carries one of these. It is inserted into the
/// rejection response's extensions, so an outer layer can read it:
///
/// ```
/// # use tower_cognito::{AuthError, AuthErrorKind};
/// # let response = http::Response::new(());
/// if let Some(err) = response.extensions().get::<AuthError>() {
///     if err.kind() == AuthErrorKind::Expired {
///         // refresh the session
///     }
/// }
/// ```
///
/// Neither `Display` nor `Debug` ever contains the token or a key: the detail is a
/// fixed phrase chosen by the crate, plus (for key set failures) the JWKS URL.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
    detail: Cow<'static, str>,
}

/// The kind of an [`AuthError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No token was sent.
    MissingToken,
    /// The request carries the token in a way that cannot be read: the header
    /// appears twice, is not visible ASCII, or has an unknown scheme.
    InvalidRequest,
    /// The token is not a well-formed JWT: size, segments, base64url, JSON, or a
    /// claim of the wrong type.
    MalformedToken,
    /// The token's `alg` is not the algorithm this crate pins (RS256), or it has
    /// `crit` extensions.
    DisallowedAlgorithm,
    /// The token's `exp` has passed.
    Expired,
    /// The token's `nbf` is still in the future, or (under the HTTP API
    /// profile) its `iat` is.
    NotYetValid,
    /// The signature does not verify with the key named by `kid`.
    BadSignature,
    /// The user pool's key set has no usable key with the token's `kid`.
    UnknownKey,
    /// The token's `iss` is not one of the configured user pools.
    WrongIssuer,
    /// The token is an ID token where an access token is required, or the reverse.
    WrongTokenUse,
    /// The token was issued to an app client that is not allowed.
    WrongClient,
    /// The token lacks the scope the route requires.
    InsufficientScope,
    /// The token is valid but the route's other requirements (groups, custom
    /// checks) refuse it.
    Forbidden,
    /// No key could be obtained to verify the token: the JWKS endpoint failed and
    /// no usable cached key set exists, or the token's `kid` is not in the last
    /// good set while the endpoint is failing (it may be a rotation not yet seen).
    /// Not the client's fault: answered with 5xx, never 401.
    KeySetUnavailable,
    /// The token verified, but the verifier's [`Revocation`](crate::Revocation)
    /// says it was revoked (signed out, its refresh token revoked). Answered like
    /// any other bad token.
    Revoked,
    /// The verifier's [`Revocation`](crate::Revocation) could not answer (its
    /// store failed), and the verifier fails closed. Not the client's fault:
    /// answered with 5xx, like [`KeySetUnavailable`](Self::KeySetUnavailable).
    RevocationUnavailable,
    /// The request matches no operation of an imported API definition, nor a
    /// path named public: API Gateway's answer for an unknown resource or
    /// method (`403 Missing Authentication Token`). No token was looked at.
    UnknownOperation,
    /// The request's operation is protected by an authorizer this crate cannot
    /// check (IAM, an API key, a Lambda authorizer), and the definition was
    /// imported with such operations refused. No token was looked at.
    UnenforceableOperation,
}

impl AuthErrorKind {
    /// A short, fixed description of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing token",
            Self::InvalidRequest => "invalid request",
            Self::MalformedToken => "malformed token",
            Self::DisallowedAlgorithm => "disallowed algorithm",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::BadSignature => "bad signature",
            Self::UnknownKey => "unknown signing key",
            Self::WrongIssuer => "wrong issuer",
            Self::WrongTokenUse => "wrong token use",
            Self::WrongClient => "wrong app client",
            Self::InsufficientScope => "insufficient scope",
            Self::Forbidden => "forbidden",
            Self::KeySetUnavailable => "key set unavailable",
            Self::Revoked => "token revoked",
            Self::RevocationUnavailable => "revocation check unavailable",
            Self::UnknownOperation => "no such operation",
            Self::UnenforceableOperation => "operation protected by an unsupported authorizer",
        }
    }

    /// The kind in `snake_case`, as it appears in metrics labels and traces:
    /// `missing_token`, `expired`, `key_set_unavailable`, ...
    pub fn label(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidRequest => "invalid_request",
            Self::MalformedToken => "malformed_token",
            Self::DisallowedAlgorithm => "disallowed_algorithm",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::BadSignature => "bad_signature",
            Self::UnknownKey => "unknown_key",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongTokenUse => "wrong_token_use",
            Self::WrongClient => "wrong_client",
            Self::InsufficientScope => "insufficient_scope",
            Self::Forbidden => "forbidden",
            Self::KeySetUnavailable => "key_set_unavailable",
            Self::Revoked => "revoked",
            Self::RevocationUnavailable => "revocation_unavailable",
            Self::UnknownOperation => "unknown_operation",
            Self::UnenforceableOperation => "unenforceable_operation",
        }
    }

    /// Whether the fault lies with the server side (the key set could not be had)
    /// rather than with the client's token.
    pub fn is_server_error(self) -> bool {
        matches!(self, Self::KeySetUnavailable | Self::RevocationUnavailable)
    }
}

impl fmt::Display for AuthErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AuthError {
    pub(crate) fn new(kind: AuthErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    pub(crate) fn malformed(detail: &'static str) -> Self {
        Self::new(AuthErrorKind::MalformedToken, detail)
    }

    /// The kind of failure.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// A description of what failed, for logs. Never contains the token.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("kind", &self.kind)
            .field("detail", &self.detail)
            .finish()
    }
}

impl std::error::Error for AuthError {}

/// Configuration that cannot work, reported when a [`Verifier`](crate::Verifier) or
/// layer is built, never on the request path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid tower-cognito configuration: {message}")]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// What is wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }
}
