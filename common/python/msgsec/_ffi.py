"""ctypes declarations of libmsgsec (common/include/msgsec.h): the ONE place that mirrors the C API.

Every structure layout and function prototype the package uses is declared here and nowhere else,
so that a change of msgsec.h is one edit of this file. The library is found, in this order:

1. ``$MSGSEC_LIBRARY`` (a path), e.g. the build tree's ``build/common/libmsgsec.so``;
2. the ``libmsgsec.so.0`` installed next to this package by ``cmake --install`` (its path is
   recorded at install time in ``_install.py``);
3. ``libmsgsec.so.0`` through the dynamic linker's search path (``ldconfig``, ``LD_LIBRARY_PATH``).

The library is loaded with :class:`ctypes.CDLL`, so every foreign call releases the GIL.
"""
from __future__ import annotations

import ctypes
import os
from ctypes import (POINTER, Structure, c_char, c_char_p, c_int, c_long, c_size_t, c_uint,
                    c_uint8, c_void_p)
from typing import Any, List, Optional, Sequence, Type, TypeVar

SONAME = "libmsgsec.so.0"

# msgsec_err (the CLI's exit codes, SPEC section 4)
OK, E_INTERNAL, E_USAGE, E_MALFORMED, E_AUTH, E_EXPIRED, E_REPLAY, E_DECRYPT, E_POLICY = range(9)

# msgsec_credential
CREDENTIALS = {"none": 0, "certificate": 1, "username": 2, "windows": 3, "issued": 4}
CRED_ALL = 0x1F

DETAIL_MAX = 256
time_t = c_long  # Linux, every ABI CPython supports there


class msgsec_error(Structure):
    _fields_ = [("code", c_int), ("detail", c_char * DETAIL_MAX), ("transient", c_int)]


class msgsec_sender_opts(Structure):
    # API churn: a leading `size_t struct_size` is coming; new_struct() fills it when declared.
    _fields_ = [
        ("credential", c_int),
        ("cert_file", c_char_p),
        ("key_file", c_char_p),
        ("username", c_char_p),
        ("password", c_char_p),
        ("service_principal", c_char_p),
        ("token_file", c_char_p),
        ("service_cert_file", c_char_p),
        ("suite", c_char_p),
        ("ttl_seconds", c_long),
        ("max_xml_bytes", c_size_t),
    ]


class msgsec_wrap_params(Structure):
    _fields_ = [
        ("to", c_char_p),
        ("action", c_char_p),
        ("content_type", c_char_p),
        ("message_id", c_char_p),
        ("now", time_t),
        ("ttl_seconds", c_long),
    ]


class msgsec_receiver_opts(Structure):
    # API churn: a leading `size_t struct_size`; replay_url / replay_password_file /
    # replay_namespace (char *) are coming.
    _fields_ = [
        ("cert_file", c_char_p),
        ("key_file", c_char_p),
        ("ca_files", POINTER(c_char_p)),
        ("n_ca_files", c_size_t),
        ("crl_files", POINTER(c_char_p)),
        ("n_crl_files", c_size_t),
        ("issuer_files", POINTER(c_char_p)),
        ("n_issuer_files", c_size_t),
        ("users_file", c_char_p),
        ("keytab_file", c_char_p),
        ("expected_to", c_char_p),
        ("max_age", c_long),
        ("clock_skew", c_long),
        ("ticket_grace", c_long),
        ("max_message_bytes", c_size_t),
        ("accepted_credentials", c_uint),
        ("suite", c_char_p),
        ("replay_path", c_char_p),
        ("replay_max_bytes", c_size_t),
        ("protect_tokens", c_int),
        ("replay_shared_with", c_void_p),
    ]


S = TypeVar("S", bound=Structure)


def new_struct(cls: Type[S]) -> S:
    """A zeroed option structure, with ``struct_size`` set when the structure has one."""
    value = cls()
    if any(name == "struct_size" for name, *_ in cls._fields_):
        value.struct_size = ctypes.sizeof(cls)  # type: ignore[attr-defined]
    return value


def has_field(cls: Type[Structure], name: str) -> bool:
    return any(field == name for field, *_ in cls._fields_)


def path_array(paths: Sequence[str]) -> Any:
    """A ``const char *const *`` of file names (kept alive by the caller)."""
    array = (c_char_p * max(len(paths), 1))()
    for i, p in enumerate(paths):
        array[i] = os.fsencode(p)
    return array


def _candidates() -> List[str]:
    env = os.environ.get("MSGSEC_LIBRARY")
    if env:
        return [env]
    found: List[str] = []
    try:
        from . import _install  # written by cmake --install
        if os.path.exists(_install.LIBRARY):
            found.append(_install.LIBRARY)
    except ImportError:
        pass
    return found + [SONAME]


def _load() -> ctypes.CDLL:
    errors = []
    for name in _candidates():
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("msgsec: cannot load libmsgsec (set MSGSEC_LIBRARY to its path): "
                      + "; ".join(errors))


lib = _load()

u8p = POINTER(c_uint8)
_P = POINTER


def _proto(name: str, restype: Any, *argtypes: Any) -> None:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


# Buffers go in as c_char_p (bytes are passed without a copy) and come out as uint8_t *.
_proto("msgsec_strerror", c_char_p, c_int)
_proto("msgsec_global_init", c_int, _P(msgsec_error))
_proto("msgsec_free", None, c_void_p)
_proto("msgsec_free_secret", None, c_void_p, c_size_t)
_proto("msgsec_sender_new", c_int, _P(msgsec_sender_opts), _P(c_void_p), _P(msgsec_error))
_proto("msgsec_sender_free", None, c_void_p)
_proto("msgsec_wrap", c_int, c_void_p, _P(msgsec_wrap_params), c_char_p, c_size_t, _P(u8p),
       _P(c_size_t), _P(msgsec_error))
_proto("msgsec_receiver_new", c_int, _P(msgsec_receiver_opts), _P(c_void_p), _P(msgsec_error))
_proto("msgsec_receiver_free", None, c_void_p)
_proto("msgsec_receiver_set_time", None, c_void_p, time_t)
_proto("msgsec_unwrap", c_int, c_void_p, c_char_p, c_size_t, _P(u8p), _P(c_size_t),
       _P(c_void_p), _P(msgsec_error))
_proto("msgsec_unwrap_deferred", c_int, c_void_p, c_char_p, c_size_t, _P(u8p), _P(c_size_t),
       _P(c_void_p), _P(msgsec_error))
_proto("msgsec_replay_commit", c_int, c_void_p, c_void_p, _P(msgsec_error))
_proto("msgsec_verify", c_int, c_void_p, c_char_p, c_size_t, _P(c_void_p), _P(msgsec_error))
_proto("msgsec_context_free", None, c_void_p)
_proto("msgsec_context_json", c_int, c_void_p, _P(c_void_p), _P(msgsec_error))
_proto("msgsec_context_signer_cert_der", u8p, c_void_p, _P(c_size_t))
_proto("msgsec_inspect", c_int, c_char_p, c_size_t, c_size_t, _P(c_void_p), _P(msgsec_error))

# API churn: msgsec_version() is coming; None until then.
msgsec_version: Optional[Any] = getattr(lib, "msgsec_version", None)
if msgsec_version is not None:
    msgsec_version.restype = c_char_p
    msgsec_version.argtypes = []


def _global_init() -> None:
    err = msgsec_error()
    if lib.msgsec_global_init(ctypes.byref(err)) != OK:
        raise ImportError("msgsec: library initialisation failed: "
                          + err.detail.decode("utf-8", "replace"))


_global_init()
