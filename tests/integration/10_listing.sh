#!/usr/bin/env bash
# 10_listing.sh — the cluster-wide listing (issue 2, item 6): a controller and
# three simulated agents; `streamfleet streams` shows every placement of the
# fleet with the Streams page's columns, pages with --limit/--offset, sorts
# by every column, selects a node; `streamfleet nodes` shows the nodes alive.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
for i in 1 2 3; do
  start_agent "n$i" "$CTL_c1_AGENTS" --sim-streams 20 --sim-seed "$i" --poll-interval-ms 200 \
    --sim-churn-pct 20
done

check "listing of 3 agents with 20 simulated streams each totals 60" wait_until 20 total_is 60
check "every node contributes 20 placements" \
  bash -c '[ "$(cli streams -o json --node n1 | '"$PYTHON"' -c "import json,sys; print(json.load(sys.stdin)[\"total\"])")" = 20 ]'

J=$T/list.json
cli streams -o json --limit 1000 >"$J"
check "JSON rows hold one entry per placement with name, node, status and version" \
  $PYTHON - "$J" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = d["streams"]
assert d["total"] == 60 and len(rows) == 60, (d["total"], len(rows))
assert len({(r["node"], r["name"]) for r in rows}) == 60
for r in rows:
    for k in ("name", "uid", "node", "type", "status", "functions", "clients", "bitrate_kbps",
              "started_at", "uptime_s", "reconnects", "source", "version"):
        assert k in r, (k, r)
    assert r["node"] in ("n1", "n2", "n3")
    assert r["type"] in ("primary", "secondary", "migrated")
    assert r["status"] in ("active", "suspend", "starting", "error", "offline")
    assert set(r["version"]) == {"gen", "seq"} and r["version"]["seq"] > 0
    assert set(r["reconnects"]) == {"attempts", "total"}
PY

TABLE=$T/table.txt
cli streams >"$TABLE"
check "table header has the Streams page's columns in order" \
  grep -qE '^№ +NAME +NODE +STATUS +CLIENTS +BITRATE +UPTIME +RECONN +SOURCE' "$TABLE"
check "table has one numbered line per placement and a summary" \
  bash -c "[ \$(grep -cE '^[0-9]+ +[PSM] ' '$TABLE') = 60 ] && grep -q '^60 of 60 streams' '$TABLE'"
check "table shows reconnects as attempts/total" \
  bash -c "grep -E '^[0-9]+ +[PSM] ' '$TABLE' | grep -qE ' [0-9]+/[0-9]+  '"
check "table name cell carries the type mark and function marks" \
  bash -c "grep -qE '^[0-9]+ +[PSM] n[123]-cam[0-9]+ \\[[DFA]+\\]' '$TABLE'"

check "nodes lists the 3 nodes alive" \
  wait_until 5 bash -c "[ \$(cli nodes | grep -cE '^n[123] +alive ') = 3 ]"
check "nodes -o json gives liveness alive and 20 streams per node" \
  bash -c "cli nodes -o json | $PYTHON -c '
import json, sys
d = json.load(sys.stdin)
ns = d[\"nodes\"] if isinstance(d, dict) else d
m = {n[\"id\"]: n for n in ns}
assert set(m) == {\"n1\", \"n2\", \"n3\"}, m.keys()
assert all(n[\"liveness\"] == \"alive\" and n[\"counts\"][\"streams\"] == 20 for n in m.values())
'"

# Paging: the pages of one sort order, put together, are the whole listing
check "--limit/--offset pages add up to the whole listing without overlap" \
  $PYTHON - "$BIN/streamfleet" <<'PY'
import json, subprocess, sys
def page(*a):
    return json.loads(subprocess.check_output([sys.argv[1], "streams", "-o", "json", "--sort", "name", *a]))
whole = [(r["node"], r["name"]) for r in page("--limit", "1000")["streams"]]
got = []
for off in range(0, 60, 25):
    p = page("--limit", "25", "--offset", str(off))
    assert p["total"] == 60
    got += [(r["node"], r["name"]) for r in p["streams"]]
assert got == whole, (got[:5], whole[:5])
assert len(page("--limit", "7")["streams"]) == 7
assert page("--limit", "10", "--offset", "55")["streams"].__len__() == 5
assert page("--offset", "60")["streams"] == []
PY
check "table says how to see more when --limit cuts it" \
  bash -c "cli streams --limit 5 | grep -q '^5 of 60 streams (use --limit/--offset for more)'"

# Sorting: the listing is ordered by the column, ties by name then node
check "--sort honours every column, ascending and descending" \
  $PYTHON - "$BIN/streamfleet" <<'PY'
import json, subprocess, sys
STATUS = ["active", "suspend", "starting", "error", "offline"]
TYPE = ["primary", "secondary", "migrated"]
def key(col, r, now):
    if col == "name": return r["name"]
    if col == "node": return r["node"]
    if col == "status": return STATUS.index(r["status"])
    if col == "type": return TYPE.index(r["type"])
    if col == "clients": return r["clients"]
    if col == "bitrate": return r["bitrate_kbps"]
    if col == "uptime":
        return now - r["started_at"] if r["started_at"] and r["status"] == "active" else -1
    if col == "reconnects": return (r["reconnects"]["attempts"], r["reconnects"]["total"])
    if col == "source": return r["source"]["url"] or ""
bad = []
for col in ["name", "node", "status", "type", "clients", "bitrate", "uptime", "reconnects", "source"]:
    for spec, desc in ((col, False), ("-" + col, True), (col + ":desc", True)):
        d = json.loads(subprocess.check_output([sys.argv[1], "streams", "-o", "json", "--sort", spec]))
        rows = d["streams"]
        assert len(rows) == 60
        # the answer's "now" is the one its rows were ordered by
        ks = [key(col, r, d["now"]) for r in rows]
        for a, b in zip(ks, ks[1:]):
            if (a > b) if not desc else (a < b):
                bad.append((spec, a, b))
                break
        if len(set(map(str, ks))) < 2 and col not in ("type",):
            bad.append((spec, "all keys equal: the test cannot tell an order"))
assert not bad, bad
PY
check "a bad sort column exits 2 naming the valid columns" \
  bash -c "out=\$(cli streams --sort colour 2>&1); rc=\$?; [ \$rc = 2 ] && echo \"\$out\" | grep -q 'colour' && echo \"\$out\" | grep -q 'reconnects'"

# --node
check "--node selects exactly that node's placements" \
  bash -c "cli streams -o json --node n2 | $PYTHON -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"total\"] == 20 and {r[\"node\"] for r in d[\"streams\"]} == {\"n2\"}'"
check "--node of an unknown node lists nothing" total_is 0 --node n9
check "table lists only n3 with --node n3" \
  bash -c "out=\$(cli streams --node n3 | grep -E '^[0-9]+ +[PSM] '); [ \$(echo \"\$out\" | wc -l) = 20 ] &&
           ! echo \"\$out\" | grep -vqE ' n3 +(active|suspend|starting|error|offline)'"

# The listing follows the simulators: versions rise
v1=$(cli streams -o json | json_get 'max(r["version"]["seq"] for r in d["streams"])')
check "placements keep updating (highest seq rises)" \
  wait_until 10 bash -c "[ \$(cli streams -o json | $PYTHON -c 'import json,sys; print(max(r[\"version\"][\"seq\"] for r in json.load(sys.stdin)[\"streams\"]))') -gt $v1 ]"

# The simulator's churn shows in the listing (DESIGN §7: realistic churn)
check "simulated streams show a mix of statuses over time (status flips)" \
  wait_until 20 bash -c "[ \$(cli streams -o json | json_get 'len({r[\"status\"] for r in d[\"streams\"]})') -ge 2 ]"
check "simulated streams have reconnect attempts counted" \
  bash -c "cli streams -o json | json_get 'any(r[\"reconnects\"][\"total\"] > 0 for r in d[\"streams\"])' | grep -qx True"
DVRCAM=$(cli streams -o json --filter active,dvr | json_get 'd["streams"][0]["name"]')
dvr_end() { cli streams show "$DVRCAM" -o json | json_get 'd["placements"][0]["dvr"]["ranges"][-1]["to"]'; }
END0=$(dvr_end)
check "a recording stream's DVR range grows ($DVRCAM)" \
  wait_until 10 bash -c "[ \"\$(cli streams show $DVRCAM -o json | json_get 'd[\"placements\"][0][\"dvr\"][\"ranges\"][-1][\"to\"]')\" -gt $END0 ]"

sf_done
