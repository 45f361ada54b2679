//! [`TokenSource`]: where the layer reads a request's token.

use crate::error::{AuthError, AuthErrorKind};
use http::header::{COOKIE, SEC_WEBSOCKET_PROTOCOL};
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

type Custom = Arc<dyn Fn(&RequestHead<'_>) -> Option<String> + Send + Sync>;

/// A place a request may carry its token. A layer reads every source it is
/// given ([`CognitoAuthLayer::token_sources`](crate::CognitoAuthLayer::token_sources)),
/// in the order given; a request with tokens in two of them is refused as
/// ambiguous ([`AuthErrorKind::InvalidRequest`]), one with none has no token.
///
/// ```
/// use tower_cognito::{CognitoAuthLayer, TokenSource, test_util::LocalUserPool};
/// # async fn demo(pool: LocalUserPool) -> Result<(), tower_cognito::ConfigError> {
/// let auth = CognitoAuthLayer::new(pool.verifier()).token_sources([
///     TokenSource::authorization(),
///     TokenSource::cookie("id_token"),
/// ])?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenSource(Source);

#[derive(Clone)]
enum Source {
    Header(HeaderName),
    Cookie(String),
    Query(String),
    WebSocket(String),
    Custom(Custom),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Header(name) => write!(f, "TokenSource::Header({name})"),
            Source::Cookie(name) => write!(f, "TokenSource::Cookie({name})"),
            Source::Query(name) => write!(f, "TokenSource::Query({name})"),
            Source::WebSocket(marker) => write!(f, "TokenSource::WebSocketProtocol({marker})"),
            Source::Custom(_) => f.write_str("TokenSource::Custom(<fn>)"),
        }
    }
}

/// What a [`TokenSource::custom`] function sees of the request.
#[derive(Debug)]
pub struct RequestHead<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
}

impl RequestHead<'_> {
    /// The request method.
    pub fn method(&self) -> &Method {
        self.method
    }

    /// The request URI.
    pub fn uri(&self) -> &Uri {
        self.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers
    }

    /// The request extensions (set by layers further out).
    pub fn extensions(&self) -> &Extensions {
        self.extensions
    }
}

impl TokenSource {
    /// The `Authorization` header: `Bearer <token>` (scheme in any case) or the
    /// bare token, as API Gateway reads it. The default.
    pub fn authorization() -> Self {
        Self::header(http::header::AUTHORIZATION)
    }

    /// A request header read like `Authorization` (API Gateway's "token source").
    /// The header must appear once.
    pub fn header(name: HeaderName) -> Self {
        Self(Source::Header(name))
    }

    /// A cookie holding the bare token (no `Bearer `), for browser apps served
    /// from the same origin. The cookie must appear once; a value in double
    /// quotes is unquoted.
    pub fn cookie(name: impl Into<String>) -> Self {
        Self(Source::Cookie(name.into()))
    }

    /// A query parameter holding the bare token, for the WebSocket upgrades of
    /// browsers, which cannot set headers on them.
    ///
    /// **The URL is logged** by proxies, load balancers and servers (and kept in
    /// browser history): a token in it can leak from there, and stays usable
    /// until it expires. Prefer [`websocket_protocol`](Self::websocket_protocol)
    /// for WebSockets, keep token lifetimes short, and keep query strings out of
    /// your access logs. The parameter must appear once.
    pub fn query(name: impl Into<String>) -> Self {
        Self(Source::Query(name.into()))
    }

    /// The token as a WebSocket subprotocol: the browser opens
    /// `new WebSocket(url, ["bearer", token])`, so the upgrade request carries
    /// `Sec-WebSocket-Protocol: bearer, <token>`; the token is the value after
    /// the `marker` (compared case-insensitively). The server must then select
    /// the marker as the connection's protocol (axum:
    /// `WebSocketUpgrade::protocols(["bearer"])`), or browsers close the
    /// connection.
    pub fn websocket_protocol(marker: impl Into<String>) -> Self {
        Self(Source::WebSocket(marker.into()))
    }

    /// Your own function: the token it returns (bare, without `Bearer `), or
    /// `None` when the request has none there.
    pub fn custom(f: impl Fn(&RequestHead<'_>) -> Option<String> + Send + Sync + 'static) -> Self {
        Self(Source::Custom(Arc::new(f)))
    }

    /// The header, when this source is one.
    pub(crate) fn header_name(&self) -> Option<&HeaderName> {
        match &self.0 {
            Source::Header(name) => Some(name),
            _ => None,
        }
    }

    /// The token this source finds in the request: `Ok(None)` when there is
    /// none here.
    fn read<'a, B>(&self, request: &'a Request<B>) -> Result<Option<Cow<'a, str>>, AuthError> {
        // What is not a token's shape is left to the verifier (malformed).
        let found = match &self.0 {
            Source::Header(name) => match header(request.headers(), name)? {
                Some(value) => bearer_or_bare(value)?.map(Cow::Borrowed),
                None => None,
            },
            Source::Cookie(name) => cookie(request.headers(), name)?.map(Cow::Borrowed),
            Source::Query(name) => query(request.uri(), name)?,
            Source::WebSocket(marker) => {
                websocket_protocol(request.headers(), marker)?.map(Cow::Borrowed)
            }
            Source::Custom(f) => f(&RequestHead {
                method: request.method(),
                uri: request.uri(),
                headers: request.headers(),
                extensions: request.extensions(),
            })
            .filter(|t| !t.is_empty())
            .map(Cow::Owned),
        };
        Ok(found)
    }
}

/// The token of a request, from the first source that has one; a token in two
/// sources is ambiguous. A header that is absent, empty, or has a scheme and
/// nothing after it is [`MissingToken`](AuthErrorKind::MissingToken), alike on
/// every route.
pub(crate) fn token<'a, B>(
    sources: &[TokenSource],
    request: &'a Request<B>,
) -> Result<Cow<'a, str>, AuthError> {
    let mut found = None;
    for source in sources {
        if let Some(token) = source.read(request)? {
            if found.is_some() {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidRequest,
                    "the request carries a token in more than one place",
                ));
            }
            found = Some(token);
        }
    }
    found.ok_or_else(|| AuthError::new(AuthErrorKind::MissingToken, "no token in the request"))
}

/// The bytes a route's one token source would read its token from, when that
/// is the whole story: the route reads one header, the request has it once,
/// and its value is `Bearer <bytes>` (the scheme in any case) or the bare
/// `<bytes>`. Nothing else is checked: only bytes equal to a token the
/// verifier verified may be taken as one (`Verifier::cached_in_thread`), and
/// such bytes are what [`token`] reads from the same request (visible ASCII
/// without a space, under the size limit, in the one place the route reads).
/// `None` otherwise.
pub(crate) fn exact<'a, B>(sources: &[TokenSource], request: &'a Request<B>) -> Option<&'a [u8]> {
    let [TokenSource(Source::Header(name))] = sources else {
        return None;
    };
    let value = header(request.headers(), name).ok()??.as_bytes();
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => Some(&value[7..]),
        _ => Some(value),
    }
}

/// The one value of a header, `None` when it is absent or empty.
fn header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a HeaderValue>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::new(
            AuthErrorKind::InvalidRequest,
            "token header appears more than once",
        ));
    }
    Ok((!value.is_empty()).then_some(value))
}

/// The token in a header value: `Bearer <token>` (scheme in any case, one space)
/// or the bare token, as API Gateway accepts both.
fn bearer_or_bare(value: &HeaderValue) -> Result<Option<&str>, AuthError> {
    // The common case in two vectorised scans of the token: `Bearer ` (or nothing) and
    // then only visible ASCII other than a space. Anything else (no token, a
    // space, a tab, a byte that is not visible ASCII) takes the careful path,
    // which names the fault.
    let bytes = value.as_bytes();
    let token = match bytes.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => &bytes[7..],
        _ => bytes,
    };
    if !token.is_empty()
        && !bytes.eq_ignore_ascii_case(b"bearer")
        // Without an early exit, so that the check runs on whole vectors (an
        // `all` ran byte by byte, three times slower than the two scans it replaced).
        && token
            .iter()
            .fold(0u8, |bad, &b| bad | u8::from(b.wrapping_sub(0x21) > 0x7e - 0x21))
            == 0
        && let Ok(token) = std::str::from_utf8(token)
    {
        return Ok(Some(token));
    }
    bearer_or_bare_checked(value)
}

fn bearer_or_bare_checked(value: &HeaderValue) -> Result<Option<&str>, AuthError> {
    let text = value.to_str().map_err(|_| {
        AuthError::new(
            AuthErrorKind::InvalidRequest,
            "token header is not visible ASCII",
        )
    })?;
    // `Bearer ` with nothing after it reaches a server as `Bearer` (HTTP
    // parsers drop trailing white space): both are a scheme without a token.
    let token = match text.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => &text[7..],
        _ if text.eq_ignore_ascii_case("bearer") => "",
        _ => text,
    };
    if token.is_empty() {
        return Ok(None);
    }
    if token.contains(' ') {
        return Err(AuthError::new(
            AuthErrorKind::InvalidRequest,
            "token header has an unknown scheme or more than one token",
        ));
    }
    Ok(Some(token))
}

/// The value of the cookie `name`, across every `Cookie` header (HTTP/2 sends
/// one per cookie).
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, AuthError> {
    let mut found = None;
    for value in headers.get_all(COOKIE) {
        let Ok(text) = value.to_str() else {
            continue; // not ours to judge: another cookie may hold bytes
        };
        for pair in text.split(';') {
            let Some((key, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if key.trim() != name {
                continue;
            }
            if found.is_some() {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidRequest,
                    "the token cookie appears more than once",
                ));
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            found = Some(value);
        }
    }
    Ok(found.filter(|v| !v.is_empty()))
}

/// The value of the query parameter `name`, percent-decoded.
fn query<'a>(uri: &'a Uri, name: &str) -> Result<Option<Cow<'a, str>>, AuthError> {
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    let mut found = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != name {
            continue;
        }
        if found.is_some() {
            return Err(AuthError::new(
                AuthErrorKind::InvalidRequest,
                "the token parameter appears more than once",
            ));
        }
        found = Some(value);
    }
    let Some(value) = found.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if !value.contains('%') {
        return Ok(Some(Cow::Borrowed(value)));
    }
    let decoded = percent_decode(value).ok_or_else(|| {
        AuthError::new(
            AuthErrorKind::InvalidRequest,
            "the token parameter is not valid percent-encoding",
        )
    })?;
    Ok(Some(Cow::Owned(decoded)))
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits (RFC 3986 2.1); `from_str_radix` alone would also
            // take a sign, reading `%+F` as 0x0F.
            let hex = value.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The subprotocol after `marker` in `Sec-WebSocket-Protocol` (one header, a
/// comma-separated list).
fn websocket_protocol<'a>(
    headers: &'a HeaderMap,
    marker: &str,
) -> Result<Option<&'a str>, AuthError> {
    let mut found = None;
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        let Ok(text) = value.to_str() else {
            return Err(AuthError::new(
                AuthErrorKind::InvalidRequest,
                "Sec-WebSocket-Protocol is not visible ASCII",
            ));
        };
        let mut protocols = text.split(',').map(str::trim);
        while let Some(protocol) = protocols.next() {
            if !protocol.eq_ignore_ascii_case(marker) {
                continue;
            }
            if found.is_some() {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidRequest,
                    "Sec-WebSocket-Protocol names the token marker more than once",
                ));
            }
            found = Some(protocols.next().unwrap_or(""));
        }
    }
    Ok(found.filter(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    /// The one-pass reading of an `Authorization` value says what the careful
    /// one says, for every shape of value: schemes in any case, no token, spaces,
    /// tabs, bytes that are not visible ASCII.
    #[test]
    fn the_fast_bearer_reading_agrees_with_the_careful_one() {
        let parts = [
            "", "Bearer", "bearer", "BEARER", "Bearer ", "Basic ", "Bearer  ", " ", "\t", "a.b.c",
            "a b", "a\tb", "x", "é", "\u{7f}", "Bearerx", "Bearer\t",
        ];
        for first in parts {
            for second in parts {
                let text = format!("{first}{second}");
                let Ok(value) = HeaderValue::from_bytes(text.as_bytes()) else {
                    continue;
                };
                let fast = bearer_or_bare(&value).map_err(|e| (e.kind(), e.to_string()));
                let careful = bearer_or_bare_checked(&value).map_err(|e| (e.kind(), e.to_string()));
                assert_eq!(fast, careful, "{text:?}");
            }
        }
    }

    use super::*;

    fn request(headers: &[(&str, &str)], uri: &str) -> Request<()> {
        let mut builder = Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    fn read(sources: &[TokenSource], r: &Request<()>) -> Result<String, AuthErrorKind> {
        token(sources, r).map(Cow::into_owned).map_err(|e| e.kind())
    }

    fn header_value(v: &'static [u8]) -> Result<String, AuthErrorKind> {
        let value = HeaderValue::from_bytes(v).unwrap();
        let mut r = Request::new(());
        r.headers_mut().insert("authorization", value);
        read(&[TokenSource::authorization()], &r)
    }

    #[test]
    fn bearer_and_bare() {
        assert_eq!(header_value(b"Bearer a.b.c").unwrap(), "a.b.c");
        assert_eq!(header_value(b"bEaReR a.b.c").unwrap(), "a.b.c");
        assert_eq!(header_value(b"a.b.c").unwrap(), "a.b.c");
        assert_eq!(
            header_value(b"Bearer  a.b.c"),
            Err(AuthErrorKind::InvalidRequest)
        );
        assert_eq!(
            header_value(b"Basic dXNlcjpwYXNz"),
            Err(AuthErrorKind::InvalidRequest)
        );
        assert_eq!(
            header_value(b"Bearer a b"),
            Err(AuthErrorKind::InvalidRequest)
        );
        assert_eq!(header_value(b"Bearer "), Err(AuthErrorKind::MissingToken));
        assert_eq!(header_value(b"bearer"), Err(AuthErrorKind::MissingToken));
        assert_eq!(header_value(b""), Err(AuthErrorKind::MissingToken));
        assert_eq!(
            header_value(b"Bearer \xff.b.c"),
            Err(AuthErrorKind::InvalidRequest)
        );
    }

    #[test]
    fn one_header_only() {
        let auth = [TokenSource::authorization()];
        let mut r = Request::new(());
        assert_eq!(read(&auth, &r), Err(AuthErrorKind::MissingToken));
        r.headers_mut()
            .append("authorization", HeaderValue::from_static("a"));
        assert_eq!(read(&auth, &r).unwrap(), "a");
        r.headers_mut()
            .append("authorization", HeaderValue::from_static("b"));
        assert_eq!(read(&auth, &r), Err(AuthErrorKind::InvalidRequest));
    }

    #[test]
    fn cookies() {
        let c = [TokenSource::cookie("id_token")];
        let r = request(&[("cookie", "a=1; id_token=x.y.z; b=2")], "/");
        assert_eq!(read(&c, &r).unwrap(), "x.y.z");
        let r = request(&[("cookie", "a=1"), ("cookie", "id_token=\"x.y.z\"")], "/");
        assert_eq!(read(&c, &r).unwrap(), "x.y.z");
        let r = request(&[("cookie", "id_token=a; id_token=b")], "/");
        assert_eq!(read(&c, &r), Err(AuthErrorKind::InvalidRequest));
        let r = request(&[("cookie", "my_id_token=a; id_token=")], "/");
        assert_eq!(read(&c, &r), Err(AuthErrorKind::MissingToken));
    }

    #[test]
    fn query_parameters() {
        let q = [TokenSource::query("access_token")];
        for (uri, expected) in [
            ("/ws?x=1&access_token=a.b.c", Ok("a.b.c")),
            ("/ws?access_token=a%2Eb.c", Ok("a.b.c")),
            (
                "/ws?access_token=a&access_token=b",
                Err(AuthErrorKind::InvalidRequest),
            ),
            ("/ws?access_token=a%2", Err(AuthErrorKind::InvalidRequest)),
            ("/ws?access_token=a%20b", Ok("a b")),
            ("/ws?token=a", Err(AuthErrorKind::MissingToken)),
            ("/ws", Err(AuthErrorKind::MissingToken)),
        ] {
            let read = read(&q, &request(&[], uri));
            assert_eq!(read.as_deref().map_err(|&e| e), expected, "{uri}");
        }
    }

    #[test]
    fn websocket_protocols() {
        let w = [TokenSource::websocket_protocol("bearer")];
        // The token read from one `Sec-WebSocket-Protocol` header.
        let offered = |protocols| read(&w, &request(&[("sec-websocket-protocol", protocols)], "/"));
        assert_eq!(offered("chat, Bearer, a.b.c").unwrap(), "a.b.c");
        assert_eq!(offered("bearer"), Err(AuthErrorKind::MissingToken));
        assert_eq!(
            offered("bearer, a, bearer, b"),
            Err(AuthErrorKind::InvalidRequest)
        );
        assert_eq!(offered("chat"), Err(AuthErrorKind::MissingToken));
    }

    #[test]
    fn two_places_are_ambiguous_and_custom_functions_are_read() {
        let sources = [
            TokenSource::authorization(),
            TokenSource::cookie("t"),
            TokenSource::custom(|head| {
                head.headers()
                    .get("x-forwarded-token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            }),
        ];
        let r = request(&[("cookie", "t=a")], "/");
        assert_eq!(read(&sources, &r).unwrap(), "a");
        let r = request(&[("x-forwarded-token", "c")], "/");
        assert_eq!(read(&sources, &r).unwrap(), "c");
        let r = request(&[("cookie", "t=a"), ("authorization", "Bearer b")], "/");
        assert_eq!(read(&sources, &r), Err(AuthErrorKind::InvalidRequest));
        let r = request(&[("cookie", "t=a"), ("x-forwarded-token", "c")], "/");
        assert_eq!(read(&sources, &r), Err(AuthErrorKind::InvalidRequest));
        assert_eq!(
            read(&sources, &request(&[], "/")),
            Err(AuthErrorKind::MissingToken)
        );
    }
}
