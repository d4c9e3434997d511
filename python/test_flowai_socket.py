"""Tests of the ctypes wrapper against a running server (the emulator in tests/python_ctypes.rs).

    FLOWAI_BASE_URL=http://127.0.0.1:8080 FLOWAI_CLIENT_ID=test python3 python/test_flowai_socket.py

Plain unittest, no third-party packages. Every wait is bounded.
"""

import os
import queue
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flowai_socket  # noqa: E402
from flowai_socket import (  # noqa: E402
    Client,
    FlowaiClosed,
    FlowaiError,
    FlowaiTimeout,
    Message,
)

SEED = Message("event attachment").thread("jane.doe").event("MY EVENT")


def wait_for(client, predicate, timeout=10):
    """Receives until an event matches; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        event = client.recv(timeout=max(0.0, deadline - time.monotonic()))
        if event is not None and predicate(event):
            return event
        seen.append(event)
    raise AssertionError(f"no matching event within {timeout} s; saw {seen}")


class WrapperTest(unittest.TestCase):
    def connect(self, **kwargs):
        client = Client(thread_id="jane.doe", **kwargs)
        self.addCleanup(client.close)
        return client

    def test_library_and_version(self):
        lib = flowai_socket.load_library()
        self.assertEqual(lib.flowai_abi_version(), 1)
        self.assertRegex(flowai_socket.version(), r"^\d+\.\d+\.\d+")

    def test_send_receive_reply_and_close(self):
        with Client(thread_id="jane.doe") as client:
            self.assertTrue(client.is_connected)
            self.assertEqual(client.thread_id, "jane.doe")
            connected = wait_for(client, lambda e: e.kind == flowai_socket.EVENT_CONNECTED)
            self.assertEqual(connected.data["type"], "connected")
            trace = client.send(SEED)
            client.wait_delivered(trace, timeout=10)
            delivered = wait_for(client, lambda e: e.is_delivered)
            self.assertEqual(delivered.trace_id, trace)
            self.assertEqual(delivered.thread_id, "jane.doe")
            reply = wait_for(client, lambda e: e.is_reply)
            self.assertEqual(reply.text, "Event MY EVENT received")
            self.assertEqual(reply.data["type"], "message.received")
        self.assertTrue(client.closed)
        self.assertFalse(client.is_connected)
        with self.assertRaises(FlowaiClosed):
            client.send("after close")
        client.close()  # idempotent

    def test_send_json_dict_and_text(self):
        client = self.connect()
        trace = client.send({"speech": "hello", "traceId": 4242})
        self.assertEqual(trace, 4242)
        client.send("plain text")
        client.flush(timeout=10)
        self.assertEqual(client.pending, 0)
        texts = set()
        while len(texts) < 2:
            texts.add(wait_for(client, lambda e: e.is_reply).text)
        self.assertEqual(texts, {"You said: hello", "You said: plain text"})

    def test_message_builder_to_json_frees_the_owned_string(self):
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
        self.assertIn('"name":"MY EVENT"', text)
        self.assertIn('"timezone":-5', text)
        self.assertIn('"clientNumber":"12345"', text)
        with self.assertRaises(TypeError):
            m.profile(shoe_size="42")

    def test_invalid_messages_raise_and_send_nothing(self):
        client = self.connect()
        with self.assertRaises(FlowaiError) as caught:
            client.send("{not json")
        self.assertEqual(caught.exception.code, flowai_socket.INVALID_ARGUMENT)
        self.assertIn("JSON", caught.exception.message)
        self.assertFalse(caught.exception.retryable)
        with self.assertRaises(FlowaiError):
            client.send({"type": "ping"})

    def test_recv_times_out_with_none(self):
        client = self.connect()
        wait_for(client, lambda e: e.kind == flowai_socket.EVENT_CONNECTED)
        started = time.monotonic()
        self.assertIsNone(client.recv(timeout=0.3))
        self.assertLess(time.monotonic() - started, 2)
        self.assertTrue(issubclass(FlowaiTimeout, FlowaiError))
        # A traceId that is not waiting returns at once.
        client.wait_delivered(1, timeout=0.1)

    def test_callback_from_a_python_function(self):
        client = self.connect()
        events = queue.Queue()
        threads = set()

        def on_event(event):
            threads.add(threading.current_thread().ident)
            events.put(event)

        client.set_callback(on_event)
        with self.assertRaises(FlowaiError) as caught:
            client.recv(timeout=0)
        self.assertEqual(caught.exception.code, flowai_socket.INVALID_STATE)
        client.send(SEED)
        deadline = time.monotonic() + 10
        reply = None
        while reply is None and time.monotonic() < deadline:
            event = events.get(timeout=max(0.01, deadline - time.monotonic()))
            if event.is_reply:
                reply = event
        self.assertIsNotNone(reply)
        self.assertEqual(reply.text, "Event MY EVENT received")
        self.assertNotIn(threading.main_thread().ident, threads)

        client.set_callback(None)
        count = events.qsize()
        client.send("after unregister")
        client.flush(timeout=10)
        time.sleep(0.3)
        self.assertEqual(events.qsize(), count, "callback called after unregistering")
        # With the callback gone, recv works again.
        self.assertIsNotNone(wait_for(client, lambda e: e.is_reply))

    def test_callback_exception_is_reported_not_fatal(self):
        client = self.connect()
        calls = []
        errors = []
        old_hook = sys.excepthook
        sys.excepthook = lambda *info: errors.append(info[1])
        self.addCleanup(setattr, sys, "excepthook", old_hook)

        def boom(event):
            calls.append(event)
            raise RuntimeError("boom")

        client.set_callback(boom)
        client.send("hi")
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        client.set_callback(None)
        self.assertGreaterEqual(len(calls), 2)
        self.assertTrue(all(isinstance(e, RuntimeError) for e in errors))

    def test_close_from_another_thread_wakes_a_blocked_recv(self):
        client = Client(thread_id="jane.doe")
        wait_for(client, lambda e: e.kind == flowai_socket.EVENT_CONNECTED)
        outcome = []

        def receiver():
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
        self.assertFalse(t.is_alive())
        self.assertEqual(outcome, ["ended"])

    def test_close_with_a_callback_registered(self):
        client = Client(thread_id="jane.doe")
        client.set_callback(lambda event: None)
        client.send("hi")
        started = time.monotonic()
        client.close()
        self.assertLess(time.monotonic() - started, 5)

    def test_bad_connect_raises(self):
        with self.assertRaises(FlowaiError) as caught:
            Client(base_url="http://127.0.0.1:1", connect_timeout_ms=2000)
        self.assertIn(caught.exception.code, (flowai_socket.NETWORK, flowai_socket.TIMEOUT))
        self.assertTrue(caught.exception.retryable)
        with self.assertRaises(FlowaiError) as caught:
            Client(base_url="ftp://nowhere")
        self.assertEqual(caught.exception.code, flowai_socket.CONFIG)


if __name__ == "__main__":
    unittest.main()
