//! `latchkey`: the command-line front of Latchkey.
//!
//! Today: the one-time-password tools (`ocra`, `hotp`, `totp`), `bench`, the
//! verifier server (`serve`), its built-in users (`user add`) and the reference
//! login screen (`login`, `login activate`). The demo and the phone (`device`)
//! join as their issues land (see `ARCHITECTURE.md`).
//!
//! Exit status: 0 on success, 2 for a usage or input error (one line on stderr,
//! before any password or PIN is asked for), 1 for a failure while running.
//! Never a panic or a backtrace. Secrets are typed unseen at a terminal, or one
//! line each on stdin (`terminal`).

mod bench;
mod bench_device;
mod bench_load;
mod clock;
mod demo_cmd;
mod device_cmd;
mod login_cmd;
mod otp_cmd;
mod outbox_cmd;
mod serve_cmd;
mod terminal;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Latchkey: an open authenticator core in the style of IB Key.
#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "Latchkey: an open authenticator core in the style of IB Key",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute an RFC 6287 OCRA response and print it alone on stdout.
    Ocra(otp_cmd::OcraArgs),
    /// Compute an RFC 4226 HOTP code and print it alone on stdout.
    Hotp(otp_cmd::HotpArgs),
    /// Compute an RFC 6238 TOTP code and print it alone on stdout.
    Totp(otp_cmd::TotpArgs),
    /// Print throughput figures (build with --release for meaningful numbers).
    Bench(bench::BenchArgs),
    /// Play every journey end to end: a development server on 127.0.0.1, simulated
    /// phones, a readable transcript; exits 0 only if every step behaved.
    Demo(demo_cmd::DemoArgs),
    /// The phone on the command line (software keystore, simulated fingerprint).
    Device(device_cmd::DeviceArgs),
    /// Run the verifier server (production mode unless --dev).
    Serve(serve_cmd::ServeArgs),
    /// Manage the server's built-in users.
    User(serve_cmd::UserArgs),
    /// The server's outbox: pending, sent and dead messages (never their content);
    /// `--retry ID` makes a pending one due now.
    Outbox(outbox_cmd::OutboxArgs),
    /// The reference login screen: log in (password typed unseen, or piped) by
    /// push, typed response, SMS or voice code; answer an open session by flag
    /// (--session); or `login activate` a phone.
    Login(login_cmd::LoginArgs),
}

/// A failure a command reports: a usage/input problem (exit 2) or a runtime one (exit 1).
#[derive(Debug)]
pub enum CliError {
    /// The input was wrong; the message says how.
    Input(String),
    /// Something failed while running.
    Runtime(String),
}

impl CliError {
    fn input(error: impl std::fmt::Display) -> Self {
        CliError::Input(error.to_string())
    }
}

fn main() -> ExitCode {
    // A bug must not show a backtrace to a user: one line, and a distinct status.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("latchkey: internal error{location}; please report it");
    }));

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            use clap::error::ErrorKind;
            match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = error.print();
                    return ExitCode::SUCCESS;
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    eprintln!("latchkey: a command is needed (see 'latchkey --help')");
                    return ExitCode::from(2);
                }
                _ => {}
            }
            // clap's message spans several lines (the error, its details, usage and
            // hints); keep the error and its details, on one line.
            let rendered = error.render().to_string();
            let message = rendered
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            eprintln!("latchkey: {message} (see 'latchkey --help')");
            return ExitCode::from(2);
        }
    };

    let outcome = match cli.command {
        Command::Ocra(args) => otp_cmd::ocra(&args),
        Command::Hotp(args) => otp_cmd::hotp(&args),
        Command::Totp(args) => otp_cmd::totp(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Demo(args) => demo_cmd::run(&args),
        Command::Device(args) => device_cmd::run(&args),
        Command::Serve(args) => serve_cmd::serve(&args),
        Command::User(args) => serve_cmd::user(&args),
        Command::Outbox(args) => outbox_cmd::outbox(&args),
        Command::Login(args) => login_cmd::login(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Input(message)) => {
            eprintln!("latchkey: {message}");
            ExitCode::from(2)
        }
        Err(CliError::Runtime(message)) => {
            eprintln!("latchkey: {message}");
            ExitCode::from(1)
        }
    }
}
