//! [`Responses`]: what a rejected request gets back.

use crate::error::{AuthError, AuthErrorKind};
use crate::verifier::token::NOT_THREE_SEGMENTS;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use std::fmt;
use std::sync::Arc;

type Custom = Arc<dyn Fn(&AuthError) -> Response<Bytes> + Send + Sync>;

/// How rejections are answered. Bodies are constant: what went wrong is logged
/// with `tracing` and carried in the response's extensions as an [`AuthError`],
/// never sent to the client.
///
/// API Gateway's answers are the default; [`rfc6750`](Self::rfc6750) gives a
/// `WWW-Authenticate` challenge instead, [`custom`](Self::custom) your own:
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response, StatusCode};
/// use std::convert::Infallible;
/// use tower::{Layer, ServiceExt, service_fn};
/// use tower_cognito::test_util::LocalUserPool;
/// use tower_cognito::{AuthErrorKind, CognitoAuthLayer, Responses};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = LocalUserPool::start().await?;
/// let handler = service_fn(|_: Request<String>| async {
///     Ok::<_, Infallible>(Response::new(String::new()))
/// });
/// let no_token = || Request::get("/notes").body(String::new());
///
/// // RFC 6750: 401 with a challenge naming the realm.
/// let rfc = CognitoAuthLayer::new(pool.verifier())
///     .responses(Responses::rfc6750("notes"))
///     .layer(handler.clone());
/// let response = rfc.oneshot(no_token()?).await?;
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="notes""#);
///
/// // Your own: the closure sees the error, never the token.
/// let custom = CognitoAuthLayer::new(pool.verifier())
///     .responses(Responses::custom(|error| {
///         let status = match error.kind() {
///             AuthErrorKind::MissingToken => StatusCode::UNAUTHORIZED,
///             _ => StatusCode::FORBIDDEN,
///         };
///         let mut response = Response::new(Bytes::from_static(b"sign in first"));
///         *response.status_mut() = status;
///         response
///     }))
///     .layer(handler);
/// let response = custom.oneshot(no_token()?).await?;
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Responses(Mode);

#[derive(Clone)]
enum Mode {
    ApiGateway,
    HttpApi,
    Rfc6750 {
        challenge: String,
    },
    #[cfg(feature = "grpc")]
    Grpc,
    Custom(Custom),
}

impl Default for Responses {
    fn default() -> Self {
        Self::api_gateway()
    }
}

impl fmt::Debug for Responses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Mode::ApiGateway => f.write_str("Responses::ApiGateway"),
            Mode::HttpApi => f.write_str("Responses::HttpApi"),
            Mode::Rfc6750 { challenge } => write!(f, "Responses::Rfc6750({challenge})"),
            #[cfg(feature = "grpc")]
            Mode::Grpc => f.write_str("Responses::Grpc"),
            Mode::Custom(_) => f.write_str("Responses::Custom(<fn>)"),
        }
    }
}

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const EXPIRED: &str = r#"{"message":"The incoming token has expired"}"#;
const CONFIG_ERROR: &str = r#"{"message":null}"#;
const MISSING_AUTHENTICATION_TOKEN: &str = r#"{"message":"Missing Authentication Token"}"#;
const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;
const NOT_FOUND: &str = r#"{"message":"Not Found"}"#;
const INTERNAL_SERVER_ERROR: &str = r#"{"message":"Internal Server Error"}"#;
/// Seconds a client is asked to wait when the key set is unavailable.
const RETRY_AFTER_SECS: &str = "5";

static AMZN_ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

impl Responses {
    /// API Gateway's responses, byte for byte (the default):
    ///
    /// | case | status | body | `x-amzn-ErrorType` |
    /// |---|---|---|---|
    /// | expired token | 401 | `{"message":"The incoming token has expired"}` | `UnauthorizedException` |
    /// | any other token or request problem, including a missing scope or a revoked token | 401 | `{"message":"Unauthorized"}` | `UnauthorizedException` |
    /// | keys unavailable, or the revocation store failing | 500 | `{"message":null}` | `AuthorizerConfigurationException` |
    /// | no operation of an imported definition ([`AuthErrorKind::UnknownOperation`]) | 403 | `{"message":"Missing Authentication Token"}` | `MissingAuthenticationTokenException` |
    /// | an operation behind an authorizer the crate cannot check, refused on purpose ([`AuthErrorKind::UnenforceableOperation`]) | 403 | `{"message":"Forbidden"}` | `ForbiddenException` |
    ///
    /// All with `Content-Type: application/json` and no `WWW-Authenticate`.
    pub fn api_gateway() -> Self {
        Self(Mode::ApiGateway)
    }

    /// API Gateway HTTP API's responses for its JWT authorizer, byte for byte
    /// where AWS's pages or observed responses show them (the README's "HTTP
    /// API JWT authorizer" section says which):
    ///
    /// | case | status | body | `www-authenticate` |
    /// |---|---|---|---|
    /// | no token | 401 | `{"message":"Unauthorized"}` | `Bearer` |
    /// | a token that fails a check | 401 | `{"message":"Unauthorized"}` | `Bearer scope="…" error="invalid_token" error_description="…"` |
    /// | a valid token without any of the route's scopes | 403 | `{"message":"Forbidden"}` | `Bearer scope="…" error="insufficient_scope" error_description="…"` |
    /// | keys unavailable | 500 | `{"message":"Internal Server Error"}` | none |
    /// | no route of an imported definition ([`AuthErrorKind::UnknownOperation`]) | 404 | `{"message":"Not Found"}` | none |
    /// | a route behind an authorizer the crate cannot check ([`AuthErrorKind::UnenforceableOperation`]) | 403 | `{"message":"Forbidden"}` | none |
    ///
    /// `scope="…"` holds the route's scopes, separated by spaces (empty for a
    /// route without scopes). The `error_description` is a fixed text per
    /// check: `the token has expired`, `the token does not have a valid
    /// audience`, `token contains an invalid number of segments` (these three
    /// as AWS sends them), `the token does not have a valid issuer`, `the
    /// token is not valid yet` (`nbf` or `iat` in the future), `the token is
    /// not valid` (anything else), and `the token does not have the required
    /// scope` for a 403. All with `Content-Type: application/json` and no
    /// `x-amzn-ErrorType`.
    pub fn http_api() -> Self {
        Self(Mode::HttpApi)
    }

    /// RFC 6750 bearer-token responses, with `WWW-Authenticate: Bearer realm="…"`:
    ///
    /// | case | status | `error` |
    /// |---|---|---|
    /// | no token | 401 | none |
    /// | header twice, unreadable, other scheme | 400 | `invalid_request` |
    /// | bad, expired, wrong-issuer, wrong-kind token | 401 | `invalid_token` |
    /// | valid token without the scope (or group, or check) | 403 | `insufficient_scope`, with `scope="…"` |
    /// | keys unavailable, or the revocation store failing | 503 with `Retry-After: 5` | none |
    /// | no operation of an imported definition | 404, no `WWW-Authenticate` | |
    /// | an operation behind an authorizer the crate cannot check | 403, no `WWW-Authenticate` | |
    ///
    /// Bodies are empty. Quotes and backslashes in the realm are escaped and
    /// control characters dropped.
    pub fn rfc6750(realm: impl AsRef<str>) -> Self {
        Self(Mode::Rfc6750 {
            challenge: format!("Bearer realm=\"{}\"", quote(realm.as_ref())),
        })
    }

    /// gRPC answers (feature `grpc`), for a tonic server or any gRPC service
    /// over HTTP/2: a trailers-only response, HTTP 200 with
    /// `content-type: application/grpc`, `grpc-status`, a `grpc-message` and an
    /// empty body, which gRPC clients read as the call's status.
    ///
    /// | case | `grpc-status` | `grpc-message` |
    /// |---|---|---|
    /// | no token | 16 `UNAUTHENTICATED` | `missing bearer token` |
    /// | token metadata twice, unreadable, other scheme, tokens in two sources | 16 | `the request does not carry exactly one readable bearer token` |
    /// | expired token | 16 | `the token has expired` |
    /// | ID token where an access token is required, or the reverse | 16 | `the token is not of the kind this method takes` |
    /// | any other bad token (malformed, signature, issuer, app client, key) | 16 | `the token is not valid` |
    /// | valid token without the scope | 7 `PERMISSION_DENIED` | `the token lacks the required scope` |
    /// | valid token refused by the groups, pools, `aud` or a check | 7 | `the token does not grant access to this method` |
    /// | an operation behind an authorizer the crate cannot check | 7 | `the method is protected by an authorizer this server cannot check` |
    /// | a revoked token ([`Revocation`](crate::Revocation)) | 16 | `the token has been revoked` |
    /// | no key can be had (JWKS down, nothing cached) | 14 `UNAVAILABLE` | `the keys to verify the token are unavailable` |
    /// | the revocation store fails | 14 | `whether the token is revoked cannot be checked` |
    /// | a method the table does not list ([`AuthErrorKind::UnknownOperation`]) | 12 `UNIMPLEMENTED` | `unknown method` |
    ///
    /// Codes as in gRPC's status code guide (`UNAUTHENTICATED`: no valid
    /// credentials; `PERMISSION_DENIED`: authenticated, not allowed;
    /// `UNAVAILABLE`: transient, worth a retry). Messages are constant, never
    /// token material, and percent-encoded as gRPC's HTTP/2 protocol asks
    /// (bytes outside `0x20..=0x7E`, and `%`).
    #[cfg(feature = "grpc")]
    pub fn grpc() -> Self {
        Self(Mode::Grpc)
    }

    /// Your own responses. The closure sees the error and returns the response;
    /// the crate adds the [`AuthError`] to its extensions.
    pub fn custom(f: impl Fn(&AuthError) -> Response<Bytes> + Send + Sync + 'static) -> Self {
        Self(Mode::Custom(Arc::new(f)))
    }

    /// The response for this error on a route that names `scopes`.
    pub(crate) fn respond(&self, error: &AuthError, scopes: &[String]) -> Response<Bytes> {
        let mut response = match &self.0 {
            Mode::ApiGateway => api_gateway(error),
            Mode::HttpApi => http_api(error, scopes),
            Mode::Rfc6750 { challenge } => rfc6750(challenge, error, scopes),
            #[cfg(feature = "grpc")]
            Mode::Grpc => grpc(error),
            Mode::Custom(f) => f(error),
        };
        response.extensions_mut().insert(error.clone());
        response
    }
}

fn api_gateway(error: &AuthError) -> Response<Bytes> {
    let (status, body, error_type) = match error.kind() {
        AuthErrorKind::Expired => (StatusCode::UNAUTHORIZED, EXPIRED, "UnauthorizedException"),
        AuthErrorKind::KeySetUnavailable | AuthErrorKind::RevocationUnavailable => (
            StatusCode::INTERNAL_SERVER_ERROR,
            CONFIG_ERROR,
            "AuthorizerConfigurationException",
        ),
        AuthErrorKind::UnknownOperation => (
            StatusCode::FORBIDDEN,
            MISSING_AUTHENTICATION_TOKEN,
            "MissingAuthenticationTokenException",
        ),
        AuthErrorKind::UnenforceableOperation => {
            (StatusCode::FORBIDDEN, FORBIDDEN, "ForbiddenException")
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            UNAUTHORIZED,
            "UnauthorizedException",
        ),
    };
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        AMZN_ERROR_TYPE.clone(),
        HeaderValue::from_static(error_type),
    );
    response
}

fn http_api(error: &AuthError, scopes: &[String]) -> Response<Bytes> {
    use AuthErrorKind as K;
    let challenge = |code: &str, description: &str| {
        format!(
            "Bearer scope=\"{}\" error=\"{code}\" error_description=\"{description}\"",
            quote(&scopes.join(" "))
        )
    };
    let (status, body, header) = match error.kind() {
        K::MissingToken => (
            StatusCode::UNAUTHORIZED,
            UNAUTHORIZED,
            Some("Bearer".to_owned()),
        ),
        K::KeySetUnavailable => (
            StatusCode::INTERNAL_SERVER_ERROR,
            INTERNAL_SERVER_ERROR,
            None,
        ),
        K::UnknownOperation => (StatusCode::NOT_FOUND, NOT_FOUND, None),
        K::UnenforceableOperation => (StatusCode::FORBIDDEN, FORBIDDEN, None),
        K::InsufficientScope | K::Forbidden => (
            StatusCode::FORBIDDEN,
            FORBIDDEN,
            Some(challenge(
                "insufficient_scope",
                "the token does not have the required scope",
            )),
        ),
        kind => {
            let description = match kind {
                K::Expired => "the token has expired",
                K::WrongClient => "the token does not have a valid audience",
                K::WrongIssuer => "the token does not have a valid issuer",
                K::NotYetValid => "the token is not valid yet",
                K::MalformedToken if error.detail() == NOT_THREE_SEGMENTS => {
                    "token contains an invalid number of segments"
                }
                _ => "the token is not valid",
            };
            (
                StatusCode::UNAUTHORIZED,
                UNAUTHORIZED,
                Some(challenge("invalid_token", description)),
            )
        }
    };
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(value) = header.and_then(|h| HeaderValue::from_str(&h).ok()) {
        headers.insert(WWW_AUTHENTICATE, value);
    }
    response
}

fn rfc6750(challenge: &str, error: &AuthError, scopes: &[String]) -> Response<Bytes> {
    use AuthErrorKind as K;
    // Not a question of the bearer token: no challenge.
    let plain = match error.kind() {
        K::UnknownOperation => Some(StatusCode::NOT_FOUND),
        K::UnenforceableOperation => Some(StatusCode::FORBIDDEN),
        _ => None,
    };
    if let Some(status) = plain {
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = status;
        return response;
    }
    let (status, code, description) = match error.kind() {
        K::MissingToken => (StatusCode::UNAUTHORIZED, None, None),
        K::InvalidRequest => (
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
            Some("the request does not carry exactly one readable bearer token"),
        ),
        K::KeySetUnavailable | K::RevocationUnavailable => {
            (StatusCode::SERVICE_UNAVAILABLE, None, None)
        }
        K::Revoked => (
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            Some("the token has been revoked"),
        ),
        K::InsufficientScope => (
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            Some("the token lacks the required scope"),
        ),
        K::Forbidden => (
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            Some("the token does not grant access to this resource"),
        ),
        K::Expired => (
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            Some("the token has expired"),
        ),
        K::WrongTokenUse => (
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            Some("the token is not of the kind this resource takes"),
        ),
        _ => (
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            Some("the token is not valid"),
        ),
    };
    let mut value = challenge.to_owned();
    if let Some(code) = code {
        value.push_str(&format!(", error=\"{code}\""));
    }
    if let Some(description) = description {
        value.push_str(&format!(", error_description=\"{description}\""));
    }
    if error.kind() == K::InsufficientScope && !scopes.is_empty() {
        value.push_str(&format!(", scope=\"{}\"", quote(&scopes.join(" "))));
    }
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(WWW_AUTHENTICATE, value);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    }
    response
}

/// gRPC status codes (gRPC's `doc/statuscodes.md`).
#[cfg(feature = "grpc")]
mod grpc_code {
    pub(super) const PERMISSION_DENIED: u16 = 7;
    pub(super) const UNIMPLEMENTED: u16 = 12;
    pub(super) const UNAVAILABLE: u16 = 14;
    pub(super) const UNAUTHENTICATED: u16 = 16;
}

#[cfg(feature = "grpc")]
static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
#[cfg(feature = "grpc")]
static GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// The gRPC status code and message for an error. Every kind is named, so that
/// a new kind cannot fall into a code by accident.
#[cfg(feature = "grpc")]
fn grpc_status(kind: AuthErrorKind) -> (u16, &'static str) {
    use AuthErrorKind as K;
    use grpc_code::*;
    const INVALID: &str = "the token is not valid";
    match kind {
        K::MissingToken => (UNAUTHENTICATED, "missing bearer token"),
        K::InvalidRequest => (
            UNAUTHENTICATED,
            "the request does not carry exactly one readable bearer token",
        ),
        K::Expired => (UNAUTHENTICATED, "the token has expired"),
        K::WrongTokenUse => (
            UNAUTHENTICATED,
            "the token is not of the kind this method takes",
        ),
        K::MalformedToken
        | K::DisallowedAlgorithm
        | K::NotYetValid
        | K::BadSignature
        | K::UnknownKey
        | K::WrongIssuer
        | K::WrongClient => (UNAUTHENTICATED, INVALID),
        K::InsufficientScope => (PERMISSION_DENIED, "the token lacks the required scope"),
        K::Forbidden => (
            PERMISSION_DENIED,
            "the token does not grant access to this method",
        ),
        K::UnenforceableOperation => (
            PERMISSION_DENIED,
            "the method is protected by an authorizer this server cannot check",
        ),
        K::Revoked => (UNAUTHENTICATED, "the token has been revoked"),
        K::KeySetUnavailable => (UNAVAILABLE, "the keys to verify the token are unavailable"),
        K::RevocationUnavailable => (
            UNAVAILABLE,
            "whether the token is revoked cannot be checked",
        ),
        K::UnknownOperation => (UNIMPLEMENTED, "unknown method"),
    }
}

#[cfg(feature = "grpc")]
fn grpc(error: &AuthError) -> Response<Bytes> {
    let (code, message) = grpc_status(error.kind());
    // HTTP 200 and an empty body: the whole answer is in the one HEADERS frame
    // (gRPC's "Trailers-Only" response).
    let mut response = Response::new(Bytes::new());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(GRPC_STATUS.clone(), HeaderValue::from(code));
    if let Ok(value) = HeaderValue::try_from(percent_encode(message)) {
        headers.insert(GRPC_MESSAGE.clone(), value);
    }
    response
}

/// Percent-encodes a `grpc-message` (gRPC's `PROTOCOL-HTTP2.md`): the UTF-8
/// bytes outside `0x20..=0x7E`, and `%` itself, become `%XX`.
#[cfg(feature = "grpc")]
fn percent_encode(message: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(message.len());
    for &byte in message.as_bytes() {
        if (0x20..=0x7E).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Escapes a value for an RFC 7230 quoted-string; control characters are dropped.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: AuthErrorKind) -> AuthError {
        AuthError::new(kind, "x")
    }

    #[test]
    fn realm_is_escaped() {
        let r = Responses::rfc6750("a\"b\\c\nd").respond(&err(AuthErrorKind::MissingToken), &[]);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], r#"Bearer realm="a\"b\\cd""#);
        assert_eq!(r.status(), 401);
    }

    #[test]
    fn insufficient_scope_names_the_scopes() {
        let r = Responses::rfc6750("api").respond(
            &err(AuthErrorKind::InsufficientScope),
            &["a/b".into(), "c".into()],
        );
        assert_eq!(r.status(), 403);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks the required scope", scope="a/b c""#
        );
        assert_eq!(
            r.extensions().get::<AuthError>().unwrap().kind(),
            AuthErrorKind::InsufficientScope
        );
    }

    fn http_api(kind: AuthErrorKind, scopes: &[&str]) -> (u16, String, Option<String>) {
        http_api_for(&err(kind), scopes)
    }

    fn http_api_for(error: &AuthError, scopes: &[&str]) -> (u16, String, Option<String>) {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let r = Responses::http_api().respond(error, &scopes);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert!(r.headers().get("x-amzn-errortype").is_none());
        assert_eq!(r.extensions().get::<AuthError>(), Some(error));
        let header = r
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = String::from_utf8(r.body().to_vec()).unwrap();
        (r.status().as_u16(), body, header)
    }

    fn invalid(description: &str, scope: &str) -> Option<String> {
        Some(format!(
            r#"Bearer scope="{scope}" error="invalid_token" error_description="{description}""#
        ))
    }

    const UNAUTHORIZED_BODY: &str = r#"{"message":"Unauthorized"}"#;

    #[test]
    fn http_api_missing_token_is_a_bare_challenge() {
        assert_eq!(
            http_api(AuthErrorKind::MissingToken, &["a"]),
            (401, UNAUTHORIZED_BODY.to_owned(), Some("Bearer".to_owned()))
        );
    }

    #[test]
    fn http_api_bad_tokens_are_401_with_the_route_scopes() {
        use AuthErrorKind as K;
        for (kind, description) in [
            (K::Expired, "the token has expired"),
            (K::WrongClient, "the token does not have a valid audience"),
            (K::WrongIssuer, "the token does not have a valid issuer"),
            (K::NotYetValid, "the token is not valid yet"),
            (K::MalformedToken, "the token is not valid"),
            (K::BadSignature, "the token is not valid"),
            (K::UnknownKey, "the token is not valid"),
            (K::DisallowedAlgorithm, "the token is not valid"),
            (K::WrongTokenUse, "the token is not valid"),
            (K::InvalidRequest, "the token is not valid"),
        ] {
            assert_eq!(
                http_api(kind, &[]),
                (401, UNAUTHORIZED_BODY.to_owned(), invalid(description, "")),
                "{kind:?}"
            );
            assert_eq!(
                http_api(kind, &["pets/read", "pets/admin"]).2,
                invalid(description, "pets/read pets/admin"),
                "{kind:?}"
            );
        }
        let segments = AuthError::malformed(NOT_THREE_SEGMENTS);
        assert_eq!(
            http_api_for(&segments, &[]).2,
            invalid("token contains an invalid number of segments", "")
        );
    }

    #[test]
    fn http_api_missing_scope_is_403_forbidden() {
        for kind in [AuthErrorKind::InsufficientScope, AuthErrorKind::Forbidden] {
            assert_eq!(
                http_api(kind, &["pets/read"]),
                (
                    403,
                    r#"{"message":"Forbidden"}"#.to_owned(),
                    Some(
                        r#"Bearer scope="pets/read" error="insufficient_scope" error_description="the token does not have the required scope""#
                            .to_owned()
                    )
                )
            );
        }
    }

    #[test]
    fn http_api_server_and_route_answers() {
        assert_eq!(
            http_api(AuthErrorKind::KeySetUnavailable, &[]),
            (
                500,
                r#"{"message":"Internal Server Error"}"#.to_owned(),
                None
            )
        );
        assert_eq!(
            http_api(AuthErrorKind::UnknownOperation, &[]),
            (404, r#"{"message":"Not Found"}"#.to_owned(), None)
        );
        assert_eq!(
            http_api(AuthErrorKind::UnenforceableOperation, &[]),
            (403, r#"{"message":"Forbidden"}"#.to_owned(), None)
        );
        assert_eq!(format!("{:?}", Responses::http_api()), "Responses::HttpApi");
    }

    #[test]
    fn api_gateway_key_outage_is_500() {
        let r = Responses::api_gateway().respond(&err(AuthErrorKind::KeySetUnavailable), &[]);
        assert_eq!(r.status(), 500);
        assert_eq!(
            r.headers()["x-amzn-errortype"],
            "AuthorizerConfigurationException"
        );
        let r = Responses::rfc6750("x").respond(&err(AuthErrorKind::KeySetUnavailable), &[]);
        assert_eq!(
            (r.status().as_u16(), &r.headers()[RETRY_AFTER]),
            (503, &HeaderValue::from_static("5"))
        );
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn grpc_maps_every_kind() {
        use AuthErrorKind as K;
        let cases = [
            (K::MissingToken, "16", "missing bearer token"),
            (
                K::InvalidRequest,
                "16",
                "the request does not carry exactly one readable bearer token",
            ),
            (K::MalformedToken, "16", "the token is not valid"),
            (K::DisallowedAlgorithm, "16", "the token is not valid"),
            (K::Expired, "16", "the token has expired"),
            (K::NotYetValid, "16", "the token is not valid"),
            (K::BadSignature, "16", "the token is not valid"),
            (K::UnknownKey, "16", "the token is not valid"),
            (K::WrongIssuer, "16", "the token is not valid"),
            (
                K::WrongTokenUse,
                "16",
                "the token is not of the kind this method takes",
            ),
            (K::WrongClient, "16", "the token is not valid"),
            (
                K::InsufficientScope,
                "7",
                "the token lacks the required scope",
            ),
            (
                K::Forbidden,
                "7",
                "the token does not grant access to this method",
            ),
            (K::Revoked, "16", "the token has been revoked"),
            (
                K::RevocationUnavailable,
                "14",
                "whether the token is revoked cannot be checked",
            ),
            (
                K::KeySetUnavailable,
                "14",
                "the keys to verify the token are unavailable",
            ),
            (K::UnknownOperation, "12", "unknown method"),
            (
                K::UnenforceableOperation,
                "7",
                "the method is protected by an authorizer this server cannot check",
            ),
        ];
        for (kind, code, message) in cases {
            // The detail (which could name what is wrong) never reaches the client.
            let error = AuthError::new(kind, "detail: eyJhbGciOi");
            let r = Responses::grpc().respond(&error, &["notes/read".into()]);
            assert_eq!(r.status(), StatusCode::OK, "{kind:?}");
            let headers: Vec<_> = r
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
                .collect();
            assert_eq!(
                headers,
                [
                    ("content-type", "application/grpc"),
                    ("grpc-status", code),
                    ("grpc-message", message),
                ],
                "{kind:?}"
            );
            assert!(r.body().is_empty(), "{kind:?}: trailers-only, no body");
            assert_eq!(r.extensions().get::<AuthError>(), Some(&error));
        }
        assert_eq!(format!("{:?}", Responses::grpc()), "Responses::Grpc");
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn grpc_message_is_percent_encoded() {
        assert_eq!(percent_encode("unknown method"), "unknown method");
        assert_eq!(percent_encode(" ~!\\\""), " ~!\\\"");
        assert_eq!(percent_encode("100%"), "100%25");
        assert_eq!(percent_encode("caf\u{e9}\n\t\u{7f}"), "caf%C3%A9%0A%09%7F");
        assert_eq!(percent_encode("\u{1F512}"), "%F0%9F%94%92");
    }
}
