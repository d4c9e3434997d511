//! Connecting and reconnecting: the first connect of [`Client::connect`](super::Client),
//! the I/O thread's loop that serves each connection (with [`connection::serve`]) and opens
//! the next one after a loss, the backoff between attempts, and the one rule that limits
//! them ([`Attempts`]).
//!
//! Every attempt fetches a fresh `socket.info` (its WebSocket URL is single use) and opens
//! the WebSocket, within one deadline. Retryable failures are tried again after a backoff
//! delay, final ones end the client (or `connect`) at once (docs/protocol.md §1, §8).

use super::connection::{self, End};
use super::event::Event;
use super::shared::{Link, Shared};
use crate::config::Backoff;
use crate::error::{Error, Result};
use crate::handshake::{self, RequestIds, Socket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Opens one connection: a fresh `socket.info` (URLs are single use), then the WebSocket, both
/// within one deadline (every phase of both: DNS, TCP, proxy, TLS, the HTTP exchange, the
/// upgrade), and interrupted by `close()`.
fn establish(shared: &Shared, deadline: Instant) -> Result<Socket> {
    let cfg = &shared.cfg;
    let secret = shared.lock().secrets.get(&cfg.thread_id).cloned();
    let ids = RequestIds {
        client_id: &cfg.client_id,
        session_id: &cfg.session_id,
        thread_id: &cfg.thread_id,
        secret: secret.as_deref(),
        ott: cfg.ott.as_deref(),
    };
    let limit = shared.transport.limit_until(deadline, cfg.connect_timeout);
    let info = handshake::socket_info(&shared.transport, cfg, ids, &limit)?;
    if let Some(secret) = info.secret {
        shared.adopt_secret(secret);
    }
    handshake::websocket(&shared.transport, cfg, &info.endpoint, &limit)
}

/// The one attempt-limit rule, for the first connect and for reconnects alike: after a
/// failure (a first connect that failed, a connection lost) at most
/// [`Backoff::max_attempts`] further attempts are made, each after its backoff delay; a
/// connection that worked end to end starts the count over.
pub(crate) struct Attempts {
    backoff: Backoff,
    made: u32,
    immediate: bool,
}

impl Attempts {
    pub(crate) fn new(backoff: &Backoff) -> Attempts {
        Attempts {
            backoff: backoff.clone(),
            made: 0,
            immediate: false,
        }
    }

    /// The number (1 for the first after a failure) and the delay of the next attempt, or
    /// `None` when the limit is reached.
    pub(crate) fn next(&mut self) -> Option<(u32, Duration)> {
        self.made = self.made.saturating_add(1);
        if self.backoff.max_attempts.is_some_and(|max| self.made > max) {
            return None;
        }
        let delay = if std::mem::take(&mut self.immediate) {
            Duration::ZERO
        } else {
            delay(&self.backoff, self.made)
        };
        Some((self.made, delay))
    }

    /// The connection that just ended worked (it acknowledged messages or answered pings):
    /// the count starts over and the next attempt goes at once.
    pub(crate) fn worked(&mut self) {
        self.made = 0;
        self.immediate = true;
    }
}

/// Exponential backoff with full jitter: the delay before attempt `attempt` (1-based) is a
/// uniformly random duration between zero and `min * 2^(attempt-1)`, capped at `max`.
fn delay(backoff: &Backoff, attempt: u32) -> Duration {
    let ceiling = backoff
        .min
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(30))
        .min(backoff.max);
    let mut bytes = [0u8; 8];
    let unit = match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    };
    ceiling.mul_f64(unit)
}

/// The first connection, for `Client::connect`: retryable failures are tried again under
/// the [`Attempts`] rule while the connect timeout lasts; the last error is returned.
pub(crate) fn first_connect(shared: &Shared) -> Result<Socket> {
    let deadline = Instant::now() + shared.cfg.connect_timeout;
    let mut attempts = Attempts::new(&shared.cfg.backoff);
    let mut earlier: Option<Error> = None;
    loop {
        let error = match establish(shared, deadline) {
            Ok(socket) => return Ok(socket),
            Err(e) if e.is_final() => return Err(e),
            // A retry cut short by the deadline says less than the failure that caused it.
            Err(Error::Timeout(_)) if earlier.is_some() => {
                return Err(earlier
                    .take()
                    .unwrap_or(Error::Timeout(shared.cfg.connect_timeout)))
            }
            Err(Error::Timeout(_)) => Error::Timeout(shared.cfg.connect_timeout),
            Err(e) => e,
        };
        let Some((attempt, delay)) = attempts.next() else {
            return Err(error);
        };
        if Instant::now() + delay >= deadline {
            return Err(error);
        }
        log::info!("flowai: connect attempt {attempt} failed ({error}); retrying in {delay:?}");
        earlier = Some(error);
        if !sleep_unless_closing(shared, delay) {
            return Err(Error::AlreadyClosed);
        }
    }
}

/// The I/O thread's body: serve the connection, reconnect after losses, stop on close or a
/// final error.
pub(crate) fn run(shared: Arc<Shared>, first: Socket) {
    let mut socket = Some(first);
    let mut generation = 0u64;
    let mut attempts = Attempts::new(&shared.cfg.backoff);
    let reason = loop {
        if let Some(s) = socket.take() {
            generation += 1;
            // The first connection is announced by `Client::connect` before it returns.
            if generation > 1 {
                shared.announce_connected(generation);
            }
            let progress_before = shared.progress.load(Ordering::Acquire);
            let end = connection::serve(&shared, s, generation);
            // A connection that acknowledged messages or answered pings was healthy: the
            // backoff starts over and the first attempt goes at once. One that did neither
            // (accepted and dropped, or only sent an error) keeps the backoff growing, so such
            // a server is not hammered.
            if shared.progress.load(Ordering::Acquire) != progress_before {
                attempts.worked();
            }
            match end {
                End::Closing => break "closed by the user".to_string(),
                End::Stopped => return,
                End::Lost(reason) => {
                    lost(&shared, &reason);
                    if !shared.cfg.reconnect {
                        break format!("connection lost and reconnect is off: {reason}");
                    }
                }
            }
        }
        if shared.is_halted() {
            break "closed by the user".to_string();
        }
        let Some((attempt, delay)) = attempts.next() else {
            let max = shared.cfg.backoff.max_attempts.unwrap_or_default();
            break format!("gave up after {max} reconnect attempts");
        };
        shared.emit(Event::Reconnecting { attempt, delay });
        if !sleep_unless_closing(&shared, delay) {
            break "closed by the user".to_string();
        }
        #[cfg(feature = "test-hooks")]
        crate::test_hooks::maybe_panic(&shared.cfg.client_id, "io");
        match establish(&shared, Instant::now() + shared.cfg.connect_timeout) {
            Ok(_) | Err(_) if shared.is_halted() => break "closed by the user".to_string(),
            Ok(s) => socket = Some(s),
            Err(e) if e.is_final() => break format!("reconnect refused: {e}"),
            Err(e) => log::info!("flowai: reconnect attempt {attempt} failed: {e}"),
        }
    };
    shared.finish(reason);
}

/// A connection was lost: messages written on it go back to the outbox (or are reported
/// not delivered, without an outbox), and the user hears of it.
fn lost(shared: &Shared, reason: &str) {
    log::warn!("flowai: connection lost: {reason}");
    let lost = {
        let mut st = shared.lock();
        st.link = Link::Down;
        st.control.clear();
        let st = &mut *st;
        let lost = st.outbox.rewind();
        st.outbox.refresh_nonces(&st.secrets);
        lost
    };
    shared.emit(Event::Disconnected {
        reason: reason.to_string(),
    });
    for trace_id in lost {
        shared.emit(Event::NotDelivered { trace_id });
    }
    shared.delivered.notify_all();
}

/// Sleeps for `delay` unless the client closes or stops first; false when it did.
fn sleep_unless_closing(shared: &Shared, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    let mut st = shared.lock();
    while !shared.is_closing() && !matches!(st.link, Link::Stopped(_)) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        st = shared
            .sleepers
            .wait_timeout(st, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_and_stay_within_ceiling() {
        let b = Backoff::default();
        for attempt in 1..40 {
            let ceiling = (b.min * 2u32.pow(attempt.min(20) - 1)).min(b.max);
            for _ in 0..20 {
                assert!(delay(&b, attempt) <= ceiling);
            }
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| delay(&b, 10)).collect();
        assert!(spread.len() > 10, "full jitter gives different delays");
    }

    #[test]
    fn one_limit_counts_attempts_after_a_failure_and_starts_over_after_a_good_connection() {
        let backoff = Backoff {
            max_attempts: Some(2),
            ..Backoff::default()
        };
        let mut attempts = Attempts::new(&backoff);
        assert_eq!(attempts.next().map(|(n, _)| n), Some(1));
        assert_eq!(attempts.next().map(|(n, _)| n), Some(2));
        assert_eq!(attempts.next(), None, "a third attempt after two");
        attempts.worked();
        assert_eq!(
            attempts.next(),
            Some((1, Duration::ZERO)),
            "at once after a good one"
        );
        let (n, delay) = attempts.next().expect("second attempt");
        assert_eq!(n, 2);
        assert!(delay <= backoff.min * 2);
        assert_eq!(attempts.next(), None);
        let mut unlimited = Attempts::new(&Backoff::default());
        assert!((0..1000).all(|_| unlimited.next().is_some()));
    }
}
