//! Splitting and decoding `x-amzn-oidc-data`, before any key is involved.

use crate::error::{AuthError, AuthErrorKind};
use crate::verifier::token::UniqueMap;
use base64::Engine as _;
use serde_json::{Map, Value};

/// Longest `kid` accepted. AWS's are UUIDs (36 bytes).
pub(crate) const MAX_KID_LEN: usize = 128;

/// The header fields the load balancer puts in the token.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) kid: String,
    /// The load balancer's ARN.
    pub(crate) signer: String,
    pub(crate) iss: Option<String>,
    /// The app client the load balancer authenticated with.
    pub(crate) client: Option<String>,
    pub(crate) exp: u64,
}

/// The parts of a token needed to pick and apply a key.
pub(crate) struct Parsed<'a> {
    pub(crate) header: Header,
    /// `header.payload` exactly as sent, padding included: what was signed.
    pub(crate) signing_input: &'a [u8],
    /// `r || s`, as JWS writes an ES256 signature.
    pub(crate) signature: [u8; 64],
    pub(crate) payload: Map<String, Value>,
}

/// Parses a token in the order of the check: size, segments, base64url (padded
/// as the load balancer sends it, or unpadded), JSON header without duplicate
/// names, `alg` ES256, no `crit`, `kid`, `signer`, `exp`, then the JSON payload.
/// Nothing here trusts the token; the signature is the caller's to check.
pub(crate) fn parse(token: &str, max_len: usize) -> Result<Parsed<'_>, AuthError> {
    if token.len() > max_len {
        return Err(AuthError::malformed("token is larger than the size limit"));
    }
    let [header_b64, payload_b64, signature_b64] = crate::verifier::token::segments(token)?;
    let header_json = decode_segment(header_b64)
        .ok_or_else(|| AuthError::malformed("token header is not canonical base64url"))?;
    let payload_json = decode_segment(payload_b64)
        .ok_or_else(|| AuthError::malformed("token payload is not canonical base64url"))?;
    let signature = decode_segment(signature_b64)
        .ok_or_else(|| AuthError::malformed("token signature is not canonical base64url"))?;

    let UniqueMap(header) = serde_json::from_slice(&header_json)
        .map_err(|_| AuthError::malformed("token header is not a JSON object with unique names"))?;
    let header = read_header(&header)?;
    let signature: [u8; 64] = signature.try_into().map_err(|_| {
        AuthError::malformed("token signature is not the 64 bytes of an ES256 signature")
    })?;
    let UniqueMap(payload) = serde_json::from_slice(&payload_json).map_err(|_| {
        AuthError::malformed("token payload is not a JSON object with unique names")
    })?;
    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Parsed {
        header,
        signing_input,
        signature,
        payload,
    })
}

/// Decodes one segment: base64url, either unpadded (RFC 7515) or with exactly
/// the padding RFC 4648 gives that length (what the load balancer sends). Too
/// much or too little padding, `=` anywhere else, the standard alphabet's `+`
/// and `/`, whitespace, and non-zero trailing bits are all refused: the one
/// leniency is the padding AWS documents.
pub(crate) fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    let data = segment.trim_end_matches('=');
    let padding = segment.len() - data.len();
    if padding != 0 && padding != (4 - data.len() % 4) % 4 {
        return None;
    }
    crate::verifier::token::base64url().decode(data).ok()
}

fn read_header(header: &Map<String, Value>) -> Result<Header, AuthError> {
    let text = |name: &str| -> Result<Option<&str>, AuthError> {
        match header.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(AuthError::malformed("a token header field is not a string")),
        }
    };
    match text("alg")? {
        Some("ES256") => {}
        Some(_) => {
            return Err(AuthError::new(
                AuthErrorKind::DisallowedAlgorithm,
                "token `alg` is not ES256",
            ));
        }
        None => return Err(AuthError::malformed("token header has no `alg`")),
    }
    if header.contains_key("crit") {
        return Err(AuthError::new(
            AuthErrorKind::DisallowedAlgorithm,
            "token header has `crit` extensions, none of which are understood",
        ));
    }
    let kid = text("kid")?
        .filter(|k| !k.is_empty())
        .ok_or_else(|| AuthError::malformed("token header has no `kid`"))?;
    check_kid(kid).map_err(AuthError::malformed)?;
    let signer = text("signer")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AuthError::malformed("token header has no `signer`"))?;
    let exp = match header.get("exp") {
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
            (Some(exp), _) => exp,
            // Before 1970: long passed.
            (None, Some(_)) => 0,
            _ => {
                return Err(AuthError::malformed(
                    "token header `exp` is not an integer number of seconds",
                ));
            }
        },
        Some(_) => return Err(AuthError::malformed("token header `exp` is not a number")),
        None => return Err(AuthError::malformed("token header has no `exp`")),
    };
    Ok(Header {
        kid: kid.to_owned(),
        signer: signer.to_owned(),
        iss: text("iss")?.map(str::to_owned),
        client: text("client")?.map(str::to_owned),
        exp,
    })
}

/// A `kid` goes into the key URL's path: it must stay one segment there. AWS's
/// are UUIDs; any visible ASCII is taken (and percent-encoded), except what
/// could name another path: `/`, `\`, `..`, or `.` alone.
pub(crate) fn check_kid(kid: &str) -> Result<(), &'static str> {
    if kid.len() > MAX_KID_LEN {
        return Err("token `kid` is longer than 128 bytes");
    }
    if !kid.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("token `kid` has characters other than visible ASCII");
    }
    if kid.contains(['/', '\\']) || kid.contains("..") || kid == "." {
        return Err("token `kid` could name another path of the key endpoint");
    }
    Ok(())
}

/// The `kid` as one path segment: everything but letters, digits and `-._~`
/// percent-encoded.
pub(crate) fn encode_kid(kid: &str) -> String {
    let mut out = String::with_capacity(kid.len());
    for b in kid.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    const HEADER: &str = r#"{"alg":"ES256","kid":"12345678-1234-1234-1234-123456789012","signer":"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-lb/50dc6c495c0c9188","iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC","client":"c1","exp":4000000000}"#;

    fn token(header: &str, payload: &str, padded: bool) -> String {
        let enc = |b: &[u8]| {
            if padded {
                URL_SAFE.encode(b)
            } else {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
            }
        };
        format!(
            "{}.{}.{}",
            enc(header.as_bytes()),
            enc(payload.as_bytes()),
            enc(&[7; 64])
        )
    }

    fn kind(t: &str) -> AuthErrorKind {
        match parse(t, 16 * 1024) {
            Ok(_) => panic!("accepted {t}"),
            Err(e) => e.kind(),
        }
    }

    #[test]
    fn reads_a_padded_token_as_the_load_balancer_sends_it() {
        // 64 signature bytes always need "==", and these JSON lengths need some too.
        let t = token(HEADER, r#"{"sub":"u-1","email":"a@b.c"}"#, true);
        assert!(t.contains("=."), "{t}");
        let p = parse(&t, 16 * 1024).unwrap();
        assert_eq!(p.header.kid, "12345678-1234-1234-1234-123456789012");
        assert_eq!(p.header.exp, 4_000_000_000);
        assert_eq!(p.header.client.as_deref(), Some("c1"));
        assert_eq!(p.payload["sub"], "u-1");
        assert_eq!(p.signature, [7; 64]);
        // What was signed is what was sent, padding and all.
        assert_eq!(p.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
        // Unpadded (RFC 7515) too.
        let t = token(HEADER, r#"{"sub":"u-1"}"#, false);
        assert!(!t.contains('='));
        assert!(parse(&t, 16 * 1024).is_ok());
    }

    #[test]
    fn only_the_exact_padding_is_accepted() {
        // One byte: "AQ" or "AQ=="; two bytes: "AQI" or "AQI=".
        assert_eq!(decode_segment("AQ"), Some(vec![1]));
        assert_eq!(decode_segment("AQ=="), Some(vec![1]));
        assert_eq!(decode_segment("AQI="), Some(vec![1, 2]));
        assert_eq!(decode_segment("AQID"), Some(vec![1, 2, 3]));
        for bad in [
            "AQ=", "AQ===", "AQI==", "AQID=", "AQID====", "A=Q=", "=AQ", "A", "A===", "AR", "AR==",
            "+/8=", "AQ ==", " AQ", "AQ\n", "AQ%3D%3D",
        ] {
            assert_eq!(decode_segment(bad), None, "{bad:?}");
        }
        // The standard alphabet's "+/" is refused where base64url has "-_".
        assert_eq!(decode_segment("-_8="), Some(vec![0xfb, 0xff]));
        assert_eq!(STANDARD.encode([0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn refuses_structure_problems() {
        use AuthErrorKind::*;
        let good = token(HEADER, "{}", true);
        assert_eq!(kind(&good[..good.rfind('.').unwrap()]), MalformedToken);
        assert_eq!(kind(&format!("{good}.x")), MalformedToken);
        assert_eq!(kind(&format!("{good}=")), MalformedToken);
        assert_eq!(kind(&format!(" {good}")), MalformedToken);
        assert_eq!(kind(&token(HEADER, "[]", true)), MalformedToken);
        assert_eq!(
            kind(&token(HEADER, r#"{"a":1,"a":2}"#, true)),
            MalformedToken
        );
        let dup = HEADER.replacen(r#""alg":"ES256","#, r#""alg":"ES256","alg":"ES256","#, 1);
        assert_eq!(kind(&token(&dup, "{}", true)), MalformedToken);
        // A signature of another length.
        let (input, _) = good.rsplit_once('.').unwrap();
        assert_eq!(
            kind(&format!("{input}.{}", URL_SAFE.encode([7; 72]))),
            MalformedToken
        );
        assert!(parse(&good, good.len() - 1).is_err());
    }

    #[test]
    fn alg_is_pinned_to_es256() {
        for alg in ["RS256", "none", "HS256", "es256", "ES384", "ES256K", ""] {
            let h = HEADER.replace(r#""alg":"ES256""#, &format!(r#""alg":"{alg}""#));
            assert_eq!(
                kind(&token(&h, "{}", true)),
                AuthErrorKind::DisallowedAlgorithm,
                "{alg}"
            );
        }
        let h = HEADER.replace(r#""alg":"ES256","#, "");
        assert_eq!(kind(&token(&h, "{}", true)), AuthErrorKind::MalformedToken);
        let h = HEADER.replace(r#""alg":"ES256""#, r#""alg":["ES256"]"#);
        assert_eq!(kind(&token(&h, "{}", true)), AuthErrorKind::MalformedToken);
        let h = HEADER.replace('}', r#","crit":["exp"]}"#);
        assert_eq!(
            kind(&token(&h, "{}", true)),
            AuthErrorKind::DisallowedAlgorithm
        );
    }

    #[test]
    fn kid_signer_and_exp_are_required_with_their_types() {
        for (field, value) in [
            ("kid", None),
            ("kid", Some(r#""""#)),
            ("kid", Some("7")),
            ("signer", None),
            ("signer", Some(r#""""#)),
            ("exp", None),
            ("exp", Some(r#""4000000000""#)),
            ("exp", Some("4.5e9")),
            ("iss", Some("1")),
            ("client", Some("[]")),
        ] {
            let mut h: Map<String, Value> = serde_json::from_str(HEADER).unwrap();
            match value {
                None => {
                    h.remove(field);
                }
                Some(v) => {
                    h.insert(field.to_owned(), serde_json::from_str(v).unwrap());
                }
            }
            let h = Value::Object(h).to_string();
            assert_eq!(
                kind(&token(&h, "{}", true)),
                AuthErrorKind::MalformedToken,
                "{field} = {value:?}"
            );
        }
        // iss and client may be absent (the verifier decides whether it needs them).
        let mut h: Map<String, Value> = serde_json::from_str(HEADER).unwrap();
        h.remove("iss");
        h.remove("client");
        let t = token(&Value::Object(h).to_string(), "{}", true);
        let p = parse(&t, 16 * 1024).unwrap();
        assert_eq!((p.header.iss, p.header.client), (None, None));
    }

    #[test]
    fn kids_that_could_leave_their_path_segment_are_refused() {
        for kid in [
            "../x", "a/b", "..", ".", "a\\b", "a..b", "a b", "\u{e9}", "k\u{7f}",
        ] {
            assert!(check_kid(kid).is_err(), "{kid:?}");
        }
        assert!(check_kid(&"k".repeat(129)).is_err());
        let uuid = "12345678-1234-1234-1234-123456789012";
        for kid in [uuid, "a.b", "abc+def=", "x?y#z%2F"] {
            assert!(check_kid(kid).is_ok(), "{kid:?}");
        }
        assert_eq!(encode_kid("abc+def="), "abc%2Bdef%3D");
        assert_eq!(encode_kid("x?y#z%2F"), "x%3Fy%23z%252F");
        assert_eq!(encode_kid("a.b-c_d~e"), "a.b-c_d~e");
    }
}
