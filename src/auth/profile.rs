//! [`Profile`]: which AWS front door a layer stands in for.

use crate::auth::requirement::Requirement;
use crate::auth::response::Responses;
use crate::error::{ConfigError, ConfigErrorKind};
use std::sync::Arc;

/// The AWS front door whose rules a [`CognitoAuthLayer`](crate::CognitoAuthLayer)
/// reproduces, on top of the [`Verifier`](crate::Verifier)'s full check of the
/// token. Chosen in one line:
///
/// ```
/// use tower_cognito::{CognitoAuthLayer, Profile, Requirement};
/// # fn demo(verifier: tower_cognito::Verifier) -> Result<(), tower_cognito::ConfigError> {
/// // API Gateway REST API, COGNITO_USER_POOLS authorizer (the default).
/// let rest = CognitoAuthLayer::new(verifier.clone());
/// // API Gateway HTTP API, JWT authorizer with these audiences.
/// let http = CognitoAuthLayer::http_api(verifier.clone(), ["1example23456789"])?;
/// // The same, spelled out.
/// let same = CognitoAuthLayer::new(verifier).profile(Profile::http_api(["1example23456789"]))?;
/// // Either way, a route's scopes are its own requirement.
/// let read = http.require(Requirement::any_scope(["pets/read"]))?;
/// # let _ = (rest, same, read); Ok(()) }
/// ```
///
/// | | REST API (`RestApi`) | HTTP API (`HttpApi`) |
/// |---|---|---|
/// | route without scopes | ID tokens only | any token |
/// | route with scopes | access tokens holding one, from `scope` | any token holding one, from `scope` or `scp` |
/// | app client | not checked (the verifier's [client ids](crate::VerifierBuilder::client_id) if set; [`Requirement::aud_matches`] on ID tokens) | `aud`, or `client_id` when there is no `aud`, is one of the audiences (required) |
/// | `iat` | not checked | required, not in the future (with the verifier's leeway) |
/// | responses | [`Responses::api_gateway`] | [`Responses::http_api`] |
///
/// The README's "Front doors" section has the whole comparison, with the AWS
/// pages each rule comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profile {
    /// API Gateway REST API's `COGNITO_USER_POOLS` authorizer: a route without
    /// scopes takes ID tokens, a route with scopes access tokens holding one of
    /// them. The default.
    #[default]
    RestApi,
    /// API Gateway HTTP API's JWT authorizer ("Controlling access to HTTP APIs
    /// with JWT authorizers"): `aud` (else `client_id`) must be one of
    /// `audiences`, `iat` must not be in the future, ID and access tokens are
    /// alike, and a route's scopes are read from `scope` or `scp`. An empty
    /// list is a [`ConfigError`].
    HttpApi {
        /// The authorizer's `jwtConfiguration.audience`: for Cognito, app
        /// client ids.
        audiences: Vec<String>,
    },
}

impl Profile {
    /// [`Profile::RestApi`].
    pub fn rest_api() -> Self {
        Self::RestApi
    }

    /// [`Profile::HttpApi`] with these audiences.
    pub fn http_api<I: IntoIterator<Item = S>, S: Into<String>>(audiences: I) -> Self {
        Self::HttpApi {
            audiences: audiences.into_iter().map(Into::into).collect(),
        }
    }

    /// Refuses a profile that could admit no token.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::RestApi => Ok(()),
            Self::HttpApi { audiences } if audiences.is_empty() => Err(ConfigError::new(
                ConfigErrorKind::InvalidAudience,
                "an HTTP API profile needs at least one audience (the authorizer's \
                 jwtConfiguration.audience, for Cognito an app client id)",
            )),
            Self::HttpApi { audiences } if audiences.iter().any(String::is_empty) => {
                Err(ConfigError::new(
                    ConfigErrorKind::InvalidAudience,
                    "an empty audience is configured",
                ))
            }
            Self::HttpApi { .. } => Ok(()),
        }
    }

    /// The route's own requirement with the front door's rules added;
    /// `leeway` is the verifier's, in seconds.
    pub(crate) fn apply(&self, requirement: Requirement, leeway: u64) -> Requirement {
        match self {
            Self::RestApi => requirement,
            Self::HttpApi { audiences } => {
                requirement.http_api(Arc::from(audiences.as_slice()), leeway)
            }
        }
    }

    /// The front door's own answers.
    pub(crate) fn responses(&self) -> Responses {
        match self {
            Self::RestApi => Responses::api_gateway(),
            Self::HttpApi { .. } => Responses::http_api(),
        }
    }
}
