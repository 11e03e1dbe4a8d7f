# tests/helpers/sf_checks.sh — helpers for the foundation's integration tests
# (sourced after tests/lib.sh): pushing JSON lines to a push-source agent and
# reading the CLI's JSON listing.

# push PORT LINE...: sends each line to the push endpoint on 127.0.0.1:PORT
# and prints one answer line per line sent ("ok" or "error: ...").
push() {
  local port=$1; shift
  $PYTHON - "$port" "$@" <<'PY'
import socket, sys
port = int(sys.argv[1])
lines = sys.argv[2:]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
f = s.makefile("rb")
for line in lines:
    s.sendall(line.encode() + b"\n")
    print(f.readline().decode().rstrip("\n"))
s.close()
PY
}

# push_ok PORT LINE...: pushes and succeeds only when every answer is "ok"
push_ok() {
  local out
  out=$(push "$@") || return 1
  [ -z "$(echo "$out" | grep -v '^ok$')" ]
}

# total [CLI ARGS...]: the listing's total for these arguments
total() { cli streams -o json "$@" | json_get 'd["total"]'; }

# names [CLI ARGS...]: the listed stream names, in listing order, space separated
names() { cli streams -o json "$@" | json_get '" ".join(r["name"] for r in d["streams"])'; }

# total_is N [CLI ARGS...]: succeeds when the listing's total is N
total_is() { local n=$1; shift; [ "$(total "$@" 2>/dev/null)" = "$n" ]; }

# row_field NAME EXPR: EXPR on the row of stream NAME (r), e.g. 'r["version"]["seq"]'
row_field() {
  cli streams -o json --name "$1" --limit 10000 |
    json_get "(lambda r: ($2))(next(r for r in d['streams'] if r['name'] == '$1'))"
}

# detail NAME EXPR: EXPR on the first placement's stream (s) of `streams show NAME -o json`
detail() { cli streams show "$1" -o json | json_get "(lambda s: ($2))(d['placements'][0])"; }

# log_count FILE PATTERN: how many lines of FILE match PATTERN (0 if none)
log_count() { grep -c -- "$2" "$1" 2>/dev/null || true; }

# Make the helpers usable in `bash -c '...'` checks and wait_until conditions
export BIN TOOLS PYTHON T
export -f cli json_get push push_ok total names total_is row_field detail log_count
export -f wait_until
