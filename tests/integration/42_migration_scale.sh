#!/usr/bin/env bash
# 42_migration_scale.sh — the scenarios of 40_migration_push.sh at scale:
# 10,000 streams moving among 10 nodes, played over the real agent protocol
# by tests/tools/sf_movesim.c (overlap moves, moves back, transfers that never
# complete, and a node that dies with its streams failing over to their
# secondaries). The controller's event counts must equal the script's
# exactly, and stay equal after a kill -9 restart.
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 --suspect-ms 1000 --down-ms 2000 --transfer-timeout 2 \
  || { not_ok "controller c1 started"; exit 1; }
for i in $(seq 0 9); do agent_key "n$i"; done

"$TOOLS/sf_movesim" --controller "$CTL_c1_AGENTS" --server-cert "$T/keys/controller" \
  --keys "$T/keys" --nodes 10 --streams 10000 --down-ms 2000 --transfer-timeout 2 \
  >"$T/expect.json" 2>"$T/movesim.log"
rc=$?
check "sf_movesim played its script" [ $rc -eq 0 ]
want=$($PYTHON -c "import json; print(dict(sorted(json.load(open('$T/expect.json')).items())))" 2>/dev/null)
echo "# expected: $want"
check "the script expects every kind of event" $PYTHON -c "
import json,sys; d=json.load(open('$T/expect.json')); sys.exit(0 if all(v > 0 for v in d.values()) and len(d) == 5 else 1)"

counts() { cli migrations --limit 0 -o json | json_get "dict(sorted((k, v) for k, v in d['counts'].items() if v))"; }  # kinds that occurred
same() { [ "$(counts)" = "$want" ]; }
if wait_until 20 same; then ok "exact event counts at 10,000 streams"; else not_ok "exact event counts at 10,000 streams" "got $(counts)"; fi
check "every listed event can be read in one reply" bash -c "[ \"\$(\"$BIN/streamfleet\" migrations --limit 100000 -o json | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); print(len(d[\"events\"]) == d[\"total\"])')\" = True ]"

# The derived view agrees with the events
nrows() { cli streams --filter "$1" --limit 0 -o json | json_get "d['total']"; }
m=$(nrows migrated); x=$(nrows transfer)
# (the returned streams are among the migrated ones: each moved stream has one)
exp_m=$($PYTHON -c "d=$want; print(d['migrated'] + d['failover'])")
exp_x=$($PYTHON -c "d=$want; print(2 * d['transfer_stuck'])")
if [ "$m" = "$exp_m" ]; then ok "--filter migrated: one placement per completed move"; else not_ok "--filter migrated: one placement per completed move" "got $m want $exp_m"; fi
if [ "$x" = "$exp_x" ]; then ok "--filter transfer: both placements of each stuck transfer"; else not_ok "--filter transfer: both placements of each stuck transfer" "got $x want $exp_x"; fi
n9_active() { [ "$(cli streams --node n9 --filter active --limit 0 -o json | json_get "d['total']")" = 0 ]; }
n9_offline() { [ "$(cli streams --node n9 --limit 0 -o json | json_get "d['total']")" -gt 0 ] &&
  cli streams --node n9 --limit 5 -o json | json_get "all(s['status'] == 'offline' for s in d['streams'])" | grep -qx True; }
check "the dead node's streams are offline" n9_offline
check "the dead node's streams are never active" n9_active

stop c1 KILL
restart_controller c1 --suspect-ms 1000 --down-ms 2000 --transfer-timeout 2
got=$(counts)
if [ "$got" = "$want" ]; then ok "the same counts after kill -9 and restart"; else not_ok "the same counts after kill -9 and restart" "got $got"; fi
sf_done
