//! AWS Lambda, with no AWS involved: the Lambda authorizer answering TOKEN and
//! REQUEST events written in AWS's documented shapes (`tests/fixtures/lambda/`),
//! and the layer in front of an axum router driven with API Gateway REST proxy
//! and Function URL events converted by `lambda_http`'s own code. Tokens are
//! minted by `LocalUserPool`, whose JWKS endpoint on 127.0.0.1 is the only
//! network used.

#[allow(dead_code)]
#[path = "../examples/lambda_authorizer.rs"]
mod authorizer_example;

#[allow(dead_code)]
#[path = "../examples/lambda_http.rs"]
mod http_example;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use axum::Router;
use http::StatusCode;
use http_body_util::BodyExt as _;
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tower::ServiceExt as _;
use tower_cognito::lambda::{Authorizer, AuthorizerErrorKind, AuthorizerEvent, PolicyResource};
use tower_cognito::test_util::{JwksBehavior, LocalUserPool, TokenBuilder};
use tower_cognito::{CognitoAuthLayer, Requirement, TokenUseRule};

mod support;

const SUB: &str = "7d8ca528-4931-4254-9273-ea5ee853f271";
/// `Thu Jul 02 12:39:49 UTC 2026`.
const IAT: u64 = 1_782_995_989;
/// `Fri Jan 01 00:00:00 UTC 2100`.
const EXP: u64 = 4_102_444_800;
const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/notes";
const REQUEST_METHOD_ARN: &str =
    "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request";

fn fixture(name: &str) -> Value {
    let text = match name {
        "token_authorizer" => include_str!("fixtures/lambda/token_authorizer.json"),
        "request_authorizer" => include_str!("fixtures/lambda/request_authorizer.json"),
        "rest_proxy" => include_str!("fixtures/lambda/rest_proxy.json"),
        "function_url" => include_str!("fixtures/lambda/function_url.json"),
        _ => unreachable!("no fixture {name}"),
    };
    serde_json::from_str(text).unwrap()
}

/// Every claim whose value depends on the clock or chance, fixed.
fn fixed(token: TokenBuilder) -> TokenBuilder {
    token
        .sub(SUB)
        .claim("iat", IAT)
        .claim("auth_time", IAT)
        .claim("exp", EXP)
        .claim("jti", "jti-1")
        .claim("origin_jti", "origin-jti-1")
        .claim("event_id", "event-1")
}

/// AWS's TOKEN event, with this token (or none).
fn token_event(token: Option<&str>) -> Value {
    let mut event = fixture("token_authorizer");
    match token {
        Some(token) => event["authorizationToken"] = json!(token),
        None => {
            event.as_object_mut().unwrap().remove("authorizationToken");
        }
    }
    event
}

/// AWS's REQUEST event, with these extra headers.
fn request_event(headers: &[(&str, &str)]) -> Value {
    let mut event = fixture("request_authorizer");
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
    }
    event
}

/// The authorizer of the Notes page: access tokens of the pool.
fn notes_authorizer(pool: &LocalUserPool) -> Authorizer {
    Authorizer::new(pool.verifier())
        .require(Requirement::new().token_use(TokenUseRule::Access))
        .unwrap()
}

/// The answer as the JSON Lambda hands API Gateway: the policy, or the
/// function error.
async fn answer(
    authorizer: &Authorizer,
    event: Value,
) -> Result<Value, (AuthorizerErrorKind, Value)> {
    let event: AuthorizerEvent = serde_json::from_value(event).unwrap();
    match authorizer.authorize(event).await {
        Ok(policy) => Ok(serde_json::to_value(policy).unwrap()),
        Err(error) => {
            let kind = error.kind();
            let diagnostic = lambda_runtime::Diagnostic::from(error);
            Err((kind, serde_json::to_value(diagnostic).unwrap()))
        }
    }
}

fn unauthorized() -> Value {
    json!({"errorType": "Unauthorized", "errorMessage": "Unauthorized"})
}

fn policy(principal: &str, effect: &str, resource: &str, context: Value) -> Value {
    json!({
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": ["execute-api:Invoke"],
                "Effect": effect,
                "Resource": [resource],
            }],
        },
        "context": context,
        "usageIdentifierKey": null,
    })
}

/// The context of a `fixed` access token of `pool`: every claim, as a string.
/// The Allow policy for `resource` that `fixed(pool.access_token())` gets: its
/// `sub`, its one scope, its claims as strings in the context.
fn allowed_access(pool: &LocalUserPool, resource: &str) -> Value {
    policy(
        SUB,
        "Allow",
        resource,
        access_context(pool, "aws.cognito.signin.user.admin"),
    )
}

fn access_context(pool: &LocalUserPool, scope: &str) -> Value {
    json!({
        "auth_time": "1782995989",
        "client_id": pool.client_id(),
        "event_id": "event-1",
        "exp": "Fri Jan 01 00:00:00 UTC 2100",
        "iat": "Thu Jul 02 12:39:49 UTC 2026",
        "iss": pool.issuer(),
        "jti": "jti-1",
        "origin_jti": "origin-jti-1",
        "scope": scope,
        "sub": SUB,
        "token_use": "access",
        "username": "test-user",
        "version": "2",
    })
}

// ------------------------------------------------------------ TOKEN authorizer

#[tokio::test]
async fn valid_access_token_is_allowed_for_the_method_with_the_claims_as_strings() {
    let pool = LocalUserPool::start().await.unwrap();
    let token = fixed(pool.access_token()).sign();
    let answer = answer(&notes_authorizer(&pool), token_event(Some(&token))).await;
    assert_eq!(answer.unwrap(), allowed_access(&pool, METHOD_ARN));
}

#[tokio::test]
async fn id_token_claims_reach_the_context_as_api_gateway_renders_them() {
    let pool = LocalUserPool::start().await.unwrap();
    let token = fixed(pool.id_token())
        .groups(["admins", "staff"])
        .attribute("custom:tenant", "acme")
        .sign();
    // Requirement::new(): API Gateway's method without scopes, ID tokens.
    let authorizer = Authorizer::new(pool.verifier());
    let answer = answer(&authorizer, token_event(Some(&token)))
        .await
        .unwrap();
    assert_eq!(
        answer["context"],
        json!({
            "aud": pool.client_id(),
            "auth_time": "1782995989",
            "cognito:groups": "admins,staff",
            "cognito:username": "test-user",
            "custom:tenant": "acme",
            "email": "test-user@example.com",
            "email_verified": "true",
            "event_id": "event-1",
            "exp": "Fri Jan 01 00:00:00 UTC 2100",
            "iat": "Thu Jul 02 12:39:49 UTC 2026",
            "iss": pool.issuer(),
            "jti": "jti-1",
            "origin_jti": "origin-jti-1",
            "sub": SUB,
            "token_use": "id",
        })
    );
    // Only strings: API Gateway refuses arrays and objects there.
    assert!(
        answer["context"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string)
    );
}

#[tokio::test]
async fn bearer_prefix_is_read_as_the_layer_reads_it() {
    let pool = LocalUserPool::start().await.unwrap();
    let token = fixed(pool.access_token()).sign();
    let authorizer = notes_authorizer(&pool);
    for value in [format!("Bearer {token}"), format!("bearer {token}")] {
        let answer = answer(&authorizer, token_event(Some(&value)))
            .await
            .unwrap();
        assert_eq!(answer["principalId"], SUB);
        assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
    }
    let answer = answer(&authorizer, token_event(Some(&format!("Basic {token}")))).await;
    assert_eq!(
        answer,
        Err((AuthorizerErrorKind::Unauthorized, unauthorized()))
    );
}

#[tokio::test]
async fn invalid_tokens_are_the_unauthorized_error_as_on_the_notes_page() {
    let pool = LocalUserPool::start().await.unwrap();
    let other_pool = LocalUserPool::start().await.unwrap();
    let authorizer = notes_authorizer(&pool);
    let valid = pool.access_token().sign();
    let (head, _) = valid.rsplit_once('.').unwrap();
    let cases = [
        // "Not a valid JWT token"
        ("not a JWT", "not-a-jwt".to_owned()),
        // jwt.verify: the signature
        ("bad signature", format!("{head}.AAAA")),
        // jwt.verify: expiry
        ("expired", pool.access_token().expired().sign()),
        // "invalid issuer"
        ("another pool's token", other_pool.access_token().sign()),
        (
            "another issuer claimed",
            pool.access_token()
                .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")
                .sign(),
        ),
        // "Not an access token"
        ("ID token", pool.id_token().sign()),
        // "Invalid access token": a kid the pool does not publish
        (
            "unknown kid",
            pool.access_token()
                .signed_by(&tower_cognito::test_util::SigningKey::generate("stranger"))
                .sign(),
        ),
        // Not on the page: the verifier's app client.
        (
            "another app client",
            pool.access_token().client_id("someone-else").sign(),
        ),
    ];
    for (case, token) in cases {
        let answer = answer(&authorizer, token_event(Some(&token))).await;
        assert_eq!(
            answer,
            Err((AuthorizerErrorKind::Unauthorized, unauthorized())),
            "{case}"
        );
    }
}

#[tokio::test]
async fn missing_token_is_the_unauthorized_error() {
    let pool = LocalUserPool::start().await.unwrap();
    let authorizer = notes_authorizer(&pool);
    for event in [
        token_event(None),
        token_event(Some("")),
        token_event(Some("Bearer ")),
    ] {
        assert_eq!(
            answer(&authorizer, event).await,
            Err((AuthorizerErrorKind::Unauthorized, unauthorized()))
        );
    }
}

#[tokio::test]
async fn valid_token_without_the_scope_is_denied_for_its_sub() {
    let pool = LocalUserPool::start().await.unwrap();
    let authorizer = Authorizer::new(pool.verifier())
        .require(Requirement::any_scope(["notes/write"]))
        .unwrap();
    let token = fixed(pool.access_token()).scopes(["notes/read"]).sign();
    let answer = answer(&authorizer, token_event(Some(&token))).await;
    assert_eq!(answer.unwrap(), policy(SUB, "Deny", METHOD_ARN, json!({})));

    let token = fixed(pool.access_token())
        .scopes(["notes/read", "notes/write"])
        .sign();
    let allowed = self::answer(&authorizer, token_event(Some(&token)))
        .await
        .unwrap();
    assert_eq!(
        allowed,
        policy(
            SUB,
            "Allow",
            METHOD_ARN,
            access_context(&pool, "notes/read notes/write")
        )
    );
}

#[tokio::test]
async fn group_and_custom_checks_deny_too() {
    let pool = LocalUserPool::start().await.unwrap();
    let authorizer = Authorizer::new(pool.verifier())
        .require(
            Requirement::new()
                .any_group(["admins"])
                .check(|c| c.get_str("custom:tenant") == Some("acme")),
        )
        .unwrap();
    let cases = [
        (
            fixed(pool.id_token())
                .groups(["staff"])
                .attribute("custom:tenant", "acme"),
            "Deny",
        ),
        (
            fixed(pool.id_token())
                .groups(["admins"])
                .attribute("custom:tenant", "other"),
            "Deny",
        ),
        (
            fixed(pool.id_token())
                .groups(["admins"])
                .attribute("custom:tenant", "acme"),
            "Allow",
        ),
    ];
    for (token, effect) in cases {
        let answer = answer(&authorizer, token_event(Some(&token.sign())))
            .await
            .unwrap();
        assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], effect);
        assert_eq!(answer["principalId"], SUB);
    }
}

#[tokio::test]
async fn key_set_outage_is_an_error_but_never_allow_nor_unauthorized() {
    let pool = LocalUserPool::start().await.unwrap();
    pool.server().set_behavior(JwksBehavior::Status(500));
    let verifier = pool
        .verifier_builder()
        .unknown_kid_cooldown(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(200))
        .build()
        .unwrap();
    let authorizer = Authorizer::new(verifier)
        .require(Requirement::new().token_use(TokenUseRule::Access))
        .unwrap();
    let token = pool.access_token().sign();
    let (kind, diagnostic) = answer(&authorizer, token_event(Some(&token)))
        .await
        .unwrap_err();
    assert_eq!(kind, AuthorizerErrorKind::KeySetUnavailable);
    assert_eq!(diagnostic["errorType"], "KeySetUnavailable");
    // Any message but `Unauthorized`: API Gateway answers 500, not 401.
    let message = diagnostic["errorMessage"].as_str().unwrap();
    assert_ne!(message, "Unauthorized");
    assert!(
        message.starts_with("the authorizer cannot verify tokens now"),
        "{message}"
    );
    assert!(!message.contains(&token), "{message}");

    // Every call during the outage fails the same way.
    for _ in 0..5 {
        let (kind, _) = answer(&authorizer, token_event(Some(&token)))
            .await
            .unwrap_err();
        assert_eq!(kind, AuthorizerErrorKind::KeySetUnavailable);
    }

    // Once the keys come (after the back-off), the same token is allowed.
    pool.server().set_behavior(JwksBehavior::Serve);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match answer(&authorizer, token_event(Some(&token))).await {
            Ok(answer) => {
                assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Allow");
                break;
            }
            Err((kind, _)) => {
                assert_eq!(kind, AuthorizerErrorKind::KeySetUnavailable);
                assert!(Instant::now() < deadline, "the keys never came back");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn stage_resource_covers_every_method_of_the_stage() {
    let pool = LocalUserPool::start().await.unwrap();
    let authorizer = notes_authorizer(&pool).resource(PolicyResource::Stage);
    let token = fixed(pool.access_token()).sign();
    let answer = answer(&authorizer, token_event(Some(&token)))
        .await
        .unwrap();
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Resource"],
        json!(["arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/*/*"])
    );
}

#[tokio::test]
async fn events_that_are_not_authorizer_events_are_errors() {
    let pool = LocalUserPool::start().await.unwrap();
    let authorizer = notes_authorizer(&pool);
    let token = pool.access_token().sign();

    // No type, or another one: not an authorizer event at all.
    for event in [
        json!({"authorizationToken": token, "methodArn": METHOD_ARN}),
        json!({"type": "token", "authorizationToken": token, "methodArn": METHOD_ARN}),
        fixture("rest_proxy"),
    ] {
        assert!(serde_json::from_value::<AuthorizerEvent>(event).is_err());
    }
    // No methodArn: nothing to write a policy for, and no Allow.
    let mut event = token_event(Some(&token));
    event.as_object_mut().unwrap().remove("methodArn");
    let (kind, diagnostic) = answer(&authorizer, event).await.unwrap_err();
    assert_eq!(kind, AuthorizerErrorKind::InvalidEvent);
    assert_ne!(diagnostic["errorMessage"], "Unauthorized");
    // A REQUEST event handed to the TOKEN entry point.
    let event = serde_json::from_value(request_event(&[])).unwrap();
    let error = authorizer.authorize_token(event).await.unwrap_err();
    assert_eq!(error.kind(), AuthorizerErrorKind::InvalidEvent);
}

#[tokio::test]
async fn the_authorizer_is_a_service_of_lambda_events() {
    let pool = LocalUserPool::start().await.unwrap();
    let token = fixed(pool.access_token()).sign();
    let event = serde_json::from_value(token_event(Some(&token))).unwrap();
    let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
    let response = notes_authorizer(&pool).oneshot(event).await.unwrap();
    assert_eq!(
        serde_json::to_value(response).unwrap(),
        allowed_access(&pool, METHOD_ARN)
    );
}

// ---------------------------------------------------------- REQUEST authorizer

#[tokio::test]
async fn request_event_reads_the_authorization_header() {
    let pool = LocalUserPool::start().await.unwrap();
    let authorizer = notes_authorizer(&pool);
    let token = fixed(pool.access_token()).sign();
    for name in ["Authorization", "authorization", "AUTHORIZATION"] {
        let event = request_event(&[(name, &format!("Bearer {token}"))]);
        assert_eq!(
            answer(&authorizer, event).await.unwrap(),
            allowed_access(&pool, REQUEST_METHOD_ARN),
            "{name}"
        );
    }
    // The documented event has no such header.
    assert_eq!(
        answer(&authorizer, request_event(&[])).await,
        Err((AuthorizerErrorKind::Unauthorized, unauthorized()))
    );
}

#[tokio::test]
async fn request_event_reads_a_configured_header() {
    let pool = LocalUserPool::start().await.unwrap();
    let authorizer = notes_authorizer(&pool).header("x-notes-token".parse().unwrap());
    let token = fixed(pool.access_token()).sign();
    let event = request_event(&[("X-Notes-Token", &token), ("Authorization", "ignored")]);
    let answer = answer(&authorizer, event).await.unwrap();
    assert_eq!(answer["principalId"], SUB);
    // The Authorization header is not read any more.
    let event = request_event(&[("Authorization", &token)]);
    assert_eq!(
        self::answer(&authorizer, event).await,
        Err((AuthorizerErrorKind::Unauthorized, unauthorized()))
    );
}

#[tokio::test]
async fn request_event_with_two_tokens_is_unauthorized() {
    let pool = LocalUserPool::start().await.unwrap();
    let authorizer = notes_authorizer(&pool);
    let token = pool.access_token().sign();
    let mut event = request_event(&[("Authorization", &token)]);
    event["multiValueHeaders"] = json!({"Authorization": [token, "another"]});
    assert_eq!(
        answer(&authorizer, event).await,
        Err((AuthorizerErrorKind::Unauthorized, unauthorized()))
    );
    // One value in multiValueHeaders, as API Gateway sends it, passes.
    let mut event = request_event(&[("Authorization", &token)]);
    event["multiValueHeaders"] = json!({"Authorization": [token]});
    assert!(answer(&authorizer, event).await.is_ok());
}

// ------------------------------------------------------- the example authorizer

fn env_of(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

#[tokio::test]
async fn example_authorizer_answers_as_the_notes_authorizer() {
    let pool = LocalUserPool::start().await.unwrap();
    let env = env_of(vec![
        ("COGNITO_USER_POOL_ID", pool.pool_id().to_owned()),
        ("COGNITO_JWKS_URL", pool.jwks_url()),
        ("COGNITO_CLIENT_ID", pool.client_id().to_owned()),
    ]);
    let authorizer = authorizer_example::authorizer_from_env(&env).unwrap();
    let token = fixed(pool.access_token()).sign();
    let (allowed, answer) =
        authorizer_example::answer(&authorizer, &token_event(Some(&token)).to_string()).await;
    assert!(allowed);
    assert_eq!(answer, allowed_access(&pool, METHOD_ARN));
    let id_token = pool.id_token().sign();
    let (allowed, answer) =
        authorizer_example::answer(&authorizer, &token_event(Some(&id_token)).to_string()).await;
    assert!(!allowed);
    assert_eq!(answer, unauthorized());
    let (allowed, answer) = authorizer_example::answer(&authorizer, "{}").await;
    assert!(!allowed);
    assert_eq!(answer["errorType"], "InvalidEvent");
}

#[tokio::test]
async fn example_authorizer_reads_scopes_header_and_resource() {
    let pool = LocalUserPool::start().await.unwrap();
    let env = env_of(vec![
        ("COGNITO_USER_POOL_ID", pool.pool_id().to_owned()),
        ("COGNITO_JWKS_URL", pool.jwks_url()),
        ("COGNITO_SCOPES", "notes/read notes/admin".to_owned()),
        ("AUTHORIZER_TOKEN_HEADER", "X-Notes-Token".to_owned()),
        ("AUTHORIZER_POLICY_RESOURCE", "stage".to_owned()),
    ]);
    let authorizer = authorizer_example::authorizer_from_env(&env).unwrap();
    let token = fixed(pool.access_token()).scopes(["notes/admin"]).sign();
    let event = request_event(&[("x-notes-token", &token)]);
    let (allowed, answer) = authorizer_example::answer(&authorizer, &event.to_string()).await;
    assert!(allowed);
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Resource"],
        json!(["arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/*/*"])
    );
    let token = fixed(pool.access_token()).scopes(["notes/write"]).sign();
    let event = request_event(&[("x-notes-token", &token)]);
    let (_, answer) = authorizer_example::answer(&authorizer, &event.to_string()).await;
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Deny");

    for (env, why) in [
        (env_of(vec![]), "COGNITO_USER_POOL_ID"),
        (
            env_of(vec![
                ("COGNITO_USER_POOL_ID", "us-east-1_AbCdEfGhI".into()),
                ("AUTHORIZER_POLICY_RESOURCE", "everything".into()),
            ]),
            "method or stage",
        ),
    ] {
        let err = authorizer_example::authorizer_from_env(&env).unwrap_err();
        assert!(err.contains(why), "{err}");
    }
}

// ------------------------------------------------------------------ logs

#[tokio::test]
async fn no_token_reaches_the_logs_or_the_errors() {
    let logs = support::global_logs();
    let pool = LocalUserPool::start().await.unwrap();
    let authorizer = Authorizer::new(pool.verifier())
        .require(Requirement::any_scope(["notes/write"]))
        .unwrap();
    let tokens = [
        pool.access_token().scopes(["notes/write"]).sign(),
        pool.access_token().scopes(["notes/read"]).sign(),
        pool.access_token().expired().sign(),
        pool.id_token().sign(),
        "not-a-jwt-but-secret".to_owned(),
    ];
    let mut seen = String::new();
    for token in &tokens {
        let event: AuthorizerEvent = serde_json::from_value(token_event(Some(token))).unwrap();
        seen.push_str(&format!("{event:?}\n{authorizer:?}\n"));
        if let Err(error) = authorizer.authorize(event).await {
            seen.push_str(&format!("{error}\n{error:?}\n"));
        }
    }
    let logs = logs.text();
    assert!(logs.contains("authorizer: deny"), "{logs}");
    assert!(logs.contains("authorizer: unauthorized"), "{logs}");
    for token in &tokens {
        // The signature is the part no claim or header could repeat.
        let tail = token.rsplit('.').next().unwrap();
        assert!(!logs.contains(tail), "token in the logs");
        assert!(!seen.contains(tail), "token in Debug or Display: {seen}");
    }
}

// ------------------------------------------------- the layer under lambda_http

/// The event as Lambda delivers it, with the token in its headers, turned into
/// a request by lambda_http's own deserializer and conversion.
fn http_request(mut event: Value, token: Option<&str>) -> lambda_http::Request {
    if let Some(token) = token {
        let value = format!("Bearer {token}");
        event["headers"]["Authorization"] = json!(value);
        if event.get("multiValueHeaders").is_some() {
            event["multiValueHeaders"]["Authorization"] = json!([value]);
        }
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// A REST API proxy event for `GET {path}`, in AWS's shape.
fn rest_event(path: &str) -> Value {
    let mut event = fixture("rest_proxy");
    event["resource"] = json!(path);
    event["path"] = json!(path);
    event["requestContext"]["resourcePath"] = json!(path);
    event["requestContext"]["path"] = json!(format!("/prod{path}"));
    serde_json::from_value::<ApiGatewayProxyRequest>(event.clone()).expect("a REST proxy event");
    event
}

/// A Function URL event for `GET {path}`, in AWS's shape.
fn function_url_event(path: &str) -> Value {
    let mut event = fixture("function_url");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    serde_json::from_value::<LambdaFunctionUrlRequest>(event.clone())
        .expect("a Function URL event");
    event
}

async fn call(
    router: &Router,
    request: lambda_http::Request,
) -> (StatusCode, http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (parts.status, parts.headers, body)
}

fn router(pool: &LocalUserPool) -> Router {
    http_example::app(&CognitoAuthLayer::new(pool.verifier())).unwrap()
}

#[tokio::test]
async fn rest_proxy_event_with_a_token_reaches_the_handler_with_its_claims() {
    let pool = LocalUserPool::start().await.unwrap();
    // lambda_http puts a REST API's stage in front of the path.
    let router = Router::new().nest("/prod", router(&pool));
    let token = fixed(pool.id_token()).sign();
    let request = http_request(rest_event("/me"), Some(&token));
    assert!(matches!(
        request.request_context_ref(),
        Some(RequestContext::ApiGatewayV1(_))
    ));
    assert_eq!(request.uri().path(), "/prod/me");
    let (status, _, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], SUB);
    assert_eq!(body["claims"]["token_use"], "id");
    assert_eq!(body["claims"]["exp"], "Fri Jan 01 00:00:00 UTC 2100");

    let token = pool.access_token().scopes(["notes/read"]).sign();
    let (status, _, body) = call(&router, http_request(rest_event("/notes"), Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["notes"], json!([]));
}

#[tokio::test]
async fn rest_proxy_event_without_a_token_gets_api_gateways_401() {
    let pool = LocalUserPool::start().await.unwrap();
    let router = Router::new().nest("/prod", router(&pool));
    let (status, headers, body) = call(&router, http_request(rest_event("/me"), None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"message": "Unauthorized"}));
    assert_eq!(headers["x-amzn-errortype"], "UnauthorizedException");
    assert_eq!(headers["content-type"], "application/json");

    // A token without the route's scope: the same 401, as API Gateway answers.
    let token = pool.access_token().scopes(["notes/write"]).sign();
    let (status, _, body) = call(&router, http_request(rest_event("/notes"), Some(&token))).await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}))
    );

    // The open route needs nothing.
    let (status, _, body) = call(&router, http_request(rest_event("/health"), None)).await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok")));
}

#[tokio::test]
async fn rest_stage_prefix_must_be_handled() {
    // Without the /prod nest (or AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH), REST
    // events miss every route: 404, not a pass.
    let pool = LocalUserPool::start().await.unwrap();
    let token = fixed(pool.id_token()).sign();
    let (status, _, _) = call(
        &router(&pool),
        http_request(rest_event("/me"), Some(&token)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn function_url_event_with_a_token_reaches_the_handler() {
    let pool = LocalUserPool::start().await.unwrap();
    let router = router(&pool);
    let token = fixed(pool.id_token()).sign();
    let request = http_request(function_url_event("/me"), Some(&token));
    // Function URLs use API Gateway's payload format 2.0.
    assert!(matches!(
        request.request_context_ref(),
        Some(RequestContext::ApiGatewayV2(_))
    ));
    assert_eq!(request.uri().path(), "/me");
    let (status, _, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], SUB);
    assert_eq!(body["claims"]["aud"], pool.client_id());
}

#[tokio::test]
async fn function_url_event_without_a_valid_token_gets_api_gateways_401() {
    let pool = LocalUserPool::start().await.unwrap();
    let router = router(&pool);
    let (status, headers, body) =
        call(&router, http_request(function_url_event("/me"), None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"message": "Unauthorized"}));
    assert_eq!(headers["x-amzn-errortype"], "UnauthorizedException");

    let expired = pool.id_token().expired().sign();
    let (status, _, body) = call(
        &router,
        http_request(function_url_event("/me"), Some(&expired)),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"message": "The incoming token has expired"}));

    // An access token where the route takes ID tokens.
    let access = pool.access_token().sign();
    let (status, _, body) = call(
        &router,
        http_request(function_url_event("/me"), Some(&access)),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}))
    );
}
