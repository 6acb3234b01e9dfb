//! The PIN-bound failure counter of DESIGN §5 / PROTOCOL §8, as pure rules.
//!
//! One counter per enrollment, shared by push approvals, typed responses and PIN
//! proofs. An attempt that reaches verification is counted *before* it is
//! verified; attempts refused earlier are not counted. From the 3rd failure each
//! further attempt must wait: 30 s after the 3rd, doubling with each failure. At 5
//! failures the account needs a password reset (entered once; later failures keep
//! it); at 10 the enrollment is disabled until replaced. A success resets the
//! counter; a password reset does not.
//!
//! Invariant: these functions only compute; the store applies them inside the
//! transaction that counts the attempt, so concurrent attempts see each other.

/// The numbers of the rule (deployment settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptPolicy {
    /// The failure count from which attempts are delayed (3).
    pub delay_from: u64,
    /// The delay after the `delay_from`-th failure, in seconds (30); it doubles with
    /// each further failure.
    pub base_delay: u64,
    /// The failure count that requires a password reset (5).
    pub reset_at: u64,
    /// The failure count that disables the enrollment (10).
    pub disable_at: u64,
}

impl Default for AttemptPolicy {
    fn default() -> Self {
        Self { delay_from: 3, base_delay: 30, reset_at: 5, disable_at: 10 }
    }
}

/// What a newly counted failure changes beyond the count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureConsequence {
    /// Nothing more.
    None,
    /// This failure reached `reset_at`: require a password reset and tell the user.
    PasswordResetRequired,
    /// This failure reached `disable_at`: disable the enrollment and tell the user.
    Disabled,
}

impl AttemptPolicy {
    /// The delay that applies after `failures` failures, in seconds (0 = none).
    pub fn delay_after(&self, failures: u64) -> u64 {
        if failures < self.delay_from {
            return 0;
        }
        let doublings = (failures - self.delay_from).min(32);
        self.base_delay.saturating_mul(1u64 << doublings)
    }

    /// When the next attempt is allowed, given the count and the time of the last
    /// counted failure; `None` if it is allowed now.
    pub fn retry_after(&self, failures: u64, last_failure_at: Option<u64>, now: u64) -> Option<u64> {
        let delay = self.delay_after(failures);
        let last = last_failure_at?;
        let allowed_at = last.saturating_add(delay);
        (delay > 0 && now < allowed_at).then_some(allowed_at)
    }

    /// What the failure that brings the count to `failures` changes.
    pub fn consequence_of(&self, failures: u64) -> FailureConsequence {
        if failures == self.disable_at {
            FailureConsequence::Disabled
        } else if failures == self.reset_at {
            FailureConsequence::PasswordResetRequired
        } else {
            FailureConsequence::None
        }
    }

    /// How many attempts are left before the enrollment is disabled.
    pub fn attempts_left(&self, failures: u64) -> u64 {
        self.disable_at.saturating_sub(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_at_the_third_failure_and_double() {
        let p = AttemptPolicy::default();
        assert_eq!(p.delay_after(0), 0);
        assert_eq!(p.delay_after(2), 0);
        assert_eq!(p.delay_after(3), 30);
        assert_eq!(p.delay_after(4), 60);
        assert_eq!(p.delay_after(5), 120);
        assert_eq!(p.delay_after(9), 1920);
        assert_eq!(p.delay_after(1000), 30 * (1u64 << 32), "capped, no overflow");
    }

    #[test]
    fn retry_is_refused_until_one_second_before_the_delay_ends() {
        let p = AttemptPolicy::default();
        assert_eq!(p.retry_after(2, Some(1000), 1000), None);
        assert_eq!(p.retry_after(3, Some(1000), 1029), Some(1030));
        assert_eq!(p.retry_after(3, Some(1000), 1030), None);
        assert_eq!(p.retry_after(4, Some(1000), 1059), Some(1060));
        assert_eq!(p.retry_after(4, None, 0), None);
    }

    #[test]
    fn reset_comes_at_five_and_disabling_at_ten_once_each() {
        let p = AttemptPolicy::default();
        let consequences: Vec<_> = (1..=12).map(|n| p.consequence_of(n)).collect();
        assert_eq!(consequences[4], FailureConsequence::PasswordResetRequired);
        assert_eq!(consequences[9], FailureConsequence::Disabled);
        let others = consequences.iter().filter(|c| **c == FailureConsequence::None).count();
        assert_eq!(others, 10, "6th–9th failures keep the reset state; they do not start new resets");
        assert_eq!(p.attempts_left(7), 3);
    }
}
