//! Signed envelopes: how every message travels.
//!
//! A message's body is its canonical encoding ([`super::codec`]): the domain label
//! of its purpose, a header, then its own fields. The envelope is the body and a
//! signature over exactly those bytes — the server's Ed25519 signature for
//! server → phone messages, the phone's ECDSA P-256 (ASN.1 DER) signature for
//! phone → server messages. On the wire it is JSON `{"body": b64url, "sig": b64url}`.
//!
//! Receivers check in this order, and use nothing before the check that guards it:
//! purpose (label), signature, server, enrollment, epoch, validity window, then the
//! message's own fields (and that no bytes are left over). The result of a
//! successful check is a [`Verified`] value, which only this module can make.

use super::codec::{Decoder, Encoder};
use super::keys::DevicePublicKey;
use super::{EnrollmentId, ProtocolError, ServerFingerprint, ServerPublicKey};

/// The largest envelope body, in bytes.
pub const MAX_BODY_LEN: usize = super::codec::MAX_MESSAGE_LEN;

/// Something that signs: the server's Ed25519 key holder or the phone's keystore.
pub trait Signer {
    /// The signature over `message`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ProtocolError>;
}

/// A message of the protocol: its purpose and its own fields.
pub trait Message: Sized {
    /// The purpose; the label is `latchkey/v1/<PURPOSE>`.
    const PURPOSE: &'static str;
    /// Writes the message's own fields (after the header).
    fn encode_fields(&self, encoder: &mut Encoder);
    /// Reads the message's own fields (after the header).
    fn decode_fields(decoder: &mut Decoder<'_>) -> Result<Self, ProtocolError>;
}

/// The body and its signature.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    #[serde(with = "b64_field")]
    body: Vec<u8>,
    #[serde(rename = "sig", with = "b64_field")]
    signature: Vec<u8>,
}

mod b64_field {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::super::b64::encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        super::super::b64::decode(&text).map_err(serde::de::Error::custom)
    }
}

impl Signed {
    /// An envelope from its parts (as read from storage or a vector file).
    pub fn from_parts(body: Vec<u8>, signature: Vec<u8>) -> Result<Self, ProtocolError> {
        if body.len() > MAX_BODY_LEN {
            return Err(ProtocolError::Oversized {
                len: body.len(),
                max: MAX_BODY_LEN,
            });
        }
        if signature.len() > 128 {
            return Err(ProtocolError::BadField("signature"));
        }
        Ok(Self { body, signature })
    }

    /// The signed bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The JSON text of the envelope.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses the JSON text of an envelope.
    pub fn from_json(text: &str) -> Result<Self, ProtocolError> {
        if text.len() > 2 * MAX_BODY_LEN {
            return Err(ProtocolError::Oversized {
                len: text.len(),
                max: 2 * MAX_BODY_LEN,
            });
        }
        let parsed: Self = serde_json::from_str(text).map_err(|_| ProtocolError::BadJson)?;
        Self::from_parts(parsed.body, parsed.signature)
    }

    /// The purpose label this envelope claims (unverified), to route it.
    pub fn claimed_purpose(&self) -> Result<&str, ProtocolError> {
        let label = Decoder::peek_label(&self.body)?;
        std::str::from_utf8(label)
            .ok()
            .and_then(|l| l.strip_prefix("latchkey/v1/"))
            .ok_or(ProtocolError::BadField("label"))
    }
}

/// The header of every server-signed message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ServerHeader {
    /// The server that signed it.
    pub server: ServerFingerprint,
    /// The enrollment it is about.
    pub enrollment: EnrollmentId,
    /// The account epoch it belongs to.
    pub epoch: u64,
    /// When it was issued (server time, Unix seconds).
    pub issued_at: u64,
    /// When it stops being valid (Unix seconds).
    pub expires_at: u64,
}

/// The header of every phone-signed message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DeviceHeader {
    /// The server it is addressed to.
    pub server: ServerFingerprint,
    /// The phone's enrollment.
    pub enrollment: EnrollmentId,
    /// The epoch the phone believes its enrollment has.
    pub epoch: u64,
    /// When the phone made it (its clock corrected by its server offset).
    pub issued_at: u64,
}

/// What a receiver expects of a server-signed message.
#[derive(Clone, Copy, Debug)]
pub struct ServerExpectation {
    /// The pinned server.
    pub server: ServerFingerprint,
    /// The enrollment, when the receiver already knows it (not for a ticket).
    pub enrollment: Option<EnrollmentId>,
    /// The epoch, when the receiver already knows it.
    pub epoch: Option<u64>,
    /// The receiver's time (the phone's clock corrected by its offset).
    pub now: u64,
    /// How far in the future `issued_at` may be (clock skew), in seconds.
    pub skew: u64,
}

/// How far in the future a server-signed message's `issued_at` may be from the
/// phone's corrected clock, in seconds (`docs/PROTOCOL.md` §5, check 6): the
/// phone's [`ServerExpectation::skew`].
pub const SERVER_CLOCK_SKEW: u64 = 60;

/// How far a phone-signed message's `issued_at` may be from server time, either
/// way, in seconds (`docs/PROTOCOL.md` §5): the server's
/// [`DeviceExpectation::max_skew`].
pub const DEVICE_MAX_SKEW: u64 = 600;

/// What the server expects of a phone-signed message.
#[derive(Clone, Copy, Debug)]
pub struct DeviceExpectation {
    /// This server.
    pub server: ServerFingerprint,
    /// The enrollment whose key verified the signature.
    pub enrollment: EnrollmentId,
    /// The enrollment's epoch.
    pub epoch: u64,
    /// The server's time.
    pub now: u64,
    /// How far from `now` the phone's `issued_at` may be, either way, in seconds.
    pub max_skew: u64,
}

/// A message whose signature and header were checked. Only this module makes one.
#[derive(Debug, Clone)]
pub struct Verified<H, M> {
    header: H,
    message: M,
}

impl<H: Copy, M> Verified<H, M> {
    /// The checked header.
    pub fn header(&self) -> H {
        self.header
    }

    /// The checked message.
    pub fn message(&self) -> &M {
        &self.message
    }

    /// The checked message, by value.
    pub fn into_message(self) -> M {
        self.message
    }
}

fn encode_server_header(encoder: &mut Encoder, h: &ServerHeader) {
    encoder
        .bytes(h.server.as_bytes())
        .bytes(h.enrollment.as_bytes())
        .u64(h.epoch)
        .u64(h.issued_at)
        .u64(h.expires_at);
}

fn decode_server_header(d: &mut Decoder<'_>) -> Result<ServerHeader, ProtocolError> {
    Ok(ServerHeader {
        server: ServerFingerprint::from_bytes(d.fixed("server")?),
        enrollment: EnrollmentId::from_bytes(d.fixed("enrollment id")?),
        epoch: d.u64("epoch")?,
        issued_at: d.u64("issued at")?,
        expires_at: d.u64("expires at")?,
    })
}

fn encode_device_header(encoder: &mut Encoder, h: &DeviceHeader) {
    encoder
        .bytes(h.server.as_bytes())
        .bytes(h.enrollment.as_bytes())
        .u64(h.epoch)
        .u64(h.issued_at);
}

fn decode_device_header(d: &mut Decoder<'_>) -> Result<DeviceHeader, ProtocolError> {
    Ok(DeviceHeader {
        server: ServerFingerprint::from_bytes(d.fixed("server")?),
        enrollment: EnrollmentId::from_bytes(d.fixed("enrollment id")?),
        epoch: d.u64("epoch")?,
        issued_at: d.u64("issued at")?,
    })
}

/// The canonical body of a server-signed message.
pub fn server_body<M: Message>(header: &ServerHeader, message: &M) -> Vec<u8> {
    let mut encoder = Encoder::new(M::PURPOSE);
    encode_server_header(&mut encoder, header);
    message.encode_fields(&mut encoder);
    encoder.finish()
}

/// The canonical body of a phone-signed message.
pub fn device_body<M: Message>(header: &DeviceHeader, message: &M) -> Vec<u8> {
    let mut encoder = Encoder::new(M::PURPOSE);
    encode_device_header(&mut encoder, header);
    message.encode_fields(&mut encoder);
    encoder.finish()
}

/// Signs a server message.
pub fn sign_server<M: Message>(
    header: &ServerHeader,
    message: &M,
    signer: &dyn Signer,
) -> Result<Signed, ProtocolError> {
    let body = server_body(header, message);
    let signature = signer.sign(&body)?;
    Signed::from_parts(body, signature)
}

/// Signs a phone message.
pub fn sign_device<M: Message>(
    header: &DeviceHeader,
    message: &M,
    signer: &dyn Signer,
) -> Result<Signed, ProtocolError> {
    let body = device_body(header, message);
    let signature = signer.sign(&body)?;
    Signed::from_parts(body, signature)
}

/// Checks a server-signed message: purpose, signature by `key`, server,
/// enrollment, epoch, validity window, then its fields.
pub fn open_server<M: Message>(
    signed: &Signed,
    key: &ServerPublicKey,
    expect: &ServerExpectation,
) -> Result<Verified<ServerHeader, M>, ProtocolError> {
    let mut decoder = Decoder::new(&signed.body, M::PURPOSE)?;
    key.verify(&signed.body, &signed.signature)?;
    let header = decode_server_header(&mut decoder)?;
    if header.server != expect.server || key.fingerprint() != expect.server {
        return Err(ProtocolError::WrongServer);
    }
    if expect.enrollment.is_some_and(|e| e != header.enrollment) {
        return Err(ProtocolError::WrongEnrollment);
    }
    if let Some(expected) = expect.epoch.filter(|&e| e != header.epoch) {
        return Err(ProtocolError::WrongEpoch {
            expected,
            found: header.epoch,
        });
    }
    if header.issued_at > expect.now.saturating_add(expect.skew) {
        return Err(ProtocolError::NotYetValid {
            issued_at: header.issued_at,
            now: expect.now,
        });
    }
    if expect.now >= header.expires_at {
        return Err(ProtocolError::Expired {
            expires_at: header.expires_at,
            now: expect.now,
        });
    }
    let message = M::decode_fields(&mut decoder)?;
    decoder.finish()?;
    Ok(Verified { header, message })
}

/// Reads the header of a phone-signed message WITHOUT checking it, so the server
/// can look up the enrollment's key. Nothing else may be used before [`open_device`].
pub fn peek_device_header<M: Message>(signed: &Signed) -> Result<DeviceHeader, ProtocolError> {
    let mut decoder = Decoder::new(&signed.body, M::PURPOSE)?;
    decode_device_header(&mut decoder)
}

/// Checks a phone-signed message: purpose, signature by the enrollment's device
/// key, server, enrollment, epoch, freshness, then its fields.
pub fn open_device<M: Message>(
    signed: &Signed,
    key: &DevicePublicKey,
    expect: &DeviceExpectation,
) -> Result<Verified<DeviceHeader, M>, ProtocolError> {
    let mut decoder = Decoder::new(&signed.body, M::PURPOSE)?;
    key.verify(&signed.body, &signed.signature)?;
    let header = decode_device_header(&mut decoder)?;
    if header.server != expect.server {
        return Err(ProtocolError::WrongServer);
    }
    if header.enrollment != expect.enrollment {
        return Err(ProtocolError::WrongEnrollment);
    }
    if header.epoch != expect.epoch {
        return Err(ProtocolError::WrongEpoch {
            expected: expect.epoch,
            found: header.epoch,
        });
    }
    if header.issued_at > expect.now.saturating_add(expect.max_skew) {
        return Err(ProtocolError::NotYetValid {
            issued_at: header.issued_at,
            now: expect.now,
        });
    }
    if expect.now > header.issued_at.saturating_add(expect.max_skew) {
        return Err(ProtocolError::Expired {
            expires_at: header.issued_at.saturating_add(expect.max_skew),
            now: expect.now,
        });
    }
    let message = M::decode_fields(&mut decoder)?;
    decoder.finish()?;
    Ok(Verified { header, message })
}

/// A phone-signed message read WITHOUT any check, for the one case where the key
/// that verifies it is inside it (the activation request carries the new device
/// key) or where the receiver must look something up first. Use only to find the
/// key and expectation, then call [`open_device`].
pub fn peek_device_unverified<M: Message>(
    signed: &Signed,
) -> Result<(DeviceHeader, M), ProtocolError> {
    let mut decoder = Decoder::new(&signed.body, M::PURPOSE)?;
    let header = decode_device_header(&mut decoder)?;
    let message = M::decode_fields(&mut decoder)?;
    decoder.finish()?;
    Ok((header, message))
}

impl Signer for ring::signature::Ed25519KeyPair {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        Ok(ring::signature::Ed25519KeyPair::sign(self, message)
            .as_ref()
            .to_vec())
    }
}

/// The `issued_at` a server-signed message claims, read WITHOUT any check. A
/// phone checks nonce- or key-bound answers (sync answers, receipts) at their own
/// time (ADR 0002); everything, the signature first, is still checked after.
pub fn peek_server_issued_at(signed: &Signed) -> Result<u64, ProtocolError> {
    let purpose = signed.claimed_purpose()?;
    let mut decoder = Decoder::new(&signed.body, purpose)?;
    Ok(decode_server_header(&mut decoder)?.issued_at)
}
