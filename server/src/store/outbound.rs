//! The rows of the transactional outbox (`outbound`, migration 0006): one per
//! message a ceremony committed, which the dispatcher (`crate::dispatch`) sends.
//!
//! Invariants: `sealed` holds everything secret about the message (recipient,
//! code, token) as an AEAD blob, and is `None` once the row is sent or dead;
//! `recipient` is masked; `key` is unique and never changes.

use super::Channel;

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboundState {
    /// Waiting for its next attempt (`next_attempt_at`).
    Pending,
    /// Claimed by an attempt until `lease_until`; after that, due again.
    Sending,
    /// The provider accepted it.
    Sent,
    /// Given up: refused, expired or out of attempts (`last_error` says why).
    Dead,
}

impl OutboundState {
    /// The state's stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            OutboundState::Pending => "pending",
            OutboundState::Sending => "sending",
            OutboundState::Sent => "sent",
            OutboundState::Dead => "dead",
        }
    }

    /// The state named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(OutboundState::Pending),
            "sending" => Some(OutboundState::Sending),
            "sent" => Some(OutboundState::Sent),
            "dead" => Some(OutboundState::Dead),
            _ => None,
        }
    }
}

/// One message of the transactional outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The row's id (increasing); ignored by [`super::StoreTx::insert_outbound`].
    pub id: i64,
    /// The idempotency key: 32 hex digits, unique, sent to providers that take one.
    pub key: String,
    /// The channel.
    pub channel: Channel,
    /// The recipient, masked (for operators).
    pub recipient: String,
    /// The message, sealed under the server's wrapping key; `None` once finished.
    pub sealed: Option<Vec<u8>>,
    /// Where the message is.
    pub state: OutboundState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the ceremony committed it (Unix seconds).
    pub created_at: u64,
    /// When it is due next (Unix seconds).
    pub next_attempt_at: u64,
    /// While [`OutboundState::Sending`]: when the claim lapses.
    pub lease_until: Option<u64>,
    /// After this the message is useless (the code or request expired): dead.
    pub expires_at: u64,
    /// The last failure (no secret: the provider's error class and status).
    pub last_error: Option<String>,
    /// When it became sent or dead.
    pub finished_at: Option<u64>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("recipient", &self.recipient)
            .field("sealed", &self.sealed.as_ref().map(|_| "[sealed]"))
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("expires_at", &self.expires_at)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

/// How many messages the outbox holds, by state (cheap: one grouped count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    /// Waiting or being sent.
    pub pending: u64,
    /// Accepted by their provider.
    pub sent: u64,
    /// Given up (operators look at these: `latchkey outbox --dead`).
    pub dead: u64,
}

/// The columns of an `outbound` row, in the order [`OutboundColumns`] reads them.
pub(super) const OUTBOUND_COLUMNS: &str = "id, key, channel, recipient, sealed, state, attempts, \
     created_at, next_attempt_at, lease_until, expires_at, last_error, finished_at";

/// The columns of an `outbound` row, before checking.
pub(super) struct OutboundColumns {
    pub(super) id: i64,
    pub(super) key: String,
    pub(super) channel: String,
    pub(super) recipient: String,
    pub(super) sealed: Option<Vec<u8>>,
    pub(super) state: String,
    pub(super) attempts: i64,
    pub(super) created_at: i64,
    pub(super) next_attempt_at: i64,
    pub(super) lease_until: Option<i64>,
    pub(super) expires_at: i64,
    pub(super) last_error: Option<String>,
    pub(super) finished_at: Option<i64>,
}

impl OutboundColumns {
    pub(super) fn check(self) -> Result<Outbound, super::StoreError> {
        use super::{StoreError, to_u64};
        let opt = |value: Option<i64>, column| value.map(|v| to_u64(v, column)).transpose();
        Ok(Outbound {
            id: self.id,
            key: self.key,
            channel: Channel::parse(&self.channel).ok_or(StoreError::CorruptRow("channel"))?,
            recipient: self.recipient,
            sealed: self.sealed,
            state: OutboundState::parse(&self.state).ok_or(StoreError::CorruptRow("state"))?,
            attempts: u32::try_from(self.attempts)
                .map_err(|_| StoreError::CorruptRow("attempts"))?,
            created_at: to_u64(self.created_at, "created_at")?,
            next_attempt_at: to_u64(self.next_attempt_at, "next_attempt_at")?,
            lease_until: opt(self.lease_until, "lease_until")?,
            expires_at: to_u64(self.expires_at, "expires_at")?,
            last_error: self.last_error,
            finished_at: opt(self.finished_at, "finished_at")?,
        })
    }
}

/// An optional time as a database integer.
pub(super) fn opt_i64(
    value: Option<u64>,
    column: &'static str,
) -> Result<Option<i64>, super::StoreError> {
    value.map(|v| super::to_i64(v, column)).transpose()
}

/// A voice call waiting for its callee's keypress (table `voice_calls`, SQLite
/// migration 0008, PostgreSQL 0003): what the provider's callback needs, kept in
/// the store so that the callback may reach any node.
///
/// Invariants: `call` is the SHA-256 of the random call id in the callback URL
/// (the id itself is never stored); `sealed` is the code, sealed under the
/// server's wrapping key with the call id in its AAD, so a copy of the database
/// reads no code and cannot tie a row to a URL.
#[derive(Clone, PartialEq, Eq)]
pub struct VoiceCallRecord {
    /// SHA-256 of the call id.
    pub call: [u8; 32],
    /// The code, sealed.
    pub sealed: Vec<u8>,
    /// When the call was placed (Unix seconds).
    pub placed_at: u64,
}

impl std::fmt::Debug for VoiceCallRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceCallRecord")
            .field("sealed", &"[sealed]")
            .field("placed_at", &self.placed_at)
            .finish_non_exhaustive()
    }
}
