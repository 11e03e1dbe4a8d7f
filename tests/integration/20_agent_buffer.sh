#!/usr/bin/env bash
# 20_agent_buffer.sh — the agent's bounded buffer (issue 2, item 4; DESIGN
# §4): while its controller is away the agent keeps reading its source and
# keeps at most --buffer-max unacknowledged changes, dropping the oldest; when
# the controller returns, a snapshot replaces what was dropped, so the state
# is exact again. It never blocks on the missing controller.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
P=$(free_port)
# 50 streams whose bitrate changes every 100 ms tick: ~500 changes a second
start_agent n1 "$CTL_c1_AGENTS" --sim-streams 50 --sim-seed 9 --sim-churn-pct 0 --poll-interval-ms 100 \
  --buffer-max 100 --controller-timeout-ms 1000
start_agent n2 "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$P" --poll-interval-ms 100 \
  --buffer-max 100 --controller-timeout-ms 1000
check "50 simulated streams listed" wait_until 15 total_is 50 --node n1
check "push endpoint answers" wait_until 10 push_ok "$P" '{"name": "keep"}'
SEQ=$(cli streams -o json --node n1 | json_get 'max(r["version"]["seq"] for r in d["streams"])')

stop c1 KILL
check "with the controller away the agent drops its oldest changes past --buffer-max" \
  wait_until 15 grep -q 'change buffer full' "$T/agent_n1.log"
# 150 new streams while away: more changes than the buffer holds
LINES=(); for i in $(seq 1 150); do LINES+=("{\"name\": \"away-$i\", \"clients\": $i}"); done
LINES+=('{"name": "keep", "deleted": true}' '{"name": "away-1", "clients": 1000}')
check "the push agent keeps answering while its controller is away (never blocks)" push_ok "$P" "${LINES[@]}"
check "the push agent's buffer overflows too" wait_until 10 grep -q 'change buffer full' "$T/agent_n2.log"
check "the agent process is alive and its source still read" kill -0 "$(pid_of agent_n1)"

restart_controller c1 || not_ok "controller restarts"
check "after the controller returns snapshots follow" \
  wait_until 15 bash -c "grep -q 'snapshot of n2 applied' '$T/c1.log' && grep -q 'snapshot of n1 applied' '$T/c1.log'"
check "the push node's state is exact: 150 streams, the deleted one gone" \
  wait_until 15 bash -c "[ \$(total --node n2) = 150 ] && [ \$(total --name keep) = 0 ]"
check "the last pushed value won (away-1 has clients 1000)" \
  wait_until 10 bash -c "[ \"\$(row_field away-1 'r[\"clients\"]')\" = 1000 ]"
check "the simulated node is exact again: 50 streams" wait_until 15 total_is 50 --node n1
check "and its updates flow (seq past the one before the outage)" \
  wait_until 15 bash -c "[ \$(cli streams -o json --node n1 | json_get 'max(r[\"version\"][\"seq\"] for r in d[\"streams\"])') -gt $SEQ ]"

sf_done
