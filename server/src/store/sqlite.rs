//! The SQLite [`Store`]: one connection behind a mutex, opened and migrated by
//! core's shared runner (`latchkey_core::sql`: WAL, `synchronous=FULL`, foreign
//! keys, `PRAGMA user_version`, all pending migrations in one transaction).
//!
//! **Group commit.** A durable `COMMIT` (an fsync under `synchronous=FULL`) costs
//! far more than a ceremony step's statements, so concurrent transactions share
//! one: the caller holding the connection opens `BEGIN IMMEDIATE` if no batch is
//! open, runs its work inside its own `SAVEPOINT`, and then, if other callers
//! are already waiting for the connection (and the batch holds fewer than
//! [`MAX_BATCH`] bodies), leaves the batch open for them and waits; the last
//! body of a batch commits it and tells every member the outcome. Work runs on
//! its caller's thread, one body at a time, exactly as serialised as before.
//!
//! Invariants: a caller whose work returned `Ok` is answered only after the
//! `COMMIT` holding its writes returned — `Ok` if it succeeded, its error if it
//! failed (then nothing of the batch is kept); work that returns `Err` (or
//! panics) rolls back its own savepoint only, and its caller gets its error at
//! once; writers never interleave (hence [`StoreTx::lock_account`] is a no-op
//! here); a batch is open only while some caller counted in `arriving` is bound
//! to take the connection next, so every open batch is committed; it never
//! returns [`StoreError::Conflict`] (a file another process holds waits out the
//! busy timeout, then is a `Database` error: retrying would only wait again);
//! "oldest first" is the `seq` column (migration 0005, indexed by 0007), never
//! the rowid. Statements go through the connection's prepared-statement cache.

use super::outbound::{OUTBOUND_COLUMNS, OutboundColumns, opt_i64};
use super::records::{
    AccountRecord, CodeChannel, Enrollment, LoginCode, LoginSession, NoticeRecord, ProofRecord,
    Replacement, SessionStatus, Ticket,
};
use super::{
    AuditEvent, AuditKind, AuditRow, Channel, Outbound, OutboundState, OutboxCounts, OutboxEntry,
    OutboxRow, Store, StoreError, StoreTx, USER_COLUMNS, UserColumns, VoiceCallRecord, to_i64,
    to_u64,
};
use crate::rules::CodeGuard;
use crate::users::{User, Username};
use latchkey_core::protocol::{
    EnrollmentId, ProofId, ReplacementId, RequestId, SessionId, TicketId,
};
use latchkey_core::sql::SqlError;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// The schema's migrations, oldest first (`server/migrations/NNNN_*.sql`):
/// entry `n - 1` takes the database from version `n - 1` to `n`. Append new
/// files; never edit a released one.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_users_outbox_audit.sql"),
    include_str!("../../migrations/0002_verifier.sql"),
    include_str!("../../migrations/0003_login_codes.sql"),
    include_str!("../../migrations/0004_sessions_by_account.sql"),
    include_str!("../../migrations/0005_ordering_columns.sql"),
    include_str!("../../migrations/0006_outbound.sql"),
    include_str!("../../migrations/0007_ordering_indexes.sql"),
    include_str!("../../migrations/0008_voice_calls.sql"),
];

/// The most transaction bodies one durable commit holds: a bound on how long
/// the first member of a batch waits for the others.
pub const MAX_BATCH: usize = 64;

/// Room in the connection's prepared-statement cache: every statement of
/// [`SqliteTx`] stays prepared (rusqlite's default keeps 16).
const STATEMENT_CACHE: usize = 128;

/// A SQLite failure as the backend-neutral [`StoreError`].
fn sqlite_error(error: rusqlite::Error) -> StoreError {
    migration_error(latchkey_core::sql::classify(error))
}

/// A failure of core's runner as the backend-neutral [`StoreError`].
fn migration_error(error: SqlError) -> StoreError {
    match error {
        SqlError::Corrupt => StoreError::Corrupt,
        SqlError::TooNew { found, supported } => StoreError::TooNew { found, supported },
        other => StoreError::Database(other.to_string()),
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        sqlite_error(error)
    }
}

/// The same failure again, for another member of a failed batch.
fn copy_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Corrupt => StoreError::Corrupt,
        StoreError::TooNew { found, supported } => StoreError::TooNew {
            found: *found,
            supported: *supported,
        },
        StoreError::Database(text) => StoreError::Database(text.clone()),
        other => StoreError::Database(other.to_string()),
    }
}

/// The server's SQLite store.
pub struct SqliteStore {
    shared: Mutex<Shared>,
    /// Callers of [`Store::transaction`] that want the connection and have not
    /// taken it yet: while there are any, a finished body leaves its batch open.
    arriving: AtomicUsize,
    /// Signalled whenever a batch ends (for [`SqliteStore::with_connection`]).
    idle: Condvar,
    /// Successful `COMMIT`s of batches that changed something.
    commits: AtomicU64,
}

/// What the mutex guards.
struct Shared {
    connection: Connection,
    /// The batch whose `BEGIN IMMEDIATE` is open, if any.
    batch: Option<Batch>,
}

/// An open transaction shared by several callers' bodies.
struct Batch {
    /// Where its members wait for the outcome of its `COMMIT`.
    outcome: Arc<Outcome>,
    /// Bodies run in it so far (committed or rolled back to their savepoint).
    bodies: usize,
    /// Whether a body kept in it changed something (its commit is durable).
    wrote: bool,
}

/// The outcome of one batch's `COMMIT`, once known.
#[derive(Default)]
struct Outcome {
    result: Mutex<Option<Result<(), StoreError>>>,
    ready: Condvar,
}

impl Outcome {
    fn set(&self, result: Result<(), StoreError>) {
        *lock(&self.result) = Some(result);
        self.ready.notify_all();
    }

    fn wait(&self) -> Result<(), StoreError> {
        let mut result = lock(&self.result);
        loop {
            if let Some(result) = result.as_ref() {
                return result.as_ref().map(|_| ()).map_err(copy_error);
            }
            result = self
                .ready
                .wait(result)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Locks `mutex`. Work never runs unwinding through a held guard (panics are
/// caught and rolled back to their savepoint), so a poisoned lock still guards
/// consistent state.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up
    /// to date. A corrupt or newer file is reported and left untouched.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection =
            latchkey_core::sql::open_and_migrate(path, MIGRATIONS).map_err(migration_error)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            shared: Mutex::new(Shared {
                connection,
                batch: None,
            }),
            arriving: AtomicUsize::new(0),
            idle: Condvar::new(),
            commits: AtomicU64::new(0),
        })
    }

    /// A fresh in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::open(Path::new(":memory:"))
    }

    /// Runs `f` on the connection (schema checks in tests, maintenance), between
    /// batches: never inside another caller's open transaction.
    pub fn with_connection<R>(&self, f: impl FnOnce(&Connection) -> R) -> R {
        let mut shared = lock(&self.shared);
        while shared.batch.is_some() {
            shared = self
                .idle
                .wait(shared)
                .unwrap_or_else(PoisonError::into_inner);
        }
        f(&shared.connection)
    }

    /// Ends the open batch: commits it (or, if `broken`, rolls it back with that
    /// error) and tells its members. Returns the outcome.
    fn end_batch(&self, shared: &mut Shared, broken: Option<StoreError>) -> Result<(), StoreError> {
        let Some(batch) = shared.batch.take() else {
            return Ok(());
        };
        let result = match broken {
            Some(error) => Err(error),
            None => match shared
                .connection
                .prepare_cached("COMMIT")
                .and_then(|mut commit| commit.execute([]))
            {
                Ok(_) => {
                    if batch.wrote {
                        self.commits.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(())
                }
                Err(error) => Err(sqlite_error(error)),
            },
        };
        if result.is_err() && !shared.connection.is_autocommit() {
            // A failed COMMIT (or a broken savepoint) leaves the transaction
            // open: nothing of the batch is kept. If even ROLLBACK fails, the
            // next batch's check below rolls back again before it begins.
            let _ = shared.connection.execute_batch("ROLLBACK");
        }
        let copy = result.as_ref().map(|_| ()).map_err(copy_error);
        batch.outcome.set(result);
        self.idle.notify_all();
        copy
    }
}

/// How one body ended.
enum Body {
    Done,
    Failed(StoreError),
    Panicked(Box<dyn std::any::Any + Send>),
}

/// Runs `work` inside its own savepoint of the open transaction; on error or
/// panic only the savepoint is rolled back. `Err` if the savepoint itself
/// failed: then the whole batch must be rolled back.
fn run_body(
    connection: &Connection,
    work: &mut dyn FnMut(&mut dyn StoreTx) -> Result<(), StoreError>,
) -> Result<Body, StoreError> {
    connection.prepare_cached("SAVEPOINT body")?.execute([])?;
    let mut tx = SqliteTx { connection };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut tx)));
    let body = match outcome {
        Ok(Ok(())) => Body::Done,
        Ok(Err(error)) => Body::Failed(error),
        Err(payload) => Body::Panicked(payload),
    };
    if !matches!(body, Body::Done) {
        connection.prepare_cached("ROLLBACK TO body")?.execute([])?;
    }
    connection.prepare_cached("RELEASE body")?.execute([])?;
    Ok(body)
}

impl Store for SqliteStore {
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn StoreTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.arriving.fetch_add(1, Ordering::SeqCst);
        let mut shared = lock(&self.shared);
        self.arriving.fetch_sub(1, Ordering::SeqCst);
        if shared.batch.is_none() {
            if !shared.connection.is_autocommit() {
                shared.connection.execute_batch("ROLLBACK")?;
            }
            shared
                .connection
                .prepare_cached("BEGIN IMMEDIATE")?
                .execute([])?;
            shared.batch = Some(Batch {
                outcome: Arc::default(),
                bodies: 0,
                wrote: false,
            });
        }
        let changes_before = shared.connection.total_changes();
        let body = match run_body(&shared.connection, work) {
            Ok(body) => body,
            Err(error) => {
                let copy = copy_error(&error);
                let _ = self.end_batch(&mut shared, Some(error));
                return Err(copy);
            }
        };
        let wrote =
            matches!(body, Body::Done) && shared.connection.total_changes() > changes_before;
        let keep_open = match shared.batch.as_mut() {
            Some(batch) => {
                batch.bodies += 1;
                batch.wrote |= wrote;
                batch.bodies < MAX_BATCH && self.arriving.load(Ordering::SeqCst) > 0
            }
            None => false,
        };
        let committed = if keep_open {
            let outcome = shared.batch.as_ref().map(|batch| batch.outcome.clone());
            drop(shared);
            match (&body, outcome) {
                (Body::Done, Some(outcome)) => outcome.wait(),
                _ => Ok(()),
            }
        } else {
            let result = self.end_batch(&mut shared, None);
            drop(shared);
            result
        };
        match body {
            Body::Done => committed,
            Body::Failed(error) => Err(error),
            Body::Panicked(payload) => std::panic::resume_unwind(payload),
        }
    }

    fn durable_commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }
}

struct SqliteTx<'a> {
    connection: &'a Connection,
}

impl SqliteTx<'_> {
    /// Runs one statement through the prepared-statement cache.
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.connection.prepare_cached(sql)?.execute(params)
    }

    /// One row through the prepared-statement cache.
    fn query_row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.connection.prepare_cached(sql)?.query_row(params, f)
    }
}

impl UserColumns {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            username: row.get(0)?,
            password_hash: row.get(1)?,
            phone: row.get(2)?,
            email: row.get(3)?,
            jurisdiction: row.get(4)?,
            second_factor: row.get(5)?,
            password_reset_required: row.get(6)?,
            created_at: row.get(7)?,
        })
    }
}

fn is_constraint_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::CorruptRow("record"))
}

fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::CorruptRow(what))
}

impl SqliteTx<'_> {
    /// One JSON record by key.
    fn get_record<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        key: impl rusqlite::ToSql,
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        let data: Option<String> = self.query_row(sql, [key], |row| row.get(0)).optional()?;
        data.map(|d| from_json(&d, what)).transpose()
    }

    /// Every JSON record a query returns.
    fn get_records<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        what: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let mut statement = self.connection.prepare_cached(sql)?;
        let rows = statement
            .query_map(params, |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|d| from_json(d, what)).collect()
    }
}

impl StoreTx for SqliteTx<'_> {
    fn lock_account(&mut self, _username: &str) -> Result<(), StoreError> {
        // Every body runs alone inside BEGIN IMMEDIATE on the one connection:
        // nothing else runs until it ends.
        Ok(())
    }

    fn insert_user(&mut self, user: &User) -> Result<(), StoreError> {
        let outcome = self.execute(
            &format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                user.username.as_str(),
                user.password_hash.to_stored(),
                user.phone.as_str(),
                user.email.as_str(),
                user.jurisdiction.as_str(),
                user.second_factor.as_str(),
                user.password_reset_required,
                to_i64(user.created_at, "created_at")?,
            ],
        );
        match outcome {
            Ok(_) => Ok(()),
            Err(error) if is_constraint_violation(&error) => Err(StoreError::Duplicate("user")),
            Err(error) => Err(error.into()),
        }
    }

    fn user(&mut self, username: &Username) -> Result<Option<User>, StoreError> {
        self.query_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
            [username.as_str()],
            UserColumns::read,
        )
        .optional()?
        .map(UserColumns::check)
        .transpose()
    }

    fn update_user(&mut self, user: &User) -> Result<(), StoreError> {
        let changed = self.execute(
            "UPDATE users SET password_hash = ?2, phone = ?3, email = ?4, jurisdiction = ?5, \
             second_factor = ?6, password_reset_required = ?7 WHERE username = ?1",
            params![
                user.username.as_str(),
                user.password_hash.to_stored(),
                user.phone.as_str(),
                user.email.as_str(),
                user.jurisdiction.as_str(),
                user.second_factor.as_str(),
                user.password_reset_required,
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    fn user_count(&mut self) -> Result<u64, StoreError> {
        let count: i64 = self.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))?;
        to_u64(count, "count")
    }

    fn append_outbox(&mut self, entry: &OutboxEntry) -> Result<i64, StoreError> {
        self.execute(
            "INSERT INTO outbox (created_at, channel, recipient, body) VALUES (?1, ?2, ?3, ?4)",
            params![
                to_i64(entry.created_at, "created_at")?,
                entry.channel.as_str(),
                entry.recipient,
                entry.body.to_string(),
            ],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    fn outbox_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT id, created_at, channel, recipient, body FROM outbox \
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = statement
            .query_map(params![after_id, limit], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, created_at, channel, recipient, body)| {
                Ok(OutboxRow {
                    id,
                    entry: OutboxEntry {
                        created_at: to_u64(created_at, "created_at")?,
                        channel: Channel::parse(&channel)
                            .ok_or(StoreError::CorruptRow("channel"))?,
                        recipient,
                        body: serde_json::from_str(&body)
                            .map_err(|_| StoreError::CorruptRow("outbox body"))?,
                    },
                })
            })
            .collect()
    }

    fn append_audit(&mut self, event: &AuditEvent) -> Result<i64, StoreError> {
        self.execute(
            "INSERT INTO audit (at, kind, username, detail) VALUES (?1, ?2, ?3, ?4)",
            params![
                to_i64(event.at, "at")?,
                event.kind.as_str(),
                event.username.as_ref().map(Username::as_str),
                event.detail.to_string(),
            ],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    fn audit_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT id, at, kind, username, detail FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = statement
            .query_map(params![after_id, limit], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, at, kind, username, detail)| {
                Ok(AuditRow {
                    id,
                    event: AuditEvent {
                        at: to_u64(at, "at")?,
                        kind: AuditKind::parse(&kind)
                            .ok_or(StoreError::CorruptRow("audit kind"))?,
                        username: username
                            .map(|u| u.parse())
                            .transpose()
                            .map_err(|_| StoreError::CorruptRow("username"))?,
                        detail: serde_json::from_str(&detail)
                            .map_err(|_| StoreError::CorruptRow("audit detail"))?,
                    },
                })
            })
            .collect()
    }

    fn account_state(&mut self, username: &str) -> Result<AccountRecord, StoreError> {
        Ok(self
            .get_record(
                "SELECT data FROM account_state WHERE username = ?1",
                username,
                "account state",
            )?
            .unwrap_or_default())
    }

    fn put_account_state(
        &mut self,
        username: &str,
        state: &AccountRecord,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO account_state (username, data) VALUES (?1, ?2) \
             ON CONFLICT (username) DO UPDATE SET data = excluded.data",
            params![username, to_json(state)?],
        )?;
        Ok(())
    }

    fn enrollment(&mut self, id: &EnrollmentId) -> Result<Option<Enrollment>, StoreError> {
        self.get_record(
            "SELECT data FROM enrollments WHERE id = ?1",
            id.as_bytes().as_slice(),
            "enrollment",
        )
    }

    fn enrollments_of(&mut self, username: &str) -> Result<Vec<Enrollment>, StoreError> {
        self.get_records(
            "SELECT data FROM enrollments WHERE username = ?1 ORDER BY seq",
            [username],
            "enrollment",
        )
    }

    fn put_enrollment(&mut self, enrollment: &Enrollment) -> Result<(), StoreError> {
        let outcome = self.execute(
            "INSERT INTO enrollments (id, username, state, data, seq) VALUES (?1, ?2, ?3, ?4, \
             (SELECT COALESCE(MAX(seq), 0) + 1 FROM enrollments)) ON CONFLICT (id) DO UPDATE SET username = excluded.username, state = excluded.state, \
             data = excluded.data",
            params![
                enrollment.id.as_bytes().as_slice(),
                enrollment.username,
                enrollment.status.as_str(),
                to_json(enrollment)?
            ],
        );
        match outcome {
            Ok(_) => Ok(()),
            Err(error) if is_constraint_violation(&error) => {
                Err(StoreError::Duplicate("active enrollment"))
            }
            Err(error) => Err(error.into()),
        }
    }

    fn ticket(&mut self, id: &TicketId) -> Result<Option<Ticket>, StoreError> {
        self.get_record(
            "SELECT data FROM tickets WHERE id = ?1",
            id.as_bytes().as_slice(),
            "ticket",
        )
    }

    fn put_ticket(&mut self, ticket: &Ticket) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO tickets (id, username, data) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            params![
                ticket.id.as_bytes().as_slice(),
                ticket.username,
                to_json(ticket)?
            ],
        )?;
        Ok(())
    }

    fn session(&mut self, id: &SessionId) -> Result<Option<LoginSession>, StoreError> {
        self.get_record(
            "SELECT data FROM sessions WHERE id = ?1",
            id.as_bytes().as_slice(),
            "session",
        )
    }

    fn session_by_request(
        &mut self,
        request: &RequestId,
    ) -> Result<Option<LoginSession>, StoreError> {
        self.get_record(
            "SELECT data FROM sessions WHERE request_id = ?1",
            request.as_bytes().as_slice(),
            "session",
        )
    }

    fn open_sessions_for(
        &mut self,
        enrollment: &EnrollmentId,
        now: u64,
    ) -> Result<Vec<LoginSession>, StoreError> {
        let sessions: Vec<LoginSession> = self.get_records(
            "SELECT data FROM sessions WHERE enrollment = ?1 AND expires_at > ?2 ORDER BY seq",
            params![enrollment.as_bytes().as_slice(), to_i64(now, "now")?],
            "session",
        )?;
        Ok(sessions
            .into_iter()
            .filter(|s| s.status == SessionStatus::Pending && s.pushed && now < s.push_expires_at)
            .collect())
    }

    fn pending_sessions_of(
        &mut self,
        username: &str,
        now: u64,
    ) -> Result<Vec<LoginSession>, StoreError> {
        let sessions: Vec<LoginSession> = self.get_records(
            "SELECT data FROM sessions WHERE username = ?1 AND expires_at > ?2 ORDER BY seq",
            params![username, to_i64(now, "now")?],
            "session",
        )?;
        Ok(sessions
            .into_iter()
            .filter(|s| s.status == SessionStatus::Pending)
            .collect())
    }

    fn put_session(&mut self, session: &LoginSession) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO sessions (id, request_id, username, enrollment, expires_at, data, seq) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM sessions)) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            params![
                session.id.as_bytes().as_slice(),
                session.request.as_bytes().as_slice(),
                session.username,
                session.enrollment.as_ref().map(|e| e.as_bytes().to_vec()),
                to_i64(session.expires_at, "expires_at")?,
                to_json(session)?
            ],
        )?;
        Ok(())
    }

    fn proof(&mut self, id: &ProofId) -> Result<Option<ProofRecord>, StoreError> {
        self.get_record(
            "SELECT data FROM proofs WHERE id = ?1",
            id.as_bytes().as_slice(),
            "proof",
        )
    }

    fn put_proof(&mut self, proof: &ProofRecord) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO proofs (id, enrollment, data) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            params![
                proof.id.as_bytes().as_slice(),
                proof.enrollment.as_bytes().as_slice(),
                to_json(proof)?
            ],
        )?;
        Ok(())
    }

    fn replacement(&mut self, id: &ReplacementId) -> Result<Option<Replacement>, StoreError> {
        self.get_record(
            "SELECT data FROM replacements WHERE id = ?1",
            id.as_bytes().as_slice(),
            "replacement",
        )
    }

    fn replacements_of(&mut self, username: &str) -> Result<Vec<Replacement>, StoreError> {
        self.get_records(
            "SELECT data FROM replacements WHERE username = ?1 ORDER BY seq",
            [username],
            "replacement",
        )
    }

    fn pending_replacements(&mut self) -> Result<Vec<Replacement>, StoreError> {
        self.get_records(
            "SELECT data FROM replacements WHERE status = 'pending' ORDER BY seq",
            [],
            "replacement",
        )
    }

    fn put_replacement(&mut self, replacement: &Replacement) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO replacements (id, username, status, data, seq) VALUES (?1, ?2, ?3, ?4, \
             (SELECT COALESCE(MAX(seq), 0) + 1 FROM replacements)) ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data",
            params![
                replacement.id.as_bytes().as_slice(),
                replacement.username,
                replacement.status.as_str(),
                to_json(replacement)?
            ],
        )?;
        Ok(())
    }

    fn add_notice(&mut self, notice: &NoticeRecord) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO notices (enrollment, expires_at, data) VALUES (?1, ?2, ?3)",
            params![
                notice.enrollment.as_bytes().as_slice(),
                to_i64(notice.expires_at, "expires_at")?,
                to_json(notice)?
            ],
        )?;
        Ok(())
    }

    fn notices_for(
        &mut self,
        enrollment: &EnrollmentId,
        now: u64,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        self.get_records(
            "SELECT data FROM notices WHERE enrollment = ?1 AND expires_at > ?2 ORDER BY id",
            params![enrollment.as_bytes().as_slice(), to_i64(now, "now")?],
            "notice",
        )
    }

    fn add_push(&mut self, username: &str, at: u64) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO pushes (username, sent_at) VALUES (?1, ?2)",
            params![username, to_i64(at, "sent_at")?],
        )?;
        Ok(())
    }

    fn pushes_since(&mut self, username: &str, since: u64) -> Result<Vec<u64>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT sent_at FROM pushes WHERE username = ?1 AND sent_at >= ?2 ORDER BY sent_at",
        )?;
        let times = statement
            .query_map(params![username, to_i64(since, "since")?], |row| {
                row.get::<_, i64>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        times.into_iter().map(|t| to_u64(t, "sent_at")).collect()
    }

    fn login_code(&mut self, session: &SessionId) -> Result<Option<LoginCode>, StoreError> {
        self.get_record(
            "SELECT data FROM login_codes WHERE session_id = ?1",
            session.as_bytes().as_slice(),
            "login code",
        )
    }

    fn live_login_codes_of(&mut self, username: &str) -> Result<Vec<LoginCode>, StoreError> {
        self.get_records(
            "SELECT data FROM login_codes WHERE username = ?1 AND state = 'live' ORDER BY seq",
            [username],
            "login code",
        )
    }

    fn put_login_code(&mut self, code: &LoginCode) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO login_codes (session_id, username, state, data, seq) VALUES (?1, ?2, ?3, \
             ?4, (SELECT COALESCE(MAX(seq), 0) + 1 FROM login_codes)) ON CONFLICT (session_id) DO UPDATE SET state = excluded.state, data = excluded.data",
            params![
                code.session.as_bytes().as_slice(),
                code.username,
                code.state.as_str(),
                to_json(code)?
            ],
        )?;
        Ok(())
    }

    fn add_code_send(
        &mut self,
        username: &str,
        channel: CodeChannel,
        at: u64,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO code_sends (username, channel, sent_at) VALUES (?1, ?2, ?3)",
            params![username, channel.as_str(), to_i64(at, "sent_at")?],
        )?;
        Ok(())
    }

    fn code_sends_since(&mut self, username: &str, since: u64) -> Result<Vec<u64>, StoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT sent_at FROM code_sends WHERE username = ?1 AND sent_at >= ?2 ORDER BY sent_at",
        )?;
        let times = statement
            .query_map(params![username, to_i64(since, "since")?], |row| {
                row.get::<_, i64>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        times.into_iter().map(|t| to_u64(t, "sent_at")).collect()
    }

    fn code_guard(&mut self, username: &str) -> Result<CodeGuard, StoreError> {
        let row: Option<(i64, Option<i64>)> = self
            .query_row(
                "SELECT wrong_codes, suspended_until FROM code_guards WHERE username = ?1",
                [username],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((wrong_codes, suspended_until)) = row else {
            return Ok(CodeGuard::default());
        };
        Ok(CodeGuard {
            wrong_codes: u32::try_from(wrong_codes)
                .map_err(|_| StoreError::CorruptRow("wrong_codes"))?,
            suspended_until: suspended_until
                .map(|t| to_u64(t, "suspended_until"))
                .transpose()?,
        })
    }

    fn put_code_guard(&mut self, username: &str, guard: &CodeGuard) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO code_guards (username, wrong_codes, suspended_until) VALUES (?1, ?2, ?3) \
             ON CONFLICT (username) DO UPDATE SET wrong_codes = excluded.wrong_codes, \
             suspended_until = excluded.suspended_until",
            params![
                username,
                i64::from(guard.wrong_codes),
                guard
                    .suspended_until
                    .map(|t| to_i64(t, "suspended_until"))
                    .transpose()?
            ],
        )?;
        Ok(())
    }

    fn insert_outbound(&mut self, row: &Outbound) -> Result<i64, StoreError> {
        let outcome = self.connection.execute(
            "INSERT INTO outbound (key, channel, recipient, sealed, state, attempts, created_at, \
             next_attempt_at, lease_until, expires_at, last_error, finished_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                row.key,
                row.channel.as_str(),
                row.recipient,
                row.sealed,
                row.state.as_str(),
                i64::from(row.attempts),
                to_i64(row.created_at, "created_at")?,
                to_i64(row.next_attempt_at, "next_attempt_at")?,
                opt_i64(row.lease_until, "lease_until")?,
                to_i64(row.expires_at, "expires_at")?,
                row.last_error,
                opt_i64(row.finished_at, "finished_at")?,
            ],
        );
        match outcome {
            Ok(_) => Ok(self.connection.last_insert_rowid()),
            Err(error) if is_constraint_violation(&error) => Err(StoreError::Duplicate("message")),
            Err(error) => Err(error.into()),
        }
    }

    fn outbound(&mut self, id: i64) -> Result<Option<Outbound>, StoreError> {
        let mut rows = self.outbound_query(
            &format!("SELECT {OUTBOUND_COLUMNS} FROM outbound WHERE id = ?1"),
            params![id],
        )?;
        Ok(rows.pop())
    }

    fn due_outbound(&mut self, now: u64, limit: u32) -> Result<Vec<Outbound>, StoreError> {
        let now = to_i64(now, "now")?;
        self.outbound_query(
            &format!(
                "SELECT {OUTBOUND_COLUMNS} FROM outbound WHERE (state = 'pending' AND \
                 next_attempt_at <= ?1) OR (state = 'sending' AND lease_until <= ?1) \
                 ORDER BY id LIMIT ?2"
            ),
            params![now, limit],
        )
    }

    fn put_outbound(&mut self, row: &Outbound) -> Result<(), StoreError> {
        let changed = self.connection.execute(
            "UPDATE outbound SET sealed = ?2, state = ?3, attempts = ?4, next_attempt_at = ?5, \
             lease_until = ?6, expires_at = ?7, last_error = ?8, finished_at = ?9 WHERE id = ?1",
            params![
                row.id,
                row.sealed,
                row.state.as_str(),
                i64::from(row.attempts),
                to_i64(row.next_attempt_at, "next_attempt_at")?,
                opt_i64(row.lease_until, "lease_until")?,
                to_i64(row.expires_at, "expires_at")?,
                row.last_error,
                opt_i64(row.finished_at, "finished_at")?,
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound("message"));
        }
        Ok(())
    }

    fn outbound_after(
        &mut self,
        after_id: i64,
        state: Option<OutboundState>,
        limit: u32,
    ) -> Result<Vec<Outbound>, StoreError> {
        self.outbound_query(
            &format!(
                "SELECT {OUTBOUND_COLUMNS} FROM outbound WHERE id > ?1 AND (?2 IS NULL OR \
                 state = ?2) ORDER BY id LIMIT ?3"
            ),
            params![after_id, state.map(|s| s.as_str()), limit],
        )
    }

    fn outbox_counts(&mut self) -> Result<OutboxCounts, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT state, COUNT(*) FROM outbound GROUP BY state")?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut counts = OutboxCounts::default();
        for (state, count) in rows {
            let count = to_u64(count, "count")?;
            match OutboundState::parse(&state).ok_or(StoreError::CorruptRow("state"))? {
                OutboundState::Pending | OutboundState::Sending => counts.pending += count,
                OutboundState::Sent => counts.sent += count,
                OutboundState::Dead => counts.dead += count,
            }
        }
        Ok(counts)
    }

    fn put_voice_call(&mut self, call: &VoiceCallRecord) -> Result<(), StoreError> {
        let outcome = self.connection.execute(
            "INSERT INTO voice_calls (call, sealed, placed_at) VALUES (?1, ?2, ?3)",
            params![
                call.call.as_slice(),
                call.sealed,
                to_i64(call.placed_at, "placed_at")?
            ],
        );
        match outcome {
            Ok(_) => Ok(()),
            Err(error) if is_constraint_violation(&error) => {
                Err(StoreError::Duplicate("voice call"))
            }
            Err(error) => Err(error.into()),
        }
    }

    fn take_voice_call(&mut self, call: &[u8; 32]) -> Result<Option<VoiceCallRecord>, StoreError> {
        let found = self
            .connection
            .query_row(
                "DELETE FROM voice_calls WHERE call = ?1 RETURNING sealed, placed_at",
                params![call.as_slice()],
                |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, i64>(1)?)),
            )
            .optional()?;
        found
            .map(|(sealed, placed_at)| {
                Ok(VoiceCallRecord {
                    call: *call,
                    sealed,
                    placed_at: to_u64(placed_at, "placed_at")?,
                })
            })
            .transpose()
    }

    fn forget_voice_calls_before(&mut self, before: u64) -> Result<u64, StoreError> {
        let deleted = self.connection.execute(
            "DELETE FROM voice_calls WHERE placed_at < ?1",
            params![to_i64(before, "before")?],
        )?;
        Ok(deleted as u64)
    }
}

impl SqliteTx<'_> {
    /// The `outbound` rows a query (selecting [`OUTBOUND_COLUMNS`]) returns.
    fn outbound_query(
        &mut self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Outbound>, StoreError> {
        let mut statement = self.connection.prepare_cached(sql)?;
        let rows = statement
            .query_map(params, |row| {
                Ok(OutboundColumns {
                    id: row.get(0)?,
                    key: row.get(1)?,
                    channel: row.get(2)?,
                    recipient: row.get(3)?,
                    sealed: row.get(4)?,
                    state: row.get(5)?,
                    attempts: row.get(6)?,
                    created_at: row.get(7)?,
                    next_attempt_at: row.get(8)?,
                    lease_until: row.get(9)?,
                    expires_at: row.get(10)?,
                    last_error: row.get(11)?,
                    finished_at: row.get(12)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(OutboundColumns::check).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreExt;
    use latchkey_core::sql::schema_of;

    #[test]
    fn each_migrated_version_equals_a_fresh_schema() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = SqliteStore::open(&dir.path().join("fresh.db")).unwrap();
        let fresh = fresh.with_connection(|c| schema_of(c).unwrap());
        assert!(fresh.iter().any(|(_, name, _)| name == "users"));
        for version in 1..=MIGRATIONS.len() {
            let path = dir.path().join(format!("v{version}.db"));
            drop(latchkey_core::sql::open_and_migrate(&path, &MIGRATIONS[..version]).unwrap());
            let migrated = SqliteStore::open(&path).unwrap();
            assert_eq!(
                migrated.with_connection(|c| schema_of(c).unwrap()),
                fresh,
                "from v{version}"
            );
            let version: usize = migrated.with_connection(|c| {
                c.query_row("PRAGMA user_version", [], |r| r.get(0))
                    .unwrap()
            });
            assert_eq!(version, MIGRATIONS.len());
        }
    }

    #[test]
    fn records_stored_before_the_ordering_column_keep_their_order_after_it() {
        use crate::store::records::{EnrollmentStatus, ReplacementKind, ReplacementStatus};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        let enrollment = |id: u8| Enrollment {
            id: EnrollmentId::from_bytes([id; 16]),
            username: "anna".into(),
            epoch: 0,
            status: EnrollmentStatus::Pending,
            device_key: vec![4; 65],
            device_name: "Pixel".into(),
            platform: latchkey_core::protocol::Platform::Android,
            keystore: latchkey_core::protocol::KeystoreKind::StrongBox,
            app_version: "1.0".into(),
            k_user_wrapped: vec![9; 60],
            ocra_suite: latchkey_core::protocol::LATCHKEY_SUITE.into(),
            matching_mode: latchkey_core::protocol::MatchingMode::Code,
            failures: 0,
            last_failure_at: None,
            drift: 0,
            push_token: None,
            notifications_enabled: true,
            last_sync_issued_at: None,
            receipt: None,
            created_at: 1,
            activated_at: None,
            revoked_at: None,
            replaced_by: None,
            recent_nonces: vec![],
            epoch_confirmed: false,
            push_token_refused: None,
        };
        let replacement = |id: u8| Replacement {
            id: ReplacementId::from_bytes([id; 16]),
            username: "anna".into(),
            old_enrollment: None,
            new_enrollment: EnrollmentId::from_bytes([id; 16]),
            kind: ReplacementKind::LostPhone,
            status: ReplacementStatus::Pending,
            created_at: 1,
            effective_at: Some(2),
            cancel_token_mac: None,
            ended_at: None,
        };
        {
            // Version 4, as a released server left it: rows in rowid order 9, 5, 1.
            let v4 = latchkey_core::sql::open_and_migrate(&path, &MIGRATIONS[..4]).unwrap();
            for id in [9u8, 5, 1] {
                v4.execute(
                    "INSERT INTO enrollments (id, username, state, data) VALUES (?1, 'anna', 'pending', ?2)",
                    params![vec![id; 16], serde_json::to_string(&enrollment(id)).unwrap()],
                )
                .unwrap();
                v4.execute(
                    "INSERT INTO replacements (id, username, status, data) VALUES (?1, 'anna', 'pending', ?2)",
                    params![vec![id; 16], serde_json::to_string(&replacement(id)).unwrap()],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        store
            .in_transaction(|tx| {
                tx.put_enrollment(&enrollment(3))?;
                tx.put_replacement(&replacement(3))
            })
            .unwrap();
        let (enrollments, replacements) = store
            .in_transaction(|tx| {
                Ok::<_, StoreError>((tx.enrollments_of("anna")?, tx.pending_replacements()?))
            })
            .unwrap();
        let firsts = |ids: Vec<[u8; 16]>| ids.iter().map(|id| id[0]).collect::<Vec<_>>();
        assert_eq!(
            firsts(enrollments.iter().map(|e| *e.id.as_bytes()).collect()),
            [9, 5, 1, 3]
        );
        assert_eq!(
            firsts(replacements.iter().map(|r| *r.id.as_bytes()).collect()),
            [9, 5, 1, 3]
        );
        let seqs: Vec<i64> = store.with_connection(|c| {
            let mut statement = c
                .prepare("SELECT seq FROM enrollments ORDER BY rowid")
                .unwrap();
            statement
                .query_map([], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        });
        assert_eq!(seqs, [1, 2, 3, 4], "old rows numbered in their old order");
    }

    #[test]
    fn a_failed_transaction_leaves_nothing_behind() {
        let store = SqliteStore::open_in_memory().unwrap();
        let entry = OutboxEntry {
            created_at: 5,
            channel: Channel::Sms,
            recipient: "+85212345678".into(),
            body: serde_json::json!({"text": "hello"}),
        };
        let outcome: Result<(), StoreError> = store.in_transaction(|tx| {
            tx.append_outbox(&entry)?;
            Err(StoreError::NotFound("anything"))
        });
        assert!(matches!(outcome, Err(StoreError::NotFound("anything"))));
        let rows = store.in_transaction(|tx| tx.outbox_after(0, 10)).unwrap();
        assert!(rows.is_empty());
        let id = store.in_transaction(|tx| tx.append_outbox(&entry)).unwrap();
        let rows = store.in_transaction(|tx| tx.outbox_after(0, 10)).unwrap();
        assert_eq!(rows, [OutboxRow { id, entry }]);
    }

    #[test]
    fn a_panic_inside_a_transaction_rolls_it_back_and_the_store_stays_usable() {
        let store = std::sync::Arc::new(SqliteStore::open_in_memory().unwrap());
        let inside = store.clone();
        let panicked = std::thread::spawn(move || {
            let _: Result<(), StoreError> = inside.in_transaction(|tx| {
                tx.append_audit(&AuditEvent {
                    at: 1,
                    kind: AuditKind::UserCreated,
                    username: None,
                    detail: serde_json::json!({}),
                })?;
                panic!("a bug");
            });
        })
        .join();
        assert!(panicked.is_err());
        let rows = store.in_transaction(|tx| tx.audit_after(0, 10)).unwrap();
        assert!(rows.is_empty());
    }

    /// A transaction body the batching tests hand to a thread.
    type Job = Box<dyn FnMut(&mut dyn StoreTx) -> Result<(), StoreError> + Send>;

    /// Runs `first` and, while its body holds the connection, each of `others`
    /// on a thread of its own; lets `first` finish only once all of them wait
    /// for the connection, so that they all land in `first`'s batch. Returns
    /// the outcomes, `first`'s first.
    fn one_batch(
        store: &SqliteStore,
        mut first: Job,
        others: Vec<Job>,
    ) -> Vec<Result<(), StoreError>> {
        let (entered, has_entered) = std::sync::mpsc::channel();
        let (go, wait_for_go) = std::sync::mpsc::channel::<()>();
        let waiting = others.len();
        std::thread::scope(|scope| {
            let first = scope.spawn(move || {
                store.transaction(&mut |tx| {
                    entered.send(()).unwrap();
                    wait_for_go.recv().unwrap();
                    first(tx)
                })
            });
            has_entered.recv().unwrap();
            let others: Vec<_> = others
                .into_iter()
                .map(|mut job| scope.spawn(move || store.transaction(&mut *job)))
                .collect();
            while store.arriving.load(Ordering::SeqCst) < waiting {
                std::thread::yield_now();
            }
            go.send(()).unwrap();
            std::iter::once(first)
                .chain(others)
                .map(|handle| handle.join().unwrap())
                .collect()
        })
    }

    fn audit(detail: &str) -> Job {
        let detail = detail.to_owned();
        Box::new(move |tx| {
            tx.append_audit(&AuditEvent {
                at: 1,
                kind: AuditKind::UserCreated,
                username: None,
                detail: serde_json::json!({ "who": detail }),
            })
            .map(drop)
        })
    }

    fn audited(store: &SqliteStore) -> Vec<String> {
        let rows = store.in_transaction(|tx| tx.audit_after(0, 1000)).unwrap();
        let mut who: Vec<String> = rows
            .iter()
            .map(|row| row.event.detail["who"].as_str().unwrap().to_owned())
            .collect();
        who.sort();
        who
    }

    #[test]
    fn concurrent_transactions_share_one_durable_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("server.db")).unwrap();
        let before = store.durable_commits();
        let others = (1..10).map(|i| audit(&format!("t{i}"))).collect();
        let outcomes = one_batch(&store, audit("t0"), others);
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        assert_eq!(
            store.durable_commits() - before,
            1,
            "ten transactions, one commit"
        );
        let expected: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
        assert_eq!(audited(&store), expected);
        // Reopened: the batch is on disk.
        drop(store);
        let store = SqliteStore::open(&dir.path().join("server.db")).unwrap();
        assert_eq!(audited(&store), expected);
        assert_eq!(store.durable_commits(), 0, "reading commits nothing");
    }

    #[test]
    fn a_failing_body_in_a_batch_loses_only_its_own_writes() {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut failing = audit("failing");
        let panicking: Job = Box::new(|tx| {
            tx.append_outbox(&OutboxEntry {
                created_at: 1,
                channel: Channel::Sms,
                recipient: "+85212345678".into(),
                body: serde_json::json!({}),
            })?;
            panic!("a bug in one body");
        });
        let others = vec![
            audit("b"),
            Box::new(move |tx: &mut dyn StoreTx| {
                failing(tx)?;
                Err(StoreError::NotFound("anything"))
            }) as Job,
            audit("c"),
        ];
        let outcomes = one_batch(&store, audit("a"), others);
        assert!(outcomes[0].is_ok() && outcomes[1].is_ok() && outcomes[3].is_ok());
        assert!(matches!(outcomes[2], Err(StoreError::NotFound("anything"))));
        assert_eq!(audited(&store), ["a", "b", "c"]);
        // A body that panics in a batch: only its writes are lost.
        let panicked = std::thread::scope(|scope| {
            scope
                .spawn(|| one_batch(&store, audit("d"), vec![panicking, audit("e")]))
                .join()
        });
        assert!(panicked.is_err(), "the panic reaches its caller");
        assert_eq!(audited(&store), ["a", "b", "c", "d", "e"]);
        assert!(
            store
                .in_transaction(|tx| tx.outbox_after(0, 10))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_failing_commit_acknowledges_no_member_of_the_batch() {
        let store = SqliteStore::open_in_memory().unwrap();
        // A row `poison` writes breaks a deferred foreign key, which SQLite
        // checks only at COMMIT: the batch's COMMIT fails.
        store.with_connection(|c| {
            c.execute_batch(
                "CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
                 CREATE TRIGGER poison AFTER INSERT ON audit WHEN NEW.detail LIKE '%poison%'
                 BEGIN INSERT INTO child VALUES (404); END;",
            )
            .unwrap()
        });
        let before = store.durable_commits();
        let outcomes = one_batch(&store, audit("a"), vec![audit("poison"), audit("c")]);
        assert_eq!(outcomes.len(), 3);
        for outcome in &outcomes {
            assert!(
                matches!(outcome, Err(StoreError::Database(_))),
                "{outcome:?}"
            );
        }
        assert!(audited(&store).is_empty(), "nothing of the batch was kept");
        assert_eq!(store.durable_commits(), before);
        // The store goes on.
        store.in_transaction(|tx| audit("after")(tx)).unwrap();
        assert_eq!(audited(&store), ["after"]);
    }

    #[test]
    fn a_corrupt_row_is_reported_not_skipped() {
        let store = SqliteStore::open_in_memory().unwrap();
        store.with_connection(|c| {
            c.execute(
                "INSERT INTO users VALUES ('bob', 'not a hash', '+85212345678', 'b@x.io', 'HK', 'sms', 0, 1)",
                [],
            )
            .unwrap()
        });
        let outcome = store.in_transaction(|tx| tx.user(&"bob".parse().unwrap()));
        assert!(matches!(
            outcome,
            Err(StoreError::CorruptRow("password hash"))
        ));
    }
}
