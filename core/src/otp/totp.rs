//! RFC 6238 TOTP: HOTP over the number of `period`-second steps since `T0`.

use super::{HashAlgorithm, Hotp, OtpCode, OtpError, OtpKey};

/// A TOTP generator: hash function, digits (6–8), period and `T0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totp {
    hotp: Hotp,
    period: u64,
    t0: u64,
}

/// Which time step a TOTP candidate matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpMatch {
    /// The absolute step number (the HOTP counter).
    pub step: u64,
    /// The matched step minus the step of the verification time: negative when
    /// the code came from a clock behind ours.
    pub offset: i64,
}

impl Totp {
    /// A generator; `period` is in seconds and must be at least 1, `t0` is a Unix time.
    pub fn new(
        algorithm: HashAlgorithm,
        digits: u32,
        period: u64,
        t0: u64,
    ) -> Result<Self, OtpError> {
        if period == 0 {
            return Err(OtpError::ZeroPeriod);
        }
        // Hotp names itself in a digits error; a TOTP caller asked for TOTP.
        let hotp = Hotp::new(algorithm, digits).map_err(|error| match error {
            OtpError::DigitsOutOfRange {
                digits, min, max, ..
            } => OtpError::DigitsOutOfRange {
                algorithm: "TOTP",
                digits,
                min,
                max,
            },
            other => other,
        })?;
        Ok(Self { hotp, period, t0 })
    }

    /// The RFC's usual parameters: 30-second steps from the Unix epoch.
    pub fn with_defaults(algorithm: HashAlgorithm, digits: u32) -> Result<Self, OtpError> {
        Self::new(algorithm, digits, 30, 0)
    }

    /// The step that `unix_seconds` falls in.
    pub fn step_at(&self, unix_seconds: u64) -> Result<u64, OtpError> {
        let since = unix_seconds
            .checked_sub(self.t0)
            .ok_or(OtpError::TimeBeforeEpoch {
                time: unix_seconds,
                t0: self.t0,
            })?;
        Ok(since / self.period)
    }

    /// The code at `unix_seconds`.
    pub fn generate_at(&self, key: &OtpKey, unix_seconds: u64) -> Result<OtpCode, OtpError> {
        Ok(self.hotp.generate(key, self.step_at(unix_seconds)?))
    }

    /// Checks `candidate` against the steps from `behind` steps before to `ahead`
    /// steps after the step of `unix_seconds`, nearest first, and says which matched.
    pub fn verify_at(
        &self,
        key: &OtpKey,
        candidate: &str,
        unix_seconds: u64,
        behind: u64,
        ahead: u64,
    ) -> Result<Option<TotpMatch>, OtpError> {
        let now = self.step_at(unix_seconds)?;
        for distance in 0..=behind.max(ahead) {
            for (step, offset) in [
                (
                    now.checked_add(distance).filter(|_| distance <= ahead),
                    distance as i64,
                ),
                (
                    now.checked_sub(distance)
                        .filter(|_| distance <= behind && distance > 0),
                    -(distance as i64),
                ),
            ] {
                let Some(step) = step else { continue };
                if self.hotp.generate(key, step).matches(candidate) {
                    return Ok(Some(TotpMatch { step, offset }));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY20: &str = "3132333435363738393031323334353637383930";

    #[test]
    fn a_totp_digits_error_names_totp() {
        let error = Totp::with_defaults(HashAlgorithm::Sha1, 9).unwrap_err();
        assert!(
            matches!(
                error,
                OtpError::DigitsOutOfRange {
                    algorithm: "TOTP",
                    digits: 9,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("TOTP responses have 6 to 8 digits")
        );
    }

    #[test]
    fn totp_verification_reports_the_matching_offset() {
        let key = OtpKey::from_hex(KEY20).unwrap();
        let totp = Totp::with_defaults(HashAlgorithm::Sha1, 8).unwrap();
        // "07081804" is the code of step 37037036 (time 1111111109).
        let now = 1111111109 + 60; // two steps later
        assert_eq!(
            totp.verify_at(&key, "07081804", now, 2, 0).unwrap(),
            Some(TotpMatch {
                step: 37037036,
                offset: -2
            })
        );
        assert_eq!(totp.verify_at(&key, "07081804", now, 1, 5).unwrap(), None);
        let earlier = 1111111109 - 30;
        assert_eq!(
            totp.verify_at(&key, "07081804", earlier, 0, 1).unwrap(),
            Some(TotpMatch {
                step: 37037036,
                offset: 1
            })
        );
        assert_eq!(
            totp.verify_at(&key, "07081804", earlier, 3, 0).unwrap(),
            None
        );
    }

    #[test]
    fn totp_honours_period_and_t0() {
        let key = OtpKey::from_hex(KEY20).unwrap();
        let totp = Totp::new(HashAlgorithm::Sha1, 6, 60, 1000).unwrap();
        assert_eq!(totp.step_at(1000 + 119).unwrap(), 1);
        let hotp = Hotp::new(HashAlgorithm::Sha1, 6).unwrap();
        assert_eq!(
            totp.generate_at(&key, 1000 + 120).unwrap(),
            hotp.generate(&key, 2)
        );
        assert_eq!(
            totp.generate_at(&key, 999),
            Err(OtpError::TimeBeforeEpoch {
                time: 999,
                t0: 1000
            })
        );
        assert_eq!(
            Totp::new(HashAlgorithm::Sha1, 6, 0, 0),
            Err(OtpError::ZeroPeriod)
        );
    }

    #[test]
    fn totp_window_at_time_zero_does_not_underflow() {
        let key = OtpKey::from_hex(KEY20).unwrap();
        let totp = Totp::with_defaults(HashAlgorithm::Sha1, 6).unwrap();
        let code = totp.generate_at(&key, 0).unwrap();
        assert_eq!(
            totp.verify_at(&key, code.as_str(), 0, 5, 5).unwrap(),
            Some(TotpMatch { step: 0, offset: 0 })
        );
    }
}
