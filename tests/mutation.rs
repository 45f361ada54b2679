//! Property tests: no change to the bytes of a valid token is accepted.
//!
//! One local pool, one verifier (token cache off, so every case runs the full
//! check) and one runtime (support's shared one) serve every case; the valid
//! token is checked to pass first, so each rejection is the mutation's doing.

use proptest::prelude::*;
use std::sync::OnceLock;
use std::time::Duration;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{AuthErrorKind, Verifier};

mod support;

struct Env {
    verifier: Verifier,
    /// Kept alive: its JWKS server stops when it is dropped.
    _pool: LocalUserPool,
    id_token: String,
    access_token: String,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        support::shared_runtime().block_on(async {
            let pool = LocalUserPool::start().await.unwrap();
            let verifier = pool
                .verifier_builder()
                .token_cache_capacity(0)
                // Mutated kids must not turn the run into a stream of fetches.
                .unknown_kid_cooldown(Duration::from_secs(3600))
                .build()
                .unwrap();
            verifier.prefetch().await.unwrap();
            let id_token = pool.id_token().groups(["admins"]).sign();
            let access_token = pool
                .access_token()
                .scopes(["notes/read", "notes/write"])
                .sign();
            for token in [&id_token, &access_token] {
                verifier
                    .verify(token)
                    .await
                    .expect("the unmutated token is valid");
            }
            Env {
                verifier,
                _pool: pool,
                id_token,
                access_token,
            }
        })
    })
}

/// Verifies the (possibly mutated) bytes and returns the rejection's kind.
/// Bytes that are not UTF-8 cannot be passed as a token (and the layer refuses
/// such headers); their lossy form is still a changed token, so that is verified.
fn rejection(bytes: &[u8]) -> Result<AuthErrorKind, TestCaseError> {
    let env = env();
    let token = String::from_utf8_lossy(bytes);
    match support::shared_runtime().block_on(env.verifier.verify(&token)) {
        Ok(claims) => Err(TestCaseError::fail(format!(
            "a mutated token was accepted (sub {})",
            claims.sub()
        ))),
        Err(e) => Ok(e.kind()),
    }
}

/// The kinds a changed token may get. A change can spoil the structure, the
/// algorithm, the `kid`, the issuer or the signature; it can never get as far as
/// the checks that come after the signature (expiry, token use, client), and it
/// never makes the key set unavailable.
fn assert_early(kind: AuthErrorKind) -> Result<(), TestCaseError> {
    use AuthErrorKind as K;
    prop_assert!(
        matches!(
            kind,
            K::MalformedToken
                | K::DisallowedAlgorithm
                | K::UnknownKey
                | K::WrongIssuer
                | K::BadSignature
        ),
        "unexpected kind {:?}",
        kind
    );
    Ok(())
}

fn token(access: bool) -> &'static [u8] {
    let env = env();
    if access {
        env.access_token.as_bytes()
    } else {
        env.id_token.as_bytes()
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any one byte changed to any other value.
    #[test]
    fn any_single_byte_change_is_rejected(access: bool, at: prop::sample::Index, flip in 1u8..=255) {
        let mut bytes = token(access).to_vec();
        let at = at.index(bytes.len());
        bytes[at] ^= flip;
        assert_early(rejection(&bytes)?)?;
    }

    /// The byte changed to one of the characters a token is made of, so that the
    /// change survives base64 decoding more often.
    #[test]
    fn any_change_within_the_alphabet_is_rejected(
        access: bool,
        at: prop::sample::Index,
        to in prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.".to_vec()),
    ) {
        let mut bytes = token(access).to_vec();
        let at = at.index(bytes.len());
        prop_assume!(bytes[at] != to);
        bytes[at] = to;
        assert_early(rejection(&bytes)?)?;
    }

    /// Every proper prefix.
    #[test]
    fn any_truncation_is_rejected(access: bool, keep: prop::sample::Index) {
        let bytes = token(access);
        let keep = keep.index(bytes.len());
        assert_early(rejection(&bytes[..keep])?)?;
    }

    /// A proper suffix (the front cut off).
    #[test]
    fn any_cut_from_the_front_is_rejected(access: bool, cut in 1usize..64) {
        let bytes = token(access);
        assert_early(rejection(&bytes[cut..])?)?;
    }

    /// Bytes appended at the end.
    #[test]
    fn any_extension_is_rejected(access: bool, tail in prop::collection::vec(any::<u8>(), 1..64)) {
        let mut bytes = token(access).to_vec();
        bytes.extend_from_slice(&tail);
        assert_early(rejection(&bytes)?)?;
    }

    /// Bytes inserted anywhere, or one byte removed anywhere.
    #[test]
    fn any_insertion_or_deletion_is_rejected(
        access: bool,
        at: prop::sample::Index,
        insert in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut bytes = token(access).to_vec();
        let at = at.index(bytes.len());
        if insert.is_empty() {
            bytes.remove(at);
        } else {
            bytes.splice(at..at, insert);
        }
        assert_early(rejection(&bytes)?)?;
    }
}
