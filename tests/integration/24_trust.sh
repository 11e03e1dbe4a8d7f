#!/usr/bin/env bash
# 24_trust.sh — certificates count from the sender's next message
# (issue 13, items 1-3; docs/protocol.md §1.2, §4.1.1): a certificate removed from the
# certificate directory is refused on the connection it already has open, a
# message sent a second after the removal being answered `forbidden`; a
# certificate whose role or node is changed in place is re-read the same way;
# the ZAP handler refuses and logs (with the key and the directory) a key that
# is not admitted and a certificate without a role; and each endpoint wants
# its role: an agent may not query, a cli certificate may not gossip. And
# what the controller derives (type migrated, transfer, migrated_to) is
# refused from an agent, so no agent can fake a migration.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
RAW=("$TOOLS/sf_rawclient" --endpoint "$CTL_c1_AGENTS" --server-cert "$T/keys/controller"
     --timeout-ms 3000 --linger-ms 200)
# hello NODE, then snap NAME NODE (seq 1, the whole state), then put NAME SEQ NODE (a batch)
snap() { echo "[1, \"snap\", {\"gen\": 1, \"seq\": 1, \"index\": 0, \"last\": true, \"changes\": [{\"seq\": 1, \"put\": {\"name\": \"$1\", \"node\": \"$2\", \"status\": \"active\"}}]}]"; }
put() { echo "[1, \"batch\", {\"gen\": 1, \"changes\": [{\"seq\": $2, \"put\": {\"name\": \"$1\", \"node\": \"$3\", \"status\": \"active\"}}]}]"; }
hello() { echo "[1, \"hello\", {\"node\": \"$1\", \"gen\": 1, \"seq\": 0}]"; }
# answer_is FILE I TYPE [CODE]: message I of the raw client's output got such a reply
answer_is() {
  $PYTHON -c "
import json, sys
r = [json.loads(l) for l in open('$1') if l.strip()]
m = [x for x in r if x['msg'] == $2]
ok = any((x['type'] or 'null') == '$3' and ('${4:-}' == '' or x.get('code') == '${4:-}') for x in m)
sys.exit(0 if ok else 1)"
}
# cert_change NODE FIRST SECOND OUT CONTROL CHANGE...: on one connection NODE
# says hello and snapshots stream FIRST; once that is acknowledged (checked
# as CONTROL) the command CHANGE alters NODE's admitted certificate, and a
# second later the same connection sends a batch putting stream SECOND. The
# raw client's replies go to OUT (message 0 hello, 1 snap, 2 the batch)
cert_change() {
  local node=$1 first=$2 second=$3 out=$4 control=$5 go=$T/go-$1 pid i
  shift 5
  touch "$go"
  "${RAW[@]}" --cert "$T/keys/$node" --json "$(hello "$node")" --json "$(snap "$first" "$node")" \
    --await-absent "$go" --pause-ms 1000 --json "$(put "$second" 2 "$node")" >"$out" 2>"$out.err" &
  pid=$!
  for i in $(seq 1 100); do answer_is "$out" 1 ack && break; sleep 0.1; done
  check "$control" answer_is "$out" 1 ack
  "$@"
  rm "$go"
  wait "$pid"
}

# --- A removed certificate: its open connection is refused from the next message ---
agent_key n2
OUT=$T/revoke.json
cert_change n2 before after "$OUT" "before the removal n2's batch is acknowledged" \
  rm "$T/allowed/n2.cert"
check "a batch sent 1 s after the removal, on the same connection, is answered forbidden" answer_is "$OUT" 2 error forbidden
check "the stream written before the removal is stored" total_is 1 --name before
check "the stream sent after the removal is not" total_is 0 --name after
check "the controller logs the refusal" grep -q "rejected a message from a key no longer admitted (forbidden)" "$T/c1.log"

# --- A role changed in place (agent -> cli): re-read ---
agent_key n3
OUT=$T/role.json
cert_change n3 r1 r2 "$OUT" "control: n3's first batch was acknowledged" \
  sed -i 's/role = "agent"/role = "cli"/' "$T/allowed/n3.cert"
check "after its role became cli, n3's next batch is forbidden" answer_is "$OUT" 2 error forbidden
check "and its stream is not stored" total_is 0 --name r2

# --- A node changed in place (n4 -> n5): the connection now speaks for n5 ---
agent_key n4
OUT=$T/node.json
cert_change n4 m1 m2 "$OUT" "control: n4's first batch was acknowledged" \
  sed -i 's/node = "n4"/node = "n5"/' "$T/allowed/n4.cert"
check "after its node became n5, the connection speaks for n5: asked for n5's snapshot" answer_is "$OUT" 2 resync
check "the controller logs it as n5's" grep -q "asking n5 for a snapshot" "$T/c1.log"
check "and the record for n4 is not stored" total_is 0 --name m2

# --- The ZAP handler: refusals are logged with the key and the directory ---
"$BIN/streamfleet" keygen --role agent --node rogue --out "$T/keys/rogue" >/dev/null
KEY=$(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$T/keys/rogue")
"${RAW[@]}" --cert "$T/keys/rogue" --timeout-ms 1000 --json "$(hello rogue)" >"$T/rogue.json" 2>&1
check "a key not in the directory gets no answer" answer_is "$T/rogue.json" 0 null
check "its refused handshake is logged with its key and the certificate directory" \
  wait_until 5 grep -qF "refused a handshake from 127.0.0.1, key $KEY: its certificate is not in the certificate directory (certificate directory $T/allowed)" "$T/c1.log"
"$BIN/streamfleet" keygen --role agent --node norole --out "$T/keys/norole" >/dev/null
grep -v 'role = ' "$T/keys/norole" >"$T/allowed/norole.cert"
"${RAW[@]}" --cert "$T/keys/norole" --timeout-ms 1000 --json "$(hello norole)" >"$T/norole.json" 2>&1
check "a certificate without a role gets no answer" answer_is "$T/norole.json" 0 null
check "and its refusal says it has no role" wait_until 5 grep -q "key .*: its certificate has no role" "$T/c1.log"
check "the certificate without a role cannot query either" \
  bash -c "! STREAMFLEET_CERT='$T/keys/norole' '$BIN/streamfleet' --timeout-ms 1000 nodes >/dev/null 2>&1"

# --- Each endpoint wants its role ---
agent_key n6
out=$(STREAMFLEET_CERT="$T/keys/n6" cli --timeout-ms 2000 nodes 2>&1); rc=$?
check "an agent certificate may not query: forbidden" bash -c "[ $rc = 1 ] && echo \"\$1\" | grep -q forbidden" _ "$out"
"$TOOLS/sf_rawclient" --endpoint "$CTL_c1_PEERS" --server-cert "$T/keys/controller" --cert "$T/keys/ops" \
  --timeout-ms 1000 --json '[1, "ping", {"from": "x"}]' >"$T/gossip-cli.json" 2>&1
check "a cli certificate's gossip is refused" wait_until 5 grep -q "gossip: refused a message from ops: not a peer certificate" "$T/c1.log"
check "the admitted cli certificate still queries" bash -c "cli nodes >/dev/null"

# --- Derived fields are the controller's: an agent's claim is refused ---
agent_key n7
rec() { echo "[1, \"batch\", {\"gen\": 1, \"changes\": [{\"seq\": $1, \"put\": {\"name\": \"$2\", $3}}]}]"; }
OUT=$T/derived.json
"${RAW[@]}" --cert "$T/keys/n7" --json "$(hello n7)" --json "$(snap fine n7)" \
  --json "$(rec 2 fake1 '"type": "migrated"')" --json "$(rec 3 fake2 '"transfer": true')" \
  --json "$(rec 4 fake3 '"migrated_to": "n1"')" --json "$(rec 5 fine2 '"type": "secondary", "transfer": false')" \
  >"$OUT" 2>&1
check "a put claiming type migrated is answered forbidden" answer_is "$OUT" 2 error forbidden
check "a put claiming transfer is answered forbidden" answer_is "$OUT" 3 error forbidden
check "a put claiming migrated_to is answered forbidden" answer_is "$OUT" 4 error forbidden
check "the refusal names the derived field" grep -q "record 'fake1': type 'migrated' is derived by the controller" "$T/c1.log"
check "the migrated claim is not stored" total_is 0 --name fake1
check "the transfer claim is not stored" total_is 0 --name fake2
check "the migrated_to claim is not stored" total_is 0 --name fake3
check "a put claiming nothing derived (transfer false) is stored, as secondary" \
  bash -c "[ \"\$(cli streams -o json --name fine2 | json_get 'd[\"streams\"][0][\"type\"]')\" = secondary ]"
check "nothing is listed as migrated" total_is 0 --filter migrated

# --- A message of two frames on the queries endpoint is malformed (protocol §2.1) ---
"$TOOLS/sf_rawclient" --endpoint "$CTL_c1_QUERY" --server-cert "$T/keys/controller" --cert "$T/keys/ops" \
  --timeout-ms 3000 --multi --json '[1, "nodes", {}]' --json '[1, "nodes", {}]' >"$T/multi.json" 2>&1
check "a two-frame query is answered error malformed" answer_is "$T/multi.json" 0 error malformed
check "and is not answered as a query" bash -c "! grep -q nodes_reply '$T/multi.json'"

# --- keygen never overwrites a key pair without --force ---
"$BIN/streamfleet" keygen --role cli --out "$T/keys/k1" >/dev/null
cp "$T/keys/k1_secret" "$T/k1_before"
out=$("$BIN/streamfleet" keygen --role cli --out "$T/keys/k1" 2>&1); rc=$?
check "keygen onto an existing key pair exits 4 and names the file" \
  bash -c "[ $rc = 4 ] && grep -qF '$T/keys/k1 exists' <<<\"\$1\"" _ "$out"
check "and leaves the key pair as it was" cmp -s "$T/keys/k1_secret" "$T/k1_before"
check "with --force it is replaced" bash -c "'$BIN/streamfleet' keygen --role cli --out '$T/keys/k1' --force >/dev/null && ! cmp -s '$T/keys/k1_secret' '$T/k1_before'"

sf_done
