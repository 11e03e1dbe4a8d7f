#!/usr/bin/env bash
# 43_migration_cluster.sh — every controller derives the same migration
# events from the same replicated records (docs/migrations.md,
# "Determinism"), even when they learn them in another order. Two gossiping
# controllers; node A's agent talks to c1, node B's to c2. While c2 is down,
# cam1 moves from A to B with overlap: c1 learns A's stop first (B's start is
# still buffered in B's agent), c2 learns A's stop by gossip and B's start
# from B's agent after its restart. Both must list the same events, with the
# same times and durations; a second stream's stuck transfer shows on both.
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
declare -A P
for c in c1 c2; do P[$c.a]=$(free_port) P[$c.q]=$(free_port) P[$c.p]=$(free_port); done
ctl() {
  local c=$1
  mkdir -p "$T/$c"
  bg "$c" "$BIN/streamfleet-controller" --id "$c" --data-dir "$T/$c/data" \
    --cert "$T/keys/controller" --certs-dir "$T/allowed" \
    --agents "tcp://127.0.0.1:${P[$c.a]}" --query "tcp://127.0.0.1:${P[$c.q]}" \
    --peers "tcp://127.0.0.1:${P[$c.p]}" --http "" \
    --seeds "tcp://127.0.0.1:${P[c1.p]},tcp://127.0.0.1:${P[c2.p]}" --gossip-ms 100 \
    --suspect-ms 3000 --down-ms 20000 --transfer-timeout 3
}
on() { local c=$1; shift; "$BIN/streamfleet" --controller "tcp://127.0.0.1:${P[$c.q]}" --timeout-ms 2000 "$@"; }
ctl c1; ctl c2
answer() { on c1 nodes >/dev/null && on c2 nodes >/dev/null; }
check "both controllers answer" wait_until 10 answer
PA=$(free_port); PB=$(free_port)
start_agent A "tcp://127.0.0.1:${P[c1.a]}" --source push --push-listen "127.0.0.1:$PA" --poll-interval-ms 200
start_agent B "tcp://127.0.0.1:${P[c2.a]}" --source push --push-listen "127.0.0.1:$PB" --poll-interval-ms 200 \
  --controller-timeout-ms 60000
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_until 10 listening $PA; wait_until 10 listening $PB
push() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf '%s\n' "$2" >&3
  read -r -t 3 reply <&3
  exec 3>&-
  [ "$reply" = ok ]
}
# placements C N: how many placements controller C holds
placements() { [ "$(on "$1" streams --limit 0 -o json | json_get "d['total']")" = "$2" ]; }

check "A: cam1 active" push $PA "{\"name\":\"cam1\",\"status\":\"active\",\"started_at\":$(date +%s)}"
check "B: cam1 standing by (suspend)" push $PB '{"name":"cam1","status":"suspend"}'
both_hold() { [ "$(on c1 streams --limit 0 -o json | json_get "d['total']")" = 2 ] && [ "$(on c2 streams --limit 0 -o json | json_get "d['total']")" = 2 ]; }
check "both controllers hold both placements (gossip)" wait_until 15 both_hold

# --- c2 goes down; the move happens; c1 sees A's stop before B's start
stop c2 KILL
check "B: cam1 active (buffered in B's agent)" push $PB "{\"name\":\"cam1\",\"status\":\"active\",\"started_at\":$(date +%s)}"
sleep 1.5
check "A: cam1 stops" push $PA '{"name":"cam1","status":"suspend","started_at":0}'
check "A: cam2 active" push $PA "{\"name\":\"cam2\",\"status\":\"active\",\"started_at\":$(date +%s)}"
sleep 1
no_move_yet() { [ "$(on c1 migrations -o json | json_get "d['total']")" = 0 ]; }
check "c1 has seen no move yet (B's start is not there)" no_move_yet
check "B: cam2 active too (a transfer that will not complete)" push $PB "{\"name\":\"cam2\",\"status\":\"active\",\"started_at\":$(date +%s)}"
ctl c2

# --- both converge on the same events
events() { on "$1" migrations -o json | json_get "sorted((e['kind'], e['stream'], e['from'] or '', e['to'] or '', e['at_ms'], e['duration_ms'] or 0) for e in d['events'])"; }
kinds() { on "$1" migrations -o json | json_get "sorted(e['kind'] for e in d['events'])"; }
want="['migrated', 'transfer_started', 'transfer_started', 'transfer_stuck']"
kinds_is() { [ "$(kinds "$1")" = "$want" ]; }
check "c1 derives transfer, migration and the stuck transfer" wait_until 20 kinds_is c1
check "c2 derives the same kinds" wait_until 20 kinds_is c2
e1=$(events c1); e2=$(events c2)
echo "# c1: $e1"
echo "# c2: $e2"
if [ -n "$e1" ] && [ "$e1" = "$e2" ]; then ok "the same events, times and durations on both controllers"; else not_ok "the same events, times and durations on both controllers"; fi
check "migrated carries the overlap (1-4 s)" bash -c "$PYTHON -c \"
import sys; e=$e1; m=[x for x in e if x[0]=='migrated']; sys.exit(0 if len(m)==1 and m[0][2:4]==('A','B') and 1000 <= m[0][5] <= 4000 else 1)\""
row_on() { [ "$(on "$1" streams --node A --name cam1 -o json | json_get "[(s['type'], s['migrated_to']) for s in d['streams'] if s['name']=='cam1']")" = "[('migrated', 'B')]" ]; }
check "A's placement is migrated to B on c1" row_on c1
check "A's placement is migrated to B on c2" row_on c2
sf_done
