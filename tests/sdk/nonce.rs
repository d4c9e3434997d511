//! The nonce (docs/protocol.md §5) against the emulator, in both modes: the secret from
//! `socket.info` is sent as `payload.nonce` and `x-flowai-secret`, a missing or wrong nonce is
//! refused with an `error` frame, `secret.generated` is adopted for the next send, and each
//! threadId has its own secret.

use crate::common;
use crate::until;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Event, Message};
use std::time::Duration;

fn is_reply(e: &Event) -> bool {
    matches!(e, Event::Reply(_))
}

fn is_error(e: &Event) -> bool {
    matches!(e, Event::ServerError { .. })
}

fn nonce_emulator() -> Emulator {
    Emulator::start(EmulatorConfig::default().require_nonce(true)).unwrap()
}

fn client(emu: &Emulator, thread: &str) -> Client {
    Client::connect(
        Config::new("nonce-test")
            .base_url(emu.base_url())
            .thread_id(thread),
    )
    .unwrap()
}

fn reply_text(e: &Event) -> String {
    e.text().unwrap_or_default()
}

#[test]
fn without_nonce_mode_no_secret_is_sent_and_messages_pass() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = client(&emu, "plain");
        assert_eq!(c.secret("plain"), None);
        assert_eq!(emu.last_socket_info().unwrap().secret, None);
        c.send(Message::text("hi")).unwrap();
        let (reply, before) = until(&c, "reply", is_reply);
        assert_eq!(reply_text(&reply), "You said: hi");
        assert!(!before.iter().any(is_error), "{before:?}");
        let sent = &emu.history("plain")[0];
        assert!(sent["payload"].get("nonce").is_none(), "{sent}");
    });
}

#[test]
fn the_secret_from_socket_info_is_sent_as_the_nonce() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = nonce_emulator();
        let c = client(&emu, "jane");
        let secret = c.secret("jane").expect("socket.info gave no secret");
        assert_eq!(Some(secret.clone()), emu.thread_secret("jane"));
        c.send(Message::text("hi")).unwrap();
        let (reply, before) = until(&c, "reply", is_reply);
        assert_eq!(reply_text(&reply), "You said: hi");
        assert!(!before.iter().any(is_error), "{before:?}");
        assert_eq!(emu.history("jane")[0]["payload"]["nonce"], secret.as_str());
    });
}

#[test]
fn a_wrong_or_missing_nonce_is_refused_and_the_connection_stays() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = nonce_emulator();
        let c = client(&emu, "jane");
        let mut wrong = Message::text("hi");
        wrong.nonce = Some("not-the-secret".into());
        c.send(wrong).unwrap();
        let (error, _) = until(&c, "error for a wrong nonce", is_error);
        assert!(
            reply_text(&error).to_lowercase().contains("nonce"),
            "{error:?}"
        );
        // No secret is known for another thread: the message goes without a nonce.
        assert_eq!(c.secret("someone-else"), None);
        c.send(Message::text("hi").thread("someone-else")).unwrap();
        until(&c, "error for a missing nonce", is_error);
        // The connection is still usable with the right nonce.
        c.send(Message::text("still here")).unwrap();
        let (reply, before) = until(&c, "reply", is_reply);
        assert_eq!(reply_text(&reply), "You said: still here");
        assert!(!before.iter().any(is_error), "{before:?}");
        assert_eq!(emu.stats().messages, 1);
    });
}

#[test]
fn secret_generated_is_adopted_for_the_next_send() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = nonce_emulator();
        let c = client(&emu, "jane");
        let first = c.secret("jane").unwrap();
        c.send(Message::text("secret")).unwrap();
        let (event, _) = until(&c, "secret.generated", |e| {
            matches!(e, Event::SecretGenerated { .. })
        });
        let Event::SecretGenerated { secret } = event else {
            unreachable!()
        };
        assert_ne!(secret, first);
        assert_eq!(c.secret("jane"), Some(secret.clone()));
        assert_eq!(emu.thread_secret("jane"), Some(secret.clone()));
        c.send(Message::text("after")).unwrap();
        let (reply, before) = until(&c, "reply after the new secret", |e| {
            is_reply(e) && reply_text(e) == "You said: after"
        });
        assert!(!before.iter().any(is_error), "{before:?} then {reply:?}");
        let history = emu.history("jane");
        assert_eq!(history.last().unwrap()["type"], "message.received");
        assert_eq!(
            history[history.len() - 2]["payload"]["nonce"],
            secret.as_str()
        );
        // A secret pushed by the server on its own is adopted the same way.
        assert_eq!(emu.faults().push_secret("jane", "pushed-secret"), 1);
        until(
            &c,
            "pushed secret",
            |e| matches!(e, Event::SecretGenerated { secret } if secret == "pushed-secret"),
        );
        assert_eq!(c.secret("jane").as_deref(), Some("pushed-secret"));
        c.send(Message::text("pushed")).unwrap();
        let (_, before) = until(&c, "reply after the pushed secret", |e| {
            reply_text(e) == "You said: pushed"
        });
        assert!(!before.iter().any(is_error), "{before:?}");
    });
}

#[test]
fn each_thread_gets_its_own_secret() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = nonce_emulator();
        let a = client(&emu, "thread-a");
        let b = client(&emu, "thread-b");
        let (sa, sb) = (a.secret("thread-a").unwrap(), b.secret("thread-b").unwrap());
        assert_ne!(sa, sb);
        assert_eq!(a.secret("thread-b"), None);
        for (c, text) in [(&a, "from a"), (&b, "from b")] {
            c.send(Message::text(text)).unwrap();
            let (_, before) = until(c, "reply", is_reply);
            assert!(!before.iter().any(is_error), "{before:?}");
        }
        assert_eq!(emu.history("thread-b")[0]["payload"]["nonce"], sb.as_str());
    });
}

#[test]
fn socket_info_carries_the_known_secret_on_reconnect() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = nonce_emulator();
        let c = client(&emu, "jane");
        let secret = c.secret("jane").unwrap();
        let first = emu.last_socket_info().unwrap();
        assert_eq!(
            first.secret, None,
            "no secret is known before the first socket.info"
        );
        until(&c, "connected", |e| matches!(e, Event::Connected { .. }));
        emu.faults().drop_after_frames(1);
        c.send(Message::text("dropped")).unwrap();
        until(&c, "disconnect", |e| {
            matches!(e, Event::Disconnected { .. })
        });
        emu.faults().drop_after_frames(0);
        until(&c, "reconnect", |e| matches!(e, Event::Connected { .. }));
        let again = emu.last_socket_info().unwrap();
        assert_eq!(again.secret.as_deref(), Some(secret.as_str()));
        assert_eq!(again.header("x-flowai-secret"), Some(secret.as_str()));
        // The message waited in the outbox and goes through with the same nonce.
        let (reply, before) = until(&c, "reply", is_reply);
        assert_eq!(reply_text(&reply), "You said: dropped");
        assert!(!before.iter().any(is_error), "{before:?}");
    });
}
