//! The integrator API (`/v1/integrator/*`, bearer token): what a relying party's
//! backend calls after its own password check. Today: managing built-in users.
//! The ceremonies (activation, phone move, login sessions, SMS/voice, fraud
//! reports) add their routes here.

use super::{ApiError, ApiJson, AppState, blocking};
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
}

/// The body of `POST /v1/integrator/users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUserBody {
    username: String,
    password: String,
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
        Ok((new, Password::new(self.password)?))
    }
}

/// A user as the API shows it: no password hash, with the policy that applies.
fn user_view(state: &AppState, user: &User) -> serde_json::Value {
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
    Ok((StatusCode::CREATED, Json(user_view(&state, &user))))
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
    Ok(Json(user_view(&state, &user)))
}
