#!/usr/bin/env bash
# 83_query_no_read.sh — query clients that do not read their replies cost the
# controller a bounded amount of memory (issue 12, item 6). Before, the query
# socket queued up to 1,000 replies per connection (about 200 MiB each for
# ~200 KB listings) and never gave them back. Now at most a few replies wait
# per client; the next ones are dropped and counted
# (streamfleet_query_replies_dropped_total) and logged at a limited rate,
# and every other client is served meanwhile. (The log limiter lets 10 lines
# through per 10 s.)
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
start_agent n1 "$CTL_c1_AGENTS" --sim-streams 2000 --sim-update-pct 0 --sim-churn-pct 0
check "2,000 streams reach the controller" wait_until 30 total_is 2000
metric() { curl -sf "http://$CTL_c1_HTTP/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
rss_kb() { ps -o rss= -p "$(pid_of c1)" | tr -d ' '; }
# One listing page of 1,000 placements, as the CLI asks for it
REQ='[1, "list", {"limit": 1000}]'
BYTES=$("$TOOLS/sf_rawclient" --endpoint "$CTL_c1_QUERY" --cert "$T/keys/ops" \
  --server-cert "$T/keys/controller" --json "$REQ" | wc -c)
echo "# one reply: about $BYTES bytes as JSON"
Q0=$(metric streamfleet_queries_total)
RSS0=$(rss_kb)
N=200; CLIENTS=3
for i in $(seq 1 $CLIENTS); do
  bg "deaf$i" "$TOOLS/sf_rawclient" --endpoint "$CTL_c1_QUERY" --cert "$T/keys/ops" \
    --server-cert "$T/keys/controller" --no-read $N --hold-ms 60000 --json "$REQ"
done
answered() { [ "$(metric streamfleet_queries_total)" -ge $((Q0 + N * CLIENTS)) ]; }
check "the controller answers every request of the clients that do not read" wait_until 60 answered
check "another client is served meanwhile" total_is 2000
RSS1=$(rss_kb)
GROWTH=$(( (RSS1 - RSS0) / 1024 ))
echo "# controller RSS ${RSS0} kB -> ${RSS1} kB with $CLIENTS clients not reading ($((N * CLIENTS)) replies)"
check "controller memory stays bounded (+${GROWTH} MiB, limit 40)" test "$GROWTH" -lt 40
DROPPED=$(metric streamfleet_query_replies_dropped_total)
check "replies to the clients that do not read are dropped and counted (${DROPPED:-none})" \
  test "${DROPPED:-0}" -ge $((CLIENTS * (N - 50)))
check "the drops are logged, naming the client, at a limited rate" \
  bash -c "n=\$(grep -c 'query: dropped a reply to ops: it is not reading' '$T/c1.log'); [ \$n -ge 1 ] && [ \$n -le 30 ]"
check "the controller still answers after the clients go" bash -c "
  kill $(pid_of deaf1) $(pid_of deaf2) $(pid_of deaf3); total_is 2000"
sf_done
