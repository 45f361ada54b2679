//! The third front door: an Application Load Balancer's `authenticate-cognito`
//! or `authenticate-oidc` action (feature `alb`).
//!
//! After it authenticates a user, the load balancer adds three headers to the
//! request it forwards:
//!
//! | header | what it holds | what this module does with it |
//! |---|---|---|
//! | `x-amzn-oidc-data` | the user claims (the identity provider's user info) as a JWT the load balancer signs with ES256 | verifies it ([`AlbVerifier`]): the claims become [`Claims`](crate::Claims) |
//! | `x-amzn-oidc-identity` | the `sub`, plain text, unsigned | refuses the request unless it is exactly the verified `sub`; never uses it |
//! | `x-amzn-oidc-accesstoken` | the identity provider's access token, plain text | with [`AlbAuthLayer::access_token`], verifies it as a Cognito access token, so that routes can require scopes |
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use std::convert::Infallible;
//! use tower::{Layer, ServiceExt, service_fn};
//! use tower_cognito::Claims;
//! use tower_cognito::alb::AlbAuthLayer;
//! use tower_cognito::test_util::alb::LocalAlb;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A stand-in for the load balancer's key endpoint (feature `test-util`). In production:
//! // AlbVerifier::builder().load_balancer_arn("arn:aws:elasticloadbalancing:...").client_id("...")
//! //     .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_...").build()?
//! let alb = LocalAlb::start().await?;
//! let service = AlbAuthLayer::new(alb.verifier()).layer(service_fn(|request: Request<String>| async move {
//!     let claims = request.extensions().get::<Claims>().expect("set by the layer");
//!     Ok::<_, Infallible>(Response::new(format!("hello {}", claims.email().unwrap_or("?"))))
//! }));
//!
//! // The headers the load balancer would add, signed as it signs them.
//! let data = alb.data().sub("user-1").email("alice@example.com").sign();
//! let request = Request::get("/")
//!     .header("x-amzn-oidc-data", data)
//!     .header("x-amzn-oidc-identity", "user-1")
//!     .body(String::new())?;
//! assert_eq!(service.clone().oneshot(request).await?.status(), StatusCode::OK);
//!
//! // Another load balancer of the same region: refused, the handler never runs.
//! let other = alb.data().signer(alb.other_load_balancer_arn()).sign();
//! let request = Request::get("/").header("x-amzn-oidc-data", other).body(String::new())?;
//! assert_eq!(service.oneshot(request).await?.status(), StatusCode::UNAUTHORIZED);
//! # Ok(()) }
//! ```
//!
//! # What AWS documents, and what is followed
//!
//! From AWS's Elastic Load Balancing User Guide, "Authenticate users using an
//! Application Load Balancer", section "User claims encoding and signature
//! verification":
//!
//! - the headers above; the token's header fields `alg`, `kid`, `signer` (the
//!   load balancer's ARN), `iss`, `client` and `exp`; its payload, the user
//!   claims from the identity provider's user info endpoint (`sub`, `email`,
//!   `username`, ...);
//! - the signature is ECDSA with P-256 and SHA-256 (ES256);
//! - the segments are base64url *with padding* at the end, which standard JWT
//!   libraries refuse: exactly that padding is accepted here, nothing else;
//! - the public key is a PEM document at
//!   `https://public-keys.auth.elb.{region}.amazonaws.com/{kid}`, and in AWS
//!   GovCloud (US) at
//!   `https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1/{kid}`
//!   and
//!   `https://s3-us-gov-east-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-east-1/{kid}`.
//!   The endpoint is chosen from the ARNs' partition and region; for partitions
//!   the page documents no endpoint for (China, the isolated regions), none is
//!   guessed: [`key_endpoint`](AlbVerifierBuilder::key_endpoint) must be set;
//! - verify the signature before authorizing anything, and check that `signer`
//!   is your load balancer's ARN: that pin is required configuration here
//!   ([`load_balancer_arn`](AlbVerifierBuilder::load_balancer_arn)), so a token
//!   of another load balancer, even one in the same region whose key the same
//!   endpoint serves, is refused.
//!
//! AWS's reference library (`aws-jwt-verify`, `AlbJwtVerifier`) checks `signer`,
//! `client`, `iss` and `exp` the same way.
//!
//! # Where this is stricter
//!
//! - `alg` is pinned to ES256, never taken from the token (`none`, HMAC, RSA and
//!   everything else refused before any key is fetched); `crit` is refused.
//! - Only the padding RFC 4648 gives each segment's length, or none: a wrong
//!   amount of `=`, `=` inside a segment, the standard alphabet's `+` and `/`,
//!   whitespace and non-zero trailing bits are refused.
//! - Duplicate JSON member names are refused in the header and the payload.
//! - `exp` must be an integer in the header (and in the payload, if it has one;
//!   the earlier wins); a payload `iss` must equal the header's.
//! - The `kid` must stay one path segment of the key URL (visible ASCII, no
//!   `/`, `\`, `..`, at most 128 bytes) and is percent-encoded into it; the key
//!   must be an uncompressed P-256 point in a SubjectPublicKeyInfo.
//! - `x-amzn-oidc-identity` is compared with the verified `sub`; two
//!   `x-amzn-oidc-data` (or identity, or access token) headers are refused.
//! - Key fetches follow no redirects, are size-limited and rate-limited, and run
//!   single-flight per `kid` ([`AlbVerifierBuilder`] has the settings); plain
//!   `http` endpoints only on loopback.
//! - One region (and partition) per verifier, since the keys are regional.
//!
//! # Caches
//!
//! Keys are kept by `kid` (up to [`max_key_age`](AlbVerifierBuilder::max_key_age));
//! verified tokens by their whole text until their `exp`
//! ([`token_cache_capacity`](AlbVerifierBuilder::token_cache_capacity)). The
//! identity header, the access token and the route's requirement are checked on
//! every request.

mod keys;
mod layer;
mod token;
mod verifier;

pub use layer::{
    ACCESS_TOKEN_HEADER, AlbAuth, AlbAuthLayer, AlbUserClaims, DATA_HEADER, IDENTITY_HEADER,
};
pub use verifier::{
    AlbVerifier, AlbVerifierBuilder, DEFAULT_MAX_ALB_TOKEN_SIZE, DEFAULT_MAX_KEY_SIZE,
};
