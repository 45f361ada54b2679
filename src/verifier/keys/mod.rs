//! A user pool's keys, from the JWKS document to the verdicts they back:
//!
//! - `jwk`: reading a JWKS document and applying the rules a key must meet;
//! - `key`: one key ([`Key`]) and the trust it shares with its set, so that a
//!   cached verdict dies with its key;
//! - `source`: the key set of one pool ([`KeySource`]): single flight, cooldown,
//!   back-off, refresh, stale-if-error (its module docs say how, and why);
//! - `fetch`: one download, over HTTP or from a [`JwksProvider`], bounded;
//! - `provider`: [`JwksProvider`], a key set from a source of the user's own.

mod fetch;
mod jwk;
mod key;
mod provider;
mod source;

#[cfg(feature = "test-util")]
pub(crate) use jwk::parse_jwks;
pub(crate) use jwk::{RsaJwk, parse_static_jwks};
pub(crate) use key::Key;
pub use provider::{JwksFuture, JwksProvider};
pub(crate) use source::{FetchSettings, KeyOrigin, KeySettings, KeySource};
