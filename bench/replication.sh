#!/usr/bin/env bash
# bench/replication.sh — replication figures (`make bench-replication`; never in
# `make test`): 5 controllers on loopback gossiping every 200 ms, 100,000
# placements from 10 simulated agents (1% of running streams change each
# second) spread over them, and one push agent with a probe stream.
#   1. change visible on every controller: p50, p99 (sf_bench_repl)
#   2. gossip bandwidth per controller (streamfleet_gossip_bytes_total)
#   3. convergence after a partition heals (SIGSTOP stands in for the cut:
#      the others see silence, changes pile up; the agents then pause so the
#      end state is still)
#   4. time to detect a dead controller (kill -9): suspect, then dead
# Knobs: REPL_PLACEMENTS (100000 in all, spread over the agents), or
# REPL_STREAMS (per agent; wins over REPL_PLACEMENTS), REPL_AGENTS (10), REPL_COUNT (100
# samples), PARTITION_S (60; 600 for the design's 10-minute partition),
# REPL_FILL_S (1200: how long the initial fill may take), REPL_CTL_ARGS (more
# controller options, e.g. --gossip-patches=false for whole records only, as
# before gossip carried patches: the same run with and without patches).
# Writes the figures into docs/benchmarks.md between "repl:begin"/"repl:end"
# (BENCH_NO_DOCS=1 leaves the file alone).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
TOOLS=$ROOT/build/tools
K=${REPL_AGENTS:-10}
S=${REPL_STREAMS:-$(( ${REPL_PLACEMENTS:-100000} / K ))}
COUNT=${REPL_COUNT:-100}
PART=${PARTITION_S:-60}
TOTAL=$((K * S + 1))
T=$(mktemp -d /tmp/sf-repl.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
[ "${REPL_KEEP:-0}" = 1 ] && trap - EXIT
free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 12000 ))
    ss -tan "( sport = :$p )" 2>/dev/null | grep -q ":$p" || { echo "$p"; return; }
  done
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
py() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

mkdir -p "$T/allowed"
"$BIN/streamfleet" keygen --role controller --out "$T/ctl" >/dev/null
cp "$T/ctl" "$T/allowed/controller.cert"
"$BIN/streamfleet" keygen --role cli --name bench --out "$T/cli" >/dev/null
cp "$T/cli" "$T/allowed/cli.cert"
export STREAMFLEET_CERT=$T/cli STREAMFLEET_SERVER_CERT=$T/ctl
declare -A A Q P H PID
for c in 1 2 3 4 5; do A[$c]=$(free_port); Q[$c]=$(free_port); P[$c]=$(free_port); H[$c]=$(free_port); done
start_ctl() {
  local c=$1
  "$BIN/streamfleet-controller" --id "c$c" --data-dir "$T/c$c" --cert "$T/ctl" --certs-dir "$T/allowed" \
    --agents "tcp://127.0.0.1:${A[$c]}" --query "tcp://127.0.0.1:${Q[$c]}" \
    --peers "tcp://127.0.0.1:${P[$c]}" --http "127.0.0.1:${H[$c]}" \
    --seeds "tcp://127.0.0.1:${P[1]},tcp://127.0.0.1:${P[2]}" --gossip-ms 200 ${REPL_CTL_ARGS:-} >"$T/c$c.log" 2>&1 &
  PID[c$c]=$!
  PIDS+=("$!")
}
for c in 1 2 3 4 5; do start_ctl $c; done
sleep 1
for i in $(seq 1 "$K"); do
  c=$(( (i - 1) % 5 + 1 ))
  "$BIN/streamfleet" keygen --role agent --node "n$i" --out "$T/n$i" >/dev/null
  cp "$T/n$i" "$T/allowed/n$i.cert"
  "$BIN/streamfleet-agent" --node "n$i" --controllers "tcp://127.0.0.1:${A[$c]}" --cert "$T/n$i" \
    --server-cert "$T/ctl" --state-dir "$T/s$i" --source simulate --sim-streams "$S" --sim-seed "$i" \
    --sim-churn-pct 0 --sim-update-pct 1 >"$T/a$i.log" 2>&1 &
  PID[a$i]=$!
  PIDS+=("$!")
done
PUSH=$(free_port)
"$BIN/streamfleet" keygen --role agent --node probe --out "$T/probe" >/dev/null
cp "$T/probe" "$T/allowed/probe.cert"
"$BIN/streamfleet-agent" --node probe --controllers "tcp://127.0.0.1:${A[1]}" --cert "$T/probe" \
  --server-cert "$T/ctl" --state-dir "$T/sp" --source push --push-listen "127.0.0.1:$PUSH" \
  --poll-interval-ms 20 >"$T/probe.log" 2>&1 &
PIDS+=("$!")
# The push agent listens once it has started (seconds on a loaded machine)
for _ in $(seq 1 150); do
  printf '{"name":"probe","status":"active","clients":0}\n' 2>/dev/null > /dev/tcp/127.0.0.1/"$PUSH" && break
  sleep 0.2
done

total_on() { "$BIN/streamfleet" --controller "tcp://127.0.0.1:${Q[$1]}" streams --limit 0 -o json 2>/dev/null | py 'd["total"]'; }
digest_of() { "$BIN/streamfleet" --controller "tcp://127.0.0.1:${Q[$1]}" cluster -o json 2>/dev/null | py '[m["state_digest"] for m in d["members"] if m["self"]][0]'; }
all_have() { local c; for c in "$@"; do [ "$(total_on "$c")" = "$TOTAL" ] || return 1; done; }
same_digest() {
  local first d c
  first=$(digest_of "$1") || return 1
  for c in "$@"; do d=$(digest_of "$c") || return 1; [ "$d" = "$first" ] || return 1; done
}
wait_for() { local end=$(( $(date +%s) + $1 )); shift; until "$@"; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.2; done; }

echo "filling $TOTAL placements over 5 controllers..."
fill_start=$(now_ms)
wait_for "${REPL_FILL_S:-1200}" all_have 1 2 3 4 5 || { echo "not all controllers reached $TOTAL placements" >&2; exit 1; }
fill_ms=$(( $(now_ms) - fill_start ))
echo "all 5 controllers hold $TOTAL placements after ${fill_ms} ms"

eps=""; for c in 1 2 3 4 5; do eps="$eps${eps:+,}tcp://127.0.0.1:${Q[$c]}"; done
repl=$("$TOOLS/sf_bench_repl" --controllers "$eps" --cert "$T/cli" --server-cert "$T/ctl" \
       --push "127.0.0.1:$PUSH" --name probe --count "$COUNT" --pause-ms 100)
echo "$repl"
p50=$(echo "$repl" | sed -n 's/.*repl_p50_ms=\([0-9]*\).*/\1/p')
p99=$(echo "$repl" | sed -n 's/.*repl_p99_ms=\([0-9]*\).*/\1/p')

gossip_bytes() { curl -s "http://127.0.0.1:${H[$1]}/metrics" | awk '/^streamfleet_gossip_bytes_total/ { s += $2 } END { print s + 0 }'; }
declare -A B0
for c in 1 2 3 4 5; do B0[$c]=$(gossip_bytes $c); done
sleep 10
bw_sum=0
for c in 1 2 3 4 5; do bw_sum=$(( bw_sum + $(gossip_bytes $c) - B0[$c] )); done
bw_kib=$(( bw_sum / 5 / 10 / 1024 ))
echo "gossip traffic per controller (in + out): ${bw_kib} KiB/s"
patches_out() { curl -s "http://127.0.0.1:${H[$1]}/metrics" | awk '/^streamfleet_gossip_patches_total\{direction="out"\}/ { s += $2 } END { print s + 0 }'; }
pout=0; for c in 1 2 3 4 5; do pout=$(( pout + $(patches_out $c) )); done
echo "delta entries sent as patches so far, all controllers: $pout"

echo "cutting c5 off for ${PART} s while 1% of streams change each second..."
kill -STOP "${PID[c5]}"
sleep "$PART"
for i in $(seq 1 "$K"); do kill -STOP "${PID[a$i]}"; done
heal=$(now_ms)
kill -CONT "${PID[c5]}"
wait_for 120 same_digest 1 2 3 4 5 || echo "did not converge within 120 s" >&2
conv_ms=$(( $(now_ms) - heal ))
echo "converged ${conv_ms} ms after the partition healed"
for i in $(seq 1 "$K"); do kill -CONT "${PID[a$i]}"; done

state_of() { "$BIN/streamfleet" --controller "tcp://127.0.0.1:${Q[1]}" cluster -o json 2>/dev/null | py "[m['state'] for m in d['members'] if m['id']=='$1'][0]"; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }
not_alive() { local s; s=$(state_of "$1"); [ "$s" = suspect ] || [ "$s" = dead ]; }
sleep 3
kill -KILL "${PID[c4]}"
dead_start=$(now_ms)
wait_for 60 not_alive c4; suspect_ms=$(( $(now_ms) - dead_start ))
wait_for 60 is_state c4 dead; dead_ms=$(( $(now_ms) - dead_start ))
echo "c4 killed: suspect after ${suspect_ms} ms, dead after ${dead_ms} ms"

table=$(cat <<EOF
| figure (5 controllers, $TOTAL placements, gossip every 200 ms, 2 cores) | value |
|---|---|
| initial fill: every controller holds every placement | ${fill_ms} ms |
| a change visible on all 5 controllers, p50 / p99 ($COUNT samples) | ${p50} ms / ${p99} ms |
| gossip traffic per controller, in + out, 1% of streams changing each second${REPL_CTL_ARGS:+ ($REPL_CTL_ARGS)} | ${bw_kib} KiB/s |
| convergence after a ${PART} s partition heals | ${conv_ms} ms |
| a killed controller suspected / declared dead | ${suspect_ms} ms / ${dead_ms} ms |
EOF
)
echo "$table"
DOC=$ROOT/docs/benchmarks.md
if [ "${BENCH_NO_DOCS:-0}" != 1 ] && [ -f "$DOC" ] && grep -q 'repl:begin' "$DOC"; then
  {
    sed '/repl:begin/q' "$DOC"
    echo
    echo "Measured $(date -u +%Y-%m-%d) by \`make bench-replication\` (PARTITION_S=$PART):"
    echo
    echo "$table"
    echo
    sed -n '/repl:end/,$p' "$DOC"
  } > "$T/doc" && cp "$T/doc" "$DOC"
fi
