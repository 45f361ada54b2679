use super::token_source::TokenSource;
use crate::auth::profile::Profile;
use crate::auth::requirement::Requirement;
use crate::auth::response::Responses;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::verifier::Verifier;
use http::HeaderName;
use std::sync::Arc;

/// Verifies each request's Cognito token and applies the route's
/// [`Requirement`], as API Gateway's Cognito authorizer does.
///
/// An authorized request reaches the inner service with the token's
/// [`Claims`](crate::Claims) in its extensions. A rejected one never does: it is
/// answered as [`Responses`] says (API Gateway's responses by default), with the
/// [`AuthError`](crate::AuthError) in the response's extensions.
///
/// All layers made from one [`Verifier`] share its key cache and verified-token
/// cache; a layer itself holds only the route's settings, cheap to clone.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_cognito::{Claims, CognitoAuthLayer, Requirement, UserPool, Verifier};
///
/// # fn app() -> Result<Router, tower_cognito::ConfigError> {
/// let verifier = Verifier::builder()
///     .pool(UserPool::new("us-east-1_AbCdEfGhI"))
///     .client_id("1example23456789")
///     .build()?;
/// let auth = CognitoAuthLayer::new(verifier);
///
/// let app = Router::new()
///     // ID token (API Gateway: a method without scopes).
///     .route("/me", get(|c: Claims| async move { c.sub().to_owned() }))
///     .route_layer(auth.clone())
///     // Access token with notes/read (API Gateway: a method with scopes).
///     .merge(
///         Router::new()
///             .route("/notes", get(|| async { "[]" }))
///             .route_layer(auth.require(Requirement::any_scope(["notes/read"]))?),
///     )
///     // No layer: public.
///     .route("/health", get(|| async { "ok" }));
/// # Ok(app) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct CognitoAuthLayer {
    pub(crate) verifier: Verifier,
    pub(crate) route: Arc<RouteConfig>,
}

#[derive(Clone, Debug)]
pub(crate) struct RouteConfig {
    /// What is checked: the route's requirement with the profile's rules.
    pub(crate) requirement: Requirement,
    /// The route's requirement as given, before the profile's rules.
    pub(crate) given: Requirement,
    pub(crate) profile: Profile,
    pub(crate) sources: Vec<TokenSource>,
    pub(crate) optional: bool,
    pub(crate) responses: Responses,
    /// The route's name in metrics and traces.
    pub(crate) name: crate::observe::RouteName,
    /// Whether traces carry the caller's `sub`.
    pub(crate) trace_sub: bool,
}

/// Writes setters of a layer's `route: Arc<RouteConfig>` (this one's and the
/// load balancer's), as `setters::shared_setters!` does for the builders: the
/// setters' names, then one `{ /// doc }` block per name, in the same order.
macro_rules! route_setters {
    ($($name:ident),+; $({ $(#[$doc:meta])* })+) => {
        $( $crate::auth::route_setters!(@$name $(#[$doc])*); )+
    };
    (@optional $(#[$doc:meta])*) => {
        $(#[$doc])*
        pub fn optional(mut self) -> Self {
            ::std::sync::Arc::make_mut(&mut self.route).optional = true;
            self
        }
    };
    (@responses $(#[$doc:meta])*) => {
        $(#[$doc])*
        pub fn responses(mut self, responses: $crate::Responses) -> Self {
            ::std::sync::Arc::make_mut(&mut self.route).responses = responses;
            self
        }
    };
}

pub(crate) use route_setters;

impl CognitoAuthLayer {
    /// A layer that requires an ID token (API Gateway's method without scopes),
    /// read from `Authorization`, answered with API Gateway's responses.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            route: Arc::new(RouteConfig {
                requirement: Requirement::new(),
                given: Requirement::new(),
                profile: Profile::RestApi,
                sources: vec![TokenSource::authorization()],
                optional: false,
                responses: Responses::default(),
                name: crate::observe::RouteName::new("default"),
                trace_sub: false,
            }),
        }
    }

    /// A layer with API Gateway HTTP API's JWT authorizer rules
    /// ([`Profile::HttpApi`]) and responses ([`Responses::http_api`]): the
    /// token's `aud`, or its `client_id` when it has no `aud`, must be one of
    /// `audiences` (for Cognito, app client ids); ID and access tokens are
    /// alike; `iat` must not be in the future; a route's scopes
    /// ([`require`](Self::require)) are read from `scope` or `scp`. Fails on an
    /// empty list.
    ///
    /// Build the verifier without [client ids](crate::VerifierBuilder::client_id)
    /// to check the app client exactly as HTTP API does (with them, both
    /// checks apply). Its pools' issuers are the authorizer's `issuer`: a
    /// [`UserPool::new`](crate::UserPool::new) trusts both of Cognito's issuer
    /// forms, and [`UserPool::issuer`](crate::UserPool::issuer) pins one, as
    /// HTTP API's single `issuer` does.
    ///
    /// ```
    /// use tower_cognito::{CognitoAuthLayer, Requirement, UserPool, Verifier};
    /// # fn demo() -> Result<(), tower_cognito::ConfigError> {
    /// let verifier = Verifier::new(UserPool::new("us-east-1_AbCdEfGhI"))?;
    /// let auth = CognitoAuthLayer::http_api(verifier, ["1example23456789"])?;
    /// // A route with scopes: any token holding one of them in `scope` or `scp`.
    /// let read = auth.require(Requirement::any_scope(["pets/read"]))?;
    /// # let _ = read; Ok(()) }
    /// ```
    pub fn http_api<I: IntoIterator<Item = S>, S: Into<String>>(
        verifier: Verifier,
        audiences: I,
    ) -> Result<Self, ConfigError> {
        Self::new(verifier).profile(Profile::http_api(audiences))
    }

    /// Reproduces this front door's rules (see [`Profile`]) and answers with
    /// its responses: set [`responses`](Self::responses) after this to answer
    /// otherwise. The route's requirement, set before or after, gets the
    /// profile's rules added. Fails on a profile no token could meet (an HTTP
    /// API profile without audiences).
    pub fn profile(mut self, profile: Profile) -> Result<Self, ConfigError> {
        profile.validate()?;
        let leeway = self.verifier.leeway_secs();
        let route = Arc::make_mut(&mut self.route);
        let requirement = profile.apply(route.given.clone(), leeway);
        requirement.validate()?;
        route.responses = profile.responses();
        route.requirement = requirement;
        route.profile = profile;
        Ok(self)
    }

    /// The same layer with another requirement, for another route, with the
    /// [profile](Self::profile)'s rules added. Fails when no token could meet
    /// the requirement (see [`Requirement::validate`]).
    pub fn require(&self, requirement: Requirement) -> Result<Self, ConfigError> {
        requirement.validate()?;
        let effective = self
            .route
            .profile
            .apply(requirement.clone(), self.verifier.leeway_secs());
        effective.validate()?;
        let mut layer = self.clone();
        let route = Arc::make_mut(&mut layer.route);
        route.given = requirement;
        route.requirement = effective;
        Ok(layer)
    }

    /// Reads the token from this header instead of `Authorization` (API Gateway's
    /// "token source"), `Bearer <token>` or bare.
    pub fn header(mut self, name: HeaderName) -> Self {
        Arc::make_mut(&mut self.route).sources = vec![TokenSource::header(name)];
        self
    }

    /// Reads the token from these places instead (a header, a cookie, a query
    /// parameter, a WebSocket subprotocol, your own function; see
    /// [`TokenSource`]), each of them on every request: a request with tokens in
    /// two places is refused as ambiguous (400 under RFC 6750, API Gateway's 401
    /// otherwise). Fails on an empty list.
    pub fn token_sources(
        mut self,
        sources: impl IntoIterator<Item = TokenSource>,
    ) -> Result<Self, ConfigError> {
        let sources: Vec<TokenSource> = sources.into_iter().collect();
        if sources.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidTokenSource,
                "no token source: a layer needs at least one",
            ));
        }
        let mut names: Vec<&HeaderName> = sources
            .iter()
            .filter_map(TokenSource::header_name)
            .collect();
        names.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidTokenSource,
                "the same token header is listed twice",
            ));
        }
        Arc::make_mut(&mut self.route).sources = sources;
        Ok(self)
    }

    route_setters! { optional, responses;
        {
            /// Lets requests without a token through, without [`Claims`](crate::Claims);
            /// a token that is present must still be valid. Handlers take
            /// `Option<Claims>`.
        }
        {
            /// Answers rejections this way (default: [`Responses::api_gateway`]).
        }
    }

    /// Names the route in metrics (the `route` label) and traces (default
    /// `default`). Use a fixed name per route, such as `notes_read`: never
    /// anything taken from the request, so that the label set stays bounded.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.route).name = crate::observe::RouteName::new(name.into());
        self
    }

    /// Records the caller's `sub` in the authorization span (off by default:
    /// a `sub` identifies a person, and traces are often kept and shared more
    /// widely than the service's data).
    pub fn trace_sub(mut self) -> Self {
        Arc::make_mut(&mut self.route).trace_sub = true;
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The route's requirement, with the [profile](Self::profile)'s rules
    /// added: what a token must meet once the verifier has found it valid.
    pub fn requirement(&self) -> &Requirement {
        &self.route.requirement
    }

    /// The front door this layer stands in for.
    pub fn front_door(&self) -> &Profile {
        &self.route.profile
    }
}
