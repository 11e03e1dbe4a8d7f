#!/usr/bin/env bash
# 75_alerts_idem.sh — one idempotency key per alert transition, whichever
# controller sends it (issue 17, item 1). Two gossiping controllers judge one
# camera from different record versions: c2 is stopped while the camera goes
# offline (c1 fires from that version) and changes again (still offline), so
# c2, resumed, only ever sees the later version and fires from it before it
# hears of c1's episode. The receiver, down until the firing state converged,
# logs the owner's delivery and never answers it; the owner is killed
# mid-delivery, the survivor sends its standby copy. Every delivery of the
# episode must carry the same idempotency key (docs/http-api.md,
# "Idempotency keys"); before, each controller's carried the key of the
# version it had judged from.
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
    --webhook-backoff-ms 200 --webhook-backoff-max-ms 400 --webhook-retries 1000 \
    --webhook-timeout-ms 60000
}
on() { local c=$1; shift; "$BIN/streamfleet" --controller "tcp://127.0.0.1:${P[$c.q]}" --timeout-ms 2000 "$@"; }
ctl c1; ctl c2
check "two controllers answer" wait_until 15 bash -c "$(declare -f on); $(declare -p P); BIN=$BIN; on c1 nodes >/dev/null && on c2 nodes >/dev/null"
PA=$(free_port)
start_agent A "tcp://127.0.0.1:${P[c1.a]}" --source push --push-listen "127.0.0.1:$PA" --poll-interval-ms 200
check "the push endpoint answers" wait_until 10 push_ok $PA '{"reset": true}'
cam() { echo "{\"name\":\"cam-1\",\"status\":\"$1\",\"type\":\"primary\",\"bitrate_kbps\":0,\"reconnect_attempts\":$2}"; }
check "cam-1 active on A" push_ok $PA "$(cam active 0)"
field_on() { on "$1" streams -o json --limit 100 | json_get "[r.get('$2') for r in d['streams'] if r['name'] == 'cam-1'][0]" 2>/dev/null; }
listed() { [ "$(field_on c1 status)" = active ] && [ "$(field_on c2 status)" = active ]; }
check "both controllers list cam-1 active" wait_until 20 listed
check "the cluster converged" on c1 cluster --wait 30

firing_on() { [ "$(curl -sf "http://127.0.0.1:${P[$1.h]}/api/v1/alerts" | json_get 'len(d["firing"])')" = 1 ]; }
kill -STOP "$(pid_of c2)"
check "cam-1 goes offline (error): c1 fires from that version" push_ok $PA "$(cam error 0)"
check "c1: the alert fires" wait_until 20 firing_on c1
check "cam-1 changes again, still offline (a later version)" push_ok $PA "$(cam error 3)"
recon_on() { [ "$(on "$1" streams -o json --limit 100 | json_get "[r['reconnects']['attempts'] for r in d['streams'] if r['name'] == 'cam-1'][0]" 2>/dev/null)" = 3 ]; }
check "c1 has the later version" wait_until 20 recon_on c1
kill -CONT "$(pid_of c2)"
check "c2 (resumed) has the later version only" wait_until 20 recon_on c2
check "c2: the alert fires" wait_until 20 firing_on c2
firing_on c2 || curl -s "http://127.0.0.1:${P[c2.h]}/api/v1/alerts" | head -c 600
since_of() { curl -sf "http://127.0.0.1:${P[$1.h]}/api/v1/alerts" | json_get 'd["firing"][0]["since_ms"]'; }
same_since() { [ "$(since_of c1)" = "$(since_of c2)" ]; }
check "the firing state converged (one since on both)" wait_until 20 same_since

# The receiver comes up: it logs the owner's delivery and never answers it
bg receiver "$PYTHON" "$SF_ROOT/tests/helpers/webhook_receiver.py" --port "$W" --log "$T/hooks.jsonl" \
  --secret-file "$T/secret" --hang-first 1
check "the receiver comes up" wait_until 10 grep -q listening "$T/receiver.log"
lines() { [ -f "$T/hooks.jsonl" ] && [ "$(grep -c '"state": "firing"' "$T/hooks.jsonl")" -ge "$1" ]; }
check "the owner's delivery reaches the receiver (not answered)" wait_until 30 lines 1
OWNER=$($PYTHON -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['body']['controller'])" "$T/hooks.jsonl")
case "$OWNER" in c1) SURV=c2 ;; c2) SURV=c1 ;; *) not_ok "the owner is c1 or c2 ($OWNER)"; sf_done; exit ;; esac
echo "# owner $OWNER, survivor $SURV"
stop "$OWNER" KILL
dead() { on "$SURV" cluster -o json | json_get "[m['state'] for m in d['members'] if m['id'] == '$OWNER'][0]" | grep -qx dead; }
check "$SURV declares $OWNER dead" wait_until 30 dead
check "$SURV sends its standby copy" wait_until 30 lines 2
delivered() { curl -sf "http://127.0.0.1:${P[$SURV.h]}/metrics" | awk '/^streamfleet_webhook_delivered_total\{webhook="ops"\}/ {print $2}'; }
check "$SURV's delivery was answered" wait_until 20 bash -c "[ \"\$($(declare -f delivered); $(declare -p P); SURV=$SURV; delivered)\" -ge 1 ]"
$PYTHON - "$T/hooks.jsonl" >"$T/summary" <<'PY'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["state"] == "firing"]
print("raw", len(rs))
print("keys", len({r["idempotency_key"] for r in rs}))
print("senders", ",".join(sorted({r["body"]["controller"] for r in rs})))
print("body_matches", all(r["body_key_matches"] for r in rs))
print("signed", all(r["signature_ok"] for r in rs))
print("since", len({r["body"]["since_ms"] for r in rs}))
PY
echo "# $(tr '\n' ' ' <"$T/summary")"
field() { awk -v k="$1" '$1 == k {print $2}' "$T/summary"; }
check "both controllers sent the firing ($(field senders))" [ "$(field senders)" = c1,c2 ]
check "every delivery of the episode carries one idempotency key ($(field keys) among $(field raw))" [ "$(field keys)" = 1 ]
check "and one since" [ "$(field since)" = 1 ]
check "the body's key is the header's, signed" bash -c "[ '$(field body_matches)' = True ] && [ '$(field signed)' = True ]"
sf_done
