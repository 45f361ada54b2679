//! Arbitrary `Authorization` header values through `CognitoAuthLayer` over a
//! `tower::service_fn`. Nothing may panic; a request reaches the service with
//! claims only when it carries exactly one header holding the harness's valid
//! token (bare or after `Bearer `, in any case), and without claims only on the
//! optional route when it carries no token.
//!
//! In the bytes, `TOKEN` stands for that valid token, so the fuzzer can explore
//! the syntax around a real one. The first byte picks the setup: bit 0 splits the
//! rest on `\n` into several header values; bit 1 uses an optional route; bit 2
//! answers with RFC 6750 responses instead of API Gateway's.

#![no_main]

mod common;

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use std::convert::Infallible;
use std::sync::OnceLock;
use tower::{Layer as _, ServiceExt as _};
use tower_cognito::{AuthError, Claims, CognitoAuthLayer, Requirement, Responses, TokenUseRule};

fn layers() -> &'static [CognitoAuthLayer; 4] {
    static LAYERS: OnceLock<[CognitoAuthLayer; 4]> = OnceLock::new();
    LAYERS.get_or_init(|| {
        let base = CognitoAuthLayer::new(common::env().verifier.clone())
            .require(Requirement::new().token_use(TokenUseRule::Either))
            .expect("a valid requirement");
        let rfc = base.clone().responses(Responses::rfc6750("fuzz"));
        [base.clone(), base.optional(), rfc.clone(), rfc.optional()]
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

/// Whether this header value carries no token: empty, or the `Bearer` scheme with
/// nothing after it (what `Bearer ` becomes on the wire), in any case.
fn is_no_token(value: &[u8]) -> bool {
    value.is_empty()
        || value.eq_ignore_ascii_case(b"bearer")
        || value.eq_ignore_ascii_case(b"bearer ")
}

/// Whether this header value is the valid token, bare or after `Bearer `.
fn is_the_valid_token(value: &[u8], token: &[u8]) -> bool {
    value == token
        || (value.len() == token.len() + 7
            && value[..7].eq_ignore_ascii_case(b"bearer ")
            && &value[7..] == token)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let env = common::env();
    let bytes = replace_token(rest, env.valid.as_bytes());
    let values: Vec<&[u8]> = if mode & 1 == 1 {
        bytes.split(|&b| b == b'\n').collect()
    } else {
        vec![&bytes]
    };
    let mut request = Request::new(());
    for value in &values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            request.headers_mut().append(AUTHORIZATION, value);
        }
    }
    let sent: Vec<Vec<u8>> = request
        .headers()
        .get_all(AUTHORIZATION)
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    let optional = mode & 2 == 2;
    let layer = &layers()[usize::from(mode >> 1 & 3)];

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
        Some(_) => assert_ne!(
            response.status(),
            StatusCode::OK,
            "a rejection answered 200"
        ),
        None => {
            assert_eq!(response.status(), StatusCode::OK);
            match response
                .extensions()
                .get::<Option<Claims>>()
                .cloned()
                .flatten()
            {
                Some(claims) => {
                    assert!(
                        sent.len() == 1 && is_the_valid_token(&sent[0], env.valid.as_bytes()),
                        "authorized by {sent:?}"
                    );
                    env.assert_acceptable(&env.valid, &claims);
                }
                None => assert!(
                    optional && (sent.is_empty() || (sent.len() == 1 && is_no_token(&sent[0]))),
                    "let through without claims: {sent:?}"
                ),
            }
        }
    }
});
