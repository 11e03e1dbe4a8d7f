#!/usr/bin/env bash
# 88_agent_slow_controller.sh — an agent tells a slow controller from a dead
# one (issue 12; found by make soak). Under overload twenty agents failed over
# between two loaded controllers every 3 s (1,252 failovers in ten minutes,
# each one a whole snapshot more for the other controller) and the fleet
# never converged: a controller whose writer is busy answers late, and the
# agent took any silence longer than --controller-timeout-ms for death, even
# while it was waiting out the controller's own `retry`. Now the agent sets
# ZMTP heartbeats on its connection (libzmq's I/O thread answers them however
# busy the controller is): while that connection is alive it waits up to
# 30 s, saying so; a dead controller drops the connection at once, a stopped
# one within twice --controller-timeout-ms (the ZMTP heartbeat timeout), and
# is left then.
# The slow controller is tests/helpers/slow_controller.py (a real controller
# cannot be made slow alone); the agent and the controller it fails over to
# are real.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
export STREAMFLEET_CONTROLLERS=$CTL_c1_QUERY
A=$CTL_c1_AGENTS
slow() {   # slow NAME MODE [ARGS]: a slow controller; sets P_NAME to its endpoint
  local name=$1 mode=$2 p; shift 2
  p=$(free_port)
  bg "$name" "$PYTHON" "$SF_ROOT/tests/helpers/slow_controller.py" --bind "tcp://127.0.0.1:$p" \
    --cert "$T/keys/controller_secret" --mode "$mode" "$@"
  eval "P_$name=tcp://127.0.0.1:$p"
}
hellos() { grep -c '^rx hello' "$T/$1.log" 2>/dev/null || true; }
failed_over() { grep -q "trying $A" "$T/agent_$1.log"; }
not() { ! "$@"; }

# 1. Alive but silent after the hello: the agent waits, and says why
slow s1 silent
start_agent n1 "$P_s1,$A" --sim-streams 5 --heartbeat-ms 300 --controller-timeout-ms 1000
check "the slow controller heard the agent's hello" wait_until 10 grep -q '^rx hello' "$T/s1.log"
check "the agent says its controller is connected but overloaded" \
  wait_until 10 grep -q "connection is alive: it is overloaded" "$T/agent_n1.log"
sleep 4    # five times --controller-timeout-ms since the last answer
check "it does not fail over while that controller's connection is alive (5x --controller-timeout-ms)" \
  not grep -q trying "$T/agent_n1.log"
check "its heartbeats keep going to that controller" bash -c "[ \$(grep -c '^rx hb' '$T/s1.log') -ge 5 ]"
stop s1 KILL
check "once that controller is dead it fails over within a few seconds" wait_until 8 failed_over n1
check "and the controller it failed over to lists the node" wait_until 15 total_is 5 --node n1
stop agent_n1

# 2. Told to retry in 4 s: silence until then is what it asked for
slow s2 retry --after-ms 4000
start_agent n2 "$P_s2,$A" --sim-streams 5 --heartbeat-ms 300 --controller-timeout-ms 1000
check "the agent says hello again after the retry's wait" wait_until 15 bash -c "[ \$(grep -c '^rx hello' '$T/s2.log') -ge 2 ]"
check "not before the wait was over (4 s)" \
  bash -c "awk '/^rx hello/ { t[n++] = \$3 } END { exit !(n >= 2 && t[1] - t[0] >= 3900) }' '$T/s2.log'"
check "it does not fail over while it waits" not grep -q trying "$T/agent_n2.log"
stop agent_n2; stop s2

# 3. A stopped controller (every thread, so no ZMTP heartbeat either) is left
slow s3 silent
start_agent n3 "$P_s3,$A" --sim-streams 5 --heartbeat-ms 300 --controller-timeout-ms 1000
check "the third slow controller heard the hello" wait_until 10 grep -q '^rx hello' "$T/s3.log"
kill -STOP "$(pid_of s3)"
check "a controller stopped by SIGSTOP is failed over within twice --controller-timeout-ms and a heartbeat" \
  wait_until 6 failed_over n3
kill -CONT "$(pid_of s3)"
check "that node too reaches the other controller" wait_until 15 total_is 5 --node n3
sf_done
