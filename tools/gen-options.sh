#!/usr/bin/env bash
# tools/gen-options.sh — prints the option tables of streamfleet-controller and
# streamfleet-agent as Markdown, straight from the schema tables the daemons
# parse with (sf_controller_options in controller/controller.c,
# sf_agent_core_options in node-agent/agent_config.c, and each source
# adapter's own table, from the registry in node-agent/sources.c), so
# docs/operations.md never disagrees with the code.
#   tools/gen-options.sh [controller|agent]     print (default: both)
#   tools/gen-options.sh --update               rewrite the tables in docs/operations.md
#                                               (between the options:begin/end markers)
# Needs a built tree (make): links a tiny program against build/libstreamfleet.a.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/libstreamfleet.a ] || { echo "gen-options: run make first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/gen.c" <<'C'
#include "sf_agent.h"
#include "sf_controller.h"
#include <stdio.h>
#include <string.h>

static void
s_table (const sf_option_t *t)
{
    printf ("| option | type | default | meaning |\n|---|---|---|---|\n");
    for (const sf_option_t *o = t; o->name; o++) {
        char type [64];
        switch (o->type) {
            case SF_OPT_INT: snprintf (type, sizeof (type), "integer %lld…%lld",
                                       (long long) o->min, (long long) o->max); break;
            case SF_OPT_BOOL: snprintf (type, sizeof (type), "boolean"); break;
            case SF_OPT_LIST: snprintf (type, sizeof (type), "list"); break;
            case SF_OPT_LINES: snprintf (type, sizeof (type), "repeatable"); break;
            default: snprintf (type, sizeof (type), "text"); break;
        }
        printf ("| `--%s` | %s | %s%s%s | ", o->name, type, o->def && *o->def ? "`" : "",
                o->def && *o->def ? o->def : "—", o->def && *o->def ? "`" : "");
        for (const char *p = o->help; *p; p++)
            if (*p == '|') fputs ("\\|", stdout); else putchar (*p);
        printf (" |\n");
    }
}

int
main (int argc, char **argv)
{
    const char *which = argc > 1 ? argv [1] : "both";
    if (strcmp (which, "agent")) {
        printf ("### streamfleet-controller options\n\n");
        s_table (sf_controller_options);
        printf ("\n");
    }
    if (strcmp (which, "controller")) {
        printf ("### streamfleet-agent options\n\n");
        s_table (sf_agent_core_options);
        printf ("\n");
        for (size_t i = 0; sf_source_at (i); i++) {
            const sf_source_ops_t *ops = sf_source_at (i);
            if (!ops->options || !ops->options->name)
                continue;
            printf ("#### `--source %s`: %s\n\n", ops->name, ops->summary);
            s_table (ops->options);
            printf ("\n");
        }
    }
    return 0;
}
C
cc -std=gnu11 -Iinclude -D_GNU_SOURCE -pthread -o "$tmp/gen" "$tmp/gen.c" build/libstreamfleet.a \
  -lsystemd -lczmq -lzmq -lmsgpackc -llmdb -lsodium -lcurl -ljansson -lmicrohttpd -lexpat -lpthread -lm
if [ "${1:-}" = --update ]; then
  "$tmp/gen" both >"$tmp/tables.md"
  awk -v table="$tmp/tables.md" '
    /<!-- options:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- options:end -->/ { skip = 0 }
    !skip { print }' docs/operations.md >"$tmp/operations.md"
  cp "$tmp/operations.md" docs/operations.md
  echo "gen-options: tables in docs/operations.md updated"
else
  "$tmp/gen" "${1:-both}"
fi
