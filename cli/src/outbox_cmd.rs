//! `latchkey outbox`: the operator's view of the transactional outbox
//! (docs/OPERATIONS.md): how many messages are pending, sent and dead, the
//! messages themselves (masked recipients, states, attempts, last errors — never
//! their content, which is sealed), and `--retry ID` to make a pending message
//! due now.

use crate::CliError;
use crate::clock::SystemClock;
use crate::serve_cmd::{open_store, postgres_url, server_error};
use clap::Args;
use latchkey_core::clock::Clock;
use latchkey_server::DataFolder;
use latchkey_server::store::{OutboundState, StoreExt};
use std::path::PathBuf;

/// Arguments of `latchkey outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// The server's data folder.
    #[arg(long)]
    data: PathBuf,
    /// The server's PostgreSQL database, if it keeps its state there (as
    /// `serve --database`).
    #[arg(long)]
    database: Option<String>,
    /// List the dead messages (given up).
    #[arg(long, conflicts_with = "all")]
    dead: bool,
    /// List every message (the default lists the pending ones).
    #[arg(long)]
    all: bool,
    /// Make pending message ID due now.
    #[arg(long, value_name = "ID", conflicts_with_all = ["dead", "all"])]
    retry: Option<i64>,
}

/// Runs `latchkey outbox`.
pub fn outbox(args: &OutboxArgs) -> Result<(), CliError> {
    if !args.data.is_dir() {
        return Err(CliError::Input(format!(
            "--data: {} is not a server's data folder",
            args.data.display()
        )));
    }
    let database = postgres_url(args.database.as_ref())?;
    let folder = DataFolder::create(&args.data).map_err(server_error)?;
    let store = open_store(&folder, database.as_ref())?;
    let runtime = |error: latchkey_server::store::StoreError| CliError::Runtime(error.to_string());
    if let Some(id) = args.retry {
        let now = SystemClock.now();
        let outcome = store
            .in_transaction(|tx| {
                let Some(mut row) = tx.outbound(id)? else {
                    return Ok(Err(format!("no message {id} in the outbox")));
                };
                if !matches!(row.state, OutboundState::Pending | OutboundState::Sending) {
                    return Ok(Err(format!(
                        "message {id} is {}: its content was erased when it ended; the user \
                         asks again (a new code, a new login)",
                        row.state.as_str()
                    )));
                }
                row.state = OutboundState::Pending;
                row.next_attempt_at = now;
                row.lease_until = None;
                tx.put_outbound(&row)?;
                Ok(Ok(()))
            })
            .map_err(runtime)?;
        outcome.map_err(CliError::Input)?;
        println!("message {id} is due now; the server's dispatcher sends it within a second");
        return Ok(());
    }
    let counts = store.outbox_counts().map_err(runtime)?;
    println!(
        "outbox: {} pending, {} sent, {} dead",
        counts.pending, counts.sent, counts.dead
    );
    let state = if args.all {
        None
    } else if args.dead {
        Some(OutboundState::Dead)
    } else {
        Some(OutboundState::Pending)
    };
    let mut after = 0;
    loop {
        let rows = store
            .in_transaction(|tx| tx.outbound_after(after, state, 500))
            .map_err(runtime)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.id;
        for row in &rows {
            println!(
                "{:>8}  {:<7}  {:<5}  {:<20}  attempts {:>2}  created {}  next {}  {}",
                row.id,
                row.state.as_str(),
                row.channel.as_str(),
                row.recipient,
                row.attempts,
                row.created_at,
                row.next_attempt_at,
                row.last_error.as_deref().unwrap_or("")
            );
        }
    }
}
