"""The library's log records, routed to ``logging.getLogger("flowai_socket")``.

The C library hands each record to one process-wide callback (``flowai_set_log_callback``),
on the thread that logs: the caller's during a first connect, a client's I/O thread for lost
connections and reconnect attempts. The callback takes the GIL (ctypes does), which is safe
because every ctypes call into the library releases it. Records arrive with the Python level
of their library level (error 40, warn 30, info 20, debug 10, trace 5) and the Rust module
that logged them in the record attribute ``rust_target``.

What reaches Python: the library is asked only for records the logger would keep, as its
effective level stands when the library is loaded and each time a ``Client`` is created
(records the logger drops after a later ``setLevel`` are still dropped at once). At exit the
callback is unregistered after the clients are closed (``atexit``), so no library thread
calls into a finalising interpreter.
"""

from __future__ import annotations

import _thread
import atexit
import ctypes
import logging
import sys
import threading

from ._native import (
    _LOG_CALLBACK,
    LOG_DEBUG,
    LOG_ERROR,
    LOG_INFO,
    LOG_OFF,
    LOG_TRACE,
    LOG_WARN,
    OK,
)

logger = logging.getLogger("flowai_socket")
# A library does not print on its own: records show once the program configures logging.
logger.addHandler(logging.NullHandler())

# Python logging level of each flowai_log_level.
_PYTHON_LEVELS = {
    LOG_ERROR: logging.ERROR,
    LOG_WARN: logging.WARNING,
    LOG_INFO: logging.INFO,
    LOG_DEBUG: logging.DEBUG,
    LOG_TRACE: 5,
}

_lock = threading.Lock()
# The max_level given to the library (None: not set yet), whether forwarding is over (at
# exit), and whether a refusal was reported already.
_forwarded: int | None = None
_stopped = False
_refusal_reported = False


def _library_level(python_level: int) -> int:
    """The most detailed flowai_log_level a logger at ``python_level`` keeps."""
    kept = [c for c, p in _PYTHON_LEVELS.items() if p >= python_level]
    return max(kept, default=LOG_OFF)


def _forward(
    _user_data: int | None, level: int, target: bytes | None, message: bytes | None
) -> None:
    """The log callback: one record to the ``flowai_socket`` logger. Never raises into C."""
    try:
        python_level = _PYTHON_LEVELS.get(level, logging.DEBUG)
        if logger.isEnabledFor(python_level):
            text = (message or b"").decode("utf-8", "replace")
            origin = (target or b"").decode("utf-8", "replace")
            logger.log(python_level, text, extra={"rust_target": origin})
    except KeyboardInterrupt:
        # Ctrl-C landed while the main thread ran this callback (during a first connect):
        # raise it again once the library call returns instead of losing it.
        if threading.current_thread() is threading.main_thread():
            _thread.interrupt_main()
    except BaseException:  # noqa: BLE001 - must not unwind into C
        sys.excepthook(*sys.exc_info())


# Lives as long as the module: the library may call it until it is unregistered at exit.
_CALLBACK = _LOG_CALLBACK(_forward)


def sync(lib: ctypes.CDLL) -> None:
    """Asks the library for the records the ``flowai_socket`` logger keeps now."""
    global _forwarded, _refusal_reported
    with _lock:
        if _stopped:
            return
        level = _library_level(logger.getEffectiveLevel())
        if level == _forwarded:
            return
        code = lib.flowai_set_log_callback(_CALLBACK, None, level)
        if code == OK:
            _forwarded = level
        elif not _refusal_reported:
            # Another Rust logger in the process, or a Client made inside a log handler:
            # said once; the next Client tries again.
            _refusal_reported = True
            reason = lib.flowai_last_error().decode("utf-8", "replace")
            logger.warning("library log records are not forwarded: %s", reason)


@atexit.register
def _stop() -> None:
    """Unregisters the callback at exit; registered before the exit hook that closes the
    clients, so it runs after it (atexit runs hooks last in, first out)."""
    global _stopped
    with _lock:
        _stopped = True
        if _forwarded is None:
            return
    from ._native import _lib

    if _lib is not None:
        # Waits for callbacks in progress (the GIL is released during the call).
        _lib.flowai_set_log_callback(_LOG_CALLBACK(), None, LOG_OFF)
