//! [`AuthorizerError`]: what the authorizer returns instead of a policy.

use crate::error::AuthError;
use crate::error::display_as_str;
use std::fmt;

/// The error an [`Authorizer`](super::Authorizer) returns instead of a policy.
///
/// Lambda reports a function error to API Gateway as its message, and API
/// Gateway reads that message: exactly `Unauthorized` makes it answer the
/// caller 401, anything else 500. So the [`Display`](fmt::Display) of an
/// [`Unauthorized`](AuthorizerErrorKind::Unauthorized) error is exactly
/// `Unauthorized`, and that of every other kind is a sentence that never is.
///
/// Neither `Display` nor `Debug` contains the token: the cause is an
/// [`AuthError`], whose detail is a fixed phrase chosen by the crate.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct AuthorizerError {
    kind: AuthorizerErrorKind,
    #[source]
    cause: Option<AuthError>,
    detail: &'static str,
}

/// The kind of an [`AuthorizerError`], and what API Gateway answers for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthorizerErrorKind {
    /// No token, or one that is not a valid token of the pool: API Gateway
    /// answers 401 `{"message":"Unauthorized"}`.
    Unauthorized,
    /// No key could be had to verify the token (the JWKS endpoint fails and
    /// nothing usable is cached): API Gateway answers 500. Never an Allow.
    KeySetUnavailable,
    /// The event is not an API Gateway TOKEN or REQUEST authorizer event, or has
    /// no `methodArn` to write a policy for: API Gateway answers 500.
    InvalidEvent,
}

impl AuthorizerErrorKind {
    /// A short, fixed name of the kind (the Lambda `errorType`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "Unauthorized",
            Self::KeySetUnavailable => "KeySetUnavailable",
            Self::InvalidEvent => "InvalidEvent",
        }
    }
}

display_as_str!(AuthorizerErrorKind);

/// The message API Gateway maps to 401.
const UNAUTHORIZED: &str = "Unauthorized";

impl AuthorizerError {
    pub(crate) fn unauthorized(cause: AuthError) -> Self {
        Self {
            kind: AuthorizerErrorKind::Unauthorized,
            cause: Some(cause),
            detail: "",
        }
    }

    pub(crate) fn key_set_unavailable(cause: AuthError) -> Self {
        Self {
            kind: AuthorizerErrorKind::KeySetUnavailable,
            cause: Some(cause),
            detail: "",
        }
    }

    pub(crate) fn invalid_event(detail: &'static str) -> Self {
        Self {
            kind: AuthorizerErrorKind::InvalidEvent,
            cause: None,
            detail,
        }
    }

    /// The kind of error.
    pub fn kind(&self) -> AuthorizerErrorKind {
        self.kind
    }

    /// Why the token was refused or could not be checked, when a token was
    /// read: the verifier's or the requirement's [`AuthError`].
    pub fn auth_error(&self) -> Option<&AuthError> {
        self.cause.as_ref()
    }

    /// The message Lambda reports to API Gateway (the `errorMessage`): exactly
    /// `Unauthorized` for [`AuthorizerErrorKind::Unauthorized`].
    pub fn message(&self) -> String {
        match (self.kind, &self.cause) {
            (AuthorizerErrorKind::Unauthorized, _) => UNAUTHORIZED.to_owned(),
            (AuthorizerErrorKind::KeySetUnavailable, Some(cause)) => {
                format!("the authorizer cannot verify tokens now: {cause}")
            }
            (AuthorizerErrorKind::KeySetUnavailable, None) => {
                "the authorizer cannot verify tokens now: key set unavailable".to_owned()
            }
            (AuthorizerErrorKind::InvalidEvent, _) => {
                format!(
                    "not an API Gateway Lambda authorizer event: {}",
                    self.detail
                )
            }
        }
    }
}

impl fmt::Debug for AuthorizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("AuthorizerError");
        s.field("kind", &self.kind);
        if let Some(cause) = &self.cause {
            s.field("cause", cause);
        }
        if !self.detail.is_empty() {
            s.field("detail", &self.detail);
        }
        s.finish()
    }
}

/// What `lambda_runtime` reports for a failed invocation: the `errorMessage`
/// is the [`Display`](fmt::Display) (exactly `Unauthorized` for a refused
/// token), the `errorType` the kind's name.
impl From<AuthorizerError> for lambda_runtime::Diagnostic {
    fn from(error: AuthorizerError) -> Self {
        Self {
            error_type: error.kind.as_str().to_owned(),
            error_message: error.message(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuthErrorKind;

    #[test]
    fn only_unauthorized_says_unauthorized() {
        let expired = AuthError::new(AuthErrorKind::Expired, "token exp has passed");
        let e = AuthorizerError::unauthorized(expired.clone());
        assert_eq!(e.to_string(), "Unauthorized");
        assert_eq!(e.auth_error(), Some(&expired));
        let d = lambda_runtime::Diagnostic::from(e);
        assert_eq!(
            (d.error_type.as_str(), d.error_message.as_str()),
            ("Unauthorized", "Unauthorized")
        );

        let outage = AuthError::new(AuthErrorKind::KeySetUnavailable, "JWKS fetch failed");
        let e = AuthorizerError::key_set_unavailable(outage);
        assert_ne!(e.to_string(), "Unauthorized");
        assert!(e.to_string().contains("JWKS fetch failed"), "{e}");
        assert_eq!(
            lambda_runtime::Diagnostic::from(e).error_type,
            "KeySetUnavailable"
        );

        let e = AuthorizerError::invalid_event("no methodArn");
        assert_eq!(
            e.to_string(),
            "not an API Gateway Lambda authorizer event: no methodArn"
        );
        assert!(std::error::Error::source(&e).is_none());
    }
}
