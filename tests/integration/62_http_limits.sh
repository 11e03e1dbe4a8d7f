#!/usr/bin/env bash
# 62_http_limits.sh — hostile HTTP requests (issue 13, item 7; docs/operations.md
# "The HTTP token", "HTTP request limits"): the token read from
# --http-token-file (never on the command line), compared over its full
# length; URIs with too many or too long query parameters, or too long a path
# or URI, answered 400/414 at once (before: about 1,000 parameters got no
# answer for 30 s), counted and logged, while the controller keeps serving.
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
TOKEN='tok-3f9a27c1d0e84b56'
printf '  %s \n' "$TOKEN" > "$T/http-token"
chmod 0600 "$T/http-token"
start_controller c1 --http-token-file "$T/http-token" || { not_ok "controller with --http-token-file started"; exit 1; }
H="http://$CTL_c1_HTTP"
AUTH=(-H "Authorization: Bearer $TOKEN")

# code PATH [CURL ARGS...]: the HTTP status (000 when nothing came in 10 s)
code() { local p=$1; shift; curl -s -m 10 -o "$T/body" -w '%{http_code}' "$@" "$H$p"; }
# error_is NAME STATUS CODE PATH [CURL ARGS...]: that status and JSON error code
error_is() {
  local name=$1 want=$2 ecode=$3 path=$4; shift 4
  local got; got=$(code "$path" "$@")
  if [ "$got" = "$want" ] && $PYTHON -c "import json,sys; d=json.load(open('$T/body')); sys.exit(0 if d['error']['code'] == '$ecode' and d['error']['status'] == $want else 1)" 2>/dev/null; then
    ok "$name"
  else
    not_ok "$name" "HTTP $got: $(head -c 200 "$T/body")"
  fi
}
params() { $PYTHON -c "import sys; print('&'.join('p%d=1' % i for i in range(int(sys.argv[1]))))" "$1"; }
repeat() { $PYTHON -c "import sys; print(sys.argv[1] * int(sys.argv[2]))" "$1" "$2"; }

# --- the token from a file
check "the token is not on the controller's command line" \
  bash -c "! tr '\\0' ' ' < /proc/$(pid_of c1)/cmdline | grep -q '$TOKEN'"
check "the file's token (blanks and line end stripped) is accepted" test "$(code /api/v1/streams "${AUTH[@]}")" = 200
check "no token: 401" test "$(code /api/v1/streams)" = 401
check "a wrong token of the same length: 401" \
  test "$(code /api/v1/streams -H "Authorization: Bearer ${TOKEN%?}x")" = 401
check "the token's prefix: 401" test "$(code /api/v1/streams -H "Authorization: Bearer ${TOKEN:0:8}")" = 401
check "the token with a byte more: 401" test "$(code /api/v1/streams -H "Authorization: Bearer ${TOKEN}x")" = 401
check "an empty bearer token: 401" test "$(code /api/v1/streams -H "Authorization: Bearer ")" = 401

# --- URI limits
check "32 query parameters are fine: 200" test "$(code "/api/v1/streams?$(params 32)" "${AUTH[@]}")" = 200
error_is "33 query parameters: 400 too_many_parameters" 400 too_many_parameters "/api/v1/streams?$(params 33)" "${AUTH[@]}"
error_is "1,000 query parameters: answered 400 at once, not held" 400 too_many_parameters "/api/v1/streams?$(params 1000)" "${AUTH[@]}"
error_is "40 empty parameters (&&&...): 400 too_many_parameters" 400 too_many_parameters "/api/v1/streams?$(repeat '&' 40)" "${AUTH[@]}"
error_is "the limit applies before the token check" 400 too_many_parameters "/api/v1/streams?$(params 1000)"
check "a 4,096-byte parameter is fine (the handler judges its value)" \
  bash -c "c=\$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $TOKEN' '$H/api/v1/streams?x=$(repeat a 4094)'); [ \$c = 200 ]"
error_is "a 4,097-byte parameter: 400 parameter_too_long" 400 parameter_too_long "/api/v1/streams?name=$(repeat a 4092)" "${AUTH[@]}"
error_is "a 1,025-byte path: 414 path_too_long" 414 path_too_long "/api/v1/streams/$(repeat a 1009)" "${AUTH[@]}"
error_is "a 9,000-byte URI: 414 uri_too_long" 414 uri_too_long "/api/v1/streams?a=$(repeat b 3000)&c=$(repeat d 3000)&e=$(repeat f 3000)" "${AUTH[@]}"
check "a 1,024-byte path is judged by the handler (404 or 400, not 414)" \
  bash -c "c=\$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $TOKEN' '$H/api/v1/streams/$(repeat a 1008)'); [ \$c = 400 ] || [ \$c = 404 ]"
hdrs=(); for i in $(seq 1 1500); do hdrs+=(-H "X-H$i: v"); done
check "1,500 header fields: libmicrohttpd answers 431" test "$(code /api/v1/streams "${AUTH[@]}" "${hdrs[@]}")" = 431
check "the refusals are logged" wait_until 5 grep -q 'http: refused a request: the request has more than 32 query parameters' "$T/c1.log"
m=$(curl -s -m 10 "${AUTH[@]}" "$H/metrics")
check "the refusals are counted (streamfleet_http_refused_total >= 7)" \
  test "$(echo "$m" | awk '$1 == "streamfleet_http_refused_total" {print $2}')" -ge 7
check "the controller keeps serving: the next request is answered 200" test "$(code /api/v1/nodes "${AUTH[@]}")" = 200

# --- token file errors stop the controller with exit code 2, naming the cause
run_ctl() {
  timeout 10 "$BIN/streamfleet-controller" --data-dir "$T/cx" --cert "$T/keys/controller" \
    --certs-dir "$T/allowed" --agents "tcp://127.0.0.1:$(free_port)" --query "tcp://127.0.0.1:$(free_port)" \
    --peers "tcp://127.0.0.1:$(free_port)" --http "127.0.0.1:$(free_port)" "$@" 2>&1
}
: > "$T/empty-token"
out=$(run_ctl --http-token-file "$T/empty-token"); rc=$?
check "an empty token file: exit 2, naming it" bash -c "[ $rc = 2 ] && echo '$out' | grep -q 'is empty'"
out=$(run_ctl --http-token-file "$T/no-such-file"); rc=$?
check "a missing token file: exit 2, naming it" bash -c "[ $rc = 2 ] && echo '$out' | grep -q 'cannot read the HTTP token file'"
out=$(run_ctl --http-token-file "$T/http-token" --http-token other); rc=$?
check "both --http-token-file and --http-token: exit 2" bash -c "[ $rc = 2 ] && echo '$out' | grep -q 'not both'"
repeat x 300 > "$T/long-token"
out=$(run_ctl --http-token-file "$T/long-token"); rc=$?
check "a token longer than 255 bytes: exit 2" bash -c "[ $rc = 2 ] && echo '$out' | grep -q 'longer than 255'"
sf_done
