//! Several user pools on one verifier: each pool's tokens verify with that pool's
//! own keys, the pool is chosen by `iss`, and a token of a pool that is not
//! configured is refused before any key set is fetched.

use axum::Router;
use axum::routing::get;
use serde_json::json;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{Claims, CognitoAuthLayer, TokenUse, Verifier};

mod support;
use support::{Server, serve};

/// Two pools with different keys, one verifier that trusts both, and an app that
/// answers with the pool id of the verified token.
async fn two_pools() -> (LocalUserPool, LocalUserPool, Server) {
    let a = LocalUserPool::start().await.unwrap();
    let b = LocalUserPool::start().await.unwrap();
    let verifier = Verifier::builder()
        .pool(a.user_pool())
        .pool(b.user_pool())
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/whoami",
            get(|c: Claims| async move { c.pool_id().to_owned() }),
        )
        .layer(CognitoAuthLayer::new(verifier));
    let server = serve(app).await;
    (a, b, server)
}

async fn call(server: &Server, token: &str) -> (u16, String) {
    server.bearer("/whoami", token).await.status_and_body()
}

#[tokio::test]
async fn each_pool_accepts_its_own_tokens_with_its_own_keys() {
    let (a, b, server) = two_pools().await;
    assert_ne!(
        a.signing_key(TokenUse::Id).public_key_der(),
        b.signing_key(TokenUse::Id).public_key_der(),
        "the two pools must have different keys"
    );

    assert_eq!(
        call(&server, &a.id_token().sign()).await,
        (200, a.pool_id().to_owned())
    );
    // Only pool A's key set was needed.
    assert_eq!((a.server().requests(), b.server().requests()), (1, 0));

    assert_eq!(
        call(&server, &b.id_token().sign()).await,
        (200, b.pool_id().to_owned())
    );
    assert_eq!((a.server().requests(), b.server().requests()), (1, 1));

    // Cognito's second issuer form picks the same pool.
    let moved = b
        .id_token()
        .issuer(format!(
            "https://issuer-cognito-idp.us-east-1.amazonaws.com/{}",
            b.pool_id()
        ))
        .sign();
    assert_eq!(call(&server, &moved).await, (200, b.pool_id().to_owned()));

    // Each pool's keys stay cached: more tokens, no more fetches.
    for _ in 0..3 {
        assert_eq!(call(&server, &a.id_token().sign()).await.0, 200);
        assert_eq!(call(&server, &b.id_token().sign()).await.0, 200);
    }
    assert_eq!((a.server().requests(), b.server().requests()), (1, 1));
}

#[tokio::test]
async fn a_token_signed_by_one_pool_claiming_the_other_is_refused() {
    let (a, b, server) = two_pools().await;
    // Both pools' keys are known to the verifier before the attack.
    assert_eq!(call(&server, &a.id_token().sign()).await.0, 200);
    assert_eq!(call(&server, &b.id_token().sign()).await.0, 200);

    // Pool A's key and kid, pool B's issuer: B's key set has no such kid.
    let forged = a.id_token().issuer(b.issuer()).sign();
    assert_eq!(
        call(&server, &forged).await,
        (401, r#"{"message":"Unauthorized"}"#.to_owned())
    );

    // Pool A's key under the kid of pool B's key: the signature does not verify.
    let b_kid = b.signing_key(TokenUse::Id).kid().to_owned();
    let forged = a
        .id_token()
        .issuer(b.issuer())
        .header(json!({ "kid": b_kid, "alg": "RS256" }))
        .signed_by(&a.signing_key(TokenUse::Id))
        .sign();
    assert_eq!(call(&server, &forged).await.0, 401);

    // And the other way round.
    let forged = b.access_token().issuer(a.issuer()).sign();
    assert_eq!(call(&server, &forged).await.0, 401);
}

#[tokio::test]
async fn a_token_of_an_unlisted_pool_never_causes_a_fetch() {
    let (a, b, server) = two_pools().await;
    let unlisted = LocalUserPool::start().await.unwrap();
    // Warm the configured pools so that their counts are settled.
    assert_eq!(call(&server, &a.id_token().sign()).await.0, 200);
    assert_eq!(call(&server, &b.id_token().sign()).await.0, 200);
    let before = (a.server().requests(), b.server().requests());

    let tokens = [
        unlisted.id_token().sign(),
        unlisted.access_token().sign(),
        // Its own issuer, but signed with pool A's key and kid.
        unlisted
            .id_token()
            .signed_by(&a.signing_key(TokenUse::Id))
            .sign(),
        // Near misses of a configured issuer are other issuers.
        a.id_token().issuer(format!("{}/", a.issuer())).sign(),
        a.id_token().issuer(a.issuer().to_uppercase()).sign(),
        a.id_token()
            .issuer(format!(
                "http://cognito-idp.us-east-1.amazonaws.com/{}",
                a.pool_id()
            ))
            .sign(),
    ];
    for token in &tokens {
        for _ in 0..3 {
            assert_eq!(
                call(&server, token).await,
                (401, r#"{"message":"Unauthorized"}"#.to_owned())
            );
        }
    }
    assert_eq!(
        unlisted.server().requests(),
        0,
        "the unlisted pool's JWKS was fetched"
    );
    assert_eq!(
        (a.server().requests(), b.server().requests()),
        before,
        "a configured pool's JWKS was fetched for a token of another issuer"
    );
}

/// A pool given by region and id is checked exactly as the full id is, and an
/// explicit issuer that could not be a token's `iss` (or whose derived JWKS URL
/// would not be the pool's) is refused when the verifier is built.
#[test]
fn pool_configuration_is_checked_the_same_way_whichever_constructor() {
    use tower_cognito::UserPool;
    for (region, short) in [
        ("us-east-1", "AbCdEfGhI"),
        ("us-east-1", "Ab-Cd"),
        ("us-east-1", "Ab_Cd"),
        ("us-east-1", "us-east-1_"),
        ("us-east-1", "us-east-1_Ab-Cd"),
    ] {
        let by_region = Verifier::new(UserPool::in_region(region, short)).map(|_| ());
        let full = if short.contains('_') && short.starts_with(region) {
            short.to_owned()
        } else {
            format!("{region}_{short}")
        };
        let by_id = Verifier::new(UserPool::new(full.clone())).map(|_| ());
        assert_eq!(
            by_region.is_ok(),
            by_id.is_ok(),
            "{region} {short} / {full}"
        );
    }
    for issuer in [
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/",
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC?v=1",
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC#k",
    ] {
        let err = Verifier::new(UserPool::new("us-east-1_AbC").issuer(issuer)).unwrap_err();
        assert!(err.message().contains("issuer"), "{issuer}: {err}");
    }
}
