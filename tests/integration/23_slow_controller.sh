#!/usr/bin/env bash
# 23_slow_controller.sh — an agent never blocks on a controller that stops
# answering (issue 2, item 4; DESIGN §4): the controller is frozen (SIGSTOP,
# its connection stays open), the agent notices the silence within its
# controller timeout, fails over to the next controller and its streams
# appear there, while its source keeps being read.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "first controller starts"; exit 1; }
start_controller c2 || { not_ok "second controller starts"; exit 1; }
Q1=$CTL_c1_QUERY; Q2=$CTL_c2_QUERY
P=$(free_port)
start_agent n1 "$CTL_c1_AGENTS,$CTL_c2_AGENTS" --source push --push-listen "127.0.0.1:$P" \
  --poll-interval-ms 100 --controller-timeout-ms 1000 --heartbeat-ms 200
check "push endpoint answers" wait_until 10 push_ok "$P" '{"name": "s1"}' '{"name": "s2"}'
check "streams reach the first controller" wait_until 10 bash -c "[ \"\$(cli --controller $Q1 streams -o json | json_get 'd[\"total\"]')\" = 2 ]"

kill -STOP "$(pid_of c1)"
T0=$(date +%s%N)
check "the agent keeps answering its source while the controller is frozen" \
  push_ok "$P" '{"name": "s3"}'
check "the agent notices the frozen controller went silent" \
  wait_until 10 grep -q "controller $CTL_c1_AGENTS went silent" "$T/agent_n1.log"
check "its streams appear on the second controller, the change made meanwhile included" \
  wait_until 10 bash -c "[ \"\$(cli --controller $Q2 streams -o json | json_get '\" \".join(sorted(r[\"name\"] for r in d[\"streams\"]))')\" = 's1 s2 s3' ]"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
check "failover from a frozen controller took less than 5 s (${MS} ms)" test "$MS" -lt 5000
check "the node is alive on the second controller" \
  wait_until 5 bash -c "cli --controller $Q2 nodes | grep -qE '^n1 +alive '"
kill -CONT "$(pid_of c1)"

sf_done
