//! Server secrets: the Ed25519 signing key, the at-rest wrapping key and the code
//! pepper, each with a key id, in a key file outside the database
//! (`<data>/server-keys.json`); and the integrator API token
//! (`<data>/integrator-token`).
//!
//! Everything else reaches the keys only through the [`ServerKeys`] trait, so a
//! KMS or HSM can replace the file without touching the ceremonies.
//!
//! Invariants:
//! - secret files are created atomically with mode 0600 and never overwritten; a
//!   secret file that its group or others may read or write stops the server
//!   (Unix; other systems are not checked);
//! - key material is held in [`SecretBytes`] (zeroized on drop, `[redacted]` in
//!   `Debug`); ring key objects are built per operation and dropped at once;
//! - a wrapped blob is `key id (16) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`
//!   (AES-256-GCM, random nonce, the caller's AAD); opening checks the key id
//!   first and fails opaquely otherwise.

use latchkey_core::encoding::{decode_hex, encode_hex};
use latchkey_core::protocol::{ServerPublicKey, b64};
use latchkey_core::secret::SecretBytes;
use ring::aead;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The key file's name inside the data folder.
pub const KEY_FILE_NAME: &str = "server-keys.json";
/// The integrator token file's name inside the data folder.
pub const TOKEN_FILE_NAME: &str = "integrator-token";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const TOKEN_PREFIX: &str = "lk_";

/// Why a server secret could not be loaded, created or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// A secret file could not be read or written.
    #[error("{path}: could not {action}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done ("read", "create"…).
        action: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A secret file that others may read or write; the server refuses to start.
    #[error("{path} has mode {mode:03o}: it must be readable by its owner only (chmod 600 {path})")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A secret file that is not in the expected form; it was left untouched.
    #[error("{path} is not a valid Latchkey secret file ({what}); it was left untouched")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: &'static str,
    },
    /// A wrapped blob names a key this server does not hold.
    #[error("the wrapped secret was made with a key this server does not hold")]
    UnknownKey,
    /// A wrapped blob did not open: wrong key, wrong AAD or tampered bytes.
    /// Opaque on purpose.
    #[error("the wrapped secret could not be opened")]
    Unwrap,
    /// The operating system's random generator failed.
    #[error("the random generator failed")]
    Randomness,
    /// A cryptographic operation failed (for a KMS or HSM: refused or unreachable).
    #[error("a cryptographic operation failed")]
    Crypto,
}

/// A key's identifier: 16 random bytes, written as 32 lowercase hex characters.
/// It travels with what the key made (the first 16 bytes of a wrapped blob), so
/// keys can be rotated.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 16]);

impl KeyId {
    /// A fresh random key id.
    pub fn random() -> Result<Self, SecretsError> {
        let mut bytes = [0u8; 16];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SecretsError::Randomness)?;
        Ok(Self(bytes))
    }

    /// The id's 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    fn parse(text: &str) -> Option<Self> {
        if text.len() != 32 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let bytes = decode_hex(text).ok()?;
        <[u8; 16]>::try_from(bytes.as_slice()).ok().map(Self)
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&encode_hex(&self.0))
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The server's secret keys, behind a trait narrow enough for a KMS or HSM.
///
/// Implementations must not log or print key material and must be safe to call
/// from several threads at once. Every operation may fail (a remote key service
/// can be unreachable); the file implementation fails only on broken randomness.
pub trait ServerKeys: Send + Sync {
    /// The server's long-term Ed25519 public key (the one in the server profile).
    fn public_key(&self) -> ServerPublicKey;

    /// The signing key's id.
    fn signing_key_id(&self) -> KeyId;

    /// Signs `message` (canonical bytes, `latchkey/v1/<purpose>` ‖ fields) with
    /// the Ed25519 key; 64 bytes.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SecretsError>;

    /// Encrypts `plaintext` for storage at rest, bound to `aad` (say what the
    /// secret is and whose, e.g. `latchkey/v1/k_user` ‖ enrollment id).
    fn wrap(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretsError>;

    /// Opens a blob made by [`ServerKeys::wrap`] with the same `aad`.
    fn unwrap(&self, blob: &[u8], aad: &[u8]) -> Result<SecretBytes, SecretsError>;

    /// The pepper's id (store it beside each MAC so the pepper can be rotated).
    fn pepper_key_id(&self) -> KeyId;

    /// HMAC-SHA256 of `data` under the server pepper: how SMS, voice and
    /// activation codes are stored.
    fn pepper_mac(&self, data: &[u8]) -> Result<[u8; 32], SecretsError>;

    /// Whether `tag` is the pepper MAC of `data`, compared in constant time.
    fn pepper_verify(&self, data: &[u8], tag: &[u8]) -> Result<bool, SecretsError> {
        let expected = self.pepper_mac(data)?;
        Ok(expected.as_slice().ct_eq(tag).into())
    }
}

/// One key in the key file's JSON form. The key text is wiped when dropped.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyJson {
    id: String,
    alg: String,
    key: String,
}

impl Drop for KeyJson {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

/// The key file's JSON form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    v: u32,
    signing: KeyJson,
    wrapping: KeyJson,
    pepper: KeyJson,
}

const ALG_SIGNING: &str = "ed25519-seed";
const ALG_WRAPPING: &str = "aes-256-gcm";
const ALG_PEPPER: &str = "hmac-sha256";

/// The server's keys as held in the key file: the default [`ServerKeys`].
#[derive(Debug)]
pub struct FileKeys {
    signing_id: KeyId,
    signing_seed: SecretBytes,
    public_key: ServerPublicKey,
    wrapping_id: KeyId,
    wrapping_key: SecretBytes,
    pepper_id: KeyId,
    pepper: SecretBytes,
}

fn random_secret(len: usize) -> Result<SecretBytes, SecretsError> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SecretsError::Randomness)?;
    Ok(SecretBytes::from_slice(&bytes))
}

impl FileKeys {
    /// Fresh keys from the operating system's random generator.
    pub fn generate() -> Result<Self, SecretsError> {
        Self::from_parts(
            KeyId::random()?,
            random_secret(32)?,
            KeyId::random()?,
            random_secret(32)?,
            KeyId::random()?,
            random_secret(32)?,
        )
        .map_err(|_| SecretsError::Crypto)
    }

    fn from_parts(
        signing_id: KeyId,
        signing_seed: SecretBytes,
        wrapping_id: KeyId,
        wrapping_key: SecretBytes,
        pepper_id: KeyId,
        pepper: SecretBytes,
    ) -> Result<Self, &'static str> {
        if signing_seed.len() != 32 || wrapping_key.len() != 32 || pepper.len() != 32 {
            return Err("a key is not 32 bytes");
        }
        // Reason to expose: derive the public half once; the pair is dropped here.
        let pair = Ed25519KeyPair::from_seed_unchecked(signing_seed.expose_secret())
            .map_err(|_| "the signing seed is not an Ed25519 seed")?;
        let public_key = ServerPublicKey::from_slice(pair.public_key().as_ref())
            .map_err(|_| "the signing key has no 32-byte public key")?;
        Ok(Self {
            signing_id,
            signing_seed,
            public_key,
            wrapping_id,
            wrapping_key,
            pepper_id,
            pepper,
        })
    }

    /// Loads the key file at `path`, or creates it (mode 0600) with fresh keys if
    /// there is none. Returns the keys and whether they were created now.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), SecretsError> {
        match path.try_exists() {
            Ok(true) => Ok((Self::load(path)?, false)),
            Ok(false) => {
                let keys = Self::generate()?;
                match write_new_secret_file(path, keys.to_json()?.as_bytes()) {
                    Ok(()) => Ok((keys, true)),
                    // Another process created it first: use theirs.
                    Err(SecretsError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        Ok((Self::load(path)?, false))
                    }
                    Err(error) => Err(error),
                }
            }
            Err(source) => Err(SecretsError::Io {
                path: path.to_owned(),
                action: "look for",
                source,
            }),
        }
    }

    /// Loads an existing key file, refusing one that others may read.
    pub fn load(path: &Path) -> Result<Self, SecretsError> {
        let text = read_secret_file(path)?;
        let malformed = |what| SecretsError::Malformed {
            path: path.to_owned(),
            what,
        };
        let json: KeyFileJson =
            serde_json::from_str(&text).map_err(|_| malformed("not the expected JSON"))?;
        if json.v != 1 {
            return Err(malformed("unknown version"));
        }
        let part = |key: &KeyJson, alg: &str| -> Result<(KeyId, SecretBytes), SecretsError> {
            if key.alg != alg {
                return Err(malformed("unexpected algorithm"));
            }
            let id = KeyId::parse(&key.id).ok_or_else(|| malformed("bad key id"))?;
            let bytes = Zeroizing::new(
                b64::decode(&key.key).map_err(|_| malformed("key is not base64url"))?,
            );
            Ok((id, SecretBytes::from_slice(&bytes)))
        };
        let (signing_id, signing_seed) = part(&json.signing, ALG_SIGNING)?;
        let (wrapping_id, wrapping_key) = part(&json.wrapping, ALG_WRAPPING)?;
        let (pepper_id, pepper) = part(&json.pepper, ALG_PEPPER)?;
        Self::from_parts(
            signing_id,
            signing_seed,
            wrapping_id,
            wrapping_key,
            pepper_id,
            pepper,
        )
        .map_err(malformed)
    }

    fn to_json(&self) -> Result<Zeroizing<String>, SecretsError> {
        // Reason to expose: writing the keys into their own file, once.
        let key = |id: &KeyId, alg: &str, secret: &SecretBytes| KeyJson {
            id: id.to_string(),
            alg: alg.to_owned(),
            key: b64::encode(secret.expose_secret()),
        };
        let json = KeyFileJson {
            v: 1,
            signing: key(&self.signing_id, ALG_SIGNING, &self.signing_seed),
            wrapping: key(&self.wrapping_id, ALG_WRAPPING, &self.wrapping_key),
            pepper: key(&self.pepper_id, ALG_PEPPER, &self.pepper),
        };
        let mut text = serde_json::to_string_pretty(&json).map_err(|_| SecretsError::Crypto)?;
        text.push('\n');
        Ok(Zeroizing::new(text))
    }

    fn wrapping_key(&self) -> Result<aead::LessSafeKey, SecretsError> {
        // Reason to expose: keying AES-256-GCM for one operation.
        aead::UnboundKey::new(&aead::AES_256_GCM, self.wrapping_key.expose_secret())
            .map(aead::LessSafeKey::new)
            .map_err(|_| SecretsError::Crypto)
    }
}

impl ServerKeys for FileKeys {
    fn public_key(&self) -> ServerPublicKey {
        self.public_key
    }

    fn signing_key_id(&self) -> KeyId {
        self.signing_id
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SecretsError> {
        // Reason to expose: Ed25519 signing needs the seed.
        let pair = Ed25519KeyPair::from_seed_unchecked(self.signing_seed.expose_secret())
            .map_err(|_| SecretsError::Crypto)?;
        Ok(pair.sign(message).as_ref().to_vec())
    }

    fn wrap(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let key = self.wrapping_key()?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SecretsError::Randomness)?;
        let mut blob = Vec::with_capacity(16 + NONCE_LEN + plaintext.len() + TAG_LEN);
        blob.extend_from_slice(self.wrapping_id.as_bytes());
        blob.extend_from_slice(&nonce);
        let mut ciphertext = plaintext.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut ciphertext,
            )
            .map_err(|_| SecretsError::Crypto)?;
        blob.extend_from_slice(&ciphertext);
        blob.extend_from_slice(tag.as_ref());
        Ok(blob)
    }

    fn unwrap(&self, blob: &[u8], aad: &[u8]) -> Result<SecretBytes, SecretsError> {
        if blob.len() < 16 + NONCE_LEN + TAG_LEN {
            return Err(SecretsError::Unwrap);
        }
        let (id, rest) = blob.split_at(16);
        if id != self.wrapping_id.as_bytes() {
            return Err(SecretsError::UnknownKey);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce =
            aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretsError::Unwrap)?;
        let mut buffer = Zeroizing::new(sealed.to_vec());
        let plaintext = self
            .wrapping_key()?
            .open_in_place(nonce, aead::Aad::from(aad), &mut buffer)
            .map_err(|_| SecretsError::Unwrap)?;
        Ok(SecretBytes::from_slice(plaintext))
    }

    fn pepper_key_id(&self) -> KeyId {
        self.pepper_id
    }

    fn pepper_mac(&self, data: &[u8]) -> Result<[u8; 32], SecretsError> {
        // Reason to expose: keying the HMAC for one operation.
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.pepper.expose_secret());
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&key, data).as_ref());
        Ok(out)
    }
}

/// The integrator API's bearer token (`lk_` and 43 base64url characters),
/// generated on first start into `<data>/integrator-token` (mode 0600).
#[derive(Debug, Clone)]
pub struct IntegratorToken(SecretBytes);

impl IntegratorToken {
    /// A fresh token: 32 random bytes.
    pub fn generate() -> Result<Self, SecretsError> {
        let bytes = random_secret(32)?;
        // Reason to expose: encoding the fresh token as text.
        let text = format!("{TOKEN_PREFIX}{}", b64::encode(bytes.expose_secret()));
        Ok(Self(SecretBytes::new(text.into_bytes())))
    }

    /// Loads the token file at `path`, or creates it (mode 0600). Returns the
    /// token and whether it was created now (so it can be shown once).
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), SecretsError> {
        match path.try_exists() {
            Ok(true) => Ok((Self::load(path)?, false)),
            Ok(false) => {
                let token = Self::generate()?;
                let mut line = Zeroizing::new(token.expose_secret().to_owned());
                line.push('\n');
                match write_new_secret_file(path, line.as_bytes()) {
                    Ok(()) => Ok((token, true)),
                    Err(SecretsError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        Ok((Self::load(path)?, false))
                    }
                    Err(error) => Err(error),
                }
            }
            Err(source) => Err(SecretsError::Io {
                path: path.to_owned(),
                action: "look for",
                source,
            }),
        }
    }

    /// Loads an existing token file, refusing one that others may read.
    pub fn load(path: &Path) -> Result<Self, SecretsError> {
        let text = read_secret_file(path)?;
        let token = text.trim_end_matches(['\n', '\r']);
        let body = token.strip_prefix(TOKEN_PREFIX).unwrap_or("");
        if body.len() < 32 || b64::decode(body).is_err() {
            return Err(SecretsError::Malformed {
                path: path.to_owned(),
                what: "not an integrator token",
            });
        }
        Ok(Self(SecretBytes::from_slice(token.as_bytes())))
    }

    /// Whether `presented` is this token, compared in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        // Reason to expose: the constant-time comparison itself.
        self.0.expose_secret().ct_eq(presented).into()
    }

    /// The token's text. Callers: showing it to the operator once, tests.
    pub fn expose_secret(&self) -> &str {
        std::str::from_utf8(self.0.expose_secret()).unwrap_or("")
    }
}

/// Reads a secret file, refusing it if its group or others may read or write it.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<String>, SecretsError> {
    let io = |action| {
        move |source| SecretsError::Io {
            path: path.to_owned(),
            action,
            source,
        }
    };
    let metadata = std::fs::metadata(path).map_err(io("read"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretsError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    if !metadata.is_file() {
        return Err(SecretsError::Malformed {
            path: path.to_owned(),
            what: "not a regular file",
        });
    }
    let bytes = std::fs::read(path).map_err(io("read"))?;
    String::from_utf8(bytes)
        .map(Zeroizing::new)
        .map_err(|error| {
            drop(Zeroizing::new(error.into_bytes()));
            SecretsError::Malformed {
                path: path.to_owned(),
                what: "not UTF-8 text",
            }
        })
}

/// Creates `path` with `contents`, mode 0600, atomically: the bytes go to a
/// temporary file in the same folder, are synced, and are then linked to `path`,
/// which fails with `AlreadyExists` rather than replace an existing file.
pub fn write_new_secret_file(path: &Path, contents: &[u8]) -> Result<(), SecretsError> {
    latchkey_core::private_file::write_new(path, contents).map_err(|source| SecretsError::Io {
        path: path.to_owned(),
        action: "create",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn signatures_verify_under_the_public_key() {
        let keys = FileKeys::generate().unwrap();
        let signature = keys.sign(b"latchkey/v1/test").unwrap();
        assert_eq!(signature.len(), 64);
        assert!(
            keys.public_key()
                .verify(b"latchkey/v1/test", &signature)
                .is_ok()
        );
        assert!(
            keys.public_key()
                .verify(b"latchkey/v1/tesT", &signature)
                .is_err()
        );
    }

    #[test]
    fn wrapped_secrets_open_only_with_the_same_aad_and_untouched_bytes() {
        let keys = FileKeys::generate().unwrap();
        let blob = keys.wrap(b"k_user bytes", b"aad-1").unwrap();
        assert_eq!(&blob[..16], keys.wrapping_id.as_bytes());
        assert_eq!(blob.len(), 16 + 12 + 12 + 16);
        assert_eq!(
            keys.unwrap(&blob, b"aad-1").unwrap().expose_secret(),
            b"k_user bytes"
        );
        assert!(matches!(
            keys.unwrap(&blob, b"aad-2"),
            Err(SecretsError::Unwrap)
        ));
        for i in 16..blob.len() {
            let mut tampered = blob.clone();
            tampered[i] ^= 1;
            assert!(
                matches!(keys.unwrap(&tampered, b"aad-1"), Err(SecretsError::Unwrap)),
                "{i}"
            );
        }
        let mut other_id = blob.clone();
        other_id[0] ^= 1;
        assert!(matches!(
            keys.unwrap(&other_id, b"aad-1"),
            Err(SecretsError::UnknownKey)
        ));
        assert!(matches!(
            keys.unwrap(&blob[..30], b"aad-1"),
            Err(SecretsError::Unwrap)
        ));
        assert_ne!(blob, keys.wrap(b"k_user bytes", b"aad-1").unwrap());
    }

    #[test]
    fn pepper_macs_are_stable_per_key_and_verify_in_constant_time() {
        let keys = FileKeys::generate().unwrap();
        let tag = keys.pepper_mac(b"123456").unwrap();
        assert_eq!(tag, keys.pepper_mac(b"123456").unwrap());
        assert_ne!(tag, keys.pepper_mac(b"123457").unwrap());
        assert_ne!(
            tag,
            FileKeys::generate().unwrap().pepper_mac(b"123456").unwrap()
        );
        assert!(keys.pepper_verify(b"123456", &tag).unwrap());
        assert!(!keys.pepper_verify(b"123457", &tag).unwrap());
        assert!(!keys.pepper_verify(b"123456", &tag[..31]).unwrap());
    }

    #[test]
    fn debug_of_the_key_holder_is_redacted() {
        let keys = FileKeys::generate().unwrap();
        let printed = format!("{keys:?}");
        for secret in [&keys.signing_seed, &keys.wrapping_key, &keys.pepper] {
            let bytes = secret.expose_secret();
            assert!(!printed.contains(&encode_hex(bytes)));
            assert!(!printed.contains(&b64::encode(bytes)));
            let as_numbers = format!("{:?}", &bytes[..4]);
            assert!(!printed.contains(as_numbers.trim_end_matches(']')));
        }
        assert_eq!(printed.matches("[redacted]").count(), 3, "{printed}");
        let token = IntegratorToken::generate().unwrap();
        assert!(!format!("{token:?}").contains(token.expose_secret()));
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        let (created, fresh) = FileKeys::load_or_create(&path).unwrap();
        assert!(fresh);
        #[cfg(unix)]
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (loaded, fresh) = FileKeys::load_or_create(&path).unwrap();
        assert!(!fresh);
        assert_eq!(loaded.public_key(), created.public_key());
        assert_eq!(loaded.signing_key_id(), created.signing_key_id());
        let blob = created.wrap(b"x", b"a").unwrap();
        assert_eq!(loaded.unwrap(&blob, b"a").unwrap().expose_secret(), b"x");
        assert_eq!(
            loaded.pepper_mac(b"1").unwrap(),
            created.pepper_mac(b"1").unwrap()
        );
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        FileKeys::load_or_create(&path).unwrap();
        for mode in [0o640, 0o604, 0o620, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let error = FileKeys::load_or_create(&path).unwrap_err();
            assert!(
                matches!(error, SecretsError::Permissions { mode: m, .. } if m == mode),
                "{mode:o}: {error}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(FileKeys::load(&path).is_ok());
    }

    #[test]
    fn a_malformed_key_file_is_reported_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        write_new_secret_file(&path, b"{\"v\":1}").unwrap();
        assert!(matches!(
            FileKeys::load_or_create(&path),
            Err(SecretsError::Malformed { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"v\":1}");
        assert!(matches!(
            write_new_secret_file(&path, b"other"),
            Err(SecretsError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists
        ));
    }

    #[test]
    fn the_integrator_token_is_created_once_and_matches_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE_NAME);
        let (token, fresh) = IntegratorToken::load_or_create(&path).unwrap();
        assert!(fresh);
        assert!(token.expose_secret().starts_with("lk_"));
        assert_eq!(token.expose_secret().len(), 3 + 43);
        #[cfg(unix)]
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (again, fresh) = IntegratorToken::load_or_create(&path).unwrap();
        assert!(!fresh);
        assert!(again.matches(token.expose_secret().as_bytes()));
        assert!(!again.matches(b"lk_"));
        assert!(!again.matches(b""));
        let mut wrong = token.expose_secret().as_bytes().to_vec();
        wrong[10] ^= 1;
        assert!(!again.matches(&wrong));
    }
}
