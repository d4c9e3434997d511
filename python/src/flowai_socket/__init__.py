"""Python bindings for flowai-socket, a blocking client for the Flow (flow.ai) Socket API.

A typed ctypes wrapper over the C library (``include/flowai.h``), which the wheel bundles::

    from flowai_socket import Client

    with Client("YOUR CLIENTID", thread_id="jane.doe") as client:
        trace = client.send({"speech": "Hi there!"})
        client.wait_delivered(trace)
        for event in client:
            if event.is_reply:
                print(event.text)
                break

The library is the copy bundled in this package, else the path in ``FLOWAI_LIB``, else the
newest build in this source tree's cargo target directory (``library_path()`` says which).
Every wait is done in short slices, so Ctrl-C interrupts a blocked ``recv`` or
``wait_delivered``, and a Ctrl-C landing anywhere never leaves ``close()`` or the exit hook
waiting. Clients still open at interpreter exit are closed by an ``atexit`` hook.

``send(str)`` always sends the string as the speech; JSON text goes through ``send_json``.

Receiving is best done by polling ``recv`` (or iterating) in your own thread. A callback
(``set_callback``) is also offered: it runs on the library's dispatcher thread and takes the
GIL for each event; it is unregistered by ``close``.

The library's log records (lost connections, reconnect attempts) go to
``logging.getLogger("flowai_socket")``; configure logging as usual to see them.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from ._client import Client, Event, Message
from ._errors import FlowaiClosed, FlowaiError, FlowaiTimeout, FlowaiTooLarge
from ._native import _SIGNATURES as _SIGNATURES  # the C declarations, one table
from ._native import (
    ABI_VERSION,
    CLOSED,
    CONFIG,
    CONNECTION_CLOSED,
    EVENT_ACTIVITIES_CREATED,
    EVENT_ACTIVITIES_DELIVERED,
    EVENT_AGENT_TYPING,
    EVENT_CLOSED,
    EVENT_CONNECTED,
    EVENT_DELIVERED,
    EVENT_DISCONNECTED,
    EVENT_INTERRUPTION,
    EVENT_INVALID,
    EVENT_NOT_DELIVERED,
    EVENT_OVERFLOW,
    EVENT_PONG,
    EVENT_PROTOCOL_ERROR,
    EVENT_RECONNECTING,
    EVENT_REPLY,
    EVENT_SECRET_GENERATED,
    EVENT_SERVER_ERROR,
    EVENT_UNKNOWN,
    INVALID_ARGUMENT,
    INVALID_STATE,
    INVALID_UTF8,
    IO,
    LOG_DEBUG,
    LOG_ERROR,
    LOG_INFO,
    LOG_OFF,
    LOG_TRACE,
    LOG_WARN,
    NETWORK,
    NOT_DELIVERED,
    NULL_ARGUMENT,
    OK,
    OUTBOX_FULL,
    PANIC,
    PROTOCOL,
    REJECTED,
    ROLE_EXTERNAL,
    ROLE_MODERATOR,
    SESSION_POLICY_KEEP,
    SESSION_POLICY_RENEW,
    TIMEOUT,
    TLS,
    TOO_LARGE,
    UNAVAILABLE,
    library_path,
    load_library,
    version,
)

__all__ = [
    "Client",
    "Message",
    "Event",
    "FlowaiError",
    "FlowaiTimeout",
    "FlowaiClosed",
    "FlowaiTooLarge",
    "library_path",
    "load_library",
    "version",
    "__version__",
    "ABI_VERSION",
    # flowai_result codes, flowai_event_kind, flowai_role, flowai_session_policy and
    # flowai_log_level values, as in include/flowai.h without the FLOWAI_ prefix.
    "CLOSED",
    "CONFIG",
    "CONNECTION_CLOSED",
    "EVENT_ACTIVITIES_CREATED",
    "EVENT_ACTIVITIES_DELIVERED",
    "EVENT_AGENT_TYPING",
    "EVENT_CLOSED",
    "EVENT_CONNECTED",
    "EVENT_DELIVERED",
    "EVENT_DISCONNECTED",
    "EVENT_INTERRUPTION",
    "EVENT_INVALID",
    "EVENT_NOT_DELIVERED",
    "EVENT_OVERFLOW",
    "EVENT_PONG",
    "EVENT_PROTOCOL_ERROR",
    "EVENT_RECONNECTING",
    "EVENT_REPLY",
    "EVENT_SECRET_GENERATED",
    "EVENT_SERVER_ERROR",
    "EVENT_UNKNOWN",
    "INVALID_ARGUMENT",
    "INVALID_STATE",
    "INVALID_UTF8",
    "IO",
    "LOG_DEBUG",
    "LOG_ERROR",
    "LOG_INFO",
    "LOG_OFF",
    "LOG_TRACE",
    "LOG_WARN",
    "NETWORK",
    "NOT_DELIVERED",
    "NULL_ARGUMENT",
    "OK",
    "OUTBOX_FULL",
    "PANIC",
    "PROTOCOL",
    "REJECTED",
    "ROLE_EXTERNAL",
    "ROLE_MODERATOR",
    "SESSION_POLICY_KEEP",
    "SESSION_POLICY_RENEW",
    "TIMEOUT",
    "TLS",
    "TOO_LARGE",
    "UNAVAILABLE",
]

try:
    __version__: str = _metadata.version("flowai-socket")
except _metadata.PackageNotFoundError:  # running from a checkout, not installed

    def __getattr__(name: str) -> str:
        """``__version__`` from the library itself when the package is not installed."""
        if name == "__version__":
            try:
                return version()
            except OSError as e:
                raise AttributeError(f"__version__: {e}") from e
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
