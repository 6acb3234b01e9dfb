//! The store conformance suite: what every `Store` backend must do, written once
//! and run on each (`on_sqlite::…`, `on_postgres::…`; see `on_both_stores!`).
//!
//! Each property takes the backend to test (`TestStore`), opens a fresh store on
//! it, and checks what the verifier relies on: every record kind round-trips,
//! the database's own invariants refuse what they must, "oldest first" is the
//! order of first storage, a failed transaction leaves nothing, transactions that
//! lock one account see each other, and — through the verifier over HTTP — 50
//! parallel wrong answers are counted exactly.

use super::ceremonies::{activated, parallel_wrong_typed_responses};
use super::{TestStore, start_on};
use latchkey_core::protocol::{
    EnrollmentId, KeystoreKind, LATCHKEY_SUITE, MatchingMode, Platform, ProofId, ReplacementId,
    RequestId, SessionId, Signed, TicketId,
};
use latchkey_server::Store;
use latchkey_server::rules::CodeGuard;
use latchkey_server::store::{
    AccountRecord, AuditEvent, AuditKind, Channel, CodeChannel, Enrollment, EnrollmentStatus,
    LoginCode, LoginCodeState, LoginFactor, LoginSession, NoticeRecord, Outbound, OutboundState,
    OutboxCounts, OutboxEntry, ProofRecord, Replacement, ReplacementKind, ReplacementStatus,
    SessionOpener, SessionStatus, StoreError, StoreExt, Ticket, TicketKind, TicketStatus,
    VoiceCallRecord,
};
use latchkey_server::users::{Password, PasswordHash, User};
use serde_json::json;
use std::num::NonZeroU32;
use std::sync::Arc;

on_both_stores! {
    every_record_kind_round_trips,
    one_authenticating_phone_per_account_and_unique_keys_are_refused,
    oldest_first_is_the_order_records_were_first_stored,
    a_failed_transaction_leaves_nothing_behind,
    transactions_that_lock_one_account_never_act_on_a_stale_count,
    fifty_parallel_wrong_answers_through_the_verifier_count_exactly_the_allowed_number,
    durable_commits_count_the_transactions_that_wrote,
    concurrent_transactions_all_commit_in_fewer_durable_commits_on_sqlite,
    outbox_messages_round_trip_come_due_in_order_and_are_counted_by_state,
    a_waiting_voice_call_is_taken_once_and_forgotten_after_its_wait,
}

/// The same as JSON: records compare by what they store.
fn same<T: serde::Serialize>(a: &T, b: &T) -> bool {
    serde_json::to_value(a).unwrap() == serde_json::to_value(b).unwrap()
}

fn user(name: &str) -> User {
    User {
        username: name.parse().unwrap(),
        password_hash: PasswordHash::create(
            &Password::new("correct horse battery".into()).unwrap(),
            NonZeroU32::new(1_000).unwrap(),
        )
        .unwrap(),
        phone: "+85212345678".parse().unwrap(),
        email: format!("{name}@example.com").parse().unwrap(),
        jurisdiction: "HK".parse().unwrap(),
        second_factor: "phone".parse().unwrap(),
        password_reset_required: true,
        created_at: 1_800_000_000,
    }
}

fn enrollment(id: u8, username: &str, status: EnrollmentStatus) -> Enrollment {
    Enrollment {
        id: EnrollmentId::from_bytes([id; 16]),
        username: username.into(),
        epoch: 2,
        status,
        device_key: vec![4; 65],
        device_name: "Pixel".into(),
        platform: Platform::Android,
        keystore: KeystoreKind::StrongBox,
        app_version: "1.0".into(),
        k_user_wrapped: vec![9; 60],
        ocra_suite: LATCHKEY_SUITE.into(),
        matching_mode: MatchingMode::Code,
        failures: 3,
        last_failure_at: Some(5),
        drift: -1,
        push_token: Some("token".into()),
        notifications_enabled: true,
        last_sync_issued_at: Some(7),
        receipt: Some(signed()),
        created_at: 1,
        activated_at: Some(2),
        revoked_at: None,
        replaced_by: None,
        recent_nonces: vec!["n1".into()],
        epoch_confirmed: true,
        push_token_refused: None,
    }
}

fn signed() -> Signed {
    serde_json::from_value(json!({ "body": "AAECAw", "sig": "BAUGBw" })).unwrap()
}

fn session(id: u8, username: &str, enrollment: Option<u8>) -> LoginSession {
    LoginSession {
        id: SessionId::from_bytes([id; 16]),
        request: RequestId::from_bytes([id.wrapping_add(100); 16]),
        username: username.into(),
        enrollment: enrollment.map(|e| EnrollmentId::from_bytes([e; 16])),
        challenge: "123456".parse().unwrap(),
        app: "Client Portal".into(),
        client: "Firefox".into(),
        origin: "203.0.113.7".into(),
        created_at: 100,
        expires_at: 400,
        push_expires_at: 220,
        pushed: true,
        push_refused: None,
        status: SessionStatus::Pending,
        decided_at: None,
        decided_by: None,
        client_version: Some("1.2".into()),
        factor: LoginFactor::Phone,
        opened_by: SessionOpener::ReferenceLogin,
    }
}

fn replacement(id: u8, username: &str) -> Replacement {
    Replacement {
        id: ReplacementId::from_bytes([id; 16]),
        username: username.into(),
        old_enrollment: Some(EnrollmentId::from_bytes([1; 16])),
        new_enrollment: EnrollmentId::from_bytes([2; 16]),
        kind: ReplacementKind::LostPhone,
        status: ReplacementStatus::Pending,
        created_at: 10,
        effective_at: Some(20),
        cancel_token_mac: Some(vec![7; 32]),
        ended_at: None,
    }
}

fn login_code(session: u8, username: &str) -> LoginCode {
    LoginCode {
        session: SessionId::from_bytes([session; 16]),
        username: username.into(),
        channel: CodeChannel::Voice,
        code_mac: vec![3; 32],
        sent_at: 100,
        expires_at: 400,
        state: LoginCodeState::Live,
    }
}

fn open(store: &TestStore) -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let opened = store.open(dir.path());
    (dir, opened)
}

fn every_record_kind_round_trips(store: &TestStore) {
    let (_dir, store) = open(store);
    let anna = user("anna");
    let enrollment = enrollment(1, "anna", EnrollmentStatus::Active);
    let ticket = Ticket {
        id: TicketId::from_bytes([5; 16]),
        enrollment: enrollment.id,
        username: "anna".into(),
        kind: TicketKind::Activation,
        secret_wrapped: Some(vec![1; 48]),
        code_mac: Some(vec![2; 32]),
        wrong_codes: 1,
        status: TicketStatus::Open,
        created_at: 1,
        expires_at: 601,
        replacement: Some(ReplacementKind::ApprovedOnOldPhone),
    };
    let session = session(6, "anna", Some(1));
    let proof = ProofRecord {
        id: ProofId::from_bytes([8; 16]),
        enrollment: enrollment.id,
        challenge: "654321".parse().unwrap(),
        expires_at: 300,
        spent: false,
    };
    let replacement = replacement(9, "anna");
    let notice = NoticeRecord {
        enrollment: enrollment.id,
        notice: signed(),
        expires_at: 1_000,
    };
    let code = login_code(6, "anna");
    let state = AccountRecord {
        epoch: 3,
        push_paused_until: Some(50),
        last_success_at: Some(40),
        opted_out: false,
        opt_out_warned_at: None,
        activation_starts: vec![1, 2],
        opt_out_warning: None,
        phone_change_authorised_until: Some(60),
        sms_suspensions: vec![5],
    };
    let guard = CodeGuard {
        wrong_codes: 4,
        suspended_until: Some(3_600),
    };
    let outbox = OutboxEntry {
        created_at: 5,
        channel: Channel::Voice,
        recipient: "+85212345678".into(),
        body: json!({ "text": "Your code is 123456", "press_key_first": true }),
    };
    let audit = AuditEvent {
        at: 6,
        kind: AuditKind::FraudReported,
        username: Some("anna".parse().unwrap()),
        detail: json!({ "session": "abc", "sessions_ended": ["x", "y"] }),
    };
    let (outbox_id, audit_id) = store
        .in_transaction(|tx| {
            tx.insert_user(&anna)?;
            tx.put_account_state("anna", &state)?;
            tx.put_enrollment(&enrollment)?;
            tx.put_ticket(&ticket)?;
            tx.put_session(&session)?;
            tx.put_proof(&proof)?;
            tx.put_replacement(&replacement)?;
            tx.add_notice(&notice)?;
            tx.add_push("anna", 100)?;
            tx.add_push("anna", 50)?;
            tx.put_login_code(&code)?;
            tx.add_code_send("anna", CodeChannel::Sms, 70)?;
            tx.put_code_guard("anna", &guard)?;
            Ok::<_, StoreError>((tx.append_outbox(&outbox)?, tx.append_audit(&audit)?))
        })
        .unwrap();

    store
        .in_transaction(|tx| {
            assert_eq!(tx.user(&anna.username)?, Some(anna.clone()));
            assert_eq!(tx.user(&"bob".parse().unwrap())?, None);
            assert_eq!(tx.user_count()?, 1);
            assert_eq!(tx.account_state("anna")?, state);
            assert_eq!(tx.account_state("bob")?, AccountRecord::default());
            assert!(same(&tx.enrollment(&enrollment.id)?.unwrap(), &enrollment));
            assert!(
                tx.enrollment(&EnrollmentId::from_bytes([77; 16]))?
                    .is_none()
            );
            assert!(same(&tx.enrollments_of("anna")?, &vec![enrollment.clone()]));
            assert!(same(&tx.ticket(&ticket.id)?.unwrap(), &ticket));
            assert!(same(&tx.session(&session.id)?.unwrap(), &session));
            assert!(same(
                &tx.session_by_request(&session.request)?.unwrap(),
                &session
            ));
            assert!(same(
                &tx.open_sessions_for(&enrollment.id, 200)?,
                &vec![session.clone()]
            ));
            assert!(tx.open_sessions_for(&enrollment.id, 220)?.is_empty());
            assert!(same(
                &tx.pending_sessions_of("anna", 399)?,
                &vec![session.clone()]
            ));
            assert!(tx.pending_sessions_of("anna", 400)?.is_empty());
            assert!(same(&tx.proof(&proof.id)?.unwrap(), &proof));
            assert!(same(
                &tx.replacement(&replacement.id)?.unwrap(),
                &replacement
            ));
            assert!(same(
                &tx.replacements_of("anna")?,
                &vec![replacement.clone()]
            ));
            assert!(same(
                &tx.pending_replacements()?,
                &vec![replacement.clone()]
            ));
            assert!(same(
                &tx.notices_for(&enrollment.id, 999)?,
                &vec![notice.clone()]
            ));
            assert!(tx.notices_for(&enrollment.id, 1_000)?.is_empty());
            assert_eq!(tx.pushes_since("anna", 0)?, vec![50, 100]);
            assert_eq!(tx.pushes_since("anna", 51)?, vec![100]);
            assert!(same(&tx.login_code(&code.session)?.unwrap(), &code));
            assert!(same(&tx.live_login_codes_of("anna")?, &vec![code.clone()]));
            assert_eq!(tx.code_sends_since("anna", 70)?, vec![70]);
            assert!(tx.code_sends_since("anna", 71)?.is_empty());
            assert_eq!(tx.code_guard("anna")?, guard);
            assert_eq!(tx.code_guard("bob")?, CodeGuard::default());
            let outboxed = tx.outbox_after(0, 10)?;
            assert_eq!(outboxed.len(), 1);
            assert_eq!((outboxed[0].id, &outboxed[0].entry), (outbox_id, &outbox));
            assert!(tx.outbox_after(outbox_id, 10)?.is_empty());
            let audited = tx.audit_after(0, 10)?;
            assert_eq!(audited.len(), 1);
            assert_eq!((audited[0].id, &audited[0].event), (audit_id, &audit));
            Ok::<_, StoreError>(())
        })
        .unwrap();

    // Replacing a record in place changes what is read, and the state columns
    // follow the record.
    let mut revoked = enrollment.clone();
    revoked.status = EnrollmentStatus::Revoked;
    let mut used = code.clone();
    used.state = LoginCodeState::Used;
    let mut cancelled = replacement.clone();
    cancelled.status = ReplacementStatus::Cancelled;
    let mut changed = anna.clone();
    changed.password_reset_required = false;
    store
        .in_transaction(|tx| {
            tx.put_enrollment(&revoked)?;
            tx.put_login_code(&used)?;
            tx.put_replacement(&cancelled)?;
            tx.update_user(&changed)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    store
        .in_transaction(|tx| {
            assert!(same(&tx.enrollment(&enrollment.id)?.unwrap(), &revoked));
            assert!(tx.live_login_codes_of("anna")?.is_empty());
            assert!(tx.pending_replacements()?.is_empty());
            assert_eq!(tx.user(&anna.username)?, Some(changed.clone()));
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let missing = store.in_transaction(|tx| tx.update_user(&user("bob")));
    assert!(
        matches!(missing, Err(StoreError::NotFound("user"))),
        "{missing:?}"
    );
}

fn one_authenticating_phone_per_account_and_unique_keys_are_refused(store: &TestStore) {
    let (_dir, store) = open(store);
    store
        .in_transaction(|tx| {
            tx.insert_user(&user("anna"))?;
            tx.put_enrollment(&enrollment(1, "anna", EnrollmentStatus::Active))?;
            tx.put_enrollment(&enrollment(2, "anna", EnrollmentStatus::Pending))?;
            tx.put_enrollment(&enrollment(3, "bob", EnrollmentStatus::Active))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let second = store
        .in_transaction(|tx| tx.put_enrollment(&enrollment(2, "anna", EnrollmentStatus::Active)));
    assert!(
        matches!(second, Err(StoreError::Duplicate("active enrollment"))),
        "{second:?}"
    );
    let disabled = store
        .in_transaction(|tx| tx.put_enrollment(&enrollment(4, "anna", EnrollmentStatus::Disabled)));
    assert!(
        matches!(disabled, Err(StoreError::Duplicate(_))),
        "{disabled:?}"
    );
    let taken = store.in_transaction(|tx| tx.insert_user(&user("anna")));
    assert!(
        matches!(taken, Err(StoreError::Duplicate("user"))),
        "{taken:?}"
    );
    // Refused means refused whole: the pending phone is still pending, and once
    // the active one is revoked, the pending one may become active.
    store
        .in_transaction(|tx| {
            let pending = tx.enrollment(&EnrollmentId::from_bytes([2; 16]))?.unwrap();
            assert_eq!(pending.status, EnrollmentStatus::Pending);
            assert_eq!(tx.user_count()?, 1);
            tx.put_enrollment(&enrollment(1, "anna", EnrollmentStatus::Revoked))?;
            tx.put_enrollment(&enrollment(2, "anna", EnrollmentStatus::Active))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

fn oldest_first_is_the_order_records_were_first_stored(store: &TestStore) {
    let (_dir, store) = open(store);
    // Ids that sort the other way round, and a replacement of the first record
    // after the others: neither changes the order.
    let order = [9u8, 5, 1];
    store
        .in_transaction(|tx| {
            for id in order {
                tx.put_enrollment(&enrollment(id, "anna", EnrollmentStatus::Pending))?;
                tx.put_session(&session(id, "anna", None))?;
                tx.put_replacement(&replacement(id, "anna"))?;
                tx.put_login_code(&login_code(id, "anna"))?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    store
        .in_transaction(|tx| {
            let mut first = enrollment(9, "anna", EnrollmentStatus::Revoked);
            first.device_name = "renamed".into();
            tx.put_enrollment(&first)?;
            let mut session = session(9, "anna", None);
            session.app = "changed".into();
            tx.put_session(&session)?;
            tx.put_replacement(&replacement(9, "anna"))?;
            tx.put_login_code(&login_code(9, "anna"))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    store
        .in_transaction(|tx| {
            let enrollments: Vec<u8> = tx
                .enrollments_of("anna")?
                .iter()
                .map(|e| e.id.as_bytes()[0])
                .collect();
            assert_eq!(enrollments, order);
            let sessions: Vec<u8> = tx
                .pending_sessions_of("anna", 0)?
                .iter()
                .map(|s| s.id.as_bytes()[0])
                .collect();
            assert_eq!(sessions, order);
            let replacements: Vec<u8> = tx
                .replacements_of("anna")?
                .iter()
                .map(|r| r.id.as_bytes()[0])
                .collect();
            assert_eq!(replacements, order);
            let pending: Vec<u8> = tx
                .pending_replacements()?
                .iter()
                .map(|r| r.id.as_bytes()[0])
                .collect();
            assert_eq!(pending, order);
            let codes: Vec<u8> = tx
                .live_login_codes_of("anna")?
                .iter()
                .map(|c| c.session.as_bytes()[0])
                .collect();
            assert_eq!(codes, order);
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

fn a_failed_transaction_leaves_nothing_behind(store: &TestStore) {
    let (_dir, store) = open(store);
    let outcome: Result<(), StoreError> = store.in_transaction(|tx| {
        tx.insert_user(&user("anna"))?;
        tx.put_enrollment(&enrollment(1, "anna", EnrollmentStatus::Active))?;
        tx.add_push("anna", 5)?;
        tx.append_audit(&AuditEvent {
            at: 1,
            kind: AuditKind::UserCreated,
            username: None,
            detail: json!({}),
        })?;
        Err(StoreError::NotFound("anything"))
    });
    assert!(matches!(outcome, Err(StoreError::NotFound("anything"))));
    // A refused statement inside the work fails the whole transaction too.
    let refused: Result<(), StoreError> = store.in_transaction(|tx| {
        tx.insert_user(&user("bob"))?;
        tx.put_enrollment(&enrollment(2, "bob", EnrollmentStatus::Active))?;
        tx.put_enrollment(&enrollment(3, "bob", EnrollmentStatus::Active))
    });
    assert!(
        matches!(refused, Err(StoreError::Duplicate(_))),
        "{refused:?}"
    );
    store
        .in_transaction(|tx| {
            assert_eq!(tx.user_count()?, 0);
            assert!(tx.enrollments_of("anna")?.is_empty());
            assert!(tx.enrollments_of("bob")?.is_empty());
            assert!(tx.pushes_since("anna", 0)?.is_empty());
            assert!(tx.audit_after(0, 10)?.is_empty());
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

/// 20 threads each count the account's pushes and add one if fewer than 3 were
/// sent — a read of some rows, then an insert of another, which REPEATABLE READ
/// alone lets two transactions both do (write skew). Under the account's lock
/// exactly 3 are added on every backend (SQLite because it serialises;
/// PostgreSQL because the losers of each race run again and see the winner).
fn transactions_that_lock_one_account_never_act_on_a_stale_count(store: &TestStore) {
    let (_dir, store) = open(store);
    let runs = std::sync::atomic::AtomicU32::new(0);
    let added: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(|| {
                    store
                        .in_transaction(|tx| {
                            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tx.lock_account("anna")?;
                            if tx.pushes_since("anna", 0)?.len() >= 3 {
                                return Ok(false);
                            }
                            tx.add_push("anna", 100)?;
                            Ok::<_, StoreError>(true)
                        })
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let pushes = store
        .in_transaction(|tx| tx.pushes_since("anna", 0))
        .unwrap();
    assert_eq!(pushes.len(), 3, "after {runs:?} runs of the work");
    assert_eq!(added.iter().filter(|a| **a).count(), 3);
}

/// The verifier on this store: 50 wrong typed responses in parallel are
/// counted up to the delay (3) and every other one is refused uncounted.
fn fifty_parallel_wrong_answers_through_the_verifier_count_exactly_the_allowed_number(
    store: &TestStore,
) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_on(store, dir.path(), true);
    let phone = activated(&server, dir.path(), "anna", "US");
    let codes = parallel_wrong_typed_responses(&server, dir.path(), &phone, 50);
    let counted = codes.iter().filter(|c| *c == "wrong_response").count();
    let delayed = codes.iter().filter(|c| *c == "attempt_delayed").count();
    assert_eq!((counted, delayed), (3, 47), "{codes:?}");
    let failures = server
        .state
        .store
        .in_transaction(|tx| tx.enrollment(&phone.soft.enrollment()))
        .unwrap()
        .unwrap()
        .failures;
    assert_eq!(failures, 3);
    server.stop();
}

/// `durable_commits` (the metrics' and `latchkey bench load`'s fsync count)
/// grows by one for a transaction that wrote, not for one that only read nor
/// for one that failed.
fn durable_commits_count_the_transactions_that_wrote(store: &TestStore) {
    let (_dir, store) = open(store);
    let before = store.durable_commits();
    store
        .in_transaction(|tx| tx.insert_user(&user("anna")))
        .unwrap();
    assert_eq!(store.durable_commits() - before, 1);
    store.in_transaction(|tx| tx.user_count()).unwrap();
    let failed: Result<(), StoreError> = store.in_transaction(|tx| {
        tx.add_push("anna", 5)?;
        Err(StoreError::NotFound("anything"))
    });
    assert!(failed.is_err());
    assert_eq!(store.durable_commits() - before, 1);
}

/// 16 threads append 25 audit events each at once: every one is kept, each
/// under its own id. On SQLite concurrent transactions share commits (group
/// commit), so there are fewer durable commits than transactions; on
/// PostgreSQL each is its own.
fn concurrent_transactions_all_commit_in_fewer_durable_commits_on_sqlite(kind: &TestStore) {
    let (_dir, store) = open(kind);
    let before = store.durable_commits();
    let ids: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|thread| {
                let store = &store;
                scope.spawn(move || {
                    (0..25)
                        .map(|i| {
                            store
                                .in_transaction(|tx| {
                                    tx.append_audit(&AuditEvent {
                                        at: 1,
                                        kind: AuditKind::UserCreated,
                                        username: None,
                                        detail: json!({ "thread": thread, "i": i }),
                                    })
                                })
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let rows = store.in_transaction(|tx| tx.audit_after(0, 1000)).unwrap();
    assert_eq!(rows.len(), 400);
    let mut stored: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut acknowledged = ids;
    stored.sort_unstable();
    acknowledged.sort_unstable();
    assert_eq!(stored, acknowledged, "every acknowledged write is stored");
    let commits = store.durable_commits() - before;
    match kind {
        TestStore::Sqlite => assert!(
            (1..400).contains(&commits),
            "{commits} durable commits for 400 transactions"
        ),
        TestStore::Postgres(_) => assert_eq!(commits, 400),
    }
}

// PostgreSQL's own migrations (SQLite's are tested beside its store).

/// Nodes that start together on a new database migrate it once: every one of
/// them opens, and the schema is at the newest version, not applied twice.
#[test]
fn postgres_nodes_starting_together_migrate_a_new_database_once() {
    let Some(TestStore::Postgres(url)) = TestStore::postgres() else {
        return;
    };
    let versions: Vec<u32> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    latchkey_server::store::PostgresStore::connect(&url, 2)
                        .unwrap()
                        .schema_version()
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let newest = latchkey_server::store::POSTGRES_MIGRATIONS.len() as u32;
    assert_eq!(versions, vec![newest; 4]);
}

/// A database a newer Latchkey migrated is refused, and left as it was.
#[test]
fn a_postgres_database_from_newer_code_is_refused_and_left_untouched() {
    let Some(store) = TestStore::postgres() else {
        return;
    };
    let TestStore::Postgres(url) = store.clone() else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let opened = store.open(dir.path());
    opened
        .in_transaction(|tx| tx.insert_user(&user("anna")))
        .unwrap();
    let newest = latchkey_server::store::POSTGRES_MIGRATIONS.len() as i32;
    let mut admin = postgres::Client::connect(url.expose(), postgres::NoTls).unwrap();
    admin
        .execute("UPDATE latchkey_schema SET version = $1", &[&(newest + 1)])
        .unwrap();
    let refused = std::thread::spawn(move || {
        latchkey_server::store::PostgresStore::connect(&url, 2).map(|_| ())
    })
    .join()
    .unwrap();
    assert!(
        matches!(refused, Err(StoreError::TooNew { found, supported }) if found == supported + 1),
        "{refused:?}"
    );
    let version: i32 = admin
        .query_one("SELECT version FROM latchkey_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, newest + 1);
    assert_eq!(opened.in_transaction(|tx| tx.user_count()).unwrap(), 1);
}

/// An outbox message with key `key` (32 hex digits), pending, due at `due`.
fn outbound(key: u8, channel: Channel, due: u64) -> Outbound {
    Outbound {
        id: 0,
        key: format!("{key:02x}").repeat(16),
        channel,
        recipient: "+852****5678".into(),
        sealed: Some(vec![key; 40]),
        state: OutboundState::Pending,
        attempts: 0,
        created_at: 1_000,
        next_attempt_at: due,
        lease_until: None,
        expires_at: 1_600,
        last_error: None,
        finished_at: None,
    }
}

fn outbox_messages_round_trip_come_due_in_order_and_are_counted_by_state(store: &TestStore) {
    let (_dir, store) = open(store);
    let ids = store
        .in_transaction(|tx| {
            Ok::<_, StoreError>(vec![
                tx.insert_outbound(&outbound(1, Channel::Sms, 1_010))?,
                tx.insert_outbound(&outbound(2, Channel::Push, 1_000))?,
                tx.insert_outbound(&outbound(3, Channel::Email, 2_000))?,
            ])
        })
        .unwrap();
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "ids increase: {ids:?}");
    // A second row with a taken key is refused, and the transaction leaves nothing.
    assert!(matches!(
        store.in_transaction(|tx| tx.insert_outbound(&outbound(1, Channel::Voice, 1_000))),
        Err(StoreError::Duplicate(_))
    ));
    let first = store
        .in_transaction(|tx| tx.outbound(ids[0]))
        .unwrap()
        .unwrap();
    assert_eq!(
        first,
        Outbound {
            id: ids[0],
            ..outbound(1, Channel::Sms, 1_010)
        }
    );
    assert_eq!(store.in_transaction(|tx| tx.outbound(9_999)).unwrap(), None);

    // Due at 1 010: the two whose time has come, oldest (by id) first, at most `limit`.
    let due = store
        .in_transaction(|tx| tx.due_outbound(1_010, 10))
        .unwrap();
    assert_eq!(
        due.iter().map(|row| row.id).collect::<Vec<_>>(),
        [ids[0], ids[1]]
    );
    assert_eq!(
        store
            .in_transaction(|tx| tx.due_outbound(1_010, 1))
            .unwrap()
            .len(),
        1
    );

    // Claimed (sending, leased until 1 070): not due until the lease lapses.
    let mut claimed = first.clone();
    claimed.state = OutboundState::Sending;
    claimed.attempts = 1;
    claimed.lease_until = Some(1_070);
    store
        .in_transaction(|tx| tx.put_outbound(&claimed))
        .unwrap();
    let due_ids = |now| {
        store
            .in_transaction(|tx| tx.due_outbound(now, 10))
            .unwrap()
            .iter()
            .map(|row| row.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(due_ids(1_069), [ids[1]]);
    assert_eq!(due_ids(1_070), [ids[0], ids[1]]);

    // Sent (content erased) and dead: never due again, counted apart.
    let mut sent = claimed.clone();
    sent.state = OutboundState::Sent;
    sent.sealed = None;
    sent.lease_until = None;
    sent.finished_at = Some(1_020);
    let mut dead = store
        .in_transaction(|tx| tx.outbound(ids[1]))
        .unwrap()
        .unwrap();
    dead.state = OutboundState::Dead;
    dead.sealed = None;
    dead.last_error = Some("the provider refused the message: 400".into());
    dead.finished_at = Some(1_030);
    store
        .in_transaction(|tx| {
            tx.put_outbound(&sent)?;
            tx.put_outbound(&dead)
        })
        .unwrap();
    assert_eq!(
        store.in_transaction(|tx| tx.outbound(ids[0])).unwrap(),
        Some(sent)
    );
    assert_eq!(due_ids(5_000), [ids[2]]);
    assert_eq!(
        store.outbox_counts().unwrap(),
        OutboxCounts {
            pending: 1,
            sent: 1,
            dead: 1
        }
    );
    let listed = |state| {
        store
            .in_transaction(|tx| tx.outbound_after(0, state, 10))
            .unwrap()
            .iter()
            .map(|row| row.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(None), ids);
    assert_eq!(listed(Some(OutboundState::Dead)), [ids[1]]);
    assert_eq!(listed(Some(OutboundState::Pending)), [ids[2]]);
    assert_eq!(
        store
            .in_transaction(|tx| tx.outbound_after(ids[0], None, 1))
            .unwrap()
            .iter()
            .map(|row| row.id)
            .collect::<Vec<_>>(),
        [ids[1]]
    );
    // Updating a message that is not there is an error.
    assert!(matches!(
        store.in_transaction(|tx| tx.put_outbound(&Outbound {
            id: 9_999,
            ..outbound(9, Channel::Sms, 0)
        })),
        Err(StoreError::NotFound(_))
    ));
}

fn a_waiting_voice_call_is_taken_once_and_forgotten_after_its_wait(store: &TestStore) {
    let (_dir, store) = open(store);
    let call = |n: u8, placed_at| VoiceCallRecord {
        call: [n; 32],
        sealed: vec![n; 48],
        placed_at,
    };
    store
        .in_transaction(|tx| {
            tx.put_voice_call(&call(1, 1_000))?;
            tx.put_voice_call(&call(2, 1_100))?;
            tx.put_voice_call(&call(3, 1_300))
        })
        .unwrap();
    assert!(matches!(
        store.in_transaction(|tx| tx.put_voice_call(&call(1, 1_400))),
        Err(StoreError::Duplicate(_))
    ));
    let taken = store
        .in_transaction(|tx| tx.take_voice_call(&[2; 32]))
        .unwrap();
    assert_eq!(taken, Some(call(2, 1_100)));
    assert_eq!(
        store
            .in_transaction(|tx| tx.take_voice_call(&[2; 32]))
            .unwrap(),
        None,
        "taken once"
    );
    assert_eq!(
        store
            .in_transaction(|tx| tx.forget_voice_calls_before(1_300))
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .in_transaction(|tx| tx.take_voice_call(&[1; 32]))
            .unwrap(),
        None,
        "forgotten"
    );
    assert_eq!(
        store
            .in_transaction(|tx| tx.take_voice_call(&[3; 32]))
            .unwrap(),
        Some(call(3, 1_300))
    );
}
