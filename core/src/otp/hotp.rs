//! RFC 4226 HOTP: an HMAC over an 8-byte big-endian counter, truncated.

use super::{HashAlgorithm, OtpCode, OtpError, OtpKey, truncate};

/// An HOTP generator: hash function and number of digits (6 to 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hotp {
    algorithm: HashAlgorithm,
    digits: u32,
}

impl Hotp {
    /// The fewest digits RFC 4226 §5.3 allows.
    pub const MIN_DIGITS: u32 = 6;
    /// The most digits this engine produces for HOTP/TOTP.
    pub const MAX_DIGITS: u32 = 8;

    /// A generator with `digits` digits (6–8) over `algorithm`.
    pub fn new(algorithm: HashAlgorithm, digits: u32) -> Result<Self, OtpError> {
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits) {
            return Err(OtpError::DigitsOutOfRange {
                algorithm: "HOTP",
                digits,
                min: Self::MIN_DIGITS,
                max: Self::MAX_DIGITS,
            });
        }
        Ok(Self { algorithm, digits })
    }

    /// The hash function.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The number of digits of each code.
    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// The code for `counter`.
    pub fn generate(&self, key: &OtpKey, counter: u64) -> OtpCode {
        truncate(
            &self.algorithm.hmac(key, &counter.to_be_bytes()),
            self.digits,
        )
    }

    /// Checks `candidate` against the counters `counter ..= counter + look_ahead`
    /// (RFC 4226 §7.2 resynchronisation window) and returns the counter that
    /// matched, so the caller can store `matched + 1` as its next counter. Every
    /// comparison is constant-time; the window stops at `u64::MAX`.
    pub fn verify(
        &self,
        key: &OtpKey,
        candidate: &str,
        counter: u64,
        look_ahead: u64,
    ) -> Option<u64> {
        let last = counter.saturating_add(look_ahead);
        (counter..=last).find(|&c| self.generate(key, c).matches(candidate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_key() -> OtpKey {
        OtpKey::from_hex("3132333435363738393031323334353637383930").unwrap()
    }

    #[test]
    fn hotp_verification_reports_the_counter_that_matched() {
        let hotp = Hotp::new(HashAlgorithm::Sha1, 6).unwrap();
        assert_eq!(hotp.verify(&rfc_key(), "969429", 0, 5), Some(3));
        assert_eq!(hotp.verify(&rfc_key(), "969429", 0, 2), None);
        assert_eq!(hotp.verify(&rfc_key(), "969429", 4, 5), None);
        assert_eq!(hotp.verify(&rfc_key(), "96942", 0, 9), None);
    }

    #[test]
    fn hotp_window_at_the_end_of_the_counter_space_does_not_overflow() {
        let hotp = Hotp::new(HashAlgorithm::Sha256, 8).unwrap();
        let code = hotp.generate(&rfc_key(), u64::MAX);
        assert_eq!(
            hotp.verify(&rfc_key(), code.as_str(), u64::MAX - 1, 10),
            Some(u64::MAX)
        );
    }

    #[test]
    fn hotp_refuses_digit_counts_outside_six_to_eight() {
        for digits in [0, 5, 9, 10] {
            assert!(matches!(
                Hotp::new(HashAlgorithm::Sha1, digits),
                Err(OtpError::DigitsOutOfRange { digits: d, .. }) if d == digits
            ));
        }
        for digits in 6..=8 {
            let code = Hotp::new(HashAlgorithm::Sha512, digits)
                .unwrap()
                .generate(&rfc_key(), 7);
            assert_eq!(code.as_str().len(), digits as usize);
        }
    }
}
