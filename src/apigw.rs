//! API Gateway's view of the claims (`$context.authorizer.claims`).

use crate::claims::{Claims, Round, numeric_secs};
use serde_json::Value;
use std::collections::BTreeMap;

/// The claims as API Gateway hands them to a Lambda or HTTP backend
/// (`event.requestContext.authorizer.claims`): a flat map of strings.
///
/// Strings stay as they are; numbers and booleans become their text; `exp` and
/// `iat` become dates such as `Thu Jul 02 12:39:49 UTC 2026`; a one-element
/// array becomes its element, a longer one its elements joined by commas; an
/// object becomes its JSON text. For code ported from Lambda:
/// `claims["custom:role"]` reads the same here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiGatewayClaims(BTreeMap<String, String>);

impl ApiGatewayClaims {
    /// Renders the claims.
    pub fn new(claims: &Claims) -> Self {
        let map = claims
            .as_map()
            .iter()
            .filter_map(|(name, value)| {
                let text = match (name.as_str(), value) {
                    // A NumericDate, fractions included, as the date of its whole
                    // second; one before 1970 stays a number.
                    ("exp" | "iat", Value::Number(n)) if n.as_f64().is_some_and(|v| v >= 0.0) => {
                        http_date(numeric_secs(n, Round::Down))
                    }
                    _ => render(value)?,
                };
                Some((name.clone(), text))
            })
            .collect();
        Self(map)
    }

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

impl std::ops::Index<&str> for ApiGatewayClaims {
    type Output = str;
    fn index(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }
}

fn render(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items
            .iter()
            .filter_map(render)
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => value.to_string(),
    })
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
    use serde_json::json;
    use std::sync::Arc;

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
        assert_eq!(view.get("exp"), Some("Thu Jul 02 12:39:49 UTC 2026"));
        assert_eq!(view.get("iat"), Some("Thu Jan 01 00:00:00 UTC 1970"));
        assert_eq!(view.get("auth_time"), Some("5"));
        assert_eq!(view.get("email_verified"), Some("true"));
        assert_eq!(view.get("cognito:groups"), Some("a"));
        assert_eq!(view.get("multi"), Some("a,b"));
        assert_eq!(&view["custom:role"], "boss");
        assert_eq!(view.get("nothing"), None);
        assert_eq!(view.get("obj"), Some(r#"{"k":1}"#));
    }

    #[test]
    fn every_claim_is_rendered_whatever_its_shape() {
        let text = r#"{"sub":"u","iss":"i","token_use":"id","exp":1782995989.75,"iat":-5,
            "cognito:groups":"admins","scope":["a","b"],"email_verified":"true",
            "custom:n":1.5,"far":1e300}"#;
        let map = serde_json::from_str(text).unwrap();
        let claims = Claims::from_payload(map, Arc::from("p")).unwrap();
        let view = ApiGatewayClaims::new(&claims);
        assert_eq!(view.get("exp"), Some("Thu Jul 02 12:39:49 UTC 2026"));
        assert_eq!(view.get("iat"), Some("-5"));
        assert_eq!(view.get("cognito:groups"), Some("admins"));
        assert_eq!(view.get("scope"), Some("a,b"));
        assert_eq!(view.get("email_verified"), Some("true"));
        assert_eq!(view.get("custom:n"), Some("1.5"));
        assert_eq!(view.get("far"), Some("1e+300"));
        assert_eq!(view.as_map().len(), 10);
        // An exp far past any calendar still renders, without overflowing.
        let map =
            serde_json::from_str(r#"{"sub":"u","iss":"i","token_use":"id","exp":1e300}"#).unwrap();
        let claims = Claims::from_payload(map, Arc::from("p")).unwrap();
        let exp = ApiGatewayClaims::new(&claims)
            .get("exp")
            .unwrap()
            .to_owned();
        assert!(exp.contains(" UTC "), "{exp}");
    }
}
