"""The C library: its constants, the ctypes declaration of every function in
``include/flowai.h`` (``_SIGNATURES``, one table in header order), and loading it.

Where the library is looked for, first found wins: the copy bundled in this package (a wheel
built by ``pip install ./python``), then the path in ``FLOWAI_LIB``, then the newest
``libflowai_socket`` in this source tree's cargo target directory (``CARGO_TARGET_DIR`` or
``target/``, ``release`` or ``debug``: an editable install or a run from the checkout).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Mapping
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_char_p,
    c_double,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any

# The C ABI this module is written for (FLOWAI_ABI_VERSION of include/flowai.h); the test
# python/tests/test_header.py checks it, the constants and every signature against the header.
ABI_VERSION = 3

# flowai_result codes (never renumbered).
OK = 0
NULL_ARGUMENT = 1
INVALID_UTF8 = 2
INVALID_ARGUMENT = 3
INVALID_STATE = 4
CONFIG = 5
TIMEOUT = 6
CLOSED = 7
CONNECTION_CLOSED = 8
REJECTED = 9
UNAVAILABLE = 10
PROTOCOL = 11
NETWORK = 12
TLS = 13
OUTBOX_FULL = 14
NOT_DELIVERED = 15
IO = 16
PANIC = 17
TOO_LARGE = 18

# flowai_event_kind values.
EVENT_INVALID = 0
EVENT_CONNECTED = 1
EVENT_DELIVERED = 2
EVENT_ACTIVITIES_DELIVERED = 3
EVENT_REPLY = 4
EVENT_ACTIVITIES_CREATED = 5
EVENT_SERVER_ERROR = 6
EVENT_AGENT_TYPING = 7
EVENT_SECRET_GENERATED = 8
EVENT_INTERRUPTION = 9
EVENT_PROTOCOL_ERROR = 10
EVENT_UNKNOWN = 11
EVENT_DISCONNECTED = 12
EVENT_RECONNECTING = 13
EVENT_NOT_DELIVERED = 14
EVENT_CLOSED = 15
EVENT_PONG = 16
EVENT_OVERFLOW = 17

# flowai_role values (the originator's role).
ROLE_EXTERNAL = 0
ROLE_MODERATOR = 1

# flowai_session_policy values (what a restart with a state file does with the sessionId).
SESSION_POLICY_KEEP = 0
SESSION_POLICY_RENEW = 1

# flowai_log_level values.
LOG_OFF = 0
LOG_ERROR = 1
LOG_WARN = 2
LOG_INFO = 3
LOG_DEBUG = 4
LOG_TRACE = 5

# void (*flowai_event_callback)(void *user_data, const flowai_event *event)
_EVENT_CALLBACK = CFUNCTYPE(None, c_void_p, c_void_p)
# void (*flowai_log_callback)(void *user_data, uint32_t level, const char *target,
#                             const char *message)
_LOG_CALLBACK = CFUNCTYPE(None, c_void_p, c_uint32, c_char_p, c_char_p)

# Handles (flowai_config *, flowai_client *, flowai_message *, flowai_event *) are c_void_p.
_P = c_void_p
_OUT = POINTER(c_void_p)
# (name, restype, argtypes) of every function in include/flowai.h, in header order. The
# result codes (flowai_result) and enums come back as uint32_t. Borrowed or static strings
# are c_char_p (ctypes copies them); a string the caller owns comes back through a c_void_p
# out-parameter (_OUT) so that it can be given to flowai_string_free.
_SIGNATURES: list[tuple[str, Any, list[Any]]] = [
    # Results, errors, strings, versions.
    ("flowai_result_str", c_char_p, [c_uint32]),
    ("flowai_result_is_retryable", c_int32, [c_uint32]),
    ("flowai_result_is_final", c_int32, [c_uint32]),
    ("flowai_last_error", c_char_p, []),
    ("flowai_string_free", None, [c_void_p]),
    ("flowai_version", c_char_p, []),
    ("flowai_abi_version", c_uint32, []),
    # Configuration.
    ("flowai_config_new", c_uint32, [c_char_p, _OUT]),
    ("flowai_config_free", None, [_P]),
    ("flowai_config_set_base_url", c_uint32, [_P, c_char_p]),
    ("flowai_config_set_thread_id", c_uint32, [_P, c_char_p]),
    ("flowai_config_set_session_id", c_uint32, [_P, c_char_p]),
    ("flowai_config_set_origin", c_uint32, [_P, c_char_p]),
    ("flowai_config_set_ott", c_uint32, [_P, c_char_p]),
    ("flowai_config_set_secret", c_uint32, [_P, c_char_p]),
    ("flowai_config_set_keepalive_ms", c_uint32, [_P, c_uint32]),
    ("flowai_config_set_pong_timeout_ms", c_uint32, [_P, c_uint32]),
    ("flowai_config_set_connect_timeout_ms", c_uint32, [_P, c_uint32]),
    ("flowai_config_set_io_timeout_ms", c_uint32, [_P, c_uint32]),
    ("flowai_config_add_root_certificate_pem", c_uint32, [_P, c_char_p]),
    ("flowai_config_set_max_message_size", c_uint32, [_P, c_size_t]),
    ("flowai_config_set_reconnect", c_uint32, [_P, c_int32]),
    ("flowai_config_set_pong_events", c_uint32, [_P, c_int32]),
    ("flowai_config_set_outbox", c_uint32, [_P, c_int32]),
    ("flowai_config_set_max_outbox", c_uint32, [_P, c_size_t]),
    ("flowai_config_set_max_queued_events", c_uint32, [_P, c_size_t]),
    ("flowai_config_set_max_queued_bytes", c_uint32, [_P, c_size_t]),
    ("flowai_config_set_backoff", c_uint32, [_P, c_uint32, c_uint32, c_uint32]),
    ("flowai_config_set_state_file", c_uint32, [_P, c_char_p]),
    ("flowai_config_set_session_policy", c_uint32, [_P, c_uint32]),
    ("flowai_config_set_originator_name", c_uint32, [_P, c_char_p]),
    ("flowai_config_set_originator_role", c_uint32, [_P, c_uint32]),
    ("flowai_config_set_proxy", c_uint32, [_P, c_char_p]),
    ("flowai_config_set_no_proxy", c_uint32, [_P]),
    ("flowai_config_set_allow_insecure", c_uint32, [_P, c_int32]),
    # Messages.
    ("flowai_message_new", c_void_p, []),
    ("flowai_message_free", None, [_P]),
    ("flowai_message_set_thread_id", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_trace_id", c_uint32, [_P, c_uint64]),
    ("flowai_message_set_speech", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_originator_name", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_originator_role", c_uint32, [_P, c_uint32]),
    ("flowai_message_set_profile_full_name", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_profile_first_name", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_profile_last_name", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_profile_gender", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_profile_locale", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_profile_country", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_profile_email", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_profile_picture", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_profile_description", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_profile_location", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_profile_timezone", c_uint32, [_P, c_double]),
    ("flowai_message_set_originator_metadata", c_uint32, [_P, c_char_p, c_char_p]),
    ("flowai_message_set_originator_metadata_json", c_uint32, [_P, c_char_p, c_char_p]),
    ("flowai_message_set_language", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_timezone", c_uint32, [_P, c_double]),
    ("flowai_message_add_param", c_uint32, [_P, c_char_p, c_char_p]),
    ("flowai_message_set_event", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_opening_event", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_event_label", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_flow", c_uint32, [_P, c_char_p]),
    ("flowai_message_set_step", c_uint32, [_P, c_char_p]),
    ("flowai_message_to_json", c_uint32, [_P, _OUT]),  # owned string out
    # Clients.
    ("flowai_client_connect", c_uint32, [_P, _OUT]),
    ("flowai_client_send", c_uint32, [_P, _P, POINTER(c_uint64)]),
    ("flowai_client_send_json", c_uint32, [_P, c_char_p, POINTER(c_uint64)]),
    ("flowai_client_wait_delivered", c_uint32, [_P, c_uint64, c_uint32]),
    ("flowai_client_flush", c_uint32, [_P, c_uint32]),
    ("flowai_client_recv", c_uint32, [_P, c_uint32, _OUT]),
    ("flowai_client_set_callback", c_uint32, [_P, _EVENT_CALLBACK, c_void_p]),
    ("flowai_client_noticed", c_uint32, [_P, c_char_p, c_int32, POINTER(c_int32)]),
    ("flowai_client_user_typing", c_uint32, [_P]),
    ("flowai_client_secret", c_uint32, [_P, c_char_p, _OUT]),  # owned string out
    ("flowai_client_history", c_uint32, [_P, c_char_p, _OUT]),  # owned string out
    ("flowai_client_unnoticed", c_uint32, [_P, c_char_p, POINTER(c_int32)]),
    ("flowai_client_merge", c_uint32, [_P, c_char_p, c_char_p, c_char_p]),
    ("flowai_client_upload", c_uint32, [_P, c_char_p, _P, _OUT]),  # owned string out
    ("flowai_client_is_connected", c_int32, [_P]),
    ("flowai_client_pending", c_size_t, [_P]),
    ("flowai_client_thread_id", c_char_p, [_P]),
    ("flowai_client_session_id", c_char_p, [_P]),
    ("flowai_client_close", c_uint32, [_P]),
    ("flowai_client_free", None, [_P]),
    # Events.
    ("flowai_event_get_kind", c_uint32, [_P]),
    ("flowai_event_name", c_char_p, [_P]),
    ("flowai_event_thread_id", c_char_p, [_P]),
    ("flowai_event_trace_id", c_uint64, [_P]),
    ("flowai_event_dropped", c_uint64, [_P]),
    ("flowai_event_text", c_char_p, [_P]),
    ("flowai_event_json", c_char_p, [_P]),
    ("flowai_event_copy", c_uint32, [_P, _OUT]),
    ("flowai_event_free", None, [_P]),
    # Logging.
    ("flowai_set_log_callback", c_uint32, [_LOG_CALLBACK, c_void_p, c_uint32]),
]

_lib: ctypes.CDLL | None = None
_lib_path: str | None = None
_lib_lock = threading.Lock()

_PACKAGE_DIR = Path(__file__).resolve().parent
# python/src/flowai_socket -> the repository root, when running from a checkout.
_SOURCE_TREE = _PACKAGE_DIR.parents[2] if len(_PACKAGE_DIR.parents) > 2 else None


def _library_name() -> str:
    if sys.platform == "darwin":
        return "libflowai_socket.dylib"
    if sys.platform == "win32":
        return "flowai_socket.dll"
    return "libflowai_socket.so"


def _library_candidates(environ: Mapping[str, str] = os.environ) -> list[tuple[str, Path]]:
    """Where the library is looked for, in order, as ``(origin, path)``: ``"bundled"`` (the
    copy in this package), ``"FLOWAI_LIB"``, ``"target"`` (the newest build in this source
    tree). Only the bundled copy and the tree's builds must exist to be listed."""
    candidates = []
    bundled = _PACKAGE_DIR / _library_name()
    if bundled.is_file():
        candidates.append(("bundled", bundled))
    named = environ.get("FLOWAI_LIB")
    if named:
        candidates.append(("FLOWAI_LIB", Path(named)))
    built = []
    if _SOURCE_TREE is not None and (_SOURCE_TREE / "Cargo.toml").is_file():
        for target in (environ.get("CARGO_TARGET_DIR"), str(_SOURCE_TREE / "target")):
            for profile in ("release", "debug"):
                if target:
                    path = Path(target) / profile / _library_name()
                    if path.is_file():
                        built.append(path)
    if built:
        candidates.append(("target", max(built, key=lambda p: p.stat().st_mtime)))
    return candidates


def load_library(path: str | None = None) -> ctypes.CDLL:
    """Loads the C library once (from ``path`` when given, else the first place listed in the
    module doc) and declares the signature of every function; returns it. Starts forwarding
    the library's log records to ``logging.getLogger("flowai_socket")``. Raises ``OSError``
    when there is no library to load."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is None:
            if path is None:
                candidates = _library_candidates()
                if not candidates:
                    raise OSError(
                        "libflowai_socket not found: install the package with "
                        "`pip install ./python` (it builds and bundles the library), or "
                        "build it with `cargo build` and set FLOWAI_LIB to its path"
                    )
                path = str(candidates[0][1])
            lib = ctypes.CDLL(path)
            for name, restype, argtypes in _SIGNATURES:
                function = getattr(lib, name)
                function.restype = restype
                function.argtypes = argtypes
            from . import _log

            _log.sync(lib)
            _lib, _lib_path = lib, path
        return _lib


def library_path() -> str:
    """The path of the loaded C library (loading it if needed)."""
    load_library()
    return str(_lib_path)


def version() -> str:
    """The library version, e.g. ``"0.1.0"`` (``flowai_version()``)."""
    text: bytes = load_library().flowai_version()
    return text.decode()
