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
//! change anything; what an answer changes is applied as one plan in one store
//! transaction, and keys are deleted only after it commits (docs/SECURITY.md,
//! "Crash consistency").

use super::activation::{check_receipt, offset};
use super::error::AuthenticatorError;
use super::wire::{self, Outcome, Reply, ServerError};
use super::{Authenticator, SERVER_CLOCK_SKEW, claimed_issued_at};
use crate::device::history::HistoryEvent;
use crate::device::store::{Account, AccountId, AccountState, DeviceStore, UsableState};
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

        // The plan: every notice and the receipt checked first, then everything
        // the answer changes applied in one transaction, keys deleted after it
        // commits (a process killed at any point leaves the old state or the new).
        let mut events = Vec::new();
        let mut revoked: Option<Option<String>> = None;
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
                NoticeKind::Revoked if revoked.is_none() => {
                    let at = notice.effective_at.unwrap_or(now);
                    revoked = Some(notice.new_phone.clone());
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
        let completion = match (&revoked, pending, &answer.receipt) {
            (None, true, Some(receipt)) => {
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
                Some((checked, receipt.to_json()))
            }
            _ => None,
        };

        let wiped = {
            let store = self.store();
            store.atomically(|store| -> Result<_, AuthenticatorError> {
                if let Some(by) = &revoked {
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
                    store.record_sync(account.id, clock_offset)?;
                    return Ok(Some(keys));
                }
                let mut active = !pending;
                if let Some((checked, receipt)) = &completion {
                    store.complete_activation(
                        account.id,
                        checked.epoch,
                        receipt.as_bytes(),
                        &checked.suite,
                        checked.mode,
                    )?;
                    active = true;
                    events.push(SyncEvent::ActivationCompleted {
                        epoch: checked.epoch,
                    });
                }
                if active {
                    Self::apply_server_state(store, account.id, answer.state, &mut events)?;
                }
                store.set_push_token(account.id, push_token)?;
                store.record_sync(account.id, clock_offset)?;
                Ok(None)
            })?
        };
        if let Some((checked, _)) = &completion {
            tracing::info!(account = %account.id, epoch = checked.epoch, "activation completed");
        }
        match &wiped {
            Some(keys) => self.forget(account, keys, revoked.as_ref().and_then(Option::as_deref)),
            None => {
                let mut session = self.session();
                match answer.proof {
                    Some(proof) => session.proofs.insert(account.id, proof),
                    None => session.proofs.remove(&account.id),
                };
            }
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

    /// Mirrors the signed enrollment state into the account's local state.
    fn apply_server_state(
        store: &DeviceStore,
        id: AccountId,
        state: EnrollmentState,
        events: &mut Vec<SyncEvent>,
    ) -> Result<(), AuthenticatorError> {
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

// This flow's tests run against the real verifier: the journeys crate's
// tests/journeys/phone/sync.rs (ARCHITECTURE.md "Test support").
