//! Logins: the push (PROTOCOL §6.2) — validate the opaque handle, fetch and
//! check the signed request, approve with the typed code and the PIN or
//! biometric, or deny — and the offline challenge/response (§6.3).
//!
//! Invariants: a push payload is only an opaque handle, and the notification
//! text is generic; nothing about a login is shown before the signed request
//! passed every check of §5 (and a `tap` request for a `code` enrollment is
//! refused: the receipt fixed the policy); the response is computed with the
//! clock corrected by the learnt offset; history entries never hold a response.

use super::error::AuthenticatorError;
use super::{Authenticator, CachedRequest, Unlock, wire};
use crate::device::history::HistoryEvent;
use crate::device::store::{Account, AccountId, AccountState, MatchingMode};
use crate::protocol::envelope::open_server;
use crate::protocol::keys::compute_response;
use crate::protocol::{
    Approval, Challenge, Denial, DenialReason, FetchRequest, LoginRequest, ProtocolError, RequestId,
};
use std::collections::HashMap;

/// The only text a login push shows (the payload carries no detail).
pub const PUSH_ALERT_TEXT: &str = "Login request — open Latchkey to review";

/// The warning the Authenticate screen shows with every generated response.
pub const CHALLENGE_WARNING: &str = "Only enter a challenge shown on your own login screen. \
Never read a code to, or take one from, someone who calls you.";

/// The largest push payload read, in bytes.
const MAX_PUSH_PAYLOAD: usize = 4096;

/// What to show for a push: a generic alert, and the handle to open when the
/// user taps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAlert {
    /// The login request's handle (for [`Authenticator::pending_request`]).
    pub request: RequestId,
    /// The alert's title.
    pub title: String,
    /// The alert's text: [`PUSH_ALERT_TEXT`].
    pub body: String,
}

/// A login request, fetched and checked: what the approval screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingApproval {
    /// The request's handle.
    pub request: RequestId,
    /// The account it is for.
    pub account: AccountId,
    /// The account's label.
    pub account_label: String,
    /// Which application asks ("Client Portal").
    pub app: String,
    /// The client as it described itself.
    pub client: String,
    /// Where the login comes from.
    pub origin: String,
    /// When the login started (Unix seconds, server time).
    pub requested_at: u64,
    /// The matching mode.
    pub matching_mode: MatchingMode,
    /// When the request can no longer be answered (Unix seconds, server time).
    pub expires_at: u64,
    /// Whether the user must type the code shown on the login screen (`code`
    /// mode); in `tap` mode one confirmation is enough.
    pub needs_typed_code: bool,
}

/// A generated challenge response, with the warning the shell must show.
#[derive(Clone, PartialEq, Eq)]
pub struct ChallengeResponse {
    /// The 8 digits to type into the login screen.
    pub response: String,
    /// [`CHALLENGE_WARNING`].
    pub warning: String,
}

impl std::fmt::Debug for ChallengeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A response is a short-lived credential: shown to its user, never logged.
        f.debug_struct("ChallengeResponse")
            .field("response", &"[redacted]")
            .field("warning", &self.warning)
            .finish()
    }
}

fn pending_approval(account: &Account, cached: &CachedRequest) -> PendingApproval {
    let request = &cached.request;
    PendingApproval {
        request: request.request,
        account: account.id,
        account_label: account.label.clone(),
        app: request.app.clone(),
        client: request.client.clone(),
        origin: request.origin.clone(),
        requested_at: request.requested_at,
        matching_mode: request.matching_mode,
        expires_at: cached.expires_at,
        needs_typed_code: request.matching_mode == MatchingMode::Code,
    }
}

fn parse_handle(text: &str) -> Result<RequestId, AuthenticatorError> {
    text.parse()
        .map_err(|_| AuthenticatorError::BadInput("the request handle is malformed".to_owned()))
}

impl Authenticator {
    /// Reads a push's data (FCM data map, APNs user info as strings): it must be
    /// exactly `latchkey = "1"` and `request = <32 lowercase hex>` (other keys,
    /// such as the platform's own, are ignored). Returns the generic alert to
    /// show. A malformed payload is [`AuthenticatorError::BadInput`]; with no
    /// account that could answer, [`AuthenticatorError::UnknownRequest`]. No
    /// network, no state change.
    pub fn handle_push(
        &self,
        data: &HashMap<String, String>,
    ) -> Result<PushAlert, AuthenticatorError> {
        let bad = || AuthenticatorError::BadInput("the push payload is not Latchkey's".to_owned());
        let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_PUSH_PAYLOAD || data.get("latchkey").map(String::as_str) != Some("1") {
            return Err(bad());
        }
        let request: RequestId = data
            .get("request")
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        let any_usable = self.store().accounts()?.iter().any(|a| {
            matches!(
                a.state,
                AccountState::Active | AccountState::Locked | AccountState::Disabled
            )
        });
        if !any_usable {
            return Err(AuthenticatorError::UnknownRequest);
        }
        tracing::info!(%request, "login push");
        Ok(PushAlert {
            request,
            title: "Latchkey".to_owned(),
            body: PUSH_ALERT_TEXT.to_owned(),
        })
    }

    /// [`Authenticator::handle_push`] for a payload as JSON text (an object
    /// whose `latchkey` and `request` members are strings).
    pub fn handle_push_json(&self, json: &str) -> Result<PushAlert, AuthenticatorError> {
        let bad = || AuthenticatorError::BadInput("the push payload is not Latchkey's".to_owned());
        if json.len() > MAX_PUSH_PAYLOAD {
            return Err(bad());
        }
        let value: serde_json::Value = serde_json::from_str(json).map_err(|_| bad())?;
        let object = value.as_object().ok_or_else(bad)?;
        let mut data = HashMap::new();
        for key in ["latchkey", "request"] {
            if let Some(member) = object.get(key) {
                data.insert(key.to_owned(), member.as_str().ok_or_else(bad)?.to_owned());
            }
        }
        self.handle_push(&data)
    }

    /// Fetches the login request behind a push handle from each account on this
    /// phone until one server knows it (the handle does not say which account),
    /// and checks it fully — signature under the pinned key, server,
    /// enrollment, epoch, expiry — before returning what the approval screen
    /// shows. A `tap` request for a `code` enrollment is refused.
    pub fn pending_request(&self, handle: &str) -> Result<PendingApproval, AuthenticatorError> {
        let id = parse_handle(handle)?;
        let accounts: Vec<Account> = self
            .store()
            .accounts()?
            .into_iter()
            .filter(|a| {
                matches!(
                    a.state,
                    AccountState::Active | AccountState::Locked | AccountState::Disabled
                )
            })
            .collect();
        let mut offline = false;
        let mut first_error = None;
        for account in &accounts {
            match self.fetch_request(account, id) {
                Ok(pending) => return Ok(pending),
                Err(AuthenticatorError::UnknownRequest) => {}
                Err(AuthenticatorError::Offline) => offline = true,
                Err(error) => {
                    tracing::info!(account = %account.id, %error, "fetching the request failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.unwrap_or(if offline {
            AuthenticatorError::Offline
        } else {
            AuthenticatorError::UnknownRequest
        }))
    }

    fn fetch_request(
        &self,
        account: &Account,
        id: RequestId,
    ) -> Result<PendingApproval, AuthenticatorError> {
        let reply = self.send(account, wire::REQUEST, &FetchRequest { request: id })?;
        let signed = self.envelope(account, reply)?;
        let verified = open_server::<LoginRequest>(
            &signed,
            account.server_profile.public_key(),
            &self.expectation(account),
        )?;
        let expires_at = verified.header().expires_at;
        let request = verified.into_message();
        if request.request != id {
            return Err(ProtocolError::BadField("request id").into());
        }
        if request.matching_mode == MatchingMode::Tap && account.matching_mode == MatchingMode::Code
        {
            tracing::warn!(account = %account.id, "a tap request for a code enrollment was refused");
            return Err(
                ProtocolError::BadField("matching mode (weaker than the receipt's)").into(),
            );
        }
        let cached = CachedRequest {
            account: account.id,
            request,
            expires_at,
        };
        let pending = pending_approval(account, &cached);
        let now = self.now_for(account);
        let mut session = self.session();
        session.requests.retain(|_, kept| kept.expires_at > now);
        session.requests.insert(id, cached);
        Ok(pending)
    }

    /// The checked request behind a handle: from this session, or fetched anew.
    fn checked_request(
        &self,
        handle: &str,
    ) -> Result<(Account, CachedRequest), AuthenticatorError> {
        let id = parse_handle(handle)?;
        let cached = self.session().requests.get(&id).cloned();
        let cached = match cached {
            Some(cached) => cached,
            None => {
                self.pending_request(handle)?;
                self.session()
                    .requests
                    .get(&id)
                    .cloned()
                    .ok_or(AuthenticatorError::UnknownRequest)?
            }
        };
        let account = self.usable_account(cached.account)?;
        if self.now_for(&account) >= cached.expires_at {
            self.session().requests.remove(&id);
            return Err(AuthenticatorError::Expired);
        }
        Ok((account, cached))
    }

    /// Approves a login: `typed_code` is the 6-digit code the user read off the
    /// login screen (`code` mode; in `tap` mode pass `None`, the signed request
    /// carries it), and `unlock` the PIN or the biometric prompt. Sends the OCRA
    /// response to the code under `k_user`. Errors say what the server decided:
    /// a wrong PIN ([`AuthenticatorError::WrongResponse`] with attempts left),
    /// [`AuthenticatorError::CodeMismatch`], a delay, a lockout, expiry…
    pub fn approve(
        &self,
        handle: &str,
        typed_code: Option<&str>,
        unlock: Unlock,
    ) -> Result<(), AuthenticatorError> {
        let (account, cached) = self.checked_request(handle)?;
        let request = &cached.request;
        let code: Challenge = match (request.matching_mode, request.challenge, typed_code) {
            (MatchingMode::Tap, Some(challenge), None) => challenge,
            (MatchingMode::Tap, Some(challenge), Some(typed)) => {
                if typed.parse::<Challenge>().ok() != Some(challenge) {
                    return Err(AuthenticatorError::BadInput(
                        "the code differs from the request's".to_owned(),
                    ));
                }
                challenge
            }
            (_, _, Some(typed)) => typed.parse()?,
            (_, _, None) => {
                return Err(AuthenticatorError::BadInput(
                    "type the 6-digit code shown on the login screen".to_owned(),
                ));
            }
        };
        let k_user = self.k_user(&account, &unlock)?;
        drop(unlock);
        let response =
            compute_response(&account.ocra_suite, &k_user, &code, self.now_for(&account))?;
        drop(k_user);
        let approval = Approval {
            request: request.request,
            typed_code: code,
            response: response.as_str().to_owned(),
        };
        let reply = self.send(&account, wire::APPROVE, &approval)?;
        self.outcome(&account, reply)?;
        self.session().requests.remove(&request.request);
        tracing::info!(account = %account.id, request = %request.request, "approved");
        self.record(
            &account,
            HistoryEvent::Approved,
            Some(request.request),
            format!("{} — {} — {}", request.app, request.client, request.origin),
        );
        Ok(())
    }

    /// Denies a login; [`DenialReason::NotMe`] reports it as fraud (the server
    /// stops pushes for a day and requires a password reset). Needs no PIN.
    pub fn deny(&self, handle: &str, reason: DenialReason) -> Result<(), AuthenticatorError> {
        let (account, cached) = self.checked_request(handle)?;
        let request = &cached.request;
        let reply = self.send(
            &account,
            wire::DENY,
            &Denial {
                request: request.request,
                reason,
            },
        )?;
        self.outcome(&account, reply)?;
        self.session().requests.remove(&request.request);
        tracing::info!(account = %account.id, request = %request.request, ?reason, "denied");
        self.record(
            &account,
            match reason {
                DenialReason::NotMe => HistoryEvent::ReportedFraud,
                _ => HistoryEvent::Denied,
            },
            Some(request.request),
            format!("{} — {} — {}", request.app, request.client, request.origin),
        );
        Ok(())
    }

    /// The offline login (PROTOCOL §6.3): the 8-digit response to a challenge
    /// read off the user's own login screen, computed with `k_user` at this
    /// phone's clock corrected by the offset learnt from signed server time.
    /// Needs no network. Refuses a challenge that is not six digits from 100000
    /// to 999999. The shell shows the returned warning with the response.
    pub fn respond_to_challenge(
        &self,
        account: AccountId,
        challenge: &str,
        unlock: Unlock,
    ) -> Result<ChallengeResponse, AuthenticatorError> {
        let account = self.usable_account(account)?;
        let challenge: Challenge = challenge.parse()?;
        let k_user = self.k_user(&account, &unlock)?;
        drop(unlock);
        let response = compute_response(
            &account.ocra_suite,
            &k_user,
            &challenge,
            self.now_for(&account),
        )?;
        drop(k_user);
        self.record(
            &account,
            HistoryEvent::ResponseGenerated,
            None,
            "Response to a login challenge".to_owned(),
        );
        Ok(ChallengeResponse {
            response: response.as_str().to_owned(),
            warning: CHALLENGE_WARNING.to_owned(),
        })
    }
}

// This flow's tests run against the real verifier: the journeys crate's
// tests/journeys/phone/login.rs (ARCHITECTURE.md "Test support").
