//! A faithful local Flow server: `socket.info`, the REST calls and the WebSocket on one port.
//!
//! ```
//! use flowai_emulator::{Emulator, EmulatorConfig};
//! let emu = Emulator::start(EmulatorConfig::default()).unwrap();
//! println!("base URL: {}", emu.base_url());
//! emu.stop();
//! ```
//!
//! The emulator deliberately does not use the client's protocol types (the crate does not
//! depend on `flowai-socket`): it reads and writes the frames from its own reading of the
//! protocol (`docs/protocol.md`), so the client's tests check the client's encoder and decoder
//! against an independent implementation, not against themselves.
//!
//! The server speaks HTTP (`GET /socket.info`, `GET /thread.history`, `GET /thread.unnoticed`,
//! `POST /thread.merger`, `POST /thread.upload`) and WebSocket (`GET /ws/<single-use token>`),
//! answers `message.send` with `message.delivered` and an echo-bot `message.received`, and has
//! fault knobs ([`Faults`]) for tests: drop connections, black-hole them, delay acks, refuse
//! `socket.info`, send garbage, push secrets.
//!
//! Special speeches make the echo bot produce every server event:
//!
//! | speech | after `message.delivered` |
//! |---|---|
//! | anything | `message.received` with the text `You said: <speech>` |
//! | (an `event` / `flow` / `step` attachment) | `Event <name> received` / `Flow <id> started` / `Step <id> triggered` |
//! | `buttons` | a reply with a text and a `buttons` response (Red / Blue) |
//! | `quick replies` | a text response with `quickReplies` (Yes / No) |
//! | `typing` | `agent.typing`, then the reply |
//! | `interrupt` | `interruption.occurred` instead of a reply |
//! | `secret` | `secret.generated` with a new nonce for the thread (adopted), then the reply |
//! | `activities` | the ack is `activities.delivered`, the reply `activities.created` |
//!
//! `GET /thread.history` answers the recorded frames of the thread (at most 1,000, oldest
//! first): `{"type":"message.send","payload":<sent payload>}`, the bot replies as sent, and
//! `{"type":"file.upload","payload":{..}}` for uploads.
//!
//! The server listens on 127.0.0.1 only (with TLS the URLs say `localhost`, for the
//! certificate name). A `socket.info` request with an `X-Forwarded-Host` header (and
//! optionally `X-Forwarded-Proto`) gets a WebSocket URL on that host and scheme instead, so a
//! relay or TLS terminator in front of the emulator keeps the client coming through it (the
//! fault-matrix tests rely on this).

#![deny(missing_docs)]

mod http;
mod stream;
mod util;
mod ws;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use util::WakePipe;

/// Most history entries kept per thread (older ones are dropped).
const HISTORY_PER_THREAD: usize = 1000;
/// Most threads whose history is recorded (secrets are always kept).
const MAX_HISTORY_THREADS: usize = 10_000;

/// Configuration of an [`Emulator`]; build it with the setters, starting from `default()`.
#[derive(Clone)]
pub struct EmulatorConfig {
    port: u16,
    url_ttl: Duration,
    idle_timeout: Duration,
    require_nonce: bool,
    reply: bool,
    tls: Option<(String, String)>,
    max_upload_bytes: usize,
    url_host: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            port: 0,
            url_ttl: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(50),
            require_nonce: false,
            reply: true,
            tls: None,
            max_upload_bytes: 1 << 20,
            url_host: None,
        }
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("port", &self.port)
            .field("url_ttl", &self.url_ttl)
            .field("idle_timeout", &self.idle_timeout)
            .field("require_nonce", &self.require_nonce)
            .field("reply", &self.reply)
            .field("tls", &self.tls.is_some())
            .field("max_upload_bytes", &self.max_upload_bytes)
            .finish()
    }
}

impl EmulatorConfig {
    /// TCP port on 127.0.0.1; 0 (the default) picks a free port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How long a single-use WebSocket URL from `socket.info` stays valid (default 60 s).
    pub fn url_ttl(mut self, ttl: Duration) -> Self {
        self.url_ttl = ttl;
        self
    }

    /// Close a WebSocket from which nothing was received for this long (default 50 s).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Nonce mode: `socket.info` hands out a per-thread secret that `message.send` and the
    /// REST calls must carry (default off).
    pub fn require_nonce(mut self, on: bool) -> Self {
        self.require_nonce = on;
        self
    }

    /// Send the echo-bot `message.received` after each `message.delivered` (default on;
    /// off is the benchmark "no-reply" mode).
    pub fn reply(mut self, on: bool) -> Self {
        self.reply = on;
        self
    }

    /// Serve TLS (`https://localhost:PORT`, `wss://localhost:PORT/...`) with this PEM
    /// certificate chain and PKCS#8 PEM private key. Fails if they cannot be loaded.
    pub fn tls(
        mut self,
        cert_chain_pem: &str,
        key_pkcs8_pem: &str,
    ) -> Result<Self, native_tls::Error> {
        native_tls::Identity::from_pkcs8(cert_chain_pem.as_bytes(), key_pkcs8_pem.as_bytes())?;
        self.tls = Some((cert_chain_pem.to_string(), key_pkcs8_pem.to_string()));
        Ok(self)
    }

    /// The host named in the WebSocket URLs `socket.info` hands out (default `127.0.0.1`,
    /// `localhost` with TLS): for example a name only a test proxy resolves, to see the
    /// WebSocket go through that proxy.
    pub fn url_host(mut self, host: &str) -> Self {
        self.url_host = Some(host.to_string());
        self
    }

    /// Largest `thread.upload` body accepted; bigger ones get HTTP 413 (default 1 MiB).
    pub fn max_upload_bytes(mut self, max: usize) -> Self {
        self.max_upload_bytes = max;
        self
    }
}

/// A snapshot of the emulator's counters (see [`Emulator::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// `socket.info` requests received.
    pub socket_info_requests: u64,
    /// `socket.info` requests answered with something other than a WebSocket URL.
    pub socket_info_refused: u64,
    /// WebSocket connections accepted.
    pub ws_connections: u64,
    /// WebSocket upgrades refused (unknown, reused or expired URL).
    pub ws_rejected: u64,
    /// WebSocket connections open right now.
    pub open_connections: u64,
    /// Data frames (text or binary) received on all WebSockets.
    pub frames_received: u64,
    /// `ping` frames received.
    pub pings: u64,
    /// `message.send` frames accepted.
    pub messages: u64,
    /// `message.delivered` / `activities.delivered` acks sent.
    pub delivered_sent: u64,
    /// Bot replies (`message.received` / `activities.created`) sent.
    pub replies_sent: u64,
    /// `error` frames sent.
    pub errors_sent: u64,
    /// Connections closed because they were idle.
    pub idle_closes: u64,
    /// Connections dropped by the `drop_after_frames` fault.
    pub dropped_by_fault: u64,
    /// REST requests (`thread.*`) received.
    pub rest_requests: u64,
    /// `thread.noticed` frames received.
    pub noticed: u64,
    /// `activity.user.typing` frames received.
    pub typing: u64,
    /// Garbage (non-JSON) frames sent by the `garbage_frames` fault.
    pub garbage_sent: u64,
    /// Time spent handling frames, in microseconds.
    pub busy_micros: u64,
}

#[derive(Default)]
struct Counters {
    socket_info_requests: AtomicU64,
    socket_info_refused: AtomicU64,
    ws_connections: AtomicU64,
    ws_rejected: AtomicU64,
    open_connections: AtomicU64,
    frames_received: AtomicU64,
    pings: AtomicU64,
    messages: AtomicU64,
    delivered_sent: AtomicU64,
    replies_sent: AtomicU64,
    errors_sent: AtomicU64,
    idle_closes: AtomicU64,
    dropped_by_fault: AtomicU64,
    rest_requests: AtomicU64,
    noticed: AtomicU64,
    typing: AtomicU64,
    garbage_sent: AtomicU64,
    busy_micros: AtomicU64,
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> Stats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            socket_info_requests: g(&self.socket_info_requests),
            socket_info_refused: g(&self.socket_info_refused),
            ws_connections: g(&self.ws_connections),
            ws_rejected: g(&self.ws_rejected),
            open_connections: g(&self.open_connections),
            frames_received: g(&self.frames_received),
            pings: g(&self.pings),
            messages: g(&self.messages),
            delivered_sent: g(&self.delivered_sent),
            replies_sent: g(&self.replies_sent),
            errors_sent: g(&self.errors_sent),
            idle_closes: g(&self.idle_closes),
            dropped_by_fault: g(&self.dropped_by_fault),
            rest_requests: g(&self.rest_requests),
            noticed: g(&self.noticed),
            typing: g(&self.typing),
            garbage_sent: g(&self.garbage_sent),
            busy_micros: g(&self.busy_micros),
        }
    }
}

/// What the last `socket.info` request carried (see [`Emulator::last_socket_info`]).
///
/// The id fields hold the value the server used: the query parameter when present and
/// non-empty, else the `x-flowai-*` header (a header value `"null"` counts as unset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketInfoRequest {
    /// `clientId` (query) or `x-flowai-clientid` (header).
    pub client_id: Option<String>,
    /// `sessionId` (query) or `x-flowai-sessionid` (header).
    pub session_id: Option<String>,
    /// `threadId` (query) or `x-flowai-threadid` (header).
    pub thread_id: Option<String>,
    /// `secret` (query) or `x-flowai-secret` (header).
    pub secret: Option<String>,
    /// `ott` (query) or `x-flowai-ott` (header).
    pub ott: Option<String>,
    /// Every query parameter, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Every request header, name lowercased, in order.
    pub headers: Vec<(String, String)>,
}

impl SocketInfoRequest {
    /// The value of query parameter `name` (exact name), if sent.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Runtime fault knobs of a running emulator (see [`Emulator::faults`]).
pub struct Faults {
    inner: Weak<Inner>,
    drop_after: AtomicU64,
    black_hole: AtomicBool,
    ack_delay_micros: AtomicU64,
    refuse: Mutex<(u16, u32)>,
    garbage: AtomicU32,
    socket_info_body: Mutex<Option<(u16, String, String)>>,
}

impl Faults {
    /// Close each WebSocket abruptly (TCP shutdown, no close frame) when it has received
    /// `n` frames; the n-th frame is not answered. Counted per connection; 0 turns it off.
    pub fn drop_after_frames(&self, n: u64) {
        self.drop_after.store(n, Ordering::SeqCst);
    }

    /// Stop answering anything on every WebSocket (frames are read and discarded, nothing is
    /// sent, idle connections are not closed) while `on`.
    pub fn black_hole(&self, on: bool) {
        self.black_hole.store(on, Ordering::SeqCst);
        if let Some(inner) = self.inner.upgrade() {
            inner.wake_all();
        }
    }

    /// Delay `message.delivered` and what follows it (the reply) by `d` (0 = off).
    pub fn ack_delay(&self, d: Duration) {
        self.ack_delay_micros
            .store(d.as_micros().min(u64::MAX as u128) as u64, Ordering::SeqCst);
    }

    /// Answer the next `count` `socket.info` requests with HTTP `status` and a JSON error.
    pub fn refuse_socket_info(&self, status: u16, count: u32) {
        *lock(&self.refuse) = (status, count);
    }

    /// Send `n` garbage (non-JSON) text frames before the next outgoing frame.
    pub fn garbage_frames(&self, n: u32) {
        self.garbage.store(n, Ordering::SeqCst);
    }

    /// Make every `socket.info` answer exactly this `(status, body, content type)` until
    /// called with `None` (to test HTML answers, missing endpoints, bad URLs...).
    pub fn socket_info_body(&self, answer: Option<(u16, String, &str)>) {
        *lock(&self.socket_info_body) = answer.map(|(s, b, c)| (s, b, c.to_string()));
    }

    /// Adopt `secret` as the nonce of `thread_id` and push
    /// `{"type":"secret.generated","message":{"secret":..}}` to that thread's open connections.
    /// Returns how many connections it was pushed to.
    pub fn push_secret(&self, thread_id: &str, secret: &str) -> usize {
        let Some(inner) = self.inner.upgrade() else {
            return 0;
        };
        inner.set_secret(thread_id, secret);
        let frame = format!(
            r#"{{"type":"secret.generated","message":{{"secret":{}}}}}"#,
            util::json_str(secret)
        );
        inner.push_to_thread(thread_id, vec![(ws::Kind::Other, frame)])
    }

    /// Sends this text frame, exactly as given, to the open connections of `thread_id` (to see
    /// how a client takes frames of any type or shape); returns how many connections it reached.
    pub fn push_frame(&self, thread_id: &str, text: &str) -> usize {
        let Some(inner) = self.inner.upgrade() else {
            return 0;
        };
        inner.push_to_thread(thread_id, vec![(ws::Kind::Other, text.to_string())])
    }

    /// Turn every fault off.
    pub fn reset(&self) {
        self.drop_after_frames(0);
        self.black_hole(false);
        self.ack_delay(Duration::ZERO);
        self.refuse_socket_info(0, 0);
        self.garbage_frames(0);
        self.socket_info_body(None);
    }

    fn ack_delay_value(&self) -> Duration {
        Duration::from_micros(self.ack_delay_micros.load(Ordering::Relaxed))
    }

    fn is_black_hole(&self) -> bool {
        self.black_hole.load(Ordering::Relaxed)
    }

    /// Takes one refusal if any is pending.
    fn take_refusal(&self) -> Option<u16> {
        let mut r = lock(&self.refuse);
        if r.1 > 0 {
            r.1 -= 1;
            Some(r.0)
        } else {
            None
        }
    }
}

struct Token {
    expires: Instant,
    thread_id: Option<String>,
}

#[derive(Default)]
struct ThreadState {
    secret: Option<String>,
    history: VecDeque<String>,
    unnoticed: bool,
}

/// The part of a WebSocket connection other threads can reach (for pushes).
struct ConnShared {
    outbox: Mutex<Vec<(ws::Kind, String)>>,
    wake: WakePipe,
    threads: Mutex<HashSet<String>>,
}

pub(crate) struct Inner {
    cfg: EmulatorConfig,
    port: u16,
    tls: Option<native_tls::TlsAcceptor>,
    shutdown: AtomicBool,
    shutdown_pipe: WakePipe,
    counters: Counters,
    faults: Faults,
    tokens: Mutex<HashMap<String, Token>>,
    threads: Mutex<HashMap<String, ThreadState>>,
    conns: Mutex<HashMap<u64, Arc<ConnShared>>>,
    streams: Mutex<HashMap<u64, TcpStream>>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    next_id: AtomicU64,
    last_origin: Mutex<Option<String>>,
    last_socket_info: Mutex<Option<SocketInfoRequest>>,
    waiters: AtomicUsize,
    wait_lock: Mutex<()>,
    wait_cv: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Wakes `wait_for` callers after counters changed.
    fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = lock(&self.wait_lock);
            self.wait_cv.notify_all();
        }
    }

    fn wake_all(&self) {
        for c in lock(&self.conns).values() {
            c.wake.wake();
        }
    }

    /// The base of the WebSocket URLs this server hands out when a request says nothing else:
    /// `ws://127.0.0.1:PORT`, or `wss://localhost:PORT` with TLS (the certificate's name); the host
    /// is [`EmulatorConfig::url_host`] when set.
    fn own_ws_base(&self) -> String {
        let (scheme, host) = if self.tls.is_some() {
            ("wss", "localhost")
        } else {
            ("ws", "127.0.0.1")
        };
        let host = self.cfg.url_host.as_deref().unwrap_or(host);
        format!("{scheme}://{host}:{}", self.port)
    }

    /// A fresh single-use WebSocket URL under `ws_base` (`ws[s]://host:port`).
    fn mint_url(&self, thread_id: Option<String>, ws_base: &str) -> String {
        let token = util::random_hex(16);
        let now = Instant::now();
        {
            let mut t = lock(&self.tokens);
            t.retain(|_, v| v.expires > now);
            t.insert(
                token.clone(),
                Token {
                    expires: now + self.cfg.url_ttl,
                    thread_id,
                },
            );
        }
        format!("{ws_base}/ws/{token}")
    }

    /// Consumes a token: `Some(thread)` if it was valid.
    fn take_token(&self, token: &str) -> Option<Option<String>> {
        let t = lock(&self.tokens).remove(token)?;
        if t.expires > Instant::now() {
            Some(t.thread_id)
        } else {
            None
        }
    }

    fn secret_of(&self, thread: &str) -> Option<String> {
        lock(&self.threads)
            .get(thread)
            .and_then(|t| t.secret.clone())
    }

    /// The thread's secret, made up the first time.
    fn ensure_secret(&self, thread: &str) -> String {
        let mut th = lock(&self.threads);
        let st = th.entry(thread.to_string()).or_default();
        st.secret
            .get_or_insert_with(|| util::random_hex(16))
            .clone()
    }

    fn set_secret(&self, thread: &str, secret: &str) {
        lock(&self.threads)
            .entry(thread.to_string())
            .or_default()
            .secret = Some(secret.to_string());
    }

    /// Queues frames on every open connection of `thread`; returns how many connections.
    fn push_to_thread(&self, thread: &str, frames: Vec<(ws::Kind, String)>) -> usize {
        let mut n = 0;
        for c in lock(&self.conns).values() {
            if lock(&c.threads).contains(thread) {
                lock(&c.outbox).extend(frames.iter().cloned());
                c.wake.wake();
                n += 1;
            }
        }
        n
    }

    /// Records history entries (JSON texts) for a thread. `replied` marks it unnoticed.
    fn record(
        th: &mut HashMap<String, ThreadState>,
        thread: &str,
        entries: &[&str],
        replied: bool,
    ) {
        let len = th.len();
        let st = match th.get_mut(thread) {
            Some(st) => st,
            None => {
                if len >= MAX_HISTORY_THREADS {
                    return;
                }
                th.entry(thread.to_string()).or_default()
            }
        };
        for e in entries {
            if st.history.len() >= HISTORY_PER_THREAD {
                st.history.pop_front();
            }
            st.history.push_back((*e).to_string());
        }
        if replied {
            st.unnoticed = true;
        }
    }
}

/// A running emulator. Dropping it stops it (like [`Emulator::stop`]).
pub struct Emulator {
    inner: Arc<Inner>,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url())
            .field("config", &self.inner.cfg)
            .finish()
    }
}

impl Emulator {
    /// Binds 127.0.0.1:`cfg.port` and starts serving in background threads.
    pub fn start(cfg: EmulatorConfig) -> io::Result<Emulator> {
        let tls = match &cfg.tls {
            None => None,
            Some((cert, key)) => {
                let id = native_tls::Identity::from_pkcs8(cert.as_bytes(), key.as_bytes())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                Some(
                    native_tls::TlsAcceptor::new(id)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
                )
            }
        };
        let listener = TcpListener::bind(("127.0.0.1", cfg.port))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let shutdown_pipe = WakePipe::new()?;
        let inner = Arc::new_cyclic(|weak| Inner {
            cfg,
            port,
            tls,
            shutdown: AtomicBool::new(false),
            shutdown_pipe,
            counters: Counters::default(),
            faults: Faults {
                inner: weak.clone(),
                drop_after: AtomicU64::new(0),
                black_hole: AtomicBool::new(false),
                ack_delay_micros: AtomicU64::new(0),
                refuse: Mutex::new((0, 0)),
                garbage: AtomicU32::new(0),
                socket_info_body: Mutex::new(None),
            },
            tokens: Mutex::new(HashMap::new()),
            threads: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            streams: Mutex::new(HashMap::new()),
            handles: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            last_origin: Mutex::new(None),
            last_socket_info: Mutex::new(None),
            waiters: AtomicUsize::new(0),
            wait_lock: Mutex::new(()),
            wait_cv: Condvar::new(),
        });
        let i2 = inner.clone();
        let accept = std::thread::Builder::new()
            .name(format!("flowai-emu-accept-{port}"))
            .spawn(move || accept_loop(i2, listener))?;
        Ok(Emulator {
            inner,
            accept: Some(accept),
        })
    }

    /// The TCP port it listens on.
    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` with TLS.
    pub fn base_url(&self) -> String {
        if self.inner.tls.is_some() {
            format!("https://localhost:{}", self.inner.port)
        } else {
            format!("http://127.0.0.1:{}", self.inner.port)
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.cfg
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// The fault knobs; they act on the running server.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Waits until `pred` holds for the counters or `timeout` passes; true if it held.
    pub fn wait_for(&self, pred: impl Fn(&Stats) -> bool, timeout: Duration) -> bool {
        let inner = &self.inner;
        let deadline = Instant::now() + timeout;
        inner.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let mut g = lock(&inner.wait_lock);
        let ok = loop {
            if pred(&inner.counters.snapshot()) {
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            g = inner
                .wait_cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        drop(g);
        inner.waiters.fetch_sub(1, Ordering::SeqCst);
        ok
    }

    /// The `Origin` header of the last WebSocket upgrade request (`None` if it had none).
    pub fn last_origin(&self) -> Option<String> {
        lock(&self.inner.last_origin).clone()
    }

    /// What the last `socket.info` request carried.
    pub fn last_socket_info(&self) -> Option<SocketInfoRequest> {
        lock(&self.inner.last_socket_info).clone()
    }

    /// Mints a single-use WebSocket URL without a `socket.info` request (bound to `thread_id`
    /// for pushes, if given).
    pub fn mint_ws_url(&self, thread_id: Option<&str>) -> String {
        self.inner
            .mint_url(thread_id.map(str::to_string), &self.inner.own_ws_base())
    }

    /// The current secret (nonce) of a thread, if it has one.
    pub fn thread_secret(&self, thread_id: &str) -> Option<String> {
        self.inner.secret_of(thread_id)
    }

    /// The recorded history of a thread: JSON frames (`message.send` with the sent payload,
    /// the bot replies, uploads), oldest first, at most 1,000.
    pub fn history(&self, thread_id: &str) -> Vec<serde_json::Value> {
        lock(&self.inner.threads)
            .get(thread_id)
            .map(|t| {
                t.history
                    .iter()
                    .filter_map(|s| serde_json::from_str(s).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stops: closes the listener and every connection and joins all threads.
    pub fn stop(self) {
        drop(self)
    }

    fn shutdown_now(&mut self) {
        let inner = &self.inner;
        inner.shutdown.store(true, Ordering::SeqCst);
        inner.shutdown_pipe.wake();
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        // WebSocket loops see the shutdown pipe; shutting the sockets down unblocks HTTP ones.
        for s in lock(&inner.streams).values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let handles = std::mem::take(&mut *lock(&inner.handles));
        for h in handles {
            let _ = h.join();
        }
        inner.notify();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    let lfd = listener.as_raw_fd();
    let sfd = inner.shutdown_pipe.fd();
    let mut backoff = None;
    loop {
        util::poll_fds(&[(lfd, libc::POLLIN), (sfd, libc::POLLIN)], backoff);
        if inner.is_shutdown() {
            break;
        }
        backoff = None;
        loop {
            match listener.accept() {
                Ok((s, _)) => spawn_conn(&inner, s),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // e.g. out of fds: wait a little (still waking up for shutdown)
                    log::warn!("emulator: accept failed: {e}");
                    backoff = Some(Duration::from_millis(20));
                    break;
                }
            }
        }
        lock(&inner.handles).retain(|h| !h.is_finished());
    }
    // the listener is dropped here, freeing the port
}

fn spawn_conn(inner: &Arc<Inner>, s: TcpStream) {
    let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
    let _ = s.set_nonblocking(false);
    let _ = s.set_nodelay(true);
    match s.try_clone() {
        Ok(c) => {
            lock(&inner.streams).insert(id, c);
        }
        Err(_) => return,
    }
    let i2 = inner.clone();
    let r = std::thread::Builder::new()
        .name(format!("flowai-emu-conn-{id}"))
        .spawn(move || {
            http::serve(&i2, id, s);
            lock(&i2.streams).remove(&id);
            i2.notify();
        });
    match r {
        Ok(h) => lock(&inner.handles).push(h),
        Err(_) => {
            if let Some(s) = lock(&inner.streams).remove(&id) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}
