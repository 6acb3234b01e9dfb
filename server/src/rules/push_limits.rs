//! Push limits of DESIGN §5 over the deployment's [`Limits`]: at most 5 pushes
//! per 10 minutes and 20 per 24 hours per account, counted since the account's
//! last successful login; a "this wasn't me" stops pushes for 24 hours.
//!
//! Invariant: a pure function of the push times the store kept.

use crate::config::Limits;

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

impl Limits {
    /// Whether a push may be sent at `now`, given the times of the pushes sent since
    /// the last success (any order) and when pushes are paused until, if they are.
    pub fn check_push(
        &self,
        sent: &[u64],
        paused_until: Option<u64>,
        now: u64,
    ) -> Result<(), PushRefusal> {
        if let Some(until) = paused_until.filter(|&until| now < until) {
            return Err(PushRefusal::PausedAfterDenial { until });
        }
        for limit in [self.push_short, self.push_long] {
            let max = limit.max as usize;
            let mut recent: Vec<u64> = sent
                .iter()
                .copied()
                .filter(|&t| t <= now && now - t < limit.window_secs)
                .collect();
            if max > 0 && recent.len() >= max {
                recent.sort_unstable();
                // The push that frees a slot is the oldest one that must leave the window.
                let oldest_blocking = recent[recent.len() - max];
                return Err(PushRefusal::RateLimited {
                    until: oldest_blocking.saturating_add(limit.window_secs),
                });
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
        let l = Limits::default();
        let sent = [1000, 1100, 1200, 1300, 1400];
        assert_eq!(l.check_push(&sent[..4], None, 1500), Ok(()));
        assert_eq!(
            l.check_push(&sent, None, 1500),
            Err(PushRefusal::RateLimited { until: 1600 })
        );
        assert_eq!(
            l.check_push(&sent, None, 1599),
            Err(PushRefusal::RateLimited { until: 1600 })
        );
        assert_eq!(l.check_push(&sent, None, 1600), Ok(()));
    }

    #[test]
    fn the_twenty_first_push_in_a_day_is_refused() {
        let l = Limits::default();
        // 20 pushes, 11 minutes apart: never 5 in 10 minutes.
        let sent: Vec<u64> = (0..20).map(|i| 10_000 + i * 660).collect();
        let now = 10_000 + 20 * 660;
        assert_eq!(l.check_push(&sent[..19], None, now), Ok(()));
        assert_eq!(
            l.check_push(&sent, None, now),
            Err(PushRefusal::RateLimited {
                until: 10_000 + 86_400
            })
        );
        assert_eq!(l.check_push(&sent, None, 10_000 + 86_400), Ok(()));
    }

    #[test]
    fn a_denial_pauses_pushes_until_its_end() {
        let l = Limits::default();
        assert_eq!(
            l.check_push(&[], Some(5000 + 86_400), 5000 + 86_399),
            Err(PushRefusal::PausedAfterDenial {
                until: 5000 + 86_400
            })
        );
        assert_eq!(
            l.check_push(&[], Some(5000 + 86_400), 5000 + 86_400),
            Ok(())
        );
    }
}
