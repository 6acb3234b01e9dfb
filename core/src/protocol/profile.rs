//! The server profile: how an app knows which server it talks to.
//!
//! A profile is the server's base URL and its long-term Ed25519 public key (or just
//! the key's SHA-256 fingerprint, in which case the key is fetched once from the
//! server and checked against the fingerprint). App developers compile it in;
//! `latchkey serve` writes it to its data folder and prints it.
//!
//! Invariants: a profile's key is always a 32-byte Ed25519 key; the fingerprint is
//! SHA-256 of those 32 bytes and is what every signed message names as its server;
//! the base URL is `http://` or `https://` with a host and no query or fragment.

use super::ProtocolError;
use crate::encoding::{decode_hex, encode_hex};
use ring::digest;
use ring::signature::{ED25519, UnparsedPublicKey};

/// The SHA-256 fingerprint of a server's Ed25519 public key; the server's name in
/// every signed message. Text form: `sha256:` and 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerFingerprint([u8; 32]);

impl ServerFingerprint {
    /// The fingerprint's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The fingerprint with these bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl std::fmt::Display for ServerFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", encode_hex(&self.0))
    }
}

impl std::fmt::Debug for ServerFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerFingerprint({self})")
    }
}

impl std::str::FromStr for ServerFingerprint {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hex = text
            .strip_prefix("sha256:")
            .ok_or(ProtocolError::BadKey("server fingerprint"))?;
        if hex.len() != 64 || hex.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ProtocolError::BadKey("server fingerprint"));
        }
        let bytes = decode_hex(hex).map_err(|_| ProtocolError::BadKey("server fingerprint"))?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(Self)
            .map_err(|_| ProtocolError::BadKey("server fingerprint"))
    }
}

/// A server's long-term Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerPublicKey([u8; 32]);

impl ServerPublicKey {
    /// Wraps 32 bytes as an Ed25519 public key.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| ProtocolError::BadKey("server public key"))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// SHA-256 of the key.
    pub fn fingerprint(&self) -> ServerFingerprint {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, &self.0).as_ref());
        ServerFingerprint(out)
    }

    /// Checks an Ed25519 signature by this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), ProtocolError> {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .map_err(|_| ProtocolError::BadSignature)
    }
}

impl std::fmt::Debug for ServerPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerPublicKey({})", super::b64::encode(&self.0))
    }
}

/// What the app is configured with: the server's URL and its key or fingerprint.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ServerProfile {
    base_url: String,
    public_key: ServerPublicKey,
}

/// The JSON form of a profile (what `latchkey serve` writes and prints).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileJson {
    v: u32,
    base_url: String,
    public_key: String,
    fingerprint: String,
}

impl ServerProfile {
    /// A profile; the URL must be `http(s)://host[:port][/path]` without query or fragment.
    pub fn new(base_url: &str, public_key: ServerPublicKey) -> Result<Self, ProtocolError> {
        let rest = base_url
            .strip_prefix("https://")
            .or_else(|| base_url.strip_prefix("http://"))
            .ok_or(ProtocolError::BadField("base URL (http:// or https://)"))?;
        let host = rest.split('/').next().unwrap_or("");
        if host.is_empty() || base_url.contains(['?', '#', ' ']) || base_url.len() > 2048 {
            return Err(ProtocolError::BadField("base URL"));
        }
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            public_key,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The server's Ed25519 public key.
    pub fn public_key(&self) -> &ServerPublicKey {
        &self.public_key
    }

    /// The server's fingerprint, its name in every signed message.
    pub fn fingerprint(&self) -> ServerFingerprint {
        self.public_key.fingerprint()
    }

    /// The JSON text of the profile.
    pub fn to_json(&self) -> String {
        let json = ProfileJson {
            v: 1,
            base_url: self.base_url.clone(),
            public_key: super::b64::encode(self.public_key.as_bytes()),
            fingerprint: self.fingerprint().to_string(),
        };
        serde_json::to_string_pretty(&json).unwrap_or_default()
    }

    /// Parses the JSON text of a profile, checking that the fingerprint matches the key.
    pub fn from_json(text: &str) -> Result<Self, ProtocolError> {
        let json: ProfileJson = serde_json::from_str(text).map_err(|_| ProtocolError::BadJson)?;
        if json.v != 1 {
            return Err(ProtocolError::UnsupportedVersion(json.v));
        }
        let key = ServerPublicKey::from_slice(&super::b64::decode(&json.public_key)?)?;
        if json.fingerprint.parse::<ServerFingerprint>()? != key.fingerprint() {
            return Err(ProtocolError::FingerprintMismatch);
        }
        Self::new(&json.base_url, key)
    }

    /// Builds a profile from a pinned fingerprint and a key the server served,
    /// refusing a key that does not match the pin.
    pub fn from_pinned_fingerprint(
        base_url: &str,
        pinned: &ServerFingerprint,
        served_key: ServerPublicKey,
    ) -> Result<Self, ProtocolError> {
        if &served_key.fingerprint() != pinned {
            return Err(ProtocolError::FingerprintMismatch);
        }
        Self::new(base_url, served_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn key() -> ServerPublicKey {
        let pair = Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap();
        ServerPublicKey::from_slice(pair.public_key().as_ref()).unwrap()
    }

    #[test]
    fn profile_json_round_trips_and_checks_the_fingerprint() {
        let profile = ServerProfile::new("http://127.0.0.1:8080/", key()).unwrap();
        assert_eq!(profile.base_url(), "http://127.0.0.1:8080");
        let json = profile.to_json();
        assert_eq!(ServerProfile::from_json(&json).unwrap(), profile);
        let other = Ed25519KeyPair::from_seed_unchecked(&[8u8; 32]).unwrap();
        let tampered = json.replace(
            &super::super::b64::encode(key().as_bytes()),
            &super::super::b64::encode(other.public_key().as_ref()),
        );
        assert!(matches!(
            ServerProfile::from_json(&tampered),
            Err(ProtocolError::FingerprintMismatch)
        ));
    }

    #[test]
    fn a_pinned_fingerprint_refuses_another_key() {
        let pin = key().fingerprint();
        assert_eq!(pin.to_string().parse::<ServerFingerprint>().unwrap(), pin);
        assert!(ServerProfile::from_pinned_fingerprint("https://a.example", &pin, key()).is_ok());
        let other = Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).unwrap();
        let other = ServerPublicKey::from_slice(other.public_key().as_ref()).unwrap();
        assert!(matches!(
            ServerProfile::from_pinned_fingerprint("https://a.example", &pin, other),
            Err(ProtocolError::FingerprintMismatch)
        ));
    }

    #[test]
    fn base_urls_must_be_http_with_a_host() {
        for bad in [
            "ftp://x",
            "http://",
            "https://a.example/?q=1",
            "a.example",
            "http://a b",
        ] {
            assert!(ServerProfile::new(bad, key()).is_err(), "{bad}");
        }
    }
}
