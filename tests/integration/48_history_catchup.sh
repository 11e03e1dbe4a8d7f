#!/usr/bin/env bash
# 48_history_catchup.sh — a controller that was away derives no event from
# the records it catches up with (issue 14, docs/migrations.md "Caught up,
# not observed"). Three gossiping controllers, three push agents A, B, C on
# c1. cam1 moves A -> B while all three see it. Then c3 is stopped (SIGSTOP,
# a partition for the processes) and c2 is shut down, while cam1 moves
# B -> C and C -> A. Back, both learn only the latest records: B stopped,
# C stopped, A running — which alone tell of a move B -> A that never was
# (`returned B>A`, or a transfer and a return), and the union of histories
# would carry it to c1 too. Every controller must list exactly the six
# events of the three moves, never another (checked on every poll while the
# two catch up), and show the same types (B and C migrated, A primary).
# (The three controllers and agents: tests/lib.sh sf_trio_up, shared by 47 and 48.)
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
sf_trio_up
q() { trio_q "$@"; }
push() { trio_push "$@"; }
on()  { push "$1" "{\"name\":\"cam1\",\"status\":\"active\",\"started_at\":$2}"; }
off() { push "$1" '{"name":"cam1","status":"suspend","started_at":0}'; }
# kinds C: the events C lists, newest first, as kind:from>to (the starts are
# dated in the past, the stops are now: the stops come first)
kinds() { q "$1" migrations cam1 -o json | json_get "' '.join(e['kind'] + ':' + e['from'] + '>' + e['to'] for e in d['events'])"; }
kinds_are() { [ "$(kinds "$1")" = "$2" ]; }
# types C: each placement's node:type, by node
types() { q "$1" streams --name cam1 -o json | json_get "' '.join(sorted(s['node'] + ':' + s['type'] for s in d['streams']))"; }
holds() { [ "$(q "$1" streams --name cam1 --limit 0 -o json | json_get "d['total']")" = 3 ]; }
NOW=$(date +%s)

check "cam1 runs on A" on A $((NOW - 1000))
check "C stands by" off C
check "B stands by" off B
all_hold() { holds c1 && holds c2 && holds c3; }
check "every controller holds cam1's three placements" wait_until 20 all_hold
check "move 1: cam1 starts on B" on B $((NOW - 900))
check "A stops cam1" off A
move1="migrated:A>B transfer_started:A>B"
for c in c1 c2 c3; do check "$c lists move 1" wait_until 20 kinds_are $c "$move1"; done

# --- c3 stopped, c2 shut down, through two moves ------------------------------
kill -STOP "$(pid_of c3)"
stop c2
check "move 2: cam1 starts on C" on C $((NOW - 800))
check "B stops cam1" off B
check "c1 lists move 2" wait_until 20 kinds_are c1 "migrated:B>C migrated:A>B transfer_started:B>C transfer_started:A>B"
check "move 3: cam1 starts on A again" on A $((NOW - 700))
check "C stops cam1" off C
want="returned:C>A migrated:B>C migrated:A>B transfer_started:C>A transfer_started:B>C transfer_started:A>B"
check "c1 lists the three moves" wait_until 20 kinds_are c1 "$want"
sleep 2.5     # c3's absence outlasts 2 x --peer-probe-ms in any case
kill -CONT "$(pid_of c3)"
trio_ctl c2 .again

# While c2 and c3 catch up, no controller lists an event the moves did not have
: >"$T/violations"
caught_up() {
  local c k e ok=0
  for c in c1 c2 c3; do
    k=$(kinds $c) || { ok=1; continue; }
    for e in $k; do
      case " $want " in *" $e "*) ;; *) echo "$c listed $e (all: $k)" >>"$T/violations" ;; esac
    done
    [ "$k" = "$want" ] || ok=1
  done
  return $ok
}
check "after the absence c2 and c3 list the three moves" wait_until 30 caught_up
check "no controller ever listed an event the moves did not have" test ! -s "$T/violations"
[ -s "$T/violations" ] && sed 's/^/# /' "$T/violations" | sort -u | head -5
rounds() { for i in 1 2 3 4 5; do caught_up || return 1; sleep 0.3; done; }
check "and so over the next gossip rounds" rounds
types_want="A:primary B:migrated C:migrated"
check "c1 shows A primary, B and C migrated" wait_until 10 eval '[ "$(types c1)" = "$types_want" ]'
check "c3 the same types" wait_until 10 eval '[ "$(types c3)" = "$types_want" ]'
check "c2 the same types" wait_until 10 eval '[ "$(types c2)" = "$types_want" ]'
echo "# c1: $(kinds c1) / $(types c1)"
echo "# c3: $(kinds c3) / $(types c3)"
echo "# c2: $(kinds c2) / $(types c2)"
current() { q "$1" streams show cam1 | grep -q "^Current node: A"; }
check "c3 says cam1 lives on A" current c3
check "c2 says so too" current c2

# --- what follows the catch-up is observed -----------------------------------
check "move 4: cam1 starts on B (a node it left: a return)" on B $((NOW - 600))
check "A stops cam1" off A
want4="returned:A>B returned:C>A migrated:B>C migrated:A>B transfer_started:A>B transfer_started:C>A transfer_started:B>C transfer_started:A>B"
for c in c1 c2 c3; do check "$c lists move 4 (observed after the catch-up)" wait_until 20 kinds_are $c "$want4"; done
sf_done
