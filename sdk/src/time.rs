//! The monotonic clock: how long something took, and waiting between polls
//! (a rollout, an operation the remote side finishes on its own).
//!
//! Outside a component (native unit tests) the standard library's clock is
//! used, so code that waits can be tested natively too.

use std::time::Duration;

/// A point on the monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(u64);

impl Instant {
    /// Now.
    pub fn now() -> Instant {
        Instant(now_ns())
    }

    /// Time passed since `self`.
    pub fn elapsed(self) -> Duration {
        Duration::from_nanos(now_ns().saturating_sub(self.0))
    }
}

/// Blocks for `duration` (the call's deadline still applies).
pub fn sleep(duration: Duration) {
    let ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    sleep_ns(ns);
}

#[cfg(target_family = "wasm")]
fn now_ns() -> u64 {
    wasip2::clocks::monotonic_clock::now()
}

#[cfg(target_family = "wasm")]
fn sleep_ns(ns: u64) {
    wasip2::clocks::monotonic_clock::subscribe_duration(ns).block();
}

#[cfg(not(target_family = "wasm"))]
fn now_ns() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    let start = *START.get_or_init(std::time::Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(not(target_family = "wasm"))]
fn sleep_ns(ns: u64) {
    std::thread::sleep(Duration::from_nanos(ns));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeping_takes_time() {
        let start = Instant::now();
        sleep(Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
