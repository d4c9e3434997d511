//! One deadline for a whole connect and for each REST call: a server that drip-feeds one
//! byte every 100 ms (its `socket.info` answer, its WebSocket upgrade answer, its REST
//! answer) or a resolver that hangs cannot stretch it; each ends in a retryable timeout soon
//! after the limit.

use crate::common;

use common::servers::{self, Answer, Front};
use flowai_socket::{Backoff, Client, Config, Error};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_millis(700);
/// What a deadline may overrun by on a shared, busy machine.
const SLACK: Duration = Duration::from_millis(600);
const DRIP: Duration = Duration::from_millis(100);

fn config(base_url: &str) -> Config {
    Config::new("deadline")
        .base_url(base_url)
        .connect_timeout(LIMIT)
        .backoff(Backoff {
            min: Duration::from_millis(5),
            max: Duration::from_millis(20),
            max_attempts: None,
        })
}

fn assert_timed_out(what: &str, started: Instant, err: &Error) {
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout(_)), "{what}: {err:?}");
    assert!(err.is_retryable(), "{what}");
    assert!(
        took >= LIMIT.saturating_sub(Duration::from_millis(50)) && took < LIMIT + SLACK,
        "{what}: took {took:?} for a limit of {LIMIT:?}"
    );
}

#[test]
fn drip_fed_answers_and_a_hanging_resolver_cannot_stretch_the_connect_deadline() {
    common::fail_after(Duration::from_secs(30), || {
        // 1. socket.info answered one byte every 100 ms (~11 s in all).
        let drip_info =
            Front::start(|_, _| Answer::Drip(servers::socket_info_ok("ws://127.0.0.1:9/ws"), DRIP));
        // 2. A socket.info that works, then a WebSocket upgrade answer drip-fed.
        let upgrade = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                        Connection: Upgrade\r\nSec-WebSocket-Accept: xxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n"
            .to_vec();
        let drip_ws = Front::start(move |_, _| Answer::Drip(upgrade.clone(), DRIP));
        let endpoint = format!("ws://127.0.0.1:{}/ws", drip_ws.server.addr.port());
        let info_then_drip =
            Front::start(move |_, _| Answer::Bytes(servers::socket_info_ok(&endpoint)));
        // 3. A host name whose lookup hangs for 5 s.
        flowai_socket::test_hooks::slow_dns("hangs.localhost", Duration::from_secs(5));
        let scenarios = [
            ("drip-fed socket.info", drip_info.base_url()),
            ("drip-fed upgrade", info_then_drip.base_url()),
            ("hanging DNS", "http://hangs.localhost:9".to_string()),
        ];
        let runs: Vec<_> = scenarios
            .into_iter()
            .map(|(what, url)| {
                std::thread::spawn(move || {
                    let started = Instant::now();
                    let err = Client::connect(config(&url)).expect_err(what);
                    assert_timed_out(what, started, &err);
                })
            })
            .collect();
        for run in runs {
            run.join().unwrap();
        }
        assert!(
            !drip_ws.heads().is_empty(),
            "the upgrade request reached the drip-feeding server"
        );
    });
}

#[test]
fn a_drip_fed_rest_answer_cannot_stretch_the_io_timeout() {
    common::fail_after(Duration::from_secs(30), || {
        let emulator = common::emulator();
        let history = servers::http_json(200, "", r#"{"status":"ok","payload":{"history":[]}}"#);
        let front = Front::before(&emulator, move |_, head| {
            head.starts_with("GET /thread.history")
                .then(|| Answer::Drip(history.clone(), DRIP))
        });
        let client = Client::connect(config(&front.base_url()).io_timeout(LIMIT)).unwrap();
        let started = Instant::now();
        let err = client.history("").expect_err("the answer takes ~6 s");
        assert_timed_out("drip-fed thread.history", started, &err);
        client.close().unwrap();
    });
}
