//! [`SoftwareKeystore`]: the [`PlatformKeystore`] of desktops and tests, on ring,
//! with simulated biometrics.
//!
//! Layout of its folder (created `0700`):
//! - `wrapping.key`: 32 random bytes, the AES-256-GCM key that encrypts every key
//!   file. Created `0600`.
//! - `<sha256(alias) in hex>.key`, one per alias: a header (format version, key
//!   kind, biometric enrollment generation) and the key material (a PKCS#8 ECDSA
//!   P-256 key, or a 32-byte AES-256-GCM key) sealed under the wrapping key with
//!   the alias and header as associated data. Created `0600`.
//!
//! A sealed blob is `version ‖ nonce (12) ‖ ciphertext ‖ tag (16)`, made with the
//! alias's own AES-256-GCM key and the alias as associated data, so a blob opens
//! only under the alias that sealed it, and deleting the alias's key file destroys
//! every blob sealed under it.
//!
//! Invariants: files are created owner-only and written atomically (a temporary
//! file, then a link that refuses to overwrite); a wrapping key or key file that
//! other users may read or write is refused
//! ([`KeystoreError::InsecurePermissions`]); `Debug` never shows key bytes.
//!
//! What it is not: the keys sit in the same file system as the data they protect,
//! so anyone who copies the whole folder has them. It labels itself
//! [`KeystoreKind::Software`], and production servers refuse it.

use super::keystore::{KeystoreError, KeystoreKind, PlatformKeystore, SealedBlob, check_alias};
use crate::encoding::encode_hex;
use crate::protocol::codec::Encoder;
use crate::secret::SecretBytes;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use zeroize::Zeroizing;

/// The format version of key files and sealed blobs.
const FORMAT_VERSION: u8 = 1;
/// AES-256-GCM's tag length.
const TAG_LEN: usize = 16;
/// The wrapping key's file name.
const WRAPPING_KEY_FILE: &str = "wrapping.key";

/// What a simulated biometric prompt answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimulatedOutcome {
    /// The user authenticates.
    Accept,
    /// The user dismisses the prompt: [`KeystoreError::Cancelled`].
    Cancel,
    /// The sensor is locked out: [`KeystoreError::Lockout`].
    Lockout,
}

#[derive(Debug)]
struct BiometricState {
    outcome: SimulatedOutcome,
    generation: u64,
    prompts: Vec<String>,
}

/// The control of [`SoftwareKeystore`]'s simulated biometrics: a shared handle
/// (clones control the same simulation) that tests and the CLI use to decide
/// what the next prompts answer, and to enroll a new finger.
///
/// The enrolled set is a generation number that lives in memory; a biometric
/// key remembers the generation it was created under and is invalidated once
/// the generation moves on, as Android's
/// `setInvalidatedByBiometricEnrollment(true)` and iOS's `.biometryCurrentSet`
/// do. A program that wants the simulation to survive a restart keeps
/// [`SimulatedBiometrics::enrollment_generation`] itself and passes it to
/// [`SimulatedBiometrics::with_enrollment_generation`].
#[derive(Debug, Clone)]
pub struct SimulatedBiometrics(Arc<Mutex<BiometricState>>);

impl Default for SimulatedBiometrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SimulatedBiometrics {
    /// A simulation whose prompts accept, at enrollment generation 0.
    pub fn new() -> Self {
        Self::with_enrollment_generation(0)
    }

    /// A simulation whose prompts accept, at the given enrollment generation.
    pub fn with_enrollment_generation(generation: u64) -> Self {
        Self(Arc::new(Mutex::new(BiometricState {
            outcome: SimulatedOutcome::Accept,
            generation,
            prompts: Vec::new(),
        })))
    }

    fn state(&self) -> MutexGuard<'_, BiometricState> {
        // A test that panicked while holding the lock leaves consistent state.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What every following prompt answers, until changed.
    pub fn set_outcome(&self, outcome: SimulatedOutcome) {
        self.state().outcome = outcome;
    }

    /// What the next prompt answers.
    pub fn outcome(&self) -> SimulatedOutcome {
        self.state().outcome
    }

    /// Enrolls a new fingerprint or face: every biometric key that exists now is
    /// invalidated for good.
    pub fn enroll_new_finger(&self) {
        let mut state = self.state();
        state.generation = state.generation.saturating_add(1);
    }

    /// The current enrollment generation.
    pub fn enrollment_generation(&self) -> u64 {
        self.state().generation
    }

    /// The texts of every prompt shown so far, oldest first.
    pub fn prompts_shown(&self) -> Vec<String> {
        self.state().prompts.clone()
    }

    /// Shows a prompt: records its text and answers with the current outcome.
    fn prompt(&self, text: &str) -> Result<(), KeystoreError> {
        let mut state = self.state();
        state.prompts.push(text.to_owned());
        match state.outcome {
            SimulatedOutcome::Accept => Ok(()),
            SimulatedOutcome::Cancel => Err(KeystoreError::Cancelled),
            SimulatedOutcome::Lockout => Err(KeystoreError::Lockout),
        }
    }
}

/// The kind of key a key file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Signing = 1,
    Sealing = 2,
    Biometric = 3,
}

impl KeyKind {
    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(KeyKind::Signing),
            2 => Some(KeyKind::Sealing),
            3 => Some(KeyKind::Biometric),
            _ => None,
        }
    }
}

/// A decrypted key file.
struct KeyRecord {
    kind: KeyKind,
    generation: u64,
    material: SecretBytes,
}

/// A keystore in a folder of files, on ring: for desktops and tests.
///
/// See the module documentation for its layout and its limits. One process
/// should use a folder at a time.
pub struct SoftwareKeystore {
    dir: PathBuf,
    wrapping_key: SecretBytes,
    biometrics: SimulatedBiometrics,
    rng: SystemRandom,
    /// Serialises the creation and deletion of key files within this process.
    lock: Mutex<()>,
}

impl std::fmt::Debug for SoftwareKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareKeystore")
            .field("dir", &self.dir)
            .field("wrapping_key", &self.wrapping_key)
            .field("biometrics", &self.biometrics)
            .finish_non_exhaustive()
    }
}

impl SoftwareKeystore {
    /// Opens the keystore in `dir`, creating the folder (`0700`) and its wrapping
    /// key (`0600`) on first use. Refuses a wrapping key file that other users
    /// may read or write, and a folder that other users may write.
    pub fn open(dir: &Path, biometrics: SimulatedBiometrics) -> Result<Self, KeystoreError> {
        create_private_dir(dir)?;
        let rng = SystemRandom::new();
        let path = dir.join(WRAPPING_KEY_FILE);
        let wrapping_key = match read_private_file(&path)? {
            Some(bytes) if bytes.len() == 32 => SecretBytes::from_slice(&bytes),
            Some(_) => {
                return Err(KeystoreError::Platform(
                    "the wrapping key file is damaged".to_owned(),
                ));
            }
            None => {
                let key = random_secret(&rng, 32)?;
                // Why exposed: written once to its owner-only file.
                match write_private_file(dir, &path, key.expose_secret()) {
                    Ok(()) => key,
                    // Another opener won the race: use its key.
                    Err(KeystoreError::AlreadyExists) => {
                        let bytes = read_private_file(&path)?.ok_or_else(|| {
                            KeystoreError::Platform("the wrapping key vanished".to_owned())
                        })?;
                        SecretBytes::from_slice(&bytes)
                    }
                    Err(error) => return Err(error),
                }
            }
        };
        Ok(Self {
            dir: dir.to_owned(),
            wrapping_key,
            biometrics,
            rng,
            lock: Mutex::new(()),
        })
    }

    /// The simulated biometrics this keystore prompts through.
    pub fn biometrics(&self) -> &SimulatedBiometrics {
        &self.biometrics
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn key_path(&self, alias: &str) -> PathBuf {
        let digest = ring::digest::digest(&ring::digest::SHA256, alias.as_bytes());
        self.dir
            .join(format!("{}.key", encode_hex(digest.as_ref())))
    }

    fn record_aad(alias: &str, header: &[u8]) -> Vec<u8> {
        Encoder::new("software-keystore-key")
            .str(alias)
            .bytes(header)
            .finish()
    }

    fn header(kind: KeyKind, generation: u64) -> [u8; 10] {
        let mut header = [0u8; 10];
        header[0] = FORMAT_VERSION;
        header[1] = kind as u8;
        header[2..].copy_from_slice(&generation.to_be_bytes());
        header
    }

    /// Reads and decrypts the key file of `alias`; `None` if there is none.
    fn read_record(&self, alias: &str) -> Result<Option<KeyRecord>, KeystoreError> {
        let Some(file) = read_private_file(&self.key_path(alias))? else {
            return Ok(None);
        };
        let damaged =
            || KeystoreError::Platform("a key file is damaged or from another keystore".to_owned());
        let (header, body) = file.split_at_checked(10).ok_or_else(damaged)?;
        if header[0] != FORMAT_VERSION {
            return Err(damaged());
        }
        let kind = KeyKind::from_byte(header[1]).ok_or_else(damaged)?;
        let mut generation = [0u8; 8];
        generation.copy_from_slice(&header[2..10]);
        let material = open_with(&self.wrapping_key, &Self::record_aad(alias, header), body)
            .map_err(|_| damaged())?;
        Ok(Some(KeyRecord {
            kind,
            generation: u64::from_be_bytes(generation),
            material,
        }))
    }

    /// Reads the key of `alias`, which must exist and be of `kind`.
    fn record_of_kind(&self, alias: &str, kind: KeyKind) -> Result<KeyRecord, KeystoreError> {
        check_alias(alias)?;
        let record = self.read_record(alias)?.ok_or(KeystoreError::KeyNotFound)?;
        if record.kind != kind {
            return Err(KeystoreError::WrongKeyKind);
        }
        Ok(record)
    }

    /// Writes a new key file; fails with `AlreadyExists` if the alias is taken.
    fn write_record(
        &self,
        alias: &str,
        kind: KeyKind,
        generation: u64,
        material: &SecretBytes,
    ) -> Result<(), KeystoreError> {
        let header = Self::header(kind, generation);
        let body = seal_with(
            &self.rng,
            &self.wrapping_key,
            &Self::record_aad(alias, &header),
            material,
        )?;
        let mut file = header.to_vec();
        file.extend_from_slice(&body);
        write_private_file(&self.dir, &self.key_path(alias), &file)
    }

    fn seal_aad(purpose: &str, alias: &str) -> Vec<u8> {
        Encoder::new(purpose).str(alias).finish()
    }

    /// The biometric key of `alias`, refused if a new finger was enrolled since
    /// it was made.
    fn valid_biometric_record(&self, alias: &str) -> Result<KeyRecord, KeystoreError> {
        let record = self.record_of_kind(alias, KeyKind::Biometric)?;
        if record.generation != self.biometrics.enrollment_generation() {
            return Err(KeystoreError::Invalidated);
        }
        Ok(record)
    }
}

impl PlatformKeystore for SoftwareKeystore {
    fn kind(&self) -> KeystoreKind {
        KeystoreKind::Software
    }

    fn create_signing_key(&self, alias: &str) -> Result<Vec<u8>, KeystoreError> {
        check_alias(alias)?;
        let _guard = self.guard();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
            .map_err(|_| KeystoreError::Crypto)?;
        let pkcs8 = SecretBytes::from_slice(pkcs8.as_ref());
        // Why exposed: parsed once to read the public half.
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8.expose_secret(),
            &self.rng,
        )
        .map_err(|_| KeystoreError::Crypto)?;
        self.write_record(alias, KeyKind::Signing, 0, &pkcs8)?;
        Ok(pair.public_key().as_ref().to_vec())
    }

    fn sign(&self, alias: &str, message: &[u8]) -> Result<Vec<u8>, KeystoreError> {
        let record = self.record_of_kind(alias, KeyKind::Signing)?;
        // Why exposed: ring parses the PKCS#8 document to sign.
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            record.material.expose_secret(),
            &self.rng,
        )
        .map_err(|_| KeystoreError::Crypto)?;
        let signature = pair
            .sign(&self.rng, message)
            .map_err(|_| KeystoreError::Crypto)?;
        Ok(signature.as_ref().to_vec())
    }

    fn delete_key(&self, alias: &str) -> Result<(), KeystoreError> {
        check_alias(alias)?;
        let _guard = self.guard();
        match std::fs::remove_file(self.key_path(alias)) {
            Ok(()) => sync_dir(&self.dir),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(io_error("deleting a key file", &error)),
        }
    }

    fn seal(&self, alias: &str, plaintext: &SecretBytes) -> Result<SealedBlob, KeystoreError> {
        check_alias(alias)?;
        let record = {
            let _guard = self.guard();
            match self.read_record(alias)? {
                Some(record) => record,
                None => {
                    let material = random_secret(&self.rng, 32)?;
                    self.write_record(alias, KeyKind::Sealing, 0, &material)?;
                    KeyRecord {
                        kind: KeyKind::Sealing,
                        generation: 0,
                        material,
                    }
                }
            }
        };
        if record.kind != KeyKind::Sealing {
            return Err(KeystoreError::WrongKeyKind);
        }
        seal_with(
            &self.rng,
            &record.material,
            &Self::seal_aad("software-keystore-seal", alias),
            plaintext,
        )
        .map(SealedBlob::new)
    }

    fn open(&self, alias: &str, blob: &SealedBlob) -> Result<SecretBytes, KeystoreError> {
        let record = self.record_of_kind(alias, KeyKind::Sealing)?;
        open_with(
            &record.material,
            &Self::seal_aad("software-keystore-seal", alias),
            blob.as_bytes(),
        )
    }

    fn create_biometric_key(&self, alias: &str) -> Result<(), KeystoreError> {
        check_alias(alias)?;
        let _guard = self.guard();
        let material = random_secret(&self.rng, 32)?;
        self.write_record(
            alias,
            KeyKind::Biometric,
            self.biometrics.enrollment_generation(),
            &material,
        )
    }

    fn seal_biometric(
        &self,
        alias: &str,
        plaintext: &SecretBytes,
    ) -> Result<SealedBlob, KeystoreError> {
        let record = self.valid_biometric_record(alias)?;
        seal_with(
            &self.rng,
            &record.material,
            &Self::seal_aad("software-keystore-seal-biometric", alias),
            plaintext,
        )
        .map(SealedBlob::new)
    }

    fn open_biometric(
        &self,
        alias: &str,
        blob: &SealedBlob,
        prompt_text: &str,
    ) -> Result<SecretBytes, KeystoreError> {
        // As on Android, an invalidated key fails before any prompt is shown.
        let record = self.valid_biometric_record(alias)?;
        self.biometrics.prompt(prompt_text)?;
        open_with(
            &record.material,
            &Self::seal_aad("software-keystore-seal-biometric", alias),
            blob.as_bytes(),
        )
    }
}

/// `len` random bytes from the operating system.
fn random_secret(rng: &SystemRandom, len: usize) -> Result<SecretBytes, KeystoreError> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    rng.fill(&mut bytes).map_err(|_| KeystoreError::Crypto)?;
    Ok(SecretBytes::from_slice(&bytes))
}

fn aead_key(key: &SecretBytes) -> Result<LessSafeKey, KeystoreError> {
    // Why exposed: ring takes the raw AES key.
    UnboundKey::new(&AES_256_GCM, key.expose_secret())
        .map(LessSafeKey::new)
        .map_err(|_| KeystoreError::Crypto)
}

/// AES-256-GCM with a random nonce: `version ‖ nonce ‖ ciphertext ‖ tag`.
fn seal_with(
    rng: &SystemRandom,
    key: &SecretBytes,
    aad: &[u8],
    plaintext: &SecretBytes,
) -> Result<Vec<u8>, KeystoreError> {
    let key = aead_key(key)?;
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).map_err(|_| KeystoreError::Crypto)?;
    // Why exposed: it is encrypted here, in a buffer the ciphertext overwrites.
    let mut in_out = plaintext.expose_secret().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut in_out,
    )
    .map_err(|_| KeystoreError::Crypto)?;
    let mut blob = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
    blob.push(FORMAT_VERSION);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&in_out);
    Ok(blob)
}

/// Opens what [`seal_with`] made; any failure is [`KeystoreError::BadBlob`].
fn open_with(key: &SecretBytes, aad: &[u8], blob: &[u8]) -> Result<SecretBytes, KeystoreError> {
    let key = aead_key(key)?;
    let (version, rest) = blob.split_first().ok_or(KeystoreError::BadBlob)?;
    if *version != FORMAT_VERSION || rest.len() < NONCE_LEN + TAG_LEN {
        return Err(KeystoreError::BadBlob);
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeystoreError::BadBlob)?;
    let mut in_out = Zeroizing::new(ciphertext.to_vec());
    let plaintext = key
        .open_in_place(nonce, Aad::from(aad), &mut in_out)
        .map_err(|_| KeystoreError::BadBlob)?;
    Ok(SecretBytes::from_slice(plaintext))
}

fn io_error(doing: &str, error: &std::io::Error) -> KeystoreError {
    KeystoreError::Platform(format!("{doing}: {error}"))
}

/// Creates `dir` owner-only if it is missing; refuses an existing folder that
/// other users may write (they could swap key files).
fn create_private_dir(dir: &Path) -> Result<(), KeystoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| io_error("creating the keystore folder", &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata =
            std::fs::metadata(dir).map_err(|e| io_error("reading the keystore folder", &e))?;
        if metadata.permissions().mode() & 0o022 != 0 {
            return Err(KeystoreError::InsecurePermissions {
                path: dir.to_owned(),
            });
        }
    }
    Ok(())
}

/// Reads an owner-only file; `None` if it does not exist. A file that other
/// users may read or write, or that is not a regular file, is refused.
fn read_private_file(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, KeystoreError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error("reading a keystore file", &error)),
    };
    if !metadata.file_type().is_file() {
        return Err(KeystoreError::Platform(
            "a keystore file is not a regular file".to_owned(),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            return Err(KeystoreError::InsecurePermissions {
                path: path.to_owned(),
            });
        }
    }
    std::fs::read(path)
        .map(|bytes| Some(Zeroizing::new(bytes)))
        .map_err(|e| io_error("reading a keystore file", &e))
}

/// Writes `bytes` to a new owner-only file at `path` through
/// [`crate::private_file::write_new`] (atomic, never overwriting: an existing
/// `path` is [`KeystoreError::AlreadyExists`]).
fn write_private_file(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
    debug_assert_eq!(path.parent(), Some(dir));
    match crate::private_file::write_new(path, bytes) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(KeystoreError::AlreadyExists)
        }
        Err(error) => Err(io_error("writing a keystore file", &error)),
    }
}

/// Makes a new or removed directory entry durable.
fn sync_dir(dir: &Path) -> Result<(), KeystoreError> {
    crate::private_file::sync_folder(dir).map_err(|e| io_error("syncing the keystore folder", &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

    fn keystore() -> (tempfile::TempDir, SoftwareKeystore) {
        let dir = tempfile::tempdir().unwrap();
        let keystore =
            SoftwareKeystore::open(&dir.path().join("keys"), SimulatedBiometrics::new()).unwrap();
        (dir, keystore)
    }

    fn secret(text: &str) -> SecretBytes {
        SecretBytes::from_slice(text.as_bytes())
    }

    #[test]
    fn the_software_keystore_says_it_is_software() {
        let (_dir, keystore) = keystore();
        assert_eq!(keystore.kind(), KeystoreKind::Software);
    }

    #[test]
    fn a_signing_key_signs_and_its_signatures_verify() {
        let (_dir, keystore) = keystore();
        let public = keystore.create_signing_key("device").unwrap();
        assert_eq!(public.len(), 65);
        assert_eq!(public[0], 0x04, "uncompressed SEC1");
        let signature = keystore.sign("device", b"approve login").unwrap();
        assert_eq!(signature[0], 0x30, "an ASN.1 DER SEQUENCE");
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public);
        key.verify(b"approve login", &signature).unwrap();
        assert!(key.verify(b"approve another", &signature).is_err());
    }

    #[test]
    fn an_alias_cannot_be_created_twice() {
        let (_dir, keystore) = keystore();
        let first = keystore.create_signing_key("device").unwrap();
        assert_eq!(
            keystore.create_signing_key("device"),
            Err(KeystoreError::AlreadyExists)
        );
        assert_eq!(
            keystore.create_biometric_key("device"),
            Err(KeystoreError::AlreadyExists)
        );
        // The first key is untouched.
        let signature = keystore.sign("device", b"m").unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &first)
            .verify(b"m", &signature)
            .unwrap();
    }

    #[test]
    fn keys_and_blobs_survive_reopening_the_keystore() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let (public, blob) = {
            let keystore = SoftwareKeystore::open(&path, SimulatedBiometrics::new()).unwrap();
            (
                keystore.create_signing_key("device").unwrap(),
                keystore.seal("seed", &secret("the seed")).unwrap(),
            )
        };
        let keystore = SoftwareKeystore::open(&path, SimulatedBiometrics::new()).unwrap();
        assert_eq!(keystore.open("seed", &blob).unwrap(), secret("the seed"));
        let signature = keystore.sign("device", b"m").unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public)
            .verify(b"m", &signature)
            .unwrap();
    }

    #[test]
    fn sealing_round_trips_and_hides_the_plaintext() {
        let (_dir, keystore) = keystore();
        let blob = keystore.seal("seed", &secret("0123456789abcdef")).unwrap();
        assert!(
            !blob
                .as_bytes()
                .windows(16)
                .any(|w| w == b"0123456789abcdef")
        );
        assert_eq!(
            keystore.open("seed", &blob).unwrap(),
            secret("0123456789abcdef")
        );
        // Sealing twice gives different blobs (fresh nonces).
        assert_ne!(
            keystore.seal("seed", &secret("0123456789abcdef")).unwrap(),
            blob
        );
    }

    #[test]
    fn a_blob_sealed_under_one_alias_does_not_open_under_another() {
        let (_dir, keystore) = keystore();
        let blob = keystore
            .seal("account-1/seed", &secret("seed one"))
            .unwrap();
        keystore
            .seal("account-2/seed", &secret("seed two"))
            .unwrap();
        assert_eq!(
            keystore.open("account-2/seed", &blob),
            Err(KeystoreError::BadBlob)
        );
        assert_eq!(
            keystore.open("account-3/seed", &blob),
            Err(KeystoreError::KeyNotFound)
        );
    }

    #[test]
    fn a_tampered_blob_is_refused() {
        let (_dir, keystore) = keystore();
        let blob = keystore.seal("seed", &secret("the seed")).unwrap();
        for position in 0..blob.as_bytes().len() {
            let mut bytes = blob.as_bytes().to_vec();
            bytes[position] ^= 0x01;
            assert_eq!(
                keystore.open("seed", &SealedBlob::new(bytes)),
                Err(KeystoreError::BadBlob),
                "byte {position}"
            );
        }
        for cut in 0..blob.as_bytes().len() {
            let bytes = blob.as_bytes()[..cut].to_vec();
            assert_eq!(
                keystore.open("seed", &SealedBlob::new(bytes)),
                Err(KeystoreError::BadBlob),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn deleting_a_sealing_key_destroys_its_blobs() {
        let (_dir, keystore) = keystore();
        let blob = keystore.seal("seed", &secret("the seed")).unwrap();
        keystore.delete_key("seed").unwrap();
        assert_eq!(
            keystore.open("seed", &blob),
            Err(KeystoreError::KeyNotFound)
        );
        // A new key under the same alias cannot open the old blob either.
        keystore.seal("seed", &secret("another")).unwrap();
        assert_eq!(keystore.open("seed", &blob), Err(KeystoreError::BadBlob));
        // Deleting what does not exist is not an error.
        keystore.delete_key("never-made").unwrap();
    }

    #[test]
    fn keys_of_one_kind_refuse_the_operations_of_another() {
        let (_dir, keystore) = keystore();
        keystore.create_signing_key("device").unwrap();
        let sealed = keystore.seal("seed", &secret("s")).unwrap();
        keystore.create_biometric_key("bio").unwrap();
        assert_eq!(
            keystore.seal("device", &secret("s")),
            Err(KeystoreError::WrongKeyKind)
        );
        assert_eq!(
            keystore.sign("seed", b"m"),
            Err(KeystoreError::WrongKeyKind)
        );
        assert_eq!(
            keystore.open_biometric("seed", &sealed, "prompt"),
            Err(KeystoreError::WrongKeyKind)
        );
        assert_eq!(
            keystore.open("bio", &sealed),
            Err(KeystoreError::WrongKeyKind)
        );
        assert_eq!(
            keystore.sign("nothing", b"m"),
            Err(KeystoreError::KeyNotFound)
        );
        assert_eq!(keystore.sign("", b"m"), Err(KeystoreError::BadAlias));
    }

    #[test]
    fn the_biometric_prompt_decides_whether_a_biometric_blob_opens() {
        let (_dir, keystore) = keystore();
        keystore.create_biometric_key("bio").unwrap();
        let blob = keystore.seal_biometric("bio", &secret("k_user")).unwrap();
        let biometrics = keystore.biometrics().clone();

        assert_eq!(
            keystore
                .open_biometric("bio", &blob, "Approve login to Example")
                .unwrap(),
            secret("k_user")
        );
        biometrics.set_outcome(SimulatedOutcome::Cancel);
        assert_eq!(
            keystore.open_biometric("bio", &blob, "second"),
            Err(KeystoreError::Cancelled)
        );
        biometrics.set_outcome(SimulatedOutcome::Lockout);
        assert_eq!(
            keystore.open_biometric("bio", &blob, "third"),
            Err(KeystoreError::Lockout)
        );
        biometrics.set_outcome(SimulatedOutcome::Accept);
        assert!(keystore.open_biometric("bio", &blob, "fourth").is_ok());
        assert_eq!(
            biometrics.prompts_shown(),
            ["Approve login to Example", "second", "third", "fourth"]
        );
    }

    #[test]
    fn a_biometric_blob_does_not_open_under_another_alias_or_when_tampered() {
        let (_dir, keystore) = keystore();
        keystore.create_biometric_key("bio-1").unwrap();
        keystore.create_biometric_key("bio-2").unwrap();
        let blob = keystore.seal_biometric("bio-1", &secret("k_user")).unwrap();
        assert_eq!(
            keystore.open_biometric("bio-2", &blob, "p"),
            Err(KeystoreError::BadBlob)
        );
        let mut bytes = blob.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        assert_eq!(
            keystore.open_biometric("bio-1", &SealedBlob::new(bytes), "p"),
            Err(KeystoreError::BadBlob)
        );
    }

    #[test]
    fn enrolling_a_new_finger_invalidates_every_existing_biometric_key() {
        let (_dir, keystore) = keystore();
        keystore.create_biometric_key("bio-1").unwrap();
        keystore.create_biometric_key("bio-2").unwrap();
        let blob1 = keystore.seal_biometric("bio-1", &secret("one")).unwrap();
        let blob2 = keystore.seal_biometric("bio-2", &secret("two")).unwrap();
        let biometrics = keystore.biometrics().clone();

        biometrics.enroll_new_finger();
        // Even a prompt that would be cancelled is never reached.
        biometrics.set_outcome(SimulatedOutcome::Cancel);
        assert_eq!(
            keystore.open_biometric("bio-1", &blob1, "p"),
            Err(KeystoreError::Invalidated)
        );
        assert_eq!(
            keystore.open_biometric("bio-2", &blob2, "p"),
            Err(KeystoreError::Invalidated)
        );
        assert_eq!(
            keystore.seal_biometric("bio-1", &secret("again")),
            Err(KeystoreError::Invalidated)
        );
        assert!(biometrics.prompts_shown().is_empty());

        // Re-enabling: delete, create anew, seal again.
        biometrics.set_outcome(SimulatedOutcome::Accept);
        keystore.delete_key("bio-1").unwrap();
        keystore.create_biometric_key("bio-1").unwrap();
        let blob = keystore.seal_biometric("bio-1", &secret("new")).unwrap();
        assert_eq!(
            keystore.open_biometric("bio-1", &blob, "p").unwrap(),
            secret("new")
        );
        // Invalidation is for good, and the simulation's generation can be carried
        // across a restart.
        let restarted =
            SimulatedBiometrics::with_enrollment_generation(biometrics.enrollment_generation());
        assert_eq!(restarted.enrollment_generation(), 1);
    }

    #[test]
    fn a_keystore_with_another_wrapping_key_cannot_use_the_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let first =
            SoftwareKeystore::open(&dir.path().join("a"), SimulatedBiometrics::new()).unwrap();
        first.create_signing_key("device").unwrap();
        let second =
            SoftwareKeystore::open(&dir.path().join("b"), SimulatedBiometrics::new()).unwrap();
        let name = first.key_path("device");
        std::fs::copy(&name, second.key_path("device")).unwrap();
        assert!(matches!(
            second.sign("device", b"m"),
            Err(KeystoreError::Platform(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn keystore_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, keystore) = keystore();
        keystore.create_signing_key("device").unwrap();
        keystore.seal("seed", &secret("s")).unwrap();
        keystore.create_biometric_key("bio").unwrap();
        let folder = dir.path().join("keys");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&folder), 0o700);
        let files: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            files.len(),
            4,
            "wrapping key and three key files: {files:?}"
        );
        for file in files {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_wrapping_key_or_key_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("keys");
        let keystore = SoftwareKeystore::open(&folder, SimulatedBiometrics::new()).unwrap();
        keystore.create_signing_key("device").unwrap();
        let set = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };

        let key_file = keystore.key_path("device");
        set(&key_file, 0o640);
        assert!(matches!(
            keystore.sign("device", b"m"),
            Err(KeystoreError::InsecurePermissions { path }) if path == key_file
        ));
        set(&key_file, 0o600);
        keystore.sign("device", b"m").unwrap();

        let wrapping = folder.join(WRAPPING_KEY_FILE);
        for mode in [0o644, 0o604, 0o620] {
            set(&wrapping, mode);
            assert!(
                matches!(
                    SoftwareKeystore::open(&folder, SimulatedBiometrics::new()),
                    Err(KeystoreError::InsecurePermissions { .. })
                ),
                "{mode:o}"
            );
        }
        set(&wrapping, 0o600);
        SoftwareKeystore::open(&folder, SimulatedBiometrics::new()).unwrap();

        set(&folder, 0o777);
        assert!(matches!(
            SoftwareKeystore::open(&folder, SimulatedBiometrics::new()),
            Err(KeystoreError::InsecurePermissions { .. })
        ));
        set(&folder, 0o700);
    }

    #[test]
    fn debug_of_the_software_keystore_is_redacted() {
        let (_dir, keystore) = keystore();
        let wrapping = encode_hex(keystore.wrapping_key.expose_secret());
        let printed = format!("{keystore:?}");
        assert!(printed.contains("wrapping_key: [redacted]"), "{printed}");
        assert!(!printed.contains(&wrapping));
        assert!(!printed.contains(&format!("{:?}", keystore.wrapping_key.expose_secret())));
    }
}
