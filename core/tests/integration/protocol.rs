//! The protocol: round trips of every message, every check of the verifiers (each
//! test fails if its check is removed), the shared vectors in
//! `tests/vectors/protocol-v1.json`, and property tests that no bytes panic a parser.
//!
//! Set `LATCHKEY_WRITE_VECTORS=1` to rewrite the vector file (after a deliberate
//! protocol change); otherwise the test checks the file byte for byte.

use latchkey_core::encoding::{decode_hex, encode_hex};
use latchkey_core::otp::OcraSuite;
use latchkey_core::protocol::envelope::{
    open_device, open_server, peek_device_unverified, sign_device, sign_server,
};
use latchkey_core::protocol::keys::{compute_response, derive_k_user, verify_response};
use latchkey_core::protocol::secrets::{
    hpke_info, open_secret, seal_secret_with_ephemeral, ticket_key_from_ikm,
};
use latchkey_core::protocol::*;
use latchkey_core::secret::SecretBytes;
use proptest::prelude::*;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000;
const EPOCH: u64 = 3;
const SERVER_SEED: [u8; 32] = [0x11; 32];

struct Device(EcdsaKeyPair);

impl Signer for Device {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        Ok(self
            .0
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec())
    }
}

impl Device {
    fn new() -> (Self, Vec<u8>) {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .unwrap();
        (Self::from_pkcs8(pkcs8.as_ref()), pkcs8.as_ref().to_vec())
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Self {
        Self(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &SystemRandom::new())
                .unwrap(),
        )
    }

    fn public(&self) -> DevicePublicKey {
        DevicePublicKey::from_slice(self.0.public_key().as_ref()).unwrap()
    }
}

fn server() -> (Ed25519KeyPair, ServerPublicKey) {
    let pair = Ed25519KeyPair::from_seed_unchecked(&SERVER_SEED).unwrap();
    let public = ServerPublicKey::from_slice(pair.public_key().as_ref()).unwrap();
    (pair, public)
}

fn enrollment() -> EnrollmentId {
    EnrollmentId::from_bytes([0x22; 16])
}

fn server_header(public: &ServerPublicKey, lifetime: u64) -> ServerHeader {
    ServerHeader {
        server: public.fingerprint(),
        enrollment: enrollment(),
        epoch: EPOCH,
        issued_at: NOW,
        expires_at: NOW + lifetime,
    }
}

fn device_header(public: &ServerPublicKey) -> DeviceHeader {
    DeviceHeader {
        server: public.fingerprint(),
        enrollment: enrollment(),
        epoch: EPOCH,
        issued_at: NOW,
    }
}

fn phone_expects(public: &ServerPublicKey, now: u64) -> ServerExpectation {
    ServerExpectation {
        server: public.fingerprint(),
        enrollment: Some(enrollment()),
        epoch: Some(EPOCH),
        now,
        skew: 60,
    }
}

fn server_expects(public: &ServerPublicKey, now: u64) -> DeviceExpectation {
    DeviceExpectation {
        server: public.fingerprint(),
        enrollment: enrollment(),
        epoch: EPOCH,
        now,
        max_skew: 600,
    }
}

fn limits() -> EnrollmentLimits {
    EnrollmentLimits {
        reset_at: 5,
        disable_at: 10,
        session_seconds: 300,
        push_seconds: 120,
        drift_window: 2,
    }
}

fn seed() -> SecretBytes {
    SecretBytes::from_slice(&[0x33; 32])
}

const PIN: &str = "402917";

fn k_user() -> SecretBytes {
    derive_k_user(&seed(), PIN, &enrollment())
}

fn suite() -> OcraSuite {
    LATCHKEY_SUITE.parse().unwrap()
}

fn notice() -> Notice {
    Notice {
        kind: NoticeKind::Revoked,
        text: "This phone was replaced by Anna's new phone.".into(),
        new_phone: Some("Anna's Pixel 9".into()),
        effective_at: Some(NOW),
        replacement: Some(ReplacementId::from_bytes([0x44; 16])),
    }
}

/// Every server-signed message, fixed.
fn server_messages(
    pair: &Ed25519KeyPair,
    public: &ServerPublicKey,
) -> Vec<(&'static str, Signed, u64)> {
    let (_, ticket_key) = ticket_key_from_ikm(&[0x55; 32]);
    let h = |lifetime| server_header(public, lifetime);
    let signed_notice = sign_server(&h(30 * 86_400), &notice(), pair).unwrap();
    let receipt = ActivationReceipt {
        account: "anna".into(),
        ocra_suite: LATCHKEY_SUITE.into(),
        matching_mode: MatchingMode::Code,
        device_key: [0x77; 32],
        limits: limits(),
    };
    let signed_receipt = sign_server(&h(600), &receipt, pair).unwrap();
    vec![
        (
            ActivationTicket::PURPOSE,
            sign_server(
                &h(600),
                &ActivationTicket {
                    ticket: TicketId::from_bytes([0x66; 16]),
                    account: "anna".into(),
                    ticket_key,
                    hpke_suite: 1,
                    ocra_suite: LATCHKEY_SUITE.into(),
                    matching_modes: vec![MatchingMode::Code, MatchingMode::Tap],
                    replacing: false,
                },
                pair,
            )
            .unwrap(),
            600,
        ),
        (ActivationReceipt::PURPOSE, signed_receipt.clone(), 600),
        (
            LoginRequest::PURPOSE,
            sign_server(
                &h(120),
                &LoginRequest {
                    request: RequestId::from_bytes([0x88; 16]),
                    app: "Client Portal".into(),
                    client: "Firefox on Linux".into(),
                    origin: "203.0.113.7 (Hong Kong)".into(),
                    requested_at: NOW,
                    matching_mode: MatchingMode::Code,
                    challenge: None,
                },
                pair,
            )
            .unwrap(),
            120,
        ),
        (
            SyncAnswer::PURPOSE,
            sign_server(
                &h(300),
                &SyncAnswer {
                    nonce: [0x99; 16],
                    state: EnrollmentState::Active,
                    failures: 2,
                    retry_after: None,
                    push_registered: true,
                    pending: vec![RequestId::from_bytes([0x88; 16])],
                    proof: Some(ProofChallenge {
                        proof: ProofId::from_bytes([0xaa; 16]),
                        challenge: "731904".parse().unwrap(),
                        expires_at: NOW + 300,
                    }),
                    notices: vec![signed_notice.clone()],
                    receipt: Some(signed_receipt),
                },
                pair,
            )
            .unwrap(),
            300,
        ),
        (Notice::PURPOSE, signed_notice, 30 * 86_400),
        (
            RekeyTicket::PURPOSE,
            sign_server(
                &h(600),
                &RekeyTicket {
                    ticket: TicketId::from_bytes([0xbb; 16]),
                    ticket_key,
                    hpke_suite: 1,
                },
                pair,
            )
            .unwrap(),
            600,
        ),
    ]
}

fn activation_secret() -> ActivationSecret {
    ActivationSecret {
        code: SecretBytes::from_slice(b"4096123387705"),
        k_user: k_user(),
        push_token: Some("fcm:token-123".into()),
        platform: Platform::Android,
        app_version: "1.0.0".into(),
        keystore: KeystoreKind::StrongBox,
        device_name: "Anna's Pixel 9".into(),
    }
}

/// The fixed sealed secrets: (name, info, plaintext, sealed).
fn sealed_secrets() -> Vec<(&'static str, Vec<u8>, SecretBytes, SealedSecret)> {
    let (_, ticket_key) = ticket_key_from_ikm(&[0x55; 32]);
    let activation_info = hpke_info(
        ActivationSecret::PURPOSE,
        &TicketId::from_bytes([0x66; 16]),
        &enrollment(),
    );
    let activation_plain = activation_secret().to_plaintext();
    let rekey_info = hpke_info(
        PinChangeSecret::PURPOSE,
        &TicketId::from_bytes([0xbb; 16]),
        &enrollment(),
    );
    let new_k_user = derive_k_user(&seed(), "583014", &enrollment());
    let rekey_plain = PinChangeSecret { k_user: new_k_user }.to_plaintext();
    vec![
        (
            ActivationSecret::PURPOSE,
            activation_info.clone(),
            activation_plain.clone(),
            seal_secret_with_ephemeral(
                &ticket_key,
                &activation_info,
                &activation_plain,
                [0xcc; 32],
            )
            .unwrap(),
        ),
        (
            PinChangeSecret::PURPOSE,
            rekey_info.clone(),
            rekey_plain.clone(),
            seal_secret_with_ephemeral(&ticket_key, &rekey_info, &rekey_plain, [0xdd; 32]).unwrap(),
        ),
    ]
}

/// Every phone-signed message, with fixed bodies (signatures are randomised).
fn device_messages(device: &Device, public: &ServerPublicKey) -> Vec<(&'static str, Signed)> {
    let h = device_header(public);
    let sealed = sealed_secrets();
    let typed: Challenge = "418205".parse().unwrap();
    let response = compute_response(&suite(), &k_user(), &typed, NOW)
        .unwrap()
        .to_string();
    let proof_challenge: Challenge = "731904".parse().unwrap();
    let proof_response = compute_response(&suite(), &k_user(), &proof_challenge, NOW)
        .unwrap()
        .to_string();
    vec![
        (
            ActivationRequest::PURPOSE,
            sign_device(
                &h,
                &ActivationRequest {
                    ticket: TicketId::from_bytes([0x66; 16]),
                    device_key: device.public(),
                    enc: sealed[0].3.enc,
                    ciphertext: sealed[0].3.ciphertext.clone(),
                },
                device,
            )
            .unwrap(),
        ),
        (
            SyncRequest::PURPOSE,
            sign_device(
                &h,
                &SyncRequest {
                    nonce: [0x99; 16],
                    push_token: Some("fcm:token-123".into()),
                    platform: Platform::Android,
                    app_version: "1.0.0".into(),
                    notifications_enabled: true,
                },
                device,
            )
            .unwrap(),
        ),
        (
            FetchRequest::PURPOSE,
            sign_device(
                &h,
                &FetchRequest {
                    request: RequestId::from_bytes([0x88; 16]),
                },
                device,
            )
            .unwrap(),
        ),
        (
            Approval::PURPOSE,
            sign_device(
                &h,
                &Approval {
                    request: RequestId::from_bytes([0x88; 16]),
                    typed_code: typed,
                    response,
                },
                device,
            )
            .unwrap(),
        ),
        (
            Denial::PURPOSE,
            sign_device(
                &h,
                &Denial {
                    request: RequestId::from_bytes([0x88; 16]),
                    reason: DenialReason::NotMe,
                },
                device,
            )
            .unwrap(),
        ),
        (
            PinProof::PURPOSE,
            sign_device(
                &h,
                &PinProof {
                    proof: ProofId::from_bytes([0xaa; 16]),
                    action: ProofAction::ApproveReplacement,
                    target: vec![0x44; 16],
                    response: proof_response.clone(),
                },
                device,
            )
            .unwrap(),
        ),
        (
            PinChange::PURPOSE,
            sign_device(
                &h,
                &PinChange {
                    proof: ProofId::from_bytes([0xaa; 16]),
                    response: proof_response,
                    ticket: TicketId::from_bytes([0xbb; 16]),
                    enc: sealed[1].3.enc,
                    ciphertext: sealed[1].3.ciphertext.clone(),
                },
                device,
            )
            .unwrap(),
        ),
        (
            Removal::PURPOSE,
            sign_device(
                &h,
                &Removal {
                    reason: "new phone".into(),
                },
                device,
            )
            .unwrap(),
        ),
    ]
}

fn verdict<T>(result: Result<T, ProtocolError>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => {
            let debug = format!("{e:?}");
            debug.split(['(', ' ', '{']).next().unwrap_or("").to_owned()
        }
    }
}

/// Opens a server-signed envelope as the type its purpose names.
fn open_server_any(
    signed: &Signed,
    key: &ServerPublicKey,
    expect: &ServerExpectation,
) -> Result<(), ProtocolError> {
    match signed.claimed_purpose()? {
        "activation-ticket" => open_server::<ActivationTicket>(signed, key, expect).map(drop),
        "activation-receipt" => open_server::<ActivationReceipt>(signed, key, expect).map(drop),
        "login-request" => open_server::<LoginRequest>(signed, key, expect).map(drop),
        "sync-answer" => open_server::<SyncAnswer>(signed, key, expect).map(drop),
        "notice" => open_server::<Notice>(signed, key, expect).map(drop),
        "rekey-ticket" => open_server::<RekeyTicket>(signed, key, expect).map(drop),
        _ => Err(ProtocolError::BadField("purpose")),
    }
}

fn open_device_any(
    signed: &Signed,
    key: &DevicePublicKey,
    expect: &DeviceExpectation,
) -> Result<(), ProtocolError> {
    match signed.claimed_purpose()? {
        "activation-request" => open_device::<ActivationRequest>(signed, key, expect).map(drop),
        "sync-request" => open_device::<SyncRequest>(signed, key, expect).map(drop),
        "fetch-request" => open_device::<FetchRequest>(signed, key, expect).map(drop),
        "approval" => open_device::<Approval>(signed, key, expect).map(drop),
        "denial" => open_device::<Denial>(signed, key, expect).map(drop),
        "pin-proof" => open_device::<PinProof>(signed, key, expect).map(drop),
        "pin-change" => open_device::<PinChange>(signed, key, expect).map(drop),
        "rekey-request" => open_device::<RekeyRequest>(signed, key, expect).map(drop),
        "removal" => open_device::<Removal>(signed, key, expect).map(drop),
        _ => Err(ProtocolError::BadField("purpose")),
    }
}

#[test]
fn every_server_message_round_trips_through_json_and_verifies() {
    let (pair, public) = server();
    for (purpose, signed, lifetime) in server_messages(&pair, &public) {
        let wire = Signed::from_json(&signed.to_json()).unwrap();
        assert_eq!(wire, signed, "{purpose}");
        assert_eq!(
            open_server_any(&wire, &public, &phone_expects(&public, NOW)),
            Ok(()),
            "{purpose}"
        );
        assert_eq!(
            open_server_any(&wire, &public, &phone_expects(&public, NOW + lifetime - 1)),
            Ok(()),
            "{purpose}: valid until one second before expiry"
        );
        assert!(
            matches!(
                open_server_any(&wire, &public, &phone_expects(&public, NOW + lifetime)),
                Err(ProtocolError::Expired { .. })
            ),
            "{purpose}: expired at its expiry"
        );
    }
    // The decoded fields equal what was signed.
    let (_, signed, _) = server_messages(&pair, &public).remove(3);
    let answer = open_server::<SyncAnswer>(&signed, &public, &phone_expects(&public, NOW)).unwrap();
    assert_eq!(answer.header().issued_at, NOW);
    assert_eq!(answer.message().failures, 2);
    assert_eq!(
        answer.message().proof.unwrap().challenge.to_string(),
        "731904"
    );
    let nested = &answer.message().notices[0];
    let notice_v = open_server::<Notice>(nested, &public, &phone_expects(&public, NOW)).unwrap();
    assert_eq!(notice_v.message(), &notice());
}

#[test]
fn every_device_message_round_trips_and_verifies() {
    let (_, public) = server();
    let (device, _) = Device::new();
    for (purpose, signed) in device_messages(&device, &public) {
        let wire = Signed::from_json(&signed.to_json()).unwrap();
        assert_eq!(
            open_device_any(&wire, &device.public(), &server_expects(&public, NOW)),
            Ok(()),
            "{purpose}"
        );
    }
    let signed = sign_device(
        &device_header(&public),
        &Approval {
            request: RequestId::from_bytes([1; 16]),
            typed_code: "418205".parse().unwrap(),
            response: "01234567".into(),
        },
        &device,
    )
    .unwrap();
    let approval =
        open_device::<Approval>(&signed, &device.public(), &server_expects(&public, NOW)).unwrap();
    assert_eq!(approval.message().response, "01234567");
    assert_eq!(approval.header().epoch, EPOCH);
}

#[test]
fn the_phone_refuses_a_server_message_failing_any_check() {
    let (pair, public) = server();
    let good = sign_server(&server_header(&public, 120), &notice(), &pair).unwrap();
    let expect = phone_expects(&public, NOW);
    assert!(open_server::<Notice>(&good, &public, &expect).is_ok());

    // Purpose: a notice is not a login request.
    assert!(matches!(
        open_server::<LoginRequest>(&good, &public, &expect),
        Err(ProtocolError::WrongPurpose { .. })
    ));
    // Signature: one flipped body byte, or another key.
    let mut body = good.body().to_vec();
    let last = body.len() - 1;
    body[last] ^= 1;
    let tampered = Signed::from_parts(body, good.signature().to_vec()).unwrap();
    assert_eq!(
        open_server::<Notice>(&tampered, &public, &expect).unwrap_err(),
        ProtocolError::BadSignature
    );
    let impostor = Ed25519KeyPair::from_seed_unchecked(&[0x12; 32]).unwrap();
    let forged = sign_server(&server_header(&public, 120), &notice(), &impostor).unwrap();
    assert_eq!(
        open_server::<Notice>(&forged, &public, &expect).unwrap_err(),
        ProtocolError::BadSignature
    );
    // Server: signed by the right key but naming another server.
    let mut header = server_header(&public, 120);
    header.server = ServerFingerprint::from_bytes([0; 32]);
    let other_server = sign_server(&header, &notice(), &pair).unwrap();
    assert_eq!(
        open_server::<Notice>(&other_server, &public, &expect).unwrap_err(),
        ProtocolError::WrongServer
    );
    // Enrollment.
    let mut header = server_header(&public, 120);
    header.enrollment = EnrollmentId::from_bytes([9; 16]);
    let other = sign_server(&header, &notice(), &pair).unwrap();
    assert_eq!(
        open_server::<Notice>(&other, &public, &expect).unwrap_err(),
        ProtocolError::WrongEnrollment
    );
    // Epoch: a message for the previous phone of the account.
    let mut header = server_header(&public, 120);
    header.epoch = EPOCH - 1;
    let old = sign_server(&header, &notice(), &pair).unwrap();
    assert_eq!(
        open_server::<Notice>(&old, &public, &expect).unwrap_err(),
        ProtocolError::WrongEpoch {
            expected: EPOCH,
            found: EPOCH - 1
        }
    );
    // Not yet valid: issued more than the skew in the future.
    let early = phone_expects(&public, NOW - 61);
    assert!(matches!(
        open_server::<Notice>(&good, &public, &early),
        Err(ProtocolError::NotYetValid { .. })
    ));
    assert!(open_server::<Notice>(&good, &public, &phone_expects(&public, NOW - 60)).is_ok());
    // Expired: valid until one second before expiry.
    assert!(open_server::<Notice>(&good, &public, &phone_expects(&public, NOW + 119)).is_ok());
    assert!(matches!(
        open_server::<Notice>(&good, &public, &phone_expects(&public, NOW + 120)),
        Err(ProtocolError::Expired { .. })
    ));
    // Trailing bytes, even correctly signed.
    let mut body = good.body().to_vec();
    body.extend_from_slice(&[0, 0, 0, 0]);
    let signature = ring::signature::Ed25519KeyPair::sign(&pair, &body)
        .as_ref()
        .to_vec();
    let trailing = Signed::from_parts(body, signature).unwrap();
    assert_eq!(
        open_server::<Notice>(&trailing, &public, &expect).unwrap_err(),
        ProtocolError::TrailingBytes
    );
    // Truncated, even correctly signed.
    let body = good.body()[..good.body().len() - 3].to_vec();
    let signature = ring::signature::Ed25519KeyPair::sign(&pair, &body)
        .as_ref()
        .to_vec();
    let truncated = Signed::from_parts(body, signature).unwrap();
    assert_eq!(
        open_server::<Notice>(&truncated, &public, &expect).unwrap_err(),
        ProtocolError::Truncated
    );
}

#[test]
fn the_server_refuses_a_phone_message_failing_any_check() {
    let (_, public) = server();
    let (device, _) = Device::new();
    let (other_device, _) = Device::new();
    let msg = FetchRequest {
        request: RequestId::from_bytes([1; 16]),
    };
    let good = sign_device(&device_header(&public), &msg, &device).unwrap();
    let expect = server_expects(&public, NOW);
    assert!(open_device::<FetchRequest>(&good, &device.public(), &expect).is_ok());

    assert!(matches!(
        open_device::<Denial>(&good, &device.public(), &expect),
        Err(ProtocolError::WrongPurpose { .. })
    ));
    assert_eq!(
        open_device::<FetchRequest>(&good, &other_device.public(), &expect).unwrap_err(),
        ProtocolError::BadSignature,
        "a replaced phone's key does not verify for the new enrollment"
    );
    let mut header = device_header(&public);
    header.server = ServerFingerprint::from_bytes([0; 32]);
    let s = sign_device(&header, &msg, &device).unwrap();
    assert_eq!(
        open_device::<FetchRequest>(&s, &device.public(), &expect).unwrap_err(),
        ProtocolError::WrongServer
    );
    let mut header = device_header(&public);
    header.enrollment = EnrollmentId::from_bytes([9; 16]);
    let s = sign_device(&header, &msg, &device).unwrap();
    assert_eq!(
        open_device::<FetchRequest>(&s, &device.public(), &expect).unwrap_err(),
        ProtocolError::WrongEnrollment
    );
    let mut header = device_header(&public);
    header.epoch = EPOCH + 1;
    let s = sign_device(&header, &msg, &device).unwrap();
    assert!(matches!(
        open_device::<FetchRequest>(&s, &device.public(), &expect),
        Err(ProtocolError::WrongEpoch { .. })
    ));
    // Freshness: 600 s either way.
    assert!(
        open_device::<FetchRequest>(&good, &device.public(), &server_expects(&public, NOW + 600))
            .is_ok()
    );
    assert!(matches!(
        open_device::<FetchRequest>(&good, &device.public(), &server_expects(&public, NOW + 601)),
        Err(ProtocolError::Expired { .. })
    ));
    assert!(
        open_device::<FetchRequest>(&good, &device.public(), &server_expects(&public, NOW - 600))
            .is_ok()
    );
    assert!(matches!(
        open_device::<FetchRequest>(&good, &device.public(), &server_expects(&public, NOW - 601)),
        Err(ProtocolError::NotYetValid { .. })
    ));
}

#[test]
fn an_activation_request_is_verified_with_the_key_it_carries() {
    let (_, public) = server();
    let (device, _) = Device::new();
    let (impostor, _) = Device::new();
    let signed = device_messages(&device, &public).remove(0).1;
    let (header, request) = peek_device_unverified::<ActivationRequest>(&signed).unwrap();
    assert_eq!(header.enrollment, enrollment());
    assert!(
        open_device::<ActivationRequest>(
            &signed,
            &request.device_key,
            &server_expects(&public, NOW)
        )
        .is_ok()
    );
    // Someone else's signature over a request naming this device key fails.
    let forged = sign_device(&device_header(&public), &request, &impostor).unwrap();
    let (_, carried) = peek_device_unverified::<ActivationRequest>(&forged).unwrap();
    assert_eq!(
        open_device::<ActivationRequest>(
            &forged,
            &carried.device_key,
            &server_expects(&public, NOW)
        )
        .unwrap_err(),
        ProtocolError::BadSignature
    );
}

#[test]
fn activation_secrets_decrypt_to_what_the_phone_sent_and_debug_is_redacted() {
    let (secret_key, _) = ticket_key_from_ikm(&[0x55; 32]);
    for (name, info, plaintext, sealed) in sealed_secrets() {
        assert_eq!(
            open_secret(&secret_key, &info, &sealed).unwrap(),
            plaintext,
            "{name}"
        );
    }
    let (_, info, _, sealed) = sealed_secrets().remove(0);
    let opened =
        ActivationSecret::from_plaintext(&open_secret(&secret_key, &info, &sealed).unwrap())
            .unwrap();
    assert_eq!(opened, activation_secret());
    let debug = format!("{opened:?}");
    assert!(!debug.contains("4096123387705"), "{debug}");
    assert!(!debug.contains(&format!("{:?}", k_user().expose_secret())));
    assert!(debug.contains("[redacted]"));
    assert_eq!(
        format!("{:?}", PinChangeSecret { k_user: k_user() }),
        "PinChangeSecret([redacted])"
    );
}

#[test]
fn an_approval_response_verifies_only_for_the_typed_code_and_the_right_pin() {
    let typed: Challenge = "418205".parse().unwrap();
    let response = compute_response(&suite(), &k_user(), &typed, NOW).unwrap();
    assert_eq!(
        verify_response(&suite(), &k_user(), &typed, NOW, 0, 2, response.as_str()).unwrap(),
        Some(0)
    );
    let wrong_pin = derive_k_user(&seed(), "402918", &enrollment());
    assert_eq!(
        verify_response(&suite(), &wrong_pin, &typed, NOW, 0, 2, response.as_str()).unwrap(),
        None
    );
}

#[test]
fn a_login_request_has_a_challenge_exactly_in_tap_mode() {
    let (pair, public) = server();
    let mut request = LoginRequest {
        request: RequestId::from_bytes([1; 16]),
        app: "Client Portal".into(),
        client: "c".into(),
        origin: "o".into(),
        requested_at: NOW,
        matching_mode: MatchingMode::Code,
        challenge: Some("418205".parse().unwrap()),
    };
    let signed = sign_server(&server_header(&public, 120), &request, &pair).unwrap();
    assert!(matches!(
        open_server::<LoginRequest>(&signed, &public, &phone_expects(&public, NOW)),
        Err(ProtocolError::BadField(_))
    ));
    request.matching_mode = MatchingMode::Tap;
    let signed = sign_server(&server_header(&public, 120), &request, &pair).unwrap();
    assert!(open_server::<LoginRequest>(&signed, &public, &phone_expects(&public, NOW)).is_ok());
}

fn build_vectors(device_pkcs8: &[u8]) -> Value {
    let (pair, public) = server();
    let device = Device::from_pkcs8(device_pkcs8);
    let (_, ticket_public) = ticket_key_from_ikm(&[0x55; 32]);
    let server_vectors: Vec<Value> = server_messages(&pair, &public)
        .into_iter()
        .map(|(purpose, signed, lifetime)| {
            let checks: Vec<Value> = [(NOW, "ok"), (NOW + lifetime - 1, "ok"), (NOW + lifetime, "Expired"), (NOW - 61, "NotYetValid")]
                .iter()
                .map(|(now, expect)| json!({"now": now, "expect": expect}))
                .collect();
            json!({"purpose": purpose, "signer": "server", "body": encode_hex(signed.body()), "sig": encode_hex(signed.signature()), "checks": checks})
        })
        .collect();
    let device_vectors: Vec<Value> = device_messages(&device, &public)
        .into_iter()
        .map(|(purpose, signed)| {
            let checks: Vec<Value> = [(NOW, "ok"), (NOW + 600, "ok"), (NOW + 601, "Expired"), (NOW - 601, "NotYetValid")]
                .iter()
                .map(|(now, expect)| json!({"now": now, "expect": expect}))
                .collect();
            json!({"purpose": purpose, "signer": "device", "body": encode_hex(signed.body()), "sig": encode_hex(signed.signature()), "checks": checks})
        })
        .collect();
    let sealed: Vec<Value> = sealed_secrets()
        .into_iter()
        .map(|(name, info, plaintext, sealed)| {
            json!({"purpose": name, "info": encode_hex(&info), "plaintext": encode_hex(plaintext.expose_secret()), "enc": encode_hex(&sealed.enc), "ciphertext": encode_hex(&sealed.ciphertext)})
        })
        .collect();
    let typed: Challenge = "418205".parse().unwrap();
    json!({
        "about": "Latchkey protocol v1 vectors (docs/PROTOCOL.md). Server signatures are Ed25519 (deterministic: compare bytes); device signatures are ECDSA P-256 (randomised: verify only). Checks: the verdict of opening the body at `now` with the fixed expectation (server skew 60 s; device freshness 600 s). Test keys only.",
        "inputs": {
            "server_ed25519_seed": encode_hex(&SERVER_SEED),
            "server_public_key": encode_hex(public.as_bytes()),
            "server_fingerprint": public.fingerprint().to_string(),
            "device_pkcs8": encode_hex(device_pkcs8),
            "device_public_key": encode_hex(device.public().as_bytes()),
            "enrollment_id": enrollment().to_string(),
            "epoch": EPOCH,
            "now": NOW,
            "seed": encode_hex(seed().expose_secret()),
            "pin": PIN,
            "k_user": encode_hex(k_user().expose_secret()),
            "ticket_ikm": encode_hex(&[0x55; 32]),
            "ticket_public_key": encode_hex(&ticket_public.0),
            "ocra_suite": LATCHKEY_SUITE,
            "typed_code": typed.to_string(),
            "approval_response_at_now": compute_response(&suite(), &k_user(), &typed, NOW).unwrap().to_string(),
        },
        "messages": server_vectors.into_iter().chain(device_vectors).collect::<Vec<_>>(),
        "sealed": sealed,
    })
}

#[test]
fn the_protocol_vectors_reproduce_byte_for_byte() {
    let path = crate::vectors_path("protocol-v1.json");
    if std::env::var_os("LATCHKEY_WRITE_VECTORS").is_some() {
        let pkcs8 = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| {
                v["inputs"]["device_pkcs8"]
                    .as_str()
                    .map(|h| decode_hex(h).unwrap())
            })
            .unwrap_or_else(|| Device::new().1);
        let text = serde_json::to_string_pretty(&build_vectors(&pkcs8)).unwrap();
        std::fs::write(&path, text + "\n").unwrap();
    }
    let file = crate::vectors("protocol-v1.json");
    let pkcs8 = decode_hex(file["inputs"]["device_pkcs8"].as_str().unwrap()).unwrap();
    let built = build_vectors(&pkcs8);
    assert_eq!(
        file["inputs"], built["inputs"],
        "inputs and derived keys (k_user, fingerprint, response)"
    );
    assert_eq!(
        file["sealed"], built["sealed"],
        "HPKE ciphertexts with fixed ephemeral keys"
    );
    let (_, public) = server();
    let device_key = DevicePublicKey::from_slice(
        &decode_hex(file["inputs"]["device_public_key"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let file_messages = file["messages"].as_array().unwrap();
    let built_messages = built["messages"].as_array().unwrap();
    assert_eq!(
        file_messages.len(),
        14,
        "six server-signed and eight phone-signed messages"
    );
    for (stored, fresh) in file_messages.iter().zip(built_messages) {
        let purpose = stored["purpose"].as_str().unwrap();
        assert_eq!(stored["purpose"], fresh["purpose"]);
        assert_eq!(stored["body"], fresh["body"], "{purpose}: canonical body");
        let signed = Signed::from_parts(
            decode_hex(stored["body"].as_str().unwrap()).unwrap(),
            decode_hex(stored["sig"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        if stored["signer"] == "server" {
            assert_eq!(
                stored["sig"], fresh["sig"],
                "{purpose}: Ed25519 is deterministic"
            );
        }
        for check in stored["checks"].as_array().unwrap() {
            let now = check["now"].as_u64().unwrap();
            let got = if stored["signer"] == "server" {
                verdict(open_server_any(
                    &signed,
                    &public,
                    &phone_expects(&public, now),
                ))
            } else {
                verdict(open_device_any(
                    &signed,
                    &device_key,
                    &server_expects(&public, now),
                ))
            };
            assert_eq!(got, check["expect"].as_str().unwrap(), "{purpose} at {now}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_bytes_panic_any_parser(body in proptest::collection::vec(any::<u8>(), 0..600), sig in proptest::collection::vec(any::<u8>(), 0..80)) {
        let (_, public) = server();
        let (device, _) = Device::new();
        if let Ok(signed) = Signed::from_parts(body.clone(), sig) {
            let _ = open_server_any(&signed, &public, &phone_expects(&public, NOW));
            let _ = open_device_any(&signed, &device.public(), &server_expects(&public, NOW));
            let _ = peek_device_unverified::<ActivationRequest>(&signed);
            let _ = peek_device_unverified::<PinChange>(&signed);
        }
        let _ = ActivationSecret::from_plaintext(&SecretBytes::new(body.clone()));
        let _ = PinChangeSecret::from_plaintext(&SecretBytes::new(body));
    }

    /// Valid-looking bodies: a real label, then random fields, signed for real, so
    /// the field decoders (not just the signature check) see the bytes.
    #[test]
    fn no_signed_garbage_panics_a_field_decoder(purpose_index in 0usize..15, fields in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..12)) {
        let purposes = ["activation-ticket", "activation-receipt", "login-request", "sync-answer", "notice", "rekey-ticket",
            "activation-request", "sync-request", "fetch-request", "approval", "denial", "pin-proof", "pin-change", "rekey-request", "removal"];
        let (pair, public) = server();
        let mut e = latchkey_core::protocol::codec::Encoder::new(purposes[purpose_index]);
        e.bytes(public.fingerprint().as_bytes()).bytes(enrollment().as_bytes()).u64(EPOCH).u64(NOW).u64(NOW + 100);
        for f in &fields { e.bytes(f); }
        let body = e.finish();
        let signature = ring::signature::Ed25519KeyPair::sign(&pair, &body).as_ref().to_vec();
        let signed = Signed::from_parts(body, signature).unwrap();
        let _ = open_server_any(&signed, &public, &phone_expects(&public, NOW));
        let _ = peek_device_unverified::<SyncAnswer>(&signed);
        let _ = peek_device_unverified::<ActivationRequest>(&signed);
    }

    #[test]
    fn no_text_panics_the_json_and_id_parsers(text in "\\PC{0,200}") {
        let _ = Signed::from_json(&text);
        let _ = ServerProfile::from_json(&text);
        let _ = text.parse::<EnrollmentId>();
        let _ = text.parse::<Challenge>();
        let _ = text.parse::<ServerFingerprint>();
        let _ = latchkey_core::protocol::keys::check_new_pin(&text, &text);
    }
}
