//! The one migration runner of every Latchkey SQLite store (the phone's and the
//! server's), in the shape of application-services' `sql-support`.
//!
//! Invariants:
//! - the schema version is `PRAGMA user_version`; migration `n` (1-based) takes the
//!   database from version `n - 1` to `n`;
//! - all pending migrations run in one transaction: a failure leaves the file as
//!   it was;
//! - a file whose version is newer than the code is refused, never touched;
//! - a file that is not a SQLite database is reported as corrupt, never deleted or
//!   recreated (credentials cannot be recreated silently; docs/STYLE.md §12).

use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// Why a store could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The file exists but is not a readable SQLite database (or is damaged). It
    /// was left exactly as it was.
    #[error("the database file is corrupt or not a Latchkey database; it was left untouched")]
    Corrupt,
    /// The file was written by a newer version of Latchkey.
    #[error("the database has schema version {found}, newer than this code's {supported}")]
    TooNew {
        /// The file's `user_version`.
        found: u32,
        /// The newest version this code knows.
        supported: u32,
    },
    /// Any other SQLite failure (disk full, permissions, locked…).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Opens (creating if needed) the database at `path` with Latchkey's settings —
/// WAL, `synchronous=FULL`, foreign keys, a busy timeout — and brings its schema up
/// to date with `migrations` (each a SQL batch; index 0 is version 1).
pub fn open_and_migrate(path: &Path, migrations: &[&str]) -> Result<Connection, SqlError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(classify)?;
    configure(&connection)?;
    migrate(&connection, migrations)?;
    Ok(connection)
}

/// Applies Latchkey's connection settings. Losing a counted failure or reusing a
/// spent proof after a power cut would be a security hole, hence `synchronous=FULL`.
pub fn configure(connection: &Connection) -> Result<(), SqlError> {
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(classify)?;
    // The first statement that reads the file is where a non-database shows up.
    let mode: String = connection
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(classify)?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(SqlError::Sqlite(rusqlite::Error::InvalidQuery));
    }
    connection
        .execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(classify)?;
    Ok(())
}

/// Brings the schema to `migrations.len()` in one transaction.
pub fn migrate(connection: &Connection, migrations: &[&str]) -> Result<(), SqlError> {
    let supported = u32::try_from(migrations.len()).unwrap_or(u32::MAX);
    let found: u32 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(classify)?;
    if found > supported {
        return Err(SqlError::TooNew { found, supported });
    }
    if found == supported {
        return Ok(());
    }
    connection
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(classify)?;
    let outcome = (|| {
        for migration in migrations.iter().skip(found as usize) {
            connection.execute_batch(migration)?;
        }
        connection.execute_batch(&format!("PRAGMA user_version = {supported}"))?;
        Ok::<(), rusqlite::Error>(())
    })();
    match outcome {
        Ok(()) => connection.execute_batch("COMMIT").map_err(classify),
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            Err(classify(error))
        }
    }
}

/// Turns "file is not a database" and "database disk image is malformed" into
/// [`SqlError::Corrupt`].
pub fn classify(error: rusqlite::Error) -> SqlError {
    if let rusqlite::Error::SqliteFailure(ffi, _) = &error {
        if matches!(
            ffi.code,
            rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
        ) {
            return SqlError::Corrupt;
        }
    }
    SqlError::Sqlite(error)
}

/// The schema as SQLite stores it (type, name, SQL), sorted: two databases with the
/// same schema give the same list. Used by the "migrated equals fresh" tests.
pub fn schema_of(connection: &Connection) -> Result<Vec<(String, String, String)>, SqlError> {
    let mut statement = connection.prepare(
        "SELECT type, name, COALESCE(sql, '') FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )?;
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "CREATE TABLE account (id INTEGER PRIMARY KEY, name TEXT NOT NULL);";
    const V2: &str = "ALTER TABLE account ADD COLUMN server TEXT NOT NULL DEFAULT '';";

    #[test]
    fn migrations_bring_an_old_file_to_the_fresh_schema() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.db");
        drop(open_and_migrate(&old, &[V1]).unwrap());
        let migrated = open_and_migrate(&old, &[V1, V2]).unwrap();
        let fresh = open_and_migrate(&dir.path().join("fresh.db"), &[V1, V2]).unwrap();
        assert_eq!(schema_of(&migrated).unwrap(), schema_of(&fresh).unwrap());
        let version: u32 = migrated
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);
    }

    #[test]
    fn a_file_newer_than_the_code_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        drop(open_and_migrate(&path, &[V1, V2]).unwrap());
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(
            open_and_migrate(&path, &[V1]),
            Err(SqlError::TooNew {
                found: 2,
                supported: 1
            })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_corrupt_file_is_reported_and_never_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corrupt.db");
        let garbage = b"this is not a database, it is a shopping list: milk, eggs".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        assert!(matches!(
            open_and_migrate(&path, &[V1]),
            Err(SqlError::Corrupt)
        ));
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn a_failing_migration_leaves_the_file_at_its_old_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        drop(open_and_migrate(&path, &[V1]).unwrap());
        let broken = "ALTER TABLE account ADD COLUMN x TEXT; THIS IS NOT SQL;";
        assert!(open_and_migrate(&path, &[V1, V2, broken]).is_err());
        let connection = open_and_migrate(&path, &[V1]).unwrap();
        let columns: i64 = connection
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('account')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            columns, 2,
            "neither V2 nor the broken migration was applied"
        );
    }
}
