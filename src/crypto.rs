//! The signature backend: jsonwebtoken's aws-lc-rs or RustCrypto provider.
//!
//! jsonwebtoken 11 panics at its first verification when both of its backends are
//! compiled in and none was installed. This crate never asks jsonwebtoken to choose:
//! it calls the provider it picked itself, aws-lc-rs when both features are on.

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "tower-cognito needs a crypto backend: enable the `aws-lc-rs` feature (the default) \
     or the `rust-crypto` feature"
);

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, DecodingKey};

/// The provider this build uses.
pub(crate) fn provider() -> &'static CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    {
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    }
    #[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
    {
        unreachable!("refused at compile time above")
    }
}

/// Name of the backend in use, for logs and docs.
pub(crate) const BACKEND: &str = if cfg!(feature = "aws-lc-rs") {
    "aws-lc-rs"
} else {
    "rust-crypto"
};

/// Makes this crate's provider jsonwebtoken's process default, if none is set yet,
/// so that jsonwebtoken's own `encode` and `decode` work when both backends are
/// compiled in (the test kit signs tokens with `encode`).
#[cfg_attr(not(feature = "test-util"), allow(dead_code))]
pub(crate) fn install_default() {
    let _ = provider().install_default();
}

/// Checks an RS256 signature.
pub(crate) fn verify_rs256(key: &DecodingKey, message: &[u8], signature: &Vec<u8>) -> bool {
    match (provider().verifier_factory)(&Algorithm::RS256, key) {
        Ok(verifier) => verifier.verify(message, signature).is_ok(),
        Err(_) => false,
    }
}
