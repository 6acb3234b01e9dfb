//! `latchkey ocra | hotp | totp`: the OTP engine on the command line.
//!
//! Each command prints the code alone on stdout (so scripts can capture it) and
//! refuses bad input with one line on stderr and exit status 2.

use crate::CliError;
use clap::{Args, ValueEnum};
use latchkey_core::encoding::decode_hex;
use latchkey_core::otp::{
    HashAlgorithm, Hotp, OcraChallenge, OcraInputs, OcraPin, OcraSuite, OcraTime, OtpError, OtpKey,
    Totp,
};

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
    /// The shared key, in hex.
    #[arg(long)]
    key: String,
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

/// Arguments of `latchkey hotp`.
#[derive(Debug, Args)]
pub struct HotpArgs {
    /// The shared key, in hex.
    #[arg(long)]
    key: String,
    /// The counter.
    #[arg(long, value_parser = parse_u64)]
    counter: u64,
    /// Digits, 6 to 8.
    #[arg(long, default_value_t = 6, value_parser = parse_u32)]
    digits: u32,
    /// sha1, sha256 or sha512.
    #[arg(long, default_value = "sha1", value_parser = parse_algorithm)]
    algorithm: HashAlgorithm,
}

/// Arguments of `latchkey totp`.
#[derive(Debug, Args)]
pub struct TotpArgs {
    /// The shared key, in hex.
    #[arg(long)]
    key: String,
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

fn hex_input(what: &'static str, text: &str) -> Result<Vec<u8>, CliError> {
    decode_hex(text).map_err(|error| CliError::input(OtpError::InputHex { what, error }))
}

/// `latchkey ocra`.
pub fn ocra(args: &OcraArgs) -> Result<(), CliError> {
    let suite: OcraSuite = args.suite.parse().map_err(CliError::input)?;
    let key = OtpKey::from_hex(&args.key).map_err(CliError::input)?;

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
    let response = suite
        .response(&key, &challenge, &inputs)
        .map_err(CliError::input)?;
    println!("{response}");
    Ok(())
}

/// `latchkey hotp`.
pub fn hotp(args: &HotpArgs) -> Result<(), CliError> {
    let key = OtpKey::from_hex(&args.key).map_err(CliError::input)?;
    let hotp = Hotp::new(args.algorithm, args.digits).map_err(CliError::input)?;
    println!("{}", hotp.generate(&key, args.counter));
    Ok(())
}

/// `latchkey totp`.
pub fn totp(args: &TotpArgs) -> Result<(), CliError> {
    let key = OtpKey::from_hex(&args.key).map_err(CliError::input)?;
    let totp =
        Totp::new(args.algorithm, args.digits, args.period, args.t0).map_err(CliError::input)?;
    let time = match args.time {
        Some(time) => time,
        None => now_unix_seconds()?,
    };
    println!("{}", totp.generate_at(&key, time).map_err(CliError::input)?);
    Ok(())
}
