//! The binary at a real terminal (a pseudo-terminal with echo on, as a person's
//! shell has it): what is typed there and what colour is shown.

use rexpect::session::PtySession;
use std::process::Command;

/// `sh -c "stty echo; exec latchkey ARGS"` in a pseudo-terminal: rexpect turns
/// echo off, a person's terminal has it on.
pub(crate) fn at_terminal(args: &str, env: &[(&str, Option<&str>)]) -> PtySession {
    let mut command = Command::new("sh");
    command
        .args(["-c", &format!("stty echo; exec \"$L\" {args}")])
        .env("L", env!("CARGO_BIN_EXE_latchkey"));
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    rexpect::session::spawn_command(command, Some(60_000)).unwrap()
}

#[test]
fn a_password_typed_at_a_terminal_is_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("lk");
    let mut terminal = at_terminal(
        &format!(
            "user add --data {} --username zed --phone +14155550123 --email zed@example.com \
             --jurisdiction US",
            data.display()
        ),
        &[],
    );
    terminal.exp_regex("[Pp]assword").unwrap();
    terminal.send_line("hidden horse battery").unwrap();
    // Typed unseen, so asked twice (the first answer would show before "again").
    let mut shown = terminal.exp_string("again").unwrap();
    terminal.send_line("hidden horse battery").unwrap();
    shown.push_str(&terminal.exp_string("added user zed").unwrap());
    assert!(!shown.contains("hidden horse"), "echoed: {shown:?}");
    terminal.exp_eof().unwrap();
}

/// What `latchkey serve --dev` shows on its terminal up to its "serving" log line.
fn serve_screen(no_color: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut terminal = at_terminal(
        &format!(
            "serve --dev --listen 127.0.0.1:0 --data {}",
            dir.path().join("lk").display()
        ),
        &[("NO_COLOR", no_color), ("RUST_LOG", Some("info"))],
    );
    let shown = terminal.exp_string("serving").unwrap();
    terminal.process.exit().unwrap();
    shown
}

#[test]
fn no_color_turns_the_colour_of_the_server_log_off() {
    assert!(
        serve_screen(None).contains('\u{1b}'),
        "at a terminal the log is coloured"
    );
    let plain = serve_screen(Some("1"));
    assert!(plain.contains("INFO"), "{plain:?}");
    assert!(
        !plain.contains('\u{1b}'),
        "coloured despite NO_COLOR: {plain:?}"
    );
}
