//! The verifier's records: what the store keeps about enrollments, tickets, login
//! sessions, proofs, replacements, notices and per-account state.
//!
//! Invariants: a record holds secrets only as wrapped blobs (`*_wrapped`, sealed
//! by [`crate::ServerKeys::wrap`] with the record's id as AAD) or as HMACs under
//! the pepper (`*_mac`); identifiers are the protocol's checked types; records
//! serialise to JSON objects whose binary fields are base64url.

use latchkey_core::protocol::{
    Challenge, EnrollmentId, KeystoreKind, MatchingMode, Platform, ProofId, ReplacementId,
    RequestId, SessionId, Signed, TicketId,
};
use serde::{Deserialize, Serialize};

/// Binary fields as base64url text.
pub(crate) mod b64 {
    use latchkey_core::protocol::b64;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64::encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        b64::decode(&text).map_err(serde::de::Error::custom)
    }

    use serde::Deserialize;
}

/// Optional binary fields as base64url text.
pub(crate) mod b64_opt {
    use latchkey_core::protocol::b64;
    use serde::Deserialize;

    pub fn serialize<S: serde::Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => s.serialize_some(&b64::encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| b64::decode(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Protocol byte enums stored as their wire byte.
pub(crate) mod byte_enum {
    macro_rules! serde_byte {
        ($module:ident, $ty:ty) => {
            pub mod $module {
                use serde::Deserialize;

                pub fn serialize<S: serde::Serializer>(
                    value: &$ty,
                    s: S,
                ) -> Result<S::Ok, S::Error> {
                    s.serialize_u8(value.to_byte())
                }

                pub fn deserialize<'de, D: serde::Deserializer<'de>>(
                    d: D,
                ) -> Result<$ty, D::Error> {
                    <$ty>::from_byte(u8::deserialize(d)?).map_err(serde::de::Error::custom)
                }
            }
        };
    }
    serde_byte!(matching_mode, latchkey_core::protocol::MatchingMode);
    serde_byte!(platform, latchkey_core::protocol::Platform);
    serde_byte!(keystore, latchkey_core::protocol::KeystoreKind);
}

/// A challenge stored as its six digits.
pub(crate) mod challenge {
    use serde::Deserialize;

    pub fn serialize<S: serde::Serializer>(
        value: &latchkey_core::protocol::Challenge,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<latchkey_core::protocol::Challenge, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An envelope stored as its JSON form.
pub(crate) mod signed_opt {
    use latchkey_core::protocol::Signed;
    use serde::{Deserialize, Serialize};

    pub fn serialize<S: serde::Serializer>(
        value: &Option<Signed>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Signed>, D::Error> {
        Option::<Signed>::deserialize(d)
    }
}

/// Per-account state of the verifier (the phone's own view of an account is
/// `latchkey_core::device::AccountState`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    /// The account's epoch: increases each time an enrollment becomes active.
    pub epoch: u64,
    /// Pushes are stopped until then (after "not me").
    pub push_paused_until: Option<u64>,
    /// The last successful second-factor login.
    pub last_success_at: Option<u64>,
    /// The account opted out of two-factor authentication (when allowed).
    pub opted_out: bool,
    /// When the user was warned about opting out.
    pub opt_out_warned_at: Option<u64>,
    /// Activation starts (times), for the start rate limit.
    #[serde(default)]
    pub activation_starts: Vec<u64>,
    /// The warning recorded when the account opted out.
    #[serde(default)]
    pub opt_out_warning: Option<String>,
    /// A PIN proof authorised changing the verified phone number until then
    /// (single use: the change clears it).
    #[serde(default)]
    pub phone_change_authorised_until: Option<u64>,
    /// When the SMS/voice wrong-code suspensions of the last window started (a
    /// number of them requires a password reset).
    #[serde(default)]
    pub sms_suspensions: Vec<u64>,
}

/// Where an enrollment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    /// Activated on the phone, waiting for approval or a hold period (epoch 0).
    Pending,
    /// The account's authenticating phone.
    Active,
    /// Ten PIN-bound failures: disabled until replaced.
    Disabled,
    /// Ended: replaced, removed, or a pending one cancelled.
    Revoked,
}

impl EnrollmentStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentStatus::Pending => "pending",
            EnrollmentStatus::Active => "active",
            EnrollmentStatus::Disabled => "disabled",
            EnrollmentStatus::Revoked => "revoked",
        }
    }
}

/// One phone bound to one account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    /// Its id.
    pub id: EnrollmentId,
    /// The account.
    pub username: String,
    /// Its epoch (0 while pending).
    pub epoch: u64,
    /// Where it stands.
    pub status: EnrollmentStatus,
    /// The device public key (65 bytes).
    #[serde(with = "b64")]
    pub device_key: Vec<u8>,
    /// The phone's name.
    pub device_name: String,
    /// The platform.
    #[serde(with = "byte_enum::platform")]
    pub platform: Platform,
    /// The declared keystore.
    #[serde(with = "byte_enum::keystore")]
    pub keystore: KeystoreKind,
    /// The app's version at the last sync.
    pub app_version: String,
    /// `k_user`, wrapped (AAD: `k_user` ‖ enrollment id).
    #[serde(with = "b64")]
    pub k_user_wrapped: Vec<u8>,
    /// The OCRA suite.
    pub ocra_suite: String,
    /// The matching mode.
    #[serde(with = "byte_enum::matching_mode")]
    pub matching_mode: MatchingMode,
    /// PIN-bound failures so far.
    pub failures: u64,
    /// When the last counted failure happened.
    pub last_failure_at: Option<u64>,
    /// Observed clock drift of the phone, in OCRA steps.
    pub drift: i64,
    /// The push token.
    pub push_token: Option<String>,
    /// Whether the user allows notifications.
    pub notifications_enabled: bool,
    /// `issued_at` of the last accepted sync (replay protection).
    pub last_sync_issued_at: Option<u64>,
    /// The signed receipt, once active.
    #[serde(with = "signed_opt")]
    pub receipt: Option<Signed>,
    /// Created (activation request accepted).
    pub created_at: u64,
    /// Became active.
    pub activated_at: Option<u64>,
    /// Ended.
    pub revoked_at: Option<u64>,
    /// The enrollment that replaced it.
    pub replaced_by: Option<EnrollmentId>,
    /// Nonces of recent syncs and rekey requests (replay protection; the
    /// freshness window of phone messages bounds how long a replay could work).
    #[serde(default)]
    pub recent_nonces: Vec<String>,
    /// The phone has signed a message at the enrollment's own epoch (≥ 1), so it
    /// holds its receipt: from then on a message at epoch 0 is refused
    /// (docs/PROTOCOL.md §6.4). Set at a direct activation (the receipt is in its
    /// answer); after a completed move, by the new phone's first message at its
    /// epoch.
    #[serde(default)]
    pub epoch_confirmed: bool,
    /// The push token the push service refused (FCM `UNREGISTERED`, APNs 410 or
    /// `BadDeviceToken`), taken off [`Self::push_token`] by the dispatcher: the
    /// sync answers `push_registered: false` while the phone sends this token,
    /// and a different token registers and clears it (docs/PROTOCOL.md §6.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_token_refused: Option<String>,
}

/// What a ticket is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    /// An activation (with an SMS code).
    Activation,
    /// A PIN change.
    Rekey,
}

/// How a replacing activation completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplacementKind {
    /// Approved on the old phone with a PIN proof: immediate.
    ApprovedOnOldPhone,
    /// The old phone is lost: effective after the hold period, cancellable.
    LostPhone,
}

/// Where a ticket stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Usable until it expires.
    Open,
    /// Used successfully.
    Spent,
    /// Too many wrong codes.
    Burned,
}

/// An activation or rekey ticket.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ticket {
    /// Its id.
    pub id: TicketId,
    /// The enrollment it creates (activation) or rekeys.
    pub enrollment: EnrollmentId,
    /// The account.
    pub username: String,
    /// What it is for.
    pub kind: TicketKind,
    /// The X25519 private key, wrapped (AAD: `ticket` ‖ ticket id); `None` once
    /// the ticket has ended (deleted).
    #[serde(with = "b64_opt")]
    pub secret_wrapped: Option<Vec<u8>>,
    /// HMAC of the activation code under the pepper.
    #[serde(with = "b64_opt")]
    pub code_mac: Option<Vec<u8>>,
    /// Wrong codes so far.
    pub wrong_codes: u32,
    /// Where it stands.
    pub status: TicketStatus,
    /// Issued.
    pub created_at: u64,
    /// Ends.
    pub expires_at: u64,
    /// For a replacing activation: how it completes.
    pub replacement: Option<ReplacementKind>,
}

/// How a login session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Waiting for the second factor.
    Pending,
    /// Approved on the phone or by a typed response.
    Approved,
    /// Denied on the phone.
    Denied,
    /// A wrong response ended it.
    Failed,
    /// The typed code did not match, or "not me": possible fraud.
    Fraud,
}

/// Which second factor a login session asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFactor {
    /// The Latchkey phone: push approval or typed response.
    #[default]
    Phone,
    /// A 6-digit code by SMS or voice call (an SMS account without a phone).
    Sms,
    /// None: the account opted out of two-factor authentication.
    None,
}

impl LoginFactor {
    /// The name in the API: `phone`, `sms` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFactor::Phone => "phone",
            LoginFactor::Sms => "sms",
            LoginFactor::None => "none",
        }
    }
}

/// How a login code reached the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeChannel {
    /// A text message.
    Sms,
    /// A voice call that reads the code after the callee presses a key.
    Voice,
}

impl CodeChannel {
    /// The name in the API and the store: `sms` or `voice`.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeChannel::Sms => "sms",
            CodeChannel::Voice => "voice",
        }
    }
}

/// Where a login code stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginCodeState {
    /// Usable until it expires.
    Live,
    /// Used to log in.
    Used,
    /// A newer code of the account replaced it.
    Replaced,
    /// Burned by a suspension or a phone-number change.
    Burned,
}

impl LoginCodeState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginCodeState::Live => "live",
            LoginCodeState::Used => "used",
            LoginCodeState::Replaced => "replaced",
            LoginCodeState::Burned => "burned",
        }
    }
}

/// The SMS or voice code of a login session: only its HMAC under the pepper.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginCode {
    /// The session it logs in.
    pub session: SessionId,
    /// The account.
    pub username: String,
    /// How it was sent.
    pub channel: CodeChannel,
    /// HMAC under the pepper of `latchkey/v1/login-code` ‖ session id ‖ code.
    #[serde(with = "b64")]
    pub code_mac: Vec<u8>,
    /// Sent.
    pub sent_at: u64,
    /// Ends (5 min).
    pub expires_at: u64,
    /// Where it stands.
    pub state: LoginCodeState,
}

/// Which API opened a login session. Each family of session routes answers only
/// for the sessions its own API opened (docs/PROTOCOL.md §7): the reference
/// login's routes must not act on a session the integrator opened without the
/// password step, nor the other way round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionOpener {
    /// The integrator API (`/v1/integrator/sessions`, bearer token). Sessions
    /// stored before openers were recorded count as the integrator's.
    #[default]
    Integrator,
    /// The reference login (`/v1/login/sessions`, the built-in password store).
    ReferenceLogin,
}

/// A login session and its push request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSession {
    /// Its id (what the integrator polls).
    pub id: SessionId,
    /// Its push request id (the push handle).
    pub request: RequestId,
    /// The account.
    pub username: String,
    /// The enrollment that may answer it (the active one when opened).
    pub enrollment: Option<EnrollmentId>,
    /// The challenge shown on the login screen.
    #[serde(with = "challenge")]
    pub challenge: Challenge,
    /// The application asking.
    pub app: String,
    /// The client.
    pub client: String,
    /// Where from.
    pub origin: String,
    /// Opened.
    pub created_at: u64,
    /// Ends (5 min).
    pub expires_at: u64,
    /// The push is answerable until then (2 min).
    pub push_expires_at: u64,
    /// Whether a push was sent.
    pub pushed: bool,
    /// Why no push was sent, if none was.
    pub push_refused: Option<String>,
    /// Where it stands.
    pub status: SessionStatus,
    /// When it was decided.
    pub decided_at: Option<u64>,
    /// How it was decided ("push", "typed", "sms", "voice", "opted_out").
    pub decided_by: Option<String>,
    /// The client's version as the login screen stated it.
    #[serde(default)]
    pub client_version: Option<String>,
    /// The second factor it asks for.
    #[serde(default)]
    pub factor: LoginFactor,
    /// Which API opened it (only that API's routes act on it).
    #[serde(default)]
    pub opened_by: SessionOpener,
}

/// A PIN-proof challenge.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofRecord {
    /// Its id.
    pub id: ProofId,
    /// The enrollment it was issued to.
    pub enrollment: EnrollmentId,
    /// The challenge.
    #[serde(with = "challenge")]
    pub challenge: Challenge,
    /// Ends.
    pub expires_at: u64,
    /// Spent by its first use.
    pub spent: bool,
}

/// Where a replacement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplacementStatus {
    /// Waiting for approval or the end of the hold.
    Pending,
    /// Done: the new phone is active.
    Completed,
    /// Cancelled by the old phone or the e-mail link.
    Cancelled,
}

impl ReplacementStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplacementStatus::Pending => "pending",
            ReplacementStatus::Completed => "completed",
            ReplacementStatus::Cancelled => "cancelled",
        }
    }
}

/// A move to a new phone.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    /// Its id.
    pub id: ReplacementId,
    /// The account.
    pub username: String,
    /// The phone being replaced (active or disabled), if any.
    pub old_enrollment: Option<EnrollmentId>,
    /// The new phone (pending).
    pub new_enrollment: EnrollmentId,
    /// How it completes.
    pub kind: ReplacementKind,
    /// Where it stands.
    pub status: ReplacementStatus,
    /// Started.
    pub created_at: u64,
    /// For a lost phone: when the hold ends.
    pub effective_at: Option<u64>,
    /// HMAC of the e-mail cancel token under the pepper.
    #[serde(with = "b64_opt")]
    pub cancel_token_mac: Option<Vec<u8>>,
    /// When it completed or was cancelled.
    pub ended_at: Option<u64>,
}

/// A signed notice waiting for a phone.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeRecord {
    /// The enrollment it is for.
    pub enrollment: EnrollmentId,
    /// The notice envelope.
    pub notice: Signed,
    /// It stops being delivered then.
    pub expires_at: u64,
}

/// The opaque identifiers in records print as their hex; this keeps `Debug` of
/// records free of secrets (only wrapped blobs and MACs are stored).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enrollment_round_trips_through_json() {
        let enrollment = Enrollment {
            id: EnrollmentId::from_bytes([1; 16]),
            username: "anna".into(),
            epoch: 2,
            status: EnrollmentStatus::Active,
            device_key: vec![4; 65],
            device_name: "Pixel".into(),
            platform: Platform::Android,
            keystore: KeystoreKind::StrongBox,
            app_version: "1.0".into(),
            k_user_wrapped: vec![9; 60],
            ocra_suite: latchkey_core::protocol::LATCHKEY_SUITE.into(),
            matching_mode: MatchingMode::Code,
            failures: 3,
            last_failure_at: Some(5),
            drift: -1,
            push_token: None,
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
        };
        let json = serde_json::to_string(&enrollment).unwrap();
        let back: Enrollment = serde_json::from_str(&json).unwrap();
        assert_eq!(back.id, enrollment.id);
        assert_eq!(back.platform, Platform::Android);
        assert_eq!(back.k_user_wrapped, enrollment.k_user_wrapped);
        assert_eq!(back.drift, -1);
    }
}
