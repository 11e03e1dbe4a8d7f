# tests/lib.sh — shared helpers for integration tests (sourced, bash).
# Every process a test starts is recorded by pid and stopped on exit; every
# file lives under $T, removed on exit (SF_KEEP=1 keeps it for a post-mortem).
# Results are TAP lines: "ok - name" / "not ok - name # why".
# Under tests/run.sh (SF_TEST_LOG_DIR set), the logs under $T (*.log, *.out,
# *.err; the last MiB of each) are copied there on exit, pass or fail, so a
# failure's daemon logs outlive $T; run.sh prints their last lines.

set -u
SF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${SF_BIN:-$SF_ROOT/build/bin}
TOOLS=${SF_TOOLS:-$SF_ROOT/build/tools}
PYTHON=/usr/bin/python3
T=$(mktemp -d "${SF_TMPDIR:-/tmp}/sf-test.XXXXXX")
PIDS=()
SF_FAILS=0

sf_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 1 30); do
    local alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  sf_save_logs
  [ "${SF_KEEP:-0}" = 1 ] && echo "# kept $T" || rm -rf "$T"
}
# sf_save_logs: copies the logs under $T into $SF_TEST_LOG_DIR (if set),
# keeping their paths relative to $T, at most the last MiB of each
sf_save_logs() {
  [ -n "${SF_TEST_LOG_DIR:-}" ] && [ -d "$T" ] || return 0
  local f rel
  mkdir -p "$SF_TEST_LOG_DIR" || return 0
  while IFS= read -r -d '' f; do
    rel=${f#"$T"/}
    mkdir -p "$SF_TEST_LOG_DIR/$(dirname "$rel")" &&
      tail -c 1048576 "$f" >"$SF_TEST_LOG_DIR/$rel" 2>/dev/null
  done < <(find "$T" -xdev -type f \( -name '*.log' -o -name '*.out' -o -name '*.err' \) -print0 2>/dev/null)
  return 0
}
trap sf_cleanup EXIT
# A test stopped by a signal (run.sh's timeout) still cleans up
trap 'exit 130' INT
trap 'exit 143' TERM

ok()     { echo "ok - $1"; }
not_ok() { echo "not ok - $1${2:+ # $2}"; SF_FAILS=$((SF_FAILS + 1)); }
# check NAME CMD...: ok when CMD succeeds
check()  { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n"; fi; }
# wait_until SECONDS CMD...: polls CMD every 0.2 s; 0 when it succeeded in time
wait_until() {
  local limit=$1; shift
  local end=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ $(( $(date +%s%N) / 1000000 )) -ge $end ] && return 1
    sleep 0.2
  done
}
# free_port: a TCP port nobody listens on now, and handed out to nobody else:
# each port is reserved (a directory in SF_PORT_DIR, which tests/run.sh shares
# between the scripts it runs at once; $T/ports otherwise), so two scripts, or
# two calls before the first port is bound, never get the same one
free_port() {
  local p dir=${SF_PORT_DIR:-$T/ports}
  mkdir -p "$dir" 2>/dev/null
  while :; do
    # below the kernel's ephemeral range (32768+), unused in any state
    p=$(( 20000 + RANDOM % 12000 ))
    ss -tan "( sport = :$p )" 2>/dev/null | grep -q ":$p" && continue
    mkdir "$dir/$p" 2>/dev/null || continue
    echo $p; return
  done
}
# bg NAME CMD...: starts CMD in the background, logs to $T/NAME.log, records its pid
bg() {
  local name=$1; shift
  "$@" >"$T/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  eval "PID_${name//[^a-zA-Z0-9_]/_}=$pid"
}
pid_of() { local v="PID_${1//[^a-zA-Z0-9_]/_}"; echo "${!v:-}"; }
# stop NAME [SIGNAL]: stops a process started with bg and waits for it
stop() {
  local pid; pid=$(pid_of "$1"); [ -n "$pid" ] || return 0
  kill -"${2:-TERM}" "$pid" 2>/dev/null
  local i
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  # forget it: a pid the kernel hands out again must never be signalled by us
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
  eval "PID_${1//[^a-zA-Z0-9_]/_}="
  return 0
}

# Certificates: a controller certificate, and client certificates admitted by
# copying their public half into $T/allowed.
sf_keys() {
  mkdir -p "$T/keys" "$T/allowed"
  "$BIN/streamfleet" keygen --role controller --name controller --out "$T/keys/controller" >/dev/null || return 1
  "$BIN/streamfleet" keygen --role cli --name ops --out "$T/keys/ops" >/dev/null || return 1
  cp "$T/keys/ops" "$T/allowed/ops.cert"
  # controllers share the cluster's certificate and talk to each other with it
  cp "$T/keys/controller" "$T/allowed/controller.cert"
  export STREAMFLEET_CERT="$T/keys/ops" STREAMFLEET_SERVER_CERT="$T/keys/controller"
}
# agent_key NODE: makes and admits an agent certificate for NODE
agent_key() {
  "$BIN/streamfleet" keygen --role agent --node "$1" --out "$T/keys/$1" >/dev/null &&
    cp "$T/keys/$1" "$T/allowed/$1.cert"
}
# start_controller NAME [ARGS...]: controller with fresh ports in $T/NAME.
# Sets CTL_<NAME>_AGENTS, CTL_<NAME>_QUERY, CTL_<NAME>_PEERS, CTL_<NAME>_HTTP.
start_controller() {
  local name=$1; shift
  local pa pq pp ph
  pa=$(free_port); pq=$(free_port); pp=$(free_port); ph=$(free_port)
  eval "CTL_${name}_AGENTS=tcp://127.0.0.1:$pa CTL_${name}_QUERY=tcp://127.0.0.1:$pq"
  eval "CTL_${name}_PEERS=tcp://127.0.0.1:$pp CTL_${name}_HTTP=127.0.0.1:$ph"
  mkdir -p "$T/$name"
  bg "$name" "$BIN/streamfleet-controller" --data-dir "$T/$name/data" \
     --cert "$T/keys/controller" --certs-dir "$T/allowed" \
     --agents "tcp://127.0.0.1:$pa" --query "tcp://127.0.0.1:$pq" \
     --peers "tcp://127.0.0.1:$pp" --http "127.0.0.1:$ph" "$@"
  export STREAMFLEET_CONTROLLERS=${STREAMFLEET_CONTROLLERS:-tcp://127.0.0.1:$pq}
  wait_until 10 "$BIN/streamfleet" --controller "tcp://127.0.0.1:$pq" nodes
}
# restart_controller NAME [ARGS...]: same ports and data as before
restart_controller() {
  local name=$1; shift
  local a q p h
  eval "a=\$CTL_${name}_AGENTS q=\$CTL_${name}_QUERY p=\$CTL_${name}_PEERS h=\$CTL_${name}_HTTP"
  bg "$name" "$BIN/streamfleet-controller" --data-dir "$T/$name/data" \
     --cert "$T/keys/controller" --certs-dir "$T/allowed" \
     --agents "$a" --query "$q" --peers "$p" --http "$h" "$@"
  wait_until 10 "$BIN/streamfleet" --controller "$q" nodes
}
# start_agent NODE CONTROLLER_ENDPOINTS [ARGS...]: agent named NODE (key made if needed)
start_agent() {
  local node=$1 ctls=$2; shift 2
  [ -f "$T/keys/$node" ] || agent_key "$node"
  mkdir -p "$T/agent-$node"
  bg "agent_$node" "$BIN/streamfleet-agent" --node "$node" --controllers "$ctls" \
     --cert "$T/keys/$node" --server-cert "$T/keys/controller" \
     --state-dir "$T/agent-$node" "$@"
}
cli() { "$BIN/streamfleet" "$@"; }
# sf_web_deps: tests/web's node modules (npm ci from its lock file, which pins
# playwright-core and brings no browser), installed once: under a lock, so a
# script running beside the one installing them waits instead of installing
# over it or finding them half there. npm's output goes to $T/npm.log.
sf_web_deps() {
  local web=$SF_ROOT/tests/web
  mkdir -p "$SF_ROOT/build"
  (
    flock 9 || exit 1
    [ -d "$web/node_modules/playwright-core" ] && exit 0
    cd "$web" && npm ci --no-audit --no-fund --loglevel=error
  ) 9>"$SF_ROOT/build/.npm-ci.lock" >"$T/npm.log" 2>&1
}
# json_get EXPR: runs a jq-like python expression on stdin JSON (d is the document)
json_get() { $PYTHON -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
sf_done() { [ "$SF_FAILS" -eq 0 ]; }

# --- Three gossiping controllers with three push agents (47_history_retention,
# 48_history_catchup) ----------------------------------------------------------
# sf_trio_up [CONTROLLER ARGS...]: controllers c1, c2, c3 (ids c1..c3, no HTTP,
# c1 and c2 the seeds, gossip every 100 ms, --suspect-ms 3000 --down-ms 60000
# --transfer-timeout 3600, then ARGS), checked to answer; then push agents A, B
# and C on c1 (polled every 200 ms), waited for until they listen. Needs
# sf_keys first. Ports: TRIO_PORT[cN.a], [cN.q], [cN.p] (agents, query,
# peers), TRIO_PUSH[A|B|C] (the push endpoints).
# trio_ctl C [SUFFIX]: starts controller C (again), as bg name C SUFFIX
# trio_q C CLI ARGS...: the CLI against controller C (2 s timeout)
# trio_push NODE LINE: sends one JSON line to NODE's push agent; 0 when it said ok
TRIO_ARGS=()
trio_ctl() {
  local c=$1
  mkdir -p "$T/$c"
  bg "$c${2:-}" "$BIN/streamfleet-controller" --id "$c" --data-dir "$T/$c/data" \
    --cert "$T/keys/controller" --certs-dir "$T/allowed" \
    --agents "tcp://127.0.0.1:${TRIO_PORT[$c.a]}" --query "tcp://127.0.0.1:${TRIO_PORT[$c.q]}" \
    --peers "tcp://127.0.0.1:${TRIO_PORT[$c.p]}" --http "" \
    --seeds "tcp://127.0.0.1:${TRIO_PORT[c1.p]},tcp://127.0.0.1:${TRIO_PORT[c2.p]}" --gossip-ms 100 \
    --suspect-ms 3000 --down-ms 60000 --transfer-timeout 3600 "${TRIO_ARGS[@]}"
}
trio_q() { local c=$1; shift; "$BIN/streamfleet" --controller "tcp://127.0.0.1:${TRIO_PORT[$c.q]}" --timeout-ms 2000 "$@"; }
trio_push() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/${TRIO_PUSH[$1]}" || return 1
  printf '%s\n' "$2" >&3
  read -r -t 3 reply <&3
  exec 3>&-
  [ "$reply" = ok ]
}
sf_trio_up() {
  TRIO_ARGS=("$@")
  declare -gA TRIO_PORT=() TRIO_PUSH=()
  local c n
  for c in c1 c2 c3; do
    TRIO_PORT[$c.a]=$(free_port) TRIO_PORT[$c.q]=$(free_port) TRIO_PORT[$c.p]=$(free_port)
  done
  trio_ctl c1; trio_ctl c2; trio_ctl c3
  trio_answer() { trio_q c1 nodes >/dev/null && trio_q c2 nodes >/dev/null && trio_q c3 nodes >/dev/null; }
  check "three controllers answer" wait_until 15 trio_answer
  for n in A B C; do
    TRIO_PUSH[$n]=$(free_port)
    start_agent "$n" "tcp://127.0.0.1:${TRIO_PORT[c1.a]}" --source push \
      --push-listen "127.0.0.1:${TRIO_PUSH[$n]}" --poll-interval-ms 200
  done
  trio_listening() { (exec 3<>"/dev/tcp/127.0.0.1/${TRIO_PUSH[$1]}") 2>/dev/null; }
  for n in A B C; do wait_until 10 trio_listening "$n"; done
}
