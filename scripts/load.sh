#!/usr/bin/env bash
# HTTP load comparison for BENCHMARKS.md (issue 14): one trivial axum handler bare, behind
# this crate's layer, behind a hand-written jsonwebtoken middleware without and with a moka
# cache, and Node's http server with aws-jwt-verify; each with one repeated token and with
# distinct tokens, all in one run on the same token file. Loopback only; every run is
# bounded in time.
#
#   scripts/load.sh                      # about 6 minutes
#   DURATION=3s ROUNDS=1 scripts/load.sh # quick: about 1.5 minutes once built
#
# What runs:
#   - `load_server mint` signs TOKENS distinct Cognito-shaped access tokens with one key
#     and writes them with the pool's JWKS; every server reads its keys from that.
#   - servers, each pinned to the first core (`taskset`) when there are two or more:
#     `load_server serve` (/bare; /layered, behind a tower layer that does nothing, for
#     what any route layer costs; /extension, behind one that only puts an Arc in the
#     request's extensions, for what handing the handler its claims costs any layer;
#     /minimal, behind one that does only what no layer refusing what it cannot vouch for
#     can skip on a repeated token (compare the header with the one token it knows, read
#     both clocks, hand the handler one Arc), for a lower bound of the crate's repeated
#     path; and /auth behind CognitoAuthLayer, keys fetched from a JWKS endpoint on 127.0.0.1 as
#     in production), `load_peer_jsonwebtoken` (/jwt, and /jwt-moka with a moka cache
#     keyed by SHA-256), and scripts/peers/node-server.mjs (aws-jwt-verify at the version
#     pinned in tests/reference/, installed here with `npm ci` into .load/node). Token caches: CACHE entries wherever there is one.
#   - every server is checked with curl before and after the load: a valid token is
#     answered 200 "ok"; a token signed by another key (same kid), an expired one and
#     none are answered 401. Any other answer stops the script.
#   - `wrk -tTHREADS -cCONNECTIONS` on the second core through one Lua script for every
#     run (requests formatted once and cycled): "repeated" sends one token, "distinct"
#     cycles the token file. Runs are interleaved in ROUNDS rounds; each round also times
#     the parsed-key floor (`load_server floor`: FLOOR_CHECKS RS256 checks with a parsed
#     key on the servers' core). Any non-2xx response fails the run.
#   - it prints the medians, the ratios to bare, and issue 14's targets with PASS or MISS:
#     crate repeated / bare >= 0.95; crate distinct / the rate the floor allows
#     (1 / (1/bare + floor)) >= 0.90; crate distinct / jsonwebtoken + moka distinct >= 1.0;
#     crate distinct / Node distinct >= 2.0. Then, for reference, the one-Arc layer and the
#     minimal one over bare, and the crate's repeated rate over theirs; and how far the
#     rounds of bare, the minimal layer and the crate's repeated token lie apart, with a
#     warning when bare's spread is wider than the repeated target's 5 % margin.
#
# Settings (environment): DURATION (per run, default 10s), WARMUP (per server and kind of
# token, before the rounds, 2s), THREADS (wrk threads, 1), CONNECTIONS (16), ROUNDS (3),
# TOKENS (distinct tokens minted, 20000), CACHE (token cache entries of the crate and of the
# moka peer, 10000), FLOOR_CHECKS (20000), SPIN_NS (if set, one more run per round: the bare
# handler after a busy wait of that many ns, to see what that much work per request costs
# here), CARGO_TARGET_DIR (default target/bench, apart from the debug builds).
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-16}
ROUNDS=${ROUNDS:-3}
TOKENS=${TOKENS:-20000}
CACHE=${CACHE:-10000}
FLOOR_CHECKS=${FLOOR_CHECKS:-20000}
SPIN_NS=${SPIN_NS:-0}

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}
started=$SECONDS

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    if ! { apt-get update -qq && apt-get install -y -qq wrk; } >&2; then
        echo "wrk is not installable here; install it and rerun" >&2
        exit 1
    fi
fi
for tool in curl node npm taskset; do
    command -v "$tool" >/dev/null || { echo "scripts/load.sh needs $tool" >&2; exit 1; }
done

# Cores: the servers on the first core this process may use, wrk on the second.
cpus=()
for part in $(taskset -pc $$ | sed 's/.*: //' | tr ',' ' '); do
    if [[ $part == *-* ]]; then
        for ((c = ${part%-*}; c <= ${part#*-}; c++)); do cpus+=("$c"); done
    else
        cpus+=("$part")
    fi
done
if [[ ${#cpus[@]} -ge 2 ]]; then
    on_server_core=(taskset -c "${cpus[0]}")
    on_load_core=(taskset -c "${cpus[1]}")
    pinning="servers pinned to core ${cpus[0]}, wrk to core ${cpus[1]}"
else
    on_server_core=()
    on_load_core=()
    pinning="one core: servers and wrk share it, no pinning"
fi

# Node peer: aws-jwt-verify as pinned (package.json and lock) in tests/reference/.
node_dir=.load/node
mkdir -p "$node_dir"
cp tests/reference/package.json tests/reference/package-lock.json "$node_dir/"
if ! cmp -s tests/reference/package-lock.json "$node_dir/node_modules/.package-lock.json.src" 2>/dev/null; then
    echo "installing aws-jwt-verify into $node_dir" >&2
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp tests/reference/package-lock.json "$node_dir/node_modules/.package-lock.json.src"
fi
node_modules="$(pwd)/$node_dir/node_modules"
ajv_version=$(node -p "require('$node_modules/aws-jwt-verify/package.json').version")

cargo build --release --example load_server --example load_peer_jsonwebtoken >&2
server_bin="$CARGO_TARGET_DIR/release/examples/load_server"
peer_bin="$CARGO_TARGET_DIR/release/examples/load_peer_jsonwebtoken"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$server_bin" mint --dir "$work" --tokens "$TOKENS"

# start NAME COMMAND...: starts a server that writes its port to $work/port.NAME.
start() {
    local name=$1
    shift
    "${on_server_core[@]}" "$@" 2>"$work/$name.log" &
    pids+=($!)
}
# port NAME: waits for the port of server NAME and prints it.
port() {
    local name=$1 pid=$2
    for _ in $(seq 300); do
        [[ -s $work/port.$name ]] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$work/$name.log" >&2
            echo "server $name exited" >&2
            exit 1
        fi
        sleep 0.2
    done
    [[ -s $work/port.$name ]] || { echo "server $name did not start" >&2; exit 1; }
    cat "$work/port.$name"
}

start crate "$server_bin" serve --dir "$work" --port-file "$work/port.crate" --cache "$CACHE" \
    --spin-ns "$SPIN_NS"
start jwt "$peer_bin" --pool "$work/pool.json" --port-file "$work/port.jwt" --cache "$CACHE"
start node env PEER_NODE_MODULES="$node_modules" node scripts/peers/node-server.mjs \
    "$work/pool.json" "$work/port.node"
crate=http://127.0.0.1:$(port crate "${pids[0]}")
jwt=http://127.0.0.1:$(port jwt "${pids[1]}")
node=http://127.0.0.1:$(port node "${pids[2]}")
cat "$work/crate.log" "$work/jwt.log" "$work/node.log" >&2

# The runs: name, URL, token file.
declare -A url file
add() { url[$1]=$2; file[$1]=$3; }
add bare "$crate/bare" "$work/token"
add layered "$crate/layered" "$work/token"
add extension "$crate/extension" "$work/token"
add minimal "$crate/minimal" "$work/token"
add crate_rep "$crate/auth" "$work/token"
add crate_dist "$crate/auth" "$work/tokens"
add jwt_rep "$jwt/jwt" "$work/token"
add jwt_dist "$jwt/jwt" "$work/tokens"
add moka_rep "$jwt/jwt-moka" "$work/token"
add moka_dist "$jwt/jwt-moka" "$work/tokens"
add node_rep "$node/auth" "$work/token"
add node_dist "$node/auth" "$work/tokens"
names="bare layered extension minimal crate_rep crate_dist jwt_rep jwt_dist moka_rep moka_dist node_rep node_dist"
if [[ $SPIN_NS -gt 0 ]]; then
    add spin "$crate/spin" "$work/token"
    names+=" spin"
fi

# answer URL [TOKEN_FILE]: prints "STATUS BODY" of one GET.
answer() {
    local address=$1 token_file=${2:-} body status
    local args=(-s -o "$work/body" -w '%{http_code}' --max-time 5)
    rm -f "$work/body"
    [[ -n $token_file ]] && args+=(-H "Authorization: Bearer $(cat "$token_file")")
    status=$(curl "${args[@]}" "$address") || status="no answer"
    body=$(head -c 100 "$work/body" 2>/dev/null || true)
    echo "$status $body"
}
# check WHEN: every server answers a valid token 200 "ok", and a token signed by another
# key, an expired token and no token 401; the bare route answers 200 "ok".
check() {
    local when=$1 failed=0 got
    expect() {
        got=$(answer "$2" "${3:-}")
        # A refusal's body is the server's own (API Gateway's message for the crate).
        [[ $4 == 401 ]] && got=${got%% *}
        if [[ $got != "$4" ]]; then
            echo "check $when: $1 answered '$got', expected '$4'" >&2
            failed=1
        fi
    }
    expect bare "$crate/bare" "" "200 ok"
    expect layered "$crate/layered" "" "200 ok"
    expect extension "$crate/extension" "" "200 ok"
    local server name at
    # The minimal layer knows one token: any other, or none, is refused.
    expect "minimal, its token" "$crate/minimal" "$work/token" "200 ok"
    expect "minimal, another token" "$crate/minimal" "$work/token.last" "401"
    expect "minimal, no token" "$crate/minimal" "" "401"
    for server in "crate $crate/auth" "jsonwebtoken $jwt/jwt" "jsonwebtoken+moka $jwt/jwt-moka" \
        "node $node/auth"; do
        read -r name at <<<"$server"
        expect "$name, valid token" "$at" "$work/token" "200 ok"
        expect "$name, the last token of the file" "$at" "$work/token.last" "200 ok"
        expect "$name, token signed by another key" "$at" "$work/forged" "401"
        expect "$name, expired token" "$at" "$work/expired" "401"
        expect "$name, no token" "$at" "" "401"
    done
    [[ $failed == 0 ]] || exit 1
    echo "check $when: every server answers correctly" >&2
}
tail -n 1 "$work/tokens" >"$work/token.last"
check "before the load"

# Every run goes through this script, so that wrk does the same work per request in all:
# requests are formatted once, in init, and cycled. Each wrk thread takes every
# THREADS-th token, so no two threads send the same distinct token.
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

# run NAME [DURATION]: one wrk run; prints requests/s, fails on any non-2xx.
run() {
    local name=$1 duration=${2:-$DURATION} out path
    path=/${url[$name]#http://*/}
    out=$("${on_load_core[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" -s "$work/cycle.lua" \
        "${url[$name]}" -- "$path" "${file[$name]}" "$THREADS")
    echo "$out" >"$work/$name.last"
    if grep -q "Non-2xx" <<<"$out"; then
        echo "$name: some responses were not 2xx:" >&2
        echo "$out" >&2
        exit 1
    fi
    if grep -q "Socket errors" <<<"$out"; then
        echo "$name: $(grep "Socket errors" <<<"$out")" >&2
    fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

floor() {
    "${on_server_core[@]}" "$server_bin" floor --dir "$work" --checks "$FLOOR_CHECKS" 2>/dev/null |
        awk '/^floor_us_per_check/ { print $2 }'
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "warming up ($WARMUP per server and kind of token)" >&2
for name in $names; do
    run "$name" "$WARMUP" >/dev/null
done

declare -A results
for round in $(seq "$ROUNDS"); do
    us=$(floor)
    [[ -n $us ]] || { echo "the floor measurement failed" >&2; exit 1; }
    echo "round $round floor: $us us per check" >&2
    results[floor]+="$us "
    for name in $names; do
        rps=$(run "$name")
        [[ -n $rps ]] || exit 1
        echo "round $round $name: $rps requests/s" >&2
        results[$name]+="$rps "
    done
done

check "after the load"

declare -A m
for name in $names floor; do
    m[$name]=$(median <<<"${results[$name]}")
done
requests_distinct=$(awk '/requests in/ { print $1 }' "$work/crate_dist.last")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
thousands() { printf '%.0f' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
row() {
    local title=$1 rep=$2 dist=${3:-}
    if [[ -n $dist ]]; then
        printf '| %-44s | %9s | %5s | %9s | %5s |\n' "$title" "$(thousands "${m[$rep]}")" \
            "$(ratio "${m[$rep]}" "${m[bare]}")" "$(thousands "${m[$dist]}")" \
            "$(ratio "${m[$dist]}" "${m[bare]}")"
    else
        printf '| %-44s | %9s | %5s | %9s | %5s |\n' "$title" "$(thousands "${m[$rep]}")" \
            "$(ratio "${m[$rep]}" "${m[bare]}")" "" ""
    fi
}
floor_allowed=$(awk -v b="${m[bare]}" -v f="${m[floor]}" 'BEGIN { print 1 / (1 / b + f / 1e6) }')
target() {
    local title=$1 value=$2 op=$3 goal=$4
    awk -v t="$title" -v v="$value" -v op="$op" -v g="$goal" 'BEGIN {
        met = (op == ">=") ? (v >= g) : (v <= g)
        printf "| %-52s | %6.3f | %s %-4s | %-4s |\n", t, v, op, g, (met ? "PASS" : "MISS")
    }'
}

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $ROUNDS interleaved rounds; $(nproc) cores, $pinning;" \
    "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$TOKENS distinct access tokens (RS256, one 2048-bit key), token caches of $CACHE entries;" \
    "the last distinct run of the crate sent $requests_distinct requests"
echo
printf '| %-44s | %9s | %5s | %9s | %5s |\n' "server (same handler)" "repeated" "/bare" "distinct" "/bare"
echo "| --- | ---: | ---: | ---: | ---: |"
row "bare axum handler, no auth" bare
row "bare handler behind a pass-through layer" layered
row "pass-through layer + one Arc in extensions" extension
row "the least a fail-closed layer does (minimal)" minimal
row "this crate's layer (CognitoAuthLayer)" crate_rep crate_dist
row "axum + jsonwebtoken 12, no cache" jwt_rep jwt_dist
row "axum + jsonwebtoken 12 + moka (SHA-256 key)" moka_rep moka_dist
row "Node http + aws-jwt-verify $ajv_version" node_rep node_dist
if [[ $SPIN_NS -gt 0 ]]; then
    row "bare handler + ${SPIN_NS} ns busy wait" spin
fi
echo
printf 'parsed-key floor: %.2f us per RS256 check (median of %s rounds, server core);\n' "${m[floor]}" "$ROUNDS"
printf 'rate it allows: 1 / (1/bare + floor) = %s requests/s\n' "$(thousands "$floor_allowed")"
echo
printf '| %-52s | %6s | %-7s | %-4s |\n' "target (issue 14)" "ratio" "target" ""
echo "| --- | ---: | --- | --- |"
target "crate, repeated / bare" "$(ratio "${m[crate_rep]}" "${m[bare]}")" ">=" 0.95
target "crate, distinct / rate the floor allows" "$(ratio "${m[crate_dist]}" "$floor_allowed")" ">=" 0.90
target "crate, distinct / jsonwebtoken + moka, distinct" "$(ratio "${m[crate_dist]}" "${m[moka_dist]}")" ">=" 1.0
target "crate, distinct / Node + aws-jwt-verify, distinct" "$(ratio "${m[crate_dist]}" "${m[node_dist]}")" ">=" 2.0
echo
# Not a target: how much of the repeated gap is the crate's own, with what any layer
# that hands the handler one Arc through the extensions costs taken out, and with what
# no layer that refuses what it cannot vouch for can skip taken out.
printf 'reference (not a target): pass-through layer + one Arc / bare = %s; crate, repeated / that layer = %s\n' \
    "$(ratio "${m[extension]}" "${m[bare]}")" "$(ratio "${m[crate_rep]}" "${m[extension]}")"
printf 'reference (not a target): minimal layer / bare = %s; crate, repeated / minimal layer = %s\n' \
    "$(ratio "${m[minimal]}" "${m[bare]}")" "$(ratio "${m[crate_rep]}" "${m[minimal]}")"
# How far the rounds of one server lie apart. The repeated target's margin is 5 %: a
# host whose rounds of the same server spread wider than that cannot tell it.
spread() {
    tr ' ' '\n' | grep . | sort -g |
        awk -v m="$1" '{ v[NR] = $1 } END { printf "%.1f", 100 * (v[NR] - v[1]) / m }'
}
declare -A spread_of
for name in bare minimal crate_rep; do
    spread_of[$name]=$(spread "${m[$name]}" <<<"${results[$name]}")
done
echo "spread of the rounds ((highest - lowest) / median): bare ${spread_of[bare]} %," \
    "minimal layer ${spread_of[minimal]} %, crate, repeated ${spread_of[crate_rep]} %"
if awk -v s="${spread_of[bare]}" 'BEGIN { exit !(s > 5) }'; then
    echo "bare's rounds spread wider than the repeated target's 5 %: its PASS or MISS here is within the noise"
fi
echo
echo "took $((SECONDS - started)) s"
