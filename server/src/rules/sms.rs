//! SMS and voice login codes (DESIGN §1.5, §5; PROTOCOL §8) as pure rules over the
//! deployment's [`Limits`]:
//!
//! - sending: at most one new code per 2 minutes, 5 sends per 15 minutes and a
//!   daily cap per account (every send is a new code: a new code replaces the old);
//! - guessing: 5 consecutive wrong codes per account (not per session) suspend SMS
//!   and voice logins for an hour; the run starts again after a success or a
//!   suspension; the 3rd suspension within 24 hours (settings) requires a
//!   password reset;
//! - voice: offered only to clients at or above the configured minimum version
//!   for their name ([`VoiceMinimums`]), compared as dotted numbers.
//!
//! Invariant: these functions only compute; the verifier applies them inside the
//! transaction that records the send or counts the attempt, so concurrent
//! requests see each other.

use crate::config::{Limits, RateLimit};
use std::collections::BTreeMap;

/// Why no code may be sent now. Each carries when sending is allowed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRefusal {
    /// A code was sent less than 2 minutes ago.
    TooSoon {
        /// When a new code may be sent.
        until: u64,
    },
    /// Five codes were sent in the last 15 minutes.
    TooMany {
        /// When a new code may be sent.
        until: u64,
    },
    /// The account's daily cap is reached.
    DailyCap {
        /// When a new code may be sent.
        until: u64,
    },
    /// Five consecutive wrong codes suspended SMS and voice logins.
    Suspended {
        /// When the suspension ends.
        until: u64,
    },
}

impl CodeRefusal {
    /// When sending is allowed again.
    pub fn until(&self) -> u64 {
        match *self {
            CodeRefusal::TooSoon { until }
            | CodeRefusal::TooMany { until }
            | CodeRefusal::DailyCap { until }
            | CodeRefusal::Suspended { until } => until,
        }
    }
}

/// The per-account state of the wrong-code rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodeGuard {
    /// Consecutive wrong codes since the last success or suspension.
    pub wrong_codes: u32,
    /// SMS and voice logins are suspended until then.
    pub suspended_until: Option<u64>,
}

/// What one counted wrong code changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrongCodeOutcome {
    /// Nothing more: this many wrong codes are left before the suspension.
    Counted {
        /// Wrong codes left before SMS and voice logins are suspended.
        attempts_left: u32,
    },
    /// This wrong code started the suspension (tell the user by e-mail).
    Suspended {
        /// When it ends.
        until: u64,
    },
}

/// The times of `sent` inside the window of `limit` ending at `now`, oldest first.
fn in_window(sent: &[u64], limit: RateLimit, now: u64) -> Vec<u64> {
    let mut recent: Vec<u64> = sent
        .iter()
        .copied()
        .filter(|&t| t <= now && now - t < limit.window_secs)
        .collect();
    recent.sort_unstable();
    recent
}

impl Limits {
    /// Whether SMS and voice logins are suspended at `now`; `Some(until)` if so.
    pub fn code_suspension(&self, guard: &CodeGuard, now: u64) -> Option<u64> {
        guard.suspended_until.filter(|&until| now < until)
    }

    /// Whether a new code may be sent at `now`, given the guard and the times of
    /// the account's sends in the last day (any order).
    pub fn check_code_send(
        &self,
        guard: &CodeGuard,
        sent: &[u64],
        now: u64,
    ) -> Result<(), CodeRefusal> {
        if let Some(until) = self.code_suspension(guard, now) {
            return Err(CodeRefusal::Suspended { until });
        }
        if let Some(last) = sent.iter().copied().filter(|&t| t <= now).max() {
            let until = last.saturating_add(self.sms_resend_after_secs);
            if now < until {
                return Err(CodeRefusal::TooSoon { until });
            }
        }
        for (limit, daily) in [(self.sms_sends, false), (self.sms_daily, true)] {
            let recent = in_window(sent, limit, now);
            let max = limit.max as usize;
            if recent.len() >= max {
                // The send that frees a slot is the oldest that must leave the window.
                let until = recent[recent.len() - max].saturating_add(limit.window_secs);
                return Err(if daily {
                    CodeRefusal::DailyCap { until }
                } else {
                    CodeRefusal::TooMany { until }
                });
            }
        }
        Ok(())
    }

    /// Counts one wrong code: updates `guard` and says what it changed. A
    /// suspension starts a new run of wrong codes.
    pub fn count_wrong_code(&self, guard: &mut CodeGuard, now: u64) -> WrongCodeOutcome {
        guard.wrong_codes = guard.wrong_codes.saturating_add(1);
        let max = self.sms_wrong_codes_before_suspension;
        if guard.wrong_codes >= max {
            let until = now.saturating_add(self.sms_suspension_secs);
            guard.wrong_codes = 0;
            guard.suspended_until = Some(until);
            WrongCodeOutcome::Suspended { until }
        } else {
            WrongCodeOutcome::Counted {
                attempts_left: max - guard.wrong_codes,
            }
        }
    }

    /// Records a suspension that starts at `now` in `recent` (the start times of
    /// the account's earlier suspensions; those outside the window are dropped)
    /// and says whether it makes [`Limits::sms_suspensions_before_reset`] within
    /// [`Limits::sms_suspension_window_secs`]: then the account needs a password
    /// reset, so that guessing cannot go on at a few codes an hour for ever.
    pub fn suspension_requires_reset(&self, recent: &mut Vec<u64>, now: u64) -> bool {
        let window = self.sms_suspension_window_secs;
        recent.retain(|&t| t <= now && now - t < window);
        recent.push(now);
        recent.len() >= self.sms_suspensions_before_reset as usize
    }
}

/// Why a client version was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a client version is numbers separated by dots, such as 10.30 or 1.0.2")]
pub struct BadClientVersion;

/// A client's version as dotted numbers (`10.30`, `1.0.2`), compared number by
/// number with missing parts as 0 (`10.3` = `10.3.0` < `10.30`). Text after the
/// numbers (`10.30-beta`) is refused: the login screen states a comparable version.
#[derive(Clone, Debug)]
pub struct ClientVersion {
    parts: Vec<u32>,
    text: String,
}

impl ClientVersion {
    /// The version as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn trimmed(&self) -> &[u32] {
        let end = self
            .parts
            .iter()
            .rposition(|&p| p != 0)
            .map_or(0, |i| i + 1);
        &self.parts[..end]
    }
}

impl std::str::FromStr for ClientVersion {
    type Err = BadClientVersion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() || text.len() > 32 {
            return Err(BadClientVersion);
        }
        let parts = text
            .split('.')
            .map(|part| {
                if part.is_empty() || part.len() > 9 || !part.bytes().all(|b| b.is_ascii_digit()) {
                    Err(BadClientVersion)
                } else {
                    part.parse::<u32>().map_err(|_| BadClientVersion)
                }
            })
            .collect::<Result<Vec<u32>, _>>()?;
        Ok(Self {
            parts,
            text: text.to_owned(),
        })
    }
}

impl PartialEq for ClientVersion {
    fn eq(&self, other: &Self) -> bool {
        self.trimmed() == other.trimmed()
    }
}

impl Eq for ClientVersion {}

impl PartialOrd for ClientVersion {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ClientVersion {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.trimmed().cmp(other.trimmed())
    }
}

impl std::fmt::Display for ClientVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why voice is not offered to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoiceRefusal {
    /// The client is older than the minimum for its name.
    TooOld {
        /// The client's name.
        client: String,
        /// Its version.
        version: String,
        /// The least version offered voice.
        minimum: String,
    },
    /// The client has a minimum but did not state its version.
    VersionUnknown {
        /// The client's name.
        client: String,
        /// The least version offered voice.
        minimum: String,
    },
}

impl VoiceRefusal {
    /// The least version offered voice.
    pub fn minimum(&self) -> &str {
        match self {
            VoiceRefusal::TooOld { minimum, .. } | VoiceRefusal::VersionUnknown { minimum, .. } => {
                minimum
            }
        }
    }
}

impl std::fmt::Display for VoiceRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VoiceRefusal::TooOld {
                client,
                version,
                minimum,
            } => write!(
                f,
                "Voice callback needs {client} {minimum} or later (this is {version}); \
                 update {client} or choose SMS"
            ),
            VoiceRefusal::VersionUnknown { client, minimum } => write!(
                f,
                "Voice callback needs {client} {minimum} or later, and this client did not \
                 state its version; update {client} or choose SMS"
            ),
        }
    }
}

/// The least client version offered voice callback, by client name (the name
/// the login screen states, compared exactly). A client not listed has no
/// minimum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VoiceMinimums(BTreeMap<String, ClientVersion>);

impl VoiceMinimums {
    /// A table from `(client name, minimum version)` pairs.
    pub fn new<'a>(
        rows: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, BadClientVersion> {
        rows.into_iter()
            .map(|(name, version)| Ok((name.to_owned(), version.parse()?)))
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map(Self)
    }

    /// The minimum for `client`, if it has one.
    pub fn minimum_for(&self, client: &str) -> Option<&ClientVersion> {
        self.0.get(client)
    }

    /// Whether voice is offered to `client` at `version`.
    pub fn check(&self, client: &str, version: Option<&ClientVersion>) -> Result<(), VoiceRefusal> {
        let Some(minimum) = self.minimum_for(client) else {
            return Ok(());
        };
        match version {
            Some(version) if version >= minimum => Ok(()),
            Some(version) => Err(VoiceRefusal::TooOld {
                client: client.to_owned(),
                version: version.to_string(),
                minimum: minimum.to_string(),
            }),
            None => Err(VoiceRefusal::VersionUnknown {
                client: client.to_owned(),
                minimum: minimum.to_string(),
            }),
        }
    }

    /// The rows, by client name.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &ClientVersion)> {
        self.0
            .iter()
            .map(|(name, version)| (name.as_str(), version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> ClientVersion {
        text.parse().unwrap()
    }

    #[test]
    fn a_second_code_within_two_minutes_is_refused_and_allowed_at_two_minutes() {
        let l = Limits::default();
        let g = CodeGuard::default();
        assert_eq!(l.check_code_send(&g, &[], 1000), Ok(()));
        assert_eq!(
            l.check_code_send(&g, &[1000], 1119),
            Err(CodeRefusal::TooSoon { until: 1120 })
        );
        assert_eq!(l.check_code_send(&g, &[1000], 1120), Ok(()));
    }

    #[test]
    fn the_sixth_send_in_fifteen_minutes_is_refused_until_the_first_leaves_the_window() {
        let l = Limits::default();
        let g = CodeGuard::default();
        let sent = [1000, 1120, 1240, 1360, 1480];
        assert_eq!(l.check_code_send(&g, &sent[..4], 1600), Ok(()));
        assert_eq!(
            l.check_code_send(&g, &sent, 1600),
            Err(CodeRefusal::TooMany { until: 1900 })
        );
        assert_eq!(
            l.check_code_send(&g, &sent, 1899),
            Err(CodeRefusal::TooMany { until: 1900 })
        );
        assert_eq!(l.check_code_send(&g, &sent, 1900), Ok(()));
    }

    #[test]
    fn the_daily_cap_refuses_the_eleventh_send_until_the_first_is_a_day_old() {
        let l = Limits::default();
        let g = CodeGuard::default();
        // Four sends per 15 minutes at most: never the short limit.
        let sent: Vec<u64> = (0..10).map(|i| 10_000 + i * 181).collect();
        let now = 10_000 + 10 * 181;
        assert_eq!(l.check_code_send(&g, &sent[..9], now), Ok(()));
        assert_eq!(
            l.check_code_send(&g, &sent, now),
            Err(CodeRefusal::DailyCap {
                until: 10_000 + 86_400
            })
        );
        assert_eq!(l.check_code_send(&g, &sent, 10_000 + 86_400), Ok(()));
    }

    #[test]
    fn five_consecutive_wrong_codes_suspend_for_exactly_an_hour_and_start_a_new_run() {
        let l = Limits::default();
        let mut g = CodeGuard::default();
        for left in [4, 3, 2, 1] {
            assert_eq!(
                l.count_wrong_code(&mut g, 500),
                WrongCodeOutcome::Counted {
                    attempts_left: left
                }
            );
        }
        assert_eq!(
            l.count_wrong_code(&mut g, 500),
            WrongCodeOutcome::Suspended { until: 4100 }
        );
        assert_eq!(l.code_suspension(&g, 4099), Some(4100));
        assert_eq!(l.code_suspension(&g, 4100), None);
        assert_eq!(
            l.check_code_send(&g, &[], 4099),
            Err(CodeRefusal::Suspended { until: 4100 })
        );
        assert_eq!(l.check_code_send(&g, &[], 4100), Ok(()));
        assert_eq!(g.wrong_codes, 0);
        assert_eq!(
            l.count_wrong_code(&mut g, 4200),
            WrongCodeOutcome::Counted { attempts_left: 4 }
        );
    }

    #[test]
    fn the_third_suspension_within_a_day_requires_a_password_reset() {
        let l = Limits::default();
        let mut recent = Vec::new();
        assert!(!l.suspension_requires_reset(&mut recent, 10_000));
        assert!(!l.suspension_requires_reset(&mut recent, 13_600));
        assert!(l.suspension_requires_reset(&mut recent, 17_200));
        // Spread over more than a day, suspensions only suspend.
        let mut spread = Vec::new();
        for at in [0, 43_200, 86_400, 129_600] {
            assert!(!l.suspension_requires_reset(&mut spread, at), "{at}");
        }
        assert_eq!(spread, [86_400, 129_600]);
    }

    #[test]
    fn versions_compare_as_dotted_numbers() {
        assert!(v("10.30") > v("10.4"));
        assert!(v("10.30") > v("10.19.2"));
        assert_eq!(v("10.3"), v("10.3.0"));
        assert!(v("1.0") == v("1"));
        assert!(v("2") > v("1.99.99"));
        assert_eq!(v("10.30").to_string(), "10.30");
        for bad in [
            "",
            "10.",
            ".1",
            "10..3",
            "10.30-beta",
            "v10",
            "1 0",
            "1234567890.1",
        ] {
            assert_eq!(
                bad.parse::<ClientVersion>().err(),
                Some(BadClientVersion),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn voice_is_offered_at_or_above_the_minimum_for_the_clients_name() {
        let table = VoiceMinimums::new([("Trader Workstation", "10.30"), ("Client Portal", "1.0")])
            .unwrap();
        assert_eq!(table.check("Trader Workstation", Some(&v("10.30"))), Ok(()));
        assert_eq!(
            table.check("Trader Workstation", Some(&v("10.31.1"))),
            Ok(())
        );
        let old = table
            .check("Trader Workstation", Some(&v("10.29.9")))
            .unwrap_err();
        assert_eq!(old.minimum(), "10.30");
        assert_eq!(
            old.to_string(),
            "Voice callback needs Trader Workstation 10.30 or later (this is 10.29.9); update \
             Trader Workstation or choose SMS"
        );
        assert!(matches!(
            table.check("Client Portal", None),
            Err(VoiceRefusal::VersionUnknown { .. })
        ));
        assert_eq!(table.check("latchkey login", None), Ok(()), "not listed");
        assert_eq!(VoiceMinimums::new([("X", "beta")]), Err(BadClientVersion));
    }
}
