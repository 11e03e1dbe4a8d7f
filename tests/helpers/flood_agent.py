#!/usr/bin/python3
"""flood_agent.py — an agent that ignores flow control, to show libzmq 4.3.4's
full-pipe abort (docs/operations.md, "libzmq 4.3.4 and full pipes"): a
controller before the agents' socket had its own reader thread
(controller/agentio.c) aborted when a dozen of these flooded it and were killed.

It says hello, then sends batches of 20 puts as fast as its socket takes them,
with no "n" stamps (so no window: an agent older than the window behaves so,
only slower) and ZMTP heartbeats every 5 ms (the agent sets them every 1 s;
more PINGs only make the abort quicker). Run a dozen of them against one
controller for 3 s, then kill -9 them all at once:

  flood_agent.py ENDPOINT AGENT_SECRET_CERT CONTROLLER_PUBLIC_CERT NODE [--window]

On Debian 12 (libzmq 4.3.4-6) such a controller aborted in the first round with
`Assertion failed: !_io_error (src/stream_engine_base.cpp:331)`; with HB=0 in
the environment (no ZMTP heartbeats) it survived six rounds.
tests/integration/92_agent_flood.sh runs it so, three rounds: the controller
must survive, dropping (and counting) what does not fit each flooder's queue.

With --window it keeps the agents' flow control (docs/protocol.md 4.7): every
message stamped "n", at most 32 batches and 8 heartbeats more in flight beyond
the controller's last "read"; tests/integration/91_agent_window.sh floods a
controller so and checks that it survives.
"""
import os, sys, time
import msgpack, zmq, zmq.auth

ep, sec, srv, node = sys.argv[1:5]
window = "--window" in sys.argv[5:]
pub, secret = zmq.auth.load_certificate(sec)
spub, _ = zmq.auth.load_certificate(srv)
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, secret, spub
if os.environ.get("HB", "1") == "1":
    s.setsockopt(zmq.HEARTBEAT_IVL, 5)
    s.setsockopt(zmq.HEARTBEAT_TIMEOUT, 400)
s.sndhwm = 100000
s.linger = 0
s.connect(ep)
gen = int(time.time())
tx = rx = 0       # the last stamp sent, the highest the controller read


def send(kind, body, data):
    global tx
    if window:
        if tx - rx >= (32 if data else 40):
            return False
        body["n"] = tx + 1
    try:
        s.send(msgpack.packb([1, kind, body]), zmq.NOBLOCK)
    except zmq.Again:
        return False
    tx += 1
    return True


def drain():
    global rx
    while True:
        try:
            m = msgpack.unpackb(s.recv(zmq.NOBLOCK), raw=False, strict_map_key=False)
        except zmq.Again:
            return
        if isinstance(m[2], dict) and "read" in m[2]:
            rx = max(rx, min(m[2]["read"], tx))


while not send("hello", {"node": node, "gen": gen, "seq": 0}, False):
    time.sleep(0.01)
seq = i = 0
while True:
    if window:
        drain()
    changes = []
    for _ in range(20):
        seq += 1
        changes.append({"seq": seq, "put": {"name": "s%d" % ((seq * 7) % 5000),
                                            "status": "active", "clients": seq % 50}})
    while not send("batch", {"gen": gen, "changes": changes}, True):
        time.sleep(0.001)
        if window:
            drain()
    i += 1
    if i % 50 == 0:
        send("hb", {"gen": gen, "counter": i}, False)
