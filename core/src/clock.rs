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

/// Another clock plus an offset that only grows: `latchkey serve --dev` reads its time
/// through one so that browser and shell tests can skip ahead (`POST /v1/dev/clock`)
/// instead of waiting out a lifetime. Production servers never have one.
pub struct OffsetClock {
    inner: std::sync::Arc<dyn Clock>,
    offset: AtomicU64,
}

impl std::fmt::Debug for OffsetClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffsetClock")
            .field("offset", &self.offset.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl OffsetClock {
    /// `inner`'s time, at first with no offset.
    pub fn new(inner: std::sync::Arc<dyn Clock>) -> Self {
        Self {
            inner,
            offset: AtomicU64::new(0),
        }
    }

    /// Moves this clock `seconds` ahead of its inner clock (added to any earlier
    /// skip) and returns the new time.
    pub fn advance(&self, seconds: u64) -> u64 {
        let _ = self
            .offset
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |offset| {
                Some(offset.saturating_add(seconds))
            });
        self.now()
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> u64 {
        self.inner
            .now()
            .saturating_add(self.offset.load(Ordering::SeqCst))
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
    fn an_offset_clock_reads_its_inner_clock_plus_every_skip() {
        let inner = std::sync::Arc::new(ManualClock::new(1_000));
        let clock = OffsetClock::new(inner.clone());
        assert_eq!(clock.now(), 1_000);
        assert_eq!(clock.advance(121), 1_121);
        inner.advance(9);
        assert_eq!(clock.now(), 1_130);
        assert_eq!(clock.advance(u64::MAX), u64::MAX);
    }

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
