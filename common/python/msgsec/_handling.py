"""What a queue consumer does with one message: the part msgsec.amqp and msgsec.mqtt share.

Exactly-once effect, and where it stops (docs: README "Writing a service"):
the message is unwrapped with Receiver.unwrap_deferred, which checks the replay cache but
records nothing; the handler runs; only when it returned is the replay entry committed
(Receiver.commit), and only then is the delivery settled. So:

- killed while the handler runs: nothing recorded, nothing settled; the broker redelivers and
  the handler runs again on the copy (its first run must have left no effect: make the
  handler's own work one transaction);
- killed after the commit, before the settlement: the copy is a replay, settled without
  calling the handler;
- killed after the handler returned but before the commit (one LMDB write, no I/O wait):
  the handler runs a second time. A handler that cannot tolerate that records ctx.message_id
  in its own transaction and skips ids it has seen.
"""
from __future__ import annotations

import enum
import logging
from typing import Callable, NamedTuple, Optional

from ._binding import Receiver
from ._context import Context
from ._errors import ConfigurationError, Error, ReplayError

Handler = Callable[[bytes, Context], object]
#: called with (kind, reason) once per handler attempt that failed ("retry") and per settled
#: message ("handled", "duplicate", "refused", "exhausted"); reason is "" for the first two
Observer = Callable[[str, str], None]
log = logging.getLogger("msgsec")


class ErrorHandling(enum.Enum):
    """What a consumer does with a message it cannot handle (WCF's ReceiveErrorHandling):
    a security failure at once, a handler failure once its retries are spent."""

    REJECT = "reject"  #: AMQP `rejected` with the reason (the queue's dead-letter exchange decides)
    DROP = "drop"      #: acknowledged and logged
    MOVE = "move"      #: copied to the poison address with the reason, then acknowledged


Reject, Drop, Move = ErrorHandling.REJECT, ErrorHandling.DROP, ErrorHandling.MOVE

#: the application (AMQP) / user (MQTT 5) properties of a moved or retried copy
REASON_PROPERTY = "msgsec-reject-reason"
CLASS_PROPERTY = "msgsec-error-class"  # 3..8, or "handler"
ATTEMPTS_PROPERTY = "msgsec-attempts"  # handler failures so far


class Outcome(NamedTuple):
    """HANDLED / DUPLICATE: acknowledge. REFUSED (a security failure) / EXHAUSTED (the handler
    failed more than `retries` times): per on_error. RETRY: the handler failed `failures` times
    so far; hand the message to it again."""

    kind: str
    reason: str = ""
    error_class: str = ""
    failures: int = 0


HANDLED, DUPLICATE, REFUSED, RETRY, EXHAUSTED = "handled", "duplicate", "refused", "retry", "exhausted"


def check_error_handling(on_error: Optional[ErrorHandling], poison: Optional[str],
                         reject_ok: bool = True) -> ErrorHandling:
    """on_error, or its default (Move with a poison address, else Reject/Drop); refuses a poison
    address that on_error would not use, and Move without one."""
    if on_error is None:
        on_error = Move if poison else (Reject if reject_ok else Drop)
    if not isinstance(on_error, ErrorHandling):
        raise ConfigurationError(2, "on_error must be msgsec.Reject, msgsec.Drop or msgsec.Move")
    if on_error is Move and not poison:
        raise ConfigurationError(2, "on_error=msgsec.Move needs a poison address")
    if on_error is not Move and poison:
        raise ConfigurationError(2, "a poison address is used only with on_error=msgsec.Move")
    if on_error is Reject and not reject_ok:
        raise ConfigurationError(2, "MQTT has no reject: use msgsec.Drop or msgsec.Move")
    return on_error


def process(receiver: Receiver, envelope: bytes, handler: Handler, failures: int,
            retries: int) -> Outcome:
    """Unwraps `envelope`, runs `handler` once and commits its replay entry when it returned.

    `failures`: how often the handler failed on this message before. A library failure that is
    not the message's fault (InternalError, ConfigurationError) is raised: the caller leaves the
    delivery unsettled."""
    try:
        payload, ctx = receiver.unwrap_deferred(envelope)
    except ReplayError:
        return Outcome(DUPLICATE)
    except Error as e:
        if not e.security_failure:
            raise
        return Outcome(REFUSED, "%s (class %d)" % (e.reason, e.code), str(e.code))
    try:
        handler(payload, ctx)
    except Exception as e:  # the service's own failure: retried, never a crash of the consumer
        failures += 1
        text = "%s: %s" % (type(e).__name__, str(e)[:200])
        log.warning("msgsec: handler failed on %s (%d of %d attempts): %s", ctx.message_id,
                    failures, retries + 1, text)
        if failures > retries:
            return Outcome(EXHAUSTED, "handler failed %d times: %s" % (failures, text),
                           "handler", failures)
        return Outcome(RETRY, text, "handler", failures)
    try:
        receiver.commit(ctx)
    except ReplayError:
        # another consumer on the same replay store handled a copy at the same time
        log.warning("msgsec: %s was handled concurrently by another consumer", ctx.message_id)
    return Outcome(HANDLED)
