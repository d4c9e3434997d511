//! Keepalive: pings at the configured interval are seen by the emulator and keep an idle
//! connection open; with keepalive off the emulator closes an idle connection.

use crate::common;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Event};
use std::time::Duration;

#[test]
fn pings_at_a_short_interval_reach_the_emulator_and_keep_the_connection() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator =
            Emulator::start(EmulatorConfig::default().idle_timeout(Duration::from_millis(600)))
                .unwrap();
        let cfg =
            common::config_for(&emulator).keepalive_interval(Some(Duration::from_millis(100)));
        let client = Client::connect(cfg).unwrap();
        assert!(
            emulator.wait_for(|s| s.pings >= 10, Duration::from_secs(10)),
            "{:?}",
            emulator.stats()
        );
        // ~1.5 s idle except for pings, more than twice the emulator's idle timeout.
        assert_eq!(emulator.stats().idle_closes, 0);
        assert!(client.is_connected());
        let events: Vec<Event> = std::iter::from_fn(|| client.try_recv().unwrap()).collect();
        assert!(
            events.iter().all(|e| matches!(e, Event::Connected { .. })),
            "{events:?}"
        );
    });
}

#[test]
fn without_keepalive_the_emulator_closes_an_idle_connection() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator =
            Emulator::start(EmulatorConfig::default().idle_timeout(Duration::from_millis(300)))
                .unwrap();
        let cfg = common::config_for(&emulator)
            .keepalive_interval(None)
            .reconnect(false);
        let client = Client::connect(cfg).unwrap();
        let (event, _) = common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Disconnected { .. })
        });
        assert!(matches!(event, Event::Disconnected { .. }));
        assert_eq!(emulator.stats().idle_closes, 1);
        assert_eq!(emulator.stats().pings, 0);
    });
}

#[test]
fn pongs_are_handed_over_only_when_asked_for() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let cfg = common::config_for(&emulator)
            .keepalive_interval(Some(Duration::from_millis(50)))
            .pong_events(true);
        let client = Client::connect(cfg).unwrap();
        for _ in 0..3 {
            common::wait_event(&client, Duration::from_secs(5), |e| {
                matches!(e, Event::Pong)
            });
        }
        assert_eq!(Event::Pong.to_json(), serde_json::json!({"type": "pong"}));
    });
}
