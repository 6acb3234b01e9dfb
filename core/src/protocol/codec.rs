//! The canonical encoding of everything Latchkey signs, MACs or encrypts.
//!
//! A message is a sequence of fields, each written as a 4-byte big-endian length
//! followed by that many bytes. The first field is always the domain label
//! `latchkey/v1/<purpose>`, so bytes signed for one purpose can never be read as
//! another. Integers are 8-byte big-endian fields, booleans and small enums 1-byte
//! fields, optional values a 1-byte presence field (0 or 1) followed by the value's
//! field when present, and lists a 4-byte count field followed by the items.
//!
//! Invariants: decoding never panics and never reads past the end; a message
//! larger than [`MAX_MESSAGE_LEN`], a field running past the end, a wrong label,
//! or bytes left over after the last field are refused with a typed error. One
//! value has exactly one encoding, so re-encoding a decoded message gives the same
//! bytes.

use super::ProtocolError;

/// The largest canonical message accepted, in bytes.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// The domain label of a purpose: `latchkey/v1/<purpose>`.
pub fn label(purpose: &str) -> String {
    format!("latchkey/v1/{purpose}")
}

/// Writes a canonical message.
#[derive(Debug)]
pub struct Encoder {
    out: Vec<u8>,
}

impl Encoder {
    /// Starts a message with the label `latchkey/v1/<purpose>`.
    pub fn new(purpose: &str) -> Self {
        let mut encoder = Self {
            out: Vec::with_capacity(256),
        };
        encoder.bytes(label(purpose).as_bytes());
        encoder
    }

    /// A field of raw bytes.
    pub fn bytes(&mut self, value: &[u8]) -> &mut Self {
        // Messages are built from bounded fields; a length over u32 cannot occur.
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(value);
        self
    }

    /// A UTF-8 string field.
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.bytes(value.as_bytes())
    }

    /// An 8-byte big-endian integer field.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes(&value.to_be_bytes())
    }

    /// A 1-byte field (small enums).
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes(&[value])
    }

    /// A boolean: a 1-byte field holding 0 or 1.
    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.u8(u8::from(value))
    }

    /// An optional byte string: presence, then the value if present.
    pub fn opt_bytes(&mut self, value: Option<&[u8]>) -> &mut Self {
        match value {
            Some(value) => self.bool(true).bytes(value),
            None => self.bool(false),
        }
    }

    /// An optional string.
    pub fn opt_str(&mut self, value: Option<&str>) -> &mut Self {
        self.opt_bytes(value.map(str::as_bytes))
    }

    /// An optional integer.
    pub fn opt_u64(&mut self, value: Option<u64>) -> &mut Self {
        match value {
            Some(value) => self.bool(true).u64(value),
            None => self.bool(false),
        }
    }

    /// The count of a list whose items follow.
    pub fn count(&mut self, count: usize) -> &mut Self {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        self.bytes(&count.to_be_bytes())
    }

    /// The finished message.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

/// Reads a canonical message, field by field.
#[derive(Debug)]
pub struct Decoder<'a> {
    rest: &'a [u8],
}

impl<'a> Decoder<'a> {
    /// Starts reading `message`, which must carry the label of `purpose`.
    pub fn new(message: &'a [u8], purpose: &str) -> Result<Self, ProtocolError> {
        if message.len() > MAX_MESSAGE_LEN {
            return Err(ProtocolError::Oversized {
                len: message.len(),
                max: MAX_MESSAGE_LEN,
            });
        }
        let mut decoder = Self { rest: message };
        let found = decoder.bytes()?;
        if found != label(purpose).as_bytes() {
            return Err(ProtocolError::WrongPurpose {
                expected: label(purpose),
                found: String::from_utf8_lossy(found).chars().take(64).collect(),
            });
        }
        Ok(decoder)
    }

    /// The label of a message without checking it (to route a message by purpose).
    pub fn peek_label(message: &[u8]) -> Result<&[u8], ProtocolError> {
        Decoder { rest: message }.bytes()
    }

    /// The next field's bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        let (len, rest) = self
            .rest
            .split_at_checked(4)
            .ok_or(ProtocolError::Truncated)?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (value, rest) = rest.split_at_checked(len).ok_or(ProtocolError::Truncated)?;
        self.rest = rest;
        Ok(value)
    }

    /// The next field, which must have exactly `N` bytes.
    pub fn fixed<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ProtocolError> {
        <[u8; N]>::try_from(self.bytes()?).map_err(|_| ProtocolError::BadField(what))
    }

    /// The next field as UTF-8 text.
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, ProtocolError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| ProtocolError::BadField(what))
    }

    /// The next field as an 8-byte big-endian integer.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, ProtocolError> {
        Ok(u64::from_be_bytes(self.fixed::<8>(what)?))
    }

    /// The next field as one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.fixed::<1>(what)?[0])
    }

    /// The next field as a boolean (exactly 0 or 1).
    pub fn bool(&mut self, what: &'static str) -> Result<bool, ProtocolError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ProtocolError::BadField(what)),
        }
    }

    /// An optional byte string.
    pub fn opt_bytes(&mut self, what: &'static str) -> Result<Option<&'a [u8]>, ProtocolError> {
        if self.bool(what)? {
            Ok(Some(self.bytes()?))
        } else {
            Ok(None)
        }
    }

    /// An optional string.
    pub fn opt_str(&mut self, what: &'static str) -> Result<Option<&'a str>, ProtocolError> {
        if self.bool(what)? {
            Ok(Some(self.str(what)?))
        } else {
            Ok(None)
        }
    }

    /// An optional integer.
    pub fn opt_u64(&mut self, what: &'static str) -> Result<Option<u64>, ProtocolError> {
        if self.bool(what)? {
            Ok(Some(self.u64(what)?))
        } else {
            Ok(None)
        }
    }

    /// A list count, refusing counts that could not fit in what is left (every
    /// item takes at least one 4-byte length).
    pub fn count(&mut self, what: &'static str) -> Result<usize, ProtocolError> {
        let count = u32::from_be_bytes(self.fixed::<4>(what)?) as usize;
        if count > self.rest.len() / 4 {
            return Err(ProtocolError::Truncated);
        }
        Ok(count)
    }

    /// Ends reading: nothing may be left over.
    pub fn finish(self) -> Result<(), ProtocolError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::TrailingBytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_nothing_is_left_over() {
        let message = Encoder::new("test")
            .bytes(b"abc")
            .str("é")
            .u64(7)
            .bool(true)
            .opt_str(None)
            .opt_u64(Some(9))
            .count(2)
            .finish();
        let mut d = Decoder::new(&message, "test").unwrap();
        assert_eq!(d.bytes().unwrap(), b"abc");
        assert_eq!(d.str("s").unwrap(), "é");
        assert_eq!(d.u64("n").unwrap(), 7);
        assert!(d.bool("b").unwrap());
        assert_eq!(d.opt_str("o").unwrap(), None);
        assert_eq!(d.opt_u64("o").unwrap(), Some(9));
        assert!(
            matches!(d.count("c"), Err(ProtocolError::Truncated)),
            "a count larger than what follows"
        );
    }

    #[test]
    fn the_label_is_length_prefixed_and_checked() {
        let message = Encoder::new("approval").finish();
        assert_eq!(
            &message[..4],
            &(b"latchkey/v1/approval".len() as u32).to_be_bytes()
        );
        assert!(matches!(
            Decoder::new(&message, "denial"),
            Err(ProtocolError::WrongPurpose { .. })
        ));
    }

    #[test]
    fn truncation_and_trailing_bytes_are_refused() {
        let message = Encoder::new("t").u64(1).finish();
        for cut in 0..message.len() {
            let result =
                Decoder::new(&message[..cut], "t").and_then(|mut d| d.u64("n").map(|_| ()));
            assert!(result.is_err(), "cut at {cut}");
        }
        let mut long = message.clone();
        long.push(0);
        let mut d = Decoder::new(&long, "t").unwrap();
        d.u64("n").unwrap();
        assert!(matches!(d.finish(), Err(ProtocolError::TrailingBytes)));
        assert!(matches!(
            Decoder::new(&vec![0u8; MAX_MESSAGE_LEN + 1], "t"),
            Err(ProtocolError::Oversized { .. })
        ));
    }

    #[test]
    fn booleans_are_exactly_zero_or_one() {
        let message = Encoder::new("t").u8(2).finish();
        let mut d = Decoder::new(&message, "t").unwrap();
        assert!(matches!(
            d.bool("flag"),
            Err(ProtocolError::BadField("flag"))
        ));
    }
}
