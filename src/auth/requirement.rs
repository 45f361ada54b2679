//! [`Requirement`]: what one route asks of a verified token.

use crate::error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};
use crate::verifier::claims::{Claims, TokenUse};
use regex_lite::Regex;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Which token use a route accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenUseRule {
    /// API Gateway's rule: an access token when the route has scopes, an ID
    /// token when it has none.
    #[default]
    Automatic,
    /// ID tokens only.
    Id,
    /// Access tokens only.
    Access,
    /// Either kind.
    Either,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScopeMatch {
    Any,
    All,
}

type Check = Arc<dyn Fn(&Claims) -> bool + Send + Sync>;

/// API Gateway's "token validation" expression, matched against the whole `aud`.
#[derive(Clone)]
struct AudPattern {
    /// The expression as given.
    pattern: String,
    /// The expression anchored at both ends, or why it does not compile.
    regex: Result<Arc<Regex>, String>,
}

impl AudPattern {
    fn new(pattern: String) -> Self {
        // The expression alone must compile: `a)(b` is invalid even though the
        // anchored `\A(?:a)(b)\z` would compile.
        let regex = Regex::new(&pattern)
            .and_then(|_| Regex::new(&format!(r"\A(?:{pattern})\z")))
            .map(Arc::new)
            .map_err(|e| e.to_string());
        Self { pattern, regex }
    }

    fn matches(&self, aud: &str) -> bool {
        self.regex.as_ref().is_ok_and(|re| re.is_match(aud))
    }
}

/// What a route requires of a token that the [`Verifier`](crate::Verifier) has
/// already found valid. Every condition set must hold.
///
/// The default is API Gateway's for a method without OAuth scopes: an ID token.
/// With scopes, an access token holding any one of them, as API Gateway does.
///
/// ```
/// use tower_cognito::{Requirement, TokenUseRule};
///
/// // API Gateway: a method with no scopes takes ID tokens.
/// let profile = Requirement::new();
/// // API Gateway: an access token with notes/read or notes/admin.
/// let read = Requirement::any_scope(["notes/read", "notes/admin"]);
/// // More than API Gateway: scope A or B, and membership of `admins`.
/// let admin = Requirement::any_scope(["a", "b"]).any_group(["admins"]);
/// // Any valid token of the pool, ID or access.
/// let any = Requirement::new().token_use(TokenUseRule::Either);
/// // API Gateway's "token validation": an ID token whose whole `aud` matches.
/// let web = Requirement::new().aud_matches("web-[a-z0-9]+");
/// // Only tokens of these pools (when the verifier trusts several).
/// let staff = Requirement::new().pool_ids(["us-east-1_StaffPool1"]);
/// // A check of your own.
/// let tenant = Requirement::new().check(|c| c.get_str("custom:tenant") == Some("acme"));
/// # for r in [profile, read, admin, any, web, staff, tenant] { r.validate().unwrap(); }
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Requirement {
    token_use: TokenUseRule,
    scopes: Vec<String>,
    scope_match: Option<ScopeMatch>,
    groups: Vec<String>,
    clients: Vec<String>,
    aud: Option<AudPattern>,
    pools: Vec<String>,
    checks: Vec<Check>,
    /// HTTP API's audience rule: `aud`, else `client_id`, is one of these.
    audiences: Option<Arc<[String]>>,
    /// HTTP API's `iat` rule: present and not after now plus this leeway (s).
    issued_at: Option<u64>,
    /// HTTP API's scopes: from `scp` as well as `scope`.
    scp: bool,
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requirement")
            .field("token_use", &self.effective_token_use())
            .field("scopes", &self.scopes)
            .field("scope_match", &self.scope_match)
            .field("groups", &self.groups)
            .field("clients", &self.clients)
            .field("aud_matches", &self.aud.as_ref().map(|a| &a.pattern))
            .field("pool_ids", &self.pools)
            .field("checks", &format_args!("<{} fn>", self.checks.len()))
            .field("audiences", &self.audiences)
            .field("iat_leeway_secs", &self.issued_at)
            .field("scp", &self.scp)
            .finish()
    }
}

fn owned<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl Requirement {
    /// An ID token, nothing else (API Gateway's method without scopes).
    pub fn new() -> Self {
        Self::default()
    }

    /// An access token holding at least one of these scopes (API Gateway's method
    /// with OAuth scopes). Scopes compare exactly and case-sensitively.
    pub fn any_scope<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self {
            scopes: owned(scopes),
            scope_match: Some(ScopeMatch::Any),
            ..Self::default()
        }
    }

    /// An access token holding every one of these scopes.
    pub fn all_scopes<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self {
            scopes: owned(scopes),
            scope_match: Some(ScopeMatch::All),
            ..Self::default()
        }
    }

    /// Overrides which token use is accepted.
    pub fn token_use(mut self, rule: TokenUseRule) -> Self {
        self.token_use = rule;
        self
    }

    /// The user must be in at least one of these groups (`cognito:groups`).
    pub fn any_group<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups.extend(owned(groups));
        self
    }

    /// The token must have been issued to one of these app clients (in addition to
    /// the verifier's own client list, if it has one).
    pub fn client_ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, clients: I) -> Self {
        self.clients.extend(owned(clients));
        self
    }

    /// API Gateway's "token validation" expression: the token's `aud` must match
    /// this regular expression, as a whole (the expression is anchored at both
    /// ends, as API Gateway's full match does: `abc` does not match `xabcx`).
    ///
    /// Only ID tokens have an `aud`, so an access token always fails this, as it
    /// does at API Gateway; a requirement that takes only access tokens and has
    /// an expression is a [`ConfigError`] from [`validate`](Self::validate). So is
    /// an expression that does not compile. The syntax is that of
    /// [`regex_lite`](https://docs.rs/regex-lite) (Perl-like, without Unicode
    /// classes; matching takes linear time). Calling this again replaces the
    /// expression.
    pub fn aud_matches(mut self, pattern: impl Into<String>) -> Self {
        self.aud = Some(AudPattern::new(pattern.into()));
        self
    }

    /// The token must come from one of these user pools (ids as in
    /// [`Claims::pool_id`]), for a verifier that trusts several pools when a
    /// route should take only some of them. Calling this again adds pools.
    pub fn pool_ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, pools: I) -> Self {
        self.pools.extend(owned(pools));
        self
    }

    /// A check of your own over the claims; the request is refused (403 in RFC 6750
    /// mode) when it returns `false`.
    pub fn check(mut self, check: impl Fn(&Claims) -> bool + Send + Sync + 'static) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    /// The rules API Gateway's HTTP API JWT authorizer adds to a route's own
    /// (see [`Profile::HttpApi`](crate::Profile::HttpApi)): any token use
    /// (unless one was chosen), `aud` (else `client_id`) one of `audiences`,
    /// `iat` present and not after now plus `leeway` seconds, and scopes read
    /// from `scp` as well as `scope`.
    pub(crate) fn http_api(mut self, audiences: Arc<[String]>, leeway: u64) -> Self {
        if self.token_use == TokenUseRule::Automatic {
            self.token_use = TokenUseRule::Either;
        }
        self.audiences = Some(audiences);
        self.issued_at = Some(leeway);
        self.scp = true;
        self
    }

    /// The token use this requirement accepts, with [`TokenUseRule::Automatic`]
    /// resolved.
    pub fn effective_token_use(&self) -> TokenUseRule {
        match self.token_use {
            TokenUseRule::Automatic if self.scope_match.is_some() => TokenUseRule::Access,
            TokenUseRule::Automatic => TokenUseRule::Id,
            other => other,
        }
    }

    /// The scopes the route names (for `WWW-Authenticate: … scope="…"`).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The token validation expression, if any, as given to
    /// [`aud_matches`](Self::aud_matches).
    pub fn aud_pattern(&self) -> Option<&str> {
        self.aud.as_ref().map(|a| a.pattern.as_str())
    }

    /// Reports a requirement no token could meet, or an expression that does not
    /// compile.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.scope_match.is_some() && self.scopes.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidRequirement,
                "a scope requirement lists no scopes; use Requirement::new() for a route without scopes",
            ));
        }
        if let Some(bad) = self.scopes.iter().find(|s| {
            s.is_empty() || s.contains([' ', '"', '\\']) || s.chars().any(char::is_control)
        }) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidRequirement,
                format!(
                    "scope {bad:?} is empty or contains a space, quote, backslash or control character"
                ),
            ));
        }
        if self.scope_match.is_some() && self.effective_token_use() == TokenUseRule::Id {
            return Err(ConfigError::new(
                ConfigErrorKind::ContradictoryRequirement,
                "a route cannot require scopes of ID tokens: ID tokens carry no scopes",
            ));
        }
        if self
            .groups
            .iter()
            .chain(&self.clients)
            .any(String::is_empty)
        {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidRequirement,
                "an empty group name or client id is required",
            ));
        }
        if self.pools.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidRequirement,
                "an empty user pool id is required",
            ));
        }
        match self.audiences.as_deref() {
            Some([]) => {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidAudience,
                    "an HTTP API authorizer lists no audience: every token would be refused",
                ));
            }
            Some(list) if list.iter().any(String::is_empty) => {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidAudience,
                    "an empty audience is configured",
                ));
            }
            _ => {}
        }
        if let Some(aud) = &self.aud {
            if let Err(why) = &aud.regex {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidRequirement,
                    format!(
                        "token validation expression {:?} does not compile: {why}",
                        aud.pattern
                    ),
                ));
            }
            if self.effective_token_use() == TokenUseRule::Access {
                return Err(ConfigError::new(
                    ConfigErrorKind::ContradictoryRequirement,
                    "a route that takes only access tokens cannot have a token validation expression: \
                     access tokens have no aud, so every request would be refused",
                ));
            }
        }
        Ok(())
    }

    /// Checks verified claims against the requirement.
    pub fn evaluate(&self, claims: &Claims) -> Result<(), AuthError> {
        let use_ok = matches!(
            (self.effective_token_use(), claims.token_use()),
            (TokenUseRule::Either, _)
                | (TokenUseRule::Id, TokenUse::Id)
                | (TokenUseRule::Access, TokenUse::Access)
        );
        if !use_ok {
            return Err(AuthError::new(
                AuthErrorKind::WrongTokenUse,
                match claims.token_use() {
                    TokenUse::Id => "route requires an access token, got an ID token",
                    TokenUse::Access => "route requires an ID token, got an access token",
                },
            ));
        }
        if !self.clients.is_empty()
            && !claims
                .client_id()
                .is_some_and(|c| self.clients.iter().any(|a| a == c))
        {
            return Err(AuthError::new(
                AuthErrorKind::WrongClient,
                "token was issued to an app client the route does not allow",
            ));
        }
        if let Some(aud) = &self.aud {
            let aud_ok = match claims.token_use() {
                TokenUse::Id => claims.get_str("aud").is_some_and(|a| aud.matches(a)),
                TokenUse::Access => false,
            };
            if !aud_ok {
                return Err(AuthError::new(
                    AuthErrorKind::WrongClient,
                    "token aud does not match the token validation expression",
                ));
            }
        }
        if !self.pools.is_empty() && !self.pools.iter().any(|p| p == claims.pool_id()) {
            return Err(AuthError::new(
                AuthErrorKind::WrongIssuer,
                "token is from a user pool the route does not take",
            ));
        }
        // HTTP API evaluates iss, then aud, then the dates, then scopes.
        if let Some(audiences) = &self.audiences
            && !audience_matches(claims, audiences)
        {
            return Err(AuthError::new(
                AuthErrorKind::WrongClient,
                "token aud (or, without aud, client_id) is none of the authorizer's audiences",
            ));
        }
        if let Some(leeway) = self.issued_at {
            match claims.iat() {
                None => {
                    return Err(AuthError::malformed(
                        "token has no iat claim, which the HTTP API authorizer checks",
                    ));
                }
                Some(iat) if iat > now_secs().saturating_add(leeway) => {
                    return Err(AuthError::new(
                        AuthErrorKind::NotYetValid,
                        "token iat is in the future",
                    ));
                }
                Some(_) => {}
            }
        }
        let has = |scope: &String| claims.has_scope(scope) || (self.scp && scp_has(claims, scope));
        let scopes_ok = match self.scope_match {
            None => true,
            Some(ScopeMatch::Any) => self.scopes.iter().any(has),
            Some(ScopeMatch::All) => self.scopes.iter().all(has),
        };
        if !scopes_ok {
            return Err(AuthError::new(
                AuthErrorKind::InsufficientScope,
                if claims.scope_is_malformed() {
                    "token scope claim is not a string, so it holds no scope the route requires"
                } else {
                    "token lacks the scope the route requires"
                },
            ));
        }
        if !self.groups.is_empty() && !self.groups.iter().any(|g| claims.in_group(g)) {
            return Err(AuthError::new(
                AuthErrorKind::Forbidden,
                if claims.groups_are_malformed() {
                    "token cognito:groups is not an array of strings, so the user is in none \
                     of the groups the route requires"
                } else {
                    "user is in none of the groups the route requires"
                },
            ));
        }
        if !self.checks.iter().all(|check| check(claims)) {
            return Err(AuthError::new(
                AuthErrorKind::Forbidden,
                "a custom check refused the token",
            ));
        }
        Ok(())
    }
}

/// HTTP API's audience rule, from "Troubleshooting issues with HTTP API JWT
/// authorizers": `aud` must match one audience entry; `client_id` is read only
/// when there is no `aud`, and never when there is one. An `aud` array (RFC
/// 7519 4.1.3) matches when one of its strings does.
fn audience_matches(claims: &Claims, audiences: &[String]) -> bool {
    let listed = |v: &str| audiences.iter().any(|a| a == v);
    match claims.get("aud") {
        Some(Value::String(aud)) => listed(aud),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(listed),
        Some(_) => false,
        None => claims.get_str("client_id").is_some_and(listed),
    }
}

/// Whether `scp` holds this scope: a space-separated string, or an array of
/// strings.
fn scp_has(claims: &Claims, scope: &str) -> bool {
    match claims.get("scp") {
        Some(Value::String(scp)) => scp.split(' ').any(|s| s == scope),
        Some(Value::Array(items)) => items.iter().any(|s| s.as_str() == Some(scope)),
        _ => false,
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn claims(payload: Value) -> Claims {
        let Value::Object(mut map) = payload else {
            unreachable!()
        };
        map.entry("sub").or_insert(json!("user-1"));
        map.entry("iss").or_insert(json!(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1"
        ));
        map.entry("exp").or_insert(json!(4_000_000_000u64));
        Claims::from_payload(map, Arc::from("us-east-1_Pool1")).unwrap()
    }

    fn id_token(aud: &str) -> Claims {
        claims(json!({"token_use": "id", "aud": aud, "cognito:groups": ["admins", "staff"]}))
    }

    fn access_token(scope: &str) -> Claims {
        claims(json!({"token_use": "access", "client_id": "client-1", "scope": scope}))
    }

    fn kind(r: &Requirement, c: &Claims) -> Option<AuthErrorKind> {
        r.validate().unwrap();
        r.evaluate(c).err().map(|e| e.kind())
    }

    #[test]
    fn aud_expression_is_a_full_match() {
        let r = Requirement::new().aud_matches("client-[0-9]+");
        assert_eq!(kind(&r, &id_token("client-42")), None);
        // API Gateway matches the whole aud: no match inside a longer value.
        for aud in ["xclient-42", "client-42x", "client-"] {
            assert_eq!(
                kind(&r, &id_token(aud)),
                Some(AuthErrorKind::WrongClient),
                "{aud}"
            );
        }
        // Alternation stays inside the anchors.
        let r = Requirement::new().aud_matches("a|b");
        assert_eq!(kind(&r, &id_token("b")), None);
        assert_eq!(kind(&r, &id_token("ab")), Some(AuthErrorKind::WrongClient));
        // Explicit anchors are harmless.
        let r = Requirement::new().aud_matches("^client-1$");
        assert_eq!(kind(&r, &id_token("client-1")), None);
    }

    #[test]
    fn aud_expression_always_refuses_access_tokens() {
        let r = Requirement::new()
            .token_use(TokenUseRule::Either)
            .aud_matches(".*");
        assert_eq!(kind(&r, &id_token("anything")), None);
        assert_eq!(
            kind(&r, &access_token("a")),
            Some(AuthErrorKind::WrongClient)
        );
        // An access token's client_id is not its aud.
        let r = Requirement::new()
            .token_use(TokenUseRule::Either)
            .aud_matches("client-1");
        assert_eq!(
            kind(&r, &access_token("a")),
            Some(AuthErrorKind::WrongClient)
        );
    }

    #[test]
    fn aud_expression_on_access_only_route_is_a_config_error() {
        let err = Requirement::any_scope(["a"])
            .aud_matches(".*")
            .validate()
            .unwrap_err();
        assert!(err.message().contains("access tokens have no aud"), "{err}");
        let err = Requirement::new()
            .token_use(TokenUseRule::Access)
            .aud_matches("x")
            .validate()
            .unwrap_err();
        assert!(err.message().contains("access tokens have no aud"), "{err}");
    }

    #[test]
    fn bad_expression_is_a_config_error_and_refuses_everything() {
        for bad in ["(", "a)(b", "[z-a]", "x{2,1}", r"\p{Greek}"] {
            let r = Requirement::new().aud_matches(bad);
            let err = r.validate().unwrap_err();
            assert!(err.message().contains("does not compile"), "{bad}: {err}");
            // Fail closed if evaluated anyway.
            assert_eq!(
                r.evaluate(&id_token(bad)).unwrap_err().kind(),
                AuthErrorKind::WrongClient
            );
        }
    }

    #[test]
    fn scope_or_scope_and_group_composes() {
        let r = Requirement::any_scope(["A", "B"]).any_group(["admins"]);
        let with_group = |scope: &str, group: &str| {
            claims(json!({"token_use": "access", "scope": scope, "cognito:groups": [group]}))
        };
        assert_eq!(kind(&r, &with_group("B", "admins")), None);
        assert_eq!(kind(&r, &with_group("A other", "admins")), None);
        assert_eq!(
            kind(&r, &with_group("C", "admins")),
            Some(AuthErrorKind::InsufficientScope)
        );
        assert_eq!(
            kind(&r, &with_group("A", "users")),
            Some(AuthErrorKind::Forbidden)
        );
        assert_eq!(kind(&r, &id_token("c")), Some(AuthErrorKind::WrongTokenUse));
    }

    #[test]
    fn all_scopes_needs_every_one() {
        let r = Requirement::all_scopes(["A", "B"]);
        assert_eq!(kind(&r, &access_token("B A")), None);
        assert_eq!(
            kind(&r, &access_token("A")),
            Some(AuthErrorKind::InsufficientScope)
        );
        // Exact and case-sensitive.
        assert_eq!(
            kind(&r, &access_token("a b")),
            Some(AuthErrorKind::InsufficientScope)
        );
    }

    #[test]
    fn a_claim_of_another_shape_fails_only_the_requirement_that_reads_it() {
        let groups_as_text = claims(json!({"token_use": "id", "cognito:groups": "admins"}));
        assert_eq!(kind(&Requirement::new(), &groups_as_text), None);
        let r = Requirement::new().any_group(["admins"]);
        let err = r.evaluate(&groups_as_text).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::Forbidden);
        assert!(err.detail().contains("not an array of strings"), "{err}");

        let scope_as_list = claims(json!({"token_use": "access", "scope": ["a"]}));
        let either = Requirement::new().token_use(TokenUseRule::Either);
        assert_eq!(kind(&either, &scope_as_list), None);
        let err = Requirement::any_scope(["a"])
            .evaluate(&scope_as_list)
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InsufficientScope);
        assert!(err.detail().contains("not a string"), "{err}");

        let aud_as_list = claims(json!({"token_use": "id", "aud": ["client-1"]}));
        assert_eq!(kind(&Requirement::new(), &aud_as_list), None);
        for r in [
            Requirement::new().client_ids(["client-1"]),
            Requirement::new().aud_matches("client-1"),
        ] {
            assert_eq!(kind(&r, &aud_as_list), Some(AuthErrorKind::WrongClient));
        }
    }

    #[test]
    fn pool_ids_restrict_the_pool() {
        let r = Requirement::new().pool_ids(["us-east-1_Pool1"]);
        assert_eq!(kind(&r, &id_token("c")), None);
        let r = Requirement::new().pool_ids(["us-east-1_Pool2"]);
        assert_eq!(kind(&r, &id_token("c")), Some(AuthErrorKind::WrongIssuer));
        assert!(Requirement::new().pool_ids([""]).validate().is_err());
    }

    fn http(r: Requirement) -> Requirement {
        r.http_api(
            Arc::from(["web".to_owned(), "m2m".to_owned()].as_slice()),
            0,
        )
    }

    fn now() -> u64 {
        now_secs()
    }

    #[test]
    fn http_api_audience_is_aud_else_client_id() {
        let r = http(Requirement::new());
        let with = |v: Value| claims(v);
        let iat = now();
        for (payload, ok) in [
            (json!({"token_use": "id", "aud": "web", "iat": iat}), true),
            (
                json!({"token_use": "id", "aud": "other", "iat": iat}),
                false,
            ),
            (
                json!({"token_use": "access", "client_id": "m2m", "iat": iat}),
                true,
            ),
            (
                json!({"token_use": "access", "client_id": "other", "iat": iat}),
                false,
            ),
            // aud is evaluated when present, client_id is not then.
            (
                json!({"token_use": "access", "aud": "other", "client_id": "web", "iat": iat}),
                false,
            ),
            (
                json!({"token_use": "access", "aud": "web", "client_id": "other", "iat": iat}),
                true,
            ),
            (
                json!({"token_use": "id", "aud": ["x", "m2m"], "iat": iat}),
                true,
            ),
            (
                json!({"token_use": "id", "aud": ["x", 1], "iat": iat}),
                false,
            ),
            (
                json!({"token_use": "id", "aud": [], "client_id": "web", "iat": iat}),
                false,
            ),
            (
                json!({"token_use": "id", "aud": null, "client_id": "web", "iat": iat}),
                false,
            ),
            (
                json!({"token_use": "access", "client_id": ["web"], "iat": iat}),
                false,
            ),
            // Exact: no case folding, no prefix.
            (json!({"token_use": "id", "aud": "Web", "iat": iat}), false),
            (json!({"token_use": "access", "iat": iat}), false),
        ] {
            let got = kind(&r, &with(payload.clone()));
            let want = (!ok).then_some(AuthErrorKind::WrongClient);
            assert_eq!(got, want, "{payload}");
        }
    }

    #[test]
    fn http_api_iat_is_required_and_not_in_the_future() {
        let token = |iat: Option<u64>| {
            let mut v = json!({"token_use": "access", "client_id": "web"});
            if let Some(iat) = iat {
                v["iat"] = json!(iat);
            }
            claims(v)
        };
        let r = http(Requirement::new());
        assert_eq!(kind(&r, &token(Some(now()))), None);
        assert_eq!(kind(&r, &token(Some(now() - 3600))), None);
        assert_eq!(
            kind(&r, &token(Some(now() + 60))),
            Some(AuthErrorKind::NotYetValid)
        );
        assert_eq!(kind(&r, &token(None)), Some(AuthErrorKind::MalformedToken));
        // With the verifier's leeway.
        let lenient = Requirement::new().http_api(Arc::from(["web".to_owned()].as_slice()), 120);
        assert_eq!(kind(&lenient, &token(Some(now() + 60))), None);
        assert_eq!(
            kind(&lenient, &token(Some(now() + 600))),
            Some(AuthErrorKind::NotYetValid)
        );
    }

    #[test]
    fn http_api_takes_either_token_and_scopes_from_scope_or_scp() {
        let iat = now();
        let id = claims(json!({"token_use": "id", "aud": "web", "iat": iat}));
        assert_eq!(kind(&http(Requirement::new()), &id), None);
        let r = http(Requirement::any_scope(["pets/read", "pets/admin"]));
        assert_eq!(r.effective_token_use(), TokenUseRule::Either);
        assert_eq!(kind(&r, &id), Some(AuthErrorKind::InsufficientScope));
        for (scopes, ok) in [
            (json!({"scope": "a pets/read"}), true),
            (json!({"scp": "x pets/admin"}), true),
            (json!({"scp": ["x", "pets/admin"]}), true),
            (json!({"scope": "x", "scp": ["pets/read"]}), true),
            (json!({"scope": "pets/Read"}), false),
            (json!({"scp": [1, "pets/read/x"]}), false),
            (json!({"scp": {"pets/read": true}}), false),
            (json!({}), false),
        ] {
            let mut v = json!({"token_use": "access", "client_id": "web", "iat": iat});
            for (k, x) in scopes.as_object().unwrap() {
                v[k] = x.clone();
            }
            let got = kind(&r, &claims(v));
            assert_eq!(
                got,
                (!ok).then_some(AuthErrorKind::InsufficientScope),
                "{scopes}"
            );
        }
        // REST requirements never read scp.
        let rest = Requirement::any_scope(["pets/read"]);
        let scp_only = claims(json!({"token_use": "access", "scp": ["pets/read"]}));
        assert_eq!(
            kind(&rest, &scp_only),
            Some(AuthErrorKind::InsufficientScope)
        );
        // A token use chosen on purpose stays.
        let access_only = http(Requirement::new().token_use(TokenUseRule::Access));
        assert_eq!(kind(&access_only, &id), Some(AuthErrorKind::WrongTokenUse));
    }

    #[test]
    fn http_api_audiences_must_be_given() {
        let none = Requirement::new().http_api(Arc::from(Vec::<String>::new()), 0);
        assert!(
            none.validate()
                .unwrap_err()
                .message()
                .contains("no audience")
        );
        let empty = Requirement::new().http_api(Arc::from(["".to_owned()].as_slice()), 0);
        assert!(empty.validate().is_err());
    }

    #[test]
    fn debug_shows_the_expression_but_not_closures() {
        let r = Requirement::new().aud_matches("web-.*").check(|_| true);
        let text = format!("{r:?}");
        assert!(text.contains(r#"aud_matches: Some("web-.*")"#), "{text}");
        assert!(text.contains("<1 fn>"), "{text}");
        assert_eq!(r.aud_pattern(), Some("web-.*"));
    }
}
