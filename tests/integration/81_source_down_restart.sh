#!/usr/bin/env bash
# 81_source_down_restart.sh — an agent restarted while its media server is
# unreachable never wipes its node (issue 12, item 2). Before, the agent
# answered the controller's hello with a snapshot of the state it had not
# read (empty) and the controller deleted every placement of the node. Now
# the snapshot waits for the source's first good state; meanwhile the agent's
# heartbeats say `stale`, the controller keeps the node's placements and marks
# the node stale; when the media server is back the snapshot is sent and the
# mark clears. Real nginx-rtmp with ffmpeg cameras.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/nginx_rtmp.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

for bin in /usr/sbin/nginx ffmpeg; do
  command -v "$bin" >/dev/null || { not_ok "$bin is installed"; exit 1; }
done
sf_keys || { not_ok "keys"; exit 1; }
start_controller c1 || { not_ok "controller starts"; exit 1; }
start_nginx_rtmp || { not_ok "nginx starts"; exit 1; }
publish cam1
publish cam2
AGENT_ARGS=(--source nginx-rtmp --stat-url "$NGX_STAT" --rtmp-app live
            --poll-interval-ms 500 --heartbeat-ms 300 --http-timeout-ms 300)
start_agent n1 "$CTL_c1_AGENTS" "${AGENT_ARGS[@]}"
both() { [ "$(names --node n1 2>/dev/null)" = "cam1 cam2" ]; }
export -f both
check "both cameras reach the controller" wait_until 30 both
node_json() { curl -sf "http://$CTL_c1_HTTP/api/v1/nodes/n1"; }
node_stale() { [ "$(node_json | json_get 'd["stale"]')" = "$1" ]; }
export -f node_json node_stale; export CTL_c1_HTTP
check "the node is not stale while its source reads" node_stale False

# The media server goes away, then the agent restarts
stop pub_cam1; stop pub_cam2; stop nginx
stop agent_n1
start_agent n1 "$CTL_c1_AGENTS" "${AGENT_ARGS[@]}"
check "the restarted agent says hello" \
  wait_until 15 bash -c "[ \$(grep -c 'n1 says hello' '$T/c1.log') -ge 2 ]"
check "the node is marked stale (its agent has read no good state)" wait_until 10 node_stale True
check "the node's placements are kept" both
check "nothing of the node was deleted" \
  bash -c "! grep -E 'snapshot of n1 applied: .*\([0-9]+ skipped, [1-9][0-9]* deleted\)' '$T/c1.log'"
check "the agent says its snapshot waits for the source" \
  grep -q "has not produced a good state yet" "$T/agent_n1.log"
check "the controller logs the stale node once" \
  test "$(log_count "$T/c1.log" "n1's agent reports its source down")" = 1
check "the node stays alive (its heartbeats count)" \
  bash -c "cli nodes | grep -qE '^n1 +alive .*stale'"

# The media server returns, with one camera: the snapshot replaces the state
bg nginx /usr/sbin/nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf"
wait_until 10 curl -sf "$NGX_STAT" || not_ok "nginx restarts"
publish cam2
only_cam2() { [ "$(names --node n1 2>/dev/null)" = "cam2" ]; }
export -f only_cam2
check "with the source back, its first good state replaces the node's (cam1 gone)" \
  wait_until 30 only_cam2
check "the stale mark clears" wait_until 10 node_stale False
sf_done
