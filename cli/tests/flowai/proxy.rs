//! `--proxy` on the command line: every `flowai` command takes it, and `send` goes through it
//! (socket.info and the WebSocket).

use crate::common;
use common::proxy::ConnectProxy;
use std::time::Duration;

#[test]
fn every_flowai_command_takes_proxy() {
    common::fail_after(Duration::from_secs(240), || {
        let exe = env!("CARGO_BIN_EXE_flowai");
        let emulator = common::emulator();
        let proxy = ConnectProxy::start();
        let out = std::process::Command::new(exe)
            .args([
                "send",
                "--speech",
                "hi",
                "--timeout",
                "5",
                "--client-id",
                "cli",
            ])
            .args(["--base-url", &emulator.base_url(), "--proxy", &proxy.url()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("You said: hi"));
        assert_eq!(proxy.targets().len(), 2, "socket.info and the WebSocket");
        for command in ["send", "chat", "bench"] {
            let help = std::process::Command::new(exe)
                .args([command, "--help"])
                .output()
                .unwrap();
            let help = String::from_utf8_lossy(&help.stdout);
            assert!(help.contains("--proxy <URL>"), "{command}: {help}");
            assert!(help.contains("--no-proxy"), "{command}: {help}");
        }
    });
}
