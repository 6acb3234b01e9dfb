//! The records and enums of the FFI: core's results and arguments in forms
//! Kotlin and Swift can hold (identifiers as their 32-character lowercase hex,
//! account ids as `i64`, times as Unix seconds), with the conversions from and
//! to core's types.
//!
//! Invariants: a conversion from core never invents a value — an enum variant
//! of a newer core that these bindings do not know becomes an `Other` variant
//! carrying core's own text where the record has one, is dropped from an event
//! list (with a warning in the log), or is an [`AuthenticatorError::Internal`];
//! records holding a PIN or a response have no `Debug` that shows it.
//!
//! Why these mirror core's types instead of core deriving `uniffi::Enum` /
//! `uniffi::Record` behind a `cfg_attr(feature = "uniffi", …)` (issue 17 weighed
//! it): core stays free of uniffi (docs/STYLE.md §1: `bindings` is the only crate
//! that depends on it), and core's enums are `#[non_exhaustive]` — uniffi's
//! generated lowering of such an enum panics on a variant it does not know,
//! where this file turns it into a typed [`AuthenticatorError`] or an `Other`
//! variant (the invariants above). Core's identifiers are newtypes over bytes,
//! which the hosts receive as hex. So the mirrors keep the names the Kotlin and
//! Swift shells use (`MatchingMode`, `AccountState`, …) and carry no behaviour.

use crate::error::AuthenticatorError;
use latchkey_core::device as core;
use latchkey_core::encoding::encode_hex;
use latchkey_core::protocol;
use zeroize::Zeroizing;

/// How a push approval proves that the user sees the login screen. Fixed for
/// an enrollment by its activation receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum MatchingMode {
    /// The user types the 6-digit code shown on the login screen (default).
    Code,
    /// One tap confirms (the signed request carries the code); never for
    /// regulated accounts.
    Tap,
}

impl TryFrom<protocol::MatchingMode> for MatchingMode {
    type Error = AuthenticatorError;

    fn try_from(mode: protocol::MatchingMode) -> Result<Self, Self::Error> {
        match mode {
            protocol::MatchingMode::Code => Ok(Self::Code),
            protocol::MatchingMode::Tap => Ok(Self::Tap),
            _ => Err(AuthenticatorError::unknown("matching mode")),
        }
    }
}

/// The platform the app runs on, as servers are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Platform {
    /// Android.
    Android,
    /// iOS.
    Ios,
    /// A desktop (tests, the command line).
    Desktop,
}

impl From<Platform> for protocol::Platform {
    fn from(platform: Platform) -> Self {
        match platform {
            Platform::Android => Self::Android,
            Platform::Ios => Self::Ios,
            Platform::Desktop => Self::Desktop,
        }
    }
}

/// Where the keystore keeps the phone's keys, as it declares itself to servers.
/// Servers in production refuse [`KeystoreKind::Software`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum KeystoreKind {
    /// A software keystore: development and tests only.
    Software,
    /// A hardware-backed keystore (Android TEE).
    HardwareBacked,
    /// Android StrongBox.
    StrongBox,
    /// Apple's Secure Enclave.
    SecureEnclave,
}

impl From<KeystoreKind> for core::KeystoreKind {
    fn from(kind: KeystoreKind) -> Self {
        match kind {
            KeystoreKind::Software => Self::Software,
            KeystoreKind::HardwareBacked => Self::HardwareBacked,
            KeystoreKind::StrongBox => Self::StrongBox,
            KeystoreKind::SecureEnclave => Self::SecureEnclave,
        }
    }
}

/// Why the user denied a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum DenialReason {
    /// "This wasn't me": reported as possible fraud (the server stops pushes
    /// for a day and requires a password reset).
    NotMe,
    /// Declined for another reason (a mistaken tap).
    Declined,
}

impl From<DenialReason> for protocol::DenialReason {
    fn from(reason: DenialReason) -> Self {
        match reason {
            DenialReason::NotMe => Self::NotMe,
            DenialReason::Declined => Self::Declined,
        }
    }
}

/// The state of this phone's enrollment as the server signed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum EnrollmentState {
    /// The account's authenticating phone.
    Active,
    /// Too many wrong PINs: the account needs a password reset.
    PasswordResetRequired,
    /// Disabled until the account is moved to a phone again.
    Disabled,
    /// A lost-phone move of the account is waiting out its hold period.
    ReplacementPending,
    /// No longer the account's phone.
    Revoked,
}

impl TryFrom<protocol::EnrollmentState> for EnrollmentState {
    type Error = AuthenticatorError;

    fn try_from(state: protocol::EnrollmentState) -> Result<Self, Self::Error> {
        use protocol::EnrollmentState as S;
        match state {
            S::Active => Ok(Self::Active),
            S::PasswordResetRequired => Ok(Self::PasswordResetRequired),
            S::Disabled => Ok(Self::Disabled),
            S::ReplacementPending => Ok(Self::ReplacementPending),
            S::Revoked => Ok(Self::Revoked),
            _ => Err(AuthenticatorError::unknown("enrollment state")),
        }
    }
}

/// What the app tells servers about itself.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuthenticatorConfig {
    /// The platform the app runs on.
    pub platform: Platform,
    /// The app's version (at most 64 bytes), e.g. `"2.3.1"`.
    pub app_version: String,
}

impl From<AuthenticatorConfig> for core::AuthenticatorConfig {
    fn from(config: AuthenticatorConfig) -> Self {
        Self {
            platform: config.platform.into(),
            app_version: config.app_version,
        }
    }
}

/// How the user unlocks one operation: the PIN, or the biometric copy behind
/// the system prompt. Overwrite the PIN's array (`fill(0)`) after the call; it
/// is wiped inside the library too.
#[derive(uniffi::Enum)]
pub enum Unlock {
    /// The PIN as typed: 6 to 12 ASCII digits.
    Pin {
        /// The digits, as bytes (`"402917".toByteArray()` in a test; from the
        /// PIN field's characters in an app, never through a `String`).
        pin: Vec<u8>,
    },
    /// The biometric copy of the account's key, behind the system prompt.
    Biometric {
        /// What the prompt says is being approved ("Approve login to Client Portal?").
        prompt: String,
    },
}

impl TryFrom<Unlock> for core::Unlock {
    type Error = AuthenticatorError;

    fn try_from(unlock: Unlock) -> Result<Self, Self::Error> {
        match unlock {
            Unlock::Pin { pin } => {
                let mut text = pin_text(pin)?;
                // Moved, not copied: core's `Unlock` wipes it when dropped.
                Ok(core::Unlock::Pin(std::mem::take(&mut *text)))
            }
            Unlock::Biometric { prompt } => Ok(core::Unlock::Biometric { prompt }),
        }
    }
}

/// The PIN's bytes as text, wiped when dropped; the bytes are wiped too when
/// they are not UTF-8.
pub(crate) fn pin_text(pin: Vec<u8>) -> Result<Zeroizing<String>, AuthenticatorError> {
    match String::from_utf8(pin) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(error) => {
            drop(Zeroizing::new(error.into_bytes()));
            Err(AuthenticatorError::bad_input("a PIN has 6 to 12 digits"))
        }
    }
}

/// Where an account stands on this phone.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum AccountState {
    /// This phone authenticates for the account.
    Active,
    /// The activation moves the account from another phone and has not
    /// completed: it waits for the old phone's approval, or for the end of the
    /// lost-phone hold period. Sync to complete it.
    Pending {
        /// The move it waits for (32 hex characters).
        replacement: String,
        /// Whether it is the lost-phone path (a hold period).
        held: bool,
        /// When the hold period ends (Unix seconds, server time), if known.
        effective_at: Option<u64>,
    },
    /// Too many wrong PINs: the account needs a password reset.
    Locked,
    /// The enrollment is disabled until the account is moved to a phone again.
    Disabled,
    /// Another phone replaced this one; the secrets were wiped. Kept 30 days
    /// for a fraud report.
    Replaced {
        /// Which phone replaced it, as the server named it.
        by: String,
        /// When this phone learned it (Unix seconds).
        at: u64,
    },
    /// The account's secrets were wiped (revoked or removed). Kept 30 days for
    /// a fraud report.
    Wiped {
        /// When (Unix seconds).
        at: u64,
    },
}

impl From<core::AccountState> for AccountState {
    fn from(state: core::AccountState) -> Self {
        match state {
            core::AccountState::Active => Self::Active,
            core::AccountState::Pending {
                replacement,
                held,
                effective_at,
            } => Self::Pending {
                replacement: replacement.to_string(),
                held,
                effective_at,
            },
            core::AccountState::Locked => Self::Locked,
            core::AccountState::Disabled => Self::Disabled,
            core::AccountState::Replaced { by, at } => Self::Replaced { by, at },
            core::AccountState::Wiped { at } => Self::Wiped { at },
        }
    }
}

/// An account as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AccountSummary {
    /// Its id on this phone (what every per-account call takes).
    pub id: i64,
    /// What the user sees ("alice @ auth.example.com").
    pub label: String,
    /// The server's base URL.
    pub server_url: String,
    /// The server's fingerprint (`sha256:` and 64 hex characters).
    pub server_fingerprint: String,
    /// This phone's enrollment (32 hex characters).
    pub enrollment_id: String,
    /// The enrollment's epoch (0 while pending).
    pub epoch: u64,
    /// Where the account stands.
    pub state: AccountState,
    /// The matching mode the activation receipt fixed.
    pub matching_mode: MatchingMode,
    /// Whether biometrics can unlock this account.
    pub biometric_enabled: bool,
    /// When the account last synced (Unix seconds, this phone's clock).
    pub last_sync_at: Option<u64>,
    /// Server time minus this phone's time, in seconds.
    pub clock_offset: i64,
}

impl TryFrom<core::AccountSummary> for AccountSummary {
    type Error = AuthenticatorError;

    fn try_from(account: core::AccountSummary) -> Result<Self, Self::Error> {
        Ok(Self {
            id: account.id.get(),
            label: account.label,
            server_url: account.server_url,
            server_fingerprint: account.server_fingerprint,
            enrollment_id: account.enrollment_id.to_string(),
            epoch: account.epoch,
            state: account.state.into(),
            matching_mode: account.matching_mode.try_into()?,
            biometric_enabled: account.biometric_enabled,
            last_sync_at: account.last_sync_at,
            clock_offset: account.clock_offset,
        })
    }
}

/// How an activation ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ActivationOutcome {
    /// The account is active on this phone.
    Active {
        /// The account.
        account: AccountSummary,
    },
    /// The account already has a phone: the move waits for the old phone's
    /// approval (`held == false`) or for the end of the lost-phone hold period
    /// (`held == true`, until `effective_at`). A later sync completes it.
    Pending {
        /// The account, stored in state pending.
        account: AccountSummary,
        /// The move it waits for (32 hex characters).
        replacement: String,
        /// Whether it is the lost-phone path (a hold period).
        held: bool,
        /// When the hold period ends (Unix seconds, server time), if known.
        effective_at: Option<u64>,
    },
}

impl TryFrom<core::ActivationOutcome> for ActivationOutcome {
    type Error = AuthenticatorError;

    fn try_from(outcome: core::ActivationOutcome) -> Result<Self, Self::Error> {
        Ok(match outcome {
            core::ActivationOutcome::Active(account) => Self::Active {
                account: account.try_into()?,
            },
            core::ActivationOutcome::Pending {
                account,
                replacement,
                held,
                effective_at,
            } => Self::Pending {
                account: account.try_into()?,
                replacement: replacement.to_string(),
                held,
                effective_at,
            },
        })
    }
}

/// What to show for a login push: a generic alert (the push carries no detail),
/// and the handle to open when the user taps it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PushAlert {
    /// The login request's handle (for `pending_request`).
    pub request: String,
    /// The notification's title.
    pub title: String,
    /// The notification's text.
    pub body: String,
}

impl From<core::PushAlert> for PushAlert {
    fn from(alert: core::PushAlert) -> Self {
        Self {
            request: alert.request.to_string(),
            title: alert.title,
            body: alert.body,
        }
    }
}

/// A login request, fetched and checked: what the approval screen shows.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PendingApproval {
    /// The request's handle.
    pub request: String,
    /// The account it is for.
    pub account_id: i64,
    /// The account's label.
    pub account_label: String,
    /// Which application asks ("Client Portal").
    pub app: String,
    /// The client as it described itself ("Firefox on Linux").
    pub client: String,
    /// Where the login comes from (address, place).
    pub origin: String,
    /// When the login started (Unix seconds, server time).
    pub requested_at: u64,
    /// The matching mode.
    pub matching_mode: MatchingMode,
    /// When the request can no longer be answered (Unix seconds, server time).
    pub expires_at: u64,
    /// Whether the user must type the code shown on the login screen (`code`
    /// mode); in `tap` mode one confirmation is enough.
    pub needs_typed_code: bool,
}

impl TryFrom<core::PendingApproval> for PendingApproval {
    type Error = AuthenticatorError;

    fn try_from(approval: core::PendingApproval) -> Result<Self, Self::Error> {
        Ok(Self {
            request: approval.request.to_string(),
            account_id: approval.account.get(),
            account_label: approval.account_label,
            app: approval.app,
            client: approval.client,
            origin: approval.origin,
            requested_at: approval.requested_at,
            matching_mode: approval.matching_mode.try_into()?,
            expires_at: approval.expires_at,
            needs_typed_code: approval.needs_typed_code,
        })
    }
}

/// A generated challenge response, with the warning the app must show beside it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChallengeResponse {
    /// The 8 digits to type into the login screen. Show it; never log it.
    pub response: String,
    /// The warning: a challenge must come from the user's own login screen.
    pub warning: String,
}

impl From<core::ChallengeResponse> for ChallengeResponse {
    fn from(response: core::ChallengeResponse) -> Self {
        Self {
            response: response.response,
            warning: response.warning,
        }
    }
}

/// Something a sync learnt that the app may tell the user.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncEvent {
    /// Another phone replaced this one: the account's secrets were wiped.
    Replaced {
        /// The phone that replaced this one.
        by: String,
        /// When (Unix seconds, server time).
        at: u64,
    },
    /// The enrollment was revoked (removed elsewhere, or a pending move
    /// cancelled): the account's secrets were wiped.
    Revoked {
        /// When (Unix seconds, server time).
        at: u64,
    },
    /// Too many wrong PINs: the account needs a password reset.
    PasswordResetRequired,
    /// The enrollment is disabled until the account is moved to a phone again.
    Disabled,
    /// A lockout was cleared (the password was reset).
    Reactivated,
    /// Someone is moving this account to another phone: approve
    /// (`approve_replacement`) or cancel (`cancel_replacement`) with the PIN.
    ReplacementPending {
        /// The move (32 hex characters), to approve or cancel.
        replacement: Option<String>,
        /// The new phone's name.
        new_phone: Option<String>,
        /// When a lost-phone move takes effect unless cancelled.
        effective_at: Option<u64>,
    },
    /// A pending move of this account was cancelled.
    ReplacementCancelled {
        /// The move.
        replacement: Option<String>,
    },
    /// Someone started activating a new phone for this account.
    ActivationStarted {
        /// The server's text.
        text: String,
    },
    /// This phone's pending activation completed: the account is active.
    ActivationCompleted {
        /// The enrollment's epoch.
        epoch: u64,
    },
    /// The server says this phone is no longer the account's phone, without a
    /// signed revocation (yet): nothing was wiped.
    NotActivePhone,
    /// A notice failed its checks and was ignored.
    NoticeRefused {
        /// Why.
        reason: String,
    },
}

impl SyncEvent {
    fn from_core(event: core::SyncEvent) -> Option<Self> {
        use core::SyncEvent as E;
        let id = |id: Option<protocol::ReplacementId>| id.map(|id| id.to_string());
        Some(match event {
            E::Replaced { by, at } => Self::Replaced { by, at },
            E::Revoked { at } => Self::Revoked { at },
            E::PasswordResetRequired => Self::PasswordResetRequired,
            E::Disabled => Self::Disabled,
            E::Reactivated => Self::Reactivated,
            E::ReplacementPending {
                replacement,
                new_phone,
                effective_at,
            } => Self::ReplacementPending {
                replacement: id(replacement),
                new_phone,
                effective_at,
            },
            E::ReplacementCancelled { replacement } => Self::ReplacementCancelled {
                replacement: id(replacement),
            },
            E::ActivationStarted { text } => Self::ActivationStarted { text },
            E::ActivationCompleted { epoch } => Self::ActivationCompleted { epoch },
            E::NotActivePhone => Self::NotActivePhone,
            E::NoticeRefused { reason } => Self::NoticeRefused { reason },
            _ => {
                tracing::warn!("a sync event unknown to these bindings was dropped");
                return None;
            }
        })
    }
}

/// What a sync found.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// The account.
    pub account_id: i64,
    /// The account's state on this phone after the sync.
    pub state: AccountState,
    /// The enrollment's state as the server signed it.
    pub server_state: EnrollmentState,
    /// PIN-bound failures so far.
    pub failures: u64,
    /// During a delay: when the next attempt is allowed (server time).
    pub retry_after: Option<u64>,
    /// Whether the server holds a push token for this phone.
    pub push_registered: bool,
    /// Login requests waiting for this phone (their handles).
    pub pending_requests: Vec<String>,
    /// Server time minus this phone's time, in seconds, as now learnt.
    pub clock_offset: i64,
    /// What the app may tell the user.
    pub events: Vec<SyncEvent>,
}

impl TryFrom<core::SyncReport> for SyncReport {
    type Error = AuthenticatorError;

    fn try_from(report: core::SyncReport) -> Result<Self, Self::Error> {
        Ok(Self {
            account_id: report.account.get(),
            state: report.state.into(),
            server_state: report.server_state.try_into()?,
            failures: report.failures,
            retry_after: report.retry_after,
            push_registered: report.push_registered,
            pending_requests: report
                .pending_requests
                .iter()
                .map(ToString::to_string)
                .collect(),
            clock_offset: report.clock_offset,
            events: report
                .events
                .into_iter()
                .filter_map(SyncEvent::from_core)
                .collect(),
        })
    }
}

/// Why login pushes may not arrive.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum FindingKind {
    /// The user turned notifications off for the app.
    NotificationsDisabled,
    /// The app has no push token from the platform.
    NoPushToken,
    /// The server holds no push token for this phone.
    TokenNotRegistered,
    /// The account's activation waits for the old phone or the hold period.
    ActivationPending,
    /// The server says this phone is not the account's authenticating phone.
    NotActivePhone,
    /// Another phone replaced this one.
    Replaced {
        /// The phone that did.
        by: String,
        /// When (Unix seconds).
        at: u64,
    },
    /// The account was removed from this phone.
    AccountWiped,
    /// Too many wrong PINs: the account needs a password reset.
    PasswordResetRequired,
    /// The enrollment is disabled until the account is moved to a phone again.
    Disabled,
    /// The server could not be reached.
    Offline,
    /// The server was reached but its answer was refused or not understood.
    ServerProblem {
        /// What went wrong.
        detail: String,
    },
    /// The phone's clock is off by more than a minute.
    ClockOff {
        /// Server time minus phone time, in seconds.
        offset_seconds: i64,
    },
    /// A reason these bindings do not know yet; the finding's text says it.
    Other,
}

impl From<core::FindingKind> for FindingKind {
    fn from(kind: core::FindingKind) -> Self {
        use core::FindingKind as K;
        match kind {
            K::NotificationsDisabled => Self::NotificationsDisabled,
            K::NoPushToken => Self::NoPushToken,
            K::TokenNotRegistered => Self::TokenNotRegistered,
            K::ActivationPending => Self::ActivationPending,
            K::NotActivePhone => Self::NotActivePhone,
            K::Replaced { by, at } => Self::Replaced { by, at },
            K::AccountWiped => Self::AccountWiped,
            K::PasswordResetRequired => Self::PasswordResetRequired,
            K::Disabled => Self::Disabled,
            K::Offline => Self::Offline,
            K::ServerProblem { detail } => Self::ServerProblem { detail },
            K::ClockOff { offset_seconds } => Self::ClockOff { offset_seconds },
            _ => Self::Other,
        }
    }
}

/// One reason pushes may not arrive, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Finding {
    /// The reason, as data (for the app's own wording).
    pub kind: FindingKind,
    /// What is wrong, in English.
    pub text: String,
    /// The step to take, in English.
    pub step: String,
}

impl From<core::Finding> for Finding {
    fn from(finding: core::Finding) -> Self {
        Self {
            kind: finding.kind.into(),
            text: finding.text,
            step: finding.step,
        }
    }
}

/// How removing an account went.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RemovalReport {
    /// Whether the server confirmed the revocation (a signed notice). `false`:
    /// offline, or the server did not confirm — the account was still wiped on
    /// this phone; tell the user to remove the phone from the account on the web
    /// too.
    pub server_revoked: bool,
}

impl From<core::RemovalReport> for RemovalReport {
    fn from(report: core::RemovalReport) -> Self {
        Self {
            server_revoked: report.server_revoked,
        }
    }
}

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum HistoryEvent {
    /// A push login was approved.
    Approved,
    /// A push login was denied.
    Denied,
    /// A push login was denied and reported as fraud ("this wasn't me").
    ReportedFraud,
    /// A challenge response was generated.
    ResponseGenerated,
    /// An account was activated on this phone.
    AccountAdded,
    /// An account's secrets were wiped (replaced, revoked or removed).
    AccountWiped,
    /// An event these bindings do not know yet; the summary says what it was.
    Other,
}

impl From<core::HistoryEvent> for HistoryEvent {
    fn from(event: core::HistoryEvent) -> Self {
        use core::HistoryEvent as E;
        match event {
            E::Approved => Self::Approved,
            E::Denied => Self::Denied,
            E::ReportedFraud => Self::ReportedFraud,
            E::ResponseGenerated => Self::ResponseGenerated,
            E::AccountAdded => Self::AccountAdded,
            E::AccountWiped => Self::AccountWiped,
            _ => Self::Other,
        }
    }
}

/// One entry of the local, hash-chained history.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryEntry {
    /// Its position, from 1.
    pub seq: u64,
    /// When it was recorded (Unix seconds, this phone's clock).
    pub at: u64,
    /// The account it concerns, if any.
    pub account_id: Option<i64>,
    /// The enrollment it concerns, if any (kept after the account is removed).
    pub enrollment_id: Option<String>,
    /// What happened.
    pub event: HistoryEvent,
    /// The login request it answered, if any.
    pub request_id: Option<String>,
    /// What the user saw: which app, where from.
    pub summary: String,
    /// Its chain hash (64 hex characters).
    pub hash: String,
}

impl From<core::HistoryEntry> for HistoryEntry {
    fn from(entry: core::HistoryEntry) -> Self {
        Self {
            seq: entry.seq,
            at: entry.at,
            account_id: entry.account_id.map(core::AccountId::get),
            enrollment_id: entry.enrollment_id.map(|id| id.to_string()),
            event: entry.event.into(),
            request_id: entry.request_id.map(|id| id.to_string()),
            summary: entry.summary,
            hash: encode_hex(&entry.hash),
        }
    }
}

/// A server profile, checked: what the app pins.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerProfileSummary {
    /// The server's base URL, without a trailing slash.
    pub base_url: String,
    /// The fingerprint of the server's key (`sha256:` and 64 hex characters).
    pub fingerprint: String,
}

impl From<&protocol::ServerProfile> for ServerProfileSummary {
    fn from(profile: &protocol::ServerProfile) -> Self {
        Self {
            base_url: profile.base_url().to_owned(),
            fingerprint: profile.fingerprint().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_that_is_not_utf8_is_bad_input() {
        assert!(matches!(
            pin_text(vec![0xff, 0x34]),
            Err(AuthenticatorError::BadInput { .. })
        ));
        assert_eq!(pin_text(b"402917".to_vec()).unwrap().as_str(), "402917");
        let unlock = core::Unlock::try_from(Unlock::Pin {
            pin: b"402917".to_vec(),
        })
        .unwrap();
        assert_eq!(format!("{unlock:?}"), "Unlock::Pin([redacted])");
    }

    #[test]
    fn identifiers_cross_as_lowercase_hex() {
        let replacement = protocol::ReplacementId::from_bytes([0xab; 16]);
        let state = AccountState::from(core::AccountState::Pending {
            replacement,
            held: true,
            effective_at: Some(5),
        });
        assert_eq!(
            state,
            AccountState::Pending {
                replacement: "ab".repeat(16),
                held: true,
                effective_at: Some(5)
            }
        );
    }

    #[test]
    fn a_finding_keeps_its_kind_with_its_fields() {
        let finding = Finding::from(core::Finding {
            kind: core::FindingKind::ClockOff {
                offset_seconds: -90,
            },
            text: "text".to_owned(),
            step: "step".to_owned(),
        });
        assert_eq!(
            finding.kind,
            FindingKind::ClockOff {
                offset_seconds: -90
            }
        );
    }
}
