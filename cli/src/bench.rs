//! `latchkey bench …`: throughput figures, printed, never asserted.
//!
//! Figures from a debug build mean little: run `cargo run --release -p
//! latchkey-cli -- bench otp`. CI never runs benchmarks.

use crate::CliError;
use clap::{Args, Subcommand};
use latchkey_core::otp::{
    HashAlgorithm, Ocra, OcraChallenge, OcraInputs, OcraSuite, OcraTime, OtpKey, Totp,
};
use latchkey_core::secret::SecretBytes;
use std::hint::black_box;
use std::time::Duration;

/// Arguments of `latchkey bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

#[derive(Debug, Subcommand)]
enum BenchTarget {
    /// The OTP engine: OCRA (default suite), TOTP, and raw HMAC-SHA256 for scale.
    Otp {
        /// Operations per round (each figure is the best of five interleaved rounds).
        #[arg(long, default_value_t = 200_000)]
        iterations: u32,
    },
    /// Concurrent second-factor flows against `latchkey serve` over loopback HTTP.
    Load(crate::bench_load::LoadArgs),
    /// The phone core: opening a store, responses with PIN or biometric, approvals.
    Device(crate::bench_device::DeviceBenchArgs),
}

/// Runs `op` `iterations` times and returns operations per second.
fn rate(iterations: u32, mut op: impl FnMut(u32)) -> f64 {
    #[allow(clippy::disallowed_methods)] // a benchmark measures wall time by definition
    let start = std::time::Instant::now();
    for i in 0..iterations {
        op(i);
    }
    let elapsed = start.elapsed().max(Duration::from_nanos(1));
    f64::from(iterations) / elapsed.as_secs_f64()
}

/// `latchkey bench`.
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    match args.target {
        BenchTarget::Otp { iterations } => otp(iterations.max(1)),
        BenchTarget::Load(ref load) => crate::bench_load::run(load),
        BenchTarget::Device(ref device) => crate::bench_device::run(device),
    }
}

fn otp(iterations: u32) -> Result<(), CliError> {
    const SUITE: &str = "OCRA-1:HOTP-SHA256-8:QN06-T1M";
    let suite: OcraSuite = SUITE.parse().map_err(CliError::input)?;
    let key = OtpKey::new(SecretBytes::new((0u8..32).collect())).map_err(CliError::input)?;
    let challenges: Vec<String> = (0..1000u32)
        .map(|i| (100_000 + i * 797).to_string())
        .collect();
    let inputs = |i: u32| OcraInputs {
        time: Some(OcraTime::UnixSeconds(1_800_000_000 + u64::from(i))),
        ..Default::default()
    };

    let message_len = suite
        .data_input(&OcraChallenge::OneWay(&challenges[0]), &inputs(0))
        .map_err(CliError::input)?
        .len();

    // Like with like: each OCRA figure beside raw HMAC-SHA256 over a message of
    // the DataInput's length, keyed the same way (per call, or once and reused).
    // The raw message lives on the stack and changes one byte per call, as the
    // OCRA challenge and time change per call. On a shared machine the figures
    // swing between runs: each is measured in ROUNDS rounds, the figures
    // interleaved, and its best round is reported, so a ratio compares the two
    // sides under the same conditions.
    const ROUNDS: usize = 5;
    let keyed = Ocra::new(suite.clone(), &key);
    let totp = Totp::with_defaults(HashAlgorithm::Sha1, 6).map_err(CliError::input)?;
    let key_bytes: Vec<u8> = (0u8..32).collect();
    let reused = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_bytes);
    let mut message = [0x5au8; 1024];
    let message_len = message_len.min(message.len());
    let [
        mut ocra_fresh,
        mut ocra_keyed,
        mut totp_rate,
        mut hmac_fresh,
        mut hmac_reused,
    ] = [0f64; 5];
    for _ in 0..ROUNDS {
        ocra_keyed = ocra_keyed.max(rate(iterations, |i| {
            let q = &challenges[(i % 1000) as usize];
            let _ = black_box(keyed.response(&OcraChallenge::OneWay(black_box(q)), &inputs(i)));
        }));
        hmac_reused = hmac_reused.max(rate(iterations, |i| {
            message[0] = i as u8;
            black_box(ring::hmac::sign(
                &reused,
                black_box(&message[..message_len]),
            ));
        }));
        ocra_fresh = ocra_fresh.max(rate(iterations, |i| {
            let q = &challenges[(i % 1000) as usize];
            let _ =
                black_box(suite.response(&key, &OcraChallenge::OneWay(black_box(q)), &inputs(i)));
        }));
        hmac_fresh = hmac_fresh.max(rate(iterations, |i| {
            let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, black_box(&key_bytes));
            message[0] = i as u8;
            black_box(ring::hmac::sign(&k, black_box(&message[..message_len])));
        }));
        totp_rate = totp_rate.max(rate(iterations, |i| {
            let _ = black_box(totp.generate_at(&key, black_box(1_800_000_000 + u64::from(i) * 30)));
        }));
    }

    let build = if cfg!(debug_assertions) {
        "debug build: figures are NOT representative, use --release"
    } else {
        "release build"
    };
    println!(
        "latchkey bench otp ({iterations} operations per round, best of {ROUNDS} interleaved rounds per figure, one thread, {build})"
    );
    println!(
        "  like with like: each OCRA figure (checking the inputs, building the DataInput, HMAC, truncation)"
    );
    println!(
        "  beside raw HMAC-SHA256 over a message of the DataInput's length ({message_len} bytes, suite prefix included), keyed the same way"
    );
    println!("  OCRA {SUITE}, keyed once (Ocra):      {ocra_keyed:>12.0} responses/s");
    println!("  OCRA {SUITE}, keyed per call:         {ocra_fresh:>12.0} responses/s");
    println!(
        "  TOTP SHA1, 6 digits, 30 s:                                 {totp_rate:>12.0} codes/s"
    );
    println!(
        "  raw HMAC-SHA256, {message_len}-byte message, key reused:          {hmac_reused:>12.0} /s"
    );
    println!(
        "  raw HMAC-SHA256, {message_len}-byte message, key set up per call: {hmac_fresh:>12.0} /s"
    );
    println!(
        "  OCRA keyed once / raw HMAC key reused = {:.2}  (1.00: the engine adds nothing to the HMAC)",
        ocra_keyed / hmac_reused
    );
    println!(
        "  OCRA keyed per call / raw HMAC key per call = {:.2}",
        ocra_fresh / hmac_fresh
    );
    Ok(())
}
