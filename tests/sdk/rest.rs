//! The REST calls against the emulator: `thread.history`, `thread.unnoticed`, `thread.merger`
//! and `thread.upload` (multipart, streamed, 413 as a clear "too large" error), with the
//! `x-flowai-*` headers and the secret in nonce mode.

use crate::common;
use crate::until;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Error, Event, Message};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

fn client(emu: &Emulator, thread: &str) -> Client {
    Client::connect(
        Config::new("rest-test")
            .base_url(emu.base_url())
            .thread_id(thread),
    )
    .unwrap()
}

fn converse(c: &Client, text: &str) {
    c.send(Message::text(text)).unwrap();
    let want = format!("You said: {text}");
    until(c, "reply", |e| e.text().as_deref() == Some(want.as_str()));
}

/// A file of `len` bytes (a repeating pattern) in the temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, len: usize) -> TempFile {
        let dir =
            std::env::temp_dir().join(format!("flowai-rest-{}", flowai_socket::ids::random_hex()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let chunk: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            file.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
        file.flush().unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn history_lists_the_conversation() {
    common::fail_after(Duration::from_secs(60), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = client(&emu, "jane");
        assert!(c.history("").unwrap().entries.is_empty());
        converse(&c, "hello");
        let history = c.history("").unwrap();
        assert_eq!(history.thread_id, "jane");
        let kinds: Vec<_> = history.entries.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["message.send", "message.received"]);
        let texts: Vec<_> = history.entries.iter().map(|e| e.text().unwrap()).collect();
        assert_eq!(texts, ["hello", "You said: hello"]);
        assert!(history.entries[0].is_from_user());
        assert_eq!(
            history.entries[1].reply().unwrap().sender_name(),
            Some("Echo Bot")
        );
        assert!(
            history.raw["history"].is_array(),
            "raw payload kept: {}",
            history.raw
        );
        // Another thread, by name.
        assert!(c.history("nobody").unwrap().entries.is_empty());
    });
}

#[test]
fn unnoticed_until_the_thread_is_noticed() {
    common::fail_after(Duration::from_secs(60), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = client(&emu, "jane");
        assert!(!c.unnoticed("").unwrap());
        converse(&c, "hello");
        assert!(c.unnoticed("jane").unwrap());
        assert!(c.noticed("", true).unwrap());
        assert!(emu.wait_for(|s| s.noticed >= 1, Duration::from_secs(5)));
        assert!(!c.unnoticed("").unwrap());
    });
}

#[test]
fn merge_posts_the_ids() {
    common::fail_after(Duration::from_secs(60), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = client(&emu, "jane");
        let before = emu.stats().rest_requests;
        c.merge("merger-key-1", "", "").unwrap();
        c.merge("merger-key-2", "other-thread", "other-session")
            .unwrap();
        assert_eq!(emu.stats().rest_requests, before + 2);
        let err = c.merge("", "", "").unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    });
}

#[test]
fn upload_sends_the_file_and_the_message() {
    common::fail_after(Duration::from_secs(60), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = client(&emu, "jane");
        let file = TempFile::new("note.txt", 1234);
        let result = c.upload(&file.0, Message::text("here is my note")).unwrap();
        assert_eq!(result.file_name.as_deref(), Some("note.txt"));
        assert_eq!(result.size, Some(1234));
        assert_eq!(result.raw["size"], 1234);
        let (reply, _) = until(&c, "the bot's answer to the upload", |e| {
            matches!(e, Event::Reply(_))
        });
        assert_eq!(reply.text().unwrap(), "Received file note.txt (1234 bytes)");
        let entry = emu
            .history("jane")
            .into_iter()
            .find(|e| e["type"] == "file.upload")
            .expect("upload not in history");
        let payload = &entry["payload"];
        assert_eq!(payload["contentType"], "text/plain");
        assert_eq!(payload["payload"]["speech"], "here is my note");
        assert_eq!(payload["payload"]["clientId"], "rest-test");
        assert_eq!(payload["payload"]["sessionId"], c.session_id());
        assert_eq!(payload["payload"]["originator"]["name"], "Anonymous");
        // No speech: the SDK's "file attachment".
        c.upload(&file.0, Message::default()).unwrap();
        let last = emu
            .history("jane")
            .into_iter()
            .rfind(|e| e["type"] == "file.upload")
            .unwrap();
        assert_eq!(last["payload"]["payload"]["speech"], "file attachment");
    });
}

#[test]
fn upload_over_the_limit_is_a_clear_too_large_error() {
    common::fail_after(Duration::from_secs(60), || {
        let emu = Emulator::start(EmulatorConfig::default().max_upload_bytes(1 << 20)).unwrap();
        let c = client(&emu, "jane");
        let file = TempFile::new("big.bin", 2 << 20);
        let err = c.upload(&file.0, Message::text("too big")).unwrap_err();
        assert!(
            matches!(&err, Error::TooLarge(m) if m.contains("big.bin") && m.contains("HTTP 413")),
            "{err}"
        );
        assert!(err.to_string().starts_with("too large: "), "{err}");
        assert!(err.is_final() && !err.is_retryable());
        assert!(!emu
            .history("jane")
            .iter()
            .any(|e| e["type"] == "file.upload"));
        // The client is fine afterwards.
        converse(&c, "still here");
    });
}

#[test]
fn upload_streams_a_5_mib_file() {
    common::fail_after(Duration::from_secs(60), || {
        let emu = Emulator::start(EmulatorConfig::default().max_upload_bytes(8 << 20)).unwrap();
        let c = client(&emu, "jane");
        let file = TempFile::new("video.mp4", 5 << 20);
        let result = c.upload(&file.0, Message::text("a big one")).unwrap();
        assert_eq!(result.size, Some(5 << 20));
        let entry = emu
            .history("jane")
            .into_iter()
            .find(|e| e["type"] == "file.upload")
            .unwrap();
        assert_eq!(entry["payload"]["contentType"], "video/mp4");
        assert_eq!(entry["payload"]["size"], 5 << 20);
    });
}

#[test]
fn upload_of_a_missing_file_is_an_io_error() {
    common::fail_after(Duration::from_secs(60), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = client(&emu, "jane");
        let err = c
            .upload("/definitely/not/here.txt", Message::text("x"))
            .unwrap_err();
        assert!(
            matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
            "{err}"
        );
        assert_eq!(emu.stats().rest_requests, 0);
    });
}

#[test]
fn rest_calls_carry_the_secret_in_nonce_mode() {
    common::fail_after(Duration::from_secs(60), || {
        let emu = Emulator::start(EmulatorConfig::default().require_nonce(true)).unwrap();
        let jane = client(&emu, "jane");
        let other = client(&emu, "other");
        converse(&jane, "hello");
        assert_eq!(jane.history("").unwrap().entries.len(), 2);
        assert!(jane.unnoticed("").unwrap());
        jane.merge("key", "", "").unwrap();
        let file = TempFile::new("a.png", 10);
        jane.upload(&file.0, Message::text("pic")).unwrap();
        // The secret of a thread this client does not know is not sent: refused.
        assert!(other.secret("other").is_some() && jane.secret("other").is_none());
        let err = jane.history("other").unwrap_err();
        assert!(matches!(err, Error::Rejected { status: 401, .. }), "{err}");
    });
}

#[test]
fn rest_calls_after_close_fail_as_already_closed() {
    common::fail_after(Duration::from_secs(60), || {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let c = client(&emu, "jane");
        c.close().unwrap();
        assert!(matches!(c.history(""), Err(Error::AlreadyClosed)));
        assert!(matches!(c.unnoticed(""), Err(Error::AlreadyClosed)));
        assert!(matches!(c.merge("k", "", ""), Err(Error::AlreadyClosed)));
        assert!(matches!(
            c.upload("x", Message::text("x")),
            Err(Error::AlreadyClosed)
        ));
    });
}
