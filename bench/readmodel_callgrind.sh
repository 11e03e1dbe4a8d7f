#!/usr/bin/env bash
# bench/readmodel_callgrind.sh — the read model's writer cost in instructions
# (`make bench-readmodel-callgrind`): sf_bench_readmodel under callgrind with only its
# two writer passes instrumented (--instr-atstart=no and the tool's client requests),
# so the figure does not depend on what else the machine runs, unlike the wall and
# CPU times of `make bench-readmodel`. It counts instructions, not cache misses: at
# 1,000,000 placements the writer is bound by memory as much as by instructions, so
# read it beside the quiet wall figure. The fill runs uninstrumented but under
# valgrind (minutes at 1M).
#
# Knobs: RM_PLACEMENTS (1000000), RM_UPDATES (20000 per pass), RM_KEEP=1 keeps the
# callgrind files (the directory is printed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOL=$ROOT/build/tools/sf_bench_readmodel
N=${RM_PLACEMENTS:-1000000}; U=${RM_UPDATES:-20000}
command -v valgrind >/dev/null || { echo "bench-readmodel-callgrind: valgrind is missing" >&2; exit 1; }
[ -x "$TOOL" ] || { echo "bench-readmodel-callgrind: $TOOL is missing; run make first" >&2; exit 1; }
T=$(mktemp -d /tmp/sf-rmcg.XXXXXX)
trap '[ "${RM_KEEP:-0}" = 1 ] && echo "callgrind files in $T" || rm -rf "$T"' EXIT
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$T/cg.out" \
  "$TOOL" --placements "$N" --nodes 100 --queries 0 --updates "$U" 2>"$T/valgrind.log" | grep -v '_us \|_rate ' || true
# Part 1: agents' mix; part 2: every numeric column moves
for part in 1 2; do
  f="$T/cg.out.$part"
  [ -f "$f" ] || { echo "bench-readmodel-callgrind: no $f (see $T/valgrind.log)" >&2; exit 1; }
  ir=$(callgrind_annotate --inclusive=yes "$f" 2>/dev/null | awk '/sf_readmodel_apply \[/ && !n++ { gsub(",", "", $1); print $1 }' || true)
  tag=$([ $part = 1 ] && echo update || echo update_all)
  label=$([ $part = 1 ] && echo "agents' mix" || echo "every numeric column moves")
  per=$(( ${ir:-0} / U ))
  echo "writer ($label): $per instructions per update (both copies, sf_readmodel_apply inclusive)"
  echo "RESULT rm_${tag}_instructions $per instructions"
done
