#!/usr/bin/env bash
# 74_alerts_web.sh — the web page's alerts in headless Debian chromium
# (tests/web/alerts.test.js): the firing badge, the Alerts view and a stream's
# alert history in its detail follow a pushed camera going offline and back; the
# alert's link opens the stream's detail; the resolution by the timer is a feed entry.
. "$(dirname "$0")/../lib.sh"

WEB="$SF_ROOT/tests/web"
command -v node >/dev/null || { not_ok "node is installed" "install nodejs (deploy/install-deps.sh)"; exit 1; }
[ -x /usr/bin/chromium ] || { not_ok "chromium is installed" "apt-get install chromium"; exit 1; }
# The lock file pins playwright-core; it brings no browser of its own
sf_web_deps || { not_ok "npm ci in tests/web" "$(tail -3 "$T/npm.log")"; exit 1; }
sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 --alert "cam-offline inactive for=0 resolve=1s name=cam-*" || { not_ok "controller started"; exit 1; }
PUSH_PORT=$(free_port)
start_agent n1 "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PUSH_PORT" --poll-interval-ms 200
source "$SF_ROOT/tests/helpers/sf_checks.sh"
check "the push agent answers" wait_until 10 push_ok "$PUSH_PORT" '{"name": "lobby", "status": "active"}'
check "its stream is listed" wait_until 10 total_is 1
SF_HTTP="$CTL_c1_HTTP" SF_PUSH="127.0.0.1:$PUSH_PORT" timeout 120 node "$WEB/alerts.test.js"
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 1 ] || not_ok "browser test finished" "exit $rc"
sf_done
