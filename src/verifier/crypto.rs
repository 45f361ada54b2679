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

    /// Checks an RS256 signature of `message`, whose SHA-256 digest is
    /// `digest`. With aws-lc-rs the digest is used and the message is not hashed
    /// again; jsonwebtoken's provider hashes the message itself.
    pub(crate) fn verify_rs256(
        &self,
        message: &[u8],
        digest: &SigningDigest,
        signature: &[u8],
    ) -> bool {
        debug_assert!(
            digest.as_bytes() == SigningDigest::of(message).as_bytes(),
            "the digest of another message"
        );
        #[cfg(feature = "aws-lc-rs")]
        {
            let _ = message;
            let Ok(digest) =
                aws_lc_rs::digest::Digest::import_less_safe(&digest.0, &aws_lc_rs::digest::SHA256)
            else {
                return false;
            };
            self.parsed
                .as_ref()
                .is_some_and(|key| key.verify_digest_sig(&digest, signature).is_ok())
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            let _ = digest;
            match (provider().verifier_factory)(&Algorithm::RS256, &self.decoding) {
                Ok(verifier) => verifier.verify(message, &signature.to_vec()).is_ok(),
                Err(_) => false,
            }
        }
    }
}

/// The SHA-256 digest of a token's signing input (`header.payload`), computed
/// once a token: the RS256 check signs it, and the token cache's key is made
/// from it. Its 32 bytes alone (aws-lc-rs's `Digest` takes 80), so that a
/// cache miss that carries it stays small.
#[derive(Clone)]
pub(crate) struct SigningDigest([u8; 32]);

impl SigningDigest {
    pub(crate) fn of(message: &[u8]) -> Self {
        #[cfg(feature = "aws-lc-rs")]
        {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
            let mut bytes = [0u8; 32];
            bytes.copy_from_slice(digest.as_ref());
            Self(bytes)
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            use sha2::Digest as _;
            Self(sha2::Sha256::digest(message).into())
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}
