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
  retry   answers every hello with retry after_ms=--after-ms;
  window  answers the first hello with an ack that says it read the hello
          ("read": its stamp "n": the agent's flow-control window is on,
          docs/protocol.md) and asks for a snapshot (resync), then reads
          everything and says nothing more until --credit-after-ms after the
          first snapshot chunk, when it says once what it read (a credit).
Every message it receives is logged as one line "rx TYPE MS N" on stdout
(flushed): the time since start in ms and the message's stamp "n" (0 if
none), so the test can see when the agent said hello again, and count
what it had in flight.

  slow_controller.py --bind tcp://127.0.0.1:PORT --cert CERT_SECRET_FILE
                     [--mode silent|retry|window] [--after-ms N]
                     [--credit-after-ms N]
"""
import argparse, sys, time
import msgpack, zmq, zmq.auth

ap = argparse.ArgumentParser()
ap.add_argument("--bind", required=True)
ap.add_argument("--cert", required=True, help="the controller's secret certificate file")
ap.add_argument("--mode", choices=["silent", "retry", "window"], default="silent")
ap.add_argument("--after-ms", type=int, default=5000)
ap.add_argument("--credit-after-ms", type=int, default=0)
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
read = 0            # the highest stamp read
credit_at = None    # window: when to send the one credit
credit_armed = False
peer = None


def send(route, kind, body):
    sock.send_multipart([route, msgpack.packb([1, kind, body])])


while True:
    if credit_at is not None:
        left = credit_at - time.monotonic()
        if left <= 0:
            send(peer, "credit", {"read": read})
            print("tx credit %d %d" % ((time.monotonic() - t0) * 1000, read), flush=True)
            credit_at = None
            continue
        if not sock.poll(int(left * 1000) + 1):
            continue
    route, data = sock.recv_multipart()
    try:
        msg = msgpack.unpackb(data, raw=False, strict_map_key=False)
        kind, body = msg[1], msg[2]
    except Exception as e:  # a bad message says nothing about failover
        print("rx unreadable %s" % e, flush=True)
        continue
    n = body.get("n", 0) if isinstance(body, dict) else 0
    read = max(read, n)
    print("rx %s %d %d" % (kind, (time.monotonic() - t0) * 1000, n), flush=True)
    if kind == "snap" and peer and args.credit_after_ms and not credit_armed:
        credit_at = time.monotonic() + args.credit_after_ms / 1000.0
        credit_armed = True
    if kind != "hello":
        continue
    if args.mode == "window":
        if not answered:
            send(route, "ack", {"gen": body.get("gen", 0), "seq": 0, "read": n})
            # and asks for a snapshot: the agent sends it once its source has read
            send(route, "resync", {"reason": "test: a snapshot"})
            answered = True
            peer = route
    elif args.mode == "retry":
        send(route, "retry", {"after_ms": args.after_ms, "reason": "test: wait"})
    elif not answered:
        send(route, "ack", {"gen": body.get("gen", 0), "seq": 0})
        answered = True
