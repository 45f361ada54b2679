#!/usr/bin/env bash
# Soak test (examples/soak.rs): steady load on a server behind CognitoAuthLayer while
# the local pool rotates its keys and its JWKS endpoint fails, stalls and answers
# garbage in turns; every answer is checked. Loopback only; bounded in time and in
# requests; exits non-zero on any wrong answer or any 5xx for a token that needed no
# fetch.
#
#   scripts/soak.sh            # 10 minutes, keys rotated every 30 s (release build)
#   scripts/soak.sh --short    # CI's: 75 s, keys rotated every 10 s (debug build)
#   scripts/soak.sh [--short] -- --rate 800 ...   # more flags for the example
#
# Settings (environment): SOAK_SECONDS (run length), SOAK_ROTATE (seconds between
# rotations), SOAK_RATE (requests per second, all workers), SOAK_PROFILE (release or
# dev), CARGO_TARGET_DIR (default target/bench for release, target for dev).
set -euo pipefail
cd "$(dirname "$0")/.."

short=0
extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --short) short=1 ;;
        --) shift; extra+=("$@"); break ;;
        *) echo "usage: $0 [--short] [-- example flags]" >&2; exit 2 ;;
    esac
    shift
done

if [[ $short -eq 1 ]]; then
    SOAK_SECONDS=${SOAK_SECONDS:-75}
    SOAK_ROTATE=${SOAK_ROTATE:-10}
    SOAK_RATE=${SOAK_RATE:-200}
    SOAK_PROFILE=${SOAK_PROFILE:-dev}
    # Refresh, cooldown, back-off, fetch timeout and JWKS phases shortened with the
    # rotations, so that every check happens several times within the run.
    timing=(--refresh 2 --cooldown 1 --backoff 2 --fetch-timeout 1 --phase 5 --short-life 5)
else
    SOAK_SECONDS=${SOAK_SECONDS:-600}
    SOAK_ROTATE=${SOAK_ROTATE:-30}
    SOAK_RATE=${SOAK_RATE:-400}
    SOAK_PROFILE=${SOAK_PROFILE:-release}
    timing=(--refresh 10 --cooldown 2 --backoff 5 --fetch-timeout 2 --phase 15 --short-life 15)
fi

if [[ $SOAK_PROFILE == release ]]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}
    cargo build --release --example soak >&2
    bin="$CARGO_TARGET_DIR/release/examples/soak"
else
    cargo build --example soak >&2
    bin="${CARGO_TARGET_DIR:-target}/debug/examples/soak"
fi

echo "soak: $SOAK_SECONDS s, rotations every $SOAK_ROTATE s, $SOAK_RATE requests/s ($SOAK_PROFILE build); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# The example stops itself at its deadline; the timeout is only a backstop.
timeout --kill-after=30 "$((SOAK_SECONDS + 120))" \
    "$bin" --seconds "$SOAK_SECONDS" --rotate "$SOAK_ROTATE" --rate "$SOAK_RATE" \
    "${timing[@]}" ${extra[@]+"${extra[@]}"}
