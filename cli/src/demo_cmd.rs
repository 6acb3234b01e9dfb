//! `latchkey demo`: the main job. Starts the reference server in development mode
//! on an embedded SQLite in a temporary folder on 127.0.0.1, creates accounts (an
//! ordinary one, a Hong Kong one, an India one…), and plays every journey with
//! simulated phones (software keystore, simulated fingerprint), printing a
//! readable transcript. A demo clock moves time forward for hold periods and
//! delays. Exits 0 only if every step behaved as expected, and names the ones
//! that did not.

use crate::CliError;
use clap::Args;
use latchkey_journeys::{Transcript, World, journeys};

/// Arguments of `latchkey demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print only the summary, not the transcript.
    #[arg(long)]
    quiet: bool,
}

/// `latchkey demo`.
pub fn run(args: &DemoArgs) -> Result<(), CliError> {
    let world = World::start()
        .map_err(|e| CliError::Runtime(format!("the demo server did not start: {e}")))?;
    let transcript = if args.quiet {
        Transcript::quiet()
    } else {
        Transcript::printing()
    };
    transcript.say(format!(
        "Latchkey demo — a development server on {} (embedded SQLite in a temporary folder),",
        world.base_url()
    ));
    transcript.say(format!(
        "server fingerprint {}; simulated phones with the software keystore.\n",
        world.profile().fingerprint()
    ));
    let outcomes = journeys::all(&world, &transcript);
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|(_, o)| o.is_err())
        .map(|(name, _)| *name)
        .collect();
    println!(
        "{} journeys, {} behaved as expected, {} did not.",
        outcomes.len(),
        outcomes.len() - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Runtime(format!(
            "these journeys did not behave: {}",
            failed.join("; ")
        )))
    }
}
