#!/usr/bin/python3
"""A demo service: consumes secured envelopes from an AMQP 1.0 queue, unwraps
each one with `msgsec unwrap` (the service's own certificate and key), and
prints who sent it and what. Rejected messages are printed with the reason and
released to nobody: the service acknowledges only what it could process.

usage: msgsec_service.py --url amqp://127.0.0.1:5672 --address /amq/queue/orders
         --msgsec PATH --cert service.pem --key service.key --ca ca.pem
         [--to URI] [--replay-db DIR] [--count N] [--timeout S]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from proton.handlers import MessagingHandler
from proton.reactor import Container


def unwrap(args, envelope: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        ctx_path = os.path.join(tmp, "context.json")
        cmd = [args.msgsec, "unwrap", "--cert", args.cert, "--key", args.key,
               "--context", ctx_path]
        for ca in args.ca:
            cmd += ["--ca", ca]
        if args.to:
            cmd += ["--to", args.to]
        if args.replay_db:
            cmd += ["--replay-db", args.replay_db]
        proc = subprocess.run(cmd, input=envelope, capture_output=True)
        if proc.returncode != 0:
            return None, proc.returncode, proc.stderr.decode(errors="replace").strip()
        with open(ctx_path) as f:
            return proc.stdout, json.load(f), None


class Service(MessagingHandler):
    def __init__(self, args):
        super().__init__(auto_accept=False)
        self.args = args
        self.accepted = 0
        self.timer = None

    def on_start(self, event):
        conn = event.container.connect(self.args.url, sasl_enabled=True,
                                       allowed_mechs="ANONYMOUS")
        event.container.create_receiver(conn, self.args.address)
        if self.args.timeout:
            self.timer = event.container.schedule(self.args.timeout, self)

    def on_timer_task(self, event):
        print(f"service: timeout after {self.accepted} messages", file=sys.stderr, flush=True)
        event.container.stop()

    def on_message(self, event):
        body = event.message.body
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, (bytes, bytearray)):
            body = bytes(body or b"")
        payload, ctx, error = unwrap(self.args, bytes(body))
        if error is not None:
            print(f"service: rejected (exit {ctx}): {error}", flush=True)
            self.reject(event.delivery)
        else:
            print(f"service: from {ctx['identity']} ({ctx['credential_type']}), "
                  f"message {ctx['message_id']}: {payload.decode(errors='replace')}", flush=True)
            self.accept(event.delivery)
            self.accepted += 1
        if self.args.count and self.accepted >= self.args.count:
            if self.timer:
                self.timer.cancel()
            event.receiver.close()
            event.connection.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="amqp://127.0.0.1:5672")
    p.add_argument("--address", required=True)
    p.add_argument("--msgsec", default="msgsec")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", action="append", default=[])
    p.add_argument("--to")
    p.add_argument("--replay-db")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--timeout", type=float, default=0)
    args = p.parse_args()
    service = Service(args)
    Container(service).run()
    sys.exit(0 if not args.count or service.accepted >= args.count else 1)


if __name__ == "__main__":
    main()
