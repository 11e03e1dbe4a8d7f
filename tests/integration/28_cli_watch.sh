#!/usr/bin/env bash
# 28_cli_watch.sh — live views from the change feed (docs/cli.md "watch",
# docs/protocol.md "changes", docs/http-api.md GET /api/v1/changes): a
# change pushed while `streamfleet watch` runs reaches it, as a JSON line
# with -o json and as a redraw in place on a terminal; the HTTP long-poll
# is held until a change and then answers it; cursors of another feed read
# as a gap; bad cursors and limits are 400.
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 --suspect-ms 1000 --down-ms 2000 || { not_ok "controller c1 started"; exit 1; }
H="http://$CTL_c1_HTTP"
PA=$(free_port)
start_agent A "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PA" --poll-interval-ms 200
push() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$PA" || return 1
  printf '%s\n' "$1" >&3; read -r -t 3 reply <&3; exec 3>&-
  [ "$reply" = ok ]
}
wait_until 10 push '{"name": "cam1", "status": "active", "clients": 1}'
wait_until 10 sh -c "$BIN/streamfleet streams --name cam1 | grep -q cam1"

# -o json: one line per change, while it runs
bg watch_json "$BIN/streamfleet" -o json watch streams
sleep 1.5
push '{"name": "cam1", "clients": 42}'
push '{"name": "cam2", "status": "suspend"}'
# the agent polls its push source every 200 ms: let it see cam2 before it goes
wait_until 10 sh -c "$BIN/streamfleet streams --name cam2 | grep -q cam2"
push '{"name": "cam2", "deleted": true}'
jl() { $PYTHON - "$T/watch_json.log" "$1" <<'PY'
import json, sys
want = sys.argv[2]
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ok = {"clients42": any(r.get("op") == "put" and r.get("name") == "cam1" and r.get("clients") == 42 for r in rows),
      "cam2put": any(r.get("op") == "put" and r.get("name") == "cam2" and r.get("status") == "suspend" for r in rows),
      "cam2del": any(r.get("op") == "delete" and r.get("name") == "cam2" for r in rows),
      "ordered": [r["seq"] for r in rows] == sorted(r["seq"] for r in rows) and len(rows) >= 3}
sys.exit(0 if ok[want] else 1)
PY
}
check "watch -o json prints the change that came while it ran (cam1 clients 42)" wait_until 10 jl clients42
check "watch -o json prints a new stream" jl cam2put
check "watch -o json prints a deletion" jl cam2del
check "watch -o json lines come in commit order" jl ordered
stop watch_json

# On a terminal: the view redrawn in place when a change comes
script -qfec "$BIN/streamfleet watch streams --name cam" /dev/null >"$T/tty.log" 2>&1 &
spid=$!; PIDS+=("$spid")
sleep 2
push '{"name": "cam1", "clients": 77}'
redrawn() { [ "$(grep -c 'Every change: streamfleet watch streams' "$T/tty.log")" -ge 2 ] && grep -q ' 77 ' "$T/tty.log"; }
check "watch on a terminal redraws the view when a change comes" wait_until 10 redrawn
check "the redraw is in place (clears the screen)" grep -q $'\e\[H\e\[2J' "$T/tty.log"
kill -INT "$spid" 2>/dev/null; wait "$spid" 2>/dev/null

# HTTP: a cursor, then a long-poll held until a change arrives
c0=$(curl -s "$H/api/v1/changes" | json_get 'd["cursor"]')
check "GET /api/v1/changes without a cursor gives one" test -n "$c0"
# the change may come after others (node records are changes too): read on
got5() {
  local c=$c0 i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    curl -s "$H/api/v1/changes?after=$c&wait_ms=3000" >"$T/held.json"
    $PYTHON -c "import json,sys; d=json.load(open('$T/held.json')); sys.exit(0 if any(c.get('name')=='cam1' and c.get('clients')==5 for c in d['changes']) else 1)" && return 0
    c=$(json_get 'd["cursor"]' <"$T/held.json")
  done
  return 1
}
push '{"name": "cam1", "clients": 5}'
check "the change feed over HTTP carries a pushed change" got5
check "max=0 says only whether anything changed" \
  sh -c "curl -s '$H/api/v1/changes?after=$c0&max=0' | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"changed\"] and d[\"changes\"] == [] else 1)'"
check "a cursor of another feed (another controller, an earlier run) is a gap" \
  sh -c "curl -s '$H/api/v1/changes?after=1234-5' | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"gap\"] else 1)'"
check "a bad cursor is 400 bad_cursor" \
  sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' '$H/api/v1/changes?after=zz')\" = 400"
check "max over 10000 is 400 bad_limit" \
  sh -c "curl -s '$H/api/v1/changes?max=20000' | grep -q bad_limit"
# watch nodes -o json: a node's liveness transition is a change too
bg watch_nodes "$BIN/streamfleet" -o json watch nodes
sleep 1.5
stop agent_A
suspect() { grep -q '"op":"node","node":"A","what":"suspect"' "$T/watch_nodes.log"; }
check "watch nodes -o json prints a node turning suspect when its agent stops" wait_until 15 suspect
check "watch nodes shows node changes only" bash -c "! grep -q '\"op\":\"put\"' '$T/watch_nodes.log'"
stop watch_nodes
# Nothing commits once A is down: a long-poll is held until A comes back
down() { grep -q '"what":"down"' "$T/watch_nodes.log" || $BIN/streamfleet nodes | grep -qE '^A +down'; }
wait_until 15 down
sleep 1
c1=$(curl -s "$H/api/v1/changes" | json_get 'd["cursor"]')
( sleep 2; exec "$BIN/streamfleet-agent" --node A --controllers "$CTL_c1_AGENTS" --cert "$T/keys/A" \
    --server-cert "$T/keys/controller" --state-dir "$T/agent-A" --source push \
    --push-listen "127.0.0.1:$PA" >"$T/agent_A2.log" 2>&1 ) &
PIDS+=($!)
t0=$(date +%s%N)
curl -s "$H/api/v1/changes?after=$c1&max=0&wait_ms=15000" >"$T/held.json"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
check "a long-poll is held while nothing is committed (${ms} ms, over 1.5 s)" test "$ms" -ge 1500
check "and answers when the agent's return is committed, before its 15 s" test "$ms" -lt 12000
check "the held answer says something changed" sh -c "json_get() { $PYTHON -c \"import json,sys; d=json.load(sys.stdin); print(\$1)\"; }; $PYTHON -c \"import json; d=json.load(open('$T/held.json')); import sys; sys.exit(0 if d['changed'] and d['changes'] == [] else 1)\""
sf_done
