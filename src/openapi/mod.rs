//! Import of API Gateway OpenAPI 3.0 and Swagger 2.0 exports (feature `openapi`).
//!
//! Teams moving off API Gateway keep their API definition: [`ApiDefinition`]
//! reads an export (JSON or YAML), a REST API's or an HTTP API's, and turns
//! each Cognito authorizer (REST's `cognito_user_pools`, HTTP API's `jwt` with
//! a user pool's issuer) into [`UserPool`]s and each operation into a
//! [`Route`] with the [`Requirement`] and [`Profile`] API Gateway would apply. [`ApiDefinition::layer`] makes a
//! [`RouteTableLayer`] that looks up each request's operation and then behaves
//! exactly as [`CognitoAuthLayer`] would on that route.
//!
//! What is read, as API Gateway reads it (the pages followed: "x-amazon-apigateway-auth
//! object", "x-amazon-apigateway-authorizer object" and "x-amazon-apigateway-authtype
//! property" of the API Gateway developer guide):
//!
//! - the authorizers: `components.securitySchemes` and `securityDefinitions`
//!   entries (SAM writes the latter in OpenAPI 3 documents too) with
//!   `x-amazon-apigateway-authorizer` of type `cognito_user_pools`: their
//!   `providerARNs` (`arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}`,
//!   one [`UserPool`] each, or the pools given by
//!   [`ImportOptions::authorizer_pool`] when the ARNs are placeholders), the token
//!   header (the scheme's `name`, or the authorizer's `identitySource`
//!   `method.request.header.NAME`; default `Authorization`), and the optional
//!   `identityValidationExpression` (the "token validation" expression, matched
//!   against the whole `aud`: see [`Requirement::aud_matches`]);
//! - an HTTP API's authorizers (OpenAPI 3.0, as `aws apigatewayv2 export-api`
//!   writes them): `x-amazon-apigateway-authorizer` of type `jwt` on a scheme of
//!   type `oauth2` (or `openIdConnect`, whose `openIdConnectUrl` gives the
//!   issuer), with `jwtConfiguration.issuer` (a Cognito pool's,
//!   `https://cognito-idp.{region}.amazonaws.com/{poolId}` or the
//!   `issuer-cognito-idp` form: one [`UserPool`] trusting exactly that issuer;
//!   another issuer is a protection the crate cannot check; a placeholder needs
//!   [`ImportOptions::authorizer_pool`]), `jwtConfiguration.audience` (required,
//!   not empty) and `identitySource` (`$request.header.NAME`, default
//!   `Authorization`; the query string is not read). Their routes follow
//!   [`Profile::HttpApi`]: `security: [{"Jwt": ["a", "b"]}]` takes any token of
//!   an audience holding `a` or `b` in `scope` or `scp`, `[{"Jwt": []}]` any
//!   token of an audience. The `$default` route (the path `/$default`) takes
//!   every request no other route matches; without one, such a request gets
//!   HTTP API's 404 `{"message":"Not Found"}`. A document with `jwt`
//!   authorizers, or with the HTTP API export's
//!   `x-amazon-apigateway-importexport-version`, is an HTTP API's: its layer
//!   answers with [`Responses::http_api`], and a `cognito_user_pools`
//!   authorizer in it is an error;
//! - each operation's `security` (or the document's top-level `security` when the
//!   operation has none): `[{"MyPool": []}]` takes an ID token,
//!   `[{"MyPool": ["a", "b"]}]` an access token with scope `a` or `b`; `security: []`,
//!   no security at all, SAM's `[{"NONE": []}]` and `x-amazon-apigateway-auth:
//!   {type: NONE}` are public. API Gateway exports an API key requirement as a second
//!   entry (`[{"MyPool": []}, {"api_key": []}]`), meaning both: every name in the
//!   list counts;
//! - `x-amazon-apigateway-auth: {type: AWS_IAM}`: IAM, which this crate cannot check;
//! - the paths as written (`basePath` and `servers` are ignored: API Gateway
//!   strips the stage), with `{param}` and API Gateway's greedy `{proxy+}` (axum
//!   spells it `{*proxy}`), and `x-amazon-apigateway-any-method` (`ANY`).
//!
//! Nothing the definition protects is imported as public. An operation protected
//! by anything but one Cognito authorizer (IAM, an API key, a Lambda authorizer,
//! OAuth 2, several authorizers) is an [`ImportError`] naming the operation, such
//! as `GET /pets/{petId}`, unless [`ImportOptions::refuse_unenforceable`] makes it
//! refused (403), or [`ImportOptions::ignore_api_key`] drops an API key check
//! beside the authorizer. Where AWS does not say how two markers combine (an
//! anonymous `{}` or `NONE` beside an authorizer, `x-amazon-apigateway-auth`
//! `NONE` beside Cognito `security`), the stricter reading is kept: the
//! authorizer applies. Each route only takes tokens of its authorizer's pools,
//! even when the verifier trusts more. Requests the definition does not list are
//! refused (see [`RouteTableLayer`]).
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use std::convert::Infallible;
//! use tower::{Layer, ServiceExt, service_fn};
//! use tower_cognito::openapi::ApiDefinition;
//! use tower_cognito::test_util::LocalUserPool;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let api = ApiDefinition::from_yaml(r#"
//! openapi: 3.0.1
//! paths:
//!   /pets:
//!     get:
//!       security: [{ PetsPool: [pets/read] }]
//!   /pets/{petId}:
//!     get:
//!       security: [{ PetsPool: [] }]
//!   /health:
//!     get: {}
//! components:
//!   securitySchemes:
//!     PetsPool:
//!       type: apiKey
//!       name: Authorization
//!       in: header
//!       x-amazon-apigateway-authtype: cognito_user_pools
//!       x-amazon-apigateway-authorizer:
//!         type: cognito_user_pools
//!         providerARNs:
//!           - arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEfGhI
//! "#)?;
//! let route = api.route(&http::Method::GET, "/pets/42").expect("listed");
//! assert_eq!(route.to_string(), "GET /pets/{petId}");
//!
//! // In production: `api.verifier_builder().build()?` trusts the file's pools.
//! // Here the file's pool is replaced by one that lives in this process.
//! let pool = LocalUserPool::start().await?;
//! let api = api.map_pools(|_| pool.user_pool());
//! let verifier = api.verifier_builder().build()?;
//!
//! let service = api.layer(verifier)?.layer(service_fn(|_: Request<String>| async {
//!     Ok::<_, Infallible>(Response::new(String::from("hello")))
//! }));
//! let call = |path: &str, token: Option<String>| {
//!     let mut request = Request::get(path);
//!     if let Some(token) = token {
//!         request = request.header("authorization", format!("Bearer {token}"));
//!     }
//!     service.clone().oneshot(request.body(String::new()).unwrap())
//! };
//!
//! // Public.
//! assert_eq!(call("/health", None).await?.status(), StatusCode::OK);
//! // No scopes: an ID token.
//! assert_eq!(call("/pets/42", None).await?.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(call("/pets/42", Some(pool.id_token().sign())).await?.status(), StatusCode::OK);
//! // Scopes: an access token holding one of them.
//! let reader = pool.access_token().scopes(["pets/read"]).sign();
//! assert_eq!(call("/pets", Some(reader)).await?.status(), StatusCode::OK);
//! assert_eq!(call("/pets", Some(pool.id_token().sign())).await?.status(), StatusCode::UNAUTHORIZED);
//! # Ok(()) }
//! ```

mod error;
mod layer;
mod options;
mod parse;
mod template;

pub use error::{ImportError, ImportErrorKind};
pub use layer::{RouteTable, RouteTableLayer};
pub use options::ImportOptions;

use crate::auth::CognitoAuthLayer;
use crate::auth::profile::Profile;
use crate::auth::requirement::Requirement;
use crate::auth::response::Responses;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::verifier::pool::UserPool;
use crate::verifier::{Verifier, VerifierBuilder};
use http::{HeaderName, Method};
use layer::{Policy, RouteIndex};
use std::fmt;
use std::path::Path;
use template::Segment;

/// An imported API Gateway definition: the user pools of its Cognito authorizers
/// and a route per operation. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct ApiDefinition {
    pools: Vec<UserPool>,
    routes: Vec<Route>,
    index: RouteIndex,
    http_api: bool,
}

/// One operation of an [`ApiDefinition`]: method and path template, and what it
/// requires.
#[derive(Clone, Debug)]
pub struct Route {
    method: Option<Method>,
    path: String,
    segments: Vec<Segment>,
    access: Access,
    /// An HTTP API's `$default` route: every request no other route takes.
    default: bool,
}

/// Who may call an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Access {
    /// Anyone: `security: []`, no security at all, `x-amazon-apigateway-auth`
    /// `NONE`, SAM's `NONE` marker, or a path named public on import.
    Public,
    /// A token of a Cognito user pool authorizer.
    Cognito(RouteAuth),
    /// An authorizer this crate cannot check (IAM, an API key, a Lambda
    /// authorizer), imported on request as refused: every call gets 403.
    Refused(String),
}

/// The authorizer of a protected route.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RouteAuth {
    authorizer: String,
    /// Indices into the definition's pools.
    pools: Vec<usize>,
    /// Their ids, kept in step by `map_pools`.
    pool_ids: Vec<String>,
    scopes: Vec<String>,
    header: HeaderName,
    /// A REST authorizer's token validation expression.
    aud: Option<String>,
    /// An HTTP API JWT authorizer's audiences (`None`: a REST authorizer).
    audiences: Option<Vec<String>>,
}

impl Route {
    /// The HTTP method; `None` for API Gateway's any-method
    /// (`x-amazon-apigateway-any-method`).
    pub fn method(&self) -> Option<&Method> {
        self.method.as_ref()
    }

    /// The path template as the definition writes it, such as `/pets/{petId}`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the operation takes requests without a token.
    pub fn is_public(&self) -> bool {
        self.access == Access::Public
    }

    /// Whether every request to the operation is refused (403), because an
    /// authorizer this crate cannot check protects it and the definition was
    /// imported with [`ImportOptions::refuse_unenforceable`].
    pub fn is_refused(&self) -> bool {
        matches!(self.access, Access::Refused(_))
    }

    fn auth(&self) -> Option<&RouteAuth> {
        match &self.access {
            Access::Cognito(auth) => Some(auth),
            _ => None,
        }
    }

    /// The name of the security scheme (the authorizer), if the route has one.
    pub fn authorizer(&self) -> Option<&str> {
        self.auth().map(|a| a.authorizer.as_str())
    }

    /// The header the token is read from, if the route has an authorizer.
    pub fn header(&self) -> Option<&HeaderName> {
        self.auth().map(|a| &a.header)
    }

    /// The ids of the user pools whose tokens the route takes: its authorizer's
    /// `providerARNs`, as [`ApiDefinition::map_pools`] left them. Empty for a
    /// public route.
    pub fn pool_ids(&self) -> &[String] {
        self.auth().map_or(&[], |a| &a.pool_ids)
    }

    /// The OAuth scopes of the operation (empty: an ID token is required, or the
    /// route is public).
    pub fn scopes(&self) -> &[String] {
        self.auth().map_or(&[], |a| &a.scopes)
    }

    /// Whether this is an HTTP API's `$default` route (exported as the path
    /// `/$default`), which takes every request no other route matches.
    pub fn is_default(&self) -> bool {
        self.default
    }

    /// The front door whose rules the route's authorizer follows: the REST
    /// API's for a `cognito_user_pools` authorizer, the HTTP API's (with the
    /// authorizer's audiences) for a `jwt` one. `None` for a public or
    /// refused route.
    pub fn profile(&self) -> Option<Profile> {
        let auth = self.auth()?;
        Some(match &auth.audiences {
            None => Profile::RestApi,
            Some(audiences) => Profile::http_api(audiences.iter().cloned()),
        })
    }

    /// What the operation itself requires, as API Gateway applies it: under a
    /// REST authorizer an ID token without scopes, an access token with any
    /// one of the scopes otherwise, the authorizer's token validation
    /// expression on `aud`; under an HTTP API authorizer the scopes (any one),
    /// to which its [profile](Self::profile) adds the audience, `iat` and
    /// token-use rules; and a token of one of the authorizer's pools. `None`
    /// for a public or refused route.
    pub fn requirement(&self) -> Option<Requirement> {
        let auth = self.auth()?;
        let requirement = if auth.scopes.is_empty() {
            Requirement::new()
        } else {
            Requirement::any_scope(auth.scopes.iter().cloned())
        };
        let requirement = requirement.pool_ids(auth.pool_ids.iter().cloned());
        Some(match &auth.aud {
            Some(pattern) => requirement.aud_matches(pattern.clone()),
            None => requirement,
        })
    }
}

/// `GET /pets/{petId}`; `ANY /files/{proxy+}` for the any-method.
impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&parse::label(self.method.as_ref(), &self.path))
    }
}

impl ApiDefinition {
    /// Options for an import: pools for authorizers whose ARNs are not usable,
    /// paths outside the definition that are public, and what to do with
    /// operations behind authorizers this crate cannot check.
    pub fn options() -> ImportOptions {
        ImportOptions::default()
    }

    /// Imports a definition in JSON, with the default [`ImportOptions`].
    pub fn from_json(text: &str) -> Result<Self, ImportError> {
        ImportOptions::default().from_json(text)
    }

    /// Imports a definition in YAML, with the default [`ImportOptions`].
    pub fn from_yaml(text: &str) -> Result<Self, ImportError> {
        ImportOptions::default().from_yaml(text)
    }

    /// Imports a definition in JSON (when it starts with `{`) or YAML, with the
    /// default [`ImportOptions`].
    pub fn parse(text: &str) -> Result<Self, ImportError> {
        ImportOptions::default().parse(text)
    }

    /// Reads and imports a definition file: JSON for `.json`, YAML for `.yaml`
    /// and `.yml`, else as [`parse`](Self::parse) decides.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, ImportError> {
        ImportOptions::default().from_path(path)
    }

    fn new(parsed: parse::Parsed) -> Self {
        let index = RouteIndex::new(&parsed.routes);
        Self {
            pools: parsed.pools,
            routes: parsed.routes,
            index,
            http_api: parsed.http_api,
        }
    }

    /// Whether the definition is an HTTP API's: it has `jwt` authorizers, or
    /// the HTTP API export's `x-amazon-apigateway-importexport-version`. Its
    /// layer answers with [`Responses::http_api`] then.
    pub fn is_http_api(&self) -> bool {
        self.http_api
    }

    /// The user pools of the authorizers that operations use, each once, in order
    /// of first use.
    pub fn pools(&self) -> &[UserPool] {
        &self.pools
    }

    /// Replaces each pool by what `f` makes of it: to set a JWKS URL or issuer
    /// (emulators, tests), or to put another pool in its place. The routes
    /// follow: a route of the old pool takes tokens of the new one.
    ///
    /// ```
    /// # use tower_cognito::openapi::ApiDefinition;
    /// # fn demo(api: ApiDefinition) -> ApiDefinition {
    /// // moto serves the keys of AWS-issued tokens on loopback.
    /// api.map_pools(|pool| {
    ///     let jwks = format!("http://127.0.0.1:5000/{}/.well-known/jwks.json", pool.id());
    ///     pool.jwks_url(jwks)
    /// })
    /// # }
    /// ```
    pub fn map_pools(mut self, f: impl FnMut(UserPool) -> UserPool) -> Self {
        self.pools = self.pools.into_iter().map(f).collect();
        for auth in self.routes.iter_mut().filter_map(|r| match &mut r.access {
            Access::Cognito(auth) => Some(auth),
            _ => None,
        }) {
            auth.pool_ids = auth
                .pools
                .iter()
                .map(|&i| self.pools[i].id().to_owned())
                .collect();
        }
        self
    }

    /// A verifier builder that trusts the definition's pools. Like API Gateway,
    /// it checks no app client; add [`client_id`](VerifierBuilder::client_id)s to
    /// limit them.
    ///
    /// A definition without any Cognito operation builds too: its verifier
    /// trusts no pool and refuses every token, which none of its operations
    /// asks for.
    pub fn verifier_builder(&self) -> VerifierBuilder {
        let builder = Verifier::builder().pools(self.pools.iter().cloned());
        if self.pools.is_empty() {
            builder.no_pools_ok()
        } else {
            builder
        }
    }

    /// The routes, one per operation.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route a request with this method and path is for, found as
    /// [`RouteTableLayer`] finds it. `None`: the layer refuses the request as
    /// unknown (the definition does not list it, or the path reads as one
    /// operation as written and as another once normalised).
    pub fn route(&self, method: &Method, path: &str) -> Option<&Route> {
        self.index.find(method, path).map(|i| &self.routes[i])
    }

    /// The layer that applies the definition, verifying tokens with `verifier`,
    /// which must trust every pool of the definition (build it with
    /// [`verifier_builder`](Self::verifier_builder)). Rejections get API
    /// Gateway's responses, the REST API's or, for an HTTP API's definition,
    /// the HTTP API's; see [`RouteTableLayer::responses`].
    pub fn layer(&self, verifier: Verifier) -> Result<RouteTableLayer, ConfigError> {
        let trusted: Vec<&str> = verifier.pool_ids().collect();
        if let Some(pool) = self.pools.iter().find(|p| !trusted.contains(&p.id())) {
            return Err(ConfigError::new(
                ConfigErrorKind::UntrustedPool,
                format!(
                    "the verifier does not trust the user pool `{}` of the API definition; \
                 build it with ApiDefinition::verifier_builder()",
                    pool.id()
                ),
            ));
        }
        let base = CognitoAuthLayer::new(verifier);
        let policies = self
            .routes
            .iter()
            .map(
                |route| match (&route.access, route.requirement(), route.profile()) {
                    (Access::Cognito(auth), Some(requirement), Some(profile)) => base
                        .clone()
                        .name(route.to_string())
                        .header(auth.header.clone())
                        .profile(profile)
                        .and_then(|layer| layer.require(requirement))
                        .map(Policy::Token)
                        .map_err(|e| e.at(route)),
                    (Access::Refused(_), ..) => Ok(Policy::Refused),
                    _ => Ok(Policy::Public),
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        let table = RouteTableLayer::new(self.index.clone(), &self.routes, policies);
        Ok(if self.http_api {
            table.responses(Responses::http_api())
        } else {
            table
        })
    }
}
