//! The server of the HTTP load comparison (`scripts/load.sh`, see `BENCHMARKS.md`).
//!
//! Serves one trivial handler on two routes of an axum server on 127.0.0.1:
//! `/bare` as it is, and `/auth` behind [`CognitoAuthLayer`] requiring an access
//! token with the scope `bench/read`. The keys come from a [`LocalUserPool`] on
//! 127.0.0.1, fetched before the server starts listening.
//!
//! ```text
//! cargo run --release --example load_server -- --dir /tmp/load [--port 0] [--tokens 60000] [--cache 10000]
//! ```
//!
//! Writes to `--dir`: `token` (one access token, for the repeated-token run),
//! `tokens` (`--tokens` distinct access tokens, one a line) and, last, `port`
//! (the port it listens on). Runs until killed.
//!
//! With `--spin-ns N`, a third route `/spin` answers like `/bare` after a busy
//! wait of N nanoseconds, without the layer: a calibration of what any N ns of
//! work per request costs in requests per second on the same machine.

use axum::Router;
use axum::routing::get;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;
use tower_cognito::test_util::LocalUserPool;
use tower_cognito::{CognitoAuthLayer, Requirement};

/// The scope `/auth` requires; every minted token holds it.
const SCOPE: &str = "bench/read";

struct Args {
    dir: PathBuf,
    port: u16,
    tokens: usize,
    cache: u64,
    spin_ns: u64,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        dir: PathBuf::new(),
        port: 0,
        tokens: 60_000,
        cache: tower_cognito::DEFAULT_TOKEN_CACHE_CAPACITY,
        spin_ns: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--dir" => args.dir = PathBuf::from(&value),
            "--port" => args.port = value.parse().map_err(bad)?,
            "--tokens" => args.tokens = value.parse().map_err(bad)?,
            "--cache" => args.cache = value.parse().map_err(bad)?,
            "--spin-ns" => args.spin_ns = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.dir.as_os_str().is_empty() {
        return Err("--dir is required".to_owned());
    }
    Ok(args)
}

async fn hello() -> &'static str {
    "ok"
}

/// Busy-waits this long, then answers as [`hello`].
fn spinning(ns: u64) -> impl Fn() -> std::future::Ready<&'static str> + Clone {
    move || {
        let until = Instant::now() + std::time::Duration::from_nanos(ns);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        std::future::ready("ok")
    }
}

/// `count` distinct access tokens, signed on every core.
fn mint(pool: &LocalUserPool, count: usize) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let share = count / threads + usize::from(i < count % threads);
                scope.spawn(move || {
                    (0..share)
                        .map(|_| pool.access_token().scopes([SCOPE]).sign())
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args().map_err(|e| {
        format!(
            "{e}\nusage: load_server --dir DIR [--port 0] [--tokens 60000] [--cache 10000] \
             [--spin-ns 0]"
        )
    })?;
    std::fs::create_dir_all(&args.dir)?;

    let pool = LocalUserPool::start().await?;
    let verifier = pool
        .verifier_builder()
        .token_cache_capacity(args.cache)
        .build()?;
    verifier.prefetch().await?;

    let started = Instant::now();
    let tokens = tokio::task::block_in_place(|| mint(&pool, args.tokens.max(1)));
    eprintln!(
        "minted {} tokens in {:.1?}",
        tokens.len(),
        started.elapsed()
    );
    std::fs::write(args.dir.join("token"), &tokens[0])?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(args.dir.join("tokens"))?);
    for token in &tokens {
        writeln!(out, "{token}")?;
    }
    out.flush()?;
    drop(tokens);

    let auth = CognitoAuthLayer::new(verifier).require(Requirement::any_scope([SCOPE]))?;
    let mut app = Router::new()
        .route("/auth", get(hello))
        .route_layer(auth)
        .route("/bare", get(hello));
    if args.spin_ns > 0 {
        app = app.route("/spin", get(spinning(args.spin_ns)));
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let port = listener.local_addr()?.port();
    // Written last: the script waits for this file.
    std::fs::write(args.dir.join("port"), port.to_string())?;
    eprintln!(
        "listening on 127.0.0.1:{port} (token cache: {} entries)",
        args.cache
    );
    axum::serve(listener, app).await?;
    Ok(())
}
