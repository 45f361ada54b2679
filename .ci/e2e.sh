#!/usr/bin/env bash
# End-to-end tests (tests/e2e.rs) against the moto and cognito-local emulators.
#
#   bash .ci/e2e.sh
#
# Installs both emulators if needed (.ci/emulators.sh install: pinned pip/npm packages into
# .e2e/), builds the tests, starts the emulators on free 127.0.0.1 ports, runs every ignored
# test of tests/e2e.rs against them, and always stops them. Fails if a test fails, and also if
# fewer e2e tests passed than tests/e2e.rs has (a run where they were skipped or filtered out
# is a failure, not a pass). Extra arguments go to the test binary (e.g. --test-threads=1).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[e2e] $*" >&2; }
die() { echo "[e2e] ERROR: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p .e2e
out=.e2e/e2e-test.log

t0=$(now)
bash .ci/emulators.sh install
t1=$(now)
log "install: $(secs "$t0" "$t1") s"

# Build outside the emulators' lifetime, and count the tests the binary has.
cargo test --test e2e --no-run
list_all=$(cargo test -q --test e2e -- --list 2>/dev/null | grep -c ': test$' || true)
list_ignored=$(cargo test -q --test e2e -- --ignored --list 2>/dev/null | grep -c ': test$' || true)
in_source=$(grep -c '#\[ignore' tests/e2e.rs || true)
(( list_ignored > 0 )) || die "no ignored tests in tests/e2e.rs"
[[ "$list_ignored" == "$in_source" ]] ||
    die "tests/e2e.rs has $in_source #[ignore] attributes but the binary lists $list_ignored ignored tests"
[[ "$list_all" == "$list_ignored" ]] ||
    die "tests/e2e.rs has $((list_all - list_ignored)) test(s) without #[ignore]: they would run (and fail) in a plain cargo test"
expected=$list_ignored
t2=$(now)
log "build: $(secs "$t1" "$t2") s; tests/e2e.rs has $expected tests, all #[ignore]d"

status=0
bash .ci/emulators.sh run -- \
    cargo test --test e2e -- --ignored --test-threads=2 "$@" 2>&1 | tee "$out" || status=$?
t3=$(now)
log "start + tests + stop: $(secs "$t2" "$t3") s (log: $out)"

echo
echo "=== e2e results"
grep -E '^test [A-Za-z0-9_:]+ \.\.\. ' "$out" || true
summary=$(grep -E '^test result: ' "$out" | tail -n 1 || true)
echo "${summary:-no test result line}"

(( status == 0 )) || die "the e2e run failed (exit $status)"
passed=$(sed -nE 's/^test result: ok\. ([0-9]+) passed.*/\1/p' <<<"$summary")
[[ -n "$passed" ]] || die "no 'test result: ok' line: the e2e tests did not run"
[[ "$passed" == "$expected" ]] ||
    die "$passed e2e tests passed, expected $expected: some did not run"
log "all $expected e2e tests passed against moto and cognito-local"
