//! [`Requirement`]: what one route asks of a verified token.

use crate::claims::{Claims, TokenUse};
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use std::fmt;
use std::sync::Arc;

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
/// // A check of your own.
/// let tenant = Requirement::new().check(|c| c.get_str("custom:tenant") == Some("acme"));
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Requirement {
    token_use: TokenUseRule,
    scopes: Vec<String>,
    scope_match: Option<ScopeMatch>,
    groups: Vec<String>,
    clients: Vec<String>,
    checks: Vec<Check>,
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requirement")
            .field("token_use", &self.effective_token_use())
            .field("scopes", &self.scopes)
            .field("scope_match", &self.scope_match)
            .field("groups", &self.groups)
            .field("clients", &self.clients)
            .field("checks", &format_args!("<{} fn>", self.checks.len()))
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

    /// A check of your own over the claims; the request is refused (403 in RFC 6750
    /// mode) when it returns `false`.
    pub fn check(mut self, check: impl Fn(&Claims) -> bool + Send + Sync + 'static) -> Self {
        self.checks.push(Arc::new(check));
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

    /// Reports a requirement no token could meet.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.scope_match.is_some() && self.scopes.is_empty() {
            return Err(ConfigError::new(
                "a scope requirement lists no scopes; use Requirement::new() for a route without scopes",
            ));
        }
        if let Some(bad) = self.scopes.iter().find(|s| s.is_empty() || s.contains([' ', '"', '\\']) || s.chars().any(char::is_control)) {
            return Err(ConfigError::new(format!(
                "scope {bad:?} is empty or contains a space, quote, backslash or control character"
            )));
        }
        if self.scope_match.is_some() && self.effective_token_use() == TokenUseRule::Id {
            return Err(ConfigError::new(
                "a route cannot require scopes of ID tokens: ID tokens carry no scopes",
            ));
        }
        if self.groups.iter().chain(&self.clients).any(String::is_empty) {
            return Err(ConfigError::new("an empty group name or client id is required"));
        }
        Ok(())
    }

    /// Checks verified claims against the requirement.
    pub fn evaluate(&self, claims: &Claims) -> Result<(), AuthError> {
        let use_ok = match (self.effective_token_use(), claims.token_use()) {
            (TokenUseRule::Either, _) => true,
            (TokenUseRule::Id, TokenUse::Id) | (TokenUseRule::Access, TokenUse::Access) => true,
            _ => false,
        };
        if !use_ok {
            return Err(AuthError::new(
                AuthErrorKind::WrongTokenUse,
                match claims.token_use() {
                    TokenUse::Id => "route requires an access token, got an ID token",
                    TokenUse::Access => "route requires an ID token, got an access token",
                },
            ));
        }
        if !self.clients.is_empty() && !claims.client_id().is_some_and(|c| self.clients.iter().any(|a| a == c)) {
            return Err(AuthError::new(
                AuthErrorKind::WrongClient,
                "token was issued to an app client the route does not allow",
            ));
        }
        let scopes_ok = match self.scope_match {
            None => true,
            Some(ScopeMatch::Any) => self.scopes.iter().any(|s| claims.has_scope(s)),
            Some(ScopeMatch::All) => self.scopes.iter().all(|s| claims.has_scope(s)),
        };
        if !scopes_ok {
            return Err(AuthError::new(
                AuthErrorKind::InsufficientScope,
                "token lacks the scope the route requires",
            ));
        }
        if !self.groups.is_empty() && !self.groups.iter().any(|g| claims.in_group(g)) {
            return Err(AuthError::new(
                AuthErrorKind::Forbidden,
                "user is in none of the groups the route requires",
            ));
        }
        if !self.checks.iter().all(|check| check(claims)) {
            return Err(AuthError::new(AuthErrorKind::Forbidden, "a custom check refused the token"));
        }
        Ok(())
    }
}
