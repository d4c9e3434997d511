"""Programs that exit with things still running: Ctrl-C storms, clients left open with a
callback, log records still flowing. Each child must exit cleanly within its deadline."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

# A program hammering two clients with calls while SIGINT arrives again and again: each
# KeyboardInterrupt is caught and the calls go on. Then one client is closed explicitly and
# the other left to the exit hook; both must finish at once.
SIGINT_CHILD = r"""
import signal
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


def run_child(
    code: str, env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the child did not exit within {timeout} s:\n{e.stdout}\n{e.stderr}")


def test_sigint_in_a_loop_never_leaves_close_or_exit_waiting(child_env: dict[str, str]) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", SIGINT_CHILD],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
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
        pytest.fail(f"close() or the exit hook hung after SIGINTs:\n{out}\n{err}")
    assert child.returncode == 0, f"{out}\n{err}"
    words = out.split()
    assert "closed" in words, out
    interrupts = int(words[words.index("closing") + 1])
    assert interrupts > 100, f"{sent} signals sent: {out}"


def test_a_client_left_open_with_a_callback_is_closed_at_exit(child_env: dict[str, str]) -> None:
    # The dispatcher thread takes the GIL for each event; the atexit hook closes the client
    # and the interpreter exits at once.
    out = run_child(
        "import flowai_socket as f, time\n"
        "c = f.Client(thread_id='jane.doe')\n"
        "seen = []\n"
        "c.set_callback(seen.append)\n"
        "for i in range(20): c.send('hi %d' % i)\n"
        "time.sleep(0.5)\n"
        "print('events', len(seen) > 0)\n",
        child_env,
    )
    assert out.returncode == 0, out.stderr
    assert "events True" in out.stdout
    assert "Traceback" not in out.stderr


# Log records keep coming from the client's I/O thread (reconnect attempts through a cut
# proxy, every 10-40 ms, each handled slowly) while the program ends without closing: the
# exit hook closes the client, then unregisters the log callback. A hook registered before
# flowai_socket was imported runs after both: a failed connect there logs nothing any more.
LOGGING_AT_EXIT = r"""
import atexit, logging, sys, time

def late():
    import flowai_socket as f
    try:
        f.Client(base_url="http://127.0.0.1:1", connect_timeout_ms=300, backoff=(10, 20, 0))
    except f.FlowaiError:
        print("late connect failed", flush=True)

atexit.register(late)

import flowai_socket as f
from connect_proxy import CutProxy

class Slow(logging.Handler):
    def emit(self, record):
        time.sleep(0.005)
        print("record:", record.getMessage(), flush=True)

logging.getLogger("flowai_socket").addHandler(Slow())
logging.getLogger("flowai_socket").setLevel(logging.INFO)
proxy = CutProxy()
c = f.Client(thread_id="exit.logging", proxy=proxy.url, backoff=(10, 40, 0))
proxy.cut()
deadline = time.monotonic() + 10
while time.monotonic() < deadline and c.is_connected:
    time.sleep(0.01)
time.sleep(0.3)
print("exiting", flush=True)
"""


def test_log_records_flowing_at_exit_neither_hang_nor_outlive_the_hook(
    child_env: dict[str, str],
) -> None:
    out = run_child(LOGGING_AT_EXIT, child_env)
    assert out.returncode == 0, out.stderr
    assert "Fatal Python error" not in out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    before, _, after = out.stdout.partition("exiting")
    assert "record: flowai: connection lost" in before, out.stdout
    assert "reconnect attempt" in before, out.stdout
    # The late hook's failed connect would log "connect attempt 1 failed" had the callback
    # still been registered.
    assert "late connect failed" in after, out.stdout
    assert "record: flowai: connect attempt" not in after, out.stdout
