//! [`Claims`]: the verified contents of a Cognito token.

use crate::error::AuthError;
use crate::error::display_as_str;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "alb")]
mod alb;
mod apigw;

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
    payload: Map<String, Value>,
    /// The JSON text of each claim whose value holds an object (see [`Payload`]).
    raw: Box<[(String, Box<str>)]>,
    token_use: TokenUse,
    exp: u64,
    nbf: Option<u64>,
    iat: Option<u64>,
    auth_time: Option<u64>,
    /// `None` when `scope` is present but not a string.
    scopes: Option<BTreeSet<String>>,
    /// `None` when `cognito:groups` is present but not an array of strings.
    groups: Option<Vec<String>>,
    pool_id: Arc<str>,
}

/// What [`Claims::scopes`] returns for a token without usable scopes.
static NO_SCOPES: BTreeSet<String> = BTreeSet::new();

/// A token's payload: its claims, and the JSON text, as the token wrote it, of
/// each claim whose value holds an object (the `identities` of a federated
/// user). A parsed map sorts an object's names (or keeps their order only
/// when some crate turns on serde_json's `preserve_order`); API Gateway's REST
/// claims view shows them in the token's order, so that view reads this text.
/// Claims without an object, which Cognito's are but for `identities`, keep no
/// text and cost no second parse.
pub(crate) struct Payload {
    claims: Map<String, Value>,
    raw: Vec<(String, Box<str>)>,
}

impl Payload {
    /// The claims of `json`, a payload already parsed into `claims`.
    pub(crate) fn new(claims: Map<String, Value>, json: &[u8]) -> Self {
        let mut raw = Vec::new();
        if claims.values().any(holds_object) {
            // Parsed once already, so this parse succeeds; a failure keeps no text.
            if let Ok(all) = serde_json::from_slice::<HashMap<String, Box<RawValue>>>(json) {
                raw = all
                    .into_iter()
                    .filter(|(name, _)| claims.get(name).is_some_and(holds_object))
                    .map(|(name, text)| (name, Box::from(text.get())))
                    .collect();
            }
        }
        Self { claims, raw }
    }
}

impl From<Map<String, Value>> for Payload {
    fn from(claims: Map<String, Value>) -> Self {
        Self {
            claims,
            raw: Vec::new(),
        }
    }
}

impl std::ops::Deref for Payload {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Map<String, Value> {
        &self.claims
    }
}

fn holds_object(value: &Value) -> bool {
    match value {
        Value::Object(_) => true,
        Value::Array(items) => items.iter().any(holds_object),
        _ => false,
    }
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
        let Payload {
            claims: payload,
            raw,
        } = payload.into();
        let token_use = match payload.get("token_use") {
            Some(Value::String(s)) if s == "id" => TokenUse::Id,
            Some(Value::String(s)) if s == "access" => TokenUse::Access,
            Some(_) => {
                return Err(AuthError::new(
                    crate::AuthErrorKind::WrongTokenUse,
                    "token_use is neither \"id\" nor \"access\"",
                ));
            }
            None => return Err(AuthError::malformed("token has no token_use claim")),
        };
        for name in ["sub", "iss"] {
            match payload.get(name) {
                Some(Value::String(s)) if !s.is_empty() => {}
                _ => return Err(AuthError::malformed("token lacks a string sub or iss")),
            }
        }
        let exp = numeric_date(&payload, "exp", Round::Down)?
            .ok_or_else(|| AuthError::malformed("token has no exp claim"))?;
        let nbf = numeric_date(&payload, "nbf", Round::Up)?;
        let iat = numeric_date(&payload, "iat", Round::Down)?;
        let auth_time = numeric_date(&payload, "auth_time", Round::Down)?;
        let scopes = match payload.get("scope") {
            None => Some(BTreeSet::new()),
            Some(Value::String(s)) => Some(
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            Some(_) => None,
        };
        let groups = match payload.get("cognito:groups") {
            None => Some(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|g| g.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>(),
            Some(_) => None,
        };
        Ok(Self(Arc::new(Inner {
            payload,
            raw: raw.into_boxed_slice(),
            token_use,
            exp,
            nbf,
            iat,
            auth_time,
            scopes,
            groups,
            pool_id,
        })))
    }

    fn str_claim(&self, name: &str) -> Option<&str> {
        self.0.payload.get(name).and_then(Value::as_str)
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
        self.str_claim("cognito:username")
            .or_else(|| self.str_claim("username"))
    }

    /// Whether this is an ID or an access token.
    pub fn token_use(&self) -> TokenUse {
        self.0.token_use
    }

    /// The app client the token was issued to: `aud` in ID tokens, `client_id` in
    /// access tokens. `None` when the claim is absent or not a string (which a
    /// verifier with client ids configured refuses).
    pub fn client_id(&self) -> Option<&str> {
        self.str_claim(self.client_claim())
    }

    /// The name of the claim that names the app client for this token use.
    pub(crate) fn client_claim(&self) -> &'static str {
        match self.0.token_use {
            TokenUse::Id => "aud",
            TokenUse::Access => "client_id",
        }
    }

    /// The access token's OAuth scopes (`scope`, split on spaces). Empty for ID
    /// tokens, and when `scope` is not a string: such a token has no scope a
    /// route could require.
    pub fn scopes(&self) -> &BTreeSet<String> {
        self.0.scopes.as_ref().unwrap_or(&NO_SCOPES)
    }

    /// Whether the token holds this exact scope (case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().contains(scope)
    }

    /// Whether `scope` is present but not a string.
    pub(crate) fn scope_is_malformed(&self) -> bool {
        self.0.scopes.is_none()
    }

    /// The user's groups (`cognito:groups`); empty if the user is in none, and
    /// when the claim is not an array of strings (a Pre Token Generation trigger
    /// can put anything there): such a user is in no group a route could
    /// require. [`get`](Self::get) shows the claim as it is.
    pub fn groups(&self) -> &[String] {
        self.0.groups.as_deref().unwrap_or_default()
    }

    /// Whether the user is in this group.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups().iter().any(|g| g == group)
    }

    /// Whether `cognito:groups` is present but not an array of strings.
    pub(crate) fn groups_are_malformed(&self) -> bool {
        self.0.groups.is_none()
    }

    /// The `email` attribute (ID tokens, when the app client may read it), if it
    /// is a string.
    pub fn email(&self) -> Option<&str> {
        self.str_claim("email")
    }

    /// The `email_verified` attribute, if it is a JSON boolean.
    pub fn email_verified(&self) -> Option<bool> {
        self.0
            .payload
            .get("email_verified")
            .and_then(Value::as_bool)
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
        self.0.payload.get(name)
    }

    /// A claim by name, if it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.str_claim(name)
    }

    /// The whole payload.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0.payload
    }

    /// The JSON text of a claim whose value holds an object, as the token
    /// wrote it.
    pub(crate) fn raw_json(&self, name: &str) -> Option<&str> {
        self.0
            .raw
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, text)| &**text)
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
        T::deserialize(MapRef(&self.0.payload)).map_err(|e| ClaimsError(e.to_string()))
    }
}

/// Borrows the payload as a serde deserializer without cloning it.
struct MapRef<'a>(&'a Map<String, Value>);

impl<'de> serde::Deserializer<'de> for MapRef<'de> {
    type Error = serde_json::Error;
    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        use serde::de::value::MapDeserializer;
        let mut map = MapDeserializer::new(self.0.iter().map(|(k, v)| (k.as_str(), v)));
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
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
fn numeric_date(
    payload: &Map<String, Value>,
    name: &str,
    round: Round,
) -> Result<Option<u64>, AuthError> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(Some(numeric_secs(n, round))),
        Some(_) => Err(AuthError::malformed("a date claim is not a number")),
    }
}

/// A JSON number of seconds as whole seconds: exact for integers, rounded for
/// fractions, negative numbers as 0, numbers past `u64::MAX` as `u64::MAX`
/// (serde_json reads every JSON number it accepts as a finite `u64`, `i64` or
/// `f64`; `as` saturates).
pub(crate) fn numeric_secs(n: &serde_json::Number, round: Round) -> u64 {
    if let Some(v) = n.as_u64() {
        return v;
    }
    if n.is_i64() {
        return 0;
    }
    let v = n.as_f64().unwrap_or(0.0);
    let v = match round {
        Round::Down => v.floor(),
        Round::Up => v.ceil(),
    };
    v as u64
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
