#!/usr/bin/env bash
# 90_sync_failure.sh — a flush to disk that fails (issue 11, item 1). With
# --sync-ms 0 an agent is acknowledged only after its changes are flushed
# (mdb_env_sync); the data directory's flushes are made to fail with EIO
# (tests/preload/sf_fail_sync.c, preloaded into the controller: fsync and
# fdatasync fail while a flag file exists, as on a dying disk — a real one
# cannot be made here). The controller must log the failure with the data
# directory and the error, count it in /metrics, acknowledge nothing
# meanwhile (the agent is asked to come back later, and its hellos are
# answered the same way), and resume by itself once flushes work again.
# Before, the result of mdb_env_sync was dropped and every commit was
# acknowledged as flushed.
source "$(dirname "$0")/../lib.sh"

SHIM="$TOOLS/sf_fail_sync.so"
[ -f "$SHIM" ] || { not_ok "$SHIM is built (make all)"; exit 1; }
FLAG="$T/fail-sync"
sf_keys || { not_ok "keys"; exit 1; }
LD_PRELOAD="$SHIM" SF_FAIL_SYNC="$FLAG" start_controller c1 --sync-ms 0 ||
  { not_ok "controller started"; exit 1; }
metric() { curl -s "http://$CTL_c1_HTTP/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
total() { cli streams --limit 0 -o json 2>/dev/null | json_get 'd["total"]'; }
total_is() { [ "$(total)" = "$1" ]; }

start_agent n1 "$CTL_c1_AGENTS" --source simulate --sim-streams 20 --heartbeat-ms 300
check "20 placements are stored and acknowledged" wait_until 20 total_is 20
check "no flush has failed yet" metric_is streamfleet_store_sync_failures_total 0
# A hello answered with an ack makes the agent resend what the controller
# lacks ("connected to"), or send a snapshot that the controller then applies
# and acknowledges; a hello answered with a retry does neither
answered() { grep -c "connected to" "$T/agent_n1.log"; }
acked_after_recovery() {
  [ "$(answered)" -gt "$acked_before" ] ||
    awk '/flushes to disk again/ { r = 1 } r && /snapshot of n1 applied/ { ok = 1 } END { exit !ok }' "$T/c1.log"
}

touch "$FLAG"
check "the failed flush is logged with the data directory and the error" \
  wait_until 20 grep -q "flushing the data directory $T/c1/data to disk failed: Input/output error" "$T/c1.log"
check "it is counted in /metrics" bash -c "[ \"\$(curl -s http://$CTL_c1_HTTP/metrics | awk '\$1 == \"streamfleet_store_sync_failures_total\" { print \$2 }')\" -gt 0 ]"
check "and flagged while it lasts" metric_is streamfleet_store_sync_failing 1
check "the agent is not acknowledged: asked to come back later" \
  wait_until 20 grep -q "asks us to retry in 1000 ms (controller could not flush its disk)" "$T/agent_n1.log"
# From here on, while flushes fail, no hello of the agent is answered with an ack
acked_before=$(answered)
# The agent's hello after the wait is answered with another retry, not with
# an ack of what was stored but not flushed: the back-off grows
check "its hellos are answered with retries while flushes fail" \
  wait_until 30 grep -q "asks us to retry in 4000 ms (controller could not flush its disk)" "$T/agent_n1.log"
check "no ack reached the agent meanwhile" bash -c "[ \$(grep -c 'connected to' '$T/agent_n1.log') -eq $acked_before ]"
check "queries are answered meanwhile" total_is 20

rm -f "$FLAG"
check "when flushes work again the controller says so" \
  wait_until 30 grep -q "store: the data directory $T/c1/data flushes to disk again" "$T/c1.log"
check "and the agent is acknowledged again" wait_until 60 acked_after_recovery
check "the failing flag is cleared" metric_is streamfleet_store_sync_failing 0
sf_done
