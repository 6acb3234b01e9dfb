//! Login sessions (PROTOCOL §6.2, §6.3) and the PIN-bound attempt counter.

use super::sms::CodeDisposition;
use super::{Outgoing, Verifier, VerifierError};
use crate::rules::{ClientVersion, FailureConsequence, PushRefusal, VoiceRefusal};
use crate::store::{
    AuditKind, CodeChannel, Enrollment, EnrollmentStatus, LoginFactor, LoginSession, SessionOpener,
    SessionStatus, StoreExt, StoreTx,
};
use latchkey_core::otp::OcraSuite;
use latchkey_core::protocol::keys::verify_response;
use latchkey_core::protocol::{
    Approval, Challenge, Denial, DenialReason, FetchRequest, LoginRequest, MAX_TEXT, MatchingMode,
    Notice, NoticeKind, RequestId, SessionId, Signed, check_display_text,
};

/// What happened to the push of a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushDisposition {
    /// A push was sent to the account's phone.
    Sent,
    /// No push: the account has no active phone with a push token.
    NoPhone,
    /// No push: the login's second factor is not the phone (SMS, or none for an
    /// account that opted out).
    NotUsed,
    /// No push: limits or a pause apply; the login screen offers the typed
    /// response ("Click here if you do not receive the notification").
    Refused {
        /// Why, in words for the login screen.
        reason: String,
        /// When pushes resume.
        until: u64,
    },
}

/// A newly opened session, as the integrator's login screen needs it.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    /// The session to poll.
    pub session: SessionId,
    /// The 6-digit code to show.
    pub challenge: Challenge,
    /// The push's fate.
    pub push: PushDisposition,
    /// When the session ends.
    pub expires_at: u64,
    /// The second factor the login asks for.
    pub factor: LoginFactor,
    /// Approved at open: the account opted out of two-factor authentication.
    pub approved: bool,
    /// For an opted-out account: the warning recorded when it opted out.
    pub opt_out_warning: Option<String>,
    /// For an SMS login: the first code's fate.
    pub code: Option<CodeDisposition>,
    /// For an SMS login: whether voice callback is offered to this client.
    pub voice: Option<Result<(), VoiceRefusal>>,
}

/// A session's state for the integrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The account.
    pub username: String,
    /// `pending`, `approved`, `denied`, `failed`, `fraud` or `expired`.
    pub status: &'static str,
    /// How it was decided (`push`, `typed`), once decided.
    pub decided_by: Option<String>,
    /// When it ends.
    pub expires_at: u64,
    /// Whether the account now needs a password reset.
    pub password_reset_required: bool,
    /// The second factor the login asks for.
    pub factor: LoginFactor,
}

fn status_name(session: &LoginSession, now: u64) -> &'static str {
    match session.status {
        SessionStatus::Pending if now >= session.expires_at => "expired",
        SessionStatus::Pending => "pending",
        SessionStatus::Approved => "approved",
        SessionStatus::Denied => "denied",
        SessionStatus::Failed => "failed",
        SessionStatus::Fraud => "fraud",
    }
}

impl Verifier {
    /// Opens a login session for an account whose password the caller checked.
    ///
    /// The second factor follows the account: none if it opted out and its
    /// policy allows that (the session is approved at once); a code by SMS for an
    /// SMS account without a phone (refused while SMS logins are suspended);
    /// otherwise the phone (push within the limits, or the typed response).
    /// `client` and `client_version` are what the login screen states about
    /// itself; voice callback depends on them. The session is the integrator
    /// API's ([`Verifier::open_session_for`] names another opener).
    pub fn open_session(
        &self,
        username: &str,
        app: &str,
        client: &str,
        client_version: Option<&ClientVersion>,
        origin: &str,
    ) -> Result<OpenedSession, VerifierError> {
        let opener = SessionOpener::Integrator;
        self.open_session_for(opener, username, app, client, client_version, origin)
    }

    /// As [`Verifier::open_session`], recording `opened_by`: only that API's
    /// session routes act on the session (docs/PROTOCOL.md §7).
    pub fn open_session_for(
        &self,
        opened_by: SessionOpener,
        username: &str,
        app: &str,
        client: &str,
        client_version: Option<&ClientVersion>,
        origin: &str,
    ) -> Result<OpenedSession, VerifierError> {
        // What the phone will show: refused here, where it enters, with the same
        // check the phone applies to the signed request (PROTOCOL §4).
        for (text, what) in [(app, "app"), (client, "client"), (origin, "origin")] {
            check_display_text(text, MAX_TEXT, what)?;
        }
        let now = self.clock.now();
        let limits = self.config.limits.clone();
        let challenge = Challenge::random()?;
        let session_id = SessionId::random()?;
        let request_id = RequestId::random()?;
        let (opened, _) = self.ceremony(|tx| {
            let user = Self::user(tx, username)?;
            let username = user.username.as_str().to_owned();
            tx.lock_account(&username)?;
            if user.password_reset_required {
                return Err(VerifierError::PasswordResetRequired);
            }
            let state = tx.account_state(&username)?;
            let enrollment = Self::authenticating_enrollment(tx, &username)?;
            let policy = self.policy.for_jurisdiction(&user.jurisdiction);
            let factor = if state.opted_out && policy.may_opt_out() {
                LoginFactor::None
            } else if Self::sms_applies(&user, enrollment.is_some()) {
                LoginFactor::Sms
            } else {
                LoginFactor::Phone
            };
            let mut outgoing = Vec::new();
            if factor == LoginFactor::Sms {
                self.require_not_suspended(tx, &username)?;
            }
            let push = match &enrollment {
                _ if factor != LoginFactor::Phone => PushDisposition::NotUsed,
                Some(e) if e.status == EnrollmentStatus::Disabled => return Err(VerifierError::EnrollmentDisabled),
                Some(e) if e.push_token.is_some() => {
                    let since = state.last_success_at.unwrap_or(0).max(now.saturating_sub(limits.push_long.window_secs));
                    let sent = tx.pushes_since(&username, since)?;
                    match limits.check_push(&sent, state.push_paused_until, now) {
                        Ok(()) => {
                            tx.add_push(&username, now)?;
                            outgoing.extend(Self::push_to(
                                e,
                                "Login request — open Latchkey to review",
                                serde_json::json!({ "latchkey": "1", "request": request_id.to_string() }),
                            ));
                            PushDisposition::Sent
                        }
                        Err(PushRefusal::RateLimited { until }) => PushDisposition::Refused {
                            reason: "Too many login notifications were sent; use the challenge/response on your phone.".into(),
                            until,
                        },
                        Err(PushRefusal::PausedAfterDenial { until }) => PushDisposition::Refused {
                            reason: "Notifications are paused after a login was reported; use the challenge/response on your phone.".into(),
                            until,
                        },
                    }
                }
                _ => PushDisposition::NoPhone,
            };
            let session = LoginSession {
                id: session_id,
                request: request_id,
                username: username.clone(),
                enrollment: enrollment.as_ref().map(|e| e.id),
                challenge,
                app: app.to_owned(),
                client: client.to_owned(),
                origin: origin.to_owned(),
                created_at: now,
                expires_at: now + limits.session_secs,
                push_expires_at: now + limits.push_answerable_secs,
                pushed: push == PushDisposition::Sent,
                push_refused: match &push {
                    PushDisposition::Refused { reason, .. } => Some(reason.clone()),
                    _ => None,
                },
                status: if factor == LoginFactor::None { SessionStatus::Approved } else { SessionStatus::Pending },
                decided_at: (factor == LoginFactor::None).then_some(now),
                decided_by: (factor == LoginFactor::None).then(|| "opted_out".to_owned()),
                client_version: client_version.map(ToString::to_string),
                factor,
                opened_by,
            };
            tx.put_session(&session)?;
            let (code, voice) = if factor == LoginFactor::Sms {
                let code = match self.issue_code(tx, &user, &session, CodeChannel::Sms, &mut outgoing) {
                    Ok(sent) => CodeDisposition::Sent(sent),
                    Err(VerifierError::CodeRefused(refusal)) => CodeDisposition::Refused(refusal),
                    Err(other) => return Err(other),
                };
                (Some(code), Some(self.voice_offer(&session)))
            } else {
                (None, None)
            };
            if factor == LoginFactor::None {
                self.audit(
                    tx,
                    AuditKind::LoginApproved,
                    &username,
                    serde_json::json!({ "session": session.id.to_string(), "by": "opted_out", "client": client, "origin": origin }),
                )?;
            }
            Ok((
                OpenedSession {
                    session: session_id,
                    challenge,
                    push,
                    expires_at: session.expires_at,
                    factor,
                    approved: factor == LoginFactor::None,
                    opt_out_warning: state.opt_out_warning.clone().filter(|_| factor == LoginFactor::None),
                    code,
                    voice,
                },
                outgoing,
            ))
        })?;
        Ok(self.metrics.login_opened(opened))
    }

    /// A session's state.
    pub fn session_view(&self, id: &SessionId) -> Result<SessionView, VerifierError> {
        let now = self.clock.now();
        self.store.in_transaction(|tx| {
            let session = tx.session(id)?.ok_or(VerifierError::UnknownSession)?;
            let user = Self::user(tx, &session.username)?;
            Ok(SessionView {
                username: session.username.clone(),
                status: status_name(&session, now),
                decided_by: session.decided_by.clone(),
                expires_at: session.expires_at,
                password_reset_required: user.password_reset_required,
                factor: session.factor,
            })
        })
    }

    /// The phone fetches a request after a push: the signed login request.
    pub fn fetch_request(&self, signed: &Signed) -> Result<Signed, VerifierError> {
        let now = self.clock.now();
        self.store.in_transaction(|tx| {
            let (verified, enrollment) = self.open_phone_message::<FetchRequest>(tx, signed)?;
            Self::require_authenticating(&enrollment)?;
            let session = tx
                .session_by_request(&verified.message().request)?
                .filter(|s| s.enrollment == Some(enrollment.id) && s.pushed)
                .ok_or(VerifierError::UnknownRequest)?;
            if session.status != SessionStatus::Pending {
                return Err(VerifierError::AlreadyDecided);
            }
            if now >= session.push_expires_at {
                return Err(VerifierError::Expired);
            }
            let request = LoginRequest {
                request: session.request,
                app: session.app.clone(),
                client: session.client.clone(),
                origin: session.origin.clone(),
                requested_at: session.created_at,
                matching_mode: enrollment.matching_mode,
                challenge: (enrollment.matching_mode == MatchingMode::Tap)
                    .then_some(session.challenge),
            };
            self.sign(
                enrollment.id,
                enrollment.epoch,
                session.push_expires_at.saturating_sub(now),
                &request,
            )
        })
    }

    /// Counts one PIN-bound attempt of `enrollment` and verifies `response` to
    /// `challenge`, inside the caller's transaction. Refuses (uncounted) during a
    /// delay. On failure applies the reset/disable consequences and returns the
    /// error to give; on success resets the counter and stores the drift.
    pub(crate) fn count_and_verify(
        &self,
        tx: &mut dyn StoreTx,
        enrollment: &mut Enrollment,
        challenge: &Challenge,
        response: &str,
        outgoing: &mut Vec<Outgoing>,
    ) -> Result<Result<(), VerifierError>, VerifierError> {
        let now = self.clock.now();
        let limits = &self.config.limits;
        if let Some(retry_after) =
            limits.retry_after(enrollment.failures, enrollment.last_failure_at, now)
        {
            return Err(VerifierError::AttemptDelayed { retry_after });
        }
        // Counted before it is verified (in this same transaction).
        enrollment.failures += 1;
        enrollment.last_failure_at = Some(now);
        let suite: OcraSuite = enrollment
            .ocra_suite
            .parse()
            .map_err(|_| crate::store::StoreError::CorruptRow("ocra suite"))?;
        let k_user = self.k_user(enrollment)?;
        let matched = verify_response(
            &suite,
            &k_user,
            challenge,
            now,
            enrollment.drift,
            limits.drift_window_steps,
            response,
        )?;
        if let Some(drift) = matched {
            enrollment.failures = 0;
            enrollment.last_failure_at = None;
            enrollment.drift = drift;
            tx.put_enrollment(enrollment)?;
            let mut state = tx.account_state(&enrollment.username)?;
            state.last_success_at = Some(now);
            tx.put_account_state(&enrollment.username, &state)?;
            return Ok(Ok(()));
        }
        let mut user = Self::user(tx, &enrollment.username)?;
        match limits.consequence_of(enrollment.failures) {
            FailureConsequence::None => {}
            FailureConsequence::PasswordResetRequired => {
                if !user.password_reset_required {
                    user.password_reset_required = true;
                    tx.update_user(&user)?;
                }
                self.audit(
                    tx,
                    AuditKind::PasswordResetRequired,
                    &enrollment.username,
                    serde_json::json!({ "reason": "pin_failures", "failures": enrollment.failures }),
                )?;
                let text = "Too many wrong PIN attempts: your account needs a password reset before you can log in again.";
                self.queue_notice(
                    tx,
                    enrollment,
                    &Notice {
                        kind: NoticeKind::PasswordResetRequired,
                        text: text.into(),
                        new_phone: None,
                        effective_at: Some(now),
                        replacement: None,
                    },
                )?;
                outgoing.extend(Self::push_to(
                    enrollment,
                    "Latchkey: password reset required",
                    serde_json::json!({ "latchkey": "1", "notice": "password_reset_required" }),
                ));
                outgoing.extend(Self::sms(&user, &format!("Latchkey: {text}")));
                if let Ok(body) = crate::outbox::MessageText::plain(text) {
                    outgoing.push(Self::mail(&user, "Password reset required", body));
                }
            }
            FailureConsequence::Disabled => {
                enrollment.status = EnrollmentStatus::Disabled;
                self.audit(
                    tx,
                    AuditKind::EnrollmentDisabled,
                    &enrollment.username,
                    serde_json::json!({ "enrollment": enrollment.id.to_string() }),
                )?;
                let text = "Too many wrong PIN attempts: this phone is disabled for the account until it is replaced.";
                self.queue_notice(
                    tx,
                    enrollment,
                    &Notice {
                        kind: NoticeKind::Disabled,
                        text: text.into(),
                        new_phone: None,
                        effective_at: Some(now),
                        replacement: None,
                    },
                )?;
                outgoing.extend(Self::sms(&user, &format!("Latchkey: {text}")));
                if let Ok(body) = crate::outbox::MessageText::plain(text) {
                    outgoing.push(Self::mail(&user, "Authentication phone disabled", body));
                }
            }
        }
        tx.put_enrollment(enrollment)?;
        self.audit(
            tx,
            AuditKind::WrongResponse,
            &enrollment.username,
            serde_json::json!({ "enrollment": enrollment.id.to_string(), "failures": enrollment.failures }),
        )?;
        let user = Self::user(tx, &enrollment.username)?;
        Ok(Err(VerifierError::WrongResponse {
            attempts_left: limits.attempts_left(enrollment.failures),
            retry_after: limits.retry_after(enrollment.failures, enrollment.last_failure_at, now),
            password_reset_required: user.password_reset_required,
        }))
    }

    /// The phone's approval (PROTOCOL §6.2 step 4, checks in that order).
    pub fn approve(&self, signed: &Signed) -> Result<(), VerifierError> {
        let now = self.clock.now();
        let (outcome, _) = self.ceremony(|tx| {
            let (verified, mut enrollment) = self.open_phone_message::<Approval>(tx, signed)?;
            let approval = verified.message();
            let mut session = tx
                .session_by_request(&approval.request)?
                .filter(|s| s.enrollment == Some(enrollment.id) && s.pushed)
                .ok_or(VerifierError::UnknownRequest)?;
            if now >= session.push_expires_at || now >= session.expires_at {
                return Err(VerifierError::Expired);
            }
            if session.status != SessionStatus::Pending {
                return Err(VerifierError::AlreadyDecided);
            }
            Self::require_authenticating(&enrollment)?;
            let mut outgoing = Vec::new();
            if approval.typed_code != session.challenge {
                session.status = SessionStatus::Fraud;
                session.decided_at = Some(now);
                session.decided_by = Some("push".into());
                tx.put_session(&session)?;
                self.audit(
                    tx,
                    AuditKind::PossibleFraud,
                    &session.username,
                    serde_json::json!({ "session": session.id.to_string(), "reason": "typed_code_mismatch", "origin": session.origin }),
                )?;
                return Ok((Err(VerifierError::CodeMismatch), outgoing));
            }
            let verdict = self.count_and_verify(tx, &mut enrollment, &session.challenge, &approval.response, &mut outgoing)?;
            session.status = if verdict.is_ok() { SessionStatus::Approved } else { SessionStatus::Failed };
            session.decided_at = Some(now);
            session.decided_by = Some("push".into());
            tx.put_session(&session)?;
            self.audit(
                tx,
                if verdict.is_ok() { AuditKind::LoginApproved } else { AuditKind::LoginFailed },
                &session.username,
                serde_json::json!({ "session": session.id.to_string(), "by": "push" }),
            )?;
            Ok((verdict, outgoing))
        })?;
        self.metrics
            .finished(crate::metrics::Flow::LoginPush, outcome)
    }

    /// The phone's denial; "not me" reports fraud, pauses pushes and forces a
    /// password reset.
    pub fn deny(&self, signed: &Signed) -> Result<(), VerifierError> {
        let now = self.clock.now();
        self.ceremony(|tx| {
            let (verified, enrollment) = self.open_phone_message::<Denial>(tx, signed)?;
            let denial = *verified.message();
            let mut session = tx
                .session_by_request(&denial.request)?
                .filter(|s| s.enrollment == Some(enrollment.id) && s.pushed)
                .ok_or(VerifierError::UnknownRequest)?;
            if now >= session.expires_at {
                return Err(VerifierError::Expired);
            }
            if session.status != SessionStatus::Pending {
                return Err(VerifierError::AlreadyDecided);
            }
            Self::require_authenticating(&enrollment)?;
            let mut outgoing = Vec::new();
            session.decided_at = Some(now);
            session.decided_by = Some("push".into());
            if denial.reason == DenialReason::NotMe {
                session.status = SessionStatus::Fraud;
                self.report_fraud(tx, &enrollment, &session, &mut outgoing)?;
            } else {
                session.status = SessionStatus::Denied;
                self.audit(
                    tx,
                    AuditKind::LoginDenied,
                    &session.username,
                    serde_json::json!({ "session": session.id.to_string() }),
                )?;
            }
            tx.put_session(&session)?;
            Ok::<_, VerifierError>(outgoing)
        })?;
        Ok(())
    }

    /// "This wasn't me": records the report, stops pushes for 24 hours, forces a
    /// password reset, tells the user by e-mail and SMS.
    fn report_fraud(
        &self,
        tx: &mut dyn StoreTx,
        enrollment: &Enrollment,
        session: &LoginSession,
        outgoing: &mut Vec<Outgoing>,
    ) -> Result<(), VerifierError> {
        let now = self.clock.now();
        let mut state = tx.account_state(&session.username)?;
        state.push_paused_until = Some(now + self.config.limits.push_stop_after_denial_secs);
        tx.put_account_state(&session.username, &state)?;
        let mut user = Self::user(tx, &session.username)?;
        if !user.password_reset_required {
            user.password_reset_required = true;
            tx.update_user(&user)?;
        }
        // Whoever started this login may have started others: every other pending
        // session of the account ends with it (denied), whatever its second
        // factor, so none can be approved before the password reset.
        let mut ended = Vec::new();
        for mut other in tx.pending_sessions_of(&session.username, now)? {
            if other.id == session.id {
                continue;
            }
            other.status = SessionStatus::Denied;
            other.decided_at = Some(now);
            other.decided_by = Some("fraud_report".into());
            tx.put_session(&other)?;
            ended.push(other.id.to_string());
        }
        self.audit(
            tx,
            AuditKind::FraudReported,
            &session.username,
            serde_json::json!({
                "session": session.id.to_string(),
                "enrollment": enrollment.id.to_string(),
                "app": session.app,
                "client": session.client,
                "origin": session.origin,
                "requested_at": session.created_at,
                "sessions_ended": ended,
            }),
        )?;
        let text = "You reported a login you did not start. Your password must be reset, and login notifications are paused for 24 hours.";
        outgoing.extend(Self::sms(&user, &format!("Latchkey: {text}")));
        if let Ok(body) = crate::outbox::MessageText::plain(format!(
            "{text}\n\nThe login came from {} using {} at {}.",
            session.origin, session.client, session.created_at
        )) {
            outgoing.push(Self::mail(&user, "A login you reported", body));
        }
        Ok(())
    }

    /// A response typed into the login screen (the integrator passes it on).
    pub fn submit_typed_response(
        &self,
        id: &SessionId,
        response: &str,
    ) -> Result<(), VerifierError> {
        let now = self.clock.now();
        if response.len() != 8 || !response.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VerifierError::BadRequest("a response is 8 digits"));
        }
        let (outcome, _) = self.ceremony(|tx| {
            let mut session = tx.session(id)?.ok_or(VerifierError::UnknownSession)?;
            tx.lock_account(&session.username)?;
            if now >= session.expires_at {
                return Err(VerifierError::Expired);
            }
            if session.status != SessionStatus::Pending {
                return Err(VerifierError::AlreadyDecided);
            }
            let mut enrollment = Self::authenticating_enrollment(tx, &session.username)?
                .ok_or(VerifierError::NoActivePhone)?;
            Self::require_authenticating(&enrollment)?;
            let mut outgoing = Vec::new();
            let verdict = self.count_and_verify(
                tx,
                &mut enrollment,
                &session.challenge,
                response,
                &mut outgoing,
            )?;
            // One wrong typed response ends its login.
            session.status = if verdict.is_ok() {
                SessionStatus::Approved
            } else {
                SessionStatus::Failed
            };
            session.decided_at = Some(now);
            session.decided_by = Some("typed".into());
            tx.put_session(&session)?;
            self.audit(
                tx,
                if verdict.is_ok() {
                    AuditKind::LoginApproved
                } else {
                    AuditKind::LoginFailed
                },
                &session.username,
                serde_json::json!({ "session": session.id.to_string(), "by": "typed" }),
            )?;
            Ok((verdict, outgoing))
        })?;
        self.metrics
            .finished(crate::metrics::Flow::LoginTyped, outcome)
    }
}
