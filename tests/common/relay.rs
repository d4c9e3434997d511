//! A fault-injecting relay between a client and a plain upstream server (the emulator), on
//! real sockets, for the fault-matrix tests.
//!
//! The relay listens on two ports of 127.0.0.1: one for `socket.info` (and any other HTTP
//! request) and one for WebSockets. It terminates TLS itself when given a certificate, so it
//! sees every connection in plain text and knows its [`Phase`]. It forwards each request to the
//! upstream with `X-Forwarded-Host` (its WebSocket port) and `X-Forwarded-Proto`, so the
//! emulator's `socket.info` answer sends the client's WebSocket through the relay too, and the
//! relay knows from the port which kind of connection it accepted before a byte arrives.
//!
//! A fault ([`Relay::set_fault`]) strikes a connection when it enters the phase (TCP accept)
//! or at the first byte the server side sends in that phase (every other phase: the client
//! has spoken and waits), and then stays with that connection for good:
//! - [`Fault::Stall`]: nothing more is sent; what the client sends is read and dropped until
//!   it gives up;
//! - [`Fault::Reset`]: the connection is reset (RST: `SO_LINGER` 0, then close);
//! - [`Fault::Close`]: the connection is closed cleanly (FIN) with nothing more sent;
//! - [`Fault::Drip`]: everything sent from then on goes one byte per [`DRIP_INTERVAL`]; for the
//!   TLS handshake this throttles the bytes under the TLS acceptor.
//!
//! Clearing the fault ([`Relay::clear_fault`]) spares new connections and connections that have
//! not reached the phase; a stalled or drip-fed connection stays so, as a black-holed one does.
//! [`Relay::drop_connections`] ends every open connection (so a connected client reconnects
//! through the faulty phase). Dropping the relay stops it and joins all its threads.
#![allow(dead_code)]

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The pause before each byte of a drip-fed connection.
pub const DRIP_INTERVAL: Duration = Duration::from_millis(100);

/// Largest HTTP head (request or response) the relay reads.
const MAX_HEAD: usize = 64 * 1024;

/// A point in a connection's life where a fault can strike. The issue's "TCP accept" and "TLS
/// handshake" happen on both connections of a (re)connect, so each has two phases here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The `socket.info` connection was accepted; the client is about to send.
    InfoAccept,
    /// The TLS handshake of the `socket.info` connection (the client's hello has arrived).
    InfoTls,
    /// The `socket.info` request has arrived; its response is due.
    InfoResponse,
    /// The WebSocket connection was accepted.
    WsAccept,
    /// The TLS handshake of the WebSocket connection.
    WsTls,
    /// The WebSocket upgrade request has arrived; the `101` is due.
    WsUpgrade,
    /// After the upgrade: the server's first frame and everything after it.
    MidStream,
}

impl Phase {
    /// Every phase, in the order a (re)connect goes through them.
    pub const ALL: [Phase; 7] = [
        Phase::InfoAccept,
        Phase::InfoTls,
        Phase::InfoResponse,
        Phase::WsAccept,
        Phase::WsTls,
        Phase::WsUpgrade,
        Phase::MidStream,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Phase::InfoAccept => "socket.info TCP accept",
            Phase::InfoTls => "socket.info TLS handshake",
            Phase::InfoResponse => "socket.info response",
            Phase::WsAccept => "WebSocket TCP accept",
            Phase::WsTls => "WebSocket TLS handshake",
            Phase::WsUpgrade => "WebSocket upgrade",
            Phase::MidStream => "mid-stream",
        }
    }
}

/// What happens to a connection when its phase comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Hold the connection and send nothing more.
    Stall,
    /// Reset it (RST).
    Reset,
    /// Close it cleanly (FIN).
    Close,
    /// Send one byte per [`DRIP_INTERVAL`] from then on.
    Drip,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 4] = [Fault::Stall, Fault::Reset, Fault::Close, Fault::Drip];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Stall => "stall",
            Fault::Reset => "reset",
            Fault::Close => "close",
            Fault::Drip => "drip-feed",
        }
    }
}

/// Which listener a connection came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leg {
    /// `socket.info` and other plain HTTP requests.
    Info,
    /// WebSockets.
    Ws,
}

impl Leg {
    fn accept_phase(self) -> Phase {
        match self {
            Leg::Info => Phase::InfoAccept,
            Leg::Ws => Phase::WsAccept,
        }
    }

    fn tls_phase(self) -> Phase {
        match self {
            Leg::Info => Phase::InfoTls,
            Leg::Ws => Phase::WsTls,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the relay's threads share.
struct Shared {
    /// The plain server everything is forwarded to.
    upstream: SocketAddr,
    /// TLS termination, when the relay speaks https/wss.
    tls: Option<native_tls::TlsAcceptor>,
    /// The WebSocket listener's port (named in `X-Forwarded-Host`).
    ws_port: u16,
    /// The fault in force.
    fault: Mutex<Option<(Phase, Fault)>>,
    /// How many times a fault struck, per phase.
    hits: Mutex<HashMap<Phase, u32>>,
    /// Signalled when `hits` grows.
    hit: Condvar,
    /// Connections accepted, per leg (`[info, ws]`).
    accepted: [AtomicU64; 2],
    /// Clones of every open socket (both sides), by connection, to end them from outside.
    open: Mutex<HashMap<u64, Vec<TcpStream>>>,
    /// Connection threads.
    handlers: Mutex<Vec<JoinHandle<()>>>,
    /// Set when the relay stops.
    stopping: AtomicBool,
    next_id: AtomicU64,
}

impl Shared {
    fn record_hit(&self, phase: Phase) {
        *lock(&self.hits).entry(phase).or_default() += 1;
        self.hit.notify_all();
    }

    /// Keeps a clone of `s` under connection `id`; false when the relay is stopping (the
    /// caller then gives up, as the stop sweep may have missed it).
    fn register(&self, id: u64, s: &TcpStream) -> bool {
        if let Ok(c) = s.try_clone() {
            lock(&self.open).entry(id).or_default().push(c);
        }
        !self.stopping.load(Ordering::SeqCst)
    }

    /// Shuts every open socket down, which ends every connection thread promptly.
    fn end_all(&self) {
        for socks in lock(&self.open).values() {
            for s in socks {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// The relay; see the module docs.
pub struct Relay {
    shared: Arc<Shared>,
    info_port: u16,
    acceptors: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Starts a relay to `upstream`, terminating TLS with `tls` when given.
    pub fn start(upstream: SocketAddr, tls: Option<native_tls::Identity>) -> Relay {
        let tls = tls.map(|id| native_tls::TlsAcceptor::new(id).expect("TLS acceptor"));
        let info = TcpListener::bind("127.0.0.1:0").expect("relay binds");
        let ws = TcpListener::bind("127.0.0.1:0").expect("relay binds");
        let info_port = info.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            upstream,
            tls,
            ws_port: ws.local_addr().unwrap().port(),
            fault: Mutex::new(None),
            hits: Mutex::new(HashMap::new()),
            hit: Condvar::new(),
            accepted: [AtomicU64::new(0), AtomicU64::new(0)],
            open: Mutex::new(HashMap::new()),
            handlers: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
        });
        let acceptors = [(info, Leg::Info), (ws, Leg::Ws)]
            .into_iter()
            .map(|(listener, leg)| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name("relay-accept".into())
                    .spawn(move || accept_loop(&shared, &listener, leg))
                    .expect("relay thread")
            })
            .collect();
        Relay {
            shared,
            info_port,
            acceptors,
        }
    }

    /// The base URL to give a client: `https://localhost:PORT` with TLS (the certificate's
    /// name), else `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        if self.shared.tls.is_some() {
            format!("https://localhost:{}", self.info_port)
        } else {
            format!("http://127.0.0.1:{}", self.info_port)
        }
    }

    /// Makes `fault` strike every connection that reaches `phase` from now on (replacing any
    /// other fault).
    pub fn set_fault(&self, phase: Phase, fault: Fault) {
        *lock(&self.shared.fault) = Some((phase, fault));
    }

    /// Lets connections through unharmed from now on.
    pub fn clear_fault(&self) {
        *lock(&self.shared.fault) = None;
    }

    /// Ends every open connection (both sides shut down).
    pub fn drop_connections(&self) {
        self.shared.end_all();
    }

    /// How many connections a fault has struck in `phase` so far.
    pub fn hits(&self, phase: Phase) -> u32 {
        lock(&self.shared.hits).get(&phase).copied().unwrap_or(0)
    }

    /// Waits until a fault has struck `n` connections in `phase`; false after `timeout`.
    pub fn wait_hits(&self, phase: Phase, n: u32, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut hits = lock(&self.shared.hits);
        loop {
            if hits.get(&phase).copied().unwrap_or(0) >= n {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            hits = self
                .shared
                .hit
                .wait_timeout(hits, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Connections accepted so far: `(socket.info port, WebSocket port)`.
    pub fn accepted(&self) -> (u64, u64) {
        let a = &self.shared.accepted;
        (a[0].load(Ordering::SeqCst), a[1].load(Ordering::SeqCst))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::SeqCst);
        // Wake each blocked accept with a connection of our own.
        let _ = TcpStream::connect(("127.0.0.1", self.info_port));
        let _ = TcpStream::connect(("127.0.0.1", shared.ws_port));
        for a in self.acceptors.drain(..) {
            let _ = a.join();
        }
        shared.end_all();
        let handlers = std::mem::take(&mut *lock(&shared.handlers));
        for h in handlers {
            let _ = h.join();
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener, leg: Leg) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        shared.accepted[leg as usize].fetch_add(1, Ordering::SeqCst);
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let s = shared.clone();
        let handle = std::thread::Builder::new()
            .name("relay-conn".into())
            .spawn(move || handle(s, id, leg, stream))
            .expect("relay thread");
        let mut handlers = lock(&shared.handlers);
        handlers.retain(|h| !h.is_finished());
        handlers.push(handle);
    }
}

/// Serves one accepted connection, then forgets its sockets (closing them: with a RST when
/// the fault was a reset, as `SO_LINGER` 0 is set on the socket itself).
fn handle(shared: Arc<Shared>, id: u64, leg: Leg, tcp: TcpStream) {
    if shared.register(id, &tcp) {
        let conn = Rc::new(ConnState {
            shared: shared.clone(),
            id,
            phase: Cell::new(leg.accept_phase()),
            struck: Cell::new(None),
        });
        let _ = serve(&conn, leg, tcp);
    }
    lock(&shared.open).remove(&id);
}

/// One connection's progress, shared by its handler and its client-side [`Wire`].
struct ConnState {
    shared: Arc<Shared>,
    id: u64,
    /// Where the connection is now.
    phase: Cell<Phase>,
    /// The fault that struck it, if any (it stays).
    struck: Cell<Option<Fault>>,
}

impl ConnState {
    /// The fault that applies to what the server side does now: the one that struck before,
    /// or the one in force for the current phase (which strikes now).
    fn fault_now(&self) -> Option<Fault> {
        if let Some(f) = self.struck.get() {
            return Some(f);
        }
        let (phase, fault) = (*lock(&self.shared.fault))?;
        if phase != self.phase.get() {
            return None;
        }
        self.struck.set(Some(fault));
        self.shared.record_hit(phase);
        Some(fault)
    }

    /// Moves to `phase`. An accept phase strikes at once (there is nothing to send yet): a
    /// stall, reset or close ends the connection here (Err); a drip-feed stays for later.
    fn enter(&self, phase: Phase, tcp: &TcpStream) -> io::Result<()> {
        self.phase.set(phase);
        if matches!(phase, Phase::InfoAccept | Phase::WsAccept) {
            match self.fault_now() {
                None | Some(Fault::Drip) => {}
                Some(f) => return Err(strike(tcp, f)),
            }
        }
        Ok(())
    }
}

/// Applies a stall, reset or close to the client's socket; returns the error that ends the
/// connection's handler.
fn strike(tcp: &TcpStream, fault: Fault) -> io::Error {
    match fault {
        Fault::Stall => {
            // Hold: read and drop whatever comes until the client (or the relay) ends it.
            let _ = tcp.set_nonblocking(false);
            let _ = tcp.set_read_timeout(None);
            let mut sink = [0u8; 4096];
            let mut reader = tcp;
            while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
            io::Error::new(io::ErrorKind::BrokenPipe, "stalled until the client left")
        }
        Fault::Reset => {
            set_linger_zero(tcp);
            io::Error::new(io::ErrorKind::ConnectionReset, "reset by the relay")
        }
        // A drip-feed never ends a connection by itself; this arm only serves `Close`.
        Fault::Close | Fault::Drip => {
            let _ = tcp.shutdown(Shutdown::Both);
            io::Error::new(io::ErrorKind::ConnectionAborted, "closed by the relay")
        }
    }
}

/// `SO_LINGER` with a zero timeout: closing the socket then sends a RST.
fn set_linger_zero(tcp: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `linger` for the duration of the call only.
    unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// The client's TCP socket as the relay writes to it: every write goes through the fault in
/// force. The TLS acceptor sits on top of it, so a drip-feed throttles the handshake too.
struct Wire {
    tcp: TcpStream,
    conn: Rc<ConnState>,
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.read(buf)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.conn.fault_now() {
            None => self.tcp.write(buf),
            Some(Fault::Drip) if buf.is_empty() => Ok(0),
            Some(Fault::Drip) => {
                std::thread::sleep(DRIP_INTERVAL);
                if self.conn.shared.stopping.load(Ordering::SeqCst) {
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                self.tcp.write(&buf[..1])
            }
            Some(f) => Err(strike(&self.tcp, f)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// The client side of a connection: plain, or TLS over the [`Wire`].
enum Side {
    Plain(Wire),
    Tls(Box<native_tls::TlsStream<Wire>>),
}

impl Side {
    fn tcp(&self) -> &TcpStream {
        match self {
            Side::Plain(w) => &w.tcp,
            Side::Tls(t) => &t.get_ref().tcp,
        }
    }

    fn stream(&mut self) -> &mut dyn ReadWrite {
        match self {
            Side::Plain(w) => w,
            Side::Tls(t) => &mut **t,
        }
    }

    /// Ends the client side cleanly (TLS close_notify, then FIN).
    fn finish(&mut self) {
        if let Side::Tls(t) = self {
            let _ = t.shutdown();
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

/// Read + Write as one object type.
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Runs one connection through its phases: accept, TLS, the request, then either the
/// `socket.info` answer or the upgrade and the WebSocket stream.
fn serve(conn: &Rc<ConnState>, leg: Leg, tcp: TcpStream) -> io::Result<()> {
    let shared = &conn.shared;
    conn.enter(leg.accept_phase(), &tcp)?;
    let wire = Wire {
        tcp,
        conn: conn.clone(),
    };
    let mut client = match &shared.tls {
        None => Side::Plain(wire),
        Some(acceptor) => {
            conn.enter(leg.tls_phase(), &wire.tcp)?;
            let tls = acceptor.accept(wire).map_err(|e| match e {
                native_tls::HandshakeError::Failure(e) => {
                    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
                }
                native_tls::HandshakeError::WouldBlock(_) => io::ErrorKind::WouldBlock.into(),
            })?;
            Side::Tls(Box::new(tls))
        }
    };
    let (request, early) = read_head(client.stream())?;
    let mut upstream = TcpStream::connect(shared.upstream)?;
    upstream.set_nodelay(true)?;
    if !shared.register(conn.id, &upstream) {
        return Ok(());
    }
    upstream.write_all(&forwarded(&request, shared))?;
    upstream.write_all(&early)?;
    let pending = match leg {
        Leg::Info => {
            conn.enter(Phase::InfoResponse, client.tcp())?;
            Vec::new()
        }
        Leg::Ws => {
            conn.enter(Phase::WsUpgrade, client.tcp())?;
            let (response, after) = read_head(&mut upstream)?;
            client.stream().write_all(&response)?;
            client.stream().flush()?;
            conn.enter(Phase::MidStream, client.tcp())?;
            after
        }
    };
    pump(&mut client, &mut upstream, &pending)?;
    client.finish();
    Ok(())
}

/// Reads an HTTP head (through the blank line); returns it and the bytes read past it.
fn read_head(r: &mut dyn Read) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        let n = r.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The request head with `X-Forwarded-Host` (the relay's WebSocket port, by the name its
/// certificate carries) and `X-Forwarded-Proto` added before the blank line.
fn forwarded(head: &[u8], shared: &Shared) -> Vec<u8> {
    let (host, proto) = match shared.tls {
        Some(_) => ("localhost", "https"),
        None => ("127.0.0.1", "http"),
    };
    let extra = format!(
        "X-Forwarded-Host: {host}:{}\r\nX-Forwarded-Proto: {proto}\r\n\r\n",
        shared.ws_port
    );
    let mut out = head[..head.len() - 2].to_vec();
    out.extend_from_slice(extra.as_bytes());
    out
}

/// Forwards both ways until either side ends: `first` to the client, then whatever comes.
/// The client side is read until it would block each time (TLS may hold decrypted bytes the
/// socket no longer shows), and written in blocking mode.
fn pump(client: &mut Side, upstream: &mut TcpStream, first: &[u8]) -> io::Result<()> {
    if !first.is_empty() {
        client.stream().write_all(first)?;
        client.stream().flush()?;
    }
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        client.tcp().set_nonblocking(true)?;
        let drained = drain(client.stream(), upstream, &mut buf);
        client.tcp().set_nonblocking(false)?;
        if !drained? {
            return Ok(());
        }
        // The client side is drained at the top of the loop whatever woke us.
        if upstream_readable(client.tcp(), upstream) {
            let n = upstream.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            client.stream().write_all(&buf[..n])?;
            client.stream().flush()?;
        }
    }
}

/// Copies what the client side has ready to `to`; `Ok(false)` at the client's end of stream.
fn drain(from: &mut dyn ReadWrite, to: &mut TcpStream, buf: &mut [u8]) -> io::Result<bool> {
    loop {
        match from.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => to.write_all(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Blocks in `poll(2)` until either socket is readable (or hung up); true when `b` is.
fn upstream_readable(a: &TcpStream, b: &TcpStream) -> bool {
    let mut fds = [
        libc::pollfd {
            fd: a.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: b.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: `fds` is a valid array of two pollfd for the duration of the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
    rc < 0 || fds[1].revents != 0
}
