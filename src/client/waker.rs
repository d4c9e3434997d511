//! Waking the I/O thread out of `poll(2)`: a socket pair whose read end sits in the poll set.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};

/// One byte written wakes the poller; repeated wakes before it runs cost no syscall.
pub(crate) struct Waker {
    tx: UnixStream,
    rx: UnixStream,
    armed: AtomicBool,
}

impl Waker {
    pub(crate) fn new() -> std::io::Result<Self> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(Waker {
            tx,
            rx,
            armed: AtomicBool::new(false),
        })
    }

    /// Wakes the poller (a no-op when a wake is already pending).
    pub(crate) fn wake(&self) {
        if !self.armed.swap(true, Ordering::AcqRel) {
            // A full pipe already guarantees a wake-up, so a failed write loses nothing.
            let _ = (&self.tx).write(&[1]);
        }
    }

    /// Called by the poller before it looks for work: clears the pending wake. The pipe is
    /// drained before the flag is cleared: the other order could swallow the byte of a wake
    /// that saw the cleared flag, leaving the flag set with nothing in the pipe.
    pub(crate) fn reset(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.rx).read(&mut buf), Ok(n) if n > 0) {}
        self.armed.store(false, Ordering::SeqCst);
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }
}

/// Waits until the socket is readable (or writable, if `write`), the waker fires, or
/// `timeout_ms` passes (-1: no timeout).
pub(crate) fn poll(sock: RawFd, write: bool, waker: RawFd, timeout_ms: i32) -> std::io::Result<()> {
    let mut events = libc::POLLIN;
    if write {
        events |= libc::POLLOUT;
    }
    let mut fds = [
        libc::pollfd {
            fd: sock,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: waker,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: `fds` is a valid array of two initialised pollfd structs for the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}
