//! The keepalive thread (docs/protocol.md §3): a `ping` every interval, and a dead-peer
//! verdict when nothing at all arrives within the pong timeout after it. It sleeps on a
//! condvar, so it costs nothing between pings and `close()` wakes it at once.

use super::shared::{Link, Shared};
use crate::protocol::Outbound;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The thread body; returns when the client closes or stops.
pub(crate) fn run(shared: Arc<Shared>, every: Duration) {
    let ping = Outbound::Ping.to_json();
    let pong_timeout = shared.cfg.pong_timeout;
    let mut next_ping = Instant::now() + every;
    let mut waiting: Option<(u64, u64, Instant)> = None; // (generation, ping time µs, deadline)
    let mut st = shared.lock();
    loop {
        if shared.is_closing() || matches!(st.link, Link::Stopped(_)) {
            return;
        }
        #[cfg(feature = "test-hooks")]
        crate::test_hooks::maybe_panic(&shared.cfg.client_id, "keepalive");
        let now = Instant::now();
        if let Some((generation, sent_us, deadline)) = waiting {
            let answered = shared.last_rx_us.load(Ordering::Acquire) >= sent_us;
            if answered || st.link != Link::Up(generation) {
                waiting = None;
            } else if now >= deadline {
                waiting = None;
                st.dead = Some((
                    generation,
                    format!("no answer to ping within {pong_timeout:?}"),
                ));
                shared.waker.wake();
            }
        }
        if now >= next_ping {
            next_ping = now + every;
            if let Link::Up(generation) = st.link {
                st.control.push_back(ping.clone());
                shared.waker.wake();
                if waiting.is_none() {
                    waiting = Some((generation, shared.now_us(), now + pong_timeout));
                }
            }
        }
        let wake_at = waiting.map_or(next_ping, |(_, _, d)| d.min(next_ping));
        let left = wake_at.saturating_duration_since(Instant::now());
        st = shared
            .sleepers
            .wait_timeout(st, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}
