//! A small, honest fake of the verifier for the authenticator's tests, built
//! from the real protocol functions: it signs with an Ed25519 key
//! (`sign_server`), checks what the phone sent (`open_device`), decrypts the
//! activation and PIN-change secrets (`open_secret`) and verifies OCRA responses
//! (`verify_response`). It answers through [`ScriptedTransport::with_handler`];
//! tests queue forged answers in front of it with `push_response`.
//!
//! It is not the server (the lead's `server/` crate is): it keeps only what the
//! phone's flows need, and its HTTP shapes are the ones the phone assumes.

use super::wire;
use super::{Authenticator, AuthenticatorConfig};
use crate::clock::{Clock, ManualClock};
use crate::device::keystore::PlatformKeystore;
use crate::device::software_keystore::{SimulatedBiometrics, SoftwareKeystore};
use crate::device::store::AccountId;
use crate::device::transport::{
    ScriptedTransport, Transport, TransportError, TransportRequest, TransportResponse,
};
use crate::protocol::envelope::{
    open_device, peek_device_header, peek_device_unverified, sign_server,
};
use crate::protocol::keys::{LATCHKEY_SUITE, verify_response};
use crate::protocol::secrets::{TicketSecretKey, hpke_info, new_ticket_key, open_secret};
use crate::protocol::{
    ActivationReceipt, ActivationRequest, ActivationSecret, ActivationTicket, Approval, Challenge,
    Denial, DeviceExpectation, DevicePublicKey, EnrollmentId, EnrollmentLimits, EnrollmentState,
    FetchRequest, LoginRequest, MatchingMode, Message, Notice, NoticeKind, PinChange,
    PinChangeSecret, PinProof, Platform, ProofAction, ProofChallenge, ProofId, RekeyRequest,
    RekeyTicket, Removal, ReplacementId, RequestId, ServerHeader, ServerProfile, ServerPublicKey,
    Signed, SyncAnswer, SyncRequest, TicketId,
};
use crate::secret::SecretBytes;
use ring::signature::{Ed25519KeyPair, KeyPair};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The phone's clock at the start of every test.
pub const T0: u64 = 1_800_000_000;
/// The PIN every test phone is activated with.
pub const PIN: &str = "402917";

struct Ticket {
    secret: TicketSecretKey,
    enrollment: EnrollmentId,
    account: String,
    code: String,
    replacing: bool,
    held: bool,
    modes: Vec<MatchingMode>,
}

/// One enrollment as the fake keeps it.
pub struct Enrollment {
    pub account: String,
    pub device_key: DevicePublicKey,
    /// 0 until active.
    pub epoch: u64,
    pub k_user: SecretBytes,
    pub mode: MatchingMode,
    pub state: EnrollmentState,
    pub failures: u64,
    pub notices: Vec<Signed>,
    /// A receipt the phone has not picked up yet (a completed replacement).
    pub undelivered_receipt: bool,
    pub push_token: Option<String>,
    pub device_name: String,
    pub last_secret: Option<ActivationSecret>,
}

struct Login {
    enrollment: EnrollmentId,
    challenge: Challenge,
    mode: MatchingMode,
    expires_at: u64,
    decided: bool,
}

struct Replacement {
    account: String,
    old: EnrollmentId,
    new: EnrollmentId,
}

#[derive(Default)]
struct State {
    tickets: HashMap<TicketId, Ticket>,
    rekeys: HashMap<TicketId, (TicketSecretKey, EnrollmentId)>,
    enrollments: HashMap<EnrollmentId, Enrollment>,
    /// Account name → (epoch, active enrollment).
    accounts: HashMap<String, (u64, Option<EnrollmentId>)>,
    logins: HashMap<RequestId, Login>,
    proofs: HashMap<ProofId, (EnrollmentId, Challenge, u64)>,
    replacements: HashMap<ReplacementId, Replacement>,
    /// The proof actions accepted, in order.
    proofs_accepted: Vec<ProofAction>,
}

/// The fake verifier.
pub struct FakeServer {
    key: Ed25519KeyPair,
    profile: ServerProfile,
    /// The server's own clock (tests move it apart from the phone's).
    pub clock: ManualClock,
    /// While set, every request finds the phone offline.
    pub offline: AtomicBool,
    state: Mutex<State>,
}

fn json(status: u16, value: serde_json::Value) -> Result<TransportResponse, TransportError> {
    Ok(TransportResponse {
        status,
        body: value.to_string().into_bytes(),
    })
}

fn error(status: u16, code: &str) -> Result<TransportResponse, TransportError> {
    json(
        status,
        serde_json::json!({"error": {"code": code, "message": code.replace('_', " ")}}),
    )
}

fn envelope(signed: &Signed) -> Result<TransportResponse, TransportError> {
    Ok(TransportResponse {
        status: 200,
        body: signed.to_json().into_bytes(),
    })
}

impl FakeServer {
    /// A server whose Ed25519 key comes from `seed`, with its clock at `T0`.
    pub fn new(seed: u8) -> Arc<Self> {
        let key = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap();
        let public = ServerPublicKey::from_slice(key.public_key().as_ref()).unwrap();
        let profile = ServerProfile::new("https://latchkey.test", public).unwrap();
        Arc::new(Self {
            key,
            profile,
            clock: ManualClock::new(T0),
            offline: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        })
    }

    pub fn profile(&self) -> ServerProfile {
        self.profile.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A header naming this server, valid `ttl` seconds from the server's now.
    pub fn header(&self, enrollment: EnrollmentId, epoch: u64, ttl: u64) -> ServerHeader {
        let now = self.clock.now();
        ServerHeader {
            server: self.profile.fingerprint(),
            enrollment,
            epoch,
            issued_at: now,
            expires_at: now + ttl,
        }
    }

    /// Signs a message with the server key.
    pub fn sign<M: Message>(&self, header: &ServerHeader, message: &M) -> Signed {
        sign_server(header, message, &self.key).unwrap()
    }

    /// Starts an activation for `account` (the integrator's call): the signed
    /// ticket's JSON and the SMS code.
    pub fn start_activation(&self, account: &str, held: bool) -> (String, String) {
        let (secret, public) = new_ticket_key().unwrap();
        let ticket = TicketId::random().unwrap();
        let enrollment = EnrollmentId::random().unwrap();
        let code = "4829105736102".to_owned();
        let mut state = self.state();
        let replacing = state
            .accounts
            .get(account)
            .is_some_and(|(_, active)| active.is_some());
        state.tickets.insert(
            ticket,
            Ticket {
                secret,
                enrollment,
                account: account.to_owned(),
                code: code.clone(),
                replacing,
                held,
                modes: vec![MatchingMode::Code],
            },
        );
        let signed = self.sign(
            &self.header(enrollment, 0, 600),
            &ActivationTicket {
                ticket,
                account: account.to_owned(),
                ticket_key: public,
                hpke_suite: 1,
                ocra_suite: LATCHKEY_SUITE.to_owned(),
                matching_modes: vec![MatchingMode::Code],
                replacing,
            },
        );
        (signed.to_json(), code)
    }

    /// Opens a login for the account's active phone: the request id (the push
    /// handle) and the challenge shown on the login screen.
    pub fn open_login(&self, account: &str, mode: MatchingMode) -> (RequestId, Challenge) {
        let mut state = self.state();
        let enrollment = state.accounts[account].1.unwrap();
        let request = RequestId::random().unwrap();
        let challenge = Challenge::random().unwrap();
        state.logins.insert(
            request,
            Login {
                enrollment,
                challenge,
                mode,
                expires_at: self.clock.now() + 120,
                decided: false,
            },
        );
        (request, challenge)
    }

    /// Queues a signed notice for an enrollment.
    pub fn queue_notice(&self, enrollment: EnrollmentId, signed: Signed) {
        self.state()
            .enrollments
            .get_mut(&enrollment)
            .unwrap()
            .notices
            .push(signed);
    }

    /// A revocation notice for `enrollment` at `epoch`.
    pub fn revoked_notice(&self, enrollment: EnrollmentId, epoch: u64, by: Option<&str>) -> Signed {
        self.sign(
            &self.header(enrollment, epoch, 30 * 86_400),
            &Notice {
                kind: NoticeKind::Revoked,
                text: "This phone is no longer the account's authenticator".to_owned(),
                new_phone: by.map(str::to_owned),
                effective_at: Some(self.clock.now()),
                replacement: None,
            },
        )
    }

    /// Runs `f` on an enrollment.
    pub fn with_enrollment<R>(&self, id: &EnrollmentId, f: impl FnOnce(&mut Enrollment) -> R) -> R {
        f(self.state().enrollments.get_mut(id).unwrap())
    }

    pub fn k_user_of(&self, id: &EnrollmentId) -> SecretBytes {
        self.with_enrollment(id, |e| e.k_user.clone())
    }

    pub fn proofs_accepted(&self) -> Vec<ProofAction> {
        self.state().proofs_accepted.clone()
    }

    /// The fake's HTTP handler.
    pub fn handle(&self, request: &TransportRequest) -> Result<TransportResponse, TransportError> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(TransportError::Offline);
        }
        let path = request
            .url
            .strip_prefix(self.profile.base_url())
            .unwrap_or("");
        let Ok(signed) = Signed::from_json(std::str::from_utf8(&request.body).unwrap_or("")) else {
            return error(400, "bad_request");
        };
        match path {
            wire::ACTIVATE => self.activate(&signed),
            wire::SYNC => self.sync(&signed),
            wire::REQUEST => self.fetch(&signed),
            wire::APPROVE => self.approve(&signed),
            wire::DENY => self.deny(&signed),
            wire::PROOF => self.proof(&signed),
            wire::REKEY => self.rekey(&signed),
            wire::PIN => self.pin_change(&signed),
            wire::REMOVE => self.remove(&signed),
            _ => error(404, "not_found"),
        }
    }

    /// Checks a phone message under its enrollment's key and epoch. A phone
    /// whose replacement completed may still send epoch 0 until it has its receipt.
    fn open<M: Message>(&self, signed: &Signed) -> Result<(EnrollmentId, M), u16> {
        let header = peek_device_header::<M>(signed).map_err(|_| 400u16)?;
        let state = self.state();
        let enrollment = state.enrollments.get(&header.enrollment).ok_or(403u16)?;
        let epoch = if enrollment.undelivered_receipt && header.epoch == 0 {
            0
        } else {
            enrollment.epoch
        };
        let verified = open_device::<M>(
            signed,
            &enrollment.device_key,
            &DeviceExpectation {
                server: self.profile.fingerprint(),
                enrollment: header.enrollment,
                epoch,
                now: self.clock.now(),
                max_skew: 600,
            },
        )
        .map_err(|_| 403u16)?;
        Ok((header.enrollment, verified.into_message()))
    }

    fn receipt(&self, id: &EnrollmentId, e: &Enrollment) -> Signed {
        self.sign(
            &self.header(*id, e.epoch, 600),
            &ActivationReceipt {
                account: e.account.clone(),
                ocra_suite: LATCHKEY_SUITE.to_owned(),
                matching_mode: e.mode,
                device_key: e.device_key.fingerprint(),
                limits: EnrollmentLimits {
                    reset_at: 5,
                    disable_at: 10,
                    session_seconds: 300,
                    push_seconds: 120,
                    drift_window: 2,
                },
            },
        )
    }

    fn activate(&self, signed: &Signed) -> Result<TransportResponse, TransportError> {
        let Ok((header, request)) = peek_device_unverified::<ActivationRequest>(signed) else {
            return error(400, "bad_request");
        };
        let mut state = self.state();
        let Some(ticket) = state.tickets.get(&request.ticket) else {
            return error(410, "expired");
        };
        if open_device::<ActivationRequest>(
            signed,
            &request.device_key,
            &DeviceExpectation {
                server: self.profile.fingerprint(),
                enrollment: ticket.enrollment,
                epoch: 0,
                now: self.clock.now(),
                max_skew: 600,
            },
        )
        .is_err()
            || header.enrollment != ticket.enrollment
        {
            return error(400, "bad_request");
        }
        let info = hpke_info(
            ActivationSecret::PURPOSE,
            &request.ticket,
            &ticket.enrollment,
        );
        let sealed = crate::protocol::SealedSecret {
            enc: request.enc,
            ciphertext: request.ciphertext.clone(),
        };
        let Ok(secret) = open_secret(&ticket.secret, &info, &sealed)
            .and_then(|plain| ActivationSecret::from_plaintext(&plain))
        else {
            return error(400, "bad_request");
        };
        if secret.code.expose_secret() != ticket.code.as_bytes() {
            return json(
                403,
                serde_json::json!({"error": {"code": "wrong_activation_code", "message": "wrong code", "attempts_left": 2}}),
            );
        }
        let ticket = state.tickets.remove(&request.ticket).unwrap();
        let (epoch, active) = state
            .accounts
            .get(&ticket.account)
            .copied()
            .unwrap_or((0, None));
        let mut enrollment = Enrollment {
            account: ticket.account.clone(),
            device_key: request.device_key.clone(),
            epoch: 0,
            k_user: secret.k_user.clone(),
            mode: ticket.modes[0],
            state: EnrollmentState::Active,
            failures: 0,
            notices: Vec::new(),
            undelivered_receipt: false,
            push_token: secret.push_token.clone(),
            device_name: secret.device_name.clone(),
            last_secret: Some(secret),
        };
        match (ticket.replacing, active) {
            (true, Some(old)) => {
                let replacement = ReplacementId::random().unwrap();
                state.replacements.insert(
                    replacement,
                    Replacement {
                        account: ticket.account.clone(),
                        old,
                        new: ticket.enrollment,
                    },
                );
                let old_epoch = state.enrollments[&old].epoch;
                let effective_at = ticket.held.then(|| self.clock.now() + 72 * 3600);
                let notice = self.sign(
                    &self.header(old, old_epoch, 86_400),
                    &Notice {
                        kind: NoticeKind::ReplacementPending,
                        text: "A new phone asks to take over this account".to_owned(),
                        new_phone: Some(enrollment.device_name.clone()),
                        effective_at,
                        replacement: Some(replacement),
                    },
                );
                state
                    .enrollments
                    .get_mut(&old)
                    .unwrap()
                    .notices
                    .push(notice);
                state.enrollments.insert(ticket.enrollment, enrollment);
                let outcome = if ticket.held {
                    "held"
                } else {
                    "awaiting_old_phone"
                };
                json(
                    202,
                    serde_json::json!({"outcome": outcome, "replacement": replacement.to_string(), "effective_at": effective_at}),
                )
            }
            _ => {
                enrollment.epoch = epoch + 1;
                let receipt = self.receipt(&ticket.enrollment, &enrollment);
                state
                    .accounts
                    .insert(ticket.account.clone(), (epoch + 1, Some(ticket.enrollment)));
                state.enrollments.insert(ticket.enrollment, enrollment);
                envelope(&receipt)
            }
        }
    }

    fn sync(&self, signed: &Signed) -> Result<TransportResponse, TransportError> {
        let (id, request) = match self.open::<SyncRequest>(signed) {
            Ok(ok) => ok,
            Err(status) => return error(status, "refused"),
        };
        let proof = ProofId::random().unwrap();
        let challenge = Challenge::random().unwrap();
        let now = self.clock.now();
        let mut state = self.state();
        state.proofs.insert(proof, (id, challenge, now + 300));
        let pending: Vec<RequestId> = state
            .logins
            .iter()
            .filter(|(_, l)| l.enrollment == id && !l.decided)
            .map(|(r, _)| *r)
            .collect();
        let e = state.enrollments.get_mut(&id).unwrap();
        e.push_token = request.push_token.clone();
        let receipt = e.undelivered_receipt.then(|| self.receipt(&id, e));
        e.undelivered_receipt = false;
        let answer = SyncAnswer {
            nonce: request.nonce,
            state: e.state,
            failures: e.failures,
            retry_after: None,
            push_registered: e.push_token.is_some(),
            pending,
            proof: Some(ProofChallenge {
                proof,
                challenge,
                expires_at: now + 300,
            }),
            notices: std::mem::take(&mut e.notices),
            receipt,
        };
        envelope(&self.sign(&self.header(id, e.epoch, 300), &answer))
    }

    fn fetch(&self, signed: &Signed) -> Result<TransportResponse, TransportError> {
        let (id, fetch) = match self.open::<FetchRequest>(signed) {
            Ok(ok) => ok,
            Err(status) => return error(status, "refused"),
        };
        let state = self.state();
        let Some(login) = state
            .logins
            .get(&fetch.request)
            .filter(|l| l.enrollment == id)
        else {
            return error(404, "unknown_request");
        };
        let epoch = state.enrollments[&id].epoch;
        let mut header = self.header(id, epoch, 0);
        header.expires_at = login.expires_at;
        envelope(&self.sign(
            &header,
            &LoginRequest {
                request: fetch.request,
                app: "Client Portal".to_owned(),
                client: "Firefox on Linux".to_owned(),
                origin: "203.0.113.7 (Zürich)".to_owned(),
                requested_at: self.clock.now(),
                matching_mode: login.mode,
                challenge: (login.mode == MatchingMode::Tap).then_some(login.challenge),
            },
        ))
    }

    /// Counts a PIN-bound attempt and verifies it (the shared counter).
    fn verify_counted(
        &self,
        state: &mut State,
        id: &EnrollmentId,
        challenge: &Challenge,
        response: &str,
    ) -> Result<(), Result<TransportResponse, TransportError>> {
        let e = state.enrollments.get_mut(id).unwrap();
        if e.state == EnrollmentState::Disabled {
            return Err(error(403, "enrollment_disabled"));
        }
        e.failures += 1;
        let suite = LATCHKEY_SUITE.parse().unwrap();
        match verify_response(
            &suite,
            &e.k_user,
            challenge,
            self.clock.now(),
            0,
            2,
            response,
        ) {
            Ok(Some(_)) => {
                e.failures = 0;
                Ok(())
            }
            _ => {
                if e.failures >= 10 {
                    e.state = EnrollmentState::Disabled;
                } else if e.failures >= 5 {
                    e.state = EnrollmentState::PasswordResetRequired;
                }
                Err(json(
                    403,
                    serde_json::json!({"error": {"code": "wrong_response", "message": "wrong response",
                        "attempts_left": 10u64.saturating_sub(e.failures),
                        "retry_after": (e.failures >= 3).then(|| self.clock.now() + 30)}}),
                ))
            }
        }
    }

    fn approve(&self, signed: &Signed) -> Result<TransportResponse, TransportError> {
        let (id, approval) = match self.open::<Approval>(signed) {
            Ok(ok) => ok,
            Err(status) => return error(status, "refused"),
        };
        let mut state = self.state();
        let Some(login) = state
            .logins
            .get_mut(&approval.request)
            .filter(|l| l.enrollment == id)
        else {
            return error(404, "unknown_request");
        };
        if self.clock.now() >= login.expires_at {
            return error(410, "expired");
        }
        if login.decided {
            return error(409, "already_decided");
        }
        if approval.typed_code != login.challenge {
            login.decided = true;
            return error(403, "code_mismatch");
        }
        login.decided = true;
        let challenge = login.challenge;
        match self.verify_counted(&mut state, &id, &challenge, &approval.response) {
            Ok(()) => json(200, serde_json::json!({"outcome": "approved"})),
            Err(answer) => answer,
        }
    }

    fn deny(&self, signed: &Signed) -> Result<TransportResponse, TransportError> {
        let (id, denial) = match self.open::<Denial>(signed) {
            Ok(ok) => ok,
            Err(status) => return error(status, "refused"),
        };
        let mut state = self.state();
        let Some(login) = state
            .logins
            .get_mut(&denial.request)
            .filter(|l| l.enrollment == id)
        else {
            return error(404, "unknown_request");
        };
        if login.decided {
            return error(409, "already_decided");
        }
        login.decided = true;
        json(200, serde_json::json!({"outcome": "denied"}))
    }

    /// Takes a proof (spent by its first use) and verifies it.
    fn spend_proof(
        &self,
        state: &mut State,
        id: &EnrollmentId,
        proof: &ProofId,
        response: &str,
    ) -> Result<(), Result<TransportResponse, TransportError>> {
        let Some((owner, challenge, expires_at)) = state.proofs.remove(proof) else {
            return Err(error(410, "expired"));
        };
        if owner != *id || self.clock.now() >= expires_at {
            return Err(error(410, "expired"));
        }
        self.verify_counted(state, id, &challenge, response)
    }

    fn proof(&self, signed: &Signed) -> Result<TransportResponse, TransportError> {
        let (id, proof) = match self.open::<PinProof>(signed) {
            Ok(ok) => ok,
            Err(status) => return error(status, "refused"),
        };
        let mut state = self.state();
        if let Err(answer) = self.spend_proof(&mut state, &id, &proof.proof, &proof.response) {
            return answer;
        }
        state.proofs_accepted.push(proof.action);
        match proof.action {
            ProofAction::EnableBiometric => {
                json(200, serde_json::json!({"outcome": "biometric_enabled"}))
            }
            ProofAction::ApproveReplacement | ProofAction::CancelReplacement => {
                let Ok(target) = ReplacementId::from_slice(&proof.target) else {
                    return error(400, "bad_request");
                };
                let Some(replacement) = state.replacements.remove(&target) else {
                    return error(404, "unknown_replacement");
                };
                if replacement.old != id {
                    return error(403, "refused");
                }
                if proof.action == ProofAction::ApproveReplacement {
                    let (epoch, _) = state.accounts[&replacement.account];
                    let new_name = state.enrollments[&replacement.new].device_name.clone();
                    let old_epoch = state.enrollments[&replacement.old].epoch;
                    let revoked = self.revoked_notice(replacement.old, old_epoch, Some(&new_name));
                    let old = state.enrollments.get_mut(&replacement.old).unwrap();
                    old.state = EnrollmentState::Revoked;
                    old.notices.push(revoked);
                    let new = state.enrollments.get_mut(&replacement.new).unwrap();
                    new.epoch = epoch + 1;
                    new.undelivered_receipt = true;
                    state
                        .accounts
                        .insert(replacement.account, (epoch + 1, Some(replacement.new)));
                    json(200, serde_json::json!({"outcome": "replacement_approved"}))
                } else {
                    let revoked = self.revoked_notice(replacement.new, 0, None);
                    let new = state.enrollments.get_mut(&replacement.new).unwrap();
                    new.state = EnrollmentState::Revoked;
                    new.notices.push(revoked);
                    json(200, serde_json::json!({"outcome": "replacement_cancelled"}))
                }
            }
            _ => error(400, "unsupported_action"),
        }
    }

    fn rekey(&self, signed: &Signed) -> Result<TransportResponse, TransportError> {
        let (id, _) = match self.open::<RekeyRequest>(signed) {
            Ok(ok) => ok,
            Err(status) => return error(status, "refused"),
        };
        let (secret, public) = new_ticket_key().unwrap();
        let ticket = TicketId::random().unwrap();
        let mut state = self.state();
        state.rekeys.insert(ticket, (secret, id));
        let epoch = state.enrollments[&id].epoch;
        envelope(&self.sign(
            &self.header(id, epoch, 600),
            &RekeyTicket {
                ticket,
                ticket_key: public,
                hpke_suite: 1,
            },
        ))
    }

    fn pin_change(&self, signed: &Signed) -> Result<TransportResponse, TransportError> {
        let (id, change) = match self.open::<PinChange>(signed) {
            Ok(ok) => ok,
            Err(status) => return error(status, "refused"),
        };
        let mut state = self.state();
        let Some((secret, owner)) = state.rekeys.remove(&change.ticket) else {
            return error(410, "expired");
        };
        if owner != id {
            return error(403, "refused");
        }
        if let Err(answer) = self.spend_proof(&mut state, &id, &change.proof, &change.response) {
            return answer;
        }
        let info = hpke_info(PinChangeSecret::PURPOSE, &change.ticket, &id);
        let sealed = crate::protocol::SealedSecret {
            enc: change.enc,
            ciphertext: change.ciphertext,
        };
        let Ok(new) = open_secret(&secret, &info, &sealed)
            .and_then(|plain| PinChangeSecret::from_plaintext(&plain))
        else {
            return error(400, "bad_request");
        };
        state.enrollments.get_mut(&id).unwrap().k_user = new.k_user;
        json(200, serde_json::json!({"outcome": "pin_changed"}))
    }

    fn remove(&self, signed: &Signed) -> Result<TransportResponse, TransportError> {
        let (id, _) = match self.open::<Removal>(signed) {
            Ok(ok) => ok,
            Err(status) => return error(status, "refused"),
        };
        let mut state = self.state();
        let e = state.enrollments.get_mut(&id).unwrap();
        e.state = EnrollmentState::Revoked;
        let epoch = e.epoch;
        let account = e.account.clone();
        if let Some(entry) = state.accounts.get_mut(&account) {
            if entry.1 == Some(id) {
                entry.1 = None;
            }
        }
        drop(state);
        envelope(&self.revoked_notice(id, epoch, None))
    }
}

/// A test phone: an authenticator over a software keystore, a manual clock and
/// a scripted transport that answers with a [`FakeServer`].
pub struct Phone {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub server: Arc<FakeServer>,
    pub transport: ScriptedTransport,
    pub keystore: Arc<SoftwareKeystore>,
    pub biometrics: SimulatedBiometrics,
    pub authenticator: Authenticator,
}

impl Phone {
    /// A phone with its own fresh server.
    pub fn new() -> Self {
        Self::with_server(FakeServer::new(7))
    }

    /// A phone talking to `server`.
    pub fn with_server(server: Arc<FakeServer>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let biometrics = SimulatedBiometrics::new();
        let keystore =
            Arc::new(SoftwareKeystore::open(&dir.path().join("keys"), biometrics.clone()).unwrap());
        let handler_server = server.clone();
        let transport =
            ScriptedTransport::with_handler(move |request| handler_server.handle(request));
        let shared: Arc<dyn Transport> = Arc::new(transport.clone());
        let keystore_dyn: Arc<dyn PlatformKeystore> = keystore.clone();
        let clock_dyn: Arc<dyn Clock> = clock.clone();
        let authenticator = Authenticator::open(
            &dir.path().join("device.db"),
            keystore_dyn,
            shared,
            clock_dyn,
            AuthenticatorConfig {
                platform: Platform::Android,
                app_version: "1.0.0".to_owned(),
            },
        )
        .unwrap();
        Self {
            dir,
            clock,
            server,
            transport,
            keystore,
            biometrics,
            authenticator,
        }
    }

    /// Activates `account` with [`PIN`]; returns the account and the
    /// activation outcome's device name.
    pub fn activated(&self, account: &str) -> (AccountId, String) {
        let (ticket, code) = self.server.start_activation(account, false);
        match self
            .authenticator
            .activate(
                &self.server.profile(),
                &ticket,
                &code,
                PIN.to_owned(),
                PIN.to_owned(),
                "Anna's Pixel",
                Some("push-token-1".to_owned()),
            )
            .unwrap()
        {
            super::ActivationOutcome::Active(summary) => (summary.id, "Anna's Pixel".to_owned()),
            other => panic!("{other:?}"),
        }
    }

    pub fn enrollment_of(&self, account: AccountId) -> EnrollmentId {
        self.authenticator.account(account).unwrap().enrollment_id
    }

    pub fn epoch_of(&self, account: AccountId) -> u64 {
        self.authenticator.account(account).unwrap().epoch
    }
}
