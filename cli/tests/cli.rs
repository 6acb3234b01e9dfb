//! The `latchkey` binary as a user runs it: answers on stdout, refusals as one
//! line on stderr with exit status 2, never a panic.

// Test helpers may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

// Not a test target of its own: cargo builds only tests/*.rs and tests/*/main.rs.
#[cfg(unix)]
#[path = "cli/crash.rs"]
mod crash;
#[cfg(unix)]
#[path = "cli/delivery_crash.rs"]
mod delivery_crash;
#[path = "cli/login.rs"]
mod login;
#[path = "cli/outbox.rs"]
mod outbox;
#[cfg(unix)]
#[path = "cli/terminal.rs"]
mod terminal;
#[cfg(unix)]
#[path = "cli/walkthrough.rs"]
mod walkthrough;

const KEY20: &str = "3132333435363738393031323334353637383930";
const KEY32: &str = "3132333435363738393031323334353637383930313233343536373839303132";
const KEY64: &str = "31323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334";

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn latchkey(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .output()
        .unwrap();
    Run {
        status: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn answers(args: &[&str], expected: &str) {
    let run = latchkey(args);
    assert_eq!(
        (run.status, run.stdout.as_str(), run.stderr.as_str()),
        (0, format!("{expected}\n").as_str(), ""),
        "{args:?}"
    );
}

/// Refused with status 2 and exactly one line on stderr that contains `words`.
fn refuses(args: &[&str], words: &str) {
    let run = latchkey(args);
    assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
    assert_eq!(run.stdout, "", "{args:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
    assert!(run.stderr.starts_with("latchkey: "), "{}", run.stderr);
    assert!(run.stderr.contains(words), "{args:?}: {}", run.stderr);
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"));
}

#[test]
fn ocra_prints_rfc6287_responses_in_every_mode() {
    let t = (0x132d0b6u64).to_string();
    answers(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:QN08",
            "--key",
            KEY20,
            "--challenge",
            "33333333",
        ],
        "740991",
    );
    answers(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
            "--key",
            KEY32,
            "--challenge",
            "12345678",
            "--counter",
            "9",
            "--pin",
            "1234",
        ],
        "08522129",
    );
    answers(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA256-8:QN08-PSHA1",
            "--key",
            KEY32,
            "--challenge",
            "11111111",
            "--pin-hash",
            "7110eda4d09e062aa5e4a390b0a572ac0d2c0220",
        ],
        "01501458",
    );
    answers(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA512-8:QN08-T1M",
            "--key",
            KEY64,
            "--challenge",
            "44444444",
            "--timestamp",
            &t,
        ],
        "36209546",
    );
    // 0x132d0b6 minutes, given as Unix seconds within that minute.
    let seconds = (0x132d0b6u64 * 60 + 30).to_string();
    answers(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA512-8:QN08-T1M",
            "--key",
            KEY64,
            "--challenge",
            "44444444",
            "--time",
            &seconds,
        ],
        "36209546",
    );
    answers(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA256-8:QA08",
            "--key",
            KEY32,
            "--mode",
            "mutual-server",
            "--client-challenge",
            "CLI22222",
            "--server-challenge",
            "SRV11112",
        ],
        "65387857",
    );
    answers(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA512-8:QA08-PSHA1",
            "--key",
            KEY64,
            "--mode",
            "mutual-client",
            "--server-challenge",
            "SRV11114",
            "--client-challenge",
            "CLI22224",
            "--pin",
            "1234",
        ],
        "32528969",
    );
    answers(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA512-8:QA10-T1M",
            "--key",
            KEY64,
            "--mode",
            "signature",
            "--challenge",
            "SIG1300000",
            "--timestamp",
            &t,
        ],
        "95213541",
    );
}

#[test]
fn ocra_with_a_timed_suite_and_no_time_uses_the_clock() {
    let run = latchkey(&[
        "ocra",
        "--suite",
        "OCRA-1:HOTP-SHA256-8:QN06-T1M",
        "--key",
        KEY32,
        "--challenge",
        "123456",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let response = run.stdout.trim_end();
    assert_eq!(response.len(), 8);
    assert!(response.bytes().all(|b| b.is_ascii_digit()));
}

#[test]
fn hotp_and_totp_print_rfc_codes() {
    answers(&["hotp", "--key", KEY20, "--counter", "0"], "755224");
    answers(&["hotp", "--key", KEY20, "--counter", "9"], "520489");
    answers(
        &[
            "totp",
            "--key",
            KEY20,
            "--time",
            "1111111109",
            "--digits",
            "8",
        ],
        "07081804",
    );
    answers(
        &[
            "totp",
            "--key",
            KEY32,
            "--time",
            "1234567890",
            "--digits",
            "8",
            "--algorithm",
            "sha256",
        ],
        "91819424",
    );
    answers(
        &[
            "totp",
            "--key",
            KEY64,
            "--time",
            "20000000000",
            "--digits",
            "8",
            "--algorithm",
            "SHA512",
        ],
        "47863826",
    );
    // 59 s with a 60 s period and T0 = 0 is step 0, the same as HOTP counter 0.
    answers(
        &["totp", "--key", KEY20, "--time", "59", "--period", "60"],
        "755224",
    );
}

#[test]
fn bad_input_is_refused_in_one_line_with_status_2() {
    let suite = "OCRA-1:HOTP-SHA1-6:QN08";
    refuses(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-0:QN08",
            "--key",
            KEY20,
            "--challenge",
            "1234",
        ],
        "truncation 0",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-MD5-6:QN08",
            "--key",
            KEY20,
            "--challenge",
            "1234",
        ],
        "unknown hash",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:Q",
            "--key",
            KEY20,
            "--challenge",
            "1234",
        ],
        "malformed OCRA suite",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            suite,
            "--key",
            "123",
            "--challenge",
            "1234",
        ],
        "odd number of digits",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            suite,
            "--key",
            "12xx",
            "--challenge",
            "1234",
        ],
        "non-hex character at position 2",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            suite,
            "--key",
            KEY20,
            "--challenge",
            "123456789",
        ],
        "9 characters",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            suite,
            "--key",
            KEY20,
            "--challenge",
            "12a4",
        ],
        "not an ASCII digit",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            suite,
            "--key",
            KEY20,
            "--challenge",
            "1234",
            "--counter",
            "1",
        ],
        "does not use",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:C-QN08",
            "--key",
            KEY20,
            "--challenge",
            "1234",
        ],
        "needs a counter",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:QN08-PSHA1",
            "--key",
            KEY20,
            "--challenge",
            "1234",
            "--pin-hash",
            "00",
        ],
        "PIN hash has 1 bytes",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:QN08-S004",
            "--key",
            KEY20,
            "--challenge",
            "1234",
            "--session",
            "zz",
        ],
        "session information is not valid hex",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            suite,
            "--key",
            KEY20,
            "--challenge",
            "1234",
            "--counter",
            "+1",
        ],
        "ASCII digits",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            suite,
            "--key",
            KEY20,
            "--challenge",
            "1234",
            "--pin",
            "1",
            "--pin-hash",
            "00",
        ],
        "cannot be used with",
    );
    refuses(
        &[
            "ocra",
            "--suite",
            suite,
            "--key",
            KEY20,
            "--mode",
            "mutual-server",
            "--client-challenge",
            "1234",
        ],
        "needs --server-challenge",
    );
    refuses(&["ocra", "--suite", suite, "--key", KEY20], "--challenge");
    refuses(
        &["hotp", "--key", KEY20, "--counter", "1", "--digits", "9"],
        "6 to 8 digits",
    );
    refuses(
        &["hotp", "--key", KEY20, "--counter", "18446744073709551616"],
        "too large",
    );
    refuses(
        &["totp", "--key", KEY20, "--period", "0"],
        "at least one second",
    );
    refuses(
        &["totp", "--key", KEY20, "--time", "5", "--t0", "10"],
        "before T0",
    );
    refuses(
        &["totp", "--key", KEY20, "--algorithm", "md5"],
        "unknown hash",
    );
    refuses(
        &["totp", "--key", KEY20, "--digits", "9"],
        "TOTP responses have 6 to 8 digits",
    );
    refuses(&["frobnicate"], "unrecognized subcommand");
    refuses(&[], "a command is needed");
}

/// Runs `latchkey` with `stdin` as its standard input.
fn latchkey_with_stdin(args: &[&str], stdin: &str) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its flags exits without reading stdin: a broken
    // pipe here is expected then.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let output = child.wait_with_output().unwrap();
    Run {
        status: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[test]
fn user_add_reads_the_password_from_stdin_and_refuses_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let add = |username: &str, phone: &str, extra: &[&str], password: &str| {
        let mut args = vec![
            "user",
            "add",
            "--data",
            data,
            "--username",
            username,
            "--phone",
            phone,
            "--email",
            "e@example.com",
            "--jurisdiction",
        ];
        args.extend_from_slice(extra);
        latchkey_with_stdin(&args, password)
    };

    let run = add(
        "Alice",
        "+852 1234 5678",
        &["hk"],
        "correct horse battery\n",
    );
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "added user alice (HK: two-factor authentication mandatory (SFC Guidelines for \
         Reducing and Mitigating Hacking Risks Associated with Internet Trading, 27 Oct 2017, \
         art. 1.1); second factor: phone)\n"
    );
    let run = add(
        "bob",
        "+14155550100",
        &["US", "--second-factor", "sms"],
        "long enough",
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("optional; second factor: sms"),
        "{}",
        run.stdout
    );

    for (run, words) in [
        (
            add("alice", "+85212345678", &["HK"], "another password\n"),
            "already exists",
        ),
        (add("carol", "12345", &["HK"], "long enough\n"), "--phone"),
        (
            add("carol", "+85212345678", &["HKG"], "long enough\n"),
            "--jurisdiction",
        ),
        (
            add("carol", "+85212345678", &["HK"], "short\n"),
            "at least 8 characters",
        ),
        (add("carol", "+85212345678", &["HK"], ""), "stdin"),
        (
            add(
                "carol",
                "+85212345678",
                &["HK", "--second-factor", "fax"],
                "long enough\n",
            ),
            "--second-factor",
        ),
        (
            add("carol!", "+85212345678", &["HK"], "long enough\n"),
            "--username",
        ),
    ] {
        assert_eq!(run.status, 2, "{}", run.stderr);
        assert_eq!(run.stdout, "");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains(words), "{words}: {}", run.stderr);
        assert!(
            !run.stderr.contains("long enough"),
            "the password is never echoed"
        );
    }
}

/// A `latchkey serve` child process and what it printed before listening.
struct Served {
    child: std::process::Child,
    printed: Vec<String>,
    address: String,
}

fn serve(data: &std::path::Path, extra: &[&str]) -> Served {
    use std::io::BufRead;
    use std::process::Stdio;
    let listen: &[&str] = if extra.contains(&"--listen") {
        &[]
    } else {
        &["--listen", "127.0.0.1:0"]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .args(listen)
        .arg("--data")
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut printed = Vec::new();
    loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "{printed:?}");
        let line = line.trim_end().to_owned();
        let done = line.starts_with("listening on ");
        printed.push(line);
        if done {
            break;
        }
    }
    let last = printed.last().unwrap();
    let address = last
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .to_owned();
    Served {
        child,
        printed,
        address,
    }
}

impl Served {
    fn get(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.address).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    fn profile(&self) -> serde_json::Value {
        let end = self.printed.iter().position(|l| l == "}").unwrap();
        serde_json::from_str(&self.printed[..=end].join("\n")).unwrap()
    }

    /// Stops the server with SIGTERM and returns its exit status.
    #[cfg(unix)]
    fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        self.child.wait().unwrap().code().unwrap()
    }
}

/// A delivery file for an SMS-only deployment (no push key to make), its
/// credentials files owner-only; no provider is contacted at start.
#[cfg(unix)]
fn sms_only_delivery_file(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let secret = |name: &str| {
        let path = dir.join(name);
        std::fs::write(&path, "not-a-real-secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path.display().to_string()
    };
    let token = secret("twilio-token");
    let password = secret("smtp-password");
    let twilio = format!(
        "provider = \"twilio\"\naccount_sid = \"AC0123\"\nauth_token_file = \"{token}\"\n\
         from = \"+15005550006\"\napi_base = \"http://127.0.0.1:9\"\n"
    );
    let text = format!(
        "second_factors = [\"sms\"]\n[sms]\n{twilio}[voice]\n{twilio}[email]\n\
         provider = \"smtp\"\nhost = \"127.0.0.1\"\nport = 9\nusername = \"latchkey\"\n\
         password_file = \"{password}\"\nfrom = \"security@example.com\"\n"
    );
    let path = dir.join("latchkey.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[cfg(unix)]
#[test]
fn serve_in_production_refuses_to_start_without_providers_or_with_open_credentials() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = latchkey(&[
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "needs a delivery provider for: push (push.fcm or push.apns), sms, voice, email"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--config"), "{}", run.stderr);
    assert!(!data.exists(), "nothing was made");

    let delivery = sms_only_delivery_file(dir.path());
    let token = dir.path().join("twilio-token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = latchkey(&[
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--config",
        delivery.to_str().unwrap(),
    ]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("{} has mode 644", token.display())),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("not-a-real-secret"));

    refuses(
        &[
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--config",
            dir.path().join("missing.toml").to_str().unwrap(),
        ],
        "missing.toml",
    );
}

#[cfg(unix)]
#[test]
fn serve_prints_its_profile_and_bound_address_and_keeps_its_key_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = serve(&data, &["--dev"]);
    let profile = first.profile();
    assert_eq!(
        profile["base_url"],
        format!("http://{}", first.address).as_str()
    );
    let token_line = first
        .printed
        .iter()
        .find(|l| l.starts_with("integrator API token"))
        .unwrap();
    let token = std::fs::read_to_string(data.join("integrator-token")).unwrap();
    assert!(token_line.ends_with(token.trim()));
    assert!(
        first
            .printed
            .last()
            .unwrap()
            .ends_with("(development mode)")
    );
    let health = first.get("/v1/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        health.ends_with(r#"{"mode":"development","status":"ok"}"#),
        "{health}"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("server-profile.json")).unwrap())
            .unwrap();
    assert_eq!(written, profile);
    assert_eq!(first.terminate(), 0, "SIGTERM is a graceful stop");

    // Production needs a provider for every channel its second factors use.
    let delivery = sms_only_delivery_file(dir.path());
    let second = serve(&data, &["--config", delivery.to_str().unwrap()]);
    assert_eq!(second.profile()["public_key"], profile["public_key"]);
    assert!(
        !second
            .printed
            .iter()
            .any(|l| l.contains("integrator API token")),
        "the token is shown once"
    );
    assert!(
        second
            .printed
            .last()
            .unwrap()
            .ends_with("(production mode)")
    );
    let outbox = second.get("/v1/dev/outbox");
    assert!(outbox.starts_with("HTTP/1.1 404"), "{outbox}");
    assert!(outbox.contains(r#""code":"not_found""#), "{outbox}");
    assert_eq!(second.terminate(), 0);
}

#[test]
fn serve_refuses_a_bad_public_url_and_address_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    refuses(
        &[
            "serve",
            "--data",
            data,
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "ftp://x",
        ],
        "public URL",
    );
    refuses(
        &["serve", "--data", data, "--listen", "localhost"],
        "--listen",
    );
}

impl Served {
    /// A JSON request over a raw HTTP/1.1 connection; returns the JSON body.
    fn json(&self, method: &str, path: &str, body: &serde_json::Value) -> serde_json::Value {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.address).unwrap();
        let body = body.to_string();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (_, json) = answer.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(json).unwrap_or_else(|_| panic!("{answer}"))
    }
}

#[cfg(unix)]
#[test]
fn the_phone_on_the_command_line_activates_approves_and_answers_challenges() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let phone = dir.path().join("phone");
    let served = serve(&data, &["--dev"]);
    let data_arg = data.to_str().unwrap();
    let home = phone.to_str().unwrap();
    let added = latchkey_with_stdin(
        &[
            "user",
            "add",
            "--data",
            data_arg,
            "--username",
            "anna",
            "--phone",
            "+85291234567",
            "--email",
            "anna@example.com",
            "--jurisdiction",
            "US",
        ],
        "anna's long password\n",
    );
    assert_eq!(added.status, 0, "{}", added.stderr);
    let credentials = serde_json::json!({ "username": "anna", "password": "anna's long password" });
    let ticket = served.json("POST", "/v1/login/activation", &credentials);
    let ticket_file = dir.path().join("ticket.json");
    std::fs::write(&ticket_file, ticket.to_string()).unwrap();
    let outbox = served.json("GET", "/v1/dev/outbox", &serde_json::json!({}));
    let sms = outbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["channel"] == "sms")
        .unwrap();
    let code: String = sms["body"]["text"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 13)
        .unwrap()
        .to_owned();
    let profile = data.join("server-profile.json");
    let activated = latchkey_with_stdin(
        &[
            "device",
            "--home",
            home,
            "activate",
            "--profile",
            profile.to_str().unwrap(),
            "--ticket",
            ticket_file.to_str().unwrap(),
            "--code",
            &code,
        ],
        "402917\n402917\n",
    );
    assert_eq!(activated.status, 0, "{}", activated.stderr);
    assert!(
        activated.stdout.starts_with("Activated: anna @ "),
        "{}",
        activated.stdout
    );

    let mut session_body = credentials.clone();
    session_body["app"] = serde_json::json!("Client Portal");
    let session = served.json("POST", "/v1/login/sessions", &session_body);
    assert_eq!(session["push"], "sent");
    let challenge = session["challenge"].as_str().unwrap();
    let wrong = latchkey_with_stdin(
        &["device", "--home", home, "approve", "--code", challenge],
        "111111\n",
    );
    assert_eq!(wrong.status, 1);
    assert!(
        wrong.stderr.contains("wrong PIN") && wrong.stderr.contains("9 attempts left"),
        "{}",
        wrong.stderr
    );

    // The same ticket again, on another phone: told it was used, not that it expired.
    let other = dir.path().join("other-phone");
    let again = latchkey_with_stdin(
        &[
            "device",
            "--home",
            other.to_str().unwrap(),
            "activate",
            "--profile",
            profile.to_str().unwrap(),
            "--ticket",
            ticket_file.to_str().unwrap(),
            "--code",
            &code,
        ],
        "402917\n402917\n",
    );
    assert_eq!(again.status, 1, "{}", again.stderr);
    assert!(again.stderr.contains("already used"), "{}", again.stderr);
    assert!(!again.stderr.contains("expired"), "{}", again.stderr);

    // A bad challenge is refused before the PIN is read, with status 2.
    let bad = latchkey_with_stdin(
        &["device", "--home", home, "respond", "--challenge", "99999"],
        "402917\n",
    );
    assert_eq!(bad.status, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--challenge"), "{}", bad.stderr);
    let session = served.json("POST", "/v1/login/sessions", &session_body);
    let challenge = session["challenge"].as_str().unwrap();
    let approved = latchkey_with_stdin(
        &["device", "--home", home, "approve", "--code", challenge],
        "402917\n",
    );
    assert_eq!(approved.status, 0, "{}", approved.stderr);
    let id = session["session_id"].as_str().unwrap();
    assert_eq!(
        served.json(
            "GET",
            &format!("/v1/login/sessions/{id}"),
            &serde_json::json!({})
        )["status"],
        "approved"
    );

    let response = latchkey_with_stdin(
        &["device", "--home", home, "respond", "--challenge", "123456"],
        "402917\n",
    );
    assert_eq!(response.status, 0, "{}", response.stderr);
    let digits = response.stdout.trim_end();
    assert!(
        digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()),
        "{digits}"
    );
    assert!(response.stderr.contains("own login screen"));
    assert!(
        response
            .stderr
            .contains("a wrong PIN gives a wrong response"),
        "{}",
        response.stderr
    );
    // A PIN typed at a terminal is not echoed.
    let mut screen = terminal::at_terminal(
        &format!("device --home {home} respond --challenge 123456"),
        &[],
    );
    screen.exp_string("PIN:").unwrap();
    screen.send_line("402917").unwrap();
    let (shown, _) = screen.exp_regex(r"\d{8}").unwrap();
    assert!(!shown.contains("402917"), "echoed: {shown:?}");
    screen.exp_eof().unwrap();
    // Approving a login that needs its code, without --code: refused before the PIN.
    let session = served.json("POST", "/v1/login/sessions", &session_body);
    assert_eq!(session["push"], "sent");
    let uncoded = latchkey_with_stdin(&["device", "--home", home, "approve"], "402917\n");
    assert_eq!(uncoded.status, 2, "{}", uncoded.stderr);
    assert!(uncoded.stderr.contains("--code"), "{}", uncoded.stderr);
    // The phone cannot tell: a wrong PIN still prints 8 digits, with the same note.
    let wrong_pin = latchkey_with_stdin(
        &["device", "--home", home, "respond", "--challenge", "123456"],
        "999999\n",
    );
    assert_eq!(wrong_pin.status, 0, "{}", wrong_pin.stderr);
    assert_eq!(wrong_pin.stdout.trim_end().len(), 8);
    assert!(
        wrong_pin
            .stderr
            .contains("a wrong PIN gives a wrong response")
    );
    let history = latchkey_env(
        &["device", "--home", home, "history"],
        "",
        &[("TZ", "Asia/Tokyo")],
    );
    assert!(
        history.stdout.contains("Approved") && history.stdout.contains("ResponseGenerated"),
        "{}",
        history.stdout
    );
    // Times are local, with the zone: "#1 2026-12-05 17:14:03 +09:00 …".
    for line in history.stdout.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[1].len(), 10, "{line}");
        assert_eq!(fields[1].as_bytes()[4], b'-', "{line}");
        assert_eq!(fields[2].len(), 8, "{line}");
        assert_eq!(fields[3], "+09:00", "{line}");
    }
    assert_eq!(served.terminate(), 0);
}

/// Runs `latchkey` with `stdin` and extra environment variables.
fn latchkey_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let output = child.wait_with_output().unwrap();
    Run {
        status: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[test]
fn otp_keys_come_from_stdin_a_file_or_base32_and_codes_are_validated_like_oathtool() {
    let from_stdin = latchkey_with_stdin(
        &["hotp", "--key", "-", "--counter", "0"],
        &format!("{KEY20}\n"),
    );
    assert_eq!(
        (from_stdin.status, from_stdin.stdout.as_str()),
        (0, "755224\n"),
        "{}",
        from_stdin.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key.hex");
    std::fs::write(&file, format!("{KEY20}\n")).unwrap();
    let at_file = format!("@{}", file.display());
    answers(&["hotp", "--key", &at_file, "--counter", "9"], "520489");
    let base32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    answers(
        &["hotp", "--base32", "--key", base32, "--counter", "0"],
        "755224",
    );
    answers(
        &[
            "totp",
            "--base32",
            "--key",
            &base32.to_lowercase(),
            "--time",
            "59",
            "--period",
            "60",
        ],
        "755224",
    );
    // --validate prints the counter that matched, or exits 1.
    answers(
        &[
            "hotp",
            "--key",
            KEY20,
            "--counter",
            "0",
            "--validate",
            "969429",
            "--window",
            "5",
        ],
        "3",
    );
    let missed = latchkey(&[
        "hotp",
        "--key",
        KEY20,
        "--counter",
        "0",
        "--validate",
        "969429",
        "--window",
        "2",
    ]);
    assert_eq!((missed.status, missed.stdout.as_str()), (1, ""));
    assert!(
        missed.stderr.contains("matches no counter from 0 to 2"),
        "{}",
        missed.stderr
    );
    // TOTP: the offset in steps from the given time ("07081804" is the code at 1111111109).
    answers(
        &[
            "totp",
            "--key",
            KEY20,
            "--digits",
            "8",
            "--time",
            "1111111169",
            "--validate",
            "07081804",
            "--window",
            "2",
        ],
        "-2",
    );
    answers(
        &[
            "totp",
            "--key",
            KEY20,
            "--digits",
            "8",
            "--time",
            "1111111109",
            "--validate",
            "07081804",
        ],
        "0",
    );
    let missed = latchkey(&[
        "totp",
        "--key",
        KEY20,
        "--digits",
        "8",
        "--time",
        "1111111169",
        "--validate",
        "07081804",
        "--window",
        "1",
    ]);
    assert_eq!(missed.status, 1, "{}", missed.stderr);
    refuses(
        &[
            "hotp",
            "--key",
            KEY20,
            "--counter",
            "0",
            "--validate",
            "12345",
        ],
        "a code of 6 digits",
    );
    refuses(
        &["hotp", "--key", KEY20, "--counter", "0", "--window", "3"],
        "--validate",
    );
    refuses(
        &["hotp", "--base32", "--key", "GEZ1", "--counter", "0"],
        "not base32",
    );
    refuses(
        &["hotp", "--key", "@/nonexistent/key", "--counter", "0"],
        "cannot read the key file",
    );
    // Bad input is refused before the key is read from stdin.
    let run = latchkey_with_stdin(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:QN08",
            "--key",
            "-",
            "--challenge",
            "12a4",
        ],
        "not even read\n",
    );
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not an ASCII digit"), "{}", run.stderr);
    let run = latchkey_with_stdin(
        &[
            "ocra",
            "--suite",
            "OCRA-1:HOTP-SHA1-6:QN08",
            "--key",
            "-",
            "--challenge",
            "33333333",
        ],
        &format!("{KEY20}\n"),
    );
    assert_eq!(
        (run.status, run.stdout.as_str()),
        (0, "740991\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn serve_accepts_localhost_and_a_port_in_use_stops_it_before_any_file_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let data = dir.path().join("data");
    let run = latchkey(&[
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("listening on 127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
    assert!(
        !data.exists(),
        "the data folder was made before the bind failed"
    );
    drop(busy);

    let served = serve(&data, &["--listen", "localhost:0", "--dev"]);
    assert!(
        served.address.starts_with("127.0.0.1:") || served.address.starts_with("[::1]:"),
        "{}",
        served.address
    );
    assert!(served.get("/v1/health").starts_with("HTTP/1.1 200"));
    #[cfg(unix)]
    assert_eq!(served.terminate(), 0);
}

#[test]
fn a_data_folder_in_a_folder_that_does_not_exist_is_refused_before_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("tmpp").join("lk");
    let run = latchkey_with_stdin(
        &[
            "user",
            "add",
            "--data",
            typo.to_str().unwrap(),
            "--username",
            "anna",
            "--phone",
            "+85291234567",
            "--email",
            "anna@example.com",
            "--jurisdiction",
            "US",
        ],
        "",
    );
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("tmpp does not exist"), "{}", run.stderr);
    assert!(!dir.path().join("tmpp").exists(), "no folder is made");
    refuses(
        &[
            "serve",
            "--data",
            typo.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        "does not exist",
    );
}

#[test]
fn device_refuses_malformed_flags_with_status_2_before_asking_for_a_pin() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("phone");
    let home = home.to_str().unwrap();
    for (args, words) in [
        (
            vec!["respond", "--challenge", "12345"],
            "--challenge: the code on the login screen is six digits",
        ),
        (
            vec!["approve", "--code", "0123456"],
            "--code: the code on the login screen",
        ),
        (vec!["approve", "--handle", "xyz"], "--handle"),
        (vec!["deny", "--handle", "xyz"], "--handle"),
        (
            vec!["replace", "approve", "--replacement", "r1"],
            "--replacement",
        ),
        (
            vec![
                "activate",
                "--profile",
                "p.json",
                "--ticket",
                "t.json",
                "--code",
                "123",
            ],
            "--code: the activation code from the SMS has 13 digits",
        ),
    ] {
        let mut full = vec!["device", "--home", home];
        full.extend(args);
        let run = latchkey_with_stdin(&full, "402917\n");
        assert_eq!(run.status, 2, "{full:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{full:?}: {}", run.stderr);
        assert!(run.stderr.contains(words), "{full:?}: {}", run.stderr);
    }
    assert!(!std::path::Path::new(home).exists(), "nothing was opened");
}
