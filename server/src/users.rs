//! The built-in user store of the reference login screen and the demo: username,
//! password hash, verified phone number, e-mail, jurisdiction, second factor and
//! the "password reset required" state.
//!
//! The verifier itself never needs passwords (docs/DESIGN.md §6): integrators check
//! their own and call the integrator API. This store exists so that Latchkey can
//! be tried and tested without an integrator.
//!
//! Invariants:
//! - every field is a checked type ([`Username`], [`PhoneNumber`],
//!   [`EmailAddress`], [`Jurisdiction`], [`SecondFactor`]) parsed at the edge;
//! - passwords are hashed with PBKDF2-HMAC-SHA256 (ring), a random 16-byte salt,
//!   and the iteration count stored with the hash, and are checked with
//!   `ring::pbkdf2::verify` (constant time); an unknown username costs the same
//!   hashing work as a wrong password and gets the same answer;
//! - every password check goes through the attempt limits of
//!   [`crate::password_attempts`] (growing delays per username and per client
//!   address, a bound on hashes computed at once), counted before hashing;
//! - passwords and hashes never appear in `Debug` output or logs;
//! - every change is one store transaction together with its audit row.

use crate::config::PasswordAttemptLimits;
use crate::password_attempts::{AttemptRefusal, ClientKey, PasswordAttempts};
use crate::policy::Jurisdiction;
use crate::store::{AuditEvent, AuditKind, Store, StoreError, StoreExt};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use latchkey_core::clock::Clock;
use latchkey_core::secret::SecretBytes;
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
const HASH_SCHEME: &str = "pbkdf2-sha256";
/// The shortest password accepted, in characters (NIST SP 800-63B-4's minimum
/// for a password used with a second factor).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why a user could not be created, found or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// A username that is not 1–64 characters of letters, digits and `._@+-`
    /// starting with a letter or digit.
    #[error("a username is 1 to 64 letters, digits or . _ @ + - and starts with a letter or digit")]
    BadUsername,
    /// A phone number that is not `+` and 8 to 15 digits (E.164).
    #[error("a phone number is + and 8 to 15 digits in international form, e.g. +85212345678")]
    BadPhone,
    /// An e-mail address that is not `local@domain.tld`.
    #[error("the e-mail address is not valid")]
    BadEmail,
    /// A jurisdiction that is not an ISO 3166-1 alpha-2 code.
    #[error("a jurisdiction is an ISO 3166-1 alpha-2 code such as HK, IN or US")]
    BadJurisdiction,
    /// A second factor other than `phone` or `sms`.
    #[error("the second factor is `phone` or `sms`")]
    BadSecondFactor,
    /// A password the password rules refuse; the text says why.
    #[error("the password is not acceptable: {0}")]
    WeakPassword(&'static str),
    /// A stored password hash that cannot be read.
    #[error("a stored password hash is not in a known form")]
    BadPasswordHash,
    /// The username is taken.
    #[error("the user already exists")]
    Exists,
    /// No user has this username.
    #[error("no such user")]
    NotFound,
    /// The username or the password is wrong (one answer for both on purpose).
    #[error("wrong username or password")]
    WrongCredentials,
    /// Too many wrong passwords for this username or from this address; the
    /// password was not checked.
    #[error("too many wrong passwords: try again later")]
    TooManyAttempts {
        /// When the next attempt is allowed (Unix seconds, the server's clock).
        retry_after: u64,
    },
    /// Every password-hashing slot is taken; the password was not checked.
    #[error("the server is busy checking passwords: try again in a moment")]
    Busy,
    /// The operating system's random generator failed.
    #[error("the random generator failed")]
    Randomness,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A username: 1–64 characters of ASCII letters, digits and `._@+-`, starting
/// with a letter or digit. Usernames are case-insensitive and kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// The username, lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Username {
    type Err = UserError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let ok = (1..=64).contains(&text.len())
            && text.as_bytes()[0].is_ascii_alphanumeric()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b));
        if !ok {
            return Err(UserError::BadUsername);
        }
        Ok(Self(text.to_ascii_lowercase()))
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A verified phone number in E.164 form: `+`, then 8 to 15 digits, the first
/// not 0. Spaces are dropped when parsing (`+852 1234 5678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// The number, `+` and digits only.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but the country-code-ish prefix and the last four
    /// digits hidden, for logs: `+852****5678`.
    pub fn masked(&self) -> String {
        let digits = &self.0[1..];
        let shown_head = digits.len().saturating_sub(4).min(3);
        format!(
            "+{}****{}",
            &digits[..shown_head],
            &digits[digits.len().saturating_sub(4)..]
        )
    }
}

impl std::str::FromStr for PhoneNumber {
    type Err = UserError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let compact: String = text.chars().filter(|c| *c != ' ').collect();
        let digits = compact.strip_prefix('+').ok_or(UserError::BadPhone)?;
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !ok {
            return Err(UserError::BadPhone);
        }
        Ok(Self(compact))
    }
}

impl std::fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address: `local@domain` with a dot in the domain, no spaces or
/// control characters, at most 254 bytes. The domain is kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address with the local part hidden but its first character, for logs:
    /// `e***@example.com`.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or(("", &self.0));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = UserError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (local, domain) = text.rsplit_once('@').ok_or(UserError::BadEmail)?;
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        let ok = text.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !text.chars().any(|c| c.is_whitespace() || c.is_control())
            && domain.contains('.')
            && labels_ok;
        if !ok {
            return Err(UserError::BadEmail);
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the account's second factor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecondFactor {
    /// The Latchkey phone app (push approval or challenge/response).
    Phone,
    /// A 6-digit code by SMS or voice call (never while a phone is active).
    Sms,
}

impl SecondFactor {
    /// The name used in the CLI, the API and the database: `phone` or `sms`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SecondFactor::Phone => "phone",
            SecondFactor::Sms => "sms",
        }
    }
}

impl std::str::FromStr for SecondFactor {
    type Err = UserError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "phone" => Ok(SecondFactor::Phone),
            "sms" => Ok(SecondFactor::Sms),
            _ => Err(UserError::BadSecondFactor),
        }
    }
}

/// A password as typed: 8 or more characters, at most 1024 bytes. Zeroized on
/// drop, redacted in `Debug`.
#[derive(Debug, Clone)]
pub struct Password(SecretBytes);

impl Password {
    /// Checks and takes `text` (the caller's string is moved, not copied).
    pub fn new(text: String) -> Result<Self, UserError> {
        let chars = text.chars().count();
        let secret = SecretBytes::new(text.into_bytes());
        if chars < MIN_PASSWORD_CHARS {
            return Err(UserError::WeakPassword(
                "it must have at least 8 characters",
            ));
        }
        if secret.len() > MAX_PASSWORD_BYTES {
            return Err(UserError::WeakPassword("it must have at most 1024 bytes"));
        }
        Ok(Self(secret))
    }

    fn bytes(&self) -> &[u8] {
        // Reason to expose: PBKDF2's input.
        self.0.expose_secret()
    }
}

/// A stored password hash, written as
/// `$pbkdf2-sha256$i=<iterations>$<salt>$<hash>` (standard base64, no padding).
/// `Debug` shows the scheme and iteration count only.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: NonZeroU32,
    salt: [u8; SALT_LEN],
    hash: [u8; HASH_LEN],
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn create(password: &Password, iterations: NonZeroU32) -> Result<Self, UserError> {
        let mut salt = [0u8; SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| UserError::Randomness)?;
        let mut hash = [0u8; HASH_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            password.bytes(),
            &mut hash,
        );
        Ok(Self {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether `password` is the one hashed, checked in constant time.
    pub fn verify(&self, password: &Password) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            self.iterations,
            &self.salt,
            password.bytes(),
            &self.hash,
        )
        .is_ok()
    }

    /// The PBKDF2 iteration count this hash was made with.
    pub fn iterations(&self) -> NonZeroU32 {
        self.iterations
    }

    /// The stored text form.
    pub fn to_stored(&self) -> String {
        format!(
            "${HASH_SCHEME}$i={}${}${}",
            self.iterations,
            STANDARD_NO_PAD.encode(self.salt),
            STANDARD_NO_PAD.encode(self.hash)
        )
    }

    /// Parses the stored text form.
    pub fn from_stored(text: &str) -> Result<Self, UserError> {
        let mut parts = text.split('$');
        let bad = || UserError::BadPasswordHash;
        if parts.next() != Some("") || parts.next() != Some(HASH_SCHEME) {
            return Err(bad());
        }
        let iterations = parts
            .next()
            .and_then(|p| p.strip_prefix("i="))
            .and_then(|n| n.parse::<NonZeroU32>().ok())
            .ok_or_else(bad)?;
        let mut field = |len: usize| -> Result<Vec<u8>, UserError> {
            let bytes = STANDARD_NO_PAD
                .decode(parts.next().ok_or_else(bad)?)
                .map_err(|_| bad())?;
            if bytes.len() == len {
                Ok(bytes)
            } else {
                Err(bad())
            }
        };
        let salt = field(SALT_LEN)?;
        let hash = field(HASH_LEN)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        let mut out = Self {
            iterations,
            salt: [0; SALT_LEN],
            hash: [0; HASH_LEN],
        };
        out.salt.copy_from_slice(&salt);
        out.hash.copy_from_slice(&hash);
        Ok(out)
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PasswordHash({HASH_SCHEME}, i={}, [redacted])",
            self.iterations
        )
    }
}

/// What is needed to create a user, besides the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The username.
    pub username: Username,
    /// The verified phone number (activation codes and SMS codes go there).
    pub phone: PhoneNumber,
    /// The e-mail address (notices and the cancel link of a phone move).
    pub email: EmailAddress,
    /// Where the account holder resides: selects the policy.
    pub jurisdiction: Jurisdiction,
    /// The account's second factor.
    pub second_factor: SecondFactor,
}

/// A built-in user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The username.
    pub username: Username,
    /// The password hash.
    pub password_hash: PasswordHash,
    /// The verified phone number.
    pub phone: PhoneNumber,
    /// The e-mail address.
    pub email: EmailAddress,
    /// Where the account holder resides.
    pub jurisdiction: Jurisdiction,
    /// The account's second factor.
    pub second_factor: SecondFactor,
    /// Set by the lockout (docs/DESIGN.md §5); cleared when the password is changed.
    pub password_reset_required: bool,
    /// When the user was created (Unix seconds).
    pub created_at: u64,
}

/// The built-in users, over a [`Store`]. Blocking: call it from a blocking
/// thread (`tokio::task::spawn_blocking`) in async code.
pub struct UserDirectory {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    iterations: NonZeroU32,
    /// A hash to check when the username is unknown, so that an unknown user
    /// costs as much as a wrong password.
    decoy: OnceLock<PasswordHash>,
    /// The limits on password checks.
    attempts: PasswordAttempts,
}

impl std::fmt::Debug for UserDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserDirectory")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl UserDirectory {
    /// Users in `store`; new passwords are hashed with `iterations` PBKDF2 rounds.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, iterations: NonZeroU32) -> Self {
        Self {
            store,
            clock,
            iterations,
            decoy: OnceLock::new(),
            attempts: PasswordAttempts::new(PasswordAttemptLimits::default()),
        }
    }

    /// The same directory with other limits on password checks.
    pub fn with_attempt_limits(mut self, limits: PasswordAttemptLimits) -> Self {
        self.attempts = PasswordAttempts::new(limits);
        self
    }

    /// The limits' counters (tests hold hashing slots through it).
    pub fn attempts(&self) -> &PasswordAttempts {
        &self.attempts
    }

    /// Creates a user, refusing a taken username.
    pub fn add(&self, new: NewUser, password: &Password) -> Result<User, UserError> {
        let user = User {
            password_hash: PasswordHash::create(password, self.iterations)?,
            username: new.username,
            phone: new.phone,
            email: new.email,
            jurisdiction: new.jurisdiction,
            second_factor: new.second_factor,
            password_reset_required: false,
            created_at: self.clock.now(),
        };
        self.store.in_transaction(|tx| {
            tx.insert_user(&user).map_err(|error| match error {
                StoreError::Duplicate(_) => UserError::Exists,
                other => UserError::Store(other),
            })?;
            tx.append_audit(&AuditEvent {
                at: user.created_at,
                kind: AuditKind::UserCreated,
                username: Some(user.username.clone()),
                detail: serde_json::json!({
                    "jurisdiction": user.jurisdiction.as_str(),
                    "second_factor": user.second_factor.as_str(),
                }),
            })?;
            Ok::<_, UserError>(())
        })?;
        tracing::info!(username = %user.username, "user created");
        Ok(user)
    }

    /// The user with this username, if any.
    pub fn get(&self, username: &Username) -> Result<Option<User>, UserError> {
        Ok(self.store.in_transaction(|tx| tx.user(username))?)
    }

    /// Checks a username and password with no client address known: as
    /// [`UserDirectory::check_password_from`] counted per username only.
    pub fn check_password(
        &self,
        username: &Username,
        password: &Password,
    ) -> Result<User, UserError> {
        self.check_password_from(None, username, password)
    }

    /// Checks a username and password from `client`; the same
    /// [`UserError::WrongCredentials`] for an unknown user and a wrong password,
    /// after the same hashing work. Before hashing, the attempt limits apply
    /// (docs/PROTOCOL.md §7, "Password attempts"): [`UserError::TooManyAttempts`]
    /// while the username or the address is delayed, [`UserError::Busy`] when
    /// every hashing slot is taken — neither is counted.
    pub fn check_password_from(
        &self,
        client: Option<std::net::IpAddr>,
        username: &Username,
        password: &Password,
    ) -> Result<User, UserError> {
        let attempt = self
            .attempts
            .begin(
                self.clock.now(),
                username.as_str(),
                client.map(ClientKey::of),
            )
            .map_err(|refusal| match refusal {
                AttemptRefusal::Delayed { retry_after } => {
                    UserError::TooManyAttempts { retry_after }
                }
                AttemptRefusal::Busy => UserError::Busy,
            })?;
        let checked = self.verify_password(username, password);
        if checked.is_ok() {
            attempt.succeeded();
        }
        checked
    }

    fn verify_password(&self, username: &Username, password: &Password) -> Result<User, UserError> {
        match self.get(username)? {
            Some(user) if user.password_hash.verify(password) => Ok(user),
            Some(_) => Err(UserError::WrongCredentials),
            None => {
                let decoy = match self.decoy.get() {
                    Some(decoy) => decoy,
                    None => {
                        let fresh = PasswordHash::create(
                            &Password(SecretBytes::from_slice(b"decoy password")),
                            self.iterations,
                        )?;
                        self.decoy.get_or_init(|| fresh)
                    }
                };
                let _ = decoy.verify(password);
                Err(UserError::WrongCredentials)
            }
        }
    }

    /// Sets a new password and clears "password reset required".
    pub fn set_password(
        &self,
        username: &Username,
        password: &Password,
    ) -> Result<User, UserError> {
        let hash = PasswordHash::create(password, self.iterations)?;
        let now = self.clock.now();
        self.store.in_transaction(|tx| {
            let mut user = tx.user(username)?.ok_or(UserError::NotFound)?;
            user.password_hash = hash.clone();
            user.password_reset_required = false;
            tx.update_user(&user)?;
            tx.append_audit(&AuditEvent {
                at: now,
                kind: AuditKind::PasswordChanged,
                username: Some(user.username.clone()),
                detail: serde_json::json!({}),
            })?;
            Ok(user)
        })
    }

    /// Puts the account into "password reset required" (the lockout of
    /// docs/DESIGN.md §5; already there, it stays there and nothing is recorded).
    pub fn require_password_reset(
        &self,
        username: &Username,
        reason: &str,
    ) -> Result<User, UserError> {
        let now = self.clock.now();
        self.store.in_transaction(|tx| {
            let mut user = tx.user(username)?.ok_or(UserError::NotFound)?;
            if !user.password_reset_required {
                user.password_reset_required = true;
                tx.update_user(&user)?;
                tx.append_audit(&AuditEvent {
                    at: now,
                    kind: AuditKind::PasswordResetRequired,
                    username: Some(user.username.clone()),
                    detail: serde_json::json!({ "reason": reason }),
                })?;
            }
            Ok(user)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;
    use latchkey_core::clock::ManualClock;

    fn fast() -> NonZeroU32 {
        NonZeroU32::new(1_000).unwrap()
    }

    fn directory() -> (UserDirectory, Arc<SqliteStore>) {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        (UserDirectory::new(store.clone(), clock, fast()), store)
    }

    fn alice() -> NewUser {
        NewUser {
            username: "Alice".parse().unwrap(),
            phone: "+852 1234 5678".parse().unwrap(),
            email: "alice@Example.COM".parse().unwrap(),
            jurisdiction: "hk".parse().unwrap(),
            second_factor: SecondFactor::Phone,
        }
    }

    fn password(text: &str) -> Password {
        Password::new(text.to_owned()).unwrap()
    }

    #[test]
    fn a_user_is_stored_with_checked_fields_and_an_audit_row() {
        let (users, store) = directory();
        let created = users.add(alice(), &password("correct horse")).unwrap();
        assert_eq!(created.username.as_str(), "alice");
        assert_eq!(created.phone.as_str(), "+85212345678");
        assert_eq!(created.email.as_str(), "alice@example.com");
        assert_eq!(created.jurisdiction.as_str(), "HK");
        assert!(!created.password_reset_required);
        assert_eq!(created.created_at, 1_800_000_000);
        let username: Username = "ALICE".parse().unwrap();
        assert_eq!(users.get(&username).unwrap(), Some(created));
        let audit = store.in_transaction(|tx| tx.audit_after(0, 10)).unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].event.kind, AuditKind::UserCreated);
    }

    #[test]
    fn a_taken_username_is_refused_and_nothing_changes() {
        let (users, store) = directory();
        users.add(alice(), &password("correct horse")).unwrap();
        let mut again = alice();
        again.email = "other@example.com".parse().unwrap();
        assert!(matches!(
            users.add(again, &password("another one")),
            Err(UserError::Exists)
        ));
        let audit = store.in_transaction(|tx| tx.audit_after(0, 10)).unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(store.in_transaction(|tx| tx.user_count()).unwrap(), 1);
    }

    #[test]
    fn passwords_verify_and_unknown_users_get_the_same_answer_as_wrong_passwords() {
        let (users, _) = directory();
        users.add(alice(), &password("correct horse")).unwrap();
        let alice: Username = "alice".parse().unwrap();
        assert!(
            users
                .check_password(&alice, &password("correct horse"))
                .is_ok()
        );
        assert!(matches!(
            users.check_password(&alice, &password("correct horsE")),
            Err(UserError::WrongCredentials)
        ));
        assert!(matches!(
            users.check_password(&"bob".parse().unwrap(), &password("correct horse")),
            Err(UserError::WrongCredentials)
        ));
    }

    #[test]
    fn a_password_reset_is_required_once_and_cleared_by_a_new_password() {
        let (users, store) = directory();
        users.add(alice(), &password("correct horse")).unwrap();
        let alice: Username = "alice".parse().unwrap();
        assert!(
            users
                .require_password_reset(&alice, "lockout")
                .unwrap()
                .password_reset_required
        );
        assert!(
            users
                .require_password_reset(&alice, "lockout")
                .unwrap()
                .password_reset_required
        );
        let changed = users
            .set_password(&alice, &password("battery staple"))
            .unwrap();
        assert!(!changed.password_reset_required);
        assert!(
            users
                .check_password(&alice, &password("battery staple"))
                .is_ok()
        );
        assert!(
            users
                .check_password(&alice, &password("correct horse"))
                .is_err()
        );
        let kinds: Vec<AuditKind> = store
            .in_transaction(|tx| tx.audit_after(0, 10))
            .unwrap()
            .into_iter()
            .map(|row| row.event.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                AuditKind::UserCreated,
                AuditKind::PasswordResetRequired,
                AuditKind::PasswordChanged
            ]
        );
        assert!(matches!(
            users.set_password(&"bob".parse().unwrap(), &password("battery staple")),
            Err(UserError::NotFound)
        ));
    }

    #[test]
    fn password_hashes_keep_their_iteration_count_and_round_trip() {
        let hash = PasswordHash::create(&password("correct horse"), fast()).unwrap();
        let stored = hash.to_stored();
        assert!(stored.starts_with("$pbkdf2-sha256$i=1000$"), "{stored}");
        let parsed = PasswordHash::from_stored(&stored).unwrap();
        assert_eq!(parsed, hash);
        assert_eq!(parsed.iterations().get(), 1_000);
        assert!(parsed.verify(&password("correct horse")));
        let other = PasswordHash::create(&password("correct horse"), fast()).unwrap();
        assert_ne!(other.to_stored(), stored, "salts are random");
        for bad in [
            "",
            "$pbkdf2-sha256$i=0$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$i=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$pbkdf2-sha256$i=1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &format!("{stored}$x"),
        ] {
            assert!(PasswordHash::from_stored(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_of_passwords_and_hashes_is_redacted() {
        let secret = password("hunter2hunter2");
        let hash = PasswordHash::create(&secret, fast()).unwrap();
        let printed = format!("{secret:?} {hash:?}");
        assert!(!printed.contains("hunter2"));
        let stored = hash.to_stored();
        let salt = stored.split('$').nth(3).unwrap();
        assert!(!printed.contains(salt));
        assert_eq!(
            printed,
            "Password([redacted]) PasswordHash(pbkdf2-sha256, i=1000, [redacted])"
        );
    }

    #[test]
    fn fields_are_checked_at_the_edge() {
        assert!(Password::new("short".into()).is_err());
        assert!(Password::new("x".repeat(1025)).is_err());
        assert!(Password::new("日本語のパスワード".into()).is_ok());
        for bad in ["", ".alice", "al ice", "alice!", &"a".repeat(65)] {
            assert!(bad.parse::<Username>().is_err(), "{bad:?}");
        }
        for good in ["a", "alice.smith+test@corp", "u_1-2"] {
            assert!(good.parse::<Username>().is_ok(), "{good:?}");
        }
        for bad in [
            "85212345678",
            "+0852123456",
            "+1234567",
            "+1234567890123456",
            "+852-1234",
        ] {
            assert!(bad.parse::<PhoneNumber>().is_err(), "{bad:?}");
        }
        let phone: PhoneNumber = "+91 98765 43210".parse().unwrap();
        assert_eq!(phone.as_str(), "+919876543210");
        assert_eq!(phone.masked(), "+919****3210");
        for bad in [
            "a",
            "a@b",
            "@b.com",
            "a b@c.com",
            "a@b..com",
            "a@-.",
            "a@b.com\n",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?}");
        }
        let email: EmailAddress = "e@x.example".parse().unwrap();
        assert_eq!(email.masked(), "e***@x.example");
        assert_eq!("sms".parse::<SecondFactor>().unwrap(), SecondFactor::Sms);
        assert!("voice".parse::<SecondFactor>().is_err());
    }
}
