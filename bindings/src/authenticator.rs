//! The one object the shells drive: [`Authenticator`], over core's
//! `Authenticator`, with every one of its public methods.
//!
//! Invariants: each method converts its arguments, calls core once and converts
//! the result — no behaviour of its own; PINs arrive as byte arrays and are
//! wiped here after use; every method may block (network, biometric prompt), so
//! the shells call it off the main thread; the object is `Send + Sync` and may
//! be used from several threads at once.

use crate::clock::SystemClock;
use crate::error::AuthenticatorError;
use crate::keystore::{KeystoreAdapter, PlatformKeystore};
use crate::transport::{Transport, TransportAdapter};
use crate::types::{
    AccountSummary, ActivationOutcome, AuthenticatorConfig, ChallengeResponse, DenialReason,
    Finding, HistoryEntry, PendingApproval, PushAlert, RemovalReport, ServerProfileSummary,
    SyncReport, Unlock, pin_text,
};
use latchkey_core::device::{self as core, AccountId};
use latchkey_core::protocol::ServerProfile;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

type Result<T> = std::result::Result<T, AuthenticatorError>;

/// The phone's authenticator: every account on this phone and every flow —
/// activation, sync, push logins, offline challenge/response, biometrics, PIN
/// change, moving to a new phone, removal, diagnostics and the local history.
///
/// Open one per app process and keep it; close it (`close()` / `use {}` in
/// Kotlin) when the process no longer needs it. **Every method may block**
/// (network requests; the biometric prompt waits for the user): call them off
/// the main thread. The object is safe to use from several threads at once.
#[derive(uniffi::Object)]
pub struct Authenticator {
    inner: Arc<core::Authenticator>,
}

impl Authenticator {
    /// Core's authenticator, shared with the app model.
    pub(crate) fn core(&self) -> Arc<core::Authenticator> {
        Arc::clone(&self.inner)
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

fn account(id: i64) -> AccountId {
    AccountId::from_raw(id)
}

#[uniffi::export]
impl Authenticator {
    /// Opens the phone's database at `database_path` (created and migrated if
    /// needed; keep it in the app's no-backup files folder) and builds the
    /// authenticator over the app's `keystore` and `transport`.
    ///
    /// A damaged database is `StorageCorrupt` and is left untouched — never
    /// delete it: credentials cannot be recreated.
    #[uniffi::constructor]
    pub fn open(
        database_path: String,
        keystore: Arc<dyn PlatformKeystore>,
        transport: Arc<dyn Transport>,
        config: AuthenticatorConfig,
    ) -> Result<Arc<Self>> {
        let keystore = KeystoreAdapter::new(keystore)?;
        let inner = core::Authenticator::open(
            Path::new(&database_path),
            Arc::new(keystore),
            Arc::new(TransportAdapter::new(transport)),
            Arc::new(SystemClock),
            config.into(),
        )?;
        Ok(Arc::new(Self {
            inner: Arc::new(inner),
        }))
    }

    /// Every account on this phone, oldest first — replaced and wiped ones
    /// included for 30 days (for fraud reports).
    pub fn accounts(&self) -> Result<Vec<AccountSummary>> {
        self.inner
            .accounts()?
            .into_iter()
            .map(AccountSummary::try_from)
            .collect()
    }

    /// One account.
    pub fn account(&self, account_id: i64) -> Result<AccountSummary> {
        self.inner.account(account(account_id))?.try_into()
    }

    /// Activates this phone for an account (or moves the account to it).
    ///
    /// `server_profile` is the server profile JSON the app pins (what `latchkey
    /// serve` writes); `ticket_json` the signed activation ticket the
    /// integrator's sign-in handed the app; `activation_code` the 13 digits from
    /// the SMS (spaces and dashes allowed); the new PIN typed twice (6 to 12
    /// digits, not a common PIN); `device_name` how the server and the
    /// account's other phone will name this one; `push_token` the FCM/APNs token
    /// if the app has one. The PIN arrays are wiped here; overwrite yours too.
    ///
    /// `Active` when the account is active on this phone; `Pending` when it
    /// already had a phone (sync later to complete the move). On any error
    /// nothing is stored.
    #[allow(clippy::too_many_arguments)]
    pub fn activate(
        &self,
        server_profile: String,
        ticket_json: String,
        activation_code: String,
        pin: Vec<u8>,
        pin_confirmation: Vec<u8>,
        device_name: String,
        push_token: Option<String>,
    ) -> Result<ActivationOutcome> {
        let mut pin = pin_text(pin)?;
        let mut confirmation = pin_text(pin_confirmation)?;
        let profile = profile(&server_profile)?;
        self.inner
            .activate(
                &profile,
                &ticket_json,
                &activation_code,
                std::mem::take(&mut *pin),
                std::mem::take(&mut *confirmation),
                &device_name,
                push_token,
            )?
            .try_into()
    }

    /// Syncs one account with its server: call on every app open while online
    /// and whenever the push token or the notification permission changes.
    /// Registers the push token, learns the clock offset, applies the server's
    /// signed notices (a signed revocation wipes the account), completes a
    /// pending move, and prepares the next PIN-gated action.
    pub fn sync(
        &self,
        account_id: i64,
        push_token: Option<String>,
        notifications_enabled: bool,
    ) -> Result<SyncReport> {
        self.inner
            .sync(account(account_id), push_token, notifications_enabled)?
            .try_into()
    }

    /// Reads a push's data map (FCM `RemoteMessage.data`, APNs user info as
    /// strings) and returns the generic notification to post. Needs no network
    /// and changes nothing. `BadInput` for a push that is not a Latchkey login
    /// request, `UnknownRequest` when no account here could answer it.
    pub fn handle_push(&self, data: HashMap<String, String>) -> Result<PushAlert> {
        Ok(self.inner.handle_push(&data)?.into())
    }

    /// Like `handle_push`, for a push whose data arrives as one JSON object.
    pub fn handle_push_json(&self, json: String) -> Result<PushAlert> {
        Ok(self.inner.handle_push_json(&json)?.into())
    }

    /// Fetches the login request a push (or a sync) named and checks it fully:
    /// what the approval screen shows. Call when the user opens the
    /// notification; show nothing if it fails.
    pub fn pending_request(&self, handle: String) -> Result<PendingApproval> {
        self.inner.pending_request(&handle)?.try_into()
    }

    /// Approves a login: `typed_code` is the 6-digit code the user read off the
    /// login screen (`None` in `tap` mode), `unlock` the PIN or the biometric
    /// prompt. Errors say what the server decided: a wrong PIN
    /// (`WrongResponse`, with attempts left), `CodeMismatch`, `Delayed`,
    /// `Expired`…
    pub fn approve(
        &self,
        handle: String,
        typed_code: Option<String>,
        unlock: Unlock,
    ) -> Result<()> {
        let unlock = core::Unlock::try_from(unlock)?;
        Ok(self.inner.approve(&handle, typed_code.as_deref(), unlock)?)
    }

    /// Denies a login; `NotMe` reports it as fraud. Needs no PIN.
    pub fn deny(&self, handle: String, reason: DenialReason) -> Result<()> {
        Ok(self.inner.deny(&handle, reason.into())?)
    }

    /// The offline login: the 8-digit response to a challenge the user reads
    /// off their own login screen. Needs no network. Show the returned warning
    /// beside the response.
    pub fn respond_to_challenge(
        &self,
        account_id: i64,
        challenge: String,
        unlock: Unlock,
    ) -> Result<ChallengeResponse> {
        let unlock = core::Unlock::try_from(unlock)?;
        Ok(self
            .inner
            .respond_to_challenge(account(account_id), &challenge, unlock)?
            .into())
    }

    /// Turns biometrics on for an account (online: the server checks a proof
    /// made with the PIN first). Replaces an existing biometric copy.
    pub fn enable_biometric(&self, account_id: i64, pin: Vec<u8>) -> Result<()> {
        let mut pin = pin_text(pin)?;
        Ok(self
            .inner
            .enable_biometric(account(account_id), std::mem::take(&mut *pin))?)
    }

    /// Turns biometrics off for an account (deletes the biometric copy and its key).
    pub fn disable_biometric(&self, account_id: i64) -> Result<()> {
        Ok(self.inner.disable_biometric(account(account_id))?)
    }

    /// Changes the PIN (online). The new PIN is typed twice; the biometric copy
    /// is re-sealed with the new key.
    pub fn change_pin(
        &self,
        account_id: i64,
        old_pin: Vec<u8>,
        new_pin: Vec<u8>,
        confirmation: Vec<u8>,
    ) -> Result<()> {
        let mut old_pin = pin_text(old_pin)?;
        let mut new_pin = pin_text(new_pin)?;
        let mut confirmation = pin_text(confirmation)?;
        Ok(self.inner.change_pin(
            account(account_id),
            std::mem::take(&mut *old_pin),
            std::mem::take(&mut *new_pin),
            std::mem::take(&mut *confirmation),
        )?)
    }

    /// Approves moving the account to the new phone that asked (`replacement`
    /// from a `ReplacementPending` sync event), with the PIN or biometrics. The
    /// move is immediate; this phone then wipes the account.
    pub fn approve_replacement(
        &self,
        account_id: i64,
        replacement: String,
        unlock: Unlock,
    ) -> Result<()> {
        let unlock = core::Unlock::try_from(unlock)?;
        Ok(self
            .inner
            .approve_replacement(account(account_id), &replacement, unlock)?)
    }

    /// Turns two-factor authentication off for the account, with the PIN or
    /// biometrics, where the server's policy allows it. Show the warning that
    /// anyone with the password can then log in before calling this. Regulated
    /// accounts (Hong Kong, India) are refused: `ServerRefused` with code
    /// `two_factor_mandatory`, its detail citing the rule.
    pub fn opt_out_of_two_factor(&self, account_id: i64, unlock: Unlock) -> Result<()> {
        let unlock = core::Unlock::try_from(unlock)?;
        Ok(self
            .inner
            .opt_out_of_two_factor(account(account_id), unlock)?)
    }

    /// Authorises changing the account's verified phone number with the PIN or
    /// biometric: the login screen (or the relying party's backend) then has 5
    /// minutes to make the change. Without it, a number change of an account with
    /// an active phone is refused, so a password alone cannot redirect SMS codes.
    pub fn authorise_phone_number_change(&self, account_id: i64, unlock: Unlock) -> Result<()> {
        let unlock = core::Unlock::try_from(unlock)?;
        Ok(self
            .inner
            .authorise_phone_number_change(account(account_id), unlock)?)
    }

    /// Cancels a pending move of the account to another phone (the lost-phone
    /// path, when the user still has this phone).
    pub fn cancel_replacement(
        &self,
        account_id: i64,
        replacement: String,
        unlock: Unlock,
    ) -> Result<()> {
        let unlock = core::Unlock::try_from(unlock)?;
        Ok(self
            .inner
            .cancel_replacement(account(account_id), &replacement, unlock)?)
    }

    /// Removes an account from this phone: the server revokes the enrollment
    /// when online; the account is wiped here either way (the report says
    /// whether the server confirmed).
    pub fn remove_account(&self, account_id: i64) -> Result<RemovalReport> {
        Ok(self.inner.remove_account(account(account_id))?.into())
    }

    /// Explains why login pushes may not arrive for an account, and what to do.
    /// `notifications_enabled` and `push_token` are what the platform reports
    /// now. Syncs on the way (re-registering the token). Empty: nothing found.
    pub fn diagnose(
        &self,
        account_id: i64,
        notifications_enabled: bool,
        push_token: Option<String>,
    ) -> Result<Vec<Finding>> {
        Ok(self
            .inner
            .diagnose(account(account_id), notifications_enabled, push_token)?
            .into_iter()
            .map(Finding::from)
            .collect())
    }

    /// The local history, oldest first, after checking its hash chain:
    /// `HistoryTampered` if an entry was changed, added or removed.
    pub fn history(&self) -> Result<Vec<HistoryEntry>> {
        Ok(self
            .inner
            .history()?
            .into_iter()
            .map(HistoryEntry::from)
            .collect())
    }
}

fn profile(json: &str) -> Result<ServerProfile> {
    ServerProfile::from_json(json).map_err(|error| {
        AuthenticatorError::bad_input(format!("the server profile is not valid: {error}"))
    })
}

/// Checks a server profile (the JSON `latchkey serve` writes) and returns what
/// it pins: the base URL and the key's fingerprint. `BadInput` if it does not
/// parse or its fingerprint does not match its key.
#[uniffi::export]
pub fn parse_server_profile(json: String) -> Result<ServerProfileSummary> {
    Ok(ServerProfileSummary::from(&profile(&json)?))
}

/// The warning the Authenticate (challenge/response) screen shows before the
/// user types a challenge: a challenge must come from the user's own login
/// screen, never from someone who calls.
#[uniffi::export]
pub fn challenge_warning() -> String {
    core::CHALLENGE_WARNING.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::tests::HostKeystore;
    use crate::transport::tests::HostTransport;
    use crate::types::Platform;
    use latchkey_core::device::{ScriptedTransport, SimulatedBiometrics, SoftwareKeystore};

    fn open(dir: &Path) -> Result<Arc<Authenticator>> {
        Authenticator::open(
            dir.join("device.db").to_string_lossy().into_owned(),
            Arc::new(HostKeystore(
                SoftwareKeystore::open(&dir.join("keys"), SimulatedBiometrics::new()).unwrap(),
            )),
            Arc::new(HostTransport(ScriptedTransport::new())),
            AuthenticatorConfig {
                platform: Platform::Desktop,
                app_version: "1.0.0".to_owned(),
            },
        )
    }

    #[test]
    fn an_authenticator_opens_over_host_hooks_and_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let authenticator = open(dir.path()).unwrap();
        assert!(authenticator.accounts().unwrap().is_empty());
        assert!(authenticator.history().unwrap().is_empty());
        assert!(matches!(
            authenticator.account(42),
            Err(AuthenticatorError::NoSuchAccount { account_id: 42 })
        ));
        assert!(matches!(
            authenticator.respond_to_challenge(
                42,
                "583920".to_owned(),
                Unlock::Pin {
                    pin: b"402917".to_vec()
                }
            ),
            Err(AuthenticatorError::NoSuchAccount { account_id: 42 })
        ));
    }

    #[test]
    fn a_bad_profile_or_pin_is_refused_before_anything_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let authenticator = open(dir.path()).unwrap();
        let activate = |profile: &str, pin: &[u8]| {
            authenticator.activate(
                profile.to_owned(),
                "{}".to_owned(),
                "1234567890123".to_owned(),
                pin.to_vec(),
                pin.to_vec(),
                "Pixel".to_owned(),
                None,
            )
        };
        assert!(
            matches!(activate("{}", b"402917"), Err(AuthenticatorError::BadInput { reason }) if reason.starts_with("the server profile"))
        );
        assert!(matches!(
            activate("{}", &[0xff; 6]),
            Err(AuthenticatorError::BadInput { .. })
        ));
        assert!(matches!(
            parse_server_profile("not json".to_owned()),
            Err(AuthenticatorError::BadInput { .. })
        ));
        assert!(authenticator.accounts().unwrap().is_empty());
    }

    #[test]
    fn a_corrupt_database_is_storage_corrupt_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = b"SQLite format 3\0 and then a shopping list. ".repeat(300);
        std::fs::write(dir.path().join("device.db"), &garbage).unwrap();
        assert!(matches!(
            open(dir.path()),
            Err(AuthenticatorError::StorageCorrupt)
        ));
        assert_eq!(
            std::fs::read(dir.path().join("device.db")).unwrap(),
            garbage
        );
    }

    #[test]
    fn the_challenge_warning_is_cores() {
        assert_eq!(challenge_warning(), core::CHALLENGE_WARNING);
    }
}
