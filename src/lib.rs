//! Amazon Cognito user pool authorization for Tower and axum services, with the
//! semantics of Amazon API Gateway's Cognito authorizer.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod apigw;
mod claims;
mod crypto;
mod error;
mod jwks;
mod middleware;
#[cfg(feature = "openapi")]
pub mod openapi;
mod pool;
mod requirement;
mod response;
mod token;
mod verifier;

#[cfg(feature = "axum")]
mod extract;

#[cfg(any(test, feature = "test-util"))]
pub mod test_util;

pub use apigw::ApiGatewayClaims;
pub use claims::{Claims, ClaimsError, TokenUse};
pub use error::{AuthError, AuthErrorKind, ConfigError};
#[cfg(feature = "axum")]
pub use extract::MissingClaims;
pub use middleware::{CognitoAuth, CognitoAuthLayer, ResponseBody, ResponseFuture};
pub use pool::UserPool;
pub use requirement::{Requirement, TokenUseRule};
pub use response::Responses;
pub use verifier::{
    DEFAULT_MAX_JWKS_SIZE, DEFAULT_MAX_TOKEN_SIZE, DEFAULT_TOKEN_CACHE_CAPACITY, Verifier,
    VerifierBuilder,
};
