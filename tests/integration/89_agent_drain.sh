#!/usr/bin/env bash
# 89_agent_drain.sh — the agent's change buffer gives its memory back once
# drained (issue 11). A simulated node of 2,000 streams changing every 200 ms
# buffers tens of thousands of changes while its controller is stopped
# (SIGSTOP: the connection stays up, nothing is acknowledged); once the
# controller answers again and acknowledges them, the agent shrinks the
# buffer and trims the heap, and says so. Before, the buffer kept its
# high-water size for good.
source "$(dirname "$0")/../lib.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
start_agent n1 "$CTL_c1_AGENTS" --sim-streams 2000 --sim-seed 3 --sim-churn-pct 0 --sim-update-pct 100 \
  --poll-interval-ms 200 --buffer-max 200000 --controller-timeout-ms 60000
total_is() { [ "$(cli streams --limit 0 -o json | json_get 'd["total"]')" = "$1" ]; }
check "2000 simulated streams listed" wait_until 30 total_is 2000
stop_pid=$(pid_of c1)
kill -STOP "$stop_pid"
sleep 4
kill -CONT "$stop_pid"
check "after the controller acknowledges the backlog the agent gives the buffer's memory back" \
  wait_until 30 grep -q 'change buffer drained: [0-9]* KiB given back' "$T/agent_n1.log"
check "updates still flow after the drain" wait_until 15 total_is 2000
sf_done
