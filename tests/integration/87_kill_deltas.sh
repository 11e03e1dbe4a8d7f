#!/usr/bin/env bash
# 87_kill_deltas.sh — nothing acknowledged is lost when the controller is
# killed with -9 during a burst of patches (issue 11): two simulated agents
# (sf_bench_ingest) fill 2 x 200 placements with whole records, then send the
# realistic mix as patches (docs/protocol.md, patch) as fast as the acks
# allow; the controller is killed with -9 in the middle of it and started
# again on its data directory. Then every node's stored seq must reach the
# last seq it acknowledged, and every placement must hold exactly what the
# changes up to its node's stored seq leave in it (clients, bitrate, the
# version of its last change): sf_bench_ingest verify recomputes them. The
# stored summaries too: listings sorted by clients and by bitrate are ordered
# by the summaries (through the read model the restart rebuilt from them)
# and must come exactly in the order of the records' values.
source "$(dirname "$0")/../lib.sh"

sf_keys
agent_key b01
agent_key b02
start_controller c1 || { not_ok "controller starts"; exit 1; }
ING=("$TOOLS/sf_bench_ingest")
COMMON=(--server-cert "$T/keys/controller" --agents 2 --streams 200)
check "the fill stores 400 placements" \
  "${ING[@]}" ingest --endpoint "$CTL_c1_AGENTS" --keys "$T/keys" "${COMMON[@]}" --batch 50 --seconds 1
bg burst "${ING[@]}" ingest --endpoint "$CTL_c1_AGENTS" --keys "$T/keys" "${COMMON[@]}" --batch 50 \
  --window 4 --seconds 8 --resume --mode patch --acked "$T/acked.txt"
# Kill once patches are being committed (the controller's log names none:
# the burst's own progress is its acks)
committed() { cli streams -o json --node b01 --limit 1 --sort -clients >/dev/null && \
  [ "$(cli streams -o json --node b01 --limit 1000 | json_get 'max(r["version"]["seq"] for r in d["streams"])')" -gt 600 ]; }
check "patches are being committed" wait_until 30 committed
stop c1 KILL
check "the controller is gone after kill -9" bash -c "! kill -0 $(pid_of c1) 2>/dev/null"
restart_controller c1 || not_ok "the controller starts again on its data directory"
check "the burst ends" wait_until 60 bash -c "! kill -0 $(pid_of burst) 2>/dev/null"
check "the burst's agents had patches acknowledged" \
  awk '$3 > $2 { n++ } END { exit n == 2 ? 0 : 1 }' "$T/acked.txt"
check "every acknowledged patch is stored, each placement (record and summary) exactly as its changes leave it" \
  "${ING[@]}" verify --endpoint "$CTL_c1_QUERY" --cert "$T/keys/ops" "${COMMON[@]}" --acked "$T/acked.txt"
cat "$T/burst.log" | grep -v '^RESULT' | sed 's/^/# /'
sf_done
