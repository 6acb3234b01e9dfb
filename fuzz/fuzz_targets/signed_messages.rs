//! Every signed message's field decoder. The fuzz bytes follow a real label and a
//! valid header and are signed for real with a fixed server key, so the decoders —
//! not the signature check — see them; the phone's secrets plaintexts too. Nothing
//! may panic.
#![no_main]

use latchkey_core::protocol::codec::Encoder;
use latchkey_core::protocol::envelope::{open_server, peek_device_unverified};
use latchkey_core::protocol::{
    ActivationReceipt, ActivationRequest, ActivationSecret, ActivationTicket, Approval, Denial,
    EnrollmentId, FetchRequest, LoginRequest, Notice, PinChange, PinChangeSecret, PinProof,
    RekeyRequest, RekeyTicket, Removal, ServerExpectation, ServerPublicKey, Signed, SyncAnswer,
    SyncRequest,
};
use latchkey_core::secret::SecretBytes;
use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};

const PURPOSES: [&str; 15] = [
    "activation-ticket",
    "activation-receipt",
    "login-request",
    "sync-answer",
    "notice",
    "rekey-ticket",
    "activation-request",
    "sync-request",
    "fetch-request",
    "approval",
    "denial",
    "pin-proof",
    "pin-change",
    "rekey-request",
    "removal",
];
const NOW: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&which, fields)) = data.split_first() else {
        return;
    };
    let Ok(pair) = Ed25519KeyPair::from_seed_unchecked(&[0x11; 32]) else {
        return;
    };
    let Ok(public) = ServerPublicKey::from_slice(pair.public_key().as_ref()) else {
        return;
    };
    let enrollment = EnrollmentId::from_bytes([0x22; 16]);
    let purpose = PURPOSES[usize::from(which) % PURPOSES.len()];
    let mut encoder = Encoder::new(purpose);
    encoder
        .bytes(public.fingerprint().as_bytes())
        .bytes(enrollment.as_bytes())
        .u64(7)
        .u64(NOW);
    if usize::from(which) % PURPOSES.len() < 6 {
        encoder.u64(NOW + 300);
    }
    let mut body = encoder.finish();
    body.extend_from_slice(fields);
    let signature = pair.sign(&body).as_ref().to_vec();
    let Ok(signed) = Signed::from_parts(body, signature) else {
        return;
    };
    let expect = ServerExpectation {
        server: public.fingerprint(),
        enrollment: Some(enrollment),
        epoch: Some(7),
        now: NOW,
        skew: 60,
    };
    let _ = match purpose {
        "activation-ticket" => open_server::<ActivationTicket>(&signed, &public, &expect).map(drop),
        "activation-receipt" => {
            open_server::<ActivationReceipt>(&signed, &public, &expect).map(drop)
        }
        "login-request" => open_server::<LoginRequest>(&signed, &public, &expect).map(drop),
        "sync-answer" => open_server::<SyncAnswer>(&signed, &public, &expect).map(drop),
        "notice" => open_server::<Notice>(&signed, &public, &expect).map(drop),
        "rekey-ticket" => open_server::<RekeyTicket>(&signed, &public, &expect).map(drop),
        "activation-request" => peek_device_unverified::<ActivationRequest>(&signed).map(drop),
        "sync-request" => peek_device_unverified::<SyncRequest>(&signed).map(drop),
        "fetch-request" => peek_device_unverified::<FetchRequest>(&signed).map(drop),
        "approval" => peek_device_unverified::<Approval>(&signed).map(drop),
        "denial" => peek_device_unverified::<Denial>(&signed).map(drop),
        "pin-proof" => peek_device_unverified::<PinProof>(&signed).map(drop),
        "pin-change" => peek_device_unverified::<PinChange>(&signed).map(drop),
        "rekey-request" => peek_device_unverified::<RekeyRequest>(&signed).map(drop),
        _ => peek_device_unverified::<Removal>(&signed).map(drop),
    };
    let plaintext = SecretBytes::new(fields.to_vec());
    let _ = ActivationSecret::from_plaintext(&plaintext);
    let _ = PinChangeSecret::from_plaintext(&plaintext);
});
