#!/usr/bin/python3
"""Load generator of the docker stack's end-to-end benchmark (tests/bench/bench_stack.sh; it
runs inside the msgsec-demo image as the sender, uid 10003).

usage: stack_publish.py COUNT MARKER OUT_JSON

Wraps COUNT orders of 1 KiB (payload "MARKER #i" padded with '.') in process with the msgsec
Python package as shop1 (certificate credential, RSA-2048) for the orders service, then
publishes them all with ONE `mosquitto_pub -l` over MQTT 5/TLS with shop1's client certificate,
QoS 1, to orders/bench (the plugin's enforce rule, then the bridge's route, apply). The
envelopes hold no newline, so each line is one message. Writes the timings to OUT_JSON:
wrap_seconds, publish_start and publish_end (Unix time; publish_end = mosquitto_pub exited:
every PUBACK received, so every message passed the plugin).
"""
import json
import subprocess
import sys
import time

import msgsec


def main() -> int:
    count, marker, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    sender = msgsec.Sender("/pki/certs/orders-service.crt", cert="/pki/certs/shop1.crt",
                           key="/pki/private/shop1.key")
    t0 = time.time()
    lines = []
    for i in range(count):
        payload = ("%s #%d " % (marker, i)).encode().ljust(1024, b".")
        env = sender.wrap(payload, to="urn:example:orders", action="urn:example:orders/new",
                          content_type="text/plain")
        assert b"\n" not in env
        lines.append(env)
    wrap_seconds = time.time() - t0
    data = b"\n".join(lines) + b"\n"
    start = time.time()
    subprocess.run(["mosquitto_pub", "-h", "mosquitto", "-p", "8883", "-V", "mqttv5", "-q", "1",
                    "--cafile", "/pki/ca.crt", "--cert", "/pki/certs/shop1.crt",
                    "--key", "/pki/private/shop1.key", "-i", "bench-" + marker[-8:],
                    "-t", "orders/bench", "-D", "publish", "content-type",
                    "application/soap+xml", "-l"], input=data, check=True)
    end = time.time()
    with open(out, "w") as f:
        json.dump({"count": count, "wrap_seconds": wrap_seconds, "publish_start": start,
                   "publish_end": end, "envelope_bytes": len(lines[0])}, f)
    print("stack_publish: wrapped %d in %.1f s, published in %.1f s (%.0f msg/s)"
          % (count, wrap_seconds, end - start, count / (end - start)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
