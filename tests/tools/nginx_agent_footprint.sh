#!/usr/bin/env bash
# tests/tools/nginx_agent_footprint.sh — CPU and memory of an agent reading a
# large nginx-rtmp stat page (DESIGN §9: <= 1% of a core, <= 20 MiB RSS for
# 2,000 streams updating every second).
#   tests/tools/nginx_agent_footprint.sh [STREAMS] [SECONDS]   (2000 30)
# A generated stat page with STREAMS live streams (counters moving every
# poll) is served on loopback; one agent polls it every second, with the DVR
# scanner on a directory holding 10 chunks per stream, and reports to a
# controller. Prints the agent's CPU share over the run, its peak RSS
# (VmHWM: the start, first snapshot and all, included) and its RSS at the end
# (VmRSS: the steady state) and how much of that is the agent's own memory
# (RssAnon; the rest is pages of the shared libraries it maps).
source "$(dirname "$0")/../lib.sh"
N=${1:-2000}
SECS=${2:-30}
sf_keys >/dev/null || { echo "keys failed"; exit 1; }
start_controller c1 || { echo "controller failed"; exit 1; }
PORT=$(free_port)
mkdir -p "$T/www" "$T/dvr"
cat > "$T/statserver.py" <<'PY'
import http.server, sys, time
N = int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        t = int(time.time())
        parts = ['<?xml version="1.0" encoding="utf-8" ?><rtmp><nginx_version>1.22.1</nginx_version>'
                 '<nginx_rtmp_version>1.1.4</nginx_rtmp_version><uptime>1000</uptime><server><application>'
                 '<name>live</name><live>']
        for i in range(N):
            # counters move with time, as on a busy server
            parts.append('<stream><name>cam%05d</name><time>%d</time><bw_in>%d</bw_in><bytes_in>%d</bytes_in>'
                         '<client><id>%d</id><address>10.0.%d.%d</address><publishing/><active/></client>'
                         '<meta><video><width>1920</width><height>1080</height><frame_rate>25</frame_rate>'
                         '<codec>H264</codec></video><audio><codec>AAC</codec></audio></meta>'
                         '<nclients>%d</nclients><publishing/><active/></stream>'
                         % (i, 1000000 + t * 1000, 2000000 + (t * 7919 + i) % 500000, t * 250000,
                            i, i // 250, i % 250, 1 + (t + i) % 5))
        parts.append('</live></application></server></rtmp>')
        body = ''.join(parts).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
bg stat $PYTHON "$T/statserver.py" "$PORT" "$N"
now=$(date +%s)
for i in $(seq 0 $((N - 1))); do
  d=$(printf "%s/dvr/cam%05d" "$T" "$i"); mkdir -p "$d"
  for k in 0 1 2 3 4 5 6 7 8 9; do : > "$d/$(( (now - 20 + k * 2) * 1000 )).ts"; done
done
wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT/stat" || { echo "stat server failed"; exit 1; }
start_agent n1 "$CTL_c1_AGENTS" --source nginx-rtmp --stat-url "http://127.0.0.1:$PORT/stat" \
  --records-path "$T/dvr" --record-pattern '{name}/{ms}.ts' --poll-interval-ms 1000 --http-timeout-ms 5000
pid=$(pid_of agent_n1)
sleep 5                                  # first scan and snapshot done
hz=$(getconf CLK_TCK)
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
sleep "$SECS"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
now_rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
anon=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")     # the rest: shared libraries' pages
total=$(cli streams --limit 0 -o json | json_get "d['total']")
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$hz" -v secs="$SECS" -v rss="$rss" -v now_rss="$now_rss" -v anon="$anon" -v n="$N" -v t="$total" \
  'BEGIN { printf "agent, nginx-rtmp source, %d streams (%s listed), 1 s polls, %d s: cpu %.2f%% of a core, peak RSS %.1f MiB, RSS at the end %.1f MiB (%.1f MiB anonymous)\n", n, t, secs, 100 * (u + s) / hz / secs, rss / 1024, now_rss / 1024, anon / 1024 }'
