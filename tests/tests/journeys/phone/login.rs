//! Push logins and challenge/response (PROTOCOL §6.2–6.3) from the phone's side,
//! against the real verifier: ported from `core/src/device/authenticator/login.rs`
//! (issue 17).

use super::{PIN, TestPhone, open_login, require_password_reset, sign_by, sign_naming, world};
use latchkey_core::device::{
    AuthenticatorError, HistoryEvent, MatchingMode, SimulatedOutcome, TransportError, Unlock,
};
use latchkey_core::protocol::{DenialReason, EnrollmentId, LoginRequest, ProtocolError, RequestId};
use latchkey_journeys::World;
use std::collections::HashMap;
use std::sync::atomic::Ordering;

fn push(request: &str) -> HashMap<String, String> {
    HashMap::from([
        ("latchkey".to_owned(), "1".to_owned()),
        ("request".to_owned(), request.to_owned()),
    ])
}

#[test]
fn a_push_is_an_opaque_handle_and_the_alert_is_generic() {
    let world = world();
    let phone = TestPhone::on(&world);
    phone.activated(&world, "alice");
    let (request, _) = open_login(&world, "alice");
    let alert = phone.authenticator.handle_push(&push(&request)).unwrap();
    assert_eq!(alert.request.to_string(), request);
    assert_eq!(alert.body, "Login request — open Latchkey to review");
    let json = format!(r#"{{"latchkey":"1","request":"{request}","aps":{{"alert":"x"}}}}"#);
    assert_eq!(phone.authenticator.handle_push_json(&json).unwrap(), alert);
    assert_eq!(
        phone.transport.requests().len(),
        1,
        "no network for a push (the one request is the activation)"
    );
}

#[test]
fn a_malformed_push_is_a_typed_error_and_nothing_else_happens() {
    let world = world();
    let phone = TestPhone::on(&world);
    phone.activated(&world, "alice");
    let before = phone.transport.requests().len();
    let good = "00112233445566778899aabbccddeeff";
    for data in [
        push("00112233445566778899AABBCCDDEEFF"),
        push("0011"),
        push("../../v1/phone/remove"),
        HashMap::from([
            ("latchkey".to_owned(), "2".to_owned()),
            ("request".to_owned(), good.to_owned()),
        ]),
        HashMap::from([("request".to_owned(), good.to_owned())]),
        HashMap::new(),
    ] {
        assert!(
            matches!(
                phone.authenticator.handle_push(&data),
                Err(AuthenticatorError::BadInput(_))
            ),
            "{data:?}"
        );
    }
    for json in ["[]", "{\"latchkey\":1,\"request\":\"x\"}", "not json", "{}"] {
        assert!(matches!(
            phone.authenticator.handle_push_json(json),
            Err(AuthenticatorError::BadInput(_))
        ));
    }
    assert_eq!(phone.transport.requests().len(), before);
    assert_eq!(phone.authenticator.history().unwrap().len(), 1);
}

#[test]
fn approving_with_the_pin_sends_a_response_the_server_verifies() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let (session, challenge, _) = world.open_session("alice", "Client Portal").unwrap();
    let request = world.last_login_push().unwrap()["request"].clone();
    let pending = phone.authenticator.pending_request(&request).unwrap();
    assert_eq!(pending.account, account);
    assert_eq!(pending.app, "Client Portal");
    assert_eq!(pending.origin, "203.0.113.7 (Hong Kong)");
    assert!(pending.needs_typed_code);
    assert_eq!(pending.expires_at, world.now() + 120);
    phone
        .authenticator
        .approve(&request, Some(&challenge), Unlock::pin(PIN))
        .unwrap();
    // The verifier checked the response: the login screen's session is approved.
    assert_eq!(world.session_status(&session).unwrap(), "approved");
    let history = phone.authenticator.history().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.event, HistoryEvent::Approved);
    assert_eq!(
        last.request_id.map(|r| r.to_string()),
        Some(request.clone())
    );
    assert!(last.summary.contains("Client Portal"));
    // Decided once.
    assert!(matches!(
        phone
            .authenticator
            .approve(&request, Some(&challenge), Unlock::pin(PIN)),
        Err(AuthenticatorError::AlreadyDecided)
    ));
}

#[test]
fn a_wrong_pin_surfaces_the_attempts_left_and_then_the_delay() {
    let world = world();
    let phone = TestPhone::on(&world);
    phone.activated(&world, "alice");
    for attempt in 1..=3u64 {
        let (request, challenge) = open_login(&world, "alice");
        let result = phone
            .authenticator
            .approve(&request, Some(&challenge), Unlock::pin("731904"));
        match result {
            Err(AuthenticatorError::WrongResponse {
                attempts_left,
                retry_after,
            }) => {
                assert_eq!(attempts_left, Some(10 - attempt), "attempt {attempt}");
                assert_eq!(retry_after.is_some(), attempt >= 3, "attempt {attempt}");
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
    }
    // During the delay the server refuses without counting; the request stays
    // answerable, and the right PIN then succeeds.
    let (request, challenge) = open_login(&world, "alice");
    phone.authenticator.pending_request(&request).unwrap();
    let retry_at = world.now() + 30;
    phone.transport.push_response(
        429,
        format!(
            r#"{{"error":{{"code":"attempt_delayed","message":"wait","retry_after":{retry_at}}}}}"#
        ),
    );
    assert!(matches!(
        phone.authenticator.approve(&request, Some(&challenge), Unlock::pin(PIN)),
        Err(AuthenticatorError::Delayed {
            retry_after: Some(at)
        }) if at == retry_at
    ));
    // The verifier's own delay after the third failure runs out first.
    world.advance(3600);
    phone.clock.advance(3600);
    let (request, challenge) = open_login(&world, "alice");
    phone
        .authenticator
        .approve(&request, Some(&challenge), Unlock::pin(PIN))
        .unwrap();
}

#[test]
fn a_code_that_is_not_the_login_screens_ends_the_login() {
    let world = world();
    let phone = TestPhone::on(&world);
    phone.activated(&world, "alice");
    let (request, challenge) = open_login(&world, "alice");
    let value: u32 = challenge.parse().unwrap();
    let other = if value == 999_999 { 100_000 } else { value + 1 };
    assert!(matches!(
        phone
            .authenticator
            .approve(&request, Some(&other.to_string()), Unlock::pin(PIN)),
        Err(AuthenticatorError::CodeMismatch)
    ));
    assert!(matches!(
        phone
            .authenticator
            .approve(&request, Some("012345"), Unlock::pin(PIN)),
        Err(AuthenticatorError::AlreadyDecided | AuthenticatorError::BadInput(_))
    ));
}

/// A login request for `request`, signed by `signer`'s key with a header naming
/// `named`'s server, as the answer to the phone's next fetch.
#[allow(clippy::too_many_arguments)]
fn queue_request(
    phone: &TestPhone,
    signer: &World,
    named: &World,
    enrollment: EnrollmentId,
    epoch: u64,
    request: RequestId,
    mode: MatchingMode,
) {
    let signed = sign_naming(
        signer,
        named,
        enrollment,
        epoch,
        120,
        &LoginRequest {
            request,
            app: "Client Portal".to_owned(),
            client: "x".to_owned(),
            origin: "y".to_owned(),
            requested_at: signer.now(),
            matching_mode: mode,
            challenge: (mode == MatchingMode::Tap).then(|| "583920".parse().unwrap()),
        },
    );
    phone.transport.push_response(200, signed.to_json());
}

#[test]
fn a_login_request_is_checked_before_anything_is_shown() {
    let world = world();
    let impostor = super::world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let enrollment = phone.enrollment_of(account);
    let epoch = phone.authenticator.account(account).unwrap().epoch;
    let request = RequestId::random().unwrap();
    let handle = request.to_string();
    let w = &world;
    let code = MatchingMode::Code;

    // Signed by another key, naming our server.
    queue_request(&phone, &impostor, w, enrollment, epoch, request, code);
    assert!(matches!(
        phone.authenticator.pending_request(&handle),
        Err(AuthenticatorError::Protocol(ProtocolError::BadSignature))
    ));
    // Signed by our server's key, naming another server.
    queue_request(&phone, w, &impostor, enrollment, epoch, request, code);
    assert!(matches!(
        phone.authenticator.pending_request(&handle),
        Err(AuthenticatorError::Protocol(ProtocolError::WrongServer))
    ));
    let other = EnrollmentId::from_bytes([5; 16]);
    queue_request(&phone, w, w, other, epoch, request, code);
    assert!(matches!(
        phone.authenticator.pending_request(&handle),
        Err(AuthenticatorError::Protocol(ProtocolError::WrongEnrollment))
    ));
    queue_request(&phone, w, w, enrollment, epoch + 1, request, code);
    assert!(matches!(
        phone.authenticator.pending_request(&handle),
        Err(AuthenticatorError::Protocol(
            ProtocolError::WrongEpoch { .. }
        ))
    ));
    // Expired: signed for 120 s, read 300 s later by the phone's clock.
    queue_request(&phone, w, w, enrollment, epoch, request, code);
    phone.clock.advance(300);
    assert!(matches!(
        phone.authenticator.pending_request(&handle),
        Err(AuthenticatorError::Expired)
    ));
    world.advance(300);
    queue_request(&phone, w, w, enrollment, epoch, request, MatchingMode::Tap);
    assert!(matches!(
        phone.authenticator.pending_request(&handle),
        Err(AuthenticatorError::Protocol(ProtocolError::BadField(_)))
    ));
    let another = RequestId::random().unwrap();
    queue_request(&phone, w, w, enrollment, epoch, another, code);
    assert!(matches!(
        phone.authenticator.pending_request(&handle),
        Err(AuthenticatorError::Protocol(ProtocolError::BadField(
            "request id"
        )))
    ));
    // A forged handle: the real verifier does not know it.
    assert!(matches!(
        phone.authenticator.pending_request(&handle),
        Err(AuthenticatorError::UnknownRequest)
    ));
    // Nothing refused was kept: approving the handle still finds nothing.
    assert!(matches!(
        phone
            .authenticator
            .approve(&handle, Some("583920"), Unlock::pin(PIN)),
        Err(AuthenticatorError::UnknownRequest)
    ));
}

#[test]
fn a_signed_login_request_with_bidi_or_zero_width_text_is_refused_before_it_is_shown() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    let enrollment = phone.enrollment_of(account);
    let epoch = phone.authenticator.account(account).unwrap().epoch;
    // Correctly signed by the pinned server, but the origin would render as
    // "203.0.113.7 London" reversed past the override, and the client hides a
    // zero-width joiner.
    for (app, client, origin) in [
        ("Client Portal", "Firefox", "203.0.113.7 \u{202E}nodnoL"),
        ("Client Portal", "Fire\u{200D}fox", "203.0.113.7"),
        ("\u{2067}Client Portal\u{2069}", "Firefox", "203.0.113.7"),
    ] {
        let request = RequestId::random().unwrap();
        let signed = sign_by(
            &world,
            enrollment,
            epoch,
            120,
            &LoginRequest {
                request,
                app: app.to_owned(),
                client: client.to_owned(),
                origin: origin.to_owned(),
                requested_at: world.now(),
                matching_mode: MatchingMode::Code,
                challenge: None,
            },
        );
        phone.transport.push_response(200, signed.to_json());
        assert!(
            matches!(
                phone.authenticator.pending_request(&request.to_string()),
                Err(AuthenticatorError::Protocol(ProtocolError::UnsafeText(_)))
            ),
            "{app} / {client} / {origin}"
        );
    }
}

#[test]
fn an_expired_request_is_refused_before_any_pin_is_asked() {
    let world = world();
    let phone = TestPhone::on(&world);
    phone.activated(&world, "alice");
    let (request, challenge) = open_login(&world, "alice");
    phone.authenticator.pending_request(&request).unwrap();
    phone.clock.advance(121);
    phone.biometrics.set_outcome(SimulatedOutcome::Accept);
    assert!(matches!(
        phone
            .authenticator
            .approve(&request, Some(&challenge), Unlock::biometric("Approve?")),
        Err(AuthenticatorError::Expired)
    ));
    assert!(phone.biometrics.prompts_shown().is_empty());
}

#[test]
fn denying_as_not_me_is_recorded_as_reported_fraud() {
    let world = world();
    let phone = TestPhone::on(&world);
    phone.activated(&world, "alice");
    let (session, _, _) = world.open_session("alice", "Client Portal").unwrap();
    let request = world.last_login_push().unwrap()["request"].clone();
    phone
        .authenticator
        .deny(&request, DenialReason::NotMe)
        .unwrap();
    assert_eq!(world.session_status(&session).unwrap(), "fraud");
    let history = phone.authenticator.history().unwrap();
    assert_eq!(history.last().unwrap().event, HistoryEvent::ReportedFraud);
    // "Not me" forces a password reset and pauses pushes (DESIGN §1.3): once the
    // password is reset and the pause is over, a plain decline.
    require_password_reset(&world, "alice", false);
    world.advance(86_400);
    phone.clock.advance(86_400);
    let (request, _) = open_login(&world, "alice");
    phone
        .authenticator
        .deny(&request, DenialReason::Declined)
        .unwrap();
    assert_eq!(
        phone.authenticator.history().unwrap().last().unwrap().event,
        HistoryEvent::Denied
    );
}

#[test]
fn the_request_is_found_on_whichever_account_knows_it() {
    let world = world();
    let phone = TestPhone::on(&world);
    let alice = phone.activated(&world, "alice");
    let bob = phone.activated(&world, "bob");
    assert_ne!(alice, bob);
    let (request, challenge) = open_login(&world, "bob");
    let pending = phone.authenticator.pending_request(&request).unwrap();
    assert_eq!(pending.account, bob);
    phone
        .authenticator
        .approve(&request, Some(&challenge), Unlock::pin(PIN))
        .unwrap();
}

#[test]
fn challenge_response_works_offline_and_refuses_bad_challenges() {
    let world = world();
    let phone = TestPhone::on(&world);
    let account = phone.activated(&world, "alice");
    phone.offline.store(true, Ordering::SeqCst);
    phone.transport.push_error(TransportError::Offline);
    let before = phone.transport.requests().len();
    let generated = phone
        .authenticator
        .respond_to_challenge(account, "583920", Unlock::pin(PIN))
        .unwrap();
    assert_eq!(generated.response.len(), 8);
    assert!(generated.response.bytes().all(|b| b.is_ascii_digit()));
    assert!(generated.warning.contains("own login screen"));
    assert!(!format!("{generated:?}").contains(&generated.response));
    assert_eq!(
        phone.transport.requests().len(),
        before,
        "no request at all"
    );
    for bad in ["099999", "1000000", "12345", "12345a", ""] {
        assert!(matches!(
            phone
                .authenticator
                .respond_to_challenge(account, bad, Unlock::pin(PIN)),
            Err(AuthenticatorError::BadInput(_))
        ));
    }
    assert_eq!(
        phone.authenticator.history().unwrap().last().unwrap().event,
        HistoryEvent::ResponseGenerated
    );
    // Online things fail as offline, and nothing is wiped. (The queued failure
    // answers this first request; the switch answers the rest.)
    let (request, _) = open_login(&world, "alice");
    assert!(matches!(
        phone.authenticator.pending_request(&request),
        Err(AuthenticatorError::Offline)
    ));
    assert!(phone.authenticator.account(account).is_ok());
}
