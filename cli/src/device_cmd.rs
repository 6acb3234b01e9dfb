//! `latchkey device …`: the phone on the command line. The real phone core
//! (`Authenticator`) with the software keystore and a simulated fingerprint
//! sensor, its state in a folder of its own (`--home`, `$LATCHKEY_HOME`, or the
//! user's data folder), speaking HTTP to `latchkey serve`. With `latchkey serve
//! --dev` and `latchkey login …` a person can play every journey in three
//! terminals (see the README).
//!
//! PINs are never taken from the command line: at a terminal they are typed
//! without echo; piped, they are read from standard input, one per line.
//!
//! Exit status 2 for bad input — a malformed flag (code, challenge, handle,
//! replacement id), an unreadable or expired ticket, an unknown account, a PIN
//! the PIN policy refuses — and every flag is checked before any PIN is asked
//! for; 1 for what the server refused or what failed. A refusal after a wrong
//! PIN says how many attempts are left and when the next one is allowed; times
//! are shown in the local zone.

use crate::CliError;
use crate::clock::SystemClock;
use crate::terminal::{local_time, read_secret};
use clap::{Args, Subcommand, ValueEnum};
use latchkey_core::clock::Clock;
use latchkey_core::device::authenticator::SERVER_CLOCK_SKEW;
use latchkey_core::device::{
    AccountId, AccountState, AccountSummary, ActivationOutcome, Authenticator, AuthenticatorConfig,
    AuthenticatorError, PlatformKeystore, SimulatedBiometrics, SimulatedOutcome, SoftwareKeystore,
    SyncEvent, Unlock,
};
use latchkey_core::protocol::envelope::open_server;
use latchkey_core::protocol::messages::MAX_PUSH_TOKEN;
use latchkey_core::protocol::{
    ActivationTicket, Challenge, DenialReason, Platform, ProtocolError, ReplacementId, RequestId,
    ServerExpectation, ServerProfile, Signed,
};
use latchkey_http_transport::HttpTransport;
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
    /// Activate an account on this phone (the PIN twice: typed, or two lines on stdin).
    Activate {
        /// The server profile file (`server-profile.json` that `latchkey serve` writes).
        #[arg(long)]
        profile: PathBuf,
        /// The ticket JSON file (`-`: the first line of stdin, before the PINs), as
        /// `latchkey login activate` prints it.
        #[arg(long)]
        ticket: PathBuf,
        /// The 13-digit code from the SMS (spaces and dashes between groups allowed).
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
    /// Approve a login: the code on the login screen, then the PIN (or the
    /// simulated fingerprint).
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
    /// Challenge/response, offline: the 6-digit challenge → the 8-digit response
    /// (alone on stdout). The phone cannot check the PIN: a wrong PIN gives a
    /// wrong response, which the login screen refuses and counts.
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
    /// Fingerprint unlock (simulated): on (asks for the PIN), off, or enrol a new finger.
    Biometric {
        /// What to do.
        action: BiometricAction,
        #[command(flatten)]
        account: AccountArg,
    },
    /// Change the PIN (online; the old PIN, then the new one twice).
    ChangePin(AccountArg),
    /// Approve or cancel moving the account to another phone (asks for the PIN).
    Replace {
        /// approve or cancel.
        action: ReplaceAction,
        /// The replacement id (from `sync`).
        #[arg(long)]
        replacement: String,
        #[command(flatten)]
        account: AccountArg,
    },
    /// Turn two-factor authentication off (where allowed; asks for the PIN).
    OptOut(AccountArg),
    /// Allow the account's phone number to be changed in the next 5 minutes
    /// (asks for the PIN).
    AuthoriseNumberChange(AccountArg),
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

/// What the user is told when the phone core refuses: input problems exit 2,
/// the rest 1; a wrong PIN says how many attempts are left and when the next
/// is allowed (in local time).
fn fail(error: AuthenticatorError) -> CliError {
    use AuthenticatorError as E;
    match error {
        E::WrongResponse {
            attempts_left,
            retry_after,
        } => CliError::Runtime(format!(
            "wrong PIN: the server refused the response{}{}",
            attempts_left
                .map(|n| format!("; {n} attempts left before this phone is disabled"))
                .unwrap_or_default(),
            retry_after
                .map(|t| format!("; the next attempt is possible at {}", local_time(t)))
                .unwrap_or_default()
        )),
        E::Delayed { retry_after } => CliError::Runtime(format!(
            "too many wrong PINs: this attempt was refused (not counted); {}",
            retry_after.map_or_else(
                || "wait before trying again".to_owned(),
                |t| format!("the next attempt is possible at {}", local_time(t))
            )
        )),
        E::WrongActivationCode { attempts_left } => CliError::Runtime(format!(
            "the activation code is wrong{}",
            attempts_left
                .map(|n| format!(" ({n} tries left for this ticket)"))
                .unwrap_or_default()
        )),
        E::Replaced { by, at } => CliError::Runtime(format!(
            "the account moved to another phone ({by}) at {}",
            local_time(at)
        )),
        E::BadInput(text) => CliError::Input(text),
        E::WeakPin(_) | E::PinMismatch | E::NoSuchAccount(_) => CliError::Input(error.to_string()),
        other => CliError::Runtime(other.to_string()),
    }
}

/// A PIN: typed without echo at a terminal, else the next line of stdin.
fn pin_prompt(what: &str) -> Result<String, CliError> {
    read_secret(what, "the PIN")
}

/// Every flag that can be checked without the phone's store, the server or a
/// PIN: checked first, so bad input exits 2 before anything is asked.
fn check_flags(command: &DeviceCommand) -> Result<(), CliError> {
    let challenge = |flag: &str, text: &str| {
        text.parse::<Challenge>().map(drop).map_err(|_| {
            CliError::Input(format!(
                "{flag}: the code on the login screen is six digits from 100000 to 999999"
            ))
        })
    };
    let handle = |text: &Option<String>| match text {
        Some(text) => text.parse::<RequestId>().map(drop).map_err(|_| {
            CliError::Input(
                "--handle: a request handle is 32 lowercase hex characters (see `latchkey \
                 device pending`)"
                    .into(),
            )
        }),
        None => Ok(()),
    };
    match command {
        DeviceCommand::Activate {
            code,
            name,
            push_token,
            ..
        } => {
            let digits: String = code.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            if digits.len() != 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CliError::Input(
                    "--code: the activation code from the SMS has 13 digits".into(),
                ));
            }
            if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
                return Err(CliError::Input(
                    "--name: 1 to 256 bytes, no control characters".into(),
                ));
            }
            if push_token.len() > MAX_PUSH_TOKEN {
                return Err(CliError::Input(format!(
                    "--push-token: at most {MAX_PUSH_TOKEN} bytes"
                )));
            }
            Ok(())
        }
        DeviceCommand::Approve {
            handle: h, code, ..
        } => {
            handle(h)?;
            code.as_deref()
                .map_or(Ok(()), |code| challenge("--code", code))
        }
        DeviceCommand::Deny { handle: h, .. } => handle(h),
        DeviceCommand::Respond { challenge: c, .. } => challenge("--challenge", c),
        DeviceCommand::Replace { replacement, .. } => {
            replacement.parse::<ReplacementId>().map(drop).map_err(|_| {
                CliError::Input(
                    "--replacement: a replacement id is 32 lowercase hex characters (see \
                     `latchkey device sync`)"
                        .into(),
                )
            })
        }
        _ => Ok(()),
    }
}

/// The ticket, checked against the profile before any PIN is asked for: signed
/// by this server and not expired (an expired ticket is told apart from one the
/// server says has ended, i.e. was used).
fn check_ticket(profile: &ServerProfile, ticket_json: &str) -> Result<(), CliError> {
    let signed = Signed::from_json(ticket_json).map_err(|_| {
        CliError::Input(
            "--ticket: not an activation ticket (give the JSON `latchkey login activate` printed)"
                .into(),
        )
    })?;
    let expect = ServerExpectation {
        server: profile.fingerprint(),
        enrollment: None,
        epoch: None,
        now: SystemClock.now(),
        skew: SERVER_CLOCK_SKEW,
    };
    match open_server::<ActivationTicket>(&signed, profile.public_key(), &expect) {
        Ok(_) | Err(ProtocolError::NotYetValid { .. }) => Ok(()),
        Err(ProtocolError::Expired { expires_at, .. }) => Err(CliError::Input(format!(
            "the ticket expired at {} (tickets last 10 minutes): start again with `latchkey \
             login activate`",
            local_time(expires_at)
        ))),
        Err(error) => Err(CliError::Input(format!(
            "--ticket: the ticket does not verify against --profile: {error}"
        ))),
    }
}

/// What the phone must say after printing a response: the warning, and that a
/// wrong PIN cannot be noticed here (docs/PROTOCOL.md §6.3, §8).
const WRONG_PIN_NOTE: &str = "This phone cannot check the PIN: a wrong PIN gives a wrong \
    response, which the login screen refuses (and that login ends). Wrong responses count \
    against this phone: by the server's defaults, from the 3rd in a row each next attempt \
    waits (30 s, doubling), the 5th requires a password reset, the 10th disables this phone \
    until the account is moved to a phone again.";

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

/// The account's state as a person reads it.
fn describe_state(state: &AccountState) -> String {
    match state {
        AccountState::Active => "active".into(),
        AccountState::Pending {
            held, effective_at, ..
        } => format!(
            "pending ({})",
            match (held, effective_at) {
                (true, Some(t)) => format!("hold period until {}", local_time(*t)),
                (true, None) => "hold period".into(),
                (false, _) => "waiting for the old phone's approval".into(),
            }
        ),
        AccountState::Locked => "locked (password reset required)".into(),
        AccountState::Disabled => "disabled until moved to a phone again".into(),
        AccountState::Replaced { by, at } => {
            format!("replaced by {by} (learnt {})", local_time(*at))
        }
        AccountState::Wiped { at } => format!("wiped {}", local_time(*at)),
    }
}

/// A sync event as a person reads it.
fn describe_event(event: &SyncEvent) -> String {
    match event {
        SyncEvent::Replaced { by, at } => {
            format!(
                "replaced by {by} at {}: this phone's secrets were wiped",
                local_time(*at)
            )
        }
        SyncEvent::Revoked { at } => {
            format!(
                "revoked at {}: this phone's secrets were wiped",
                local_time(*at)
            )
        }
        SyncEvent::ReplacementPending {
            replacement,
            new_phone,
            effective_at,
        } => format!(
            "a move to {} is pending{}{}",
            new_phone.as_deref().unwrap_or("another phone"),
            replacement
                .map(|r| format!(" (replacement {r})"))
                .unwrap_or_default(),
            effective_at
                .map(|t| format!(", effective at {} unless cancelled", local_time(t)))
                .unwrap_or_default()
        ),
        other => format!("{other:?}"),
    }
}

/// `latchkey device`.
pub fn run(args: &DeviceArgs) -> Result<(), CliError> {
    check_flags(&args.command)?;
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
                crate::terminal::read_piped_line(&mut std::io::stdin().lock(), "the ticket")?
            } else {
                std::fs::read_to_string(ticket)
                    .map_err(|e| CliError::Input(format!("reading the ticket: {e}")))?
            };
            // The ticket may be the whole answer of `latchkey login activate`.
            let ticket_json = serde_json::from_str::<serde_json::Value>(&ticket_text)
                .ok()
                .and_then(|v| v.get("ticket").map(|t| t.to_string()))
                .unwrap_or(ticket_text);
            check_ticket(&profile, &ticket_json)?;
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
                .map_err(|error| match error {
                    // The ticket was checked in its window above: the server ended it.
                    AuthenticatorError::Expired => CliError::Runtime(
                        "the server says this ticket has ended: it was already used (or three \
                         wrong codes burnt it); start again with `latchkey login activate`"
                            .into(),
                    ),
                    other => fail(other),
                })?;
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
                        .map(|t| format!(", until {}", local_time(t)))
                        .unwrap_or_default()
                ),
            }
        }
        DeviceCommand::Accounts => {
            for a in phone.authenticator.accounts().map_err(fail)? {
                println!(
                    "{}  epoch {}  {}  server {}  biometric {}",
                    a.label,
                    a.epoch,
                    describe_state(&a.state),
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
            if let Some(t) = report.retry_after {
                println!("  next PIN attempt possible at {}", local_time(t));
            }
            for event in &report.events {
                println!("  {}", describe_event(event));
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
                    local_time(p.expires_at),
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
            if request.needs_typed_code && code.is_none() {
                return Err(CliError::Input(
                    "--code: type the 6-digit code shown on the login screen (this login needs it)"
                        .into(),
                ));
            }
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
            if !biometric {
                eprintln!("{WRONG_PIN_NOTE}");
            }
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
        DeviceCommand::AuthoriseNumberChange(wanted) => {
            let a = account(&phone, wanted)?;
            phone
                .authenticator
                .authorise_phone_number_change(a.id, Unlock::pin(pin_prompt("PIN")?))
                .map_err(fail)?;
            println!(
                "The phone number of {} may be changed in the next 5 minutes.",
                a.label
            );
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
                    entry.seq,
                    local_time(entry.at),
                    entry.event,
                    entry.summary
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
    fn malformed_flags_are_refused_before_anything_is_asked() {
        let respond = |challenge: &str| DeviceCommand::Respond {
            challenge: challenge.into(),
            biometric: false,
            account: AccountArg { account: None },
        };
        assert!(check_flags(&respond("402917")).is_ok());
        for bad in ["12345", "012345", "1234567", "12a456"] {
            assert!(
                matches!(check_flags(&respond(bad)), Err(CliError::Input(m)) if m.starts_with("--challenge")),
                "{bad}"
            );
        }
        let activate = |code: &str| DeviceCommand::Activate {
            profile: "p".into(),
            ticket: "t".into(),
            code: code.into(),
            name: "n".into(),
            push_token: "t".into(),
        };
        assert!(check_flags(&activate("1234-5678-90123")).is_ok());
        assert!(
            matches!(check_flags(&activate("123")), Err(CliError::Input(m)) if m.starts_with("--code"))
        );
        let replace = DeviceCommand::Replace {
            action: ReplaceAction::Approve,
            replacement: "nope".into(),
            account: AccountArg { account: None },
        };
        assert!(
            matches!(check_flags(&replace), Err(CliError::Input(m)) if m.starts_with("--replacement"))
        );
    }

    #[test]
    fn a_wrong_pin_says_how_many_attempts_are_left_and_when_to_retry() {
        let error = fail(AuthenticatorError::WrongResponse {
            attempts_left: Some(7),
            retry_after: Some(1_800_000_000),
        });
        let CliError::Runtime(text) = error else {
            panic!("{error:?}")
        };
        assert!(text.contains("7 attempts left"), "{text}");
        assert!(text.contains(&local_time(1_800_000_000)), "{text}");
        assert!(!text.contains("1800000000"), "{text}");
    }
}
