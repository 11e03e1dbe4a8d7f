#!/usr/bin/env bash
# 11_filters.sh — the filter of DESIGN §3 end to end (issue 2, item 6): two
# push-source agents carry 24 streams whose type, status and functions are
# known; every one of the eight parameters alone and in combinations, the
# name match (substring and glob), --node, and a bad parameter are checked
# against counts an independent evaluator in this script computes from what
# was pushed. Then a node goes down: its streams become offline, never active.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 --suspect-ms 1000 --down-ms 3000 || { not_ok "controller starts"; exit 1; }
P1=$(free_port); P2=$(free_port)
start_agent n1 "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$P1" --poll-interval-ms 200
start_agent n2 "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$P2" --poll-interval-ms 200
check "push endpoints answer" wait_until 10 bash -c "push_ok $P1 '{\"reset\": true}' && push_ok $P2 '{\"reset\": true}'"

# The fleet: 24 streams, 12 per node, a spread of types, statuses and functions
$PYTHON - "$T" <<'PY'
import json, sys
t = sys.argv[1]
streams = []
for i in range(24):
    fn = []
    if i % 2 == 0: fn.append("dvr")
    if i % 7 == 0: fn.append("photo")
    if i % 5 in (0, 1, 2): fn.append("audio")
    streams.append({
        "name": ("Lobby" if i % 4 == 0 else "park") + "-%02d-cam" % i,
        "node": "n1" if i < 12 else "n2",
        "type": "primary" if i % 3 else "secondary",
        "status": ["active", "suspend", "starting", "error"][i % 4],
        "functions": fn,
        "clients": i, "bitrate_kbps": 100 * i,
        "source": {"url": "rtsp://10.0.0.%d/live" % i},
    })
json.dump(streams, open(t + "/fleet.json", "w"))
for node in ("n1", "n2"):
    with open(t + "/push-" + node, "w") as f:
        for s in streams:
            if s["node"] == node:
                f.write(json.dumps({k: v for k, v in s.items() if k != "node"}) + "\n")
PY
mapfile -t L1 <"$T/push-n1"; mapfile -t L2 <"$T/push-n2"
check "every pushed stream is accepted" bash -c "push_ok $P1 \"\$@\"" _ "${L1[@]}"
check "every pushed stream of the second node is accepted" bash -c "push_ok $P2 \"\$@\"" _ "${L2[@]}"
check "the fleet of 24 pushed streams is listed" wait_until 15 total_is 24

# Each case: filter | name | node. The expectation comes from fleet.json.
cat >"$T/cases" <<'EOF'
primary||
secondary||
migrated||
active||
suspend||
transfer||
dvr||
audio||
primary,secondary||
active,suspend||
suspend,transfer||
active,dvr||
dvr,audio||
secondary,dvr||
secondary,dvr|PARK|
primary,active,dvr,audio||
secondary,migrated,suspend||
|lobby|
|park-1*|
|*-0?-CAM|
|?obby*|
dvr||n2
active|park|n1
||n2
EOF
check "each parameter alone, their combinations, name and node give exactly the expected streams" \
  $PYTHON - "$BIN/streamfleet" "$T/fleet.json" "$T/cases" <<'PY'
import fnmatch, json, subprocess, sys
cli, fleet, cases = sys.argv[1], json.load(open(sys.argv[2])), open(sys.argv[3]).read().split("\n")
GROUPS = {"primary": "type", "secondary": "type", "migrated": "type",
          "active": "state", "suspend": "state", "transfer": "state",
          "dvr": "fn", "audio": "fn"}
def expect(params, name, node):
    ps = [p for p in params.split(",") if p]
    types = [p for p in ps if GROUPS[p] == "type"]
    states = [p for p in ps if GROUPS[p] == "state"]
    fns = [p for p in ps if GROUPS[p] == "fn"]
    out = []
    for s in fleet:
        # never moved: type is as pushed, transfer is false, migrated never
        if types and s["type"] not in types: continue
        if states and not any(st != "transfer" and s["status"] == st for st in states): continue
        if not all(f in s["functions"] for f in fns): continue
        if node and s["node"] != node: continue
        if name:
            if "*" in name or "?" in name:
                if not fnmatch.fnmatchcase(s["name"].lower(), name.lower()): continue
            elif name.lower() not in s["name"].lower(): continue
        out.append(s["name"])
    return sorted(out)
bad = []
seen_sizes = set()
for line in cases:
    if not line: continue
    params, name, node = line.split("|")
    args = [cli, "streams", "-o", "json", "--limit", "1000"]
    if params: args += ["--filter", params]
    if name: args += ["--name", name]
    if node: args += ["--node", node]
    d = json.loads(subprocess.check_output(args))
    got = sorted(r["name"] for r in d["streams"])
    want = expect(params, name, node)
    seen_sizes.add(len(want))
    if got != want or d["total"] != len(want):
        bad.append((line, "got", d["total"], got, "want", want))
# the fixture must be able to tell filters apart
assert len(seen_sizes) >= 6, seen_sizes
assert not bad, bad
PY

check "migrated matches nothing while no stream has moved" total_is 0 --filter migrated
check "transfer matches nothing while no stream is moving" total_is 0 --filter transfer
check "--filter given twice adds up like one comma list" \
  bash -c "[ \"\$(names --filter secondary --filter dvr)\" = \"\$(names --filter secondary,dvr)\" ] && [ -n \"\$(names --filter secondary,dvr)\" ]"
check "the table applies the same filter (secondary,dvr + name park)" \
  bash -c "n=\$(total --filter secondary,dvr --name park); cli streams --filter secondary,dvr --name park | grep -q \"^\$n of \$n streams\" && [ \$(cli streams --filter secondary,dvr --name park | grep -cE '^[0-9]+ +S ') = \$n ]"

out=$(cli streams --filter primary,bogus 2>&1); rc=$?
check "a bad filter parameter exits 2" test "$rc" = 2
ok_params=1
for p in "'bogus'" primary secondary migrated active suspend transfer dvr audio; do
  echo "$out" | grep -q -- "$p" || ok_params=0
done
check "a bad filter's message lists bogus and the eight valid parameters" test "$ok_params" = 1

# Liveness derived on read: n2 stops; after down-ms its streams are offline
stop agent_n2
check "streams of a node that went down are shown offline" \
  wait_until 15 bash -c "cli streams -o json --node n2 | $PYTHON -c '
import json, sys
rows = json.load(sys.stdin)[\"streams\"]
assert len(rows) == 12 and all(r[\"status\"] == \"offline\" for r in rows)'"
check "a down node's streams are never active" total_is 0 --filter active --node n2
check "nodes shows the stopped node down" bash -c "cli nodes | grep -qE '^n2 +down '"
check "the live node's streams keep their status" \
  bash -c "[ \$(total --filter active --node n1) = 3 ]"

sf_done
