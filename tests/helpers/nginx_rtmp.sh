# tests/helpers/nginx_rtmp.sh — starts nginx with the RTMP module for a test
# (sourced after tests/lib.sh). start_nginx_rtmp sets NGX_RTMP_PORT, NGX_HTTP_PORT,
# NGX_HLS (the HLS/DVR directory) and NGX_STAT (the stat URL); nginx runs in the
# foreground under bg, so lib.sh stops it by pid on exit. With NGX_APPS naming a
# file of application blocks, those are served beside "live" (@PREFIX@ in
# them is nginx's prefix directory, $T/nginx), e.g. to run nginx-rtmp with its
# own defaults.
NGX_MODULES=${NGX_MODULES:-/usr/lib/nginx/modules}

start_nginx_rtmp() {
  local prefix=$T/nginx
  mkdir -p "$prefix" "$prefix/hls"
  NGX_RTMP_PORT=$(free_port); NGX_HTTP_PORT=$(free_port)
  NGX_HLS=$prefix/hls
  NGX_STAT=http://127.0.0.1:$NGX_HTTP_PORT/stat
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@MODULES@|$NGX_MODULES|g" \
      -e "s|@USER@|$(id -un) $(id -gn)|g" \
      -e "s|@RTMP_PORT@|$NGX_RTMP_PORT|g" -e "s|@HTTP_PORT@|$NGX_HTTP_PORT|g" \
      -e "s|@HLS_PATH@|$NGX_HLS|g" "$SF_ROOT/deploy/nginx-rtmp.conf.in" >"$prefix/nginx.conf"
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
