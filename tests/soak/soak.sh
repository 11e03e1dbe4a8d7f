#!/usr/bin/env bash
# tests/soak/soak.sh — `make soak` (issue 12): the controller and agents under
# overload, restarts and partitions for SOAK_MINUTES (default 30), checked
# continuously, with a report at the end. Not part of `make test`.
#
# Set-up (network namespaces, as tests/integration/50_cluster_faults.sh): three
# controllers c1..c3 on their own hosts, SOAK_AGENTS agents (20) on a fourth,
# each simulating SOAK_STREAMS streams (10,000) with 10 % updating per second
# and the default churn, home controller c(i mod 3) with the next as fallback;
# a CPU hog; slow query clients (a full listing page every second) and query
# clients that never read their replies, against every controller.
# Faults: an agent restarted every SOAK_RESTART_S (60); a controller killed
# with -9 every SOAK_KILL_S (300) and started again 3 s later; a controller
# partitioned for SOAK_PARTITION_S (60) every SOAK_PARTITION_EVERY_S (600).
# Checks, continuously:
#   * ingest never stalls longer than 2 s: on every controller that is up and
#     reachable, streamfleet_ingest_messages_total rises (a canary agent
#     attached to each controller alone heartbeats every 200 ms);
#   * every node converges within 10 s of its agent's restart: all three
#     controllers list SOAK_STREAMS placements for it, the agent's new
#     generation's snapshot applied;
#   * each controller's RSS stays within 2x of its steady state (taken once
#     the fleet has first converged);
#   * no node is reported down, by a controller that is up and connected,
#     while its agent runs;
# and at the end, with the agents stopped (each logs, as it stops, what each
# controller acknowledged of its generation and the newest acknowledged change
# of a placement it still holds): every controller holds the same placements
# at the same versions (one state digest), SOAK_AGENTS x SOAK_STREAMS of them,
# and for every node, on every controller, all of its placements at the
# agent's last generation with the newest at or past that acknowledged
# change: every acknowledged change is on every controller.
# The report (one PASS or FAIL line per check, then the result) goes to
# stdout and $SOAK_REPORT (build/soak-report.txt).
# Interrupted (Ctrl-C, TERM), it still stops every process it started, by
# pid, and deletes its network namespaces.
# Exit 0 when every check held, 1 otherwise, 2 when it could not run.
. "$(dirname "$0")/../lib.sh"
. "$SF_ROOT/tests/helpers/netns.sh"

MINUTES=${SOAK_MINUTES:-30}
AGENTS=${SOAK_AGENTS:-20}
STREAMS=${SOAK_STREAMS:-10000}
RESTART_S=${SOAK_RESTART_S:-60}
KILL_S=${SOAK_KILL_S:-300}
PART_EVERY_S=${SOAK_PARTITION_EVERY_S:-600}
PART_S=${SOAK_PARTITION_S:-60}
GRACE_S=${SOAK_GRACE_S:-20}         # after a controller returns, before it is judged
REPORT=${SOAK_REPORT:-$SF_ROOT/build/soak-report.txt}
TOTAL=$((AGENTS * STREAMS + 3))     # and one placement per canary
CTLS=(c1 c2 c3)

NS_HOSTS=(c1 c2 c3 ag)
declare -A NS_IP=([c1]=10.77.0.1 [c2]=10.77.0.2 [c3]=10.77.0.3 [ag]=10.77.0.10)
trap 'sf_cleanup; netns_down' EXIT
if ! netns_up 2>"$T/netns.err"; then
  echo "soak: network namespaces are needed (run as root): $(head -c 200 "$T/netns.err")"
  exit 2
fi
ep() { echo "tcp://${NS_IP[$1]}:$2"; }
now_s() { date +%s; }
V="$T/violations"; : > "$V"
violation() { echo "$(date -u +%H:%M:%S) $*" >> "$V"; echo "# VIOLATION: $*"; }
note() { echo "# $(date -u +%H:%M:%S) $*"; }

sf_keys
start_ctl() {
  local c=$1
  mkdir -p "$T/$c"
  # the log of every incarnation is kept (before bg truncates it)
  cat "$T/$c.log" >> "$T/$c.all.log" 2>/dev/null
  bg "$c" on_exec "$c" "$BIN/streamfleet-controller" --id "$c" --data-dir "$T/$c/data" \
    --cert "$T/keys/controller" --certs-dir "$T/allowed" \
    --agents "$(ep "$c" 7600)" --query "$(ep "$c" 7601)" --peers "$(ep "$c" 7602)" \
    --http 127.0.0.1:7680 --seeds "$(ep c1 7602),$(ep c2 7602),$(ep c3 7602)"
  pid_of "$c" > "$T/pid.$c"
}
metric() { on "$1" curl -sf -m 2 http://127.0.0.1:7680/metrics | awk -v m="$2" '$1 == m { print $2 }'; }
q() { local c=$1; shift; on ag "$BIN/streamfleet" --controller "$(ep "$c" 7601)" --timeout-ms 5000 "$@"; }
digest_of() { q "$1" cluster -o json 2>/dev/null | json_get '[m["state_digest"] for m in d["members"] if m["self"]][0]'; }
# node_counts C: "node nstreams liveness" lines from C's API
node_counts() {
  on "$1" curl -sf -m 5 http://127.0.0.1:7680/api/v1/nodes |
    json_get '"\n".join("%s %s %s" % (n["id"], n["counts"]["streams"], n["liveness"]) for n in d["nodes"])'
}
# Excluded until (unix s): a controller killed or partitioned, plus grace
declare -A EXCL=([c1]=0 [c2]=0 [c3]=0)
save_excl() { local c; for c in "${CTLS[@]}"; do echo "${EXCL[$c]}" > "$T/excl.$c"; done; }
save_excl

for c in "${CTLS[@]}"; do start_ctl "$c"; done
wait_until 30 q c3 nodes >/dev/null || { echo "soak: controllers did not start"; exit 2; }

start_agent_n() {
  local i=$1 n="n$1"
  local home=${CTLS[$(( i % 3 ))]} next=${CTLS[$(( (i + 1) % 3 ))]}
  [ -f "$T/keys/$n" ] || agent_key "$n"
  mkdir -p "$T/agent-$n"
  cat "$T/agent_$n.log" >> "$T/agent_$n.all.log" 2>/dev/null
  bg "agent_$n" on_exec ag "$BIN/streamfleet-agent" --node "$n" \
    --controllers "$(ep "$home" 7600),$(ep "$next" 7600)" \
    --cert "$T/keys/$n" --server-cert "$T/keys/controller" --state-dir "$T/agent-$n" \
    --source simulate --sim-streams "$STREAMS" --sim-seed "$i" --sim-update-pct 10
  pid_of "agent_$n" > "$T/pid.$n"
  echo $(( $(now_s) + 3 )) > "$T/restarting.$n"     # not judged while it starts
}
for i in $(seq 1 "$AGENTS"); do start_agent_n "$i"; done
# A canary per controller, attached to it alone and heartbeating every 200 ms:
# its messages keep rising while that controller reads, whichever agents
# failed over away from it
for c in "${CTLS[@]}"; do
  agent_key "canary-$c"; mkdir -p "$T/agent-canary-$c"
  bg "canary_$c" on_exec ag "$BIN/streamfleet-agent" --node "canary-$c" --controllers "$(ep "$c" 7600)" \
    --cert "$T/keys/canary-$c" --server-cert "$T/keys/controller" --state-dir "$T/agent-canary-$c" \
    --source simulate --sim-streams 1 --sim-update-pct 0 --sim-churn-pct 0 --heartbeat-ms 200
done

# CPU hog, slow readers, non-readers
bg hog sh -c 'while :; do :; done'
# (each loop stops its current client, by pid, when it is stopped)
LOOP='trap "kill \$c 2>/dev/null; exit 0" TERM INT; while :; do'
for c in "${CTLS[@]}"; do
  bg "slow_$c" bash -c "$LOOP ip netns exec sfag$NS_TAG $BIN/streamfleet --controller $(ep "$c" 7601) \
    --timeout-ms 5000 streams --limit 1000 -o json >/dev/null 2>&1 & c=\$!; wait \$c; sleep 1; done"
  bg "deaf_$c" bash -c "$LOOP ip netns exec sfag$NS_TAG $TOOLS/sf_rawclient --endpoint $(ep "$c" 7601) --cert $T/keys/ops \
    --server-cert $T/keys/controller --no-read 200 --hold-ms 30000 --json '[1, \"list\", {\"limit\": 1000}]' & c=\$!; wait \$c; done"
done

converged() {
  local c d first=""
  for c in "${CTLS[@]}"; do
    d=$(digest_of "$c") || return 1
    [ -n "$d" ] || return 1
    [ -z "$first" ] && first=$d
    [ "$d" = "$first" ] || return 1
    [ "$(q "$c" streams --limit 0 -o json 2>/dev/null | json_get 'd["total"]')" = "$TOTAL" ] || return 1
  done
}
# wait_slowly SECONDS CMD...: like wait_until, polling every 3 s (each poll
# asks all three controllers)
wait_slowly() {
  local end=$(( $(now_s) + $1 )); shift
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ "$(now_s)" -ge "$end" ] && return 1
    sleep 3
  done
}
# While agents update, digests differ from moment to moment: at the start,
# every controller listing every placement is convergence enough
all_listed() {
  local c
  for c in "${CTLS[@]}"; do
    [ "$(q "$c" streams --limit 0 -o json 2>/dev/null | json_get 'd["total"]')" = "$TOTAL" ] || return 1
  done
}
note "waiting for the fleet to converge: $AGENTS agents x $STREAMS streams on 3 controllers"
T_START=$(now_s)
if ! wait_slowly 600 all_listed; then
  violation "the fleet did not converge within 600 s of the start"
  FIRST="FAIL  first convergence: not within 600 s"
else
  FIRST="PASS  first convergence: $(( $(now_s) - T_START )) s (limit 600 s)"
fi
note "converged after $(( $(now_s) - T_START )) s"
# Steady-state RSS: after a warm-up under the full load (clients, updates)
declare -A RSS0
rss_kb() { ps -o rss= -p "$(cat "$T/pid.$1")" 2>/dev/null | tr -d ' '; }
sleep "${SOAK_WARMUP_S:-60}"
for c in "${CTLS[@]}"; do RSS0[$c]=$(rss_kb "$c"); echo "${RSS0[$c]}" > "$T/rss0.$c"; done
note "steady-state RSS: c1 ${RSS0[c1]} kB, c2 ${RSS0[c2]} kB, c3 ${RSS0[c3]} kB"

# --- The sampler: stalls, RSS, nodes down ------------------------------------
sampler() {
  declare -A last last_rise rss_max
  local c v t
  for c in "${CTLS[@]}"; do last[$c]=-1; last_rise[$c]=$(now_s); rss_max[$c]=0; done
  local tick=0
  while :; do
    t=$(now_s)
    for c in "${CTLS[@]}"; do
      local excl; excl=$(cat "$T/excl.$c")
      v=$(metric "$c" streamfleet_ingest_messages_total)
      if [ -n "$v" ] && [ "$v" != "${last[$c]}" ]; then last_rise[$c]=$t; fi
      [ -n "$v" ] && last[$c]=$v
      # judged on answers only: a scrape that failed under load says nothing
      # about ingest (it is counted apart)
      [ -z "$v" ] && echo "$t $c" >> "$T/scrape_failures"
      if [ -n "$v" ] && [ "$t" -gt "$excl" ] && [ $(( t - last_rise[$c] )) -gt 2 ] && [ "${last[$c]}" != -1 ]; then
        echo "$t $c $(( t - last_rise[$c] ))" >> "$T/stalls"
      fi
      [ "$t" -le "$excl" ] && last_rise[$c]=$t
      local r; r=$(rss_kb "$c")
      [ -n "$r" ] && echo "$t $c $r" >> "$T/rss"
    done
    if [ $(( tick % 5 )) = 0 ]; then
      for c in "${CTLS[@]}"; do
        [ "$t" -gt "$(cat "$T/excl.$c")" ] || continue
        node_counts "$c" 2>/dev/null | while read -r n cnt live; do
          [ "$live" = down ] || continue
          case $n in canary-*) continue ;; esac   # heard by its own controller only
          local p; p=$(cat "$T/pid.$n" 2>/dev/null)
          [ -n "$p" ] && kill -0 "$p" 2>/dev/null || continue
          [ "$t" -gt "$(cat "$T/restarting.$n" 2>/dev/null || echo 0)" ] || continue
          echo "$t $c $n" >> "$T/downs"
        done
      done
    fi
    tick=$((tick + 1))
    sleep 1
  done
}
sampler &
SAMPLER=$!; PIDS+=("$SAMPLER")

# --- Faults --------------------------------------------------------------------
END=$(( $(now_s) + MINUTES * 60 ))
T0=$(now_s)
next_restart=$(( T0 + RESTART_S )); next_kill=$(( T0 + KILL_S ))
next_part=$(( T0 + PART_EVERY_S / 2 )); part_until=0; part_ctl=""
ri=0; ki=0; pi=2
restarts=0 kills=0 parts=0
: > "$T/converge"
snap_count() { cat "$T"/c?.all.log "$T"/c?.log 2>/dev/null | grep -c "snapshot of $1 applied: $STREAMS placements"; }
converge_watch() {   # NODE T_RESTART SNAPSHOTS_BEFORE: time until every controller lists it whole
  local n=$1 t0=$2 before=$3 c ok
  while [ $(( $(now_s) - t0 )) -le 30 ]; do
    ok=1
    for c in "${CTLS[@]}"; do
      [ "$(now_s)" -gt "$(cat "$T/excl.$c")" ] || continue
      [ "$(q "$c" streams --node "$n" --limit 0 -o json 2>/dev/null | json_get 'd["total"]')" = "$STREAMS" ] || ok=0
    done
    # and the new generation's snapshot was applied somewhere
    if [ $ok = 1 ] && [ "$(snap_count "$n")" -gt "$before" ]; then
      echo "$n $(( $(now_s) - t0 )) $t0" >> "$T/converge"; return
    fi
    sleep 1
  done
  echo "$n timeout $t0" >> "$T/converge"
}
while [ "$(now_s)" -lt "$END" ]; do
  t=$(now_s)
  if [ "$t" -ge "$next_restart" ]; then
    i=$(( ri % AGENTS + 1 )); ri=$((ri + 1))
    note "restarting agent n$i"
    before=$(snap_count "n$i")
    stop "agent_n$i"; start_agent_n "$i"; restarts=$((restarts + 1))
    converge_watch "n$i" "$t" "$before" &
    PIDS+=("$!")
    next_restart=$(( t + RESTART_S ))
  fi
  if [ "$t" -ge "$next_kill" ]; then
    c=${CTLS[$(( ki % 3 ))]}; ki=$((ki + 1))
    if [ "$c" != "$part_ctl" ]; then
      note "kill -9 $c"
      EXCL[$c]=$(( t + 3 + GRACE_S + 30 )); save_excl
      stop "$c" KILL; sleep 3; start_ctl "$c"; kills=$((kills + 1))
    fi
    next_kill=$(( t + KILL_S ))
  fi
  if [ -z "$part_ctl" ] && [ "$t" -ge "$next_part" ]; then
    part_ctl=${CTLS[$(( pi % 3 ))]}; pi=$((pi + 1))
    note "partitioning $part_ctl for $PART_S s"
    EXCL[$part_ctl]=$(( t + PART_S + GRACE_S )); save_excl
    ns_cut "$part_ctl"; part_until=$(( t + PART_S )); parts=$((parts + 1))
    next_part=$(( t + PART_EVERY_S ))
  fi
  if [ -n "$part_ctl" ] && [ "$t" -ge "$part_until" ]; then
    note "healing $part_ctl"; ns_heal "$part_ctl"; part_ctl=""
  fi
  sleep 1
done
[ -n "$part_ctl" ] && ns_heal "$part_ctl"
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
sleep 31     # the last convergence watches end

# --- The end: agents stopped, everything acknowledged must be everywhere -----
# Each agent logs as it stops what each controller acknowledged of its
# generation, and the newest acknowledged change of a placement it holds
for i in $(seq 1 "$AGENTS"); do kill -TERM "$(pid_of "agent_n$i")" 2>/dev/null; done
: > "$T/acked"
for i in $(seq 1 "$AGENTS"); do
  stop "agent_n$i"
  line=$(grep "agent stopping:" "$T/agent_n$i.log" | tail -1)
  gen=$(sed -n 's/.*agent stopping: generation \([0-9]*\),.*/\1/p' <<< "$line")
  held=$(sed -n 's/.*newest acknowledged placement change held: seq \([0-9]*\).*/\1/p' <<< "$line")
  echo "n$i ${gen:-?} ${held:-?}" >> "$T/acked"
done
note "agents stopped; waiting for the controllers to converge"
if wait_slowly 300 converged; then final="converged: one state digest, $TOTAL placements on each controller"
else final="NOT converged: digests $(digest_of c1) $(digest_of c2) $(digest_of c3)"; violation "$final"; fi
# node_versions C NODE: "placements at-gen max_seq_at_gen" of NODE on C, every page
node_versions() {
  local c=$1 n=$2 gen=$3 after="" page
  : > "$T/nv"
  while :; do
    page=$(on "$c" curl -sf -m 20 "http://127.0.0.1:7680/api/v1/streams?node=$n&limit=10000${after:+&after=$after}") || return 1
    printf '%s\n' "$page" | json_get '"%d %d %d" % (len(d["streams"]), sum(1 for i in d["streams"] if i["version"]["gen"] == '"$gen"'), max([i["version"]["seq"] for i in d["streams"] if i["version"]["gen"] == '"$gen"'] or [0]))' >> "$T/nv" || return 1
    after=$(printf '%s\n' "$page" | json_get 'd.get("next_after") or ""')
    [ -n "$after" ] || break
  done
  awk '{ n += $1; g += $2; if ($3 > m) m = $3 } END { print n + 0, g + 0, m + 0 }' "$T/nv"
}
: > "$T/acked_bad"
while read -r n gen held; do
  if [ "$gen" = "?" ] || [ "$held" = "?" ]; then
    echo "$n: its agent logged no acknowledged version as it stopped" >> "$T/acked_bad"; continue
  fi
  # Nothing of its last generation acknowledged: the controllers may rightly
  # hold the one before (the end's count and digest still judge it)
  [ "$held" = 0 ] && { echo "$n" >> "$T/acked_none"; continue; }
  for c in "${CTLS[@]}"; do
    read -r cnt atgen maxseq <<< "$(node_versions "$c" "$n" "$gen" || echo "- - -")"
    if [ "$cnt" = "-" ]; then echo "$n on $c: no answer" >> "$T/acked_bad"
    elif [ "$cnt" != "$STREAMS" ] || [ "$atgen" != "$cnt" ] || [ "$maxseq" -lt "$held" ]; then
      echo "$n on $c: $cnt placements, $atgen at generation $gen, newest seq $maxseq < acknowledged $held" >> "$T/acked_bad"
    fi
  done
done < "$T/acked"
[ -s "$T/acked_bad" ] && violation "acknowledged changes missing on a controller ($(wc -l < "$T/acked_bad") node/controller pairs)"

# --- Report ---------------------------------------------------------------------
# One PASS or FAIL line per check, its details indented under it
verdict() { if [ "$1" = 0 ]; then echo "PASS  $2"; else echo "FAIL  $2"; fi; }
{
  echo "soak: $MINUTES min, $AGENTS agents x $STREAMS streams (10 % updating/s), 3 controllers"
  echo "commit $(git -C "$SF_ROOT" rev-parse --short HEAD), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
  echo "faults: $restarts agent restarts, $kills controller kill -9, $parts partitions of ${PART_S} s"
  echo "$FIRST"
  if [ -s "$T/stalls" ]; then
    verdict 1 "ingest never stalls > 2 s: $(wc -l < "$T/stalls") samples over 2 s ($(awk '{print $2}' "$T/stalls" | sort | uniq -c | awk '{printf "%s %s ", $2, $1}'); longest $(sort -k3 -n "$T/stalls" | tail -1 | awk '{print $3}') s)"
    while read -r st sc sl; do echo "      stall: $sc $(date -u -d "@$st" +%H:%M:%S) ${sl} s"; done < "$T/stalls"
    violation "ingest stalled longer than 2 s"
  else verdict 0 "ingest never stalls > 2 s"; fi
  echo "      metrics scrapes that failed (not judged): $(wc -l < "$T/scrape_failures" 2>/dev/null || echo 0)"
  slow=$(awk '$2 == "timeout" || $2 > 10' "$T/converge" | wc -l)
  verdict "$slow" "convergence within 10 s of an agent's restart: $(wc -l < "$T/converge") measured, max $(awk '$2 != "timeout" {print $2}' "$T/converge" | sort -n | tail -1) s, $slow over 10 s"
  awk '$2 == "timeout" || $2 > 10' "$T/converge" | while read -r cn cs ct; do
    echo "      slow: $cn restarted at $(date -u -d "@$ct" +%H:%M:%S): $cs"; done
  [ "$slow" -gt 0 ] && violation "$slow agent restarts did not converge within 10 s"
  rss_bad=0; rss_line=""
  for c in "${CTLS[@]}"; do
    max=$(awk -v c="$c" '$2 == c && $3 > m { m = $3 } END { print m + 0 }' "$T/rss")
    rss_line+=" $c ${RSS0[$c]} -> $max kB ($(awk -v a="$max" -v b="${RSS0[$c]}" 'BEGIN { printf "%.2f", a / b }')x);"
    if [ "$max" -gt $(( RSS0[$c] * 2 )) ]; then rss_bad=1; violation "RSS of $c above 2x its steady state ($max kB)"; fi
  done
  verdict "$rss_bad" "RSS within 2x of steady state:$rss_line"
  if [ -s "$T/downs" ]; then
    verdict 1 "no node reported down while its agent ran: $(wc -l < "$T/downs") samples ($(awk '{print $2 "/" $3}' "$T/downs" | sort -u | head -10 | tr '\n' ' '))"
    violation "nodes reported down while their agent ran"
  else verdict 0 "no node reported down while its agent ran"; fi
  case $final in converged*) verdict 0 "end: $final" ;; *) verdict 1 "end: $final" ;; esac
  if [ -s "$T/acked_bad" ]; then
    verdict 1 "every acknowledged change on every controller (per node, each agent's acknowledged version): $(wc -l < "$T/acked_bad") node/controller pairs short"
    head -20 "$T/acked_bad" | sed 's/^/      /'
  else verdict 0 "every acknowledged change on every controller: $(( $(wc -l < "$T/acked") - $(cat "$T/acked_none" 2>/dev/null | wc -l) )) nodes x 3 controllers hold their agent's last generation whole, at or past its newest acknowledged change"; fi
  [ -s "$T/acked_none" ] && echo "      not judged (nothing of their last generation acknowledged): $(tr '\n' ' ' < "$T/acked_none")"
  for c in "${CTLS[@]}"; do
    echo "      $c: query replies dropped $(metric "$c" streamfleet_query_replies_dropped_total), resyncs $(metric "$c" streamfleet_ingest_resyncs_total)"
  done
  if [ -s "$V" ]; then echo "RESULT: FAIL ($(wc -l < "$V") violations)"; cat "$V"; else echo "RESULT: PASS"; fi
} | tee "$REPORT"
[ -s "$V" ] && exit 1
exit 0
