#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 60) and fails on
# any crash, panic, timeout or out-of-memory. Prints each target, its run length,
# its executions and its result.
#
#   .ci/fuzz.sh [SECONDS]
#
# cargo-fuzz needs nightly compiler flags (-Zsanitizer); on a stable toolchain
# RUSTC_BOOTSTRAP=1 allows them. The committed seeds (fuzz/seeds/<target>/) are
# copied into a scratch corpus, so a run never changes the checkout; crash inputs
# are kept under fuzz/artifacts/<target>/ (ignored by git) for reproduction with
# `cargo fuzz run <target> <file>`.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing; installing it"
    cargo install cargo-fuzz --locked
fi

cd "$root/fuzz"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/tower-cognito-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

echo "=== building the fuzz targets"
cargo fuzz build

failed=0
summary=()
for target in $(cargo fuzz list); do
    corpus="$scratch/corpus/$target"
    mkdir -p "$corpus" "artifacts/$target"
    if [ -d "seeds/$target" ]; then
        cp seeds/"$target"/* "$corpus"/
    fi
    log="$scratch/$target.log"
    echo "=== fuzzing $target for ${seconds}s"
    status=0
    # -timeout: an input that takes 10 s is a hang, a failure.
    # -rss_limit_mb / -malloc_limit_mb: a large allocation is a failure too.
    cargo fuzz run "$target" "$corpus" -- \
        -max_total_time="$seconds" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -malloc_limit_mb=512 \
        -max_len=20000 \
        -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    execs="$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
    if [ -z "$execs" ]; then
        # Without final stats (a crash), the last progress line has the count.
        execs="$(grep -o '^#[0-9]*' "$log" | tail -n1 | tr -d '#' || true)"
    fi
    corpus_size="$(find "$corpus" -type f | wc -l)"
    if [ "$status" -eq 0 ]; then
        result="ok"
    else
        result="FAILED (exit $status)"
        failed=1
        echo "--- $target log (last 60 lines)"
        tail -n 60 "$log"
        echo "--- crash inputs in fuzz/artifacts/$target/:"
        ls -1 "artifacts/$target" || true
    fi
    line="fuzz target=$target seconds=$seconds execs=${execs:-unknown} corpus=$corpus_size result=$result"
    echo "$line"
    summary+=("$line")
done

echo
echo "=== fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
