//! Sync, PIN proofs, PIN change and removal (PROTOCOL §6.4).

use super::{Outgoing, Verifier, VerifierError, k_user_aad, ticket_aad};
use crate::store::{
    AuditKind, Enrollment, EnrollmentStatus, ProofRecord, ReplacementKind, ReplacementStatus,
    StoreExt, StoreTx, Ticket, TicketKind, TicketStatus,
};
use latchkey_core::protocol::envelope::peek_device_header;
use latchkey_core::protocol::secrets::{HPKE_SUITE_V1, hpke_info, new_ticket_key, open_secret};
use latchkey_core::protocol::{
    Challenge, EnrollmentState, Notice, NoticeKind, PinChange, PinChangeSecret, PinProof,
    ProofAction, ProofChallenge, ProofId, RekeyRequest, RekeyTicket, Removal, ReplacementId,
    SealedSecret, Signed, SyncAnswer, SyncRequest, TicketId,
};

/// What a PIN proof did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofOutcome {
    /// The biometric copy may be enabled (the phone seals `k_user`).
    BiometricEnabled,
    /// The replacement was approved and completed.
    ReplacementApproved,
    /// The replacement was cancelled.
    ReplacementCancelled,
    /// The account opted out of two-factor authentication.
    OptedOut,
    /// The phone number change was authorised.
    PhoneNumberChangeAuthorised,
}

impl ProofOutcome {
    /// The `outcome` word of the HTTP answer.
    pub fn as_str(self) -> &'static str {
        match self {
            ProofOutcome::BiometricEnabled => "biometric_enabled",
            ProofOutcome::ReplacementApproved => "replacement_approved",
            ProofOutcome::ReplacementCancelled => "replacement_cancelled",
            ProofOutcome::OptedOut => "opted_out",
            ProofOutcome::PhoneNumberChangeAuthorised => "phone_number_change_authorised",
        }
    }
}

/// How many recent nonces an enrollment remembers.
const REMEMBERED_NONCES: usize = 64;

impl Verifier {
    /// Refuses a nonce this enrollment used recently, and remembers it.
    fn spend_nonce(enrollment: &mut Enrollment, nonce: &[u8; 16]) -> Result<(), VerifierError> {
        let nonce = latchkey_core::encoding::encode_hex(nonce);
        if enrollment.recent_nonces.contains(&nonce) {
            return Err(VerifierError::Replayed);
        }
        enrollment.recent_nonces.push(nonce);
        let excess = enrollment
            .recent_nonces
            .len()
            .saturating_sub(REMEMBERED_NONCES);
        enrollment.recent_nonces.drain(..excess);
        Ok(())
    }

    /// The phone's sync: stores its push token and permission, answers with its
    /// state, pending requests, a fresh proof challenge, notices and its receipt.
    pub fn sync(&self, signed: &Signed) -> Result<Signed, VerifierError> {
        // A hold period may have ended: complete this account's due moves before
        // answering. Best effort, each move in its own transaction: a move that
        // cannot complete is logged and never fails this sync, and no other
        // account's state is touched (the periodic sweep does those). The
        // enrollment is read unverified only to pick the account; the sync itself
        // is verified below.
        if let Ok(claimed) = peek_device_header::<SyncRequest>(signed) {
            self.complete_due_replacements_of(&claimed.enrollment);
        }
        let now = self.clock.now();
        self.store.in_transaction(|tx| {
            let (verified, mut enrollment) =
                self.open_phone_message_at::<SyncRequest>(tx, signed, true)?;
            let header = verified.header();
            let request = verified.message();
            Self::spend_nonce(&mut enrollment, &request.nonce)?;
            enrollment.last_sync_issued_at = Some(header.issued_at);
            if enrollment.status != EnrollmentStatus::Revoked {
                // A token the push service refused stays unregistered (the answer
                // says `push_registered: false`, which the phone's diagnose
                // reports); a different one registers and clears the mark
                // (docs/PROTOCOL.md §6.4).
                let refused = request.push_token.is_some()
                    && request.push_token == enrollment.push_token_refused;
                if refused {
                    enrollment.push_token = None;
                } else {
                    enrollment.push_token = request.push_token.clone();
                    if request.push_token.is_some() {
                        enrollment.push_token_refused = None;
                    }
                }
                enrollment.notifications_enabled = request.notifications_enabled;
                enrollment.platform = request.platform;
                enrollment.app_version = request.app_version.clone();
            }
            tx.put_enrollment(&enrollment)?;
            let user = Self::user(tx, &enrollment.username)?;
            let pending_replacement =
                tx.replacements_of(&enrollment.username)?
                    .into_iter()
                    .any(|r| {
                        r.status == ReplacementStatus::Pending
                            && (r.old_enrollment == Some(enrollment.id)
                                || r.new_enrollment == enrollment.id)
                    });
            let state = match enrollment.status {
                EnrollmentStatus::Revoked => EnrollmentState::Revoked,
                EnrollmentStatus::Disabled => EnrollmentState::Disabled,
                EnrollmentStatus::Pending => EnrollmentState::ReplacementPending,
                EnrollmentStatus::Active if pending_replacement => {
                    EnrollmentState::ReplacementPending
                }
                EnrollmentStatus::Active if user.password_reset_required => {
                    EnrollmentState::PasswordResetRequired
                }
                EnrollmentStatus::Active => EnrollmentState::Active,
            };
            let pending = if enrollment.status == EnrollmentStatus::Active {
                tx.open_sessions_for(&enrollment.id, now)?
                    .into_iter()
                    .map(|s| s.request)
                    .collect()
            } else {
                Vec::new()
            };
            let proof = if matches!(enrollment.status, EnrollmentStatus::Active) {
                let record = ProofRecord {
                    id: ProofId::random()?,
                    enrollment: enrollment.id,
                    challenge: Challenge::random()?,
                    expires_at: now + super::SHORT_VALIDITY,
                    spent: false,
                };
                tx.put_proof(&record)?;
                Some(ProofChallenge {
                    proof: record.id,
                    challenge: record.challenge,
                    expires_at: record.expires_at,
                })
            } else {
                None
            };
            let notices = tx
                .notices_for(&enrollment.id, now)?
                .into_iter()
                .map(|n| n.notice)
                .collect();
            let receipt = match enrollment.status {
                EnrollmentStatus::Active | EnrollmentStatus::Disabled => {
                    Some(self.receipt(&enrollment)?)
                }
                _ => None,
            };
            let answer = SyncAnswer {
                nonce: request.nonce,
                state,
                failures: enrollment.failures,
                retry_after: self.config.limits.retry_after(
                    enrollment.failures,
                    enrollment.last_failure_at,
                    now,
                ),
                push_registered: enrollment.push_token.is_some()
                    && enrollment.status == EnrollmentStatus::Active,
                pending,
                proof,
                notices,
                receipt,
            };
            // Signed at the epoch the phone spoke at (0 for a phone whose receipt is
            // in this very answer).
            self.sign(enrollment.id, header.epoch, super::SHORT_VALIDITY, &answer)
        })
    }

    /// Spends a proof challenge and verifies the response to it (counted), in the
    /// caller's transaction.
    fn spend_proof(
        &self,
        tx: &mut dyn StoreTx,
        enrollment: &mut Enrollment,
        proof_id: &ProofId,
        response: &str,
        outgoing: &mut Vec<Outgoing>,
    ) -> Result<Result<(), VerifierError>, VerifierError> {
        let now = self.clock.now();
        let mut proof = tx
            .proof(proof_id)?
            .filter(|p| p.enrollment == enrollment.id)
            .ok_or(VerifierError::UnknownProof)?;
        if proof.spent {
            return Err(VerifierError::ProofSpent);
        }
        if now >= proof.expires_at {
            return Err(VerifierError::Expired);
        }
        Self::require_authenticating(enrollment)?;
        // A delayed attempt must not spend the proof either: check the delay first.
        if let Some(retry_after) =
            self.config
                .limits
                .retry_after(enrollment.failures, enrollment.last_failure_at, now)
        {
            return Err(VerifierError::AttemptDelayed { retry_after });
        }
        proof.spent = true;
        tx.put_proof(&proof)?;
        self.count_and_verify(tx, enrollment, &proof.challenge, response, outgoing)
    }

    /// A PIN proof authorising an action.
    pub fn prove(&self, signed: &Signed) -> Result<ProofOutcome, VerifierError> {
        let (outcome, _) = self.ceremony(|tx| {
            let (verified, mut enrollment) = self.open_phone_message::<PinProof>(tx, signed)?;
            let proof = verified.message().clone();
            // The target is checked before the attempt is counted.
            let mut replacement = match proof.action {
                ProofAction::ApproveReplacement | ProofAction::CancelReplacement => {
                    let id = ReplacementId::from_slice(&proof.target)
                        .map_err(|_| VerifierError::BadRequest("the target must be a replacement id"))?;
                    let replacement = tx
                        .replacement(&id)?
                        .filter(|r| r.old_enrollment == Some(enrollment.id))
                        .ok_or(VerifierError::UnknownReplacement)?;
                    if replacement.status != ReplacementStatus::Pending {
                        return Err(VerifierError::ReplacementEnded);
                    }
                    if proof.action == ProofAction::ApproveReplacement
                        && replacement.kind != ReplacementKind::ApprovedOnOldPhone
                    {
                        return Err(VerifierError::BadRequest("a lost-phone replacement cannot be approved, only cancelled"));
                    }
                    Some(replacement)
                }
                ProofAction::ChangePin => {
                    return Err(VerifierError::BadRequest("a PIN change goes to /v1/phone/pin"));
                }
                _ if !proof.target.is_empty() => return Err(VerifierError::BadRequest("this action takes no target")),
                _ => None,
            };
            if proof.action == ProofAction::OptOut {
                let user = Self::user(tx, &enrollment.username)?;
                let policy = self.policy.for_jurisdiction(&user.jurisdiction);
                if !policy.may_opt_out() {
                    // Refused before the attempt is counted or the proof spent.
                    return Err(VerifierError::TwoFactorMandatory {
                        citation: policy.citation().unwrap_or("mandatory by policy").to_owned(),
                    });
                }
            }
            let mut outgoing = Vec::new();
            let verdict = self.spend_proof(tx, &mut enrollment, &proof.proof, &proof.response, &mut outgoing)?;
            if let Err(error) = verdict {
                return Ok((Err(error), outgoing));
            }
            let outcome = match (proof.action, replacement.as_mut()) {
                (ProofAction::ApproveReplacement, Some(r)) => {
                    self.complete_replacement(tx, r, &mut outgoing)?;
                    ProofOutcome::ReplacementApproved
                }
                (ProofAction::CancelReplacement, Some(r)) => {
                    self.cancel_replacement(tx, r, "old_phone")?;
                    ProofOutcome::ReplacementCancelled
                }
                (ProofAction::EnableBiometric, _) => {
                    self.audit(tx, AuditKind::BiometricEnabled, &enrollment.username, serde_json::json!({ "enrollment": enrollment.id.to_string() }))?;
                    ProofOutcome::BiometricEnabled
                }
                (ProofAction::OptOut, _) => {
                    let now = self.clock.now();
                    let mut state = tx.account_state(&enrollment.username)?;
                    state.opted_out = true;
                    state.opt_out_warned_at = Some(now);
                    state.opt_out_warning = Some(super::account::OPT_OUT_WARNING.to_owned());
                    tx.put_account_state(&enrollment.username, &state)?;
                    self.audit(
                        tx,
                        AuditKind::OptedOut,
                        &enrollment.username,
                        serde_json::json!({ "warning": super::account::OPT_OUT_WARNING, "enrollment": enrollment.id.to_string() }),
                    )?;
                    let user = Self::user(tx, &enrollment.username)?;
                    if let Ok(body) = crate::outbox::MessageText::plain(format!(
                        "Two-factor authentication was turned off for your account after a PIN confirmation on your phone.\n\n{}",
                        super::account::OPT_OUT_WARNING
                    )) {
                        outgoing.push(Self::mail(&user, "Two-factor authentication turned off", body));
                    }
                    ProofOutcome::OptedOut
                }
                (ProofAction::ChangePhoneNumber, _) => {
                    // The integrator's number change must follow within 5 minutes,
                    // and spends this authorisation.
                    let mut state = tx.account_state(&enrollment.username)?;
                    state.phone_change_authorised_until = Some(self.clock.now() + super::SHORT_VALIDITY);
                    tx.put_account_state(&enrollment.username, &state)?;
                    self.audit(tx, AuditKind::PhoneNumberChangeAuthorised, &enrollment.username, serde_json::json!({ "enrollment": enrollment.id.to_string() }))?;
                    ProofOutcome::PhoneNumberChangeAuthorised
                }
                _ => return Err(VerifierError::BadRequest("unsupported action")),
            };
            Ok((Ok(outcome), outgoing))
        })?;
        self.metrics.proved(outcome)
    }

    /// A fresh signed X25519 key for a PIN change.
    pub fn rekey_ticket(&self, signed: &Signed) -> Result<Signed, VerifierError> {
        let now = self.clock.now();
        let (secret_key, public_key) = new_ticket_key()?;
        let ticket_id = TicketId::random()?;
        self.store.in_transaction(|tx| {
            let (verified, mut enrollment) = self.open_phone_message::<RekeyRequest>(tx, signed)?;
            Self::require_authenticating(&enrollment)?;
            Self::spend_nonce(&mut enrollment, &verified.message().nonce)?;
            tx.put_enrollment(&enrollment)?;
            // expose_secret: the ticket key is wrapped for storage.
            let secret_wrapped = self
                .keys
                .wrap(secret_key.expose_secret(), &ticket_aad(&ticket_id))?;
            tx.put_ticket(&Ticket {
                id: ticket_id,
                enrollment: enrollment.id,
                username: enrollment.username.clone(),
                kind: TicketKind::Rekey,
                secret_wrapped: Some(secret_wrapped),
                code_mac: None,
                wrong_codes: 0,
                status: TicketStatus::Open,
                created_at: now,
                expires_at: now + super::REKEY_TICKET_SECS,
                replacement: None,
            })?;
            self.sign(
                enrollment.id,
                enrollment.epoch,
                super::REKEY_TICKET_SECS,
                &RekeyTicket {
                    ticket: ticket_id,
                    ticket_key: public_key,
                    hpke_suite: HPKE_SUITE_V1,
                },
            )
        })
    }

    /// A PIN change: proof under the old PIN, the new `k_user` swapped in atomically.
    pub fn change_pin(&self, signed: &Signed) -> Result<(), VerifierError> {
        let now = self.clock.now();
        let (outcome, _) = self.ceremony(|tx| {
            let (verified, mut enrollment) = self.open_phone_message::<PinChange>(tx, signed)?;
            let change = verified.message().clone();
            let mut ticket = tx
                .ticket(&change.ticket)?
                .filter(|t| t.kind == TicketKind::Rekey && t.enrollment == enrollment.id)
                .ok_or(VerifierError::UnknownTicket)?;
            if ticket.status != TicketStatus::Open || now >= ticket.expires_at {
                return Err(VerifierError::TicketEnded);
            }
            let wrapped = ticket
                .secret_wrapped
                .clone()
                .ok_or(VerifierError::TicketEnded)?;
            let secret_key = latchkey_core::protocol::TicketSecretKey::from_secret(
                self.keys.unwrap(&wrapped, &ticket_aad(&ticket.id))?,
            )?;
            let info = hpke_info(PinChangeSecret::PURPOSE, &ticket.id, &enrollment.id);
            let sealed = SealedSecret {
                enc: change.enc,
                ciphertext: change.ciphertext.clone(),
            };
            let secret =
                PinChangeSecret::from_plaintext(&open_secret(&secret_key, &info, &sealed)?)?;
            let mut outgoing = Vec::new();
            let verdict = self.spend_proof(
                tx,
                &mut enrollment,
                &change.proof,
                &change.response,
                &mut outgoing,
            )?;
            if let Err(error) = verdict {
                return Ok((Err(error), outgoing));
            }
            // expose_secret: the new k_user is wrapped for storage.
            enrollment.k_user_wrapped = self
                .keys
                .wrap(secret.k_user.expose_secret(), &k_user_aad(&enrollment.id))?;
            enrollment.drift = 0;
            tx.put_enrollment(&enrollment)?;
            ticket.status = TicketStatus::Spent;
            ticket.secret_wrapped = None;
            tx.put_ticket(&ticket)?;
            self.audit(
                tx,
                AuditKind::PinChanged,
                &enrollment.username,
                serde_json::json!({ "enrollment": enrollment.id.to_string() }),
            )?;
            Ok((Ok(()), outgoing))
        })?;
        outcome
    }

    /// The phone removes its account: the enrollment is revoked and the signed
    /// revocation returned.
    pub fn remove(&self, signed: &Signed) -> Result<Signed, VerifierError> {
        let now = self.clock.now();
        self.store.in_transaction(|tx| {
            let (verified, mut enrollment) = self.open_phone_message::<Removal>(tx, signed)?;
            if enrollment.status == EnrollmentStatus::Revoked {
                return Err(VerifierError::EnrollmentRevoked);
            }
            enrollment.status = EnrollmentStatus::Revoked;
            enrollment.revoked_at = Some(now);
            enrollment.push_token = None;
            tx.put_enrollment(&enrollment)?;
            for mut replacement in Self::pending_moves(tx, &enrollment.username)? {
                if replacement.new_enrollment == enrollment.id {
                    // The would-be new phone withdrew: its move ends with it, so the
                    // hold can never wipe the old phone for a phone that is gone.
                    self.cancel_replacement(tx, &mut replacement, "new_phone_removed")?;
                } else if replacement.old_enrollment == Some(enrollment.id) {
                    if replacement.kind == ReplacementKind::ApprovedOnOldPhone {
                        // Nobody is left to approve it.
                        self.cancel_replacement(tx, &mut replacement, "old_phone_removed")?;
                    } else {
                        // A lost-phone move goes on: it has nothing left to replace.
                        replacement.old_enrollment = None;
                        tx.put_replacement(&replacement)?;
                    }
                }
            }
            self.audit(
                tx,
                AuditKind::EnrollmentRemoved,
                &enrollment.username,
                serde_json::json!({ "enrollment": enrollment.id.to_string(), "reason": verified.message().reason }),
            )?;
            self.queue_notice(
                tx,
                &enrollment,
                &Notice {
                    kind: NoticeKind::Revoked,
                    text: "This phone was removed from the account.".into(),
                    new_phone: None,
                    effective_at: Some(now),
                    replacement: None,
                },
            )
        })
    }
}
