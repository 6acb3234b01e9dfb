//! Small, strict text encodings shared by the OTP engine and the protocol.
//!
//! Invariants: decoding never panics, and every refusal names the problem
//! (empty, odd length, or the first offending character and its position).

/// Why a hexadecimal string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HexError {
    /// The string has no characters at all.
    #[error("the hex string is empty")]
    Empty,
    /// Hex encodes bytes as pairs of digits; an odd count cannot be a byte string.
    #[error("the hex string has an odd number of digits ({0})")]
    OddLength(usize),
    /// A character that is not `0-9`, `a-f` or `A-F`.
    #[error("the hex string has a non-hex character at position {position}")]
    InvalidCharacter {
        /// Zero-based index of the first offending character.
        position: usize,
    },
}

/// The value of one ASCII hex digit, or `None`.
pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes a hex string (either case) into bytes. The empty string is refused:
/// no key or hash of this project is empty.
pub fn decode_hex(text: &str) -> Result<Vec<u8>, HexError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(HexError::Empty);
    }
    // Find a bad character before complaining about the length: it is the more
    // useful message for a pasted key with a stray character.
    if let Some(position) = text.chars().position(|c| !c.is_ascii_hexdigit()) {
        return Err(HexError::InvalidCharacter { position });
    }
    if bytes.len() % 2 != 0 {
        return Err(HexError::OddLength(bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() / 2);
    for pair in bytes.chunks_exact(2) {
        let (Some(high), Some(low)) = (hex_value(pair[0]), hex_value(pair[1])) else {
            return Err(HexError::InvalidCharacter { position: 0 });
        };
        out.push(high << 4 | low);
    }
    Ok(out)
}

/// Encodes bytes as lowercase hex.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_in_either_case() {
        assert_eq!(decode_hex("00fFa1").unwrap(), vec![0x00, 0xff, 0xa1]);
        assert_eq!(encode_hex(&[0x00, 0xff, 0xa1]), "00ffa1");
    }

    #[test]
    fn hex_refusals_name_the_problem() {
        assert_eq!(decode_hex(""), Err(HexError::Empty));
        assert_eq!(decode_hex("abc"), Err(HexError::OddLength(3)));
        assert_eq!(
            decode_hex("ab-d"),
            Err(HexError::InvalidCharacter { position: 2 })
        );
        // A multi-byte character is reported by character position, not byte.
        assert_eq!(
            decode_hex("aé00"),
            Err(HexError::InvalidCharacter { position: 1 })
        );
    }
}
