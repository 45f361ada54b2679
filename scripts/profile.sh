#!/usr/bin/env bash
# Where a request's time goes over HTTP (issue 14's repeated-token gap): `perf record` of
# `load_server serve` while wrk sends one repeated token to /auth (behind the crate's
# layer) or to /bare, pinned as scripts/load.sh pins them. Prints perf's flat profile
# of the server (symbols above 0.5 %), then the same with callers folded into the
# crate's own functions.
#
#   scripts/profile.sh            # /auth, 10 s
#   scripts/profile.sh bare 10    # /bare
#   PERCENT=0.05 scripts/profile.sh     # the flat profile down to 0.05 % (default 0.5)
#   CALLERS=memmove scripts/profile.sh   # also: who calls the symbols matching memmove
#                                        # (records with DWARF call graphs)
#
# Needs perf and wrk (Debian: linux-perf, wrk). load_server is built as load.sh builds it.
set -euo pipefail

target=${1:-auth}
seconds=${2:-10}
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}

for tool in perf wrk taskset; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
cargo build --release --example load_server >&2
server_bin="$CARGO_TARGET_DIR/release/examples/load_server"

work=$(mktemp -d)
server=
cleanup() {
    if [[ -n $server ]]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$server_bin" mint --dir "$work" --tokens 1 >&2
taskset -c 0 "$server_bin" serve --dir "$work" --port-file "$work/port" --cache 10000 \
    2>"$work/server.log" &
server=$!
for _ in $(seq 300); do
    [[ -s $work/port ]] && break
    sleep 0.2
done
[[ -s $work/port ]] || { cat "$work/server.log" >&2; echo "server did not start" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$work/port")/$target"
header="Authorization: Bearer $(cat "$work/token")"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "$header" "$url")
[[ $status == 200 ]] || { echo "$url answered $status" >&2; exit 1; }

# Warm up, then record the middle of the run.
taskset -c 1 wrk -t1 -c16 -d2s -H "$header" "$url" >/dev/null
taskset -c 1 wrk -t1 -c16 -d"${seconds}s" -H "$header" "$url" >"$work/wrk.out" &
wrk_pid=$!
sleep 1
graph=(-g)
[[ -n ${CALLERS:-} ]] && graph=(--call-graph dwarf,16384 -F 999)
perf record -q -F 2999 "${graph[@]}" -p "$server" -o "$work/perf.data" -- sleep $((seconds - 2)) \
    2>/dev/null
wait "$wrk_pid"
grep -E "Requests/sec" "$work/wrk.out"
echo "--- flat profile of the server ($target)"
perf report -i "$work/perf.data" --no-children --percent-limit "${PERCENT:-0.5}" --stdio -g none \
    2>/dev/null | grep -v '^#' | grep -v '^$'
echo "--- the crate's functions, with what they call"
perf report -i "$work/perf.data" --children --percent-limit 0.5 --stdio -g none \
    2>/dev/null | grep -v '^#' | grep -v '^$' | grep 'tower_cognito' || true
if [[ -n ${CALLERS:-} ]]; then
    echo "--- callers of symbols matching $CALLERS"
    perf report -i "$work/perf.data" --no-children --stdio -G --percent-limit 0.3 \
        --symbol-filter="$CALLERS" 2>/dev/null | grep -v '^#' | grep -v '^$' | head -150
fi
