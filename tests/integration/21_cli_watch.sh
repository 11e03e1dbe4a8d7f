#!/usr/bin/env bash
# 21_cli_watch.sh — live views from the change feed (docs/cli.md "watch",
# docs/protocol.md "changes", docs/http-api.md GET /api/v1/changes): a
# change pushed while `streamfleet watch` runs reaches it, as a JSON line
# with -o json and as a redraw in place on a terminal; the HTTP long-poll
# is held until a change and then answers it; cursors of another feed read
# as a gap; bad cursors and limits are 400.
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 || { not_ok "controller c1 started"; exit 1; }
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
( sleep 1.5; push '{"name": "cam1", "clients": 5}' ) &
t0=$(date +%s%N)
curl -s "$H/api/v1/changes?after=$c0&wait_ms=15000" >"$T/held.json"
t1=$(date +%s%N)
check "the long-poll was held until the change (over 1 s)" test $(( (t1 - t0) / 1000000 )) -ge 1000
check "the long-poll answered before its 15 s ran out" test $(( (t1 - t0) / 1000000 )) -lt 12000
check "the held answer carries the change" \
  $PYTHON -c "import json; d=json.load(open('$T/held.json')); sys=__import__('sys'); sys.exit(0 if any(c['name']=='cam1' and c['clients']==5 for c in d['changes']) and d['changed'] else 1)"
check "max=0 says only whether anything changed" \
  sh -c "curl -s '$H/api/v1/changes?after=$c0&max=0' | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"changed\"] and d[\"changes\"] == [] else 1)'"
check "a cursor of another feed (another controller, an earlier run) is a gap" \
  sh -c "curl -s '$H/api/v1/changes?after=1234-5' | $PYTHON -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"gap\"] else 1)'"
check "a bad cursor is 400 bad_cursor" \
  sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' '$H/api/v1/changes?after=zz')\" = 400"
check "max over 10000 is 400 bad_limit" \
  sh -c "curl -s '$H/api/v1/changes?max=20000' | grep -q bad_limit"
sf_done
