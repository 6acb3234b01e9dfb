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

use crate::rules::CodeRefusal;
use crate::users::UserError;
use crate::verifier::VerifierError;
use latchkey_core::protocol::{ErrorCode, ProtocolError};

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
    /// The body did not arrive within the body timeout (408 `body_timeout`).
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// Too many wrong passwords for this username or from this address (429
    /// `too_many_password_attempts`, with `retry_after`); the password was not
    /// checked.
    #[error("too many wrong passwords: try again after retry_after")]
    PasswordAttemptsDelayed {
        /// When the next attempt is allowed (Unix seconds, the server's clock).
        retry_after: u64,
    },
    /// Every password-hashing slot is taken (503 `busy`, `Retry-After: 1`);
    /// nothing was checked or counted.
    #[error("the server is busy: try again in a moment")]
    Busy,
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
    /// A ceremony refused the request (status and code per refusal).
    #[error("{}", verifier_message(.0))]
    Verifier(VerifierError),
}

/// What the client is told of a verifier refusal: the refusal's own text, except
/// for protocol failures, which are answered coarsely (the detail is logged).
fn verifier_message(error: &VerifierError) -> String {
    match error {
        VerifierError::Protocol(ProtocolError::BadSignature) => {
            "the signature does not verify".into()
        }
        VerifierError::Protocol(ProtocolError::WrongEpoch { .. }) => {
            "this phone is not the account's current phone".into()
        }
        VerifierError::Protocol(
            ProtocolError::Expired { .. } | ProtocolError::NotYetValid { .. },
        ) => "the message is too old or from the future: check the phone's clock".into(),
        VerifierError::Protocol(ProtocolError::Decryption) => {
            "the secret could not be decrypted".into()
        }
        VerifierError::Protocol(error @ ProtocolError::UnsafeText(_)) => error.to_string(),
        VerifierError::Protocol(_) => "the message is malformed or not for this server".into(),
        VerifierError::Store(_) | VerifierError::Keys(_) => "internal error".into(),
        other => other.to_string(),
    }
}

impl From<VerifierError> for ApiError {
    fn from(error: VerifierError) -> Self {
        match error {
            VerifierError::Store(e) => ApiError::internal(format!("store: {e}")),
            VerifierError::Keys(e) => ApiError::internal(format!("keys: {e}")),
            VerifierError::Protocol(ProtocolError::Randomness | ProtocolError::Encryption) => {
                ApiError::internal("randomness or signing failed")
            }
            other => ApiError::Verifier(other),
        }
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedBody | ApiError::InvalidField { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::PasswordAttemptsDelayed { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound | ApiError::UserNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UserExists => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Verifier(e) => verifier_status(e),
        }
    }

    /// The stable, snake_case code clients act on.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::MalformedBody => ErrorCode::MalformedBody,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::BodyTooLarge => ErrorCode::BodyTooLarge,
            ApiError::BodyTimeout => ErrorCode::BodyTimeout,
            ApiError::PasswordAttemptsDelayed { .. } => ErrorCode::TooManyPasswordAttempts,
            ApiError::Busy => ErrorCode::Busy,
            ApiError::InvalidField { .. } => ErrorCode::InvalidField,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::UserNotFound => ErrorCode::UserNotFound,
            ApiError::UserExists => ErrorCode::UserExists,
            ApiError::Internal(_) => ErrorCode::Internal,
            ApiError::Verifier(e) => verifier_code(e),
        }
    }

    /// Members beside `code` and `message` that a client acts on.
    fn extra(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut extra = serde_json::Map::new();
        match self {
            ApiError::PasswordAttemptsDelayed { retry_after } => {
                extra.insert("retry_after".into(), (*retry_after).into());
            }
            ApiError::Verifier(VerifierError::WrongResponse {
                attempts_left,
                retry_after,
                password_reset_required,
            }) => {
                extra.insert("attempts_left".into(), (*attempts_left).into());
                extra.insert("retry_after".into(), serde_json::json!(retry_after));
                extra.insert(
                    "password_reset_required".into(),
                    (*password_reset_required).into(),
                );
            }
            ApiError::Verifier(
                VerifierError::AttemptDelayed { retry_after }
                | VerifierError::RateLimited { retry_after },
            ) => {
                extra.insert("retry_after".into(), (*retry_after).into());
            }
            ApiError::Verifier(VerifierError::WrongActivationCode { tries_left }) => {
                extra.insert("attempts_left".into(), (*tries_left).into());
            }
            ApiError::Verifier(VerifierError::CodeRefused(refusal)) => {
                extra.insert("retry_after".into(), refusal.until().into());
            }
            ApiError::Verifier(VerifierError::WrongLoginCode {
                attempts_left,
                suspended_until,
                password_reset_required,
            }) => {
                extra.insert("attempts_left".into(), (*attempts_left).into());
                extra.insert("retry_after".into(), serde_json::json!(suspended_until));
                if *password_reset_required {
                    extra.insert("password_reset_required".into(), true.into());
                }
            }
            ApiError::Verifier(VerifierError::VoiceNotOffered(refusal)) => {
                extra.insert("minimum_version".into(), refusal.minimum().into());
            }
            ApiError::Verifier(VerifierError::TwoFactorMandatory { citation }) => {
                extra.insert("citation".into(), citation.as_str().into());
            }
            ApiError::Verifier(VerifierError::Protocol(ProtocolError::UnsafeText(field))) => {
                extra.insert("field".into(), (*field).into());
            }
            _ => {}
        }
        extra
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
        if let ApiError::Verifier(error) = &self {
            tracing::info!(code = self.code().as_str(), %error, "request refused");
        }
        let mut error = serde_json::Map::new();
        error.insert("code".into(), self.code().as_str().into());
        error.insert("message".into(), self.to_string().into());
        error.extend(self.extra());
        let body = serde_json::json!({ "error": error });
        let mut response = (self.status(), axum::Json(body)).into_response();
        // The request log layer counts refusals by code (crate::metrics).
        response.extensions_mut().insert(self.code());
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::Busy) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if matches!(self, ApiError::BodyTimeout) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

fn verifier_status(error: &VerifierError) -> StatusCode {
    use VerifierError as V;
    match error {
        V::Protocol(ProtocolError::BadSignature) | V::UnknownEnrollment => StatusCode::UNAUTHORIZED,
        V::Protocol(ProtocolError::WrongEpoch { .. }) => StatusCode::CONFLICT,
        V::Protocol(_) | V::BadRequest(_) => StatusCode::BAD_REQUEST,
        V::EnrollmentRevoked
        | V::EnrollmentPending
        | V::EnrollmentDisabled
        | V::SoftwareKeystoreRefused
        | V::CodeMismatch
        | V::WrongResponse { .. }
        | V::WrongActivationCode { .. }
        | V::PasswordResetRequired
        | V::PolicyRefused(_)
        | V::TwoFactorMandatory { .. }
        | V::VoiceNotOffered(_)
        | V::WrongLoginCode { .. }
        | V::StepUpRequired
        | V::DisabledCannotApprove => StatusCode::FORBIDDEN,
        V::UnknownAccount
        | V::UnknownTicket
        | V::UnknownRequest
        | V::UnknownSession
        | V::UnknownProof
        | V::UnknownReplacement
        | V::NoActivePhone => StatusCode::NOT_FOUND,
        V::AlreadyDecided
        | V::Replayed
        | V::ProofSpent
        | V::ReplacementEnded
        | V::ReplacementPending
        | V::AlreadyEnrolled
        | V::SmsNotEnabled
        | V::PhoneActive
        | V::NoCode => StatusCode::CONFLICT,
        V::TicketEnded | V::Expired => StatusCode::GONE,
        V::AttemptDelayed { .. } | V::RateLimited { .. } | V::CodeRefused(_) => {
            StatusCode::TOO_MANY_REQUESTS
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn verifier_code(error: &VerifierError) -> ErrorCode {
    use VerifierError as V;
    match error {
        V::Protocol(ProtocolError::BadSignature) => ErrorCode::BadSignature,
        V::Protocol(ProtocolError::WrongEpoch { .. }) => ErrorCode::WrongEpoch,
        V::Protocol(ProtocolError::Expired { .. } | ProtocolError::NotYetValid { .. }) => {
            ErrorCode::StaleMessage
        }
        V::Protocol(ProtocolError::Decryption) => ErrorCode::Undecryptable,
        V::Protocol(ProtocolError::UnsafeText(_)) => ErrorCode::InvalidText,
        V::Protocol(_) => ErrorCode::MalformedMessage,
        V::UnknownEnrollment => ErrorCode::UnknownEnrollment,
        V::EnrollmentRevoked => ErrorCode::EnrollmentInactive,
        V::EnrollmentPending => ErrorCode::EnrollmentPending,
        V::EnrollmentDisabled => ErrorCode::EnrollmentDisabled,
        V::UnknownAccount => ErrorCode::UserNotFound,
        V::NoActivePhone => ErrorCode::NoActivePhone,
        V::AlreadyEnrolled => ErrorCode::AlreadyEnrolled,
        V::DisabledCannotApprove => ErrorCode::DisabledCannotApprove,
        V::RateLimited { .. } => ErrorCode::RateLimited,
        V::UnknownTicket => ErrorCode::UnknownTicket,
        V::TicketEnded => ErrorCode::TicketEnded,
        V::WrongActivationCode { .. } => ErrorCode::WrongActivationCode,
        V::SoftwareKeystoreRefused => ErrorCode::SoftwareKeystoreRefused,
        V::UnknownRequest => ErrorCode::UnknownRequest,
        V::UnknownSession => ErrorCode::UnknownSession,
        V::Expired => ErrorCode::Expired,
        V::AlreadyDecided => ErrorCode::AlreadyDecided,
        V::CodeMismatch => ErrorCode::CodeMismatch,
        V::WrongResponse { .. } => ErrorCode::WrongResponse,
        V::AttemptDelayed { .. } => ErrorCode::AttemptDelayed,
        V::Replayed => ErrorCode::Replayed,
        V::UnknownProof => ErrorCode::UnknownProof,
        V::ProofSpent => ErrorCode::ProofSpent,
        V::UnknownReplacement => ErrorCode::UnknownReplacement,
        V::ReplacementEnded => ErrorCode::ReplacementEnded,
        V::ReplacementPending => ErrorCode::ReplacementPending,
        V::PasswordResetRequired => ErrorCode::PasswordResetRequired,
        V::PolicyRefused(_) => ErrorCode::PolicyRefused,
        V::TwoFactorMandatory { .. } => ErrorCode::TwoFactorMandatory,
        V::SmsNotEnabled => ErrorCode::SmsNotEnabled,
        V::PhoneActive => ErrorCode::PhoneActive,
        V::CodeRefused(refusal) => refusal_code(refusal),
        V::VoiceNotOffered(_) => ErrorCode::VoiceNotOffered,
        V::NoCode => ErrorCode::NoCode,
        V::WrongLoginCode { .. } => ErrorCode::WrongSmsCode,
        V::StepUpRequired => ErrorCode::StepUpRequired,
        V::BadRequest(_) => ErrorCode::BadRequest,
        _ => ErrorCode::Internal,
    }
}

/// The wire code of a refused SMS or voice code send (in error bodies and in the
/// session view's `code.refused`).
pub(super) fn refusal_code(refusal: &CodeRefusal) -> ErrorCode {
    match refusal {
        CodeRefusal::TooSoon { .. } => ErrorCode::CodeTooSoon,
        CodeRefusal::TooMany { .. } => ErrorCode::TooManyCodes,
        CodeRefusal::DailyCap { .. } => ErrorCode::DailyCodeLimit,
        CodeRefusal::Suspended { .. } => ErrorCode::SmsSuspended,
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
            UserError::TooManyAttempts { retry_after } => {
                return ApiError::PasswordAttemptsDelayed {
                    retry_after: *retry_after,
                };
            }
            UserError::Busy => return ApiError::Busy,
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
/// JSON), 413 `body_too_large` (over the body limit), 408 `body_timeout` (not
/// arrived within the body timeout).
///
/// The body is parsed here rather than by `axum::Json` so that no parser
/// message — serde quotes the values it rejects, which may be a password — is
/// ever logged or sent.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// Whether the request declares a JSON body: `application/json` or
/// `application/<something>+json`, parameters allowed.
pub(super) fn declares_json(request: &Request) -> bool {
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
        let bytes = read_body(request, state).await?;
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|_| ApiError::MalformedBody)
    }
}

/// Reads a whole request body: 413 `body_too_large` over the body limit, 408
/// `body_timeout` past the body timeout, 400 `malformed_body` for any other
/// failure.
pub(super) async fn read_body<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge,
            _ if crate::connections::is_body_timeout(&rejection) => ApiError::BodyTimeout,
            _ => ApiError::MalformedBody,
        })
}
