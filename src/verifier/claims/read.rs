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
        let mut sink = Sink {
            start: text.as_ptr() as usize,
            json_len,
            decoded: String::new(),
            items: Vec::new(),
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
