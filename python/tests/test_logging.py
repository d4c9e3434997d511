"""The library's log records reach ``logging.getLogger("flowai_socket")``: from the calling
thread (a first connect that retries) and from the client's own I/O thread (a connection
lost, reconnect attempts), with their level, message and Rust module."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from connect_proxy import CutProxy

import flowai_socket
from flowai_socket import Client, FlowaiError


def flowai_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "flowai_socket"]


def test_records_of_a_retried_first_connect(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flowai_socket")
    with pytest.raises(FlowaiError):
        Client(base_url="http://127.0.0.1:1", connect_timeout_ms=500, backoff=(10, 20, 0))
    attempts = [r for r in flowai_records(caplog) if "connect attempt" in r.getMessage()]
    assert attempts, caplog.text
    record = attempts[0]
    assert record.levelno == logging.INFO
    assert record.getMessage().startswith("flowai: connect attempt 1 failed")
    assert record.rust_target.startswith("flowai_socket::")  # type: ignore[attr-defined]
    # A first connect runs on the caller's thread.
    assert record.thread == threading.get_ident()


def test_records_from_the_io_thread(connect, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flowai_socket")
    proxy = CutProxy()
    client = connect(thread_id="py.logging", proxy=proxy.url, backoff=(10, 40, 0))
    assert client.is_connected
    proxy.cut()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = [r.getMessage() for r in flowai_records(caplog)]
        if any("reconnect attempt" in m for m in messages):
            break
        time.sleep(0.02)
    records = flowai_records(caplog)
    lost = [r for r in records if r.getMessage().startswith("flowai: connection lost")]
    assert lost, caplog.text
    assert lost[0].levelno == logging.WARNING
    assert lost[0].thread != threading.get_ident()
    retries = [r for r in records if "reconnect attempt" in r.getMessage()]
    assert retries and retries[0].levelno == logging.INFO, caplog.text
    assert "127.0.0.1" in retries[0].getMessage()


def test_the_logger_level_limits_what_the_library_sends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # At WARNING the info records of a retried connect are not even asked for.
    caplog.set_level(logging.WARNING, logger="flowai_socket")
    with pytest.raises(FlowaiError):
        Client(base_url="http://127.0.0.1:1", connect_timeout_ms=300, backoff=(10, 20, 0))
    assert flowai_socket._log._forwarded == flowai_socket.LOG_WARN
    assert not [r for r in flowai_records(caplog) if r.levelno < logging.WARNING]
    # Lowered again, the next client asks for everything down to debug.
    caplog.set_level(logging.DEBUG, logger="flowai_socket")
    with pytest.raises(FlowaiError):
        Client(base_url="http://127.0.0.1:1", connect_timeout_ms=300, backoff=(10, 20, 0))
    assert flowai_socket._log._forwarded == flowai_socket.LOG_DEBUG
    assert [r for r in flowai_records(caplog) if r.levelno == logging.INFO], caplog.text


def test_library_levels_map_to_python_levels() -> None:
    library_level = flowai_socket._log._library_level
    assert library_level(logging.NOTSET) == flowai_socket.LOG_TRACE
    assert library_level(5) == flowai_socket.LOG_TRACE
    assert library_level(logging.DEBUG) == flowai_socket.LOG_DEBUG
    assert library_level(logging.INFO) == flowai_socket.LOG_INFO
    assert library_level(logging.WARNING) == flowai_socket.LOG_WARN
    assert library_level(logging.ERROR) == flowai_socket.LOG_ERROR
    assert library_level(logging.CRITICAL) == flowai_socket.LOG_OFF
