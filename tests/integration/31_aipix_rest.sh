#!/usr/bin/env bash
# 31_aipix_rest.sh — the agent's "aipix" source against a local stand-in for
# an Aipix-style media server (tests/helpers/aipix_server.py serving
# tests/fixtures/aipix/). The CLI must show the fixture's streams with the
# units converted; then the server answers 401, 403, 500, hangs past the
# timeout and sends malformed JSON in turn: each time the agent keeps the
# last good state marked stale, logs once for the streak, keeps running, and
# recovers when the server does.
source "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "aipix: keys"; exit 1; }
start_controller c1 || { not_ok "aipix: controller starts"; exit 1; }
API_PORT=$(free_port)
bg aipix $PYTHON "$SF_ROOT/tests/helpers/aipix_server.py" "$API_PORT" "$SF_ROOT/tests/fixtures/aipix" s3cret
API=http://127.0.0.1:$API_PORT
wait_until 10 curl -sf "$API/_hits" || { not_ok "aipix: fixture server starts"; exit 1; }
mode() { curl -sf -X POST "$API/_mode/$1" >/dev/null; }

start_agent n1 "$CTL_c1_AGENTS" --source aipix --api-url "$API" --api-token s3cret \
  --api-token-mode query --http-timeout-ms 500 --poll-interval-ms 500 --heartbeat-ms 500

list() { cli streams -o json > "$T/list.json" 2>/dev/null; }
q() { json_get "$1" < "$T/list.json" 2>/dev/null; }
S='{r["name"]: r for r in d["streams"]}'
three() { list && [ "$(q "len(d['streams'])")" = 3 ]; }
check "aipix: the three fixture streams are listed" wait_until 15 three

row=$(q "'%(type)s %(status)s %(bitrate_kbps)d %(clients)d ' % ($S)['gate-north'] + '%(attempts)d/%(total)d' % ($S)['gate-north']['reconnects'] + ' %d ' % ($S)['gate-north']['started_at'] + ','.join(($S)['gate-north']['functions'])")
check "aipix: gate-north mapped, bit/s -> kbit/s (got '$row')" [ "$row" = "primary active 2048 3 0/4 1700000000 dvr,audio" ]
row=$(q "'%(type)s %(status)s ' % ($S)['gate-south'] + '%(attempts)d/%(total)d' % ($S)['gate-south']['reconnects']")
check "aipix: gate-south secondary, suspend, reconnects 2/9 (got '$row')" [ "$row" = "secondary suspend 2/9" ]
row=$(q "'%(uid)s %(status)s %(bitrate_kbps)d' % ($S)['lobby']")
check "aipix: lobby from string fields and 'running' (got '$row')" [ "$row" = "778899 active 512" ]

cli streams show gate-north > "$T/show.txt"
cli streams show gate-north -o json > "$T/show.json"
detail=$(json_get "'%s|%s|%d|%d|%s' % (d['placements'][0]['source']['url'], d['placements'][0]['dvr']['records_path'], d['placements'][0]['dvr']['depth_s'], len(d['placements'][0]['dvr']['ranges']), d['placements'][0]['playback_uuid'])" < "$T/show.json")
check "aipix: detail and ranges shown (got '$detail')" \
  [ "$detail" = "rtsp://10.1.2.3:554/main|/var/dvr/gate-north|604800|2|4f8a3c2e-9d41-4c55-9a0f-6e2b8d1c7a10" ]
check "aipix: SDP in the Source section" grep -q "a=rtpmap:96 H264/90000" "$T/show.txt"
check "aipix: config text in the Config section" grep -q '"depth_days": 7' "$T/show.txt"
# the node's usage comes from its own request, polled beside the streams: wait for it
disk_is() { disk=$(cli nodes -o json | json_get "d['nodes'][0]['usage']['disks'][0]['mount']" 2>/dev/null); [ "$disk" = "$1" ]; }
check "aipix: node drives from POST /api/server/" wait_until 10 disk_is /var/dvr

all_stale() { list && [ "$(q "all(r['stale'] for r in d['streams'])")" = True ]; }
none_stale() { list && [ "$(q "any(r['stale'] for r in d['streams'])")" = False ]; }
streak=0
for m in 401 403 500 hang malformed; do
  streak=$((streak + 1))
  mode "$m"
  if wait_until 6 all_stale && [ "$(q "len(d['streams'])")" = 3 ]; then
    ok "aipix: $m -> last good state kept, marked stale"
  else
    not_ok "aipix: $m -> last good state kept, marked stale" "$(cli streams 2>&1 | head -3 | tr '\n' '|')"
  fi
  sleep 1.5          # several failing polls in this streak
  n=$(grep -c "source aipix failing" "$T/agent_n1.log")
  check "aipix: $m logged once for its streak ($n lines after $streak streaks)" [ "$n" = "$streak" ]
  check "aipix: agent still running after $m" kill -0 "$(pid_of agent_n1)"
  mode ok
  check "aipix: recovers after $m" wait_until 8 none_stale
done
check "aipix: the hang's error names the timeout" grep -q "no complete reply within" "$T/agent_n1.log"
check "aipix: 401 error names the status" grep -q "HTTP 401" "$T/agent_n1.log"
check "aipix: the token never appears in the log" bash -c "! grep -q s3cret '$T/agent_n1.log'"
sf_done
