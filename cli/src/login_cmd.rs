//! `latchkey login …`: the reference login screen on the command line, so that a
//! person can try every fallback by hand against `latchkey serve`.
//!
//! `latchkey login --server URL --username U` reads the password — typed without
//! echo at a terminal, else the first line of stdin — and opens a session
//! through the reference login API (`/v1/login/*`), stating its client name and
//! version. It shows the session id, then, by the account's second factor:
//!
//! - **phone**: shows the 6-digit code and waits (long-polling, bounded by
//!   `--wait`) for the push to be approved; "didn't receive the notification?" —
//!   typing the 8-digit response from the app's Authenticate screen at any time
//!   submits it instead. Typed lines come from stdin and, when stdin is a pipe
//!   (`echo password | latchkey login …`), from the terminal (`/dev/tty`); with
//!   no terminal at all, the screen says how to answer by flag instead;
//! - **SMS**: the first code goes by SMS; the user types it, or — "Didn't
//!   receive a security code?" — `sms` or `voice` to request a new code (voice
//!   only where the client is recent enough; the server says why not);
//! - **none** (the account opted out where allowed): approved at once, and the
//!   recorded warning is shown.
//!
//! An answer can also come from flags, for scripts and other terminals: the
//! response or code belongs to a session opened earlier, so it is given with
//! that session's id — `latchkey login --server URL --session ID --response
//! DIGITS` (or `--code DIGITS`, `--new-code sms|voice`) answers it without the
//! password (the session id is the login screen's capability, docs/PROTOCOL.md
//! §7). A response cannot be given when opening a session: its challenge does not
//! exist yet, and a wrong response costs the phone one of its attempts.
//! `--new-code` and `--no-wait` apply to the session being opened. `latchkey
//! login activate` starts an activation and prints the ticket JSON for the phone.
//!
//! Exit status: 0 when the login is approved (or the ticket printed), 2 for bad
//! flags or input, 1 for everything the server refused or that failed. The
//! password is never printed or put in an error message.

use crate::CliError;
use crate::clock::SystemClock;
use crate::terminal::local_time;
use clap::{Args, Subcommand};
use latchkey_core::clock::Clock;
use latchkey_core::protocol::{ErrorCode, SessionId};
use serde_json::{Value, json};
use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc;
use std::time::Duration;

/// How long one long-poll asks the server to wait: short, so that a response
/// typed meanwhile is seen within two seconds.
const POLL_SECS: u64 = 2;

/// `latchkey login …`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct LoginArgs {
    #[command(subcommand)]
    command: Option<LoginCommand>,
    #[command(flatten)]
    login: SignInArgs,
}

#[derive(Debug, Subcommand)]
enum LoginCommand {
    /// Start activating the Latchkey app for the account (or moving it to a new
    /// phone); asks for the password (typed unseen, or the first line of stdin);
    /// prints the ticket JSON for the phone (the 13-digit code goes to the
    /// account's number by SMS).
    Activate(ActivateArgs),
}

/// Which server and account.
#[derive(Debug, Args)]
struct Target {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, required = true)]
    server: Option<String>,
    /// The username.
    #[arg(long, required = true)]
    username: Option<String>,
}

/// Arguments of `latchkey login` itself.
#[derive(Debug, Args)]
struct SignInArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, required = true)]
    server: Option<String>,
    /// The username (not needed with --session).
    #[arg(long, required_unless_present = "session")]
    username: Option<String>,
    /// Answer a session opened earlier (its id is shown as "Session id: …"),
    /// with --response, --code or --new-code; no password is asked for.
    #[arg(long, value_name = "ID", conflicts_with_all = ["username", "no_wait"])]
    session: Option<String>,
    /// The client name this login screen states (voice callback has a minimum
    /// version per client name, e.g. "Trader Workstation").
    #[arg(long, default_value = "latchkey login")]
    client_name: String,
    /// The client version this login screen states (dotted numbers, e.g. 10.30).
    #[arg(long)]
    client_version: Option<String>,
    /// The application named on the phone's approval screen.
    #[arg(long, default_value = "Reference login")]
    app: String,
    /// Where the login comes from, as shown on the phone.
    #[arg(long)]
    origin: Option<String>,
    /// With --session: the 8-digit response from the app's Authenticate screen
    /// to that session's code (one wrong response ends the login and counts
    /// against the phone).
    #[arg(long, value_name = "DIGITS", requires = "session")]
    response: Option<String>,
    /// Do not wait for the notification: ask for the 8-digit response at once.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the notification's approval, in seconds.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    wait: u64,
    /// SMS accounts: request a new code first, by `sms` or `voice` (with
    /// --session: for that session).
    #[arg(long, value_name = "CHANNEL", value_parser = ["sms", "voice"])]
    new_code: Option<String>,
    /// SMS accounts, with --session: the 6-digit security code sent for that session.
    #[arg(
        long,
        value_name = "DIGITS",
        requires = "session",
        conflicts_with = "response"
    )]
    code: Option<String>,
}

/// Arguments of `latchkey login activate`.
#[derive(Debug, Args)]
struct ActivateArgs {
    #[command(flatten)]
    target: Target,
    /// When the account already has a phone: approve_on_old_phone, or
    /// lost_phone (takes effect after the hold period, cancellable).
    #[arg(long, value_parser = ["approve_on_old_phone", "lost_phone"])]
    replace: Option<String>,
}

/// `latchkey login …`.
pub fn login(args: &LoginArgs) -> Result<(), CliError> {
    let mut out = std::io::stdout();
    match &args.command {
        Some(LoginCommand::Activate(activate)) => run_activate(activate, &mut out),
        None => run_login(&args.login, &mut out),
    }
}

/// The password: typed without echo at a terminal, else the first line of
/// stdin. Read before [`Input`] starts, so that no other reader races for it.
fn read_password() -> Result<String, CliError> {
    crate::terminal::read_secret("Password (not shown)", "the password")
}

/// Lines the user types, read by threads so that waiting for an approval and
/// reading a typed response can happen together: stdin's lines and, when stdin
/// is not a terminal, the terminal's (`/dev/tty`).
struct Input {
    lines: mpsc::Receiver<String>,
    /// Whether a person can type into this screen (stdin or `/dev/tty` is a terminal).
    terminal: bool,
}

impl Input {
    fn start() -> Self {
        let mut input = Self::from_reader(|| std::io::stdin().lock());
        input.terminal = std::io::stdin().is_terminal();
        if !input.terminal {
            if let Some(tty) = crate::terminal::controlling_terminal() {
                input.terminal = true;
                input.add_reader(move || std::io::BufReader::new(tty));
            }
        }
        input
    }

    fn from_reader<R: BufRead>(reader: impl FnOnce() -> R + Send + 'static) -> Self {
        let (sender, lines) = mpsc::channel();
        spawn_reader(sender, reader);
        Self {
            lines,
            terminal: false,
        }
    }

    /// Another source of lines; the input ends when every source has ended.
    fn add_reader<R: BufRead>(&mut self, reader: impl FnOnce() -> R + Send + 'static) {
        let (sender, lines) = mpsc::channel();
        let previous = std::mem::replace(&mut self.lines, lines);
        let forward = sender.clone();
        std::thread::spawn(move || {
            for line in previous.iter() {
                if forward.send(line).is_err() {
                    break;
                }
            }
        });
        spawn_reader(sender, reader);
    }

    /// The next line (without its line break); `None` at the end of input.
    fn line(&self) -> Option<String> {
        self.lines
            .recv()
            .ok()
            .map(|line| line.trim_end_matches('\r').to_owned())
    }

    /// A line typed so far, without waiting; `Err(())` at the end of input.
    fn ready_line(&self) -> Result<Option<String>, ()> {
        match self.lines.try_recv() {
            Ok(line) => Ok(Some(line.trim_end_matches('\r').to_owned())),
            Err(mpsc::TryRecvError::Empty) => Ok(None),
            Err(mpsc::TryRecvError::Disconnected) => Err(()),
        }
    }
}

/// Sends the lines of `reader` until it ends or nobody listens.
fn spawn_reader<R: BufRead>(
    sender: mpsc::Sender<String>,
    reader: impl FnOnce() -> R + Send + 'static,
) {
    std::thread::spawn(move || {
        let reader = reader();
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
}

/// A refusal the server answered with (`{"error": {"code", "message", …}}`).
#[derive(Debug)]
struct Refusal {
    code: String,
    message: String,
    error: Value,
}

impl Refusal {
    /// The code as one of PROTOCOL §7's, or `None` for one this version does not know.
    fn kind(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.code)
    }

    fn into_error(self) -> CliError {
        CliError::Runtime(self.message)
    }
}

/// The reference login API of one server.
struct Api {
    base: String,
    agent: ureq::Agent,
}

impl Api {
    fn new(server: &str, wait: u64) -> Result<Self, CliError> {
        let base = server.trim_end_matches('/');
        let host_and_path = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"));
        if !host_and_path.is_some_and(|rest| !rest.is_empty() && !rest.contains(['?', '#', ' '])) {
            return Err(CliError::Input(format!(
                "--server: a base URL such as http://127.0.0.1:8080 is needed, not {server:?}"
            )));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(wait.min(POLL_SECS) + 30)))
            .build();
        Ok(Self {
            base: base.to_owned(),
            agent: ureq::Agent::new_with_config(config),
        })
    }

    fn answer(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Result<Value, Refusal>, CliError> {
        let response = response.map_err(|error| {
            CliError::Runtime(format!("cannot reach the server at {}: {error}", self.base))
        })?;
        let status = response.status().as_u16();
        let body: Value = response.into_body().read_json().map_err(|_| {
            CliError::Runtime(format!(
                "the server at {} did not answer with JSON (HTTP {status})",
                self.base
            ))
        })?;
        if status < 400 {
            return Ok(Ok(body));
        }
        let error = body["error"].clone();
        Ok(Err(Refusal {
            code: error["code"].as_str().unwrap_or("unknown").to_owned(),
            message: error["message"]
                .as_str()
                .map_or_else(|| format!("refused (HTTP {status})"), str::to_owned),
            error,
        }))
    }

    fn post(&self, path: &str, body: &Value) -> Result<Result<Value, Refusal>, CliError> {
        let url = format!("{}{path}", self.base);
        self.answer(self.agent.post(&url).send_json(body))
    }

    fn get(&self, path: &str) -> Result<Result<Value, Refusal>, CliError> {
        let url = format!("{}{path}", self.base);
        self.answer(self.agent.get(&url).call())
    }
}

fn target(target: &Target) -> Result<(&str, &str), CliError> {
    match (&target.server, &target.username) {
        (Some(server), Some(username)) => Ok((server, username)),
        _ => Err(CliError::Input("--server and --username are needed".into())),
    }
}

fn say(out: &mut dyn Write, text: &str) -> Result<(), CliError> {
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|error| CliError::Runtime(format!("cannot write to stdout: {error}")))
}

/// "at 09:14:03 +01:00 (in N s)" from a server time, by this machine's clock.
fn in_seconds(at: Option<u64>) -> String {
    match at {
        Some(at) => {
            let now = SystemClock.now();
            format!("at {} (in {} s)", local_time(at), at.saturating_sub(now))
        }
        None => "later".into(),
    }
}

fn run_activate(args: &ActivateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let (server, username) = target(&args.target)?;
    let api = Api::new(server, 0)?;
    let password = read_password()?;
    let mut body = json!({ "username": username, "password": password });
    if let Some(replace) = &args.replace {
        body["replace"] = json!(replace);
    }
    let ticket = api
        .post("/v1/login/activation", &body)?
        .map_err(Refusal::into_error)?;
    eprintln!(
        "latchkey: the 13-digit activation code was sent by SMS to the account's phone number; \
         give the phone this ticket and the code"
    );
    say(out, &ticket.to_string())
}

fn check_digits(flag: &str, value: &str, digits: usize) -> Result<(), CliError> {
    if value.len() == digits && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(CliError::Input(format!(
            "{flag}: {digits} digits are needed"
        )))
    }
}

/// `--session ID` with `--response`, `--code` or `--new-code`: answers a session
/// opened earlier; no password.
fn answer_session(
    args: &SignInArgs,
    api: &Api,
    id: &str,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if let Some(channel) = &args.new_code {
        new_code(api, id, channel, out)?;
    }
    if let Some(response) = &args.response {
        return submit_response(api, id, response, out);
    }
    if let Some(code) = &args.code {
        return if submit_code(api, id, code, out)? {
            Ok(())
        } else {
            Err(CliError::Runtime("the code was not accepted".into()))
        };
    }
    Ok(())
}

fn run_login(args: &SignInArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let server = args
        .server
        .as_deref()
        .ok_or_else(|| CliError::Input("--server is needed".into()))?;
    if let Some(response) = &args.response {
        check_digits("--response", response, 8)?;
    }
    if let Some(code) = &args.code {
        check_digits("--code", code, 6)?;
    }
    if args.session.is_none() && (args.response.is_some() || args.code.is_some()) {
        // A new session's challenge does not exist yet: such a response could never
        // be right, and each wrong one counts against the phone.
        return Err(CliError::Input(
            "--response and --code answer a session opened earlier: give its --session ID \
             (shown as \"Session id\")"
                .into(),
        ));
    }
    let api = Api::new(server, args.wait)?;
    if let Some(id) = &args.session {
        if id.parse::<SessionId>().is_err() {
            return Err(CliError::Input(
                "--session: a session id is 32 lowercase hex characters (shown as \"Session id\")"
                    .into(),
            ));
        }
        if args.response.is_none() && args.code.is_none() && args.new_code.is_none() {
            return Err(CliError::Input(
                "--session needs --response, --code or --new-code".into(),
            ));
        }
        return answer_session(args, &api, id, out);
    }
    let username = args
        .username
        .as_deref()
        .ok_or_else(|| CliError::Input("--username is needed".into()))?;
    let password = read_password()?;
    let input = Input::start();
    let input = &input;
    let mut body = json!({
        "username": username,
        "password": password,
        "app": args.app,
        "client": args.client_name,
    });
    if let Some(version) = &args.client_version {
        body["client_version"] = json!(version);
    }
    if let Some(origin) = &args.origin {
        body["origin"] = json!(origin);
    }
    let opened = match api.post("/v1/login/sessions", &body)? {
        Ok(opened) => opened,
        Err(refusal) if refusal.kind() == Some(ErrorCode::Unauthorized) => {
            return Err(CliError::Runtime("wrong username or password".into()));
        }
        Err(refusal) => return Err(refusal.into_error()),
    };
    let id = opened["session_id"].as_str().unwrap_or("").to_owned();
    if opened["second_factor"].as_str() != Some("none") {
        say(out, &format!("Session id: {id}"))?;
    }
    match opened["second_factor"].as_str() {
        Some("none") => {
            say(
                out,
                opened["note"]
                    .as_str()
                    .unwrap_or("Approved without a second factor."),
            )?;
            if let Some(warning) = opened["opt_out_warning"].as_str() {
                say(out, &format!("Warning: {warning}"))?;
            }
            say(out, "Login approved.")
        }
        Some("sms") => sms_login(args, &api, &id, &opened, input, out),
        _ => phone_login(args, &api, &id, &opened, input, out),
    }
}

/// What a decided session means for the user.
fn finished(session: &Value, out: &mut dyn Write) -> Result<Option<()>, CliError> {
    match session["status"].as_str() {
        Some("approved") => say(out, "Login approved.").map(Some),
        Some("pending") => Ok(None),
        Some("denied") => Err(CliError::Runtime(
            "the login was declined on the phone".into(),
        )),
        Some("fraud") => Err(CliError::Runtime(
            "the login was stopped and reported as possible fraud".into(),
        )),
        Some("failed") => Err(CliError::Runtime("the login failed: wrong response".into())),
        Some("expired") => Err(CliError::Runtime(
            "the login expired (5 minutes): start again".into(),
        )),
        _ => Err(CliError::Runtime(
            "the server's answer was not understood".into(),
        )),
    }
}

fn submit_response(
    api: &Api,
    id: &str,
    response: &str,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let answer = api.post(
        &format!("/v1/login/sessions/{id}/response"),
        &json!({ "response": response }),
    )?;
    match answer {
        Ok(session) => finished(&session, out)?
            .ok_or_else(|| CliError::Runtime("the login is still pending".into())),
        Err(refusal) if refusal.kind() == Some(ErrorCode::WrongResponse) => {
            let left = refusal.error["attempts_left"].as_u64();
            let retry = refusal.error["retry_after"].as_u64();
            let reset = refusal.error["password_reset_required"] == true;
            Err(CliError::Runtime(format!(
                "wrong response: this login ended{}{}{}",
                left.map(|n| format!(" ({n} attempts left before the phone is disabled)"))
                    .unwrap_or_default(),
                retry
                    .map(|t| format!("; the next attempt is possible {}", in_seconds(Some(t))))
                    .unwrap_or_default(),
                if reset {
                    "; the account now needs a password reset"
                } else {
                    ""
                }
            )))
        }
        Err(refusal) if refusal.kind() == Some(ErrorCode::AttemptDelayed) => {
            Err(CliError::Runtime(format!(
                "too many wrong answers: this one was refused (not counted); the next attempt is \
             possible {}",
                in_seconds(refusal.error["retry_after"].as_u64())
            )))
        }
        Err(refusal) => Err(refusal.into_error()),
    }
}

fn is_digits(text: &str, digits: usize) -> bool {
    text.len() == digits && text.bytes().all(|b| b.is_ascii_digit())
}

/// How to answer from elsewhere when nobody can type into this screen.
fn by_flag(api: &Api, id: &str, what: &str) -> String {
    format!(
        "no terminal to type into here: give {what} with `latchkey login --server {} --session \
         {id} --response DIGITS`",
        api.base
    )
}

fn phone_login(
    args: &SignInArgs,
    api: &Api,
    id: &str,
    opened: &Value,
    input: &Input,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let challenge = opened["challenge"].as_str().unwrap_or("");
    say(out, &format!("Login code: {challenge}"))?;
    let pushed = opened["push"] == "sent";
    match opened["push"].as_str() {
        Some("sent") => say(
            out,
            "A notification was sent to your phone: open it, type this code, and confirm with \
             your PIN or biometrics.",
        )?,
        Some("refused") => say(
            out,
            &format!(
                "No notification was sent: {}",
                opened["push_refused"].as_str().unwrap_or("limits apply")
            ),
        )?,
        _ => {
            return Err(CliError::Runtime(
                "this account has no active Latchkey phone: activate one first \
                 (latchkey login activate)"
                    .into(),
            ));
        }
    }
    let how = format!(
        "On the phone choose Authenticate, enter your PIN and the challenge {challenge}, then \
         type the 8-digit response here and press Enter."
    );
    if !pushed || args.no_wait {
        say(out, &format!("Didn't receive the notification? {how}"))?;
        loop {
            let line = input.line().ok_or_else(|| {
                CliError::Input(if input.terminal {
                    "no response was typed".into()
                } else {
                    by_flag(api, id, "the response")
                })
            })?;
            let line = line.trim();
            if is_digits(line, 8) {
                return submit_response(api, id, line, out);
            }
            say(out, "A response is 8 digits; type it again.")?;
        }
    }
    say(
        out,
        &format!(
            "Waiting for approval on your phone (up to {} s)… Didn't receive the notification? {how}",
            args.wait
        ),
    )?;
    let deadline = SystemClock.now().saturating_add(args.wait);
    let mut input_open = true;
    loop {
        if input_open {
            match input.ready_line() {
                Ok(Some(line)) if is_digits(line.trim(), 8) => {
                    return submit_response(api, id, line.trim(), out);
                }
                Ok(Some(line)) if !line.trim().is_empty() => {
                    say(out, "A response is 8 digits; type it again.")?;
                }
                Ok(_) => {}
                Err(()) => {
                    input_open = false;
                    if !input.terminal {
                        say(
                            out,
                            &format!(
                                "Still waiting for the phone; {}.",
                                by_flag(api, id, "the 8-digit response")
                            ),
                        )?;
                    }
                }
            }
        }
        let now = SystemClock.now();
        if now >= deadline {
            return Err(CliError::Runtime(format!(
                "no approval within {} s: run again (the response can be given by `latchkey \
                 login --server {} --session {id} --response DIGITS` while the session lasts)",
                args.wait, api.base
            )));
        }
        let wait = (deadline - now).min(POLL_SECS);
        let session = api
            .get(&format!("/v1/login/sessions/{id}?wait={wait}"))?
            .map_err(Refusal::into_error)?;
        if finished(&session, out)?.is_some() {
            return Ok(());
        }
    }
}

/// Asks for a new code by `channel` and says what happened; a refusal the user
/// can wait out is printed, not fatal.
fn new_code(api: &Api, id: &str, channel: &str, out: &mut dyn Write) -> Result<(), CliError> {
    match api.post(
        &format!("/v1/login/sessions/{id}/new-code"),
        &json!({ "channel": channel }),
    )? {
        Ok(sent) if sent["outcome"] == "calling" => say(
            out,
            "We are calling you: answer, press a key when asked, and write down the code read \
             to you (the call comes within a minute).",
        ),
        Ok(_) => say(out, "A new security code was sent by SMS."),
        Err(refusal)
            if matches!(
                refusal.kind(),
                Some(
                    ErrorCode::CodeTooSoon
                        | ErrorCode::TooManyCodes
                        | ErrorCode::DailyCodeLimit
                        | ErrorCode::VoiceNotOffered
                )
            ) =>
        {
            let when = refusal.error["retry_after"].as_u64();
            say(
                out,
                &format!(
                    "No new code: {}{}",
                    refusal.message,
                    when.map(|t| format!(" (possible {})", in_seconds(Some(t))))
                        .unwrap_or_default()
                ),
            )
        }
        Err(refusal) => Err(refusal.into_error()),
    }
}

/// Submits a typed code; `Ok(true)` when the login is approved, `Ok(false)` when
/// the user may type again.
fn submit_code(api: &Api, id: &str, code: &str, out: &mut dyn Write) -> Result<bool, CliError> {
    match api.post(
        &format!("/v1/login/sessions/{id}/code"),
        &json!({ "code": code }),
    )? {
        Ok(session) => Ok(finished(&session, out)?.is_some()),
        Err(refusal) if refusal.kind() == Some(ErrorCode::WrongSmsCode) => {
            let left = refusal.error["attempts_left"].as_u64().unwrap_or(0);
            if left == 0 {
                return Err(CliError::Runtime(format!(
                    "wrong security code: too many wrong codes, SMS and voice logins are \
                     suspended for an hour (they resume {})",
                    in_seconds(refusal.error["retry_after"].as_u64())
                )));
            }
            say(
                out,
                &format!(
                    "Wrong security code ({left} more wrong codes suspend SMS and voice logins \
                     for an hour). Type it again."
                ),
            )?;
            Ok(false)
        }
        Err(refusal) if refusal.kind() == Some(ErrorCode::NoCode) => {
            say(out, &format!("{}.", refusal.message))?;
            Ok(false)
        }
        Err(refusal) => Err(refusal.into_error()),
    }
}

fn sms_login(
    args: &SignInArgs,
    api: &Api,
    id: &str,
    opened: &Value,
    input: &Input,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let code = &opened["code"];
    if code["outcome"] == "sent" {
        say(
            out,
            "A security code was sent by SMS to your phone number; it expires in 5 minutes.",
        )?;
    } else {
        say(
            out,
            &format!(
                "No security code was sent: {} (a new code is possible {}).",
                code["reason"].as_str().unwrap_or("a limit applies"),
                in_seconds(code["retry_after"].as_u64())
            ),
        )?;
    }
    let voice = opened["voice"]["offered"] == true;
    if !voice {
        say(
            out,
            &format!(
                "{}.",
                opened["voice"]["reason"]
                    .as_str()
                    .unwrap_or("Voice callback is not offered to this client")
            ),
        )?;
    }
    if let Some(channel) = &args.new_code {
        new_code(api, id, channel, out)?;
    }
    let choices = if voice {
        "Didn't receive a security code? Type \"sms\" to request a new code by SMS, or \"voice\" \
         for a voice callback."
    } else {
        "Didn't receive a security code? Type \"sms\" to request a new code by SMS."
    };
    say(
        out,
        &format!("Type the 6-digit security code and press Enter. {choices}"),
    )?;
    loop {
        let line = input.line().ok_or_else(|| {
            CliError::Input(if input.terminal {
                "no security code was typed".into()
            } else {
                format!(
                    "no terminal to type into here: give the code with `latchkey login --server \
                     {} --session {id} --code DIGITS`",
                    api.base
                )
            })
        })?;
        let line = line.trim().to_ascii_lowercase();
        match line.as_str() {
            "sms" | "s" => new_code(api, id, "sms", out)?,
            "voice" | "v" => new_code(api, id, "voice", out)?,
            typed if is_digits(typed, 6) => {
                if submit_code(api, id, typed, out)? {
                    return Ok(());
                }
            }
            _ => say(out, &format!("A security code is 6 digits. {choices}"))?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_lines_arrive_in_order_and_end_when_every_source_has_ended() {
        let mut input =
            Input::from_reader(|| std::io::Cursor::new(b"pass word\r\n12345678\n".to_vec()));
        assert_eq!(input.line().as_deref(), Some("pass word"));
        input.add_reader(|| std::io::Cursor::new(b"87654321\n".to_vec()));
        let mut rest = vec![input.line().unwrap(), input.line().unwrap()];
        rest.sort();
        assert_eq!(rest, ["12345678", "87654321"]);
        assert_eq!(input.line(), None);
    }

    #[test]
    fn only_http_base_urls_are_accepted() {
        assert!(Api::new("http://127.0.0.1:8080/", 5).is_ok());
        assert!(Api::new("https://auth.example", 5).is_ok());
        for bad in ["127.0.0.1:8080", "ftp://x", "http://", "http://x?y"] {
            assert!(matches!(Api::new(bad, 5), Err(CliError::Input(_))), "{bad}");
        }
    }
}
