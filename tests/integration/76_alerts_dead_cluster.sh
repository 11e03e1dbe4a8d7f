#!/usr/bin/env bash
# 76_alerts_dead_cluster.sh — a dead letter is the cluster's, not a
# confirmation (issue 17, item 2). Two gossiping controllers, one camera
# alert, a receiver that refuses every POST: the owner gives up after its
# retries (a dead letter). Its standby copy on the other controller is not
# sent and not left waiting a day: it becomes a dead letter there too
# (listed on both controllers, never POSTed by the standby). Once the
# receiver is fixed, the dead letter is replayed from the controller that
# does NOT own it: that controller delivers it, under the key the owner
# tried, and the owner's dead letter goes once that delivery's confirmation
# reaches it (docs/http-api.md, "Dead letters in a cluster").
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
head -c 32 /dev/urandom | base64 >"$T/secret"
W=$(free_port)
declare -A P
for c in c1 c2; do P[$c.a]=$(free_port) P[$c.q]=$(free_port) P[$c.p]=$(free_port) P[$c.h]=$(free_port); done
ctl() {
  local c=$1
  mkdir -p "$T/$c"
  bg "$c" "$BIN/streamfleet-controller" --id "$c" --data-dir "$T/$c/data" \
    --cert "$T/keys/controller" --certs-dir "$T/allowed" \
    --agents "tcp://127.0.0.1:${P[$c.a]}" --query "tcp://127.0.0.1:${P[$c.q]}" \
    --peers "tcp://127.0.0.1:${P[$c.p]}" --http "127.0.0.1:${P[$c.h]}" \
    --seeds "tcp://127.0.0.1:${P[c1.p]},tcp://127.0.0.1:${P[c2.p]}" \
    --gossip-ms 100 --peer-probe-ms 500 --peer-suspect-ms 1500 \
    --alert "cam-offline inactive for=0s resolve=1s name=cam-*" \
    --webhook "ops http://127.0.0.1:$W/hook secret-file=$T/secret" \
    --webhook-backoff-ms 100 --webhook-backoff-max-ms 200 --webhook-retries 2
}
on() { local c=$1; shift; "$BIN/streamfleet" --controller "tcp://127.0.0.1:${P[$c.q]}" --timeout-ms 2000 "$@"; }
ctl c1; ctl c2
answer() { on c1 nodes >/dev/null && on c2 nodes >/dev/null; }
check "two controllers answer" wait_until 15 answer
receiver() {
  bg receiver "$PYTHON" "$SF_ROOT/tests/helpers/webhook_receiver.py" --port "$W" --log "$T/hooks.jsonl" \
    --secret-file "$T/secret" "$@"
  wait_until 10 grep -q listening "$T/receiver.log"
}
check "a receiver that refuses every POST (503)" receiver --fail-first 1000000
PA=$(free_port)
start_agent A "tcp://127.0.0.1:${P[c1.a]}" --source push --push-listen "127.0.0.1:$PA" --poll-interval-ms 200
check "the push endpoint answers" wait_until 10 push_ok $PA '{"reset": true}'
cam() { echo "{\"name\":\"cam-1\",\"status\":\"$1\",\"type\":\"primary\",\"bitrate_kbps\":900}"; }
check "cam-1 active on A" push_ok $PA "$(cam active)"
listed() { [ "$(on c1 streams -o json | json_get 'd["total"]')" = 1 ] && [ "$(on c2 streams -o json | json_get 'd["total"]')" = 1 ]; }
check "both controllers list cam-1" wait_until 20 listed
check "the cluster converged" on c1 cluster --wait 30
check "cam-1 goes offline (error)" push_ok $PA "$(cam error)"

metric() { curl -sf "http://127.0.0.1:${P[$1.h]}/metrics" | awk -v m="$2" '$1 == m"{webhook=\"ops\"}" {print $2}'; }
dead_total() { curl -sf "http://127.0.0.1:${P[$1.h]}/api/v1/alerts/dead-letters" | json_get 'd["total"]'; }
owner_gave_up() { for c in c1 c2; do [ "$(dead_total $c)" = 1 ] && [ "$(metric $c streamfleet_webhook_attempts_total)" -ge 3 ] && return 0; done; return 1; }
check "the owner gives up after its retries (a dead letter)" wait_until 40 owner_gave_up
if [ "$(metric c1 streamfleet_webhook_attempts_total)" -ge 3 ]; then OWNER=c1 STANDBY=c2; else OWNER=c2 STANDBY=c1; fi
echo "# owner $OWNER, standby $STANDBY"
standby_dead() { [ "$(dead_total $STANDBY)" = 1 ] && [ "$(metric $STANDBY streamfleet_webhook_queued)" = 0 ]; }
check "the standby's copy is a dead letter there too, not waiting in its queue" wait_until 20 standby_dead
standby_dead || echo "# $STANDBY: dead $(dead_total $STANDBY), queued $(metric $STANDBY streamfleet_webhook_queued)"
check "the standby never POSTed it" [ "$(metric $STANDBY streamfleet_webhook_attempts_total)" = 0 ]
idem_of() { curl -sf "http://127.0.0.1:${P[$1.h]}/api/v1/alerts/dead-letters" | json_get 'd["letters"][0]["idempotency_key"]'; }
DKEY=$(idem_of "$OWNER")
check "both list it under one idempotency key" [ "$(idem_of "$STANDBY")" = "$DKEY" ]

stop receiver
check "the receiver fixed" receiver
replay_ok() { on "$STANDBY" alerts replay cam-offline/A/cam-1 | grep -q '1 dead letter queued again'; }
check "streamfleet alerts replay on the standby queues it again" replay_ok
arrived() { [ -f "$T/hooks.jsonl" ] && grep -q '"state": "firing"' "$T/hooks.jsonl"; }
check "the replayed alert arrives" wait_until 30 arrived
check "sent by the standby, under the key the owner tried, signed" $PYTHON -c "
import json, sys
r = [json.loads(l) for l in open('$T/hooks.jsonl')]
sys.exit(0 if len(r) == 1 and r[0]['body']['controller'] == '$STANDBY' and r[0]['idempotency_key'] == '$DKEY'
         and r[0]['signature_ok'] else 1)"
owner_clear() { [ "$(dead_total $OWNER)" = 0 ] && [ "$(metric $OWNER streamfleet_webhook_dead_letters)" = 0 ]; }
check "the owner's dead letter goes once the delivery's confirmation reaches it" wait_until 30 owner_clear
check "counted (dead_letters_confirmed_total)" [ "$(metric $OWNER streamfleet_webhook_dead_letters_confirmed_total)" = 1 ]
check "the standby's is gone too (it delivered it)" [ "$(dead_total $STANDBY)" = 0 ]
sf_done
