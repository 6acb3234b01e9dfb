//! The platform keystore as a foreign trait ([`PlatformKeystore`]: Android
//! Keystore, Secure Enclave and keychain, or a test keystore), and its adapter
//! to core's `PlatformKeystore`.
//!
//! Invariants: keys never cross — only public keys, signatures, sealed blobs
//! and, into `seal*` and out of `open*`, the plaintext secrets the keystore
//! protects (the only plaintext secrets that cross the FFI). What `open*`
//! returns is moved into core's zeroizing `SecretBytes` and the returned vector
//! is wiped; the copies UniFFI makes while passing a byte array (its transfer
//! buffers, the host's array) cannot be wiped from here, which is why the host
//! overwrites its arrays. Every host failure arrives as a `KeystoreError`,
//! including exceptions the host did not declare.

use crate::error::{AuthenticatorError, KeystoreError};
use crate::types::KeystoreKind;
use latchkey_core::device::{self as core, SealedBlob};
use latchkey_core::secret::SecretBytes;
use std::sync::Arc;
use zeroize::Zeroize;

/// The phone's keystore, implemented by the app: Android Keystore (StrongBox
/// when present, else TEE), or Secure Enclave and keychain on iOS.
///
/// Keys are named by alias; one alias names one key of one kind (signing,
/// sealing or biometric), as in the Android Keystore; aliases are at most 200
/// bytes without control characters.
///
/// Rules for implementations:
/// - **never call back into the `Authenticator`** from any method (it may hold
///   its own locks while it calls the keystore);
/// - be safe to call from any thread; methods may block — the biometric ones
///   show the system prompt and wait for the user, which is why the app calls
///   the `Authenticator` off the main thread;
/// - throw the `KeystoreError` variant that says what happened (`Cancelled`,
///   `Lockout`, `Invalidated`…); any other exception is reported as
///   `KeystoreError.Platform` and fails the operation, never the app;
/// - overwrite plaintext arrays (`seal*` arguments, and your own copies of
///   `open*` results) once used.
#[uniffi::export(foreign)]
pub trait PlatformKeystore: Send + Sync {
    /// Which kind of keystore this is. Read once, when the `Authenticator` opens.
    fn kind(&self) -> Result<KeystoreKind, KeystoreError>;

    /// Creates a non-exportable ECDSA P-256 signing key under `alias` (no user
    /// presence needed) and returns its public key: 65 bytes, uncompressed SEC1
    /// (`04 ‖ x ‖ y`). Throw `AlreadyExists` if the alias is taken.
    fn create_signing_key(&self, alias: String) -> Result<Vec<u8>, KeystoreError>;

    /// Signs `message` with the signing key `alias` (ECDSA P-256 over SHA-256,
    /// `SHA256withECDSA`) and returns the ASN.1 DER signature.
    fn sign(&self, alias: String, message: Vec<u8>) -> Result<Vec<u8>, KeystoreError>;

    /// Deletes the key under `alias`, of whatever kind; deleting an alias that
    /// has no key succeeds. Deleting a sealing or biometric key is how a wipe
    /// destroys what it sealed.
    fn delete_key(&self, alias: String) -> Result<(), KeystoreError>;

    /// Seals `plaintext` with the device-bound sealing key `alias`, creating the
    /// key on first use (AES-256-GCM in the Android Keystore, no user
    /// authentication; on iOS a `ThisDeviceOnly` key). Returns an opaque blob
    /// that only `open` with the same alias can open. Overwrite `plaintext`
    /// afterwards.
    fn seal(&self, alias: String, plaintext: Vec<u8>) -> Result<Vec<u8>, KeystoreError>;

    /// Opens a blob made by `seal` under the same alias. Throw `BadBlob` for a
    /// changed blob or one sealed under another alias, `KeyNotFound` when the
    /// key is gone.
    fn open(&self, alias: String, blob: Vec<u8>) -> Result<Vec<u8>, KeystoreError>;

    /// Creates a biometric-only key under `alias`: usable only after a strong
    /// biometric authentication for each use, no device-credential fallback,
    /// invalidated when biometrics are enrolled anew (Android:
    /// `setUserAuthenticationRequired(true)`, `BIOMETRIC_STRONG`,
    /// `setInvalidatedByBiometricEnrollment(true)`; iOS: a Secure Enclave key
    /// with `.biometryCurrentSet`). Throw `BiometricUnavailable` when there is
    /// nothing to bind to.
    fn create_biometric_key(&self, alias: String) -> Result<(), KeystoreError>;

    /// Seals `plaintext` with the biometric key `alias` (iOS: ECIES to the
    /// key's public half, no prompt; Android may prompt). Throw `Invalidated`
    /// if the key was invalidated. Overwrite `plaintext` afterwards.
    fn seal_biometric(&self, alias: String, plaintext: Vec<u8>) -> Result<Vec<u8>, KeystoreError>;

    /// Shows the system biometric prompt with `prompt_text` and, once the user
    /// authenticates, opens a blob made by `seal_biometric` under the same alias
    /// (Android: `BiometricPrompt` with a `CryptoObject` wrapping the key's
    /// cipher). Blocks until the user answers. Throw `Cancelled`, `Lockout` or
    /// `Invalidated` when the user or the system says no.
    fn open_biometric(
        &self,
        alias: String,
        blob: Vec<u8>,
        prompt_text: String,
    ) -> Result<Vec<u8>, KeystoreError>;
}

/// Core's keystore hook over the host's [`PlatformKeystore`].
pub(crate) struct KeystoreAdapter {
    host: Arc<dyn PlatformKeystore>,
    kind: core::KeystoreKind,
}

impl KeystoreAdapter {
    /// Wraps the host's keystore, reading its kind once.
    pub(crate) fn new(host: Arc<dyn PlatformKeystore>) -> Result<Self, AuthenticatorError> {
        let kind = host.kind().map_err(|error| {
            AuthenticatorError::from(core::AuthenticatorError::from(core::KeystoreError::from(
                error,
            )))
        })?;
        Ok(Self {
            host,
            kind: kind.into(),
        })
    }
}

/// Moves a plaintext the host returned into a zeroizing secret, wiping the vector.
fn secret(mut bytes: Vec<u8>) -> SecretBytes {
    let secret = SecretBytes::from_slice(&bytes);
    bytes.zeroize();
    secret
}

impl core::PlatformKeystore for KeystoreAdapter {
    fn kind(&self) -> core::KeystoreKind {
        self.kind
    }

    fn create_signing_key(&self, alias: &str) -> Result<Vec<u8>, core::KeystoreError> {
        Ok(self.host.create_signing_key(alias.to_owned())?)
    }

    fn sign(&self, alias: &str, message: &[u8]) -> Result<Vec<u8>, core::KeystoreError> {
        Ok(self.host.sign(alias.to_owned(), message.to_vec())?)
    }

    fn delete_key(&self, alias: &str) -> Result<(), core::KeystoreError> {
        Ok(self.host.delete_key(alias.to_owned())?)
    }

    fn seal(
        &self,
        alias: &str,
        plaintext: &SecretBytes,
    ) -> Result<SealedBlob, core::KeystoreError> {
        // Reason to expose: sealing is the keystore's job; this copy is the one
        // plaintext the host receives.
        let sealed = self
            .host
            .seal(alias.to_owned(), plaintext.expose_secret().to_vec())?;
        Ok(SealedBlob::new(sealed))
    }

    fn open(&self, alias: &str, blob: &SealedBlob) -> Result<SecretBytes, core::KeystoreError> {
        Ok(secret(
            self.host.open(alias.to_owned(), blob.as_bytes().to_vec())?,
        ))
    }

    fn create_biometric_key(&self, alias: &str) -> Result<(), core::KeystoreError> {
        Ok(self.host.create_biometric_key(alias.to_owned())?)
    }

    fn seal_biometric(
        &self,
        alias: &str,
        plaintext: &SecretBytes,
    ) -> Result<SealedBlob, core::KeystoreError> {
        // Reason to expose: as in `seal`.
        let sealed = self
            .host
            .seal_biometric(alias.to_owned(), plaintext.expose_secret().to_vec())?;
        Ok(SealedBlob::new(sealed))
    }

    fn open_biometric(
        &self,
        alias: &str,
        blob: &SealedBlob,
        prompt_text: &str,
    ) -> Result<SecretBytes, core::KeystoreError> {
        Ok(secret(self.host.open_biometric(
            alias.to_owned(),
            blob.as_bytes().to_vec(),
            prompt_text.to_owned(),
        )?))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use latchkey_core::device::{SimulatedBiometrics, SoftwareKeystore};
    use uniffi::UnexpectedUniFFICallbackError;

    /// A host keystore written in Rust: core's software keystore behind the
    /// foreign trait, as the Kotlin test keystore stands behind it in the JVM tests.
    pub(crate) struct HostKeystore(pub(crate) SoftwareKeystore);

    fn host_error(error: core::KeystoreError) -> KeystoreError {
        match error {
            core::KeystoreError::KeyNotFound => KeystoreError::KeyNotFound,
            core::KeystoreError::AlreadyExists => KeystoreError::AlreadyExists,
            core::KeystoreError::WrongKeyKind => KeystoreError::WrongKeyKind,
            core::KeystoreError::BadBlob => KeystoreError::BadBlob,
            core::KeystoreError::Cancelled => KeystoreError::Cancelled,
            core::KeystoreError::Lockout => KeystoreError::Lockout,
            core::KeystoreError::Invalidated => KeystoreError::Invalidated,
            core::KeystoreError::BiometricUnavailable => KeystoreError::BiometricUnavailable,
            other => KeystoreError::Platform {
                reason: other.to_string(),
            },
        }
    }

    impl PlatformKeystore for HostKeystore {
        fn kind(&self) -> Result<KeystoreKind, KeystoreError> {
            Ok(KeystoreKind::Software)
        }
        fn create_signing_key(&self, alias: String) -> Result<Vec<u8>, KeystoreError> {
            core::PlatformKeystore::create_signing_key(&self.0, &alias).map_err(host_error)
        }
        fn sign(&self, alias: String, message: Vec<u8>) -> Result<Vec<u8>, KeystoreError> {
            core::PlatformKeystore::sign(&self.0, &alias, &message).map_err(host_error)
        }
        fn delete_key(&self, alias: String) -> Result<(), KeystoreError> {
            core::PlatformKeystore::delete_key(&self.0, &alias).map_err(host_error)
        }
        fn seal(&self, alias: String, plaintext: Vec<u8>) -> Result<Vec<u8>, KeystoreError> {
            core::PlatformKeystore::seal(&self.0, &alias, &SecretBytes::new(plaintext))
                .map(SealedBlob::into_bytes)
                .map_err(host_error)
        }
        fn open(&self, alias: String, blob: Vec<u8>) -> Result<Vec<u8>, KeystoreError> {
            core::PlatformKeystore::open(&self.0, &alias, &SealedBlob::new(blob))
                .map(|secret| secret.expose_secret().to_vec())
                .map_err(host_error)
        }
        fn create_biometric_key(&self, alias: String) -> Result<(), KeystoreError> {
            core::PlatformKeystore::create_biometric_key(&self.0, &alias).map_err(host_error)
        }
        fn seal_biometric(
            &self,
            alias: String,
            plaintext: Vec<u8>,
        ) -> Result<Vec<u8>, KeystoreError> {
            core::PlatformKeystore::seal_biometric(&self.0, &alias, &SecretBytes::new(plaintext))
                .map(SealedBlob::into_bytes)
                .map_err(host_error)
        }
        fn open_biometric(
            &self,
            alias: String,
            blob: Vec<u8>,
            prompt_text: String,
        ) -> Result<Vec<u8>, KeystoreError> {
            core::PlatformKeystore::open_biometric(
                &self.0,
                &alias,
                &SealedBlob::new(blob),
                &prompt_text,
            )
            .map(|secret| secret.expose_secret().to_vec())
            .map_err(host_error)
        }
    }

    /// A host keystore whose every method fails as UniFFI reports an exception
    /// the host did not declare (a Kotlin `IllegalStateException`); with
    /// `kindless`, even `kind` throws.
    struct ThrowingKeystore {
        kindless: bool,
    }

    fn thrown() -> KeystoreError {
        UnexpectedUniFFICallbackError::new("java.lang.IllegalStateException: keystore unavailable")
            .into()
    }

    impl PlatformKeystore for ThrowingKeystore {
        fn kind(&self) -> Result<KeystoreKind, KeystoreError> {
            if self.kindless {
                return Err(
                    UnexpectedUniFFICallbackError::new("java.lang.SecurityException").into(),
                );
            }
            Ok(KeystoreKind::HardwareBacked)
        }
        fn create_signing_key(&self, _: String) -> Result<Vec<u8>, KeystoreError> {
            Err(thrown())
        }
        fn sign(&self, _: String, _: Vec<u8>) -> Result<Vec<u8>, KeystoreError> {
            Err(thrown())
        }
        fn delete_key(&self, _: String) -> Result<(), KeystoreError> {
            Err(thrown())
        }
        fn seal(&self, _: String, _: Vec<u8>) -> Result<Vec<u8>, KeystoreError> {
            Err(thrown())
        }
        fn open(&self, _: String, _: Vec<u8>) -> Result<Vec<u8>, KeystoreError> {
            Err(thrown())
        }
        fn create_biometric_key(&self, _: String) -> Result<(), KeystoreError> {
            Err(thrown())
        }
        fn seal_biometric(&self, _: String, _: Vec<u8>) -> Result<Vec<u8>, KeystoreError> {
            Err(thrown())
        }
        fn open_biometric(
            &self,
            _: String,
            _: Vec<u8>,
            _: String,
        ) -> Result<Vec<u8>, KeystoreError> {
            Err(thrown())
        }
    }

    #[test]
    fn the_adapter_carries_keys_and_secrets_through_the_host_keystore() {
        let dir = tempfile::tempdir().unwrap();
        let biometrics = SimulatedBiometrics::new();
        let host = HostKeystore(
            SoftwareKeystore::open(&dir.path().join("keys"), biometrics.clone()).unwrap(),
        );
        let adapter = KeystoreAdapter::new(Arc::new(host)).unwrap();
        let keystore: &dyn core::PlatformKeystore = &adapter;
        assert_eq!(keystore.kind(), core::KeystoreKind::Software);
        assert_eq!(keystore.create_signing_key("d").unwrap().len(), 65);
        assert!(!keystore.sign("d", b"m").unwrap().is_empty());
        let secret = SecretBytes::from_slice(&[9; 32]);
        let blob = keystore.seal("s", &secret).unwrap();
        assert_eq!(keystore.open("s", &blob).unwrap(), secret);
        assert_eq!(
            keystore.open("other", &blob),
            Err(core::KeystoreError::KeyNotFound)
        );
        keystore.create_biometric_key("b").unwrap();
        let sealed = keystore.seal_biometric("b", &secret).unwrap();
        assert_eq!(
            keystore.open_biometric("b", &sealed, "Approve?").unwrap(),
            secret
        );
        biometrics.enroll_new_finger();
        assert_eq!(
            keystore.open_biometric("b", &sealed, "Approve?"),
            Err(core::KeystoreError::Invalidated)
        );
    }

    #[test]
    fn a_host_keystore_that_throws_fails_the_operation_not_the_process() {
        let adapter = KeystoreAdapter::new(Arc::new(ThrowingKeystore { kindless: false })).unwrap();
        let keystore: &dyn core::PlatformKeystore = &adapter;
        let expected = core::KeystoreError::Platform(
            "unexpected exception: java.lang.IllegalStateException: keystore unavailable"
                .to_owned(),
        );
        assert_eq!(keystore.create_signing_key("d"), Err(expected.clone()));
        assert_eq!(keystore.sign("d", b"m"), Err(expected.clone()));
        assert_eq!(
            keystore.open("s", &SealedBlob::new(vec![1])),
            Err(expected.clone())
        );
        assert_eq!(
            keystore.open_biometric("b", &SealedBlob::new(vec![1]), "x"),
            Err(expected)
        );
    }

    #[test]
    fn a_keystore_whose_kind_throws_is_refused_when_the_authenticator_opens() {
        match KeystoreAdapter::new(Arc::new(ThrowingKeystore { kindless: true })) {
            Err(AuthenticatorError::Keystore { reason }) => {
                assert!(reason.contains("java.lang.SecurityException"), "{reason}");
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a keystore without a kind was accepted"),
        }
    }
}
