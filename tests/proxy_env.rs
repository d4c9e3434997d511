//! The proxy environment variables, in a test process of their own (the environment is
//! process-wide, and read when a client connects): `http_proxy` / `HTTP_PROXY` (lowercase
//! first), `ALL_PROXY` as the fallback, `NO_PROXY`, never for loopback hosts; and
//! `Config::proxy` / `Config::no_proxy` overriding them. The emulator is reached as
//! `flow.test`, a name only the test proxy resolves, so a request that skips the proxy
//! fails to resolve.

mod common;

use common::proxy::ConnectProxy;
use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Backoff, Client, Config, Error, Message};
use std::time::Duration;

const VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

fn set_env(pairs: &[(&str, &str)]) {
    for var in VARS {
        std::env::remove_var(var);
    }
    for (k, v) in pairs {
        std::env::set_var(k, v);
    }
}

fn config(base_url: &str) -> Config {
    Config::new("env-proxy")
        .base_url(base_url)
        .allow_insecure(true) // http:// to a host that is not loopback by name
        .connect_timeout(Duration::from_millis(800))
        .backoff(Backoff {
            min: Duration::from_millis(5),
            max: Duration::from_millis(20),
            max_attempts: None,
        })
}

fn round_trip(cfg: Config) -> Result<(), Error> {
    let client = Client::connect(cfg)?;
    let trace = client.send(Message::text("env"))?;
    client.wait_delivered(trace, Duration::from_secs(5))?;
    client.history("")?;
    client.close()
}

#[test]
fn proxy_environment_variables() {
    common::fail_after(Duration::from_secs(60), || {
        let emulator = Emulator::start(EmulatorConfig::default().url_host("flow.test")).unwrap();
        let port = emulator.base_url().rsplit(':').next().unwrap().to_string();
        let named = format!("http://flow.test:{port}");
        let target = format!("flow.test:{port}");
        let proxy = ConnectProxy::start();
        proxy.map_host("flow.test", "127.0.0.1");
        let carried = |before: usize| proxy.targets()[before..].to_vec();

        // HTTP_PROXY carries socket.info, the WebSocket (ws://flow.test) and REST.
        set_env(&[("HTTP_PROXY", &proxy.url())]);
        round_trip(config(&named)).expect("through HTTP_PROXY");
        assert_eq!(carried(0), vec![target.clone(); 3]);

        // Lowercase wins over uppercase (a dead proxy in HTTP_PROXY is not used).
        set_env(&[
            ("HTTP_PROXY", "http://127.0.0.1:1"),
            ("http_proxy", &proxy.url()),
        ]);
        let before = proxy.targets().len();
        round_trip(config(&named)).expect("through http_proxy");
        assert_eq!(carried(before).len(), 3);

        // ALL_PROXY when no scheme-specific one is set; HTTPS_PROXY is not for http.
        set_env(&[
            ("ALL_PROXY", &proxy.url()),
            ("HTTPS_PROXY", "http://127.0.0.1:1"),
        ]);
        let before = proxy.targets().len();
        round_trip(config(&named)).expect("through ALL_PROXY");
        assert_eq!(carried(before).len(), 3);

        // NO_PROXY (with a port and mixed case): direct, so flow.test does not resolve (a
        // resolver that stops answering after many lookups makes that a timeout instead).
        for no_proxy in ["flow.test", ".FLOW.test", &format!("flow.test:{port}"), "*"] {
            set_env(&[("HTTP_PROXY", &proxy.url()), ("NO_PROXY", no_proxy)]);
            let before = proxy.targets().len();
            let err = round_trip(config(&named).connect_timeout(Duration::from_millis(300)))
                .expect_err("direct to an unknown name");
            let unresolved = matches!(&err, Error::Network(m) if m.contains("flow.test"));
            assert!(unresolved || matches!(err, Error::Timeout(_)), "{err:?}");
            assert_eq!(carried(before), Vec::<String>::new(), "NO_PROXY={no_proxy}");
        }

        // Loopback hosts never go through an environment proxy (a dead one here).
        set_env(&[("ALL_PROXY", "http://127.0.0.1:1")]);
        let local = common::emulator();
        round_trip(config(&local.base_url())).expect("loopback is direct");

        // Config::no_proxy ignores the environment; Config::proxy overrides it, loopback too.
        set_env(&[("HTTP_PROXY", &proxy.url())]);
        let before = proxy.targets().len();
        let direct = config(&named).connect_timeout(Duration::from_millis(300));
        let err = round_trip(direct.no_proxy()).expect_err("direct");
        assert!(err.is_retryable(), "{err:?}");
        assert_eq!(carried(before), Vec::<String>::new(), "no_proxy()");
        set_env(&[("HTTP_PROXY", "http://127.0.0.1:1")]);
        let before = proxy.targets().len();
        round_trip(config(&emulator.base_url()).proxy(proxy.url())).expect("explicit");
        assert_eq!(
            carried(before).len(),
            3,
            "explicit proxy for a loopback host"
        );

        // A proxy variable that cannot be used is a clear configuration error.
        set_env(&[("ALL_PROXY", "socks5://127.0.0.1:1080")]);
        let err = round_trip(config(&named)).expect_err("socks is not supported");
        assert!(
            matches!(&err, Error::Config(m) if m.contains("ALL_PROXY")),
            "{err:?}"
        );
        set_env(&[]);
    });
}
