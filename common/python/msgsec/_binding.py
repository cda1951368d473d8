"""Sender and Receiver: libmsgsec handles, in process."""
from __future__ import annotations

import ctypes
import json
import os
import threading
import weakref
from ctypes import byref, c_size_t, c_void_p, string_at
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, TypeVar, Union

from . import _ffi
from ._context import Context
from ._errors import ConfigurationError, error_for

lib = _ffi.lib
Bytes = Union[bytes, bytearray, memoryview]
PathLike = Union[str, "os.PathLike[str]"]


def _raise(code: int, err: _ffi.msgsec_error) -> None:
    reason = err.detail.decode("utf-8", "replace") or lib.msgsec_strerror(code).decode()
    raise error_for(code, reason)


def _fs(path: Optional[PathLike]) -> Optional[bytes]:
    return None if path is None else os.fsencode(path)


def _text(value: Optional[str], what: str) -> Optional[bytes]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("%s must be a str" % what)
    return value.encode("utf-8")


def _as_bytes(data: Bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError("expected bytes, got %s" % type(data).__name__)


def _paths(value: Union[None, PathLike, Iterable[PathLike]]) -> List[str]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, os.PathLike)):
        return [os.fsdecode(value)]
    return [os.fsdecode(v) for v in value]


def _whole(value: Optional[float], what: str, minimum: int, unit: str = "seconds") -> int:
    """A whole number >= minimum, or 0 (the library's default) for None."""
    if value is None:
        return 0
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ConfigurationError(2, "%s must be a whole number of %s >= %d" % (what, unit, minimum))
    return int(value)


class _Handle:
    """A library handle with its free function: closed once, by close() or at collection.
    Calls on it are serialized by a lock (libmsgsec handles are single-threaded)."""

    def __init__(self, pointer: c_void_p, free: Callable[[c_void_p], None]) -> None:
        self.pointer: Optional[c_void_p] = pointer
        self.lock = threading.Lock()
        self._finalizer = weakref.finalize(self, free, pointer)

    def get(self, owner: str) -> c_void_p:
        if self.pointer is None:
            raise ValueError("msgsec.%s is closed" % owner)
        return self.pointer

    def close(self) -> None:
        with self.lock:
            self.pointer = None
            self._finalizer()


class _Pending:
    """The C context of a deferred unwrap, kept until its replay entry is committed."""

    def __init__(self, pointer: c_void_p) -> None:
        self.pointer: Optional[c_void_p] = pointer
        self._finalizer = weakref.finalize(self, lib.msgsec_context_free, pointer)

    def release(self) -> None:
        self.pointer = None
        self._finalizer()


T = TypeVar("T", bound="_Owner")


class _Owner:
    """Owns a library handle: close(), ``with``, or garbage collection frees it (a Sender
    wipes its keys first)."""

    _h: _Handle

    def close(self) -> None:
        self._h.close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Sender(_Owner):
    """Secures payloads for one receiving service (``msgsec wrap``).

    ``service_cert``: PEM certificate of the receiving service (required).
    ``credential``: "certificate" (default; ``cert`` + ``key``), "username" (``username`` +
    ``password`` or ``password_file``, first line), "windows" (``service_principal``; the
    Kerberos credential cache of ``$KRB5CCNAME``), "issued" (``token``: a SAML 2.0 assertion
    file, + ``cert`` + ``key`` of the key it confirms) or "none".
    ``ttl``: default Expires - Created in seconds (86400). ``suite``: "basic256sha256".

    Keys are loaded once. A Sender may be shared between threads: its calls are serialized
    (use one per thread to wrap in parallel). A password given as a str cannot be wiped from
    Python's memory; the library wipes its own copy.
    """

    def __init__(self, service_cert: PathLike, *, credential: str = "certificate",
                 cert: Optional[PathLike] = None, key: Optional[PathLike] = None,
                 username: Optional[str] = None, password: Optional[str] = None,
                 password_file: Optional[PathLike] = None,
                 service_principal: Optional[str] = None, token: Optional[PathLike] = None,
                 suite: Optional[str] = None, ttl: Optional[int] = None) -> None:
        if credential not in _ffi.CREDENTIALS:
            raise ConfigurationError(2, "unknown credential type %r (known: %s)"
                                     % (credential, ", ".join(_ffi.CREDENTIALS)))
        if password is not None and password_file is not None:
            raise ConfigurationError(2, "give password or password_file, not both")
        if password_file is not None:
            password = _read_password(password_file)
        opts = _ffi.new_struct(_ffi.msgsec_sender_opts)
        opts.credential = _ffi.CREDENTIALS[credential]
        opts.cert_file = _fs(cert)
        opts.key_file = _fs(key)
        opts.username = _text(username, "username")
        secret = None
        if password is not None:
            secret = ctypes.create_string_buffer(_text(password, "password") or b"")
            opts.password = ctypes.cast(secret, ctypes.c_char_p)
        opts.service_principal = _text(service_principal, "service_principal")
        opts.token_file = _fs(token)
        opts.service_cert_file = _fs(service_cert)
        opts.suite = _text(suite, "suite")
        opts.ttl_seconds = _whole(ttl, "ttl", 1)
        handle = c_void_p()
        err = _ffi.msgsec_error()
        try:
            rc = lib.msgsec_sender_new(byref(opts), byref(handle), byref(err))
        finally:
            if secret is not None:
                ctypes.memset(secret, 0, len(secret))
        if rc:
            _raise(rc, err)
        self.credential = credential
        self._h = _Handle(handle, lib.msgsec_sender_free)
        self._params = _ffi.msgsec_wrap_params()
        self._out = _ffi.u8p()
        self._out_len = c_size_t()
        self._err = _ffi.msgsec_error()

    def wrap(self, payload: Bytes, *, to: Optional[str] = None, action: Optional[str] = None,
             content_type: Optional[str] = None, ttl: Optional[int] = None,
             message_id: Optional[str] = None) -> bytes:
        """The SOAP envelope securing ``payload`` for the service.

        ``to``: wsa:To (default "urn:msgsec:service"); ``action``: wsa:Action; ``content_type``
        (default application/octet-stream; an XML type puts the payload in the Body as XML, and it
        must then be one well-formed element); ``ttl``: this message's Expires - Created;
        ``message_id``: wsa:MessageID (default a fresh urn:uuid)."""
        data = _as_bytes(payload)
        h = self._h
        with h.lock:
            p = self._params
            p.to = _text(to, "to")
            p.action = _text(action, "action")
            p.content_type = _text(content_type, "content_type")
            p.message_id = _text(message_id, "message_id")
            p.now = 0
            p.ttl_seconds = _whole(ttl, "ttl", 1)
            rc = lib.msgsec_wrap(h.get("Sender"), byref(p), data, len(data), byref(self._out),
                                 byref(self._out_len), byref(self._err))
            if rc:
                _raise(rc, self._err)
            try:
                return string_at(self._out, self._out_len.value)
            finally:
                lib.msgsec_free(self._out)


def _read_password(path: PathLike) -> str:
    """The first line of a password file, as ``msgsec wrap --password-file`` reads it."""
    with open(path, "rb") as f:
        data = f.read(4096)
    line = data.split(b"\n", 1)[0].split(b"\r", 1)[0]
    if not line:
        raise ConfigurationError(2, "password file %s: first line is empty" % os.fsdecode(path))
    return line.decode("utf-8")


class Receiver(_Owner):
    """Unwraps (full check and decryption) or verifies messages for one service
    (``msgsec unwrap`` / ``msgsec verify``).

    ``cert``, ``key``: the service's certificate and private key (``key=None``: a verify-only
    receiver, as a broker's). ``ca``, ``crl``, ``issuers``: PEM files of trusted CAs, CRLs
    (CRL checks are on when given) and SAML token issuers; ``users``: password store
    (``msgsec passwd``); ``keytab``: Kerberos keytab; ``to``: the wsa:To the service requires;
    ``max_age`` (86400), ``clock_skew`` (300), ``ticket_grace`` (0) in seconds;
    ``max_message_bytes``; ``credentials``: accepted credential types (default all);
    ``replay_db``: LMDB directory of the persistent replay cache (default in memory);
    ``replay_url`` (+ ``replay_password_file``, ``replay_namespace``): a replay cache shared
    through Redis; ``replay_max_bytes``: bound of the LMDB replay store;
    ``require_signed_token``: the signing token must itself be signed. These last ones need a
    libmsgsec that has them (ConfigurationError otherwise).

    A Receiver may be shared between threads: its calls are serialized and the GIL is released
    while the library works. To unwrap on several cores, use one Receiver per thread; receivers
    of one process on the same ``replay_db`` share one LMDB environment.
    """

    def __init__(self, cert: Optional[PathLike], key: Optional[PathLike] = None, *,
                 ca: Union[None, PathLike, Sequence[PathLike]] = None,
                 crl: Union[None, PathLike, Sequence[PathLike]] = None,
                 issuers: Union[None, PathLike, Sequence[PathLike]] = None,
                 users: Optional[PathLike] = None, keytab: Optional[PathLike] = None,
                 to: Optional[str] = None, max_age: Optional[int] = None,
                 clock_skew: Optional[int] = None, ticket_grace: Optional[int] = None,
                 max_message_bytes: Optional[int] = None,
                 credentials: Optional[Iterable[str]] = None, suite: Optional[str] = None,
                 replay_db: Optional[PathLike] = None, replay_url: Optional[str] = None,
                 replay_password_file: Optional[PathLike] = None,
                 replay_namespace: Optional[str] = None, replay_max_bytes: Optional[int] = None,
                 require_signed_token: bool = False) -> None:
        if replay_db is not None and replay_url is not None:
            raise ConfigurationError(2, "give replay_db or replay_url, not both")
        opts = _ffi.new_struct(_ffi.msgsec_receiver_opts)
        # API churn: options of receiver_opts fields that libmsgsec is gaining; set only when
        # the structure in _ffi.py declares them.
        newer = {"replay_url": _text(replay_url, "replay_url"),
                 "replay_password_file": _fs(replay_password_file),
                 "replay_namespace": _text(replay_namespace, "replay_namespace"),
                 "replay_max_bytes": _whole(replay_max_bytes, "replay_max_bytes", 1, "bytes"),
                 "protect_tokens": int(bool(require_signed_token))}
        for field, value in newer.items():
            if not value:
                continue
            if not _ffi.has_field(_ffi.msgsec_receiver_opts, field):
                raise ConfigurationError(2, "%s: not supported by this libmsgsec" % field)
            setattr(opts, field, value)
        mask = 0
        for name in credentials if credentials is not None else ():
            if name not in _ffi.CREDENTIALS:
                raise ConfigurationError(2, "unknown credential type %r" % name)
            mask |= 1 << _ffi.CREDENTIALS[name]
        if credentials is not None and not mask:
            raise ConfigurationError(2, "credentials: accept at least one credential type")
        keep = [_ffi.path_array(_paths(x)) for x in (ca, crl, issuers)]
        opts.cert_file = _fs(cert)
        opts.key_file = _fs(key)
        opts.ca_files, opts.crl_files, opts.issuer_files = keep
        opts.n_ca_files, opts.n_crl_files, opts.n_issuer_files = (
            len(_paths(x)) for x in (ca, crl, issuers))
        opts.users_file = _fs(users)
        opts.keytab_file = _fs(keytab)
        opts.expected_to = _text(to, "to")
        opts.max_age = _whole(max_age, "max_age", 1)
        skew = _whole(clock_skew, "clock_skew", 0)
        opts.clock_skew = -1 if clock_skew is not None and skew == 0 else skew  # 0 = default in C
        opts.ticket_grace = _whole(ticket_grace, "ticket_grace", 0)
        if opts.ticket_grace > (opts.max_age or 86400):
            raise ConfigurationError(2, "ticket_grace must not exceed max_age")
        opts.max_message_bytes = _whole(max_message_bytes, "max_message_bytes", 1, "bytes")
        opts.accepted_credentials = mask
        opts.suite = _text(suite, "suite")
        opts.replay_path = _fs(replay_db)
        handle = c_void_p()
        err = _ffi.msgsec_error()
        rc = lib.msgsec_receiver_new(byref(opts), byref(handle), byref(err))
        if rc:
            _raise(rc, err)
        self._h = _Handle(handle, lib.msgsec_receiver_free)
        self._payload = _ffi.u8p()
        self._payload_len = c_size_t()
        self._ctx = c_void_p()
        self._json = c_void_p()
        self._der_len = c_size_t()
        self._err = _ffi.msgsec_error()

    # -- the calls; each one runs under the handle's lock
    def _context(self, ctx: c_void_p, verified: str, pending: Optional[_Pending]) -> Context:
        """The Python Context of a C context (which the caller frees, or ``pending`` owns)."""
        rc = lib.msgsec_context_json(ctx, byref(self._json), byref(self._err))
        if rc:
            _raise(rc, self._err)
        try:
            text = string_at(self._json).decode("utf-8")
        finally:
            lib.msgsec_free(self._json)
        der = lib.msgsec_context_signer_cert_der(ctx, byref(self._der_len))
        signer = string_at(der, self._der_len.value) if der else None
        # API churn: once msgsec_context_json carries "verified", Context takes it from there.
        return Context.from_json(text, verified, signer, pending)

    def _unwrap(self, envelope: Bytes, deferred: bool) -> Tuple[bytes, Context]:
        data = _as_bytes(envelope)
        h = self._h
        call = lib.msgsec_unwrap_deferred if deferred else lib.msgsec_unwrap
        with h.lock:
            rc = call(h.get("Receiver"), data, len(data), byref(self._payload),
                      byref(self._payload_len), byref(self._ctx), byref(self._err))
            if rc:
                _raise(rc, self._err)
            ctx = self._ctx.value
            try:
                payload = string_at(self._payload, self._payload_len.value)
            finally:
                lib.msgsec_free_secret(self._payload, self._payload_len.value)
            pending = _Pending(c_void_p(ctx)) if deferred else None
            try:
                return payload, self._context(ctx, "full", pending)
            finally:
                if not deferred:
                    lib.msgsec_context_free(ctx)

    def unwrap(self, envelope: Bytes) -> Tuple[bytes, Context]:
        """Checks everything, decrypts, records the message in the replay cache; returns
        (payload, context). Raises a :class:`msgsec.Error` subclass per failure class, and then
        nothing was recorded. The payload is a plain bytes object (Python cannot wipe it)."""
        return self._unwrap(envelope, False)

    def unwrap_deferred(self, envelope: Bytes) -> Tuple[bytes, Context]:
        """As :meth:`unwrap`, but the replay entry is only looked up (ReplayError if the message
        was recorded already), not recorded: call :meth:`commit` once the message is processed,
        before it is acknowledged to its queue. Until then a redelivered copy is accepted
        again (msgsec_unwrap_deferred)."""
        return self._unwrap(envelope, True)

    def commit(self, ctx: Context) -> None:
        """Records the replay entry of a context from :meth:`unwrap_deferred` (of this receiver
        or one on the same replay store). ReplayError if a copy was committed meanwhile;
        ConfigurationError if ``ctx`` has nothing to commit."""
        pending = ctx._pending
        if pending is None or pending.pointer is None:
            raise ConfigurationError(2, "no replay entry waiting to be committed")
        h = self._h
        with h.lock:
            rc = lib.msgsec_replay_commit(h.get("Receiver"), pending.pointer, byref(self._err))
            if rc == _ffi.OK or rc == _ffi.E_REPLAY:
                pending.release()
            if rc:
                _raise(rc, self._err)

    def verify(self, envelope: Bytes) -> Context:
        """What a broker can check without the service key (structure, limits, freshness,
        replay and, for certificate and issued credentials, signature, chain and sender);
        records the message in the replay cache. Returns the context (``verified`` says what
        was authenticated)."""
        data = _as_bytes(envelope)
        h = self._h
        with h.lock:
            rc = lib.msgsec_verify(h.get("Receiver"), data, len(data), byref(self._ctx),
                                   byref(self._err))
            if rc:
                _raise(rc, self._err)
            ctx = self._ctx.value
            try:
                fields = self._context(ctx, "", None)
            finally:
                lib.msgsec_context_free(ctx)
        if fields.verified:
            return fields
        scope = "signer" if fields.credential_type in ("certificate", "issued") else "structure"
        return Context(fields._fields, scope, fields.signer_certificate)

    def set_clock(self, now: Optional[int]) -> None:
        """Overrides the receiver's clock with a Unix time (tests); None = real time."""
        h = self._h
        with h.lock:
            lib.msgsec_receiver_set_time(h.get("Receiver"), int(now or 0))



def inspect(envelope: Bytes, max_bytes: int = 1048576) -> dict:
    """Unverified summary of an envelope (``msgsec inspect``); never decrypts."""
    data = _as_bytes(envelope)
    out = c_void_p()
    err = _ffi.msgsec_error()
    rc = lib.msgsec_inspect(data, len(data), max_bytes, byref(out), byref(err))
    if rc:
        _raise(rc, err)
    try:
        return json.loads(string_at(out).decode("utf-8"))
    finally:
        lib.msgsec_free(out)
