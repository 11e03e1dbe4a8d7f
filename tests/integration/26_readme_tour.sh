#!/usr/bin/env bash
# 26_readme_tour.sh — the README's tour, followed literally: the shell blocks
# between its tour:begin and tour:end markers are run in order, as written,
# in a network namespace of their own (the tour uses the default ports) with
# HOME in the test's directory. Every streamfleet command's output is kept,
# and each view the tour shows must be non-empty: the listing, a detail with
# every section, the move in `migrations` and `dvr --at`, a down node, the
# HTTP API, and two controllers with one state digest.
source "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ]; then
  not_ok "the tour test needs root (a network namespace for the default ports)"
  exit 1
fi
awk '/<!-- tour:begin -->/ {on=1; next} /<!-- tour:end -->/ {on=0}
     on && /^```sh$/ {code=1; next} on && /^```$/ {code=0; next} code {print}' \
  "$SF_ROOT/README.md" >"$T/tour.sh"
check "the README has a tour to run" test -s "$T/tour.sh"
mkdir -p "$T/home" "$T/out"
cat >"$T/run.sh" <<'RUN'
out=$1; tour=$2
ip link set lo up
_sf_n=0
# Every streamfleet command's output, kept under its command line
streamfleet() {
  _sf_n=$((_sf_n + 1))
  local f; f=$(printf '%s/%02d' "$out" "$_sf_n")
  echo "\$ streamfleet $*" >"$f"
  command streamfleet "$@" >>"$f" 2>&1
  local rc=$?
  echo "[exit $rc]" >>"$f"
  cat "$f"
  return $rc
}
source "$tour"
# The tour leaves its daemons running: stop them by pid
for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null; done
for p in $(jobs -p); do for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$p" 2>/dev/null; done
wait
RUN
( cd "$SF_ROOT" && HOME=$T/home timeout -k 5 240 unshare -n bash "$T/run.sh" "$T/out" "$T/tour.sh" ) >"$T/tour.log" 2>&1
# out CMD_PATTERN: the kept output of the first command matching it
out() { grep -l -m1 -F -- "\$ streamfleet $1" "$T"/out/* 2>/dev/null | tail -1 | xargs -r cat; }
shows() { # shows NAME CMD PATTERN...: that command's output matches every pattern
  local name=$1 cmd=$2; shift 2
  local o p; o=$(out "$cmd")
  for p in "$@"; do
    grep -qE -- "$p" <<<"$o" || { not_ok "$name" "no /$p/ in: $(head -c 300 <<<"$o" | tr '\n' ' ')"; return; }
  done
  ok "$name"
}
shows "the tour's listing shows the fleet (401 streams)" "streams --limit 10" "of 401 streams" "edge-1-cam"
shows "the tour's filter finds standby copies that record" "streams --filter secondary,dvr --limit 5" " S edge-[12]-cam"
shows "the tour's detail of lobby shows every section" "streams show lobby" \
  "edge-3" "primary" "active" "rtsp://10.1.2.3/lobby" "4f0c9a2e-lobby" "/var/dvr/lobby" "[0-9]{4}-[0-9]{2}-[0-9]{2}"
shows "the tour's JSON names lobby" "streams --name lobby -o json" '"name": *"lobby"'
shows "the tour's move shows in migrations" "migrations lobby" "transfer_started" "migrated" "edge-3" "edge-4"
shows "the tour's listing after the move marks edge-3's copy migrated" "streams --name lobby -o wide" "M lobby"
shows "the tour's dvr --at names edge-3 for 90 minutes ago" "dvr lobby --at -90m" "edge-3"
shows "the tour's stopped agent leaves its node down" "nodes" "edge-2 +down"
shows "the tour's stopped agent's streams are offline" "streams --node edge-2 --limit 3" "offline"
shows "the tour's second controller converges (one digest)" "--controller tcp://127.0.0.1:7701 cluster --wait 30" "\[exit 0\]" "alive"
shows "the second controller shows the same history" "--controller tcp://127.0.0.1:7701 migrations lobby" "migrated"
check "the tour's HTTP API answers with rows" grep -q '"name"' "$T/tour.log"
check "the tour's metrics show ingest counters" grep -q '^streamfleet_ingest' "$T/tour.log"
check "every push in the tour was answered ok" test "$(grep -c '^ok$' "$T/tour.log")" -ge 3
[ "$SF_FAILS" -eq 0 ] || { echo "# tour log:"; grep -v '^[0-9]\+ \+[PSM] ' "$T/tour.log" | sed 's/^/#   /' | head -150; }
sf_done
