#!/usr/bin/python3
"""A test service for the msgsec consumers (consumer_test.py starts, kills and restarts it).

usage: service.py amqp URL ADDRESS | mqtt HOST:PORT TOPIC  --log FILE --replay-db DIR
                  [--poison ADDRESS] [--on-error reject|drop|move] [--retries N]
                  [--state FILE --client-id ID --retry-delay S]

The handler's effect is a line in --log: "begin N" when it starts, "done N" when it succeeds,
each one write(2) on an O_APPEND file. The payload is JSON {"n": N, "mode": M}:
  ok          done at once
  slow        sleeps 3 s before done (the test kills the service in there)
  fail3       raises on its first 3 attempts (counted from the begin lines), then done
  failalways  always raises
  failslow    sleeps 1 s, then raises
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import time

import msgsec


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("broker", choices=["amqp", "mqtt"])
    p.add_argument("where")
    p.add_argument("address")
    p.add_argument("--log", required=True)
    p.add_argument("--replay-db", required=True)
    p.add_argument("--poison")
    p.add_argument("--on-error", choices=["reject", "drop", "move"])
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--state")
    p.add_argument("--client-id", default="msgsec-test-service")
    p.add_argument("--retry-delay", type=float, default=0.1)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    pki = os.environ["MSGSEC_PKI"]
    receiver = msgsec.Receiver(os.path.join(pki, "service.pem"),
                               os.path.join(pki, "service.key"),
                               ca=[os.path.join(pki, "ca.pem")], to="urn:example:orders",
                               replay_db=args.replay_db)
    log_fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def effect(line: str) -> None:
        os.write(log_fd, (line + "\n").encode())

    def begins(n: int) -> int:
        with open(args.log) as f:
            return sum(1 for line in f if line == "begin %d\n" % n)

    def handle(payload: bytes, ctx: msgsec.Context) -> None:
        order = json.loads(payload)
        n, mode = order["n"], order["mode"]
        assert ctx.identity == "CN=shop1,O=Example", ctx.identity
        effect("begin %d" % n)
        if mode == "slow":
            time.sleep(3)
        elif mode == "fail3" and begins(n) <= 3:
            raise RuntimeError("attempt %d of order %d fails" % (begins(n), n))
        elif mode == "failalways":
            raise RuntimeError("order %d always fails" % n)
        elif mode == "failslow":
            time.sleep(1)
            raise RuntimeError("order %d fails slowly" % n)
        effect("done %d" % n)

    on_error = {"reject": msgsec.Reject, "drop": msgsec.Drop, "move": msgsec.Move,
                None: None}[args.on_error]
    print("service: ready", flush=True)
    consumer = importlib.import_module("msgsec." + args.broker)
    if args.broker == "amqp":
        consumer.serve(args.where, args.address, receiver, handle, on_error=on_error,
                          retries=args.retries, poison=args.poison, sasl_enabled=True,
                          allowed_mechs="ANONYMOUS")
    else:
        host, port = args.where.rsplit(":", 1)
        consumer.serve(host, int(port), args.address, receiver, handle,
                          client_id=args.client_id, state=args.state, on_error=on_error,
                          retries=args.retries, poison=args.poison,
                          retry_delay=args.retry_delay)


if __name__ == "__main__":
    main()
