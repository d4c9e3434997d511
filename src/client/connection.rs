//! One connection: serve one open WebSocket until it ends. Writes the queued frames (control
//! frames, then the outbox's), reads what arrives and decodes it into events, and sleeps in
//! `poll(2)` on the socket and the waker in between. Whether and how to connect again is
//! not decided here but in [`reconnect`](super::reconnect), which calls [`serve`].

use super::event::Event;
use super::queue::keep;
use super::shared::{Link, Shared};
use crate::handshake::{self, Socket};
use crate::protocol::{decode_control, Inbound};
use crate::transport::poll;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;

use std::time::Instant;
use tungstenite::{Message as WsMessage, Utf8Bytes};

/// How a connection ended.
pub(crate) enum End {
    /// `close()` was called.
    Closing,
    /// Lost: reconnect (unless configured not to).
    Lost(String),
    /// The client was stopped by another thread (a panic there); it has said why.
    Stopped,
}

/// Writes every queued frame (control frames first, then the outbox's unwritten messages, in
/// order) and flushes. `Ok(true)` when the socket could not take everything yet.
fn write_queued(shared: &Shared, ws: &mut Socket) -> std::result::Result<bool, String> {
    let batch = {
        let mut st = shared.lock();
        let mut batch: Vec<Utf8Bytes> = st.control.drain(..).map(Into::into).collect();
        st.outbox.take_unwritten(&mut batch);
        batch
    };
    for frame in batch {
        match ws.write(WsMessage::Text(frame)) {
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

/// Drives connection `generation` until it ends. The socket lives in `shared.socket`
/// meanwhile, so a lone `send()` can write on it while this thread sleeps in `poll`.
pub(crate) fn serve(shared: &Shared, ws: Socket, generation: u64) -> End {
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
            let (acked, waiters) = match delivered.trace_id {
                Some(trace) => {
                    let mut st = shared.lock();
                    let acked = st.outbox.ack(trace, delivered.thread_id.as_deref());
                    (acked, st.delivery_waiters > 0)
                }
                None => (false, false),
            };
            shared.emit(Event::from_inbound(Inbound::Delivered {
                delivered,
                activities,
            }));
            if acked {
                shared.progress.fetch_add(1, Ordering::AcqRel);
                // Waiters count themselves under the state lock before they sleep, so one
                // that saw this message still pending is counted here.
                if waiters {
                    shared.delivered.notify_all();
                }
            }
        }
        Inbound::SecretGenerated(secret) => {
            shared.adopt_secret(secret.clone());
            shared.emit(Event::SecretGenerated { secret });
        }
        other => shared.emit(Event::from_inbound(other)),
    }
    Ok(())
}
