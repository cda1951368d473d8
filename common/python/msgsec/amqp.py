"""A queue consumer over AMQP 1.0 (python3-qpid-proton) for services that use msgsec.

    def handle(payload: bytes, ctx: msgsec.Context) -> None: ...   # the service's own code
    msgsec.amqp.serve("amqp://rabbitmq:5672", "/amq/queue/orders", receiver, handle,
                      on_error=msgsec.Move, retries=5, poison="/amq/queue/orders.poison")

- A delivery is settled only after the handler returned (at-least-once); its replay entry is
  committed just before (Receiver.unwrap_deferred + Receiver.commit), so a redelivered copy of a
  handled message is accepted without calling the handler again (see msgsec._handling for the
  exact guarantee).
- A security failure (classes 3 to 8) is never retried: per ``on_error`` it is rejected (AMQP
  ``rejected`` with the reason in its error: RabbitMQ dead-letters it when the queue has a
  dead-letter exchange), dropped (accepted and logged) or moved to ``poison`` with the
  reason in the application property ``msgsec-reject-reason``.
- A handler exception is retried up to ``retries`` times, then handled per ``on_error``. The
  count travels with the message: the failed delivery is settled only once a copy carrying
  ``msgsec-attempts`` = failures so far is accepted by the broker at the back of the queue
  (and no other handler starts meanwhile, so a kill cannot leave both in the queue): the count
  survives restarts and other consumers of the queue see it. The header's
  delivery-count is honoured too where the broker keeps one (RabbitMQ 3.10 does not: it always
  sends 0). The copy is safe: the replay entry is committed only on success, and of two copies
  the second to succeed is a duplicate.
- A library failure that is not the message's fault (InternalError, e.g. the replay store
  cannot answer) releases the delivery and ends serve() with the exception: fail closed.
"""
from __future__ import annotations

import collections
import itertools
import logging
from typing import Any, Callable, Deque, Dict, Optional, Tuple

from proton import Condition, Delivery, Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

from ._binding import Receiver
from ._errors import Error
from ._handling import (ATTEMPTS_PROPERTY, CLASS_PROPERTY, DUPLICATE, EXHAUSTED, HANDLED,
                        REASON_PROPERTY, REFUSED, RETRY, Drop, ErrorHandling, Handler, Move,
                        Observer, Outcome, Reject, check_error_handling, process)

log = logging.getLogger("msgsec.amqp")

__all__ = ["serve", "Consumer", "Reject", "Drop", "Move"]


def _body_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return b"" if body is None else repr(body).encode()  # not an envelope: refused as malformed


def _copy(msg: Message, properties: Dict[str, Any]) -> Message:
    """The message again, durable, with more application properties."""
    props = dict(msg.properties or {})
    props.update(properties)
    copy = Message(body=msg.body, properties=props, content_type=msg.content_type, durable=True,
                   id=msg.id, correlation_id=msg.correlation_id, subject=msg.subject)
    copy.inferred = msg.inferred
    return copy


class _Tick:
    """A timer task's handler that calls a function with the event."""

    def __init__(self, fn: Callable[[Any], None]) -> None:
        self.on_timer_task = fn


class Consumer(MessagingHandler):
    """The proton handler behind :func:`serve`, for services that run their own Container."""

    def __init__(self, url: str, address: str, receiver: Receiver, handler: Handler, *,
                 on_error: Optional[ErrorHandling] = None, retries: int = 5,
                 poison: Optional[str] = None, prefetch: int = 10,
                 max_messages: Optional[int] = None, timeout: Optional[float] = None,
                 observer: Optional[Observer] = None, connect: Optional[Dict[str, Any]] = None):
        super().__init__(prefetch=prefetch, auto_accept=False)
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.url, self.address, self.receiver, self.handler = url, address, receiver, handler
        self.on_error = check_error_handling(on_error, poison)
        self.retries, self.poison = retries, poison
        self.max_messages, self.timeout, self.observer = max_messages, timeout, observer
        self.connect_options = connect or {}
        self.counts = {HANDLED: 0, DUPLICATE: 0, REFUSED: 0, EXHAUSTED: 0, RETRY: 0}
        self._awaiting: Dict[str, Any] = {}   # tag of a copy we sent -> (original, outcome)
        self._tags = itertools.count(1)
        self._connection = self._retry_sender = self._poison_sender = self._timer = None
        self._queue: Deque[Tuple[Message, Any]] = collections.deque()
        self._work, self._work_scheduled = _Tick(self._next), False

    # ---------------------------------------------------------------- links
    def on_start(self, event: Any) -> None:
        self._connection = event.container.connect(self.url, **self.connect_options)
        event.container.create_receiver(self._connection, self.address)
        self._retry_sender = event.container.create_sender(self._connection, self.address)
        if self.poison:
            self._poison_sender = event.container.create_sender(self._connection, self.poison)
        if self.timeout is not None:
            self._timer = event.container.schedule(self.timeout, self)
        log.info("msgsec.amqp: consuming %s from %s", self.address, self.url)

    def on_timer_task(self, event: Any) -> None:
        log.info("msgsec.amqp: stopping after %s s", self.timeout)
        self._timer = None
        self.stop()

    def stop(self) -> None:
        """Closes the connection; unsettled deliveries go back to the queue."""
        self._queue.clear()  # no handler starts any more
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._connection is not None:
            self._connection.close()

    def on_disconnected(self, event: Any) -> None:
        # unsettled deliveries go back to the queue with the connection: forget them
        self._awaiting.clear()
        self._queue.clear()

    def on_link_error(self, event: Any) -> None:
        cond = event.link.remote_condition
        raise ConnectionError("msgsec.amqp: link %s refused: %s" % (
            event.link.name, cond.description if cond else "no reason given"))

    # ------------------------------------------------------------ messages
    def on_message(self, event: Any) -> None:
        # The handler runs from a timer task, after the reactor's next I/O pass: so the
        # settlement of the message before (and the acceptance of a copy's original) is on
        # the wire before the next handler starts, not held back while it runs.
        # A message also waits while a copy we sent (retry, poison) is not yet accepted by the
        # broker: its original is settled then, and must be before another handler runs, or
        # a kill would leave both the original and the copy in the queue.
        self._queue.append((event.message, event.delivery))
        self._kick(event.container)

    def _kick(self, container: Any) -> None:
        if self._queue and not self._awaiting and not self._work_scheduled:
            self._work_scheduled = True
            container.schedule(0, self._work)

    def _next(self, event: Any) -> None:
        self._work_scheduled = False
        if self._queue and not self._awaiting:
            msg, delivery = self._queue.popleft()
            self._handle(msg, delivery)
        self._kick(event.container)

    def _handle(self, msg: Message, delivery: Any) -> None:
        props = msg.properties or {}
        try:
            failures = max(int(props.get(ATTEMPTS_PROPERTY, 0)), int(msg.delivery_count or 0))
        except (TypeError, ValueError):
            failures = 0
        try:
            outcome = process(self.receiver, _body_bytes(msg.body), self.handler, failures,
                              self.retries)
        except Error:
            delivery.update(Delivery.RELEASED)
            delivery.settle()
            raise
        if outcome.kind in (HANDLED, DUPLICATE):
            if outcome.kind == DUPLICATE:
                log.info("msgsec.amqp: duplicate of a handled message acknowledged")
            self._settle(delivery, outcome, Delivery.ACCEPTED)
        elif outcome.kind == RETRY:
            self._send_copy(self._retry_sender, msg, delivery, outcome,
                            {ATTEMPTS_PROPERTY: outcome.failures})
        else:
            self._fail(msg, delivery, outcome)

    def _fail(self, msg: Message, delivery: Any, outcome: Outcome) -> None:
        log.warning("msgsec.amqp: %s message (%s): %s", self.on_error.value, outcome.kind,
                    outcome.reason)
        if self.on_error is Reject:
            delivery.local.condition = Condition(
                "msgsec:refused" if outcome.kind == REFUSED else "msgsec:handler-failed",
                outcome.reason)
            self._settle(delivery, outcome, Delivery.REJECTED)
        elif self.on_error is Drop:
            self._settle(delivery, outcome, Delivery.ACCEPTED)
        else:
            self._send_copy(self._poison_sender, msg, delivery, outcome, {
                REASON_PROPERTY: outcome.reason, CLASS_PROPERTY: outcome.error_class,
                ATTEMPTS_PROPERTY: outcome.failures})

    def _send_copy(self, sender: Any, msg: Message, original: Any, outcome: Outcome,
                   properties: Dict[str, Any]) -> None:
        """Sends a copy; the original is accepted once the broker accepted the copy."""
        tag = str(next(self._tags))
        self._awaiting[tag] = (original, outcome)
        sender.send(_copy(msg, properties), tag=tag)

    def _copy_settled(self, event: Any, accepted: bool) -> None:
        entry = self._awaiting.pop(str(event.delivery.tag), None)
        if entry is None:
            return
        original, outcome = entry
        if accepted:
            self._settle(original, outcome, Delivery.ACCEPTED)
        else:  # the copy was refused: keep the message in its queue
            log.error("msgsec.amqp: %s refused the copy of a message; released",
                      event.link.target.address)
            original.update(Delivery.RELEASED)
            original.settle()
        self._kick(event.container)

    def on_accepted(self, event: Any) -> None:
        self._copy_settled(event, True)

    def on_rejected(self, event: Any) -> None:
        self._copy_settled(event, False)

    def on_released(self, event: Any) -> None:
        self._copy_settled(event, False)

    def _settle(self, delivery: Any, outcome: Outcome, state: Any) -> None:
        delivery.update(state)
        delivery.settle()
        self.counts[outcome.kind] += 1
        if self.observer is not None:
            self.observer(outcome.kind, outcome.reason)
        settled = sum(n for kind, n in self.counts.items() if kind != RETRY)
        if self.max_messages is not None and settled >= self.max_messages:
            self.stop()


def serve(url: str, address: str, receiver: Receiver, handler: Handler, *,
          on_error: Optional[ErrorHandling] = None, retries: int = 5,
          poison: Optional[str] = None, prefetch: int = 10, max_messages: Optional[int] = None,
          timeout: Optional[float] = None, observer: Optional[Observer] = None,
          **connect: Any) -> Dict[str, int]:
    """Consumes ``address`` at ``url`` and calls ``handler(payload, ctx)`` for each message
    that ``receiver`` accepts, until ``max_messages`` are settled or ``timeout`` seconds passed
    (default: forever). ``connect``: options of proton's Container.connect (``user``,
    ``password``, ``allowed_mechs``, ``ssl_domain``, ...). ``on_error`` defaults to Move with a
    ``poison`` address, else Reject. ``observer(kind, reason)`` hears of every outcome (logs,
    metrics). Returns the counts of handled, duplicate, refused, exhausted and retried
    deliveries."""
    consumer = Consumer(url, address, receiver, handler, on_error=on_error, retries=retries,
                        poison=poison, prefetch=prefetch, max_messages=max_messages,
                        timeout=timeout, observer=observer, connect=connect)
    Container(consumer).run()
    return consumer.counts
