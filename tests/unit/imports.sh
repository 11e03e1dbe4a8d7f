#!/usr/bin/env bash
# imports.sh — no import circle among the controller's modules (issue 9).
# TAP; run by tests/run.sh unit. tools/check-imports.sh reads the #include
# lines of controller/*.c and their headers. There is no exception: the two
# circles on main when the check came in are broken by leaf headers that no
# module owns (sf_controller_config.h holds the settings gossip reads,
# sf_query_ctx.h the query context fleet's queries take), and any import
# circle fails this test.
set -u
cd "$(dirname "$0")/../.."
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
if bash tools/check-imports.sh >/dev/null 2>"$tmp/real"; then
  ok "no import circle among controller modules"
else
  bad "import circle among controller modules: $(tr '\n' ' ' < "$tmp/real")"
fi
echo "1..$n"
