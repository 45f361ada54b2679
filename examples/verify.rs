//! The API Gateway console's "Test" button for a Cognito authorizer, on the
//! command line: does this token pass, and if not, why not?
//!
//! ```text
//! cargo run --example verify -- --pool us-east-1_AbCdEfGhI --client-id 1example23456789 eyJraWQiOi...
//! echo "$ID_TOKEN" | cargo run --example verify -- --pool us-east-1_AbCdEfGhI
//! cargo run --example verify -- --pool us-east-1_AbCdEfGhI --scope notes/read "$ACCESS_TOKEN"
//! cargo run --example verify -- --demo
//! ```
//!
//! As in the console, a route without scopes takes an ID token and a route with
//! scopes takes an access token holding one of them. It prints `PASS` or `FAIL`,
//! the status and body API Gateway would answer, the reason for a failure, and
//! the claims of a token that passes. Exit status: 0 pass, 1 fail, 2 usage.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::convert::Infallible;
use std::io::{Read, Write};
use std::process::ExitCode;
use tower::ServiceExt;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{
    AuthError, AuthErrorKind, Claims, CognitoAuthLayer, ConfigError, Requirement, TokenUseRule,
    UserPool, Verifier,
};

const USAGE: &str = "\
usage: verify [OPTIONS] [TOKEN | -]
       verify --demo [--scope SCOPE]...

Checks a Cognito token as API Gateway's Cognito authorizer would.
The token is read from standard input when it is `-` or absent.

options (each falls back to the environment variable shown):
  --pool ID          user pool id, such as us-east-1_AbCdEfGhI   [COGNITO_USER_POOL_ID]
  --issuer URL       expected `iss`, instead of the AWS forms     [COGNITO_ISSUER]
                     (without --pool the pool id is its last path segment)
  --jwks-url URL     where the keys are, instead of {issuer}/.well-known/jwks.json
                                                                  [COGNITO_JWKS_URL]
  --client-id ID     accept only this app client (repeatable)     [COGNITO_CLIENT_ID]
  --scope SCOPE      the method's OAuth scopes (repeatable, or space-separated):
                     any one of them is required of an access token [COGNITO_SCOPES]
  --token-use USE    id, access or either: override which token the method takes
  --demo             start a local user pool and check a token it just signed
  -h, --help         this text

exit status: 0 the token passes, 1 it does not, 2 usage or configuration error";

/// What the command line asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--pool`.
    pub pool: Option<String>,
    /// `--issuer`.
    pub issuer: Option<String>,
    /// `--jwks-url`.
    pub jwks_url: Option<String>,
    /// `--client-id`, each.
    pub client_ids: Vec<String>,
    /// `--scope`, each.
    pub scopes: Vec<String>,
    /// `--token-use`.
    pub token_use: Option<TokenUseRule>,
    /// The token argument; `None` (or `-`) reads standard input.
    pub token: Option<String>,
    /// `--demo`.
    pub demo: bool,
    /// `--help`.
    pub help: bool,
}

/// Reads the arguments (without the program name); options not given fall back
/// to `env`.
pub fn parse_args(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    let mut only_positional = false;
    while let Some(arg) = args.next() {
        if only_positional || arg == "-" || !arg.starts_with('-') {
            if options.token.replace(arg.clone()).is_some() {
                return Err("more than one token given".into());
            }
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            match inline.clone().or_else(|| args.next().cloned()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(format!("{name} needs a value")),
            }
        };
        match name {
            "--" => only_positional = true,
            "-h" | "--help" => options.help = true,
            "--demo" => options.demo = true,
            "--pool" => options.pool = Some(value()?),
            "--issuer" => options.issuer = Some(value()?),
            "--jwks-url" => options.jwks_url = Some(value()?),
            "--client-id" => options.client_ids.push(value()?),
            "--scope" | "--scopes" => options
                .scopes
                .extend(value()?.split_whitespace().map(str::to_owned)),
            "--token-use" => {
                options.token_use = Some(match value()?.as_str() {
                    "id" => TokenUseRule::Id,
                    "access" => TokenUseRule::Access,
                    "either" | "any" => TokenUseRule::Either,
                    other => {
                        return Err(format!(
                            "--token-use takes id, access or either, not {other:?}"
                        ));
                    }
                });
            }
            other => return Err(format!("unknown option {other}")),
        }
        if matches!(name, "--" | "-h" | "--help" | "--demo") && inline.is_some() {
            return Err(format!("{name} takes no value"));
        }
    }
    let from_env = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    options.pool = options.pool.or_else(|| from_env("COGNITO_USER_POOL_ID"));
    options.issuer = options.issuer.or_else(|| from_env("COGNITO_ISSUER"));
    options.jwks_url = options.jwks_url.or_else(|| from_env("COGNITO_JWKS_URL"));
    if options.client_ids.is_empty() {
        options.client_ids.extend(from_env("COGNITO_CLIENT_ID"));
    }
    if options.scopes.is_empty()
        && let Some(scopes) = from_env("COGNITO_SCOPES")
    {
        options
            .scopes
            .extend(scopes.split_whitespace().map(str::to_owned));
    }
    if options.demo && options.token.is_some() {
        return Err("--demo signs its own token: give no token".into());
    }
    Ok(options)
}

impl Options {
    /// The method's requirement: API Gateway's rule from the scopes, unless
    /// `--token-use` says otherwise.
    pub fn requirement(&self) -> Requirement {
        let requirement = if self.scopes.is_empty() {
            Requirement::new()
        } else {
            Requirement::any_scope(self.scopes.iter().cloned())
        };
        match self.token_use {
            Some(rule) => requirement.token_use(rule),
            None => requirement,
        }
    }

    /// The user pool the options describe.
    pub fn user_pool(&self) -> Result<UserPool, String> {
        let id = match (&self.pool, &self.issuer) {
            (Some(id), _) => id.clone(),
            (None, Some(issuer)) => issuer
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|id| !id.is_empty() && !id.contains(':'))
                .ok_or_else(|| {
                    format!("cannot read a pool id from the issuer {issuer:?}: give --pool")
                })?
                .to_owned(),
            (None, None) => {
                return Err("no user pool: give --pool (or --issuer), or try --demo".into());
            }
        };
        let mut pool = UserPool::new(id);
        if let Some(issuer) = &self.issuer {
            pool = pool.issuer(issuer.clone());
        }
        if let Some(url) = &self.jwks_url {
            pool = pool.jwks_url(url.clone());
        }
        Ok(pool)
    }
}

/// The outcome of one test, as the console would show it.
#[derive(Debug)]
pub struct Verdict {
    /// The status API Gateway would answer (200 for a token that passes).
    pub status: u16,
    /// The body of its rejection (empty for a pass).
    pub body: String,
    /// The claims of a token that passes, or why it does not.
    pub result: Result<Claims, Failure>,
}

/// Why a token did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The kind, as the crate reports it.
    pub kind: AuthErrorKind,
    /// The crate's detail.
    pub detail: String,
}

impl From<&AuthError> for Failure {
    fn from(error: &AuthError) -> Self {
        Self {
            kind: error.kind(),
            detail: error.detail().to_owned(),
        }
    }
}

/// Sends `token` through a [`CognitoAuthLayer`] with this requirement, as the
/// console's Test button invokes the authorizer, and reports what happened.
pub async fn test_token(
    verifier: &Verifier,
    requirement: Requirement,
    token: &str,
) -> Result<Verdict, ConfigError> {
    let layer = CognitoAuthLayer::new(verifier.clone()).require(requirement)?;
    let Ok(header) = http::HeaderValue::from_str(token) else {
        return Ok(Verdict {
            status: 401,
            body: r#"{"message":"Unauthorized"}"#.to_owned(),
            result: Err(Failure {
                kind: AuthErrorKind::MalformedToken,
                detail: "the token has characters that no JWT has and no HTTP header can carry"
                    .to_owned(),
            }),
        });
    };
    // The backend behind the authorizer: it hands back the claims it was given.
    let backend = tower::service_fn(|request: http::Request<()>| async move {
        let mut response = http::Response::new(Empty::<Bytes>::new());
        if let Some(claims) = request.extensions().get::<Claims>() {
            response.extensions_mut().insert(claims.clone());
        }
        Ok::<_, Infallible>(response)
    });
    let mut request = http::Request::new(());
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, header);
    let Ok(response) = tower::Layer::layer(&layer, backend).oneshot(request).await;
    let status = response.status().as_u16();
    let claims = response.extensions().get::<Claims>().cloned();
    let error = response.extensions().get::<AuthError>().map(Failure::from);
    let Ok(body) = response.into_body().collect().await;
    let body = String::from_utf8_lossy(&body.to_bytes()).into_owned();
    let result = match (claims, error) {
        (Some(claims), None) => Ok(claims),
        (_, Some(error)) => Err(error),
        (None, None) => Err(Failure {
            kind: AuthErrorKind::InvalidRequest,
            detail: "the layer neither passed nor rejected the request".to_owned(),
        }),
    };
    Ok(Verdict {
        status,
        body,
        result,
    })
}

/// A hint for the common mistakes behind each kind of failure.
fn hint(kind: AuthErrorKind, options: &Options) -> Option<&'static str> {
    Some(match kind {
        AuthErrorKind::WrongTokenUse if options.scopes.is_empty() => {
            "a method without scopes takes an ID token, as the console's Test does; \
             for an access token, give the method's --scope"
        }
        AuthErrorKind::WrongTokenUse => {
            "a method with scopes takes an access token, not an ID token"
        }
        AuthErrorKind::InsufficientScope => {
            "the access token's `scope` claim holds none of the --scope values"
        }
        AuthErrorKind::Expired => {
            "get a fresh token: Cognito tokens last one hour unless the app client says otherwise"
        }
        AuthErrorKind::WrongIssuer => {
            "the token comes from another user pool or region (or, for an emulator, give --issuer)"
        }
        AuthErrorKind::WrongClient => "the token was issued to another app client than --client-id",
        AuthErrorKind::UnknownKey => {
            "the pool's key set has no key with the token's kid: another pool, or a wrong --jwks-url"
        }
        AuthErrorKind::BadSignature => "the token was altered, or signed by a key of another pool",
        AuthErrorKind::MalformedToken => {
            "paste the whole token: three base64url parts joined by dots"
        }
        AuthErrorKind::KeySetUnavailable => {
            "the key set could not be fetched: check the network, the pool id and --jwks-url"
        }
        AuthErrorKind::MissingToken => "the token is empty",
        _ => return None,
    })
}

fn report(verdict: &Verdict, options: &Options, out: &mut dyn Write) -> std::io::Result<bool> {
    match &verdict.result {
        Ok(claims) => {
            writeln!(
                out,
                "PASS: API Gateway would answer {} and call the method",
                verdict.status
            )?;
            writeln!(
                out,
                "token_use: {}, sub: {}, username: {}",
                claims.token_use().as_str(),
                claims.sub(),
                claims.username().unwrap_or("-")
            )?;
            let pretty = serde_json::to_string_pretty(claims.as_map()).unwrap_or_default();
            writeln!(out, "claims:\n{pretty}")?;
            Ok(true)
        }
        Err(failure) => {
            writeln!(
                out,
                "FAIL: API Gateway would answer {} {}",
                verdict.status, verdict.body
            )?;
            writeln!(
                out,
                "reason: {:?} ({}): {}",
                failure.kind, failure.kind, failure.detail
            )?;
            if let Some(hint) = hint(failure.kind, options) {
                writeln!(out, "hint: {hint}")?;
            }
            Ok(false)
        }
    }
}

/// Runs the command: `args` without the program name, `env` for fallbacks,
/// `stdin` for the token when none is given. Returns the exit status.
pub async fn run(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let usage = |err: &mut dyn Write, message: &str| {
        let _ = writeln!(err, "error: {message}\n(`verify --help` lists the options)");
        2
    };
    let options = match parse_args(args, env) {
        Ok(options) => options,
        Err(message) => return usage(err, &message),
    };
    if options.help {
        let _ = writeln!(out, "{USAGE}");
        return 0;
    }
    let requirement = options.requirement();
    if let Err(e) = requirement.validate() {
        return usage(err, e.message());
    }

    // The demo's pool must outlive the check: its key server stops when dropped.
    let (verifier, token, _demo_pool) = if options.demo {
        let pool = match LocalUserPool::start().await {
            Ok(pool) => pool,
            Err(e) => {
                let _ = writeln!(err, "error: cannot start the local user pool: {e}");
                return 1;
            }
        };
        let token = if requirement.effective_token_use() == TokenUseRule::Access {
            pool.access_token()
                .username("demo-user")
                .scopes(&options.scopes)
                .sign()
        } else {
            pool.id_token().username("demo-user").sign()
        };
        let _ = writeln!(
            out,
            "demo: local user pool {} (keys at {}), a fresh token it signed\n",
            pool.pool_id(),
            pool.jwks_url()
        );
        (pool.verifier(), token, Some(pool))
    } else {
        let pool = match options.user_pool() {
            Ok(pool) => pool,
            Err(message) => return usage(err, &message),
        };
        let verifier = match Verifier::builder()
            .pool(pool)
            .client_ids(options.client_ids.clone())
            .build()
        {
            Ok(verifier) => verifier,
            Err(e) => return usage(err, &e.to_string()),
        };
        let token = match options.token.as_deref() {
            Some(token) if token != "-" => token.to_owned(),
            _ => {
                let mut text = String::new();
                // Far more than any token; the verifier refuses anything over 16 KiB.
                if let Err(e) = stdin.take(1 << 20).read_to_string(&mut text) {
                    let _ = writeln!(err, "error: cannot read the token from standard input: {e}");
                    return 2;
                }
                text
            }
        };
        (verifier, token, None)
    };

    let token = token.trim();
    if token.is_empty() {
        return usage(err, "no token given");
    }
    let verdict = match test_token(&verifier, requirement, token).await {
        Ok(verdict) => verdict,
        Err(e) => return usage(err, &e.to_string()),
    };
    match report(&verdict, &options, out) {
        Ok(true) => 0,
        _ => 1,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = |name: &str| std::env::var(name).ok();
    let status = run(
        &args,
        &env,
        &mut std::io::stdin(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
    .await;
    ExitCode::from(status)
}
