#!/usr/bin/env bash
# 41_migration_nginx.sh — a camera moving between two real media servers
# (DESIGN §3, docs/migrations.md): two nginx-rtmp servers A and B on their
# own loopback ports, each with its own agent (--source nginx-rtmp, HLS
# fragments as the DVR archive). An ffmpeg publisher moves from A to B with
# overlap (transfer seen on both placements, then migrated with its
# duration), then, after a pause, back to A without overlap (returned). The
# DVR timeline joins A's, B's and A's ranges again; --at picks A and B on
# either side and reports the gap of the pause.
. "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/nginx_rtmp.sh"

nginx_rtmp_installed || { not_ok "nginx with the RTMP module and ffmpeg are installed (make deps)"; exit 1; }

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 --suspect-ms 1000 --down-ms 3000 --transfer-timeout 60 \
  || { not_ok "controller c1 started"; exit 1; }

check "nginx A serves its stat page" nginx_up A
check "nginx B serves its stat page" nginx_up B
nginx_agent_up A "$CTL_c1_AGENTS" --poll-interval-ms 500 --heartbeat-ms 250 \
    --hls-dvr-template "http://{host}:$HTTP_A/hls/{name}/index.m3u8?from={from}&to={to}"
nginx_agent_up B "$CTL_c1_AGENTS" --poll-interval-ms 500 --heartbeat-ms 250 \
    --hls-dvr-template "http://{host}:$HTTP_B/hls/{name}/index.m3u8?from={from}&to={to}"

count_is() { [ "$(cli migrations cam1 -o json | json_get "d['counts']['$1']")" = "$2" ]; }
nranges() { cli streams show cam1 --node "$1" -o json | json_get "len(d['placements'][0]['dvr']['ranges'])"; }
has_ranges() { [ "$(nranges "$1" 2>/dev/null)" -ge 1 ] 2>/dev/null; }

# --- the camera publishes to A and records there
publish_cam1 pubA "$RTMP_A"
check "cam1 active on A" wait_until 20 cam1_row A "s['status']=='active'"
check "A records cam1 (DVR ranges)" wait_until 20 has_ranges A
sleep 4

# --- it moves to B with overlap: both run it
publish_cam1 pubB "$RTMP_B"
check "transfer_started A -> B" wait_until 20 count_is transfer_started 1
check "transfer flag on A's placement" cam1_row A "s['transfer']"
check "transfer flag on B's placement" cam1_row B "s['transfer'] and s['status']=='active'"
check "the listing shows ⇄transfer" bash -c "\"$BIN/streamfleet\" streams --name cam1 --no-color | grep -q '⇄transfer'"
sleep 3
stop pubA
check "migrated once A's publisher stops" wait_until 20 count_is migrated 1
check "migrated A -> B with the overlap as its duration (2-10 s)" bash -c "\"$BIN/streamfleet\" migrations cam1 -o json | $PYTHON -c '
import json,sys; m=[e for e in json.load(sys.stdin)[\"events\"] if e[\"kind\"]==\"migrated\"]
sys.exit(0 if len(m)==1 and (m[0][\"from\"],m[0][\"to\"])==(\"A\",\"B\") and 2000 <= m[0][\"duration_ms\"] <= 10000 else 1)'"
check "A's placement is migrated to B and keeps its archive" cam1_row A "s['type']=='migrated' and s['migrated_to']=='B' and s['status']!='active'"
check "B records cam1" wait_until 20 has_ranges B
check "streams show: current node B" bash -c "\"$BIN/streamfleet\" streams show cam1 --no-color | grep -q 'Current node: B'"
sleep 4

# --- a pause, then back to A without overlap
stop pubB
check "B's placement stops" wait_until 20 cam1_row B "s['status']!='active'"
sleep 6
publish_cam1 pubA2 "$RTMP_A"
check "returned to A" wait_until 20 count_is returned 1
check "B's placement is migrated to A" cam1_row B "s['type']=='migrated' and s['migrated_to']=='A'"
check "A's placement is primary and active again" wait_until 10 cam1_row A "s['type']=='primary' and s['status']=='active'"
a_two_ranges() { [ "$(nranges A 2>/dev/null)" -ge 2 ] 2>/dev/null; }
check "A's archive has a second range" wait_until 20 a_two_ranges

# --- the timeline joins A, B and A again; --at on each side and in the gap
cli dvr cam1 -o json > "$T/dvr.json"
tl() { $PYTHON -c "import json,sys; d=json.load(open('$T/dvr.json')); t=d['ranges']; sys.exit(0 if ($1) else 1)"; }
check "timeline: A, B, A in time order, current node A" tl "[e['node'] for e in t][:1]==['A'] and 'B' in [e['node'] for e in t] and t[-1]['node']=='A' and d['current']=='A' and all(t[i]['from'] <= t[i+1]['from'] for i in range(len(t)-1))"
# nginx-rtmp speaks no RTSP: its agent sends no RTSP template, so the
# entries carry the configured HLS DVR link only
check "timeline entries carry the HLS link, and no RTSP link nginx cannot serve" tl "all(not e.get('rtsp') and e['hls'].startswith('http://') for e in t)"
read -r AT_A AT_B AT_GAP < <($PYTHON -c "
import json; t=json.load(open('$T/dvr.json'))['ranges']
a=t[0]; b=[e for e in t if e['node']=='B'][0]; a2=t[-1]
print((a['from']+min(a['to'], b['from']))//2, (b['from']+b['to'])//2 if b['from'] >= a['to'] else (a['to']+1+b['to'])//2, (b['to']+a2['from'])//2)")
echo "# at A=$AT_A B=$AT_B gap=$AT_GAP"
check "--at early names A with its links" bash -c "\"$BIN/streamfleet\" dvr cam1 --at $AT_A -o json | $PYTHON -c '
import json,sys; a=json.load(sys.stdin)[\"holder\"]; sys.exit(0 if a[\"node\"]==\"A\" and \"from=$AT_A\" in a[\"playback\"][\"hls\"] else 1)'"
check "--at after the move names B" bash -c "\"$BIN/streamfleet\" dvr cam1 --at $AT_B -o json | $PYTHON -c '
import json,sys; sys.exit(0 if json.load(sys.stdin)[\"holder\"][\"node\"]==\"B\" else 1)'"
check "--at in the pause reports the gap between B and A" bash -c "\"$BIN/streamfleet\" dvr cam1 --at $AT_GAP -o json | $PYTHON -c '
import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"holder\"] is None and d[\"before\"][\"node\"]==\"B\" and d[\"after\"][\"node\"]==\"A\" else 1)'"
check "dvr table output names the node at a time" bash -c "\"$BIN/streamfleet\" dvr cam1 --at $AT_B --no-color | grep -q 'node B'"
check "exactly one transfer, one migration, one return" bash -c "[ \"\$(\"$BIN/streamfleet\" migrations cam1 -o json | $PYTHON -c 'import json,sys; c=json.load(sys.stdin)[\"counts\"]; print(c[\"transfer_started\"], c[\"migrated\"], c[\"returned\"], c[\"failover\"], c[\"transfer_stuck\"])')\" = '1 1 1 0 0' ]"
sf_done
