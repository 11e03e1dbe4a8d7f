#!/usr/bin/python3
"""tests/helpers/media_api_server.py — a stand-in for MediaMTX, SRS or
Flussonic, serving their JSON APIs in a chosen version's shape, with streams
that change when the test says so.

    media_api_server.py PORT KIND SHAPE AUTH [STREAMS...]

KIND: mediamtx | srs | flussonic. SHAPE: the version whose fields to send
(mediamtx: v1.15 | v1.17; srs: v5 | v6; flussonic: v21 | v25). AUTH: "-" for
none, "user:password" for basic auth, or "bearer:TOKEN". STREAMS: the names
this server starts with (default cam1 cam2), plus "bulk" filler streams so
that every list spans several pages.

Stream state lives here and moves on request (no token needed):
    POST /_add/NAME          a publisher starts NAME
    POST /_stop/NAME         its publisher stops
    POST /_reconnect/NAME    its publisher reconnects (a new session)
    POST /_clients/NAME/N    N viewers
    POST /_skew/NAME/N       MediaMTX's /metrics count N readers more than its API
    POST /_mode/MODE         ok | 401 | 500 | hang | malformed
    GET  /_hits              requests served
Byte counters rise with wall time at each stream's bitrate (cam1 2000,
others 1000 kbit/s), so rates computed from deltas are real. cam1 carries
audio; every stream has two DVR ranges ending now.
"""
import base64
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

PORT, KIND, SHAPE, AUTH = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
NAMES = sys.argv[5:] or ["cam1", "cam2"]
BULK = 12
lock = threading.Lock()
state = {"mode": "ok", "hits": 0, "streams": {}}
T0 = int(time.time())


def new_stream(name):
    now = time.time()
    return {"name": name, "since": now, "session": uuid.uuid4().hex[:8], "clients": 1,
            "kbps": 2000 if name == "cam1" else 1000, "audio": name == "cam1",
            "reconnects": 0, "live": True, "bytes0": 0, "bytes_at": now, "skew": 0}


for n in NAMES + ["bulk-%d-%02d" % (PORT, i) for i in range(BULK)]:
    state["streams"][n] = new_stream(n)


def bytes_of(s):
    if not s["live"]:
        return s["bytes0"]
    return int(s["bytes0"] + (time.time() - s["bytes_at"]) * s["kbps"] * 1000 / 8)


def ranges_of(s):
    # two ranges: an hour ending ten minutes before the stream started, and one running since then
    start = int(s["since"])
    return [(T0 - 7200, T0 - 3600), (T0 - 600, int(time.time()))]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def authorised(headers, query):
    if AUTH == "-":
        return True
    got = headers.get("Authorization") or ""
    if AUTH.startswith("bearer:"):
        return got == "Bearer " + AUTH[7:]
    return got == "Basic " + base64.b64encode(AUTH.encode()).decode()


# --- MediaMTX --------------------------------------------------------------

def mtx_path(s):
    live = s["live"]
    item = {"name": s["name"], "confName": "all_others",
            "source": {"type": "rtspSession", "id": s["session"]} if live else None,
            "ready": live, "readyTime": iso(s["since"]) if live else None,
            "tracks": ["H264"] + (["MPEG-4 Audio"] if s["audio"] else []),
            "readers": [{"type": "rtspSession", "id": "r%d" % i} for i in range(s["clients"])]}
    if SHAPE == "v1.15":
        item["bytesReceived"] = bytes_of(s)
        item["bytesSent"] = 0
    else:
        item.update({"available": live, "availableTime": item["readyTime"], "online": live,
                     "onlineTime": item["readyTime"], "inboundBytes": bytes_of(s), "outboundBytes": 0,
                     "tracks2": [{"codec": "H264", "codecProps": {"width": 1280, "height": 720}}]
                     + ([{"codec": "MPEG-4 Audio", "codecProps": {"sampleRate": 48000, "channelCount": 2}}]
                        if s["audio"] else [])})
    return item


def mtx_page(items, query):
    page = int(query.get("page", ["0"])[0])
    per = int(query.get("itemsPerPage", ["100"])[0])
    count = (len(items) + per - 1) // per
    return {"itemCount": len(items), "pageCount": count, "items": items[page * per:(page + 1) * per]}


def mediamtx(path, query):
    streams = sorted(state["streams"].values(), key=lambda s: s["name"])
    if path == "/v3/paths/list":
        # MediaMTX forgets a path whose publisher left
        return 200, mtx_page([mtx_path(s) for s in streams if s["live"]], query)
    if path.startswith("/v3/rtspsessions/get/"):
        sid = path.rsplit("/", 1)[1]
        return 200, {"id": sid, "remoteAddr": "127.0.0.1:5%04d" % (hash(sid) % 10000),
                     "state": "publish", "transport": "TCP", "inboundRTPPacketsLost": 0}
    if path.startswith("/v3/config/paths/get/"):
        return 200, {"name": "all_others", "source": "publisher"}
    if path == "/v3/recordings/list":
        return 200, mtx_page([{"name": s["name"], "segments": [{"start": iso(r[0])} for r in ranges_of(s)]}
                              for s in streams], query)
    if path == "/metrics":
        # the metrics listener (metrics: yes): the same paths, in the names
        # this version writes (paths_bytes_received before v1.17)
        counter = "paths_bytes_received" if SHAPE == "v1.15" else "paths_inbound_bytes"
        lines = ["# HELP paths paths", "# TYPE paths gauge"]
        for s in streams:
            if s["live"]:
                label = 'name="%s",state="ready"' % s["name"]
                lines += ["paths{%s} 1" % label, "%s{%s} %d" % (counter, label, bytes_of(s)),
                          'paths_readers{%s,readerType="rtspSession"} %d' % (label, s["clients"] + s["skew"])]
        return 200, "\n".join(lines) + "\n"
    if path == "/list":
        s = state["streams"].get(query.get("path", [""])[0])
        if not s:
            return 404, {"error": "no recordings"}
        return 200, [{"start": iso(a), "duration": float(b - a), "url": "http://x/get"} for a, b in ranges_of(s)]
    return 404, {"error": "not found"}


# --- SRS -------------------------------------------------------------------

VHOST = "vid-0default"


def srs_stream(s, i):
    live = s["live"]
    item = {"id": "vid-%07d" % i, "name": s["name"], "vhost": VHOST if SHAPE != "v3" else 1, "app": "live",
            "live_ms": int(time.time() * 1000), "clients": s["clients"] + (1 if live else 0),
            "frames": 0, "send_bytes": 0, "recv_bytes": bytes_of(s),
            "kbps": {"recv_30s": s["kbps"] if live else 0, "send_30s": 0},
            "publish": {"active": live, "cid": s["session"]} if live else {"active": False},
            "video": {"codec": "H264", "profile": "High", "level": "3.1", "width": 1280, "height": 720} if live else None,
            "audio": {"codec": "AAC", "sample_rate": 48000, "channel": 2, "profile": "LC"} if live and s["audio"] else None}
    if SHAPE == "v6":
        item["tcUrl"] = "rtmp://127.0.0.1/live"
        item["url"] = "/live/" + s["name"]
    return item


def srs(path, query):
    streams = sorted(state["streams"].values(), key=lambda s: s["name"])
    if path == "/api/v1/streams/":
        start = int(query.get("start", ["0"])[0])
        count = max(10, int(query.get("count", ["10"])[0]))   # SRS clamps count to at least 10
        listed = [srs_stream(s, i) for i, s in enumerate(streams) if s["live"] or s["clients"]]
        return 200, {"code": 0, "server": "vid-server", "service": "svc", "pid": "1",
                     "streams": listed[start:start + count]}
    if path == "/api/v1/vhosts/":
        return 200, {"code": 0, "vhosts": [{"id": VHOST, "name": "__defaultVhost__"}]}
    if path.startswith("/api/v1/clients/"):
        cid = path.rsplit("/", 1)[1]
        for s in streams:
            if s["session"] == cid and s["live"]:
                return 200, {"code": 0, "client": {"id": cid, "publish": True, "alive": time.time() - s["since"]}}
        return 200, {"code": 2049, "error": "client not found"}
    return 404, {"code": 404}


# --- Flussonic -------------------------------------------------------------

def fl_stream(s):
    live = s["live"]
    stats = {"source_id": s["session"], "retry_count": s["reconnects"], "dvr_enabled": True,
             "bitrate": s["kbps"] if live else 0, "input_bitrate": s["kbps"] if live else 0,
             "bytes_in": bytes_of(s),
             "media_info": {"tracks": [{"content": "video", "codec": "h264", "width": 1280, "height": 720}]
                            + ([{"content": "audio", "codec": "aac"}] if s["audio"] else [])},
             "dvr_info": {"from": ranges_of(s)[0][0], "depth": 86400,
                          "ranges": [{"from": a, "duration": b - a} for a, b in ranges_of(s)]}}
    if SHAPE == "v21":
        stats.update({"running": live, "alive": live, "client_count": s["clients"],
                      "lifetime": int((time.time() - s["since"]) * 1000) if live else 0})
    else:
        stats.update({"status": "running" if live else "waiting", "alive": live, "online_clients": s["clients"],
                      "started_at": int(s["since"] * 1000) if live else None})
    return {"name": s["name"], "static": True,
            "inputs": [{"url": "publish://", "stats": {"active": live}}], "stats": stats}


def flussonic(path, query):
    if path != "/streamer/api/v3/streams":
        return 404, {"error": "not found"}
    if "select" not in query or "stats" not in query["select"][0]:
        return 400, {"error": "select with stats expected"}
    streams = sorted(state["streams"].values(), key=lambda s: s["name"])
    limit = int(query.get("limit", ["100"])[0])
    cursor = query.get("cursor", [""])[0]
    start = int(base64.b64decode(cursor).decode()) if cursor else 0
    items = [fl_stream(s) for s in streams][start:start + limit]
    more = start + limit < len(streams)
    return 200, {"streams": items, "estimated_count": len(streams),
                 "next": base64.b64encode(str(start + limit).encode()).decode() if more else None,
                 "prev": None, "timing": {}}


APIS = {"mediamtx": mediamtx, "srs": srs, "flussonic": flussonic}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s-fixture: %s\n" % (KIND, fmt % args))

    def reply(self, status, body):
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def control(self, parts):
        s = state["streams"]
        if parts[0] == "_mode":
            state["mode"] = parts[1]
        elif parts[0] == "_add":
            s[parts[1]] = new_stream(parts[1])
        elif parts[0] == "_stop" and parts[1] in s:
            st = s[parts[1]]
            st["bytes0"], st["live"], st["clients"] = bytes_of(st), False, 0
        elif parts[0] == "_reconnect" and parts[1] in s:
            st = s[parts[1]]
            st["bytes0"], st["bytes_at"] = bytes_of(st), time.time()
            st["session"], st["since"] = uuid.uuid4().hex[:8], time.time()
            st["reconnects"] += 1
        elif parts[0] == "_clients" and parts[1] in s:
            s[parts[1]]["clients"] = int(parts[2])
        elif parts[0] == "_skew" and parts[1] in s:
            s[parts[1]]["skew"] = int(parts[2])
        else:
            return self.reply(404, {"error": "unknown control"})
        return self.reply(200, {"ok": True})

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        path = unquote(url.path)
        if path == "/_hits":
            return self.reply(200, {"hits": state["hits"]})
        with lock:
            state["hits"] += 1
            mode = state["mode"]
        if mode == "hang":
            time.sleep(30)
            return
        if mode in ("401", "500"):
            return self.reply(int(mode), {"error": "fixture mode " + mode})
        if mode == "malformed":
            return self.reply(200, '{"items": [ {"name": <<< not json')
        if not authorised(self.headers, query):
            return self.reply(401, {"error": "unauthorised"})
        with lock:
            status, body = APIS[KIND](path, query)
        return self.reply(status, body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = [p for p in urlparse(self.path).path.split("/") if p]
        with lock:
            return self.control(parts)


class Server(ThreadingHTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    Server(("127.0.0.1", PORT), Handler).serve_forever()
