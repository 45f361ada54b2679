//! The signature backend: jsonwebtoken's aws-lc-rs or RustCrypto provider.
//!
//! jsonwebtoken 11 panics at its first verification when both of its backends are
//! compiled in and none was installed. This crate never asks jsonwebtoken to choose:
//! it calls the provider it picked itself, aws-lc-rs when both features are on.
//! With aws-lc-rs, signatures are checked by aws-lc-rs itself against keys parsed
//! once per key set (`RsaPublicKey`); jsonwebtoken's provider then only serves
//! the test kit.

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "tower-cognito needs a crypto backend: enable the `aws-lc-rs` feature (the default) \
     or the `rust-crypto` feature"
);

use jsonwebtoken::crypto::CryptoProvider;
#[cfg(not(feature = "aws-lc-rs"))]
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

/// An RSA public key, prepared once when its key set is read and used for every
/// RS256 check. With aws-lc-rs the key is parsed once, Montgomery constants
/// included; jsonwebtoken's provider would rebuild it from `n` and `e` on every
/// call, a tenth of the cost of a check.
pub(crate) struct RsaPublicKey {
    #[cfg(feature = "aws-lc-rs")]
    parsed: Option<aws_lc_rs::signature::ParsedPublicKey>,
    #[cfg(not(feature = "aws-lc-rs"))]
    decoding: DecodingKey,
}

impl RsaPublicKey {
    /// From the big-endian modulus and exponent, already checked by the caller.
    /// A key the backend refuses verifies nothing.
    pub(crate) fn new(n: &[u8], e: &[u8]) -> Self {
        #[cfg(feature = "aws-lc-rs")]
        {
            use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
            Self {
                parsed: RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
                    .ok(),
            }
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            Self {
                decoding: DecodingKey::from_rsa_raw_components(n, e),
            }
        }
    }

    /// Checks an RS256 signature.
    pub(crate) fn verify_rs256(&self, message: &[u8], signature: &[u8]) -> bool {
        #[cfg(feature = "aws-lc-rs")]
        {
            self.parsed
                .as_ref()
                .is_some_and(|key| key.verify_sig(message, signature).is_ok())
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            match (provider().verifier_factory)(&Algorithm::RS256, &self.decoding) {
                Ok(verifier) => verifier.verify(message, &signature.to_vec()).is_ok(),
                Err(_) => false,
            }
        }
    }
}
