#!/usr/bin/env bash
# 13_restart.sh — state survives a controller restart, kill -9 included
# (issue 2, item 5): what was listed before the kill is in the LMDB state
# right after it (read by a controller on the same data directory that no
# agent can reach), and the agents correct it once the controller is back (a
# change made while it was down appears). A graceful restart loses nothing
# either, and updates continue after both.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
P2=$(free_port)
start_agent n1 "$CTL_c1_AGENTS" --sim-streams 30 --sim-seed 7 --sim-churn-pct 0 --poll-interval-ms 200 \
  --controller-timeout-ms 1000
start_agent n2 "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$P2" --poll-interval-ms 200 \
  --controller-timeout-ms 1000
check "push endpoint answers" wait_until 10 push_ok "$P2" '{"reset": true}'
check "five streams pushed" push_ok "$P2" \
  '{"name": "push-1", "status": "active"}' '{"name": "push-2", "status": "suspend"}' \
  '{"name": "push-3", "status": "active", "functions": ["dvr"]}' '{"name": "push-4"}' \
  '{"name": "push-5", "config": "keep me"}'
check "35 placements listed" wait_until 20 total_is 35

# node/name of every placement, sorted
keys() { cli "$@" streams -o json --limit 10000 | json_get '" ".join(sorted(r["node"] + "/" + r["name"] for r in d["streams"]))'; }
maxseq() { cli "$@" streams -o json --node n1 --limit 10000 | json_get 'max(r["version"]["seq"] for r in d["streams"])'; }
BEFORE=$(keys)
SEQ_BEFORE=$(maxseq)

# kill -9 while the simulator keeps changing every stream
stop c1 KILL
check "controller is gone after kill -9" bash -c "! kill -0 $(pid_of c1) 2>/dev/null"

# A change while the controller is down: the push agent keeps it
check "changes pushed while the controller is down are accepted by the agent" push_ok "$P2" \
  '{"name": "push-5", "deleted": true}' '{"name": "late-cam", "status": "active"}'

# Read the stored state with a controller nobody reaches: fresh ports, same data
PQ=$(free_port)
bg probe "$BIN/streamfleet-controller" --data-dir "$T/c1/data" --cert "$T/keys/controller" \
  --certs-dir "$T/allowed" --agents "tcp://127.0.0.1:$(free_port)" --query "tcp://127.0.0.1:$PQ" \
  --peers "tcp://127.0.0.1:$(free_port)" --http ""
PROBE=(--controller "tcp://127.0.0.1:$PQ")
check "a controller opens the data directory left by kill -9" wait_until 10 cli "${PROBE[@]}" nodes
AFTER=$(keys "${PROBE[@]}")
check "no record lost by kill -9: same 35 placements in LMDB" test "$AFTER" = "$BEFORE"
check "stored records keep their content (push-5's config)" \
  bash -c "cli $(printf '%q ' "${PROBE[@]}") streams show push-5 -o json | json_get 'd[\"placements\"][0][\"config\"]' | grep -qx 'keep me'"
check "both nodes are known from storage after kill -9" \
  bash -c "[ \$(cli $(printf '%q ' "${PROBE[@]}") nodes -o json | json_get 'len(d[\"nodes\"] if isinstance(d, dict) else d)') = 2 ]"
stop probe

# The real controller returns on its ports: the agents correct the state
restart_controller c1 || not_ok "controller restarts on the same data"
check "the change made while the controller was down appears" \
  wait_until 20 bash -c "k=\$(cli streams -o json | json_get '\" \".join(sorted(r[\"name\"] for r in d[\"streams\"]))'); [[ \" \$k \" == *' late-cam '* && \" \$k \" != *' push-5 '* ]]"
check "total is exact after the agents resync (35, nothing duplicated)" wait_until 10 total_is 35
check "the simulator's updates continue after the restart (seq rises)" \
  wait_until 15 bash -c "[ \$(cli streams -o json --node n1 | json_get 'max(r[\"version\"][\"seq\"] for r in d[\"streams\"])') -gt $SEQ_BEFORE ]"

# Graceful restart
BEFORE=$(keys)
stop c1 TERM
check "graceful stop is logged" grep -q 'stopping' "$T/c1.log"
restart_controller c1 || not_ok "controller restarts after a graceful stop"
check "graceful restart keeps every placement" test "$(keys)" = "$BEFORE"
SEQ2=$(maxseq)
check "updates continue after the graceful restart" \
  wait_until 15 bash -c "[ \$(cli streams -o json --node n1 | json_get 'max(r[\"version\"][\"seq\"] for r in d[\"streams\"])') -gt $SEQ2 ]"
check "still exactly 35 placements" total_is 35

sf_done
