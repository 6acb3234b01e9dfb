//! The wall clock of the phone library: the one reading of `SystemTime::now`
//! in this crate (docs/STYLE.md §3). Core corrects it per account by the offset it
//! learns from signed server time, so a phone whose clock is off still answers
//! within the server's window.

use latchkey_core::clock::Clock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The system clock, in whole Unix seconds.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The library's one reading of the wall clock.
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_a_time_after_2025() {
        assert!(SystemClock.now() > 1_735_689_600);
    }
}
