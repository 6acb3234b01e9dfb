//! Activation (PROTOCOL §6.1): the phone answers a signed ticket with its new
//! device key and `k_user`, HPKE-encrypted to the ticket's key, and stores the
//! account once the server's signed receipt (or, for a replacing activation,
//! its `202` outcome) comes back.
//!
//! Invariants: the ticket is checked (signature under the pinned key, server,
//! window) before anything is made; the PIN passes the PIN policy before any key
//! is made; on any failure nothing is stored and the keys made for the attempt
//! are deleted; the PIN and the activation code are wiped after use.

use super::error::AuthenticatorError;
use super::wire::{self, Reply};
use super::{AccountSummary, Authenticator, SERVER_CLOCK_SKEW, claimed_issued_at, sign_with};
use crate::device::history::HistoryEvent;
use crate::device::store::{MatchingMode, NewAccount, PendingActivation};
use crate::encoding::encode_hex;
use crate::otp::OcraSuite;
use crate::protocol::envelope::open_server;
use crate::protocol::ids::random_bytes;
use crate::protocol::keys::{check_new_pin, derive_k_user, new_seed};
use crate::protocol::messages::MAX_PUSH_TOKEN;
use crate::protocol::secrets::{HPKE_SUITE_V1, hpke_info, seal_secret};
use crate::protocol::{
    ActivationReceipt, ActivationRequest, ActivationSecret, ActivationTicket, DeviceHeader,
    DevicePublicKey, EnrollmentId, ProtocolError, ReplacementId, ServerExpectation, ServerHeader,
    ServerProfile, Signed,
};
use crate::secret::SecretBytes;
use zeroize::Zeroizing;

/// How an activation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivationOutcome {
    /// The account is active on this phone.
    Active(AccountSummary),
    /// The account already has a phone: the move waits for the old phone's
    /// approval (`held == false`) or for the end of the lost-phone hold period
    /// (`held == true`, until `effective_at`). A later sync completes it.
    Pending {
        /// The account, stored in state pending.
        account: AccountSummary,
        /// The replacement the move waits for.
        replacement: ReplacementId,
        /// Whether it is the lost-phone path (a hold period).
        held: bool,
        /// When the hold period ends (Unix seconds, server time), if the server said.
        effective_at: Option<u64>,
    },
}

/// The checked ticket and what the phone made for it.
struct Attempt<'a> {
    profile: &'a ServerProfile,
    header: ServerHeader,
    ticket: ActivationTicket,
    suite: OcraSuite,
    device_alias: String,
    seal_alias: String,
    now: u64,
}

/// The 13 digits of an activation code; spaces and dashes typed between digit
/// groups are dropped.
pub(crate) fn parse_code(text: &str) -> Result<SecretBytes, AuthenticatorError> {
    let digits: Zeroizing<Vec<u8>> =
        Zeroizing::new(text.bytes().filter(|b| !matches!(b, b' ' | b'-')).collect());
    if digits.len() != 13 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(AuthenticatorError::BadInput(
            "the activation code has 13 digits".to_owned(),
        ));
    }
    Ok(SecretBytes::from_slice(&digits))
}

pub(crate) fn host_of(base_url: &str) -> &str {
    let rest = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .unwrap_or(base_url);
    rest.split('/').next().unwrap_or(rest)
}

impl Authenticator {
    /// Activates this phone for an account (PROTOCOL §6.1).
    ///
    /// `ticket_json` is the signed activation ticket the integrator's sign-in
    /// (or the reference login) handed the app; `profile` the pinned server
    /// profile; `activation_code` the 13 digits from the SMS; the PIN is typed
    /// twice and must pass the PIN policy. `device_name` is how the server and
    /// the account's other phone will name this one; `push_token` the
    /// platform's push token, if the app has one. The PIN strings are wiped when
    /// the call returns.
    ///
    /// On a signed receipt the account is stored active; on a `202` (the
    /// account already has a phone) it is stored pending and a later
    /// [`Authenticator::sync`] completes it. On any failure nothing is stored.
    #[allow(clippy::too_many_arguments)]
    pub fn activate(
        &self,
        profile: &ServerProfile,
        ticket_json: &str,
        activation_code: &str,
        pin: String,
        pin_confirmation: String,
        device_name: &str,
        push_token: Option<String>,
    ) -> Result<ActivationOutcome, AuthenticatorError> {
        let pin = Zeroizing::new(pin);
        let confirmation = Zeroizing::new(pin_confirmation);
        check_new_pin(&pin, &confirmation)?;
        let code = parse_code(activation_code)?;
        // The server refuses the same names (PROTOCOL §4): say so before any key is made.
        if device_name.is_empty()
            || crate::protocol::check_display_text(
                device_name,
                crate::protocol::MAX_TEXT,
                "device name",
            )
            .is_err()
        {
            return Err(AuthenticatorError::BadInput(
                "the device name has 1 to 256 bytes and no control, format or bidi characters"
                    .to_owned(),
            ));
        }
        if push_token
            .as_ref()
            .is_some_and(|t| t.len() > MAX_PUSH_TOKEN)
        {
            return Err(AuthenticatorError::BadInput(
                "the push token is too long".to_owned(),
            ));
        }

        let signed = Signed::from_json(ticket_json).map_err(|_| {
            AuthenticatorError::BadInput(
                "the activation ticket is not a signed envelope".to_owned(),
            )
        })?;
        let now = self
            .clock
            .now()
            .saturating_add_signed(self.server_offset(profile));
        let verified = open_server::<ActivationTicket>(
            &signed,
            profile.public_key(),
            &ServerExpectation {
                server: profile.fingerprint(),
                enrollment: None,
                epoch: None,
                now,
                skew: SERVER_CLOCK_SKEW,
            },
        )?;
        let header = verified.header();
        let ticket = verified.into_message();
        if ticket.hpke_suite != HPKE_SUITE_V1 {
            return Err(ProtocolError::BadField("hpke suite").into());
        }
        let suite: OcraSuite = ticket
            .ocra_suite
            .parse()
            .map_err(|_| ProtocolError::BadField("OCRA suite"))?;
        if ticket.matching_modes.is_empty() {
            return Err(ProtocolError::BadField("matching modes").into());
        }
        if self
            .store()
            .account_by_enrollment(&header.enrollment)?
            .is_some()
        {
            return Err(AuthenticatorError::BadInput(
                "this activation was already completed on this phone".to_owned(),
            ));
        }
        let prefix = format!(
            "latchkey/{}/{}",
            header.enrollment,
            encode_hex(&random_bytes::<4>()?)
        );
        let attempt = Attempt {
            profile,
            header,
            ticket,
            suite,
            device_alias: format!("{prefix}/device"),
            seal_alias: format!("{prefix}/seal"),
            now,
        };
        tracing::info!(enrollment = %header.enrollment, "activating");
        let outcome = self.activate_with_keys(&attempt, &pin, code, device_name, push_token);
        if outcome.is_err() {
            self.delete_keys([attempt.device_alias.as_str(), attempt.seal_alias.as_str()]);
        }
        outcome
    }

    /// The offset learnt for another account on the same server, if any.
    fn server_offset(&self, profile: &ServerProfile) -> i64 {
        let fingerprint = profile.fingerprint();
        self.store()
            .accounts()
            .ok()
            .and_then(|accounts| {
                accounts
                    .into_iter()
                    .filter(|a| a.server_profile.fingerprint() == fingerprint)
                    .max_by_key(|a| a.last_sync_at)
                    .map(|a| a.clock_offset)
            })
            .unwrap_or(0)
    }

    fn activate_with_keys(
        &self,
        attempt: &Attempt<'_>,
        pin: &str,
        code: SecretBytes,
        device_name: &str,
        push_token: Option<String>,
    ) -> Result<ActivationOutcome, AuthenticatorError> {
        let enrollment = attempt.header.enrollment;
        let device_key =
            DevicePublicKey::from_slice(&self.keystore.create_signing_key(&attempt.device_alias)?)?;
        let seed = new_seed()?;
        let sealed_seed = self.keystore.seal(&attempt.seal_alias, &seed)?;
        let k_user = derive_k_user(&seed, pin, &enrollment);
        drop(seed);
        let secret = ActivationSecret {
            code,
            k_user,
            push_token: push_token.clone(),
            platform: self.config.platform,
            app_version: self.config.app_version.clone(),
            keystore: self.keystore.kind(),
            device_name: device_name.to_owned(),
        };
        let info = hpke_info(
            ActivationSecret::PURPOSE,
            &attempt.ticket.ticket,
            &enrollment,
        );
        let sealed = seal_secret(&attempt.ticket.ticket_key, &info, &secret.to_plaintext())?;
        drop(secret);
        let request = ActivationRequest {
            ticket: attempt.ticket.ticket,
            device_key: device_key.clone(),
            enc: sealed.enc,
            ciphertext: sealed.ciphertext,
        };
        let envelope = sign_with(
            self.keystore.as_ref(),
            &attempt.device_alias,
            &DeviceHeader {
                server: attempt.profile.fingerprint(),
                enrollment,
                epoch: 0,
                issued_at: attempt.now,
            },
            &request,
        )?;
        let reply = wire::post(
            self.transport.as_ref(),
            attempt.profile,
            wire::ACTIVATE,
            &envelope,
        )?;

        let label = format!(
            "{} @ {}",
            attempt.ticket.account,
            host_of(attempt.profile.base_url())
        );
        let mut account = NewAccount {
            label,
            server_profile: attempt.profile.clone(),
            enrollment_id: enrollment,
            epoch: 0,
            receipt: Vec::new(),
            ocra_suite: attempt.suite.clone(),
            matching_mode: if attempt.ticket.matching_modes.contains(&MatchingMode::Code) {
                MatchingMode::Code
            } else {
                attempt.ticket.matching_modes[0]
            },
            device_key_alias: attempt.device_alias.clone(),
            device_public_key: device_key.clone(),
            seal_key_alias: attempt.seal_alias.clone(),
            sealed_seed,
            biometric: None,
            clock_offset: self.server_offset(attempt.profile),
            push_token,
        };
        match reply {
            Reply::Envelope(receipt) => {
                let checked = check_receipt(
                    attempt.profile,
                    &receipt,
                    &enrollment,
                    &device_key,
                    Some(&attempt.ticket),
                )?;
                account.epoch = checked.epoch;
                account.receipt = receipt.to_json().into_bytes();
                account.ocra_suite = checked.suite;
                account.matching_mode = checked.mode;
                account.clock_offset = offset(checked.issued_at, self.clock.now());
                // The account and its history entry in one transaction; the
                // caller deletes the keys made only if this did not commit.
                let stored = self
                    .store()
                    .atomically(|store| -> Result<_, AuthenticatorError> {
                        let stored = store.account(store.insert_account(&account)?)?;
                        self.record_in(
                            store,
                            &stored,
                            HistoryEvent::AccountAdded,
                            stored.label.clone(),
                        );
                        Ok(stored)
                    })?;
                tracing::info!(account = %stored.id, epoch = checked.epoch, "activated");
                Ok(ActivationOutcome::Active(AccountSummary::from(&stored)))
            }
            Reply::Outcome {
                status: 202,
                outcome,
            } if matches!(outcome.outcome.as_str(), "awaiting_old_phone" | "held") => {
                let replacement = outcome
                    .replacement
                    .ok_or(AuthenticatorError::UnexpectedAnswer { status: 202 })?;
                let pending = PendingActivation {
                    replacement,
                    held: outcome.outcome == "held",
                    effective_at: outcome.effective_at,
                };
                let stored = self
                    .store()
                    .atomically(|store| -> Result<_, AuthenticatorError> {
                        let stored =
                            store.account(store.insert_pending_account(&account, &pending)?)?;
                        self.record_in(
                            store,
                            &stored,
                            HistoryEvent::AccountAdded,
                            format!("{} (waiting for the move to complete)", stored.label),
                        );
                        Ok(stored)
                    })?;
                tracing::info!(account = %stored.id, held = pending.held, "activation pending");
                Ok(ActivationOutcome::Pending {
                    account: AccountSummary::from(&stored),
                    replacement,
                    held: pending.held,
                    effective_at: pending.effective_at,
                })
            }
            Reply::Outcome { status, .. } => Err(AuthenticatorError::UnexpectedAnswer { status }),
            Reply::Refused { error, .. } => Err(error.into_error()),
        }
    }
}

/// Server time minus phone time, saturating.
pub(super) fn offset(server_time: u64, phone_time: u64) -> i64 {
    let difference = i128::from(server_time) - i128::from(phone_time);
    i64::try_from(difference).unwrap_or(if difference < 0 { i64::MIN } else { i64::MAX })
}

/// What a checked receipt fixes.
pub(super) struct CheckedReceipt {
    pub epoch: u64,
    pub suite: OcraSuite,
    pub mode: MatchingMode,
    pub issued_at: u64,
}

/// Checks an activation receipt: every check of PROTOCOL §5 for this server and
/// enrollment (any epoch ≥ 1), with its window evaluated at its own
/// `issued_at` — it names the device key this phone has just made (or, in a
/// sync answer, arrives bound to the request's fresh nonce), which is what
/// proves it fresh — then that it names this device key, and that its suite and
/// matching mode are ones the ticket offered.
pub(super) fn check_receipt(
    profile: &ServerProfile,
    receipt: &Signed,
    enrollment: &EnrollmentId,
    device_key: &DevicePublicKey,
    ticket: Option<&ActivationTicket>,
) -> Result<CheckedReceipt, AuthenticatorError> {
    let claimed = claimed_issued_at::<ActivationReceipt>(receipt)?;
    let verified = open_server::<ActivationReceipt>(
        receipt,
        profile.public_key(),
        &ServerExpectation {
            server: profile.fingerprint(),
            enrollment: Some(*enrollment),
            epoch: None,
            now: claimed,
            skew: SERVER_CLOCK_SKEW,
        },
    )?;
    let header = verified.header();
    let message = verified.into_message();
    if header.epoch == 0 {
        return Err(ProtocolError::BadField("receipt epoch").into());
    }
    if message.device_key != device_key.fingerprint() {
        return Err(ProtocolError::BadField("receipt device key").into());
    }
    let suite: OcraSuite = message
        .ocra_suite
        .parse()
        .map_err(|_| ProtocolError::BadField("OCRA suite"))?;
    if let Some(ticket) = ticket {
        if message.ocra_suite != ticket.ocra_suite
            || !ticket.matching_modes.contains(&message.matching_mode)
            || message.account != ticket.account
        {
            return Err(ProtocolError::BadField("receipt (differs from the ticket)").into());
        }
    }
    Ok(CheckedReceipt {
        epoch: header.epoch,
        suite,
        mode: message.matching_mode,
        issued_at: header.issued_at,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fake_server::{FakeServer, PIN, Phone, T0};
    use super::*;
    use crate::device::keystore::PlatformKeystore;
    use crate::device::store::AccountState;
    use crate::protocol::keys::compute_response;
    use crate::protocol::{KeystoreKind, Platform};

    fn activate(
        phone: &Phone,
        ticket: &str,
        code: &str,
        pin: &str,
        again: &str,
    ) -> Result<ActivationOutcome, AuthenticatorError> {
        phone.authenticator.activate(
            &phone.server.profile(),
            ticket,
            code,
            pin.to_owned(),
            again.to_owned(),
            "Anna's Pixel",
            Some("push-token-1".to_owned()),
        )
    }

    #[test]
    fn activation_stores_the_account_and_the_server_learns_k_user_and_nothing_else() {
        let phone = Phone::new();
        let (ticket, code) = phone.server.start_activation("alice", false);
        let outcome = activate(&phone, &ticket, &code, PIN, PIN).unwrap();
        let ActivationOutcome::Active(summary) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(summary.label, "alice @ latchkey.test");
        assert_eq!(summary.epoch, 1);
        assert_eq!(summary.state, AccountState::Active);
        assert_eq!(summary.matching_mode, MatchingMode::Code);
        assert!(!summary.biometric_enabled);

        // What the server decrypted with the ticket's private key.
        let secret = phone
            .server
            .with_enrollment(&summary.enrollment_id, |e| e.last_secret.clone().unwrap());
        assert_eq!(secret.code.expose_secret(), code.as_bytes());
        assert_eq!(secret.push_token.as_deref(), Some("push-token-1"));
        assert_eq!(secret.platform, Platform::Android);
        assert_eq!(secret.keystore, KeystoreKind::Software);
        assert_eq!(secret.device_name, "Anna's Pixel");
        // The server's k_user is the phone's: the phone's response verifies.
        let challenge = "418205".parse().unwrap();
        let response = phone
            .authenticator
            .respond_to_challenge(summary.id, "418205", super::super::Unlock::pin(PIN))
            .unwrap();
        let expected =
            compute_response(&LATCHKEY.parse().unwrap(), &secret.k_user, &challenge, T0).unwrap();
        assert_eq!(response.response, expected.as_str());

        // The request was signed by the key the store names, at epoch 0.
        let requests = phone.transport.requests();
        assert_eq!(requests[0].url, "https://latchkey.test/v1/phone/activate");
        let history = phone.authenticator.history().unwrap();
        assert_eq!(history[0].event, HistoryEvent::AccountAdded);
    }

    const LATCHKEY: &str = crate::protocol::LATCHKEY_SUITE;

    #[test]
    fn a_weak_or_mismatched_pin_is_refused_before_any_key_is_made() {
        let phone = Phone::new();
        let (ticket, code) = phone.server.start_activation("alice", false);
        assert!(matches!(
            activate(&phone, &ticket, &code, "123456", "123456"),
            Err(AuthenticatorError::WeakPin(_))
        ));
        assert!(matches!(
            activate(&phone, &ticket, &code, PIN, "402918"),
            Err(AuthenticatorError::PinMismatch)
        ));
        assert!(matches!(
            activate(&phone, &ticket, "12345", PIN, PIN),
            Err(AuthenticatorError::BadInput(_))
        ));
        assert!(phone.transport.requests().is_empty());
        assert!(phone.authenticator.accounts().unwrap().is_empty());
        let keys = std::fs::read_dir(phone.dir.path().join("keys"))
            .unwrap()
            .count();
        assert_eq!(keys, 1, "only the wrapping key exists");
    }

    #[test]
    fn a_device_name_with_bidi_or_zero_width_characters_is_refused_before_anything_is_sent() {
        let phone = Phone::new();
        let (ticket, code) = phone.server.start_activation("alice", false);
        for name in [
            "Anna's \u{202E}lexiP",
            "Anna's\u{200B} Pixel",
            "",
            "Pixel\n",
        ] {
            assert!(
                matches!(
                    phone.authenticator.activate(
                        &phone.server.profile(),
                        &ticket,
                        &code,
                        PIN.to_owned(),
                        PIN.to_owned(),
                        name,
                        None,
                    ),
                    Err(AuthenticatorError::BadInput(_))
                ),
                "{name:?}"
            );
        }
        assert!(phone.transport.requests().is_empty());
        assert!(phone.authenticator.accounts().unwrap().is_empty());
    }

    #[test]
    fn a_ticket_signed_by_another_key_or_tampered_is_refused_and_nothing_is_sent() {
        let phone = Phone::new();
        let impostor = FakeServer::new(8);
        let (forged, code) = impostor.start_activation("alice", false);
        assert!(matches!(
            activate(&phone, &forged, &code, PIN, PIN),
            Err(AuthenticatorError::Protocol(ProtocolError::BadSignature))
        ));
        let (ticket, code) = phone.server.start_activation("alice", false);
        let mut value: serde_json::Value = serde_json::from_str(&ticket).unwrap();
        let body = value["body"].as_str().unwrap().to_owned();
        let mut bytes = crate::protocol::b64::decode(&body).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        value["body"] = crate::protocol::b64::encode(&bytes).into();
        assert!(matches!(
            activate(&phone, &value.to_string(), &code, PIN, PIN),
            Err(AuthenticatorError::Protocol(ProtocolError::BadSignature))
        ));
        assert!(matches!(
            activate(&phone, "{\"outcome\":\"ok\"}", &code, PIN, PIN),
            Err(AuthenticatorError::BadInput(_))
        ));
        assert!(phone.transport.requests().is_empty());
        // An expired ticket.
        phone.clock.advance(601);
        assert!(matches!(
            activate(&phone, &ticket, &code, PIN, PIN),
            Err(AuthenticatorError::Expired)
        ));
    }

    #[test]
    fn a_wrong_activation_code_stores_nothing_and_deletes_the_keys_it_made() {
        let phone = Phone::new();
        let (ticket, _) = phone.server.start_activation("alice", false);
        assert!(matches!(
            activate(&phone, &ticket, "1111-2222-33333", PIN, PIN),
            Err(AuthenticatorError::WrongActivationCode {
                attempts_left: Some(2)
            })
        ));
        assert!(phone.authenticator.accounts().unwrap().is_empty());
        let keys = std::fs::read_dir(phone.dir.path().join("keys"))
            .unwrap()
            .count();
        assert_eq!(keys, 1, "the device and sealing keys were deleted");
        assert!(phone.authenticator.history().unwrap().is_empty());
    }

    #[test]
    fn an_activation_whose_store_write_fails_leaves_no_account_no_entry_and_no_keys() {
        let phone = Phone::new();
        let (ticket, code) = phone.server.start_activation("alice", false);
        // The step after the receipt fails (a TEMP trigger on this connection).
        phone
            .authenticator
            .store()
            .connection()
            .execute_batch(
                "CREATE TEMP TRIGGER injected BEFORE INSERT ON account \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            )
            .unwrap();
        assert!(matches!(
            activate(&phone, &ticket, &code, PIN, PIN),
            Err(AuthenticatorError::Storage(_))
        ));
        assert!(phone.authenticator.accounts().unwrap().is_empty());
        assert!(phone.authenticator.history().unwrap().is_empty());
        let keys = std::fs::read_dir(phone.dir.path().join("keys"))
            .unwrap()
            .count();
        assert_eq!(keys, 1, "the device and sealing keys were deleted");
    }

    #[test]
    fn an_offline_activation_or_a_forged_receipt_stores_nothing() {
        let phone = Phone::new();
        let (ticket, code) = phone.server.start_activation("alice", false);
        phone
            .transport
            .push_error(crate::device::transport::TransportError::Offline);
        assert!(matches!(
            activate(&phone, &ticket, &code, PIN, PIN),
            Err(AuthenticatorError::Offline)
        ));
        // A receipt signed by another key.
        let impostor = FakeServer::new(9);
        let header = impostor.header(EnrollmentId::from_bytes([1; 16]), 1, 600);
        let forged = impostor.sign(
            &header,
            &ActivationReceipt {
                account: "alice".to_owned(),
                ocra_suite: LATCHKEY.to_owned(),
                matching_mode: MatchingMode::Code,
                device_key: [0; 32],
                limits: crate::protocol::EnrollmentLimits {
                    reset_at: 5,
                    disable_at: 10,
                    session_seconds: 300,
                    push_seconds: 120,
                    drift_window: 2,
                },
            },
        );
        phone.transport.push_response(200, forged.to_json());
        assert!(matches!(
            activate(&phone, &ticket, &code, PIN, PIN),
            Err(AuthenticatorError::Protocol(ProtocolError::BadSignature))
        ));
        assert!(phone.authenticator.accounts().unwrap().is_empty());
    }

    #[test]
    fn neither_the_seed_nor_k_user_is_in_the_database_or_its_wal_after_activation() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        let enrollment = phone.enrollment_of(account);
        let k_user = phone.server.k_user_of(&enrollment);
        let stored = phone.authenticator.store().account(account).unwrap();
        let seed = PlatformKeystore::open(
            phone.keystore.as_ref(),
            &stored.seal_key_alias,
            stored.sealed_seed.as_ref().unwrap(),
        )
        .unwrap();
        let main = std::fs::read(phone.dir.path().join("device.db")).unwrap();
        let wal = std::fs::read(phone.dir.path().join("device.db-wal")).unwrap();
        assert!(!wal.is_empty(), "the writes sit in the WAL");
        for secret in [seed.expose_secret(), k_user.expose_secret()] {
            let hex = encode_hex(secret);
            for file in [&main, &wal] {
                assert!(!file.windows(8).any(|w| w == &secret[..8]));
                assert!(!file.windows(16).any(|w| w == &hex.as_bytes()[..16]));
            }
        }
        assert!(!main.windows(6).any(|w| w == PIN.as_bytes()));
        assert!(!wal.windows(6).any(|w| w == PIN.as_bytes()));
    }

    #[test]
    fn a_replacing_activation_waits_and_completes_when_the_old_phone_approves() {
        let old = Phone::new();
        let (old_account, _) = old.activated("alice");
        let new = Phone::with_server(old.server.clone());
        let (ticket, code) = old.server.start_activation("alice", false);
        let outcome = new
            .authenticator
            .activate(
                &new.server.profile(),
                &ticket,
                &code,
                "731904".to_owned(),
                "731904".to_owned(),
                "Anna's new iPhone",
                None,
            )
            .unwrap();
        let ActivationOutcome::Pending {
            account: pending,
            replacement,
            held: false,
            effective_at: None,
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!(pending.epoch, 0);
        assert!(matches!(
            new.authenticator.respond_to_challenge(
                pending.id,
                "418205",
                super::super::Unlock::pin("731904")
            ),
            Err(AuthenticatorError::ActivationPending)
        ));
        // A sync before the approval changes nothing.
        let report = new.authenticator.sync(pending.id, None, true).unwrap();
        assert!(matches!(report.state, AccountState::Pending { .. }));

        // The old phone hears of it and approves with its PIN.
        let report = old.authenticator.sync(old_account, None, true).unwrap();
        assert!(report.events.iter().any(|e| matches!(
            e,
            super::super::SyncEvent::ReplacementPending { replacement: Some(r), new_phone: Some(name), .. }
                if *r == replacement && name == "Anna's new iPhone"
        )));
        old.authenticator
            .approve_replacement(
                old_account,
                &replacement.to_string(),
                super::super::Unlock::pin(PIN),
            )
            .unwrap();
        // The old phone picked up its signed revocation and wiped the account.
        let summary = old.authenticator.account(old_account).unwrap();
        assert!(
            matches!(&summary.state, AccountState::Replaced { by, .. } if by == "Anna's new iPhone"),
            "{summary:?}"
        );
        assert!(matches!(
            old.authenticator.respond_to_challenge(
                old_account,
                "418205",
                super::super::Unlock::pin(PIN)
            ),
            Err(AuthenticatorError::Replaced { .. })
        ));

        // The new phone's next sync brings its receipt.
        let report = new.authenticator.sync(pending.id, None, true).unwrap();
        assert_eq!(report.state, AccountState::Active);
        assert!(
            report
                .events
                .iter()
                .any(|e| matches!(e, super::super::SyncEvent::ActivationCompleted { epoch: 2 }))
        );
        assert_eq!(new.epoch_of(pending.id), 2);
        let (request, challenge) = new.server.open_login("alice", MatchingMode::Code);
        new.authenticator
            .pending_request(&request.to_string())
            .unwrap();
        new.authenticator
            .approve(
                &request.to_string(),
                Some(&challenge.to_string()),
                super::super::Unlock::pin("731904"),
            )
            .unwrap();
    }

    #[test]
    fn a_lost_phone_move_is_held_and_the_old_phone_can_cancel_it() {
        let old = Phone::new();
        let (old_account, _) = old.activated("alice");
        let new = Phone::with_server(old.server.clone());
        let (ticket, code) = old.server.start_activation("alice", true);
        let outcome = new
            .authenticator
            .activate(
                &new.server.profile(),
                &ticket,
                &code,
                "731904".to_owned(),
                "731904".to_owned(),
                "Thief's phone",
                None,
            )
            .unwrap();
        let ActivationOutcome::Pending {
            account: pending,
            replacement,
            held: true,
            effective_at: Some(at),
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!(at, T0 + 72 * 3600);
        old.authenticator
            .cancel_replacement(
                old_account,
                &replacement.to_string(),
                super::super::Unlock::pin(PIN),
            )
            .unwrap();
        assert_eq!(
            old.server.proofs_accepted(),
            [crate::protocol::ProofAction::CancelReplacement]
        );
        assert_eq!(
            old.authenticator.account(old_account).unwrap().state,
            AccountState::Active
        );
        // The new phone's pending enrollment is revoked by a signed notice for epoch 0.
        new.authenticator.sync(pending.id, None, true).unwrap();
        assert!(matches!(
            new.authenticator.account(pending.id).unwrap().state,
            AccountState::Wiped { .. }
        ));
    }
}
