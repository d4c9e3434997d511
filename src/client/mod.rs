//! The blocking client: [`Client::connect`] starts an I/O thread and a keepalive thread;
//! every method may be called from any thread.

mod connection;
mod dispatch;
mod event;
mod keepalive;
mod outbox;
mod queue;
mod reconnect;
mod shared;
mod waker;

pub use dispatch::Dispatcher;
pub use event::Event;
pub(crate) use event::EventKind;

use crate::config::{Config, Settings};
use crate::error::{Error, Result};
use crate::protocol::{Message, Originator, Outbound, TraceId};
use shared::{Link, Locked, Shared};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::Utf8Bytes;

/// Longest single condvar wait; longer waits loop (and "for ever" never overflows a clock).
const MAX_WAIT_SLICE: Duration = Duration::from_secs(3600);

/// The official SDK sends `thread.noticed` at most this often per thread.
const NOTICED_THROTTLE: Duration = Duration::from_secs(5);

/// A connection to Flow. `Send + Sync`: share it with `Arc` and call `send`, `recv`,
/// `wait_delivered` and `close` from any thread. Dropping it closes it.
///
/// ```no_run
/// use flowai_socket::{Client, Config, Event, Message};
/// use std::time::Duration;
/// let client = Client::connect(Config::new("my-client-id").thread_id("jane.doe"))?;
/// let trace = client.send(Message::text("Hi there!"))?;
/// client.wait_delivered(trace, Duration::from_secs(5))?;
/// while let Some(event) = client.recv_timeout(Duration::from_secs(5))? {
///     if let Event::Reply(reply) = event {
///         println!("bot: {}", reply.text());
///         break;
///     }
/// }
/// client.close()?;
/// # Ok::<(), flowai_socket::Error>(())
/// ```
pub struct Client {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    noticed_at: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("thread_id", &self.shared.cfg.thread_id)
            .field("session_id", &self.shared.cfg.session_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Validates the config, fetches `socket.info`, opens the WebSocket (all bounded by the
    /// connect timeout) and starts the threads. The first event is [`Event::Connected`].
    pub fn connect(cfg: Config) -> Result<Client> {
        cfg.validate()?;
        let (cfg, secrets) = crate::state_file::prepare(cfg.into_settings())?;
        let transport = crate::handshake::Transport::new(&cfg)?;
        let (stopped_tx, stopped_rx) = crossbeam_channel::bounded(0);
        let shared = Arc::new(Shared {
            locked: Mutex::new(Locked {
                outbox: outbox::Outbox::new(cfg.max_outbox, cfg.outbox, &cfg.thread_id),
                control: VecDeque::new(),
                link: Link::Down,
                dead: None,
                secrets,
                delivery_waiters: 0,
            }),
            transport,
            socket: Mutex::new(None),
            delivered: Condvar::new(),
            sleepers: Condvar::new(),
            waker: waker::Waker::new()?,
            events: queue::EventQueue::new(cfg.max_queued_events, cfg.max_queued_bytes),
            carried: Mutex::new(None),
            stopped_tx: Mutex::new(Some(stopped_tx)),
            stopped_rx,
            closing: AtomicBool::new(false),
            last_rx_us: AtomicU64::new(0),
            epoch: Instant::now(),
            next_trace: crate::ids::TraceIds::new(crate::ids::first_trace_id()),
            progress: AtomicU64::new(0),
            cfg,
        });
        let socket = reconnect::first_connect(&shared)?;
        shared.save_state()?;
        shared.announce_connected(1);
        let client = Client {
            shared: shared.clone(),
            threads: Mutex::new(Vec::new()),
            noticed_at: Mutex::new(HashMap::new()),
        };
        // Each thread body runs under a panic guard: a panic ends the client like a final
        // error (Event::Closed naming it, every blocked call released), never silently.
        client.spawn("flowai-io", "I/O", move |s| reconnect::run(s, socket))?;
        if let Some(every) = shared.cfg.keepalive_interval {
            // On failure the client is dropped, which closes it and joins the I/O thread.
            client.spawn("flowai-keepalive", "keepalive", move |s| {
                keepalive::run(s, every)
            })?;
        }
        Ok(client)
    }

    /// Starts a thread of this client, its body guarded against panics.
    fn spawn(
        &self,
        name: &str,
        role: &'static str,
        body: impl FnOnce(Arc<Shared>) + Send + 'static,
    ) -> Result<()> {
        let shared = self.shared.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                if let Err(panic) = crate::error::catch_panic(|| body(shared.clone())) {
                    shared.fail_after_panic(role, &panic);
                }
            })?;
        self.threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(thread);
        Ok(())
    }

    /// The settings in use: the config it connected with, after the state file (if any)
    /// chose the threadId and sessionId.
    pub fn settings(&self) -> &Settings {
        &self.shared.cfg
    }

    /// The default threadId of this client.
    pub fn thread_id(&self) -> &str {
        &self.shared.cfg.thread_id
    }

    /// The sessionId of this client (kept across reconnects).
    pub fn session_id(&self) -> &str {
        &self.shared.cfg.session_id
    }

    /// The transport and config for the REST calls (`crate::rest`); fails after `close()`.
    pub(crate) fn rest_parts(&self) -> Result<(&crate::handshake::Transport, &Settings)> {
        if self.shared.is_closing() {
            return Err(Error::AlreadyClosed);
        }
        Ok((&self.shared.transport, &self.shared.cfg))
    }

    /// The nonce known for a thread, if any.
    pub fn secret(&self, thread_id: &str) -> Option<String> {
        self.shared.lock().secrets.get(thread_id).cloned()
    }

    /// True while the WebSocket is open.
    pub fn is_connected(&self) -> bool {
        matches!(self.shared.lock().link, Link::Up(_))
    }

    /// Number of messages waiting for their `message.delivered`.
    pub fn pending(&self) -> usize {
        self.shared.lock().outbox.len()
    }

    /// Number of events waiting to be received.
    pub fn queued_events(&self) -> usize {
        let carried = self
            .shared
            .carried
            .lock()
            .map_or(0, |c| usize::from(c.is_some()));
        self.shared.events.len() + carried
    }

    /// Bytes held by the events waiting to be received (bounded by
    /// [`Config::max_queued_bytes`]).
    pub fn queued_bytes(&self) -> usize {
        self.shared.events.bytes()
    }

    fn check_open(&self) -> Result<()> {
        if self.shared.is_closing() {
            return Err(Error::AlreadyClosed);
        }
        if let Link::Stopped(reason) = &self.shared.lock().link {
            return Err(Error::ConnectionClosed(reason.clone()));
        }
        Ok(())
    }

    /// Queues a `message.send` and returns its traceId at once. Empty threadId and missing
    /// originator are filled from the config, the traceId is assigned when absent (unique and
    /// increasing per client) and the thread's nonce is added when one is known. While
    /// disconnected the message waits in the outbox and goes out after the reconnect.
    pub fn send(&self, mut message: Message) -> Result<TraceId> {
        self.check_open()?;
        if message.thread_id.is_empty() {
            message.thread_id = self.shared.cfg.thread_id.clone();
        }
        if message.originator.is_none() {
            message.originator = Some(self.shared.cfg.originator.clone());
        }
        message.validate().map_err(Error::InvalidArgument)?;
        let trace = *message
            .trace_id
            .get_or_insert_with(|| self.shared.next_trace.next());
        let mut nonce_added = false;
        if message.nonce.is_none() {
            message.nonce = self.secret(&message.thread_id);
            nonce_added = message.nonce.is_some();
        }
        let frame = Utf8Bytes::from(Outbound::message_send_json(&message));
        // A message whose nonce the client added is kept (moved, not copied), so a re-send
        // after a new secret can carry the new one.
        let (thread, nonced) = if nonce_added {
            (message.thread_id.clone(), Some(Box::new(message)))
        } else {
            (message.thread_id, None)
        };
        let alone = {
            let mut st = self.shared.lock();
            st.outbox.push(trace, &thread, frame, nonced)?;
            st.outbox.len() == 1 && st.control.is_empty()
        };
        // A lone message goes out on this thread when the socket is free; messages sent in
        // a burst are left to the I/O thread, which writes them in batches.
        if !(alone && connection::write_directly(&self.shared)) {
            self.shared.waker.wake();
        }
        Ok(trace)
    }

    /// Sends a message given as JSON: either the `message.send` payload object or the whole
    /// frame `{"type": "message.send", "payload": {…}}`. It is checked like [`Client::send`].
    pub fn send_json(&self, json: &str) -> Result<TraceId> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::InvalidArgument(format!("message is not valid JSON: {e}")))?;
        let payload = match value.get("type") {
            Some(t) if t == "message.send" => value.get("payload").cloned().unwrap_or_default(),
            Some(t) => {
                return Err(Error::InvalidArgument(format!(
                    "only message.send frames can be sent as JSON, not {t}"
                )))
            }
            None => value,
        };
        if payload
            .get("threadId")
            .and_then(|t| t.as_str())
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(Error::InvalidArgument(
                "message has an empty threadId".into(),
            ));
        }
        let message: Message = serde_json::from_value(payload)
            .map_err(|e| Error::InvalidArgument(format!("not a message.send payload: {e}")))?;
        self.send(message)
    }

    /// Queues a control frame (written once, not kept across reconnects).
    fn send_control(&self, frame: Outbound) -> Result<()> {
        self.check_open()?;
        self.shared.lock().control.push_back(frame.to_json());
        self.shared.waker.wake();
        Ok(())
    }

    /// Tells the server the user has seen the thread (`thread.noticed`; empty threadId: the
    /// configured one). Throttled like the official SDK: at most one per thread every 5 s
    /// unless `instantly`. Returns whether a frame was queued.
    pub fn noticed(&self, thread_id: &str, instantly: bool) -> Result<bool> {
        let thread_id = if thread_id.is_empty() {
            self.thread_id()
        } else {
            thread_id
        };
        {
            let mut last = self.noticed_at.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if let Some(at) = last.get(thread_id) {
                if !instantly && now.duration_since(*at) < NOTICED_THROTTLE {
                    return Ok(false);
                }
            }
            last.insert(thread_id.to_string(), now);
        }
        self.send_control(Outbound::ThreadNoticed {
            thread_id: thread_id.to_string(),
        })?;
        Ok(true)
    }

    /// Tells the server the user is typing (`activity.user.typing`) in the configured thread;
    /// `None` uses the configured originator.
    pub fn user_typing(&self, originator: Option<Originator>) -> Result<()> {
        let cfg = &self.shared.cfg;
        self.send_control(Outbound::UserTyping {
            client_id: cfg.client_id.clone(),
            thread_id: cfg.thread_id.clone(),
            originator: originator.unwrap_or_else(|| cfg.originator.clone()),
        })
    }

    /// Blocks until the message with this traceId is acknowledged by `message.delivered`, or
    /// `timeout` passes ([`Error::Timeout`]). Keeps waiting across reconnects. Returns at once
    /// for a traceId that is not waiting (already delivered, or never sent).
    pub fn wait_delivered(&self, trace: TraceId, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, |st| {
            if st.outbox.was_lost(trace) {
                Some(Err(Error::NotDelivered(trace.0)))
            } else if !st.outbox.is_pending(trace) {
                Some(Ok(()))
            } else {
                None
            }
        })
    }

    /// Blocks until every queued message is acknowledged, or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, |st| (st.outbox.len() == 0).then_some(Ok(())))
    }

    fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&Locked) -> Option<Result<()>>,
    ) -> Result<()> {
        // A timeout too large for the clock (`Duration::MAX` as "for ever") means no deadline.
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.shared.lock();
        loop {
            if let Some(result) = done(&st) {
                return result;
            }
            if self.shared.is_closing() {
                return Err(Error::AlreadyClosed);
            }
            if let Link::Stopped(reason) = &st.link {
                return Err(Error::ConnectionClosed(reason.clone()));
            }
            let left = deadline.map_or(MAX_WAIT_SLICE, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                return Err(Error::Timeout(timeout));
            }
            st.delivery_waiters += 1;
            st = self
                .shared
                .delivered
                .wait_timeout(st, left.min(MAX_WAIT_SLICE))
                .unwrap_or_else(|p| p.into_inner())
                .0;
            st.delivery_waiters -= 1;
        }
    }

    /// Takes the next event without blocking; `Ok(None)` when none is queued.
    pub fn try_recv(&self) -> Result<Option<Event>> {
        match self.shared.take_event() {
            Some(e) => Ok(Some(e)),
            None => self.check_open().map(|()| None),
        }
    }

    /// Blocks up to `timeout` for the next event; `Ok(None)` on timeout. After the client
    /// stops, the events still queued are returned first, then the error.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>> {
        if let Some(e) = self.try_recv()? {
            return Ok(Some(e));
        }
        crossbeam_channel::select! {
            recv(self.shared.events.receiver()) -> e => {
                Ok(e.ok().map(|e| self.shared.events.accept(e)))
            }
            recv(self.shared.stopped_rx) -> _ => self.try_recv()?.map_or_else(
                || self.check_open().map(|()| None),
                |e| Ok(Some(e)),
            ),
            default(timeout) => Ok(None),
        }
    }

    /// Blocks until the next event; an error once the client has stopped and nothing is left.
    pub fn recv(&self) -> Result<Event> {
        loop {
            if let Some(e) = self.recv_timeout(Duration::from_secs(3600))? {
                return Ok(e);
            }
        }
    }

    /// Iterates over events, blocking for each; ends when the client stops.
    pub fn events(&self) -> Events<'_> {
        Events { client: self }
    }

    /// Closes the connection (a WebSocket close frame when connected) and joins the threads.
    /// First every blocked call on the client (`recv`, `wait_delivered`, `flush`, on any
    /// thread, in a [`Dispatcher`] handler too) is woken and returns
    /// [`Error::AlreadyClosed`]; then the threads are joined. Prompt whatever the keepalive
    /// interval and whatever a reconnect is doing (a DNS lookup, a TCP connect, a proxy, TLS
    /// or WebSocket handshake, `socket.info`, a backoff sleep: each waits on the client's
    /// cancel signal); REST calls in flight on other threads return [`Error::AlreadyClosed`].
    /// Callable from any thread, including from inside a handler; idempotent; also done on
    /// drop. Messages not yet acknowledged are not waited for: call [`Client::flush`] first
    /// for that.
    pub fn close(&self) -> Result<()> {
        if self.shared.closing.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Taking the lock once orders the flag before any waiter's check-then-wait, so no
        // sleeper can miss the notifications `stop` sends (it also wakes blocked `recv`s).
        drop(self.shared.lock());
        self.shared.stop("closed by the user".into());
        self.shared.waker.wake();
        self.shared.transport.cancel();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in threads {
            // A log callback on one of these threads may close the client: never join itself.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
        Ok(())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Blocking iterator over a client's events, from [`Client::events`].
pub struct Events<'a> {
    client: &'a Client,
}

impl Iterator for Events<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.client.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn client_is_send_and_sync() {
        assert_send_sync::<super::Client>();
    }
}
