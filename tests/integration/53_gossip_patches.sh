#!/usr/bin/env bash
# 53_gossip_patches.sh — gossip carries patches (issue 11; docs/protocol.md
# §6.3a). Three gossiping controllers: c1 and c2 take patches, c3 stands for
# an older peer (--gossip-patches=false). Agent n1 (simulated, clients and
# bitrate changing) talks to c1, agent n2 to c3. While they change:
# c1 sends patches and c2 applies them; c3 never gets or sends one (its
# exchanges do not say `patch`), and n2's records reach c1 and c2 whole.
# Once the agents stop, every controller shows the same state digest and
# the same clients, bitrate and version for every placement, and the same
# stored record (the detail of a sample of placements). Before, deltas
# carried whole records only: no patch was counted (and the flag did not
# exist).
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
declare -A P
for c in c1 c2 c3; do P[$c.a]=$(free_port) P[$c.q]=$(free_port) P[$c.p]=$(free_port) P[$c.h]=$(free_port); done
SEEDS="tcp://127.0.0.1:${P[c1.p]},tcp://127.0.0.1:${P[c2.p]},tcp://127.0.0.1:${P[c3.p]}"
ctl() {
  local c=$1; shift
  mkdir -p "$T/$c"
  bg "$c" "$BIN/streamfleet-controller" --id "$c" --data-dir "$T/$c/data" \
    --cert "$T/keys/controller" --certs-dir "$T/allowed" \
    --agents "tcp://127.0.0.1:${P[$c.a]}" --query "tcp://127.0.0.1:${P[$c.q]}" \
    --peers "tcp://127.0.0.1:${P[$c.p]}" --http "127.0.0.1:${P[$c.h]}" --seeds "$SEEDS" \
    --gossip-ms 100 --suspect-ms 30000 --down-ms 60000 "$@"
}
on() { local c=$1; shift; "$BIN/streamfleet" --controller "tcp://127.0.0.1:${P[$c.q]}" --timeout-ms 3000 "$@"; }
ctl c1; ctl c2; ctl c3 --gossip-patches=false
answer() { on c1 nodes && on c2 nodes && on c3 nodes; }
check "three controllers answer" wait_until 15 answer

N=300
SIM=(--source simulate --sim-streams "$N" --sim-churn-pct 0 --sim-update-pct 20 --poll-interval-ms 250)
start_agent n1 "tcp://127.0.0.1:${P[c1.a]}" "${SIM[@]}" --sim-seed 1
start_agent n2 "tcp://127.0.0.1:${P[c3.a]}" "${SIM[@]}" --sim-seed 2
total() { on "$1" streams --limit 0 -o json | json_get 'd["total"]'; }
all_hold() { local c; for c in c1 c2 c3; do [ "$(total $c)" = $((2 * N)) ] || return 1; done; }
check "every controller holds both nodes' $((2 * N)) placements" wait_until 30 all_hold

# metric C NAME{LABELS}: its value on controller C's /metrics (0 if absent)
metric() {
  curl -s "http://127.0.0.1:${P[$1.h]}/metrics" |
    awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }'
}
OUT='streamfleet_gossip_patches_total{direction="out"}'
IN='streamfleet_gossip_patches_total{direction="in"}'
patches_flow() { [ "$(metric c1 "$OUT")" -gt 50 ] && [ "$(metric c2 "$IN")" -gt 50 ]; }
check "c1 sends patches of n1's changes and c2 applies them" wait_until 30 patches_flow
check "c3 (no patches) applies none" test "$(metric c3 "$IN")" = 0
check "c3 sends none" test "$(metric c3 "$OUT")" = 0
# It still gets every change: as whole records
check "c3 takes replicated records whole" test "$(metric c3 streamfleet_gossip_records_total)" -gt $((N + 50))

# Stop the changes; then everyone converges to one state. A member's
# state digest is refreshed about once a second (docs/protocol.md §6.6), so
# three equal digests can all be a second old while the last changes are
# still on their way: convergence is read off the listings themselves,
# clients, bitrate and version per placement, until they agree.
stop agent_n1; stop agent_n2
digest() { on "$1" cluster -o json | json_get '[m["state_digest"] for m in d["members"] if m["self"]][0]'; }
same() { local a b c; a=$(digest c1) b=$(digest c2) c=$(digest c3); [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ]; }
check "one state digest on all three" wait_until 30 same
# clients, bitrate and version of every placement, per controller
values() {
  on "$1" streams --limit 10000 -o json | json_get '"\n".join(sorted("%s/%s %s %s %s/%s" % (s["node"], s["name"], s["clients"], s["bitrate_kbps"], s["version"]["gen"], s["version"]["seq"]) for s in d["streams"]))'
}
values_agree() {
  local c
  for c in c1 c2 c3; do values $c > "$T/values.$c" || return 1; done
  cmp -s "$T/values.c1" "$T/values.c2" && cmp -s "$T/values.c1" "$T/values.c3"
}
wait_until 30 values_agree
check "c1 lists $((2 * N)) placements with values" test "$(wc -l < "$T/values.c1")" = $((2 * N))
check "c2 shows the same clients, bitrate and version per placement as c1" cmp -s "$T/values.c1" "$T/values.c2"
check "c3 shows the same clients, bitrate and version per placement as c1" cmp -s "$T/values.c1" "$T/values.c3"
check "the three show one state digest again" wait_until 10 same
# The whole record of a few placements (detail: every stored field; uptime
# is counted from each answer's own clock, so it is left out)
detail_of() {
  on "$1" streams show "$2" -o json |
    json_get 'json.dumps([{k: v for k, v in p.items() if k != "uptime_s"} for p in d["placements"]], sort_keys=True)'
}
detail_same() {
  local a b c
  a=$(detail_of c1 "$1") b=$(detail_of c2 "$1") c=$(detail_of c3 "$1")
  [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ]
}
names=$(on c1 streams --limit 10000 -o json | json_get '" ".join(sorted(s["name"] for s in d["streams"] if s["node"] == "n1")[:3] + sorted(s["name"] for s in d["streams"] if s["node"] == "n2")[:3])')
for name in $names; do
  check "detail of $name is the same on all three" detail_same "$name"
done
sf_done
