//! PIN proofs, biometrics, PIN change and removal (PROTOCOL §6.4–6.7) from the
//! phone's side, against the real verifier: ported from
//! `core/src/device/authenticator/pin.rs` (issue 17).

use super::{PIN, TestPhone, audit_kinds, open_login, server_k_user, world};
use latchkey_core::clock::Clock;
use latchkey_core::device::{AccountState, AuthenticatorError, SimulatedOutcome, Unlock};
use latchkey_core::protocol::LATCHKEY_SUITE;
use latchkey_core::protocol::keys::compute_response;
use latchkey_server::store::AuditKind;
use std::sync::atomic::Ordering;

#[test]
fn enabling_biometrics_needs_a_pin_proof_then_approves_with_the_prompt() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    assert!(matches!(
        phone
            .authenticator
            .enable_biometric(account, "731904".to_owned()),
        Err(AuthenticatorError::WrongResponse {
            attempts_left: Some(9),
            ..
        })
    ));
    assert!(
        !phone
            .authenticator
            .account(account)
            .unwrap()
            .biometric_enabled
    );
    phone
        .authenticator
        .enable_biometric(account, PIN.to_owned())
        .unwrap();
    assert!(
        phone
            .authenticator
            .account(account)
            .unwrap()
            .biometric_enabled
    );
    let audited = audit_kinds(&world);
    assert_eq!(
        audited
            .iter()
            .filter(|k| **k == AuditKind::BiometricEnabled)
            .count(),
        1,
        "{audited:?}"
    );

    let (request, challenge) = open_login(&world, "alice");
    phone
        .authenticator
        .approve(
            &request,
            Some(&challenge),
            Unlock::biometric("Approve login to Client Portal?"),
        )
        .unwrap();
    assert_eq!(
        phone.biometrics.prompts_shown(),
        ["Approve login to Client Portal?"]
    );
}

#[test]
fn an_invalidated_biometric_key_is_dropped_and_the_pin_still_works() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    phone
        .authenticator
        .enable_biometric(account, PIN.to_owned())
        .unwrap();
    let enabled = || {
        phone
            .authenticator
            .account(account)
            .unwrap()
            .biometric_enabled
    };
    let respond = |unlock| {
        phone
            .authenticator
            .respond_to_challenge(account, "583920", unlock)
    };

    phone.biometrics.set_outcome(SimulatedOutcome::Cancel);
    assert!(matches!(
        respond(Unlock::biometric("?")),
        Err(AuthenticatorError::BiometricCancelled)
    ));
    phone.biometrics.set_outcome(SimulatedOutcome::Lockout);
    assert!(matches!(
        respond(Unlock::biometric("?")),
        Err(AuthenticatorError::BiometricLockout)
    ));
    assert!(enabled());

    phone.biometrics.set_outcome(SimulatedOutcome::Accept);
    phone.biometrics.enroll_new_finger();
    assert!(matches!(
        respond(Unlock::biometric("?")),
        Err(AuthenticatorError::BiometricInvalidated)
    ));
    assert!(!enabled());
    assert!(matches!(
        respond(Unlock::biometric("?")),
        Err(AuthenticatorError::BiometricNotEnabled)
    ));
    respond(Unlock::pin(PIN)).unwrap();
    // And it can be turned on again.
    phone
        .authenticator
        .enable_biometric(account, PIN.to_owned())
        .unwrap();
    respond(Unlock::biometric("?")).unwrap();
    phone.authenticator.disable_biometric(account).unwrap();
    assert!(!enabled());
}

#[test]
fn changing_the_pin_rekeys_the_server_and_reseals_the_biometric_copy() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let enrollment = phone.enrollment_of(account);
    phone
        .authenticator
        .enable_biometric(account, PIN.to_owned())
        .unwrap();
    let before = server_k_user(&world, &enrollment);
    assert!(matches!(
        phone.authenticator.change_pin(
            account,
            PIN.to_owned(),
            "111111".to_owned(),
            "111111".to_owned()
        ),
        Err(AuthenticatorError::WeakPin(_))
    ));
    assert!(matches!(
        phone.authenticator.change_pin(
            account,
            PIN.to_owned(),
            "731904".to_owned(),
            "731905".to_owned()
        ),
        Err(AuthenticatorError::PinMismatch)
    ));
    phone
        .authenticator
        .change_pin(
            account,
            PIN.to_owned(),
            "731904".to_owned(),
            "731904".to_owned(),
        )
        .unwrap();
    let after = server_k_user(&world, &enrollment);
    assert_ne!(before, after);

    let generated = |unlock| {
        phone
            .authenticator
            .respond_to_challenge(account, "583920", unlock)
            .unwrap()
            .response
    };
    let suite = LATCHKEY_SUITE.parse().unwrap();
    let expected = compute_response(
        &suite,
        &after,
        &"583920".parse().unwrap(),
        phone.clock.now(),
    )
    .unwrap();
    assert_eq!(generated(Unlock::pin("731904")), expected.as_str());
    assert_eq!(
        generated(Unlock::biometric("?")),
        expected.as_str(),
        "re-sealed"
    );
    assert_ne!(generated(Unlock::pin(PIN)), expected.as_str());

    let (request, challenge) = open_login(&world, "alice");
    phone
        .authenticator
        .approve(&request, Some(&challenge), Unlock::pin("731904"))
        .unwrap();
}

#[test]
fn a_pin_change_cut_short_after_the_server_swapped_leaves_no_stale_biometric_copy() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let enrollment = phone.enrollment_of(account);
    phone
        .authenticator
        .enable_biometric(account, PIN.to_owned())
        .unwrap();
    let old = server_k_user(&world, &enrollment);
    // The phone "dies" where it would store the re-sealed copy: that write fails
    // (a TEMP trigger on this connection only).
    phone
        .authenticator
        .store_for_tests()
        .connection_for_tests()
        .execute_batch(
            "CREATE TEMP TRIGGER injected BEFORE UPDATE OF sealed_biometric_k_user ON account \
             WHEN NEW.sealed_biometric_k_user IS NOT NULL \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let changed = phone.authenticator.change_pin(
        account,
        PIN.to_owned(),
        "731904".to_owned(),
        "731904".to_owned(),
    );
    let new = server_k_user(&world, &enrollment);
    assert_ne!(old, new);
    // Old state or new, never a mix: the biometric copy is off (or holds the new
    // k_user), never the old one the server no longer accepts.
    let suite = LATCHKEY_SUITE.parse().unwrap();
    let challenge = "583920".parse().unwrap();
    let now = phone.clock.now();
    let with_old = compute_response(&suite, &old, &challenge, now).unwrap();
    match phone
        .authenticator
        .respond_to_challenge(account, "583920", Unlock::biometric("?"))
    {
        Err(AuthenticatorError::BiometricNotEnabled) => {}
        Ok(generated) => assert_ne!(generated.response, with_old.as_str()),
        Err(other) => panic!("{other:?}"),
    }
    changed.expect("the server changed the PIN: the user is told so");
    let with_new = compute_response(&suite, &new, &challenge, now).unwrap();
    let generated = phone
        .authenticator
        .respond_to_challenge(account, "583920", Unlock::pin("731904"))
        .unwrap();
    assert_eq!(generated.response, with_new.as_str());
}

#[test]
fn a_pin_change_the_server_refuses_keeps_the_biometric_copy() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    phone
        .authenticator
        .enable_biometric(account, PIN.to_owned())
        .unwrap();
    assert!(matches!(
        phone.authenticator.change_pin(
            account,
            "830271".to_owned(),
            "731904".to_owned(),
            "731904".to_owned()
        ),
        Err(AuthenticatorError::WrongResponse { .. })
    ));
    let (request, challenge) = open_login(&world, "alice");
    phone
        .authenticator
        .approve(&request, Some(&challenge), Unlock::biometric("Approve?"))
        .expect("the biometric copy was put back");
}

#[test]
fn a_pin_change_with_the_wrong_old_pin_changes_nothing() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let enrollment = phone.enrollment_of(account);
    let before = server_k_user(&world, &enrollment);
    assert!(matches!(
        phone.authenticator.change_pin(
            account,
            "830271".to_owned(),
            "731904".to_owned(),
            "731904".to_owned()
        ),
        Err(AuthenticatorError::WrongResponse { .. })
    ));
    assert_eq!(server_k_user(&world, &enrollment), before);
    phone
        .authenticator
        .respond_to_challenge(account, "583920", Unlock::pin(PIN))
        .unwrap();
}

#[test]
fn removing_an_account_revokes_it_on_the_server_then_wipes_it() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let report = phone.authenticator.remove_account(account).unwrap();
    assert!(report.server_revoked);
    let enrollment = phone.enrollment_of(account);
    let record = {
        use latchkey_server::store::StoreExt;
        world
            .server()
            .state()
            .store
            .in_transaction(|tx| tx.enrollment(&enrollment))
            .unwrap()
            .unwrap()
    };
    assert_eq!(
        record.status,
        latchkey_server::store::EnrollmentStatus::Revoked
    );
    let summary = phone.authenticator.account(account).unwrap();
    assert!(matches!(summary.state, AccountState::Wiped { .. }));
    let stored = phone
        .authenticator
        .store_for_tests()
        .account(account)
        .unwrap();
    assert!(stored.sealed_seed.is_none());
    // Removing it again deletes what was kept for fraud reports.
    phone.authenticator.remove_account(account).unwrap();
    assert!(phone.authenticator.accounts().unwrap().is_empty());
}

#[test]
fn removing_an_account_offline_wipes_it_and_says_the_server_was_not_told() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    phone.offline.store(true, Ordering::SeqCst);
    let report = phone.authenticator.remove_account(account).unwrap();
    assert!(!report.server_revoked);
    assert!(matches!(
        phone.authenticator.account(account).unwrap().state,
        AccountState::Wiped { .. }
    ));
}

#[test]
fn an_unsigned_revoked_refusal_wipes_nothing_without_a_signed_notice() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let (request, challenge) = open_login(&world, "alice");
    phone.authenticator.pending_request(&request).unwrap();
    phone.transport.push_response(
        403,
        r#"{"error":{"code":"enrollment_inactive","message":"this phone was replaced"}}"#,
    );
    assert!(matches!(
        phone.authenticator.approve(&request, Some(&challenge), Unlock::pin(PIN)),
        Err(AuthenticatorError::ServerRefused { ref code, .. }) if code == "enrollment_inactive"
    ));
    assert_eq!(
        phone.authenticator.account(account).unwrap().state,
        AccountState::Active
    );
}
