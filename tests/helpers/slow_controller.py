#!/usr/bin/python3
"""slow_controller.py — a controller that is alive but does not answer, for
tests of the agent's failover (tests/integration/88_agent_slow_controller.sh).

A real controller cannot be made slow on purpose without slowing the whole
machine; this one stands for the overloaded case only. It binds a CurveZMQ
ROUTER with the cluster's certificate, so the handshake completes and
libzmq's I/O thread answers the agent's ZMTP heartbeats, and then, per
--mode:
  silent  answers the first hello with an ack (generation of the hello,
          seq 0), then never says anything again;
  retry   answers every hello with retry after_ms=--after-ms.
Every message it receives is logged as one line "rx TYPE" on stdout
(flushed), with the time since start in ms, so the test can see when the
agent said hello again.

  slow_controller.py --bind tcp://127.0.0.1:PORT --cert CERT_SECRET_FILE
                     [--mode silent|retry] [--after-ms N]
"""
import argparse, sys, time
import msgpack, zmq, zmq.auth

ap = argparse.ArgumentParser()
ap.add_argument("--bind", required=True)
ap.add_argument("--cert", required=True, help="the controller's secret certificate file")
ap.add_argument("--mode", choices=["silent", "retry"], default="silent")
ap.add_argument("--after-ms", type=int, default=5000)
args = ap.parse_args()

public, secret = zmq.auth.load_certificate(args.cert)
ctx = zmq.Context()
sock = ctx.socket(zmq.ROUTER)
sock.curve_server = True
sock.curve_publickey = public
sock.curve_secretkey = secret
sock.linger = 0
sock.bind(args.bind)
t0 = time.monotonic()
answered = False


def send(route, kind, body):
    sock.send_multipart([route, msgpack.packb([1, kind, body])])


while True:
    route, data = sock.recv_multipart()
    try:
        msg = msgpack.unpackb(data, raw=False, strict_map_key=False)
        kind, body = msg[1], msg[2]
    except Exception as e:  # a bad message says nothing about failover
        print("rx unreadable %s" % e, flush=True)
        continue
    print("rx %s %d" % (kind, (time.monotonic() - t0) * 1000), flush=True)
    if kind != "hello":
        continue
    if args.mode == "retry":
        send(route, "retry", {"after_ms": args.after_ms, "reason": "test: wait"})
    elif not answered:
        send(route, "ack", {"gen": body.get("gen", 0), "seq": 0})
        answered = True
