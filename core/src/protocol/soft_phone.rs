//! A headless phone: the protocol's phone side with an in-memory ECDSA key and
//! seed, building and checking messages but doing no I/O and keeping no store.
//!
//! It is what server tests, the load benchmark and interoperability checks use to
//! speak the protocol without the platform keystore or the `Authenticator`'s
//! SQLite store; the real phone is `crate::device::Authenticator`. Every message
//! it makes goes through the same functions the real phone uses (`sign_device`,
//! `open_server`, `seal_secret`, `compute_response`), so it adds no protocol
//! logic of its own.
//!
//! Invariants: its seed and key never leave it except as signatures and
//! `k_user`-derived responses; it refuses server messages that fail any check.

use super::envelope::{open_server, sign_device};
use super::keys::{compute_response, derive_k_user};
use super::secrets::{hpke_info, seal_secret};
use super::{
    ActivationReceipt, ActivationRequest, ActivationSecret, ActivationTicket, Approval, Challenge,
    DeviceHeader, DevicePublicKey, EnrollmentId, KeystoreKind, Message, PinProof, Platform,
    ProofAction, ProofChallenge, ProtocolError, RequestId, ServerExpectation, ServerPublicKey,
    Signed, Signer, SyncAnswer, SyncRequest,
};
use crate::otp::{OcraSuite, OtpCode};
use crate::secret::SecretBytes;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

/// The clock skew a soft phone allows server messages (as the real phone).
use super::SERVER_CLOCK_SKEW as SKEW;

struct DeviceKey(EcdsaKeyPair);

impl Signer for DeviceKey {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        self.0
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| ProtocolError::Randomness)
    }
}

/// A headless phone for one account of one server.
pub struct SoftPhone {
    key: DeviceKey,
    seed: SecretBytes,
    server: ServerPublicKey,
    enrollment: EnrollmentId,
    epoch: u64,
    name: String,
    /// `k_user` per PIN for the current enrollment: PBKDF2 runs once per PIN, so
    /// a load generator measures the server, not the stretch.
    derived: std::sync::Mutex<Vec<(String, SecretBytes)>>,
}

impl std::fmt::Debug for SoftPhone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftPhone")
            .field("name", &self.name)
            .field("enrollment", &self.enrollment)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl SoftPhone {
    /// A new phone (fresh device key and seed) for the server with this key.
    pub fn new(server: ServerPublicKey, name: &str) -> Result<Self, ProtocolError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| ProtocolError::Randomness)?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| ProtocolError::Randomness)?;
        let mut seed = vec![0u8; 32];
        rng.fill(&mut seed).map_err(|_| ProtocolError::Randomness)?;
        Ok(Self {
            key: DeviceKey(key),
            seed: SecretBytes::new(seed),
            server,
            enrollment: EnrollmentId::from_bytes([0; 16]),
            epoch: 0,
            name: name.to_owned(),
            derived: Default::default(),
        })
    }

    /// The phone's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device public key.
    pub fn public_key(&self) -> Result<DevicePublicKey, ProtocolError> {
        DevicePublicKey::from_slice(self.key.0.public_key().as_ref())
    }

    /// The enrollment (all zeros before a ticket was answered).
    pub fn enrollment(&self) -> EnrollmentId {
        self.enrollment
    }

    /// The epoch the phone believes it has (0 until a receipt).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Makes the phone believe another epoch (to test refusals).
    pub fn set_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
    }

    /// The server key the phone pins.
    pub fn server(&self) -> &ServerPublicKey {
        &self.server
    }

    /// `k_user` for a PIN (right or wrong), derived once per PIN and enrollment.
    pub fn k_user(&self, pin: &str) -> SecretBytes {
        let Ok(mut derived) = self.derived.lock() else {
            return derive_k_user(&self.seed, pin, &self.enrollment);
        };
        if let Some((_, k_user)) = derived.iter().find(|(p, _)| p == pin) {
            return k_user.clone();
        }
        let k_user = derive_k_user(&self.seed, pin, &self.enrollment);
        derived.push((pin.to_owned(), k_user.clone()));
        k_user
    }

    /// What the phone expects of a server message at `now`.
    pub fn expects(&self, now: u64) -> ServerExpectation {
        ServerExpectation {
            server: self.server.fingerprint(),
            enrollment: Some(self.enrollment),
            epoch: Some(self.epoch),
            now,
            skew: SKEW,
        }
    }

    /// Signs a phone message at `now`.
    pub fn sign<M: Message>(&self, now: u64, message: &M) -> Result<Signed, ProtocolError> {
        let header = DeviceHeader {
            server: self.server.fingerprint(),
            enrollment: self.enrollment,
            epoch: self.epoch,
            issued_at: now,
        };
        sign_device(&header, message, &self.key)
    }

    /// Checks a ticket and answers it with `code` and `pin`: the activation request.
    pub fn answer_ticket(
        &mut self,
        ticket: &Signed,
        code: &str,
        pin: &str,
        keystore: KeystoreKind,
        push_token: Option<String>,
        now: u64,
    ) -> Result<Signed, ProtocolError> {
        let expect = ServerExpectation {
            enrollment: None,
            epoch: None,
            ..self.expects(now)
        };
        let verified = open_server::<ActivationTicket>(ticket, &self.server, &expect)?;
        self.enrollment = verified.header().enrollment;
        self.epoch = 0;
        if let Ok(mut derived) = self.derived.lock() {
            derived.clear();
        }
        let t = verified.message();
        let secret = ActivationSecret {
            code: SecretBytes::from_slice(code.as_bytes()),
            k_user: self.k_user(pin),
            push_token,
            platform: Platform::Android,
            app_version: "soft-phone".into(),
            keystore,
            device_name: self.name.clone(),
        };
        let info = hpke_info(ActivationSecret::PURPOSE, &t.ticket, &self.enrollment);
        let sealed = seal_secret(&t.ticket_key, &info, &secret.to_plaintext())?;
        let request = ActivationRequest {
            ticket: t.ticket,
            device_key: self.public_key()?,
            enc: sealed.enc,
            ciphertext: sealed.ciphertext,
        };
        self.sign(now, &request)
    }

    /// Checks a receipt (it must name this phone's key) and takes its epoch.
    pub fn accept_receipt(&mut self, receipt: &Signed, now: u64) -> Result<(), ProtocolError> {
        let expect = ServerExpectation {
            epoch: None,
            ..self.expects(now)
        };
        let verified = open_server::<ActivationReceipt>(receipt, &self.server, &expect)?;
        if verified.message().device_key != self.public_key()?.fingerprint() {
            return Err(ProtocolError::BadField("receipt device key"));
        }
        self.epoch = verified.header().epoch;
        Ok(())
    }

    /// A sync request with a fresh nonce; returns it with the nonce to expect back.
    pub fn sync_request(
        &self,
        push_token: Option<String>,
        now: u64,
    ) -> Result<(Signed, [u8; 16]), ProtocolError> {
        let nonce: [u8; 16] = super::ids::random_bytes()?;
        let request = SyncRequest {
            nonce,
            push_token,
            platform: Platform::Android,
            app_version: "soft-phone".into(),
            notifications_enabled: true,
        };
        Ok((self.sign(now, &request)?, nonce))
    }

    /// Checks a sync answer for `nonce` (at its own time, as the real phone does).
    pub fn open_sync_answer(
        &self,
        answer: &Signed,
        nonce: &[u8; 16],
    ) -> Result<SyncAnswer, ProtocolError> {
        let issued_at = super::envelope::peek_server_issued_at(answer)?;
        let answer = open_server::<SyncAnswer>(answer, &self.server, &self.expects(issued_at))?
            .into_message();
        if &answer.nonce != nonce {
            return Err(ProtocolError::BadField("nonce"));
        }
        Ok(answer)
    }

    /// The OCRA response to a challenge under the PIN's `k_user` at `now`.
    pub fn response(
        &self,
        challenge: &Challenge,
        pin: &str,
        now: u64,
    ) -> Result<OtpCode, ProtocolError> {
        let suite: OcraSuite = super::LATCHKEY_SUITE.parse()?;
        compute_response(&suite, &self.k_user(pin), challenge, now)
    }

    /// An approval of `request` with the typed code and the PIN.
    pub fn approval(
        &self,
        request: RequestId,
        typed: Challenge,
        pin: &str,
        now: u64,
    ) -> Result<Signed, ProtocolError> {
        let response = self.response(&typed, pin, now)?;
        self.sign(
            now,
            &Approval {
                request,
                typed_code: typed,
                response: response.to_string(),
            },
        )
    }

    /// A PIN proof answering a proof challenge for an action.
    pub fn proof(
        &self,
        challenge: &ProofChallenge,
        action: ProofAction,
        target: Vec<u8>,
        pin: &str,
        now: u64,
    ) -> Result<Signed, ProtocolError> {
        let response = self.response(&challenge.challenge, pin, now)?;
        self.sign(
            now,
            &PinProof {
                proof: challenge.proof,
                action,
                target,
                response: response.to_string(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::envelope::{ServerHeader, sign_server};
    use crate::protocol::secrets::ticket_key_from_ikm;
    use crate::protocol::{ActivationTicket, MatchingMode, TicketId};
    use ring::signature::Ed25519KeyPair;

    #[test]
    fn a_soft_phone_answers_only_tickets_from_its_pinned_server() {
        let server = Ed25519KeyPair::from_seed_unchecked(&[3; 32]).unwrap();
        let public = ServerPublicKey::from_slice(server.public_key().as_ref()).unwrap();
        let other = Ed25519KeyPair::from_seed_unchecked(&[4; 32]).unwrap();
        let (_, ticket_key) = ticket_key_from_ikm(&[5; 32]);
        let header = ServerHeader {
            server: public.fingerprint(),
            enrollment: EnrollmentId::from_bytes([6; 16]),
            epoch: 0,
            issued_at: 1000,
            expires_at: 1600,
        };
        let ticket = ActivationTicket {
            ticket: TicketId::from_bytes([7; 16]),
            account: "anna".into(),
            ticket_key,
            hpke_suite: 1,
            ocra_suite: crate::protocol::LATCHKEY_SUITE.into(),
            matching_modes: vec![MatchingMode::Code],
            replacing: false,
        };
        let mut phone = SoftPhone::new(public, "soft").unwrap();
        let forged = sign_server(&header, &ticket, &other).unwrap();
        assert_eq!(
            phone
                .answer_ticket(
                    &forged,
                    "1234567890123",
                    "402917",
                    KeystoreKind::Software,
                    None,
                    1000
                )
                .unwrap_err(),
            ProtocolError::BadSignature
        );
        let signed = sign_server(&header, &ticket, &server).unwrap();
        let request = phone
            .answer_ticket(
                &signed,
                "1234567890123",
                "402917",
                KeystoreKind::Software,
                None,
                1000,
            )
            .unwrap();
        assert_eq!(phone.enrollment(), EnrollmentId::from_bytes([6; 16]));
        assert!(request.claimed_purpose().unwrap() == "activation-request");
        // k_user is derived once per PIN and differs between PINs.
        assert_eq!(phone.k_user("402917"), phone.k_user("402917"));
        assert_ne!(phone.k_user("402917"), phone.k_user("402918"));
        assert!(!format!("{phone:?}").contains("seed"));
    }
}
