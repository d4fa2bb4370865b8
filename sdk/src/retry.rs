//! Retrying an operation with exponential backoff.
//!
//! ```
//! use std::time::Duration;
//! use podium_driver_sdk::retry::Backoff;
//!
//! // Four attempts; waits of 50, 150 and (450 capped to) 400 ms between them.
//! const BACKOFF: Backoff = Backoff {
//!     attempts: 4,
//!     first: Duration::from_millis(50),
//!     factor: 3,
//!     max: Duration::from_millis(400),
//! };
//! let mut calls = 0;
//! let outcome: Result<u32, String> = BACKOFF.run_with_sleep(
//!     || {
//!         calls += 1;
//!         if calls < 3 { Err("busy".to_owned()) } else { Ok(calls) }
//!     },
//!     // Which outcomes are worth another attempt (and a place to log why).
//!     |outcome, _wait| matches!(outcome, Err(e) if e == "busy"),
//!     |_wait| {}, // `run` sleeps for real
//! );
//! assert_eq!(outcome, Ok(3));
//! ```

use std::time::Duration;

/// How often and how patiently to retry: `attempts` in all (the first one
/// included; 0 counts as 1), waiting `first`, then `first * factor`,
/// `first * factor²`, ... between them, each wait capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub attempts: u32,
    pub first: Duration,
    pub factor: u32,
    pub max: Duration,
}

impl Backoff {
    /// The wait after attempt number `attempt` (1 for the first attempt):
    /// `first * factor^(attempt - 1)`, at most `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1);
        let scale = self.factor.checked_pow(exponent).unwrap_or(u32::MAX);
        self.first
            .checked_mul(scale)
            .map_or(self.max, |d| d.min(self.max))
    }

    /// Runs `attempt` until `retry` says its outcome is final or the attempts
    /// are used up, sleeping between attempts; returns the last outcome.
    /// `retry` gets each outcome but the last attempt's, with the wait that
    /// would follow, and decides (and may log) whether to try again.
    pub fn run<T>(&self, attempt: impl FnMut() -> T, retry: impl FnMut(&T, Duration) -> bool) -> T {
        self.run_with_sleep(attempt, retry, std::thread::sleep)
    }

    /// [`Backoff::run`] with the sleeping done by `sleep` (for tests).
    pub fn run_with_sleep<T>(
        &self,
        mut attempt: impl FnMut() -> T,
        mut retry: impl FnMut(&T, Duration) -> bool,
        mut sleep: impl FnMut(Duration),
    ) -> T {
        let mut n = 1;
        loop {
            let outcome = attempt();
            if n >= self.attempts {
                return outcome;
            }
            let wait = self.delay(n);
            if !retry(&outcome, wait) {
                return outcome;
            }
            sleep(wait);
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn backoff(attempts: u32) -> Backoff {
        Backoff {
            attempts,
            first: 50 * MS,
            factor: 3,
            max: 400 * MS,
        }
    }

    /// Runs with outcomes from `script` (the last one repeats), retrying
    /// `Err(true)`; gives the result, the attempts made and the waits.
    fn drive(
        b: Backoff,
        script: &[Result<u32, bool>],
    ) -> (Result<u32, bool>, usize, Vec<Duration>) {
        let mut calls = 0;
        let mut waits = Vec::new();
        let mut asked = Vec::new();
        let out = b.run_with_sleep(
            || {
                calls += 1;
                script[(calls - 1).min(script.len() - 1)]
            },
            |o, wait| {
                asked.push(wait);
                *o == Err(true)
            },
            |w| waits.push(w),
        );
        // The closure is told the wait that follows; only retries sleep.
        assert!(asked.starts_with(&waits));
        (out, calls, waits)
    }

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let b = backoff(10);
        let got: Vec<_> = (1..=5).map(|n| b.delay(n)).collect();
        assert_eq!(got, [50 * MS, 150 * MS, 400 * MS, 400 * MS, 400 * MS]);
        // No overflow for absurd attempt numbers or factors.
        assert_eq!(b.delay(u32::MAX), 400 * MS);
        let huge = Backoff {
            factor: u32::MAX,
            ..b
        };
        assert_eq!(huge.delay(3), 400 * MS);
    }

    #[test]
    fn retries_retryable_outcomes_until_success() {
        let (out, calls, waits) = drive(backoff(4), &[Err(true), Err(true), Ok(7)]);
        assert_eq!(out, Ok(7));
        assert_eq!(calls, 3);
        assert_eq!(waits, [50 * MS, 150 * MS]);
    }

    #[test]
    fn gives_up_after_the_attempts_with_the_last_outcome() {
        let (out, calls, waits) = drive(backoff(4), &[Err(true)]);
        assert_eq!(out, Err(true));
        assert_eq!(calls, 4);
        assert_eq!(waits, [50 * MS, 150 * MS, 400 * MS]);
    }

    #[test]
    fn final_outcomes_return_at_once() {
        assert_eq!(drive(backoff(4), &[Err(false)]), (Err(false), 1, vec![]));
        assert_eq!(drive(backoff(4), &[Ok(1)]), (Ok(1), 1, vec![]));
        // One attempt (or zero, read as one): never retried.
        assert_eq!(drive(backoff(1), &[Err(true)]), (Err(true), 1, vec![]));
        assert_eq!(drive(backoff(0), &[Err(true)]), (Err(true), 1, vec![]));
    }
}
