"""msgsec: message-level security for MQTT and AMQP 1.0, in process over libmsgsec.

    import msgsec
    receiver = msgsec.Receiver("orders.pem", "orders.key", ca=["ca.pem"],
                               to="urn:example:orders", replay_db="/var/lib/orders/replay")
    payload, ctx = receiver.unwrap(envelope)      # raises msgsec.AuthenticationError, ...
    print(ctx.identity, ctx.credential_type, ctx.message_id)

Queue consumers that settle a delivery only after the handler returned, never retry a
security failure and retry handler failures a bounded number of times: :mod:`msgsec.amqp`
(python3-qpid-proton) and :mod:`msgsec.mqtt` (python3-paho-mqtt).

Threads: the library calls release the GIL. A Sender or Receiver may be shared between
threads (its calls are serialized); a Context is immutable. Use one Receiver per thread to
unwrap on several cores.
"""
from ._binding import Receiver, Sender, inspect
from ._context import Context
from ._errors import (AuthenticationError, ConfigurationError, Error, ExpiredError,
                      InternalError, MalformedError, NotForThisServiceError, PolicyError,
                      ReplayError)
from ._handling import Drop, ErrorHandling, Move, Reject
from . import _ffi

__version__ = "0.1.0"


def library_version() -> str:
    """The loaded libmsgsec's version (msgsec_version()), or "unknown" for a library without it."""
    if _ffi.msgsec_version is None:
        return "unknown"
    return _ffi.msgsec_version().decode()


__all__ = [
    "Sender", "Receiver", "Context", "inspect", "library_version",
    "Error", "InternalError", "ConfigurationError", "MalformedError", "AuthenticationError",
    "ExpiredError", "ReplayError", "NotForThisServiceError", "PolicyError",
    "ErrorHandling", "Reject", "Drop", "Move",
]
