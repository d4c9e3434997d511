//! The fault matrix's shared parts: one emulator behind one TLS relay per cell, the client
//! settings every cell uses, and the table the tests print (phase × fault → outcome).
#![allow(dead_code)]

use super::pki::{Leaf, Pem, TestCa};
use super::relay::{Fault, Phase, Relay};
use flowai_emulator::Emulator;
use flowai_socket::{Backoff, Client, Config, Error, Message, TraceId};
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Every (re)connect of a matrix client must finish or fail within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Keepalive of a matrix client: a stalled or drip-fed WebSocket is found dead after about
/// `KEEPALIVE + PONG_TIMEOUT`.
pub const KEEPALIVE: Duration = Duration::from_millis(300);
/// See [`KEEPALIVE`].
pub const PONG_TIMEOUT: Duration = Duration::from_millis(700);

/// Every cell of the matrix, phase by phase.
pub fn cells() -> Vec<(Phase, Fault)> {
    Phase::ALL
        .iter()
        .flat_map(|p| Fault::ALL.iter().map(move |f| (*p, *f)))
        .collect()
}

/// The CA of the matrix and the relays' certificate, made once per test binary; `None`
/// without `openssl`.
///
/// The first call also points `SSL_CERT_FILE` at the CA alone, for this process: the client
/// otherwise parses the whole system bundle (220 KB) on every connect that adds a root, which
/// takes ~300 ms in a debug build and, with every cell connecting at once on a busy machine,
/// would eat the 1 s connect timeouts the matrix measures. (Call it before any client runs.)
pub fn pki() -> Option<&'static (TestCa, Pem)> {
    static PKI: OnceLock<Option<(TestCa, Pem)>> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = TestCa::new("Flowai Fault Matrix CA")?;
        let leaf = ca.leaf(Leaf::Valid);
        // Under target/tmp (cargo's scratch directory for integration tests), not /tmp: the
        // file must outlive every TLS handshake of the process, so nothing deletes it, and
        // `cargo clean` is where such leftovers belong.
        let roots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("flowai-matrix-ca-{}.pem", std::process::id()));
        std::fs::write(&roots, &ca.cert).expect("write the CA file");
        std::env::set_var("SSL_CERT_FILE", &roots);
        Some((ca, leaf))
    })
    .as_ref()
}

/// One cell's servers: an emulator and a TLS relay in front of it.
pub struct Fixture {
    /// The emulator (plain, behind the relay).
    pub emulator: Emulator,
    /// The relay the client talks to (https/wss).
    pub relay: Relay,
    /// The CA certificate the client trusts.
    ca_pem: String,
}

impl Fixture {
    /// Starts the servers; the relay serves the matrix's certificate ([`pki`] must have
    /// succeeded).
    pub fn new() -> Fixture {
        let (ca, leaf) = pki().expect("the caller checked that the matrix has certificates");
        let emulator = super::emulator();
        let upstream = ([127, 0, 0, 1], emulator.port()).into();
        let relay = Relay::start(upstream, Some(leaf.identity()));
        Fixture {
            emulator,
            relay,
            ca_pem: ca.cert.clone(),
        }
    }

    /// A client config for the relay: short timeouts, fast keepalive, fast reconnects.
    pub fn config(&self) -> Config {
        Config::new("matrix-client")
            .base_url(self.relay.base_url())
            .thread_id("matrix")
            .add_root_certificate_pem(self.ca_pem.clone())
            .connect_timeout(CONNECT_TIMEOUT)
            .io_timeout(CONNECT_TIMEOUT)
            .keepalive_interval(Some(KEEPALIVE))
            .pong_timeout(PONG_TIMEOUT)
            .backoff(Backoff {
                min: Duration::from_millis(10),
                max: Duration::from_millis(200),
                max_attempts: None,
            })
    }

    /// How many times the emulator received each of `speeches` minus one, summed.
    pub fn duplicates(&self, speeches: &[String]) -> usize {
        let sent = super::sent_speeches(&self.emulator, "matrix");
        speeches
            .iter()
            .map(|s| sent.iter().filter(|x| *x == s).count().saturating_sub(1))
            .sum()
    }
}

/// Sends `speech` and waits for its acknowledgement.
pub fn deliver(client: &Client, speech: &str, within: Duration) -> Result<TraceId, Error> {
    let trace = client.send(Message::text(speech))?;
    client.wait_delivered(trace, within)?;
    Ok(trace)
}

/// The error's variant name (`Timeout`, `Network`, `Tls`, ...).
pub fn variant(e: &Error) -> String {
    let debug = format!("{e:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("?")
        .to_string()
}

/// The error's variant and its text, cut to fit a table cell.
pub fn error_name(e: &Error) -> String {
    let text: String = e.to_string().chars().take(60).collect();
    format!("{} \"{text}\"", variant(e))
}

/// What one cell showed.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Whether the requirement held.
    pub ok: bool,
    /// What happened, for the table.
    pub text: String,
}

impl Outcome {
    /// A cell that met the requirement.
    pub fn pass(text: impl Into<String>) -> Outcome {
        Outcome {
            ok: true,
            text: text.into(),
        }
    }

    /// A cell that did not.
    pub fn fail(text: impl Into<String>) -> Outcome {
        Outcome {
            ok: false,
            text: text.into(),
        }
    }

    /// Passes when `ok`.
    pub fn check(ok: bool, text: impl Into<String>) -> Outcome {
        Outcome {
            ok,
            text: text.into(),
        }
    }
}

/// Seconds with two decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Runs `cell` for every cell of the matrix, each in its own thread, all at once.
pub fn run_parallel(cell: fn(Phase, Fault) -> Outcome) -> Vec<(Phase, Fault, Outcome)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = cells()
            .into_iter()
            .map(|(p, f)| (p, f, scope.spawn(move || cell(p, f))))
            .collect();
        handles
            .into_iter()
            .map(|(p, f, h)| {
                let outcome = h
                    .join()
                    .unwrap_or_else(|_| Outcome::fail("the cell's test code panicked"));
                (p, f, outcome)
            })
            .collect()
    })
}

/// The results as a markdown table: one row per phase, one column per fault; a failed cell is
/// marked FAIL.
pub fn table(results: &[(Phase, Fault, Outcome)]) -> String {
    let mut out = String::from("| phase |");
    for f in Fault::ALL {
        let _ = write!(out, " {} |", f.name());
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Fault::ALL.len()));
    for p in Phase::ALL {
        let _ = write!(out, "\n| {} |", p.name());
        for f in Fault::ALL {
            let cell = results.iter().find(|(rp, rf, _)| *rp == p && *rf == f);
            match cell {
                Some((_, _, o)) if o.ok => {
                    let _ = write!(out, " {} |", o.text);
                }
                Some((_, _, o)) => {
                    let _ = write!(out, " **FAIL** {} |", o.text);
                }
                None => out.push_str(" - |"),
            }
        }
    }
    out.push('\n');
    out
}

/// Prints the table under `title` (and the panics seen in client threads so far in this
/// process, which are not attributed to a cell: a cell whose client lost its I/O thread fails
/// by itself), then fails the test if any cell failed.
pub fn report(title: &str, started: Instant, results: &[(Phase, Fault, Outcome)]) {
    println!(
        "\n### {title} ({} cells in {})\n\n{}",
        results.len(),
        secs(started.elapsed()),
        table(results)
    );
    let panics = client_panics();
    if !panics.is_empty() {
        println!("Panics in the client's threads during the run:");
        for p in &panics {
            println!("- {p}");
        }
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, _, o)| !o.ok)
        .map(|(p, f, o)| format!("{} × {}: {}", p.name(), f.name(), o.text))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} cells failed:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
}

/// Panics recorded by [`record_client_panics`].
static CLIENT_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// From now on, a panic in a thread the client started (`flowai-*`, not the emulator's) is
/// recorded (and printed as usual): such a panic kills the thread silently for the user.
pub fn record_client_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            if name.starts_with("flowai-") && !name.starts_with("flowai-emu") {
                let mut list = CLIENT_PANICS.lock().unwrap_or_else(|e| e.into_inner());
                list.push(format!("{name}: {info}"));
            }
            previous(info);
        }));
    });
}

/// The panics recorded so far.
pub fn client_panics() -> Vec<String> {
    CLIENT_PANICS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}
