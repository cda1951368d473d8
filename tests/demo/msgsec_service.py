#!/usr/bin/python3
"""A demo service: consumes secured envelopes from an AMQP 1.0 queue with msgsec.amqp, which
unwraps each one in process with the service's own certificate and key (the msgsec Python
package over libmsgsec), and prints who sent it and what. A delivery is settled only after the
handler returned; a message that fails a check is rejected with its reason, never retried.

usage: msgsec_service.py --url amqp://127.0.0.1:5672 --address /amq/queue/orders
         --cert service.pem --key service.key --ca ca.pem
         [--to URI] [--replay-db DIR] [--count N] [--timeout S]
(the package and library: PYTHONPATH=common/python, MSGSEC_LIBRARY=build/common/libmsgsec.so
when run from the build tree)
"""
import argparse
import sys

import msgsec
import msgsec.amqp


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="amqp://127.0.0.1:5672")
    p.add_argument("--address", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", action="append", default=[])
    p.add_argument("--to")
    p.add_argument("--replay-db")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--timeout", type=float, default=0)
    args = p.parse_args()
    receiver = msgsec.Receiver(args.cert, args.key, ca=args.ca, to=args.to,
                               replay_db=args.replay_db)

    def handle(payload: bytes, ctx: msgsec.Context) -> None:
        print(f"service: from {ctx.identity} ({ctx.credential_type}), "
              f"message {ctx.message_id}: {payload.decode(errors='replace')}", flush=True)

    def observe(kind: str, reason: str) -> None:
        if reason:
            print(f"service: {kind}: {reason}", flush=True)

    counts = msgsec.amqp.serve(args.url, args.address, receiver, handle, on_error=msgsec.Reject,
                               max_messages=args.count or None, timeout=args.timeout or None,
                               observer=observe, sasl_enabled=True, allowed_mechs="ANONYMOUS")
    if args.count and counts["handled"] < args.count:
        print(f"service: timeout after {counts['handled']} messages", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
