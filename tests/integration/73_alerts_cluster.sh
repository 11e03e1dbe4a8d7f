#!/usr/bin/env bash
# 73_alerts_cluster.sh — alerts delivered once for the cluster (issue 17):
# three gossiping controllers judge the same rules from the same replicated
# records, each alert key is delivered by its owner (rendezvous hashing over
# the live members), and the others keep standby copies until the owner
# confirms the delivery (gossip). The firing state is replicated: a fourth
# controller started after the alerts fired shows every alert with the same
# since as the others (`streamfleet alerts firing -o json` agrees on all).
# While the receiver is down for longer than the old standby expiry (the
# deprecated --webhook-standby-ms, shortened to 2 s here: before, the standby
# copies went after it), c3 is killed; once it is dead its keys belong to the
# others, and when the receiver comes back every alert arrives, each
# transition under one idempotency key (every controller computed the same),
# at least once; the raw deliveries and the duplicates are reported.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
head -c 32 /dev/urandom | base64 >"$T/secret"
W=$(free_port)
declare -A P
for c in c1 c2 c3 c4; do P[$c.a]=$(free_port) P[$c.q]=$(free_port) P[$c.p]=$(free_port) P[$c.h]=$(free_port); done
ctl() {
  local c=$1
  mkdir -p "$T/$c"
  bg "$c" "$BIN/streamfleet-controller" --id "$c" --data-dir "$T/$c/data" \
    --cert "$T/keys/controller" --certs-dir "$T/allowed" \
    --agents "tcp://127.0.0.1:${P[$c.a]}" --query "tcp://127.0.0.1:${P[$c.q]}" \
    --peers "tcp://127.0.0.1:${P[$c.p]}" --http "127.0.0.1:${P[$c.h]}" \
    --seeds "tcp://127.0.0.1:${P[c1.p]},tcp://127.0.0.1:${P[c2.p]},tcp://127.0.0.1:${P[c3.p]}" \
    --gossip-ms 100 --peer-probe-ms 500 --peer-suspect-ms 1500 \
    --alert "cam-offline inactive for=1s resolve=1s name=cam-*" \
    --webhook "ops http://127.0.0.1:$W/hook secret-file=$T/secret" \
    --webhook-backoff-ms 200 --webhook-backoff-max-ms 500 --webhook-retries 1000 --webhook-standby-ms 2000
}
on() { local c=$1; shift; "$BIN/streamfleet" --controller "tcp://127.0.0.1:${P[$c.q]}" --timeout-ms 2000 "$@"; }
ctl c1; ctl c2; ctl c3
answer() { on c1 nodes && on c2 nodes && on c3 nodes; }
check "three controllers answer" wait_until 15 answer
PA=$(free_port)
start_agent A "tcp://127.0.0.1:${P[c1.a]}" --source push --push-listen "127.0.0.1:$PA" --poll-interval-ms 200
check "the push endpoint answers" wait_until 10 push_ok $PA '{"reset": true}'
CAMS=$(seq -f 'cam-%02g' 1 12)
lines() { for n in $CAMS; do echo "{\"name\":\"$n\",\"status\":\"$1\",\"type\":\"primary\",\"bitrate_kbps\":900}"; done; }
mapfile -t ACTIVE < <(lines active)
check "twelve cameras on A" push_ok $PA "${ACTIVE[@]}"
seen_all() { for c in c1 c2 c3; do [ "$(on $c streams -o json --limit 0 | json_get 'd["total"]')" = 12 ] || return 1; done; }
check "every controller lists the twelve" wait_until 20 seen_all
check "the cluster converged" on c1 cluster --wait 30

# The receiver is down: every owner's deliveries are retried
mapfile -t ERRORS < <(lines error)
check "the twelve go offline (error)" push_ok $PA "${ERRORS[@]}"
firing_on() { [ "$(curl -sf "http://127.0.0.1:${P[$1.h]}/api/v1/alerts" | json_get 'len(d["firing"])')" = 12 ]; }
for c in c1 c2 c3; do check "$c: twelve alerts firing" wait_until 30 firing_on $c; done

# A controller that starts after the alerts fired shows them with the same
# since (one since per alert, cluster-wide), through the CLI's -o json
ctl c4
check "c4 (started after the alerts fired) answers" wait_until 15 on c4 nodes
check "c4: twelve alerts firing" wait_until 30 firing_on c4
firing_json() { on "$1" alerts firing -o json | json_get 'sorted((a["key"], a["since_ms"]) for a in d["firing"])'; }
agree() {
  local ref; ref=$(firing_json c1) || return 1
  [ "$(echo "$ref" | grep -o "cam-offline" | wc -l)" = 12 ] || return 1
  for c in c2 c3 c4; do [ "$(firing_json $c)" = "$ref" ] || return 1; done
}
check "alerts firing -o json: every key with one since on c1, c2, c3 and the late c4" wait_until 20 agree
agree || { for c in c1 c2 c3 c4; do echo "# $c: $(firing_json $c | cut -c 1-300)"; done; }

failed() { curl -sf "http://127.0.0.1:${P[$1.h]}/metrics" | awk '/^streamfleet_webhook_failed_total\{webhook="ops"\}/ {print $2}'; }
retrying() { [ "$(failed c3)" -ge 1 ]; }
check "c3 is retrying the deliveries it owns (the receiver is down)" wait_until 30 retrying
# Longer than the old standby expiry (2 s here): the standby copies must
# stay, since no owner confirmed them
metric() { curl -sf "http://127.0.0.1:${P[$1.h]}/metrics" | awk -v m="$2" '$1 == m"{webhook=\"ops\"}" {print $2}'; }
sleep 3
check "no standby copy dropped unconfirmed (c1, c2)" bash -c "[ '$(metric c1 streamfleet_webhook_standby_dropped_total)' = 0 ] && [ '$(metric c2 streamfleet_webhook_standby_dropped_total)' = 0 ]"
check "the deprecated --webhook-standby-ms is said to be ignored" grep -q "webhook-standby-ms is deprecated and ignored" "$T/c1.log"
stop c3 KILL
c3_dead() { on c1 cluster -o json | json_get '[m["state"] for m in d["members"] if m["id"] == "c3"][0]' | grep -qx dead; }
check "c1 declares c3 dead" wait_until 30 c3_dead
bg receiver "$PYTHON" "$SF_ROOT/tests/helpers/webhook_receiver.py" --port "$W" --log "$T/hooks.jsonl" --secret-file "$T/secret"
check "the receiver comes up" wait_until 10 grep -q listening "$T/receiver.log"
arrived_all() {
  [ -f "$T/hooks.jsonl" ] && [ "$($PYTHON -c "import json,sys; print(len({json.loads(l)['key'] for l in open(sys.argv[1]) if json.loads(l)['state'] == 'firing'}))" "$T/hooks.jsonl")" = 12 ]
}
check "every one of the twelve alerts arrives" wait_until 60 arrived_all
delivered() { curl -sf "http://127.0.0.1:${P[$1.h]}/metrics" | awk '/^streamfleet_webhook_delivered_total\{webhook="ops"\}/ {print $2}'; }
both_delivered() { [ $(( $(delivered c1) + $(delivered c2) + $(delivered c4) )) -ge 12 ]; }
check "the survivors count the deliveries answered (delivered_total)" wait_until 30 both_delivered
# Every standby copy goes once its owner confirms it (or its holder sent it)
queues_empty() { for c in c1 c2 c4; do [ "$(metric $c streamfleet_webhook_queued)" = 0 ] || return 1; done; }
check "every survivor's queue empties: standby copies dropped on the owners' confirmations" wait_until 60 queues_empty
queues_empty || for c in c1 c2 c4; do echo "# $c: queued $(metric $c streamfleet_webhook_queued), confirmed $(metric $c streamfleet_webhook_standby_confirmed_total), delivered $(metric $c streamfleet_webhook_delivered_total)"; done
confirmed=0
for c in c1 c2 c4; do v=$(metric $c streamfleet_webhook_standby_confirmed_total); confirmed=$(( confirmed + ${v:-0} )); done
check "standby copies were dropped on confirmation ($confirmed)" [ "$confirmed" -ge 1 ]
$PYTHON - "$T/hooks.jsonl" >"$T/summary" <<'PY'
import json, sys, collections
rs = [json.loads(l) for l in open(sys.argv[1])]
firing = [r for r in rs if r["state"] == "firing"]
by_key = collections.defaultdict(set)
for r in firing:
    by_key[r["key"]].add(r["idempotency_key"])
print("raw", len(firing))
print("duplicates", len(firing) - len({r["idempotency_key"] for r in firing}))
print("keys", len(by_key))
print("one_idem_per_key", all(len(v) == 1 for v in by_key.values()))
print("distinct_idem", len({r["idempotency_key"] for r in firing}))
print("signed", all(r["signature_ok"] for r in rs))
print("controllers", ",".join(sorted({r["body"]["controller"] for r in firing})))
PY
echo "# $(tr '\n' ' ' <"$T/summary")"
field() { awk -v k="$1" '$1 == k {print $2}' "$T/summary"; }
check "twelve alert keys arrived" [ "$(field keys)" = 12 ]
check "each alert's transition carried one idempotency key, whichever controller sent it" [ "$(field one_idem_per_key)" = True ]
check "after de-duplication by idempotency key: exactly twelve deliveries" [ "$(field distinct_idem)" = 12 ]
check "every delivery signed correctly" [ "$(field signed)" = True ]
check "raw deliveries are not one per controller per alert (owners deliver, not everyone)" [ "$(field raw)" -lt 24 ]
echo "# raw deliveries $(field raw), duplicates after de-duplication by idempotency key $(field duplicates) (at-least-once)"
check "c3's alerts were delivered by the survivors (no c3 in the senders)" bash -c "! grep -q c3 <<<'$(field controllers)'"
sf_done
