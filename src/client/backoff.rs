//! Exponential backoff with full jitter.

use crate::config::Backoff;
use std::time::Duration;

/// The delay before reconnect attempt `attempt` (1-based): a uniformly random duration
/// between zero and `min * 2^(attempt-1)`, capped at `max`.
pub(crate) fn delay(backoff: &Backoff, attempt: u32) -> Duration {
    let ceiling = backoff
        .min
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(30))
        .min(backoff.max);
    let mut bytes = [0u8; 8];
    let unit = match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    };
    ceiling.mul_f64(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_and_stay_within_ceiling() {
        let b = Backoff::default();
        for attempt in 1..40 {
            let ceiling = (b.min * 2u32.pow(attempt.min(20) - 1)).min(b.max);
            for _ in 0..20 {
                assert!(delay(&b, attempt) <= ceiling);
            }
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| delay(&b, 10)).collect();
        assert!(spread.len() > 10, "full jitter gives different delays");
    }
}
