//! The platform keystore hook: where the phone's keys live and how secrets are
//! sealed at rest.
//!
//! Android implements it with the Android Keystore (StrongBox when present), iOS
//! with the Secure Enclave and the keychain; [`SoftwareKeystore`] serves desktops
//! and tests.
//!
//! Invariants:
//! - keys never leave the keystore: the core names them by alias and asks for
//!   operations (sign, seal, open), never for key bytes;
//! - plaintext secrets cross this boundary only into [`PlatformKeystore::seal`] /
//!   [`PlatformKeystore::seal_biometric`] and out of the matching `open`, as
//!   [`SecretBytes`];
//! - every method returns a `Result`; an implementation never panics and never
//!   calls back into the authenticator.
//!
//! [`SoftwareKeystore`]: super::SoftwareKeystore

use crate::secret::SecretBytes;

/// What kind of keystore holds the phone's keys, as the keystore itself declares
/// it: the protocol's [`crate::protocol::KeystoreKind`] (the byte it travels as in
/// an activation), re-used here with the text spellings the store and the CLI use.
///
/// Until key attestation exists this is self-declared: a modified app can claim
/// anything. Servers in production mode refuse [`KeystoreKind::Software`].
pub use crate::protocol::KeystoreKind;

impl KeystoreKind {
    /// The stable text form: `software`, `hardware`, `strongbox` or `secure-enclave`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeystoreKind::Software => "software",
            KeystoreKind::HardwareBacked => "hardware",
            KeystoreKind::StrongBox => "strongbox",
            KeystoreKind::SecureEnclave => "secure-enclave",
        }
    }

    /// Whether the keys are held by hardware that does not let them out.
    pub fn is_hardware(self) -> bool {
        !matches!(self, KeystoreKind::Software)
    }
}

impl std::fmt::Display for KeystoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeystoreKind {
    type Err = KeystoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "software" => Ok(KeystoreKind::Software),
            "hardware" => Ok(KeystoreKind::HardwareBacked),
            "strongbox" => Ok(KeystoreKind::StrongBox),
            "secure-enclave" => Ok(KeystoreKind::SecureEnclave),
            _ => Err(KeystoreError::Platform(format!(
                "unknown keystore kind {:?}",
                text.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// A secret sealed by a keystore: opaque bytes that only the keystore that made
/// them, under the alias that made them, can open.
///
/// Sealed blobs are not secret, and this is the only form in which the store
/// accepts a secret. `Debug` prints the length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBlob(Vec<u8>);

impl SealedBlob {
    /// Wraps bytes that a keystore returned from `seal` or `seal_biometric`, or
    /// that the store read back. Nothing else should make one.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The sealed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The sealed bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl std::fmt::Debug for SealedBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedBlob({} bytes)", self.0.len())
    }
}

/// Why a keystore operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// No key exists under this alias (never created, deleted, or lost with an
    /// app reinstall).
    #[error("no key exists under this alias")]
    KeyNotFound,
    /// A key already exists under this alias; delete it first to replace it.
    #[error("a key already exists under this alias")]
    AlreadyExists,
    /// The alias names a key of another kind (a signing key used to seal, a
    /// sealing key used with a biometric prompt…).
    #[error("the key under this alias is of another kind")]
    WrongKeyKind,
    /// The alias is empty, too long (over 200 bytes) or has control characters.
    #[error("the key alias is not acceptable")]
    BadAlias,
    /// The blob does not open: it was sealed under another alias or keystore, or
    /// it was changed. Opaque on purpose.
    #[error("the sealed blob could not be opened")]
    BadBlob,
    /// The user dismissed the biometric prompt (or chose "use PIN").
    #[error("the biometric prompt was cancelled")]
    Cancelled,
    /// Too many failed biometric attempts: the sensor is locked out for now.
    #[error("biometrics are locked out after too many attempts")]
    Lockout,
    /// The biometric key was invalidated because a new fingerprint or face was
    /// enrolled (or biometrics were removed); it can never be used again. Fall
    /// back to the PIN and offer to re-enable biometrics.
    #[error("the biometric key was invalidated by a change of enrolled biometrics")]
    Invalidated,
    /// The device has no usable strong biometric (no sensor, or nothing enrolled).
    #[error("no strong biometric is available on this device")]
    BiometricUnavailable,
    /// A keystore file that other users may read or write: refused rather than
    /// trusted.
    #[error("the keystore file {path} is accessible to other users; refusing to use it")]
    InsecurePermissions {
        /// The file or folder that is too open.
        path: std::path::PathBuf,
    },
    /// A cryptographic primitive failed (random generator, key generation). Opaque.
    #[error("a cryptographic operation failed")]
    Crypto,
    /// Any other failure of the host keystore or its storage, described by the
    /// host. The bindings map an unexpected foreign exception here.
    #[error("the platform keystore failed: {0}")]
    Platform(String),
}

/// The phone's keystore, implemented by the platform (Android Keystore, Secure
/// Enclave) or by [`SoftwareKeystore`](super::SoftwareKeystore).
///
/// Keys are named by alias. Aliases share one namespace, as in the Android
/// Keystore: one alias names one key of one kind (signing, sealing or
/// biometric). Aliases are at most 200 bytes of UTF-8 without control
/// characters.
///
/// Implementations **must not call back into the authenticator** from any method
/// (the authenticator may hold its own locks while it calls the keystore), must
/// be safe to call from any thread, and may block: the biometric methods show a
/// system prompt and wait for the user, so the core is always called off the
/// main thread. Every method returns a `Result`; a host exception that fits no
/// other variant becomes [`KeystoreError::Platform`].
pub trait PlatformKeystore: Send + Sync {
    /// Which kind of keystore this is, as it declares itself.
    fn kind(&self) -> KeystoreKind;

    /// Creates a non-exportable ECDSA P-256 signing key under `alias` and returns
    /// its public key: 65 bytes, uncompressed SEC1 (`04 ‖ x ‖ y`). Fails with
    /// [`KeystoreError::AlreadyExists`] if the alias is taken.
    fn create_signing_key(&self, alias: &str) -> Result<Vec<u8>, KeystoreError>;

    /// Signs `message` with the signing key `alias` (ECDSA P-256 over SHA-256)
    /// and returns the ASN.1 DER signature. Needs no user presence.
    fn sign(&self, alias: &str, message: &[u8]) -> Result<Vec<u8>, KeystoreError>;

    /// Deletes the key under `alias`, of whatever kind. Every blob sealed under a
    /// deleted sealing or biometric key becomes unopenable: deleting the key is
    /// how a wipe destroys sealed secrets. Deleting an alias that has no key
    /// succeeds.
    fn delete_key(&self, alias: &str) -> Result<(), KeystoreError>;

    /// Seals `plaintext` with the device-bound sealing key `alias`, creating that
    /// key on first use. The key needs no user presence but never leaves the
    /// device (Android Keystore AES-GCM; an iOS keychain or Secure Enclave key with
    /// `ThisDeviceOnly` protection). The blob opens only with this alias.
    fn seal(&self, alias: &str, plaintext: &SecretBytes) -> Result<SealedBlob, KeystoreError>;

    /// Opens a blob made by [`PlatformKeystore::seal`] under the same `alias`.
    /// A changed blob, or one sealed under another alias, fails with
    /// [`KeystoreError::BadBlob`].
    fn open(&self, alias: &str, blob: &SealedBlob) -> Result<SecretBytes, KeystoreError>;

    /// Creates a biometric-only key under `alias`: usable only after a strong
    /// biometric authentication for each use, with no device-credential
    /// fallback, and invalidated when biometrics are enrolled anew (Android:
    /// `setUserAuthenticationRequired(true)`, `BIOMETRIC_STRONG`,
    /// `setInvalidatedByBiometricEnrollment(true)`; iOS: a Secure Enclave key
    /// with `.biometryCurrentSet`). Fails with
    /// [`KeystoreError::BiometricUnavailable`] when there is nothing to bind to.
    fn create_biometric_key(&self, alias: &str) -> Result<(), KeystoreError>;

    /// Seals `plaintext` with the biometric key `alias`. On iOS this needs no
    /// prompt (ECIES to the key's public half); an Android implementation may
    /// prompt, and may then end in [`KeystoreError::Cancelled`] or
    /// [`KeystoreError::Lockout`]. An invalidated key fails with
    /// [`KeystoreError::Invalidated`].
    fn seal_biometric(
        &self,
        alias: &str,
        plaintext: &SecretBytes,
    ) -> Result<SealedBlob, KeystoreError>;

    /// Shows the system biometric prompt with `prompt_text` (what is being
    /// approved) and, once the user authenticates, opens a blob made by
    /// [`PlatformKeystore::seal_biometric`] under the same `alias`. Ends in
    /// [`KeystoreError::Cancelled`], [`KeystoreError::Lockout`] or
    /// [`KeystoreError::Invalidated`] when the user or the system says no.
    fn open_biometric(
        &self,
        alias: &str,
        blob: &SealedBlob,
        prompt_text: &str,
    ) -> Result<SecretBytes, KeystoreError>;
}

impl<K: PlatformKeystore + ?Sized> PlatformKeystore for std::sync::Arc<K> {
    fn kind(&self) -> KeystoreKind {
        (**self).kind()
    }
    fn create_signing_key(&self, alias: &str) -> Result<Vec<u8>, KeystoreError> {
        (**self).create_signing_key(alias)
    }
    fn sign(&self, alias: &str, message: &[u8]) -> Result<Vec<u8>, KeystoreError> {
        (**self).sign(alias, message)
    }
    fn delete_key(&self, alias: &str) -> Result<(), KeystoreError> {
        (**self).delete_key(alias)
    }
    fn seal(&self, alias: &str, plaintext: &SecretBytes) -> Result<SealedBlob, KeystoreError> {
        (**self).seal(alias, plaintext)
    }
    fn open(&self, alias: &str, blob: &SealedBlob) -> Result<SecretBytes, KeystoreError> {
        (**self).open(alias, blob)
    }
    fn create_biometric_key(&self, alias: &str) -> Result<(), KeystoreError> {
        (**self).create_biometric_key(alias)
    }
    fn seal_biometric(
        &self,
        alias: &str,
        plaintext: &SecretBytes,
    ) -> Result<SealedBlob, KeystoreError> {
        (**self).seal_biometric(alias, plaintext)
    }
    fn open_biometric(
        &self,
        alias: &str,
        blob: &SealedBlob,
        prompt_text: &str,
    ) -> Result<SecretBytes, KeystoreError> {
        (**self).open_biometric(alias, blob, prompt_text)
    }
}

/// Checks an alias against the rules of [`PlatformKeystore`]: 1 to 200 bytes of
/// UTF-8 without control characters.
pub fn check_alias(alias: &str) -> Result<(), KeystoreError> {
    if alias.is_empty() || alias.len() > 200 || alias.chars().any(char::is_control) {
        return Err(KeystoreError::BadAlias);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystore_kinds_have_one_spelling() {
        for kind in [
            KeystoreKind::Software,
            KeystoreKind::HardwareBacked,
            KeystoreKind::StrongBox,
            KeystoreKind::SecureEnclave,
        ] {
            assert_eq!(kind.as_str().parse::<KeystoreKind>().unwrap(), kind);
            assert_eq!(kind.is_hardware(), kind != KeystoreKind::Software);
        }
        assert!("Software".parse::<KeystoreKind>().is_err());
    }

    #[test]
    fn debug_of_a_sealed_blob_shows_only_its_length() {
        let blob = SealedBlob::new(vec![0xAB; 40]);
        assert_eq!(format!("{blob:?}"), "SealedBlob(40 bytes)");
    }

    #[test]
    fn aliases_are_checked() {
        assert!(check_alias("latchkey/1/device").is_ok());
        assert_eq!(check_alias(""), Err(KeystoreError::BadAlias));
        assert_eq!(check_alias("a\nb"), Err(KeystoreError::BadAlias));
        assert_eq!(check_alias(&"a".repeat(201)), Err(KeystoreError::BadAlias));
    }
}
