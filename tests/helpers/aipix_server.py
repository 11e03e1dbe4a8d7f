#!/usr/bin/python3
"""tests/helpers/aipix_server.py — a stand-in for an Aipix-style media server.

Serves the fixture JSON in tests/fixtures/aipix/ on the REST paths the agent's
"aipix" source reads, checks the API token (?token= or "Authorization:
Bearer"), and misbehaves on demand so tests can pin down the agent's failure
handling. Control (no token): POST /_mode/<ok|401|403|500|hang|malformed>;
GET /_hits returns how many API requests were served.

    aipix_server.py PORT FIXTURE_DIR TOKEN
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT, FIXTURES, TOKEN = int(sys.argv[1]), sys.argv[2], sys.argv[3]
state = {"mode": "ok", "hits": 0}
lock = threading.Lock()

ROUTES = {
    "/api/streams/": "streams.json",
    "/api/server/": "server.json",
}


def fixture_for(path):
    if path in ROUTES:
        return ROUTES[path]
    parts = [p for p in path.split("/") if p]
    # /api/streams/{uid}/ and /api/streams/{uid}/ranges/
    if len(parts) == 3 and parts[:2] == ["api", "streams"]:
        return "stream_%s.json" % parts[2]
    if len(parts) == 4 and parts[:2] == ["api", "streams"] and parts[3] == "ranges":
        return "ranges_%s.json" % parts[2]
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("aipix-fixture: " + (fmt % args) + "\n")

    def reply(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if url.path.startswith("/_mode/"):
            with lock:
                state["mode"] = url.path[len("/_mode/"):]
            return self.reply(200, '{"ok": true}')
        if url.path == "/_hits":
            return self.reply(200, json.dumps({"hits": state["hits"]}))
        with lock:
            state["hits"] += 1
            mode = state["mode"]
        if mode == "hang":
            time.sleep(30)
            return
        if mode in ("401", "403", "500"):
            return self.reply(int(mode), '{"error": "fixture mode %s"}' % mode)
        if mode == "malformed":
            return self.reply(200, '{"streams": [ {"uid": "x", <<< not json')
        token = parse_qs(url.query).get("token", [None])[0]
        auth = self.headers.get("Authorization")
        if token != TOKEN and auth != "Bearer " + TOKEN:
            return self.reply(401, '{"error": "bad token"}')
        name = fixture_for(url.path)
        path = os.path.join(FIXTURES, name) if name else None
        if not path or not os.path.exists(path):
            return self.reply(404, '{"error": "not found"}')
        with open(path, "rb") as f:
            return self.reply(200, f.read())

    do_GET = handle_any
    do_POST = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    Server(("127.0.0.1", PORT), Handler).serve_forever()
