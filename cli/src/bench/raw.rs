//! The raw baseline of `flowai bench`: the same `message.send` frames written with
//! tungstenite directly on one blocking socket, no library on top. `socket.info` and the
//! WebSocket handshake use the crate's handshake functions; after that it is a plain loop:
//! write a window of frames, flush, read acknowledgements until the window is acknowledged.

use super::sys::Samples;
use flowai_socket::handshake::{self, RequestIds, Socket};
use flowai_socket::protocol::Outbound;
use flowai_socket::{Config, Message, TraceId};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tungstenite::Message as WsMessage;

/// What the raw loop measured.
#[derive(Debug, Clone, Default)]
pub struct RawResult {
    /// Distinct traceIds acknowledged.
    pub delivered: u64,
    /// Wall time from the first write to the last acknowledgement.
    pub elapsed: Duration,
    /// One-at-a-time round trips (write one frame, flush, read until its acknowledgement).
    pub rtt: Samples,
    /// Time the emulator spent handling frames during the pipelined part, when known.
    pub emulator_busy: Option<Duration>,
    /// CPU seconds the raw loop's own thread used in the pipelined part.
    pub cpu_s: f64,
}

impl RawResult {
    /// Acknowledged messages per second.
    pub fn msgs_per_sec(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The least a hand-written client decodes from an incoming frame: its type and traceId.
#[derive(Deserialize)]
struct Frame<'a> {
    /// `message.delivered`, `pong`, …
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    /// Only the traceId is read; every other field is skipped.
    #[serde(default)]
    payload: Option<Payload>,
}

/// The part of an acknowledgement's payload the raw loop needs.
#[derive(Deserialize)]
struct Payload {
    /// The echoed traceId.
    #[serde(rename = "traceId")]
    trace_id: Option<u64>,
}

/// Reads frames until an acknowledgement of a traceId in `range` arrives.
fn read_ack(
    ws: &mut Socket,
    range: std::ops::Range<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    loop {
        let text = match ws.read()? {
            WsMessage::Text(t) => t,
            WsMessage::Close(_) => return Err("the server closed the raw connection".into()),
            _ => continue,
        };
        let frame: Frame<'_> = serde_json::from_str(text.as_str())?;
        if frame.kind == "message.delivered" || frame.kind == "activities.delivered" {
            let trace = frame.payload.and_then(|p| p.trace_id).unwrap_or(0);
            if range.contains(&trace) {
                return Ok(());
            }
        }
    }
}

/// Sends `round_trips` frames one at a time (after a warm-up), then `messages` copies of
/// `template` (each with its own traceId) in windows of `window`, counting
/// `message.delivered` acknowledgements. `stall` bounds each blocking read; `busy_micros`
/// reads the emulator's busy counter (None for a real server).
pub fn run(
    busy_micros: &dyn Fn() -> Option<u64>,
    cfg: &Config,
    template: &Message,
    round_trips: usize,
    messages: u64,
    window: u64,
    stall: Duration,
) -> Result<RawResult, Box<dyn std::error::Error>> {
    let cfg = cfg.settings();
    let transport = handshake::Transport::new(cfg)?;
    let ids = RequestIds {
        client_id: cfg.client_id(),
        session_id: cfg.session_id(),
        thread_id: cfg.thread_id(),
        secret: None,
        ott: None,
    };
    let info = handshake::fetch_socket_info(&transport, cfg, ids, cfg.connect_timeout())?;
    let mut ws =
        handshake::connect_websocket(&transport, cfg, &info.endpoint, cfg.connect_timeout())?;
    // The crate hands the socket over non-blocking (for its poll loop); the baseline is the
    // simplest blocking loop instead.
    let tcp = handshake::tcp_of(&ws);
    tcp.set_nonblocking(false)?;
    tcp.set_read_timeout(Some(stall))?;
    tcp.set_write_timeout(Some(stall))?;

    let mut message = template.clone();
    if message.thread_id.is_empty() {
        message.thread_id = cfg.thread_id().to_string();
    }
    message.nonce = info.secret.clone();
    let frame_for = |trace: u64| {
        let mut m = message.clone();
        m.trace_id = Some(TraceId(trace));
        WsMessage::text(Outbound::MessageSend(m).to_json())
    };
    let mut next = 1_000_000_000u64;
    let warmup = (round_trips / 10).clamp(1, 200);
    let mut rtt = Samples::with_capacity(round_trips);
    for i in 0..warmup + round_trips {
        let frame = frame_for(next);
        let t0 = Instant::now();
        ws.write(frame)?;
        ws.flush()?;
        read_ack(&mut ws, next..next + 1)?;
        if i >= warmup {
            rtt.push(t0.elapsed());
        }
        next += 1;
    }
    let first = next;
    let window = window.max(1);
    let mut delivered = 0u64;
    let busy0 = busy_micros();
    let cpu0 = super::sys::thread_cpu_seconds();
    let start = Instant::now();
    while next < first + messages {
        let batch_start = next;
        let batch_end = (next + window).min(first + messages);
        while next < batch_end {
            ws.write(frame_for(next))?;
            next += 1;
        }
        ws.flush()?;
        for _ in batch_start..batch_end {
            read_ack(&mut ws, batch_start..batch_end)?;
            delivered += 1;
        }
    }
    let elapsed = start.elapsed();
    let cpu_s = super::sys::thread_cpu_seconds() - cpu0;
    let emulator_busy = busy_micros()
        .zip(busy0)
        .map(|(b, b0)| Duration::from_micros(b.saturating_sub(b0)));
    let _ = ws.close(None);
    let _ = ws.flush();
    Ok(RawResult {
        delivered,
        elapsed,
        rtt,
        emulator_busy,
        cpu_s,
    })
}
