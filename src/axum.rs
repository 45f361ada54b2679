//! axum extractors for [`Claims`] (feature `axum`).

use crate::verifier::claims::Claims;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use std::convert::Infallible;

/// The handler asked for [`Claims`] but no [`CognitoAuthLayer`](crate::CognitoAuthLayer)
/// ran before it: a wiring mistake, answered with 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no Cognito claims on this request: is CognitoAuthLayer applied to this route?")]
#[non_exhaustive]
pub struct MissingClaims;

impl IntoResponse for MissingClaims {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// Extracts the verified claims the layer inserted.
///
/// `Option<Claims>` extracts `None` when the request has none (routes with an
/// [`optional`](crate::CognitoAuthLayer::optional) layer).
impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .ok_or(MissingClaims)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Claims {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Claims>().cloned())
    }
}
