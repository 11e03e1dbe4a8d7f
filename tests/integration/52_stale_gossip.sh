#!/usr/bin/env bash
# 52_stale_gossip.sh — a node's stale mark (its agent cannot read its media
# server: docs/protocol.md, heartbeat `stale`) is the same on every
# controller, not only on the one its agent talks to (issue 12). Three
# gossiping controllers; node n1's agent talks to c1 and reads a MediaMTX
# stand-in (tests/helpers/media_api_server.py). The server fails: c1, c2 and
# c3 all mark n1 stale and keep its placements; it recovers: the mark clears
# everywhere. Then the agent restarts while the server is down (no good state
# read yet): stale on all three again, nothing deleted. Before, the mark
# lived in c1's copy of the node record only (heartbeats set it without a new
# version, so gossip never carried it): c2 and c3 showed the node fresh.
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
declare -A P
for c in c1 c2 c3; do P[$c.a]=$(free_port) P[$c.q]=$(free_port) P[$c.p]=$(free_port); done
SEEDS="tcp://127.0.0.1:${P[c1.p]},tcp://127.0.0.1:${P[c2.p]},tcp://127.0.0.1:${P[c3.p]}"
ctl() {
  local c=$1
  mkdir -p "$T/$c"
  bg "$c" "$BIN/streamfleet-controller" --id "$c" --data-dir "$T/$c/data" \
    --cert "$T/keys/controller" --certs-dir "$T/allowed" \
    --agents "tcp://127.0.0.1:${P[$c.a]}" --query "tcp://127.0.0.1:${P[$c.q]}" \
    --peers "tcp://127.0.0.1:${P[$c.p]}" --http "" --seeds "$SEEDS" --gossip-ms 100 \
    --suspect-ms 3000 --down-ms 20000
}
on() { local c=$1; shift; "$BIN/streamfleet" --controller "tcp://127.0.0.1:${P[$c.q]}" --timeout-ms 2000 "$@"; }
ctl c1; ctl c2; ctl c3
answer() { on c1 nodes && on c2 nodes && on c3 nodes; }
check "three controllers answer" wait_until 15 answer

PORT=$(free_port)
A=http://127.0.0.1:$PORT
bg fx $PYTHON "$SF_ROOT/tests/helpers/media_api_server.py" "$PORT" mediamtx v1.17 - cam1 cam2
wait_until 10 curl -sf "$A/_hits" || { not_ok "fixture server starts"; exit 1; }
AGENT_ARGS=(--source mediamtx --mediamtx-url "$A" --http-timeout-ms 1000
            --poll-interval-ms 300 --heartbeat-ms 300)
start_agent n1 "tcp://127.0.0.1:${P[c1.a]}" "${AGENT_ARGS[@]}"

# node_is C STALE STREAMS: controller C lists n1 with that stale mark
# (True/False) and that many placements
node_is() {
  on "$1" nodes -o json 2>/dev/null | $PYTHON -c "import json,sys
n=[x for x in json.load(sys.stdin)['nodes'] if x['id']=='n1']
sys.exit(0 if n and str(n[0]['stale'])=='$2' and n[0]['counts']['streams']==$3 else 1)"
}
all_are() { node_is c1 "$1" "$2" && node_is c2 "$1" "$2" && node_is c3 "$1" "$2"; }
# the mark as each controller lists it, for the failure message
marks() { local c; for c in c1 c2 c3; do printf '%s:%s ' "$c" "$(on "$c" nodes -o json 2>/dev/null | json_get "[x['stale'] for x in d['nodes'] if x['id']=='n1']" 2>/dev/null)"; done; }
# 2 cameras + 12 bulk streams
check "every controller holds n1's 14 placements, not stale" wait_until 30 all_are False 14

curl -sf -X POST "$A/_mode/500" >/dev/null
check "c1 (its agent's controller) marks n1 stale" wait_until 10 node_is c1 True 14
if wait_until 10 all_are True 14; then ok "c2 and c3 mark n1 stale too, placements kept"
else not_ok "c2 and c3 mark n1 stale too, placements kept" "$(marks)"; fi

curl -sf -X POST "$A/_mode/ok" >/dev/null
if wait_until 10 all_are False 14; then ok "the source reads again: the mark clears on all three"
else not_ok "the source reads again: the mark clears on all three" "$(marks)"; fi

# The agent restarts while its media server fails: it has read nothing
curl -sf -X POST "$A/_mode/500" >/dev/null
stop agent_n1
start_agent n1 "tcp://127.0.0.1:${P[c1.a]}" "${AGENT_ARGS[@]}"
check "the restarted agent says hello" \
  wait_until 15 bash -c "[ \$(grep -c 'n1 says hello' '$T/c1.log') -ge 2 ]"
if wait_until 10 all_are True 14; then ok "restarted with its source down: stale on all three, placements kept"
else not_ok "restarted with its source down: stale on all three, placements kept" "$(marks)"; fi
curl -sf -X POST "$A/_mode/ok" >/dev/null
if wait_until 15 all_are False 14; then ok "its first good state clears the mark on all three"
else not_ok "its first good state clears the mark on all three" "$(marks)"; fi
sf_done
