//! Regression tests for the outside security audit (issue 13, items 1, 2, 5, 6,
//! 9 and 10), each as an attacker or an unlucky user would meet it on loopback:
//! one account's broken phone moves never fail another account's sync, one move
//! at a time, removing the would-be new phone cancels its move, login context and
//! device names with bidi or format characters are refused where they enter,
//! "this wasn't me" ends every pending login of the account, repeated SMS
//! suspensions require a password reset, and an active phone cannot sign at
//! epoch 0.

use super::ceremonies::{
    PIN, TestPhone, activated, add_user, integrator_post, last_code, open_session, phone_post,
    pushed_request, session_status, start_activation,
};
use super::fallbacks::{
    add_sms_user, delivered_code, id_of, open_sms, other_than, submit, try_open, user_view,
};
use super::{Running, start, token_in};
use latchkey_core::protocol::*;
use latchkey_server::store::{EnrollmentStatus, ReplacementStatus, StoreExt};
use serde_json::json;
use std::path::Path;

const HOLD: u64 = 72 * 3600;

/// Starts a lost-phone move of `username` to a new phone named `name`: the
/// activation is accepted and held.
fn held_move(
    server: &Running,
    dir: &Path,
    username: &str,
    name: &str,
) -> (TestPhone, ReplacementId) {
    let start = start_activation(server, dir, username, Some("lost_phone"));
    assert_eq!(start.status, 201, "{start:?}");
    let mut phone = TestPhone::new(server, name);
    let request = phone.activation_request(
        server,
        &start.json["ticket"],
        &last_code(server),
        KeystoreKind::Software,
    );
    let held = phone_post(server, "/v1/phone/activate", &request);
    assert_eq!(held.status, 202, "{held:?}");
    assert_eq!(held.json["outcome"], "held");
    let replacement = held.json["replacement"].as_str().unwrap().parse().unwrap();
    (phone, replacement)
}

fn replacement_status(server: &Running, id: &ReplacementId) -> ReplacementStatus {
    server
        .state
        .store
        .in_transaction(|tx| tx.replacement(id))
        .unwrap()
        .unwrap()
        .status
}

fn enrollment_status(server: &Running, id: &EnrollmentId) -> EnrollmentStatus {
    server
        .state
        .store
        .in_transaction(|tx| tx.enrollment(id))
        .unwrap()
        .unwrap()
        .status
}

/// Opens a login for `username` and approves its push on `phone` with the PIN.
fn approve_newest(server: &Running, dir: &Path, username: &str, phone: &TestPhone) -> u16 {
    let session = open_session(server, dir, username);
    let challenge = session.json["challenge"].as_str().unwrap();
    let approval = phone.approval(server, pushed_request(server), challenge, PIN);
    phone_post(server, "/v1/phone/approve", &approval).status
}

// ---------------------------------------------------------------------------
// Item 1: two lost-phone moves for one account

#[test]
fn two_due_lost_phone_moves_of_one_account_never_fail_another_accounts_sync() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let _anna_old = activated(&server, dir.path(), "anna", "US");
    let bob = activated(&server, dir.path(), "bob", "US");
    let (mut anna_new, first) = held_move(&server, dir.path(), "anna", "anna's new phone");
    // The state an older server let two activations create: a second held move
    // for the same account, to another waiting phone.
    let (second, duplicate) = server
        .state
        .store
        .in_transaction(|tx| {
            let mut replacement = tx.replacement(&first)?.unwrap();
            let mut phone = tx.enrollment(&replacement.new_enrollment)?.unwrap();
            phone.id = EnrollmentId::random().unwrap();
            tx.put_enrollment(&phone)?;
            replacement.id = ReplacementId::random().unwrap();
            replacement.new_enrollment = phone.id;
            tx.put_replacement(&replacement)?;
            Ok::<_, latchkey_server::store::StoreError>((replacement.id, phone.id))
        })
        .unwrap();
    server.clock.advance(HOLD);

    // Another account's sync is answered, before and after any sweep.
    let (answer, sync) = bob.sync(&server);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(sync.unwrap().state, EnrollmentState::Active);
    // The account's own new phone completes its move; the sweep ends the other
    // move instead of failing on it.
    let (answer, sync) = anna_new.sync(&server);
    assert_eq!(answer.status, 200, "{answer:?}");
    let sync = sync.unwrap();
    assert_eq!(sync.state, EnrollmentState::Active);
    anna_new.accept_receipt(
        &server,
        &serde_json::to_value(sync.receipt.unwrap()).unwrap(),
    );
    assert_eq!(
        server.state.verifier.complete_due_replacements().unwrap(),
        0
    );
    assert_eq!(
        replacement_status(&server, &first),
        ReplacementStatus::Completed
    );
    assert_eq!(
        replacement_status(&server, &second),
        ReplacementStatus::Cancelled
    );
    assert_eq!(
        enrollment_status(&server, &duplicate),
        EnrollmentStatus::Revoked
    );
    assert_eq!(approve_newest(&server, dir.path(), "anna", &anna_new), 200);

    // And after a restart, every sync still works.
    server.stop();
    let server = start(dir.path(), true);
    server.clock.advance(HOLD + 60);
    let (answer, _) = bob.sync(&server);
    assert_eq!(answer.status, 200, "{answer:?}");
    server.stop();
}

#[test]
fn the_sweep_completes_due_moves_of_other_accounts_when_one_cannot_complete() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let _anna_old = activated(&server, dir.path(), "anna", "US");
    let _bob_old = activated(&server, dir.path(), "bob", "US");
    let (_anna_new, anna_move) = held_move(&server, dir.path(), "anna", "anna's new phone");
    let (bob_new, bob_move) = held_move(&server, dir.path(), "bob", "bob's new phone");
    // anna's waiting phone vanished from under its move (as a broken row would).
    server
        .state
        .store
        .in_transaction(|tx| {
            let replacement = tx.replacement(&anna_move)?.unwrap();
            let mut phone = tx.enrollment(&replacement.new_enrollment)?.unwrap();
            phone.status = EnrollmentStatus::Revoked;
            tx.put_enrollment(&phone)
        })
        .unwrap();
    server.clock.advance(HOLD);
    assert_eq!(
        server.state.verifier.complete_due_replacements().unwrap(),
        1
    );
    assert_eq!(
        replacement_status(&server, &bob_move),
        ReplacementStatus::Completed
    );
    assert_eq!(
        replacement_status(&server, &anna_move),
        ReplacementStatus::Cancelled
    );
    assert_eq!(
        enrollment_status(&server, &bob_new.soft.enrollment()),
        EnrollmentStatus::Active
    );
    server.stop();
}

#[test]
fn a_second_move_is_refused_while_a_lost_phone_move_waits_out_its_hold() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let old = activated(&server, dir.path(), "anna", "US");
    // Two tickets taken before either phone answered.
    let first = start_activation(&server, dir.path(), "anna", Some("lost_phone"));
    let first_code = last_code(&server);
    let second = start_activation(&server, dir.path(), "anna", Some("lost_phone"));
    let second_code = last_code(&server);
    let mut one = TestPhone::new(&server, "first new phone");
    let held = phone_post(
        &server,
        "/v1/phone/activate",
        &one.activation_request(
            &server,
            &first.json["ticket"],
            &first_code,
            KeystoreKind::Software,
        ),
    );
    assert_eq!(held.json["outcome"], "held", "{held:?}");
    let mut two = TestPhone::new(&server, "second new phone");
    let request = two.activation_request(
        &server,
        &second.json["ticket"],
        &second_code,
        KeystoreKind::Software,
    );
    phone_post(&server, "/v1/phone/activate", &request).assert_error(409, "replacement_pending");
    // A new start is refused too, before any code is sent.
    start_activation(&server, dir.path(), "anna", Some("lost_phone"))
        .assert_error(409, "replacement_pending");
    start_activation(&server, dir.path(), "anna", Some("approve_on_old_phone"))
        .assert_error(409, "replacement_pending");
    // Once the held move is cancelled, the refused ticket still works.
    let replacement: ReplacementId = held.json["replacement"].as_str().unwrap().parse().unwrap();
    let cancel = old.proof(
        &server,
        ProofAction::CancelReplacement,
        replacement.as_bytes().to_vec(),
        PIN,
    );
    assert_eq!(phone_post(&server, "/v1/phone/proof", &cancel).status, 200);
    let again = phone_post(&server, "/v1/phone/activate", &request);
    assert_eq!(again.json["outcome"], "held", "{again:?}");
    server.stop();
}

#[test]
fn parallel_lost_phone_activations_leave_exactly_one_move_held() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let _old = activated(&server, dir.path(), "anna", "US");
    let mut requests = Vec::new();
    // Four tickets (the fifth start of the hour was the first activation's).
    for i in 0..4 {
        let ticket = start_activation(&server, dir.path(), "anna", Some("lost_phone"));
        assert_eq!(ticket.status, 201, "start {i}: {ticket:?}");
        let code = last_code(&server);
        let mut phone = TestPhone::new(&server, &format!("new phone {i}"));
        requests.push(phone.activation_request(
            &server,
            &ticket.json["ticket"],
            &code,
            KeystoreKind::Software,
        ));
    }
    let mut statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .iter()
            .map(|r| scope.spawn(|| phone_post(&server, "/v1/phone/activate", r).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 409, 409, 409]);
    let pending = server
        .state
        .store
        .in_transaction(|tx| tx.replacements_of("anna"))
        .unwrap()
        .into_iter()
        .filter(|r| r.status == ReplacementStatus::Pending)
        .count();
    assert_eq!(pending, 1);
    server.stop();
}

#[test]
fn a_newer_move_supersedes_one_still_waiting_for_the_old_phones_approval() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let old = activated(&server, dir.path(), "anna", "US");
    let start_answer = start_activation(&server, dir.path(), "anna", Some("approve_on_old_phone"));
    let mut waiting = TestPhone::new(&server, "waiting phone");
    let pending = phone_post(
        &server,
        "/v1/phone/activate",
        &waiting.activation_request(
            &server,
            &start_answer.json["ticket"],
            &last_code(&server),
            KeystoreKind::Software,
        ),
    );
    assert_eq!(pending.json["outcome"], "awaiting_old_phone", "{pending:?}");
    let superseded: ReplacementId = pending.json["replacement"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (_newer, _) = held_move(&server, dir.path(), "anna", "newer phone");
    assert_eq!(
        replacement_status(&server, &superseded),
        ReplacementStatus::Cancelled
    );
    assert_eq!(
        enrollment_status(&server, &waiting.soft.enrollment()),
        EnrollmentStatus::Revoked
    );
    // The old phone can no longer approve the superseded move.
    let approve = old.proof(
        &server,
        ProofAction::ApproveReplacement,
        superseded.as_bytes().to_vec(),
        PIN,
    );
    phone_post(&server, "/v1/phone/proof", &approve).assert_error(409, "replacement_ended");
    server.stop();
}

// ---------------------------------------------------------------------------
// Item 2: removing the would-be new phone

#[test]
fn removing_the_would_be_new_phone_cancels_the_lost_phone_move() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let old = activated(&server, dir.path(), "anna", "US");
    let (new, replacement) = held_move(&server, dir.path(), "anna", "new phone");
    let removal = new.signed(
        &server,
        &Removal {
            reason: "changed my mind".into(),
        },
    );
    assert_eq!(
        phone_post(&server, "/v1/phone/remove", &removal).status,
        200
    );
    assert_eq!(
        replacement_status(&server, &replacement),
        ReplacementStatus::Cancelled
    );
    // The old phone hears that the move is off.
    let (_, sync) = old.sync(&server);
    let sync = sync.unwrap();
    assert_eq!(sync.state, EnrollmentState::Active);
    assert!(sync.notices.iter().any(|n| {
        latchkey_core::protocol::envelope::open_server::<Notice>(
            n,
            old.soft.server(),
            &old.expects(&server),
        )
        .unwrap()
        .message()
        .kind
            == NoticeKind::ReplacementCancelled
    }));
    // The hold ends: the old phone is neither wiped nor replaced, the removed one
    // stays removed, and the account still logs in with the old phone.
    server.clock.advance(HOLD + 1);
    assert_eq!(
        server.state.verifier.complete_due_replacements().unwrap(),
        0
    );
    let (_, sync) = old.sync(&server);
    assert_eq!(sync.unwrap().state, EnrollmentState::Active);
    assert_eq!(
        enrollment_status(&server, &new.soft.enrollment()),
        EnrollmentStatus::Revoked
    );
    assert_eq!(approve_newest(&server, dir.path(), "anna", &old), 200);
    server.stop();
}

// ---------------------------------------------------------------------------
// Item 5: text shown on the phone

#[test]
fn login_context_with_bidi_zero_width_or_overlong_text_is_refused_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let _phone = activated(&server, dir.path(), "anna", "US");
    for (field, body) in [
        (
            "origin",
            json!({ "username": "anna", "origin": "203.0.113.7 \u{202E}nodnoL" }),
        ),
        (
            "origin",
            json!({ "username": "anna", "origin": "\u{2066}Zürich\u{2069}" }),
        ),
        (
            "app",
            json!({ "username": "anna", "app": "Client\u{200B} Portal" }),
        ),
        (
            "client",
            json!({ "username": "anna", "client": "Firefox\u{200F}" }),
        ),
        (
            "client",
            json!({ "username": "anna", "client": "Firefox\u{061C}" }),
        ),
        (
            "origin",
            json!({ "username": "anna", "origin": "x".repeat(257) }),
        ),
    ] {
        let answer = integrator_post(&server, dir.path(), "/v1/integrator/sessions", body);
        answer.assert_error_with(400, "invalid_text", "field", json!(field));
    }
    // The reference login screen refuses the same.
    let answer = server.post(
        "/v1/login/sessions",
        None,
        "application/json",
        json!({ "username": "anna", "password": "correct horse battery",
                "origin": "\u{202E}nodnoL" })
        .to_string()
        .as_bytes(),
    );
    answer.assert_error_with(400, "invalid_text", "field", json!("origin"));
    // Ordinary text in any script still opens a session.
    let ok = integrator_post(
        &server,
        dir.path(),
        "/v1/integrator/sessions",
        json!({ "username": "anna", "app": "Client Portal", "client": "Firefox",
                "origin": "203.0.113.7 (Zürich, 東京, تطبيق)" }),
    );
    assert_eq!(ok.status, 201, "{ok:?}");
    server.stop();
}

#[test]
fn an_activation_naming_its_phone_with_a_bidi_override_is_refused_and_spends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    add_user(&server, dir.path(), "anna", "US");
    let start_answer = start_activation(&server, dir.path(), "anna", None);
    let code = last_code(&server);
    let mut spoof = TestPhone::new(&server, "Anna's \u{202E}enohPi");
    let request = spoof.activation_request(
        &server,
        &start_answer.json["ticket"],
        &code,
        KeystoreKind::Software,
    );
    phone_post(&server, "/v1/phone/activate", &request).assert_error_with(
        400,
        "invalid_text",
        "field",
        json!("device name"),
    );
    let mut zero_width = TestPhone::new(&server, "Anna's\u{200D} iPhone");
    let request = zero_width.activation_request(
        &server,
        &start_answer.json["ticket"],
        &code,
        KeystoreKind::Software,
    );
    phone_post(&server, "/v1/phone/activate", &request).assert_error(400, "invalid_text");
    // Nothing was activated and the ticket is still open for a plain name.
    assert_eq!(
        user_view(&server, dir.path(), "anna")["active_phone"],
        json!(false)
    );
    let mut plain = TestPhone::new(&server, "Anna's iPhone");
    let request = plain.activation_request(
        &server,
        &start_answer.json["ticket"],
        &code,
        KeystoreKind::Software,
    );
    assert_eq!(
        phone_post(&server, "/v1/phone/activate", &request).status,
        200
    );
    server.stop();
}

#[test]
fn a_phone_name_stored_before_names_were_checked_does_not_stop_the_old_phone_reading_its_revocation()
 {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let old = activated(&server, dir.path(), "anna", "US");
    let (new, _) = held_move(&server, dir.path(), "anna", "plain name");
    server
        .state
        .store
        .in_transaction(|tx| {
            let mut phone = tx.enrollment(&new.soft.enrollment())?.unwrap();
            phone.device_name = "Evil \u{202E}enohP".into();
            tx.put_enrollment(&phone)
        })
        .unwrap();
    server.clock.advance(HOLD);
    assert_eq!(
        server.state.verifier.complete_due_replacements().unwrap(),
        1
    );
    let (_, sync) = old.sync(&server);
    let sync = sync.unwrap();
    assert_eq!(sync.state, EnrollmentState::Revoked);
    let revoked = sync
        .notices
        .iter()
        .map(|n| {
            latchkey_core::protocol::envelope::open_server::<Notice>(
                n,
                old.soft.server(),
                &old.expects(&server),
            )
            .unwrap()
            .into_message()
        })
        .find(|n| n.kind == NoticeKind::Revoked)
        .unwrap();
    assert_eq!(revoked.new_phone.as_deref(), Some("Evil enohP"));
    server.stop();
}

// ---------------------------------------------------------------------------
// Item 6: "this wasn't me"

#[test]
fn this_wasnt_me_ends_every_pending_login_of_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let phone = activated(&server, dir.path(), "anna", "US");
    let reported = open_session(&server, dir.path(), "anna");
    let reported_request = pushed_request(&server);
    let other = open_session(&server, dir.path(), "anna");
    let other_request = pushed_request(&server);
    let typed = open_session(&server, dir.path(), "anna");
    let denial = phone.signed(
        &server,
        &Denial {
            request: reported_request,
            reason: DenialReason::NotMe,
        },
    );
    assert_eq!(phone_post(&server, "/v1/phone/deny", &denial).status, 200);
    assert_eq!(
        session_status(&server, dir.path(), &reported.json["session_id"]),
        "fraud"
    );
    // The other logins ended with it: neither a push approval nor a typed
    // response can approve them now.
    for session in [&other, &typed] {
        assert_eq!(
            session_status(&server, dir.path(), &session.json["session_id"]),
            "denied"
        );
        let view = server.get(
            &format!(
                "/v1/integrator/sessions/{}",
                session.json["session_id"].as_str().unwrap()
            ),
            Some(&token_in(dir.path())),
        );
        assert_eq!(view.json["decided_by"], "fraud_report", "{view:?}");
    }
    let approval = phone.approval(
        &server,
        other_request,
        other.json["challenge"].as_str().unwrap(),
        PIN,
    );
    phone_post(&server, "/v1/phone/approve", &approval).assert_error(409, "already_decided");
    let response = phone.typed_response(&server, typed.json["challenge"].as_str().unwrap(), PIN);
    server
        .post(
            &format!(
                "/v1/integrator/sessions/{}/response",
                typed.json["session_id"].as_str().unwrap()
            ),
            Some(&token_in(dir.path())),
            "application/json",
            json!({ "response": response }).to_string().as_bytes(),
        )
        .assert_error(409, "already_decided");
    server.stop();
}

// ---------------------------------------------------------------------------
// Item 9: SMS suspensions

#[test]
fn the_third_sms_suspension_within_a_day_requires_a_password_reset() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    add_sms_user(&server, dir.path(), "sam");
    for round in 1..=3 {
        let session = open_sms(&server, dir.path(), "sam");
        let code = delivered_code(&server);
        for _ in 0..4 {
            submit(&server, dir.path(), &id_of(&session), &other_than(&code))
                .assert_error(403, "wrong_sms_code");
        }
        let fifth = submit(&server, dir.path(), &id_of(&session), &other_than(&code));
        fifth.assert_error_with(403, "wrong_sms_code", "attempts_left", json!(0));
        let reset = &fifth.json["error"]["password_reset_required"];
        if round < 3 {
            assert_eq!(*reset, json!(null), "round {round}: {fifth:?}");
            assert_eq!(
                user_view(&server, dir.path(), "sam")["password_reset_required"],
                false
            );
        } else {
            assert_eq!(*reset, json!(true), "{fifth:?}");
        }
        server.clock.advance(3600);
    }
    // The suspension is over, but the account needs a password reset first.
    assert_eq!(
        user_view(&server, dir.path(), "sam")["password_reset_required"],
        true
    );
    try_open(&server, dir.path(), "sam", "latchkey login", None)
        .assert_error(403, "password_reset_required");
    let done = integrator_post(
        &server,
        dir.path(),
        "/v1/integrator/users/sam/password-reset-done",
        json!({}),
    );
    assert_eq!(done.status, 200, "{done:?}");
    let after = open_sms(&server, dir.path(), "sam");
    let code = delivered_code(&server);
    assert_eq!(
        submit(&server, dir.path(), &id_of(&after), &code).json["status"],
        "approved"
    );
    server.stop();
}

// ---------------------------------------------------------------------------
// Item 10: epoch 0

#[test]
fn an_active_phone_signing_at_epoch_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let mut phone = activated(&server, dir.path(), "anna", "US");
    phone.soft.set_epoch(0);
    let (answer, _) = phone.sync(&server);
    answer.assert_error(409, "wrong_epoch");
    phone.soft.set_epoch(1);
    let (answer, _) = phone.sync(&server);
    assert_eq!(answer.status, 200, "{answer:?}");
    server.stop();
}

#[test]
fn a_moved_phone_syncs_at_epoch_zero_only_until_it_has_signed_at_its_own_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let _old = activated(&server, dir.path(), "anna", "US");
    let (mut new, _) = held_move(&server, dir.path(), "anna", "new phone");
    server.clock.advance(HOLD);
    // Its move completed: epoch 0 brings the receipt, as often as needed (an
    // answer may be lost).
    for _ in 0..2 {
        let (answer, sync) = new.sync(&server);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(sync.unwrap().receipt.is_some());
    }
    let (_, sync) = new.sync(&server);
    new.accept_receipt(
        &server,
        &serde_json::to_value(sync.unwrap().receipt.unwrap()).unwrap(),
    );
    assert_eq!(new.soft.epoch(), 2);
    let (answer, _) = new.sync(&server);
    assert_eq!(answer.status, 200, "{answer:?}");
    // From then on, epoch 0 is refused.
    new.soft.set_epoch(0);
    let (answer, _) = new.sync(&server);
    answer.assert_error(409, "wrong_epoch");
    server.stop();
}
