#!/usr/bin/env bash
# 36_nginx_archive.sh — archive times from a real nginx-rtmp as operators
# configure it. One nginx serves five applications, each an ffmpeg camera and
# an agent (its own node) whose DVR scanner reads that application's files:
#   seq   HLS with nginx-rtmp's defaults (hls_fragment_naming sequential,
#         not nested: NAME-N.ts beside NAME.m3u8), the agent's default pattern
#   sys   HLS, hls_nested on, hls_fragment_naming system ({name}/{ms}.ts)
#   rec   record all with the default record_suffix (.flv): NAME.flv
#   recu  record all, record_unique on: NAME-UNIXTIME.flv
#   recs  record all, record_suffix -%Y%m%d-%H%M%S.flv (strftime, local time)
# Each stream's archive must start when its camera started publishing (not
# 1970, not nothing) and end now, and move on as the camera goes on; the
# default links of nginx-rtmp's default HLS layout open.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/nginx_rtmp.sh"

for bin in /usr/sbin/nginx ffmpeg; do
  command -v "$bin" >/dev/null || { not_ok "nginx archive: $bin is installed"; exit 1; }
done
[ -f "$NGX_MODULES/ngx_rtmp_module.so" ] || { not_ok "nginx archive: module installed"; exit 1; }

cat > "$T/apps.conf" <<'EOF'
        application seq {
            live on;
            hls on;
            hls_path @PREFIX@/hls;
            hls_fragment 2s;
        }
        application sys {
            live on;
            hls on;
            hls_path @PREFIX@/sys;
            hls_nested on;
            hls_fragment 2s;
            hls_fragment_naming system;
        }
        application rec {
            live on;
            record all;
            record_path @PREFIX@/rec;
        }
        application recu {
            live on;
            record all;
            record_path @PREFIX@/recu;
            record_unique on;
        }
        application recs {
            live on;
            record all;
            record_path @PREFIX@/recs;
            record_suffix -%Y%m%d-%H%M%S.flv;
        }
EOF
mkdir -p "$T/nginx"/{hls,sys,rec,recu,recs}
sf_keys || { not_ok "nginx archive: keys"; exit 1; }
start_controller c1 || { not_ok "nginx archive: controller starts"; exit 1; }
NGX_APPS=$T/apps.conf start_nginx_rtmp || { not_ok "nginx archive: nginx starts"; cat "$T/nginx/error.log"; exit 1; }
ok "nginx archive: nginx-rtmp with five applications serves its stat page"

declare -A PATTERN=([seq]="" [sys]='{name}/{ms}.ts' [rec]='{name}.flv' [recu]='{name}-{s}.flv'
                    [recs]='{name}-%Y%m%d-%H%M%S.flv')
APPS="seq sys rec recu recs"
t_pub=$(date +%s)
for app in $APPS; do
  publish "cam-$app" "" "$app"
  dir=$T/nginx/$app; [ "$app" = seq ] && dir=$NGX_HLS
  args=(--source nginx-rtmp --stat-url "$NGX_STAT" --rtmp-app "$app" --records-path "$dir"
        --poll-interval-ms 1000 --heartbeat-ms 1000 --http-timeout-ms 1000
        --addr-external 127.0.0.1 --rtmp-port "$NGX_RTMP_PORT")
  [ -n "${PATTERN[$app]}" ] && args+=(--record-pattern "${PATTERN[$app]}")
  start_agent "n-$app" "$CTL_c1_AGENTS" "${args[@]}"
done

# range NAME: "from to" of the stream's last DVR range, as the controller has it
range() {
  cli streams show "$1" -o json 2>/dev/null |
    json_get "'%d %d' % (d['placements'][0]['dvr']['ranges'][-1]['from'], d['placements'][0]['dvr']['ranges'][-1]['to'])"
}
# spans NAME SECONDS: the archive reaches back to the start and spans SECONDS
spans() {
  local r; r=$(range "$1") || return 1
  set -- $r "$2"
  [ $(($2 - $1)) -ge "$3" ]
}
for app in $APPS; do
  wait_until 40 spans "cam-$app" 8 || not_ok "nginx archive: $app: an archive of 8 s appears" "$(range "cam-$app")"
done
# The truth: when nginx says the publisher started (the stat page's <time>,
# which the agent turns into started_at) and the clock now
started() { cli streams show "$1" -o json 2>/dev/null | json_get "d['placements'][0]['started_at']"; }
for app in $APPS; do
  r=$(range "cam-$app"); s=$(started "cam-$app"); now=$(date +%s)
  from=${r% *}; to=${r#* }
  # nginx opens the first fragment or file at the publish; the newest
  # fragment or the file being written ends about now (one poll behind)
  if [ -n "$r" ] && [ -n "$s" ] && [ "$s" -ge "$t_pub" ] &&
     [ "$from" -ge $((s - 2)) ] && [ "$from" -le $((s + 2)) ] &&
     [ "$to" -ge $((now - 4)) ] && [ "$to" -le $((now + 1)) ]; then
    ok "nginx archive: $app: the range starts at the publish ($from, nginx says $s) and ends now ($to, now $now)"
  else
    not_ok "nginx archive: $app: true archive times" "range '$r', nginx says published at $s (ffmpeg started $t_pub), now $now"
  fi
done
ls "$NGX_HLS" "$T/nginx/recu" "$T/nginx/recs" > "$T/files.txt" 2>&1
check "nginx archive: nginx named the fragments sequentially (cam-seq-0.ts)" grep -q '^cam-seq-0\.ts$' "$T/files.txt"
check "nginx archive: record_unique and record_suffix named the files" \
  bash -c "grep -Eq '^cam-recu-[0-9]{10}\.flv$' '$T/files.txt' && grep -Eq '^cam-recs-[0-9]{8}-[0-9]{6}\.flv$' '$T/files.txt'"
n=$(grep -c "reads as a time before 2000" "$T"/agent_n-*.log | awk -F: '{s += $2} END {print s + 0}')
check "nginx archive: no agent skipped a name as a time before 2000 (got $n)" [ "$n" = 0 ]

# nginx-rtmp's default links with its default HLS layout (not nested:
# /hls/NAME.m3u8, the http server's location /hls/ over this hls_path) and
# a node address without a port: both open
cli streams show cam-seq -o json > "$T/seq.json"
links=$(json_get "' '.join(v for k, v in sorted(d['placements'][0]['links'].items()) if v)" < "$T/seq.json")
check "nginx archive: cam-seq's links are HLS and RTMP (got '$links')" \
  [ "$links" = "http://127.0.0.1:$NGX_HTTP_PORT/hls/cam-seq.m3u8 rtmp://127.0.0.1:$NGX_RTMP_PORT/seq/cam-seq" ]
opened=0
for l in $links; do
  timeout 20 ffprobe -v error -rw_timeout 5000000 -show_entries stream=codec_name -of csv=p=0 "$l" > "$T/ffprobe.out" 2>&1 \
    && grep -q h264 "$T/ffprobe.out" && opened=$((opened + 1))
done
check "nginx archive: ffprobe opens both links ($opened of 2)" [ "$opened" = 2 ]

# The archive moves on with the camera
declare -A TO
for app in $APPS; do r=$(range "cam-$app"); TO[$app]=${r#* }; done
grows() { local r; r=$(range "cam-$1"); [ -n "$r" ] && [ "${r#* }" -ge $((${TO[$1]} + 3)) ]; }
for app in $APPS; do
  check "nginx archive: $app: the range grows as the camera goes on" wait_until 20 grows "$app"
done
sf_done
