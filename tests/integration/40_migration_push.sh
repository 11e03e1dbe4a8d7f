#!/usr/bin/env bash
# 40_migration_push.sh — transfer, migration, return, stuck transfer and
# failover (DESIGN §3, docs/migrations.md), driven deterministically through
# two push-source agents on nodes A and B:
#   cam1: A -> B with overlap (transfer_started, then migrated with its
#         duration), then back B -> A (transfer_started, returned);
#   cam2: A -> B that never completes (transfer_started, transfer_stuck),
#         then B gives up (the transfer ends without a move);
#   cam3: A's agent is killed; once A is down B's secondary becomes active
#         (failover); A's streams show offline, never active.
# Exact event counts, the derived type/transfer flags and filters, the DVR
# timeline joined over A and B with --at on both sides and in the gap, the
# history in `streams show`, and the same events after a kill -9 restart.
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
# --transfer-timeout 3600: no transfer of this test is slow enough to be stuck, however
# loaded the machine (cam2 is stuck because it started more than an hour ago)
start_controller c1 --suspect-ms 1000 --down-ms 2000 --transfer-timeout 3600 \
  || { not_ok "controller c1 started"; exit 1; }
PA=$(free_port); PB=$(free_port)
start_agent A "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PA" --poll-interval-ms 200 --heartbeat-ms 250
start_agent B "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PB" --poll-interval-ms 200 --heartbeat-ms 250

# push PORT JSON: one line to a push endpoint; fails unless it says ok
push() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf '%s\n' "$2" >&3
  read -r -t 3 reply <&3
  exec 3>&-
  [ "$reply" = ok ] || { echo "# push to $1: $reply" >&2; return 1; }
}
mig() { cli migrations -o json "$@"; }
# count KIND: events of that kind right now
count() { mig | json_get "d['counts']['$1']"; }
count_is() { [ "$(count "$1")" = "$2" ]; }
row() { # row NODE NAME EXPR: python expr over the listed row (s)
  cli streams --node "$1" --name "$2" -o json |
    $PYTHON -c "import json,sys; d=json.load(sys.stdin); r=[s for s in d['streams'] if s['name']=='$2']; s=r[0] if r else None; ok=s is not None and ($3); ok or print('# row:', s and {k: s[k] for k in ('type','status','transfer','migrated_to')}, file=sys.stderr); sys.exit(0 if ok else 1)"
}

agents_up() { [ "$(cli nodes -o json | json_get "sorted(n['id'] for n in d['nodes'] if n['liveness']=='alive')")" = "['A', 'B']" ]; }
check "both agents connected" wait_until 15 agents_up
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_until 10 listening $PA; wait_until 10 listening $PB

NOW=$(date +%s)
A0=$((NOW - 100)); A1=$((NOW - 50)); B0=$((NOW - 40)); B1=$((NOW - 10))
# --- cam1 runs on A, with an archive there
check "A: cam1 pushed active" push $PA "{\"name\":\"cam1\",\"status\":\"active\",\"started_at\":$NOW,\"functions\":[\"dvr\"],\"dvr\":{\"ranges\":[[$A0,$A1]]}}"
check "cam1 listed on A, active" wait_until 10 row A cam1 "s['status']=='active' and s['type']=='primary' and not s['transfer']"

# --- two watches of the history (-o json: the events, one a line, as migrations
# -o json lists them): every stream from two hours ago, cam1 from the test's start
# (a start given: what is there at the first poll is printed too, so the watches
# race nothing)
"$BIN/streamfleet" watch migrations --since 2h -o json > "$T/watch_all.jsonl" 2> "$T/watch_all.err" &
WATCH_ALL=$!
"$BIN/streamfleet" watch migrations cam1 --start "$NOW" -o json > "$T/watch_cam1.jsonl" 2> "$T/watch_cam1.err" &
WATCH_CAM1=$!

# --- B starts it too, declaring where it came from: a transfer
B_START=$(date +%s)
check "B: cam1 pushed active, transferred from A" push $PB "{\"name\":\"cam1\",\"status\":\"active\",\"started_at\":$B_START,\"transferred_from\":\"A\",\"functions\":[\"dvr\"],\"dvr\":{\"ranges\":[[$B0,$B1]]}}"
check "transfer_started once" wait_until 10 count_is transfer_started 1
check "transfer flag on A's placement" row A cam1 "s['transfer']"
check "transfer flag on B's placement" row B cam1 "s['transfer']"
check "--filter transfer lists both placements" bash -c "[ \"\$(\"$BIN/streamfleet\" streams --filter transfer -o json | $PYTHON -c 'import json,sys; print(sorted(s[\"node\"] for s in json.load(sys.stdin)[\"streams\"]))')\" = \"['A', 'B']\" ]"
check "the listing marks the transfer" bash -c "\"$BIN/streamfleet\" streams --name cam1 --no-color | grep -q '⇄transfer'"

# --- A stops it (its archive stays): migrated, with the transfer's duration
sleep 1
A_STOP_MS=$(date +%s%3N)
check "A: cam1 pushed suspend" push $PA '{"name":"cam1","status":"suspend","started_at":0}'
check "migrated once" wait_until 10 count_is migrated 1
SEEN_MS=$(date +%s%3N)
# the overlap: from B's start (whole seconds) to A's stop as its agent stamped it
MIN_MS=$((A_STOP_MS - (B_START + 1) * 1000)); MAX_MS=$((SEEN_MS - B_START * 1000))
check "migrated A -> B with the overlap's duration" bash -c "\"$BIN/streamfleet\" migrations cam1 -o json | $PYTHON -c '
import json,sys; d=json.load(sys.stdin); m=[e for e in d[\"events\"] if e[\"kind\"]==\"migrated\"]
sys.exit(0 if len(m)==1 and m[0][\"from\"]==\"A\" and m[0][\"to\"]==\"B\" and $MIN_MS <= m[0][\"duration_ms\"] <= $MAX_MS else 1)'"
check "A's placement is migrated, pointing at B" row A cam1 "s['type']=='migrated' and s['migrated_to']=='B' and not s['transfer']"
check "B's placement is primary, no transfer" row B cam1 "s['type']=='primary' and not s['transfer']"
check "--filter migrated lists A's placement only" bash -c "[ \"\$(\"$BIN/streamfleet\" streams --filter migrated -o json | $PYTHON -c 'import json,sys; print([s[\"node\"] for s in json.load(sys.stdin)[\"streams\"]])')\" = \"['A']\" ]"
check "the listing marks the type M" bash -c "\"$BIN/streamfleet\" streams --node A --name cam1 --no-color | grep -q '^1 *M cam1'"
check "streams show names the current node and the history" bash -c "out=\$(\"$BIN/streamfleet\" streams show cam1 --no-color); echo \"\$out\" | grep -q 'Current node: B' && echo \"\$out\" | grep -q 'transfer_started *A -> B' && echo \"\$out\" | grep -q 'migrated *A -> B'"

# --- the archive timeline joins A's and B's ranges
dvr_at() { cli dvr cam1 --at "$1" -o json; }
check "dvr: timeline holds A's then B's range" bash -c "\"$BIN/streamfleet\" dvr cam1 -o json | $PYTHON -c '
import json,sys; d=json.load(sys.stdin); t=d[\"ranges\"]
sys.exit(0 if [(e[\"node\"],e[\"from\"],e[\"to\"]) for e in t]==[(\"A\",$A0,$A1),(\"B\",$B0,$B1)] and d[\"current\"]==\"B\" and all(e[\"rtsp\"] and e[\"hls\"] for e in t) else 1)'"
check "dvr --at in A's range names A with links" bash -c "\"$BIN/streamfleet\" dvr cam1 --at $((A0 + 20)) -o json | $PYTHON -c '
import json,sys; d=json.load(sys.stdin); a=d[\"holder\"]; p=a[\"playback\"]; sys.exit(0 if a[\"node\"]==\"A\" and \"$((A0 + 20))\" in p[\"rtsp\"] and p[\"hls\"] else 1)'"
check "dvr --at in B's range names B" bash -c "\"$BIN/streamfleet\" dvr cam1 --at $((B0 + 5)) -o json | $PYTHON -c '
import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"holder\"][\"node\"]==\"B\" else 1)'"
check "dvr --at between them reports the gap" bash -c "\"$BIN/streamfleet\" dvr cam1 --at $((A1 + 5)) -o json | $PYTHON -c '
import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"holder\"] is None and d[\"before\"][\"node\"]==\"A\" and d[\"after\"][\"node\"]==\"B\" else 1)'"
check "dvr --at relative and ISO-8601 forms parse" bash -c "\"$BIN/streamfleet\" dvr cam1 --at -45s >/dev/null && \"$BIN/streamfleet\" dvr cam1 --at $(date -u -d @$((B0 + 5)) +%Y-%m-%dT%H:%M:%SZ) | grep -q 'node B'"

# --- A's placement deleted and reported again (an agent restart, a rescan): still migrated
check "A: cam1 deleted" push $PA '{"name":"cam1","deleted":true}'
gone_a() { [ "$(cli streams --node A --name cam1 -o json | json_get "d['total']")" = 0 ]; }
check "A's cam1 is gone" wait_until 10 gone_a
check "A: cam1 reported again (suspend, archive)" push $PA "{\"name\":\"cam1\",\"status\":\"suspend\",\"functions\":[\"dvr\"],\"dvr\":{\"ranges\":[[$A0,$A1]]}}"
check "A's placement is migrated again at once" wait_until 10 row A cam1 "s['type']=='migrated' and s['migrated_to']=='B'"

# --- and back to A: returned
check "A: cam1 active again" push $PA "{\"name\":\"cam1\",\"status\":\"active\",\"started_at\":$(date +%s)}"
check "transfer_started again (B -> A)" wait_until 10 count_is transfer_started 2
sleep 1
check "B: cam1 pushed suspend" push $PB '{"name":"cam1","status":"suspend","started_at":0}'
check "returned once" wait_until 10 count_is returned 1
check "B's placement now migrated, pointing at A" row B cam1 "s['type']=='migrated' and s['migrated_to']=='A'"
check "A's placement primary again" row A cam1 "s['type']=='primary' and not s['transfer']"

# --- cam2: a transfer that never completes
check "A: cam2 active (for two hours)" push $PA "{\"name\":\"cam2\",\"status\":\"active\",\"started_at\":$((NOW - 7200))}"
wait_until 10 row A cam2 "s['status']=='active'"
check "B: cam2 active too, since 70 minutes ago" push $PB "{\"name\":\"cam2\",\"status\":\"active\",\"started_at\":$((NOW - 4200))}"
check "transfer_started for cam2" wait_until 10 count_is transfer_started 3
check "transfer_stuck: it started more than the 3600 s timeout ago" wait_until 10 count_is transfer_stuck 1
# stuck exactly one timeout after the transfer started (times from the records,
# so this holds however loaded the machine is)
check "stuck at start + 3600 s" bash -c "\"$BIN/streamfleet\" migrations cam2 -o json | $PYTHON -c '
import json,sys; e={x[\"kind\"]: x for x in json.load(sys.stdin)[\"events\"]}
s=e[\"transfer_stuck\"]; t=e[\"transfer_started\"]; sys.exit(0 if s[\"at_ms\"]-t[\"at_ms\"]==3600000 and s[\"duration_ms\"]==3600000 else 1)'"
check "the stuck stream stays flagged" row B cam2 "s['transfer']"
# B gives up: the transfer ends without a move (and still counts as stuck);
# an open transfer whose source dies is a takeover (a failover), see cam3
check "B: cam2 given up" push $PB '{"name":"cam2","status":"suspend","started_at":0}'
check "cam2 no longer flagged" wait_until 10 row B cam2 "not s['transfer']"
check "still stuck once" count_is transfer_stuck 1

# --- cam3: A's node dies; B's secondary takes over
check "A: cam3 active" push $PA "{\"name\":\"cam3\",\"status\":\"active\",\"started_at\":$(date +%s)}"
check "B: cam3 standing by as secondary" push $PB '{"name":"cam3","status":"suspend","type":"secondary"}'
wait_until 10 row B cam3 "s['type']=='secondary'"
wait_until 10 row A cam3 "s['status']=='active'"
stop agent_A KILL
a_down() { cli nodes -o json | json_get "[n['liveness'] for n in d['nodes'] if n['id']=='A'][0]" | grep -qx down; }
check "node A is down after --down-ms" wait_until 10 a_down
check "A's streams show offline, never active" bash -c "\"$BIN/streamfleet\" streams --node A -o json | $PYTHON -c '
import json,sys; r=json.load(sys.stdin)[\"streams\"]; sys.exit(0 if r and all(s[\"status\"]==\"offline\" for s in r) else 1)'"
active_on_a() { [ "$(cli streams --node A --filter active -o json | json_get "d['total']")" = 0 ]; }
check "--filter active lists nothing of A" active_on_a
check "B: cam3 secondary becomes active" push $PB "{\"name\":\"cam3\",\"status\":\"active\",\"type\":\"secondary\",\"started_at\":$(date +%s)}"
check "failover once" wait_until 10 count_is failover 1
check "failover A -> B for cam3" bash -c "\"$BIN/streamfleet\" migrations cam3 -o json | $PYTHON -c '
import json,sys; e=json.load(sys.stdin)[\"events\"]; sys.exit(0 if [(x[\"kind\"],x[\"from\"],x[\"to\"]) for x in e]==[(\"failover\",\"A\",\"B\")] else 1)'"
check "A's cam3 is migrated to B, offline" row A cam3 "s['type']=='migrated' and s['migrated_to']=='B' and s['status']=='offline'"

# --- counts use the derived state: A's cam3 migrated away is not primary
# (A: cam1 and cam2 primary, cam3 migrated; B: cam2 primary)
check "nodes: A counts 2 primary, B 1" bash -c "\"$BIN/streamfleet\" nodes -o json | $PYTHON -c '
import json,sys; n={x[\"id\"]: x[\"counts\"][\"primary\"] for x in json.load(sys.stdin)[\"nodes\"]}; sys.exit(0 if n==dict(A=2,B=1) else 1)'"
# descending name sort orders same-name placements alike with and without a filter
order() { cli streams --sort -name -o json "$@" | json_get "' '.join(r['name']+'@'+r['node'] for r in d['streams'])"; }
all_types="$(order --filter primary,secondary,migrated)"; plain="$(order)"
if [ "$plain" = "$all_types" ]; then ok "descending sort alike with and without a filter"; else not_ok "descending sort alike with and without a filter" "plain '$plain' filtered '$all_types'"; fi

# --- exact totals, newest first, and the same after a kill -9 restart
EXPECT="{'transfer_started': 3, 'migrated': 1, 'failover': 1, 'transfer_stuck': 1, 'returned': 1, 'conflict': 0}"
counts() { mig | json_get "dict(sorted(d['counts'].items()))"; }
want=$($PYTHON -c "print(dict(sorted($EXPECT.items())))")
got=$(counts)
if [ "$got" = "$want" ]; then ok "exact event counts"; else not_ok "exact event counts" "got $got want $want"; fi
check "events newest first" bash -c "\"$BIN/streamfleet\" migrations -o json | $PYTHON -c '
import json,sys; t=[e[\"at_ms\"] for e in json.load(sys.stdin)[\"events\"]]; sys.exit(0 if len(t)==7 and t==sorted(t,reverse=True) else 1)'"
check "--since keeps recent events only" bash -c "[ \"\$(\"$BIN/streamfleet\" migrations --since 1s -o json | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])')\" -lt 7 ]"
check "table output lists the kinds" bash -c "\"$BIN/streamfleet\" migrations --no-color | grep -q 'returned' && \"$BIN/streamfleet\" migrations --no-color | grep -q '7 of 7 events'"
# the watches printed each event when it appeared (in time order within a poll),
# each line exactly an item of migrations -o json (the same keys, types and
# values); the one item that changed since (cam2's stuck reason once B gave up)
# again, as it is now
# distinct events (a changed item is printed twice and must not count twice)
watched() { [ "$($PYTHON -c '
import json, sys
print(len({(e["at_ms"], e["kind"], e["uid"], e["from"], e["to"]) for e in map(json.loads, open(sys.argv[1]))}))' "$T/watch_$1.jsonl" 2>/dev/null)" -ge "$2" ]; }
check "watch migrations printed the 7 events" wait_until 10 watched all 7
check "watch migrations cam1 printed cam1's 4 events" wait_until 10 watched cam1 4
same_items() { # same_items FILE [NAME]: the watch's lines against migrations -o json
  "$BIN/streamfleet" migrations ${2:+"$2"} -o json | $PYTHON -c '
import json, sys
items = json.load(sys.stdin)["events"]
lines = [json.loads(l) for l in open(sys.argv[1])]
ident = lambda e: (e["at_ms"], e["kind"], e["uid"], e["from"], e["to"])
shape = lambda e: [(k, type(v).__name__) for k, v in e.items()]
now = {ident(i): i for i in items}
last, first = {}, []
for l in lines:
    if ident(l) not in last:
        first.append(l)
    last[ident(l)] = l
ok = all(isinstance(l, dict) and ident(l) in now and shape(l) == shape(now[ident(l)]) for l in lines) \
  and sorted(last) == sorted(now) and all(last[k] == now[k] for k in now) \
  and all(a != b for a, b in zip(lines, lines[1:]) if ident(a) == ident(b)) \
  and len(lines) - len(first) <= 1
ok or print("# watch:", lines, "\n# migrations:", items, file=sys.stderr)
sys.exit(0 if ok else 1)' "$1"
}
check "watch migrations -o json: migrations' items, each once (and once more when it changed)" same_items "$T/watch_all.jsonl"
check "watch migrations cam1 -o json: cam1's items" same_items "$T/watch_cam1.jsonl" cam1
kill "$WATCH_ALL" "$WATCH_CAM1"; wait "$WATCH_ALL" "$WATCH_CAM1" 2>/dev/null
check "watch migrations --after is a usage error" bash -c "\"$BIN/streamfleet\" watch migrations --after x -o json 2>/dev/null; [ \$? = 2 ]"
stop c1 KILL
restart_controller c1 --suspect-ms 1000 --down-ms 2000 --transfer-timeout 3600
got=$(counts)
if [ "$got" = "$want" ]; then ok "same events after kill -9 and restart"; else not_ok "same events after kill -9 and restart" "got $got"; fi
# B's agent reconnects with the same state: nothing new is derived
sleep 2
got=$(counts)
if [ "$got" = "$want" ]; then ok "agent resync derives no new events"; else not_ok "agent resync derives no new events" "got $got"; fi
check "bad --since is a usage error" bash -c "\"$BIN/streamfleet\" migrations --since soon; [ \$? = 2 ]"
check "bad --at is a usage error" bash -c "\"$BIN/streamfleet\" dvr cam1 --at yesterday; [ \$? = 2 ]"
check "dvr of an unknown stream is an answer error" bash -c "\"$BIN/streamfleet\" dvr nosuch 2>/dev/null; [ \$? = 1 ]"
sf_done
