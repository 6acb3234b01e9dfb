//! The phone's [`Authenticator`]: the one object the Kotlin and Swift shells
//! (through the bindings) and the desktop CLI drive. It speaks
//! `docs/PROTOCOL.md` §6 over a [`Transport`], keeps accounts in the
//! [`DeviceStore`], and keeps keys in the [`PlatformKeystore`].
//!
//! Flows, each a method: [`Authenticator::activate`], [`Authenticator::sync`],
//! [`Authenticator::handle_push`], [`Authenticator::pending_request`],
//! [`Authenticator::approve`] / [`Authenticator::deny`],
//! [`Authenticator::respond_to_challenge`] (offline),
//! [`Authenticator::enable_biometric`] / [`Authenticator::disable_biometric`],
//! [`Authenticator::change_pin`], [`Authenticator::approve_replacement`] /
//! [`Authenticator::cancel_replacement`], [`Authenticator::remove_account`],
//! [`Authenticator::diagnose`] and [`Authenticator::history`].
//!
//! Invariants:
//! - **every server message is checked before use** (PROTOCOL §5: purpose,
//!   signature under the pinned key, server, enrollment, epoch, validity, fields);
//!   unsigned answers (outcomes, typed errors, a 404, a proxy's page) never make
//!   the phone wipe, unlock or store anything;
//! - **a wipe happens only on a signed `Revoked` notice** that passes every check
//!   for this server, enrollment and epoch (or when the user removes the account);
//! - **no secret at rest or in logs**: the seed is sealed by the keystore, `k_user`
//!   exists only transiently (and sealed under a biometric-only key when
//!   biometrics are on), the PIN is wiped after use, and `tracing` events carry
//!   ids, paths and statuses only;
//! - **nothing is stored on a failed activation**, and the keys it made are deleted;
//! - time is the [`Clock`]'s, corrected per account by the offset learnt from
//!   signed server time;
//! - the store lock is never held across a keystore prompt or a network call, so
//!   one blocked flow does not block the others; nothing panics.

pub(crate) mod activation;
mod diagnose;
mod error;
mod login;
mod pin;
mod sync;
pub mod wire;

pub use activation::ActivationOutcome;
pub use diagnose::{Finding, FindingKind};
pub use error::AuthenticatorError;
pub use login::{
    CHALLENGE_WARNING, ChallengeResponse, PUSH_ALERT_TEXT, PendingApproval, PushAlert,
};
pub use pin::RemovalReport;
pub use sync::{SyncEvent, SyncReport};

use super::history::{History, HistoryEntry, HistoryEvent, NewHistoryEntry};
use super::keystore::{KeystoreError, PlatformKeystore};
use super::store::{Account, AccountId, AccountState, DeviceStore, MatchingMode, WipedKeys};
use super::transport::Transport;
use crate::clock::Clock;
use crate::protocol::codec::Decoder;
use crate::protocol::envelope::device_body;
use crate::protocol::{
    DeviceHeader, EnrollmentId, LoginRequest, Message, Platform, ProofChallenge, ProtocolError,
    RequestId, ServerExpectation, Signed,
};
use crate::secret::SecretBytes;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use wire::Reply;

pub use crate::protocol::SERVER_CLOCK_SKEW;

/// What the app tells servers about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorConfig {
    /// The platform the app runs on.
    pub platform: Platform,
    /// The app's version (at most 64 bytes).
    pub app_version: String,
}

/// How the user unlocks `k_user` for one operation: the PIN, or the biometric
/// copy (which shows the system prompt with `prompt`).
///
/// The PIN is overwritten with zeros when the value is dropped, and `Debug`
/// never shows it.
pub enum Unlock {
    /// The PIN as typed (6 to 12 digits).
    Pin(String),
    /// The biometric copy of `k_user`, behind the system prompt.
    Biometric {
        /// What the prompt says is being approved ("Approve login to Client Portal?").
        prompt: String,
    },
}

impl Unlock {
    /// Unlock with this PIN.
    pub fn pin(pin: impl Into<String>) -> Self {
        Unlock::Pin(pin.into())
    }

    /// Unlock with the biometric prompt, showing `prompt`.
    pub fn biometric(prompt: impl Into<String>) -> Self {
        Unlock::Biometric {
            prompt: prompt.into(),
        }
    }
}

impl Drop for Unlock {
    fn drop(&mut self) {
        if let Unlock::Pin(pin) = self {
            zeroize::Zeroize::zeroize(pin);
        }
    }
}

impl std::fmt::Debug for Unlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unlock::Pin(_) => f.write_str("Unlock::Pin([redacted])"),
            Unlock::Biometric { prompt } => f
                .debug_struct("Unlock::Biometric")
                .field("prompt", prompt)
                .finish(),
        }
    }
}

/// An account as the shell shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// Its id on this phone.
    pub id: AccountId,
    /// What the user sees ("alice @ auth.example.com").
    pub label: String,
    /// The server's base URL.
    pub server_url: String,
    /// The server's fingerprint (`sha256:…`).
    pub server_fingerprint: String,
    /// This phone's enrollment.
    pub enrollment_id: EnrollmentId,
    /// The enrollment's epoch (0 while pending).
    pub epoch: u64,
    /// Where the account stands.
    pub state: AccountState,
    /// The matching mode the receipt fixed.
    pub matching_mode: MatchingMode,
    /// Whether the biometric copy of `k_user` exists.
    pub biometric_enabled: bool,
    /// When the account last synced (Unix seconds, this phone's clock).
    pub last_sync_at: Option<u64>,
    /// Server time minus this phone's time, in seconds.
    pub clock_offset: i64,
}

impl From<&Account> for AccountSummary {
    fn from(account: &Account) -> Self {
        Self {
            id: account.id,
            label: account.label.clone(),
            server_url: account.server_profile.base_url().to_owned(),
            server_fingerprint: account.server_profile.fingerprint().to_string(),
            enrollment_id: account.enrollment_id,
            epoch: account.epoch,
            state: account.state.clone(),
            matching_mode: account.matching_mode,
            biometric_enabled: account.biometric.is_some(),
            last_sync_at: account.last_sync_at,
            clock_offset: account.clock_offset,
        }
    }
}

/// A login request fetched and checked, kept to approve or deny it.
#[derive(Debug, Clone)]
struct CachedRequest {
    account: AccountId,
    request: LoginRequest,
    expires_at: u64,
}

/// What the authenticator remembers between calls, in memory only.
#[derive(Debug, Default)]
struct Session {
    /// The last PIN-proof challenge each account's sync answer handed out.
    proofs: HashMap<AccountId, ProofChallenge>,
    /// Login requests fetched and checked.
    requests: HashMap<RequestId, CachedRequest>,
    /// The notification permission the shell last reported (for the syncs the
    /// authenticator makes by itself).
    notifications_enabled: Option<bool>,
}

/// The phone's authenticator. `Send + Sync`: the bindings share it in an `Arc`;
/// every method takes `&self` and may block (keystore prompts, network), so
/// shells call it off the main thread.
pub struct Authenticator {
    keystore: Arc<dyn PlatformKeystore>,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    store: Mutex<DeviceStore>,
    session: Mutex<Session>,
    config: AuthenticatorConfig,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .field("keystore", &self.keystore.kind())
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Opens (creating and migrating if needed) the phone's database at
    /// `database` and builds the authenticator over the platform's hooks. A
    /// corrupt database is [`AuthenticatorError::StorageCorrupt`] and is left
    /// untouched.
    pub fn open(
        database: &Path,
        keystore: Arc<dyn PlatformKeystore>,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        config: AuthenticatorConfig,
    ) -> Result<Self, AuthenticatorError> {
        if config.app_version.len() > 64 {
            return Err(AuthenticatorError::BadInput(
                "the app version has more than 64 bytes".to_owned(),
            ));
        }
        let store = DeviceStore::open(database, clock.clone())?;
        let authenticator = Self {
            keystore,
            transport,
            clock,
            store: Mutex::new(store),
            session: Mutex::new(Session::default()),
            config,
        };
        authenticator.purge_expired();
        Ok(authenticator)
    }

    /// Every account on this phone, oldest first — replaced and wiped ones
    /// included while they are kept for fraud reports.
    pub fn accounts(&self) -> Result<Vec<AccountSummary>, AuthenticatorError> {
        Ok(self
            .store()
            .accounts()?
            .iter()
            .map(AccountSummary::from)
            .collect())
    }

    /// One account.
    pub fn account(&self, id: AccountId) -> Result<AccountSummary, AuthenticatorError> {
        Ok(AccountSummary::from(&self.store().account(id)?))
    }

    /// The local history, oldest first, after checking its hash chain and its
    /// sealed head. A changed, removed or added entry is
    /// [`AuthenticatorError::HistoryTampered`].
    pub fn history(&self) -> Result<Vec<HistoryEntry>, AuthenticatorError> {
        let store = self.store();
        let history = History::new(&store, self.keystore.as_ref());
        history.verify()?;
        Ok(history.entries()?)
    }

    /// Test support (feature `testing`, never enabled by the shipped library;
    /// ARCHITECTURE.md "Test support"): the phone's store, for the phone flow tests
    /// of the journeys crate that read what is at rest or inject a storage failure.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn store_for_tests(&self) -> MutexGuard<'_, DeviceStore> {
        self.store()
    }

    /// Test support (feature `testing`): the PIN-proof challenge the account's
    /// last sync answer handed out, as the next proof will use it.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn proof_challenge_for_tests(&self, account: AccountId) -> Option<ProofChallenge> {
        self.session().proofs.get(&account).copied()
    }

    /// Test support (feature `testing`): the notification permission the shell
    /// last reported.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn notifications_enabled_for_tests(&self) -> Option<bool> {
        self.session().notifications_enabled
    }

    // ------------------------------------------------------------ helpers

    fn store(&self) -> MutexGuard<'_, DeviceStore> {
        // A panic while holding the lock cannot leave the database half-written
        // (every write is one statement or one transaction).
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Removes replaced and wiped accounts whose fraud-report retention ended,
    /// and deletes their keys.
    fn purge_expired(&self) {
        let removed = match self.store().purge_expired() {
            Ok(removed) => removed,
            Err(error) => {
                tracing::warn!(%error, "purging expired accounts failed");
                return;
            }
        };
        for account in removed {
            self.delete_keys(
                [
                    Some(account.device_key_alias.as_str()),
                    Some(account.seal_key_alias.as_str()),
                    account.biometric_key_alias.as_deref(),
                ]
                .into_iter()
                .flatten(),
            );
        }
    }

    fn delete_keys<'a>(&self, aliases: impl IntoIterator<Item = &'a str>) {
        for alias in aliases {
            if let Err(error) = self.keystore.delete_key(alias) {
                tracing::warn!(%error, "deleting a key failed");
            }
        }
    }

    /// An account that still has its secrets and whose activation completed.
    fn usable_account(&self, id: AccountId) -> Result<Account, AuthenticatorError> {
        let account = self.store().account(id)?;
        match &account.state {
            AccountState::Active | AccountState::Locked | AccountState::Disabled => Ok(account),
            AccountState::Pending { .. } => Err(AuthenticatorError::ActivationPending),
            AccountState::Replaced { by, at } => Err(AuthenticatorError::Replaced {
                by: by.clone(),
                at: *at,
            }),
            AccountState::Wiped { .. } => Err(AuthenticatorError::AccountWiped),
        }
    }

    /// This phone's clock corrected by the account's offset from server time.
    fn now_for(&self, account: &Account) -> u64 {
        self.clock.now().saturating_add_signed(account.clock_offset)
    }

    /// What a server message for this account must satisfy (PROTOCOL §5).
    fn expectation(&self, account: &Account) -> ServerExpectation {
        ServerExpectation {
            server: account.server_profile.fingerprint(),
            enrollment: Some(account.enrollment_id),
            epoch: Some(account.epoch),
            now: self.now_for(account),
            skew: SERVER_CLOCK_SKEW,
        }
    }

    /// Signs a phone message for the account with its device key.
    fn sign<M: Message>(
        &self,
        account: &Account,
        message: &M,
    ) -> Result<Signed, AuthenticatorError> {
        let header = DeviceHeader {
            server: account.server_profile.fingerprint(),
            enrollment: account.enrollment_id,
            epoch: account.epoch,
            issued_at: self.now_for(account),
        };
        sign_with(
            self.keystore.as_ref(),
            &account.device_key_alias,
            &header,
            message,
        )
    }

    /// Signs `message` for the account and posts it to `path`.
    fn send<M: Message>(
        &self,
        account: &Account,
        path: &str,
        message: &M,
    ) -> Result<Reply, AuthenticatorError> {
        let envelope = self.sign(account, message)?;
        tracing::info!(account = %account.id, path, "request");
        wire::post(
            self.transport.as_ref(),
            &account.server_profile,
            path,
            &envelope,
        )
    }

    /// `k_user` for one operation: derived from the sealed seed and the PIN, or
    /// opened from the biometric copy behind the system prompt. An invalidated
    /// biometric key is dropped (copy and key) before the error is returned.
    fn k_user(
        &self,
        account: &Account,
        unlock: &Unlock,
    ) -> Result<SecretBytes, AuthenticatorError> {
        match unlock {
            Unlock::Pin(pin) => {
                if !(6..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(AuthenticatorError::BadInput(
                        "a PIN has 6 to 12 digits".to_owned(),
                    ));
                }
                let sealed = account
                    .sealed_seed
                    .as_ref()
                    .ok_or(AuthenticatorError::AccountWiped)?;
                let seed = self.keystore.open(&account.seal_key_alias, sealed)?;
                Ok(crate::protocol::keys::derive_k_user(
                    &seed,
                    pin,
                    &account.enrollment_id,
                ))
            }
            Unlock::Biometric { prompt } => {
                let copy = account
                    .biometric
                    .as_ref()
                    .ok_or(AuthenticatorError::BiometricNotEnabled)?;
                match self
                    .keystore
                    .open_biometric(&copy.key_alias, &copy.sealed_k_user, prompt)
                {
                    Ok(k_user) => Ok(k_user),
                    Err(KeystoreError::Invalidated) => {
                        tracing::info!(account = %account.id, "biometric key invalidated; dropping the copy");
                        if let Err(error) = self.store().set_biometric(account.id, None) {
                            tracing::warn!(%error, "dropping the biometric copy failed");
                        }
                        self.delete_keys([copy.key_alias.as_str()]);
                        Err(AuthenticatorError::BiometricInvalidated)
                    }
                    Err(error) => Err(error.into()),
                }
            }
        }
    }

    /// Appends to the local history. A history that cannot be extended (it was
    /// tampered with) does not undo what already happened on the server: the
    /// failure is logged, and [`Authenticator::history`] reports it.
    fn record(
        &self,
        account: &Account,
        event: HistoryEvent,
        request: Option<RequestId>,
        summary: String,
    ) {
        let store = self.store();
        self.record_entry(&store, account, event, request, summary);
    }

    /// Records an event within the caller's transaction on `store` (a plan
    /// applied whole): the entry commits with the plan. A history that cannot
    /// be extended (a tampered head) is logged and never blocks the plan — a
    /// signed revocation must wipe whatever the history's state.
    fn record_in(
        &self,
        store: &DeviceStore,
        account: &Account,
        event: HistoryEvent,
        summary: String,
    ) {
        self.record_entry(store, account, event, None, summary);
    }

    fn record_entry(
        &self,
        store: &DeviceStore,
        account: &Account,
        event: HistoryEvent,
        request: Option<RequestId>,
        summary: String,
    ) {
        let history = History::new(store, self.keystore.as_ref());
        if let Err(error) = history.append(NewHistoryEntry {
            account_id: Some(account.id),
            enrollment_id: Some(account.enrollment_id),
            event,
            request_id: request,
            summary,
        }) {
            tracing::warn!(%error, "the history could not be extended");
        }
    }

    /// Wipes an account's secrets: marks it replaced (by `by`) or wiped and
    /// records it, in one transaction; then deletes its sealing and biometric
    /// keys and drops what the session remembers of it. The device key stays
    /// for a fraud report.
    fn wipe(&self, account: &Account, by: Option<&str>) -> Result<(), AuthenticatorError> {
        let keys = {
            let store = self.store();
            store.atomically(|store| -> Result<_, AuthenticatorError> {
                let keys = match by {
                    Some(by) => store.mark_replaced(account.id, by)?,
                    None => store.wipe(account.id)?,
                };
                self.record_in(
                    store,
                    account,
                    HistoryEvent::AccountWiped,
                    match by {
                        Some(by) => format!("{} moved to {by}", account.label),
                        None => format!("{} removed", account.label),
                    },
                );
                Ok(keys)
            })?
        };
        self.forget(account, &keys, by);
        Ok(())
    }

    /// After a wipe committed: deletes the account's sealing and biometric
    /// keys and drops what the session remembers of it.
    fn forget(&self, account: &Account, keys: &WipedKeys, by: Option<&str>) {
        self.delete_keys(
            [
                Some(keys.seal_key_alias.as_str()),
                keys.biometric_key_alias.as_deref(),
            ]
            .into_iter()
            .flatten(),
        );
        {
            let mut session = self.session();
            session.proofs.remove(&account.id);
            session
                .requests
                .retain(|_, cached| cached.account != account.id);
        }
        tracing::info!(account = %account.id, replaced = by.is_some(), "account wiped");
    }
}

/// The `issued_at` a server message claims, read WITHOUT any check. Used only
/// as the time at which to evaluate the validity window of a message whose
/// freshness something else proves (a sync answer carries the request's fresh
/// nonce; an activation receipt names the device key made moments ago); every
/// other check of PROTOCOL §5 still applies, the signature first.
fn claimed_issued_at<M: Message>(signed: &Signed) -> Result<u64, ProtocolError> {
    let mut decoder = Decoder::new(signed.body(), M::PURPOSE)?;
    decoder.fixed::<32>("server")?;
    decoder.fixed::<16>("enrollment id")?;
    decoder.u64("epoch")?;
    decoder.u64("issued at")
}

/// Signs a phone message with the keystore key `alias`.
fn sign_with<M: Message>(
    keystore: &dyn PlatformKeystore,
    alias: &str,
    header: &DeviceHeader,
    message: &M,
) -> Result<Signed, AuthenticatorError> {
    let body = device_body(header, message);
    let signature = keystore.sign(alias, &body)?;
    Ok(Signed::from_parts(body, signature)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_authenticator_can_be_shared_across_threads() {
        assert_send_sync::<Authenticator>();
        assert_send_sync::<Arc<Authenticator>>();
    }

    #[test]
    fn a_corrupt_database_is_reported_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.db");
        let garbage = b"SQLite format 3\0 and then a shopping list. ".repeat(300);
        std::fs::write(&path, &garbage).unwrap();
        let keystore = Arc::new(
            crate::device::SoftwareKeystore::open(
                &dir.path().join("keys"),
                crate::device::SimulatedBiometrics::new(),
            )
            .unwrap(),
        );
        let result = Authenticator::open(
            &path,
            keystore,
            Arc::new(crate::device::ScriptedTransport::new()),
            Arc::new(crate::clock::ManualClock::new(1_800_000_000)),
            AuthenticatorConfig {
                platform: Platform::Desktop,
                app_version: "1.0.0".to_owned(),
            },
        );
        assert!(matches!(result, Err(AuthenticatorError::StorageCorrupt)));
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    // The flows of this object against the real verifier are the journeys crate's
    // tests/journeys/phone/ (ARCHITECTURE.md "Test support").
}
