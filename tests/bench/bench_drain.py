#!/usr/bin/python3
"""Times msgsec-bridge draining a backlog, for tests/bench/bench_bridge.sh.

Polls the /metrics of a bridge just started until `--count` messages are
settled at the AMQP destination (msgsec_bridge_delivered_total{side="amqp"}),
and prints one JSON object:

  rate         messages/s settled from the first message routed to the last
               settled
  seconds      that time
  cpu_per_msg  CPU (user + system) per message, in ms, of the bridge and of
               each group of processes named by --proc NAME=PATTERN (every
               process whose command line or environment contains PATTERN)
  busy         share of all CPUs busy over that time (the whole machine)
  others       CPUs used meanwhile by every other process (other jobs)

Only the standard library; run with /usr/bin/python3.
"""

import argparse
import json
import os
import re
import sys
import time
import urllib.request
from typing import Dict, List

CLK_TCK = os.sysconf("SC_CLK_TCK")


def metric(text: str, name: str, labels: str) -> int:
    """The value of one sample `name{labels}` of a Prometheus text page (0 if absent)."""
    m = re.search(r"^%s\{%s\} (\d+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return int(m.group(1)) if m else 0


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def routed(text: str) -> int:
    """Messages all routes processed (messages_total summed over routes)."""
    return sum(int(v) for v in re.findall(r"^msgsec_bridge_messages_total\{[^}]*\} (\d+)$", text, re.M))


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process used so far; 0 if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pids_matching(pattern: str) -> List[int]:
    """Processes whose command line or environment contains pattern."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        text = b""
        for part in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (entry, part), "rb") as f:
                    text += f.read() + b"\0"
            except OSError:
                pass
        if pattern.encode() in text:
            out.append(int(entry))
    return out


def machine_jiffies() -> List[int]:
    """(busy, total) jiffies of all CPUs so far."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return [sum(vals) - idle, sum(vals)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metrics", required=True, help="URL of the bridge's /metrics")
    ap.add_argument("--count", type=int, required=True, help="messages to wait for")
    ap.add_argument("--pid", type=int, required=True, help="the bridge's pid")
    ap.add_argument("--proc", action="append", default=[], help="NAME=PATTERN: also account these")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()

    groups: Dict[str, List[int]] = {"bridge": [args.pid]}
    for spec in args.proc:
        name, pattern = spec.split("=", 1)
        groups[name] = pids_matching(pattern)

    def cpu() -> Dict[str, float]:
        return {g: sum(proc_cpu(p) for p in pids) for g, pids in groups.items()}

    deadline = time.monotonic() + args.timeout

    def poll() -> str:
        while True:
            try:
                return scrape(args.metrics)
            except OSError:  # not listening yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def delivered(page: str) -> int:
        return metric(page, "msgsec_bridge_delivered_total", 'side="amqp"')

    # a fresh bridge counts from 0; the clock starts with the first message
    # routed (start-up and connecting excluded)
    page = poll()
    while routed(page) == 0:
        if time.monotonic() > deadline:
            print("bench_drain: nothing routed", file=sys.stderr)
            return 1
        time.sleep(0.005)
        page = poll()
    start, cpu0, jiffies0, done0 = time.monotonic(), cpu(), machine_jiffies(), delivered(page)
    done = done0
    while done < args.count:
        if time.monotonic() > deadline:
            print("bench_drain: only %d of %d settled" % (done, args.count), file=sys.stderr)
            return 1
        time.sleep(0.01)
        done = delivered(poll())
    seconds, cpu1, jiffies1 = time.monotonic() - start, cpu(), machine_jiffies()
    measured = done - done0
    busy = (jiffies1[0] - jiffies0[0]) / max(1, jiffies1[1] - jiffies0[1])
    # CPU the rest of the machine used meanwhile (other jobs), in CPUs
    ours = sum(cpu1[g] - cpu0[g] for g in groups)
    others = (jiffies1[0] - jiffies0[0]) / CLK_TCK - ours
    print(json.dumps({
        "rate": round(measured / seconds, 1),
        "seconds": round(seconds, 3),
        "cpu_per_msg": {g: round(1000 * (cpu1[g] - cpu0[g]) / measured, 3) for g in groups},
        "busy": round(busy, 3),
        "others": round(max(0.0, others) / seconds, 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
