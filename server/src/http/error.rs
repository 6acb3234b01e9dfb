//! The HTTP layer's one error type and the JSON body extractor that maps every
//! body rejection onto it.
//!
//! Every failure answers `{"error":{"code":"snake_case_code","message":"…"}}`
//! with a fitting status. Answers are coarse; details of internal failures go to
//! the log (without secrets), never to the client.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::users::UserError;

/// Why a request failed, as the client is told.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not JSON, or not of the expected shape (400 `malformed_body`).
    #[error("the request body is not JSON of the expected shape")]
    MalformedBody,
    /// The body is not declared as JSON (415 `unsupported_media_type`).
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The body is larger than the server reads (413 `body_too_large`).
    #[error("the request body is too large")]
    BodyTooLarge,
    /// A field or parameter has an invalid value (400 `invalid_field`).
    #[error("{field}: {reason}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// No valid integrator token was presented (401 `unauthorized`).
    #[error("a valid integrator API token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    /// No such endpoint, or a development endpoint in production (404 `not_found`).
    #[error("no such endpoint")]
    NotFound,
    /// The endpoint does not accept this method (405 `method_not_allowed`).
    #[error("this endpoint does not accept this method")]
    MethodNotAllowed,
    /// No such user (404 `user_not_found`).
    #[error("no such user")]
    UserNotFound,
    /// The username is taken (409 `user_exists`).
    #[error("a user with this username already exists")]
    UserExists,
    /// Something failed inside the server (500 `internal`); the detail is logged.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedBody | ApiError::InvalidField { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound | ApiError::UserNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UserExists => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, snake_case code clients act on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedBody => "malformed_body",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::BodyTooLarge => "body_too_large",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::UserNotFound => "user_not_found",
            ApiError::UserExists => "user_exists",
            ApiError::Internal(_) => "internal",
        }
    }

    /// An internal failure, logged with `detail` (which must hold no secret).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError::Internal(detail.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let body = serde_json::json!({
            "error": { "code": self.code(), "message": self.to_string() }
        });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        let field = match &error {
            UserError::BadUsername => "username",
            UserError::BadPhone => "phone",
            UserError::BadEmail => "email",
            UserError::BadJurisdiction => "jurisdiction",
            UserError::BadSecondFactor => "second_factor",
            UserError::WeakPassword(_) => "password",
            UserError::Exists => return ApiError::UserExists,
            UserError::NotFound => return ApiError::UserNotFound,
            UserError::WrongCredentials => return ApiError::Unauthorized,
            _ => return ApiError::internal(&error),
        };
        ApiError::InvalidField {
            field,
            reason: error.to_string(),
        }
    }
}

/// A JSON request body whose every rejection is an [`ApiError`]: 400
/// `malformed_body` (not JSON, wrong shape, unknown field), 415 (not declared as
/// JSON), 413 `body_too_large` (over the body limit).
///
/// The body is parsed here rather than by `axum::Json` so that no parser
/// message — serde quotes the values it rejects, which may be a password — is
/// ever logged or sent.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// Whether the request declares a JSON body: `application/json` or
/// `application/<something>+json`, parameters allowed.
fn declares_json(request: &Request) -> bool {
    let Some(value) = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !declares_json(&request) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge,
                    _ => ApiError::MalformedBody,
                })?;
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|_| ApiError::MalformedBody)
    }
}
