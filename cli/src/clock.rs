//! The wall clock: the one place this binary reads it (docs/STYLE.md §3). Everything
//! else takes a `latchkey_core::clock::Clock`.

use latchkey_core::clock::Clock;

/// The operating system's clock, in whole Unix seconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// Now, or `None` if the system clock is set before 1970.
    pub fn try_now(&self) -> Option<u64> {
        #[allow(clippy::disallowed_methods)] // the binary owns the clock; this is its one reading
        let now = std::time::SystemTime::now();
        now.duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|elapsed| elapsed.as_secs())
    }
}

impl Clock for SystemClock {
    /// Now; a clock set before 1970 reads as 0, which every lifetime check treats
    /// as long expired or not yet valid.
    fn now(&self) -> u64 {
        self.try_now().unwrap_or(0)
    }
}
