//! Activations and login sessions, shared by the integrator API (bearer token,
//! after the integrator's own password check) and the reference login screen
//! (the built-in password store): the same ceremony, two ways in.

use super::{ApiError, ApiJson, AppState, blocking};
use crate::rules::ClientVersion;
use crate::store::{CodeChannel, LoginFactor, SessionOpener, StoreExt};
use crate::verifier::{
    ActivationStart, CodeDisposition, CodeSent, OpenedSession, PushDisposition, ReplaceMode,
    SessionView, TwoFactorState,
};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use latchkey_core::protocol::{MatchingMode, SessionId};
use serde::Deserialize;

/// The longest long-poll wait, in seconds.
pub(super) const MAX_WAIT_SECS: u64 = 30;

/// A family of session routes: the API whose sessions they act on.
pub(super) trait SessionFamily: Send + Sync + 'static {
    /// The opener whose sessions these routes answer for.
    const OPENER: SessionOpener;
}

/// `/v1/integrator/sessions/*`.
pub(super) struct IntegratorSessions;

impl SessionFamily for IntegratorSessions {
    const OPENER: SessionOpener = SessionOpener::Integrator;
}

/// `/v1/login/sessions/*`.
pub(super) struct LoginSessions;

impl SessionFamily for LoginSessions {
    const OPENER: SessionOpener = SessionOpener::ReferenceLogin;
}

/// The session's id, if the session exists and was opened by `F`'s API; a
/// session of the other API is answered as unknown (docs/PROTOCOL.md §7).
async fn own_session<F: SessionFamily>(state: &AppState, id: &str) -> Result<SessionId, ApiError> {
    let id = parse_session_id(id)?;
    let store = state.store.clone();
    let session = blocking(move || {
        store
            .in_transaction(|tx| tx.session(&id))
            .map_err(ApiError::internal)
    })
    .await?;
    match session {
        Some(session) if session.opened_by == F::OPENER => Ok(id),
        _ => Err(ApiError::Verifier(
            crate::verifier::VerifierError::UnknownSession,
        )),
    }
}

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
    /// The client's version (dotted numbers, `10.30`): voice callback is offered
    /// only at or above the configured minimum for the client's name.
    #[serde(default)]
    pub client_version: Option<String>,
}

impl SessionContext {
    /// The stated client version, parsed at the edge.
    pub(super) fn version(&self) -> Result<Option<ClientVersion>, ApiError> {
        self.client_version
            .as_deref()
            .map(str::parse::<ClientVersion>)
            .transpose()
            .map_err(|error| ApiError::InvalidField {
                field: "client_version",
                reason: error.to_string(),
            })
    }
}

/// The body of "Request new code".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewCodeBody {
    /// `sms` or `voice`.
    pub channel: String,
}

impl NewCodeBody {
    pub(super) fn channel(&self) -> Result<CodeChannel, ApiError> {
        match self.channel.as_str() {
            "sms" => Ok(CodeChannel::Sms),
            "voice" => Ok(CodeChannel::Voice),
            _ => Err(ApiError::InvalidField {
                field: "channel",
                reason: "sms or voice".into(),
            }),
        }
    }
}

/// The body of a typed SMS or voice code.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CodeBody {
    /// The 6 digits.
    pub code: String,
}

pub(super) fn code_sent_view(sent: &CodeSent) -> serde_json::Value {
    serde_json::json!({
        "outcome": match sent.channel {
            CodeChannel::Sms => "sent",
            CodeChannel::Voice => "calling",
        },
        "channel": sent.channel.as_str(),
        "expires_at": sent.expires_at,
        "next_code_at": sent.next_code_at,
    })
}

/// `POST …/sessions/{id}/new-code`: "Request new code" by SMS or voice.
pub(super) async fn request_code(
    state: &AppState,
    id: SessionId,
    body: NewCodeBody,
) -> Result<serde_json::Value, ApiError> {
    let channel = body.channel()?;
    let verifier = state.verifier.clone();
    let sent = blocking(move || Ok(verifier.request_code(&id, channel)?)).await?;
    Ok(code_sent_view(&sent))
}

/// `POST …/sessions/{id}/code`: the code the user typed; answers the session.
pub(super) async fn submit_code(
    state: &AppState,
    id: SessionId,
    body: CodeBody,
) -> Result<serde_json::Value, ApiError> {
    let verifier = state.verifier.clone();
    let result = blocking(move || Ok(verifier.submit_code(&id, &body.code))).await?;
    state.decisions.notify_waiters();
    result?;
    let verifier = state.verifier.clone();
    let view = blocking(move || Ok(verifier.session_view(&id)?)).await?;
    Ok(session_view(&id, &view))
}

/// An account's two-factor state, merged into user views.
pub(super) fn two_factor_view(state: &TwoFactorState) -> serde_json::Value {
    serde_json::json!({
        "two_factor": state.name(),
        "opted_out_at": state.opted_out_at,
        "opt_out_warning": state.opt_out_warning,
        "active_phone": state.active_phone,
        "sms_suspended_until": state.sms_suspended_until,
    })
}

pub(super) fn opened_view(opened: &OpenedSession) -> serde_json::Value {
    let (push, reason, until) = match &opened.push {
        PushDisposition::Sent => ("sent", None, None),
        PushDisposition::NoPhone => ("no_phone", None, None),
        PushDisposition::NotUsed => ("not_used", None, None),
        PushDisposition::Refused { reason, until } => {
            ("refused", Some(reason.clone()), Some(*until))
        }
    };
    let mut view = serde_json::json!({
        "session_id": opened.session,
        "status": if opened.approved { "approved" } else { "pending" },
        "second_factor": opened.factor.as_str(),
        "challenge": opened.challenge.to_string(),
        "push": push,
        "push_refused": reason,
        "push_resumes_at": until,
        "expires_at": opened.expires_at,
    });
    let extra = match opened.factor {
        LoginFactor::Phone => serde_json::json!({
            "fallback": "If no notification arrives: on the phone choose Authenticate, enter the PIN and this challenge, then type the 8-digit response here."
        }),
        LoginFactor::None => serde_json::json!({
            "note": "Approved without a second factor: this account opted out of two-factor authentication.",
            "opt_out_warning": opened.opt_out_warning,
        }),
        LoginFactor::Sms => {
            let code = match &opened.code {
                Some(CodeDisposition::Sent(sent)) => code_sent_view(sent),
                Some(CodeDisposition::Refused(refusal)) => serde_json::json!({
                    "outcome": "refused",
                    "refused": super::error::refusal_code(refusal).as_str(),
                    "reason": crate::verifier::VerifierError::CodeRefused(*refusal).to_string(),
                    "retry_after": refusal.until(),
                }),
                None => serde_json::Value::Null,
            };
            let voice = match &opened.voice {
                Some(Err(refusal)) => serde_json::json!({
                    "offered": false,
                    "reason": refusal.to_string(),
                    "minimum_version": refusal.minimum(),
                }),
                _ => serde_json::json!({ "offered": true }),
            };
            serde_json::json!({
                "code": code,
                "voice": voice,
                "fallback": "Didn't receive a security code? Request a new code by SMS or by voice callback.",
            })
        }
    };
    if let (Some(view), serde_json::Value::Object(extra)) = (view.as_object_mut(), extra) {
        view.extend(extra);
    }
    view
}

pub(super) fn session_view(id: &SessionId, view: &SessionView) -> serde_json::Value {
    serde_json::json!({
        "session_id": id,
        "username": view.username,
        "status": view.status,
        "decided_by": view.decided_by,
        "expires_at": view.expires_at,
        "password_reset_required": view.password_reset_required,
        "second_factor": view.factor.as_str(),
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

/// `?wait=N`: long-poll up to N seconds (at most 30).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WaitQuery {
    #[serde(default)]
    pub wait: Option<u64>,
}

/// The body of a typed response.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TypedResponseBody {
    pub response: String,
}

/// `GET …/sessions/{id}[?wait=N]`: the session's status, long-polled up to N s.
pub(super) async fn get_session<F: SessionFamily>(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::NotFound)?;
    let id = own_session::<F>(&state, &id).await?;
    let Query(query) = query.map_err(|_| ApiError::InvalidField {
        field: "wait",
        reason: "seconds".into(),
    })?;
    let view = wait_for_decision(&state, id, query.wait.unwrap_or(0)).await?;
    Ok(Json(session_view(&id, &view)))
}

/// `POST …/sessions/{id}/response`: the 8-digit response the user typed into
/// the login screen.
pub(super) async fn typed_response<F: SessionFamily>(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<TypedResponseBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::NotFound)?;
    let id = own_session::<F>(&state, &id).await?;
    let verifier = state.verifier.clone();
    let result = blocking(move || Ok(verifier.submit_typed_response(&id, &body.response))).await?;
    state.decisions.notify_waiters();
    result?;
    let verifier = state.verifier.clone();
    let view = blocking(move || Ok(verifier.session_view(&id)?)).await?;
    Ok(Json(session_view(&id, &view)))
}

/// `POST …/sessions/{id}/new-code`: "Request new code" by SMS or voice callback
/// (`{"channel": "sms"|"voice"}`).
pub(super) async fn request_code_handler<F: SessionFamily>(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<NewCodeBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::NotFound)?;
    let id = own_session::<F>(&state, &id).await?;
    Ok(Json(request_code(&state, id, body).await?))
}

/// `POST …/sessions/{id}/code`: the SMS or voice code the user typed.
pub(super) async fn submit_code_handler<F: SessionFamily>(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::NotFound)?;
    let id = own_session::<F>(&state, &id).await?;
    Ok(Json(submit_code(&state, id, body).await?))
}
