//! `close()` interrupts every phase of a reconnect — a DNS lookup that hangs, a TCP connect
//! that hangs, a proxy that never answers `CONNECT`, a TLS handshake, `socket.info` and a
//! WebSocket upgrade that never get an answer, the backoff sleep — and returns within 50 ms
//! with every thread the client started joined. A REST call in flight is interrupted too.
//!
//! One test, its scenarios one after the other: the thread check counts this process's
//! `flowai-*` threads, so no other client may run meanwhile (hence a test binary of its own).
//! A `flowai-dns` helper may outlive a client (a lookup cannot be interrupted; it holds
//! nothing of the client, see the transport docs), so it is not counted.

mod common;

use common::proxy::{ConnectProxy, Fault};
use common::servers::{self, Answer, Front};
use flowai_socket::{Backoff, Client, Config, Error, Event};
use std::time::{Duration, Instant};

const CLOSE_LIMIT: Duration = Duration::from_millis(50);

fn client_threads() -> Vec<String> {
    servers::flowai_threads()
        .into_iter()
        .filter(|t| t != "flowai-dns")
        .collect()
}

/// Connects through `front` (whose first `socket.info` answer points at a WebSocket that
/// drops after 100 ms), waits for the reconnect to reach its phase, closes, and checks the
/// time and the threads.
fn close_during(what: &str, cfg: Config, reached: impl FnOnce()) {
    let client = Client::connect(cfg.keepalive_interval(Some(Duration::from_secs(60))))
        .unwrap_or_else(|e| panic!("{what}: first connect: {e}"));
    // A new thread names itself once running: wait for the names to show.
    let named = Instant::now() + Duration::from_secs(2);
    while client_threads().len() < 2 && Instant::now() < named {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        client_threads(),
        ["flowai-io", "flowai-keepaliv"], // comm keeps 15 bytes
        "{what}: the client's threads"
    );
    common::wait_event(&client, Duration::from_secs(5), |e| {
        matches!(e, Event::Reconnecting { .. })
    });
    reached();
    // Let the attempt settle into its wait.
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    client.close().unwrap();
    let took = started.elapsed();
    assert!(took <= CLOSE_LIMIT, "{what}: close took {took:?}");
    // A thread that was not joined is still inside the attempt, whose deadline is 10 s away.
    servers::reaped(|| client_threads().is_empty());
    assert_eq!(
        client_threads(),
        Vec::<String>::new(),
        "{what}: threads left"
    );
    eprintln!("close during {what}: {took:?}");
}

fn base(front: &Front, backoff_ms: u64) -> Config {
    Config::new("close-phases")
        .base_url(front.base_url())
        .connect_timeout(Duration::from_secs(10))
        .backoff(Backoff {
            min: Duration::from_millis(backoff_ms),
            max: Duration::from_millis(backoff_ms),
            max_attempts: None,
        })
}

/// A front whose first `socket.info` leads to a WebSocket that drops, and whose later
/// answers `later` chooses.
fn front(later: impl Fn() -> Answer + Send + Sync + 'static) -> Front {
    let ws = servers::ws_then_drop(Duration::from_millis(100));
    let first = format!("ws://127.0.0.1:{}/ws", ws.addr.port());
    std::mem::forget(ws);
    Front::start(move |n, _| {
        if n == 0 {
            Answer::Bytes(servers::socket_info_ok(&first))
        } else {
            later()
        }
    })
}

fn pointing_at(endpoint: String) -> Front {
    front(move || Answer::Bytes(servers::socket_info_ok(&endpoint)))
}

#[test]
fn close_interrupts_every_phase_of_a_reconnect_and_joins_every_thread() {
    common::fail_after(Duration::from_secs(60), || {
        // DNS: the endpoint's host name takes 10 s to resolve.
        flowai_socket::test_hooks::slow_dns("slow-dns.localhost", Duration::from_secs(10));
        let f = pointing_at("ws://slow-dns.localhost:9/ws".into());
        close_during("DNS", base(&f, 1), || {});

        // TCP: the endpoint's listener has a full backlog, so the connect hangs.
        let backlogged = servers::backlogged();
        let f = pointing_at(format!("ws://{}/ws", backlogged.addr));
        close_during("TCP connect", base(&f, 1), || {});

        // TLS: the endpoint accepts and never answers the ClientHello.
        let silent = servers::silent();
        let f = pointing_at(format!("wss://127.0.0.1:{}/ws", silent.addr.port()));
        close_during("TLS handshake", base(&f, 1), || {
            assert!(silent.wait_accepted(1, Duration::from_secs(5)));
        });

        // Upgrade: the endpoint accepts and never answers the HTTP upgrade.
        let silent = servers::silent();
        let f = pointing_at(format!("ws://127.0.0.1:{}/ws", silent.addr.port()));
        close_during("WebSocket upgrade", base(&f, 1), || {
            assert!(silent.wait_accepted(1, Duration::from_secs(5)));
        });

        // socket.info: the second request is never answered.
        let f = front(|| Answer::Stall);
        close_during("socket.info", base(&f, 1), || {
            assert!(f.server.wait_accepted(2, Duration::from_secs(5)));
        });

        // Proxy: the proxy opens the first two tunnels (socket.info, the WebSocket), then
        // never answers a CONNECT.
        let proxy = ConnectProxy::start();
        proxy.set_fault_after(2, Fault::Stall);
        let f = front(|| Answer::Stall);
        close_during("proxy CONNECT", base(&f, 1).proxy(proxy.url()), || {
            assert!(proxy.server.wait_accepted(3, Duration::from_secs(5)));
        });

        // Backoff: a long sleep between attempts.
        let f = front(|| Answer::Bytes(servers::http_json(503, "", "{}")));
        close_during("backoff sleep", base(&f, 10_000), || {});

        // A REST call in flight on another thread returns AlreadyClosed at once.
        let emulator = common::emulator();
        let f = Front::before(&emulator, |_, head| {
            head.starts_with("GET /thread.history")
                .then_some(Answer::Stall)
        });
        let client = std::sync::Arc::new(Client::connect(base(&f, 1)).unwrap());
        let c = client.clone();
        let rest = std::thread::spawn(move || {
            let r = c.history("");
            (r, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(200));
        let closed_at = Instant::now();
        client.close().unwrap();
        let (result, returned_at) = rest.join().unwrap();
        assert!(matches!(result, Err(Error::AlreadyClosed)), "{result:?}");
        let after = returned_at.saturating_duration_since(closed_at);
        assert!(
            after <= CLOSE_LIMIT,
            "the REST call returned {after:?} after close"
        );
    });
}
