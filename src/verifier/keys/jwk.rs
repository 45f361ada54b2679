//! A JWKS document and its keys: the rules a Cognito signing key must meet,
//! for a fetched set (unusable keys skipped) and a static one (refused).

use crate::defaults::MAX_JWKS_KEYS;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

/// Smallest RSA modulus accepted, in bits (the reference verifier
/// accepts weaker keys).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (bounds the cost of one verification).
pub(crate) const MAX_RSA_BITS: usize = 8192;
/// Unusable keys of one JWKS logged one by one; the rest are only counted.
const MAX_LOGGED_SKIPS: usize = 5;

/// The public parts of one JWK that passed every rule.
#[derive(PartialEq, Eq)]
pub(crate) struct RsaJwk {
    pub(super) kid: String,
    pub(super) n: Vec<u8>,
    pub(super) e: Vec<u8>,
}

impl fmt::Debug for RsaJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaJwk")
            .field("kid", &self.kid)
            .field("bits", &(self.n.len() * 8))
            .finish_non_exhaustive()
    }
}

/// Decodes one JWK, applying every rule a Cognito signing key must meet: a
/// non-empty string `kid`, `kty` RSA, `use` sig or absent, `alg` RS256 or absent,
/// base64url `n` and `e`, an odd modulus of 2048 to 8192 bits, an odd exponent
/// from 3 to 2^32 - 1. Every member it reads must be a string.
pub(crate) fn decode_key(jwk: &Value) -> Result<RsaJwk, &'static str> {
    let text = |name: &str| -> Result<Option<&str>, &'static str> {
        match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err("a member is not a string"),
        }
    };
    let kid = text("kid")?.filter(|k| !k.is_empty()).ok_or("no kid")?;
    if text("kty")? != Some("RSA") {
        return Err("kty is not RSA");
    }
    if !matches!(text("use")?, None | Some("sig")) {
        return Err("use is not sig");
    }
    if !matches!(text("alg")?, None | Some("RS256")) {
        return Err("alg is not RS256");
    }
    let n = URL_SAFE_NO_PAD
        .decode(text("n")?.ok_or("no n")?)
        .map_err(|_| "n is not base64url")?;
    let e = URL_SAFE_NO_PAD
        .decode(text("e")?.ok_or("no e")?)
        .map_err(|_| "e is not base64url")?;
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    let bits = n
        .first()
        .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
    if bits < MIN_RSA_BITS {
        return Err("modulus is shorter than 2048 bits");
    }
    if bits > MAX_RSA_BITS {
        return Err("modulus is longer than 8192 bits");
    }
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err("modulus is even");
    }
    if e.is_empty() || e.len() > 4 || e.last().is_some_and(|b| b & 1 == 0) || e == [1] {
        return Err("exponent is not an odd number from 3 to 2^32");
    }
    Ok(RsaJwk {
        kid: kid.to_owned(),
        n: n.to_vec(),
        e: e.to_vec(),
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The `keys` of a JWKS document.
fn read_set(body: &[u8]) -> Result<Vec<Value>, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| {
        // serde_json's own message quotes the body: say only what kind and where.
        format!(
            "not a JWKS document ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        )
    })?;
    Ok(set.keys)
}

/// Parses a fetched JWKS document (`source` names where it came from, for the
/// logs). Keys that break a rule are skipped (the first few logged one by one,
/// then a count); the set fails only when no usable key is left.
pub(crate) fn parse_jwks(
    body: &[u8],
    source: &dyn fmt::Display,
) -> Result<HashMap<String, RsaJwk>, String> {
    let set = read_set(body)?;
    let mut keys = HashMap::new();
    let mut skipped = 0usize;
    for (index, jwk) in set.iter().enumerate() {
        if keys.len() >= MAX_JWKS_KEYS {
            tracing::warn!(%source, "JWKS has more than {MAX_JWKS_KEYS} usable keys; the rest are ignored");
            break;
        }
        match decode_key(jwk) {
            Ok(key) if keys.contains_key(&key.kid) => {
                tracing::warn!(
                    %source,
                    index,
                    kid = %key.kid,
                    "JWKS repeats a kid; the first key is kept"
                );
            }
            Ok(key) => {
                keys.insert(key.kid.clone(), key);
            }
            Err(reason) => {
                skipped += 1;
                if skipped <= MAX_LOGGED_SKIPS {
                    tracing::warn!(%source, index, reason, "skipping unusable key in JWKS");
                }
            }
        }
    }
    if skipped > MAX_LOGGED_SKIPS {
        tracing::warn!(
            %source,
            skipped,
            "JWKS has many unusable keys; only the first few were logged"
        );
    }
    if keys.is_empty() {
        return Err(if skipped > 0 {
            format!("JWKS has no usable RS256 key ({skipped} unusable)")
        } else {
            "JWKS has no keys".to_owned()
        });
    }
    Ok(keys)
}

/// Parses a static JWKS document, given as configuration: the key rules are
/// [`decode_key`]'s, exactly as for a fetched set, but nothing is skipped. A key
/// that breaks one, a repeated `kid`, more than [`MAX_JWKS_KEYS`] keys or no key at
/// all is an error, which names the key by its `kid` (or its index when it has
/// no usable `kid`).
pub(crate) fn parse_static_jwks(body: &[u8]) -> Result<HashMap<String, RsaJwk>, String> {
    let set = read_set(body)?;
    if set.is_empty() {
        return Err("has no keys".to_owned());
    }
    if set.len() > MAX_JWKS_KEYS {
        return Err(format!("has {} keys, more than {MAX_JWKS_KEYS}", set.len()));
    }
    let mut keys = HashMap::new();
    for (index, jwk) in set.iter().enumerate() {
        let key = decode_key(jwk).map_err(|reason| {
            let name = match jwk.get("kid") {
                Some(Value::String(kid)) if !kid.is_empty() => {
                    format!("key `{}` (index {index})", kid.escape_debug())
                }
                _ => format!("the key at index {index}"),
            };
            format!("{name} is refused: {reason}")
        })?;
        if keys.contains_key(&key.kid) {
            return Err(format!(
                "key `{}` (index {index}) repeats a kid",
                key.kid.escape_debug()
            ));
        }
        keys.insert(key.kid.clone(), key);
    }
    Ok(keys)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use reqwest::Url;
    use serde_json::json;

    /// A modulus of `bytes` bytes with the top bit set (so exactly `bytes * 8`
    /// bits) and odd, base64url-encoded. Not a real RSA modulus: `decode_key`
    /// only checks its shape.
    fn modulus(bytes: usize) -> String {
        let mut n = vec![0x5a; bytes];
        n[0] = 0xc3;
        n[bytes - 1] = 0x01 | 0x5a;
        URL_SAFE_NO_PAD.encode(n)
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A JWK as Cognito publishes it, with a 2048-bit modulus and e = 65537.
    pub(crate) fn good() -> Value {
        json!({
            "alg": "RS256",
            "e": "AQAB",
            "kid": "abc+/def=",
            "kty": "RSA",
            "n": modulus(256),
            "use": "sig",
        })
    }

    fn with(name: &str, value: Value) -> Value {
        let mut jwk = good();
        jwk[name] = value;
        jwk
    }

    fn without(name: &str) -> Value {
        let mut jwk = good();
        jwk.as_object_mut().unwrap().remove(name);
        jwk
    }

    /// Asserts that `decode_key` refuses each of `jwks` with `error`.
    fn assert_refused(jwks: impl IntoIterator<Item = Value>, error: &str) {
        for jwk in jwks {
            assert_eq!(decode_key(&jwk).unwrap_err(), error, "{jwk}");
        }
    }

    #[test]
    fn accepts_a_cognito_key() {
        let jwk = decode_key(&good()).unwrap();
        assert_eq!(jwk.kid, "abc+/def=");
        assert_eq!(jwk.n.len(), 256);
        assert_eq!(jwk.e, [1, 0, 1]);
    }

    #[test]
    fn use_and_alg_may_be_absent() {
        assert!(decode_key(&without("use")).is_ok());
        assert!(decode_key(&without("alg")).is_ok());
    }

    #[test]
    fn kty_must_be_rsa() {
        let kty = |kty| with("kty", json!(kty));
        assert_refused([kty("EC"), kty("rsa"), without("kty")], "kty is not RSA");
    }

    #[test]
    fn use_must_be_sig() {
        assert_refused(["enc", ""].map(|u| with("use", json!(u))), "use is not sig");
    }

    #[test]
    fn alg_must_be_rs256() {
        let algs = ["RS384", "RS512", "PS256", "HS256", "none", "rs256"];
        assert_refused(algs.map(|alg| with("alg", json!(alg))), "alg is not RS256");
    }

    #[test]
    fn kid_must_be_a_non_empty_string() {
        assert_eq!(decode_key(&without("kid")).unwrap_err(), "no kid");
        assert_eq!(decode_key(&with("kid", json!(""))).unwrap_err(), "no kid");
        assert_eq!(
            decode_key(&with("kid", json!(7))).unwrap_err(),
            "a member is not a string"
        );
    }

    #[test]
    fn members_must_be_strings() {
        for (name, value) in [
            ("kty", json!(["RSA"])),
            ("use", json!(null)),
            ("alg", json!({"name": "RS256"})),
            ("n", json!(12345)),
            ("e", json!(65537)),
            ("kid", json!(true)),
        ] {
            assert_eq!(
                decode_key(&with(name, value)).unwrap_err(),
                "a member is not a string",
                "{name}"
            );
        }
    }

    #[test]
    fn a_jwk_that_is_not_an_object_is_refused() {
        assert!(decode_key(&json!("RSA")).is_err());
        assert!(decode_key(&json!([good()])).is_err());
        assert!(decode_key(&json!(null)).is_err());
    }

    #[test]
    fn n_and_e_must_be_present_unpadded_base64url() {
        assert_eq!(decode_key(&without("n")).unwrap_err(), "no n");
        assert_eq!(decode_key(&without("e")).unwrap_err(), "no e");
        assert_eq!(
            decode_key(&with("n", json!("not base64!"))).unwrap_err(),
            "n is not base64url"
        );
        assert_eq!(
            decode_key(&with("e", json!("AQAB=="))).unwrap_err(),
            "e is not base64url"
        );
        let standard = base64::engine::general_purpose::STANDARD_NO_PAD.encode([0xfb; 256]);
        assert_eq!(
            decode_key(&with("n", json!(standard))).unwrap_err(),
            "n is not base64url"
        );
    }

    #[test]
    fn modulus_below_2048_bits_is_refused() {
        // 1024 bits: 128 bytes with the top bit set.
        assert_eq!(
            decode_key(&with("n", json!(modulus(128)))).unwrap_err(),
            "modulus is shorter than 2048 bits"
        );
        // 2047 bits: 256 bytes whose top bit is clear.
        let mut n = vec![0x5b; 256];
        n[0] = 0x7f;
        assert_eq!(
            decode_key(&with("n", json!(b64(&n)))).unwrap_err(),
            "modulus is shorter than 2048 bits"
        );
        // Leading zero bytes do not count: 8 zero bytes + 1024 bits is still 1024 bits.
        let mut n = vec![0; 8];
        n.extend(URL_SAFE_NO_PAD.decode(modulus(128)).unwrap());
        assert_eq!(
            decode_key(&with("n", json!(b64(&n)))).unwrap_err(),
            "modulus is shorter than 2048 bits"
        );
        assert_eq!(
            decode_key(&with("n", json!(""))).unwrap_err(),
            "modulus is shorter than 2048 bits"
        );
    }

    #[test]
    fn modulus_with_a_leading_zero_byte_keeps_its_size() {
        let mut n = vec![0];
        n.extend(URL_SAFE_NO_PAD.decode(modulus(256)).unwrap());
        let jwk = decode_key(&with("n", json!(b64(&n)))).unwrap();
        assert_eq!(jwk.n.len(), 256);
    }

    #[test]
    fn modulus_above_8192_bits_is_refused() {
        assert!(decode_key(&with("n", json!(modulus(1024)))).is_ok());
        assert_eq!(
            decode_key(&with("n", json!(modulus(1025)))).unwrap_err(),
            "modulus is longer than 8192 bits"
        );
    }

    #[test]
    fn even_modulus_is_refused() {
        let mut n = URL_SAFE_NO_PAD.decode(modulus(256)).unwrap();
        n[255] &= 0xfe;
        assert_eq!(
            decode_key(&with("n", json!(b64(&n)))).unwrap_err(),
            "modulus is even"
        );
    }

    #[test]
    fn exponent_must_be_odd_and_from_3_to_2_pow_32() {
        let refused = "exponent is not an odd number from 3 to 2^32";
        for e in [
            &[][..],
            &[0],
            &[1],
            &[2],
            &[1, 0, 0],
            &[1, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0],
        ] {
            assert_eq!(
                decode_key(&with("e", json!(b64(e)))).unwrap_err(),
                refused,
                "{e:?}"
            );
        }
        for e in [
            &[3][..],
            &[1, 0, 1],
            &[0, 1, 0, 1],
            &[0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(decode_key(&with("e", json!(b64(e)))).is_ok(), "{e:?}");
        }
    }

    fn url() -> Url {
        Url::parse("https://example.test/.well-known/jwks.json").unwrap()
    }

    fn set(keys: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn one_malformed_key_does_not_spoil_the_set() {
        let mut weak = with("kid", json!("weak"));
        weak["n"] = json!(modulus(128));
        let body = set(vec![
            weak,
            good(),
            json!("not an object"),
            with("alg", json!("HS256")),
        ]);
        let keys = parse_jwks(&body, &url()).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.contains_key("abc+/def="));
    }

    #[test]
    fn a_set_without_a_usable_key_fails() {
        let err = parse_jwks(&set(vec![with("kty", json!("EC"))]), &url()).unwrap_err();
        assert!(err.contains("no usable RS256 key"), "{err}");
        assert!(parse_jwks(&set(vec![]), &url()).is_err());
        assert!(
            parse_jwks(b"<html>", &url())
                .unwrap_err()
                .starts_with("not a JWKS document")
        );
        assert!(parse_jwks(b"{\"keys\": {}}", &url()).is_err());
        assert!(parse_jwks(b"[]", &url()).is_err());
    }

    #[test]
    fn a_repeated_kid_keeps_the_first_key() {
        let second = with("n", json!(modulus(512)));
        let keys = parse_jwks(&set(vec![good(), second]), &url()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["abc+/def="].n.len(), 256);
    }

    #[test]
    fn at_most_max_keys_are_kept() {
        let keys: Vec<Value> = (0..MAX_JWKS_KEYS + 5)
            .map(|i| with("kid", json!(format!("k{i}"))))
            .collect();
        assert_eq!(parse_jwks(&set(keys), &url()).unwrap().len(), MAX_JWKS_KEYS);
    }

    #[test]
    fn a_static_set_refuses_what_a_fetched_set_skips_naming_the_key() {
        let mut weak = with("kid", json!("weak"));
        weak["n"] = json!(modulus(128));
        let cases = [
            (
                weak,
                "key `weak` (index 1) is refused: modulus is shorter than 2048 bits",
            ),
            (
                with("use", json!("enc")),
                "key `abc+/def=` (index 1) is refused: use is not sig",
            ),
            (without("kid"), "the key at index 1 is refused: no kid"),
            (json!("RSA"), "the key at index 1 is refused: no kid"),
        ];
        let other = with("kid", json!("other"));
        for (bad, expected) in cases {
            let body = set(vec![other.clone(), bad]);
            // Fetched: the bad key is skipped, the good one kept.
            assert_eq!(parse_jwks(&body, &url()).unwrap().len(), 1, "{expected}");
            // Static: the set is refused, and the message names the key.
            assert_eq!(parse_static_jwks(&body).unwrap_err(), expected);
        }
        let repeated = set(vec![good(), with("n", json!(modulus(512)))]);
        assert_eq!(
            parse_static_jwks(&repeated).unwrap_err(),
            "key `abc+/def=` (index 1) repeats a kid"
        );
        assert_eq!(parse_static_jwks(&set(vec![])).unwrap_err(), "has no keys");
        assert!(
            parse_static_jwks(b"<html>")
                .unwrap_err()
                .starts_with("not a JWKS document")
        );
        let keys = parse_static_jwks(&set(vec![good(), other])).unwrap();
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn a_static_set_is_checked_by_the_one_key_validator() {
        // Every rule of `decode_key` refuses a static set with `decode_key`'s
        // own reason: the two paths cannot drift apart.
        for bad in [
            with("kty", json!("EC")),
            with("alg", json!("RS512")),
            with("n", json!("not base64!")),
            with("e", json!(b64(&[2]))),
            with("n", json!(modulus(1025))),
        ] {
            let reason = decode_key(&bad).unwrap_err();
            let err = parse_static_jwks(&set(vec![bad])).unwrap_err();
            assert_eq!(
                err,
                format!("key `abc+/def=` (index 0) is refused: {reason}")
            );
        }
    }
}
