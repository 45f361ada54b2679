//! Reading a token's payload in one pass over its JSON text, without building
//! it: the claims the crate itself reads are picked out (a string as a span of
//! the text), every other member is checked and skipped, and the text is kept,
//! from which [`Claims::as_map`](super::Claims::as_map) builds the whole map on
//! first use.
//!
//! What is accepted is exactly what a `serde_json::Value` accepts: every value,
//! read or skipped, goes through serde_json's own parser by `deserialize_any`
//! (numbers parsed in full, so `1e400` is refused as a map would refuse it;
//! strings checked for escapes and surrogates; the nesting limit applied), and
//! the top-level names must be unique, as before.

use serde::de::{self, DeserializeSeed, Deserializer as _, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// The claims the crate reads itself, by their index in [`Fields`].
pub(super) mod claim {
    pub(crate) const TOKEN_USE: usize = 0;
    pub(crate) const SUB: usize = 1;
    pub(crate) const ISS: usize = 2;
    pub(crate) const EXP: usize = 3;
    pub(crate) const NBF: usize = 4;
    pub(crate) const IAT: usize = 5;
    pub(crate) const AUTH_TIME: usize = 6;
    pub(crate) const SCOPE: usize = 7;
    pub(crate) const GROUPS: usize = 8;
    pub(crate) const AUD: usize = 9;
    pub(crate) const CLIENT_ID: usize = 10;
    pub(crate) const USERNAME: usize = 11;
    pub(crate) const COGNITO_USERNAME: usize = 12;
    pub(crate) const EMAIL: usize = 13;
    pub(crate) const EMAIL_VERIFIED: usize = 14;
    pub(crate) const JTI: usize = 15;
    pub(crate) const ORIGIN_JTI: usize = 16;
    pub(crate) const EVENT_ID: usize = 17;
    pub(crate) const COUNT: usize = 18;
}

/// The index of a claim the crate reads, by its (decoded) name.
pub(super) fn known(name: &str) -> Option<usize> {
    use claim::*;
    Some(match name {
        "token_use" => TOKEN_USE,
        "sub" => SUB,
        "iss" => ISS,
        "exp" => EXP,
        "nbf" => NBF,
        "iat" => IAT,
        "auth_time" => AUTH_TIME,
        "scope" => SCOPE,
        "cognito:groups" => GROUPS,
        "aud" => AUD,
        "client_id" => CLIENT_ID,
        "username" => USERNAME,
        "cognito:username" => COGNITO_USERNAME,
        "email" => EMAIL,
        "email_verified" => EMAIL_VERIFIED,
        "jti" => JTI,
        "origin_jti" => ORIGIN_JTI,
        "event_id" => EVENT_ID,
        _ => return None,
    })
}

/// A string of the payload, as a span of [`Payload::text`]: of the JSON
/// itself where the token wrote the string without escapes (the common case,
/// which copies nothing), or of the decoded strings kept after it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Str(u32, u32);

impl Str {
    /// The string, out of the text it was read from.
    pub(super) fn get(self, text: &str) -> &str {
        text.get(self.0 as usize..self.1 as usize)
            .unwrap_or_default()
    }
}

/// The shape of a claim the crate reads: as much of its value as the crate
/// needs, in 16 bytes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Shape {
    Str(Str),
    /// A number of whole seconds (negative numbers as 0, numbers past
    /// `u64::MAX` as `u64::MAX`).
    Whole(u64),
    /// A number with a fraction, `.0` seconds past the whole second given.
    Fraction(u64),
    Bool(bool),
    /// An array of strings only (possibly empty): `.1` items of
    /// [`Payload::items`] from `.0`.
    Strs(u32, u32),
    /// `null`, an object, or an array holding something other than a string.
    Other,
}

const _: () = assert!(std::mem::size_of::<Option<Shape>>() == 16);

impl Shape {
    /// A JSON number, as serde_json reads one.
    fn of_f64(v: f64) -> Self {
        if v.is_nan() || v < 0.0 {
            return Self::Whole(0);
        }
        let whole = v.floor();
        // `as` saturates: a number past u64::MAX is u64::MAX, with no fraction
        // left at that size.
        if whole == v {
            Self::Whole(whole as u64)
        } else {
            Self::Fraction(whole as u64)
        }
    }

    /// A number's whole seconds, rounded as asked; `None` for anything else.
    pub(super) fn secs(self, round: super::Round) -> Option<u64> {
        match (self, round) {
            (Self::Whole(v), _) | (Self::Fraction(v), super::Round::Down) => Some(v),
            (Self::Fraction(v), super::Round::Up) => Some(v.saturating_add(1)),
            _ => None,
        }
    }
}

/// A JSON number of seconds as whole seconds (see [`Shape::secs`]).
pub(crate) fn numeric_secs(n: &serde_json::Number, round: super::Round) -> u64 {
    let shape = match (n.as_u64(), n.as_i64()) {
        (Some(v), _) => Shape::Whole(v),
        (None, Some(_)) => Shape::Whole(0),
        (None, None) => Shape::of_f64(n.as_f64().unwrap_or(0.0)),
    };
    shape.secs(round).unwrap_or(0)
}

/// The claims the crate reads, by [`claim`] index; `None` when absent.
pub(super) type Fields = [Option<Shape>; claim::COUNT];

/// A payload's JSON text and the claims picked out of it.
pub(crate) struct Payload {
    /// The JSON (its first `json_len` bytes), then the decoded strings that
    /// had escapes there.
    pub(super) text: String,
    pub(super) json_len: usize,
    pub(super) fields: Fields,
    /// The strings of the arrays of strings in `fields`.
    pub(super) items: Vec<Str>,
}

impl Payload {
    /// Reads a payload: a JSON object with unique top-level names, whose every
    /// value a `serde_json::Value` would accept. `None` otherwise, and for a
    /// payload over 2 GiB (the token size limit is 16 KiB by default).
    pub(crate) fn read(json: Vec<u8>) -> Option<Self> {
        // Spans are u32s, and the decoded strings are at most as long as the
        // JSON they were in.
        if json.len() > (u32::MAX / 2) as usize {
            return None;
        }
        let mut text = String::from_utf8(json).ok()?;
        let json_len = text.len();
        let mut items = Vec::new();
        if let Some(fields) = read_compact(&text, &mut items) {
            #[cfg(fuzzing)]
            assert_same_as_serde(&text, &fields, &items);
            return Some(Self {
                text,
                json_len,
                fields,
                items,
            });
        }
        items.clear();
        let mut sink = Sink {
            start: text.as_ptr() as usize,
            json_len,
            decoded: String::new(),
            items,
        };
        let fields = read_fields(&text, &mut sink).ok()?;
        let Sink { decoded, items, .. } = sink;
        text.push_str(&decoded);
        Some(Self {
            text,
            json_len,
            fields,
            items,
        })
    }

    /// `iss`, when it is a string.
    pub(crate) fn iss(&self) -> Option<&str> {
        self.str(claim::ISS)
    }

    /// The claim at `i` (of [`claim`]), when it is a string.
    pub(super) fn str(&self, i: usize) -> Option<&str> {
        match self.fields[i] {
            Some(Shape::Str(s)) => Some(s.get(&self.text)),
            _ => None,
        }
    }

    /// The strings of an array of strings, `Shape::Strs(first, count)`.
    pub(super) fn strs(&self, first: u32, count: u32) -> Option<&[Str]> {
        self.items.get(first as usize..)?.get(..count as usize)
    }

    /// The JSON text.
    pub(super) fn json(&self) -> &str {
        self.text.get(..self.json_len).unwrap_or_default()
    }
}

/// Reads a payload written as Cognito writes one, without serde: compact JSON
/// (no whitespace), strings without escapes or control characters, integers of
/// at most 19 digits, `true`, `false`, `null`, and arrays of such strings.
/// Anything else, and a repeated name, is `None`: the payload then goes to
/// [`read_fields`], which accepts or refuses it. What this returns for a text
/// is what `read_fields` returns for it: every string is a span of the JSON, an
/// integer is what `visit_u64` or (negative) `visit_i64` makes of it, and an
/// array's strings go to `items` in the same order. Fuzzing (`cfg(fuzzing)`)
/// checks each text it accepts against `read_fields`.
///
/// On the project's Intel machine, `token_read_cost` read a 459-byte access
/// token payload in 327 ns through serde_json and in 245 ns through this.
fn read_compact(text: &str, items: &mut Vec<Str>) -> Option<Fields> {
    let mut json = Compact {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut fields: Fields = Default::default();
    let mut others = Names::default();
    json.byte(b'{')?;
    if json.peek() == Some(b'}') {
        json.at += 1;
    } else {
        loop {
            let name = json.string()?.get(text);
            json.byte(b':')?;
            match known(name) {
                Some(i) => {
                    if fields[i].is_some() {
                        return None;
                    }
                    // Written in place: a shape built apart and then copied
                    // in stalled on the copy (a 16-byte load of two stores).
                    let slot = &mut fields[i];
                    match json.value(Some(&mut *items))? {
                        Shape::Str(s) => *slot = Some(Shape::Str(s)),
                        Shape::Whole(v) => *slot = Some(Shape::Whole(v)),
                        Shape::Bool(b) => *slot = Some(Shape::Bool(b)),
                        Shape::Strs(first, count) => *slot = Some(Shape::Strs(first, count)),
                        other => *slot = Some(other),
                    }
                }
                None => {
                    if !others.insert(Cow::Borrowed(name)) {
                        return None;
                    }
                    json.value(None)?;
                }
            }
            if json.closes(b'}')? {
                break;
            }
        }
    }
    (json.at == json.bytes.len()).then_some(fields)
}

/// A position in compact JSON text, for [`read_compact`].
struct Compact<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl Compact<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Steps over `b`, which must be next.
    fn byte(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.at += 1)
    }

    /// After a member or an element: steps over the `,` (`false`) or the
    /// `close` that ends the object or array (`true`); `None` for anything else.
    fn closes(&mut self, close: u8) -> Option<bool> {
        let next = self.peek()?;
        if next != b',' && next != close {
            return None;
        }
        self.at += 1;
        Some(next == close)
    }

    /// Steps over `word` (`true`, `false`, `null`), which must be next.
    fn word(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// A string without escapes or control characters, as a span of the text
    /// between its quotes.
    #[inline(always)]
    fn string(&mut self) -> Option<Str> {
        self.byte(b'"')?;
        let start = self.at;
        let end = start + string_len(self.bytes.get(start..)?);
        if self.bytes.get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        Some(Str(u32::try_from(start).ok()?, u32::try_from(end).ok()?))
    }

    /// A value. `items`, for a claim the crate reads: where an array's strings go.
    #[inline(always)]
    fn value(&mut self, items: Option<&mut Vec<Str>>) -> Option<Shape> {
        match self.peek()? {
            b'"' => Some(Shape::Str(self.string()?)),
            b't' => self.word(b"true").map(|()| Shape::Bool(true)),
            b'f' => self.word(b"false").map(|()| Shape::Bool(false)),
            b'n' => self.word(b"null").map(|()| Shape::Other),
            b'[' => self.strings(items),
            b'-' | b'0'..=b'9' => self.integer(),
            _ => None,
        }
    }

    /// An array of strings only (possibly empty).
    fn strings(&mut self, mut items: Option<&mut Vec<Str>>) -> Option<Shape> {
        self.byte(b'[')?;
        let first = items.as_ref().map_or(0, |items| items.len());
        let mut count = 0u32;
        if self.peek()? == b']' {
            self.at += 1;
        } else {
            loop {
                let item = self.string()?;
                if let Some(items) = items.as_mut() {
                    items.push(item);
                }
                count = count.checked_add(1)?;
                if self.closes(b']')? {
                    break;
                }
            }
        }
        Some(Shape::Strs(u32::try_from(first).ok()?, count))
    }

    /// An integer of at most 19 digits (so that it fits a `u64`), in JSON's
    /// grammar (no leading zeros, no `+`), with no fraction or exponent after
    /// it. Negative ones are 0, as [`visit_numbers`] makes them.
    #[inline(always)]
    fn integer(&mut self) -> Option<Shape> {
        let negative = self.peek()? == b'-';
        if negative {
            self.at += 1;
        }
        let start = self.at;
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.at += 1;
                }
            }
            _ => return None,
        }
        let digits = &self.bytes[start..self.at];
        // After a leading `0`, a digit is not JSON; the separator check that
        // follows refuses it. A fraction or an exponent goes to serde_json.
        if digits.len() > 19 || matches!(self.peek(), Some(b'.' | b'e' | b'E' | b'0'..=b'9')) {
            return None;
        }
        let value = digits
            .iter()
            .fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
        Some(Shape::Whole(if negative { 0 } else { value }))
    }
}

/// How many bytes of `bytes` come before the first `"`, `\` or control
/// character (below 0x20), or `bytes.len()` when there is none: eight bytes at
/// a time, since most of a payload is inside strings.
fn string_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether any byte of `w` is zero (exact: no false positives in any lane).
    let has_zero = |w: u64| (w.wrapping_sub(ONES) & !w & HIGHS) != 0;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let w = u64::from_ne_bytes(chunk.try_into().expect("eight bytes"));
        // A byte below 0x20: its top three bits are zero.
        let control = has_zero(w & u64::from_ne_bytes([0xe0; 8]));
        let quote = has_zero(w ^ u64::from_ne_bytes([b'"'; 8]));
        let backslash = has_zero(w ^ u64::from_ne_bytes([b'\\'; 8]));
        if control || quote || backslash {
            break;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - at)
}

/// Fuzzing's check of [`read_compact`]: serde's reading of `text` accepts it and
/// finds the same claims.
#[cfg(fuzzing)]
fn assert_same_as_serde(text: &str, fields: &Fields, items: &[Str]) {
    let by_serde = serde_reading(text).expect("serde_json refuses what read_compact took");
    assert_eq!(by_serde, compact_reading(fields, items), "{text}");
}

/// serde's reading of `text` as [`compact_reading`] writes it down: the claims,
/// the arrays' strings, and whether nothing had to be decoded. `None` when
/// serde refuses the text.
#[cfg(any(test, fuzzing))]
fn serde_reading(text: &str) -> Option<(String, String, bool)> {
    let mut sink = Sink {
        start: text.as_ptr() as usize,
        json_len: text.len(),
        decoded: String::new(),
        items: Vec::new(),
    };
    let fields = read_fields(text, &mut sink).ok()?;
    Some((
        format!("{fields:?}"),
        format!("{:?}", sink.items),
        sink.decoded.is_empty(),
    ))
}

/// What [`read_compact`] found, written down as [`serde_reading`] writes
/// serde's (the compact reading never decodes).
#[cfg(any(test, fuzzing))]
fn compact_reading(fields: &Fields, items: &[Str]) -> (String, String, bool) {
    (format!("{fields:?}"), format!("{items:?}"), true)
}

fn read_fields(text: &str, sink: &mut Sink) -> Result<Fields, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let fields = de.deserialize_map(Top(sink))?;
    de.end()?;
    Ok(fields)
}

/// Where the strings read go: spans of the JSON text (which lies at `start`
/// in memory) for borrowed ones, and `decoded`, to follow the JSON, for the
/// others.
struct Sink {
    start: usize,
    json_len: usize,
    decoded: String,
    items: Vec<Str>,
}

impl Sink {
    /// `s`, borrowed from the JSON text, as a span of it (a string from
    /// elsewhere, which serde_json does not hand out, is copied).
    fn borrowed(&mut self, s: &str) -> Str {
        let start = (s.as_ptr() as usize).wrapping_sub(self.start);
        match start.checked_add(s.len()) {
            Some(end) if end <= self.json_len => Str(start as u32, end as u32),
            _ => self.decoded(s),
        }
    }

    /// `s`, decoded from escapes: kept after the JSON.
    fn decoded(&mut self, s: &str) -> Str {
        let start = self.json_len + self.decoded.len();
        self.decoded.push_str(s);
        Str(start as u32, (start + s.len()) as u32)
    }
}

/// The error of a JSON object that repeats a member name.
pub(crate) fn duplicate_name<E: de::Error>() -> E {
    E::custom("duplicate member name")
}

/// The top-level object.
struct Top<'s>(&'s mut Sink);

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields: Fields = Default::default();
        let mut others = Names::default();
        while let Some(name) = map.next_key_seed(Name)? {
            match known(&name) {
                Some(i) => {
                    if fields[i].is_some() {
                        return Err(duplicate_name());
                    }
                    fields[i] = Some(map.next_value_seed(ShapeOf(&mut *self.0))?);
                }
                None => {
                    if !others.insert(name) {
                        return Err(duplicate_name());
                    }
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(fields)
    }
}

/// Names read so far, to refuse a repeated one. A token has a handful: a
/// list, until it has many (then a set, so that no payload of thousands of
/// names costs a search of every name for each).
#[derive(Default)]
pub(crate) struct Names<'de> {
    list: Vec<Cow<'de, str>>,
    set: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Names<'de> {
    /// Most names kept in a list, searched from end to end.
    const LIST: usize = 16;

    /// Whether `name` is new.
    pub(crate) fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if let Some(set) = &mut self.set {
            return set.insert(name);
        }
        if self.list.contains(&name) {
            return false;
        }
        if self.list.capacity() == 0 {
            // Once, for the list's whole life: a payload of a dozen claims
            // would otherwise grow it three times.
            self.list.reserve_exact(Self::LIST + 1);
        }
        self.list.push(name);
        if self.list.len() > Self::LIST {
            self.set = Some(self.list.drain(..).collect());
        }
        true
    }
}

/// A string (a member's name), borrowed from the text when it has no escapes.
pub(crate) struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
}

/// Reads a value as a [`Shape`].
struct ShapeOf<'s>(&'s mut Sink);

impl<'de> DeserializeSeed<'de> for ShapeOf<'_> {
    type Value = Shape;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(self)
    }
}

/// Writes the number visits of a visitor whose value is `$wrap(Shape)`.
macro_rules! visit_numbers {
    ($wrap:expr) => {
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok($wrap(Shape::Whole(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            // Before 1970, as every date claim reads it, when negative.
            Ok($wrap(Shape::Whole(u64::try_from(v).unwrap_or(0))))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok($wrap(Shape::of_f64(v)))
        }
    };
}

impl<'de> Visitor<'de> for ShapeOf<'_> {
    type Value = Shape;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    visit_numbers!(|shape| shape);
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Shape, E> {
        Ok(Shape::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Shape, E> {
        Ok(Shape::Str(self.0.borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Shape, E> {
        Ok(Shape::Str(self.0.decoded(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        // The strings, while every element is one; the rest is still read.
        let sink = self.0;
        let first = sink.items.len();
        let mut all_strings = true;
        while let Some(item) = seq.next_element_seed(ElementOf(&mut *sink))? {
            match item {
                Some(s) if all_strings => sink.items.push(s),
                _ => all_strings = false,
            }
        }
        if !all_strings {
            sink.items.truncate(first);
            return Ok(Shape::Other);
        }
        let count = sink.items.len() - first;
        Ok(Shape::Strs(first as u32, count as u32))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape, A::Error> {
        Skip::map(map)?;
        Ok(Shape::Other)
    }
}

/// Reads an array's element: the string it is, or `None` (read and skipped).
struct ElementOf<'s>(&'s mut Sink);

impl<'de> DeserializeSeed<'de> for ElementOf<'_> {
    type Value = Option<Str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<Str>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ElementOf<'_> {
    type Value = Option<Str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    visit_numbers!(|_| None);
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Some(self.0.borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(self.0.decoded(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Skip::seq(seq)?;
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Skip::map(map)?;
        Ok(None)
    }
}

/// Any JSON value, read in full by serde_json (`deserialize_any`, unlike
/// `IgnoredAny`, which skips a number without parsing it) and kept nowhere.
struct Skip;

impl Skip {
    fn seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(())
    }
    fn map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
        while map.next_key::<Skip>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(())
    }
}

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    visit_numbers!(|_| Skip);
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
        Skip::seq(seq)?;
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
        Skip::map(map)?;
        Ok(Skip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    /// What the map the crate built before this reader accepts (and the load
    /// balancer's payloads still use): an object with unique top-level names
    /// whose values `Value` takes.
    fn map_accepts(text: &str) -> bool {
        serde_json::from_str::<crate::verifier::token::UniqueMap>(text).is_ok()
    }

    fn reads(text: &str) -> bool {
        Payload::read(text.as_bytes().to_vec()).is_some()
    }

    #[test]
    fn accepts_exactly_what_a_unique_name_map_accepts() {
        for text in [
            r#"{}"#,
            r#"{"sub":"a","exp":1}"#,
            r#"  {"sub" : "a" , "x" : [1, {"y": null}]}  "#,
            r#"{"a":1e400}"#,
            r#"{"a":[1e400]}"#,
            r#"{"a":{"b":-1e400}}"#,
            r#"{"exp":1e400}"#,
            r#"{"a":1.5e308,"b":-0,"c":123456789012345678901234567890}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"sub":"a","sub":"b"}"#,
            r#"{"sub":"a","\u0073ub":"b"}"#,
            r#"{"x":1,"x":2}"#,
            r#"{"x":1,"\u0078":2}"#,
            r#"{"x":{"y":1,"y":2}}"#,
            r#"{"a":"ctl"}"#,
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
            r#"{"a":01}"#,
            r#"[1]"#,
            r#""a""#,
            r#"{"a":1} x"#,
            r#"{"a":"\x"}"#,
        ] {
            assert_eq!(reads(text), map_accepts(text), "{text}");
        }
        // Deep nesting: the same limit on both sides.
        for depth in [100, 126, 127, 128, 129, 200] {
            let text = format!(r#"{{"a":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
            assert_eq!(reads(&text), map_accepts(&text), "depth {depth}");
        }
        // Many distinct names past the list, and a repeat among them.
        let many: Vec<String> = (0..40).map(|i| format!(r#""n{i}":{i}"#)).collect();
        let text = format!("{{{}}}", many.join(","));
        assert!(reads(&text));
        let text = format!("{{{},\"n3\":0}}", many.join(","));
        assert!(!reads(&text));
    }

    /// Payloads made of members Cognito writes and of every kind of value the
    /// compact reading must decline (escapes, control characters, fractions,
    /// exponents, leading zeros, numbers past 19 digits, nested values,
    /// whitespace, repeated names, bad literals): wherever it reads one, serde
    /// reads it too, and finds the same claims and array strings. Payload
    /// acceptance as a whole still equals a unique-name map's.
    #[test]
    fn the_compact_reading_finds_what_serde_finds() {
        let names = [
            "sub",
            "iss",
            "exp",
            "nbf",
            "iat",
            "auth_time",
            "scope",
            "cognito:groups",
            "aud",
            "client_id",
            "token_use",
            "jti",
            "email_verified",
            "custom:tier",
            "a",
            "",
        ];
        let values = [
            r#""x""#,
            r#""""#,
            r#""a b""#,
            r#""gé""#,
            r#""a\"b""#,
            r#""\u0041""#,
            "\"tab\there\"",
            "\"nul\u{0}\"",
            r#""0123456789abcdef0123""#,
            "0",
            "-0",
            "01",
            "7",
            "-3",
            "1700000000",
            "18446744073709551615",
            "18446744073709551616",
            "9999999999999999999",
            "12345678901234567890",
            "-9223372036854775809",
            "1.5",
            "1e3",
            "1E3",
            "-",
            "true",
            "false",
            "null",
            "tru",
            "nul",
            "[]",
            r#"["a"]"#,
            r#"["a","b"]"#,
            r#"["a",1]"#,
            "[1]",
            "[[]]",
            r#"["a",]"#,
            "{}",
            r#"{"a":1}"#,
            " 1",
            r#"["a" ]"#,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut compact, mut total) = (0, 0);
        for _ in 0..20_000 {
            let members: Vec<String> = (0..next(7))
                .map(|_| {
                    format!(
                        r#""{}":{}"#,
                        names[next(names.len())],
                        values[next(values.len())]
                    )
                })
                .collect();
            let separator = if next(20) == 0 { ", " } else { "," };
            let mut text = format!("{{{}}}", members.join(separator));
            if next(30) == 0 {
                text.push(' ');
            }
            total += 1;
            let mut items = Vec::new();
            if let Some(fields) = read_compact(&text, &mut items) {
                compact += 1;
                let expected =
                    serde_reading(&text).unwrap_or_else(|| panic!("serde refuses {text}"));
                assert_eq!(expected, compact_reading(&fields, &items), "{text}");
            }
            assert_eq!(reads(&text), map_accepts(&text), "{text}");
        }
        // Both ways were taken often.
        assert!(
            compact > total / 20 && compact < total / 2,
            "{compact} of {total}"
        );
    }

    /// A Cognito access token's and ID token's payloads, as Cognito writes them,
    /// take the compact reading.
    #[test]
    fn cognito_payloads_take_the_compact_reading() {
        for text in [
            r#"{"sub":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","cognito:groups":["admin","users"],"iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example","version":2,"client_id":"xxxxxxxxxxxxexample","origin_jti":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","event_id":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","token_use":"access","scope":"aws.cognito.signin.user.admin phone openid profile email","auth_time":1676313851,"exp":1676317451,"iat":1676313851,"jti":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","username":"my-test-user"}"#,
            r#"{"sub":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","cognito:groups":["test-group-a"],"email_verified":true,"iss":"https://cognito-idp.us-west-2.amazonaws.com/us-west-2_example","cognito:username":"my-test-user","middle_name":"Jane","origin_jti":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","cognito:roles":["arn:aws:iam::111122223333:role/my-test-role"],"aud":"xxxxxxxxxxxxexample","identities":[{"userId":"amzn1.account.EXAMPLE","providerName":"LoginWithAmazon","providerType":"LoginWithAmazon","issuer":null,"primary":"true","dateCreated":"1642699117273"}],"event_id":"64f513be-32db-42b0-b78e-b02127b4f463","token_use":"id","auth_time":1676312777,"exp":1676316377,"iat":1676312777,"jti":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","email":"my-test-user@example.com"}"#,
        ] {
            let mut items = Vec::new();
            let took = read_compact(text, &mut items).is_some();
            // The ID token's `identities` is an array of objects: serde reads it.
            assert_eq!(took, !text.contains("identities"), "{text}");
            assert!(reads(text));
        }
        let without = r#"{"sub":"s","token_use":"id","cognito:roles":["r"],"exp":1}"#;
        assert!(read_compact(without, &mut Vec::new()).is_some());
    }

    /// The eight-byte scan stops where a byte-by-byte one does, at every
    /// position and for every byte value.
    #[test]
    fn string_len_stops_at_the_first_quote_backslash_or_control() {
        for len in 0..40 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let slow = bytes
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                        .unwrap_or(len);
                    assert_eq!(string_len(&bytes), slow, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn picks_out_the_claims_the_crate_reads() {
        let text = r#"{"sub":"a\"b","iss":"i","exp":1.5,"nbf":-3,"iat":7,"scope":"x y",
            "cognito:groups":["g1","g\u00e9"],"aud":["c",1],"email_verified":true,
            "custom:x":{"sub":"not this one"},"jti":null}"#;
        let payload = Payload::read(text.as_bytes().to_vec()).unwrap();
        let (fields, text) = (&payload.fields, &payload.text[..]);
        let s = |i: usize| match fields[i] {
            Some(Shape::Str(s)) => Some(s.get(text).to_owned()),
            _ => None,
        };
        assert_eq!(s(claim::SUB).as_deref(), Some("a\"b"));
        assert_eq!(s(claim::ISS).as_deref(), Some("i"));
        // A string without escapes is a span of the JSON; one with, after it.
        let Some(Shape::Str(iss)) = fields[claim::ISS] else {
            panic!("iss")
        };
        assert!((iss.1 as usize) <= payload.json_len);
        let Some(Shape::Str(sub)) = fields[claim::SUB] else {
            panic!("sub")
        };
        assert!((sub.0 as usize) >= payload.json_len);
        assert!(matches!(fields[claim::EXP], Some(Shape::Fraction(1))));
        assert!(matches!(fields[claim::NBF], Some(Shape::Whole(0))));
        assert!(matches!(fields[claim::IAT], Some(Shape::Whole(7))));
        assert_eq!(s(claim::SCOPE).as_deref(), Some("x y"));
        let Some(Shape::Strs(first, count)) = fields[claim::GROUPS] else {
            panic!("groups")
        };
        let groups: Vec<&str> = payload.items[first as usize..][..count as usize]
            .iter()
            .map(|g| g.get(text))
            .collect();
        assert_eq!(groups, ["g1", "gé"]);
        // The mixed array kept none of its strings.
        assert_eq!(payload.items.len(), 2);
        assert!(matches!(fields[claim::AUD], Some(Shape::Other)));
        assert!(matches!(
            fields[claim::EMAIL_VERIFIED],
            Some(Shape::Bool(true))
        ));
        assert!(matches!(fields[claim::JTI], Some(Shape::Other)));
        assert!(fields[claim::TOKEN_USE].is_none() && fields[claim::EMAIL].is_none());
        let text = &payload.text[..payload.json_len];
        let map: Map<String, Value> = serde_json::from_str(text).unwrap();
        assert_eq!(map.len(), 11);
    }
}
