//! The signature backend: aws-lc-rs (the default), or RustCrypto through
//! jsonwebtoken's provider.
//!
//! With aws-lc-rs, signatures are checked by aws-lc-rs itself against keys
//! parsed once per key set (`RsaPublicKey`, and the load balancer's
//! `EcPublicKey`); jsonwebtoken is then not compiled at all. With `rust-crypto`
//! alone, the checks go through jsonwebtoken's RustCrypto provider, named
//! here, never through jsonwebtoken's process default. With both features on,
//! aws-lc-rs is used.

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "tower-cognito needs a crypto backend: enable the `aws-lc-rs` feature (the default) \
     or the `rust-crypto` feature"
);

#[cfg(not(feature = "aws-lc-rs"))]
use jsonwebtoken::{Algorithm, DecodingKey};

/// The RustCrypto provider, when it is the backend.
#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
pub(crate) fn provider() -> &'static jsonwebtoken::crypto::CryptoProvider {
    &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
}

/// Name of the backend in use, for logs and docs.
pub(crate) const BACKEND: &str = if cfg!(feature = "aws-lc-rs") {
    "aws-lc-rs"
} else {
    "rust-crypto"
};

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
