//! What verifying a Cognito token costs, against the floor (one bare aws-lc-rs
//! RS256 check) and against jsonwebtoken's own `decode`. See `BENCHMARKS.md`.
//!
//! ```text
//! CARGO_TARGET_DIR=target/bench cargo bench --bench verify
//! ```
//!
//! One run does three things:
//! 1. criterion benchmarks, one per case below (`floor/*`, `jsonwebtoken/*`,
//!    `verify/*`, `layer/*`);
//! 2. a ratio pass: the same cases measured again in interleaved rounds (so that
//!    load from other processes falls on all of them alike), printed as the
//!    ratios the performance targets are stated in;
//! 3. a memory pass: 100,000 distinct tokens verified through verifiers with
//!    token caches of 0, 10,000 and 100,000 entries (and, to size the claims
//!    alone, with the cache off and every `Claims` kept), each in a fresh child
//!    process, printing the resident-size growth read from `/proc/self/status`
//!    from before the verifier is built (its token table included) to after.
//!
//! Environment: `VERIFY_BENCH_TOKENS` (distinct tokens cycled by the
//! new-token cases, default 2,048), `VERIFY_BENCH_MEMORY_TOKENS` (default
//! 100,000; `0` skips the memory pass), `VERIFY_BENCH_RATIO_ROUNDS` (default 200;
//! `0` skips the ratio pass). Under `cargo test` (no `--bench` argument) each
//! case runs once and the two extra passes are skipped.

use aws_lc_rs::signature::{
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::Criterion;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use std::convert::Infallible;
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tower::{Layer as _, ServiceExt as _, service_fn};
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{CognitoAuthLayer, Requirement, TokenUse, UserPool, Verifier};

#[path = "support/minimal.rs"]
mod minimal;

/// The scope the benchmarked route requires (and every benchmark token holds).
const SCOPE: &str = "bench/read";
/// Capacity of the verifier whose distinct tokens must miss: at most
/// `SMALL_CACHE / tokens` of lookups can hit.
const SMALL_CACHE: u64 = 16;
/// A cache hit takes about a microsecond; a miss cannot take less than one RSA
/// check (14 to 20). Anything under this is counted as a hit by the memory pass.
const HIT_THRESHOLD: Duration = Duration::from_micros(10);
/// Set in the child processes of the memory pass.
const MEMORY_CHILD: &str = "VERIFY_BENCH_MEMORY_CHILD";

/// A measured routine: runs `iters` iterations and returns the time they took.
type Routine<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

struct Case<'a> {
    id: &'static str,
    routine: Routine<'a>,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `count` distinct access tokens of `pool`, signed on every core.
fn mint(pool: &LocalUserPool, count: usize) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let share = count / threads + usize::from(i < count % threads);
                scope.spawn(move || {
                    (0..share)
                        .map(|_| {
                            pool.access_token()
                                .scopes(["aws.cognito.signin.user.admin", SCOPE])
                                .sign()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("minting thread"))
            .collect()
    })
}

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// `header.payload` and the decoded signature of a compact JWS.
fn split(token: &str) -> (&[u8], Vec<u8>) {
    let (input, signature) = token.rsplit_once('.').expect("three segments");
    (input.as_bytes(), b64(signature))
}

async fn trivial(_: Request<()>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::new()))
}

async fn hello() -> &'static str {
    "ok"
}

fn axum_request(authorization: &HeaderValue) -> Request<axum::body::Body> {
    Request::builder()
        .uri("/notes")
        .header(AUTHORIZATION, authorization.clone())
        .body(axum::body::Body::empty())
        .expect("request")
}

fn request(authorization: &HeaderValue) -> Request<()> {
    Request::builder()
        .uri("/notes")
        .header(AUTHORIZATION, authorization.clone())
        .body(())
        .expect("request")
}

/// Times `iters` calls of an async step on the runtime, in one `block_on`. The
/// step gets a counter that runs on across calls, so cases that cycle through
/// distinct tokens really cycle through all of them.
fn on<'a, F, Fut>(rt: &'a Runtime, mut step: F) -> Routine<'a>
where
    F: FnMut(u64) -> Fut + 'a,
    Fut: Future<Output = ()>,
{
    let mut next = 0u64;
    Box::new(move |iters| {
        rt.block_on(async {
            let start = Instant::now();
            for i in next..next + iters {
                step(i).await;
            }
            next += iters;
            start.elapsed()
        })
    })
}

/// Times `iters` calls of a plain step (counter as for [`on`]).
fn sync<'a>(mut step: impl FnMut(u64) + 'a) -> Routine<'a> {
    let mut next = 0u64;
    Box::new(move |iters| {
        let start = Instant::now();
        for i in next..next + iters {
            step(i);
        }
        next += iters;
        start.elapsed()
    })
}

struct Fixture {
    pool: LocalUserPool,
    /// One token, verified again and again.
    token: String,
    /// Distinct tokens, cycled so that each check is a new one.
    tokens: Vec<String>,
}

fn fixture(rt: &Runtime) -> Fixture {
    let pool = rt
        .block_on(LocalUserPool::start())
        .expect("local user pool");
    let count = env_usize("VERIFY_BENCH_TOKENS", 2048).max(1);
    let started = Instant::now();
    let tokens = mint(&pool, count);
    eprintln!(
        "minted {count} distinct access tokens in {:.1?} ({} bytes each)",
        started.elapsed(),
        tokens[0].len()
    );
    Fixture {
        token: tokens[0].clone(),
        tokens,
        pool,
    }
}

fn verifier(rt: &Runtime, pool: &LocalUserPool, cache: u64) -> Verifier {
    let verifier = pool
        .verifier_builder()
        .token_cache_capacity(cache)
        .build()
        .expect("verifier");
    rt.block_on(verifier.prefetch()).expect("prefetch");
    verifier
}

fn cases<'a>(rt: &'a Runtime, fx: &'a Fixture) -> Vec<Case<'a>> {
    let (input, signature) = split(&fx.token);
    let signed: Vec<(&[u8], Vec<u8>)> = fx.tokens.iter().map(|t| split(t)).collect();
    let n_tokens = fx.tokens.len() as u64;
    let key = fx.pool.signing_key(TokenUse::Access);
    let jwk = key.jwk();
    let (n64, e64) = (jwk["n"].as_str().expect("n"), jwk["e"].as_str().expect("e"));
    let (n, e) = (b64(n64), b64(e64));
    let der = key.public_key_der();
    let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der).expect("parsed key");

    // jsonwebtoken has both backends when the crate's `rust-crypto` feature is on
    // too: choose aws-lc-rs, as a default build would have it.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let jwt_key = jsonwebtoken::DecodingKey::from_rsa_components(n64, e64).expect("decoding key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[fx.pool.issuer()]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.validate_aud = false; // access tokens have no `aud`
    validation.leeway = 0;

    let uncached = verifier(rt, &fx.pool, 0);
    let small = verifier(rt, &fx.pool, SMALL_CACHE);
    let cached = verifier(rt, &fx.pool, tower_cognito::DEFAULT_TOKEN_CACHE_CAPACITY);
    // The revocation hook's cost on a repeated token: an in-memory list holding
    // 10,000 revocations of other tokens and users.
    let revoked = std::sync::Arc::new(tower_cognito::RevocationList::new());
    for i in 0..10_000 {
        revoked.revoke_jti(format!("other-jti-{i}"), u64::MAX);
        revoked.revoke_sub(format!("other-sub-{i}"), std::time::SystemTime::now());
    }
    let with_revocation = fx
        .pool
        .verifier_builder()
        .revocation(revoked)
        .build()
        .expect("verifier");
    rt.block_on(with_revocation.verify(&fx.token))
        .expect("valid");
    let requirement = || Requirement::any_scope([SCOPE]);
    let layer = |v: &Verifier| {
        CognitoAuthLayer::new(v.clone())
            .require(requirement())
            .expect("requirement")
    };
    let auth_cached = layer(&cached).layer(service_fn(trivial));
    let auth_uncached = layer(&uncached).layer(service_fn(trivial));
    // The same handler in an axum router, as scripts/load.sh serves it: bare,
    // behind a tower layer that does nothing, behind one that only puts a value
    // in the request's extensions (as the crate's layer puts the claims there),
    // behind the minimal fail-closed layer, and behind the crate's layer.
    let handed = std::sync::Arc::new(SCOPE.to_owned());
    let [
        bare_router,
        layered_router,
        wrapped_router,
        extension_router,
        minimal_router,
        auth_router,
    ] = [
        axum::Router::new().route("/notes", axum::routing::get(hello)),
        axum::Router::new()
            .route("/notes", axum::routing::get(hello))
            .route_layer(tower::util::MapRequestLayer::new(
                |request: axum::extract::Request| request,
            )),
        // A pass-through layer whose response body is its own type, as the
        // crate's `ResponseBody` is: axum boxes it into its `Body`.
        axum::Router::new()
            .route("/notes", axum::routing::get(hello))
            .route_layer(tower::util::MapResponseLayer::new(
                |response: Response<axum::body::Body>| {
                    response.map(|body| http_body_util::BodyExt::map_err(body, |e| e))
                },
            )),
        axum::Router::new()
            .route("/notes", axum::routing::get(hello))
            .route_layer(tower::util::MapRequestLayer::new(
                move |mut request: axum::extract::Request| {
                    request
                        .extensions_mut()
                        .insert(std::sync::Arc::clone(&handed));
                    request
                },
            )),
        axum::Router::new()
            .route("/notes", axum::routing::get(hello))
            .route_layer(
                minimal::MinimalLayer::new(&fx.token, std::sync::Arc::new(SCOPE.to_owned()))
                    .expect("a token with exp"),
            ),
        axum::Router::new()
            .route("/notes", axum::routing::get(hello))
            .route_layer(layer(&cached)),
    ];
    let bearer = HeaderValue::from_str(&format!("Bearer {}", fx.token)).expect("header");
    let bearers: Vec<HeaderValue> = fx
        .tokens
        .iter()
        .map(|t| HeaderValue::from_str(&format!("Bearer {t}")).expect("header"))
        .collect();
    // Every path must accept before it is timed, and `cached` holds every token.
    rt.block_on(async {
        for token in &fx.tokens {
            cached.verify(token).await.expect("valid");
        }
        assert!(cached.verify(&fx.token).await.is_ok());
        assert!(uncached.verify(&fx.token).await.is_ok());
        let response = auth_cached
            .clone()
            .oneshot(request(&bearer))
            .await
            .expect("infallible");
        assert_eq!(response.status(), 200);
    });
    assert!(jsonwebtoken::decode::<serde_json::Value>(&fx.token, &jwt_key, &validation).is_ok());

    let pick = move |i: u64| (i % n_tokens) as usize;
    vec![
        Case {
            id: "floor/rsa_components",
            routine: sync({
                let (n, e, signature) = (n.clone(), e.clone(), signature.clone());
                move |_| {
                    let key = RsaPublicKeyComponents { n: &n, e: &e };
                    black_box(key.verify(
                        &RSA_PKCS1_2048_8192_SHA256,
                        black_box(input),
                        &signature,
                    ))
                    .expect("valid");
                }
            }),
        },
        Case {
            id: "floor/der_unparsed",
            routine: sync({
                let signature = signature.clone();
                move |_| {
                    let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der);
                    black_box(key.verify(black_box(input), &signature)).expect("valid");
                }
            }),
        },
        Case {
            id: "floor/parsed_key",
            routine: sync(move |_| {
                black_box(parsed.verify_sig(black_box(input), &signature)).expect("valid");
            }),
        },
        Case {
            id: "floor/rsa_components_distinct",
            routine: sync(move |i| {
                let (input, signature) = &signed[pick(i)];
                let key = RsaPublicKeyComponents { n: &n, e: &e };
                black_box(key.verify(&RSA_PKCS1_2048_8192_SHA256, input, signature))
                    .expect("valid");
            }),
        },
        Case {
            id: "jsonwebtoken/decode",
            routine: sync(move |i| {
                let token = &fx.tokens[pick(i)];
                black_box(jsonwebtoken::decode::<serde_json::Value>(
                    token,
                    &jwt_key,
                    &validation,
                ))
                .expect("valid");
            }),
        },
        Case {
            id: "verify/new_token",
            routine: on(rt, move |i| {
                let v = uncached.clone();
                async move {
                    black_box(v.verify(&fx.tokens[pick(i)]).await).expect("valid");
                }
            }),
        },
        Case {
            id: "verify/new_token_cache_on",
            routine: on(rt, move |i| {
                let v = small.clone();
                async move {
                    black_box(v.verify(&fx.tokens[pick(i)]).await).expect("valid");
                }
            }),
        },
        Case {
            id: "verify/repeated_token",
            routine: on(rt, {
                let v = cached.clone();
                move |_| {
                    let v = v.clone();
                    async move {
                        black_box(v.verify(&fx.token).await).expect("valid");
                    }
                }
            }),
        },
        Case {
            id: "verify/repeated_token_revocation_list",
            routine: on(rt, {
                let v = with_revocation.clone();
                move |_| {
                    let v = v.clone();
                    async move {
                        black_box(v.verify(&fx.token).await).expect("valid");
                    }
                }
            }),
        },
        Case {
            id: "verify/repeated_many_tokens",
            routine: on(rt, {
                let v = cached.clone();
                move |i| {
                    let v = v.clone();
                    async move {
                        black_box(v.verify(&fx.tokens[pick(i)]).await).expect("valid");
                    }
                }
            }),
        },
        Case {
            id: "layer/bare",
            routine: on(rt, {
                let bearer = bearer.clone();
                move |_| {
                    let request = request(&bearer);
                    async move {
                        let response = service_fn(trivial)
                            .oneshot(request)
                            .await
                            .expect("infallible");
                        assert_eq!(black_box(response).status(), 200);
                    }
                }
            }),
        },
        Case {
            id: "layer/repeated_token",
            routine: on(rt, {
                let bearer = bearer.clone();
                move |_| {
                    let (service, request) = (auth_cached.clone(), request(&bearer));
                    async move {
                        let response = service.oneshot(request).await.expect("infallible");
                        assert_eq!(black_box(response).status(), 200);
                    }
                }
            }),
        },
        router_case("router/bare", rt, bare_router, bearer.clone()),
        router_case("router/layered", rt, layered_router, bearer.clone()),
        router_case("router/wrapped_body", rt, wrapped_router, bearer.clone()),
        router_case("router/extension", rt, extension_router, bearer.clone()),
        router_case("router/minimal", rt, minimal_router, bearer.clone()),
        router_case("router/repeated_token", rt, auth_router, bearer),
        Case {
            id: "layer/new_token",
            routine: on(rt, move |i| {
                let (service, request) = (auth_uncached.clone(), request(&bearers[pick(i)]));
                async move {
                    let response = service.oneshot(request).await.expect("infallible");
                    assert_eq!(black_box(response).status(), 200);
                }
            }),
        },
    ]
}

/// One request through `router`, answered 200, as axum serves it.
fn router_case<'a>(
    id: &'static str,
    rt: &'a Runtime,
    router: axum::Router,
    authorization: HeaderValue,
) -> Case<'a> {
    Case {
        id,
        routine: on(rt, move |_| {
            let (router, request) = (router.clone(), axum_request(&authorization));
            async move {
                let response = router.oneshot(request).await.expect("infallible");
                assert_eq!(black_box(response).status(), 200);
            }
        }),
    }
}

/// Measures every case in `rounds` interleaved rounds of short slices (about 2 ms
/// each) and returns, per case, the given percentiles of its time per iteration,
/// in nanoseconds. On a shared machine most slices are slowed by other processes
/// at some point; the low percentiles are the slices that ran undisturbed.
fn ratio_pass(cases: &mut [Case<'_>], rounds: usize, percentiles: &[f64]) -> Vec<Vec<f64>> {
    const SLICE: Duration = Duration::from_millis(2);
    let batches: Vec<u64> = cases
        .iter_mut()
        .map(|case| {
            (case.routine)(10);
            let per = (case.routine)(100).as_secs_f64() / 100.0;
            ((SLICE.as_secs_f64() / per) as u64).max(1)
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(rounds); cases.len()];
    for _ in 0..rounds {
        for ((case, &batch), samples) in cases.iter_mut().zip(&batches).zip(&mut samples) {
            samples.push((case.routine)(batch).as_nanos() as f64 / batch as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            percentiles
                .iter()
                .map(|p| s[((s.len() - 1) as f64 * p).round() as usize])
                .collect()
        })
        .collect()
}

fn print_ratios(cases: &[Case<'_>], times: &[Vec<f64>], rounds: usize) {
    // Targets are judged on the 10th percentile (index 0); the median is shown
    // beside it to tell how disturbed the run was.
    let of = |id: &str| times[cases.iter().position(|c| c.id == id).expect("case")][0];
    println!("\n== ratio pass: {rounds} interleaved rounds of ~2 ms slices, ns per iteration ==");
    println!("{:<34} {:>10} {:>10}", "case", "p10", "median");
    for (case, t) in cases.iter().zip(times) {
        println!("{:<34} {:>10.0} {:>10.0}", case.id, t[0], t[1]);
    }
    let floor = of("floor/rsa_components_distinct");
    let new = of("verify/new_token");
    let jwt = of("jsonwebtoken/decode");
    let repeated = of("verify/repeated_token");
    let bare = of("layer/bare");
    let layered = of("layer/repeated_token");
    println!("\n== targets (p10 against p10) ==");
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    // The floor that matters: one RS256 check with the key parsed once, as the
    // crate holds its keys.
    let parsed_floor = of("floor/parsed_key");
    let cache_on = of("verify/new_token_cache_on");
    println!(
        "new token, cache on (default) / parsed-key floor {:>6.3}  (target <= 1.15: {})",
        cache_on / parsed_floor,
        verdict(cache_on <= 1.15 * parsed_floor)
    );
    println!(
        "new token, cache off / parsed-key floor          {:>6.3}  (target <= 1.10: {})",
        new / parsed_floor,
        verdict(new <= 1.10 * parsed_floor)
    );
    println!(
        "new token / jsonwebtoken decode                  {:>6.3}  (target <= 1.00: {})",
        new / jwt,
        verdict(new <= jwt)
    );
    println!(
        "new token / repeated token                       {:>6.1}  (target >= 10: {})",
        new / repeated,
        verdict(new >= 10.0 * repeated)
    );
    println!(
        "cache on, over the cache-off new token: +{:.0} ns; cache off, over the floor: +{:.0} ns",
        cache_on - new,
        new - parsed_floor
    );
    println!(
        "new token / RS256 floor, key from components     {:>6.3}",
        new / floor
    );
    println!("jsonwebtoken decode / floor           {:>6.3}", jwt / floor);
    println!(
        "floor, key parsed once / floor        {:>6.3}",
        of("floor/parsed_key") / of("floor/rsa_components")
    );
    println!(
        "layer, repeated token: +{:.0} ns over the bare service ({:.0} ns -> {:.0} ns)",
        layered - bare,
        bare,
        layered
    );
    println!(
        "axum router, repeated token: +{:.0} ns over a pass-through layer ({:.0} ns bare, {:.0} ns pass-through, {:.0} ns)",
        of("router/repeated_token") - of("router/layered"),
        of("router/bare"),
        of("router/layered"),
        of("router/repeated_token")
    );
    println!(
        "axum router, one value put in the extensions: +{:.0} ns over a pass-through layer; the crate's layer, +{:.0} ns over that",
        of("router/extension") - of("router/layered"),
        of("router/repeated_token") - of("router/extension")
    );
    println!(
        "axum router, a response body of the layer's own type: +{:.0} ns over a pass-through layer",
        of("router/wrapped_body") - of("router/layered")
    );
    println!(
        "axum router, the minimal fail-closed layer: +{:.0} ns over the one-value layer; the crate's layer, +{:.0} ns over the minimal one",
        of("router/minimal") - of("router/extension"),
        of("router/repeated_token") - of("router/minimal")
    );
    println!(
        "layer, new token: +{:.0} ns over verify/new_token",
        of("layer/new_token") - bare - new
    );
}

// ---------------------------------------------------------------------------
// Memory pass

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What one child of the memory pass measures.
struct MemoryRun {
    /// Token cache capacity (0: off).
    capacity: u64,
    /// Keep every returned `Claims` (with the cache off: what the claims alone take).
    hold: bool,
}

/// In a child: builds a verifier and verifies every token of the file once,
/// prints what resident memory grew by, then how many of the tokens a second
/// pass finds cached.
fn memory_child(run: &MemoryRun, tokens_file: &Path, pool: UserPool, client_id: &str) {
    let text = std::fs::read_to_string(tokens_file).expect("tokens file");
    let tokens: Vec<&str> = text.lines().collect();
    let rt = runtime();
    let mut held = Vec::with_capacity(if run.hold { tokens.len() } else { 0 });
    // Before the verifier is built: its token table is allocated whole when it
    // is, so the growth counts the table as well as what filling it costs.
    let before = rss_kib();
    let verifier = Verifier::builder()
        .pool(pool)
        .client_id(client_id)
        .token_cache_capacity(run.capacity)
        .build()
        .expect("verifier");
    rt.block_on(async {
        verifier.prefetch().await.expect("prefetch");
        let started = Instant::now();
        for token in &tokens {
            let claims = verifier.verify(token).await.expect("valid");
            if run.hold {
                held.push(claims);
            }
        }
        let filled = started.elapsed();
        let after = rss_kib();
        drop(held);
        // Second pass, in the same order: a token still cached answers in about
        // a microsecond. A miss inserts and may evict a token not yet visited,
        // so this counts at most the entries present when the pass started.
        let mut hits = 0usize;
        for token in &tokens {
            let t = Instant::now();
            verifier.verify(token).await.expect("valid");
            if t.elapsed() < HIT_THRESHOLD {
                hits += 1;
            }
        }
        let delta = after.saturating_sub(before);
        let fill = filled.as_secs_f64();
        println!("MEMORY delta_kib={delta} hits_after={hits} fill_secs={fill:.3}");
    });
}

fn memory_pass(count: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The pool's JWKS endpoint runs on this runtime's worker while the children
    // fetch from it.
    let pool = rt
        .block_on(LocalUserPool::start())
        .expect("local user pool");
    let started = Instant::now();
    let tokens = mint(&pool, count);
    eprintln!(
        "memory pass: minted {count} tokens in {:.1?}",
        started.elapsed()
    );
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verify-bench-tokens.txt");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("tokens file"));
        for token in &tokens {
            writeln!(out, "{token}").expect("write tokens");
        }
    }
    let bytes: usize = tokens.iter().map(String::len).sum();
    drop(tokens);
    println!(
        "\n== memory pass: {count} distinct access tokens of {} bytes on average, each child fresh ==",
        bytes / count
    );
    println!(
        "{:<26} {:>10} {:>12} {:>14} {:>10}",
        "token cache", "RSS +MiB", "bytes/token", "cached after", "fill"
    );
    let runs = [
        ("off", 0, false),
        ("off, every Claims kept", 0, true),
        (
            "10,000 entries (default)",
            tower_cognito::DEFAULT_TOKEN_CACHE_CAPACITY,
            false,
        ),
        ("100,000 entries", 100_000, false),
    ];
    for (label, capacity, hold) in runs {
        let output = Command::new(std::env::current_exe().expect("current exe"))
            .env(MEMORY_CHILD, capacity.to_string())
            .env("VERIFY_BENCH_HOLD", if hold { "1" } else { "0" })
            .env("VERIFY_BENCH_TOKENS_FILE", &file)
            .env("VERIFY_BENCH_POOL", pool.pool_id())
            .env("VERIFY_BENCH_JWKS", pool.jwks_url())
            .env("VERIFY_BENCH_CLIENT", pool.client_id())
            .output()
            .expect("memory child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let Some(line) = stdout.lines().find(|l| l.starts_with("MEMORY ")) else {
            eprintln!(
                "memory child failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            continue;
        };
        let field = |name: &str| -> f64 {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        let delta = field("delta_kib");
        println!(
            "{:<26} {:>10.1} {:>12.0} {:>14} {:>9.2}s",
            label,
            delta / 1024.0,
            delta * 1024.0 / count as f64,
            field("hits_after"),
            field("fill_secs")
        );
    }
    let _ = std::fs::remove_file(&file);
}

fn main() {
    if let Ok(capacity) = std::env::var(MEMORY_CHILD) {
        let var = |name: &str| std::env::var(name).expect(name);
        let run = MemoryRun {
            capacity: capacity.parse().expect("capacity"),
            hold: var("VERIFY_BENCH_HOLD") == "1",
        };
        let pool = UserPool::new(var("VERIFY_BENCH_POOL")).jwks_url(var("VERIFY_BENCH_JWKS"));
        memory_child(
            &run,
            Path::new(&var("VERIFY_BENCH_TOKENS_FILE")),
            pool,
            &var("VERIFY_BENCH_CLIENT"),
        );
        return;
    }
    // Criterion's other modes run the cases only: `cargo test` (no `--bench`,
    // each case once), `--test`, `--list` and `--profile-time`.
    let args: Vec<String> = std::env::args().collect();
    let only_criterion = !args.iter().any(|a| a == "--bench")
        || args
            .iter()
            .any(|a| matches!(a.as_str(), "--test" | "--list" | "--profile-time"));
    let rt = runtime();
    let fx = fixture(&rt);
    let mut cases = cases(&rt, &fx);

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    for case in &mut cases {
        let routine = &mut case.routine;
        criterion.bench_function(case.id, |b| b.iter_custom(&mut *routine));
    }
    criterion.final_summary();
    if only_criterion {
        return;
    }

    let rounds = env_usize("VERIFY_BENCH_RATIO_ROUNDS", 200);
    if rounds > 0 {
        let times = ratio_pass(&mut cases, rounds, &[0.1, 0.5]);
        print_ratios(&cases, &times, rounds);
    }
    drop(cases);
    let count = env_usize("VERIFY_BENCH_MEMORY_TOKENS", 100_000);
    if count > 0 {
        memory_pass(count);
    }
}
