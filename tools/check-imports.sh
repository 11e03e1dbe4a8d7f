#!/usr/bin/env bash
# check-imports.sh — fails when controller modules import each other in a circle.
#   tools/check-imports.sh [--except 'A B']... [ROOT]   (ROOT: the repository)
# A module is controller/NAME.c with its header include/sf_NAME.h (and any
# private controller/NAME_*.h). NAME imports OTHER when NAME.c or NAME's
# headers #include OTHER's header. Prints each import ("api -> reply") and, on
# a circle, the modules in it; exits 1 then, 0 when the graph has no circle.
# --except 'A B' leaves the import A -> B out (a known circle not yet broken:
# tests/unit/imports.sh lists them, so that no new one can come in).
# Run by tests/unit/imports.sh (make test).
set -u
except=()
while [ $# -gt 0 ] && [ "$1" = --except ]; do except+=("$2"); shift 2; done
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
modules=()
for c in controller/*.c; do
  n=$(basename "$c" .c)
  [ "$n" = main ] && continue
  modules+=("$n")
done
is_module() { local m; for m in "${modules[@]}"; do [ "$m" = "$1" ] && return 0; done; return 1; }
# The module a header belongs to, or nothing
owner() {
  local h=$1 n
  case $h in
    sf_*.h) n=${h#sf_}; n=${n%.h} ;;
    *_*.h)  n=${h%%_*} ;;
    *) n=${h%.h} ;;
  esac
  is_module "$n" && echo "$n"
}
edges=$(
  for m in "${modules[@]}"; do
    files=(controller/"$m".c)
    [ -f include/sf_"$m".h ] && files+=(include/sf_"$m".h)
    for h in controller/"$m"_*.h; do [ -f "$h" ] && files+=("$h"); done
    grep -ho '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*"' "${files[@]}" |
      sed 's/.*"\(.*\)"/\1/' | sort -u |
      while read -r h; do
        o=$(owner "$(basename "$h")")
        [ -n "$o" ] && [ "$o" != "$m" ] && echo "$m $o"
      done
  done | sort -u
)
for e in "${except[@]}"; do
  edges=$(echo "$edges" | grep -vxF "$e")
done
echo "$edges" | sed '/^$/d; s/ / -> /'
# tsort names the modules of any loop on stderr
if ! out=$(echo "$edges" | tsort 2>&1 >/dev/null) || [ -n "$out" ]; then
  echo "import circle among controller modules:" >&2
  echo "$out" | grep -v 'input contains a loop' | sed 's/^tsort: /  /' >&2
  exit 1
fi
exit 0
