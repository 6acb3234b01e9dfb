//! The phone API (`/v1/phone/*`, PROTOCOL §7): every body is a phone-signed
//! envelope; every answer a server-signed envelope or `{"outcome": …}`.

use super::{ApiError, ApiJson, AppState, blocking};
use crate::verifier::ActivationOutcome;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use latchkey_core::protocol::Signed;
use latchkey_core::protocol::phone_paths as path;

/// The phone routes, from the one table the phone's transport uses too.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(path::ACTIVATE, post(activate))
        .route(path::SYNC, post(sync))
        .route(path::REQUEST, post(fetch_request))
        .route(path::APPROVE, post(approve))
        .route(path::DENY, post(deny))
        .route(path::PROOF, post(prove))
        .route(path::REKEY, post(rekey))
        .route(path::PIN, post(change_pin))
        .route(path::REMOVE, post(remove))
}

fn outcome(word: &str) -> Response {
    axum::Json(serde_json::json!({ "outcome": word })).into_response()
}

fn envelope(signed: Signed) -> Response {
    axum::Json(signed).into_response()
}

async fn activate(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Signed>,
) -> Result<Response, ApiError> {
    let verifier = state.verifier.clone();
    let result = blocking(move || Ok(verifier.activate(&body)?)).await?;
    Ok(match result {
        ActivationOutcome::Active(receipt) => envelope(receipt),
        ActivationOutcome::AwaitingOldPhone { replacement } => (
            StatusCode::ACCEPTED,
            axum::Json(
                serde_json::json!({ "outcome": "awaiting_old_phone", "replacement": replacement }),
            ),
        )
            .into_response(),
        ActivationOutcome::Held {
            replacement,
            effective_at,
        } => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({
                "outcome": "held", "replacement": replacement, "effective_at": effective_at
            })),
        )
            .into_response(),
    })
}

async fn sync(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Signed>,
) -> Result<Response, ApiError> {
    let verifier = state.verifier.clone();
    Ok(envelope(blocking(move || Ok(verifier.sync(&body)?)).await?))
}

async fn fetch_request(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Signed>,
) -> Result<Response, ApiError> {
    let verifier = state.verifier.clone();
    Ok(envelope(
        blocking(move || Ok(verifier.fetch_request(&body)?)).await?,
    ))
}

async fn approve(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Signed>,
) -> Result<Response, ApiError> {
    let verifier = state.verifier.clone();
    let result = blocking(move || Ok(verifier.approve(&body))).await?;
    // Decided either way (approved, failed, fraud): wake long-polls.
    state.decisions.notify_waiters();
    result?;
    Ok(outcome("approved"))
}

async fn deny(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Signed>,
) -> Result<Response, ApiError> {
    let verifier = state.verifier.clone();
    blocking(move || Ok(verifier.deny(&body)?)).await?;
    state.decisions.notify_waiters();
    Ok(outcome("denied"))
}

async fn prove(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Signed>,
) -> Result<Response, ApiError> {
    let verifier = state.verifier.clone();
    let done = blocking(move || Ok(verifier.prove(&body)?)).await?;
    Ok(outcome(done.as_str()))
}

async fn rekey(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Signed>,
) -> Result<Response, ApiError> {
    let verifier = state.verifier.clone();
    Ok(envelope(
        blocking(move || Ok(verifier.rekey_ticket(&body)?)).await?,
    ))
}

async fn change_pin(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Signed>,
) -> Result<Response, ApiError> {
    let verifier = state.verifier.clone();
    blocking(move || Ok(verifier.change_pin(&body)?)).await?;
    Ok(outcome("pin_changed"))
}

async fn remove(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Signed>,
) -> Result<Response, ApiError> {
    let verifier = state.verifier.clone();
    Ok(envelope(
        blocking(move || Ok(verifier.remove(&body)?)).await?,
    ))
}
