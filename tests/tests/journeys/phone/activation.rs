//! Activation (PROTOCOL §6.1) from the phone's side, against the real verifier:
//! ported from `core/src/device/authenticator/activation.rs` (issue 17).

use super::{PIN, TestPhone, contains, host, server_k_user, sign_by, start_activation, world};
use latchkey_core::clock::Clock;
use latchkey_core::device::{
    AccountState, ActivationOutcome, AuthenticatorError, HistoryEvent, MatchingMode,
    PlatformKeystore, SyncEvent, TransportError, Unlock,
};
use latchkey_core::encoding::encode_hex;
use latchkey_core::protocol::keys::compute_response;
use latchkey_core::protocol::{
    ActivationReceipt, EnrollmentId, EnrollmentLimits, EnrollmentState, KeystoreKind,
    LATCHKEY_SUITE, Platform, ProtocolError,
};
use latchkey_server::store::ReplacementStatus;
use latchkey_server::store::StoreExt;

fn activate(
    phone: &TestPhone,
    world: &latchkey_journeys::World,
    ticket: &str,
    code: &str,
    pin: &str,
    again: &str,
) -> Result<ActivationOutcome, AuthenticatorError> {
    phone.authenticator.activate(
        &world.profile(),
        ticket,
        code,
        pin.to_owned(),
        again.to_owned(),
        "Anna's Pixel",
        Some("push-token-1".to_owned()),
    )
}

#[test]
fn activation_stores_the_account_and_the_server_learns_k_user_and_what_the_phone_sent() {
    let world = world();
    let phone = TestPhone::on(&world);
    let (ticket, code) = start_activation(&world, "alice", None);
    let outcome = activate(&phone, &world, &ticket, &code, PIN, PIN).unwrap();
    let ActivationOutcome::Active(summary) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(summary.label, format!("alice @ {}", host(&world)));
    assert_eq!(summary.epoch, 1);
    assert_eq!(summary.state, AccountState::Active);
    assert_eq!(summary.matching_mode, MatchingMode::Code);
    assert!(!summary.biometric_enabled);

    // What the verifier decrypted and kept from the phone's sealed secret.
    let record = world
        .server()
        .state()
        .store
        .in_transaction(|tx| tx.enrollment(&summary.enrollment_id))
        .unwrap()
        .unwrap();
    assert_eq!(record.push_token.as_deref(), Some("push-token-1"));
    assert_eq!(record.platform, Platform::Android);
    assert_eq!(record.keystore, KeystoreKind::Software);
    assert_eq!(record.device_name, "Anna's Pixel");
    // The server's k_user is the phone's: the phone's response verifies.
    let k_user = server_k_user(&world, &summary.enrollment_id);
    let response = phone
        .authenticator
        .respond_to_challenge(summary.id, "418205", Unlock::pin(PIN))
        .unwrap();
    let expected = compute_response(
        &LATCHKEY_SUITE.parse().unwrap(),
        &k_user,
        &"418205".parse().unwrap(),
        phone.clock.now(),
    )
    .unwrap();
    assert_eq!(response.response, expected.as_str());

    let requests = phone.transport.requests();
    assert_eq!(
        requests[0].url,
        format!("{}/v1/phone/activate", world.base_url())
    );
    let history = phone.authenticator.history().unwrap();
    assert_eq!(history[0].event, HistoryEvent::AccountAdded);
}

#[test]
fn a_weak_or_mismatched_pin_is_refused_before_any_key_is_made() {
    let world = world();
    let phone = TestPhone::on(&world);
    let (ticket, code) = start_activation(&world, "alice", None);
    assert!(matches!(
        activate(&phone, &world, &ticket, &code, "123456", "123456"),
        Err(AuthenticatorError::WeakPin(_))
    ));
    assert!(matches!(
        activate(&phone, &world, &ticket, &code, PIN, "402918"),
        Err(AuthenticatorError::PinMismatch)
    ));
    assert!(matches!(
        activate(&phone, &world, &ticket, "12345", PIN, PIN),
        Err(AuthenticatorError::BadInput(_))
    ));
    assert!(phone.transport.requests().is_empty());
    assert!(phone.authenticator.accounts().unwrap().is_empty());
    assert_eq!(phone.key_files(), 1, "only the wrapping key exists");
}

#[test]
fn a_device_name_with_bidi_or_zero_width_characters_is_refused_before_anything_is_sent() {
    let world = world();
    let phone = TestPhone::on(&world);
    let (ticket, code) = start_activation(&world, "alice", None);
    for name in [
        "Anna's \u{202E}lexiP",
        "Anna's\u{200B} Pixel",
        "",
        "Pixel\n",
    ] {
        assert!(
            matches!(
                phone.authenticator.activate(
                    &world.profile(),
                    &ticket,
                    &code,
                    PIN.to_owned(),
                    PIN.to_owned(),
                    name,
                    None,
                ),
                Err(AuthenticatorError::BadInput(_))
            ),
            "{name:?}"
        );
    }
    assert!(phone.transport.requests().is_empty());
    assert!(phone.authenticator.accounts().unwrap().is_empty());
}

#[test]
fn a_ticket_signed_by_another_key_or_tampered_is_refused_and_nothing_is_sent() {
    let world = world();
    let impostor = super::world();
    let phone = TestPhone::on(&world);
    let (forged, code) = start_activation(&impostor, "alice", None);
    assert!(matches!(
        activate(&phone, &world, &forged, &code, PIN, PIN),
        Err(AuthenticatorError::Protocol(ProtocolError::BadSignature))
    ));
    let (ticket, code) = start_activation(&world, "alice", None);
    let mut value: serde_json::Value = serde_json::from_str(&ticket).unwrap();
    let body = value["body"].as_str().unwrap().to_owned();
    let mut bytes = latchkey_core::protocol::b64::decode(&body).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    value["body"] = latchkey_core::protocol::b64::encode(&bytes).into();
    assert!(matches!(
        activate(&phone, &world, &value.to_string(), &code, PIN, PIN),
        Err(AuthenticatorError::Protocol(ProtocolError::BadSignature))
    ));
    assert!(matches!(
        activate(&phone, &world, "{\"outcome\":\"ok\"}", &code, PIN, PIN),
        Err(AuthenticatorError::BadInput(_))
    ));
    assert!(phone.transport.requests().is_empty());
    // An expired ticket (the verifier's tickets live 600 s).
    phone.clock.advance(601);
    assert!(matches!(
        activate(&phone, &world, &ticket, &code, PIN, PIN),
        Err(AuthenticatorError::Expired)
    ));
}

#[test]
fn a_wrong_activation_code_stores_nothing_and_deletes_the_keys_it_made() {
    let world = world();
    let phone = TestPhone::on(&world);
    let (ticket, _) = start_activation(&world, "alice", None);
    assert!(matches!(
        activate(&phone, &world, &ticket, "1111-2222-33333", PIN, PIN),
        Err(AuthenticatorError::WrongActivationCode {
            attempts_left: Some(2)
        })
    ));
    assert!(phone.authenticator.accounts().unwrap().is_empty());
    assert_eq!(
        phone.key_files(),
        1,
        "the device and sealing keys were deleted"
    );
    assert!(phone.authenticator.history().unwrap().is_empty());
}

#[test]
fn an_activation_whose_store_write_fails_leaves_no_account_no_entry_and_no_keys() {
    let world = world();
    let phone = TestPhone::on(&world);
    let (ticket, code) = start_activation(&world, "alice", None);
    // The step after the receipt fails (a TEMP trigger on this connection).
    phone
        .authenticator
        .store_for_tests()
        .connection_for_tests()
        .execute_batch(
            "CREATE TEMP TRIGGER injected BEFORE INSERT ON account \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    assert!(matches!(
        activate(&phone, &world, &ticket, &code, PIN, PIN),
        Err(AuthenticatorError::Storage(_))
    ));
    assert!(phone.authenticator.accounts().unwrap().is_empty());
    assert!(phone.authenticator.history().unwrap().is_empty());
    assert_eq!(
        phone.key_files(),
        1,
        "the device and sealing keys were deleted"
    );
}

#[test]
fn an_offline_activation_or_a_forged_receipt_stores_nothing() {
    let world = world();
    let impostor = super::world();
    let phone = TestPhone::on(&world);
    let (ticket, code) = start_activation(&world, "alice", None);
    phone.transport.push_error(TransportError::Offline);
    assert!(matches!(
        activate(&phone, &world, &ticket, &code, PIN, PIN),
        Err(AuthenticatorError::Offline)
    ));
    // A receipt signed by another server's key.
    let forged = sign_by(
        &impostor,
        EnrollmentId::from_bytes([1; 16]),
        1,
        600,
        &ActivationReceipt {
            account: "alice".to_owned(),
            ocra_suite: LATCHKEY_SUITE.to_owned(),
            matching_mode: MatchingMode::Code,
            device_key: [0; 32],
            limits: EnrollmentLimits {
                reset_at: 5,
                disable_at: 10,
                session_seconds: 300,
                push_seconds: 120,
                drift_window: 2,
            },
        },
    );
    phone.transport.push_response(200, forged.to_json());
    assert!(matches!(
        activate(&phone, &world, &ticket, &code, PIN, PIN),
        Err(AuthenticatorError::Protocol(ProtocolError::BadSignature))
    ));
    assert!(phone.authenticator.accounts().unwrap().is_empty());
}

#[test]
fn neither_the_seed_nor_k_user_is_in_the_database_or_its_wal_after_activation() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let k_user = server_k_user(&world, &phone.enrollment_of(account));
    let stored = phone
        .authenticator
        .store_for_tests()
        .account(account)
        .unwrap();
    let seed = PlatformKeystore::open(
        phone.keystore.as_ref(),
        &stored.seal_key_alias,
        stored.sealed_seed.as_ref().unwrap(),
    )
    .unwrap();
    let (main, wal) = phone.database();
    assert!(!wal.is_empty(), "the writes sit in the WAL");
    for secret in [seed.expose_secret(), k_user.expose_secret()] {
        let hex = encode_hex(secret);
        for file in [&main, &wal] {
            assert!(!contains(file, &secret[..8]));
            assert!(!contains(file, &hex.as_bytes()[..16]));
        }
    }
    assert!(!contains(&main, PIN.as_bytes()));
    assert!(!contains(&wal, PIN.as_bytes()));
}

#[test]
fn a_replacing_activation_waits_and_completes_when_the_old_phone_approves() {
    let world = world();
    let old = TestPhone::on(&world);
    let old_account = old.activated(&world, "alice");
    let new = TestPhone::on(&world);
    let (ticket, code) = start_activation(&world, "alice", Some("approve_on_old_phone"));
    let outcome = new
        .authenticator
        .activate(
            &world.profile(),
            &ticket,
            &code,
            "731904".to_owned(),
            "731904".to_owned(),
            "Anna's new iPhone",
            None,
        )
        .unwrap();
    let ActivationOutcome::Pending {
        account: pending,
        replacement,
        held: false,
        effective_at: None,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(pending.epoch, 0);
    assert!(matches!(
        new.authenticator
            .respond_to_challenge(pending.id, "418205", Unlock::pin("731904")),
        Err(AuthenticatorError::ActivationPending)
    ));
    // A sync before the approval changes nothing.
    let report = new.authenticator.sync(pending.id, None, true).unwrap();
    assert!(matches!(report.state, AccountState::Pending { .. }));

    // The old phone hears of it and approves with its PIN.
    let report = old.authenticator.sync(old_account, None, true).unwrap();
    assert!(report.events.iter().any(|e| matches!(
        e,
        SyncEvent::ReplacementPending { replacement: Some(r), new_phone: Some(name), .. }
            if *r == replacement && name == "Anna's new iPhone"
    )));
    old.authenticator
        .approve_replacement(old_account, &replacement.to_string(), Unlock::pin(PIN))
        .unwrap();
    // The old phone picked up its signed revocation and wiped the account.
    let summary = old.authenticator.account(old_account).unwrap();
    assert!(
        matches!(&summary.state, AccountState::Replaced { by, .. } if by == "Anna's new iPhone"),
        "{summary:?}"
    );
    assert!(matches!(
        old.authenticator
            .respond_to_challenge(old_account, "418205", Unlock::pin(PIN)),
        Err(AuthenticatorError::Replaced { .. })
    ));

    // The new phone's next sync brings its receipt.
    let report = new.authenticator.sync(pending.id, None, true).unwrap();
    assert_eq!(report.state, AccountState::Active);
    assert!(
        report
            .events
            .iter()
            .any(|e| matches!(e, SyncEvent::ActivationCompleted { epoch: 2 }))
    );
    assert_eq!(new.authenticator.account(pending.id).unwrap().epoch, 2);
    // And, its push token registered, it approves the next login.
    new.authenticator
        .sync(pending.id, Some("push-token-2".to_owned()), true)
        .unwrap();
    let (_, challenge, _) = world.open_session("alice", "Web portal").unwrap();
    let request = world.last_login_push().unwrap()["request"].clone();
    new.authenticator.pending_request(&request).unwrap();
    new.authenticator
        .approve(&request, Some(&challenge), Unlock::pin("731904"))
        .unwrap();
}

#[test]
fn a_lost_phone_move_is_held_and_the_old_phone_can_cancel_it() {
    let world = world();
    let old = TestPhone::on(&world);
    let old_account = old.activated(&world, "alice");
    let new = TestPhone::on(&world);
    let (ticket, code) = start_activation(&world, "alice", Some("lost_phone"));
    let outcome = new
        .authenticator
        .activate(
            &world.profile(),
            &ticket,
            &code,
            "731904".to_owned(),
            "731904".to_owned(),
            "Thief's phone",
            None,
        )
        .unwrap();
    let ActivationOutcome::Pending {
        account: pending,
        replacement,
        held: true,
        effective_at: Some(at),
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(at, world.now() + 72 * 3600);
    old.authenticator
        .cancel_replacement(old_account, &replacement.to_string(), Unlock::pin(PIN))
        .unwrap();
    // The verifier recorded the old phone's PIN-proved cancellation.
    let record = world
        .server()
        .state()
        .store
        .in_transaction(|tx| tx.replacement(&replacement))
        .unwrap()
        .unwrap();
    assert_eq!(record.status, ReplacementStatus::Cancelled);
    assert_eq!(
        old.authenticator.account(old_account).unwrap().state,
        AccountState::Active
    );
    // The would-be new phone learns its enrollment is revoked and never becomes
    // active. (The hand-made fake also sent it a signed `Revoked` notice for epoch
    // 0, which wiped it; the real verifier answers `Revoked` without one, so the
    // phone, which wipes only on a signed notice, keeps its pending record.)
    let report = new.authenticator.sync(pending.id, None, true).unwrap();
    assert_eq!(report.server_state, EnrollmentState::Revoked);
    assert!(!matches!(report.state, AccountState::Active));
    assert!(matches!(
        new.authenticator
            .respond_to_challenge(pending.id, "418205", Unlock::pin("731904")),
        Err(AuthenticatorError::ActivationPending)
    ));
}
