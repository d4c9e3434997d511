//! Hooks for the test suite only (feature `test-hooks`, which only the crate's own tests
//! enable): a resolver that is slow for one host name, and a panic inside a client thread.
//! They exist so tests can reach states a real network reaches rarely; nothing here is API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

static ARMED: AtomicBool = AtomicBool::new(false);

#[derive(Default)]
struct Hooks {
    slow_dns: HashMap<String, Duration>,
    panics: Vec<(String, String)>,
}

fn hooks() -> std::sync::MutexGuard<'static, Hooks> {
    static HOOKS: OnceLock<Mutex<Hooks>> = OnceLock::new();
    HOOKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Makes every lookup of `host` take `delay` longer (a resolver that hangs).
pub fn slow_dns(host: &str, delay: Duration) {
    hooks().slow_dns.insert(host.to_ascii_lowercase(), delay);
}

/// Makes the next loop turn of thread `thread` (`"io"` or `"keepalive"`) of the client with
/// this clientId panic.
pub fn panic_in(client_id: &str, thread: &str) {
    hooks()
        .panics
        .push((client_id.to_string(), thread.to_string()));
    ARMED.store(true, Ordering::Release);
}

/// Called by the resolver thread before a lookup.
pub(crate) fn before_lookup(host: &str) {
    let delay = hooks().slow_dns.get(&host.to_ascii_lowercase()).copied();
    if let Some(delay) = delay {
        std::thread::sleep(delay);
    }
}

/// Called at the top of the client threads' loops: panics when armed for this one.
pub(crate) fn maybe_panic(client_id: &str, thread: &str) {
    if !ARMED.load(Ordering::Acquire) {
        return;
    }
    let hit = {
        let mut h = hooks();
        let found = h
            .panics
            .iter()
            .position(|(c, t)| c == client_id && t == thread);
        found.map(|i| h.panics.remove(i))
    };
    if hit.is_some() {
        panic!("test hook: injected panic in the {thread} thread");
    }
}
