# tests/helpers/media_api_check.sh — one integration scenario for the JSON
# API adapters (mediamtx, srs, flussonic), sourced by tests/integration/3N_*.sh
# after setting:
#   KIND       the source and fixture kind
#   SHAPE_A    the version shape fixture server A serves (node n1)
#   SHAPE_B    the one server B serves (node n2)
#   AUTH       the fixture's auth ("user:password" or "bearer:TOKEN")
#   agent_args URL AUTH -> the agent's source options for that server
#   HAS_DVR    1 when the server reports archive ranges
# Two fixture servers (tests/helpers/media_api_server.py), two agents, one
# controller, everything checked through the CLI: every page listed,
# statuses, clients, bitrates, uptimes, reconnects, audio marks, DVR ranges;
# then streams appear, stop, move from A to B, counters rise; then A fails
# (500) and recovers, logged once.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

sf_keys || { not_ok "$KIND: keys"; exit 1; }
start_controller c1 || { not_ok "$KIND: controller starts"; exit 1; }
PORT_A=$(free_port); PORT_B=$(free_port)
bg fxA $PYTHON "$SF_ROOT/tests/helpers/media_api_server.py" "$PORT_A" "$KIND" "$SHAPE_A" "$AUTH" cam1 cam2
bg fxB $PYTHON "$SF_ROOT/tests/helpers/media_api_server.py" "$PORT_B" "$KIND" "$SHAPE_B" "$AUTH" cam4
A=http://127.0.0.1:$PORT_A B=http://127.0.0.1:$PORT_B
wait_until 10 curl -sf "$A/_hits" && wait_until 10 curl -sf "$B/_hits" ||
  { not_ok "$KIND: fixture servers start"; exit 1; }
ctl() { curl -sf -X POST "$1/$2" >/dev/null; }

start_agent n1 "$CTL_c1_AGENTS" --source "$KIND" $(agent_args "$A" "$AUTH") \
  --http-timeout-ms 1500 --poll-interval-ms 500 --heartbeat-ms 500 --addr-external 127.0.0.1
start_agent n2 "$CTL_c1_AGENTS" --source "$KIND" $(agent_args "$B" "$AUTH") \
  --http-timeout-ms 1500 --poll-interval-ms 500 --heartbeat-ms 500 --addr-external 127.0.0.1

# Before the first listing: both agents have read their server and their
# first snapshot is applied (the node is listed with its streams, not stale).
# Under load the first poll, the hello and the snapshot can take a while;
# every check below reads what the snapshot brought, so wait for it here,
# and when it never comes say why from the logs instead of failing each
# check on an empty node.
snapshot_in() {
  cli nodes -o json 2>/dev/null | $PYTHON -c "import json,sys
n=[x for x in json.load(sys.stdin)['nodes'] if x['id']=='$1']
sys.exit(0 if n and n[0]['counts']['streams'] >= $2 and not n[0]['stale'] else 1)"
}
for nd in n1:14 n2:13; do
  if ! wait_until 60 snapshot_in "${nd%%:*}" "${nd#*:}"; then
    not_ok "$KIND: node ${nd%%:*}'s first snapshot applied" \
      "$(tail -n 5 "$T/agent_${nd%%:*}.log" | cut -c1-200 | tr '\n' '|') c1: $(grep -E "${nd%%:*}[ ']" "$T/c1.log" | tail -n 5 | cut -c1-200 | tr '\n' '|')"
    exit 1
  fi
done

# row NODE NAME EXPR: python over that placement's listed row (s)
row() {
  cli streams --node "$1" -o json --limit 1000 2>/dev/null |
    $PYTHON -c "import json,sys; r=[s for s in json.load(sys.stdin)['streams'] if s['name']=='$2']; s=r[0] if r else None; sys.exit(0 if s and ($3) else 1)"
}
count_on() { [ "$(cli streams --node "$1" -o json --limit 1000 2>/dev/null | json_get "len(d['streams'])")" = "$2" ]; }
show() { cli streams show "$2" --node "$1" -o json 2>/dev/null | json_get "$3" 2>/dev/null; }
# names are app/name on SRS
N() { [ "$KIND" = srs ] && echo "live/$1" || echo "$1"; }

check "$KIND $SHAPE_A: every page of A's list (2 cameras + 12 bulk)" wait_until 20 count_on n1 14
check "$KIND $SHAPE_B: every page of B's list (1 camera + 12 bulk)" wait_until 20 count_on n2 13
now=$(date +%s)
check "$KIND $SHAPE_A: cam1 active with 1 client and audio" \
  row n1 "$(N cam1)" "s['status']=='active' and s['clients']==1 and 'audio' in s['functions']"
check "$KIND $SHAPE_A: cam1's bitrate near 2000 kbit/s" \
  wait_until 10 row n1 "$(N cam1)" "1500 <= s['bitrate_kbps'] <= 2500"
check "$KIND $SHAPE_A: cam2 at ~1000 kbit/s, no audio" \
  wait_until 10 row n1 "$(N cam2)" "700 <= s['bitrate_kbps'] <= 1300 and 'audio' not in s['functions']"
check "$KIND $SHAPE_A: cam1's uptime from the server (started in the last minute)" \
  row n1 "$(N cam1)" "$now - 60 <= s['started_at'] <= $now + 1"
check "$KIND $SHAPE_B: cam4 active on B" wait_until 10 row n2 "$(N cam4)" "s['status']=='active' and 700 <= s['bitrate_kbps'] <= 1300"
if [ "${HAS_DVR:-0}" = 1 ]; then
  nr() { [ "$(show n1 "$(N cam1)" "len(d['placements'][0]['dvr']['ranges'])")" = 2 ]; }
  check "$KIND $SHAPE_A: cam1's two DVR ranges" wait_until 10 nr
  rg=$(show n1 "$(N cam1)" "'%d-%d' % (d['placements'][0]['dvr']['ranges'][0]['from'], d['placements'][0]['dvr']['ranges'][0]['to'])")
  check "$KIND $SHAPE_A: the first range is the server's hour (got $rg)" \
    $PYTHON -c "a,b=map(int,'$rg'.split('-')); import sys; sys.exit(0 if b-a==3600 and abs(b-($now-3600))<120 else 1)"
  check "$KIND $SHAPE_A: cam1 marked dvr" row n1 "$(N cam1)" "'dvr' in s['functions']"
fi
# Node bandwidth: no --net-interface, so the sum of A's streams (2000 +
# 1000 + 12 x 1000 kbit/s in; out = each to its viewer), named as such
bw_ok() {
  cli nodes -o json | json_get "[n['usage'] for n in d['nodes'] if n['id']=='n1'][0]" |
    $PYTHON -c "import sys,ast; u=ast.literal_eval(sys.stdin.read()); sys.exit(0 if u['bandwidth_source']=='streams' and 13000 <= u['in_kbps'] <= 17000 and 13000 <= u['out_kbps'] <= 17000 else 1)"
}
check "$KIND: node in/out kbps from the sum of its streams, and says so" wait_until 10 bw_ok
check "$KIND: the nodes table names the figure's source" bash -c "\"$BIN/streamfleet\" nodes | grep -q ' streams '"
started1=$(cli streams --node n1 -o json --limit 1000 2>/dev/null | json_get "[s for s in d['streams'] if s['name']=='$(N cam1)'][0]['started_at']" 2>/dev/null)
started1=${started1:-0}

# --- changes: viewers come, the publisher reconnects, a stream appears,
# cam2 moves from A to B
sleep 1
ctl "$A" "_clients/cam1/4"
ctl "$A" "_reconnect/cam1"
ctl "$A" "_add/cam3"
ctl "$A" "_stop/cam2"
ctl "$B" "_add/cam2"
check "$KIND: cam1's clients follow (4)" wait_until 10 row n1 "$(N cam1)" "s['clients']==4"
check "$KIND: cam1's reconnect counted" wait_until 10 row n1 "$(N cam1)" "s['reconnects']['total']==1"
check "$KIND: cam1's uptime restarts with the new publisher" \
  wait_until 10 row n1 "$(N cam1)" "s['started_at'] > $started1"
check "$KIND: cam3 appears on A, active" wait_until 10 row n1 "$(N cam3)" "s['status']=='active'"
check "$KIND: cam2 active on B" wait_until 10 row n2 "$(N cam2)" "s['status']=='active'"
check "$KIND: cam2 on A is no longer active (moved)" \
  wait_until 10 row n1 "$(N cam2)" "s['status']!='active' and (s['type']=='migrated' or s['status']=='suspend')"
check "$KIND: cam2's move recorded as a migration" \
  wait_until 15 bash -c "\"$BIN/streamfleet\" migrations '$(N cam2)' -o json | $PYTHON -c 'import json,sys; sys.exit(0 if any(e[\"kind\"]==\"migrated\" for e in json.load(sys.stdin)[\"events\"]) else 1)'"
b1=$(show n1 "$(N cam1)" "d['placements'][0]['bitrate_kbps']")
check "$KIND: cam1's bitrate still from rising counters ($b1)" [ "$b1" -ge 1500 ] 2>/dev/null

# --- A fails, then recovers: stale, once in the log, then fresh
all_stale() { cli streams --node n1 -o json --limit 1000 2>/dev/null | json_get "all(r['stale'] for r in d['streams']) and len(d['streams'])==15" | grep -q True; }
none_stale() { cli streams --node n1 -o json --limit 1000 2>/dev/null | json_get "any(r['stale'] for r in d['streams'])" | grep -q False; }
# a failure streak before this one (a poll timed out on a loaded machine) is
# its own streak with its own line: count only the lines from here on
before=$(grep -c "source $KIND failing" "$T/agent_n1.log")
ctl "$A" "_mode/500"
check "$KIND: A answering 500 -> last good state kept, marked stale" wait_until 10 all_stale
sleep 1.5
n=$(( $(grep -c "source $KIND failing" "$T/agent_n1.log") - before ))
if [ "$n" = 1 ]; then ok "$KIND: one log line for the failure streak"
else not_ok "$KIND: one log line for the failure streak (got $n)" "$(grep "failing" "$T/agent_n1.log" | tail -n +$((before + 1)) | cut -c1-300 | tr '\n' '|')"; fi
check "$KIND: the agent keeps running" kill -0 "$(pid_of agent_n1)"
ctl "$A" "_mode/ok"
check "$KIND: recovers" wait_until 10 none_stale
secret=${AUTH#*:}
check "$KIND: the secret never appears in the log" bash -c "! grep -q '$secret' '$T/agent_n1.log'"
