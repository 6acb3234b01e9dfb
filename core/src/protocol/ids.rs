//! Identifiers: random 128-bit values, written as 32 lowercase hex characters.
//!
//! Invariants: an identifier is exactly 16 bytes; its text form is exactly 32
//! lowercase hex characters (anything else is refused, so one identifier has one
//! spelling); fresh identifiers come from the operating system's generator.

use super::ProtocolError;
use crate::encoding::{decode_hex, encode_hex};
use ring::rand::{SecureRandom, SystemRandom};

/// Fills `bytes` from the operating system's random generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ProtocolError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ProtocolError::Randomness)?;
    Ok(bytes)
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// A fresh random identifier.
            pub fn random() -> Result<Self, ProtocolError> {
                Ok(Self(random_bytes()?))
            }

            /// The identifier with these exact bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// Parses 16 bytes from a slice of any length, refusing other lengths.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
                <[u8; 16]>::try_from(bytes)
                    .map(Self)
                    .map_err(|_| ProtocolError::BadIdentifier($what))
            }

            /// The 16 bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ProtocolError;

            /// Exactly 32 lowercase hex characters.
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                if text.len() != 32 || text.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(ProtocolError::BadIdentifier($what));
                }
                let bytes = decode_hex(text).map_err(|_| ProtocolError::BadIdentifier($what))?;
                Self::from_slice(&bytes)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&encode_hex(&self.0))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

identifier!(
    /// An enrollment: one phone's binding to one account. Created by the server
    /// when an activation starts; it stays the enrollment's id for life.
    EnrollmentId,
    "enrollment id"
);
identifier!(
    /// A ticket: one activation or PIN change in progress, with its own X25519 key.
    TicketId,
    "ticket id"
);
identifier!(
    /// A push approval request. Its text form is the opaque handle in the push payload.
    RequestId,
    "request id"
);
identifier!(
    /// A login session opened by the integrator (or the reference login screen).
    SessionId,
    "session id"
);
identifier!(
    /// A PIN-proof challenge handed to the phone in a sync answer.
    ProofId,
    "proof id"
);
identifier!(
    /// A phone replacement (move to a new phone) in progress.
    ReplacementId,
    "replacement id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_one_spelling() {
        let id = EnrollmentId::random().unwrap();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<EnrollmentId>().unwrap(), id);
        assert!(
            text.to_uppercase().parse::<EnrollmentId>().is_err()
                || text.bytes().all(|b| b.is_ascii_digit())
        );
        for bad in ["", "00", &"0".repeat(31), &"0".repeat(33), &"g".repeat(32)] {
            assert!(matches!(
                bad.parse::<EnrollmentId>(),
                Err(ProtocolError::BadIdentifier("enrollment id"))
            ));
        }
    }

    #[test]
    fn fresh_identifiers_differ() {
        assert_ne!(RequestId::random().unwrap(), RequestId::random().unwrap());
    }
}
