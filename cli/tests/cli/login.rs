//! `latchkey login …` as a person uses it: the real server runs in this process
//! on 127.0.0.1:0 with a `ManualClock` (so the SMS limits can be stepped over
//! without waiting), the `latchkey` binary is a child process whose stdin gets
//! typed lines and whose stdout is read line by line, and the phone is a
//! protocol-level test phone built from `latchkey_core::protocol`.

use latchkey_core::clock::{Clock, ManualClock};
use latchkey_core::protocol::{KeystoreKind, ProofAction, RequestId, Signed, SoftPhone};
use latchkey_server::http::AppState;
use latchkey_server::store::StoreExt;
use latchkey_server::{Server, ServerConfig, ServerError};
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::num::NonZeroU32;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::Duration;

const T0: u64 = 1_800_000_000;
const PASSWORD: &str = "correct horse battery";
const PIN: &str = "402917";

// ---------------------------------------------------------------------------
// The server, in this process

struct InProcess {
    url: String,
    clock: Arc<ManualClock>,
    state: AppState,
    token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), ServerError>>>,
    runtime: tokio::runtime::Runtime,
}

impl InProcess {
    fn start(dir: &std::path::Path) -> Self {
        Self::start_at(dir, T0)
    }

    /// A server whose clock starts at `now` (Unix seconds).
    fn start_at(dir: &std::path::Path, now: u64) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let mut config = ServerConfig::new(dir, "127.0.0.1:0".parse().unwrap());
        config.dev = true;
        config.password_iterations = NonZeroU32::new(1_000).unwrap();
        let server = runtime
            .block_on(Server::bind(config, clock.clone()))
            .unwrap();
        let url = format!("http://{}", server.local_addr());
        let state = server.state().clone();
        let token = std::fs::read_to_string(dir.join("integrator-token"))
            .unwrap()
            .trim()
            .to_owned();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = runtime.spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            url,
            clock,
            state,
            token,
            stop: Some(stop),
            served: Some(served),
            runtime,
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        )
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        Self::agent()
            .post(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body)
            .unwrap()
            .into_body()
            .read_json()
            .unwrap()
    }

    fn add_user(&self, username: &str, second_factor: &str) {
        let user = self.post(
            "/v1/integrator/users",
            &json!({ "username": username, "password": PASSWORD, "phone": "+14155550123",
                     "email": format!("{username}@example.com"), "jurisdiction": "US",
                     "second_factor": second_factor }),
        );
        assert_eq!(user["username"], username, "{user}");
    }

    fn outbox(&self) -> Vec<Value> {
        self.state
            .store
            .in_transaction(|tx| tx.outbox_after(0, 10_000))
            .unwrap()
            .into_iter()
            .map(|row| json!({ "channel": row.entry.channel.as_str(), "body": row.entry.body }))
            .collect()
    }

    /// The newest code of `digits` digits in an SMS text.
    fn sms_code(&self, digits: usize) -> String {
        self.outbox()
            .iter()
            .rev()
            .filter(|m| m["channel"] == "sms")
            .filter_map(|m| m["body"]["text"].as_str())
            .find_map(|text| {
                text.split(|c: char| !c.is_ascii_digit())
                    .find(|w| w.len() == digits)
                    .map(str::to_owned)
            })
            .expect("an SMS with a code")
    }

    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let served = self.served.take().unwrap();
        self.runtime.block_on(served).unwrap().unwrap();
    }
}

// ---------------------------------------------------------------------------
// The phone

/// Core's headless phone and the HTTP calls around it.
struct TestPhone {
    soft: SoftPhone,
}

impl TestPhone {
    /// Activates with the ticket `latchkey login activate` printed.
    fn activate(server: &InProcess, ticket_json: &Value) -> Self {
        let mut soft = SoftPhone::new(*server.state.profile.public_key(), "Test phone").unwrap();
        let ticket: Signed = serde_json::from_value(ticket_json["ticket"].clone()).unwrap();
        let request = soft
            .answer_ticket(
                &ticket,
                &server.sms_code(13),
                PIN,
                KeystoreKind::Software,
                Some("push-token".into()),
                server.clock.now(),
            )
            .unwrap();
        let receipt: Signed =
            serde_json::from_value(Self::post_signed(server, "/v1/phone/activate", &request))
                .unwrap();
        soft.accept_receipt(&receipt, server.clock.now()).unwrap();
        assert_eq!(soft.epoch(), 1);
        Self { soft }
    }

    fn post_signed(server: &InProcess, path: &str, signed: &Signed) -> Value {
        InProcess::agent()
            .post(&format!("{}{path}", server.url))
            .header("Content-Type", "application/json")
            .send(signed.to_json().as_bytes())
            .unwrap()
            .into_body()
            .read_json()
            .unwrap()
    }

    fn response(&self, server: &InProcess, challenge: &str) -> String {
        self.soft
            .response(&challenge.parse().unwrap(), PIN, server.clock.now())
            .unwrap()
            .to_string()
    }

    /// Approves the newest push with the code the login screen shows.
    fn approve(&self, server: &InProcess, challenge: &str) -> Value {
        let request = Self::pushed_request(server);
        let approval = self
            .soft
            .approval(request, challenge.parse().unwrap(), PIN, server.clock.now())
            .unwrap();
        Self::post_signed(server, "/v1/phone/approve", &approval)
    }

    fn pushed_request(server: &InProcess) -> RequestId {
        let push = server
            .outbox()
            .into_iter()
            .rev()
            .find(|m| m["channel"] == "push")
            .unwrap();
        let payload: Value =
            serde_json::from_str(push["body"]["payload"].as_str().unwrap()).unwrap();
        payload["request"].as_str().unwrap().parse().unwrap()
    }

    /// Opts the account out of 2FA with a PIN proof.
    fn opt_out(&self, server: &InProcess) -> Value {
        let (request, nonce) = self
            .soft
            .sync_request(Some("push-token".into()), server.clock.now())
            .unwrap();
        let answer: Signed =
            serde_json::from_value(Self::post_signed(server, "/v1/phone/sync", &request)).unwrap();
        let sync = self.soft.open_sync_answer(&answer, &nonce).unwrap();
        let proof = sync.proof.unwrap();
        let signed = self
            .soft
            .proof(
                &proof,
                ProofAction::OptOut,
                Vec::new(),
                PIN,
                server.clock.now(),
            )
            .unwrap();
        Self::post_signed(server, "/v1/phone/proof", &signed)
    }
}

// ---------------------------------------------------------------------------
// The login screen, as a child process

struct Screen {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Screen {
    /// The login screen with piped stdin, without a controlling terminal where
    /// `setsid` exists: a test run from a terminal must not have the screen read
    /// (or, in the background, be stopped by) that terminal.
    fn start(server: &InProcess, username: &str, extra: &[&str]) -> Self {
        if Command::new("setsid").arg("--version").output().is_ok() {
            return Self::start_without_terminal(server, username, extra);
        }
        Self::start_with(
            Command::new(env!("CARGO_BIN_EXE_latchkey")),
            server,
            username,
            extra,
        )
    }

    /// The login screen in a session of its own (`setsid`): no terminal at all.
    fn start_without_terminal(server: &InProcess, username: &str, extra: &[&str]) -> Self {
        let mut setsid = Command::new("setsid");
        setsid.args(["--wait", env!("CARGO_BIN_EXE_latchkey")]);
        Self::start_with(setsid, server, username, extra)
    }

    fn start_with(
        mut command: Command,
        server: &InProcess,
        username: &str,
        extra: &[&str],
    ) -> Self {
        let mut child = command
            .args(["login", "--server", &server.url, "--username", username])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut screen = Self {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        };
        screen.type_line(PASSWORD);
        screen
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Reads stdout until a line containing `words`; returns it.
    fn expect(&mut self, words: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(words) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {words:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Closes stdin and waits: (status, rest of stdout, stderr).
    fn finish(mut self) -> (i32, String, String) {
        drop(self.stdin.take());
        let output = self.child.wait_with_output().unwrap();
        let rest: Vec<String> = self.lines.try_iter().collect();
        (
            output.status.code().unwrap(),
            rest.join("\n"),
            String::from_utf8(output.stderr).unwrap(),
        )
    }
}

fn latchkey_with_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn challenge_of(line: &str) -> String {
    line.rsplit(' ').next().unwrap().to_owned()
}

// ---------------------------------------------------------------------------

#[test]
fn login_activates_a_phone_then_logs_in_by_push_by_typed_response_and_after_opting_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(dir.path());
    server.add_user("anna", "phone");

    // `login activate` prints the ticket JSON for the phone.
    let (status, stdout, stderr) = latchkey_with_stdin(
        &[
            "login",
            "activate",
            "--server",
            &server.url,
            "--username",
            "anna",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stderr.contains("activation code was sent by SMS"),
        "{stderr}"
    );
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    let ticket: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(ticket["enrollment_id"].is_string(), "{ticket}");
    let phone = TestPhone::activate(&server, &ticket);

    // Push: the screen shows the code and waits; the phone approves.
    let mut screen = Screen::start(&server, "anna", &["--wait", "60"]);
    let challenge = challenge_of(&screen.expect("Login code: "));
    screen.expect("A notification was sent to your phone");
    screen.expect("Waiting for approval");
    assert_eq!(
        phone.approve(&server, &challenge),
        json!({ "outcome": "approved" })
    );
    screen.expect("Login approved.");
    let (status, _, stderr) = screen.finish();
    assert_eq!(status, 0, "{stderr}");

    // "Didn't receive the notification?": the typed response while waiting.
    let mut screen = Screen::start(&server, "anna", &["--wait", "60"]);
    let challenge = challenge_of(&screen.expect("Login code: "));
    screen.expect("Didn't receive the notification?");
    screen.type_line("1234");
    screen.expect("A response is 8 digits");
    screen.type_line(&phone.response(&server, &challenge));
    screen.expect("Login approved.");
    assert_eq!(screen.finish().0, 0);

    // The response by flag, for scripts or another terminal: it answers a session
    // opened earlier, named by its id, without the password.
    let mut screen = Screen::start(&server, "anna", &["--wait", "60"]);
    let id = challenge_of(&screen.expect("Session id: "));
    let challenge = challenge_of(&screen.expect("Login code: "));
    screen.expect("Waiting for approval");
    let (status, stdout, stderr) = latchkey_with_stdin(
        &[
            "login",
            "--server",
            &server.url,
            "--session",
            &id,
            "--response",
            &phone.response(&server, &challenge),
        ],
        "",
    );
    assert_eq!(
        (status, stdout.as_str()),
        (0, "Login approved.\n"),
        "{stderr}"
    );
    screen.expect("Login approved.");
    assert_eq!(screen.finish().0, 0);

    // A wrong response ends that login (status 1) and says what is left.
    let mut screen = Screen::start(&server, "anna", &["--no-wait"]);
    let id = challenge_of(&screen.expect("Session id: "));
    screen.expect("Didn't receive the notification?");
    let (status, _, stderr) = latchkey_with_stdin(
        &[
            "login",
            "--server",
            &server.url,
            "--session",
            &id,
            "--response",
            "12345678",
        ],
        "",
    );
    assert_eq!(status, 1);
    assert!(
        stderr.contains("wrong response: this login ended (9 attempts left"),
        "{stderr}"
    );
    let _ = screen.finish();
    // Given while opening a session, a response could never be right: refused.
    let (status, _, stderr) = latchkey_with_stdin(
        &[
            "login",
            "--server",
            &server.url,
            "--username",
            "anna",
            "--response",
            "12345678",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("--session"), "{stderr}");

    // With the password piped in and no terminal at all, the screen says how to
    // answer by flag instead of waiting silently.
    let mut screen = Screen::start_without_terminal(&server, "anna", &["--wait", "60"]);
    let id = challenge_of(&screen.expect("Session id: "));
    let challenge = challenge_of(&screen.expect("Login code: "));
    drop(screen.stdin.take());
    let hint = screen.expect("no terminal to type into here");
    assert!(
        hint.contains(&format!(
            "latchkey login --server {} --session {id} --response DIGITS",
            server.url
        )),
        "{hint}"
    );
    let (status, _, stderr) = latchkey_with_stdin(
        &[
            "login",
            "--server",
            &server.url,
            "--session",
            &id,
            "--response",
            &phone.response(&server, &challenge),
        ],
        "",
    );
    assert_eq!(status, 0, "{stderr}");
    screen.expect("Login approved.");
    assert_eq!(screen.finish().0, 0);

    // A wrong password is refused without echoing it.
    let (status, _, stderr) = latchkey_with_stdin(
        &[
            "login",
            "--server",
            &server.url,
            "--username",
            "anna",
            "--no-wait",
        ],
        "not the password\n",
    );
    assert_eq!(status, 1);
    assert!(stderr.contains("wrong username or password"), "{stderr}");
    assert!(!stderr.contains("not the password"));

    // After opting out (PIN proof on the phone), no second factor is asked for.
    assert_eq!(phone.opt_out(&server), json!({ "outcome": "opted_out" }));
    let mut screen = Screen::start(&server, "anna", &[]);
    screen.expect("opted out of two-factor authentication");
    screen.expect("Warning: Without two-factor authentication");
    screen.expect("Login approved.");
    assert_eq!(screen.finish().0, 0);
    server.stop();
}

#[test]
fn login_by_sms_takes_the_code_and_offers_a_new_one_by_sms_or_voice() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(dir.path());
    server.add_user("sam", "sms");

    let mut screen = Screen::start(
        &server,
        "sam",
        &[
            "--client-name",
            "Trader Workstation",
            "--client-version",
            "10.30",
        ],
    );
    screen.expect("A security code was sent by SMS");
    screen.expect("Didn't receive a security code?");
    let first = server.sms_code(6);
    let wrong = if first == "999999" {
        "100000"
    } else {
        "999999"
    };
    screen.type_line(wrong);
    screen.expect("Wrong security code (4 more");
    // "Request new code" within two minutes: refused, with the reason.
    screen.type_line("sms");
    screen.expect("No new code: a new code was sent less than 2 minutes ago");
    // Two minutes later: a voice callback, which reads the code after a keypress.
    server.clock.advance(120);
    let before = server.outbox().len();
    screen.type_line("voice");
    screen.expect("We are calling you");
    let placed = server.outbox()[before..].to_vec();
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(placed[0]["body"]["event"], "placed");
    assert!(placed[0]["body"].get("code").is_none());
    server
        .state
        .outbox
        .press_key(placed[0]["body"]["call"].as_str().unwrap())
        .unwrap();
    let read = server.outbox().last().unwrap().clone();
    assert_eq!(read["body"]["event"], "code_read");
    screen.type_line(read["body"]["code"].as_str().unwrap());
    screen.expect("Login approved.");
    assert_eq!(screen.finish().0, 0);

    // An older client is told why there is no voice; SMS still works, by flags too.
    server.clock.advance(120);
    let mut screen = Screen::start(
        &server,
        "sam",
        &[
            "--client-name",
            "Trader Workstation",
            "--client-version",
            "10.19",
        ],
    );
    screen.expect("A security code was sent by SMS");
    let line = screen.expect("Voice callback needs");
    assert!(
        line.contains("Trader Workstation 10.30 or later (this is 10.19)"),
        "{line}"
    );
    screen.type_line("voice");
    screen.expect("No new code: Voice callback needs Trader Workstation 10.30 or later");
    screen.type_line(&server.sms_code(6));
    screen.expect("Login approved.");
    assert_eq!(screen.finish().0, 0);

    // By flags: the code for a session opened earlier, named by its id.
    server.clock.advance(120);
    let mut screen = Screen::start(&server, "sam", &[]);
    let id = challenge_of(&screen.expect("Session id: "));
    screen.expect("A security code was sent by SMS");
    let code = server.sms_code(6);
    let answer = |code: &str| {
        latchkey_with_stdin(
            &[
                "login",
                "--server",
                &server.url,
                "--session",
                &id,
                "--code",
                code,
            ],
            "",
        )
    };
    let (status, stdout, stderr) = answer(if code == "999999" { "100000" } else { "999999" });
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(stdout.contains("Wrong security code"), "{stdout}");
    let (status, stdout, stderr) = answer(&code);
    assert_eq!(
        (status, stdout.as_str()),
        (0, "Login approved.\n"),
        "{stderr}"
    );
    let _ = screen.finish();
    server.stop();
}

/// This machine's clock, which the `latchkey` child process uses.
fn real_now() -> u64 {
    #[allow(clippy::disallowed_methods)] // the child reads the wall clock; the test must match it
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn an_expired_ticket_is_told_apart_from_a_used_one_before_the_pin_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    // The server's clock is 20 minutes behind: its 10-minute tickets are over.
    let server = InProcess::start_at(dir.path(), real_now() - 20 * 60);
    server.add_user("anna", "phone");
    let (status, ticket, stderr) = latchkey_with_stdin(
        &[
            "login",
            "activate",
            "--server",
            &server.url,
            "--username",
            "anna",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(status, 0, "{stderr}");
    let ticket_file = dir.path().join("ticket.json");
    std::fs::write(&ticket_file, ticket).unwrap();
    let home = dir.path().join("phone");
    let (status, stdout, stderr) = latchkey_with_stdin(
        &[
            "device",
            "--home",
            home.to_str().unwrap(),
            "activate",
            "--profile",
            dir.path().join("server-profile.json").to_str().unwrap(),
            "--ticket",
            ticket_file.to_str().unwrap(),
            "--code",
            &server.sms_code(13),
        ],
        "",
    );
    assert_eq!((status, stdout.as_str()), (2, ""), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("the ticket expired at "), "{stderr}");
    assert!(!stderr.contains("used"), "{stderr}");
    server.stop();
}
