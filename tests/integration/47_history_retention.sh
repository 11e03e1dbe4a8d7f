#!/usr/bin/env bash
# 47_history_retention.sh — the history's retention holds on every controller
# and anti-entropy does not undo it (issue 14): three gossiping controllers
# with --history-per-stream 2 and --history-days 1, three push agents on c1.
#  - The window: cam2's transfer started two days ago (started_at in the
#    past): no controller keeps that event, only the migration of today.
#  - The bound: cam1 moves A -> B while all three see it; c3 is then stopped
#    (SIGSTOP stands in for a partition) while cam1 moves B -> C and back
#    C -> B. c1 and c2 keep only the newest two events of cam1 (by time:
#    the starts are dated in the past, so the two stops). After c3 comes
#    back it offers the first move's events, which c1 and c2 pruned: they
#    must never list them again (checked on every poll while c3 catches
#    up), and c3 must end with the same two events as they do. (The moves
#    end where c3 last saw cam1, on B, so c3 derives nothing of its own from
#    the records it catches up with: what it shows comes from the history.)
# (The three controllers and agents: tests/lib.sh sf_trio_up, shared by 47 and 48.)
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
sf_trio_up --history-days 1 --history-per-stream 2
q() { trio_q "$@"; }
push() { trio_push "$@"; }
on()  { push "$1" "{\"name\":\"$2\",\"status\":\"active\",\"started_at\":$3}"; }
off() { push "$1" "{\"name\":\"$2\",\"status\":\"suspend\",\"started_at\":0}"; }
# hist C [STREAM]: the events (kind from to at_ms) C lists, newest first
hist() { q "$1" migrations ${2:-} -o json | json_get "[(e['kind'], e['from'], e['to'], e['at_ms']) for e in d['events']]"; }
kinds() { q "$1" migrations ${2:-} -o json | json_get "' '.join(e['kind'] + ':' + e['from'] + '>' + e['to'] for e in d['events'])"; }
kinds_are() { [ "$(kinds "$1" "$2")" = "$3" ]; }
placed() { [ "$(q c1 streams --name "$1" --node "$2" --limit 0 -o json | json_get "d['total']")" = 1 ]; }
NOW=$(date +%s)

# --- the window -----------------------------------------------------------------
check "cam2 has run on A for three days" on A cam2 $((NOW - 3 * 86400))
check "A's placement is listed" wait_until 10 placed cam2 A
check "cam2 started on B two days ago" on B cam2 $((NOW - 2 * 86400))
check "B's placement is listed" wait_until 10 placed cam2 B
check "A stops cam2" off A cam2
for c in c1 c2 c3; do
  check "$c keeps cam2's migration, not its transfer_started of two days ago" \
    wait_until 20 kinds_are $c cam2 "migrated:A>B"
done

# --- the bound ------------------------------------------------------------------
check "cam1 runs on A" on A cam1 $((NOW - 1000))
check "A's placement of cam1 is listed" wait_until 10 placed cam1 A
check "cam1 starts on B" on B cam1 $((NOW - 900))
check "A stops cam1" off A cam1
for c in c1 c2 c3; do
  check "$c lists move 1" wait_until 20 kinds_are $c cam1 "migrated:A>B transfer_started:A>B"
done
kill -STOP "$(pid_of c3)"
check "move 2: cam1 starts on C" on C cam1 $((NOW - 800))
check "B stops cam1" off B cam1
check "c1 keeps only the newest two events of cam1 (the bound)" \
  wait_until 20 kinds_are c1 cam1 "migrated:B>C migrated:A>B"
check "move 3: cam1 starts on B again" on B cam1 $((NOW - 700))
check "C stops cam1" off C cam1
want="returned:C>B migrated:B>C"
check "c1 keeps only the newest two" wait_until 20 kinds_are c1 cam1 "$want"
check "c2 too" wait_until 20 kinds_are c2 cam1 "$want"
kill -CONT "$(pid_of c3)"

# While c3 catches up, it offers move 1's events: c1 and c2 never list them
: >"$T/violations"
caught_up() {
  local k
  for c in c1 c2; do
    k=$(kinds $c cam1) || return 1
    [ "$k" = "$want" ] || echo "$c listed: $k" >>"$T/violations"
  done
  kinds_are c3 cam1 "$want"
}
check "after the partition c3 lists the same two events" wait_until 30 caught_up
check "c1 and c2 never listed a pruned event while c3 offered them" test ! -s "$T/violations"
[ -s "$T/violations" ] && sed 's/^/# /' "$T/violations" | head -5
same() { local a b; a=$(hist c1) && b=$(hist "$1") && [ -n "$a" ] && [ "$a" = "$b" ]; }
check "c3's whole history is c1's (times included)" same c3
check "c2's whole history is c1's" same c2
# A few more gossip rounds (every 100 ms): still gone everywhere
rounds() { for i in 1 2 3 4 5; do kinds_are c1 cam1 "$want" && kinds_are c3 cam1 "$want" || return 1; sleep 0.3; done; }
check "and stays so over the next gossip rounds" rounds
echo "# c1: $(hist c1)"
sf_done
