//! [`Authorizer`]: a Cognito token in, an IAM policy out.

use super::error::AuthorizerError;
use super::event::AuthorizerEvent;
use crate::auth::requirement::Requirement;
use crate::auth::{self, TokenSource};
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::verifier::Verifier;
use crate::verifier::claims::ApiGatewayClaims;
use crate::verifier::claims::Claims;
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use lambda_runtime::LambdaEvent;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_service::Service;

/// The IAM policy language version API Gateway's examples use.
const POLICY_VERSION: &str = "2012-10-17";
/// The action a policy allows or denies.
const INVOKE: &str = "execute-api:Invoke";

/// What the policy's `Resource` names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyResource {
    /// The `methodArn` of the event, unchanged: the one method being called
    /// (the default, and the shape of AWS's output example).
    ///
    /// With authorizer caching on (API Gateway's default TTL is 300 s), the
    /// cached policy is applied to the same token's calls to *other* methods,
    /// which it does not name: API Gateway answers those 403 until the entry
    /// expires. Turn caching off, or use [`Stage`](Self::Stage).
    #[default]
    MethodArn,
    /// Every method of the stage the request came to:
    /// `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/*/*`, as
    /// the Lambda console blueprint's `allowAllMethods()`. Safe with caching:
    /// one authorizer applies one [`Requirement`] to every method it protects,
    /// and methods behind other authorizers have their own cache.
    Stage,
}

/// An API Gateway (REST API) Lambda authorizer that verifies Amazon Cognito
/// tokens: the Notes service's custom authorizer of AWS's "Integrating Amazon
/// Cognito User Pools with API Gateway", with this crate's full check.
///
/// For each event it reads the token, verifies it with the [`Verifier`], applies
/// the [`Requirement`], and answers (see the [module docs](super) for where
/// each rule comes from):
///
/// | case | answer | API Gateway's response |
/// |---|---|---|
/// | token passes | `Allow` policy for the `methodArn`, `principalId` = `sub`, the claims as strings in `context` | the backend is called |
/// | no token, or not a valid token of the pool (malformed, bad signature, unknown key, expired, wrong issuer, wrong app client, wrong token use) | the error `Unauthorized` | 401 |
/// | valid token the requirement refuses (scope, group, custom check) | `Deny` policy for the `methodArn`, `principalId` = `sub`, empty `context` | 403 |
/// | no key can be had (JWKS endpoint down, nothing cached) | another error ([`AuthorizerErrorKind::KeySetUnavailable`](super::AuthorizerErrorKind::KeySetUnavailable)) | 500 |
/// | not a TOKEN or REQUEST event, or no `methodArn` | another error ([`AuthorizerErrorKind::InvalidEvent`](super::AuthorizerErrorKind::InvalidEvent)) | 500 |
///
/// Cloning is cheap and clones share the verifier's caches. Build one in
/// `main`, outside the handler, so that a warm Lambda environment keeps the
/// keys and the verified tokens between invocations.
///
/// ```
/// use tower_cognito::lambda::Authorizer;
/// use tower_cognito::test_util::LocalUserPool;
/// use tower_cognito::{Requirement, TokenUseRule};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // In production: Verifier::builder().pool(UserPool::new("us-east-1_AbCdEfGhI")).build()?
/// let pool = LocalUserPool::start().await?;
/// // The Notes authorizer takes access tokens only.
/// let authorizer = Authorizer::new(pool.verifier())
///     .require(Requirement::new().token_use(TokenUseRule::Access))?;
///
/// let token = pool.access_token().sub("user-1").sign();
/// let event = serde_json::from_value(serde_json::json!({
///     "type": "TOKEN",
///     "authorizationToken": token,
///     "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/notes",
/// }))?;
/// let response = authorizer.authorize(event).await?;
/// assert_eq!(response.principal_id.as_deref(), Some("user-1"));
/// let policy = serde_json::to_value(&response.policy_document)?;
/// assert_eq!(policy["Statement"][0]["Effect"], "Allow");
/// assert_eq!(response.context["token_use"], "access");
///
/// // An ID token is not an access token: the error API Gateway answers 401 for.
/// let event = serde_json::from_value(serde_json::json!({
///     "type": "TOKEN",
///     "authorizationToken": pool.id_token().sign(),
///     "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/notes",
/// }))?;
/// let error = authorizer.authorize(event).await.unwrap_err();
/// assert_eq!(error.to_string(), "Unauthorized");
/// # Ok(()) }
/// ```
///
/// On Lambda, [`run`](Self::run) it, or hand it to `lambda_runtime::run`
/// yourself: it is a Tower [`Service`] of `LambdaEvent<AuthorizerEvent>`.
#[derive(Clone, Debug)]
#[must_use]
pub struct Authorizer {
    verifier: Verifier,
    config: Arc<Config>,
}

#[derive(Clone, Debug)]
struct Config {
    requirement: Requirement,
    header: HeaderName,
    resource: PolicyResource,
}

impl Authorizer {
    /// An authorizer that takes ID tokens (API Gateway's rule for a method
    /// without scopes; use [`require`](Self::require) for access tokens),
    /// reads REQUEST events' token from `Authorization`, and writes policies for
    /// the `methodArn`.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            config: Arc::new(Config {
                requirement: Requirement::new(),
                header: AUTHORIZATION,
                resource: PolicyResource::default(),
            }),
        }
    }

    /// Applies this requirement to verified tokens. Fails when no token could
    /// meet it (see [`Requirement::validate`]).
    pub fn require(mut self, requirement: Requirement) -> Result<Self, ConfigError> {
        requirement.validate()?;
        Arc::make_mut(&mut self.config).requirement = requirement;
        Ok(self)
    }

    /// Reads a REQUEST event's token from this header instead of
    /// `Authorization` (compared without regard to case). TOKEN events carry
    /// the token source header's value in `authorizationToken`, whatever the
    /// header is called.
    pub fn header(mut self, name: HeaderName) -> Self {
        Arc::make_mut(&mut self.config).header = name;
        self
    }

    /// What the policies name (default: [`PolicyResource::MethodArn`]).
    pub fn resource(mut self, resource: PolicyResource) -> Self {
        Arc::make_mut(&mut self.config).resource = resource;
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The requirement.
    pub fn requirement(&self) -> &Requirement {
        &self.config.requirement
    }

    /// Answers a TOKEN or a REQUEST event.
    pub async fn authorize(
        &self,
        event: AuthorizerEvent,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, AuthorizerError> {
        match event {
            AuthorizerEvent::Token(event) => self.authorize_token(event).await,
            AuthorizerEvent::Request(event) => self.authorize_request(*event).await,
        }
    }

    /// Answers a TOKEN event: the token is `authorizationToken`, bare or as
    /// `Bearer <token>` (scheme in any case).
    pub async fn authorize_token(
        &self,
        event: ApiGatewayCustomAuthorizerRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, AuthorizerError> {
        let method_arn = method_arn(event.type_.as_deref(), "TOKEN", event.method_arn.as_deref())?;
        // The value of the token source header, read as the layer reads one.
        let mut headers = HeaderMap::new();
        if let Some(text) = event.authorization_token.as_deref() {
            let value = HeaderValue::from_str(text).map_err(|_| {
                refuse(AuthError::new(
                    AuthErrorKind::InvalidRequest,
                    "authorizationToken is not a valid header value",
                ))
            })?;
            headers.insert(AUTHORIZATION, value);
        }
        self.decide(headers, &AUTHORIZATION, method_arn).await
    }

    /// Answers a REQUEST event: the token is in the configured header
    /// ([`header`](Self::header), `Authorization` by default), looked up
    /// without regard to case in `multiValueHeaders` and `headers`, bare or as
    /// `Bearer <token>`. Two values of the header are refused, as the layer
    /// refuses two headers.
    pub async fn authorize_request(
        &self,
        event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, AuthorizerError> {
        let method_arn = method_arn(
            event.type_.as_deref(),
            "REQUEST",
            event.method_arn.as_deref(),
        )?;
        let name = &self.config.header;
        // multiValueHeaders holds every value sent; headers only one of them.
        let headers = if event.multi_value_headers.contains_key(name) {
            event.multi_value_headers
        } else {
            event.headers
        };
        self.decide(headers, name, method_arn).await
    }

    /// Runs the authorizer as the Lambda function: reads events from the Lambda
    /// runtime API and answers them until the environment shuts down; returns
    /// only on a failure of the runtime itself.
    ///
    /// Only on Lambda: `lambda_runtime` reads the variables Lambda sets
    /// (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, …) and panics
    /// without them. `examples/lambda_authorizer.rs` checks
    /// `AWS_LAMBDA_RUNTIME_API` first and answers an event from standard input
    /// elsewhere.
    pub async fn run(self) -> Result<(), lambda_runtime::Error> {
        lambda_runtime::run(self).await
    }

    /// Reads the token from the header `name` of `headers` with the layer's
    /// rules (one value, `Bearer` or bare), verifies it and writes the answer.
    async fn decide(
        &self,
        headers: HeaderMap,
        name: &HeaderName,
        method_arn: &str,
    ) -> Result<ApiGatewayCustomAuthorizerResponse, AuthorizerError> {
        let mut request = Request::new(());
        *request.headers_mut() = headers;
        let source = [TokenSource::header(name.clone())];
        let claims = match auth::token(&source, &request) {
            Ok(token) => self.verifier.verify(&token).await,
            Err(error) => Err(error),
        }
        .map_err(refuse)?;
        let resource = match self.config.resource {
            PolicyResource::MethodArn => method_arn.to_owned(),
            PolicyResource::Stage => stage_arn(method_arn)?,
        };
        match self.config.requirement.evaluate(&claims) {
            Ok(()) => {
                tracing::debug!(sub = claims.sub(), "authorizer: allow");
                Ok(response(
                    &claims,
                    IamPolicyEffect::Allow,
                    resource,
                    context(&claims),
                ))
            }
            Err(error) => match error.kind() {
                // A genuine token of the pool that this API does not grant:
                // the page is silent; an explicit Deny (403) for its sub.
                AuthErrorKind::InsufficientScope | AuthErrorKind::Forbidden => {
                    tracing::debug!(
                        sub = claims.sub(),
                        kind = ?error.kind(),
                        detail = error.detail(),
                        "authorizer: deny"
                    );
                    Ok(response(
                        &claims,
                        IamPolicyEffect::Deny,
                        resource,
                        Map::new(),
                    ))
                }
                _ => Err(refuse(error)),
            },
        }
    }
}

/// The error for a token that did not pass: `Unauthorized` for anything wrong
/// with the token or its absence, as the Notes authorizer does; another error
/// (500) when no key could be had, as it does when the JWKS download fails.
fn refuse(error: AuthError) -> AuthorizerError {
    match error.kind() {
        AuthErrorKind::KeySetUnavailable | AuthErrorKind::RevocationUnavailable => {
            tracing::warn!(
                kind = ?error.kind(),
                detail = error.detail(),
                "authorizer: no key to verify the token"
            );
            AuthorizerError::key_set_unavailable(error)
        }
        AuthErrorKind::MissingToken
        | AuthErrorKind::InvalidRequest
        | AuthErrorKind::MalformedToken
        | AuthErrorKind::DisallowedAlgorithm
        | AuthErrorKind::Expired
        | AuthErrorKind::NotYetValid
        | AuthErrorKind::BadSignature
        | AuthErrorKind::UnknownKey
        | AuthErrorKind::WrongIssuer
        | AuthErrorKind::WrongTokenUse
        | AuthErrorKind::WrongClient
        | AuthErrorKind::InsufficientScope
        | AuthErrorKind::Forbidden
        | AuthErrorKind::Revoked
        | AuthErrorKind::UnknownOperation
        | AuthErrorKind::UnenforceableOperation => {
            tracing::debug!(
                kind = ?error.kind(),
                detail = error.detail(),
                "authorizer: unauthorized"
            );
            AuthorizerError::unauthorized(error)
        }
    }
}

fn check_type(found: Option<&str>, expected: &'static str) -> Result<(), AuthorizerError> {
    match found {
        None => Ok(()),
        Some(found) if found == expected => Ok(()),
        Some(_) => Err(AuthorizerError::invalid_event(match expected {
            "TOKEN" => "a TOKEN event was expected, the event's type is another",
            _ => "a REQUEST event was expected, the event's type is another",
        })),
    }
}

/// The event's `methodArn`, once its `type` (`event_type`, when it has one)
/// is the one `expected`.
fn method_arn<'a>(
    event_type: Option<&str>,
    expected: &'static str,
    arn: Option<&'a str>,
) -> Result<&'a str, AuthorizerError> {
    check_type(event_type, expected)?;
    match arn {
        Some(arn) if !arn.is_empty() => Ok(arn),
        _ => Err(AuthorizerError::invalid_event("the event has no methodArn")),
    }
}

/// `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/*/*` from a
/// method ARN `…:{apiId}/{stage}/{verb}/{resource…}`.
fn stage_arn(method_arn: &str) -> Result<String, AuthorizerError> {
    let bad = || AuthorizerError::invalid_event("the methodArn is not an execute-api method ARN");
    let parts: Vec<&str> = method_arn.splitn(6, ':').collect();
    let [arn, partition, service, region, account, path] = parts[..] else {
        return Err(bad());
    };
    let mut segments = path.split('/');
    let (Some(api), Some(stage)) = (segments.next(), segments.next()) else {
        return Err(bad());
    };
    if arn != "arn"
        || service != "execute-api"
        || [partition, region, account, api, stage]
            .iter()
            .any(|s| s.is_empty() || s.contains('*'))
    {
        return Err(bad());
    }
    Ok(format!(
        "arn:{partition}:execute-api:{region}:{account}:{api}/{stage}/*/*"
    ))
}

/// The claims as API Gateway's flat strings: context values may only be
/// strings, numbers or booleans ("Output from an API Gateway Lambda
/// authorizer").
fn context(claims: &Claims) -> Map<String, Value> {
    ApiGatewayClaims::new(claims)
        .into_map()
        .into_iter()
        .map(|(name, value)| (name, Value::String(value)))
        .collect()
}

fn response(
    claims: &Claims,
    effect: IamPolicyEffect,
    resource: String,
    context: Map<String, Value>,
) -> ApiGatewayCustomAuthorizerResponse {
    // The event types are non-exhaustive: built from their defaults, field by
    // field, so that aws_lambda_events' `catch-all-fields` feature changes nothing.
    let mut statement = IamPolicyStatement::default();
    statement.action = vec![INVOKE.to_owned()];
    statement.effect = effect;
    statement.resource = vec![resource];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some(POLICY_VERSION.to_owned());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(claims.sub().to_owned());
    response.policy_document = policy;
    response.context = Value::Object(context);
    response
}

/// The future of the [`Service`] implementation.
type AuthorizeFuture = Pin<
    Box<dyn Future<Output = Result<ApiGatewayCustomAuthorizerResponse, AuthorizerError>> + Send>,
>;

/// The authorizer as a Tower service of Lambda events, for `lambda_runtime::run`
/// (which [`Authorizer::run`] calls) or a stack of Tower layers in front of it.
impl Service<LambdaEvent<AuthorizerEvent>> for Authorizer {
    type Response = ApiGatewayCustomAuthorizerResponse;
    type Error = AuthorizerError;
    type Future = AuthorizeFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<AuthorizerEvent>) -> Self::Future {
        let authorizer = self.clone();
        Box::pin(async move { authorizer.authorize(event.payload).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_arn_covers_every_method_of_the_stage() {
        let arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/notes/42";
        assert_eq!(
            stage_arn(arn).unwrap(),
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/*/*"
        );
        assert_eq!(
            stage_arn("arn:aws-cn:execute-api:cn-north-1:123456789012:api/v1/POST/").unwrap(),
            "arn:aws-cn:execute-api:cn-north-1:123456789012:api/v1/*/*"
        );
        for bad in [
            "",
            "arn:aws:lambda:us-east-1:123456789012:function/x",
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123",
            "arn:aws:execute-api:us-east-1::abcdef123/prod/GET/",
            "arn:aws:execute-api:us-east-1:123456789012:*/prod/GET/",
            "not an arn",
        ] {
            assert!(stage_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn types_are_checked() {
        assert!(check_type(None, "TOKEN").is_ok());
        assert!(check_type(Some("TOKEN"), "TOKEN").is_ok());
        assert!(check_type(Some("REQUEST"), "TOKEN").is_err());
        assert!(check_type(Some("token"), "TOKEN").is_err());
    }
}
