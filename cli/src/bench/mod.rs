//! `flowai bench`: connect time, one-at-a-time round trip, pipelined throughput (with a raw
//! tungstenite baseline), CPU, memory, threads, idle wake-ups and close time of the client,
//! against an in-process emulator (default) or a real server. `--clients N` (N > 1) runs the
//! scale phase instead: N clients in this one process. `--json` prints one JSON object as the
//! last line; otherwise a short table.
//!
//! Phases of a single-client run, each on a fresh connection:
//! 1. connect: `--connects` times `Client::connect` then `close`, both timed;
//! 2. round trip: `--round-trips` times `send` then `wait_delivered` (after a warm-up);
//! 3. raw baseline: the same frames on a plain blocking tungstenite socket;
//! 4. throughput: `--messages` pipelined with at most `--window` unacknowledged, counting
//!    distinct traceIds in `Event::Delivered` and duplicates (with `--drop-every K` the
//!    emulator drops each connection after K frames and the outbox re-sends; a fault-free
//!    run is measured too for comparison);
//! 5. idle: one connected client left alone for `--idle-secs`: CPU and wake-ups of its
//!    threads (zero expected between keepalives).
//!
//! A phase that fails does not end the run: its fields are null in the report and
//! `<phase>_error` (`connect_error`, `round_trip_error`, `raw_error`, `throughput_error`,
//! `fault_error`, `idle_error`; `scale_error` with `--clients`) says why; it is null when the
//! phase succeeded or was not asked for.

mod raw;
mod report;
mod scale;
mod sys;

use super::target::TargetArgs;
use flowai_emulator::{Emulator, EmulatorConfig};
use flowai_socket::protocol::{Hours, Metadata, Outbound, Profile};
use flowai_socket::{Backoff, Client, Config, Event, Message, Originator};
use report::{outcome, round3, Phase as Fields, Report, Run};
use scale::{ScaleEmulator, ScaleParams, ScaleServer};
use serde_json::json;
use std::time::{Duration, Instant};
use sys::Samples;

type BoxError = Box<dyn std::error::Error>;

/// Flags of `flowai bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Messages in the pipelined throughput run (in total across clients with --clients).
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Most messages in flight (sent, not yet acknowledged) in the throughput run.
    #[arg(long, default_value_t = 1000)]
    window: usize,
    /// Clients: 1 runs the single-client phases, more runs the scale phase.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Print one JSON object (the last line) instead of a table.
    #[arg(long)]
    json: bool,
    /// Emulator fault for the throughput run: drop each connection after K frames.
    #[arg(long, value_name = "K")]
    drop_every: Option<u64>,
    /// Keepalive interval in ms, 0 = off [default: the library's 25 s; 1 s with --clients > 1].
    #[arg(long, value_name = "MS")]
    keepalive_ms: Option<u64>,
    /// The emulator sends no bot replies in any phase [default: replies in the connect and
    /// round-trip phases only].
    #[arg(long, conflicts_with = "replies")]
    no_reply: bool,
    /// The emulator also sends bot replies during the throughput run.
    #[arg(long)]
    replies: bool,
    /// Connects measured (each followed by a timed close).
    #[arg(long, default_value_t = 50)]
    connects: usize,
    /// One-at-a-time round trips measured (send → delivered).
    #[arg(long, default_value_t = 2000)]
    round_trips: usize,
    /// Skip the raw tungstenite baseline.
    #[arg(long)]
    no_raw: bool,
    /// Seconds of idleness measured (process CPU and client-thread wake-ups).
    #[arg(long, default_value_t = 2.0)]
    idle_secs: f64,
    /// Smallest reconnect backoff in ms [default: the library's 100 ms].
    #[arg(long, value_name = "MS")]
    backoff_min_ms: Option<u64>,
    /// Where the emulator of the scale phase runs.
    #[arg(long, value_enum, default_value_t = ScaleEmulator::Process)]
    scale_emulator: ScaleEmulator,
    /// Threads opening the connections in the scale phase.
    #[arg(long, default_value_t = 1)]
    connect_threads: usize,
    /// Give up when no acknowledgement comes for this many seconds.
    #[arg(long, default_value_t = 30)]
    stall_secs: u64,
    #[command(flatten)]
    target: TargetArgs,
}

/// The message the official SDK sends by default from a browser: threadId, traceId, speech,
/// an `Anonymous`/`external` originator with an empty profile, and metadata with timezone,
/// contexts, params and domain: a 262-byte payload in a 296-byte frame.
fn sdk_message() -> Message {
    let mut metadata = Metadata {
        timezone: Some(Hours(1.0)),
        params: Some(Default::default()),
        contexts: Some(Vec::new()),
        ..Metadata::default()
    };
    metadata.extra.insert(
        "domain".into(),
        json!({"realm": "browser", "title": "Flow bench"}),
    );
    Message::text("Hi there!")
        .originator(Originator::new("Anonymous").profile(Profile::default()))
        .metadata(metadata)
}

/// Where the phases connect.
enum Server {
    /// A real server (flags or environment).
    External(Box<Config>),
    /// In-process emulators, one per phase.
    Local,
}

/// One connection target for a phase; keeps its emulator alive.
struct Phase {
    /// The client configuration for this phase.
    config: Config,
    /// The phase's own emulator (None against a real server).
    emulator: Option<Emulator>,
}

impl Phase {
    /// The emulator's busy counter (µs spent handling frames), when there is one.
    fn busy_micros(&self) -> Option<u64> {
        self.emulator.as_ref().map(|e| e.stats().busy_micros)
    }
}

/// Settings shared by every client the bench opens.
struct Settings {
    /// `Some(k)`: `Config::keepalive_interval(k)`; None: the library's default.
    keepalive: Option<Option<Duration>>,
    /// Smallest reconnect backoff; None: the library's default.
    backoff_min: Option<Duration>,
    /// Outbox and event-queue capacity (at least the window).
    max_outbox: usize,
}

impl Server {
    /// A target for one phase: the external config, or a fresh emulator with `emu`.
    fn phase(&self, emu: EmulatorConfig, s: &Settings) -> Result<Phase, BoxError> {
        let (mut config, emulator) = match self {
            Server::External(cfg) => ((**cfg).clone(), None),
            Server::Local => {
                let e = Emulator::start(emu)?;
                (Config::new("local-bench").base_url(e.base_url()), Some(e))
            }
        };
        config = config
            .max_outbox(s.max_outbox)
            .max_queued_events(s.max_outbox.max(10_000));
        if let Some(k) = s.keepalive {
            config = config.keepalive_interval(k);
        }
        if let Some(min) = s.backoff_min {
            config = config.backoff(Backoff {
                min,
                max: Backoff::default().max.max(min),
                max_attempts: None,
            });
        }
        Ok(Phase { config, emulator })
    }
}

/// Runs the command.
pub fn run(args: Args) -> Result<(), BoxError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let server = if args.target.client_id.is_some() || env("FLOWAI_CLIENT_ID").is_some() {
        Server::External(Box::new(args.target.resolve()?.config))
    } else {
        Server::Local
    };
    let template = sdk_message();
    let (cpus, model) = sys::machine();
    let nofile = sys::raise_nofile((args.clients as u64) * 8 + 1024);
    let mut probe = template.clone();
    probe.thread_id = match &server {
        Server::External(c) => c.settings().thread_id().to_string(),
        // What `Config::new("local-bench")` makes: 32 hex characters.
        Server::Local => "0123456789abcdef0123456789abcdef".into(),
    };
    probe.trace_id = Some(flowai_socket::TraceId(1_764_000_000_000_000));
    let started = Instant::now();
    let run = if args.clients > 1 {
        Run::Scale(run_scale(&args, &server, &template)?)
    } else {
        Run::Single(run_single(&args, &server, &template)?)
    };
    let report = Report {
        version: env!("CARGO_PKG_VERSION"),
        machine_cpus: cpus,
        machine_cpu: model,
        nofile_limit: nofile,
        target: match &server {
            Server::External(c) => c.settings().base_url().to_string(),
            Server::Local => "emulator".to_string(),
        },
        frame_bytes: Outbound::MessageSend(probe).to_json().len(),
        run,
        cpu_s: round3(sys::cpu_seconds()),
        wall_s: round3(started.elapsed().as_secs_f64()),
        peak_rss_kib: sys::status(None).hwm_kib,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        report.print_table();
    }
    Ok(())
}

/// `--keepalive-ms`: 0 turns keepalive off (no keepalive thread).
fn keepalive_of(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// `send` then `wait_delivered`, `n` times after a warm-up; other events are drained
/// outside the timed part.
pub(crate) fn round_trips(
    client: &Client,
    template: &Message,
    n: usize,
    stall: Duration,
) -> Result<Samples, BoxError> {
    let warmup = (n / 10).clamp(1, 200);
    let mut samples = Samples::with_capacity(n);
    for i in 0..warmup + n {
        let message = template.clone();
        let t0 = Instant::now();
        let trace = client.send(message)?;
        client.wait_delivered(trace, stall)?;
        let took = t0.elapsed();
        if i >= warmup {
            samples.push(took);
        }
        while client.try_recv()?.is_some() {}
    }
    Ok(samples)
}

/// What a pipelined run measured.
#[derive(Default)]
struct Throughput {
    /// Distinct traceIds acknowledged.
    delivered: u64,
    /// Acknowledgements of already acknowledged traceIds.
    duplicates: u64,
    /// `Event::Disconnected` seen (one per dropped connection).
    disconnects: u64,
    /// From the first send to the last distinct acknowledgement.
    elapsed: Duration,
    /// CPU of the whole process in that time.
    cpu_s: f64,
    /// CPU of the caller's and the client's threads in that time.
    client_cpu_s: f64,
    /// Threads of the process at the end of the run.
    threads: u64,
    /// Threads of the client (by name).
    client_threads: u64,
    /// Time the emulator spent handling frames, when known.
    emulator_busy: Option<Duration>,
}

impl Throughput {
    /// Acknowledged messages per second.
    fn msgs_per_sec(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Counts acknowledgements of a run whose traceIds are `first..first + n`.
struct Tally {
    /// The first traceId, once known.
    first: Option<u64>,
    /// Whether each traceId has been acknowledged.
    acked: Vec<bool>,
    /// Distinct traceIds acknowledged.
    delivered: usize,
    /// Acknowledgements of already acknowledged traceIds.
    duplicates: u64,
    /// Connections lost.
    disconnects: u64,
}

impl Tally {
    /// A tally for `n` messages.
    fn new(n: usize) -> Self {
        Tally {
            first: None,
            acked: vec![false; n],
            delivered: 0,
            duplicates: 0,
            disconnects: 0,
        }
    }

    /// Records one event; Err when the client stopped for good.
    fn record(&mut self, event: Event) -> Result<(), BoxError> {
        match event {
            Event::Delivered(d) | Event::ActivitiesDelivered(d) => {
                let (Some(t), Some(f)) = (d.trace_id, self.first) else {
                    return Ok(());
                };
                match self.acked.get_mut(t.0.wrapping_sub(f) as usize) {
                    Some(seen) if *seen => self.duplicates += 1,
                    Some(seen) => {
                        *seen = true;
                        self.delivered += 1;
                    }
                    None => {}
                }
            }
            Event::Disconnected { .. } => self.disconnects += 1,
            Event::Closed { reason } => return Err(format!("the client stopped: {reason}").into()),
            _ => {}
        }
        Ok(())
    }
}

/// Sends `n` messages keeping at most `window` unacknowledged, until every traceId is
/// acknowledged; counts duplicates (acks of already acknowledged traceIds) and disconnects.
fn pipelined(
    phase: &Phase,
    template: &Message,
    n: usize,
    window: usize,
    stall: Duration,
) -> Result<Throughput, BoxError> {
    let client = Client::connect(phase.config.clone())?;
    let window = window.max(1);
    let mut tally = Tally::new(n);
    let mut sent = 0usize;
    let busy0 = phase.busy_micros();
    let census0 = sys::client_census(true);
    let cpu0 = sys::cpu_seconds();
    let t0 = Instant::now();
    while tally.delivered < n {
        while sent < n && sent - tally.delivered < window {
            let trace = client.send(template.clone())?;
            let first = *tally.first.get_or_insert(trace.0);
            if trace.0 != first + sent as u64 {
                return Err("traceIds are not consecutive; cannot count them".into());
            }
            sent += 1;
        }
        match client.recv_timeout(stall)? {
            Some(e) => tally.record(e)?,
            None => {
                return Err(format!(
                    "stalled: {} of {n} acknowledged, none for {stall:?}",
                    tally.delivered
                )
                .into())
            }
        }
        while let Some(e) = client.try_recv()? {
            tally.record(e)?;
        }
    }
    let elapsed = t0.elapsed();
    let cpu_s = sys::cpu_seconds() - cpu0;
    let census = sys::client_census(true).since(&census0);
    let busy = phase
        .busy_micros()
        .zip(busy0)
        .map(|(b, b0)| Duration::from_micros(b - b0));
    client.flush(stall)?;
    while let Some(e) = client.try_recv()? {
        tally.record(e)?;
    }
    let threads = sys::status(None).threads;
    client.close()?;
    Ok(Throughput {
        delivered: tally.delivered as u64,
        duplicates: tally.duplicates,
        disconnects: tally.disconnects,
        elapsed,
        cpu_s,
        client_cpu_s: census.cpu_ns as f64 / 1e9,
        threads,
        client_threads: census.threads.saturating_sub(1),
        emulator_busy: busy,
    })
}

/// Connect then close, `n` times, timing each.
fn connect_close(phase: &Phase, n: usize) -> Result<(Samples, Samples), BoxError> {
    let mut connect = Samples::with_capacity(n);
    let mut close = Samples::with_capacity(n);
    for _ in 0..n {
        let cfg = phase
            .config
            .clone()
            .session_id(flowai_socket::ids::random_hex());
        let t0 = Instant::now();
        let client = Client::connect(cfg)?;
        connect.push(t0.elapsed());
        let t1 = Instant::now();
        client.close()?;
        close.push(t1.elapsed());
    }
    Ok((connect, close))
}

/// What the idle phase measured.
#[derive(Default)]
struct Idle {
    /// The measured window.
    wall_s: f64,
    /// CPU of the process in it.
    cpu_s: f64,
    /// The client threads' context switches in it.
    census: sys::Census,
}

/// One connected client left alone for `idle`.
fn idle_client(phase: &Phase, idle: Duration) -> Result<Idle, BoxError> {
    let client = Client::connect(phase.config.clone())?;
    while client.recv_timeout(Duration::from_millis(100))?.is_some() {}
    // The census reads /proc for every thread: kept outside the measured window.
    let census0 = sys::client_census(false);
    let cpu0 = sys::cpu_seconds();
    let t0 = Instant::now();
    std::thread::sleep(idle);
    let wall_s = t0.elapsed().as_secs_f64();
    let cpu_s = sys::cpu_seconds() - cpu0;
    let census = sys::client_census(false).since(&census0);
    client.close()?;
    Ok(Idle {
        wall_s,
        cpu_s,
        census,
    })
}

impl From<&Throughput> for report::Throughput {
    fn from(t: &Throughput) -> Self {
        let per_msg = |s: f64| sys::round1(s * 1e6 / t.delivered.max(1) as f64);
        report::Throughput {
            delivered: t.delivered,
            duplicates: t.duplicates,
            disconnects: t.disconnects,
            msgs_per_sec: t.msgs_per_sec().round(),
            throughput_s: round3(t.elapsed.as_secs_f64()),
            cpu_us_per_msg: per_msg(t.cpu_s),
            client_cpu_us_per_msg: per_msg(t.client_cpu_s),
            threads: t.threads,
            client_threads: t.client_threads,
            emulator_busy_pct: t
                .emulator_busy
                .map(|b| report::busy_pct(b.as_secs_f64(), t.elapsed.as_secs_f64())),
        }
    }
}

/// The single-client phases: connect/close, round trips, raw baseline, throughput (and under
/// the drop fault), idle. A phase that fails is reported (its fields null, `<phase>_error`
/// set) and the next one runs.
fn run_single(
    args: &Args,
    server: &Server,
    template: &Message,
) -> Result<report::Single, BoxError> {
    let stall = Duration::from_secs(args.stall_secs.max(1));
    let settings = Settings {
        keepalive: args.keepalive_ms.map(keepalive_of),
        backoff_min: args
            .backoff_min_ms
            .map(|ms| Duration::from_millis(ms.max(1))),
        max_outbox: args.window.max(10_000),
    };
    let chatty = EmulatorConfig::default().reply(!args.no_reply);
    let quiet = EmulatorConfig::default().reply(args.replies && !args.no_reply);

    // 1. Connect and close.
    let phase = server.phase(chatty.clone(), &settings)?;
    let (connect, connect_error) = outcome("connect", Some(connect_close(&phase, args.connects)));

    // 2. Round trips.
    let measured = Client::connect(phase.config.clone())
        .map_err(BoxError::from)
        .and_then(|client| {
            let rtt = round_trips(&client, template, args.round_trips, stall)?;
            client.close()?;
            Ok(rtt)
        });
    let (rtt, round_trip_error) = outcome("round_trip", Some(measured));
    drop(phase);

    // 3. Raw baseline (never under faults).
    let measured = (!args.no_raw).then(|| {
        let phase = server.phase(quiet.clone(), &settings)?;
        raw::run(
            &|| phase.busy_micros(),
            &phase.config,
            template,
            args.round_trips,
            args.messages as u64,
            args.window as u64,
            stall,
        )
    });
    let (raw, raw_error) = outcome("raw", measured);

    // 4. Throughput, fault-free, then under the drop fault if asked. The headline fields
    //    (delivered, msgs_per_sec, ...) are those of the faulty run when there is one.
    let drop_every = args.drop_every.filter(|k| *k > 0);
    let measured = server
        .phase(quiet.clone(), &settings)
        .and_then(|phase| pipelined(&phase, template, args.messages, args.window, stall));
    let (fault_free, throughput_error) = outcome("throughput", Some(measured));
    let measured = drop_every.map(|k| {
        let phase = server.phase(quiet.clone(), &settings)?;
        if let Some(e) = &phase.emulator {
            e.faults().drop_after_frames(k);
        }
        pipelined(&phase, template, args.messages, args.window, stall)
    });
    let (faulty, fault_error) = outcome("fault", measured);
    let ff_rate = fault_free.as_ref().map(Throughput::msgs_per_sec);
    let headline = if drop_every.is_some() {
        &faulty
    } else {
        &fault_free
    };

    // 5. Idle: one client, nothing to do.
    let idle = Duration::from_secs_f64(args.idle_secs.max(0.0));
    let measured = server
        .phase(quiet, &settings)
        .and_then(|phase| idle_client(&phase, idle));
    let (idled, idle_error) = outcome("idle", Some(measured));

    Ok(report::Single {
        clients: 1,
        emulator: if matches!(server, Server::Local) {
            "inproc"
        } else {
            "none"
        },
        connect: Fields(connect.map(|(c, close)| report::Connects::of(&c, &close))),
        connect_error,
        round_trip: Fields(rtt.as_ref().map(report::RoundTrips::of)),
        round_trip_error,
        rtt_replies: !args.no_reply,
        raw: Fields(raw.as_ref().map(report::Raw::from)),
        raw_error,
        messages: args.messages,
        window: args.window,
        drop_every: args.drop_every,
        throughput_replies: args.replies && !args.no_reply,
        fault_free_msgs_per_sec: ff_rate.map(f64::round),
        throughput_error,
        headline: Fields(headline.as_ref().map(report::Throughput::from)),
        fault_error,
        fault_ratio: faulty
            .as_ref()
            .zip(ff_rate)
            .map(|(f, ff)| round3(f.msgs_per_sec() / ff.max(1e-9))),
        lib_raw_ratio: raw
            .as_ref()
            .zip(ff_rate)
            .map(|(r, ff)| round3(ff / r.msgs_per_sec().max(1e-9))),
        idle: Fields(idled.map(|m| report::Idle {
            idle_secs: round3(m.wall_s),
            idle_cpu_pct: report::idle_pct(m.cpu_s, m.wall_s),
            idle_wakeups: (!idle.is_zero()).then_some(m.census.wakeups),
            idle_preemptions: (!idle.is_zero()).then_some(m.census.preempted),
        })),
        idle_error,
        keepalive_ms: match settings.keepalive {
            Some(Some(k)) => k.as_millis() as u64,
            Some(None) => 0,
            None => 25_000,
        },
    })
}

/// The scale phase (`--clients N`, N > 1); a failure is reported as `scale_error` with the
/// fields null.
fn run_scale(args: &Args, server: &Server, template: &Message) -> Result<report::Scale, BoxError> {
    let stall = Duration::from_secs(args.stall_secs.max(1));
    let keepalive = keepalive_of(args.keepalive_ms.unwrap_or(1000));
    let (mut config, emulator) = match server {
        Server::External(cfg) => ((**cfg).clone(), None),
        Server::Local => {
            let s = ScaleServer::start(args.scale_emulator)?;
            (Config::new("local-bench").base_url(s.base_url()), Some(s))
        }
    };
    config = config.keepalive_interval(keepalive);
    if let Some(ms) = args.backoff_min_ms {
        let min = Duration::from_millis(ms.max(1));
        config = config.backoff(Backoff {
            min,
            max: Backoff::default().max.max(min),
            max_attempts: None,
        });
    }
    let params = ScaleParams {
        clients: args.clients,
        messages: args.messages,
        round_trips: args.round_trips.min(1000),
        idle: Duration::from_secs_f64(args.idle_secs.max(0.0)),
        connect_threads: args.connect_threads,
        stall,
        keepalive,
    };
    let pid = emulator.as_ref().and_then(ScaleServer::pid);
    let measured = scale::run(&config, template, &params, pid);
    drop(emulator);
    let (scale, scale_error) = outcome("scale", Some(measured));
    Ok(report::Scale {
        clients: args.clients,
        emulator: match (server, args.scale_emulator) {
            (Server::External(_), _) => "none",
            (_, ScaleEmulator::Process) => "process",
            (_, ScaleEmulator::Inproc) => "inproc",
        },
        keepalive_ms: keepalive.map_or(0, |k| k.as_millis() as u64),
        connect_threads: params.connect_threads,
        scale: Fields(scale.as_ref().map(report::ScaleFields::from)),
        scale_error,
    })
}
