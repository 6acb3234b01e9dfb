//! Every message of protocol v1, with its canonical fields.
//!
//! Server-signed (Ed25519): [`ActivationTicket`], [`ActivationReceipt`],
//! [`LoginRequest`], [`SyncAnswer`], [`Notice`], [`RekeyTicket`].
//! Phone-signed (ECDSA P-256): [`ActivationRequest`], [`SyncRequest`],
//! [`FetchRequest`], [`Approval`], [`Denial`], [`PinProof`], [`RekeyRequest`],
//! [`PinChange`], [`Removal`]. Encrypted to a ticket key (HPKE, inside a phone-signed message):
//! [`ActivationSecret`], [`PinChangeSecret`].
//!
//! `docs/PROTOCOL.md` gives each layout; the field order here is the order on the
//! wire. Small enums travel as one byte; an unknown byte is refused.

use super::codec::{Decoder, Encoder};
use super::envelope::{Message, Signed};
use super::keys::{Challenge, DevicePublicKey};
use super::secrets::TicketPublicKey;
use super::{ProofId, ProtocolError, ReplacementId, RequestId, TicketId};
use crate::secret::SecretBytes;

macro_rules! byte_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant = $value),+
        }

        impl $name {
            /// The wire byte.
            pub fn to_byte(self) -> u8 {
                self as u8
            }

            /// The value of a wire byte; unknown bytes are refused.
            pub fn from_byte(byte: u8) -> Result<Self, ProtocolError> {
                match byte {
                    $($value => Ok($name::$variant),)+
                    _ => Err(ProtocolError::BadField($what)),
                }
            }

            fn decode(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
                Self::from_byte(d.u8($what)?)
            }
        }
    };
}

byte_enum!(
    /// How the user proves the login screen and the phone see the same login.
    MatchingMode, "matching mode" {
        /// The user types the login screen's 6-digit code on the phone (default;
        /// NIST SP 800-63B-4 §3.1.3). Not phishing-resistant.
        Code = 1,
        /// The classic one tap: the signed request carries the challenge. Never for
        /// regulated accounts.
        Tap = 2,
    }
);

impl MatchingMode {
    /// The text form, as the phone's store, the server's policy table
    /// (`server/policy.json`) and the HTTP API spell it: `code` or `tap`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchingMode::Code => "code",
            MatchingMode::Tap => "tap",
        }
    }
}

impl std::str::FromStr for MatchingMode {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "code" => Ok(MatchingMode::Code),
            "tap" => Ok(MatchingMode::Tap),
            _ => Err(ProtocolError::BadField("matching mode")),
        }
    }
}

/// As JSON (the server's policy table and HTTP API): its text, `code` or `tap`.
impl serde::Serialize for MatchingMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// From JSON: `code` or `tap`; any other text is refused.
impl<'de> serde::Deserialize<'de> for MatchingMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom("a matching mode is `code` or `tap`"))
    }
}

byte_enum!(
    /// The phone's platform.
    Platform, "platform" {
        /// Android.
        Android = 1,
        /// iOS.
        Ios = 2,
        /// A desktop or test phone (the CLI).
        Desktop = 3,
    }
);

byte_enum!(
    /// Where the phone's keys live, as the phone declares it (self-declared until
    /// key attestation exists).
    KeystoreKind, "keystore kind" {
        /// Latchkey's software keystore: development and tests only.
        Software = 1,
        /// A hardware-backed platform keystore (Android TEE).
        HardwareBacked = 2,
        /// Android StrongBox.
        StrongBox = 3,
        /// Apple's Secure Enclave.
        SecureEnclave = 4,
    }
);

byte_enum!(
    /// The state of an enrollment as the server sees it.
    EnrollmentState, "enrollment state" {
        /// The account's authenticating phone.
        Active = 1,
        /// Five PIN-bound failures: the account needs a password reset; the phone
        /// still works once it is done.
        PasswordResetRequired = 2,
        /// Ten PIN-bound failures: disabled until replaced.
        Disabled = 3,
        /// A lost-phone replacement is waiting out its hold period.
        ReplacementPending = 4,
        /// No longer the account's phone (replaced or removed).
        Revoked = 5,
    }
);

byte_enum!(
    /// What a signed notice says.
    NoticeKind, "notice kind" {
        /// This enrollment has ended (replaced by another phone, or removed): the
        /// phone wipes the account's secrets.
        Revoked = 1,
        /// Five PIN-bound failures: password reset required.
        PasswordResetRequired = 2,
        /// Ten PIN-bound failures: disabled until replaced.
        Disabled = 3,
        /// A replacement of this phone is pending; it can be cancelled from here.
        ReplacementPending = 4,
        /// A pending replacement was cancelled.
        ReplacementCancelled = 5,
        /// Someone started activating a new phone for this account.
        ActivationStarted = 6,
    }
);

byte_enum!(
    /// What a PIN proof authorises. A device signature alone never authorises any
    /// of these.
    ProofAction, "proof action" {
        /// Turn on the biometric copy of `k_user`.
        EnableBiometric = 1,
        /// Change the PIN (in [`PinChange`]).
        ChangePin = 2,
        /// Approve moving the account to a new phone (target: the replacement id).
        ApproveReplacement = 3,
        /// Cancel a pending lost-phone replacement (target: the replacement id).
        CancelReplacement = 4,
        /// Opt out of two-factor authentication.
        OptOut = 5,
        /// Change the verified phone number (binding a new authenticator).
        ChangePhoneNumber = 6,
    }
);

byte_enum!(
    /// Why the user denied a login.
    DenialReason, "denial reason" {
        /// "This wasn't me": reported as possible fraud.
        NotMe = 1,
        /// Declined for another reason (e.g. a mistaken tap).
        Declined = 2,
    }
);

/// The numbers an enrollment runs under, fixed by its receipt (the phone's copy of
/// the server's deployment numbers, `latchkey_server::config::Limits`, that it needs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EnrollmentLimits {
    /// PIN-bound failures at which a password reset is required (5).
    pub reset_at: u64,
    /// PIN-bound failures at which the enrollment is disabled (10).
    pub disable_at: u64,
    /// Login session lifetime, seconds (300).
    pub session_seconds: u64,
    /// How long a push request can be answered, seconds (120).
    pub push_seconds: u64,
    /// OCRA time steps accepted either side of the server's corrected time (2).
    pub drift_window: u64,
}

impl EnrollmentLimits {
    fn encode(&self, e: &mut Encoder) {
        e.u64(self.reset_at)
            .u64(self.disable_at)
            .u64(self.session_seconds)
            .u64(self.push_seconds)
            .u64(self.drift_window);
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            reset_at: d.u64("reset at")?,
            disable_at: d.u64("disable at")?,
            session_seconds: d.u64("session seconds")?,
            push_seconds: d.u64("push seconds")?,
            drift_window: d.u64("drift window")?,
        })
    }
}

fn decode_text(
    d: &mut Decoder<'_>,
    what: &'static str,
    max: usize,
) -> Result<String, ProtocolError> {
    let text = d.str(what)?;
    if text.len() > max {
        return Err(ProtocolError::BadField(what));
    }
    Ok(text.to_owned())
}

fn decode_opt_text(
    d: &mut Decoder<'_>,
    what: &'static str,
    max: usize,
) -> Result<Option<String>, ProtocolError> {
    match d.opt_str(what)? {
        Some(text) if text.len() > max => Err(ProtocolError::BadField(what)),
        other => Ok(other.map(str::to_owned)),
    }
}

/// A text the phone shows its user: length-capped and free of control, format
/// and bidi characters (`text::check_display_text`).
fn decode_display_text(
    d: &mut Decoder<'_>,
    what: &'static str,
    max: usize,
) -> Result<String, ProtocolError> {
    let text = d.str(what)?;
    super::text::check_display_text(text, max, what)?;
    Ok(text.to_owned())
}

fn decode_opt_display_text(
    d: &mut Decoder<'_>,
    what: &'static str,
    max: usize,
) -> Result<Option<String>, ProtocolError> {
    let text = d.opt_str(what)?;
    if let Some(text) = text {
        super::text::check_display_text(text, max, what)?;
    }
    Ok(text.map(str::to_owned))
}

fn decode_challenge(d: &mut Decoder<'_>) -> Result<Challenge, ProtocolError> {
    d.str("challenge")?.parse()
}

/// The 8 digits of a response, checked for form (not for value).
fn decode_response(d: &mut Decoder<'_>) -> Result<String, ProtocolError> {
    let text = d.str("response")?;
    if text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) || text.is_empty() {
        return Err(ProtocolError::BadField("response"));
    }
    Ok(text.to_owned())
}

/// The longest human-readable text field (names, descriptions).
pub const MAX_TEXT: usize = 256;
/// The longest notice text.
pub const MAX_NOTICE_TEXT: usize = 1024;
/// The longest push token.
pub const MAX_PUSH_TOKEN: usize = 4096;

// ---------------------------------------------------------------- server-signed

/// The server's answer to "activate this account on a phone": the signed
/// per-ticket X25519 key to encrypt the activation secrets to. Header: the new
/// enrollment id and the account's epoch when the ticket was issued; expires with
/// the SMS code (10 minutes).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ActivationTicket {
    /// The ticket.
    pub ticket: TicketId,
    /// The account name to show.
    pub account: String,
    /// The ticket's X25519 public key.
    pub ticket_key: TicketPublicKey,
    /// The HPKE suite (1).
    pub hpke_suite: u8,
    /// The OCRA suite the enrollment will use.
    pub ocra_suite: String,
    /// The matching modes the account's policy allows.
    pub matching_modes: Vec<MatchingMode>,
    /// Whether this activation would replace an existing phone.
    pub replacing: bool,
}

impl Message for ActivationTicket {
    const PURPOSE: &'static str = "activation-ticket";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(self.ticket.as_bytes())
            .str(&self.account)
            .bytes(&self.ticket_key.0)
            .u8(self.hpke_suite)
            .str(&self.ocra_suite)
            .count(self.matching_modes.len());
        for mode in &self.matching_modes {
            e.u8(mode.to_byte());
        }
        e.bool(self.replacing);
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        let ticket = TicketId::from_bytes(d.fixed("ticket id")?);
        let account = decode_text(d, "account", MAX_TEXT)?;
        let ticket_key = TicketPublicKey(d.fixed("ticket key")?);
        let hpke_suite = d.u8("hpke suite")?;
        let ocra_suite = decode_text(d, "OCRA suite", 64)?;
        let count = d.count("matching modes")?;
        let matching_modes = (0..count)
            .map(|_| MatchingMode::decode(d))
            .collect::<Result<_, _>>()?;
        let replacing = d.bool("replacing")?;
        Ok(Self {
            ticket,
            account,
            ticket_key,
            hpke_suite,
            ocra_suite,
            matching_modes,
            replacing,
        })
    }
}

/// The server's signed receipt of a completed activation. Header: the enrollment
/// and its (new) epoch. It fixes the policy of the enrollment: the phone refuses
/// weaker modes later.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ActivationReceipt {
    /// The account name.
    pub account: String,
    /// The OCRA suite.
    pub ocra_suite: String,
    /// The matching mode.
    pub matching_mode: MatchingMode,
    /// SHA-256 of the phone's device public key.
    pub device_key: [u8; 32],
    /// The enrollment's numbers.
    pub limits: EnrollmentLimits,
}

impl Message for ActivationReceipt {
    const PURPOSE: &'static str = "activation-receipt";

    fn encode_fields(&self, e: &mut Encoder) {
        e.str(&self.account)
            .str(&self.ocra_suite)
            .u8(self.matching_mode.to_byte())
            .bytes(&self.device_key);
        self.limits.encode(e);
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            account: decode_text(d, "account", MAX_TEXT)?,
            ocra_suite: decode_text(d, "OCRA suite", 64)?,
            matching_mode: MatchingMode::decode(d)?,
            device_key: d.fixed("device key")?,
            limits: EnrollmentLimits::decode(d)?,
        })
    }
}

/// A login waiting for the phone's approval, fetched by the phone after a push
/// (the push itself carries only the request id). Header: expires when the push
/// stops being answerable (2 minutes).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LoginRequest {
    /// The request (its text form is the push handle).
    pub request: RequestId,
    /// Which application asks ("Client Portal", "Trader Workstation").
    pub app: String,
    /// The client as it described itself (browser and system).
    pub client: String,
    /// Where the login comes from (address and, if known, place).
    pub origin: String,
    /// When the login was started.
    pub requested_at: u64,
    /// The matching mode.
    pub matching_mode: MatchingMode,
    /// The challenge, only in `tap` mode.
    pub challenge: Option<Challenge>,
}

impl Message for LoginRequest {
    const PURPOSE: &'static str = "login-request";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(self.request.as_bytes())
            .str(&self.app)
            .str(&self.client)
            .str(&self.origin)
            .u64(self.requested_at)
            .u8(self.matching_mode.to_byte())
            .opt_str(self.challenge.map(|c| c.to_string()).as_deref());
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        let request = RequestId::from_bytes(d.fixed("request id")?);
        let app = decode_display_text(d, "app", MAX_TEXT)?;
        let client = decode_display_text(d, "client", MAX_TEXT)?;
        let origin = decode_display_text(d, "origin", MAX_TEXT)?;
        let requested_at = d.u64("requested at")?;
        let matching_mode = MatchingMode::decode(d)?;
        let challenge = d.opt_str("challenge")?.map(str::parse).transpose()?;
        if (matching_mode == MatchingMode::Tap) != challenge.is_some() {
            return Err(ProtocolError::BadField(
                "challenge (present exactly in tap mode)",
            ));
        }
        Ok(Self {
            request,
            app,
            client,
            origin,
            requested_at,
            matching_mode,
            challenge,
        })
    }
}

/// A fresh challenge for a PIN proof, handed out in a sync answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ProofChallenge {
    /// The proof's id.
    pub proof: ProofId,
    /// The challenge the phone answers with the OCRA response.
    pub challenge: Challenge,
    /// When it stops being usable.
    pub expires_at: u64,
}

/// The server's answer to a sync. Header: issued at the server's time (the phone
/// learns its clock offset from it); expires 5 minutes later.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SyncAnswer {
    /// The nonce of the sync request answered (binds answer to request).
    pub nonce: [u8; 16],
    /// The enrollment's state.
    pub state: EnrollmentState,
    /// PIN-bound failures so far.
    pub failures: u64,
    /// If attempts are delayed: the time the next one is allowed.
    pub retry_after: Option<u64>,
    /// Whether the server holds a push token for this phone.
    pub push_registered: bool,
    /// Login requests waiting for this phone.
    pub pending: Vec<RequestId>,
    /// A fresh PIN-proof challenge.
    pub proof: Option<ProofChallenge>,
    /// Signed notices for this phone (each a [`Notice`] envelope).
    pub notices: Vec<Signed>,
    /// The enrollment's [`ActivationReceipt`] envelope once it is active (how a
    /// phone whose activation waited for approval or a hold period gets it).
    pub receipt: Option<Signed>,
}

impl Message for SyncAnswer {
    const PURPOSE: &'static str = "sync-answer";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(&self.nonce)
            .u8(self.state.to_byte())
            .u64(self.failures)
            .opt_u64(self.retry_after)
            .bool(self.push_registered)
            .count(self.pending.len());
        for request in &self.pending {
            e.bytes(request.as_bytes());
        }
        match &self.proof {
            Some(p) => {
                e.bool(true)
                    .bytes(p.proof.as_bytes())
                    .str(&p.challenge.to_string())
                    .u64(p.expires_at);
            }
            None => {
                e.bool(false);
            }
        }
        e.count(self.notices.len());
        for notice in &self.notices {
            e.bytes(notice.body()).bytes(notice.signature());
        }
        match &self.receipt {
            Some(receipt) => {
                e.bool(true)
                    .bytes(receipt.body())
                    .bytes(receipt.signature());
            }
            None => {
                e.bool(false);
            }
        }
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        let nonce = d.fixed("nonce")?;
        let state = EnrollmentState::decode(d)?;
        let failures = d.u64("failures")?;
        let retry_after = d.opt_u64("retry after")?;
        let push_registered = d.bool("push registered")?;
        let count = d.count("pending")?;
        let pending = (0..count)
            .map(|_| Ok(RequestId::from_bytes(d.fixed("request id")?)))
            .collect::<Result<_, ProtocolError>>()?;
        let proof = if d.bool("proof")? {
            Some(ProofChallenge {
                proof: ProofId::from_bytes(d.fixed("proof id")?),
                challenge: decode_challenge(d)?,
                expires_at: d.u64("proof expires at")?,
            })
        } else {
            None
        };
        let count = d.count("notices")?;
        let notices = (0..count)
            .map(|_| Signed::from_parts(d.bytes()?.to_vec(), d.bytes()?.to_vec()))
            .collect::<Result<_, _>>()?;
        let receipt = if d.bool("receipt")? {
            Some(Signed::from_parts(
                d.bytes()?.to_vec(),
                d.bytes()?.to_vec(),
            )?)
        } else {
            None
        };
        Ok(Self {
            nonce,
            state,
            failures,
            retry_after,
            push_registered,
            pending,
            proof,
            notices,
            receipt,
        })
    }
}

/// A signed notice to a phone. A `Revoked` notice naming this server, enrollment
/// and epoch is the only thing that makes a phone wipe an account.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Notice {
    /// What it says.
    pub kind: NoticeKind,
    /// A human-readable detail.
    pub text: String,
    /// For `Revoked` by replacement and `ReplacementPending`: the new phone's name.
    pub new_phone: Option<String>,
    /// When it takes or took effect (a replacement's end of hold; a revocation's time).
    pub effective_at: Option<u64>,
    /// The replacement concerned, if any.
    pub replacement: Option<ReplacementId>,
}

impl Message for Notice {
    const PURPOSE: &'static str = "notice";

    fn encode_fields(&self, e: &mut Encoder) {
        e.u8(self.kind.to_byte())
            .str(&self.text)
            .opt_str(self.new_phone.as_deref())
            .opt_u64(self.effective_at)
            .opt_bytes(self.replacement.as_ref().map(|r| r.as_bytes().as_slice()));
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            kind: NoticeKind::decode(d)?,
            text: decode_display_text(d, "text", MAX_NOTICE_TEXT)?,
            new_phone: decode_opt_display_text(d, "new phone", MAX_TEXT)?,
            effective_at: d.opt_u64("effective at")?,
            replacement: d
                .opt_bytes("replacement")?
                .map(ReplacementId::from_slice)
                .transpose()?,
        })
    }
}

/// The phone asks for a [`RekeyTicket`] (before a PIN change).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RekeyRequest {
    /// A fresh random nonce (the server refuses a nonce it has seen).
    pub nonce: [u8; 16],
}

impl Message for RekeyRequest {
    const PURPOSE: &'static str = "rekey-request";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(&self.nonce);
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            nonce: d.fixed("nonce")?,
        })
    }
}

/// A fresh signed X25519 key for a PIN change.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RekeyTicket {
    /// The ticket.
    pub ticket: TicketId,
    /// Its X25519 public key.
    pub ticket_key: TicketPublicKey,
    /// The HPKE suite (1).
    pub hpke_suite: u8,
}

impl Message for RekeyTicket {
    const PURPOSE: &'static str = "rekey-ticket";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(self.ticket.as_bytes())
            .bytes(&self.ticket_key.0)
            .u8(self.hpke_suite);
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            ticket: TicketId::from_bytes(d.fixed("ticket id")?),
            ticket_key: TicketPublicKey(d.fixed("ticket key")?),
            hpke_suite: d.u8("hpke suite")?,
        })
    }
}

// ---------------------------------------------------------------- phone-signed

/// The phone's activation: the new device key and the encrypted secrets, signed by
/// that same device key (proving it holds it). Header: the ticket's enrollment and
/// epoch.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ActivationRequest {
    /// The ticket answered.
    pub ticket: TicketId,
    /// The new device public key.
    pub device_key: DevicePublicKey,
    /// HPKE's encapsulated key.
    pub enc: [u8; 32],
    /// The encrypted [`ActivationSecret`].
    pub ciphertext: Vec<u8>,
}

impl Message for ActivationRequest {
    const PURPOSE: &'static str = "activation-request";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(self.ticket.as_bytes())
            .bytes(self.device_key.as_bytes())
            .bytes(&self.enc)
            .bytes(&self.ciphertext);
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            ticket: TicketId::from_bytes(d.fixed("ticket id")?),
            device_key: DevicePublicKey::from_slice(d.bytes()?)?,
            enc: d.fixed("enc")?,
            ciphertext: d.bytes()?.to_vec(),
        })
    }
}

/// What the activation encrypts to the ticket key.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationSecret {
    /// The 13-digit activation code from the SMS.
    pub code: SecretBytes,
    /// `k_user`.
    pub k_user: SecretBytes,
    /// The push token, if the phone has one.
    pub push_token: Option<String>,
    /// The platform.
    pub platform: Platform,
    /// The app's version.
    pub app_version: String,
    /// Where the device key lives (self-declared).
    pub keystore: KeystoreKind,
    /// The phone's name, shown to the user ("Anna's Pixel").
    pub device_name: String,
}

impl std::fmt::Debug for ActivationSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationSecret")
            .field("code", &self.code)
            .field("k_user", &self.k_user)
            .field("platform", &self.platform)
            .field("app_version", &self.app_version)
            .field("keystore", &self.keystore)
            .field("device_name", &self.device_name)
            .finish_non_exhaustive()
    }
}

impl ActivationSecret {
    /// The purpose of the canonical plaintext (and of its HPKE info).
    pub const PURPOSE: &'static str = "activation-secret";

    /// The canonical plaintext.
    pub fn to_plaintext(&self) -> SecretBytes {
        // expose_secret: the code and k_user are what gets encrypted.
        SecretBytes::new(
            Encoder::new(Self::PURPOSE)
                .bytes(self.code.expose_secret())
                .bytes(self.k_user.expose_secret())
                .opt_str(self.push_token.as_deref())
                .u8(self.platform.to_byte())
                .str(&self.app_version)
                .u8(self.keystore.to_byte())
                .str(&self.device_name)
                .finish(),
        )
    }

    /// Parses a decrypted plaintext.
    pub fn from_plaintext(plaintext: &SecretBytes) -> Result<Self, ProtocolError> {
        let mut d = Decoder::new(plaintext.expose_secret(), Self::PURPOSE)?;
        let code = SecretBytes::from_slice(d.bytes()?);
        let k_user = SecretBytes::from_slice(&d.fixed::<32>("k_user")?);
        let push_token = decode_opt_text(&mut d, "push token", MAX_PUSH_TOKEN)?;
        let platform = Platform::decode(&mut d)?;
        let app_version = decode_text(&mut d, "app version", 64)?;
        let keystore = KeystoreKind::decode(&mut d)?;
        let device_name = decode_display_text(&mut d, "device name", MAX_TEXT)?;
        d.finish()?;
        if code.len() != 13 || !code.expose_secret().iter().all(u8::is_ascii_digit) {
            return Err(ProtocolError::BadField("activation code"));
        }
        Ok(Self {
            code,
            k_user,
            push_token,
            platform,
            app_version,
            keystore,
            device_name,
        })
    }
}

/// The phone's periodic check-in (every app open while online, every push-token
/// refresh). Its nonce comes back in the answer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SyncRequest {
    /// A fresh random nonce.
    pub nonce: [u8; 16],
    /// The current push token, if any.
    pub push_token: Option<String>,
    /// The platform.
    pub platform: Platform,
    /// The app's version.
    pub app_version: String,
    /// Whether the user allows notifications.
    pub notifications_enabled: bool,
}

impl Message for SyncRequest {
    const PURPOSE: &'static str = "sync-request";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(&self.nonce)
            .opt_str(self.push_token.as_deref())
            .u8(self.platform.to_byte())
            .str(&self.app_version)
            .bool(self.notifications_enabled);
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            nonce: d.fixed("nonce")?,
            push_token: decode_opt_text(d, "push token", MAX_PUSH_TOKEN)?,
            platform: Platform::decode(d)?,
            app_version: decode_text(d, "app version", 64)?,
            notifications_enabled: d.bool("notifications enabled")?,
        })
    }
}

/// "Show me this login request" (after a push, or from the sync's pending list).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FetchRequest {
    /// The request.
    pub request: RequestId,
}

impl Message for FetchRequest {
    const PURPOSE: &'static str = "fetch-request";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(self.request.as_bytes());
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            request: RequestId::from_bytes(d.fixed("request id")?),
        })
    }
}

/// The phone approves a login: the code the user typed (read off the login
/// screen) and the OCRA response to it under `k_user`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Approval {
    /// The request approved.
    pub request: RequestId,
    /// The code the user typed.
    pub typed_code: Challenge,
    /// The OCRA response to the typed code.
    pub response: String,
}

impl Message for Approval {
    const PURPOSE: &'static str = "approval";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(self.request.as_bytes())
            .str(&self.typed_code.to_string())
            .str(&self.response);
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            request: RequestId::from_bytes(d.fixed("request id")?),
            typed_code: decode_challenge(d)?,
            response: decode_response(d)?,
        })
    }
}

/// The phone denies a login ("This wasn't me" reports it). Needs no PIN.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Denial {
    /// The request denied.
    pub request: RequestId,
    /// Why.
    pub reason: DenialReason,
}

impl Message for Denial {
    const PURPOSE: &'static str = "denial";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(self.request.as_bytes()).u8(self.reason.to_byte());
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            request: RequestId::from_bytes(d.fixed("request id")?),
            reason: DenialReason::decode(d)?,
        })
    }
}

/// A PIN proof: the OCRA response to a server-issued proof challenge, bound to
/// the action it authorises and its target.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PinProof {
    /// The proof challenge answered.
    pub proof: ProofId,
    /// What it authorises.
    pub action: ProofAction,
    /// The action's object (a replacement id; empty otherwise).
    pub target: Vec<u8>,
    /// The OCRA response to the proof challenge.
    pub response: String,
}

impl Message for PinProof {
    const PURPOSE: &'static str = "pin-proof";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(self.proof.as_bytes())
            .u8(self.action.to_byte())
            .bytes(&self.target)
            .str(&self.response);
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        let proof = ProofId::from_bytes(d.fixed("proof id")?);
        let action = ProofAction::decode(d)?;
        let target = d.bytes()?;
        if target.len() > 64 {
            return Err(ProtocolError::BadField("target"));
        }
        Ok(Self {
            proof,
            action,
            target: target.to_vec(),
            response: decode_response(d)?,
        })
    }
}

/// A PIN change: a PIN proof under the old PIN and the new `k_user` encrypted to
/// a [`RekeyTicket`] key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PinChange {
    /// The proof challenge answered (with the OLD `k_user`).
    pub proof: ProofId,
    /// The OCRA response to it.
    pub response: String,
    /// The rekey ticket.
    pub ticket: TicketId,
    /// HPKE's encapsulated key.
    pub enc: [u8; 32],
    /// The encrypted [`PinChangeSecret`].
    pub ciphertext: Vec<u8>,
}

impl Message for PinChange {
    const PURPOSE: &'static str = "pin-change";

    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(self.proof.as_bytes())
            .str(&self.response)
            .bytes(self.ticket.as_bytes())
            .bytes(&self.enc)
            .bytes(&self.ciphertext);
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            proof: ProofId::from_bytes(d.fixed("proof id")?),
            response: decode_response(d)?,
            ticket: TicketId::from_bytes(d.fixed("ticket id")?),
            enc: d.fixed("enc")?,
            ciphertext: d.bytes()?.to_vec(),
        })
    }
}

/// What a PIN change encrypts: the new `k_user`.
#[derive(Clone, PartialEq, Eq)]
pub struct PinChangeSecret {
    /// The new `k_user`.
    pub k_user: SecretBytes,
}

impl std::fmt::Debug for PinChangeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinChangeSecret([redacted])")
    }
}

impl PinChangeSecret {
    /// The purpose of the canonical plaintext (and of its HPKE info).
    pub const PURPOSE: &'static str = "pin-change-secret";

    /// The canonical plaintext.
    pub fn to_plaintext(&self) -> SecretBytes {
        // expose_secret: k_user is what gets encrypted.
        SecretBytes::new(
            Encoder::new(Self::PURPOSE)
                .bytes(self.k_user.expose_secret())
                .finish(),
        )
    }

    /// Parses a decrypted plaintext.
    pub fn from_plaintext(plaintext: &SecretBytes) -> Result<Self, ProtocolError> {
        let mut d = Decoder::new(plaintext.expose_secret(), Self::PURPOSE)?;
        let k_user = SecretBytes::from_slice(&d.fixed::<32>("k_user")?);
        d.finish()?;
        Ok(Self { k_user })
    }
}

/// The phone removes its account: the server revokes the enrollment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Removal {
    /// Why, in the user's words or the app's.
    pub reason: String,
}

impl Message for Removal {
    const PURPOSE: &'static str = "removal";

    fn encode_fields(&self, e: &mut Encoder) {
        e.str(&self.reason);
    }

    fn decode_fields(d: &mut Decoder<'_>) -> Result<Self, ProtocolError> {
        Ok(Self {
            reason: decode_text(d, "reason", MAX_TEXT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matching_mode_reads_and_writes_only_its_lowercase_name() {
        for (mode, text) in [(MatchingMode::Code, "code"), (MatchingMode::Tap, "tap")] {
            assert_eq!(mode.as_str(), text);
            assert_eq!(text.parse::<MatchingMode>().unwrap(), mode);
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<MatchingMode>(&json).unwrap(), mode);
        }
        for bad in ["Code", "TAP", "push", "", "1"] {
            assert!(bad.parse::<MatchingMode>().is_err(), "{bad}");
            let json = format!("\"{bad}\"");
            assert!(
                serde_json::from_str::<MatchingMode>(&json).is_err(),
                "{bad}"
            );
        }
        assert!(serde_json::from_str::<MatchingMode>("1").is_err());
    }
}
