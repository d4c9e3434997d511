//! The README's first command: `cargo run --example quickstart` with no FLOWAI_CLIENT_ID
//! starts the embedded emulator, sends the seed message, prints the ack and the reply, exits 0.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn quickstart_binary() -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/quickstart
    let exe = std::env::current_exe().expect("test path");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    profile_dir
        .join("examples")
        .join(format!("quickstart{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn quickstart_runs_against_the_embedded_emulator() {
    common::fail_after(Duration::from_secs(60), || {
        let bin = quickstart_binary();
        assert!(
            bin.exists(),
            "{} not built (cargo test builds examples)",
            bin.display()
        );
        let out = Command::new(&bin)
            .env_remove("FLOWAI_CLIENT_ID")
            .env_remove("FLOWAI_BASE_URL")
            .output()
            .expect("quickstart runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "exit {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("using the local emulator"), "{stdout}");
        assert!(stdout.contains("Delivered: traceId"), "{stdout}");
        assert!(stdout.contains("in thread jane.doe"), "{stdout}");
        assert!(
            stdout.contains("Reply from Echo Bot: Event MY EVENT received"),
            "{stdout}"
        );
        assert!(stdout.trim_end().ends_with("Closed."), "{stdout}");
    });
}

#[test]
fn quickstart_uses_flowai_client_id_and_base_url_when_set() {
    common::fail_after(Duration::from_secs(60), || {
        let emulator = common::emulator();
        let out = Command::new(quickstart_binary())
            .env("FLOWAI_CLIENT_ID", "from-env")
            .env("FLOWAI_BASE_URL", emulator.base_url())
            .output()
            .expect("quickstart runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(!stdout.contains("using the local emulator"), "{stdout}");
        assert!(stdout.contains("Event MY EVENT received"), "{stdout}");
        let seen = emulator
            .last_socket_info()
            .expect("socket.info reached the emulator");
        assert_eq!(seen.query_param("clientId"), Some("from-env"));
        assert_eq!(emulator.stats().messages, 1);
    });
}
