#!/usr/bin/env bash
# 35_flussonic.sh — the agent's "flussonic" source against two Flussonic
# stand-ins (before 23.09: running/client_count/lifetime; current:
# status/online_clients/started_at), a bearer token, the list followed by
# its next cursor three streams at a time, DVR ranges from dvr_info. The
# scenario is tests/helpers/media_api_check.sh.
KIND=flussonic SHAPE_A=v21 SHAPE_B=v25 AUTH=bearer:api-key-42 HAS_DVR=1
agent_args() { echo --flussonic-url "$1" --flussonic-token "${2#bearer:}" --flussonic-page-items 3; }
source "$(dirname "$0")/../helpers/media_api_check.sh"
sf_done
