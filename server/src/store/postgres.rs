//! The PostgreSQL [`Store`]: several `latchkey serve` nodes on one database
//! (docs/OPERATIONS.md), on the synchronous `postgres` client and an r2d2 pool.
//!
//! Invariants: each [`Store::transaction`] is one REPEATABLE READ transaction on
//! a pooled connection; a serialization failure or a deadlock, in any statement
//! or in the commit, ends it with [`StoreError::Conflict`] whatever the work
//! returned (PostgreSQL has aborted it), and `in_transaction` runs the work again;
//! [`StoreTx::lock_account`] writes the account's row in `account_locks`, so two
//! transactions that lock one account conflict unless one saw all of the other;
//! "oldest first" is the `seq` identity column; a transaction that stores a
//! decided login session sends `NOTIFY latchkey_decisions`, which every node's
//! listener ([`Store::watch_decisions`]) turns into a wake-up of its long-polls;
//! [`Store::run_alone`] is a session advisory lock; migrations
//! (`server/migrations/postgres/NNNN_*.sql`) run in one transaction under an
//! advisory lock, so nodes starting together migrate once. The `postgres` client
//! runs a small runtime of its own: open and use the store off the async
//! executor (`spawn_blocking`); dropping it anywhere is safe.

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
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{IsolationLevel, NoTls, Row};
use r2d2_postgres::PostgresConnectionManager;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The PostgreSQL schema's migrations, oldest first
/// (`server/migrations/postgres/NNNN_*.sql`): entry `n - 1` takes the database
/// from version `n - 1` to `n`. Append new files; never edit a released one.
pub const POSTGRES_MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_schema.sql"),
    include_str!("../../migrations/postgres/0002_outbound.sql"),
    include_str!("../../migrations/postgres/0003_voice_calls.sql"),
];

/// The advisory lock key migrations hold ("latchkey" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x6c61_7463_686b_6579;

/// How many connections a node keeps at most.
pub const DEFAULT_POOL_SIZE: u32 = 8;

/// A PostgreSQL connection URL (`postgres://user:password@host:port/db`, or
/// `postgresql://`, with `?host=/path/to/socket-dir` for a Unix socket). Checked
/// when made; `Debug` and `Display` hide everything but the scheme, since the
/// URL may hold a password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The URL as given (it may hold a password: never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for PostgresUrl {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Err(StoreError::Database(
                "a PostgreSQL URL starts with postgres:// or postgresql://".into(),
            ));
        }
        postgres::Config::from_str(text)
            .map_err(|_| StoreError::Database("the PostgreSQL URL does not parse".into()))?;
        Ok(Self(text.to_owned()))
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresUrl(postgres://[redacted])")
    }
}

impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("postgres://[redacted]")
    }
}

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// The server's PostgreSQL store.
pub struct PostgresStore {
    /// Always `Some` until dropped (see `Drop`).
    pool: Option<Pool>,
    /// For the decision listener's own connection.
    config: postgres::Config,
    /// Tells the decision listener to stop (set when the store is dropped).
    stopped: Arc<AtomicBool>,
    /// Successful commits of transactions that wrote.
    commits: AtomicU64,
}

/// The channel decided login sessions are announced on (`NOTIFY`, sent by
/// PostgreSQL when the deciding transaction commits).
const DECISIONS_CHANNEL: &str = "latchkey_decisions";

/// How often the decision listener checks whether it should stop.
const LISTEN_TICK: Duration = Duration::from_secs(1);

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Each pooled client owns a small tokio runtime, which must not be
        // dropped on an async executor's thread: let a plain thread do it.
        if let Some(pool) = self.pool.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(pool));
            }
        }
    }
}

/// A PostgreSQL failure as the backend-neutral [`StoreError`].
fn pg_error(error: postgres::Error) -> StoreError {
    match error.code() {
        Some(code) if is_conflict(code) => StoreError::Conflict,
        // The server's message, without its DETAIL (which may quote a row).
        _ => StoreError::Database(match error.as_db_error() {
            Some(db) => format!("PostgreSQL: {} ({})", db.message(), db.code().code()),
            None => format!("PostgreSQL: {error}"),
        }),
    }
}

fn is_conflict(code: &SqlState) -> bool {
    *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
}

fn is_unique_violation(error: &postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

impl PostgresStore {
    /// Connects to the database at `url` with a pool of at most `pool_size`
    /// connections and brings its schema up to date. Blocking: call it off the
    /// async executor. A newer schema is refused and left untouched.
    pub fn connect(url: &PostgresUrl, pool_size: u32) -> Result<Self, StoreError> {
        let config = postgres::Config::from_str(url.expose())
            .map_err(|_| StoreError::Database("the PostgreSQL URL does not parse".into()))?;
        let manager = PostgresConnectionManager::new(config.clone(), NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|error| {
                StoreError::Database(format!("cannot connect to PostgreSQL: {error}"))
            })?;
        let store = Self {
            pool: Some(pool),
            config,
            stopped: Arc::new(AtomicBool::new(false)),
            commits: AtomicU64::new(0),
        };
        store.migrate(POSTGRES_MIGRATIONS)?;
        Ok(store)
    }

    fn client(
        &self,
    ) -> Result<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>, StoreError> {
        self.pool
            .as_ref()
            .ok_or(StoreError::RolledBack)?
            .get()
            .map_err(|error| StoreError::Database(format!("no PostgreSQL connection: {error}")))
    }

    /// Brings the schema to `migrations.len()` in one transaction, holding an
    /// advisory lock so that nodes starting together migrate once.
    fn migrate(&self, migrations: &[&str]) -> Result<(), StoreError> {
        let supported = u32::try_from(migrations.len()).unwrap_or(u32::MAX);
        let mut client = self.client()?;
        let mut transaction = client.transaction().map_err(pg_error)?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(pg_error)?;
        // "already exists, skipping" is the usual case, not news for the log.
        transaction
            .batch_execute("SET LOCAL client_min_messages = warning")
            .map_err(pg_error)?;
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS latchkey_schema (version INTEGER NOT NULL); \
                 INSERT INTO latchkey_schema (version) \
                 SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM latchkey_schema)",
            )
            .map_err(pg_error)?;
        let found: i32 = transaction
            .query_one("SELECT version FROM latchkey_schema", &[])
            .map_err(pg_error)?
            .get(0);
        let found = u32::try_from(found).map_err(|_| StoreError::Corrupt)?;
        if found > supported {
            return Err(StoreError::TooNew { found, supported });
        }
        for migration in migrations.iter().skip(found as usize) {
            transaction.batch_execute(migration).map_err(pg_error)?;
        }
        let version = i32::try_from(supported).map_err(|_| StoreError::Corrupt)?;
        transaction
            .execute("UPDATE latchkey_schema SET version = $1", &[&version])
            .map_err(pg_error)?;
        transaction.commit().map_err(pg_error)
    }

    /// The schema version the database is at (tests, operations).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let mut client = self.client()?;
        let version: i32 = client
            .query_one("SELECT version FROM latchkey_schema", &[])
            .map_err(pg_error)?
            .get(0);
        u32::try_from(version).map_err(|_| StoreError::Corrupt)
    }
}

/// The advisory-lock key of a named job (FNV-1a of `latchkey/job/` and the name),
/// apart from [`MIGRATION_LOCK`].
fn job_key(job: &str) -> i64 {
    let hash = b"latchkey/job/"
        .iter()
        .chain(job.as_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// A connection that has run `LISTEN` on the decisions channel.
fn listening(config: &postgres::Config) -> Result<postgres::Client, StoreError> {
    let mut client = config.connect(NoTls).map_err(pg_error)?;
    client
        .batch_execute(&format!("LISTEN {DECISIONS_CHANNEL}"))
        .map_err(pg_error)?;
    Ok(client)
}

/// The decision listener's loop: wakes `decisions` at each notification,
/// reconnects (and wakes, for what it may have missed) after a lost connection,
/// and ends when the store or `decisions` is gone.
fn listen(
    mut client: Option<postgres::Client>,
    config: &postgres::Config,
    decisions: &Weak<tokio::sync::Notify>,
    stopped: &AtomicBool,
) {
    let wake = || match decisions.upgrade() {
        Some(notify) => {
            notify.notify_waiters();
            true
        }
        None => false,
    };
    while !stopped.load(Ordering::SeqCst) && decisions.strong_count() > 0 {
        let Some(connected) = client.as_mut() else {
            match listening(config) {
                Ok(reconnected) => {
                    client = Some(reconnected);
                    wake();
                }
                Err(error) => {
                    tracing::warn!(%error, "the PostgreSQL decision listener cannot reconnect");
                    std::thread::sleep(LISTEN_TICK);
                }
            }
            continue;
        };
        let mut broken = false;
        {
            let mut notifications = connected.notifications();
            let mut arriving = notifications.timeout_iter(LISTEN_TICK);
            loop {
                match arriving.next() {
                    Ok(Some(_)) => {
                        if !wake() {
                            return;
                        }
                    }
                    Err(_) => {
                        broken = true;
                        break;
                    }
                    Ok(None) => break,
                }
            }
        }
        if broken || connected.is_closed() {
            client = None;
        }
    }
}

impl Store for PostgresStore {
    fn watch_decisions(&self, decisions: Weak<tokio::sync::Notify>) -> Result<(), StoreError> {
        // Connected and listening before this returns: nothing committed after
        // it is missed.
        let client = listening(&self.config)?;
        let config = self.config.clone();
        let stopped = self.stopped.clone();
        std::thread::Builder::new()
            .name("latchkey-pg-decisions".into())
            .spawn(move || listen(Some(client), &config, &decisions, &stopped))
            .map_err(|error| {
                StoreError::Database(format!("cannot start the decision listener: {error}"))
            })?;
        Ok(())
    }

    fn run_alone(&self, job: &str, work: &mut dyn FnMut()) -> Result<bool, StoreError> {
        // A session-level advisory lock on one pooled connection, held while the
        // work runs on others; PostgreSQL releases it if the connection dies.
        let key = job_key(job);
        let mut client = self.client()?;
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .map_err(pg_error)?
            .get(0);
        if !locked {
            return Ok(false);
        }
        work();
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&key])
            .map_err(pg_error)?;
        Ok(true)
    }

    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn StoreTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .start()
            .map_err(pg_error)?;
        let mut tx = PostgresTx {
            transaction: &mut transaction,
            conflicted: false,
            wrote: false,
        };
        let outcome = work(&mut tx);
        let (conflicted, wrote) = (tx.conflicted, tx.wrote);
        match outcome {
            Ok(()) if !conflicted => {
                transaction.commit().map_err(pg_error)?;
                if wrote {
                    self.commits.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            }
            outcome => {
                // PostgreSQL has aborted a transaction whose statement failed; a
                // rollback that fails too leaves a broken connection, which the
                // pool discards.
                let _ = transaction.rollback();
                match outcome {
                    _ if conflicted => Err(StoreError::Conflict),
                    Err(error) => Err(error),
                    Ok(()) => Err(StoreError::Conflict),
                }
            }
        }
    }

    fn durable_commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }
}

struct PostgresTx<'a, 'c> {
    transaction: &'a mut postgres::Transaction<'c>,
    /// A statement failed with a serialization failure or a deadlock.
    conflicted: bool,
    /// A statement wrote (so the commit is a durable one).
    wrote: bool,
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

impl PostgresTx<'_, '_> {
    /// Notes a conflict, so that the transaction ends as one whatever the work
    /// makes of the error.
    fn note(&mut self, error: postgres::Error) -> StoreError {
        let error = pg_error(error);
        if matches!(error, StoreError::Conflict) {
            self.conflicted = true;
        }
        error
    }

    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        self.wrote = true;
        self.transaction
            .execute(sql, params)
            .map_err(|error| self.note(error))
    }

    /// As `execute`, with a unique violation reported as a duplicate `what`.
    fn execute_unique(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        what: &'static str,
    ) -> Result<u64, StoreError> {
        self.wrote = true;
        match self.transaction.execute(sql, params) {
            Ok(changed) => Ok(changed),
            Err(error) if is_unique_violation(&error) => Err(StoreError::Duplicate(what)),
            Err(error) => Err(self.note(error)),
        }
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        self.transaction
            .query(sql, params)
            .map_err(|error| self.note(error))
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        self.transaction
            .query_opt(sql, params)
            .map_err(|error| self.note(error))
    }

    /// One JSON record (selected as `data::text`) by key.
    fn get_record<T: serde::de::DeserializeOwned>(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        self.query_opt(sql, params)?
            .map(|row| from_json(&text(&row, 0, what)?, what))
            .transpose()
    }

    /// Every JSON record (selected as `data::text`) a query returns.
    fn get_records<T: serde::de::DeserializeOwned>(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        what: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        self.query(sql, params)?
            .iter()
            .map(|row| from_json(&text(row, 0, what)?, what))
            .collect()
    }

    /// Times (a BIGINT column) a query returns.
    fn times(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        what: &'static str,
    ) -> Result<Vec<u64>, StoreError> {
        self.query(sql, params)?
            .iter()
            .map(|row| to_u64(int(row, 0, what)?, what))
            .collect()
    }
}

/// Column `index` of `row` as text; a wrong type is a corrupt row.
fn text(row: &Row, index: usize, what: &'static str) -> Result<String, StoreError> {
    row.try_get(index).map_err(|_| StoreError::CorruptRow(what))
}

/// Column `index` of `row` as a BIGINT; a wrong type is a corrupt row.
fn int(row: &Row, index: usize, what: &'static str) -> Result<i64, StoreError> {
    row.try_get(index).map_err(|_| StoreError::CorruptRow(what))
}

impl StoreTx for PostgresTx<'_, '_> {
    fn lock_account(&mut self, username: &str) -> Result<(), StoreError> {
        // A write, not only a row lock: at REPEATABLE READ, a transaction whose
        // snapshot predates another's commit of this row fails here (and runs
        // again) instead of acting on what it read before.
        self.execute(
            "INSERT INTO account_locks (username, version) VALUES ($1, 1) \
             ON CONFLICT (username) DO UPDATE SET version = account_locks.version + 1",
            &[&username],
        )?;
        Ok(())
    }

    fn insert_user(&mut self, user: &User) -> Result<(), StoreError> {
        self.execute_unique(
            &format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            &[
                &user.username.as_str(),
                &user.password_hash.to_stored(),
                &user.phone.as_str(),
                &user.email.as_str(),
                &user.jurisdiction.as_str(),
                &user.second_factor.as_str(),
                &user.password_reset_required,
                &to_i64(user.created_at, "created_at")?,
            ],
            "user",
        )?;
        Ok(())
    }

    fn user(&mut self, username: &Username) -> Result<Option<User>, StoreError> {
        let Some(row) = self.query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"),
            &[&username.as_str()],
        )?
        else {
            return Ok(None);
        };
        UserColumns {
            username: text(&row, 0, "username")?,
            password_hash: text(&row, 1, "password hash")?,
            phone: text(&row, 2, "phone")?,
            email: text(&row, 3, "email")?,
            jurisdiction: text(&row, 4, "jurisdiction")?,
            second_factor: text(&row, 5, "second factor")?,
            password_reset_required: row
                .try_get(6)
                .map_err(|_| StoreError::CorruptRow("password_reset_required"))?,
            created_at: int(&row, 7, "created_at")?,
        }
        .check()
        .map(Some)
    }

    fn update_user(&mut self, user: &User) -> Result<(), StoreError> {
        let changed = self.execute(
            "UPDATE users SET password_hash = $2, phone = $3, email = $4, jurisdiction = $5, \
             second_factor = $6, password_reset_required = $7 WHERE username = $1",
            &[
                &user.username.as_str(),
                &user.password_hash.to_stored(),
                &user.phone.as_str(),
                &user.email.as_str(),
                &user.jurisdiction.as_str(),
                &user.second_factor.as_str(),
                &user.password_reset_required,
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    fn user_count(&mut self) -> Result<u64, StoreError> {
        let rows = self.query("SELECT COUNT(*) FROM users", &[])?;
        let row = rows.first().ok_or(StoreError::CorruptRow("count"))?;
        to_u64(int(row, 0, "count")?, "count")
    }

    fn append_outbox(&mut self, entry: &OutboxEntry) -> Result<i64, StoreError> {
        self.wrote = true;
        let rows = self.query(
            "INSERT INTO outbox (created_at, channel, recipient, body) \
             VALUES ($1, $2, $3, $4::text::jsonb) RETURNING id",
            &[
                &to_i64(entry.created_at, "created_at")?,
                &entry.channel.as_str(),
                &entry.recipient,
                &entry.body.to_string(),
            ],
        )?;
        int(rows.first().ok_or(StoreError::CorruptRow("id"))?, 0, "id")
    }

    fn outbox_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = self.query(
            "SELECT id, created_at, channel, recipient, body::text FROM outbox \
             WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after_id, &i64::from(limit)],
        )?;
        rows.iter()
            .map(|row| {
                Ok(OutboxRow {
                    id: int(row, 0, "id")?,
                    entry: OutboxEntry {
                        created_at: to_u64(int(row, 1, "created_at")?, "created_at")?,
                        channel: Channel::parse(&text(row, 2, "channel")?)
                            .ok_or(StoreError::CorruptRow("channel"))?,
                        recipient: text(row, 3, "recipient")?,
                        body: from_json(&text(row, 4, "outbox body")?, "outbox body")?,
                    },
                })
            })
            .collect()
    }

    fn append_audit(&mut self, event: &AuditEvent) -> Result<i64, StoreError> {
        self.wrote = true;
        let rows = self.query(
            "INSERT INTO audit (at, kind, username, detail) \
             VALUES ($1, $2, $3, $4::text::jsonb) RETURNING id",
            &[
                &to_i64(event.at, "at")?,
                &event.kind.as_str(),
                &event.username.as_ref().map(Username::as_str),
                &event.detail.to_string(),
            ],
        )?;
        int(rows.first().ok_or(StoreError::CorruptRow("id"))?, 0, "id")
    }

    fn audit_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let rows = self.query(
            "SELECT id, at, kind, username, detail::text FROM audit \
             WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after_id, &i64::from(limit)],
        )?;
        rows.iter()
            .map(|row| {
                let username: Option<String> = row
                    .try_get(3)
                    .map_err(|_| StoreError::CorruptRow("username"))?;
                Ok(AuditRow {
                    id: int(row, 0, "id")?,
                    event: AuditEvent {
                        at: to_u64(int(row, 1, "at")?, "at")?,
                        kind: AuditKind::parse(&text(row, 2, "audit kind")?)
                            .ok_or(StoreError::CorruptRow("audit kind"))?,
                        username: username
                            .map(|u| u.parse())
                            .transpose()
                            .map_err(|_| StoreError::CorruptRow("username"))?,
                        detail: from_json(&text(row, 4, "audit detail")?, "audit detail")?,
                    },
                })
            })
            .collect()
    }

    fn account_state(&mut self, username: &str) -> Result<AccountRecord, StoreError> {
        Ok(self
            .get_record(
                "SELECT data::text FROM account_state WHERE username = $1",
                &[&username],
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
            "INSERT INTO account_state (username, data) VALUES ($1, $2::text::jsonb) \
             ON CONFLICT (username) DO UPDATE SET data = excluded.data",
            &[&username, &to_json(state)?],
        )?;
        Ok(())
    }

    fn enrollment(&mut self, id: &EnrollmentId) -> Result<Option<Enrollment>, StoreError> {
        self.get_record(
            "SELECT data::text FROM enrollments WHERE id = $1",
            &[&id.as_bytes().as_slice()],
            "enrollment",
        )
    }

    fn enrollments_of(&mut self, username: &str) -> Result<Vec<Enrollment>, StoreError> {
        self.get_records(
            "SELECT data::text FROM enrollments WHERE username = $1 ORDER BY seq",
            &[&username],
            "enrollment",
        )
    }

    fn put_enrollment(&mut self, enrollment: &Enrollment) -> Result<(), StoreError> {
        self.execute_unique(
            "INSERT INTO enrollments (id, username, state, data) \
             VALUES ($1, $2, $3, $4::text::jsonb) \
             ON CONFLICT (id) DO UPDATE SET username = excluded.username, \
             state = excluded.state, data = excluded.data",
            &[
                &enrollment.id.as_bytes().as_slice(),
                &enrollment.username,
                &enrollment.status.as_str(),
                &to_json(enrollment)?,
            ],
            "active enrollment",
        )?;
        Ok(())
    }

    fn ticket(&mut self, id: &TicketId) -> Result<Option<Ticket>, StoreError> {
        self.get_record(
            "SELECT data::text FROM tickets WHERE id = $1",
            &[&id.as_bytes().as_slice()],
            "ticket",
        )
    }

    fn put_ticket(&mut self, ticket: &Ticket) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO tickets (id, username, data) VALUES ($1, $2, $3::text::jsonb) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            &[
                &ticket.id.as_bytes().as_slice(),
                &ticket.username,
                &to_json(ticket)?,
            ],
        )?;
        Ok(())
    }

    fn session(&mut self, id: &SessionId) -> Result<Option<LoginSession>, StoreError> {
        self.get_record(
            "SELECT data::text FROM sessions WHERE id = $1",
            &[&id.as_bytes().as_slice()],
            "session",
        )
    }

    fn session_by_request(
        &mut self,
        request: &RequestId,
    ) -> Result<Option<LoginSession>, StoreError> {
        self.get_record(
            "SELECT data::text FROM sessions WHERE request_id = $1",
            &[&request.as_bytes().as_slice()],
            "session",
        )
    }

    fn open_sessions_for(
        &mut self,
        enrollment: &EnrollmentId,
        now: u64,
    ) -> Result<Vec<LoginSession>, StoreError> {
        let sessions: Vec<LoginSession> = self.get_records(
            "SELECT data::text FROM sessions WHERE enrollment = $1 AND expires_at > $2 \
             ORDER BY seq",
            &[&enrollment.as_bytes().as_slice(), &to_i64(now, "now")?],
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
            "SELECT data::text FROM sessions WHERE username = $1 AND expires_at > $2 \
             ORDER BY seq",
            &[&username, &to_i64(now, "now")?],
            "session",
        )?;
        Ok(sessions
            .into_iter()
            .filter(|s| s.status == SessionStatus::Pending)
            .collect())
    }

    fn put_session(&mut self, session: &LoginSession) -> Result<(), StoreError> {
        if session.status != SessionStatus::Pending {
            // Delivered to every node's listener when this transaction commits
            // (and never if it rolls back); one per transaction at most.
            self.execute("SELECT pg_notify($1, '')", &[&DECISIONS_CHANNEL])?;
        }
        let enrollment = session.enrollment.as_ref().map(|e| e.as_bytes().to_vec());
        self.execute_unique(
            "INSERT INTO sessions (id, request_id, username, enrollment, expires_at, data) \
             VALUES ($1, $2, $3, $4, $5, $6::text::jsonb) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            &[
                &session.id.as_bytes().as_slice(),
                &session.request.as_bytes().as_slice(),
                &session.username,
                &enrollment,
                &to_i64(session.expires_at, "expires_at")?,
                &to_json(session)?,
            ],
            "session request",
        )?;
        Ok(())
    }

    fn proof(&mut self, id: &ProofId) -> Result<Option<ProofRecord>, StoreError> {
        self.get_record(
            "SELECT data::text FROM proofs WHERE id = $1",
            &[&id.as_bytes().as_slice()],
            "proof",
        )
    }

    fn put_proof(&mut self, proof: &ProofRecord) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO proofs (id, enrollment, data) VALUES ($1, $2, $3::text::jsonb) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            &[
                &proof.id.as_bytes().as_slice(),
                &proof.enrollment.as_bytes().as_slice(),
                &to_json(proof)?,
            ],
        )?;
        Ok(())
    }

    fn replacement(&mut self, id: &ReplacementId) -> Result<Option<Replacement>, StoreError> {
        self.get_record(
            "SELECT data::text FROM replacements WHERE id = $1",
            &[&id.as_bytes().as_slice()],
            "replacement",
        )
    }

    fn replacements_of(&mut self, username: &str) -> Result<Vec<Replacement>, StoreError> {
        self.get_records(
            "SELECT data::text FROM replacements WHERE username = $1 ORDER BY seq",
            &[&username],
            "replacement",
        )
    }

    fn pending_replacements(&mut self) -> Result<Vec<Replacement>, StoreError> {
        self.get_records(
            "SELECT data::text FROM replacements WHERE status = 'pending' ORDER BY seq",
            &[],
            "replacement",
        )
    }

    fn put_replacement(&mut self, replacement: &Replacement) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO replacements (id, username, status, data) \
             VALUES ($1, $2, $3, $4::text::jsonb) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data",
            &[
                &replacement.id.as_bytes().as_slice(),
                &replacement.username,
                &replacement.status.as_str(),
                &to_json(replacement)?,
            ],
        )?;
        Ok(())
    }

    fn add_notice(&mut self, notice: &NoticeRecord) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO notices (enrollment, expires_at, data) VALUES ($1, $2, $3::text::jsonb)",
            &[
                &notice.enrollment.as_bytes().as_slice(),
                &to_i64(notice.expires_at, "expires_at")?,
                &to_json(notice)?,
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
            "SELECT data::text FROM notices WHERE enrollment = $1 AND expires_at > $2 \
             ORDER BY id",
            &[&enrollment.as_bytes().as_slice(), &to_i64(now, "now")?],
            "notice",
        )
    }

    fn add_push(&mut self, username: &str, at: u64) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO pushes (username, sent_at) VALUES ($1, $2)",
            &[&username, &to_i64(at, "sent_at")?],
        )?;
        Ok(())
    }

    fn pushes_since(&mut self, username: &str, since: u64) -> Result<Vec<u64>, StoreError> {
        self.times(
            "SELECT sent_at FROM pushes WHERE username = $1 AND sent_at >= $2 \
             ORDER BY sent_at, id",
            &[&username, &to_i64(since, "since")?],
            "sent_at",
        )
    }

    fn login_code(&mut self, session: &SessionId) -> Result<Option<LoginCode>, StoreError> {
        self.get_record(
            "SELECT data::text FROM login_codes WHERE session_id = $1",
            &[&session.as_bytes().as_slice()],
            "login code",
        )
    }

    fn live_login_codes_of(&mut self, username: &str) -> Result<Vec<LoginCode>, StoreError> {
        self.get_records(
            "SELECT data::text FROM login_codes WHERE username = $1 AND state = 'live' \
             ORDER BY seq",
            &[&username],
            "login code",
        )
    }

    fn put_login_code(&mut self, code: &LoginCode) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO login_codes (session_id, username, state, data) \
             VALUES ($1, $2, $3, $4::text::jsonb) \
             ON CONFLICT (session_id) DO UPDATE SET state = excluded.state, data = excluded.data",
            &[
                &code.session.as_bytes().as_slice(),
                &code.username,
                &code.state.as_str(),
                &to_json(code)?,
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
            "INSERT INTO code_sends (username, channel, sent_at) VALUES ($1, $2, $3)",
            &[&username, &channel.as_str(), &to_i64(at, "sent_at")?],
        )?;
        Ok(())
    }

    fn code_sends_since(&mut self, username: &str, since: u64) -> Result<Vec<u64>, StoreError> {
        self.times(
            "SELECT sent_at FROM code_sends WHERE username = $1 AND sent_at >= $2 \
             ORDER BY sent_at, id",
            &[&username, &to_i64(since, "since")?],
            "sent_at",
        )
    }

    fn code_guard(&mut self, username: &str) -> Result<CodeGuard, StoreError> {
        let Some(row) = self.query_opt(
            "SELECT wrong_codes, suspended_until FROM code_guards WHERE username = $1",
            &[&username],
        )?
        else {
            return Ok(CodeGuard::default());
        };
        let suspended_until: Option<i64> = row
            .try_get(1)
            .map_err(|_| StoreError::CorruptRow("suspended_until"))?;
        Ok(CodeGuard {
            wrong_codes: u32::try_from(int(&row, 0, "wrong_codes")?)
                .map_err(|_| StoreError::CorruptRow("wrong_codes"))?,
            suspended_until: suspended_until
                .map(|t| to_u64(t, "suspended_until"))
                .transpose()?,
        })
    }

    fn put_code_guard(&mut self, username: &str, guard: &CodeGuard) -> Result<(), StoreError> {
        let suspended_until = guard
            .suspended_until
            .map(|t| to_i64(t, "suspended_until"))
            .transpose()?;
        self.execute(
            "INSERT INTO code_guards (username, wrong_codes, suspended_until) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (username) DO UPDATE SET wrong_codes = excluded.wrong_codes, \
             suspended_until = excluded.suspended_until",
            &[&username, &i64::from(guard.wrong_codes), &suspended_until],
        )?;
        Ok(())
    }

    fn insert_outbound(&mut self, row: &Outbound) -> Result<i64, StoreError> {
        let params: [&(dyn ToSql + Sync); 12] = [
            &row.key,
            &row.channel.as_str(),
            &row.recipient,
            &row.sealed,
            &row.state.as_str(),
            &i64::from(row.attempts),
            &to_i64(row.created_at, "created_at")?,
            &to_i64(row.next_attempt_at, "next_attempt_at")?,
            &opt_i64(row.lease_until, "lease_until")?,
            &to_i64(row.expires_at, "expires_at")?,
            &row.last_error,
            &opt_i64(row.finished_at, "finished_at")?,
        ];
        match self.transaction.query(
            "INSERT INTO outbound (key, channel, recipient, sealed, state, attempts, created_at, \
             next_attempt_at, lease_until, expires_at, last_error, finished_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            &params,
        ) {
            Ok(rows) => int(rows.first().ok_or(StoreError::CorruptRow("id"))?, 0, "id"),
            Err(error) if is_unique_violation(&error) => Err(StoreError::Duplicate("message")),
            Err(error) => Err(self.note(error)),
        }
    }

    fn outbound(&mut self, id: i64) -> Result<Option<Outbound>, StoreError> {
        let mut rows = self.outbound_query(
            &format!("SELECT {OUTBOUND_COLUMNS} FROM outbound WHERE id = $1"),
            &[&id],
        )?;
        Ok(rows.pop())
    }

    fn due_outbound(&mut self, now: u64, limit: u32) -> Result<Vec<Outbound>, StoreError> {
        let now = to_i64(now, "now")?;
        self.outbound_query(
            &format!(
                "SELECT {OUTBOUND_COLUMNS} FROM outbound WHERE (state = 'pending' AND \
                 next_attempt_at <= $1) OR (state = 'sending' AND lease_until <= $1) \
                 ORDER BY id LIMIT $2"
            ),
            &[&now, &i64::from(limit)],
        )
    }

    fn put_outbound(&mut self, row: &Outbound) -> Result<(), StoreError> {
        let changed = self.execute(
            "UPDATE outbound SET sealed = $2, state = $3, attempts = $4, next_attempt_at = $5, \
             lease_until = $6, expires_at = $7, last_error = $8, finished_at = $9 WHERE id = $1",
            &[
                &row.id,
                &row.sealed,
                &row.state.as_str(),
                &i64::from(row.attempts),
                &to_i64(row.next_attempt_at, "next_attempt_at")?,
                &opt_i64(row.lease_until, "lease_until")?,
                &to_i64(row.expires_at, "expires_at")?,
                &row.last_error,
                &opt_i64(row.finished_at, "finished_at")?,
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
        let state = state.map(|s| s.as_str());
        self.outbound_query(
            &format!(
                "SELECT {OUTBOUND_COLUMNS} FROM outbound WHERE id > $1 AND ($2::text IS NULL OR \
                 state = $2) ORDER BY id LIMIT $3"
            ),
            &[&after_id, &state, &i64::from(limit)],
        )
    }

    fn outbox_counts(&mut self) -> Result<OutboxCounts, StoreError> {
        let rows = self.query("SELECT state, COUNT(*) FROM outbound GROUP BY state", &[])?;
        let mut counts = OutboxCounts::default();
        for row in &rows {
            let count = to_u64(int(row, 1, "count")?, "count")?;
            match OutboundState::parse(&text(row, 0, "state")?)
                .ok_or(StoreError::CorruptRow("state"))?
            {
                OutboundState::Pending | OutboundState::Sending => counts.pending += count,
                OutboundState::Sent => counts.sent += count,
                OutboundState::Dead => counts.dead += count,
            }
        }
        Ok(counts)
    }

    fn put_voice_call(&mut self, call: &VoiceCallRecord) -> Result<(), StoreError> {
        self.execute_unique(
            "INSERT INTO voice_calls (call, sealed, placed_at) VALUES ($1, $2, $3)",
            &[
                &call.call.as_slice(),
                &call.sealed,
                &to_i64(call.placed_at, "placed_at")?,
            ],
            "voice call",
        )?;
        Ok(())
    }

    fn take_voice_call(&mut self, call: &[u8; 32]) -> Result<Option<VoiceCallRecord>, StoreError> {
        self.wrote = true;
        let Some(row) = self.query_opt(
            "DELETE FROM voice_calls WHERE call = $1 RETURNING sealed, placed_at",
            &[&call.as_slice()],
        )?
        else {
            return Ok(None);
        };
        let sealed: Vec<u8> = row
            .try_get(0)
            .map_err(|_| StoreError::CorruptRow("sealed"))?;
        Ok(Some(VoiceCallRecord {
            call: *call,
            sealed,
            placed_at: to_u64(int(&row, 1, "placed_at")?, "placed_at")?,
        }))
    }

    fn forget_voice_calls_before(&mut self, before: u64) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM voice_calls WHERE placed_at < $1",
            &[&to_i64(before, "before")?],
        )
    }
}

impl PostgresTx<'_, '_> {
    /// The `outbound` rows a query (selecting [`OUTBOUND_COLUMNS`]) returns.
    fn outbound_query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Outbound>, StoreError> {
        let rows = self.query(sql, params)?;
        rows.iter()
            .map(|row| {
                let get = |index: usize| -> Result<Option<i64>, StoreError> {
                    row.try_get(index)
                        .map_err(|_| StoreError::CorruptRow("outbound"))
                };
                OutboundColumns {
                    id: int(row, 0, "id")?,
                    key: text(row, 1, "key")?,
                    channel: text(row, 2, "channel")?,
                    recipient: text(row, 3, "recipient")?,
                    sealed: row
                        .try_get(4)
                        .map_err(|_| StoreError::CorruptRow("sealed"))?,
                    state: text(row, 5, "state")?,
                    attempts: int(row, 6, "attempts")?,
                    created_at: int(row, 7, "created_at")?,
                    next_attempt_at: int(row, 8, "next_attempt_at")?,
                    lease_until: get(9)?,
                    expires_at: int(row, 10, "expires_at")?,
                    last_error: row
                        .try_get(11)
                        .map_err(|_| StoreError::CorruptRow("last_error"))?,
                    finished_at: get(12)?,
                }
                .check()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_is_checked_and_never_printed() {
        let url: PostgresUrl = "postgres://latchkey:hunter2@127.0.0.1:5432/latchkey"
            .parse()
            .unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(!format!("{url}").contains("hunter2"));
        assert!("mysql://x@y/z".parse::<PostgresUrl>().is_err());
        assert!("postgres://[not a host".parse::<PostgresUrl>().is_err());
    }
}
