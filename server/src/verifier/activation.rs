//! Activation (PROTOCOL §6.1) and moving to a new phone (§6.5).

use super::{Outgoing, Verifier, VerifierError, k_user_aad, ticket_aad};
use crate::outbox::{MessageText, SecretText};
use crate::store::{
    AuditKind, Enrollment, EnrollmentStatus, Replacement, ReplacementKind, ReplacementStatus,
    StoreExt, StoreTx, Ticket, TicketKind, TicketStatus,
};
use latchkey_core::encoding::encode_hex;
use latchkey_core::protocol::EnrollmentLimits;
use latchkey_core::protocol::envelope::{open_device, peek_device_unverified};
use latchkey_core::protocol::ids::random_bytes;
use latchkey_core::protocol::secrets::{hpke_info, new_ticket_key, open_secret};
use latchkey_core::protocol::{
    ActivationReceipt, ActivationRequest, ActivationSecret, ActivationTicket, DeviceExpectation,
    EnrollmentId, KeystoreKind, LATCHKEY_SUITE, MatchingMode, Notice, NoticeKind, ReplacementId,
    SealedSecret, Signed, TicketId,
};

/// How a replacing activation should complete, as the starter chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplaceMode {
    /// The old phone approves with a PIN proof.
    ApproveOnOldPhone,
    /// The old phone is lost: a hold period with notices, cancellable.
    LostPhone,
}

/// A started activation: the enrollment id and the signed ticket for the app.
#[derive(Debug, Clone)]
pub struct ActivationStart {
    /// The new enrollment's id.
    pub enrollment: EnrollmentId,
    /// The signed ticket envelope.
    pub ticket: Signed,
    /// When the ticket and its SMS code expire.
    pub expires_at: u64,
}

/// What an activation request led to.
#[derive(Debug, Clone)]
pub enum ActivationOutcome {
    /// The phone is the account's active phone: here is its receipt.
    Active(Signed),
    /// The account had a phone: waiting for the old phone's approval.
    AwaitingOldPhone {
        /// The replacement.
        replacement: ReplacementId,
    },
    /// The account had a phone: held until `effective_at`, cancellable.
    Held {
        /// The replacement.
        replacement: ReplacementId,
        /// When it completes unless cancelled.
        effective_at: u64,
    },
}

/// Activation starts allowed per account per hour.
const STARTS_PER_HOUR: usize = 5;

/// A 13-digit activation code, uniform over 10^13 (rejection sampling).
fn activation_code() -> Result<String, VerifierError> {
    const SPAN: u64 = 10_000_000_000_000;
    let limit = u64::MAX - (u64::MAX % SPAN);
    loop {
        let value = u64::from_be_bytes(random_bytes::<8>()?);
        if value < limit {
            return Ok(format!("{:013}", value % SPAN));
        }
    }
}

impl Verifier {
    /// The numbers a receipt carries.
    pub(crate) fn receipt_limits(&self) -> EnrollmentLimits {
        let l = &self.config.limits;
        EnrollmentLimits {
            reset_at: u64::from(l.password_reset_after_failures),
            disable_at: u64::from(l.disable_after_failures),
            session_seconds: l.session_secs,
            push_seconds: l.push_answerable_secs,
            drift_window: u64::from(l.drift_window_steps),
        }
    }

    /// A fresh signed receipt for an active enrollment.
    pub(crate) fn receipt(&self, enrollment: &Enrollment) -> Result<Signed, VerifierError> {
        let key = latchkey_core::protocol::DevicePublicKey::from_slice(&enrollment.device_key)
            .map_err(|_| crate::store::StoreError::CorruptRow("device key"))?;
        let receipt = ActivationReceipt {
            account: enrollment.username.clone(),
            ocra_suite: enrollment.ocra_suite.clone(),
            matching_mode: enrollment.matching_mode,
            device_key: key.fingerprint(),
            limits: self.receipt_limits(),
        };
        self.sign(
            enrollment.id,
            enrollment.epoch,
            super::SHORT_VALIDITY,
            &receipt,
        )
    }

    /// The account's authenticating phone (active or disabled), if any.
    pub(crate) fn authenticating_enrollment(
        tx: &mut dyn StoreTx,
        username: &str,
    ) -> Result<Option<Enrollment>, VerifierError> {
        Ok(tx.enrollments_of(username)?.into_iter().find(|e| {
            matches!(
                e.status,
                EnrollmentStatus::Active | EnrollmentStatus::Disabled
            )
        }))
    }

    /// Starts an activation for an account whose password the caller checked:
    /// makes the enrollment id and a ticket, sends the 13-digit code by SMS, tells
    /// the account's phone, and returns the signed ticket for the app.
    pub fn start_activation(
        &self,
        username: &str,
        replace: Option<ReplaceMode>,
        matching_mode: MatchingMode,
    ) -> Result<ActivationStart, VerifierError> {
        let now = self.clock.now();
        let lifetime = self.config.limits.activation_code_secs;
        let code = activation_code()?;
        let (secret_key, public_key) = new_ticket_key()?;
        let ticket_id = TicketId::random()?;
        let enrollment = EnrollmentId::random()?;
        let (start, _) = self.ceremony(|tx| {
            let user = Self::user(tx, username)?;
            let username = user.username.as_str().to_owned();
            tx.lock_account(&username)?;
            let policy = self.policy.for_jurisdiction(&user.jurisdiction);
            if !policy.allows(matching_mode) {
                return Err(VerifierError::PolicyRefused(format!(
                    "{} matching is not allowed for this account ({})",
                    if matching_mode == MatchingMode::Tap { "tap" } else { "code" },
                    policy.citation().unwrap_or("policy")
                )));
            }
            // At most one move per account: none starts while a lost-phone move
            // waits out its hold (PROTOCOL §6.5).
            Self::refuse_during_hold(tx, &username)?;
            let mut state = tx.account_state(&username)?;
            state.activation_starts.retain(|&t| now.saturating_sub(t) < 3600);
            if state.activation_starts.len() >= STARTS_PER_HOUR {
                let oldest = state.activation_starts.iter().min().copied().unwrap_or(now);
                return Err(VerifierError::RateLimited { retry_after: oldest + 3600 });
            }
            state.activation_starts.push(now);
            tx.put_account_state(&username, &state)?;

            let existing = Self::authenticating_enrollment(tx, &username)?;
            let replacement = match (&existing, replace) {
                (None, _) => None,
                (Some(_), None) => return Err(VerifierError::AlreadyEnrolled),
                (Some(old), Some(ReplaceMode::ApproveOnOldPhone)) if old.status == EnrollmentStatus::Disabled => {
                    return Err(VerifierError::DisabledCannotApprove);
                }
                (Some(_), Some(ReplaceMode::ApproveOnOldPhone)) => Some(ReplacementKind::ApprovedOnOldPhone),
                (Some(_), Some(ReplaceMode::LostPhone)) => Some(ReplacementKind::LostPhone),
            };
            // expose_secret: the ticket key is wrapped for storage.
            let secret_wrapped = self.keys.wrap(secret_key.expose_secret(), &ticket_aad(&ticket_id))?;
            tx.put_ticket(&Ticket {
                id: ticket_id,
                enrollment,
                username: username.clone(),
                kind: TicketKind::Activation,
                secret_wrapped: Some(secret_wrapped),
                code_mac: Some(self.keys.pepper_mac(code.as_bytes())?.to_vec()),
                wrong_codes: 0,
                status: TicketStatus::Open,
                created_at: now,
                expires_at: now + lifetime,
                replacement,
            })?;
            let ticket = ActivationTicket {
                ticket: ticket_id,
                account: username.clone(),
                ticket_key: public_key,
                hpke_suite: latchkey_core::protocol::secrets::HPKE_SUITE_V1,
                ocra_suite: LATCHKEY_SUITE.into(),
                matching_modes: policy.matching_modes().to_vec(),
                replacing: replacement.is_some(),
            };
            let signed = self.sign(enrollment, 0, lifetime, &ticket)?;
            let mut outgoing = Vec::new();
            outgoing.extend(Self::sms_with_code(
                &user,
                "Your Latchkey activation code is {secret}. It expires in 10 minutes. Never share it.",
                &code,
            ));
            if let Some(old) = &existing {
                self.queue_notice(
                    tx,
                    old,
                    &Notice {
                        kind: NoticeKind::ActivationStarted,
                        text: "Someone started activating Latchkey on a new phone for this account.".into(),
                        new_phone: None,
                        effective_at: None,
                        replacement: None,
                    },
                )?;
                outgoing.extend(Self::push_to(
                    old,
                    "Latchkey: a new phone is being set up for your account",
                    serde_json::json!({ "latchkey": "1", "notice": "activation_started" }),
                ));
            }
            self.audit(
                tx,
                AuditKind::ActivationStarted,
                &username,
                serde_json::json!({ "enrollment": enrollment.to_string(), "replacing": replacement.is_some() }),
            )?;
            Ok((ActivationStart { enrollment, ticket: signed, expires_at: now + lifetime }, outgoing))
        })?;
        Ok(self
            .metrics
            .started(crate::metrics::Flow::activation(replace.is_some()), start))
    }

    /// The phone's activation request (PROTOCOL §6.1 step 3).
    pub fn activate(&self, signed: &Signed) -> Result<ActivationOutcome, VerifierError> {
        let now = self.clock.now();
        let (_, unverified) = peek_device_unverified::<ActivationRequest>(signed)?;
        let committed = self.ceremony(|tx| {
            let mut ticket = tx.ticket(&unverified.ticket)?.ok_or(VerifierError::UnknownTicket)?;
            tx.lock_account(&ticket.username)?;
            if ticket.kind != TicketKind::Activation {
                return Err(VerifierError::UnknownTicket);
            }
            let expect = DeviceExpectation {
                server: self.fingerprint(),
                enrollment: ticket.enrollment,
                epoch: 0,
                now,
                max_skew: super::DEVICE_MAX_SKEW,
            };
            let verified = open_device::<ActivationRequest>(signed, &unverified.device_key, &expect)?;
            let request = verified.message();
            // The same phone asking again because the receipt never reached it
            // (a crash or a dropped connection after the commit): the activation
            // it completed is answered again with a fresh receipt, while the
            // ticket's lifetime lasts (docs/PROTOCOL.md §6.1). Only the holder of
            // the enrolled device key can ask; a receipt grants nothing by itself.
            if ticket.status == TicketStatus::Spent && now < ticket.expires_at {
                if let Some(done) = tx.enrollment(&ticket.enrollment)? {
                    if done.status == EnrollmentStatus::Active
                        && done.device_key.as_slice() == request.device_key.as_bytes()
                    {
                        return Ok(Ok((ActivationOutcome::Active(self.receipt(&done)?), Vec::new())));
                    }
                }
            }
            if ticket.status != TicketStatus::Open || now >= ticket.expires_at {
                return Err(VerifierError::TicketEnded);
            }
            let wrapped = ticket.secret_wrapped.as_ref().ok_or(VerifierError::TicketEnded)?;
            let secret_key = latchkey_core::protocol::TicketSecretKey::from_secret(
                self.keys.unwrap(wrapped, &ticket_aad(&ticket.id))?,
            )?;
            let info = hpke_info(ActivationSecret::PURPOSE, &ticket.id, &ticket.enrollment);
            let sealed = SealedSecret { enc: request.enc, ciphertext: request.ciphertext.clone() };
            let secret = ActivationSecret::from_plaintext(&open_secret(&secret_key, &info, &sealed)?)?;

            // The code: counted before it is compared; the 3rd wrong one burns the ticket.
            let code_mac = ticket.code_mac.clone().unwrap_or_default();
            // expose_secret: the typed code is compared to its stored HMAC.
            if !self.keys.pepper_verify(secret.code.expose_secret(), &code_mac)? {
                ticket.wrong_codes += 1;
                let tries = self.config.limits.activation_code_tries;
                if ticket.wrong_codes >= tries {
                    ticket.status = TicketStatus::Burned;
                    ticket.secret_wrapped = None;
                }
                tx.put_ticket(&ticket)?;
                return Ok(Err(VerifierError::WrongActivationCode {
                    tries_left: tries.saturating_sub(ticket.wrong_codes),
                }));
            }
            if !self.config.dev && secret.keystore == KeystoreKind::Software {
                return Err(VerifierError::SoftwareKeystoreRefused);
            }
            // At most one move per account (PROTOCOL §6.5): a held lost-phone move
            // refuses this activation (nothing is spent: the transaction rolls
            // back); a move still waiting for the old phone's approval is
            // superseded by this one.
            Self::refuse_during_hold(tx, &ticket.username)?;
            for mut waiting in Self::pending_moves(tx, &ticket.username)? {
                self.cancel_replacement(tx, &mut waiting, "superseded")?;
            }
            ticket.status = TicketStatus::Spent;
            ticket.secret_wrapped = None;
            tx.put_ticket(&ticket)?;

            let user = Self::user(tx, &ticket.username)?;
            // expose_secret: k_user is wrapped for storage.
            let k_user_wrapped = self.keys.wrap(secret.k_user.expose_secret(), &k_user_aad(&ticket.enrollment))?;
            let mut enrollment = Enrollment {
                id: ticket.enrollment,
                username: ticket.username.clone(),
                epoch: 0,
                status: EnrollmentStatus::Pending,
                device_key: request.device_key.as_bytes().to_vec(),
                device_name: secret.device_name.clone(),
                platform: secret.platform,
                keystore: secret.keystore,
                app_version: secret.app_version.clone(),
                k_user_wrapped,
                ocra_suite: LATCHKEY_SUITE.into(),
                matching_mode: MatchingMode::Code,
                failures: 0,
                last_failure_at: None,
                drift: 0,
                push_token: secret.push_token.clone(),
                notifications_enabled: secret.push_token.is_some(),
                last_sync_issued_at: None,
                receipt: None,
                created_at: now,
                activated_at: None,
                revoked_at: None,
                replaced_by: None,
                recent_nonces: Vec::new(),
                epoch_confirmed: false,
                push_token_refused: None,
            };
            let existing = Self::authenticating_enrollment(tx, &ticket.username)?;
            let mut outgoing = Vec::new();
            let outcome = match (existing, ticket.replacement) {
                (None, _) => {
                    let mut state = tx.account_state(&ticket.username)?;
                    state.epoch += 1;
                    tx.put_account_state(&ticket.username, &state)?;
                    enrollment.epoch = state.epoch;
                    enrollment.status = EnrollmentStatus::Active;
                    enrollment.activated_at = Some(now);
                    // The receipt is in this answer: the phone never needs epoch 0 again.
                    enrollment.epoch_confirmed = true;
                    tx.put_enrollment(&enrollment)?;
                    self.audit(
                        tx,
                        AuditKind::EnrollmentActivated,
                        &ticket.username,
                        serde_json::json!({ "enrollment": enrollment.id.to_string(), "epoch": enrollment.epoch, "device": enrollment.device_name }),
                    )?;
                    ActivationOutcome::Active(self.receipt(&enrollment)?)
                }
                (Some(_), None) => return Err(VerifierError::AlreadyEnrolled),
                (Some(old), Some(kind)) => {
                    tx.put_enrollment(&enrollment)?;
                    let id = ReplacementId::random()?;
                    let (effective_at, cancel_token) = match kind {
                        ReplacementKind::ApprovedOnOldPhone => (None, None),
                        ReplacementKind::LostPhone => {
                            (Some(now + self.config.limits.replacement_hold_secs), Some(random_bytes::<16>()?))
                        }
                    };
                    let cancel_token_mac = match &cancel_token {
                        Some(token) => Some(self.keys.pepper_mac(token)?.to_vec()),
                        None => None,
                    };
                    tx.put_replacement(&Replacement {
                        id,
                        username: ticket.username.clone(),
                        old_enrollment: Some(old.id),
                        new_enrollment: enrollment.id,
                        kind,
                        status: ReplacementStatus::Pending,
                        created_at: now,
                        effective_at,
                        cancel_token_mac,
                        ended_at: None,
                    })?;
                    let text = match kind {
                        ReplacementKind::ApprovedOnOldPhone => format!(
                            "{} asks to become this account's authentication phone. Approve it here with your PIN, or ignore it.",
                            enrollment.device_name
                        ),
                        ReplacementKind::LostPhone => format!(
                            "{} will replace this phone as the account's authentication phone in {}. If this was not you, cancel it here.",
                            enrollment.device_name,
                            self.config.limits.replacement_hold_words()
                        ),
                    };
                    self.queue_notice(
                        tx,
                        &old,
                        &Notice {
                            kind: NoticeKind::ReplacementPending,
                            text: text.clone(),
                            new_phone: Some(enrollment.device_name.clone()),
                            effective_at,
                            replacement: Some(id),
                        },
                    )?;
                    outgoing.extend(Self::push_to(
                        &old,
                        "Latchkey: a new phone wants to replace this one",
                        serde_json::json!({ "latchkey": "1", "notice": "replacement_pending" }),
                    ));
                    self.audit(
                        tx,
                        AuditKind::ReplacementStarted,
                        &ticket.username,
                        serde_json::json!({ "replacement": id.to_string(), "kind": format!("{kind:?}"), "new_phone": enrollment.device_name }),
                    )?;
                    match (kind, effective_at, cancel_token) {
                        (ReplacementKind::LostPhone, Some(effective_at), Some(token)) => {
                            outgoing.extend(Self::sms(
                                &user,
                                &format!("Latchkey: a new phone will become your authentication device in {}. If this was not you, cancel it from your old phone or the e-mail we sent.", self.config.limits.replacement_hold_words()),
                            ));
                            let body = MessageText::with_secret(
                                format!("{text}\n\nTo cancel, open this link: {}/v1/replacements/cancel?token={{secret}}", self.config.public_url.as_deref().unwrap_or("")),
                                SecretText::new(encode_hex(&token)),
                            )
                            .map_err(|_| VerifierError::BadRequest("e-mail template"))?;
                            outgoing.push(Self::mail(&user, "Your authentication phone is being replaced", body));
                            ActivationOutcome::Held { replacement: id, effective_at }
                        }
                        _ => ActivationOutcome::AwaitingOldPhone { replacement: id },
                    }
                }
            };
            Ok(Ok((outcome, outgoing)))
        })?;
        // A wrong code is a committed state change (the try was counted) and an error.
        let (outcome, _) = self.metrics.activation_finished(committed)?;
        Ok(outcome)
    }

    /// Completes a replacement in the current transaction: the old enrollment is
    /// revoked (with a signed notice), the new one becomes active with epoch + 1.
    pub(crate) fn complete_replacement(
        &self,
        tx: &mut dyn StoreTx,
        replacement: &mut Replacement,
        outgoing: &mut Vec<Outgoing>,
    ) -> Result<(), VerifierError> {
        let now = self.clock.now();
        if let Some(reason) = Self::completion_blocker(tx, replacement)? {
            tracing::warn!(replacement = %replacement.id, reason, "a phone move cannot complete");
            return Err(VerifierError::ReplacementEnded);
        }
        let mut new = tx
            .enrollment(&replacement.new_enrollment)?
            .ok_or(VerifierError::UnknownEnrollment)?;
        // A name stored before names were checked (PROTOCOL §4) loses its format
        // and bidi characters here, so the old phone still reads — and acts on —
        // its signed revocation.
        let new_name: String = new
            .device_name
            .chars()
            .filter(|c| !latchkey_core::protocol::text::is_disguising(*c))
            .collect();
        if let Some(old_id) = replacement.old_enrollment {
            if let Some(mut old) = tx.enrollment(&old_id)? {
                if old.status != EnrollmentStatus::Revoked {
                    old.status = EnrollmentStatus::Revoked;
                    old.revoked_at = Some(now);
                    old.replaced_by = Some(new.id);
                    tx.put_enrollment(&old)?;
                    self.queue_notice(
                        tx,
                        &old,
                        &Notice {
                            kind: NoticeKind::Revoked,
                            text: format!("This phone was replaced by {new_name}. Its Latchkey secrets for this account are wiped."),
                            new_phone: Some(new_name.clone()),
                            effective_at: Some(now),
                            replacement: Some(replacement.id),
                        },
                    )?;
                    outgoing.extend(Self::push_to(
                        &old,
                        "Latchkey: this phone was replaced",
                        serde_json::json!({ "latchkey": "1", "notice": "revoked" }),
                    ));
                }
            }
        }
        let mut state = tx.account_state(&replacement.username)?;
        state.epoch += 1;
        tx.put_account_state(&replacement.username, &state)?;
        new.epoch = state.epoch;
        new.status = EnrollmentStatus::Active;
        new.activated_at = Some(now);
        tx.put_enrollment(&new)?;
        replacement.status = ReplacementStatus::Completed;
        replacement.ended_at = Some(now);
        tx.put_replacement(replacement)?;
        self.audit(
            tx,
            AuditKind::ReplacementCompleted,
            &replacement.username,
            serde_json::json!({ "replacement": replacement.id.to_string(), "enrollment": new.id.to_string(), "epoch": new.epoch }),
        )?;
        Ok(())
    }

    /// Cancels a pending replacement in the current transaction.
    pub(crate) fn cancel_replacement(
        &self,
        tx: &mut dyn StoreTx,
        replacement: &mut Replacement,
        by: &str,
    ) -> Result<(), VerifierError> {
        let now = self.clock.now();
        if replacement.status != ReplacementStatus::Pending {
            return Err(VerifierError::ReplacementEnded);
        }
        if let Some(mut new) = tx.enrollment(&replacement.new_enrollment)? {
            // Only a phone still waiting for this move ends with it.
            if new.status == EnrollmentStatus::Pending {
                new.status = EnrollmentStatus::Revoked;
                new.revoked_at = Some(now);
                tx.put_enrollment(&new)?;
            }
        }
        replacement.status = ReplacementStatus::Cancelled;
        replacement.ended_at = Some(now);
        tx.put_replacement(replacement)?;
        if let Some(old_id) = replacement.old_enrollment {
            if let Some(old) = tx
                .enrollment(&old_id)?
                .filter(|old| old.status != EnrollmentStatus::Revoked)
            {
                self.queue_notice(
                    tx,
                    &old,
                    &Notice {
                        kind: NoticeKind::ReplacementCancelled,
                        text: "The replacement of this phone was cancelled.".into(),
                        new_phone: None,
                        effective_at: Some(now),
                        replacement: Some(replacement.id),
                    },
                )?;
            }
        }
        self.audit(
            tx,
            AuditKind::ReplacementCancelled,
            &replacement.username,
            serde_json::json!({ "replacement": replacement.id.to_string(), "by": by }),
        )?;
        Ok(())
    }

    /// The account's moves that are still pending, oldest first.
    pub(crate) fn pending_moves(
        tx: &mut dyn StoreTx,
        username: &str,
    ) -> Result<Vec<Replacement>, VerifierError> {
        Ok(tx
            .replacements_of(username)?
            .into_iter()
            .filter(|r| r.status == ReplacementStatus::Pending)
            .collect())
    }

    /// Refuses while a lost-phone move of the account waits out its hold.
    fn refuse_during_hold(tx: &mut dyn StoreTx, username: &str) -> Result<(), VerifierError> {
        if Self::pending_moves(tx, username)?
            .iter()
            .any(|r| r.kind == ReplacementKind::LostPhone)
        {
            return Err(VerifierError::ReplacementPending);
        }
        Ok(())
    }

    /// Why a pending move can no longer complete, if it cannot: its new phone is
    /// no longer waiting (removed, revoked), or another phone than the one it
    /// replaces became the account's phone. Read in the transaction that would
    /// complete it.
    fn completion_blocker(
        tx: &mut dyn StoreTx,
        replacement: &Replacement,
    ) -> Result<Option<&'static str>, VerifierError> {
        if replacement.status != ReplacementStatus::Pending {
            return Ok(Some("the move has ended"));
        }
        match tx.enrollment(&replacement.new_enrollment)? {
            Some(new) if new.status == EnrollmentStatus::Pending => {}
            _ => return Ok(Some("the new phone is no longer waiting for this move")),
        }
        if let Some(current) = Self::authenticating_enrollment(tx, &replacement.username)? {
            if replacement.old_enrollment != Some(current.id) {
                return Ok(Some("another phone became the account's phone"));
            }
        }
        Ok(None)
    }

    /// Completes every lost-phone replacement whose hold has ended, each in its
    /// own transaction after re-checking the account's state. A move that can no
    /// longer complete is ended (cancelled, audited); one that fails is logged
    /// and skipped (the next sweep tries again) — neither stops the others.
    /// Returns how many completed. The server calls it periodically, on every
    /// node: while one node sweeps, another's sweep does nothing and returns 0
    /// ([`crate::store::Store::run_alone`]).
    pub fn complete_due_replacements(&self) -> Result<usize, VerifierError> {
        let mut swept = Ok(0);
        self.store.run_alone("complete_due_replacements", &mut || {
            swept = self.sweep_due_replacements();
        })?;
        self.metrics.moves_completed(swept)
    }

    /// The sweep itself, on whatever node runs it.
    fn sweep_due_replacements(&self) -> Result<usize, VerifierError> {
        let now = self.clock.now();
        let due: Vec<ReplacementId> = self.store.in_transaction(|tx| {
            Ok::<_, VerifierError>(
                tx.pending_replacements()?
                    .into_iter()
                    .filter(|r| Self::is_due(r, now))
                    .map(|r| r.id)
                    .collect(),
            )
        })?;
        Ok(self.complete_each(&due))
    }

    /// Completes the due lost-phone moves of the account `enrollment` belongs
    /// to, as [`Self::complete_due_replacements`] does for all. Best effort: a
    /// failure is logged, never returned, so that it cannot fail the request
    /// (a sync) that asked.
    pub(crate) fn complete_due_replacements_of(&self, enrollment: &EnrollmentId) -> usize {
        let now = self.clock.now();
        let due = self.store.in_transaction(|tx| {
            let Some(enrollment) = tx.enrollment(enrollment)? else {
                return Ok(Vec::new());
            };
            Ok::<_, VerifierError>(
                Self::pending_moves(tx, &enrollment.username)?
                    .into_iter()
                    .filter(|r| Self::is_due(r, now))
                    .map(|r| r.id)
                    .collect::<Vec<_>>(),
            )
        });
        match due {
            Ok(due) => self.complete_each(&due),
            Err(error) => {
                tracing::warn!(%error, "looking for due phone moves failed");
                0
            }
        }
    }

    /// Whether a move is a lost-phone move whose hold has ended.
    fn is_due(replacement: &Replacement, now: u64) -> bool {
        replacement.status == ReplacementStatus::Pending
            && replacement.kind == ReplacementKind::LostPhone
            && replacement.effective_at.is_some_and(|t| now >= t)
    }

    /// Completes each of these moves in a transaction of its own; logs and skips
    /// the ones that fail. Returns how many completed.
    fn complete_each(&self, due: &[ReplacementId]) -> usize {
        let mut completed = 0;
        for id in due {
            match self.complete_due_replacement(id) {
                Ok(true) => completed += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(replacement = %id, %error, "a due phone move could not complete; skipped");
                }
            }
        }
        completed
    }

    /// One due move, in its own transaction: re-read and re-checked; completed
    /// if it still can, ended if it no longer can. Returns whether it completed.
    fn complete_due_replacement(&self, id: &ReplacementId) -> Result<bool, VerifierError> {
        let now = self.clock.now();
        let (completed, _) = self.ceremony(|tx| {
            let mut outgoing = Vec::new();
            let Some(mut replacement) = tx.replacement(id)?.filter(|r| Self::is_due(r, now))
            else {
                // Completed, cancelled or not due any more since it was listed.
                return Ok((false, outgoing));
            };
            tx.lock_account(&replacement.username)?;
            if let Some(reason) = Self::completion_blocker(tx, &replacement)? {
                tracing::warn!(replacement = %id, reason, "a due phone move can no longer complete; ended");
                self.cancel_replacement(tx, &mut replacement, "cannot_complete")?;
                return Ok((false, outgoing));
            }
            self.complete_replacement(tx, &mut replacement, &mut outgoing)?;
            Ok::<_, VerifierError>((true, outgoing))
        })?;
        Ok(completed)
    }

    /// Cancels a lost-phone replacement with the single-use token from the e-mail.
    pub fn cancel_replacement_by_token(&self, token_hex: &str) -> Result<(), VerifierError> {
        let token = latchkey_core::encoding::decode_hex(token_hex)
            .ok()
            .filter(|t| t.len() == 16)
            .ok_or(VerifierError::UnknownReplacement)?;
        self.store.in_transaction(|tx| {
            for mut replacement in tx.pending_replacements()? {
                let Some(mac) = replacement.cancel_token_mac.clone() else {
                    continue;
                };
                if self.keys.pepper_verify(&token, &mac)? {
                    tx.lock_account(&replacement.username)?;
                    return self.cancel_replacement(tx, &mut replacement, "email_link");
                }
            }
            Err(VerifierError::UnknownReplacement)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_codes_have_thirteen_digits() {
        for _ in 0..200 {
            let code = activation_code().unwrap();
            assert_eq!(code.len(), 13);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
