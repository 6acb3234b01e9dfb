//! `POST /v1/voice-calls/{call}/code`: the voice provider's callback after the
//! callee pressed a key (the `<Gather>` action of `crate::delivery::twilio`).
//! Answers the TwiML that reads the call's code, once, when the request
//! carries the provider's valid signature; 404 `not_found` otherwise — an
//! unknown, used or timed-out call, a bad signature, or a server whose voice
//! calls go to the outbox (development) — so a guesser learns nothing.

use super::{ApiError, AppState};
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

/// The signature header Twilio sets.
const SIGNATURE: &str = "x-twilio-signature";

pub(super) async fn keypress(
    State(state): State<AppState>,
    call: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, ApiError> {
    let voice = state.voice_calls.clone().ok_or(ApiError::NotFound)?;
    let Path(call) = call.map_err(|_| ApiError::NotFound)?;
    let Form(form) = form.map_err(|_| ApiError::NotFound)?;
    let signature = headers
        .get(SIGNATURE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    // The call waits in the store: a blocking read, off the async workers.
    let twiml =
        tokio::task::spawn_blocking(move || voice.keypress(&call, signature.as_deref(), &form))
            .await
            .map_err(|_| ApiError::NotFound)?
            .map_err(|_| ApiError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        twiml.to_string(),
    )
        .into_response())
}
