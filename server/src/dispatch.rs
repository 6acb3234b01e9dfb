//! The dispatcher: the transactional outbox's sending side (docs/ARCHITECTURE.md,
//! "The dispatcher").
//!
//! A ceremony's messages become `outbound` rows *in the ceremony's own
//! transaction* ([`Dispatcher::enqueue`]), so a crash after the commit loses no
//! message. Right after the commit the node tries each at once
//! ([`Dispatcher::send_now`], the inline first attempt); what fails for a reason
//! that may pass is retried by the background loop ([`Dispatcher::run_due`],
//! every [`TICK_SECS`] on one node at a time through [`Store::run_alone`]) with
//! exponential backoff and jitter ([`FIRST_RETRY_SECS`] doubling, capped at
//! [`MAX_RETRY_SECS`]), until the provider accepts it (`sent`), refuses it, it
//! expires, or [`MAX_SEND_ATTEMPTS`] attempts failed (`dead`, listed by
//! `latchkey outbox --dead`).
//!
//! Invariants: an attempt first *claims* its row in a transaction (state
//! `sending`, a lease of [`LEASE_SECS`], the attempt counted), so two nodes or
//! two loops never send one message at the same time; the message (recipient,
//! code, token) is only in the row's sealed blob, an AEAD under the server's
//! wrapping key with AAD = key ‖ channel, erased when the row is sent or dead;
//! the row's key is sent as the provider's idempotency key where the provider
//! takes one. The one gap: a crash after the provider accepted a message and
//! before its row is marked sent sends it again when the lease lapses
//! (at-least-once); providers that take the idempotency key drop the duplicate.

use crate::outbox::{
    Channels, Email, MessageText, OutboundError, PushMessage, SecretText, VoiceCall,
};
use crate::secrets::{SecretsError, ServerKeys};
use crate::store::{Channel, Outbound, OutboundState, Store, StoreError, StoreExt, StoreTx};
use crate::users::{EmailAddress, PhoneNumber};
use crate::verifier::Outgoing;
use latchkey_core::clock::Clock;
use latchkey_core::protocol::{EnrollmentId, Platform};
use std::sync::Arc;
use zeroize::Zeroizing;

/// How long a claimed message is held by its attempt before another may take it.
pub const LEASE_SECS: u64 = 60;
/// The pause after the first failed attempt; each further failure doubles it.
pub const FIRST_RETRY_SECS: u64 = 2;
/// The longest pause between two attempts.
pub const MAX_RETRY_SECS: u64 = 300;
/// Attempts after which a message that keeps failing is given up (dead).
pub const MAX_SEND_ATTEMPTS: u32 = 10;
/// How often the background loop looks for due messages.
pub const TICK_SECS: u64 = 1;
/// How long a push may still be worth delivering (a login request lives 2 minutes;
/// a notice is also in the phone's next sync).
pub const PUSH_LIFETIME_SECS: u64 = 10 * 60;
/// How long a message carrying a code or a token may still be delivered.
pub const SECRET_LIFETIME_SECS: u64 = 10 * 60;
/// How long any other message (a warning to the user) may still be delivered.
pub const NOTICE_LIFETIME_SECS: u64 = 24 * 3600;
/// How many due messages one pass of the loop claims at a time.
const BATCH: u32 = 32;
/// The job name of the background loop for [`Store::run_alone`].
pub const DISPATCH_JOB: &str = "dispatch";

/// Why a message could not be put into the outbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening the message failed.
    #[error(transparent)]
    Keys(#[from] SecretsError),
    /// No message with this id, or not one an operator may retry.
    #[error("{0}")]
    Refused(&'static str),
}

/// The message as sealed in its row. Zeroized after use (the JSON text).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Sealed {
    Push {
        token: String,
        platform: u8,
        alert: String,
        payload: String,
        /// The enrollment whose token this is (absent in rows written before
        /// it was recorded).
        #[serde(default)]
        enrollment: Option<String>,
    },
    Sms {
        to: String,
        template: String,
        secret: Option<String>,
    },
    Email {
        to: String,
        subject: String,
        template: String,
        secret: Option<String>,
    },
    Voice {
        to: String,
        code: String,
        press_key_first: bool,
    },
}

impl Drop for Sealed {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        match self {
            Sealed::Push { token, .. } => token.zeroize(),
            Sealed::Sms { to, secret, .. } | Sealed::Email { to, secret, .. } => {
                to.zeroize();
                secret.zeroize();
            }
            Sealed::Voice { to, code, .. } => {
                to.zeroize();
                code.zeroize();
            }
        }
    }
}

/// A push token shortened for operators: its first 8 characters.
fn masked_token(token: &str) -> String {
    let head: String = token.chars().take(8).collect();
    format!("{head}…")
}

/// The row's channel, masked recipient, lifetime and sealed form of `message`.
fn describe(message: &Outgoing) -> (Channel, String, u64, Sealed) {
    let secret = |text: &MessageText| text.secret().map(|s| s.expose_secret().to_owned());
    let lifetime = |text: &MessageText| {
        if text.secret().is_some() {
            SECRET_LIFETIME_SECS
        } else {
            NOTICE_LIFETIME_SECS
        }
    };
    match message {
        Outgoing::Push(enrollment, push) => (
            Channel::Push,
            masked_token(&push.token),
            PUSH_LIFETIME_SECS,
            Sealed::Push {
                token: push.token.clone(),
                platform: push.platform.to_byte(),
                alert: push.alert.clone(),
                payload: push.payload.clone(),
                enrollment: Some(enrollment.to_string()),
            },
        ),
        Outgoing::Sms(to, text) => (
            Channel::Sms,
            to.masked(),
            lifetime(text),
            Sealed::Sms {
                to: to.as_str().to_owned(),
                template: text.template().to_owned(),
                secret: secret(text),
            },
        ),
        Outgoing::Mail(to, mail) => (
            Channel::Email,
            to.masked(),
            lifetime(&mail.body),
            Sealed::Email {
                to: to.as_str().to_owned(),
                subject: mail.subject.clone(),
                template: mail.body.template().to_owned(),
                secret: secret(&mail.body),
            },
        ),
        Outgoing::Voice(to, call) => (
            Channel::Voice,
            to.masked(),
            SECRET_LIFETIME_SECS,
            Sealed::Voice {
                to: to.as_str().to_owned(),
                code: call.code.expose_secret().to_owned(),
                press_key_first: call.press_key_first,
            },
        ),
    }
}

/// The AAD binding a sealed message to its row: key ‖ channel.
fn sealed_aad(key: &str, channel: Channel) -> Vec<u8> {
    [
        b"latchkey/v1/outbound/".as_slice(),
        key.as_bytes(),
        b"/",
        channel.as_str().as_bytes(),
    ]
    .concat()
}

/// What one pass of the loop did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Messages the providers accepted.
    pub sent: u32,
    /// Messages that failed and wait for another attempt.
    pub retrying: u32,
    /// Messages given up.
    pub dead: u32,
}

/// The outcome of one attempt.
enum Attempted {
    Sent,
    Retrying,
    Dead,
}

/// Sends the outbox's messages. Cheap to clone; blocking (like the store).
#[derive(Clone)]
pub struct Dispatcher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    keys: Arc<dyn ServerKeys>,
    channels: Channels,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher sending through `channels`, sealing with `keys`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keys: Arc<dyn ServerKeys>,
        channels: Channels,
    ) -> Self {
        Self {
            store,
            clock,
            keys,
            channels,
        }
    }

    /// Writes one sealed `pending` row per message, inside the caller's
    /// transaction (so the messages commit with the state change, or not at all);
    /// returns their ids for [`Self::send_now`].
    pub fn enqueue(
        &self,
        tx: &mut dyn StoreTx,
        messages: &[Outgoing],
    ) -> Result<Vec<i64>, DispatchError> {
        let now = self.clock.now();
        let mut ids = Vec::with_capacity(messages.len());
        for message in messages {
            let key = latchkey_core::encoding::encode_hex(
                &latchkey_core::protocol::ids::random_bytes::<16>()
                    .map_err(|_| SecretsError::Randomness)?,
            );
            let (channel, recipient, lifetime, sealed) = describe(message);
            let plain = Zeroizing::new(
                serde_json::to_vec(&sealed)
                    .map_err(|_| DispatchError::Refused("the message does not serialise"))?,
            );
            let blob = self.keys.wrap(&plain, &sealed_aad(&key, channel))?;
            ids.push(tx.insert_outbound(&Outbound {
                id: 0,
                key,
                channel,
                recipient,
                sealed: Some(blob),
                state: OutboundState::Pending,
                attempts: 0,
                created_at: now,
                // The committing node makes the first attempt (`send_now`); the
                // loop takes a fresh row only if that has not happened after a
                // grace (the node died between commit and send).
                next_attempt_at: now.saturating_add(FIRST_RETRY_SECS),
                lease_until: None,
                expires_at: now.saturating_add(lifetime),
                last_error: None,
                finished_at: None,
            })?);
        }
        Ok(ids)
    }

    /// The inline first attempt: tries each of `ids` now (those another attempt
    /// has not claimed). Failures are left to the loop; nothing is returned.
    pub fn send_now(&self, ids: &[i64]) {
        for &id in ids {
            match self.claim(id, true) {
                Ok(Some(row)) => {
                    self.attempt(row);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(id, %error, "outbox: could not claim a message; the loop will");
                }
            }
        }
    }

    /// Sends every message due now (pending and due, or whose claim lapsed), in
    /// batches, until none is due. The background loop's pass, and the tests'
    /// "run due now".
    pub fn run_due(&self) -> Result<DispatchReport, StoreError> {
        let mut report = DispatchReport::default();
        loop {
            let now = self.clock.now();
            let claimed = self.store.in_transaction(|tx| {
                let due = tx.due_outbound(now, BATCH)?;
                let mut claimed = Vec::with_capacity(due.len());
                for mut row in due {
                    Self::take(&mut row, now);
                    tx.put_outbound(&row)?;
                    claimed.push(row);
                }
                Ok::<_, StoreError>(claimed)
            })?;
            if claimed.is_empty() {
                return Ok(report);
            }
            for row in claimed {
                match self.attempt(row) {
                    Attempted::Sent => report.sent += 1,
                    Attempted::Retrying => report.retrying += 1,
                    Attempted::Dead => report.dead += 1,
                }
            }
        }
    }

    /// The background loop's pass on a node: [`Self::run_due`] unless another
    /// node sharing the store is running it right now.
    pub fn run_due_alone(&self) -> Result<DispatchReport, StoreError> {
        let mut outcome = Ok(DispatchReport::default());
        self.store.run_alone(DISPATCH_JOB, &mut || {
            outcome = self.run_due();
        })?;
        outcome
    }

    /// Releases every claim in the store: each message in state `sending`
    /// becomes pending and due now. Only for a node that serves its store alone
    /// (SQLite), at its start, when every claim is a dead process's (killed
    /// mid-send): its messages go out at once instead of when their lease lapses.
    /// Never on a shared store, where another node's claim may be live. Returns
    /// how many were released.
    pub fn release_claims(&self) -> Result<u32, StoreError> {
        let now = self.clock.now();
        self.store.in_transaction(|tx| {
            let mut released = 0u32;
            let mut after = 0;
            loop {
                let claimed = tx.outbound_after(after, Some(OutboundState::Sending), BATCH)?;
                let Some(last) = claimed.last() else {
                    return Ok(released);
                };
                after = last.id;
                for mut row in claimed {
                    row.state = OutboundState::Pending;
                    row.lease_until = None;
                    row.next_attempt_at = now;
                    tx.put_outbound(&row)?;
                    released = released.saturating_add(1);
                }
            }
        })
    }

    /// An operator's retry: a pending message becomes due now. A sent or dead
    /// message cannot be retried (its content was erased when it ended).
    pub fn retry(&self, id: i64) -> Result<Outbound, DispatchError> {
        let now = self.clock.now();
        self.store.in_transaction(|tx| {
            let mut row = tx
                .outbound(id)?
                .ok_or(DispatchError::Refused("no message with this id"))?;
            match row.state {
                OutboundState::Pending | OutboundState::Sending => {
                    row.state = OutboundState::Pending;
                    row.next_attempt_at = now;
                    row.lease_until = None;
                    tx.put_outbound(&row)?;
                    Ok(row)
                }
                OutboundState::Sent => Err(DispatchError::Refused(
                    "this message was sent; its content was erased",
                )),
                OutboundState::Dead => Err(DispatchError::Refused(
                    "this message is dead and its content was erased; the user asks again \
                     (a new code, a new login)",
                )),
            }
        })
    }

    /// Marks `row` claimed by an attempt at `now`.
    fn take(row: &mut Outbound, now: u64) {
        row.state = OutboundState::Sending;
        row.lease_until = Some(now.saturating_add(LEASE_SECS));
        row.attempts = row.attempts.saturating_add(1);
    }

    /// Claims message `id` if it is due; `None` if it is not (sent, dead, or
    /// claimed by another attempt).
    /// `first`: the committing node's inline attempt, which may take a fresh row
    /// (never attempted) before its grace ends.
    fn claim(&self, id: i64, first: bool) -> Result<Option<Outbound>, StoreError> {
        let now = self.clock.now();
        self.store.in_transaction(|tx| {
            let Some(mut row) = tx.outbound(id)? else {
                return Ok(None);
            };
            let due = match row.state {
                OutboundState::Pending => {
                    (first && row.attempts == 0) || row.next_attempt_at <= now
                }
                OutboundState::Sending => row.lease_until.is_some_and(|t| t <= now),
                OutboundState::Sent | OutboundState::Dead => false,
            };
            if !due {
                return Ok(None);
            }
            Self::take(&mut row, now);
            tx.put_outbound(&row)?;
            Ok(Some(row))
        })
    }

    /// One attempt at a claimed row, and its outcome stored.
    fn attempt(&self, row: Outbound) -> Attempted {
        let now = self.clock.now();
        let outcome = if now >= row.expires_at {
            Err(Failure::Final("expired before it could be sent".into()))
        } else {
            self.deliver(&row)
        };
        let attempted = match outcome {
            Ok(()) => Attempted::Sent,
            Err(Failure::Retry(_)) if row.attempts < MAX_SEND_ATTEMPTS => Attempted::Retrying,
            Err(_) => Attempted::Dead,
        };
        let error = match &outcome {
            Ok(()) => None,
            Err(
                Failure::Retry(text) | Failure::Final(text) | Failure::TokenRefused { text, .. },
            ) => Some(text.clone()),
        };
        let refused = match &outcome {
            Err(Failure::TokenRefused {
                enrollment, token, ..
            }) => Some((*enrollment, token)),
            _ => None,
        };
        let delay = backoff(row.attempts);
        let finished = self.store.in_transaction(|tx| {
            let Some(mut current) = tx.outbound(row.id)? else {
                return Ok::<_, StoreError>(false);
            };
            if matches!(current.state, OutboundState::Sent | OutboundState::Dead) {
                return Ok(false);
            }
            if let Some((enrollment, token)) = refused {
                Self::mark_token_refused(tx, &enrollment, token)?;
            }
            current.last_error = error.clone();
            current.lease_until = None;
            match attempted {
                Attempted::Sent | Attempted::Dead => {
                    current.state = if matches!(attempted, Attempted::Sent) {
                        OutboundState::Sent
                    } else {
                        OutboundState::Dead
                    };
                    current.sealed = None;
                    current.finished_at = Some(now);
                }
                Attempted::Retrying => {
                    current.state = OutboundState::Pending;
                    current.next_attempt_at = now.saturating_add(delay);
                }
            }
            tx.put_outbound(&current)?;
            Ok(true)
        });
        match (&finished, &attempted) {
            (Err(error), _) => {
                tracing::warn!(id = row.id, %error, "outbox: could not record an attempt")
            }
            (Ok(_), Attempted::Sent) => tracing::info!(
                id = row.id,
                channel = row.channel.as_str(),
                to = %row.recipient,
                attempts = row.attempts,
                "outbox: sent"
            ),
            (Ok(_), Attempted::Retrying) => tracing::warn!(
                id = row.id,
                channel = row.channel.as_str(),
                to = %row.recipient,
                attempts = row.attempts,
                retry_in = delay,
                error = error.as_deref().unwrap_or(""),
                "outbox: not sent; will retry"
            ),
            (Ok(_), Attempted::Dead) => tracing::error!(
                id = row.id,
                channel = row.channel.as_str(),
                to = %row.recipient,
                attempts = row.attempts,
                error = error.as_deref().unwrap_or(""),
                "outbox: message given up (dead; see `latchkey outbox --dead`)"
            ),
        }
        attempted
    }

    /// The push service refused `token`: if it is still `enrollment`'s push token,
    /// it is taken off and remembered as refused, so that pushes stop (logins
    /// fall back as for a phone without a token), the phone's sync answers
    /// `push_registered: false` (its diagnose says so) and the phone's next sync
    /// with a new token registers it (docs/PROTOCOL.md §6.4). A token the phone
    /// has replaced meanwhile is left alone.
    fn mark_token_refused(
        tx: &mut dyn StoreTx,
        enrollment: &EnrollmentId,
        token: &str,
    ) -> Result<(), StoreError> {
        let Some(mut record) = tx.enrollment(enrollment)? else {
            return Ok(());
        };
        if record.push_token.as_deref() != Some(token) {
            return Ok(());
        }
        record.push_token = None;
        record.push_token_refused = Some(token.to_owned());
        tx.put_enrollment(&record)?;
        tracing::warn!(
            enrollment = %enrollment,
            token = %masked_token(token),
            "outbox: the push service refused this phone's token; its push registration is \
             marked invalid until the phone syncs a new one"
        );
        Ok(())
    }

    /// Opens the row's message and hands it to its channel.
    fn deliver(&self, row: &Outbound) -> Result<(), Failure> {
        let blob = row
            .sealed
            .as_ref()
            .ok_or_else(|| Failure::Final("its content is gone".into()))?;
        let plain = self
            .keys
            .unwrap(blob, &sealed_aad(&row.key, row.channel))
            .map_err(|_| Failure::Final("its sealed content does not open".into()))?;
        let sealed: Sealed = serde_json::from_slice(plain.expose_secret())
            .map_err(|_| Failure::Final("its sealed content does not parse".into()))?;
        let bad = |_| Failure::Final("its recipient is not valid".into());
        let text = |template: &str, secret: &Option<String>| match secret {
            Some(secret) => MessageText::with_secret(template, SecretText::new(secret.clone())),
            None => MessageText::plain(template),
        };
        let key = row.key.as_str();
        let outcome = match &sealed {
            Sealed::Push {
                token,
                platform,
                alert,
                payload,
                enrollment,
            } => {
                let platform = Platform::from_byte(*platform)
                    .map_err(|_| Failure::Final("its platform is not valid".into()))?;
                let sent = self.channels.push.send_keyed(
                    key,
                    &PushMessage {
                        token: token.clone(),
                        platform,
                        alert: alert.clone(),
                        payload: payload.clone(),
                    },
                );
                if let (Err(error @ OutboundError::Unregistered(_)), Some(enrollment)) =
                    (&sent, enrollment.as_deref().and_then(|e| e.parse().ok()))
                {
                    return Err(Failure::TokenRefused {
                        text: error.to_string(),
                        enrollment,
                        token: Zeroizing::new(token.clone()),
                    });
                }
                sent
            }
            Sealed::Sms {
                to,
                template,
                secret,
            } => {
                let to: PhoneNumber = to.parse().map_err(bad)?;
                text(template, secret)
                    .and_then(|text| self.channels.sms.send_keyed(key, &to, &text))
            }
            Sealed::Email {
                to,
                subject,
                template,
                secret,
            } => {
                let to: EmailAddress = to
                    .parse()
                    .map_err(|_| Failure::Final("its recipient is not valid".into()))?;
                text(template, secret).and_then(|body| {
                    self.channels.mail.send_keyed(
                        key,
                        &to,
                        &Email {
                            subject: subject.clone(),
                            body,
                        },
                    )
                })
            }
            Sealed::Voice {
                to,
                code,
                press_key_first,
            } => {
                let to: PhoneNumber = to.parse().map_err(bad)?;
                self.channels.voice.send_keyed(
                    key,
                    &to,
                    &VoiceCall {
                        code: SecretText::new(code.clone()),
                        press_key_first: *press_key_first,
                    },
                )
            }
        };
        outcome.map_err(|error| classify(row, &error))
    }
}

/// Why an attempt failed: worth another attempt, or not.
enum Failure {
    Retry(String),
    Final(String),
    /// Final: the push service refused the enrollment's token.
    TokenRefused {
        text: String,
        enrollment: EnrollmentId,
        token: Zeroizing<String>,
    },
}

/// What a provider's error means for the message.
fn classify(row: &Outbound, error: &OutboundError) -> Failure {
    match error {
        OutboundError::Unavailable(_) | OutboundError::Store(_) => {
            Failure::Retry(error.to_string())
        }
        OutboundError::Credentials(_) => {
            tracing::error!(
                id = row.id,
                channel = row.channel.as_str(),
                %error,
                "outbox: THE PROVIDER REFUSED THIS SERVER'S CREDENTIALS: nothing goes out on \
                 this channel until the operator fixes them"
            );
            Failure::Final(error.to_string())
        }
        OutboundError::Unregistered(_)
        | OutboundError::Rejected(_)
        | OutboundError::InvalidMessage(_)
        | OutboundError::NoSuchCall => Failure::Final(error.to_string()),
    }
}

/// The pause after `attempts` failed attempts: [`FIRST_RETRY_SECS`] doubling,
/// capped at [`MAX_RETRY_SECS`], then a random part of it taken off (up to
/// half), so that messages that failed together do not return together.
pub fn backoff(attempts: u32) -> u64 {
    let exponent = attempts.saturating_sub(1).min(16);
    let full = FIRST_RETRY_SECS
        .saturating_mul(1u64 << exponent)
        .min(MAX_RETRY_SECS);
    let random = latchkey_core::protocol::ids::random_bytes::<1>()
        .map(|b| u64::from(b[0]))
        .unwrap_or(0);
    full - (full / 2) * random / 255
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{Mailer, PushSender, SmsSender, VoiceCaller};
    use crate::secrets::FileKeys;
    use crate::store::SqliteStore;
    use latchkey_core::clock::ManualClock;
    use std::sync::Mutex;

    /// How the fake provider fails.
    type Failing = fn(String) -> OutboundError;

    /// A provider whose answer the test sets; it records what it accepted.
    #[derive(Default)]
    struct Fake {
        answer: Mutex<Option<Failing>>,
        accepted: Mutex<Vec<(String, String)>>,
    }

    impl Fake {
        fn answer(&self, key: &str, text: String) -> Result<(), OutboundError> {
            if let Some(fail) = *self.answer.lock().unwrap() {
                return Err(fail("fake".into()));
            }
            self.accepted.lock().unwrap().push((key.to_owned(), text));
            Ok(())
        }
    }

    impl PushSender for Fake {
        fn send(&self, _: &PushMessage) -> Result<(), OutboundError> {
            unreachable!("the dispatcher sends with a key")
        }
        fn send_keyed(&self, key: &str, m: &PushMessage) -> Result<(), OutboundError> {
            self.answer(key, m.payload.clone())
        }
    }
    impl SmsSender for Fake {
        fn send(&self, _: &PhoneNumber, _: &MessageText) -> Result<(), OutboundError> {
            unreachable!("the dispatcher sends with a key")
        }
        fn send_keyed(
            &self,
            key: &str,
            _: &PhoneNumber,
            t: &MessageText,
        ) -> Result<(), OutboundError> {
            self.answer(key, t.expose_secret())
        }
    }
    impl VoiceCaller for Fake {
        fn send(&self, _: &PhoneNumber, _: &VoiceCall) -> Result<(), OutboundError> {
            unreachable!("the dispatcher sends with a key")
        }
    }
    impl Mailer for Fake {
        fn send(&self, _: &EmailAddress, _: &Email) -> Result<(), OutboundError> {
            unreachable!("the dispatcher sends with a key")
        }
    }

    struct Rig {
        store: Arc<SqliteStore>,
        clock: Arc<ManualClock>,
        fake: Arc<Fake>,
        dispatcher: Dispatcher,
    }

    fn rig() -> Rig {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let fake = Arc::new(Fake::default());
        let channels = Channels {
            push: fake.clone(),
            sms: fake.clone(),
            voice: fake.clone(),
            mail: fake.clone(),
        };
        let keys = Arc::new(FileKeys::generate().unwrap());
        let dispatcher = Dispatcher::new(store.clone(), clock.clone(), keys, channels);
        Rig {
            store,
            clock,
            fake,
            dispatcher,
        }
    }

    fn code_sms() -> Outgoing {
        Outgoing::Sms(
            "+85212345678".parse().unwrap(),
            MessageText::with_secret(
                "Your Latchkey code is {secret}.",
                SecretText::new("493817".into()),
            )
            .unwrap(),
        )
    }

    /// Commits `message` as a ceremony would and makes the inline attempt.
    fn commit(rig: &Rig, message: Outgoing) -> i64 {
        let ids = rig
            .store
            .in_transaction(|tx| rig.dispatcher.enqueue(tx, std::slice::from_ref(&message)))
            .unwrap();
        rig.dispatcher.send_now(&ids);
        ids[0]
    }

    fn row(rig: &Rig, id: i64) -> Outbound {
        rig.store
            .in_transaction(|tx| tx.outbound(id))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_provider_down_for_30_seconds_then_back_gets_the_message_exactly_once() {
        let rig = rig();
        *rig.fake.answer.lock().unwrap() = Some(OutboundError::Unavailable);
        let id = commit(&rig, code_sms());
        let waiting = row(&rig, id);
        assert_eq!(waiting.state, OutboundState::Pending);
        assert_eq!(waiting.attempts, 1);
        assert!(waiting.next_attempt_at <= 1_800_000_002);
        let sealed = waiting.sealed.clone().unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"493817"), "sealed");
        assert!(!sealed.windows(8).any(|w| w == b"12345678"), "sealed");
        assert_eq!(waiting.recipient, "+852****5678");
        for _ in 0..30 {
            rig.clock.advance(1);
            rig.dispatcher.run_due().unwrap();
        }
        let attempts = row(&rig, id).attempts;
        assert!((4..=6).contains(&attempts), "{attempts} attempts in 30 s");
        *rig.fake.answer.lock().unwrap() = None;
        for _ in 0..40 {
            rig.clock.advance(1);
            rig.dispatcher.run_due().unwrap();
        }
        let sent = row(&rig, id);
        assert_eq!(sent.state, OutboundState::Sent);
        assert_eq!(sent.sealed, None, "erased once sent");
        let accepted = rig.fake.accepted.lock().unwrap().clone();
        assert_eq!(accepted.len(), 1, "exactly once");
        assert_eq!(
            accepted[0].0, sent.key,
            "the idempotency key reaches the provider"
        );
        assert_eq!(accepted[0].1, "Your Latchkey code is 493817.");
        assert_eq!(
            rig.store.outbox_counts().unwrap(),
            crate::store::OutboxCounts {
                pending: 0,
                sent: 1,
                dead: 0
            }
        );
    }

    #[test]
    fn a_message_that_keeps_failing_is_dead_after_ten_attempts_or_its_expiry() {
        let rig = rig();
        *rig.fake.answer.lock().unwrap() = Some(OutboundError::Unavailable);
        let push = Outgoing::Push(
            EnrollmentId::from_bytes([7; 16]),
            PushMessage {
                token: "token-abcdefghijkl".into(),
                platform: Platform::Android,
                alert: "Login request".into(),
                payload: "{}".into(),
            },
        );
        let id = commit(&rig, push);
        let mut passes = 0;
        while row(&rig, id).state != OutboundState::Dead {
            rig.clock.advance(MAX_RETRY_SECS);
            rig.dispatcher.run_due().unwrap();
            passes += 1;
            assert!(passes < 20);
        }
        let dead = row(&rig, id);
        assert!(dead.attempts <= MAX_SEND_ATTEMPTS, "{}", dead.attempts);
        assert_eq!(dead.sealed, None);
        assert!(dead.last_error.is_some());
        let listed = rig
            .store
            .in_transaction(|tx| tx.outbound_after(0, Some(OutboundState::Dead), 10))
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert!(matches!(
            rig.dispatcher.retry(id),
            Err(DispatchError::Refused(_))
        ));
        assert!(rig.fake.accepted.lock().unwrap().is_empty());
    }

    #[test]
    fn a_refusal_or_refused_credentials_end_the_message_at_once() {
        for refusal in [
            OutboundError::Rejected as Failing,
            OutboundError::Credentials,
            OutboundError::Unregistered,
        ] {
            let rig = rig();
            *rig.fake.answer.lock().unwrap() = Some(refusal);
            let id = commit(&rig, code_sms());
            let dead = row(&rig, id);
            assert_eq!(dead.state, OutboundState::Dead);
            assert_eq!(dead.attempts, 1);
            assert_eq!(dead.sealed, None);
            assert_eq!(rig.store.outbox_counts().unwrap().dead, 1);
        }
    }

    #[test]
    fn the_committing_node_makes_the_first_attempt_and_the_loop_only_after_a_grace() {
        let rig = rig();
        let id = rig
            .store
            .in_transaction(|tx| rig.dispatcher.enqueue(tx, &[code_sms()]))
            .unwrap()[0];
        // The loop leaves a fresh message to the node that committed it…
        rig.dispatcher.run_due().unwrap();
        assert!(rig.fake.accepted.lock().unwrap().is_empty());
        // …which sends it at once; had that node died, the loop takes it after the grace.
        rig.dispatcher.send_now(&[id]);
        assert_eq!(rig.fake.accepted.lock().unwrap().len(), 1);
        let orphan = rig
            .store
            .in_transaction(|tx| rig.dispatcher.enqueue(tx, &[code_sms()]))
            .unwrap()[0];
        rig.clock.advance(FIRST_RETRY_SECS);
        rig.dispatcher.run_due().unwrap();
        assert_eq!(rig.fake.accepted.lock().unwrap().len(), 2);
        assert_eq!(row(&rig, orphan).state, OutboundState::Sent);
    }

    #[test]
    fn a_claimed_message_is_not_sent_again_until_its_lease_lapses() {
        let rig = rig();
        let id = rig
            .store
            .in_transaction(|tx| rig.dispatcher.enqueue(tx, &[code_sms()]))
            .unwrap()[0];
        // A node claimed it and crashed before sending.
        let claimed = rig.dispatcher.claim(id, true).unwrap().unwrap();
        assert_eq!(claimed.state, OutboundState::Sending);
        rig.dispatcher.send_now(&[id]);
        rig.dispatcher.run_due().unwrap();
        assert!(
            rig.fake.accepted.lock().unwrap().is_empty(),
            "held by the lease"
        );
        rig.clock.advance(LEASE_SECS);
        rig.dispatcher.run_due().unwrap();
        rig.dispatcher.run_due().unwrap();
        assert_eq!(rig.fake.accepted.lock().unwrap().len(), 1);
        assert_eq!(row(&rig, id).state, OutboundState::Sent);
    }

    #[test]
    fn a_restarted_lone_node_sends_what_a_killed_run_was_sending_at_once() {
        let rig = rig();
        let id = rig
            .store
            .in_transaction(|tx| rig.dispatcher.enqueue(tx, &[code_sms()]))
            .unwrap()[0];
        // The previous run claimed it and was killed before it could finish.
        rig.dispatcher.claim(id, true).unwrap().unwrap();
        rig.dispatcher.run_due().unwrap();
        assert!(rig.fake.accepted.lock().unwrap().is_empty(), "leased");
        assert_eq!(rig.dispatcher.release_claims().unwrap(), 1);
        rig.dispatcher.run_due().unwrap();
        assert_eq!(rig.fake.accepted.lock().unwrap().len(), 1, "at once");
        assert_eq!(row(&rig, id).state, OutboundState::Sent);
        assert_eq!(rig.dispatcher.release_claims().unwrap(), 0);
    }

    /// Anna's phone, active, with push token `token`.
    fn phone_with_token(token: &str) -> crate::store::Enrollment {
        use crate::store::{Enrollment, EnrollmentStatus};
        use latchkey_core::protocol::{KeystoreKind, MatchingMode};
        Enrollment {
            id: EnrollmentId::from_bytes([1; 16]),
            username: "anna".into(),
            epoch: 1,
            status: EnrollmentStatus::Active,
            device_key: vec![4; 65],
            device_name: "Pixel".into(),
            platform: Platform::Android,
            keystore: KeystoreKind::StrongBox,
            app_version: "1.0".into(),
            k_user_wrapped: vec![9; 60],
            ocra_suite: latchkey_core::protocol::LATCHKEY_SUITE.into(),
            matching_mode: MatchingMode::Code,
            failures: 0,
            last_failure_at: None,
            drift: 0,
            push_token: Some(token.into()),
            notifications_enabled: true,
            last_sync_issued_at: None,
            receipt: None,
            created_at: 1,
            activated_at: Some(2),
            revoked_at: None,
            replaced_by: None,
            recent_nonces: vec![],
            epoch_confirmed: true,
            push_token_refused: None,
        }
    }

    fn login_push(token: &str) -> Outgoing {
        Outgoing::Push(
            EnrollmentId::from_bytes([1; 16]),
            PushMessage {
                token: token.into(),
                platform: Platform::Android,
                alert: "Login request".into(),
                payload: "{}".into(),
            },
        )
    }

    fn stored_phone(rig: &Rig) -> crate::store::Enrollment {
        rig.store
            .in_transaction(|tx| tx.enrollment(&EnrollmentId::from_bytes([1; 16])))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn an_unregistered_token_is_taken_off_its_phone_and_remembered_as_refused() {
        let rig = rig();
        rig.store
            .in_transaction(|tx| tx.put_enrollment(&phone_with_token("old-token")))
            .unwrap();
        *rig.fake.answer.lock().unwrap() = Some(OutboundError::Unregistered);
        let id = commit(&rig, login_push("old-token"));
        assert_eq!(row(&rig, id).state, OutboundState::Dead);
        let phone = stored_phone(&rig);
        assert_eq!(phone.push_token, None);
        assert_eq!(phone.push_token_refused.as_deref(), Some("old-token"));
    }

    #[test]
    fn a_refusal_of_a_token_the_phone_has_replaced_leaves_the_new_one_alone() {
        let rig = rig();
        rig.store
            .in_transaction(|tx| tx.put_enrollment(&phone_with_token("new-token")))
            .unwrap();
        *rig.fake.answer.lock().unwrap() = Some(OutboundError::Unregistered);
        // A push queued for the old token before the phone synced its new one.
        commit(&rig, login_push("old-token"));
        let phone = stored_phone(&rig);
        assert_eq!(phone.push_token.as_deref(), Some("new-token"));
        assert_eq!(phone.push_token_refused, None);
        // Other failures never touch the registration.
        *rig.fake.answer.lock().unwrap() = Some(OutboundError::Rejected);
        commit(&rig, login_push("new-token"));
        assert_eq!(stored_phone(&rig).push_token.as_deref(), Some("new-token"));
    }

    #[test]
    fn the_pause_doubles_from_two_seconds_to_five_minutes_with_jitter() {
        for _ in 0..50 {
            let first = backoff(1);
            assert!((1..=2).contains(&first), "{first}");
            let fourth = backoff(4);
            assert!((8..=16).contains(&fourth), "{fourth}");
            let late = backoff(10);
            assert!((150..=300).contains(&late), "{late}");
        }
    }
}
