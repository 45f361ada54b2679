//! Random request heads through `CognitoAuthLayer::token_sources` with header,
//! cookie, query and WebSocket subprotocol sources, over a `tower::service_fn`.
//! Nothing may panic, and ambiguity is always refused:
//!
//! - the harness counts, on its own, where the request carries a token for each
//!   source: a token header that appears twice, a token cookie, parameter or
//!   subprotocol marker that appears twice, or tokens in two sources, make the
//!   request ambiguous, and an ambiguous request is refused as an invalid request
//!   (`AuthErrorKind::InvalidRequest`), never passed on, with or without claims;
//! - a request reaches the service with claims only when exactly one source holds
//!   the harness's valid token, and without claims only on an optional layer when
//!   no source holds anything.
//!
//! Input: the first byte picks the layer (bits 0-1: which source list; bit 2:
//! optional) and the method (bits 5-7). The rest is the request head, one item a
//! line: the first line is the request target (path and query), every other line
//! a header `name:value`. `TOKEN` stands for the valid token, so the fuzzer can
//! place a real one anywhere.

#![no_main]

mod common;

use bytes::Bytes;
use http::header::{COOKIE, SEC_WEBSOCKET_PROTOCOL};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use libfuzzer_sys::fuzz_target;
use std::convert::Infallible;
use std::sync::OnceLock;
use tower::{Layer as _, ServiceExt as _};
use tower_cognito::{
    AuthError, AuthErrorKind, Claims, CognitoAuthLayer, Requirement, TokenSource, TokenUseRule,
};

/// A source as the harness reads it.
#[derive(Clone, Copy)]
enum Place {
    Header(&'static str),
    Cookie(&'static str),
    Query(&'static str),
    WebSocket(&'static str),
}

const LISTS: [&[Place]; 4] = [
    &[
        Place::Header("authorization"),
        Place::Cookie("id_token"),
        Place::Query("access_token"),
        Place::WebSocket("bearer"),
    ],
    &[
        Place::Header("x-token"),
        Place::Cookie("token"),
        Place::Query("token"),
    ],
    &[Place::WebSocket("bearer"), Place::Header("authorization")],
    &[
        Place::Cookie("id_token"),
        Place::Cookie("access_token"),
        Place::Query("id_token"),
        Place::Header("authorization"),
        Place::Header("x-token"),
    ],
];

fn source(place: Place) -> TokenSource {
    match place {
        Place::Header(name) => TokenSource::header(HeaderName::from_static(name)),
        Place::Cookie(name) => TokenSource::cookie(name),
        Place::Query(name) => TokenSource::query(name),
        Place::WebSocket(marker) => TokenSource::websocket_protocol(marker),
    }
}

fn layers() -> &'static Vec<CognitoAuthLayer> {
    static LAYERS: OnceLock<Vec<CognitoAuthLayer>> = OnceLock::new();
    LAYERS.get_or_init(|| {
        let base = CognitoAuthLayer::new(common::env().verifier.clone())
            .require(Requirement::new().token_use(TokenUseRule::Either))
            .expect("a valid requirement");
        let mut layers = Vec::new();
        for optional in [false, true] {
            for list in LISTS {
                let layer = base
                    .clone()
                    .token_sources(list.iter().copied().map(source))
                    .expect("valid sources");
                layers.push(if optional { layer.optional() } else { layer });
            }
        }
        layers
    })
}

fn replace_token(bytes: &[u8], token: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.starts_with(b"TOKEN") {
            out.extend_from_slice(token);
            rest = &rest[5..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// What one source holds, as the harness reads the documented rules.
#[derive(Debug, PartialEq)]
enum Found {
    Nothing,
    /// A value (not decoded): a token to judge.
    Value(Vec<u8>),
    /// The source itself is ambiguous (twice) or unreadable.
    Invalid,
}

fn percent_decoded(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    Some(out)
}

fn read(place: Place, request: &Request<()>) -> Found {
    let headers = request.headers();
    match place {
        Place::Header(name) => {
            let values: Vec<&HeaderValue> = headers.get_all(name).iter().collect();
            match values.as_slice() {
                [] => Found::Nothing,
                [one] if one.is_empty() => Found::Nothing,
                [one] => {
                    let Ok(text) = one.to_str() else {
                        return Found::Invalid;
                    };
                    let token = if text.len() >= 7 && text[..7].eq_ignore_ascii_case("bearer ") {
                        &text[7..]
                    } else if text.eq_ignore_ascii_case("bearer") {
                        ""
                    } else {
                        text
                    };
                    if token.is_empty() {
                        Found::Nothing
                    } else if token.contains(' ') {
                        Found::Invalid
                    } else {
                        Found::Value(token.as_bytes().to_vec())
                    }
                }
                _ => Found::Invalid,
            }
        }
        Place::Cookie(name) => {
            let mut found = Vec::new();
            for value in headers.get_all(COOKIE) {
                let Ok(text) = value.to_str() else { continue };
                for pair in text.split(';') {
                    if let Some((k, v)) = pair.trim().split_once('=')
                        && k.trim() == name
                    {
                        let v = v.trim();
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or(v);
                        found.push(v.as_bytes().to_vec());
                    }
                }
            }
            match found.len() {
                0 => Found::Nothing,
                1 if found[0].is_empty() => Found::Nothing,
                1 => Found::Value(found.remove(0)),
                _ => Found::Invalid,
            }
        }
        Place::Query(name) => {
            let Some(query) = request.uri().query() else {
                return Found::Nothing;
            };
            let found: Vec<&str> = query
                .split('&')
                .filter(|pair| pair.split_once('=').map_or(*pair, |(k, _)| k) == name)
                .map(|pair| pair.split_once('=').map_or("", |(_, v)| v))
                .collect();
            match found.as_slice() {
                [] => Found::Nothing,
                [one] if one.is_empty() => Found::Nothing,
                [one] => match percent_decoded(one.as_bytes()) {
                    Some(v) if std::str::from_utf8(&v).is_ok() => Found::Value(v),
                    _ => Found::Invalid,
                },
                _ => Found::Invalid,
            }
        }
        Place::WebSocket(marker) => {
            let mut markers = 0;
            let mut after = None;
            for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
                let Ok(text) = value.to_str() else {
                    return Found::Invalid;
                };
                // The item after a marker is the token, whatever it says.
                let mut items = text.split(',').map(str::trim);
                while let Some(item) = items.next() {
                    if item.eq_ignore_ascii_case(marker) {
                        markers += 1;
                        after = Some(items.next().unwrap_or(""));
                    }
                }
            }
            match (markers, after) {
                (0, _) => Found::Nothing,
                (1, Some("")) => Found::Nothing,
                (1, Some(v)) => Found::Value(v.as_bytes().to_vec()),
                _ => Found::Invalid,
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let env = common::env();
    let bytes = replace_token(rest, env.valid.as_bytes());
    let mut lines = bytes.split(|&b| b == b'\n');
    let target = lines.next().unwrap_or_default();
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    let mut request = Request::new(());
    *request.uri_mut() = uri;
    *request.method_mut() = [Method::GET, Method::POST, Method::HEAD, Method::OPTIONS]
        [usize::from(mode >> 5) % 4]
        .clone();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) else {
            continue;
        };
        request.headers_mut().append(name, value);
    }
    let list = usize::from(mode & 3);
    let optional = mode & 4 != 0;
    let layer = &layers()[list + if optional { 4 } else { 0 }];

    // The harness's reading, before the request is handed over.
    let found: Vec<Found> = LISTS[list].iter().map(|&p| read(p, &request)).collect();
    let values: Vec<&Vec<u8>> = found
        .iter()
        .filter_map(|f| match f {
            Found::Value(v) => Some(v),
            _ => None,
        })
        .collect();
    let ambiguous = found.contains(&Found::Invalid) || values.len() > 1;

    let inner = tower::service_fn(|request: Request<()>| async move {
        let mut response = Response::new(http_body_util::Empty::<Bytes>::new());
        response
            .extensions_mut()
            .insert(request.extensions().get::<Claims>().cloned());
        Ok::<_, Infallible>(response)
    });
    let response = env
        .runtime
        .block_on(layer.layer(inner).oneshot(request))
        .expect("infallible");

    match response.extensions().get::<AuthError>() {
        Some(error) => {
            assert_ne!(response.status(), StatusCode::OK, "a rejection answered 200");
            if ambiguous {
                assert_eq!(
                    error.kind(),
                    AuthErrorKind::InvalidRequest,
                    "an ambiguous request refused for another reason ({found:?})"
                );
            }
        }
        None => {
            assert!(!ambiguous, "an ambiguous request was passed on: {found:?}");
            assert_eq!(response.status(), StatusCode::OK);
            let claims = response
                .extensions()
                .get::<Option<Claims>>()
                .cloned()
                .flatten();
            match claims {
                Some(claims) => {
                    assert!(
                        values.len() == 1 && values[0].as_slice() == env.valid.as_bytes(),
                        "authorized by {found:?}"
                    );
                    env.assert_acceptable(&env.valid, &claims);
                }
                None => assert!(
                    optional && values.is_empty(),
                    "let through without claims: {found:?}"
                ),
            }
        }
    }
});
