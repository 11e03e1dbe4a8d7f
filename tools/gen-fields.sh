#!/usr/bin/env bash
# tools/gen-fields.sh — prints the stream and node record field tables of
# docs/protocol.md as Markdown, straight from the field table the codec is
# built from (include/sf_fields.h, through sf_fields_markdown in
# proto/fields.c), so the protocol document never disagrees with the code.
#   tools/gen-fields.sh [stream|node]     print (default: both)
#   tools/gen-fields.sh --update          rewrite the tables in docs/protocol.md
#                                         (between the fields:stream / fields:node
#                                         begin and end markers)
# Needs a built tree (make): links a tiny program against build/libstreamfleet.a.
# tests/unit/test_fields.c fails when docs/protocol.md differs from this output.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/libstreamfleet.a ] || { echo "gen-fields: run make first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/gen.c" <<'C'
#include "sf_fields.h"
#include <stdio.h>
#include <string.h>

int
main (int argc, char **argv)
{
    const char *which = argc > 1 ? argv [1] : "both";
    if (strcmp (which, "node"))
        sf_fields_markdown (stdout, "stream");
    if (strcmp (which, "both") == 0)
        printf ("\n");
    if (strcmp (which, "stream"))
        sf_fields_markdown (stdout, "node");
    return 0;
}
C
cc -std=gnu11 -Iinclude -D_GNU_SOURCE -pthread -o "$tmp/gen" "$tmp/gen.c" build/libstreamfleet.a \
  -lczmq -lzmq -lmsgpackc -llmdb -lsodium -lcurl -ljansson -lmicrohttpd -lexpat -lpthread -lm
if [ "${1:-}" = --update ]; then
  "$tmp/gen" stream >"$tmp/stream.md"
  "$tmp/gen" node >"$tmp/node.md"
  awk -v stream="$tmp/stream.md" -v node="$tmp/node.md" '
    /<!-- fields:stream:begin -->/ { print; while ((getline line < stream) > 0) print line; skip = 1; next }
    /<!-- fields:node:begin -->/ { print; while ((getline line < node) > 0) print line; skip = 1; next }
    /<!-- fields:(stream|node):end -->/ { skip = 0 }
    !skip { print }' docs/protocol.md >"$tmp/protocol.md"
  cp "$tmp/protocol.md" docs/protocol.md
  echo "gen-fields: tables in docs/protocol.md updated"
else
  "$tmp/gen" "${1:-both}"
fi
