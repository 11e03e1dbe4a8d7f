#!/usr/bin/env bash
# bench/profile_ingest.sh — where the controller's ingest time goes (`make bench-profile`).
#
# Starts one controller as bench/run.sh does, drives it with the ingest benchmark's
# simulated agents (sf_bench_ingest ingest) and records the controller with
# `perf record --call-graph dwarf` during the steady part of the run. Prints the
# committed rate, the controller's CPU time per committed update (a figure that
# holds up under load, unlike the rate) and the inclusive share of each ingest
# stage, the self share of each thread (the ingest thread against ZeroMQ's I/O
# thread) and the patch and coalescing counters of /metrics. Never part of
# `make test`.
#
# Knobs: PROF_AGENTS (10), PROF_STREAMS (20000 per agent), PROF_SECONDS (12),
# PROF_DELAY (2: seconds into the measured run before recording), PROF_RECORD (5), PROF_FREQ (300),
# PROF_MODE (patch: after the fill, the realistic mix as patches; put: whole records),
# PROF_KEEP=1 keeps perf.data (its directory is printed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
TOOL=$ROOT/build/tools/sf_bench_ingest
K=${PROF_AGENTS:-10}; S=${PROF_STREAMS:-20000}; D=${PROF_SECONDS:-12}
DELAY=${PROF_DELAY:-2}; REC=${PROF_RECORD:-5}; FREQ=${PROF_FREQ:-300}; MODE=${PROF_MODE:-patch}
command -v perf >/dev/null || { echo "bench-profile: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
[ -x "$TOOL" ] || { echo "bench-profile: $TOOL is missing; run make first" >&2; exit 1; }
T=$(mktemp -d /tmp/sf-prof.XXXXXX)
CTL=
cleanup() {
  [ -n "$CTL" ] && kill -TERM "$CTL" 2>/dev/null && wait "$CTL" 2>/dev/null
  [ "${PROF_KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM
free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 12000 ))
    ss -tan "( sport = :$p )" 2>/dev/null | grep -q ":$p" || { echo "$p"; return; }
  done
}
mkdir -p "$T/keys" "$T/allowed"
"$BIN/streamfleet" keygen --role controller --out "$T/keys/controller" >/dev/null
for k in $(seq 1 "$K"); do
  node=$(printf 'b%02d' "$k")
  "$BIN/streamfleet" keygen --role agent --node "$node" --out "$T/keys/$node" >/dev/null
  cp "$T/keys/$node" "$T/allowed/$node.cert"
done
PA=$(free_port); PQ=$(free_port); PP=$(free_port); PH=$(free_port)
"$BIN/streamfleet-controller" --data-dir "$T/data" --cert "$T/keys/controller" --certs-dir "$T/allowed" \
  --agents "tcp://127.0.0.1:$PA" --query "tcp://127.0.0.1:$PQ" --peers "tcp://127.0.0.1:$PP" \
  --http "127.0.0.1:$PH" --log-level warn ${PROF_CTL_ARGS:-} >"$T/controller.log" 2>&1 &
CTL=$!
echo "bench-profile: $K agents x $S placements, ${D}s ($MODE), load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
# The fill first (every placement once, whole), then the measured run on the
# filled store: the agents carry on their generations (--resume)
"$TOOL" ingest --endpoint "tcp://127.0.0.1:$PA" --server-cert "$T/keys/controller" --keys "$T/keys" \
  --agents "$K" --streams "$S" --batch 1000 --window 4 --seconds 1 >"$T/fill.txt" 2>&1 ||
  { echo "bench-profile: the fill failed:" >&2; cat "$T/fill.txt" >&2; exit 1; }
grep '^ingest: .*committed' "$T/fill.txt" | sed 's/^ingest:/fill:/'
( sleep "$DELAY"; perf record -q --call-graph dwarf,16384 -F "$FREQ" -p "$CTL" -o "$T/perf.data" -- sleep "$REC" \
    >/dev/null 2>&1 ) &
PERF=$!
cpu0=$(awk '{ print $14 + $15 }' "/proc/$CTL/stat")
"$TOOL" ingest --endpoint "tcp://127.0.0.1:$PA" --server-cert "$T/keys/controller" --keys "$T/keys" \
  --agents "$K" --streams "$S" --batch 1000 --window 4 --seconds "$D" --resume --mode "$MODE" ${PROF_TOOL_ARGS:-} |
  tee "$T/ingest.txt" | grep -v '^RESULT'
wait "$PERF" || true
cpu1=$(awk '{ print $14 + $15 }' "/proc/$CTL/stat")
acked=$(awk '/changes committed/ { print $2 }' "$T/ingest.txt")
tck=$(getconf CLK_TCK)
awk -v c=$(( cpu1 - cpu0 )) -v t="$tck" -v n="$acked" \
  'BEGIN { printf "controller CPU %.2f s for %d committed updates: %.1f us per update\n", c / t, n, c / t * 1e6 / n }'
perf report -i "$T/perf.data" --children -g none --sort symbol --stdio 2>/dev/null >"$T/children.txt"
echo "inclusive share of the controller's samples ($(grep -m1 '^# Samples' "$T/children.txt" | sed 's/# //')):"
for f in sf_ingest_message sf_msg_parse sf_stream_unpack sf_stream_patch s_put_patch sf_writer_put \
         sf_fleet_apply_put sf_stream_pack sf_store_put_stream_prev s_defer s_flush_all sf_writer_commit s_observe \
         mdb_txn_commit sf_gossip_tick crypto_box_open_afternm crypto_secretbox_open_detached; do
  share=$(grep -m1 -E "\] $f( |$)" "$T/children.txt" | awk '{ print $1 }' || true)
  if [ -n "$share" ]; then printf '  %-32s %s\n' "$f" "$share"; fi
done
# Per thread: the ingest thread against ZeroMQ's I/O thread (ZMQbg/IO/0, where
# CurveZMQ decrypts): more I/O threads (ZMQ_IO_THREADS) help only if that one
# is near a whole core
echo "self share of the controller's samples, by thread:"
perf report -i "$T/perf.data" --no-children --sort comm --stdio 2>/dev/null |
  awk '/^ +[0-9.]+%/ { printf "  %-32s %s\n", $2, $1 }' | head -8
echo "metrics: $(curl -s "http://127.0.0.1:$PH/metrics" 2>/dev/null |
  grep -E '^streamfleet_(ingest_patches_total|store_coalesced_total)' | tr '\n' ' ')"
[ "${PROF_KEEP:-0}" != 1 ] || echo "perf data: $T/perf.data (perf report -i $T/perf.data --children)"
exit 0
