//! Small helpers of the emulator: the wake pipe, random tokens, time stamps, URL decoding.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wakes a connection's (or the acceptor's) `poll(2)`: a socket pair whose read end sits in
/// the poll set. The emulator wakes rarely (a pushed frame, shutdown), so every wake is one
/// byte and nothing coalesces them; the client has its own, leaner waker.
pub(crate) struct WakePipe(UnixStream, UnixStream); // (the end written, the end polled)

impl WakePipe {
    pub(crate) fn new() -> std::io::Result<Self> {
        let (write, read) = UnixStream::pair()?;
        for end in [&write, &read] {
            end.set_nonblocking(true)?;
        }
        Ok(WakePipe(write, read))
    }

    /// Wakes the poller. A full pipe already guarantees a wake-up, so a failed write loses
    /// nothing.
    pub(crate) fn wake(&self) {
        let _ = (&self.0).write(&[1]);
    }

    /// Empties the pipe: called by the poller before it looks for work.
    pub(crate) fn reset(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.1).read(&mut buf), Ok(n) if n > 0) {}
    }

    /// The end to poll for reading.
    pub(crate) fn fd(&self) -> RawFd {
        self.1.as_raw_fd()
    }
}

/// `poll(2)` on the given fds; returns the revents of each. EINTR counts as a timeout.
pub(crate) fn poll_fds(fds: &[(RawFd, libc::c_short)], timeout: Option<Duration>) -> Vec<i16> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    let ms: libc::c_int = match timeout {
        None => -1,
        Some(d) => {
            // round up so that we do not wake up just before a deadline
            let ms = d.as_micros().div_ceil(1000);
            ms.min(i32::MAX as u128) as libc::c_int
        }
    };
    // SAFETY: pfds is a valid, correctly sized array of pollfd.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        return vec![0; pfds.len()];
    }
    pfds.iter().map(|p| p.revents).collect()
}

/// `n` random bytes as lowercase hex (2n characters).
pub(crate) fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    if getrandom::fill(&mut buf).is_err() {
        // extremely unlikely; fall back to the clock
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(31);
        }
    }
    let mut s = String::with_capacity(n * 2);
    for b in buf {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The current time as RFC 3339 UTC with milliseconds, e.g. `2024-05-01T12:34:56.789Z`.
pub(crate) fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let ms = d.subsec_millis();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, dd) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Decodes `%XX` escapes and `+` (as a space) of a query component.
pub(crate) fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a query string into decoded (name, value) pairs.
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (url_decode(k), url_decode(v)),
            None => (url_decode(p), String::new()),
        })
        .collect()
}

/// A JSON string literal for `s` (with quotes).
pub(crate) fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(now_rfc3339().len(), 24);
    }

    #[test]
    fn decode() {
        assert_eq!(url_decode("a%20b+c%7C"), "a b c|");
        assert_eq!(url_decode("%"), "%");
        assert_eq!(url_decode("%4"), "%4");
        assert_eq!(url_decode("x%41"), "xA");
        let q = parse_query("clientId=abc%3D&sessionId=&x");
        assert_eq!(q[0], ("clientId".into(), "abc=".into()));
        assert_eq!(q[1], ("sessionId".into(), "".into()));
        assert_eq!(q[2], ("x".into(), "".into()));
    }
}
