//! Tests of the local Flow emulator, spoken to with raw tungstenite and hand-written HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use flowai_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

// The two helpers of the root package's tests that use neither the client nor the emulator:
// the time limit and the test certificates (shared by path rather than copied).
#[path = "../../tests/common/limit.rs"]
mod limit;
#[path = "../../tests/common/pki.rs"]
mod pki;

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// How long one test may take before it fails as a hang.
const LIMIT: Duration = Duration::from_secs(20);

struct HttpResp {
    status: u16,
    head: String,
    body: String,
}

impl HttpResp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON: {e}: {}", self.body))
    }
}

fn parse_resp(raw: &[u8]) -> HttpResp {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("no response head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("bad status line");
    HttpResp {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// One HTTP/1.1 request on a fresh connection.
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("Connection: close\r\n\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    s.write_all(&bytes).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse_resp(&raw)
}

fn get(port: u16, path: &str) -> HttpResp {
    http(port, "GET", path, &[], b"")
}

/// socket.info with a threadId header; returns the endpoint and the whole JSON.
fn socket_info(emu: &Emulator, thread: &str) -> (String, Value) {
    let r = http(
        emu.port(),
        "GET",
        "/socket.info?clientId=test-client&sessionId=s1",
        &[("x-flowai-threadid", thread)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    (v["payload"]["endpoint"].as_str().unwrap().to_string(), v)
}

fn connect(url: &str) -> Ws {
    let (ws, _) = tungstenite::connect(url).expect("connect");
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    ws
}

fn open(emu: &Emulator, thread: &str) -> Ws {
    let (ep, _) = socket_info(emu, thread);
    connect(&ep)
}

fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).unwrap();
}

fn recv_text(ws: &mut Ws) -> String {
    loop {
        match ws.read().expect("read") {
            Message::Text(t) => return t.as_str().to_string(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn recv(ws: &mut Ws) -> Value {
    let t = recv_text(ws);
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("frame not JSON ({e}): {t}"))
}

/// Nothing arrives within `d`.
fn assert_silent(ws: &mut Ws, d: Duration) {
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(d)).unwrap();
    }
    match ws.read() {
        Err(tungstenite::Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("expected silence, got {other:?}"),
    }
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
}

fn ping(ws: &mut Ws) {
    send(ws, json!({"type": "ping"}));
    assert_eq!(recv(ws), json!({"type": "pong"}));
}

fn msg(thread: &str, speech: &str) -> Value {
    json!({"type": "message.send", "payload": {"threadId": thread, "speech": speech, "traceId": 1}})
}

fn reply_text(v: &Value) -> &str {
    v["payload"]["messages"][0]["responses"][0]["payload"]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no reply text in {v}"))
}

fn start(cfg: EmulatorConfig) -> Emulator {
    Emulator::start(cfg).expect("start emulator")
}

#[test]
fn socket_info_ok_headers_and_errors() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let port = emu.port();
        assert_eq!(emu.base_url(), format!("http://127.0.0.1:{port}"));

        let r = get(port, "/socket.info?clientId=abc&sessionId=s%201");
        assert_eq!(r.status, 200);
        assert!(r
            .head
            .to_ascii_lowercase()
            .contains("content-type: application/json"));
        let v = r.json();
        assert_eq!(v["status"], "ok");
        let ep = v["payload"]["endpoint"].as_str().unwrap();
        assert!(
            ep.starts_with(&format!("ws://127.0.0.1:{port}/ws/")),
            "{ep}"
        );
        assert!(v.get("secret").is_none());
        let last = emu.last_socket_info().unwrap();
        assert_eq!(last.client_id.as_deref(), Some("abc"));
        assert_eq!(last.session_id.as_deref(), Some("s 1"));
        assert_eq!(last.query_param("clientId"), Some("abc"));

        // ids as headers only (like the official SDK), "null" meaning unset
        let r = http(
            port,
            "GET",
            "/socket.info",
            &[
                ("x-flowai-clientid", "hdr-client"),
                ("x-flowai-sessionid", "hdr-session"),
                ("x-flowai-threadid", "t1"),
                ("x-flowai-secret", "null"),
                ("x-flowai-ott", "ott1"),
            ],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let last = emu.last_socket_info().unwrap();
        assert_eq!(last.client_id.as_deref(), Some("hdr-client"));
        assert_eq!(last.session_id.as_deref(), Some("hdr-session"));
        assert_eq!(last.thread_id.as_deref(), Some("t1"));
        assert_eq!(last.secret, None);
        assert_eq!(last.ott.as_deref(), Some("ott1"));
        assert_eq!(last.header("X-FlowAI-ClientId"), Some("hdr-client"));
        assert!(last.query.is_empty());

        for path in ["/socket.info", "/socket.info?clientId=&sessionId=x"] {
            let r = get(port, path);
            assert_eq!(r.status, 400);
            assert_eq!(
                r.json(),
                json!({"status":"error","payload":{"message":"Invalid clientId"}})
            );
        }
        let r = http(
            port,
            "GET",
            "/socket.info",
            &[("x-flowai-clientid", "null")],
            b"",
        );
        assert_eq!(r.status, 400);
        let r = get(port, "/socket.info?clientId=unauthorized");
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["status"], "error");
        assert_eq!(get(port, "/nope").status, 404);

        let s = emu.stats();
        assert_eq!(s.socket_info_requests, 6);
        assert_eq!(s.socket_info_refused, 4);
    });
}

#[test]
fn socket_info_endpoint_follows_the_forwarded_host_and_scheme() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let port = emu.port();
        let endpoint = |headers: &[(&str, &str)]| {
            let r = http(port, "GET", "/socket.info?clientId=c", headers, b"");
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["payload"]["endpoint"]
                .as_str()
                .unwrap()
                .to_string()
        };
        // A relay or TLS terminator in front: the client is sent back through it.
        let through = endpoint(&[
            ("X-Forwarded-Host", "localhost:4431"),
            ("X-Forwarded-Proto", "https"),
        ]);
        assert!(through.starts_with("wss://localhost:4431/ws/"), "{through}");
        let plain = endpoint(&[("X-Forwarded-Host", "relay.test:81")]);
        assert!(plain.starts_with("ws://relay.test:81/ws/"), "{plain}");
        // Nothing usable: the emulator's own address, whatever `Host` says.
        let own = endpoint(&[("X-Forwarded-Host", "evil/path?x")]);
        assert!(
            own.starts_with(&format!("ws://127.0.0.1:{port}/ws/")),
            "{own}"
        );
        // The URL minted through the relay's name works on the emulator itself.
        let mut ws =
            connect(&through.replace("wss://localhost:4431", &format!("ws://127.0.0.1:{port}")));
        ping(&mut ws);
    });
}

#[test]
fn single_use_url_and_ttl() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default().url_ttl(Duration::from_millis(150)));
        let (ep, _) = socket_info(&emu, "t");
        let mut ws = connect(&ep);
        ping(&mut ws);
        match tungstenite::connect(ep.as_str()) {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 403),
            other => panic!("reuse must be refused, got {:?}", other.map(|_| ())),
        }
        let (ep2, _) = socket_info(&emu, "t");
        std::thread::sleep(Duration::from_millis(300));
        match tungstenite::connect(ep2.as_str()) {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 403),
            other => panic!("expired URL must be refused, got {:?}", other.map(|_| ())),
        }
        // unknown token
        let bogus = format!("ws://127.0.0.1:{}/ws/bogus", emu.port());
        assert!(tungstenite::connect(bogus.as_str()).is_err());
        let s = emu.stats();
        assert_eq!(s.ws_rejected, 3);
        assert_eq!(s.ws_connections, 1);
        assert_eq!(s.open_connections, 1);
        drop(ws);
    });
}

#[test]
fn origin_is_recorded() {
    limit::fail_after(LIMIT, || {
        use tungstenite::client::IntoClientRequest;
        let emu = start(EmulatorConfig::default());
        let (ep, _) = socket_info(&emu, "t");
        let mut req = ep.into_client_request().unwrap();
        req.headers_mut()
            .insert("Origin", "https://example.com".parse().unwrap());
        let (mut ws, _) = tungstenite::connect(req).unwrap();
        assert_eq!(emu.last_origin().as_deref(), Some("https://example.com"));
        let _ = ws.close(None);
        let mut ws = open(&emu, "t");
        assert_eq!(emu.last_origin(), None);
        ping(&mut ws);
    });
}

#[test]
fn message_send_delivered_then_reply() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let mut ws = open(&emu, "jane");
        ping(&mut ws);
        let payload = json!({
            "threadId": "jane",
            "traceId": 1_111_111_111_111u64,
            "speech": "Hi there!",
            "originator": {"name": "Jane", "role": "external", "profile": {"fullName": "Jane Doe", "timezone": -5}},
            "metadata": {"language": "en-US", "timezone": -6, "params": {"seats": [{"value": "Business"}]}},
            "extra": {"kept": [1, 2.5, null, true]}
        });
        send(&mut ws, json!({"type": "message.send", "payload": payload}));
        let d = recv(&mut ws);
        assert_eq!(d["type"], "message.delivered");
        assert_eq!(d["payload"], payload, "the whole payload is echoed");
        let r = recv(&mut ws);
        assert_eq!(r["type"], "message.received");
        assert_eq!(r["payload"]["threadId"], "jane");
        assert_eq!(r["payload"]["originator"]["role"], "bot");
        let m = &r["payload"]["messages"][0];
        assert_eq!(m["fallback"], "You said: Hi there!");
        assert_eq!(m["replyTo"], "Hi there!");
        assert_eq!(m["responses"][0]["type"], "text");
        assert!(m["createdAt"].as_str().unwrap().ends_with('Z'));
        assert_eq!(reply_text(&r), "You said: Hi there!");

        // attachments
        let cases = [
            (
                json!({"type": "event", "payload": {"name": "MY EVENT"}}),
                "Event MY EVENT received",
            ),
            (
                json!({"type": "flow", "payload": {"flowImmutableId": "f1"}}),
                "Flow f1 started",
            ),
            (
                json!({"type": "step", "payload": {"stepId": "s9"}}),
                "Step s9 triggered",
            ),
        ];
        for (att, want) in cases {
            send(
                &mut ws,
                json!({"type": "message.send", "payload": {"threadId": "jane", "attachment": att}}),
            );
            assert_eq!(recv(&mut ws)["type"], "message.delivered");
            assert_eq!(reply_text(&recv(&mut ws)), want);
        }
        assert!(emu.wait_for(|s| s.replies_sent == 4, Duration::from_secs(5)));
        let s = emu.stats();
        assert_eq!((s.messages, s.delivered_sent, s.pings), (4, 4, 1));
        assert_eq!(emu.history("jane").len(), 8);
    });
}

#[test]
fn special_speeches() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let mut ws = open(&emu, "t");

        send(&mut ws, msg("t", "buttons"));
        assert_eq!(recv(&mut ws)["type"], "message.delivered");
        let r = recv(&mut ws);
        let resp = &r["payload"]["messages"][0]["responses"];
        assert_eq!(resp[0]["payload"]["text"], "Pick one");
        assert_eq!(resp[1]["type"], "buttons");
        assert_eq!(resp[1]["payload"]["buttons"][1]["value"], "blue");

        send(&mut ws, msg("t", "quick replies"));
        recv(&mut ws);
        let r = recv(&mut ws);
        let qr = &r["payload"]["messages"][0]["responses"][0]["payload"]["quickReplies"];
        assert_eq!(qr[0]["label"], "Yes");

        send(&mut ws, msg("t", "typing"));
        assert_eq!(recv(&mut ws)["type"], "message.delivered");
        let t = recv(&mut ws);
        assert_eq!(
            t,
            json!({"type": "agent.typing", "payload": {"threadId": "t"}})
        );
        assert_eq!(recv(&mut ws)["type"], "message.received");

        send(&mut ws, msg("t", "interrupt"));
        assert_eq!(recv(&mut ws)["type"], "message.delivered");
        assert_eq!(
            recv(&mut ws),
            json!({"type": "interruption.occurred", "payload": {"threadId": "t"}})
        );
        ping(&mut ws); // no reply came in between

        send(&mut ws, msg("t", "activities"));
        assert_eq!(recv(&mut ws)["type"], "activities.delivered");
        assert_eq!(recv(&mut ws)["type"], "activities.created");

        send(&mut ws, msg("t", "secret"));
        assert_eq!(recv(&mut ws)["type"], "message.delivered");
        let s = recv(&mut ws);
        assert_eq!(s["type"], "secret.generated");
        let secret = s["message"]["secret"].as_str().unwrap().to_string();
        assert_eq!(emu.thread_secret("t"), Some(secret));
        assert_eq!(recv(&mut ws)["type"], "message.received");
    });
}

#[test]
fn no_reply_mode() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default().reply(false));
        let mut ws = open(&emu, "t");
        send(&mut ws, msg("t", "hello"));
        assert_eq!(recv(&mut ws)["type"], "message.delivered");
        ping(&mut ws);
        assert_eq!(emu.stats().replies_sent, 0);
    });
}

#[test]
fn bad_input_gets_error_and_stays_open() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let mut ws = open(&emu, "t");
        let bad: Vec<String> = vec![
            "hello".into(),
            "{not json".into(),
            "[1,2]".into(),
            "42".into(),
            r#"{"payload":{}}"#.into(),
            r#"{"type":7}"#.into(),
            r#"{"type":"no.such.type"}"#.into(),
            r#"{"type":"message.send"}"#.into(),
            r#"{"type":"message.send","payload":"x"}"#.into(),
            r#"{"type":"message.send","payload":{"speech":"hi"}}"#.into(),
            r#"{"type":"message.send","payload":{"threadId":"","speech":"hi"}}"#.into(),
            r#"{"type":"message.send","payload":{"threadId":5,"speech":"hi"}}"#.into(),
            r#"{"type":"message.send","payload":{"threadId":"t"}}"#.into(),
            r#"{"type":"message.send","payload":{"threadId":"t","speech":""}}"#.into(),
            r#"{"type":"message.send","payload":{"threadId":"t","speech":3}}"#.into(),
            r#"{"type":"message.send","payload":{"threadId":"t","speech":"x","traceId":"abc"}}"#
                .into(),
            r#"{"type":"message.send","payload":{"threadId":"t","speech":"x","attachment":{}}}"#
                .into(),
            r#"{"type":"thread.noticed","payload":{}}"#.into(),
        ];
        for b in &bad {
            ws.send(Message::text(b.clone())).unwrap();
            let e = recv(&mut ws);
            assert_eq!(e["type"], "error", "for {b}: {e}");
            let m = e["message"].as_str().unwrap();
            assert!(!m.is_empty());
            ping(&mut ws);
        }
        ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
        let e = recv(&mut ws);
        assert_eq!(e["type"], "error");
        assert!(e["message"].as_str().unwrap().contains("Binary"));
        // still usable for real messages
        send(&mut ws, msg("t", "ok"));
        assert_eq!(recv(&mut ws)["type"], "message.delivered");
        assert_eq!(emu.stats().errors_sent, bad.len() as u64 + 1);
    });
}

#[test]
fn noticed_and_typing_are_recorded_silently() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let mut ws = open(&emu, "t");
        send(
            &mut ws,
            json!({"type": "thread.noticed", "payload": {"threadId": "t"}}),
        );
        send(
            &mut ws,
            json!({"type": "activity.user.typing", "payload": {"clientId": "c", "threadId": "t", "originator": {"name": "x"}}}),
        );
        ping(&mut ws);
        let s = emu.stats();
        assert_eq!((s.noticed, s.typing, s.errors_sent), (1, 1, 0));
    });
}

#[test]
fn idle_close() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default().idle_timeout(Duration::from_millis(300)));
        let mut ws = open(&emu, "t");
        ping(&mut ws);
        let t0 = Instant::now();
        match ws.read() {
            Ok(Message::Close(Some(f))) => assert_eq!(f.reason.as_str(), "idle timeout"),
            other => panic!("expected a close frame, got {other:?}"),
        }
        let el = t0.elapsed();
        assert!(
            el >= Duration::from_millis(250) && el < Duration::from_secs(3),
            "{el:?}"
        );
        assert!(emu.wait_for(
            |s| s.idle_closes == 1 && s.open_connections == 0,
            Duration::from_secs(5)
        ));
    });
}

#[test]
fn fault_drop_after_frames() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        emu.faults().drop_after_frames(3);
        for _ in 0..2 {
            let mut ws = open(&emu, "t");
            ping(&mut ws);
            ping(&mut ws);
            send(&mut ws, json!({"type": "ping"}));
            match ws.read() {
                Ok(Message::Close(_)) => panic!("must not get a close frame"),
                Ok(m) => panic!("unexpected {m:?}"),
                Err(_) => {}
            }
        }
        assert!(emu.wait_for(
            |s| s.dropped_by_fault == 2 && s.open_connections == 0,
            Duration::from_secs(5)
        ));
        emu.faults().drop_after_frames(0);
        let mut ws = open(&emu, "t");
        for _ in 0..5 {
            ping(&mut ws);
        }
    });
}

#[test]
fn fault_black_hole() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let mut ws = open(&emu, "t");
        emu.faults().black_hole(true);
        send(&mut ws, json!({"type": "ping"}));
        send(&mut ws, msg("t", "hi"));
        assert_silent(&mut ws, Duration::from_millis(300));
        let mut ws2 = open(&emu, "t");
        send(&mut ws2, json!({"type": "ping"}));
        assert_silent(&mut ws2, Duration::from_millis(200));
        emu.faults().black_hole(false);
        ping(&mut ws);
        ping(&mut ws2);
        assert_eq!(emu.stats().open_connections, 2);
    });
}

#[test]
fn fault_ack_delay() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let mut ws = open(&emu, "a");
        let mut other = open(&emu, "b");
        emu.faults().ack_delay(Duration::from_millis(400));
        let t0 = Instant::now();
        send(&mut ws, msg("a", "slow"));
        // another connection is not blocked, nor are pings on the same one
        ping(&mut other);
        ping(&mut ws);
        assert!(t0.elapsed() < Duration::from_millis(300));
        assert_eq!(recv(&mut ws)["type"], "message.delivered");
        assert!(
            t0.elapsed() >= Duration::from_millis(380),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!(recv(&mut ws)["type"], "message.received");
        emu.faults().ack_delay(Duration::ZERO);
        let t1 = Instant::now();
        send(&mut ws, msg("a", "fast"));
        recv(&mut ws);
        assert!(t1.elapsed() < Duration::from_millis(300));
    });
}

#[test]
fn fault_refuse_socket_info_and_custom_body() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let port = emu.port();
        emu.faults().refuse_socket_info(503, 2);
        for _ in 0..2 {
            let r = get(port, "/socket.info?clientId=c");
            assert_eq!(r.status, 503);
            assert_eq!(r.json()["status"], "error");
            assert!(r.json()["payload"]["message"].is_string());
        }
        assert_eq!(get(port, "/socket.info?clientId=c").status, 200);

        emu.faults()
            .socket_info_body(Some((200, "<html>hello</html>".into(), "text/html")));
        let r = get(port, "/socket.info?clientId=c");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "<html>hello</html>");
        assert!(r.head.contains("text/html"));
        emu.faults().socket_info_body(Some((
            200,
            r#"{"status":"ok","payload":{"endpoint":"http://x"}}"#.into(),
            "application/json",
        )));
        assert_eq!(
            get(port, "/socket.info?clientId=c").json()["payload"]["endpoint"],
            "http://x"
        );
        emu.faults().socket_info_body(None);
        assert!(
            get(port, "/socket.info?clientId=c").json()["payload"]["endpoint"]
                .as_str()
                .unwrap()
                .starts_with("ws://")
        );
        assert_eq!(emu.stats().socket_info_refused, 2);
    });
}

#[test]
fn fault_garbage_frames() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let mut ws = open(&emu, "t");
        emu.faults().garbage_frames(2);
        send(&mut ws, json!({"type": "ping"}));
        for _ in 0..2 {
            let t = recv_text(&mut ws);
            assert!(serde_json::from_str::<Value>(&t).is_err(), "{t}");
        }
        assert_eq!(recv(&mut ws), json!({"type": "pong"}));
        ping(&mut ws);
        assert_eq!(emu.stats().garbage_sent, 2);
    });
}

#[test]
fn fault_push_secret() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let mut ws = open(&emu, "t1");
        let mut other = open(&emu, "t2");
        assert_eq!(emu.faults().push_secret("t1", "s3cr3t"), 1);
        assert_eq!(
            recv(&mut ws),
            json!({"type": "secret.generated", "message": {"secret": "s3cr3t"}})
        );
        ping(&mut other);
        assert_eq!(emu.thread_secret("t1").as_deref(), Some("s3cr3t"));
    });
}

#[test]
fn restart_on_same_port() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let port = emu.port();
        let mut ws = open(&emu, "t");
        ping(&mut ws);
        // an HTTP connection that never sends its request must not hold stop() up
        let idle_http = TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let t0 = Instant::now();
        emu.stop();
        // the target is < 100 ms; leave headroom for a loaded CI machine
        let took = t0.elapsed();
        eprintln!("stop took {took:?}");
        assert!(took < Duration::from_millis(500), "{took:?}");
        drop(idle_http);
        // the client sees the connection end
        let mut ended = false;
        for _ in 0..3 {
            match ws.read() {
                Ok(Message::Close(_)) | Err(_) => {
                    ended = true;
                    break;
                }
                Ok(_) => {}
            }
        }
        assert!(ended);
        let emu = start(EmulatorConfig::default().port(port));
        assert_eq!(emu.port(), port);
        let mut ws = open(&emu, "t");
        ping(&mut ws);
        drop(emu); // Drop stops too
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    });
}

fn multipart(boundary: &str, file: &[u8], payload: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pic.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(file);
    b.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{payload}\r\n--{boundary}--\r\n"
        )
        .as_bytes(),
    );
    b
}

#[test]
fn rest_endpoints() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default().max_upload_bytes(4096));
        let port = emu.port();
        let mut ws = open(&emu, "t");
        send(&mut ws, msg("t", "one"));
        recv(&mut ws);
        recv(&mut ws);
        let hdrs = [("x-flowai-clientid", "c"), ("x-flowai-threadid", "t")];

        let r = http(port, "GET", "/thread.history?threadId=t", &hdrs, b"");
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["status"], "ok");
        assert_eq!(v["payload"]["threadId"], "t");
        let h = v["payload"]["history"].as_array().unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0]["payload"]["speech"], "one");
        assert_eq!(h[1]["type"], "message.received");
        // threadId from the header only
        let r = http(port, "GET", "/thread.history", &hdrs, b"");
        assert_eq!(r.json()["payload"]["history"].as_array().unwrap().len(), 2);
        assert_eq!(
            http(port, "GET", "/thread.history", &hdrs[..1], b"").status,
            400
        );

        let unnoticed = || {
            http(port, "GET", "/thread.unnoticed?threadId=t", &hdrs, b"").json()["payload"]
                ["unnoticed"]
                .clone()
        };
        assert_eq!(unnoticed(), json!(true));
        send(
            &mut ws,
            json!({"type": "thread.noticed", "payload": {"threadId": "t"}}),
        );
        assert!(emu.wait_for(|s| s.noticed == 1, Duration::from_secs(5)));
        assert_eq!(unnoticed(), json!(false));

        let body = json!({"clientId": "c", "threadId": "t", "sessionId": "s", "mergerKey": "k"});
        let r = http(
            port,
            "POST",
            "/thread.merger",
            &hdrs,
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["payload"], body);
        let r = http(
            port,
            "POST",
            "/thread.merger",
            &hdrs,
            br#"{"clientId":"c"}"#,
        );
        assert_eq!(r.status, 400);

        // upload
        let payload = json!({"clientId": "c", "sessionId": "s", "threadId": "t", "speech": "file attachment"});
        let body = multipart("XyZ", &[7u8; 1000], &payload);
        let ct = "multipart/form-data; boundary=XyZ";
        let r = http(
            port,
            "POST",
            "/thread.upload",
            &[hdrs[0], ("content-type", ct)],
            &body,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.json()["payload"],
            json!({"fileName": "pic.png", "size": 1000})
        );
        let pushed = recv(&mut ws);
        assert_eq!(pushed["type"], "message.received");
        let text = reply_text(&pushed);
        assert!(text.contains("pic.png") && text.contains("1000"), "{text}");
        let h = emu.history("t");
        assert_eq!(h[2]["payload"]["fileName"], "pic.png");

        // too large: 413 without the server reading it all
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let head = format!(
            "POST /thread.upload HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: 10000000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(&[0u8; 8192]);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        assert_eq!(parse_resp(&raw).status, 413);
        let r = http(
            port,
            "POST",
            "/thread.upload",
            &[hdrs[0], ("content-type", ct)],
            &[1u8; 5000],
        );
        assert_eq!(r.status, 413);

        assert_eq!(
            http(port, "GET", "/thread.whatever", &hdrs, b"").status,
            404
        );
        assert!(emu.stats().rest_requests >= 8);
    });
}

#[test]
fn nonce_mode() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default().require_nonce(true));
        let port = emu.port();
        let (ep, v) = socket_info(&emu, "t");
        let secret = v["secret"]
            .as_str()
            .expect("secret in socket.info")
            .to_string();
        // same thread: same secret; another thread: another one
        let (_, v2) = socket_info(&emu, "t");
        assert_eq!(v2["secret"], secret.as_str());
        let (_, v3) = socket_info(&emu, "u");
        assert_ne!(v3["secret"], secret.as_str());

        let mut ws = connect(&ep);
        send(&mut ws, msg("t", "no nonce"));
        assert_eq!(
            recv(&mut ws),
            json!({"type": "error", "message": "Invalid nonce"})
        );
        send(
            &mut ws,
            json!({"type": "message.send", "payload": {"threadId": "t", "speech": "x", "nonce": "wrong"}}),
        );
        assert_eq!(recv(&mut ws)["message"], "Invalid nonce");
        send(
            &mut ws,
            json!({"type": "message.send", "payload": {"threadId": "t", "speech": "x", "nonce": secret}}),
        );
        assert_eq!(recv(&mut ws)["type"], "message.delivered");
        assert_eq!(recv(&mut ws)["type"], "message.received");

        let h = |s: &str| {
            http(
                port,
                "GET",
                "/thread.history?threadId=t",
                &[("x-flowai-clientid", "c"), ("x-flowai-secret", s)],
                b"",
            )
            .status
        };
        assert_eq!(h("wrong"), 401);
        assert_eq!(h(&secret), 200);

        // the `secret` speech rotates it
        send(
            &mut ws,
            json!({"type": "message.send", "payload": {"threadId": "t", "speech": "secret", "nonce": secret}}),
        );
        assert_eq!(recv(&mut ws)["type"], "message.delivered");
        let g = recv(&mut ws);
        let new = g["message"]["secret"].as_str().unwrap().to_string();
        assert_ne!(new, secret);
        recv(&mut ws);
        send(
            &mut ws,
            json!({"type": "message.send", "payload": {"threadId": "t", "speech": "x", "nonce": secret}}),
        );
        assert_eq!(recv(&mut ws)["message"], "Invalid nonce");
        send(
            &mut ws,
            json!({"type": "message.send", "payload": {"threadId": "t", "speech": "x", "nonce": new}}),
        );
        assert_eq!(recv(&mut ws)["type"], "message.delivered");
    });
}

#[test]
fn pipelined_throughput_and_wait_for() {
    limit::fail_after(LIMIT, || {
        let emu = start(EmulatorConfig::default());
        let (ep, _) = socket_info(&emu, "t");
        let mut ws = connect(&ep);
        // write everything first, then read everything (the emulator must not stall)
        let n = 2_000u64;
        for i in 0..n {
            let f = json!({"type": "message.send", "payload": {"threadId": "t", "speech": "x", "traceId": i}});
            ws.write(Message::text(f.to_string())).unwrap();
            if i % 500 == 0 {
                ws.flush().unwrap();
            }
        }
        ws.flush().unwrap();
        let mut next = 0u64;
        let mut replies = 0;
        while next < n || replies < n {
            let v = recv(&mut ws);
            match v["type"].as_str().unwrap() {
                "message.delivered" => {
                    assert_eq!(v["payload"]["traceId"], next);
                    next += 1;
                }
                "message.received" => replies += 1,
                t => panic!("unexpected {t}"),
            }
        }
        assert!(emu.wait_for(
            |s| s.messages == n && s.replies_sent == n,
            Duration::from_secs(5)
        ));
        assert!(!emu.wait_for(|s| s.messages > n, Duration::from_millis(50)));
        assert!(emu.history("t").len() <= 1000);
        assert!(emu.stats().busy_micros > 0);
    });
}

#[test]
fn tls_mode() {
    limit::fail_after(LIMIT, || {
        let Some((cert, key)) = pki::localhost_certificate() else {
            return;
        };
        let emu = start(EmulatorConfig::default().tls(&cert, &key).unwrap());
        assert_eq!(emu.base_url(), format!("https://localhost:{}", emu.port()));
        let connector = native_tls::TlsConnector::builder()
            .add_root_certificate(native_tls::Certificate::from_pem(cert.as_bytes()).unwrap())
            .build()
            .unwrap();

        // socket.info over https
        let tcp = TcpStream::connect(("127.0.0.1", emu.port())).unwrap();
        let mut tls = connector.connect("localhost", tcp).unwrap();
        tls.write_all(
            b"GET /socket.info?clientId=c HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut raw = Vec::new();
        let _ = tls.read_to_end(&mut raw);
        let r = parse_resp(&raw);
        assert_eq!(r.status, 200, "{}", r.body);
        let ep = r.json()["payload"]["endpoint"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(ep.starts_with("wss://localhost:"), "{ep}");

        let tcp = TcpStream::connect(("127.0.0.1", emu.port())).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let (mut ws, _) = tungstenite::client_tls_with_config(
            ep.as_str(),
            tcp,
            None,
            Some(tungstenite::Connector::NativeTls(connector)),
        )
        .unwrap();
        ping(&mut ws);
        for i in 0..200 {
            send(&mut ws, msg("t", &format!("m{i}")));
        }
        for _ in 0..200 {
            assert_eq!(recv(&mut ws)["type"], "message.delivered");
            assert_eq!(recv(&mut ws)["type"], "message.received");
        }
    });
}
