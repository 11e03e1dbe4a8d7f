#!/usr/bin/env bash
# 16_malformed.sh — malformed and oversized frames (issue 2, item 7; DESIGN
# §5): while two healthy agents stream, a raw client with an admitted agent
# certificate sends garbage, truncated msgpack, a wrong protocol version, an
# unknown message type, wrong field types, a 200-byte name, a huge array
# count, a two-frame message and a frame over ZMQ_MAXMSGSIZE. Each is
# rejected (an error reply with the right code where a reply is possible),
# counted and logged; the controller keeps serving, the healthy agents keep
# updating, nothing stored is lost, and the raw client's next valid message
# is still answered.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
start_agent n1 "$CTL_c1_AGENTS" --sim-streams 20 --sim-seed 1 --sim-churn-pct 0 --poll-interval-ms 200
start_agent n2 "$CTL_c1_AGENTS" --sim-streams 20 --sim-seed 2 --sim-churn-pct 0 --poll-interval-ms 200
check "two healthy agents' 40 streams listed" wait_until 20 total_is 40
agent_key raw
RAW=("$TOOLS/sf_rawclient" --endpoint "$CTL_c1_AGENTS" --cert "$T/keys/raw" --server-cert "$T/keys/controller"
     --timeout-ms 3000 --linger-ms 300)
keys() { cli streams -o json --limit 1000 | json_get '" ".join(sorted(r["node"] + "/" + r["name"] for r in d["streams"]))'; }
maxseq() { cli streams -o json --node "$1" | json_get 'max(r["version"]["seq"] for r in d["streams"])'; }
BEFORE=$(keys)
S1=$(maxseq n1); S2=$(maxseq n2)
CPID=$(pid_of c1)

LONG=$(printf 'a%.0s' $(seq 1 200))
OUT=$T/raw.json
"${RAW[@]}" \
  --hex deadbeefc1ff00 \
  --hex 9301a56261746368 \
  --json '[2, "hb", {"gen": 1, "counter": 1}]' \
  --json '[1, "teleport", {}]' \
  --json '[1, "batch", {"gen": "zero", "changes": []}]' \
  --json '[1, "batch", {"gen": 0, "changes": [{"seq": 1, "put": {"name": "typed", "clients": "many"}}]}]' \
  --json "[1, \"batch\", {\"gen\": 0, \"changes\": [{\"seq\": 2, \"put\": {\"name\": \"$LONG\"}}]}]" \
  --hex 9301a5626174636881a76368616e676573dd7fffffff \
  --hex 9301a2686281a3706164dfffffffff \
  >"$OUT" 2>"$T/raw.err"
reply() {   # reply I CODE [TEXT]: message I got an error reply with CODE (and TEXT in its message)
  $PYTHON - "$OUT" "$@" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
i, code = int(sys.argv[2]), sys.argv[3]
text = sys.argv[4] if len(sys.argv) > 4 else ""
errs = [r for r in rows if r["msg"] == i and r["type"] == "error"]
ok = any(r["code"] in code.split("|") and text in r["message"] for r in errs)
if not ok: print(rows, file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}
check "garbage bytes: error malformed" reply 0 malformed
check "truncated msgpack: error malformed" reply 1 malformed
check "wrong protocol version: error version" reply 2 version "protocol version 2"
check "unknown message type: error type" reply 3 type "teleport"
check "batch with gen of the wrong type: error field" reply 4 field
check "record with a field of the wrong type: error field naming it" reply 5 field "clients"
check "record with a 200-byte name: rejected naming the 128-byte bound" reply 6 "bounds|field" "longer than 128"
check "array header claiming 2^31 elements: error malformed" reply 7 malformed
check "map header claiming 2^32 pairs: error malformed" reply 8 malformed

# Two frames in one message: refused with an error to the sender, counted, logged
"${RAW[@]}" --timeout-ms 1500 --multi --json '[1, "hb", {"gen": 1, "counter": 1}]' --hex c0 >"$T/multi.json" 2>&1
check "a two-frame message is answered error malformed" grep -q '"malformed"' "$T/multi.json"
check "a two-frame message is logged" \
  wait_until 5 grep -q 'must be one frame, not 2' "$T/c1.log"

# The 16 MiB frame limit (protocol §2.3): a frame of exactly 16 MiB is read
# (here an hb of the wrong shape: answered, not dropped); one byte more is
# answered error bounds, counted and logged; one far over the limit makes
# libzmq drop the connection, and the same client's next message is answered
MIB16=$((16 * 1024 * 1024))
"${RAW[@]}" --timeout-ms 8000 --size $MIB16 --size $((MIB16 + 1)) --json '[1, "teleport2", {}]' \
  >"$T/edge.json" 2>&1
check "a frame of exactly 16 MiB is read and answered (not bounds, not dropped)" \
  bash -c "grep '\"msg\":0,' '$T/edge.json' | grep -q '\"type\":\"error\"' && ! grep '\"msg\":0,' '$T/edge.json' | grep -q bounds"
check "a frame of 16 MiB + 1 byte is answered error bounds" \
  grep -q '"msg":1,"type":"error","code":"bounds"' "$T/edge.json"
check "the oversized frame is logged naming the limit" \
  wait_until 5 grep -q 'frame larger than 16777216 bytes' "$T/c1.log"
"${RAW[@]}" --timeout-ms 3000 --size $((MIB16 + 4 * 1024 * 1024)) --json '[1, "teleport2", {}]' \
  >"$T/big.json" 2>&1
check "a frame 4 MiB over the limit gets no reply (libzmq drops the connection)" \
  grep -q '{"msg": 0, "type": null' "$T/big.json"
check "the same client's next message after the oversized frame is answered" \
  grep -q '"msg":1,"type":"error","code":"type"' "$T/big.json"
# The queries endpoint applies the same limit
QRAW=("$TOOLS/sf_rawclient" --endpoint "$CTL_c1_QUERY" --cert "$T/keys/ops" --server-cert "$T/keys/controller"
      --timeout-ms 8000 --linger-ms 300)
"${QRAW[@]}" --size $MIB16 --size $((MIB16 + 1)) --json '[1, "nodes", {}]' >"$T/qedge.json" 2>&1
check "queries: a frame of exactly 16 MiB is answered, not bounds" \
  bash -c "grep -q '\"msg\":0,\"type\":\"error\",\"code\":\"bad_request\"' '$T/qedge.json'"
check "queries: a frame of 16 MiB + 1 byte is answered error bounds" \
  grep -q '"msg":1,"type":"error","code":"bounds"' "$T/qedge.json"
check "queries: the same client's next request is answered" grep -q '"msg":2,"type":"nodes_reply"' "$T/qedge.json"

check "controller is still running" kill -0 "$CPID"
check "controller still answers queries" bash -c "cli nodes >/dev/null"
check "healthy agent n1's streams keep updating (seq rises)" \
  wait_until 10 bash -c "[ \$(cli streams -o json --node n1 | json_get 'max(r[\"version\"][\"seq\"] for r in d[\"streams\"])') -gt $S1 ]"
check "healthy agent n2's streams keep updating (seq rises)" \
  wait_until 10 bash -c "[ \$(cli streams -o json --node n2 | json_get 'max(r[\"version\"][\"seq\"] for r in d[\"streams\"])') -gt $S2 ]"
check "nothing stored is lost: the same 40 placements" test "$(keys)" = "$BEFORE"
check "nothing of the raw client was stored" total_is 0 --node raw
check "the log counts rejections ('rejected a message')" \
  bash -c "[ \$(grep -c 'rejected a message' '$T/c1.log') -ge 8 ]"
METRICS=$($PYTHON -c "import urllib.request; print(urllib.request.urlopen('http://$CTL_c1_HTTP/metrics', timeout=5).read().decode())" 2>&1)
metric() { echo "$METRICS" | awk -v k="streamfleet_ingest_rejected_total{reason=\"$1\"}" '$1 == k {print $2}'; }
check "/metrics counts malformed rejections (>= 4)" test "$(metric malformed)" -ge 4
check "/metrics counts the oversized frames as bounds (>= 2)" test "$(metric bounds)" -ge 2
check "/metrics counts version, type and field rejections" \
  bash -c "[ '$(metric version)' -ge 1 ] && [ '$(metric type)' -ge 2 ] && [ '$(metric field)' -ge 2 ]"

sf_done
