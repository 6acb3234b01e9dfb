//! Development-only endpoints: present only when the server runs with `--dev`;
//! in production the same paths answer the typed 404 of any unknown route.

use super::{ApiError, ApiJson, AppState, blocking};
use crate::outbox::OutboundError;
use crate::store::StoreExt;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// The most messages one outbox page holds.
const OUTBOX_PAGE: u32 = 100;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/dev/outbox", get(outbox))
        .route("/v1/dev/voice-calls/{call}/keypress", post(keypress))
        .route("/v1/dev/clock", post(skip_ahead))
        .route("/v1/dev/store", get(store_counters))
}

/// `GET /v1/dev/store`: `{"durable_commits": n}`, the durable commits this
/// node's store has made since it started (`Store::durable_commits`), so that
/// `latchkey bench load` can report fsyncs per flow from outside the process.
async fn store_counters(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "durable_commits": state.store.durable_commits() }))
}

/// The body of `POST /v1/dev/clock`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkipAhead {
    /// Seconds to move the server's clock ahead (at most a year per call).
    advance: u64,
}

/// The most one `POST /v1/dev/clock` moves the clock: a year.
const MAX_SKIP: u64 = 366 * 86_400;

/// `POST /v1/dev/clock` `{"advance": seconds}`: moves the development server's clock
/// ahead, so a test waits out a lifetime or a limit (the 2 minutes between codes, a
/// hold period) without sleeping; answers `{"now": unix_seconds}`. The clock never
/// goes back.
async fn skip_ahead(
    State(state): State<AppState>,
    body: ApiJson<SkipAhead>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ApiJson(SkipAhead { advance }) = body;
    if advance > MAX_SKIP {
        return Err(ApiError::InvalidField {
            field: "advance",
            reason: format!("at most {MAX_SKIP} seconds per call"),
        });
    }
    let clock = state.dev_clock.as_ref().ok_or(ApiError::NotFound)?;
    let now = clock.advance(advance);
    state.decisions.notify_waiters();
    Ok(Json(serde_json::json!({ "now": now })))
}

/// `POST /v1/dev/voice-calls/{call}/keypress`: the callee of a voice call placed
/// through the outbox presses a key, so the call reads its code (the outbox
/// records the reading). The call id is in the outbox row of the placed call.
/// 404 `not_found` if no such call is waiting (never placed, already read, or
/// ended unanswered).
async fn keypress(
    State(state): State<AppState>,
    call: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(call) = call.map_err(|_| ApiError::NotFound)?;
    let outbox = state.outbox.clone();
    blocking(move || match outbox.press_key(&call) {
        Ok(()) => Ok(()),
        Err(OutboundError::NoSuchCall) => Err(ApiError::NotFound),
        Err(other) => Err(ApiError::internal(other)),
    })
    .await?;
    Ok(Json(serde_json::json!({ "outcome": "code_read" })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxQuery {
    #[serde(default)]
    after: i64,
}

/// `GET /v1/dev/outbox?after=ID`: the messages recorded after `ID` (default 0),
/// oldest first, at most 100 — codes included, which is why production has no
/// such endpoint.
async fn outbox(
    State(state): State<AppState>,
    query: Result<Query<OutboxQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|_| ApiError::InvalidField {
        field: "after",
        reason: "must be a message id (an integer)".into(),
    })?;
    let store = state.store.clone();
    let rows = blocking(move || {
        store
            .in_transaction(|tx| tx.outbox_after(query.after, OUTBOX_PAGE))
            .map_err(ApiError::internal)
    })
    .await?;
    let messages: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|row| {
            serde_json::json!({
                "id": row.id,
                "created_at": row.entry.created_at,
                "channel": row.entry.channel.as_str(),
                "recipient": row.entry.recipient,
                "body": row.entry.body,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "messages": messages })))
}
