"""The message builder, the newer C functions (event label, JSON originator metadata, event
copy) and the ``with`` forms."""

from __future__ import annotations

import json
import queue
from ctypes import byref, c_void_p

import pytest
from support import wait_for

import flowai_socket
from flowai_socket import Event, FlowaiError, Message


def test_message_builder_to_json_frees_the_owned_string() -> None:
    m = (
        Message("event attachment")
        .thread("jane.doe")
        .event("MY EVENT")
        .originator("Jane Doe")
        .profile(full_name="Jane Doe", gender="F", timezone=-5)
        .originator_metadata("clientNumber", "12345")
        .param("seats", "Business class")
    )
    text = m.to_json()
    assert '"name":"MY EVENT"' in text
    assert '"timezone":-5' in text
    assert '"clientNumber":"12345"' in text
    with pytest.raises(TypeError):
        m.profile(shoe_size="42")


def test_event_labels() -> None:
    labelled = json.loads(Message("hi").event("MY EVENT", label="Start").to_json())
    assert labelled["attachment"] == {
        "type": "event",
        "payload": {"name": "MY EVENT", "label": "Start"},
    }
    opening = json.loads(Message("hi").opening_event("WELCOME", label="Hello").to_json())
    assert opening["attachment"]["payload"]["label"] == "Hello"
    assert opening["attachment"]["payload"]["eventType"] == "OPENING"
    relabelled = json.loads(Message("hi").event("E").label("later").to_json())
    assert relabelled["attachment"]["payload"]["label"] == "later"
    with pytest.raises(FlowaiError) as caught:
        Message("no event").label("orphan")
    assert caught.value.code == flowai_socket.INVALID_STATE
    with pytest.raises(FlowaiError) as caught:
        Message("a flow").flow("flow-id").label("not an event")
    assert caught.value.code == flowai_socket.INVALID_STATE


def test_originator_metadata_takes_any_json_value() -> None:
    m = (
        Message("hi")
        .originator("Jane Doe")
        .originator_metadata("clientNumber", "12345")
        .originator_metadata("vip", True)
        .originator_metadata("visits", 42)
        .originator_metadata("score", 0.5)
        .originator_metadata("tags", ["a", "b"])
        .originator_metadata("address", {"city": "Utrecht"})
        .originator_metadata("nothing", None)
    )
    metadata = json.loads(m.to_json())["originator"]["metadata"]
    assert metadata == {
        "clientNumber": "12345",
        "vip": True,
        "visits": 42,
        "score": 0.5,
        "tags": ["a", "b"],
        "address": {"city": "Utrecht"},
        "nothing": None,
    }
    with pytest.raises(TypeError):
        m.originator_metadata("bad", object())


def test_labels_and_metadata_reach_the_server(connect) -> None:
    client = connect()
    message = (
        Message("event attachment")
        .event("MY EVENT", label="From Python")
        .originator("Jane Doe")
        .originator_metadata("visits", 3)
    )
    trace = client.send(message)
    echoed = wait_for(client, lambda e: e.is_delivered and e.trace_id == trace)
    payload = echoed.data["payload"]
    assert payload["attachment"]["payload"] == {"name": "MY EVENT", "label": "From Python"}
    assert payload["originator"]["metadata"] == {"visits": 3}


def test_message_as_a_context_manager_frees_it() -> None:
    with Message("temporary").event("E") as m:
        assert "temporary" in m.to_json()
    assert m._handle is None
    m.close()  # idempotent


def test_event_copy_outlives_the_callback(connect) -> None:
    """flowai_event_copy: an event handed to a callback, kept after the callback returned."""
    lib = flowai_socket.load_library()
    client = connect()
    copies: queue.Queue[int] = queue.Queue()

    def keep(event_handle: int | None) -> None:
        copy = c_void_p()
        assert lib.flowai_event_copy(event_handle, byref(copy)) == flowai_socket.OK
        copies.put(copy.value or 0)

    # A raw C callback, as a C program would register it, to get at the borrowed handle.
    thunk = flowai_socket._native._EVENT_CALLBACK(lambda _user, event: keep(event))
    assert lib.flowai_client_set_callback(client._handle.ptr, thunk, None) == flowai_socket.OK
    try:
        client.send("copy me")
        names = []
        while "reply" not in names:
            handle = copies.get(timeout=10)
            try:
                event = Event(handle)
            finally:
                lib.flowai_event_free(handle)
            names.append(event.name)
            if event.is_reply:
                assert event.text == "You said: copy me"
    finally:
        assert (
            lib.flowai_client_set_callback(
                client._handle.ptr, flowai_socket._native._EVENT_CALLBACK(), None
            )
            == flowai_socket.OK
        )
    assert lib.flowai_event_copy(None, byref(c_void_p())) == flowai_socket.NULL_ARGUMENT
