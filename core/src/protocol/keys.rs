//! The key schedule and the small checked values every ceremony uses: the PIN
//! policy, `k_user`, challenges and responses, the device public key.
//!
//! `k_user = HMAC-SHA256(seed, "latchkey/v1/k_user" ‖ PBKDF2-HMAC-SHA256(PIN,
//! enrollment_id, 100 000, 32))`. The server keeps `k_user` (wrapped at rest) and
//! never learns the PIN; the phone keeps neither the PIN nor a PIN verifier.
//!
//! Invariants: a [`Challenge`] is always six ASCII digits from 100000 to 999999; a
//! PIN that passes [`check_new_pin`] is 6–12 ASCII digits and not on the blocklist;
//! `k_user` only exists inside [`SecretBytes`].

use super::ProtocolError;
use crate::otp::{OcraChallenge, OcraInputs, OcraSuite, OcraTime, OtpCode, OtpKey};
use crate::protocol::EnrollmentId;
use crate::secret::SecretBytes;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;

/// The OCRA suite of every Latchkey enrollment (DESIGN §4).
pub const LATCHKEY_SUITE: &str = "OCRA-1:HOTP-SHA256-8:QN06-T1M";
/// PBKDF2 iterations for the PIN stretch.
pub const PIN_PBKDF2_ITERATIONS: u32 = 100_000;
/// The domain label of `k_user`.
pub const K_USER_LABEL: &[u8] = b"latchkey/v1/k_user";
/// The shortest PIN.
pub const PIN_MIN_DIGITS: usize = 6;
/// The longest PIN.
pub const PIN_MAX_DIGITS: usize = 12;

/// PINs too common to allow (beyond the patterns [`check_new_pin`] refuses).
const COMMON_PINS: &[&str] = &[
    "112233",
    "121212",
    "123123",
    "123321",
    "131313",
    "147258",
    "159753",
    "102030",
    "112211",
    "123654",
    "147852",
    "159357",
    "200000",
    "520520",
    "654123",
    "666666",
    "696969",
    "789456",
    "753951",
    "852456",
    "987654321",
    "1234567890",
    "0987654321",
    "11223344",
    "12341234",
];

/// Checks a new PIN, typed twice, against the PIN policy: 6–12 ASCII digits, both
/// entries equal, not one digit repeated, not an ascending or descending run, not a
/// repeated pair or triple, not on the list of common PINs.
pub fn check_new_pin(pin: &str, confirmation: &str) -> Result<(), ProtocolError> {
    if !(PIN_MIN_DIGITS..=PIN_MAX_DIGITS).contains(&pin.len()) {
        return Err(ProtocolError::WeakPin("a PIN has 6 to 12 digits"));
    }
    if !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProtocolError::WeakPin("a PIN has digits only"));
    }
    let equal: bool = subtle::ConstantTimeEq::ct_eq(pin.as_bytes(), confirmation.as_bytes()).into();
    if !equal {
        return Err(ProtocolError::PinMismatch);
    }
    let digits: Vec<i16> = pin.bytes().map(|b| i16::from(b - b'0')).collect();
    let steps: Vec<i16> = digits
        .windows(2)
        .map(|w| (w[1] - w[0]).rem_euclid(10))
        .collect();
    if steps.iter().all(|&s| s == 0) {
        return Err(ProtocolError::WeakPin(
            "one digit repeated is too easy to guess",
        ));
    }
    if steps.iter().all(|&s| s == 1) || steps.iter().all(|&s| s == 9) {
        return Err(ProtocolError::WeakPin(
            "a run of digits is too easy to guess",
        ));
    }
    for period in [2, 3] {
        if digits.len() % period == 0
            && digits
                .iter()
                .enumerate()
                .all(|(i, d)| *d == digits[i % period])
        {
            return Err(ProtocolError::WeakPin(
                "a repeated pattern is too easy to guess",
            ));
        }
    }
    if COMMON_PINS.contains(&pin) {
        return Err(ProtocolError::WeakPin(
            "this PIN is among the most common ones",
        ));
    }
    Ok(())
}

/// The PIN stretch: PBKDF2-HMAC-SHA256(PIN, enrollment id, 100 000 iterations).
fn stretch_pin(pin: &str, enrollment: &EnrollmentId) -> SecretBytes {
    let mut out = vec![0u8; 32];
    let iterations = NonZeroU32::new(PIN_PBKDF2_ITERATIONS).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        enrollment.as_bytes(),
        pin.as_bytes(),
        &mut out,
    );
    SecretBytes::new(out)
}

/// `k_user` from the phone's seed, the PIN and the enrollment id.
pub fn derive_k_user(seed: &SecretBytes, pin: &str, enrollment: &EnrollmentId) -> SecretBytes {
    let stretched = stretch_pin(pin, enrollment);
    // expose_secret: the seed keys the HMAC; the stretch is its message.
    let key = hmac::Key::new(hmac::HMAC_SHA256, seed.expose_secret());
    let mut context = hmac::Context::with_key(&key);
    context.update(K_USER_LABEL);
    context.update(stretched.expose_secret());
    SecretBytes::from_slice(context.sign().as_ref())
}

/// A fresh 32-byte seed from the operating system's generator.
pub fn new_seed() -> Result<SecretBytes, ProtocolError> {
    let mut seed = vec![0u8; 32];
    SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| ProtocolError::Randomness)?;
    Ok(SecretBytes::new(seed))
}

/// A login challenge: six ASCII digits from 100000 to 999999 (no leading zero,
/// because OCRA's numeric encoding makes e.g. 000001 and 000016 collide).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Challenge(u32);

impl Challenge {
    /// A uniformly random challenge.
    pub fn random() -> Result<Self, ProtocolError> {
        const SPAN: u32 = 900_000;
        // Rejection sampling: the largest multiple of SPAN below 2^32.
        let limit = u32::MAX - (u32::MAX % SPAN);
        let rng = SystemRandom::new();
        loop {
            let mut bytes = [0u8; 4];
            rng.fill(&mut bytes)
                .map_err(|_| ProtocolError::Randomness)?;
            let value = u32::from_be_bytes(bytes);
            if value < limit {
                return Ok(Self(100_000 + value % SPAN));
            }
        }
    }

    /// The six digits as a number.
    pub fn value(&self) -> u32 {
        self.0
    }
}

impl std::str::FromStr for Challenge {
    type Err = ProtocolError;

    /// Exactly six ASCII digits, 100000–999999.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProtocolError::BadChallenge);
        }
        match text.parse::<u32>() {
            Ok(value) if (100_000..=999_999).contains(&value) => Ok(Self(value)),
            _ => Err(ProtocolError::BadChallenge),
        }
    }
}

impl std::fmt::Display for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Challenge({self})")
    }
}

fn ocra_key(k_user: &SecretBytes) -> Result<OtpKey, ProtocolError> {
    Ok(OtpKey::new(k_user.clone())?)
}

/// The OCRA response the phone computes for a challenge (the code the user typed
/// in push mode, or the challenge read off the login screen in typed mode) at
/// `unix_seconds` (the phone's clock corrected by its offset from server time).
pub fn compute_response(
    suite: &OcraSuite,
    k_user: &SecretBytes,
    challenge: &Challenge,
    unix_seconds: u64,
) -> Result<OtpCode, ProtocolError> {
    let inputs = OcraInputs {
        time: suite
            .time_step()
            .map(|_| OcraTime::UnixSeconds(unix_seconds)),
        ..Default::default()
    };
    let text = challenge.to_string();
    Ok(suite.response(&ocra_key(k_user)?, &OcraChallenge::OneWay(&text), &inputs)?)
}

/// The server's check of a response: the steps from `window` before to `window`
/// after its own step corrected by the enrollment's observed drift (in steps).
/// Returns the new drift (drift + the offset that matched), or `None`.
pub fn verify_response(
    suite: &OcraSuite,
    k_user: &SecretBytes,
    challenge: &Challenge,
    server_unix_seconds: u64,
    drift_steps: i64,
    window: u32,
    candidate: &str,
) -> Result<Option<i64>, ProtocolError> {
    let text = challenge.to_string();
    let q = OcraChallenge::OneWay(&text);
    let key = ocra_key(k_user)?;
    let Some(step) = suite.time_step() else {
        return Ok(suite
            .verify(&key, &q, &OcraInputs::default(), candidate)?
            .then_some(drift_steps));
    };
    let own = server_unix_seconds / step.seconds();
    let center = own.saturating_add_signed(drift_steps);
    let inputs = OcraInputs {
        time: Some(OcraTime::Steps(center)),
        ..Default::default()
    };
    Ok(suite
        .verify_time_window(&key, &q, &inputs, candidate, window, window)?
        .map(|offset| drift_steps.saturating_add(offset)))
}

/// A phone's device public key: ECDSA P-256, 65-byte uncompressed SEC1.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DevicePublicKey(Vec<u8>);

impl DevicePublicKey {
    /// Checks the form (65 bytes starting with 0x04); the curve check happens at
    /// the first verification.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
        if bytes.len() != 65 || bytes[0] != 0x04 {
            return Err(ProtocolError::BadKey("device public key"));
        }
        Ok(Self(bytes.to_vec()))
    }

    /// The 65 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// SHA-256 of the key: how receipts and notices name a phone.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, &self.0).as_ref());
        out
    }

    /// Checks an ASN.1 DER ECDSA P-256/SHA-256 signature by this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), ProtocolError> {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, &self.0)
            .verify(message, signature)
            .map_err(|_| ProtocolError::BadSignature)
    }
}

impl std::fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DevicePublicKey({})",
            crate::encoding::encode_hex(&self.fingerprint()[..8])
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_policy_refuses_weak_pins_with_a_reason() {
        for pin in [
            "12345",
            "1234567890123",
            "12345a",
            "000000",
            "123456",
            "987654",
            "890123",
            "121212",
            "123123",
            "159753",
            "666666",
        ] {
            assert!(
                matches!(check_new_pin(pin, pin), Err(ProtocolError::WeakPin(_))),
                "{pin}"
            );
        }
        assert_eq!(
            check_new_pin("402917", "402918"),
            Err(ProtocolError::PinMismatch)
        );
        assert_eq!(check_new_pin("402917", "402917"), Ok(()));
        assert_eq!(check_new_pin("40291785", "40291785"), Ok(()));
    }

    #[test]
    fn challenges_are_six_digits_without_a_leading_zero() {
        for _ in 0..1000 {
            let c = Challenge::random().unwrap();
            assert!((100_000..=999_999).contains(&c.value()));
            assert_eq!(c.to_string().parse::<Challenge>().unwrap(), c);
        }
        for bad in [
            "099999",
            "1000000",
            "12345",
            "12345a",
            "١٢٣٤٥٦",
            "+12345",
            " 123456",
        ] {
            assert_eq!(
                bad.parse::<Challenge>(),
                Err(ProtocolError::BadChallenge),
                "{bad}"
            );
        }
    }

    #[test]
    fn k_user_depends_on_seed_pin_and_enrollment() {
        let seed = SecretBytes::from_slice(&[1u8; 32]);
        let e1 = EnrollmentId::from_bytes([2u8; 16]);
        let e2 = EnrollmentId::from_bytes([3u8; 16]);
        let base = derive_k_user(&seed, "402917", &e1);
        assert_eq!(base.len(), 32);
        assert_eq!(derive_k_user(&seed, "402917", &e1), base);
        assert_ne!(derive_k_user(&seed, "402918", &e1), base);
        assert_ne!(derive_k_user(&seed, "402917", &e2), base);
        assert_ne!(
            derive_k_user(&SecretBytes::from_slice(&[9u8; 32]), "402917", &e1),
            base
        );
    }

    #[test]
    fn the_server_accepts_two_steps_of_drift_and_learns_it() {
        let suite: OcraSuite = LATCHKEY_SUITE.parse().unwrap();
        let k_user = SecretBytes::from_slice(&[5u8; 32]);
        let challenge: Challenge = "418205".parse().unwrap();
        let phone_time = 1_800_000_000;
        let response = compute_response(&suite, &k_user, &challenge, phone_time).unwrap();
        // The server's clock is two minutes ahead: accepted, drift -2 learnt.
        let drift = verify_response(
            &suite,
            &k_user,
            &challenge,
            phone_time + 120,
            0,
            2,
            response.as_str(),
        )
        .unwrap();
        assert_eq!(drift, Some(-2));
        // Three minutes is outside the window, unless the drift was already known.
        assert_eq!(
            verify_response(
                &suite,
                &k_user,
                &challenge,
                phone_time + 180,
                0,
                2,
                response.as_str()
            )
            .unwrap(),
            None
        );
        assert_eq!(
            verify_response(
                &suite,
                &k_user,
                &challenge,
                phone_time + 180,
                -2,
                2,
                response.as_str()
            )
            .unwrap(),
            Some(-3)
        );
        // Another challenge's response does not verify.
        let other: Challenge = "418206".parse().unwrap();
        assert_eq!(
            verify_response(&suite, &k_user, &other, phone_time, 0, 2, response.as_str()).unwrap(),
            None
        );
    }

    #[test]
    fn device_keys_must_be_uncompressed_p256_points() {
        assert!(DevicePublicKey::from_slice(&[4u8; 65]).is_ok());
        assert!(DevicePublicKey::from_slice(&[2u8; 33]).is_err());
        assert!(DevicePublicKey::from_slice(&[3u8; 65]).is_err());
    }
}
