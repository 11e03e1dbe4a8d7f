#!/usr/bin/env bash
# 33_mediamtx.sh — the agent's "mediamtx" source against two MediaMTX
# stand-ins (v1.15: ready/tracks/bytesReceived; v1.17: online/tracks2/
# inboundBytes), basic auth, lists paged two items at a time, DVR ranges from
# the playback server's /list, its metrics as a cross-check. The scenario is
# tests/helpers/media_api_check.sh; then the metrics disagree and agree again.
KIND=mediamtx SHAPE_A=v1.15 SHAPE_B=v1.17 AUTH=streamfleet:pa55word HAS_DVR=1
agent_args() {
  echo --mediamtx-url "$1" --mediamtx-playback-url "$1" --mediamtx-metrics-url "$1" \
       --mediamtx-user "${2%%:*}" --mediamtx-password "${2#*:}" --mediamtx-page-items 2
}
source "$(dirname "$0")/../helpers/media_api_check.sh"

# The metrics as a cross-check: a new path whose metrics count two readers
# more than the API keeps the API's count, says so in its config text, and
# is logged once; agreeing again is logged too
ctl "$A" _add/mtxcheck
check "mediamtx: a new path is listed" wait_until 20 row n1 mtxcheck "s['status'] == 'active'"
ctl "$A" _skew/mtxcheck/2
said() { show n1 mtxcheck "d['placements'][0]['config']" | grep -q "metrics disagree: metrics count 3 readers, the API 1"; }
check "mediamtx: a disagreement of the metrics is shown in the path's config" wait_until 20 said
check "mediamtx: the API's reader count stays (1 client)" row n1 mtxcheck "s['clients'] == 1"
check "mediamtx: the disagreement is logged" wait_until 10 grep -q "metrics disagree with the Control API" "$T/agent_n1.log"
ctl "$A" _skew/mtxcheck/0
check "mediamtx: agreeing again is logged" wait_until 20 grep -q "metrics agree with the Control API again" "$T/agent_n1.log"
n=$(grep -c "metrics not read" "$T/agent_n2.log")
check "mediamtx: node n2's metrics were read throughout (got $n failures)" [ "$n" = 0 ]
sf_done
