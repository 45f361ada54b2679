//! The soak test (`scripts/soak.sh`): steady load on a server behind
//! [`CognitoAuthLayer`] while the user pool rotates its keys and its JWKS endpoint
//! fails, stalls and answers garbage in turns. Every answer is checked against what
//! it should be. Everything runs on 127.0.0.1, and every loop ends by itself (time
//! and request count are bounded).
//!
//! ```text
//! cargo run --release --example soak -- [--seconds 600] [--rotate 30] [--refresh 10]
//!     [--cooldown 2] [--backoff 5] [--fetch-timeout 2] [--phase 15] [--short-life 15]
//!     [--rate 400] [--workers 8] [--max-requests 5000000]
//! ```
//!
//! The server: an axum route `/auth` behind the layer (an ID or access token of a
//! [`LocalUserPool`]), answering the caller's `sub`, with a verifier that refreshes
//! every `--refresh` s, fetches for unknown `kid`s at most once per `--cooldown` s,
//! backs off up to `--backoff` s, gives up a fetch after `--fetch-timeout` s, and
//! keeps the last good key set for an hour of outage.
//!
//! The driver, in the same process, with its own runtime and a real HTTP client:
//!
//! - every `--rotate` s the pool rotates its keys (new ID and access keys are
//!   published beside the old ones and sign new tokens) and retires the keys of two
//!   rotations ago;
//! - the JWKS endpoint takes turns: it serves for twice `--phase` s, then fails
//!   (500) for `--phase` s, serves, stalls (answers after three fetch timeouts),
//!   serves, answers garbage (HTML, an empty key set, a huge body), and again;
//! - workers send `--rate` requests a second in all, each with a token of one
//!   class, and check the answer:
//!   - *valid* (a published key; 1 h): 200 with the token's `sub`. Once a key is
//!     known to the verifier (a 200 was seen for it) any other answer is wrong,
//!     outage or not. Before that, a refusal is allowed only within cooldown +
//!     back-off + fetch timeout (+1 s) of the key's publication or of the end of
//!     the last outage, or during an outage;
//!   - *retired* (a key no longer published): 200 is allowed only within the
//!     documented window, one refresh interval plus the cooldown (here also the
//!     back-off and a fetch timeout, +1 s), of serving JWKS after the key's
//!     retirement; after it, 401;
//!   - *expired* (exp an hour ago): never 200; 401 when its key is known;
//!   - *short-lived* (minted every second with exp `--short-life` s later, repeated
//!     so the token cache answers it): 200 until a second before exp, 401 from a
//!     second after exp;
//!   - *forged* (signed by a key never published): never 200.
//!
//! A 5xx for a token whose key the verifier knows is a token that needed no fetch
//! answered 5xx: counted, and wrong. The report gives requests, wrong answers,
//! 5xx with and without a fetch needed, latency percentiles, JWKS fetches (in all,
//! a minute on average, and in the busiest 60 s) and the process's resident memory
//! (server and driver together) at the start, the end and the peak. The exit status
//! is 1 on any wrong answer, any 5xx without a fetch needed, more fetches in a
//! minute than the refresh interval and the cooldown allow (60/cooldown +
//! 60/refresh, +2 for the window's edges), memory grown by more than the token
//! cache's capacity at 8 KiB an entry plus 64 MiB, or a run that did not
//! exercise what it is for (a rotation, a retired key refused, each kind of JWKS
//! outage with known-key traffic through it, a short-lived token expiring).

use axum::Router;
use axum::routing::get;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tower_cognito::test_util::{JwksBehavior, LocalUserPool, SigningKey};
use tower_cognito::{Claims, CognitoAuthLayer, Requirement, TokenUse, TokenUseRule};

struct Args {
    seconds: f64,
    rotate: f64,
    refresh: f64,
    cooldown: f64,
    backoff: f64,
    fetch_timeout: f64,
    phase: f64,
    short_life: u64,
    rate: f64,
    workers: usize,
    max_requests: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        seconds: 600.0,
        rotate: 30.0,
        refresh: 10.0,
        cooldown: 2.0,
        backoff: 5.0,
        fetch_timeout: 2.0,
        phase: 15.0,
        short_life: 15,
        rate: 400.0,
        workers: 8,
        max_requests: 5_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| format!("bad value for {flag}: {value}"))
        };
        match flag.as_str() {
            "--seconds" => a.seconds = num()?,
            "--rotate" => a.rotate = num()?,
            "--refresh" => a.refresh = num()?,
            "--cooldown" => a.cooldown = num()?,
            "--backoff" => a.backoff = num()?,
            "--fetch-timeout" => a.fetch_timeout = num()?,
            "--phase" => a.phase = num()?,
            "--short-life" => a.short_life = num()? as u64,
            "--rate" => a.rate = num()?,
            "--workers" => a.workers = num()? as usize,
            "--max-requests" => a.max_requests = num()? as u64,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.short_life < 3 {
        return Err("--short-life must be at least 3".into());
    }
    Ok(a)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One token the driver sends, with what a 200 must say.
#[derive(Clone)]
struct Tok {
    token: String,
    sub: String,
    /// `exp`, in seconds since the epoch.
    exp: f64,
}

/// A key the pool published, with its tokens.
struct KeyInfo {
    kid: String,
    published: Instant,
    retired: Mutex<Option<Instant>>,
    /// A 200 was seen for a token it signed: the verifier has it.
    known: AtomicBool,
    valid: Vec<Tok>,
    expired: Vec<Tok>,
}

impl KeyInfo {
    fn retired(&self) -> Option<Instant> {
        *self.retired.lock().unwrap()
    }
}

/// When the JWKS endpoint served the key set.
#[derive(Default)]
struct Timeline {
    /// Serving intervals, the last open while serving.
    serving: Vec<(Instant, Option<Instant>)>,
}

impl Timeline {
    /// The start of the serving interval that holds `at`, if it is one.
    fn serving_since(&self, at: Instant) -> Option<Instant> {
        self.serving
            .iter()
            .find(|(start, end)| *start <= at && end.is_none_or(|end| at < end))
            .map(|(start, _)| *start)
    }

    /// Whether the endpoint served for `window` without a break, within `from..to`.
    fn served_for(&self, from: Instant, to: Instant, window: Duration) -> bool {
        self.serving.iter().any(|(start, end)| {
            let start = (*start).max(from);
            let end = end.unwrap_or(to).min(to);
            end > start && end - start >= window
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Valid,
    Retired,
    Expired,
    ShortLived,
    Forged,
}

const CLASSES: [Class; 5] = [
    Class::Valid,
    Class::Retired,
    Class::Expired,
    Class::ShortLived,
    Class::Forged,
];

struct State {
    keys: Vec<Arc<KeyInfo>>,
    short: VecDeque<(Arc<KeyInfo>, Tok)>,
    forged: Vec<Tok>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    by_class: [AtomicU64; 5],
    ok_by_class: [AtomicU64; 5],
    wrong: AtomicU64,
    server_errors_no_fetch: AtomicU64,
    server_errors_fetch: AtomicU64,
    transport_errors: AtomicU64,
    retired_refused_after_window: AtomicU64,
    retired_accepted_in_window: AtomicU64,
    short_refused_after_exp: AtomicU64,
    known_during_outage: [AtomicU64; 3],
}

struct Shared {
    args: Args,
    state: RwLock<State>,
    timeline: RwLock<Timeline>,
    /// The current outage kind (0 fail, 1 stall, 2 garbage), or none.
    outage: Mutex<Option<usize>>,
    counters: Counters,
    /// Latency in µs: every request, and those that needed no fetch (their key known).
    latencies: Mutex<(Vec<u32>, Vec<u32>)>,
    wrong_examples: Mutex<Vec<String>>,
}

impl Shared {
    /// Refusal of a valid token of a key not yet known: allowed while the endpoint
    /// fails, and for cooldown + back-off + fetch timeout (+1 s) after the key's
    /// publication or the end of the last outage.
    fn unknown_refusal_allowed(&self, key: &KeyInfo, sent: Instant) -> bool {
        let a = &self.args;
        let window = secs(a.cooldown + a.backoff + a.fetch_timeout + 1.0);
        match self.timeline.read().unwrap().serving_since(sent) {
            None => true,
            Some(since) => sent.saturating_duration_since(since.max(key.published)) < window,
        }
    }

    /// A retired key's tokens must be refused: the endpoint served for the whole
    /// window after the retirement, before the request was sent.
    fn retired_must_be_refused(&self, retired: Instant, sent: Instant) -> bool {
        let a = &self.args;
        let window = secs(a.refresh + a.cooldown + a.backoff + a.fetch_timeout + 1.0);
        self.timeline
            .read()
            .unwrap()
            .served_for(retired, sent, window)
    }

    fn wrong(&self, what: String) {
        self.counters.wrong.fetch_add(1, Ordering::Relaxed);
        let mut examples = self.wrong_examples.lock().unwrap();
        if examples.len() < 20 {
            eprintln!("WRONG: {what}");
            examples.push(what);
        }
    }
}

/// A small, fast generator for the workers' choices (no need for quality).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mint_key_tokens(
    pool: &LocalUserPool,
    key: &SigningKey,
    token_use: TokenUse,
    published: Instant,
) -> KeyInfo {
    let builder = || match token_use {
        TokenUse::Access => pool.access_token(),
        _ => pool.id_token(),
    };
    let hour = unix_now() + 3600.0;
    let valid = (0..24)
        .map(|_| {
            let sub = tower_cognito::test_util::uuid();
            let token = builder()
                .sub(sub.clone())
                .expires_in(Duration::from_secs(3600))
                .signed_by(key)
                .sign();
            Tok {
                token,
                sub,
                exp: hour.floor(),
            }
        })
        .collect();
    let expired = (0..4)
        .map(|_| {
            let sub = tower_cognito::test_util::uuid();
            let token = builder().sub(sub.clone()).expired().signed_by(key).sign();
            Tok {
                token,
                sub,
                exp: unix_now() - 3600.0,
            }
        })
        .collect();
    KeyInfo {
        kid: key.kid().to_owned(),
        published,
        retired: Mutex::new(None),
        known: AtomicBool::new(false),
        valid,
        expired,
    }
}

fn current_keys(pool: &LocalUserPool) -> (SigningKey, SigningKey) {
    (
        pool.signing_key(TokenUse::Id),
        pool.signing_key(TokenUse::Access),
    )
}

/// Rotates every `--rotate` s and retires the keys of two rotations ago.
async fn rotations(pool: LocalUserPool, shared: Arc<Shared>, deadline: Instant) -> u64 {
    let mut generations: VecDeque<Vec<Arc<KeyInfo>>> = VecDeque::new();
    generations.push_back(shared.state.read().unwrap().keys.clone());
    let mut count = 0;
    while Instant::now() + secs(shared.args.rotate) < deadline {
        tokio::time::sleep(secs(shared.args.rotate)).await;
        let pool2 = pool.clone();
        let infos = tokio::task::spawn_blocking(move || {
            let published = Instant::now();
            pool2.rotate_keys();
            let (id, access) = current_keys(&pool2);
            vec![
                Arc::new(mint_key_tokens(&pool2, &id, TokenUse::Id, published)),
                Arc::new(mint_key_tokens(
                    &pool2,
                    &access,
                    TokenUse::Access,
                    published,
                )),
            ]
        })
        .await
        .expect("minting");
        count += 1;
        shared
            .state
            .write()
            .unwrap()
            .keys
            .extend(infos.iter().cloned());
        generations.push_back(infos);
        if generations.len() > 2 {
            for info in generations.pop_front().expect("a generation") {
                // Marked before the JWKS changes: no request takes it for a valid key then.
                *info.retired.lock().unwrap() = Some(Instant::now());
                pool.retire_key(&info.kid);
            }
        }
        eprintln!(
            "rotation {count}: {} keys published",
            pool.published_keys().len()
        );
    }
    count
}

/// The JWKS endpoint's turns; returns how many outages of each kind it had.
async fn phases(pool: LocalUserPool, shared: Arc<Shared>, deadline: Instant) -> [u64; 3] {
    let phase = secs(shared.args.phase);
    // Serving turns are twice as long: long enough for a refresh to drop a retired key.
    let serve = 2 * phase;
    let stall = secs(shared.args.fetch_timeout * 3.0);
    let mut outages = [0u64; 3];
    let mut turn = 0usize;
    loop {
        tokio::time::sleep(serve).await;
        if Instant::now() + phase >= deadline {
            break;
        }
        // Serving ends before the endpoint breaks.
        let kind = turn % 3;
        let behavior = match kind {
            0 => JwksBehavior::Status(500),
            1 => JwksBehavior::Delay(stall),
            _ => match outages[2] % 3 {
                0 => JwksBehavior::Body(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
                1 => JwksBehavior::Body(br#"{"keys":[]}"#.to_vec()),
                _ => JwksBehavior::Huge {
                    bytes: 4 << 20,
                    declare_length: false,
                },
            },
        };
        if let Some((_, end)) = shared.timeline.write().unwrap().serving.last_mut() {
            *end = Some(Instant::now());
        }
        *shared.outage.lock().unwrap() = Some(kind);
        pool.server().set_behavior(behavior.clone());
        eprintln!("jwks: {behavior:?}");
        outages[kind] += 1;
        tokio::time::sleep(phase).await;
        pool.server().set_behavior(JwksBehavior::Serve);
        *shared.outage.lock().unwrap() = None;
        // Serving starts once the endpoint serves again.
        shared
            .timeline
            .write()
            .unwrap()
            .serving
            .push((Instant::now(), None));
        eprintln!("jwks: Serve");
        turn += 1;
    }
    outages
}

/// Mints a short-lived token every second, with the current ID or access key.
async fn minter(pool: LocalUserPool, shared: Arc<Shared>, deadline: Instant) {
    let mut n = 0u64;
    while Instant::now() < deadline {
        let pool2 = pool.clone();
        let life = shared.args.short_life;
        let token_use = if n.is_multiple_of(2) {
            TokenUse::Access
        } else {
            TokenUse::Id
        };
        let (kid, tok) = tokio::task::spawn_blocking(move || {
            let key = pool2.signing_key(token_use);
            let sub = tower_cognito::test_util::uuid();
            let builder = match token_use {
                TokenUse::Access => pool2.access_token(),
                _ => pool2.id_token(),
            };
            let exp = (unix_now() as u64 + life) as f64;
            let token = builder
                .sub(sub.clone())
                .claim("exp", exp as u64)
                .signed_by(&key)
                .sign();
            (key.kid().to_owned(), Tok { token, sub, exp })
        })
        .await
        .expect("minting");
        {
            let mut state = shared.state.write().unwrap();
            let info = state.keys.iter().rev().find(|k| k.kid == kid).cloned();
            if let Some(info) = info {
                state.short.push_back((info, tok));
                // Keep those still useful: expired a few seconds ago at most.
                while state.short.len() > 4 * life as usize {
                    state.short.pop_front();
                }
            }
        }
        n += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn pick(state: &State, class: Class, rng: &mut Rng) -> Option<(Option<Arc<KeyInfo>>, Tok)> {
    match class {
        Class::Valid | Class::Expired | Class::Retired => {
            let want_retired = class == Class::Retired;
            let keys: Vec<&Arc<KeyInfo>> = state
                .keys
                .iter()
                .filter(|k| k.retired().is_some() == want_retired)
                .collect();
            if keys.is_empty() {
                return None;
            }
            // Mostly the newest keys, as traffic after a rotation is.
            let key = if want_retired {
                keys[rng.below(keys.len())]
            } else {
                keys[keys.len() - 1 - rng.below(keys.len().min(4))]
            };
            let list = if class == Class::Expired {
                &key.expired
            } else {
                &key.valid
            };
            Some((Some(Arc::clone(key)), list[rng.below(list.len())].clone()))
        }
        Class::ShortLived => {
            if state.short.is_empty() {
                return None;
            }
            let (key, tok) = &state.short[rng.below(state.short.len())];
            if key.retired().is_some() {
                return None;
            }
            Some((Some(Arc::clone(key)), tok.clone()))
        }
        Class::Forged => Some((None, state.forged[rng.below(state.forged.len())].clone())),
    }
}

async fn worker(
    id: usize,
    shared: Arc<Shared>,
    client: reqwest::Client,
    url: String,
    deadline: Instant,
) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let per_worker = shared.args.rate / shared.args.workers as f64;
    let mut interval = tokio::time::interval(secs(1.0 / per_worker));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut latencies = Vec::new();
    let mut known_latencies = Vec::new();
    while Instant::now() < deadline {
        interval.tick().await;
        if shared.counters.requests.fetch_add(1, Ordering::Relaxed) >= shared.args.max_requests {
            break;
        }
        // Weights: valid 55, retired 10, expired 5, short-lived 20, forged 10 (in %).
        let class = match rng.below(100) {
            0..55 => Class::Valid,
            55..65 => Class::Retired,
            65..70 => Class::Expired,
            70..90 => Class::ShortLived,
            _ => Class::Forged,
        };
        let picked = {
            let state = shared.state.read().unwrap();
            pick(&state, class, &mut rng)
        };
        let Some((key, tok)) = picked else {
            shared.counters.requests.fetch_sub(1, Ordering::Relaxed);
            continue;
        };
        let known = key
            .as_ref()
            .is_some_and(|k| k.known.load(Ordering::Acquire));
        // A retired key's token names a kid the verifier may have dropped: a fetch.
        let no_fetch = known && class != Class::Retired;
        let outage = *shared.outage.lock().unwrap();
        let sent = Instant::now();
        let sent_unix = unix_now();
        let answer = client
            .get(&url)
            .header("authorization", format!("Bearer {}", tok.token))
            .send()
            .await;
        let answer = match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                response.text().await.map(|body| (status, body))
            }
            Err(e) => Err(e),
        };
        let received = Instant::now();
        let received_unix = unix_now();
        let micros = u32::try_from((received - sent).as_micros()).unwrap_or(u32::MAX);
        latencies.push(micros);
        if no_fetch {
            known_latencies.push(micros);
            if micros > 250_000 {
                eprintln!(
                    "slow: {class:?} token that needed no fetch answered in {:.0} ms (outage {outage:?})",
                    f64::from(micros) / 1000.0
                );
            }
        }
        let c = &shared.counters;
        c.by_class[class as usize].fetch_add(1, Ordering::Relaxed);
        let (status, body) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                c.transport_errors.fetch_add(1, Ordering::Relaxed);
                shared.wrong(format!("{class:?}: no answer: {e}"));
                continue;
            }
        };
        if status == 200 {
            c.ok_by_class[class as usize].fetch_add(1, Ordering::Relaxed);
        }
        if status >= 500 {
            if no_fetch {
                c.server_errors_no_fetch.fetch_add(1, Ordering::Relaxed);
            } else {
                c.server_errors_fetch.fetch_add(1, Ordering::Relaxed);
            }
        }
        if no_fetch && let Some(kind) = outage {
            c.known_during_outage[kind].fetch_add(1, Ordering::Relaxed);
        }
        let ok_body = status == 200 && body == tok.sub;
        if status == 200 && !ok_body {
            shared.wrong(format!("{class:?}: 200 with {body:?}, not the token's sub"));
            continue;
        }
        let refused = status == 401;
        match class {
            Class::Valid => {
                let key = key.expect("a key");
                if ok_body {
                    key.known.store(true, Ordering::Release);
                } else if known || !shared.unknown_refusal_allowed(&key, sent) {
                    shared.wrong(format!(
                        "valid token ({} key) answered {status}: {body}",
                        if known { "known" } else { "unseen" }
                    ));
                }
            }
            Class::ShortLived => {
                let key = key.expect("a key");
                if sent_unix < tok.exp - 1.0 {
                    if ok_body {
                        key.known.store(true, Ordering::Release);
                    } else if known || !shared.unknown_refusal_allowed(&key, sent) {
                        shared.wrong(format!(
                            "short-lived token {:.1} s before exp answered {status}: {body}",
                            tok.exp - sent_unix
                        ));
                    }
                } else if received_unix >= tok.exp + 1.0 {
                    if ok_body {
                        shared.wrong(format!(
                            "short-lived token {:.1} s after exp answered 200",
                            received_unix - tok.exp
                        ));
                    } else if refused {
                        c.short_refused_after_exp.fetch_add(1, Ordering::Relaxed);
                    } else if known {
                        shared.wrong(format!(
                            "short-lived token after exp answered {status}: {body}"
                        ));
                    }
                }
            }
            Class::Expired => {
                if ok_body || (known && !refused) {
                    shared.wrong(format!("expired token answered {status}: {body}"));
                }
            }
            Class::Retired => {
                let key = key.expect("a key");
                let retired = key.retired().expect("retired");
                let must_refuse = shared.retired_must_be_refused(retired, sent);
                if ok_body && must_refuse {
                    shared.wrong(format!(
                        "token of a key retired {:.1} s ago answered 200",
                        (sent - retired).as_secs_f64()
                    ));
                } else if ok_body {
                    c.retired_accepted_in_window.fetch_add(1, Ordering::Relaxed);
                } else if refused && must_refuse {
                    c.retired_refused_after_window
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            Class::Forged => {
                if ok_body {
                    shared.wrong("a forged token answered 200".to_owned());
                }
            }
        }
    }
    let mut all = shared.latencies.lock().unwrap();
    all.0.extend(latencies);
    all.1.extend(known_latencies);
}

fn percentiles(mut v: Vec<u32>) -> String {
    if v.is_empty() {
        return "none".to_owned();
    }
    v.sort_unstable();
    let at = |q: f64| {
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        f64::from(v[i]) / 1000.0
    };
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} requests)",
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999),
        at(1.0),
        v.len()
    )
}

fn serve(pool: &LocalUserPool, args: &Args) -> Result<String, Box<dyn std::error::Error>> {
    let verifier = pool
        .verifier_builder()
        .refresh_interval(secs(args.refresh))
        .unknown_kid_cooldown(secs(args.cooldown))
        .max_backoff(secs(args.backoff))
        .fetch_timeout(secs(args.fetch_timeout))
        .max_stale(Duration::from_secs(3600))
        .build()?;
    let auth = CognitoAuthLayer::new(verifier.clone())
        .require(Requirement::new().token_use(TokenUseRule::Either))?;
    let app = Router::new()
        .route(
            "/auth",
            get(|claims: Claims| async move { claims.sub().to_owned() }),
        )
        .route_layer(auth);
    let (tx, rx) = std::sync::mpsc::channel();
    // The server on a runtime of its own, as a separate service would be.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let started = async {
                verifier.prefetch().await?;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(listener)
            };
            match started.await {
                Ok(listener) => {
                    let addr = listener.local_addr().expect("an address");
                    tx.send(Ok(format!("http://{addr}/auth"))).ok();
                    axum::serve(listener, app).await.ok();
                }
                Err(e) => {
                    tx.send(Err(e.to_string())).ok();
                }
            }
        });
    });
    Ok(rx.recv()??)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args =
        args().map_err(|e| format!("{e}\nusage: see the doc comment of examples/soak.rs"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let pool = LocalUserPool::start().await?;
    let url = serve(&pool, &args)?;
    let started = Instant::now();
    let deadline = started + secs(args.seconds);
    let (id, access) = current_keys(&pool);
    let pool2 = pool.clone();
    let (keys, forged) = tokio::task::spawn_blocking(move || {
        let published = Instant::now();
        let mut id_info = mint_key_tokens(&pool2, &id, TokenUse::Id, published);
        let mut access_info = mint_key_tokens(&pool2, &access, TokenUse::Access, published);
        // Prefetched before the server listened: known from the start.
        id_info.known = AtomicBool::new(true);
        access_info.known = AtomicBool::new(true);
        let forger = SigningKey::generate("never-published-key");
        let forged = mint_key_tokens(&pool2, &forger, TokenUse::Access, published).valid;
        (vec![Arc::new(id_info), Arc::new(access_info)], forged)
    })
    .await?;
    eprintln!(
        "soak: {url}, {:.0} s, rotate every {} s, refresh {} s, cooldown {} s, back-off {} s, \
         fetch timeout {} s, JWKS phases of {} s, {} requests/s from {} workers",
        args.seconds,
        args.rotate,
        args.refresh,
        args.cooldown,
        args.backoff,
        args.fetch_timeout,
        args.phase,
        args.rate,
        args.workers
    );
    let shared = Arc::new(Shared {
        state: RwLock::new(State {
            keys,
            short: VecDeque::new(),
            forged,
        }),
        timeline: RwLock::new(Timeline {
            serving: vec![(started, None)],
        }),
        outage: Mutex::new(None),
        counters: Counters::default(),
        latencies: Mutex::new((Vec::new(), Vec::new())),
        wrong_examples: Mutex::new(Vec::new()),
        args,
    });

    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()?;
    let rotation = tokio::spawn(rotations(pool.clone(), Arc::clone(&shared), deadline));
    let phase = tokio::spawn(phases(pool.clone(), Arc::clone(&shared), deadline));
    let mint = tokio::spawn(minter(pool.clone(), Arc::clone(&shared), deadline));
    let progress = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            while Instant::now() + Duration::from_secs(10) < deadline {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let c = &shared.counters;
                eprintln!(
                    "{:>5.0} s: {} requests, {} wrong, {} 5xx without a fetch needed",
                    started.elapsed().as_secs_f64(),
                    c.requests.load(Ordering::Relaxed),
                    c.wrong.load(Ordering::Relaxed),
                    c.server_errors_no_fetch.load(Ordering::Relaxed)
                );
            }
        })
    };
    // One sample a second of the JWKS requests so far, for the busiest minute.
    let rss_start = resident_bytes();
    let sampler = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut samples = vec![pool.server().requests()];
            let mut rss_peak = resident_bytes();
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(1)).await;
                samples.push(pool.server().requests());
                rss_peak = rss_peak.max(resident_bytes());
            }
            (samples, rss_peak)
        })
    };
    let workers: Vec<_> = (0..shared.args.workers)
        .map(|i| {
            tokio::spawn(worker(
                i,
                Arc::clone(&shared),
                client.clone(),
                url.clone(),
                deadline,
            ))
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let rotations = rotation.await?;
    let outages = phase.await?;
    mint.await?;
    progress.abort();
    let (samples, rss_peak) = sampler.await?;
    let rss_end = resident_bytes();
    let elapsed = started.elapsed().as_secs_f64();

    let c = &shared.counters;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let total: u64 = c.by_class.iter().map(load).sum();
    let wrong = load(&c.wrong);
    let no_fetch_5xx = load(&c.server_errors_no_fetch);
    println!(
        "soak: {elapsed:.1} s, {total} requests ({:.0}/s), {rotations} key rotations, \
         JWKS outages: {} failing, {} stalling, {} garbage ({} JWKS requests)",
        total as f64 / elapsed,
        outages[0],
        outages[1],
        outages[2],
        pool.server().requests()
    );
    for class in CLASSES {
        println!(
            "  {:<12} {:>9} requests, {:>9} answered 200",
            format!("{class:?}"),
            load(&c.by_class[class as usize]),
            load(&c.ok_by_class[class as usize])
        );
    }
    println!(
        "  retired-key tokens: {} accepted within the window, {} refused after it",
        load(&c.retired_accepted_in_window),
        load(&c.retired_refused_after_window)
    );
    println!(
        "  short-lived tokens refused after their exp: {}",
        load(&c.short_refused_after_exp)
    );
    println!(
        "  known-key requests during outages: {} failing, {} stalling, {} garbage",
        load(&c.known_during_outage[0]),
        load(&c.known_during_outage[1]),
        load(&c.known_during_outage[2])
    );
    println!("wrong answers: {wrong}");
    println!("5xx on tokens that needed no fetch: {no_fetch_5xx}");
    println!(
        "5xx on tokens that needed a fetch: {}",
        load(&c.server_errors_fetch)
    );
    println!("transport errors: {}", load(&c.transport_errors));
    let (all, known) = std::mem::take(&mut *shared.latencies.lock().unwrap());
    println!("latency, all: {}", percentiles(all));
    println!(
        "latency, tokens that needed no fetch: {}",
        percentiles(known)
    );

    // Fetches: each refresh interval, plus at most one per cooldown for an unknown
    // kid (back-off only spaces failed ones further), plus one at each window edge.
    let busiest = samples
        .windows(61.min(samples.len()))
        .map(|w| w[w.len() - 1] - w[0])
        .max()
        .unwrap_or(0);
    let args = &shared.args;
    let fetch_bound = (60.0 / args.cooldown + 60.0 / args.refresh).floor() as usize + 2;
    println!(
        "JWKS fetches: {} in all, {:.1} a minute on average, at most {busiest} in any 60 s \
         (bound: 60/cooldown + 60/refresh + 2 = {fetch_bound})",
        pool.server().requests(),
        pool.server().requests() as f64 * 60.0 / elapsed
    );
    // Memory: what the server may hold grows with the token cache (at most its
    // capacity, each entry a few KiB) and the key sets, not with the request count.
    let mib = |b: Option<u64>| {
        b.map_or("unknown".to_owned(), |b| {
            format!("{:.1} MiB", b as f64 / 1048576.0)
        })
    };
    let rss_bound = tower_cognito::DEFAULT_TOKEN_CACHE_CAPACITY * 8 * 1024 + 64 * 1024 * 1024;
    println!(
        "resident memory: {} at the start, {} at the end, {} at the peak \
         (growth bound: {} token cache entries at 8 KiB + 64 MiB = {})",
        mib(rss_start),
        mib(rss_end),
        mib(rss_peak),
        tower_cognito::DEFAULT_TOKEN_CACHE_CAPACITY,
        mib(Some(rss_bound))
    );

    let mut failures = Vec::new();
    if wrong > 0 {
        failures.push(format!("{wrong} wrong answers"));
    }
    if no_fetch_5xx > 0 {
        failures.push(format!("{no_fetch_5xx} 5xx on tokens that needed no fetch"));
    }
    if rotations < 3 {
        failures.push("fewer than 3 rotations: a key was never retired and checked".into());
    }
    if load(&c.retired_refused_after_window) == 0 {
        failures.push("no retired-key token was checked after its window".into());
    }
    if load(&c.short_refused_after_exp) == 0 {
        failures.push("no short-lived token was checked after its exp".into());
    }
    if c.known_during_outage.iter().any(|n| load(n) == 0) {
        failures.push("some kind of JWKS outage saw no known-key traffic".into());
    }
    if busiest > fetch_bound {
        failures.push(format!(
            "{busiest} JWKS fetches in one minute, over the bound of {fetch_bound}"
        ));
    }
    if let (Some(start), Some(end)) = (rss_start, rss_end)
        && end.saturating_sub(start) > rss_bound
    {
        failures.push(format!(
            "resident memory grew by {} over the bound",
            mib(Some(end - start))
        ));
    }
    if failures.is_empty() {
        println!("soak passed");
        Ok(())
    } else {
        println!("soak FAILED: {}", failures.join("; "));
        std::process::exit(1);
    }
}

/// This process's resident memory (Linux's `/proc/self/status`), if it can be read.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
