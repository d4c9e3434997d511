//! Client configuration: a builder with validated values and sensible defaults.

use crate::error::{Error, Result};
use crate::ids;
use crate::protocol::Originator;
use crate::secret::Secret;
use crate::transport::proxy::Proxy;
use crate::transport::url::is_loopback_host;
use crate::transport::Target;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::transport::proxy::ProxySetting;

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

/// What happens to the sessionId across restarts when a state file is used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SessionPolicy {
    /// Reuse the saved sessionId (the official SDK keeps it in storage). The default.
    #[default]
    Keep,
    /// A new random sessionId at every start (it is still kept across reconnects and saved).
    Renew,
}

/// Everything a [`Client`](crate::Client) needs: a builder. Start with [`Config::new`],
/// chain the setters, hand it to [`Client::connect`](crate::Client::connect), which checks it
/// ([`Config::validate`]). Every setting is read back from [`Config::settings`] (or
/// [`Client::settings`](crate::Client::settings)) by the method of the same name.
///
/// ```
/// use flowai_socket::Config;
/// use std::time::Duration;
/// let cfg = Config::new("my-client-id")
///     .base_url("http://127.0.0.1:8080")
///     .thread_id("jane.doe")
///     .keepalive_interval(Some(Duration::from_secs(25)));
/// assert!(cfg.validate().is_ok());
/// assert_eq!(cfg.settings().thread_id(), "jane.doe");
/// assert_eq!(cfg.settings().keepalive_interval(), Some(Duration::from_secs(25)));
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    settings: Settings,
}

/// The settings of a [`Config`], read-only: one method per setting, named as its setter
/// (`thread_id()` for [`Config::thread_id`]). The two setters that add or choose read back
/// under the name of what they set: [`Config::add_root_certificate_pem`] as
/// [`Settings::root_certificates_pem`], [`Config::no_proxy`] as [`Settings::proxy`]
/// ([`ProxySetting::Off`]). From [`Config::settings`] or
/// [`Client::settings`](crate::Client::settings) (the latter after the state file was
/// applied: the threadId and sessionId in use).
#[derive(Debug, Clone)]
pub struct Settings {
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
        let settings = Settings {
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
        };
        Config { settings }
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
        self.settings.base_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The default threadId for messages that name none.
    pub fn thread_id(mut self, thread_id: impl Into<String>) -> Self {
        self.settings.thread_id = thread_id.into();
        self.settings.thread_id_set = true;
        self
    }

    /// The sessionId (kept across reconnects; default random 32 hex).
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.settings.session_id = session_id.into();
        self.settings.session_id_set = true;
        self
    }

    /// The originator of messages that name none (default `Anonymous`, `external`).
    pub fn originator(mut self, originator: Originator) -> Self {
        self.settings.originator = originator;
        self
    }

    /// The `Origin` header of the WebSocket handshake (for projects that whitelist domains).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.settings.origin = Some(origin.into());
        self
    }

    /// A one-time token sent as `x-flowai-ott` with `socket.info`.
    pub fn ott(mut self, ott: impl Into<String>) -> Self {
        self.settings.ott = Some(Secret::new(ott));
        self
    }

    /// A nonce (secret) already known for the configured thread.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.settings.secret = Some(Secret::new(secret));
        self
    }

    /// How often to ping; `None` turns keepalive off (the server then closes after 50 s idle).
    pub fn keepalive_interval(mut self, every: Option<Duration>) -> Self {
        self.settings.keepalive_interval = every;
        self
    }

    /// How long after a ping without any frame back the connection is declared dead.
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.settings.pong_timeout = timeout;
        self
    }

    /// The one deadline of a whole connect or reconnect: DNS, TCP, a proxy's `CONNECT`, TLS,
    /// `socket.info` and the WebSocket upgrade together (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The deadline of a whole REST call (an upload gets this plus its size at 64 KiB/s) and
    /// of a socket write that cannot progress (default 10 s).
    pub fn io_timeout(mut self, timeout: Duration) -> Self {
        self.settings.io_timeout = timeout;
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
        self.settings.proxy = ProxySetting::Url(url.into());
        self
    }

    /// Connects directly, whatever the proxy environment variables say.
    pub fn no_proxy(mut self) -> Self {
        self.settings.proxy = ProxySetting::Off;
        self
    }

    /// Allows unencrypted transport to other machines (default false): an `http://` base URL
    /// for a host that is not this machine, and a `ws://` WebSocket endpoint handed out by an
    /// `https://` `socket.info` or on another host. Without it those are refused with
    /// [`Error::Config`], since the clientId, the nonce and the messages would travel in clear.
    pub fn allow_insecure(mut self, on: bool) -> Self {
        self.settings.allow_insecure = on;
        self
    }

    /// Trusts one more root certificate (PEM) besides the system's, for https and wss.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<String>) -> Self {
        self.settings.root_certs_pem.push(pem.into());
        self
    }

    /// Largest incoming frame in bytes (default 1 MiB); a larger one is a protocol error.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.settings.max_message_size = bytes;
        self
    }

    /// Whether each keepalive `pong` is handed over as [`Event::Pong`](crate::Event::Pong)
    /// (default false: pongs only keep the connection alive, so a loop that drains events until
    /// a quiet period still ends).
    pub fn pong_events(mut self, on: bool) -> Self {
        self.settings.pong_events = on;
        self
    }

    /// Whether to reconnect after an abnormal disconnect (default true).
    pub fn reconnect(mut self, on: bool) -> Self {
        self.settings.reconnect = on;
        self
    }

    /// The backoff between reconnect attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.settings.backoff = backoff;
        self
    }

    /// At-least-once delivery (default true): unacknowledged messages are re-sent after a
    /// reconnect. False: at-most-once, and a lost message is reported as not delivered.
    pub fn outbox(mut self, on: bool) -> Self {
        self.settings.outbox = on;
        self
    }

    /// Most messages waiting for delivery (default 10,000); beyond it `send` fails.
    pub fn max_outbox(mut self, messages: usize) -> Self {
        self.settings.max_outbox = messages;
        self
    }

    /// Most events waiting to be received (default 10,000). The client keeps reading when
    /// the queue is full, so acknowledgements, pongs and the dead-peer check never wait for
    /// you; an event that does not fit is not queued but counted, and the count arrives in
    /// its place as one [`Event::Overflow`](crate::Event::Overflow).
    pub fn max_queued_events(mut self, events: usize) -> Self {
        self.settings.max_queued_events = events;
        self
    }

    /// Most bytes held for you in events waiting to be received (default 64 MiB), counted on
    /// the text of the frames as received plus a small fixed size per event (frames wait as
    /// text and are parsed when taken). Beyond it events are counted, not queued, as with
    /// [`Config::max_queued_events`]. At least [`Config::max_message_size`].
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_queued_bytes = bytes;
        self
    }

    /// A file that keeps threadId, sessionId and secrets across restarts, written atomically
    /// (see [`crate::state_file`] for the format, what wins over explicit settings, and what a
    /// corrupt file does).
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.state_file = Some(path.into());
        self
    }

    /// Whether a restart with a state file reuses the saved sessionId
    /// ([`SessionPolicy::Keep`], the default, as the official SDK) or makes a new one.
    pub fn session_policy(mut self, policy: SessionPolicy) -> Self {
        self.settings.session_policy = policy;
        self
    }

    /// The settings as they stand, each readable by the method of its setter's name.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings, for the client that connects with them.
    pub(crate) fn into_settings(self) -> Settings {
        self.settings
    }

    /// Checks every value; the first problem is returned as [`Error::Config`].
    pub fn validate(&self) -> Result<()> {
        self.settings.validate()
    }
}

impl Settings {
    /// The clientId, from [`Config::new`].
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The server base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The default threadId.
    pub fn thread_id(&self) -> &str {
        &self.thread_id
    }

    /// The sessionId.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The originator of messages that name none.
    pub fn originator(&self) -> &Originator {
        &self.originator
    }

    /// The `Origin` header of the WebSocket handshake, if any.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The one-time token, if any (its `Debug` and `Display` print `***`).
    pub fn ott(&self) -> Option<&Secret> {
        self.ott.as_ref()
    }

    /// The nonce given for the configured thread, if any (its `Debug` and `Display` print
    /// `***`).
    pub fn secret(&self) -> Option<&Secret> {
        self.secret.as_ref()
    }

    /// The ping cadence; `None` when keepalive is off.
    pub fn keepalive_interval(&self) -> Option<Duration> {
        self.keepalive_interval
    }

    /// How long after a ping without any frame back the connection counts as dead.
    pub fn pong_timeout(&self) -> Duration {
        self.pong_timeout
    }

    /// The deadline of a whole connect or reconnect.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The deadline of a whole REST call and of a socket write that cannot progress.
    pub fn io_timeout(&self) -> Duration {
        self.io_timeout
    }

    /// The proxy rule: the environment's (default), one proxy ([`Config::proxy`]) or none
    /// ([`Config::no_proxy`]).
    pub fn proxy(&self) -> &ProxySetting {
        &self.proxy
    }

    /// Whether unencrypted transport to other machines is allowed.
    pub fn allow_insecure(&self) -> bool {
        self.allow_insecure
    }

    /// The extra root certificates (PEM) trusted besides the system's, in the order added
    /// with [`Config::add_root_certificate_pem`].
    pub fn root_certificates_pem(&self) -> &[String] {
        &self.root_certs_pem
    }

    /// The largest incoming frame in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Whether keepalive pongs are handed over as events.
    pub fn pong_events(&self) -> bool {
        self.pong_events
    }

    /// Whether the client reconnects after an abnormal disconnect.
    pub fn reconnect(&self) -> bool {
        self.reconnect
    }

    /// The backoff between (re)connect attempts and their limit.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// Whether unacknowledged messages are re-sent after a reconnect (at-least-once).
    pub fn outbox(&self) -> bool {
        self.outbox
    }

    /// The most messages waiting for delivery.
    pub fn max_outbox(&self) -> usize {
        self.max_outbox
    }

    /// The most events waiting to be received.
    pub fn max_queued_events(&self) -> usize {
        self.max_queued_events
    }

    /// The most bytes held by events waiting to be received.
    pub fn max_queued_bytes(&self) -> usize {
        self.max_queued_bytes
    }

    /// The state file, if any.
    pub fn state_file(&self) -> Option<&Path> {
        self.state_file.as_deref()
    }

    /// What a restart with a state file does with the sessionId.
    pub fn session_policy(&self) -> SessionPolicy {
        self.session_policy
    }

    /// Checks every value; the first problem is returned as [`Error::Config`].
    pub(crate) fn validate(&self) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Role;

    #[test]
    fn every_setting_reads_back_by_its_name() {
        let backoff = Backoff {
            min: Duration::from_millis(7),
            max: Duration::from_secs(3),
            max_attempts: Some(4),
        };
        let originator = Originator {
            name: "Jane".into(),
            role: Role::Moderator,
            ..Originator::default()
        };
        let cfg = Config::new("cid")
            .base_url("http://127.0.0.1:9/")
            .thread_id("t")
            .session_id("s")
            .originator(originator.clone())
            .origin("https://example.com")
            .ott("token")
            .secret("nonce")
            .keepalive_interval(None)
            .pong_timeout(Duration::from_secs(1))
            .connect_timeout(Duration::from_secs(2))
            .io_timeout(Duration::from_secs(3))
            .proxy("http://proxy:3128")
            .allow_insecure(true)
            .add_root_certificate_pem("PEM 1")
            .add_root_certificate_pem("PEM 2")
            .max_message_size(4096)
            .pong_events(true)
            .reconnect(false)
            .backoff(backoff.clone())
            .outbox(false)
            .max_outbox(5)
            .max_queued_events(6)
            .max_queued_bytes(8192)
            .state_file("/tmp/state.json")
            .session_policy(SessionPolicy::Renew);
        let s = cfg.settings();
        assert_eq!(s.client_id(), "cid");
        assert_eq!(s.base_url(), "http://127.0.0.1:9");
        assert_eq!((s.thread_id(), s.session_id()), ("t", "s"));
        assert_eq!(s.originator(), &originator);
        assert_eq!(s.origin(), Some("https://example.com"));
        assert_eq!(s.ott().map(Secret::expose), Some("token"));
        assert_eq!(s.secret().map(Secret::expose), Some("nonce"));
        assert_eq!(s.keepalive_interval(), None);
        assert_eq!(s.pong_timeout(), Duration::from_secs(1));
        assert_eq!(s.connect_timeout(), Duration::from_secs(2));
        assert_eq!(s.io_timeout(), Duration::from_secs(3));
        assert_eq!(s.proxy(), &ProxySetting::Url("http://proxy:3128".into()));
        assert!(s.allow_insecure());
        assert_eq!(s.root_certificates_pem(), ["PEM 1", "PEM 2"]);
        assert_eq!(s.max_message_size(), 4096);
        assert!(s.pong_events());
        assert!(!s.reconnect());
        assert_eq!(s.backoff(), &backoff);
        assert!(!s.outbox());
        assert_eq!(s.max_outbox(), 5);
        assert_eq!(s.max_queued_events(), 6);
        assert_eq!(s.max_queued_bytes(), 8192);
        assert_eq!(s.state_file(), Some(Path::new("/tmp/state.json")));
        assert_eq!(s.session_policy(), SessionPolicy::Renew);
        assert_eq!(cfg.no_proxy().settings().proxy(), &ProxySetting::Off);
    }
}
