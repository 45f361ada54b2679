//! [`AlbAuthLayer`] and its [`AlbAuth`] service.

use super::verifier::{AlbVerifier, Verified};
use crate::auth::requirement::{Requirement, TokenUseRule};
use crate::auth::response::Responses;
use crate::auth::{ResponseFuture, RouteConfig, TokenSource, middleware_service, route_setters};
use crate::error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};
use crate::verifier::Verifier;
use crate::verifier::claims::Claims;
use http::{Extensions, HeaderMap, HeaderName, Request};
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// `x-amzn-oidc-data`: the user claims, signed by the load balancer.
pub const DATA_HEADER: HeaderName = HeaderName::from_static("x-amzn-oidc-data");
/// `x-amzn-oidc-identity`: the `sub`, in plain text and unsigned.
pub const IDENTITY_HEADER: HeaderName = HeaderName::from_static("x-amzn-oidc-identity");
/// `x-amzn-oidc-accesstoken`: the identity provider's access token, in plain text.
pub const ACCESS_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-amzn-oidc-accesstoken");

/// Verifies the user claims an Application Load Balancer adds to each request
/// after `authenticate-cognito` or `authenticate-oidc` (`x-amzn-oidc-data`),
/// and applies the route's [`Requirement`].
///
/// What a request must carry:
/// - exactly one `x-amzn-oidc-data`, which [`AlbVerifier`] verifies (two are
///   refused as ambiguous);
/// - at most one `x-amzn-oidc-identity`; when present it must be exactly the
///   verified `sub`, or the request is refused. Its value is never used;
/// - with [`access_token`](Self::access_token), exactly one
///   `x-amzn-oidc-accesstoken`: a Cognito access token the [`Verifier`] accepts,
///   for the same `sub` and (when the load balancer names one) the same app client.
///
/// An authorized request reaches the inner service with [`Claims`] in its
/// extensions: the load balancer's user claims, or with
/// [`access_token`](Self::access_token) the access token's claims (scopes,
/// groups), which is what the route's requirement is checked against. The user
/// claims are always there too, as [`AlbUserClaims`]. Rejections are answered
/// as [`Responses`] says (API Gateway's by default), with the
/// [`AuthError`] in the response's extensions, and never reach the inner service.
///
/// Only trust these headers when the service can be reached through the load
/// balancer alone (security groups, private subnets): the signature and the
/// `signer` pin are what make `x-amzn-oidc-data` trustworthy.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_cognito::alb::{AlbAuthLayer, AlbUserClaims, AlbVerifier};
/// use tower_cognito::{Claims, Requirement, UserPool, Verifier};
///
/// # fn app() -> Result<Router, tower_cognito::ConfigError> {
/// let alb = AlbVerifier::builder()
///     .load_balancer_arn(
///         "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-lb/50dc6c495c0c9188",
///     )
///     .client_id("1example23456789")
///     .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI")
///     .build()?;
/// let auth = AlbAuthLayer::new(alb);
///
/// // Scopes behind the load balancer: also verify its access token.
/// let cognito = Verifier::builder()
///     .pool(UserPool::new("us-east-1_AbCdEfGhI"))
///     .client_id("1example23456789")
///     .build()?;
/// let scoped = auth
///     .clone()
///     .access_token(cognito, Requirement::any_scope(["notes/read"]))?;
///
/// let app = Router::new()
///     .route("/me", get(|c: Claims| async move { c.email().unwrap_or_default().to_owned() }))
///     .route_layer(auth)
///     .merge(
///         Router::new()
///             .route("/notes", get(|c: Claims, user: AlbUserClaims| async move {
///                 format!("notes of {} ({:?})", c.sub(), user.email())
///             }))
///             .route_layer(scoped),
///     );
/// # Ok(app) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct AlbAuthLayer {
    verifier: AlbVerifier,
    access: Option<Verifier>,
    route: Arc<RouteConfig>,
}

impl AlbAuthLayer {
    /// A layer that requires verified user claims, answered with API Gateway's
    /// responses; the requirement is [`Requirement::new()`], which the user
    /// claims (read as an ID token's) meet.
    pub fn new(verifier: AlbVerifier) -> Self {
        Self {
            verifier,
            access: None,
            route: Arc::new(RouteConfig {
                requirement: Requirement::new(),
                given: Requirement::new(),
                profile: crate::auth::profile::Profile::RestApi,
                sources: vec![TokenSource::header(DATA_HEADER)],
                optional: false,
                responses: Responses::default(),
                name: crate::observe::RouteName::new("alb"),
                trace_sub: false,
            }),
        }
    }

    /// The same layer with another requirement, for another route: checked
    /// against the user claims, or with [`access_token`](Self::access_token)
    /// against the access token's claims. Fails when no token could meet it:
    /// scopes without the access token (user claims have none), or with the
    /// access token a requirement that does not take access tokens.
    pub fn require(&self, requirement: Requirement) -> Result<Self, ConfigError> {
        check(&requirement, self.access.is_some())?;
        let mut layer = self.clone();
        let route = Arc::make_mut(&mut layer.route);
        route.given = requirement.clone();
        route.requirement = requirement;
        Ok(layer)
    }

    /// Also verifies `x-amzn-oidc-accesstoken` (with `authenticate-cognito`, the
    /// user pool's access token) with `verifier`, requires it to be for the
    /// verified user (`sub`, and the app client when the load balancer names
    /// one), and checks `requirement` against its claims, so that routes can
    /// require scopes and groups as API Gateway does. `requirement` must take
    /// access tokens: [`Requirement::any_scope`], [`Requirement::all_scopes`],
    /// or `.token_use(TokenUseRule::Access)`.
    pub fn access_token(
        mut self,
        verifier: Verifier,
        requirement: Requirement,
    ) -> Result<Self, ConfigError> {
        check(&requirement, true)?;
        self.access = Some(verifier);
        let route = Arc::make_mut(&mut self.route);
        route.given = requirement.clone();
        route.requirement = requirement;
        Ok(self)
    }

    route_setters! { optional, responses;
        {
            /// Lets requests without `x-amzn-oidc-data` through, without claims (the
            /// load balancer's `OnUnauthenticatedRequest: allow`); handlers take
            /// `Option<Claims>`. Claims that are present must still be valid, and a
            /// request with `x-amzn-oidc-identity` or `x-amzn-oidc-accesstoken` but no
            /// `x-amzn-oidc-data` is refused.
        }
        {
            /// Answers rejections this way (default: [`Responses::api_gateway`]).
        }
    }

    /// The user claims' verifier.
    pub fn verifier(&self) -> &AlbVerifier {
        &self.verifier
    }

    /// The access token's verifier, when [`access_token`](Self::access_token) set one.
    pub fn access_verifier(&self) -> Option<&Verifier> {
        self.access.as_ref()
    }

    /// The route's requirement.
    pub fn requirement(&self) -> &Requirement {
        &self.route.requirement
    }
}

fn check(requirement: &Requirement, access: bool) -> Result<(), ConfigError> {
    requirement.validate()?;
    let token_use = requirement.effective_token_use();
    if access && token_use != TokenUseRule::Access {
        return Err(ConfigError::new(
            ConfigErrorKind::ContradictoryRequirement,
            "the requirement for x-amzn-oidc-accesstoken must take access tokens only: \
             Requirement::any_scope([...]) or .token_use(TokenUseRule::Access)",
        ));
    }
    if !access && !matches!(token_use, TokenUseRule::Id | TokenUseRule::Either) {
        return Err(ConfigError::new(
            ConfigErrorKind::ContradictoryRequirement,
            "the load balancer's user claims carry no scopes: to require scopes, also verify \
             its access token with AlbAuthLayer::access_token(verifier, requirement)",
        ));
    }
    Ok(())
}

/// The headers of one request, read once.
struct Read {
    data: String,
    identity: Option<String>,
    access: Option<String>,
}

/// The one value of a header, refusing two.
fn one(headers: &HeaderMap, name: &HeaderName) -> Result<Option<String>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let (first, second) = (values.next(), values.next());
    if second.is_some() {
        return Err(AuthError::new(
            AuthErrorKind::InvalidRequest,
            format!("the request has more than one {name} header"),
        ));
    }
    first
        .map(|value| {
            value.to_str().map(str::to_owned).map_err(|_| {
                AuthError::new(
                    AuthErrorKind::InvalidRequest,
                    format!("the {name} header is not visible ASCII"),
                )
            })
        })
        .transpose()
}

fn read(headers: &HeaderMap, access: bool) -> Result<Option<Read>, AuthError> {
    let data = one(headers, &DATA_HEADER)?;
    let identity = one(headers, &IDENTITY_HEADER)?;
    let access_token = if access {
        one(headers, &ACCESS_TOKEN_HEADER)?
    } else {
        None
    };
    let Some(data) = data else {
        if identity.is_some() || access_token.is_some() {
            return Err(AuthError::new(
                AuthErrorKind::InvalidRequest,
                "the request has x-amzn-oidc-identity or x-amzn-oidc-accesstoken \
                 without x-amzn-oidc-data",
            ));
        }
        return Ok(None);
    };
    if access && access_token.is_none() {
        return Err(AuthError::new(
            AuthErrorKind::MissingToken,
            "the request has no x-amzn-oidc-accesstoken",
        ));
    }
    Ok(Some(Read {
        data,
        identity,
        access: access_token,
    }))
}

/// Where the layer leaves the user claims for [`AlbUserClaims`]: filled by the
/// verification before the inner service is called.
#[derive(Clone)]
struct UserSlot(Arc<OnceLock<Claims>>);

async fn verify(
    alb: AlbVerifier,
    access: Option<Verifier>,
    read: Read,
    slot: Arc<OnceLock<Claims>>,
) -> Result<Claims, AuthError> {
    let Verified {
        claims: user,
        client,
    } = match alb.cached(&read.data) {
        Some(verified) => verified,
        None => alb.verify_miss(&read.data).await?,
    };
    if read.identity.as_deref().is_some_and(|id| id != user.sub()) {
        return Err(AuthError::new(
            AuthErrorKind::InvalidRequest,
            "x-amzn-oidc-identity is not the verified sub",
        ));
    }
    let claims = match (access, read.access) {
        (Some(verifier), Some(token)) => {
            let claims = verifier.verify(&token).await?;
            if claims.sub() != user.sub() {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidRequest,
                    "the access token is not for the user the load balancer authenticated",
                ));
            }
            if let (Some(alb_client), Some(token_client)) = (&client, claims.client_id())
                && **alb_client != *token_client
            {
                return Err(AuthError::new(
                    AuthErrorKind::WrongClient,
                    "the access token was issued to another app client than the load balancer's",
                ));
            }
            claims
        }
        _ => user.clone(),
    };
    let _ = slot.set(user);
    Ok(claims)
}

impl<S: fmt::Debug> fmt::Debug for AlbAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlbAuth")
            .field("inner", &self.inner)
            .field("verifier", &self.verifier)
            .field("access_verifier", &self.access)
            .field("route", &self.route)
            .finish()
    }
}

middleware_service! {
    /// The service made by [`AlbAuthLayer`].
    pub struct AlbAuth<S>, made by AlbAuthLayer, with its own Debug {
        verifier: AlbVerifier,
        access: Option<Verifier>,
        route: Arc<RouteConfig>,
    }
    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let route = &self.route;
        let read = read(request.headers(), self.access.is_some()).and_then(|read| {
            if let Some(read) = &read {
                self.verifier.check_size(&read.data)?;
                if let (Some(verifier), Some(token)) = (&self.access, &read.access) {
                    verifier.check_size(token)?;
                }
            }
            Ok(read)
        });
        let read = match read {
            Ok(Some(read)) => read,
            Ok(None) if route.optional => {
                // No claims but the ones decided here.
                request.extensions_mut().remove::<Claims>();
                request.extensions_mut().remove::<UserSlot>();
                return ResponseFuture::pass(&mut self.inner, request);
            }
            Ok(None) => {
                let error = AuthError::new(
                    AuthErrorKind::MissingToken,
                    "the request has no x-amzn-oidc-data",
                );
                return ResponseFuture::reject(
                    &route.name,
                    &route.responses,
                    &error,
                    route.requirement.scopes(),
                );
            }
            Err(error) => {
                return ResponseFuture::reject(
                    &route.name,
                    &route.responses,
                    &error,
                    route.requirement.scopes(),
                );
            }
        };
        let slot = Arc::new(OnceLock::new());
        request.extensions_mut().insert(UserSlot(Arc::clone(&slot)));
        let verification = Box::pin(verify(
            self.verifier.clone(),
            self.access.clone(),
            read,
            slot,
        ));
        ResponseFuture::verifying(&mut self.inner, request, route, verification)
    }
}

/// The user claims the load balancer signed (`x-amzn-oidc-data`), as
/// [`AlbAuthLayer`] verified them: what it knows of the user (`sub`, `email`,
/// `username`, the identity provider's other user info). Without
/// [`access_token`](AlbAuthLayer::access_token) these are also the request's
/// [`Claims`]; with it, [`Claims`] are the access token's, and these are here
/// for the rest.
///
/// An axum extractor (feature `axum`; `Option<AlbUserClaims>` behind an
/// [`optional`](AlbAuthLayer::optional) layer), and
/// [`from_extensions`](Self::from_extensions) for any Tower service. Derefs to
/// [`Claims`].
#[derive(Clone, Debug)]
pub struct AlbUserClaims(Claims);

impl AlbUserClaims {
    /// The user claims the layer left in these request extensions, if it
    /// admitted the request with some.
    pub fn from_extensions(extensions: &Extensions) -> Option<Self> {
        let UserSlot(slot) = extensions.get::<UserSlot>()?;
        slot.get().cloned().map(Self)
    }

    /// The claims.
    pub fn claims(&self) -> &Claims {
        &self.0
    }

    /// The claims, by value.
    pub fn into_claims(self) -> Claims {
        self.0
    }
}

impl Deref for AlbUserClaims {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

#[cfg(feature = "axum")]
mod extract {
    use super::AlbUserClaims;
    use crate::axum::MissingClaims;
    use axum::extract::{FromRequestParts, OptionalFromRequestParts};
    use http::request::Parts;
    use std::convert::Infallible;

    impl<S: Send + Sync> FromRequestParts<S> for AlbUserClaims {
        type Rejection = MissingClaims;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            Self::from_extensions(&parts.extensions).ok_or(MissingClaims)
        }
    }

    impl<S: Send + Sync> OptionalFromRequestParts<S> for AlbUserClaims {
        type Rejection = Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(Self::from_extensions(&parts.extensions))
        }
    }
}
