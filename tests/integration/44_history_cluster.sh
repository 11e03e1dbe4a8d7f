#!/usr/bin/env bash
# 44_history_cluster.sh — the placement history is replicated (issue 14,
# docs/migrations.md "A replicated history"): three controllers, each on its
# own host made from a network namespace (as in 50_cluster_faults.sh), and
# three push-source agents A, B, C on a fourth host, attached to c1. While
# c3 is partitioned (its link down), cam1 moves three times, with overlap:
# A -> B, B -> C, C -> A. c3 never sees the intermediate records (gossip
# carries a record's latest state only): after the heal it must show the
# same history as c1 and c2 — every event, with its times and durations.
# A controller c4 started fresh after the moves shows it too.
# Without the rights to make namespaces, the same runs on loopback ports with
# SIGSTOP standing in for the partition, and the test says so.
. "$(dirname "$0")/../lib.sh"

TAG=$$
NETNS=1
SW="sfsw$TAG"
hosts=(c1 c2 c3 c4 ag)
declare -A IP=([c1]=10.78.0.1 [c2]=10.78.0.2 [c3]=10.78.0.3 [c4]=10.78.0.4 [ag]=10.78.0.10)

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

on() { local h=$1; shift; if [ $NETNS = 1 ]; then ip netns exec "sf$h$TAG" "$@"; else "$@"; fi; }
on_exec() { local h=$1; shift; if [ $NETNS = 1 ]; then exec ip netns exec "sf$h$TAG" "$@"; else exec "$@"; fi; }
addr() { if [ $NETNS = 1 ]; then echo "${IP[$1]}"; else echo 127.0.0.1; fi; }
declare -A PORT
for c in c1 c2 c3 c4; do
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
    --peers "$(ep "$c" p)" --http "" --seeds "$(ep c1 p),$(ep c2 p)" --gossip-ms 200 \
    --suspect-ms 5000 --down-ms 60000
}
q() { local c=$1; shift; on ag "$BIN/streamfleet" --controller "$(ep "$c" q)" --timeout-ms 2000 "$@"; }

for c in c1 c2 c3; do start_ctl $c; done
check "three controllers start and answer" wait_until 15 q c3 nodes

declare -A PUSH
for n in A B C; do
  PUSH[$n]=$(free_port)
  agent_key "$n"
  mkdir -p "$T/agent-$n"
  bg "agent_$n" on_exec ag "$BIN/streamfleet-agent" --node "$n" \
    --controllers "$(ep c1 a),$(ep c2 a)" --controller-timeout-ms 2000 \
    --cert "$T/keys/$n" --server-cert "$T/keys/controller" --state-dir "$T/agent-$n" \
    --source push --push-listen "$(addr ag):${PUSH[$n]}" --poll-interval-ms 200
done
# push NODE JSON: one line to the node's push source, answered "ok"
push() {
  on ag bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1; printf "%s\n" "$3" >&3; read -r -t 3 reply <&3; [ "$reply" = ok ]' \
    _ "$(addr ag)" "${PUSH[$1]}" "$2"
}
for n in A B C; do wait_until 10 push "$n" '{"name":"probe","status":"suspend"}'; done
active() { push "$1" "{\"name\":\"cam1\",\"status\":\"active\",\"started_at\":$(date +%s)}"; }
suspend() { push "$1" '{"name":"cam1","status":"suspend","started_at":0}'; }

check "A: cam1 active" active A
check "B: cam1 standing by" push B '{"name":"cam1","status":"suspend"}'
check "C: cam1 standing by" push C '{"name":"cam1","status":"suspend"}'
holds() { [ "$(q "$1" streams --name cam1 --limit 0 -o json | json_get "d['total']")" = 3 ]; }
all_hold() { holds c1 && holds c2 && holds c3; }
check "every controller holds cam1's three placements" wait_until 20 all_hold

# --- c3 partitioned through three moves ------------------------------------
if [ $NETNS = 1 ]; then ip -n "sfc3$TAG" link set eth0 down; else kill -STOP "$(pid_of c3)"; fi
# kinds C: the kinds of C's events, oldest first
kinds() { q "$1" migrations cam1 -o json | json_get "[e['kind'] for e in reversed(d['events'])]"; }
kinds_are() { [ "$(kinds "$1")" = "$2" ]; }
# move FROM TO KINDS: TO starts, FROM stops a second later, and c1 lists
# KINDS. started_at counts in seconds: each start is a second after the stop
# before it, so the moves do not overlap one another.
move() {
  sleep 1.1
  active "$2" || return 1
  sleep 1.1
  suspend "$1" && wait_until 10 kinds_are c1 "$3"
}
check "move 1: A -> B" move A B "['transfer_started', 'migrated']"
check "move 2: B -> C" move B C "['transfer_started', 'migrated', 'transfer_started', 'migrated']"
check "move 3: C -> A" move C A "['transfer_started', 'migrated', 'transfer_started', 'migrated', 'transfer_started', 'returned']"
want="['transfer_started', 'migrated', 'transfer_started', 'migrated', 'transfer_started', 'returned']"
check "c1 lists the three moves" wait_until 10 kinds_are c1 "$want"
check "c2 lists them too" wait_until 20 kinds_are c2 "$want"

# --- heal: c3 shows the same history -----------------------------------------
if [ $NETNS = 1 ]; then ip -n "sfc3$TAG" link set eth0 up; else kill -CONT "$(pid_of c3)"; fi
# history C: every event of the fleet with its times and duration, sorted
history() { q "$1" migrations -o json | json_get "sorted((e['kind'], e['stream'], e['uid'], e['from'], e['to'], e['at_ms'], e['duration_ms']) for e in d['events'])"; }
same_as_c1() { local a b; a=$(history c1) && b=$(history "$1") && [ -n "$a" ] && [ "$a" = "$b" ]; }
check "after the heal c3 shows the same history as c1" wait_until 30 same_as_c1 c3
check "and c2 the same as c1" same_as_c1 c2
echo "# c1: $(history c1)"
echo "# c3: $(history c3)"
check "c3's history of cam1 has all three moves" kinds_are c3 "$want"
current() { q "$1" streams show cam1 | grep -q "^Current node: A"; }
check "c3 says cam1 lives on A" wait_until 10 current c3

# --- a controller started after the moves shows them too ---------------------
start_ctl c4
check "c4, started fresh, shows the same history" wait_until 30 same_as_c1 c4
check "c4's history of cam1 has all three moves" kinds_are c4 "$want"
sf_done
