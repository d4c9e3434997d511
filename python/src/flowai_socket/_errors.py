"""Exceptions: one per failure, carrying the flowai_result code and whether it is final."""

from __future__ import annotations

from ._native import CLOSED, CONNECTION_CLOSED, OK, TIMEOUT, TOO_LARGE, load_library


class FlowaiError(Exception):
    """A failed call: ``code`` is the flowai_result, ``message`` the library's details,
    ``call`` the C function that failed and ``code_text`` the code's name in words.

    ``final`` is True when trying again cannot help until something changes (bad
    configuration, HTTP 400/401-403 or a redirect from ``socket.info``, a certificate that
    fails verification, a closed client); ``retryable`` is True for timeouts, resets, DNS
    failures, 5xx answers and refused connections. The same table as the C
    ``flowai_result_is_final`` and the Rust ``Error::is_final``.
    """

    code: int
    message: str
    call: str
    code_text: str
    retryable: bool
    final: bool

    def __init__(self, code: int, message: str, call: str = "") -> None:
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


def _raise(code: int, call: str) -> None:
    """Raises the exception for a flowai_result other than OK, with ``flowai_last_error``."""
    if code == OK:
        return
    text = load_library().flowai_last_error().decode("utf-8", "replace")
    cls: type[FlowaiError] = FlowaiError
    if code == TIMEOUT:
        cls = FlowaiTimeout
    elif code in (CLOSED, CONNECTION_CLOSED):
        cls = FlowaiClosed
    elif code == TOO_LARGE:
        cls = FlowaiTooLarge
    raise cls(code, text, call)
