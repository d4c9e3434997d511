"""Sending, receiving, callbacks, closing and errors, against the emulator."""

from __future__ import annotations

import queue
import re
import sys
import threading
import time

import pytest
from support import HEADER, wait_for

import flowai_socket
from flowai_socket import (
    Client,
    Event,
    FlowaiClosed,
    FlowaiError,
    FlowaiTimeout,
    Message,
)


def seed() -> Message:
    return Message("event attachment").thread("jane.doe").event("MY EVENT")


def test_library_abi_matches_the_header() -> None:
    lib = flowai_socket.load_library()
    abi = re.search(r"#define FLOWAI_ABI_VERSION (\d+)", HEADER.read_text("utf-8"))
    assert abi, "FLOWAI_ABI_VERSION not in include/flowai.h"
    assert lib.flowai_abi_version() == int(abi.group(1))
    assert re.match(r"^\d+\.\d+\.\d+", flowai_socket.version())


def test_send_receive_reply_and_close(server: str) -> None:
    with Client(thread_id="jane.doe") as client:
        assert client.is_connected
        assert client.thread_id == "jane.doe"
        connected = wait_for(client, lambda e: e.kind == flowai_socket.EVENT_CONNECTED)
        assert connected.data["type"] == "connected"
        trace = client.send(seed())
        client.wait_delivered(trace, timeout=10)
        delivered = wait_for(client, lambda e: e.is_delivered)
        assert delivered.trace_id == trace
        assert delivered.thread_id == "jane.doe"
        reply = wait_for(client, lambda e: e.is_reply)
        assert reply.text == "Event MY EVENT received"
        assert reply.data["type"] == "message.received"
    assert client.closed
    assert not client.is_connected
    with pytest.raises(FlowaiClosed):
        client.send("after close")
    client.close()  # idempotent


def test_send_json_dict_and_text(connect) -> None:
    client = connect()
    trace = client.send({"speech": "hello", "traceId": 4242})
    assert trace == 4242
    client.send("plain text")
    client.flush(timeout=10)
    assert client.pending == 0
    texts = set()
    while len(texts) < 2:
        texts.add(wait_for(client, lambda e: e.is_reply).text)
    assert texts == {"You said: hello", "You said: plain text"}


def test_invalid_messages_raise_and_send_nothing(connect) -> None:
    client = connect()
    with pytest.raises(FlowaiError) as caught:
        client.send_json("{not json")
    assert caught.value.code == flowai_socket.INVALID_ARGUMENT
    assert "JSON" in caught.value.message
    assert not caught.value.retryable
    with pytest.raises(FlowaiError):
        client.send({"type": "ping"})
    with pytest.raises(TypeError):
        client.send(b'{"speech": "bytes are neither speech nor JSON"}')  # type: ignore[arg-type]
    assert client.pending == 0


def test_a_str_is_always_speech_and_json_only_explicit(connect) -> None:
    client = connect()
    typed = (
        '{"speech": "x", "threadId": "victim", "nonce": "guess", '
        '"originator": {"name": "admin", "role": "moderator"}}'
    )
    trace = client.send(typed)
    client.wait_delivered(trace, timeout=10)
    echoed = wait_for(client, lambda e: e.is_delivered and e.trace_id == trace)
    payload = echoed.data["payload"]
    assert payload["speech"] == typed
    assert payload["threadId"] == "jane.doe"
    assert payload["originator"]["role"] == "external"
    assert "nonce" not in payload
    assert client.send_json('{"speech": "explicit", "traceId": 4343}') == 4343
    client.send_json(b'{"type": "message.send", "payload": {"speech": "as bytes"}}')
    client.flush(timeout=10)


def test_trace_ids_above_2_pow_53_are_refused(connect) -> None:
    client = connect()
    with pytest.raises(FlowaiError) as caught:
        Message("x").trace(2**53)
    assert caught.value.code == flowai_socket.INVALID_ARGUMENT
    assert "2^53" in caught.value.message
    with pytest.raises(FlowaiError) as caught:
        client.send({"speech": "x", "traceId": 2**53})
    assert caught.value.code == flowai_socket.INVALID_ARGUMENT
    assert client.pending == 0
    trace = client.send(Message("largest").trace(2**53 - 1))
    assert trace == 2**53 - 1
    client.wait_delivered(trace, timeout=10)


def test_events_beyond_the_queue_are_counted_by_an_overflow_event(connect) -> None:
    client = connect(max_queued_events=2, max_queued_bytes=2 << 20)
    for i in range(5):
        client.wait_delivered(client.send(f"m{i}"), timeout=10)
    dropped = 0
    while (event := client.recv(timeout=0.3)) is not None:
        if event.kind == flowai_socket.EVENT_OVERFLOW:
            assert event.name == "overflow"
            assert event.data["dropped"] == event.dropped
            dropped += event.dropped
        else:
            assert event.dropped == 0
    assert dropped > 0
    with pytest.raises(FlowaiError) as caught:
        connect(max_queued_bytes=1000)
    assert caught.value.code == flowai_socket.CONFIG


def test_recv_times_out_with_none(connect) -> None:
    client = connect()
    wait_for(client, lambda e: e.kind == flowai_socket.EVENT_CONNECTED)
    started = time.monotonic()
    assert client.recv(timeout=0.3) is None
    assert time.monotonic() - started < 2
    assert issubclass(FlowaiTimeout, FlowaiError)
    # A traceId that is not waiting returns at once.
    client.wait_delivered(1, timeout=0.1)


def test_iterating_ends_when_the_client_closes(connect) -> None:
    client = connect()
    client.send("one")
    seen = []
    for event in client:
        seen.append(event.name)
        if event.is_reply:
            client.close()
    assert seen[-1] == "reply"
    assert client.closed


def test_callback_from_a_python_function(connect) -> None:
    client = connect()
    events: queue.Queue[Event] = queue.Queue()
    threads = set()

    def on_event(event: Event) -> None:
        threads.add(threading.current_thread().ident)
        events.put(event)

    client.set_callback(on_event)
    with pytest.raises(FlowaiError) as caught:
        client.recv(timeout=0)
    assert caught.value.code == flowai_socket.INVALID_STATE
    client.send(seed())
    deadline = time.monotonic() + 10
    reply = None
    while reply is None and time.monotonic() < deadline:
        event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if event.is_reply:
            reply = event
    assert reply is not None
    assert reply.text == "Event MY EVENT received"
    assert threading.main_thread().ident not in threads

    client.set_callback(None)
    count = events.qsize()
    client.send("after unregister")
    client.flush(timeout=10)
    time.sleep(0.3)
    assert events.qsize() == count, "callback called after unregistering"
    # With the callback gone, recv works again.
    assert wait_for(client, lambda e: e.is_reply) is not None


def test_callback_exception_is_reported_not_fatal(connect, monkeypatch) -> None:
    client = connect()
    calls = []
    errors = []
    monkeypatch.setattr(sys, "excepthook", lambda *info: errors.append(info[1]))

    def boom(event: Event) -> None:
        calls.append(event)
        raise RuntimeError("boom")

    client.set_callback(boom)
    client.send("hi")
    deadline = time.monotonic() + 10
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    client.set_callback(None)
    assert len(calls) >= 2
    assert errors and all(isinstance(e, RuntimeError) for e in errors)


def test_close_from_another_thread_wakes_a_blocked_recv(server: str) -> None:
    client = Client(thread_id="jane.doe")
    wait_for(client, lambda e: e.kind == flowai_socket.EVENT_CONNECTED)
    outcome: list[object] = []

    def receiver() -> None:
        try:
            for _ in client:
                pass
            outcome.append("ended")
        except Exception as e:  # noqa: BLE001
            outcome.append(e)

    t = threading.Thread(target=receiver)
    t.start()
    time.sleep(0.3)
    client.close()
    t.join(5)
    assert not t.is_alive()
    assert outcome == ["ended"]


def test_close_from_inside_the_callback(server: str) -> None:
    client = Client(thread_id="jane.doe")
    done: queue.Queue[float] = queue.Queue()

    def on_event(event: Event) -> None:
        started = time.monotonic()
        client.close()
        done.put(time.monotonic() - started)

    client.set_callback(on_event)
    assert done.get(timeout=10) < 1
    assert client.closed
    with pytest.raises(FlowaiClosed):
        client.send("after close")


def test_close_with_a_callback_registered(server: str) -> None:
    client = Client(thread_id="jane.doe")
    client.set_callback(lambda event: None)
    client.send("hi")
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 5


def test_reliability_options_reach_the_library(connect) -> None:
    client = connect(
        outbox=False,
        max_outbox=10,
        max_queued_events=50,
        max_message_size=64 * 1024,
        backoff=(10, 200, 3),
        reconnect=True,
    )
    client.wait_delivered(client.send("with the outbox off"), timeout=5)
    for bad in (
        {"max_outbox": 0},
        {"max_queued_events": 0},
        {"backoff": (0, 10, 0)},
        {"backoff": (500, 100, 0)},
        {"max_message_size": 10},
    ):
        with pytest.raises(FlowaiError) as caught:
            connect(**bad)
        assert caught.value.code == flowai_socket.CONFIG, bad


def test_pong_events_when_asked_for(connect) -> None:
    client = connect(keepalive_ms=50, pong_events=True)
    event = wait_for(client, lambda e: e.kind == flowai_socket.EVENT_PONG, timeout=5)
    assert event.name == "pong"


def test_bad_connect_raises() -> None:
    with pytest.raises(FlowaiError) as caught:
        Client(base_url="http://127.0.0.1:1", connect_timeout_ms=2000)
    assert caught.value.code in (flowai_socket.NETWORK, flowai_socket.TIMEOUT)
    assert caught.value.retryable
    with pytest.raises(FlowaiError) as caught:
        Client(base_url="ftp://nowhere")
    assert caught.value.code == flowai_socket.CONFIG
    assert caught.value.final
    assert not caught.value.retryable


def test_error_classes_proxy_and_insecure_options(connect) -> None:
    # http:// to another machine is refused unless allowed (a documentation address).
    with pytest.raises(FlowaiError) as caught:
        Client(base_url="http://192.0.2.1:9", connect_timeout_ms=300)
    assert caught.value.code == flowai_socket.CONFIG
    assert "allow_insecure" in caught.value.message
    assert caught.value.final
    with pytest.raises(FlowaiError) as caught:
        Client(base_url="http://192.0.2.1:9", allow_insecure=True, connect_timeout_ms=300)
    assert caught.value.code in (flowai_socket.NETWORK, flowai_socket.TIMEOUT)
    assert not caught.value.final
    # A proxy that refuses connections: retryable, and it was really used.
    with pytest.raises(FlowaiError) as caught:
        connect(proxy="http://127.0.0.1:1", connect_timeout_ms=500)
    assert caught.value.code == flowai_socket.NETWORK
    assert "127.0.0.1:1" in caught.value.message
    assert caught.value.retryable
    with pytest.raises(FlowaiError) as caught:
        connect(proxy="socks5://127.0.0.1:1080")
    assert caught.value.code == flowai_socket.CONFIG
    # proxy=False: direct, whatever the environment says.
    assert connect(proxy=False).is_connected
