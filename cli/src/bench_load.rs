//! `latchkey bench load`: concurrent second-factor flows against `latchkey
//! serve --dev` child processes over HTTP on 127.0.0.1: one node on the SQLite
//! store (the default, in `--data` or a temporary folder), or `--nodes` nodes on
//! the PostgreSQL database `--database` names, sharing one data folder.
//!
//! Two flows, each a fixed number of times spread over `--concurrency` workers
//! (one account and one phone each, so push limits do not interfere):
//! - **typed**: open a session (integrator API) → the phone computes the response
//!   → the login screen submits it → approved;
//! - **push**: open a session → the push (read from the development outbox, as a
//!   push provider would deliver it) → the phone fetches the signed request,
//!   checks it, signs the approval → approved.
//!
//! Printed: completed flows per second, p50/p99 latency, the durable commits
//! (fsyncs of the database's log, read from each node's `GET /v1/dev/store`) per
//! flow, and the CPU seconds of the client (this process) and of the servers
//! (the children), which share the machine's cores. Password hashing is not part of a second-factor flow (the
//! integrator checked the password before opening the session) and is not
//! measured. The phones here are protocol-level clients that derive `k_user`
//! once; a real phone derives it per approval (see `latchkey bench device`).

use crate::CliError;
use clap::Args;
use latchkey_core::protocol::envelope::open_server;
use latchkey_core::protocol::{
    Challenge, FetchRequest, KeystoreKind, LoginRequest, RequestId, ServerProfile, Signed,
    SoftPhone,
};
use serde_json::{Value, json};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Arguments of `latchkey bench load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Flows of each kind.
    #[arg(long, default_value_t = 400)]
    flows: usize,
    /// Concurrent workers (each with its own account and phone).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The servers' data folder (keys, token; the SQLite database unless
    /// --database is given). Default: a temporary folder, removed afterwards.
    #[arg(long)]
    data: Option<std::path::PathBuf>,
    /// Keep the servers' state in this PostgreSQL database
    /// (postgres://USER@HOST:PORT/DATABASE) instead of SQLite.
    #[arg(long)]
    database: Option<String>,
    /// `serve` nodes sharing the database; worker i talks to node i mod N.
    /// Above 1 needs --database (SQLite serves one node).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
}

fn runtime(e: impl std::fmt::Display) -> CliError {
    CliError::Runtime(e.to_string())
}

fn now() -> std::time::Instant {
    #[allow(clippy::disallowed_methods)] // a benchmark measures wall time by definition
    std::time::Instant::now()
}

/// CPU seconds (user + system) of a process, from /proc.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat; here 0-based after ')' : 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

struct Server {
    child: Child,
    base: String,
    token: String,
    profile: ServerProfile,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data: &std::path::Path, database: Option<&str>) -> Result<Server, CliError> {
    let exe = std::env::current_exe().map_err(runtime)?;
    let mut command = Command::new(exe);
    command
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data"])
        .arg(data);
    if let Some(url) = database {
        command.args(["--database", url]);
    }
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(runtime)?;
    let stdout = child.stdout.take().ok_or_else(|| runtime("no stdout"))?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut base = None;
    for line in lines.by_ref() {
        let line = line.map_err(runtime)?;
        if let Some(rest) = line.strip_prefix("listening on ") {
            base = rest.split(' ').next().map(str::to_owned);
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let base = base.ok_or_else(|| runtime("the server did not say where it listens"))?;
    let token = std::fs::read_to_string(data.join("integrator-token"))
        .map_err(runtime)?
        .trim()
        .to_owned();
    let profile = ServerProfile::from_json(
        &std::fs::read_to_string(data.join("server-profile.json")).map_err(runtime)?,
    )
    .map_err(runtime)?;
    Ok(Server {
        child,
        base,
        token,
        profile,
    })
}

struct Http {
    agent: ureq::Agent,
}

impl Http {
    fn new() -> Self {
        Self {
            agent: ureq::Agent::new_with_config(
                ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build(),
            ),
        }
    }

    fn call(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Result<(u16, Value), CliError> {
        let response = if method == "GET" {
            let mut r = self.agent.get(url);
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.call()
        } else {
            let mut r = self
                .agent
                .post(url)
                .header("Content-Type", "application/json");
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.send(body.unwrap_or_else(|| "{}".into()).as_bytes())
        }
        .map_err(runtime)?;
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().map_err(runtime)?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// A benchmark phone: the protocol's headless phone and its account.
struct LoadPhone {
    soft: SoftPhone,
    username: String,
}

fn now_secs() -> u64 {
    #[allow(clippy::disallowed_methods)] // the benchmark's phones read the wall clock like a phone
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The newest 13-digit activation code in the development outbox.
fn activation_code(server: &Server, http: &Http) -> Result<String, CliError> {
    let mut code = None;
    let mut after = 0;
    loop {
        let (_, page) = http.call(
            "GET",
            &format!("{}/v1/dev/outbox?after={after}", server.base),
            None,
            None,
        )?;
        let messages = page["messages"].as_array().cloned().unwrap_or_default();
        let Some(last) = messages.last().and_then(|m| m["id"].as_i64()) else {
            break;
        };
        for m in messages.iter().filter(|m| m["channel"] == "sms") {
            if let Some(c) = m["body"]["text"].as_str().and_then(|t| {
                t.split(|c: char| !c.is_ascii_digit())
                    .find(|w| w.len() == 13)
            }) {
                code = Some(c.to_owned());
            }
        }
        after = last;
    }
    code.ok_or_else(|| runtime("no activation code"))
}

fn enrol(server: &Server, http: &Http, username: &str, push: bool) -> Result<LoadPhone, CliError> {
    let user = json!({ "username": username, "phone": "+85291234567", "email": format!("{username}@example.com"), "jurisdiction": "US" });
    let (status, body) = http.call(
        "POST",
        &format!("{}/v1/integrator/users", server.base),
        Some(&server.token),
        Some(user.to_string()),
    )?;
    if status != 201 {
        return Err(runtime(format!("creating {username}: {status} {body}")));
    }
    let (_, start) = http.call(
        "POST",
        &format!("{}/v1/integrator/activations", server.base),
        Some(&server.token),
        Some(json!({ "username": username }).to_string()),
    )?;
    let code = activation_code(server, http)?;
    let ticket: Signed = serde_json::from_value(start["ticket"].clone()).map_err(runtime)?;
    let mut soft = SoftPhone::new(
        *server.profile.public_key(),
        &format!("{username}'s bench phone"),
    )
    .map_err(runtime)?;
    let token = push.then(|| format!("bench-token-{username}"));
    let request = soft
        .answer_ticket(
            &ticket,
            &code,
            PIN,
            KeystoreKind::Software,
            token,
            now_secs(),
        )
        .map_err(runtime)?;
    let (status, receipt) = http.call(
        "POST",
        &format!("{}/v1/phone/activate", server.base),
        None,
        Some(request.to_json()),
    )?;
    if status != 200 {
        return Err(runtime(format!(
            "activating {username}: {status} {receipt}"
        )));
    }
    let receipt: Signed = serde_json::from_value(receipt).map_err(runtime)?;
    soft.accept_receipt(&receipt, now_secs()).map_err(runtime)?;
    // Derive k_user now, outside the measured flows.
    let _ = soft.k_user(PIN);
    Ok(LoadPhone {
        soft,
        username: username.to_owned(),
    })
}

/// The PIN of every benchmark account.
const PIN: &str = "402917";

fn open_session(
    server: &Server,
    http: &Http,
    username: &str,
) -> Result<(String, Challenge), CliError> {
    let (status, body) = http.call(
        "POST",
        &format!("{}/v1/integrator/sessions", server.base),
        Some(&server.token),
        Some(json!({ "username": username, "app": "bench" }).to_string()),
    )?;
    if status != 201 {
        return Err(runtime(format!("opening a session: {status} {body}")));
    }
    let id = body["session_id"].as_str().unwrap_or_default().to_owned();
    let challenge = body["challenge"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(runtime)?;
    Ok((id, challenge))
}

fn typed_flow(server: &Server, http: &Http, phone: &LoadPhone) -> Result<(), CliError> {
    let (id, challenge) = open_session(server, http, &phone.username)?;
    let response = phone
        .soft
        .response(&challenge, PIN, now_secs())
        .map_err(runtime)?;
    let (status, body) = http.call(
        "POST",
        &format!("{}/v1/integrator/sessions/{id}/response", server.base),
        Some(&server.token),
        Some(json!({ "response": response.as_str() }).to_string()),
    )?;
    if status != 200 || body["status"] != "approved" {
        return Err(runtime(format!("typed flow: {status} {body}")));
    }
    Ok(())
}

fn push_flow(
    server: &Server,
    http: &Http,
    phone: &LoadPhone,
    seen: &mut i64,
) -> Result<(), CliError> {
    let (_, challenge) = open_session(server, http, &phone.username)?;
    // The push provider delivers the handle: read this phone's newest push.
    let (_, outbox) = http.call(
        "GET",
        &format!("{}/v1/dev/outbox?after={seen}", server.base),
        None,
        None,
    )?;
    let token = format!("bench-token-{}", phone.username);
    let messages = outbox["messages"].as_array().cloned().unwrap_or_default();
    let (id, request): (i64, RequestId) = messages
        .iter()
        .rev()
        .filter(|m| m["channel"] == "push" && m["recipient"] == token.as_str())
        .find_map(|m| {
            let payload: Value = serde_json::from_str(m["body"]["payload"].as_str()?).ok()?;
            Some((
                m["id"].as_i64()?,
                payload["request"].as_str()?.parse().ok()?,
            ))
        })
        .ok_or_else(|| runtime("no push arrived"))?;
    // This phone's next push comes after this one.
    *seen = id;
    let fetch = phone
        .soft
        .sign(now_secs(), &FetchRequest { request })
        .map_err(runtime)?;
    let (status, signed) = http.call(
        "POST",
        &format!("{}/v1/phone/request", server.base),
        None,
        Some(fetch.to_json()),
    )?;
    if status != 200 {
        return Err(runtime(format!("fetching: {status} {signed}")));
    }
    let signed: Signed = serde_json::from_value(signed).map_err(runtime)?;
    open_server::<LoginRequest>(
        &signed,
        server.profile.public_key(),
        &phone.soft.expects(now_secs()),
    )
    .map_err(runtime)?;
    let approval = phone
        .soft
        .approval(request, challenge, PIN, now_secs())
        .map_err(runtime)?;
    let (status, body) = http.call(
        "POST",
        &format!("{}/v1/phone/approve", server.base),
        None,
        Some(approval.to_json()),
    )?;
    if status != 200 {
        return Err(runtime(format!("approving: {status} {body}")));
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// The durable commits all `servers` have made (`GET /v1/dev/store`).
fn durable_commits(servers: &[Server], http: &Http) -> Result<u64, CliError> {
    let mut total = 0;
    for server in servers {
        let (status, body) =
            http.call("GET", &format!("{}/v1/dev/store", server.base), None, None)?;
        total += body["durable_commits"]
            .as_u64()
            .ok_or_else(|| runtime(format!("reading the commit count: {status} {body}")))?;
    }
    Ok(total)
}

/// `latchkey bench load`.
pub fn run(args: &LoadArgs) -> Result<(), CliError> {
    let workers = args.concurrency.clamp(1, 64);
    let flows = args.flows.max(workers);
    let nodes = args.nodes.clamp(1, 16);
    if nodes > 1 && args.database.is_none() {
        return Err(CliError::Input(
            "--nodes above 1 needs --database: SQLite serves one node".into(),
        ));
    }
    let (data, _cleanup) = match &args.data {
        Some(data) => (data.clone(), None),
        None => {
            let dir = tempfile_dir()?;
            (dir.join("server"), Some(RemoveOnDrop(dir)))
        }
    };
    // One node first: it makes the data folder's keys, which the others read.
    let mut servers = Vec::with_capacity(nodes);
    for _ in 0..nodes {
        servers.push(start_server(&data, args.database.as_deref())?);
    }
    let server = &servers[0];
    let http = Http::new();
    // Accounts named after this run, so that a reused database takes them.
    let run_id = std::process::id();
    // Typed flows: one account per worker, without a push token (no pushes).
    // Push flows: at most 4 per account, so that the push limits (5 per 10
    // minutes since the last success, at one-second resolution) never refuse one.
    let per_account = 4;
    let typed_phones: Vec<LoadPhone> = (0..workers)
        .map(|i| enrol(server, &http, &format!("typed{run_id}n{i}"), false))
        .collect::<Result<_, _>>()?;
    let push_accounts = flows.div_ceil(per_account).max(workers);
    let push_phones: Vec<LoadPhone> = (0..push_accounts)
        .map(|i| enrol(server, &http, &format!("push{run_id}n{i}"), true))
        .collect::<Result<_, _>>()?;
    let build = if cfg!(debug_assertions) {
        "debug build: figures are NOT representative, use --release"
    } else {
        "release build"
    };
    let store = if args.database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite (synchronous=FULL)"
    };
    let bases: Vec<&str> = servers.iter().map(|s| s.base.as_str()).collect();
    println!(
        "latchkey bench load: {flows} flows of each kind, {workers} concurrent workers, {nodes} `latchkey serve --dev` node(s) on {} with the {store} store ({build})",
        bases.join(", ")
    );
    println!(
        "(password hashing is not part of a second-factor flow and is not measured; client and servers share the machine's cores)"
    );
    let server_pids: Vec<String> = servers.iter().map(|s| s.child.id().to_string()).collect();
    let servers_cpu = || server_pids.iter().map(|pid| cpu_seconds(pid)).sum::<f64>();
    for kind in ["typed response", "push approval"] {
        let server_cpu = servers_cpu();
        let client_cpu = cpu_seconds("self");
        let commits = durable_commits(&servers, &http)?;
        let started = now();
        let start_id = last_outbox_id(server, &http)?;
        let latencies: Vec<Duration> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|i| {
                    let server = &servers[i % nodes];
                    let typed_phones = &typed_phones;
                    let push_phones = &push_phones;
                    let share = flows / workers + usize::from(i < flows % workers);
                    scope.spawn(move || {
                        let http = Http::new();
                        let mut seen = start_id;
                        let mut latencies = Vec::with_capacity(share);
                        // Worker i uses push accounts i, i + workers, i + 2·workers…
                        let mut mine = push_phones.iter().skip(i).step_by(workers).cycle();
                        let mut used = 0;
                        let mut phone = mine.next();
                        for _ in 0..share {
                            let t = now();
                            let outcome = if kind == "typed response" {
                                typed_flow(server, &http, &typed_phones[i])
                            } else {
                                if used == per_account {
                                    phone = mine.next();
                                    used = 0;
                                }
                                used += 1;
                                match phone {
                                    Some(phone) => push_flow(server, &http, phone, &mut seen),
                                    None => Err(runtime("no push account")),
                                }
                            };
                            match outcome {
                                Ok(()) => latencies.push(t.elapsed()),
                                Err(CliError::Runtime(e) | CliError::Input(e)) => {
                                    eprintln!("a flow failed: {e}")
                                }
                            }
                        }
                        latencies
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        let commits = durable_commits(&servers, &http)?.saturating_sub(commits);
        let mut sorted = latencies.clone();
        sorted.sort();
        let done = sorted.len();
        println!(
            "  {kind:<15} {done:>5} completed in {elapsed:.2} s: {:>7.1} flows/s, p50 {:.1} ms, p99 {:.1} ms; {commits} durable commits, {:.2} per flow; CPU: servers {:.2} s, client {:.2} s",
            done as f64 / elapsed,
            percentile(&sorted, 0.50),
            percentile(&sorted, 0.99),
            commits as f64 / done.max(1) as f64,
            servers_cpu() - server_cpu,
            cpu_seconds("self") - client_cpu,
        );
    }
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf, CliError> {
    let dir = std::env::temp_dir().join(format!("latchkey-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(runtime)?;
    Ok(dir)
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The newest outbox message's id.
fn last_outbox_id(server: &Server, http: &Http) -> Result<i64, CliError> {
    let mut after = 0;
    loop {
        let (_, page) = http.call(
            "GET",
            &format!("{}/v1/dev/outbox?after={after}", server.base),
            None,
            None,
        )?;
        match page["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["id"].as_i64())
        {
            Some(last) => after = last,
            None => return Ok(after),
        }
    }
}
