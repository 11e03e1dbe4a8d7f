#!/usr/bin/env bash
# 85_agent_hints.sh — an agent whose hello goes unanswered names the likely
# cause, told apart from what happened to its connection (issue 12, item 1's
# misleading hint): nothing listening; a CurveZMQ handshake that never
# completes (the wrong --server-cert); our certificate refused by the
# controller (ZAP denial); a controller that took the connection and then
# stalled. Before, every case said "did not answer our hello (is our
# certificate admitted in its --certs-dir?)".
source "$(dirname "$0")/../lib.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
A=$CTL_c1_AGENTS
agent_key n1
# a certificate that is not admitted
"$BIN/streamfleet" keygen --role agent --node n9 --out "$T/keys/n9" >/dev/null
# another controller's certificate
"$BIN/streamfleet" keygen --role controller --name other --out "$T/keys/other" >/dev/null
run() {   # NAME ARGS...: an agent for 4 s with a 1 s controller timeout
  local name=$1; shift
  mkdir -p "$T/st-$name"
  timeout 4 "$BIN/streamfleet-agent" --source simulate --sim-streams 1 --controller-timeout-ms 1000 \
    --state-dir "$T/st-$name" "$@" >"$T/$name.log" 2>&1
}
P=$(free_port)
run none --node n1 --cert "$T/keys/n1" --server-cert "$T/keys/controller" --controllers "tcp://127.0.0.1:$P"
check "nothing listening: the hint says the controller is down or unreachable" \
  grep -q "controller tcp://127.0.0.1:$P could not be reached (connection refused or failed): the controller is down or unreachable" "$T/none.log"
run wrongkey --node n1 --cert "$T/keys/n1" --server-cert "$T/keys/other" --controllers "$A"
check "the wrong --server-cert: the hint names the server certificate first" \
  grep -q "handshake never completed.*most likely --server-cert ($T/keys/other) is not that controller's certificate" "$T/wrongkey.log"
run rogue --node n9 --cert "$T/keys/n9" --server-cert "$T/keys/controller" --controllers "$A"
check "a certificate not admitted: the hint says so, with the ZAP status" \
  grep -q "refused our certificate (ZAP status 400): the certificate of node 'n9' ($T/keys/n9) is not admitted" "$T/rogue.log"
kill -STOP "$(pid_of c1)"
run frozen --node n1 --cert "$T/keys/n1" --server-cert "$T/keys/controller" --controllers "$A"
kill -CONT "$(pid_of c1)"
check "a frozen controller is not blamed on certificates" \
  bash -c "grep 'controller $A' '$T/frozen.log' | grep -q 'controller is stalled or overloaded' && ! grep -q 'certificate' '$T/frozen.log'"
for f in none wrongkey rogue frozen; do echo "# $f: $(grep -m1 'trying' "$T/$f.log")"; done
sf_done
