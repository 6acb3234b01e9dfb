//! The Latchkey protocol (`docs/PROTOCOL.md` is its normative text): identifiers,
//! the server profile, the canonical encoding, the key schedule and every message
//! the phone and the server exchange.
//!
//! Everything here is pure: values in, values out. Callers (the phone's
//! `Authenticator`, the server's verifier) keep ceremony state, own the clock and
//! do the I/O.
//!
//! Invariants: every signed or MACed byte string is canonical
//! ([`codec`]); every parser turns untrusted bytes into checked types or a typed
//! [`ProtocolError`], never a panic; a signed message is checked — signature,
//! server, enrollment, epoch, purpose, validity window — before any of its content
//! is used.

pub mod b64;
pub mod codec;
pub mod envelope;
pub mod error_code;
pub mod ids;
pub mod keys;
pub mod messages;
pub mod phone_paths;
pub mod profile;
pub mod secrets;
#[cfg(any(test, feature = "soft-phone"))]
pub mod soft_phone;
pub mod text;

pub use envelope::{
    DEVICE_MAX_SKEW, DeviceExpectation, DeviceHeader, Message, SERVER_CLOCK_SKEW,
    ServerExpectation, ServerHeader, Signed, Signer, Verified,
};
pub use error_code::ErrorCode;
pub use ids::{EnrollmentId, ProofId, ReplacementId, RequestId, SessionId, TicketId};
pub use keys::{Challenge, DevicePublicKey, LATCHKEY_SUITE};
pub use messages::*;
pub use profile::{ServerFingerprint, ServerProfile, ServerPublicKey};
pub use secrets::{SealedSecret, TicketPublicKey, TicketSecretKey};
#[cfg(any(test, feature = "soft-phone"))]
pub use soft_phone::SoftPhone;
pub use text::check_display_text;

/// Why a protocol message or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A field ran past the end of the message.
    #[error("the message is truncated")]
    Truncated,
    /// Bytes were left over after the last field.
    #[error("the message has trailing bytes")]
    TrailingBytes,
    /// The message is larger than the protocol allows.
    #[error("the message has {len} bytes, more than the {max} allowed")]
    Oversized {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The message was made for another purpose (its domain label differs).
    #[error("the message is for {found:?}, not {expected:?}")]
    WrongPurpose {
        /// The label expected.
        expected: String,
        /// The label found (at most 64 characters of it).
        found: String,
    },
    /// A field has the wrong length or an invalid value; the text names the field.
    #[error("the field {0} is invalid")]
    BadField(&'static str),
    /// A text shown to the user that is too long or holds control, format or bidi
    /// characters (see [`text`]); names the field.
    #[error("the {0} is too long or holds control, format or bidi characters")]
    UnsafeText(&'static str),
    /// An identifier that is not 16 bytes / 32 lowercase hex characters.
    #[error("the {0} is not a valid identifier")]
    BadIdentifier(&'static str),
    /// A key of the wrong size or form.
    #[error("the {0} is not a valid key")]
    BadKey(&'static str),
    /// Text that should be base64url (no padding) is not.
    #[error("a binary field is not valid base64url")]
    BadBase64,
    /// JSON that does not have the expected shape.
    #[error("the JSON body does not have the expected shape")]
    BadJson,
    /// A version this code does not speak.
    #[error("protocol version {0} is not supported")]
    UnsupportedVersion(u32),
    /// The signature does not verify under the expected key.
    #[error("the signature does not verify")]
    BadSignature,
    /// A server key that does not match the pinned fingerprint.
    #[error("the server's key does not match the pinned fingerprint")]
    FingerprintMismatch,
    /// A message signed for another server.
    #[error("the message names another server")]
    WrongServer,
    /// A message about another enrollment.
    #[error("the message names another enrollment")]
    WrongEnrollment,
    /// A message from another epoch of the account (an older or newer phone).
    #[error("the message is for epoch {found}, expected {expected}")]
    WrongEpoch {
        /// The epoch expected.
        expected: u64,
        /// The epoch in the message.
        found: u64,
    },
    /// The message's validity ended.
    #[error("the message expired at {expires_at} (now {now})")]
    Expired {
        /// When it expired (Unix seconds).
        expires_at: u64,
        /// The time it was checked at.
        now: u64,
    },
    /// The message is not valid yet (issued in the future beyond the allowed skew).
    #[error("the message is issued at {issued_at}, after now ({now})")]
    NotYetValid {
        /// When it claims to be issued.
        issued_at: u64,
        /// The time it was checked at.
        now: u64,
    },
    /// Decryption failed: wrong key, wrong context, or tampered ciphertext. Opaque
    /// on purpose.
    #[error("the ciphertext could not be decrypted")]
    Decryption,
    /// Encryption failed (a malformed recipient key).
    #[error("the secret could not be encrypted")]
    Encryption,
    /// The operating system's random generator failed.
    #[error("the random generator failed")]
    Randomness,
    /// A challenge that is not six ASCII digits from 100000 to 999999.
    #[error("the challenge must be six digits from 100000 to 999999")]
    BadChallenge,
    /// A PIN that the PIN policy refuses; the text says why.
    #[error("the PIN is not acceptable: {0}")]
    WeakPin(&'static str),
    /// The two PIN entries differ.
    #[error("the two PIN entries differ")]
    PinMismatch,
    /// The OTP engine refused an input.
    #[error(transparent)]
    Otp(#[from] crate::otp::OtpError),
}
