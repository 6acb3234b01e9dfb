//! The reference login screen's API (`/v1/login/*`): the same ceremonies as the
//! integrator API, with the first factor checked against the built-in password
//! store instead of an integrator token. `latchkey login` and the demo use it.
//! The session id is the login screen's capability for its own session.

use super::sessions::{self, ActivationOptions, LoginSessions, SessionContext};
use super::{ApiError, ApiJson, AppState, ClientAddress, blocking};
use crate::store::SessionOpener;
use crate::users::{Password, Username};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// The login routes, relative to `/v1/login`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/activation", post(start_activation))
        .route("/sessions", post(open_session))
        .route(
            "/sessions/{session_id}",
            get(sessions::get_session::<LoginSessions>),
        )
        .route(
            "/sessions/{session_id}/response",
            post(sessions::typed_response::<LoginSessions>),
        )
        .route(
            "/sessions/{session_id}/new-code",
            post(sessions::request_code_handler::<LoginSessions>),
        )
        .route(
            "/sessions/{session_id}/code",
            post(sessions::submit_code_handler::<LoginSessions>),
        )
        .route("/account", post(account))
}

/// Username and password (the first factor).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Credentials {
    pub(super) username: String,
    pub(super) password: String,
}

/// Checks the first factor against the built-in store, under its attempt limits
/// (per username and per client address, a bound on hashes at once;
/// docs/PROTOCOL.md §7, "Password attempts"): the username on success. The reference
/// login and the web page both check passwords here.
pub(super) async fn check_password(
    state: &AppState,
    client: ClientAddress,
    credentials: Credentials,
) -> Result<String, ApiError> {
    let users = state.users.clone();
    blocking(move || {
        let username: Username = credentials
            .username
            .parse()
            .map_err(|_| ApiError::Unauthorized)?;
        let password = Password::new(credentials.password).map_err(|_| ApiError::Unauthorized)?;
        let user = users.check_password_from(client.0, &username, &password)?;
        Ok(user.username.as_str().to_owned())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivationBody {
    #[serde(flatten)]
    credentials: Credentials,
    #[serde(flatten)]
    options: ActivationOptions,
}

/// `POST /v1/login/activation`: password → ticket and SMS code.
async fn start_activation(
    State(state): State<AppState>,
    client: ClientAddress,
    ApiJson(body): ApiJson<ActivationBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let (replace, mode) = body.options.parse()?;
    let username = check_password(&state, client, body.credentials).await?;
    let verifier = state.verifier.clone();
    let start = blocking(move || Ok(verifier.start_activation(&username, replace, mode)?)).await?;
    Ok((StatusCode::CREATED, Json(sessions::activation_view(&start))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionBody {
    #[serde(flatten)]
    credentials: Credentials,
    #[serde(flatten)]
    context: SessionContext,
}

/// `POST /v1/login/sessions`: password → session with challenge and push.
async fn open_session(
    State(state): State<AppState>,
    client: ClientAddress,
    ApiJson(body): ApiJson<SessionBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let version = body.context.version()?;
    let username = check_password(&state, client, body.credentials).await?;
    let verifier = state.verifier.clone();
    let context = body.context;
    let opened = blocking(move || {
        Ok(verifier.open_session_for(
            SessionOpener::ReferenceLogin,
            &username,
            context.app.as_deref().unwrap_or("Reference login"),
            context.client.as_deref().unwrap_or("latchkey login"),
            version.as_ref(),
            context.origin.as_deref().unwrap_or("127.0.0.1"),
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(sessions::opened_view(&opened))))
}

/// `POST /v1/login/account`: username and password → the account as the login
/// screen may show it (second factor, two-factor state with the opt-out warning,
/// the policy).
async fn account(
    State(state): State<AppState>,
    client: ClientAddress,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let username = check_password(&state, client, body).await?;
    let users = state.users.clone();
    let user = blocking(move || {
        let username: Username = username.parse().map_err(|_| ApiError::UserNotFound)?;
        users.get(&username)?.ok_or(ApiError::UserNotFound)
    })
    .await?;
    Ok(Json(super::integrator::user_view(&state, &user).await?))
}
