//! SMS and voice login codes (DESIGN §1.5 and §5, PROTOCOL §6.7) for accounts
//! whose second factor is SMS and that have no active phone.
//!
//! A login session of such an account gets a 6-digit code by SMS when it opens;
//! "Request new code" sends another by SMS or by a voice callback that reads it
//! only after the callee presses a key. Each step is one store transaction:
//!
//! - a send checks the per-account rules ([`crate::rules::sms`]: one new code per
//!   2 minutes, 5 sends per 15 minutes, the daily cap, no send while suspended),
//!   marks the account's other live codes replaced, stores the new code as an
//!   HMAC under the pepper bound to its session
//!   (`latchkey/v1/login-code` ‖ session id ‖ code), and records the send; the
//!   SMS or call goes out after the commit;
//! - a submitted code is refused uncounted while suspended, without a live code,
//!   or after the code's 5 minutes; otherwise it is **counted before it is
//!   compared** (constant time) in the same transaction. Five consecutive wrong
//!   codes per account — across sessions — suspend SMS and voice logins for an
//!   hour, burn the live codes and e-mail the user; a right code resets the run.
//!
//! Invariants: the code exists in clear only in memory between its drawing and
//! the channel (SMS text, voice call); SMS and voice are never offered while the
//! account has an active phone ([`VerifierError::PhoneActive`]); voice only to
//! clients at or above their configured minimum version.

use super::{Outgoing, Verifier, VerifierError};
use crate::outbox::{MessageText, SecretText, VoiceCall};
use crate::rules::{ClientVersion, CodeGuard, CodeRefusal, VoiceRefusal, WrongCodeOutcome};
use crate::store::{
    AuditKind, CodeChannel, LoginCode, LoginCodeState, LoginFactor, LoginSession, SessionStatus,
    StoreTx,
};
use crate::users::{PhoneNumber, SecondFactor, User};
use latchkey_core::protocol::{Challenge, SessionId};

/// The label of a login code's HMAC.
const CODE_MAC_LABEL: &[u8] = b"latchkey/v1/login-code";

/// A code that was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSent {
    /// How.
    pub channel: CodeChannel,
    /// When it stops working (5 minutes).
    pub expires_at: u64,
    /// The earliest time a new code may be requested (2 minutes).
    pub next_code_at: u64,
}

/// What happened to the code of a session that just opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeDisposition {
    /// Sent by SMS.
    Sent(CodeSent),
    /// Not sent: a send limit applies ("Request new code" later).
    Refused(CodeRefusal),
}

impl Verifier {
    /// The HMAC a login code is stored as.
    fn code_mac(&self, session: &SessionId, code: &str) -> Result<[u8; 32], VerifierError> {
        let input = [CODE_MAC_LABEL, session.as_bytes(), code.as_bytes()].concat();
        Ok(self.keys.pepper_mac(&input)?)
    }

    /// Whether voice callback is offered to the client a session names.
    pub(crate) fn voice_offer(&self, session: &LoginSession) -> Result<(), VoiceRefusal> {
        // The version was parsed when the session opened; a stored one that no
        // longer parses counts as not stated.
        let version = session
            .client_version
            .as_deref()
            .and_then(|v| v.parse::<ClientVersion>().ok());
        self.config
            .voice_min_client_versions
            .check(&session.client, version.as_ref())
    }

    /// Which second factor a login of `user` uses now: SMS only for an SMS
    /// account without an active (or disabled) phone.
    pub(crate) fn sms_applies(user: &User, has_phone: bool) -> bool {
        user.second_factor == SecondFactor::Sms && !has_phone
    }

    /// Refuses while SMS and voice logins of the account are suspended.
    pub(crate) fn require_not_suspended(
        &self,
        tx: &mut dyn StoreTx,
        username: &str,
    ) -> Result<CodeGuard, VerifierError> {
        let guard = tx.code_guard(username)?;
        match self.config.limits.code_suspension(&guard, self.clock.now()) {
            Some(until) => Err(VerifierError::CodeRefused(CodeRefusal::Suspended { until })),
            None => Ok(guard),
        }
    }

    /// Sends a new code for `session` through `channel` if the send rules allow,
    /// inside the caller's transaction. Writes nothing when it refuses.
    pub(crate) fn issue_code(
        &self,
        tx: &mut dyn StoreTx,
        user: &User,
        session: &LoginSession,
        channel: CodeChannel,
        outgoing: &mut Vec<Outgoing>,
    ) -> Result<CodeSent, VerifierError> {
        let now = self.clock.now();
        let limits = &self.config.limits;
        let username = user.username.as_str();
        let guard = tx.code_guard(username)?;
        let window = limits
            .sms_daily
            .window_secs
            .max(limits.sms_sends.window_secs);
        let sent = tx.code_sends_since(username, now.saturating_sub(window))?;
        limits
            .check_code_send(&guard, &sent, now)
            .map_err(VerifierError::CodeRefused)?;
        let code = Challenge::random()?.to_string();
        for mut old in tx.live_login_codes_of(username)? {
            if old.session != session.id {
                old.state = LoginCodeState::Replaced;
                tx.put_login_code(&old)?;
            }
        }
        let expires_at = now.saturating_add(limits.sms_code_secs);
        tx.put_login_code(&LoginCode {
            session: session.id,
            username: username.to_owned(),
            channel,
            code_mac: self.code_mac(&session.id, &code)?.to_vec(),
            sent_at: now,
            expires_at,
            state: LoginCodeState::Live,
        })?;
        tx.add_code_send(username, channel, now)?;
        self.audit(
            tx,
            AuditKind::LoginCodeSent,
            username,
            serde_json::json!({ "session": session.id.to_string(), "channel": channel.as_str() }),
        )?;
        let minutes = limits.sms_code_secs / 60;
        match channel {
            CodeChannel::Sms => {
                let text = MessageText::with_secret(
                    format!(
                        "Latchkey: your login security code is {{secret}}. It expires in \
                         {minutes} minutes. Never share it."
                    ),
                    SecretText::new(code),
                )
                .map_err(|_| VerifierError::BadRequest("SMS template"))?;
                outgoing.push(Outgoing::Sms(user.phone.clone(), text));
            }
            CodeChannel::Voice => outgoing.push(Outgoing::Voice(
                user.phone.clone(),
                VoiceCall {
                    code: SecretText::new(code),
                    press_key_first: true,
                },
            )),
        }
        Ok(CodeSent {
            channel,
            expires_at,
            next_code_at: now.saturating_add(limits.sms_resend_after_secs),
        })
    }

    /// The checks shared by requesting and submitting a code: the session is an
    /// open SMS login and the account still has no phone.
    fn open_sms_session(
        tx: &mut dyn StoreTx,
        id: &SessionId,
        now: u64,
    ) -> Result<(LoginSession, User), VerifierError> {
        let session = tx.session(id)?.ok_or(VerifierError::UnknownSession)?;
        if session.status != SessionStatus::Pending {
            return Err(VerifierError::AlreadyDecided);
        }
        if now >= session.expires_at {
            return Err(VerifierError::Expired);
        }
        let user = Self::user(tx, &session.username)?;
        let phone = Self::authenticating_enrollment(tx, &session.username)?;
        if phone.is_some() {
            return Err(VerifierError::PhoneActive);
        }
        if session.factor != LoginFactor::Sms || user.second_factor != SecondFactor::Sms {
            return Err(VerifierError::SmsNotEnabled);
        }
        if user.password_reset_required {
            return Err(VerifierError::PasswordResetRequired);
        }
        Ok((session, user))
    }

    /// "Didn't receive a security code?" — a new code for the session, by SMS or
    /// by a voice callback (voice only for clients at or above their minimum).
    pub fn request_code(
        &self,
        id: &SessionId,
        channel: CodeChannel,
    ) -> Result<CodeSent, VerifierError> {
        let now = self.clock.now();
        let (sent, _) = self.ceremony(|tx| {
            let (session, user) = Self::open_sms_session(tx, id, now)?;
            tx.lock_account(user.username.as_str())?;
            if channel == CodeChannel::Voice {
                self.voice_offer(&session)
                    .map_err(VerifierError::VoiceNotOffered)?;
            }
            let mut outgoing = Vec::new();
            let sent = self.issue_code(tx, &user, &session, channel, &mut outgoing)?;
            Ok::<_, VerifierError>((sent, outgoing))
        })?;
        Ok(self.metrics.code_requested(channel, sent))
    }

    /// A code typed into the login screen. Counted (per account) before it is
    /// compared; refused uncounted while suspended, without a live code, or after
    /// the code expired.
    pub fn submit_code(&self, id: &SessionId, code: &str) -> Result<(), VerifierError> {
        let now = self.clock.now();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VerifierError::BadRequest("a security code is 6 digits"));
        }
        let (outcome, _) = self.ceremony(|tx| {
            let (mut session, user) = Self::open_sms_session(tx, id, now)?;
            let username = user.username.as_str().to_owned();
            tx.lock_account(&username)?;
            let mut guard = self.require_not_suspended(tx, &username)?;
            let mut live = tx
                .login_code(id)?
                .filter(|c| c.state == LoginCodeState::Live)
                .ok_or(VerifierError::NoCode)?;
            if now >= live.expires_at {
                return Err(VerifierError::Expired);
            }
            // Counted before it is compared, in this transaction.
            let limits = &self.config.limits;
            let mut counted = guard;
            let outcome = limits.count_wrong_code(&mut counted, now);
            tx.put_code_guard(&username, &counted)?;
            // Constant-time comparison of the typed code's HMAC with the stored one.
            let right = self.keys.pepper_verify(
                &[CODE_MAC_LABEL, id.as_bytes(), code.as_bytes()].concat(),
                &live.code_mac,
            )?;
            let mut outgoing = Vec::new();
            if right {
                guard.wrong_codes = 0;
                tx.put_code_guard(&username, &guard)?;
                live.state = LoginCodeState::Used;
                tx.put_login_code(&live)?;
                session.status = SessionStatus::Approved;
                session.decided_at = Some(now);
                session.decided_by = Some(live.channel.as_str().to_owned());
                tx.put_session(&session)?;
                let mut state = tx.account_state(&username)?;
                state.last_success_at = Some(now);
                tx.put_account_state(&username, &state)?;
                self.audit(
                    tx,
                    AuditKind::LoginApproved,
                    &username,
                    serde_json::json!({ "session": id.to_string(), "by": live.channel.as_str() }),
                )?;
                return Ok((Ok(()), outgoing));
            }
            self.audit(
                tx,
                AuditKind::WrongLoginCode,
                &username,
                serde_json::json!({ "session": id.to_string(), "consecutive": guard.wrong_codes + 1 }),
            )?;
            let error = match outcome {
                WrongCodeOutcome::Counted { attempts_left } => VerifierError::WrongLoginCode {
                    attempts_left,
                    suspended_until: None,
                    password_reset_required: false,
                },
                WrongCodeOutcome::Suspended { until } => {
                    for mut code in tx.live_login_codes_of(&username)? {
                        code.state = LoginCodeState::Burned;
                        tx.put_login_code(&code)?;
                    }
                    self.audit(
                        tx,
                        AuditKind::SmsSuspended,
                        &username,
                        serde_json::json!({ "until": until, "wrong_codes": limits.sms_wrong_codes_before_suspension }),
                    )?;
                    // Suspensions do not simply repeat: the Nth within the window
                    // requires a password reset (PROTOCOL §8).
                    let mut state = tx.account_state(&username)?;
                    let reset = limits.suspension_requires_reset(&mut state.sms_suspensions, now);
                    tx.put_account_state(&username, &state)?;
                    let mut text = format!(
                        "{} wrong security codes were typed for your account. SMS and voice \
                         logins are suspended for {} minutes.",
                        limits.sms_wrong_codes_before_suspension,
                        limits.sms_suspension_secs / 60
                    );
                    if reset {
                        let mut user = user.clone();
                        if !user.password_reset_required {
                            user.password_reset_required = true;
                            tx.update_user(&user)?;
                        }
                        self.audit(
                            tx,
                            AuditKind::PasswordResetRequired,
                            &username,
                            serde_json::json!({ "reason": "sms_suspensions", "suspensions": state.sms_suspensions.len() }),
                        )?;
                        text.push_str(&format!(
                            " This happened {} times within {} hours: your password must be reset \
                             before you can log in again.",
                            state.sms_suspensions.len(),
                            limits.sms_suspension_window_secs / 3600
                        ));
                    } else {
                        text.push_str(" If this was not you, change your password.");
                    }
                    if let Ok(body) = MessageText::plain(text) {
                        outgoing.push(Self::mail(&user, "SMS and voice logins suspended", body));
                    }
                    VerifierError::WrongLoginCode {
                        attempts_left: 0,
                        suspended_until: Some(until),
                        password_reset_required: reset,
                    }
                }
            };
            Ok((Err(error), outgoing))
        })?;
        self.code_login_finished(id, outcome)
    }

    /// Burns the account's live codes (a phone-number change: they went to the
    /// old number), in the caller's transaction.
    pub(crate) fn burn_live_codes(
        tx: &mut dyn StoreTx,
        username: &str,
    ) -> Result<(), VerifierError> {
        for mut code in tx.live_login_codes_of(username)? {
            code.state = LoginCodeState::Burned;
            tx.put_login_code(&code)?;
        }
        Ok(())
    }

    /// A phone number for messages about a change (the old number).
    pub(crate) fn sms_to(to: &PhoneNumber, text: &str) -> Option<Outgoing> {
        MessageText::plain(text)
            .ok()
            .map(|t| Outgoing::Sms(to.clone(), t))
    }
}
