//! `latchkey outbox`: an operator sees the dead letters (masked, with their last
//! error, never their content) and cannot retry one whose content was erased.

use latchkey_server::DataFolder;
use latchkey_server::store::{Channel, Outbound, OutboundState, StoreExt};
use std::process::Command;

fn row(key: &str, state: OutboundState, error: Option<&str>) -> Outbound {
    Outbound {
        id: 0,
        key: key.into(),
        channel: Channel::Sms,
        recipient: "+852****5678".into(),
        sealed: (state == OutboundState::Pending).then(|| vec![1, 2, 3]),
        state,
        attempts: if state == OutboundState::Dead { 10 } else { 1 },
        created_at: 1_800_000_000,
        next_attempt_at: 1_800_000_002,
        lease_until: None,
        expires_at: 1_800_000_600,
        last_error: error.map(str::to_owned),
        finished_at: None,
    }
}

fn latchkey(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn the_outbox_command_lists_dead_letters_and_refuses_to_retry_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let folder = DataFolder::create(&data).unwrap();
    let store = folder.open_store().unwrap();
    let (dead, pending) = store
        .in_transaction(|tx| {
            let dead = tx.insert_outbound(&row(
                "00000000000000000000000000000001",
                OutboundState::Dead,
                Some("the provider is unavailable: Twilio answered 503"),
            ))?;
            let pending = tx.insert_outbound(&row(
                "00000000000000000000000000000002",
                OutboundState::Pending,
                None,
            ))?;
            Ok::<_, latchkey_server::store::StoreError>((dead, pending))
        })
        .unwrap();
    drop(store);
    let data = data.to_str().unwrap();

    let (status, out, _) = latchkey(&["outbox", "--data", data, "--dead"]);
    assert_eq!(status, 0);
    assert!(out.contains("outbox: 1 pending, 0 sent, 1 dead"), "{out}");
    let listed: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(listed.len(), 1, "{out}");
    assert!(
        listed[0].trim_start().starts_with(&dead.to_string()),
        "{out}"
    );
    assert!(
        listed[0].contains("dead") && listed[0].contains("+852****5678"),
        "{out}"
    );
    assert!(listed[0].contains("Twilio answered 503"), "{out}");

    let (status, _, err) = latchkey(&["outbox", "--data", data, "--retry", &dead.to_string()]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("erased"), "{err}");

    let (status, out, _) = latchkey(&["outbox", "--data", data, "--retry", &pending.to_string()]);
    assert_eq!(status, 0);
    assert!(out.contains("due now"), "{out}");
}
