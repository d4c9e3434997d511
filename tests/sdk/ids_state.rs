//! SDK-style ids and the state file against the emulator: the default threadId and sessionId
//! look like the official SDK's, the sessionId survives reconnects, a restart with the same
//! state file continues the same thread, session and secret, explicit ids win over the file,
//! and a bad state file is a clear `Error::Config` that leaves the file alone.

use crate::common;
use crate::until;

use base64::Engine;
use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::state_file::SavedState;
use flowai_socket::{Client, Config, Error, Event, Message, SessionPolicy};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// A fresh empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "flowai-ids-state-{}",
            flowai_socket::ids::random_hex()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const CLIENT_ID: &str = "state-test";

fn config(emu: &Emulator, state: &Path) -> Config {
    Config::new(CLIENT_ID)
        .base_url(emu.base_url())
        .state_file(state)
}

fn converse(c: &Client, text: &str) {
    c.send(Message::text(text)).unwrap();
    let want = format!("You said: {text}");
    let (_, before) = until(c, "reply", |e| e.text().as_deref() == Some(want.as_str()));
    assert!(
        !before
            .iter()
            .any(|e| matches!(e, Event::ServerError { .. })),
        "{before:?}"
    );
}

#[test]
fn default_ids_are_made_like_the_sdk() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let client_id = base64::engine::general_purpose::STANDARD.encode("project-1|channel-9");
        let c = Client::connect(Config::new(&client_id).base_url(emu.base_url())).unwrap();
        let (random, channel) = c
            .thread_id()
            .split_once('|')
            .expect("threadId without |channelId");
        assert!(is_hex32(random), "{}", c.thread_id());
        assert_eq!(channel, "channel-9");
        assert!(is_hex32(c.session_id()), "{}", c.session_id());
        let info = emu.last_socket_info().unwrap();
        assert_eq!(info.client_id.as_deref(), Some(client_id.as_str()));
        assert_eq!(info.thread_id.as_deref(), Some(c.thread_id()));
        assert_eq!(info.session_id.as_deref(), Some(c.session_id()));
        assert_eq!(info.query_param("sessionId"), Some(c.session_id()));
        assert_eq!(info.header("x-flowai-threadid"), Some(c.thread_id()));
        // A clientId that is not base64 of `project|channel` gives a plain random threadId.
        let plain = Client::connect(Config::new("not base64!").base_url(emu.base_url())).unwrap();
        assert!(is_hex32(plain.thread_id()), "{}", plain.thread_id());
        assert_ne!(plain.session_id(), c.session_id());
    });
}

#[test]
fn the_session_id_is_kept_across_reconnects() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = Client::connect(Config::new(CLIENT_ID).base_url(emu.base_url())).unwrap();
        let session = c.session_id().to_string();
        let (first, _) = until(&c, "connected", |e| matches!(e, Event::Connected { .. }));
        emu.faults().drop_after_frames(1);
        c.send(Message::text("drop me")).unwrap();
        until(&c, "disconnect", |e| {
            matches!(e, Event::Disconnected { .. })
        });
        emu.faults().drop_after_frames(0);
        let (second, _) = until(&c, "reconnect", |e| matches!(e, Event::Connected { .. }));
        assert_eq!(
            first,
            Event::Connected {
                session_id: session.clone()
            }
        );
        assert_eq!(second, first);
        assert!(emu.stats().socket_info_requests >= 2);
        assert_eq!(emu.last_socket_info().unwrap().session_id, Some(session));
    });
}

#[test]
fn a_restart_with_the_state_file_continues_the_conversation() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default().require_nonce(true)).unwrap();
        let dir = TempDir::new();
        let state = dir.file("flowai-state.json");
        let (thread, session, secret) = {
            let c = Client::connect(config(&emu, &state)).unwrap();
            converse(&c, "first run");
            let secret = c.secret(c.thread_id()).expect("no secret in nonce mode");
            (
                c.thread_id().to_string(),
                c.session_id().to_string(),
                secret,
            )
        };
        let saved = SavedState::load(&state)
            .unwrap()
            .expect("state file not written");
        assert_eq!(
            (saved.thread_id.as_str(), saved.session_id.as_str()),
            (thread.as_str(), session.as_str())
        );
        assert_eq!(saved.secrets.get(&thread), Some(&secret));
        assert_eq!(saved.session_policy, SessionPolicy::Keep);

        let c = Client::connect(config(&emu, &state)).unwrap();
        assert_eq!(c.thread_id(), thread);
        assert_eq!(c.session_id(), session);
        assert_eq!(c.secret(&thread), Some(secret.clone()));
        // The restarted client presents the saved secret on its very first socket.info.
        assert_eq!(emu.last_socket_info().unwrap().secret, Some(secret));
        converse(&c, "second run");
        let speeches = common::sent_speeches(&emu, &thread);
        assert_eq!(speeches, ["first run", "second run"]);
    });
}

#[test]
fn a_new_secret_is_saved_when_it_arrives() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default().require_nonce(true)).unwrap();
        let dir = TempDir::new();
        let state = dir.file("state.json");
        let c = Client::connect(config(&emu, &state)).unwrap();
        c.send(Message::text("secret")).unwrap();
        let (event, _) = until(&c, "secret.generated", |e| {
            matches!(e, Event::SecretGenerated { .. })
        });
        let Event::SecretGenerated { secret } = event else {
            unreachable!()
        };
        let saved = SavedState::load(&state).unwrap().unwrap();
        assert_eq!(saved.secrets.get(c.thread_id()), Some(&secret));
        let leftovers = std::fs::read_dir(&dir.0).unwrap().count();
        assert_eq!(leftovers, 1, "temporary files left next to the state file");
    });
}

#[test]
fn explicit_ids_win_over_the_state_file() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let dir = TempDir::new();
        let state = dir.file("state.json");
        let first = Client::connect(config(&emu, &state)).unwrap();
        let (thread, session) = (
            first.thread_id().to_string(),
            first.session_id().to_string(),
        );
        first.close().unwrap();

        let c = Client::connect(config(&emu, &state).thread_id("explicit-thread")).unwrap();
        assert_eq!(c.thread_id(), "explicit-thread");
        assert_eq!(c.session_id(), session, "the saved sessionId is kept");
        c.close().unwrap();
        assert_eq!(
            SavedState::load(&state).unwrap().unwrap().thread_id,
            "explicit-thread"
        );

        let c = Client::connect(config(&emu, &state).session_id("explicit-session")).unwrap();
        assert_eq!(
            (c.thread_id(), c.session_id()),
            ("explicit-thread", "explicit-session")
        );
        c.close().unwrap();

        let renew = config(&emu, &state).session_policy(SessionPolicy::Renew);
        let c = Client::connect(renew).unwrap();
        assert_eq!(c.thread_id(), "explicit-thread");
        assert!(is_hex32(c.session_id()) && c.session_id() != session);
        assert_ne!(thread, "explicit-thread");
    });
}

#[test]
fn a_bad_state_file_is_a_clear_config_error() {
    common::fail_after(Duration::from_secs(30), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let dir = TempDir::new();
        let state = dir.file("state.json");
        std::fs::write(&state, "{ this is not json").unwrap();
        let err = Client::connect(config(&emu, &state)).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("corrupt") && m.contains("state.json")),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&state).unwrap(),
            "{ this is not json"
        );

        // Written for another clientId.
        std::fs::remove_file(&state).unwrap();
        Client::connect(
            Config::new("someone-else")
                .base_url(emu.base_url())
                .state_file(&state),
        )
        .unwrap()
        .close()
        .unwrap();
        let err = Client::connect(config(&emu, &state)).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("someone-else")),
            "{err}"
        );

        // Unreadable: a directory where the file should be.
        let err = Client::connect(config(&emu, &dir.0)).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("cannot be read")),
            "{err}"
        );

        // Unwritable: the directory does not exist.
        let err = Client::connect(config(&emu, &dir.file("missing/state.json"))).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("cannot be written")),
            "{err}"
        );
        assert!(err.is_final());

        // None of these reached the server beyond the one good connect.
        assert_eq!(emu.stats().socket_info_requests, 1);
    });
}
