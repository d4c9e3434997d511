//! Every server event kind the emulator can produce, each surfaced as its own `Event`:
//! message.delivered / message.received, activities.delivered / activities.created,
//! agent.typing, interruption.occurred, secret.generated, error, a frame that is not JSON, and
//! the connection events (connected, disconnected, reconnecting, not delivered, closed).

use crate::common;
use crate::until;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Event, Message};
use std::time::Duration;

fn named(name: &'static str) -> impl Fn(&Event) -> bool {
    move |e| e.name() == name
}

fn connect(emu: &Emulator, cfg: impl FnOnce(Config) -> Config) -> Client {
    let base = Config::new("events-test")
        .base_url(emu.base_url())
        .thread_id("jane");
    Client::connect(cfg(base)).unwrap()
}

#[test]
fn delivered_and_reply_in_both_namings() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = connect(&emu, |c| c);
        until(&c, "connected", named("connected"));
        let trace = c.send(Message::text("hi")).unwrap();
        let (delivered, _) = until(&c, "delivered", named("delivered"));
        assert_eq!(delivered.trace_id(), Some(trace));
        assert_eq!(delivered.thread_id(), Some("jane"));
        assert_eq!(delivered.to_json()["type"], "message.delivered");
        let (reply, _) = until(&c, "reply", named("reply"));
        let Event::Reply(r) = &reply else {
            unreachable!()
        };
        assert_eq!(r.text(), "You said: hi");
        assert_eq!(r.sender_name(), Some("Echo Bot"));
        assert_eq!(r.messages[0].responses[0].kind, "text");
        assert_eq!(reply.to_json()["type"], "message.received");

        let trace = c.send(Message::text("activities")).unwrap();
        let (acked, _) = until(&c, "activities.delivered", named("activities_delivered"));
        assert_eq!(acked.trace_id(), Some(trace));
        let (created, before) = until(&c, "activities.created", named("activities_created"));
        assert_eq!(created.to_json()["type"], "activities.created");
        assert!(!before.iter().any(|e| e.name() == "reply"), "{before:?}");
    });
}

#[test]
fn typing_interruption_and_secret() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = connect(&emu, |c| c);
        c.send(Message::text("typing")).unwrap();
        let (typing, _) = until(&c, "agent.typing", named("agent_typing"));
        assert_eq!(typing.thread_id(), Some("jane"));
        until(&c, "the reply after typing", named("reply"));

        c.send(Message::text("interrupt")).unwrap();
        let (interruption, _) = until(&c, "interruption", named("interruption"));
        assert_eq!(interruption.thread_id(), Some("jane"));
        assert_eq!(interruption.to_json()["type"], "interruption.occurred");

        c.send(Message::text("secret")).unwrap();
        let (secret, _) = until(&c, "secret.generated", named("secret_generated"));
        let Event::SecretGenerated { secret } = secret else {
            unreachable!()
        };
        assert_eq!(c.secret("jane"), Some(secret));
    });
}

#[test]
fn a_refused_frame_is_a_server_error_event() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default().require_nonce(true)).unwrap();
        let c = connect(&emu, |c| c);
        let mut m = Message::text("hi");
        m.nonce = Some("wrong".into());
        c.send(m).unwrap();
        let (error, _) = until(&c, "error", named("server_error"));
        assert_eq!(error.to_json()["type"], "error");
        assert!(
            c.is_connected(),
            "an error frame does not end the connection"
        );
    });
}

#[test]
fn a_frame_that_is_not_json_is_a_protocol_error_and_the_rest_goes_on() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = connect(&emu, |c| c);
        emu.faults().garbage_frames(2);
        c.send(Message::text("hi")).unwrap();
        let (bad, _) = until(&c, "protocol error", named("protocol_error"));
        let Event::ProtocolError { raw, .. } = &bad else {
            unreachable!()
        };
        assert!(raw.contains("garbage"), "{raw}");
        until(&c, "second protocol error", named("protocol_error"));
        until(&c, "reply", named("reply"));
    });
}

#[test]
fn disconnect_reconnect_and_connected_again() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = connect(&emu, |c| c);
        until(&c, "connected", named("connected"));
        emu.faults().drop_after_frames(1);
        c.send(Message::text("hi")).unwrap();
        until(&c, "disconnected", named("disconnected"));
        emu.faults().drop_after_frames(0);
        let (reconnecting, _) = until(&c, "reconnecting", named("reconnecting"));
        assert!(
            matches!(reconnecting, Event::Reconnecting { attempt: 1, .. }),
            "{reconnecting:?}"
        );
        until(&c, "connected again", named("connected"));
        until(&c, "the re-sent message's reply", named("reply"));
    });
}

#[test]
fn not_delivered_when_the_outbox_is_off() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = connect(&emu, |c| c.outbox(false));
        emu.faults().drop_after_frames(1);
        let trace = c.send(Message::text("lost")).unwrap();
        let (lost, _) = until(&c, "not delivered", named("not_delivered"));
        assert_eq!(lost.trace_id(), Some(trace));
        emu.faults().drop_after_frames(0);
        until(&c, "connected again", named("connected"));
    });
}

#[test]
fn closed_when_the_connection_is_lost_and_reconnect_is_off() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = connect(&emu, |c| c.reconnect(false));
        emu.faults().drop_after_frames(1);
        c.send(Message::text("bye")).unwrap();
        until(&c, "disconnected", named("disconnected"));
        let (closed, _) = until(&c, "closed", named("closed"));
        assert!(
            closed.text().unwrap().contains("reconnect is off"),
            "{closed:?}"
        );
        assert!(
            c.recv_timeout(Duration::from_secs(1)).is_err(),
            "nothing after closed"
        );
    });
}

#[test]
fn a_frame_of_an_unknown_type_is_handed_over_whole() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = connect(&emu, |c| c);
        until(&c, "connected", named("connected"));
        let frame = r#"{"type":"survey.requested","payload":{"threadId":"jane","questions":[1,2]},"extra":true}"#;
        assert_eq!(emu.faults().push_frame("jane", frame), 1);
        let (event, _) = until(&c, "unknown", named("unknown"));
        let Event::Unknown(raw) = event else {
            unreachable!()
        };
        assert_eq!(
            raw,
            serde_json::from_str::<serde_json::Value>(frame).unwrap()
        );
        assert_eq!(
            raw.pointer("/payload/threadId").and_then(|t| t.as_str()),
            Some("jane")
        );
    });
}
