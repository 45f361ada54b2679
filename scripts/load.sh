#!/usr/bin/env bash
# HTTP load comparison for BENCHMARKS.md: a trivial axum handler bare, and the
# same handler behind CognitoAuthLayer with one repeated token and with distinct
# tokens (token cache on). Loopback only; every run is bounded in time.
#
#   scripts/load.sh
#
# Settings (environment): DURATION (per run, default 10s), THREADS (wrk threads,
# 2), CONNECTIONS (32), ROUNDS (rounds of the three runs, interleaved, 3; the
# median of each is reported), TOKENS (distinct tokens minted, 60000), CACHE
# (token cache entries, 10000), SPIN_NS (if set, a fourth run: the bare handler
# after a busy wait of that many ns, to see what that much work per request costs
# here), CARGO_TARGET_DIR (default target/bench, apart from the debug builds).
set -euo pipefail

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-3}
TOKENS=${TOKENS:-60000}
CACHE=${CACHE:-10000}
SPIN_NS=${SPIN_NS:-0}

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    if ! { apt-get update -qq && apt-get install -y -qq wrk; } >&2; then
        echo "wrk is not installable here; install it (or oha: cargo install oha) and rerun" >&2
        exit 1
    fi
fi

cargo build --release --example load_server >&2
server_bin="$CARGO_TARGET_DIR/release/examples/load_server"

work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$server_bin" --dir "$work" --tokens "$TOKENS" --cache "$CACHE" --spin-ns "$SPIN_NS" \
    2>"$work/server.log" &
server_pid=$!
for _ in $(seq 600); do
    [[ -s $work/port ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.2
done
[[ -s $work/port ]] || { echo "server did not start" >&2; exit 1; }
port=$(cat "$work/port")
base="http://127.0.0.1:$port"
cat "$work/server.log" >&2

# Every run goes through this script, so that wrk does the same work per request
# in all three: requests are formatted once, in init, and cycled. Each wrk thread
# takes every THREADS-th token, so no two threads send the same distinct token.
cat >"$work/cycle.lua" <<'LUA'
local counter = 0
function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

function init(args)
    local path, file, threads = args[1], args[2], tonumber(args[3])
    local lines = {}
    for line in io.lines(file) do
        lines[#lines + 1] = line
    end
    requests = {}
    for k, token in ipairs(lines) do
        if #lines < threads or (k - 1) % threads == id then
            requests[#requests + 1] =
                wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
        end
    end
    i = 0
end

function request()
    i = i % #requests + 1
    return requests[i]
end
LUA

# run NAME PATH TOKEN_FILE: one wrk run; prints requests/s, fails on any non-2xx.
run() {
    local name=$1 path=$2 file=$3 out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$work/cycle.lua" "$base$path" \
        -- "$path" "$file" "$THREADS")
    echo "$out" >"$work/$name.last"
    if grep -q "Non-2xx" <<<"$out"; then
        echo "$name: some responses were not 2xx:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "warming up" >&2
DURATION=2s run warmup /auth "$work/token" >/dev/null

declare -A results
for round in $(seq "$ROUNDS"); do
    names="bare repeated distinct"
    [[ $SPIN_NS -gt 0 ]] && names+=" spin"
    for name in $names; do
        case $name in
            spin) rps=$(run spin /spin "$work/token") ;;
            bare) rps=$(run bare /bare "$work/token") ;;
            repeated) rps=$(run repeated /auth "$work/token") ;;
            distinct) rps=$(run distinct /auth "$work/tokens") ;;
        esac
        [[ -n $rps ]] || exit 1
        echo "round $round $name: $rps requests/s" >&2
        results[$name]+="$rps "
    done
done

requests_distinct=$(awk '/requests in/ { print $1 }' "$work/distinct.last")
bare=$(tr ' ' '\n' <<<"${results[bare]}" | grep . | median)
repeated=$(tr ' ' '\n' <<<"${results[repeated]}" | grep . | median)
distinct=$(tr ' ' '\n' <<<"${results[distinct]}" | grep . | median)

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $ROUNDS interleaved rounds; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %12s %8s\n' "run" "requests/s" "vs bare"
printf '%-34s %12.0f %8.3f\n' "bare handler" "$bare" 1
printf '%-34s %12.0f %8.3f\n' "layer, one repeated token" "$repeated" "$(awk -v a="$repeated" -v b="$bare" 'BEGIN { print a / b }')"
printf '%-34s %12.0f %8.3f\n' "layer, distinct tokens (cache on)" "$distinct" "$(awk -v a="$distinct" -v b="$bare" 'BEGIN { print a / b }')"
if [[ $SPIN_NS -gt 0 ]]; then
    spin=$(tr ' ' '\n' <<<"${results[spin]}" | grep . | median)
    printf '%-34s %12.0f %8.3f\n' "bare handler + ${SPIN_NS} ns busy wait" "$spin" "$(awk -v a="$spin" -v b="$bare" 'BEGIN { print a / b }')"
fi
echo "distinct: $TOKENS tokens, token cache $CACHE entries; the last run sent $requests_distinct requests"
awk -v a="$repeated" -v b="$bare" 'BEGIN {
    r = a / b
    printf "target: repeated / bare >= 0.85: %.3f, %s\n", r, (r >= 0.85 ? "met" : "MISSED")
}'
