//! Arbitrary bytes as a token, verified by a `Verifier` whose pool's keys are
//! served by a local JWKS endpoint. Nothing may panic, and nothing the harness did
//! not sign may be accepted.
//!
//! The first byte picks how the rest becomes a token:
//! - `0`, `1`: the bytes are the token (as UTF-8, lossily);
//! - `2`: `header 0xFF payload 0xFF signature`, each part base64url-encoded, so the
//!   fuzzer works on the JSON directly;
//! - `3`: `header 0xFF payload`, JSON text signed with the pool's real key, so the
//!   fuzzer reaches the checks that come after the signature.

#![no_main]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let env = common::env();
    let mut parts = rest.splitn(3, |&b| b == 0xff);
    let mut next = || parts.next().unwrap_or_default();
    let token = match mode % 4 {
        2 => {
            let (header, payload, signature) = (next(), next(), next());
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload),
                URL_SAFE_NO_PAD.encode(signature)
            )
        }
        3 => {
            let (header, payload) = (next(), next());
            env.sign(
                &String::from_utf8_lossy(header),
                &String::from_utf8_lossy(payload),
            )
        }
        _ => String::from_utf8_lossy(rest).into_owned(),
    };
    // Twice: the second time may be answered by the token cache.
    for _ in 0..2 {
        if let Ok(claims) = env.runtime.block_on(env.verifier.verify(&token)) {
            env.assert_acceptable(&token, &claims);
        }
    }
});
