//! [`UserPool`]: which Cognito user pool issues the tokens, and where its keys are.

use crate::error::{ConfigError, ConfigErrorKind};
use crate::verifier::keys::{self, JwksProvider, KeyOrigin};
use reqwest::Url;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A Cognito user pool whose tokens are trusted.
///
/// By default a pool is described by its id alone (`us-east-1_AbCdEfGhI`): the
/// region is read from the id, both issuer forms Cognito uses are accepted
/// (`https://cognito-idp.{region}.amazonaws.com/{id}` and
/// `https://issuer-cognito-idp.{region}.amazonaws.com/{id}`), and keys come from
/// `https://cognito-idp.{region}.amazonaws.com/{id}/.well-known/jwks.json`.
///
/// Emulators and tests can set the issuer and the JWKS URL explicitly. Nothing is
/// checked until the [`Verifier`](crate::Verifier) is built, which reports a bad
/// pool as a [`ConfigError`].
///
/// Keys come from one place, chosen per pool: the JWKS URL (the default, or
/// [`jwks_url`](Self::jwks_url)), a [static JWKS](Self::static_jwks) given at
/// build time (air-gapped deployments, tests), or a
/// [`JwksProvider`](Self::jwks_provider) of your own (a secrets store). A
/// replicated pool can fetch its keys from [AWS's multi-Region
/// issuer](Self::multi_region_issuer).
///
/// ```
/// use tower_cognito::UserPool;
///
/// // A real pool.
/// let pool = UserPool::new("us-east-1_AbCdEfGhI");
///
/// // moto: tokens carry the AWS issuer, keys are served on loopback.
/// let moto = UserPool::new("us-east-1_AbCdEfGhI")
///     .jwks_url("http://127.0.0.1:5000/us-east-1_AbCdEfGhI/.well-known/jwks.json");
///
/// // cognito-local: its own issuer and keys.
/// let local = UserPool::new("local_3NbqUrDa")
///     .issuer("http://127.0.0.1:9229/local_3NbqUrDa")
///     .jwks_url("http://127.0.0.1:9229/local_3NbqUrDa/.well-known/jwks.json");
///
/// // Air-gapped: the keys as configuration, checked when the verifier is built.
/// let fixed = UserPool::new("us-east-1_AbCdEfGhI").static_jwks_file("/etc/cognito/jwks.json");
/// ```
#[derive(Clone)]
#[must_use]
pub struct UserPool {
    id: String,
    region: Option<String>,
    issuer: Option<String>,
    jwks_url: Option<String>,
    static_jwks: Option<StaticJwks>,
    provider: Option<Arc<dyn JwksProvider>>,
    multi_region: bool,
    allow_http: bool,
}

/// A static JWKS as configured: read and checked by `resolve`.
#[derive(Clone, PartialEq, Eq)]
enum StaticJwks {
    Text(Arc<str>),
    File(PathBuf),
}

impl fmt::Debug for UserPool {
    /// The id, issuer and where the keys come from; never the keys themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match (&self.jwks_url, &self.static_jwks, &self.provider) {
            (Some(url), _, _) => format!("jwks_url({url})"),
            (_, Some(StaticJwks::Text(_)), _) => "static_jwks(<document>)".to_owned(),
            (_, Some(StaticJwks::File(path)), _) => format!("static_jwks_file({})", path.display()),
            (_, _, Some(_)) => "jwks_provider(<JwksProvider>)".to_owned(),
            (None, None, None) => "default".to_owned(),
        };
        f.debug_struct("UserPool")
            .field("id", &self.id)
            .field("region", &self.region)
            .field("issuer", &self.issuer)
            .field("keys", &keys)
            .field("multi_region_issuer", &self.multi_region)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl PartialEq for UserPool {
    /// Equal when configured alike; two providers are equal only when they are
    /// one and the same (clones of one pool).
    fn eq(&self, other: &Self) -> bool {
        let same_provider = match (&self.provider, &other.provider) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        self.id == other.id
            && self.region == other.region
            && self.issuer == other.issuer
            && self.jwks_url == other.jwks_url
            && self.static_jwks == other.static_jwks
            && same_provider
            && self.multi_region == other.multi_region
            && self.allow_http == other.allow_http
    }
}

impl Eq for UserPool {}

/// A pool whose configuration has been checked.
#[derive(Debug)]
pub(crate) struct ResolvedPool {
    pub(crate) id: String,
    pub(crate) issuers: Vec<String>,
    pub(crate) keys: KeyOrigin,
}

impl UserPool {
    /// A pool identified by its id, such as `us-east-1_AbCdEfGhI`; the region is
    /// the part before the underscore.
    pub fn new(pool_id: impl Into<String>) -> Self {
        Self {
            id: pool_id.into(),
            region: None,
            issuer: None,
            jwks_url: None,
            static_jwks: None,
            provider: None,
            multi_region: false,
            allow_http: false,
        }
    }

    /// A pool given by region and id. The id may be the full id
    /// (`us-east-1_AbCdEfGhI`, whose region must then match) or the part after
    /// the underscore (`AbCdEfGhI`).
    pub fn in_region(region: impl Into<String>, pool_id: impl Into<String>) -> Self {
        let mut pool = Self::new(pool_id);
        pool.region = Some(region.into());
        pool
    }

    /// Trust exactly this issuer (the token's `iss`) instead of the two AWS forms.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Fetch the pool's keys from this URL instead of `{issuer}/.well-known/jwks.json`.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Use this JWKS document (`{"keys": [...]}`, as Cognito serves it) as the
    /// pool's keys, and never fetch any: for air-gapped deployments and tests.
    ///
    /// The document is configuration. When the verifier is
    /// [built](crate::VerifierBuilder::build) it is checked with the rules every
    /// fetched key meets (`kty` RSA, `use` sig or absent, `alg` RS256 or absent,
    /// base64url `n` and `e`, 2,048 to 8,192 bits, a usable exponent, a
    /// non-empty `kid`), but where a fetched set skips a bad key with a warning,
    /// a bad key here, a repeated `kid` or an empty set is a [`ConfigError`]
    /// naming the key. A token whose `kid` is not in the set is refused at once
    /// ([`UnknownKey`](crate::AuthErrorKind::UnknownKey)); the set is ready
    /// from the start, never refreshed and never stale: a rotation takes a new
    /// configuration. Cannot be combined with [`jwks_url`](Self::jwks_url) or
    /// [`jwks_provider`](Self::jwks_provider).
    pub fn static_jwks(mut self, json: impl Into<String>) -> Self {
        self.static_jwks = Some(StaticJwks::Text(Arc::from(json.into())));
        self
    }

    /// Like [`static_jwks`](Self::static_jwks), with the document read from this
    /// file when the verifier is built (a file that cannot be read is a
    /// [`ConfigError`] naming it). Read once: a later change to the file is not
    /// seen.
    pub fn static_jwks_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.static_jwks = Some(StaticJwks::File(path.into()));
        self
    }

    /// Get the pool's JWKS document from `provider` instead of downloading it:
    /// from a secrets store, say. Single flight, cooldown, back-off, refresh,
    /// size limit, stale-if-error and the key rules all apply as to a download;
    /// see [`JwksProvider`] for the contract. Cannot be combined with
    /// [`jwks_url`](Self::jwks_url) or [`static_jwks`](Self::static_jwks).
    pub fn jwks_provider(mut self, provider: impl JwksProvider) -> Self {
        self.provider = Some(Arc::new(provider));
        self
    }

    /// The pool uses AWS's multi-Region issuer (issuer type `UPDATED`), as a
    /// pool with multi-Region replication does: fetch its keys from
    /// `https://issuer-cognito-idp.{region}.amazonaws.com/{id}/.well-known/jwks.json`
    /// instead of the original issuer's
    /// `https://cognito-idp.{region}.amazonaws.com/{id}/.well-known/jwks.json`.
    ///
    /// What AWS documents, and this follows: on "Multi-Region replication for
    /// user pools" (Amazon Cognito Developer Guide), Cognito "creates separate
    /// user pools with a shared user pool ID", and a replicated pool is to use
    /// the multi-Region OIDC issuer, for consistent token validation across
    /// Regions; on "IssuerConfigurationType" (Amazon Cognito API Reference), the
    /// original issuer `https://cognito-idp.[region].amazonaws.com/[userPoolId]`
    /// "is hosted in the user pool's region", while the updated issuer
    /// `https://issuer-cognito-idp.[region].amazonaws.com/[userPoolId]`, where
    /// region is "the primary AWS Region of your user pool", hosts "the same
    /// JWKS content in multiple regions". So the tokens of every replica name
    /// the primary Region, and keys fetched from the updated issuer do not
    /// depend on the primary Region being up.
    ///
    /// The issuers trusted do not change: both forms for the pool's own
    /// (primary) Region, exactly as without this. A token whose `iss` names a
    /// replica's Region is refused, with this or without: AWS documents no such
    /// issuer. The region is the pool id's (the primary's); an explicit
    /// [`issuer`](Self::issuer) is a [`ConfigError`] with this, and an explicit
    /// [`jwks_url`](Self::jwks_url), static JWKS or provider takes the place of
    /// the URL this sets.
    pub fn multi_region_issuer(mut self) -> Self {
        self.multi_region = true;
        self
    }

    /// **Insecure**: allow a plain `http://` JWKS URL on a host other than
    /// loopback. Plain HTTP on `127.0.0.0/8`, `::1` and `localhost` is always
    /// allowed (emulators, tests); anywhere else an attacker on the network path
    /// could substitute the keys.
    pub fn insecure_allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// The pool id as given.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn resolve(&self) -> Result<ResolvedPool, ConfigError> {
        let key_settings = [
            self.jwks_url.is_some(),
            self.static_jwks.is_some(),
            self.provider.is_some(),
        ];
        if key_settings.iter().filter(|&&set| set).count() > 1 {
            return Err(ConfigError::new(
                ConfigErrorKind::ConflictingKeySources,
                format!(
                    "user pool `{}`: keys come from one place; give only one of jwks_url, \
                 static_jwks (or static_jwks_file) and jwks_provider",
                    self.id
                ),
            ));
        }
        let keys_given = key_settings.contains(&true);
        if self.multi_region && self.issuer.is_some() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidIssuer,
                format!(
                    "user pool `{}`: multi_region_issuer names AWS's issuer forms; \
                 it cannot be combined with an explicit issuer",
                    self.id
                ),
            ));
        }
        let explicit = self.issuer.is_some() && keys_given;
        let (region, id) = self.region_and_id(explicit)?;

        let issuers = match &self.issuer {
            Some(issuer) => {
                check_url(
                    issuer,
                    "issuer",
                    ConfigErrorKind::InvalidIssuer,
                    self.allow_http,
                    &self.id,
                )?;
                check_issuer(issuer, &self.id)?;
                vec![issuer.clone()]
            }
            None => {
                let region = region.as_deref().ok_or_else(|| {
                    ConfigError::new(
                        ConfigErrorKind::InvalidPoolId,
                        format!(
                            "user pool `{}`: no region in the pool id and no explicit issuer",
                            self.id
                        ),
                    )
                })?;
                vec![
                    format!("https://cognito-idp.{region}.amazonaws.com/{id}"),
                    format!("https://issuer-cognito-idp.{region}.amazonaws.com/{id}"),
                ]
            }
        };

        let keys = if let Some(jwks) = &self.static_jwks {
            KeyOrigin::Static(self.read_static(jwks)?)
        } else if let Some(provider) = &self.provider {
            KeyOrigin::Provider(Arc::clone(provider))
        } else {
            let jwks = match &self.jwks_url {
                Some(url) => url.clone(),
                // The multi-Region (updated) issuer is the second form.
                None if self.multi_region => format!("{}/.well-known/jwks.json", issuers[1]),
                None => format!("{}/.well-known/jwks.json", issuers[0]),
            };
            KeyOrigin::Http(check_url(
                &jwks,
                "JWKS URL",
                ConfigErrorKind::InvalidJwksUrl,
                self.allow_http,
                &self.id,
            )?)
        };

        Ok(ResolvedPool { id, issuers, keys })
    }

    /// Reads and checks a static JWKS, with the key rules of fetched sets, but
    /// strictly: any bad key is an error naming it.
    fn read_static(
        &self,
        jwks: &StaticJwks,
    ) -> Result<std::collections::HashMap<String, keys::RsaJwk>, ConfigError> {
        let (body, what) = match jwks {
            StaticJwks::Text(text) => (text.as_bytes().to_vec(), "static JWKS".to_owned()),
            StaticJwks::File(path) => {
                let body = std::fs::read(path).map_err(|e| {
                    ConfigError::new(
                        ConfigErrorKind::InvalidJwks,
                        format!(
                            "user pool `{}`: cannot read static JWKS file `{}`: {e}",
                            self.id,
                            path.display()
                        ),
                    )
                })?;
                (body, format!("static JWKS file `{}`", path.display()))
            }
        };
        keys::parse_static_jwks(&body).map_err(|why| {
            ConfigError::new(
                ConfigErrorKind::InvalidJwks,
                format!("user pool `{}`: {what}: {why}", self.id),
            )
        })
    }

    /// The region (when known) and the full pool id. `new` and `in_region` share
    /// this one validation: `in_region` only says where the region comes from,
    /// so `in_region("us-east-1", "AbC")` is checked exactly as
    /// `new("us-east-1_AbC")` is.
    fn region_and_id(&self, explicit: bool) -> Result<(Option<String>, String), ConfigError> {
        if self.id.is_empty() {
            return Err(bad_id(&self.id, "is empty"));
        }
        let id = match &self.region {
            None => self.id.clone(),
            Some(region) => {
                check_region(region).map_err(|why| bad_id(&self.id, &why))?;
                match self.id.split_once('_') {
                    Some((prefix, _)) if prefix != region => {
                        return Err(bad_id(&self.id, &format!("is not in region `{region}`")));
                    }
                    Some(_) => self.id.clone(),
                    None => format!("{region}_{}", self.id),
                }
            }
        };
        let region = check_pool_id(&id, explicit)?;
        Ok((region, id))
    }
}

fn bad_id(id: &str, why: &str) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::InvalidPoolId,
        format!(
            "user pool id `{}` {why}; expected the form `us-east-1_AbCdEfGhI`",
            id.escape_debug()
        ),
    )
}

/// The longest pool id accepted. AWS's ids are far shorter (`us-east-1_` and nine
/// characters); the bound keeps an id from a definition file or an environment
/// variable from becoming a URL of any length.
const MAX_POOL_ID_LEN: usize = 128;

/// The one validation of a full pool id (`us-east-1_AbCdEfGhI`); returns its
/// region. With an explicit issuer and JWKS URL (`explicit`), emulator ids such
/// as `local_3NbqUrDa` pass too: the URLs say all, and the id only names the pool.
pub(crate) fn check_pool_id(id: &str, explicit: bool) -> Result<Option<String>, ConfigError> {
    if id.is_empty() {
        return Err(bad_id(id, "is empty"));
    }
    if id.len() > MAX_POOL_ID_LEN {
        return Err(bad_id(
            id,
            &format!("is longer than {MAX_POOL_ID_LEN} characters"),
        ));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(bad_id(
            id,
            "has characters other than letters, digits, `-` and `_`",
        ));
    }
    match id.split_once('_') {
        Some((prefix, _)) if explicit => Ok(check_region(prefix).ok().map(|()| prefix.to_owned())),
        Some((prefix, rest)) => {
            check_region(prefix).map_err(|why| bad_id(id, &why))?;
            if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad_id(id, "has no alphanumeric part after the underscore"));
            }
            Ok(Some(prefix.to_owned()))
        }
        None if explicit => Ok(None),
        None => Err(bad_id(id, "has no region prefix")),
    }
}

/// Checks that `region` looks like an AWS region (`us-east-1`); the error
/// completes a sentence about the id or ARN it came from. Shared with the load
/// balancer's ARNs (`alb`).
pub(crate) fn check_region(region: &str) -> Result<(), String> {
    let ok = region.len() <= 32
        && region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region.as_bytes().last().is_some_and(u8::is_ascii_digit)
        && region.as_bytes()[0].is_ascii_lowercase();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "has `{}` where an AWS region such as `us-east-1` belongs",
            region.escape_debug()
        ))
    }
}

/// Checks an issuer or a JWKS URL (`what`, an error of `kind`).
fn check_url(
    url: &str,
    what: &str,
    kind: ConfigErrorKind,
    allow_http: bool,
    pool: &str,
) -> Result<Url, ConfigError> {
    let subject = format!("user pool `{pool}`: {what} `{url}`");
    let parsed = parse_https(url, &subject, kind, allow_http, "UserPool")?;
    if parsed.host().is_none() {
        return Err(ConfigError::new(kind, format!("{subject} has no host")));
    }
    Ok(parsed)
}

/// Parses a URL keys or issuers are read from, and refuses a scheme other than
/// `https`, except plain `http` on loopback or where the `insecure_allow_http`
/// of `setter` (the type the error names) allows it. Errors are of `kind`, and
/// start with `subject`. Shared with the load balancer's key endpoint (`alb`).
pub(crate) fn parse_https(
    url: &str,
    subject: &str,
    kind: ConfigErrorKind,
    allow_http: bool,
    setter: &str,
) -> Result<Url, ConfigError> {
    let parsed = Url::parse(url)
        .map_err(|e| ConfigError::new(kind, format!("{subject} is not a valid URL ({e})")))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if allow_http || is_loopback(&parsed) => Ok(parsed),
        "http" => Err(ConfigError::new(
            kind,
            format!(
                "{subject} uses plain http on a non-loopback host; \
                 use https, or {setter}::insecure_allow_http if you really mean it"
            ),
        )),
        other => Err(ConfigError::new(
            kind,
            format!("{subject} has scheme `{other}`, expected https"),
        )),
    }
}

/// An explicit issuer is compared with the token's `iss` exactly, and the JWKS
/// URL is derived from it by appending `/.well-known/jwks.json`: a query, a
/// fragment or a trailing slash would give a JWKS URL that is not the pool's
/// (the path lands in the query or fragment, or gets a double slash) and an
/// issuer no Cognito token carries.
fn check_issuer(issuer: &str, pool: &str) -> Result<(), ConfigError> {
    let why = if issuer.contains('?') {
        "has a query"
    } else if issuer.contains('#') {
        "has a fragment"
    } else if issuer.ends_with('/') {
        "ends with `/`"
    } else {
        return Ok(());
    };
    Err(ConfigError::new(
        ConfigErrorKind::InvalidIssuer,
        format!(
            "user pool `{pool}`: issuer `{issuer}` {why}; give it exactly as the tokens' `iss` \
         has it, such as `https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI`"
        ),
    ))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ResolvedPool {
        /// The JWKS URL of a pool whose keys are downloaded.
        fn jwks_url(&self) -> &Url {
            match &self.keys {
                KeyOrigin::Http(url) => url,
                other => panic!("keys are not downloaded: {other:?}"),
            }
        }
    }

    #[test]
    fn aws_pool_gets_both_issuer_forms_and_default_jwks() {
        let p = UserPool::new("us-east-1_AbCdEfGhI").resolve().unwrap();
        assert_eq!(
            p.issuers,
            [
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI",
                "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI"
            ]
        );
        assert_eq!(
            p.jwks_url().as_str(),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI/.well-known/jwks.json"
        );
    }

    #[test]
    fn region_and_short_id() {
        let p = UserPool::in_region("eu-west-2", "AbC123")
            .resolve()
            .unwrap();
        assert_eq!(p.id, "eu-west-2_AbC123");
        let err = UserPool::in_region("eu-west-2", "us-east-1_AbC")
            .resolve()
            .unwrap_err();
        assert!(err.message().contains("not in region"), "{err}");
    }

    #[test]
    fn bad_ids_are_config_errors_that_say_why() {
        for (id, why) in [
            ("", "is empty"),
            ("AbCdEfGhI", "no region prefix"),
            ("us-east-1_", "no alphanumeric part"),
            ("US_EAST_abc", "AWS region"),
            ("us-east-1_Ab/Cd", "characters other than"),
            ("us-east-1_Ab Cd", "characters other than"),
        ] {
            let err = UserPool::new(id).resolve().unwrap_err();
            assert!(err.message().contains(why), "{id:?}: {err}");
        }
    }

    #[test]
    fn in_region_validates_exactly_what_new_validates() {
        let ids = [
            "AbC123",
            "",
            "_",
            "Ab-C",
            "Ab_Cd",
            "Ab Cd",
            "Ab/Cd",
            "Äbc",
            "us-east-1_",
            "us-east-1_AbC",
            "us-east-1_Ab-C",
            "us-east-1_Ab_C",
            "eu-west-2_AbC",
            &"A".repeat(120),
        ];
        for short in ids {
            let full = if short.starts_with("us-east-1_") || short.starts_with("eu-west-2_") {
                short.to_owned()
            } else {
                format!("us-east-1_{short}")
            };
            let by_region = UserPool::in_region("us-east-1", short).resolve();
            let by_id = UserPool::new(full.clone()).resolve();
            match (&by_region, &by_id) {
                (Ok(a), Ok(b)) => assert_eq!((&a.id, &a.issuers), (&b.id, &b.issuers), "{short:?}"),
                (Err(_), Err(_)) => {}
                _ if short.is_empty() => assert!(by_region.is_err(), "empty id"),
                _ if short.starts_with("eu-west-2_") => {
                    assert!(by_region.unwrap_err().message().contains("not in region"));
                }
                _ => panic!("{short:?}: in_region {by_region:?}, new({full:?}) {by_id:?}"),
            }
        }
        // A bad region is refused either way.
        for region in ["US-EAST-1", "useast1", "us-east-1/x", ""] {
            assert!(
                UserPool::in_region(region, "AbC").resolve().is_err(),
                "{region:?}"
            );
        }
        // Before, these passed through in_region while new refused them.
        for (short, why) in [
            ("Ab-C", "no alphanumeric part"),
            ("us-east-1_", "no alphanumeric part"),
            ("us-east-1_Ab-C", "no alphanumeric part"),
        ] {
            let err = UserPool::in_region("us-east-1", short)
                .resolve()
                .unwrap_err();
            assert!(err.message().contains(why), "{short:?}: {err}");
        }
    }

    #[test]
    fn an_explicit_issuer_has_no_query_fragment_or_trailing_slash() {
        let jwks = "http://127.0.0.1:9229/local_3NbqUrDa/.well-known/jwks.json";
        for (issuer, why) in [
            ("http://127.0.0.1:9229/local_3NbqUrDa/", "ends with `/`"),
            ("http://127.0.0.1:9229/", "ends with `/`"),
            ("http://127.0.0.1:9229/local_3NbqUrDa?x=1", "has a query"),
            ("http://127.0.0.1:9229/local_3NbqUrDa?", "has a query"),
            ("http://127.0.0.1:9229/local_3NbqUrDa#top", "has a fragment"),
            ("http://127.0.0.1:9229/local_3NbqUrDa#", "has a fragment"),
        ] {
            // Whether the JWKS URL is derived from the issuer or given.
            for pool in [
                UserPool::new("us-east-1_AbC").issuer(issuer),
                UserPool::new("local_3NbqUrDa")
                    .issuer(issuer)
                    .jwks_url(jwks),
            ] {
                let err = pool.resolve().unwrap_err();
                assert!(err.message().contains(why), "{issuer}: {err}");
            }
        }
        let p = UserPool::new("us-east-1_AbC")
            .issuer("http://127.0.0.1:9229/us-east-1_AbC")
            .resolve()
            .unwrap();
        assert_eq!(
            p.jwks_url().as_str(),
            "http://127.0.0.1:9229/us-east-1_AbC/.well-known/jwks.json"
        );
    }

    #[test]
    fn emulator_ids_work_with_explicit_urls() {
        let p = UserPool::new("local_3NbqUrDa")
            .issuer("http://127.0.0.1:9229/local_3NbqUrDa")
            .jwks_url("http://127.0.0.1:9229/local_3NbqUrDa/.well-known/jwks.json")
            .resolve()
            .unwrap();
        assert_eq!(p.issuers, ["http://127.0.0.1:9229/local_3NbqUrDa"]);
    }

    #[test]
    fn aws_issuer_with_loopback_jwks() {
        let p = UserPool::new("us-east-1_AbCdEfGhI")
            .jwks_url("http://127.0.0.1:5000/us-east-1_AbCdEfGhI/.well-known/jwks.json")
            .resolve()
            .unwrap();
        assert_eq!(p.issuers.len(), 2);
        assert_eq!(p.jwks_url().port(), Some(5000));
    }

    #[test]
    fn multi_region_issuer_moves_the_keys_and_nothing_else() {
        let plain = UserPool::new("us-east-1_AbCdEfGhI").resolve().unwrap();
        let replicated = UserPool::new("us-east-1_AbCdEfGhI")
            .multi_region_issuer()
            .resolve()
            .unwrap();
        // The same issuers, both naming the primary Region: no replica's.
        assert_eq!(replicated.issuers, plain.issuers);
        assert_eq!(
            replicated.jwks_url().as_str(),
            "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI/.well-known/jwks.json"
        );
        assert_eq!(
            plain.jwks_url().as_str(),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI/.well-known/jwks.json"
        );
        // An explicit JWKS URL still wins (tests, proxies).
        let local = UserPool::new("us-east-1_AbCdEfGhI")
            .multi_region_issuer()
            .jwks_url("http://127.0.0.1:1/jwks.json")
            .resolve()
            .unwrap();
        assert_eq!(local.jwks_url().port(), Some(1));
        let err = UserPool::new("us-east-1_AbCdEfGhI")
            .multi_region_issuer()
            .issuer("https://example.com/pool")
            .resolve()
            .unwrap_err();
        assert!(err.message().contains("explicit issuer"), "{err}");
    }

    #[test]
    fn keys_come_from_one_place() {
        struct Nothing;
        impl JwksProvider for Nothing {
            fn fetch(&self) -> crate::JwksFuture<'_> {
                Box::pin(async { Ok(Vec::new()) })
            }
        }
        let base = UserPool::new("us-east-1_AbC");
        for pool in [
            base.clone()
                .jwks_url("https://x.example/j")
                .static_jwks("{}"),
            base.clone()
                .jwks_url("https://x.example/j")
                .jwks_provider(Nothing),
            base.clone().static_jwks_file("/j").jwks_provider(Nothing),
        ] {
            let err = pool.resolve().unwrap_err();
            assert!(err.message().contains("only one of"), "{err}");
        }
        let provided = base.clone().jwks_provider(Nothing).resolve().unwrap();
        assert!(matches!(provided.keys, KeyOrigin::Provider(_)));
        // With an explicit issuer, an emulator's pool id needs no region.
        let local = UserPool::new("local_3NbqUrDa")
            .issuer("http://127.0.0.1:9229/local_3NbqUrDa")
            .jwks_provider(Nothing)
            .resolve()
            .unwrap();
        assert_eq!(local.issuers, ["http://127.0.0.1:9229/local_3NbqUrDa"]);
    }

    #[test]
    fn debug_shows_where_keys_come_from_not_the_keys() {
        let pool =
            UserPool::new("us-east-1_AbC").static_jwks(r#"{"keys":[{"n":"SECRETLOOKING"}]}"#);
        let debug = format!("{pool:?}");
        assert!(debug.contains("static_jwks(<document>)"), "{debug}");
        assert!(!debug.contains("SECRETLOOKING"), "{debug}");
        assert_eq!(pool.clone(), pool);
    }

    #[test]
    fn plain_http_elsewhere_is_refused_unless_asked_for() {
        let pool = UserPool::new("us-east-1_AbC").jwks_url("http://keys.example.com/jwks.json");
        let err = pool.clone().resolve().unwrap_err();
        assert!(err.message().contains("plain http"), "{err}");
        assert!(pool.insecure_allow_http().resolve().is_ok());
        let err = UserPool::new("us-east-1_AbC")
            .jwks_url("ftp://x/y")
            .resolve()
            .unwrap_err();
        assert!(err.message().contains("scheme `ftp`"), "{err}");
        let err = UserPool::new("us-east-1_AbC")
            .jwks_url("not a url")
            .resolve()
            .unwrap_err();
        assert!(err.message().contains("not a valid URL"), "{err}");
    }
}
