//! Secrets sent to the server (activation, PIN change) are encrypted to a fresh
//! per-ticket X25519 key with HPKE (RFC 9180): base mode,
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM — suite id 1 here.
//!
//! The ticket's public key reaches the phone inside a server-signed ticket, so the
//! phone encrypts only to a key the pinned server vouched for. `info` binds the
//! ciphertext to its purpose, ticket and enrollment; the phone's signature over the
//! request binds it to the phone.
//!
//! ring cannot persist an X25519 private key (briansmith/ring#331), so the `hpke`
//! crate holds both halves.

use super::ProtocolError;
use super::codec::Encoder;
use super::{EnrollmentId, TicketId};
use crate::secret::SecretBytes;
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};

type Kem = X25519HkdfSha256;

/// The only HPKE suite of protocol v1.
pub const HPKE_SUITE_V1: u8 = 1;

/// A ticket's X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TicketPublicKey(pub [u8; 32]);

/// A ticket's X25519 private key (kept sealed with the ticket on the server).
#[derive(Clone)]
pub struct TicketSecretKey(SecretBytes);

impl std::fmt::Debug for TicketSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketSecretKey([redacted])")
    }
}

impl TicketSecretKey {
    /// The private key's 32 bytes, to seal them at rest.
    pub fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// A private key from its stored bytes.
    pub fn from_secret(bytes: SecretBytes) -> Result<Self, ProtocolError> {
        if bytes.len() != 32 {
            return Err(ProtocolError::BadKey("ticket private key"));
        }
        Ok(Self(bytes))
    }
}

/// A fresh ticket key pair from the operating system's generator.
pub fn new_ticket_key() -> Result<(TicketSecretKey, TicketPublicKey), ProtocolError> {
    let ikm: [u8; 32] = super::ids::random_bytes()?;
    Ok(ticket_key_from_ikm(&ikm))
}

/// The ticket key pair RFC 9180's `DeriveKeyPair` makes from `ikm` (vectors use it).
pub fn ticket_key_from_ikm(ikm: &[u8; 32]) -> (TicketSecretKey, TicketPublicKey) {
    let (secret, public) = Kem::derive_keypair(ikm);
    let secret: [u8; 32] = secret.to_bytes().into();
    let public: [u8; 32] = public.to_bytes().into();
    (
        TicketSecretKey(SecretBytes::from_slice(&secret)),
        TicketPublicKey(public),
    )
}

/// The HPKE `info` of a sealed secret: its purpose, ticket and enrollment.
pub fn hpke_info(purpose: &str, ticket: &TicketId, enrollment: &EnrollmentId) -> Vec<u8> {
    Encoder::new("hpke-info")
        .str(purpose)
        .bytes(ticket.as_bytes())
        .bytes(enrollment.as_bytes())
        .finish()
}

/// An encrypted secret: HPKE's encapsulated key and the ciphertext (with its tag).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SealedSecret {
    /// The 32-byte encapsulated (ephemeral) key.
    pub enc: [u8; 32],
    /// The AES-256-GCM ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

/// Replays fixed ephemeral bytes to hpke (HPKE draws exactly 32 bytes per seal).
struct FixedEphemeral {
    bytes: [u8; 32],
    used: usize,
}

impl hpke::rand_core::TryRng for FixedEphemeral {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst.iter_mut() {
            // Past the 32 bytes (never, for one seal) the stream is exhausted: zeros
            // would be unsafe, so repeat the bytes XORed with a counter — and the
            // sealing code below refuses any draw beyond 32 bytes anyway.
            *byte = self.bytes[self.used % 32] ^ (self.used / 32) as u8;
            self.used += 1;
        }
        Ok(())
    }
}

impl hpke::rand_core::TryCryptoRng for FixedEphemeral {}

/// Encrypts `plaintext` to a ticket key with fresh randomness.
pub fn seal_secret(
    recipient: &TicketPublicKey,
    info: &[u8],
    plaintext: &SecretBytes,
) -> Result<SealedSecret, ProtocolError> {
    let ephemeral: [u8; 32] = super::ids::random_bytes()?;
    seal_secret_with_ephemeral(recipient, info, plaintext, ephemeral)
}

/// Encrypts with the given ephemeral key material. FOR TEST VECTORS ONLY: reusing
/// ephemeral bytes for two plaintexts breaks their confidentiality.
pub fn seal_secret_with_ephemeral(
    recipient: &TicketPublicKey,
    info: &[u8],
    plaintext: &SecretBytes,
    ephemeral: [u8; 32],
) -> Result<SealedSecret, ProtocolError> {
    let public = <Kem as hpke::Kem>::PublicKey::from_bytes(&recipient.0)
        .map_err(|_| ProtocolError::BadKey("ticket public key"))?;
    let mut rng = FixedEphemeral {
        bytes: ephemeral,
        used: 0,
    };
    // expose_secret: the plaintext is what is being encrypted.
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<AesGcm256, HkdfSha256, Kem>(
        &OpModeS::Base,
        &public,
        info,
        plaintext.expose_secret(),
        &[],
        &mut rng,
    )
    .map_err(|_| ProtocolError::Encryption)?;
    if rng.used != 32 {
        return Err(ProtocolError::Encryption);
    }
    Ok(SealedSecret {
        enc: enc.to_bytes().into(),
        ciphertext,
    })
}

/// Decrypts a sealed secret with the ticket's private key. Any failure is the one
/// opaque [`ProtocolError::Decryption`].
pub fn open_secret(
    secret_key: &TicketSecretKey,
    info: &[u8],
    sealed: &SealedSecret,
) -> Result<SecretBytes, ProtocolError> {
    let private = <Kem as hpke::Kem>::PrivateKey::from_bytes(secret_key.expose_secret())
        .map_err(|_| ProtocolError::Decryption)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc)
        .map_err(|_| ProtocolError::Decryption)?;
    hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(
        &OpModeR::Base,
        &private,
        &enc,
        info,
        &sealed.ciphertext,
        &[],
    )
    .map(SecretBytes::new)
    .map_err(|_| ProtocolError::Decryption)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_info() {
        let (secret, public) = new_ticket_key().unwrap();
        let ticket = TicketId::from_bytes([1; 16]);
        let enrollment = EnrollmentId::from_bytes([2; 16]);
        let info = hpke_info("activation-secret", &ticket, &enrollment);
        let plaintext = SecretBytes::from_slice(b"k_user and the SMS code");
        let sealed = seal_secret(&public, &info, &plaintext).unwrap();
        assert_eq!(open_secret(&secret, &info, &sealed).unwrap(), plaintext);

        let other_info = hpke_info("pin-change-secret", &ticket, &enrollment);
        assert_eq!(
            open_secret(&secret, &other_info, &sealed),
            Err(ProtocolError::Decryption)
        );
        let (other_key, _) = new_ticket_key().unwrap();
        assert_eq!(
            open_secret(&other_key, &info, &sealed),
            Err(ProtocolError::Decryption)
        );
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(
            open_secret(&secret, &info, &tampered),
            Err(ProtocolError::Decryption)
        );
    }

    #[test]
    fn fixed_ephemeral_bytes_give_fixed_ciphertexts() {
        let (_, public) = ticket_key_from_ikm(&[7; 32]);
        let plaintext = SecretBytes::from_slice(b"vector");
        let a = seal_secret_with_ephemeral(&public, b"info", &plaintext, [9; 32]).unwrap();
        let b = seal_secret_with_ephemeral(&public, b"info", &plaintext, [9; 32]).unwrap();
        assert_eq!(a, b);
        let c = seal_secret(&public, b"info", &plaintext).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn debug_of_ticket_secret_key_is_redacted() {
        let (secret, _) = new_ticket_key().unwrap();
        assert_eq!(format!("{secret:?}"), "TicketSecretKey([redacted])");
    }
}
