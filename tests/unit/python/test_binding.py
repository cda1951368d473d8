#!/usr/bin/python3
"""Tests of the msgsec Python package (common/python/msgsec) over the build's libmsgsec.

usage: test_binding.py [unittest arguments, e.g. WindowsTest]
env:   MSGSEC_LIBRARY (the build's libmsgsec.so), PYTHONPATH (common/python),
       MSGSEC_PKI (tests/lib/pki.sh output), MSGSEC_BIN (the msgsec command),
       MSGSEC_TESTS_DIR (tests/, for the hostile corpus);
       WindowsTest also needs KRB5CCNAME, MSGSEC_KEYTAB and MSGSEC_SPN (a running KDC:
       tests/integration/service/windows_test.sh).

Round trips with every credential type, interop with the msgsec command both ways, every
exception class from the hostile envelopes the CLI and fuzz tests use, replay across two
Receivers (and a process) sharing one store, deferred commits, resources and threads.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
from typing import List, Optional, Tuple

import msgsec

PKI = os.environ["MSGSEC_PKI"]
BIN = os.environ["MSGSEC_BIN"]
CORPUS = os.path.join(os.environ["MSGSEC_TESTS_DIR"], "fuzz", "corpus")
TO = "urn:example:orders"
BINARY = b"\x00\x01binary\x00payload\xff\xfe\r\n\x00"
XML = b'<order xmlns="urn:example:orders" id="42"><item sku="a&amp;b">2</item></order>'


def pki(name: str) -> str:
    return os.path.join(PKI, name)


def sender(name: str = "client-rsa", **kw: object) -> msgsec.Sender:
    return msgsec.Sender(pki("service.pem"), cert=pki(name + ".pem"), key=pki(name + ".key"),
                         **kw)  # type: ignore[arg-type]


def receiver(**kw: object) -> msgsec.Receiver:
    opts: dict = {"ca": [pki("ca.pem")], "to": TO}
    opts.update(kw)
    return msgsec.Receiver(pki("service.pem"), pki("service.key"), **opts)


def cli(args: List[str], stdin: bytes = b"") -> Tuple[int, bytes, str]:
    p = subprocess.run([BIN] + args, input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


CLI_UNWRAP = ["unwrap", "--cert", pki("service.pem"), "--key", pki("service.key"),
              "--ca", pki("ca.pem"), "--to", TO]


class RoundTripTest(unittest.TestCase):
    """Every credential type: wrap in Python, unwrap in Python, the context's fields."""

    def check_context(self, ctx: msgsec.Context, credential: str, identity: Optional[str]) -> None:
        self.assertEqual(ctx.credential_type, credential)
        self.assertEqual(ctx.identity, identity)
        self.assertEqual(ctx.to, TO)
        self.assertTrue(ctx.message_id.startswith("urn:uuid:"))
        self.assertEqual(ctx.verified, "full")
        self.assertIsInstance(ctx.created, datetime.datetime)
        self.assertIsNotNone(ctx.created.tzinfo)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - ctx.created).total_seconds()), 120)

    def test_certificate_rsa_and_ecdsa(self) -> None:
        r = receiver()
        for name, alg, who in (("client-rsa", "rsa-sha256", "CN=shop1,O=Example"),
                               ("client-ec", "ecdsa-sha256", "CN=shop2,O=Example")):
            env = sender(name).wrap(BINARY, to=TO, action="urn:example:new", ttl=60)
            payload, ctx = r.unwrap(env)
            self.assertEqual(payload, BINARY)
            self.check_context(ctx, "certificate", who)
            self.assertIn("CN=msgsec Test CA", ctx.issuer)
            self.assertEqual(ctx.action, "urn:example:new")
            self.assertEqual(ctx.content_type, "application/octet-stream")
            self.assertTrue(ctx.signature_algorithm.endswith(alg))
            self.assertEqual(ctx.expires - ctx.created, datetime.timedelta(seconds=60))
            self.assertEqual(dict(ctx.claims), {})
            self.assertTrue(ctx.signer_certificate.startswith(b"\x30"))  # DER SEQUENCE

    def test_xml_payload_and_message_id(self) -> None:
        env = sender().wrap(XML, to=TO, content_type="application/xml",
                            message_id="urn:uuid:00000000-0000-4000-8000-000000000042")
        payload, ctx = receiver().unwrap(env)
        self.assertEqual(payload, XML)
        self.assertEqual(ctx.content_type, "application/xml")
        self.assertEqual(ctx.message_id, "urn:uuid:00000000-0000-4000-8000-000000000042")

    def test_none(self) -> None:
        env = msgsec.Sender(pki("service.pem"), credential="none").wrap(b"anon", to=TO)
        payload, ctx = receiver().unwrap(env)
        self.assertEqual(payload, b"anon")
        self.check_context(ctx, "none", None)
        self.assertIsNone(ctx.signer_certificate)

    def test_username(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            users, pw = os.path.join(tmp, "users"), os.path.join(tmp, "pw")
            rc, _, err = cli(["passwd", users, "alice"], b"s3cret-pw\n")
            self.assertEqual(rc, 0, err)
            with open(pw, "w") as f:
                f.write("s3cret-pw\n")
            r = receiver(users=users)
            for s in (msgsec.Sender(pki("service.pem"), credential="username", username="alice",
                                    password="s3cret-pw"),
                      msgsec.Sender(pki("service.pem"), credential="username", username="alice",
                                    password_file=pw)):
                payload, ctx = r.unwrap(s.wrap(b"u", to=TO))
                self.assertEqual(payload, b"u")
                self.check_context(ctx, "username", "alice")
            wrong = msgsec.Sender(pki("service.pem"), credential="username", username="alice",
                                  password="wrong")
            with self.assertRaises(msgsec.AuthenticationError):
                r.unwrap(wrong.wrap(b"u", to=TO))

    def test_issued(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            token = os.path.join(tmp, "assertion.xml")
            rc, _, err = cli(["sts", "issue", "--cert", pki("sts.pem"), "--key", pki("sts.key"),
                              "--subject", "alice", "--subject-cert", pki("client-rsa.pem"),
                              "--audience", TO, "--attr", "role=buyer", "--out", token])
            self.assertEqual(rc, 0, err)
            s = msgsec.Sender(pki("service.pem"), credential="issued", token=token,
                              cert=pki("client-rsa.pem"), key=pki("client-rsa.key"))
            payload, ctx = receiver(issuers=[pki("sts.pem")]).unwrap(s.wrap(b"i", to=TO))
            self.assertEqual(payload, b"i")
            self.check_context(ctx, "issued", "alice")
            self.assertEqual(dict(ctx.claims), {"role": "buyer"})
            self.assertIn("msgsec-sts", ctx.issuer)

    def test_verify(self) -> None:
        broker = msgsec.Receiver(pki("service.pem"), ca=pki("ca.pem"))
        ctx = broker.verify(sender().wrap(b"x"))
        self.assertEqual((ctx.identity, ctx.verified), ("CN=shop1,O=Example", "signer"))
        none = msgsec.Sender(pki("service.pem"), credential="none").wrap(b"x")
        self.assertEqual(broker.verify(none).verified, "structure")
        with self.assertRaises(msgsec.ConfigurationError):
            broker.unwrap(none)  # a verify-only receiver has no key


@unittest.skipUnless(os.environ.get("MSGSEC_SPN"), "needs a KDC (windows_test.sh)")
class WindowsTest(unittest.TestCase):
    def test_windows(self) -> None:
        s = msgsec.Sender(pki("service.pem"), credential="windows",
                          service_principal=os.environ["MSGSEC_SPN"])
        r = receiver(keytab=os.environ["MSGSEC_KEYTAB"])
        payload, ctx = r.unwrap(s.wrap(b"k\x00rb", to=TO))
        self.assertEqual(payload, b"k\x00rb")
        self.assertEqual((ctx.credential_type, ctx.identity, ctx.issuer),
                         ("windows", "alice@EXAMPLE.COM", "EXAMPLE.COM"))
        other = receiver(keytab=os.environ["MSGSEC_OTHER_KEYTAB"])
        with self.assertRaises(msgsec.NotForThisServiceError):
            other.unwrap(s.wrap(b"k", to=TO))


class InteropTest(unittest.TestCase):
    """The Python binding and the msgsec command read each other's envelopes and agree on
    the context."""

    def test_python_wrap_cli_unwrap(self) -> None:
        env = sender().wrap(BINARY, to=TO, action="urn:example:new")
        with tempfile.TemporaryDirectory() as tmp:
            ctx_file = os.path.join(tmp, "ctx.json")
            rc, out, err = cli(CLI_UNWRAP + ["--context", ctx_file], env)
            self.assertEqual((rc, err), (0, ""))
            self.assertEqual(out, BINARY)
            with open(ctx_file) as f:
                cli_ctx = json.load(f)
        _, ctx = receiver().unwrap(env)
        mine = ctx.as_dict()
        for key, value in cli_ctx.items():
            self.assertEqual(mine.get(key), value, key)

    def test_cli_wrap_python_unwrap(self) -> None:
        rc, env, err = cli(["wrap", "--cert", pki("client-ec.pem"), "--key", pki("client-ec.key"),
                            "--service-cert", pki("service.pem"), "--to", TO,
                            "--content-type", "text/xml"], XML)
        self.assertEqual(rc, 0, err)
        payload, ctx = receiver().unwrap(env)
        self.assertEqual(payload, XML)
        self.assertEqual((ctx.identity, ctx.content_type), ("CN=shop2,O=Example", "text/xml"))
        rc, out, err = cli(["inspect"], env)
        self.assertEqual(json.loads(out)["message_id"], msgsec.inspect(env)["message_id"])


class ErrorTest(unittest.TestCase):
    """One exception class per error class, from the CLI's and the fuzz corpus's envelopes."""

    def assert_refused(self, r: msgsec.Receiver, env: bytes, cls: type, code: int) -> None:
        with self.assertRaises(cls) as cm:
            r.unwrap(env)
        e = cm.exception
        self.assertIsInstance(e, msgsec.Error)
        self.assertEqual(e.code, code)
        self.assertTrue(e.reason and "\n" not in e.reason, e.reason)
        self.assertEqual(e.security_failure, 3 <= code <= 8)

    def test_corpus(self) -> None:
        # the fuzz replay's receiver (tests/fuzz/fuzz_unwrap.c): cN-* must fail with class N
        r = msgsec.Receiver(pki("service.pem"), pki("service.key"), ca=[pki("ca.pem")],
                            crl=[pki("crl.pem")], max_message_bytes=65536)
        seen = set()
        for name in sorted(os.listdir(CORPUS)):
            if len(name) > 3 and name[0] == "c" and name[2] == "-":
                code = int(name[1])
                with open(os.path.join(CORPUS, name), "rb") as f:
                    with self.subTest(name):
                        self.assert_refused(r, f.read(), msgsec._errors.BY_CODE[code], code)
                seen.add(code)
        self.assertEqual(seen, {3, 4, 7, 8})

    def test_cli_cases(self) -> None:
        r = receiver(crl=[pki("crl.pem")])
        for name, cls, code in (("selfsigned", msgsec.AuthenticationError, 4),
                                ("rogue", msgsec.AuthenticationError, 4),
                                ("revoked", msgsec.AuthenticationError, 4),
                                ("expired", msgsec.ExpiredError, 5)):
            self.assert_refused(r, sender(name).wrap(b"x", to=TO), cls, code)
        env = sender().wrap(b"x", to="urn:a")
        self.assert_refused(r, env, msgsec.PolicyError, 8)                    # --to mismatch
        self.assert_refused(r, env.replace(b"urn:a", b"urn:c"), msgsec.AuthenticationError, 4)
        other = msgsec.Receiver(pki("other-service.pem"), pki("other-service.key"),
                                ca=[pki("ca.pem")])
        self.assert_refused(other, sender().wrap(b"x"), msgsec.NotForThisServiceError, 7)
        self.assert_refused(r, b"<s:Envelope", msgsec.MalformedError, 3)
        aged = sender().wrap(b"x", to=TO)
        r.set_clock(int(datetime.datetime.now().timestamp()) + 3 * 86400)
        self.assert_refused(r, aged, msgsec.ExpiredError, 5)
        r.set_clock(None)
        r.unwrap(aged)                       # refused copies used up no replay entry
        self.assert_refused(r, aged, msgsec.ReplayError, 6)

    def test_configuration_errors(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            key = os.path.join(tmp, "open.key")
            shutil.copy(pki("service.key"), key)
            os.chmod(key, 0o644)
            with self.assertRaises(msgsec.ConfigurationError) as cm:
                msgsec.Receiver(pki("service.pem"), key)
            self.assertIn("group or others", cm.exception.reason)
            self.assertEqual(cm.exception.code, 2)
        for bad in (lambda: msgsec.Sender(pki("missing.pem")),
                    lambda: msgsec.Sender(pki("service.pem"), credential="magic"),
                    lambda: receiver(max_age=0),
                    lambda: receiver(credentials=["magic"]),
                    lambda: receiver(replay_db="/proc/msgsec-no-such-dir/replay"),
                    lambda: sender().wrap(b"x", ttl=-1)):
            with self.assertRaises(msgsec.ConfigurationError):
                bad()
        with self.assertRaises(msgsec.MalformedError):
            sender().wrap(b"<a><b></a>", content_type="application/xml")
        with self.assertRaises(TypeError):
            sender().wrap("text")  # type: ignore[arg-type]


class ReplayTest(unittest.TestCase):
    def test_two_receivers_one_store(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "replay")
            r1, r2 = receiver(replay_db=db), receiver(replay_db=db)
            env = sender().wrap(b"once", to=TO)
            self.assertEqual(r1.unwrap(env)[0], b"once")
            with self.assertRaises(msgsec.ReplayError):
                r2.unwrap(env)
            rc, _, err = cli(CLI_UNWRAP + ["--replay-db", db], env)   # another process
            self.assertEqual(rc, 6, err)
            env2 = sender().wrap(b"twice", to=TO)
            rc, _, err = cli(CLI_UNWRAP + ["--replay-db", db], env2)
            self.assertEqual(rc, 0, err)
            with self.assertRaises(msgsec.ReplayError):
                r1.unwrap(env2)
            r1.close()
            r2.close()
            with self.assertRaises(msgsec.ReplayError):    # as after a restart
                receiver(replay_db=db).unwrap(env)

    def test_deferred_commit(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "replay")
            r1, r2 = receiver(replay_db=db), receiver(replay_db=db)
            env = sender().wrap(b"d", to=TO)
            _, first = r1.unwrap_deferred(env)
            _, copy = r2.unwrap_deferred(env)       # not recorded yet: a redelivery passes
            r1.commit(first)
            with self.assertRaises(msgsec.ReplayError):
                r2.commit(copy)
            with self.assertRaises(msgsec.ReplayError):
                r2.unwrap_deferred(env)
            with self.assertRaises(msgsec.ConfigurationError):
                r1.commit(first)                    # committed already
            _, plain = r1.unwrap(sender().wrap(b"p", to=TO))
            with self.assertRaises(msgsec.ConfigurationError):
                r1.commit(plain)                    # unwrap records at once
            # never committed (the process died): a new receiver accepts the message
            env3 = sender().wrap(b"e", to=TO)
            r1.unwrap_deferred(env3)
            r1.close()
            r2.close()
            self.assertEqual(receiver(replay_db=db).unwrap(env3)[0], b"e")


class ResourceTest(unittest.TestCase):
    def test_close_and_with(self) -> None:
        env = sender().wrap(b"x", to=TO)
        with receiver() as r:
            r.unwrap(env)
        with self.assertRaises(ValueError):
            r.unwrap(env)
        r.close()  # twice is harmless
        s = sender()
        s.close()
        with self.assertRaises(ValueError):
            s.wrap(b"x")

    def test_context_is_read_only(self) -> None:
        _, ctx = receiver().unwrap(sender().wrap(b"x", to=TO))
        with self.assertRaises(AttributeError):
            ctx.identity = "CN=admin"  # type: ignore[misc]
        with self.assertRaises(TypeError):
            ctx.claims["role"] = "admin"  # type: ignore[index]

    def test_shared_between_threads(self) -> None:
        s, r = sender("client-ec"), receiver()
        envs = [s.wrap(b"%d" % i, to=TO) for i in range(64)]
        got: List[bytes] = []
        lock = threading.Lock()

        def work(part: List[bytes]) -> None:
            for e in part:
                payload, _ = r.unwrap(e)
                with lock:
                    got.append(payload)

        threads = [threading.Thread(target=work, args=(envs[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(got), sorted(b"%d" % i for i in range(64)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
