#!/usr/bin/env bash
# 91_agent_window.sh — an agent never has more in flight to its controller
# than its flow-control window (issue 12; found by make soak). Two
# controllers aborted in the soak with libzmq 4.3.4's `Assertion failed:
# !_io_error (src/stream_engine_base.cpp:331)` when twenty agents stopped at
# once: an overloaded controller's pipe from an agent had filled (RCVHWM 200),
# libzmq stopped reading that connection, and the connection then failed.
# The cure is that the pipe can never fill: an agent has at most 32 batches
# or snapshot chunks (SF_AGENT_WINDOW) and 8 heartbeats more (_CTL) sent that
# the controller has not said it read, far below the controller's RCVHWM
# (docs/protocol.md, "Flow control"). The abort itself could not be
# reproduced in seconds; this tests the invariant.
# 1. tests/helpers/slow_controller.py --mode window answers the hello
#    ("read": the hello), then reads all and says nothing until 4 s after
#    the first snapshot chunk: the agent
#    with a 40-chunk snapshot must stop at the window, then finish the
#    snapshot once told what was read.
# 2. A real controller takes large snapshots through the window, and
#    survives every agent killed at once.
# 3. It survives a dozen window-keeping agents flooding it with ZMTP
#    heartbeats every 5 ms, killed at once (tests/helpers/flood_agent.py).
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
WINDOW=32 CTL=8
p=$(free_port)
bg w1 "$PYTHON" "$SF_ROOT/tests/helpers/slow_controller.py" --bind "tcp://127.0.0.1:$p" \
  --cert "$T/keys/controller_secret" --mode window --credit-after-ms 4000
start_agent n1 "tcp://127.0.0.1:$p" --sim-streams 40000 --heartbeat-ms 100 --controller-timeout-ms 1000
check "the controller heard the agent's hello" wait_until 15 grep -q '^rx hello' "$T/w1.log"
check "the agent sends snapshot chunks" wait_until 15 grep -q '^rx snap' "$T/w1.log"
# Before the credit (4 s after the first chunk): what came after the hello
check "the slow controller says what it read, once" wait_until 15 grep -q '^tx credit' "$T/w1.log"
before() { awk '/^tx credit/ { exit } { print }' "$T/w1.log"; }
after_hello=$(before | awk 'h && /^rx /; /^rx hello/ { h = 1 }' | wc -l)
chunks=$(before | grep -c '^rx snap')
beats=$(before | awk 'h && /^rx hb/; /^rx hello/ { h = 1 }' | wc -l)
check "messages in flight after the hello stay within the window ($after_hello <= $((WINDOW + CTL)))" \
  test "$after_hello" -le $((WINDOW + CTL))
check "snapshot chunks in flight stay within the data window ($chunks <= $WINDOW)" test "$chunks" -le "$WINDOW"
check "the window filled (the agent was not merely slow: $after_hello messages)" \
  test "$after_hello" -ge "$WINDOW"
check "heartbeats go on while the data window is full ($beats)" test "$beats" -ge 1
check "every message is stamped, in rising order" \
  awk '/^rx / { if ($4 <= last) exit 1; last = $4 }' "$T/w1.log"
check "told what was read, the agent finishes its snapshot (40 chunks)" \
  wait_until 15 bash -c "[ \$(grep -c '^rx snap' '$T/w1.log') -ge 40 ]"
check "and logs it sent" wait_until 5 grep -q "snapshot sent to .*: 40000 placements" "$T/agent_n1.log"
stop agent_n1; stop w1

# 2. A real controller, agents whose snapshots are larger than the window
start_controller c1 --suspect-ms 2000 --down-ms 4000 || { not_ok "controller starts"; exit 1; }
export STREAMFLEET_CONTROLLERS=$CTL_c1_QUERY
A=$CTL_c1_AGENTS
for n in a1 a2; do
  start_agent $n "$A" --sim-streams 40000 --sim-update-pct 10 --heartbeat-ms 200
done
for n in a1 a2; do
  check "the controller applies $n's 40,000-placement snapshot through the window" \
    wait_until 60 grep -q "snapshot of $n applied: 40000 placements" "$T/c1.log"
done
check "all 80,000 placements are listed" wait_until 20 total_is 40000 --node a2
kill -KILL "$(pid_of agent_a1)" "$(pid_of agent_a2)"
stop agent_a1; stop agent_a2
sleep 2
check "the controller is alive after every agent was killed at once" kill -0 "$(pid_of c1)"
check "and still answers queries" total_is 40000 --node a1
check "it did not abort" bash -c "! grep -q 'Assertion failed' '$T/c1.log'"

# 3. The soak's abort, made quick: a dozen agents flooding one controller with
# ZMTP heartbeats every 5 ms, killed at once, twice. Keeping the window they
# never fill a queue (agents that ignore it: 92_agent_flood.sh). (The old controller never says what it read, so windowed agents
# stall against it: this part shows the window is enough, part 1 that the
# old agent lacked it.)
for round in 1 2; do
  pids=()
  for i in $(seq 1 12); do
    [ -f "$T/keys/f$i" ] || agent_key "f$i"
    "$PYTHON" "$SF_ROOT/tests/helpers/flood_agent.py" "$A" "$T/keys/f${i}_secret" \
      "$T/keys/controller" "f$i" --window >/dev/null 2>&1 &
    pids+=($!)
  done
  sleep 3
  kill -KILL "${pids[@]}"; wait "${pids[@]}" 2>/dev/null
  sleep 1
  check "round $round: the controller survives a dozen flooding agents killed at once" kill -0 "$(pid_of c1)"
done
check "it read their floods (over 5,000 messages)" bash -c \
  "$PYTHON -c \"import urllib.request; print(urllib.request.urlopen('http://$CTL_c1_HTTP/metrics', timeout=5).read().decode())\" | awk '/^streamfleet_ingest_messages_total/ { exit !(\$2 > 5000) }'"
check "and still answers queries after them" total_is 40000 --node a1
check "it never aborted" bash -c "! grep -q 'Assertion failed' '$T/c1.log'"
sf_done
