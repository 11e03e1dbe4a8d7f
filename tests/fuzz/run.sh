#!/usr/bin/env bash
# tests/fuzz/run.sh [TARGET...] — runs the libFuzzer targets (make fuzz-build builds them
# into build-fuzz/fuzz/) and prints one TAP line per target with its executions.
#   FUZZ_SECONDS  seconds per target (60)
#   FUZZ_JOBS     targets run at once (1); 2 halves the wall time on two cores
#   FUZZ_OUT      the build directory (build-fuzz): binaries in OUT/fuzz/, corpus, crashes, logs
#   FUZZ_RUNS     when set: at most this many inputs per target, from a fixed seed (-seed=1),
#                 so the run is the same sequence every time (make test's regression check:
#                 a slow machine runs a shorter prefix of it, never a different one)
# Each target reads its seeds from tests/fuzz/TARGET/ and keeps what it finds in
# build-fuzz/corpus/TARGET/; a crash, leak, sanitizer report or failed property is
# saved under build-fuzz/crashes/TARGET/ and makes the line "not ok". Logs go to
# build-fuzz/logs/TARGET.log. Exit status 0 only when every target ran clean.
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
out=${FUZZ_OUT:-build-fuzz}
mkdir -p "$out/logs"
run_one() {
  local t=$1 bin=$out/fuzz/fuzz_$1 log=$out/logs/$1.log
  if [ ! -x "$bin" ]; then
    echo "not ok - fuzz $t: $bin is missing (make fuzz-build needs clang: make deps installs it)"
    return 1
  fi
  mkdir -p "$out/corpus/$t" "$out/crashes/$t"
  local start; start=$(date +%s)
  local det=()
  [ -n "${FUZZ_RUNS:-}" ] && det=(-runs="$FUZZ_RUNS" -seed=1)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$out/crashes/$t/" "${det[@]}" \
      "$out/corpus/$t" "tests/fuzz/$t" >"$log" 2>&1
  local rc=$?
  local execs; execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  local units; units=$(ls "$out/corpus/$t" | wc -l)
  local took=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    echo "ok - fuzz $t: ${execs:-?} executions in ${took} s, corpus $units new inputs"
  else
    echo "not ok - fuzz $t: exit $rc after ${execs:-?} executions; see $log and $out/crashes/$t/"
    return 1
  fi
}
fails=0
i=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" > "$out/logs/$t.tap" &
  pids+=($!)
  i=$((i + 1))
  if [ $((i % jobs)) -eq 0 ]; then
    for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
    pids=()
  fi
done
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
for t in "${targets[@]}"; do cat "$out/logs/$t.tap"; done
[ $fails -eq 0 ]
