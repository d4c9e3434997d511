//! The emulator is stopped and restarted on the same port in the middle of a stream: the
//! client reconnects with the same sessionId and finishes.

use crate::common;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Event, Message};
use std::time::Duration;

#[test]
fn client_finishes_the_stream_after_a_server_restart() {
    common::fail_after(Duration::from_secs(60), || {
        let emulator = common::emulator();
        let port = emulator.port();
        let client = Client::connect(common::config_for(&emulator).session_id("keep-me")).unwrap();
        let mut traces = Vec::new();
        for i in 0..500 {
            traces.push(client.send(Message::text(format!("before {i}"))).unwrap());
        }
        client
            .wait_delivered(traces[0], Duration::from_secs(5))
            .unwrap();
        emulator.stop();
        for i in 0..500 {
            traces.push(client.send(Message::text(format!("during {i}"))).unwrap());
        }
        std::thread::sleep(Duration::from_millis(300));
        let restarted =
            Emulator::start(EmulatorConfig::default().port(port)).expect("same port again");
        for t in &traces {
            client.wait_delivered(*t, Duration::from_secs(20)).unwrap();
        }
        let mut events = Vec::new();
        while let Some(e) = client.try_recv().unwrap() {
            events.push(e);
        }
        let names: Vec<&str> = events.iter().map(|e| e.name()).collect();
        assert!(names.contains(&"disconnected"), "{names:?}");
        assert!(names.contains(&"reconnecting"), "{names:?}");
        let sessions: Vec<&String> = events
            .iter()
            .filter_map(|e| match e {
                Event::Connected { session_id } => Some(session_id),
                _ => None,
            })
            .collect();
        assert!(sessions.len() >= 2, "connected again after the restart");
        assert!(
            sessions.iter().all(|s| *s == "keep-me"),
            "sessionId kept across reconnects"
        );
        let seen = restarted.last_socket_info().unwrap();
        assert_eq!(seen.session_id.as_deref(), Some("keep-me"));
        assert_eq!(seen.thread_id.as_deref(), Some("test.thread"));
    });
}
