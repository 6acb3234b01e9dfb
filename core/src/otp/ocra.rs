//! RFC 6287 OCRA: the OATH challenge-response algorithm.
//!
//! A suite such as `OCRA-1:HOTP-SHA256-8:QN06-T1M` is parsed once into an
//! [`OcraSuite`]; the suite then builds the RFC's DataInput and computes or
//! verifies responses in the three modes of RFC 6287 §7: one-way
//! challenge-response, mutual challenge-response (server and client
//! computations), and plain signature.
//!
//! Invariants:
//! - only the canonical spelling of a suite parses, so a parsed suite always
//!   prints back to exactly the string it came from (the string is hashed into
//!   every response, so two spellings of one suite would give two responses);
//! - the DataInput is `suite ‖ 0x00 ‖ C(8) ‖ Q(128) ‖ P(hash) ‖ S(nnn) ‖ T(8)`, each
//!   optional part present exactly when the suite names it; a numeric challenge is
//!   read as a decimal number and written in hex (so leading zeros carry no
//!   meaning), an odd final nibble is padded with `0`, and `Q` is zero-filled on the
//!   right to 128 bytes; `P` and `S` are zero-filled on the left, as in the RFC's
//!   reference code;
//! - an input the suite needs but was not given, or was given but the suite does
//!   not use, is an error — never silently ignored.

use super::{
    HashAlgorithm, InputKind, OtpCode, OtpError, OtpKey, parse_canonical_decimal, truncate,
};
use crate::encoding::hex_value;

/// The field width of `Q` in the DataInput, in bytes (RFC 6287 §5.1).
const QUESTION_FIELD_LEN: usize = 128;
/// The shortest and longest challenge lengths (`xx` in `QFxx`), RFC 6287 §6.3.
const CHALLENGE_LEN_RANGE: std::ops::RangeInclusive<u32> = 4..=64;
/// The longest session information (`nnn` in `Snnn`) this engine accepts.
const MAX_SESSION_LEN: u32 = 512;

/// The alphabet of an OCRA challenge (`QA`, `QN`, `QH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeKind {
    /// `QA`: ASCII letters and digits, hashed as their ASCII bytes.
    Alphanumeric,
    /// `QN`: ASCII decimal digits, hashed as the number they write.
    Numeric,
    /// `QH`: hex digits, hashed as the bytes they write.
    Hex,
}

impl ChallengeKind {
    fn letter(self) -> char {
        match self {
            ChallengeKind::Alphanumeric => 'A',
            ChallengeKind::Numeric => 'N',
            ChallengeKind::Hex => 'H',
        }
    }

    fn accepts(self, c: char) -> bool {
        match self {
            ChallengeKind::Alphanumeric => c.is_ascii_alphanumeric(),
            ChallengeKind::Numeric => c.is_ascii_digit(),
            ChallengeKind::Hex => c.is_ascii_hexdigit(),
        }
    }

    fn alphabet(self) -> &'static str {
        match self {
            ChallengeKind::Alphanumeric => "an ASCII letter or digit",
            ChallengeKind::Numeric => "an ASCII digit",
            ChallengeKind::Hex => "a hex digit",
        }
    }
}

/// The challenge part of a suite: its alphabet and its maximum length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChallengeFormat {
    kind: ChallengeKind,
    max_len: u32,
}

impl ChallengeFormat {
    /// The alphabet.
    pub fn kind(&self) -> ChallengeKind {
        self.kind
    }

    /// The longest challenge (per party, in mutual mode), 4 to 64.
    pub fn max_len(&self) -> u32 {
        self.max_len
    }
}

/// The unit of an OCRA time step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `S`: seconds (1–59).
    Seconds,
    /// `M`: minutes (1–59).
    Minutes,
    /// `H`: hours (1–48).
    Hours,
}

/// The `T` part of a suite: a time step such as `T1M` or `T30S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeStep {
    count: u32,
    unit: TimeUnit,
}

impl TimeStep {
    /// The step's length in seconds.
    pub fn seconds(&self) -> u64 {
        u64::from(self.count)
            * match self.unit {
                TimeUnit::Seconds => 1,
                TimeUnit::Minutes => 60,
                TimeUnit::Hours => 3600,
            }
    }

    /// How many units (the `1` of `T1M`).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The unit (the `M` of `T1M`).
    pub fn unit(&self) -> TimeUnit {
        self.unit
    }
}

/// A parsed RFC 6287 suite. Build it with [`str::parse`]; print it with `Display`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OcraSuite {
    hash: HashAlgorithm,
    digits: u32,
    counter: bool,
    challenge: ChallengeFormat,
    pin: Option<HashAlgorithm>,
    session: Option<u32>,
    time_step: Option<TimeStep>,
    /// The canonical text, rendered once at parse time: it starts every DataInput.
    text: String,
}

/// The PIN input of a suite with `P`.
#[derive(Clone, Copy)]
pub enum OcraPin<'a> {
    /// The PIN itself; the engine hashes it with the suite's PIN hash.
    Pin(&'a [u8]),
    /// The PIN's hash, exactly as long as the suite's PIN hash output.
    Hash(&'a [u8]),
}

impl std::fmt::Debug for OcraPin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OcraPin::Pin(_) => f.write_str("Pin([redacted])"),
            OcraPin::Hash(_) => f.write_str("Hash([redacted])"),
        }
    }
}

/// The time input of a suite with `T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcraTime {
    /// A Unix time in seconds; the engine divides it by the suite's step.
    UnixSeconds(u64),
    /// The number of steps since the Unix epoch, already computed.
    Steps(u64),
}

/// The challenge, and with it the mode of RFC 6287 §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcraChallenge<'a> {
    /// §7.1 one-way challenge-response: the verifier's challenge.
    OneWay(&'a str),
    /// §7.3 mutual challenge-response, the server's computation `R_S` over
    /// `Q_C ‖ Q_S`.
    MutualServer {
        /// The client's challenge.
        client: &'a str,
        /// The server's challenge.
        server: &'a str,
    },
    /// §7.3 mutual challenge-response, the client's computation `R_C` over
    /// `Q_S ‖ Q_C`.
    MutualClient {
        /// The server's challenge.
        server: &'a str,
        /// The client's challenge.
        client: &'a str,
    },
    /// §7.4 plain signature: the challenge is (a digest of) what is signed.
    Signature(&'a str),
}

/// The optional inputs of a computation; each must be given exactly when the
/// suite names it.
#[derive(Debug, Clone, Copy, Default)]
pub struct OcraInputs<'a> {
    /// `C`: the counter.
    pub counter: Option<u64>,
    /// `P`: the PIN or its hash.
    pub pin: Option<OcraPin<'a>>,
    /// `S`: session information, at most the suite's `nnn` bytes.
    pub session: Option<&'a [u8]>,
    /// `T`: the time.
    pub time: Option<OcraTime>,
}

impl OcraSuite {
    /// The HMAC hash function.
    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// Digits in a response (4–10).
    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// Whether the suite takes a counter (`C`).
    pub fn uses_counter(&self) -> bool {
        self.counter
    }

    /// The challenge format (`QFxx`).
    pub fn challenge(&self) -> ChallengeFormat {
        self.challenge
    }

    /// The PIN hash function, if the suite takes a PIN (`PSHAx`).
    pub fn pin_hash(&self) -> Option<HashAlgorithm> {
        self.pin
    }

    /// The session information length in bytes, if the suite takes one (`Snnn`).
    pub fn session_len(&self) -> Option<u32> {
        self.session
    }

    /// The time step, if the suite takes a timestamp (`TG`).
    pub fn time_step(&self) -> Option<TimeStep> {
        self.time_step
    }

    /// Checks a challenge against the suite's alphabet and length limits.
    pub fn check_challenge(&self, challenge: &str) -> Result<(), OtpError> {
        let len = challenge.chars().count();
        let (min, max) = (
            *CHALLENGE_LEN_RANGE.start() as usize,
            self.challenge.max_len as usize,
        );
        if !(min..=max).contains(&len) {
            return Err(OtpError::ChallengeLength { len, min, max });
        }
        let kind = self.challenge.kind;
        if let Some((position, found)) = challenge
            .chars()
            .enumerate()
            .find(|(_, c)| !kind.accepts(*c))
        {
            return Err(OtpError::ChallengeCharacter {
                position,
                found,
                expected: kind.alphabet(),
            });
        }
        Ok(())
    }

    /// The 128-byte `Q` field for a checked question text (one challenge, or two
    /// concatenated in mutual mode).
    fn question_field(&self, question: &str) -> [u8; QUESTION_FIELD_LEN] {
        let mut field = [0u8; QUESTION_FIELD_LEN];
        let bytes = match self.challenge.kind {
            ChallengeKind::Alphanumeric => question.as_bytes().to_vec(),
            ChallengeKind::Hex => {
                nibbles_to_bytes(question.bytes().filter_map(hex_value).collect())
            }
            ChallengeKind::Numeric => nibbles_to_bytes(decimal_to_hex_nibbles(question)),
        };
        // At most 2 × 64 characters, which never exceeds 128 bytes in any alphabet.
        for (slot, byte) in field.iter_mut().zip(bytes) {
            *slot = byte;
        }
        field
    }

    /// The exact DataInput (the HMAC message) of RFC 6287 §5.1 for a challenge and
    /// the optional inputs. Exposed so other implementations can be compared byte
    /// for byte.
    pub fn data_input(
        &self,
        challenge: &OcraChallenge<'_>,
        inputs: &OcraInputs<'_>,
    ) -> Result<Vec<u8>, OtpError> {
        let question = match *challenge {
            OcraChallenge::OneWay(q) | OcraChallenge::Signature(q) => {
                self.check_challenge(q)?;
                q.to_owned()
            }
            OcraChallenge::MutualServer { client, server } => {
                self.check_challenge(client)?;
                self.check_challenge(server)?;
                format!("{client}{server}")
            }
            OcraChallenge::MutualClient { server, client } => {
                self.check_challenge(server)?;
                self.check_challenge(client)?;
                format!("{server}{client}")
            }
        };
        if matches!(challenge, OcraChallenge::Signature(_)) && self.session.is_some() {
            return Err(OtpError::SessionInSignature);
        }

        let counter = require(self.counter, inputs.counter, InputKind::Counter)?;
        let pin = require(self.pin.is_some(), inputs.pin, InputKind::Pin)?;
        let session = require(self.session.is_some(), inputs.session, InputKind::Session)?;
        let time = require(self.time_step.is_some(), inputs.time, InputKind::Timestamp)?;

        let suite = self.text.as_bytes();
        let mut message = Vec::with_capacity(suite.len() + 1 + 8 + QUESTION_FIELD_LEN + 64 + 8);
        message.extend_from_slice(suite);
        message.push(0);
        if let Some(counter) = counter {
            message.extend_from_slice(&counter.to_be_bytes());
        }
        message.extend_from_slice(&self.question_field(&question));
        if let (Some(algorithm), Some(pin)) = (self.pin, pin) {
            let hash = match pin {
                OcraPin::Pin(pin) => algorithm.digest(pin),
                OcraPin::Hash(hash) if hash.len() == algorithm.output_len() => hash.to_vec(),
                OcraPin::Hash(hash) => {
                    return Err(OtpError::PinHashLength {
                        len: hash.len(),
                        expected: algorithm.output_len(),
                        algorithm,
                    });
                }
            };
            message.extend_from_slice(&hash);
        }
        if let (Some(max), Some(session)) = (self.session, session) {
            let max = max as usize;
            if session.len() > max {
                return Err(OtpError::SessionTooLong {
                    len: session.len(),
                    max,
                });
            }
            message.resize(message.len() + (max - session.len()), 0);
            message.extend_from_slice(session);
        }
        if let (Some(step), Some(time)) = (self.time_step, time) {
            let steps = match time {
                OcraTime::Steps(steps) => steps,
                OcraTime::UnixSeconds(seconds) => seconds / step.seconds(),
            };
            message.extend_from_slice(&steps.to_be_bytes());
        }
        Ok(message)
    }

    /// The response for a challenge.
    pub fn response(
        &self,
        key: &OtpKey,
        challenge: &OcraChallenge<'_>,
        inputs: &OcraInputs<'_>,
    ) -> Result<OtpCode, OtpError> {
        let message = self.data_input(challenge, inputs)?;
        Ok(truncate(&self.hash.hmac(key, &message), self.digits))
    }

    /// Whether `candidate` is the response for the challenge, compared in constant
    /// time. Malformed inputs are errors; a malformed candidate simply does not match.
    pub fn verify(
        &self,
        key: &OtpKey,
        challenge: &OcraChallenge<'_>,
        inputs: &OcraInputs<'_>,
        candidate: &str,
    ) -> Result<bool, OtpError> {
        Ok(self.response(key, challenge, inputs)?.matches(candidate))
    }

    /// Verifies a candidate for a timed suite over the steps from `behind` before to
    /// `ahead` after the step of `inputs.time`, nearest first, and returns the
    /// offset (in steps) that matched, so a verifier can learn the client's drift.
    pub fn verify_time_window(
        &self,
        key: &OtpKey,
        challenge: &OcraChallenge<'_>,
        inputs: &OcraInputs<'_>,
        candidate: &str,
        behind: u32,
        ahead: u32,
    ) -> Result<Option<i64>, OtpError> {
        let step = self
            .time_step
            .ok_or(OtpError::UnexpectedInput(InputKind::Timestamp))?;
        let center = match inputs
            .time
            .ok_or(OtpError::MissingInput(InputKind::Timestamp))?
        {
            OcraTime::Steps(steps) => steps,
            OcraTime::UnixSeconds(seconds) => seconds / step.seconds(),
        };
        for distance in 0..=u64::from(behind.max(ahead)) {
            let candidates = [
                (
                    center
                        .checked_add(distance)
                        .filter(|_| distance <= u64::from(ahead)),
                    distance as i64,
                ),
                (
                    center
                        .checked_sub(distance)
                        .filter(|_| distance > 0 && distance <= u64::from(behind)),
                    -(distance as i64),
                ),
            ];
            for (steps, offset) in candidates {
                let Some(steps) = steps else { continue };
                let at = OcraInputs {
                    time: Some(OcraTime::Steps(steps)),
                    ..*inputs
                };
                if self.verify(key, challenge, &at, candidate)? {
                    return Ok(Some(offset));
                }
            }
        }
        Ok(None)
    }
}

/// Returns the input when the suite needs it, refuses it when the suite does not.
fn require<T>(needed: bool, given: Option<T>, kind: InputKind) -> Result<Option<T>, OtpError> {
    match (needed, given) {
        (true, Some(value)) => Ok(Some(value)),
        (true, None) => Err(OtpError::MissingInput(kind)),
        (false, Some(_)) => Err(OtpError::UnexpectedInput(kind)),
        (false, None) => Ok(None),
    }
}

/// The hex digits of the decimal number written by `digits` (ASCII digits only),
/// most significant first, without leading zeros (`0` is one zero nibble), as
/// Java's `BigInteger.toString(16)` in the RFC's reference code.
fn decimal_to_hex_nibbles(digits: &str) -> Vec<u8> {
    // Little-endian base-16 accumulator: value = value * 10 + digit.
    let mut nibbles: Vec<u8> = Vec::new();
    for digit in digits.bytes().filter(u8::is_ascii_digit) {
        let mut carry = u32::from(digit - b'0');
        for nibble in nibbles.iter_mut() {
            let value = u32::from(*nibble) * 10 + carry;
            *nibble = (value & 0x0f) as u8;
            carry = value >> 4;
        }
        while carry > 0 {
            nibbles.push((carry & 0x0f) as u8);
            carry >>= 4;
        }
    }
    if nibbles.is_empty() {
        nibbles.push(0);
    }
    nibbles.reverse();
    nibbles
}

/// Packs nibbles (most significant first) into bytes, padding an odd last nibble
/// with a zero on the right (RFC 6287's reference code appends `"0"`).
fn nibbles_to_bytes(nibbles: Vec<u8>) -> Vec<u8> {
    nibbles
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair.get(1).copied().unwrap_or(0))
        .collect()
}

impl std::fmt::Display for OcraSuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl OcraSuite {
    /// Writes the canonical spelling from the parsed parts.
    fn render(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        write!(f, "OCRA-1:HOTP-{}-{}:", self.hash.suite_name(), self.digits)?;
        if self.counter {
            f.write_str("C-")?;
        }
        write!(
            f,
            "Q{}{:02}",
            self.challenge.kind.letter(),
            self.challenge.max_len
        )?;
        if let Some(pin) = self.pin {
            write!(f, "-P{}", pin.suite_name())?;
        }
        if let Some(session) = self.session {
            write!(f, "-S{session:03}")?;
        }
        if let Some(step) = self.time_step {
            let unit = match step.unit {
                TimeUnit::Seconds => 'S',
                TimeUnit::Minutes => 'M',
                TimeUnit::Hours => 'H',
            };
            write!(f, "-T{}{unit}", step.count)?;
        }
        Ok(())
    }
}

fn malformed(reason: impl Into<String>) -> OtpError {
    OtpError::MalformedSuite(reason.into())
}

impl std::str::FromStr for OcraSuite {
    type Err = OtpError;

    /// Parses the canonical spelling of an RFC 6287 §6 suite:
    /// `OCRA-1:HOTP-<SHA1|SHA256|SHA512>-<4..10>:[C-]Q<A|N|H><04..64>[-PSHA<1|256|512>][-S<001..512>][-T<n><S|M|H>]`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.split(':');
        let (Some(version), Some(function), Some(data), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed(
                "expected three parts separated by ':' (OCRA-1:HOTP-…:…)",
            ));
        };
        if version != "OCRA-1" {
            return Err(malformed(format!("version {version:?} is not OCRA-1")));
        }

        // CryptoFunction: HOTP-<hash>-<digits>
        let mut function_parts = function.split('-');
        let (Some("HOTP"), Some(hash), Some(digits), None) = (
            function_parts.next(),
            function_parts.next(),
            function_parts.next(),
            function_parts.next(),
        ) else {
            return Err(malformed(format!(
                "crypto function {function:?} is not HOTP-<hash>-<digits>"
            )));
        };
        let hash = HashAlgorithm::from_suite_name(hash)?;
        let digits = parse_canonical_decimal(digits)
            .ok_or_else(|| malformed(format!("truncation {digits:?} is not a number")))?;
        if digits == 0 {
            return Err(OtpError::UntruncatedResponse);
        }
        if !(4..=10).contains(&digits) {
            return Err(OtpError::DigitsOutOfRange {
                algorithm: "OCRA",
                digits,
                min: 4,
                max: 10,
            });
        }

        // DataInput: [C-]QFxx[-PH][-Snnn][-TG], in that order.
        let mut tokens = data.split('-').peekable();
        let counter = tokens.next_if_eq(&"C").is_some();
        let challenge = match tokens.next() {
            Some(token) => parse_challenge(token)?,
            None => return Err(malformed("the data input has no challenge (QFxx)")),
        };
        let mut pin = None;
        let mut session = None;
        let mut time_step = None;
        for token in tokens {
            // Each optional part may appear once, after the ones before it.
            if let Some(hash) = token.strip_prefix("PSHA") {
                if pin.is_some() || session.is_some() || time_step.is_some() {
                    return Err(malformed("P must come once, after Q and before S and T"));
                }
                pin = Some(HashAlgorithm::from_suite_name(&format!("SHA{hash}"))?);
            } else if let Some(length) = token.strip_prefix('S') {
                if session.is_some() || time_step.is_some() {
                    return Err(malformed("S must come once, after Q and P and before T"));
                }
                session = Some(parse_session(length)?);
            } else if let Some(step) = token.strip_prefix('T') {
                if time_step.is_some() {
                    return Err(malformed("T must come once, last"));
                }
                time_step = Some(parse_time_step(step)?);
            } else if token == "C" {
                return Err(malformed("C must come first in the data input"));
            } else if token.starts_with('P') {
                return Err(malformed(format!(
                    "PIN part {token:?} is not PSHA1, PSHA256 or PSHA512"
                )));
            } else {
                return Err(malformed(format!("unknown data input part {token:?}")));
            }
        }
        let mut suite = OcraSuite {
            hash,
            digits,
            counter,
            challenge,
            pin,
            session,
            time_step,
            text: String::new(),
        };
        let mut rendered = String::with_capacity(text.len());
        suite
            .render(&mut rendered)
            .map_err(|_| malformed("the suite could not be rendered"))?;
        // Only the canonical spelling parses (ADR 0001): anything else would hash
        // differently from the suite it looks like.
        if rendered != text {
            return Err(malformed(format!(
                "{text:?} is not in canonical form (expected {rendered:?})"
            )));
        }
        suite.text = rendered;
        Ok(suite)
    }
}

fn parse_challenge(token: &str) -> Result<ChallengeFormat, OtpError> {
    let mut chars = token.chars();
    if chars.next() != Some('Q') {
        return Err(malformed(format!(
            "expected the challenge part QFxx, found {token:?}"
        )));
    }
    let kind = match chars.next() {
        Some('A') => ChallengeKind::Alphanumeric,
        Some('N') => ChallengeKind::Numeric,
        Some('H') => ChallengeKind::Hex,
        _ => {
            return Err(malformed(format!(
                "challenge format in {token:?} is not A, N or H"
            )));
        }
    };
    let length = chars.as_str();
    let max_len = match length.parse::<u32>() {
        Ok(n) if length.len() == 2 && length.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => {
            return Err(malformed(format!(
                "challenge length in {token:?} is not two digits"
            )));
        }
    };
    if !CHALLENGE_LEN_RANGE.contains(&max_len) {
        return Err(malformed(format!(
            "challenge length {max_len} is outside 04–64"
        )));
    }
    Ok(ChallengeFormat { kind, max_len })
}

fn parse_session(length: &str) -> Result<u32, OtpError> {
    match length.parse::<u32>() {
        Ok(n)
            if length.len() == 3
                && length.bytes().all(|b| b.is_ascii_digit())
                && (1..=MAX_SESSION_LEN).contains(&n) =>
        {
            Ok(n)
        }
        _ => Err(malformed(format!(
            "session length S{length} is not three digits from 001 to {MAX_SESSION_LEN}"
        ))),
    }
}

fn parse_time_step(step: &str) -> Result<TimeStep, OtpError> {
    let Some(unit_char) = step.chars().last() else {
        return Err(malformed("time step T has no value"));
    };
    let (unit, max) = match unit_char {
        'S' => (TimeUnit::Seconds, 59),
        'M' => (TimeUnit::Minutes, 59),
        'H' => (TimeUnit::Hours, 48),
        _ => {
            return Err(malformed(format!(
                "time step T{step} does not end in S, M or H"
            )));
        }
    };
    let number = &step[..step.len() - 1];
    match parse_canonical_decimal(number) {
        Some(count) if (1..=max).contains(&count) => Ok(TimeStep { count, unit }),
        _ => Err(malformed(format!(
            "time step T{step} needs a number from 1 to {max} before {unit_char}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_suite_parses_into_its_parts() {
        let suite: OcraSuite = "OCRA-1:HOTP-SHA256-8:QN06-T1M".parse().unwrap();
        assert_eq!(suite.hash(), HashAlgorithm::Sha256);
        assert_eq!(suite.digits(), 8);
        assert!(!suite.uses_counter());
        assert_eq!(suite.challenge().kind(), ChallengeKind::Numeric);
        assert_eq!(suite.challenge().max_len(), 6);
        assert_eq!(suite.pin_hash(), None);
        assert_eq!(suite.session_len(), None);
        assert_eq!(suite.time_step().map(|t| t.seconds()), Some(60));
    }

    #[test]
    fn decimal_challenges_become_hex_without_leading_zeros() {
        assert_eq!(decimal_to_hex_nibbles("0"), vec![0]);
        assert_eq!(decimal_to_hex_nibbles("000000"), vec![0]);
        assert_eq!(decimal_to_hex_nibbles("255"), vec![0xf, 0xf]);
        assert_eq!(decimal_to_hex_nibbles("00256"), vec![1, 0, 0]);
        // 12345678 = 0xBC614E
        assert_eq!(
            decimal_to_hex_nibbles("12345678"),
            vec![0xb, 0xc, 6, 1, 4, 0xe]
        );
        assert_eq!(nibbles_to_bytes(vec![1, 0, 0]), vec![0x10, 0x00]);
    }
}
