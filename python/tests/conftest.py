"""Fixtures: the server (a running emulator named by FLOWAI_BASE_URL), clients that close
themselves, and the environment for child interpreters.

The suite tests the package as installed (``tests/python/main.rs`` installs the wheel in
a fresh venv and runs it there); from a checkout, ``pip install -e ./python`` or
``PYTHONPATH=python/src`` with a built library works too. Every wait is bounded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support import TESTS, on_ci

from flowai_socket import Client

os.environ.setdefault("FLOWAI_CLIENT_ID", "python-test")


@pytest.fixture(scope="session")
def server() -> str:
    """The emulator's base URL (FLOWAI_BASE_URL); without it the test is skipped (on CI it
    fails)."""
    url = os.environ.get("FLOWAI_BASE_URL")
    if not url:
        reason = (
            "FLOWAI_BASE_URL is not set: start an emulator (cargo run -- "
            "emulator --port 8080) and point FLOWAI_BASE_URL at it"
        )
        if on_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def connect(server: str) -> Iterator[Callable[..., Client]]:
    """Connects clients (thread ``jane.doe`` unless given) that are closed after the test."""
    clients: list[Client] = []

    def make(**kwargs: Any) -> Client:
        kwargs.setdefault("thread_id", "jane.doe")
        client = Client(base_url=server, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def child_env(server: str) -> dict[str, str]:
    """The environment for a child interpreter: this one's, with the tests directory
    importable (``connect_proxy``, ``support``)."""
    env = dict(os.environ)
    env["FLOWAI_BASE_URL"] = server
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return env
