//! Bounded, cancellable socket I/O: one [`Limit`] (a deadline plus the client's [`Cancel`])
//! checked before every wait, and [`Io`], a non-blocking TCP stream that waits in `poll(2)`
//! under that limit while a connection is being opened, and passes `WouldBlock` through
//! once it is handed to the I/O thread's own poll loop.

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A one-way "stop now" signal for every wait of one client: `close()` triggers it and every
/// `poll` of a connect, a `socket.info` or a REST call returns at once. The read end of a
/// socket pair stays readable for ever after the trigger (nothing ever drains it), so any
/// number of threads can wait on it.
#[derive(Debug)]
pub(crate) struct Cancel {
    set: AtomicBool,
    tx: UnixStream,
    rx: UnixStream,
}

impl Cancel {
    /// A signal not triggered yet.
    pub(crate) fn new() -> std::io::Result<Arc<Cancel>> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        Ok(Arc::new(Cancel {
            set: AtomicBool::new(false),
            tx,
            rx,
        }))
    }

    /// Triggers it (idempotent).
    pub(crate) fn trigger(&self) {
        if !self.set.swap(true, Ordering::AcqRel) {
            // One byte makes the read end readable for good; a failure cannot happen on a
            // fresh pair, and the flag is checked before every wait anyway.
            let _ = (&self.tx).write(&[1]);
        }
    }

    /// True once triggered.
    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }
}

/// Waits until `sock` is readable (if `read`), writable (if `write`), `other` is readable, or
/// `timeout_ms` passes (-1: no timeout). True when `sock` reported an event.
pub(crate) fn poll(
    sock: RawFd,
    read: bool,
    write: bool,
    other: RawFd,
    timeout_ms: i32,
) -> std::io::Result<bool> {
    let mut events = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    // With no interest in the socket it is left out of the set (a negative fd is ignored):
    // poll reports errors and hang-ups even for an empty interest set, and a reset while
    // reading is paused would otherwise wake us at once, again and again.
    let sock = if events == 0 { -1 } else { sock };
    let mut fds = [
        libc::pollfd {
            fd: sock,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: other,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: `fds` is a valid array of two initialised pollfd structs for the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 {
            return Ok(fds[0].revents != 0);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// The bound of one whole operation (a connect, a `socket.info`, a REST call): a deadline,
/// the budget it was made from (for [`Error::Timeout`]) and the client's cancel signal.
#[derive(Debug, Clone)]
pub(crate) struct Limit {
    at: Option<Instant>,
    budget: Duration,
    cancel: Arc<Cancel>,
}

/// The marker inside the `io::Error` an interrupted wait returns.
#[derive(Debug)]
struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled by close()")
    }
}

impl std::error::Error for Cancelled {}

impl Limit {
    /// A limit of `budget` from now (a budget too large for the clock: no deadline).
    pub(crate) fn new(budget: Duration, cancel: &Arc<Cancel>) -> Limit {
        Limit::until(Instant::now().checked_add(budget), budget, cancel)
    }

    /// A limit that ends at `at` (`None`: never), reported as a timeout of `budget`.
    pub(crate) fn until(at: Option<Instant>, budget: Duration, cancel: &Arc<Cancel>) -> Limit {
        Limit {
            at,
            budget,
            cancel: cancel.clone(),
        }
    }

    /// The budget the limit was made from.
    pub(crate) fn budget(&self) -> Duration {
        self.budget
    }

    /// Time left (zero once passed).
    pub(crate) fn left(&self) -> Duration {
        self.at.map_or(Duration::MAX, |at| {
            at.saturating_duration_since(Instant::now())
        })
    }

    /// `Err` when cancelled ([`Error::AlreadyClosed`]) or past the deadline
    /// ([`Error::Timeout`]).
    pub(crate) fn check(&self) -> Result<()> {
        if self.cancel.is_set() {
            Err(Error::AlreadyClosed)
        } else if self.left().is_zero() {
            Err(Error::Timeout(self.budget))
        } else {
            Ok(())
        }
    }

    /// The error to report for a failure seen under this limit: a cancel or an expired
    /// deadline explain any failure better than the failure itself (a handshake cut short
    /// says "EOF" or "would block").
    pub(crate) fn explain(&self, error: Error) -> Error {
        self.check().err().unwrap_or(error)
    }

    /// Milliseconds for `poll` from now, rounded up so a wait never spins on a zero timeout.
    fn poll_ms(&self, cap: Duration) -> i32 {
        let left = self.left().min(cap);
        let ms = left.as_nanos().div_ceil(1_000_000);
        ms.clamp(1, i32::MAX as u128) as i32
    }

    /// Waits for `fd` (readable and/or writable) within the limit. True when it is ready;
    /// an `io::Error` of kind `TimedOut` past the deadline, and one carrying the cancel
    /// marker once cancelled.
    pub(crate) fn wait(&self, fd: RawFd, read: bool, write: bool) -> std::io::Result<bool> {
        self.wait_capped(fd, read, write, Duration::MAX)
    }

    /// Like [`Limit::wait`], waiting at most `cap`; `Ok(false)` when `cap` passed first.
    pub(crate) fn wait_capped(
        &self,
        fd: RawFd,
        read: bool,
        write: bool,
        cap: Duration,
    ) -> std::io::Result<bool> {
        self.io_check()?;
        let ready = poll(fd, read, write, self.cancel.fd(), self.poll_ms(cap))?;
        self.io_check()?;
        Ok(ready)
    }

    fn io_check(&self) -> std::io::Result<()> {
        match self.check() {
            Ok(()) => Ok(()),
            Err(Error::AlreadyClosed) => Err(std::io::Error::other(Cancelled)),
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }
}

/// A non-blocking TCP stream. With a [`Limit`] (while a connection is being opened) every
/// read and write waits in `poll` for the socket, within the limit: a peer that stalls or
/// drip-feeds bytes cannot stretch the deadline, `close()` interrupts the wait, and the
/// layers above (TLS, the WebSocket handshake) never see `WouldBlock`. Without one (once
/// connected) `WouldBlock` is passed through for the I/O thread's poll loop.
#[derive(Debug)]
pub(crate) struct Io {
    tcp: TcpStream,
    limit: Option<Limit>,
}

impl Io {
    /// Wraps a non-blocking stream, bounded by `limit`.
    pub(crate) fn new(tcp: TcpStream, limit: Limit) -> Io {
        Io {
            tcp,
            limit: Some(limit),
        }
    }

    /// Sets or lifts the bound (`None`: `WouldBlock` is passed through).
    pub(crate) fn set_limit(&mut self, limit: Option<Limit>) {
        self.limit = limit;
    }

    /// The TCP stream.
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Retries `op` after a wait while it would block and a limit is set.
    fn bounded<T>(
        &mut self,
        read: bool,
        mut op: impl FnMut(&mut TcpStream) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        loop {
            match op(&mut self.tcp) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => match &self.limit {
                    Some(limit) => {
                        limit.wait(self.tcp.as_raw_fd(), read, !read)?;
                    }
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.bounded(true, |tcp| tcp.read(buf))
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bounded(false, |tcp| tcp.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}
