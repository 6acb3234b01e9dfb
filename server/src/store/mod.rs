//! The server's storage: the backend-neutral [`Store`] contract and its two
//! implementations, [`SqliteStore`] (one machine, the default) and
//! [`PostgresStore`] (several `latchkey serve` nodes on one database).
//!
//! A store hands out transactions, nothing else: every state change happens
//! inside [`StoreExt::in_transaction`], whose work sees a [`StoreTx`] and either
//! commits as a whole (it returned `Ok`) or leaves nothing behind (it returned
//! `Err`, or the commit failed). A ceremony step — check, count, change, enqueue
//! a message, audit — is one such transaction.
//!
//! The contract (docs/adr/0005-store-contract.md):
//! - **Work may run more than once.** A transaction that loses a race with a
//!   concurrent one (a serialization failure or a deadlock in PostgreSQL; SQLite,
//!   which serialises, never loses one) ends with [`StoreError::Conflict`],
//!   having kept nothing;
//!   [`StoreExt::in_transaction`] then runs the same `FnMut` again, up to
//!   [`MAX_ATTEMPTS`] times. Work must therefore do nothing outside the
//!   transaction but compute: messages are collected and sent after the commit
//!   (`verifier::Outgoing`), random ids are drawn before it.
//! - **A step that reads then writes per-account state locks the account first**
//!   ([`StoreTx::lock_account`]): its epoch and phones, push counts, code sends,
//!   the failure counters. SQLite serialises every transaction, so there it is a
//!   no-op; PostgreSQL (REPEATABLE READ) writes the account's lock row, so two
//!   transactions that lock one account never both commit unless one saw all of
//!   the other — the loser gets a `Conflict` and runs again.
//! - **Oldest first is an explicit column** (`seq`), never a backend's row id.
//! - **Errors carry no backend types**: [`StoreError`] names what went wrong.
//!
//! Invariants: stores are blocking (call them from `spawn_blocking` in async
//! code, or keep calls short); a row that does not parse into its checked type is
//! reported as [`StoreError::CorruptRow`], never skipped or deleted; the audit
//! trail never holds secrets.

pub mod outbound;
mod postgres;
pub mod records;
mod sqlite;

use latchkey_core::protocol::{
    EnrollmentId, ProofId, ReplacementId, RequestId, SessionId, TicketId,
};
pub use records::{
    AccountRecord, CodeChannel, Enrollment, EnrollmentStatus, LoginCode, LoginCodeState,
    LoginFactor, LoginSession, NoticeRecord, ProofRecord, Replacement, ReplacementKind,
    ReplacementStatus, SessionOpener, SessionStatus, Ticket, TicketKind, TicketStatus,
};

pub use outbound::{Outbound, OutboundState, OutboxCounts, VoiceCallRecord};
pub use postgres::{DEFAULT_POOL_SIZE, POSTGRES_MIGRATIONS, PostgresStore, PostgresUrl};
pub use sqlite::{MIGRATIONS, SqliteStore};

use crate::rules::CodeGuard;
use crate::users::{PasswordHash, User, Username};
use std::sync::Weak;

/// How many times [`StoreExt::in_transaction`] runs a transaction's work when
/// it keeps losing races ([`StoreError::Conflict`]) before giving up.
pub const MAX_ATTEMPTS: u32 = 64;

/// Why a store operation failed. No variant carries a backend's own types.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (I/O, a lost connection, a refused statement…); the
    /// text is the backend's, which names no secret (codes and keys are stored
    /// only as HMACs and wrapped blobs).
    #[error("database error: {0}")]
    Database(String),
    /// The database is corrupt or not a Latchkey database; it was left as it was.
    #[error("the database is corrupt or not a Latchkey database; it was left untouched")]
    Corrupt,
    /// The database's schema is newer than this code's.
    #[error("the database has schema version {found}, newer than this code's {supported}")]
    TooNew {
        /// The database's version.
        found: u32,
        /// The newest version this code knows.
        supported: u32,
    },
    /// The transaction lost a race with a concurrent one (serialization failure,
    /// deadlock) and kept nothing; running it again may succeed.
    /// [`StoreExt::in_transaction`] does so up to [`MAX_ATTEMPTS`] times.
    #[error("the transaction conflicted with a concurrent one")]
    Conflict,
    /// A row with this key already exists; the text names the key.
    #[error("a {0} with this key already exists")]
    Duplicate(&'static str),
    /// The row to change does not exist; the text names what was looked for.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// A stored value that does not parse; the text names the column. The row was
    /// left as it was.
    #[error("a stored {0} is not valid")]
    CorruptRow(&'static str),
    /// The work inside the transaction failed, so it was rolled back.
    #[error("the transaction was rolled back")]
    RolledBack,
}

/// A count or time as a database integer.
fn to_i64(value: u64, column: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::CorruptRow(column))
}

/// A database integer as a count or time; a negative one is a corrupt row.
fn to_u64(value: i64, column: &'static str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::CorruptRow(column))
}

/// The columns of the `users` table, in the order [`UserColumns`] reads them.
const USER_COLUMNS: &str = "username, password_hash, phone, email, jurisdiction, \
                            second_factor, password_reset_required, created_at";

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

impl UserColumns {
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

/// A channel a message goes out through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A push notification (FCM, APNs).
    Push,
    /// A text message.
    Sms,
    /// A voice call that reads a code.
    Voice,
    /// An e-mail.
    Email,
}

impl Channel {
    /// The channel's name: `push`, `sms`, `voice` or `email`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Push => "push",
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::Email => "email",
        }
    }

    /// The channel named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "push" => Some(Channel::Push),
            "sms" => Some(Channel::Sms),
            "voice" => Some(Channel::Voice),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }
}

/// A message as the outbox records it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// When it was sent (Unix seconds).
    pub created_at: u64,
    /// Its channel.
    pub channel: Channel,
    /// Push token, phone number or e-mail address.
    pub recipient: String,
    /// The message, as a JSON object (it may hold a code: never log it).
    pub body: serde_json::Value,
}

/// A recorded outbox message and its id (increasing).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// The row's id; later messages have larger ids.
    pub id: i64,
    /// The message.
    pub entry: OutboxEntry,
}

/// What an audit row records. New ceremonies add kinds here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditKind {
    /// A built-in user was created.
    UserCreated,
    /// A built-in user's password was changed (and any required reset cleared).
    PasswordChanged,
    /// An account entered "password reset required".
    PasswordResetRequired,
    /// An activation was started (ticket and SMS code issued).
    ActivationStarted,
    /// A phone became the account's active phone.
    EnrollmentActivated,
    /// A move to a new phone started.
    ReplacementStarted,
    /// A move to a new phone completed.
    ReplacementCompleted,
    /// A move to a new phone was cancelled.
    ReplacementCancelled,
    /// Ten PIN-bound failures disabled an enrollment.
    EnrollmentDisabled,
    /// The phone removed its account.
    EnrollmentRemoved,
    /// A PIN-bound answer was wrong (counted).
    WrongResponse,
    /// A login was approved (push or typed response).
    LoginApproved,
    /// A wrong response ended a login.
    LoginFailed,
    /// A login was declined on the phone.
    LoginDenied,
    /// The code typed on the phone did not match the login screen's.
    PossibleFraud,
    /// The user reported a login as "not me".
    FraudReported,
    /// Biometric unlock was enabled after a PIN proof.
    BiometricEnabled,
    /// The PIN was changed.
    PinChanged,
    /// The account opted out of two-factor authentication.
    OptedOut,
    /// A phone-number change was authorised by a PIN proof.
    PhoneNumberChangeAuthorised,
    /// The verified phone number was changed.
    PhoneNumberChanged,
    /// An SMS or voice login code was sent.
    LoginCodeSent,
    /// A wrong SMS or voice login code was typed (counted).
    WrongLoginCode,
    /// Five consecutive wrong codes suspended SMS and voice logins.
    SmsSuspended,
}

impl AuditKind {
    /// The kind's stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuditKind::UserCreated => "user_created",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::PasswordResetRequired => "password_reset_required",
            AuditKind::ActivationStarted => "activation_started",
            AuditKind::EnrollmentActivated => "enrollment_activated",
            AuditKind::ReplacementStarted => "replacement_started",
            AuditKind::ReplacementCompleted => "replacement_completed",
            AuditKind::ReplacementCancelled => "replacement_cancelled",
            AuditKind::EnrollmentDisabled => "enrollment_disabled",
            AuditKind::EnrollmentRemoved => "enrollment_removed",
            AuditKind::WrongResponse => "wrong_response",
            AuditKind::LoginApproved => "login_approved",
            AuditKind::LoginFailed => "login_failed",
            AuditKind::LoginDenied => "login_denied",
            AuditKind::PossibleFraud => "possible_fraud",
            AuditKind::FraudReported => "fraud_reported",
            AuditKind::BiometricEnabled => "biometric_enabled",
            AuditKind::PinChanged => "pin_changed",
            AuditKind::OptedOut => "opted_out",
            AuditKind::PhoneNumberChangeAuthorised => "phone_number_change_authorised",
            AuditKind::PhoneNumberChanged => "phone_number_changed",
            AuditKind::LoginCodeSent => "login_code_sent",
            AuditKind::WrongLoginCode => "wrong_login_code",
            AuditKind::SmsSuspended => "sms_suspended",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            AuditKind::UserCreated,
            AuditKind::PasswordChanged,
            AuditKind::PasswordResetRequired,
            AuditKind::ActivationStarted,
            AuditKind::EnrollmentActivated,
            AuditKind::ReplacementStarted,
            AuditKind::ReplacementCompleted,
            AuditKind::ReplacementCancelled,
            AuditKind::EnrollmentDisabled,
            AuditKind::EnrollmentRemoved,
            AuditKind::WrongResponse,
            AuditKind::LoginApproved,
            AuditKind::LoginFailed,
            AuditKind::LoginDenied,
            AuditKind::PossibleFraud,
            AuditKind::FraudReported,
            AuditKind::BiometricEnabled,
            AuditKind::PinChanged,
            AuditKind::OptedOut,
            AuditKind::PhoneNumberChangeAuthorised,
            AuditKind::PhoneNumberChanged,
            AuditKind::LoginCodeSent,
            AuditKind::WrongLoginCode,
            AuditKind::SmsSuspended,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// Something that happened to an account. Never put secrets in `detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// When (Unix seconds).
    pub at: u64,
    /// What.
    pub kind: AuditKind,
    /// To whom, if to an account.
    pub username: Option<Username>,
    /// Details, as a JSON object.
    pub detail: serde_json::Value,
}

/// A recorded audit event and its id (increasing).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    /// The row's id; later events have larger ids.
    pub id: i64,
    /// The event.
    pub event: AuditEvent,
}

/// The operations available inside one transaction.
///
/// "Oldest first" is the order in which records were first stored (the `seq`
/// column), whatever the backend. An operation that fails may leave the
/// transaction unusable (PostgreSQL aborts it): return its error rather than
/// carry on.
pub trait StoreTx {
    /// Locks the account for the rest of the transaction: call it before a step
    /// reads and then writes per-account state (epoch and phones, push counts,
    /// code sends, failure counters). Two transactions that lock the same
    /// account never both commit unless one saw everything the other wrote; the
    /// one that loses ends with [`StoreError::Conflict`] (and runs again). A
    /// no-op where the store serialises every transaction (SQLite).
    fn lock_account(&mut self, username: &str) -> Result<(), StoreError>;

    /// Adds a built-in user; [`StoreError::Duplicate`] if the username is taken.
    fn insert_user(&mut self, user: &User) -> Result<(), StoreError>;

    /// The built-in user with this username, if any.
    fn user(&mut self, username: &Username) -> Result<Option<User>, StoreError>;

    /// Replaces a built-in user's fields; [`StoreError::NotFound`] if absent.
    fn update_user(&mut self, user: &User) -> Result<(), StoreError>;

    /// How many built-in users exist.
    fn user_count(&mut self) -> Result<u64, StoreError>;

    /// Records an outgoing message; returns its id.
    fn append_outbox(&mut self, entry: &OutboxEntry) -> Result<i64, StoreError>;

    /// Up to `limit` outbox messages with ids greater than `after_id`, oldest first.
    fn outbox_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError>;

    /// Records an audit event; returns its id.
    fn append_audit(&mut self, event: &AuditEvent) -> Result<i64, StoreError>;

    /// Up to `limit` audit events with ids greater than `after_id`, oldest first.
    fn audit_after(&mut self, after_id: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError>;

    /// The verifier's state of an account (the default if it has none yet).
    fn account_state(&mut self, username: &str) -> Result<AccountRecord, StoreError>;

    /// Stores the verifier's state of an account.
    fn put_account_state(
        &mut self,
        username: &str,
        state: &AccountRecord,
    ) -> Result<(), StoreError>;

    /// An enrollment by id.
    fn enrollment(&mut self, id: &EnrollmentId) -> Result<Option<Enrollment>, StoreError>;

    /// Every enrollment of an account, oldest first.
    fn enrollments_of(&mut self, username: &str) -> Result<Vec<Enrollment>, StoreError>;

    /// Inserts or replaces an enrollment. [`StoreError::Duplicate`] if it would make
    /// a second active (or disabled) enrollment for its account.
    fn put_enrollment(&mut self, enrollment: &Enrollment) -> Result<(), StoreError>;

    /// A ticket by id.
    fn ticket(&mut self, id: &TicketId) -> Result<Option<Ticket>, StoreError>;

    /// Inserts or replaces a ticket.
    fn put_ticket(&mut self, ticket: &Ticket) -> Result<(), StoreError>;

    /// A login session by id.
    fn session(&mut self, id: &SessionId) -> Result<Option<LoginSession>, StoreError>;

    /// A login session by its push request id.
    fn session_by_request(
        &mut self,
        request: &RequestId,
    ) -> Result<Option<LoginSession>, StoreError>;

    /// The sessions an enrollment may still answer by push at `now`.
    fn open_sessions_for(
        &mut self,
        enrollment: &EnrollmentId,
        now: u64,
    ) -> Result<Vec<LoginSession>, StoreError>;

    /// The account's sessions still pending (undecided, not expired) at `now`,
    /// oldest first, whatever their second factor.
    fn pending_sessions_of(
        &mut self,
        username: &str,
        now: u64,
    ) -> Result<Vec<LoginSession>, StoreError>;

    /// Inserts or replaces a login session.
    fn put_session(&mut self, session: &LoginSession) -> Result<(), StoreError>;

    /// A proof challenge by id.
    fn proof(&mut self, id: &ProofId) -> Result<Option<ProofRecord>, StoreError>;

    /// Inserts or replaces a proof challenge.
    fn put_proof(&mut self, proof: &ProofRecord) -> Result<(), StoreError>;

    /// A replacement by id.
    fn replacement(&mut self, id: &ReplacementId) -> Result<Option<Replacement>, StoreError>;

    /// The replacements of an account, oldest first.
    fn replacements_of(&mut self, username: &str) -> Result<Vec<Replacement>, StoreError>;

    /// Every pending replacement of any account.
    fn pending_replacements(&mut self) -> Result<Vec<Replacement>, StoreError>;

    /// Inserts or replaces a replacement.
    fn put_replacement(&mut self, replacement: &Replacement) -> Result<(), StoreError>;

    /// Queues a signed notice for a phone.
    fn add_notice(&mut self, notice: &NoticeRecord) -> Result<(), StoreError>;

    /// The notices for an enrollment that are still valid at `now`, oldest first.
    fn notices_for(
        &mut self,
        enrollment: &EnrollmentId,
        now: u64,
    ) -> Result<Vec<NoticeRecord>, StoreError>;

    /// Records a push sent to an account.
    fn add_push(&mut self, username: &str, at: u64) -> Result<(), StoreError>;

    /// The times of the pushes sent to an account at or after `since`.
    fn pushes_since(&mut self, username: &str, since: u64) -> Result<Vec<u64>, StoreError>;

    /// The SMS/voice code of a login session, if one was sent.
    fn login_code(&mut self, session: &SessionId) -> Result<Option<LoginCode>, StoreError>;

    /// The account's codes that are still live (whatever their expiry).
    fn live_login_codes_of(&mut self, username: &str) -> Result<Vec<LoginCode>, StoreError>;

    /// Inserts or replaces the code of a session.
    fn put_login_code(&mut self, code: &LoginCode) -> Result<(), StoreError>;

    /// Records a code sent to an account.
    fn add_code_send(
        &mut self,
        username: &str,
        channel: CodeChannel,
        at: u64,
    ) -> Result<(), StoreError>;

    /// The times of the codes sent to an account at or after `since`.
    fn code_sends_since(&mut self, username: &str, since: u64) -> Result<Vec<u64>, StoreError>;

    /// The account's wrong-code counter and suspension (the default if none).
    fn code_guard(&mut self, username: &str) -> Result<CodeGuard, StoreError>;

    /// Stores the account's wrong-code counter and suspension.
    fn put_code_guard(&mut self, username: &str, guard: &CodeGuard) -> Result<(), StoreError>;

    /// Adds a message to the transactional outbox (its `id` is ignored); returns
    /// its id. [`StoreError::Duplicate`] if its key is taken.
    fn insert_outbound(&mut self, row: &Outbound) -> Result<i64, StoreError>;

    /// An outbox message by id.
    fn outbound(&mut self, id: i64) -> Result<Option<Outbound>, StoreError>;

    /// Up to `limit` messages due at `now`, oldest first: pending ones whose
    /// `next_attempt_at` has come, and sending ones whose lease has lapsed.
    fn due_outbound(&mut self, now: u64, limit: u32) -> Result<Vec<Outbound>, StoreError>;

    /// Stores a message's state, attempts, times, error and sealed body (by id);
    /// [`StoreError::NotFound`] if absent.
    fn put_outbound(&mut self, row: &Outbound) -> Result<(), StoreError>;

    /// Up to `limit` messages with ids greater than `after_id`, oldest first;
    /// only those in `state` if given.
    fn outbound_after(
        &mut self,
        after_id: i64,
        state: Option<OutboundState>,
        limit: u32,
    ) -> Result<Vec<Outbound>, StoreError>;

    /// How many messages are pending (or sending), sent and dead.
    fn outbox_counts(&mut self) -> Result<OutboxCounts, StoreError>;

    /// Keeps a placed voice call's sealed code until its keypress.
    /// [`StoreError::Duplicate`] if a call with this id is already kept.
    fn put_voice_call(&mut self, call: &VoiceCallRecord) -> Result<(), StoreError>;

    /// Takes (reads and deletes) the voice call whose id hashes to `call`: a
    /// second take of the same call finds nothing.
    fn take_voice_call(&mut self, call: &[u8; 32]) -> Result<Option<VoiceCallRecord>, StoreError>;

    /// Deletes the voice calls placed before `before` (their wait is over);
    /// returns how many.
    fn forget_voice_calls_before(&mut self, before: u64) -> Result<u64, StoreError>;
}

/// Where the server keeps its state.
///
/// Implementations must be usable from several threads and must run each call of
/// [`Store::transaction`] as one ACID transaction: `work` returning `Ok` commits,
/// returning `Err` rolls back. When the attempt lost a race with a concurrent
/// transaction — an operation inside it, or the commit, failed with a
/// serialization failure or a deadlock — it returns
/// [`StoreError::Conflict`], whatever `work` returned, and keeps nothing. It
/// calls `work` once; [`StoreExt::in_transaction`] runs it again after a
/// `Conflict`.
pub trait Store: Send + Sync {
    /// Runs `work` in one transaction. Use [`StoreExt::in_transaction`], which
    /// returns values and your own error type, and retries conflicts.
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn StoreTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// From now on, wakes every waiter of `decisions` whenever any node sharing
    /// this store commits a decided login session, so that long-polls on this
    /// node see decisions made on others promptly. Listening has begun when it
    /// returns; it stops once `decisions` is dropped. The default does nothing:
    /// a store that serves one node only sees decisions made where they are
    /// woken. Blocking.
    fn watch_decisions(&self, decisions: Weak<tokio::sync::Notify>) -> Result<(), StoreError> {
        drop(decisions);
        Ok(())
    }

    /// Runs `work` unless another node sharing this store is running the job
    /// named `job` right now; returns whether it ran. For periodic jobs that
    /// every node schedules but one at a time should do (the lost-phone sweep);
    /// their transactions stay correct if two run anyway. The default runs it: a
    /// store that serves one node has no other node to wait for.
    fn run_alone(&self, job: &str, work: &mut dyn FnMut()) -> Result<bool, StoreError> {
        let _ = job;
        work();
        Ok(true)
    }

    /// How many durable commits this store has made since it was opened: the
    /// successful commits of transactions that changed something (each one
    /// fsync of the database's log, on SQLite with `synchronous=FULL` and on
    /// PostgreSQL with `synchronous_commit=on`). SQLite's group commit makes one
    /// for many concurrent transactions; read-only transactions make none. For
    /// metrics and `latchkey bench load` ("fsyncs per flow"). The default, for a
    /// store that does not count, is 0.
    fn durable_commits(&self) -> u64 {
        0
    }
}

/// The convenient form of [`Store::transaction`], for every store.
pub trait StoreExt: Store {
    /// Runs `work` in one transaction and returns its value. If `work` returns
    /// `Err`, nothing it did is kept and its error is returned. If the
    /// transaction conflicted with a concurrent one, `work` runs again in a new
    /// transaction (after a short random pause), up to [`MAX_ATTEMPTS`] times in
    /// all; then the error is [`StoreError::Conflict`]. `work` must therefore
    /// have no effect outside the transaction.
    fn in_transaction<R, E>(
        &self,
        mut work: impl FnMut(&mut dyn StoreTx) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let mut attempt = 1;
        loop {
            let mut outcome: Option<Result<R, E>> = None;
            let result = self.transaction(&mut |tx| {
                outcome = None;
                match work(tx) {
                    Ok(value) => {
                        outcome = Some(Ok(value));
                        Ok(())
                    }
                    Err(error) => {
                        outcome = Some(Err(error));
                        Err(StoreError::RolledBack)
                    }
                }
            });
            match (result, outcome) {
                (Ok(()), Some(Ok(value))) => return Ok(value),
                (Err(StoreError::Conflict), _) if attempt < MAX_ATTEMPTS => {
                    pause_before_retry(attempt);
                    attempt += 1;
                }
                (Err(StoreError::RolledBack), Some(Err(error))) => return Err(error),
                (Err(error), _) => return Err(E::from(error)),
                (Ok(()), _) => return Err(E::from(StoreError::RolledBack)),
            }
        }
    }

    /// How many outbox messages are pending, sent and dead (one short
    /// transaction; for metrics and `latchkey outbox`).
    fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self.in_transaction(|tx| tx.outbox_counts())
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// A random pause of up to 2^attempt milliseconds (at most 64), so that
/// transactions that just conflicted do not meet again at once.
fn pause_before_retry(attempt: u32) {
    use ring::rand::SecureRandom;
    let ceiling = 1u64 << attempt.min(6);
    let mut byte = [0u8; 1];
    let random = ring::rand::SystemRandom::new()
        .fill(&mut byte)
        .map(|()| u64::from(byte[0]))
        .unwrap_or(128);
    let millis = random * ceiling / 256;
    std::thread::sleep(std::time::Duration::from_millis(millis));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A store whose first `conflicts` transactions lose a race after running
    /// their work (on the in-memory SQLite store underneath).
    struct Conflicting {
        inner: SqliteStore,
        conflicts: AtomicU32,
    }

    impl Store for Conflicting {
        fn transaction(
            &self,
            work: &mut dyn FnMut(&mut dyn StoreTx) -> Result<(), StoreError>,
        ) -> Result<(), StoreError> {
            let lose = self
                .conflicts
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            self.inner.transaction(&mut |tx| {
                work(tx)?;
                if lose {
                    Err(StoreError::Conflict)
                } else {
                    Ok(())
                }
            })
        }
    }

    fn conflicting(conflicts: u32) -> Conflicting {
        Conflicting {
            inner: SqliteStore::open_in_memory().unwrap(),
            conflicts: AtomicU32::new(conflicts),
        }
    }

    fn event() -> AuditEvent {
        AuditEvent {
            at: 1,
            kind: AuditKind::UserCreated,
            username: None,
            detail: serde_json::json!({}),
        }
    }

    #[test]
    fn a_transaction_that_conflicts_runs_again_and_keeps_only_the_last_attempt() {
        let store = conflicting(3);
        let mut runs = 0;
        let id = store
            .in_transaction(|tx| {
                runs += 1;
                tx.append_audit(&event())
            })
            .unwrap();
        assert_eq!(runs, 4);
        let rows = store.in_transaction(|tx| tx.audit_after(0, 10)).unwrap();
        assert_eq!(rows.len(), 1, "the three lost attempts left nothing");
        assert_eq!(rows[0].id, id);
    }

    #[test]
    fn a_transaction_that_keeps_conflicting_gives_up_with_a_conflict() {
        let store = conflicting(MAX_ATTEMPTS);
        let mut runs = 0;
        let outcome = store.in_transaction(|tx| {
            runs += 1;
            tx.append_audit(&event())
        });
        assert!(matches!(outcome, Err(StoreError::Conflict)), "{outcome:?}");
        assert_eq!(runs, MAX_ATTEMPTS);
        let rows = store.in_transaction(|tx| tx.audit_after(0, 10)).unwrap();
        assert!(rows.is_empty());
    }

    #[test]
    fn an_error_of_the_work_is_returned_without_running_it_again() {
        let store = conflicting(0);
        let mut runs = 0;
        let outcome: Result<(), StoreError> = store.in_transaction(|tx| {
            runs += 1;
            tx.append_audit(&event())?;
            Err(StoreError::NotFound("anything"))
        });
        assert!(matches!(outcome, Err(StoreError::NotFound("anything"))));
        assert_eq!(runs, 1);
    }
}
