//! The server's storage: a [`Store`] trait narrow enough for a PostgreSQL store
//! later, and its SQLite implementation ([`SqliteStore`]).
//!
//! A store hands out transactions, nothing else: every state change happens
//! inside [`StoreExt::in_transaction`], whose work sees a [`StoreTx`] and either
//! commits as a whole (it returned `Ok`) or leaves nothing behind (it returned
//! `Err`, or the commit failed). A ceremony step — check, count, change, enqueue
//! a message, audit — is one such transaction.
//!
//! Invariants: stores are blocking (call them from `spawn_blocking` in async
//! code, or keep calls short); a row that does not parse into its checked type is
//! reported as [`StoreError::CorruptRow`], never skipped or deleted; the audit
//! trail never holds secrets.

pub mod records;
mod sqlite;

use latchkey_core::protocol::{
    EnrollmentId, ProofId, ReplacementId, RequestId, SessionId, TicketId,
};
pub use records::{
    AccountState, CodeChannel, Enrollment, EnrollmentStatus, LoginCode, LoginCodeState,
    LoginFactor, LoginSession, NoticeRecord, ProofRecord, Replacement, ReplacementKind,
    ReplacementStatus, SessionOpener, SessionStatus, Ticket, TicketKind, TicketStatus,
};
pub use sqlite::{MIGRATIONS, SqliteStore};

use crate::rules::CodeGuard;
use crate::users::{User, Username};
use latchkey_core::sql::SqlError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (I/O, corruption, a newer schema…).
    #[error(transparent)]
    Database(#[from] SqlError),
    /// A row with this key already exists; the text names the key.
    #[error("a {0} with this key already exists")]
    Conflict(&'static str),
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

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(latchkey_core::sql::classify(error))
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

    fn parse(text: &str) -> Option<Self> {
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
/// Later issues add the enrollment, session and counter operations here (and a
/// migration for their tables).
pub trait StoreTx {
    /// Adds a built-in user; [`StoreError::Conflict`] if the username is taken.
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
    fn account_state(&mut self, username: &str) -> Result<AccountState, StoreError>;

    /// Stores the verifier's state of an account.
    fn put_account_state(&mut self, username: &str, state: &AccountState)
    -> Result<(), StoreError>;

    /// An enrollment by id.
    fn enrollment(&mut self, id: &EnrollmentId) -> Result<Option<Enrollment>, StoreError>;

    /// Every enrollment of an account, oldest first.
    fn enrollments_of(&mut self, username: &str) -> Result<Vec<Enrollment>, StoreError>;

    /// Inserts or replaces an enrollment. [`StoreError::Conflict`] if it would make
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
}

/// Where the server keeps its state.
///
/// Implementations must be usable from several threads and must run each call of
/// [`Store::transaction`] as one ACID transaction: `work` returning `Ok` commits,
/// returning `Err` rolls back. `work` is called once; retrying (for example after
/// a serialization failure in PostgreSQL) is the caller's decision.
pub trait Store: Send + Sync {
    /// Runs `work` in one transaction. Use [`StoreExt::in_transaction`], which
    /// returns values and your own error type.
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn StoreTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// The convenient form of [`Store::transaction`], for every store.
pub trait StoreExt: Store {
    /// Runs `work` in one transaction and returns its value. If `work` returns
    /// `Err`, nothing it did is kept and its error is returned.
    fn in_transaction<R, E>(
        &self,
        work: impl FnOnce(&mut dyn StoreTx) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let mut work = Some(work);
        let mut outcome: Option<Result<R, E>> = None;
        let result = self.transaction(&mut |tx| {
            let work = work.take().ok_or(StoreError::RolledBack)?;
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
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Err(StoreError::RolledBack), Some(Err(error))) => Err(error),
            (Err(error), _) => Err(E::from(error)),
            (Ok(()), _) => Err(E::from(StoreError::RolledBack)),
        }
    }
}

impl<S: Store + ?Sized> StoreExt for S {}
