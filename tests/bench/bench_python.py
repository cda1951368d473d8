#!/usr/bin/python3
"""Python Receiver.unwrap against the C library in process and `msgsec unwrap` per message.

usage: tests/bench/bench_python.sh [BUILD_DIR] [ROUNDS] [ENVELOPES]      (this script's driver)
       bench_python.py BUILD_DIR PKI_DIR ROUNDS ENVELOPES
env:   MSGSEC_LIBRARY (BUILD_DIR/common/libmsgsec.so), PYTHONPATH (common/python)

ENVELOPES envelopes of a 1 KiB payload from an RSA-2048 sender (client-rsa), for the service
key (RSA-2048), are made once. Each round then unwraps all of them, with a fresh receiver
(in-memory replay cache) each time:
  C        msgsec_unwrap in process (tests/bench/msgsec_bench_unwrap, the same libmsgsec.so),
  Python   msgsec.Receiver.unwrap -> (payload bytes, Context),
and, once per round, SUBPROCESS_MESSAGES of them with one `msgsec unwrap --context` process
per message, the way every service of the repository worked before the binding.
C and Python rates are per second of the unwrapping thread's CPU time (the machine is shared;
CPU time is what other tenants cannot inflate) and per wall second; the subprocess rate is per
wall second (spawning is the cost). Figures are medians; "x C" is the median of the per-round
ratios, each Python round timed right after its C round. Target: Python >= 0.80 x C.
"""
from __future__ import annotations

import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from typing import List, Tuple

import msgsec

SUBPROCESS_MESSAGES = 60


def c_round(bench: str, pki: str, envelopes_file: str) -> Tuple[float, float]:
    out = subprocess.run([bench, pki, envelopes_file], capture_output=True, text=True, check=True)
    n, cpu, wall = out.stdout.split()
    return int(n) / float(cpu), int(n) / float(wall)


def python_round(pki: str, envelopes: List[bytes]) -> Tuple[float, float]:
    r = msgsec.Receiver(os.path.join(pki, "service.pem"), os.path.join(pki, "service.key"),
                        ca=[os.path.join(pki, "ca.pem")])
    unwrap = r.unwrap
    cpu, wall = time.thread_time(), time.perf_counter()
    for env in envelopes:
        payload, ctx = unwrap(env)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    assert len(payload) == 1024 and ctx.identity == "CN=shop1,O=Example"
    r.close()
    return len(envelopes) / cpu, len(envelopes) / wall


def subprocess_round(msgsec_bin: str, pki: str, envelopes: List[bytes], tmp: str) -> float:
    cmd = [msgsec_bin, "unwrap", "--cert", os.path.join(pki, "service.pem"),
           "--key", os.path.join(pki, "service.key"), "--ca", os.path.join(pki, "ca.pem"),
           "--context", os.path.join(tmp, "ctx.json")]
    wall = time.perf_counter()
    for env in envelopes:
        subprocess.run(cmd, input=env, capture_output=True, check=True)
    return len(envelopes) / (time.perf_counter() - wall)


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    build, pki, rounds, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    bench = os.path.join(build, "tests", "bench", "msgsec_bench_unwrap")
    msgsec_bin = os.path.join(build, "common", "msgsec")
    sender = msgsec.Sender(os.path.join(pki, "service.pem"),
                           cert=os.path.join(pki, "client-rsa.pem"),
                           key=os.path.join(pki, "client-rsa.key"))
    payload = bytes((k * 31 + 7) & 0xFF for k in range(1024))
    envelopes = [sender.wrap(payload) for _ in range(count)]
    c_cpu, c_wall, py_cpu, py_wall, ratio, ratio_wall, spawn = [], [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "envelopes")
        with open(path, "wb") as f:
            for env in envelopes:
                f.write(struct.pack(">I", len(env)) + env)
        python_round(pki, envelopes[:200])   # warm-up (imports, first parses)
        for _ in range(rounds):
            cc, cw = c_round(bench, pki, path)
            pc, pw = python_round(pki, envelopes)
            c_cpu.append(cc), c_wall.append(cw), py_cpu.append(pc), py_wall.append(pw)
            ratio.append(pc / cc), ratio_wall.append(pw / cw)
            spawn.append(subprocess_round(msgsec_bin, pki, envelopes[:SUBPROCESS_MESSAGES], tmp))
    med = statistics.median
    print("msgsec Python binding benchmark: %d rounds x %d envelopes (1 KiB payload, RSA-2048 "
          "sender, RSA-2048 service key), libmsgsec %s" % (rounds, count, msgsec.library_version()))
    print()
    print("%-44s %12s %12s %9s" % ("unwrap", "msgs/s (CPU)", "msgs/s (wall)", "x C (CPU)"))
    print("%-44s %12.0f %12.0f %9s" % ("C msgsec_unwrap, in process", med(c_cpu), med(c_wall),
                                         "1.00"))
    print("%-44s %12.0f %12.0f %8.2fx" % ("Python msgsec.Receiver.unwrap, in process",
                                          med(py_cpu), med(py_wall), med(ratio)))
    print("%-44s %12s %12.1f %8.3fx" % ("msgsec unwrap, one process per message (%d)"
                                        % SUBPROCESS_MESSAGES, "-", med(spawn),
                                        med(spawn) / med(c_wall)))
    print()
    print("Python / C per round (CPU): %s; wall: %s"
          % (" ".join("%.3f" % x for x in ratio), " ".join("%.3f" % x for x in ratio_wall)))
    print("the subprocess row's ratio is against the C wall rate. Target: Python >= 0.80 x C: %s"
          % ("met" if med(ratio) >= 0.80 else "NOT MET"))
    return 0 if med(ratio) >= 0.80 else 1


if __name__ == "__main__":
    sys.exit(main())
