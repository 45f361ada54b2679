//! The case generator: Cognito-shaped ID and access tokens, mutated and signed.
//!
//! Every case comes from its own PRNG, seeded from the run's seed and the case's index,
//! so one case can be rebuilt alone (`DIFFERENTIAL_ONLY`). Header and payload are kept
//! as lists of raw JSON name and value texts, not serde maps, so that duplicate names,
//! escapes, odd number forms and broken UTF-8 survive into the token.

use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RsaEncoding};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// splitmix64: small, fast, and good enough to spread mutations.
pub struct Rng(u64);

impl Rng {
    /// The generator of case `index` of a run seeded with `seed`.
    pub fn for_case(seed: u64, index: u64) -> Self {
        let mut mixer = Self(seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F));
        Self(mixer.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with this probability, in percent.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16)]))
            .collect()
    }

    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-a{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(3),
            self.hex(12)
        )
    }
}

/// The fixed names of the run: fixed so that a case prints the same on every run.
pub struct Ctx {
    pub pool_id: &'static str,
    pub issuer: String,
    pub global_issuer: String,
    pub client: &'static str,
    pub keys: Keys,
}

pub const POOL_ID: &str = "us-east-1_DiffTest01";
pub const CLIENT: &str = "diffclient0000000000000001";
pub const CLIENT2: &str = "diffclient0000000000000002";
pub const STRANGER: &str = "strangerclient000000000003";

impl Ctx {
    pub fn new() -> Self {
        Self {
            pool_id: POOL_ID,
            issuer: format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL_ID}"),
            global_issuer: format!("https://issuer-cognito-idp.us-east-1.amazonaws.com/{POOL_ID}"),
            client: CLIENT,
            keys: Keys::generate(),
        }
    }
}

/// How each side is configured; the same index on both sides.
pub struct VerifierConfig {
    pub client_ids: &'static [&'static str],
    pub leeway: u64,
}

pub const VERIFIERS: &[VerifierConfig] = &[
    VerifierConfig {
        client_ids: &[CLIENT],
        leeway: 0,
    },
    VerifierConfig {
        client_ids: &[],
        leeway: 0,
    },
    VerifierConfig {
        client_ids: &[CLIENT, CLIENT2],
        leeway: 0,
    },
    VerifierConfig {
        client_ids: &[CLIENT],
        leeway: 120,
    },
];

/// An RSA key pair made with aws-lc-rs.
pub struct RsaKey {
    pub kid: String,
    pair: KeyPair,
}

impl RsaKey {
    fn generate(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            pair: KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"),
        }
    }

    /// The public JWK, with `alg` and `use` as given (absent when `None`).
    fn jwk(&self, alg: Option<&str>, use_: Option<&str>) -> Value {
        let public = self.pair.public_key();
        let mut jwk = json!({
            "kid": self.kid,
            "kty": "RSA",
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        });
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        if let Some(use_) = use_ {
            jwk["use"] = json!(use_);
        }
        jwk
    }

    fn sign(&self, hash: Hash, input: &[u8]) -> Vec<u8> {
        use aws_lc_rs::signature as s;
        let encoding: &'static dyn RsaEncoding = match hash {
            Hash::S256 => &s::RSA_PKCS1_SHA256,
            Hash::S384 => &s::RSA_PKCS1_SHA384,
            Hash::S512 => &s::RSA_PKCS1_SHA512,
            Hash::Pss256 => &s::RSA_PSS_SHA256,
        };
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                encoding,
                &aws_lc_rs::rand::SystemRandom::new(),
                input,
                &mut signature,
            )
            .expect("RSA signing");
        signature
    }
}

/// The 1024-bit key of `tests/data/`, signed with the `rsa` crate (aws-lc-rs will not
/// load a key that small).
pub struct WeakKey {
    pub kid: String,
    signer: rsa::pkcs1v15::SigningKey<rsa::sha2::Sha256>,
    jwk: Value,
}

impl WeakKey {
    fn load() -> Self {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa::RsaPrivateKey::from_pkcs1_der(include_bytes!("../data/rsa1024-pkcs1.der"))
            .expect("the 1024-bit test key");
        let kid = "weak1024+/key=".to_owned();
        let jwk = json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        });
        Self {
            kid,
            signer: rsa::pkcs1v15::SigningKey::new(key),
            jwk,
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        use rsa::signature::{SignatureEncoding, Signer};
        self.signer.sign(input).to_vec()
    }
}

/// The run's keys. `id`, `access`, `noalg`, `enc` and `weak` are published; `outsider`
/// is not.
pub struct Keys {
    pub id: RsaKey,
    pub access: RsaKey,
    /// Published without `alg`: the reference then takes the algorithm from the token.
    pub noalg: RsaKey,
    /// Published with `use: enc`.
    pub enc: RsaKey,
    pub outsider: RsaKey,
    pub weak: WeakKey,
}

impl Keys {
    fn generate() -> Self {
        Self {
            // Cognito's kids are base64 of a hash: `+`, `/` and `=` occur.
            id: RsaKey::generate("idKEYdiff0001+/AbCdEfGhIjKlMnOpQrStUvWxYz0123456="),
            access: RsaKey::generate("acKEYdiff0002+/ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543="),
            noalg: RsaKey::generate("noALGkey0003"),
            enc: RsaKey::generate("encKEY0004"),
            outsider: RsaKey::generate("outsider0005"),
            weak: WeakKey::load(),
        }
    }

    pub fn jwks(&self) -> Value {
        json!({ "keys": [
            self.id.jwk(Some("RS256"), Some("sig")),
            self.access.jwk(Some("RS256"), Some("sig")),
            self.noalg.jwk(None, None),
            self.enc.jwk(Some("RS256"), Some("enc")),
            self.weak.jwk.clone(),
        ]})
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hash {
    S256,
    S384,
    S512,
    Pss256,
}

impl Hash {
    fn alg(self) -> &'static str {
        match self {
            Self::S256 => "RS256",
            Self::S384 => "RS384",
            Self::S512 => "RS512",
            Self::Pss256 => "PS256",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyId {
    Id,
    Access,
    NoAlg,
    Enc,
    Outsider,
}

/// What makes the signature.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Signer {
    Rsa(KeyId, Hash),
    Weak,
    /// HMAC-SHA256 keyed with the ID key's public modulus, claiming HS256.
    Hmac,
    /// `alg: none` and an empty signature.
    Unsigned,
}

/// What happens to a good signature afterwards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SigMut {
    Good,
    /// The signature of the token before its mutations.
    Old,
    FlipByte,
    DropLastByte,
    AppendZero,
    /// Leading zero bytes removed (the payload is varied until the signature has one).
    StripLeadingZero,
    Garbage,
}

/// How one segment is base64-encoded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SegEnc {
    Plain,
    Padded,
    /// The unused low bits of the last character set.
    NonCanonical,
    /// One more character: a length of 1 mod 4 where it was 0 mod 4.
    ExtraChar,
    /// `+` and `/` instead of `-` and `_`.
    StdAlphabet,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TokenMut {
    LeadingSpace,
    TrailingNewline,
    BearerPrefix,
    ExtraSegment,
    TwoSegments,
    EmptyHeaderSegment,
    Empty,
    InnerSpace,
    NonAscii,
    DoubleDot,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    Compact,
    Spaced,
    Pretty,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Base {
    Id,
    Access,
    ClientCredentials,
}

/// Raw JSON object members: (name text with quotes, value text).
type Obj = Vec<(String, String)>;

/// Replaced by raw bytes (broken UTF-8) when the text is serialized.
const MARK: char = '\u{E000}';

pub fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

struct Part {
    members: Obj,
    style: Style,
    raw: Option<Vec<u8>>,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    /// Bytes put where MARK is.
    mark: Vec<u8>,
}

impl Part {
    fn new(members: Obj) -> Self {
        Self {
            members,
            style: Style::Compact,
            raw: None,
            prefix: Vec::new(),
            suffix: Vec::new(),
            mark: Vec::new(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.prefix.clone();
        let body = match &self.raw {
            Some(raw) => raw.clone(),
            None => {
                let (colon, comma, open, close) = match self.style {
                    Style::Compact => (":", ",", "{", "}"),
                    Style::Spaced => (" : ", " , ", "{ ", " }"),
                    Style::Pretty => (": ", ",\n\t", "{\r\n\t", "\n}\n"),
                };
                let members: Vec<String> = self
                    .members
                    .iter()
                    .map(|(n, v)| format!("{n}{colon}{v}"))
                    .collect();
                format!("{open}{}{close}", members.join(comma)).into_bytes()
            }
        };
        let mark = MARK.to_string().into_bytes();
        let mut i = 0;
        while i < body.len() {
            if body[i..].starts_with(&mark) {
                out.extend_from_slice(&self.mark);
                i += mark.len();
            } else {
                out.push(body[i]);
                i += 1;
            }
        }
        out.extend_from_slice(&self.suffix);
        out
    }

    fn find(&self, name: &str) -> Option<usize> {
        let quoted = js(name);
        self.members.iter().position(|(n, _)| *n == quoted)
    }

    fn set(&mut self, name: &str, value: String) {
        match self.find(name) {
            Some(i) => self.members[i].1 = value,
            None => self.members.push((js(name), value)),
        }
    }

    fn remove(&mut self, name: &str) {
        let quoted = js(name);
        self.members.retain(|(n, _)| *n != quoted);
    }
}

/// A generated case: the token and what went into it.
pub struct Case {
    pub index: u64,
    pub verifier: usize,
    pub base: Base,
    pub tags: Vec<String>,
    pub token: String,
    /// The header and payload bytes, as encoded into the token.
    pub header: Vec<u8>,
    pub payload: Vec<u8>,
}

struct Draft<'a> {
    ctx: &'a Ctx,
    now: i64,
    base: Base,
    header: Part,
    payload: Part,
    signer: Signer,
    sig: SigMut,
    enc: [SegEnc; 3],
    token_mut: Option<TokenMut>,
    size_target: Option<usize>,
    tags: Vec<String>,
    /// `header.payload` of the token before any mutation, for `SigMut::Old`.
    original_input: String,
}

const OTHER_TYPES: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "1",
    "-1",
    "1.5",
    "\"\"",
    "\"x\"",
    "[]",
    "[\"x\"]",
    "[1]",
    "{}",
    "{\"a\":1}",
];

/// Seconds from now that keep at least 5 s from every boundary (now, and now +- the
/// 120 s leeway), so that the time a batch takes cannot change a verdict.
fn offset(rng: &mut Rng) -> i64 {
    const LIST: &[i64] = &[
        -31_536_000,
        -86_400,
        -7_200,
        -3_600,
        -600,
        -300,
        -130,
        -110,
        -60,
        -30,
        -10,
        -5,
        5,
        10,
        30,
        60,
        110,
        130,
        300,
        600,
        3_600,
        86_400,
        31_536_000,
    ];
    loop {
        let o = if rng.chance(60) {
            *rng.pick(LIST)
        } else {
            rng.range(-200_000, 200_000)
        };
        if [0, 120, -120].iter().all(|b: &i64| (o - b).abs() >= 5) {
            return o;
        }
    }
}

/// A NumericDate value text: around now (integers, fractions, float and exponent
/// forms) or an extreme.
fn date_value(rng: &mut Rng, now: i64) -> (String, String) {
    const EXTREMES: &[&str] = &[
        "0",
        "-1",
        "1",
        "-0",
        "0.5",
        "1e-7",
        "2147483647",
        "4294967296",
        "9007199254740991",
        "9007199254740993",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1e20",
        "1e300",
        "-1e300",
        "1.7976931348623157e308",
        "5e-324",
        "253402300799",
        "253402300800",
        "99999999999999999999999",
        "\"now\"",
        "true",
        "null",
        "[1]",
        "{}",
    ];
    if rng.chance(30) {
        let v = rng.pick(EXTREMES);
        return ((*v).to_owned(), format!("date={v}"));
    }
    let o = offset(rng);
    let t = now + o;
    let sign = if o < 0 { "past" } else { "future" };
    let (text, form) = match rng.below(8) {
        0..=2 => (t.to_string(), "int"),
        3 => (
            format!("{t}.{}", rng.pick(&["5", "25", "999", "000001", "0"])),
            "fraction",
        ),
        4 => (format!("{t}.0"), "float .0"),
        5 => (format!("{t}e0"), "exponent e0"),
        6 => {
            let digits = t.abs().to_string();
            let mantissa = format!("{}.{}", &digits[..1], &digits[1..]);
            let neg = if t < 0 { "-" } else { "" };
            (
                format!("{neg}{mantissa}e{}", digits.len() - 1),
                "mantissa e",
            )
        }
        _ => (format!("\"{t}\""), "string"),
    };
    (text, format!("date {sign} {form}"))
}

fn base_claims(rng: &mut Rng, ctx: &Ctx, base: Base, now: i64) -> Obj {
    let mut c: Vec<(&str, String)> = Vec::new();
    let auth_time = now - rng.range(0, 3000);
    let iat = auth_time + rng.range(0, 60);
    let exp = now + rng.range(300, 86_000);
    let sub = rng.uuid();
    match base {
        Base::Id => {
            c.push(("sub", js(&sub)));
            if rng.chance(40) {
                let groups: Vec<String> = (0..rng.range(1, 3))
                    .map(|i| js(&format!("group{i}")))
                    .collect();
                c.push(("cognito:groups", format!("[{}]", groups.join(","))));
            }
            c.push(("email_verified", "true".into()));
            c.push(("iss", js(&ctx.issuer)));
            c.push(("cognito:username", js("diff-user")));
            c.push(("origin_jti", js(&rng.uuid())));
            c.push(("aud", js(ctx.client)));
            c.push(("event_id", js(&rng.uuid())));
            c.push(("token_use", js("id")));
            c.push(("auth_time", auth_time.to_string()));
            if rng.chance(30) {
                c.push(("custom:tenant", js("acme")));
                c.push(("phone_number", js("+15555550100")));
            }
            c.push(("exp", exp.to_string()));
            c.push(("iat", iat.to_string()));
            c.push(("jti", js(&rng.uuid())));
            c.push(("email", js("diff-user@example.com")));
        }
        Base::Access => {
            c.push(("sub", js(&sub)));
            if rng.chance(40) {
                c.push(("cognito:groups", "[\"admins\"]".into()));
            }
            c.push(("iss", js(&ctx.issuer)));
            c.push(("client_id", js(ctx.client)));
            c.push(("origin_jti", js(&rng.uuid())));
            c.push(("event_id", js(&rng.uuid())));
            c.push(("token_use", js("access")));
            c.push((
                "scope",
                js(rng.pick::<&str>(&[
                    "aws.cognito.signin.user.admin",
                    "openid email",
                    "phone openid profile email aws.cognito.signin.user.admin",
                ])),
            ));
            c.push(("auth_time", auth_time.to_string()));
            c.push(("exp", exp.to_string()));
            c.push(("iat", iat.to_string()));
            c.push(("jti", js(&rng.uuid())));
            c.push(("username", js("diff-user")));
        }
        Base::ClientCredentials => {
            c.push(("sub", js(ctx.client)));
            c.push(("token_use", js("access")));
            c.push(("scope", js("notes/read notes/write")));
            c.push(("auth_time", auth_time.to_string()));
            c.push(("iss", js(&ctx.issuer)));
            c.push(("exp", exp.to_string()));
            c.push(("iat", iat.to_string()));
            c.push(("version", "2".into()));
            c.push(("jti", js(&rng.uuid())));
            c.push(("client_id", js(ctx.client)));
        }
    }
    c.into_iter().map(|(n, v)| (js(n), v)).collect()
}

impl<'a> Draft<'a> {
    fn new(rng: &mut Rng, ctx: &'a Ctx, now: i64) -> Self {
        let base = *rng.pick(&[
            Base::Id,
            Base::Id,
            Base::Access,
            Base::Access,
            Base::ClientCredentials,
        ]);
        let key = match base {
            Base::Id => &ctx.keys.id,
            _ => &ctx.keys.access,
        };
        let header = Part::new(vec![(js("kid"), js(&key.kid)), (js("alg"), js("RS256"))]);
        let payload = Part::new(base_claims(rng, ctx, base, now));
        let original_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.bytes()),
            URL_SAFE_NO_PAD.encode(payload.bytes())
        );
        Self {
            ctx,
            now,
            base,
            header,
            payload,
            signer: Signer::Rsa(
                if base == Base::Id {
                    KeyId::Id
                } else {
                    KeyId::Access
                },
                Hash::S256,
            ),
            sig: SigMut::Good,
            enc: [SegEnc::Plain; 3],
            token_mut: None,
            size_target: None,
            tags: Vec::new(),
            original_input,
        }
    }

    fn tag(&mut self, tag: impl Into<String>) {
        self.tags.push(tag.into());
    }

    fn token_use(&self) -> &'static str {
        match self.base {
            Base::Id => "id",
            _ => "access",
        }
    }

    /// A random claim name present in the payload (unquoted).
    fn some_claim(&self, rng: &mut Rng) -> Option<String> {
        if self.payload.members.is_empty() {
            return None;
        }
        let (name, _) = rng.pick(&self.payload.members);
        serde_json::from_str(name).ok()
    }

    /// One mutation, picked by weight.
    fn mutate(&mut self, rng: &mut Rng) {
        let now = self.now;
        match rng.below(100) {
            // Presence of any claim.
            0..=5 => {
                if let Some(name) = self.some_claim(rng) {
                    self.payload.remove(&name);
                    self.tag(format!("remove {name}"));
                }
            }
            // Type of any claim.
            6..=12 => {
                if let Some(name) = self.some_claim(rng) {
                    let v = rng.pick(OTHER_TYPES);
                    self.payload.set(&name, (*v).to_owned());
                    self.tag(format!("retype {name}={v}"));
                }
            }
            // exp, nbf, iat, auth_time around now, fractions, extremes.
            13..=27 => {
                let name = *rng.pick(&["exp", "exp", "exp", "nbf", "nbf", "iat", "auth_time"]);
                let (v, tag) = date_value(rng, now);
                self.payload.set(name, v);
                self.tag(format!("{name}: {tag}"));
            }
            // token_use.
            28..=32 => {
                let v = *rng.pick(&[
                    "\"id\"",
                    "\"access\"",
                    "\"refresh\"",
                    "\"ID\"",
                    "\"\"",
                    "\" id\"",
                    "null",
                    "1",
                    "[\"id\"]",
                    "[\"access\"]",
                    "\"id\\u0000\"",
                    "\"\\u0069d\"",
                ]);
                self.payload.set("token_use", v.to_owned());
                self.tag(format!("token_use={v}"));
            }
            // aud and client_id, as strings and arrays, on either kind of token.
            33..=40 => {
                let name = *rng.pick(&["aud", "aud", "client_id", "client_id"]);
                let (c, c2, s) = (js(CLIENT), js(CLIENT2), js(STRANGER));
                let v = match rng.below(11) {
                    0 => c,
                    1 => c2,
                    2 => s,
                    3 => format!("[{c}]"),
                    4 => format!("[{s},{c}]"),
                    5 => format!("[{c2}]"),
                    6 => "[]".to_owned(),
                    7 => "\"\"".to_owned(),
                    8 => format!("[{c},1]"),
                    9 => js(&CLIENT.to_uppercase()),
                    _ => js(&format!("{CLIENT} ")),
                };
                if rng.chance(20) {
                    self.payload.remove(name);
                    self.tag(format!("remove {name}"));
                } else {
                    self.tag(format!("{name}={v}"));
                    self.payload.set(name, v);
                }
            }
            // iss.
            41..=45 => {
                let ctx = self.ctx;
                let v = match rng.below(12) {
                    0 | 1 => js(&ctx.global_issuer),
                    2 => js(&format!("{}/", ctx.issuer)),
                    3 => js(&ctx.issuer.replace("https", "http")),
                    4 => js(&ctx.issuer.to_uppercase()),
                    5 => js("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other0001"),
                    6 => js(&ctx.issuer.replace("us-east-1.", "eu-west-1.")),
                    7 => "\"\"".to_owned(),
                    8 => js(&format!(" {}", ctx.issuer)),
                    9 => js(&ctx.issuer).replace('/', "\\/"),
                    10 => format!("[{}]", js(&ctx.issuer)),
                    _ => "null".to_owned(),
                };
                self.tag(format!("iss={v}"));
                self.payload.set("iss", v);
            }
            // sub.
            46..=48 => {
                let v = *rng.pick(&["\"\"", "\" \"", "null", "1", "[\"a\"]", "\"\\u0000\""]);
                self.tag(format!("sub={v}"));
                self.payload.set("sub", v.to_owned());
            }
            // scope.
            49..=51 => {
                let v = *rng.pick(&[
                    "\"\"",
                    "\"a  b\"",
                    "\" openid \"",
                    "\"notes/read\"",
                    "[\"openid\"]",
                    "1",
                    "null",
                ]);
                self.tag(format!("scope={v}"));
                self.payload.set("scope", v.to_owned());
            }
            // cognito:groups.
            52..=54 => {
                let v = *rng.pick(&[
                    "[]",
                    "[\"admins\",\"users\"]",
                    "\"admins\"",
                    "[1]",
                    "[null]",
                    "null",
                    "{}",
                    "[\"a,b\"]",
                ]);
                self.tag(format!("cognito:groups={v}"));
                self.payload.set("cognito:groups", v.to_owned());
            }
            // User attributes and other claims verification does not read.
            55..=58 => {
                let name = *rng.pick(&[
                    "custom:role",
                    "email_verified",
                    "email",
                    "cognito:username",
                    "username",
                    "origin_jti",
                    "event_id",
                    "jti",
                    "version",
                    "__proto__",
                    "constructor",
                    "cognito:roles",
                    "identities",
                ]);
                let v = if rng.chance(50) {
                    (*rng.pick(OTHER_TYPES)).to_owned()
                } else {
                    (*rng.pick(&[
                        "\"true\"",
                        "{\"exp\":1,\"token_use\":\"id\"}",
                        "[{\"userId\":\"1\",\"providerName\":\"Google\"}]",
                        "\"\\ud83d\\ude00 caf\\u00e9\"",
                        "\"\u{1F600} café\"",
                    ]))
                    .to_owned()
                };
                self.tag(format!("{name}={v}"));
                self.payload.set(name, v);
            }
            // Duplicate names (same or another value, or spelled with an escape).
            59..=63 => {
                let part = if rng.chance(25) { "header" } else { "payload" };
                let target = if part == "header" {
                    &mut self.header
                } else {
                    &mut self.payload
                };
                if target.members.is_empty() {
                    return;
                }
                // A header names little besides kid and alg: give it a member that
                // verification does not read, to repeat.
                if part == "header" && rng.chance(50) {
                    let (name, value) = *rng.pick(&[
                        ("typ", "\"JWT\""),
                        ("cty", "\"JWT\""),
                        ("x5u", "\"https://example.com/x\""),
                    ]);
                    target.set(name, value.to_owned());
                }
                let i = match target
                    .find("typ")
                    .or(target.find("cty"))
                    .or(target.find("x5u"))
                {
                    Some(i) if rng.chance(70) => i,
                    _ => rng.below(target.members.len()),
                };
                let (name, value) = target.members[i].clone();
                let plain: String = serde_json::from_str(&name).unwrap_or_default();
                let (name2, how) = if rng.chance(30) && !plain.is_empty() {
                    (escape_first(&plain), "escaped")
                } else {
                    (name.clone(), "plain")
                };
                let value2 = if rng.chance(50) {
                    value.clone()
                } else if plain == "exp" || plain == "nbf" {
                    date_value(rng, now).0
                } else if plain == "token_use" {
                    js(if value.contains("id") { "access" } else { "id" })
                } else if plain == "alg" {
                    js(rng.pick::<&str>(&["none", "HS256", "RS256"]))
                } else {
                    (*rng.pick(OTHER_TYPES)).to_owned()
                };
                let at = if rng.chance(50) {
                    target.members.len()
                } else {
                    rng.below(i + 1)
                };
                target.members.insert(at, (name2, value2.clone()));
                self.tag(format!("duplicate {part} {plain} ({how})={value2}"));
            }
            // Unicode escapes in names and values, broken UTF-8, surrogates.
            64..=67 => {
                let part_is_header = rng.chance(20);
                let part = if part_is_header {
                    &mut self.header
                } else {
                    &mut self.payload
                };
                match rng.below(6) {
                    0 | 1 => {
                        if !part.members.is_empty() {
                            let i = rng.below(part.members.len());
                            let plain: String =
                                serde_json::from_str(&part.members[i].0).unwrap_or_default();
                            if !plain.is_empty() {
                                part.members[i].0 = escape_first(&plain);
                                self.tag(format!("escaped name {plain}"));
                            }
                        }
                    }
                    _ => {
                        let (bytes, what): (&[u8], &str) = *rng.pick(&[
                            (&[0xFF][..], "byte FF"),
                            (&[0xC0, 0xAF][..], "overlong"),
                            (&[0xED, 0xA0, 0x80][..], "UTF-8 surrogate"),
                            (&[0xE2, 0x82][..], "truncated sequence"),
                            (&[0xF4, 0x90, 0x80, 0x80][..], "beyond U+10FFFF"),
                        ]);
                        let v = *rng.pick(&[
                            "\"\\ud800\"",
                            "\"\\udc00x\"",
                            "\"\\ud83d\\ude00\"",
                            "\"\\u0000\"",
                            "MARK",
                        ]);
                        let name = if part_is_header {
                            "x-note"
                        } else {
                            "custom:note"
                        };
                        if v == "MARK" {
                            part.set(name, format!("\"a{MARK}b\""));
                            part.mark = bytes.to_vec();
                            self.tag(format!("invalid UTF-8 ({what})"));
                        } else {
                            part.set(name, v.to_owned());
                            self.tag(format!("unicode value {v}"));
                        }
                    }
                }
            }
            // Sizes: around the 16 KiB limit, far over it, many claims.
            68..=70 => match rng.below(4) {
                0 => {
                    let n = rng.range(100, 600);
                    for i in 0..n {
                        self.payload.set(&format!("custom:c{i}"), i.to_string());
                    }
                    self.tag(format!("{n} extra claims"));
                }
                _ => {
                    let target =
                        *rng.pick(&[4000, 12_000, 16_383, 16_384, 16_385, 16_390, 20_000, 70_000]);
                    self.size_target = Some(target);
                    self.tag(format!("size {target}"));
                }
            },
            // Nesting and number forms in a claim nobody reads.
            71..=73 => {
                if rng.chance(50) {
                    let depth = *rng.pick(&[10usize, 100, 126, 127, 128, 129, 200, 1000]);
                    let v = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                    self.payload.set("custom:deep", v);
                    self.tag(format!("nesting {depth}"));
                } else {
                    let v = *rng.pick(&[
                        "1e400",
                        "-1e400",
                        "1e-400",
                        "123456789012345678901234567890",
                        "-0",
                        "0.1",
                        "1E5",
                        "1.5e308",
                    ]);
                    self.payload.set("custom:number", v.to_owned());
                    self.tag(format!("number {v}"));
                }
            }
            // JSON text: whitespace, member order, non-objects, trailing bytes, BOM.
            74..=79 => {
                let part_is_header = rng.chance(35);
                let part = if part_is_header {
                    &mut self.header
                } else {
                    &mut self.payload
                };
                let what = if part_is_header { "header" } else { "payload" };
                match rng.below(10) {
                    0 => {
                        part.style = *rng.pick(&[Style::Spaced, Style::Pretty]);
                        self.tag(format!("{what} whitespace"));
                    }
                    1 => {
                        let len = part.members.len();
                        for i in (1..len).rev() {
                            let j = rng.below(i + 1);
                            part.members.swap(i, j);
                        }
                        self.tag(format!("{what} members shuffled"));
                    }
                    2 => {
                        let v = *rng.pick(&["[]", "\"x\"", "1", "null", "true", "", "{}"]);
                        part.raw = Some(v.as_bytes().to_vec());
                        self.tag(format!("{what} is {v:?}"));
                    }
                    3 => {
                        // An array of the members' values: serde reads a struct from it.
                        let values: Vec<&str> =
                            part.members.iter().map(|(_, v)| v.as_str()).collect();
                        let mut values = values;
                        if part_is_header && rng.chance(50) {
                            values.reverse();
                        }
                        part.raw = Some(format!("[{}]", values.join(",")).into_bytes());
                        self.tag(format!("{what} as an array of its values"));
                    }
                    4 => {
                        let s = *rng.pick(&["x", "{}", ",", "\u{0}", "]"]);
                        part.suffix = s.as_bytes().to_vec();
                        self.tag(format!("{what} trailing {s:?}"));
                    }
                    5 => {
                        let s = *rng.pick(&[" ", "\n", "\r\n\t ", "\u{a0}"]);
                        part.suffix = s.as_bytes().to_vec();
                        self.tag(format!("{what} trailing whitespace {s:?}"));
                    }
                    6 => {
                        part.prefix = "\u{FEFF}".as_bytes().to_vec();
                        self.tag(format!("{what} BOM"));
                    }
                    7 => {
                        part.prefix = b" \n".to_vec();
                        self.tag(format!("{what} leading whitespace"));
                    }
                    8 => {
                        let (name, value) = *rng.pick(&[
                            ("x-empty-name", "\"\""),
                            ("", "1"),
                            ("constructor", "{\"prototype\":{}}"),
                        ]);
                        part.set(name, value.to_owned());
                        self.tag(format!("{what} member {name:?}"));
                    }
                    _ => {
                        // Wrapped in another object.
                        let inner = String::from_utf8_lossy(&part.bytes()).into_owned();
                        part.raw = Some(format!("{{\"claims\":{inner}}}").into_bytes());
                        self.tag(format!("{what} nested in an object"));
                    }
                }
            }
            // Header fields: alg, kid, crit, typ and others.
            80..=87 => self.mutate_header(rng),
            // Signatures: other keys, the weak key, the old one, broken ones.
            88..=93 => self.mutate_signature(rng),
            // Encodings of the segments and of the whole token.
            _ => {
                if rng.chance(60) {
                    let seg = rng.below(3);
                    let enc = *rng.pick(&[
                        SegEnc::Padded,
                        SegEnc::NonCanonical,
                        SegEnc::ExtraChar,
                        SegEnc::StdAlphabet,
                    ]);
                    self.enc[seg] = enc;
                    self.tag(format!("segment {seg} {enc:?}"));
                } else {
                    let m = *rng.pick(&[
                        TokenMut::LeadingSpace,
                        TokenMut::TrailingNewline,
                        TokenMut::BearerPrefix,
                        TokenMut::ExtraSegment,
                        TokenMut::TwoSegments,
                        TokenMut::EmptyHeaderSegment,
                        TokenMut::Empty,
                        TokenMut::InnerSpace,
                        TokenMut::NonAscii,
                        TokenMut::DoubleDot,
                    ]);
                    self.token_mut = Some(m);
                    self.tag(format!("token {m:?}"));
                }
            }
        }
    }

    fn mutate_header(&mut self, rng: &mut Rng) {
        let keys = &self.ctx.keys;
        match rng.below(6) {
            0 => {
                let v = *rng.pick(&[
                    "\"RS384\"",
                    "\"RS512\"",
                    "\"PS256\"",
                    "\"ES256\"",
                    "\"HS256\"",
                    "\"none\"",
                    "\"None\"",
                    "\"rs256\"",
                    "\"RS256 \"",
                    "\"EdDSA\"",
                    "null",
                    "1",
                    "[\"RS256\"]",
                    "\"\"",
                    "REMOVE",
                ]);
                if v == "REMOVE" {
                    self.header.remove("alg");
                } else {
                    self.header.set("alg", v.to_owned());
                }
                self.tag(format!("alg={v}"));
            }
            1 => {
                let other = if self.base == Base::Id {
                    &keys.access.kid
                } else {
                    &keys.id.kid
                };
                let v = match rng.below(10) {
                    0 => "REMOVE".to_owned(),
                    1 => "\"\"".to_owned(),
                    2 => "null".to_owned(),
                    3 => "1".to_owned(),
                    4 => js(other),
                    5 => js(&keys.id.kid.to_lowercase()),
                    6 => js(&format!("{} ", keys.id.kid)),
                    7 => js(&"k".repeat(2000)),
                    8 => js("ключ\u{1F511}"),
                    _ => format!("[{}]", js(&keys.id.kid)),
                };
                if v == "REMOVE" {
                    self.header.remove("kid");
                } else {
                    self.header.set("kid", v.clone());
                }
                self.tag(format!("kid={}", if v.len() > 60 { "<long>" } else { &v }));
            }
            2 => {
                let v = *rng.pick(&[
                    "[\"exp\"]",
                    "[]",
                    "null",
                    "\"b64\"",
                    "[\"b64\"]",
                    "[\"x-unknown\"]",
                ]);
                self.header.set("crit", v.to_owned());
                if v.contains("b64") {
                    self.header.set("b64", "false".into());
                }
                self.tag(format!("crit={v}"));
            }
            3 => {
                let (name, v) = *rng.pick(&[
                    ("typ", "\"JWT\""),
                    ("typ", "\"at+jwt\""),
                    ("typ", "1"),
                    ("cty", "\"JWT\""),
                    ("jku", "\"https://attacker.example/jwks.json\""),
                    ("x5u", "\"https://attacker.example/cert.pem\""),
                    ("x5c", "[\"MIIB\"]"),
                    ("b64", "false"),
                    ("zip", "\"DEF\""),
                    ("__proto__", "{\"alg\":\"none\"}"),
                    ("enc", "\"A256GCM\""),
                ]);
                self.header.set(name, v.to_owned());
                self.tag(format!("header {name}={v}"));
            }
            4 => {
                // An embedded key: an attacker's own, with the real kid.
                let jwk = keys.outsider.jwk(Some("RS256"), Some("sig"));
                self.header.set("jwk", jwk.to_string());
                if rng.chance(50) {
                    self.signer = Signer::Rsa(KeyId::Outsider, Hash::S256);
                    self.tag("header jwk, signed by it");
                } else {
                    self.tag("header jwk");
                }
            }
            _ => {
                self.header.members.reverse();
                self.tag("header order reversed");
            }
        }
    }

    fn mutate_signature(&mut self, rng: &mut Rng) {
        let keys = &self.ctx.keys;
        match rng.below(14) {
            0 => {
                // The other published key: still a key of the pool.
                let k = if self.base == Base::Id {
                    KeyId::Access
                } else {
                    KeyId::Id
                };
                self.signer = Signer::Rsa(k, Hash::S256);
                let kid = if k == KeyId::Id {
                    &keys.id.kid
                } else {
                    &keys.access.kid
                };
                self.header.set("kid", js(kid));
                self.tag("signed by the other pool key");
            }
            1 => {
                self.signer = Signer::Rsa(KeyId::Outsider, Hash::S256);
                self.tag("signed by an unpublished key, real kid");
            }
            2 => {
                self.signer = Signer::Rsa(KeyId::Outsider, Hash::S256);
                self.header.set("kid", js(&keys.outsider.kid));
                self.tag("signed by an unpublished key, its own kid");
            }
            3 => {
                self.signer = Signer::Weak;
                self.header.set("kid", js(&keys.weak.kid));
                self.tag("signed by the 1024-bit key");
            }
            4 | 5 => {
                let hash = *rng.pick(&[Hash::S256, Hash::S384, Hash::S512, Hash::Pss256]);
                self.signer = Signer::Rsa(KeyId::NoAlg, hash);
                self.header.set("kid", js(&keys.noalg.kid));
                self.header.set("alg", js(hash.alg()));
                self.tag(format!("signed {} by the key without alg", hash.alg()));
            }
            6 => {
                self.signer = Signer::Rsa(KeyId::Enc, Hash::S256);
                self.header.set("kid", js(&keys.enc.kid));
                self.tag("signed by the use=enc key");
            }
            7 => {
                let hash = *rng.pick(&[Hash::S384, Hash::S512, Hash::Pss256]);
                let k = if self.base == Base::Id {
                    KeyId::Id
                } else {
                    KeyId::Access
                };
                self.signer = Signer::Rsa(k, hash);
                self.header.set("alg", js(hash.alg()));
                self.tag(format!("signed {} by the pool key", hash.alg()));
            }
            8 => {
                self.signer = Signer::Hmac;
                self.header.set("alg", js("HS256"));
                self.tag("HS256 keyed with the public modulus");
            }
            9 => {
                self.signer = Signer::Unsigned;
                self.header
                    .set("alg", js(rng.pick::<&str>(&["none", "RS256"])));
                self.tag("no signature");
            }
            10 => {
                self.sig = SigMut::Old;
                self.tag("signature of the unmutated token");
            }
            11 => {
                self.sig = *rng.pick(&[
                    SigMut::FlipByte,
                    SigMut::DropLastByte,
                    SigMut::AppendZero,
                    SigMut::Garbage,
                ]);
                self.tag(format!("signature {:?}", self.sig));
            }
            12 => {
                // Rare: costs about 256 signatures.
                if rng.chance(10) {
                    self.sig = SigMut::StripLeadingZero;
                    self.tag("signature without its leading zero byte");
                } else {
                    self.sig = SigMut::FlipByte;
                    self.tag("signature FlipByte");
                }
            }
            _ => {
                // The pool key, but the token claims to be the other kind.
                let other = if self.base == Base::Id {
                    "access"
                } else {
                    "id"
                };
                self.payload.set("token_use", js(other));
                self.tag(format!("token_use={other} on a {} token", self.token_use()));
            }
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        let keys = &self.ctx.keys;
        match self.signer {
            Signer::Rsa(k, hash) => {
                let key = match k {
                    KeyId::Id => &keys.id,
                    KeyId::Access => &keys.access,
                    KeyId::NoAlg => &keys.noalg,
                    KeyId::Enc => &keys.enc,
                    KeyId::Outsider => &keys.outsider,
                };
                key.sign(hash, input)
            }
            Signer::Weak => keys.weak.sign(input),
            Signer::Hmac => {
                let n = keys.id.pair.public_key();
                let key = aws_lc_rs::hmac::Key::new(
                    aws_lc_rs::hmac::HMAC_SHA256,
                    n.modulus().big_endian_without_leading_zero(),
                );
                aws_lc_rs::hmac::sign(&key, input).as_ref().to_vec()
            }
            Signer::Unsigned => Vec::new(),
        }
    }

    fn build(mut self, index: u64, verifier: usize) -> Case {
        let header = self.header.bytes();
        let mut payload = self.payload.bytes();
        let h64 = encode(&header, self.enc[0]);
        if let Some(target) = self.size_target {
            // A filler claim sized so that the token comes out at the target length.
            let sig_len = 342;
            for _ in 0..6 {
                let p64 = encode(&payload, self.enc[1]).len();
                let len = h64.len() + 1 + p64 + 1 + sig_len;
                let filler = self
                    .payload
                    .find("custom:filler")
                    .map_or(0, |i| self.payload.members[i].1.len() - 2);
                let want = filler as i64 + (target as i64 - len as i64) * 3 / 4;
                let want = if self.payload.find("custom:filler").is_none() {
                    want - 20
                } else {
                    want
                };
                self.payload
                    .set("custom:filler", js(&"f".repeat(want.max(0) as usize)));
                payload = self.payload.bytes();
            }
        }
        let mut p64 = encode(&payload, self.enc[1]);
        let mut input = format!("{h64}.{p64}");
        let mut signature = self.sign(input.as_bytes());
        // A claim is varied until the signature starts with a zero byte (1 in 256);
        // a payload given as raw text has no claim to vary.
        if self.sig == SigMut::StripLeadingZero
            && matches!(self.signer, Signer::Rsa(..))
            && self.payload.raw.is_none()
        {
            for nonce in 0..4000 {
                if signature.first() == Some(&0) {
                    break;
                }
                self.payload.set("custom:nonce", nonce.to_string());
                payload = self.payload.bytes();
                p64 = encode(&payload, self.enc[1]);
                input = format!("{h64}.{p64}");
                signature = self.sign(input.as_bytes());
            }
        }
        let signature = match self.sig {
            SigMut::Good => signature,
            SigMut::Old => self.sign(self.original_input.as_bytes()),
            SigMut::FlipByte => {
                let mut s = signature;
                if let Some(b) = s.get_mut(17) {
                    *b ^= 0x40;
                }
                s
            }
            SigMut::DropLastByte => {
                let mut s = signature;
                s.pop();
                s
            }
            SigMut::AppendZero => {
                let mut s = signature;
                s.push(0);
                s
            }
            SigMut::StripLeadingZero => {
                let start = signature.iter().position(|&b| b != 0).unwrap_or(0);
                signature[start..].to_vec()
            }
            SigMut::Garbage => b"\x00\x00\x00".to_vec(),
        };
        let s64 = encode(&signature, self.enc[2]);
        let token = format!("{input}.{s64}");
        let token = match self.token_mut {
            None => token,
            Some(TokenMut::LeadingSpace) => format!(" {token}"),
            Some(TokenMut::TrailingNewline) => format!("{token}\n"),
            Some(TokenMut::BearerPrefix) => format!("Bearer {token}"),
            Some(TokenMut::ExtraSegment) => format!("{token}.{s64}"),
            Some(TokenMut::TwoSegments) => input.clone(),
            Some(TokenMut::EmptyHeaderSegment) => format!(".{p64}.{s64}"),
            Some(TokenMut::Empty) => String::new(),
            Some(TokenMut::InnerSpace) => format!("{h64}. {p64}.{s64}"),
            Some(TokenMut::NonAscii) => format!("{h64}.{p64}é.{s64}"),
            Some(TokenMut::DoubleDot) => format!("{h64}..{p64}.{s64}"),
        };
        // What the verifiers will read: the bytes the token's segments decode to (the
        // encoding and token mutations can change them), else the bytes generated.
        let segments: Vec<&str> = token.split('.').collect();
        let read = |i: usize, generated: Vec<u8>| {
            segments
                .get(i)
                .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok().or_else(|| node_decode(s)))
                .unwrap_or(generated)
        };
        let header = read(0, header);
        let payload = read(1, payload);
        Case {
            index,
            verifier,
            base: self.base,
            tags: self.tags,
            token,
            header,
            payload,
        }
    }
}

/// `"\u00XX"` for the first character, the rest as is: the same name to a JSON parser.
fn escape_first(name: &str) -> String {
    let mut chars = name.chars();
    let first = chars.next().unwrap();
    let rest: String = chars.collect();
    let rest = js(&rest);
    format!("\"\\u{:04x}{}", first as u32, &rest[1..])
}

fn encode(bytes: &[u8], enc: SegEnc) -> String {
    match enc {
        SegEnc::Plain => URL_SAFE_NO_PAD.encode(bytes),
        SegEnc::Padded => URL_SAFE.encode(bytes),
        SegEnc::StdAlphabet => STANDARD_NO_PAD.encode(bytes),
        SegEnc::ExtraChar => {
            let mut s = URL_SAFE_NO_PAD.encode(bytes);
            if s.len().is_multiple_of(4) {
                s.push('A');
            } else {
                s.push('Q');
            }
            s
        }
        SegEnc::NonCanonical => {
            let mut s = URL_SAFE_NO_PAD.encode(bytes);
            if !s.len().is_multiple_of(4) {
                const ALPHABET: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                let last = s.pop().unwrap();
                let v = ALPHABET.iter().position(|&c| c == last as u8).unwrap();
                s.push(char::from(ALPHABET[v | 1]));
            }
            s
        }
    }
}

/// Decodes like Node's `Buffer.from(s, "base64")` does for the characters the reference's
/// pattern lets through: padding optional, unused bits ignored, a lone last char dropped.
fn node_decode(segment: &str) -> Option<Vec<u8>> {
    let mut s: String = segment
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        return None;
    }
    if s.len() % 4 == 1 {
        s.pop();
    }
    let chars: Vec<u8> = s.bytes().collect();
    let mut out = Vec::new();
    for chunk in chars.chunks(4) {
        let mut quad = *b"AAAA";
        quad[..chunk.len()].copy_from_slice(chunk);
        let bytes = STANDARD.decode(quad).ok()?;
        let keep = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..keep]);
    }
    Some(out)
}

/// Generates case `index` of the run seeded with `seed`, with times relative to `now`.
pub fn generate(ctx: &Ctx, seed: u64, index: u64, now: i64) -> Case {
    let mut rng = Rng::for_case(seed, index);
    let verifier = match rng.below(20) {
        0..=9 => 0,
        10..=13 => 1,
        14..=16 => 2,
        _ => 3,
    };
    let mut draft = Draft::new(&mut rng, ctx, now);
    // A tenth unmutated (the valid baseline), most one mutation, some several.
    let count = match rng.below(20) {
        0 | 1 => 0,
        2..=14 => 1,
        15..=17 => 2,
        _ => rng.range(3, 5) as usize,
    };
    for _ in 0..count {
        draft.mutate(&mut rng);
    }
    if count == 0 {
        draft.tag("unmutated");
    }
    draft.build(index, verifier)
}
