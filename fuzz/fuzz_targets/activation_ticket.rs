//! The activation ticket as the phone receives it (a QR code, a pasted link, a file):
//! any text as the ticket, with the other inputs valid, through the phone's real
//! `activate`. The profile is a fixed server's, so nothing can verify and nothing
//! may be stored; nothing may panic.
#![no_main]

use latchkey_core::protocol::{ServerProfile, ServerPublicKey};
use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};

fuzz_target!(|data: &[u8]| {
    let Some(phone) = latchkey_fuzz::phone() else {
        return;
    };
    let Ok(pair) = Ed25519KeyPair::from_seed_unchecked(&[0x11; 32]) else {
        return;
    };
    let Ok(public) = ServerPublicKey::from_slice(pair.public_key().as_ref()) else {
        return;
    };
    let Ok(profile) = ServerProfile::new("https://latchkey.example", public) else {
        return;
    };
    let ticket = String::from_utf8_lossy(data);
    let outcome = phone.activate(
        &profile,
        &ticket,
        "1234567890123",
        "402917".to_owned(),
        "402917".to_owned(),
        "Fuzz phone",
        None,
    );
    assert!(outcome.is_err(), "a ticket nobody signed was accepted");
    assert!(phone.accounts().map(|a| a.is_empty()).unwrap_or(true));
});
