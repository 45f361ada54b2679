//! The ALB front door over a real socket: an axum app behind `AlbAuthLayer`,
//! called with the headers a load balancer would add (signed by the test kit's
//! stand-in), its keys served by a loopback key endpoint that can be slow, miss
//! a `kid` or send garbage.

mod support;
use support::Answer;

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tower::util::MapResponseLayer;
use tower_cognito::alb::{AlbAuthLayer, AlbUserClaims, AlbVerifierBuilder};
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::test_util::alb::{AlbKeyBehavior, AlbSigningKey, LocalAlb};
use tower_cognito::{Claims, Requirement, Responses};

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const EXPIRED: &str = r#"{"message":"The incoming token has expired"}"#;
const CONFIG_ERROR: &str = r#"{"message":null}"#;

struct App {
    alb: LocalAlb,
    server: support::Server,
    /// Handler runs.
    calls: Arc<AtomicUsize>,
}

async fn start(configure: impl FnOnce(AlbVerifierBuilder) -> AlbVerifierBuilder) -> App {
    let pool = LocalUserPool::start().await.unwrap();
    let alb = LocalAlb::for_pool(&pool).await.unwrap();
    let auth = AlbAuthLayer::new(configure(alb.verifier_builder()).build().unwrap());
    let notes = auth
        .clone()
        .access_token(pool.verifier(), Requirement::any_scope(["notes/read"]))
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = |calls: &Arc<AtomicUsize>| {
        let calls = Arc::clone(calls);
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
        }
    };
    let (me, note, maybe, rfc, rfc_notes) = (
        counted(&calls),
        counted(&calls),
        counted(&calls),
        counted(&calls),
        counted(&calls),
    );
    let me = move |claims: Claims, user: AlbUserClaims| async move {
        me();
        axum::Json(json!({
            "sub": claims.sub(),
            "email": claims.email(),
            "username": claims.username(),
            "exp": claims.exp(),
            "pool_id": claims.pool_id(),
            "token_use": claims.token_use().as_str(),
            "user_sub": user.sub(),
            "claims": claims.as_map(),
        }))
    };
    let notes_handler = move |claims: Claims, user: AlbUserClaims| async move {
        note();
        format!(
            "notes of {} ({}, scopes {:?})",
            claims.sub(),
            user.email().unwrap_or("?"),
            claims.scopes()
        )
    };
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(auth.clone())
        .merge(
            Router::new()
                .route("/notes", get(notes_handler.clone()))
                .route_layer(notes.clone()),
        )
        .merge(
            Router::new()
                .route(
                    "/maybe",
                    get(move |claims: Option<Claims>| async move {
                        maybe();
                        claims.map_or_else(|| "anonymous".to_owned(), |c| c.sub().to_owned())
                    }),
                )
                .route_layer(auth.clone().optional()),
        )
        .merge(
            Router::new()
                .route(
                    "/rfc",
                    get(move |claims: Claims| async move {
                        rfc();
                        claims.sub().to_owned()
                    }),
                )
                .route_layer(auth.clone().responses(Responses::rfc6750("api"))),
        )
        .merge(
            Router::new()
                .route(
                    "/rfc-notes",
                    get(move |claims: Claims| async move {
                        rfc_notes();
                        claims.sub().to_owned()
                    }),
                )
                .route_layer(notes.responses(Responses::rfc6750("api"))),
        )
        .layer(MapResponseLayer::new(support::expose_auth_error));
    App {
        alb,
        server: support::serve(app).await,
        calls,
    }
}

impl App {
    async fn get(&self, path: &str, headers: HeaderMap) -> Answer {
        support::send(self.server.request(Method::GET, path).headers(headers)).await
    }

    /// Calls `path` with only `x-amzn-oidc-data`.
    async fn data(&self, path: &str, token: &str) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert("x-amzn-oidc-data", HeaderValue::from_str(token).unwrap());
        self.get(path, headers).await
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn key_fetches(&self) -> usize {
        self.alb.server().requests()
    }
}

/// A 401 with API Gateway's body, and the handler did not run.
#[track_caller]
fn refused(answer: &Answer, kind: &str) {
    assert_eq!(
        (
            answer.status,
            answer.auth_error().as_deref(),
            answer.body.as_str()
        ),
        (401, Some(kind), UNAUTHORIZED),
    );
    assert_eq!(answer.headers["x-amzn-errortype"], "UnauthorizedException");
}

// ---------------------------------------------------------------- accept

#[tokio::test]
async fn accepts_what_the_load_balancer_sends() {
    let app = start(|b| b).await;
    let data = app
        .alb
        .data()
        .sub("u-1")
        .email("alice@example.com")
        .username("alice");
    let headers = data.headers();
    assert!(headers["x-amzn-oidc-data"].to_str().unwrap().contains("=."));
    let answer = app.get("/me", headers.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["sub"], "u-1");
    assert_eq!(body["user_sub"], "u-1");
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["username"], "alice");
    assert_eq!(body["token_use"], "id");
    assert_eq!(body["pool_id"], app.alb.pool().unwrap().pool_id());
    assert_eq!(body["claims"]["email_verified"], "true");
    assert!(body["exp"].as_u64().unwrap() > 0);
    assert_eq!(app.calls(), 1);
    assert_eq!(app.key_fetches(), 1);

    // The same token again: from the cache, no second fetch.
    assert_eq!(app.get("/me", headers).await.status, 200);
    // A new token with the same key: the key is held.
    let answer = app.data("/me", &app.alb.data().sub("u-2").sign()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(app.calls(), 3);
    assert_eq!(app.key_fetches(), 1);
}

#[tokio::test]
async fn a_request_without_user_claims_is_refused() {
    let app = start(|b| b).await;
    refused(&app.get("/me", HeaderMap::new()).await, "MissingToken");
    // The unsigned identity alone proves nothing.
    let mut headers = HeaderMap::new();
    headers.insert("x-amzn-oidc-identity", HeaderValue::from_static("u-1"));
    refused(&app.get("/me", headers).await, "InvalidRequest");
    let answer = app.get("/rfc", HeaderMap::new()).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.headers["www-authenticate"], r#"Bearer realm="api""#);
    refused(&app.data("/me", "").await, "MalformedToken");
    refused(&app.data("/me", "not-a-token").await, "MalformedToken");
    assert_eq!(app.calls(), 0);
    assert_eq!(app.key_fetches(), 0);
}

// ---------------------------------------------------------------- signature and key

#[tokio::test]
async fn a_bad_signature_is_refused() {
    let app = start(|b| b).await;
    // Another key, under the published key's kid.
    let forger = AlbSigningKey::generate(app.alb.signing_key().kid());
    refused(
        &app.data("/me", &app.alb.data().signed_by(&forger).sign())
            .await,
        "BadSignature",
    );
    // A genuine token whose payload was swapped for another user's.
    let genuine = app.alb.data().sub("u-1").sign();
    let other = app.alb.data().sub("admin").sign();
    let parts: Vec<&str> = genuine.split('.').collect();
    let other_payload = other.split('.').nth(1).unwrap();
    let spliced = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    refused(&app.data("/me", &spliced).await, "BadSignature");
    // A flipped signature bit.
    let mut signature = URL_SAFE_NO_PAD
        .decode(parts[2].trim_end_matches('='))
        .unwrap();
    signature[10] ^= 1;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        base64::engine::general_purpose::URL_SAFE.encode(signature)
    );
    refused(&app.data("/me", &flipped).await, "BadSignature");
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn a_kid_the_endpoint_does_not_have_is_an_unknown_key() {
    let app = start(|b| b).await;
    let kid = tower_cognito::test_util::uuid();
    let token = app.alb.data().kid(kid.clone()).sign();
    refused(&app.data("/me", &token).await, "UnknownKey");
    assert_eq!(app.key_fetches(), 1);
    assert_eq!(app.alb.server().paths(), [format!("/{kid}")]);
    // Remembered: asking again costs no fetch.
    refused(&app.data("/me", &token).await, "UnknownKey");
    assert_eq!(app.key_fetches(), 1);
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn kids_are_one_percent_encoded_path_segment() {
    let app = start(|b| b).await;
    let odd = AlbSigningKey::generate("abc+def=");
    app.alb.server().publish(&odd);
    let token = app.alb.data().signed_by(&odd).kid("abc+def=").sign();
    assert_eq!(app.data("/me", &token).await.status, 200);
    assert_eq!(app.alb.server().paths(), ["/abc%2Bdef%3D"]);
    for kid in ["../other", "a/b", "..", "."] {
        let token = app.alb.data().kid(kid).sign();
        refused(&app.data("/me", &token).await, "MalformedToken");
    }
    assert_eq!(app.key_fetches(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_for_many_requests() {
    let app = start(|b| b).await;
    let kid = app.alb.rotate_key();
    app.alb
        .server()
        .set_behavior(AlbKeyBehavior::Delay(Duration::from_millis(200)));
    let token = app.alb.data().sign();
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, token) = (Arc::clone(&app), token.clone());
            tokio::spawn(async move { app.data("/me", &token).await.status })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(app.alb.server().paths(), [format!("/{kid}")]);
}

#[tokio::test]
async fn random_kids_cannot_cost_a_fetch_each() {
    let app = start(|b| b.unknown_kid_burst(3)).await;
    for _ in 0..30 {
        let token = app.alb.data().kid(tower_cognito::test_util::uuid()).sign();
        refused(&app.data("/me", &token).await, "UnknownKey");
    }
    assert_eq!(app.key_fetches(), 3);
    assert_eq!(app.calls(), 0);
}

// ---------------------------------------------------------------- header checks

#[tokio::test]
async fn another_load_balancer_in_the_same_region_is_refused_before_any_fetch() {
    let app = start(|b| b).await;
    let other = app.alb.other_load_balancer_arn();
    assert_ne!(other, app.alb.arn());
    assert!(other.starts_with("arn:aws:elasticloadbalancing:us-east-1:"));
    // Signed by a key the endpoint serves: only the signer pin refuses it.
    let token = app.alb.data().signer(other).sign();
    refused(&app.data("/me", &token).await, "WrongIssuer");
    let token = app.alb.data().without_header("signer").sign();
    refused(&app.data("/me", &token).await, "MalformedToken");
    assert_eq!(app.key_fetches(), 0);
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn a_second_trusted_load_balancer_is_accepted() {
    let second = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/second/0123456789abcdef";
    let app = start(|b| b.load_balancer_arn(second)).await;
    let token = app.alb.data().signer(second).sign();
    assert_eq!(app.data("/me", &token).await.status, 200);
}

#[tokio::test]
async fn client_and_issuer_are_checked() {
    let app = start(|b| b).await;
    let token = app.alb.data().client("another-client").sign();
    refused(&app.data("/me", &token).await, "WrongClient");
    let token = app.alb.data().without_header("client").sign();
    refused(&app.data("/me", &token).await, "WrongClient");
    let token = app
        .alb
        .data()
        .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")
        .sign();
    refused(&app.data("/me", &token).await, "WrongIssuer");
    // The payload's iss must say what the header says.
    let token = app
        .alb
        .data()
        .claim("iss", "https://accounts.example.com")
        .sign();
    refused(&app.data("/me", &token).await, "WrongIssuer");
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn without_client_and_issuer_configured_they_are_not_checked() {
    let pool = LocalUserPool::start().await.unwrap();
    let alb = LocalAlb::for_pool(&pool).await.unwrap();
    let verifier = tower_cognito::alb::AlbVerifier::builder()
        .load_balancer_arn(alb.arn())
        .key_endpoint(alb.key_endpoint())
        .build()
        .unwrap();
    let token = alb
        .data()
        .client("any")
        .issuer("https://idp.example.com")
        .sign();
    assert_eq!(verifier.verify(&token).await.unwrap().pool_id(), "");
}

#[tokio::test]
async fn expired_claims_are_refused_with_api_gateways_expired_answer() {
    let app = start(|b| b).await;
    let answer = app.data("/me", &app.alb.data().expired().sign()).await;
    assert_eq!(
        (
            answer.status,
            answer.auth_error().as_deref(),
            answer.body.as_str()
        ),
        (401, Some("Expired"), EXPIRED)
    );
    // The header's exp is what counts, even when the payload says otherwise...
    let token = app
        .alb
        .data()
        .header_field("exp", 1_000_000_000u64)
        .claim("exp", 4_000_000_000u64)
        .sign();
    assert_eq!(
        app.data("/me", &token).await.auth_error().as_deref(),
        Some("Expired")
    );
    // ...and a payload exp that has passed counts too.
    let token = app.alb.data().claim("exp", 1_000_000_000u64).sign();
    assert_eq!(
        app.data("/me", &token).await.auth_error().as_deref(),
        Some("Expired")
    );
    let token = app.alb.data().without_header("exp").sign();
    refused(&app.data("/me", &token).await, "MalformedToken");
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn leeway_applies_to_exp() {
    let app = start(|b| b.leeway(Duration::from_secs(120))).await;
    // Expired a minute ago, within two minutes of leeway.
    assert_eq!(
        app.data("/me", &app.alb.data().expired().sign())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn only_es256_is_accepted() {
    let app = start(|b| b).await;
    for alg in ["RS256", "none", "HS256", "es256", "ES384", "PS256"] {
        let token = app.alb.data().alg(alg).sign();
        refused(&app.data("/me", &token).await, "DisallowedAlgorithm");
    }
    // A real RS256 token (the pool's ID token) in the header.
    let id_token = app.alb.pool().unwrap().id_token().sign();
    refused(&app.data("/me", &id_token).await, "DisallowedAlgorithm");
    // alg "none" with no signature.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k","signer":"x","exp":4000000000}"#),
        URL_SAFE_NO_PAD.encode(r#"{"sub":"admin"}"#)
    );
    refused(&app.data("/me", &none).await, "DisallowedAlgorithm");
    let token = app.alb.data().header_field("crit", json!(["exp"])).sign();
    refused(&app.data("/me", &token).await, "DisallowedAlgorithm");
    assert_eq!(app.key_fetches(), 0);
    assert_eq!(app.calls(), 0);
}

// ---------------------------------------------------------------- encoding

#[tokio::test]
async fn the_padding_the_load_balancer_sends_is_accepted_and_nothing_else() {
    let app = start(|b| b).await;
    let padded = app.alb.data().sign();
    assert!(padded.ends_with("=="), "{padded}");
    assert_eq!(app.data("/me", &padded).await.status, 200);
    let unpadded = app.alb.data().unpadded().sign();
    assert!(!unpadded.contains('='));
    assert_eq!(app.data("/me", &unpadded).await.status, 200);

    let (input, _) = padded.rsplit_once('.').unwrap();
    for bad in [
        format!("{padded}="),                               // too much
        format!("{}=", &padded[..padded.len() - 2]),        // too little
        format!("{input}.={}", &padded[input.len() + 1..]), // = in front
        padded.replacen('.', "=.", 1), // padding where none is due, or too much
        padded.replacen('.', ". ", 1), // whitespace
    ] {
        refused(&app.data("/me", &bad).await, "MalformedToken");
    }
    // The standard alphabet's + and / for base64url's - and _.
    let standard = loop {
        let token = app.alb.data().sign();
        if token.contains(['-', '_']) {
            break token.replace('-', "+").replace('_', "/");
        }
    };
    refused(&app.data("/me", &standard).await, "MalformedToken");
    // Standard base64 of the same parts, re-encoded.
    let restandard: Vec<String> = padded
        .split('.')
        .map(|s| STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).unwrap()))
        .collect();
    if restandard.join(".").contains(['+', '/']) {
        refused(
            &app.data("/me", &restandard.join(".")).await,
            "MalformedToken",
        );
    }
    assert_eq!(app.calls(), 2);
}

// ---------------------------------------------------------------- identity and duplicates

#[tokio::test]
async fn the_identity_header_must_be_the_verified_sub() {
    let app = start(|b| b).await;
    let data = app.alb.data().sub("u-1");
    assert_eq!(app.get("/me", data.headers()).await.status, 200);
    let mut headers = data.headers();
    headers.insert("x-amzn-oidc-identity", HeaderValue::from_static("admin"));
    refused(&app.get("/me", headers.clone()).await, "InvalidRequest");
    let answer = app.get("/rfc", headers).await;
    assert_eq!(answer.status, 400);
    assert!(answer.challenge().contains(r#"error="invalid_request""#));
    let mut headers = data.headers();
    headers.append("x-amzn-oidc-identity", HeaderValue::from_static("u-1"));
    refused(&app.get("/me", headers).await, "InvalidRequest");
    let mut headers = data.headers();
    headers.insert("x-amzn-oidc-identity", HeaderValue::from_static("U-1"));
    refused(&app.get("/me", headers).await, "InvalidRequest");
    assert_eq!(app.calls(), 1);
}

#[tokio::test]
async fn two_data_headers_are_refused() {
    let app = start(|b| b).await;
    let mut headers = app.alb.data().headers();
    let second = HeaderValue::from_str(&app.alb.data().sub("admin").sign()).unwrap();
    headers.append("x-amzn-oidc-data", second);
    refused(&app.get("/me", headers.clone()).await, "InvalidRequest");
    assert_eq!(app.get("/rfc", headers).await.status, 400);
    // Even the same value twice.
    let token = app.alb.data().sign();
    let mut headers = HeaderMap::new();
    headers.append("x-amzn-oidc-data", HeaderValue::from_str(&token).unwrap());
    headers.append("x-amzn-oidc-data", HeaderValue::from_str(&token).unwrap());
    refused(&app.get("/me", headers).await, "InvalidRequest");
    assert_eq!(app.calls(), 0);
    assert_eq!(app.key_fetches(), 0);
}

#[tokio::test]
async fn optional_routes_pass_without_claims_but_refuse_bad_ones() {
    let app = start(|b| b).await;
    let answer = app.get("/maybe", HeaderMap::new()).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "anonymous"));
    let answer = app.get("/maybe", app.alb.data().sub("u-1").headers()).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "u-1"));
    let answer = app.data("/maybe", &app.alb.data().expired().sign()).await;
    assert_eq!((answer.status, answer.body.as_str()), (401, EXPIRED));
    let mut headers = HeaderMap::new();
    headers.insert("x-amzn-oidc-identity", HeaderValue::from_static("u-1"));
    refused(&app.get("/maybe", headers).await, "InvalidRequest");
    assert_eq!(app.calls(), 2);
}

// ---------------------------------------------------------------- access token

#[tokio::test]
async fn the_access_token_lets_routes_require_scopes() {
    let app = start(|b| b).await;
    let data = app.alb.data().sub("u-1").email("alice@example.com");
    let pool = app.alb.pool().unwrap();
    let with_scope = |scopes: &[&str]| {
        let mut headers = data.headers();
        let token = data.access_token().unwrap().scopes(scopes).sign();
        headers.insert(
            "x-amzn-oidc-accesstoken",
            HeaderValue::from_str(&token).unwrap(),
        );
        headers
    };
    let answer = app
        .get("/notes", with_scope(&["openid", "notes/read"]))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.starts_with("notes of u-1 (alice@example.com"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("notes/read"));

    // The scope absent: API Gateway's 401; RFC 6750's 403 naming the scope.
    refused(
        &app.get("/notes", with_scope(&["openid"])).await,
        "InsufficientScope",
    );
    let answer = app.get("/rfc-notes", with_scope(&["openid"])).await;
    assert_eq!(answer.status, 403);
    assert!(
        answer.challenge().contains(r#"error="insufficient_scope", error_description="the token lacks the required scope", scope="notes/read""#)
    );
    assert_eq!(
        app.get("/rfc-notes", with_scope(&["notes/read"]))
            .await
            .status,
        200
    );

    // No access token where one is required.
    refused(
        &app.get("/notes", data.headers_without_access()).await,
        "MissingToken",
    );
    // Another user's access token.
    let mut headers = data.headers();
    let token = pool.access_token().sub("u-2").scopes(["notes/read"]).sign();
    headers.insert(
        "x-amzn-oidc-accesstoken",
        HeaderValue::from_str(&token).unwrap(),
    );
    refused(&app.get("/notes", headers).await, "InvalidRequest");
    // An expired access token.
    let mut headers = data.headers();
    let token = data
        .access_token()
        .unwrap()
        .scopes(["notes/read"])
        .expired()
        .sign();
    headers.insert(
        "x-amzn-oidc-accesstoken",
        HeaderValue::from_str(&token).unwrap(),
    );
    let answer = app.get("/notes", headers).await;
    assert_eq!((answer.status, answer.body.as_str()), (401, EXPIRED));
    // An ID token in the access token's place.
    let mut headers = data.headers();
    let token = pool.id_token().sub("u-1").sign();
    headers.insert(
        "x-amzn-oidc-accesstoken",
        HeaderValue::from_str(&token).unwrap(),
    );
    refused(&app.get("/notes", headers).await, "WrongTokenUse");
    // Two access tokens.
    let mut headers = with_scope(&["notes/read"]);
    let token = data.access_token().unwrap().scopes(["notes/read"]).sign();
    headers.append(
        "x-amzn-oidc-accesstoken",
        HeaderValue::from_str(&token).unwrap(),
    );
    refused(&app.get("/notes", headers).await, "InvalidRequest");
    // A good access token does not excuse bad user claims.
    let mut headers = with_scope(&["notes/read"]);
    let forged = app
        .alb
        .data()
        .sub("u-1")
        .signer(app.alb.other_load_balancer_arn())
        .sign();
    headers.insert("x-amzn-oidc-data", HeaderValue::from_str(&forged).unwrap());
    refused(&app.get("/notes", headers).await, "WrongIssuer");
    assert_eq!(app.calls(), 2);
}

/// The headers of a builder without the access token.
trait WithoutAccess {
    fn headers_without_access(&self) -> HeaderMap;
}

impl WithoutAccess for tower_cognito::test_util::alb::AlbDataBuilder {
    fn headers_without_access(&self) -> HeaderMap {
        let mut headers = self.headers();
        headers.remove("x-amzn-oidc-accesstoken");
        headers
    }
}

#[tokio::test]
async fn requirements_that_no_request_could_meet_are_config_errors() {
    let pool = LocalUserPool::start().await.unwrap();
    let alb = LocalAlb::for_pool(&pool).await.unwrap();
    let auth = AlbAuthLayer::new(alb.verifier());
    // User claims carry no scopes.
    assert!(auth.require(Requirement::any_scope(["a"])).is_err());
    assert!(auth.require(Requirement::new()).is_ok());
    // The access token's requirement must take access tokens.
    assert!(
        auth.clone()
            .access_token(pool.verifier(), Requirement::new())
            .is_err()
    );
    let scoped = auth
        .clone()
        .access_token(pool.verifier(), Requirement::any_scope(["a"]))
        .unwrap();
    assert!(scoped.require(Requirement::new()).is_err());
    assert!(scoped.require(Requirement::all_scopes(["a", "b"])).is_ok());
}

// ---------------------------------------------------------------- key endpoint failures

#[tokio::test]
async fn a_slow_key_endpoint_is_a_key_set_outage_after_the_fetch_timeout() {
    let app = start(|b| b.fetch_timeout(Duration::from_millis(300))).await;
    app.alb
        .server()
        .set_behavior(AlbKeyBehavior::Delay(Duration::from_secs(5)));
    let started = Instant::now();
    let answer = app.data("/me", &app.alb.data().sign()).await;
    let took = started.elapsed();
    assert_eq!(
        (
            answer.status,
            answer.auth_error().as_deref(),
            answer.body.as_str()
        ),
        (500, Some("KeySetUnavailable"), CONFIG_ERROR)
    );
    assert_eq!(
        answer.headers["x-amzn-errortype"],
        "AuthorizerConfigurationException"
    );
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // RFC 6750: 503 with Retry-After (backing off: no new fetch).
    let answer = app.data("/rfc", &app.alb.data().sign()).await;
    assert_eq!(
        (answer.status, &answer.headers["retry-after"]),
        (503, &HeaderValue::from_static("5"))
    );
    assert_eq!(app.key_fetches(), 1);
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn garbage_pem_and_errors_are_outages_that_back_off_and_recover() {
    let app = start(|b| {
        b.unknown_kid_cooldown(Duration::from_millis(300))
            .max_backoff(Duration::from_millis(300))
    })
    .await;
    for (behavior, fetches) in [
        (
            AlbKeyBehavior::Body(b"<html>Service Unavailable</html>".to_vec()),
            1,
        ),
        (
            AlbKeyBehavior::Body(
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_vec(),
            ),
            2,
        ),
        (AlbKeyBehavior::Status(500), 3),
        (AlbKeyBehavior::Status(301), 4),
    ] {
        app.alb.server().set_behavior(behavior);
        let token = app.alb.data().sign();
        let answer = app.data("/me", &token).await;
        assert_eq!(
            (
                answer.status,
                answer.auth_error().as_deref(),
                answer.body.as_str()
            ),
            (500, Some("KeySetUnavailable"), CONFIG_ERROR)
        );
        assert_eq!(app.key_fetches(), fetches);
        // Backing off: refused at once, without a fetch.
        assert_eq!(app.data("/me", &token).await.status, 500);
        assert_eq!(app.key_fetches(), fetches);
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    // The endpoint recovers: so does the service.
    app.alb.server().set_behavior(AlbKeyBehavior::Serve);
    assert_eq!(app.data("/me", &app.alb.data().sign()).await.status, 200);
    assert_eq!(app.key_fetches(), 5);
    assert_eq!(app.calls(), 1);
}

#[tokio::test]
async fn keys_already_held_keep_serving_while_the_endpoint_fails() {
    let app = start(|b| b).await;
    assert_eq!(app.data("/me", &app.alb.data().sign()).await.status, 200);
    app.alb.server().set_behavior(AlbKeyBehavior::Status(503));
    assert_eq!(
        app.data("/me", &app.alb.data().sub("u-2").sign())
            .await
            .status,
        200
    );
    // A new kid cannot be had meanwhile.
    app.alb.rotate_key();
    let answer = app.data("/me", &app.alb.data().sign()).await;
    assert_eq!(answer.auth_error().as_deref(), Some("KeySetUnavailable"));
    assert_eq!(app.key_fetches(), 2);
}

#[tokio::test]
async fn an_oversized_key_document_is_refused() {
    let app = start(|b| b.max_key_size(1024)).await;
    let mut huge = b"-----BEGIN PUBLIC KEY-----\n".to_vec();
    huge.extend(std::iter::repeat_n(b'A', 4096));
    app.alb.server().set_behavior(AlbKeyBehavior::Body(huge));
    let answer = app.data("/me", &app.alb.data().sign()).await;
    assert_eq!(answer.auth_error().as_deref(), Some("KeySetUnavailable"));
}

// ---------------------------------------------------------------- the example's own router

#[allow(dead_code)]
#[path = "../examples/alb.rs"]
mod example;

#[tokio::test]
async fn the_example_serves_its_routes() {
    let pool = LocalUserPool::start().await.unwrap();
    let alb = LocalAlb::for_pool(&pool).await.unwrap();
    let server = support::serve(example::app(alb.verifier(), pool.verifier()).unwrap()).await;
    let get = |path: &str, headers: HeaderMap| {
        support::send(server.request(Method::GET, path).headers(headers))
    };
    let user = alb.data().sub("u-1").email("alice@example.com");
    let answer = get("/me", user.headers()).await;
    assert_eq!(answer.status, 200);
    let body: Value = answer.json();
    assert_eq!(
        (body["sub"].as_str(), body["email"].as_str()),
        (Some("u-1"), Some("alice@example.com"))
    );

    let mut headers = user.headers();
    let access = user
        .access_token()
        .unwrap()
        .scopes([example::READ_SCOPE])
        .sign();
    headers.insert(
        "x-amzn-oidc-accesstoken",
        HeaderValue::from_str(&access).unwrap(),
    );
    let answer = get("/notes", headers).await;
    assert_eq!(answer.status, 200);
    let body: Value = answer.json();
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["scopes"], json!([example::READ_SCOPE]));
    // The default access token (scope openid) cannot read notes.
    assert_eq!(get("/notes", user.headers()).await.status, 401);
    assert_eq!(get("/me", HeaderMap::new()).await.status, 401);
    assert_eq!(get("/health", HeaderMap::new()).await.status, 200);
}
