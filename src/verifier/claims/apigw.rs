//! API Gateway's views of the claims: the REST API's
//! (`$context.authorizer.claims`) and the HTTP API's
//! (`$context.authorizer.jwt.claims`).

use super::{Claims, Round, numeric_secs};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// Writes a view's `impl` block with the `new` given and what both views have
/// beside it (`get`, `as_map`, `into_map`), and its `Index<&str>`, which reads
/// a claim the view does not have as `""`.
macro_rules! string_map_view {
    (impl $name:ident { $($new:tt)* }) => {
        impl $name {
            $($new)*

            /// One claim.
            pub fn get(&self, name: &str) -> Option<&str> {
                self.0.get(name).map(String::as_str)
            }

            /// The whole map.
            pub fn as_map(&self) -> &BTreeMap<String, String> {
                &self.0
            }

            /// The map, owned.
            pub fn into_map(self) -> BTreeMap<String, String> {
                self.0
            }
        }

        impl std::ops::Index<&str> for $name {
            type Output = str;
            fn index(&self, name: &str) -> &str {
                self.get(name).unwrap_or_default()
            }
        }
    };
}

/// Each claim with the text `text` gives it in a view, leaving out those it
/// gives none.
fn each_claim(
    claims: &Claims,
    text: impl Fn(&str, &Value) -> Option<String>,
) -> BTreeMap<String, String> {
    claims
        .as_map()
        .iter()
        .filter_map(|(name, value)| Some((name.clone(), text(name, value)?)))
        .collect()
}

/// The claims as a REST API's Cognito authorizer hands them to a Lambda or
/// HTTP backend (`event.requestContext.authorizer.claims`): a flat map of
/// strings.
///
/// Strings stay as they are; numbers and booleans become their text; `exp` and
/// `iat` become dates such as `Thu Jul 02 12:39:49 UTC 2026`; a one-element
/// array becomes its element, a longer one its elements joined by commas; an
/// object (the `identities` of a federated user) becomes its JSON text with
/// its names in the token's order, whatever serde_json's features, and without
/// insignificant whitespace. For code ported from Lambda:
/// `claims["custom:role"]` reads the same here. The HTTP API's view differs:
/// see [`HttpApiClaims`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiGatewayClaims(BTreeMap<String, String>);

string_map_view! {
    impl ApiGatewayClaims {
        /// Renders the claims.
        pub fn new(claims: &Claims) -> Self {
            Self(each_claim(claims, |name, value| match (name, value) {
                // A NumericDate, fractions included, as the date of its whole
                // second; one before 1970 stays a number.
                ("exp" | "iat", Value::Number(n)) if n.as_f64().is_some_and(|v| v >= 0.0) => {
                    Some(http_date(numeric_secs(n, Round::Down)))
                }
                _ => render(value, claims.raw_json(name)),
            }))
        }
    }
}

/// One value in the REST view. `raw` is the value's JSON text as the token
/// wrote it, when the claims kept it (for values that hold objects).
fn render(value: &Value, raw: Option<&str>) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            // The elements' own texts, to keep the names of objects among
            // them in order.
            let raws: Option<Vec<&RawValue>> = raw.and_then(|raw| serde_json::from_str(raw).ok());
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let raw = raws.as_ref().and_then(|r| r.get(i)).map(|r| r.get());
                    render(item, raw)
                })
                .collect::<Vec<_>>()
                .join(",")
        }
        Value::Object(_) => match raw {
            Some(raw) => compact(raw),
            None => value.to_string(),
        },
    })
}

/// JSON text without the whitespace between tokens.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// The claims as an HTTP API's JWT authorizer hands them to a backend
/// (`event.requestContext.authorizer.jwt.claims` in payload format 2.0,
/// `$context.authorizer.claims` in parameter mappings): a flat map of strings.
///
/// Strings stay as they are; numbers become their JSON text (`exp` and `iat`
/// stay epoch seconds, `"1787996002"`); booleans become `true` or `false`; an
/// array becomes its elements separated by spaces in brackets (`[admins
/// staff]`); an object becomes `map[name:value ...]` with its names sorted;
/// inside them, a `null` is `<nil>`. A claim whose value is `null` is left out.
/// These are the forms of Go's `fmt` for decoded JSON. Which of them were seen
/// on AWS and which are inferred is listed in the README ("Claims").
///
/// ```
/// # fn demo(claims: &tower_cognito::Claims) {
/// use tower_cognito::HttpApiClaims;
/// let view = HttpApiClaims::new(claims);
/// // ["admins", "staff"] in the token:
/// let groups = view.get("cognito:groups"); // Some("[admins staff]")
/// # let _ = groups; }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpApiClaims(BTreeMap<String, String>);

string_map_view! {
    impl HttpApiClaims {
        /// Renders the claims.
        pub fn new(claims: &Claims) -> Self {
            Self(each_claim(claims, |_, value| match value {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => {
                    let mut text = String::new();
                    go_value(other, &mut text);
                    Some(text)
                }
            }))
        }
    }
}

/// A value as Go's `fmt` prints what `encoding/json` decoded: strings bare,
/// `[a b]`, `map[k:v]` with sorted names, `<nil>`.
fn go_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                go_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted here, not by the map: its order depends on serde_json's
            // `preserve_order` feature.
            let mut names: Vec<&String> = map.keys().collect();
            names.sort_unstable();
            out.push_str("map[");
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(name);
                out.push(':');
                go_value(&map[name], out);
            }
            out.push(']');
        }
    }
}

/// `Thu Jul 02 12:39:49 UTC 2026`, the form API Gateway gives `exp` and `iat`.
fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        year
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::claims::Payload;
    use serde_json::json;
    use std::sync::Arc;

    /// Claims read from payload text, as the verifier reads them.
    fn from_text(text: &str) -> Claims {
        let payload = Payload::read(text.as_bytes().to_vec()).unwrap();
        Claims::from_payload(payload, Arc::from("p")).unwrap()
    }

    /// Asserts what `get` gives for each claim `expected` names: its string,
    /// or nothing where `expected` has `null`.
    fn assert_gets<'v>(get: impl Fn(&str) -> Option<&'v str>, expected: Value) {
        for (name, want) in expected.as_object().unwrap() {
            assert_eq!(get(name), want.as_str(), "{name}");
        }
    }

    /// A federated user's ID token: `identities` names its keys in Cognito's
    /// order, which is not alphabetical.
    const FEDERATED: &str = r#"{"sub":"u","iss":"i","token_use":"id","exp":1782995989,
        "iat":1782992389,"email_verified":true,"cognito:groups":["a","b"],
        "identities":[{"userId":"1","providerName":"Google","providerType":"Google",
            "issuer":null,"primary":"true","dateCreated":"1583766787000"}],
        "custom:obj": { "z": 1, "a": {"y": [1, {"d": 2, "c": 3}], "b": "x y"} },
        "two":[{"b":1,"a":2},{"d":"\u00e9 \"q\"","c":[]}],"nothing":null}"#;

    #[test]
    fn rest_objects_keep_the_tokens_key_order() {
        let view = ApiGatewayClaims::new(&from_text(FEDERATED));
        assert_eq!(
            view.get("identities"),
            Some(
                r#"{"userId":"1","providerName":"Google","providerType":"Google","issuer":null,"primary":"true","dateCreated":"1583766787000"}"#
            )
        );
        assert_eq!(
            view.get("custom:obj"),
            Some(r#"{"z":1,"a":{"y":[1,{"d":2,"c":3}],"b":"x y"}}"#)
        );
        // Several objects: each as the token wrote it, joined by commas;
        // strings are left as written, escapes and spaces inside them too.
        assert_eq!(
            view.get("two"),
            Some(r#"{"b":1,"a":2},{"d":"\u00e9 \"q\"","c":[]}"#)
        );
        // Claims built without the payload text (no object kept) fall back to
        // serde_json's order.
        let Value::Object(map) =
            json!({"sub": "u", "iss": "i", "token_use": "id", "exp": 1, "o": {"b": 1}})
        else {
            unreachable!()
        };
        let claims = Claims::from_payload(map, Arc::from("p")).unwrap();
        assert_eq!(ApiGatewayClaims::new(&claims).get("o"), Some(r#"{"b":1}"#));
    }

    #[test]
    fn compact_drops_only_whitespace_between_tokens() {
        assert_eq!(compact(" { \"a b\" : [ 1 ,\n\t2 ] } "), r#"{"a b":[1,2]}"#);
        assert_eq!(
            compact(r#"{"k":"\\"," x":" \" "}"#),
            r#"{"k":"\\"," x":" \" "}"#
        );
    }

    #[test]
    fn http_api_view_has_go_forms() {
        let view = HttpApiClaims::new(&from_text(FEDERATED));
        assert_gets(
            |name| view.get(name),
            json!({
                "exp": "1782995989", "iat": "1782992389", "email_verified": "true",
                "cognito:groups": "[a b]", "nothing": null,
                "identities": "[map[dateCreated:1583766787000 issuer:<nil> primary:true \
                    providerName:Google providerType:Google userId:1]]",
                "custom:obj": "map[a:map[b:x y y:[1 map[c:3 d:2]]] z:1]",
                "two": "[map[a:2 b:1] map[c:[] d:\u{e9} \"q\"]]",
            }),
        );
        assert_eq!(&view["sub"], "u");
        assert_eq!(&view["absent"], "");
    }

    #[test]
    fn http_api_view_of_scalars_and_edges() {
        let view = HttpApiClaims::new(&from_text(
            r#"{"sub":"u","iss":"i","token_use":"access","exp":1782995989.5,
            "scope":"a/b c","one":["x"],"none":[],"empty":{},"n":-3,"f":false,"custom:n":1.25}"#,
        ));
        assert_gets(
            |name| view.get(name),
            json!({
                "exp": "1782995989.5", "scope": "a/b c", "one": "[x]", "none": "[]",
                "empty": "map[]", "n": "-3", "f": "false", "custom:n": "1.25",
            }),
        );
        assert_eq!(view.as_map().len(), 11);
    }

    #[test]
    fn dates_match_api_gateway() {
        assert_eq!(http_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(http_date(1_782_995_989), "Thu Jul 02 12:39:49 UTC 2026");
        assert_eq!(http_date(951_782_400), "Tue Feb 29 00:00:00 UTC 2000");
    }

    #[test]
    fn flat_strings() {
        let Value::Object(map) = json!({
            "sub": "u", "iss": "i", "token_use": "id", "exp": 1_782_995_989u64, "iat": 0,
            "auth_time": 5, "email_verified": true, "cognito:groups": ["a"],
            "multi": ["a", "b"], "custom:role": "boss", "nothing": null, "obj": {"k": 1}
        }) else {
            unreachable!()
        };
        let claims = Claims::from_payload(map, Arc::from("p")).unwrap();
        let view = ApiGatewayClaims::new(&claims);
        assert_gets(
            |name| view.get(name),
            json!({
                "exp": "Thu Jul 02 12:39:49 UTC 2026", "iat": "Thu Jan 01 00:00:00 UTC 1970",
                "auth_time": "5", "email_verified": "true", "cognito:groups": "a",
                "multi": "a,b", "nothing": null, "obj": r#"{"k":1}"#,
            }),
        );
        assert_eq!(&view["custom:role"], "boss");
    }

    #[test]
    fn every_claim_is_rendered_whatever_its_shape() {
        let text = r#"{"sub":"u","iss":"i","token_use":"id","exp":1782995989.75,"iat":-5,
            "cognito:groups":"admins","scope":["a","b"],"email_verified":"true",
            "custom:n":1.5,"far":1e300}"#;
        let map: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
        let claims = Claims::from_payload(map, Arc::from("p")).unwrap();
        let view = ApiGatewayClaims::new(&claims);
        assert_gets(
            |name| view.get(name),
            json!({
                "exp": "Thu Jul 02 12:39:49 UTC 2026", "iat": "-5", "cognito:groups": "admins",
                "scope": "a,b", "email_verified": "true", "custom:n": "1.5", "far": "1e+300",
            }),
        );
        assert_eq!(view.as_map().len(), 10);
        // An exp far past any calendar still renders, without overflowing.
        let map: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"sub":"u","iss":"i","token_use":"id","exp":1e300}"#).unwrap();
        let claims = Claims::from_payload(map, Arc::from("p")).unwrap();
        let exp = ApiGatewayClaims::new(&claims)
            .get("exp")
            .unwrap()
            .to_owned();
        assert!(exp.contains(" UTC "), "{exp}");
    }
}
