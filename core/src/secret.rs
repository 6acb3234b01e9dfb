//! Secret bytes: keys, seeds and PIN-derived values.
//!
//! Invariants: the bytes are zeroized when the value is dropped; `Debug` prints
//! `[redacted]` and never the bytes or their length; equality is constant-time;
//! the bytes leave only through [`SecretBytes::expose_secret`], whose call sites
//! say why they need them.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Bytes that must not leak: zeroized on drop, redacted in `Debug`, compared in
/// constant time.
#[derive(Clone)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `bytes`; the caller's vector is moved, not copied.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies `bytes` into a new secret. The caller remains responsible for
    /// wiping its own copy.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// The secret's bytes. Every caller must need the plaintext (to key an HMAC,
    /// to seal it in a keystore…) and should say so at the call site.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// How many bytes the secret has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_slice().ct_eq(other.0.as_slice()).into()
    }
}

impl Eq for SecretBytes {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_secret_is_redacted() {
        let secret = SecretBytes::from_slice(b"hunter2-very-secret");
        let printed = format!("{secret:?} {:?}", vec![secret.clone()]);
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains("104")); // the first byte, as a number
        assert_eq!(printed, "[redacted] [[redacted]]");
    }

    #[test]
    fn secrets_compare_by_content() {
        assert_eq!(
            SecretBytes::from_slice(b"abc"),
            SecretBytes::from_slice(b"abc")
        );
        assert_ne!(
            SecretBytes::from_slice(b"abc"),
            SecretBytes::from_slice(b"abd")
        );
        assert_ne!(
            SecretBytes::from_slice(b"abc"),
            SecretBytes::from_slice(b"abcd")
        );
    }
}
