//! The WebSocket side: one thread per connection, batched reads and writes around `poll`.

use std::collections::{HashSet, VecDeque};
use std::io::{self, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Error as WsError, Message, WebSocket};

use super::stream::Stream;
use super::util::{self, WakePipe};
use super::{inc, lock, ConnShared, Inner};

/// Most frames read before the queued answers are flushed.
const BATCH: usize = 512;

/// What an outgoing frame counts as in the stats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Delivered,
    Reply,
    Error,
    Other,
}

const ORIGINATOR: &str = r#"{"userId":"flowai|echo-bot","name":"Echo Bot","role":"bot","profile":{"fullName":"Echo Bot"}}"#;

/// A `{"type":"text",...}` response JSON.
pub(crate) fn text_response(text: &str) -> String {
    format!(
        r#"{{"type":"text","payload":{{"text":{}}},"delay":0}}"#,
        util::json_str(text)
    )
}

/// A bot reply frame of type `ty` with the given `responses` (a comma-separated JSON list body).
pub(crate) fn reply_frame(
    ty: &str,
    thread: &str,
    reply_to: &str,
    fallback: &str,
    responses: &str,
) -> String {
    format!(
        r#"{{"type":"{ty}","payload":{{"threadId":{t},"originator":{o},"messages":[{{"fallback":{f},"silent":false,"replyTo":{r},"originator":{o},"actions":[],"responses":[{responses}],"flow":{{"flowId":"echo","title":"Echo"}},"step":{{"stepId":"echo","title":"Echo"}},"params":{{}},"intents":[],"contexts":[],"createdAt":"{now}"}}]}}}}"#,
        t = util::json_str(thread),
        o = ORIGINATOR,
        f = util::json_str(fallback),
        r = util::json_str(reply_to),
        now = util::now_rfc3339(),
    )
}

fn error_frame(msg: &str) -> String {
    format!(r#"{{"type":"error","message":{}}}"#, util::json_str(msg))
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", default)]
    ty: Option<Value>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

/// How a connection ends.
enum End {
    /// Peer closed or the socket failed.
    Gone,
    /// Close abruptly (TCP shutdown, no close frame).
    Abrupt,
    /// Send a close frame, then drop.
    Close(CloseCode, &'static str),
}

struct Conn {
    inner: Arc<Inner>,
    shared: Arc<ConnShared>,
    ws: WebSocket<Stream>,
    frames: u64,
    last_rx: Instant,
    delayed: VecDeque<(Instant, Vec<(Kind, String)>)>,
    threads: HashSet<String>,
    out_pending: bool,
    fatal: bool,
}

/// Registers a WebSocket connection, writes its 101 response (registered first, so a client
/// that sees the upgrade also sees the connection in stats and `push_secret`), and runs it.
pub(crate) fn run(
    inner: &Arc<Inner>,
    id: u64,
    mut stream: Stream,
    response: &[u8],
    leftover: Vec<u8>,
    thread: Option<String>,
) {
    let Ok(wake) = WakePipe::new() else {
        return;
    };
    let mut threads = HashSet::new();
    if let Some(t) = thread {
        threads.insert(t);
    }
    let shared = Arc::new(ConnShared {
        outbox: Mutex::new(Vec::new()),
        wake,
        threads: Mutex::new(threads.clone()),
    });
    lock(&inner.conns).insert(id, shared.clone());
    let c = &inner.counters;
    inc(&c.ws_connections);
    inc(&c.open_connections);
    inner.notify();
    let written = stream.write_all(response).and_then(|()| stream.flush());
    if written.is_err() || stream.tcp().set_nonblocking(true).is_err() {
        lock(&inner.conns).remove(&id);
        c.open_connections.fetch_sub(1, Ordering::Relaxed);
        inner.notify();
        return;
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20));
    let ws = WebSocket::from_partially_read(stream, leftover, Role::Server, Some(config));
    let mut conn = Conn {
        inner: inner.clone(),
        shared,
        ws,
        frames: 0,
        last_rx: Instant::now(),
        delayed: VecDeque::new(),
        threads,
        out_pending: false,
        fatal: false,
    };
    let end = conn.run_loop();
    conn.finish(end);
    lock(&inner.conns).remove(&id);
    c.open_connections.fetch_sub(1, Ordering::Relaxed);
    inner.notify();
}

impl Conn {
    fn run_loop(&mut self) -> End {
        let sock = self.ws.get_ref().tcp().as_raw_fd();
        let sfd = self.inner.shutdown_pipe.fd();
        let wfd = self.shared.wake.fd();
        let idle = self.inner.cfg.idle_timeout;
        let mut more_to_read = false;
        loop {
            if self.inner.is_shutdown() {
                return End::Close(CloseCode::Away, "server stopping");
            }
            let black_hole = self.inner.faults.is_black_hole();
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            if !black_hole {
                let idle_at = self.last_rx + idle;
                if now >= idle_at {
                    inc(&self.inner.counters.idle_closes);
                    return End::Close(CloseCode::Normal, "idle timeout");
                }
                next = Some(idle_at);
            }
            if let Some((at, _)) = self.delayed.front() {
                next = Some(next.map_or(*at, |n| n.min(*at)));
            }
            let timeout = if more_to_read && !self.out_pending {
                Some(Duration::ZERO)
            } else {
                next.map(|n| n.saturating_duration_since(now))
            };
            let events = if self.out_pending {
                libc::POLLOUT
            } else {
                libc::POLLIN
            };
            let rev = util::poll_fds(
                &[(sock, events), (sfd, libc::POLLIN), (wfd, libc::POLLIN)],
                timeout,
            );
            if rev[1] != 0 {
                continue; // shutdown, handled at the top
            }
            let t0 = Instant::now();
            if rev[2] != 0 {
                self.shared.wake.reset();
                let pushed = std::mem::take(&mut *lock(&self.shared.outbox));
                for (k, f) in pushed {
                    self.send(k, f);
                }
            }
            more_to_read = false;
            if !self.out_pending {
                let mut n = 0;
                loop {
                    match self.ws.read() {
                        Ok(msg) => {
                            if let Some(end) = self.on_message(msg) {
                                return end;
                            }
                        }
                        Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(WsError::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(WsError::ConnectionClosed) | Err(WsError::AlreadyClosed) => {
                            return End::Gone
                        }
                        Err(e) => {
                            log::debug!("emulator: WebSocket read error: {e}");
                            return End::Gone;
                        }
                    }
                    n += 1;
                    if n >= BATCH {
                        more_to_read = true;
                        break;
                    }
                }
            }
            let now = Instant::now();
            while self.delayed.front().is_some_and(|(at, _)| *at <= now) {
                if let Some((_, frames)) = self.delayed.pop_front() {
                    for (k, f) in frames {
                        self.send(k, f);
                    }
                }
            }
            self.flush_nb();
            if self.fatal {
                return End::Gone;
            }
            let busy = t0.elapsed().as_micros() as u64;
            self.inner
                .counters
                .busy_micros
                .fetch_add(busy, Ordering::Relaxed);
            self.inner.notify();
        }
    }

    /// Non-blocking flush; remembers whether output is still pending.
    fn flush_nb(&mut self) {
        match self.ws.flush() {
            Ok(()) => self.out_pending = false,
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => self.out_pending = true,
            Err(_) => self.fatal = true,
        }
    }

    /// Flushes, waiting up to `limit` for the socket to accept the data.
    fn flush_wait(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let sock = self.ws.get_ref().tcp().as_raw_fd();
        loop {
            self.flush_nb();
            if !self.out_pending || self.fatal {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            util::poll_fds(&[(sock, libc::POLLOUT)], Some(deadline - now));
        }
    }

    fn finish(&mut self, end: End) {
        match end {
            End::Gone => {}
            End::Abrupt => {
                let _ = self.ws.get_ref().tcp().shutdown(Shutdown::Both);
            }
            End::Close(code, reason) => {
                let _ = self.ws.close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                }));
                self.flush_wait(Duration::from_millis(if self.inner.is_shutdown() {
                    20
                } else {
                    1000
                }));
                let _ = self.ws.get_ref().tcp().shutdown(Shutdown::Both);
            }
        }
    }

    /// Queues one outgoing frame (garbage first if that fault is armed).
    fn send(&mut self, kind: Kind, text: String) {
        if self.fatal || self.inner.faults.is_black_hole() {
            return;
        }
        let c = &self.inner.counters;
        let g = self.inner.faults.garbage.swap(0, Ordering::SeqCst);
        for i in 0..g {
            inc(&c.garbage_sent);
            let junk = format!("<<garbage {i}>> this is not JSON {{");
            write_ws(
                &mut self.ws,
                &mut self.out_pending,
                &mut self.fatal,
                Message::text(junk),
            );
        }
        match kind {
            Kind::Delivered => inc(&c.delivered_sent),
            Kind::Reply => inc(&c.replies_sent),
            Kind::Error => inc(&c.errors_sent),
            Kind::Other => {}
        }
        write_ws(
            &mut self.ws,
            &mut self.out_pending,
            &mut self.fatal,
            Message::text(text),
        );
    }

    fn error(&mut self, msg: &str) {
        self.send(Kind::Error, error_frame(msg));
    }

    /// Handles one received message; `Some` ends the connection.
    fn on_message(&mut self, msg: Message) -> Option<End> {
        let data = match msg {
            Message::Text(t) => Some(t),
            Message::Binary(_) => None,
            Message::Ping(_) | Message::Pong(_) => {
                self.last_rx = Instant::now();
                return None;
            }
            Message::Close(_) => {
                // tungstenite queued the close reply: send it and go
                self.flush_wait(Duration::from_millis(200));
                return Some(End::Gone);
            }
            Message::Frame(_) => return None,
        };
        self.last_rx = Instant::now();
        self.frames += 1;
        let c = &self.inner.counters;
        inc(&c.frames_received);
        let faults = &self.inner.faults;
        let drop_after = faults.drop_after.load(Ordering::Relaxed);
        if drop_after > 0 && self.frames >= drop_after {
            inc(&c.dropped_by_fault);
            // answers to earlier frames still go out; this one is not answered
            self.flush_nb();
            return Some(End::Abrupt);
        }
        if faults.is_black_hole() {
            return None;
        }
        match data {
            None => self.error("Binary frames are not supported: send JSON text frames"),
            Some(t) => self.on_text(t.as_str()),
        }
        None
    }

    fn on_text(&mut self, text: &str) {
        if !text.trim_start().starts_with('{') {
            if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
                self.error("Invalid frame: expected a JSON object {\"type\":..,\"payload\":..}");
            } else {
                self.error("Invalid frame: not valid JSON");
            }
            return;
        }
        let env: Envelope = match serde_json::from_str(text) {
            Ok(e) => e,
            Err(e) => {
                self.error(&format!("Invalid frame: not valid JSON ({e})"));
                return;
            }
        };
        let ty = match env.ty {
            Some(Value::String(s)) => s,
            Some(_) => {
                self.error("Invalid frame: `type` must be a string");
                return;
            }
            None => {
                self.error("Invalid frame: missing `type`");
                return;
            }
        };
        let c = &self.inner.counters;
        match ty.as_str() {
            "ping" => {
                inc(&c.pings);
                self.send(Kind::Other, r#"{"type":"pong"}"#.to_string());
            }
            "message.send" => self.message_send(env.payload),
            "thread.noticed" => match thread_id_of(env.payload) {
                Some(t) => {
                    inc(&c.noticed);
                    if let Some(st) = lock(&self.inner.threads).get_mut(&t) {
                        st.unnoticed = false;
                    }
                }
                None => self.error("thread.noticed: payload.threadId must be a non-empty string"),
            },
            "activity.user.typing" => match thread_id_of(env.payload) {
                Some(_) => inc(&c.typing),
                None => {
                    self.error("activity.user.typing: payload.threadId must be a non-empty string")
                }
            },
            "pong" => {}
            other => self.error(&format!("Unknown frame type `{other}`")),
        }
    }

    /// `message.send`: validated ([`parse_send`]), answered by the echo bot ([`bot_script`]),
    /// then recorded and sent ([`Conn::record_and_dispatch`]).
    fn message_send(&mut self, raw: Option<&RawValue>) {
        match parse_send(raw) {
            Ok(send) => {
                let script = bot_script(&send, self.inner.cfg.reply);
                self.record_and_dispatch(&send, script);
            }
            Err(msg) => self.error(&msg),
        }
    }

    /// Checks the nonce (when required), adopts a new secret, records the message and the
    /// reply in the thread's history, then sends the frames, or queues them behind the
    /// acknowledgement delay fault.
    fn record_and_dispatch(&mut self, send: &SendPayload, script: Script) {
        let sent_entry = format!(r#"{{"type":"message.send","payload":{}}}"#, send.raw.get());
        let thread = &send.thread;
        {
            let mut th = lock(&self.inner.threads);
            if self.inner.cfg.require_nonce {
                let want = th.get(thread).and_then(|t| t.secret.as_deref());
                if send.nonce.is_none() || send.nonce.as_deref() != want {
                    drop(th);
                    self.error("Invalid nonce");
                    return;
                }
            }
            if let Some(s) = &script.new_secret {
                th.entry(thread.clone()).or_default().secret = Some(s.clone());
            }
            match &script.reply {
                Some(r) => Inner::record(&mut th, thread, &[&sent_entry, r], true),
                None => Inner::record(&mut th, thread, &[&sent_entry], false),
            }
        }
        inc(&self.inner.counters.messages);
        if !self.threads.contains(thread) {
            self.threads.insert(thread.clone());
            lock(&self.shared.threads).insert(thread.clone());
        }
        let delay = self.inner.faults.ack_delay_value();
        if delay.is_zero() && self.delayed.is_empty() {
            for (k, f) in script.frames {
                self.send(k, f);
            }
        } else {
            let mut at = Instant::now() + delay;
            if let Some((last, _)) = self.delayed.back() {
                at = at.max(*last);
            }
            self.delayed.push_back((at, script.frames));
        }
    }
}

/// A `message.send` payload that passed validation.
struct SendPayload<'a> {
    /// The payload as sent: echoed in the acknowledgement and recorded.
    raw: &'a RawValue,
    thread: String,
    /// Empty for an attachment without text.
    speech: String,
    /// The attachment's `type` and `payload`.
    attachment: Option<(String, Value)>,
    nonce: Option<String>,
}

/// Validates a `message.send` payload the way Flow does; `Err` is the text of the `error`
/// frame to answer with.
fn parse_send(raw: Option<&RawValue>) -> Result<SendPayload<'_>, String> {
    let raw = raw.ok_or("message.send: missing `payload` object")?;
    let p: Value =
        serde_json::from_str(raw.get()).map_err(|e| format!("message.send: bad payload ({e})"))?;
    let obj = p
        .as_object()
        .ok_or("message.send: `payload` must be an object")?;
    let thread = match obj.get("threadId") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("message.send: payload.threadId must be a non-empty string".into()),
    };
    let attachment = match obj.get("attachment") {
        None | Some(Value::Null) => None,
        Some(a) => match a.get("type").and_then(Value::as_str) {
            Some(t) => Some((
                t.to_string(),
                a.get("payload").cloned().unwrap_or(Value::Null),
            )),
            None => {
                return Err(
                    "message.send: payload.attachment must be an object with a string `type`"
                        .into(),
                )
            }
        },
    };
    let speech = match obj.get("speech") {
        Some(Value::String(s)) => s.clone(),
        None if attachment.is_some() => String::new(),
        None => return Err("message.send: payload.speech is required (a string)".into()),
        Some(_) => return Err("message.send: payload.speech must be a string".into()),
    };
    if speech.is_empty() && attachment.is_none() {
        return Err("message.send: payload.speech must not be empty without an attachment".into());
    }
    if obj.get("traceId").is_some_and(|t| !t.is_number()) {
        return Err("message.send: payload.traceId must be a number".into());
    }
    for field in ["originator", "metadata"] {
        if obj
            .get(field)
            .is_some_and(|o| !o.is_object() && !o.is_null())
        {
            return Err(format!("message.send: payload.{field} must be an object"));
        }
    }
    Ok(SendPayload {
        raw,
        thread,
        speech,
        attachment,
        nonce: obj.get("nonce").and_then(Value::as_str).map(str::to_string),
    })
}

/// What the echo bot answers one message with.
struct Script {
    /// The frames in order, the acknowledgement first.
    frames: Vec<(Kind, String)>,
    /// The bot's reply, also recorded in the thread's history.
    reply: Option<String>,
    /// A new secret for the thread (speech `secret`), adopted when the message is accepted.
    new_secret: Option<String>,
}

/// The echo bot: the acknowledgement, then what the speech asks for (see the crate docs'
/// table of special speeches); no reply at all when `replies` is off.
fn bot_script(send: &SendPayload, replies: bool) -> Script {
    let special = send.speech.trim().to_ascii_lowercase();
    let (ack_ty, reply_ty) = if special == "activities" {
        ("activities.delivered", "activities.created")
    } else {
        ("message.delivered", "message.received")
    };
    let ack = format!(r#"{{"type":"{ack_ty}","payload":{}}}"#, send.raw.get());
    let tj = util::json_str(&send.thread);
    let mut frames: Vec<(Kind, String)> = vec![(Kind::Delivered, ack)];
    let new_secret = (special == "secret").then(|| util::random_hex(16));
    if let Some(s) = &new_secret {
        frames.push((
            Kind::Other,
            format!(
                r#"{{"type":"secret.generated","message":{{"secret":{}}}}}"#,
                util::json_str(s)
            ),
        ));
    }
    let mut reply = None;
    if special == "interrupt" {
        frames.push((
            Kind::Other,
            format!(r#"{{"type":"interruption.occurred","payload":{{"threadId":{tj}}}}}"#),
        ));
    } else if replies {
        if special == "typing" {
            frames.push((
                Kind::Other,
                format!(r#"{{"type":"agent.typing","payload":{{"threadId":{tj}}}}}"#),
            ));
        }
        let (text, responses) = reply_content(&send.speech, &special, send.attachment.as_ref());
        let r = reply_frame(reply_ty, &send.thread, &send.speech, &text, &responses);
        reply = Some(r.clone());
        frames.push((Kind::Reply, r));
    }
    Script {
        frames,
        reply,
        new_secret,
    }
}

/// Queues a message; WouldBlock means it is buffered and a flush is pending.
fn write_ws(ws: &mut WebSocket<Stream>, out_pending: &mut bool, fatal: &mut bool, m: Message) {
    match ws.write(m) {
        Ok(()) => {}
        Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => *out_pending = true,
        Err(_) => *fatal = true,
    }
}

fn thread_id_of(raw: Option<&RawValue>) -> Option<String> {
    #[derive(Deserialize)]
    struct P {
        #[serde(rename = "threadId")]
        thread_id: Option<Value>,
    }
    let p: P = serde_json::from_str(raw?.get()).ok()?;
    match p.thread_id {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// (fallback text, responses JSON list body) of the echo bot's reply.
fn reply_content(
    speech: &str,
    special: &str,
    attachment: Option<&(String, Value)>,
) -> (String, String) {
    if let Some((ty, p)) = attachment {
        let field = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| p.get(*k).and_then(value_text))
                .unwrap_or_else(|| "unknown".to_string())
        };
        let text = match ty.as_str() {
            "event" => format!("Event {} received", field(&["name"])),
            "flow" => format!(
                "Flow {} started",
                field(&["flowImmutableId", "flowId", "id"])
            ),
            "step" => format!("Step {} triggered", field(&["stepId", "id"])),
            other if speech.is_empty() => format!("Attachment {other} received"),
            _ => format!("You said: {speech}"),
        };
        let r = text_response(&text);
        return (text, r);
    }
    match special {
        "buttons" => {
            let text = "Pick one".to_string();
            let r = format!(
                r#"{},{{"type":"buttons","payload":{{"text":"Pick one","buttons":[{{"label":"Red","type":"text","value":"red"}},{{"label":"Blue","type":"text","value":"blue"}}]}},"delay":0}}"#,
                text_response(&text)
            );
            (text, r)
        }
        "quick replies" => {
            let text = "Yes or no?".to_string();
            let r = format!(
                r#"{{"type":"text","payload":{{"text":{},"quickReplies":[{{"label":"Yes","type":"text","value":"yes"}},{{"label":"No","type":"text","value":"no"}}]}},"delay":0}}"#,
                util::json_str(&text)
            );
            (text, r)
        }
        _ => {
            let text = format!("You said: {speech}");
            let r = text_response(&text);
            (text, r)
        }
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_string()).unwrap()
    }

    #[test]
    fn parse_send_names_what_is_wrong_and_accepts_an_attachment_alone() {
        let cases = [
            (r#"[]"#, "`payload` must be an object"),
            (r#"{"speech":"hi"}"#, "threadId must be a non-empty string"),
            (r#"{"threadId":"t"}"#, "speech is required"),
            (r#"{"threadId":"t","speech":""}"#, "must not be empty"),
            (
                r#"{"threadId":"t","speech":"a","traceId":"1"}"#,
                "traceId must be a number",
            ),
            (
                r#"{"threadId":"t","speech":"a","metadata":1}"#,
                "metadata must be an object",
            ),
            (r#"{"threadId":"t","attachment":{}}"#, "string `type`"),
        ];
        for (payload, why) in cases {
            let err = parse_send(Some(&raw(payload))).err().unwrap_or_default();
            assert!(err.contains(why), "{payload}: {err}");
        }
        assert!(parse_send(None).is_err());
        let payload =
            raw(r#"{"threadId":"t","attachment":{"type":"event","payload":{"name":"E"}}}"#);
        let send = parse_send(Some(&payload)).expect("an attachment needs no speech");
        assert_eq!((send.thread.as_str(), send.speech.as_str()), ("t", ""));
    }

    #[test]
    fn the_bot_script_acknowledges_first_and_follows_the_speech() {
        let script_of = |json: &str, replies: bool| {
            let payload = raw(json);
            let send = parse_send(Some(&payload)).unwrap();
            bot_script(&send, replies)
        };
        let s = script_of(r#"{"threadId":"t","speech":"hi"}"#, true);
        assert_eq!(s.frames.len(), 2);
        assert!(s.frames[0]
            .1
            .starts_with(r#"{"type":"message.delivered","payload":{"threadId""#));
        assert!(s
            .reply
            .as_deref()
            .is_some_and(|r| r.contains("You said: hi")));
        let s = script_of(r#"{"threadId":"t","speech":"Activities"}"#, true);
        assert!(s.frames[0].1.contains("activities.delivered"));
        assert!(s
            .reply
            .as_deref()
            .is_some_and(|r| r.contains("activities.created")));
        let s = script_of(r#"{"threadId":"t","speech":"interrupt"}"#, true);
        assert!(s.reply.is_none() && s.frames[1].1.contains("interruption.occurred"));
        let s = script_of(r#"{"threadId":"t","speech":"secret"}"#, false);
        assert!(s.reply.is_none() && s.new_secret.is_some());
        assert!(s.frames[1].1.contains("secret.generated"));
    }
}
