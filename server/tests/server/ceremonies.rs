//! The verifier's ceremonies over real HTTP: activation, single active phone,
//! login by push and by typed response, the PIN-bound counter (also under
//! concurrency), replacement with approval or a hold period, revocation, restart.
//!
//! The phone here is a protocol-level test phone built from `latchkey_core::
//! protocol` (the real `Authenticator` is exercised end to end in `tests/`).
//! Time is the server's `ManualClock`: lifetimes are checked one second either
//! side without waiting.

use super::fixture::Fixture;
use super::{Answer, Running, T0, TestStore, agent, token_in};
use latchkey_core::protocol::envelope::open_server;
use latchkey_core::protocol::*;
use latchkey_server::store::{EnrollmentStatus, StoreExt};
use serde_json::{Value, json};
use std::path::Path;

pub(super) const PIN: &str = "402917";

// Every ceremony runs on SQLite and on PostgreSQL (`on_sqlite::…`,
// `on_postgres::…`). The one test left out reads SQLite's files.
on_both_stores! {
    activation_by_sms_code_gives_a_signed_receipt_and_epoch_one,
    the_activation_code_is_single_use_burns_after_three_wrong_tries_and_lives_ten_minutes,
    a_production_server_refuses_software_keystore_phones,
    parallel_activations_leave_exactly_one_active_phone,
    a_push_login_is_approved_with_the_typed_code_and_pin,
    a_wrong_typed_code_ends_the_login_as_fraud_without_evaluating_or_counting,
    every_proof_is_single_use_and_push_requests_expire_after_two_minutes,
    a_typed_response_logs_in_and_one_wrong_response_ends_its_login,
    the_failure_counter_delays_then_requires_a_reset_then_disables,
    parallel_wrong_answers_are_counted_exactly_and_never_past_the_delay,
    parallel_copies_of_one_right_approval_succeed_once,
    a_move_approved_on_the_old_phone_revokes_it_with_a_signed_notice,
    a_lost_phone_replacement_waits_out_its_hold_and_can_be_cancelled,
    malformed_truncated_and_tampered_phone_messages_get_typed_errors_and_change_nothing,
    a_restart_loses_neither_enrollments_nor_counters,
    sync_replays_and_messages_from_another_epoch_are_refused,
}

/// A phone speaking the protocol directly: core's headless `SoftPhone` (the same
/// message code the real phone uses) and the HTTP calls around it.
pub(super) struct TestPhone {
    pub(super) soft: SoftPhone,
}

impl TestPhone {
    pub(super) fn new(server: &Running, name: &str) -> Self {
        Self {
            soft: SoftPhone::new(*server.state.profile.public_key(), name).unwrap(),
        }
    }

    pub(super) fn signed<M: Message>(&self, server: &Running, message: &M) -> Signed {
        self.soft
            .sign(server.clock.now_for_tests(), message)
            .unwrap()
    }

    pub(super) fn expects(&self, server: &Running) -> ServerExpectation {
        self.soft.expects(server.clock.now_for_tests())
    }

    /// Answers a ticket with `code`, as the phone's activation does.
    pub(super) fn activation_request(
        &mut self,
        server: &Running,
        ticket_json: &Value,
        code: &str,
        keystore: KeystoreKind,
    ) -> Signed {
        let ticket: Signed = serde_json::from_value(ticket_json.clone()).unwrap();
        let token = Some(format!("push-token-{}", self.soft.name()));
        self.soft
            .answer_ticket(
                &ticket,
                code,
                PIN,
                keystore,
                token,
                server.clock.now_for_tests(),
            )
            .unwrap()
    }

    /// Accepts a receipt: learns the epoch.
    pub(super) fn accept_receipt(&mut self, server: &Running, receipt: &Value) {
        let receipt: Signed = serde_json::from_value(receipt.clone()).unwrap();
        self.soft
            .accept_receipt(&receipt, server.clock.now_for_tests())
            .unwrap();
    }

    pub(super) fn sync(&self, server: &Running) -> (Answer, Option<SyncAnswer>) {
        let token = Some(format!("push-token-{}", self.soft.name()));
        let (request, nonce) = self
            .soft
            .sync_request(token, server.clock.now_for_tests())
            .unwrap();
        let answer = phone_post(server, "/v1/phone/sync", &request);
        if answer.status != 200 {
            return (answer, None);
        }
        let signed: Signed = serde_json::from_value(answer.json.clone()).unwrap();
        let message = self.soft.open_sync_answer(&signed, &nonce).unwrap();
        (answer, Some(message))
    }

    pub(super) fn approval(
        &self,
        server: &Running,
        request: RequestId,
        typed: &str,
        pin: &str,
    ) -> Signed {
        self.soft
            .approval(
                request,
                typed.parse().unwrap(),
                pin,
                server.clock.now_for_tests(),
            )
            .unwrap()
    }

    pub(super) fn typed_response(&self, server: &Running, challenge: &str, pin: &str) -> String {
        self.soft
            .response(
                &challenge.parse().unwrap(),
                pin,
                server.clock.now_for_tests(),
            )
            .unwrap()
            .to_string()
    }

    pub(super) fn proof(
        &self,
        server: &Running,
        action: ProofAction,
        target: Vec<u8>,
        pin: &str,
    ) -> Signed {
        let (raw, answer) = self.sync(server);
        let challenge = answer.unwrap_or_else(|| panic!("{raw:?}")).proof.unwrap();
        self.soft
            .proof(
                &challenge,
                action,
                target,
                pin,
                server.clock.now_for_tests(),
            )
            .unwrap()
    }
}

pub(super) trait NowForTests {
    fn now_for_tests(&self) -> u64;
}

impl NowForTests for latchkey_core::clock::ManualClock {
    fn now_for_tests(&self) -> u64 {
        latchkey_core::clock::Clock::now(self)
    }
}

pub(super) fn phone_post(server: &Running, path: &str, signed: &Signed) -> Answer {
    server.post(path, None, "application/json", signed.to_json().as_bytes())
}

pub(super) fn integrator_post(server: &Running, dir: &Path, path: &str, body: Value) -> Answer {
    server.post(
        path,
        Some(&token_in(dir)),
        "application/json",
        body.to_string().as_bytes(),
    )
}

pub(super) fn add_user(server: &Running, dir: &Path, username: &str, jurisdiction: &str) {
    let answer = integrator_post(
        server,
        dir,
        "/v1/integrator/users",
        json!({ "username": username, "password": "correct horse battery", "phone": "+85212345678",
                "email": format!("{username}@example.com"), "jurisdiction": jurisdiction }),
    );
    assert_eq!(answer.status, 201, "{answer:?}");
}

/// The newest activation code the outbox sent.
pub(super) fn last_code(server: &Running) -> String {
    let rows = server
        .state
        .store
        .in_transaction(|tx| tx.outbox_after(0, 10_000))
        .unwrap();
    rows.iter()
        .rev()
        .filter_map(|row| row.entry.body["text"].as_str())
        .find_map(|text| {
            text.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 13)
                .map(str::to_owned)
        })
        .expect("an activation SMS")
}

pub(super) fn outbox_bodies(server: &Running) -> Vec<Value> {
    let rows = server
        .state
        .store
        .in_transaction(|tx| tx.outbox_after(0, 10_000))
        .unwrap();
    rows.into_iter().map(|row| json!({ "channel": row.entry.channel.as_str(), "to": row.entry.recipient, "body": row.entry.body })).collect()
}

pub(super) fn start_activation(
    server: &Running,
    dir: &Path,
    username: &str,
    replace: Option<&str>,
) -> Answer {
    let mut body = json!({ "username": username });
    if let Some(mode) = replace {
        body["replace"] = json!(mode);
    }
    integrator_post(server, dir, "/v1/integrator/activations", body)
}

/// A user with an activated phone.
pub(super) fn activated(
    server: &Running,
    dir: &Path,
    username: &str,
    jurisdiction: &str,
) -> TestPhone {
    add_user(server, dir, username, jurisdiction);
    activate_phone(server, dir, username)
}

/// Activates a phone for an existing user.
pub(super) fn activate_phone(server: &Running, dir: &Path, username: &str) -> TestPhone {
    let start = start_activation(server, dir, username, None);
    assert_eq!(start.status, 201, "{start:?}");
    let mut phone = TestPhone::new(server, &format!("{username}'s phone"));
    let request = phone.activation_request(
        server,
        &start.json["ticket"],
        &last_code(server),
        KeystoreKind::Software,
    );
    let answer = phone_post(server, "/v1/phone/activate", &request);
    assert_eq!(answer.status, 200, "{answer:?}");
    phone.accept_receipt(server, &answer.json);
    phone
}

pub(super) fn open_session(server: &Running, dir: &Path, username: &str) -> Answer {
    let answer = integrator_post(
        server,
        dir,
        "/v1/integrator/sessions",
        json!({ "username": username, "app": "Client Portal", "client": "Firefox on Linux", "origin": "203.0.113.7" }),
    );
    assert_eq!(answer.status, 201, "{answer:?}");
    answer
}

pub(super) fn session_status(server: &Running, dir: &Path, session: &Value) -> String {
    let answer = server.get(
        &format!("/v1/integrator/sessions/{}", session.as_str().unwrap()),
        Some(&token_in(dir)),
    );
    answer.json["status"].as_str().unwrap().to_owned()
}

/// The request id of the push the newest session sent.
pub(super) fn pushed_request(server: &Running) -> RequestId {
    let bodies = outbox_bodies(server);
    let push = bodies
        .iter()
        .rev()
        .find(|b| {
            b["channel"] == "push"
                && b["body"]["payload"]
                    .as_str()
                    .unwrap_or("")
                    .contains("request")
        })
        .unwrap();
    let payload: Value = serde_json::from_str(push["body"]["payload"].as_str().unwrap()).unwrap();
    payload["request"].as_str().unwrap().parse().unwrap()
}

pub(super) fn failures_of(server: &Running, phone: &TestPhone) -> u64 {
    server
        .state
        .store
        .in_transaction(|tx| tx.enrollment(&phone.soft.enrollment()))
        .unwrap()
        .unwrap()
        .failures
}

fn activation_by_sms_code_gives_a_signed_receipt_and_epoch_one(store: &TestStore) {
    let fx = Fixture::on(store);
    let phone = fx.active_phone("anna");
    assert_eq!(phone.soft.epoch(), 1);
    let (_, answer) = phone.sync(&fx);
    let answer = answer.unwrap();
    assert_eq!(answer.state, EnrollmentState::Active);
    assert!(answer.push_registered);
    assert!(answer.receipt.is_some());
    fx.stop();
}

/// k_user is wrapped at rest on PostgreSQL too: no row of any table, as
/// PostgreSQL prints it (BYTEA as hex, records as JSON with base64url), holds
/// it in hex or base64url, or the hex of any 8-byte piece of it.
#[test]
fn the_postgres_database_holds_no_k_user_unsealed() {
    let Some(store) = TestStore::postgres() else {
        return;
    };
    let TestStore::Postgres(url) = &store else {
        unreachable!()
    };
    let fx = Fixture::on(&store);
    let phone = fx.active_phone("anna");
    let k_user = phone.soft.k_user(PIN);
    let secret = k_user.expose_secret();
    let mut client = postgres::Client::connect(url.expose(), postgres::NoTls).unwrap();
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(tables.iter().any(|t| t == "enrollments"), "{tables:?}");
    let mut dump = String::new();
    for table in &tables {
        for row in client
            .query(&format!("SELECT t::text FROM {table} t"), &[])
            .unwrap()
        {
            dump.push_str(row.get::<_, &str>(0));
            dump.push('\n');
        }
    }
    let hex = latchkey_core::encoding::encode_hex(secret);
    // Control: the enrollment's id is there to be found, in hex.
    let id_hex = latchkey_core::encoding::encode_hex(phone.soft.enrollment().as_bytes());
    assert!(dump.contains(&id_hex), "the dump holds the enrollment");
    assert!(!dump.contains(&hex), "the database holds k_user in hex");
    assert!(
        !dump.contains(&b64::encode(secret)),
        "the database holds k_user in base64url"
    );
    for piece in secret.windows(8) {
        assert!(
            !dump.contains(&latchkey_core::encoding::encode_hex(piece)),
            "the database holds a piece of k_user"
        );
    }
    fx.stop();
}

/// k_user is wrapped at rest: the database file and its WAL hold it neither in the
/// clear, nor in hex, nor any 8-byte piece of it.
#[test]
fn the_database_holds_no_k_user_unsealed() {
    let fx = Fixture::new();
    fx.add_user("anna", "US");
    let start_answer = fx.start_activation("anna", None);
    let code = last_code(&fx);
    let mut phone = TestPhone::new(&fx, "p");
    let request = phone.activation_request(
        &fx,
        &start_answer.json["ticket"],
        &code,
        KeystoreKind::Software,
    );
    assert_eq!(phone_post(&fx, "/v1/phone/activate", &request).status, 200);
    let k_user = phone.soft.k_user(PIN);
    let secret = k_user.expose_secret();
    let files = ["server.db", "server.db-wal"];
    let mut read = 0;
    let mut control = false;
    for name in files {
        let Ok(bytes) = std::fs::read(fx.path().join(name)) else {
            continue;
        };
        read += bytes.len();
        // Control: the enrollment's row is there to be searched.
        control |= bytes
            .windows(16)
            .any(|w| w == phone.soft.enrollment().as_bytes());
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "{name} holds k_user"
        );
        let hex = latchkey_core::encoding::encode_hex(secret);
        assert!(
            !bytes.windows(hex.len()).any(|w| w == hex.as_bytes()),
            "{name} holds k_user in hex"
        );
        assert!(
            !bytes.windows(8).any(|w| w == &secret[..8]),
            "{name} holds a piece of k_user"
        );
    }
    assert!(
        read > 0 && control,
        "the database files were read and hold the enrollment"
    );
    fx.stop();
}

fn the_activation_code_is_single_use_burns_after_three_wrong_tries_and_lives_ten_minutes(
    store: &TestStore,
) {
    let fx = Fixture::on(store);
    fx.add_user("anna", "US");
    let start1 = fx.start_activation("anna", None);
    let code = last_code(&fx);
    let mut phone = TestPhone::new(&fx, "p");
    for tries_left in [2, 1, 0] {
        let wrong = phone.activation_request(
            &fx,
            &start1.json["ticket"],
            "0000000000000",
            KeystoreKind::Software,
        );
        let answer = phone_post(&fx, "/v1/phone/activate", &wrong);
        answer.assert_error_with(
            403,
            "wrong_activation_code",
            "attempts_left",
            json!(tries_left),
        );
    }
    let right =
        phone.activation_request(&fx, &start1.json["ticket"], &code, KeystoreKind::Software);
    phone_post(&fx, "/v1/phone/activate", &right).assert_error(410, "ticket_ended");

    // A fresh ticket: valid at 599 s, ended at 600 s (the phone built its
    // request in time; the server's clock decides).
    let start2 = fx.start_activation("anna", None);
    let code = last_code(&fx);
    let late = phone.activation_request(&fx, &start2.json["ticket"], &code, KeystoreKind::Software);
    fx.clock.advance(600);
    phone_post(&fx, "/v1/phone/activate", &late).assert_error(410, "ticket_ended");
    let start3 = fx.start_activation("anna", None);
    let code = last_code(&fx);
    let in_time =
        phone.activation_request(&fx, &start3.json["ticket"], &code, KeystoreKind::Software);
    fx.clock.advance(599);
    assert_eq!(phone_post(&fx, "/v1/phone/activate", &in_time).status, 200);
    // Single use: another phone with the same code is refused…
    let mut other = TestPhone::new(&fx, "q");
    let second =
        other.activation_request(&fx, &start3.json["ticket"], &code, KeystoreKind::Software);
    phone_post(&fx, "/v1/phone/activate", &second).assert_error(410, "ticket_ended");
    // …while the same request again (its answer was lost) changes nothing and
    // gets a fresh receipt for the same enrollment and epoch, as long as the
    // ticket lives (docs/PROTOCOL.md §6.1).
    let again = phone_post(&fx, "/v1/phone/activate", &in_time);
    assert_eq!(again.status, 200, "{again:?}");
    phone.accept_receipt(&fx, &again.json);
    assert_eq!(phone.soft.epoch(), 1);
    fx.clock.advance(1);
    phone_post(&fx, "/v1/phone/activate", &in_time).assert_error(410, "ticket_ended");
    fx.stop();
}

fn a_production_server_refuses_software_keystore_phones(store: &TestStore) {
    let fx = Fixture::production_on(store);
    fx.add_user("anna", "US");
    let ticket = fx.start_activation("anna", None);
    let mut phone = TestPhone::new(&fx, "p");
    let request = phone.activation_request(
        &fx,
        &ticket.json["ticket"],
        &last_code(&fx),
        KeystoreKind::Software,
    );
    phone_post(&fx, "/v1/phone/activate", &request).assert_error(403, "software_keystore_refused");
    let ticket = fx.start_activation("anna", None);
    let request = phone.activation_request(
        &fx,
        &ticket.json["ticket"],
        &last_code(&fx),
        KeystoreKind::StrongBox,
    );
    assert_eq!(phone_post(&fx, "/v1/phone/activate", &request).status, 200);
    fx.stop();
}

fn parallel_activations_leave_exactly_one_active_phone(store: &TestStore) {
    let fx = Fixture::on(store);
    fx.add_user("anna", "US");
    let mut requests = Vec::new();
    for i in 0..6 {
        let ticket = fx.start_activation("anna", None);
        assert_eq!(ticket.status, 201, "start {i}: {ticket:?}");
        let code = last_code(&fx);
        let mut phone = TestPhone::new(&fx, &format!("phone {i}"));
        requests.push(phone.activation_request(
            &fx,
            &ticket.json["ticket"],
            &code,
            KeystoreKind::Software,
        ));
        if i == 4 {
            // The sixth start in an hour is refused (rate limit), so stop at five.
            break;
        }
    }
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .iter()
            .map(|r| scope.spawn(|| phone_post(&fx, "/v1/phone/activate", r).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        4,
        "{statuses:?}"
    );
    let active = fx
        .state
        .store
        .in_transaction(|tx| tx.enrollments_of("anna"))
        .unwrap()
        .into_iter()
        .filter(|e| e.status == EnrollmentStatus::Active)
        .count();
    assert_eq!(active, 1);
    fx.start_activation("anna", None)
        .assert_error(429, "rate_limited");
    fx.stop();
}

fn a_push_login_is_approved_with_the_typed_code_and_pin(store: &TestStore) {
    let fx = Fixture::on(store);
    let phone = fx.active_phone("anna");
    let session = fx.open_session("anna");
    assert_eq!(session.json["push"], "sent");
    let challenge = session.json["challenge"].as_str().unwrap().to_owned();
    let request = pushed_request(&fx);
    // The phone fetches the signed request and checks it before showing it.
    let fetched = phone_post(
        &fx,
        "/v1/phone/request",
        &phone.signed(&fx, &FetchRequest { request }),
    );
    let signed: Signed = serde_json::from_value(fetched.json).unwrap();
    let login =
        open_server::<LoginRequest>(&signed, phone.soft.server(), &phone.expects(&fx)).unwrap();
    assert_eq!(login.message().app, "Client Portal");
    assert_eq!(
        login.message().challenge,
        None,
        "code matching: the challenge is not in the request"
    );
    assert_eq!(fx.session_status(&session.json["session_id"]), "pending");
    let answer = phone_post(
        &fx,
        "/v1/phone/approve",
        &phone.approval(&fx, request, &challenge, PIN),
    );
    assert_eq!(answer.json, json!({ "outcome": "approved" }));
    assert_eq!(fx.session_status(&session.json["session_id"]), "approved");
    fx.stop();
}

fn a_wrong_typed_code_ends_the_login_as_fraud_without_evaluating_or_counting(store: &TestStore) {
    let fx = Fixture::on(store);
    let phone = fx.active_phone("anna");
    let session = fx.open_session("anna");
    let challenge: u32 = session.json["challenge"].as_str().unwrap().parse().unwrap();
    let other = if challenge == 999_999 {
        100_000
    } else {
        challenge + 1
    };
    let request = pushed_request(&fx);
    // A wrong PIN too: were the response evaluated, it would count.
    let approval = phone.approval(&fx, request, &other.to_string(), "111222");
    phone_post(&fx, "/v1/phone/approve", &approval).assert_error(403, "code_mismatch");
    assert_eq!(fx.session_status(&session.json["session_id"]), "fraud");
    assert_eq!(failures_of(&fx, &phone), 0);
    let reports = fx.get("/v1/integrator/fraud-reports", Some(&fx.token()));
    assert_eq!(reports.json["reports"][0]["kind"], "possible_fraud");
    fx.stop();
}

fn every_proof_is_single_use_and_push_requests_expire_after_two_minutes(store: &TestStore) {
    let fx = Fixture::on(store);
    let phone = fx.active_phone("anna");
    let session = fx.open_session("anna");
    let challenge = session.json["challenge"].as_str().unwrap().to_owned();
    let request = pushed_request(&fx);
    fx.clock.advance(119);
    let approval = phone.approval(&fx, request, &challenge, PIN);
    assert_eq!(phone_post(&fx, "/v1/phone/approve", &approval).status, 200);
    phone_post(&fx, "/v1/phone/approve", &approval).assert_error(409, "already_decided");

    let _ = fx.open_session("anna");
    let request = pushed_request(&fx);
    fx.clock.advance(120);
    let late = phone.approval(&fx, request, "123456", PIN);
    phone_post(&fx, "/v1/phone/approve", &late).assert_error(410, "expired");
    fx.stop();
}

fn a_typed_response_logs_in_and_one_wrong_response_ends_its_login(store: &TestStore) {
    let fx = Fixture::on(store);
    let phone = fx.active_phone("anna");
    let token = fx.token();
    let session = fx.open_session("anna");
    let id = session.json["session_id"].as_str().unwrap();
    let challenge = session.json["challenge"].as_str().unwrap();
    let right = phone.typed_response(&fx, challenge, PIN);
    let wrong = phone.typed_response(&fx, challenge, "999888");
    let path = format!("/v1/integrator/sessions/{id}/response");
    fx.post(
        &path,
        Some(&token),
        "application/json",
        json!({ "response": wrong }).to_string().as_bytes(),
    )
    .assert_error_with(403, "wrong_response", "attempts_left", json!(9));
    assert_eq!(fx.session_status(&session.json["session_id"]), "failed");
    let again = fx.post(
        &path,
        Some(&token),
        "application/json",
        json!({ "response": right }).to_string().as_bytes(),
    );
    again.assert_error(409, "already_decided");

    let session = fx.open_session("anna");
    let id = session.json["session_id"].as_str().unwrap();
    let challenge = session.json["challenge"].as_str().unwrap();
    // Its lifetime: 299 s is fine.
    fx.clock.advance(299);
    let right = phone.typed_response(&fx, challenge, PIN);
    let path = format!("/v1/integrator/sessions/{id}/response");
    let ok = fx.post(
        &path,
        Some(&token),
        "application/json",
        json!({ "response": right }).to_string().as_bytes(),
    );
    assert_eq!(ok.json["status"], "approved", "{ok:?}");
    assert_eq!(failures_of(&fx, &phone), 0, "a success resets the counter");

    let session = fx.open_session("anna");
    fx.clock.advance(300);
    let id = session.json["session_id"].as_str().unwrap();
    let right = phone.typed_response(&fx, session.json["challenge"].as_str().unwrap(), PIN);
    fx.post(
        &format!("/v1/integrator/sessions/{id}/response"),
        Some(&token),
        "application/json",
        json!({ "response": right }).to_string().as_bytes(),
    )
    .assert_error(410, "expired");
    assert_eq!(fx.session_status(&session.json["session_id"]), "expired");
    fx.stop();
}

/// Five wrong answers need a password reset; ten disable the phone; delays
/// double from the third; refused attempts are not counted.
fn the_failure_counter_delays_then_requires_a_reset_then_disables(store: &TestStore) {
    let fx = Fixture::on(store);
    let phone = fx.active_phone("anna");
    let token = fx.token();
    let try_wrong = |server: &Running| {
        let session = open_session(server, fx.path(), "anna");
        let id = session.json["session_id"].as_str().unwrap().to_owned();
        let wrong = phone.typed_response(
            server,
            session.json["challenge"].as_str().unwrap(),
            "999888",
        );
        fx.post(
            &format!("/v1/integrator/sessions/{id}/response"),
            Some(&token),
            "application/json",
            json!({ "response": wrong }).to_string().as_bytes(),
        )
    };
    for n in 1..=3u64 {
        try_wrong(&fx).assert_error_with(403, "wrong_response", "attempts_left", json!(10 - n));
    }
    // After the 3rd failure: 30 s. At 29 s refused (not counted); at 30 s counted.
    fx.clock.advance(29);
    try_wrong(&fx).assert_error_with(429, "attempt_delayed", "retry_after", json!(T0 + 30));
    assert_eq!(failures_of(&fx, &phone), 3);
    fx.clock.advance(1);
    try_wrong(&fx).assert_error(403, "wrong_response");
    assert_eq!(failures_of(&fx, &phone), 4);
    // 60 s after the 4th.
    fx.clock.advance(59);
    try_wrong(&fx).assert_error(429, "attempt_delayed");
    fx.clock.advance(1);
    let fifth = try_wrong(&fx);
    fifth.assert_error_with(
        403,
        "wrong_response",
        "password_reset_required",
        json!(true),
    );
    let user = fx.get("/v1/integrator/users/anna", Some(&token));
    assert_eq!(user.json["password_reset_required"], true);
    let told: Vec<Value> = outbox_bodies(&fx)
        .into_iter()
        .filter(|b| b.to_string().contains("password reset"))
        .collect();
    assert!(told.iter().any(|b| b["channel"] == "sms"), "{told:?}");
    assert!(told.iter().any(|b| b["channel"] == "email"), "{told:?}");
    // While the reset is required, the integrator cannot open sessions; after it, it can,
    // and the counter was not cleared by the reset.
    fx.integrator_post("/v1/integrator/sessions", json!({ "username": "anna" }))
        .assert_error(403, "password_reset_required");
    let reset = fx.post(
        "/v1/integrator/users/anna/password-reset-done",
        Some(&token),
        "application/json",
        b"{}",
    );
    assert_eq!(reset.status, 200, "{reset:?}");
    assert_eq!(failures_of(&fx, &phone), 5);
    for delay in [120, 240, 480, 960] {
        fx.clock.advance(delay);
        let answer = try_wrong(&fx);
        assert_eq!(answer.json["error"]["code"], "wrong_response", "{answer:?}");
        // Later failures keep "reset required" without starting new resets.
        let reset = fx.post(
            "/v1/integrator/users/anna/password-reset-done",
            Some(&token),
            "application/json",
            b"{}",
        );
        assert_eq!(reset.status, 200);
    }
    fx.clock.advance(1920);
    try_wrong(&fx).assert_error_with(403, "wrong_response", "attempts_left", json!(0));
    let enrollment = fx
        .state
        .store
        .in_transaction(|tx| tx.enrollment(&phone.soft.enrollment()))
        .unwrap()
        .unwrap();
    assert_eq!(enrollment.status, EnrollmentStatus::Disabled);
    fx.integrator_post("/v1/integrator/sessions", json!({ "username": "anna" }))
        .assert_error(403, "enrollment_disabled");
    let (_, answer) = phone.sync(&fx);
    assert_eq!(answer.unwrap().state, EnrollmentState::Disabled);
    fx.stop();
}

/// Opens `n` sessions for anna, then sends a wrong typed response to each, all in
/// parallel; the error codes the integrator API answered.
pub(super) fn parallel_wrong_typed_responses(
    server: &Running,
    dir: &Path,
    phone: &TestPhone,
    n: usize,
) -> Vec<String> {
    let token = token_in(dir);
    let attempts: Vec<(String, String)> = (0..n)
        .map(|_| {
            let session = open_session(server, dir, "anna");
            let wrong = phone.typed_response(
                server,
                session.json["challenge"].as_str().unwrap(),
                "999888",
            );
            (
                session.json["session_id"].as_str().unwrap().to_owned(),
                wrong,
            )
        })
        .collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = attempts
            .iter()
            .map(|(id, wrong)| {
                let token = token.clone();
                scope.spawn(move || {
                    let answer = server.post(
                        &format!("/v1/integrator/sessions/{id}/response"),
                        Some(&token),
                        "application/json",
                        json!({ "response": wrong }).to_string().as_bytes(),
                    );
                    answer.json["error"]["code"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn parallel_wrong_answers_are_counted_exactly_and_never_past_the_delay(store: &TestStore) {
    let fx = Fixture::on(store);
    let phone = fx.active_phone("anna");
    let codes = parallel_wrong_typed_responses(&fx, fx.path(), &phone, 8);
    assert_eq!(
        codes.iter().filter(|c| *c == "wrong_response").count(),
        3,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| *c == "attempt_delayed").count(),
        5,
        "{codes:?}"
    );
    assert_eq!(failures_of(&fx, &phone), 3);
    fx.stop();
}

fn parallel_copies_of_one_right_approval_succeed_once(store: &TestStore) {
    let fx = Fixture::on(store);
    let phone = fx.active_phone("anna");
    let session = fx.open_session("anna");
    let approval = phone.approval(
        &fx,
        pushed_request(&fx),
        session.json["challenge"].as_str().unwrap(),
        PIN,
    );
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| phone_post(&fx, "/v1/phone/approve", &approval).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(failures_of(&fx, &phone), 0);
    fx.stop();
}

fn a_move_approved_on_the_old_phone_revokes_it_with_a_signed_notice(store: &TestStore) {
    let fx = Fixture::on(store);
    let mut old = fx.activated("anna", "US");
    let start_answer = fx.start_activation("anna", Some("approve_on_old_phone"));
    let mut new = TestPhone::new(&fx, "Anna's new phone");
    let request = new.activation_request(
        &fx,
        &start_answer.json["ticket"],
        &last_code(&fx),
        KeystoreKind::Software,
    );
    let pending = phone_post(&fx, "/v1/phone/activate", &request);
    assert_eq!(pending.status, 202);
    assert_eq!(pending.json["outcome"], "awaiting_old_phone");
    let replacement: ReplacementId = pending.json["replacement"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The old phone learns of it in a signed notice.
    let (_, answer) = old.sync(&fx);
    let answer = answer.unwrap();
    assert_eq!(answer.state, EnrollmentState::ReplacementPending);
    let notice = answer
        .notices
        .iter()
        .map(|n| {
            open_server::<Notice>(n, old.soft.server(), &old.expects(&fx))
                .unwrap()
                .into_message()
        })
        .find(|n| n.kind == NoticeKind::ReplacementPending)
        .unwrap();
    assert_eq!(notice.replacement, Some(replacement));
    assert_eq!(notice.new_phone.as_deref(), Some("Anna's new phone"));
    // A device signature alone does not approve: a wrong PIN is refused and counted.
    let wrong = old.proof(
        &fx,
        ProofAction::ApproveReplacement,
        replacement.as_bytes().to_vec(),
        "999888",
    );
    phone_post(&fx, "/v1/phone/proof", &wrong).assert_error(403, "wrong_response");
    let approve = old.proof(
        &fx,
        ProofAction::ApproveReplacement,
        replacement.as_bytes().to_vec(),
        PIN,
    );
    assert_eq!(
        phone_post(&fx, "/v1/phone/proof", &approve).json["outcome"],
        "replacement_approved"
    );
    // The proof is single use.
    phone_post(&fx, "/v1/phone/proof", &approve).assert_error(409, "replacement_ended");
    // The old phone: a signed Revoked notice naming its enrollment and epoch.
    let (_, answer) = old.sync(&fx);
    let answer = answer.unwrap();
    assert_eq!(answer.state, EnrollmentState::Revoked);
    let revoked = answer
        .notices
        .iter()
        .map(|n| open_server::<Notice>(n, old.soft.server(), &old.expects(&fx)).unwrap())
        .find(|n| n.message().kind == NoticeKind::Revoked)
        .unwrap();
    assert_eq!(revoked.header().epoch, 1);
    assert_eq!(
        revoked.message().new_phone.as_deref(),
        Some("Anna's new phone")
    );
    // The new phone: active with epoch 2, receipt in its sync.
    let (_, answer) = new.sync(&fx);
    let answer = answer.unwrap();
    assert_eq!(answer.state, EnrollmentState::Active);
    new.accept_receipt(&fx, &serde_json::to_value(answer.receipt.unwrap()).unwrap());
    assert_eq!(new.soft.epoch(), 2);
    // The replaced phone's approvals are refused, without an unsigned "revoked".
    let session = fx.open_session("anna");
    let challenge = session.json["challenge"].as_str().unwrap();
    let request = pushed_request(&fx);
    let refused = phone_post(
        &fx,
        "/v1/phone/approve",
        &old.approval(&fx, request, challenge, PIN),
    );
    assert!(refused.status >= 400, "{refused:?}");
    assert!(!refused.json.to_string().contains("revoked"), "{refused:?}");
    assert_eq!(fx.session_status(&session.json["session_id"]), "pending");
    let approved = phone_post(
        &fx,
        "/v1/phone/approve",
        &new.approval(&fx, request, challenge, PIN),
    );
    assert_eq!(approved.status, 200, "{approved:?}");
    old.soft.set_epoch(2);
    fx.stop();
}

fn a_lost_phone_replacement_waits_out_its_hold_and_can_be_cancelled(store: &TestStore) {
    let fx = Fixture::on(store);
    let old = fx.activated("anna", "US");
    let hold = 72 * 3600;

    // Cancelled from the old phone with a PIN proof.
    let first = fx.start_activation("anna", Some("lost_phone"));
    let mut new = TestPhone::new(&fx, "new phone");
    let held = phone_post(
        &fx,
        "/v1/phone/activate",
        &new.activation_request(
            &fx,
            &first.json["ticket"],
            &last_code(&fx),
            KeystoreKind::Software,
        ),
    );
    assert_eq!(held.json["outcome"], "held");
    assert_eq!(held.json["effective_at"], json!(T0 + hold));
    let told = outbox_bodies(&fx);
    assert!(
        told.iter()
            .any(|b| b["channel"] == "email"
                && b["body"]["body"].as_str().unwrap().contains("cancel"))
    );
    assert!(
        told.iter()
            .any(|b| b["channel"] == "sms" && b.to_string().contains("72 hours"))
    );
    let replacement: ReplacementId = held.json["replacement"].as_str().unwrap().parse().unwrap();
    let cancel = old.proof(
        &fx,
        ProofAction::CancelReplacement,
        replacement.as_bytes().to_vec(),
        PIN,
    );
    assert_eq!(
        phone_post(&fx, "/v1/phone/proof", &cancel).json["outcome"],
        "replacement_cancelled"
    );
    let (answer, _) = new.sync(&fx);
    assert!(answer.status >= 400 || answer.json.to_string().contains("body"));

    // Cancelled by the e-mail link (single use).
    fx.clock.advance(3600);
    let second = fx.start_activation("anna", Some("lost_phone"));
    let mut newer = TestPhone::new(&fx, "newer phone");
    phone_post(
        &fx,
        "/v1/phone/activate",
        &newer.activation_request(
            &fx,
            &second.json["ticket"],
            &last_code(&fx),
            KeystoreKind::Software,
        ),
    );
    let mail = outbox_bodies(&fx)
        .into_iter()
        .rev()
        .find(|b| b["channel"] == "email")
        .unwrap();
    let text = mail["body"]["body"].as_str().unwrap().to_owned();
    let token = text.split("token=").nth(1).unwrap().trim().to_owned();
    let cancelled = fx.post(
        "/v1/replacements/cancel",
        None,
        "application/json",
        json!({ "token": token }).to_string().as_bytes(),
    );
    assert_eq!(cancelled.json["outcome"], "cancelled", "{cancelled:?}");
    fx.post(
        "/v1/replacements/cancel",
        None,
        "application/json",
        json!({ "token": token }).to_string().as_bytes(),
    )
    .assert_error(404, "unknown_replacement");

    // Completed after the hold: not at hold - 1 s, at hold.
    fx.clock.advance(3600);
    let third = fx.start_activation("anna", Some("lost_phone"));
    let mut newest = TestPhone::new(&fx, "newest phone");
    let held = phone_post(
        &fx,
        "/v1/phone/activate",
        &newest.activation_request(
            &fx,
            &third.json["ticket"],
            &last_code(&fx),
            KeystoreKind::Software,
        ),
    );
    assert_eq!(held.json["outcome"], "held");
    fx.clock.advance(hold - 1);
    let (raw, answer) = newest.sync(&fx);
    assert_eq!(
        answer.unwrap_or_else(|| panic!("{raw:?}")).state,
        EnrollmentState::ReplacementPending
    );
    fx.clock.advance(1);
    let (_, answer) = newest.sync(&fx);
    let answer = answer.unwrap();
    assert_eq!(answer.state, EnrollmentState::Active);
    newest.accept_receipt(&fx, &serde_json::to_value(answer.receipt.unwrap()).unwrap());
    assert_eq!(newest.soft.epoch(), 2);
    let (_, answer) = old.sync(&fx);
    assert_eq!(answer.unwrap().state, EnrollmentState::Revoked);
    let _ = (&mut new, &mut newer);
    fx.stop();
}

fn malformed_truncated_and_tampered_phone_messages_get_typed_errors_and_change_nothing(
    store: &TestStore,
) {
    let fx = Fixture::on(store);
    let phone = fx.active_phone("anna");
    let session = fx.open_session("anna");
    let approval = phone.approval(
        &fx,
        pushed_request(&fx),
        session.json["challenge"].as_str().unwrap(),
        PIN,
    );
    let mut body = approval.body().to_vec();
    body.truncate(body.len() - 5);
    let truncated = Signed::from_parts(body, approval.signature().to_vec()).unwrap();
    phone_post(&fx, "/v1/phone/approve", &truncated).assert_error(401, "bad_signature");
    let mut body = approval.body().to_vec();
    let last = body.len() - 1;
    body[last] ^= 1;
    let tampered = Signed::from_parts(body, approval.signature().to_vec()).unwrap();
    phone_post(&fx, "/v1/phone/approve", &tampered).assert_error(401, "bad_signature");
    fx.post(
        "/v1/phone/approve",
        None,
        "application/json",
        br#"{"body":"***","sig":"AA"}"#,
    )
    .assert_error(400, "malformed_body");
    fx.post(
        "/v1/phone/approve",
        None,
        "application/json",
        br#"{"body":"AAAA","sig":"AA"}"#,
    )
    .assert_error(400, "malformed_message");
    // A fetch for a made-up handle.
    let forged = phone.signed(
        &fx,
        &FetchRequest {
            request: RequestId::from_bytes([7; 16]),
        },
    );
    phone_post(&fx, "/v1/phone/request", &forged).assert_error(404, "unknown_request");
    assert_eq!(fx.session_status(&session.json["session_id"]), "pending");
    assert_eq!(failures_of(&fx, &phone), 0);
    // Still approvable with the untouched message.
    assert_eq!(phone_post(&fx, "/v1/phone/approve", &approval).status, 200);
    fx.stop();
}

fn a_restart_loses_neither_enrollments_nor_counters(store: &TestStore) {
    let fx = Fixture::on(store);
    let phone = fx.active_phone("anna");
    let session = fx.open_session("anna");
    let id = session.json["session_id"].as_str().unwrap().to_owned();
    let wrong = phone.typed_response(&fx, session.json["challenge"].as_str().unwrap(), "999888");
    let token = fx.token();
    fx.post(
        &format!("/v1/integrator/sessions/{id}/response"),
        Some(&token),
        "application/json",
        json!({ "response": wrong }).to_string().as_bytes(),
    )
    .assert_error(403, "wrong_response");
    let fx = fx.restarted();

    assert_eq!(failures_of(&fx, &phone), 1);
    let (answer, sync) = phone.sync(&fx);
    assert_eq!(answer.status, 200);
    assert_eq!(sync.unwrap().failures, 1);
    fx.stop();
}

fn sync_replays_and_messages_from_another_epoch_are_refused(store: &TestStore) {
    let fx = Fixture::on(store);
    let mut phone = fx.active_phone("anna");
    let nonce = [1u8; 16];
    let request = SyncRequest {
        nonce,
        push_token: None,
        platform: Platform::Android,
        app_version: "1".into(),
        notifications_enabled: false,
    };
    let signed = phone.signed(&fx, &request);
    assert_eq!(phone_post(&fx, "/v1/phone/sync", &signed).status, 200);
    phone_post(&fx, "/v1/phone/sync", &signed).assert_error(409, "replayed");
    phone.soft.set_epoch(7);
    fx.clock.advance(1);
    phone_post(&fx, "/v1/phone/sync", &phone.signed(&fx, &request))
        .assert_error(409, "wrong_epoch");
    let _ = agent();
    fx.stop();
}
