//! Every error that crosses the FFI, and every conversion between them and
//! core's errors — in this one file (docs/STYLE.md §7).
//!
//! - [`AuthenticatorError`] is what the shells catch (Kotlin
//!   `AuthenticatorException`, Swift `AuthenticatorError`): one variant per
//!   thing a caller acts on differently, keeping its fields (attempts left, retry
//!   after, which phone replaced this one…). Its `Display` (Kotlin `toString()`,
//!   Swift `description`) is for logs; the shells map each variant to their own
//!   localisable text.
//! - [`KeystoreError`], [`TransportError`] and [`LogSinkError`] are what the
//!   host's hook implementations throw. Each absorbs an exception the host did
//!   not declare ([`UnexpectedUniFFICallbackError`]), so a throwing hook is an
//!   error, never a panic.
//!
//! Invariants: no variant carries a secret; texts come from `Display` of the
//! lower error (which core keeps free of secrets), never from `Debug`; a core
//! variant these bindings do not know yet becomes [`AuthenticatorError::Internal`]
//! with its `Display` text.

use latchkey_core::device as core;
use uniffi::UnexpectedUniFFICallbackError;

/// Why an [`Authenticator`](crate::Authenticator) call did not succeed. Each
/// variant is something the app handles differently; `docs/INTEGRATION.md`
/// suggests the screen for each.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
#[non_exhaustive]
pub enum AuthenticatorError {
    /// The server counted a wrong response: the PIN was wrong (or the phone's
    /// clock is far off). The login request has ended. Say how many attempts are
    /// left before the enrollment is disabled and, from the third failure, when
    /// the next attempt is allowed.
    #[error("the PIN (or the response) was wrong")]
    WrongResponse {
        /// Attempts left before the enrollment is disabled, if the server said.
        attempts_left: Option<u64>,
        /// When the next attempt is allowed (Unix seconds, server time), if delayed.
        retry_after: Option<u64>,
    },
    /// Attempts are delayed after repeated failures; this one was refused and
    /// not counted. Try again at `retry_after`.
    #[error("too many wrong attempts: wait before trying again")]
    Delayed {
        /// When the next attempt is allowed (Unix seconds, server time), if the
        /// server said.
        retry_after: Option<u64>,
    },
    /// Too many wrong PINs: the account needs a password reset (at the login
    /// screen) before this phone can approve again.
    #[error("the account needs a password reset")]
    PasswordResetRequired,
    /// The enrollment is disabled after too many wrong PINs: the account must be
    /// moved to a phone again (activation).
    #[error("this phone's enrollment is disabled until the account is moved to a phone again")]
    Disabled,
    /// Another phone replaced this one (a signed notice said so): the account's
    /// secrets were wiped here.
    #[error("the account moved to another phone ({by})")]
    Replaced {
        /// The phone that replaced this one, as the server named it.
        by: String,
        /// When this phone learned it (Unix seconds).
        at: u64,
    },
    /// The account's secrets were wiped on this phone (removed or revoked).
    #[error("this account was removed from this phone")]
    AccountWiped,
    /// The account's activation waits for the old phone's approval or the end of
    /// the hold period; sync later.
    #[error("the account's activation has not completed yet")]
    ActivationPending,
    /// No account on this phone has this id.
    #[error("no account {account_id} on this phone")]
    NoSuchAccount {
        /// The id asked for.
        account_id: i64,
    },
    /// New fingerprints or faces were enrolled, so the biometric key is gone for
    /// good (and the biometric copy was dropped): use the PIN, then offer to turn
    /// biometrics on again.
    #[error("biometrics changed on this phone: use your PIN, then re-enable biometrics")]
    BiometricInvalidated,
    /// The user dismissed the biometric prompt: offer the PIN.
    #[error("the biometric prompt was cancelled")]
    BiometricCancelled,
    /// Too many failed biometric attempts: the sensor is locked for now; use the PIN.
    #[error("biometrics are locked out: use your PIN")]
    BiometricLockout,
    /// Biometrics are not turned on for this account (or the device has none).
    #[error("biometrics are not enabled for this account")]
    BiometricNotEnabled,
    /// The server could not be reached (no network, timeout, TLS failure). The
    /// offline challenge/response still works.
    #[error("the server could not be reached")]
    Offline,
    /// The login request, ticket or proof expired.
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
    /// The phone's database is damaged or was changed outside the app. It was
    /// left untouched: never delete it (credentials cannot be recreated).
    #[error("the phone's database is damaged; it was left untouched")]
    StorageCorrupt,
    /// The local history was changed, or entries were removed.
    #[error("the local history was tampered with: {detail}")]
    HistoryTampered {
        /// Where the chain breaks.
        detail: String,
    },
    /// The new PIN is refused by the PIN policy.
    #[error("the PIN is not acceptable: {reason}")]
    WeakPin {
        /// Why (too short, too simple, on the blocklist…).
        reason: String,
    },
    /// The two entries of the new PIN differ.
    #[error("the two PIN entries differ")]
    PinMismatch,
    /// An argument from the user or the app is malformed.
    #[error("invalid input: {reason}")]
    BadInput {
        /// Which argument, and what is expected.
        reason: String,
    },
    /// The server refused with an error this library has no special handling for.
    #[error("the server refused: {code}: {detail}")]
    ServerRefused {
        /// The server's error code (`snake_case`).
        code: String,
        /// The server's text (at most 256 characters).
        detail: String,
    },
    /// The server, or something in between (a proxy, a captive portal),
    /// answered with something that is not the protocol.
    #[error("the server's answer was not understood (HTTP {status})")]
    UnexpectedAnswer {
        /// The HTTP status of the answer.
        status: u16,
    },
    /// A server message failed a protocol check (signature, server, enrollment,
    /// epoch, form…): nothing in it was used.
    #[error("the server's message was refused: {reason}")]
    ServerMessageRefused {
        /// Which check failed.
        reason: String,
    },
    /// The platform keystore failed (including an exception it threw).
    #[error("the keystore failed: {reason}")]
    Keystore {
        /// What failed.
        reason: String,
    },
    /// The phone's database failed (disk full, locked…).
    #[error("the phone's database failed: {reason}")]
    Storage {
        /// What failed.
        reason: String,
    },
    /// A failure these bindings have no variant for (a newer core). Log it.
    #[error("internal error: {reason}")]
    Internal {
        /// What failed.
        reason: String,
    },
}

impl From<core::AuthenticatorError> for AuthenticatorError {
    fn from(error: core::AuthenticatorError) -> Self {
        use core::AuthenticatorError as E;
        match error {
            E::WrongResponse {
                attempts_left,
                retry_after,
            } => Self::WrongResponse {
                attempts_left,
                retry_after,
            },
            E::Delayed { retry_after } => Self::Delayed { retry_after },
            E::PasswordResetRequired => Self::PasswordResetRequired,
            E::Disabled => Self::Disabled,
            E::Replaced { by, at } => Self::Replaced { by, at },
            E::AccountWiped => Self::AccountWiped,
            E::ActivationPending => Self::ActivationPending,
            E::NoSuchAccount(id) => Self::NoSuchAccount {
                account_id: id.get(),
            },
            E::BiometricInvalidated => Self::BiometricInvalidated,
            E::BiometricCancelled => Self::BiometricCancelled,
            E::BiometricLockout => Self::BiometricLockout,
            E::BiometricNotEnabled => Self::BiometricNotEnabled,
            E::Offline => Self::Offline,
            E::Expired => Self::Expired,
            E::AlreadyDecided => Self::AlreadyDecided,
            E::UnknownRequest => Self::UnknownRequest,
            E::CodeMismatch => Self::CodeMismatch,
            E::WrongActivationCode { attempts_left } => Self::WrongActivationCode { attempts_left },
            E::StorageCorrupt => Self::StorageCorrupt,
            E::HistoryTampered(detail) => Self::HistoryTampered { detail },
            E::WeakPin(reason) => Self::WeakPin { reason },
            E::PinMismatch => Self::PinMismatch,
            E::BadInput(reason) => Self::BadInput { reason },
            E::ServerRefused { code, message } => Self::ServerRefused {
                code,
                detail: message,
            },
            E::UnexpectedAnswer { status } => Self::UnexpectedAnswer { status },
            E::Protocol(error) => Self::ServerMessageRefused {
                reason: error.to_string(),
            },
            E::Keystore(error) => Self::Keystore {
                reason: error.to_string(),
            },
            E::Storage(error) => Self::Storage {
                reason: error.to_string(),
            },
            other => Self::Internal {
                reason: other.to_string(),
            },
        }
    }
}

impl AuthenticatorError {
    /// The error for a value core returned that these bindings cannot express.
    pub(crate) fn unknown(what: &str) -> Self {
        Self::Internal {
            reason: format!("this version of the bindings does not know this {what}"),
        }
    }

    /// A malformed argument.
    pub(crate) fn bad_input(reason: impl Into<String>) -> Self {
        Self::BadInput {
            reason: reason.into(),
        }
    }
}

/// What a [`PlatformKeystore`](crate::PlatformKeystore) implementation throws.
/// Throw the variant that says what happened; any other exception is taken as
/// [`KeystoreError::Platform`] with the exception's text.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum KeystoreError {
    /// No key exists under this alias.
    #[error("no key exists under this alias")]
    KeyNotFound,
    /// A key already exists under this alias.
    #[error("a key already exists under this alias")]
    AlreadyExists,
    /// The alias names a key of another kind.
    #[error("the key under this alias is of another kind")]
    WrongKeyKind,
    /// The blob does not open (sealed under another alias, or changed).
    #[error("the sealed blob could not be opened")]
    BadBlob,
    /// The user dismissed the biometric prompt (or chose "use PIN").
    #[error("the biometric prompt was cancelled")]
    Cancelled,
    /// Too many failed biometric attempts: the sensor is locked out for now.
    #[error("biometrics are locked out after too many attempts")]
    Lockout,
    /// The biometric key was invalidated by a change of enrolled biometrics
    /// (Android `KeyPermanentlyInvalidatedException`).
    #[error("the biometric key was invalidated by a change of enrolled biometrics")]
    Invalidated,
    /// The device has no usable strong biometric (no sensor, nothing enrolled).
    #[error("no strong biometric is available on this device")]
    BiometricUnavailable,
    /// Any other failure of the platform keystore.
    #[error("the platform keystore failed: {reason}")]
    Platform {
        /// What failed (no key material, no plaintext).
        reason: String,
    },
}

impl From<UnexpectedUniFFICallbackError> for KeystoreError {
    fn from(error: UnexpectedUniFFICallbackError) -> Self {
        Self::Platform {
            reason: format!("unexpected exception: {}", error.reason),
        }
    }
}

impl From<KeystoreError> for core::KeystoreError {
    fn from(error: KeystoreError) -> Self {
        match error {
            KeystoreError::KeyNotFound => Self::KeyNotFound,
            KeystoreError::AlreadyExists => Self::AlreadyExists,
            KeystoreError::WrongKeyKind => Self::WrongKeyKind,
            KeystoreError::BadBlob => Self::BadBlob,
            KeystoreError::Cancelled => Self::Cancelled,
            KeystoreError::Lockout => Self::Lockout,
            KeystoreError::Invalidated => Self::Invalidated,
            KeystoreError::BiometricUnavailable => Self::BiometricUnavailable,
            KeystoreError::Platform { reason } => Self::Platform(reason),
        }
    }
}

/// What a [`Transport`](crate::Transport) implementation throws when a request
/// got no response at all. An HTTP error status is not an error: return it as a
/// [`TransportResponse`](crate::TransportResponse). Any other exception is taken
/// as [`TransportError::Other`].
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum TransportError {
    /// The device has no network (airplane mode, no data, no route, refused).
    #[error("the device is offline")]
    Offline,
    /// The server did not answer in time.
    #[error("the server did not answer in time")]
    Timeout,
    /// The TLS connection could not be set up (certificate, handshake, captive portal).
    #[error("the secure connection to the server failed")]
    Tls,
    /// Anything else.
    #[error("the request failed: {reason}")]
    Other {
        /// What failed.
        reason: String,
    },
}

impl From<UnexpectedUniFFICallbackError> for TransportError {
    fn from(error: UnexpectedUniFFICallbackError) -> Self {
        Self::Other {
            reason: format!("unexpected exception: {}", error.reason),
        }
    }
}

impl From<TransportError> for core::TransportError {
    fn from(error: TransportError) -> Self {
        match error {
            TransportError::Offline => Self::Offline,
            TransportError::Timeout => Self::Timeout,
            TransportError::Tls => Self::Tls,
            TransportError::Other { reason } => Self::Other(reason),
        }
    }
}

/// What a [`LogSink`](crate::LogSink) may throw; the record is then dropped.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum LogSinkError {
    /// The sink could not take the record.
    #[error("the log sink failed: {reason}")]
    Failed {
        /// What failed.
        reason: String,
    },
}

impl From<UnexpectedUniFFICallbackError> for LogSinkError {
    fn from(error: UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            reason: error.reason,
        }
    }
}

/// What the app's [`ScreenListener`](crate::ScreenListener) may throw: the
/// model logs it and carries on.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum ListenerError {
    /// The listener could not take the change.
    #[error("the screen listener failed: {reason}")]
    Failed {
        /// What failed.
        reason: String,
    },
}

impl From<UnexpectedUniFFICallbackError> for ListenerError {
    fn from(error: UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            reason: error.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::device::{AccountId, DeviceStoreError};
    use latchkey_core::protocol::ProtocolError;

    #[test]
    fn core_errors_keep_their_fields_across_the_ffi() {
        let converted = AuthenticatorError::from(core::AuthenticatorError::WrongResponse {
            attempts_left: Some(7),
            retry_after: Some(1_800_000_030),
        });
        assert!(matches!(
            converted,
            AuthenticatorError::WrongResponse {
                attempts_left: Some(7),
                retry_after: Some(1_800_000_030)
            }
        ));
        let converted = AuthenticatorError::from(core::AuthenticatorError::Replaced {
            by: "Pixel 9".to_owned(),
            at: 42,
        });
        assert!(
            matches!(&converted, AuthenticatorError::Replaced { by, at: 42 } if by == "Pixel 9")
        );
        assert_eq!(
            converted.to_string(),
            "the account moved to another phone (Pixel 9)"
        );
        let converted = AuthenticatorError::from(core::AuthenticatorError::NoSuchAccount(
            AccountId::from_raw(12),
        ));
        assert!(matches!(
            converted,
            AuthenticatorError::NoSuchAccount { account_id: 12 }
        ));
        let converted = AuthenticatorError::from(core::AuthenticatorError::ServerRefused {
            code: "quota".to_owned(),
            message: "later".to_owned(),
        });
        assert_eq!(converted.to_string(), "the server refused: quota: later");
    }

    #[test]
    fn lower_errors_arrive_as_their_display_text_never_their_debug() {
        let converted = AuthenticatorError::from(core::AuthenticatorError::Protocol(
            ProtocolError::WrongEpoch {
                expected: 2,
                found: 1,
            },
        ));
        match converted {
            AuthenticatorError::ServerMessageRefused { reason } => {
                assert_eq!(reason, "the message is for epoch 1, expected 2");
                assert!(!reason.contains("WrongEpoch"));
            }
            other => panic!("{other}"),
        }
        let converted = AuthenticatorError::from(core::AuthenticatorError::Storage(
            DeviceStoreError::OutOfRange("epoch"),
        ));
        assert!(
            matches!(converted, AuthenticatorError::Storage { reason } if reason == "the epoch is out of range")
        );
    }

    #[test]
    fn an_unexpected_host_exception_becomes_a_typed_hook_error() {
        let keystore = KeystoreError::from(UnexpectedUniFFICallbackError::new(
            "java.lang.IllegalStateException: no Keystore",
        ));
        assert_eq!(
            core::KeystoreError::from(keystore),
            core::KeystoreError::Platform(
                "unexpected exception: java.lang.IllegalStateException: no Keystore".to_owned()
            )
        );
        let transport = TransportError::from(UnexpectedUniFFICallbackError::new("boom"));
        assert_eq!(
            core::TransportError::from(transport),
            core::TransportError::Other("unexpected exception: boom".to_owned())
        );
        assert!(matches!(
            LogSinkError::from(UnexpectedUniFFICallbackError::new("x")),
            LogSinkError::Failed { .. }
        ));
    }

    #[test]
    fn declared_hook_errors_map_one_to_one() {
        for (ffi, core) in [
            (KeystoreError::Invalidated, core::KeystoreError::Invalidated),
            (KeystoreError::Cancelled, core::KeystoreError::Cancelled),
            (KeystoreError::Lockout, core::KeystoreError::Lockout),
            (KeystoreError::BadBlob, core::KeystoreError::BadBlob),
            (
                KeystoreError::BiometricUnavailable,
                core::KeystoreError::BiometricUnavailable,
            ),
        ] {
            assert_eq!(core::KeystoreError::from(ffi), core);
        }
        assert_eq!(
            core::TransportError::from(TransportError::Timeout),
            core::TransportError::Timeout
        );
        // …and the keystore's biometric failures reach the app as their own variants.
        assert!(matches!(
            AuthenticatorError::from(core::AuthenticatorError::from(
                core::KeystoreError::Invalidated
            )),
            AuthenticatorError::BiometricInvalidated
        ));
    }
}
