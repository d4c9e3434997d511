//! The I/O thread: owns the WebSocket, writes queued frames, reads and decodes incoming
//! ones, and reconnects with backoff when the connection is lost.

use super::backoff;
use super::event::Event;
use super::shared::{Link, Shared};
use super::waker::poll;
use crate::error::Result;
use crate::handshake::{self, Ids, Socket};
use crate::protocol::{decode, Inbound};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::Message as WsMessage;

/// Largest part of a bad frame kept in a [`Event::ProtocolError`].
const RAW_KEEP: usize = 64 * 1024;

/// How a connection ended.
enum End {
    /// `close()` was called.
    Closing,
    /// Lost: reconnect (unless configured not to).
    Lost(String),
}

/// Opens one connection: a fresh `socket.info` (URLs are single use), then the WebSocket.
pub(crate) fn establish(shared: &Shared) -> Result<Socket> {
    let cfg = &shared.cfg;
    let secret = shared.lock().secrets.get(&cfg.thread_id).cloned();
    let ids = Ids {
        client_id: &cfg.client_id,
        session_id: &cfg.session_id,
        thread_id: &cfg.thread_id,
        secret: secret.as_deref(),
        ott: cfg.ott.as_deref(),
    };
    let info = handshake::fetch_socket_info(&shared.http, cfg, ids)?;
    if let Some(secret) = info.secret {
        adopt_secret(shared, secret);
    }
    handshake::connect_websocket(cfg, &info.endpoint)
}

/// Keeps a new secret for the configured thread and, when it changed, saves the state file
/// (a failed save is logged: the connection goes on).
fn adopt_secret(shared: &Shared, secret: String) {
    let thread = &shared.cfg.thread_id;
    let previous = shared.lock().secrets.insert(thread.clone(), secret.clone());
    if previous.as_ref() != Some(&secret) {
        if let Err(e) = save_state(shared) {
            log::warn!("flowai: {e}");
        }
    }
}

/// Writes the state file, if one is configured.
pub(crate) fn save_state(shared: &Shared) -> Result<()> {
    crate::state::persist(&shared.cfg, || shared.lock().secrets.clone())
}

/// The thread body: serve the connection, reconnect after losses, stop on close or a final
/// error.
pub(crate) fn run(shared: Arc<Shared>, first: Socket) {
    let mut socket = Some(first);
    let mut generation = 0u64;
    let mut attempt = 0u32;
    let mut immediate = false;
    let reason = loop {
        if let Some(s) = socket.take() {
            generation += 1;
            let rx_before = shared.last_rx_us.load(Ordering::Acquire);
            let end = serve(&shared, s, generation);
            // A connection that carried frames was healthy: the backoff starts over and the
            // first attempt goes at once. One that carried nothing keeps the backoff growing,
            // so a server that accepts and drops at once is not hammered.
            if shared.last_rx_us.load(Ordering::Acquire) != rx_before {
                attempt = 0;
                immediate = true;
            }
            match end {
                End::Closing => break "closed by the user".to_string(),
                End::Lost(reason) => {
                    log::warn!("flowai: connection lost: {reason}");
                    let lost = {
                        let mut st = shared.lock();
                        st.link = Link::Down;
                        st.control.clear();
                        st.outbox.rewind()
                    };
                    shared.emit(Event::Disconnected {
                        reason: reason.clone(),
                    });
                    for trace_id in lost {
                        shared.emit(Event::NotDelivered { trace_id });
                    }
                    shared.delivered.notify_all();
                    if !shared.cfg.reconnect {
                        break format!("connection lost and reconnect is off: {reason}");
                    }
                }
            }
        }
        if shared.is_closing() {
            break "closed by the user".to_string();
        }
        attempt += 1;
        if let Some(max) = shared.cfg.backoff.max_attempts {
            if attempt > max {
                break format!("gave up after {max} reconnect attempts");
            }
        }
        let delay = if std::mem::take(&mut immediate) {
            Duration::ZERO
        } else {
            backoff::delay(&shared.cfg.backoff, attempt)
        };
        shared.emit(Event::Reconnecting { attempt, delay });
        if !sleep_unless_closing(&shared, delay) {
            break "closed by the user".to_string();
        }
        match establish(&shared) {
            Ok(s) => socket = Some(s),
            Err(e) if e.is_final() => break format!("reconnect refused: {e}"),
            Err(e) => log::info!("flowai: reconnect attempt {attempt} failed: {e}"),
        }
    };
    if !shared.is_closing() {
        shared.emit(Event::Closed {
            reason: reason.clone(),
        });
    }
    shared.stop(reason);
}

/// Sleeps for `delay` unless the client closes first; false when it closed.
fn sleep_unless_closing(shared: &Shared, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    let mut st = shared.lock();
    while !shared.is_closing() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        st = shared
            .sleepers
            .wait_timeout(st, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    false
}

/// Marks connection `generation` up and queues [`Event::Connected`].
pub(crate) fn announce_connected(shared: &Shared, generation: u64) {
    shared.lock().link = Link::Up(generation);
    shared.emit(Event::Connected {
        session_id: shared.cfg.session_id.clone(),
    });
}

/// Drives one connection until it ends.
fn serve(shared: &Shared, mut ws: Socket, generation: u64) -> End {
    // The first connection is announced by `Client::connect` before it returns.
    if generation > 1 {
        announce_connected(shared, generation);
    }
    let sock_fd = handshake::tcp_of(&ws).as_raw_fd();
    let mut batch = Vec::new();
    let mut write_blocked_since: Option<Instant> = None;
    loop {
        shared.waker.reset();
        if shared.is_closing() {
            let _ = ws.close(None);
            let _ = ws.flush();
            return End::Closing;
        }
        // 1. Take every queued frame and write it in one batch.
        {
            let mut st = shared.lock();
            if let Some((gen, reason)) = st.dead.take() {
                if gen == generation {
                    return End::Lost(reason);
                }
            }
            batch.extend(st.control.drain(..).map(Into::into));
            st.outbox.take_unwritten(&mut batch);
        }
        for frame in batch.drain(..) {
            match ws.write(WsMessage::text(&*frame)) {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return End::Lost(format!("write failed: {e}")),
            }
        }
        let write_pending = match ws.flush() {
            Ok(()) => false,
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => true,
            Err(e) => return End::Lost(format!("write failed: {e}")),
        };
        if write_pending {
            let since = *write_blocked_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= shared.cfg.io_timeout {
                return End::Lost(format!("write blocked for {:?}", shared.cfg.io_timeout));
            }
        } else {
            write_blocked_since = None;
        }
        // 2. Read every frame available, as long as the event queue has room.
        let paused = loop {
            if !shared.has_event_room() {
                break true;
            }
            match ws.read() {
                Ok(msg) => {
                    shared.mark_rx();
                    if let Err(reason) = handle(shared, msg) {
                        return End::Lost(reason);
                    }
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    break false
                }
                Err(e) => return End::Lost(read_error(shared, e)),
            }
        };
        shared.paused.store(paused, Ordering::SeqCst);
        if paused && shared.has_event_room() {
            // The user took events between the check and the flag: read on, or the wake
            // that `recv` sends only when it sees the flag would be lost.
            continue;
        }
        // 3. Sleep until the socket or the waker has something for us.
        let timeout_ms = match write_blocked_since {
            Some(since) => shared
                .cfg
                .io_timeout
                .saturating_sub(since.elapsed())
                .as_millis()
                .clamp(1, i32::MAX as u128) as i32,
            None => -1,
        };
        if let Err(e) = poll(
            sock_fd,
            !paused,
            write_pending,
            shared.waker.fd(),
            timeout_ms,
        ) {
            return End::Lost(format!("poll failed: {e}"));
        }
    }
}

/// Describes a read failure; a too-large frame is also reported as a protocol error event.
fn read_error(shared: &Shared, e: tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Capacity(c) => {
            let error = format!(
                "frame over the size limit of {} bytes: {c}",
                shared.cfg.max_message_size
            );
            shared.emit(Event::ProtocolError {
                error: error.clone(),
                raw: String::new(),
            });
            error
        }
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            "connection closed".into()
        }
        other => format!(
            "read failed: {}",
            handshake::ws_error(other, shared.cfg.io_timeout)
        ),
    }
}

fn keep(raw: &str) -> String {
    let mut end = raw.len().min(RAW_KEEP);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    raw[..end].to_string()
}

/// Turns one WebSocket message into events; Err ends the connection.
fn handle(shared: &Shared, msg: WsMessage) -> std::result::Result<(), String> {
    let text = match msg {
        WsMessage::Text(t) => t,
        WsMessage::Binary(b) => {
            shared.emit(Event::ProtocolError {
                error: format!(
                    "binary frame of {} bytes (the protocol uses text frames)",
                    b.len()
                ),
                raw: keep(&String::from_utf8_lossy(&b)),
            });
            return Ok(());
        }
        WsMessage::Close(frame) => {
            return Err(match frame {
                Some(f) => format!("server closed the connection ({}: {})", f.code, f.reason),
                None => "server closed the connection".into(),
            })
        }
        WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => return Ok(()),
    };
    let event = match decode(&text) {
        Ok(inbound) => match inbound {
            Inbound::Pong => return Ok(()),
            Inbound::Delivered {
                delivered,
                activities,
            } => {
                if let Some(trace) = delivered.trace_id {
                    if shared.lock().outbox.ack(trace) {
                        shared.delivered.notify_all();
                    }
                }
                if activities {
                    Event::ActivitiesDelivered(delivered)
                } else {
                    Event::Delivered(delivered)
                }
            }
            Inbound::Reply { reply, activities } => {
                if activities {
                    Event::ActivitiesCreated(reply)
                } else {
                    Event::Reply(reply)
                }
            }
            Inbound::AgentTyping(p) => Event::AgentTyping(p),
            Inbound::SecretGenerated(secret) => {
                adopt_secret(shared, secret.clone());
                Event::SecretGenerated { secret }
            }
            Inbound::Interruption(p) => Event::Interruption(p),
            Inbound::ServerError(message) => Event::ServerError { message },
            Inbound::Unknown(v) => Event::Unknown(v),
        },
        Err(e) => Event::ProtocolError {
            error: e.reason,
            raw: keep(&text),
        },
    };
    shared.emit(event);
    Ok(())
}

/// The first connection, for `Client::connect`: retryable failures are retried with the
/// configured backoff while the connect timeout lasts; the last error is returned.
pub(crate) fn first_connect(shared: &Shared) -> Result<Socket> {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        let error = match establish(shared) {
            Ok(socket) => return Ok(socket),
            Err(e) if e.is_final() => return Err(e),
            Err(e) => e,
        };
        attempt += 1;
        let delay = backoff::delay(&shared.cfg.backoff, attempt);
        let out_of_attempts = shared
            .cfg
            .backoff
            .max_attempts
            .is_some_and(|max| attempt > max);
        if out_of_attempts || started.elapsed() + delay >= shared.cfg.connect_timeout {
            return Err(error);
        }
        log::info!("flowai: connect attempt {attempt} failed ({error}); retrying in {delay:?}");
        std::thread::sleep(delay);
    }
}
