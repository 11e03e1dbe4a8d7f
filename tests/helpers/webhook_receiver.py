#!/usr/bin/python3
"""webhook_receiver.py — a local alert webhook receiver for the tests
(docs/http-api.md, Alert webhooks). Listens on 127.0.0.1 only; every POST is
checked (the HMAC-SHA256 signature over "TIMESTAMP.BODY" with the shared
secret, the body's JSON, the Idempotency-Key against the body's) and
appended as one JSON line to the log:

  {"idempotency_key", "key", "state", "signature_ok", "attempt", "body"}

    webhook_receiver.py --port N --log FILE [--secret-file F] [--fail-first N]
                        [--hang-first N]

--fail-first N answers the first N POSTs 503 (a receiver having trouble).
--hang-first N logs the first N POSTs (after the failing ones) and never
answers them (a sender killed mid-delivery: the receiver got it, the sender
never learnt so).
"""
import argparse, hashlib, hmac, http.server, json, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--secret-file")
ap.add_argument("--fail-first", type=int, default=0)
ap.add_argument("--hang-first", type=int, default=0)
args = ap.parse_args()
secret = None
if args.secret_file:
    secret = open(args.secret_file, "rb").read().rstrip(b"\r\n")
lock = threading.Lock()
state = {"seen": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            state["seen"] += 1
            failing = state["seen"] <= args.fail_first
            hanging = not failing and state["seen"] <= args.fail_first + args.hang_first
        if failing:
            self.send_response(503)
            self.end_headers()
            return
        ts = self.headers.get("X-Streamfleet-Timestamp", "")
        sig = self.headers.get("X-Streamfleet-Signature", "")
        ok = False
        if secret is not None and sig.startswith("sha256="):
            want = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want, sig[7:])
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        idem = self.headers.get("Idempotency-Key", "")
        rec = {"idempotency_key": idem, "signature_ok": ok,
               "attempt": self.headers.get("X-Streamfleet-Attempt"),
               "key": doc.get("key") if doc else None,
               "state": doc.get("state") if doc else None,
               "body_key_matches": bool(doc) and doc.get("idempotency_key") == idem,
               "body": doc}
        with lock, open(args.log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if hanging:
            time.sleep(3600)
            return
        self.send_response(204)
        self.end_headers()


http.server.ThreadingHTTPServer.allow_reuse_address = True
srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print("listening", flush=True)
srv.serve_forever()
