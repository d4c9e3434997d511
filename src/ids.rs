//! Session and thread ids made like the official SDK's.

use base64::Engine;
use std::sync::atomic::{AtomicU64, Ordering};

/// 16 random bytes from the OS; without OS randomness, time and address entropy (still
/// unique enough for ids).
fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes = (t ^ (&bytes as *const _ as usize as u128)).to_le_bytes();
    }
    bytes
}

/// 32 random lowercase hex characters (128 bits).
pub fn random_hex() -> String {
    random_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Room left above every first automatic traceId: 2^40 messages per client before its
/// traceIds would pass 2^53 − 1 (then the client draws a new start).
const TRACE_ROOM: u64 = 1 << 40;

/// Where a client's automatic traceIds start: uniformly random in [1, 2^53 − 2^40], so that
/// clients of other processes on the same thread count in ranges that almost surely do not
/// overlap (see the README's *traceIds*), and every id stays at most 2^53 − 1.
pub fn first_trace_id() -> u64 {
    let bytes = random_bytes();
    let r = u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ]);
    1 + r % (crate::TraceId::MAX.0 - TRACE_ROOM)
}

/// The channel id inside a clientId (base64 of `projectId|channelId`), if it decodes.
pub fn channel_id(client_id: &str) -> Option<String> {
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let bytes = engines
        .iter()
        .find_map(|e| e.decode(client_id.trim()).ok())?;
    let text = String::from_utf8(bytes).ok()?;
    let (project, channel) = text.split_once('|')?;
    (!project.is_empty() && !channel.is_empty() && !channel.contains('|'))
        .then(|| channel.to_string())
}

/// A new threadId: 32 random hex, then `|channelId` when the clientId carries one.
pub fn thread_id_for(client_id: &str) -> String {
    match channel_id(client_id) {
        Some(channel) => format!("{}|{channel}", random_hex()),
        None => random_hex(),
    }
}

/// A client's automatic traceIds: a random start plus a counter, unique and increasing per
/// client; in the rare case one would pass [`TraceId::MAX`](crate::TraceId::MAX) (after 2^40
/// messages) a new random start is drawn.
pub(crate) struct TraceIds(AtomicU64);

impl TraceIds {
    pub(crate) fn new(first: u64) -> Self {
        TraceIds(AtomicU64::new(first))
    }

    pub(crate) fn next(&self) -> crate::TraceId {
        let max = crate::TraceId::MAX.0;
        loop {
            let t = self.0.fetch_add(1, Ordering::Relaxed);
            if t <= max {
                return crate::TraceId(t);
            }
            let mut current = t + 1;
            while current > max {
                let fresh = first_trace_id();
                match self
                    .0
                    .compare_exchange(current, fresh, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => break,
                    Err(now) => current = now,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_is_32_distinct_hex_chars() {
        let a = random_hex();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_hex());
    }

    #[test]
    fn first_trace_ids_are_random_and_leave_room_below_2_pow_53() {
        let firsts: std::collections::HashSet<u64> = (0..1000).map(|_| first_trace_id()).collect();
        assert_eq!(firsts.len(), 1000, "drawn, not derived from the clock");
        for t in firsts {
            assert!((1..=crate::TraceId::MAX.0 - TRACE_ROOM).contains(&t), "{t}");
        }
    }

    #[test]
    fn trace_ids_never_pass_2_pow_53() {
        let ids = TraceIds::new(crate::TraceId::MAX.0 - 1);
        assert_eq!(ids.next().0, crate::TraceId::MAX.0 - 1);
        assert_eq!(ids.next(), crate::TraceId::MAX);
        let fresh = ids.next().0;
        assert!(fresh <= crate::TraceId::MAX.0 - TRACE_ROOM, "{fresh}");
        assert_eq!(ids.next().0, fresh + 1);
    }

    #[test]
    fn thread_id_carries_the_channel_of_a_base64_client_id() {
        let client_id = base64::engine::general_purpose::STANDARD.encode("proj123|chan456");
        let t = thread_id_for(&client_id);
        assert!(t.ends_with("|chan456"), "{t}");
        assert_eq!(t.len(), 32 + 1 + "chan456".len());
        assert_eq!(thread_id_for("not base64 !").len(), 32);
    }
}
