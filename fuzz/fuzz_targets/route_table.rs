//! The route table of an imported definition (`ApiDefinition::layer`) over a
//! `tower::service_fn` that records every request it is given, with random
//! templates and random request paths. The property: a request whose path no
//! operation matches is refused, never passed through.
//!
//! The definition has only public and refused operations (an IAM-protected
//! operation imported with `refuse_unenforceable`), so its verifier needs no
//! keys. For each request:
//!
//! - `ApiDefinition::route` says which operation the table decides by; the
//!   request reaches the service exactly when that operation is public, and then
//!   untouched; otherwise it gets 403 and the service never sees it;
//! - independently of the crate's matcher, a route found must have a template
//!   that matches the normalised path (percent-decoded, `\` as `/`, empty and
//!   dot segments removed) and a method that applies (its own, `HEAD` for `GET`,
//!   or the any-method); a path no template matches, as normalised, never
//!   reaches the service.
//!
//! Input: the bytes up to the first `0xFF` are the definition, one operation a
//! line: a flag byte (odd: refused, even: public), a method byte, the template;
//! a line starting with `!` names a public path (`ImportOptions::public_path`)
//! instead. The rest are requests, one a line: a method byte, then the path (and
//! query) as sent.

#![no_main]

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Uri};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};
use tower::{Layer as _, ServiceExt as _};
use tower_cognito::AuthError;
use tower_cognito::openapi::ApiDefinition;

const METHODS: [&str; 8] = [
    "get",
    "post",
    "put",
    "delete",
    "x-amazon-apigateway-any-method",
    "head",
    "options",
    "patch",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// One HTTP client for every verifier: building one reads the system's roots,
/// which would cost more than the rest (nothing is ever fetched).
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

fn request_method(b: u8) -> Method {
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::PATCH,
        Method::TRACE,
    ][usize::from(b % 8)]
    .clone()
}

/// The harness's own reading of a path, as the table documents it.
fn normalise(path: &str) -> Option<Vec<String>> {
    if !path.starts_with('/') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |j: usize| bytes.get(j).and_then(|&b| (b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                decoded.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8_lossy(&decoded);
    let mut segments: Vec<String> = Vec::new();
    for segment in text.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other.to_owned()),
        }
    }
    Some(segments)
}

/// Whether a template matches normalised segments (no empty segment in them).
fn template_matches(template: &str, segments: &[String]) -> bool {
    let parts: Vec<&str> = match template.strip_prefix('/') {
        Some("") => Vec::new(),
        Some(rest) => rest.split('/').collect(),
        None => return false,
    };
    let mut i = 0;
    for part in &parts {
        let is_param = part.starts_with('{') && part.ends_with('}');
        let greedy = is_param && (part.ends_with("+}") || part.starts_with("{*"));
        if greedy {
            return i < segments.len();
        }
        let Some(segment) = segments.get(i) else {
            return false;
        };
        if !is_param && segment != part {
            return false;
        }
        i += 1;
    }
    i == segments.len()
}

fn method_applies(route_method: Option<&Method>, method: &Method) -> bool {
    match route_method {
        None => true,
        Some(m) => m == method || (*method == Method::HEAD && *m == Method::GET),
    }
}

fuzz_target!(|data: &[u8]| {
    let (definition, requests) = match data.iter().position(|&b| b == 0xff) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let mut paths = Map::new();
    let mut options = ApiDefinition::options().refuse_unenforceable();
    let mut templates = Vec::new();
    for line in definition.split(|&b| b == b'\n') {
        if let Some(public) = line.strip_prefix(b"!") {
            let Ok(public) = std::str::from_utf8(public) else {
                return;
            };
            options = options.public_path(public);
            templates.push(public.to_owned());
            continue;
        }
        let [flag, method, template @ ..] = line else {
            continue;
        };
        let Ok(template) = std::str::from_utf8(template) else {
            return;
        };
        let operation = if flag & 1 == 1 {
            json!({ "x-amazon-apigateway-auth": { "type": "AWS_IAM" }, "responses": {} })
        } else {
            json!({ "security": [], "responses": {} })
        };
        let item = paths
            .entry(template.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(METHODS[usize::from(method % 8)].to_owned(), operation);
        }
        templates.push(template.to_owned());
    }
    let document = json!({
        "openapi": "3.0.1",
        "info": { "title": "fuzz", "version": "1" },
        "paths": paths,
    });
    let Ok(api) = options.from_json(&document.to_string()) else {
        return;
    };
    assert!(api.pools().is_empty(), "pools from a definition without Cognito");
    let verifier = api
        .verifier_builder()
        .http_client(client().clone())
        // No token cache: a moka cache per input would cost more than the rest.
        .token_cache_capacity(0)
        .build()
        .expect("a verifier for a definition without pools");
    let layer = api.layer(verifier).expect("the layer");

    let seen: Arc<Mutex<Vec<(Method, Uri)>>> = Arc::default();
    let record = Arc::clone(&seen);
    let inner = tower::service_fn(move |request: Request<()>| {
        record
            .lock()
            .unwrap()
            .push((request.method().clone(), request.uri().clone()));
        async { Ok::<_, Infallible>(Response::new(http_body_util::Empty::<Bytes>::new())) }
    });
    let service = layer.layer(inner);

    for line in requests.split(|&b| b == b'\n').take(64) {
        let Some((&m, target)) = line.split_first() else {
            continue;
        };
        let Ok(uri) = Uri::try_from(target) else {
            continue;
        };
        let method = request_method(m);
        let path = uri.path().to_owned();
        let mut request = Request::new(());
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri.clone();

        let route = api.route(&method, &path);
        let normalised = normalise(&path);
        if let Some(route) = route {
            let segments = normalised
                .as_ref()
                .unwrap_or_else(|| panic!("{route} found for {path:?}, which has no normal form"));
            assert!(
                template_matches(route.path(), segments),
                "{method} {path:?} (normalised {segments:?}) found {route}, whose template does not match"
            );
            assert!(
                method_applies(route.method(), &method),
                "{method} {path:?} found {route}, of another method"
            );
        }
        let matches_any = normalised
            .as_ref()
            .is_some_and(|s| templates.iter().any(|t| template_matches(t, s)));

        seen.lock().unwrap().clear();
        let response = runtime()
            .block_on(service.clone().oneshot(request))
            .expect("infallible");
        let reached = std::mem::take(&mut *seen.lock().unwrap());
        let public = route.is_some_and(|r| r.is_public());
        if public {
            assert_eq!(response.status(), StatusCode::OK, "{method} {path:?}: public, not 200");
            assert_eq!(reached, [(method.clone(), uri.clone())], "{method} {path:?}: public, not passed as sent");
            assert!(matches_any, "{method} {path:?} passed, but no template matches it");
        } else {
            assert!(
                reached.is_empty(),
                "{method} {path:?} passed through, route {:?}",
                route.map(ToString::to_string)
            );
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path:?}");
            assert!(response.extensions().get::<AuthError>().is_some(), "a refusal without its error");
        }
    }
});
