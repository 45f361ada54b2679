//! Arbitrary text as an API Gateway export, through the OpenAPI importer
//! (`ApiDefinition::from_json`, `from_yaml` and `parse`, feature `openapi`).
//! Nothing may panic, and a definition that imports must be usable as it is:
//!
//! - its verifier builds (`verifier_builder()`, every pool it names is a pool the
//!   crate can trust) and its layer builds with that verifier;
//! - each route's pools are among the definition's pools, and a public or refused
//!   route has no requirement while a Cognito route has one;
//! - each route is found again by `route()` on a path made from its own template
//!   (parameters filled with a value no literal uses), when the template's
//!   literals are plain (no dot segment, `%` or `\`, which normalise away).
//!
//! The first byte picks the reader and the options: bits 0-1 JSON, YAML, or
//! `parse` (JSON when it starts with `{`); bit 2 `refuse_unenforceable`; bit 3
//! `public_path("/health")`; bit 4 `ignore_api_key("api_key")`; bit 5
//! `authorizer_pool("CognitoAuthorizer", ...)`.

#![no_main]

use http::Method;
use libfuzzer_sys::fuzz_target;
use tower_cognito::UserPool;
use tower_cognito::openapi::{ApiDefinition, Route};

/// One HTTP client for every verifier: building one reads the system's roots,
/// which would cost more than the import (nothing is ever fetched).
fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

/// A value for `{param}` that no literal segment of a seed uses.
const FILL: &str = "zq7fuzzparam";

/// A request path for the route's template, if its literals are plain.
fn path_for(route: &Route) -> Option<String> {
    let template = route.path();
    if template == "/" {
        return Some("/".to_owned());
    }
    let mut path = String::new();
    for segment in template.strip_prefix('/')?.split('/') {
        path.push('/');
        if segment.starts_with('{') && segment.ends_with('}') {
            if segment.ends_with("+}") || segment.starts_with("{*") {
                path.push_str(FILL);
                path.push('/');
            }
            path.push_str(FILL);
        } else if segment.is_empty()
            || segment == "."
            || segment == ".."
            || segment.contains(['%', '\\', '?', '#'])
            || segment.contains(FILL)
            || !segment.is_ascii()
            || segment.bytes().any(|b| b.is_ascii_control() || b == b' ')
        {
            return None;
        } else {
            path.push_str(segment);
        }
    }
    Some(path)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut options = ApiDefinition::options();
    if mode & 4 != 0 {
        options = options.refuse_unenforceable();
    }
    if mode & 8 != 0 {
        options = options.public_path("/health");
    }
    if mode & 16 != 0 {
        options = options.ignore_api_key("api_key");
    }
    if mode & 32 != 0 {
        options = options.authorizer_pool("CognitoAuthorizer", UserPool::new("us-east-1_AbCdEfGhI"));
    }
    let imported = match mode & 3 {
        0 => options.from_json(text),
        1 => options.from_yaml(text),
        _ => options.parse(text),
    };
    let api = match imported {
        Ok(api) => api,
        Err(error) => {
            // Every error says what it is about.
            let _ = (error.kind().as_str(), error.operation(), error.to_string());
            assert!(!error.message().is_empty(), "an import error without a message");
            return;
        }
    };

    let pool_ids: Vec<&str> = api.pools().iter().map(UserPool::id).collect();
    for route in api.routes() {
        let _ = route.to_string();
        for id in route.pool_ids() {
            assert!(pool_ids.contains(&id.as_str()), "{route}: pool {id} is not the definition's");
        }
        if route.is_public() || route.is_refused() {
            assert!(route.requirement().is_none(), "{route}: public or refused with a requirement");
            assert!(route.pool_ids().is_empty(), "{route}: public or refused with pools");
        } else {
            assert!(route.requirement().is_some(), "{route}: protected without a requirement");
            assert!(!route.pool_ids().is_empty(), "{route}: protected by no pool");
        }
        assert!(!(route.is_public() && route.is_refused()), "{route}: public and refused");

        if let Some(path) = path_for(route) {
            let method = route.method().cloned().unwrap_or(Method::PATCH);
            let found = api.route(&method, &path);
            // The any-method route of a template may give way to the method's own.
            let found_template = found.map(Route::path);
            assert!(
                found_template == Some(route.path())
                    || found.is_some_and(|f| route.method().is_none() && f.method().is_some()),
                "{route}: {method} {path} finds {found_template:?}"
            );
        }
    }

    let verifier = api
        .verifier_builder()
        .http_client(client().clone())
        // No token cache: a moka cache per input would cost more than the rest.
        .token_cache_capacity(0)
        .build()
        .unwrap_or_else(|e| panic!("an imported definition's verifier does not build: {e}"));
    if let Err(e) = api.layer(verifier) {
        panic!("an imported definition's layer does not build: {e}");
    }
});
