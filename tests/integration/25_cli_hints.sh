#!/usr/bin/env bash
# 25_cli_hints.sh — when no controller answers, the CLI names the likely
# cause (docs/cli.md "When no controller answers"): nothing listens at the
# endpoint (exit 3); the server's key is not the one in --server-cert
# (exit 4); our certificate is not admitted in the controller's --certs-dir
# (exit 4). Each is told apart from the connection's own events.
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 || { not_ok "controller c1 started"; exit 1; }
"$BIN/streamfleet" keygen --role controller --name impostor --out "$T/keys/impostor" >/dev/null
"$BIN/streamfleet" keygen --role cli --name stranger --out "$T/keys/stranger" >/dev/null
q=$CTL_c1_QUERY
# ask NAME EXPECT_RC PATTERN CLI_ARGS...
ask() {
  local name=$1 want=$2 pattern=$3; shift 3
  local out rc
  out=$("$BIN/streamfleet" --timeout-ms 1500 "$@" nodes 2>&1); rc=$?
  if [ "$rc" = "$want" ] && grep -q -- "$pattern" <<<"$out"; then ok "$name"
  else not_ok "$name" "exit $rc: $(tr '\n' ' ' <<<"$out")"; fi
}
dead=$(free_port)
ask "nothing listening: the hint says so and names the endpoint (exit 3)" 3 \
  "nothing listens at tcp://127.0.0.1:$dead" --controller "tcp://127.0.0.1:$dead"
ask "a wrong --server-cert: the hint names the server certificate (exit 4)" 4 \
  "not the one in $T/keys/impostor (check --server-cert)" --controller "$q" --server-cert "$T/keys/impostor"
ask "a key the controller does not admit: the hint names --certs-dir (exit 4)" 4 \
  "refused our certificate $T/keys/stranger" --controller "$q" --cert "$T/keys/stranger"
ask "with the right keys the same command answers (exit 0)" 0 "NODE" --controller "$q"
sf_done
