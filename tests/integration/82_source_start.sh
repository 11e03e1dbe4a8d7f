#!/usr/bin/env bash
# 82_source_start.sh — a source that cannot start makes the agent exit with
# code 3 and a clear message (issue 12, item 3). Before, zactor_new ignored
# the source thread's failed handshake and the agent ran on with no source.
source "$(dirname "$0")/../lib.sh"

sf_keys
agent_key n1
mkdir -p "$T/records"
run_agent() {
  timeout 20 "$BIN/streamfleet-agent" --node n1 --controllers tcp://127.0.0.1:1 \
    --cert "$T/keys/n1" --server-cert "$T/keys/controller" --state-dir "$T/agent" "$@" \
    >"$T/agent.log" 2>&1
}
run_agent --source nginx-rtmp --stat-url http://127.0.0.1:1/stat \
  --records-path "$T/records" --record-pattern '{bogus}'
rc=$?
check "a bad --record-pattern makes the agent exit with code 3 (got $rc)" test "$rc" = 3
check "the message names the bad token" grep -q "unknown token '{bogus}'" "$T/agent.log"
check "the message says the source could not start" grep -q "source nginx-rtmp could not start" "$T/agent.log"
check "the agent never tried a controller" bash -c "! grep -q 'hello' '$T/agent.log'"

# A push source whose listen address is taken cannot start either
P=$(free_port)
$PYTHON -c "import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $P)); s.listen(1); time.sleep(30)" &
HOLD=$!; PIDS+=("$HOLD")
wait_until 5 bash -c "ss -tln | grep -q ':$P '"
run_agent --source push --push-listen "127.0.0.1:$P"
rc=$?
check "a push source on a taken address makes the agent exit with code 3 (got $rc)" test "$rc" = 3
sf_done
