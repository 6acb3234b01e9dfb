//! Several `latchkey serve` nodes on one PostgreSQL database (docs/OPERATIONS.md):
//! a login opened on one node is approved through another, a decision committed
//! on one node wakes the long-polls of the others, and the lost-phone sweep
//! runs on one node at a time. PostgreSQL only (SQLite serves one node); these
//! fail without `LATCHKEY_TEST_POSTGRES` and are skipped with `=skip`.

use super::ceremonies::{PIN, activated, open_session, phone_post, pushed_request};
use super::{TestStore, start_on, token_in};
use latchkey_core::protocol::{RequestId, SessionId};
use latchkey_server::store::{LoginFactor, LoginSession, SessionOpener, SessionStatus, StoreExt};
use std::sync::Arc;
use std::time::Duration;

fn decided_session(id: u8, status: SessionStatus) -> LoginSession {
    LoginSession {
        id: SessionId::from_bytes([id; 16]),
        request: RequestId::from_bytes([id; 16]),
        username: "anna".into(),
        enrollment: None,
        challenge: "123456".parse().unwrap(),
        app: "Client Portal".into(),
        client: "Firefox".into(),
        origin: "203.0.113.7".into(),
        created_at: 100,
        expires_at: 400,
        push_expires_at: 220,
        pushed: false,
        push_refused: None,
        status,
        decided_at: (status != SessionStatus::Pending).then_some(150),
        decided_by: (status != SessionStatus::Pending).then(|| "typed".into()),
        client_version: None,
        factor: LoginFactor::Phone,
        opened_by: SessionOpener::Integrator,
    }
}

#[test]
fn a_decision_committed_on_one_node_wakes_the_waiters_of_another() {
    let Some(store) = TestStore::postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node_a = store.open(dir.path());
    let node_b = store.open(dir.path());
    let decisions = Arc::new(tokio::sync::Notify::new());
    node_a.watch_decisions(Arc::downgrade(&decisions)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let notified = decisions.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    node_b
        .in_transaction(|tx| tx.put_session(&decided_session(1, SessionStatus::Approved)))
        .unwrap();
    let woken =
        runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), notified).await });
    assert!(woken.is_ok(), "node A was not woken by node B's decision");
}

#[test]
fn a_login_opened_on_one_node_is_approved_through_another_and_its_long_poll_answers() {
    let Some(store) = TestStore::postgres() else {
        return;
    };
    // One data folder (the same key file and token) and one database.
    let dir = tempfile::tempdir().unwrap();
    let node_a = start_on(&store, dir.path(), true);
    let node_b = start_on(&store, dir.path(), true);
    let phone = activated(&node_a, dir.path(), "anna", "US");
    let session = open_session(&node_a, dir.path(), "anna");
    let id = session.json["session_id"].as_str().unwrap().to_owned();
    let token = token_in(dir.path());
    let (polled, poll) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let node_a = &node_a;
        let path = format!("/v1/integrator/sessions/{id}?wait=30");
        let token = token.clone();
        scope.spawn(move || {
            let answer = node_a.get(&path, Some(&token));
            polled.send(answer).unwrap();
        });
        let approval = phone.approval(
            &node_b,
            pushed_request(node_a),
            session.json["challenge"].as_str().unwrap(),
            PIN,
        );
        let approved = phone_post(&node_b, "/v1/phone/approve", &approval);
        assert_eq!(approved.status, 200, "{approved:?}");
        // Node A's long-poll answers well before its 30 seconds are up. (Whether
        // it was already waiting when B approved cannot be ordered here without
        // a sleep; the wake-up itself is the test above.)
        let answer = poll
            .recv_timeout(Duration::from_secs(10))
            .expect("node A's long-poll was not woken");
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json["status"], "approved", "{answer:?}");
    });
    let on_a = node_a.get(&format!("/v1/integrator/sessions/{id}"), Some(&token));
    assert_eq!(on_a.json["status"], "approved", "{on_a:?}");
    node_b.stop();
    node_a.stop();
}

#[test]
fn a_job_runs_on_one_node_at_a_time() {
    let Some(store) = TestStore::postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node_a = store.open(dir.path());
    let node_b = store.open(dir.path());
    let mut ran_on_b_meanwhile = None;
    let ran_on_a = node_a
        .run_alone("complete_due_replacements", &mut || {
            let mut ran = false;
            ran_on_b_meanwhile = Some(
                node_b
                    .run_alone("complete_due_replacements", &mut || ran = true)
                    .unwrap()
                    && ran,
            );
        })
        .unwrap();
    assert!(ran_on_a);
    assert_eq!(ran_on_b_meanwhile, Some(false));
    // Another job is not held up, and once A is done B may run this one.
    assert!(node_b.run_alone("another_job", &mut || {}).unwrap());
    let mut ran = false;
    assert!(
        node_b
            .run_alone("complete_due_replacements", &mut || ran = true)
            .unwrap()
    );
    assert!(ran);
}
