//! Activations and login sessions, shared by the integrator API (bearer token,
//! after the integrator's own password check) and the reference login screen
//! (the built-in password store): the same ceremony, two ways in.

use super::{ApiError, AppState, blocking};
use crate::verifier::{ActivationStart, OpenedSession, PushDisposition, ReplaceMode, SessionView};
use latchkey_core::protocol::{MatchingMode, SessionId};
use serde::Deserialize;

/// The longest long-poll wait, in seconds.
pub(super) const MAX_WAIT_SECS: u64 = 30;

/// Options of an activation start.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ActivationOptions {
    /// `approve_on_old_phone` or `lost_phone` when the account already has a phone.
    #[serde(default)]
    pub replace: Option<String>,
    /// `code` (default) or `tap`.
    #[serde(default)]
    pub matching_mode: Option<String>,
}

impl ActivationOptions {
    pub(super) fn parse(&self) -> Result<(Option<ReplaceMode>, MatchingMode), ApiError> {
        let replace = match self.replace.as_deref() {
            None => None,
            Some("approve_on_old_phone") => Some(ReplaceMode::ApproveOnOldPhone),
            Some("lost_phone") => Some(ReplaceMode::LostPhone),
            Some(_) => {
                return Err(ApiError::InvalidField {
                    field: "replace",
                    reason: "approve_on_old_phone or lost_phone".into(),
                });
            }
        };
        let mode = match self.matching_mode.as_deref() {
            None | Some("code") => MatchingMode::Code,
            Some("tap") => MatchingMode::Tap,
            Some(_) => {
                return Err(ApiError::InvalidField {
                    field: "matching_mode",
                    reason: "code or tap".into(),
                });
            }
        };
        Ok((replace, mode))
    }
}

pub(super) fn activation_view(start: &ActivationStart) -> serde_json::Value {
    serde_json::json!({
        "enrollment_id": start.enrollment,
        "ticket": start.ticket,
        "expires_at": start.expires_at,
    })
}

/// What the login screen says about a session it opened.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SessionContext {
    /// The application asking ("Client Portal").
    #[serde(default)]
    pub app: Option<String>,
    /// The client's own description (browser and system, app version).
    #[serde(default)]
    pub client: Option<String>,
    /// Where the login comes from (address, place).
    #[serde(default)]
    pub origin: Option<String>,
}

pub(super) fn opened_view(opened: &OpenedSession) -> serde_json::Value {
    let (push, reason, until) = match &opened.push {
        PushDisposition::Sent => ("sent", None, None),
        PushDisposition::NoPhone => ("no_phone", None, None),
        PushDisposition::Refused { reason, until } => {
            ("refused", Some(reason.clone()), Some(*until))
        }
    };
    serde_json::json!({
        "session_id": opened.session,
        "challenge": opened.challenge.to_string(),
        "push": push,
        "push_refused": reason,
        "push_resumes_at": until,
        "expires_at": opened.expires_at,
        "fallback": "If no notification arrives: on the phone choose Authenticate, enter the PIN and this challenge, then type the 8-digit response here."
    })
}

pub(super) fn session_view(id: &SessionId, view: &SessionView) -> serde_json::Value {
    serde_json::json!({
        "session_id": id,
        "username": view.username,
        "status": view.status,
        "decided_by": view.decided_by,
        "expires_at": view.expires_at,
        "password_reset_required": view.password_reset_required,
    })
}

pub(super) fn parse_session_id(text: &str) -> Result<SessionId, ApiError> {
    text.parse().map_err(|_| ApiError::InvalidField {
        field: "session_id",
        reason: "32 lowercase hex".into(),
    })
}

/// A session's view, waiting up to `wait` seconds for it to be decided.
pub(super) async fn wait_for_decision(
    state: &AppState,
    id: SessionId,
    wait: u64,
) -> Result<SessionView, ApiError> {
    let deadline =
        tokio::time::Instant::now() + std::time::Duration::from_secs(wait.min(MAX_WAIT_SECS));
    loop {
        // Register interest before reading, so a decision in between is not missed.
        let notified = state.decisions.notified();
        let verifier = state.verifier.clone();
        let view = blocking(move || Ok(verifier.session_view(&id)?)).await?;
        if view.status != "pending" || tokio::time::Instant::now() >= deadline {
            return Ok(view);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            let verifier = state.verifier.clone();
            return blocking(move || Ok(verifier.session_view(&id)?)).await;
        }
    }
}
