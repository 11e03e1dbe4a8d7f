#!/usr/bin/env bash
# 34_srs.sh — the agent's "srs" source against two SRS stand-ins (SRS 5
# without tcUrl/url, SRS 6 with them), basic auth (http_api.auth), the
# stream list paged ten at a time (SRS's least count). SRS reports no
# archive. The scenario is tests/helpers/media_api_check.sh.
KIND=srs SHAPE_A=v5 SHAPE_B=v6 AUTH=admin:s3cretpw HAS_DVR=0
agent_args() {
  echo --srs-url "$1" --srs-user "${2%%:*}" --srs-password "${2#*:}" --srs-page-items 10
}
source "$(dirname "$0")/../helpers/media_api_check.sh"
sf_done
