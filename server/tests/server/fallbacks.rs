//! The fallbacks and policy over real HTTP: push limits, "this wasn't me", opting
//! out (refused for Hong Kong and India), SMS and voice codes with their limits,
//! the voice call's keypress, client versions, the per-account wrong-code
//! suspension (also under concurrency), SMS refused while a phone is active, and
//! the phone-number change. Every limit is checked one second (or one step)
//! either side on the server's `ManualClock`; nothing sleeps.

use super::ceremonies::{
    NowForTests, PIN, TestPhone, failures_of, integrator_post, outbox_bodies, phone_post,
    pushed_request,
};
use super::fixture::Fixture;
use super::{Answer, Running, T0, token_in};
use latchkey_core::protocol::envelope::open_server;
use latchkey_core::protocol::{Denial, DenialReason, Notice, NoticeKind, ProofAction};
use latchkey_server::store::{AccountRecord, StoreExt};
use serde_json::{Value, json};
use std::path::Path;

const SFC_CITATION: &str = "SFC Guidelines for Reducing and Mitigating Hacking Risks \
                            Associated with Internet Trading, 27 Oct 2017, art. 1.1";
const NSE_CITATION: &str = "NSE circular of 25 Mar 2014, reg. 3b";
const SMS_NUMBER: &str = "+14155550123";

// ---------------------------------------------------------------------------
// Helpers

fn get(server: &Running, dir: &Path, path: &str) -> Answer {
    server.get(path, Some(&token_in(dir)))
}

pub(super) fn user_view(server: &Running, dir: &Path, username: &str) -> Value {
    let answer = get(server, dir, &format!("/v1/integrator/users/{username}"));
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json
}

/// A user whose second factor is SMS.
pub(super) fn add_sms_user(server: &Running, dir: &Path, username: &str) {
    let answer = integrator_post(
        server,
        dir,
        "/v1/integrator/users",
        json!({ "username": username, "password": "correct horse battery", "phone": SMS_NUMBER,
                "email": format!("{username}@example.com"), "jurisdiction": "US",
                "second_factor": "sms" }),
    );
    assert_eq!(answer.status, 201, "{answer:?}");
}

/// Opens a session as the named client; any status.
pub(super) fn try_open(
    server: &Running,
    dir: &Path,
    username: &str,
    client: &str,
    version: Option<&str>,
) -> Answer {
    let mut body = json!({ "username": username, "app": "Client Portal", "client": client,
                           "origin": "203.0.113.7" });
    if let Some(version) = version {
        body["client_version"] = json!(version);
    }
    integrator_post(server, dir, "/v1/integrator/sessions", body)
}

/// Opens an SMS session as "latchkey login" (no voice minimum).
pub(super) fn open_sms(server: &Running, dir: &Path, username: &str) -> Answer {
    let answer = try_open(server, dir, username, "latchkey login", None);
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(answer.json["second_factor"], "sms", "{answer:?}");
    answer
}

pub(super) fn id_of(session: &Answer) -> String {
    session.json["session_id"].as_str().unwrap().to_owned()
}

fn new_code(server: &Running, dir: &Path, session: &str, channel: &str) -> Answer {
    integrator_post(
        server,
        dir,
        &format!("/v1/integrator/sessions/{session}/new-code"),
        json!({ "channel": channel }),
    )
}

pub(super) fn submit(server: &Running, dir: &Path, session: &str, code: &str) -> Answer {
    integrator_post(
        server,
        dir,
        &format!("/v1/integrator/sessions/{session}/code"),
        json!({ "code": code }),
    )
}

/// The newest login code delivered (an SMS text, or a voice call's reading).
pub(super) fn delivered_code(server: &Running) -> String {
    outbox_bodies(server)
        .iter()
        .rev()
        .find_map(|b| match b["channel"].as_str() {
            Some("sms") => b["body"]["text"]
                .as_str()
                .filter(|t| t.contains("login security code is"))
                .and_then(|t| {
                    t.split(|c: char| !c.is_ascii_digit())
                        .find(|w| w.len() == 6)
                        .map(str::to_owned)
                }),
            Some("voice") if b["body"]["event"] == "code_read" => {
                b["body"]["code"].as_str().map(str::to_owned)
            }
            _ => None,
        })
        .expect("a delivered login code")
}

/// A 6-digit code other than `code`.
pub(super) fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    if n == 999_999 {
        "100000".into()
    } else {
        format!("{:06}", n + 1)
    }
}

pub(super) fn audit_kinds(server: &Running) -> Vec<String> {
    server
        .state
        .store
        .in_transaction(|tx| tx.audit_after(0, 10_000))
        .unwrap()
        .into_iter()
        .map(|row| row.event.kind.as_str().to_owned())
        .collect()
}

pub(super) fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

fn typed_login(server: &Running, dir: &Path, phone: &TestPhone, session: &Answer) -> Answer {
    let response = phone.typed_response(server, session.json["challenge"].as_str().unwrap(), PIN);
    integrator_post(
        server,
        dir,
        &format!("/v1/integrator/sessions/{}/response", id_of(session)),
        json!({ "response": response }),
    )
}

// ---------------------------------------------------------------------------
// Push limits

#[test]
fn the_sixth_push_in_ten_minutes_is_refused_until_the_first_leaves_the_window() {
    let (fx, phone) = Fixture::with_active_phone("anna");
    for _ in 0..5 {
        assert_eq!(fx.open_session("anna").json["push"], "sent");
        fx.clock.advance(1);
    }
    // T0+5: the sixth within ten minutes.
    let refused = fx.open_session("anna");
    assert_eq!(refused.json["push"], "refused", "{refused:?}");
    assert_eq!(refused.json["push_resumes_at"], json!(T0 + 600));
    assert!(
        refused.json["push_refused"]
            .as_str()
            .unwrap()
            .contains("challenge/response"),
        "{refused:?}"
    );
    fx.clock.advance(600 - 5 - 1);
    assert_eq!(fx.open_session("anna").json["push"], "refused");
    fx.clock.advance(1);
    assert_eq!(fx.open_session("anna").json["push"], "sent");
    // The login screen falls back to the typed response; a success starts the
    // count again even inside the window.
    for _ in 0..4 {
        let _ = fx.open_session("anna");
    }
    let refused = fx.open_session("anna");
    assert_eq!(refused.json["push"], "refused");
    let approved = typed_login(&fx, fx.path(), &phone, &refused);
    assert_eq!(approved.json["status"], "approved", "{approved:?}");
    fx.clock.advance(1);
    assert_eq!(fx.open_session("anna").json["push"], "sent");
    fx.stop();
}

#[test]
fn the_twenty_first_push_in_a_day_is_refused_until_the_first_is_a_day_old() {
    let fx = Fixture::new();
    let _phone = fx.activated("anna", "US");
    // Two minutes apart: never five in ten minutes.
    for i in 0..20 {
        let answer = fx.open_session("anna");
        assert_eq!(answer.json["push"], "sent", "push {i}: {answer:?}");
        fx.clock.advance(120);
    }
    let refused = fx.open_session("anna");
    assert_eq!(refused.json["push"], "refused");
    assert_eq!(refused.json["push_resumes_at"], json!(T0 + 86_400));
    let now = fx.clock.now_for_tests();
    fx.clock.advance(T0 + 86_400 - 1 - now);
    assert_eq!(fx.open_session("anna").json["push"], "refused");
    fx.clock.advance(1);
    assert_eq!(fx.open_session("anna").json["push"], "sent");
    fx.stop();
}

// ---------------------------------------------------------------------------
// Deny and report

#[test]
fn not_me_stops_pushes_for_a_day_forces_a_reset_tells_the_user_and_is_reported() {
    let (fx, phone) = Fixture::with_active_phone("anna");
    let session = fx.open_session("anna");
    let request = pushed_request(&fx);
    let before = outbox_bodies(&fx).len();
    let denied = phone_post(
        &fx,
        "/v1/phone/deny",
        &phone.signed(
            &fx,
            &Denial {
                request,
                reason: DenialReason::NotMe,
            },
        ),
    );
    assert_eq!(denied.json, json!({ "outcome": "denied" }));
    // The login ended as fraud.
    assert_eq!(fx.session_status(&session.json["session_id"]), "fraud");
    // The password must be reset.
    assert_eq!(fx.user_view("anna")["password_reset_required"], true);
    // The user was told by e-mail and by SMS.
    let told = &outbox_bodies(&fx)[before..];
    assert!(
        told.iter().any(|b| b["channel"] == "email"
            && b["to"] == "anna@example.com"
            && b["body"]["body"].as_str().unwrap().contains("203.0.113.7")),
        "{told:?}"
    );
    assert!(
        told.iter().any(|b| b["channel"] == "sms"
            && b["body"]["text"]
                .as_str()
                .unwrap()
                .contains("reported a login")),
        "{told:?}"
    );
    // The integrator sees the report.
    let reports = get(&fx, fx.path(), "/v1/integrator/fraud-reports");
    let report = &reports.json["reports"][0];
    assert_eq!(report["kind"], "fraud_reported", "{reports:?}");
    assert_eq!(report["username"], "anna");
    assert_eq!(report["detail"]["session"], session.json["session_id"]);
    assert_eq!(report["detail"]["origin"], "203.0.113.7");
    assert_eq!(report["detail"]["client"], "Firefox on Linux");
    assert_eq!(count(&audit_kinds(&fx), "fraud_reported"), 1);
    // No login until the reset; after it, no push for 24 hours (one second either side).
    fx.integrator_post("/v1/integrator/sessions", json!({ "username": "anna" }))
        .assert_error(403, "password_reset_required");
    let reset = fx.integrator_post("/v1/integrator/users/anna/password-reset-done", json!({}));
    assert_eq!(reset.status, 200, "{reset:?}");
    let paused = fx.open_session("anna");
    assert_eq!(paused.json["push"], "refused");
    assert_eq!(paused.json["push_resumes_at"], json!(T0 + 86_400));
    assert!(
        paused.json["push_refused"]
            .as_str()
            .unwrap()
            .contains("paused"),
        "{paused:?}"
    );
    fx.clock.advance(86_399);
    assert_eq!(fx.open_session("anna").json["push"], "refused");
    fx.clock.advance(1);
    assert_eq!(fx.open_session("anna").json["push"], "sent");
    fx.stop();
}

// ---------------------------------------------------------------------------
// Opting out

#[test]
fn hong_kong_and_india_cannot_opt_out_and_the_refusal_cites_the_rule() {
    let fx = Fixture::new();
    for (username, jurisdiction, citation) in
        [("hana", "HK", SFC_CITATION), ("ishaan", "IN", NSE_CITATION)]
    {
        let phone = fx.activated(username, jurisdiction);
        let proof = phone.proof(&fx, ProofAction::OptOut, Vec::new(), PIN);
        let refused = phone_post(&fx, "/v1/phone/proof", &proof);
        refused.assert_error_with(403, "two_factor_mandatory", "citation", json!(citation));
        assert!(
            refused.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(citation),
            "{refused:?}"
        );
        // Nothing changed and nothing was counted.
        assert_eq!(failures_of(&fx, &phone), 0);
        let view = fx.user_view(username);
        assert_eq!(view["two_factor"], "on", "{view:?}");
        assert_eq!(view["policy"]["citation"], citation);
        let session = fx.open_session(username);
        assert_eq!(session.json["status"], "pending");
        assert_eq!(session.json["second_factor"], "phone");
        // Even an opt-out recorded before the policy forbade it is not honoured.
        fx.state
            .store
            .in_transaction(|tx| {
                let mut state: AccountRecord = tx.account_state(username)?;
                state.opted_out = true;
                tx.put_account_state(username, &state)
            })
            .unwrap();
        let session = fx.open_session(username);
        assert_eq!(session.json["status"], "pending", "{session:?}");
        assert_eq!(fx.user_view(username)["two_factor"], "on");
    }
    assert_eq!(count(&audit_kinds(&fx), "opted_out"), 0);
    fx.stop();
}

#[test]
fn an_ordinary_account_opts_out_only_after_the_pin_proof_and_then_logs_in_without_a_second_factor()
{
    let (fx, phone) = Fixture::with_active_phone("anna");
    assert_eq!(fx.user_view("anna")["two_factor"], "on");
    // A device signature with a wrong PIN is not a step-up: refused and counted.
    let wrong = phone.proof(&fx, ProofAction::OptOut, Vec::new(), "999888");
    phone_post(&fx, "/v1/phone/proof", &wrong).assert_error(403, "wrong_response");
    assert_eq!(failures_of(&fx, &phone), 1);
    assert_eq!(fx.user_view("anna")["two_factor"], "on");
    assert_eq!(fx.open_session("anna").json["status"], "pending");
    assert_eq!(count(&audit_kinds(&fx), "opted_out"), 0);

    let right = phone.proof(&fx, ProofAction::OptOut, Vec::new(), PIN);
    let done = phone_post(&fx, "/v1/phone/proof", &right);
    assert_eq!(done.json, json!({ "outcome": "opted_out" }), "{done:?}");
    // The state shows it, with the warning recorded.
    let view = fx.user_view("anna");
    assert_eq!(view["two_factor"], "opted_out", "{view:?}");
    assert_eq!(view["opted_out_at"], json!(T0));
    let warning = view["opt_out_warning"].as_str().unwrap().to_owned();
    assert!(
        warning.contains("anyone who learns the password"),
        "{warning}"
    );
    let audit = fx
        .state
        .store
        .in_transaction(|tx| tx.audit_after(0, 1000))
        .unwrap();
    let opted = audit
        .iter()
        .find(|r| r.event.kind.as_str() == "opted_out")
        .unwrap();
    assert_eq!(opted.event.detail["warning"], warning.as_str());
    assert!(outbox_bodies(&fx).iter().any(|b| b["channel"] == "email"
        && b["body"]["subject"] == "Two-factor authentication turned off"));
    // A login is approved at open, and the answer says why.
    let session = fx.open_session("anna");
    assert_eq!(session.json["status"], "approved", "{session:?}");
    assert_eq!(session.json["second_factor"], "none");
    assert_eq!(session.json["push"], "not_used");
    assert!(session.json["note"].as_str().unwrap().contains("opted out"));
    assert_eq!(session.json["opt_out_warning"], warning.as_str());
    let polled = get(
        &fx,
        fx.path(),
        &format!("/v1/integrator/sessions/{}", id_of(&session)),
    );
    assert_eq!(polled.json["status"], "approved");
    assert_eq!(polled.json["decided_by"], "opted_out");
    // The reference login screen sees the same.
    let credentials = json!({ "username": "anna", "password": "correct horse battery" });
    let account = fx.post(
        "/v1/login/account",
        None,
        "application/json",
        credentials.to_string().as_bytes(),
    );
    assert_eq!(account.json["two_factor"], "opted_out", "{account:?}");
    assert_eq!(account.json["opt_out_warning"], warning.as_str());
    let login = fx.post(
        "/v1/login/sessions",
        None,
        "application/json",
        credentials.to_string().as_bytes(),
    );
    assert_eq!(login.json["status"], "approved", "{login:?}");
    fx.stop();
}

// ---------------------------------------------------------------------------
// SMS codes and their limits

#[test]
fn an_sms_login_sends_a_code_that_logs_in_within_five_minutes_and_not_after() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    let session = fx.open_sms("sam");
    assert_eq!(session.json["push"], "not_used");
    assert_eq!(session.json["code"]["outcome"], "sent", "{session:?}");
    assert_eq!(session.json["code"]["channel"], "sms");
    assert_eq!(session.json["code"]["expires_at"], json!(T0 + 300));
    assert_eq!(session.json["code"]["next_code_at"], json!(T0 + 120));
    assert_eq!(session.json["voice"]["offered"], true);
    let sms = outbox_bodies(&fx)
        .into_iter()
        .rev()
        .find(|b| b["channel"] == "sms")
        .unwrap();
    assert_eq!(sms["to"], SMS_NUMBER);
    let code = delivered_code(&fx);
    fx.clock.advance(299);
    let approved = fx.submit(&id_of(&session), &code);
    assert_eq!(approved.json["status"], "approved", "{approved:?}");
    assert_eq!(approved.json["decided_by"], "sms");
    // Used once.
    fx.submit(&id_of(&session), &code)
        .assert_error(409, "already_decided");

    fx.clock.advance(120);
    let late = fx.open_sms("sam");
    let code = delivered_code(&fx);
    fx.clock.advance(300);
    fx.submit(&id_of(&late), &code).assert_error(410, "expired");
    // Malformed codes are refused before anything is counted.
    fx.submit(&id_of(&late), "12345")
        .assert_error(400, "bad_request");
    assert_eq!(count(&audit_kinds(&fx), "wrong_login_code"), 0);
    fx.stop();
}

#[test]
fn a_new_code_replaces_the_old_one_and_comes_at_most_every_two_minutes() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    let session = fx.open_sms("sam");
    let id = id_of(&session);
    let first = delivered_code(&fx);
    fx.clock.advance(119);
    new_code(&fx, fx.path(), &id, "sms").assert_error_with(
        429,
        "code_too_soon",
        "retry_after",
        json!(T0 + 120),
    );
    fx.clock.advance(1);
    let sent = new_code(&fx, fx.path(), &id, "sms");
    assert_eq!(
        sent.json,
        json!({ "outcome": "sent", "channel": "sms", "expires_at": T0 + 420, "next_code_at": T0 + 240 })
    );
    let second = delivered_code(&fx);
    if second != first {
        // The old code no longer works (and counts as a wrong one).
        fx.submit(&id, &first)
            .assert_error_with(403, "wrong_sms_code", "attempts_left", json!(4));
    }
    let approved = fx.submit(&id, &second);
    assert_eq!(approved.json["status"], "approved", "{approved:?}");
    fx.stop();
}

#[test]
fn at_most_five_codes_are_sent_in_fifteen_minutes() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    // Sends at T0 (open), +120, +240; a new session at +360 (send), +480.
    let first = fx.open_sms("sam");
    for _ in 0..2 {
        fx.clock.advance(120);
        assert_eq!(new_code(&fx, fx.path(), &id_of(&first), "sms").status, 200);
    }
    fx.clock.advance(120);
    let second = fx.open_sms("sam");
    assert_eq!(second.json["code"]["outcome"], "sent");
    fx.clock.advance(120);
    assert_eq!(new_code(&fx, fx.path(), &id_of(&second), "sms").status, 200);
    // T0+600: the sixth in fifteen minutes.
    fx.clock.advance(120);
    new_code(&fx, fx.path(), &id_of(&second), "sms").assert_error_with(
        429,
        "too_many_codes",
        "retry_after",
        json!(T0 + 900),
    );
    fx.clock.advance(299);
    let third = fx.open_sms("sam");
    assert_eq!(third.json["code"]["outcome"], "refused", "{third:?}");
    assert_eq!(third.json["code"]["refused"], "too_many_codes");
    assert_eq!(third.json["code"]["retry_after"], json!(T0 + 900));
    fx.clock.advance(1);
    let sent = new_code(&fx, fx.path(), &id_of(&third), "sms");
    assert_eq!(sent.json["outcome"], "sent", "{sent:?}");
    let code = delivered_code(&fx);
    assert_eq!(fx.submit(&id_of(&third), &code).json["status"], "approved");
    fx.stop();
}

#[test]
fn the_daily_cap_refuses_the_eleventh_code_until_the_first_is_a_day_old() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    // 181 s apart: at most four in any fifteen minutes, ten in the day.
    for i in 0..10 {
        let session = fx.open_sms("sam");
        assert_eq!(
            session.json["code"]["outcome"], "sent",
            "send {i}: {session:?}"
        );
        fx.clock.advance(181);
    }
    let capped = fx.open_sms("sam");
    assert_eq!(
        capped.json["code"]["refused"], "daily_code_limit",
        "{capped:?}"
    );
    new_code(&fx, fx.path(), &id_of(&capped), "voice").assert_error_with(
        429,
        "daily_code_limit",
        "retry_after",
        json!(T0 + 86_400),
    );
    let now = fx.clock.now_for_tests();
    fx.clock.advance(T0 + 86_400 - 1 - now);
    assert_eq!(
        fx.open_sms("sam").json["code"]["refused"],
        "daily_code_limit"
    );
    fx.clock.advance(1);
    assert_eq!(fx.open_sms("sam").json["code"]["outcome"], "sent");
    fx.stop();
}

// ---------------------------------------------------------------------------
// Wrong codes: per account, across sessions

#[test]
fn five_wrong_codes_across_sessions_suspend_sms_logins_for_exactly_an_hour() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    let first = fx.open_sms("sam");
    let code = delivered_code(&fx);
    for left in [4, 3] {
        fx.submit(&id_of(&first), &other_than(&code))
            .assert_error_with(403, "wrong_sms_code", "attempts_left", json!(left));
    }
    fx.clock.advance(120);
    let second = fx.open_sms("sam");
    let code = delivered_code(&fx);
    for left in [2, 1] {
        fx.submit(&id_of(&second), &other_than(&code))
            .assert_error_with(403, "wrong_sms_code", "attempts_left", json!(left));
    }
    let before = outbox_bodies(&fx).len();
    let fifth = fx.submit(&id_of(&second), &other_than(&code));
    fifth.assert_error_with(403, "wrong_sms_code", "attempts_left", json!(0));
    let until = T0 + 120 + 3600;
    assert_eq!(fifth.json["error"]["retry_after"], json!(until));
    // The user is told by e-mail.
    let told = &outbox_bodies(&fx)[before..];
    assert!(
        told.iter().any(|b| b["channel"] == "email"
            && b["to"] == "sam@example.com"
            && b["body"]["subject"] == "SMS and voice logins suspended"),
        "{told:?}"
    );
    // Suspended: even the right code is refused, uncounted.
    fx.submit(&id_of(&second), &code).assert_error_with(
        429,
        "sms_suspended",
        "retry_after",
        json!(until),
    );
    new_code(&fx, fx.path(), &id_of(&second), "voice").assert_error(429, "sms_suspended");
    let kinds = audit_kinds(&fx);
    assert_eq!(count(&kinds, "wrong_login_code"), 5);
    assert_eq!(count(&kinds, "sms_suspended"), 1);
    assert_eq!(fx.user_view("sam")["sms_suspended_until"], json!(until));
    // Exactly one hour: refused at 3599 s, allowed at 3600 s.
    fx.clock.advance(3599);
    fx.try_open("sam", "latchkey login", None)
        .assert_error_with(429, "sms_suspended", "retry_after", json!(until));
    fx.clock.advance(1);
    let after = fx.open_sms("sam");
    assert_eq!(after.json["code"]["outcome"], "sent");
    let code = delivered_code(&fx);
    assert_eq!(fx.submit(&id_of(&after), &code).json["status"], "approved");
    fx.stop();
}

#[test]
fn a_right_code_starts_the_run_of_wrong_codes_again() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    let first = fx.open_sms("sam");
    let code = delivered_code(&fx);
    for _ in 0..4 {
        fx.submit(&id_of(&first), &other_than(&code))
            .assert_error(403, "wrong_sms_code");
    }
    assert_eq!(fx.submit(&id_of(&first), &code).json["status"], "approved");
    fx.clock.advance(120);
    let second = fx.open_sms("sam");
    let code = delivered_code(&fx);
    for left in [4, 3, 2, 1] {
        fx.submit(&id_of(&second), &other_than(&code))
            .assert_error_with(403, "wrong_sms_code", "attempts_left", json!(left));
    }
    fx.stop();
}

#[test]
fn parallel_wrong_codes_are_counted_exactly_and_none_past_the_suspension() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    let session = fx.open_sms("sam");
    let id = id_of(&session);
    let wrong = other_than(&delivered_code(&fx));
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|_| {
                let (server, dir, id, wrong) = (&fx, fx.path(), &id, &wrong);
                scope.spawn(move || submit(server, dir, id, wrong).json)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let codes: Vec<&str> = answers
        .iter()
        .map(|a| a["error"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(count_str(&codes, "wrong_sms_code"), 5, "{codes:?}");
    assert_eq!(count_str(&codes, "sms_suspended"), 7, "{codes:?}");
    let mut left: Vec<u64> = answers
        .iter()
        .filter(|a| a["error"]["code"] == "wrong_sms_code")
        .map(|a| a["error"]["attempts_left"].as_u64().unwrap())
        .collect();
    left.sort_unstable();
    assert_eq!(left, [0, 1, 2, 3, 4]);
    let kinds = audit_kinds(&fx);
    assert_eq!(count(&kinds, "wrong_login_code"), 5);
    assert_eq!(count(&kinds, "sms_suspended"), 1);
    fx.stop();
}

fn count_str(items: &[&str], item: &str) -> usize {
    items.iter().filter(|i| **i == item).count()
}

// ---------------------------------------------------------------------------
// Voice

#[test]
fn the_voice_call_reads_the_code_only_after_the_callee_presses_a_key() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    let session = fx.try_open("sam", "Trader Workstation", Some("10.30"));
    assert_eq!(
        session.json["voice"],
        json!({ "offered": true }),
        "{session:?}"
    );
    let id = id_of(&session);
    fx.clock.advance(120);
    let before = outbox_bodies(&fx).len();
    let calling = new_code(&fx, fx.path(), &id, "voice");
    assert_eq!(calling.json["outcome"], "calling", "{calling:?}");
    assert_eq!(calling.json["channel"], "voice");
    // The call is placed; its row says the code is withheld and holds no code.
    let placed = outbox_bodies(&fx)[before..].to_vec();
    assert_eq!(placed.len(), 1, "{placed:?}");
    let row = &placed[0];
    assert_eq!(row["channel"], "voice");
    assert_eq!(row["to"], SMS_NUMBER);
    assert_eq!(row["body"]["event"], "placed");
    assert_eq!(row["body"]["press_key_first"], true);
    assert!(row["body"].get("code").is_none(), "{row:?}");
    let call = row["body"]["call"].as_str().unwrap().to_owned();
    assert!(
        !outbox_bodies(&fx)
            .iter()
            .any(|b| b["body"]["event"] == "code_read"),
        "nothing was read before the keypress"
    );
    // The callee presses a key: now the code is read, once.
    let pressed = fx.post(
        &format!("/v1/dev/voice-calls/{call}/keypress"),
        None,
        "application/json",
        b"",
    );
    assert_eq!(
        pressed.json,
        json!({ "outcome": "code_read" }),
        "{pressed:?}"
    );
    let read = outbox_bodies(&fx)[before..].to_vec();
    assert_eq!(read.len(), 2);
    assert_eq!(read[1]["body"]["event"], "code_read");
    assert_eq!(read[1]["body"]["call"], call.as_str());
    fx.post(
        &format!("/v1/dev/voice-calls/{call}/keypress"),
        None,
        "application/json",
        b"",
    )
    .assert_error(404, "not_found");
    let code = delivered_code(&fx);
    let approved = fx.submit(&id, &code);
    assert_eq!(approved.json["status"], "approved", "{approved:?}");
    assert_eq!(approved.json["decided_by"], "voice");
    fx.stop();

    // Production has no keypress endpoint.
    let prod = Fixture::production();
    prod.post(
        "/v1/dev/voice-calls/00/keypress",
        None,
        "application/json",
        b"",
    )
    .assert_error(404, "not_found");
    prod.stop();
}

#[test]
fn an_old_client_is_refused_voice_and_told_the_minimum_version() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    let old = fx.try_open("sam", "Trader Workstation", Some("10.29.9"));
    assert_eq!(old.status, 201, "{old:?}");
    assert_eq!(old.json["voice"]["offered"], false);
    assert_eq!(old.json["voice"]["minimum_version"], "10.30");
    fx.clock.advance(120);
    let refused = new_code(&fx, fx.path(), &id_of(&old), "voice");
    refused.assert_error_with(403, "voice_not_offered", "minimum_version", json!("10.30"));
    let message = refused.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Trader Workstation 10.30 or later") && message.contains("10.29.9"),
        "{message}"
    );
    // Nothing was sent or counted by the refusal; SMS still works.
    assert_eq!(
        new_code(&fx, fx.path(), &id_of(&old), "sms").json["outcome"],
        "sent"
    );
    // A client with a minimum that states no version is told so, too.
    fx.clock.advance(120);
    let unstated = fx.try_open("sam", "Client Portal", None);
    assert_eq!(unstated.json["voice"]["offered"], false);
    fx.clock.advance(120);
    let refused = new_code(&fx, fx.path(), &id_of(&unstated), "voice");
    refused.assert_error_with(403, "voice_not_offered", "minimum_version", json!("1.0"));
    assert!(
        refused.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not state its version")
    );
    // A version that is not dotted numbers is refused at the door.
    fx.try_open("sam", "Trader Workstation", Some("10.30-beta"))
        .assert_error(400, "invalid_field");
    fx.stop();
}

// ---------------------------------------------------------------------------
// SMS and the phone

#[test]
fn sms_is_never_offered_while_the_account_has_an_active_phone() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    // An SMS login in progress when a phone becomes active…
    let before_phone = fx.open_sms("sam");
    let code = delivered_code(&fx);
    let _phone = fx.activate_phone("sam");
    fx.submit(&id_of(&before_phone), &code)
        .assert_error(409, "phone_active");
    fx.clock.advance(120);
    new_code(&fx, fx.path(), &id_of(&before_phone), "sms").assert_error(409, "phone_active");
    // …and new logins use the phone: no code is sent.
    let sms_before = outbox_bodies(&fx)
        .iter()
        .filter(|b| b["channel"] == "sms")
        .count();
    let session = fx.open_session("sam");
    assert_eq!(session.json["second_factor"], "phone");
    assert_eq!(session.json["push"], "sent");
    assert!(session.json.get("code").is_none(), "{session:?}");
    new_code(&fx, fx.path(), &id_of(&session), "sms").assert_error(409, "phone_active");
    new_code(&fx, fx.path(), &id_of(&session), "voice").assert_error(409, "phone_active");
    let sms_after = outbox_bodies(&fx)
        .iter()
        .filter(|b| b["channel"] == "sms")
        .count();
    assert_eq!(sms_before, sms_after);
    // An account whose second factor is the phone never gets codes either.
    fx.add_user("pat", "US");
    let session = fx.open_session("pat");
    new_code(&fx, fx.path(), &id_of(&session), "sms").assert_error(409, "sms_not_enabled");
    fx.stop();
}

// ---------------------------------------------------------------------------
// Changing the verified phone number

#[test]
fn changing_the_phone_number_needs_a_fresh_pin_proof_and_tells_old_number_email_and_phone() {
    let (fx, phone) = Fixture::with_active_phone("anna");
    let change = |number: &str| {
        fx.integrator_post(
            "/v1/integrator/users/anna/phone-number",
            json!({ "phone": number }),
        )
    };
    change("+447700900123").assert_error(403, "step_up_required");
    // A wrong PIN does not authorise it.
    let wrong = phone.proof(&fx, ProofAction::ChangePhoneNumber, Vec::new(), "999888");
    phone_post(&fx, "/v1/phone/proof", &wrong).assert_error(403, "wrong_response");
    change("+447700900123").assert_error(403, "step_up_required");
    // A proof authorises one change within five minutes.
    let right = phone.proof(&fx, ProofAction::ChangePhoneNumber, Vec::new(), PIN);
    assert_eq!(
        phone_post(&fx, "/v1/phone/proof", &right).json["outcome"],
        "phone_number_change_authorised"
    );
    fx.clock.advance(300);
    change("+447700900123").assert_error(403, "step_up_required");
    let right = phone.proof(&fx, ProofAction::ChangePhoneNumber, Vec::new(), PIN);
    assert_eq!(phone_post(&fx, "/v1/phone/proof", &right).status, 200);
    fx.clock.advance(299);
    let before = outbox_bodies(&fx).len();
    let changed = change("+447700900123");
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.json["phone"], "+447700900123");
    // Spent: a second change needs another proof.
    change("+447700900456").assert_error(403, "step_up_required");
    // The old number, the e-mail address and the phone are told.
    let told = &outbox_bodies(&fx)[before..];
    assert!(
        told.iter().any(|b| b["channel"] == "sms"
            && b["to"] == "+85212345678"
            && b["body"]["text"].as_str().unwrap().contains("+447****0123")),
        "{told:?}"
    );
    assert!(
        told.iter()
            .any(|b| b["channel"] == "email" && b["to"] == "anna@example.com"),
        "{told:?}"
    );
    assert!(told.iter().any(|b| b["channel"] == "push"), "{told:?}");
    let (_, answer) = phone.sync(&fx);
    let notice = answer
        .unwrap()
        .notices
        .iter()
        .map(|n| {
            open_server::<Notice>(n, phone.soft.server(), &phone.expects(&fx))
                .unwrap()
                .into_message()
        })
        .find(|n| n.text.contains("phone number"))
        .expect("a signed notice");
    assert_eq!(notice.kind, NoticeKind::ActivationStarted);
    assert!(notice.text.contains("+447****0123"), "{}", notice.text);
    let kinds = audit_kinds(&fx);
    assert_eq!(count(&kinds, "phone_number_change_authorised"), 2);
    assert_eq!(count(&kinds, "phone_number_changed"), 1);

    // An SMS account without a phone changes its number without a proof; its live
    // code (sent to the old number) stops working.
    fx.add_sms_user("sam");
    let session = fx.open_sms("sam");
    let code = delivered_code(&fx);
    let changed = fx.integrator_post(
        "/v1/integrator/users/sam/phone-number",
        json!({ "phone": "+14155550999" }),
    );
    assert_eq!(changed.status, 200, "{changed:?}");
    fx.submit(&id_of(&session), &code)
        .assert_error(409, "no_code");
    fx.stop();
}

#[test]
fn sms_and_voice_codes_never_reach_the_log() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    let session = fx.open_sms("sam");
    let sms_code = delivered_code(&fx);
    fx.submit(&id_of(&session), &other_than(&sms_code))
        .assert_error(403, "wrong_sms_code");
    fx.clock.advance(120);
    assert_eq!(
        new_code(&fx, fx.path(), &id_of(&session), "voice").status,
        200
    );
    let call = outbox_bodies(&fx).last().unwrap()["body"]["call"]
        .as_str()
        .unwrap()
        .to_owned();
    let pressed = fx.post(
        &format!("/v1/dev/voice-calls/{call}/keypress"),
        None,
        "application/json",
        b"",
    );
    assert_eq!(pressed.status, 200);
    let voice_code = delivered_code(&fx);
    assert_eq!(
        fx.submit(&id_of(&session), &voice_code).json["status"],
        "approved"
    );
    fx.stop();
    let logs = String::from_utf8(super::captured_logs().lock().unwrap().clone()).unwrap();
    assert!(logs.contains("login security code is [redacted]"), "{logs}");
    assert!(logs.contains("code withheld until keypress"), "{logs}");
    // Log lines carry timestamps with six-digit fractions, so look at the lines
    // about this account's messages and requests, and at the code in context.
    for line in logs
        .lines()
        .filter(|l| l.contains(&call) || l.contains("outbox"))
    {
        for code in [&sms_code, &voice_code] {
            assert!(
                !line.contains(&format!("is {code}")) && !line.contains(&format!("={code}")),
                "{line}"
            );
        }
    }
}

#[test]
fn parallel_requests_for_a_new_code_send_exactly_one() {
    let fx = Fixture::new();
    fx.add_sms_user("sam");
    let session = fx.open_sms("sam");
    let id = id_of(&session);
    fx.clock.advance(120);
    let before = outbox_bodies(&fx).len();
    let outcomes: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (server, dir, id) = (&fx, fx.path(), &id);
                let channel = if i % 2 == 0 { "sms" } else { "voice" };
                scope.spawn(move || {
                    let answer = new_code(server, dir, id, channel);
                    answer.json["outcome"]
                        .as_str()
                        .or(answer.json["error"]["code"].as_str())
                        .unwrap()
                        .to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sent = outcomes
        .iter()
        .filter(|o| *o == "sent" || *o == "calling")
        .count();
    assert_eq!(sent, 1, "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|o| *o == "code_too_soon").count(),
        7,
        "{outcomes:?}"
    );
    assert_eq!(outbox_bodies(&fx).len(), before + 1);
    fx.stop();
}
