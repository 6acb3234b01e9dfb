//! The one error type of the [`Authenticator`](super::Authenticator): a variant
//! for each thing a shell acts on differently.
//!
//! Invariants: no variant carries a secret (no PIN, no `k_user`, no response, no
//! body); texts that come from a server are cut to [`MAX_SERVER_TEXT`]
//! characters; the conversions from the layers below (protocol, keystore, store,
//! history) are the only places that decide which variant a lower error becomes.

use crate::device::history::HistoryError;
use crate::device::keystore::KeystoreError;
use crate::device::store::{AccountId, DeviceStoreError};
use crate::protocol::ProtocolError;

/// The longest server-provided text kept in an error.
pub const MAX_SERVER_TEXT: usize = 256;

/// Why an [`Authenticator`](super::Authenticator) call did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthenticatorError {
    /// The server counted a wrong response (the PIN was wrong, or the phone's
    /// clock is far off): say how many attempts are left before the enrollment is
    /// disabled and, from the third failure, when the next attempt is allowed.
    #[error("the PIN (or the response) was wrong")]
    WrongResponse {
        /// Attempts left before the enrollment is disabled, if the server said.
        attempts_left: Option<u64>,
        /// When the next attempt is allowed (Unix seconds, server time), if delayed.
        retry_after: Option<u64>,
    },
    /// Attempts are delayed after repeated failures; this one was refused and not
    /// counted. Try again at `retry_after`.
    #[error("too many wrong attempts: wait before trying again")]
    Delayed {
        /// When the next attempt is allowed (Unix seconds, server time), if the
        /// server said.
        retry_after: Option<u64>,
    },
    /// Too many wrong PINs: the account needs a password reset (at the login
    /// screen or with the integrator) before this phone can approve again.
    #[error("the account needs a password reset")]
    PasswordResetRequired,
    /// The enrollment is disabled after too many wrong PINs: move the account to
    /// a phone again (activation).
    #[error("this phone's enrollment is disabled until the account is moved to a phone again")]
    Disabled,
    /// Another phone replaced this one (a signed notice said so): the account's
    /// secrets were wiped here.
    #[error("the account moved to another phone ({by})")]
    Replaced {
        /// The phone that replaced this one, as the server named it.
        by: String,
        /// When (Unix seconds).
        at: u64,
    },
    /// The account's secrets were wiped on this phone (removed or revoked).
    #[error("this account was removed from this phone")]
    AccountWiped,
    /// The account's activation waits for the old phone's approval or the end of
    /// the hold period; it cannot be used yet.
    #[error("the account's activation has not completed yet")]
    ActivationPending,
    /// No account on this phone has this id.
    #[error("no such account on this phone")]
    NoSuchAccount(AccountId),
    /// New fingerprints or faces were enrolled on the phone, so the biometric key
    /// is gone for good: use the PIN, then turn biometrics on again.
    #[error("biometrics changed on this phone: use your PIN, then re-enable biometrics")]
    BiometricInvalidated,
    /// The user dismissed the biometric prompt.
    #[error("the biometric prompt was cancelled")]
    BiometricCancelled,
    /// Too many failed biometric attempts: the sensor is locked for now; use the PIN.
    #[error("biometrics are locked out: use your PIN")]
    BiometricLockout,
    /// Biometrics are not turned on for this account (or this device has none).
    #[error("biometrics are not enabled for this account")]
    BiometricNotEnabled,
    /// The server could not be reached (no network, timeout, TLS failure): the
    /// offline challenge/response still works.
    #[error("the server could not be reached")]
    Offline,
    /// The request, ticket or proof expired.
    #[error("this request has expired")]
    Expired,
    /// The login request was already approved or denied.
    #[error("this request was already decided")]
    AlreadyDecided,
    /// No account on this phone knows this login request (it ended, or was not
    /// for this phone): show nothing.
    #[error("no account on this phone has this login request")]
    UnknownRequest,
    /// The code typed is not the one on the login screen: the server ended the
    /// login and recorded it as possible fraud (no PIN attempt was counted).
    #[error("the code does not match the login screen; the login was ended")]
    CodeMismatch,
    /// The activation code from the SMS was wrong; after three wrong codes the
    /// activation must be started again.
    #[error("the activation code is wrong")]
    WrongActivationCode {
        /// Tries left for this activation, if the server said.
        attempts_left: Option<u64>,
    },
    /// The phone's database is corrupt or was changed outside the app. It was
    /// left untouched (credentials cannot be recreated).
    #[error("the phone's database is damaged; it was left untouched")]
    StorageCorrupt,
    /// The local history was changed or entries were removed.
    #[error("the local history was tampered with: {0}")]
    HistoryTampered(String),
    /// The new PIN is refused by the PIN policy; the text says why.
    #[error("the PIN is not acceptable: {0}")]
    WeakPin(String),
    /// The two entries of the new PIN differ.
    #[error("the two PIN entries differ")]
    PinMismatch,
    /// An argument from the user or the shell is malformed (the text names it).
    #[error("invalid input: {0}")]
    BadInput(String),
    /// The server refused with an error this phone has no special handling for.
    #[error("the server refused: {code}: {message}")]
    ServerRefused {
        /// The server's error code (`snake_case`).
        code: String,
        /// The server's message (at most 256 characters).
        message: String,
    },
    /// The server (or something in between: a proxy, a captive portal) answered
    /// with something that is not the protocol.
    #[error("the server's answer was not understood (HTTP {status})")]
    UnexpectedAnswer {
        /// The HTTP status of the answer.
        status: u16,
    },
    /// A server message failed a protocol check (signature, server, enrollment,
    /// epoch, form…): nothing in it was used.
    #[error("the server's message was refused: {0}")]
    Protocol(ProtocolError),
    /// The platform keystore failed.
    #[error("the keystore failed: {0}")]
    Keystore(KeystoreError),
    /// The phone's database failed (disk full, locked…).
    #[error("the phone's database failed: {0}")]
    Storage(DeviceStoreError),
}

/// Cuts a server-provided text to [`MAX_SERVER_TEXT`] characters and drops
/// control, format and bidi characters (an unsigned error message is shown, so
/// it is neutralised rather than refused; PROTOCOL §4).
pub(crate) fn server_text(text: &str) -> String {
    text.chars()
        .filter(|c| !crate::protocol::text::is_disguising(*c))
        .take(MAX_SERVER_TEXT)
        .collect()
}

impl From<ProtocolError> for AuthenticatorError {
    fn from(error: ProtocolError) -> Self {
        match error {
            ProtocolError::Expired { .. } => AuthenticatorError::Expired,
            ProtocolError::WeakPin(reason) => AuthenticatorError::WeakPin(reason.to_owned()),
            ProtocolError::PinMismatch => AuthenticatorError::PinMismatch,
            ProtocolError::BadChallenge => AuthenticatorError::BadInput(
                "the challenge must be six digits from 100000 to 999999".to_owned(),
            ),
            other => AuthenticatorError::Protocol(other),
        }
    }
}

impl From<KeystoreError> for AuthenticatorError {
    fn from(error: KeystoreError) -> Self {
        match error {
            KeystoreError::Invalidated => AuthenticatorError::BiometricInvalidated,
            KeystoreError::Cancelled => AuthenticatorError::BiometricCancelled,
            KeystoreError::Lockout => AuthenticatorError::BiometricLockout,
            KeystoreError::BiometricUnavailable => AuthenticatorError::BiometricNotEnabled,
            other => AuthenticatorError::Keystore(other),
        }
    }
}

impl From<DeviceStoreError> for AuthenticatorError {
    fn from(error: DeviceStoreError) -> Self {
        match error {
            DeviceStoreError::Corrupt | DeviceStoreError::BadValue { .. } => {
                AuthenticatorError::StorageCorrupt
            }
            DeviceStoreError::NoSuchAccount(id) => AuthenticatorError::NoSuchAccount(id),
            DeviceStoreError::AccountWiped(_) => AuthenticatorError::AccountWiped,
            DeviceStoreError::ActivationPending(_) => AuthenticatorError::ActivationPending,
            other => AuthenticatorError::Storage(other),
        }
    }
}

impl From<HistoryError> for AuthenticatorError {
    fn from(error: HistoryError) -> Self {
        match error {
            HistoryError::BrokenChain { .. }
            | HistoryError::HeadMismatch
            | HistoryError::BadHeadMac
            | HistoryError::HeadMissing
            | HistoryError::BadEntry { .. } => {
                AuthenticatorError::HistoryTampered(error.to_string())
            }
            HistoryError::Keystore(error) => error.into(),
            HistoryError::Store(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsigned_server_text_loses_its_bidi_and_zero_width_characters() {
        assert_eq!(
            server_text("login from \u{202E}nodnoL\u{202C} via\u{200B} web\n"),
            "login from nodnoL via web"
        );
    }
}
