//! End to end against two independent Cognito emulators, moto and cognito-local.
//!
//! Tokens minted by the crate's own test kit only prove that the crate agrees
//! with itself. Here real users are created and signed in through the emulators'
//! own APIs (CreateUserPool, CreateUserPoolClient, AdminCreateUser,
//! AdminSetUserPassword, CreateGroup, AdminAddUserToGroup, AdminInitiateAuth,
//! InitiateAuth), and the ID and access tokens they issue are sent to an axum app
//! protected by [`CognitoAuthLayer`] over a real socket.
//!
//! Every test is ignored by default: run them with `bash .ci/e2e.sh`, which
//! installs and starts both emulators (`.ci/emulators.sh`) and exports
//! `MOTO_ENDPOINT` and `COGNITO_LOCAL_ENDPOINT`. How each emulator behaves is
//! written down in `.ci/EMULATORS.md`.
//!
//! Each test makes its own user pools (unique names, random ids), so tests can
//! share one emulator and run in parallel.

use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tower::util::MapResponseLayer;
use tower_cognito::{AuthErrorKind, Claims, CognitoAuthLayer, Requirement, UserPool, Verifier};

mod support;
use support::Server;

/// The scope both emulators put in every access token.
const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";
const USERNAME: &str = "alice";
const EMAIL: &str = "alice@example.com";
/// Meets moto's default password policy (cognito-local has none).
const PASSWORD: &str = "Passw0rd!Passw0rd";
const ROLE: &str = "admin";
const GROUPS: [&str; 2] = ["admins", "readers"];

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const EXPIRED: &str = r#"{"message":"The incoming token has expired"}"#;

// ------------------------------------------------------------------ emulators

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Moto,
    CognitoLocal,
}

/// One running emulator, reached with plain unsigned JSON requests.
struct Emulator {
    kind: Kind,
    endpoint: String,
    http: reqwest::Client,
}

fn endpoint_from_env(var: &str) -> String {
    let value = std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set. These tests need the Cognito emulators: \
             run them with `bash .ci/e2e.sh` (or `bash .ci/emulators.sh run -- \
             cargo test --test e2e -- --ignored`)"
        )
    });
    value.trim_end_matches('/').to_owned()
}

impl Emulator {
    fn moto() -> Self {
        Self::new(Kind::Moto, endpoint_from_env("MOTO_ENDPOINT"))
    }

    fn cognito_local() -> Self {
        Self::new(
            Kind::CognitoLocal,
            endpoint_from_env("COGNITO_LOCAL_ENDPOINT"),
        )
    }

    fn new(kind: Kind, endpoint: String) -> Self {
        let http = support::client_builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            kind,
            endpoint,
            http,
        }
    }

    /// Calls a Cognito user pool operation; panics unless the emulator answers 2xx.
    async fn call(&self, operation: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            // Exactly this content type: moto reads application/json as another protocol.
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                format!("AWSCognitoIdentityProviderService.{operation}"),
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{:?} {operation}: request failed: {e}", self.kind));
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "{:?} {operation} answered {status}: {text}",
            self.kind
        );
        if text.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{:?} {operation}: not JSON ({e}): {text}", self.kind))
    }

    async fn get_text(&self, path: &str) -> String {
        let answer = support::send(self.http.get(format!("{}{path}", self.endpoint))).await;
        assert!(answer.code().is_success(), "GET {path}: {answer:?}");
        answer.body
    }

    fn jwks_url(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}/.well-known/jwks.json", self.endpoint)
    }

    /// The `iss` this emulator puts in the pool's tokens (`.ci/EMULATORS.md`).
    fn issuer(&self, pool_id: &str) -> String {
        match self.kind {
            Kind::Moto => format!("https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"),
            Kind::CognitoLocal => format!("{}/{pool_id}", self.endpoint),
        }
    }

    /// The pool as an application would configure it for this emulator.
    fn user_pool(&self, pool_id: &str) -> UserPool {
        match self.kind {
            // moto signs with the AWS issuer form; only the keys are on loopback.
            Kind::Moto => UserPool::new(pool_id).jwks_url(self.jwks_url(pool_id)),
            Kind::CognitoLocal => UserPool::new(pool_id)
                .issuer(self.issuer(pool_id))
                .jwks_url(self.jwks_url(pool_id)),
        }
    }
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh user pool with one app client and one confirmed user, `alice`, who has
/// `email`, `custom:role = admin` and is in the groups `admins` and `readers`.
struct Fixture<'a> {
    emulator: &'a Emulator,
    pool_id: String,
    client_id: String,
    /// alice's `sub`, as AdminGetUser reports it.
    sub: String,
}

struct Tokens {
    id: String,
    access: String,
}

impl<'a> Fixture<'a> {
    async fn create(emulator: &'a Emulator) -> Self {
        let pool = emulator
            .call(
                "CreateUserPool",
                json!({
                    "PoolName": unique("e2e"),
                    "Schema": [{"Name": "role", "AttributeDataType": "String", "Mutable": true}],
                }),
            )
            .await;
        let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
        let mut fixture = Self {
            emulator,
            pool_id,
            client_id: String::new(),
            sub: String::new(),
        };
        fixture.client_id = fixture.create_client(None).await;

        let pool_id = fixture.pool_id.as_str();
        emulator
            .call(
                "AdminCreateUser",
                json!({
                    "UserPoolId": pool_id,
                    "Username": USERNAME,
                    "TemporaryPassword": "Tmp-Passw0rd!",
                    "MessageAction": "SUPPRESS",
                    "UserAttributes": [
                        {"Name": "email", "Value": EMAIL},
                        {"Name": "email_verified", "Value": "true"},
                        {"Name": "custom:role", "Value": ROLE},
                    ],
                }),
            )
            .await;
        emulator
            .call(
                "AdminSetUserPassword",
                json!({"UserPoolId": pool_id, "Username": USERNAME, "Password": PASSWORD, "Permanent": true}),
            )
            .await;
        for group in GROUPS {
            emulator
                .call(
                    "CreateGroup",
                    json!({"UserPoolId": pool_id, "GroupName": group}),
                )
                .await;
            emulator
                .call(
                    "AdminAddUserToGroup",
                    json!({"UserPoolId": pool_id, "Username": USERNAME, "GroupName": group}),
                )
                .await;
        }
        let user = emulator
            .call(
                "AdminGetUser",
                json!({"UserPoolId": pool_id, "Username": USERNAME}),
            )
            .await;
        assert_eq!(user["UserStatus"], "CONFIRMED", "{user}");
        fixture.sub = user["UserAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Name"] == "sub")
            .and_then(|a| a["Value"].as_str())
            .expect("AdminGetUser reports a sub")
            .to_owned();
        fixture
    }

    /// A new app client of the pool. `validity`: lifetime of its ID and access
    /// tokens in seconds (only cognito-local honours it; moto always uses 3600 s).
    async fn create_client(&self, validity: Option<u32>) -> String {
        let mut body = json!({
            "UserPoolId": self.pool_id,
            "ClientName": unique("client"),
            "ExplicitAuthFlows": ["ADMIN_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"],
            // moto puts standard attributes in the ID token only when the client may read them.
            "ReadAttributes": ["email", "email_verified", "custom:role"],
        });
        if let Some(seconds) = validity {
            let body = body.as_object_mut().unwrap();
            body.insert(
                "TokenValidityUnits".into(),
                json!({"AccessToken": "seconds", "IdToken": "seconds"}),
            );
            body.insert("AccessTokenValidity".into(), json!(seconds));
            body.insert("IdTokenValidity".into(), json!(seconds));
        }
        let client = self.emulator.call("CreateUserPoolClient", body).await;
        client["UserPoolClient"]["ClientId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// AdminInitiateAuth, ADMIN_USER_PASSWORD_AUTH, with the pool's first client.
    async fn admin_sign_in(&self) -> Tokens {
        let result = self
            .emulator
            .call(
                "AdminInitiateAuth",
                json!({
                    "UserPoolId": self.pool_id,
                    "ClientId": self.client_id,
                    "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": USERNAME, "PASSWORD": PASSWORD},
                }),
            )
            .await;
        tokens(&result)
    }

    /// InitiateAuth, USER_PASSWORD_AUTH (the public, client-side flow).
    async fn sign_in(&self, client_id: &str) -> Tokens {
        let result = self
            .emulator
            .call(
                "InitiateAuth",
                json!({
                    "ClientId": client_id,
                    "AuthFlow": "USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": USERNAME, "PASSWORD": PASSWORD},
                }),
            )
            .await;
        tokens(&result)
    }

    fn user_pool(&self) -> UserPool {
        self.emulator.user_pool(&self.pool_id)
    }

    /// A verifier for this pool, every other setting at its default (the
    /// verified-token cache included).
    fn verifier(&self) -> Verifier {
        Verifier::new(self.user_pool()).unwrap()
    }
}

fn tokens(result: &Value) -> Tokens {
    let auth = &result["AuthenticationResult"];
    let token = |name: &str| {
        auth[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in the sign-in result: {result}"))
            .to_owned()
    };
    Tokens {
        id: token("IdToken"),
        access: token("AccessToken"),
    }
}

/// A JWT segment (0 header, 1 payload) as JSON, read without verifying anything.
fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

// ------------------------------------------------------------------ the app

/// An axum app on 127.0.0.1: `/me` takes an ID token (a route without scopes),
/// `/admin` an access token with `aws.cognito.signin.user.admin`. Both answer
/// with what the handler saw in the claims.
struct App {
    server: Server,
}

async fn what_the_handler_sees(claims: Claims) -> axum::Json<Value> {
    axum::Json(json!({
        "sub": claims.sub(),
        "username": claims.username(),
        "token_use": claims.token_use().as_str(),
        "client_id": claims.client_id(),
        "pool_id": claims.pool_id(),
        "issuer": claims.issuer(),
        "email": claims.email(),
        "role": claims.get_str("custom:role"),
        "groups": claims.groups(),
        "scopes": claims.scopes(),
    }))
}

#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
    /// The rejection's [`AuthErrorKind`], as `Debug`.
    auth_error: Option<String>,
    error_type: Option<String>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    #[track_caller]
    fn assert_ok(&self) -> Value {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.auth_error, None, "{self:?}");
        self.json()
    }

    /// API Gateway's 401 with this body, refused for this reason.
    #[track_caller]
    fn assert_401(&self, body: &str, kind: AuthErrorKind) {
        assert_eq!(self.status, 401, "{self:?}");
        assert_eq!(self.body, body, "{self:?}");
        assert_eq!(
            self.error_type.as_deref(),
            Some("UnauthorizedException"),
            "{self:?}"
        );
        assert_eq!(
            self.auth_error.as_deref(),
            Some(format!("{kind:?}").as_str()),
            "{self:?}"
        );
    }
}

impl App {
    async fn start(verifier: Verifier) -> Self {
        let auth = CognitoAuthLayer::new(verifier);
        let scoped = auth.require(Requirement::any_scope([ADMIN_SCOPE])).unwrap();
        let app = Router::new()
            .route("/me", get(what_the_handler_sees))
            .route_layer(auth)
            .merge(
                Router::new()
                    .route("/admin", get(what_the_handler_sees))
                    .route_layer(scoped),
            )
            .layer(MapResponseLayer::new(support::expose_auth_error));
        Self {
            server: support::serve(app).await,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let answer = self.server.call(Method::GET, path, token, None).await;
        Answer {
            status: answer.status,
            auth_error: answer.auth_error(),
            error_type: answer.header("x-amzn-errortype"),
            body: answer.body,
        }
    }

    async fn me(&self, token: &str) -> Answer {
        self.get("/me", Some(token)).await
    }

    async fn admin(&self, token: &str) -> Answer {
        self.get("/admin", Some(token)).await
    }
}

#[track_caller]
fn assert_groups(seen: &Value) {
    let groups: BTreeSet<&str> = seen["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("groups: {seen}"))
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(groups, BTreeSet::from(GROUPS), "{seen}");
}

// ------------------------------------------------------------------ the checks, per emulator

/// An ID token from AdminInitiateAuth on a route without scopes: 200, and the
/// handler sees the user's sub, username, e-mail, `custom:role` and groups.
async fn id_token_on_identity_route(emulator: Emulator) {
    let fixture = Fixture::create(&emulator).await;
    let tokens = fixture.admin_sign_in().await;
    let app = App::start(fixture.verifier()).await;

    let seen = app.me(&tokens.id).await.assert_ok();
    assert_eq!(seen["token_use"], "id", "{seen}");
    assert_eq!(seen["sub"], fixture.sub.as_str(), "{seen}");
    assert_eq!(seen["username"], USERNAME, "{seen}");
    assert_eq!(seen["email"], EMAIL, "{seen}");
    assert_eq!(seen["role"], ROLE, "{seen}");
    assert_groups(&seen);
    assert_eq!(seen["client_id"], fixture.client_id.as_str(), "{seen}");
    assert_eq!(seen["pool_id"], fixture.pool_id.as_str(), "{seen}");
    assert_eq!(seen["issuer"], emulator.issuer(&fixture.pool_id), "{seen}");

    // The same route without a token: the handler never runs.
    app.get("/me", None)
        .await
        .assert_401(UNAUTHORIZED, AuthErrorKind::MissingToken);
}

/// An access token from InitiateAuth (USER_PASSWORD_AUTH) on a route that requires
/// `aws.cognito.signin.user.admin`: 200, with the scope, client and groups.
async fn access_token_on_scoped_route(emulator: Emulator) {
    let fixture = Fixture::create(&emulator).await;
    let tokens = fixture.sign_in(&fixture.client_id).await;
    let app = App::start(fixture.verifier()).await;

    let seen = app.admin(&tokens.access).await.assert_ok();
    assert_eq!(seen["token_use"], "access", "{seen}");
    assert_eq!(seen["scopes"], json!([ADMIN_SCOPE]), "{seen}");
    assert_eq!(seen["sub"], fixture.sub.as_str(), "{seen}");
    assert_eq!(seen["username"], USERNAME, "{seen}");
    assert_eq!(seen["client_id"], fixture.client_id.as_str(), "{seen}");
    assert_groups(&seen);
}

/// An access token on the ID-token route and an ID token on the scoped route:
/// both 401, for the token use alone (both tokens are valid elsewhere).
async fn wrong_token_use_both_ways(emulator: Emulator) {
    let fixture = Fixture::create(&emulator).await;
    let tokens = fixture.admin_sign_in().await;
    let app = App::start(fixture.verifier()).await;

    app.me(&tokens.access)
        .await
        .assert_401(UNAUTHORIZED, AuthErrorKind::WrongTokenUse);
    app.admin(&tokens.id)
        .await
        .assert_401(UNAUTHORIZED, AuthErrorKind::WrongTokenUse);

    // Each token on its own route passes: only the use was wrong.
    app.me(&tokens.id).await.assert_ok();
    app.admin(&tokens.access).await.assert_ok();
}

/// Tokens of a second pool of the same emulator. Both emulators sign every pool
/// with one key, so the signature verifies: only the issuer check stops them.
async fn token_of_another_pool(emulator: Emulator) {
    let ours = Fixture::create(&emulator).await;
    let theirs = Fixture::create(&emulator).await;
    assert_ne!(ours.pool_id, theirs.pool_id);
    let foreign = theirs.admin_sign_in().await;

    // The premise: same kid, same key set, so only `iss` tells the pools apart.
    let own = ours.admin_sign_in().await;
    assert_eq!(segment(&foreign.id, 0)["kid"], segment(&own.id, 0)["kid"]);
    assert_eq!(
        emulator
            .get_text(&format!("/{}/.well-known/jwks.json", ours.pool_id))
            .await,
        emulator
            .get_text(&format!("/{}/.well-known/jwks.json", theirs.pool_id))
            .await,
    );

    let app = App::start(ours.verifier()).await;
    app.me(&foreign.id)
        .await
        .assert_401(UNAUTHORIZED, AuthErrorKind::WrongIssuer);
    app.admin(&foreign.access)
        .await
        .assert_401(UNAUTHORIZED, AuthErrorKind::WrongIssuer);
    app.me(&own.id).await.assert_ok();

    // The verifier alone says the same.
    let error = ours.verifier().verify(&foreign.id).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::WrongIssuer, "{error}");

    // A verifier that trusts their pool accepts the very same tokens, and one that
    // trusts both tells the pools apart by issuer.
    theirs.verifier().verify(&foreign.id).await.unwrap();
    let both = Verifier::builder()
        .pool(ours.user_pool())
        .pool(theirs.user_pool())
        .build()
        .unwrap();
    let claims = both.verify(&foreign.access).await.unwrap();
    assert_eq!(claims.pool_id(), theirs.pool_id);
    let claims = both.verify(&own.access).await.unwrap();
    assert_eq!(claims.pool_id(), ours.pool_id);
}

/// A verifier that allows only the token's app client accepts both tokens; one
/// that allows only another real client of the same pool refuses both.
async fn app_client_check(emulator: Emulator) {
    let fixture = Fixture::create(&emulator).await;
    let other_client = fixture.create_client(None).await;
    assert_ne!(other_client, fixture.client_id);
    let tokens = fixture.admin_sign_in().await;

    let right = Verifier::builder()
        .pool(fixture.user_pool())
        .client_id(&fixture.client_id)
        .build()
        .unwrap();
    let app = App::start(right).await;
    app.me(&tokens.id).await.assert_ok();
    app.admin(&tokens.access).await.assert_ok();

    let wrong = Verifier::builder()
        .pool(fixture.user_pool())
        .client_id(&other_client)
        .build()
        .unwrap();
    let app = App::start(wrong).await;
    app.me(&tokens.id)
        .await
        .assert_401(UNAUTHORIZED, AuthErrorKind::WrongClient);
    app.admin(&tokens.access)
        .await
        .assert_401(UNAUTHORIZED, AuthErrorKind::WrongClient);

    // The other client is real: its own tokens pass there.
    let theirs = fixture.sign_in(&other_client).await;
    let seen = app.me(&theirs.id).await.assert_ok();
    assert_eq!(seen["client_id"], other_client.as_str(), "{seen}");
    app.admin(&theirs.access).await.assert_ok();
}

// ------------------------------------------------------------------ moto

#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn moto_id_token_on_identity_route() {
    id_token_on_identity_route(Emulator::moto()).await;
}

#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn moto_access_token_on_scoped_route() {
    access_token_on_scoped_route(Emulator::moto()).await;
}

#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn moto_wrong_token_use_both_ways() {
    wrong_token_use_both_ways(Emulator::moto()).await;
}

#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn moto_token_of_another_pool_is_a_wrong_issuer() {
    token_of_another_pool(Emulator::moto()).await;
}

#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn moto_app_client_check() {
    app_client_check(Emulator::moto()).await;
}

/// moto signs with the AWS issuer form while its keys are on loopback: the pool
/// id alone plus a JWKS URL works, exactly as the pool's OpenID configuration
/// (served by moto) says; an issuer in moto's own URL form does not match.
#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn moto_aws_form_issuer_with_loopback_jwks() {
    let emulator = Emulator::moto();
    let fixture = Fixture::create(&emulator).await;
    let tokens = fixture.admin_sign_in().await;
    let aws_issuer = format!(
        "https://cognito-idp.us-east-1.amazonaws.com/{}",
        fixture.pool_id
    );
    assert_eq!(segment(&tokens.id, 1)["iss"], aws_issuer.as_str());
    assert_eq!(segment(&tokens.access, 1)["iss"], aws_issuer.as_str());

    let discovery: Value = serde_json::from_str(
        &emulator
            .get_text(&format!(
                "/{}/.well-known/openid-configuration",
                fixture.pool_id
            ))
            .await,
    )
    .unwrap();
    assert_eq!(discovery["issuer"], aws_issuer.as_str(), "{discovery}");
    let jwks_uri = discovery["jwks_uri"].as_str().unwrap();
    assert_eq!(jwks_uri, emulator.jwks_url(&fixture.pool_id), "{discovery}");

    let verifier = Verifier::new(UserPool::new(&fixture.pool_id).jwks_url(jwks_uri)).unwrap();
    let claims = verifier.verify(&tokens.id).await.unwrap();
    assert_eq!(claims.issuer(), aws_issuer);
    assert_eq!(claims.pool_id(), fixture.pool_id);
    let app = App::start(verifier).await;
    app.me(&tokens.id).await.assert_ok();
    app.admin(&tokens.access).await.assert_ok();

    let local_form = Verifier::new(
        UserPool::new(&fixture.pool_id)
            .issuer(format!("{}/{}", emulator.endpoint, fixture.pool_id))
            .jwks_url(jwks_uri),
    )
    .unwrap();
    let error = local_form.verify(&tokens.id).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::WrongIssuer, "{error}");
}

// ------------------------------------------------------------------ cognito-local

#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn cognito_local_id_token_on_identity_route() {
    id_token_on_identity_route(Emulator::cognito_local()).await;
}

#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn cognito_local_access_token_on_scoped_route() {
    access_token_on_scoped_route(Emulator::cognito_local()).await;
}

#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn cognito_local_wrong_token_use_both_ways() {
    wrong_token_use_both_ways(Emulator::cognito_local()).await;
}

#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn cognito_local_token_of_another_pool_is_a_wrong_issuer() {
    token_of_another_pool(Emulator::cognito_local()).await;
}

#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn cognito_local_app_client_check() {
    app_client_check(Emulator::cognito_local()).await;
}

/// cognito-local's issuer is its own URL plus the pool id, with the keys under it.
/// The same server under another name (`localhost`, which its OpenID
/// configuration hard-codes) is another issuer.
#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn cognito_local_issuer() {
    let emulator = Emulator::cognito_local();
    let fixture = Fixture::create(&emulator).await;
    let tokens = fixture.admin_sign_in().await;
    let issuer = format!("{}/{}", emulator.endpoint, fixture.pool_id);
    assert_eq!(segment(&tokens.id, 1)["iss"], issuer.as_str());
    assert_eq!(segment(&tokens.access, 1)["iss"], issuer.as_str());

    let verifier = Verifier::new(
        UserPool::new(&fixture.pool_id)
            .issuer(&issuer)
            .jwks_url(format!("{issuer}/.well-known/jwks.json")),
    )
    .unwrap();
    let app = App::start(verifier).await;
    let seen = app.me(&tokens.id).await.assert_ok();
    assert_eq!(seen["issuer"], issuer.as_str(), "{seen}");
    app.admin(&tokens.access).await.assert_ok();

    let other_name = issuer.replacen("127.0.0.1", "localhost", 1);
    assert_ne!(other_name, issuer);
    let verifier = Verifier::new(
        UserPool::new(&fixture.pool_id)
            .issuer(&other_name)
            .jwks_url(format!("{other_name}/.well-known/jwks.json")),
    )
    .unwrap();
    let app = App::start(verifier).await;
    app.me(&tokens.id)
        .await
        .assert_401(UNAUTHORIZED, AuthErrorKind::WrongIssuer);
}

/// Tokens that live 5 s (an app client with TokenValidityUnits seconds): they
/// pass, again from the verified-token cache, then expire while the test waits and
/// get API Gateway's "expired" answer, cache or not. A fresh sign-in passes again.
#[tokio::test]
#[ignore = "needs the emulators: .ci/e2e.sh"]
async fn cognito_local_short_lived_token_expires_while_waiting() {
    const LIFETIME: u64 = 5;
    let emulator = Emulator::cognito_local();
    let fixture = Fixture::create(&emulator).await;
    let short = fixture.create_client(Some(LIFETIME as u32)).await;
    let verifier = fixture.verifier();
    let app = App::start(verifier.clone()).await;
    let tokens = fixture.sign_in(&short).await;

    let payload = segment(&tokens.id, 1);
    let exp = payload["exp"].as_u64().unwrap();
    assert_eq!(
        exp - payload["iat"].as_u64().unwrap(),
        LIFETIME,
        "{payload}"
    );
    let access_exp = segment(&tokens.access, 1)["exp"].as_u64().unwrap();
    assert_eq!(access_exp, exp);

    for _ in 0..2 {
        app.me(&tokens.id).await.assert_ok();
        app.admin(&tokens.access).await.assert_ok();
    }

    // Wait until `exp` has passed (the verifier has no leeway by default).
    let expires = UNIX_EPOCH + Duration::from_secs(exp);
    let wait = expires
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(100)).await;

    app.me(&tokens.id)
        .await
        .assert_401(EXPIRED, AuthErrorKind::Expired);
    app.admin(&tokens.access)
        .await
        .assert_401(EXPIRED, AuthErrorKind::Expired);
    let error = verifier.verify(&tokens.id).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::Expired, "{error}");

    let fresh = fixture.sign_in(&short).await;
    app.me(&fresh.id).await.assert_ok();
    app.admin(&fresh.access).await.assert_ok();
}
