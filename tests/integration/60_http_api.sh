#!/usr/bin/env bash
# 60_http_api.sh — the controller's HTTP API (docs/http-api.md): every
# endpoint against a controller fed by two simulating agents, the filter
# semantics of DESIGN §3 on the rows it returns, paging, every error path
# (bad filter/sort/limit/cursor/time 400, unknown stream/node/endpoint 404,
# wrong method 405, missing or wrong token 401), the page's files and
# /metrics, and the refusal to listen off loopback without a token.
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 || { not_ok "controller c1 started"; exit 1; }
H="http://$CTL_c1_HTTP"
start_agent n1 "$CTL_c1_AGENTS" --source simulate --sim-streams 50
start_agent n2 "$CTL_c1_AGENTS" --source simulate --sim-streams 50

# get PATH [CURL ARGS...]: body into $T/body, headers into $T/head; prints the status
get() {
  local p=$1; shift
  curl -s -o "$T/body" -D "$T/head" -w '%{http_code}' "$@" "$H$p"
}
# py EXPR: evaluates a python expression over the last body (d); exit 0 when true
py() { $PYTHON -c "import json,sys; d=json.load(open('$T/body')); sys.exit(0 if ($1) else 1)"; }
# status_is NAME WANT PATH [CURL ARGS...]
status_is() {
  local name=$1 want=$2 path=$3; shift 3
  local got; got=$(get "$path" "$@")
  if [ "$got" = "$want" ]; then ok "$name"; else not_ok "$name" "HTTP $got, want $want: $(head -c 200 "$T/body")"; fi
}
# error_is NAME STATUS CODE PATH: a JSON error body with that status and code
error_is() {
  local name=$1 want=$2 code=$3 path=$4
  local got; got=$(get "$path")
  if [ "$got" = "$want" ] && py "d['error']['status'] == $want and d['error']['code'] == '$code' and len(d['error']['message']) > 10"; then
    ok "$name"
  else
    not_ok "$name" "HTTP $got: $(head -c 200 "$T/body")"
  fi
}

both_nodes_listed() {
  [ "$(get '/api/v1/streams?node=n1&limit=0')" = 200 ] && py "d['total'] > 0" &&
  [ "$(get '/api/v1/streams?node=n2&limit=0')" = 200 ] && py "d['total'] > 0"
}
check "both agents' streams are listed over HTTP" wait_until 20 both_nodes_listed

# --- /api/v1/streams
get '/api/v1/streams?limit=20' >/dev/null
check "list: rows carry DESIGN §2's fields" py "d['count'] == len(d['streams']) > 0 and all(
  set(['name','uid','node','type','status','transfer','functions','clients','bitrate_kbps','started_at',
       'uptime_s','reconnects','source','version','stale','migrated_to','playback_uuid']) <= set(s)
  and set(s['reconnects']) == set(['attempts','total']) and 'url' in s['source'] for s in d['streams'])"
check "list: total, offset, limit and next_cursor" py "d['total'] >= d['count'] and d['offset'] == 0 and d['limit'] == 20 and (d['next_cursor'] is not None) == (d['total'] > 20)"

# same_set FILTER PREDICATE: the filtered listing holds exactly the rows of the
# whole listing for which PREDICATE (python, over s) holds. Types and functions
# do not churn in the simulator, but streams come and go: a few tries.
same_set() {
  local i
  for i in 1 2 3 4 5; do
    curl -s "$H/api/v1/streams?limit=1000" >"$T/all"
    curl -s "$H/api/v1/streams?limit=1000&filter=$1" >"$T/some"
    $PYTHON - "$T/all" "$T/some" <<PY && return 0
import json, sys
a = json.load(open(sys.argv[1]))['streams']; f = json.load(open(sys.argv[2]))['streams']
want = sorted((s['node'], s['name']) for s in a if ($2))
got = sorted((s['node'], s['name']) for s in f)
sys.exit(0 if want == got and len(a) > 0 else 1)
PY
    sleep 0.3
  done
  return 1
}
check "filter secondary,dvr: exactly the secondary rows with DVR" same_set secondary,dvr "s['type'] == 'secondary' and 'dvr' in s['functions']"
check "filter primary,secondary: one group is OR-ed" same_set primary,secondary "s['type'] in ('primary', 'secondary')"
check "filter dvr,audio: functions are all required" same_set dvr,audio "'dvr' in s['functions'] and 'audio' in s['functions']"
get '/api/v1/streams?filter=secondary,dvr&limit=1' >/dev/null
check "filter: the answer names the parameters" py "d['filter'] == 'secondary,dvr'"
get '/api/v1/streams?filter=active,suspend&limit=1000' >/dev/null
check "filter active,suspend: one group is OR-ed" py "all(s['status'] in ('active','suspend') for s in d['streams']) and d['total'] > 0"
get '/api/v1/streams?filter=primary,active,dvr&limit=1000' >/dev/null
check "filter primary,active,dvr: groups are AND-ed" py "all(s['type'] == 'primary' and s['status'] == 'active' and 'dvr' in s['functions'] for s in d['streams'])"
get '/api/v1/streams?node=n2&limit=1000' >/dev/null
check "node=n2: only n2's placements" py "d['total'] > 0 and all(s['node'] == 'n2' for s in d['streams'])"
get '/api/v1/streams?limit=1000&sort=name' >/dev/null
name=$($PYTHON -c "import json; d=json.load(open('$T/body')); print(d['streams'][0]['name'])")
sub=${name:1:3}
get "/api/v1/streams?name=$(echo "$sub" | tr a-z A-Z)&limit=1000" >/dev/null
check "name: case-insensitive substring" py "d['total'] > 0 and all('$sub'.lower() in s['name'].lower() for s in d['streams'])"
get "/api/v1/streams?name=${name:0:2}*&limit=1000" >/dev/null
check "name: glob" py "d['total'] > 0 and all(s['name'].startswith('${name:0:2}') for s in d['streams'])"
get '/api/v1/streams?sort=-bitrate&limit=1000' >/dev/null
check "sort=-bitrate: descending bitrate" py "all(a['bitrate_kbps'] >= b['bitrate_kbps'] for a, b in zip(d['streams'], d['streams'][1:])) and d['sort'] == '-bitrate'"
get '/api/v1/streams?sort=clients&limit=1000' >/dev/null
check "sort=clients: ascending clients" py "all(a['clients'] <= b['clients'] for a, b in zip(d['streams'], d['streams'][1:]))"
get '/api/v1/streams?limit=0' >/dev/null
check "limit=0: the count alone" py "d['count'] == 0 and d['streams'] == [] and d['total'] > 0"

pages_follow() {
  get '/api/v1/streams?sort=name&limit=10' >/dev/null
  local last cursor
  last=$($PYTHON -c "import json; d=json.load(open('$T/body')); print(d['streams'][-1]['name'])")
  cursor=$($PYTHON -c "import json; d=json.load(open('$T/body')); print(d['next_cursor'])")
  get "/api/v1/streams?sort=name&limit=10&cursor=$cursor" >/dev/null
  py "d['offset'] == 10 and d['prev_cursor'] == '0' and d['streams'][0]['name'] >= '$last'"
}
check "cursor: the next page follows the first" pages_follow

# Keyset paging: next_after continues strictly after the last row shown,
# however rows come and go in between (descending: the exact reverse order)
keyset_follows() {
  get '/api/v1/streams?sort=-name&limit=10' >/dev/null
  local last after
  last=$($PYTHON -c "import json; d=json.load(open('$T/body')); s=d['streams'][-1]; print(s['name'] + '\t' + s['node'])")
  after=$($PYTHON -c "import json; d=json.load(open('$T/body')); print(d['next_after'] or '')")
  [ -n "$after" ] || return 1
  get "/api/v1/streams?sort=-name&limit=10&after=$after" >/dev/null
  py "d['count'] > 0 and all((s['name'], s['node']) < tuple('$last'.split('\t')) for s in d['streams'])"
}
check "after: the keyset cursor continues strictly after the page" keyset_follows
error_is "after of another sort: 400 bad_cursor" 400 bad_cursor \
  "/api/v1/streams?sort=bitrate&after=$(get '/api/v1/streams?sort=name&limit=1' >/dev/null; $PYTHON -c "import json; print(json.load(open('$T/body'))['next_after'])")"

# --- errors on the listing
error_is "bad filter: 400 bad_filter" 400 bad_filter '/api/v1/streams?filter=secondary,bogus'
error_is "bad sort: 400 bad_sort" 400 bad_sort '/api/v1/streams?sort=colour'
error_is "bad limit: 400 bad_limit" 400 bad_limit '/api/v1/streams?limit=ten'
error_is "limit over the maximum: 400" 400 bad_limit '/api/v1/streams?limit=10001'
error_is "bad cursor: 400 bad_cursor" 400 bad_cursor '/api/v1/streams?cursor=-5'
long=$(printf 'x%.0s' $(seq 1 300))
error_is "name over the bound: 400 bad_name" 400 bad_name "/api/v1/streams?name=$long"

# --- /api/v1/streams/{name} and /dvr: a DVR stream of n1
get '/api/v1/streams?filter=dvr&node=n1&limit=1' >/dev/null
dvr_name=$($PYTHON -c "import json; d=json.load(open('$T/body')); print(d['streams'][0]['name'] if d['streams'] else '')")
if [ -n "$dvr_name" ]; then
  get "/api/v1/streams/$dvr_name" >/dev/null
  check "detail: every placement with its sections" py "d['name'] == '$dvr_name' and d['count'] == len(d['placements']) >= 1 and all(
    set(['config','config_path','dvr','media','links','source','playback_uuid','node_liveness']) <= set(p)
    and set(['records_path','depth_s','chunk_s','disk_free_bytes','memory_bytes','current_from','ranges']) <= set(p['dvr'])
    and 'sdp' in p['source'] and p['links']['hls'] for p in d['placements'])"
  check "detail: DVR ranges carry RTSP and HLS links" py "all(r['hls'] and r['rtsp'] and r['to'] >= r['from'] for p in d['placements'] for r in p['dvr']['ranges'])"
  status_is "detail ?node=n1: 200" 200 "/api/v1/streams/$dvr_name?node=n1"
  check "detail ?node=n1: only n1's placement" py "d['count'] == 1 and d['placements'][0]['node'] == 'n1'"
  get "/api/v1/streams/$dvr_name/dvr" >/dev/null
  check "dvr: one timeline sorted by time, with node and links" py "d['name'] == '$dvr_name' and d['current'] == 'n1' and d['count'] == len(d['ranges']) > 0 and all(
    r['node'] and r['hls'] and r['rtsp'] for r in d['ranges']) and all(a['from'] <= b['from'] for a, b in zip(d['ranges'], d['ranges'][1:]))"
  at=$($PYTHON -c "import json; d=json.load(open('$T/body')); r=d['ranges']; print((r[0]['from'] + r[0]['to']) // 2 if r else 0)")
  if [ "$at" != 0 ]; then
    get "/api/v1/streams/$dvr_name/dvr?at=$at" >/dev/null
    check "dvr ?at=T: names the node holding T" py "d['holder'] is not None and d['holder']['from'] <= $at <= d['holder']['to'] and d['holder']['node']"
  fi
  error_is "dvr ?at=bad: 400 bad_time" 400 bad_time "/api/v1/streams/$dvr_name/dvr?at=yesterday"
else
  not_ok "a DVR stream on n1 to inspect"
fi
error_is "unknown stream: 404 not_found" 404 not_found '/api/v1/streams/no-such-stream'
error_is "unknown stream's dvr: 404 not_found" 404 not_found '/api/v1/streams/no-such-stream/dvr'
error_is "invalid UTF-8 in a name: 404 with valid JSON" 404 not_found '/api/v1/streams/%ff%fe%fd'

# --- nodes, migrations, cluster
get '/api/v1/nodes' >/dev/null
check "nodes: both agents alive with counts" py "d['count'] == 2 and d['liveness']['alive'] == 2 and sorted(n['id'] for n in d['nodes']) == ['n1','n2'] and all(
  n['liveness'] == 'alive' and n['heartbeat_age_ms'] is not None and n['counts']['streams'] > 0 for n in d['nodes'])"
status_is "node n1: 200" 200 '/api/v1/nodes/n1'
check "node n1: its record" py "d['id'] == 'n1' and 'usage' in d and 'limits' in d"
error_is "unknown node: 404 not_found" 404 not_found '/api/v1/nodes/n9'
status_is "migrations: 200" 200 '/api/v1/migrations?limit=10'
check "migrations: an event list" py "isinstance(d['events'], list) and d['count'] == len(d['events']) <= 10 and d['total'] >= d['count']"
status_is "migrations limit=0: the counts alone" 200 '/api/v1/migrations?limit=0'
check "migrations limit=0: no events, the total and counts" py "d['events'] == [] and d['count'] == 0 and 'counts' in d"
error_is "migrations limit over the maximum: 400" 400 bad_limit '/api/v1/migrations?limit=100001'
error_is "migrations limit=ten: 400" 400 bad_limit '/api/v1/migrations?limit=ten'
error_is "migrations kind=bogus: 400" 400 bad_kind '/api/v1/migrations?kind=bogus'
status_is "migrations kind=migrated&stream=x: 200" 200 '/api/v1/migrations?kind=migrated&stream=x'
check "migrations: counts by kind" py "set(d['counts']) == set(['transfer_started','migrated','failover','transfer_stuck','returned','conflict'])"
status_is "cluster: 200" 200 '/api/v1/cluster'
check "cluster: this controller and the nodes" py "[m['self'] for m in d['members']].count(True) == 1 and d['nodes']['alive'] == 2 and d['streams'] > 0 and d['http'] == '$CTL_c1_HTTP'"
error_is "unknown endpoint: 404 JSON" 404 not_found '/api/v1/nothing-here'
got=$(get '/api/v1/streams' -X POST)
if [ "$got" = 405 ] && grep -qi '^Allow: GET' "$T/head"; then ok "POST: 405 with Allow"; else not_ok "POST: 405 with Allow" "HTTP $got"; fi

# --- the page and metrics
got=$(get '/')
if [ "$got" = 200 ] && grep -qi '^Content-Type: text/html' "$T/head" && grep -qi '^Content-Security-Policy:' "$T/head" &&
   grep -q 'src="/app.js"' "$T/body"; then ok "/: the page, with a CSP"; else not_ok "/: the page, with a CSP" "HTTP $got"; fi
got=$(get '/app.js')
if [ "$got" = 200 ] && grep -qi '^Content-Type: text/javascript' "$T/head"; then ok "/app.js served"; else not_ok "/app.js served" "HTTP $got"; fi
status_is "/style.css served" 200 '/style.css'
got=$(get '/metrics')
m="$T/body"
metric() { grep -E "^$1 " "$m" | awk '{print $2}'; }
if [ "$got" = 200 ] && grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/head"; then ok "/metrics: Prometheus text"; else not_ok "/metrics: Prometheus text" "HTTP $got"; fi
check "/metrics: ingest counters moved" test "$(metric streamfleet_ingest_records_total)" -gt 0
check "/metrics: commit histogram, +Inf equals count" test "$(metric 'streamfleet_store_commit_duration_seconds_bucket\{le="\+Inf"\}')" = "$(metric streamfleet_store_commit_duration_seconds_count)"
check "/metrics: rejected by reason" grep -q '^streamfleet_ingest_rejected_total{reason="bounds"} ' "$m"
check "/metrics: nodes by liveness" test "$(metric 'streamfleet_nodes\{liveness="alive"\}')" = 2
check "/metrics: streams by type and status" bash -c "grep -q '^streamfleet_streams{type=\"primary\"} [1-9]' '$m' && grep -q '^streamfleet_streams_by_status{status=\"offline\"} ' '$m'"

# --- a token: 401 without it or with a wrong one; the page's files stay open
start_controller c2 --http-token 's3cret-token' || not_ok "controller c2 with a token started"
H="http://$CTL_c2_HTTP"
error_is "token: missing gives 401" 401 unauthorized '/api/v1/streams'
got=$(get '/api/v1/streams' -H 'Authorization: Bearer wrong')
if [ "$got" = 401 ] && grep -qi '^WWW-Authenticate: Bearer' "$T/head"; then ok "token: wrong gives 401 with WWW-Authenticate"; else not_ok "token: wrong gives 401 with WWW-Authenticate" "HTTP $got"; fi
status_is "token: right gives 200" 200 '/api/v1/streams' -H 'Authorization: Bearer s3cret-token'
status_is "token: /metrics wants it too" 401 '/metrics'
status_is "token: the page itself loads without it" 200 '/'

# --- off loopback without a token the controller refuses to start
p=$(free_port)
out=$(STREAMFLEET_HTTP_TOKEN= timeout 10 "$BIN/streamfleet-controller" --data-dir "$T/c3" --cert "$T/keys/controller" \
      --certs-dir "$T/allowed" --agents "tcp://127.0.0.1:$(free_port)" --query "tcp://127.0.0.1:$(free_port)" \
      --peers "tcp://127.0.0.1:$(free_port)" --http "0.0.0.0:$p" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "$out" | grep -qi 'token'; then
  ok "off loopback without a token: refused, naming the token"
else
  not_ok "off loopback without a token: refused, naming the token" "rc $rc: $(echo "$out" | tail -1)"
fi
sf_done
