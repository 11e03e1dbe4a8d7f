#!/usr/bin/env bash
# 33_mediamtx.sh — the agent's "mediamtx" source against two MediaMTX
# stand-ins (v1.15: ready/tracks/bytesReceived; v1.17: online/tracks2/
# inboundBytes), basic auth, lists paged two items at a time, DVR ranges from
# the playback server's /list. The scenario is tests/helpers/media_api_check.sh.
KIND=mediamtx SHAPE_A=v1.15 SHAPE_B=v1.17 AUTH=streamfleet:pa55word HAS_DVR=1
agent_args() {
  echo --mediamtx-url "$1" --mediamtx-playback-url "$1" --mediamtx-user "${2%%:*}" \
       --mediamtx-password "${2#*:}" --mediamtx-page-items 2
}
source "$(dirname "$0")/../helpers/media_api_check.sh"
sf_done
