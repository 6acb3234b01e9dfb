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
