//! The transport under `socket.info`, the REST calls and the WebSocket: name resolution, TCP,
//! an optional proxy `CONNECT` tunnel, TLS, and a small HTTP/1.1 client, all under one
//! deadline and interruptible by `close()`.
//!
//! # Why our own HTTP client and not ureq
//!
//! `socket.info` and the REST calls used to go through ureq. Its `timeout_global` bounds a
//! call, but its resolver blocks in `getaddrinfo` with no bound, it cannot be interrupted
//! from another thread (so `close()` would have to wait for it), it follows redirects with
//! the `x-flowai-*` headers unless told not to, and bending those (a custom resolver and
//! connector, proxy rules that match the WebSocket's) means ureq's unversioned transport
//! API. The requests we make are few and simple (one GET or POST, `Connection: close`, a JSON
//! answer), so they run on the same transport as the WebSocket, with httparse for the
//! answer: one code path for every phase, one deadline, one cancel signal, one proxy rule.
//!
//! # The deadline
//!
//! A [`Limit`] is made once per operation — a whole (re)connect (`socket.info` and the
//! WebSocket together, `connect_timeout`), a REST call (`io_timeout`), an upload
//! (`io_timeout` plus the file's size at 64 KiB/s) — and every wait inside it (DNS, TCP
//! connect, each read and write of the proxy exchange, the TLS and WebSocket handshakes, the
//! HTTP answer) is a `poll(2)` on the remaining time and the client's [`Cancel`] signal. A
//! server that drip-feeds bytes cannot stretch it, and `close()` ends any wait at once.
//! Name resolution runs on a helper thread, see [`dns`].

mod dns;
pub(crate) mod http;
mod io;
pub(crate) mod proxy;
mod tls;
pub(crate) mod url;

pub(crate) use io::{poll, Cancel, Limit};
pub(crate) use url::Target;

use crate::error::{Error, Result};
use io::Io;
use proxy::Routes;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("flowai-socket/", env!("CARGO_PKG_VERSION"));

/// Shortest time given to one address when a host has several (as Go's dialer: the deadline
/// is shared out between the addresses, but each gets at least this, or what is left).
const MIN_PER_ADDRESS: Duration = Duration::from_secs(2);

/// A connection as the layers above see it: plain TCP or TLS over TCP, bounded by a
/// deadline while it is being set up and non-blocking afterwards.
#[derive(Debug)]
pub struct Stream(Inner);

#[derive(Debug)]
enum Inner {
    Plain(Io),
    Tls(native_tls::TlsStream<Io>),
}

impl Stream {
    /// The TCP stream underneath (for its file descriptor and socket options).
    pub fn tcp(&self) -> &TcpStream {
        self.io().tcp()
    }

    fn io(&self) -> &Io {
        match &self.0 {
            Inner::Plain(io) => io,
            Inner::Tls(tls) => tls.get_ref(),
        }
    }

    /// Sets the bound of every read and write, or lifts it (`None`: `WouldBlock` is passed
    /// through, for a poll loop of the caller's own).
    pub(crate) fn set_limit(&mut self, limit: Option<Limit>) {
        match &mut self.0 {
            Inner::Plain(io) => io.set_limit(limit),
            Inner::Tls(tls) => tls.get_mut().set_limit(limit),
        }
    }
}

impl std::io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.0 {
            Inner::Plain(io) => io.read(buf),
            Inner::Tls(tls) => tls.read(buf),
        }
    }
}

impl std::io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.0 {
            Inner::Plain(io) => io.write(buf),
            Inner::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.0 {
            Inner::Plain(io) => io.flush(),
            Inner::Tls(tls) => tls.flush(),
        }
    }
}

/// What one client connects with: its TLS roots, its proxy routes, whether insecure
/// transport is allowed, and its cancel signal.
pub struct Transport {
    /// Built on first use: loading the system roots takes tens of milliseconds, which a
    /// client that never speaks TLS should not pay.
    tls: std::sync::OnceLock<std::result::Result<native_tls::TlsConnector, String>>,
    extra_roots: Vec<String>,
    routes: Routes,
    allow_insecure: bool,
    cancel: Arc<Cancel>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("routes", &self.routes)
            .field("allow_insecure", &self.allow_insecure)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport that trusts the system's TLS roots plus `extra_roots` (PEM), routes
    /// through the proxy `proxy` asks for (the environment's is read now), and allows
    /// `http://` / `ws://` to other machines only with `allow_insecure`.
    /// (`Transport::new(&Settings)`, in `handshake`, makes one from a config.)
    pub(crate) fn with(
        extra_roots: Vec<String>,
        proxy: &proxy::ProxySetting,
        allow_insecure: bool,
    ) -> Result<Transport> {
        Ok(Transport {
            tls: std::sync::OnceLock::new(),
            extra_roots,
            routes: Routes::new(proxy, |name| std::env::var(name).ok())?,
            allow_insecure,
            cancel: Cancel::new()?,
        })
    }

    /// Interrupts every wait of this transport, now and later (`close()`).
    pub fn cancel(&self) {
        self.cancel.trigger();
    }

    /// A limit of `budget` from now, cancelled with this transport.
    pub(crate) fn limit(&self, budget: Duration) -> Limit {
        Limit::new(budget, &self.cancel)
    }

    /// A limit ending at `at`, reported as a timeout of `budget`.
    pub(crate) fn limit_until(&self, at: std::time::Instant, budget: Duration) -> Limit {
        Limit::until(Some(at), budget, &self.cancel)
    }

    /// Whether `http://` and `ws://` may go to hosts other than this machine.
    pub(crate) fn allow_insecure(&self) -> bool {
        self.allow_insecure
    }

    /// Opens a connection to `target` within `limit`: DNS, TCP, the proxy tunnel if the
    /// routes say so, TLS for `https`/`wss`. The stream stays bounded by `limit`.
    pub(crate) fn open(&self, target: &Target, limit: &Limit) -> Result<Stream> {
        let proxy = self.routes.proxy_for(target);
        let (host, port) = match proxy {
            Some(p) => (p.host.as_str(), p.port),
            None => (target.host.as_str(), target.port),
        };
        let addrs = dns::resolve(host, port, limit)?;
        let tcp = connect_tcp(&addrs, limit)?;
        let mut io = Io::new(tcp, limit.clone());
        if let Some(proxy) = proxy {
            proxy::tunnel(&mut io, proxy, target, limit)?;
        }
        let inner = if target.secure {
            let connector = self
                .tls
                .get_or_init(|| tls::connector(&self.extra_roots).map_err(|e| e.to_string()))
                .as_ref()
                .map_err(|e| Error::Config(e.clone()))?;
            Inner::Tls(tls::handshake(
                connector,
                io,
                &target.host,
                &target.authority(),
                limit,
            )?)
        } else {
            Inner::Plain(io)
        };
        Ok(Stream(inner))
    }
}

/// TCP connect to the first address that answers, within `limit`; non-blocking, so the
/// wait is a `poll` that the deadline and the cancel signal end.
fn connect_tcp(addrs: &[SocketAddr], limit: &Limit) -> Result<TcpStream> {
    let mut last = Error::Network("no address to connect to".into());
    for (i, addr) in addrs.iter().enumerate() {
        limit.check()?;
        let left = limit.left();
        let share = (left / (addrs.len() - i) as u32).max(MIN_PER_ADDRESS.min(left));
        match connect_one(*addr, share, limit) {
            Ok(tcp) => return Ok(tcp),
            Err(e @ Error::AlreadyClosed) => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(limit.explain(last))
}

fn connect_one(addr: SocketAddr, share: Duration, limit: &Limit) -> Result<TcpStream> {
    let failed = |e: std::io::Error| Error::Network(format!("connect to {addr}: {e}"));
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => return Ok(socket.into()),
        Err(e)
            if e.raw_os_error() == Some(libc::EINPROGRESS)
                || e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(failed(e)),
    }
    let started = std::time::Instant::now();
    loop {
        let left = share.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(Error::Timeout(share));
        }
        let ready = limit
            .wait_capped(socket.as_raw_fd(), false, true, left)
            .map_err(|e| limit.explain(failed(e)))?;
        if ready {
            return match socket.take_error() {
                Ok(None) => Ok(socket.into()),
                Ok(Some(e)) | Err(e) => Err(failed(e)),
            };
        }
    }
}
