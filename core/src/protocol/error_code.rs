//! The wire error codes of `docs/PROTOCOL.md` §7: the one list both sides use.
//!
//! Every failure the server answers is `{"error": {"code": "<snake_case>", "message": …}}`;
//! [`ErrorCode`] is the set of those codes as a type. The server names its answer by a
//! variant (so it cannot send a code that is not listed here) and the phone reads one
//! with [`ErrorCode::parse`] (a code it does not know stays an unknown refusal, shown as
//! it came). A test checks that this list and PROTOCOL §7's table name the same codes.
//!
//! Invariants: each code's text is unique and never changes once released (clients act
//! on it); a new code is added here and in PROTOCOL §7 in the same change.

macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $text:literal, )+) => {
        /// A wire error code (PROTOCOL §7), as the server answers it and the phone reads it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl ErrorCode {
            /// Every code, in the order of this list.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code's `snake_case` text on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)+
                }
            }

            /// The code named by `text`, or `None` for a code this version does not know.
            pub fn parse(text: &str) -> Option<ErrorCode> {
                match text {
                    $($text => Some(ErrorCode::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// 400: the body is not JSON of the expected shape (unknown fields included).
    MalformedBody = "malformed_body",
    /// 415: the body is not declared as JSON.
    UnsupportedMediaType = "unsupported_media_type",
    /// 413: the body is larger than the server reads.
    BodyTooLarge = "body_too_large",
    /// 408: the body did not arrive within the server's body timeout.
    BodyTimeout = "body_timeout",
    /// 400: a field or parameter has an invalid value (`field` names it).
    InvalidField = "invalid_field",
    /// 400: an envelope or message that does not parse, or is not for this server.
    MalformedMessage = "malformed_message",
    /// 400: a request that cannot be acted on as sent.
    BadRequest = "bad_request",
    /// 401: no valid integrator token, or a wrong username or password.
    Unauthorized = "unauthorized",
    /// 401: the phone's signature does not verify under the key the server holds.
    BadSignature = "bad_signature",
    /// 401: no enrollment with this id.
    UnknownEnrollment = "unknown_enrollment",
    /// 400: the message is too old or from the future (check the phone's clock).
    StaleMessage = "stale_message",
    /// 400: the encrypted secret could not be decrypted.
    Undecryptable = "undecryptable",
    /// 400: a text the phone would show (login context, device name) is too long or
    /// holds control, format or bidi characters (`field` names it).
    InvalidText = "invalid_text",
    /// 403: a PIN-bound answer was wrong and counted (`attempts_left`, `retry_after`,
    /// `password_reset_required`).
    WrongResponse = "wrong_response",
    /// 403: the code typed on the phone is not the challenge; the login ended.
    CodeMismatch = "code_mismatch",
    /// 403: the activation code was wrong (`attempts_left`); the last try burns the ticket.
    WrongActivationCode = "wrong_activation_code",
    /// 403: this phone cannot act now (revoked, replaced, removed); sync to learn why.
    /// The server never says "revoked" unsigned.
    EnrollmentInactive = "enrollment_inactive",
    /// 403: the enrollment waits for the old phone's approval or its hold period.
    EnrollmentPending = "enrollment_pending",
    /// 403: ten PIN-bound failures: disabled until the phone is replaced.
    EnrollmentDisabled = "enrollment_disabled",
    /// 403: the account needs a password reset first.
    PasswordResetRequired = "password_reset_required",
    /// 403: the jurisdiction's policy refuses this (the message cites the rule).
    PolicyRefused = "policy_refused",
    /// 403: a production server refuses phones with the software keystore.
    SoftwareKeystoreRefused = "software_keystore_refused",
    /// 403: a disabled phone cannot approve its own replacement.
    DisabledCannotApprove = "disabled_cannot_approve",
    /// 403: a wrong SMS or voice code, counted per account (`attempts_left`, `retry_after`
    /// when it started the suspension).
    WrongSmsCode = "wrong_sms_code",
    /// 403: voice callback refused for this client's version (`minimum_version`).
    VoiceNotOffered = "voice_not_offered",
    /// 403: two-factor authentication cannot be turned off here (`citation`).
    TwoFactorMandatory = "two_factor_mandatory",
    /// 403: a fresh PIN proof is needed first.
    StepUpRequired = "step_up_required",
    /// 404: no such endpoint (or a development endpoint in production).
    NotFound = "not_found",
    /// 404: no such user.
    UserNotFound = "user_not_found",
    /// 404: no such login request for this enrollment.
    UnknownRequest = "unknown_request",
    /// 404: no such login session for this caller.
    UnknownSession = "unknown_session",
    /// 404: no such activation ticket.
    UnknownTicket = "unknown_ticket",
    /// 404: no such PIN-proof challenge.
    UnknownProof = "unknown_proof",
    /// 404: no such phone move.
    UnknownReplacement = "unknown_replacement",
    /// 404: the account has no active phone.
    NoActivePhone = "no_active_phone",
    /// 405: the endpoint does not accept this method.
    MethodNotAllowed = "method_not_allowed",
    /// 409: the request or session was already approved or denied.
    AlreadyDecided = "already_decided",
    /// 409: this exact message was already used.
    Replayed = "replayed",
    /// 409: the PIN-proof challenge was already answered.
    ProofSpent = "proof_spent",
    /// 409: the phone move already completed or was cancelled.
    ReplacementEnded = "replacement_ended",
    /// 409: a lost-phone move of the account is waiting out its hold; no other
    /// activation starts or completes until it ends.
    ReplacementPending = "replacement_pending",
    /// 409: the account already has a phone and no replacement was asked for.
    AlreadyEnrolled = "already_enrolled",
    /// 409: not the account's current phone (a message from another epoch).
    WrongEpoch = "wrong_epoch",
    /// 409: a user with this username already exists.
    UserExists = "user_exists",
    /// 409: SMS/voice codes are not this account's second factor.
    SmsNotEnabled = "sms_not_enabled",
    /// 409: SMS/voice codes are never offered while the account has an active phone.
    PhoneActive = "phone_active",
    /// 409: no code is waiting for this session.
    NoCode = "no_code",
    /// 410: past its lifetime.
    Expired = "expired",
    /// 410: the activation ticket ended (used, burnt by wrong codes, or expired).
    TicketEnded = "ticket_ended",
    /// 429: refused during a failure delay, not counted (`retry_after`).
    AttemptDelayed = "attempt_delayed",
    /// 429: too many starts (`retry_after`).
    RateLimited = "rate_limited",
    /// 429: a new code was asked for too soon after the last (`retry_after`).
    CodeTooSoon = "code_too_soon",
    /// 429: too many codes in the window (`retry_after`).
    TooManyCodes = "too_many_codes",
    /// 429: the daily cap of codes is reached (`retry_after`).
    DailyCodeLimit = "daily_code_limit",
    /// 429: SMS/voice logins are suspended after wrong codes (`retry_after`).
    SmsSuspended = "sms_suspended",
    /// 429: too many wrong passwords at the reference login for this username or from
    /// this address (`retry_after`); not checked, not counted.
    TooManyPasswordAttempts = "too_many_password_attempts",
    /// 503: every password-hashing slot is taken (`Retry-After: 1`); not checked, not
    /// counted.
    Busy = "busy",
    /// 500: something failed inside the server; the detail is in its log.
    Internal = "internal",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use std::collections::BTreeSet;

    #[test]
    fn every_code_parses_back_to_itself_and_no_text_is_used_twice() {
        let mut texts = BTreeSet::new();
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert!(texts.insert(code.as_str()), "{code} is listed twice");
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code} is not snake_case"
            );
        }
    }

    #[test]
    fn unknown_and_retired_codes_do_not_parse() {
        for text in [
            "",
            "WRONG_RESPONSE",
            "wrong_code",
            "enrollment_revoked",
            "quota",
        ] {
            assert_eq!(ErrorCode::parse(text), None, "{text}");
        }
    }

    /// PROTOCOL §7's error table and this list name the same codes: a code added on
    /// one side only fails here.
    #[test]
    fn the_protocol_texts_error_table_names_exactly_these_codes() {
        let text = include_str!("../../../docs/PROTOCOL.md");
        let start = text
            .find("Error codes (")
            .expect("PROTOCOL §7 has an error-code table");
        let table: String = text[start..]
            .lines()
            .skip(1)
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
            .map(|line| without_parentheses(line.split('|').nth(2).unwrap_or("")))
            .collect::<Vec<_>>()
            .join(" ");
        let documented: BTreeSet<&str> = table
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|word| word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .collect();
        let listed: BTreeSet<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(documented, listed);
    }

    /// A table cell without its parenthesised parts (the members beside a code).
    fn without_parentheses(cell: &str) -> String {
        let mut depth = 0u32;
        cell.chars()
            .filter(|&c| {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    _ => return depth == 0,
                }
                false
            })
            .collect()
    }
}
