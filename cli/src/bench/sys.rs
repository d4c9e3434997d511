//! Process measurements for `flowai bench` (Linux): CPU time, memory, threads, per-thread
//! wake-ups, the open-files limit and a description of the machine.

use std::time::Duration;

/// CPU time (user + system) used so far by this whole process, from `getrusage(2)`.
pub fn cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is a valid value and getrusage only writes into it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer to a rusage struct.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time used so far by the calling thread, from `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`.
pub fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Memory and thread figures of a process from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Status {
    /// Resident set size now (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Peak resident set size (`VmHWM`), KiB.
    pub hwm_kib: u64,
    /// Threads of the process (`Threads`).
    pub threads: u64,
}

/// Reads `/proc/self/status` (`pid` None) or `/proc/<pid>/status`; zeros when unreadable.
pub fn status(pid: Option<u32>) -> Status {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut st = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let number = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match key {
            "VmRSS" => st.rss_kib = number,
            "VmHWM" => st.hwm_kib = number,
            "Threads" => st.threads = number,
            _ => {}
        }
    }
    st
}

/// CPU seconds (user + system) used by another process, from `/proc/<pid>/stat`.
pub fn process_cpu_seconds(pid: u32) -> f64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let Some((_, rest)) = text.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 / hz
}

/// CPU time and wake-ups of a set of this process's threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Census {
    /// Threads counted.
    pub threads: u64,
    /// Time they spent on a CPU (`/proc/self/task/*/schedstat`), nanoseconds.
    pub cpu_ns: u64,
    /// Voluntary context switches: each is one sleep and so one later wake-up.
    pub wakeups: u64,
    /// Involuntary context switches: preemptions by other runnable threads (not wake-ups).
    pub preempted: u64,
}

impl Census {
    /// The change from `earlier` to `self` (threads: the later count).
    pub fn since(&self, earlier: &Census) -> Census {
        Census {
            threads: self.threads,
            cpu_ns: self.cpu_ns.saturating_sub(earlier.cpu_ns),
            wakeups: self.wakeups.saturating_sub(earlier.wakeups),
            preempted: self.preempted.saturating_sub(earlier.preempted),
        }
    }
}

/// True for the threads a `flowai_socket::Client` starts (`flowai-io`, `flowai-keepalive`,
/// cut to 15 bytes by the kernel), not the emulator's (`flowai-emu-…`).
fn is_client_thread(comm: &str) -> bool {
    comm.starts_with("flowai-") && !comm.starts_with("flowai-emu")
}

/// Sums CPU time, wake-ups and preemptions over the library's client threads, plus the main
/// thread when `with_main` (the caller's side of `send`/`recv`).
pub fn client_census(with_main: bool) -> Census {
    let mut census = Census::default();
    let pid = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return census;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let main = entry.file_name().to_str() == Some(pid.as_str());
        if !(is_client_thread(comm.trim()) || (with_main && main)) {
            continue;
        }
        census.threads += 1;
        let schedstat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        census.cpu_ns += schedstat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        for line in status.lines() {
            let count = |v: &str| v.trim().parse::<u64>().unwrap_or(0);
            if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:") {
                census.wakeups += count(v);
            } else if let Some(v) = line.strip_prefix("nonvoluntary_ctxt_switches:") {
                census.preempted += count(v);
            }
        }
    }
    census
}

/// Raises the soft `RLIMIT_NOFILE` to at least `want` (capped at the hard limit); returns
/// the soft limit in force afterwards.
pub fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid pointer to an rlimit struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    let want: libc::rlim_t = want;
    if lim.rlim_cur < want {
        let raised = libc::rlimit {
            rlim_cur: want.min(lim.rlim_max),
            rlim_max: lim.rlim_max,
        };
        // SAFETY: a valid pointer to an rlimit struct; the kernel checks the values.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    lim.rlim_cur
}

/// The machine: logical CPUs and the CPU model from `/proc/cpuinfo`.
pub fn machine() -> (usize, String) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    (cpus, model)
}

/// Latency samples and their order statistics.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    /// Room for `n` samples.
    pub fn with_capacity(n: usize) -> Self {
        Samples(Vec::with_capacity(n))
    }

    /// Adds one sample.
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (0.0–1.0, nearest rank), or None without samples.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.0.is_empty() {
            return None;
        }
        let mut v = self.0.clone();
        v.sort_unstable();
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }

    /// The `q` quantile in microseconds (rounded to 0.1 µs).
    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        self.quantile(q).map(|d| round1(d.as_secs_f64() * 1e6))
    }

    /// The `q` quantile in milliseconds (rounded to 0.001 ms).
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        self.quantile(q)
            .map(|d| (d.as_secs_f64() * 1e6).round() / 1e3)
    }
}

/// Rounds to one decimal.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let mut s = Samples::default();
        assert!(s.quantile(0.5).is_none());
        for us in 1..=100 {
            s.push(Duration::from_micros(us));
        }
        assert_eq!(s.quantile_us(0.5), Some(50.0));
        assert_eq!(s.quantile_us(0.99), Some(99.0));
        assert_eq!(s.quantile_us(1.0), Some(100.0));
    }

    #[test]
    fn proc_readers_see_this_process() {
        let st = status(None);
        assert!(st.rss_kib > 0 && st.hwm_kib >= st.rss_kib && st.threads >= 1);
        assert!(cpu_seconds() >= 0.0);
        assert!(raise_nofile(64) >= 64);
        assert!(client_census(true).threads >= 1);
    }
}
