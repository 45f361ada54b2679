//! [`Claims`]: the verified contents of a Cognito token.

use crate::error::AuthError;
use crate::error::display_as_str;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "alb")]
mod alb;
mod apigw;
mod read;

pub(crate) use read::{Name, Names, Payload, duplicate_name, numeric_secs};
use read::{Shape, claim};

pub use apigw::{ApiGatewayClaims, HttpApiClaims};

/// 9999-12-31T23:59:59Z, in seconds since the Unix epoch.
const MAX_DATE: u64 = 253_402_300_799;

/// Which kind of Cognito token: the `token_use` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenUse {
    /// An ID token (`token_use: "id"`): who the user is, with their attributes.
    Id,
    /// An access token (`token_use: "access"`): what the caller may do, with scopes.
    Access,
}

impl TokenUse {
    /// The claim's value: `"id"` or `"access"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Access => "access",
        }
    }
}

display_as_str!(TokenUse);

/// The verified claims of a Cognito ID or access token.
///
/// The layer inserts one into each authorized request's extensions; with the
/// `axum` feature it is also an extractor. Cloning is cheap (one reference count).
///
/// The common claims have typed accessors; every claim, including user attributes
/// such as `custom:role`, is reachable with [`get`](Self::get), and the whole
/// payload can be deserialized into a type of your own with
/// [`deserialize`](Self::deserialize).
///
/// Identify users by [`sub`](Self::sub): it is stable, while a username can be
/// reassigned.
///
/// # Which claims a token must get right
///
/// Only the claims that the verification itself reads are strict: a token whose
/// `iss`, `token_use`, `sub` (a non-empty string: the caller's identity), `exp`
/// (required), `nbf`, `iat` or `auth_time` has the wrong type is refused as
/// malformed, and so is one whose `aud` (ID token) or `client_id` (access token)
/// is not a string when the verifier checks [client
/// ids](crate::VerifierBuilder::client_id). The dates are reserved claims that
/// Cognito sets and no trigger can change, and RFC 7519 requires them to be
/// numbers (AWS's reference verifier refuses a non-number `iat` too).
///
/// Every other claim may have any shape without failing verification: a
/// `cognito:groups` that is not an array of strings, a non-string `scope`,
/// `email_verified` or username, or whatever a Pre Token Generation trigger put
/// in a claim. Its typed accessor then reads nothing (`None`, or no groups and no
/// scopes), so it fails only a [`Requirement`](crate::Requirement) that reads it,
/// and [`get`](Self::get) still shows it as it is.
///
/// # Dates
///
/// `exp`, `nbf`, `iat` and `auth_time` are NumericDates (RFC 7519): any JSON
/// number, fractions included, as AWS's reference verifier reads them. The
/// accessors give whole seconds, rounded toward the stricter reading: `exp`
/// down (a token with `exp: 1700000000.5` is refused from second 1700000000 on,
/// at most a second early), `nbf` up; `iat` and `auth_time` down. A date before
/// 1970 reads as 0 (an `exp` there has passed), and one past the year
/// 584,942,417,355 as `u64::MAX` (an `exp` there never comes, but the token cache
/// still forgets the token within a day).
#[derive(Clone)]
pub struct Claims(Arc<Inner>);

struct Inner {
    /// The payload's text, and the claims the crate reads picked out of it.
    payload: Payload,
    /// The whole payload, built from its text when first asked for.
    map: OnceLock<Map<String, Value>>,
    /// The scopes as a set, built when first asked for.
    scope_set: OnceLock<BTreeSet<String>>,
    /// The groups as strings, built when first asked for.
    group_list: OnceLock<Vec<String>>,
    token_use: TokenUse,
    exp: u64,
    nbf: Option<u64>,
    iat: Option<u64>,
    auth_time: Option<u64>,
    pool_id: Arc<str>,
}

/// What [`Claims::scopes`] returns for a token without usable scopes.
static NO_SCOPES: BTreeSet<String> = BTreeSet::new();

#[cfg(test)]
impl From<Map<String, Value>> for Payload {
    /// The payload a token with these claims would have.
    fn from(claims: Map<String, Value>) -> Self {
        let text = serde_json::to_string(&claims).expect("a map serializes");
        Payload::read(text.into_bytes()).expect("a map's text reads")
    }
}

fn holds_object(value: &Value) -> bool {
    match value {
        Value::Object(_) => true,
        Value::Array(items) => items.iter().any(holds_object),
        _ => false,
    }
}

/// The application client claim's value, as the verifier checks it.
pub(crate) enum AppClient<'a> {
    Absent,
    Is(&'a str),
    NotAString,
}

impl Claims {
    /// Reads the typed claims out of a payload. Only the claims that the
    /// verification reads are checked (see the type's docs): a wrong type there
    /// is a malformed token; elsewhere it is an accessor that reads nothing. The
    /// app client claims are the verifier's to check, since only it knows
    /// whether client ids are configured.
    pub(crate) fn from_payload(
        payload: impl Into<Payload>,
        pool_id: Arc<str>,
    ) -> Result<Self, AuthError> {
        let payload = payload.into();
        let fields = &payload.fields;
        let token_use = match (&fields[claim::TOKEN_USE], payload.str(claim::TOKEN_USE)) {
            (_, Some("id")) => TokenUse::Id,
            (_, Some("access")) => TokenUse::Access,
            (Some(_), _) => {
                return Err(AuthError::new(
                    crate::AuthErrorKind::WrongTokenUse,
                    "token_use is neither \"id\" nor \"access\"",
                ));
            }
            (None, _) => return Err(AuthError::malformed("token has no token_use claim")),
        };
        for i in [claim::SUB, claim::ISS] {
            if payload.str(i).is_none_or(str::is_empty) {
                return Err(AuthError::malformed("token lacks a string sub or iss"));
            }
        }
        let exp = numeric_date(&fields[claim::EXP], Round::Down)?
            .ok_or_else(|| AuthError::malformed("token has no exp claim"))?;
        let nbf = numeric_date(&fields[claim::NBF], Round::Up)?;
        let iat = numeric_date(&fields[claim::IAT], Round::Down)?;
        let auth_time = numeric_date(&fields[claim::AUTH_TIME], Round::Down)?;
        Ok(Self::with(
            payload,
            token_use,
            exp,
            [nbf, iat, auth_time],
            pool_id,
        ))
    }

    fn with(
        payload: Payload,
        token_use: TokenUse,
        exp: u64,
        [nbf, iat, auth_time]: [Option<u64>; 3],
        pool_id: Arc<str>,
    ) -> Self {
        Self(Arc::new(Inner {
            payload,
            map: OnceLock::new(),
            scope_set: OnceLock::new(),
            group_list: OnceLock::new(),
            token_use,
            exp,
            nbf,
            iat,
            auth_time,
            pool_id,
        }))
    }

    /// The claim at `i` (of [`claim`]), when it is a string.
    fn field_str(&self, i: usize) -> Option<&str> {
        self.0.payload.str(i)
    }

    fn str_claim(&self, name: &str) -> Option<&str> {
        match read::known(name) {
            Some(i) => self.field_str(i),
            None => self.as_map().get(name).and_then(Value::as_str),
        }
    }

    /// The user's stable, unique id (`sub`). For a client-credentials access
    /// token this is the app client id.
    pub fn sub(&self) -> &str {
        self.str_claim("sub").unwrap_or_default()
    }

    /// The username: `cognito:username` in ID tokens, `username` in access tokens.
    /// Absent in client-credentials tokens (and `None` if it is not a string).
    /// Usernames can be reassigned: key data by [`sub`](Self::sub).
    pub fn username(&self) -> Option<&str> {
        self.field_str(claim::COGNITO_USERNAME)
            .or_else(|| self.field_str(claim::USERNAME))
    }

    /// Whether this is an ID or an access token.
    pub fn token_use(&self) -> TokenUse {
        self.0.token_use
    }

    /// The app client the token was issued to: `aud` in ID tokens, `client_id` in
    /// access tokens. `None` when the claim is absent or not a string (which a
    /// verifier with client ids configured refuses).
    pub fn client_id(&self) -> Option<&str> {
        self.field_str(self.client_field())
    }

    /// The app client claim for this token use, as the verifier checks it.
    pub(crate) fn app_client(&self) -> AppClient<'_> {
        match self.0.payload.fields[self.client_field()] {
            None => AppClient::Absent,
            Some(Shape::Str(s)) => AppClient::Is(s.get(&self.0.payload.text)),
            Some(_) => AppClient::NotAString,
        }
    }

    fn client_field(&self) -> usize {
        match self.0.token_use {
            TokenUse::Id => claim::AUD,
            TokenUse::Access => claim::CLIENT_ID,
        }
    }

    /// The access token's OAuth scopes (`scope`, split on spaces). Empty for ID
    /// tokens, and when `scope` is not a string: such a token has no scope a
    /// route could require.
    pub fn scopes(&self) -> &BTreeSet<String> {
        match self.scope_text() {
            Some(text) => self.0.scope_set.get_or_init(|| {
                text.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            None => &NO_SCOPES,
        }
    }

    /// `scope`, when it is a string.
    fn scope_text(&self) -> Option<&str> {
        self.field_str(claim::SCOPE)
    }

    /// Whether the token holds this exact scope (case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        !scope.is_empty()
            && self
                .scope_text()
                .is_some_and(|text| text.split(' ').any(|s| s == scope))
    }

    /// Whether `scope` is present but not a string.
    pub(crate) fn scope_is_malformed(&self) -> bool {
        matches!(&self.0.payload.fields[claim::SCOPE], Some(shape) if !matches!(shape, Shape::Str(_)))
    }

    /// The user's groups (`cognito:groups`); empty if the user is in none, and
    /// when the claim is not an array of strings (a Pre Token Generation trigger
    /// can put anything there): such a user is in no group a route could
    /// require. [`get`](Self::get) shows the claim as it is.
    pub fn groups(&self) -> &[String] {
        match self.group_strs() {
            Some(groups) => self.0.group_list.get_or_init(|| {
                groups
                    .iter()
                    .map(|g| g.get(&self.0.payload.text).to_owned())
                    .collect()
            }),
            None => &[],
        }
    }

    /// `cognito:groups`, when it is an array of strings.
    fn group_strs(&self) -> Option<&[read::Str]> {
        match self.0.payload.fields[claim::GROUPS] {
            Some(Shape::Strs(first, count)) => self.0.payload.strs(first, count),
            _ => None,
        }
    }

    /// Whether the user is in this group.
    pub fn in_group(&self, group: &str) -> bool {
        self.group_strs()
            .is_some_and(|groups| groups.iter().any(|g| g.get(&self.0.payload.text) == group))
    }

    /// Whether `cognito:groups` is present but not an array of strings.
    pub(crate) fn groups_are_malformed(&self) -> bool {
        matches!(&self.0.payload.fields[claim::GROUPS], Some(shape) if !matches!(shape, Shape::Strs(..)))
    }

    /// The `email` attribute (ID tokens, when the app client may read it), if it
    /// is a string.
    pub fn email(&self) -> Option<&str> {
        self.str_claim("email")
    }

    /// The `email_verified` attribute, if it is a JSON boolean.
    pub fn email_verified(&self) -> Option<bool> {
        match self.0.payload.fields[claim::EMAIL_VERIFIED] {
            Some(Shape::Bool(b)) => Some(b),
            _ => None,
        }
    }

    /// `exp`, in whole seconds since the Unix epoch (a fraction is dropped: see
    /// [Dates](Self#dates)).
    pub fn exp(&self) -> u64 {
        self.0.exp
    }

    /// `exp` as a time.
    pub fn expires_at(&self) -> SystemTime {
        // Clamped to the end of year 9999, which every platform's SystemTime holds.
        UNIX_EPOCH + Duration::from_secs(self.0.exp.min(MAX_DATE))
    }

    pub(crate) fn nbf(&self) -> Option<u64> {
        self.0.nbf
    }

    /// `iat` (issued at), in whole seconds since the Unix epoch.
    pub fn iat(&self) -> Option<u64> {
        self.0.iat
    }

    /// `auth_time`: when the user signed in, in whole seconds since the Unix epoch.
    pub fn auth_time(&self) -> Option<u64> {
        self.0.auth_time
    }

    /// `jti`: the token's unique id, if it is a string.
    pub fn jti(&self) -> Option<&str> {
        self.str_claim("jti")
    }

    /// `origin_jti`: the id of the sign-in session the token descends from, if it
    /// is a string.
    pub fn origin_jti(&self) -> Option<&str> {
        self.str_claim("origin_jti")
    }

    /// `event_id`: the sign-in event, if it is a string.
    pub fn event_id(&self) -> Option<&str> {
        self.str_claim("event_id")
    }

    /// `iss`: the issuer, exactly as in the token.
    pub fn issuer(&self) -> &str {
        self.str_claim("iss").unwrap_or_default()
    }

    /// The id of the configured user pool that issued the token.
    pub fn pool_id(&self) -> &str {
        &self.0.pool_id
    }

    /// Any claim by name, such as `custom:role` or `phone_number`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_map().get(name)
    }

    /// A claim by name, if it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.str_claim(name)
    }

    /// The whole payload.
    ///
    /// Built from the token's text on first use, then kept.
    pub fn as_map(&self) -> &Map<String, Value> {
        self.0.map.get_or_init(|| {
            // The text was read once, with the same parser and rules, so this
            // parse succeeds.
            let map = serde_json::from_str(self.0.payload.json());
            debug_assert!(map.is_ok(), "a payload read once reads again");
            map.unwrap_or_default()
        })
    }

    /// The JSON text of a claim whose value holds an object, as the token
    /// wrote it.
    pub(crate) fn raw_json(&self, name: &str) -> Option<&str> {
        if !self.get(name).is_some_and(holds_object) {
            return None;
        }
        let members: HashMap<String, &RawValue> =
            serde_json::from_str(self.0.payload.json()).ok()?;
        members.get(name).map(|raw| raw.get())
    }

    /// Deserializes the payload into a type of your own.
    ///
    /// ```
    /// # fn f(claims: &tower_cognito::Claims) -> Result<(), tower_cognito::ClaimsError> {
    /// #[derive(serde::Deserialize)]
    /// struct Mine {
    ///     sub: String,
    ///     #[serde(rename = "custom:tenant")]
    ///     tenant: Option<String>,
    /// }
    /// let mine: Mine = claims.deserialize()?;
    /// # Ok(()) }
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ClaimsError> {
        serde_json::from_str(self.0.payload.json()).map_err(|e| ClaimsError(e.to_string()))
    }
}

/// The payload could not be deserialized into the requested type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("claims do not fit the requested type: {0}")]
pub struct ClaimsError(String);

/// Which way a fractional NumericDate is rounded to whole seconds.
#[derive(Clone, Copy)]
pub(crate) enum Round {
    Down,
    Up,
}

/// A NumericDate claim (RFC 7519 section 2: any JSON number of seconds since
/// the epoch, fractions included) in whole seconds, rounded as asked and
/// clamped to `0..=u64::MAX`, so that no value, however absurd, can overflow a
/// comparison. `Ok(None)` when absent; a malformed token when not a number.
fn numeric_date(shape: &Option<Shape>, round: Round) -> Result<Option<u64>, AuthError> {
    match shape {
        None => Ok(None),
        Some(shape) => shape
            .secs(round)
            .map(Some)
            .ok_or_else(|| AuthError::malformed("a date claim is not a number")),
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("sub", &self.sub())
            .field("token_use", &self.0.token_use)
            .field("pool_id", &self.pool_id())
            .field("client_id", &self.client_id())
            .field("scopes", self.scopes())
            .field("groups", &self.groups())
            .field("exp", &self.0.exp)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Result<Claims, AuthError> {
        let Value::Object(map) = v else {
            unreachable!()
        };
        Claims::from_payload(map, Arc::from("us-east-1_x"))
    }

    #[test]
    fn typed_access_to_an_access_token() {
        let c = claims(json!({
            "sub": "u-1", "iss": "i", "token_use": "access", "client_id": "c1",
            "scope": "notes/read  notes/write", "exp": 10, "iat": 5, "auth_time": 4,
            "username": "alice", "cognito:groups": ["admins"], "jti": "j", "custom:role": "boss"
        }))
        .unwrap();
        assert_eq!(c.sub(), "u-1");
        assert_eq!(c.token_use(), TokenUse::Access);
        assert_eq!(c.client_id(), Some("c1"));
        assert!(c.has_scope("notes/read") && c.has_scope("notes/write") && !c.has_scope("notes"));
        assert_eq!(c.scopes().len(), 2);
        assert_eq!(c.username(), Some("alice"));
        assert!(c.in_group("admins"));
        assert_eq!((c.exp(), c.iat(), c.auth_time()), (10, Some(5), Some(4)));
        assert_eq!(c.get_str("custom:role"), Some("boss"));
        assert_eq!(c.pool_id(), "us-east-1_x");
        #[derive(serde::Deserialize)]
        struct Mine {
            sub: String,
            #[serde(rename = "custom:role")]
            role: String,
        }
        let m: Mine = c.deserialize().unwrap();
        assert_eq!((m.sub.as_str(), m.role.as_str()), ("u-1", "boss"));
        assert!(c.deserialize::<Vec<u8>>().is_err());
    }

    fn base() -> Value {
        json!({"sub": "u", "iss": "i", "token_use": "id", "exp": 10})
    }

    fn with(name: &str, value: Value) -> Value {
        let mut v = base();
        v[name] = value;
        v
    }

    #[test]
    fn the_claims_the_verification_reads_must_have_their_types() {
        assert!(claims(base()).is_ok());
        for (name, value) in [
            ("exp", json!("10")),
            ("exp", json!(null)),
            ("exp", json!(true)),
            ("exp", json!([10])),
            ("nbf", json!("5")),
            ("iat", json!("now")),
            ("iat", json!(null)),
            ("auth_time", json!(false)),
            ("auth_time", json!({})),
            ("sub", json!(1)),
            ("sub", json!("")),
            ("iss", json!(["i"])),
            ("token_use", json!("refresh")),
            ("token_use", json!(["id"])),
        ] {
            assert!(
                claims(with(name, value.clone())).is_err(),
                "{name} = {value}"
            );
        }
        for name in ["exp", "sub", "iss", "token_use"] {
            let mut v = base();
            v.as_object_mut().unwrap().remove(name);
            assert!(claims(v).is_err(), "no {name}");
        }
    }

    #[test]
    fn other_claims_of_another_shape_read_as_nothing() {
        for (name, value) in [
            ("cognito:groups", json!("admins")),
            ("cognito:groups", json!(["admins", 1])),
            ("cognito:groups", json!({"admins": true})),
            ("scope", json!(["notes/read"])),
            ("scope", json!(7)),
            ("cognito:username", json!(5)),
            ("username", json!(["alice"])),
            ("email", json!(true)),
            ("email_verified", json!("true")),
            ("jti", json!(1)),
            ("origin_jti", json!(null)),
            ("event_id", json!({})),
            ("aud", json!(["client-1"])),
            ("client_id", json!(2)),
            ("custom:role", json!({"nested": [1, 2]})),
        ] {
            let c = claims(with(name, value.clone())).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(c.get(name), Some(&value), "{name} is kept as it is");
        }
        let c = claims(with("cognito:groups", json!("admins"))).unwrap();
        assert!(c.groups().is_empty() && !c.in_group("admins"));
        assert!(c.groups_are_malformed());
        let c = claims(with("cognito:groups", json!(["admins", 1]))).unwrap();
        assert!(c.groups().is_empty() && !c.in_group("admins"));
        let c = claims(with("scope", json!(["notes/read"]))).unwrap();
        assert!(c.scopes().is_empty() && !c.has_scope("notes/read"));
        assert!(c.scope_is_malformed());
        assert_eq!(
            claims(with("cognito:username", json!(5)))
                .unwrap()
                .username(),
            None
        );
        assert_eq!(claims(with("email", json!(true))).unwrap().email(), None);
        let c = claims(with("email_verified", json!("true"))).unwrap();
        assert_eq!(c.email_verified(), None);
        assert_eq!(claims(with("jti", json!(1))).unwrap().jti(), None);
        assert_eq!(
            claims(with("aud", json!(["client-1"])))
                .unwrap()
                .client_id(),
            None
        );
        // The well-formed ones read as before.
        let c = claims(with("cognito:groups", json!(["admins"]))).unwrap();
        assert!(c.in_group("admins") && !c.groups_are_malformed());
        let c = claims(base()).unwrap();
        assert!(c.groups().is_empty() && !c.groups_are_malformed() && !c.scope_is_malformed());
    }

    #[test]
    fn dates_are_any_json_number_rounded_to_the_stricter_second() {
        let read = |name: &str, raw: &str| {
            let text =
                format!(r#"{{"sub":"u","iss":"i","token_use":"id","exp":10,"{name}":{raw}}}"#);
            let map: Map<String, Value> = serde_json::from_str(&text).unwrap();
            Claims::from_payload(map, Arc::from("p")).unwrap()
        };
        assert_eq!(read("exp", "1700000000.5").exp(), 1_700_000_000);
        assert_eq!(read("exp", "1700000000.999").exp(), 1_700_000_000);
        assert_eq!(read("exp", "4102444800.0").exp(), 4_102_444_800);
        assert_eq!(read("exp", "4.1e9").exp(), 4_100_000_000);
        assert_eq!(read("nbf", "1.5").nbf(), Some(2));
        assert_eq!(read("nbf", "7").nbf(), Some(7));
        assert_eq!(read("iat", "5.9").iat(), Some(5));
        assert_eq!(read("auth_time", "4.2").auth_time(), Some(4));
        // Before 1970: 0. Past u64::MAX: u64::MAX. Nothing panics.
        assert_eq!(read("exp", "-5").exp(), 0);
        assert_eq!(read("exp", "-0.5").exp(), 0);
        assert_eq!(read("exp", "-1e300").exp(), 0);
        assert_eq!(read("exp", "-9223372036854775808").exp(), 0);
        assert_eq!(read("exp", "1e300").exp(), u64::MAX);
        assert_eq!(read("exp", "18446744073709551616").exp(), u64::MAX);
        assert_eq!(
            read("exp", "123456789012345678901234567890").exp(),
            u64::MAX
        );
        assert_eq!(read("nbf", "1e300").nbf(), Some(u64::MAX));
        assert_eq!(read("exp", "18446744073709551615").exp(), u64::MAX);
        assert!(read("exp", "1e300").expires_at() > SystemTime::now());
    }
}
