//! `latchkey serve` and `latchkey user add`: the verifier server and its
//! built-in users, over one data folder.
//!
//! `serve` binds its address first (a port in use stops it before any file is
//! made), then prints the server profile, the integrator token (on the first
//! start only) and, last, the address it listens on — the actual bound address,
//! so `--listen 127.0.0.1:0` works — then logs to stderr (coloured only on a
//! terminal without `NO_COLOR`) until Ctrl-C or SIGTERM. `--listen` takes an IP
//! address or a host name that resolves to a loopback or any-address
//! (`localhost:8080`). `user add` reads the password without echo at a
//! terminal, else one line from stdin, never from argv. Both refuse a data
//! folder whose parent folder does not exist (a typo would otherwise make a
//! tree of folders). Both keep state in SQLite in the data folder, or, with
//! `--database postgres://…`, in that PostgreSQL database, which several
//! `serve` nodes may share (docs/OPERATIONS.md); the data folder still holds the
//! key file, the token and the profile.

use crate::CliError;
use crate::clock::SystemClock;
use clap::{Args, Subcommand};
use latchkey_server::config::{Delivery, PRODUCTION_PASSWORD_ITERATIONS};
use latchkey_server::delivery::config::DeliveryConfig;
use latchkey_server::policy::{Jurisdiction, PolicyTable};
use latchkey_server::store::{DEFAULT_POOL_SIZE, PostgresStore, PostgresUrl};
use latchkey_server::users::{
    EmailAddress, NewUser, Password, PhoneNumber, SecondFactor, UserDirectory, UserError, Username,
};
use latchkey_server::{DataFolder, Server, ServerConfig, ServerError, Store};
use std::io::{BufRead, IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arguments of `latchkey serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on: IP:PORT, or HOST:PORT with a host name that
    /// resolves to a loopback or any-address (localhost:8080); port 0 picks a
    /// free port.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = listen_address)]
    listen: SocketAddr,
    /// The data folder (created on first start, inside an existing folder):
    /// keys, token, profile, and the SQLite database unless --database is given.
    #[arg(long)]
    data: PathBuf,
    /// Keep state in this PostgreSQL database instead of SQLite in the data
    /// folder: postgres://USER@HOST:PORT/DB (a host starting with %2F is a Unix
    /// socket folder). Several nodes may share it; give each the same key file.
    #[arg(long)]
    database: Option<String>,
    /// Development mode: the outbox can be read at /v1/dev/outbox and phones
    /// with a software keystore are accepted. Never in production.
    #[arg(long)]
    dev: bool,
    /// The base URL apps reach this server at, for the server profile
    /// (default: http:// and the bound address).
    #[arg(long)]
    public_url: Option<String>,
    /// The delivery file naming each channel's provider and credentials files
    /// (see latchkey.example.toml). Production needs one; without it, --dev
    /// only records messages in the outbox.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// `latchkey user …`.
#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a built-in user; the password is read from stdin (one line).
    Add(UserAddArgs),
}

/// Arguments of `latchkey user add`.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The server's data folder (created if missing, inside an existing folder).
    #[arg(long)]
    data: PathBuf,
    /// The server's PostgreSQL database, if it keeps its state there (as
    /// `serve --database`).
    #[arg(long)]
    database: Option<String>,
    /// The username (letters, digits, . _ @ + -; case-insensitive).
    #[arg(long)]
    username: String,
    /// The verified phone number, international form, e.g. +85212345678.
    #[arg(long)]
    phone: String,
    /// The e-mail address.
    #[arg(long)]
    email: String,
    /// Where the account holder resides (ISO 3166-1 alpha-2, e.g. HK, IN, US).
    #[arg(long)]
    jurisdiction: String,
    /// The second factor: phone (the Latchkey app) or sms.
    #[arg(long, default_value = "phone")]
    second_factor: String,
}

/// `--listen`: an IP socket address, or `HOST:PORT` where the host name
/// resolves to a loopback or any-address (IPv4 preferred). Other host names are
/// refused: the address to listen on beyond this machine is given as an IP.
fn listen_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err("HOST:PORT is needed, e.g. 127.0.0.1:8080 or localhost:8080".into());
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{port:?} is not a port number (0 to 65535)"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err("HOST:PORT is needed, e.g. 127.0.0.1:8080 or localhost:8080".into());
    }
    let resolved: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {host:?}: {error}"))?
        .collect();
    let local = |a: &&SocketAddr| a.ip().is_loopback() || a.ip().is_unspecified();
    resolved
        .iter()
        .filter(local)
        .find(|a| a.is_ipv4())
        .or_else(|| resolved.iter().find(local))
        .copied()
        .ok_or_else(|| {
            format!(
                "{host:?} resolves to no loopback or any-address; give the IP address to listen \
                 on (e.g. 0.0.0.0:{port})"
            )
        })
}

/// `--database`: a PostgreSQL URL. Checked here rather than by clap, whose
/// error would echo the value, and a URL may hold a password.
pub(crate) fn postgres_url(text: Option<&String>) -> Result<Option<PostgresUrl>, CliError> {
    text.map(|text| {
        text.parse().map_err(|_| {
            CliError::Input(
                "--database: a PostgreSQL URL is needed: postgres://USER@HOST:PORT/DATABASE".into(),
            )
        })
    })
    .transpose()
}

/// The store `user add` writes to: SQLite in the data folder, or PostgreSQL.
pub(crate) fn open_store(
    folder: &DataFolder,
    database: Option<&PostgresUrl>,
) -> Result<Arc<dyn Store>, CliError> {
    Ok(match database {
        None => Arc::new(folder.open_store().map_err(server_error)?),
        Some(url) => Arc::new(
            PostgresStore::connect(url, DEFAULT_POOL_SIZE)
                .map_err(|error| CliError::Runtime(format!("the database: {error}")))?,
        ),
    })
}

/// The configuration `serve` starts with.
fn config_of(args: &ServeArgs) -> Result<ServerConfig, CliError> {
    let mut config = ServerConfig::new(&args.data, args.listen);
    config.dev = args.dev;
    config.public_url = args.public_url.clone();
    config.database = postgres_url(args.database.as_ref())?;
    config.delivery = match &args.config {
        Some(path) => Delivery::Providers(Box::new(
            DeliveryConfig::load(path).map_err(|error| CliError::Input(error.to_string()))?,
        )),
        None if args.dev => Delivery::Outbox,
        // Refused by the server, naming every channel that needs a provider.
        None => Delivery::Providers(Box::default()),
    };
    Ok(config)
}

/// Refuses a data folder that would be made inside a folder that does not
/// exist: `--data /tmp/lk` is made if missing, `--data /tmpp/lk` is a typo.
fn check_data_folder(data: &Path) -> Result<(), CliError> {
    if data.is_dir() {
        return Ok(());
    }
    if data.exists() {
        return Err(CliError::Input(format!(
            "--data: {} exists and is not a folder",
            data.display()
        )));
    }
    match data.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.is_dir() => {
            Err(CliError::Input(format!(
                "--data: the folder {} does not exist (a typo?); the data folder is made only \
                 inside an existing folder",
                parent.display()
            )))
        }
        _ => Ok(()),
    }
}

pub(crate) fn server_error(error: ServerError) -> CliError {
    match error {
        ServerError::Config(_) | ServerError::Profile(_) => CliError::input(error),
        other => CliError::Runtime(other.to_string()),
    }
}

/// Waits for Ctrl-C or (on Unix) SIGTERM. A signal that cannot be watched is
/// never seen, rather than seen at once.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// `latchkey serve`.
pub fn serve(args: &ServeArgs) -> Result<(), CliError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(crate::terminal::colour(std::io::stderr().is_terminal()))
        .try_init();

    check_data_folder(&args.data)?;

    let config = config_of(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::Runtime(format!("cannot start the runtime: {error}")))?;
    runtime.block_on(async {
        let server = Server::bind(config, Arc::new(SystemClock))
            .await
            .map_err(server_error)?;
        let mut out = std::io::stdout().lock();
        let printed = (|| {
            writeln!(out, "{}", server.profile().to_json())?;
            if let Some(token) = server.new_integrator_token() {
                writeln!(
                    out,
                    "integrator API token (shown once; kept in {}): {}",
                    server.data_folder().token_file().display(),
                    // Reason to expose: showing the new token to its operator, once.
                    token.expose_secret()
                )?;
            }
            writeln!(
                out,
                "listening on http://{} ({} mode)",
                server.local_addr(),
                server.state().config.mode_name()
            )?;
            out.flush()
        })();
        drop(out);
        printed.map_err(|error| CliError::Runtime(format!("cannot write to stdout: {error}")))?;
        server.run(shutdown_signal()).await.map_err(server_error)
    })
}

/// `latchkey user …`.
pub fn user(args: &UserArgs) -> Result<(), CliError> {
    match &args.command {
        UserCommand::Add(add) => user_add(add, &mut std::io::stdin().lock()),
    }
}

fn field<T>(flag: &str, parsed: Result<T, UserError>) -> Result<T, CliError> {
    parsed.map_err(|error| CliError::Input(format!("{flag}: {error}")))
}

/// Reads one line from `input` as the password; the line break is not part of it.
fn read_password(input: &mut impl BufRead) -> Result<Password, CliError> {
    let mut line = String::new();
    let read = input.read_line(&mut line).map_err(|error| {
        CliError::Input(format!("cannot read the password from stdin: {error}"))
    })?;
    if read == 0 {
        return Err(CliError::Input(
            "the password is read from stdin, one line; none was given".into(),
        ));
    }
    let kept = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(kept);
    field("password", Password::new(line))
}

fn user_add(args: &UserAddArgs, stdin: &mut impl BufRead) -> Result<(), CliError> {
    let new = NewUser {
        username: field("--username", args.username.parse::<Username>())?,
        phone: field("--phone", args.phone.parse::<PhoneNumber>())?,
        email: field("--email", args.email.parse::<EmailAddress>())?,
        jurisdiction: args
            .jurisdiction
            .parse::<Jurisdiction>()
            .map_err(|error| CliError::Input(format!("--jurisdiction: {error}")))?,
        second_factor: field(
            "--second-factor",
            args.second_factor.parse::<SecondFactor>(),
        )?,
    };
    check_data_folder(&args.data)?;
    let database = postgres_url(args.database.as_ref())?;
    let password = if std::io::stdin().is_terminal() {
        // Typed unseen, so typed twice.
        let typed = crate::terminal::read_secret("Password (not shown)", "the password")?;
        let again = crate::terminal::read_secret("The same password again", "the password")?;
        if typed != again {
            return Err(CliError::Input("the two passwords differ".into()));
        }
        field("password", Password::new(typed))?
    } else {
        read_password(stdin)?
    };
    let policy = PolicyTable::builtin().map_err(|error| CliError::Runtime(error.to_string()))?;
    let folder = DataFolder::create(&args.data).map_err(server_error)?;
    let store = open_store(&folder, database.as_ref())?;
    let iterations = NonZeroU32::new(PRODUCTION_PASSWORD_ITERATIONS).unwrap_or(NonZeroU32::MIN);
    let users = UserDirectory::new(store, Arc::new(SystemClock), iterations);
    let user = users.add(new, &password).map_err(|error| match error {
        UserError::Exists => CliError::Input(format!("the user {} already exists", args.username)),
        other => CliError::Runtime(other.to_string()),
    })?;
    let policy = policy.for_jurisdiction(&user.jurisdiction);
    let two_factor = match policy.citation() {
        Some(citation) if policy.two_factor_mandatory() => {
            format!("two-factor authentication mandatory ({citation})")
        }
        _ => "two-factor authentication optional".to_owned(),
    };
    println!(
        "added user {} ({}: {two_factor}; second factor: {})",
        user.username,
        user.jurisdiction,
        user.second_factor.as_str()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_one_line_without_its_line_break() {
        let mut input = std::io::Cursor::new(b"correct horse\r\nsecond line\n".to_vec());
        let password = read_password(&mut input).unwrap();
        assert_eq!(format!("{password:?}"), "Password([redacted])");
        let mut empty = std::io::Cursor::new(Vec::new());
        assert!(matches!(read_password(&mut empty), Err(CliError::Input(_))));
        let mut short = std::io::Cursor::new(b"short\n".to_vec());
        assert!(
            matches!(read_password(&mut short), Err(CliError::Input(m)) if m.starts_with("password:"))
        );
    }

    #[test]
    fn listen_takes_ip_addresses_and_host_names_of_this_machine() {
        assert_eq!(
            listen_address("127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            listen_address("[::1]:0").unwrap(),
            "[::1]:0".parse::<SocketAddr>().unwrap()
        );
        let local = listen_address("localhost:8080").unwrap();
        assert!(local.ip().is_loopback() && local.port() == 8080, "{local}");
        for bad in ["localhost", "localhost:http", ":8080", "localhost:70000"] {
            assert!(listen_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serve_keeps_state_in_sqlite_by_default_and_in_postgres_with_database() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let sqlite = Cli::try_parse_from(["serve", "--data", "/srv/lk"]).unwrap();
        assert_eq!(config_of(&sqlite.serve).unwrap().database, None);
        let url = "postgres://latchkey:hunter2@127.0.0.1:5432/latchkey";
        let postgres =
            Cli::try_parse_from(["serve", "--data", "/srv/lk", "--database", url]).unwrap();
        let config = config_of(&postgres.serve).unwrap();
        assert_eq!(config.database.as_ref().map(PostgresUrl::expose), Some(url));
        assert_eq!(config.data_dir, PathBuf::from("/srv/lk"));
        assert!(!format!("{config:?}").contains("hunter2"));
        let secret = "mysql://root:hunter2@x/y";
        let wrong = Cli::try_parse_from(["serve", "--data", "d", "--database", secret]).unwrap();
        let refused = config_of(&wrong.serve).err().unwrap();
        assert!(
            matches!(&refused, CliError::Input(m) if m.contains("postgres://USER@HOST") && !m.contains("hunter2")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_data_folder_is_made_only_inside_an_existing_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_data_folder(dir.path()).is_ok());
        assert!(check_data_folder(&dir.path().join("new")).is_ok());
        let typo = dir.path().join("missing").join("data");
        assert!(matches!(
            check_data_folder(&typo),
            Err(CliError::Input(m)) if m.contains("missing") && m.contains("does not exist")
        ));
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(
            matches!(check_data_folder(&file), Err(CliError::Input(m)) if m.contains("not a folder"))
        );
    }
}
