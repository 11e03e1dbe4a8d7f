#!/usr/bin/env bash
# 21_cli.sh — the CLI's own contract (issue 2, item 6): `streamfleet keygen`
# makes certificates with their role and node in the metadata and a separate
# secret half; controllers come from repeated --controller or
# STREAMFLEET_CONTROLLERS and are tried in order; output has no colour codes
# when it is not a terminal; documented exit codes for usage errors.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
GOOD=$STREAMFLEET_CONTROLLERS
DEAD=tcp://127.0.0.1:$(free_port)

# keygen
out=$(cli keygen --role agent --node edge-7 --out "$T/keys/edge7" 2>&1); rc=$?
check "keygen for an agent exits 0 and names both files" \
  bash -c "[ $rc = 0 ] && echo \"\$1\" | grep -qF '$T/keys/edge7' && echo \"\$1\" | grep -qF '$T/keys/edge7_secret'" _ "$out"
check "the public certificate carries role and node, and no secret key" \
  bash -c "grep -q 'role = \"agent\"' '$T/keys/edge7' && grep -q 'node = \"edge-7\"' '$T/keys/edge7' && ! grep -q 'secret-key' '$T/keys/edge7'"
check "the secret half holds the secret key" grep -q 'secret-key' "$T/keys/edge7_secret"
check "two certificates never share a key" \
  bash -c "cli keygen --role cli --name a --out '$T/keys/ka' >/dev/null && cli keygen --role cli --name b --out '$T/keys/kb' >/dev/null &&
           [ \"\$(grep public-key '$T/keys/ka')\" != \"\$(grep public-key '$T/keys/kb')\" ]"
out=$(cli keygen --role agent --out "$T/keys/nonode" 2>&1); rc=$?
check "an agent certificate without --node is refused (exit 2)" \
  bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q -- '--node' && [ ! -e '$T/keys/nonode' ]" _ "$out"
out=$(cli keygen --role wizard --out "$T/keys/w" 2>&1); rc=$?
check "an unknown role is refused (exit 2) naming the valid ones" \
  bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q 'agent, cli, peer or controller'" _ "$out"
# a freshly made and admitted agent certificate works end to end
cp "$T/keys/edge7" "$T/allowed/edge7.cert"
bg agent_edge "$BIN/streamfleet-agent" --node edge-7 --controllers "$CTL_c1_AGENTS" --cert "$T/keys/edge7" \
  --server-cert "$T/keys/controller" --state-dir "$T/agent-edge" --sim-streams 3
check "a keygen'd, admitted agent certificate gets its streams listed" wait_until 15 total_is 3 --node edge-7

# controllers: repeated --controller and STREAMFLEET_CONTROLLERS, in order
check "repeated --controller: a dead first endpoint is skipped" \
  bash -c "env -u STREAMFLEET_CONTROLLERS $BIN/streamfleet --timeout-ms 500 --controller $DEAD --controller $GOOD nodes | grep -q '^edge-7 '"
check "STREAMFLEET_CONTROLLERS, comma-separated: a dead first endpoint is skipped" \
  bash -c "STREAMFLEET_CONTROLLERS=$DEAD,$GOOD $BIN/streamfleet --timeout-ms 500 nodes | grep -q '^edge-7 '"
check "--controller wins over STREAMFLEET_CONTROLLERS" \
  bash -c "STREAMFLEET_CONTROLLERS=$DEAD $BIN/streamfleet --timeout-ms 500 --controller $GOOD nodes >/dev/null"
out=$(env -u STREAMFLEET_CONTROLLERS "$BIN/streamfleet" --timeout-ms 400 --controller "$DEAD" \
      --controller "tcp://127.0.0.1:$(free_port)" streams 2>&1); rc=$?
check "every endpoint dead: exit 3, each one said to have nothing listening, then both named" \
  bash -c "[ $rc = 3 ] && echo \"\$1\" | grep -qF 'nothing listens at $DEAD' && [ \$(echo \"\$1\" | grep -c 'nothing listens at tcp://') = 2 ] && [ \$(echo \"\$1\" | tail -1 | grep -o 'tcp://' | wc -l) = 2 ]" _ "$out"

# output
check "no colour escape codes when stdout is not a terminal" \
  bash -c "! cli streams | grep -q \$'\\033' && ! cli nodes | grep -q \$'\\033'"
check "-o json is one JSON document" bash -c "cli streams -o json | $PYTHON -c 'import json,sys; json.load(sys.stdin)'"
if command -v script >/dev/null; then
  check "colour codes on a terminal (status cells)" \
    bash -c "script -qec '$BIN/streamfleet streams' /dev/null | grep -q \$'\\033\\[3'"
fi
out=$(cli streams -o yaml 2>&1); rc=$?
check "an unknown output format exits 2" test "$rc" = 2
out=$(cli frobnicate 2>&1); rc=$?
check "an unknown command exits 2 with usage" bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -qi 'usage'" _ "$out"
out=$(cli streams --limit many 2>&1); rc=$?
check "a non-numeric --limit exits 2" bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q -- '--limit'" _ "$out"
check "streams --help exits 0 and lists the eight filter parameters" \
  bash -c "h=\$(cli streams --help); for p in primary secondary migrated active suspend transfer dvr audio; do echo \"\$h\" | grep -q \$p || exit 1; done"
check "--help documents the exit codes" bash -c "cli --help 2>&1 | grep -qiE 'exit'"

sf_done
