//! Proxies set in the config: a real proxy (Debian's tinyproxy) carries `socket.info`, the
//! REST calls and the WebSocket (plain and TLS inside the tunnel); a fault-injecting proxy
//! of the tests' own checks Basic credentials from the proxy URL, and each way a proxy can
//! fail is classified (407 and 403 final, 502 retryable, stall = timeout, reset and close =
//! network errors). `--proxy` on the command line: `cli/tests/flowai/proxy.rs`.

use crate::common;

use common::proxy::{ConnectProxy, Fault, Tinyproxy};
use common::servers;
use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Backoff, Client, Config, Error, Message};
use std::time::{Duration, Instant};

fn round_trip(cfg: Config) {
    let client = Client::connect(cfg).expect("connect through the proxy");
    let trace = client.send(Message::text("via proxy")).unwrap();
    client
        .wait_delivered(trace, Duration::from_secs(5))
        .unwrap();
    client.history("").expect("REST through the proxy");
    client.close().unwrap();
}

#[test]
fn tinyproxy_carries_socket_info_rest_and_the_websocket_plain_and_tls() {
    common::fail_after(Duration::from_secs(60), || {
        let Some(proxy) = Tinyproxy::start() else {
            return;
        };
        let emulator = common::emulator();
        let port = emulator.base_url().rsplit(':').next().unwrap().to_string();
        round_trip(common::config_for(&emulator).proxy(proxy.url()));
        let target = format!("127.0.0.1:{port}");
        let carried = proxy.connects().iter().filter(|c| **c == target).count();
        assert_eq!(
            carried,
            3,
            "socket.info, WebSocket, history: {:?}",
            proxy.connects()
        );

        let Some((ca, cert, key)) = servers::ca_signed_certificate(2, "localhost") else {
            return;
        };
        let tls = Emulator::start(EmulatorConfig::default().tls(&cert, &key).unwrap()).unwrap();
        let tls_port = tls.base_url().rsplit(':').next().unwrap().to_string();
        let cfg = Config::new("via-tinyproxy")
            .base_url(tls.base_url())
            .add_root_certificate_pem(ca)
            .proxy(proxy.url());
        round_trip(cfg);
        let target = format!("localhost:{tls_port}");
        let carried = proxy.connects().iter().filter(|c| **c == target).count();
        assert_eq!(carried, 3, "TLS inside the tunnel: {:?}", proxy.connects());
    });
}

fn through(proxy_url: String, emulator: &Emulator) -> Config {
    common::config_for(emulator)
        .proxy(proxy_url)
        .connect_timeout(Duration::from_millis(600))
        .backoff(Backoff {
            min: Duration::from_millis(5),
            max: Duration::from_millis(20),
            max_attempts: None,
        })
}

#[test]
fn credentials_come_from_the_proxy_url_and_each_proxy_failure_is_classified() {
    common::fail_after(Duration::from_secs(60), || {
        let emulator = std::sync::Arc::new(common::emulator());
        let emulator_port = emulator.base_url().rsplit(':').next().unwrap().to_string();

        // Basic credentials, percent-encoded in the URL.
        let proxy = ConnectProxy::start();
        proxy.require_credentials("jane", "p@ss:word");
        round_trip(through(proxy.url_with("jane", "p%40ss%3Aword"), &emulator));
        assert!(proxy
            .targets()
            .iter()
            .all(|t| *t == format!("127.0.0.1:{emulator_port}")));
        for (url, says) in [
            (proxy.url(), "give user:password"),
            (
                proxy.url_with("jane", "wrong"),
                "refused the user and password",
            ),
        ] {
            let err = Client::connect(through(url, &emulator)).expect_err("407");
            assert!(
                matches!(&err, Error::Config(m) if m.contains("407")),
                "{err:?}"
            );
            assert!(err.is_final() && err.to_string().contains(says), "{err}");
        }

        // Each fault, on a proxy of its own, in parallel.
        type Check = fn(&Error) -> bool;
        let faults: [(Fault, Check, bool); 5] = [
            (
                Fault::Status(403),
                |e| matches!(e, Error::Rejected { status: 403, .. }),
                true,
            ),
            (
                Fault::Status(502),
                |e| matches!(e, Error::Unavailable { status: 502, .. }),
                false,
            ),
            (Fault::Stall, |e| matches!(e, Error::Timeout(_)), false),
            (Fault::Reset, |e| matches!(e, Error::Network(_)), false),
            (Fault::Close, |e| matches!(e, Error::Network(_)), false),
        ];
        let runs: Vec<_> = faults
            .into_iter()
            .map(|(fault, check, is_final)| {
                let emulator = emulator.clone();
                std::thread::spawn(move || {
                    let proxy = ConnectProxy::start();
                    proxy.set_fault(fault.clone());
                    let started = Instant::now();
                    let err = Client::connect(through(proxy.url(), &emulator))
                        .expect_err("the proxy fails");
                    let took = started.elapsed();
                    assert!(check(&err), "{fault:?}: {err:?}");
                    assert_eq!(err.is_final(), is_final, "{fault:?}: {err}");
                    assert!(
                        took < Duration::from_millis(1500),
                        "{fault:?}: took {took:?}"
                    );
                    assert!(
                        err.to_string().contains("proxy") || fault == Fault::Stall,
                        "{err}"
                    );
                })
            })
            .collect();
        for run in runs {
            run.join().unwrap();
        }
        // A proxy that refuses connections.
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = Client::connect(through(format!("http://{closed_port}"), &emulator))
            .expect_err("refused");
        assert!(
            matches!(&err, Error::Network(m) if m.contains(&closed_port.to_string())),
            "{err:?}"
        );
        assert!(err.is_retryable());
        assert_eq!(
            emulator.stats().socket_info_requests,
            1,
            "only the first run got through"
        );
    });
}
