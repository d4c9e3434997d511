"""Python bindings for flowai-socket, a blocking client for the Flow (flow.ai) Socket API.

A thin ctypes wrapper over the C library (``include/flowai.h``)::

    from flowai_socket import Client

    with Client("YOUR CLIENTID", thread_id="jane.doe") as client:
        trace = client.send({"speech": "Hi there!"})
        client.wait_delivered(trace)
        for event in client:
            if event.is_reply:
                print(event.text)
                break

The library is loaded from the path in ``FLOWAI_LIB``, or found in the cargo target directory
of this source tree (``target/release`` or ``target/debug``, the newest). Every wait is done
in short slices, so Ctrl-C interrupts a blocked ``recv`` or ``wait_delivered``, and a Ctrl-C
landing anywhere never leaves ``close()`` or the exit hook waiting. Clients still open at
interpreter exit are closed by an ``atexit`` hook.

``send(str)`` always sends the string as the speech; JSON text goes through ``send_json``.

Receiving is best done by polling ``recv`` (or iterating) in your own thread. A callback
(``set_callback``) is also offered: it runs on the library's dispatcher thread and takes the
GIL for each event; it is unregistered by ``close``.
"""

import atexit
import ctypes
import json as _json
import os
import sys
import threading
import time
import weakref
from ctypes import (
    CFUNCTYPE,
    POINTER,
    byref,
    c_char_p,
    c_double,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)

__all__ = [
    "Client",
    "Message",
    "Event",
    "FlowaiError",
    "FlowaiTimeout",
    "FlowaiClosed",
    "FlowaiTooLarge",
    "ROLE_EXTERNAL",
    "ROLE_MODERATOR",
    "SESSION_POLICY_KEEP",
    "SESSION_POLICY_RENEW",
    "load_library",
    "version",
]

# The C ABI this module is written for (FLOWAI_ABI_VERSION of include/flowai.h).
# test_header.py checks it, the constants below and every signature in _SIGNATURES against
# the header.
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

# The longest single blocking call, so KeyboardInterrupt is seen promptly.
_SLICE_MS = 200

_EVENT_CALLBACK = CFUNCTYPE(None, c_void_p, c_void_p)

# (name, restype, argtypes) of every C function this module uses. Borrowed or static
# strings are c_char_p (ctypes copies them); a string the caller owns comes back through a
# c_void_p so it can be given to flowai_string_free.
_SIGNATURES = [
    ("flowai_version", c_char_p, []),
    ("flowai_abi_version", c_uint32, []),
    ("flowai_result_str", c_char_p, [c_uint32]),
    ("flowai_result_is_retryable", c_int32, [c_uint32]),
    ("flowai_result_is_final", c_int32, [c_uint32]),
    ("flowai_last_error", c_char_p, []),
    ("flowai_string_free", None, [c_void_p]),
    ("flowai_config_new", c_uint32, [c_char_p, POINTER(c_void_p)]),
    ("flowai_config_free", None, [c_void_p]),
    ("flowai_config_set_base_url", c_uint32, [c_void_p, c_char_p]),
    ("flowai_config_set_thread_id", c_uint32, [c_void_p, c_char_p]),
    ("flowai_config_set_session_id", c_uint32, [c_void_p, c_char_p]),
    ("flowai_config_set_origin", c_uint32, [c_void_p, c_char_p]),
    ("flowai_config_set_ott", c_uint32, [c_void_p, c_char_p]),
    ("flowai_config_set_secret", c_uint32, [c_void_p, c_char_p]),
    ("flowai_config_set_state_file", c_uint32, [c_void_p, c_char_p]),
    ("flowai_config_set_session_policy", c_uint32, [c_void_p, c_uint32]),
    ("flowai_config_set_originator_name", c_uint32, [c_void_p, c_char_p]),
    ("flowai_config_set_originator_role", c_uint32, [c_void_p, c_uint32]),
    ("flowai_config_set_io_timeout_ms", c_uint32, [c_void_p, c_uint32]),
    ("flowai_config_set_keepalive_ms", c_uint32, [c_void_p, c_uint32]),
    ("flowai_config_set_pong_timeout_ms", c_uint32, [c_void_p, c_uint32]),
    ("flowai_config_set_connect_timeout_ms", c_uint32, [c_void_p, c_uint32]),
    ("flowai_config_add_root_certificate_pem", c_uint32, [c_void_p, c_char_p]),
    ("flowai_config_set_reconnect", c_uint32, [c_void_p, c_int32]),
    ("flowai_config_set_outbox", c_uint32, [c_void_p, c_int32]),
    ("flowai_config_set_pong_events", c_uint32, [c_void_p, c_int32]),
    ("flowai_config_set_max_outbox", c_uint32, [c_void_p, c_size_t]),
    ("flowai_config_set_max_queued_events", c_uint32, [c_void_p, c_size_t]),
    ("flowai_config_set_max_queued_bytes", c_uint32, [c_void_p, c_size_t]),
    ("flowai_config_set_max_message_size", c_uint32, [c_void_p, c_size_t]),
    ("flowai_config_set_backoff", c_uint32, [c_void_p, c_uint32, c_uint32, c_uint32]),
    ("flowai_config_set_proxy", c_uint32, [c_void_p, c_char_p]),
    ("flowai_config_set_no_proxy", c_uint32, [c_void_p]),
    ("flowai_config_set_allow_insecure", c_uint32, [c_void_p, c_int32]),
    ("flowai_client_connect", c_uint32, [c_void_p, POINTER(c_void_p)]),
    ("flowai_client_send_json", c_uint32, [c_void_p, c_char_p, POINTER(c_uint64)]),
    ("flowai_client_wait_delivered", c_uint32, [c_void_p, c_uint64, c_uint32]),
    ("flowai_client_flush", c_uint32, [c_void_p, c_uint32]),
    ("flowai_client_recv", c_uint32, [c_void_p, c_uint32, POINTER(c_void_p)]),
    ("flowai_client_set_callback", c_uint32, [c_void_p, _EVENT_CALLBACK, c_void_p]),
    ("flowai_client_noticed", c_uint32, [c_void_p, c_char_p, c_int32, POINTER(c_int32)]),
    ("flowai_client_user_typing", c_uint32, [c_void_p]),
    # Owned strings out (secret, history, upload): c_void_p, freed with flowai_string_free.
    ("flowai_client_secret", c_uint32, [c_void_p, c_char_p, POINTER(c_void_p)]),
    ("flowai_client_history", c_uint32, [c_void_p, c_char_p, POINTER(c_void_p)]),
    ("flowai_client_unnoticed", c_uint32, [c_void_p, c_char_p, POINTER(c_int32)]),
    ("flowai_client_merge", c_uint32, [c_void_p, c_char_p, c_char_p, c_char_p]),
    ("flowai_client_upload", c_uint32, [c_void_p, c_char_p, c_void_p, POINTER(c_void_p)]),
    ("flowai_client_is_connected", c_int32, [c_void_p]),
    ("flowai_client_thread_id", c_char_p, [c_void_p]),
    ("flowai_client_session_id", c_char_p, [c_void_p]),
    ("flowai_client_close", c_uint32, [c_void_p]),
    ("flowai_client_free", None, [c_void_p]),
    ("flowai_event_get_kind", c_uint32, [c_void_p]),
    ("flowai_event_name", c_char_p, [c_void_p]),
    ("flowai_event_thread_id", c_char_p, [c_void_p]),
    ("flowai_event_trace_id", c_uint64, [c_void_p]),
    ("flowai_event_dropped", c_uint64, [c_void_p]),
    ("flowai_event_text", c_char_p, [c_void_p]),
    ("flowai_event_json", c_char_p, [c_void_p]),
    ("flowai_event_free", None, [c_void_p]),
    ("flowai_client_send", c_uint32, [c_void_p, c_void_p, POINTER(c_uint64)]),
    ("flowai_client_pending", c_size_t, [c_void_p]),
    ("flowai_message_new", c_void_p, []),
    ("flowai_message_free", None, [c_void_p]),
    ("flowai_message_set_thread_id", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_trace_id", c_uint32, [c_void_p, c_uint64]),
    ("flowai_message_set_speech", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_originator_name", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_originator_role", c_uint32, [c_void_p, c_uint32]),
    ("flowai_message_set_profile_full_name", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_profile_first_name", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_profile_last_name", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_profile_gender", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_profile_locale", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_profile_country", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_profile_email", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_profile_picture", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_profile_description", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_profile_location", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_profile_timezone", c_uint32, [c_void_p, c_double]),
    ("flowai_message_set_originator_metadata", c_uint32, [c_void_p, c_char_p, c_char_p]),
    ("flowai_message_set_language", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_timezone", c_uint32, [c_void_p, c_double]),
    ("flowai_message_add_param", c_uint32, [c_void_p, c_char_p, c_char_p]),
    ("flowai_message_set_event", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_opening_event", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_flow", c_uint32, [c_void_p, c_char_p]),
    ("flowai_message_set_step", c_uint32, [c_void_p, c_char_p]),
    # Owned string out: c_void_p, read with ctypes.string_at, freed with flowai_string_free.
    ("flowai_message_to_json", c_uint32, [c_void_p, POINTER(c_void_p)]),
]

_lib = None
_lib_lock = threading.Lock()


def _library_names():
    if sys.platform == "darwin":
        return ["libflowai_socket.dylib"]
    if sys.platform == "win32":
        return ["flowai_socket.dll"]
    return ["libflowai_socket.so"]


def _find_library():
    path = os.environ.get("FLOWAI_LIB")
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    targets = [os.environ.get("CARGO_TARGET_DIR"), os.path.join(here, "..", "target")]
    found = []
    for target in filter(None, targets):
        for profile in ("release", "debug"):
            for name in _library_names():
                candidate = os.path.join(target, profile, name)
                if os.path.exists(candidate):
                    found.append(candidate)
    if not found:
        raise OSError(
            "libflowai_socket not found: build it with `cargo build` (or --release), or set "
            "FLOWAI_LIB to its path"
        )
    return max(found, key=os.path.getmtime)


def load_library(path=None):
    """Loads the C library (once) and declares the signature of every function used."""
    global _lib
    with _lib_lock:
        if _lib is None:
            lib = ctypes.CDLL(path or _find_library())
            for name, restype, argtypes in _SIGNATURES:
                function = getattr(lib, name)
                function.restype = restype
                function.argtypes = argtypes
            _lib = lib
        return _lib


def version():
    """The library version, e.g. ``"0.1.0"``."""
    return load_library().flowai_version().decode()


class FlowaiError(Exception):
    """A failed call: ``code`` is the flowai_result, ``message`` the library's details.

    ``final`` is True when trying again cannot help until something changes (bad
    configuration, HTTP 400/401-403 or a redirect from ``socket.info``, a certificate that
    fails verification, a closed client); ``retryable`` is True for timeouts, resets, DNS
    failures, 5xx answers and refused connections. The same table as the C
    ``flowai_result_is_final`` and the Rust ``Error::is_final``.
    """

    def __init__(self, code, message, call=""):
        self.code = code
        self.message = message
        self.call = call
        lib = load_library()
        self.code_text = lib.flowai_result_str(code).decode()
        self.retryable = bool(lib.flowai_result_is_retryable(code))
        self.final = bool(lib.flowai_result_is_final(code))
        super().__init__(f"{call}: {self.code_text} ({code}): {message}" if call else message)


class FlowaiTimeout(FlowaiError):
    """A call that takes a timeout did not finish in time."""


class FlowaiClosed(FlowaiError):
    """The client was closed (by ``close``) or has stopped for good (final error)."""


class FlowaiTooLarge(FlowaiError):
    """The server refused a body as too large (HTTP 413: an upload over its limit). Final."""


def _raise(code, call):
    if code == OK:
        return
    text = load_library().flowai_last_error().decode("utf-8", "replace")
    cls = FlowaiError
    if code == TIMEOUT:
        cls = FlowaiTimeout
    elif code in (CLOSED, CONNECTION_CLOSED):
        cls = FlowaiClosed
    elif code == TOO_LARGE:
        cls = FlowaiTooLarge
    raise cls(code, text, call)


def _bytes(text):
    return text.encode("utf-8") if isinstance(text, str) else text


def _text(raw):
    return None if raw is None else raw.decode("utf-8", "replace")


def _thread(thread_id):
    """An optional threadId / sessionId argument: ``None`` and ``""`` mean the configured one."""
    return _bytes(thread_id or "")


def _take_string(lib, raw):
    """Copies an owned C string (a c_void_p, NULL gives None) and frees it."""
    if not raw.value:
        return None
    try:
        return ctypes.string_at(raw.value).decode("utf-8")
    finally:
        lib.flowai_string_free(raw)


class Event:
    """One event of a client, copied out of the library (no handle to free)."""

    __slots__ = ("kind", "name", "thread_id", "trace_id", "dropped", "text", "json")

    def __init__(self, handle):
        lib = load_library()
        self.kind = lib.flowai_event_get_kind(handle)
        self.name = _text(lib.flowai_event_name(handle))
        self.thread_id = _text(lib.flowai_event_thread_id(handle))
        self.trace_id = lib.flowai_event_trace_id(handle) or None
        # For EVENT_OVERFLOW: how many events were not queued (the queue was full).
        self.dropped = lib.flowai_event_dropped(handle)
        self.text = _text(lib.flowai_event_text(handle))
        self.json = _text(lib.flowai_event_json(handle))

    @property
    def data(self):
        """The whole event as a dict (the JSON parsed)."""
        return _json.loads(self.json)

    @property
    def is_reply(self):
        """True for a bot or agent reply (``message.received`` / ``activities.created``)."""
        return self.kind in (EVENT_REPLY, EVENT_ACTIVITIES_CREATED)

    @property
    def is_delivered(self):
        """True for a delivery acknowledgement (``message.delivered``)."""
        return self.kind in (EVENT_DELIVERED, EVENT_ACTIVITIES_DELIVERED)

    def __repr__(self):
        return f"Event({self.name}, thread_id={self.thread_id!r}, text={self.text!r})"


ROLE_EXTERNAL = 0
ROLE_MODERATOR = 1

# flowai_session_policy values (what a restart with a state file does with the sessionId).
SESSION_POLICY_KEEP = 0
SESSION_POLICY_RENEW = 1
_SESSION_POLICIES = {"keep": SESSION_POLICY_KEEP, "renew": SESSION_POLICY_RENEW}


def _session_policy(policy):
    if policy is None or isinstance(policy, int):
        return policy
    try:
        return _SESSION_POLICIES[str(policy).lower()]
    except KeyError:
        raise ValueError(f"session_policy must be 'keep' or 'renew', not {policy!r}") from None

_PROFILE_FIELDS = (
    "full_name",
    "first_name",
    "last_name",
    "gender",
    "locale",
    "country",
    "email",
    "picture",
    "description",
    "location",
)


class Message:
    """A ``message.send`` built with the C message builder; send it with ``Client.send``.

    Setters return the message, so calls chain::

        Message("event attachment").thread("jane.doe").event("MY EVENT") \
            .originator("Jane Doe").profile(first_name="Jane", timezone=-5) \
            .originator_metadata("clientNumber", "12345")
    """

    def __init__(self, speech=None):
        self._lib = load_library()
        self._handle = self._lib.flowai_message_new()
        if not self._handle:
            raise MemoryError("flowai_message_new failed")
        if speech is not None:
            self.speech(speech)

    def _set(self, name, *args):
        _raise(getattr(self._lib, name)(self._handle, *args), name)
        return self

    def thread(self, thread_id):
        """Sets the threadId."""
        return self._set("flowai_message_set_thread_id", _bytes(thread_id))

    def trace(self, trace_id):
        """Sets the traceId (otherwise the client assigns one); at most 2**53 - 1, the
        largest integer a JavaScript server reads exactly (``FlowaiError`` with code
        ``INVALID_ARGUMENT`` otherwise)."""
        return self._set("flowai_message_set_trace_id", trace_id)

    def speech(self, text):
        """Sets the text."""
        return self._set("flowai_message_set_speech", _bytes(text))

    def originator(self, name, role=ROLE_EXTERNAL):
        """Sets the originator's name and role (``ROLE_EXTERNAL`` or ``ROLE_MODERATOR``)."""
        self._set("flowai_message_set_originator_name", _bytes(name))
        return self._set("flowai_message_set_originator_role", role)

    def profile(self, timezone=None, **fields):
        """Sets originator profile fields: ``full_name``, ``first_name``, ``last_name``,
        ``gender``, ``locale``, ``country``, ``email``, ``picture``, ``description``,
        ``location`` (text) and ``timezone`` (hours from UTC)."""
        for key, value in fields.items():
            if key not in _PROFILE_FIELDS:
                raise TypeError(f"unknown profile field {key!r}")
            self._set(f"flowai_message_set_profile_{key}", _bytes(value))
        if timezone is not None:
            self._set("flowai_message_set_profile_timezone", float(timezone))
        return self

    def originator_metadata(self, key, value):
        """Sets one originator metadata entry (a string)."""
        return self._set("flowai_message_set_originator_metadata", _bytes(key), _bytes(value))

    def language(self, language):
        """Sets the message's language (``metadata.language``)."""
        return self._set("flowai_message_set_language", _bytes(language))

    def timezone(self, hours):
        """Sets the message's timezone in hours from UTC (``metadata.timezone``)."""
        return self._set("flowai_message_set_timezone", float(hours))

    def param(self, name, value):
        """Adds one value to a parameter (``metadata.params``)."""
        return self._set("flowai_message_add_param", _bytes(name), _bytes(value))

    def event(self, name):
        """Attaches an event."""
        return self._set("flowai_message_set_event", _bytes(name))

    def opening_event(self, name):
        """Attaches an opening event."""
        return self._set("flowai_message_set_opening_event", _bytes(name))

    def flow(self, flow_immutable_id):
        """Attaches a flow."""
        return self._set("flowai_message_set_flow", _bytes(flow_immutable_id))

    def step(self, step_id):
        """Attaches a step."""
        return self._set("flowai_message_set_step", _bytes(step_id))

    def to_json(self):
        """The payload as JSON text (an owned C string, copied then freed)."""
        raw = c_void_p()
        _raise(self._lib.flowai_message_to_json(self._handle, byref(raw)), "flowai_message_to_json")
        try:
            return ctypes.string_at(raw.value).decode("utf-8")
        finally:
            self._lib.flowai_string_free(raw)

    def close(self):
        """Frees the C message (also done when it is collected)."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            self._lib.flowai_message_free(handle)

    def __del__(self):
        self.close()


_open_clients = weakref.WeakSet()
_callback_thread = threading.local()


def _free_client(lib, ptr, thunks):
    """Frees a C client (closing it if still open); ``thunks`` keeps its callbacks' C function
    objects alive until the library can no longer call them."""
    lib.flowai_client_free(ptr)
    del thunks


class _Handle:
    """The C client and what must live as long as it: the C function objects of every
    callback ever registered on it.

    There is no count of calls in flight to keep right: each call holds a reference to this
    object for its duration, and the C client is freed in ``__del__``, when the last
    reference goes (``close()`` dropped the client's, every call in flight has returned).
    The interpreter keeps reference counts, so a ``KeyboardInterrupt`` landing anywhere in a
    call cannot leave anything raised or held: ``close()`` and the exit hook never wait on
    bookkeeping. (At worst an interrupt at the very start of ``__del__`` leaks the C client,
    which then ends with the process.)"""

    __slots__ = ("lib", "ptr", "thunks")

    def __init__(self, lib, ptr):
        self.lib = lib
        self.ptr = ptr
        self.thunks = []

    def __del__(self):
        ptr, self.ptr = self.ptr, None
        if not ptr:
            return
        if getattr(_callback_thread, "active", False):
            # The last reference went inside a callback (close() called there): the library
            # must not free a client on its own dispatcher thread, so another thread does,
            # once the callback has returned.
            threading.Thread(
                target=_free_client, args=(self.lib, ptr, self.thunks), daemon=True
            ).start()
        else:
            _free_client(self.lib, ptr, self.thunks)


@atexit.register
def _close_all():
    for client in list(_open_clients):
        try:
            client.close()
        except Exception:  # noqa: BLE001 - nothing useful to do at exit
            pass


class Client:
    """A connection to Flow. Connects in the constructor (blocking, bounded by the connect
    timeout); closes with ``close()``, at the end of a ``with`` block, or at exit.

    ``client_id`` and ``base_url`` default to the environment variables ``FLOWAI_CLIENT_ID``
    and ``FLOWAI_BASE_URL`` (then ``https://sdk.flow.ai``). Methods may be called from
    several threads.

    Keyword options: ``session_id``; ``origin`` (the WebSocket ``Origin`` header); ``ott`` (a
    one-time token for ``socket.info``); ``secret`` (a nonce already known for the thread);
    ``state_file`` (a path that keeps threadId, sessionId and secrets across restarts) with
    ``session_policy`` (``"keep"``, the default, reuses the saved sessionId; ``"renew"`` makes
    a new one per start; or ``SESSION_POLICY_KEEP`` / ``SESSION_POLICY_RENEW``);
    ``originator_name`` and ``originator_role`` (``ROLE_EXTERNAL`` / ``ROLE_MODERATOR``), the
    originator of messages that name none; ``keepalive_ms``, ``pong_timeout_ms``,
    ``connect_timeout_ms``, ``io_timeout_ms`` (which also bounds the REST calls),
    ``reconnect``, ``backoff`` (``(min_ms, max_ms, max_attempts)``, 0 attempts = no limit),
    ``outbox`` (False: at-most-once, lost messages are reported instead of re-sent),
    ``max_outbox``, ``max_queued_events`` and ``max_queued_bytes`` (the bounds of the events
    waiting for ``recv``: beyond them events are counted, not queued, and an
    ``EVENT_OVERFLOW`` event with ``dropped`` set stands in for them; acknowledgements still
    take effect), ``max_message_size``, ``pong_events`` (hand each keepalive pong over as an
    ``EVENT_PONG`` event), ``root_certificate_pem``; ``proxy``
    (``"http://[user:password@]host:port"``: every connection through that HTTP proxy,
    loopback included; ``False``: no proxy at all; ``None``, the default: the
    ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` environment variables,
    never for loopback hosts); ``allow_insecure`` (True allows ``http://`` base URLs and
    ``ws://`` endpoints to other machines, refused by default).
    """

    def __init__(
        self,
        client_id=None,
        base_url=None,
        thread_id=None,
        *,
        session_id=None,
        origin=None,
        ott=None,
        secret=None,
        state_file=None,
        session_policy=None,
        originator_name=None,
        originator_role=None,
        keepalive_ms=None,
        pong_timeout_ms=None,
        connect_timeout_ms=None,
        io_timeout_ms=None,
        reconnect=None,
        backoff=None,
        outbox=None,
        max_outbox=None,
        max_queued_events=None,
        max_queued_bytes=None,
        max_message_size=None,
        pong_events=None,
        root_certificate_pem=None,
        proxy=None,
        allow_insecure=None,
        library=None,
    ):
        lib = load_library(library)
        self._lib = lib
        client_id = client_id or os.environ.get("FLOWAI_CLIENT_ID")
        if not client_id:
            raise ValueError("a client_id is needed (or set FLOWAI_CLIENT_ID)")
        base_url = base_url or os.environ.get("FLOWAI_BASE_URL") or "https://sdk.flow.ai"
        session_policy = _session_policy(session_policy)
        if state_file is not None:
            state_file = os.fspath(state_file)
        self._lock = threading.Lock()
        self._handle = None
        config = c_void_p()
        _raise(lib.flowai_config_new(_bytes(client_id), byref(config)), "flowai_config_new")
        try:
            setters = [
                ("flowai_config_set_base_url", _bytes(base_url)),
                ("flowai_config_set_thread_id", _bytes(thread_id)),
                ("flowai_config_set_session_id", _bytes(session_id)),
                ("flowai_config_set_origin", _bytes(origin)),
                ("flowai_config_set_ott", _bytes(ott)),
                ("flowai_config_set_secret", _bytes(secret)),
                ("flowai_config_set_state_file", _bytes(state_file)),
                ("flowai_config_set_session_policy", session_policy),
                ("flowai_config_set_originator_name", _bytes(originator_name)),
                ("flowai_config_set_originator_role", originator_role),
                ("flowai_config_set_keepalive_ms", keepalive_ms),
                ("flowai_config_set_pong_timeout_ms", pong_timeout_ms),
                ("flowai_config_set_connect_timeout_ms", connect_timeout_ms),
                ("flowai_config_set_io_timeout_ms", io_timeout_ms),
                ("flowai_config_add_root_certificate_pem", _bytes(root_certificate_pem)),
                ("flowai_config_set_reconnect", None if reconnect is None else int(reconnect)),
                ("flowai_config_set_outbox", None if outbox is None else int(outbox)),
                ("flowai_config_set_max_outbox", max_outbox),
                ("flowai_config_set_max_queued_events", max_queued_events),
                ("flowai_config_set_max_queued_bytes", max_queued_bytes),
                ("flowai_config_set_max_message_size", max_message_size),
                ("flowai_config_set_pong_events", None if pong_events is None else int(pong_events)),
                ("flowai_config_set_proxy", _bytes(proxy) if proxy else None),
                (
                    "flowai_config_set_allow_insecure",
                    None if allow_insecure is None else int(allow_insecure),
                ),
            ]
            for name, value in setters:
                if value is not None:
                    _raise(getattr(lib, name)(config, value), name)
            if proxy is False:
                _raise(lib.flowai_config_set_no_proxy(config), "flowai_config_set_no_proxy")
            if backoff is not None:
                min_ms, max_ms, max_attempts = backoff
                _raise(
                    lib.flowai_config_set_backoff(config, min_ms, max_ms, max_attempts),
                    "flowai_config_set_backoff",
                )
            ptr = c_void_p()
            _raise(lib.flowai_client_connect(config, byref(ptr)), "flowai_client_connect")
        finally:
            lib.flowai_config_free(config)
        self._handle = _Handle(lib, ptr)
        _open_clients.add(self)

    # -- handle use: each call holds a reference to the handle while it runs (see _Handle)

    def _use(self, call):
        handle = self._handle
        if handle is None:
            raise FlowaiClosed(CLOSED, "client used after close()", call)
        return handle

    def _call(self, name, *args):
        handle = self._use(name)
        return getattr(self._lib, name)(handle.ptr, *args)

    # -- sending

    def send(self, message):
        """Queues a message and returns its traceId at once.

        ``message`` is a ``Message``, a plain string - always the speech, whatever it looks
        like, so text typed by your users can never set the threadId, the originator, the
        nonce or an attachment - or a dict: a ``message.send`` payload (``{"speech": "Hi",
        "threadId": "jane.doe", "originator": {...}, "attachment": {...}}``) or the whole
        frame ``{"type": "message.send", "payload": {...}}``. JSON text goes through
        ``send_json``. An empty threadId and a missing originator come from the client's
        config. Raises ``FlowaiError`` (code ``INVALID_ARGUMENT``) for a message the server
        would refuse (a traceId above 2**53 - 1 too); nothing is sent then.
        """
        if isinstance(message, str):
            # Encoded as a JSON string value: nothing in the text can leave the speech.
            return self.send_json(_json.dumps({"speech": message}))
        if isinstance(message, Message):
            trace = c_uint64()
            code = self._call("flowai_client_send", message._handle, byref(trace))
            _raise(code, "flowai_client_send")
            return trace.value
        if isinstance(message, dict):
            return self.send_json(_json.dumps(message))
        raise TypeError(
            "send() takes a Message, a str (the speech) or a dict (the payload); "
            f"for JSON text use send_json(), not {type(message).__name__}"
        )

    def send_json(self, text):
        """Queues a message given as JSON text (``str`` or ``bytes``): the ``message.send``
        payload or the whole frame. Only for JSON your program writes itself: it may set
        every field (threadId, originator, nonce, attachment). Returns the traceId; raises
        like ``send``."""
        trace = c_uint64()
        code = self._call("flowai_client_send_json", _bytes(text), byref(trace))
        _raise(code, "flowai_client_send_json")
        return trace.value

    def wait_delivered(self, trace_id, timeout=10.0):
        """Blocks until the message with this traceId is acknowledged; ``FlowaiTimeout``
        after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            code = self._call("flowai_client_wait_delivered", trace_id, min(left_ms, _SLICE_MS))
            if code != TIMEOUT or left_ms <= _SLICE_MS:
                _raise(code, "flowai_client_wait_delivered")
                return

    def flush(self, timeout=10.0):
        """Blocks until every queued message is acknowledged; ``FlowaiTimeout`` after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            code = self._call("flowai_client_flush", min(left_ms, _SLICE_MS))
            if code != TIMEOUT or left_ms <= _SLICE_MS:
                _raise(code, "flowai_client_flush")
                return

    def noticed(self, thread_id=None, instantly=False):
        """Tells the server the user has seen a thread (``None`` or ``""``: the configured
        one); returns whether a frame was queued (it is throttled to one per 5 s unless
        ``instantly``)."""
        queued = c_int32()
        code = self._call(
            "flowai_client_noticed", _thread(thread_id), int(bool(instantly)), byref(queued)
        )
        _raise(code, "flowai_client_noticed")
        return bool(queued.value)

    def user_typing(self):
        """Tells the server the user is typing in the configured thread."""
        _raise(self._call("flowai_client_user_typing"), "flowai_client_user_typing")

    # -- nonce and REST calls (each blocks for one HTTP request, bounded by io_timeout_ms)

    def _owned(self, name, *args):
        raw = c_void_p()
        _raise(self._call(name, *args, byref(raw)), name)
        return _take_string(self._lib, raw)

    def secret(self, thread_id=None):
        """The nonce known for a thread (``None``: the configured one), or ``None`` when
        the client knows none (projects without client nonces)."""
        return self._owned("flowai_client_secret", _thread(thread_id))

    def history(self, thread_id=None):
        """The past messages of a thread (``None``: the configured one), as the server's
        payload parsed: ``{"threadId": ..., "history": [{"type": ..., "payload": {...}},
        ...]}``, oldest first."""
        return _json.loads(self._owned("flowai_client_history", _thread(thread_id)))

    def unnoticed(self, thread_id=None):
        """True when the thread (``None``: the configured one) has messages the user has not
        seen; ``noticed`` clears it."""
        flag = c_int32()
        _raise(
            self._call("flowai_client_unnoticed", _thread(thread_id), byref(flag)),
            "flowai_client_unnoticed",
        )
        return bool(flag.value)

    def merge(self, merger_key, thread_id=None, session_id=None):
        """Merges threads (``thread.merger``); ``None`` thread or session: the configured
        one. An empty key raises ``FlowaiError`` (``INVALID_ARGUMENT``)."""
        _raise(
            self._call(
                "flowai_client_merge", _bytes(merger_key), _thread(thread_id), _thread(session_id)
            ),
            "flowai_client_merge",
        )

    def upload(self, path, message=None):
        """Sends a file as an attachment (streamed from disk) and returns the server's
        answer as a dict (``{"fileName": ..., "size": ...}``). ``message`` is a ``Message``,
        a string (the speech) or ``None`` (speech ``file attachment``); the rest is filled
        like ``send`` does. The bot's answer to the file arrives as a reply event. Raises
        ``FlowaiTooLarge`` when the server refuses the file as too large (HTTP 413) and
        ``FlowaiError`` with code ``IO`` when it cannot be read."""
        if isinstance(message, str):
            message = Message(message)
        elif message is not None and not isinstance(message, Message):
            raise TypeError("message must be a Message, a str or None")
        handle = None if message is None else message._handle
        text = self._owned("flowai_client_upload", _bytes(os.fspath(path)), handle)
        return _json.loads(text)

    # -- receiving

    def recv(self, timeout=None):
        """The next event, or ``None`` when none came within ``timeout`` seconds (``None``:
        wait as long as it takes). Raises ``FlowaiClosed`` once the client is closed or has
        stopped for good and every event was received."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if deadline is None:
                slice_ms = _SLICE_MS
            else:
                slice_ms = min(_SLICE_MS, max(0, int((deadline - time.monotonic()) * 1000)))
            event = c_void_p()
            code = self._call("flowai_client_recv", slice_ms, byref(event))
            if code == OK:
                try:
                    return Event(event)
                finally:
                    self._lib.flowai_event_free(event)
            if code != TIMEOUT:
                _raise(code, "flowai_client_recv")
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def __iter__(self):
        """Iterates over events, blocking for each; ends when the client is closed or has
        stopped for good."""
        while True:
            try:
                yield self.recv()
            except FlowaiClosed:
                return

    def set_callback(self, function):
        """Calls ``function(event)`` for every event on the library's dispatcher thread
        (taking the GIL); ``None`` unregisters, and once that returns the old function is
        never called again. While a callback is set, ``recv`` raises ``FlowaiError`` with
        code ``INVALID_STATE``. Exceptions in ``function`` are printed and ignored."""
        if function is None:
            _raise(self._call("flowai_client_set_callback", _EVENT_CALLBACK(), None),
                   "flowai_client_set_callback")
            return

        def trampoline(_user_data, event):
            _callback_thread.active = True
            try:
                function(Event(event))
            except BaseException:  # noqa: BLE001 - must not unwind into C
                sys.excepthook(*sys.exc_info())
            finally:
                _callback_thread.active = False

        c_function = _EVENT_CALLBACK(trampoline)
        handle = self._use("flowai_client_set_callback")
        # The C function object lives as long as the C client: a replaced one may still be
        # running (replaced from inside itself), or a concurrent set_callback may have won
        # in C after this one (the library then calls the other, which must still exist).
        handle.thunks.append(c_function)
        _raise(self._lib.flowai_client_set_callback(handle.ptr, c_function, None),
               "flowai_client_set_callback")

    # -- state

    @property
    def is_connected(self):
        """True while the WebSocket is open."""
        handle = self._handle
        return handle is not None and bool(self._lib.flowai_client_is_connected(handle.ptr))

    @property
    def thread_id(self):
        """The client's default threadId."""
        return _text(self._call("flowai_client_thread_id"))

    @property
    def session_id(self):
        """The client's sessionId."""
        return _text(self._call("flowai_client_session_id"))

    @property
    def closed(self):
        """True after ``close()``."""
        return self._handle is None

    @property
    def pending(self):
        """Number of messages waiting for their acknowledgement."""
        return self._call("flowai_client_pending")

    def close(self):
        """Closes the connection, stops the callback and joins the library's threads; the C
        client is freed as soon as no call on another thread is using it (they all return
        ``FlowaiClosed`` at once). Idempotent; callable from any thread and from inside the
        callback; Ctrl-C at any moment never leaves it (or the exit hook) waiting."""
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is None:
            return
        _open_clients.discard(self)
        # Wakes every blocked call on other threads; they return FLOWAI_CLOSED and drop
        # their references to the handle, the last of which frees it (see _Handle).
        self._lib.flowai_client_close(handle.ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - best effort during collection
            pass
