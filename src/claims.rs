//! [`Claims`]: the verified contents of a Cognito token.

use crate::error::AuthError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "alb")]
mod alb;

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

impl fmt::Display for TokenUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
#[derive(Clone)]
pub struct Claims(Arc<Inner>);

struct Inner {
    payload: Map<String, Value>,
    token_use: TokenUse,
    exp: u64,
    nbf: Option<u64>,
    iat: Option<u64>,
    auth_time: Option<u64>,
    scopes: BTreeSet<String>,
    groups: Vec<String>,
    pool_id: Arc<str>,
}

impl Claims {
    /// Reads the typed claims out of a payload. Wrong types are malformed tokens.
    pub(crate) fn from_payload(
        payload: Map<String, Value>,
        pool_id: Arc<str>,
    ) -> Result<Self, AuthError> {
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
        for name in [
            "cognito:username",
            "username",
            "client_id",
            "aud",
            "email",
            "jti",
            "origin_jti",
            "event_id",
        ] {
            if !matches!(payload.get(name), None | Some(Value::String(_))) {
                return Err(AuthError::malformed("a string claim has another type"));
            }
        }
        let exp = numeric_date(&payload, "exp")?
            .ok_or_else(|| AuthError::malformed("token has no exp claim"))?;
        let nbf = numeric_date(&payload, "nbf")?;
        let iat = numeric_date(&payload, "iat")?;
        let auth_time = numeric_date(&payload, "auth_time")?;
        let scopes = match payload.get("scope") {
            None => BTreeSet::new(),
            Some(Value::String(s)) => s
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(_) => return Err(AuthError::malformed("scope claim is not a string")),
        };
        let groups = match payload.get("cognito:groups") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|g| g.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| AuthError::malformed("cognito:groups has a non-string member"))?,
            Some(_) => return Err(AuthError::malformed("cognito:groups is not an array")),
        };
        Ok(Self(Arc::new(Inner {
            payload,
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
    /// Absent in client-credentials tokens. Usernames can be reassigned: key data by
    /// [`sub`](Self::sub).
    pub fn username(&self) -> Option<&str> {
        self.str_claim("cognito:username")
            .or_else(|| self.str_claim("username"))
    }

    /// Whether this is an ID or an access token.
    pub fn token_use(&self) -> TokenUse {
        self.0.token_use
    }

    /// The app client the token was issued to: `aud` in ID tokens, `client_id` in
    /// access tokens.
    pub fn client_id(&self) -> Option<&str> {
        match self.0.token_use {
            TokenUse::Id => self.str_claim("aud"),
            TokenUse::Access => self.str_claim("client_id"),
        }
    }

    /// The access token's OAuth scopes (`scope`, split on spaces). Empty for ID tokens.
    pub fn scopes(&self) -> &BTreeSet<String> {
        &self.0.scopes
    }

    /// Whether the token holds this exact scope (case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.contains(scope)
    }

    /// The user's groups (`cognito:groups`); empty if the user is in none.
    pub fn groups(&self) -> &[String] {
        &self.0.groups
    }

    /// Whether the user is in this group.
    pub fn in_group(&self, group: &str) -> bool {
        self.0.groups.iter().any(|g| g == group)
    }

    /// The `email` attribute (ID tokens, when the app client may read it).
    pub fn email(&self) -> Option<&str> {
        self.str_claim("email")
    }

    /// The `email_verified` attribute.
    pub fn email_verified(&self) -> Option<bool> {
        self.0
            .payload
            .get("email_verified")
            .and_then(Value::as_bool)
    }

    /// `exp`, in seconds since the Unix epoch.
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

    /// `iat` (issued at), in seconds since the Unix epoch.
    pub fn iat(&self) -> Option<u64> {
        self.0.iat
    }

    /// `auth_time`: when the user signed in, in seconds since the Unix epoch.
    pub fn auth_time(&self) -> Option<u64> {
        self.0.auth_time
    }

    /// `jti`: the token's unique id.
    pub fn jti(&self) -> Option<&str> {
        self.str_claim("jti")
    }

    /// `origin_jti`: the id of the sign-in session the token descends from.
    pub fn origin_jti(&self) -> Option<&str> {
        self.str_claim("origin_jti")
    }

    /// `event_id`: the sign-in event.
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

fn numeric_date(payload: &Map<String, Value>, name: &str) -> Result<Option<u64>, AuthError> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
            (Some(v), _) => Ok(Some(v)),
            // A date before 1970 has passed; treat it as the epoch.
            (None, Some(_)) => Ok(Some(0)),
            _ => Err(AuthError::malformed(
                "a date claim is not an integer number of seconds",
            )),
        },
        Some(_) => Err(AuthError::malformed("a date claim is not a number")),
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("sub", &self.sub())
            .field("token_use", &self.0.token_use)
            .field("pool_id", &self.pool_id())
            .field("client_id", &self.client_id())
            .field("scopes", &self.0.scopes)
            .field("groups", &self.0.groups)
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

    #[test]
    fn wrong_types_are_malformed() {
        let base = json!({"sub": "u", "iss": "i", "token_use": "id", "exp": 10});
        assert!(claims(base.clone()).is_ok());
        for (name, value) in [
            ("exp", json!("10")),
            ("exp", json!(10.5)),
            ("exp", json!(1e300)),
            ("sub", json!(1)),
            ("aud", json!(["a"])),
            ("scope", json!(["a"])),
            ("cognito:groups", json!("admins")),
            ("cognito:groups", json!([1])),
            ("token_use", json!("refresh")),
        ] {
            let mut v = base.clone();
            v[name] = value.clone();
            assert!(claims(v).is_err(), "{name} = {value}");
        }
        let mut v = base.clone();
        v.as_object_mut().unwrap().remove("exp");
        assert!(claims(v).is_err());
        let mut v = base;
        v["exp"] = json!(-5);
        assert_eq!(claims(v).unwrap().exp(), 0);
    }
}
