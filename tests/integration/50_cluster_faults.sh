#!/usr/bin/env bash
# Several controllers, one fleet view (issue 5): 3 controllers and 6 agents with
# churning streams, each controller on its own host made from a network
# namespace (a bridge in a switch namespace, veth links, 10.77.0.0/24 inside
# our namespaces only). Faults: a partitioned controller (link down) heals and
# converges with nothing lost; a controller killed with -9 under load comes
# back and converges; the controller agents are attached to dies and they fail
# over with the fleet view complete.
# Without the rights to make namespaces, the same checks run on loopback ports,
# with SIGSTOP standing in for the partition, and the test says so.
. "$(dirname "$0")/../lib.sh"

STREAMS=150          # per agent; 6 agents
TOTAL=$((STREAMS * 6))
TAG=$$
NETNS=1
SW="sfsw$TAG"
hosts=(c1 c2 c3 ag)
declare -A IP=([c1]=10.77.0.1 [c2]=10.77.0.2 [c3]=10.77.0.3 [ag]=10.77.0.10)

netns_down() {
  for h in "${hosts[@]}"; do ip netns del "sf$h$TAG" 2>/dev/null; done
  ip netns del "$SW" 2>/dev/null
}
trap 'sf_cleanup; [ $NETNS = 1 ] && netns_down' EXIT

netns_up() {
  ip netns add "$SW" || return 1
  ip -n "$SW" link add br0 type bridge || return 1
  ip -n "$SW" link set br0 up
  ip -n "$SW" link set lo up
  local h
  for h in "${hosts[@]}"; do
    ip netns add "sf$h$TAG" || return 1
    ip link add "v$h$TAG" type veth peer name "s$h$TAG" || return 1
    ip link set "v$h$TAG" netns "sf$h$TAG"
    ip link set "s$h$TAG" netns "$SW"
    ip -n "$SW" link set "s$h$TAG" master br0
    ip -n "$SW" link set "s$h$TAG" up
    ip -n "sf$h$TAG" link set lo up
    ip -n "sf$h$TAG" link set "v$h$TAG" name eth0
    ip -n "sf$h$TAG" addr add "${IP[$h]}/24" dev eth0
    ip -n "sf$h$TAG" link set eth0 up
  done
}

if [ "$(id -u)" -ne 0 ] || ! netns_up 2>"$T/netns.err"; then
  netns_down
  NETNS=0
  echo "# network namespaces unavailable ($(head -c 200 "$T/netns.err" 2>/dev/null)): running on loopback ports"
fi

# on HOST CMD...: runs CMD on a test host (namespace) or, on loopback, as is
on() { local h=$1; shift; if [ $NETNS = 1 ]; then ip netns exec "sf$h$TAG" "$@"; else "$@"; fi; }
# on_exec HOST CMD...: the same for bg: the recorded pid must be the process
# itself (ip netns exec execs), not a subshell around it, or signals miss it
on_exec() { local h=$1; shift; if [ $NETNS = 1 ]; then exec ip netns exec "sf$h$TAG" "$@"; else exec "$@"; fi; }
addr() { if [ $NETNS = 1 ]; then echo "${IP[$1]}"; else echo 127.0.0.1; fi; }
declare -A PORT
for c in c1 c2 c3; do
  if [ $NETNS = 1 ]; then PORT[$c.a]=7600 PORT[$c.q]=7601 PORT[$c.p]=7602
  else PORT[$c.a]=$(free_port) PORT[$c.q]=$(free_port) PORT[$c.p]=$(free_port); fi
done
ep() { echo "tcp://$(addr "$1"):${PORT[$1.$2]}"; }

sf_keys
start_ctl() {
  local c=$1
  mkdir -p "$T/$c"
  bg "$c" on_exec "$c" "$BIN/streamfleet-controller" --id "$c" --data-dir "$T/$c/data" \
    --cert "$T/keys/controller" --certs-dir "$T/allowed" \
    --agents "tcp://$(addr "$c"):${PORT[$c.a]}" --query "tcp://$(addr "$c"):${PORT[$c.q]}" \
    --peers "$(ep "$c" p)" --http "" --seeds "$(ep c1 p),$(ep c2 p)" --gossip-ms 200
}
q() { local c=$1; shift; on ag "$BIN/streamfleet" --controller "$(ep "$c" q)" --timeout-ms 2000 "$@"; }
total_on() { q "$1" streams --limit 0 -o json 2>/dev/null | json_get 'd["total"]'; }
# digest_of C: C's own state digest as it reports it
digest_of() { q "$1" cluster -o json 2>/dev/null | json_get '[m["state_digest"] for m in d["members"] if m["self"]][0]'; }
state_of() { q "$1" cluster -o json 2>/dev/null | json_get "[m['state'] for m in d['members'] if m['id']=='$2'][0]"; }
converged() {
  local d1 d2 d3
  d1=$(digest_of c1) && d2=$(digest_of c2) && d3=$(digest_of c3) || return 1
  [ -n "$d1" ] && [ "$d1" = "$d2" ] && [ "$d2" = "$d3" ] &&
    [ "$(total_on c1)" = $TOTAL ] && [ "$(total_on c2)" = $TOTAL ] && [ "$(total_on c3)" = $TOTAL ]
}
# listing C: every placement's node, name and version, sorted
listing() {
  q "$1" streams --limit 10000 -o json | json_get \
    '"\n".join(sorted("%s %s %s/%s" % (r["node"], r["name"], r["version"]["gen"], r["version"]["seq"]) for r in d["streams"]))'
}
# A member's digest is refreshed about once a second (docs/protocol.md §6.6):
# equal digests may be a second old, so the listings C... are compared too
listings_agree() {
  local c
  for c in "$@"; do listing "$c" > "$T/l$c" || return 1; done
  for c in "${@:2}"; do cmp -s "$T/l$1" "$T/l$c" || return 1; done
}
agents_pause() { local n; for n in 1 2 3 4 5 6; do kill -STOP "$(pid_of "agent_n$n")"; done; }
agents_resume() { local n; for n in 1 2 3 4 5 6; do kill -CONT "$(pid_of "agent_n$n")"; done; }

for c in c1 c2 c3; do start_ctl $c; done
check "three controllers start and answer" wait_until 15 q c3 nodes

# Agents n1..n6: two per controller, each with the next controller as fallback
declare -A HOME_OF=([1]=c1 [2]=c1 [3]=c2 [4]=c2 [5]=c3 [6]=c3)
declare -A NEXT_OF=([c1]=c2 [c2]=c3 [c3]=c1)
for n in 1 2 3 4 5 6; do
  h=${HOME_OF[$n]}
  agent_key "n$n"
  mkdir -p "$T/agent-n$n"
  bg "agent_n$n" on_exec ag "$BIN/streamfleet-agent" --node "n$n" \
    --controllers "$(ep "$h" a),$(ep "${NEXT_OF[$h]}" a)" --controller-timeout-ms 2000 \
    --cert "$T/keys/n$n" --server-cert "$T/keys/controller" --state-dir "$T/agent-n$n" \
    --source simulate --sim-streams $STREAMS --sim-seed "$n" --sim-churn-pct 5
done

check "all three controllers converge on $TOTAL placements with one state digest" wait_until 30 converged
alive_on() { q "$1" nodes -o json 2>/dev/null | json_get 'sum(1 for n in d["nodes"] if n["liveness"]=="alive")'; }
all_alive() { local c; for c in "$@"; do [ "$(alive_on "$c")" = 6 ] || return 1; done; }
check "every controller sees all 6 nodes alive" wait_until 15 all_alive c1 c2 c3

# --- Partition c3 while the agents keep changing streams --------------------
if [ $NETNS = 1 ]; then ip -n "sfc3$TAG" link set eth0 down; else kill -STOP "$(pid_of c3)"; fi
cut_off() { local s; s=$(state_of c1 c3); [ "$s" = suspect ] || [ "$s" = dead ]; }
check "the others see partitioned c3 as suspect or dead" wait_until 20 cut_off
sleep 8     # churn while c3 is cut off; its agents fail over to c1
complete_on() { local c; for c in "$@"; do [ "$(total_on "$c")" = $TOTAL ] || return 1; done; }
check "c3's agents fail over and the fleet view on c1 stays complete" wait_until 20 complete_on c1
check "nodes of partitioned c3 stay alive on c1 once their agents fail over" wait_until 20 all_alive c1
heal_start=$(date +%s%N)
if [ $NETNS = 1 ]; then ip -n "sfc3$TAG" link set eth0 up; else kill -CONT "$(pid_of c3)"; fi
agents_pause
if wait_until 30 eval "converged && listings_agree c1 c2 c3"; then
  ok "after the partition heals all three converge ($(( ($(date +%s%N) - heal_start) / 1000000 )) ms)"
else
  not_ok "after the partition heals all three converge" "digests $(digest_of c1) $(digest_of c2) $(digest_of c3)"
fi
listing c1 > "$T/l1"; listing c2 > "$T/l2"; listing c3 > "$T/l3"
check "the three listings are identical, placement by placement and version by version" \
  bash -c "[ -s '$T/l1' ] && cmp -s '$T/l1' '$T/l2' && cmp -s '$T/l2' '$T/l3'"
check "nothing lost: $TOTAL placements in the listing" [ "$(wc -l < "$T/l1")" = $TOTAL ]
is_state() { [ "$(state_of "$1" "$2")" = "$3" ]; }
check "c3 is alive again in c1's view" wait_until 15 is_state c1 c3 alive
agents_resume

# --- Kill -9 a controller under load, restart it --------------------------------
sleep 2
check "the pid recorded for c2 is the controller itself, so signals reach it" \
  [ "$(cat /proc/"$(pid_of c2)"/comm 2>/dev/null)" = streamfleet-con ]
stop c2 KILL
sleep 3
start_ctl c2
agents_pause
check "c2 killed with -9 under load restarts and converges" wait_until 40 eval "converged && listings_agree c1 c2"
listing c1 > "$T/l1"; listing c2 > "$T/l2"
check "c2's listing equals c1's after its restart" cmp -s "$T/l1" "$T/l2"
agents_resume

# --- The controller agents n1 and n2 are attached to dies -----------------------
stop c1 KILL
check "agents of dead c1 fail over: c2 and c3 still list all $TOTAL placements" wait_until 30 complete_on c2 c3
check "n1 and n2 stay alive in c3's view after failing over" wait_until 20 all_alive c3
check "c1 is declared dead by the survivors" wait_until 20 is_state c3 c1 dead
sf_done
