#!/usr/bin/python3
"""Demo orders service: consumes the RabbitMQ queue "orders" over AMQP 1.0 with msgsec.amqp
(python3-qpid-proton), which unwraps each envelope in process with the service's own key (the
msgsec Python package over libmsgsec: no process per message), and prints the sender's
identity and the payload. A delivery is settled only after the handler returned; a redelivered
copy of a handled message is acknowledged without handling it again; a message that fails a
check is rejected with its reason, never retried.

Output, one line per message, for people and for tests:
  RECEIVED {"identity": ..., "credential_type": ..., "message_id": ..., "payload": ...}
  REJECTED {"outcome": "refused"|"exhausted", "reason": ...}
  DUPLICATE {}
"""
import json
import os
import signal
import socket
import sys
import time

import msgsec
import msgsec.amqp

URL = os.environ.get("AMQP_URL", "amqp://rabbitmq:5672")
USER = os.environ.get("AMQP_USER", "orders-service")
PASSWORD_FILE = os.environ.get("AMQP_PASSWORD_FILE", "/pki/amqp/orders-service.password")
SOURCE = os.environ.get("AMQP_SOURCE", "/amq/queue/orders")
TO = os.environ.get("SERVICE_TO", "urn:example:orders")
REPLAY_DB = os.environ.get("SERVICE_REPLAY_DB", "/var/lib/msgsec-service/replay/replay.db")


def emit(kind, obj):
    print(kind + " " + json.dumps(obj, sort_keys=True), flush=True)


def handle(payload: bytes, ctx: msgsec.Context) -> None:
    emit("RECEIVED", {
        "identity": ctx.identity,
        "credential_type": ctx.credential_type,
        "issuer": ctx.issuer,
        "message_id": ctx.message_id,
        "payload": payload.decode("utf-8", "replace"),
    })


def observe(kind: str, reason: str) -> None:
    if kind == "duplicate":
        emit("DUPLICATE", {})
    elif kind in ("refused", "exhausted"):
        emit("REJECTED", {"outcome": kind, "reason": reason})


def main():
    # PID 1 in a container ignores SIGTERM unless it handles it. Unsettled deliveries go back
    # to the queue when the connection drops, so exiting at once loses nothing.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(PASSWORD_FILE) as f:
        password = f.read().strip()
    receiver = msgsec.Receiver("/pki/certs/orders-service.crt", "/pki/private/orders-service.key",
                               ca=["/pki/ca.crt"], to=TO, replay_db=REPLAY_DB)
    print("demo-service: consuming %s from %s as %s (libmsgsec in process)" % (SOURCE, URL, USER),
          flush=True)
    while True:
        try:
            msgsec.amqp.serve(URL, SOURCE, receiver, handle, on_error=msgsec.Reject, retries=5,
                              observer=observe, user=USER, password=password,
                              allowed_mechs="PLAIN", allow_insecure_mechs=True)
            return
        except socket.gaierror as e:
            # proton does not retry a failed name lookup (the broker's name may not be
            # registered in the stack's DNS yet): start over.
            print("demo-service: cannot resolve %s: %s (retrying)" % (URL, e), flush=True)
            time.sleep(2)


if __name__ == "__main__":
    main()
