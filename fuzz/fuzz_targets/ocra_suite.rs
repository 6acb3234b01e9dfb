//! The OCRA suite parser and engine: any text as a suite, and for a suite that
//! parses, a computation with inputs drawn from the same bytes. Nothing may panic.
#![no_main]

use latchkey_core::otp::{OcraChallenge, OcraInputs, OcraPin, OcraSuite, OcraTime, OtpKey};
use latchkey_core::secret::SecretBytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (suite, rest) = data.split_at(split);
    let Ok(suite) = std::str::from_utf8(suite) else {
        return;
    };
    let Ok(suite) = suite.parse::<OcraSuite>() else {
        return;
    };
    let rest = rest.get(1..).unwrap_or_default();
    let challenge = String::from_utf8_lossy(rest.get(..rest.len().min(128)).unwrap_or_default());
    let number = rest.iter().fold(0u64, |n, &b| n.rotate_left(8) ^ u64::from(b));
    let inputs = OcraInputs {
        counter: suite.uses_counter().then_some(number),
        pin: suite.pin_hash().map(|_| OcraPin::Pin(rest)),
        session: suite
            .session_len()
            .map(|len| rest.get(..rest.len().min(len as usize)).unwrap_or_default()),
        time: suite.time_step().map(|_| OcraTime::UnixSeconds(number)),
    };
    let Ok(key) = OtpKey::new(SecretBytes::new(vec![0x31; 32])) else {
        return;
    };
    let _ = suite.check_challenge(&challenge);
    let _ = suite.response(&key, &OcraChallenge::OneWay(&challenge), &inputs);
    let _ = suite.response(&key, &OcraChallenge::Signature(&challenge), &inputs);
});
