#!/usr/bin/python3
"""No leak in the msgsec Python package: the resident set stays bounded over 10,000 unwraps
(with the wraps that make them), plus refusals, verifies and deferred commits, each of which
frees its C buffers (msgsec_free, msgsec_free_secret) and contexts (msgsec_context_free).

usage: test_leak.py [N]      (env as test_binding.py; N = 10000 unwraps)

The RSS is sampled after a warm-up of N/10 messages and then every N/10; it must not grow by
more than LIMIT_KIB from the warm-up sample to the end: a leak of 100 bytes per message over
9,000 messages is 880 KiB. A new pair of receivers every RECEIVER_MESSAGES messages keeps
the in-memory replay cache (which legitimately grows with every message accepted) small, and
checks that a closed receiver frees everything. A deliberately leaking run (MSGSEC_LEAK_SELFTEST=1 keeps every
payload) shows that the check can fail.
"""
from __future__ import annotations

import os
import resource
import sys
from typing import List

import msgsec

PKI = os.environ["MSGSEC_PKI"]
LIMIT_KIB = 768
RECEIVER_MESSAGES = 500


def pki(name: str) -> str:
    return os.path.join(PKI, name)


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    keep: List[bytes] = []
    selftest = os.environ.get("MSGSEC_LEAK_SELFTEST") == "1"
    ec = msgsec.Sender(pki("service.pem"), cert=pki("client-ec.pem"), key=pki("client-ec.key"))
    rsa = msgsec.Sender(pki("service.pem"), cert=pki("client-rsa.pem"), key=pki("client-rsa.key"))
    r = broker = None
    payload = bytes(range(256)) * 4
    samples = []
    for i in range(n):
        if i % RECEIVER_MESSAGES == 0:
            # the in-memory replay cache holds every accepted message until its Expires, by
            # design: new receivers keep it small, and show that closing one frees it all
            if r is not None:
                r.close()
                broker.close()
            r = msgsec.Receiver(pki("service.pem"), pki("service.key"), ca=[pki("ca.pem")])
            broker = msgsec.Receiver(pki("service.pem"), ca=[pki("ca.pem")])
        s = rsa if i % 10 == 0 else ec
        env = s.wrap(payload, to="urn:example:orders")
        if i % 20 == 1:
            got, ctx = r.unwrap_deferred(env)
            r.commit(ctx)
        else:
            got, ctx = r.unwrap(env)
        assert got == payload and ctx.identity
        if i % 20 == 2:
            broker.verify(s.wrap(payload))
        if i % 20 == 3:
            try:
                r.unwrap(env)                             # a replay: the error path
            except msgsec.ReplayError:
                pass
            else:
                raise AssertionError("replay accepted")
        if i % 20 == 4:
            r.unwrap_deferred(s.wrap(payload))           # never committed: freed at collection
        if selftest:
            keep.append(bytes(got) + b"")
        if (i + 1) % (n // 10) == 0:
            samples.append(rss_kib())
    growth = samples[-1] - samples[0]
    print("RSS KiB every %d unwraps: %s; growth after the warm-up %d KiB (limit %d)"
          % (n // 10, samples, growth, LIMIT_KIB))
    if growth > LIMIT_KIB:
        print("FAIL: the resident set grew by %d KiB over %d unwraps" % (growth, n - n // 10))
        return 1
    print("no leak over %d unwraps" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
