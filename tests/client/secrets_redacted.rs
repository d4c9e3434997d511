//! Secrets never reach a log or a `Debug`/`Display`: a client runs a whole life against the
//! emulator with client nonces on (nonce from `socket.info`, sent in every message and echoed
//! in every acknowledgement, a `secret.generated` push, a one-time token, a reconnect, a
//! refused `socket.info`), with every log record captured at trace level through the C log
//! callback (what C and Python programs receive); then every config, handshake, state,
//! message, event and error type is formatted with `{:?}` and `{}`. None of the text may
//! contain a secret, the one-time token or a single-use WebSocket URL.

use crate::common;

use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::ffi::log::{flowai_log_level, flowai_set_log_callback};
use flowai_socket::ffi::result::flowai_result;
use flowai_socket::handshake::{RequestIds, SocketInfo};
use flowai_socket::state_file::SavedState;
use flowai_socket::{Client, Event, Message};
use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;
use std::time::Duration;

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" fn capture(
    _user_data: *mut c_void,
    level: u32,
    target: *const c_char,
    message: *const c_char,
) {
    let target = CStr::from_ptr(target).to_string_lossy();
    // The emulator is the server side of the test, not the client being checked.
    if target.starts_with("flowai_emulator") {
        return;
    }
    let message = CStr::from_ptr(message).to_string_lossy();
    let record = format!("[{level} {target}] {message}");
    RECORDS.lock().unwrap().push(record);
}

const OTT: &str = "OTT-one-time-7f3a";
const PUSHED: &str = "PUSHED-secret-91c2";
const CONFIGURED: &str = "CONFIGURED-secret-5e8d";

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Panics naming the text that shows one of `secrets` (plainly or as hex).
fn assert_hidden(what: &str, texts: &[String], secrets: &[String]) {
    for text in texts {
        for secret in secrets {
            assert!(
                !text.contains(secret.as_str()) && !text.contains(&hex(secret)),
                "{what} shows {secret:?}: {text}"
            );
        }
    }
}

#[test]
fn no_secret_in_any_log_record_debug_or_display() {
    common::fail_after(Duration::from_secs(60), || {
        let code = unsafe {
            flowai_set_log_callback(
                Some(capture),
                std::ptr::null_mut(),
                flowai_log_level::FLOWAI_LOG_TRACE as u32,
            )
        };
        assert_eq!(code, flowai_result::FLOWAI_OK);

        let emulator = Emulator::start(EmulatorConfig::default().require_nonce(true)).unwrap();
        let thread = "secret.thread";
        let cfg = common::config_for(&emulator)
            .thread_id(thread)
            .ott(OTT)
            .keepalive_interval(Some(Duration::from_millis(100)));
        let client = Client::connect(cfg.clone()).unwrap();
        let nonce = emulator
            .thread_secret(thread)
            .expect("a nonce for the thread");
        let mut events = Vec::new();
        let trace = client.send(Message::text("one")).unwrap();
        client
            .wait_delivered(trace, Duration::from_secs(5))
            .unwrap();
        assert_eq!(emulator.faults().push_secret(thread, PUSHED), 1);
        let (e, before) = common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::SecretGenerated { .. })
        });
        events.extend(before);
        events.push(e);
        // A lost connection and a refused socket.info on the way back: warnings and infos.
        emulator.faults().refuse_socket_info(503, 1);
        emulator.faults().drop_after_frames(1);
        let _ = client.send(Message::text("dropped"));
        let (e, before) = common::wait_event(&client, Duration::from_secs(10), |e| {
            matches!(e, Event::Connected { .. })
        });
        events.extend(before);
        events.push(e);
        emulator.faults().drop_after_frames(0);
        let trace = client.send(Message::text("two")).unwrap();
        client
            .wait_delivered(trace, Duration::from_secs(5))
            .unwrap();
        let (e, before) = common::wait_event(&client, Duration::from_secs(5), |e| {
            matches!(e, Event::Reply(_))
        });
        events.extend(before);
        events.push(e);
        while let Some(e) = client.try_recv().unwrap() {
            events.push(e);
        }
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Delivered(d) if d.raw_payload.get().contains(PUSHED))),
            "an acknowledgement echoed the nonce (so its Debug is tested): {events:?}"
        );
        let history = client.history("").unwrap();
        assert!(
            history.raw.to_string().contains(PUSHED),
            "the history holds nonces"
        );

        // Every type that can hold a secret, through Debug and Display.
        let endpoint = emulator.mint_ws_url(Some(thread));
        let token = endpoint.rsplit('/').next().unwrap().to_string();
        let ids = RequestIds {
            client_id: "c",
            session_id: "s",
            thread_id: thread,
            secret: Some(&nonce),
            ott: Some(OTT),
        };
        let info = SocketInfo {
            endpoint: endpoint.clone(),
            secret: Some(nonce.clone()),
        };
        let mut message = Message::text("m").thread(thread);
        message.nonce = Some(nonce.clone());
        let dir = std::env::temp_dir().join(format!("flowai-redact-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let state_file = dir.join("state.json");
        drop(
            Client::connect(cfg.clone().secret(CONFIGURED).state_file(&state_file))
                .map(|c| c.close()),
        );
        let saved = SavedState::load(&state_file).unwrap().expect("state saved");
        assert!(!saved.secrets.is_empty(), "the state file holds the nonce");
        let _ = std::fs::remove_dir_all(&dir);
        let bad_endpoint = format!("ws://127.0.0.1:{}/ws/{token} with a space", emulator.port());
        emulator.faults().socket_info_body(Some((
            200,
            format!(r#"{{"status":"ok","payload":{{"endpoint":"{bad_endpoint}"}}}}"#),
            "application/json",
        )));
        let error =
            Client::connect(cfg.clone().connect_timeout(Duration::from_millis(300))).unwrap_err();
        assert!(error.to_string().contains("WebSocket URL"), "{error}");
        emulator.faults().socket_info_body(None);
        let mut texts = vec![
            format!("{:?}", cfg.clone().secret(CONFIGURED)),
            format!("{ids:?}"),
            format!("{info:?}"),
            format!("{saved:?}"),
            format!("{message:?}"),
            format!("{history:?}"),
            format!("{client:?}"),
            format!("{error:?}"),
            format!("{error}"),
        ];
        texts.extend(events.iter().map(|e| format!("{e:?}")));
        client.close().unwrap();
        emulator.stop();
        unsafe { flowai_set_log_callback(None, std::ptr::null_mut(), 0) };
        let records = RECORDS.lock().unwrap().clone();
        assert!(
            records.iter().any(|r| r.contains("connection lost")),
            "the log was captured: {records:#?}"
        );

        let mut secrets = vec![nonce, PUSHED.into(), OTT.into(), CONFIGURED.into(), token];
        secrets.extend(saved.secrets.values().cloned());
        assert_hidden("a log record", &records, &secrets);
        assert_hidden("a Debug or Display", &texts, &secrets);
        assert!(
            texts[0].contains("***") && texts[1].contains("***"),
            "{texts:#?}"
        );
    });
}
