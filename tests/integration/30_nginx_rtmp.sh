#!/usr/bin/env bash
# 30_nginx_rtmp.sh — the agent on a real nginx-rtmp (one worker, HLS on):
# three ffmpeg test cameras (two with audio), an ffmpeg viewer, the agent's
# nginx-rtmp source with the DVR scanner on the HLS directory. The CLI must
# show the three streams with bitrate, rising uptime, audio on exactly two,
# clients, DVR ranges growing, an HLS link ffprobe opens, node usage; a
# stopped publisher goes off within one poll plus a heartbeat; nginx going
# away marks the state stale (logged once) and coming back clears it.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/nginx_rtmp.sh"

for bin in /usr/sbin/nginx ffmpeg ffprobe; do
  command -v "$bin" >/dev/null || { not_ok "nginx-rtmp: $bin is installed"; exit 1; }
done
[ -f "$NGX_MODULES/ngx_rtmp_module.so" ] || { not_ok "nginx-rtmp: module installed"; exit 1; }

sf_keys || { not_ok "nginx-rtmp: keys"; exit 1; }
start_controller c1 || { not_ok "nginx-rtmp: controller starts"; exit 1; }
start_nginx_rtmp || { not_ok "nginx-rtmp: nginx starts"; cat "$T/nginx/error.log"; exit 1; }
ok "nginx-rtmp: nginx with the RTMP module serves its stat page"

publish cam1 audio
publish cam2 audio
publish cam3
start_agent n1 "$CTL_c1_AGENTS" --source nginx-rtmp --stat-url "$NGX_STAT" --rtmp-app live \
  --records-path "$NGX_HLS" --record-pattern '{name}/{ms}.ts' \
  --poll-interval-ms 1000 --heartbeat-ms 1000 --http-timeout-ms 500 \
  --addr-external 127.0.0.1:22102 --rtmp-port "$NGX_RTMP_PORT"

list() { cli streams -o json > "$T/list.json" 2>/dev/null; }
# q EXPR: evaluates EXPR on the last listing (s = {name: row}, d = document)
q() { json_get "$1" < "$T/list.json" 2>/dev/null; }
S='{r["name"]: r for r in d["streams"]}'
three_streaming() {
  list && [ "$(q "sum(1 for r in d['streams'] if r['name'] in ('cam1','cam2','cam3') and r['status'] == 'active' and r['bitrate_kbps'] > 0)")" = 3 ]
}
if wait_until 25 three_streaming; then
  ok "nginx-rtmp: three streams active with bitrate > 0"
else
  not_ok "nginx-rtmp: three streams active with bitrate > 0" "$(cli streams 2>&1 | tail -5 | tr '\n' '|')"
fi

audio=$(q "','.join(sorted(r['name'] for r in d['streams'] if 'audio' in r['functions']))")
check "nginx-rtmp: audio on exactly cam1 and cam2 (got '$audio')" [ "$audio" = "cam1,cam2" ]

cli streams show cam1 -o json > "$T/cam1.json"
media=$(json_get "d['placements'][0]['media']['vcodec'] + ' %dx%d' % (d['placements'][0]['media']['width'], d['placements'][0]['media']['height'])" < "$T/cam1.json")
check "nginx-rtmp: video meta H264 320x240 (got '$media')" [ "$media" = "H264 320x240" ]

# Uptime rises: started_at holds steady while the clock moves on
list; s1=$(q "($S)['cam1']['started_at']"); n1=$(q "d['now']")
sleep 2.5
list; s2=$(q "($S)['cam1']['started_at']"); n2=$(q "d['now']")
if [ -n "$s1" ] && [ "$s1" -gt 0 ] && [ "$s1" = "$s2" ] && [ $((n2 - s2)) -gt $((n1 - s1)) ]; then
  ok "nginx-rtmp: uptime rises ($((n1 - s1))s -> $((n2 - s2))s), started_at steady"
else
  not_ok "nginx-rtmp: uptime rises" "started_at $s1 -> $s2, now $n1 -> $n2"
fi

view cam1
viewed() { list && [ "$(q "($S)['cam1']['clients']")" -ge 1 ] && [ "$(q "($S)['cam2']['clients']")" = 0 ]; }
check "nginx-rtmp: the viewer raises cam1's clients (publisher not counted)" wait_until 10 viewed

# DVR ranges from the HLS fragments, growing
last_to() { cli streams show cam2 -o json | json_get "d['placements'][0]['dvr']['ranges'][-1]['to']"; }
t1=$(last_to 2>/dev/null)
sleep 3
t2=$(last_to 2>/dev/null)
if [ -n "$t1" ] && [ -n "$t2" ] && [ "$t2" -gt "$t1" ]; then
  ok "nginx-rtmp: DVR range of cam2 grows ($t1 -> $t2)"
else
  not_ok "nginx-rtmp: DVR range of cam2 grows" "$t1 -> $t2"
fi
cli streams show cam2 -o json > "$T/cam2.json"
dvr=$(json_get "'%d %d %s' % (d['placements'][0]['dvr']['chunk_s'], len(d['placements'][0]['dvr']['ranges']), 'dvr' in d['placements'][0]['functions'])" < "$T/cam2.json")
check "nginx-rtmp: DVR chunk 2 s, one merged range, dvr function (got '$dvr')" [ "$dvr" = "2 1 True" ]

# Links with no template configured: nginx-rtmp's own defaults (HLS from
# the stat page's http server, RTMP at --rtmp-port in the stream's
# application; no RTSP, which nginx does not speak; no DVR link without a
# template), and --addr-external's port is not glued to the template's (it
# was rtsp://127.0.0.1:22102:554/cam1)
links=$($PYTHON -c "
import json,sys
d=json.load(open('$T/cam2.json'))
found=[]
def walk(v):
    if isinstance(v, str) and '://' in v: found.append(v)
    elif isinstance(v, dict): [walk(x) for x in v.values()]
    elif isinstance(v, list): [walk(x) for x in v]
p=d['placements'][0]; walk(p.get('links')); walk((p.get('dvr') or {}).get('ranges'))
print(' '.join(found))")
check "nginx-rtmp: the links printed are HLS and RTMP (got '$links')" \
  [ "$links" = "http://127.0.0.1:$NGX_HTTP_PORT/hls/cam2/index.m3u8 rtmp://127.0.0.1:$NGX_RTMP_PORT/live/cam2" ]
opened=0
for l in $links; do
  timeout 20 ffprobe -v error -rw_timeout 5000000 -show_entries stream=codec_name -of csv=p=0 "$l" > "$T/ffprobe.out" 2>&1 \
    && grep -q h264 "$T/ffprobe.out" && opened=$((opened + 1))
done
check "nginx-rtmp: ffprobe opens every link the controller prints ($opened of 2)" [ "$opened" = 2 ]
cli streams show cam2 > "$T/cam2.txt"
check "nginx-rtmp: streams show prints the RTMP link" grep -q "Live RTMP *rtmp://127.0.0.1:$NGX_RTMP_PORT/live/cam2" "$T/cam2.txt"
hls=$(json_get "d['placements'][0]['links']['hls']" < "$T/cam2.json")
if [ -n "$hls" ] && timeout 20 ffprobe -v error -rw_timeout 5000000 -show_entries stream=codec_name -of csv=p=0 "$hls" > "$T/ffprobe.out" 2>&1 \
   && grep -q h264 "$T/ffprobe.out"; then
  ok "nginx-rtmp: ffprobe opens the HLS link $hls"
else
  not_ok "nginx-rtmp: ffprobe opens the HLS link" "$hls: $(head -c 200 "$T/ffprobe.out")"
fi

cli nodes -o json > "$T/nodes.json"
usage=$(json_get "'%s %d %s' % (d['nodes'][0]['software_version'].startswith('nginx/'), len(d['nodes'][0]['usage']['disks']), d['nodes'][0]['usage']['mem_total_bytes'] > 0)" < "$T/nodes.json")
check "nginx-rtmp: node reports nginx version, disks and memory (got '$usage')" [ "$usage" = "True 1 True" ]

# A publisher stops: off within one poll (1 s) plus a heartbeat (1 s)
t0=$(date +%s%N)
stop pub_cam3
cam3_off() { list && [ "$(q "($S)['cam3']['status']")" = suspend ]; }
if wait_until 3 cam3_off; then
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  ok "nginx-rtmp: stopped publisher's stream is suspend after ${ms} ms (limit 2000 + 1000 slack)"
else
  not_ok "nginx-rtmp: stopped publisher's stream goes off" "$(q "($S)['cam3']")"
fi
b3=$(q "($S)['cam3']['bitrate_kbps'] + ($S)['cam3']['started_at']")
check "nginx-rtmp: a stopped stream has no bitrate and no uptime" [ "$b3" = 0 ]

# The media server goes away: last good state kept, marked stale, logged once
stop nginx
all_stale() { list && [ "$(q "all(r['stale'] for r in d['streams'])")" = True ]; }
check "nginx-rtmp: nginx gone -> last state kept, marked stale" wait_until 6 all_stale
sleep 2
n=$(grep -c "source nginx-rtmp failing" "$T/agent_n1.log")
check "nginx-rtmp: the failure is logged once per streak (got $n)" [ "$n" = 1 ]
check "nginx-rtmp: the agent keeps running" kill -0 "$(pid_of agent_n1)"
bg nginx /usr/sbin/nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf"
none_stale() { list && [ "$(q "any(r['stale'] for r in d['streams'])")" = False ]; }
check "nginx-rtmp: nginx back -> state fresh again" wait_until 10 none_stale
check "nginx-rtmp: recovery is logged" grep -q "source nginx-rtmp is answering again" "$T/agent_n1.log"
sf_done
