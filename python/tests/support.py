"""Plain helpers of the test suite (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from flowai_socket import Client, Event

# python/tests -> the repository root.
REPO = Path(__file__).resolve().parents[2]
HEADER = REPO / "include" / "flowai.h"
TESTS = Path(__file__).resolve().parent


def on_ci() -> bool:
    """CI=true: nothing may be skipped for want of a server or a tool."""
    return os.environ.get("CI", "") not in ("", "0", "false")


def wait_for(client: Client, predicate: Callable[[Event], bool], timeout: float = 10) -> Event:
    """Receives until an event matches; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        event = client.recv(timeout=max(0.0, deadline - time.monotonic()))
        if event is not None and predicate(event):
            return event
        seen.append(event)
    raise AssertionError(f"no matching event within {timeout} s; saw {seen}")
