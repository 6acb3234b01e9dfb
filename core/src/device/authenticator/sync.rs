//! Sync (PROTOCOL §6.4, §6.6): the phone's check-in on every app open while
//! online and on every push-token refresh. It registers the push token and the
//! notification permission, learns the clock offset from signed server time,
//! and applies the signed notices: a wipe on a `Revoked` notice for this very
//! server, enrollment and epoch, lockout and disabled states, pending
//! replacements; and it completes a pending activation with its receipt.
//!
//! Invariants: the answer is used only after every check of §5 and the nonce
//! check; its window is evaluated at its own `issued_at` (the fresh nonce proves
//! it fresh, and that time is exactly what the phone learns its offset from);
//! each notice is checked on its own for this server, enrollment and epoch, and
//! one that fails is reported and otherwise ignored; unsigned answers never
//! change anything.

use super::activation::{check_receipt, offset};
use super::error::AuthenticatorError;
use super::wire::{self, Outcome, Reply, ServerError};
use super::{Authenticator, SERVER_CLOCK_SKEW, claimed_issued_at};
use crate::device::store::{Account, AccountId, AccountState, UsableState};
use crate::protocol::envelope::open_server;
use crate::protocol::ids::random_bytes;
use crate::protocol::messages::MAX_PUSH_TOKEN;
use crate::protocol::{
    EnrollmentState, ErrorCode, Notice, NoticeKind, ProtocolError, ReplacementId, RequestId,
    ServerExpectation, Signed, SyncAnswer, SyncRequest,
};
use subtle::ConstantTimeEq;

/// Something a sync learnt that the shell may want to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// A signed notice said another phone replaced this one: the account's
    /// secrets were wiped.
    Replaced {
        /// The phone that replaced this one.
        by: String,
        /// When (Unix seconds, server time).
        at: u64,
    },
    /// A signed notice revoked this enrollment (removed elsewhere, or a pending
    /// move cancelled): the account's secrets were wiped.
    Revoked {
        /// When (Unix seconds, server time).
        at: u64,
    },
    /// Too many wrong PINs: the account needs a password reset.
    PasswordResetRequired,
    /// The enrollment is disabled until the account is moved to a phone again.
    Disabled,
    /// The server cleared a lockout (the password was reset).
    Reactivated,
    /// Someone is moving this account to another phone; it can be approved or
    /// cancelled from here with the PIN.
    ReplacementPending {
        /// The replacement (to approve or cancel).
        replacement: Option<ReplacementId>,
        /// The new phone's name.
        new_phone: Option<String>,
        /// When a lost-phone move takes effect unless cancelled.
        effective_at: Option<u64>,
    },
    /// A pending move of this account was cancelled.
    ReplacementCancelled {
        /// The replacement.
        replacement: Option<ReplacementId>,
    },
    /// Someone started activating a new phone for this account.
    ActivationStarted {
        /// The server's text.
        text: String,
    },
    /// This phone's pending activation completed: the account is active.
    ActivationCompleted {
        /// The enrollment's epoch.
        epoch: u64,
    },
    /// The server says this phone is no longer the account's phone, without a
    /// signed revocation (yet): nothing was wiped.
    NotActivePhone,
    /// A notice failed its checks (another epoch, another enrollment, a bad
    /// signature, expired…) and was ignored.
    NoticeRefused {
        /// Why.
        reason: String,
    },
}

/// What a sync found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// The account.
    pub account: AccountId,
    /// The account's state on this phone after the sync.
    pub state: AccountState,
    /// The enrollment's state as the server signed it.
    pub server_state: EnrollmentState,
    /// PIN-bound failures so far.
    pub failures: u64,
    /// During a delay: when the next attempt is allowed (server time).
    pub retry_after: Option<u64>,
    /// Whether the server holds a push token for this phone.
    pub push_registered: bool,
    /// Login requests waiting for this phone (their handles).
    pub pending_requests: Vec<RequestId>,
    /// Server time minus this phone's time, in seconds, as now learnt.
    pub clock_offset: i64,
    /// What the shell may tell the user.
    pub events: Vec<SyncEvent>,
}

impl Authenticator {
    /// Syncs one account with its server (PROTOCOL §6.4): call on every app open
    /// while online and whenever the push token changes. Sends the push token
    /// and the notification permission; learns the clock offset from signed
    /// server time; applies the signed notices (a `Revoked` notice for this
    /// server, enrollment and epoch wipes the account's secrets and says which
    /// phone replaced it); records lockout, disabled and pending replacements;
    /// completes a pending activation; and keeps the PIN-proof challenge for
    /// the next PIN-gated action.
    pub fn sync(
        &self,
        account: AccountId,
        push_token: Option<String>,
        notifications_enabled: bool,
    ) -> Result<SyncReport, AuthenticatorError> {
        if push_token
            .as_ref()
            .is_some_and(|t| t.len() > MAX_PUSH_TOKEN)
        {
            return Err(AuthenticatorError::BadInput(
                "the push token is too long".to_owned(),
            ));
        }
        self.session().notifications_enabled = Some(notifications_enabled);
        let account = self.store().account(account)?;
        match &account.state {
            AccountState::Replaced { by, at } => {
                return Err(AuthenticatorError::Replaced {
                    by: by.clone(),
                    at: *at,
                });
            }
            AccountState::Wiped { .. } => return Err(AuthenticatorError::AccountWiped),
            _ => {}
        }
        let nonce: [u8; 16] = random_bytes()?;
        let request = SyncRequest {
            nonce,
            push_token: push_token.clone(),
            platform: self.config.platform,
            app_version: self.config.app_version.clone(),
            notifications_enabled,
        };
        let signed = match self.send(&account, wire::SYNC, &request)? {
            Reply::Envelope(signed) => signed,
            Reply::Outcome { status, .. } => {
                return Err(AuthenticatorError::UnexpectedAnswer { status });
            }
            Reply::Refused { error, .. } => return Err(error.into_error()),
        };
        self.apply_sync_answer(&account, &signed, &nonce, push_token.as_deref())
    }

    fn apply_sync_answer(
        &self,
        account: &Account,
        signed: &Signed,
        nonce: &[u8; 16],
        push_token: Option<&str>,
    ) -> Result<SyncReport, AuthenticatorError> {
        let pending = matches!(account.state, AccountState::Pending { .. });
        let profile = &account.server_profile;
        let claimed = claimed_issued_at::<SyncAnswer>(signed)?;
        let verified = open_server::<SyncAnswer>(
            signed,
            profile.public_key(),
            &ServerExpectation {
                server: profile.fingerprint(),
                enrollment: Some(account.enrollment_id),
                // A pending phone sends epoch 0; once its move completed, the
                // server answers for the enrollment's new epoch.
                epoch: (!pending).then_some(account.epoch),
                now: claimed,
                skew: SERVER_CLOCK_SKEW,
            },
        )?;
        let header = verified.header();
        let answer = verified.into_message();
        if !bool::from(answer.nonce.ct_eq(nonce)) {
            return Err(ProtocolError::BadField("nonce").into());
        }
        let now = header.issued_at;
        let clock_offset = offset(now, self.clock.now());
        self.store().record_sync(account.id, clock_offset)?;
        tracing::info!(account = %account.id, clock_offset, state = ?answer.state, "synced");

        let mut events = Vec::new();
        let mut wiped = false;
        for notice in &answer.notices {
            let checked = open_server::<Notice>(
                notice,
                profile.public_key(),
                &ServerExpectation {
                    server: profile.fingerprint(),
                    enrollment: Some(account.enrollment_id),
                    epoch: Some(account.epoch),
                    now,
                    skew: SERVER_CLOCK_SKEW,
                },
            );
            let notice = match checked {
                Ok(verified) => verified.into_message(),
                Err(error) => {
                    tracing::warn!(account = %account.id, %error, "notice refused; nothing changed");
                    events.push(SyncEvent::NoticeRefused {
                        reason: error.to_string(),
                    });
                    continue;
                }
            };
            match notice.kind {
                NoticeKind::Revoked if !wiped => {
                    let at = notice.effective_at.unwrap_or(now);
                    self.wipe(account, notice.new_phone.as_deref())?;
                    wiped = true;
                    events.push(match notice.new_phone {
                        Some(by) => SyncEvent::Replaced { by, at },
                        None => SyncEvent::Revoked { at },
                    });
                }
                NoticeKind::Revoked => {}
                NoticeKind::PasswordResetRequired => {
                    events.push(SyncEvent::PasswordResetRequired);
                }
                NoticeKind::Disabled => events.push(SyncEvent::Disabled),
                NoticeKind::ReplacementPending => events.push(SyncEvent::ReplacementPending {
                    replacement: notice.replacement,
                    new_phone: notice.new_phone,
                    effective_at: notice.effective_at,
                }),
                NoticeKind::ReplacementCancelled => {
                    events.push(SyncEvent::ReplacementCancelled {
                        replacement: notice.replacement,
                    });
                }
                NoticeKind::ActivationStarted => events.push(SyncEvent::ActivationStarted {
                    text: super::error::server_text(&notice.text),
                }),
            }
        }

        if !wiped {
            let mut active = !pending;
            if pending {
                if let Some(receipt) = &answer.receipt {
                    active = self.complete_activation(account, receipt, &mut events)?;
                }
            }
            if active {
                self.apply_server_state(account.id, answer.state, &mut events)?;
            }
            if let Err(error) = self.store().set_push_token(account.id, push_token) {
                tracing::warn!(%error, "recording the push token failed");
            }
            let mut session = self.session();
            match answer.proof {
                Some(proof) => session.proofs.insert(account.id, proof),
                None => session.proofs.remove(&account.id),
            };
        }
        let state = self.store().account(account.id)?.state;
        Ok(SyncReport {
            account: account.id,
            state,
            server_state: answer.state,
            failures: answer.failures,
            retry_after: answer.retry_after,
            push_registered: answer.push_registered,
            pending_requests: answer.pending,
            clock_offset,
            events,
        })
    }

    /// Completes a pending activation with the receipt a sync answer carried.
    fn complete_activation(
        &self,
        account: &Account,
        receipt: &Signed,
        events: &mut Vec<SyncEvent>,
    ) -> Result<bool, AuthenticatorError> {
        let Some(device_key) = &account.device_public_key else {
            return Err(AuthenticatorError::StorageCorrupt);
        };
        let checked = check_receipt(
            &account.server_profile,
            receipt,
            &account.enrollment_id,
            device_key,
            None,
        )?;
        self.store().complete_activation(
            account.id,
            checked.epoch,
            receipt.to_json().as_bytes(),
            &checked.suite,
            checked.mode,
        )?;
        tracing::info!(account = %account.id, epoch = checked.epoch, "activation completed");
        events.push(SyncEvent::ActivationCompleted {
            epoch: checked.epoch,
        });
        Ok(true)
    }

    /// Mirrors the signed enrollment state into the account's local state.
    fn apply_server_state(
        &self,
        id: AccountId,
        state: EnrollmentState,
        events: &mut Vec<SyncEvent>,
    ) -> Result<(), AuthenticatorError> {
        let store = self.store();
        let current = store.account(id)?.state;
        let target = match state {
            EnrollmentState::Active | EnrollmentState::ReplacementPending => UsableState::Active,
            EnrollmentState::PasswordResetRequired => UsableState::Locked,
            EnrollmentState::Disabled => UsableState::Disabled,
            EnrollmentState::Revoked => {
                events.push(SyncEvent::NotActivePhone);
                return Ok(());
            }
        };
        let changed = !matches!(
            (&current, target),
            (AccountState::Active, UsableState::Active)
                | (AccountState::Locked, UsableState::Locked)
                | (AccountState::Disabled, UsableState::Disabled)
        );
        if changed {
            store.set_usable_state(id, target)?;
            let event = match target {
                UsableState::Active => SyncEvent::Reactivated,
                UsableState::Locked => SyncEvent::PasswordResetRequired,
                UsableState::Disabled => SyncEvent::Disabled,
            };
            if !events.contains(&event) {
                events.push(event);
            }
        }
        Ok(())
    }

    /// The error a typed server refusal means for this account. An
    /// `enrollment_inactive` refusal is unsigned, so it wipes nothing: the phone
    /// syncs to fetch the signed notice, and reports what that sync found.
    pub(super) fn refused(&self, account: &Account, error: ServerError) -> AuthenticatorError {
        if error.kind() != Some(ErrorCode::EnrollmentInactive) {
            return error.into_error();
        }
        let notifications = self.session().notifications_enabled.unwrap_or(true);
        match self.sync(account.id, account.push_token.clone(), notifications) {
            Ok(report) => match report.state {
                AccountState::Replaced { by, at } => AuthenticatorError::Replaced { by, at },
                AccountState::Wiped { .. } => AuthenticatorError::AccountWiped,
                _ => error.into_error(),
            },
            Err(sync_error) => {
                tracing::info!(%sync_error, "no signed revocation could be fetched");
                error.into_error()
            }
        }
    }

    /// The outcome of a reply for this account, or the error it means.
    pub(super) fn outcome(
        &self,
        account: &Account,
        reply: Reply,
    ) -> Result<Outcome, AuthenticatorError> {
        match reply {
            Reply::Refused { error, .. } => Err(self.refused(account, error)),
            other => other.into_outcome(),
        }
    }

    /// The envelope of a reply for this account, or the error it means.
    pub(super) fn envelope(
        &self,
        account: &Account,
        reply: Reply,
    ) -> Result<Signed, AuthenticatorError> {
        match reply {
            Reply::Refused { error, .. } => Err(self.refused(account, error)),
            other => other.into_envelope(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake_server::{FakeServer, PIN, Phone, T0};
    use super::super::{CHALLENGE_WARNING, Unlock};
    use super::*;
    use crate::protocol::keys::compute_response;
    use crate::protocol::{Challenge, EnrollmentId, LATCHKEY_SUITE, ProofChallenge};

    /// A signed sync answer for the phone's last request, built by hand.
    fn answer_for(phone: &Phone, account: AccountId, notices: Vec<Signed>) -> Signed {
        let request = phone.transport.requests().pop().unwrap();
        let signed = Signed::from_json(std::str::from_utf8(&request.body).unwrap()).unwrap();
        let (_, sync) =
            crate::protocol::envelope::peek_device_unverified::<SyncRequest>(&signed).unwrap();
        let enrollment = phone.enrollment_of(account);
        phone.server.sign(
            &phone
                .server
                .header(enrollment, phone.epoch_of(account), 300),
            &SyncAnswer {
                nonce: sync.nonce,
                state: EnrollmentState::Active,
                failures: 0,
                retry_after: None,
                push_registered: true,
                pending: Vec::new(),
                proof: None,
                notices,
                receipt: None,
            },
        )
    }

    #[test]
    fn sync_learns_the_clock_offset_and_challenge_response_uses_it() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        // The server's clock runs 7 minutes ahead of the phone's.
        phone.server.clock.advance(420);
        let report = phone
            .authenticator
            .sync(account, Some("push-token-2".to_owned()), true)
            .unwrap();
        assert_eq!(report.clock_offset, 420);
        assert!(report.push_registered);
        assert_eq!(report.state, AccountState::Active);
        assert_eq!(
            phone.authenticator.account(account).unwrap().clock_offset,
            420
        );

        // Offline, the response uses T = the phone's clock + 420 s.
        phone
            .server
            .offline
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let generated = phone
            .authenticator
            .respond_to_challenge(account, "583920", Unlock::pin(PIN))
            .unwrap();
        let k_user = phone.server.k_user_of(&phone.enrollment_of(account));
        let challenge: Challenge = "583920".parse().unwrap();
        let suite = LATCHKEY_SUITE.parse().unwrap();
        assert_eq!(
            generated.response,
            compute_response(&suite, &k_user, &challenge, T0 + 420)
                .unwrap()
                .as_str()
        );
        assert_ne!(
            generated.response,
            compute_response(&suite, &k_user, &challenge, T0)
                .unwrap()
                .as_str(),
            "seven minutes is seven OCRA steps"
        );
        assert_eq!(generated.warning, CHALLENGE_WARNING);
    }

    #[test]
    fn a_signed_revoked_notice_for_another_epoch_is_kept_and_one_for_this_epoch_wipes() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        let enrollment = phone.enrollment_of(account);
        let epoch = phone.epoch_of(account);

        let stale = phone
            .server
            .revoked_notice(enrollment, epoch + 1, Some("Other phone"));
        let other = phone
            .server
            .revoked_notice(EnrollmentId::from_bytes([3; 16]), epoch, None);
        phone.server.queue_notice(enrollment, stale);
        phone.server.queue_notice(enrollment, other);
        let report = phone.authenticator.sync(account, None, true).unwrap();
        assert_eq!(report.state, AccountState::Active);
        assert_eq!(
            report
                .events
                .iter()
                .filter(|e| matches!(e, SyncEvent::NoticeRefused { .. }))
                .count(),
            2
        );
        let stored = phone.authenticator.store().account(account).unwrap();
        assert!(stored.sealed_seed.is_some(), "the secrets are kept");

        let revoked = phone
            .server
            .revoked_notice(enrollment, epoch, Some("Anna's iPhone 16"));
        phone.server.queue_notice(enrollment, revoked);
        let report = phone.authenticator.sync(account, None, true).unwrap();
        assert!(report.events.contains(&SyncEvent::Replaced {
            by: "Anna's iPhone 16".to_owned(),
            at: T0
        }));
        assert!(
            matches!(report.state, AccountState::Replaced { ref by, .. } if by == "Anna's iPhone 16")
        );
        let stored = phone.authenticator.store().account(account).unwrap();
        assert!(stored.sealed_seed.is_none());
        assert_eq!(
            crate::device::PlatformKeystore::open(
                phone.keystore.as_ref(),
                &stored.seal_key_alias,
                &crate::device::SealedBlob::new(vec![1; 40])
            ),
            Err(crate::device::KeystoreError::KeyNotFound),
            "the sealing key is gone"
        );
        assert!(matches!(
            phone
                .authenticator
                .respond_to_challenge(account, "583920", Unlock::pin(PIN)),
            Err(AuthenticatorError::Replaced { .. })
        ));
        let history = phone.authenticator.history().unwrap();
        assert_eq!(
            history.last().unwrap().event,
            crate::device::HistoryEvent::AccountWiped
        );
    }

    #[test]
    fn a_forged_unsigned_revocation_a_404_or_a_forged_signature_keeps_the_secrets() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        let enrollment = phone.enrollment_of(account);
        let impostor = FakeServer::new(8);
        let forged_notice = impostor.revoked_notice(enrollment, 1, Some("Mallory"));

        phone
            .transport
            .push_response(200, r#"{"outcome":"revoked"}"#);
        phone.transport.push_response(
            404,
            r#"{"error":{"code":"enrollment_inactive","message":"gone"}}"#,
        );
        phone.transport.push_response(404, "<html>Not Found</html>");
        phone.transport.push_response(200, forged_notice.to_json());
        for _ in 0..4 {
            assert!(phone.authenticator.sync(account, None, true).is_err());
        }
        phone
            .transport
            .push_error(crate::device::TransportError::Timeout);
        assert!(matches!(
            phone.authenticator.sync(account, None, true),
            Err(AuthenticatorError::Offline)
        ));
        // A genuine answer carrying a notice signed by another key.
        phone.server.queue_notice(enrollment, forged_notice);
        let report = phone.authenticator.sync(account, None, true).unwrap();
        assert!(matches!(
            &report.events[..],
            [SyncEvent::NoticeRefused { .. }]
        ));
        assert_eq!(report.state, AccountState::Active);
        let stored = phone.authenticator.store().account(account).unwrap();
        assert!(stored.sealed_seed.is_some());
        phone
            .authenticator
            .respond_to_challenge(account, "583920", Unlock::pin(PIN))
            .unwrap();
    }

    #[test]
    fn a_sync_answer_with_another_nonce_or_a_tampered_signature_is_refused() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        phone.authenticator.sync(account, None, true).unwrap();
        // Replay the answer to the previous request: its nonce is not this one's.
        let replayed = answer_for(&phone, account, Vec::new());
        phone.transport.push_response(200, replayed.to_json());
        assert!(matches!(
            phone.authenticator.sync(account, None, true),
            Err(AuthenticatorError::Protocol(ProtocolError::BadField(
                "nonce"
            )))
        ));
        // Flip a bit in a genuine answer's body.
        let genuine = answer_for(&phone, account, Vec::new());
        let mut body = genuine.body().to_vec();
        let last = body.len() - 1;
        body[last] ^= 1;
        let tampered = Signed::from_parts(body, genuine.signature().to_vec()).unwrap();
        phone.transport.push_response(200, tampered.to_json());
        assert!(matches!(
            phone.authenticator.sync(account, None, true),
            Err(AuthenticatorError::Protocol(ProtocolError::BadSignature))
        ));
    }

    #[test]
    fn a_signed_lockout_is_recorded_and_cleared_by_the_server_only() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        let enrollment = phone.enrollment_of(account);
        phone.server.with_enrollment(&enrollment, |e| {
            e.state = EnrollmentState::PasswordResetRequired;
            e.failures = 5;
        });
        let report = phone.authenticator.sync(account, None, true).unwrap();
        assert_eq!(report.state, AccountState::Locked);
        assert_eq!(report.failures, 5);
        assert!(report.events.contains(&SyncEvent::PasswordResetRequired));
        phone
            .server
            .with_enrollment(&enrollment, |e| e.state = EnrollmentState::Disabled);
        assert_eq!(
            phone.authenticator.sync(account, None, true).unwrap().state,
            AccountState::Disabled
        );
        phone
            .server
            .with_enrollment(&enrollment, |e| e.state = EnrollmentState::Active);
        let report = phone.authenticator.sync(account, None, true).unwrap();
        assert_eq!(report.state, AccountState::Active);
        assert!(report.events.contains(&SyncEvent::Reactivated));
    }

    #[test]
    fn the_sync_answer_hands_out_the_proof_challenge() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        phone.authenticator.sync(account, None, false).unwrap();
        let proof: Option<ProofChallenge> =
            phone.authenticator.session().proofs.get(&account).copied();
        assert!(proof.is_some_and(|p| p.expires_at == T0 + 300));
        assert_eq!(
            phone.authenticator.session().notifications_enabled,
            Some(false)
        );
    }
}
