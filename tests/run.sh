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
#
# Integration scripts run SF_TEST_JOBS (3) at a time: most of their time is
# waiting on daemons, not CPU. A script whose header has the line
#   # sf-test: serial
# runs alone (nothing else runs beside it): timing-critical or CPU-heavy ones.
# SF_TEST_JOBS=1 runs everything one after another. Whatever the order the
# scripts end in, the summary has one line per script in name order, then the
# failures, then the totals.
#
# Logs: each test's output is in SF_TEST_LOGS (build/test-logs)/NAME.log; a
# failing integration script leaves its daemons' logs in build/test-logs/NAME/
# (tests/lib.sh copies them there). For each failure the summary shows the
# last lines of the script's log and of those daemon logs (at most about 150
# lines a script), so the CI output alone is enough to see why.
set -u
cd "$(dirname "$0")/.."
mode=${1:-all}
pattern=${2:-}
jobs=${SF_TEST_JOBS:-3}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: SF_TEST_JOBS must be a positive number, not '$jobs'" >&2; exit 2; }
passed=0; failed=0; failures=(); details=()
log_dir=${SF_TEST_LOGS:-build/test-logs}
mkdir -p "$log_dir"
state=$(mktemp -d "${TMPDIR:-/tmp}/sf-run.XXXXXX")
# Ports handed out by tests/lib.sh free_port are reserved here for the whole
# run, so scripts running at once never pick the same one
export SF_PORT_DIR=$state/ports
mkdir -p "$SF_PORT_DIR"
running_pids=()
on_exit() {
  local p
  for p in "${running_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  # the tests stop their daemons (timeout passes the TERM on); then the state goes
  for p in "${running_pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$state"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# count FILE LABEL: adds FILE's TAP results to the totals and sets p and n.
# Runs in this shell (never in a subshell), or the totals would be lost.
count() {
  local f=$1 label=$2
  p=$(grep -cE '^ok ' "$f" || true)
  n=$(grep -cE '^not ok ' "$f" || true)
  passed=$((passed + p)); failed=$((failed + n))
  while IFS= read -r line; do failures+=("$label: $line"); done < <(grep -E '^not ok ' "$f" || true)
}

# excerpt FILE LINES: FILE's last LINES lines, indented (so that a log's own
# "ok"/"not ok" lines are never read as this run's results)
excerpt() { tail -n "$2" "$1" 2>/dev/null | cut -c1-300 | sed 's/^/    | /'; }

# diagnose LABEL OUT LOGS_DIR: what a failing test left, bounded: the last 40
# lines of its own output, then the daemon logs' last lines (about 110 lines
# in all, the most recently written logs first)
diagnose() {
  local label=$1 out=$2 dir=$3 budget=110 f files=() each lines total_lines
  # the first failure's neighbourhood too, when it is not among the last lines
  local first all
  first=$(grep -nE -m1 '^not ok ' "$out" | cut -d: -f1); all=$(wc -l <"$out")
  if [ -n "$first" ] && [ $((all - first)) -ge 40 ]; then
    details+=("==== $label: around its first failure (line $first of $out)")
    details+=("$(sed -n "$((first > 5 ? first - 5 : 1)),$((first + 9))p" "$out" | cut -c1-300 | sed 's/^/    | /')")
    details+=("---- and its last lines")
    details+=("$(excerpt "$out" 25)")
  else
    details+=("==== $label: last lines of $out")
    details+=("$(excerpt "$out" 40)")
  fi
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  while IFS= read -r f; do [ -s "$f" ] && files+=("$f"); done < <(find "$dir" -type f -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2-)
  [ ${#files[@]} -gt 0 ] || return 0
  each=$(( budget / ${#files[@]} )); [ $each -lt 8 ] && each=8; [ $each -gt 40 ] && each=40
  for f in "${files[@]}"; do
    [ $budget -lt 8 ] && { details+=("---- (more daemon logs in $dir/)"); break; }
    total_lines=$(wc -l <"$f")
    lines=$each; [ $lines -gt $budget ] && lines=$budget; [ $lines -gt $total_lines ] && lines=$total_lines
    [ $lines -lt 1 ] && lines=1
    details+=("---- $f (last $lines of $total_lines lines)")
    details+=("$(excerpt "$f" "$lines")")
    budget=$((budget - lines - 1))
  done
}

# The jobs: J_KIND (unitsh, unit, fuzz, integration), J_PATH, J_OUT, J_SERIAL
J_KIND=(); J_PATH=(); J_OUT=(); J_SERIAL=(); J_LABEL=()
add_job() { J_KIND+=("$1"); J_PATH+=("$2"); J_OUT+=("$3"); J_SERIAL+=("$4"); J_LABEL+=("$5"); }

if [ "$mode" = all ] || [ "$mode" = unit ]; then
  # Unit-style shell checks of the source tree (TAP), once
  for t in tests/unit/*.sh; do
    [ -f "$t" ] || continue
    [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && continue
    add_job unitsh "$t" "$log_dir/$(basename "$t" .sh).log" 0 "$t"
  done
  for dir in build build-asan; do
    for t in "$dir"/tests/test_*; do
      [ -x "$t" ] || continue
      [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && continue
      add_job unit "$t" "$log_dir/$(basename "$t")-$dir.log" 0 "$t"
    done
  done
fi

fuzz_targets=()
if [ "$mode" = all ] || [ "$mode" = fuzz ]; then
  for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c); t=${t#fuzz_}
    [ -n "$pattern" ] && [[ "$t" != *$pattern* ]] && continue
    fuzz_targets+=("$t")
  done
  # two targets at a time: both cores, so it runs alone
  [ ${#fuzz_targets[@]} -gt 0 ] && add_job fuzz tests/fuzz "$log_dir/fuzz.log" 1 "tests/fuzz (${#fuzz_targets[@]} targets)"
fi

if [ "$mode" = all ] || [ "$mode" = integration ]; then
  for s in tests/integration/*.sh; do
    [ -f "$s" ] || continue
    [ -n "$pattern" ] && [[ "$s" != *$pattern* ]] && continue
    serial=0
    head -n 40 "$s" | grep -qE '^# sf-test:.*\bserial\b' && serial=1
    add_job integration "$s" "$log_dir/$(basename "$s" .sh).log" "$serial" "$s"
  done
fi

# run_job I: runs job I (in a background subshell); writes "RC SECONDS" to
# $state/I. The test runs under timeout, the subshell's child: a TERM from an
# interrupted run.sh is passed to timeout, which passes it to the test's group
run_job() {
  local i=$1 t=${J_PATH[$1]} out=${J_OUT[$1]} start rc child
  start=$(date +%s)
  case ${J_KIND[$i]} in
    unitsh) set -- timeout 300 bash "$t" ;;
    unit) set -- env CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 timeout 300 "$t" ;;
    fuzz) set -- env FUZZ_SECONDS="${FUZZ_TEST_SECONDS:-3}" FUZZ_RUNS="${FUZZ_TEST_RUNS:-20000}" FUZZ_JOBS=2 \
            timeout -k 10 600 bash tests/fuzz/run.sh "${fuzz_targets[@]}" ;;
    integration)
      local name; name=$(basename "$t" .sh)
      rm -rf "${log_dir:?}/$name"
      set -- env SF_TEST_LOG_DIR="$log_dir/$name" timeout -k 10 600 bash "$t" ;;
  esac
  "$@" >"$out" 2>&1 </dev/null &
  child=$!
  trap 'kill -TERM $child 2>/dev/null' TERM INT
  wait $child; rc=$?
  # a signal interrupts wait: wait again for the test's own status
  while kill -0 $child 2>/dev/null; do wait $child; rc=$?; done
  { echo "$rc $(( $(date +%s) - start ))" >"$state/$i.tmp" && mv "$state/$i.tmp" "$state/$i"; } 2>/dev/null
}

# report I: the job's summary line and totals, once it has ended (in order)
report() {
  local i=$1 t=${J_LABEL[$1]} out=${J_OUT[$1]} rc secs dir=
  read -r rc secs <"$state/$i"
  count "$out" "$t"
  if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
    local why="exited $rc"
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && why="timed out (exit $rc)"
    failed=$((failed + 1)); failures+=("$t: $why (see $out)")
    n=1
  fi
  case ${J_KIND[$i]} in
    unitsh|unit) printf '%-44s %3d passed %3d failed\n' "$t" "$p" "$n" ;;
    *) printf '%-44s %3d passed %3d failed  %4ds\n' "$t" "$p" "$n" "$secs" ;;
  esac
  if [ "$n" -gt 0 ]; then
    [ "${J_KIND[$i]}" = integration ] && dir=$log_dir/$(basename "${J_PATH[$i]}" .sh)
    [ "${J_KIND[$i]}" = fuzz ] && dir=build-fuzz/logs
    diagnose "$t" "$out" "$dir"
  fi
}

# job_ended PID: job PID is over; frees its slot
job_ended() {
  local i=${job_of[$1]} keep=() q
  unset "job_of[$1]"
  running=$((running - 1))
  [ "${J_SERIAL[$i]}" = 1 ] && serial_running=0
  for q in "${running_pids[@]}"; do [ "$q" = "$1" ] || keep+=("$q"); done
  running_pids=("${keep[@]}")
  # a job killed before it wrote its result still gets a line
  [ -f "$state/$i" ] || echo "1 0" >"$state/$i"
}

total=${#J_KIND[@]}
# The order jobs start in: the serial ones first, one by one (nothing else has
# started, so none waits for the pool to drain), then the others
order=()
for i in "${!J_KIND[@]}"; do [ "${J_SERIAL[$i]}" = 1 ] && order+=("$i"); done
for i in "${!J_KIND[@]}"; do [ "${J_SERIAL[$i]}" = 1 ] || order+=("$i"); done
next=0 printed=0 running=0 serial_running=0
declare -A job_of
while [ $printed -lt $total ]; do
  # start what may start: a serial job only when nothing runs, and nothing beside it
  while [ $next -lt $total ] && [ $serial_running -eq 0 ]; do
    j=${order[$next]}
    if [ "${J_SERIAL[$j]}" = 1 ]; then
      [ $running -eq 0 ] || break
      serial_running=1
    else
      [ $running -lt "$jobs" ] || break
    fi
    run_job "$j" &
    job_of[$!]=$j; running_pids+=($!); running=$((running + 1)); next=$((next + 1))
  done
  # print, in order, what has ended
  while [ $printed -lt $total ] && [ -f "$state/$printed" ]; do
    report "$printed"; printed=$((printed + 1))
  done
  [ $printed -lt $total ] || break
  # wait for a job to end (other children, e.g. process substitutions, are skipped)
  ended=
  wait -n -p ended 2>/dev/null
  if [ -z "$ended" ]; then
    # nothing left to wait for: whatever still counts as running has ended
    for pid in "${!job_of[@]}"; do kill -0 "$pid" 2>/dev/null || job_ended "$pid"; done
    sleep 0.1
  elif [ -n "${job_of[$ended]:-}" ]; then
    job_ended "$ended"
  fi
done

if [ ${#failures[@]} -gt 0 ]; then
  echo; echo "What the failing tests left (their logs' last lines):"
  printf '%s\n' "${details[@]}"
  echo; echo "Failures:"; printf '  %s\n' "${failures[@]}"
  echo "Logs are in $log_dir/"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
