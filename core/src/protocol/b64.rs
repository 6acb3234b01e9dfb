//! Base64url without padding: how binary fields travel inside JSON.
//!
//! Invariant: exactly one spelling per byte string (no padding, no whitespace,
//! canonical trailing bits), so a re-encoded value compares equal as text.

use super::ProtocolError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Encodes bytes as base64url without padding.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding; anything else is [`ProtocolError::BadBase64`].
pub fn decode(text: &str) -> Result<Vec<u8>, ProtocolError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| ProtocolError::BadBase64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_has_one_spelling() {
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode("-_8").unwrap(), vec![0xfb, 0xff]);
        for bad in ["-_8=", "+/8", "-_9", " -_8", "a"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
