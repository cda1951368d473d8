"""The exceptions of the msgsec package: one class per error class of SPEC section 4."""
from __future__ import annotations

from typing import Dict, Type


class Error(Exception):
    """A msgsec failure. ``code`` is the error class (the ``msgsec`` command's exit code),
    ``reason`` the library's one-line detail (never secrets or plaintext)."""

    code: int = 1

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return self.reason

    @property
    def security_failure(self) -> bool:
        """True when the message itself was refused (classes 3 to 8): retrying cannot help."""
        return 3 <= self.code <= 8


class InternalError(Error):
    """1: internal error (out of memory, library or store failure). Not the message's fault."""


class ConfigurationError(Error):
    """2: usage or configuration error (missing file, key readable by others, bad option)."""


class MalformedError(Error):
    """3: malformed or over limits (DOCTYPE, depth, size, duplicate IDs, structure)."""


class AuthenticationError(Error):
    """4: authentication failed (signature, untrusted or revoked certificate, user, ticket)."""


class ExpiredError(Error):
    """5: expired or not yet valid (Timestamp, certificate, assertion, Kerberos ticket)."""


class ReplayError(Error):
    """6: the message was already accepted."""


class NotForThisServiceError(Error):
    """7: cannot decrypt: the message is not addressed to this service."""


class PolicyError(Error):
    """8: policy violation (algorithm, credential type, wsa:To, unsigned part, sender)."""


BY_CODE: Dict[int, Type[Error]] = {
    1: InternalError, 2: ConfigurationError, 3: MalformedError, 4: AuthenticationError,
    5: ExpiredError, 6: ReplayError, 7: NotForThisServiceError, 8: PolicyError,
}


def error_for(code: int, reason: str) -> Error:
    """The exception of class ``code`` (an unknown code is an :class:`Error`)."""
    return BY_CODE.get(code, Error)(code, reason)
