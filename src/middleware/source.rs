//! Reading the token from the request's header.

use crate::error::{AuthError, AuthErrorKind};
use http::{HeaderMap, HeaderName, HeaderValue};

/// The token of a request: the one value of the token header, `Bearer <token>`
/// or bare. A header that is absent, empty, or has a scheme and nothing after it
/// is [`MissingToken`](AuthErrorKind::MissingToken), alike on every route.
pub(crate) fn token<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<&'a str, AuthError> {
    token_from(token_header(headers, name)?)
}

/// The token header's value, after the checks that need no parsing of the token.
fn token_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<&'a HeaderValue, AuthError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::new(
            AuthErrorKind::MissingToken,
            "no token header",
        ));
    };
    if values.next().is_some() {
        return Err(AuthError::new(
            AuthErrorKind::InvalidRequest,
            "token header appears more than once",
        ));
    }
    if value.is_empty() {
        return Err(AuthError::new(
            AuthErrorKind::MissingToken,
            "token header is empty",
        ));
    }
    Ok(value)
}

/// The token in a header value: `Bearer <token>` (scheme in any case, one space)
/// or the bare token, as API Gateway accepts both.
fn token_from(value: &HeaderValue) -> Result<&str, AuthError> {
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
        return Err(AuthError::new(
            AuthErrorKind::MissingToken,
            "token header has a scheme but no token",
        ));
    }
    if token.contains(' ') {
        return Err(AuthError::new(
            AuthErrorKind::InvalidRequest,
            "token header has an unknown scheme or more than one token",
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: &'static [u8]) -> Result<String, AuthErrorKind> {
        let value = HeaderValue::from_bytes(v).unwrap();
        token_from(&value).map(str::to_owned).map_err(|e| e.kind())
    }

    #[test]
    fn bearer_and_bare() {
        assert_eq!(read(b"Bearer a.b.c").unwrap(), "a.b.c");
        assert_eq!(read(b"bEaReR a.b.c").unwrap(), "a.b.c");
        assert_eq!(read(b"a.b.c").unwrap(), "a.b.c");
        assert_eq!(read(b"Bearer  a.b.c"), Err(AuthErrorKind::InvalidRequest));
        assert_eq!(
            read(b"Basic dXNlcjpwYXNz"),
            Err(AuthErrorKind::InvalidRequest)
        );
        assert_eq!(read(b"Bearer a b"), Err(AuthErrorKind::InvalidRequest));
        assert_eq!(read(b"Bearer "), Err(AuthErrorKind::MissingToken));
        assert_eq!(read(b"bearer"), Err(AuthErrorKind::MissingToken));
        assert_eq!(read(b"Bearer \xff.b.c"), Err(AuthErrorKind::InvalidRequest));
    }

    #[test]
    fn one_header_only() {
        let name = http::header::AUTHORIZATION;
        let mut headers = HeaderMap::new();
        assert_eq!(
            token_header(&headers, &name).unwrap_err().kind(),
            AuthErrorKind::MissingToken
        );
        headers.append(&name, HeaderValue::from_static("a"));
        assert!(token_header(&headers, &name).is_ok());
        headers.append(&name, HeaderValue::from_static("b"));
        assert_eq!(
            token_header(&headers, &name).unwrap_err().kind(),
            AuthErrorKind::InvalidRequest
        );
    }
}
