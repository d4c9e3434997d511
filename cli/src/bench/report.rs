//! The report of `flowai bench`: one typed value ([`Report`]), serialised with serde to the
//! JSON line of `--json` and printed as the table otherwise. The JSON keys are what scripts
//! (and `cli/tests/flowai/bench.rs`) read: a field's name is its key, so renaming one changes
//! the output.
//!
//! Every phase reports through [`Phase`]: its fields when it ran, the same keys with null
//! values when it failed or was not asked for, and `<phase>_error` beside them (the reason of
//! a failure, null otherwise).

use super::raw::RawResult;
use super::scale::ScaleResult;
use super::sys::{self, Samples};
use serde::ser::{Error as _, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

/// The whole report.
#[derive(Serialize)]
pub struct Report {
    pub version: &'static str,
    pub machine_cpus: usize,
    pub machine_cpu: String,
    pub nofile_limit: u64,
    /// `emulator`, or the base URL of the real server.
    pub target: String,
    /// Bytes of one `message.send` frame of the template message.
    pub frame_bytes: usize,
    /// The phases of the mode (`"mode": "single"` or `"scale"`).
    #[serde(flatten)]
    pub run: Run,
    /// CPU of the whole process, seconds.
    pub cpu_s: f64,
    pub wall_s: f64,
    pub peak_rss_kib: u64,
}

/// What ran: one client through every phase, or many clients at once.
#[derive(Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Run {
    Single(Single),
    Scale(Scale),
}

/// A phase's fields, or the same keys with null values when the phase failed or did not run.
pub struct Phase<T>(pub Option<T>);

impl<T: Serialize + Default> Serialize for Phase<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(fields) => fields.serialize(serializer),
            None => {
                let keys = serde_json::to_value(T::default()).map_err(S::Error::custom)?;
                let nulls: Map<String, Value> = keys
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(key, _)| (key.clone(), Value::Null))
                    .collect();
                nulls.serialize(serializer)
            }
        }
    }
}

/// The single-client run (`--clients 1`).
#[derive(Serialize)]
pub struct Single {
    pub clients: usize,
    /// `inproc` (an emulator per phase in this process) or `none` (a real server).
    pub emulator: &'static str,
    #[serde(flatten)]
    pub connect: Phase<Connects>,
    pub connect_error: Option<String>,
    #[serde(flatten)]
    pub round_trip: Phase<RoundTrips>,
    pub round_trip_error: Option<String>,
    /// Whether the emulator sent bot replies during the round trips.
    pub rtt_replies: bool,
    #[serde(flatten)]
    pub raw: Phase<Raw>,
    pub raw_error: Option<String>,
    pub messages: usize,
    pub window: usize,
    pub drop_every: Option<u64>,
    pub throughput_replies: bool,
    /// The rate of the fault-free throughput run (null when it failed).
    pub fault_free_msgs_per_sec: Option<f64>,
    pub throughput_error: Option<String>,
    /// The run the headline counts: under `--drop-every`, the faulty one; else the fault-free
    /// one.
    #[serde(flatten)]
    pub headline: Phase<Throughput>,
    pub fault_error: Option<String>,
    /// Faulty over fault-free rate.
    pub fault_ratio: Option<f64>,
    /// Library over raw tungstenite rate.
    pub lib_raw_ratio: Option<f64>,
    #[serde(flatten)]
    pub idle: Phase<Idle>,
    pub idle_error: Option<String>,
    /// The keepalive interval the clients used (0 = off).
    pub keepalive_ms: u64,
}

/// Connect and close times.
#[derive(Serialize, Default)]
pub struct Connects {
    pub connects: usize,
    pub connect_ms_median: Option<f64>,
    pub connect_ms_p99: Option<f64>,
    pub connect_ms_max: Option<f64>,
    pub close_ms: Option<f64>,
    pub close_ms_p99: Option<f64>,
    pub close_ms_max: Option<f64>,
}

impl Connects {
    /// The figures of the timed connects and closes.
    pub fn of(connect: &Samples, close: &Samples) -> Self {
        Connects {
            connects: connect.len(),
            connect_ms_median: connect.quantile_ms(0.5),
            connect_ms_p99: connect.quantile_ms(0.99),
            connect_ms_max: connect.quantile_ms(1.0),
            close_ms: close.quantile_ms(0.5),
            close_ms_p99: close.quantile_ms(0.99),
            close_ms_max: close.quantile_ms(1.0),
        }
    }
}

/// One-at-a-time round trips (send → delivered).
#[derive(Serialize, Default)]
pub struct RoundTrips {
    pub rtt_samples: usize,
    pub rtt_p50_us: Option<f64>,
    pub rtt_p99_us: Option<f64>,
    pub rtt_max_us: Option<f64>,
}

impl RoundTrips {
    /// The figures of the timed round trips.
    pub fn of(rtt: &Samples) -> Self {
        RoundTrips {
            rtt_samples: rtt.len(),
            rtt_p50_us: rtt.quantile_us(0.5),
            rtt_p99_us: rtt.quantile_us(0.99),
            rtt_max_us: rtt.quantile_us(1.0),
        }
    }
}

/// The raw tungstenite baseline.
#[derive(Serialize, Default)]
pub struct Raw {
    pub raw_cpu_us_per_msg: f64,
    pub raw_emulator_busy_pct: Option<f64>,
    pub raw_msgs_per_sec: f64,
    pub raw_delivered: u64,
    pub raw_rtt_p50_us: Option<f64>,
    pub raw_rtt_p99_us: Option<f64>,
}

impl From<&RawResult> for Raw {
    fn from(r: &RawResult) -> Self {
        Raw {
            raw_cpu_us_per_msg: sys::round1(r.cpu_s * 1e6 / r.delivered.max(1) as f64),
            raw_emulator_busy_pct: r
                .emulator_busy
                .map(|busy| busy_pct(busy.as_secs_f64(), r.elapsed.as_secs_f64())),
            raw_msgs_per_sec: r.msgs_per_sec().round(),
            raw_delivered: r.delivered,
            raw_rtt_p50_us: r.rtt.quantile_us(0.5),
            raw_rtt_p99_us: r.rtt.quantile_us(0.99),
        }
    }
}

/// A pipelined run through the library.
#[derive(Serialize, Default)]
pub struct Throughput {
    pub delivered: u64,
    pub duplicates: u64,
    pub disconnects: u64,
    pub msgs_per_sec: f64,
    pub throughput_s: f64,
    pub cpu_us_per_msg: f64,
    pub client_cpu_us_per_msg: f64,
    pub threads: u64,
    pub client_threads: u64,
    pub emulator_busy_pct: Option<f64>,
}

/// One connected client left alone.
#[derive(Serialize, Default)]
pub struct Idle {
    pub idle_secs: f64,
    pub idle_cpu_pct: Option<f64>,
    /// Null when no window was measured (`--idle-secs 0`).
    pub idle_wakeups: Option<u64>,
    pub idle_preemptions: Option<u64>,
}

/// The scale run (`--clients N`, N > 1).
#[derive(Serialize)]
pub struct Scale {
    pub clients: usize,
    /// `process`, `inproc` or `none` (a real server).
    pub emulator: &'static str,
    pub keepalive_ms: u64,
    pub connect_threads: usize,
    #[serde(flatten)]
    pub scale: Phase<ScaleFields>,
    pub scale_error: Option<String>,
}

/// What the scale phase measured, as reported.
#[derive(Serialize, Default)]
pub struct ScaleFields {
    pub connect_all_ms: f64,
    pub connects: usize,
    pub connect_ms_median: Option<f64>,
    pub connect_ms_p99: Option<f64>,
    pub connect_ms_max: Option<f64>,
    pub rss_before_kib: u64,
    pub rss_connected_kib: u64,
    pub rss_per_client_kib: f64,
    pub threads: u64,
    pub client_threads: u64,
    pub messages: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub msgs_per_sec: f64,
    pub throughput_s: f64,
    pub rtt_samples: usize,
    pub rtt_p50_us: Option<f64>,
    pub rtt_p99_us: Option<f64>,
    pub rtt_max_us: Option<f64>,
    pub idle_secs: f64,
    pub idle_cpu_pct: Option<f64>,
    pub idle_wakeups: u64,
    pub idle_preemptions: u64,
    pub idle_wakeups_per_client_per_s: f64,
    pub idle_pings: u64,
    pub idle_cpu_us_per_ping: Option<f64>,
    pub emulator_idle_cpu_pct: Option<f64>,
    pub emulator_rss_kib: Option<u64>,
    pub emulator_threads: Option<u64>,
    pub close_ms: Option<f64>,
    pub close_ms_p99: Option<f64>,
    pub close_ms_max: Option<f64>,
    pub close_all_ms: f64,
}

impl From<&ScaleResult> for ScaleFields {
    fn from(r: &ScaleResult) -> Self {
        let n = r.clients.max(1) as f64;
        let idle_wall = r.idle_wall.as_secs_f64().max(1e-9);
        let pings = r.idle_pings as f64;
        ScaleFields {
            connect_all_ms: round3(r.connect_all.as_secs_f64() * 1e3),
            connects: r.connect.len(),
            connect_ms_median: r.connect.quantile_ms(0.5),
            connect_ms_p99: r.connect.quantile_ms(0.99),
            connect_ms_max: r.connect.quantile_ms(1.0),
            rss_before_kib: r.rss_before_kib,
            rss_connected_kib: r.rss_connected_kib,
            rss_per_client_kib: sys::round1(
                r.rss_connected_kib.saturating_sub(r.rss_before_kib) as f64 / n,
            ),
            threads: r.threads,
            client_threads: r.client_threads,
            messages: r.messages,
            delivered: r.delivered,
            duplicates: r.duplicates,
            msgs_per_sec: (r.delivered as f64 / r.send_all.as_secs_f64().max(1e-9)).round(),
            throughput_s: round3(r.send_all.as_secs_f64()),
            rtt_samples: r.rtt.len(),
            rtt_p50_us: r.rtt.quantile_us(0.5),
            rtt_p99_us: r.rtt.quantile_us(0.99),
            rtt_max_us: r.rtt.quantile_us(1.0),
            idle_secs: round3(idle_wall),
            idle_cpu_pct: idle_pct(r.idle_cpu_s, idle_wall),
            idle_wakeups: r.idle_wakeups,
            idle_preemptions: r.idle_preempted,
            idle_wakeups_per_client_per_s: round3(r.idle_wakeups as f64 / n / idle_wall),
            idle_pings: r.idle_pings,
            idle_cpu_us_per_ping: (pings >= 1.0).then(|| sys::round1(r.idle_cpu_s * 1e6 / pings)),
            emulator_idle_cpu_pct: r.emulator_idle_cpu_s.and_then(|c| idle_pct(c, idle_wall)),
            emulator_rss_kib: r.emulator_status.map(|s| s.rss_kib),
            emulator_threads: r.emulator_status.map(|s| s.threads),
            close_ms: r.close.quantile_ms(0.5),
            close_ms_p99: r.close.quantile_ms(0.99),
            close_ms_max: r.close.quantile_ms(1.0),
            close_all_ms: round3(r.close_all.as_secs_f64() * 1e3),
        }
    }
}

/// A phase's outcome as the report keeps it: the value, and the reason of a failure (also
/// printed on stderr). `None` in: the phase was not asked for.
pub fn outcome<T>(
    name: &str,
    result: Option<Result<T, super::BoxError>>,
) -> (Option<T>, Option<String>) {
    match result {
        Some(Ok(value)) => (Some(value), None),
        Some(Err(e)) => {
            eprintln!("flowai bench: the {name} phase failed: {e}");
            (None, Some(e.to_string()))
        }
        None => (None, None),
    }
}

/// CPU seconds over a wall time as a percentage of one core; None for a window too short
/// to mean anything (`--idle-secs 0`).
pub fn idle_pct(cpu_s: f64, wall_s: f64) -> Option<f64> {
    (wall_s >= 0.01).then(|| round3(100.0 * cpu_s / wall_s))
}

/// `busy` seconds of `elapsed` as a percentage, one decimal.
pub fn busy_pct(busy: f64, elapsed: f64) -> f64 {
    sys::round1(100.0 * busy / elapsed.max(1e-9))
}

/// Rounds to three decimals.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// One value as the table shows it: `-` for null, large whole numbers grouped by thousands,
/// everything else as in the JSON.
fn cell(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::Null) | Err(_) => "-".to_string(),
        Ok(Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(0.0);
            if x.fract() == 0.0 && x.abs() >= 1000.0 {
                group(x as i64)
            } else {
                n.to_string()
            }
        }
        Ok(Value::String(s)) => s,
        Ok(v) => v.to_string(),
    }
}

/// 12345678 → "12,345,678".
fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut s = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            s.push(',');
        }
        s.push(c);
    }
    if n < 0 {
        format!("-{s}")
    } else {
        s
    }
}

/// One row of the table.
fn row(name: &str, text: String) {
    println!("  {name:<16} {text}");
}

impl Report {
    /// Prints the report as a short table for people.
    pub fn print_table(&self) {
        let emulator = match &self.run {
            Run::Single(s) => s.emulator,
            Run::Scale(s) => s.emulator,
        };
        println!(
            "flowai bench {} — {} × {}, target {}, emulator {}, frame {} B",
            self.version,
            cell(self.machine_cpus),
            self.machine_cpu,
            self.target,
            emulator,
            cell(self.frame_bytes)
        );
        let failures = match &self.run {
            Run::Single(s) => {
                s.print_table();
                vec![
                    ("connect", &s.connect_error),
                    ("round_trip", &s.round_trip_error),
                    ("raw", &s.raw_error),
                    ("throughput", &s.throughput_error),
                    ("fault", &s.fault_error),
                    ("idle", &s.idle_error),
                ]
            }
            Run::Scale(s) => {
                s.print_table(self.peak_rss_kib);
                vec![("scale", &s.scale_error)]
            }
        };
        row(
            "process",
            format!(
                "CPU {} s over {} s, peak RSS {} KiB",
                cell(self.cpu_s),
                cell(self.wall_s),
                cell(self.peak_rss_kib)
            ),
        );
        for (phase, error) in failures {
            if let Some(error) = error {
                row("FAILED", format!("{phase} phase: {error}"));
            }
        }
    }
}

impl Single {
    fn print_table(&self) {
        let c = self.connect.0.as_ref();
        let rtt = self.round_trip.0.as_ref();
        let raw = self.raw.0.as_ref();
        let t = self.headline.0.as_ref();
        let idle = self.idle.0.as_ref();
        row(
            "connect",
            format!(
                "median {} ms, p99 {} ms, max {} ms ({} connects)",
                cell(c.map(|c| c.connect_ms_median)),
                cell(c.map(|c| c.connect_ms_p99)),
                cell(c.map(|c| c.connect_ms_max)),
                cell(c.map(|c| c.connects))
            ),
        );
        row(
            "round trip",
            format!(
                "p50 {} µs, p99 {} µs, max {} µs ({} sends)",
                cell(rtt.map(|r| r.rtt_p50_us)),
                cell(rtt.map(|r| r.rtt_p99_us)),
                cell(rtt.map(|r| r.rtt_max_us)),
                cell(rtt.map(|r| r.rtt_samples))
            ),
        );
        row(
            "throughput",
            format!(
                "{} msg/s: {} of {} delivered, {} duplicates, {} disconnects (window {}, drop every {})",
                cell(t.map(|t| t.msgs_per_sec)),
                cell(t.map(|t| t.delivered)),
                cell(self.messages),
                cell(t.map(|t| t.duplicates)),
                cell(t.map(|t| t.disconnects)),
                cell(self.window),
                cell(self.drop_every)
            ),
        );
        row(
            "fault-free",
            format!(
                "{} msg/s (faulty/fault-free {})",
                cell(self.fault_free_msgs_per_sec),
                cell(self.fault_ratio)
            ),
        );
        row(
            "raw tungstenite",
            format!(
                "{} msg/s (library/raw {}), round trip p50 {} µs, p99 {} µs",
                cell(raw.map(|r| r.raw_msgs_per_sec)),
                cell(self.lib_raw_ratio),
                cell(raw.map(|r| r.raw_rtt_p50_us)),
                cell(raw.map(|r| r.raw_rtt_p99_us))
            ),
        );
        row(
            "cpu",
            format!(
                "{} µs/msg in the process, {} µs/msg client side, {} µs/msg raw loop",
                cell(t.map(|t| t.cpu_us_per_msg)),
                cell(t.map(|t| t.client_cpu_us_per_msg)),
                cell(raw.map(|r| r.raw_cpu_us_per_msg))
            ),
        );
        row(
            "emulator",
            format!(
                "busy {} % of the library run, {} % of the raw run",
                cell(t.map(|t| t.emulator_busy_pct)),
                cell(raw.map(|r| r.raw_emulator_busy_pct))
            ),
        );
        row(
            "close",
            format!(
                "median {} ms, p99 {} ms, max {} ms",
                cell(c.map(|c| c.close_ms)),
                cell(c.map(|c| c.close_ms_p99)),
                cell(c.map(|c| c.close_ms_max))
            ),
        );
        row(
            "idle",
            format!(
                "{} % CPU over {} s, {} client wake-ups (keepalive {} ms)",
                cell(idle.map(|i| i.idle_cpu_pct)),
                cell(idle.map(|i| i.idle_secs)),
                cell(idle.map(|i| i.idle_wakeups)),
                cell(self.keepalive_ms)
            ),
        );
        row(
            "threads",
            format!(
                "{} in the process, {} per client",
                cell(t.map(|t| t.threads)),
                cell(t.map(|t| t.client_threads))
            ),
        );
    }
}

impl Scale {
    fn print_table(&self, peak_rss_kib: u64) {
        let s = self.scale.0.as_ref();
        row(
            "clients",
            format!(
                "{} connected in {} ms ({} threads opening)",
                cell(self.clients),
                cell(s.map(|s| s.connect_all_ms)),
                cell(self.connect_threads)
            ),
        );
        row(
            "connect",
            format!(
                "median {} ms, p99 {} ms, max {} ms",
                cell(s.map(|s| s.connect_ms_median)),
                cell(s.map(|s| s.connect_ms_p99)),
                cell(s.map(|s| s.connect_ms_max))
            ),
        );
        row(
            "memory",
            format!(
                "RSS {} KiB connected ({} KiB per client), peak {} KiB",
                cell(s.map(|s| s.rss_connected_kib)),
                cell(s.map(|s| s.rss_per_client_kib)),
                cell(peak_rss_kib)
            ),
        );
        row(
            "threads",
            format!(
                "{} in the process, {} client threads",
                cell(s.map(|s| s.threads)),
                cell(s.map(|s| s.client_threads))
            ),
        );
        row(
            "send from all",
            format!(
                "{} of {} delivered, {} duplicates, {} msg/s",
                cell(s.map(|s| s.delivered)),
                cell(s.map(|s| s.messages)),
                cell(s.map(|s| s.duplicates)),
                cell(s.map(|s| s.msgs_per_sec))
            ),
        );
        row(
            "round trip",
            format!(
                "p50 {} µs, p99 {} µs, max {} µs (one client of all)",
                cell(s.map(|s| s.rtt_p50_us)),
                cell(s.map(|s| s.rtt_p99_us)),
                cell(s.map(|s| s.rtt_max_us))
            ),
        );
        row(
            "idle",
            format!(
                "{} % CPU over {} s with keepalive {} ms ({} µs per ping), {} wake-ups/client/s",
                cell(s.map(|s| s.idle_cpu_pct)),
                cell(s.map(|s| s.idle_secs)),
                cell(self.keepalive_ms),
                cell(s.map(|s| s.idle_cpu_us_per_ping)),
                cell(s.map(|s| s.idle_wakeups_per_client_per_s))
            ),
        );
        row(
            "emulator",
            format!(
                "{} % CPU idle, RSS {} KiB, {} threads",
                cell(s.map(|s| s.emulator_idle_cpu_pct)),
                cell(s.map(|s| s.emulator_rss_kib)),
                cell(s.map(|s| s.emulator_threads))
            ),
        );
        row(
            "close",
            format!(
                "median {} ms, max {} ms, all in {} ms",
                cell(s.map(|s| s.close_ms)),
                cell(s.map(|s| s.close_ms_max)),
                cell(s.map(|s| s.close_all_ms))
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_that_did_not_run_has_the_same_keys_all_null() {
        let ran = serde_json::to_value(Phase(Some(RoundTrips::default()))).unwrap();
        let missing = serde_json::to_value(Phase::<RoundTrips>(None)).unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&ran), keys(&missing));
        assert_eq!(keys(&ran).len(), 4);
        assert!(missing.as_object().unwrap().values().all(Value::is_null));
        assert_eq!(ran["rtt_samples"], 0);
    }

    #[test]
    fn the_mode_and_the_flattened_phases_are_top_level_keys() {
        let scale = Scale {
            clients: 2,
            emulator: "none",
            keepalive_ms: 0,
            connect_threads: 1,
            scale: Phase(None),
            scale_error: Some("refused".into()),
        };
        let report = Report {
            version: "0",
            machine_cpus: 1,
            machine_cpu: "cpu".into(),
            nofile_limit: 1024,
            target: "emulator".into(),
            frame_bytes: 296,
            run: Run::Scale(scale),
            cpu_s: 0.0,
            wall_s: 0.0,
            peak_rss_kib: 0,
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["mode"], "scale");
        assert_eq!(json["scale_error"], "refused");
        assert!(json["connect_all_ms"].is_null() && json["close_all_ms"].is_null());
        assert_eq!(json.as_object().unwrap().len(), 48, "{json}");
    }

    #[test]
    fn the_table_groups_large_whole_numbers_and_shows_null_as_a_dash() {
        assert_eq!(cell(25_000u64), "25,000");
        assert_eq!(cell(16_520.0f64), "16,520");
        assert_eq!(cell(0.746f64), "0.746");
        assert_eq!(cell(None::<f64>), "-");
        assert_eq!(cell(Some(Some(3u64))), "3");
    }
}
