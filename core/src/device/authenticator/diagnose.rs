//! Notification troubleshooting (DESIGN §1.6): why pushes may not arrive, and
//! what to do about each reason. A diagnosis is also a sync, so the push token
//! is registered again on the way (the "log out and log in again" of old).
//!
//! Invariant: findings are typed data (a [`FindingKind`], with the user-facing
//! text and the step to take); the diagnosis changes nothing a sync would not.

use super::Authenticator;
use super::error::AuthenticatorError;
use super::sync::SyncEvent;
use crate::device::store::{AccountId, AccountState};
use crate::protocol::EnrollmentState;

/// How far the phone's clock may be from the server's before it is reported.
pub const CLOCK_TOLERANCE_SECS: i64 = 60;

/// Why pushes may not arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FindingKind {
    /// The user turned notifications off for the app.
    NotificationsDisabled,
    /// The app has no push token from the platform.
    NoPushToken,
    /// The server holds no push token for this phone.
    TokenNotRegistered,
    /// The account's activation waits for the old phone or the hold period.
    ActivationPending,
    /// The server says this phone is not the account's authenticating phone.
    NotActivePhone,
    /// Another phone replaced this one.
    Replaced {
        /// The phone that did.
        by: String,
        /// When (Unix seconds).
        at: u64,
    },
    /// The account was removed from this phone.
    AccountWiped,
    /// Too many wrong PINs: the account needs a password reset.
    PasswordResetRequired,
    /// The enrollment is disabled until the account is moved to a phone again.
    Disabled,
    /// The server could not be reached.
    Offline,
    /// The server could be reached but its answer was refused or not understood.
    ServerProblem {
        /// What went wrong.
        detail: String,
    },
    /// The phone's clock is off by more than a minute.
    ClockOff {
        /// Server time minus phone time, in seconds.
        offset_seconds: i64,
    },
}

/// One reason pushes may not arrive, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The reason, as data.
    pub kind: FindingKind,
    /// What is wrong, for the user.
    pub text: String,
    /// The step to take.
    pub step: String,
}

impl Finding {
    fn new(kind: FindingKind) -> Self {
        let (text, step) = match &kind {
            FindingKind::NotificationsDisabled => (
                "Notifications are turned off for Latchkey.".to_owned(),
                "Turn on notifications for Latchkey in the system settings.".to_owned(),
            ),
            FindingKind::NoPushToken => (
                "This phone has no push registration.".to_owned(),
                "Check that the phone is signed in to its Google or Apple account and that Latchkey may use background data, then open Latchkey while online.".to_owned(),
            ),
            FindingKind::TokenNotRegistered => (
                "The server has no push registration for this phone.".to_owned(),
                "Open Latchkey while online so it can register again; if this stays, remove and re-add the account.".to_owned(),
            ),
            FindingKind::ActivationPending => (
                "This phone's activation is not complete yet.".to_owned(),
                "Approve the move on your old phone, or wait for the end of the hold period.".to_owned(),
            ),
            FindingKind::NotActivePhone => (
                "This phone is not the account's authenticating phone.".to_owned(),
                "Use the phone that authenticates for this account, or activate this phone again.".to_owned(),
            ),
            FindingKind::Replaced { by, .. } => (
                format!("This account moved to another phone ({by})."),
                "Use that phone, or activate this one again from the login screen.".to_owned(),
            ),
            FindingKind::AccountWiped => (
                "This account was removed from this phone.".to_owned(),
                "Activate this phone again from the login screen.".to_owned(),
            ),
            FindingKind::PasswordResetRequired => (
                "Too many wrong PINs: the account is locked.".to_owned(),
                "Reset your password at the login screen; this phone works again afterwards.".to_owned(),
            ),
            FindingKind::Disabled => (
                "This phone's enrollment is disabled after too many wrong PINs.".to_owned(),
                "Move the account to a phone again (activate it) from the login screen.".to_owned(),
            ),
            FindingKind::Offline => (
                "The server cannot be reached from this phone.".to_owned(),
                "On the login screen, choose \"Click here if you do not receive the notification\" and use Latchkey's challenge/response, which works offline.".to_owned(),
            ),
            FindingKind::ServerProblem { detail } => (
                format!("The server could not be checked: {detail}."),
                "Try again later; meanwhile use challenge/response.".to_owned(),
            ),
            FindingKind::ClockOff { offset_seconds } => (
                format!(
                    "This phone's clock is {} seconds {} the server's.",
                    offset_seconds.unsigned_abs(),
                    if *offset_seconds > 0 { "behind" } else { "ahead of" }
                ),
                "Set the date and time to automatic in the system settings.".to_owned(),
            ),
        };
        Self { kind, text, step }
    }
}

impl Authenticator {
    /// Explains why login pushes may not arrive for an account. `notifications_enabled`
    /// and `push_token` are what the platform reports now. Syncs with the server
    /// (which re-registers the token); when offline, says so and points to the
    /// challenge/response. An empty list means nothing was found.
    pub fn diagnose(
        &self,
        account: AccountId,
        notifications_enabled: bool,
        push_token: Option<String>,
    ) -> Result<Vec<Finding>, AuthenticatorError> {
        let mut kinds = Vec::new();
        if !notifications_enabled {
            kinds.push(FindingKind::NotificationsDisabled);
        }
        let push_token = push_token.filter(|token| !token.is_empty());
        if push_token.is_none() {
            kinds.push(FindingKind::NoPushToken);
        }
        let stored = self.store().account(account)?;
        match &stored.state {
            AccountState::Replaced { by, at } => {
                kinds.push(FindingKind::Replaced {
                    by: by.clone(),
                    at: *at,
                });
                return Ok(kinds.into_iter().map(Finding::new).collect());
            }
            AccountState::Wiped { .. } => {
                kinds.push(FindingKind::AccountWiped);
                return Ok(kinds.into_iter().map(Finding::new).collect());
            }
            _ => {}
        }
        let has_token = push_token.is_some();
        match self.sync(account, push_token, notifications_enabled) {
            Ok(report) => {
                match &report.state {
                    AccountState::Replaced { by, at } => kinds.push(FindingKind::Replaced {
                        by: by.clone(),
                        at: *at,
                    }),
                    AccountState::Wiped { .. } => kinds.push(FindingKind::AccountWiped),
                    AccountState::Pending { .. } => kinds.push(FindingKind::ActivationPending),
                    AccountState::Locked => kinds.push(FindingKind::PasswordResetRequired),
                    AccountState::Disabled => kinds.push(FindingKind::Disabled),
                    AccountState::Active => {}
                }
                if report.state.has_secrets() {
                    if report.server_state == EnrollmentState::Revoked
                        || report.events.contains(&SyncEvent::NotActivePhone)
                    {
                        kinds.push(FindingKind::NotActivePhone);
                    }
                    if has_token && !report.push_registered {
                        kinds.push(FindingKind::TokenNotRegistered);
                    }
                    if report.clock_offset.abs() > CLOCK_TOLERANCE_SECS {
                        kinds.push(FindingKind::ClockOff {
                            offset_seconds: report.clock_offset,
                        });
                    }
                }
            }
            Err(AuthenticatorError::Offline) => {
                kinds.push(FindingKind::Offline);
                if stored.clock_offset.abs() > CLOCK_TOLERANCE_SECS {
                    kinds.push(FindingKind::ClockOff {
                        offset_seconds: stored.clock_offset,
                    });
                }
            }
            Err(
                error @ (AuthenticatorError::StorageCorrupt
                | AuthenticatorError::Storage(_)
                | AuthenticatorError::Keystore(_)),
            ) => return Err(error),
            Err(AuthenticatorError::PasswordResetRequired) => {
                kinds.push(FindingKind::PasswordResetRequired);
            }
            Err(AuthenticatorError::Disabled) => kinds.push(FindingKind::Disabled),
            Err(error) => kinds.push(FindingKind::ServerProblem {
                detail: error.to_string(),
            }),
        }
        Ok(kinds.into_iter().map(Finding::new).collect())
    }
}

// This flow's tests run against the real verifier: the journeys crate's
// tests/journeys/phone/diagnose.rs (ARCHITECTURE.md "Test support").
