//! Arbitrary bytes as a JWKS document, read as a key-set fetch reads the body
//! (through the hidden `tower_cognito::__fuzz::jwks_kids`: the public path is a
//! fetch per input). Nothing may panic, and the keys kept must be exactly the
//! ones the key rules allow, as this harness reads the rules on its own:
//!
//! - the document is a JSON object whose `keys` is an array (serde's derived
//!   struct also takes `[[...keys]]`, an array holding the array; see below);
//! - a key is kept when its `kid` is a non-empty string seen for the first time,
//!   `kty` is `RSA`, `use` is absent or `sig`, `alg` absent or `RS256` (each of
//!   these a string when present), `n` and `e` unpadded base64url, the modulus
//!   (leading zero bytes aside) odd and of 2048 to 8192 bits, the exponent odd,
//!   at most 4 bytes and not 1;
//! - at most 1024 keys are kept; with none the document is refused.
//!
//! The first byte picks the form: even, the rest is the document; odd, the rest
//! is wrapped as `{"keys":[` rest `]}`, so that the fuzzer works on the keys.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const MAX_KEYS: usize = 1024;

/// The `kid` of a key the rules allow.
fn usable(jwk: &Value) -> Option<&str> {
    // Every member the rules read must be a string when present.
    let text = |name: &str| -> Result<Option<&str>, ()> {
        match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(()),
        }
    };
    let kid = text("kid").ok()??;
    let fields = (text("kty"), text("use"), text("alg"), text("n"), text("e"));
    let (Ok(kty), Ok(use_), Ok(alg), Ok(Some(n)), Ok(Some(e))) = fields else {
        return None;
    };
    if kid.is_empty() || kty != Some("RSA") {
        return None;
    }
    if !matches!(use_, None | Some("sig")) || !matches!(alg, None | Some("RS256")) {
        return None;
    }
    let n = URL_SAFE_NO_PAD.decode(n).ok()?;
    let e = URL_SAFE_NO_PAD.decode(e).ok()?;
    let n: Vec<u8> = n.into_iter().skip_while(|&b| b == 0).collect();
    let e: Vec<u8> = e.into_iter().skip_while(|&b| b == 0).collect();
    let bits = match n.first() {
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    let odd = |v: &[u8]| v.last().is_some_and(|b| b & 1 == 1);
    ((2048..=8192).contains(&bits) && odd(&n) && odd(&e) && e.len() <= 4 && e != [1])
        .then_some(kid)
}

/// The `keys` array of a document the parser must read, if it is one.
fn keys_of(document: &Value) -> Option<&Vec<Value>> {
    match document {
        Value::Object(members) => members.get("keys")?.as_array(),
        // serde's derived struct reads a one-element array as the struct's one
        // field: leniency of the parser, left as it is (a JWKS comes from the
        // pool's own HTTPS endpoint, and no key in it is taken unchecked).
        Value::Array(fields) if fields.len() == 1 => fields[0].as_array(),
        _ => None,
    }
}

/// Whether the raw text has `keys` twice at the top level (serde refuses it).
fn keys_twice(bytes: &[u8]) -> bool {
    use serde::de::{self, Deserializer as _, MapAccess, Visitor};
    struct Count;
    impl<'de> Visitor<'de> for Count {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while let Some((name, _)) = access.next_entry::<String, de::IgnoredAny>()? {
                n += usize::from(name == "keys");
            }
            Ok(n)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.deserialize_map(Count).is_ok_and(|n| n > 1)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let document: Vec<u8> = if mode & 1 == 1 {
        [br#"{"keys":["#.as_slice(), rest, b"]}"].concat()
    } else {
        rest.to_vec()
    };
    let got = tower_cognito::__fuzz::jwks_kids(&document);

    let parsed: Option<Value> = serde_json::from_slice(&document).ok();
    let keys = if keys_twice(&document) {
        None
    } else {
        parsed.as_ref().and_then(keys_of)
    };
    let Some(keys) = keys else {
        assert!(got.is_err(), "kept keys of a document that is not a JWKS: {got:?}");
        return;
    };
    let mut expected: Vec<&str> = Vec::new();
    for jwk in keys {
        if expected.len() >= MAX_KEYS {
            break;
        }
        if let Some(kid) = usable(jwk)
            && !expected.contains(&kid)
        {
            expected.push(kid);
        }
    }
    expected.sort_unstable();
    match got {
        Ok(kids) => {
            assert!(!kids.is_empty(), "an empty key set was taken");
            assert_eq!(kids, expected, "kept other keys than the rules allow");
        }
        Err(reason) => assert!(
            expected.is_empty(),
            "refused a document with usable keys {expected:?}: {reason}"
        ),
    }
});
