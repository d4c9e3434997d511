//! Client configuration: a builder with validated values and sensible defaults.

use crate::error::{Error, Result};
use crate::ids;
use crate::protocol::Originator;
use crate::secret::Secret;
use crate::state::SessionPolicy;
use crate::transport::proxy::{Proxy, ProxySetting};
use crate::transport::url::is_loopback_host;
use crate::transport::Target;
use std::path::PathBuf;
use std::time::Duration;

/// Longest keepalive interval, timeout or backoff accepted (longer ones are surely mistakes,
/// and would overflow clock arithmetic when near `Duration::MAX`).
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Default of [`Config::max_queued_bytes`]: 64 MiB.
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 64 << 20;

/// The public Flow service.
pub const DEFAULT_BASE_URL: &str = "https://sdk.flow.ai";

/// How reconnect attempts are spaced: exponential backoff with full jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Delay ceiling of the first retry (default 100 ms).
    pub min: Duration,
    /// Largest delay (default 20 s).
    pub max: Duration,
    /// Most attempts after a failure before giving up, for the first connect (after its
    /// first try) and after a lost connection alike; a connection that worked starts the
    /// count over. `None` retries for ever (default).
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(20),
            max_attempts: None,
        }
    }
}

/// Everything a [`Client`](crate::Client) needs. Build with [`Config::new`] and the setters;
/// it is checked by [`Config::validate`] when the client connects.
///
/// ```
/// use flowai_socket::Config;
/// use std::time::Duration;
/// let cfg = Config::new("my-client-id")
///     .base_url("http://127.0.0.1:8080")
///     .thread_id("jane.doe")
///     .keepalive_interval(Some(Duration::from_secs(25)));
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) client_id: String,
    pub(crate) base_url: String,
    pub(crate) thread_id: String,
    pub(crate) session_id: String,
    pub(crate) originator: Originator,
    pub(crate) origin: Option<String>,
    pub(crate) ott: Option<Secret>,
    pub(crate) secret: Option<Secret>,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) pong_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) io_timeout: Duration,
    pub(crate) root_certs_pem: Vec<String>,
    pub(crate) max_message_size: usize,
    pub(crate) reconnect: bool,
    pub(crate) backoff: Backoff,
    pub(crate) outbox: bool,
    pub(crate) max_outbox: usize,
    pub(crate) max_queued_events: usize,
    pub(crate) max_queued_bytes: usize,
    pub(crate) state_file: Option<PathBuf>,
    pub(crate) pong_events: bool,
    pub(crate) session_policy: SessionPolicy,
    /// Set by [`Config::thread_id`]: an explicit threadId wins over the state file's.
    pub(crate) thread_id_set: bool,
    /// Set by [`Config::session_id`]: an explicit sessionId wins over the state file's.
    pub(crate) session_id_set: bool,
    /// The proxy rule: environment (default), one URL, or none.
    pub(crate) proxy: ProxySetting,
    /// Whether `http://` / `ws://` may go to hosts other than this machine.
    pub(crate) allow_insecure: bool,
}

impl Config {
    /// A configuration for this Flow clientId with every default: base URL
    /// `https://sdk.flow.ai`, a random sessionId, a threadId made like the official SDK's,
    /// keepalive every 25 s, pong timeout 10 s, connect timeout 10 s, 1 MiB frames,
    /// reconnect with backoff 100 ms–20 s, outbox of 10,000 messages.
    pub fn new(client_id: impl Into<String>) -> Self {
        let client_id = client_id.into();
        Config {
            thread_id: ids::thread_id_for(&client_id),
            session_id: ids::random_hex(),
            client_id,
            base_url: DEFAULT_BASE_URL.to_string(),
            originator: Originator::default(),
            origin: None,
            ott: None,
            secret: None,
            keepalive_interval: Some(Duration::from_secs(25)),
            pong_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(10),
            root_certs_pem: Vec::new(),
            max_message_size: 1 << 20,
            reconnect: true,
            backoff: Backoff::default(),
            outbox: true,
            max_outbox: 10_000,
            max_queued_events: 10_000,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            state_file: None,
            pong_events: false,
            session_policy: SessionPolicy::Keep,
            thread_id_set: false,
            session_id_set: false,
            proxy: ProxySetting::Environment,
            allow_insecure: false,
        }
    }

    /// A configuration from the environment: `FLOWAI_CLIENT_ID` (required; `None` when unset
    /// or empty) and `FLOWAI_BASE_URL` (optional, default `https://sdk.flow.ai`).
    pub fn from_env() -> Option<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let config = Config::new(var("FLOWAI_CLIENT_ID")?);
        Some(match var("FLOWAI_BASE_URL") {
            Some(url) => config.base_url(url),
            None => config,
        })
    }

    /// The server base URL (`https://…`; `http://` only for this machine — `localhost`,
    /// `127.0.0.0/8`, `::1` — unless [`Config::allow_insecure`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The default threadId for messages that name none.
    pub fn thread_id(mut self, thread_id: impl Into<String>) -> Self {
        self.thread_id = thread_id.into();
        self.thread_id_set = true;
        self
    }

    /// The sessionId (kept across reconnects; default random 32 hex).
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = session_id.into();
        self.session_id_set = true;
        self
    }

    /// The originator of messages that name none (default `Anonymous`, `external`).
    pub fn originator(mut self, originator: Originator) -> Self {
        self.originator = originator;
        self
    }

    /// The `Origin` header of the WebSocket handshake (for projects that whitelist domains).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// A one-time token sent as `x-flowai-ott` with `socket.info`.
    pub fn ott(mut self, ott: impl Into<String>) -> Self {
        self.ott = Some(Secret::new(ott));
        self
    }

    /// A nonce (secret) already known for the configured thread.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(Secret::new(secret));
        self
    }

    /// How often to ping; `None` turns keepalive off (the server then closes after 50 s idle).
    pub fn keepalive_interval(mut self, every: Option<Duration>) -> Self {
        self.keepalive_interval = every;
        self
    }

    /// How long after a ping without any frame back the connection is declared dead.
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = timeout;
        self
    }

    /// The one deadline of a whole connect or reconnect: DNS, TCP, a proxy's `CONNECT`, TLS,
    /// `socket.info` and the WebSocket upgrade together (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The deadline of a whole REST call (an upload gets this plus its size at 64 KiB/s) and
    /// of a socket write that cannot progress (default 10 s).
    pub fn io_timeout(mut self, timeout: Duration) -> Self {
        self.io_timeout = timeout;
        self
    }

    /// Sends every connection (`socket.info`, REST calls, the WebSocket) through this HTTP
    /// proxy, with an HTTP `CONNECT` tunnel: `http://[user:password@]host[:port]` (Basic
    /// authentication from the user and password; port 80 when none is given). It applies to
    /// every host, loopback included, and the proxy environment variables are then ignored.
    /// Without this (and without [`Config::no_proxy`]) the client follows `HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case), except for loopback hosts;
    /// the rules are in `docs/reliability.md`.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxySetting::Url(url.into());
        self
    }

    /// Connects directly, whatever the proxy environment variables say.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Off;
        self
    }

    /// Allows unencrypted transport to other machines (default false): an `http://` base URL
    /// for a host that is not this machine, and a `ws://` WebSocket endpoint handed out by an
    /// `https://` `socket.info` or on another host. Without it those are refused with
    /// [`Error::Config`], since the clientId, the nonce and the messages would travel in clear.
    pub fn allow_insecure(mut self, on: bool) -> Self {
        self.allow_insecure = on;
        self
    }

    /// Trusts one more root certificate (PEM) besides the system's, for https and wss.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<String>) -> Self {
        self.root_certs_pem.push(pem.into());
        self
    }

    /// Largest incoming frame in bytes (default 1 MiB); a larger one is a protocol error.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Whether each keepalive `pong` is handed over as [`Event::Pong`](crate::Event::Pong)
    /// (default false: pongs only keep the connection alive, so a loop that drains events until
    /// a quiet period still ends).
    pub fn pong_events(mut self, on: bool) -> Self {
        self.pong_events = on;
        self
    }

    /// Whether to reconnect after an abnormal disconnect (default true).
    pub fn reconnect(mut self, on: bool) -> Self {
        self.reconnect = on;
        self
    }

    /// The backoff between reconnect attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// At-least-once delivery (default true): unacknowledged messages are re-sent after a
    /// reconnect. False: at-most-once, and a lost message is reported as not delivered.
    pub fn outbox(mut self, on: bool) -> Self {
        self.outbox = on;
        self
    }

    /// Most messages waiting for delivery (default 10,000); beyond it `send` fails.
    pub fn max_outbox(mut self, messages: usize) -> Self {
        self.max_outbox = messages;
        self
    }

    /// Most events waiting to be received (default 10,000). The client keeps reading when
    /// the queue is full, so acknowledgements, pongs and the dead-peer check never wait for
    /// you; an event that does not fit is not queued but counted, and the count arrives in
    /// its place as one [`Event::Overflow`](crate::Event::Overflow).
    pub fn max_queued_events(mut self, events: usize) -> Self {
        self.max_queued_events = events;
        self
    }

    /// Most bytes held for you in events waiting to be received (default 64 MiB), counted on
    /// the text of the frames as received plus a small fixed size per event (frames wait as
    /// text and are parsed when taken). Beyond it events are counted, not queued, as with
    /// [`Config::max_queued_events`]. At least [`Config::max_message_size`].
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes;
        self
    }

    /// A file that keeps threadId, sessionId and secrets across restarts, written atomically
    /// (see [`crate::state`] for the format, what wins over explicit settings, and what a
    /// corrupt file does).
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Whether a restart with a state file reuses the saved sessionId
    /// ([`SessionPolicy::Keep`], the default, as the official SDK) or makes a new one.
    pub fn session_policy(mut self, policy: SessionPolicy) -> Self {
        self.session_policy = policy;
        self
    }

    /// The clientId.
    pub fn get_client_id(&self) -> &str {
        &self.client_id
    }

    /// The base URL.
    pub fn get_base_url(&self) -> &str {
        &self.base_url
    }

    /// The default threadId.
    pub fn get_thread_id(&self) -> &str {
        &self.thread_id
    }

    /// The connect timeout.
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The sessionId.
    pub fn get_session_id(&self) -> &str {
        &self.session_id
    }

    /// Checks every value; the first problem is returned as [`Error::Config`].
    pub fn validate(&self) -> Result<()> {
        let fail = |m: &str| Err(Error::Config(m.to_string()));
        if self.client_id.trim().is_empty() {
            return fail("clientId is empty");
        }
        if self.thread_id.trim().is_empty() {
            return fail("threadId is empty");
        }
        if self.session_id.trim().is_empty() {
            return fail("sessionId is empty");
        }
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://")) {
            return fail("base URL must start with https:// (or http:// for local use)");
        }
        let base =
            Target::parse(&self.base_url).map_err(|e| Error::Config(format!("base URL: {e}")))?;
        if !base.secure && !is_loopback_host(&base.host) && !self.allow_insecure {
            return Err(Error::Config(format!(
                "base URL {} is http:// to another machine: the clientId and the nonce would \
                 travel in clear. Use https://, or allow_insecure(true) to accept that",
                self.base_url
            )));
        }
        if let ProxySetting::Url(url) = &self.proxy {
            Proxy::parse(url).map_err(|e| Error::Config(format!("proxy: {e}")))?;
        }
        if self.keepalive_interval.is_some_and(|d| d.is_zero()) {
            return fail("keepalive interval must be above zero (None turns it off)");
        }
        let durations = [
            self.keepalive_interval.unwrap_or_default(),
            self.pong_timeout,
            self.connect_timeout,
            self.io_timeout,
            self.backoff.max,
        ];
        if durations.iter().any(|d| *d > MAX_DURATION) {
            return fail("keepalive, timeouts and backoff must be at most 24 hours");
        }
        if self.pong_timeout.is_zero()
            || self.connect_timeout.is_zero()
            || self.io_timeout.is_zero()
        {
            return fail("timeouts must be above zero");
        }
        for pem in &self.root_certs_pem {
            if native_tls::Certificate::from_pem(pem.as_bytes()).is_err() {
                return fail("an extra root certificate is not a valid PEM certificate");
            }
        }
        if self.max_message_size < 1024 {
            return fail("max message size must be at least 1024 bytes");
        }
        if self.max_outbox == 0 || self.max_queued_events == 0 {
            return fail("max outbox and max queued events must be above zero");
        }
        if self.max_queued_bytes < self.max_message_size {
            return fail("max queued bytes must be at least the max message size");
        }
        if self.backoff.min.is_zero() || self.backoff.max < self.backoff.min {
            return fail("backoff needs 0 < min <= max");
        }
        Ok(())
    }
}
