#!/usr/bin/env bash
# 15_security.sh — CurveZMQ and the ZAP handler (issue 2, item 5; DESIGN §5):
# only certificates in the controller's certificate directory get in; an
# agent writes only the node named in its certificate (the agent refuses to
# start otherwise, and the controller refuses such records from a raw
# client); the CLI needs an admitted cli certificate; an unreachable or
# refusing controller makes the CLI exit 3 naming the endpoint and timeout.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
agent_key n1
RAW=("$TOOLS/sf_rawclient" --endpoint "$CTL_c1_AGENTS" --server-cert "$T/keys/controller" --timeout-ms 3000)

# --- An agent certificate of n1 trying to write n2's records (raw client) ---
OUT=$T/raw-forbidden.json
"${RAW[@]}" --cert "$T/keys/n1" \
  --json '[1, "hello", {"node": "n2", "gen": 0, "seq": 0}]' \
  --json '[1, "batch", {"gen": 0, "changes": [{"seq": 1, "put": {"name": "stolen", "node": "n2", "status": "active"}}]}]' \
  >"$OUT" 2>"$T/raw-forbidden.err"
check "hello as another node is answered with error forbidden" \
  $PYTHON -c "
import json, sys
r = [json.loads(l) for l in open('$OUT')]
assert any(x['msg'] == 0 and x['type'] == 'error' and x['code'] == 'forbidden' and 'n2' in x['message'] for x in r), r"
check "a batch with a record for another node is answered with error forbidden" \
  $PYTHON -c "
import json, sys
r = [json.loads(l) for l in open('$OUT')]
assert any(x['msg'] == 1 and x['type'] == 'error' and x['code'] == 'forbidden' for x in r), r"
"${RAW[@]}" --cert "$T/keys/n1" \
  --json '[1, "snap", {"gen": 5, "seq": 1, "index": 0, "last": true, "changes": [{"seq": 1, "put": {"name": "stolen2", "node": "n2"}}]}]' \
  >/dev/null 2>&1
check "a snapshot record for another node is skipped and logged" \
  wait_until 5 grep -q "skipped a record in n1's snapshot: record for node 'n2'" "$T/c1.log"
check "the forbidden records were not stored: n2 has no streams" total_is 0 --node n2
check "and no stream named stolen exists anywhere" total_is 0 --name stolen
check "the controller logs the rejection" grep -q "rejected a message from n1 (forbidden)" "$T/c1.log"

# A cli certificate may not send to the agents' endpoint
"${RAW[@]}" --cert "$T/keys/ops" --json '[1, "hello", {"node": "ops", "gen": 1, "seq": 0}]' >"$T/raw-cli.json" 2>&1
check "a cli certificate on the agents' endpoint gets error forbidden" \
  grep -q '"code":"forbidden"' "$T/raw-cli.json"

# --- The agent itself refuses a certificate of another node ---
out=$(timeout 15 "$BIN/streamfleet-agent" --node n2 --cert "$T/keys/n1" --server-cert "$T/keys/controller" \
      --controllers "$CTL_c1_AGENTS" --state-dir "$T/agent-wrong" --sim-streams 3 2>&1); rc=$?
check "agent started as n2 with n1's certificate exits 3" test "$rc" = 3
check "its message names both nodes" bash -c "echo \"\$1\" | grep -q \"'n1'\" && echo \"\$1\" | grep -q \"'n2'\"" _ "$out"

# --- An agent whose certificate is not admitted ---
"$BIN/streamfleet" keygen --role agent --node rogue --out "$T/keys/rogue" >/dev/null
start_agent rogue "$CTL_c1_AGENTS" --sim-streams 5 --controller-timeout-ms 500
start_agent n1 "$CTL_c1_AGENTS" --sim-streams 5 --controller-timeout-ms 500
check "an admitted agent's streams appear (control)" wait_until 15 total_is 5 --node n1
check "the unknown agent is told its certificate is refused (agent log)" \
  wait_until 10 grep -q 'refused our certificate (ZAP status 400)' "$T/agent_rogue.log"
check "the unknown agent's node never appears in nodes" bash -c "! cli nodes | grep -q '^rogue '"
check "the unknown agent's streams never appear" total_is 0 --node rogue
check "only n1's streams are listed" total_is 5

# --- The CLI's certificates ---
"$BIN/streamfleet" keygen --role cli --name stranger --out "$T/keys/stranger" >/dev/null
out=$(STREAMFLEET_CERT="$T/keys/stranger" cli --timeout-ms 1000 streams 2>&1); rc=$?
check "CLI with an unknown certificate is refused: exit 4, told to admit its key" \
  bash -c "[ $rc = 4 ] && grep -q 'refused our certificate $T/keys/stranger' <<<\"\$1\"" _ "$out"
EP=${STREAMFLEET_CONTROLLERS}
check "its message names the endpoint and the timeout" \
  bash -c "echo \"\$1\" | grep -qF '$EP' && echo \"\$1\" | grep -q '1000 ms'" _ "$out"
out=$(STREAMFLEET_CERT="$T/keys/n1" cli --timeout-ms 2000 streams 2>&1); rc=$?
check "CLI with an agent's certificate is refused: exit 1, forbidden" \
  bash -c "[ $rc = 1 ] && echo \"\$1\" | grep -q forbidden" _ "$out"
DEAD=tcp://127.0.0.1:$(free_port)
out=$(cli --controller "$DEAD" --timeout-ms 700 nodes 2>&1); rc=$?
check "CLI pointed at a dead endpoint exits 3" test "$rc" = 3
check "its message names the endpoint and the timeout in ms" \
  bash -c "echo \"\$1\" | grep -qF '$DEAD' && echo \"\$1\" | grep -q '700 ms'" _ "$out"
out=$(STREAMFLEET_CERT="$T/keys/missing" cli nodes 2>&1); rc=$?
check "CLI with a missing certificate exits 4 naming the file" \
  bash -c "[ $rc = 4 ] && echo \"\$1\" | grep -qF '$T/keys/missing'" _ "$out"
check "the admitted CLI certificate still works" bash -c "cli nodes >/dev/null"

sf_done
