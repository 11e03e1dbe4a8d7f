#!/usr/bin/env bash
# 18_agent_failover.sh — an agent fails over along its list of controllers
# (issue 2, item 4): with the first endpoint dead it reaches the second within
# its controller timeout and its streams appear; when that controller dies
# and comes back, the agent reconnects and resends or snapshots what changed
# meanwhile, and nothing is duplicated (the total stays exact).
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c2 || { not_ok "controller starts"; exit 1; }
DEAD=tcp://127.0.0.1:$(free_port)          # nothing listens there
CTLS="$DEAD,$CTL_c2_AGENTS"
P=$(free_port)
T0=$(date +%s%N)
start_agent n1 "$CTLS" --sim-streams 15 --sim-seed 4 --sim-churn-pct 0 --poll-interval-ms 200 \
  --controller-timeout-ms 1000
start_agent n2 "$CTLS" --source push --push-listen "127.0.0.1:$P" --poll-interval-ms 200 \
  --controller-timeout-ms 1000
check "the first endpoint is dead: streams appear through the second" wait_until 10 total_is 15 --node n1
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
check "failover took about one controller timeout (1000 ms), not more than 4000 ms (took ${MS} ms)" \
  test "$MS" -le 4000
check "agent log names the dead endpoint that did not answer and the one it tried next" \
  grep -qF "controller $DEAD could not be reached" "$T/agent_n1.log"
check "push agent's endpoint answers" wait_until 10 push_ok "$P" '{"name": "p1"}' '{"name": "p2"}'
check "push agent's streams appear through the second controller" wait_until 10 total_is 2 --node n2

keys() { cli streams -o json --limit 1000 | json_get '" ".join(sorted(r["node"] + "/" + r["name"] for r in d["streams"]))'; }
BEFORE=$(keys)
SEQ=$(cli streams -o json --node n1 | json_get 'max(r["version"]["seq"] for r in d["streams"])')

# The second controller dies; a change is made meanwhile; it comes back
stop c2 KILL
check "a change is pushed while no controller is up" push_ok "$P" '{"name": "p3"}' '{"name": "p1", "deleted": true}'
check "the agent notices and fails over (to the dead one, then round)" \
  wait_until 10 bash -c "[ \$(grep -c 'could not be reached\|went silent' '$T/agent_n1.log') -ge 2 ]"
restart_controller c2 || not_ok "controller restarts"
check "the agents say hello to the returned controller" \
  wait_until 15 bash -c "grep -q 'n1 says hello' '$T/c2.log' && grep -q 'n2 says hello' '$T/c2.log'"
check "the change made while it was down arrives" \
  wait_until 15 bash -c "[ \"\$(names --node n2 --sort name)\" = 'p2 p3' ]"
check "the simulator's updates flow again (seq rises)" \
  wait_until 15 bash -c "[ \$(cli streams -o json --node n1 | json_get 'max(r[\"version\"][\"seq\"] for r in d[\"streams\"])') -gt $SEQ ]"
check "nothing duplicated: exactly 17 placements, each once" \
  bash -c "cli streams -o json --limit 1000 | json_get 'd[\"total\"] == len(d[\"streams\"]) == len({(r[\"node\"], r[\"name\"]) for r in d[\"streams\"]}) == 17' | grep -qx True"
check "n1's placements are the same set as before" \
  bash -c "[ \"\$(cli streams -o json --node n1 | json_get '\" \".join(sorted(r[\"name\"] for r in d[\"streams\"]))')\" = \"$(echo "$BEFORE" | tr ' ' '\n' | grep '^n1/' | sed 's|^n1/||' | tr '\n' ' ' | sed 's/ $//')\" ]"
check "both nodes alive again" \
  wait_until 10 bash -c "[ \$(cli nodes | grep -cE '^n[12] +alive ') = 2 ]"

sf_done
