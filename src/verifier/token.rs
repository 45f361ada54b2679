//! Splitting and decoding a compact JWS, before any key is involved.

use crate::error::{AuthError, AuthErrorKind};
use crate::verifier::claims::{Name, Names, Payload, duplicate_name};
use base64::Engine as _;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The parts of a token that are needed to pick and apply a key.
pub(crate) struct Parsed<'a> {
    pub(crate) kid: Kid,
    /// `header.payload`: the bytes the signature covers.
    pub(crate) signing_input: &'a [u8],
    /// Held without an allocation up to 510 bytes: Cognito's 2048-bit
    /// signatures and 3072-bit ones (a 4096-bit one goes to the heap).
    pub(crate) signature: Inline<512>,
    pub(crate) payload: Payload,
}

/// Bytes held in place up to `N`, on the heap past it: a token's signature,
/// its header's JSON and its `kid` are a few hundred bytes at most in
/// practice, and a new token's check allocated each of them.
pub(crate) enum Inline<const N: usize> {
    Here([u8; N], usize),
    Heap(Vec<u8>),
}

impl<const N: usize> std::ops::Deref for Inline<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Inline::Here(bytes, len) => &bytes[..*len],
            Inline::Heap(bytes) => bytes,
        }
    }
}

impl<const N: usize> Inline<N> {
    fn copy(bytes: &[u8]) -> Self {
        if bytes.len() <= N {
            let mut here = [0u8; N];
            here[..bytes.len()].copy_from_slice(bytes);
            Inline::Here(here, bytes.len())
        } else {
            Inline::Heap(bytes.to_vec())
        }
    }

    /// `segment` decoded as unpadded base64url.
    fn decode(segment: &str) -> Result<Self, base64::DecodeError> {
        if base64::decoded_len_estimate(segment.len()) <= N {
            let mut here = [0u8; N];
            match base64url().decode_slice(segment, &mut here) {
                Ok(len) => return Ok(Inline::Here(here, len)),
                Err(base64::DecodeSliceError::DecodeError(error)) => return Err(error),
                // An engine that wants more room than the estimate: the heap.
                Err(base64::DecodeSliceError::OutputSliceTooSmall) => {}
            }
        }
        base64url().decode(segment).map(Inline::Heap)
    }
}

/// A key's id as the token's header gives it: at most 64 bytes in place
/// (Cognito's are 44).
pub(crate) struct Kid(Inline<64>);

impl Kid {
    pub(crate) fn as_str(&self) -> &str {
        // Made only from a `&str` (see `parse`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The detail of the error for a token that is not three segments (HTTP API's
/// responses name this case).
pub(crate) const NOT_THREE_SEGMENTS: &str = "token does not have exactly three segments";

/// What is read of a JSON object, member by member, in the token's order.
#[cfg(any(feature = "alb", test))]
trait Members: Default {
    /// Reads the value of the member `name` from `map`; a name read before
    /// is an error.
    fn read<'de, A: MapAccess<'de>>(&mut self, name: String, map: &mut A) -> Result<(), A::Error>;
}

#[cfg(any(feature = "alb", test))]
/// Deserializes `T` from a JSON object, and only an object: a JSON array,
/// string or number is refused (a derived struct would also take an array of
/// the members' values).
fn deserialize_members<'de, T: Members, D: de::Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Members> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let mut members = T::default();
            while let Some(name) = map.next_key::<String>()? {
                members.read(name, &mut map)?;
            }
            Ok(members)
        }
    }
    deserializer.deserialize_map(V(std::marker::PhantomData))
}

/// The header members the check reads. Every other member is skipped unread
/// (without recursion, however deeply it nests); every name, read or not, must
/// be unique. Strings are borrowed from the header's JSON where they have no
/// escapes.
#[derive(Default)]
struct Header<'de> {
    alg: Option<Cow<'de, str>>,
    kid: Option<Cow<'de, str>>,
    /// Whether `crit` is present at all, whatever its value (even `null`).
    crit: bool,
}

impl<'de> Deserialize<'de> for Header<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Header<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
                let mut header = Header::default();
                let mut names = Names::default();
                while let Some(name) = map.next_key_seed(Name)? {
                    match &*name {
                        "alg" => header.alg = Some(map.next_value_seed(Name)?),
                        "kid" => header.kid = map.next_value_seed(Nullable)?,
                        "crit" => {
                            map.next_value::<de::IgnoredAny>()?;
                            header.crit = true;
                        }
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                    if !names.insert(name) {
                        return Err(duplicate_name());
                    }
                }
                Ok(header)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// A string or `null` (`None`).
struct Nullable;

impl<'de> de::DeserializeSeed<'de> for Nullable {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Nullable {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        de::DeserializeSeed::deserialize(Name, d).map(Some)
    }
}

/// Parses a token in the order of the full check: segments, base64url, JSON
/// header (an object without duplicate names), algorithm, `crit`, `kid`, JSON
/// payload (an object without duplicate names). Nothing here trusts the token;
/// the signature is checked by the caller.
///
/// The size limit is not checked here: it comes first, once per request, in
/// [`Verifier::check_size`](crate::Verifier), before the token cache is looked up.
pub(crate) fn parse(token: &str) -> Result<Parsed<'_>, AuthError> {
    touch(token);
    let [header_b64, payload_b64, signature] = segments(token)?;
    if signature.is_empty() {
        return Err(AuthError::malformed("token has an empty signature"));
    }
    let header_json = Inline::<192>::decode(header_b64)
        .map_err(|_| AuthError::malformed("token header is not unpadded base64url"))?;
    let payload_json = base64url()
        .decode(payload_b64)
        .map_err(|_| AuthError::malformed("token payload is not unpadded base64url"))?;
    let signature = Inline::decode(signature)
        .map_err(|_| AuthError::malformed("token signature is not unpadded base64url"))?;
    let kid = match cognito_header(&header_json) {
        Some(kid) => Kid(Inline::copy(kid.as_bytes())),
        None => read_header(&header_json)?,
    };

    let payload = Payload::read(payload_json).ok_or_else(|| {
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

/// The `kid` of a header written as Cognito writes its headers,
/// `{"kid":"…","alg":"RS256"}` (or with the two members the other way round),
/// byte for byte, with a `kid` of base64 and URL-safe characters only: a JSON
/// object with two unique names, `alg` RS256 and no `crit`, which the full
/// reading ([`read_header`]) accepts with the same `kid`. Anything else (other
/// members, spaces, escapes) is `None`, and goes the full reading.
fn cognito_header(json: &[u8]) -> Option<&str> {
    const KID_FIRST: (&[u8], &[u8]) = (br#"{"kid":""#, br#"","alg":"RS256"}"#);
    const ALG_FIRST: (&[u8], &[u8]) = (br#"{"alg":"RS256","kid":""#, br#""}"#);
    let kid = [KID_FIRST, ALG_FIRST]
        .into_iter()
        .find_map(|(head, tail)| {
            json.strip_prefix(head)
                .and_then(|rest| rest.strip_suffix(tail))
        })?;
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"+/=-_.".contains(b);
    if kid.is_empty() || !kid.iter().all(plain) {
        return None;
    }
    std::str::from_utf8(kid).ok()
}

/// Reads a header's JSON in full: an object without duplicate names, `alg`
/// RS256, no `crit`, a non-empty string `kid`.
fn read_header(json: &[u8]) -> Result<Kid, AuthError> {
    let header: Header<'_> = serde_json::from_slice(json)
        .map_err(|_| AuthError::malformed("token header is not a JSON object with unique names"))?;
    let Some(alg) = header.alg else {
        return Err(AuthError::malformed("token header has no `alg`"));
    };
    if alg != "RS256" {
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
    match header.kid {
        Some(kid) if !kid.is_empty() => Ok(Kid(Inline::copy(kid.as_bytes()))),
        _ => Err(AuthError::malformed("token header has no `kid`")),
    }
}

/// Reads one byte of every cache line of `token`, all at once, before a pass
/// reads it from end to end. A token that is not in the CPU's caches (one of
/// many read from memory; a benchmark cycling 2 MiB of them) is then fetched
/// line by line in parallel, not one line after another as a sequential scan
/// finds it missing; a token already there (just read from a socket) costs the
/// loads alone, a few nanoseconds.
pub(crate) fn touch(token: &str) {
    let sum = token
        .as_bytes()
        .iter()
        .step_by(64)
        .fold(0u8, |sum, &b| sum ^ b);
    std::hint::black_box(sum);
}

/// The three `.`-separated segments of a compact JWS (of a Cognito token or a
/// load balancer's), or the error HTTP API's responses name.
pub(crate) fn segments(token: &str) -> Result<[&str; 3], AuthError> {
    // memchr's vector search: a token is a kilobyte, which `str::split` reads a
    // word at a time.
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    match (dots.next(), dots.next(), dots.next()) {
        (Some(first), Some(second), None) => Ok([
            &token[..first],
            &token[first + 1..second],
            &token[second + 1..],
        ]),
        _ => Err(AuthError::malformed(NOT_THREE_SEGMENTS)),
    }
}

/// The payload of a token the cache holds a verdict for (the token's digest is
/// the entry's key, so this is the token verified): only its payload segment is
/// decoded and read again. `None` when that fails, which cannot happen for a
/// token that passed [`parse`]; the caller then treats the token as not cached.
pub(crate) fn verified_payload(token: &str) -> Option<Payload> {
    let [_, payload_b64, _] = segments(token).ok()?;
    Payload::read(base64url().decode(payload_b64).ok()?)
}

/// Unpadded base64url, as RFC 7515 writes a JWS: the base64 crate's engine
/// that picks AVX2 or NEON at run time where the CPU has them, with the same
/// rules as `URL_SAFE_NO_PAD` (no padding, no non-zero trailing bits), and
/// falls back to it elsewhere. On this project's machine it decodes a token's
/// three segments in half the scalar engine's time (`token_read_cost`).
pub(crate) fn base64url() -> &'static base64::engine::Simd {
    static ENGINE: std::sync::LazyLock<base64::engine::Simd> = std::sync::LazyLock::new(|| {
        base64::engine::Simd::url_safe(base64::engine::general_purpose::NO_PAD)
    });
    &ENGINE
}

/// A JSON object that refuses duplicate names, so no two checks can read the same
/// claim two ways: a load balancer's header and payload. (A Cognito token's
/// payload is read without building it: see `claims::Payload`.)
#[cfg(any(feature = "alb", test))]
#[derive(Default)]
pub(crate) struct UniqueMap(pub(crate) serde_json::Map<String, serde_json::Value>);

#[cfg(any(feature = "alb", test))]
impl Members for UniqueMap {
    fn read<'de, A: MapAccess<'de>>(&mut self, name: String, map: &mut A) -> Result<(), A::Error> {
        // One search a name: the vacant entry is where it goes.
        match self.0.entry(name) {
            serde_json::map::Entry::Vacant(entry) => {
                entry.insert(map.next_value()?);
                Ok(())
            }
            serde_json::map::Entry::Occupied(_) => Err(duplicate_name()),
        }
    }
}

#[cfg(any(feature = "alb", test))]
impl<'de> Deserialize<'de> for UniqueMap {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_members(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    const H: &str = r#"{"alg":"RS256","kid":"k1"}"#;

    #[test]
    fn parses_a_well_formed_token() {
        let t = token(H, r#"{"sub":"a","iss":"i"}"#);
        let p = parse(&t).unwrap();
        assert_eq!(p.kid.as_str(), "k1");
        assert_eq!(p.payload.iss(), Some("i"));
        assert_eq!(&*p.signature, b"sig");
        assert_eq!(p.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
    }

    /// The vector engine accepts exactly what the scalar `URL_SAFE_NO_PAD`
    /// accepts, and decodes it alike: every length to past several vector
    /// blocks, valid text and text with one byte changed to every value
    /// (another alphabet's `+` and `/`, padding, `.`, controls, non-ASCII).
    #[test]
    fn the_vector_base64_engine_reads_as_the_scalar_one() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(base64url().decode(&text).unwrap(), bytes, "{text}");
            let mut changed = text.clone().into_bytes();
            for value in 0..=255u8 {
                if changed.is_empty() {
                    break;
                }
                let at = (next() as usize) % changed.len();
                let was = changed[at];
                changed[at] = value;
                assert_eq!(
                    base64url().decode(&changed).ok(),
                    URL_SAFE_NO_PAD.decode(&changed).ok(),
                    "{changed:?}"
                );
                changed[at] = was;
            }
            // Non-zero trailing bits, and a length no encoding has.
            for tail in ["B", "AB", "ABC", "="] {
                let t = format!("{text}{tail}");
                assert_eq!(
                    base64url().decode(&t).ok(),
                    URL_SAFE_NO_PAD.decode(&t).ok(),
                    "{t}"
                );
            }
        }
    }

    fn kind(t: &str) -> AuthErrorKind {
        match parse(t) {
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
    }

    #[test]
    fn header_and_payload_must_be_json_objects() {
        use AuthErrorKind::MalformedToken;
        let p = r#"{"sub":"a"}"#;
        // An array of the header's values: a derived struct would take it.
        for header in [
            r#"["RS256","k1"]"#,
            r#"["RS256","k1",null]"#,
            r#""RS256""#,
            "7",
            "null",
            "true",
        ] {
            assert_eq!(kind(&token(header, p)), MalformedToken, "{header}");
        }
        for payload in [r#"["a"]"#, r#""sub""#, "1700000000", "null", "false", ""] {
            assert_eq!(kind(&token(H, payload)), MalformedToken, "{payload}");
        }
    }

    #[test]
    fn duplicate_names_are_refused_in_the_header_too() {
        use AuthErrorKind::MalformedToken;
        for header in [
            r#"{"alg":"RS256","kid":"k1","alg":"RS256"}"#,
            r#"{"alg":"RS256","kid":"k1","kid":"k1"}"#,
            r#"{"alg":"RS256","kid":"k1","typ":"JWT","typ":"JWT"}"#,
            // Names are compared after unescaping.
            r#"{"alg":"RS256","kid":"k1","k\u0069d":"k2"}"#,
            r#"{"alg":"RS256","kid":"k1","x":{},"x":[]}"#,
        ] {
            assert_eq!(kind(&token(header, "{}")), MalformedToken, "{header}");
        }
        assert_eq!(
            kind(&token(H, r#"{"sub":"a","s\u0075b":"b"}"#)),
            MalformedToken
        );
        // Unknown members are allowed, once each; nested objects may reuse names.
        let t = token(
            r#"{"alg":"RS256","kid":"k1","typ":"JWT","x":{"kid":1}}"#,
            "{}",
        );
        assert_eq!(parse(&t).unwrap().kid.as_str(), "k1");
    }

    #[test]
    fn alg_and_kid_must_be_strings() {
        use AuthErrorKind::MalformedToken;
        for header in [
            r#"{"kid":"k1"}"#,
            r#"{"alg":null,"kid":"k1"}"#,
            r#"{"alg":["RS256"],"kid":"k1"}"#,
            r#"{"alg":"RS256","kid":7}"#,
            r#"{"alg":"RS256","kid":null}"#,
        ] {
            assert_eq!(kind(&token(header, "{}")), MalformedToken, "{header}");
        }
    }

    /// The header read without serde (Cognito's exact layout) gives what the
    /// full reading gives, and declines everything that is not that layout:
    /// other members, spaces, escapes, an empty `kid`, other algorithms.
    #[test]
    fn the_cognito_header_shortcut_agrees_with_the_full_reading() {
        let kid = "abcDEF0123+/xyz=-_.";
        for json in [
            format!(r#"{{"kid":"{kid}","alg":"RS256"}}"#),
            format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#),
        ] {
            assert_eq!(cognito_header(json.as_bytes()), Some(kid), "{json}");
            assert_eq!(read_header(json.as_bytes()).unwrap().as_str(), kid);
        }
        for json in [
            r#"{"kid":"k\/1","alg":"RS256"}"#,
            r#"{"kid":"k1","alg":"RS256","typ":"JWT"}"#,
            r#"{"kid":"k1", "alg":"RS256"}"#,
            r#"{"kid":"k1","alg":"RS256"} "#,
            r#"{"kid":"k1","alg":"RS256","kid":"k2","alg":"RS256"}"#,
            r#"{"alg":"RS256","kid":"k1","alg":"RS256","kid":"k1"}"#,
            r#"{"kid":"k1","alg":"RS256","crit":["x"],"alg":"RS256"}"#,
            r#"{"kid":"","alg":"RS256"}"#,
            r#"{"kid":"k1","alg":"HS256"}"#,
            r#"{"kid":"k\u00e91","alg":"RS256"}"#,
            r#"{"kid":"ké1","alg":"RS256"}"#,
            r#"{"kid":"k 1","alg":"RS256"}"#,
        ] {
            assert_eq!(cognito_header(json.as_bytes()), None, "{json}");
        }
        // Declined, the full reading decides: escapes and spaces are JSON.
        assert_eq!(
            read_header(br#"{"kid":"k\/1", "alg":"RS256"}"#)
                .unwrap()
                .as_str(),
            "k/1"
        );
        let token = token(
            r#"{"kid":"k1","alg":"RS256","kid":"k2","alg":"RS256"}"#,
            "{}",
        );
        assert_eq!(kind(&token), AuthErrorKind::MalformedToken);
    }

    /// Segments decoded in place read as the heap decoder reads them, at
    /// every length around the place's size, valid or not.
    #[test]
    fn segments_decoded_in_place_read_as_on_the_heap() {
        for len in 0..700 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            let here = Inline::<512>::decode(&text).unwrap();
            assert_eq!(&*here, &bytes[..], "{len} bytes");
            assert_eq!(matches!(here, Inline::Here(..)), len <= 510, "{len} bytes");
            let bad = format!("{text}=");
            assert!(
                Inline::<512>::decode(&bad).is_err(),
                "{len} bytes and a pad"
            );
            if !text.is_empty() {
                let mut changed = text.clone().into_bytes();
                changed[0] = b'+';
                let changed = String::from_utf8(changed).unwrap();
                assert!(Inline::<512>::decode(&changed).is_err(), "{len} bytes, a +");
            }
        }
    }

    /// What reading a token costs, by part, over 256 real tokens. A measurement
    /// for BENCHMARKS.md, not a test of speed:
    /// `cargo test --release --lib token_read_cost -- --ignored --nocapture`.
    #[tokio::test]
    #[ignore = "a measurement; run with --ignored --nocapture"]
    async fn token_read_cost() {
        use std::hint::black_box;
        const CALLS: usize = 200_000;
        let pool = crate::test_util::LocalUserPool::start().await.unwrap();
        let tokens: Vec<String> = (0..256).map(|_| pool.access_token().sign()).collect();
        let payloads: Vec<Vec<u8>> = tokens
            .iter()
            .map(|t| {
                URL_SAFE_NO_PAD
                    .decode(t.split('.').nth(1).unwrap())
                    .unwrap()
            })
            .collect();
        let pool_id = std::sync::Arc::<str>::from(pool.pool_id());
        let time = |f: &mut dyn FnMut(usize)| {
            let started = std::time::Instant::now();
            for i in 0..CALLS {
                f(i % 256);
            }
            started.elapsed().as_nanos() as f64 / CALLS as f64
        };
        let parse_ns = time(&mut |i| {
            black_box(parse(&tokens[i]).unwrap());
        });
        let claims_ns = time(&mut |i| {
            let parsed = parse(&tokens[i]).unwrap();
            black_box(
                crate::verifier::claims::Claims::from_payload(parsed.payload, pool_id.clone())
                    .unwrap(),
            );
        });
        let base64_ns = time(&mut |i| {
            for segment in tokens[i].split('.') {
                black_box(base64url().decode(segment).unwrap());
            }
        });
        let map_ns = time(&mut |i| {
            black_box(serde_json::from_slice::<UniqueMap>(&payloads[i]).unwrap().0);
        });
        let read_ns = time(&mut |i| {
            black_box(Payload::read(payloads[i].clone()).unwrap());
        });
        let header_ns = time(&mut |i| {
            let header = URL_SAFE_NO_PAD
                .decode(tokens[i].split('.').next().unwrap())
                .unwrap();
            black_box(
                serde_json::from_slice::<Header<'_>>(&header)
                    .unwrap()
                    .kid
                    .is_some(),
            );
        });
        let segments_ns = time(&mut |i| {
            black_box(segments(&tokens[i]).unwrap());
        });
        let validate_ns = time(&mut |i| {
            black_box(serde_json::from_slice::<de::IgnoredAny>(&payloads[i]).unwrap());
        });
        println!(
            "{} bytes a token, {} of payload: token::parse {parse_ns:.0} ns; with Claims::from_payload \
             and the drop {claims_ns:.0} ns; base64url of the three segments {base64_ns:.0} ns; \
             the payload into a map {map_ns:.0} ns; the payload validated only {validate_ns:.0} ns; \
             the payload read as the verifier reads it (from a copy) {read_ns:.0} ns; the header \
             decoded and read {header_ns:.0} ns; the three segments found {segments_ns:.0} ns",
            tokens[0].len(),
            payloads[0].len()
        );
    }
}
