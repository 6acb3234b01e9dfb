//! Every journey of DESIGN §1, played with simulated phones against the real
//! server over HTTP. Each function checks every step and says what happened in
//! the transcript; `latchkey demo` runs [`all`], the tests run them one by one.

use crate::{OrFail, Phone, Step, Transcript, World, check};
use latchkey_core::device::{
    AccountState, ActivationOutcome, AuthenticatorError, FindingKind, SimulatedOutcome, SyncEvent,
    Unlock,
};
use latchkey_core::protocol::DenialReason;
use serde_json::json;

/// The PIN every simulated user chooses.
pub const PIN: &str = "402917";
/// A PIN the user mistypes.
pub const WRONG_PIN: &str = "402971";

fn time(world: &World) -> String {
    let t = world.now();
    format!(
        "[demo clock {:02}:{:02}:{:02}, day {}]",
        (t / 3600) % 24,
        (t / 60) % 60,
        t % 60,
        (t - crate::DEMO_START) / 86_400 + 1
    )
}

/// Activation by SMS code: sign in, receive the 13-digit code, choose a PIN twice.
pub fn activation(
    world: &World,
    t: &Transcript,
    username: &str,
    jurisdiction: &str,
    phone_name: &str,
) -> Step<Phone> {
    world.add_user(username, jurisdiction, "phone")?;
    let phone = world.phone(phone_name)?;
    t.say(format!(
        "{} {username} signs in on {phone_name} and asks to activate it.",
        time(world)
    ));
    let ticket = world.start_activation(username, None)?;
    let code = world.last_activation_code()?;
    t.say(format!("  SMS to {username}: \"{}\"", world.last_sms()?));
    // A weak PIN is refused before anything is made.
    let weak = phone.authenticator.activate(
        &world.profile(),
        &ticket,
        &code,
        "123456".into(),
        "123456".into(),
        phone_name,
        None,
    );
    check(matches!(weak, Err(AuthenticatorError::WeakPin(_))), || {
        format!("a weak PIN should be refused: {weak:?}")
    })?;
    t.say("  The PIN 123456 is refused as too easy to guess; the user chooses another, twice.");
    let outcome = phone
        .authenticator
        .activate(
            &world.profile(),
            &ticket,
            &code,
            PIN.into(),
            PIN.into(),
            phone_name,
            Some(phone.push_token.clone()),
        )
        .or_fail("activating")?;
    let ActivationOutcome::Active(account) = outcome else {
        return Err(crate::Failure(format!(
            "activation should complete at once: {outcome:?}"
        )));
    };
    check(account.epoch == 1, || {
        format!("the first phone should have epoch 1, not {}", account.epoch)
    })?;
    t.say(format!("  Activated: {phone_name} is {username}'s authentication phone (epoch {}, signed receipt kept).", account.epoch));
    Ok(phone)
}

/// Push login approved with the typed code and the PIN.
pub fn push_login_with_pin(world: &World, t: &Transcript, phone: &Phone, username: &str) -> Step {
    let (session, challenge, opened) = world.open_session(username, "Client Portal")?;
    check(opened.json["push"] == "sent", || {
        format!("a push should be sent: {:?}", opened.json)
    })?;
    t.say(format!(
        "{} {username} logs in to Client Portal; the login screen shows {challenge}.",
        time(world)
    ));
    let alert = phone
        .authenticator
        .handle_push(&world.last_login_push()?)
        .or_fail("handling the push")?;
    t.say(format!(
        "  The phone shows a notification: \"{}\" (nothing else travels in the push).",
        alert.body
    ));
    let pending = phone
        .authenticator
        .pending_request(&alert.request.to_string())
        .or_fail("fetching the request")?;
    check(pending.app == "Client Portal", || {
        format!("the request should name the app: {pending:?}")
    })?;
    t.say(format!(
        "  The user taps it and sees: {} from {}, using {}.",
        pending.app, pending.origin, pending.client
    ));
    phone
        .authenticator
        .approve(
            &alert.request.to_string(),
            Some(&challenge),
            Unlock::pin(PIN),
        )
        .or_fail("approving with the PIN")?;
    let status = world.session_status(&session)?;
    check(status == "approved", || {
        format!("the login should be approved, not {status}")
    })?;
    t.say(format!(
        "  The user types {challenge} and the PIN: the login proceeds by itself ({status})."
    ));
    Ok(())
}

/// Push login approved with the biometric; a new fingerprint invalidates it.
pub fn push_login_with_biometric(
    world: &World,
    t: &Transcript,
    phone: &Phone,
    username: &str,
) -> Step {
    let account = phone.account(username)?;
    phone
        .authenticator
        .enable_biometric(account, PIN.into())
        .or_fail("enabling the fingerprint")?;
    t.say(format!(
        "{} {username} turns on fingerprint unlock (the PIN is checked by the server first).",
        time(world)
    ));
    let (session, challenge, _) = world.open_session(username, "Trader Workstation")?;
    let alert = phone
        .authenticator
        .handle_push(&world.last_login_push()?)
        .or_fail("handling the push")?;
    phone.biometrics.set_outcome(SimulatedOutcome::Accept);
    phone
        .authenticator
        .approve(
            &alert.request.to_string(),
            Some(&challenge),
            Unlock::biometric("Approve the login to Trader Workstation"),
        )
        .or_fail("approving with the fingerprint")?;
    check(world.session_status(&session)? == "approved", || {
        "the biometric approval should log in".into()
    })?;
    t.say(format!(
        "  Login to Trader Workstation approved with the code {challenge} and a fingerprint."
    ));
    // A new fingerprint enrolled on the phone invalidates the biometric copy.
    phone.biometrics.enroll_new_finger();
    let (session, challenge, _) = world.open_session(username, "Trader Workstation")?;
    let alert = phone
        .authenticator
        .handle_push(&world.last_login_push()?)
        .or_fail("handling the push")?;
    let refused = phone.authenticator.approve(
        &alert.request.to_string(),
        Some(&challenge),
        Unlock::biometric("Approve"),
    );
    check(
        matches!(refused, Err(AuthenticatorError::BiometricInvalidated)),
        || format!("a new fingerprint should invalidate: {refused:?}"),
    )?;
    t.say("  After a new fingerprint is added to the phone, the biometric copy is invalid: the app asks for the PIN.");
    phone
        .authenticator
        .approve(
            &alert.request.to_string(),
            Some(&challenge),
            Unlock::pin(PIN),
        )
        .or_fail("approving with the PIN")?;
    check(world.session_status(&session)? == "approved", || {
        "the PIN approval should log in".into()
    })?;
    Ok(())
}

/// "This wasn't me": denied, reported, pushes stopped, password reset forced.
pub fn deny_and_report(world: &World, t: &Transcript, phone: &Phone, username: &str) -> Step {
    let (session, _, _) = world.open_session(username, "Client Portal")?;
    t.say(format!(
        "{} Someone else enters {username}'s password; the phone gets a login request.",
        time(world)
    ));
    let alert = phone
        .authenticator
        .handle_push(&world.last_login_push()?)
        .or_fail("handling the push")?;
    phone
        .authenticator
        .deny(&alert.request.to_string(), DenialReason::NotMe)
        .or_fail("denying")?;
    check(world.session_status(&session)? == "fraud", || {
        "the denied login should be reported".into()
    })?;
    let user = world.user(username)?;
    check(user["password_reset_required"] == true, || {
        format!("a reset should be forced: {user}")
    })?;
    // The integrator cannot open a session until the reset; after it, the push
    // stays paused for 24 hours.
    let blocked = world.integrator(
        "POST",
        "/v1/integrator/sessions",
        Some(json!({ "username": username })),
    )?;
    check(
        blocked.json["error"]["code"] == "password_reset_required",
        || format!("logins wait for the reset: {:?}", blocked.json),
    )?;
    world.integrator(
        "POST",
        &format!("/v1/integrator/users/{username}/password-reset-done"),
        Some(json!({})),
    )?;
    let (_, _, next) = world.open_session(username, "Client Portal")?;
    check(next.json["push"] == "refused", || {
        format!("pushes should be paused: {:?}", next.json)
    })?;
    let reports = world.integrator("GET", "/v1/integrator/fraud-reports", None)?;
    let reported = reports.json["reports"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x["kind"] == "fraud_reported"));
    check(reported, || {
        "the report should be listed for the integrator".into()
    })?;
    let told = world.outbox()?;
    check(
        told.iter()
            .any(|m| m["channel"] == "email" && m.to_string().contains("did not start")),
        || "an e-mail should tell the user".into(),
    )?;
    t.say("  The user taps \"This wasn't me\": the login is stopped and reported, the password must be reset,");
    t.say("  and the user is told by e-mail and SMS; after the integrator's password reset, login");
    t.say("  notifications stay paused for 24 hours (the login screen offers the challenge/response).");
    Ok(())
}

/// Challenge/response with no notification and no internet.
pub fn offline_challenge_response(
    world: &World,
    t: &Transcript,
    phone: &Phone,
    username: &str,
) -> Step {
    let (session, challenge, _) = world.open_session(username, "Client Portal")?;
    phone.set_online(false);
    t.say(format!(
        "{} The phone is in airplane mode. The login screen shows {challenge};",
        time(world)
    ));
    t.say("  the user clicks \"Click here if you do not receive the notification\".");
    let account = phone.account(username)?;
    let answer = phone
        .authenticator
        .respond_to_challenge(account, &challenge, Unlock::pin(PIN))
        .or_fail("generating the response")?;
    phone.set_online(true);
    check(answer.response.len() == 8, || {
        format!("the response should have 8 digits: {}", answer.response)
    })?;
    t.say(format!(
        "  Authenticate → PIN → {challenge} → Generate: {} (\"{}\")",
        answer.response, answer.warning
    ));
    let typed = world.type_response(&session, &answer.response)?;
    check(typed.json["status"] == "approved", || {
        format!("the typed response should log in: {:?}", typed.json)
    })?;
    t.say("  Typed into the login screen: logged in.");
    Ok(())
}

/// A move to a new phone approved on the old one; the old phone is told and wiped.
pub fn move_approved_on_old_phone(
    world: &World,
    t: &Transcript,
    old: &Phone,
    username: &str,
) -> Step<Phone> {
    let new = world.phone(&format!("{username}'s new phone"))?;
    let outcome = new.activate(world, username, PIN, Some("approve_on_old_phone"))?;
    let ActivationOutcome::Pending {
        replacement,
        held: false,
        ..
    } = outcome
    else {
        return Err(crate::Failure(format!(
            "the move should wait for the old phone: {outcome:?}"
        )));
    };
    t.say(format!(
        "{} {username} activates a new phone; the old one is asked to approve.",
        time(world)
    ));
    let report = old.sync(username)?;
    let asked = report
        .events
        .iter()
        .any(|e| matches!(e, SyncEvent::ReplacementPending { .. }));
    check(asked, || {
        format!("the old phone should be told: {:?}", report.events)
    })?;
    let account = old.account(username)?;
    old.authenticator
        .approve_replacement(account, &replacement.to_string(), Unlock::pin(PIN))
        .or_fail("approving the move")?;
    t.say("  On the old phone: \"Move Latchkey to the new phone?\" → PIN → approved.");
    let old_state = old
        .authenticator
        .account(account)
        .or_fail("the old account")?
        .state;
    check(matches!(old_state, AccountState::Replaced { .. }), || {
        format!("the old phone should be replaced and wiped: {old_state:?}")
    })?;
    t.say(format!(
        "  The old phone received the signed revocation and wiped its secrets ({old_state:?})."
    ));
    let report = new.sync(username)?;
    check(report.state == AccountState::Active, || {
        format!("the new phone should be active: {:?}", report.state)
    })?;
    let epoch = new
        .authenticator
        .account(new.account(username)?)
        .or_fail("new account")?
        .epoch;
    check(epoch == 2, || {
        format!("the new phone should have epoch 2, not {epoch}")
    })?;
    t.say(format!(
        "  The new phone is active (epoch {epoch}); logins now go to it."
    ));
    push_login_with_pin(world, t, &new, username)?;
    Ok(new)
}

/// A lost-phone replacement: held, cancelled from the old phone, then completed
/// after the hold.
pub fn lost_phone_replacement(
    world: &World,
    t: &Transcript,
    old: &Phone,
    username: &str,
) -> Step<Phone> {
    let intruder = world.phone("a SIM-swapper's phone")?;
    let outcome = intruder.activate(world, username, "583014", Some("lost_phone"))?;
    let ActivationOutcome::Pending {
        replacement,
        held: true,
        effective_at,
        ..
    } = outcome
    else {
        return Err(crate::Failure(format!(
            "a lost-phone move should be held: {outcome:?}"
        )));
    };
    t.say(format!(
        "{} Someone with {username}'s password and a swapped SIM starts a lost-phone move: held for {} hours.",
        time(world),
        effective_at.map(|t| t.saturating_sub(world.now()) / 3600).unwrap_or(0)
    ));
    let told = world.outbox()?;
    check(
        told.iter()
            .any(|m| m["channel"] == "email" && m.to_string().contains("cancel")),
        || "the e-mail should carry a cancel link".into(),
    )?;
    old.sync(username)?;
    let account = old.account(username)?;
    old.authenticator
        .cancel_replacement(account, &replacement.to_string(), Unlock::pin(PIN))
        .or_fail("cancelling")?;
    t.say("  The owner's phone, e-mail and SMS were told at once; on the old phone: Cancel → PIN → cancelled.");
    let report = intruder.sync(username);
    let intruder_state = intruder
        .authenticator
        .accounts()
        .or_fail("accounts")?
        .first()
        .map(|a| a.state.clone());
    check(
        !matches!(intruder_state, Some(AccountState::Active)),
        || format!("the cancelled move must not activate: {report:?} {intruder_state:?}"),
    )?;
    t.say("  The would-be new phone is never activated.");

    // The owner really lost the phone this time: the hold passes.
    world.advance(3600);
    let new = world.phone(&format!("{username}'s replacement phone"))?;
    let outcome = new.activate(world, username, PIN, Some("lost_phone"))?;
    let ActivationOutcome::Pending {
        effective_at: Some(effective_at),
        ..
    } = outcome
    else {
        return Err(crate::Failure(format!(
            "the move should be held: {outcome:?}"
        )));
    };
    t.say(format!(
        "{} {username} really lost the phone and starts the move from a new one.",
        time(world)
    ));
    world.advance(effective_at - world.now() - 1);
    let report = new.sync(username)?;
    check(matches!(report.state, AccountState::Pending { .. }), || {
        format!("one second before the hold ends: {:?}", report.state)
    })?;
    world.advance(1);
    let report = new.sync(username)?;
    check(report.state == AccountState::Active, || {
        format!("at the end of the hold: {:?}", report.state)
    })?;
    t.say(format!(
        "{} 72 hours later the new phone is active.",
        time(world)
    ));
    Ok(new)
}

/// Wrong PINs: delays, a password reset at 5, disabled at 10.
pub fn wrong_pins(world: &World, t: &Transcript, phone: &Phone, username: &str) -> Step {
    let account = phone.account(username)?;
    t.say(format!(
        "{} Someone keeps guessing {username}'s PIN on the challenge/response screen:",
        time(world)
    ));
    let mut failures = 0;
    while failures < 10 {
        let (session, challenge, _) =
            world.open_session(username, "Client Portal").or_else(|e| {
                // While a reset is required the integrator resets first.
                world.integrator(
                    "POST",
                    &format!("/v1/integrator/users/{username}/password-reset-done"),
                    Some(json!({})),
                )?;
                let _ = e;
                world.open_session(username, "Client Portal")
            })?;
        let guess = phone
            .authenticator
            .respond_to_challenge(account, &challenge, Unlock::pin(WRONG_PIN))
            .or_fail("guessing")?;
        let answer = world.type_response(&session, &guess.response)?;
        match answer.json["error"]["code"].as_str() {
            Some("wrong_response") => {
                failures += 1;
                let left = &answer.json["error"]["attempts_left"];
                let reset = answer.json["error"]["password_reset_required"] == true;
                t.say(format!(
                    "  wrong response #{failures}: {left} attempts left{}",
                    if reset {
                        ", password reset required"
                    } else {
                        ""
                    }
                ));
                check(left == &json!(10 - failures), || {
                    format!("attempts left after {failures}: {left}")
                })?;
                if failures == 5 {
                    check(reset, || {
                        "the 5th failure should require a password reset".into()
                    })?;
                }
            }
            Some("attempt_delayed") => {
                let until = answer.json["error"]["retry_after"]
                    .as_u64()
                    .or_fail("retry_after")?;
                check(failures >= 3, || {
                    format!("no delay before the 3rd failure (after {failures})")
                })?;
                t.say(format!(
                    "  refused, not counted: wait {} s",
                    until - world.now()
                ));
                world.advance(until - world.now());
            }
            Some("password_reset_required") => {
                world.integrator(
                    "POST",
                    &format!("/v1/integrator/users/{username}/password-reset-done"),
                    Some(json!({})),
                )?;
            }
            other => {
                return Err(crate::Failure(format!(
                    "unexpected answer to a wrong response: {other:?} {:?}",
                    answer.json
                )));
            }
        }
    }
    let report = phone.sync(username)?;
    check(report.state == AccountState::Disabled, || {
        format!(
            "after 10 failures the phone should be disabled: {:?}",
            report.state
        )
    })?;
    let opened = world.integrator(
        "POST",
        "/v1/integrator/sessions",
        Some(json!({ "username": username })),
    )?;
    check(
        opened.json["error"]["code"] == "enrollment_disabled",
        || format!("logins should be refused: {:?}", opened.json),
    )?;
    t.say("  After the 10th failure the phone is disabled for the account until it is replaced.");
    Ok(())
}

/// Hong Kong and India cannot opt out of 2FA; an ordinary account can, after a step-up.
pub fn opt_outs(world: &World, t: &Transcript) -> Step {
    for (username, jurisdiction, rule) in
        [("hoi", "HK", "27 Oct 2017"), ("priya", "IN", "25 Mar 2014")]
    {
        let phone = activation(
            world,
            &Transcript::quiet(),
            username,
            jurisdiction,
            &format!("{username}'s phone"),
        )?;
        let refused = phone
            .authenticator
            .opt_out_of_two_factor(phone.account(username)?, Unlock::pin(PIN));
        match &refused {
            Err(AuthenticatorError::ServerRefused { code, message })
                if code == "two_factor_mandatory" && message.contains(rule) =>
            {
                t.say(format!(
                    "{} {username} ({jurisdiction}) asks to turn 2FA off: refused — {message}",
                    time(world)
                ));
            }
            other => {
                return Err(crate::Failure(format!(
                    "{jurisdiction} opt-out should be refused citing {rule}: {other:?}"
                )));
            }
        }
    }
    let phone = activation(world, &Transcript::quiet(), "olga", "US", "Olga's phone")?;
    let account = phone.account("olga")?;
    let wrong = phone
        .authenticator
        .opt_out_of_two_factor(account, Unlock::pin(WRONG_PIN));
    check(
        matches!(wrong, Err(AuthenticatorError::WrongResponse { .. })),
        || format!("a wrong PIN must not opt out: {wrong:?}"),
    )?;
    phone
        .authenticator
        .opt_out_of_two_factor(account, Unlock::pin(PIN))
        .or_fail("opting out")?;
    t.say(format!("{} olga (US) is warned that anyone with her password could log in, confirms with her PIN: opted out.", time(world)));
    Ok(())
}

/// A new verified phone number for an account with a phone: refused on the password
/// alone, allowed for 5 minutes after the phone's PIN proof, which the change spends.
pub fn phone_number_change(world: &World, t: &Transcript) -> Step {
    let phone = activation(world, &Transcript::quiet(), "nina", "US", "Nina's phone")?;
    let account = phone.account("nina")?;
    let change = |number: &str| {
        world.integrator(
            "POST",
            "/v1/integrator/users/nina/phone-number",
            Some(json!({ "phone": number })),
        )
    };
    let refused = change("+14155550199")?;
    check(
        refused.status == 403 && refused.json["error"]["code"] == "step_up_required",
        || format!("a number change without the phone must be refused: {refused:?}"),
    )?;
    let wrong = phone
        .authenticator
        .authorise_phone_number_change(account, Unlock::pin(WRONG_PIN));
    check(
        matches!(wrong, Err(AuthenticatorError::WrongResponse { .. })),
        || format!("a wrong PIN must not authorise the change: {wrong:?}"),
    )?;
    phone
        .authenticator
        .authorise_phone_number_change(account, Unlock::pin(PIN))
        .or_fail("authorising the number change")?;
    let changed = change("+14155550199")?;
    check(
        changed.status == 200 && changed.json["phone"] == "+14155550199",
        || format!("the authorised change should go through: {changed:?}"),
    )?;
    let again = change("+14155550198")?;
    check(again.json["error"]["code"] == "step_up_required", || {
        format!("the authorisation is spent by one change: {again:?}")
    })?;
    t.say(format!(
        "{} nina's new number is refused on the password alone; she confirms on her phone with her PIN and the change goes through, once.",
        time(world)
    ));
    Ok(())
}

/// Notification troubleshooting before and after the push token is registered again.
pub fn notification_diagnosis(
    world: &World,
    t: &Transcript,
    phone: &Phone,
    username: &str,
) -> Step {
    let account = phone.account(username)?;
    let findings = phone
        .authenticator
        .diagnose(account, false, None)
        .or_fail("diagnosing")?;
    let kinds: Vec<&FindingKind> = findings.iter().map(|f| &f.kind).collect();
    check(kinds.contains(&&FindingKind::NotificationsDisabled), || {
        format!("notifications off should be found: {kinds:?}")
    })?;
    check(kinds.contains(&&FindingKind::NoPushToken), || {
        format!("no token should be found: {kinds:?}")
    })?;
    t.say(format!(
        "{} \"Why don't I get notifications?\" with notifications off and no push token:",
        time(world)
    ));
    for finding in &findings {
        t.say(format!("  - {} → {}", finding.text, finding.step));
    }
    let findings = phone
        .authenticator
        .diagnose(account, true, Some(phone.push_token.clone()))
        .or_fail("diagnosing again")?;
    check(findings.is_empty(), || {
        format!("after re-registering there should be nothing left: {findings:?}")
    })?;
    t.say("  After allowing notifications and opening the app online (the token is registered again): nothing found.");
    push_login_with_pin(world, &Transcript::quiet(), phone, username)?;
    t.say("  The next login gets its notification again.");
    Ok(())
}

/// The newest 6-digit code the outbox sent by SMS or read out on a call.
fn last_security_code(world: &World) -> Step<String> {
    let outbox = world.outbox()?;
    outbox
        .iter()
        .rev()
        .find_map(|m| {
            let text = m["body"]["text"]
                .as_str()
                .or_else(|| m["body"]["code"].as_str())?;
            text.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .map(str::to_owned)
        })
        .or_fail("finding the security code")
}

/// An SMS-only account logs in with an SMS code; "Request new code"; a voice callback
/// that reads the code only after a keypress; an old client is refused voice.
pub fn sms_and_voice_login(world: &World, t: &Transcript, username: &str) -> Step {
    world.add_user(username, "US", "sms")?;
    let open = |client: &str, version: &str| {
        world.integrator(
            "POST",
            "/v1/integrator/sessions",
            Some(json!({ "username": username, "app": client, "client": client, "client_version": version })),
        )
    };
    let opened = open("Client Portal", "1.4")?;
    check(
        opened.status == 201 && opened.json["second_factor"] == "sms",
        || format!("an SMS login should open: {:?}", opened.json),
    )?;
    let session = opened.json["session_id"]
        .as_str()
        .or_fail("session id")?
        .to_owned();
    t.say(format!(
        "{} {username} (second factor: SMS) logs in; SMS: \"{}\"",
        time(world),
        world.last_sms()?
    ));
    let first = last_security_code(world)?;
    let wrong = if first == "000000" {
        "000001"
    } else {
        "000000"
    };
    let answer = world.integrator(
        "POST",
        &format!("/v1/integrator/sessions/{session}/code"),
        Some(json!({ "code": wrong })),
    )?;
    check(answer.json["error"]["code"] == "wrong_sms_code", || {
        format!("a wrong code is refused: {:?}", answer.json)
    })?;
    t.say(format!(
        "  A mistyped code is refused ({} attempts left before SMS logins pause for an hour).",
        answer.json["error"]["attempts_left"]
    ));
    let too_soon = world.integrator(
        "POST",
        &format!("/v1/integrator/sessions/{session}/new-code"),
        Some(json!({ "channel": "sms" })),
    )?;
    check(too_soon.json["error"]["code"] == "code_too_soon", || {
        format!("a new code waits 2 minutes: {:?}", too_soon.json)
    })?;
    world.advance(120);
    let again = world.integrator(
        "POST",
        &format!("/v1/integrator/sessions/{session}/new-code"),
        Some(json!({ "channel": "sms" })),
    )?;
    check(again.status == 200, || {
        format!("\"Request new code\" after 2 minutes: {:?}", again.json)
    })?;
    let second = last_security_code(world)?;
    t.say(format!("  \"Didn't receive a security code?\" → Request new code (after 2 minutes): a new code replaces {first}."));
    let approved = world.integrator(
        "POST",
        &format!("/v1/integrator/sessions/{session}/code"),
        Some(json!({ "code": second })),
    )?;
    check(approved.json["status"] == "approved", || {
        format!("the new code should log in: {:?}", approved.json)
    })?;
    t.say("  The new code logs in.");

    // Voice: not for old clients; for recent ones, read only after a keypress.
    world.advance(120);
    let old = open("Trader Workstation", "10.20")?;
    let old_session = old.json["session_id"]
        .as_str()
        .or_fail("session id")?
        .to_owned();
    world.advance(120);
    let refused = world.integrator(
        "POST",
        &format!("/v1/integrator/sessions/{old_session}/new-code"),
        Some(json!({ "channel": "voice" })),
    )?;
    check(refused.json["error"]["code"] == "voice_not_offered", || {
        format!("an old client is refused voice: {:?}", refused.json)
    })?;
    t.say(format!(
        "  Trader Workstation 10.20 asks for a call: refused — {}",
        refused.json["error"]["message"].as_str().unwrap_or("")
    ));
    let recent = open("Trader Workstation", "10.30")?;
    let session = recent.json["session_id"]
        .as_str()
        .or_fail("session id")?
        .to_owned();
    world.advance(120);
    let calling = world.integrator(
        "POST",
        &format!("/v1/integrator/sessions/{session}/new-code"),
        Some(json!({ "channel": "voice" })),
    )?;
    check(calling.status == 200, || {
        format!("voice for a recent client: {:?}", calling.json)
    })?;
    let outbox = world.outbox()?;
    let placed = outbox
        .iter()
        .rev()
        .find(|m| m["channel"] == "voice" && m["body"]["event"] == "placed")
        .or_fail("the placed call")?;
    check(placed["body"].get("code").is_none(), || {
        "the placed call must not hold the code".into()
    })?;
    let call = placed["body"]["call"]
        .as_str()
        .or_fail("call id")?
        .to_owned();
    t.say("  Trader Workstation 10.30 → \"Call me\": the phone rings; the code is withheld until a key is pressed.");
    let pressed = world.public(
        "POST",
        &format!("/v1/dev/voice-calls/{call}/keypress"),
        None,
    )?;
    check(pressed.json["outcome"] == "code_read", || {
        format!("the keypress reads the code: {:?}", pressed.json)
    })?;
    let spoken = last_security_code(world)?;
    let approved = world.integrator(
        "POST",
        &format!("/v1/integrator/sessions/{session}/code"),
        Some(json!({ "code": spoken })),
    )?;
    check(approved.json["status"] == "approved", || {
        format!("the spoken code should log in: {:?}", approved.json)
    })?;
    t.say("  The callee presses a key, hears the code, types it: logged in.");
    Ok(())
}

/// Every journey in order, on one server, as `latchkey demo` plays them. Returns
/// each journey's name and outcome.
pub fn all(world: &World, t: &Transcript) -> Vec<(&'static str, Step)> {
    let mut outcomes: Vec<(&'static str, Step)> = Vec::new();
    let mut record = |name: &'static str, outcome: Step| {
        match &outcome {
            Ok(()) => t.say(format!("✔ {name}\n")),
            Err(failure) => t.say(format!("✘ {name}: {failure}\n")),
        }
        outcomes.push((name, outcome));
    };
    let anna = activation(world, t, "anna", "US", "Anna's Pixel");
    let anna = match anna {
        Ok(phone) => {
            record("activation by SMS code", Ok(()));
            phone
        }
        Err(failure) => {
            record("activation by SMS code", Err(failure));
            return outcomes;
        }
    };
    record(
        "push login approved with the typed code and PIN",
        push_login_with_pin(world, t, &anna, "anna"),
    );
    record(
        "push login approved with biometric",
        push_login_with_biometric(world, t, &anna, "anna"),
    );
    record("deny and report", deny_and_report(world, t, &anna, "anna"));
    world.advance(86_400);
    record(
        "offline challenge/response",
        offline_challenge_response(world, t, &anna, "anna"),
    );
    let anna_new = match move_approved_on_old_phone(world, t, &anna, "anna") {
        Ok(phone) => {
            record("move to a new phone approved on the old one", Ok(()));
            Some(phone)
        }
        Err(failure) => {
            record("move to a new phone approved on the old one", Err(failure));
            None
        }
    };
    let bob = activation(world, &Transcript::quiet(), "bob", "US", "Bob's iPhone");
    match bob {
        Ok(bob) => {
            record(
                "lost-phone replacement held, cancelled, then completed",
                lost_phone_replacement(world, t, &bob, "bob").map(drop),
            );
            let carol = activation(world, &Transcript::quiet(), "carol", "US", "Carol's phone");
            match carol {
                Ok(carol) => record(
                    "wrong PINs: delays, reset at 5, disabled at 10",
                    wrong_pins(world, t, &carol, "carol"),
                ),
                Err(failure) => record(
                    "wrong PINs: delays, reset at 5, disabled at 10",
                    Err(failure),
                ),
            }
        }
        Err(failure) => record(
            "lost-phone replacement held, cancelled, then completed",
            Err(failure),
        ),
    }
    record(
        "SMS login, request new code, voice callback",
        sms_and_voice_login(world, t, "sam"),
    );
    record(
        "HK and India opt-outs refused, an ordinary one allowed after step-up",
        opt_outs(world, t),
    );
    record(
        "a phone-number change needs the phone's PIN proof",
        phone_number_change(world, t),
    );
    if let Some(phone) = &anna_new {
        record(
            "notification diagnosis before and after re-registering",
            notification_diagnosis(world, t, phone, "anna"),
        );
    }
    outcomes
}
