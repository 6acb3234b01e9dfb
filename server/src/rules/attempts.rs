//! The PIN-bound failure counter of DESIGN §5 / PROTOCOL §8, as pure rules over
//! the deployment's [`Limits`].
//!
//! One counter per enrollment, shared by push approvals, typed responses and PIN
//! proofs. An attempt that reaches verification is counted before it is
//! verified; attempts refused earlier are not counted. From the 3rd failure each
//! further attempt must wait (30 s, doubling: [`Limits::failure_delay_secs`]). At 5
//! failures the account needs a password reset (entered once; later failures keep
//! it); at 10 the enrollment is disabled until replaced. A success resets the
//! counter; a password reset does not.
//!
//! Invariant: these functions only compute; the verifier applies them inside the
//! transaction that counts the attempt, so concurrent attempts see each other.

use crate::config::Limits;

/// What a newly counted failure changes beyond the count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureConsequence {
    /// Nothing more.
    None,
    /// This failure reached the reset threshold: require a password reset and
    /// tell the user.
    PasswordResetRequired,
    /// This failure reached the disable threshold: disable the enrollment and
    /// tell the user.
    Disabled,
}

impl Limits {
    /// When the next attempt is allowed, given the count and the time of the last
    /// counted failure; `None` if it is allowed at `now`.
    pub fn retry_after(
        &self,
        failures: u64,
        last_failure_at: Option<u64>,
        now: u64,
    ) -> Option<u64> {
        let delay = self.failure_delay_secs(u32::try_from(failures).unwrap_or(u32::MAX));
        let allowed_at = last_failure_at?.saturating_add(delay);
        (delay > 0 && now < allowed_at).then_some(allowed_at)
    }

    /// What the failure that brings the count to `failures` changes.
    pub fn consequence_of(&self, failures: u64) -> FailureConsequence {
        if failures == u64::from(self.disable_after_failures) {
            FailureConsequence::Disabled
        } else if failures == u64::from(self.password_reset_after_failures) {
            FailureConsequence::PasswordResetRequired
        } else {
            FailureConsequence::None
        }
    }

    /// How many attempts are left before the enrollment is disabled.
    pub fn attempts_left(&self, failures: u64) -> u64 {
        u64::from(self.disable_after_failures).saturating_sub(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_is_refused_until_the_delay_ends_and_not_a_second_longer() {
        let l = Limits::default();
        assert_eq!(l.retry_after(2, Some(1000), 1000), None);
        assert_eq!(l.retry_after(3, Some(1000), 1029), Some(1030));
        assert_eq!(l.retry_after(3, Some(1000), 1030), None);
        assert_eq!(l.retry_after(4, Some(1000), 1059), Some(1060));
        assert_eq!(l.retry_after(4, None, 0), None);
        assert_eq!(
            l.retry_after(u64::MAX, Some(1), 2),
            Some(u64::MAX),
            "no overflow"
        );
    }

    #[test]
    fn reset_comes_at_five_and_disabling_at_ten_once_each() {
        let l = Limits::default();
        let consequences: Vec<_> = (1..=12).map(|n| l.consequence_of(n)).collect();
        assert_eq!(consequences[4], FailureConsequence::PasswordResetRequired);
        assert_eq!(consequences[9], FailureConsequence::Disabled);
        let others = consequences
            .iter()
            .filter(|c| **c == FailureConsequence::None)
            .count();
        assert_eq!(
            others, 10,
            "6th–9th failures keep the reset state; they do not start new resets"
        );
        assert_eq!(l.attempts_left(7), 3);
    }
}
