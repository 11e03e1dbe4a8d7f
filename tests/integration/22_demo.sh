#!/usr/bin/env bash
# 22_demo.sh — `make demo` (issue 2, item 9): deploy/demo.sh starts a
# controller and three simulated agents, prints the cluster-wide listing,
# runs for DEMO_SECONDS and then stops everything it started and removes its
# work directory.
source "$(dirname "$0")/../lib.sh"

OUT=$T/demo.out
timeout -k 5 120 env DEMO_SECONDS=3 DEMO_STREAMS=10 bash "$SF_ROOT/deploy/demo.sh" >"$OUT" 2>&1
rc=$?
check "demo exits 0 after DEMO_SECONDS" test "$rc" = 0
check "demo prints the listing's header" \
  grep -qE '^№ +NAME +NODE +STATUS +CLIENTS +BITRATE +UPTIME +RECONN +SOURCE' "$OUT"
M=$(grep -oE '^[0-9]+ of [0-9]+ streams' "$OUT" | head -1 | awk '{print $3}')
check "demo's listing totals at least the 3 simulated agents' 10 streams each" test "${M:-0}" -ge 30
for n in 1 2 3; do
  check "demo's listing shows agent media-$n's streams" grep -qE "^[0-9]+ +[PSM] media-$n-cam[0-9]+" "$OUT"
done
PIDS_LINE=$(grep -o 'stopping what it started (pids [0-9 ]*)' "$OUT" | head -1)
check "demo says which pids it stops" test -n "$PIDS_LINE"
still=0
for p in $(echo "$PIDS_LINE" | grep -oE '[0-9]+'); do kill -0 "$p" 2>/dev/null && still=1; done
check "nothing the demo started is left running" test "$still" = 0
check "demo says its logs go when it stops, and how to keep them" grep -q 'DEMO_KEEP=1 keeps them' "$OUT"
SHOW=$(grep -oE 'streamfleet streams show [^ ]+' "$OUT" | head -1 | awk '{print $4}')
check "demo's detail example is a primary stream with DVR and audio" grep -qE "^[0-9]+ +P $SHOW \[DF?A\]" "$OUT"
WD=$(grep -oE '/tmp/streamfleet-demo\.[A-Za-z0-9]+' "$OUT" | head -1)
check "the demo's work directory is removed" bash -c "[ -n '$WD' ] && [ ! -e '$WD' ]"

sf_done
