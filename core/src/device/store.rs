//! The phone's SQLite store: its accounts (several per phone: usernames or
//! servers) and the tables of the local history ([`super::history`]).
//!
//! Invariants:
//! - secrets are stored only as [`SealedBlob`]s made by the platform keystore —
//!   the seed, and the biometric copy of `k_user` — never in plaintext; the PIN
//!   is never stored in any form;
//! - a replaced or wiped account keeps no secret and no push token: only what a
//!   fraud report needs (server profile, enrollment id, epoch, device key alias)
//!   until [`FRAUD_REPORT_RETENTION_SECS`] after the wipe, then
//!   [`DeviceStore::purge_expired`] removes it. The schema's `CHECK`s enforce
//!   this, so no code path can leave a sealed seed in a wiped row;
//! - the schema moves only forward, through the numbered files of
//!   `core/migrations/device/` run by [`crate::sql::open_and_migrate`]; a file
//!   newer than the code is refused ([`DeviceStoreError::TooNew`]) and a corrupt file
//!   is reported ([`DeviceStoreError::Corrupt`]), never deleted or recreated;
//! - the file is created owner-only (`0600`), and deleted rows are overwritten
//!   (`secure_delete`);
//! - times come from the store's [`Clock`]; every value read back is parsed into
//!   its checked type, and a value that does not parse is
//!   [`DeviceStoreError::BadValue`], never a panic.

use super::keystore::SealedBlob;
use crate::clock::Clock;
use crate::otp::OcraSuite;
use crate::protocol::{DevicePublicKey, EnrollmentId, ReplacementId, ServerProfile};
use crate::sql::SqlError;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The store's migrations; index 0 takes an empty file to version 1.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/device/0001_accounts_and_history.sql"),
    include_str!("../../migrations/device/0002_pending_activation.sql"),
];

/// How long a replaced or wiped account keeps what it needs to report fraud:
/// 30 days.
pub const FRAUD_REPORT_RETENTION_SECS: u64 = 30 * 24 * 60 * 60;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceStoreError {
    /// The file is not a readable SQLite database or is damaged. It was left
    /// exactly as it was: credentials cannot be recreated silently.
    #[error("the phone's database is corrupt; it was left untouched")]
    Corrupt,
    /// The file was written by a newer version of the app.
    #[error("the phone's database has schema version {found}, newer than this app's {supported}")]
    TooNew {
        /// The file's schema version.
        found: u32,
        /// The newest version this code knows.
        supported: u32,
    },
    /// No account has this id.
    #[error("no account {0}")]
    NoSuchAccount(AccountId),
    /// The account was replaced or wiped: it has no secrets left to change.
    #[error("account {0} was wiped")]
    AccountWiped(AccountId),
    /// The account's activation has not completed yet: only its receipt (through
    /// [`DeviceStore::complete_activation`]) or a wipe can change its state.
    #[error("account {0} is still waiting for its activation to complete")]
    ActivationPending(AccountId),
    /// Another account already has this value (the text names it: enrollment id
    /// or key alias).
    #[error("another account already has this {0}")]
    Duplicate(&'static str),
    /// A stored value does not parse (the column is named): the file was changed
    /// outside the app, or by a bug.
    #[error("the stored {column} is not valid")]
    BadValue {
        /// The column.
        column: &'static str,
    },
    /// A number too large for the database (the text names it).
    #[error("the {0} is out of range")]
    OutOfRange(&'static str),
    /// The file could not be created.
    #[error("the database file could not be created: {0}")]
    Io(#[from] std::io::Error),
    /// Any other SQLite failure (disk full, locked…).
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

impl From<SqlError> for DeviceStoreError {
    fn from(error: SqlError) -> Self {
        match error {
            SqlError::Corrupt => DeviceStoreError::Corrupt,
            SqlError::TooNew { found, supported } => DeviceStoreError::TooNew { found, supported },
            SqlError::Sqlite(error) => DeviceStoreError::Sqlite(error),
        }
    }
}

impl From<rusqlite::Error> for DeviceStoreError {
    fn from(error: rusqlite::Error) -> Self {
        crate::sql::classify(error).into()
    }
}

/// An account's id on this phone (never sent to a server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(i64);

impl AccountId {
    /// The id with this number (as the shells store it).
    pub fn from_raw(id: i64) -> Self {
        Self(id)
    }

    /// The id's number.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How a push approval proves that the user sees the login screen: the
/// protocol's [`crate::protocol::MatchingMode`] (fixed by the receipt), stored as
/// its text `code` or `tap`.
pub use crate::protocol::MatchingMode;

/// Where an account stands on this phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountState {
    /// This phone authenticates for the account.
    Active,
    /// The activation replaces another phone and has not completed: it waits for
    /// the old phone's approval, or for the end of the lost-phone hold period.
    /// The secrets are kept; the epoch is 0 until the receipt arrives.
    Pending {
        /// The replacement the activation waits for.
        replacement: ReplacementId,
        /// Whether it is the lost-phone path (a hold period) rather than an
        /// approval on the old phone.
        held: bool,
        /// When the hold period ends, if the server said.
        effective_at: Option<u64>,
    },
    /// The server locked the account (failed attempts, password reset required);
    /// the secrets are kept.
    Locked,
    /// The enrollment is disabled until replaced; the secrets are kept.
    Disabled,
    /// Another phone replaced this one (a signed notice said so); the secrets
    /// were wiped.
    Replaced {
        /// Which phone replaced it, as the notice describes it.
        by: String,
        /// When this phone learned it (Unix seconds, this phone's clock).
        at: u64,
    },
    /// The account's secrets were wiped (a signed revocation, or removal).
    Wiped {
        /// When (Unix seconds, this phone's clock).
        at: u64,
    },
}

impl AccountState {
    /// Whether the account still has its secrets (not replaced or wiped).
    pub fn has_secrets(&self) -> bool {
        matches!(
            self,
            AccountState::Active
                | AccountState::Locked
                | AccountState::Disabled
                | AccountState::Pending { .. }
        )
    }
}

/// The states an account with secrets can be moved between with
/// [`DeviceStore::set_usable_state`]. Replacement and wiping have their own
/// methods, because they destroy secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsableState {
    /// See [`AccountState::Active`].
    Active,
    /// See [`AccountState::Locked`].
    Locked,
    /// See [`AccountState::Disabled`].
    Disabled,
}

impl UsableState {
    fn as_str(self) -> &'static str {
        match self {
            UsableState::Active => "active",
            UsableState::Locked => "locked",
            UsableState::Disabled => "disabled",
        }
    }
}

/// The biometric copy of `k_user`: sealed by a biometric-only keystore key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BiometricCopy {
    /// The alias of the biometric-only key.
    pub key_alias: String,
    /// `k_user`, sealed by that key.
    pub sealed_k_user: SealedBlob,
}

/// What the store keeps of an activation that waits for a replacement to
/// complete (see [`AccountState::Pending`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingActivation {
    /// The replacement the activation waits for.
    pub replacement: ReplacementId,
    /// Whether it is the lost-phone path (a hold period).
    pub held: bool,
    /// When the hold period ends, if the server said.
    pub effective_at: Option<u64>,
}

/// What the store needs to add an account, once its activation succeeded.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// What the user sees ("alice @ Example Bank").
    pub label: String,
    /// The server the account lives on.
    pub server_profile: ServerProfile,
    /// The enrollment the server created for this phone.
    pub enrollment_id: EnrollmentId,
    /// The account's epoch for this enrollment.
    pub epoch: u64,
    /// The signed activation receipt, exactly as received.
    pub receipt: Vec<u8>,
    /// The enrollment's OCRA suite (fixed by the receipt).
    pub ocra_suite: OcraSuite,
    /// The enrollment's matching mode (fixed by the receipt).
    pub matching_mode: MatchingMode,
    /// The keystore alias of the device signing key.
    pub device_key_alias: String,
    /// The device signing key's public half.
    pub device_public_key: DevicePublicKey,
    /// The keystore alias of the sealing key of the seed.
    pub seal_key_alias: String,
    /// The seed, sealed under `seal_key_alias`.
    pub sealed_seed: SealedBlob,
    /// The biometric copy of `k_user`, if biometrics are on.
    pub biometric: Option<BiometricCopy>,
    /// Server time minus phone time, in seconds.
    pub clock_offset: i64,
    /// The push token registered with the server, if any.
    pub push_token: Option<String>,
}

/// An account as stored.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its id on this phone.
    pub id: AccountId,
    /// What the user sees.
    pub label: String,
    /// The server the account lives on.
    pub server_profile: ServerProfile,
    /// This phone's enrollment.
    pub enrollment_id: EnrollmentId,
    /// The enrollment's epoch.
    pub epoch: u64,
    /// The signed activation receipt.
    pub receipt: Vec<u8>,
    /// The enrollment's OCRA suite.
    pub ocra_suite: OcraSuite,
    /// The enrollment's matching mode.
    pub matching_mode: MatchingMode,
    /// The keystore alias of the device signing key (kept after a wipe, to sign
    /// a fraud report).
    pub device_key_alias: String,
    /// The device signing key's public half (`None` for accounts stored before
    /// schema version 2).
    pub device_public_key: Option<DevicePublicKey>,
    /// The keystore alias of the sealing key of the seed.
    pub seal_key_alias: String,
    /// The sealed seed; `None` once wiped.
    pub sealed_seed: Option<SealedBlob>,
    /// The biometric copy of `k_user`, if biometrics are on.
    pub biometric: Option<BiometricCopy>,
    /// Server time minus phone time, in seconds, from the last signed server time.
    pub clock_offset: i64,
    /// When the account last synced (Unix seconds, this phone's clock).
    pub last_sync_at: Option<u64>,
    /// The push token last registered.
    pub push_token: Option<String>,
    /// Where the account stands.
    pub state: AccountState,
    /// When it entered that state.
    pub state_changed_at: u64,
    /// For a replaced or wiped account: until when it is kept to report fraud.
    pub fraud_report_until: Option<u64>,
    /// When the account was added.
    pub created_at: u64,
}

/// The keystore keys a wipe made useless: the caller deletes them, which
/// destroys every sealed copy of the account's secrets (including copies left
/// in backups or old database pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipedKeys {
    /// The sealing key of the seed.
    pub seal_key_alias: String,
    /// The biometric key, if biometrics were on.
    pub biometric_key_alias: Option<String>,
}

/// An account removed for good by [`DeviceStore::purge_expired`] or
/// [`DeviceStore::delete_account`]: the caller deletes its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedAccount {
    /// The removed account.
    pub id: AccountId,
    /// The device signing key's alias.
    pub device_key_alias: String,
    /// The sealing key's alias.
    pub seal_key_alias: String,
    /// The biometric key's alias, if any.
    pub biometric_key_alias: Option<String>,
}

/// The phone's database.
///
/// One connection; not `Sync`. The authenticator keeps it behind its own lock.
pub struct DeviceStore {
    connection: Connection,
    clock: Arc<dyn Clock>,
    path: PathBuf,
}

impl std::fmt::Debug for DeviceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

const ACCOUNT_COLUMNS: &str = "id, label, server_profile, enrollment_id, epoch, receipt, \
    ocra_suite, matching_mode, device_key_alias, device_public_key, seal_key_alias, \
    sealed_seed, biometric_key_alias, sealed_biometric_k_user, clock_offset, last_sync_at, push_token, \
    state, replaced_by, state_changed_at, fraud_report_until, created_at, \
    pending_replacement, pending_held, pending_effective_at";

fn to_i64(value: u64, what: &'static str) -> Result<i64, DeviceStoreError> {
    i64::try_from(value).map_err(|_| DeviceStoreError::OutOfRange(what))
}

fn to_u64(value: i64, column: &'static str) -> Result<u64, DeviceStoreError> {
    u64::try_from(value).map_err(|_| DeviceStoreError::BadValue { column })
}

/// Turns a uniqueness violation into [`DeviceStoreError::Duplicate`].
fn classify_insert(error: rusqlite::Error) -> DeviceStoreError {
    if let rusqlite::Error::SqliteFailure(ffi, Some(message)) = &error {
        if ffi.code == rusqlite::ErrorCode::ConstraintViolation && message.contains("UNIQUE") {
            return DeviceStoreError::Duplicate(if message.contains("enrollment_id") {
                "enrollment id"
            } else {
                "key alias"
            });
        }
    }
    error.into()
}

/// Runs `f` so that its writes land together or not at all: in a transaction of
/// its own (`BEGIN IMMEDIATE`), or — inside one already open, as when a sync
/// answer is applied as one plan ([`DeviceStore::atomically`]) — in a savepoint
/// that the outer transaction commits or rolls back with everything else. A
/// process killed at any point leaves what the last commit left.
pub(crate) fn atomic<R, E: From<DeviceStoreError>>(
    connection: &Connection,
    f: impl FnOnce() -> Result<R, E>,
) -> Result<R, E> {
    let (begin, commit, rollback) = if connection.is_autocommit() {
        ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
    } else {
        (
            "SAVEPOINT latchkey_step",
            "RELEASE latchkey_step",
            "ROLLBACK TO latchkey_step; RELEASE latchkey_step",
        )
    };
    connection
        .execute_batch(begin)
        .map_err(|e| E::from(e.into()))?;
    let outcome = f().and_then(|value| {
        connection
            .execute_batch(commit)
            .map_err(|e| E::from(e.into()))?;
        Ok(value)
    });
    if outcome.is_err() && !connection.is_autocommit() {
        // Nothing of `f` stays; the caller's own transaction, if any, goes on.
        let _ = connection.execute_batch(rollback);
    }
    outcome
}

impl DeviceStore {
    /// Opens the store at `path`, creating it (owner-only) if it does not exist
    /// and migrating it to the current schema.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, DeviceStoreError> {
        create_private_file(path)?;
        let connection = crate::sql::open_and_migrate(path, MIGRATIONS)?;
        connection.execute_batch("PRAGMA secure_delete = ON;")?;
        Ok(Self {
            connection,
            clock,
            path: path.to_owned(),
        })
    }

    /// The connection, for the history's tables.
    /// Test support (feature `testing`): the SQLite connection, for tests that
    /// inject a storage failure (a TEMP trigger) or tamper with rows.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn connection_for_tests(&self) -> &Connection {
        self.connection()
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Runs `f` as one transaction: every write it makes through this store
    /// (and the history's) commits together, or none does. The caller deletes
    /// keystore keys only after this returns `Ok` — a key deleted before the
    /// commit would leave a rolled-back account with a sealed seed no key opens.
    pub(crate) fn atomically<R, E: From<DeviceStoreError>>(
        &self,
        f: impl FnOnce(&Self) -> Result<R, E>,
    ) -> Result<R, E> {
        atomic(&self.connection, || f(self))
    }

    /// The current time of the store's clock.
    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Adds an account that has just been activated, in state
    /// [`AccountState::Active`].
    pub fn insert_account(&self, account: &NewAccount) -> Result<AccountId, DeviceStoreError> {
        self.insert(account, None)
    }

    /// Adds an account whose activation waits for a replacement to complete, in
    /// state [`AccountState::Pending`] at epoch 0. `account.receipt` is empty
    /// and its suite and matching mode are provisional until
    /// [`DeviceStore::complete_activation`].
    pub fn insert_pending_account(
        &self,
        account: &NewAccount,
        pending: &PendingActivation,
    ) -> Result<AccountId, DeviceStoreError> {
        self.insert(account, Some(pending))
    }

    fn insert(
        &self,
        account: &NewAccount,
        pending: Option<&PendingActivation>,
    ) -> Result<AccountId, DeviceStoreError> {
        let now = to_i64(self.now(), "time")?;
        let state = if pending.is_some() {
            "pending"
        } else {
            "active"
        };
        let epoch = if pending.is_some() { 0 } else { account.epoch };
        let pending_replacement = pending.map(|p| p.replacement.as_bytes().to_vec());
        let pending_held = pending.map(|p| i64::from(p.held));
        let pending_effective_at = pending
            .and_then(|p| p.effective_at)
            .map(|at| to_i64(at, "effective at"))
            .transpose()?;
        let (biometric_alias, biometric_blob) = match &account.biometric {
            Some(copy) => (
                Some(copy.key_alias.as_str()),
                Some(copy.sealed_k_user.as_bytes()),
            ),
            None => (None, None),
        };
        self.connection
            .execute(
                "INSERT INTO account (label, server_profile, enrollment_id, epoch, receipt, \
                 ocra_suite, matching_mode, device_key_alias, seal_key_alias, sealed_seed, \
                 biometric_key_alias, sealed_biometric_k_user, clock_offset, push_token, state, \
                 state_changed_at, created_at, pending_replacement, pending_held, \
                 pending_effective_at, device_public_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16, \
                 ?17, ?18, ?19, ?20)",
                params![
                    account.label,
                    account.server_profile.to_json(),
                    account.enrollment_id.as_bytes().as_slice(),
                    to_i64(epoch, "epoch")?,
                    account.receipt,
                    account.ocra_suite.to_string(),
                    account.matching_mode.as_str(),
                    account.device_key_alias,
                    account.seal_key_alias,
                    account.sealed_seed.as_bytes(),
                    biometric_alias,
                    biometric_blob,
                    account.clock_offset,
                    account.push_token,
                    state,
                    now,
                    pending_replacement,
                    pending_held,
                    pending_effective_at,
                    account.device_public_key.as_bytes(),
                ],
            )
            .map_err(classify_insert)?;
        Ok(AccountId(self.connection.last_insert_rowid()))
    }

    /// The account with this id.
    pub fn account(&self, id: AccountId) -> Result<Account, DeviceStoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE id = ?1");
        self.connection
            .query_row(&sql, [id.0], |row| Ok(read_account(row)))
            .optional()?
            .ok_or(DeviceStoreError::NoSuchAccount(id))?
    }

    /// Every account on this phone, wiped ones included, oldest first.
    pub fn accounts(&self) -> Result<Vec<Account>, DeviceStoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM account ORDER BY id");
        let mut statement = self.connection.prepare(&sql)?;
        let rows = statement
            .query_map([], |row| Ok(read_account(row)))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }

    /// The account of this enrollment, if it is on this phone.
    pub fn account_by_enrollment(
        &self,
        enrollment_id: &EnrollmentId,
    ) -> Result<Option<Account>, DeviceStoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE enrollment_id = ?1");
        self.connection
            .query_row(&sql, [enrollment_id.as_bytes().as_slice()], |row| {
                Ok(read_account(row))
            })
            .optional()?
            .transpose()
    }

    /// Runs an update on one account; `require_secrets` refuses wiped accounts.
    fn update(
        &self,
        id: AccountId,
        require_secrets: bool,
        sql: &str,
        values: &[&dyn rusqlite::ToSql],
    ) -> Result<(), DeviceStoreError> {
        atomic(&self.connection, || {
            let state: Option<String> = self
                .connection
                .query_row("SELECT state FROM account WHERE id = ?1", [id.0], |row| {
                    row.get(0)
                })
                .optional()?;
            match state.as_deref() {
                None => return Err(DeviceStoreError::NoSuchAccount(id)),
                Some("replaced" | "wiped") if require_secrets => {
                    return Err(DeviceStoreError::AccountWiped(id));
                }
                Some(_) => {}
            }
            let mut all: Vec<&dyn rusqlite::ToSql> = vec![&id.0];
            all.extend_from_slice(values);
            self.connection.execute(sql, all.as_slice())?;
            Ok(())
        })
    }

    /// Renames an account.
    pub fn set_label(&self, id: AccountId, label: &str) -> Result<(), DeviceStoreError> {
        self.update(
            id,
            false,
            "UPDATE account SET label = ?2 WHERE id = ?1",
            &[&label],
        )
    }

    /// Turns biometrics on (with the new sealed copy) or off (`None`). The caller
    /// deletes a biometric key it replaces.
    pub fn set_biometric(
        &self,
        id: AccountId,
        biometric: Option<&BiometricCopy>,
    ) -> Result<(), DeviceStoreError> {
        let alias = biometric.map(|copy| copy.key_alias.as_str());
        let blob = biometric.map(|copy| copy.sealed_k_user.as_bytes());
        self.update(
            id,
            true,
            "UPDATE account SET biometric_key_alias = ?2, sealed_biometric_k_user = ?3 WHERE id = ?1",
            &[&alias, &blob],
        )
    }

    /// Records a sync: now, and the clock offset measured from signed server time.
    pub fn record_sync(&self, id: AccountId, clock_offset: i64) -> Result<(), DeviceStoreError> {
        let now = to_i64(self.now(), "time")?;
        self.update(
            id,
            false,
            "UPDATE account SET last_sync_at = ?2, clock_offset = ?3 WHERE id = ?1",
            &[&now, &clock_offset],
        )
    }

    /// Records the push token registered with the server (or none).
    pub fn set_push_token(
        &self,
        id: AccountId,
        token: Option<&str>,
    ) -> Result<(), DeviceStoreError> {
        self.update(
            id,
            true,
            "UPDATE account SET push_token = ?2 WHERE id = ?1",
            &[&token],
        )
    }

    /// Moves an account that still has its secrets to `state`. A pending
    /// account is refused ([`DeviceStoreError::ActivationPending`]).
    pub fn set_usable_state(
        &self,
        id: AccountId,
        state: UsableState,
    ) -> Result<(), DeviceStoreError> {
        if matches!(self.account(id)?.state, AccountState::Pending { .. }) {
            return Err(DeviceStoreError::ActivationPending(id));
        }
        let now = to_i64(self.now(), "time")?;
        self.update(
            id,
            true,
            "UPDATE account SET state = ?2, state_changed_at = ?3 WHERE id = ?1",
            &[&state.as_str(), &now],
        )
    }

    /// Completes a pending activation with its signed receipt: the account becomes
    /// [`AccountState::Active`] at `epoch` with the receipt's suite and matching
    /// mode. Refused unless the account is pending.
    pub fn complete_activation(
        &self,
        id: AccountId,
        epoch: u64,
        receipt: &[u8],
        ocra_suite: &OcraSuite,
        matching_mode: MatchingMode,
    ) -> Result<(), DeviceStoreError> {
        let account = self.account(id)?;
        if !matches!(account.state, AccountState::Pending { .. }) {
            return Err(DeviceStoreError::OutOfRange("state (not pending)"));
        }
        let now = to_i64(self.now(), "time")?;
        let epoch = to_i64(epoch, "epoch")?;
        let suite = ocra_suite.to_string();
        self.update(
            id,
            true,
            "UPDATE account SET state = 'active', state_changed_at = ?2, epoch = ?3, \
             receipt = ?4, ocra_suite = ?5, matching_mode = ?6, pending_replacement = NULL, \
             pending_held = NULL, pending_effective_at = NULL WHERE id = ?1",
            &[&now, &epoch, &receipt, &suite, &matching_mode.as_str()],
        )
    }

    /// Wipes an account's secrets after a signed notice that another phone (`by`)
    /// replaced this one. Keeps what a fraud report needs for
    /// [`FRAUD_REPORT_RETENTION_SECS`]. Returns the keys the caller must delete.
    pub fn mark_replaced(&self, id: AccountId, by: &str) -> Result<WipedKeys, DeviceStoreError> {
        self.wipe_as(id, "replaced", Some(by))
    }

    /// Wipes an account's secrets (a signed revocation). Keeps what a fraud
    /// report needs for [`FRAUD_REPORT_RETENTION_SECS`]. Returns the keys the
    /// caller must delete.
    pub fn wipe(&self, id: AccountId) -> Result<WipedKeys, DeviceStoreError> {
        self.wipe_as(id, "wiped", None)
    }

    fn wipe_as(
        &self,
        id: AccountId,
        state: &str,
        replaced_by: Option<&str>,
    ) -> Result<WipedKeys, DeviceStoreError> {
        let now = self.now();
        let until = to_i64(now.saturating_add(FRAUD_REPORT_RETENTION_SECS), "time")?;
        let now = to_i64(now, "time")?;
        let account = self.account(id)?;
        if !account.state.has_secrets() {
            return Err(DeviceStoreError::AccountWiped(id));
        }
        self.update(
            id,
            true,
            "UPDATE account SET state = ?2, replaced_by = ?3, state_changed_at = ?4, \
             fraud_report_until = ?5, sealed_seed = NULL, biometric_key_alias = NULL, \
             sealed_biometric_k_user = NULL, push_token = NULL, pending_replacement = NULL, \
             pending_held = NULL, pending_effective_at = NULL WHERE id = ?1",
            &[&state, &replaced_by, &now, &until],
        )?;
        Ok(WipedKeys {
            seal_key_alias: account.seal_key_alias,
            biometric_key_alias: account.biometric.map(|copy| copy.key_alias),
        })
    }

    /// Removes an account for good (the user removed it). Returns its keys, which
    /// the caller deletes.
    pub fn delete_account(&self, id: AccountId) -> Result<RemovedAccount, DeviceStoreError> {
        let account = self.account(id)?;
        self.connection
            .execute("DELETE FROM account WHERE id = ?1", [id.0])?;
        Ok(removed(account))
    }

    /// Removes every replaced or wiped account whose fraud-report retention has
    /// ended. Returns them, so the caller deletes their keys.
    pub fn purge_expired(&self) -> Result<Vec<RemovedAccount>, DeviceStoreError> {
        let now = self.now();
        let expired: Vec<Account> = self
            .accounts()?
            .into_iter()
            .filter(|account| account.fraud_report_until.is_some_and(|until| until <= now))
            .collect();
        atomic(&self.connection, || {
            for account in &expired {
                self.connection
                    .execute("DELETE FROM account WHERE id = ?1", [account.id.0])?;
            }
            Ok::<_, DeviceStoreError>(())
        })?;
        Ok(expired.into_iter().map(removed).collect())
    }
}

fn removed(account: Account) -> RemovedAccount {
    RemovedAccount {
        id: account.id,
        device_key_alias: account.device_key_alias,
        seal_key_alias: account.seal_key_alias,
        biometric_key_alias: account.biometric.map(|copy| copy.key_alias),
    }
}

/// Creates `path` empty and owner-only if it does not exist, so that SQLite (which
/// gives its `-wal` and `-shm` files the database's mode) never makes it
/// world-readable.
fn create_private_file(path: &Path) -> Result<(), DeviceStoreError> {
    crate::private_file::create_if_missing(path).map_err(DeviceStoreError::Io)
}

/// Reads one account row; the outer `rusqlite::Result` is SQLite's, the inner
/// one is the parsing of the values.
fn read_account(row: &Row<'_>) -> Result<Account, DeviceStoreError> {
    let bad = |column| DeviceStoreError::BadValue { column };
    let profile: String = row.get("server_profile")?;
    let enrollment: Vec<u8> = row.get("enrollment_id")?;
    let suite: String = row.get("ocra_suite")?;
    let mode: String = row.get("matching_mode")?;
    let state: String = row.get("state")?;
    let state_changed_at = to_u64(row.get("state_changed_at")?, "state_changed_at")?;
    let replaced_by: Option<String> = row.get("replaced_by")?;
    let biometric_alias: Option<String> = row.get("biometric_key_alias")?;
    let biometric_blob: Option<Vec<u8>> = row.get("sealed_biometric_k_user")?;
    let pending_replacement: Option<Vec<u8>> = row.get("pending_replacement")?;
    let pending_held: Option<i64> = row.get("pending_held")?;
    let pending_effective_at = row
        .get::<_, Option<i64>>("pending_effective_at")?
        .map(|at| to_u64(at, "pending_effective_at"))
        .transpose()?;
    let state = match (state.as_str(), replaced_by) {
        ("active", None) => AccountState::Active,
        ("pending", None) => AccountState::Pending {
            replacement: pending_replacement
                .as_deref()
                .map(ReplacementId::from_slice)
                .transpose()
                .map_err(|_| bad("pending_replacement"))?
                .ok_or(bad("pending_replacement"))?,
            held: match pending_held {
                Some(0) => false,
                Some(1) => true,
                _ => return Err(bad("pending_held")),
            },
            effective_at: pending_effective_at,
        },
        ("locked", None) => AccountState::Locked,
        ("disabled", None) => AccountState::Disabled,
        ("replaced", Some(by)) => AccountState::Replaced {
            by,
            at: state_changed_at,
        },
        ("wiped", None) => AccountState::Wiped {
            at: state_changed_at,
        },
        _ => return Err(bad("state")),
    };
    let biometric = match (biometric_alias, biometric_blob) {
        (Some(key_alias), Some(blob)) => Some(BiometricCopy {
            key_alias,
            sealed_k_user: SealedBlob::new(blob),
        }),
        (None, None) => None,
        _ => return Err(bad("sealed_biometric_k_user")),
    };
    Ok(Account {
        id: AccountId(row.get("id")?),
        label: row.get("label")?,
        server_profile: ServerProfile::from_json(&profile).map_err(|_| bad("server_profile"))?,
        enrollment_id: EnrollmentId::from_slice(&enrollment).map_err(|_| bad("enrollment_id"))?,
        epoch: to_u64(row.get("epoch")?, "epoch")?,
        receipt: row.get("receipt")?,
        ocra_suite: suite.parse().map_err(|_| bad("ocra_suite"))?,
        matching_mode: mode.parse().map_err(|_| bad("matching_mode"))?,
        device_key_alias: row.get("device_key_alias")?,
        device_public_key: row
            .get::<_, Option<Vec<u8>>>("device_public_key")?
            .map(|bytes| DevicePublicKey::from_slice(&bytes))
            .transpose()
            .map_err(|_| bad("device_public_key"))?,
        seal_key_alias: row.get("seal_key_alias")?,
        sealed_seed: row
            .get::<_, Option<Vec<u8>>>("sealed_seed")?
            .map(SealedBlob::new),
        biometric,
        clock_offset: row.get("clock_offset")?,
        last_sync_at: row
            .get::<_, Option<i64>>("last_sync_at")?
            .map(|at| to_u64(at, "last_sync_at"))
            .transpose()?,
        push_token: row.get("push_token")?,
        state,
        state_changed_at,
        fraud_report_until: row
            .get::<_, Option<i64>>("fraud_report_until")?
            .map(|until| to_u64(until, "fraud_report_until"))
            .transpose()?,
        created_at: to_u64(row.get("created_at")?, "created_at")?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::device::keystore::PlatformKeystore;
    use crate::device::software_keystore::{SimulatedBiometrics, SoftwareKeystore};
    use crate::protocol::ServerPublicKey;
    use crate::secret::SecretBytes;
    use crate::sql::schema_of;

    pub(crate) const T0: u64 = 1_800_000_000;

    pub(crate) fn profile() -> ServerProfile {
        ServerProfile::new(
            "https://latchkey.example",
            ServerPublicKey::from_slice(&[7u8; 32]).unwrap(),
        )
        .unwrap()
    }

    pub(crate) fn new_account(n: u8, sealed_seed: SealedBlob) -> NewAccount {
        NewAccount {
            label: format!("user{n} @ Example"),
            server_profile: profile(),
            enrollment_id: EnrollmentId::from_bytes([n; 16]),
            epoch: 3,
            receipt: b"signed receipt".to_vec(),
            ocra_suite: "OCRA-1:HOTP-SHA256-8:QN06-T1M".parse().unwrap(),
            matching_mode: MatchingMode::Code,
            device_key_alias: format!("acct{n}/device"),
            device_public_key: DevicePublicKey::from_slice(&[4; 65]).unwrap(),
            seal_key_alias: format!("acct{n}/seal"),
            sealed_seed,
            biometric: None,
            clock_offset: -4,
            push_token: Some(format!("push-token-{n}")),
        }
    }

    struct Fixture {
        dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
        store: DeviceStore,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let store = DeviceStore::open(&dir.path().join("device.db"), clock.clone()).unwrap();
        Fixture { dir, clock, store }
    }

    fn blob(text: &str) -> SealedBlob {
        SealedBlob::new(text.as_bytes().to_vec())
    }

    fn user_version(connection: &Connection) -> u32 {
        connection
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_store_migrated_from_the_first_schema_equals_a_fresh_one() {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(T0));
        let old = dir.path().join("v1.db");
        drop(crate::sql::open_and_migrate(&old, &MIGRATIONS[..1]).unwrap());
        let migrated = DeviceStore::open(&old, clock.clone()).unwrap();
        let fresh = DeviceStore::open(&dir.path().join("fresh.db"), clock).unwrap();
        let schema = schema_of(&fresh.connection).unwrap();
        assert_eq!(schema_of(&migrated.connection).unwrap(), schema);
        assert_eq!(
            user_version(&migrated.connection) as usize,
            MIGRATIONS.len()
        );
        let tables: Vec<_> = schema
            .iter()
            .filter(|(kind, _, _)| kind == "table")
            .map(|(_, name, _)| name.as_str())
            .collect();
        assert_eq!(tables, ["account", "history_entry", "history_head"]);
    }

    #[test]
    fn an_account_written_by_the_first_schema_survives_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let v1 = crate::sql::open_and_migrate(&path, &MIGRATIONS[..1]).unwrap();
            v1.execute(
                "INSERT INTO account (label, server_profile, enrollment_id, epoch, receipt, \
                 ocra_suite, matching_mode, device_key_alias, seal_key_alias, sealed_seed, \
                 clock_offset, state, state_changed_at, created_at) \
                 VALUES ('old', ?1, ?2, 2, x'01', 'OCRA-1:HOTP-SHA256-8:QN06-T1M', 'code', \
                 'd', 's', x'5eed', 3, 'locked', 5, 4)",
                params![profile().to_json(), [9u8; 16].as_slice()],
            )
            .unwrap();
        }
        let store = DeviceStore::open(&path, Arc::new(ManualClock::new(T0))).unwrap();
        let accounts = store.accounts().unwrap();
        assert_eq!(accounts.len(), 1);
        let account = &accounts[0];
        assert_eq!(account.label, "old");
        assert_eq!(account.epoch, 2);
        assert_eq!(account.state, AccountState::Locked);
        assert_eq!(account.sealed_seed, Some(SealedBlob::new(vec![0x5e, 0xed])));
        assert_eq!(account.clock_offset, 3);
    }

    #[test]
    fn a_corrupt_store_is_reported_and_left_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.db");
        let garbage = b"SQLite format 3\0 but then a shopping list: milk, eggs. ".repeat(200);
        std::fs::write(&path, &garbage).unwrap();
        let result = DeviceStore::open(&path, Arc::new(ManualClock::new(T0)));
        assert!(
            matches!(result, Err(DeviceStoreError::Corrupt)),
            "{result:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn a_store_newer_than_the_code_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.db");
        drop(DeviceStore::open(&path, Arc::new(ManualClock::new(T0))).unwrap());
        {
            let raw = Connection::open(&path).unwrap();
            raw.execute_batch("PRAGMA user_version = 99").unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let result = DeviceStore::open(&path, Arc::new(ManualClock::new(T0)));
        assert!(
            matches!(
                result,
                Err(DeviceStoreError::TooNew {
                    found: 99,
                    supported: 2
                })
            ),
            "{result:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn neither_the_seed_nor_k_user_is_in_the_database_or_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let keystore =
            SoftwareKeystore::open(&dir.path().join("keys"), SimulatedBiometrics::new()).unwrap();
        let seed = *b"SEED:0123456789abcdef0123456789!";
        let k_user = *b"KUSR:fedcba9876543210fedcba9876!";
        let mut account = new_account(
            1,
            keystore
                .seal("acct1/seal", &SecretBytes::from_slice(&seed))
                .unwrap(),
        );
        keystore.create_biometric_key("acct1/bio").unwrap();
        account.biometric = Some(BiometricCopy {
            key_alias: "acct1/bio".to_owned(),
            sealed_k_user: keystore
                .seal_biometric("acct1/bio", &SecretBytes::from_slice(&k_user))
                .unwrap(),
        });

        let path = dir.path().join("device.db");
        let store = DeviceStore::open(&path, Arc::new(ManualClock::new(T0))).unwrap();
        let id = store.insert_account(&account).unwrap();
        // The store is still open: what was written sits in the WAL.
        let wal = std::fs::read(dir.path().join("device.db-wal")).unwrap();
        let main = std::fs::read(&path).unwrap();
        assert!(!wal.is_empty(), "the write went through the WAL");
        let stored = store.account(id).unwrap();
        assert!(
            wal.windows(16)
                .any(|w| w == &stored.sealed_seed.as_ref().unwrap().as_bytes()[..16]),
            "the sealed blob itself is in the WAL, so the search would find bytes"
        );
        for secret in [seed, k_user] {
            let hex = crate::encoding::encode_hex(&secret);
            for file in [&main, &wal] {
                assert!(!file.windows(secret.len()).any(|w| w == secret));
                assert!(!file.windows(8).any(|w| w == &secret[..8]));
                assert!(!file.windows(hex.len()).any(|w| w == hex.as_bytes()));
            }
        }
        // And the blobs open back to the secrets.
        assert_eq!(
            keystore
                .open("acct1/seal", stored.sealed_seed.as_ref().unwrap())
                .unwrap()
                .expose_secret(),
            seed
        );
    }

    #[test]
    fn accounts_round_trip_and_several_live_on_one_phone() {
        let f = fixture();
        let first = f.store.insert_account(&new_account(1, blob("s1"))).unwrap();
        f.clock.advance(10);
        let mut second = new_account(2, blob("s2"));
        second.matching_mode = MatchingMode::Tap;
        second.biometric = Some(BiometricCopy {
            key_alias: "acct2/bio".to_owned(),
            sealed_k_user: blob("b2"),
        });
        let second = f.store.insert_account(&second).unwrap();

        let account = f.store.account(first).unwrap();
        assert_eq!(account.label, "user1 @ Example");
        assert_eq!(account.server_profile, profile());
        assert_eq!(account.enrollment_id, EnrollmentId::from_bytes([1; 16]));
        assert_eq!(account.epoch, 3);
        assert_eq!(account.receipt, b"signed receipt");
        assert_eq!(
            account.ocra_suite.to_string(),
            "OCRA-1:HOTP-SHA256-8:QN06-T1M"
        );
        assert_eq!(account.matching_mode, MatchingMode::Code);
        assert_eq!(account.sealed_seed, Some(blob("s1")));
        assert_eq!(account.biometric, None);
        assert_eq!(account.clock_offset, -4);
        assert_eq!(account.push_token.as_deref(), Some("push-token-1"));
        assert_eq!(account.state, AccountState::Active);
        assert_eq!(account.created_at, T0);
        assert_eq!(account.last_sync_at, None);

        let all = f.store.accounts().unwrap();
        assert_eq!(
            all.iter().map(|a| a.id).collect::<Vec<_>>(),
            [first, second]
        );
        let by_enrollment = f
            .store
            .account_by_enrollment(&EnrollmentId::from_bytes([2; 16]))
            .unwrap()
            .unwrap();
        assert_eq!(by_enrollment.id, second);
        assert_eq!(by_enrollment.matching_mode, MatchingMode::Tap);
        assert_eq!(by_enrollment.created_at, T0 + 10);
        assert!(
            f.store
                .account_by_enrollment(&EnrollmentId::from_bytes([9; 16]))
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            f.store.account(AccountId::from_raw(99)),
            Err(DeviceStoreError::NoSuchAccount(_))
        ));
    }

    #[test]
    fn an_enrollment_or_alias_cannot_belong_to_two_accounts() {
        let f = fixture();
        f.store.insert_account(&new_account(1, blob("s"))).unwrap();
        let mut same_enrollment = new_account(2, blob("s"));
        same_enrollment.enrollment_id = EnrollmentId::from_bytes([1; 16]);
        assert!(matches!(
            f.store.insert_account(&same_enrollment),
            Err(DeviceStoreError::Duplicate("enrollment id"))
        ));
        let mut same_alias = new_account(3, blob("s"));
        same_alias.seal_key_alias = "acct1/seal".to_owned();
        assert!(matches!(
            f.store.insert_account(&same_alias),
            Err(DeviceStoreError::Duplicate("key alias"))
        ));
    }

    #[test]
    fn updates_change_only_what_they_name() {
        let f = fixture();
        let id = f.store.insert_account(&new_account(1, blob("s"))).unwrap();
        f.clock.advance(100);
        f.store.record_sync(id, 7).unwrap();
        f.store.set_push_token(id, None).unwrap();
        f.store.set_label(id, "Alice (work)").unwrap();
        let copy = BiometricCopy {
            key_alias: "acct1/bio".to_owned(),
            sealed_k_user: blob("bio"),
        };
        f.store.set_biometric(id, Some(&copy)).unwrap();
        f.store.set_usable_state(id, UsableState::Locked).unwrap();
        let account = f.store.account(id).unwrap();
        assert_eq!(account.last_sync_at, Some(T0 + 100));
        assert_eq!(account.clock_offset, 7);
        assert_eq!(account.push_token, None);
        assert_eq!(account.label, "Alice (work)");
        assert_eq!(account.biometric, Some(copy));
        assert_eq!(account.state, AccountState::Locked);
        assert_eq!(account.state_changed_at, T0 + 100);
        assert_eq!(account.sealed_seed, Some(blob("s")));
        f.store.set_biometric(id, None).unwrap();
        f.store.set_usable_state(id, UsableState::Disabled).unwrap();
        let account = f.store.account(id).unwrap();
        assert_eq!(account.biometric, None);
        assert_eq!(account.state, AccountState::Disabled);
    }

    #[test]
    fn a_wiped_account_keeps_only_what_a_fraud_report_needs_for_thirty_days() {
        let f = fixture();
        let mut account = new_account(1, blob("sealed seed"));
        account.biometric = Some(BiometricCopy {
            key_alias: "acct1/bio".to_owned(),
            sealed_k_user: blob("sealed k_user"),
        });
        let id = f.store.insert_account(&account).unwrap();
        let other = f.store.insert_account(&new_account(2, blob("s2"))).unwrap();
        f.clock.advance(60);

        let keys = f.store.wipe(id).unwrap();
        assert_eq!(
            keys,
            WipedKeys {
                seal_key_alias: "acct1/seal".to_owned(),
                biometric_key_alias: Some("acct1/bio".to_owned()),
            }
        );
        let wiped = f.store.account(id).unwrap();
        assert_eq!(wiped.state, AccountState::Wiped { at: T0 + 60 });
        assert_eq!(wiped.sealed_seed, None);
        assert_eq!(wiped.biometric, None);
        assert_eq!(wiped.push_token, None);
        assert_eq!(
            wiped.fraud_report_until,
            Some(T0 + 60 + FRAUD_REPORT_RETENTION_SECS)
        );
        // What a fraud report needs is still there.
        assert_eq!(wiped.enrollment_id, EnrollmentId::from_bytes([1; 16]));
        assert_eq!(wiped.epoch, 3);
        assert_eq!(wiped.device_key_alias, "acct1/device");
        assert_eq!(wiped.server_profile, profile());

        // No secret can come back to a wiped account.
        let copy = BiometricCopy {
            key_alias: "acct1/bio2".to_owned(),
            sealed_k_user: blob("x"),
        };
        assert!(matches!(
            f.store.set_biometric(id, Some(&copy)),
            Err(DeviceStoreError::AccountWiped(_))
        ));
        assert!(matches!(
            f.store.set_usable_state(id, UsableState::Active),
            Err(DeviceStoreError::AccountWiped(_))
        ));
        assert!(matches!(
            f.store.set_push_token(id, Some("t")),
            Err(DeviceStoreError::AccountWiped(_))
        ));
        assert!(matches!(
            f.store.wipe(id),
            Err(DeviceStoreError::AccountWiped(_))
        ));
        // Even raw SQL cannot put a sealed seed back into a wiped row.
        assert!(
            f.store
                .connection
                .execute(
                    "UPDATE account SET sealed_seed = x'00' WHERE id = ?1",
                    [id.get()]
                )
                .is_err()
        );

        f.clock.advance(FRAUD_REPORT_RETENTION_SECS - 1);
        assert!(f.store.purge_expired().unwrap().is_empty());
        f.clock.advance(1);
        let purged = f.store.purge_expired().unwrap();
        assert_eq!(purged.len(), 1);
        assert_eq!(purged[0].id, id);
        assert_eq!(purged[0].device_key_alias, "acct1/device");
        assert!(matches!(
            f.store.account(id),
            Err(DeviceStoreError::NoSuchAccount(_))
        ));
        assert_eq!(f.store.account(other).unwrap().state, AccountState::Active);
    }

    #[test]
    fn a_replaced_account_says_by_which_phone_and_when() {
        let f = fixture();
        let id = f.store.insert_account(&new_account(1, blob("s"))).unwrap();
        f.clock.advance(5);
        let keys = f.store.mark_replaced(id, "Pixel 9 (Alice)").unwrap();
        assert_eq!(keys.biometric_key_alias, None);
        let account = f.store.account(id).unwrap();
        assert_eq!(
            account.state,
            AccountState::Replaced {
                by: "Pixel 9 (Alice)".to_owned(),
                at: T0 + 5
            }
        );
        assert!(!account.state.has_secrets());
        assert_eq!(account.sealed_seed, None);
    }

    #[test]
    fn a_pending_activation_waits_at_epoch_zero_until_its_receipt() {
        let f = fixture();
        let pending = PendingActivation {
            replacement: ReplacementId::from_bytes([0xAA; 16]),
            held: true,
            effective_at: Some(T0 + 72 * 3600),
        };
        let mut account = new_account(1, blob("s"));
        account.receipt = Vec::new();
        let id = f.store.insert_pending_account(&account, &pending).unwrap();
        let stored = f.store.account(id).unwrap();
        assert_eq!(stored.epoch, 0, "a pending account has no epoch yet");
        assert_eq!(
            stored.state,
            AccountState::Pending {
                replacement: pending.replacement,
                held: true,
                effective_at: pending.effective_at
            }
        );
        assert!(stored.state.has_secrets());
        assert!(matches!(
            f.store.set_usable_state(id, UsableState::Active),
            Err(DeviceStoreError::ActivationPending(_))
        ));

        f.clock.advance(30);
        let suite: OcraSuite = "OCRA-1:HOTP-SHA256-8:QN06-T1M".parse().unwrap();
        f.store
            .complete_activation(id, 4, b"the receipt", &suite, MatchingMode::Tap)
            .unwrap();
        let active = f.store.account(id).unwrap();
        assert_eq!(active.state, AccountState::Active);
        assert_eq!(active.epoch, 4);
        assert_eq!(active.receipt, b"the receipt");
        assert_eq!(active.matching_mode, MatchingMode::Tap);
        assert_eq!(active.state_changed_at, T0 + 30);
        assert!(
            f.store
                .complete_activation(id, 5, b"again", &suite, MatchingMode::Code)
                .is_err(),
            "only a pending account takes a receipt"
        );

        // A pending account can be wiped (a cancelled replacement).
        let other = f
            .store
            .insert_pending_account(&new_account(2, blob("s2")), &pending)
            .unwrap();
        f.store.wipe(other).unwrap();
        let wiped = f.store.account(other).unwrap();
        assert!(matches!(wiped.state, AccountState::Wiped { .. }));
        assert_eq!(wiped.sealed_seed, None);
    }

    #[test]
    fn deleting_an_account_returns_its_keys() {
        let f = fixture();
        let id = f.store.insert_account(&new_account(1, blob("s"))).unwrap();
        let removed = f.store.delete_account(id).unwrap();
        assert_eq!(removed.seal_key_alias, "acct1/seal");
        assert!(f.store.accounts().unwrap().is_empty());
    }

    #[test]
    fn a_value_changed_outside_the_app_is_reported_not_trusted() {
        let f = fixture();
        let id = f.store.insert_account(&new_account(1, blob("s"))).unwrap();
        f.store
            .connection
            .execute(
                "UPDATE account SET ocra_suite = 'OCRA-9:nonsense' WHERE id = ?1",
                [id.get()],
            )
            .unwrap();
        assert!(matches!(
            f.store.account(id),
            Err(DeviceStoreError::BadValue {
                column: "ocra_suite"
            })
        ));
        assert!(matches!(
            f.store.accounts(),
            Err(DeviceStoreError::BadValue { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_store_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let f = fixture();
        f.store.insert_account(&new_account(1, blob("s"))).unwrap();
        for name in ["device.db", "device.db-wal"] {
            let mode = std::fs::metadata(f.dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{name}: {mode:o}");
        }
    }

    #[test]
    fn debug_of_an_account_shows_no_sealed_bytes() {
        let f = fixture();
        let id = f
            .store
            .insert_account(&new_account(1, blob("SEALEDBYTES")))
            .unwrap();
        let printed = format!("{:?} {:?}", f.store.account(id).unwrap(), f.store);
        assert!(printed.contains("SealedBlob(11 bytes)"), "{printed}");
        assert!(!printed.contains("SEALEDBYTES"));
        assert!(!printed.contains("83, 69, 65")); // "SEA" as numbers
    }
}
