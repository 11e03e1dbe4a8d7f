#!/usr/bin/env bash
# 32_rtsp_probe.sh — the RTSP probe and per-stream overrides on a real setup:
# a GStreamer RTSP test camera, relayed by ffmpeg into nginx-rtmp as cam4;
# the overrides file names the camera as cam4's source, so the agent asks
# it (DESCRIBE) for the SDP shown in `streamfleet streams show cam4`. A
# second stream's source is a dead camera: no SDP, nothing else delayed.
# Editing the overrides file takes effect without a restart.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/nginx_rtmp.sh"

$PYTHON -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null \
  || { not_ok "rtsp: GStreamer RTSP server (gir1.2-gst-rtsp-server-1.0, python3-gi) installed"; exit 1; }

sf_keys || { not_ok "rtsp: keys"; exit 1; }
start_controller c1 || { not_ok "rtsp: controller starts"; exit 1; }
start_nginx_rtmp || { not_ok "rtsp: nginx starts"; exit 1; }
CAM_PORT=$(free_port)
bg camera $PYTHON "$SF_ROOT/tests/helpers/rtsp_camera.py" "$CAM_PORT"
CAM=rtsp://127.0.0.1:$CAM_PORT/test
wait_until 15 grep -q "rtsp camera at" "$T/camera.log" || { not_ok "rtsp: test camera starts"; exit 1; }
ok "rtsp: GStreamer test camera serves $CAM"

# The relay a media server would run for a camera: RTSP in, RTMP out
bg relay ffmpeg -nostdin -loglevel error -rtsp_transport tcp -i "$CAM" -c copy -f flv \
   "rtmp://127.0.0.1:$NGX_RTMP_PORT/live/cam4"
publish cam5

cat > "$T/overrides.ini" <<EOT
# what nginx-rtmp cannot know about these streams
[cam*]
rtsp_template = rtsp://{host}:8554/{name}

[cam4]
source_url = $CAM
playback_uuid = 0d6f5a1e-0000-4000-8000-00000000cam4

[cam5]
type = secondary
photo = on
source_url = rtsp://127.0.0.1:9/no-camera-here
EOT

start_agent n1 "$CTL_c1_AGENTS" --source nginx-rtmp --stat-url "$NGX_STAT" \
  --poll-interval-ms 1000 --http-timeout-ms 500 --rtsp-probe --rtsp-timeout-ms 1000 \
  --overrides "$T/overrides.ini" --addr-external 127.0.0.1

show4() { cli streams show cam4 > "$T/cam4.txt" 2>&1; }
has_sdp() { show4 && grep -q "a=rtpmap:96 H264/90000" "$T/cam4.txt"; }
if wait_until 25 has_sdp; then
  ok "rtsp: the camera's SDP is shown in 'streamfleet streams show cam4'"
else
  not_ok "rtsp: the camera's SDP is shown" "$(tr '\n' '|' < "$T/cam4.txt" | tail -c 400)"
fi
check "rtsp: the source URL comes from the overrides file" grep -q "$CAM" "$T/cam4.txt"
check "rtsp: playback UUID from the overrides file" grep -q "0d6f5a1e-0000-4000-8000-00000000cam4" "$T/cam4.txt"
check "rtsp: live RTSP link from the per-stream template" grep -q "rtsp://127.0.0.1:8554/cam4" "$T/cam4.txt"

cli streams show cam5 -o json > "$T/cam5.json"
c5=$(json_get "'%s %s %s %s' % (d['placements'][0]['type'], 'photo' in d['placements'][0]['functions'], d['placements'][0]['status'], not d['placements'][0]['source']['sdp'])" < "$T/cam5.json")
check "rtsp: dead camera -> no SDP; overrides type and photo still apply (got '$c5')" [ "$c5" = "secondary True active True" ]
check "rtsp: the agent keeps running" kill -0 "$(pid_of agent_n1)"

# Polls keep their pace despite the dead camera (a retry back-off, not a
# DESCRIBE per poll): a new publisher appears within a few polls
publish cam6
seen6() { cli streams -o json | json_get "'cam6' in [r['name'] for r in d['streams'] if r['status'] == 'active']" | grep -q True; }
check "rtsp: a new stream still appears within 4 s" wait_until 4 seen6

# Edit the overrides file: the agent picks the change up without a restart
sed -i 's/00000000cam4/0000000cam4b/' "$T/overrides.ini"
edited() { show4 && grep -q "0000000cam4b" "$T/cam4.txt"; }
check "rtsp: an edited overrides file applies without a restart" wait_until 6 edited
# A broken edit keeps the rules in force and says why, once
echo "colour = red" >> "$T/overrides.ini"
sleep 2.5
show4
check "rtsp: a broken overrides edit keeps the previous rules" grep -q "0000000cam4b" "$T/cam4.txt"
n=$(grep -c "unknown key" "$T/agent_n1.log")
check "rtsp: the broken overrides file is logged once (got $n)" [ "$n" = 1 ]
sf_done
