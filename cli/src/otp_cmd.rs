//! `latchkey ocra | hotp | totp`: the OTP engine on the command line.
//!
//! Each command prints the code alone on stdout (so scripts can capture it) and
//! refuses bad input with one line on stderr and exit status 2.
//!
//! The key need not be on the command line (where other local users can see
//! it): `--key -` reads it from stdin (without echo at a terminal), `--key @FILE`
//! from a file; it is hex, or base32 with `--base32` (RFC 4648, case and spaces
//! and `=` padding ignored, as `oathtool -b` takes it). Like `oathtool`,
//! `hotp|totp --validate CODE --window N` checks a code instead of printing one:
//! it prints the counter (HOTP, from `--counter` to `--counter` + N) or the
//! offset in time steps (TOTP, within ±N steps, nearest first) that matched,
//! and exits 1 when none did.

use crate::CliError;
use clap::{Args, ValueEnum};
use latchkey_core::encoding::decode_hex;
use latchkey_core::otp::{
    HashAlgorithm, Hotp, OcraChallenge, OcraInputs, OcraPin, OcraSuite, OcraTime, OtpError, OtpKey,
    Totp,
};
use latchkey_core::secret::SecretBytes;

/// The RFC 6287 §7 computation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OcraMode {
    /// One-way challenge-response (§7.1): the verifier's challenge in --challenge.
    OneWay,
    /// Plain signature (§7.4): the signature challenge in --challenge.
    Signature,
    /// Mutual challenge-response, the server's response R_S over client ‖ server.
    MutualServer,
    /// Mutual challenge-response, the client's response R_C over server ‖ client.
    MutualClient,
}

/// Arguments of `latchkey ocra`.
#[derive(Debug, Args)]
pub struct OcraArgs {
    /// The OCRA suite, e.g. OCRA-1:HOTP-SHA256-8:QN06-T1M.
    #[arg(long)]
    suite: String,
    #[command(flatten)]
    key: KeyArgs,
    /// The challenge (one-way and signature modes).
    #[arg(long, required_unless_present_any = ["client_challenge", "server_challenge"])]
    challenge: Option<String>,
    /// The computation: one-way (default), signature, mutual-server or mutual-client.
    #[arg(long, value_enum, default_value_t = OcraMode::OneWay)]
    mode: OcraMode,
    /// The client's challenge (mutual modes).
    #[arg(long)]
    client_challenge: Option<String>,
    /// The server's challenge (mutual modes).
    #[arg(long)]
    server_challenge: Option<String>,
    /// The counter C, for suites with C.
    #[arg(long, value_parser = parse_u64)]
    counter: Option<u64>,
    /// The PIN, hashed with the suite's P hash (note: visible to other local users
    /// in the process list; prefer --pin-hash in scripts).
    #[arg(long, conflicts_with = "pin_hash")]
    pin: Option<String>,
    /// The PIN's hash, in hex, exactly as long as the suite's P hash.
    #[arg(long)]
    pin_hash: Option<String>,
    /// Session information S, in hex, at most the suite's nnn bytes.
    #[arg(long)]
    session: Option<String>,
    /// The time as Unix seconds, for suites with T (default: now).
    #[arg(long, value_parser = parse_u64, conflicts_with = "timestamp")]
    time: Option<u64>,
    /// The time as a number of the suite's time steps since the Unix epoch.
    #[arg(long, value_parser = parse_u64)]
    timestamp: Option<u64>,
}

/// Where the shared key comes from and how it is written.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The shared key: hex (or base32 with --base32); `-` reads it from stdin,
    /// `@FILE` from a file.
    #[arg(long)]
    key: String,
    /// The key is base32 (RFC 4648, as authenticator apps show it), not hex.
    #[arg(long)]
    base32: bool,
}

/// Checking a code instead of printing one (as `oathtool --validate`).
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Check this code: print the matching counter (HOTP) or time-step offset
    /// (TOTP), or exit 1 when none in the window matches.
    #[arg(long, value_name = "CODE")]
    validate: Option<String>,
    /// How far to look with --validate: HOTP counters after --counter, TOTP
    /// steps either side of the time (at most 100000).
    #[arg(long, default_value_t = 0, value_parser = parse_u64, requires = "validate")]
    window: u64,
}

/// The widest --window: enough for any resynchronisation, small enough to answer at once.
const MAX_WINDOW: u64 = 100_000;

/// Arguments of `latchkey hotp`.
#[derive(Debug, Args)]
pub struct HotpArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// The counter (with --validate: the first counter checked).
    #[arg(long, value_parser = parse_u64)]
    counter: u64,
    /// Digits, 6 to 8.
    #[arg(long, default_value_t = 6, value_parser = parse_u32)]
    digits: u32,
    /// sha1, sha256 or sha512.
    #[arg(long, default_value = "sha1", value_parser = parse_algorithm)]
    algorithm: HashAlgorithm,
    #[command(flatten)]
    validate: ValidateArgs,
}

/// Arguments of `latchkey totp`.
#[derive(Debug, Args)]
pub struct TotpArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// The time as Unix seconds (default: now).
    #[arg(long, value_parser = parse_u64)]
    time: Option<u64>,
    /// The time step in seconds.
    #[arg(long, default_value_t = 30, value_parser = parse_u64)]
    period: u64,
    /// T0, the Unix time steps are counted from.
    #[arg(long, default_value_t = 0, value_parser = parse_u64)]
    t0: u64,
    /// Digits, 6 to 8.
    #[arg(long, default_value_t = 6, value_parser = parse_u32)]
    digits: u32,
    /// sha1, sha256 or sha512.
    #[arg(long, default_value = "sha1", value_parser = parse_algorithm)]
    algorithm: HashAlgorithm,
    #[command(flatten)]
    validate: ValidateArgs,
}

/// A decimal of ASCII digits only (no sign, no spaces), fitting a u64.
fn parse_u64(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} is not a whole number of ASCII digits"));
    }
    text.parse()
        .map_err(|_| format!("{text:?} is too large (at most {})", u64::MAX))
}

fn parse_u32(text: &str) -> Result<u32, String> {
    let value = parse_u64(text)?;
    u32::try_from(value).map_err(|_| format!("{text:?} is too large"))
}

fn parse_algorithm(text: &str) -> Result<HashAlgorithm, String> {
    text.parse().map_err(|e: OtpError| e.to_string())
}

/// The wall clock, read here because the engine never reads it (docs/STYLE.md §3).
fn now_unix_seconds() -> Result<u64, CliError> {
    crate::clock::SystemClock
        .try_now()
        .ok_or_else(|| CliError::Runtime("the system clock is before 1970".into()))
}

/// Decodes RFC 4648 base32 (either case; spaces, dashes and `=` padding are
/// ignored, as authenticator apps group the characters).
fn decode_base32(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    let mut characters = 0usize;
    for (position, c) in text.chars().enumerate() {
        let value = match c.to_ascii_uppercase() {
            ' ' | '-' | '=' => continue,
            letter @ 'A'..='Z' => letter as u32 - 'A' as u32,
            digit @ '2'..='7' => digit as u32 - '2' as u32 + 26,
            _ => {
                return Err(format!(
                    "not base32: {c:?} at position {position} (A-Z and 2-7 only)"
                ));
            }
        };
        characters += 1;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if characters == 0 {
        return Err("the key is empty".into());
    }
    if bits >= 5 {
        return Err(format!(
            "not base32: {characters} characters cannot end a base32 text"
        ));
    }
    Ok(bytes)
}

/// The key text: the argument, or stdin for `-` (without echo at a terminal), or
/// a file for `@FILE`; surrounding white space dropped.
fn key_text(argument: &str) -> Result<String, CliError> {
    if argument == "-" {
        return crate::terminal::read_secret("Key (not shown)", "the key");
    }
    if let Some(path) = argument.strip_prefix('@') {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::Input(format!("--key @{path}: cannot read the key file: {e}"))
        })?;
        return Ok(text.trim().to_owned());
    }
    Ok(argument.to_owned())
}

/// The shared key, from where --key says, in hex or base32.
fn key(args: &KeyArgs) -> Result<OtpKey, CliError> {
    let text = key_text(&args.key)?;
    let text = text.trim();
    if args.base32 {
        let bytes = decode_base32(text).map_err(|e| CliError::Input(format!("--key: {e}")))?;
        OtpKey::new(SecretBytes::new(bytes)).map_err(CliError::input)
    } else {
        OtpKey::from_hex(text).map_err(CliError::input)
    }
}

impl ValidateArgs {
    /// The code to validate, if one was given: exactly `digits` ASCII digits,
    /// with a --window of at most [`MAX_WINDOW`].
    fn code(&self, digits: u32) -> Result<Option<&str>, CliError> {
        let Some(code) = self.validate.as_deref() else {
            return Ok(None);
        };
        if code.len() != digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CliError::Input(format!(
                "--validate: a code of {digits} digits is needed (--digits {digits})"
            )));
        }
        if self.window > MAX_WINDOW {
            return Err(CliError::Input(format!("--window: at most {MAX_WINDOW}")));
        }
        Ok(Some(code))
    }
}

fn hex_input(what: &'static str, text: &str) -> Result<Vec<u8>, CliError> {
    decode_hex(text).map_err(|error| CliError::input(OtpError::InputHex { what, error }))
}

/// `latchkey ocra`.
pub fn ocra(args: &OcraArgs) -> Result<(), CliError> {
    let suite: OcraSuite = args.suite.parse().map_err(CliError::input)?;

    let missing = |what: &str| CliError::Input(format!("--mode {:?} needs {what}", args.mode));
    let challenge = match args.mode {
        OcraMode::OneWay | OcraMode::Signature => {
            if args.client_challenge.is_some() || args.server_challenge.is_some() {
                return Err(CliError::Input(
                    "--client-challenge and --server-challenge are for the mutual modes".into(),
                ));
            }
            let q = args
                .challenge
                .as_deref()
                .ok_or_else(|| missing("--challenge"))?;
            if args.mode == OcraMode::OneWay {
                OcraChallenge::OneWay(q)
            } else {
                OcraChallenge::Signature(q)
            }
        }
        OcraMode::MutualServer | OcraMode::MutualClient => {
            if args.challenge.is_some() {
                return Err(CliError::Input(
                    "the mutual modes take --client-challenge and --server-challenge, not --challenge".into(),
                ));
            }
            let client = args
                .client_challenge
                .as_deref()
                .ok_or_else(|| missing("--client-challenge"))?;
            let server = args
                .server_challenge
                .as_deref()
                .ok_or_else(|| missing("--server-challenge"))?;
            if args.mode == OcraMode::MutualServer {
                OcraChallenge::MutualServer { client, server }
            } else {
                OcraChallenge::MutualClient { server, client }
            }
        }
    };

    let pin_hash = args
        .pin_hash
        .as_deref()
        .map(|h| hex_input("PIN hash", h))
        .transpose()?;
    let session = args
        .session
        .as_deref()
        .map(|s| hex_input("session information", s))
        .transpose()?;
    let pin = match (&args.pin, &pin_hash) {
        (Some(pin), _) => Some(OcraPin::Pin(pin.as_bytes())),
        (None, Some(hash)) => Some(OcraPin::Hash(hash)),
        (None, None) => None,
    };
    let time = match (args.time, args.timestamp) {
        (Some(seconds), _) => Some(OcraTime::UnixSeconds(seconds)),
        (None, Some(steps)) => Some(OcraTime::Steps(steps)),
        // A timed suite without a time means "now", as a token would.
        (None, None) if suite.time_step().is_some() => {
            Some(OcraTime::UnixSeconds(now_unix_seconds()?))
        }
        (None, None) => None,
    };
    let inputs = OcraInputs {
        counter: args.counter,
        pin,
        session: session.as_deref(),
        time,
    };
    // Every input is checked with a placeholder key first, so that bad input is
    // refused before `--key -` asks for the key.
    let placeholder = OtpKey::new(SecretBytes::from_slice(&[0])).map_err(CliError::input)?;
    suite
        .response(&placeholder, &challenge, &inputs)
        .map_err(CliError::input)?;
    let key = key(&args.key)?;
    let response = suite
        .response(&key, &challenge, &inputs)
        .map_err(CliError::input)?;
    println!("{response}");
    Ok(())
}

/// `latchkey hotp`.
pub fn hotp(args: &HotpArgs) -> Result<(), CliError> {
    let hotp = Hotp::new(args.algorithm, args.digits).map_err(CliError::input)?;
    let candidate = args.validate.code(args.digits)?;
    let key = key(&args.key)?;
    match candidate {
        None => println!("{}", hotp.generate(&key, args.counter)),
        Some(code) => {
            let counter = hotp
                .verify(&key, code, args.counter, args.validate.window)
                .ok_or_else(|| {
                    CliError::Runtime(format!(
                        "the code matches no counter from {} to {}",
                        args.counter,
                        args.counter.saturating_add(args.validate.window)
                    ))
                })?;
            println!("{counter}");
        }
    }
    Ok(())
}

/// `latchkey totp`.
pub fn totp(args: &TotpArgs) -> Result<(), CliError> {
    let totp =
        Totp::new(args.algorithm, args.digits, args.period, args.t0).map_err(CliError::input)?;
    let candidate = args.validate.code(args.digits)?;
    let time = match args.time {
        Some(time) => time,
        None => now_unix_seconds()?,
    };
    totp.step_at(time).map_err(CliError::input)?;
    let key = key(&args.key)?;
    match candidate {
        None => println!("{}", totp.generate_at(&key, time).map_err(CliError::input)?),
        Some(code) => {
            let window = args.validate.window;
            let matched = totp
                .verify_at(&key, code, time, window, window)
                .map_err(CliError::input)?
                .ok_or_else(|| {
                    CliError::Runtime(format!(
                        "the code matches no time step within {window} steps of the time"
                    ))
                })?;
            println!("{}", matched.offset);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_keys_decode_as_rfc4648_says() {
        // RFC 4648 §10 test vectors, and the RFC 4226 key as apps show it.
        for (text, bytes) in [
            ("MY", &b"f"[..]),
            ("MZXQ====", b"fo"),
            ("mzxw6", b"foo"),
            ("MZXW6YQ=", b"foob"),
            ("MZXW6YTB", b"fooba"),
            ("MZXW 6YTB OI======", b"foobar"),
            ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", b"12345678901234567890"),
        ] {
            assert_eq!(decode_base32(text).unwrap(), bytes, "{text}");
        }
        assert!(decode_base32("MZX").unwrap_err().contains("cannot end"));
        assert!(
            decode_base32("MZ1W")
                .unwrap_err()
                .contains("'1' at position 2")
        );
        assert!(decode_base32("==").unwrap_err().contains("empty"));
    }
}
