#!/usr/bin/env bash
# 80_ingest_wedge.sh — a snapshot larger than --batch-records must not stop
# ingest (issue 12, item 1). The ingest loop bounds each write transaction by
# its record count; that count was reset only when a transaction opened, so
# after a snapshot of more than --batch-records placements the loop stopped
# reading (it polled, found the count at its bound, committed nothing and
# polled again) until the tombstone clean-up opened a transaction a minute
# later. Meanwhile heartbeats went unread, every node went down and new
# agents were not heard. Here: the controller is down while an agent with
# 10,000 simulated streams reads its source, so its first snapshot when the
# controller returns holds 10,000 placements (default --batch-records
# 8,192); a second agent must then be heard, and both must stay alive.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 --suspect-ms 2000 --down-ms 4000 || { not_ok "controller starts"; exit 1; }
export STREAMFLEET_CONTROLLERS=$CTL_c1_QUERY
A=$CTL_c1_AGENTS
node_state() { cli nodes 2>/dev/null | awk -v n="$1" '$1 == n { print $2 }'; }
export -f node_state

# The controller is down while the agent reads its source: when it comes
# back, the agent's first snapshot carries all 10,000 placements
stop c1
start_agent big "$A" --sim-streams 10000 --sim-update-pct 10 --heartbeat-ms 500 \
  --controller-timeout-ms 1000
check "the agent runs while its controller is down" \
  wait_until 20 grep -q "could not be reached" "$T/agent_big.log"
restart_controller c1 --suspect-ms 2000 --down-ms 4000 || { not_ok "controller restarts"; exit 1; }
check "the agent's 10,000-placement snapshot is applied" \
  wait_until 40 grep -q "snapshot of big applied: 10000 placements" "$T/c1.log"

start_agent small "$A" --sim-streams 5 --heartbeat-ms 500
check "an agent that connects after the large snapshot is heard" \
  wait_until 15 total_is 5 --node small
check "the large node is alive after its snapshot (its heartbeats are read)" \
  wait_until 5 bash -c '[ "$(node_state big)" = alive ]'
# Its heartbeats keep coming in for longer than --down-ms
sleep 5
check "the large node stayed alive past --down-ms" test "$(node_state big)" = alive
check "the small node stayed alive too" test "$(node_state small)" = alive

sf_done
