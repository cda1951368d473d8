#!/usr/bin/python3
"""Demo orders service: consumes the RabbitMQ queue "orders" over AMQP 1.0 (python3-qpid-proton),
unwraps each envelope with `msgsec unwrap --context` using the service's own key, and prints the
sender's identity and the payload. A message is accepted only after it was unwrapped (or
recognised as a replay of one already processed); one that fails a check is rejected.

Output, one line per message, for people and for tests:
  RECEIVED {"identity": ..., "credential_type": ..., "message_id": ..., "payload": ...}
  REJECTED {"exit": N, "reason": ...}
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from proton import Message  # noqa: F401  (import check: python3-qpid-proton present)
from proton.handlers import MessagingHandler
from proton.reactor import Container

URL = os.environ.get("AMQP_URL", "amqp://rabbitmq:5672")
USER = os.environ.get("AMQP_USER", "orders-service")
PASSWORD_FILE = os.environ.get("AMQP_PASSWORD_FILE", "/pki/amqp/orders-service.password")
SOURCE = os.environ.get("AMQP_SOURCE", "/amq/queue/orders")
TO = os.environ.get("SERVICE_TO", "urn:example:orders")
REPLAY_DB = os.environ.get("SERVICE_REPLAY_DB", "/var/lib/msgsec-service/replay/replay.db")
UNWRAP = [
    "msgsec", "unwrap",
    "--cert", "/pki/certs/orders-service.crt",
    "--key", "/pki/private/orders-service.key",
    "--ca", "/pki/ca.crt",
    "--to", TO,
    "--replay-db", REPLAY_DB,
]
EXIT_REPLAY = 6


def emit(kind, obj):
    print(kind + " " + json.dumps(obj, sort_keys=True), flush=True)


def body_bytes(body):
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, memoryview):
        return body.tobytes()
    if isinstance(body, str):
        return body.encode("utf-8")
    raise ValueError("unsupported AMQP body type %s" % type(body).__name__)


class Service(MessagingHandler):
    def __init__(self, password):
        super().__init__(prefetch=10, auto_accept=False)
        self.password = password

    def on_start(self, event):
        conn = event.container.connect(URL, user=USER, password=self.password,
                                       allowed_mechs="PLAIN", allow_insecure_mechs=True)
        event.container.create_receiver(conn, SOURCE)
        print("demo-service: consuming %s from %s as %s" % (SOURCE, URL, USER), flush=True)

    def on_message(self, event):
        try:
            data = body_bytes(event.message.body)
        except ValueError as e:
            emit("REJECTED", {"exit": 3, "reason": str(e)})
            self.reject(event.delivery)
            return
        with tempfile.TemporaryDirectory() as tmp:
            env_path = os.path.join(tmp, "envelope.xml")
            ctx_path = os.path.join(tmp, "context.json")
            out_path = os.path.join(tmp, "payload")
            with open(env_path, "wb") as f:
                f.write(data)
            try:
                proc = subprocess.run(UNWRAP + ["--context", ctx_path, "--in", env_path, "--out", out_path],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as e:
                # Not the message's fault: leave it in the queue and let the container restart.
                self.release(event.delivery, delivered=True)
                print("demo-service: cannot run msgsec unwrap: %s" % e, file=sys.stderr, flush=True)
                raise
            reason = proc.stderr.decode("utf-8", "replace").strip()
            if proc.returncode == 0:
                with open(ctx_path) as f:
                    ctx = json.load(f)
                with open(out_path, "rb") as f:
                    payload = f.read()
                emit("RECEIVED", {
                    "identity": ctx.get("identity"),
                    "credential_type": ctx.get("credential_type"),
                    "issuer": ctx.get("issuer"),
                    "message_id": ctx.get("message_id"),
                    "payload": payload.decode("utf-8", "replace"),
                })
                self.accept(event.delivery)
            elif proc.returncode == EXIT_REPLAY:
                emit("DUPLICATE", {"exit": proc.returncode, "reason": reason})
                self.accept(event.delivery)   # already processed: exactly-once effect
            elif proc.returncode == 1:
                # internal error: not the message's fault, keep it in the queue
                print("demo-service: msgsec unwrap internal error: %s" % reason, file=sys.stderr, flush=True)
                self.release(event.delivery, delivered=True)
            else:
                emit("REJECTED", {"exit": proc.returncode, "reason": reason})
                self.reject(event.delivery)

    def on_transport_error(self, event):
        cond = event.transport.condition
        print("demo-service: transport error: %s (reconnecting)" % (cond.description if cond else "?"),
              flush=True)

    def on_link_error(self, event):
        cond = event.link.remote_condition
        print("demo-service: link error: %s" % (cond.description if cond else "?"), file=sys.stderr, flush=True)
        sys.exit(1)


def main():
    # PID 1 in a container ignores SIGTERM unless it handles it. Unaccepted deliveries go back
    # to the queue when the connection drops, so exiting at once loses nothing.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(PASSWORD_FILE) as f:
        password = f.read().strip()
    while True:
        try:
            Container(Service(password)).run()
            return
        except socket.gaierror as e:
            # proton does not retry a failed name lookup (the broker's name may not be
            # registered in the stack's DNS yet): start over.
            print("demo-service: cannot resolve %s: %s (retrying)" % (URL, e), flush=True)
            time.sleep(2)


if __name__ == "__main__":
    main()
