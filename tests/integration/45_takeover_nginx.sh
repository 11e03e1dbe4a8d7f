#!/usr/bin/env bash
# 45_takeover_nginx.sh — a real failover is not orderly (issue 14,
# docs/migrations.md "The state machine"): two nginx-rtmp servers A and B,
# each with its agent, and ffmpeg cameras with audio. A's agent freezes
# (SIGSTOP: to the controller A is silent, while A's nginx keeps the stream
# running); within a second B's server takes the camera over, while A is only
# suspect. Once A is declared down that is one failover, timed at the
# takeover, and the current node is B. A's agent then comes back (SIGCONT)
# with the stale stream still running on A: both placements are flagged
# conflict (listing, --filter conflict, event) until A's stream stops; A's
# stopped placement keeps its audio mark; node counts use the derived type.
. "$(dirname "$0")/../lib.sh"
NGX_MODULES=${NGX_MODULES:-/usr/lib/nginx/modules}

command -v ffmpeg >/dev/null && [ -x /usr/sbin/nginx ] && [ -f "$NGX_MODULES/ngx_rtmp_module.so" ] \
  || { not_ok "nginx with the RTMP module and ffmpeg are installed (make deps)"; exit 1; }

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 --suspect-ms 1000 --down-ms 8000 --transfer-timeout 60 \
  || { not_ok "controller c1 started"; exit 1; }

# nginx_up NAME: an nginx-rtmp server in $T/ngx-NAME; sets RTMP_, HTTP_, HLS_NAME
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
# publish NAME PORT: an ffmpeg camera with audio publishing live/cam1
publish() {
  bg "$1" ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=25 \
     -f lavfi -i "sine=frequency=440:sample_rate=44100" -c:a aac -b:a 64k \
     -c:v libx264 -preset ultrafast -tune zerolatency -g 25 -pix_fmt yuv420p -b:v 300k \
     -f flv "rtmp://127.0.0.1:$2/live/cam1"
}
agent_up() {
  local n=$1 http hls
  eval "http=\$HTTP_$n hls=\$HLS_$n"
  start_agent "$n" "$CTL_c1_AGENTS" --source nginx-rtmp --stat-url "http://127.0.0.1:$http/stat" \
    --rtmp-app live --records-path "$hls" --record-pattern '{name}/{ms}.ts' \
    --poll-interval-ms 300 --heartbeat-ms 200 --http-timeout-ms 500 --addr-external 127.0.0.1
}
check "nginx A serves its stat page" nginx_up A
check "nginx B serves its stat page" nginx_up B
agent_up A
agent_up B

row() {
  cli streams --node "$1" --name cam1 -o json 2>/dev/null |
    $PYTHON -c "import json,sys; r=[s for s in json.load(sys.stdin)['streams'] if s['name']=='cam1']; s=r[0] if r else None; sys.exit(0 if s and ($2) else 1)"
}
kinds() { cli migrations cam1 -o json | json_get "[e['kind'] for e in reversed(d['events'])]"; }
kinds_are() { [ "$(kinds)" = "$1" ]; }
liveness() { cli nodes -o json | json_get "[n['liveness'] for n in d['nodes'] if n['id']=='$1'][0]"; }
is_live() { [ "$(liveness "$1")" = "$2" ]; }
current_is() { cli streams show cam1 --no-color | grep -q "^Current node: $1"; }

publish pubA "$RTMP_A"
check "cam1 active on A, with audio" wait_until 20 row A "s['status']=='active' and 'audio' in s['functions']"
check "B is up" wait_until 10 is_live B alive

# --- A's agent goes silent; B's server takes the camera over at once
kill -STOP "$(pid_of agent_A)"
publish pubB "$RTMP_B"
check "B runs cam1" wait_until 20 row B "s['status']=='active'"
check "... while A is only suspect (not yet down)" wait_until 6 is_live A suspect
check "A is declared down after --down-ms" wait_until 20 is_live A down
check "one failover A -> B, nothing else" wait_until 10 kinds_are "['failover']"
check "the failover is timed at B's takeover, not at A's death" bash -c "\"$BIN/streamfleet\" migrations cam1 -o json | $PYTHON -c '
import json,sys; e=json.load(sys.stdin)[\"events\"][0]
sys.exit(0 if (e[\"from\"],e[\"to\"])==(\"A\",\"B\") else 1)'
\"$BIN/streamfleet\" streams --node B --name cam1 -o json | $PYTHON -c '
import json,sys,subprocess; s=[r for r in json.load(sys.stdin)[\"streams\"] if r[\"name\"]==\"cam1\"][0]
e=json.loads(subprocess.check_output([\"$BIN/streamfleet\",\"migrations\",\"cam1\",\"-o\",\"json\"]))[\"events\"][0]
sys.exit(0 if e[\"at_ms\"]==s[\"started_at\"]*1000 else 1)'"
check "current node is B, never the down A" current_is B
check "A's placement: migrated to B, offline" row A "s['type']=='migrated' and s['migrated_to']=='B' and s['status']=='offline'"
check "B's placement: no transfer flag" row B "not s['transfer'] and not s['conflict']"

# --- A's agent comes back; A's nginx still runs the stale stream
kill -CONT "$(pid_of agent_A)"
check "A is alive again" wait_until 20 is_live A alive
check "A's stale copy is flagged conflict" wait_until 20 row A "s['conflict'] and s['status']=='active' and s['type']=='migrated'"
check "B's placement is flagged conflict too" row B "s['conflict']"
nconflict() { cli streams --filter conflict -o json | json_get "d['total']"; }
check "--filter conflict lists both" bash -c "[ \"\$(\"$BIN/streamfleet\" streams --filter conflict -o json | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])')\" = 2 ]"
check "the listing marks !conflict" bash -c "\"$BIN/streamfleet\" streams --name cam1 --no-color | grep -q '!conflict'"
check "one conflict event B -> A after the failover" kinds_are "['failover', 'conflict']"
check "current node is still B" current_is B
check "nodes: A counts no primary (migrated), B one" bash -c "\"$BIN/streamfleet\" nodes -o json | $PYTHON -c '
import json,sys; n={x[\"id\"]: x[\"counts\"][\"primary\"] for x in json.load(sys.stdin)[\"nodes\"]}; sys.exit(0 if n==dict(A=0,B=1) else 1)'"

# --- the stale copy stops: the conflict ends; A keeps its last functions
stop pubA
check "A's placement stops and is no longer in conflict" wait_until 20 row A "s['status']!='active' and not s['conflict']"
check "B's placement is no longer in conflict" wait_until 10 row B "not s['conflict']"
check "A's stopped placement keeps its audio mark" row A "'audio' in s['functions']"
check "--filter audio still finds A's archive placement" bash -c "[ \"\$(\"$BIN/streamfleet\" streams --node A --filter audio -o json | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])')\" = 1 ]"
check "the history is unchanged by the stop" kinds_are "['failover', 'conflict']"
sf_done
