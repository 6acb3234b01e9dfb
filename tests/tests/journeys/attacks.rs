//! The attacks: what an attacker tries against the real server and the real
//! phone core over HTTP on loopback, and what stops it.

use super::{with_phone, world};
use latchkey_core::device::{AccountState, AuthenticatorError, TransportResponse, Unlock};
use latchkey_core::protocol::DenialReason;
use latchkey_journeys::journeys::{PIN, WRONG_PIN};
use latchkey_journeys::{Transcript, journeys};
use serde_json::json;

#[test]
fn a_replayed_approval_is_refused() {
    let world = world();
    let phone = with_phone(&world, "anna");
    let (session, challenge, _) = world.open_session("anna", "Client Portal").unwrap();
    let alert = phone
        .authenticator
        .handle_push(&world.last_login_push().unwrap())
        .unwrap();
    phone
        .authenticator
        .approve(
            &alert.request.to_string(),
            Some(&challenge),
            Unlock::pin(PIN),
        )
        .unwrap();
    let captured = phone.last_sent("/v1/phone/approve").unwrap();
    let (status, body) = phone.replay(&captured).unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_decided"))
    );
    assert_eq!(world.session_status(&session).unwrap(), "approved");
}

#[test]
fn a_replayed_typed_response_is_refused_and_does_not_log_in_another_session() {
    let world = world();
    let phone = with_phone(&world, "anna");
    let account = phone.account("anna").unwrap();
    let (first, challenge, _) = world.open_session("anna", "Client Portal").unwrap();
    let response = phone
        .authenticator
        .respond_to_challenge(account, &challenge, Unlock::pin(PIN))
        .unwrap()
        .response;
    assert_eq!(
        world.type_response(&first, &response).unwrap().json["status"],
        "approved"
    );
    let again = world.type_response(&first, &response).unwrap();
    assert_eq!(again.json["error"]["code"], "already_decided");
    // Another session has another challenge: the old response is wrong there.
    let (second, _, _) = world.open_session("anna", "Client Portal").unwrap();
    let reused = world.type_response(&second, &response).unwrap();
    assert_eq!(reused.json["error"]["code"], "wrong_response");
    assert_eq!(world.session_status(&second).unwrap(), "failed");
}

#[test]
fn a_replaced_phone_cannot_approve() {
    let world = world();
    let old = with_phone(&world, "anna");
    let new =
        journeys::move_approved_on_old_phone(&world, &Transcript::quiet(), &old, "anna").unwrap();
    let (session, challenge, _) = world.open_session("anna", "Client Portal").unwrap();
    let handle = world.last_login_push().unwrap()["request"].clone();
    // The old phone no longer has the account's secrets, and its key no longer counts.
    let refused = old
        .authenticator
        .approve(&handle, Some(&challenge), Unlock::pin(PIN));
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(world.session_status(&session).unwrap(), "pending");
    new.authenticator
        .approve(&handle, Some(&challenge), Unlock::pin(PIN))
        .unwrap();
    assert_eq!(world.session_status(&session).unwrap(), "approved");
}

#[test]
fn an_approval_after_the_push_expired_is_refused() {
    let world = world();
    let phone = with_phone(&world, "anna");
    let (session, challenge, _) = world.open_session("anna", "Client Portal").unwrap();
    let alert = phone
        .authenticator
        .handle_push(&world.last_login_push().unwrap())
        .unwrap();
    world.advance(120);
    let late = phone.authenticator.approve(
        &alert.request.to_string(),
        Some(&challenge),
        Unlock::pin(PIN),
    );
    assert!(matches!(late, Err(AuthenticatorError::Expired)), "{late:?}");
    assert_eq!(world.session_status(&session).unwrap(), "pending");
}

#[test]
fn push_bombing_stops_at_five_pushes_in_ten_minutes() {
    let world = world();
    let _phone = with_phone(&world, "anna");
    let pushes: Vec<String> = (0..6)
        .map(|_| {
            world.open_session("anna", "Client Portal").unwrap().2.json["push"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(pushes, ["sent", "sent", "sent", "sent", "sent", "refused"]);
    world.advance(600);
    assert_eq!(
        world.open_session("anna", "Client Portal").unwrap().2.json["push"],
        "sent"
    );
}

#[test]
fn a_wrong_typed_code_ends_the_login_as_fraud_and_the_pin_is_not_tested() {
    let world = world();
    let phone = with_phone(&world, "anna");
    let (session, challenge, _) = world.open_session("anna", "Client Portal").unwrap();
    let other = if challenge == "999999" {
        "100000".to_owned()
    } else {
        (challenge.parse::<u32>().unwrap() + 1).to_string()
    };
    let alert = phone
        .authenticator
        .handle_push(&world.last_login_push().unwrap())
        .unwrap();
    // A social engineer reads out their own code; with a wrong PIN as well.
    let refused = phone.authenticator.approve(
        &alert.request.to_string(),
        Some(&other),
        Unlock::pin(WRONG_PIN),
    );
    assert!(
        matches!(refused, Err(AuthenticatorError::CodeMismatch)),
        "{refused:?}"
    );
    assert_eq!(world.session_status(&session).unwrap(), "fraud");
    let report = phone.sync("anna").unwrap();
    assert_eq!(
        report.failures, 0,
        "the response was not evaluated, so nothing was counted"
    );
}

#[test]
fn a_tampered_server_signature_is_refused_by_the_phone() {
    let world = world();
    let phone = with_phone(&world, "anna");
    let (session, challenge, _) = world.open_session("anna", "Client Portal").unwrap();
    let handle = world.last_login_push().unwrap()["request"].clone();
    // A proxy rewrites the signed login request (a different app name).
    phone.set_tamper(Some(Box::new(|request, answer: TransportResponse| {
        if !request.url.ends_with("/v1/phone/request") {
            return answer;
        }
        let mut json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        let mut body =
            latchkey_core::protocol::b64::decode(json["body"].as_str().unwrap()).unwrap();
        let at = body
            .windows(13)
            .position(|w| w == b"Client Portal")
            .unwrap();
        body[at..at + 13].copy_from_slice(b"Your Bank App");
        json["body"] = json!(latchkey_core::protocol::b64::encode(&body));
        TransportResponse {
            status: answer.status,
            body: json.to_string().into_bytes(),
        }
    })));
    let refused = phone.authenticator.pending_request(&handle);
    assert!(
        matches!(refused, Err(AuthenticatorError::Protocol(_))),
        "{refused:?}"
    );
    phone.set_tamper(None);
    let shown = phone.authenticator.pending_request(&handle).unwrap();
    assert_eq!(shown.app, "Client Portal");
    phone
        .authenticator
        .approve(&handle, Some(&challenge), Unlock::pin(PIN))
        .unwrap();
    assert_eq!(world.session_status(&session).unwrap(), "approved");
}

#[test]
fn a_forged_push_handle_shows_nothing() {
    let world = world();
    let phone = with_phone(&world, "anna");
    let forged = [
        ("latchkey".to_owned(), "1".to_owned()),
        (
            "request".to_owned(),
            "00112233445566778899aabbccddeeff".to_owned(),
        ),
    ]
    .into_iter()
    .collect();
    let alert = phone.authenticator.handle_push(&forged).unwrap();
    let shown = phone
        .authenticator
        .pending_request(&alert.request.to_string());
    assert!(
        matches!(shown, Err(AuthenticatorError::UnknownRequest)),
        "{shown:?}"
    );
    let malformed = [
        ("latchkey".to_owned(), "1".to_owned()),
        ("request".to_owned(), "../../etc".to_owned()),
    ]
    .into_iter()
    .collect();
    assert!(matches!(
        phone.authenticator.handle_push(&malformed),
        Err(AuthenticatorError::BadInput(_))
    ));
}

#[test]
fn a_forged_unsigned_revoked_answer_leaves_the_phone_its_secrets() {
    let world = world();
    let phone = with_phone(&world, "anna");
    phone.set_tamper(Some(Box::new(|request, answer: TransportResponse| {
        if request.url.ends_with("/v1/phone/sync") {
            let body = json!({ "error": { "code": "enrollment_revoked", "message": "revoked" }, "state": "revoked" });
            return TransportResponse { status: 403, body: body.to_string().into_bytes() };
        }
        answer
    })));
    let _ = phone.sync("anna");
    let account = phone.account("anna").unwrap();
    assert_eq!(
        phone.authenticator.account(account).unwrap().state,
        AccountState::Active
    );
    phone.set_tamper(Some(Box::new(|_, _| TransportResponse {
        status: 404,
        body: b"<html>Not Found</html>".to_vec(),
    })));
    let _ = phone.sync("anna");
    assert_eq!(
        phone.authenticator.account(account).unwrap().state,
        AccountState::Active
    );
    phone.set_tamper(None);
    // The secrets still work.
    journeys::push_login_with_pin(&world, &Transcript::quiet(), &phone, "anna").unwrap();
}

#[test]
fn a_sim_swap_replacement_is_held_and_cancelled_by_the_owner() {
    let world = world();
    let owner = with_phone(&world, "bob");
    let phone =
        journeys::lost_phone_replacement(&world, &Transcript::quiet(), &owner, "bob").unwrap();
    assert_eq!(phone.sync("bob").unwrap().state, AccountState::Active);
}

#[test]
fn a_phone_cannot_approve_another_accounts_session() {
    let world = world();
    let anna = with_phone(&world, "anna");
    let _eve = with_phone(&world, "eve");
    let (session, challenge, _) = world.open_session("eve", "Client Portal").unwrap();
    let handle = world.last_login_push().unwrap()["request"].clone();
    let shown = anna.authenticator.pending_request(&handle);
    assert!(
        matches!(shown, Err(AuthenticatorError::UnknownRequest)),
        "{shown:?}"
    );
    let approved = anna
        .authenticator
        .approve(&handle, Some(&challenge), Unlock::pin(PIN));
    assert!(approved.is_err(), "{approved:?}");
    let denied = anna.authenticator.deny(&handle, DenialReason::NotMe);
    assert!(denied.is_err(), "{denied:?}");
    assert_eq!(world.session_status(&session).unwrap(), "pending");
}
