#!/usr/bin/env bash
# deploy/demo.sh — `make demo`: a local streamfleet cluster on loopback.
#
# Makes certificates in a temporary directory, starts one controller and
# three agents with simulated streams (free ports), waits until the listing
# shows every stream, prints it with the nodes, the web page's address and
# how to point the CLI at it, then runs until Ctrl-C or for DEMO_SECONDS
# seconds and stops everything it started (by pid).
#
# Environment: DEMO_SECONDS (0 = until Ctrl-C), DEMO_STREAMS (simulated
# streams per agent, 50), DEMO_KEEP=1 keeps the temporary directory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
SECONDS_TO_RUN=${DEMO_SECONDS:-0}
PER_AGENT=${DEMO_STREAMS:-50}
NODES=(media-1 media-2 media-3)
D=$(mktemp -d /tmp/streamfleet-demo.XXXXXX)
PIDS=()

stop_all() {
  local p
  trap - EXIT INT TERM
  echo
  echo "demo: stopping what it started (pids ${PIDS[*]:-none})"
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "demo: kept $D (logs in $D/*.log)"
  else rm -rf "$D"; echo "demo: removed $D and its logs (DEMO_KEEP=1 keeps them)"; fi
}
trap stop_all EXIT
trap 'exit 0' INT TERM

free_port() {
  local p
  while :; do
    # below the kernel's ephemeral range (32768+), and not in use in any state
    p=$(( 20000 + RANDOM % 12000 ))
    ss -tan "( sport = :$p )" 2>/dev/null | grep -q ":$p" || { echo "$p"; return; }
  done
}
# start NAME CMD...: runs CMD in the background, logging to $D/NAME.log
start() {
  local name=$1; shift
  "$@" >"$D/$name.log" 2>&1 &
  PIDS+=("$!")
}
sf() { "$BIN/streamfleet" "$@"; }

# ---------------------------------------------------------------------------
# Hook for real media servers (issue 3). When deploy/demo-media.sh exists and
# defines demo_media_start, it is called after the controller is up with:
#   $1 the controller's agent endpoint, $2 the certificate directory ($D/keys),
#   $3 the directory of admitted certificates ($D/allowed), $4 the work dir.
# It may start nginx-rtmp, ffmpeg cameras and their agents (register each pid
# with `start NAME CMD...` so that they are stopped with the rest), prints what
# it started, and returns 0; it returns non-zero when the real parts are not
# installed, and the demo then runs simulated agents only. It may set
# DEMO_MEDIA_STREAMS to the number of streams its agents will report.
DEMO_MEDIA_STREAMS=0
demo_real_media() {
  [ -f "$ROOT/deploy/demo-media.sh" ] || return 1
  # shellcheck source=/dev/null
  source "$ROOT/deploy/demo-media.sh"
  declare -F demo_media_start >/dev/null || return 1
  demo_media_start "$@"
}

# ---------------------------------------------------------------------------
[ -x "$BIN/streamfleet-controller" ] || { echo "demo: build first (make)" >&2; exit 1; }
echo "demo: work directory $D"

# Certificates: the controller's, an operator's, and one per agent (its node
# id in the metadata). The controller admits the public halves in allowed/.
mkdir -p "$D/keys" "$D/allowed"
sf keygen --role controller --name demo-controller --out "$D/keys/controller" >/dev/null
sf keygen --role cli --name operator --out "$D/keys/operator" >/dev/null
cp "$D/keys/operator" "$D/allowed/operator.cert"
for n in "${NODES[@]}"; do
  sf keygen --role agent --node "$n" --out "$D/keys/$n" >/dev/null
  cp "$D/keys/$n" "$D/allowed/$n.cert"
done

PA=$(free_port); PQ=$(free_port); PP=$(free_port); PH=$(free_port)
start controller "$BIN/streamfleet-controller" --id demo --data-dir "$D/data" \
  --cert "$D/keys/controller" --certs-dir "$D/allowed" \
  --agents "tcp://127.0.0.1:$PA" --query "tcp://127.0.0.1:$PQ" \
  --peers "tcp://127.0.0.1:$PP" --http "127.0.0.1:$PH"
export STREAMFLEET_CONTROLLERS=tcp://127.0.0.1:$PQ
export STREAMFLEET_CERT=$D/keys/operator
export STREAMFLEET_SERVER_CERT=$D/keys/controller

for _ in $(seq 1 50); do sf nodes >/dev/null 2>&1 && break; sleep 0.2; done
sf nodes >/dev/null 2>&1 || { echo "demo: the controller did not start:" >&2; cat "$D/controller.log" >&2; exit 1; }
echo "demo: controller up (agents tcp://127.0.0.1:$PA, queries tcp://127.0.0.1:$PQ, http 127.0.0.1:$PH)"

real=0
if demo_real_media "tcp://127.0.0.1:$PA" "$D/keys" "$D/allowed" "$D"; then
  real=1
  echo "demo: real media servers started (deploy/demo-media.sh)"
fi

i=0
for n in "${NODES[@]}"; do
  i=$((i + 1))
  mkdir -p "$D/agent-$n"
  start "agent-$n" "$BIN/streamfleet-agent" --node "$n" --controllers "tcp://127.0.0.1:$PA" \
    --cert "$D/keys/$n" --server-cert "$D/keys/controller" --state-dir "$D/agent-$n" \
    --source simulate --sim-streams "$PER_AGENT" --sim-seed "$i" \
    --addr-internal "10.0.0.$i" --addr-external "127.0.0.$i" \
    --max-primary-streams $((PER_AGENT * 2)) --max-in-kbps 500000
done
echo "demo: ${#NODES[@]} agents with $PER_AGENT simulated streams each$([ $real = 1 ] || echo ' (nginx-rtmp demo not set up: simulated streams only)')"

expected=$(( ${#NODES[@]} * PER_AGENT + DEMO_MEDIA_STREAMS ))
total=0
for _ in $(seq 1 100); do
  total=$(sf streams --limit 0 -o json 2>/dev/null | sed -n 's/^ *"total": *\([0-9]*\).*/\1/p' | head -1 || true)
  total=${total:-0}
  [ "$total" -ge "$expected" ] && break
  sleep 0.2
done
if [ "$total" -lt "$expected" ]; then
  echo "demo: only $total of $expected streams arrived; logs in $D" >&2
  DEMO_KEEP=1
  exit 1
fi
# The simulator's first state has no bitrate yet; its first tick comes a poll later
sleep 2

echo
echo "== streamfleet streams --limit 30"
sf streams --limit 30
echo
echo "== streamfleet nodes"
sf nodes
# A stream that shows every section of the detail view: a primary, live, with DVR and audio
show=$(sf streams --filter primary,active,dvr,audio --limit 1 -o json 2>/dev/null |
       sed -n 's/^ *"name": *"\([^"]*\)".*/\1/p' | head -1)
cat <<EOF

The web page:   http://127.0.0.1:$PH/
Metrics:        http://127.0.0.1:$PH/metrics

Run the CLI against this cluster from another shell:
  export STREAMFLEET_CONTROLLERS=$STREAMFLEET_CONTROLLERS
  export STREAMFLEET_CERT=$STREAMFLEET_CERT
  export STREAMFLEET_SERVER_CERT=$STREAMFLEET_SERVER_CERT
  $BIN/streamfleet streams --filter secondary,dvr --name cam0001
  $BIN/streamfleet streams show ${show:-media-1-cam00003}
  $BIN/streamfleet streams --sort -bitrate --limit 10 -o wide

Logs: $D/*.log (removed when the demo stops; DEMO_KEEP=1 keeps them)
EOF
if [ "$SECONDS_TO_RUN" -gt 0 ]; then
  echo "demo: running for $SECONDS_TO_RUN s (DEMO_SECONDS), Ctrl-C stops it earlier"
  end=$(( $(date +%s) + SECONDS_TO_RUN ))
  while [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
else
  echo "demo: running until Ctrl-C"
  while :; do sleep 1; done
fi
