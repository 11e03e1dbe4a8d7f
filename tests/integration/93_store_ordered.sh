#!/usr/bin/env bash
# 93_store_ordered.sh — ordered commits (--store-ordered, issue 11: the LMDB
# flags revisited). With it the environment runs MDB_NOMETASYNC instead of
# MDB_NOSYNC: every commit flushes its own pages (fdatasync) before it writes
# its meta page, so a host crash undoes at most the last commit and cannot
# leave a meta page pointing at pages that never reached the disk. A power
# cut cannot be made here; what can be checked is that the flush is the
# commit's own: with --sync-ms 60000 (no periodic flush within the test) and
# fdatasync made to fail (tests/preload/sf_fail_sync.c), commits fail and
# nothing of them is acknowledged, where without the option they go on
# unflushed; and that nothing acknowledged is lost when the controller is
# killed with -9 during a burst of patches in this mode (as
# 87_kill_deltas.sh checks for the default).
source "$(dirname "$0")/../lib.sh"

SHIM="$TOOLS/sf_fail_sync.so"
[ -f "$SHIM" ] || { not_ok "$SHIM is built (make all)"; exit 1; }
FLAG="$T/fail-sync"
sf_keys || { not_ok "keys"; exit 1; }
agent_key b01
agent_key b02
LD_PRELOAD="$SHIM" SF_FAIL_SYNC="$FLAG" start_controller c1 --store-ordered --sync-ms 60000 ||
  { not_ok "the controller starts with --store-ordered"; exit 1; }
total() { cli streams --limit 0 -o json 2>/dev/null | json_get 'd["total"]'; }
total_is() { [ "$(total)" = "$1" ]; }

start_agent n1 "$CTL_c1_AGENTS" --source simulate --sim-streams 20 --heartbeat-ms 300
check "20 placements are stored" wait_until 20 total_is 20
check "no commit has failed yet" bash -c "! grep -q 'commit failed' '$T/c1.log'"
touch "$FLAG"
check "a commit whose own flush fails fails (no periodic flush is due)" \
  wait_until 20 grep -q "store: commit failed in $T/c1/data: Input/output error" "$T/c1.log"
check "and its changes are not acknowledged: the agent is asked to send them again" \
  wait_until 20 grep -q "asking n1 for a snapshot: controller could not store the last changes" "$T/c1.log"
check "queries are answered meanwhile" total_is 20
rm -f "$FLAG"
start_agent n2 "$CTL_c1_AGENTS" --source simulate --sim-streams 10 --heartbeat-ms 300
check "once flushes work, commits go on" wait_until 30 total_is 30
stop agent_n1
stop agent_n2
stop c1

# kill -9 during a burst of patches, as 87_kill_deltas.sh, in this mode, on a
# controller of its own (verify counts every placement it lists)
unset STREAMFLEET_CONTROLLERS
start_controller c2 --store-ordered --sync-ms 60000 ||
  { not_ok "a second controller starts with --store-ordered"; exit 1; }
ING=("$TOOLS/sf_bench_ingest")
COMMON=(--server-cert "$T/keys/controller" --agents 2 --streams 200)
check "the fill stores 400 placements" \
  "${ING[@]}" ingest --endpoint "$CTL_c2_AGENTS" --keys "$T/keys" "${COMMON[@]}" --batch 50 --seconds 1
bg burst "${ING[@]}" ingest --endpoint "$CTL_c2_AGENTS" --keys "$T/keys" "${COMMON[@]}" --batch 50 \
  --window 4 --seconds 8 --resume --mode patch --acked "$T/acked.txt"
committed() { [ "$(cli streams -o json --node b01 --limit 1000 |
  json_get 'max(r["version"]["seq"] for r in d["streams"])')" -gt 600 ]; }
check "patches are being committed" wait_until 30 committed
stop c2 KILL
check "the controller is gone after kill -9" bash -c "! kill -0 $(pid_of c2) 2>/dev/null"
restart_controller c2 --store-ordered --sync-ms 60000 ||
  not_ok "the controller starts again on its data directory"
check "the burst ends" wait_until 60 bash -c "! kill -0 $(pid_of burst) 2>/dev/null"
check "the burst's agents had patches acknowledged" \
  awk '$3 > $2 { n++ } END { exit n == 2 ? 0 : 1 }' "$T/acked.txt"
check "every acknowledged patch is stored, each placement exactly as its changes leave it" \
  "${ING[@]}" verify --endpoint "$CTL_c2_QUERY" --cert "$T/keys/ops" "${COMMON[@]}" --acked "$T/acked.txt"
sf_done
