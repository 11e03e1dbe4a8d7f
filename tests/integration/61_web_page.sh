#!/usr/bin/env bash
# 61_web_page.sh — the web page in headless Debian chromium (playwright-core
# from npm, no browser download): a controller fed by two simulating agents
# and two push agents; tests/web/page.test.js applies filters and checks the
# rows against the API, opens a stream's detail, copies an HLS link and reads
# the clipboard, pushes a change and sees its row change without a reload,
# pushes a migration between the push agents and finds it under the Migrated
# chip, in the detail's DVR ranges over both nodes and in the Migrations view,
# visits Nodes (its header is GET /api/v1/columns' node labels, a node's cells
# read as `streamfleet nodes` prints them, a row opens the node's detail), and
# saves a screenshot as a test artifact
# (build/test-artifacts/web-page.png; SF_UPDATE_DOCS=1 also copies it to docs/).
. "$(dirname "$0")/../lib.sh"

WEB="$SF_ROOT/tests/web"
ART="$SF_ROOT/build/test-artifacts"
mkdir -p "$ART"
command -v node >/dev/null || { not_ok "node is installed" "install nodejs (deploy/install-deps.sh)"; exit 1; }
[ -x /usr/bin/chromium ] || { not_ok "chromium is installed" "apt-get install chromium"; exit 1; }
# The lock file pins playwright-core; it brings no browser of its own
sf_web_deps || { not_ok "npm ci in tests/web" "$(tail -3 "$T/npm.log")"; exit 1; }
ok "playwright-core installed"

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 || { not_ok "controller started"; exit 1; }
start_agent n1 "$CTL_c1_AGENTS" --source simulate --sim-streams 50
start_agent n2 "$CTL_c1_AGENTS" --source simulate --sim-streams 50
PUSH_PORT=$(free_port)
start_agent n3 "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PUSH_PORT" --poll-interval-ms 200
PUSH2_PORT=$(free_port)
start_agent n4 "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PUSH2_PORT" --poll-interval-ms 200

fleet_up() {
  curl -s "http://$CTL_c1_HTTP/api/v1/nodes" |
    $PYTHON -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d['liveness']['alive'] == 4 and sum(n['counts']['streams'] for n in d['nodes']) >= 80 else 1)"
}
check "controller fed by four agents" wait_until 30 fleet_up

# A second controller that wants a token: the page must ask for it
start_controller c2 --http-token 'web-s3cret' || not_ok "controller with a token started"

SF_TOKEN_HTTP="$CTL_c2_HTTP" SF_TOKEN_VALUE='web-s3cret' \
SF_PUSH2="127.0.0.1:$PUSH2_PORT" SF_PUSH2_NODE=n4 \
SF_CLI="$BIN/streamfleet" SF_QUERY="$CTL_c1_QUERY" \
SF_HTTP="$CTL_c1_HTTP" SF_PUSH="127.0.0.1:$PUSH_PORT" SF_PUSH_NODE=n3 SF_SCREENSHOT="$ART/web-page.png" \
  timeout 120 node "$WEB/page.test.js"
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 1 ] || not_ok "browser test finished" "exit $rc"
if [ -s "$ART/web-page.png" ]; then
  echo "# screenshot: $ART/web-page.png"
  [ "${SF_UPDATE_DOCS:-0}" = 1 ] && cp "$ART/web-page.png" "$SF_ROOT/docs/web-page.png"
fi
sf_done
