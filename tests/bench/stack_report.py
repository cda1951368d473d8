#!/usr/bin/python3
"""Report of the docker stack's end-to-end benchmark (tests/bench/bench_stack.sh).

usage: stack_report.py PUBLISH_JSON BRIDGE_SAMPLES QUEUE_SAMPLES SERVICE_LOG MARKER
       stack_report.py drain SERVICE_LOG MARKER COUNT

PUBLISH_JSON: stack_publish.py's timings. BRIDGE_SAMPLES: lines "UNIX_TIME DELIVERED" (the
bridge's msgsec_bridge_delivered_total{side="amqp"}). QUEUE_SAMPLES: lines "UNIX_TIME READY
UNACKED" (RabbitMQ's queue "orders"). SERVICE_LOG: `podman logs -t` of the service (RECEIVED
lines of MARKER's orders, with their time stamps).

The chain: publisher -> Mosquitto + plugin (enforce: verify) -> msgsec-bridge (verify, spool,
AMQP) -> RabbitMQ -> Python service (msgsec.amqp: unwrap, handler, commit, settle). Each stage's
"done" is when it had passed on the last message: the publisher's last PUBACK, the bridge's
delivered counter reaching COUNT, the service's last RECEIVED line. The limiting stage is the
last one that finishes more than SLACK after the stage before it: the stages after it kept up.
"drain": the service alone, emptying a queue that held COUNT of MARKER's orders (first to last
RECEIVED line).
"""
import datetime
import json
import sys
from typing import List, Tuple

SLACK_SECONDS = 1.0


def samples(path: str) -> List[Tuple[float, ...]]:
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            try:
                rows.append(tuple(float(p) for p in parts))
            except ValueError:
                continue
    return rows


def received_times(path: str, marker: str) -> List[float]:
    times = []
    with open(path, errors="replace") as f:
        for line in f:
            stamp, _, rest = line.partition(" ")
            if rest.startswith("RECEIVED ") and marker in rest:
                # 2026-12-04T02:30:00.123456789+00:00 (podman: nanoseconds)
                base, frac = stamp[:19], stamp[19:].split("+")[0].split("Z")[0]
                t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                times.append(t + float(frac or "0"))
    return times


def drain(service_log: str, marker: str, n: int) -> int:
    got = received_times(service_log, marker)
    if len(got) != n:
        print("INCOMPLETE: the service drained %d of %d" % (len(got), n))
        return 1
    print("the service alone, draining %d queued orders: %.0f msgs/s (first to last message)"
          % (n, n / max(max(got) - min(got), 1e-9)))
    return 0


def main() -> int:
    if sys.argv[1] == "drain":
        return drain(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    pub_file, bridge_file, queue_file, service_log, marker = sys.argv[1:6]
    with open(pub_file) as f:
        pub = json.load(f)
    n, start, pub_end = pub["count"], pub["publish_start"], pub["publish_end"]
    bridge = [row for row in samples(bridge_file) if len(row) == 2]
    queue = [row for row in samples(queue_file) if len(row) == 3]
    got = received_times(service_log, marker)
    base = min((d for t, d in bridge if t <= start), default=bridge[0][1] if bridge else 0)
    bridge_done = next((t for t, d in bridge if d - base >= n), None)
    service_done = max(got) if got else None
    print("end-to-end: %d orders of 1 KiB (envelope %d bytes), RSA-2048 sender, one MQTT 5/TLS "
          "connection, QoS 1" % (n, pub["envelope_bytes"]))
    print("%-46s %9s %10s" % ("stage", "done at", "msgs/s"))
    rows = [("MQTT publish + Mosquitto plugin (enforce)", pub_end)]
    if bridge_done is not None:
        rows.append(("msgsec-bridge (verify) -> RabbitMQ", bridge_done))
    if service_done is not None:
        rows.append(("RabbitMQ -> Python service (msgsec.amqp)", service_done))
    for name, done in rows:
        print("%-46s %8.2fs %10.0f" % (name, done - start, n / (done - start)))
    if len(got) != n or bridge_done is None:
        print("INCOMPLETE: service received %d of %d, bridge done: %s" % (len(got), n,
                                                                           bridge_done))
        return 1
    print("service, first to last message: %.0f msgs/s" % (n / max(service_done - min(got), 1e-9)))
    print("largest backlog in RabbitMQ's queue: %d (ready + unacknowledged)"
          % max((r + u for _, r, u in queue), default=0))
    limiting = rows[0][0]
    for (_, before), (name, done) in zip(rows, rows[1:]):
        if done - before > SLACK_SECONDS:
            limiting = name
    print("end to end: %.0f msgs/s; limiting stage: %s" % (n / (service_done - start), limiting))
    return 0


if __name__ == "__main__":
    sys.exit(main())
