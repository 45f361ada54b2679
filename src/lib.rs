//! Amazon Cognito user pool authorization for Tower and axum services, with the
//! semantics of Amazon API Gateway's Cognito authorizer.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod claims;
mod crypto;
mod error;
mod jwks;
mod pool;
mod token;
mod verifier;

#[cfg(any(test, feature = "test-util"))]
pub mod test_util;

pub use claims::{Claims, ClaimsError, TokenUse};
pub use error::{AuthError, AuthErrorKind, ConfigError};
pub use pool::UserPool;
pub use verifier::{
    DEFAULT_MAX_JWKS_SIZE, DEFAULT_MAX_TOKEN_SIZE, DEFAULT_TOKEN_CACHE_CAPACITY, Verifier,
    VerifierBuilder,
};
