#!/usr/bin/env bash
# 86_disk_full.sh — a full disk under the controller's data directory (issue 12,
# item 5). The data directory sits on a small tmpfs mounted under this test's
# own temporary directory (unmounted at exit). When the disk fills, the
# controller names ENOSPC, the data directory and what to do in its log, asks
# the agent to retry with a growing back-off (not to resend its whole snapshot
# every second), keeps answering queries with what it has, and takes the
# agent's changes by itself once space returns. Before, the failure was logged
# as a bare commit error and every failed commit asked for a new snapshot.
# Alerts and webhooks on the same disk: a node that goes down while the disk
# is full fires its alert; its webhook delivery, which the full disk keeps
# from the queue (the queue names ENOSPC and its directory), is tried (the
# receiver is down), written once space returns, and delivered once the
# receiver is back, also across a controller restart; the alert's episode
# is in the alert history after the restart.
source "$(dirname "$0")/../lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "ok - # SKIP mounting a tmpfs needs root"; exit 0; }
DISK="$T/disk"
mkdir -p "$DISK"
mount -t tmpfs -o size=16m tmpfs "$DISK" || { not_ok "a 16 MiB tmpfs mounts under \$T"; exit 1; }
disk_down() { stop agent_n1; stop agent_n2; stop receiver; stop c1; umount "$DISK" 2>/dev/null || umount -l "$DISK"; }
trap 'disk_down; sf_cleanup' EXIT

sf_keys || { not_ok "keys"; exit 1; }
# start_controller with the data directory on the tmpfs, with an alert rule
# and a webhook whose receiver is down for now
pa=$(free_port); pq=$(free_port); pp=$(free_port); W=$(free_port)
C1=("$BIN/streamfleet-controller" --data-dir "$DISK/data" --map-size-mb 16
   --cert "$T/keys/controller" --certs-dir "$T/allowed" --agents "tcp://127.0.0.1:$pa"
   --query "tcp://127.0.0.1:$pq" --peers "" --http "" --suspect-ms 1000 --down-ms 3000
   --alert "recorder-down node-down for=1s resolve=1s node=n2"
   --webhook "ops http://127.0.0.1:$W/hook" --webhook-backoff-ms 200 --webhook-backoff-max-ms 1000
   --webhook-retries 1000)
bg c1 "${C1[@]}"
export STREAMFLEET_CONTROLLERS=tcp://127.0.0.1:$pq
check "the controller starts on the tmpfs" wait_until 10 cli nodes
total() { cli streams --limit 0 -o json 2>/dev/null | json_get 'd["total"]'; }
total_is() { [ "$(total)" = "$1" ]; }

AGENT=(--source simulate --sim-seed 3 --sim-churn-pct 0 --heartbeat-ms 300)
start_agent n1 "tcp://127.0.0.1:$pa" "${AGENT[@]}" --sim-streams 20
start_agent n2 "tcp://127.0.0.1:$pa" "${AGENT[@]}" --sim-streams 0
check "20 placements are stored" wait_until 20 total_is 20
check "n2 is alive" wait_until 20 bash -c "'$BIN/streamfleet' nodes | grep -qE '^n2 +alive'"

# Fill the file system, then restart the agent with many more streams: its
# snapshot needs pages the disk does not have
dd if=/dev/zero of="$DISK/filler" bs=64k 2>/dev/null
stop agent_n1
start_agent n1 "tcp://127.0.0.1:$pa" "${AGENT[@]}" --sim-streams 2000
check "the controller names ENOSPC, the data directory and what to do" \
  wait_until 20 grep -q "data directory $DISK/data is full (ENOSPC).*Free space" "$T/c1.log"
check "the agent is asked to retry, with a growing back-off" \
  wait_until 30 grep -q "asks us to retry in 4000 ms (controller disk full)" "$T/agent_n1.log"
check "the agent is never asked for a snapshot because of the full disk" \
  bash -c "! grep -q 'asking n1 for a snapshot: controller could not store' '$T/c1.log'"
# Every snapshot after the first waited for a retry: none is resent at once
one_per_retry() {
  awk '/snapshot sent/ { if (prev == "snap") bad = 1; prev = "snap" }
       /asks us to retry/ { prev = "retry" } END { exit bad }' "$T/agent_n1.log"
}
check "the agent resends its snapshot only after each retry's wait" one_per_retry
check "queries are answered meanwhile, with what is stored" total_is 20
check "the node stays alive (heartbeats are answered)" \
  bash -c "'$BIN/streamfleet' nodes | grep -qE '^n1 +alive'"

# n2 goes down while the disk is full: its alert fires, and its delivery
# (the receiver is down) is tried with the queue unwritable
stop agent_n2
check "n2's alert fires while the disk is full" \
  wait_until 30 grep -q "alert firing: recorder-down n2" "$T/c1.log"
check "the webhook queue names ENOSPC and its directory" \
  wait_until 20 grep -q "webhooks: the queue in $DISK/data/webhooks cannot be written: the disk holding it is full (ENOSPC).*Free space" "$T/c1.log"
check "the delivery is tried meanwhile (the receiver is down)" \
  wait_until 20 grep -q "webhook ops: .* for recorder-down/n2 (attempt" "$T/c1.log"

rm -f "$DISK/filler"
check "when space returns, the agent's changes land by themselves" wait_until 60 total_is 2000
check "the controller says ingest resumed" grep -q "takes writes again.*ingest resumed" "$T/c1.log"
check "and the snapshots kept waiting for their retries" one_per_retry
check "the webhook queue is written once space returns" \
  wait_until 30 grep -q "webhooks: the queue in $DISK/data/webhooks takes writes again" "$T/c1.log"

# A restart before the receiver is back: the delivery was kept
stop c1
bg c1 "${C1[@]}"
check "the restarted controller reports the pending delivery" \
  wait_until 20 grep -q "webhook ops: 1 deliveries pending from before the restart" "$T/c1.log"
bg receiver "$PYTHON" "$SF_ROOT/tests/helpers/webhook_receiver.py" --port "$W" --log "$T/hooks.jsonl"
hooks() { [ -f "$T/hooks.jsonl" ] && grep -c '"recorder-down/n2"' "$T/hooks.jsonl" || echo 0; }
check "n2's alert, queued while the disk was full, arrives" wait_until 30 bash -c "[ \$(grep -c recorder-down/n2 '$T/hooks.jsonl' 2>/dev/null) -ge 1 ]"
check "and arrives once" bash -c "sleep 2; [ \$(grep -c recorder-down/n2 '$T/hooks.jsonl') -eq 1 ]"
check "its episode is in the alert history after the restart" \
  bash -c "'$BIN/streamfleet' alerts recent --node n2 | grep -q 'recorder-down'"
sf_done
