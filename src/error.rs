//! Errors: [`AuthError`] for rejected requests and [`ConfigError`] for bad configuration.

use std::borrow::Cow;

/// Why a request was not authorized.
///
/// Every rejection the crate makes carries one of these. It is inserted into the
/// rejection response's extensions, so an outer layer can read it:
///
/// ```
/// # use tower_cognito::{AuthError, AuthErrorKind};
/// # let response = http::Response::new(());
/// if let Some(err) = response.extensions().get::<AuthError>() {
///     if err.kind() == AuthErrorKind::Expired {
///         // refresh the session
///     }
/// }
/// ```
///
/// Neither `Display` nor `Debug` ever contains the token or a key: the detail is a
/// fixed phrase chosen by the crate, plus (for key set failures) the JWKS URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct AuthError {
    kind: AuthErrorKind,
    detail: Cow<'static, str>,
}

/// The kind of an [`AuthError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No token was sent.
    MissingToken,
    /// The request carries the token in a way that cannot be read: the header
    /// appears twice, is not visible ASCII, or has an unknown scheme.
    InvalidRequest,
    /// The token is not a well-formed JWT: size, segments, base64url, JSON, or a
    /// claim of the wrong type.
    MalformedToken,
    /// The token's `alg` is not the algorithm this crate pins (RS256), or it has
    /// `crit` extensions.
    DisallowedAlgorithm,
    /// The token's `exp` has passed.
    Expired,
    /// The token's `nbf` is still in the future, or (under the HTTP API
    /// profile) its `iat` is.
    NotYetValid,
    /// The signature does not verify with the key named by `kid`.
    BadSignature,
    /// The user pool's key set has no usable key with the token's `kid`.
    UnknownKey,
    /// The token's `iss` is not one of the configured user pools.
    WrongIssuer,
    /// The token is an ID token where an access token is required, or the reverse.
    WrongTokenUse,
    /// The token was issued to an app client that is not allowed.
    WrongClient,
    /// The token lacks the scope the route requires.
    InsufficientScope,
    /// The token is valid but the route's other requirements (groups, custom
    /// checks) refuse it.
    Forbidden,
    /// No key could be obtained to verify the token: the JWKS endpoint failed and
    /// no usable cached key set exists, or the token's `kid` is not in the last
    /// good set while the endpoint is failing (it may be a rotation not yet seen).
    /// Not the client's fault: answered with 5xx, never 401.
    KeySetUnavailable,
    /// The token verified, but the verifier's [`Revocation`](crate::Revocation)
    /// says it was revoked (signed out, its refresh token revoked). Answered like
    /// any other bad token.
    Revoked,
    /// The verifier's [`Revocation`](crate::Revocation) could not answer (its
    /// store failed), and the verifier fails closed. Not the client's fault:
    /// answered with 5xx, like [`KeySetUnavailable`](Self::KeySetUnavailable).
    RevocationUnavailable,
    /// The request matches no operation of an imported API definition, nor a
    /// path named public: API Gateway's answer for an unknown resource or
    /// method (`403 Missing Authentication Token`). No token was looked at.
    UnknownOperation,
    /// The request's operation is protected by an authorizer this crate cannot
    /// check (IAM, an API key, a Lambda authorizer), and the definition was
    /// imported with such operations refused. No token was looked at.
    UnenforceableOperation,
}

impl AuthErrorKind {
    /// A short, fixed description of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing token",
            Self::InvalidRequest => "invalid request",
            Self::MalformedToken => "malformed token",
            Self::DisallowedAlgorithm => "disallowed algorithm",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::BadSignature => "bad signature",
            Self::UnknownKey => "unknown signing key",
            Self::WrongIssuer => "wrong issuer",
            Self::WrongTokenUse => "wrong token use",
            Self::WrongClient => "wrong app client",
            Self::InsufficientScope => "insufficient scope",
            Self::Forbidden => "forbidden",
            Self::KeySetUnavailable => "key set unavailable",
            Self::Revoked => "token revoked",
            Self::RevocationUnavailable => "revocation check unavailable",
            Self::UnknownOperation => "no such operation",
            Self::UnenforceableOperation => "operation protected by an unsupported authorizer",
        }
    }

    /// The kind in `snake_case`, as it appears in metrics labels and traces:
    /// `missing_token`, `expired`, `key_set_unavailable`, ...
    pub fn label(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidRequest => "invalid_request",
            Self::MalformedToken => "malformed_token",
            Self::DisallowedAlgorithm => "disallowed_algorithm",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::BadSignature => "bad_signature",
            Self::UnknownKey => "unknown_key",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongTokenUse => "wrong_token_use",
            Self::WrongClient => "wrong_client",
            Self::InsufficientScope => "insufficient_scope",
            Self::Forbidden => "forbidden",
            Self::KeySetUnavailable => "key_set_unavailable",
            Self::Revoked => "revoked",
            Self::RevocationUnavailable => "revocation_unavailable",
            Self::UnknownOperation => "unknown_operation",
            Self::UnenforceableOperation => "unenforceable_operation",
        }
    }

    /// Whether the fault lies with the server side (the key set could not be had)
    /// rather than with the client's token.
    pub fn is_server_error(self) -> bool {
        matches!(self, Self::KeySetUnavailable | Self::RevocationUnavailable)
    }
}

/// Writes `Display` for a kind as its `as_str` name: for this one, and for
/// `TokenUse` and the kinds of import and Lambda authorizer errors.
macro_rules! display_as_str {
    ($kind:ty) => {
        impl ::std::fmt::Display for $kind {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use display_as_str;

display_as_str!(AuthErrorKind);

impl AuthError {
    pub(crate) fn new(kind: AuthErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    pub(crate) fn malformed(detail: &'static str) -> Self {
        Self::new(AuthErrorKind::MalformedToken, detail)
    }

    /// The kind of failure.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// A description of what failed, for logs. Never contains the token.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// Configuration that cannot work, reported when a [`Verifier`](crate::Verifier) or
/// layer is built, never on the request path.
///
/// [`kind`](Self::kind) says what is wrong, for code; the `Display` text (and
/// [`message`](Self::message)) says it in words, naming the setting and value:
///
/// ```
/// # use tower_cognito::{ConfigErrorKind, UserPool, Verifier};
/// let err = Verifier::builder()
///     .pool(UserPool::new("not a pool id"))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.kind(), ConfigErrorKind::InvalidPoolId);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid tower-cognito configuration: {message}")]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: String,
}

/// The kind of a [`ConfigError`]: which part of the configuration is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// No user pool is configured: the verifier would refuse every token.
    NoPool,
    /// A user pool id is malformed, is not in the region given with it, or
    /// names no region while no explicit issuer is given.
    InvalidPoolId,
    /// An explicit issuer is not an `https` URL exactly as the tokens' `iss`
    /// has it (a query, a fragment, a trailing `/`), is combined with
    /// `multi_region_issuer`, or (for the load balancer) is empty.
    InvalidIssuer,
    /// Two configured user pools have the same issuer.
    DuplicateIssuer,
    /// A JWKS URL is not a valid `https` URL with a host (plain `http` only on
    /// loopback, unless allowed).
    InvalidJwksUrl,
    /// A static JWKS cannot be read, or breaks a key rule (a bad key, a
    /// repeated `kid`, no key, too many keys).
    InvalidJwks,
    /// A user pool is given more than one of `jwks_url`, `static_jwks` (or
    /// `static_jwks_file`) and `jwks_provider`.
    ConflictingKeySources,
    /// An empty app client id is configured.
    InvalidClientId,
    /// An HTTP API profile or authorizer lists no audience, or an empty one.
    InvalidAudience,
    /// A duration, size or count is outside its allowed range: a leeway over
    /// 5 minutes, a size limit below its minimum, a zero timeout, interval,
    /// cooldown or burst, too many user pools or load balancers.
    OutOfRange,
    /// The default HTTP client for key fetches cannot be built.
    HttpClient,
    /// A layer has no token source, or lists one header twice.
    InvalidTokenSource,
    /// A requirement has a value of the wrong shape: no scopes in a scope
    /// requirement, a scope with a space or quote, an empty group, client or
    /// pool id, a token validation expression that does not compile.
    InvalidRequirement,
    /// A requirement no token could meet: scopes required of ID tokens (which
    /// carry none), a token validation expression on a route that takes only
    /// access tokens (which have no `aud`), a load balancer's access-token
    /// requirement that takes ID tokens, or scopes required of its user claims.
    ContradictoryRequirement,
    /// A gRPC method path is malformed, or a method is named twice.
    InvalidGrpcMethod,
    /// The verifier given to an API definition's layer does not trust one of
    /// the definition's user pools.
    UntrustedPool,
    /// No load balancer ARN is configured: the token's `signer` must be pinned.
    NoLoadBalancer,
    /// A load balancer ARN is malformed.
    InvalidArn,
    /// The load balancers are in several regions or partitions, or the region
    /// set is not theirs.
    InvalidRegion,
    /// The load balancer key endpoint is not a usable `https` base URL, or AWS
    /// documents none for the ARNs' partition and region and none is set.
    InvalidKeyEndpoint,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The same error, its message prefixed with where it was found (such as
    /// the route of an API definition).
    #[cfg(feature = "openapi")]
    pub(crate) fn at(self, place: impl std::fmt::Display) -> Self {
        Self {
            kind: self.kind,
            message: format!("{place}: {}", self.message),
        }
    }

    /// What is wrong, for code.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// What is wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::ConfigErrorKind as K;
    use super::*;
    use crate::{CognitoAuthLayer, Profile, Requirement, TokenSource, UserPool, Verifier};
    use std::time::Duration;

    const POOL: &str = "us-east-1_AbCdEfGhI";

    fn verifier_of(pool: UserPool) -> Result<Verifier, ConfigError> {
        Verifier::builder().pool(pool).build()
    }

    fn verifier() -> Verifier {
        verifier_of(UserPool::new(POOL)).expect("a good configuration")
    }

    fn layer() -> CognitoAuthLayer {
        CognitoAuthLayer::new(verifier())
    }

    /// One case per place that makes a `ConfigError`: its kind, a phrase of
    /// its message, and the configuration that produces it.
    type Case = (K, &'static str, Box<dyn Fn() -> Result<(), ConfigError>>);

    fn case<T>(
        kind: K,
        phrase: &'static str,
        make: impl Fn() -> Result<T, ConfigError> + 'static,
    ) -> Case {
        (kind, phrase, Box::new(move || make().map(drop)))
    }

    fn cases() -> Vec<Case> {
        let builder = || Verifier::builder().pool(UserPool::new(POOL));
        let mut cases = vec![
            // The verifier's builder.
            case(K::NoPool, "no user pool", || Verifier::builder().build()),
            case(K::OutOfRange, "more than 1,000", || {
                Verifier::builder()
                    .pools((0..1001).map(|i| UserPool::new(format!("us-east-1_Pool{i}"))))
                    .build()
            }),
            case(
                K::OutOfRange,
                "leeway is longer than 5 minutes",
                move || builder().leeway(Duration::from_secs(301)).build(),
            ),
            case(K::OutOfRange, "below 64 bytes", move || {
                builder().max_token_size(63).build()
            }),
            case(K::OutOfRange, "below 256 bytes", move || {
                builder().max_jwks_size(255).build()
            }),
            case(K::OutOfRange, "fetch_timeout is zero", move || {
                builder().fetch_timeout(Duration::ZERO).build()
            }),
            case(K::OutOfRange, "more than 10000000 entries", move || {
                builder().token_cache_capacity(u64::MAX).build()
            }),
            case(K::OutOfRange, "unknown_kid_cooldown is zero", move || {
                builder().unknown_kid_cooldown(Duration::ZERO).build()
            }),
            case(K::InvalidClientId, "empty client id", move || {
                builder().client_id("").build()
            }),
            case(K::DuplicateIssuer, "configured twice", move || {
                builder().pool(UserPool::new(POOL)).build()
            }),
            // The user pool.
            case(K::ConflictingKeySources, "only one of", || {
                verifier_of(
                    UserPool::new(POOL)
                        .jwks_url("https://example.com/jwks.json")
                        .static_jwks(r#"{"keys":[]}"#),
                )
            }),
            case(K::InvalidIssuer, "cannot be combined", || {
                verifier_of(
                    UserPool::new(POOL)
                        .multi_region_issuer()
                        .issuer("https://example.com/pool"),
                )
            }),
            case(K::InvalidIssuer, "has scheme `ftp`", || {
                verifier_of(UserPool::new(POOL).issuer("ftp://example.com/pool"))
            }),
            case(K::InvalidIssuer, "has a query", || {
                verifier_of(UserPool::new(POOL).issuer("https://example.com/pool?x"))
            }),
            case(K::InvalidPoolId, "no region prefix", || {
                verifier_of(UserPool::new("AbCdEfGhI"))
            }),
            case(K::InvalidPoolId, "is not in region", || {
                verifier_of(UserPool::in_region("eu-west-1", POOL))
            }),
            case(K::InvalidJwksUrl, "not a valid URL", || {
                verifier_of(UserPool::new(POOL).jwks_url("not a URL"))
            }),
            case(K::InvalidJwksUrl, "plain http", || {
                verifier_of(UserPool::new(POOL).jwks_url("http://example.com/jwks.json"))
            }),
            case(K::InvalidJwks, "has no keys", || {
                verifier_of(UserPool::new(POOL).static_jwks(r#"{"keys":[]}"#))
            }),
            case(K::InvalidJwks, "cannot read static JWKS file", || {
                verifier_of(UserPool::new(POOL).static_jwks_file("/nonexistent/jwks.json"))
            }),
            // The layer and its requirements.
            case(K::InvalidAudience, "at least one audience", || {
                layer().profile(Profile::http_api(Vec::<String>::new()))
            }),
            case(K::InvalidAudience, "empty audience", || {
                layer().profile(Profile::http_api([""]))
            }),
            case(K::InvalidTokenSource, "no token source", || {
                layer().token_sources([])
            }),
            case(K::InvalidTokenSource, "listed twice", || {
                layer().token_sources([
                    TokenSource::header(http::header::AUTHORIZATION),
                    TokenSource::header(http::header::AUTHORIZATION),
                ])
            }),
            case(K::InvalidRequirement, "lists no scopes", || {
                Requirement::any_scope(Vec::<String>::new()).validate()
            }),
            case(K::InvalidRequirement, "contains a space", || {
                Requirement::any_scope(["a b"]).validate()
            }),
            case(K::InvalidRequirement, "empty group name", || {
                Requirement::new().any_group([""]).validate()
            }),
            case(K::InvalidRequirement, "empty user pool id", || {
                Requirement::new().pool_ids([""]).validate()
            }),
            case(K::InvalidRequirement, "does not compile", || {
                Requirement::new().aud_matches("(").validate()
            }),
            case(
                K::ContradictoryRequirement,
                "ID tokens carry no scopes",
                || {
                    Requirement::any_scope(["a"])
                        .token_use(crate::TokenUseRule::Id)
                        .validate()
                },
            ),
            case(
                K::ContradictoryRequirement,
                "access tokens have no aud",
                || {
                    Requirement::new()
                        .token_use(crate::TokenUseRule::Access)
                        .aud_matches("web-.*")
                        .validate()
                },
            ),
        ];
        #[cfg(feature = "grpc")]
        cases.extend([
            case(K::InvalidGrpcMethod, "not a gRPC method path", || {
                crate::grpc::GrpcAuthLayer::new(verifier()).public("/no-method")
            }),
            case(K::InvalidGrpcMethod, "named twice", || {
                crate::grpc::GrpcAuthLayer::new(verifier())
                    .public("/a.B/C")?
                    .public("/a.B/C")
            }),
        ]);
        #[cfg(feature = "openapi")]
        cases.push(case(
            K::UntrustedPool,
            "does not trust the user pool",
            || {
                let definition = crate::openapi::ApiDefinition::from_yaml(&format!(
                    "openapi: 3.0.1\n\
                 paths:\n  /pets:\n    get:\n      security: [{{ Pool: [] }}]\n\
                 components:\n  securitySchemes:\n    Pool:\n      type: apiKey\n      \
                 name: Authorization\n      in: header\n      \
                 x-amazon-apigateway-authorizer:\n        type: cognito_user_pools\n        \
                 providerARNs: [arn:aws:cognito-idp:us-east-1:123456789012:userpool/{POOL}]\n"
                ))
                .expect("a good definition");
                let other = verifier_of(UserPool::new("us-east-1_OtherPool"))?;
                definition.layer(other)
            },
        ));
        #[cfg(feature = "alb")]
        cases.extend(alb_cases());
        cases
    }

    #[cfg(feature = "alb")]
    fn alb_cases() -> Vec<Case> {
        use crate::alb::{AlbAuthLayer, AlbVerifier};
        const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-lb/50dc6c495c0c9188";
        let alb = || AlbVerifier::builder().load_balancer_arn(ARN);
        vec![
            case(K::NoLoadBalancer, "no load balancer ARN", || {
                AlbVerifier::builder().build()
            }),
            case(K::OutOfRange, "more than 100 load balancers", || {
                AlbVerifier::builder()
                    .load_balancer_arns((0..101).map(|i| format!("{ARN}{i}")))
                    .build()
            }),
            case(K::InvalidArn, "six `:`-separated parts", || {
                AlbVerifier::builder().load_balancer_arn("arn:aws").build()
            }),
            case(K::InvalidRegion, "more than one region", move || {
                alb()
                    .load_balancer_arn(ARN.replace("us-east-1", "eu-west-1"))
                    .build()
            }),
            case(
                K::InvalidRegion,
                "is not the load balancers' region",
                move || alb().region("eu-west-1").build(),
            ),
            case(
                K::OutOfRange,
                "leeway is longer than 5 minutes",
                move || alb().leeway(Duration::from_secs(301)).build(),
            ),
            case(
                K::OutOfRange,
                "max_token_size is below 64 bytes",
                move || alb().max_token_size(63).build(),
            ),
            case(
                K::OutOfRange,
                "max_key_size is below 256 bytes",
                move || alb().max_key_size(255).build(),
            ),
            case(K::OutOfRange, "max_key_age is zero", move || {
                alb().max_key_age(Duration::ZERO).build()
            }),
            case(K::OutOfRange, "unknown_kid_burst is zero", move || {
                alb().unknown_kid_burst(0).build()
            }),
            case(K::InvalidClientId, "empty client id or issuer", move || {
                alb().client_id("").build()
            }),
            case(K::InvalidIssuer, "empty client id or issuer", move || {
                alb().issuer("").build()
            }),
            case(
                K::InvalidKeyEndpoint,
                "no load balancer key endpoint",
                || {
                    AlbVerifier::builder()
                        .load_balancer_arn(ARN.replace(":aws:", ":aws-cn:"))
                        .build()
                },
            ),
            case(K::InvalidKeyEndpoint, "not a valid URL", move || {
                alb().key_endpoint("not a URL").build()
            }),
            case(K::InvalidKeyEndpoint, "plain http", move || {
                alb().key_endpoint("http://example.com").build()
            }),
            case(K::InvalidKeyEndpoint, "has scheme `ftp`", move || {
                alb().key_endpoint("ftp://example.com").build()
            }),
            case(K::InvalidKeyEndpoint, "must be a base URL", move || {
                alb().key_endpoint("https://example.com/?q").build()
            }),
            case(K::ContradictoryRequirement, "carry no scopes", move || {
                AlbAuthLayer::new(alb().build()?).require(Requirement::any_scope(["a"]))
            }),
            case(
                K::ContradictoryRequirement,
                "access tokens only",
                move || {
                    AlbAuthLayer::new(alb().build()?).access_token(verifier(), Requirement::new())
                },
            ),
        ]
    }

    #[test]
    fn each_config_error_has_the_kind_of_its_site() {
        let cases = cases();
        for (kind, phrase, make) in &cases {
            let err = make().expect_err(phrase);
            assert_eq!(err.kind(), *kind, "{err}");
            assert!(err.message().contains(phrase), "{phrase:?}: {err}");
            assert_eq!(
                err.to_string(),
                format!("invalid tower-cognito configuration: {}", err.message())
            );
        }
        // Every kind is made somewhere (but the HTTP client's, which a test
        // cannot make fail); the match makes a new kind join this list.
        let all = |kind: K| match kind {
            K::NoPool
            | K::InvalidPoolId
            | K::InvalidIssuer
            | K::DuplicateIssuer
            | K::InvalidJwksUrl
            | K::InvalidJwks
            | K::ConflictingKeySources
            | K::InvalidClientId
            | K::InvalidAudience
            | K::OutOfRange
            | K::InvalidTokenSource
            | K::InvalidRequirement
            | K::ContradictoryRequirement => true,
            K::InvalidGrpcMethod => cfg!(feature = "grpc"),
            K::UntrustedPool => cfg!(feature = "openapi"),
            K::NoLoadBalancer | K::InvalidArn | K::InvalidRegion | K::InvalidKeyEndpoint => {
                cfg!(feature = "alb")
            }
            K::HttpClient => false,
        };
        for kind in [
            K::NoPool,
            K::InvalidPoolId,
            K::InvalidIssuer,
            K::DuplicateIssuer,
            K::InvalidJwksUrl,
            K::InvalidJwks,
            K::ConflictingKeySources,
            K::InvalidClientId,
            K::InvalidAudience,
            K::OutOfRange,
            K::HttpClient,
            K::InvalidTokenSource,
            K::InvalidRequirement,
            K::ContradictoryRequirement,
            K::InvalidGrpcMethod,
            K::UntrustedPool,
            K::NoLoadBalancer,
            K::InvalidArn,
            K::InvalidRegion,
            K::InvalidKeyEndpoint,
        ] {
            assert_eq!(
                cases.iter().any(|(k, ..)| *k == kind),
                all(kind),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn auth_and_import_errors_keep_their_display() {
        let err = AuthError::new(AuthErrorKind::Expired, "exp has passed");
        assert_eq!(err.to_string(), "token expired: exp has passed");
        assert_eq!(
            format!("{err:?}"),
            r#"AuthError { kind: Expired, detail: "exp has passed" }"#
        );
        #[cfg(feature = "openapi")]
        {
            use crate::openapi::{ImportError, ImportErrorKind};
            let err = ImportError::new(ImportErrorKind::Invalid, "bad");
            assert_eq!(err.to_string(), "bad");
            assert_eq!(err.at("GET /pets").to_string(), "GET /pets: bad");
        }
    }
}
