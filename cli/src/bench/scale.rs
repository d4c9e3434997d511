//! The scale phase of `flowai bench --clients N`: N clients in this one process, each with
//! its own I/O and keepalive thread, connected one after another (or from a few threads),
//! all sending, then left idle while their keepalives ping. The emulator runs in a child
//! process by default so that memory, threads and CPU of this process are the clients' alone.

use super::sys::{self, Census, Samples};
use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::{Client, Config, Event, Message};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the scale phase's emulator runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleEmulator {
    /// `flowai emulator` in a child process: this process holds only the clients.
    Process,
    /// In this process (its threads and memory count with the clients').
    Inproc,
}

/// A local emulator for the scale phase; stops (or kills the child) when dropped.
pub enum ScaleServer {
    /// The child process, its base URL and its stdout (kept open so that it never writes
    /// into a closed pipe; it prints two short lines).
    Process {
        /// The `flowai emulator` process.
        child: Child,
        /// Its base URL.
        url: String,
        /// Its stdout, kept open and never read again.
        _stdout: BufReader<ChildStdout>,
    },
    /// An in-process emulator.
    Inproc(Emulator),
}

impl ScaleServer {
    /// Starts the emulator where asked, without bot replies.
    pub fn start(kind: ScaleEmulator) -> Result<ScaleServer, Box<dyn std::error::Error>> {
        match kind {
            ScaleEmulator::Inproc => Ok(ScaleServer::Inproc(Emulator::start(
                EmulatorConfig::default().reply(false),
            )?)),
            ScaleEmulator::Process => {
                let exe = std::env::current_exe()?;
                let mut child = Command::new(exe)
                    .args(["emulator", "--port", "0", "--no-reply"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()?;
                let stdout = child
                    .stdout
                    .take()
                    .ok_or("no stdout from the emulator process")?;
                let mut reader = BufReader::new(stdout);
                let mut line = String::new();
                reader.read_line(&mut line)?;
                match line.split_once("listening on ") {
                    Some((_, url)) => Ok(ScaleServer::Process {
                        child,
                        url: url.trim().to_string(),
                        _stdout: reader,
                    }),
                    None => {
                        let _ = child.kill();
                        let _ = child.wait();
                        Err(format!("the emulator process did not start: {line:?}").into())
                    }
                }
            }
        }
    }

    /// The base URL to connect to.
    pub fn base_url(&self) -> String {
        match self {
            ScaleServer::Process { url, .. } => url.clone(),
            ScaleServer::Inproc(emu) => emu.base_url(),
        }
    }

    /// The child's pid, when the emulator is a child process.
    pub fn pid(&self) -> Option<u32> {
        match self {
            ScaleServer::Process { child, .. } => Some(child.id()),
            ScaleServer::Inproc(_) => None,
        }
    }
}

impl Drop for ScaleServer {
    fn drop(&mut self) {
        if let ScaleServer::Process { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Settings of the scale phase.
pub struct ScaleParams {
    /// Clients to connect.
    pub clients: usize,
    /// Messages sent in total (spread evenly, at least one per client).
    pub messages: usize,
    /// Round trips measured on the first client while all are connected.
    pub round_trips: usize,
    /// Idle window measured after the sends.
    pub idle: Duration,
    /// Threads opening the connections.
    pub connect_threads: usize,
    /// Longest wait for any one acknowledgement.
    pub stall: Duration,
    /// The clients' keepalive interval (None: off), to count the pings of the idle window.
    pub keepalive: Option<Duration>,
}

/// What the scale phase measured.
#[derive(Debug, Default)]
pub struct ScaleResult {
    /// Clients connected.
    pub clients: usize,
    /// Time to connect them all.
    pub connect_all: Duration,
    /// Each client's connect time.
    pub connect: Samples,
    /// RSS of this process before connecting, KiB.
    pub rss_before_kib: u64,
    /// RSS of this process with every client connected, KiB.
    pub rss_connected_kib: u64,
    /// Threads of this process with every client connected.
    pub threads: u64,
    /// Client threads counted by name.
    pub client_threads: u64,
    /// Messages sent and distinct traceIds acknowledged.
    pub messages: u64,
    /// Distinct traceIds acknowledged.
    pub delivered: u64,
    /// Acknowledgements for an already acknowledged traceId.
    pub duplicates: u64,
    /// Time from the first send to the last acknowledgement.
    pub send_all: Duration,
    /// Round trips on the first client with all connected.
    pub rtt: Samples,
    /// Length of the idle window.
    pub idle_wall: Duration,
    /// Pings the clients' keepalive timers scheduled inside the idle window.
    pub idle_pings: u64,
    /// CPU of this process in the idle window, seconds.
    pub idle_cpu_s: f64,
    /// Wake-ups (voluntary context switches) of the client threads in the idle window.
    pub idle_wakeups: u64,
    /// Preemptions (involuntary context switches) of the client threads in the idle window.
    pub idle_preempted: u64,
    /// CPU of the emulator process in the idle window, seconds (child process only).
    pub emulator_idle_cpu_s: Option<f64>,
    /// RSS and threads of the emulator process (child process only).
    pub emulator_status: Option<sys::Status>,
    /// Each client's close time.
    pub close: Samples,
    /// Time to close them all.
    pub close_all: Duration,
}

/// Runs the phase against `config` (a fresh sessionId per client is set here).
pub fn run(
    config: &Config,
    template: &Message,
    p: &ScaleParams,
    emulator_pid: Option<u32>,
) -> Result<ScaleResult, Box<dyn std::error::Error>> {
    let mut r = ScaleResult {
        clients: p.clients,
        ..ScaleResult::default()
    };
    let per_client = (p.messages / p.clients.max(1)).max(1);
    let config = config.clone().max_outbox(per_client.max(10_000));
    r.rss_before_kib = sys::status(None).rss_kib;

    // 1. Connect everyone, timing each connect and the whole.
    let started = Instant::now();
    let threads = p.connect_threads.clamp(1, p.clients.max(1));
    let mut clients: Vec<Client> = Vec::with_capacity(p.clients);
    let mut connected_at: Vec<Instant> = Vec::with_capacity(p.clients);
    std::thread::scope(|scope| -> Result<(), String> {
        let mut handles = Vec::new();
        for t in 0..threads {
            let n = p.clients / threads + usize::from(t < p.clients % threads);
            let config = &config;
            handles.push(scope.spawn(
                move || -> Result<Vec<(Client, Duration, Instant)>, String> {
                    let mut mine = Vec::with_capacity(n);
                    for _ in 0..n {
                        let cfg = config.clone().session_id(flowai_socket::ids::random_hex());
                        let t0 = Instant::now();
                        let client = Client::connect(cfg).map_err(|e| {
                            format!("connect failed after {} clients: {e}", mine.len())
                        })?;
                        mine.push((client, t0.elapsed(), Instant::now()));
                    }
                    Ok(mine)
                },
            ));
        }
        for h in handles {
            for (client, took, at) in h
                .join()
                .map_err(|_| "a connect thread panicked".to_string())??
            {
                r.connect.push(took);
                connected_at.push(at);
                clients.push(client);
            }
        }
        Ok(())
    })?;
    r.connect_all = started.elapsed();
    let st = sys::status(None);
    r.rss_connected_kib = st.rss_kib;
    r.threads = st.threads;

    // 2. Every client sends its share, then every acknowledgement is collected.
    let started = Instant::now();
    let mut firsts = Vec::with_capacity(clients.len());
    for c in &clients {
        let mut first = None;
        for _ in 0..per_client {
            let trace = c.send(template.clone())?;
            first.get_or_insert(trace.0);
        }
        firsts.push(first.unwrap_or(0));
    }
    r.messages = (per_client * clients.len()) as u64;
    for (c, first) in clients.iter().zip(&firsts) {
        let mut seen = HashSet::with_capacity(per_client);
        while seen.len() < per_client {
            match c.recv_timeout(p.stall)? {
                Some(Event::Delivered(d)) => {
                    let Some(t) = d.trace_id else { continue };
                    if (*first..*first + per_client as u64).contains(&t.0) && !seen.insert(t.0) {
                        r.duplicates += 1;
                    }
                }
                Some(Event::Closed { reason }) => {
                    return Err(format!("a client stopped: {reason}").into())
                }
                Some(_) => {}
                None => {
                    return Err(format!("stalled: no acknowledgement within {:?}", p.stall).into())
                }
            }
        }
        r.delivered += seen.len() as u64;
    }
    r.send_all = started.elapsed();
    // Counted now: a new thread names itself when it first runs, which may be after
    // `Client::connect` returned; by now every client has sent and received.
    r.client_threads = sys::client_census(false).threads;

    // 3. Round trips on one client while all are connected.
    if let Some(c) = clients.first() {
        r.rtt = super::round_trips(c, template, p.round_trips, p.stall)?;
    }
    for c in &clients {
        while c.try_recv()?.is_some() {}
    }

    // 4. Idle: nothing to do but keepalives.
    // The census reads /proc for every thread: kept outside the measured window.
    let census0: Census = sys::client_census(false);
    let emu_cpu0 = emulator_pid.map(sys::process_cpu_seconds);
    let cpu0 = sys::cpu_seconds();
    let t0 = Instant::now();
    std::thread::sleep(p.idle);
    r.idle_wall = t0.elapsed();
    if let Some(every) = p.keepalive {
        let t1 = t0 + r.idle_wall;
        r.idle_pings = connected_at
            .iter()
            .map(|at| pings_between(*at, every, t0, t1))
            .sum();
    }
    r.idle_cpu_s = sys::cpu_seconds() - cpu0;
    r.emulator_idle_cpu_s = emulator_pid
        .zip(emu_cpu0)
        .map(|(pid, c0)| sys::process_cpu_seconds(pid) - c0);
    let census = sys::client_census(false).since(&census0);
    r.idle_wakeups = census.wakeups;
    r.idle_preempted = census.preempted;
    r.emulator_status = emulator_pid.map(|pid| sys::status(Some(pid)));

    // 5. Close everyone.
    let started = Instant::now();
    for c in clients.drain(..) {
        let t0 = Instant::now();
        c.close()?;
        r.close.push(t0.elapsed());
    }
    r.close_all = started.elapsed();
    Ok(r)
}

/// Pings a keepalive timer started at `start` with period `every` fires in `[from, to)`
/// (the first one at `start + every`).
fn pings_between(start: Instant, every: Duration, from: Instant, to: Instant) -> u64 {
    let every = every.as_secs_f64().max(1e-9);
    let since = |t: Instant| t.saturating_duration_since(start).as_secs_f64() / every;
    // Ping m fires at start + m * every, m >= 1: count the m with from <= fire < to.
    let first = since(from).ceil().max(1.0);
    let end = since(to).ceil().max(1.0);
    (end - first).max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_are_counted_inside_the_window_only() {
        let s = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(pings_between(s, ms(1000), s, s + ms(999)), 0);
        assert_eq!(pings_between(s, ms(1000), s, s + ms(1001)), 1);
        assert_eq!(pings_between(s, ms(1000), s + ms(1500), s + ms(4500)), 3);
        assert_eq!(
            pings_between(s, ms(25_000), s + ms(2000), s + ms(12_000)),
            0
        );
    }
}
