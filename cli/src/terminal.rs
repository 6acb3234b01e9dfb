//! What the person at the keyboard types and sees: secrets read without echo at
//! a terminal (one line from stdin when piped), the terminal itself when stdin
//! is a pipe, colour only where it is wanted, and times in the local zone.
//!
//! Invariants: a secret typed at a terminal is never echoed (rpassword turns the
//! terminal's echo off); a piped secret is exactly its first line without the
//! line break; colour is used only on a terminal and never when `NO_COLOR` is set
//! to a non-empty value (<https://no-color.org>); a time shown to a person is a
//! local date and time with its UTC offset, never raw Unix seconds.

use crate::CliError;
use std::io::{BufRead, IsTerminal};

/// Reads one line from `input` without its line break; an empty line or the end
/// of input is refused (`what` names the missing value).
pub fn read_piped_line(input: &mut impl BufRead, what: &str) -> Result<String, CliError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| CliError::Input(format!("reading {what} from stdin: {e}")))?;
    let line = line.trim_end_matches(['\n', '\r']).to_owned();
    if line.is_empty() {
        return Err(CliError::Input(format!(
            "{what} is read from stdin, one line; none was given"
        )));
    }
    Ok(line)
}

/// A secret (password or PIN): typed without echo after `prompt` when stdin is a
/// terminal, else the next line of stdin.
pub fn read_secret(prompt: &str, what: &str) -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        let typed = rpassword::prompt_password(format!("{prompt}: "))
            .map_err(|e| CliError::Input(format!("reading {what} from the terminal: {e}")))?;
        let typed = typed.trim_end_matches(['\n', '\r']).to_owned();
        if typed.is_empty() {
            return Err(CliError::Input(format!("{what} is needed; none was typed")));
        }
        return Ok(typed);
    }
    read_piped_line(&mut std::io::stdin().lock(), what)
}

/// The controlling terminal, for reading what the person types while stdin is a
/// pipe (`echo password | latchkey login …`); `None` when there is none.
pub fn controlling_terminal() -> Option<std::fs::File> {
    #[cfg(unix)]
    {
        std::fs::File::open("/dev/tty").ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Whether to colour a stream: only a terminal, and never when `NO_COLOR` is set
/// to a non-empty value.
pub fn colour(stream_is_terminal: bool) -> bool {
    colour_with(stream_is_terminal, std::env::var_os("NO_COLOR").as_deref())
}

fn colour_with(stream_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stream_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// A Unix time as a person reads it: the local date and time and the zone's
/// offset (`2026-12-05 09:14:03 +01:00`; `… UTC` where the offset is zero).
/// The zone is the system's (`TZ` when set, else `/etc/localtime`).
pub fn local_time(unix_seconds: u64) -> String {
    use chrono::{Local, TimeZone};
    let local = i64::try_from(unix_seconds)
        .ok()
        .and_then(|seconds| Local.timestamp_opt(seconds, 0).single());
    match local {
        Some(time) if time.offset().local_minus_utc() == 0 => {
            time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        }
        Some(time) => time.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        None => format!("{unix_seconds} (Unix time)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn a_piped_secret_is_its_first_line_without_the_line_break() {
        let mut input = std::io::Cursor::new(b"402917\r\n583014\n".to_vec());
        assert_eq!(read_piped_line(&mut input, "PIN").unwrap(), "402917");
        assert_eq!(read_piped_line(&mut input, "PIN").unwrap(), "583014");
        assert!(matches!(
            read_piped_line(&mut input, "the PIN"),
            Err(CliError::Input(m)) if m.starts_with("the PIN is read from stdin")
        ));
    }

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color_set() {
        assert!(colour_with(true, None));
        assert!(colour_with(true, Some(OsStr::new(""))));
        assert!(!colour_with(true, Some(OsStr::new("1"))));
        assert!(!colour_with(false, None));
    }

    #[test]
    fn times_are_dates_with_a_zone_never_raw_seconds() {
        let shown = local_time(1_800_000_000);
        assert!(!shown.contains("1800000000"), "{shown}");
        // "YYYY-MM-DD HH:MM:SS" and then the zone.
        let (date, zone) = shown.split_at(19);
        assert_eq!(date.len(), 19, "{shown}");
        assert!(date.starts_with("2027-01-1"), "{shown}");
        assert!(
            zone == " UTC" || zone.starts_with(" +") || zone.starts_with(" -"),
            "{shown}"
        );
        assert_eq!(local_time(u64::MAX), format!("{} (Unix time)", u64::MAX));
    }
}
