//! The expected relation between the two verdicts.
//!
//! Each side's answer is reduced to the fault it reports (`Fault`). Both verifiers stop
//! at their first failed check, and they check in different orders, so a token with two
//! faults can be refused by each for another reason. That is fine only when each side
//! stopped before reaching the check that the other failed: `crate_stage` and
//! `ref_stage` give where each side checks each fault. When tower-cognito goes past a
//! check the reference failed, it was more lenient: a disagreement. When the reference
//! goes past the check tower-cognito failed, tower-cognito was stricter, which must be
//! one of the strictnesses the README lists (`explain`). Where the reference refused only
//! for the type of a claim this crate does not read (`scope`, `jti`, an `aud` that is not
//! the app client claim checked), its verdict on the rest of the token decides instead
//! (`Theirs::rest`), and a token both then accept is the one leniency the README lists.
//! Anything else, either way, is a disagreement and fails the test.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tower_cognito::{AuthError, AuthErrorKind};

use crate::generator::{Base, Case, Ctx, VERIFIERS};

/// What the reference said.
pub struct Theirs {
    pub ok: bool,
    pub error: String,
    pub message: String,
    /// On a refusal for the type of a claim this crate does not read (`scope`, `jti`,
    /// an `aud` that is not the app client claim checked), the reference's verdict on
    /// the rest of the token (`reference/batch.mjs`).
    pub rest: Option<Box<Theirs>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Size,
    Syntax,
    /// An empty header or payload segment: outside the reference's pattern, base64 of
    /// nothing to this crate, whose JSON then fails.
    EmptyHeader,
    EmptyPayload,
    SigEncoding,
    HeaderJson,
    Alg,
    Crit,
    Kid,
    /// `kid: null`: serde reads it as no kid, the reference as a kid of the wrong type.
    KidNull,
    /// A kid of another type: both refuse the header while reading it.
    KidType,
    PayloadJson,
    IssType,
    IssMissing,
    IssWrong,
    Key,
    Signature,
    TokenUse,
    ClaimType,
    ExpMissing,
    Expired,
    NotYet,
    Client,
    /// Anything not understood: never explained.
    Other,
}

const NEVER: u32 = u32::MAX;

/// Where tower-cognito checks this (`Verifier::verify_uncached` and `token::parse`).
fn crate_stage(f: Fault) -> u32 {
    use Fault::*;
    match f {
        Size => 10,
        Syntax | SigEncoding | HeaderJson | KidType | EmptyHeader => 20,
        Alg => 30,
        Crit => 31,
        Kid | KidNull => 32,
        PayloadJson | EmptyPayload => 40,
        IssType | IssMissing | IssWrong => 50,
        Key => 60,
        Signature => 70,
        TokenUse | ClaimType | ExpMissing => 80,
        Expired => 90,
        NotYet => 100,
        Client => 110,
        Other => 0,
    }
}

/// Where aws-jwt-verify 5.2.1 checks this (`decomposeUnverifiedJwt`, `getIssuerConfig`,
/// `getCachedJwk`, `validateJwtHeaderAndJwk`, the signature, `validateJwtFields`,
/// `validateCognitoJwtFields`).
fn ref_stage(f: Fault) -> u32 {
    use Fault::*;
    match f {
        EmptyHeader | EmptyPayload => 5,
        Syntax | HeaderJson | KidNull | KidType => 10,
        PayloadJson | IssType | ClaimType => 20,
        IssMissing | IssWrong => 30,
        Kid | Key => 40,
        Alg => 50,
        Signature | SigEncoding => 70,
        Expired => 80,
        NotYet => 85,
        TokenUse => 90,
        Client => 95,
        Size | Crit | ExpMissing => NEVER,
        Other => 0,
    }
}

/// Strictnesses of tower-cognito that the README lists, with their reasons there.
pub const STRICT_SIZE: &str = "token over the 16 KiB size limit";
pub const STRICT_BASE64: &str = "base64url padded, non-canonical, or of a length no encoder makes";
pub const STRICT_DUPLICATES: &str = "duplicate member names";
pub const STRICT_UTF8: &str = "JSON text that is not UTF-8";
pub const STRICT_SURROGATE: &str = "a \\u escape of a lone surrogate";
pub const STRICT_DEPTH: &str = "JSON nested deeper than 128 levels";
pub const STRICT_NUMBER: &str = "a number beyond the range of a double (1e400)";
pub const STRICT_ALG: &str =
    "alg other than RS256 (pinned; the reference follows a JWK without alg)";
pub const STRICT_CRIT: &str = "crit present";
pub const STRICT_WEAK_KEY: &str = "RSA key under 2048 bits";
pub const STRICT_SUB: &str = "sub missing or empty";
pub const STRICT_NO_EXP: &str = "no exp";
pub const STRICT_AUTH_TIME: &str = "auth_time present but not a number";

/// The one leniency of tower-cognito that the README lists, with its reason there.
pub const LENIENT_UNREAD: &str =
    "a claim the verification does not read has another type (scope, jti, aud not checked)";

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Agree(String),
    Stricter(&'static str),
    Lenient(&'static str),
    Disagree(String),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Why {
    Strict(&'static str),
    /// The reference refuses this too, at another stage.
    Shared,
}

fn parse_json(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// Top-level names that occur twice (after unescaping).
fn duplicate_names(bytes: &[u8]) -> Vec<String> {
    use serde::de::{self, Deserializer as _, MapAccess, Visitor};
    struct Names;
    impl<'de> Visitor<'de> for Names {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Vec<String>, A::Error> {
            let mut seen = std::collections::HashSet::new();
            let mut twice = Vec::new();
            while let Some((name, _)) = access.next_entry::<String, de::IgnoredAny>()? {
                if !seen.insert(name.clone()) {
                    twice.push(name);
                }
            }
            Ok(twice)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match de.deserialize_map(Names) {
        Ok(twice) if de.end().is_ok() => twice,
        _ => Vec::new(),
    }
}

/// Why serde_json refuses JSON text that JavaScript's `JSON.parse` (after Node's lenient
/// UTF-8 decoding) takes, if that is why.
fn json_strictness(bytes: &[u8]) -> Option<&'static str> {
    if std::str::from_utf8(bytes).is_err() {
        return Some(STRICT_UTF8);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(_) => (!duplicate_names(bytes).is_empty()).then_some(STRICT_DUPLICATES),
        Err(e) => {
            let msg = e.to_string();
            if msg.contains("surrogate") || msg.contains("end of hex escape") {
                Some(STRICT_SURROGATE)
            } else if msg.contains("recursion limit") {
                Some(STRICT_DEPTH)
            } else if msg.contains("number out of range") {
                Some(STRICT_NUMBER)
            } else {
                None
            }
        }
    }
}

/// The segment passes the reference's pattern and Node's decoder but is not canonical
/// unpadded base64url.
fn lenient_only_base64(segment: &str) -> bool {
    let body = segment.trim_end_matches('=');
    segment.len() - body.len() <= 2
        && !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && URL_SAFE_NO_PAD.decode(segment).is_err()
}

/// The fault tower-cognito reports.
fn crate_fault(err: &AuthError, case: &Case) -> Fault {
    use AuthErrorKind as K;
    let d = err.detail();
    match err.kind() {
        K::MalformedToken => {
            if d.contains("size limit") {
                Fault::Size
            } else if d.contains("signature is not") {
                Fault::SigEncoding
            } else if d.contains("segment") || d.contains("base64") || d.contains("empty signature")
            {
                Fault::Syntax
            } else if d.contains("header") && d.contains("kid") {
                // A kid that is there but not a string is a header type fault to the
                // reference, as to serde.
                match member(&case.header, "kid") {
                    Some(Value::Null) => Fault::KidNull,
                    _ => Fault::Kid,
                }
            } else if d.contains("header") && only_empty_segment(case, 0) {
                Fault::EmptyHeader
            } else if d.contains("header") {
                match (
                    object_member(&case.header, "kid"),
                    object_member(&case.header, "alg"),
                ) {
                    (Ok(Some(kid)), _) if !kid.is_string() && !kid.is_null() => Fault::KidType,
                    // A header object without alg is an algorithm fault to the reference.
                    (_, Ok(None)) => Fault::Alg,
                    _ => Fault::HeaderJson,
                }
            } else if d.contains("payload") && only_empty_segment(case, 1) {
                Fault::EmptyPayload
            } else if d.contains("payload") {
                Fault::PayloadJson
            } else if d.contains("token_use") {
                Fault::TokenUse
            } else if d.contains("no exp") {
                Fault::ExpMissing
            } else if d.contains("string iss") {
                match member(&case.payload, "iss") {
                    None => Fault::IssMissing,
                    Some(_) => Fault::IssType,
                }
            } else {
                Fault::ClaimType
            }
        }
        K::DisallowedAlgorithm if d.contains("crit") => Fault::Crit,
        K::DisallowedAlgorithm => Fault::Alg,
        K::WrongIssuer => Fault::IssWrong,
        K::UnknownKey => Fault::Key,
        K::BadSignature => Fault::Signature,
        K::WrongTokenUse => Fault::TokenUse,
        K::Expired => Fault::Expired,
        K::NotYetValid => Fault::NotYet,
        K::WrongClient => Fault::Client,
        _ => Fault::Other,
    }
}

/// The fault the reference reports (class names from aws-jwt-verify's `error.js`).
fn ref_fault(theirs: &Theirs, case: &Case) -> Fault {
    let m = theirs.message.as_str();
    match theirs.error.as_str() {
        "JwtParseError" => {
            if m.starts_with("JWT string does not consist") && only_empty_segment(case, 0) {
                Fault::EmptyHeader
            } else if m.starts_with("JWT string does not consist") && only_empty_segment(case, 1) {
                Fault::EmptyPayload
            } else if m.starts_with("Empty JWT") || m.starts_with("JWT string does not consist") {
                Fault::Syntax
            } else if m.starts_with("JWT header kid") {
                match member(&case.header, "kid") {
                    Some(Value::Null) => Fault::KidNull,
                    _ => Fault::KidType,
                }
            } else if m.contains("Header is not") || m.starts_with("JWT header") {
                Fault::HeaderJson
            } else if m.contains("Payload is not") || m.starts_with("JWT payload is not") {
                Fault::PayloadJson
            } else if m.starts_with("JWT payload iss") {
                Fault::IssType
            } else if m.starts_with("JWT payload") {
                Fault::ClaimType
            } else {
                Fault::Other
            }
        }
        "ParameterValidationError" if m.starts_with("issuer must be provided") => Fault::IssMissing,
        "ParameterValidationError" if m.starts_with("issuer not configured") => Fault::IssWrong,
        "JwtInvalidIssuerError" => Fault::IssWrong,
        "KidNotFoundInJwksError" | "JwtWithoutValidKidError" => {
            match member(&case.header, "kid").as_ref().and_then(Value::as_str) {
                Some(kid) if !kid.is_empty() => Fault::Key,
                _ => Fault::Kid,
            }
        }
        "JwtInvalidSignatureAlgorithmError" => Fault::Alg,
        "JwkInvalidUseError" | "JwkInvalidKtyError" | "JwkValidationError" => Fault::Key,
        "JwtInvalidSignatureError" => Fault::Signature,
        "JwtExpiredError" => Fault::Expired,
        "JwtNotBeforeError" => Fault::NotYet,
        "CognitoJwtInvalidTokenUseError" => Fault::TokenUse,
        "CognitoJwtInvalidClientIdError" => Fault::Client,
        // Building the message of JwtExpiredError or JwtNotBeforeError fails for a date
        // that JavaScript's Date cannot hold (beyond 8.64e15 s): the refusal is the same.
        "RangeError" if m == "Invalid time value" => {
            let payload = parse_json(&case.payload);
            let exp = payload.as_ref().and_then(|p| p.get("exp")?.as_f64());
            let leeway = VERIFIERS[case.verifier].leeway as f64;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            if exp.is_some_and(|exp| exp + leeway < now) {
                Fault::Expired
            } else {
                Fault::NotYet
            }
        }
        _ => Fault::Other,
    }
}

/// Which claim of the payload tower-cognito refuses for its type, and why that is fine.
///
/// Only the claims the verification reads are typed (`Claims::from_payload` and
/// `Verifier::verify_uncached`): `sub`, the dates (any JSON number), and the app client
/// claim when client ids are configured. Any other claim of any type refuses nothing,
/// so it explains nothing.
fn claim_type_why(case: &Case) -> Option<Why> {
    let Some(Value::Object(p)) = parse_json(&case.payload) else {
        return None;
    };
    let clients = !VERIFIERS[case.verifier].client_ids.is_empty();
    let token_use = p.get("token_use").and_then(Value::as_str).unwrap_or("");
    let mut whys = Vec::new();
    match p.get("sub") {
        None => whys.push(Why::Strict(STRICT_SUB)),
        Some(Value::String(s)) if s.is_empty() => whys.push(Why::Strict(STRICT_SUB)),
        Some(Value::String(_)) => {}
        Some(_) => whys.push(Why::Shared),
    }
    // The app client claim, read only when client ids are configured, where a
    // non-string is refused by both (the reference compares it with the client ids).
    let client_claim = match token_use {
        "id" => Some("aud"),
        "access" => Some("client_id"),
        _ => None,
    };
    if let Some(name) = client_claim.filter(|_| clients)
        && p.get(name).is_some_and(|v| !v.is_string())
    {
        whys.push(Why::Shared);
    }
    for name in ["exp", "nbf", "iat", "auth_time"] {
        match p.get(name) {
            None | Some(Value::Number(_)) => {}
            Some(_) if name == "auth_time" => whys.push(Why::Strict(STRICT_AUTH_TIME)),
            Some(_) => whys.push(Why::Shared),
        }
    }
    // A strictness the README lists comes first; shared is no strictness.
    whys.iter()
        .find(|w| matches!(w, Why::Strict(_)))
        .or_else(|| whys.first())
        .copied()
}

/// Why tower-cognito may refuse for `fault` a token the reference passed that check for.
fn explain(fault: Fault, case: &Case) -> Option<Why> {
    let segments: Vec<&str> = case.token.split('.').collect();
    match fault {
        Fault::Size => (case.token.len() > 16 * 1024).then_some(Why::Strict(STRICT_SIZE)),
        Fault::Syntax => (segments.len() == 3
            && segments[..2].iter().any(|s| lenient_only_base64(s)))
        .then_some(Why::Strict(STRICT_BASE64)),
        Fault::SigEncoding => (segments.len() == 3 && lenient_only_base64(segments[2]))
            .then_some(Why::Strict(STRICT_BASE64)),
        Fault::HeaderJson => json_strictness(&case.header).map(Why::Strict),
        Fault::PayloadJson => json_strictness(&case.payload).map(Why::Strict),
        Fault::Alg => match member(&case.header, "alg") {
            Some(Value::String(alg)) if alg != "RS256" => Some(Why::Strict(STRICT_ALG)),
            _ => None,
        },
        Fault::Crit => Some(Why::Strict(STRICT_CRIT)),
        Fault::Key => {
            let kid = member(&case.header, "kid");
            (kid.as_ref().and_then(Value::as_str) == Some(WEAK_KID))
                .then_some(Why::Strict(STRICT_WEAK_KEY))
        }
        Fault::ClaimType => claim_type_why(case),
        Fault::ExpMissing => {
            let exp = parse_json(&case.payload).and_then(|p| p.get("exp").cloned());
            exp.is_none().then_some(Why::Strict(STRICT_NO_EXP))
        }
        _ => None,
    }
}

/// The token has three segments, all of the reference's alphabet, and only segment
/// `i` breaks its pattern, by being empty.
fn only_empty_segment(case: &Case, i: usize) -> bool {
    let segments: Vec<&str> = case.token.split('.').collect();
    let alphabet = |s: &str| {
        let body = s.trim_end_matches('=');
        s.len() - body.len() <= 2
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    segments.len() == 3
        && segments[i].is_empty()
        && segments
            .iter()
            .enumerate()
            .all(|(j, s)| j == i || (!s.is_empty() && alphabet(s)))
}

/// One member of a JSON object, read the way serde reads a struct: the others are
/// skipped without being checked as strictly. `None` when absent or not an object.
fn member(bytes: &[u8], name: &str) -> Option<Value> {
    object_member(bytes, name).ok().flatten()
}

/// As `member`, but `Err` when the text is not an object.
fn object_member(bytes: &[u8], name: &str) -> Result<Option<Value>, ()> {
    use serde::de::{self, Deserializer as _, MapAccess, Visitor};
    struct Find<'a>(&'a str);
    impl<'de> Visitor<'de> for Find<'_> {
        type Value = Option<Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Option<Value>, A::Error> {
            let mut found = None;
            while let Some(key) = access.next_key::<String>()? {
                if key == self.0 {
                    found = Some(access.next_value::<Value>()?);
                } else {
                    access.next_value::<de::IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let found = de.deserialize_map(Find(name)).map_err(|_| ())?;
    de.end().map_err(|_| ())?;
    Ok(found)
}

const WEAK_KID: &str = "weak1024+/key=";

/// The bucket of two refusals for reasons checked in another order on each side.
pub const ORDER: &str = "agree: both refuse: checks in another order";

fn order(fc: Fault, fr: Fault) -> Verdict {
    Verdict::Agree(format!("{ORDER}: {fc:?} here, {fr:?} there"))
}

/// Compares the two answers for one case.
pub fn classify(case: &Case, ours: &Result<(), AuthError>, theirs: &Theirs) -> Verdict {
    if let Some(rest) = &theirs.rest {
        // The reference stopped at a claim this crate does not read: the two are
        // compared on the rest of the token, where they must agree as on any other.
        return match classify(case, ours, rest) {
            Verdict::Agree(what) if ours.is_ok() && rest.ok => {
                debug_assert_eq!(what, "agree: both accept");
                Verdict::Lenient(LENIENT_UNREAD)
            }
            other => other,
        };
    }
    match (ours, theirs.ok) {
        (Ok(()), true) => {
            // The reference keeps the last of two members; this crate promises to
            // refuse any name twice, in the header as in the payload.
            if !duplicate_names(&case.header).is_empty()
                || !duplicate_names(&case.payload).is_empty()
            {
                Verdict::Disagree(
                    "tower-cognito accepts a token with a name twice, which it refuses by its \
                     own rules"
                        .into(),
                )
            } else {
                Verdict::Agree("agree: both accept".into())
            }
        }
        (Ok(()), false) => {
            Verdict::Disagree("tower-cognito accepts a token the reference refuses".into())
        }
        (Err(e), true) => {
            let fault = crate_fault(e, case);
            match explain(fault, case) {
                Some(Why::Shared) | None => Verdict::Disagree(format!(
                    "tower-cognito refuses ({fault:?}) a token the reference accepts, \
                     for no listed reason"
                )),
                Some(Why::Strict(reason)) => Verdict::Stricter(reason),
            }
        }
        (Err(e), false) => {
            let fc = crate_fault(e, case);
            let fr = ref_fault(theirs, case);
            if fc == fr {
                return Verdict::Agree("agree: both refuse: same reason".into());
            }
            if crate_stage(fr) < crate_stage(fc) {
                return Verdict::Disagree(format!(
                    "tower-cognito got past its {fr:?} check, which the reference failed, \
                     and refused later ({fc:?})"
                ));
            }
            if ref_stage(fc) < ref_stage(fr) {
                return match explain(fc, case) {
                    Some(Why::Strict(reason)) => {
                        Verdict::Agree(format!("agree: both refuse, ours first: {reason}"))
                    }
                    Some(Why::Shared) => order(fc, fr),
                    None => Verdict::Disagree(format!(
                        "tower-cognito refuses ({fc:?}) where the reference got past that \
                         check, for no listed reason (the reference refused later: {fr:?})"
                    )),
                };
            }
            order(fc, fr)
        }
    }
}

/// For the summary.
pub fn base_name(base: Base) -> &'static str {
    match base {
        Base::Id => "ID",
        Base::Access => "access",
        Base::ClientCredentials => "client credentials",
    }
}

/// The reference's verifier configuration, for the setup line.
pub fn reference_setup(ctx: &Ctx) -> Value {
    let verifiers: Vec<Value> = VERIFIERS
        .iter()
        .map(|v| {
            serde_json::json!({
                "clientId": match v.client_ids {
                    [] => Value::Null,
                    [one] => Value::from(*one),
                    many => Value::from(many.to_vec()),
                },
                "tokenUse": null,
                "graceSeconds": v.leeway,
            })
        })
        .collect();
    serde_json::json!({ "setup": {
        "userPoolId": ctx.pool_id,
        "jwks": ctx.keys.jwks(),
        "verifiers": verifiers,
    }})
}
