# deploy/demo-media.sh — the real media servers of `make demo` (issue 3).
# Sourced by deploy/demo.sh, which calls demo_media_start after its
# controller is up (see the hook's description there). Starts nginx with the
# RTMP module (one worker, HLS on, under the demo's work directory, loopback
# ports), three ffmpeg test cameras publishing to it (two with audio), and a
# streamfleet agent reading it through the nginx-rtmp source with the DVR
# scanner on the HLS directory. Returns 1, starting nothing, when nginx, its
# RTMP module or ffmpeg is not installed: the demo then runs simulated
# streams only and says so.

demo_media_start() {
  local agents=$1 keys=$2 allowed=$3 dir=$4
  local modules=${NGX_MODULES:-/usr/lib/nginx/modules}
  local missing=()
  [ -x /usr/sbin/nginx ] || missing+=(nginx)
  [ -f "$modules/ngx_rtmp_module.so" ] || missing+=(libnginx-mod-rtmp)
  command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "demo: not installed: ${missing[*]} (apt-get install ${missing[*]}); no nginx-rtmp cameras"
    return 1
  fi
  local prefix=$dir/nginx rtmp http
  mkdir -p "$prefix/hls"
  rtmp=$(free_port); http=$(free_port)
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@MODULES@|$modules|g" -e "s|@USER@|$(id -un) $(id -gn)|g" \
      -e "s|@RTMP_PORT@|$rtmp|g" -e "s|@HTTP_PORT@|$http|g" -e "s|@HLS_PATH@|$prefix/hls|g" \
      "$ROOT/deploy/nginx-rtmp.conf.in" > "$prefix/nginx.conf"
  start nginx /usr/sbin/nginx -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf"
  local up=0
  for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$http/stat" >/dev/null 2>&1 && { up=1; break; }
    sleep 0.1
  done
  if [ $up = 0 ]; then
    echo "demo: nginx-rtmp did not start (see $prefix/error.log)"
    return 1
  fi
  local cam audio
  for cam in 1 2 3; do
    audio=()
    [ "$cam" != 3 ] && audio=(-f lavfi -i "sine=frequency=$((330 * cam)):sample_rate=44100" -c:a aac -b:a 64k)
    start "camera-$cam" ffmpeg -nostdin -loglevel error -re \
      -f lavfi -i "testsrc=size=320x240:rate=25" "${audio[@]}" \
      -c:v libx264 -preset ultrafast -tune zerolatency -g 25 -pix_fmt yuv420p -b:v 300k \
      -f flv "rtmp://127.0.0.1:$rtmp/live/camera-$cam"
  done
  local node=edge-rtmp
  "$BIN/streamfleet" keygen --role agent --node "$node" --out "$keys/$node" >/dev/null || return 1
  cp "$keys/$node" "$allowed/$node.cert"
  mkdir -p "$dir/agent-$node"
  start "agent-$node" "$BIN/streamfleet-agent" --node "$node" --controllers "$agents" \
    --cert "$keys/$node" --server-cert "$keys/controller" --state-dir "$dir/agent-$node" \
    --source nginx-rtmp --stat-url "http://127.0.0.1:$http/stat" --rtmp-app live \
    --records-path "$prefix/hls" --record-pattern '{name}/{ms}.ts' \
    --addr-internal 127.0.0.1 --addr-external 127.0.0.1 \
    --hls-template "http://{host}:$http/hls/{name}/index.m3u8"
  DEMO_MEDIA_STREAMS=3
  echo "demo: nginx-rtmp at rtmp://127.0.0.1:$rtmp/live with 3 ffmpeg test cameras (node $node);"
  echo "      HLS at http://127.0.0.1:$http/hls/camera-1/index.m3u8, stat page http://127.0.0.1:$http/stat"
  return 0
}
