//! The one-time-password engine: RFC 6287 OCRA, RFC 4226 HOTP and RFC 6238 TOTP.
//!
//! Everything here is a pure function of its inputs: keys, counters, challenges
//! and times come in as arguments (the wall clock is never read), and results come
//! out as values.
//!
//! Invariants:
//! - every response has exactly the number of digits its suite or generator names
//!   (zero-padded on the left);
//! - verification compares candidates in constant time and reports *which* step or
//!   counter matched, so callers can keep counters and observed clock drift;
//! - malformed input — a suite string, a challenge, a key, a missing or surplus
//!   input — is refused with an [`OtpError`] that names the problem; nothing panics;
//! - only ASCII digits count as digits (no Unicode numerals sneak in).
//!
//! ```
//! use latchkey_core::otp::{OcraChallenge, OcraInputs, OcraSuite, OcraTime, OtpKey};
//!
//! // Latchkey's default suite: SHA-256, 8 digits, a 6-digit numeric challenge,
//! // one-minute time steps.
//! let suite: OcraSuite = "OCRA-1:HOTP-SHA256-8:QN06-T1M".parse()?;
//! let key = OtpKey::from_hex("3132333435363738393031323334353637383930313233343536373839303132")?;
//! let inputs = OcraInputs { time: Some(OcraTime::UnixSeconds(1_800_000_000)), ..Default::default() };
//! let response = suite.response(&key, &OcraChallenge::OneWay("418205"), &inputs)?;
//! assert_eq!(response.as_str().len(), 8);
//!
//! // The verifier accepts it within ±2 steps and says how far off the phone was.
//! let later = OcraInputs { time: Some(OcraTime::UnixSeconds(1_800_000_000 + 60)), ..inputs };
//! let offset = suite.verify_time_window(&key, &OcraChallenge::OneWay("418205"), &later, response.as_str(), 2, 2)?;
//! assert_eq!(offset, Some(-1));
//! # Ok::<(), latchkey_core::otp::OtpError>(())
//! ```

mod hotp;
mod ocra;
mod totp;

pub use hotp::Hotp;
pub use ocra::{
    ChallengeFormat, ChallengeKind, Ocra, OcraChallenge, OcraInputs, OcraPin, OcraSuite, OcraTime,
    TimeStep, TimeUnit,
};
pub use totp::{Totp, TotpMatch};

use crate::encoding::{HexError, decode_hex};
use crate::secret::SecretBytes;
use ring::{digest, hmac};
use subtle::ConstantTimeEq;

/// Why the OTP engine refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OtpError {
    /// The OCRA suite string does not follow RFC 6287 §6; the text says where.
    #[error("malformed OCRA suite: {0}")]
    MalformedSuite(String),
    /// A hash name other than SHA1, SHA256 or SHA512.
    #[error("unknown hash function {0:?} (expected SHA1, SHA256 or SHA512)")]
    UnknownHash(String),
    /// The suite asks for truncation `-0`, i.e. the full HMAC as the response.
    #[error(
        "truncation 0 (the full HMAC output) is refused: RFC 6287 leaves the encoding \
         of an untruncated response open, so two implementations could disagree"
    )]
    UntruncatedResponse,
    /// A number of digits outside what the algorithm allows.
    #[error("{digits} digits is out of range: {algorithm} responses have {min} to {max} digits")]
    DigitsOutOfRange {
        /// The algorithm ("OCRA", "HOTP" or "TOTP").
        algorithm: &'static str,
        /// What was asked for.
        digits: u32,
        /// The smallest allowed.
        min: u32,
        /// The largest allowed.
        max: u32,
    },
    /// A challenge shorter or longer than its suite allows.
    #[error("the challenge has {len} characters; this suite takes {min} to {max}")]
    ChallengeLength {
        /// The challenge's length in characters.
        len: usize,
        /// The shortest challenge the suite accepts.
        min: usize,
        /// The longest challenge the suite accepts.
        max: usize,
    },
    /// A challenge character outside the suite's alphabet (digits for `QN`,
    /// hex digits for `QH`, ASCII letters and digits for `QA`).
    #[error("the challenge has {found:?} at position {position}, which is not {expected}")]
    ChallengeCharacter {
        /// Zero-based character position.
        position: usize,
        /// The offending character.
        found: char,
        /// The alphabet expected, in words.
        expected: &'static str,
    },
    /// The suite needs an input the caller did not give.
    #[error("the suite needs a {0} but none was given")]
    MissingInput(InputKind),
    /// The caller gave an input the suite does not use.
    #[error("a {0} was given but the suite does not use one")]
    UnexpectedInput(InputKind),
    /// Session information longer than the suite's `Snnn`.
    #[error("the session information has {len} bytes; the suite allows at most {max}")]
    SessionTooLong {
        /// Bytes given.
        len: usize,
        /// The suite's `nnn`.
        max: usize,
    },
    /// A PIN hash whose length does not match the suite's PIN hash function.
    #[error("the PIN hash has {len} bytes; {algorithm} hashes have {expected}")]
    PinHashLength {
        /// Bytes given.
        len: usize,
        /// Bytes expected.
        expected: usize,
        /// The suite's PIN hash.
        algorithm: HashAlgorithm,
    },
    /// RFC 6287 §7.3: a plain signature has no session information input.
    #[error("a plain-signature computation cannot use a suite with session information (Snnn)")]
    SessionInSignature,
    /// A key given as hex was not valid hex.
    #[error("the key is not valid hex: {0}")]
    KeyHex(HexError),
    /// An empty key: HMAC would accept it, but no real token has one.
    #[error("the key is empty")]
    EmptyKey,
    /// A hex input other than the key (a PIN hash, session information) was not valid hex.
    #[error("the {what} is not valid hex: {error}")]
    InputHex {
        /// Which input.
        what: &'static str,
        /// What was wrong with it.
        error: HexError,
    },
    /// A TOTP period of zero seconds.
    #[error("the time step must be at least one second")]
    ZeroPeriod,
    /// A time before the TOTP epoch `T0`.
    #[error("the time {time} is before T0 ({t0})")]
    TimeBeforeEpoch {
        /// The time asked for, in Unix seconds.
        time: u64,
        /// The generator's T0, in Unix seconds.
        t0: u64,
    },
}

/// One of the optional OCRA inputs, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputKind {
    /// `C`: the counter.
    Counter,
    /// `P`: the PIN or its hash.
    Pin,
    /// `S`: session information.
    Session,
    /// `T`: the timestamp.
    Timestamp,
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputKind::Counter => "counter (C)",
            InputKind::Pin => "PIN (P)",
            InputKind::Session => "session information (S)",
            InputKind::Timestamp => "timestamp (T)",
        })
    }
}

/// The HMAC (and PIN) hash functions of RFC 4226, RFC 6238 and RFC 6287.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-1: legacy, still the RFCs' default and what most tokens use.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The name as OCRA suites write it (`SHA1`, `SHA256`, `SHA512`).
    pub fn suite_name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "SHA1",
            HashAlgorithm::Sha256 => "SHA256",
            HashAlgorithm::Sha512 => "SHA512",
        }
    }

    /// Parses the OCRA suite spelling, which is upper case only.
    pub fn from_suite_name(name: &str) -> Result<Self, OtpError> {
        match name {
            "SHA1" => Ok(HashAlgorithm::Sha1),
            "SHA256" => Ok(HashAlgorithm::Sha256),
            "SHA512" => Ok(HashAlgorithm::Sha512),
            other => Err(OtpError::UnknownHash(other.to_owned())),
        }
    }

    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha512 => 64,
        }
    }

    fn hmac_algorithm(self) -> hmac::Algorithm {
        match self {
            HashAlgorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            HashAlgorithm::Sha256 => hmac::HMAC_SHA256,
            HashAlgorithm::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn digest_algorithm(self) -> &'static digest::Algorithm {
        match self {
            HashAlgorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlgorithm::Sha256 => &digest::SHA256,
            HashAlgorithm::Sha512 => &digest::SHA512,
        }
    }

    /// The plain hash of `data` (used for OCRA's `P` input from a PIN).
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest_algorithm(), data)
            .as_ref()
            .to_vec()
    }

    /// HMAC of `message` under `key`.
    pub fn hmac(self, key: &OtpKey, message: &[u8]) -> Vec<u8> {
        // expose_secret: the key must key the HMAC.
        let key = hmac::Key::new(self.hmac_algorithm(), key.secret.expose_secret());
        hmac::sign(&key, message).as_ref().to_vec()
    }
}

impl std::fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.suite_name())
    }
}

impl std::str::FromStr for HashAlgorithm {
    type Err = OtpError;

    /// Accepts `sha1`, `sha256`, `sha512` in any case (for command lines).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_suite_name(&s.to_ascii_uppercase()).map_err(|_| OtpError::UnknownHash(s.into()))
    }
}

/// A shared OTP secret (the HMAC key).
#[derive(Clone, PartialEq, Eq)]
pub struct OtpKey {
    secret: SecretBytes,
}

impl OtpKey {
    /// Wraps secret bytes as a key; an empty key is refused.
    pub fn new(secret: SecretBytes) -> Result<Self, OtpError> {
        if secret.is_empty() {
            return Err(OtpError::EmptyKey);
        }
        Ok(Self { secret })
    }

    /// Parses a key written in hex (either case).
    pub fn from_hex(text: &str) -> Result<Self, OtpError> {
        let bytes = decode_hex(text).map_err(|e| match e {
            HexError::Empty => OtpError::EmptyKey,
            other => OtpError::KeyHex(other),
        })?;
        Self::new(SecretBytes::new(bytes))
    }
}

impl std::fmt::Debug for OtpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpKey([redacted])")
    }
}

/// The most digits any generator here produces (OCRA's 10).
const MAX_CODE_DIGITS: usize = 10;

/// A response or one-time password: exactly the generator's number of ASCII digits.
/// Held inline (no allocation), so a response costs its HMAC and little else.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OtpCode {
    /// ASCII digits in `digits[..len]`; zero bytes after.
    digits: [u8; MAX_CODE_DIGITS],
    len: u8,
}

impl OtpCode {
    /// The digits.
    pub fn as_str(&self) -> &str {
        self.digits
            .get(..usize::from(self.len))
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .unwrap_or_default()
    }

    /// Compares with a candidate typed by a user, in constant time for candidates
    /// of the right length. A candidate of another length never matches.
    pub fn matches(&self, candidate: &str) -> bool {
        let ours = self.as_str().as_bytes();
        let theirs = candidate.as_bytes();
        ours.len() == theirs.len() && bool::from(ours.ct_eq(theirs))
    }
}

impl std::fmt::Display for OtpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A one-time code is meant to be shown to its user; it is not a long-term
        // secret, but logs have no business keeping it either.
        f.write_str("OtpCode([redacted])")
    }
}

/// RFC 4226 §5.3 dynamic truncation of an HMAC value to `digits` decimal digits.
/// `digits` is at most 10, which the 31-bit value always fits.
#[inline]
fn truncate(mac: &[u8], digits: u32) -> OtpCode {
    // Every HMAC here has at least 20 bytes, so offset + 3 <= 15 + 3 < 20 and the
    // four bytes are always there (the zero fallback is never taken).
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let mut word = [0u8; 4];
    if let Some(bytes) = mac.get(offset..offset + 4) {
        word.copy_from_slice(bytes);
    }
    // 31 bits in a u32: the digit loop below divides 32-bit numbers.
    let value = u32::from_be_bytes(word) & 0x7fff_ffff;
    let len = (digits as usize).min(MAX_CODE_DIGITS);
    let all = ten_decimal_digits(value);
    let mut code = OtpCode {
        digits: [0; MAX_CODE_DIGITS],
        len: len as u8,
    };
    // The last `len` digits: the value modulo 10^len, zero-padded on the left.
    code.digits[..len].copy_from_slice(&all[MAX_CODE_DIGITS - len..]);
    code
}

/// The ten decimal digits of `value` (below 2^31), zero-padded on the left,
/// made as two independent chains of five divisions (upper and lower half), so
/// the digits cost half the latency of one chain of ten.
#[inline]
fn ten_decimal_digits(value: u32) -> [u8; MAX_CODE_DIGITS] {
    let (mut high, mut low) = (value / 100_000, value % 100_000);
    let mut out = [b'0'; MAX_CODE_DIGITS];
    for i in (0..5).rev() {
        out[i] = b'0' + (high % 10) as u8;
        high /= 10;
        out[i + 5] = b'0' + (low % 10) as u8;
        low /= 10;
    }
    out
}

/// Parses an unsigned decimal made of ASCII digits only, with no sign, no spaces
/// and no leading zero (except `0` itself). Returns `None` otherwise or on overflow.
pub(crate) fn parse_canonical_decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_chain_digits_are_the_decimal_digits_of_the_value() {
        let mut x: u32 = 0x2545_f491;
        let mut values = vec![0, 1, 9, 10, 99_999, 100_000, 123_456_789, 0x7fff_ffff];
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            values.push(x & 0x7fff_ffff);
        }
        for value in values {
            let expected = format!("{value:010}");
            assert_eq!(&ten_decimal_digits(value), expected.as_bytes(), "{value}");
        }
    }

    #[test]
    fn debug_of_key_is_redacted() {
        let key = OtpKey::from_hex("3132333435363738393031323334353637383930").unwrap();
        assert_eq!(format!("{key:?}"), "OtpKey([redacted])");
    }

    #[test]
    fn key_refusals_name_the_problem() {
        assert_eq!(OtpKey::from_hex(""), Err(OtpError::EmptyKey));
        assert_eq!(
            OtpKey::from_hex("123"),
            Err(OtpError::KeyHex(HexError::OddLength(3)))
        );
        assert_eq!(
            OtpKey::from_hex("12zz"),
            Err(OtpError::KeyHex(HexError::InvalidCharacter { position: 2 }))
        );
    }

    #[test]
    fn code_matches_only_the_same_digits() {
        let code = truncate(
            &[
                0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            8,
        );
        // 0x7fffffff = 2147483647, its last eight digits:
        assert_eq!(code.as_str(), "47483647");
        let code = truncate(
            &[
                0, 0, 0, 0x2a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            8,
        );
        assert_eq!(code.as_str(), "00000042");
        assert!(code.matches("00000042"));
        assert!(!code.matches("00000043"));
        assert!(!code.matches("0000042"));
        assert!(!code.matches("000000420"));
    }

    #[test]
    fn hash_names_parse_case_insensitively_on_the_command_line_only() {
        assert_eq!("sha256".parse::<HashAlgorithm>(), Ok(HashAlgorithm::Sha256));
        assert!(HashAlgorithm::from_suite_name("sha256").is_err());
        assert_eq!(
            "md5".parse::<HashAlgorithm>(),
            Err(OtpError::UnknownHash("md5".into()))
        );
    }

    #[test]
    fn canonical_decimals_refuse_signs_spaces_and_leading_zeros() {
        assert_eq!(parse_canonical_decimal("10"), Some(10));
        assert_eq!(parse_canonical_decimal("0"), Some(0));
        for bad in ["", "01", "+1", " 1", "1 ", "١", "99999999999"] {
            assert_eq!(parse_canonical_decimal(bad), None, "{bad:?}");
        }
    }
}
