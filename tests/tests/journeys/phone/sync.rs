//! Sync (PROTOCOL §6.8) from the phone's side, against the real verifier: ported
//! from `core/src/device/authenticator/sync.rs` (issue 17).

use super::{
    PIN, TestPhone, queue_notice, require_password_reset, revoked_notice, server_k_user, sign_by,
    update_enrollment, world,
};
use latchkey_core::device::{
    AccountId, AccountState, AuthenticatorError, CHALLENGE_WARNING, HistoryEvent, KeystoreError,
    PlatformKeystore, SealedBlob, SyncEvent, TransportError, Unlock,
};
use latchkey_core::protocol::envelope::peek_device_unverified;
use latchkey_core::protocol::keys::compute_response;
use latchkey_core::protocol::{
    Challenge, EnrollmentId, EnrollmentState, LATCHKEY_SUITE, ProtocolError, Signed, SyncAnswer,
    SyncRequest,
};
use latchkey_journeys::World;
use latchkey_server::store::EnrollmentStatus;
use std::sync::atomic::Ordering;

/// A sync answer to the phone's last request, signed by the server's key, built
/// by hand.
fn answer_for(world: &World, phone: &TestPhone, account: AccountId) -> Signed {
    let request = phone.transport.requests().pop().unwrap();
    let signed = Signed::from_json(std::str::from_utf8(&request.body).unwrap()).unwrap();
    let (_, sync) = peek_device_unverified::<SyncRequest>(&signed).unwrap();
    let epoch = phone.authenticator.account(account).unwrap().epoch;
    sign_by(
        world,
        phone.enrollment_of(account),
        epoch,
        300,
        &SyncAnswer {
            nonce: sync.nonce,
            state: EnrollmentState::Active,
            failures: 0,
            retry_after: None,
            push_registered: true,
            pending: Vec::new(),
            proof: None,
            notices: Vec::new(),
            receipt: None,
        },
    )
}

/// Makes the store's next write of `column` fail, as a process dying there would
/// leave it unwritten (a TEMP trigger: this connection only).
fn fail_writes_of(phone: &TestPhone, column: &str) {
    phone
        .authenticator
        .store_for_tests()
        .connection_for_tests()
        .execute_batch(&format!(
            "CREATE TEMP TRIGGER injected BEFORE UPDATE OF {column} ON account \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
        ))
        .unwrap();
}

fn heal(phone: &TestPhone) {
    phone
        .authenticator
        .store_for_tests()
        .connection_for_tests()
        .execute_batch("DROP TRIGGER injected;")
        .unwrap();
}

#[test]
fn a_sync_answer_is_applied_whole_or_not_at_all_whichever_step_fails() {
    for step in ["state", "push_token", "last_sync_at"] {
        let world = world();
        let phone = TestPhone::on(&world);
        let account = phone.activated(&world, "alice");
        let stored = || {
            phone
                .authenticator
                .store_for_tests()
                .account(account)
                .unwrap()
        };
        let before = stored();
        phone.clock.advance(60);
        world.advance(60);
        require_password_reset(&world, "alice", true);
        fail_writes_of(&phone, step);
        let failed = phone
            .authenticator
            .sync(account, Some("push-token-2".to_owned()), true);
        assert!(failed.is_err(), "{step}: {failed:?}");
        let after = stored();
        assert_eq!(
            (&after.state, &after.push_token, after.last_sync_at),
            (&before.state, &before.push_token, before.last_sync_at),
            "{step}: the old state, nothing of the answer"
        );

        heal(&phone);
        let report = phone
            .authenticator
            .sync(account, Some("push-token-2".to_owned()), true)
            .unwrap();
        assert_eq!(report.state, AccountState::Locked);
        let after = stored();
        assert_eq!(after.push_token.as_deref(), Some("push-token-2"));
        assert_ne!(after.last_sync_at, before.last_sync_at, "{step}");
    }
}

#[test]
fn a_wipe_that_does_not_commit_deletes_no_key_and_keeps_the_account_whole() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let enrollment = phone.enrollment_of(account);
    let epoch = phone.authenticator.account(account).unwrap().epoch;
    let notice = revoked_notice(&world, enrollment, epoch, Some("New phone"));
    queue_notice(&world, enrollment, notice);
    // The last step of the plan fails: the wipe before it is rolled back.
    fail_writes_of(&phone, "last_sync_at");
    assert!(phone.authenticator.sync(account, None, true).is_err());
    let stored = phone
        .authenticator
        .store_for_tests()
        .account(account)
        .unwrap();
    assert_eq!(stored.state, AccountState::Active);
    let sealed = stored.sealed_seed.clone().unwrap();
    PlatformKeystore::open(phone.keystore.as_ref(), &stored.seal_key_alias, &sealed)
        .expect("the seed's key was not deleted before the commit");
    phone
        .authenticator
        .respond_to_challenge(account, "583920", Unlock::pin(PIN))
        .unwrap();

    // The verifier hands the notice out again with the next answer.
    heal(&phone);
    let report = phone.authenticator.sync(account, None, true).unwrap();
    assert!(matches!(report.state, AccountState::Replaced { .. }));
    let stored = phone
        .authenticator
        .store_for_tests()
        .account(account)
        .unwrap();
    assert!(stored.sealed_seed.is_none());
    assert!(
        PlatformKeystore::open(phone.keystore.as_ref(), &stored.seal_key_alias, &sealed).is_err(),
        "the key is deleted once the wipe committed"
    );
    let history = phone.authenticator.history().unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|e| e.event == HistoryEvent::AccountWiped)
            .count(),
        1
    );
}

#[test]
fn sync_learns_the_clock_offset_and_challenge_response_uses_it() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let t0 = world.now();
    // The server's clock runs 7 minutes ahead of the phone's.
    world.advance(420);
    let report = phone
        .authenticator
        .sync(account, Some("push-token-2".to_owned()), true)
        .unwrap();
    assert_eq!(report.clock_offset, 420);
    assert!(report.push_registered);
    assert_eq!(report.state, AccountState::Active);
    assert_eq!(
        phone.authenticator.account(account).unwrap().clock_offset,
        420
    );

    // Offline, the response uses T = the phone's clock + 420 s.
    phone.offline.store(true, Ordering::SeqCst);
    let generated = phone
        .authenticator
        .respond_to_challenge(account, "583920", Unlock::pin(PIN))
        .unwrap();
    let k_user = server_k_user(&world, &phone.enrollment_of(account));
    let challenge: Challenge = "583920".parse().unwrap();
    let suite = LATCHKEY_SUITE.parse().unwrap();
    assert_eq!(
        generated.response,
        compute_response(&suite, &k_user, &challenge, t0 + 420)
            .unwrap()
            .as_str()
    );
    assert_ne!(
        generated.response,
        compute_response(&suite, &k_user, &challenge, t0)
            .unwrap()
            .as_str(),
        "seven minutes is seven OCRA steps"
    );
    assert_eq!(generated.warning, CHALLENGE_WARNING);
}

#[test]
fn a_signed_revoked_notice_for_another_epoch_is_kept_and_one_for_this_epoch_wipes() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let enrollment = phone.enrollment_of(account);
    let epoch = phone.authenticator.account(account).unwrap().epoch;
    let t0 = world.now();

    let stale = revoked_notice(&world, enrollment, epoch + 1, Some("Other phone"));
    let other = revoked_notice(&world, EnrollmentId::from_bytes([3; 16]), epoch, None);
    queue_notice(&world, enrollment, stale);
    queue_notice(&world, enrollment, other);
    let report = phone.authenticator.sync(account, None, true).unwrap();
    assert_eq!(report.state, AccountState::Active);
    assert_eq!(
        report
            .events
            .iter()
            .filter(|e| matches!(e, SyncEvent::NoticeRefused { .. }))
            .count(),
        2
    );
    let stored = phone
        .authenticator
        .store_for_tests()
        .account(account)
        .unwrap();
    assert!(stored.sealed_seed.is_some(), "the secrets are kept");

    let revoked = revoked_notice(&world, enrollment, epoch, Some("Anna's iPhone 16"));
    queue_notice(&world, enrollment, revoked);
    let report = phone.authenticator.sync(account, None, true).unwrap();
    assert!(
        report.events.contains(&SyncEvent::Replaced {
            by: "Anna's iPhone 16".to_owned(),
            at: t0
        }),
        "{:?}",
        report.events
    );
    assert!(
        matches!(report.state, AccountState::Replaced { ref by, .. } if by == "Anna's iPhone 16")
    );
    let stored = phone
        .authenticator
        .store_for_tests()
        .account(account)
        .unwrap();
    assert!(stored.sealed_seed.is_none());
    assert_eq!(
        PlatformKeystore::open(
            phone.keystore.as_ref(),
            &stored.seal_key_alias,
            &SealedBlob::new(vec![1; 40])
        ),
        Err(KeystoreError::KeyNotFound),
        "the sealing key is gone"
    );
    assert!(matches!(
        phone
            .authenticator
            .respond_to_challenge(account, "583920", Unlock::pin(PIN)),
        Err(AuthenticatorError::Replaced { .. })
    ));
    let history = phone.authenticator.history().unwrap();
    assert_eq!(history.last().unwrap().event, HistoryEvent::AccountWiped);
}

#[test]
fn a_forged_unsigned_revocation_a_404_or_a_forged_signature_keeps_the_secrets() {
    let world = world();
    let impostor = super::world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let enrollment = phone.enrollment_of(account);
    let forged_notice = revoked_notice(&impostor, enrollment, 1, Some("Mallory"));

    phone
        .transport
        .push_response(200, r#"{"outcome":"revoked"}"#);
    phone.transport.push_response(
        404,
        r#"{"error":{"code":"enrollment_inactive","message":"gone"}}"#,
    );
    phone.transport.push_response(404, "<html>Not Found</html>");
    phone.transport.push_response(200, forged_notice.to_json());
    for _ in 0..4 {
        assert!(phone.authenticator.sync(account, None, true).is_err());
    }
    phone.transport.push_error(TransportError::Timeout);
    assert!(matches!(
        phone.authenticator.sync(account, None, true),
        Err(AuthenticatorError::Offline)
    ));
    // A genuine answer carrying a notice signed by another key.
    queue_notice(&world, enrollment, forged_notice);
    let report = phone.authenticator.sync(account, None, true).unwrap();
    assert!(matches!(
        &report.events[..],
        [SyncEvent::NoticeRefused { .. }]
    ));
    assert_eq!(report.state, AccountState::Active);
    let stored = phone
        .authenticator
        .store_for_tests()
        .account(account)
        .unwrap();
    assert!(stored.sealed_seed.is_some());
    phone
        .authenticator
        .respond_to_challenge(account, "583920", Unlock::pin(PIN))
        .unwrap();
}

#[test]
fn a_sync_answer_with_another_nonce_or_a_tampered_signature_is_refused() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    phone.authenticator.sync(account, None, true).unwrap();
    // Replay an answer to the previous request: its nonce is not this one's.
    let replayed = answer_for(&world, &phone, account);
    phone.transport.push_response(200, replayed.to_json());
    assert!(matches!(
        phone.authenticator.sync(account, None, true),
        Err(AuthenticatorError::Protocol(ProtocolError::BadField(
            "nonce"
        )))
    ));
    // Flip a bit in a genuine answer's body.
    let genuine = answer_for(&world, &phone, account);
    let mut body = genuine.body().to_vec();
    let last = body.len() - 1;
    body[last] ^= 1;
    let tampered = Signed::from_parts(body, genuine.signature().to_vec()).unwrap();
    phone.transport.push_response(200, tampered.to_json());
    assert!(matches!(
        phone.authenticator.sync(account, None, true),
        Err(AuthenticatorError::Protocol(ProtocolError::BadSignature))
    ));
}

#[test]
fn a_signed_lockout_is_recorded_and_cleared_by_the_server_only() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let enrollment = phone.enrollment_of(account);
    update_enrollment(&world, &enrollment, |e| e.failures = 5);
    require_password_reset(&world, "alice", true);
    let report = phone.authenticator.sync(account, None, true).unwrap();
    assert_eq!(report.state, AccountState::Locked);
    assert_eq!(report.failures, 5);
    assert!(report.events.contains(&SyncEvent::PasswordResetRequired));
    update_enrollment(&world, &enrollment, |e| {
        e.status = EnrollmentStatus::Disabled;
    });
    assert_eq!(
        phone.authenticator.sync(account, None, true).unwrap().state,
        AccountState::Disabled
    );
    update_enrollment(&world, &enrollment, |e| {
        e.status = EnrollmentStatus::Active;
        e.failures = 0;
    });
    require_password_reset(&world, "alice", false);
    let report = phone.authenticator.sync(account, None, true).unwrap();
    assert_eq!(report.state, AccountState::Active);
    assert!(report.events.contains(&SyncEvent::Reactivated));
}

#[test]
fn the_sync_answer_hands_out_the_proof_challenge() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    phone.authenticator.sync(account, None, false).unwrap();
    let proof = phone.authenticator.proof_challenge_for_tests(account);
    assert!(
        proof.is_some_and(|p| p.expires_at == world.now() + 300),
        "{proof:?}"
    );
    assert_eq!(
        phone.authenticator.notifications_enabled_for_tests(),
        Some(false)
    );
}
