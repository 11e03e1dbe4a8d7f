#!/usr/bin/env bash
# 19_protocol.sh — the agent protocol's state machine, driven message by
# message with the raw client (issue 2, items 2 and 5; docs/protocol.md):
# hello is answered with the stored (gen, seq); a snapshot is acknowledged at
# its seq and replaces the node's set; batches are acknowledged at their last
# seq after commit; a resend is idempotent; a gap or a new generation asks for
# a snapshot; an older generation's snapshot and a snapshot over
# max-streams-per-node are refused; an out-of-order chunk is answered with a
# retry. The query endpoint rejects malformed requests and unknown request
# types the same way.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 --max-streams-per-node 5 || { not_ok "controller starts"; exit 1; }
for k in r1 r2 r3 r4; do agent_key "$k"; done
raw() {   # raw CERT MESSAGE-JSON...: one JSON line per reply
  local cert=$1; shift
  local args=()
  for m in "$@"; do args+=(--json "$m"); done
  "$TOOLS/sf_rawclient" --endpoint "$CTL_c1_AGENTS" --cert "$T/keys/$cert" --server-cert "$T/keys/controller" \
    --timeout-ms 3000 --linger-ms 200 "${args[@]}"
}
# has FILE PYTHON-CONDITION: some reply r satisfies the condition
has() { $PYTHON - "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = any(eval(sys.argv[2], {}, {"r": r, "b": r.get("body") or {}}) for r in rows)
if not ok: print(rows, file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}
put() { echo "{\"seq\": $1, \"put\": {\"name\": \"$2\", \"status\": \"active\"}}"; }

O=$T/r1.json
raw r1 '[1, "hello", {"node": "r1", "gen": 10, "seq": 0}]' >"$O"
check "hello from an unknown origin is acknowledged at 0/0, saying it takes patches and heartbeats on arrival" has "$O" 'r["type"] == "ack" and b == {"gen": 0, "seq": 0, "patch": True, "beats": True}'

raw r1 "[1, \"snap\", {\"gen\": 10, \"seq\": 2, \"index\": 0, \"last\": true, \"changes\": [$(put 1 a), $(put 2 b)]}]" >"$O"
check "a one-chunk snapshot is acknowledged at its generation and seq" has "$O" 'r["type"] == "ack" and b == {"gen": 10, "seq": 2}'
check "the snapshot's records are listed" wait_until 5 bash -c "[ \"\$(names --node r1 --sort name)\" = 'a b' ]"
check "the controller logs the snapshot applied" grep -q 'snapshot of r1 applied: 2 placements' "$T/c1.log"

raw r1 "[1, \"batch\", {\"gen\": 10, \"changes\": [$(put 3 c), {\"seq\": 4, \"del\": \"a\"}]}]" >"$O"
check "a batch is acknowledged at its last seq" has "$O" 'r["type"] == "ack" and b == {"gen": 10, "seq": 4}'
check "the batch's put and del are applied" wait_until 5 bash -c "[ \"\$(names --node r1 --sort name)\" = 'b c' ]"
check "records carry the change's version" bash -c "[ \"\$(row_field c '(r[\"version\"][\"gen\"], r[\"version\"][\"seq\"])')\" = '(10, 3)' ]"

raw r1 "[1, \"batch\", {\"gen\": 10, \"changes\": [$(put 3 c), {\"seq\": 4, \"del\": \"a\"}]}]" >"$O"
check "a resent batch is acknowledged again" has "$O" 'r["type"] == "ack" and b == {"gen": 10, "seq": 4}'
check "the resent batch changes nothing" bash -c "[ \"\$(names --node r1 --sort name)\" = 'b c' ]"

raw r1 '[1, "hello", {"node": "r1", "gen": 10, "seq": 4}]' >"$O"
check "hello after a reconnect is answered with the committed 10/4" has "$O" 'r["type"] == "ack" and b == {"gen": 10, "seq": 4, "patch": True, "beats": True}'

raw r1 "[1, \"batch\", {\"gen\": 10, \"changes\": [$(put 7 gap)]}]" >"$O"
check "a gap in seq is answered with a resync request" has "$O" 'r["type"] == "resync" and "gap" in b["reason"]'
check "the change after the gap is not applied" total_is 0 --name gap

# A patch: only the changed fields, applied to the stored record (protocol 4.5a)
raw r1 '[1, "batch", {"gen": 10, "changes": [{"seq": 5, "patch": {"name": "c", "clients": 9, "bitrate_kbps": 1500}}]}]' >"$O"
check "a patch is acknowledged at its seq" has "$O" 'r["type"] == "ack" and b == {"gen": 10, "seq": 5}'
check "the patch's fields are stored at its version" \
  bash -c "[ \"\$(row_field c '(r[\"clients\"], r[\"bitrate_kbps\"], r[\"version\"][\"seq\"])')\" = '(9, 1500, 5)' ]"
# The controller sends at most one resync per node per second (docs/protocol.md, "resync"); the gap's
# resync above may be less than a second old on a fast machine
sleep 1.1
raw r1 '[1, "batch", {"gen": 10, "changes": [{"seq": 6, "patch": {"name": "nosuch", "clients": 1}}]}]' >"$O"
check "a patch of a placement the controller does not hold asks for a snapshot" \
  has "$O" 'r["type"] == "resync" and "does not hold" in b["reason"]'


raw r2 '[1, "hello", {"node": "r2", "gen": 5, "seq": 0}]' \
  "[1, \"snap\", {\"gen\": 5, \"seq\": 1, \"index\": 0, \"last\": true, \"changes\": [$(put 1 x)]}]" >/dev/null
raw r2 "[1, \"batch\", {\"gen\": 6, \"changes\": [$(put 1 y)]}]" >"$O"
check "a batch of a new generation is answered with a resync request" \
  has "$O" 'r["type"] == "resync" and "generation" in b["reason"]'
raw r2 "[1, \"snap\", {\"gen\": 4, \"seq\": 9, \"index\": 0, \"last\": true, \"changes\": [$(put 1 old)]}]" >"$O"
check "a snapshot of an older generation is refused (error state)" \
  has "$O" 'r["type"] == "error" and r["code"] == "state"'
check "the older snapshot changed nothing" bash -c "[ \"\$(names --node r2)\" = x ]"

raw r3 "[1, \"snap\", {\"gen\": 3, \"seq\": 2, \"index\": 1, \"last\": true, \"changes\": [$(put 2 late)]}]" >"$O"
check "a snapshot chunk out of order is answered with a retry after a back-off" \
  has "$O" 'r["type"] == "retry" and "order" in b["reason"] and b["after_ms"] >= 1000'
# After a retry the agent says hello before it sends again
raw r3 '[1, "hello", {"node": "r3", "gen": 3, "seq": 0}]' "[1, \"snap\", {\"gen\": 3, \"seq\": 6, \"index\": 0, \"last\": true, \"changes\": [$(put 1 s1), $(put 2 s2), $(put 3 s3), $(put 4 s4), $(put 5 s5), $(put 6 s6)]}]" >"$O"
check "a snapshot over max-streams-per-node is refused (error bounds)" \
  has "$O" 'r["type"] == "error" and r["code"] == "bounds" and "max-streams-per-node" in r["message"]'
check "nothing of the refused snapshot is stored" total_is 0 --node r3

# A multi-chunk snapshot replaces the node's set in one go
raw r1 "[1, \"snap\", {\"gen\": 11, \"seq\": 3, \"index\": 0, \"last\": false, \"changes\": [$(put 1 m1), $(put 2 m2)]}]" \
       "[1, \"snap\", {\"gen\": 11, \"seq\": 3, \"index\": 1, \"last\": true, \"changes\": [$(put 3 m3)]}]" >"$O"
check "a two-chunk snapshot is acknowledged once complete" has "$O" 'r["msg"] == 1 and r["type"] == "ack" and b == {"gen": 11, "seq": 3}'
check "it replaced the node's set (b and c gone, m1..m3 there)" \
  wait_until 5 bash -c "[ \"\$(names --node r1 --sort name)\" = 'm1 m2 m3' ]"

# A heartbeat makes the node alive and carries its usage
raw r4 '[1, "hb", {"gen": 1, "counter": 1, "usage": {"cpu_pct": 12.5, "in_kbps": 777}}]' >/dev/null
check "a heartbeat makes its node alive" wait_until 5 bash -c "cli nodes | grep -qE '^r4 +alive '"
raw r4 '[1, "hb", {"gen": 1}]' >"$O"
check "a heartbeat without its counter is refused (error field)" has "$O" 'r["type"] == "error" and r["code"] == "field"'

# The query endpoint
Q=("$TOOLS/sf_rawclient" --endpoint "$STREAMFLEET_CONTROLLERS" --cert "$T/keys/ops" --server-cert "$T/keys/controller"
   --timeout-ms 3000 --linger-ms 100)
"${Q[@]}" --hex 00c1ff --json '[1, "teleport", {}]' --json '[1, "list", {"filter": "bogus"}]' \
  --json '[1, "list", {"limit": -1}]' --json '[3, "list", {}]' --json '[1, "nodes", {}]' >"$O"
check "query endpoint: garbage is answered with error malformed" has "$O" 'r["msg"] == 0 and r.get("code") == "malformed"'
check "query endpoint: an unknown request type is an error naming it" \
  has "$O" 'r["msg"] == 1 and r["type"] == "error" and "teleport" in r["message"]'
check "query endpoint: a bad filter is an error listing the valid parameters" \
  has "$O" 'r["msg"] == 2 and r["type"] == "error" and "bogus" in r["message"] and "secondary" in r["message"]'
check "query endpoint: a field of the wrong type is an error" has "$O" 'r["msg"] == 3 and r["type"] == "error"'
check "query endpoint: a wrong version is error version" has "$O" 'r["msg"] == 4 and r.get("code") == "version"'
check "query endpoint: nodes is answered after the errors" has "$O" 'r["msg"] == 5 and r["type"] != "error"'

check "the controller kept running through all of it" kill -0 "$(pid_of c1)"

sf_done
