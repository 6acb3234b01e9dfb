//! Public endpoints: health, the server profile, and the e-mail's cancel link
//! for a lost-phone move.
//!
//! The cancel link (docs/PROTOCOL.md §6.5, §7) is opened from a mail client:
//! `GET` shows a confirmation page and changes nothing (mail scanners prefetch
//! links), and the page's form `POST`s the token back. The token in the form is
//! the capability — no cookie or session is involved, so there is nothing for a
//! cross-site request to ride on. The page is plain HTML without script, served
//! with a strict Content-Security-Policy, `Referrer-Policy: no-referrer` (the
//! token is in the page's URL) and `Cache-Control: no-store`. A JSON `POST`
//! (`{"token": "…"}`) works as before.

use super::error::{declares_json, read_body};
use super::web::{esc, insert_page_headers};
use super::{ApiError, AppState};
use axum::Json;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

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

/// The body of a JSON `POST /v1/replacements/cancel`: the token from the e-mail.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    token: String,
}

/// The query of the cancel link: `?token=<32 hex>`.
#[derive(serde::Deserialize)]
pub(super) struct CancelQuery {
    #[serde(default)]
    token: Option<String>,
}

/// The Content-Security-Policy of the cancel pages: nothing may load, the form
/// may only post back here, and no one may frame the page.
pub(super) const CANCEL_PAGE_CSP: &str =
    "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A cancel token as the e-mail carries it: 32 lowercase hex characters.
fn well_formed_token(token: &str) -> bool {
    token.len() == 32
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A page of the cancel link: `title`, then `body` (already HTML).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{title} — Latchkey</title>\n\
         </head>\n<body>\n<main>\n<h1>{title}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        title = esc(title),
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    insert_page_headers(response.headers_mut(), CANCEL_PAGE_CSP);
    response
}

fn not_a_link() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "This cancel link is not complete",
        "<p>Open the link exactly as the e-mail gives it, or cancel the move from your old \
         phone.</p>",
    )
}

/// `GET /v1/replacements/cancel?token=…`: the confirmation page. It does not
/// use the token: only the form's button does.
pub(super) async fn cancel_page(
    query: Result<Query<CancelQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let token = match query {
        Ok(Query(CancelQuery { token: Some(token) })) if well_formed_token(&token) => token,
        _ => return not_a_link(),
    };
    page(
        StatusCode::OK,
        "Cancel the move to a new phone?",
        &format!(
            "<p>Someone asked to make a new phone the authentication phone of your account \
             without the old phone. If this was not you, cancel the move, then change your \
             password.</p>\n\
             <form method=\"post\" action=\"cancel\">\n\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\n\
             <button type=\"submit\">Cancel the move</button>\n\
             </form>\n\
             <p>Opening this page changed nothing: only the button cancels the move.</p>",
            esc(&token)
        ),
    )
}

/// The token of a form-encoded body: exactly one field, `token`.
fn form_token(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let mut fields = text.split('&').filter(|field| !field.is_empty());
    let (name, value) = fields.next()?.split_once('=')?;
    (name == "token" && fields.next().is_none() && well_formed_token(value))
        .then(|| value.to_owned())
}

/// Whether the request declares a form-encoded body.
fn declares_form(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `POST /v1/replacements/cancel`: the e-mail's cancel link for a lost-phone
/// replacement (single use), as JSON (`{"token"}` → `{"outcome": "cancelled"}`)
/// or as the confirmation page's form (→ a result page).
pub(super) async fn cancel_replacement(
    State(state): State<AppState>,
    request: Request,
) -> Response {
    if declares_json(&request) {
        let body = match super::ApiJson::<CancelBody>::from_request(request, &state).await {
            Ok(super::ApiJson(body)) => body,
            Err(error) => return error.into_response(),
        };
        return match cancel(&state, body.token).await {
            Ok(()) => Json(serde_json::json!({ "outcome": "cancelled" })).into_response(),
            Err(error) => error.into_response(),
        };
    }
    if !declares_form(&request) {
        return ApiError::UnsupportedMediaType.into_response();
    }
    let token = match read_body(request, &state).await {
        Ok(body) => form_token(&body),
        Err(error) => return error.into_response(),
    };
    let Some(token) = token else {
        return not_a_link();
    };
    match cancel(&state, token).await {
        Ok(()) => page(
            StatusCode::OK,
            "The move was cancelled",
            "<p>Your old phone stays the account's authentication phone. If you did not ask \
             for the move, change your password now.</p>",
        ),
        Err(error) => page(
            error.status(),
            "The move was not cancelled",
            &format!(
                "<p>{}.</p>\n<p>The link may have been used already, or the move may have \
                 ended. Your old phone shows the account's state.</p>",
                esc(&error.to_string())
            ),
        ),
    }
}

async fn cancel(state: &AppState, token: String) -> Result<(), ApiError> {
    let verifier = state.verifier.clone();
    super::blocking(move || Ok(verifier.cancel_replacement_by_token(&token)?)).await
}
