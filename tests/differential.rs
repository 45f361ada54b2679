//! Differential testing against AWS's own verifier, the npm package `aws-jwt-verify`
//! on thousands of generated tokens.
//!
//! A seeded generator (`differential/generator.rs`) mutates valid Cognito ID and access tokens:
//! header fields, `alg`, `kid`, `crit`, every claim's presence, type and value, NumericDates
//! around now (fractions, float forms, extremes), `token_use`, `aud` and `client_id` as
//! strings and arrays, scopes, groups, encodings, sizes, duplicate names, raw JSON text and
//! signatures by other keys. One Node process (`reference/batch.mjs`) judges every case
//! with the JWKS handed to it; `differential/judge.rs` compares its verdict with this
//! crate's and fails on any disagreement that is not a strictness (or the one leniency) the
//! README lists.
//!
//! ```sh
//! REFERENCE_NODE_MODULES="$(bash .ci/reference.sh)" DIFFERENTIAL_CASES=100000 \
//!     DIFFERENTIAL_SEED=42 cargo test --test differential -- --ignored --nocapture
//! ```
//!
//! `DIFFERENTIAL_CASES` (default 5000), `DIFFERENTIAL_SEED` (decimal or 0x hex; default
//! fixed), `DIFFERENTIAL_ONLY=<index>` (rebuild and judge that one case, printing it).

#[path = "differential/generator.rs"]
mod generator;
#[path = "differential/judge.rs"]
mod judge;
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use generator::{Case, Ctx, VERIFIERS};
use judge::{Theirs, Verdict};
use serde_json::{Value, json};
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{UserPool, Verifier};

const DEFAULT_SEED: u64 = 0x5EED_C0C0_2026;
/// Cases generated, then judged by both sides, at a time.
const BATCH: u64 = 50;
/// Longest a case may wait from its generation to its last verdict: every time claim
/// keeps 5 s from a boundary (now, and now +- the leeway), and one more second goes to
/// rounding, so a longer wait could move a verdict.
const MAX_LAG: Duration = Duration::from_secs(3);

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    Some(match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("{name}: {v}")),
        None => v.parse().unwrap_or_else(|_| panic!("{name}: {v}")),
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn theirs(v: &Value) -> Theirs {
    Theirs {
        ok: v["ok"].as_bool().unwrap(),
        error: v["error"].as_str().unwrap_or_default().to_owned(),
        message: v["message"].as_str().unwrap_or_default().to_owned(),
        rest: v.get("rest").map(|rest| Box::new(theirs(rest))),
    }
}

/// The reference: one Node process for the whole run.
struct Reference {
    child: std::process::Child,
    input: BufWriter<std::process::ChildStdin>,
    output: mpsc::Receiver<String>,
}

impl Reference {
    fn start(modules: &str, setup: &Value) -> Self {
        let mut child = support::reference_node("batch.mjs", modules);
        let stdout = child.stdout.take().unwrap();
        let (tx, output) = mpsc::channel();
        // Read on a thread, so neither side can block the other on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut input = BufWriter::new(child.stdin.take().unwrap());
        writeln!(input, "{setup}").unwrap();
        Self {
            child,
            input,
            output,
        }
    }

    fn send(&mut self, case: &Case) {
        let line = json!({ "token": case.token, "verifier": case.verifier });
        writeln!(self.input, "{line}").unwrap();
    }

    fn receive(&mut self) -> Theirs {
        self.input.flush().unwrap();
        let line = self
            .output
            .recv_timeout(Duration::from_secs(60))
            .expect("the reference answers");
        let v: Value = serde_json::from_str(&line).expect("the reference writes JSON lines");
        theirs(&v)
    }

    fn finish(mut self) {
        drop(self.input);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the reference script failed: {status}");
    }
}

/// Printable text of header or payload bytes: never key material (only public values and
/// claims are in a token), cut to a readable length.
fn text(bytes: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        out.push_str(&format!("... ({} bytes in all)", bytes.len()));
    }
    format!("{out:?}")
}

fn reference_verdict(theirs: &Theirs) -> String {
    let verdict = if theirs.ok {
        "accepts".to_owned()
    } else {
        format!("refuses ({}: {})", theirs.error, theirs.message)
    };
    match &theirs.rest {
        Some(rest) => format!("{verdict}; on the rest: {}", reference_verdict(rest)),
        None => verdict,
    }
}

fn describe(
    seed: u64,
    case: &Case,
    theirs: &Theirs,
    ours: &Result<(), tower_cognito::AuthError>,
) -> String {
    let v = &VERIFIERS[case.verifier];
    format!(
        "  seed {seed:#x}, case {index} (rerun: DIFFERENTIAL_SEED={seed:#x} DIFFERENTIAL_ONLY={index})\n\
         \x20 base: {base} token; verifier: client ids {clients:?}, leeway {leeway} s\n\
         \x20 mutations: {tags:?}\n\
         \x20 reference: {r}\n\
         \x20 tower-cognito: {o}\n\
         \x20 header: {header}\n\
         \x20 payload: {payload}\n\
         \x20 token: {len} bytes, segments {segments:?}",
        index = case.index,
        base = judge::base_name(case.base),
        clients = v.client_ids,
        leeway = v.leeway,
        tags = case.tags,
        r = reference_verdict(theirs),
        o = match ours {
            Ok(()) => "accepts".to_owned(),
            Err(e) => format!("refuses ({:?}: {})", e.kind(), e.detail()),
        },
        header = text(&case.header, 600),
        payload = text(&case.payload, 2000),
        len = case.token.len(),
        segments = case
            .token
            .split('.')
            .map(|s| if s.len() > 40 {
                format!("{}..({})", s.chars().take(40).collect::<String>(), s.len())
            } else {
                s.to_owned()
            })
            .collect::<Vec<_>>(),
    )
}

/// A mutation's kind, for the coverage line: its tag up to the value.
fn category(tag: &str) -> String {
    if tag.starts_with("sign") || tag.starts_with("segment") || tag.starts_with("token ") {
        return tag.to_owned();
    }
    let cut = tag.find(['=', '(', '"', ':', ',']).unwrap_or(tag.len());
    let words: Vec<&str> = tag[..cut]
        .split_whitespace()
        .filter(|w| !w.starts_with(|c: char| c.is_ascii_digit()))
        .take(2)
        .collect();
    words.join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "needs Node and aws-jwt-verify: run .ci/reference.sh, set REFERENCE_NODE_MODULES"]
async fn agrees_with_aws_jwt_verify_on_generated_tokens() {
    let modules = support::reference_modules();
    let seed = env_u64("DIFFERENTIAL_SEED").unwrap_or(DEFAULT_SEED);
    let only = env_u64("DIFFERENTIAL_ONLY");
    let cases = env_u64("DIFFERENTIAL_CASES").unwrap_or(5000);
    let (first, end) = match only {
        Some(i) => (i, i + 1),
        None => (0, cases),
    };
    println!(
        "differential: seed {seed:#x}, cases {first}..{end} (DIFFERENTIAL_SEED, DIFFERENTIAL_CASES)"
    );

    let started = Instant::now();
    let ctx = Ctx::new();
    // The pool serves the JWKS on loopback; the names in the tokens are the run's own.
    let pool = LocalUserPool::start().await.unwrap();
    pool.server()
        .set_jwks(serde_json::to_vec(&ctx.keys.jwks()).unwrap());
    let verifiers: Vec<Verifier> = VERIFIERS
        .iter()
        .map(|v| {
            Verifier::builder()
                .pool(UserPool::new(ctx.pool_id).jwks_url(pool.jwks_url()))
                .client_ids(v.client_ids.iter().copied())
                .leeway(Duration::from_secs(v.leeway))
                .build()
                .unwrap()
        })
        .collect();
    for v in &verifiers {
        v.prefetch().await.unwrap();
    }
    let mut reference = Reference::start(&modules, &judge::reference_setup(&ctx));

    let mut buckets: BTreeMap<String, u64> = BTreeMap::new();
    let mut mutations: BTreeMap<String, u64> = BTreeMap::new();
    let mut verdicts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut index = first;
    while index < end {
        // Each case's times are relative to when it is made.
        let batch: Vec<(Instant, Case)> = (index..end.min(index + BATCH))
            .map(|i| (Instant::now(), generator::generate(&ctx, seed, i, now())))
            .collect();
        for (_, case) in &batch {
            reference.send(case);
        }
        for (made, case) in &batch {
            let theirs = reference.receive();
            let ours = verifiers[case.verifier]
                .verify(&case.token)
                .await
                .map(|_| ());
            slowest = slowest.max(made.elapsed());
            let verdict = judge::classify(case, &ours, &theirs);
            for tag in &case.tags {
                *mutations.entry(category(tag)).or_default() += 1;
            }
            *verdicts
                .entry(match (&ours, theirs.ok) {
                    (Ok(()), true) => "both accept",
                    (Err(_), false) => "both refuse",
                    (Err(_), true) => "only the reference accepts",
                    (Ok(()), false) => "only tower-cognito accepts",
                })
                .or_default() += 1;
            if only.is_some() {
                println!("{verdict:?}\n{}", describe(seed, case, &theirs, &ours));
            }
            let bucket = match verdict {
                Verdict::Agree(what) => what,
                Verdict::Stricter(why) => format!("stricter: {why}"),
                Verdict::Lenient(why) => format!("lenient: {why}"),
                Verdict::Disagree(why) => {
                    disagreements.push(format!(
                        "DISAGREEMENT: {why}\n{}",
                        describe(seed, case, &theirs, &ours)
                    ));
                    "DISAGREE".to_owned()
                }
            };
            *buckets.entry(bucket).or_default() += 1;
        }
        index += BATCH;
    }
    reference.finish();

    let total = end - first;
    println!("\nverdicts ({total} cases, seed {seed:#x}):");
    for (what, n) in &verdicts {
        println!("  {n:>8}  {what}");
    }
    println!("buckets:");
    let mut order = Vec::new();
    for (what, n) in &buckets {
        match what.strip_prefix(judge::ORDER) {
            Some(pair) => order.push((pair.trim_start_matches(": "), n)),
            None => println!("  {n:>8}  {what}"),
        }
    }
    let order_total: u64 = order.iter().map(|(_, n)| **n).sum();
    println!(
        "  {order_total:>8}  {} (first fault here, there):",
        judge::ORDER
    );
    for (pair, n) in order {
        println!("  {n:>14}  {pair}");
    }
    println!(
        "mutations applied: {}",
        mutations
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "time: {:.1} s, longest from making a case to both verdicts: {:.2} s",
        started.elapsed().as_secs_f64(),
        slowest.as_secs_f64()
    );
    for d in disagreements.iter().take(25) {
        println!("\n{d}");
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements with aws-jwt-verify (first ones printed above)",
        disagreements.len()
    );
    assert!(
        slowest < MAX_LAG,
        "a case waited {slowest:?} for its verdicts: time-dependent ones may have moved"
    );
}
