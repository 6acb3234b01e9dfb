//! PIN-gated account actions (PROTOCOL §6.4, §6.5): PIN proofs that turn
//! biometrics on, approve or cancel a move to a new phone; the PIN change
//! (rekey ticket, proof under the old PIN, new `k_user` encrypted to the
//! ticket, biometric copy re-sealed); turning biometrics off; and removing an
//! account (revoked on the server when online, wiped here either way).
//!
//! Invariants: a proof answers a challenge the server handed out in a signed
//! sync answer, is used once, and binds its action and target; biometrics are
//! turned on only after the server accepted a PIN proof made with the very
//! `k_user` that is then sealed; the PIN strings are wiped after use.

use super::error::AuthenticatorError;
use super::wire::{self, Outcome, Reply};
use super::{Authenticator, Unlock};
use crate::device::store::{Account, AccountId, BiometricCopy};
use crate::encoding::encode_hex;
use crate::protocol::envelope::open_server;
use crate::protocol::ids::random_bytes;
use crate::protocol::keys::{check_new_pin, compute_response, derive_k_user};
use crate::protocol::secrets::{HPKE_SUITE_V1, hpke_info, seal_secret};
use crate::protocol::{
    Notice, NoticeKind, PinChange, PinChangeSecret, PinProof, ProofAction, ProofChallenge,
    ProtocolError, RekeyRequest, RekeyTicket, Removal, ReplacementId,
};
use crate::secret::SecretBytes;
use zeroize::Zeroizing;

/// How a removal went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovalReport {
    /// Whether the server revoked the enrollment (it answered with a signed
    /// revocation for this enrollment and epoch). `false`: the phone was offline
    /// or the server did not confirm — the account was wiped here, but the
    /// server was not told; the user should also remove the phone from the
    /// account on the web.
    pub server_revoked: bool,
}

impl Authenticator {
    /// A proof challenge for the account: the one the last sync answer handed
    /// out, or a fresh one from a new sync. Taken out of the session: a proof is
    /// spent by its first use, right or wrong.
    fn proof_challenge(
        &self,
        account: &Account,
    ) -> Result<(Account, ProofChallenge), AuthenticatorError> {
        let kept = self.session().proofs.remove(&account.id);
        if let Some(proof) = kept {
            // A margin for the time the request takes to arrive.
            if self.now_for(account).saturating_add(30) < proof.expires_at {
                return Ok((account.clone(), proof));
            }
        }
        let notifications = self.session().notifications_enabled.unwrap_or(true);
        self.sync(account.id, account.push_token.clone(), notifications)?;
        let account = self.usable_account(account.id)?;
        let proof =
            self.session()
                .proofs
                .remove(&account.id)
                .ok_or(AuthenticatorError::ServerRefused {
                    code: "no_proof_challenge".to_owned(),
                    message: "the server handed out no PIN-proof challenge".to_owned(),
                })?;
        Ok((account, proof))
    }

    /// Sends a PIN proof for `action` on `target`, answered with `k_user`.
    fn prove(
        &self,
        account: &Account,
        action: ProofAction,
        target: Vec<u8>,
        k_user: &SecretBytes,
    ) -> Result<Outcome, AuthenticatorError> {
        let (account, proof) = self.proof_challenge(account)?;
        let response = compute_response(
            &account.ocra_suite,
            k_user,
            &proof.challenge,
            self.now_for(&account),
        )?;
        let message = PinProof {
            proof: proof.proof,
            action,
            target,
            response: response.as_str().to_owned(),
        };
        let reply = self.send(&account, wire::PROOF, &message)?;
        let outcome = self.outcome(&account, reply)?;
        tracing::info!(account = %account.id, ?action, outcome = %outcome.outcome, "PIN proof accepted");
        Ok(outcome)
    }

    /// Turns biometrics on for an account: the server first checks a PIN proof
    /// (online), then `k_user` is sealed under a new biometric-only key. An
    /// existing biometric copy is replaced.
    pub fn enable_biometric(
        &self,
        account: AccountId,
        pin: String,
    ) -> Result<(), AuthenticatorError> {
        let unlock = Unlock::Pin(pin);
        let account = self.usable_account(account)?;
        let k_user = self.k_user(&account, &unlock)?;
        drop(unlock);
        self.prove(&account, ProofAction::EnableBiometric, Vec::new(), &k_user)?;
        let alias = format!(
            "latchkey/{}/biometric-{}",
            account.enrollment_id,
            encode_hex(&random_bytes::<4>()?)
        );
        self.keystore.create_biometric_key(&alias)?;
        let sealed = match self.keystore.seal_biometric(&alias, &k_user) {
            Ok(sealed) => sealed,
            Err(error) => {
                self.delete_keys([alias.as_str()]);
                return Err(error.into());
            }
        };
        let copy = BiometricCopy {
            key_alias: alias.clone(),
            sealed_k_user: sealed,
        };
        if let Err(error) = self.store().set_biometric(account.id, Some(&copy)) {
            self.delete_keys([alias.as_str()]);
            return Err(error.into());
        }
        if let Some(old) = &account.biometric {
            self.delete_keys([old.key_alias.as_str()]);
        }
        tracing::info!(account = %account.id, "biometrics enabled");
        Ok(())
    }

    /// Turns biometrics off for an account: the sealed copy and its key are
    /// deleted. Needs nothing else (it only removes a way in).
    pub fn disable_biometric(&self, account: AccountId) -> Result<(), AuthenticatorError> {
        let account = self.store().account(account)?;
        if let Some(copy) = &account.biometric {
            self.store().set_biometric(account.id, None)?;
            self.delete_keys([copy.key_alias.as_str()]);
        }
        Ok(())
    }

    /// Changes the PIN (online, PROTOCOL §6.4): a rekey ticket, a PIN proof
    /// under the old PIN, and the new `k_user` encrypted to the ticket's key;
    /// the server swaps `k_user` atomically. The biometric copy is re-sealed
    /// with the new `k_user` (or dropped if its key was invalidated). The PIN
    /// strings are wiped when the call returns.
    pub fn change_pin(
        &self,
        account: AccountId,
        old_pin: String,
        new_pin: String,
        confirmation: String,
    ) -> Result<(), AuthenticatorError> {
        let old = Unlock::Pin(old_pin);
        let new_pin = Zeroizing::new(new_pin);
        let confirmation = Zeroizing::new(confirmation);
        check_new_pin(&new_pin, &confirmation)?;
        if let Unlock::Pin(old_pin) = &old {
            if old_pin.as_bytes() == new_pin.as_bytes() {
                return Err(AuthenticatorError::WeakPin(
                    "the new PIN must differ from the old one".to_owned(),
                ));
            }
        }
        let account = self.usable_account(account)?;
        let old_k_user = self.k_user(&account, &old)?;
        drop(old);
        let new_k_user = {
            let sealed = account
                .sealed_seed
                .as_ref()
                .ok_or(AuthenticatorError::AccountWiped)?;
            let seed = self.keystore.open(&account.seal_key_alias, sealed)?;
            derive_k_user(&seed, &new_pin, &account.enrollment_id)
        };
        drop(new_pin);

        let (account, proof) = self.proof_challenge(&account)?;
        let nonce: [u8; 16] = random_bytes()?;
        let reply = self.send(&account, wire::REKEY, &RekeyRequest { nonce })?;
        let signed = self.envelope(&account, reply)?;
        let ticket = open_server::<RekeyTicket>(
            &signed,
            account.server_profile.public_key(),
            &self.expectation(&account),
        )?
        .into_message();
        if ticket.hpke_suite != HPKE_SUITE_V1 {
            return Err(ProtocolError::BadField("hpke suite").into());
        }
        let response = compute_response(
            &account.ocra_suite,
            &old_k_user,
            &proof.challenge,
            self.now_for(&account),
        )?;
        drop(old_k_user);
        let info = hpke_info(
            PinChangeSecret::PURPOSE,
            &ticket.ticket,
            &account.enrollment_id,
        );
        let plaintext = PinChangeSecret {
            k_user: new_k_user.clone(),
        }
        .to_plaintext();
        let sealed = seal_secret(&ticket.ticket_key, &info, &plaintext)?;
        drop(plaintext);
        let change = PinChange {
            proof: proof.proof,
            response: response.as_str().to_owned(),
            ticket: ticket.ticket,
            enc: sealed.enc,
            ciphertext: sealed.ciphertext,
        };
        // A process that dies between the server's swap and the re-seal below
        // must not leave a biometric copy of the OLD k_user behind (it would
        // give wrong, counted responses): the copy is set aside first, put back
        // only when the server surely refused, re-sealed when it accepted.
        // Killed in between, the phone is left with biometrics off and the PIN
        // working — never a stale copy (docs/SECURITY.md, "Crash consistency").
        let aside = account.biometric.clone();
        if aside.is_some() {
            self.store().set_biometric(account.id, None)?;
        }
        let answered = self
            .send(&account, wire::PIN, &change)
            .and_then(|reply| self.outcome(&account, reply));
        if let Err(error) = answered {
            if let Some(copy) = &aside {
                if matches!(error, AuthenticatorError::Offline) {
                    // The change may have reached the server: the old copy
                    // cannot be trusted any more.
                    tracing::info!(account = %account.id, "biometric copy dropped: the PIN change's outcome is unknown");
                    self.delete_keys([copy.key_alias.as_str()]);
                } else if let Err(restore) = self.store().set_biometric(account.id, Some(copy)) {
                    tracing::warn!(account = %account.id, %restore, "the biometric copy could not be put back");
                    self.delete_keys([copy.key_alias.as_str()]);
                }
            }
            return Err(error);
        }
        tracing::info!(account = %account.id, "PIN changed");

        if let Some(copy) = &aside {
            let resealed = self
                .keystore
                .seal_biometric(&copy.key_alias, &new_k_user)
                .map_err(AuthenticatorError::from)
                .and_then(|sealed| {
                    Ok(self.store().set_biometric(
                        account.id,
                        Some(&BiometricCopy {
                            key_alias: copy.key_alias.clone(),
                            sealed_k_user: sealed,
                        }),
                    )?)
                });
            if let Err(error) = resealed {
                // The PIN did change on the server: say so; biometrics stay off
                // until turned on again.
                tracing::info!(account = %account.id, %error, "biometric copy dropped after the PIN change");
                self.delete_keys([copy.key_alias.as_str()]);
            }
        }
        Ok(())
    }

    fn replacement_proof(
        &self,
        account: AccountId,
        replacement: &str,
        unlock: Unlock,
        action: ProofAction,
    ) -> Result<(), AuthenticatorError> {
        let replacement: ReplacementId = replacement.parse().map_err(|_| {
            AuthenticatorError::BadInput("the replacement id is malformed".to_owned())
        })?;
        self.unlock_and_prove(account, unlock, action, replacement.as_bytes().to_vec())
    }

    /// Approves moving the account to the new phone that asked (PIN proof,
    /// action 3, bound to the replacement). The move is immediate: this phone
    /// then syncs to fetch its signed revocation and wipes the account; the
    /// account's state says whether that happened already.
    pub fn approve_replacement(
        &self,
        account: AccountId,
        replacement: &str,
        unlock: Unlock,
    ) -> Result<(), AuthenticatorError> {
        self.replacement_proof(
            account,
            replacement,
            unlock,
            ProofAction::ApproveReplacement,
        )?;
        let notifications = self.session().notifications_enabled.unwrap_or(true);
        let push_token = self.store().account(account)?.push_token;
        if let Err(error) = self.sync(account, push_token, notifications) {
            tracing::info!(%error, "the revocation will be picked up by a later sync");
        }
        Ok(())
    }

    /// Turns two-factor authentication off for the account (PIN proof, action 5),
    /// where the server's policy allows it. Regulated accounts (Hong Kong, India)
    /// are refused with the rule cited ([`AuthenticatorError::ServerRefused`] with
    /// code `two_factor_mandatory`, the message citing the rule); the shell shows the warning that anyone with the
    /// password can then log in, before calling this.
    pub fn opt_out_of_two_factor(
        &self,
        account: AccountId,
        unlock: Unlock,
    ) -> Result<(), AuthenticatorError> {
        self.unlock_and_prove(account, unlock, ProofAction::OptOut, Vec::new())
    }

    /// Authorises changing the account's verified phone number (PIN proof,
    /// action 6): the login screen or the integrator then has 5 minutes to make
    /// the change, which spends the authorisation. Without it, a number change of
    /// an account with an active phone is refused (`step_up_required`), so a
    /// password alone cannot redirect the SMS and voice codes.
    pub fn authorise_phone_number_change(
        &self,
        account: AccountId,
        unlock: Unlock,
    ) -> Result<(), AuthenticatorError> {
        self.unlock_and_prove(account, unlock, ProofAction::ChangePhoneNumber, Vec::new())
    }

    /// A PIN proof for `action` on `target` (empty for the account itself):
    /// unlock `k_user`, forget the unlock, prove.
    fn unlock_and_prove(
        &self,
        account: AccountId,
        unlock: Unlock,
        action: ProofAction,
        target: Vec<u8>,
    ) -> Result<(), AuthenticatorError> {
        let account = self.usable_account(account)?;
        let k_user = self.k_user(&account, &unlock)?;
        drop(unlock);
        self.prove(&account, action, target, &k_user)?;
        Ok(())
    }

    /// Cancels a pending move of the account to another phone (PIN proof,
    /// action 4, bound to the replacement): the lost-phone path when the user
    /// still has this phone.
    pub fn cancel_replacement(
        &self,
        account: AccountId,
        replacement: &str,
        unlock: Unlock,
    ) -> Result<(), AuthenticatorError> {
        self.replacement_proof(account, replacement, unlock, ProofAction::CancelReplacement)
    }

    /// Removes an account from this phone. Online, the server revokes the
    /// enrollment first (a device-signed removal, answered with a signed
    /// revocation); offline, or if the server does not confirm, the account is
    /// still wiped here and the report says the server was not told. What a
    /// fraud report needs is kept for 30 days; an account that was already
    /// wiped or replaced is deleted for good.
    pub fn remove_account(&self, account: AccountId) -> Result<RemovalReport, AuthenticatorError> {
        let account = self.store().account(account)?;
        if !account.state.has_secrets() {
            let removed = self.store().delete_account(account.id)?;
            self.delete_keys(
                [
                    Some(removed.device_key_alias.as_str()),
                    Some(removed.seal_key_alias.as_str()),
                    removed.biometric_key_alias.as_deref(),
                ]
                .into_iter()
                .flatten(),
            );
            return Ok(RemovalReport {
                server_revoked: false,
            });
        }
        let removal = Removal {
            reason: "removed by the user on this phone".to_owned(),
        };
        let server_revoked = match self.send(&account, wire::REMOVE, &removal) {
            Ok(Reply::Envelope(signed)) => {
                let checked = open_server::<Notice>(
                    &signed,
                    account.server_profile.public_key(),
                    &self.expectation(&account),
                );
                match checked {
                    Ok(notice) => notice.message().kind == NoticeKind::Revoked,
                    Err(error) => {
                        tracing::warn!(%error, "the removal's answer did not check");
                        false
                    }
                }
            }
            Ok(_) => {
                tracing::info!("the server did not confirm the removal with a notice");
                false
            }
            Err(error) => {
                tracing::info!(%error, "the server was not told of the removal");
                false
            }
        };
        tracing::info!(account = %account.id, server_revoked, "removing");
        self.wipe(&account, None)?;
        Ok(RemovalReport { server_revoked })
    }
}

// This flow's tests run against the real verifier: the journeys crate's
// tests/journeys/phone/pin.rs (ARCHITECTURE.md "Test support").
