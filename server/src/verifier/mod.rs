//! The verifier: every ceremony of `docs/PROTOCOL.md` §6 on the server side.
//!
//! A ceremony step is one store transaction: it checks the phone's envelope
//! (purpose, signature under the enrollment's device key, server, enrollment,
//! epoch, freshness), then the state (exists, not expired, not decided, the
//! counter's delay), counts a PIN-bound attempt *in the same transaction* before
//! verifying it, and applies the outcome. Every step that reads then writes an
//! account's state first locks the account ([`StoreTx::lock_account`]), so
//! concurrent attempts see each other on every store: the counter always equals
//! the number of attempts verified, and N parallel copies of one right answer
//! succeed once. A step's work may run again after a conflict (the store's
//! contract), so it draws random ids before the transaction and sends nothing
//! inside it.
//! Counting and verifying in one transaction is equivalent to "counted before
//! verified": the caller learns the verdict only after the commit, and a crash
//! before it leaves neither the count nor any effect.
//!
//! Messages to users (push, SMS, voice, e-mail) are collected during the
//! transaction and written into the outbox in that same transaction
//! (`Verifier::ceremony`, [`crate::dispatch`]); they are sent after the commit,
//! so a crash in between delays a message, never loses it.
//!
//! Invariants: secrets (`k_user`, ticket keys) are unwrapped only for the one
//! operation that needs them and never logged; every signed message the server
//! emits names this server, the enrollment, its epoch and a validity window.

mod account;
mod activation;
mod login;
mod phone;
mod sms;

pub use account::TwoFactorState;
pub use activation::{ActivationOutcome, ActivationStart, ReplaceMode};
pub use login::{OpenedSession, PushDisposition, SessionView};
pub use phone::ProofOutcome;
pub use sms::{CodeDisposition, CodeSent};

use crate::config::ServerConfig;
use crate::dispatch::{DispatchError, Dispatcher};
use crate::outbox::{Channels, Email, MessageText, PushMessage, SecretText, VoiceCall};
use crate::policy::PolicyTable;
use crate::rules::{CodeRefusal, VoiceRefusal};
use crate::secrets::{SecretsError, ServerKeys};
use crate::store::{
    AuditEvent, AuditKind, Enrollment, EnrollmentStatus, NoticeRecord, Store, StoreError, StoreExt,
    StoreTx,
};
use crate::users::{EmailAddress, PhoneNumber, User, Username};
use latchkey_core::clock::Clock;
use latchkey_core::protocol::envelope::{open_device, peek_device_header, sign_server};
use latchkey_core::protocol::{
    DeviceExpectation, DeviceHeader, DevicePublicKey, EnrollmentId, Message, Notice, NoticeKind,
    ProtocolError, ServerFingerprint, ServerHeader, Signed, Signer, Verified,
};
use latchkey_core::secret::SecretBytes;
use std::sync::Arc;

pub use latchkey_core::protocol::DEVICE_MAX_SKEW;
/// How long a signed revocation notice stays deliverable (30 days).
pub const REVOCATION_NOTICE_SECS: u64 = 30 * 86_400;
/// How long other notices stay deliverable (7 days).
pub const NOTICE_SECS: u64 = 7 * 86_400;
/// How long a sync answer, receipt or proof challenge is valid (5 minutes).
pub const SHORT_VALIDITY: u64 = 300;
/// How long a rekey ticket is valid (10 minutes).
pub const REKEY_TICKET_SECS: u64 = 600;

/// Why the verifier refused a request. The HTTP layer maps each to a status and
/// a code; the detail goes to the log, not to the caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// The phone's message failed a protocol check (signature, server, epoch…).
    #[error("the message was refused: {0}")]
    Protocol(#[from] ProtocolError),
    /// No enrollment with this id (or it cannot sign anything any more).
    #[error("unknown enrollment")]
    UnknownEnrollment,
    /// The enrollment has ended (replaced, removed or cancelled). Answered
    /// without saying so: only a signed notice (in the sync answer) may tell a
    /// phone it was revoked.
    #[error("this phone cannot do this now; sync to learn why")]
    EnrollmentRevoked,
    /// The enrollment is waiting for approval or its hold period.
    #[error("the enrollment is not active yet")]
    EnrollmentPending,
    /// Ten PIN-bound failures: disabled until replaced.
    #[error("the enrollment is disabled until the phone is replaced")]
    EnrollmentDisabled,
    /// No such account.
    #[error("unknown account")]
    UnknownAccount,
    /// The account has no active phone.
    #[error("the account has no active phone")]
    NoActivePhone,
    /// The account already has a phone and the caller did not say how to replace it.
    #[error(
        "the account already has a phone: start a replacement (approve_on_old_phone or lost_phone)"
    )]
    AlreadyEnrolled,
    /// A disabled phone cannot approve its own replacement.
    #[error("a disabled phone cannot approve its replacement: use the lost-phone path")]
    DisabledCannotApprove,
    /// Too many activation starts.
    #[error("too many activation attempts; try again later")]
    RateLimited {
        /// When the next start is allowed.
        retry_after: u64,
    },
    /// No such ticket.
    #[error("unknown ticket")]
    UnknownTicket,
    /// The ticket expired, was used, or was burned by wrong codes.
    #[error("the ticket has ended")]
    TicketEnded,
    /// A wrong activation code.
    #[error("wrong activation code")]
    WrongActivationCode {
        /// Tries left before the ticket burns.
        tries_left: u32,
    },
    /// A production server refuses phones with the software keystore.
    #[error("this server does not accept phones with a software keystore")]
    SoftwareKeystoreRefused,
    /// No such login request for this enrollment.
    #[error("unknown request")]
    UnknownRequest,
    /// No such login session.
    #[error("unknown session")]
    UnknownSession,
    /// The request, session, proof or ticket expired.
    #[error("expired")]
    Expired,
    /// The request or session was already decided.
    #[error("already decided")]
    AlreadyDecided,
    /// The code typed on the phone is not the login's challenge: the login ended
    /// and was reported as possible fraud.
    #[error("the code does not match the login screen's; the login was stopped")]
    CodeMismatch,
    /// A wrong PIN-bound answer (counted).
    #[error("wrong response")]
    WrongResponse {
        /// Attempts left before the enrollment is disabled.
        attempts_left: u64,
        /// When the next attempt is allowed, if delayed.
        retry_after: Option<u64>,
        /// Whether the account now needs a password reset.
        password_reset_required: bool,
    },
    /// An attempt during a delay (not counted).
    #[error("too many wrong answers; wait before trying again")]
    AttemptDelayed {
        /// When the next attempt is allowed.
        retry_after: u64,
    },
    /// A replayed message (sync, rekey request).
    #[error("replayed message")]
    Replayed,
    /// No such proof challenge.
    #[error("unknown proof challenge")]
    UnknownProof,
    /// The proof challenge was already used.
    #[error("the proof challenge was already used")]
    ProofSpent,
    /// No such replacement, or not one this phone or link may act on.
    #[error("unknown replacement")]
    UnknownReplacement,
    /// The replacement already completed or was cancelled.
    #[error("the replacement has already ended")]
    ReplacementEnded,
    /// A lost-phone move of this account is waiting out its hold: no other
    /// activation starts or completes until it ends (PROTOCOL §6.5).
    #[error(
        "a move to a new phone is already waiting out its hold for this account: cancel it from \
         the old phone or with the link in the e-mail first"
    )]
    ReplacementPending,
    /// The account needs a password reset first.
    #[error("the account needs a password reset")]
    PasswordResetRequired,
    /// The policy forbids this (the text cites the rule).
    #[error("{0}")]
    PolicyRefused(String),
    /// The account's policy makes two-factor authentication mandatory: it cannot
    /// opt out (a regulated account; the citation names the rule).
    #[error("Two-factor authentication cannot be turned off for this account: {citation}")]
    TwoFactorMandatory {
        /// The rule, as the policy table cites it.
        citation: String,
    },
    /// The account's second factor is not SMS: no SMS or voice codes.
    #[error("SMS and voice codes are not this account's second factor")]
    SmsNotEnabled,
    /// The account has an active Latchkey phone: SMS and voice codes are never
    /// offered then.
    #[error(
        "this account authenticates with its Latchkey phone: approve the notification, or type \
         the response the app generates; SMS and voice codes are not offered"
    )]
    PhoneActive,
    /// No code may be sent now (too soon, too many, the daily cap, or SMS/voice
    /// logins are suspended).
    #[error("{}", code_refusal_text(.0))]
    CodeRefused(CodeRefusal),
    /// Voice callback is not offered to this client (too old, or no version stated).
    #[error("{0}")]
    VoiceNotOffered(VoiceRefusal),
    /// The session has no live code (none sent, or a newer one replaced it).
    #[error("no security code is waiting for this login: request a new code")]
    NoCode,
    /// A wrong SMS or voice code (counted per account).
    #[error("wrong security code")]
    WrongLoginCode {
        /// Wrong codes left before SMS and voice logins are suspended (0 once they are).
        attempts_left: u32,
        /// When the suspension this code started ends, if it started one.
        suspended_until: Option<u64>,
        /// Whether that suspension was one too many within the window: the
        /// account now needs a password reset.
        password_reset_required: bool,
    },
    /// Changing the verified phone number of an account with a phone needs a fresh
    /// PIN proof (`ChangePhoneNumber`) from that phone first.
    #[error(
        "changing the phone number counts as binding a new authenticator: confirm it on the \
         Latchkey phone with the PIN first"
    )]
    StepUpRequired,
    /// The request is well-formed but not acceptable; the text says why.
    #[error("{0}")]
    BadRequest(&'static str),
    /// The store failed.
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    /// The key holder failed.
    #[error("key error: {0}")]
    Keys(#[from] SecretsError),
}

/// A message to send once the transaction has committed.
#[derive(Debug)]
pub enum Outgoing {
    /// A push notification to an enrollment's phone (the enrollment whose push
    /// registration the dispatcher marks refused if the push service says the
    /// token is no longer valid).
    Push(EnrollmentId, PushMessage),
    /// An SMS.
    Sms(PhoneNumber, MessageText),
    /// An e-mail.
    Mail(EmailAddress, Email),
    /// A voice call that reads a code after the callee presses a key.
    Voice(PhoneNumber, VoiceCall),
}

/// A ceremony step's value that may carry messages to send after the commit.
pub(crate) trait Queued {
    /// Takes the messages out of the value.
    fn take_outgoing(&mut self) -> Vec<Outgoing>;
}

impl Queued for Vec<Outgoing> {
    fn take_outgoing(&mut self) -> Vec<Outgoing> {
        std::mem::take(self)
    }
}

impl<R> Queued for (R, Vec<Outgoing>) {
    fn take_outgoing(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.1)
    }
}

impl<T: Queued, E> Queued for Result<T, E> {
    fn take_outgoing(&mut self) -> Vec<Outgoing> {
        match self {
            Ok(value) => value.take_outgoing(),
            Err(_) => Vec::new(),
        }
    }
}

/// A failure to put messages into the outbox, as the verifier reports it.
fn dispatch_error(error: DispatchError) -> VerifierError {
    match error {
        DispatchError::Store(error) => VerifierError::Store(error),
        DispatchError::Keys(error) => VerifierError::Keys(error),
        DispatchError::Refused(text) => VerifierError::BadRequest(text),
    }
}

/// The words for a refused code send.
fn code_refusal_text(refusal: &CodeRefusal) -> &'static str {
    match refusal {
        CodeRefusal::TooSoon { .. } => {
            "a new code was sent less than 2 minutes ago: wait for it, then request another"
        }
        CodeRefusal::TooMany { .. } => {
            "too many codes were sent in the last 15 minutes: try again later"
        }
        CodeRefusal::DailyCap { .. } => {
            "the daily number of codes for this account is reached: try again later"
        }
        CodeRefusal::Suspended { .. } => {
            "too many wrong codes: SMS and voice logins are suspended for an hour"
        }
    }
}

/// The verifier. Cheap to clone; blocking (call it off the async executor).
#[derive(Clone)]
pub struct Verifier {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: Arc<dyn ServerKeys>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) policy: Arc<PolicyTable>,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

/// Signs with the server's key holder.
struct KeySigner<'a>(&'a dyn ServerKeys);

impl Signer for KeySigner<'_> {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        // A key-service failure surfaces as "could not sign"; the store rolls back.
        self.0.sign(message).map_err(|_| ProtocolError::Encryption)
    }
}

/// The AAD binding a wrapped `k_user` to its enrollment.
pub(crate) fn k_user_aad(enrollment: &EnrollmentId) -> Vec<u8> {
    [b"latchkey/v1/k_user".as_slice(), enrollment.as_bytes()].concat()
}

/// The AAD binding a wrapped ticket key to its ticket.
pub(crate) fn ticket_aad(ticket: &latchkey_core::protocol::TicketId) -> Vec<u8> {
    [b"latchkey/v1/ticket".as_slice(), ticket.as_bytes()].concat()
}

impl Verifier {
    /// A verifier over the server's parts.
    pub fn new(
        config: Arc<ServerConfig>,
        clock: Arc<dyn Clock>,
        keys: Arc<dyn ServerKeys>,
        store: Arc<dyn Store>,
        policy: Arc<PolicyTable>,
        channels: Channels,
    ) -> Self {
        let dispatcher = Dispatcher::new(store.clone(), clock.clone(), keys.clone(), channels);
        Self {
            config,
            clock,
            keys,
            store,
            policy,
            dispatcher,
            metrics: Arc::default(),
        }
    }

    /// The same verifier, counting its flows and failures in `metrics`.
    pub fn with_metrics(self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        Self { metrics, ..self }
    }

    /// The dispatcher sending this verifier's messages (its loop runs in
    /// `latchkey serve`; tests call [`Dispatcher::run_due`]).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// Runs a ceremony step in one transaction, as [`StoreExt::in_transaction`],
    /// and puts the messages it returns into the outbox *in that transaction*
    /// (docs/ARCHITECTURE.md, "The dispatcher"); after the commit they are tried
    /// at once. The value comes back with its messages taken out.
    pub(crate) fn ceremony<R: Queued>(
        &self,
        mut work: impl FnMut(&mut dyn StoreTx) -> Result<R, VerifierError>,
    ) -> Result<R, VerifierError> {
        let (value, ids) = self.store.in_transaction(|tx| {
            let mut value = work(tx)?;
            let messages = value.take_outgoing();
            let ids = self
                .dispatcher
                .enqueue(tx, &messages)
                .map_err(dispatch_error)?;
            Ok::<_, VerifierError>((value, ids))
        })?;
        self.dispatcher.send_now(&ids);
        Ok(value)
    }

    /// This server's fingerprint.
    pub fn fingerprint(&self) -> ServerFingerprint {
        self.keys.public_key().fingerprint()
    }

    /// Signs a server message about `enrollment` at `epoch`, valid `lifetime` seconds.
    pub(crate) fn sign<M: Message>(
        &self,
        enrollment: EnrollmentId,
        epoch: u64,
        lifetime: u64,
        message: &M,
    ) -> Result<Signed, VerifierError> {
        let now = self.clock.now();
        let header = ServerHeader {
            server: self.fingerprint(),
            enrollment,
            epoch,
            issued_at: now,
            expires_at: now.saturating_add(lifetime),
        };
        Ok(sign_server(
            &header,
            message,
            &KeySigner(self.keys.as_ref()),
        )?)
    }

    /// Checks a phone-signed message against the enrollment it names, inside a
    /// transaction: purpose, signature, server, enrollment, epoch, freshness.
    pub(crate) fn open_phone_message<M: Message>(
        &self,
        tx: &mut dyn StoreTx,
        signed: &Signed,
    ) -> Result<(Verified<DeviceHeader, M>, Enrollment), VerifierError> {
        self.open_phone_message_at(tx, signed, false)
    }

    /// As [`Self::open_phone_message`]; with `pending_epoch`, a message at epoch 0
    /// is also accepted from an enrollment whose phone has not yet signed at its
    /// own epoch: a phone whose activation completed later (approval, hold)
    /// syncs at epoch 0 until its sync answer brings the receipt with its epoch
    /// (PROTOCOL §6.4, §6.5). The first message verified at the enrollment's own
    /// epoch closes epoch 0 for it for good.
    pub(crate) fn open_phone_message_at<M: Message>(
        &self,
        tx: &mut dyn StoreTx,
        signed: &Signed,
        pending_epoch: bool,
    ) -> Result<(Verified<DeviceHeader, M>, Enrollment), VerifierError> {
        let claimed = peek_device_header::<M>(signed)?;
        let mut enrollment = tx
            .enrollment(&claimed.enrollment)?
            .ok_or(VerifierError::UnknownEnrollment)?;
        // Every phone step may change its account's state (counters, epoch,
        // nonces, sessions): it holds the account's lock (docs/adr/0005).
        tx.lock_account(&enrollment.username)?;
        let key = DevicePublicKey::from_slice(&enrollment.device_key)
            .map_err(|_| StoreError::CorruptRow("device key"))?;
        let epoch_zero_open = pending_epoch && !enrollment.epoch_confirmed;
        let expect = DeviceExpectation {
            server: self.fingerprint(),
            enrollment: enrollment.id,
            epoch: if epoch_zero_open && claimed.epoch == 0 {
                0
            } else {
                enrollment.epoch
            },
            now: self.clock.now(),
            max_skew: DEVICE_MAX_SKEW,
        };
        let verified = open_device::<M>(signed, &key, &expect)?;
        if enrollment.epoch > 0
            && verified.header().epoch == enrollment.epoch
            && !enrollment.epoch_confirmed
        {
            enrollment.epoch_confirmed = true;
            tx.put_enrollment(&enrollment)?;
        }
        Ok((verified, enrollment))
    }

    /// Refuses an enrollment that cannot authenticate (pending, disabled, revoked).
    pub(crate) fn require_authenticating(enrollment: &Enrollment) -> Result<(), VerifierError> {
        match enrollment.status {
            EnrollmentStatus::Active => Ok(()),
            EnrollmentStatus::Pending => Err(VerifierError::EnrollmentPending),
            EnrollmentStatus::Disabled => Err(VerifierError::EnrollmentDisabled),
            EnrollmentStatus::Revoked => Err(VerifierError::EnrollmentRevoked),
        }
    }

    /// Queues a signed notice for an enrollment.
    pub(crate) fn queue_notice(
        &self,
        tx: &mut dyn StoreTx,
        enrollment: &Enrollment,
        notice: &Notice,
    ) -> Result<Signed, VerifierError> {
        let lifetime = if notice.kind == NoticeKind::Revoked {
            REVOCATION_NOTICE_SECS
        } else {
            NOTICE_SECS
        };
        let signed = self.sign(enrollment.id, enrollment.epoch, lifetime, notice)?;
        tx.add_notice(&NoticeRecord {
            enrollment: enrollment.id,
            notice: signed.clone(),
            expires_at: self.clock.now().saturating_add(lifetime),
        })?;
        Ok(signed)
    }

    /// A generic push to an enrollment's phone, if it has a token.
    pub(crate) fn push_to(
        enrollment: &Enrollment,
        alert: &str,
        payload: serde_json::Value,
    ) -> Option<Outgoing> {
        enrollment.push_token.as_ref().map(|token| {
            Outgoing::Push(
                enrollment.id,
                PushMessage {
                    token: token.clone(),
                    platform: enrollment.platform,
                    alert: alert.to_owned(),
                    payload: payload.to_string(),
                },
            )
        })
    }

    /// The account's user record.
    pub(crate) fn user(tx: &mut dyn StoreTx, username: &str) -> Result<User, VerifierError> {
        let username: Username = username
            .parse()
            .map_err(|_| VerifierError::UnknownAccount)?;
        tx.user(&username)?.ok_or(VerifierError::UnknownAccount)
    }

    /// Records an audit event.
    pub(crate) fn audit(
        &self,
        tx: &mut dyn StoreTx,
        kind: AuditKind,
        username: &str,
        detail: serde_json::Value,
    ) -> Result<(), VerifierError> {
        tx.append_audit(&AuditEvent {
            at: self.clock.now(),
            kind,
            username: username.parse().ok(),
            detail,
        })?;
        Ok(())
    }

    /// Unwraps an enrollment's `k_user` for one verification.
    pub(crate) fn k_user(&self, enrollment: &Enrollment) -> Result<SecretBytes, VerifierError> {
        Ok(self
            .keys
            .unwrap(&enrollment.k_user_wrapped, &k_user_aad(&enrollment.id))?)
    }

    /// The SMS telling the user something happened, if the account has a number.
    pub(crate) fn sms(user: &User, text: &str) -> Option<Outgoing> {
        MessageText::plain(text)
            .ok()
            .map(|t| Outgoing::Sms(user.phone.clone(), t))
    }

    /// An e-mail to the user.
    pub(crate) fn mail(user: &User, subject: &str, body: MessageText) -> Outgoing {
        Outgoing::Mail(
            user.email.clone(),
            Email {
                subject: subject.to_owned(),
                body,
            },
        )
    }

    /// An SMS carrying a secret code (`{secret}` in the template).
    pub(crate) fn sms_with_code(user: &User, template: &str, code: &str) -> Option<Outgoing> {
        MessageText::with_secret(template, SecretText::new(code.to_owned()))
            .ok()
            .map(|t| Outgoing::Sms(user.phone.clone(), t))
    }
}
