#!/usr/bin/env bash
# 27_cli_terminal.sh — a CLI that fits the terminal (docs/cli.md "Table
# output"): columns sized to the terminal, SOURCE cut with an ellipsis first;
# full width and no colour when piped; the marks' legend under the table and
# in --help; -o wide with migrated_to and transferred_from; times with their
# zone (UTC, or --local); streams show with media and the current range
# marked; one exit code for "no such stream" or node everywhere, help exit 0.
. "$(dirname "$0")/../lib.sh"

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 || { not_ok "controller c1 started"; exit 1; }
PA=$(free_port); PB=$(free_port)
start_agent A "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PA" --poll-interval-ms 200
start_agent B "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$PB" --poll-interval-ms 200
push() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  tr -d '\n' <<<"$2" >&3; echo >&3; read -r -t 3 reply <&3; exec 3>&-
  [ "$reply" = ok ]
}
wait_until 10 push "$PA" '{"reset": true}'
now=$(date +%s)
long="rtsp://camera-with-a-very-long-host-name.example.invalid:554/streams/main/lobby-entrance-north"
push "$PA" "{\"name\": \"lobby\", \"status\": \"active\", \"clients\": 2, \"bitrate_kbps\": 2400,
  \"started_at\": $((now - 600)), \"functions\": [\"dvr\", \"audio\"], \"source\": {\"url\": \"$long\"},
  \"media\": {\"vcodec\": \"h264\", \"width\": 1920, \"height\": 1080, \"fps\": 25, \"acodec\": \"aac\"},
  \"dvr\": {\"records_path\": \"/var/dvr/lobby\", \"current_from\": $((now - 300)), \"chunk_s\": 6,
            \"ranges\": [[$((now - 7200)), $((now - 3600))], [$((now - 300)), $now]]}}" ||
  not_ok "lobby pushed"
wait_until 10 sh -c "$BIN/streamfleet streams --name lobby | grep -q lobby"

# On a terminal of 90 columns: no line wider, SOURCE cut with an ellipsis
script -qec "stty cols 90 rows 50; $BIN/streamfleet streams" /dev/null | tr -d '\r' >"$T/tty90"
check "on a 90-column terminal no line of the table is wider than 90" $PYTHON -c '
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
sys.exit(0 if lines and all(len(re.sub(r"\x1b\[[0-9;]*m", "", l)) <= 90 for l in lines) else 1)' "$T/tty90"
check "on a 90-column terminal the SOURCE cell is cut with an ellipsis" grep -q 'rtsp://camera.*…$' "$T/tty90"
script -qec "stty cols 60 rows 50; $BIN/streamfleet streams" /dev/null | tr -d '\r' >"$T/tty60"
check "too narrow for SOURCE: the column is left out, not wrapped" \
  bash -c "! grep -q SOURCE '$T/tty60' && grep -q 'P lobby' '$T/tty60'"
cli streams >"$T/piped"
check "piped: full width (the whole URL) and no colour" \
  bash -c "grep -qF '$long' '$T/piped' && ! grep -q \$'\\e\\[' '$T/piped'"
check "the marks' legend stands under the table" grep -q '^P primary  S secondary  M migrated' "$T/piped"
check "the legend is in streams --help" sh -c "$BIN/streamfleet streams --help | grep -q 'Marks: P primary'"

# A move: B takes lobby over from A, A stops it
push "$PB" "{\"name\": \"lobby\", \"status\": \"active\", \"started_at\": $now, \"transferred_from\": \"A\",
  \"functions\": [\"dvr\", \"audio\"]}" || not_ok "lobby pushed on B"
sleep 1
push "$PA" '{"name": "lobby", "status": "suspend"}' || not_ok "lobby suspended on A"
wait_until 10 sh -c "$BIN/streamfleet streams --name lobby --filter migrated | grep -q 'M lobby'"
cli -o wide streams --name lobby >"$T/wide"
check "-o wide says where the migrated stream went" grep -q 'M lobby.*migrated_to=B' "$T/wide"
check "-o wide says where the transfer came from" grep -q 'P lobby.*transferred_from=A' "$T/wide"

# Times carry their zone
cli streams show lobby --node A >"$T/show"
check "streams show: times in UTC, saying so" grep -qE 'Recording since +[0-9-]+ [0-9:]+ UTC' "$T/show"
check "streams show: media (codec, resolution, fps, audio codec)" \
  bash -c "grep -qE 'Video codec +h264' '$T/show' && grep -qE 'Resolution +1920x1080' '$T/show' && grep -qE 'Frame rate \(fps\) +25' '$T/show' && grep -qE 'Audio codec +aac' '$T/show'"
check "streams show: the current range apart, and marked among the ranges" \
  bash -c "grep -qE 'Current range +[0-9-]+ [0-9:]+ UTC' '$T/show' && grep -qE '^\* +2 ' '$T/show' && grep -qE '^  +1 ' '$T/show'"
check "--local names the local zone" sh -c "TZ=Asia/Tokyo $BIN/streamfleet --local streams show lobby --node A | grep -qE 'Recording since .* JST'"
check "migrations: every time names its zone" sh -c "$BIN/streamfleet migrations lobby | grep -qE '^[0-9-]+ [0-9:.]+ UTC +migrated'"
check "dvr: times name their zone" sh -c "$BIN/streamfleet dvr lobby | grep -q 'UTC'"

# Exit codes: help 0; no such stream or node: 1, everywhere, with one message
code() { "$@" >/dev/null 2>"$T/err"; echo $?; }
check "streams show --help prints help, exit 0" test "$(code cli streams show --help)" = 0
check "migrations --help names -o wide" sh -c "$BIN/streamfleet migrations --help | grep -q 'table|wide|json'"
for c in "streams show nosuch" "dvr nosuch" "migrations nosuch"; do
  # shellcheck disable=SC2086
  rc=$(code cli $c)
  check "'$c': exit 1 with the one 'no such' message" \
    bash -c "[ $rc = 1 ] && grep -qE 'no stream.*nosuch' '$T/err'"
done
rc=$(code cli streams --node nosuch)
check "'streams --node nosuch': exit 1, no node known by that id" bash -c "[ $rc = 1 ] && grep -q \"no node 'nosuch'\" '$T/err'"
check "'streams --name nosuch' (a pattern matching nothing) is exit 0" test "$(code cli streams --name nosuch)" = 0
check "nodes says '2 nodes'" sh -c "$BIN/streamfleet nodes | tail -1 | grep -qx '2 nodes'"
sf_done
