#!/usr/bin/env bash
# 84_liveness_log.sh — each node's liveness transitions are logged once, with
# the reason (issue 12, item 8): an agent frozen (SIGSTOP) goes suspect, then
# down, then alive again when it resumes; each transition is one line naming
# the node and why, and nothing repeats while the state holds.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 --suspect-ms 1000 --down-ms 2000 || { not_ok "controller starts"; exit 1; }
start_agent n1 "$CTL_c1_AGENTS" --sim-streams 5 --heartbeat-ms 200
start_agent n2 "$CTL_c1_AGENTS" --sim-streams 5 --heartbeat-ms 200
node_state() { cli nodes 2>/dev/null | awk -v n="$1" '$1 == n { print $2 }'; }
is_state() { [ "$(node_state "$1")" = "$2" ]; }
check "both nodes are alive" wait_until 15 bash -c "$(declare -f node_state is_state); is_state n1 alive && is_state n2 alive"
L=$T/c1.log
kill -STOP "$(pid_of agent_n1)"
check "the frozen node goes down" wait_until 10 is_state n1 down
sleep 1     # the down state holds: no line repeats
check "suspect is logged once, with the silence and the threshold" \
  test "$(log_count "$L" 'node n1 is suspect: no heartbeat for [0-9.]* s (--suspect-ms 1000)')" = 1
check "down is logged once, with the silence and the threshold" \
  test "$(log_count "$L" 'node n1 is down: no heartbeat for [0-9.]* s (--down-ms 2000)')" = 1
kill -CONT "$(pid_of agent_n1)"
check "the node is alive again" wait_until 10 is_state n1 alive
sleep 1
check "back to alive is logged once, with the silence" \
  test "$(log_count "$L" 'node n1 is alive again (was down): its heartbeat rose after [0-9.]* s of silence')" = 1
check "the node that kept beating logged no transition" test "$(log_count "$L" 'node n2 is')" = 0
sf_done
