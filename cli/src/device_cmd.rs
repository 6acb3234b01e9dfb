//! `latchkey device …`: the phone on the command line. The real phone core
//! (`Authenticator`) with the software keystore and a simulated fingerprint
//! sensor, its state in a folder of its own (`--home`, `$LATCHKEY_HOME`, or the
//! user's data folder), speaking HTTP to `latchkey serve`. With `latchkey serve
//! --dev` and `latchkey login …` a person can play every journey in three
//! terminals (see the README).
//!
//! PINs are read from standard input, one per line, never from the command line.

use crate::CliError;
use crate::clock::SystemClock;
use clap::{Args, Subcommand, ValueEnum};
use latchkey_core::device::{
    AccountId, AccountSummary, ActivationOutcome, Authenticator, AuthenticatorConfig,
    PlatformKeystore, SimulatedBiometrics, SimulatedOutcome, SoftwareKeystore, Unlock,
};
use latchkey_core::protocol::{DenialReason, Platform, ServerProfile};
use latchkey_http_transport::HttpTransport;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arguments of `latchkey device`.
#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// The phone's folder (default: $LATCHKEY_HOME, else the user's data folder).
    #[arg(long, global = true)]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: DeviceCommand,
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Activate an account on this phone (PIN twice on stdin).
    Activate {
        /// The server profile file (`server-profile.json` that `latchkey serve` writes).
        #[arg(long)]
        profile: PathBuf,
        /// The ticket JSON file (`-` for stdin), as `latchkey login activate` prints it.
        #[arg(long)]
        ticket: PathBuf,
        /// The 13-digit code from the SMS.
        #[arg(long)]
        code: String,
        /// This phone's name, as the user will see it.
        #[arg(long, default_value = "Command-line phone")]
        name: String,
        /// A push token to register (simulated).
        #[arg(long, default_value = "cli-push-token")]
        push_token: String,
    },
    /// List the accounts on this phone.
    Accounts,
    /// Sync with the server (as opening the app does).
    Sync(AccountArg),
    /// Show the login requests waiting for this phone.
    Pending(AccountArg),
    /// Approve a login: the code on the login screen, then the PIN on stdin (or
    /// the simulated fingerprint).
    Approve {
        /// The request handle (default: the only pending request).
        #[arg(long)]
        handle: Option<String>,
        /// The 6-digit code shown on the login screen.
        #[arg(long)]
        code: Option<String>,
        /// Use the fingerprint instead of the PIN.
        #[arg(long)]
        biometric: bool,
        #[command(flatten)]
        account: AccountArg,
    },
    /// Deny a login (--not-me reports it).
    Deny {
        /// The request handle (default: the only pending request).
        #[arg(long)]
        handle: Option<String>,
        /// "This wasn't me": report it.
        #[arg(long)]
        not_me: bool,
        #[command(flatten)]
        account: AccountArg,
    },
    /// Challenge/response, offline: the 6-digit challenge → the 8-digit response.
    Respond {
        /// The challenge shown on your own login screen.
        #[arg(long)]
        challenge: String,
        /// Use the fingerprint instead of the PIN.
        #[arg(long)]
        biometric: bool,
        #[command(flatten)]
        account: AccountArg,
    },
    /// Why notifications may not arrive, and what to do.
    Diagnose {
        /// Report notifications as turned off.
        #[arg(long)]
        notifications_off: bool,
        /// Report that the phone has no push token.
        #[arg(long)]
        no_push_token: bool,
        #[command(flatten)]
        account: AccountArg,
    },
    /// Fingerprint unlock (simulated): on (PIN on stdin), off, or enrol a new finger.
    Biometric {
        /// What to do.
        action: BiometricAction,
        #[command(flatten)]
        account: AccountArg,
    },
    /// Change the PIN (online; old PIN, new PIN twice on stdin).
    ChangePin(AccountArg),
    /// Approve or cancel moving the account to another phone (PIN on stdin).
    Replace {
        /// approve or cancel.
        action: ReplaceAction,
        /// The replacement id (from `sync`).
        #[arg(long)]
        replacement: String,
        #[command(flatten)]
        account: AccountArg,
    },
    /// Turn two-factor authentication off (where allowed; PIN on stdin).
    OptOut(AccountArg),
    /// Remove an account from this phone (revoked on the server when online).
    Remove(AccountArg),
    /// The local, hash-chained history.
    History,
}

/// Which account (by name, or the only one).
#[derive(Debug, Args)]
struct AccountArg {
    /// The account's name (default: the only account on this phone).
    #[arg(long)]
    account: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BiometricAction {
    On,
    Off,
    /// Simulate a new fingerprint added to the phone (invalidates the copy).
    NewFinger,
    /// Simulate the user cancelling the next fingerprint prompts.
    Cancel,
    /// Accept fingerprint prompts again.
    Accept,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReplaceAction {
    Approve,
    Cancel,
}

fn home(args: &DeviceArgs) -> Result<PathBuf, CliError> {
    if let Some(home) = &args.home {
        return Ok(home.clone());
    }
    if let Some(home) = std::env::var_os("LATCHKEY_HOME") {
        return Ok(PathBuf::from(home));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| CliError::Input("no --home given and no home folder known".into()))?;
    Ok(data.join("latchkey").join("device"))
}

/// The simulated sensor's state survives between commands in `biometrics.json`.
fn load_biometrics(home: &Path) -> SimulatedBiometrics {
    let text = std::fs::read_to_string(home.join("biometrics.json")).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let biometrics =
        SimulatedBiometrics::with_enrollment_generation(value["generation"].as_u64().unwrap_or(0));
    biometrics.set_outcome(if value["cancel"] == true {
        SimulatedOutcome::Cancel
    } else {
        SimulatedOutcome::Accept
    });
    biometrics
}

fn save_biometrics(
    home: &Path,
    biometrics: &SimulatedBiometrics,
    cancel: bool,
) -> Result<(), CliError> {
    let text =
        serde_json::json!({ "generation": biometrics.enrollment_generation(), "cancel": cancel })
            .to_string();
    std::fs::write(home.join("biometrics.json"), text)
        .map_err(|e| CliError::Runtime(format!("saving the sensor state: {e}")))
}

struct Phone {
    home: PathBuf,
    biometrics: SimulatedBiometrics,
    authenticator: Authenticator,
}

fn open(args: &DeviceArgs) -> Result<Phone, CliError> {
    let home = home(args)?;
    std::fs::create_dir_all(&home)
        .map_err(|e| CliError::Runtime(format!("making {}: {e}", home.display())))?;
    let biometrics = load_biometrics(&home);
    let keystore: Arc<dyn PlatformKeystore> = Arc::new(
        SoftwareKeystore::open(&home.join("keys"), biometrics.clone())
            .map_err(|e| CliError::Runtime(format!("opening the keystore: {e}")))?,
    );
    let authenticator = Authenticator::open(
        &home.join("latchkey.db"),
        keystore,
        Arc::new(HttpTransport::default()),
        Arc::new(SystemClock),
        AuthenticatorConfig {
            platform: Platform::Desktop,
            app_version: env!("CARGO_PKG_VERSION").into(),
        },
    )
    .map_err(|e| CliError::Runtime(format!("opening the phone's store: {e}")))?;
    Ok(Phone {
        home,
        biometrics,
        authenticator,
    })
}

fn fail(error: impl std::fmt::Display) -> CliError {
    CliError::Runtime(error.to_string())
}

/// Reads one line (a PIN) from stdin, without its line break.
fn read_line(stdin: &mut impl BufRead, what: &str) -> Result<String, CliError> {
    let mut line = String::new();
    stdin
        .read_line(&mut line)
        .map_err(|e| CliError::Input(format!("reading {what}: {e}")))?;
    let line = line.trim_end_matches(['\n', '\r']).to_owned();
    if line.is_empty() {
        return Err(CliError::Input(format!(
            "{what} is needed on standard input"
        )));
    }
    Ok(line)
}

fn pin_prompt(what: &str) -> Result<String, CliError> {
    eprintln!("{what}:");
    read_line(&mut std::io::stdin().lock(), what)
}

fn unlock(biometric: bool) -> Result<Unlock, CliError> {
    if biometric {
        Ok(Unlock::biometric("Approve with your fingerprint"))
    } else {
        Ok(Unlock::pin(pin_prompt("PIN")?))
    }
}

fn account(phone: &Phone, wanted: &AccountArg) -> Result<AccountSummary, CliError> {
    let accounts = phone.authenticator.accounts().map_err(fail)?;
    match &wanted.account {
        Some(name) => accounts
            .into_iter()
            .find(|a| a.label == *name || a.label.starts_with(&format!("{name} @ ")))
            .ok_or_else(|| {
                CliError::Input(format!(
                    "no account {name:?} on this phone (see `latchkey device accounts`)"
                ))
            }),
        None => match accounts.len() {
            1 => Ok(accounts
                .into_iter()
                .next()
                .ok_or_else(|| CliError::Input("no account".into()))?),
            0 => Err(CliError::Input(
                "no account on this phone yet: `latchkey device activate …`".into(),
            )),
            _ => Err(CliError::Input(
                "several accounts on this phone: name one with --account".into(),
            )),
        },
    }
}

fn only_pending(phone: &Phone, id: AccountId) -> Result<String, CliError> {
    let report = phone
        .authenticator
        .sync(id, Some("cli-push-token".into()), true)
        .map_err(fail)?;
    match report.pending_requests.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(CliError::Input(
            "no login request is waiting for this phone".into(),
        )),
        _ => Err(CliError::Input(
            "several requests are waiting: give --handle".into(),
        )),
    }
}

/// `latchkey device`.
pub fn run(args: &DeviceArgs) -> Result<(), CliError> {
    let phone = open(args)?;
    match &args.command {
        DeviceCommand::Activate {
            profile,
            ticket,
            code,
            name,
            push_token,
        } => {
            let profile_text = std::fs::read_to_string(profile).map_err(|e| {
                CliError::Input(format!("reading the profile {}: {e}", profile.display()))
            })?;
            let profile = ServerProfile::from_json(&profile_text)
                .map_err(|e| CliError::Input(format!("the profile: {e}")))?;
            let ticket_text = if ticket.as_os_str() == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| CliError::Input(e.to_string()))?;
                text
            } else {
                std::fs::read_to_string(ticket)
                    .map_err(|e| CliError::Input(format!("reading the ticket: {e}")))?
            };
            // The ticket may be the whole answer of `latchkey login activate`.
            let ticket_json = serde_json::from_str::<serde_json::Value>(&ticket_text)
                .ok()
                .and_then(|v| v.get("ticket").map(|t| t.to_string()))
                .unwrap_or(ticket_text);
            let pin = pin_prompt("Choose a PIN (6 to 12 digits)")?;
            let confirmation = pin_prompt("Type the PIN again")?;
            let outcome = phone
                .authenticator
                .activate(
                    &profile,
                    &ticket_json,
                    code,
                    pin,
                    confirmation,
                    name,
                    Some(push_token.clone()),
                )
                .map_err(fail)?;
            match outcome {
                ActivationOutcome::Active(account) => {
                    println!(
                        "Activated: {} (epoch {}). This phone now approves its logins.",
                        account.label, account.epoch
                    )
                }
                ActivationOutcome::Pending {
                    account,
                    replacement,
                    held,
                    effective_at,
                } => println!(
                    "{}: waiting for {} (replacement {replacement}{}). Run `latchkey device sync` later.",
                    account.label,
                    if held {
                        "the hold period"
                    } else {
                        "approval on the old phone"
                    },
                    effective_at
                        .map(|t| format!(", until {t}"))
                        .unwrap_or_default()
                ),
            }
        }
        DeviceCommand::Accounts => {
            for a in phone.authenticator.accounts().map_err(fail)? {
                println!(
                    "{}  epoch {}  {:?}  server {}  biometric {}",
                    a.label,
                    a.epoch,
                    a.state,
                    a.server_url,
                    if a.biometric_enabled { "on" } else { "off" }
                );
            }
        }
        DeviceCommand::Sync(wanted) => {
            let a = account(&phone, wanted)?;
            let report = phone
                .authenticator
                .sync(a.id, Some("cli-push-token".into()), true)
                .map_err(fail)?;
            println!(
                "{}: {:?} (server: {:?}), {} failures, clock offset {} s",
                a.label, report.state, report.server_state, report.failures, report.clock_offset
            );
            for request in &report.pending_requests {
                println!("  waiting login request: {request}");
            }
            for event in &report.events {
                println!("  {event:?}");
            }
        }
        DeviceCommand::Pending(wanted) => {
            let a = account(&phone, wanted)?;
            let report = phone
                .authenticator
                .sync(a.id, Some("cli-push-token".into()), true)
                .map_err(fail)?;
            if report.pending_requests.is_empty() {
                println!("No login request is waiting.");
            }
            for request in report.pending_requests {
                let p = phone
                    .authenticator
                    .pending_request(&request.to_string())
                    .map_err(fail)?;
                println!(
                    "{request}: {} from {} using {} (answer before {}){}",
                    p.app,
                    p.origin,
                    p.client,
                    p.expires_at,
                    if p.needs_typed_code {
                        "; type the code shown on the login screen"
                    } else {
                        ""
                    }
                );
            }
        }
        DeviceCommand::Approve {
            handle,
            code,
            biometric,
            account: wanted,
        } => {
            let handle = match handle {
                Some(h) => h.clone(),
                None => only_pending(&phone, account(&phone, wanted)?.id)?,
            };
            let request = phone.authenticator.pending_request(&handle).map_err(fail)?;
            println!(
                "Approve {} from {} using {}?",
                request.app, request.origin, request.client
            );
            phone
                .authenticator
                .approve(&handle, code.as_deref(), unlock(*biometric)?)
                .map_err(fail)?;
            println!("Approved: the login proceeds.");
        }
        DeviceCommand::Deny {
            handle,
            not_me,
            account: wanted,
        } => {
            let handle = match handle {
                Some(h) => h.clone(),
                None => only_pending(&phone, account(&phone, wanted)?.id)?,
            };
            let reason = if *not_me {
                DenialReason::NotMe
            } else {
                DenialReason::Declined
            };
            phone.authenticator.deny(&handle, reason).map_err(fail)?;
            println!(
                "{}",
                if *not_me {
                    "Denied and reported."
                } else {
                    "Denied."
                }
            );
        }
        DeviceCommand::Respond {
            challenge,
            biometric,
            account: wanted,
        } => {
            let a = account(&phone, wanted)?;
            let answer = phone
                .authenticator
                .respond_to_challenge(a.id, challenge, unlock(*biometric)?)
                .map_err(fail)?;
            eprintln!("{}", answer.warning);
            println!("{}", answer.response);
        }
        DeviceCommand::Diagnose {
            notifications_off,
            no_push_token,
            account: wanted,
        } => {
            let a = account(&phone, wanted)?;
            let token = (!no_push_token).then(|| "cli-push-token".to_owned());
            let findings = phone
                .authenticator
                .diagnose(a.id, !notifications_off, token)
                .map_err(fail)?;
            if findings.is_empty() {
                println!("Nothing found: notifications should arrive.");
            }
            for f in findings {
                println!("- {}\n  → {}", f.text, f.step);
            }
        }
        DeviceCommand::Biometric {
            action,
            account: wanted,
        } => match action {
            BiometricAction::On => {
                let a = account(&phone, wanted)?;
                phone
                    .authenticator
                    .enable_biometric(a.id, pin_prompt("PIN")?)
                    .map_err(fail)?;
                println!("Fingerprint unlock is on for {}.", a.label);
            }
            BiometricAction::Off => {
                let a = account(&phone, wanted)?;
                phone.authenticator.disable_biometric(a.id).map_err(fail)?;
                println!("Fingerprint unlock is off for {}.", a.label);
            }
            BiometricAction::NewFinger => {
                phone.biometrics.enroll_new_finger();
                save_biometrics(&phone.home, &phone.biometrics, false)?;
                println!(
                    "A new fingerprint was added to this phone: fingerprint unlock must be turned on again."
                );
            }
            BiometricAction::Cancel | BiometricAction::Accept => {
                let cancel = matches!(action, BiometricAction::Cancel);
                save_biometrics(&phone.home, &phone.biometrics, cancel)?;
                println!(
                    "Fingerprint prompts will be {}.",
                    if cancel { "cancelled" } else { "accepted" }
                );
            }
        },
        DeviceCommand::ChangePin(wanted) => {
            let a = account(&phone, wanted)?;
            let old = pin_prompt("Current PIN")?;
            let new = pin_prompt("New PIN")?;
            let again = pin_prompt("New PIN again")?;
            phone
                .authenticator
                .change_pin(a.id, old, new, again)
                .map_err(fail)?;
            println!("PIN changed.");
        }
        DeviceCommand::Replace {
            action,
            replacement,
            account: wanted,
        } => {
            let a = account(&phone, wanted)?;
            let pin = Unlock::pin(pin_prompt("PIN")?);
            match action {
                ReplaceAction::Approve => {
                    phone
                        .authenticator
                        .approve_replacement(a.id, replacement, pin)
                        .map_err(fail)?;
                    println!("Approved: the account moves to the new phone; this one is wiped.");
                }
                ReplaceAction::Cancel => {
                    phone
                        .authenticator
                        .cancel_replacement(a.id, replacement, pin)
                        .map_err(fail)?;
                    println!("Cancelled: this phone stays the account's authentication phone.");
                }
            }
        }
        DeviceCommand::OptOut(wanted) => {
            let a = account(&phone, wanted)?;
            eprintln!("Without two-factor authentication, anyone with your password can log in.");
            phone
                .authenticator
                .opt_out_of_two_factor(a.id, Unlock::pin(pin_prompt("PIN")?))
                .map_err(fail)?;
            println!("Two-factor authentication is off for {}.", a.label);
        }
        DeviceCommand::Remove(wanted) => {
            let a = account(&phone, wanted)?;
            let report = phone.authenticator.remove_account(a.id).map_err(fail)?;
            println!(
                "Removed {} from this phone{}.",
                a.label,
                if report.server_revoked {
                    "; the server revoked it"
                } else {
                    "; the server was NOT told (offline)"
                }
            );
        }
        DeviceCommand::History => {
            for entry in phone.authenticator.history().map_err(fail)? {
                println!(
                    "#{} {} {:?} {}",
                    entry.seq, entry.at, entry.event, entry.summary
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_read_one_line_at_a_time_without_the_line_break() {
        let mut input = std::io::Cursor::new(b"402917\r\n583014\n".to_vec());
        assert_eq!(read_line(&mut input, "PIN").unwrap(), "402917");
        assert_eq!(read_line(&mut input, "PIN").unwrap(), "583014");
        assert!(matches!(
            read_line(&mut input, "PIN"),
            Err(CliError::Input(_))
        ));
    }
}
