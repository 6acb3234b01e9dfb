//! Public endpoints: health and the server profile.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

/// `GET /v1/health`: `{"status":"ok","mode":"production"|"development"}`.
pub(super) async fn health(State(state): State<AppState>) -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok", "mode": state.config.mode_name() }))
}

/// `GET /v1/profile`: the server profile (base URL, public key, fingerprint).
pub(super) async fn profile(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.profile.to_json(),
    )
}

/// The body of `POST /v1/replacements/cancel`: the token from the e-mail.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelBody {
    token: String,
}

/// `POST /v1/replacements/cancel`: the e-mail's cancel link for a lost-phone
/// replacement (single use).
pub(super) async fn cancel_replacement(
    axum::extract::State(state): axum::extract::State<AppState>,
    super::ApiJson(body): super::ApiJson<CancelBody>,
) -> Result<axum::Json<serde_json::Value>, super::ApiError> {
    let verifier = state.verifier.clone();
    super::blocking(move || Ok(verifier.cancel_replacement_by_token(&body.token)?)).await?;
    Ok(axum::Json(serde_json::json!({ "outcome": "cancelled" })))
}
