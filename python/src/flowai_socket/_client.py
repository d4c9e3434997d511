"""Client, Message and Event over the C handles."""

from __future__ import annotations

import atexit
import ctypes
import json as _json
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from ctypes import byref, c_int32, c_uint64, c_void_p
from typing import (
    Any,
    Literal,
    Union,
    overload,
)

# Imported before the exit hook below is registered, so that its own hook (unregistering the
# log callback) runs after this one has closed the clients.
from . import _log
from ._errors import FlowaiClosed, _raise
from ._native import (
    _EVENT_CALLBACK,
    CLOSED,
    EVENT_ACTIVITIES_CREATED,
    EVENT_ACTIVITIES_DELIVERED,
    EVENT_DELIVERED,
    EVENT_REPLY,
    OK,
    ROLE_EXTERNAL,
    SESSION_POLICY_KEEP,
    SESSION_POLICY_RENEW,
    TIMEOUT,
    load_library,
)

# The longest single blocking call, so KeyboardInterrupt is seen promptly.
_SLICE_MS = 200

StrPath = Union[str, "os.PathLike[str]"]


def _bytes(text: str | bytes) -> bytes:
    return text.encode("utf-8") if isinstance(text, str) else text


def _opt_bytes(text: str | bytes | None) -> bytes | None:
    return None if text is None else _bytes(text)


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def _thread(thread_id: str | None) -> bytes:
    """An optional threadId / sessionId argument: ``None`` and ``""`` mean the configured one."""
    return _bytes(thread_id or "")


def _take_string(lib: ctypes.CDLL, raw: c_void_p) -> str | None:
    """Copies an owned C string (a c_void_p, NULL gives None) and frees it."""
    if not raw.value:
        return None
    try:
        return ctypes.string_at(raw.value).decode("utf-8")
    finally:
        lib.flowai_string_free(raw)


def _remaining_ms(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))


class Event:
    """One event of a client, copied out of the library (no handle to free).

    ``kind`` is an ``EVENT_*`` constant, ``name`` the event's name (``"message.received"``,
    ``"connected"``, ...), ``json`` the whole event as JSON text (``data``: parsed), ``text``
    its plain text (a reply's fallback texts, an error's message), ``trace_id`` the traceId
    of an acknowledgement (else ``None``), ``dropped`` the count of an ``EVENT_OVERFLOW``.
    """

    __slots__ = ("kind", "name", "thread_id", "trace_id", "dropped", "text", "json")

    kind: int
    name: str | None
    thread_id: str | None
    trace_id: int | None
    dropped: int
    text: str | None
    json: str

    def __init__(self, handle: int | c_void_p | None) -> None:
        lib = load_library()
        self.kind = lib.flowai_event_get_kind(handle)
        self.name = _text(lib.flowai_event_name(handle))
        self.thread_id = _text(lib.flowai_event_thread_id(handle))
        self.trace_id = lib.flowai_event_trace_id(handle) or None
        # For EVENT_OVERFLOW: how many events were not queued (the queue was full).
        self.dropped = lib.flowai_event_dropped(handle)
        self.text = _text(lib.flowai_event_text(handle))
        self.json = _text(lib.flowai_event_json(handle)) or "null"

    @property
    def data(self) -> Any:
        """The whole event as a dict (the JSON parsed)."""
        return _json.loads(self.json)

    @property
    def is_reply(self) -> bool:
        """True for a bot or agent reply (``message.received`` / ``activities.created``)."""
        return self.kind in (EVENT_REPLY, EVENT_ACTIVITIES_CREATED)

    @property
    def is_delivered(self) -> bool:
        """True for a delivery acknowledgement (``message.delivered``)."""
        return self.kind in (EVENT_DELIVERED, EVENT_ACTIVITIES_DELIVERED)

    def __repr__(self) -> str:
        return f"Event({self.name}, thread_id={self.thread_id!r}, text={self.text!r})"


_SESSION_POLICIES = {"keep": SESSION_POLICY_KEEP, "renew": SESSION_POLICY_RENEW}


def _session_policy(policy: str | int | None) -> int | None:
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

        Message("event attachment").thread("jane.doe").event("MY EVENT", label="Start") \\
            .originator("Jane Doe").profile(first_name="Jane", timezone=-5) \\
            .originator_metadata("clientNumber", "12345").originator_metadata("vip", True)

    The C message is freed when the object is collected, by ``close()``, or at the end of a
    ``with`` block.
    """

    def __init__(self, speech: str | None = None) -> None:
        self._lib = load_library()
        self._handle: int | None = self._lib.flowai_message_new()
        if not self._handle:
            raise MemoryError("flowai_message_new failed")
        if speech is not None:
            self.speech(speech)

    def _set(self, name: str, *args: Any) -> Message:
        _raise(getattr(self._lib, name)(self._handle, *args), name)
        return self

    def thread(self, thread_id: str) -> Message:
        """Sets the threadId."""
        return self._set("flowai_message_set_thread_id", _bytes(thread_id))

    def trace(self, trace_id: int) -> Message:
        """Sets the traceId (otherwise the client assigns one); at most 2**53 - 1, the
        largest integer a JavaScript server reads exactly (``FlowaiError`` with code
        ``INVALID_ARGUMENT`` otherwise)."""
        return self._set("flowai_message_set_trace_id", trace_id)

    def speech(self, text: str) -> Message:
        """Sets the text."""
        return self._set("flowai_message_set_speech", _bytes(text))

    def originator(self, name: str, role: int = ROLE_EXTERNAL) -> Message:
        """Sets the originator's name and role (``ROLE_EXTERNAL`` or ``ROLE_MODERATOR``)."""
        self._set("flowai_message_set_originator_name", _bytes(name))
        return self._set("flowai_message_set_originator_role", role)

    def profile(self, timezone: float | None = None, **fields: str) -> Message:
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

    def originator_metadata(self, key: str, value: Any) -> Message:
        """Sets one originator metadata entry: a ``str`` as a string, anything else (numbers,
        booleans, lists, dicts, ``None``) as its JSON value. Raises ``TypeError`` for a
        value JSON cannot encode."""
        if isinstance(value, str):
            return self._set("flowai_message_set_originator_metadata", _bytes(key), _bytes(value))
        return self._set(
            "flowai_message_set_originator_metadata_json", _bytes(key), _bytes(_json.dumps(value))
        )

    def language(self, language: str) -> Message:
        """Sets the message's language (``metadata.language``)."""
        return self._set("flowai_message_set_language", _bytes(language))

    def timezone(self, hours: float) -> Message:
        """Sets the message's timezone in hours from UTC (``metadata.timezone``)."""
        return self._set("flowai_message_set_timezone", float(hours))

    def param(self, name: str, value: str) -> Message:
        """Adds one value to a parameter (``metadata.params``)."""
        return self._set("flowai_message_add_param", _bytes(name), _bytes(value))

    def event(self, name: str, label: str | None = None) -> Message:
        """Attaches an event, with an optional label; replaces any other attachment."""
        self._set("flowai_message_set_event", _bytes(name))
        return self if label is None else self.label(label)

    def opening_event(self, name: str, label: str | None = None) -> Message:
        """Attaches an opening event (``"eventType": "OPENING"``), with an optional label."""
        self._set("flowai_message_set_opening_event", _bytes(name))
        return self if label is None else self.label(label)

    def label(self, label: str) -> Message:
        """Sets the label of the event attachment; ``FlowaiError`` (code ``INVALID_STATE``)
        when the message has no event attached."""
        return self._set("flowai_message_set_event_label", _bytes(label))

    def flow(self, flow_immutable_id: str) -> Message:
        """Attaches a flow."""
        return self._set("flowai_message_set_flow", _bytes(flow_immutable_id))

    def step(self, step_id: str) -> Message:
        """Attaches a step."""
        return self._set("flowai_message_set_step", _bytes(step_id))

    def to_json(self) -> str:
        """The payload as JSON text (an owned C string, copied then freed)."""
        raw = c_void_p()
        _raise(self._lib.flowai_message_to_json(self._handle, byref(raw)), "flowai_message_to_json")
        return _take_string(self._lib, raw) or ""

    def close(self) -> None:
        """Frees the C message (also done when it is collected); it cannot be used after."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            self._lib.flowai_message_free(handle)

    def __enter__(self) -> Message:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()
_callback_thread = threading.local()


def _free_client(lib: ctypes.CDLL, ptr: c_void_p, thunks: list[Any]) -> None:
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

    def __init__(self, lib: ctypes.CDLL, ptr: c_void_p) -> None:
        self.lib = lib
        self.ptr: c_void_p | None = ptr
        self.thunks: list[Any] = []

    def __del__(self) -> None:
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
def _close_all() -> None:
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
    ``ws://`` endpoints to other machines, refused by default); ``library`` (the path of the
    C library to load, if none is loaded yet).

    The library's log records (lost connections, reconnect attempts) go to
    ``logging.getLogger("flowai_socket")``.
    """

    def __init__(
        self,
        client_id: str | None = None,
        base_url: str | None = None,
        thread_id: str | None = None,
        *,
        session_id: str | None = None,
        origin: str | None = None,
        ott: str | None = None,
        secret: str | None = None,
        state_file: StrPath | None = None,
        session_policy: str | int | None = None,
        originator_name: str | None = None,
        originator_role: int | None = None,
        keepalive_ms: int | None = None,
        pong_timeout_ms: int | None = None,
        connect_timeout_ms: int | None = None,
        io_timeout_ms: int | None = None,
        reconnect: bool | None = None,
        backoff: tuple[int, int, int] | None = None,
        outbox: bool | None = None,
        max_outbox: int | None = None,
        max_queued_events: int | None = None,
        max_queued_bytes: int | None = None,
        max_message_size: int | None = None,
        pong_events: bool | None = None,
        root_certificate_pem: str | None = None,
        proxy: str | Literal[False] | None = None,
        allow_insecure: bool | None = None,
        library: str | None = None,
    ) -> None:
        self._handle: _Handle | None = None
        self._lock = threading.Lock()
        lib = load_library(library)
        _log.sync(lib)
        self._lib = lib
        client_id = client_id or os.environ.get("FLOWAI_CLIENT_ID")
        if not client_id:
            raise ValueError("a client_id is needed (or set FLOWAI_CLIENT_ID)")
        base_url = base_url or os.environ.get("FLOWAI_BASE_URL") or "https://sdk.flow.ai"
        policy = _session_policy(session_policy)
        state_path = None if state_file is None else os.fspath(state_file)
        config = c_void_p()
        _raise(lib.flowai_config_new(_bytes(client_id), byref(config)), "flowai_config_new")
        try:
            setters: list[tuple[str, Any]] = [
                ("flowai_config_set_base_url", _bytes(base_url)),
                ("flowai_config_set_thread_id", _opt_bytes(thread_id)),
                ("flowai_config_set_session_id", _opt_bytes(session_id)),
                ("flowai_config_set_origin", _opt_bytes(origin)),
                ("flowai_config_set_ott", _opt_bytes(ott)),
                ("flowai_config_set_secret", _opt_bytes(secret)),
                ("flowai_config_set_state_file", _opt_bytes(state_path)),
                ("flowai_config_set_session_policy", policy),
                ("flowai_config_set_originator_name", _opt_bytes(originator_name)),
                ("flowai_config_set_originator_role", originator_role),
                ("flowai_config_set_keepalive_ms", keepalive_ms),
                ("flowai_config_set_pong_timeout_ms", pong_timeout_ms),
                ("flowai_config_set_connect_timeout_ms", connect_timeout_ms),
                ("flowai_config_set_io_timeout_ms", io_timeout_ms),
                ("flowai_config_add_root_certificate_pem", _opt_bytes(root_certificate_pem)),
                ("flowai_config_set_reconnect", None if reconnect is None else int(reconnect)),
                ("flowai_config_set_outbox", None if outbox is None else int(outbox)),
                ("flowai_config_set_max_outbox", max_outbox),
                ("flowai_config_set_max_queued_events", max_queued_events),
                ("flowai_config_set_max_queued_bytes", max_queued_bytes),
                ("flowai_config_set_max_message_size", max_message_size),
                (
                    "flowai_config_set_pong_events",
                    None if pong_events is None else int(pong_events),
                ),
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

    def _use(self, call: str) -> _Handle:
        handle = self._handle
        if handle is None:
            raise FlowaiClosed(CLOSED, "client used after close()", call)
        return handle

    def _call(self, name: str, *args: Any) -> Any:
        handle = self._use(name)
        return getattr(self._lib, name)(handle.ptr, *args)

    def _wait(self, name: str, timeout: float, *args: Any) -> None:
        """Runs a C wait (its last argument a timeout in ms) in slices until it ends or
        ``timeout`` seconds pass, so Ctrl-C is seen meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            left_ms = _remaining_ms(deadline)
            code = self._call(name, *args, min(left_ms, _SLICE_MS))
            if code != TIMEOUT or left_ms <= _SLICE_MS:
                _raise(code, name)
                return

    # -- sending

    def send(self, message: Message | str | Mapping[str, Any]) -> int:
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
        if isinstance(message, Mapping):
            return self.send_json(_json.dumps(dict(message)))
        raise TypeError(
            "send() takes a Message, a str (the speech) or a dict (the payload); "
            f"for JSON text use send_json(), not {type(message).__name__}"
        )

    def send_json(self, text: str | bytes) -> int:
        """Queues a message given as JSON text (``str`` or ``bytes``): the ``message.send``
        payload or the whole frame. Only for JSON your program writes itself: it may set
        every field (threadId, originator, nonce, attachment). Returns the traceId; raises
        like ``send``."""
        trace = c_uint64()
        code = self._call("flowai_client_send_json", _bytes(text), byref(trace))
        _raise(code, "flowai_client_send_json")
        return trace.value

    def wait_delivered(self, trace_id: int, timeout: float = 10.0) -> None:
        """Blocks until the message with this traceId is acknowledged; ``FlowaiTimeout``
        after ``timeout`` seconds."""
        self._wait("flowai_client_wait_delivered", timeout, trace_id)

    def flush(self, timeout: float = 10.0) -> None:
        """Blocks until every queued message is acknowledged; ``FlowaiTimeout`` after
        ``timeout`` seconds."""
        self._wait("flowai_client_flush", timeout)

    def noticed(self, thread_id: str | None = None, instantly: bool = False) -> bool:
        """Tells the server the user has seen a thread (``None`` or ``""``: the configured
        one); returns whether a frame was queued (it is throttled to one per 5 s unless
        ``instantly``)."""
        queued = c_int32()
        code = self._call(
            "flowai_client_noticed", _thread(thread_id), int(bool(instantly)), byref(queued)
        )
        _raise(code, "flowai_client_noticed")
        return bool(queued.value)

    def user_typing(self) -> None:
        """Tells the server the user is typing in the configured thread."""
        _raise(self._call("flowai_client_user_typing"), "flowai_client_user_typing")

    # -- nonce and REST calls (each blocks for one HTTP request, bounded by io_timeout_ms)

    def _owned(self, name: str, *args: Any) -> str | None:
        raw = c_void_p()
        _raise(self._call(name, *args, byref(raw)), name)
        return _take_string(self._lib, raw)

    def secret(self, thread_id: str | None = None) -> str | None:
        """The nonce known for a thread (``None``: the configured one), or ``None`` when
        the client knows none (projects without client nonces)."""
        return self._owned("flowai_client_secret", _thread(thread_id))

    def history(self, thread_id: str | None = None) -> Any:
        """The past messages of a thread (``None``: the configured one), as the server's
        payload parsed: ``{"threadId": ..., "history": [{"type": ..., "payload": {...}},
        ...]}``, oldest first."""
        return _json.loads(self._owned("flowai_client_history", _thread(thread_id)) or "null")

    def unnoticed(self, thread_id: str | None = None) -> bool:
        """True when the thread (``None``: the configured one) has messages the user has not
        seen; ``noticed`` clears it."""
        flag = c_int32()
        _raise(
            self._call("flowai_client_unnoticed", _thread(thread_id), byref(flag)),
            "flowai_client_unnoticed",
        )
        return bool(flag.value)

    def merge(
        self, merger_key: str, thread_id: str | None = None, session_id: str | None = None
    ) -> None:
        """Merges threads (``thread.merger``); ``None`` thread or session: the configured
        one. An empty key raises ``FlowaiError`` (``INVALID_ARGUMENT``)."""
        _raise(
            self._call(
                "flowai_client_merge", _bytes(merger_key), _thread(thread_id), _thread(session_id)
            ),
            "flowai_client_merge",
        )

    def upload(self, path: StrPath, message: Message | str | None = None) -> Any:
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
        return _json.loads(text or "null")

    # -- receiving

    @overload
    def recv(self, timeout: None = None) -> Event: ...

    @overload
    def recv(self, timeout: float) -> Event | None: ...

    def recv(self, timeout: float | None = None) -> Event | None:
        """The next event, or ``None`` when none came within ``timeout`` seconds (``None``:
        wait as long as it takes). Raises ``FlowaiClosed`` once the client is closed or has
        stopped for good and every event was received."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            slice_ms = _SLICE_MS if deadline is None else min(_SLICE_MS, _remaining_ms(deadline))
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

    def __iter__(self) -> Iterator[Event]:
        """Iterates over events, blocking for each; ends when the client is closed or has
        stopped for good."""
        while True:
            try:
                yield self.recv()
            except FlowaiClosed:
                return

    def set_callback(self, function: Callable[[Event], object] | None) -> None:
        """Calls ``function(event)`` for every event on the library's dispatcher thread
        (taking the GIL); ``None`` unregisters, and once that returns the old function is
        never called again. While a callback is set, ``recv`` raises ``FlowaiError`` with
        code ``INVALID_STATE``. Exceptions in ``function`` are printed and ignored."""
        if function is None:
            _raise(
                self._call("flowai_client_set_callback", _EVENT_CALLBACK(), None),
                "flowai_client_set_callback",
            )
            return

        def trampoline(_user_data: int | None, event: int | None) -> None:
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
        _raise(
            self._lib.flowai_client_set_callback(handle.ptr, c_function, None),
            "flowai_client_set_callback",
        )

    # -- state

    @property
    def is_connected(self) -> bool:
        """True while the WebSocket is open."""
        handle = self._handle
        return handle is not None and bool(self._lib.flowai_client_is_connected(handle.ptr))

    @property
    def thread_id(self) -> str | None:
        """The client's default threadId."""
        return _text(self._call("flowai_client_thread_id"))

    @property
    def session_id(self) -> str | None:
        """The client's sessionId."""
        return _text(self._call("flowai_client_session_id"))

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._handle is None

    @property
    def pending(self) -> int:
        """Number of messages waiting for their acknowledgement."""
        count: int = self._call("flowai_client_pending")
        return count

    def close(self) -> None:
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

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - best effort during collection
            pass
