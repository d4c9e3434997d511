//! `thread.noticed` (throttled like the SDK: one per thread per 5 s unless `instantly`) and
//! `activity.user.typing`, as the emulator sees them.

use crate::common;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Event, Originator};
use std::time::Duration;

fn client(emu: &Emulator) -> Client {
    Client::connect(
        Config::new("noticed-test")
            .base_url(emu.base_url())
            .thread_id("jane"),
    )
    .unwrap()
}

#[test]
fn noticed_is_throttled_per_thread_unless_instantly() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = client(&emu);
        assert!(c.noticed("", false).unwrap(), "the first notice goes out");
        assert!(
            !c.noticed("", false).unwrap(),
            "a second one within 5 s is dropped"
        );
        assert!(
            !c.noticed("jane", false).unwrap(),
            "empty threadId means the configured one"
        );
        assert!(c.noticed("", true).unwrap(), "instantly always goes out");
        assert!(
            c.noticed("another-thread", false).unwrap(),
            "throttled per thread"
        );
        assert!(
            emu.wait_for(|s| s.noticed == 3, Duration::from_secs(5)),
            "{:?}",
            emu.stats()
        );
        // Nothing else arrives late.
        assert!(!emu.wait_for(|s| s.noticed > 3, Duration::from_millis(200)));
        // The server refused none of them.
        while let Some(event) = c.try_recv().unwrap() {
            assert!(!matches!(event, Event::ServerError { .. }), "{event:?}");
        }
    });
}

#[test]
fn user_typing_reaches_the_server() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = client(&emu);
        c.user_typing(None).unwrap();
        c.user_typing(Some(Originator::new("Jane Doe"))).unwrap();
        assert!(
            emu.wait_for(|s| s.typing == 2, Duration::from_secs(5)),
            "{:?}",
            emu.stats()
        );
        while let Some(event) = c.try_recv().unwrap() {
            assert!(!matches!(event, Event::ServerError { .. }), "{event:?}");
        }
    });
}

#[test]
fn noticed_and_typing_after_close_fail() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = client(&emu);
        c.close().unwrap();
        assert!(c.noticed("", true).is_err());
        assert!(c.user_typing(None).is_err());
    });
}
