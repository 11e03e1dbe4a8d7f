#!/usr/bin/env bash
# 17_push.sh — the push source's protocol (issue 2, item 4; docs/adapters.md):
# one JSON object per line, each answered "ok" or "error: why"; upserts merge
# into what was pushed before (nested objects too); "deleted" removes one
# stream, "reset" all; bad JSON, a missing or long name, an unknown status
# value or a field of the wrong type is refused and changes nothing; a line
# over 256 KiB closes that connection and no other.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
P=$(free_port)
start_agent n1 "$CTL_c1_AGENTS" --source push --push-listen "127.0.0.1:$P" --poll-interval-ms 200
check "push endpoint answers ok to a reset" wait_until 10 push_ok "$P" '{"reset": true}'

# ok per line, pipelined lines answered in order
ANS=$($PYTHON - "$P" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b'{"name": "a1"}\n{"name": "a2"}\n{"bad\n{"name": "a3"}\n')
f = s.makefile("rb")
print("|".join(f.readline().decode().strip() for _ in range(4)))
PY
)
check "each line of a pipelined write is answered in order (ok, ok, error, ok)" \
  bash -c "[[ \"\$1\" == ok\|ok\|error:*\|ok ]]" _ "$ANS"
check "the three good lines become streams" wait_until 10 total_is 3

# Merge of partial updates
check "a full record is accepted" push_ok "$P" \
  '{"name": "m1", "status": "active", "clients": 3, "bitrate_kbps": 900, "functions": ["dvr"], "source": {"url": "rtsp://10.0.0.1/m1", "sdp": "v=0"}, "dvr": {"records_path": "/dvr/m1", "depth_s": 3600}}'
check "a partial update is accepted" push_ok "$P" '{"name": "m1", "clients": 7, "dvr": {"chunk_s": 4}}'
check "the partial update changed clients" wait_until 10 bash -c "[ \"\$(row_field m1 'r[\"clients\"]')\" = 7 ]"
check "fields the update did not name are kept (status, bitrate, functions)" \
  bash -c "[ \"\$(row_field m1 'r[\"status\"], r[\"bitrate_kbps\"], r[\"functions\"]')\" = \"('active', 900, ['dvr'])\" ]"
check "nested objects merge: source url and sdp kept" \
  bash -c "[ \"\$(detail m1 's[\"source\"][\"url\"] + \" \" + s[\"source\"][\"sdp\"]')\" = 'rtsp://10.0.0.1/m1 v=0' ]"
check "nested objects merge: dvr keeps records_path and depth, gains chunk" \
  bash -c "[ \"\$(detail m1 '(s[\"dvr\"][\"records_path\"], s[\"dvr\"][\"depth_s\"], s[\"dvr\"][\"chunk_s\"])')\" = \"('/dvr/m1', 3600, 4)\" ]"

# Refusals change nothing
A=$(push "$P" '{not json')
check "bad JSON is answered with an error" bash -c "[[ \"\$1\" == 'error: not a JSON object'* ]]" _ "$A"
A=$(push "$P" '[1, 2]')
check "a JSON value that is not an object is answered with an error" bash -c "[[ \"\$1\" == error:* ]]" _ "$A"
A=$(push "$P" '{"clients": 1}')
check "a line without a name is answered with an error naming 'name'" bash -c "[[ \"\$1\" == error:*name* ]]" _ "$A"
A=$(push "$P" "{\"name\": \"$(printf 'n%.0s' $(seq 1 129))\"}")
check "a name over 128 bytes is refused" bash -c "[[ \"\$1\" == error:*128* ]]" _ "$A"
A=$(push "$P" '{"name": "m1", "status": "sleeping"}')
check "an unknown status value is answered with an error naming the field" \
  bash -c "[[ \"\$1\" == error:*status* ]]" _ "$A"
A=$(push "$P" '{"name": "u1", "status": "sleeping"}')
check "an unknown status value does not create the stream" bash -c "[[ \"\$1\" == error:* ]]" _ "$A"
A=$(push "$P" '{"name": "m1", "clients": "many"}')
check "a field of the wrong type is answered with an error naming it" \
  bash -c "[[ \"\$1\" == error:*clients* ]]" _ "$A"
A=$(push "$P" '{"name": "m1", "functions": ["dvr", "hologram"]}')
check "an unknown function is answered with an error" bash -c "[[ \"\$1\" == error:*functions* ]]" _ "$A"
sleep_until_listed() { push_ok "$P" '{"name": "marker", "clients": 1}' && wait_until 10 total_is 1 --name marker; }
check "a marker pushed after the refusals is listed (the refusals were processed)" sleep_until_listed
check "refused updates changed nothing on m1 (status active, clients 7, dvr kept)" \
  bash -c "[ \"\$(row_field m1 'r[\"status\"], r[\"clients\"], r[\"functions\"]')\" = \"('active', 7, ['dvr'])\" ]"
check "refused new streams do not exist" total_is 0 --name u1

# An oversize line closes that connection, not the others
OVER=$($PYTHON - "$P" <<'PY'
import socket, sys
port = int(sys.argv[1])
other = socket.create_connection(("127.0.0.1", port), timeout=5)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
# exactly the limit and no newline: the agent's buffer is full, nothing is
# left unread (unread input would make the close a reset)
line = b'{"name": "big", "config": "'
s.sendall(line + b"x" * (262144 - len(line)))
f = s.makefile("rb")
try:
    answer = f.readline().decode().strip()
    closed = f.readline() == b""
except ConnectionResetError:
    answer, closed = "reset", True
other.sendall(b'{"name": "after-big"}\n')
print(answer + "|" + str(closed) + "|" + other.makefile("rb").readline().decode().strip())
PY
)
check "a line over 256 KiB is answered with an error naming the limit" \
  bash -c "[[ \"\$1\" == 'error: line longer than 262144 bytes'* ]]" _ "$OVER"
check "and that connection is closed" bash -c "[[ \"\$1\" == *'|True|'* ]]" _ "$OVER"
check "another connection is unaffected" bash -c "[[ \"\$1\" == *'|ok' ]]" _ "$OVER"
check "the other connection's stream is listed" wait_until 10 total_is 1 --name after-big
check "nothing of the oversize line was stored" total_is 0 --name 'big*'

# Delete and reset
check "deleted: true is answered ok" push_ok "$P" '{"name": "m1", "deleted": true}'
check "a deleted stream leaves the listing" wait_until 10 total_is 0 --name m1
check "reset is answered ok" push_ok "$P" '{"reset": true}'
check "reset removes every stream of the node" wait_until 10 total_is 0
check "a stream pushed after a reset is listed" \
  bash -c "push_ok $P '{\"name\": \"fresh\"}' && wait_until 10 total_is 1"

sf_done
