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

// The activation flow's tests run against the real verifier: the journeys crate's
// tests/journeys/phone/activation.rs (ARCHITECTURE.md "Test support").
