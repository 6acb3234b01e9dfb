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

#[cfg(test)]
mod tests {
    use super::super::fake_server::{FakeServer, PIN, Phone};
    use super::*;
    use crate::device::transport::TransportError;
    use crate::protocol::{EnrollmentId, ServerHeader};

    fn push(request: &str) -> HashMap<String, String> {
        HashMap::from([
            ("latchkey".to_owned(), "1".to_owned()),
            ("request".to_owned(), request.to_owned()),
        ])
    }

    #[test]
    fn a_push_is_an_opaque_handle_and_the_alert_is_generic() {
        let phone = Phone::new();
        phone.activated("alice");
        let (request, _) = phone.server.open_login("alice", MatchingMode::Code);
        let alert = phone
            .authenticator
            .handle_push(&push(&request.to_string()))
            .unwrap();
        assert_eq!(alert.request, request);
        assert_eq!(alert.body, "Login request — open Latchkey to review");
        let json = format!(r#"{{"latchkey":"1","request":"{request}","aps":{{"alert":"x"}}}}"#);
        assert_eq!(phone.authenticator.handle_push_json(&json).unwrap(), alert);
        assert!(
            phone.transport.requests().len() == 1,
            "no network for a push"
        );
    }

    #[test]
    fn a_malformed_push_is_a_typed_error_and_nothing_else_happens() {
        let phone = Phone::new();
        phone.activated("alice");
        let before = phone.transport.requests().len();
        let good = "00112233445566778899aabbccddeeff";
        for data in [
            push("00112233445566778899AABBCCDDEEFF"),
            push("0011"),
            push("../../v1/phone/remove"),
            HashMap::from([
                ("latchkey".to_owned(), "2".to_owned()),
                ("request".to_owned(), good.to_owned()),
            ]),
            HashMap::from([("request".to_owned(), good.to_owned())]),
            HashMap::new(),
        ] {
            assert!(
                matches!(
                    phone.authenticator.handle_push(&data),
                    Err(AuthenticatorError::BadInput(_))
                ),
                "{data:?}"
            );
        }
        for json in ["[]", "{\"latchkey\":1,\"request\":\"x\"}", "not json", "{}"] {
            assert!(matches!(
                phone.authenticator.handle_push_json(json),
                Err(AuthenticatorError::BadInput(_))
            ));
        }
        assert_eq!(phone.transport.requests().len(), before);
        assert_eq!(phone.authenticator.history().unwrap().len(), 1);
    }

    #[test]
    fn approving_with_the_pin_sends_a_response_the_server_verifies() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        let (request, challenge) = phone.server.open_login("alice", MatchingMode::Code);
        let pending = phone
            .authenticator
            .pending_request(&request.to_string())
            .unwrap();
        assert_eq!(pending.account, account);
        assert_eq!(pending.app, "Client Portal");
        assert_eq!(pending.origin, "203.0.113.7 (Zürich)");
        assert!(pending.needs_typed_code);
        assert_eq!(pending.expires_at, super::super::fake_server::T0 + 120);
        phone
            .authenticator
            .approve(
                &request.to_string(),
                Some(&challenge.to_string()),
                Unlock::pin(PIN),
            )
            .unwrap();
        let history = phone.authenticator.history().unwrap();
        let last = history.last().unwrap();
        assert_eq!(last.event, HistoryEvent::Approved);
        assert_eq!(last.request_id, Some(request));
        assert!(last.summary.contains("Client Portal"));
        // Decided once.
        assert!(matches!(
            phone.authenticator.approve(
                &request.to_string(),
                Some(&challenge.to_string()),
                Unlock::pin(PIN)
            ),
            Err(AuthenticatorError::AlreadyDecided)
        ));
    }

    #[test]
    fn a_wrong_pin_surfaces_the_attempts_left_and_then_the_delay() {
        let phone = Phone::new();
        phone.activated("alice");
        for attempt in 1..=3u64 {
            let (request, challenge) = phone.server.open_login("alice", MatchingMode::Code);
            let result = phone.authenticator.approve(
                &request.to_string(),
                Some(&challenge.to_string()),
                Unlock::pin("731904"),
            );
            match result {
                Err(AuthenticatorError::WrongResponse {
                    attempts_left,
                    retry_after,
                }) => {
                    assert_eq!(attempts_left, Some(10 - attempt));
                    assert_eq!(retry_after.is_some(), attempt >= 3);
                }
                other => panic!("{other:?}"),
            }
        }
        // During the delay the server refuses without counting; the request
        // stays answerable, and the right PIN then succeeds.
        let (request, challenge) = phone.server.open_login("alice", MatchingMode::Code);
        phone
            .authenticator
            .pending_request(&request.to_string())
            .unwrap();
        phone.transport.push_response(
            429,
            r#"{"error":{"code":"attempt_delayed","message":"wait","retry_after":1800000030}}"#,
        );
        assert!(matches!(
            phone.authenticator.approve(
                &request.to_string(),
                Some(&challenge.to_string()),
                Unlock::pin(PIN)
            ),
            Err(AuthenticatorError::Delayed {
                retry_after: Some(1_800_000_030)
            })
        ));
        phone
            .authenticator
            .approve(
                &request.to_string(),
                Some(&challenge.to_string()),
                Unlock::pin(PIN),
            )
            .unwrap();
    }

    #[test]
    fn a_code_that_is_not_the_login_screens_ends_the_login() {
        let phone = Phone::new();
        phone.activated("alice");
        let (request, challenge) = phone.server.open_login("alice", MatchingMode::Code);
        let other = if challenge.value() == 999_999 {
            100_000
        } else {
            challenge.value() + 1
        };
        assert!(matches!(
            phone.authenticator.approve(
                &request.to_string(),
                Some(&other.to_string()),
                Unlock::pin(PIN)
            ),
            Err(AuthenticatorError::CodeMismatch)
        ));
        assert!(matches!(
            phone
                .authenticator
                .approve(&request.to_string(), Some("012345"), Unlock::pin(PIN)),
            Err(AuthenticatorError::AlreadyDecided | AuthenticatorError::BadInput(_))
        ));
    }

    /// Queues a login request signed with `header`, answering the next fetch.
    fn queue_request(
        phone: &Phone,
        server: &FakeServer,
        header: ServerHeader,
        request: RequestId,
        mode: MatchingMode,
    ) {
        let signed = server.sign(
            &header,
            &LoginRequest {
                request,
                app: "Client Portal".to_owned(),
                client: "x".to_owned(),
                origin: "y".to_owned(),
                requested_at: header.issued_at,
                matching_mode: mode,
                challenge: (mode == MatchingMode::Tap).then(|| "583920".parse().unwrap()),
            },
        );
        phone.transport.push_response(200, signed.to_json());
    }

    #[test]
    fn a_login_request_is_checked_before_anything_is_shown() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        let enrollment = phone.enrollment_of(account);
        let epoch = phone.epoch_of(account);
        let request = RequestId::random().unwrap();
        let handle = request.to_string();
        let server = &phone.server;

        queue_request(
            &phone,
            &FakeServer::new(8),
            server.header(enrollment, epoch, 120),
            request,
            MatchingMode::Code,
        );
        assert!(matches!(
            phone.authenticator.pending_request(&handle),
            Err(AuthenticatorError::Protocol(ProtocolError::BadSignature))
        ));
        let mut other_server = server.header(enrollment, epoch, 120);
        other_server.server = FakeServer::new(8).profile().fingerprint();
        queue_request(&phone, server, other_server, request, MatchingMode::Code);
        assert!(matches!(
            phone.authenticator.pending_request(&handle),
            Err(AuthenticatorError::Protocol(ProtocolError::WrongServer))
        ));
        queue_request(
            &phone,
            server,
            server.header(EnrollmentId::from_bytes([5; 16]), epoch, 120),
            request,
            MatchingMode::Code,
        );
        assert!(matches!(
            phone.authenticator.pending_request(&handle),
            Err(AuthenticatorError::Protocol(ProtocolError::WrongEnrollment))
        ));
        queue_request(
            &phone,
            server,
            server.header(enrollment, epoch + 1, 120),
            request,
            MatchingMode::Code,
        );
        assert!(matches!(
            phone.authenticator.pending_request(&handle),
            Err(AuthenticatorError::Protocol(
                ProtocolError::WrongEpoch { .. }
            ))
        ));
        let mut expired = server.header(enrollment, epoch, 120);
        expired.issued_at -= 300;
        expired.expires_at -= 300;
        queue_request(&phone, server, expired, request, MatchingMode::Code);
        assert!(matches!(
            phone.authenticator.pending_request(&handle),
            Err(AuthenticatorError::Expired)
        ));
        queue_request(
            &phone,
            server,
            server.header(enrollment, epoch, 120),
            request,
            MatchingMode::Tap,
        );
        assert!(matches!(
            phone.authenticator.pending_request(&handle),
            Err(AuthenticatorError::Protocol(ProtocolError::BadField(_)))
        ));
        queue_request(
            &phone,
            server,
            server.header(enrollment, epoch, 120),
            RequestId::random().unwrap(),
            MatchingMode::Code,
        );
        assert!(matches!(
            phone.authenticator.pending_request(&handle),
            Err(AuthenticatorError::Protocol(ProtocolError::BadField(
                "request id"
            )))
        ));
        // A forged handle: the server does not know it.
        assert!(matches!(
            phone.authenticator.pending_request(&handle),
            Err(AuthenticatorError::UnknownRequest)
        ));
        assert!(phone.authenticator.session().requests.is_empty());
    }

    #[test]
    fn a_signed_login_request_with_bidi_or_zero_width_text_is_refused_before_it_is_shown() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        let enrollment = phone.enrollment_of(account);
        let epoch = phone.epoch_of(account);
        let server = &phone.server;
        // Correctly signed by the pinned server, but the origin would render as
        // "203.0.113.7 London" reversed past the override, and the client hides a
        // zero-width joiner.
        for (app, client, origin) in [
            ("Client Portal", "Firefox", "203.0.113.7 \u{202E}nodnoL"),
            ("Client Portal", "Fire\u{200D}fox", "203.0.113.7"),
            ("\u{2067}Client Portal\u{2069}", "Firefox", "203.0.113.7"),
        ] {
            let request = RequestId::random().unwrap();
            let header = server.header(enrollment, epoch, 120);
            let signed = server.sign(
                &header,
                &LoginRequest {
                    request,
                    app: app.to_owned(),
                    client: client.to_owned(),
                    origin: origin.to_owned(),
                    requested_at: header.issued_at,
                    matching_mode: MatchingMode::Code,
                    challenge: None,
                },
            );
            phone.transport.push_response(200, signed.to_json());
            assert!(
                matches!(
                    phone.authenticator.pending_request(&request.to_string()),
                    Err(AuthenticatorError::Protocol(ProtocolError::UnsafeText(_)))
                ),
                "{app} / {client} / {origin}"
            );
        }
        assert!(phone.authenticator.session().requests.is_empty());
    }

    #[test]
    fn an_expired_request_is_refused_before_any_pin_is_asked() {
        let phone = Phone::new();
        phone.activated("alice");
        let (request, challenge) = phone.server.open_login("alice", MatchingMode::Code);
        phone
            .authenticator
            .pending_request(&request.to_string())
            .unwrap();
        phone.clock.advance(121);
        phone
            .biometrics
            .set_outcome(crate::device::SimulatedOutcome::Accept);
        assert!(matches!(
            phone.authenticator.approve(
                &request.to_string(),
                Some(&challenge.to_string()),
                Unlock::biometric("Approve?")
            ),
            Err(AuthenticatorError::Expired)
        ));
        assert!(phone.biometrics.prompts_shown().is_empty());
    }

    #[test]
    fn denying_as_not_me_is_recorded_as_reported_fraud() {
        let phone = Phone::new();
        phone.activated("alice");
        let (request, _) = phone.server.open_login("alice", MatchingMode::Code);
        phone
            .authenticator
            .deny(&request.to_string(), DenialReason::NotMe)
            .unwrap();
        let history = phone.authenticator.history().unwrap();
        assert_eq!(history.last().unwrap().event, HistoryEvent::ReportedFraud);
        let (request, _) = phone.server.open_login("alice", MatchingMode::Code);
        phone
            .authenticator
            .deny(&request.to_string(), DenialReason::Declined)
            .unwrap();
        assert_eq!(
            phone.authenticator.history().unwrap().last().unwrap().event,
            HistoryEvent::Denied
        );
    }

    #[test]
    fn the_request_is_found_on_whichever_account_knows_it() {
        let phone = Phone::new();
        let (alice, _) = phone.activated("alice");
        let (bob, _) = phone.activated("bob");
        assert_ne!(alice, bob);
        let (request, challenge) = phone.server.open_login("bob", MatchingMode::Code);
        let pending = phone
            .authenticator
            .pending_request(&request.to_string())
            .unwrap();
        assert_eq!(pending.account, bob);
        phone
            .authenticator
            .approve(
                &request.to_string(),
                Some(&challenge.to_string()),
                Unlock::pin(PIN),
            )
            .unwrap();
    }

    #[test]
    fn challenge_response_works_offline_and_refuses_bad_challenges() {
        let phone = Phone::new();
        let (account, _) = phone.activated("alice");
        phone
            .server
            .offline
            .store(true, std::sync::atomic::Ordering::SeqCst);
        phone.transport.push_error(TransportError::Offline);
        let before = phone.transport.requests().len();
        let generated = phone
            .authenticator
            .respond_to_challenge(account, "583920", Unlock::pin(PIN))
            .unwrap();
        assert_eq!(generated.response.len(), 8);
        assert!(generated.response.bytes().all(|b| b.is_ascii_digit()));
        assert!(generated.warning.contains("own login screen"));
        assert!(!format!("{generated:?}").contains(&generated.response));
        assert_eq!(
            phone.transport.requests().len(),
            before,
            "no request at all"
        );
        for bad in ["099999", "1000000", "12345", "12345a", ""] {
            assert!(matches!(
                phone
                    .authenticator
                    .respond_to_challenge(account, bad, Unlock::pin(PIN)),
                Err(AuthenticatorError::BadInput(_))
            ));
        }
        assert_eq!(
            phone.authenticator.history().unwrap().last().unwrap().event,
            HistoryEvent::ResponseGenerated
        );
        // Online things fail as offline, and nothing is wiped.
        let (request, _) = phone.server.open_login("alice", MatchingMode::Code);
        assert!(matches!(
            phone.authenticator.pending_request(&request.to_string()),
            Err(AuthenticatorError::Offline)
        ));
    }
}
