//! The Python ctypes wrapper (`python/flowai_socket.py`) against the emulator, with the
//! freshly built shared library: its unittest suite (send, receive the reply, callback from
//! a Python function, close), the example script, and a program that exits with a client
//! and a callback still open (atexit closes it): each must exit cleanly within its deadline.
//! Without python3 the test fails on CI and is skipped with a note elsewhere.

mod ffi_support;

use ffi_support::*;
use flowai_socket::emulator::{Emulator, EmulatorConfig};
use std::process::Command;
use std::time::Duration;

fn python(lib: &std::path::Path, emulator: &Emulator) -> Command {
    let mut cmd = Command::new("python3");
    cmd.current_dir(repo().join("python"))
        .env("FLOWAI_LIB", lib.join("libflowai_socket.so"))
        .env("FLOWAI_BASE_URL", emulator.base_url())
        .env("FLOWAI_CLIENT_ID", "python-test")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    cmd
}

#[test]
fn python_wrapper_sends_receives_and_exits_cleanly() {
    watchdog(Duration::from_secs(400), "python_ctypes");
    if !require_tool("python3", "the Python ctypes tests") {
        return;
    }
    let dir = scratch("python");
    let lib = copy_libraries(&dir);
    let emulator = Emulator::start(EmulatorConfig::default()).expect("emulator");

    let mut suite = python(&lib, &emulator);
    suite.args(["test_flowai_socket.py", "-v"]);
    let out = run_with_deadline(suite, Duration::from_secs(120));
    expect_success("python3 test_flowai_socket.py", &out);
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(report.contains("\nOK"), "{report}");

    let mut example = python(&lib, &emulator);
    example.arg("flowai_example.py");
    let out = run_with_deadline(example, Duration::from_secs(60));
    let stdout = expect_success("python3 flowai_example.py", &out);
    assert!(stdout.contains("Delivered: traceId"), "{stdout}");
    assert!(
        stdout.contains("Reply in thread jane.doe: Event MY EVENT received"),
        "{stdout}"
    );
    assert!(stdout.contains("Closed."), "{stdout}");

    // Left open at exit, with a callback taking the GIL on the dispatcher thread: the atexit
    // hook closes it and the interpreter exits at once.
    let mut left_open = python(&lib, &emulator);
    left_open.args([
        "-c",
        "import flowai_socket as f, time\n\
         c = f.Client(thread_id='jane.doe')\n\
         seen = []\n\
         c.set_callback(seen.append)\n\
         for i in range(20): c.send('hi %d' % i)\n\
         time.sleep(0.5)\n\
         print('events', len(seen) > 0)\n",
    ]);
    let out = run_with_deadline(left_open, Duration::from_secs(30));
    let stdout = expect_success("python3 -c (client left open)", &out);
    assert!(stdout.contains("events True"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Traceback"), "{stderr}");
    emulator.stop();
}
