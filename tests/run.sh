#!/usr/bin/env bash
# Runs streamfleet's tests and ends with the line "N passed, N failed".
#   tests/run.sh [unit|integration|fuzz|all] [PATTERN]
# Unit tests (cmocka) run twice: plain and under ASan/UBSan (build-asan/);
# tests/unit/*.sh (checks of the source tree, TAP) run once.
# Fuzz: every libFuzzer target (build-fuzz/, make fuzz-build) runs over its corpus and then
# FUZZ_TEST_RUNS (20000) inputs from a fixed seed, at most FUZZ_TEST_SECONDS (3), two at a
# time, as a regression check: the same inputs every run, so a new random find never turns
# make test red (finding new bugs is make fuzz's job); a missing target fails.
# Integration scripts in tests/integration/ print TAP lines ("ok - …",
# "not ok - …"); a script that dies without saying why counts as one failure.
set -u
cd "$(dirname "$0")/.."
mode=${1:-all}
pattern=${2:-}
passed=0; failed=0; failures=()
log_dir=${SF_TEST_LOGS:-build/test-logs}
mkdir -p "$log_dir"

# count FILE LABEL: adds FILE's TAP results to the totals and sets p and n.
# Runs in this shell (never in a subshell), or the totals would be lost.
count() {
  local f=$1 label=$2
  p=$(grep -cE '^ok ' "$f" || true)
  n=$(grep -cE '^not ok ' "$f" || true)
  passed=$((passed + p)); failed=$((failed + n))
  while IFS= read -r line; do failures+=("$label: $line"); done < <(grep -E '^not ok ' "$f" || true)
}

if [ "$mode" = all ] || [ "$mode" = unit ]; then
  # Unit-style shell checks of the source tree (TAP), once
  for t in tests/unit/*.sh; do
    [ -f "$t" ] || continue
    [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && continue
    out="$log_dir/$(basename "$t" .sh).log"
    timeout 300 bash "$t" >"$out" 2>&1
    rc=$?
    count "$out" "$t"
    if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
      failed=$((failed + 1)); failures+=("$t: exited $rc (see $out)")
    fi
    printf '%-44s %3d passed %3d failed\n' "$t" "$p" "$n"
  done
  for dir in build build-asan; do
    for t in "$dir"/tests/test_*; do
      [ -x "$t" ] || continue
      [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && continue
      out="$log_dir/$(basename "$t")-$dir.log"
      CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 timeout 300 "$t" >"$out" 2>&1
      rc=$?
      count "$out" "$t"
      if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
        failed=$((failed + 1)); failures+=("$t: exited $rc (see $out)")
      fi
      printf '%-44s %3d passed %3d failed\n' "$t" "$p" "$n"
    done
  done
fi

if [ "$mode" = all ] || [ "$mode" = fuzz ]; then
  out="$log_dir/fuzz.log"
  start=$(date +%s)
  targets=()
  for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c); t=${t#fuzz_}
    [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && continue
    targets+=("$t")
  done
  FUZZ_SECONDS=${FUZZ_TEST_SECONDS:-3} FUZZ_RUNS=${FUZZ_TEST_RUNS:-20000} FUZZ_JOBS=2 bash tests/fuzz/run.sh "${targets[@]}" >"$out" 2>&1
  count "$out" "tests/fuzz"
  printf '%-44s %3d passed %3d failed  %4ds\n' "tests/fuzz (${#targets[@]} targets)" "$p" "$n" "$(( $(date +%s) - start ))"
fi

if [ "$mode" = all ] || [ "$mode" = integration ]; then
  for s in tests/integration/*.sh; do
    [ -f "$s" ] || continue
    [ -n "$pattern" ] && [[ "$s" != *$pattern* ]] && continue
    out="$log_dir/$(basename "$s" .sh).log"
    start=$(date +%s)
    timeout -k 10 600 bash "$s" >"$out" 2>&1
    rc=$?
    count "$out" "$s"
    if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
      failed=$((failed + 1)); failures+=("$s: exited $rc (see $out)")
    fi
    printf '%-44s %3d passed %3d failed  %4ds\n' "$s" "$p" "$n" "$(( $(date +%s) - start ))"
  done
fi

if [ ${#failures[@]} -gt 0 ]; then
  echo; echo "Failures:"; printf '  %s\n' "${failures[@]}"
  echo "Logs are in $log_dir/"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
