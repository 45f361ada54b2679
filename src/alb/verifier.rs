//! [`AlbVerifier`]: turns an `x-amzn-oidc-data` value into verified [`Claims`].

use super::keys::{KeySettings, KeySource};
use super::token;
use crate::error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};
use crate::setters::shared_setters;
use crate::verifier::SharedSettings;
use crate::verifier::claims::Claims;
use crate::verifier::pool::{check_region, parse_https};
use moka::Expiry;
use moka::sync::Cache;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::defaults::{self, LONGEST_TOKEN_LIFETIME, MAX_LOAD_BALANCERS};
pub use crate::defaults::{DEFAULT_MAX_ALB_TOKEN_SIZE, DEFAULT_MAX_KEY_SIZE};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Verifies the user claims an Application Load Balancer signs and sends in
/// `x-amzn-oidc-data` after `authenticate-cognito` or `authenticate-oidc`.
///
/// A token passes when, in this order:
/// 1. it is at most [`max_token_size`](AlbVerifierBuilder::max_token_size) bytes;
/// 2. it has three base64url segments, each unpadded or with exactly the padding
///    the load balancer adds (nothing else non-canonical), and its header and
///    payload are JSON objects without duplicate names;
/// 3. its header says `alg: ES256` (pinned), has no `crit`, a `kid` that stays
///    one path segment, a `signer`, and an integer `exp`;
/// 4. `signer` is one of the configured load balancer ARNs (a token of any
///    other load balancer, in this region or any, is refused before a key is
///    fetched); the header's `client` and `iss` are configured ones, when
///    [client ids](AlbVerifierBuilder::client_id) and
///    [issuers](AlbVerifierBuilder::issuer) are configured; a payload `iss`
///    equals the header's;
/// 5. the key endpoint's P-256 key for that `kid` verifies the ES256 signature;
/// 6. the header's `exp` (and the payload's, if it has one) is in the future,
///    with the configured [`leeway`](AlbVerifierBuilder::leeway); a payload
///    `nbf` has come;
/// 7. the payload has a non-empty string `sub`, and `email`, `username`,
///    `name` and `cognito:username` are strings when present.
///
/// The claims read as an ID token's ([`TokenUse::Id`](crate::TokenUse::Id): who
/// the user is), with no scopes or groups, `exp` from the header, and
/// [`pool_id`](Claims::pool_id) read from a Cognito issuer
/// (`https://cognito-idp.{region}.amazonaws.com/{pool}`; empty for other
/// identity providers).
///
/// Cloning is cheap; clones share the key cache and the verified-token cache.
///
/// ```
/// use tower_cognito::alb::AlbVerifier;
///
/// # fn demo() -> Result<(), tower_cognito::ConfigError> {
/// let verifier = AlbVerifier::builder()
///     .load_balancer_arn(
///         "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-lb/50dc6c495c0c9188",
///     )
///     .client_id("1example23456789")
///     .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI")
///     .build()?;
/// assert_eq!(verifier.region(), "us-east-1");
/// assert_eq!(verifier.key_endpoint(), "https://public-keys.auth.elb.us-east-1.amazonaws.com");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AlbVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    arns: Vec<String>,
    region: String,
    client_ids: Vec<String>,
    issuers: Vec<String>,
    leeway: u64,
    max_token_size: usize,
    keys: Arc<KeySource>,
    tokens: Option<Cache<String, Verified>>,
}

/// What a verified token gives: the claims, and the header's `client` (for
/// the access token's binding in the layer).
#[derive(Clone, Debug)]
pub(crate) struct Verified {
    pub(crate) claims: Claims,
    pub(crate) client: Option<Arc<str>>,
}

struct UntilExp;

impl Expiry<String, Verified> for UntilExp {
    fn expire_after_create(
        &self,
        _: &String,
        value: &Verified,
        _: std::time::Instant,
    ) -> Option<Duration> {
        let left = value.claims.exp().saturating_sub(now_secs());
        // Within Cognito's longest token lifetime, so that an absurd exp cannot
        // overflow the cache's clock.
        Some(Duration::from_secs(left).min(LONGEST_TOKEN_LIFETIME))
    }
}

impl fmt::Debug for AlbVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlbVerifier")
            .field("load_balancer_arns", &self.inner.arns)
            .field("region", &self.inner.region)
            .field("key_endpoint", &self.inner.keys.base())
            .field("client_ids", &self.inner.client_ids)
            .field("issuers", &self.inner.issuers)
            .field("leeway_secs", &self.inner.leeway)
            .field("max_token_size", &self.inner.max_token_size)
            .field("token_cache", &self.inner.tokens.is_some())
            .finish()
    }
}

impl AlbVerifier {
    /// A builder with secure defaults; at least one load balancer ARN is required.
    pub fn builder() -> AlbVerifierBuilder {
        AlbVerifierBuilder::default()
    }

    /// Verifies an `x-amzn-oidc-data` value and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        self.check_size(token)?;
        if let Some(verified) = self.cached(token) {
            return Ok(verified.claims);
        }
        self.verify_miss(token).await.map(|v| v.claims)
    }

    /// The trusted load balancers' ARNs.
    pub fn load_balancer_arns(&self) -> impl Iterator<Item = &str> {
        self.inner.arns.iter().map(String::as_str)
    }

    /// The load balancers' region.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// Where keys are fetched: `{key_endpoint}/{kid}`.
    pub fn key_endpoint(&self) -> &str {
        self.inner.keys.base()
    }

    pub(crate) fn check_size(&self, token: &str) -> Result<(), AuthError> {
        if token.len() > self.inner.max_token_size {
            return Err(AuthError::malformed("token is larger than the size limit"));
        }
        Ok(())
    }

    /// A token verified before, still in the cache and unexpired. Never waits.
    pub(crate) fn cached(&self, token: &str) -> Option<Verified> {
        let cache = self.inner.tokens.as_ref()?;
        let hit = cache.get(token)?;
        if now_secs() < hit.claims.exp().saturating_add(self.inner.leeway) {
            return Some(hit);
        }
        cache.invalidate(token);
        None
    }

    /// Verifies a token [`cached`](Self::cached) did not know, and remembers it.
    pub(crate) async fn verify_miss(&self, token: &str) -> Result<Verified, AuthError> {
        let verified = self.verify_uncached(token).await?;
        if let Some(cache) = &self.inner.tokens {
            cache.insert(token.to_owned(), verified.clone());
        }
        Ok(verified)
    }

    async fn verify_uncached(&self, token: &str) -> Result<Verified, AuthError> {
        let inner = &*self.inner;
        let parsed = token::parse(token, inner.max_token_size)?;
        let header = &parsed.header;
        // The signer is pinned before anything is fetched: the key endpoint
        // serves every load balancer of the region, so a valid signature alone
        // says nothing about which one signed.
        if !inner.arns.contains(&header.signer) {
            return Err(AuthError::new(
                AuthErrorKind::WrongIssuer,
                "token signer is not a configured load balancer",
            ));
        }
        // The header's client and issuer, where the configuration names some.
        for (allowed, value, kind, why) in [
            (
                &inner.client_ids,
                &header.client,
                AuthErrorKind::WrongClient,
                "token client is not a configured app client",
            ),
            (
                &inner.issuers,
                &header.iss,
                AuthErrorKind::WrongIssuer,
                "token iss is not a configured issuer",
            ),
        ] {
            if !allowed.is_empty() && !value.as_ref().is_some_and(|v| allowed.contains(v)) {
                return Err(AuthError::new(kind, why));
            }
        }
        match parsed.payload.get("iss") {
            None => {}
            Some(Value::String(iss)) if header.iss.as_ref().is_none_or(|h| h == iss) => {}
            Some(Value::String(_)) => {
                return Err(AuthError::new(
                    AuthErrorKind::WrongIssuer,
                    "token payload iss differs from its header iss",
                ));
            }
            Some(_) => return Err(AuthError::malformed("token payload iss is not a string")),
        }
        let key = inner.keys.key(&header.kid).await?;
        if !key.verify(parsed.signing_input, &parsed.signature) {
            return Err(AuthError::new(
                AuthErrorKind::BadSignature,
                "token signature does not verify",
            ));
        }
        let payload_exp = numeric_date(&parsed.payload, "exp")?;
        let exp = payload_exp.map_or(header.exp, |p| p.min(header.exp));
        let now = now_secs();
        if now >= exp.saturating_add(inner.leeway) {
            return Err(AuthError::new(
                AuthErrorKind::Expired,
                "token exp has passed",
            ));
        }
        if numeric_date(&parsed.payload, "nbf")?
            .is_some_and(|nbf| now.saturating_add(inner.leeway) < nbf)
        {
            return Err(AuthError::new(
                AuthErrorKind::NotYetValid,
                "token nbf has not come",
            ));
        }
        check_payload(&parsed.payload)?;
        let pool_id = header
            .iss
            .as_deref()
            .and_then(cognito_pool)
            .unwrap_or_default();
        let client = header.client.as_deref().map(Arc::from);
        Ok(Verified {
            claims: Claims::from_alb(parsed.payload, exp, Arc::from(pool_id)),
            client,
        })
    }
}

fn numeric_date(payload: &Map<String, Value>, name: &str) -> Result<Option<u64>, AuthError> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(_)) => Ok(Some(0)),
            _ => Err(AuthError::malformed(
                "a date claim is not an integer number of seconds",
            )),
        },
        Some(_) => Err(AuthError::malformed("a date claim is not a number")),
    }
}

fn check_payload(payload: &Map<String, Value>) -> Result<(), AuthError> {
    match payload.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => {}
        _ => return Err(AuthError::malformed("token payload has no string sub")),
    }
    for name in ["email", "username", "name", "cognito:username"] {
        if !matches!(payload.get(name), None | Some(Value::String(_))) {
            return Err(AuthError::malformed("a string claim has another type"));
        }
    }
    Ok(())
}

/// The pool id of a Cognito issuer, in either of its forms.
fn cognito_pool(iss: &str) -> Option<&str> {
    let rest = iss
        .strip_prefix("https://cognito-idp.")
        .or_else(|| iss.strip_prefix("https://issuer-cognito-idp."))?;
    let (region, pool) = rest.split_once(".amazonaws.com/")?;
    let (prefix, _) = pool.split_once('_')?;
    (prefix == region && !pool.contains('/')).then_some(pool)
}

/// An ARN of an Application Load Balancer, read.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Arn {
    partition: String,
    region: String,
}

fn parse_arn(arn: &str) -> Result<Arn, ConfigError> {
    let bad = |why: &str| {
        ConfigError::new(
            ConfigErrorKind::InvalidArn,
            format!(
                "load balancer ARN `{}` {why}; expected \
             arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID",
                arn.escape_debug()
            ),
        )
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(bad("does not have six `:`-separated parts"));
    };
    if prefix != "arn"
        || partition.is_empty()
        || !partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
    {
        return Err(bad("does not start with `arn:` and a partition"));
    }
    if service != "elasticloadbalancing" {
        return Err(bad("is not an Elastic Load Balancing ARN"));
    }
    check_region(region).map_err(|why| bad(&why))?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("does not have a 12-digit account id"));
    }
    let Some(name_and_id) = resource.strip_prefix("loadbalancer/app/") else {
        return Err(bad(
            "does not name an Application Load Balancer (`loadbalancer/app/...`)",
        ));
    };
    match name_and_id.split_once('/') {
        Some((name, id))
            if !name.is_empty()
                && !id.is_empty()
                && !id.contains('/')
                && name_and_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/') => {}
        _ => return Err(bad("does not end with `NAME/ID`")),
    }
    Ok(Arn {
        partition: partition.to_owned(),
        region: region.to_owned(),
    })
}

/// The key endpoint AWS documents for a partition and region ("Authenticate
/// users using an Application Load Balancer", "User claims encoding and
/// signature verification").
fn documented_endpoint(arn: &Arn) -> Result<String, ConfigError> {
    let region = &arn.region;
    match arn.partition.as_str() {
        "aws" => Ok(format!(
            "https://public-keys.auth.elb.{region}.amazonaws.com"
        )),
        "aws-us-gov" if region == "us-gov-west-1" || region == "us-gov-east-1" => Ok(format!(
            "https://s3-{region}.amazonaws.com/aws-elb-public-keys-prod-{region}"
        )),
        other => Err(ConfigError::new(
            ConfigErrorKind::InvalidKeyEndpoint,
            format!(
                "AWS documents no load balancer key endpoint for partition `{other}`, region `{region}`; \
             set AlbVerifierBuilder::key_endpoint"
            ),
        )),
    }
}

fn check_endpoint(endpoint: &str, allow_http: bool) -> Result<String, ConfigError> {
    let subject = format!("load balancer key endpoint `{endpoint}`");
    let kind = ConfigErrorKind::InvalidKeyEndpoint;
    let url = parse_https(endpoint, &subject, kind, allow_http, "AlbVerifierBuilder")?;
    if url.host().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            kind,
            format!(
                "{subject} must be a base URL with a host and without query or fragment \
                 (keys are read from `{{endpoint}}/{{kid}}`)"
            ),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Builds an [`AlbVerifier`]; see its setters for the defaults.
#[derive(Clone, Debug)]
#[must_use]
pub struct AlbVerifierBuilder {
    arns: Vec<String>,
    region: Option<String>,
    client_ids: Vec<String>,
    issuers: Vec<String>,
    key_endpoint: Option<String>,
    allow_http: bool,
    shared: SharedSettings,
    max_key_size: usize,
    unknown_kid_burst: u32,
    max_key_age: Duration,
}

impl Default for AlbVerifierBuilder {
    fn default() -> Self {
        Self {
            arns: Vec::new(),
            region: None,
            client_ids: Vec::new(),
            issuers: Vec::new(),
            key_endpoint: None,
            allow_http: false,
            shared: SharedSettings::new(DEFAULT_MAX_ALB_TOKEN_SIZE),
            max_key_size: DEFAULT_MAX_KEY_SIZE,
            unknown_kid_burst: defaults::UNKNOWN_KID_BURST,
            max_key_age: defaults::MAX_KEY_AGE,
        }
    }
}

impl AlbVerifierBuilder {
    /// Trusts tokens this load balancer signed (the header's `signer`), such as
    /// `arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-lb/50dc6c495c0c9188`.
    /// Required; call again to trust several (all in one region). Every load
    /// balancer of a region signs with keys from the same endpoint, so without
    /// this pin any of them (anyone's) could speak for yours.
    pub fn load_balancer_arn(mut self, arn: impl Into<String>) -> Self {
        self.arns.push(arn.into());
        self
    }

    /// Trusts each of these load balancers.
    pub fn load_balancer_arns<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        arns: I,
    ) -> Self {
        self.arns.extend(arns.into_iter().map(Into::into));
        self
    }

    /// The load balancers' region. Default: read from the ARNs; when set, it
    /// must be theirs.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Accepts only tokens whose header `client` is this app client (the
    /// `UserPoolClientId` or `ClientId` of the authenticate action). Call again
    /// to allow several. Default: any; set this in production.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_ids.push(client_id.into());
        self
    }

    /// Accepts only tokens whose header `iss` is this issuer (for
    /// `authenticate-cognito`, `https://cognito-idp.{region}.amazonaws.com/{pool}`).
    /// Call again to allow several. Default: any; set this in production.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Fetches keys from `{endpoint}/{kid}` instead of the endpoint AWS documents
    /// for the ARNs' partition and region (`https://public-keys.auth.elb.{region}.amazonaws.com`;
    /// in AWS GovCloud (US), `https://s3-{region}.amazonaws.com/aws-elb-public-keys-prod-{region}`).
    /// Needed in partitions AWS documents no endpoint for, and for tests. Plain
    /// `http` only on loopback unless [`insecure_allow_http`](Self::insecure_allow_http).
    pub fn key_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.key_endpoint = Some(endpoint.into());
        self
    }

    /// **Insecure**: allow a plain `http://` key endpoint on a host other than
    /// loopback, where anyone on the path could substitute the keys.
    pub fn insecure_allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    shared_setters! { leeway, max_token_size, http_client, fetch_timeout, connect_timeout;
        {
            /// Clock skew allowed on `exp` and `nbf`. Default: none. At most 5 minutes.
        }
        {
            /// Largest token accepted, in bytes, checked before anything is decoded.
            /// Default: [`DEFAULT_MAX_ALB_TOKEN_SIZE`] (16 KiB).
        }
        {
            /// The HTTP client for key fetches. Default: a rustls client with the
            /// [`connect_timeout`](Self::connect_timeout) that follows no redirects.
        }
        {
            /// Longest a key fetch may take, from connecting to the last byte. Requests
            /// that wait for a new key wait at most this long. Default: 5 s.
        }
        {
            /// Longest the default client waits to connect. Default: 2 s.
        }
    }

    /// Largest key document read; a larger one is a failed fetch, cut off at the
    /// limit. Default: [`DEFAULT_MAX_KEY_SIZE`] (4 KiB).
    pub fn max_key_size(mut self, bytes: usize) -> Self {
        self.max_key_size = bytes;
        self
    }

    shared_setters! { unknown_kid_cooldown;
        {
            /// After the [burst](Self::unknown_kid_burst), the least time between two
            /// fetches for `kid`s not held, so that a flood of random `kid`s costs one
            /// fetch per cooldown; also how long a `kid` the endpoint does not have is
            /// remembered, and the first step of the back-off after a failed fetch
            /// (doubling up to [`max_backoff`](Self::max_backoff)). Must not be zero.
            /// Default: 5 s.
        }
    }

    /// How many fetches for new `kid`s may start at once (a service starting
    /// behind a load balancer may meet several keys at the same time). Must not
    /// be zero. Default: 5.
    pub fn unknown_kid_burst(mut self, fetches: u32) -> Self {
        self.unknown_kid_burst = fetches;
        self
    }

    shared_setters! { max_backoff;
        {
            /// Longest wait between fetch attempts while the key endpoint fails.
            /// Default: 60 s.
        }
    }

    /// How long a fetched key is kept before it is fetched again when next
    /// needed. Default: 24 hours.
    pub fn max_key_age(mut self, age: Duration) -> Self {
        self.max_key_age = age;
        self
    }

    shared_setters! { token_cache_capacity;
        {
            /// Most verified tokens remembered (each until its `exp`), so that a
            /// repeated token skips the signature check. `0` turns the cache off;
            /// more than 10 million is a configuration error.
            /// Default: [`DEFAULT_TOKEN_CACHE_CAPACITY`](crate::DEFAULT_TOKEN_CACHE_CAPACITY) (10,000).
        }
    }

    /// Checks the configuration and builds the verifier. Fails without a load
    /// balancer ARN, with ARNs of several regions or partitions, with a region
    /// that is not the ARNs', and where AWS documents no key endpoint and none
    /// is set.
    pub fn build(self) -> Result<AlbVerifier, ConfigError> {
        if self.arns.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::NoLoadBalancer,
                "no load balancer ARN configured: the token's `signer` must be pinned to yours",
            ));
        }
        if self.arns.len() > MAX_LOAD_BALANCERS {
            return Err(ConfigError::new(
                ConfigErrorKind::OutOfRange,
                format!("more than {MAX_LOAD_BALANCERS} load balancers configured"),
            ));
        }
        let mut arns = self.arns.iter().map(|arn| parse_arn(arn));
        let first = arns.next().expect("not empty")?;
        for arn in arns {
            let arn = arn?;
            if arn != first {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidRegion,
                    format!(
                        "the load balancers are in more than one region or partition \
                     (`{}` and `{}`); use one verifier per region",
                        first.region, arn.region
                    ),
                ));
            }
        }
        if let Some(region) = &self.region
            && *region != first.region
        {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidRegion,
                format!(
                    "region `{region}` is not the load balancers' region `{}`",
                    first.region
                ),
            ));
        }
        self.shared.check(
            (
                "max_key_size",
                self.max_key_size,
                defaults::MIN_KEY_SIZE_LIMIT,
            ),
            &[("max_key_age", self.max_key_age)],
        )?;
        if self.unknown_kid_burst == 0 {
            return Err(ConfigError::new(
                ConfigErrorKind::OutOfRange,
                "unknown_kid_burst is zero",
            ));
        }
        for (values, kind) in [
            (&self.client_ids, ConfigErrorKind::InvalidClientId),
            (&self.issuers, ConfigErrorKind::InvalidIssuer),
        ] {
            if values.iter().any(String::is_empty) {
                return Err(ConfigError::new(
                    kind,
                    "an empty client id or issuer is configured",
                ));
            }
        }
        let endpoint = match &self.key_endpoint {
            Some(endpoint) => check_endpoint(endpoint, self.allow_http)?,
            None => documented_endpoint(&first)?,
        };
        let settings = KeySettings {
            fetch: self.shared.fetch(self.max_key_size)?,
            unknown_kid_burst: self.unknown_kid_burst,
            max_key_age: self.max_key_age,
        };
        let capacity = self.shared.token_cache_capacity;
        let tokens = (capacity > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExp)
                .build()
        });
        let mut arns = self.arns;
        arns.sort();
        arns.dedup();
        tracing::debug!(
            backend = crate::verifier::crypto::BACKEND,
            region = %first.region,
            %endpoint,
            load_balancers = arns.len(),
            "built load balancer verifier"
        );
        Ok(AlbVerifier {
            inner: Arc::new(Inner {
                arns,
                region: first.region,
                client_ids: self.client_ids,
                issuers: self.issuers,
                leeway: self.shared.leeway.as_secs(),
                max_token_size: self.shared.max_token_size,
                keys: Arc::new(KeySource::new(endpoint, settings)),
                tokens,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/my-lb/50dc6c495c0c9188";

    fn build(b: AlbVerifierBuilder) -> Result<AlbVerifier, String> {
        b.build().map_err(|e| e.message().to_owned())
    }

    #[test]
    fn an_arn_is_required() {
        let err = build(AlbVerifier::builder()).unwrap_err();
        assert!(err.contains("no load balancer ARN"), "{err}");
    }

    #[test]
    fn the_documented_endpoint_of_each_partition() {
        let v = build(AlbVerifier::builder().load_balancer_arn(ARN)).unwrap();
        assert_eq!(v.region(), "us-east-1");
        assert_eq!(
            v.key_endpoint(),
            "https://public-keys.auth.elb.us-east-1.amazonaws.com"
        );
        for region in ["us-gov-west-1", "us-gov-east-1"] {
            let arn = format!(
                "arn:aws-us-gov:elasticloadbalancing:{region}:123456789012:loadbalancer/app/gov/0123456789abcdef"
            );
            let v = build(AlbVerifier::builder().load_balancer_arn(arn)).unwrap();
            assert_eq!(
                v.key_endpoint(),
                format!("https://s3-{region}.amazonaws.com/aws-elb-public-keys-prod-{region}")
            );
        }
        // Partitions AWS documents no endpoint for need one set.
        let cn = "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/cn/0123456789abcdef";
        let err = build(AlbVerifier::builder().load_balancer_arn(cn)).unwrap_err();
        assert!(
            err.contains("documents no load balancer key endpoint"),
            "{err}"
        );
        let v = build(
            AlbVerifier::builder()
                .load_balancer_arn(cn)
                .key_endpoint("https://keys.example.cn/"),
        )
        .unwrap();
        assert_eq!(v.key_endpoint(), "https://keys.example.cn");
    }

    #[test]
    fn bad_arns_are_config_errors_that_say_why() {
        for (arn, why) in [
            ("", "six"),
            ("arn:aws:elasticloadbalancing:us-east-1:123456789012", "six"),
            (
                "arn:aws:ec2:us-east-1:123456789012:loadbalancer/app/a/b",
                "not an Elastic Load Balancing ARN",
            ),
            (
                "arn:aws:elasticloadbalancing:US_EAST:123456789012:loadbalancer/app/a/b",
                "AWS region",
            ),
            (
                "arn:aws:elasticloadbalancing:us-east-1:1234:loadbalancer/app/a/b",
                "12-digit",
            ),
            (
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/a/b",
                "Application Load Balancer",
            ),
            (
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a/b",
                "Application Load Balancer",
            ),
            (
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a",
                "NAME/ID",
            ),
            (
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/b/c",
                "NAME/ID",
            ),
            (
                "urn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/b",
                "arn:",
            ),
        ] {
            let err = build(AlbVerifier::builder().load_balancer_arn(arn)).unwrap_err();
            assert!(err.contains(why), "{arn:?}: {err}");
        }
    }

    #[test]
    fn one_region_per_verifier() {
        let west = ARN.replace("us-east-1", "us-west-2");
        let err =
            build(AlbVerifier::builder().load_balancer_arns([ARN, west.as_str()])).unwrap_err();
        assert!(err.contains("more than one region"), "{err}");
        let err = build(
            AlbVerifier::builder()
                .load_balancer_arn(ARN)
                .region("eu-west-1"),
        )
        .unwrap_err();
        assert!(err.contains("not the load balancers' region"), "{err}");
        assert!(
            build(
                AlbVerifier::builder()
                    .load_balancer_arn(ARN)
                    .region("us-east-1")
            )
            .is_ok()
        );
        let other = ARN.replace("my-lb/50dc6c495c0c9188", "other/0123456789abcdef");
        assert!(build(AlbVerifier::builder().load_balancer_arns([ARN, other.as_str()])).is_ok());
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let base = AlbVerifier::builder().load_balancer_arn(ARN);
        assert!(build(base.clone().key_endpoint("http://127.0.0.1:9000")).is_ok());
        assert!(build(base.clone().key_endpoint("http://localhost:9000/keys/")).is_ok());
        let err = build(base.clone().key_endpoint("http://keys.example.com")).unwrap_err();
        assert!(err.contains("plain http"), "{err}");
        assert!(
            build(
                base.clone()
                    .key_endpoint("http://keys.example.com")
                    .insecure_allow_http()
            )
            .is_ok()
        );
        for bad in ["ftp://x/y", "not a url", "https://x/?a=b", "https://x/#k"] {
            assert!(build(base.clone().key_endpoint(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_are_checked() {
        let base = AlbVerifier::builder().load_balancer_arn(ARN);
        for b in [
            base.clone().leeway(Duration::from_secs(301)),
            base.clone().unknown_kid_cooldown(Duration::ZERO),
            base.clone().unknown_kid_burst(0),
            base.clone().fetch_timeout(Duration::ZERO),
            base.clone().max_key_size(10),
            base.clone().max_token_size(10),
            base.clone().client_id(""),
            base.clone().issuer(""),
        ] {
            assert!(b.build().is_err());
        }
    }

    #[test]
    fn cognito_pool_ids_are_read_from_the_issuer() {
        assert_eq!(
            cognito_pool("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"),
            Some("us-east-1_AbC")
        );
        assert_eq!(
            cognito_pool("https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X"),
            Some("eu-west-1_X")
        );
        for other in [
            "https://accounts.google.com",
            "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/x",
            "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC",
        ] {
            assert_eq!(cognito_pool(other), None, "{other}");
        }
    }
}
