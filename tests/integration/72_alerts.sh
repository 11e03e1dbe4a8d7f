#!/usr/bin/env bash
# 72_alerts.sh — alert rules and webhooks (issue 17) with a real receiver on
# loopback (tests/helpers/webhook_receiver.py checks every signature): a
# camera offline for less than the hold fires nothing, one offline for longer
# fires once and resolves once; a receiver that is down gets the alert after it
# comes back (retries), signed; a delivery queued when the controller restarts
# is sent after the restart (the LMDB queue); a killed node is one grouped
# alert with its stream count, not one per stream; a delivery its receiver keeps
# refusing becomes a dead letter, listed (streamfleet alerts dead-letters, GET
# /api/v1/alerts/dead-letters) and, once the receiver is fixed, replayed
# (streamfleet alerts replay KEY) and delivered signed; beyond
# --webhook-dead-letters-max the oldest goes, counted.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
head -c 32 /dev/urandom | base64 >"$T/secret"
W=$(free_port)
start_receiver() {
  bg receiver "$PYTHON" "$SF_ROOT/tests/helpers/webhook_receiver.py" --port "$W" --log "$T/hooks.jsonl" \
    --secret-file "$T/secret" "$@"
  wait_until 10 grep -q listening "$T/receiver.log"
}
check "the webhook receiver listens on loopback" start_receiver
CTL_ARGS=(--suspect-ms 1000 --down-ms 3000
  --alert "cam-offline inactive for=4s resolve=2s filter=primary name=cam-*"
  --alert "recorder-down node-down for=1s resolve=1s"
  --webhook "ops http://127.0.0.1:$W/hook secret-file=$T/secret"
  --webhook-backoff-ms 200 --webhook-backoff-max-ms 800 --webhook-dead-letters-max 1)
start_controller c1 "${CTL_ARGS[@]}" || { not_ok "controller starts"; exit 1; }
H="http://$CTL_c1_HTTP"
PA=$(free_port); PB=$(free_port)
start_agent A "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PA" --poll-interval-ms 200
start_agent B "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PB" --poll-interval-ms 200
check "push endpoints answer" wait_until 10 bash -c "push_ok $PA '{\"reset\": true}' && push_ok $PB '{\"reset\": true}'"
cam() { echo "{\"name\":\"$1\",\"status\":\"$2\",\"type\":\"primary\",\"bitrate_kbps\":900}"; }
check "cam-1, cam-2 on A and three cameras on B" bash -c "push_ok $PA '$(cam cam-1 active)' '$(cam cam-2 active)' &&
  push_ok $PB '$(cam cam-b1 active)' '$(cam cam-b2 active)' '$(cam cam-b3 active)'"
check "all five listed" wait_until 10 total_is 5

# deliveries KEY STATE: how many deliveries the receiver logged for KEY in STATE
deliveries() {
  [ -f "$T/hooks.jsonl" ] || { echo 0; return; }
  $PYTHON -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) if (lambda r: r['key'] == sys.argv[2] and r['state'] == sys.argv[3])(json.loads(l))))" \
    "$T/hooks.jsonl" "$1" "$2"
}
arrived() { [ "$(deliveries "$1" "$2")" -ge 1 ]; }
export -f deliveries arrived

# A blip shorter than the hold, then cam-2 offline for longer: when cam-2's
# alert arrives, the blip's hold (begun earlier) has long passed
check "cam-1 blips: error (seen by the controller)" push_ok $PA "$(cam cam-1 error)"
check "the controller saw cam-1 in error" wait_until 10 bash -c "[ \"\$(row_field cam-1 'r[\"status\"]')\" = error ]"
check "cam-1 active again at once" push_ok $PA "$(cam cam-1 active)"
check "cam-1 is active again" wait_until 10 bash -c "[ \"\$(row_field cam-1 'r[\"status\"]')\" = active ]"
check "cam-2 goes offline (error) and stays" push_ok $PA "$(cam cam-2 error)"
check "cam-2's alert arrives after its hold" wait_until 40 arrived cam-offline/A/cam-2 firing
check "the blip on cam-1 fired nothing" bash -c "[ \$(deliveries cam-offline/A/cam-1 firing) = 0 ]"
check "the alert is listed as firing (GET /api/v1/alerts)" bash -c \
  "curl -sf $H/api/v1/alerts | json_get '[a[\"key\"] for a in d[\"firing\"]]' | grep -q cam-offline/A/cam-2"
check "streamfleet alerts shows it firing" bash -c "cli alerts firing | grep -q 'cam-offline.*cam-2'"
check "cam-2 comes back" push_ok $PA "$(cam cam-2 active)"
check "cam-2's resolution arrives after its resolve hold" wait_until 30 arrived cam-offline/A/cam-2 resolved
check "exactly one firing and one resolution for cam-2" bash -c \
  "[ \$(deliveries cam-offline/A/cam-2 firing) = 1 ] && [ \$(deliveries cam-offline/A/cam-2 resolved) = 1 ]"
check "every delivery so far is signed correctly and carries its idempotency key" $PYTHON -c "
import json, sys
rs = [json.loads(l) for l in open('$T/hooks.jsonl')]
sys.exit(0 if rs and all(r['signature_ok'] and r['body_key_matches'] for r in rs) else 1)"
check "the payload carries stream, node, reason, since and a web link" $PYTHON -c "
import json, sys
b = [json.loads(l)['body'] for l in open('$T/hooks.jsonl')][0]
sys.exit(0 if b['stream'] == 'cam-2' and b['node'] == 'A' and 'error' in b['reason'] and b['since_ms'] > 0
         and b['rule'] == 'cam-offline' and b['condition'] == 'inactive' and 'name=cam-2' in b['links']['web'] else 1)"

# The receiver down: retried until it is back
stop receiver
check "cam-1 goes offline while the receiver is down" push_ok $PA "$(cam cam-1 error)"
failed_attempts() { curl -sf "$H/metrics" | awk '/^streamfleet_webhook_failed_total\{webhook="ops"\}/ {print $2}'; }
check "the controller retries (failed attempts counted in /metrics)" wait_until 40 bash -c "[ \"\$(curl -sf $H/metrics | awk '/^streamfleet_webhook_failed_total\{webhook=\"ops\"\}/ {print \$2}')\" -ge 2 ]"
check "the receiver comes back" start_receiver
check "cam-1's alert arrives after the receiver is back" wait_until 30 arrived cam-offline/A/cam-1 firing
check "it arrived signed, on a retry (attempt > 1)" $PYTHON -c "
import json, sys
r = [json.loads(l) for l in open('$T/hooks.jsonl') if json.loads(l)['key'] == 'cam-offline/A/cam-1'][0]
sys.exit(0 if r['signature_ok'] and int(r['attempt']) > 1 else 1)"

# Queued across a restart of the controller
stop receiver
check "cam-1 comes back while the receiver is down" push_ok $PA "$(cam cam-1 active)"
queued() { [ "$(curl -sf "$H/metrics" | awk '/^streamfleet_webhook_queued\{webhook="ops"\}/ {print $2}')" -ge 1 ]; }
export -f queued; export H
check "its resolution waits in the queue" wait_until 30 queued
stop c1
restart_controller c1 "${CTL_ARGS[@]}" || not_ok "controller restarts"
check "the restarted controller reports the pending delivery" wait_until 10 grep -q "deliveries pending from before the restart" "$T/c1.log"
check "the receiver comes back" start_receiver
check "the resolution queued before the restart arrives" wait_until 30 arrived cam-offline/A/cam-1 resolved

# What fires survives a restart (the alert episodes in the store): cam-2
# fires, the controller stops, cam-2 recovers meanwhile; after the restart
# its resolution is sent, and it does not fire again
check "cam-2 goes offline again" push_ok $PA "$(cam cam-2 error)"
fired_twice() { [ "$(deliveries cam-offline/A/cam-2 firing)" -ge 2 ]; }
export -f fired_twice
check "its second alert arrives" wait_until 40 fired_twice
check "what fires is kept in the store, not in a file of its own" bash -c "[ ! -e '$T/c1/data/alerts-firing.json' ]"
stop c1
# A file an older version left (a second source of truth): removed, not read
echo '[{"key":"cam-offline/A/cam-9","rule":"cam-offline","node":"A","stream":"cam-9","basis":"v1.1","reason":"x","since_ms":1,"streams":1}]' \
  >"$T/c1/data/alerts-firing.json"
check "cam-2 recovers while the controller is down" push_ok $PA "$(cam cam-2 active)"
# From here on a delivery is given up after 3 retries (the dead letters below
# come after 4 attempts, not the default 13)
CTL_ARGS+=(--webhook-retries 3)
restart_controller c1 "${CTL_ARGS[@]}" || not_ok "controller restarts again"
check "the restarted controller carries the firing alert over" wait_until 10 grep -q "firing before the restart" "$T/c1.log"
resolved_twice() { [ "$(deliveries cam-offline/A/cam-2 resolved)" -ge 2 ]; }
export -f resolved_twice
check "cam-2's resolution arrives after the restart" wait_until 40 resolved_twice
check "and cam-2 did not fire a third time" bash -c "[ \$(deliveries cam-offline/A/cam-2 firing) = 2 ]"
check "the older version's file was removed, and not read" bash -c "[ ! -e '$T/c1/data/alerts-firing.json' ] &&
  ! curl -sf $H/api/v1/alerts | grep -q cam-9 && grep -q 'removed .*alerts-firing.json' '$T/c1.log'"

# A node killed: one alert for the node, with its stream count
check "B's cameras are listed" wait_until 10 total_is 3 --node B
stop agent_B KILL
check "one recorder-down alert for B arrives" wait_until 40 arrived recorder-down/B firing
check "it counts B's three streams" $PYTHON -c "
import json, sys
r = [json.loads(l) for l in open('$T/hooks.jsonl') if json.loads(l)['key'] == 'recorder-down/B'][0]
sys.exit(0 if r['body']['streams'] == 3 and r['body']['stream'] is None else 1)"
check "none of B's cameras fired on its own" bash -c "! grep -q 'cam-offline/B/' '$T/hooks.jsonl'"
check "B down fired exactly one alert" bash -c "[ \$(deliveries recorder-down/B firing) = 1 ]"
check "/metrics: a firing gauge per rule, no per-stream labels" bash -c \
  "curl -sf $H/metrics | grep -q '^streamfleet_alerts_firing{rule=\"recorder-down\",condition=\"node-down\"} 1' &&
   ! curl -sf $H/metrics | grep '^streamfleet_alerts_firing' | grep -q stream="
check "/metrics: no dead letters" bash -c "curl -sf $H/metrics | grep -q '^streamfleet_webhook_dead_letters{webhook=\"ops\"} 0'"

# Dead letters: the receiver up but refusing (503) every POST
metric() { curl -sf "$H/metrics" | awk -v m="$1" '$1 == m"{webhook=\"ops\"}" {print $2}'; }
stop receiver
check "a receiver that answers 503 to everything" start_receiver --fail-first 1000000
check "cam-1 and cam-2 go offline" push_ok $PA "$(cam cam-1 error)" "$(cam cam-2 error)"
dead_is() { [ "$(metric streamfleet_webhook_dead_letters)" = "$1" ]; }
dropped_is() { [ "$(metric streamfleet_webhook_dead_letters_dropped_total)" = "$1" ]; }
check "after every retry both are dead letters; the bound (1) drops the oldest, counted" \
  wait_until 90 dropped_is 1
check "one dead letter kept" dead_is 1
check "the controller logged it" grep -q "a dead letter" "$T/c1.log"
cli alerts dead-letters -o json >"$T/dead.json"
check "streamfleet alerts dead-letters lists it with its key and attempts" $PYTHON -c "
import json, sys
d = json.load(open('$T/dead.json'))
l = d['letters']
sys.exit(0 if d['total'] == 1 and len(l) == 1 and l[0]['webhook'] == 'ops' and l[0]['attempts'] == 4
         and l[0]['key'].startswith('cam-offline/A/cam-') and len(l[0]['idempotency_key']) == 32
         and json.loads(l[0]['body'])['idempotency_key'] == l[0]['idempotency_key'] else 1)"
DKEY=$(json_get 'd["letters"][0]["idempotency_key"]' <"$T/dead.json")
DALERT=$(json_get 'd["letters"][0]["key"]' <"$T/dead.json")
api_dead_key() { curl -sf "$H/api/v1/alerts/dead-letters" | json_get 'd["letters"][0]["idempotency_key"]'; }
check "GET /api/v1/alerts/dead-letters is the same list" [ "$(api_dead_key)" = "$DKEY" ]
check "GET /api/v1/alerts/replay is refused (405: replay is a POST)" \
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$H/api/v1/alerts/replay?all=1")" = 405 ]
cli alerts replay 0123456789abcdef0123456789abcdef >"$T/replay.out" 2>&1; rc=$?
check "streamfleet alerts replay of an unknown key: exit 1, not_found" bash -c "[ $rc = 1 ] && grep -q not_found '$T/replay.out'"
cli alerts replay >/dev/null 2>&1; rc=$?
check "streamfleet alerts replay with no key: a usage error (exit 2)" [ $rc = 2 ]
stop receiver
check "the receiver fixed" start_receiver
before=$(deliveries "$DALERT" firing)
check "streamfleet alerts replay KEY queues it again" bash -c "cli alerts replay $DKEY | grep -q '1 dead letter queued again'"
replayed() { [ "$(deliveries "$DALERT" firing)" -gt "$before" ]; }
export -f replayed; export DALERT before
check "the replayed alert arrives" wait_until 30 replayed
check "signed, under the same idempotency key, from attempt 1 again" $PYTHON -c "
import json, sys
r = [json.loads(l) for l in open('$T/hooks.jsonl') if json.loads(l)['idempotency_key'] == '$DKEY']
sys.exit(0 if r and r[-1]['signature_ok'] and r[-1]['attempt'] == '1' else 1)"
check "no dead letter left" wait_until 10 dead_is 0
check "the replay counted (streamfleet_webhook_replayed_total)" [ "$(metric streamfleet_webhook_replayed_total)" = 1 ]
check "POST /api/v1/alerts/replay?all=1 with none left answers 0" \
  [ "$(curl -sf -X POST "$H/api/v1/alerts/replay?all=1" | json_get 'd["replayed"]')" = 0 ]
sf_done
