//! Time comes in from outside (docs/STYLE.md §3): everything that needs "now" takes a
//! [`Clock`]. Times are whole Unix seconds (UTC).
//!
//! Invariant: nothing in core reads the wall clock; the binaries own the
//! system-clock implementations and tests use a [`ManualClock`].

use std::sync::atomic::{AtomicU64, Ordering};

/// A source of the current time in Unix seconds.
///
/// Implementations must be cheap and must not call back into the code that
/// asked for the time.
pub trait Clock: Send + Sync {
    /// The current time, in whole seconds since the Unix epoch (UTC).
    fn now(&self) -> u64;
}

/// A clock that stands still until moved: tests and the demo's "hold period" use it.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `unix_seconds`.
    pub fn new(unix_seconds: u64) -> Self {
        Self(AtomicU64::new(unix_seconds))
    }

    /// Moves the clock forward (or, with a wrapping caller, anywhere) to `unix_seconds`.
    pub fn set(&self, unix_seconds: u64) {
        self.0.store(unix_seconds, Ordering::SeqCst);
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> u64 {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(59);
        assert_eq!(clock.now(), 1_059);
        clock.set(5);
        assert_eq!(clock.now(), 5);
    }
}
