//! Account-level state the integrator and the reference login show (opt-out,
//! the SMS suspension), and changing the verified phone number — which counts as
//! binding a new authenticator (DESIGN §1.7, PROTOCOL §6.8).
//!
//! Invariants: an account with an active phone changes its number only after a
//! fresh PIN proof from that phone (`ChangePhoneNumber`, spent by the change);
//! the old number, the e-mail address and the phone (a signed notice) are told;
//! live SMS/voice codes, which went to the old number, are burned; the change is
//! audited with masked numbers.

use super::{Outgoing, Verifier, VerifierError};
use crate::store::{AuditKind, EnrollmentStatus, StoreExt};
use crate::users::{PhoneNumber, User};
use latchkey_core::protocol::{Notice, NoticeKind};

/// The warning recorded (and shown) when an account opts out of 2FA.
pub const OPT_OUT_WARNING: &str = "Without two-factor authentication, anyone who learns the \
     password can log in to this account and trade; a phone or SMS code no longer protects it.";

/// An account's two-factor state, as the integrator and the login screen see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorState {
    /// The account opted out, and its policy allows that: logins need no second factor.
    pub opted_out: bool,
    /// When it opted out, if it did.
    pub opted_out_at: Option<u64>,
    /// The warning recorded when it opted out.
    pub opt_out_warning: Option<String>,
    /// The account has an active phone.
    pub active_phone: bool,
    /// SMS and voice logins are suspended until then (5 wrong codes).
    pub sms_suspended_until: Option<u64>,
}

impl TwoFactorState {
    /// `on` or `opted_out`.
    pub fn name(&self) -> &'static str {
        if self.opted_out { "opted_out" } else { "on" }
    }
}

impl Verifier {
    /// The account's two-factor state.
    pub fn two_factor_state(&self, username: &str) -> Result<TwoFactorState, VerifierError> {
        let now = self.clock.now();
        self.store.in_transaction(|tx| {
            let user = Self::user(tx, username)?;
            let username = user.username.as_str();
            let state = tx.account_state(username)?;
            let policy = self.policy.for_jurisdiction(&user.jurisdiction);
            let guard = tx.code_guard(username)?;
            let active_phone = Self::authenticating_enrollment(tx, username)?
                .is_some_and(|e| e.status == EnrollmentStatus::Active);
            Ok(TwoFactorState {
                opted_out: state.opted_out && policy.may_opt_out(),
                opted_out_at: state.opt_out_warned_at.filter(|_| state.opted_out),
                opt_out_warning: state.opt_out_warning.filter(|_| state.opted_out),
                active_phone,
                sms_suspended_until: self.config.limits.code_suspension(&guard, now),
            })
        })
    }

    /// Changes the account's verified phone number (the integrator verified the
    /// new number itself). With an active phone, a PIN proof authorising the
    /// change must have arrived in the last 5 minutes; it is spent here.
    pub fn change_phone_number(
        &self,
        username: &str,
        new: PhoneNumber,
    ) -> Result<User, VerifierError> {
        let now = self.clock.now();
        let (user, _) = self.ceremony(|tx| {
            let mut user = Self::user(tx, username)?;
            let username = user.username.as_str().to_owned();
            tx.lock_account(&username)?;
            if user.phone == new {
                return Err(VerifierError::BadRequest(
                    "this is already the account's verified number",
                ));
            }
            let phone = Self::authenticating_enrollment(tx, &username)?;
            let stepped_up = match &phone {
                Some(e) if e.status == EnrollmentStatus::Disabled => {
                    return Err(VerifierError::EnrollmentDisabled);
                }
                Some(_) => {
                    let mut state = tx.account_state(&username)?;
                    if state.phone_change_authorised_until.is_none_or(|t| now >= t) {
                        return Err(VerifierError::StepUpRequired);
                    }
                    state.phone_change_authorised_until = None;
                    tx.put_account_state(&username, &state)?;
                    true
                }
                None => false,
            };
            let old = std::mem::replace(&mut user.phone, new.clone());
            tx.update_user(&user)?;
            Self::burn_live_codes(tx, &username)?;
            self.audit(
                tx,
                AuditKind::PhoneNumberChanged,
                &username,
                serde_json::json!({ "old": old.masked(), "new": new.masked(), "pin_proof": stepped_up }),
            )?;
            let text = format!(
                "The verified phone number of your account was changed from {} to {}. If this \
                 was not you, contact support and change your password.",
                old.masked(),
                new.masked()
            );
            let mut outgoing: Vec<Outgoing> = Vec::new();
            outgoing.extend(Self::sms_to(&old, &format!("Latchkey: {text}")));
            if let Ok(body) = crate::outbox::MessageText::plain(text.clone()) {
                outgoing.push(Self::mail(&user, "Your verified phone number was changed", body));
            }
            if let Some(phone) = phone {
                // No notice kind names a number change; it counts as binding a new
                // authenticator, so the phone hears it as one (ActivationStarted),
                // signed, with the text.
                self.queue_notice(
                    tx,
                    &phone,
                    &Notice {
                        kind: NoticeKind::ActivationStarted,
                        text,
                        new_phone: None,
                        effective_at: Some(now),
                        replacement: None,
                    },
                )?;
                outgoing.extend(Self::push_to(
                    &phone,
                    "Latchkey: your verified phone number was changed",
                    serde_json::json!({ "latchkey": "1", "notice": "phone_number_changed" }),
                ));
            }
            Ok::<_, VerifierError>((user, outgoing))
        })?;
        Ok(user)
    }
}
