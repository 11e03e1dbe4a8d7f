#!/usr/bin/env bash
# bench/run.sh — streamfleet's benchmarks (`make bench`; never part of `make test`).
#
# One run on this machine, side by side:
#   1. ingest: K simulated agents (own certificates, one DEALER each) send
#      batches of N stream records to one controller for D seconds; committed
#      updates/s from the controller's acks, batch commit latency p50/p99.
#      The same run fills the controller with K x S placements (100,000).
#   2. query at that size: filtered count + page, plain page, sorted page and
#      detail, over ZeroMQ with CurveZMQ, p50/p99; controller RSS.
#   3. peers with the same record bytes: raw LMDB batch puts, SQLite indexed
#      upserts (and the query workload with indexes), Redis pipelined HSET.
# Prints a table and writes it into docs/benchmarks.md between the
# "bench:begin" and "bench:end" markers (BENCH_NO_DOCS=1 leaves the file alone).
#
# Knobs (environment): BENCH_AGENTS (10), BENCH_STREAMS (10000 per agent),
# BENCH_BATCH (1000), BENCH_WINDOW (4), BENCH_SECONDS (10), BENCH_PEER_SECONDS (5),
# BENCH_ITER (200 list queries of each kind; 5x as many details).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
TOOL=$ROOT/build/tools/sf_bench_ingest
K=${BENCH_AGENTS:-10}
S=${BENCH_STREAMS:-10000}
N=${BENCH_BATCH:-1000}
W=${BENCH_WINDOW:-4}
D=${BENCH_SECONDS:-10}
PD=${BENCH_PEER_SECONDS:-5}
I=${BENCH_ITER:-200}
T=$(mktemp -d /tmp/sf-bench.XXXXXX)
OUT=$T/results.txt
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap cleanup EXIT INT TERM

free_port() {
  local p
  while :; do
    # below the kernel's ephemeral range (32768+), and not in use in any state
    p=$(( 20000 + RANDOM % 12000 ))
    ss -tan "( sport = :$p )" 2>/dev/null | grep -q ":$p" || { echo "$p"; return; }
  done
}
wait_for() {  # wait_for SECONDS CMD...
  local end=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$end" ] && return 1
    sleep 0.2
  done
}
result() { awk -v k="$1" '$1 == "RESULT" && $2 == k { print $3 }' "$OUT" | tail -1; }
# rss_kib PID FIELD: VmRSS, RssAnon (heap, stacks: the process's own memory) or
# RssFile (mapped file pages: LMDB's map, shared with the page cache), KiB
rss_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

[ -x "$TOOL" ] || { echo "bench: $TOOL is missing; run make first" >&2; exit 1; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
cores=$(nproc)
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "streamfleet benchmarks: $cores cores ($cpu), $mem RAM, load average $load, data in $T"
echo "  $K agents x $S placements, batches of $N, window $W, ingest ${D}s, peers ${PD}s"
echo

# Certificates: a controller, a CLI user, and one agent per simulated node
mkdir -p "$T/keys" "$T/allowed"
"$BIN/streamfleet" keygen --role controller --out "$T/keys/controller" >/dev/null
"$BIN/streamfleet" keygen --role cli --name bench --out "$T/keys/cli" >/dev/null
cp "$T/keys/cli" "$T/allowed/cli.cert"
for k in $(seq 1 "$K"); do
  node=$(printf 'b%02d' "$k")
  "$BIN/streamfleet" keygen --role agent --node "$node" --out "$T/keys/$node" >/dev/null
  cp "$T/keys/$node" "$T/allowed/$node.cert"
done

PA=$(free_port); PQ=$(free_port); PP=$(free_port); PH=$(free_port)
start_controller() {  # start_controller LOGLEVEL
  "$BIN/streamfleet-controller" --data-dir "$T/data" --cert "$T/keys/controller" \
    --certs-dir "$T/allowed" --agents "tcp://127.0.0.1:$PA" --query "tcp://127.0.0.1:$PQ" \
    --peers "tcp://127.0.0.1:$PP" --http "127.0.0.1:$PH" --log-level "$1" >>"$T/controller.log" 2>&1 &
  CTL=$!
}
start_controller warn
PIDS+=("$CTL")
export STREAMFLEET_CERT=$T/keys/cli STREAMFLEET_SERVER_CERT=$T/keys/controller
wait_for 10 "$BIN/streamfleet" --controller "tcp://127.0.0.1:$PQ" nodes ||
  { echo "bench: the controller did not start:" >&2; cat "$T/controller.log" >&2; exit 1; }

echo "== ingest"
"$TOOL" ingest --endpoint "tcp://127.0.0.1:$PA" --server-cert "$T/keys/controller" --keys "$T/keys" \
  --agents "$K" --streams "$S" --batch "$N" --window "$W" --seconds "$D" | tee -a "$OUT"
echo
echo "== query"
"$TOOL" query --endpoint "tcp://127.0.0.1:$PQ" --server-cert "$T/keys/controller" --cert "$T/keys/cli" \
  --agents "$K" --streams "$S" --iterations "$I" --http "http://127.0.0.1:$PH" | tee -a "$OUT"
rss_kb=$(rss_kib "$CTL" VmRSS)
db_bytes=$(du -sb "$T/data" | cut -f1)
echo "RESULT ctl_rss_kib $rss_kb KiB" >>"$OUT"
echo "RESULT ctl_rss_anon_kib $(rss_kib "$CTL" RssAnon) KiB" >>"$OUT"
echo "RESULT ctl_rss_file_kib $(rss_kib "$CTL" RssFile) KiB" >>"$OUT"
echo "RESULT ctl_db_bytes $db_bytes bytes" >>"$OUT"
echo "controller: RSS $((rss_kb / 1024)) MiB (anon $(( $(result ctl_rss_anon_kib) / 1024 )) MiB," \
     "file $(( $(result ctl_rss_file_kib) / 1024 )) MiB), data $((db_bytes / 1048576)) MiB"
echo
echo "== ingest, the realistic mix as patches"
# The same agents carry on (--resume) and send field-level deltas (docs/protocol.md,
# patch): 90 % clients and/or bitrate, 10 % status, functions or DVR ranges
"$TOOL" ingest --endpoint "tcp://127.0.0.1:$PA" --server-cert "$T/keys/controller" --keys "$T/keys" \
  --agents "$K" --streams "$S" --batch "$N" --window "$W" --seconds "$D" --resume --mode patch |
  sed 's/^RESULT ingest_/RESULT patch_ingest_/' | tee -a "$OUT"
echo
echo "== web page"
# Headless Chromium against the same controller (BENCH_WEB=0 skips it)
if [ "${BENCH_WEB:-1}" != 0 ] && command -v node >/dev/null && [ -x /usr/bin/chromium ] &&
   [ -d "$ROOT/tests/web/node_modules/playwright-core" ]; then
  SF_HTTP="127.0.0.1:$PH" SF_PERF_RUNS="${BENCH_WEB_RUNS:-5}" timeout 600 node "$ROOT/tests/web/perf.js" | tee -a "$OUT" ||
    echo "web page: the browser run failed (see above)"
else
  echo "web page: skipped (BENCH_WEB=0, or node, chromium or tests/web/node_modules missing: npm ci in tests/web)"
fi
echo
echo "== query under full ingest"
# The agents carry on their generations (--resume): the fleet stays whole
"$TOOL" ingest --endpoint "tcp://127.0.0.1:$PA" --server-cert "$T/keys/controller" --keys "$T/keys" \
  --agents "$K" --streams "$S" --batch "$N" --window "$W" --seconds "$D" --resume >"$T/load_ingest.txt" 2>&1 &
LOADPID=$!
PIDS+=("$LOADPID")
sleep 1
"$TOOL" query --endpoint "tcp://127.0.0.1:$PQ" --server-cert "$T/keys/controller" --cert "$T/keys/cli" \
  --agents "$K" --streams "$S" --iterations "$(( I / 4 > 10 ? I / 4 : 10 ))" --http "http://127.0.0.1:$PH" \
  --tag load_ | tee -a "$OUT"
wait "$LOADPID" || true
sed -n 's/^RESULT ingest_/RESULT load_ingest_/p' "$T/load_ingest.txt" >>"$OUT"
grep -v '^RESULT' "$T/load_ingest.txt" | tail -3
kill -TERM "$CTL"; wait "$CTL" 2>/dev/null || true
echo
echo "== start-up"
# Open the store and rebuild the read model; the first answer ends start-up
t0=$(date +%s%N)
start_controller info
PIDS+=("$CTL")
wait_for 120 "$BIN/streamfleet" --controller "tcp://127.0.0.1:$PQ" nodes ||
  { echo "bench: the controller did not come back" >&2; exit 1; }
t1=$(date +%s%N)
rm_line=$(grep 'read model:' "$T/controller.log" | tail -1)
echo "$rm_line"
echo "RESULT startup_ms $(( (t1 - t0) / 1000000 )) ms" >>"$OUT"
echo "RESULT rm_rebuild_ms $(echo "$rm_line" | sed -n 's/.* placements in \([0-9]*\) ms.*/\1/p') ms" >>"$OUT"
echo "RESULT rm_kib $(echo "$rm_line" | sed -n 's/.*, \([0-9]*\) KiB.*/\1/p') KiB" >>"$OUT"
rss2_kb=$(rss_kib "$CTL" VmRSS)
echo "RESULT ctl_rss_restart_kib $rss2_kb KiB" >>"$OUT"
echo "RESULT ctl_rss_restart_anon_kib $(rss_kib "$CTL" RssAnon) KiB" >>"$OUT"
echo "RESULT ctl_rss_restart_file_kib $(rss_kib "$CTL" RssFile) KiB" >>"$OUT"
grep 'start-up:\|ready:' "$T/controller.log" | tail -2
echo "start-up $(( (t1 - t0) / 1000000 )) ms to the first answer; RSS after start $((rss2_kb / 1024)) MiB" \
     "(anon $(( $(result ctl_rss_restart_anon_kib) / 1024 )) MiB, file $(( $(result ctl_rss_restart_file_kib) / 1024 )) MiB)"
kill -TERM "$CTL"; wait "$CTL" 2>/dev/null || true
echo

echo "== raw LMDB"
mkdir -p "$T/lmdb"
"$TOOL" lmdb --dir "$T/lmdb" --agents "$K" --streams "$S" --batch "$N" --seconds "$PD" | tee -a "$OUT"
rm -rf "$T/lmdb"
echo
echo "== SQLite"
"$TOOL" sqlite --file "$T/bench.sqlite" --agents "$K" --streams "$S" --batch "$N" --seconds "$PD" \
  --iterations "$I" | tee -a "$OUT"
rm -f "$T"/bench.sqlite*
echo
echo "== Redis"
if command -v redis-server >/dev/null; then
  RP=$(free_port)
  redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$T" \
    --daemonize no >"$T/redis.log" 2>&1 &
  RPID=$!
  PIDS+=("$RPID")
  wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RP" || { echo "bench: redis did not start" >&2; exit 1; }
  "$TOOL" redis --port "$RP" --agents "$K" --streams "$S" --batch "$N" --window "$W" --seconds "$PD" \
    | tee -a "$OUT"
  kill -TERM "$RPID"; wait "$RPID" 2>/dev/null || true
else
  echo "redis-server is not installed: skipped"
fi
echo

# ---------------------------------------------------------------------------
# The table
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) { r = a / b; printf (r >= 10 ? "%.0fx" : r >= 0.1 ? "%.2fx" : "%.3fx"), r } else print "-" }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else printf "%\047d", v }'; }
ing=$(result ingest_rate); lm=$(result lmdb_rate); sq=$(result sqlite_rate); rd=$(result redis_rate)
TABLE=$T/table.md
{
  echo "\`make bench\` on $(date -u +%Y-%m-%d), $cores cores ($cpu), $mem RAM; load average before the run: $load."
  echo "$K agents x $S placements ($(result record_bytes) bytes per record on average), batches of $N,"
  echo "window $W batches, ingest ${D} s, peers ${PD} s each."
  echo
  echo "| ingest (same record bytes) | rate | streamfleet ÷ it |"
  echo "|---|---:|---:|"
  echo "| **streamfleet controller** (CurveZMQ, decode + validate, LMDB) | $(fmt "$ing") updates/s | 1.0x |"
  pi=$(result patch_ingest_rate)
  echo "| **streamfleet controller, the realistic mix as patches** (90 % clients/bitrate, 10 % status/functions/DVR ranges) | $(fmt "$pi") updates/s | $(ratio "$pi" "$ing") the first row |"
  echo "| raw LMDB batch puts (one txn per batch, no network) | $(fmt "$lm") puts/s | $(ratio "$ing" "$lm") |"
  echo "| SQLite indexed upserts (WAL, synchronous=OFF) | $(fmt "$sq") upserts/s | $(ratio "$ing" "$sq") |"
  echo "| Redis pipelined HSET (pipeline $N, $((W < K ? W : K)) connections) | $(fmt "$rd") HSET/s | $(ratio "$ing" "$rd") |"
  echo
  echo "Controller batch commit latency (batch sent → ack): p50 $(result ingest_p50) ms, p99 $(result ingest_p99) ms;"
  echo "with patches p50 $(result patch_ingest_p50) ms, p99 $(result patch_ingest_p99) ms. The first row includes the fill"
  echo "(every placement sent whole once); the peers write whole records, so the ratios are against the first row."
  echo
  echo "| query at $(fmt "$(result query_streams)") placements | streamfleet p50 | p99 | SQLite (indexes) p50 | p99 | SQLite ÷ streamfleet (p50) |"
  echo "|---|---:|---:|---:|---:|---:|"
  for q in filtered:"count + page of 100, \`secondary,dvr\` + name \`cam001\`" \
           plain:"count + first page of 100, no filter" \
           bitrate:"count + first page of 100 sorted by \`-bitrate\`" \
           deep_name:"count + page at offset $(fmt "$(result q_deep_offset)") by name" \
           deep_bitrate:"count + page at offset $(fmt "$(result q_deep_offset)") by \`-bitrate\`" \
           detail:"detail of one stream"; do
    key=${q%%:*}; label=${q#*:}
    a=$(result "q_${key}_p50"); b=$(result "q_${key}_p99")
    c=$(result "sqlite_q_${key}_p50"); d=$(result "sqlite_q_${key}_p99")
    echo "| $label | ${a:--} ms | ${b:--} ms | ${c:--} ms | ${d:--} ms | $(ratio "$c" "$a") |"
  done
  echo
  echo "| first page of 100 sorted by | ascending p50 | p99 | descending p50 | p99 |"
  echo "|---|---:|---:|---:|---:|"
  for c in name node status type clients bitrate uptime reconnects source; do
    echo "| \`$c\` | $(result "q_sort_${c}_asc_p50") ms | $(result "q_sort_${c}_asc_p99") ms |" \
         "$(result "q_sort_${c}_desc_p50") ms | $(result "q_sort_${c}_desc_p99") ms |"
  done
  echo "| page after a keyset cursor (\`-bitrate\`) | $(result q_after_p50) ms | $(result q_after_p99) ms | | |"
  echo
  echo "| over HTTP (libcurl, one connection) | p50 | p99 | under full ingest p50 | p99 |"
  echo "|---|---:|---:|---:|---:|"
  for q in h_plain:"\`GET /api/v1/streams?limit=100\`" h_filtered:"... \`&filter=secondary,dvr&name=cam001\`" \
           h_bitrate:"... \`&sort=-bitrate\`" h_uptime:"... \`&sort=uptime&filter=active\`" \
           h_metrics:"\`GET /metrics\` (uncached: scrapes 1.1 s apart)"; do
    key=${q%%:*}; label=${q#*:}
    echo "| $label | $(result "${key}_p50") ms | $(result "${key}_p99") ms | $(result "load_${key}_p50") ms | $(result "load_${key}_p99") ms |"
  done
  echo
  echo "| web page in headless Chromium (\`tests/web/perf.js\`), click to rows | p50 | max |"
  echo "|---|---:|---:|"
  for q in first_rows:"first rows (navigation)" chip:"a chip (Secondary)" sort:"a sort (bitrate header)" \
           next_page:"next page" last_page:"last page"; do
    key=${q%%:*}; label=${q#*:}
    echo "| $label | $(result "web_${key}_p50") ms | $(result "web_${key}_max") ms |"
  done
  echo
  echo "Under full ingest (the same agents carrying on, \`--resume\`): ingest $(fmt "$(result load_ingest_rate)") updates/s" \
       "($(ratio "$(result load_ingest_rate)" "$ing") of the quiet rate) while the queries ran;"
  echo "filtered count + page p50 $(result load_q_filtered_p50) / p99 $(result load_q_filtered_p99) ms," \
       "\`-bitrate\` first page p50 $(result load_q_bitrate_p50) / p99 $(result load_q_bitrate_p99) ms," \
       "deep page by name p50 $(result load_q_deep_name_p50) / p99 $(result load_q_deep_name_p99) ms."
  echo
  echo "Start-up (open LMDB, rebuild the read model, first answer): $(result startup_ms) ms;" \
       "the rebuild itself $(result rm_rebuild_ms) ms; the read model's two copies $(( $(result rm_kib) / 1024 )) MiB" \
       "($(awk -v m="$(result rm_kib)" -v n="$(result query_streams)" 'BEGIN { if (n > 0) printf "%.0f", m * 1024 / n; else print "-" }') bytes per placement)."
  echo
  per() { awk -v r="$1" -v n="$(result query_streams)" 'BEGIN { if (n > 0 && r != "") printf "%.0f", r * 1024 / n; else print "-" }'; }
  mib() { awk -v r="$1" 'BEGIN { if (r != "") printf "%d", r / 1024; else print "-" }'; }
  echo "Controller at $(fmt "$(result query_streams)") placements: RSS $(mib "$(result ctl_rss_kib)") MiB" \
       "($(per "$(result ctl_rss_kib)") bytes per placement)," \
       "LMDB data $(( $(result ctl_db_bytes) / 1048576 )) MiB."
  echo
  echo "| controller memory (\`/proc/PID/status\`) | after the fill | bytes per placement | after a restart | bytes per placement |"
  echo "|---|---:|---:|---:|---:|"
  for q in rss:"VmRSS (resident, all)" rss_anon:"RssAnon (its own: heap, read model, buffers)" \
           rss_file:"RssFile (LMDB's map: page-cache pages it has mapped)"; do
    key=${q%%:*}; label=${q#*:}
    a=$(result "ctl_${key}_kib"); b=$(result "ctl_${key/rss/rss_restart}_kib")
    echo "| $label | $(mib "$a") MiB | $(per "$a") | $(mib "$b") MiB | $(per "$b") |"
  done
  echo "The streamfleet query figures are request → reply over ZeroMQ + CurveZMQ from one CLI connection;"
  echo "SQLite's are in-process statement times (no network), so the comparison favours SQLite."
} >"$TABLE"
echo "================================================================"
cat "$TABLE"

if [ "${BENCH_NO_DOCS:-0}" != 1 ] && [ -f "$ROOT/docs/benchmarks.md" ] &&
   grep -q '<!-- bench:begin -->' "$ROOT/docs/benchmarks.md"; then
  awk -v table="$TABLE" '
    /<!-- bench:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- bench:end -->/ { skip = 0 }
    !skip { print }' "$ROOT/docs/benchmarks.md" >"$T/benchmarks.md"
  cp "$T/benchmarks.md" "$ROOT/docs/benchmarks.md"
  echo
  echo "figures written into docs/benchmarks.md"
fi
