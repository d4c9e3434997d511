"""Tests of the ctypes wrapper against a running server (the emulator in tests/python_ctypes.rs).

    FLOWAI_BASE_URL=http://127.0.0.1:8080 FLOWAI_CLIENT_ID=test python3 python/test_flowai_socket.py

Plain unittest, no third-party packages. Every wait is bounded.
"""

import os
import queue
import shutil
import sys
import tempfile
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
    FlowaiTooLarge,
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
        self.assertEqual(lib.flowai_abi_version(), flowai_socket.ABI_VERSION)
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
            client.send_json("{not json")
        self.assertEqual(caught.exception.code, flowai_socket.INVALID_ARGUMENT)
        self.assertIn("JSON", caught.exception.message)
        self.assertFalse(caught.exception.retryable)
        with self.assertRaises(FlowaiError):
            client.send({"type": "ping"})
        with self.assertRaises(TypeError):
            client.send(b'{"speech": "bytes are neither speech nor JSON"}')
        self.assertEqual(client.pending, 0)

    def test_a_str_is_always_speech_and_json_only_explicit(self):
        client = self.connect()
        typed = ('{"speech": "x", "threadId": "victim", "nonce": "guess", '
                 '"originator": {"name": "admin", "role": "moderator"}}')
        trace = client.send(typed)
        client.wait_delivered(trace, timeout=10)
        echoed = wait_for(client, lambda e: e.is_delivered and e.trace_id == trace)
        payload = echoed.data["payload"]
        self.assertEqual(payload["speech"], typed)
        self.assertEqual(payload["threadId"], "jane.doe")
        self.assertEqual(payload["originator"]["role"], "external")
        self.assertNotIn("nonce", payload)
        trace = client.send_json('{"speech": "explicit", "traceId": 4343}')
        self.assertEqual(trace, 4343)
        trace = client.send_json(b'{"type": "message.send", "payload": {"speech": "as bytes"}}')
        client.flush(timeout=10)

    def test_trace_ids_above_2_pow_53_are_refused(self):
        client = self.connect()
        with self.assertRaises(FlowaiError) as caught:
            Message("x").trace(2**53)
        self.assertEqual(caught.exception.code, flowai_socket.INVALID_ARGUMENT)
        self.assertIn("2^53", caught.exception.message)
        with self.assertRaises(FlowaiError) as caught:
            client.send({"speech": "x", "traceId": 2**53})
        self.assertEqual(caught.exception.code, flowai_socket.INVALID_ARGUMENT)
        self.assertEqual(client.pending, 0)
        trace = client.send(Message("largest").trace(2**53 - 1))
        self.assertEqual(trace, 2**53 - 1)
        client.wait_delivered(trace, timeout=10)

    def test_events_beyond_the_queue_are_counted_by_an_overflow_event(self):
        client = self.connect(max_queued_events=2, max_queued_bytes=2 << 20)
        for i in range(5):
            client.wait_delivered(client.send(f"m{i}"), timeout=10)
        dropped = 0
        while True:
            event = client.recv(timeout=0.3)
            if event is None:
                break
            if event.kind == flowai_socket.EVENT_OVERFLOW:
                self.assertEqual(event.name, "overflow")
                self.assertEqual(event.data["dropped"], event.dropped)
                dropped += event.dropped
            else:
                self.assertEqual(event.dropped, 0)
        self.assertGreater(dropped, 0)
        with self.assertRaises(FlowaiError) as caught:
            Client(thread_id="jane.doe", max_queued_bytes=1000)
        self.assertEqual(caught.exception.code, flowai_socket.CONFIG)

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

    def test_close_from_inside_the_callback(self):
        client = Client(thread_id="jane.doe")
        done = queue.Queue()

        def on_event(event):
            started = time.monotonic()
            client.close()
            done.put(time.monotonic() - started)

        client.set_callback(on_event)
        self.assertLess(done.get(timeout=10), 1)
        self.assertTrue(client.closed)
        with self.assertRaises(FlowaiClosed):
            client.send("after close")

    def test_close_with_a_callback_registered(self):
        client = Client(thread_id="jane.doe")
        client.set_callback(lambda event: None)
        client.send("hi")
        started = time.monotonic()
        client.close()
        self.assertLess(time.monotonic() - started, 5)

    def test_reliability_options_reach_the_library(self):
        client = self.connect(
            outbox=False,
            max_outbox=10,
            max_queued_events=50,
            max_message_size=64 * 1024,
            backoff=(10, 200, 3),
            reconnect=True,
        )
        trace = client.send("with the outbox off")
        client.wait_delivered(trace, timeout=5)
        for bad in ({"max_outbox": 0}, {"max_queued_events": 0}, {"backoff": (0, 10, 0)},
                    {"backoff": (500, 100, 0)}, {"max_message_size": 10}):
            with self.assertRaises(FlowaiError, msg=str(bad)) as caught:
                Client(thread_id="jane.doe", **bad)
            self.assertEqual(caught.exception.code, flowai_socket.CONFIG, str(bad))

    def test_pong_events_when_asked_for(self):
        client = self.connect(keepalive_ms=50, pong_events=True)
        event = wait_for(client, lambda e: e.kind == flowai_socket.EVENT_PONG, timeout=5)
        self.assertEqual(event.name, "pong")

    def test_bad_connect_raises(self):
        with self.assertRaises(FlowaiError) as caught:
            Client(base_url="http://127.0.0.1:1", connect_timeout_ms=2000)
        self.assertIn(caught.exception.code, (flowai_socket.NETWORK, flowai_socket.TIMEOUT))
        self.assertTrue(caught.exception.retryable)
        with self.assertRaises(FlowaiError) as caught:
            Client(base_url="ftp://nowhere")
        self.assertEqual(caught.exception.code, flowai_socket.CONFIG)
        self.assertTrue(caught.exception.final)
        self.assertFalse(caught.exception.retryable)

    def test_error_classes_proxy_and_insecure_options(self):
        # http:// to another machine is refused unless allowed (a documentation address).
        with self.assertRaises(FlowaiError) as caught:
            Client(base_url="http://192.0.2.1:9", connect_timeout_ms=300)
        self.assertEqual(caught.exception.code, flowai_socket.CONFIG)
        self.assertIn("allow_insecure", caught.exception.message)
        self.assertTrue(caught.exception.final)
        with self.assertRaises(FlowaiError) as caught:
            Client(base_url="http://192.0.2.1:9", allow_insecure=True, connect_timeout_ms=300)
        self.assertIn(caught.exception.code, (flowai_socket.NETWORK, flowai_socket.TIMEOUT))
        self.assertFalse(caught.exception.final)
        # A proxy that refuses connections: retryable, and it was really used.
        with self.assertRaises(FlowaiError) as caught:
            Client(thread_id="jane.doe", proxy="http://127.0.0.1:1", connect_timeout_ms=500)
        self.assertEqual(caught.exception.code, flowai_socket.NETWORK)
        self.assertIn("127.0.0.1:1", caught.exception.message)
        self.assertTrue(caught.exception.retryable)
        with self.assertRaises(FlowaiError) as caught:
            Client(thread_id="jane.doe", proxy="socks5://127.0.0.1:1080")
        self.assertEqual(caught.exception.code, flowai_socket.CONFIG)
        # proxy=False: direct, whatever the environment says.
        client = self.connect(proxy=False)
        self.assertTrue(client.is_connected)


# A program hammering two clients with calls while SIGINT arrives again and again: each
# KeyboardInterrupt is caught and the calls go on. Then one client is closed explicitly and
# the other left to the exit hook; both must finish at once.
SIGINT_CHILD = r"""
import os, signal, sys
sys.path.insert(0, os.environ["FLOWAI_PYTHON_DIR"])
import flowai_socket as f
explicit = f.Client(thread_id="sigint.a")
at_exit = f.Client(thread_id="sigint.b")
interrupts = calls = 0
stop = inside = False
def on_usr1(signum, frame):
    global stop
    stop = True
def on_int(signum, frame):
    # KeyboardInterrupt wherever the main thread is inside the loop of calls; outside it
    # (the few steps of this script between two rounds) the signal is let go.
    if inside:
        raise KeyboardInterrupt
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGINT, on_int)
print("ready", flush=True)
while not stop:
    try:
        inside = True
        while not stop:
            for c in (explicit, at_exit):
                c.pending
                c.is_connected
                calls += 1
                if calls % 64 == 0:
                    c.send("hi")
                if calls % 512 == 0:
                    c.recv(timeout=0)
    except KeyboardInterrupt:
        inside = False
        interrupts += 1
    inside = False
signal.signal(signal.SIGINT, signal.SIG_IGN)
print("closing", interrupts, calls, flush=True)
explicit.close()
print("closed", flush=True)
"""


class InterruptTest(unittest.TestCase):
    def test_sigint_in_a_loop_never_leaves_close_or_exit_waiting(self):
        import signal
        import subprocess

        env = dict(os.environ)
        env["FLOWAI_PYTHON_DIR"] = os.path.dirname(os.path.abspath(__file__))
        child = subprocess.Popen(
            [sys.executable, "-c", SIGINT_CHILD],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            self.assertEqual(child.stdout.readline().strip(), "ready")
            sent = 0
            end = time.monotonic() + 3
            while time.monotonic() < end and child.poll() is None:
                child.send_signal(signal.SIGINT)
                sent += 1
                time.sleep(0.002)
            time.sleep(0.1)
            child.send_signal(signal.SIGUSR1)
            out, err = child.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            self.fail(f"close() or the exit hook hung after SIGINTs:\n{out}\n{err}")
        self.assertEqual(child.returncode, 0, f"{out}\n{err}")
        words = out.split()
        self.assertIn("closed", words, out)
        interrupts = int(words[words.index("closing") + 1])
        self.assertGreater(interrupts, 100, f"{sent} signals sent: {out}")


class SdkParityTest(unittest.TestCase):
    """The SDK features beyond send/receive: nonce, REST calls, config options."""

    def connect(self, **kwargs):
        kwargs.setdefault("thread_id", "jane.doe")
        client = Client(**kwargs)
        self.addCleanup(client.close)
        return client

    def tempdir(self):
        path = tempfile.mkdtemp(prefix="flowai-py-")
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def temp_file(self, name, size):
        path = os.path.join(self.tempdir(), name)
        with open(path, "wb") as f:
            chunk = b"x" * 65536
            left = size
            while left > 0:
                f.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
        return path

    def converse(self, client, text):
        client.send(text)
        want = f"You said: {text}"
        return wait_for(client, lambda e: e.is_reply and e.text == want)

    def test_secret_from_the_config_and_none_for_unknown_threads(self):
        client = self.connect(secret="py-secret")
        self.assertEqual(client.secret(), "py-secret")
        self.assertEqual(client.secret("jane.doe"), "py-secret")
        self.assertIsNone(client.secret("nobody"))
        self.assertIsNone(self.connect(thread_id="no.secret").secret())

    def test_history_after_a_conversation(self):
        client = self.connect(thread_id="py.history")
        self.assertEqual(client.history()["history"], [])
        self.converse(client, "hello history")
        history = client.history()
        self.assertEqual(history["threadId"], "py.history")
        kinds = [entry["type"] for entry in history["history"]]
        self.assertEqual(kinds, ["message.send", "message.received"])
        self.assertEqual(history["history"][0]["payload"]["speech"], "hello history")
        self.assertEqual(client.history("nobody")["history"], [])
        self.assertEqual(client.history("py.history"), history)

    def test_unnoticed_until_noticed(self):
        client = self.connect(thread_id="py.unnoticed")
        self.assertFalse(client.unnoticed())
        self.converse(client, "anyone there")
        self.assertTrue(client.unnoticed())
        self.assertTrue(client.unnoticed("py.unnoticed"))
        self.assertTrue(client.noticed(instantly=True))
        self.assertFalse(client.noticed())  # throttled
        deadline = time.monotonic() + 10
        while client.unnoticed() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(client.unnoticed())

    def test_merge(self):
        client = self.connect()
        self.assertIsNone(client.merge("merger-key"))
        client.merge("merger-key", thread_id="other-thread", session_id="other-session")
        with self.assertRaises(FlowaiError) as caught:
            client.merge("")
        self.assertEqual(caught.exception.code, flowai_socket.INVALID_ARGUMENT)

    def test_upload_small_files(self):
        client = self.connect(thread_id="py.upload")
        path = self.temp_file("note.txt", 1234)
        result = client.upload(path, Message("my note"))
        self.assertEqual(result, {"fileName": "note.txt", "size": 1234})
        self.assertEqual(client.upload(path, "as text")["size"], 1234)
        self.assertEqual(client.upload(path)["fileName"], "note.txt")
        for _ in range(3):
            reply = wait_for(client, lambda e: e.is_reply)
            self.assertEqual(reply.text, "Received file note.txt (1234 bytes)")
        uploads = [e["payload"] for e in client.history()["history"] if e["type"] == "file.upload"]
        speeches = [u["payload"]["speech"] for u in uploads]
        self.assertEqual(speeches, ["my note", "as text", "file attachment"])
        with self.assertRaises(TypeError):
            client.upload(path, {"speech": "dicts are not messages"})
        with self.assertRaises(FlowaiError) as caught:
            client.upload(os.path.join(self.tempdir(), "missing.txt"))
        self.assertEqual(caught.exception.code, flowai_socket.IO)

    def test_upload_over_the_limit_raises_too_large(self):
        client = self.connect(thread_id="py.too.large")
        path = self.temp_file("big.bin", 1536 * 1024)  # the emulator's default limit: 1 MiB
        with self.assertRaises(FlowaiTooLarge) as caught:
            client.upload(path, "too big")
        self.assertEqual(caught.exception.code, flowai_socket.TOO_LARGE)
        self.assertFalse(caught.exception.retryable)
        self.assertIn("HTTP 413", caught.exception.message)
        self.assertTrue(issubclass(FlowaiTooLarge, FlowaiError))
        # The client is fine afterwards.
        self.converse(client, "still here")

    def test_originator_name_ott_and_origin(self):
        client = self.connect(
            thread_id="py.originator",
            originator_name="Py Tester",
            originator_role=flowai_socket.ROLE_MODERATOR,
            ott="one-time-token",
            origin="https://example.com",
        )
        self.converse(client, "who am I")
        sent = client.history()["history"][0]["payload"]
        self.assertEqual(sent["originator"]["name"], "Py Tester")
        self.assertEqual(sent["originator"]["role"], "moderator")
        client.user_typing()

    def test_state_file_and_session_policy(self):
        path = os.path.join(self.tempdir(), "state.json")
        with Client(state_file=path) as first:
            thread, session = first.thread_id, first.session_id
        self.assertTrue(os.path.exists(path))
        with Client(state_file=path, session_policy="keep") as again:
            self.assertEqual((again.thread_id, again.session_id), (thread, session))
        with Client(state_file=path, session_policy=flowai_socket.SESSION_POLICY_RENEW) as renewed:
            self.assertEqual(renewed.thread_id, thread)
            self.assertNotEqual(renewed.session_id, session)
        with self.assertRaises(ValueError):
            Client(state_file=path, session_policy="sometimes")
        with self.assertRaises(FlowaiError) as caught:
            Client(state_file=path, session_policy=7)
        self.assertEqual(caught.exception.code, flowai_socket.INVALID_ARGUMENT)

    def test_rest_calls_after_close_raise_closed(self):
        client = Client(thread_id="jane.doe")
        client.close()
        for call in (
            client.secret,
            client.history,
            client.unnoticed,
            lambda: client.merge("k"),
            lambda: client.upload("/tmp/x"),
        ):
            with self.assertRaises(FlowaiClosed):
                call()


if __name__ == "__main__":
    unittest.main()
