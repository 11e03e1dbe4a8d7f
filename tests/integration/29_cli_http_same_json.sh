#!/usr/bin/env bash
# 29_cli_http_same_json.sh — one reply path (issue 9): `streamfleet ... -o json`
# and the HTTP API print the same JSON document for the same query: the
# listing (filtered, sorted, paged), a stream's detail, its DVR timeline
# (also --at inside a range and in a gap), the nodes, the migrations and the
# cluster view. The stream moved from node A to B, so every entity has
# content: events, a timeline over two nodes, links, nulls.
#
# The two answers are taken a moment apart, so what the clock moves is
# removed before comparing — `now`, `now_ms`, and per node the heartbeat's
# age, counter and uptime; per member, when it was last heard — and each
# comparison is retried until both answers come from the same second
# (uptime_s moves with it). Nothing else may differ, key order included.
. "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 --alert "silent no-bitrate for=0 resolve=1m" --alert "down node-down for=1m" || { not_ok "controller c1 started"; exit 1; }
H="http://$CTL_c1_HTTP"
PA=$(free_port); PB=$(free_port)
LINKS=(--rtsp-dvr-template 'rtsp://{host}:554/dvr/{name}?from={from}&to={to}' --addr-external media.example.net)
start_agent A "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PA" --poll-interval-ms 200 "${LINKS[@]}"
start_agent B "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PB" --poll-interval-ms 200
check "push endpoints answer" wait_until 10 bash -c "push_ok $PA '{\"reset\": true}' && push_ok $PB '{\"reset\": true}'"

NOW=$(date +%s)
A0=$((NOW - 100)); A1=$((NOW - 50)); B0=$((NOW - 40)); B1=$((NOW - 10))
check "cam1 on A with an archive, and two more streams" push_ok $PA \
  "{\"name\":\"cam1\",\"status\":\"active\",\"started_at\":$((NOW - 300)),\"functions\":[\"dvr\"],\"dvr\":{\"ranges\":[[$A0,$A1]]},\"source\":{\"url\":\"rtsp://10.0.0.1/cam1\",\"ping_ms\":7}}" \
  '{"name":"lobby","status":"suspend","type":"secondary","functions":["audio"],"config":"lobby config\n"}' \
  '{"name":"gate","status":"active","clients":3,"bitrate_kbps":900}'
check "cam1 listed on A" wait_until 10 total_is 3 --node A
check "cam1 starts on B, transferred from A" push_ok $PB \
  "{\"name\":\"cam1\",\"status\":\"active\",\"started_at\":$((NOW - 5)),\"transferred_from\":\"A\",\"functions\":[\"dvr\"],\"dvr\":{\"ranges\":[[$B0,$B1]]}}"
kind_is() { [ "$(cli migrations -o json | json_get "d['counts']['$1']")" = 1 ]; }
check "the transfer is recorded" wait_until 10 kind_is transfer_started
check "A stops cam1" push_ok $PA "{\"name\":\"cam1\",\"status\":\"suspend\",\"started_at\":0,\"functions\":[\"dvr\"],\"dvr\":{\"ranges\":[[$A0,$A1]]}}"
migrated() { kind_is migrated; }
check "the migration is recorded" wait_until 10 migrated

# same NAME HTTP-PATH CLI-ARGS...: both documents, volatile fields removed, equal
same_once() {
  local path=$1; shift
  cli "$@" -o json >"$T/cli.json" 2>"$T/cli.err" || return 1
  curl -s "$H$path" >"$T/http.json" || return 1
  $PYTHON - "$T/cli.json" "$T/http.json" <<'PY'
import json, sys
VOLATILE = {"now", "now_ms", "heartbeat_age_ms", "heartbeat", "last_heard_ms"}
def clean(v, parent=None):
    if isinstance(v, dict):
        # a node's uptime moves with its clock; a stream's is checked as is
        return [(k, clean(x, k)) for k, x in v.items()
                if k not in VOLATILE and not (k == "uptime_s" and "liveness" in v)]
    if isinstance(v, list):
        return [clean(x) for x in v]
    return v
a = json.load(open(sys.argv[1]), object_pairs_hook=dict)
b = json.load(open(sys.argv[2]), object_pairs_hook=dict)
if "error" in b:
    print("# HTTP answered an error:", b, file=sys.stderr); sys.exit(1)
if clean(a) != clean(b):
    print("# CLI: ", json.dumps(a)[:600], file=sys.stderr)
    print("# HTTP:", json.dumps(b)[:600], file=sys.stderr)
    sys.exit(1)
PY
}
same() { wait_until 5 same_once "$@"; }

check "list (the CLI's default limit is 1000): the same document" same '/api/v1/streams?limit=1000' streams
check "list filtered, sorted, paged: the same document" \
  same '/api/v1/streams?filter=primary,dvr&sort=-bitrate&limit=1&cursor=1' streams --filter primary,dvr --sort -bitrate --limit 1 --offset 1
check "list count only: the same document" same '/api/v1/streams?limit=0' streams --limit 0
check "detail: the same document" same '/api/v1/streams/cam1' streams show cam1
check "detail of one node: the same document" same '/api/v1/streams/cam1?node=B' streams show cam1 --node B
check "dvr: the same document" same '/api/v1/streams/cam1/dvr' dvr cam1
check "dvr --at in A's range: the same document" same "/api/v1/streams/cam1/dvr?at=$((A0 + 20))" dvr cam1 --at $((A0 + 20))
check "dvr --at in the gap: the same document" same "/api/v1/streams/cam1/dvr?at=$((A1 + 5))" dvr cam1 --at $((A1 + 5))
check "nodes: the same document" same '/api/v1/nodes' nodes
check "migrations: the same document" same '/api/v1/migrations?limit=50' migrations --limit 50
check "migrations of one stream: the same document" same '/api/v1/migrations?stream=cam1&limit=50' migrations cam1 --limit 50
check "cluster: the same document" same '/api/v1/cluster' cluster
firing_silent() { curl -sf "$H/api/v1/alerts" | json_get '[a["key"] for a in d["firing"]]' | grep -q 'silent/B/cam1'; }
check "alerts: cam1 on B (bitrate 0) fires rule silent" wait_until 10 firing_silent
check "alerts: the same document" same '/api/v1/alerts' alerts
check "alerts of one stream: the same document" same '/api/v1/alerts?stream=cam1' alerts --stream cam1

# The documents are the documented shapes (docs/http-api.md), nulls as nulls
cli streams show lobby -o json >"$T/lobby.json"
check "absent values are null, never -1 or \"\"" $PYTHON - "$T/lobby.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["placements"][0]
assert p["source"]["url"] is None and p["source"]["ping_ms"] is None and p["source"]["sdp"] is None, p["source"]
assert p["migrated_to"] is None and p["playback_uuid"] is None and p["transferred_from"] is None, p
assert p["config"] == "lobby config\n" and p["config_path"] is None
assert p["reconnects"] == {"attempts": 0, "total": 0} and set(p["version"]) == {"gen", "seq"}
PY
cli migrations cam1 -o json >"$T/mig.json"
check "an event has one shape, a transfer_started's duration is null" $PYTHON - "$T/mig.json" <<'PY'
import json, sys
evs = json.load(open(sys.argv[1]))["events"]
keys = ["kind", "stream", "uid", "from", "to", "at_ms", "duration_ms", "reason"]
assert evs and all(list(e) == keys for e in evs), evs
ts = [e for e in evs if e["kind"] == "transfer_started"]
assert ts and all(e["duration_ms"] is None for e in ts), ts
assert all(e["duration_ms"] > 0 for e in evs if e["kind"] == "migrated")
PY
sf_done
