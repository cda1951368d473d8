"""Context: the security context of an accepted message (WCF's ServiceSecurityContext)."""
from __future__ import annotations

import datetime
import json
import re
from typing import Any, Dict, Mapping, Optional

_XSD_DATETIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?\Z")


def parse_xsd_datetime(text: Optional[str]) -> Optional[datetime.datetime]:
    """An aware datetime of an xsd:dateTime ("2026-12-04T01:54:32.000Z"); a time without
    zone is read as UTC, as the library does. None for None or for text it cannot read."""
    if text is None:
        return None
    m = _XSD_DATETIME.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    zone = m.group(8)
    tz = datetime.timezone.utc
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(zone[1:3]),
                                                         minutes=int(zone[4:6])))
    try:
        return datetime.datetime(year, month, day, hour, minute, second, micro, tz)
    except ValueError:
        return None


class Context:
    """Read-only security context of a message, with the fields of the JSON context
    (SPEC section 4). Immutable: instances may be shared between threads.

    - ``credential_type``: "none", "certificate", "username", "windows" or "issued";
    - ``identity``: the authenticated sender (subject DN, username, Kerberos principal,
      SAML subject), None for the none credential;
    - ``issuer``: who vouches for the identity (CA DN, realm, token issuer);
    - ``claims``: dict of the SAML attributes (issued credential), else empty;
    - ``message_id``, ``to``, ``action``, ``content_type``: the message's headers;
    - ``created``, ``expires``: aware datetimes of the signed Timestamp;
    - ``signature_algorithm``: the signature method's URI;
    - ``verified``: what was checked: "full" (unwrap: signature, trust, decryption),
      "signer" (verify: the signature and the signer's chain) or "structure" (verify of a
      symmetric credential: nothing authenticated the identity);
    - ``signer_certificate``: DER of the signing certificate (certificate, issued) or None.
    """

    __slots__ = ("credential_type", "identity", "issuer", "claims", "message_id", "to", "action",
                 "content_type", "created", "expires", "signature_algorithm", "verified",
                 "signer_certificate", "_fields", "_pending")

    credential_type: str
    identity: Optional[str]
    issuer: Optional[str]
    claims: Mapping[str, str]
    message_id: Optional[str]
    to: Optional[str]
    action: Optional[str]
    content_type: Optional[str]
    created: Optional[datetime.datetime]
    expires: Optional[datetime.datetime]
    signature_algorithm: Optional[str]
    verified: str
    signer_certificate: Optional[bytes]

    def __init__(self, fields: Dict[str, Any], verified: str,
                 signer_certificate: Optional[bytes] = None, pending: Any = None) -> None:
        put = object.__setattr__
        put(self, "_fields", fields)
        put(self, "_pending", pending)
        put(self, "credential_type", fields.get("credential_type"))
        for name in ("identity", "issuer", "message_id", "to", "action", "content_type",
                     "signature_algorithm"):
            put(self, name, fields.get(name))
        put(self, "claims", _FrozenDict(fields.get("claims") or {}))
        put(self, "created", parse_xsd_datetime(fields.get("created")))
        put(self, "expires", parse_xsd_datetime(fields.get("expires")))
        put(self, "verified", fields.get("verified") or verified)
        put(self, "signer_certificate", signer_certificate)

    @classmethod
    def from_json(cls, text: str, verified: str, signer_certificate: Optional[bytes] = None,
                  pending: Any = None) -> "Context":
        """A context from the library's JSON (msgsec_context_json, ``msgsec unwrap --context``)."""
        return cls(json.loads(text), verified, signer_certificate, pending)

    def as_dict(self) -> Dict[str, Any]:
        """The JSON context as a new dict (created/expires as the envelope's text)."""
        d = dict(self._fields)
        d["claims"] = dict(self.claims)
        d["verified"] = self.verified
        return d

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("msgsec.Context is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("msgsec.Context is read-only")

    def __repr__(self) -> str:
        return ("msgsec.Context(credential_type=%r, identity=%r, message_id=%r, verified=%r)"
                % (self.credential_type, self.identity, self.message_id, self.verified))


class _FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that refuses changes (Context.claims)."""

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("msgsec.Context.claims is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]
