//! The HTTP binding of `docs/PROTOCOL.md` §7, as the phone speaks it: every
//! phone request is a `POST` of a signed envelope (`{"body","sig"}`) to
//! `{base_url}/v1/phone/…`; an answer is a signed envelope, an outcome
//! (`{"outcome": …}`), or a typed error (`{"error": {"code", "message",
//! "attempts_left"?, "retry_after"?}}`).
//!
//! Invariants: nothing here trusts an answer — envelopes are only *parsed*
//! (their checks happen in the flows, against the pinned key); outcomes and
//! errors are unsigned and therefore never make the phone wipe or unlock
//! anything; a transport failure is [`AuthenticatorError::Offline`]; bodies over
//! [`MAX_ANSWER_LEN`] are refused unread; bodies are never logged.

use super::error::{AuthenticatorError, server_text};
use crate::device::transport::{HttpMethod, Transport, TransportRequest};
use crate::protocol::{ErrorCode, ReplacementId, ServerProfile, Signed};

/// The largest answer read, in bytes (a 64 KiB body in base64url, and change).
pub const MAX_ANSWER_LEN: usize = 96 * 1024;

/// The phone routes (one table, shared with the server's router).
pub use crate::protocol::phone_paths::{
    ACTIVATE, APPROVE, DENY, PIN, PROOF, REKEY, REMOVE, REQUEST, SYNC,
};

/// An unsigned outcome: `{"outcome": "...", "replacement"?: id, "effective_at"?: t}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Outcome {
    /// What happened (`approved`, `denied`, `awaiting_old_phone`, `held`, …).
    pub outcome: String,
    /// For a replacing activation: the replacement it created.
    #[serde(default)]
    pub replacement: Option<ReplacementId>,
    /// For a held replacement: when it takes effect (Unix seconds, server time).
    #[serde(default)]
    pub effective_at: Option<u64>,
}

/// A typed error from the server (unsigned).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ServerError {
    /// The `snake_case` code as the server sent it ([`ServerError::kind`] reads it).
    pub code: String,
    /// A human-readable message.
    #[serde(default)]
    pub message: String,
    /// Beside a `wrong_response`: attempts left before the enrollment is disabled;
    /// beside a `wrong_activation_code`: tries left for the ticket.
    #[serde(default)]
    pub attempts_left: Option<u64>,
    /// Beside a `wrong_response` or `attempt_delayed`: when the next attempt is
    /// allowed (Unix seconds, server time).
    #[serde(default)]
    pub retry_after: Option<u64>,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ServerError,
}

impl ServerError {
    /// The code as one of PROTOCOL §7's, or `None` for a code this version does not know.
    pub fn kind(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.code)
    }

    /// The [`AuthenticatorError`] a shell acts on for this server error.
    pub fn into_error(self) -> AuthenticatorError {
        match self.kind() {
            Some(ErrorCode::WrongResponse) => AuthenticatorError::WrongResponse {
                attempts_left: self.attempts_left,
                retry_after: self.retry_after,
            },
            Some(ErrorCode::AttemptDelayed) => AuthenticatorError::Delayed {
                retry_after: self.retry_after,
            },
            Some(ErrorCode::PasswordResetRequired) => AuthenticatorError::PasswordResetRequired,
            Some(ErrorCode::EnrollmentDisabled) => AuthenticatorError::Disabled,
            Some(ErrorCode::AlreadyDecided) => AuthenticatorError::AlreadyDecided,
            Some(ErrorCode::Expired | ErrorCode::TicketEnded) => AuthenticatorError::Expired,
            Some(ErrorCode::UnknownRequest) => AuthenticatorError::UnknownRequest,
            Some(ErrorCode::CodeMismatch) => AuthenticatorError::CodeMismatch,
            Some(ErrorCode::WrongActivationCode) => AuthenticatorError::WrongActivationCode {
                attempts_left: self.attempts_left,
            },
            _ => AuthenticatorError::ServerRefused {
                code: server_text(&self.code),
                message: server_text(&self.message),
            },
        }
    }
}

/// What came back from one request.
#[derive(Debug)]
pub enum Reply {
    /// A 2xx answer carrying a signed envelope (not yet checked).
    Envelope(Signed),
    /// A 2xx answer carrying an outcome; `status` is 200 or 202.
    Outcome {
        /// The HTTP status.
        status: u16,
        /// The outcome.
        outcome: Outcome,
    },
    /// A 4xx/5xx answer with a typed error.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error.
        error: ServerError,
    },
}

impl Reply {
    /// The envelope, or the error this reply means.
    pub fn into_envelope(self) -> Result<Signed, AuthenticatorError> {
        match self {
            Reply::Envelope(signed) => Ok(signed),
            Reply::Outcome { status, .. } => Err(AuthenticatorError::UnexpectedAnswer { status }),
            Reply::Refused { error, .. } => Err(error.into_error()),
        }
    }

    /// The outcome, or the error this reply means.
    pub fn into_outcome(self) -> Result<Outcome, AuthenticatorError> {
        match self {
            Reply::Outcome { outcome, .. } => Ok(outcome),
            Reply::Envelope(_) => Err(AuthenticatorError::UnexpectedAnswer { status: 200 }),
            Reply::Refused { error, .. } => Err(error.into_error()),
        }
    }
}

/// Posts a signed envelope to `path` on the profile's server and reads the answer.
pub fn post(
    transport: &dyn Transport,
    profile: &ServerProfile,
    path: &str,
    envelope: &Signed,
) -> Result<Reply, AuthenticatorError> {
    let request = TransportRequest {
        method: HttpMethod::Post,
        url: format!("{}{path}", profile.base_url()),
        body: envelope.to_json().into_bytes(),
        content_type: Some("application/json".to_owned()),
    };
    let response = transport.send(request).map_err(|error| {
        tracing::info!(path, %error, "server not reached");
        AuthenticatorError::Offline
    })?;
    let status = response.status;
    tracing::debug!(path, status, len = response.body.len(), "answer");
    parse_reply(status, &response.body)
}

/// Reads an answer by its status: 2xx is an envelope or an outcome, 4xx/5xx a
/// typed error; anything else (a proxy's page, a redirect) is unexpected.
pub fn parse_reply(status: u16, body: &[u8]) -> Result<Reply, AuthenticatorError> {
    let unexpected = AuthenticatorError::UnexpectedAnswer { status };
    if body.len() > MAX_ANSWER_LEN {
        return Err(unexpected);
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(unexpected);
    };
    match status {
        200..=299 => {
            if let Ok(signed) = Signed::from_json(text) {
                return Ok(Reply::Envelope(signed));
            }
            match serde_json::from_str::<Outcome>(text) {
                Ok(outcome) => Ok(Reply::Outcome { status, outcome }),
                Err(_) => Err(unexpected),
            }
        }
        400..=599 => match serde_json::from_str::<ErrorBody>(text) {
            Ok(body) => {
                tracing::info!(status, code = %server_text(&body.error.code), "server refused");
                Ok(Reply::Refused {
                    status,
                    error: body.error,
                })
            }
            Err(_) => Err(unexpected),
        },
        _ => Err(unexpected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_error_carries_attempts_left_and_retry_after() {
        let reply = parse_reply(
            403,
            br#"{"error":{"code":"wrong_response","message":"wrong","attempts_left":6,"retry_after":1800000090}}"#,
        )
        .unwrap();
        assert!(matches!(
            reply.into_outcome(),
            Err(AuthenticatorError::WrongResponse {
                attempts_left: Some(6),
                retry_after: Some(1_800_000_090)
            })
        ));
        let delayed = parse_reply(
            429,
            br#"{"error":{"code":"attempt_delayed","message":"wait","retry_after":5}}"#,
        )
        .unwrap();
        assert!(matches!(
            delayed.into_envelope(),
            Err(AuthenticatorError::Delayed {
                retry_after: Some(5)
            })
        ));
    }

    #[test]
    fn a_wrong_activation_code_carries_its_tries_left_and_retired_aliases_are_unknown() {
        let reply = parse_reply(
            403,
            br#"{"error":{"code":"wrong_activation_code","message":"wrong","attempts_left":2}}"#,
        )
        .unwrap();
        assert!(matches!(
            reply.into_outcome(),
            Err(AuthenticatorError::WrongActivationCode {
                attempts_left: Some(2)
            })
        ));
        let ended = parse_reply(410, br#"{"error":{"code":"ticket_ended","message":"x"}}"#);
        assert!(matches!(
            ended.unwrap().into_outcome(),
            Err(AuthenticatorError::Expired)
        ));
        // No server sends these spellings (PROTOCOL §7): they are not read as known codes.
        for body in [
            &br#"{"error":{"code":"wrong_code","message":"wrong","tries_left":2}}"#[..],
            br#"{"error":{"code":"request_expired","message":"x"}}"#,
        ] {
            let reply = parse_reply(403, body).unwrap();
            assert!(matches!(
                reply.into_outcome(),
                Err(AuthenticatorError::ServerRefused { .. })
            ));
        }
    }

    #[test]
    fn an_unknown_code_is_a_server_refusal_with_its_text_cut() {
        let long = "x".repeat(1000);
        let body = format!(r#"{{"error":{{"code":"quota","message":"{long}"}}}}"#);
        match parse_reply(503, body.as_bytes()).unwrap().into_outcome() {
            Err(AuthenticatorError::ServerRefused { code, message }) => {
                assert_eq!(code, "quota");
                assert_eq!(message.len(), 256);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_proxy_page_or_a_redirect_is_an_unexpected_answer() {
        for (status, body) in [
            (404, &b"<html>Not Found</html>"[..]),
            (200, b"<html>Sign in to the hotel Wi-Fi</html>"),
            (302, b""),
            (200, b"{\"outcome\": 5}"),
        ] {
            assert!(
                matches!(
                    parse_reply(status, body),
                    Err(AuthenticatorError::UnexpectedAnswer { status: s }) if s == status
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn an_outcome_may_name_a_replacement_and_when_it_takes_effect() {
        let reply = parse_reply(
            202,
            br#"{"outcome":"held","replacement":"000102030405060708090a0b0c0d0e0f","effective_at":1800259200}"#,
        )
        .unwrap();
        let outcome = reply.into_outcome().unwrap();
        assert_eq!(outcome.outcome, "held");
        assert_eq!(
            outcome.replacement.unwrap().to_string(),
            "000102030405060708090a0b0c0d0e0f"
        );
        assert_eq!(outcome.effective_at, Some(1_800_259_200));
    }
}
