#!/usr/bin/env bash
# Local Amazon Cognito emulators for tower-cognito end-to-end tests.
#
#   bash .ci/emulators.sh install        # .e2e/venv (moto[server]) + .e2e/npm (cognito-local), pinned
#   bash .ci/emulators.sh start          # start both on free 127.0.0.1 ports, write .e2e/env
#   bash .ci/emulators.sh stop           # stop both (never fails)
#   bash .ci/emulators.sh run -- CMD...  # install, start, run CMD with .e2e/env exported, always stop
#
# Pins: .ci/e2e-requirements.txt (pip), .ci/e2e-package.json + .ci/e2e-package-lock.json (npm).
# Findings about both emulators: .ci/EMULATORS.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CI_DIR="$ROOT/.ci"
E2E="$ROOT/.e2e"
VENV="$E2E/venv"
NPM_DIR="$E2E/npm"
REQS="$CI_DIR/e2e-requirements.txt"
PKG_JSON="$CI_DIR/e2e-package.json"
PKG_LOCK="$CI_DIR/e2e-package-lock.json"
COGNITO_LOCAL_JS="$NPM_DIR/node_modules/cognito-local/lib/bin/start.js"
COGNITO_DATA="$E2E/cognito-local"   # cognito-local's working dir; it keeps .cognito/ in there
ENV_FILE="$E2E/env"
START_TIMEOUT="${E2E_START_TIMEOUT:-60}"

log() { echo "[emulators] $*" >&2; }
die() { echo "[emulators] ERROR: $*" >&2; exit 1; }

sha() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------- install
install_python() {
  local stamp="$VENV/.e2e-requirements.sha256" want
  want="$(sha "$REQS")"
  if [[ -x "$VENV/bin/moto_server" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "python: .e2e/venv up to date ($(grep -m1 '^moto' "$REQS"))"
    return 0
  fi
  command -v python3 >/dev/null || die "python3 not found"
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "python: creating .e2e/venv"
    python3 -m venv "$VENV"
  fi
  log "python: installing pinned packages from .ci/e2e-requirements.txt"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQS"
  "$VENV/bin/python" - <<'PY'
import importlib.metadata as m
print("[emulators] python: moto", m.version("moto"), "boto3", m.version("boto3"))
PY
  echo "$want" > "$stamp"
}

install_node() {
  local stamp="$NPM_DIR/.e2e-package.sha256" want
  want="$(sha "$PKG_JSON" "$PKG_LOCK")"
  if [[ -f "$COGNITO_LOCAL_JS" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "node: .e2e/npm up to date (cognito-local $(node -p "require('$NPM_DIR/node_modules/cognito-local/package.json').version"))"
    return 0
  fi
  command -v node >/dev/null || die "node not found"
  command -v npm >/dev/null || die "npm not found"
  mkdir -p "$NPM_DIR"
  cp "$PKG_JSON" "$NPM_DIR/package.json"
  cp "$PKG_LOCK" "$NPM_DIR/package-lock.json"
  log "node: npm ci (cognito-local, pinned by .ci/e2e-package-lock.json)"
  # --ignore-scripts: the only install script in the tree is aws-sdk's deprecation notice.
  (cd "$NPM_DIR" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >&2
  [[ -f "$COGNITO_LOCAL_JS" ]] || die "cognito-local not found at $COGNITO_LOCAL_JS after npm ci"
  log "node: cognito-local $(node -p "require('$NPM_DIR/node_modules/cognito-local/package.json').version")"
  echo "$want" > "$stamp"
}

cmd_install() {
  mkdir -p "$E2E"
  install_python
  install_node
}

# ---------------------------------------------------------------- start / stop
free_ports() { # prints N distinct free ports on 127.0.0.1, chosen by the OS
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# start_bg NAME LOGFILE CMD... : start CMD in its own session (pgid == pid), record pid
start_bg() {
  local name="$1" logfile="$2"; shift 2
  if command -v setsid >/dev/null; then
    setsid "$@" >"$logfile" 2>&1 </dev/null &
  else
    "$@" >"$logfile" 2>&1 </dev/null &
  fi
  echo "$!" > "$E2E/$name.pid"
}

# alive PID : the process exists and is not a zombie. The emulators are orphans once `start`
# returns, so after they exit they stay zombies until init reaps them (1-2 s on some VMs),
# and `kill -0` alone would still call them alive.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null || true)"
  [[ "$state" != "Z" ]]
}

# wait_http NAME URL LOGFILE : wait until URL answers over HTTP (any status), bounded
wait_http() {
  local name="$1" url="$2" logfile="$3" pid deadline
  pid="$(cat "$E2E/$name.pid")"
  deadline=$((SECONDS + START_TIMEOUT))
  while (( SECONDS < deadline )); do
    if ! alive "$pid"; then
      log "$name exited before answering on $url; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 || true
      return 1
    fi
    if curl -s -o /dev/null --max-time 2 "$url"; then
      log "$name is up at $url (pid $pid)"
      return 0
    fi
    sleep 0.3
  done
  log "$name did not answer on $url within ${START_TIMEOUT}s; last lines of $logfile:"
  tail -n 40 "$logfile" >&2 || true
  return 1
}

cmd_start() {
  [[ -x "$VENV/bin/moto_server" ]] || die "moto not installed: run 'bash .ci/emulators.sh install' first"
  [[ -f "$COGNITO_LOCAL_JS" ]] || die "cognito-local not installed: run 'bash .ci/emulators.sh install' first"
  command -v curl >/dev/null || die "curl not found"
  mkdir -p "$E2E"
  cmd_stop >/dev/null 2>&1 || true
  rm -f "$ENV_FILE"

  local ports moto_port cl_port
  ports="$(free_ports 2)"
  read -r moto_port cl_port <<<"$ports"

  # moto: in-memory, so each start is fresh.
  start_bg moto "$E2E/moto.log" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port"

  # cognito-local: keeps pools in ./.cognito/db of its working dir; wipe it on every start.
  rm -rf "$COGNITO_DATA"
  mkdir -p "$COGNITO_DATA/.cognito"
  # UsernameAttributes [] : plain usernames (the default ["email"] makes the username an e-mail alias).
  cat > "$COGNITO_DATA/.cognito/config.json" <<'JSON'
{
  "UserPoolDefaults": { "UsernameAttributes": [] }
}
JSON
  local node_bin; node_bin="$(command -v node)" || die "node not found"
  start_bg cognito-local "$E2E/cognito-local.log" \
    env -C "$COGNITO_DATA" HOST=127.0.0.1 PORT="$cl_port" "$node_bin" "$COGNITO_LOCAL_JS"

  local ok=1
  wait_http moto "http://127.0.0.1:$moto_port/moto-api/" "$E2E/moto.log" || ok=0
  wait_http cognito-local "http://127.0.0.1:$cl_port/health" "$E2E/cognito-local.log" || ok=0
  if (( ! ok )); then
    cmd_stop >/dev/null 2>&1 || true
    die "an emulator did not come up (see above and .e2e/*.log)"
  fi

  cat > "$ENV_FILE" <<EOF
MOTO_ENDPOINT=http://127.0.0.1:$moto_port
COGNITO_LOCAL_ENDPOINT=http://127.0.0.1:$cl_port
EOF
  log "wrote $ENV_FILE:"
  sed 's/^/[emulators]   /' "$ENV_FILE" >&2
}

stop_one() {
  local name="$1" pidfile="$E2E/$1.pid" pid i
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || true   # its process group (started with setsid)
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}

cmd_stop() {
  stop_one moto || true
  stop_one cognito-local || true
  rm -f "$ENV_FILE"
  return 0
}

# ---------------------------------------------------------------- run
cmd_run() {
  [[ "${1:-}" == "--" ]] && shift
  (( $# > 0 )) || die "usage: $0 run -- CMD [ARGS...]"
  cmd_install
  CHILD=""
  trap 'cmd_stop' EXIT
  trap 'on_signal 130' INT
  trap 'on_signal 143' TERM
  trap 'on_signal 129' HUP
  cmd_start
  # CMD runs in the background and we `wait` for it, so a signal to this script is
  # handled at once (a foreground child would delay the trap until it exits); the
  # signal is forwarded to CMD as SIGTERM, then the EXIT trap stops the emulators.
  exec 3<&0
  (
    set -a
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    set +a
    exec "$@" <&3 3<&-
  ) &
  CHILD=$!
  local status=0
  wait "$CHILD" || status=$?
  CHILD=""
  exit "$status"
}

on_signal() {
  trap - INT TERM HUP
  if [[ -n "${CHILD:-}" ]]; then
    kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
  exit "$1"
}

case "${1:-}" in
  install) shift; cmd_install "$@" ;;
  start)   shift; cmd_start "$@" ;;
  stop)    shift; cmd_stop "$@" ;;
  run)     shift; cmd_run "$@" ;;
  *) echo "usage: $0 {install|start|stop|run -- CMD...}" >&2; exit 2 ;;
esac
