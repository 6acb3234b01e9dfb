//! The integrator API (`/v1/integrator/*`, bearer token): what a relying party's
//! backend calls after its own password check — the verifier never sees those
//! passwords. Accounts, activations and phone moves, login sessions (poll or
//! long-poll, typed responses), clearing "password reset required" after the
//! integrator's reset, and fraud reports.

use super::sessions::{self, ActivationOptions, IntegratorSessions, SessionContext};
use super::{ApiError, ApiJson, AppState, blocking};
use crate::store::{AuditKind, SessionOpener, StoreExt};
use crate::users::{NewUser, Password, User, UserError, Username};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// The integrator routes, relative to `/v1/integrator`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", post(create_user))
        .route("/users/{username}", get(get_user))
        .route(
            "/users/{username}/password-reset-done",
            post(password_reset_done),
        )
        .route("/activations", post(start_activation))
        .route("/sessions", post(open_session))
        .route(
            "/sessions/{session_id}",
            get(sessions::get_session::<IntegratorSessions>),
        )
        .route(
            "/sessions/{session_id}/response",
            post(sessions::typed_response::<IntegratorSessions>),
        )
        .route(
            "/sessions/{session_id}/new-code",
            post(sessions::request_code_handler::<IntegratorSessions>),
        )
        .route(
            "/sessions/{session_id}/code",
            post(sessions::submit_code_handler::<IntegratorSessions>),
        )
        .route("/users/{username}/phone-number", post(change_phone_number))
        .route("/fraud-reports", get(fraud_reports))
}

/// The body of `POST /v1/integrator/users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUserBody {
    username: String,
    /// Only for the built-in login screen; integrator-managed accounts need none.
    #[serde(default)]
    password: Option<String>,
    phone: String,
    email: String,
    jurisdiction: String,
    #[serde(default)]
    second_factor: Option<String>,
}

impl CreateUserBody {
    fn parse(self) -> Result<(NewUser, Password), UserError> {
        let new = NewUser {
            username: self.username.parse()?,
            phone: self.phone.parse()?,
            email: self.email.parse()?,
            jurisdiction: self
                .jurisdiction
                .parse()
                .map_err(|_| UserError::BadJurisdiction)?,
            second_factor: self.second_factor.as_deref().unwrap_or("phone").parse()?,
        };
        let password = match self.password {
            Some(password) => password,
            // An account the integrator authenticates itself: a random password
            // nobody knows keeps the built-in login closed.
            None => latchkey_core::encoding::encode_hex(
                &latchkey_core::protocol::ids::random_bytes::<32>()
                    .map_err(|_| UserError::WeakPassword("randomness failed"))?,
            ),
        };
        Ok((new, Password::new(password)?))
    }
}

/// A user as the API shows it: no password hash, with the policy that applies
/// and the account's two-factor state (opted out with its warning, active phone,
/// SMS suspension).
pub(super) async fn user_view(
    state: &AppState,
    user: &User,
) -> Result<serde_json::Value, ApiError> {
    let verifier = state.verifier.clone();
    let username = user.username.as_str().to_owned();
    let two_factor = blocking(move || Ok(verifier.two_factor_state(&username)?)).await?;
    let mut view = plain_user_view(state, user);
    if let (Some(view), serde_json::Value::Object(extra)) =
        (view.as_object_mut(), sessions::two_factor_view(&two_factor))
    {
        view.extend(extra);
    }
    Ok(view)
}

/// A user without the verifier's state.
fn plain_user_view(state: &AppState, user: &User) -> serde_json::Value {
    let policy = state.policy.for_jurisdiction(&user.jurisdiction);
    serde_json::json!({
        "username": user.username.as_str(),
        "phone": user.phone.as_str(),
        "email": user.email.as_str(),
        "jurisdiction": user.jurisdiction.as_str(),
        "second_factor": user.second_factor.as_str(),
        "password_reset_required": user.password_reset_required,
        "created_at": user.created_at,
        "policy": {
            "two_factor_mandatory": policy.two_factor_mandatory(),
            "citation": policy.citation(),
            "matching_modes": policy.matching_modes(),
        },
    })
}

/// `POST /v1/integrator/users`: creates a built-in user (201), 409 if taken.
async fn create_user(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateUserBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let (new, password) = body.parse()?;
    let users = state.users.clone();
    let user = blocking(move || Ok(users.add(new, &password)?)).await?;
    Ok((StatusCode::CREATED, Json(user_view(&state, &user).await?)))
}

/// `GET /v1/integrator/users/{username}`: the user, or 404 `user_not_found`.
async fn get_user(
    State(state): State<AppState>,
    username: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(username) = username.map_err(|_| ApiError::UserNotFound)?;
    let username: Username = username.parse().map_err(|_| ApiError::UserNotFound)?;
    let users = state.users.clone();
    let user = blocking(move || users.get(&username)?.ok_or(ApiError::UserNotFound)).await?;
    Ok(Json(user_view(&state, &user).await?))
}

/// `POST /v1/integrator/users/{username}/password-reset-done`: the integrator
/// reset the password; "password reset required" is cleared (the PIN-bound
/// failure counter is not).
async fn password_reset_done(
    State(state): State<AppState>,
    username: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(username) = username.map_err(|_| ApiError::UserNotFound)?;
    let username: Username = username.parse().map_err(|_| ApiError::UserNotFound)?;
    let store = state.store.clone();
    let now = state.clock.now();
    let user = blocking(move || {
        store
            .in_transaction(|tx| {
                let mut user = tx.user(&username)?.ok_or(UserError::NotFound)?;
                user.password_reset_required = false;
                tx.update_user(&user)?;
                tx.append_audit(&crate::store::AuditEvent {
                    at: now,
                    kind: AuditKind::PasswordChanged,
                    username: Some(user.username.clone()),
                    detail: serde_json::json!({ "by": "integrator" }),
                })?;
                Ok::<_, UserError>(user)
            })
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(user_view(&state, &user).await?))
}

/// The body of `POST /v1/integrator/users/{username}/phone-number`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneNumberBody {
    phone: String,
}

/// `POST /v1/integrator/users/{username}/phone-number`: the integrator verified a
/// new number; with an active phone a fresh PIN proof must authorise it first
/// (403 `step_up_required`). Old number, e-mail and phone are told.
async fn change_phone_number(
    State(state): State<AppState>,
    username: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<PhoneNumberBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(username) = username.map_err(|_| ApiError::UserNotFound)?;
    let phone = body.phone.parse().map_err(ApiError::from)?;
    let verifier = state.verifier.clone();
    let user = blocking(move || Ok(verifier.change_phone_number(&username, phone)?)).await?;
    Ok(Json(user_view(&state, &user).await?))
}

/// The body of `POST /v1/integrator/activations`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartActivationBody {
    username: String,
    #[serde(flatten)]
    options: ActivationOptions,
}

/// `POST /v1/integrator/activations`: starts an activation (or a phone move);
/// the SMS code goes to the account's number; the signed ticket is for the app.
async fn start_activation(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<StartActivationBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let (replace, mode) = body.options.parse()?;
    let verifier = state.verifier.clone();
    let start =
        blocking(move || Ok(verifier.start_activation(&body.username, replace, mode)?)).await?;
    Ok((StatusCode::CREATED, Json(sessions::activation_view(&start))))
}

/// The body of `POST /v1/integrator/sessions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenSessionBody {
    username: String,
    #[serde(flatten)]
    context: SessionContext,
}

/// `POST /v1/integrator/sessions`: opens a login session (challenge, push).
async fn open_session(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OpenSessionBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let verifier = state.verifier.clone();
    let version = body.context.version()?;
    let opened = blocking(move || {
        let c = &body.context;
        Ok(verifier.open_session_for(
            SessionOpener::Integrator,
            &body.username,
            c.app.as_deref().unwrap_or("Login"),
            c.client.as_deref().unwrap_or("unknown client"),
            version.as_ref(),
            c.origin.as_deref().unwrap_or("unknown origin"),
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(sessions::opened_view(&opened))))
}

/// `GET /v1/integrator/fraud-reports`: every "not me" report and possible fraud
/// (typed-code mismatch), oldest first.
async fn fraud_reports(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let store = state.store.clone();
    let rows = blocking(move || {
        let mut reports = Vec::new();
        let mut after = 0;
        loop {
            let batch = store
                .in_transaction(|tx| tx.audit_after(after, 500))
                .map_err(ApiError::internal)?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            reports.extend(batch.into_iter().filter(|row| {
                matches!(
                    row.event.kind,
                    AuditKind::FraudReported | AuditKind::PossibleFraud
                )
            }));
        }
        Ok(reports)
    })
    .await?;
    let reports: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            serde_json::json!({
                "id": row.id,
                "at": row.event.at,
                "kind": row.event.kind.as_str(),
                "username": row.event.username.as_ref().map(|u| u.as_str()),
                "detail": row.event.detail,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "reports": reports })))
}
