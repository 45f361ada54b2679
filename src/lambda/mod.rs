//! An API Gateway Lambda authorizer for Cognito tokens, in Rust (feature
//! `lambda`).
//!
//! AWS's "Integrating Amazon Cognito User Pools with API Gateway" protects its
//! Notes service with a custom authorizer written for Node.js: a Lambda
//! function that API Gateway calls with the caller's token and that answers with
//! an IAM policy. [`Authorizer`] is that function, with this crate's
//! [`Verifier`](crate::Verifier) doing the check and a [`Requirement`](crate::Requirement)
//! saying which tokens pass:
//!
//! ```no_run
//! use tower_cognito::lambda::Authorizer;
//! use tower_cognito::{Requirement, TokenUseRule, UserPool, Verifier};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     let verifier = Verifier::new(UserPool::new("us-east-1_AbCdEfGhI"))?;
//!     // Keys fetched during the init phase, not on the first call.
//!     verifier.prefetch().await.ok();
//!     Authorizer::new(verifier)
//!         .require(Requirement::new().token_use(TokenUseRule::Access))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! `examples/lambda_authorizer.rs` is the Notes authorizer configured from
//! environment variables, as the Node one is configured by editing its source.
//!
//! # What it follows
//!
//! - **Input**, from AWS's "Input to an API Gateway Lambda authorizer": a TOKEN
//!   event is `{"type": "TOKEN", "authorizationToken": "…", "methodArn": "…"}`;
//!   a REQUEST event carries `headers`, `multiValueHeaders`, the path, query
//!   string, stage variables and `requestContext` instead of
//!   `authorizationToken`. [`AuthorizerEvent`] is either, told apart by `type`.
//! - **Output**, from "Output from an API Gateway Lambda authorizer":
//!   `principalId`, a `policyDocument` with `Version` `2012-10-17` and one
//!   statement (`Action` `execute-api:Invoke`, `Effect` `Allow` or `Deny`,
//!   `Resource` the method ARN), and a `context` whose values may only be
//!   strings, numbers or booleans (an array or object there makes API Gateway
//!   fail the call). The response is `aws_lambda_events`'
//!   [`ApiGatewayCustomAuthorizerResponse`], which writes `Action` and
//!   `Resource` as one-element arrays (the IAM grammar allows a string or an
//!   array) and `usageIdentifierKey` as `null` unless you set it (for usage
//!   plans whose API key source is `AUTHORIZER`).
//! - **Decisions**, from the Notes authorizer's code on the seed page: a token
//!   that is not a JWT, is from another issuer, is not an access token, names an
//!   unknown `kid`, or fails `jwt.verify` (signature, expiry) is answered with
//!   the error `Unauthorized`, which API Gateway turns into 401; when the key
//!   set cannot be downloaded it fails with another error, which API Gateway
//!   turns into 500. On success `principalId` is the token's `sub`, "not
//!   username because username is reassignable".
//! - **Where the page is silent**, fail-closed: a token the
//!   [`Requirement`](crate::Requirement) refuses for scope, group or a custom
//!   check (the Node code checks none) gets an explicit `Deny` for its `sub`,
//!   which API Gateway answers 403 (AWS's "Use API Gateway Lambda authorizers":
//!   a denied policy is answered 403 `ACCESS_DENIED`). The line is the one the
//!   layer's RFC 6750 responses draw: where they answer 403
//!   (`insufficient_scope`) the authorizer denies, where they answer 400 or 401
//!   (a token of another app client included) it answers `Unauthorized`. An
//!   event of the wrong `type` or without a `methodArn` is an error (500), never
//!   a policy. When no key can be had the answer is an error, never an Allow; a
//!   key set fetched before still serves within
//!   [`max_stale`](crate::VerifierBuilder::max_stale), as it does for the layer.
//!   A `Deny` for a token that does not verify is not offered: a policy needs a
//!   `principalId`, and such a token has no `sub` one could trust.
//! - **Context**: the claims as [`ApiGatewayClaims`](crate::ApiGatewayClaims)
//!   renders them, the strings API Gateway's own Cognito authorizer hands a
//!   backend (`$context.authorizer.claims`), so a backend reads
//!   `event.requestContext.authorizer["cognito:groups"]` or `["email"]` the same
//!   way. A `Deny` carries an empty context.
//!
//! # Caching
//!
//! API Gateway caches an authorizer's answer per token (TOKEN) or identity
//! sources (REQUEST) for the authorizer's TTL, 300 s by default, and applies the
//! cached policy to the same caller's later calls, to any method of the API that
//! uses this authorizer. Two things follow:
//!
//! - A policy for one `methodArn` denies the cached caller every other method
//!   (AWS's knowledge center article on 403 "User is not authorized to access
//!   this resource" with caching). Use [`PolicyResource::Stage`] when the
//!   authorizer protects several methods and caching is on.
//! - An entry lives for the TTL, not until the token's `exp`: a token that
//!   expires meanwhile keeps its cached Allow until the entry goes. Keep the TTL
//!   well under your tokens' lifetime (Cognito's shortest is 5 minutes).
//!
//! # Logs
//!
//! Refusals are logged with `tracing` at debug level (the [`AuthErrorKind`](crate::AuthErrorKind)
//! and the crate's fixed detail), key set failures at warn; the token never is.
//! `lambda_runtime` itself logs a raw event it cannot parse at TRACE level, and
//! that event holds the token: leave TRACE off for `lambda_runtime` in production.
//!
//! # Outside API Gateway's authorizer
//!
//! A function behind a Function URL or an API without an authorizer protects
//! itself instead: `lambda_http` runs any Tower service, so put
//! [`CognitoAuthLayer`](crate::CognitoAuthLayer) in front of the axum router
//! (`examples/lambda_http.rs`). That needs no `lambda` feature.

mod authorizer;
mod error;
mod event;

pub use authorizer::{Authorizer, PolicyResource};
pub use error::{AuthorizerError, AuthorizerErrorKind};
pub use event::AuthorizerEvent;

/// The `aws_lambda_events` types in this module's signatures, re-exported so
/// that no matching version of that crate is needed.
pub use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
/// The statement and effect types of the policy document.
pub use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
