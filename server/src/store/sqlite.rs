//! The SQLite [`Store`]: one connection behind a mutex, opened and migrated by
//! core's shared runner (`latchkey_core::sql`: WAL, `synchronous=FULL`, foreign
//! keys, `PRAGMA user_version`, all pending migrations in one transaction).
//!
//! Invariants: each [`Store::transaction`] is one `BEGIN IMMEDIATE … COMMIT`, so
//! writers never interleave and a failure leaves nothing behind; the mutex is
//! held for the whole transaction and for nothing else.

use super::{
    AuditEvent, AuditKind, AuditRow, Channel, OutboxEntry, OutboxRow, Store, StoreError, StoreTx,
};
use crate::users::{PasswordHash, User, Username};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use std::path::Path;
use std::sync::Mutex;

/// The schema's migrations, oldest first (`server/migrations/NNNN_*.sql`):
/// entry `n - 1` takes the database from version `n - 1` to `n`. Append new
/// files; never edit a released one.
pub const MIGRATIONS: &[&str] = &[include_str!("../../migrations/0001_users_outbox_audit.sql")];

/// The server's SQLite store.
pub struct SqliteStore {
    connection: Mutex<Connection>,
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
        let connection = latchkey_core::sql::open_and_migrate(path, MIGRATIONS)?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    /// A fresh in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::open(Path::new(":memory:"))
    }

    /// Runs `f` on the connection (schema checks in tests, maintenance).
    pub fn with_connection<R>(&self, f: impl FnOnce(&Connection) -> R) -> R {
        let connection = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&connection)
    }
}

impl Store for SqliteStore {
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn StoreTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // A panic while the lock was held happened inside a transaction, which
        // rusqlite rolled back while unwinding: the connection is usable.
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !connection.is_autocommit() {
            connection.execute_batch("ROLLBACK")?;
        }
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut tx = SqliteTx {
            transaction: &transaction,
        };
        work(&mut tx)?;
        transaction.commit()?;
        Ok(())
    }
}

struct SqliteTx<'a> {
    transaction: &'a rusqlite::Transaction<'a>,
}

fn to_i64(value: u64, column: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::CorruptRow(column))
}

fn to_u64(value: i64, column: &'static str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::CorruptRow(column))
}

/// The columns of a `users` row, before checking.
struct UserColumns {
    username: String,
    password_hash: String,
    phone: String,
    email: String,
    jurisdiction: String,
    second_factor: String,
    password_reset_required: bool,
    created_at: i64,
}

const USER_COLUMNS: &str = "username, password_hash, phone, email, jurisdiction, \
                            second_factor, password_reset_required, created_at";

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

    fn check(self) -> Result<User, StoreError> {
        Ok(User {
            username: self
                .username
                .parse()
                .map_err(|_| StoreError::CorruptRow("username"))?,
            password_hash: PasswordHash::from_stored(&self.password_hash)
                .map_err(|_| StoreError::CorruptRow("password hash"))?,
            phone: self
                .phone
                .parse()
                .map_err(|_| StoreError::CorruptRow("phone"))?,
            email: self
                .email
                .parse()
                .map_err(|_| StoreError::CorruptRow("email"))?,
            jurisdiction: self
                .jurisdiction
                .parse()
                .map_err(|_| StoreError::CorruptRow("jurisdiction"))?,
            second_factor: self
                .second_factor
                .parse()
                .map_err(|_| StoreError::CorruptRow("second factor"))?,
            password_reset_required: self.password_reset_required,
            created_at: to_u64(self.created_at, "created_at")?,
        })
    }
}

fn is_constraint_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

impl StoreTx for SqliteTx<'_> {
    fn insert_user(&mut self, user: &User) -> Result<(), StoreError> {
        let outcome = self.transaction.execute(
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
            Err(error) if is_constraint_violation(&error) => Err(StoreError::Conflict("user")),
            Err(error) => Err(error.into()),
        }
    }

    fn user(&mut self, username: &Username) -> Result<Option<User>, StoreError> {
        self.transaction
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
                [username.as_str()],
                UserColumns::read,
            )
            .optional()?
            .map(UserColumns::check)
            .transpose()
    }

    fn update_user(&mut self, user: &User) -> Result<(), StoreError> {
        let changed = self.transaction.execute(
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
        let count: i64 = self
            .transaction
            .query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))?;
        to_u64(count, "count")
    }

    fn append_outbox(&mut self, entry: &OutboxEntry) -> Result<i64, StoreError> {
        self.transaction.execute(
            "INSERT INTO outbox (created_at, channel, recipient, body) VALUES (?1, ?2, ?3, ?4)",
            params![
                to_i64(entry.created_at, "created_at")?,
                entry.channel.as_str(),
                entry.recipient,
                entry.body.to_string(),
            ],
        )?;
        Ok(self.transaction.last_insert_rowid())
    }

    fn outbox_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let mut statement = self.transaction.prepare(
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
        self.transaction.execute(
            "INSERT INTO audit (at, kind, username, detail) VALUES (?1, ?2, ?3, ?4)",
            params![
                to_i64(event.at, "at")?,
                event.kind.as_str(),
                event.username.as_ref().map(Username::as_str),
                event.detail.to_string(),
            ],
        )?;
        Ok(self.transaction.last_insert_rowid())
    }

    fn audit_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let mut statement = self.transaction.prepare(
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
