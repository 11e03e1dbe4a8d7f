#!/usr/bin/env bash
# 12_detail_json.sh — `streamfleet streams show NAME` (issue 2, item 6): the
# sections Overview, DVR ranges (with RTSP and HLS links), Config, Source and
# UUID carry what the media server reported (pushed here), ranges whose gap
# is at most 1 s are merged, -o json has the HTTP API's placements (each a
# detailed stream with its links and its node's liveness; docs/http-api.md),
# --node picks one placement of a name present on two nodes, and an unknown
# stream exits 1 with a clear message.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
P1=$(free_port); P2=$(free_port)
LINKS=(--rtsp-template 'rtsp://{host}:554/live/{name}' --hls-template 'http://{host}/live/{name}/index.m3u8'
       --rtsp-dvr-template 'rtsp://{host}:554/dvr/{name}?from={from}&to={to}'
       --hls-dvr-template 'http://{host}/dvr/{name}/archive-{from}-{duration}.m3u8')
start_agent n1 "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$P1" --poll-interval-ms 200 \
  --addr-external media1.example.net "${LINKS[@]}"
start_agent n2 "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$P2" --poll-interval-ms 200 \
  --addr-external media2.example.net "${LINKS[@]}"
check "push endpoints answer" wait_until 10 bash -c "push_ok $P1 '{\"reset\": true}' && push_ok $P2 '{\"reset\": true}'"

NOW=$(date +%s)
F1=$((NOW - 7200)); T1=$((NOW - 3600)); F2=$((T1 + 1)); T2=$((NOW - 1800)); F3=$((T2 + 2)); T3=$((NOW - 60))
CAM1=$($PYTHON - "$F1" "$T1" "$F2" "$T2" "$F3" "$T3" "$NOW" <<'PY'
import json, sys
f1, t1, f2, t2, f3, t3, now = map(int, sys.argv[1:])
print(json.dumps({
    "name": "gate-cam", "uid": "gate-uid-1", "type": "primary", "status": "active",
    "functions": ["dvr", "audio"], "clients": 4, "bitrate_kbps": 2048, "started_at": now - 600,
    "config": "input rtsp://10.1.1.1/gate\n  dvr_depth 86400\n  marker CONFIG-TEXT-42\n",
    "config_path": "/etc/media/gate-cam.conf",
    "playback_uuid": "6f1c2d3e-aaaa-bbbb-cccc-0123456789ab",
    "source": {"url": "rtsp://10.1.1.1/gate", "sdp": "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=SDP-MARKER-7\r\nm=video 0 RTP/AVP 96\r\n", "ping_ms": 12},
    # the second range starts 1 s after the first ends: one range; the third 2 s later: its own
    "dvr": {"records_path": "/var/dvr/gate-cam", "depth_s": 86400, "chunk_s": 6,
            "disk_free_bytes": 53687091200, "memory_bytes": 4194304, "current_from": f3,
            "ranges": [[f2, t2], [f1, t1], [f3, t3]]},
}))
PY
)
check "detailed stream pushed to n1" push_ok "$P1" "$CAM1"
check "same name pushed to n2 with its own config" push_ok "$P2" \
  '{"name": "gate-cam", "uid": "gate-uid-2", "status": "suspend", "type": "secondary", "config": "n2 CONFIG-OF-N2\n"}'
check "both placements listed" wait_until 15 total_is 2 --name gate-cam

SHOW=$T/show.txt
cli streams show gate-cam --node n1 >"$SHOW"; rc=$?
check "streams show exits 0" test "$rc" = 0
for section in Overview "DVR ranges" "Config (/etc/media/gate-cam.conf)" Source UUID; do
  check "show has the section '$section'" grep -qx "$section" "$SHOW"
done
check "Overview: records path" grep -qE '^  Records path +/var/dvr/gate-cam$' "$SHOW"
check "Overview: duration (depth) of 1 day" grep -qE '^  Duration \(depth\) +(1d|24h|1d 0h|1 day)' "$SHOW"
check "Overview: current range and when recording started" \
  bash -c "grep -qE '^  Current range +[^-]' '$SHOW' && grep -qE '^  Recording since +[0-9]' '$SHOW'"
check "Overview: available disk space" grep -qE '^  Available disk space +50(\.0)? GiB' "$SHOW"
check "Overview: chunk" grep -qE '^  Chunk +6s$' "$SHOW"
check "Overview: memory usage" grep -qE '^  Memory usage +4(\.0)? MiB' "$SHOW"
check "DVR ranges: 1-s gap merged, 2-s gap kept: exactly 2 ranges" \
  bash -c "[ \$(sed -n '/^DVR ranges$/,/^Config/p' '$SHOW' | grep -cE '^[ *] +[0-9]+  ') = 2 ]"
check "DVR ranges carry RTSP and HLS links from the node's DVR templates" \
  bash -c "grep -qF 'RTSP rtsp://media1.example.net:554/dvr/gate-cam?from=$F1&to=$T2' '$SHOW' &&
           grep -qF 'HLS  http://media1.example.net/dvr/gate-cam/archive-$F1-$((T2 - F1)).m3u8' '$SHOW' &&
           grep -qF 'rtsp://media1.example.net:554/dvr/gate-cam?from=$F3&to=$T3' '$SHOW'"
check "live links from the node's templates" \
  bash -c "grep -qF 'rtsp://media1.example.net:554/live/gate-cam' '$SHOW' && grep -qF 'http://media1.example.net/live/gate-cam/index.m3u8' '$SHOW'"
check "Config shows the pushed config text, indentation kept" grep -qx '    marker CONFIG-TEXT-42' "$SHOW"
check "Source shows the URL" grep -qE '^  URL +rtsp://10.1.1.1/gate$' "$SHOW"
check "Source shows the SDP text" grep -qx '  s=SDP-MARKER-7' "$SHOW"
check "UUID shows the playback uuid" grep -qx '  6f1c2d3e-aaaa-bbbb-cccc-0123456789ab' "$SHOW"
check "--node n1 shows only n1's placement" bash -c "! grep -q 'CONFIG-OF-N2' '$SHOW'"
check "--node n2 shows n2's placement" \
  bash -c "cli streams show gate-cam --node n2 | grep -q 'CONFIG-OF-N2' && ! cli streams show gate-cam --node n2 | grep -q CONFIG-TEXT-42"
check "without --node every placement is shown" \
  bash -c "o=\$(cli streams show gate-cam); echo \"\$o\" | grep -q CONFIG-OF-N2 && echo \"\$o\" | grep -q CONFIG-TEXT-42"

JS=$T/show.json
cli streams show gate-cam -o json >"$JS" 2>&1
check "show -o json has the API's placements with the pushed content" \
  $PYTHON - "$JS" "$F1" "$T2" "$F3" "$T3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f1, t2, f3, t3 = map(int, sys.argv[2:])
pls = d["placements"]
assert len(pls) == 2 and d["count"] == 2, len(pls)
by = {p["node"]: p for p in pls}
p = s = by["n1"]
assert p["node_liveness"] == "alive" and p["node_addr_external"] == "media1.example.net", p
assert s["name"] == "gate-cam" and s["uid"] == "gate-uid-1"
assert "CONFIG-TEXT-42" in s["config"] and s["config_path"] == "/etc/media/gate-cam.conf"
assert "SDP-MARKER-7" in s["source"]["sdp"] and s["source"]["url"] == "rtsp://10.1.1.1/gate"
assert s["playback_uuid"] == "6f1c2d3e-aaaa-bbbb-cccc-0123456789ab"
R = s["dvr"]["ranges"]
assert [(r["from"], r["to"], r["duration_s"]) for r in R] == [(f1, t2, t2 - f1), (f3, t3, t3 - f3)], R
assert s["dvr"]["chunk_s"] == 6 and s["dvr"]["depth_s"] == 86400
L = p["links"]
assert L["rtsp"] == "rtsp://media1.example.net:554/live/gate-cam", L
assert all(r["rtsp"].startswith("rtsp://media1.example.net") and r["hls"].startswith("http://media1.example.net") for r in R)
assert by["n2"]["status"] == "suspend" and by["n2"]["type"] == "secondary"
PY
check "show -o json --node n2 has one placement" \
  bash -c "[ \$(cli streams show gate-cam --node n2 -o json | json_get 'len(d[\"placements\"])') = 1 ]"

out=$(cli streams show no-such-cam 2>&1); rc=$?
check "unknown stream exits 1" test "$rc" = 1
check "unknown stream's message names it" bash -c "echo \"\$1\" | grep -q \"no stream named 'no-such-cam'\"" _ "$out"
out=$(cli streams show gate-cam --node n9 2>&1); rc=$?
check "a known stream on the wrong node exits 1 naming the node" \
  bash -c "[ $rc = 1 ] && echo \"\$1\" | grep -q \"'n9'\"" _ "$out"
out=$(cli streams show 2>&1); rc=$?
check "show without a name exits 2" test "$rc" = 2

# the listing's JSON is the same record model
check "listing -o json parses and has total, streams and now" \
  bash -c "cli streams -o json | json_get 'd[\"total\"] == len(d[\"streams\"]) == 2 and d[\"now\"] > 0' | grep -qx True"

sf_done
