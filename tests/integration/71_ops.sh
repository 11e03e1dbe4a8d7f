#!/usr/bin/env bash
# 71_ops.sh — what a service manager, a load balancer and a log shipper see
# (docs/operations.md "Running it as a service"): --version on every binary,
# --log-format json lines, GET /healthz and /readyz without the token, and a
# controller with a peer to catch up with that is unready (503) until it has.
. "$(dirname "$0")/../lib.sh"

for b in streamfleet streamfleet-controller streamfleet-agent; do
  out=$("$BIN/$b" --version 2>&1); rc=$?
  if [ $rc -eq 0 ] && [[ $out =~ ^$b\ [0-9]+\.[0-9]+\.[0-9]+\ \(protocol\ [0-9]+\)$ ]]; then
    ok "$b --version prints the version and the protocol"
  else
    not_ok "$b --version prints the version and the protocol" "rc $rc: $out"
  fi
done
out=$("$BIN/streamfleet-controller" --log-format yaml 2>&1); rc=$?
check "an unknown --log-format is a usage error (exit 2) naming the choices" \
  test $rc -eq 2 -a -n "$(echo "$out" | grep 'text or json')"

sf_keys || { not_ok "certificates made"; exit 1; }
# c2 stands alone; c1 names c2 as its seed but c2 is not up yet
pq2=$(free_port); pp2=$(free_port); pa2=$(free_port); ph2=$(free_port)
start_controller c1 --id c1 --seeds "tcp://127.0.0.1:$pp2" --log-format json --peer-suspect-ms 60000 \
  || { not_ok "controller c1 started"; exit 1; }
H="http://$CTL_c1_HTTP"
code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
check "GET /healthz answers 200 without the token" test "$(code "$H/healthz")" = 200
check "GET /livez answers 200" test "$(code "$H/livez")" = 200
got=$(code "$H/readyz")
if [ "$got" = 503 ] && grep -q 'catching up' "$T/body"; then
  ok "GET /readyz is 503 'catching up' while the seed peer has not been heard"
else
  not_ok "GET /readyz is 503 'catching up' while the seed peer has not been heard" "HTTP $got $(cat "$T/body")"
fi

bg c2 "$BIN/streamfleet-controller" --id c2 --data-dir "$T/c2/data" --cert "$T/keys/controller" \
  --certs-dir "$T/allowed" --agents "tcp://127.0.0.1:$pa2" --query "tcp://127.0.0.1:$pq2" \
  --peers "tcp://127.0.0.1:$pp2" --http "127.0.0.1:$ph2"
if wait_until 30 sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' $H/readyz)\" = 200"; then
  ok "GET /readyz turns 200 once c1 has exchanged digests with c2"
else
  not_ok "GET /readyz turns 200 once c1 has exchanged digests with c2" "$(curl -s "$H/readyz")"
fi
check "GET /readyz of a controller with no seed is 200 at once" \
  test "$(code "http://127.0.0.1:$ph2/readyz")" = 200

# Every line c1 logged is one JSON object with ts, ident, level and msg
if $PYTHON - "$T/c1.log" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "no log lines"
for l in lines:
    o = json.loads(l)
    assert set(o) == {"ts", "ident", "level", "msg"}, o
    assert o["ident"] == "controller" and o["level"] in ("debug", "info", "warn", "error"), o
assert any("ready" in json.loads(l)["msg"] for l in lines)
PY
then ok "--log-format json writes one JSON object a line (ts, ident, level, msg)"
else not_ok "--log-format json writes one JSON object a line (ts, ident, level, msg)" "$(head -2 "$T/c1.log")"; fi
sf_done
