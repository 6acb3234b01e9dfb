//! Push limits of DESIGN §5: at most 5 pushes per 10 minutes and 20 per 24 hours
//! per account, counted since the account's last successful login; a "this
//! wasn't me" stops pushes for 24 hours.
//!
//! Invariant: a pure function of the push times the store kept.

/// The numbers of the rule (deployment settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushPolicy {
    /// Pushes allowed in the short window (5).
    pub short_max: usize,
    /// The short window, seconds (600).
    pub short_window: u64,
    /// Pushes allowed in the long window (20).
    pub long_max: usize,
    /// The long window, seconds (86 400).
    pub long_window: u64,
    /// How long a "not me" stops pushes, seconds (86 400).
    pub deny_pause: u64,
}

impl Default for PushPolicy {
    fn default() -> Self {
        Self { short_max: 5, short_window: 600, long_max: 20, long_window: 86_400, deny_pause: 86_400 }
    }
}

/// Why a push may not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushRefusal {
    /// Too many pushes recently; pushes resume at the time given.
    RateLimited {
        /// When the next push is allowed.
        until: u64,
    },
    /// The user denied a login as "not me"; pushes resume at the time given.
    PausedAfterDenial {
        /// When pushes resume.
        until: u64,
    },
}

impl PushPolicy {
    /// Whether a push may be sent at `now`, given the times of the pushes sent since
    /// the last success (any order) and the time of the last "not me", if any.
    pub fn check(&self, sent: &[u64], last_denial: Option<u64>, now: u64) -> Result<(), PushRefusal> {
        if let Some(denied) = last_denial {
            let until = denied.saturating_add(self.deny_pause);
            if now < until {
                return Err(PushRefusal::PausedAfterDenial { until });
            }
        }
        for (max, window) in [(self.short_max, self.short_window), (self.long_max, self.long_window)] {
            let mut recent: Vec<u64> = sent.iter().copied().filter(|&t| t <= now && now - t < window).collect();
            if recent.len() >= max {
                recent.sort_unstable();
                // The push that frees a slot is the oldest one that must leave the window.
                let oldest_blocking = recent[recent.len() - max];
                return Err(PushRefusal::RateLimited { until: oldest_blocking.saturating_add(window) });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_push_in_ten_minutes_is_refused_until_the_first_leaves_the_window() {
        let p = PushPolicy::default();
        let sent = [1000, 1100, 1200, 1300, 1400];
        assert_eq!(p.check(&sent[..4], None, 1500), Ok(()));
        assert_eq!(p.check(&sent, None, 1500), Err(PushRefusal::RateLimited { until: 1600 }));
        assert_eq!(p.check(&sent, None, 1599), Err(PushRefusal::RateLimited { until: 1600 }));
        assert_eq!(p.check(&sent, None, 1600), Ok(()));
    }

    #[test]
    fn the_twenty_first_push_in_a_day_is_refused() {
        let p = PushPolicy::default();
        // 20 pushes, 11 minutes apart: never 5 in 10 minutes.
        let sent: Vec<u64> = (0..20).map(|i| 10_000 + i * 660).collect();
        let now = 10_000 + 20 * 660;
        assert_eq!(p.check(&sent[..19], None, now), Ok(()));
        assert_eq!(p.check(&sent, None, now), Err(PushRefusal::RateLimited { until: 10_000 + 86_400 }));
        assert_eq!(p.check(&sent, None, 10_000 + 86_400), Ok(()));
    }

    #[test]
    fn a_denial_pauses_pushes_for_a_day() {
        let p = PushPolicy::default();
        assert_eq!(p.check(&[], Some(5000), 5000 + 86_399), Err(PushRefusal::PausedAfterDenial { until: 5000 + 86_400 }));
        assert_eq!(p.check(&[], Some(5000), 5000 + 86_400), Ok(()));
    }
}
