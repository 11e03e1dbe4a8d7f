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
NGX_MODULES=${NGX_MODULES:-/usr/lib/nginx/modules}

command -v ffmpeg >/dev/null && [ -x /usr/sbin/nginx ] && [ -f "$NGX_MODULES/ngx_rtmp_module.so" ] \
  || { not_ok "nginx with the RTMP module and ffmpeg are installed (make deps)"; exit 1; }

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 --suspect-ms 1000 --down-ms 3000 --transfer-timeout 60 \
  || { not_ok "controller c1 started"; exit 1; }

# nginx_up NAME: an nginx-rtmp server from deploy/nginx-rtmp.conf.in in $T/NAME;
# sets RTMP_<NAME>, HTTP_<NAME>, HLS_<NAME>
nginx_up() {
  local n=$1 prefix=$T/ngx-$1 rtmp http
  mkdir -p "$prefix/hls"
  rtmp=$(free_port); http=$(free_port)
  eval "RTMP_$n=$rtmp HTTP_$n=$http HLS_$n=$prefix/hls"
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@MODULES@|$NGX_MODULES|g" \
      -e "s|@USER@|$(id -un) $(id -gn)|g" \
      -e "s|@RTMP_PORT@|$rtmp|g" -e "s|@HTTP_PORT@|$http|g" \
      -e "s|@HLS_PATH@|$prefix/hls|g" "$SF_ROOT/deploy/nginx-rtmp.conf.in" >"$prefix/nginx.conf"
  bg "nginx_$n" /usr/sbin/nginx -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf"
  wait_until 10 curl -sf "http://127.0.0.1:$http/stat"
}
# publish NAME PORT: an ffmpeg camera publishing live/cam1 to that server
publish() {
  bg "$1" ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=25 \
     -c:v libx264 -preset ultrafast -tune zerolatency -g 25 -pix_fmt yuv420p -b:v 300k \
     -f flv "rtmp://127.0.0.1:$2/live/cam1"
}
agent_up() {
  local n=$1 http hls
  eval "http=\$HTTP_$n hls=\$HLS_$n"
  start_agent "$n" "$CTL_c1_AGENTS" --source nginx-rtmp --stat-url "http://127.0.0.1:$http/stat" \
    --rtmp-app live --records-path "$hls" --record-pattern '{name}/{ms}.ts' \
    --poll-interval-ms 500 --heartbeat-ms 250 --http-timeout-ms 500 --addr-external 127.0.0.1 \
    --hls-dvr-template "http://{host}:$http/hls/{name}/index.m3u8?from={from}&to={to}"
}
check "nginx A serves its stat page" nginx_up A
check "nginx B serves its stat page" nginx_up B
agent_up A
agent_up B

# row NODE EXPR: python over cam1's listed row on NODE (s)
row() {
  cli streams --node "$1" --name cam1 -o json 2>/dev/null |
    $PYTHON -c "import json,sys; r=[s for s in json.load(sys.stdin)['streams'] if s['name']=='cam1']; s=r[0] if r else None; sys.exit(0 if s and ($2) else 1)"
}
count_is() { [ "$(cli migrations cam1 -o json | json_get "d['counts']['$1']")" = "$2" ]; }
nranges() { cli streams show cam1 --node "$1" -o json | json_get "len(d['placements'][0]['dvr']['ranges'])"; }
has_ranges() { [ "$(nranges "$1" 2>/dev/null)" -ge 1 ] 2>/dev/null; }

# --- the camera publishes to A and records there
publish pubA "$RTMP_A"
check "cam1 active on A" wait_until 20 row A "s['status']=='active'"
check "A records cam1 (DVR ranges)" wait_until 20 has_ranges A
sleep 4

# --- it moves to B with overlap: both run it
publish pubB "$RTMP_B"
check "transfer_started A -> B" wait_until 20 count_is transfer_started 1
check "transfer flag on A's placement" row A "s['transfer']"
check "transfer flag on B's placement" row B "s['transfer'] and s['status']=='active'"
check "the listing shows ⇄transfer" bash -c "\"$BIN/streamfleet\" streams --name cam1 --no-color | grep -q '⇄transfer'"
sleep 3
stop pubA
check "migrated once A's publisher stops" wait_until 20 count_is migrated 1
check "migrated A -> B with the overlap as its duration (2-10 s)" bash -c "\"$BIN/streamfleet\" migrations cam1 -o json | $PYTHON -c '
import json,sys; m=[e for e in json.load(sys.stdin)[\"events\"] if e[\"kind\"]==\"migrated\"]
sys.exit(0 if len(m)==1 and (m[0][\"from\"],m[0][\"to\"])==(\"A\",\"B\") and 2000 <= m[0][\"duration_ms\"] <= 10000 else 1)'"
check "A's placement is migrated to B and keeps its archive" row A "s['type']=='migrated' and s['migrated_to']=='B' and s['status']!='active'"
check "B records cam1" wait_until 20 has_ranges B
check "streams show: current node B" bash -c "\"$BIN/streamfleet\" streams show cam1 --no-color | grep -q 'Current node: B'"
sleep 4

# --- a pause, then back to A without overlap
stop pubB
check "B's placement stops" wait_until 20 row B "s['status']!='active'"
sleep 6
publish pubA2 "$RTMP_A"
check "returned to A" wait_until 20 count_is returned 1
check "B's placement is migrated to A" row B "s['type']=='migrated' and s['migrated_to']=='A'"
check "A's placement is primary and active again" wait_until 10 row A "s['type']=='primary' and s['status']=='active'"
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
