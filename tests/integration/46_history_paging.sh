#!/usr/bin/env bash
# 46_history_paging.sh — the replicated history paged and filtered (issue 14):
# `streamfleet migrations` and GET /api/v1/migrations page through the
# history with opaque cursors (next_after -> after) and filter by stream,
# node, kind and time range; each page and each selection is the same JSON
# document from the CLI (-o json) and from curl. A page taken after new
# events arrived continues where the first left off; the pages joined are
# the whole listing. Bad cursors, kinds and ranges are clear errors; an
# unknown node is exit 1. `streams show` tells each placement's story.
#
# cam1 moves A -> B -> C -> A and cam2 B -> A, through three push agents,
# with started_at in the past, so the moves need no waiting: 8 events (the
# controller's transfer timeout is an hour, so none of them is stuck).
. "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 --transfer-timeout 3600 || { not_ok "controller c1 started"; exit 1; }
H="http://$CTL_c1_HTTP"
declare -A P
for n in A B C; do
  P[$n]=$(free_port)
  start_agent "$n" "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:${P[$n]}" --poll-interval-ms 200
done
pushes() { push_ok "${P[A]}" '{"reset": true}' && push_ok "${P[B]}" '{"reset": true}' && push_ok "${P[C]}" '{"reset": true}'; }
check "push endpoints answer" wait_until 10 pushes

NOW=$(date +%s)
on() { push_ok "${P[$1]}" "{\"name\":\"$2\",\"status\":\"active\",\"started_at\":$3}"; }
off() { push_ok "${P[$1]}" "{\"name\":\"$2\",\"status\":\"suspend\",\"started_at\":0}"; }
nevents() { [ "$(cli migrations -o json | json_get "d['total']")" = "$1" ]; }
placed() { [ "$(cli streams --name "$1" --node "$2" --limit 0 -o json | json_get "d['total']")" = 1 ]; }
step() {  # step STREAM NODE on|off AT EVENTS: push, then wait for EVENTS events in all
  local s=$1 n=$2 what=$3 at=$4 want=$5
  if [ "$what" = on ]; then on "$n" "$s" "$at"; else off "$n" "$s"; fi || return 1
  wait_until 10 nevents "$want"
}
check "cam1 runs on A" on A cam1 $((NOW - 1000))
check "A's placement is listed" wait_until 10 placed cam1 A
check "cam1 starts on B: transfer_started"     step cam1 B on  $((NOW - 900)) 1
check "A stops it: migrated"                   step cam1 A off 0 2
check "cam1 starts on C: transfer_started"     step cam1 C on  $((NOW - 800)) 3
check "B stops it: migrated"                   step cam1 B off 0 4
check "cam1 starts on A again"                 step cam1 A on  $((NOW - 700)) 5
check "C stops it: returned"                   step cam1 C off 0 6
check "cam2 runs on B" on B cam2 $((NOW - 600))
check "B's placement of cam2 is listed" wait_until 10 placed cam2 B
check "cam2 starts on A: transfer_started"     step cam2 A on  $((NOW - 500)) 7
check "B stops it: migrated"                   step cam2 B off 0 8

# same_once HTTP-PATH CLI-ARGS...: the two documents, `now` aside, equal
same_once() {
  local path=$1; shift
  cli "$@" -o json >"$T/cli.json" 2>"$T/cli.err" || return 1
  curl -s "$H$path" >"$T/http.json" || return 1
  $PYTHON - "$T/cli.json" "$T/http.json" <<'PY'
import json, sys
def clean(v):
    if isinstance(v, dict):
        return [(k, clean(x)) for k, x in v.items() if k != "now"]
    if isinstance(v, list):
        return [clean(x) for x in v]
    return v
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
if "error" in b or clean(a) != clean(b):
    print("# CLI: ", json.dumps(a)[:600], file=sys.stderr)
    print("# HTTP:", json.dumps(b)[:600], file=sys.stderr)
    sys.exit(1)
PY
}
same() { wait_until 5 same_once "$@"; }
field() { json_get "$1" <"$T/cli.json"; }

# --- pages ------------------------------------------------------------------
cli migrations --limit 100 -o json >"$T/all.json"
check "the whole history: 8 events, no next page" \
  $PYTHON -c "import json; d=json.load(open('$T/all.json')); assert d['total'] == 8 and d['count'] == 8 and d['next_after'] is None, d"
check "page 1 of 3: the same document" same '/api/v1/migrations?limit=3' migrations --limit 3
check "page 1 has 3 of 8 and names the next page" \
  $PYTHON -c "import json; d=json.load(open('$T/cli.json')); assert d['count'] == 3 and d['total'] == 8 and d['next_after'], d"
cp "$T/cli.json" "$T/page1.json"
C1=$(field "d['next_after']")
# New events while paging: cam2 starts on C now (the newest event of all:
# the migrations above are stamped with the agents' clocks, a moment ago)
check "a new event arrives between pages" step cam2 C on "$(( $(date +%s) + 1 ))" 9
check "page 2 (after the cursor): the same document" same "/api/v1/migrations?limit=3&after=$C1" migrations --limit 3 --after "$C1"
cp "$T/cli.json" "$T/page2.json"
C2=$(field "d['next_after']")
check "page 3: the same document" same "/api/v1/migrations?limit=3&after=$C2" migrations --limit 3 --after "$C2"
cp "$T/cli.json" "$T/page3.json"
check "the pages joined are the history before the new event, each event once" $PYTHON - "$T" <<'PY'
import json, sys
t = sys.argv[1]
pages = [json.load(open(f"{t}/page{i}.json")) for i in (1, 2, 3)]
joined = [e for p in pages for e in p["events"]]
whole = json.load(open(f"{t}/all.json"))["events"]
assert joined == whole, (joined, whole)
assert pages[2]["next_after"] is None and pages[2]["count"] == 2, pages[2]
assert pages[1]["total"] == 9, pages[1]
PY
check "the new event heads a fresh first page" \
  bash -c "cli migrations --limit 1 -o json | $PYTHON -c \"import json,sys; e=json.load(sys.stdin)['events'][0]; assert (e['stream'], e['from'], e['to'], e['kind']) == ('cam2', 'A', 'C', 'transfer_started'), e\""

# --- filters ----------------------------------------------------------------
check "one stream: the same document" same '/api/v1/migrations?stream=cam2&limit=10' migrations cam2 --limit 10
check "cam2 has 3 events" [ "$(field "d['total']")" = 3 ]
check "one node: the same document" same '/api/v1/migrations?node=A&limit=100' migrations --node A --limit 100
check "node A: the 7 events from or to A" \
  $PYTHON -c "import json; d=json.load(open('$T/cli.json')); assert d['total'] == 7 and all('A' in (e['from'], e['to']) for e in d['events']), d"
check "two kinds: the same document" same '/api/v1/migrations?kind=migrated,returned&limit=100' migrations --kind migrated,returned --limit 100
check "migrated and returned: 4, counts of every kind" \
  $PYTHON -c "import json; d=json.load(open('$T/cli.json')); assert d['total'] == 4 and {e['kind'] for e in d['events']} == {'migrated', 'returned'} and d['counts']['transfer_started'] == 5, d"
S=$((NOW - 850)); E=$((NOW - 650))
check "a time range: the same document" same "/api/v1/migrations?start=$S&end=$E&limit=100" migrations --start "$S" --end "$E" --limit 100
check "[start, end) holds the two starts inside it" \
  $PYTHON -c "import json; d=json.load(open('$T/cli.json')); assert d['total'] == 2 and all($S * 1000 <= e['at_ms'] < $E * 1000 for e in d['events']), d"
check "everything at once, paged by one: the same document" \
  same "/api/v1/migrations?stream=cam1&node=C&kind=transfer_started,returned&start=$((NOW - 2000))&limit=1" \
  migrations cam1 --node C --kind transfer_started,returned --start "-2000s" --limit 1
check "cam1 at C: 3 such events, one per page" \
  $PYTHON -c "import json; d=json.load(open('$T/cli.json')); assert d['total'] == 3 and d['count'] == 1 and d['next_after'], d"

# --- streams show: the full story ------------------------------------------
cli streams show cam1 >"$T/show.txt"
cli streams show cam1 -o json >"$T/show.json"
check "streams show names the current node and counts the moves" \
  bash -c "grep -q '^Current node: A' '$T/show.txt' && grep -q '^Placement history: 6 events, 3 moves' '$T/show.txt'"
check "every event of the history is a line: time, kind, from -> to, duration, reason" $PYTHON - "$T" <<'PY'
import json, re, sys
t = sys.argv[1]
hist = json.load(open(f"{t}/show.json"))["history"]
text = open(f"{t}/show.txt").read().splitlines()
# oldest first: the three starts (in the past), then the stops (just now)
assert [e["kind"] for e in hist] == ["transfer_started"] * 3 + ["migrated", "migrated", "returned"], hist
assert [e["at_ms"] for e in hist] == sorted(e["at_ms"] for e in hist), hist
for e in hist:
    lines = [l for l in text if f" {e['kind']} " in l and f"{e['from']} -> {e['to']}" in l and l.rstrip().endswith(e["reason"])]
    assert len(lines) == 1, (e, lines)
    if e["duration_ms"]:
        assert re.search(r" \d+(\.\d)?s |\dm", lines[0]), lines[0]
PY
check "A's story: it ran there first, left for B, came back from C, is there since" bash -c "
  s=\$(sed -n '/^Story on node A\$/,/^\$/p' '$T/show.txt'); echo \"\$s\" | grep -q 'left for B (migrated, transfer .*), having run here first' &&
  echo \"\$s\" | grep -q 'came from C (returned, transfer ' && echo \"\$s\" | grep -q 'here since '"
check "B's story: came from A, left for C after its stay" bash -c "
  s=\$(sed -n '/^Story on node B\$/,/^\$/p' '$T/show.txt'); echo \"\$s\" | grep -q 'came from A (migrated, transfer ' &&
  echo \"\$s\" | grep -qE 'left for C \(migrated, transfer .*\), after [0-9.]+s here'"
check "C's story: came from B, left for A" bash -c "
  s=\$(sed -n '/^Story on node C\$/,/^\$/p' '$T/show.txt'); echo \"\$s\" | grep -q 'came from B (migrated' && echo \"\$s\" | grep -q 'left for A (returned'"

# --- errors -----------------------------------------------------------------
http_code() { curl -s -o "$T/err.json" -w '%{http_code}' "$H$1"; }
check "a bad cursor: 400 bad_cursor" bash -c "[ \"\$(curl -s -o '$T/err.json' -w '%{http_code}' '$H/api/v1/migrations?after=nonsense')\" = 400 ] && grep -q bad_cursor '$T/err.json'"
check "a bad cursor: the CLI says so, exit 1" bash -c "'$BIN/streamfleet' migrations --after nonsense 2>'$T/e'; [ \$? = 1 ] && grep -q cursor '$T/e'"
check "a bad kind list: 400 bad_kind" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$H/api/v1/migrations?kind=migrated,bogus')\" = 400 ]"
check "end before start: 400 bad_time" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$H/api/v1/migrations?start=20&end=10')\" = 400 ]"
check "a bad --start: usage error, exit 2" bash -c "'$BIN/streamfleet' migrations --start yesterday 2>/dev/null; [ \$? = 2 ]"
check "an unknown node: exit 1" bash -c "'$BIN/streamfleet' migrations --node nowhere 2>'$T/e'; [ \$? = 1 ] && grep -q nowhere '$T/e'"
check "a table page names the next one" bash -c "'$BIN/streamfleet' migrations --limit 2 | grep -q -- '--after h1'"
sf_done
