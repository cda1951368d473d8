"""A queue consumer over MQTT 5 (python3-paho-mqtt) for services that use msgsec.

    def handle(payload: bytes, ctx: msgsec.Context) -> None: ...   # the service's own code
    msgsec.mqtt.serve("mosquitto", 1883, "orders/#", receiver, handle, client_id="orders-1",
                      state="/var/lib/orders/mqtt-state.db", on_error=msgsec.Move,
                      poison="msgsec/poison/orders")

- QoS 1 on a persistent session (clean start off, the session never expires): what the broker
  sent and was not acknowledged is sent again when the consumer reconnects, also after a
  restart under the same ``client_id``.
- The PUBACK leaves only after the handler returned (paho-mqtt 1.6 acknowledges when its
  on_message callback returns, and the handler runs inside it); the replay entry is committed
  just before (Receiver.unwrap_deferred + Receiver.commit), so a redelivered copy of a handled
  message is acknowledged without calling the handler again (see msgsec._handling).
- A security failure (classes 3 to 8) is never retried: per ``on_error`` it is dropped
  (acknowledged and logged) or moved: published with QoS 1 to ``poison`` with the user
  properties ``msgsec-reject-reason`` and ``msgsec-error-class``, and acknowledged once the
  broker has it. MQTT has no reject. The poison topic must not be covered by a broker
  ``enforce`` rule (that rule would refuse the copy as a replay), like the bridge's dead_letter.
- A handler exception is retried, in this process after ``retry_delay`` seconds, up to
  ``retries`` times, then handled per ``on_error``. MQTT carries no delivery count, so the
  failures are counted in ``state``, an SQLite file keyed by SHA-256 of the envelope: a
  consumer restarted during the retries goes on counting.
- A library failure that is not the message's fault (InternalError) disconnects without the
  PUBACK (the broker keeps the message in the session) and ends serve() with the exception.
"""
from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from typing import Any, Dict, Optional

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ._binding import Receiver
from ._handling import (ATTEMPTS_PROPERTY, CLASS_PROPERTY, DUPLICATE, EXHAUSTED, HANDLED,
                        REASON_PROPERTY, REFUSED, RETRY, Drop, ErrorHandling, Handler, Move,
                        Observer, Outcome, check_error_handling, process)

log = logging.getLogger("msgsec.mqtt")

__all__ = ["serve", "Consumer", "Drop", "Move"]

SESSION_NEVER_EXPIRES = 0xFFFFFFFF
STATE_KEEP_SECONDS = 30 * 86400


class _FailureCounts:
    """Handler failures per envelope, in an SQLite file: they survive a restart."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS failures "
                        "(envelope_sha256 BLOB PRIMARY KEY, failures INTEGER, updated INTEGER)")
        self.db.execute("DELETE FROM failures WHERE updated < ?",
                        (int(time.time()) - STATE_KEEP_SECONDS,))

    def get(self, key: bytes) -> int:
        row = self.db.execute("SELECT failures FROM failures WHERE envelope_sha256 = ?",
                              (key,)).fetchone()
        return int(row[0]) if row else 0

    def set(self, key: bytes, failures: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?)",
                        (key, failures, int(time.time())))

    def forget(self, key: bytes) -> None:
        self.db.execute("DELETE FROM failures WHERE envelope_sha256 = ?", (key,))

    def close(self) -> None:
        self.db.close()


def _connect(client: paho.Client, host: str, port: int, keepalive: int,
             persistent: bool) -> None:
    props = Properties(PacketTypes.CONNECT)
    if persistent:
        props.SessionExpiryInterval = SESSION_NEVER_EXPIRES
    client.connect(host, port, keepalive, clean_start=not persistent, properties=props)


def _client(client_id: str, tls: Optional[Dict[str, Any]], username: Optional[str],
            password: Optional[str]) -> paho.Client:
    client = paho.Client(client_id=client_id, protocol=paho.MQTTv5)
    if tls is not None:
        client.tls_set(**tls)
    if username is not None:
        client.username_pw_set(username, password)
    return client


class Consumer:
    """The MQTT consumer behind :func:`serve`."""

    def __init__(self, host: str, port: int, topic: str, receiver: Receiver, handler: Handler,
                 *, client_id: str, state: str, on_error: Optional[ErrorHandling] = None,
                 retries: int = 5, poison: Optional[str] = None, retry_delay: float = 1.0,
                 keepalive: int = 60, tls: Optional[Dict[str, Any]] = None,
                 username: Optional[str] = None, password: Optional[str] = None,
                 observer: Optional[Observer] = None) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.host, self.port, self.topic, self.keepalive = host, port, topic, keepalive
        self.receiver, self.handler = receiver, handler
        self.on_error = check_error_handling(on_error, poison, reject_ok=False)
        self.retries, self.poison, self.retry_delay = retries, poison, retry_delay
        self.observer = observer
        self.counts = {HANDLED: 0, DUPLICATE: 0, REFUSED: 0, EXHAUSTED: 0, RETRY: 0}
        self._failures = _FailureCounts(state)
        self._client = _client(client_id, tls, username, password)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._publisher: Optional[paho.Client] = None
        if poison:
            self._publisher = _client(client_id + "-poison", tls, username, password)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Dict[str, Any], rc: Any,
                    properties: Any = None) -> None:
        if rc != 0:
            log.error("msgsec.mqtt: connection refused: %s", rc)
            return
        # the session keeps the subscription: renewing it must not send retained messages again
        client.subscribe(self.topic, options=SubscribeOptions(
            qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB))
        log.info("msgsec.mqtt: consuming %s from %s:%d (session present: %s)", self.topic,
                 self.host, self.port, flags.get("session present"))

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        # paho sends the PUBACK when this returns; raising leaves the message unacknowledged
        if msg.qos == 0:
            log.warning("msgsec.mqtt: QoS 0 message on %s: it cannot be redelivered", msg.topic)
        envelope = bytes(msg.payload)
        key = hashlib.sha256(envelope).digest()
        failures = self._failures.get(key)
        while True:
            outcome = process(self.receiver, envelope, self.handler, failures, self.retries)
            if outcome.kind != RETRY:
                break
            self._count(outcome)
            failures = outcome.failures
            self._failures.set(key, failures)
            time.sleep(self.retry_delay)
        if outcome.kind in (REFUSED, EXHAUSTED):
            self._fail(msg, outcome)
        elif outcome.kind == DUPLICATE:
            log.info("msgsec.mqtt: duplicate of a handled message acknowledged")
        if failures:
            self._failures.forget(key)
        self._count(outcome)

    def _count(self, outcome: Outcome) -> None:
        self.counts[outcome.kind] += 1
        if self.observer is not None:
            self.observer(outcome.kind, outcome.reason)

    def _fail(self, msg: paho.MQTTMessage, outcome: Outcome) -> None:
        log.warning("msgsec.mqtt: %s message on %s (%s): %s", self.on_error.value, msg.topic,
                    outcome.kind, outcome.reason)
        if self.on_error is Drop:
            return
        assert self._publisher is not None and self.poison
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [(REASON_PROPERTY, outcome.reason),
                              (CLASS_PROPERTY, outcome.error_class),
                              (ATTEMPTS_PROPERTY, str(outcome.failures)),
                              ("msgsec-source-topic", msg.topic)]
        content_type = getattr(msg.properties, "ContentType", None)
        if content_type:
            props.ContentType = content_type
        info = self._publisher.publish(self.poison, bytes(msg.payload), qos=1, properties=props)
        info.wait_for_publish(timeout=30)
        if not info.is_published():
            raise ConnectionError("msgsec.mqtt: the poison copy was not acknowledged by the broker")

    def run(self, max_messages: Optional[int] = None, timeout: Optional[float] = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._publisher is not None:
            _connect(self._publisher, self.host, self.port, self.keepalive, persistent=False)
            self._publisher.loop_start()
        _connect(self._client, self.host, self.port, self.keepalive, persistent=True)
        try:
            while True:
                settled = sum(n for kind, n in self.counts.items() if kind != RETRY)
                if max_messages is not None and settled >= max_messages:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if self._client.loop(timeout=0.5) != paho.MQTT_ERR_SUCCESS:
                    time.sleep(1)
                    try:
                        self._client.reconnect()
                    except OSError as e:
                        log.warning("msgsec.mqtt: reconnect failed: %s", e)
        finally:
            # also after an exception in the handler step (a library failure that is not the
            # message's fault, a poison copy not acknowledged): no PUBACK was sent for that
            # message, the broker keeps it in the session
            self.close()

    def close(self) -> None:
        if self._client.is_connected():
            self._client.disconnect()
        if self._publisher is not None:
            self._publisher.disconnect()
            self._publisher.loop_stop()
        self._failures.close()


def serve(host: str, port: int, topic: str, receiver: Receiver, handler: Handler, *,
          client_id: str, state: str, on_error: Optional[ErrorHandling] = None,
          retries: int = 5, poison: Optional[str] = None, retry_delay: float = 1.0,
          keepalive: int = 60, tls: Optional[Dict[str, Any]] = None,
          username: Optional[str] = None, password: Optional[str] = None,
          max_messages: Optional[int] = None, timeout: Optional[float] = None,
          observer: Optional[Observer] = None) -> Dict[str, int]:
    """Subscribes to ``topic`` (QoS 1, persistent session ``client_id``) and calls
    ``handler(payload, ctx)`` for each message ``receiver`` accepts, until ``max_messages`` are
    acknowledged or ``timeout`` seconds passed (default: forever). ``state``: SQLite file of the
    handler failure counts. ``on_error`` defaults to Move with a ``poison`` topic, else Drop.
    ``tls``: keyword arguments of paho's tls_set. ``observer(kind, reason)`` hears of every
    outcome. Returns the counts of handled, duplicate, refused, exhausted and retried
    messages."""
    consumer = Consumer(host, port, topic, receiver, handler, client_id=client_id, state=state,
                        on_error=on_error, retries=retries, poison=poison,
                        retry_delay=retry_delay, keepalive=keepalive, tls=tls,
                        username=username, password=password, observer=observer)
    consumer.run(max_messages=max_messages, timeout=timeout)
    return consumer.counts
