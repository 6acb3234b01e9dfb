//! The README's "Playing it by hand, in three terminals", run exactly as written:
//! the command lines are read from the README itself (the fenced block between
//! the `walkthrough:begin` and `walkthrough:end` comments) and run by `sh`
//! against a real `latchkey serve --dev`, in temporary folders. Only the port
//! (`127.0.0.1:8080` → the one `serve` bound), the folders (`/tmp/…` → a
//! temporary folder) and the codes a person would read (the SMS code from the
//! dev outbox, the 6-digit code from the login screen) are substituted. The
//! login screen runs in a pseudo-terminal with its password piped in, as in the
//! README, and the 8-digit response is typed into that terminal.

use rexpect::session::PtySession;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::process::{Command, Stdio};

const README: &str = include_str!("../../../README.md");

/// One command line of the walkthrough: the terminal it is typed in and the
/// line (continuations joined).
#[derive(Debug, Clone)]
struct Line {
    terminal: u32,
    text: String,
}

/// The command lines of the README's walkthrough block, in order.
fn walkthrough() -> Vec<Line> {
    let begin = README
        .find("<!-- walkthrough:begin")
        .expect("the README marks the walkthrough with <!-- walkthrough:begin -->");
    let end = README[begin..]
        .find("<!-- walkthrough:end")
        .expect("<!-- walkthrough:end -->")
        + begin;
    let block = &README[begin..end];
    let fence = block.find("```sh\n").expect("a ```sh block") + "```sh\n".len();
    let body = &block[fence..block[fence..].find("```").unwrap() + fence];
    let mut lines = Vec::new();
    let mut terminal = 0;
    let mut pending = String::new();
    for raw in body.lines() {
        let trimmed = raw.trim();
        if let Some(comment) = trimmed.strip_prefix("# ") {
            if let Some(n) = comment.split(' ').next().and_then(|n| n.parse().ok()) {
                terminal = n;
            }
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        if let Some(start) = trimmed.strip_suffix('\\') {
            pending.push_str(start);
            continue;
        }
        pending.push_str(trimmed);
        lines.push(Line {
            terminal,
            text: std::mem::take(&mut pending),
        });
    }
    lines
}

/// The walkthrough's lines with the machine-specific parts substituted.
struct Played {
    lines: Vec<Line>,
    used: BTreeSet<usize>,
    dir: std::path::PathBuf,
    address: Option<String>,
}

impl Played {
    /// The one line containing every word of `words`; marks it used.
    fn line(&mut self, words: &[&str]) -> (u32, String) {
        let found: Vec<usize> = (0..self.lines.len())
            .filter(|i| words.iter().all(|w| self.lines[*i].text.contains(w)))
            .collect();
        assert_eq!(found.len(), 1, "{words:?} in {:#?}", self.lines);
        self.used.insert(found[0]);
        let line = &self.lines[found[0]];
        (line.terminal, self.substitute(&line.text))
    }

    fn substitute(&self, text: &str) -> String {
        let dir = self.dir.to_str().unwrap();
        let mut text = text
            .replace("/tmp/lk", &format!("{dir}/lk"))
            .replace("/tmp/phone", &format!("{dir}/phone"))
            .replace("/tmp/ticket.json", &format!("{dir}/ticket.json"));
        if let Some(address) = &self.address {
            text = text.replace("127.0.0.1:8080", address);
        }
        text
    }
}

/// `sh -c line` with `$L` set to the binary under test.
fn sh(line: &str) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", line])
        .env("L", env!("CARGO_BIN_EXE_latchkey"));
    command
}

/// Runs a line to its end; asserts it succeeded; returns its stdout.
fn run(line: &str) -> String {
    let output = sh(line).stdin(Stdio::null()).output().unwrap();
    assert!(
        output.status.success(),
        "{line}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Starts the login line in a pseudo-terminal; returns the session and the
/// 6-digit code the screen shows.
fn login_screen(line: &str) -> (PtySession, String) {
    let mut screen = rexpect::session::spawn_command(sh(line), Some(60_000)).unwrap();
    let (_, shown) = screen.exp_regex(r"Login code: \d{6}").unwrap();
    let code = shown.rsplit(' ').next().unwrap().to_owned();
    screen.exp_string("Waiting for approval").unwrap();
    (screen, code)
}

#[test]
fn the_readme_walkthrough_in_three_terminals_works_exactly_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut played = Played {
        lines: walkthrough(),
        used: BTreeSet::new(),
        dir: dir.path().to_owned(),
        address: None,
    };

    // 1 — the server. The build line is the reader's; the test has the binary.
    let (terminal, build) = played.line(&["cargo build", "L="]);
    assert_eq!(terminal, 1, "{build}");
    let (_, add) = played.line(&["user add"]);
    let added = run(&add);
    assert!(added.starts_with("added user anna"), "{added}");
    let (_, serve) = played.line(&["serve --data"]);
    assert!(serve.contains("--dev"), "{serve}");
    let serve = serve.replace("127.0.0.1:8080", "127.0.0.1:0");
    let mut server = sh(&format!("exec {serve}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(server.stdout.take().unwrap());
    let address = loop {
        let mut printed = String::new();
        assert!(stdout.read_line(&mut printed).unwrap() > 0, "serve ended");
        if let Some(rest) = printed.strip_prefix("listening on http://") {
            break rest.split(' ').next().unwrap().to_owned();
        }
    };
    played.address = Some(address);

    // 2 — activation: the ticket to a file, the SMS code from the dev outbox.
    let (terminal, activate) = played.line(&["login activate"]);
    assert_eq!(terminal, 2);
    run(&activate);
    let (_, outbox) = played.line(&["curl", "/v1/dev/outbox"]);
    let outbox = run(&outbox);
    let code = outbox
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 13)
        .unwrap_or_else(|| panic!("no 13-digit code in {outbox}"))
        .to_owned();

    // 3 — the phone activates with that code.
    let (terminal, phone) = played.line(&["device", "activate"]);
    assert_eq!(terminal, 3);
    let activated = run(&phone.replace("<13 digits>", &code));
    assert!(activated.starts_with("Activated: anna @ "), "{activated}");

    // 2 — the login screen; 3 — the phone approves with its code.
    let (terminal, login) = played.line(&["login --server", "--username anna"]);
    assert_eq!(terminal, 2);
    let (mut screen, shown) = login_screen(&login);
    let (terminal, approve) = played.line(&["approve --code"]);
    assert_eq!(terminal, 3);
    let approved = run(&approve.replace("<the 6-digit code>", &shown));
    assert!(approved.contains("Approved"), "{approved}");
    screen.exp_string("Login approved.").unwrap();
    screen.exp_eof().unwrap();

    // …or offline: the phone's response typed into terminal 2, whose stdin is
    // the piped password.
    let (mut screen, shown) = login_screen(&login);
    let (_, respond) = played.line(&["respond --challenge"]);
    let response = run(&respond.replace("<the 6-digit code>", &shown));
    let response = response.trim();
    assert!(
        response.len() == 8 && response.bytes().all(|b| b.is_ascii_digit()),
        "{response}"
    );
    screen.send_line(response).unwrap();
    screen.exp_string("Login approved.").unwrap();
    screen.exp_eof().unwrap();

    let unused: Vec<&Line> = (0..played.lines.len())
        .filter(|i| !played.used.contains(i))
        .map(|i| &played.lines[i])
        .collect();
    assert!(unused.is_empty(), "README lines no test ran: {unused:#?}");
    server.kill().unwrap();
    server.wait().unwrap();
}
