//! Splitting and decoding a compact JWS, before any key is involved.

use crate::error::{AuthError, AuthErrorKind};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// The parts of a token that are needed to pick and apply a key.
pub(crate) struct Parsed<'a> {
    pub(crate) kid: String,
    /// `header.payload`: the bytes the signature covers.
    pub(crate) signing_input: &'a [u8],
    pub(crate) signature: Vec<u8>,
    pub(crate) payload: Map<String, Value>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    /// Whether `crit` is present at all, whatever its value (even `null`).
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: de::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// Parses a token in the order of the full check: size, segments, base64url,
/// JSON header, algorithm, `crit`, `kid`, JSON payload. Nothing here trusts the
/// token; the signature is checked by the caller.
pub(crate) fn parse(token: &str, max_len: usize) -> Result<Parsed<'_>, AuthError> {
    if token.len() > max_len {
        return Err(AuthError::malformed("token is larger than the size limit"));
    }
    let mut segments = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(AuthError::malformed(
            "token does not have exactly three segments",
        ));
    };
    if signature.is_empty() {
        return Err(AuthError::malformed("token has an empty signature"));
    }
    let header_json = decode_segment(header_b64, "header")?;
    let payload_json = decode_segment(payload_b64, "payload")?;
    let signature = decode_segment(signature, "signature")?;

    let header: Header = serde_json::from_slice(&header_json).map_err(|_| {
        AuthError::malformed("token header is not a JSON object with a string `alg`")
    })?;
    if header.alg != "RS256" {
        return Err(AuthError::new(
            AuthErrorKind::DisallowedAlgorithm,
            "token `alg` is not RS256",
        ));
    }
    if header.crit {
        return Err(AuthError::new(
            AuthErrorKind::DisallowedAlgorithm,
            "token header has `crit` extensions, none of which are understood",
        ));
    }
    let kid = match header.kid {
        Some(kid) if !kid.is_empty() => kid,
        _ => return Err(AuthError::malformed("token header has no `kid`")),
    };

    let UniqueMap(payload) = serde_json::from_slice(&payload_json).map_err(|_| {
        AuthError::malformed("token payload is not a JSON object with unique names")
    })?;

    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Parsed {
        kid,
        signing_input,
        signature,
        payload,
    })
}

fn decode_segment(segment: &str, what: &'static str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD.decode(segment).map_err(|_| {
        AuthError::malformed(match what {
            "header" => "token header is not unpadded base64url",
            "payload" => "token payload is not unpadded base64url",
            _ => "token signature is not unpadded base64url",
        })
    })
}

/// A JSON object that refuses duplicate names, so no two checks can read the same
/// claim two ways.
pub(crate) struct UniqueMap(pub(crate) Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueMap {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UniqueMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueMap, A::Error> {
                let mut map = Map::new();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    if map.contains_key(&name) {
                        return Err(de::Error::custom("duplicate member name"));
                    }
                    map.insert(name, value);
                }
                Ok(UniqueMap(map))
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    const H: &str = r#"{"alg":"RS256","kid":"k1"}"#;

    #[test]
    fn parses_a_well_formed_token() {
        let t = token(H, r#"{"sub":"a"}"#);
        let p = parse(&t, 16 * 1024).unwrap();
        assert_eq!(p.kid, "k1");
        assert_eq!(p.payload["sub"], "a");
        assert_eq!(p.signature, b"sig");
        assert_eq!(p.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
    }

    fn kind(t: &str) -> AuthErrorKind {
        match parse(t, 16 * 1024) {
            Ok(_) => panic!("accepted {t}"),
            Err(e) => e.kind(),
        }
    }

    #[test]
    fn rejects_structure_problems() {
        use AuthErrorKind::*;
        let good = token(H, "{}");
        assert_eq!(kind(&good[..good.rfind('.').unwrap()]), MalformedToken);
        assert_eq!(kind(&format!("{good}.x")), MalformedToken);
        assert_eq!(kind(&format!("{good}=")), MalformedToken);
        assert_eq!(kind(&format!(" {good}")), MalformedToken);
        assert_eq!(
            kind(&format!("{}.", &good[..good.rfind('.').unwrap()])),
            MalformedToken
        );
        assert_eq!(kind(&token("[]", "{}")), MalformedToken);
        assert_eq!(kind(&token(H, "[]")), MalformedToken);
        assert_eq!(kind(&token(H, r#"{"a":1,"a":2}"#)), MalformedToken);
        assert_eq!(
            kind(&token(r#"{"alg":"RS256","kid":"k","kid":"j"}"#, "{}")),
            MalformedToken
        );
        assert_eq!(kind(&token(r#"{"alg":"RS256"}"#, "{}")), MalformedToken);
        assert_eq!(
            kind(&token(r#"{"alg":"RS256","kid":""}"#, "{}")),
            MalformedToken
        );
        assert_eq!(
            kind(&token(r#"{"alg":"none","kid":"k"}"#, "{}")),
            DisallowedAlgorithm
        );
        assert_eq!(
            kind(&token(r#"{"alg":"HS256","kid":"k"}"#, "{}")),
            DisallowedAlgorithm
        );
        assert_eq!(
            kind(&token(r#"{"alg":"rs256","kid":"k"}"#, "{}")),
            DisallowedAlgorithm
        );
        assert_eq!(
            kind(&token(r#"{"alg":"RS256","kid":"k","crit":["exp"]}"#, "{}")),
            DisallowedAlgorithm
        );
        assert_eq!(
            kind(&token(r#"{"alg":"RS256","kid":"k","crit":null}"#, "{}")),
            DisallowedAlgorithm
        );
        assert!(parse(&good, good.len() - 1).is_err());
    }
}
