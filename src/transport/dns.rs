//! Name resolution that honours the deadline and `close()`.
//!
//! The system resolver (`getaddrinfo`, which knows `/etc/hosts`, nsswitch and the search
//! domains) blocks and cannot be interrupted. So each lookup runs on a short-lived helper
//! thread, `flowai-dns`, and the caller waits for its answer in `poll(2)` together with the
//! deadline and the client's cancel signal. A caller that gives up (deadline or `close()`)
//! simply stops waiting: the lookup finishes on its own, holding only its own answer slot and
//! signal pipe — no client state, no socket, no callback — and it never logs (a C program's
//! log callback is user code). Lookups of the same host share one thread, so a resolver that
//! hangs costs one thread per host name, not one per reconnect attempt.
//!
//! The one consequence: right after `close()` (or a timed-out connect) a `flowai-dns` thread
//! may still be inside `getaddrinfo` until the system resolver gives up (its own timeouts,
//! typically seconds). A program that unloads the library (`dlclose`) must not do so while
//! such a lookup runs.

use super::io::Limit;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, OnceLock};

type Answer = std::result::Result<Vec<IpAddr>, String>;

/// One lookup in flight: its answer, and a pipe that becomes readable once it is there.
struct Lookup {
    answer: Mutex<Option<Answer>>,
    tx: UnixStream,
    rx: UnixStream,
}

fn in_flight() -> &'static Mutex<HashMap<String, Arc<Lookup>>> {
    static IN_FLIGHT: OnceLock<Mutex<HashMap<String, Arc<Lookup>>>> = OnceLock::new();
    IN_FLIGHT.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The addresses of `host` (a name or a literal address) with `port`, within `limit`. A
/// failed lookup is a retryable [`Error::Network`].
pub(crate) fn resolve(host: &str, port: u16, limit: &Limit) -> Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let lookup = start(host)?;
    loop {
        if let Some(answer) = lock(&lookup.answer).clone() {
            let ips = answer.map_err(|e| Error::Network(format!("cannot resolve {host}: {e}")))?;
            if ips.is_empty() {
                return Err(Error::Network(format!("{host} has no address")));
            }
            return Ok(ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect());
        }
        limit
            .wait(lookup.rx.as_raw_fd(), true, false)
            .map_err(|_| limit.explain(Error::Network(format!("cannot resolve {host}"))))?;
    }
}

/// Joins the lookup of `host` in flight, or starts one.
fn start(host: &str) -> Result<Arc<Lookup>> {
    let mut table = lock(in_flight());
    if let Some(lookup) = table.get(host) {
        return Ok(lookup.clone());
    }
    let (tx, rx) = UnixStream::pair()?;
    let lookup = Arc::new(Lookup {
        answer: Mutex::new(None),
        tx,
        rx,
    });
    let (name, mine) = (host.to_string(), lookup.clone());
    std::thread::Builder::new()
        .name("flowai-dns".into())
        .spawn(move || run(name, mine))
        .map_err(|e| Error::Network(format!("cannot start a resolver thread: {e}")))?;
    table.insert(host.to_string(), lookup.clone());
    Ok(lookup)
}

/// The helper thread: look up, publish, leave the table, signal. Nothing here may log or
/// touch client state (see the module docs).
fn run(host: String, lookup: Arc<Lookup>) {
    #[cfg(feature = "test-hooks")]
    crate::test_hooks::before_lookup(&host);
    let answer = (host.as_str(), 0)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .map_err(|e| e.to_string());
    *lock(&lookup.answer) = Some(answer);
    {
        let mut table = lock(in_flight());
        if table.get(&host).is_some_and(|l| Arc::ptr_eq(l, &lookup)) {
            table.remove(&host);
        }
    }
    // The pipe is fresh and holds one byte at most: this cannot block or fail meaningfully.
    let _ = (&lookup.tx).write(&[1]);
}
