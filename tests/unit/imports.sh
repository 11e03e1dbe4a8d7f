#!/usr/bin/env bash
# imports.sh — no import circle among the controller's modules (issue 9).
# TAP; run by tests/run.sh unit. tools/check-imports.sh reads the #include
# lines of controller/*.c and their headers. The two circles below were on
# main when the check came in and are not broken yet; every other import
# circle fails this test.
#   gossip -> controller: sf_gossip.h includes sf_controller.h for the config
#     struct (controller.c starts gossip)
#   fleet -> query: sf_fleet.h includes sf_query.h for sf_query_ctx_t
#     (query.c calls sf_fleet_derive)
set -u
cd "$(dirname "$0")/../.."
known=(--except 'gossip controller' --except 'fleet query')
n=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); echo "not ok $n - $1"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/controller" "$tmp/include"
# A tree with a circle through a header: the checker must say so
printf '#include "sf_b.h"\n' > "$tmp/controller/a.c"
printf '#include "sf_c.h"\n' > "$tmp/controller/b.c"
printf '\n' > "$tmp/controller/c.c"
printf '#include "sf_a.h"\n' > "$tmp/include/sf_c.h"
printf '\n' > "$tmp/include/sf_a.h"; printf '\n' > "$tmp/include/sf_b.h"
if bash tools/check-imports.sh "$tmp" >/dev/null 2>"$tmp/err"; then
  bad "a circle a -> b -> c -> a is found"
else
  grep -q '^  a$' "$tmp/err" && ok "a circle a -> b -> c -> a is found and named" \
                            || bad "the circle's modules are named (got: $(cat "$tmp/err"))"
fi
# Broken at one edge, the same tree passes
printf '\n' > "$tmp/include/sf_c.h"
bash tools/check-imports.sh "$tmp" >/dev/null 2>&1 && ok "without the circle the tree passes" \
                                                  || bad "without the circle the tree passes"
# The real tree: no circle besides the known ones
if bash tools/check-imports.sh "${known[@]}" >/dev/null 2>"$tmp/real"; then
  ok "no import circle among controller modules (besides the two known)"
else
  bad "import circle among controller modules: $(tr '\n' ' ' < "$tmp/real")"
fi
echo "1..$n"
