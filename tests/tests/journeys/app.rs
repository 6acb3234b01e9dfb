//! The app model (core::device::app) driven screen by screen, as a shell would,
//! against the real server over HTTP on loopback.

use latchkey_core::device::app::{
    ActivationStep, AppModel, AppOptions, Event, Problem, PushAction, ReviewStep, Screen,
    ScreenListener, activation_link,
};
use latchkey_core::device::{FindingKind, HistoryEvent, SimulatedOutcome};
use latchkey_journeys::journeys::{PIN, WRONG_PIN};
use latchkey_journeys::{Phone, World};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const NEW_PIN: &str = "583016";

struct Counter(AtomicUsize);

impl ScreenListener for Counter {
    fn screen_changed(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn app(world: &World, phone: &Phone, builtin: bool) -> AppModel {
    let app = AppModel::new(
        phone.authenticator.clone(),
        AppOptions {
            builtin_profile: builtin.then(|| world.profile()),
            device_name: phone.name.clone(),
        },
    );
    app.dispatch(Event::Platform {
        push_token: Some(phone.push_token.clone()),
        notifications_enabled: true,
    });
    app
}

fn problem(screen: &Screen) -> Option<Problem> {
    match screen {
        Screen::Welcome { problem }
        | Screen::Activation { problem, .. }
        | Screen::Accounts { problem, .. }
        | Screen::Diagnose { problem, .. }
        | Screen::History { problem, .. } => problem.clone(),
        Screen::Review(review) => review.problem.clone(),
        Screen::Authenticate(screen) => screen.problem.clone(),
        Screen::Settings(screen) => screen.problem.clone(),
        _ => None,
    }
}

/// Activates `username` through the app's screens; ends on the accounts list.
fn activate_through_screens(world: &World, app: &AppModel, username: &str, biometric: bool) {
    activate_in(world, app, username, "US", biometric);
}

/// [`activate_through_screens`] for a user of `jurisdiction`.
fn activate_in(world: &World, app: &AppModel, username: &str, jurisdiction: &str, biometric: bool) {
    world.add_user(username, jurisdiction, "phone").unwrap();
    let ticket = world.start_activation(username, None).unwrap();
    let code = world.last_activation_code().unwrap();
    app.dispatch(Event::AddAccount);
    app.dispatch(Event::ActivationLink {
        link: activation_link(&ticket, Some(&world.profile())),
    });
    assert!(matches!(
        app.view(),
        Screen::Activation {
            step: ActivationStep::Code,
            ..
        }
    ));
    app.dispatch(Event::ActivationCode { code });
    app.dispatch(Event::ChoosePin {
        pin: PIN.into(),
        confirmation: PIN.into(),
    });
    assert!(
        matches!(
            app.view(),
            Screen::Activation {
                step: ActivationStep::BiometricOffer,
                ..
            }
        ),
        "{:?}",
        app.view()
    );
    app.dispatch(Event::BiometricOffer { accept: biometric });
}

fn only_account(app: &AppModel) -> i64 {
    match app.view() {
        Screen::Accounts { accounts, .. } => {
            assert_eq!(accounts.len(), 1, "{accounts:?}");
            accounts[0].id
        }
        other => panic!("expected the accounts, got {other:?}"),
    }
}

#[test]
fn activation_screens_refuse_bad_entries_then_make_the_phone_the_authenticator() {
    let world = World::start().unwrap();
    let phone = world.phone("Anna's Pixel").unwrap();
    let app = app(&world, &phone, true);
    let listener = Arc::new(Counter(AtomicUsize::new(0)));
    app.set_listener(listener.clone());

    app.dispatch(Event::Start);
    assert_eq!(app.view(), Screen::Welcome { problem: None });
    assert!(!app.has_secrets());

    world.add_user("anna", "US", "phone").unwrap();
    let ticket = world.start_activation("anna", None).unwrap();
    let code = world.last_activation_code().unwrap();
    app.dispatch(Event::AddAccount);
    // A link from somewhere else is refused with a reason; nothing moves on.
    app.dispatch(Event::ActivationLink {
        link: "https://evil.example/activate".into(),
    });
    let screen = app.view();
    assert!(matches!(
        screen,
        Screen::Activation {
            step: ActivationStep::Link,
            ..
        }
    ));
    assert!(
        problem(&screen)
            .unwrap()
            .text
            .contains("not a Latchkey activation link")
    );
    // A link without a profile uses the one the app was built with.
    app.dispatch(Event::ActivationLink {
        link: activation_link(&ticket, None),
    });
    let server = match app.view() {
        Screen::Activation {
            step: ActivationStep::Code,
            server,
            problem: None,
        } => server.unwrap(),
        other => panic!("expected the code step, got {other:?}"),
    };
    assert!(world.base_url().contains(&server), "{server}");
    // Twelve digits are refused before anything is sent.
    app.dispatch(Event::ActivationCode {
        code: code[..12].to_owned(),
    });
    assert!(problem(&app.view()).unwrap().text.contains("13 digits"));
    // Typed with spaces, as people copy it from an SMS.
    app.dispatch(Event::ActivationCode {
        code: format!("{} {}", &code[..6], &code[6..]),
    });
    assert!(matches!(
        app.view(),
        Screen::Activation {
            step: ActivationStep::Pin,
            ..
        }
    ));
    // An easy PIN and two different entries are refused on the screen.
    app.dispatch(Event::ChoosePin {
        pin: "123456".into(),
        confirmation: "123456".into(),
    });
    assert!(
        problem(&app.view())
            .unwrap()
            .text
            .starts_with("Choose another PIN")
    );
    app.dispatch(Event::ChoosePin {
        pin: PIN.into(),
        confirmation: NEW_PIN.into(),
    });
    assert_eq!(problem(&app.view()).unwrap().text, "The two PINs differ.");
    app.dispatch(Event::ChoosePin {
        pin: PIN.into(),
        confirmation: PIN.into(),
    });
    assert!(matches!(
        app.view(),
        Screen::Activation {
            step: ActivationStep::BiometricOffer,
            ..
        }
    ));
    app.dispatch(Event::BiometricOffer { accept: true });
    match app.view() {
        Screen::Accounts {
            accounts, notices, ..
        } => {
            assert_eq!(accounts.len(), 1);
            assert_eq!(accounts[0].status, "Active");
            assert!(accounts[0].usable && accounts[0].biometric_enabled);
            assert_eq!(notices, ["Biometric approval is on."]);
        }
        other => panic!("expected the accounts, got {other:?}"),
    }
    assert!(app.has_secrets());
    assert_eq!(
        world.user("anna").unwrap()["active_phone"],
        true,
        "{}",
        world.user("anna").unwrap()
    );
    // Every change was told to the listener; the PIN is nowhere in the phone's files.
    assert!(listener.0.load(Ordering::SeqCst) >= 10);
    assert!(!phone.files_contain(PIN.as_bytes()));
}

#[test]
fn a_push_is_reviewed_the_code_typed_and_approved_with_the_pin() {
    let world = World::start().unwrap();
    let phone = world.phone("Anna's Pixel").unwrap();
    let app = app(&world, &phone, false);
    activate_through_screens(&world, &app, "anna", false);

    let (session, challenge, _) = world.open_session("anna", "Client Portal").unwrap();
    let alert = app
        .notification_for_push(&world.last_login_push().unwrap())
        .unwrap();
    // A stranger's payload posts nothing.
    assert!(
        app.notification_for_push(&[("latchkey".to_owned(), "2".to_owned())].into())
            .is_none()
    );
    app.dispatch(Event::OpenRequest {
        handle: alert.request.to_string(),
    });
    let review = match app.view() {
        Screen::Review(review) => review,
        other => panic!("expected the review, got {other:?}"),
    };
    assert_eq!(review.step, ReviewStep::Read);
    assert_eq!(review.request.app, "Client Portal");
    assert_eq!(review.request.origin, "203.0.113.7 (Hong Kong)");
    assert!(!review.biometric_available);
    // Events of other screens change nothing.
    app.dispatch(Event::ApproveWithPin { pin: PIN.into() });
    assert_eq!(app.view(), Screen::Review(review.clone()));
    app.dispatch(Event::Proceed);
    app.dispatch(Event::TypeCode {
        code: "12345".into(),
    });
    let screen = app.view();
    assert!(matches!(&screen, Screen::Review(r) if r.step == ReviewStep::TypeCode));
    assert!(problem(&screen).unwrap().text.contains("6-digit code"));
    app.dispatch(Event::TypeCode {
        code: challenge.clone(),
    });
    assert!(matches!(app.view(), Screen::Review(r) if r.step == ReviewStep::Unlock));
    app.dispatch(Event::ApproveWithPin { pin: PIN.into() });
    assert_eq!(
        app.view(),
        Screen::Finished {
            title: "Approved".into(),
            text: "You can continue on the login screen.".into()
        }
    );
    assert_eq!(world.session_status(&session).unwrap(), "approved");
    // The history shows it.
    app.dispatch(Event::Back);
    app.dispatch(Event::History);
    match app.view() {
        Screen::History { entries, problem } => {
            assert_eq!(problem, None);
            let last = entries.last().unwrap();
            assert_eq!(last.event, HistoryEvent::Approved);
            assert!(last.summary.contains("Client Portal"), "{last:?}");
        }
        other => panic!("expected the history, got {other:?}"),
    }
}

#[test]
fn a_login_push_is_notified_and_a_notice_push_syncs_the_waiting_requests() {
    let world = World::start().unwrap();
    let phone = world.phone("Anna's Pixel").unwrap();
    let app = app(&world, &phone, false);
    // No account yet: a login push has no one to answer it.
    let stranger: std::collections::HashMap<String, String> =
        [("google.message_id".to_owned(), "0:1".to_owned())].into();
    assert_eq!(app.push_received(&stranger), PushAction::NotLatchkey);
    assert!(!app.has_secrets());
    activate_through_screens(&world, &app, "anna", false);
    assert!(app.has_secrets());

    world.open_session("anna", "Client Portal").unwrap();
    let push = world.last_login_push().unwrap();
    let alert = match app.push_received(&push) {
        PushAction::Notify(alert) => alert,
        other => panic!("expected a notification, got {other:?}"),
    };
    assert_eq!(
        alert.request.to_string(),
        push["request"],
        "the notification opens the pushed request"
    );
    // A notice push syncs every account and names the request still waiting.
    let notice: std::collections::HashMap<String, String> = [
        ("latchkey".to_owned(), "1".to_owned()),
        ("notice".to_owned(), "replacement_pending".to_owned()),
    ]
    .into();
    assert_eq!(
        app.push_received(&notice),
        PushAction::Synced {
            waiting: vec![alert.request.to_string()]
        }
    );
    // Malformed Latchkey pushes post nothing.
    for bad in [
        [("latchkey", "2"), ("request", push["request"].as_str())],
        [("latchkey", "1"), ("request", "not-hex")],
        [("latchkey", "1"), ("notice", "Not A Kind")],
        [("latchkey", "1"), ("other", "x")],
    ] {
        let data = bad
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(app.push_received(&data), PushAction::Ignored, "{bad:?}");
    }
}

#[test]
fn a_wrong_pin_ends_the_request_with_the_attempts_left_and_this_wasnt_me_reports_it() {
    let world = World::start().unwrap();
    let phone = world.phone("Anna's Pixel").unwrap();
    let app = app(&world, &phone, false);
    activate_through_screens(&world, &app, "anna", true);

    // Biometric cancelled: still answerable, the PIN offered.
    let (_, challenge, _) = world.open_session("anna", "Client Portal").unwrap();
    let alert = app
        .notification_for_push(&world.last_login_push().unwrap())
        .unwrap();
    app.dispatch(Event::OpenRequest {
        handle: alert.request.to_string(),
    });
    app.dispatch(Event::Proceed);
    app.dispatch(Event::TypeCode { code: challenge });
    phone.biometrics.set_outcome(SimulatedOutcome::Cancel);
    app.dispatch(Event::ApproveWithBiometric);
    let screen = app.view();
    assert!(matches!(&screen, Screen::Review(r) if r.step == ReviewStep::Unlock));
    assert!(problem(&screen).unwrap().text.contains("PIN"));
    app.dispatch(Event::ApproveWithPin {
        pin: WRONG_PIN.into(),
    });
    match app.view() {
        Screen::Finished { title, text } => {
            assert_eq!(title, "Not approved");
            assert_eq!(text, "Wrong PIN. 9 attempts left.");
        }
        other => panic!("expected the end of the flow, got {other:?}"),
    }

    let (session, _, _) = world.open_session("anna", "Client Portal").unwrap();
    let alert = app
        .notification_for_push(&world.last_login_push().unwrap())
        .unwrap();
    app.dispatch(Event::Back);
    app.dispatch(Event::OpenRequest {
        handle: alert.request.to_string(),
    });
    app.dispatch(Event::Deny { not_me: true });
    assert!(matches!(app.view(), Screen::Finished { title, .. } if title == "Reported"));
    assert_eq!(world.session_status(&session).unwrap(), "fraud");
}

#[test]
fn authenticate_turns_the_login_screens_challenge_into_a_response_that_logs_in() {
    let world = World::start().unwrap();
    let phone = world.phone("Anna's Pixel").unwrap();
    let app = app(&world, &phone, false);
    activate_through_screens(&world, &app, "anna", false);
    let account = only_account(&app);

    let (session, challenge, _) = world.open_session("anna", "Client Portal").unwrap();
    phone.set_online(false);
    app.dispatch(Event::Authenticate { account });
    app.dispatch(Event::Respond {
        challenge: "099999".into(),
        pin: Some(PIN.into()),
    });
    let screen = app.view();
    assert!(problem(&screen).is_some(), "{screen:?}");
    app.dispatch(Event::Respond {
        challenge,
        pin: Some(PIN.into()),
    });
    let response = match app.view() {
        Screen::Authenticate(screen) => {
            assert!(screen.warning.contains("Never read a code"));
            // Debug output never shows the response.
            let response = screen.response.clone().unwrap();
            assert!(!format!("{screen:?}").contains(&response));
            response
        }
        other => panic!("expected the response, got {other:?}"),
    };
    phone.set_online(true);
    assert_eq!(response.len(), 8);
    let typed = world.type_response(&session, &response).unwrap();
    assert_eq!(typed.json["status"], "approved", "{typed:?}");
}

#[test]
fn settings_change_the_pin_diagnose_notifications_and_remove_the_account() {
    let world = World::start().unwrap();
    let phone = world.phone("Anna's Pixel").unwrap();
    let app = app(&world, &phone, false);
    activate_through_screens(&world, &app, "anna", false);
    let account = only_account(&app);

    app.dispatch(Event::Settings { account });
    app.dispatch(Event::ChangePin {
        old_pin: PIN.into(),
        new_pin: NEW_PIN.into(),
        confirmation: NEW_PIN.into(),
    });
    match app.view() {
        Screen::Settings(settings) => {
            assert_eq!(settings.notice.as_deref(), Some("Your PIN was changed."));
            assert_eq!(settings.problem, None);
        }
        other => panic!("expected the settings, got {other:?}"),
    }
    // The new PIN now approves.
    app.dispatch(Event::SetBiometric {
        enabled: true,
        pin: Some(NEW_PIN.into()),
    });
    assert!(matches!(app.view(), Screen::Settings(s) if s.account.biometric_enabled));

    // Notifications turned off in the system settings: diagnose says so, with the fix.
    app.dispatch(Event::Platform {
        push_token: Some(phone.push_token.clone()),
        notifications_enabled: false,
    });
    app.dispatch(Event::Diagnose);
    match app.view() {
        Screen::Diagnose { findings, .. } => {
            let finding = findings
                .iter()
                .find(|f| f.kind == FindingKind::NotificationsDisabled)
                .unwrap();
            assert!(finding.fix.contains("system settings"), "{finding:?}");
        }
        other => panic!("expected the diagnosis, got {other:?}"),
    }
    app.dispatch(Event::Back);
    assert!(matches!(app.view(), Screen::Settings(_)));
    app.dispatch(Event::RemoveAccount);
    match app.view() {
        Screen::Accounts { notices, .. } => {
            assert_eq!(notices.len(), 1, "{notices:?}");
            assert!(
                notices[0].ends_with(" was removed from this phone."),
                "{notices:?}"
            );
        }
        other => panic!("expected the accounts, got {other:?}"),
    }
    assert!(!app.has_secrets());
    assert_eq!(world.user("anna").unwrap()["active_phone"], false);
}

#[test]
fn a_move_to_a_new_phone_is_approved_in_the_old_phones_settings() {
    let world = World::start().unwrap();
    let old = world.phone("old phone").unwrap();
    let old_app = app(&world, &old, false);
    activate_through_screens(&world, &old_app, "anna", false);
    let account = only_account(&old_app);

    // The new phone activates; the account already has a phone, so it waits.
    let new = world.phone("new phone").unwrap();
    let new_app = app(&world, &new, false);
    let ticket = world
        .start_activation("anna", Some("approve_on_old_phone"))
        .unwrap();
    let code = world.last_activation_code().unwrap();
    new_app.dispatch(Event::AddAccount);
    new_app.dispatch(Event::ActivationLink {
        link: activation_link(&ticket, Some(&world.profile())),
    });
    new_app.dispatch(Event::ActivationCode { code });
    new_app.dispatch(Event::ChoosePin {
        pin: NEW_PIN.into(),
        confirmation: NEW_PIN.into(),
    });
    assert!(
        matches!(new_app.view(), Screen::Waiting { held: false, .. }),
        "{:?}",
        new_app.view()
    );

    // The old phone's settings offer the move; a wrong PIN is refused and changes nothing.
    old_app.dispatch(Event::Settings { account });
    let settings = match old_app.view() {
        Screen::Settings(settings) => settings,
        other => panic!("expected the settings, got {other:?}"),
    };
    assert!(settings.pending_move.is_some(), "{settings:?}");
    old_app.dispatch(Event::ApproveMove {
        pin: WRONG_PIN.into(),
    });
    assert!(
        problem(&old_app.view())
            .unwrap()
            .text
            .starts_with("Wrong PIN")
    );
    old_app.dispatch(Event::ApproveMove { pin: PIN.into() });
    assert!(matches!(old_app.view(), Screen::Finished { title, .. } if title == "Moved"));

    // The new phone's next start completes the activation.
    new_app.dispatch(Event::Back);
    new_app.dispatch(Event::Start);
    match new_app.view() {
        Screen::Accounts {
            accounts, notices, ..
        } => {
            assert_eq!(accounts[0].status, "Active");
            assert!(
                notices
                    .iter()
                    .any(|n| n.ends_with("is active on this phone.")),
                "{notices:?}"
            );
        }
        other => panic!("expected the accounts, got {other:?}"),
    }
    old_app.dispatch(Event::Back);
    match old_app.view() {
        Screen::Accounts { accounts, .. } => assert!(!accounts[0].usable),
        other => panic!("expected the accounts, got {other:?}"),
    }
}

#[test]
fn events_never_show_pins_in_debug_output() {
    let event = Event::ChoosePin {
        pin: PIN.into(),
        confirmation: PIN.into(),
    };
    assert_eq!(format!("{event:?}"), "Event::ChoosePin");
}

#[test]
fn opt_out_is_refused_citing_the_rule_where_two_factor_is_mandatory_and_done_elsewhere() {
    let world = World::start().unwrap();
    let settings = |app: &AppModel| match app.view() {
        Screen::Settings(settings) => settings,
        other => panic!("expected the settings, got {other:?}"),
    };
    for (username, jurisdiction, rule) in
        [("hoi", "HK", "27 Oct 2017"), ("priya", "IN", "25 Mar 2014")]
    {
        let phone = world.phone(&format!("{username}'s phone")).unwrap();
        let app = app(&world, &phone, false);
        activate_in(&world, &app, username, jurisdiction, false);
        let account = only_account(&app);
        app.dispatch(Event::Settings { account });
        app.dispatch(Event::OptOut { pin: PIN.into() });
        let screen = settings(&app);
        let problem = screen.problem.expect("the opt-out is refused");
        assert!(problem.text.contains(rule), "{jurisdiction}: {problem:?}");
        assert_eq!(screen.notice, None);
        assert!(screen.account.usable);
    }

    let phone = world.phone("Olga's phone").unwrap();
    let app = app(&world, &phone, false);
    activate_in(&world, &app, "olga", "US", false);
    let account = only_account(&app);
    app.dispatch(Event::Settings { account });
    // A wrong PIN does not opt out, and counts.
    app.dispatch(Event::OptOut {
        pin: WRONG_PIN.into(),
    });
    let screen = settings(&app);
    assert_eq!(
        screen.problem.map(|p| (p.text, p.attempts_left)),
        Some(("Wrong PIN. 9 attempts left.".to_owned(), Some(9)))
    );
    app.dispatch(Event::OptOut { pin: PIN.into() });
    let screen = settings(&app);
    assert_eq!(screen.problem, None);
    assert_eq!(
        screen.notice.as_deref(),
        Some("Two-factor authentication is off: anyone with your password can now log in.")
    );
}
