# tests/helpers/nginx_rtmp.sh — starts nginx with the RTMP module for a test
# (sourced after tests/lib.sh). start_nginx_rtmp sets NGX_RTMP_PORT, NGX_HTTP_PORT,
# NGX_HLS (the HLS/DVR directory) and NGX_STAT (the stat URL); nginx runs in the
# foreground under bg, so lib.sh stops it by pid on exit. With NGX_APPS naming a
# file of application blocks, those are served beside "live" (@PREFIX@ in
# them is nginx's prefix directory, $T/nginx), e.g. to run nginx-rtmp with its
# own defaults.
NGX_MODULES=${NGX_MODULES:-/usr/lib/nginx/modules}

# nginx_conf PREFIX RTMP_PORT HTTP_PORT HLS: PREFIX/nginx.conf from
# deploy/nginx-rtmp.conf.in
nginx_conf() {
  sed -e "s|@PREFIX@|$1|g" -e "s|@MODULES@|$NGX_MODULES|g" \
      -e "s|@USER@|$(id -un) $(id -gn)|g" \
      -e "s|@RTMP_PORT@|$2|g" -e "s|@HTTP_PORT@|$3|g" \
      -e "s|@HLS_PATH@|$4|g" "$SF_ROOT/deploy/nginx-rtmp.conf.in" >"$1/nginx.conf"
}

start_nginx_rtmp() {
  local prefix=$T/nginx
  mkdir -p "$prefix" "$prefix/hls"
  NGX_RTMP_PORT=$(free_port); NGX_HTTP_PORT=$(free_port)
  NGX_HLS=$prefix/hls
  NGX_STAT=http://127.0.0.1:$NGX_HTTP_PORT/stat
  nginx_conf "$prefix" "$NGX_RTMP_PORT" "$NGX_HTTP_PORT" "$NGX_HLS"
  if [ -n "${NGX_APPS:-}" ]; then
    sed "s|@PREFIX@|$prefix|g" "$NGX_APPS" > "$prefix/apps.conf"
    sed -i -e "/# @APPS@/r $prefix/apps.conf" "$prefix/nginx.conf"
  fi
  bg nginx /usr/sbin/nginx -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf"
  wait_until 10 curl -sf "$NGX_STAT"
}

# publish NAME [audio [APP]]: an ffmpeg test camera publishing to APP/NAME (live)
publish() {
  local name=$1 audio=${2:-} app=${3:-live}
  local a=()
  [ -n "$audio" ] && a=(-f lavfi -i "sine=frequency=440:sample_rate=44100" -c:a aac -b:a 64k)
  bg "pub_$name" ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=25 \
     "${a[@]}" -c:v libx264 -preset ultrafast -tune zerolatency -g 25 -pix_fmt yuv420p \
     -b:v 300k -f flv "rtmp://127.0.0.1:$NGX_RTMP_PORT/$app/$name"
}

# view NAME: an ffmpeg viewer playing live/NAME (raises the stream's clients)
view() {
  bg "view_$1" ffmpeg -nostdin -loglevel error -i "rtmp://127.0.0.1:$NGX_RTMP_PORT/live/$1" \
     -c copy -f null -
}

# ---------------------------------------------------------------------------
# Several media servers at once (41_migration_nginx, 45_takeover_nginx): a
# camera cam1 moving between servers named A, B, ...

# nginx_rtmp_installed: nginx, its RTMP module and ffmpeg are there
nginx_rtmp_installed() {
  command -v ffmpeg >/dev/null && [ -x /usr/sbin/nginx ] && [ -f "$NGX_MODULES/ngx_rtmp_module.so" ]
}

# nginx_up NAME: an nginx-rtmp server in $T/ngx-NAME; sets RTMP_NAME,
# HTTP_NAME and HLS_NAME
nginx_up() {
  local n=$1 prefix=$T/ngx-$1 rtmp http
  mkdir -p "$prefix/hls"
  rtmp=$(free_port); http=$(free_port)
  eval "RTMP_$n=$rtmp HTTP_$n=$http HLS_$n=$prefix/hls"
  nginx_conf "$prefix" "$rtmp" "$http" "$prefix/hls"
  bg "nginx_$n" /usr/sbin/nginx -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf"
  wait_until 10 curl -sf "http://127.0.0.1:$http/stat"
}

# publish_cam1 NAME PORT [audio]: an ffmpeg camera (with a sine tone when
# audio) publishing live/cam1 to the server whose RTMP port is PORT
publish_cam1() {
  local a=()
  [ -n "${3:-}" ] && a=(-f lavfi -i "sine=frequency=440:sample_rate=44100" -c:a aac -b:a 64k)
  bg "$1" ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=25 \
     "${a[@]}" -c:v libx264 -preset ultrafast -tune zerolatency -g 25 -pix_fmt yuv420p -b:v 300k \
     -f flv "rtmp://127.0.0.1:$2/live/cam1"
}

# nginx_agent_up NAME CONTROLLER [AGENT OPTION]...: node NAME's agent on
# server NAME (its stat page, application live, HLS fragments as the DVR)
nginx_agent_up() {
  local n=$1 ctl=$2 http hls
  shift 2
  eval "http=\$HTTP_$n hls=\$HLS_$n"
  start_agent "$n" "$ctl" --source nginx-rtmp --stat-url "http://127.0.0.1:$http/stat" \
    --rtmp-app live --records-path "$hls" --record-pattern '{name}/{ms}.ts' \
    --http-timeout-ms 500 --addr-external 127.0.0.1 "$@"
}

# cam1_row NODE EXPR: python EXPR over cam1's listed row on NODE (s) holds
cam1_row() {
  cli streams --node "$1" --name cam1 -o json 2>/dev/null |
    $PYTHON -c "import json,sys; r=[s for s in json.load(sys.stdin)['streams'] if s['name']=='cam1']; s=r[0] if r else None; sys.exit(0 if s and ($2) else 1)"
}
