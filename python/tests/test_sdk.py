"""The SDK features beyond send/receive: nonce, REST calls, config options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import wait_for

import flowai_socket
from flowai_socket import Client, Event, FlowaiClosed, FlowaiError, FlowaiTooLarge, Message


def sized_file(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        chunk = b"x" * 65536
        left = size
        while left > 0:
            f.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
    return path


def converse(client: Client, text: str) -> Event:
    client.send(text)
    want = f"You said: {text}"
    return wait_for(client, lambda e: e.is_reply and e.text == want)


def test_secret_from_the_config_and_none_for_unknown_threads(connect) -> None:
    client = connect(secret="py-secret")
    assert client.secret() == "py-secret"
    assert client.secret("jane.doe") == "py-secret"
    assert client.secret("nobody") is None
    assert connect(thread_id="no.secret").secret() is None


def test_history_after_a_conversation(connect) -> None:
    client = connect(thread_id="py.history")
    assert client.history()["history"] == []
    converse(client, "hello history")
    history = client.history()
    assert history["threadId"] == "py.history"
    assert [entry["type"] for entry in history["history"]] == ["message.send", "message.received"]
    assert history["history"][0]["payload"]["speech"] == "hello history"
    assert client.history("nobody")["history"] == []
    assert client.history("py.history") == history


def test_unnoticed_until_noticed(connect) -> None:
    import time

    client = connect(thread_id="py.unnoticed")
    assert not client.unnoticed()
    converse(client, "anyone there")
    assert client.unnoticed()
    assert client.unnoticed("py.unnoticed")
    assert client.noticed(instantly=True)
    assert not client.noticed()  # throttled
    deadline = time.monotonic() + 10
    while client.unnoticed() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.unnoticed()


def test_merge(connect) -> None:
    client = connect()
    client.merge("merger-key")
    client.merge("merger-key", thread_id="other-thread", session_id="other-session")
    with pytest.raises(FlowaiError) as caught:
        client.merge("")
    assert caught.value.code == flowai_socket.INVALID_ARGUMENT


def test_upload_small_files(connect, tmp_path: Path) -> None:
    client = connect(thread_id="py.upload")
    path = sized_file(tmp_path / "note.txt", 1234)
    assert client.upload(path, Message("my note")) == {"fileName": "note.txt", "size": 1234}
    assert client.upload(str(path), "as text")["size"] == 1234
    assert client.upload(path)["fileName"] == "note.txt"
    for _ in range(3):
        reply = wait_for(client, lambda e: e.is_reply)
        assert reply.text == "Received file note.txt (1234 bytes)"
    uploads = [e["payload"] for e in client.history()["history"] if e["type"] == "file.upload"]
    assert [u["payload"]["speech"] for u in uploads] == ["my note", "as text", "file attachment"]
    with pytest.raises(TypeError):
        client.upload(path, {"speech": "dicts are not messages"})  # type: ignore[arg-type]
    with pytest.raises(FlowaiError) as caught:
        client.upload(tmp_path / "missing.txt")
    assert caught.value.code == flowai_socket.IO


def test_upload_over_the_limit_raises_too_large(connect, tmp_path: Path) -> None:
    client = connect(thread_id="py.too.large")
    path = sized_file(tmp_path / "big.bin", 1536 * 1024)  # the emulator's limit: 1 MiB
    with pytest.raises(FlowaiTooLarge) as caught:
        client.upload(path, "too big")
    assert caught.value.code == flowai_socket.TOO_LARGE
    assert not caught.value.retryable
    assert "HTTP 413" in caught.value.message
    assert issubclass(FlowaiTooLarge, FlowaiError)
    converse(client, "still here")  # the client is fine afterwards


def test_originator_name_ott_and_origin(connect) -> None:
    client = connect(
        thread_id="py.originator",
        originator_name="Py Tester",
        originator_role=flowai_socket.ROLE_MODERATOR,
        ott="one-time-token",
        origin="https://example.com",
    )
    converse(client, "who am I")
    sent = client.history()["history"][0]["payload"]
    assert sent["originator"]["name"] == "Py Tester"
    assert sent["originator"]["role"] == "moderator"
    client.user_typing()


def test_state_file_and_session_policy(server: str, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with Client(state_file=path) as first:
        thread, session = first.thread_id, first.session_id
    assert os.path.exists(path)
    with Client(state_file=path, session_policy="keep") as again:
        assert (again.thread_id, again.session_id) == (thread, session)
    with Client(state_file=path, session_policy=flowai_socket.SESSION_POLICY_RENEW) as renewed:
        assert renewed.thread_id == thread
        assert renewed.session_id != session
    with pytest.raises(ValueError):
        Client(state_file=path, session_policy="sometimes")
    with pytest.raises(FlowaiError) as caught:
        Client(state_file=path, session_policy=7)
    assert caught.value.code == flowai_socket.INVALID_ARGUMENT


def test_rest_calls_after_close_raise_closed(server: str) -> None:
    client = Client(thread_id="jane.doe")
    client.close()
    for call in (
        client.secret,
        client.history,
        client.unnoticed,
        lambda: client.merge("k"),
        lambda: client.upload("/tmp/x"),
    ):
        with pytest.raises(FlowaiClosed):
            call()
