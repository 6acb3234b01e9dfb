//! What operators and load balancers poll: readiness (`GET /v1/ready`) and the
//! Prometheus metrics (`GET /metrics`, behind the metrics token). Liveness is
//! `GET /v1/health` (module `public`). docs/OPERATIONS.md explains which to use.

use super::{ApiError, AppState, blocking};
use crate::metrics::{CONTENT_TYPE, Readiness};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `GET /v1/ready`: 200 `{"status":"ready"}` when the store answers a trivial
/// query within the bound; 503 `{"status":"not_ready","reason":"store_unavailable"}`
/// otherwise. Concurrent probes share one check.
pub(super) async fn ready(State(state): State<AppState>) -> Response {
    match state.readiness.probe().await {
        Readiness::Ready => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Readiness::StoreUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({ "status": "not_ready", "reason": "store_unavailable" })),
        )
            .into_response(),
    }
}

/// `GET /metrics`: every series in the OpenMetrics text format, only with
/// `Authorization: Bearer <metrics token>` (401 otherwise; the integrator token
/// does not open it).
pub(super) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match super::bearer_token(&headers) {
        Some(token) if state.metrics_token.matches(token.as_bytes()) => {}
        _ => return Err(ApiError::Unauthorized),
    }
    // Readings (outbox depth, store counters) may query the store.
    let metrics = state.metrics.clone();
    let text = blocking(move || {
        metrics
            .encode()
            .map_err(|_| ApiError::internal("encoding the metrics failed"))
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response())
}
