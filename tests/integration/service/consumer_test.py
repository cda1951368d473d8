#!/usr/bin/python3
"""The msgsec queue consumers against a real broker (run_consumer_test.sh starts it).

usage: consumer_test.py amqp|mqtt      env: MSGSEC_PKI, MSGSEC_LIBRARY, PYTHONPATH, WORK (a
       directory), and AMQP_URL + AMQP_QUEUE_PREFIX (queues PREFIX-stream, -poison,
       -poison.poison, -count, -count.poison, -reject with dead-letter queue -reject.dlq are
       declared) or MQTT_HOST + MQTT_PORT.

Scenarios (tests/integration/service/service.py is the service; its handler logs
"begin N"/"done N"):
  stream   SIGKILL of the service in the middle of a handler, three times in a stream of 150
           messages: every message is handled once, none twice; a copy of a handled message
           published again is acknowledged without calling the handler
  poison   on_error=Move, retries=5: a tampered envelope goes to the poison address with its
           reason and never reaches the handler; a handler that fails 3 times then succeeds
           handles its message once; one that always fails lands in the poison address after
           1 + retries attempts; a good message is handled
  count    the failure count survives a restart: killed in its 3rd attempt, a message that
           always fails is tried 7 times in all (6 counted + the killed one), not more
  reject   (amqp) on_error=Reject: refused messages are rejected and RabbitMQ dead-letters them
  drop     (mqtt) on_error=Drop: a tampered message is acknowledged, never handled, not
           redelivered after a restart
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import msgsec

HERE = os.path.dirname(os.path.abspath(__file__))
PKI = os.environ["MSGSEC_PKI"]
WORK = os.environ["WORK"]
TO = "urn:example:orders"
failures: List[str] = []
SENDER = msgsec.Sender(os.path.join(PKI, "service.pem"), cert=os.path.join(PKI, "client-rsa.pem"),
                       key=os.path.join(PKI, "client-rsa.key"))


def check(cond: bool, what: str) -> None:
    print(("ok:   " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)


def order(n: int, mode: str = "ok") -> bytes:
    return SENDER.wrap(json.dumps({"n": n, "mode": mode}).encode(), to=TO,
                       content_type="application/json")


def tampered(n: int) -> bytes:
    env = order(n)
    return env.replace(b"urn:example:orders</wsa:To>", b"urn:example:orderz</wsa:To>")


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    check(False, "timed out after %.0f s waiting for %s" % (timeout, what))
    return False


# ------------------------------------------------------------------- brokers
class Amqp:
    name = "amqp"

    def __init__(self) -> None:
        from proton import Message
        from proton.utils import BlockingConnection
        self.Message, self.url = Message, os.environ["AMQP_URL"]
        self.conn = BlockingConnection(self.url, sasl_enabled=True, allowed_mechs="ANONYMOUS")
        self.prefix = os.environ["AMQP_QUEUE_PREFIX"]
        self.senders: Dict[str, object] = {}

    def address(self, scenario: str) -> str:
        return "/amq/queue/%s-%s" % (self.prefix, scenario)

    def where(self) -> str:
        return self.url

    def publish(self, address: str, envelopes: List[bytes]) -> None:
        # one sender per address, kept open (each send waits for the broker's settlement)
        if address not in self.senders:
            self.senders[address] = self.conn.create_sender(address)
        sender = self.senders[address]
        for env in envelopes:
            msg = self.Message(body=env, durable=True, content_type="application/soap+xml")
            msg.inferred = True   # a data section, as msgsec-bridge sends
            sender.send(msg)

    def collect(self, address: str) -> "AmqpCollector":
        return AmqpCollector(self.conn, address)

    # the queue keeps messages until a consumer comes: started is enough
    ready_line = "service: ready"


class AmqpCollector:
    def __init__(self, conn: object, address: str) -> None:
        self.receiver = conn.create_receiver(address, credit=100)  # type: ignore[attr-defined]
        self.got: List[Tuple[bytes, Dict[str, object]]] = []

    def messages(self) -> List[Tuple[bytes, Dict[str, object]]]:
        from proton import Timeout
        while True:
            try:
                msg = self.receiver.receive(timeout=0.2)
            except Timeout:
                return self.got
            self.receiver.accept()
            self.got.append((bytes(msg.body), dict(msg.properties or {})))


class Mqtt:
    name = "mqtt"

    def __init__(self) -> None:
        import paho.mqtt.client as paho
        self.paho, self.host, self.port = paho, os.environ["MQTT_HOST"], int(os.environ["MQTT_PORT"])
        self.client = paho.Client(client_id="msgsec-test-publisher", protocol=paho.MQTTv5)
        self.client.connect(self.host, self.port)
        self.client.loop_start()

    def address(self, scenario: str) -> str:
        return "orders/%s" % scenario

    def where(self) -> str:
        return "%s:%d" % (self.host, self.port)

    def publish(self, topic: str, envelopes: List[bytes]) -> None:
        infos = [self.client.publish(topic, env, qos=1) for env in envelopes]
        for info in infos:
            info.wait_for_publish(timeout=30)

    def collect(self, topic: str) -> "MqttCollector":
        return MqttCollector(self, topic)

    # a new persistent session gets what is published once it has subscribed
    ready_line = "msgsec.mqtt: consuming"


class MqttCollector:
    def __init__(self, broker: Mqtt, topic: str) -> None:
        self.got: List[Tuple[bytes, Dict[str, object]]] = []
        self.client = broker.paho.Client(client_id="collector-" + topic.replace("/", "-"),
                                         protocol=broker.paho.MQTTv5)
        self.client.on_message = lambda c, u, m: self.got.append(
            (bytes(m.payload), dict(getattr(m.properties, "UserProperty", []) or [])))
        subscribed: List[int] = []
        self.client.on_subscribe = lambda *a: subscribed.append(1)
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        wait_until(lambda: bool(subscribed), 10, "the collector's subscription to " + topic)

    def messages(self) -> List[Tuple[bytes, Dict[str, object]]]:
        return self.got


# ------------------------------------------------------------------ service
class Service:
    def __init__(self, broker: object, scenario: str, *extra: str) -> None:
        self.broker, self.scenario = broker, scenario
        self.log = os.path.join(WORK, "%s.log" % scenario)
        self.out = os.path.join(WORK, "%s.out" % scenario)
        self.cmd = [sys.executable, os.path.join(HERE, "service.py"), broker.name,  # type: ignore[attr-defined]
                    broker.where(), broker.address(scenario), "--log", self.log,  # type: ignore[attr-defined]
                    "--replay-db", os.path.join(WORK, scenario + ".replay"),
                    "--state", os.path.join(WORK, scenario + ".state"),
                    "--client-id", "svc-" + scenario] + list(extra)
        self.proc: Optional[subprocess.Popen] = None
        open(self.log, "a").close()

    def start(self) -> None:
        before = self.output()
        marks = [before.count(m) for m in ("service: ready", self.broker.ready_line)]  # type: ignore[attr-defined]
        with open(self.out, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT)
        wait_until(lambda: all(self.output().count(m) > n for m, n in zip(
            ("service: ready", self.broker.ready_line), marks)), 20,  # type: ignore[attr-defined]
            "the service to start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        print("---- service output (%s, tail)" % self.scenario)
        print("".join(self.output().splitlines(True)[-12:]), end="")

    def lines(self) -> List[str]:
        with open(self.log) as f:
            return f.read().splitlines()

    def begins(self, n: int) -> int:
        return self.lines().count("begin %d" % n)

    def dones(self, n: int) -> int:
        return self.lines().count("done %d" % n)

    def output(self) -> str:
        try:
            with open(self.out, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def quiet(seconds: float) -> None:
    """Long enough for a stray redelivery or a second handling to show up."""
    time.sleep(seconds)


# ---------------------------------------------------------------- scenarios
def stream(broker: object) -> None:
    n, slow = 150, (30, 80, 130)
    envelopes = [order(i, "slow" if i in slow else "ok") for i in range(n)]
    svc = Service(broker, "stream")
    svc.start()
    broker.publish(broker.address("stream"), envelopes)  # type: ignore[attr-defined]
    for s in slow:
        if wait_until(lambda: svc.begins(s) == 1, 60, "the handler of slow order %d" % s):
            svc.kill()
            print("     SIGKILL in the handler of order %d (%d orders done)"
                  % (s, sum(1 for l in svc.lines() if l.startswith("done"))), flush=True)
            svc.start()
    wait_until(lambda: all(svc.dones(i) for i in range(n)), 90, "all %d orders" % n)
    broker.publish(broker.address("stream"), [envelopes[5]])  # type: ignore[attr-defined]
    wait_until(lambda: "duplicate" in svc.output(), 20, "the duplicate to be acknowledged")
    quiet(2)
    svc.stop()
    done = [svc.dones(i) for i in range(n)]
    check(done == [1] * n, "every one of %d orders handled exactly once (counts %s)"
          % (n, sorted(set(done))))
    check([svc.begins(s) for s in slow] == [2, 2, 2],
          "each killed handler ran again on the redelivery (begins %s)"
          % [svc.begins(s) for s in slow])
    check(svc.begins(5) == 1, "the republished copy of order 5 did not reach the handler")


def poison(broker: object) -> None:
    addr = broker.address("poison")  # type: ignore[attr-defined]
    box = broker.collect(addr + (".poison" if broker.name == "amqp" else "/poison"))  # type: ignore[attr-defined]
    svc = Service(broker, "poison", "--on-error", "move", "--retries", "5", "--poison",
                  addr + (".poison" if broker.name == "amqp" else "/poison"))  # type: ignore[attr-defined]
    svc.start()
    bad = tampered(1000)
    broker.publish(addr, [bad, order(1001, "fail3"), order(1002, "failalways"),  # type: ignore[attr-defined]
                          order(1003)])
    wait_until(lambda: len(box.messages()) >= 2 and svc.dones(1001) and svc.dones(1003), 60,
               "two poison messages and orders 1001, 1003")
    quiet(2)
    svc.stop()
    got = box.messages()
    check(len(got) == 2, "two messages in the poison address (got %d)" % len(got))
    by_class = {str(props.get("msgsec-error-class")): (body, props) for body, props in got}
    body, props = by_class.get("4", (b"", {}))
    check(body == bad, "the tampered envelope is in the poison address, unchanged")
    check("does not match" in str(props.get("msgsec-reject-reason", "")) and
          "class 4" in str(props.get("msgsec-reject-reason")),
          "with its reason: %r" % props.get("msgsec-reject-reason"))
    check(svc.begins(1000) == 0, "the tampered envelope never reached the handler")
    check((svc.begins(1001), svc.dones(1001)) == (4, 1),
          "fails 3 times then succeeds: 4 attempts, handled once (%d, %d)"
          % (svc.begins(1001), svc.dones(1001)))
    body, props = by_class.get("handler", (b"", {}))
    check(b"urn:uuid:" in body and str(props.get("msgsec-attempts")) == "6" and
          "handler failed 6 times" in str(props.get("msgsec-reject-reason")),
          "always fails: in the poison address after 1 + 5 attempts (%r)" % props)
    check((svc.begins(1002), svc.dones(1002)) == (6, 0), "always fails: 6 attempts, never done")
    check(svc.dones(1003) == 1, "the good order is handled")


def count(broker: object) -> None:
    addr = broker.address("count")  # type: ignore[attr-defined]
    target = addr + (".poison" if broker.name == "amqp" else "/poison")  # type: ignore[attr-defined]
    box = broker.collect(target)  # type: ignore[attr-defined]
    svc = Service(broker, "count", "--on-error", "move", "--retries", "5", "--poison", target)
    svc.start()
    broker.publish(addr, [order(2001, "failslow")])  # type: ignore[attr-defined]
    if wait_until(lambda: svc.begins(2001) == 3, 60, "the third attempt"):
        svc.kill()
        svc.start()
    wait_until(lambda: len(box.messages()) == 1, 60, "the poison message")
    quiet(2)
    svc.stop()
    got = box.messages()
    check(svc.begins(2001) == 7, "killed in its 3rd attempt: 7 attempts in all, 6 counted "
          "(got %d)" % svc.begins(2001))
    check(len(got) == 1 and str(got[0][1].get("msgsec-attempts")) == "6",
          "poisoned once, after 6 counted failures")


def reject(broker: object) -> None:
    addr = broker.address("reject")  # type: ignore[attr-defined]
    dlq = broker.collect(addr + ".dlq")  # type: ignore[attr-defined]
    svc = Service(broker, "reject", "--on-error", "reject", "--retries", "1")
    svc.start()
    bad = tampered(3000)
    broker.publish(addr, [bad, order(3001, "failalways"), order(3002)])  # type: ignore[attr-defined]
    wait_until(lambda: len(dlq.messages()) >= 2 and svc.dones(3002), 60,
               "two dead-lettered messages")
    quiet(1)
    svc.stop()
    bodies = [b for b, _ in dlq.messages()]
    check(len(bodies) == 2 and bad in bodies, "rejected messages are dead-lettered by RabbitMQ")
    check(svc.begins(3000) == 0 and svc.begins(3001) == 2, "tampered: no attempt; failing: 2")
    check("reject message (refused)" in svc.output(), "the service logged the reason")


def drop(broker: object) -> None:
    addr = broker.address("drop")  # type: ignore[attr-defined]
    svc = Service(broker, "drop", "--on-error", "drop")
    svc.start()
    broker.publish(addr, [tampered(4000), order(4001)])  # type: ignore[attr-defined]
    wait_until(lambda: svc.dones(4001) == 1, 30, "order 4001")
    svc.stop()
    svc.start()
    quiet(2)
    svc.stop()
    check(svc.begins(4000) == 0, "the tampered message never reached the handler")
    check(svc.output().count("drop message") == 1, "dropped once, not redelivered")


def main() -> int:
    kind = sys.argv[1] if len(sys.argv) == 2 else ""
    if kind not in ("amqp", "mqtt"):
        print(__doc__, file=sys.stderr)
        return 2
    broker = Amqp() if kind == "amqp" else Mqtt()
    scenarios = [stream, poison, count] + ([reject] if kind == "amqp" else [drop])
    for scenario in scenarios:
        print("== %s %s" % (kind, scenario.__name__), flush=True)
        scenario(broker)
    print("%d failure(s)" % len(failures) if failures else "all consumer checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
