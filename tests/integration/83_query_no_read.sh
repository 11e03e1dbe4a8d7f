#!/usr/bin/env bash
# 83_query_no_read.sh — query clients that do not read their replies cost the
# controller a bounded amount of memory and almost no work (issue 12, item 6).
# Before, the query socket queued up to 1,000 replies per connection (about
# 200 MiB each for ~200 KB listings) and never gave them back; then, with 4
# queued at most, the query thread still built every reply (a 1,000-row
# listing) before finding the client's queue full. Now a request whose client
# already has 4 replies waiting is dropped before its reply is built, counted
# (streamfleet_query_replies_dropped_total; streamfleet_queries_total counts
# only the replies built) and logged at a limited rate. Every other client is
# served meanwhile — one that reads slowly gets every answer — and a client
# that starts reading again is answered again. (The log limiter lets 10 lines
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
D0=$(metric streamfleet_query_replies_dropped_total)
RSS0=$(rss_kb)
N=200; CLIENTS=3; SLOW=5
RAW=("$TOOLS/sf_rawclient" --endpoint "$CTL_c1_QUERY" --cert "$T/keys/ops" --server-cert "$T/keys/controller")
for i in $(seq 1 $CLIENTS); do
  bg "deaf$i" "${RAW[@]}" --no-read $N --hold-ms 60000 --json "$REQ"
done
# A client that does not read N requests, then reads again once $T/resume is gone:
# it takes the replies that were waiting, then asks again
touch "$T/resume"
bg resumer "${RAW[@]}" --timeout-ms 10000 --no-read $N --hold-ms 0 --then-read \
  --json "$REQ" --await-absent "$T/resume" --json '[1, "columns", {}]'
# A client that reads every reply, slowly: one request at a time, a pause between
SLOWARGS=(); for i in $(seq 1 $SLOW); do SLOWARGS+=(--pause-ms 200 --json "$REQ"); done
bg slow "${RAW[@]}" --timeout-ms 10000 "${SLOWARGS[@]}"
DEAF=$((N * (CLIENTS + 1)))
handled() {
  [ $(( $(metric streamfleet_queries_total) + $(metric streamfleet_query_replies_dropped_total) )) \
    -ge $((Q0 + D0 + DEAF + SLOW)) ]
}
# (Each request is now built or dropped; the old code built every one and then
# dropped most, so there the count is reached with half of them built)
check "the controller takes every request of the clients that do not read" wait_until 120 handled
BUILT=$(( $(metric streamfleet_queries_total) - Q0 - SLOW ))
check "another client is served meanwhile" total_is 2000
wait "$(pid_of slow)"; SLOW_RC=$?
check "a client that reads slowly gets every answer" bash -c "
  [ $SLOW_RC -eq 0 ] && [ \$(grep -c '\"type\": *\"list_reply\"' '$T/slow.log') -eq $SLOW ]"
RSS1=$(rss_kb)
GROWTH=$(( (RSS1 - RSS0) / 1024 ))
echo "# controller RSS ${RSS0} kB -> ${RSS1} kB with $((CLIENTS + 1)) clients not reading ($DEAF requests)"
check "controller memory stays bounded (+${GROWTH} MiB, limit 40)" test "$GROWTH" -lt 40
DROPPED=$(( $(metric streamfleet_query_replies_dropped_total) - D0 ))
check "replies to the clients that do not read are dropped and counted ($DROPPED of $DEAF)" \
  test "$DROPPED" -ge $(((CLIENTS + 1) * (N - 50)))
# What their queues and kernel buffers took is built; the rest is not
check "requests of the clients that do not read are dropped before their replies are built ($BUILT of $DEAF built)" \
  test "$BUILT" -le $(((CLIENTS + 1) * 50))
check "the drops are logged, naming the client, at a limited rate" \
  bash -c "n=\$(grep -c 'query: dropped a reply to ops: it is not reading' '$T/c1.log'); [ \$n -ge 1 ] && [ \$n -le 30 ]"
rm -f "$T/resume"
wait "$(pid_of resumer)"; RESUMER_RC=$?
check "a client that starts reading again is answered" bash -c "
  [ $RESUMER_RC -eq 0 ] && grep -q '\"msg\": *1, *\"type\": *\"columns_reply\"' '$T/resumer.log'"
check "the controller still answers after the clients go" bash -c "
  kill $(pid_of deaf1) $(pid_of deaf2) $(pid_of deaf3); total_is 2000"
sf_done
