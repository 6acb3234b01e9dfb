//! The phone: the [`Authenticator`] the shells and the CLI drive, and its
//! foundation — the hooks the platform provides (keystore, transport), the
//! software keystore of desktops and tests, the SQLite store of accounts, and
//! the hash-chained local history.
//!
//! Invariants kept by every part of this module:
//! - **no secret at rest in plaintext**: the seed and the biometric copy of
//!   `k_user` reach the store only as [`SealedBlob`]s made by a
//!   [`PlatformKeystore`]; the PIN is never stored in any form;
//! - **keys stay in the keystore**: the core names them by alias and asks for
//!   operations; deleting a key is how a wipe destroys what it sealed;
//! - **hooks never call back**: [`PlatformKeystore`] and [`Transport`]
//!   implementations must not call into the authenticator, may block, and are
//!   called off the main thread; every hook method returns a `Result`;
//! - **a corrupt store is reported, never deleted** ([`DeviceStoreError::Corrupt`]), and
//!   a store newer than the code is refused ([`DeviceStoreError::TooNew`]);
//! - **secrets stay out of logs**: `Debug` of anything holding one prints
//!   `[redacted]`, and sealed blobs and bodies print their length only;
//! - time comes from a [`crate::clock::Clock`]; nothing here reads the wall clock.

pub mod app;
pub mod authenticator;
pub mod history;
pub mod keystore;
pub mod software_keystore;
pub mod store;
pub mod transport;

pub use authenticator::{
    AccountSummary, ActivationOutcome, Authenticator, AuthenticatorConfig, AuthenticatorError,
    CHALLENGE_WARNING, ChallengeResponse, Finding, FindingKind, PUSH_ALERT_TEXT, PendingApproval,
    PushAlert, RemovalReport, SyncEvent, SyncReport, Unlock,
};
pub use history::{
    HISTORY_KEY_ALIAS, History, HistoryEntry, HistoryError, HistoryEvent, NewHistoryEntry,
    VerifiedHistory,
};
pub use keystore::{KeystoreError, KeystoreKind, PlatformKeystore, SealedBlob};
pub use software_keystore::{SimulatedBiometrics, SimulatedOutcome, SoftwareKeystore};
pub use store::{
    Account, AccountId, AccountState, BiometricCopy, DeviceStore, DeviceStoreError,
    FRAUD_REPORT_RETENTION_SECS, MatchingMode, NewAccount, PendingActivation, RemovedAccount,
    UsableState, WipedKeys,
};
#[cfg(any(test, feature = "testing"))]
pub use transport::ScriptedTransport;
pub use transport::{HttpMethod, Transport, TransportError, TransportRequest, TransportResponse};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::protocol::{EnrollmentId, ServerProfile, ServerPublicKey};
    use crate::secret::SecretBytes;
    use std::sync::Arc;

    fn assert_send<T: Send>() {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_authenticator_can_share_its_parts_across_threads() {
        assert_send::<DeviceStore>();
        assert_send_sync::<SoftwareKeystore>();
        assert_send_sync::<ScriptedTransport>();
        assert_send_sync::<Arc<dyn PlatformKeystore>>();
        assert_send_sync::<Arc<dyn Transport>>();
        assert_send_sync::<SimulatedBiometrics>();
    }

    /// The parts together, through the module's re-exports and trait objects, as
    /// the Authenticator will use them: activate (keys, seal, store, history),
    /// approve with biometrics, be replaced (wipe, delete keys), verify history.
    #[test]
    fn the_foundation_carries_an_account_from_activation_to_wipe() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let biometrics = SimulatedBiometrics::new();
        let keystore: Arc<dyn PlatformKeystore> =
            Arc::new(SoftwareKeystore::open(&dir.path().join("keys"), biometrics.clone()).unwrap());
        let store = DeviceStore::open(&dir.path().join("device.db"), clock.clone()).unwrap();
        let history = History::new(&store, keystore.as_ref());

        let public = keystore.create_signing_key("a1/device").unwrap();
        assert_eq!(public.len(), 65);
        let seed = SecretBytes::from_slice(&[0x5e; 32]);
        let k_user = SecretBytes::from_slice(&[0x6b; 32]);
        keystore.create_biometric_key("a1/bio").unwrap();
        let id = store
            .insert_account(&NewAccount {
                label: "alice @ Example".to_owned(),
                server_profile: ServerProfile::new(
                    "https://latchkey.example",
                    ServerPublicKey::from_slice(&[7; 32]).unwrap(),
                )
                .unwrap(),
                enrollment_id: EnrollmentId::from_bytes([1; 16]),
                epoch: 1,
                receipt: b"receipt".to_vec(),
                ocra_suite: "OCRA-1:HOTP-SHA256-8:QN06-T1M".parse().unwrap(),
                matching_mode: MatchingMode::Code,
                device_key_alias: "a1/device".to_owned(),
                device_public_key: crate::protocol::DevicePublicKey::from_slice(&public).unwrap(),
                seal_key_alias: "a1/seal".to_owned(),
                sealed_seed: keystore.seal("a1/seal", &seed).unwrap(),
                biometric: Some(BiometricCopy {
                    key_alias: "a1/bio".to_owned(),
                    sealed_k_user: keystore.seal_biometric("a1/bio", &k_user).unwrap(),
                }),
                clock_offset: 0,
                push_token: None,
            })
            .unwrap();
        history
            .append(NewHistoryEntry {
                account_id: Some(id),
                enrollment_id: Some(EnrollmentId::from_bytes([1; 16])),
                event: HistoryEvent::AccountAdded,
                request_id: None,
                summary: "alice @ Example".to_owned(),
            })
            .unwrap();

        let account = store.account(id).unwrap();
        let copy = account.biometric.unwrap();
        let opened = keystore
            .open_biometric(&copy.key_alias, &copy.sealed_k_user, "Approve login?")
            .unwrap();
        assert_eq!(opened, k_user);
        assert_eq!(
            keystore
                .open(
                    &account.seal_key_alias,
                    account.sealed_seed.as_ref().unwrap()
                )
                .unwrap(),
            seed
        );
        keystore
            .sign(&account.device_key_alias, b"approval")
            .unwrap();
        history
            .append(NewHistoryEntry {
                account_id: Some(id),
                enrollment_id: None,
                event: HistoryEvent::Approved,
                request_id: None,
                summary: "Web portal".to_owned(),
            })
            .unwrap();

        let sealed_seed = account.sealed_seed.unwrap();
        let wiped = store.mark_replaced(id, "Pixel 9").unwrap();
        keystore.delete_key(&wiped.seal_key_alias).unwrap();
        assert_eq!(wiped.biometric_key_alias.as_deref(), Some("a1/bio"));
        if let Some(alias) = &wiped.biometric_key_alias {
            keystore.delete_key(alias).unwrap();
        }
        assert_eq!(
            keystore.open("a1/seal", &sealed_seed),
            Err(KeystoreError::KeyNotFound),
            "a copy of the sealed seed kept anywhere is now useless"
        );
        // The device key stays for a fraud report.
        keystore.sign("a1/device", b"fraud report").unwrap();
        assert_eq!(history.verify().unwrap().count, 2);
        assert_eq!(biometrics.prompts_shown(), ["Approve login?"]);
    }
}
