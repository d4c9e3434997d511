//! The I/O thread: owns the WebSocket, writes queued frames, reads and decodes incoming
//! ones, and reconnects with backoff when the connection is lost.

use super::backoff;
use super::event::Event;
use super::queue::keep;
use super::shared::{Link, Shared};
use crate::error::{Error, Result};
use crate::handshake::{self, Ids, Socket};
use crate::protocol::{decode_control, Inbound};
use crate::transport::poll;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::Message as WsMessage;

/// How a connection ended.
enum End {
    /// `close()` was called.
    Closing,
    /// Lost: reconnect (unless configured not to).
    Lost(String),
    /// The client was stopped by another thread (a panic there); it has said why.
    Stopped,
}

/// Opens one connection: a fresh `socket.info` (URLs are single use), then the WebSocket, both
/// within one deadline (every phase of both: DNS, TCP, proxy, TLS, the HTTP exchange, the
/// upgrade), and interrupted by `close()`.
pub(crate) fn establish(shared: &Shared, deadline: Instant) -> Result<Socket> {
    let cfg = &shared.cfg;
    let secret = shared.lock().secrets.get(&cfg.thread_id).cloned();
    let ids = Ids {
        client_id: &cfg.client_id,
        session_id: &cfg.session_id,
        thread_id: &cfg.thread_id,
        secret: secret.as_deref(),
        ott: cfg.ott.as_deref(),
    };
    let limit = shared.transport.limit_until(deadline, cfg.connect_timeout);
    let info = handshake::socket_info(&shared.transport, cfg, ids, &limit)?;
    if let Some(secret) = info.secret {
        adopt_secret(shared, secret);
    }
    handshake::websocket(&shared.transport, cfg, &info.endpoint, &limit)
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
            let progress_before = shared.progress.load(Ordering::Acquire);
            let end = serve(&shared, s, generation);
            // A connection that acknowledged messages or answered pings was healthy: the
            // backoff starts over and the first attempt goes at once. One that did neither
            // (accepted and dropped, or only sent an error) keeps the backoff growing, so such
            // a server is not hammered.
            if shared.progress.load(Ordering::Acquire) != progress_before {
                attempt = 0;
                immediate = true;
            }
            match end {
                End::Closing => break "closed by the user".to_string(),
                End::Stopped => return,
                End::Lost(reason) => {
                    log::warn!("flowai: connection lost: {reason}");
                    let lost = {
                        let mut st = shared.lock();
                        st.link = Link::Down;
                        st.control.clear();
                        let st = &mut *st;
                        let lost = st.outbox.rewind();
                        st.outbox.refresh_nonces(&st.secrets);
                        lost
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
        if shared.is_halted() {
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
        #[cfg(feature = "test-hooks")]
        crate::test_hooks::maybe_panic(&shared.cfg.client_id, "io");
        match establish(&shared, Instant::now() + shared.cfg.connect_timeout) {
            Ok(_) | Err(_) if shared.is_halted() => break "closed by the user".to_string(),
            Ok(s) => socket = Some(s),
            Err(e) if e.is_final() => break format!("reconnect refused: {e}"),
            Err(e) => log::info!("flowai: reconnect attempt {attempt} failed: {e}"),
        }
    };
    shared.finish(reason);
}

/// Sleeps for `delay` unless the client closes or stops first; false when it did.
fn sleep_unless_closing(shared: &Shared, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    let mut st = shared.lock();
    while !shared.is_closing() && !matches!(st.link, Link::Stopped(_)) {
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
    {
        let mut st = shared.lock();
        if matches!(st.link, Link::Stopped(_)) {
            return;
        }
        st.link = Link::Up(generation);
    }
    log::debug!(
        "flowai: connected to {} (connection {generation})",
        crate::secret::redact_url(&shared.cfg.base_url)
    );
    shared.emit(Event::Connected {
        session_id: shared.cfg.session_id.clone(),
    });
}

/// Writes every queued frame (control frames first, then the outbox's unwritten messages, in
/// order) and flushes. `Ok(true)` when the socket could not take everything yet.
fn write_queued(shared: &Shared, ws: &mut Socket) -> std::result::Result<bool, String> {
    let batch = {
        let mut st = shared.lock();
        let mut batch: Vec<Arc<str>> = st.control.drain(..).map(Into::into).collect();
        st.outbox.take_unwritten(&mut batch);
        batch
    };
    for frame in batch {
        match ws.write(WsMessage::text(&*frame)) {
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("write failed: {e}")),
        }
    }
    match ws.flush() {
        Ok(()) => Ok(false),
        Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(true),
        Err(e) => Err(format!("write failed: {e}")),
    }
}

/// The fast path of a lone `send()`: when the I/O thread is not using the socket, the caller
/// writes the frame itself, saving the wake-up of the I/O thread. False when it could not
/// (socket busy, disconnected, or not everything written): the caller then wakes the I/O
/// thread, which finishes the job or notices the failure.
pub(crate) fn write_directly(shared: &Shared) -> bool {
    let Ok(mut guard) = shared.socket.try_lock() else {
        return false;
    };
    match guard.as_mut() {
        Some(ws) => matches!(write_queued(shared, ws), Ok(false)),
        None => false,
    }
}

/// Drives one connection until it ends. The socket lives in `shared.socket` meanwhile, so a
/// lone `send()` can write on it while this thread sleeps in `poll`.
fn serve(shared: &Shared, ws: Socket, generation: u64) -> End {
    // The first connection is announced by `Client::connect` before it returns.
    if generation > 1 {
        announce_connected(shared, generation);
    }
    let sock_fd = handshake::tcp_of(&ws).as_raw_fd();
    *shared.socket() = Some(ws);
    let end = serve_socket(shared, sock_fd, generation);
    shared.socket().take();
    end
}

fn serve_socket(shared: &Shared, sock_fd: RawFd, generation: u64) -> End {
    let mut write_blocked_since: Option<Instant> = None;
    loop {
        shared.waker.reset();
        #[cfg(feature = "test-hooks")]
        crate::test_hooks::maybe_panic(&shared.cfg.client_id, "io");
        {
            let mut st = shared.lock();
            if matches!(st.link, Link::Stopped(_)) {
                return End::Stopped;
            }
            if let Some((gen, reason)) = st.dead.take() {
                if gen == generation {
                    return End::Lost(reason);
                }
            }
        }
        let mut guard = shared.socket();
        let Some(ws) = guard.as_mut() else {
            // Only a panic in another thread takes it, after stopping the client.
            return End::Stopped;
        };
        if shared.is_closing() {
            let _ = ws.close(None);
            let _ = ws.flush();
            return End::Closing;
        }
        // 1. Write every queued frame in one batch.
        let write_pending = match write_queued(shared, ws) {
            Ok(pending) => pending,
            Err(reason) => return End::Lost(reason),
        };
        if write_pending {
            let since = *write_blocked_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= shared.cfg.io_timeout {
                return End::Lost(format!("write blocked for {:?}", shared.cfg.io_timeout));
            }
        } else {
            write_blocked_since = None;
        }
        // 2. Read what is available, whatever the event queue holds (acknowledgements and
        //    pongs must not wait for the user), up to a batch so that a server that never
        //    pauses cannot starve the writes, the close check and the dead-peer verdict.
        let mut read = ReadBatch::default();
        let more = loop {
            if read.full() {
                break true;
            }
            match ws.read() {
                Ok(msg) => {
                    shared.mark_rx();
                    read.count(&msg);
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
        drop(guard);
        if more {
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
        if let Err(e) = poll(sock_fd, true, write_pending, shared.waker.fd(), timeout_ms) {
            return End::Lost(format!("poll failed: {e}"));
        }
    }
}

/// Frames and bytes read in one round of the I/O loop.
#[derive(Default)]
struct ReadBatch {
    frames: usize,
    bytes: usize,
}

impl ReadBatch {
    /// Most frames read in one round before the loop writes and checks again.
    const FRAMES: usize = 1024;
    /// Most bytes read in one round.
    const BYTES: usize = 4 << 20;

    fn count(&mut self, msg: &WsMessage) {
        self.frames += 1;
        self.bytes += msg.len();
    }

    fn full(&self) -> bool {
        self.frames >= Self::FRAMES || self.bytes >= Self::BYTES
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

/// Acts on one WebSocket message: acknowledgements, pongs and secrets take effect now;
/// every event is offered to the queue (frames as their text). Err ends the connection.
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
    let Some(inbound) = decode_control(&text) else {
        shared.emit_frame(&text);
        return Ok(());
    };
    match inbound {
        Inbound::Pong => {
            shared.progress.fetch_add(1, Ordering::AcqRel);
            if shared.cfg.pong_events {
                shared.emit(Event::Pong);
            }
        }
        Inbound::Delivered {
            delivered,
            activities,
        } => {
            // Acknowledge first, then queue the event, then wake the waiters: a
            // `wait_delivered` blocked on it returns with its `Delivered` already queued, and
            // the user woken by the event does not meet this thread in the state lock.
            let acked = delivered.trace_id.is_some_and(|trace| {
                let thread = delivered.thread_id.as_deref();
                shared.lock().outbox.ack(trace, thread)
            });
            shared.emit(Event::from_inbound(Inbound::Delivered {
                delivered,
                activities,
            }));
            if acked {
                shared.progress.fetch_add(1, Ordering::AcqRel);
                shared.delivered.notify_all();
            }
        }
        Inbound::SecretGenerated(secret) => {
            adopt_secret(shared, secret.clone());
            shared.emit(Event::SecretGenerated { secret });
        }
        other => shared.emit(Event::from_inbound(other)),
    }
    Ok(())
}

/// The first connection, for `Client::connect`: retryable failures are retried with the
/// configured backoff while the connect timeout lasts; the last error is returned.
pub(crate) fn first_connect(shared: &Shared) -> Result<Socket> {
    let deadline = Instant::now() + shared.cfg.connect_timeout;
    let mut attempt = 0;
    let mut earlier: Option<Error> = None;
    loop {
        let error = match establish(shared, deadline) {
            Ok(socket) => return Ok(socket),
            Err(e) if e.is_final() => return Err(e),
            // A retry cut short by the deadline says less than the failure that caused it.
            Err(Error::Timeout(_)) if earlier.is_some() => {
                return Err(earlier
                    .take()
                    .unwrap_or(Error::Timeout(shared.cfg.connect_timeout)))
            }
            Err(Error::Timeout(_)) => Error::Timeout(shared.cfg.connect_timeout),
            Err(e) => e,
        };
        attempt += 1;
        let delay = backoff::delay(&shared.cfg.backoff, attempt);
        let out_of_attempts = shared
            .cfg
            .backoff
            .max_attempts
            .is_some_and(|max| attempt > max);
        if out_of_attempts || Instant::now() + delay >= deadline {
            return Err(error);
        }
        log::info!("flowai: connect attempt {attempt} failed ({error}); retrying in {delay:?}");
        earlier = Some(error);
        std::thread::sleep(delay);
    }
}
