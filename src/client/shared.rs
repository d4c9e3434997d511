//! State shared by the client handle, the I/O thread and the keepalive thread.

use super::event::Event;
use super::outbox::Outbox;
use super::queue::{EventQueue, Item};
use super::waker::Waker;
use crate::config::Settings;
use crate::handshake::{Socket, Transport};
use crossbeam_channel::{Receiver, Sender};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Where the connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    /// Connected; the number counts connections since the client started.
    Up(u64),
    /// Between connections (backoff or a reconnect attempt).
    Down,
    /// Stopped for good, with the reason.
    Stopped(String),
}

/// The part of [`Shared`] behind its one mutex ([`Shared::lock`]): what the threads change
/// together. (Not the state file, which is `crate::state_file`.)
pub(crate) struct Locked {
    pub(crate) outbox: Outbox,
    /// Frames written once and forgotten: pings, thread.noticed, typing.
    pub(crate) control: VecDeque<String>,
    pub(crate) link: Link,
    /// Set by the keepalive thread: the connection with this number is dead.
    pub(crate) dead: Option<(u64, String)>,
    /// Nonce per threadId.
    pub(crate) secrets: HashMap<String, String>,
    /// Callers blocked on `delivered` (`wait_delivered`, `flush`): an acknowledgement wakes
    /// them only when there are some, so a client nobody waits on makes no syscall per ack.
    pub(crate) delivery_waiters: usize,
}

/// Shared by every thread of one client.
pub(crate) struct Shared {
    pub(crate) cfg: Settings,
    /// DNS, TCP, proxy, TLS and HTTP for `socket.info`, REST and the WebSocket; its cancel
    /// signal is triggered by `close()`.
    pub(crate) transport: Transport,
    /// The open WebSocket, while connected. The I/O thread holds it except while it sleeps in
    /// `poll`; a lone `send()` may then write on it directly.
    pub(crate) socket: Mutex<Option<Socket>>,
    pub(crate) locked: Mutex<Locked>,
    /// Notified on acknowledgements and when the client stops (for `wait_delivered`).
    pub(crate) delivered: Condvar,
    /// Notified when closing (for the keepalive and backoff sleeps).
    pub(crate) sleepers: Condvar,
    pub(crate) waker: Waker,
    /// Events for the user, bounded by count and bytes.
    pub(crate) events: EventQueue,
    /// An event a stopping dispatcher had already taken: handed out before the queue.
    pub(crate) carried: Mutex<Option<Event>>,
    /// Dropped when the client stops, which wakes every blocked `recv`.
    pub(crate) stopped_tx: Mutex<Option<Sender<()>>>,
    pub(crate) stopped_rx: Receiver<()>,
    pub(crate) closing: AtomicBool,
    /// Microseconds since `epoch` when the last frame arrived.
    pub(crate) last_rx_us: AtomicU64,
    pub(crate) epoch: Instant,
    pub(crate) next_trace: crate::ids::TraceIds,
    /// Counts signs that a connection works end to end: acknowledgements of queued messages
    /// and answered pings. Decides whether a reconnect may skip the backoff.
    pub(crate) progress: AtomicU64,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Locked> {
        // A panic while holding the lock leaves consistent data (every update is one step),
        // so a poisoned lock is still used rather than spreading the panic.
        self.locked.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn socket(&self) -> MutexGuard<'_, Option<Socket>> {
        self.socket.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the next event: a carried-over one first, then the queue's.
    pub(crate) fn take_event(&self) -> Option<Event> {
        self.take_carried().or_else(|| self.events.try_take())
    }

    /// Takes the carried-over event, if any.
    pub(crate) fn take_carried(&self) -> Option<Event> {
        self.carried
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Keeps an event taken but not handed over, to be handed out before the queue.
    pub(crate) fn carry(&self, event: Event) {
        *self.carried.lock().unwrap_or_else(|p| p.into_inner()) = Some(event);
    }

    /// Queues an event for the user when it fits (see [`EventQueue::offer`]).
    pub(crate) fn emit(&self, event: Event) {
        self.events.offer(Item::Event(event));
    }

    /// Queues a server frame as its text, decoded when taken, when it fits.
    pub(crate) fn emit_frame(&self, text: &str) {
        self.events.offer(Item::Frame(text.into()));
    }

    /// Queues the last event of the client whatever the limits.
    pub(crate) fn emit_last(&self, event: Event) {
        self.events.force(Item::Event(event));
    }

    /// Marks connection `generation` up and queues [`Event::Connected`].
    pub(crate) fn announce_connected(&self, generation: u64) {
        {
            let mut st = self.lock();
            if matches!(st.link, Link::Stopped(_)) {
                return;
            }
            st.link = Link::Up(generation);
        }
        log::debug!(
            "flowai: connected to {} (connection {generation})",
            crate::secret::redact_url(&self.cfg.base_url)
        );
        self.emit(Event::Connected {
            session_id: self.cfg.session_id.clone(),
        });
    }

    /// Keeps a new secret for the configured thread (from `socket.info` or a
    /// `secret.generated` frame) and, when it changed, saves the state file (a failed save is
    /// logged: the connection goes on).
    pub(crate) fn adopt_secret(&self, secret: String) {
        let thread = &self.cfg.thread_id;
        let previous = self.lock().secrets.insert(thread.clone(), secret.clone());
        if previous.as_ref() != Some(&secret) {
            if let Err(e) = self.save_state() {
                log::warn!("flowai: {e}");
            }
        }
    }

    /// Writes the state file, if one is configured.
    pub(crate) fn save_state(&self) -> crate::error::Result<()> {
        crate::state_file::persist(&self.cfg, || self.lock().secrets.clone())
    }

    pub(crate) fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub(crate) fn mark_rx(&self) {
        self.last_rx_us.store(self.now_us(), Ordering::Release);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// True once the client is closing or has stopped: threads leave their loops.
    pub(crate) fn is_halted(&self) -> bool {
        self.is_closing() || matches!(self.lock().link, Link::Stopped(_))
    }

    /// Ends the client for `reason` (the first call wins): queues [`Event::Closed`] unless
    /// `close()` was called, marks it stopped and wakes every waiter.
    pub(crate) fn finish(&self, reason: String) {
        {
            let mut st = self.lock();
            if matches!(st.link, Link::Stopped(_)) {
                return;
            }
            st.link = Link::Stopped(reason.clone());
            // Queued under the lock: nobody sees the stopped client before its last event.
            if !self.is_closing() {
                self.emit_last(Event::Closed { reason });
            }
        }
        self.release_waiters();
    }

    /// A client thread panicked: end the client like a final error would, and make the I/O
    /// thread leave whatever it is doing (its poll, a connect, a backoff sleep).
    pub(crate) fn fail_after_panic(&self, thread: &str, panic: &str) {
        self.finish(format!(
            "internal error: the {thread} thread panicked: {panic}"
        ));
        self.waker.wake();
        self.transport.cancel();
        // The socket closes now (the I/O thread may be the one that panicked).
        drop(self.socket().take());
    }

    /// Marks the client stopped: wakes `recv` and `wait_delivered` callers.
    pub(crate) fn stop(&self, reason: String) {
        {
            let mut st = self.lock();
            if !matches!(st.link, Link::Stopped(_)) {
                st.link = Link::Stopped(reason);
            }
        }
        self.release_waiters();
    }

    fn release_waiters(&self) {
        self.delivered.notify_all();
        self.sleepers.notify_all();
        self.stopped_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}
