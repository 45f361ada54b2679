//! A user pool's keys: the JWKS document and its keys, and the key set that
//! fetches and refreshes them (see `source` for how it behaves, and why).

mod provider;
mod source;

pub use provider::{JwksFuture, JwksProvider};
#[cfg(feature = "test-util")]
pub(crate) use source::parse_jwks;
pub(crate) use source::{Key, KeyOrigin, KeySettings, KeySource, RsaJwk, parse_static_jwks};
