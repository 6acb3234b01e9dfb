//! Starting the server: the data folder and what it holds, binding the listener,
//! writing the server profile, serving until told to stop.
//!
//! Invariants: the first start creates the data folder (mode 0700), the key file,
//! the integrator token, the metrics token and the database (all 0600), and the profile; later starts
//! reuse them and never regenerate a secret; a key file or token file that others
//! may read stops the start, and so does a delivery credentials file others may
//! read; in production, so do a data folder or database the group or others may
//! open and a channel the offered second factors need without a provider (the
//! delivery checks come before any file is made); the profile is rewritten on every start from the key
//! file and the current base URL, so it always names the key in use.

use crate::config::{ConfigError, Delivery, ServerConfig};
use crate::delivery::Providers;
use crate::http::{self, AppState};
use crate::metrics::{Metrics, MetricsToken, ReadinessCheck};
use crate::outbox::Outbox;
use crate::policy::{PolicyError, PolicyTable};
use crate::secrets::{
    FileKeys, IntegratorToken, KEY_FILE_NAME, SecretsError, ServerKeys, TOKEN_FILE_NAME,
};
use crate::store::{DEFAULT_POOL_SIZE, PostgresStore, SqliteStore, Store, StoreError};
use crate::users::UserDirectory;
use latchkey_core::clock::Clock;
use latchkey_core::protocol::{ProtocolError, ServerProfile};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The database's file name inside the data folder.
pub const DATABASE_FILE_NAME: &str = "server.db";
/// The server profile's file name inside the data folder.
pub const PROFILE_FILE_NAME: &str = "server-profile.json";

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A secret file could not be loaded or created.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The database could not be opened or migrated.
    #[error("the database: {0}")]
    Store(#[from] StoreError),
    /// The built-in policy table is invalid (a bug).
    #[error("the policy table: {0}")]
    Policy(#[from] PolicyError),
    /// The server profile could not be made (a bad public URL).
    #[error("the server profile: {0}")]
    Profile(#[from] ProtocolError),
    /// The delivery providers could not be set up (a missing provider in
    /// production, a credentials file others may read, a malformed key).
    #[error("delivery: {0}")]
    Delivery(#[from] crate::delivery::DeliveryError),
    /// Production mode, and the data folder or its database may be read or
    /// written by the group or others.
    #[error(
        "{path} has mode {mode:03o}: the data folder and its database must be accessible by \
         their owner only (chmod {fix} {path})"
    )]
    OpenToOthers {
        /// The folder or file.
        path: String,
        /// Its permission bits.
        mode: u32,
        /// The mode to give it.
        fix: &'static str,
    },
    /// A file, folder or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// The server's data folder: `server.db` (unless the state is in PostgreSQL),
/// `server-keys.json`, `integrator-token`, `metrics-token`, `server-profile.json`.
#[derive(Debug, Clone)]
pub struct DataFolder {
    path: PathBuf,
}

impl DataFolder {
    /// The data folder at `path`, created (mode 0700) if missing.
    pub fn create(path: &Path) -> Result<Self, ServerError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(path).map_err(|source| ServerError::Io {
            what: format!("creating the data folder {}", path.display()),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key file.
    pub fn key_file(&self) -> PathBuf {
        self.path.join(KEY_FILE_NAME)
    }

    /// The integrator token file.
    pub fn token_file(&self) -> PathBuf {
        self.path.join(TOKEN_FILE_NAME)
    }

    /// The metrics token file (`GET /metrics`).
    pub fn metrics_token_file(&self) -> PathBuf {
        self.path.join(crate::metrics::METRICS_TOKEN_FILE_NAME)
    }

    /// The server profile file.
    pub fn profile_file(&self) -> PathBuf {
        self.path.join(PROFILE_FILE_NAME)
    }

    /// The database file.
    pub fn database_file(&self) -> PathBuf {
        self.path.join(DATABASE_FILE_NAME)
    }

    /// Opens (creating and migrating if needed) the database. A new database
    /// file is created with mode 0600 first (it holds password hashes and the
    /// outbox's codes); SQLite gives its `-wal` and `-shm` files the same mode.
    pub fn open_store(&self) -> Result<SqliteStore, ServerError> {
        let path = self.database_file();
        latchkey_core::private_file::create_if_missing(&path).map_err(|source| {
            ServerError::Io {
                what: format!("creating {}", path.display()),
                source,
            }
        })?;
        Ok(SqliteStore::open(&path)?)
    }

    /// Refuses a data folder or database that the group or others may access
    /// (production; see docs/DESIGN.md §3: the server's secrets are owner-only).
    fn check_owner_only(&self) -> Result<(), ServerError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for (path, fix) in [(self.path.clone(), "700"), (self.database_file(), "600")] {
                let Ok(metadata) = std::fs::metadata(&path) else {
                    continue;
                };
                let mode = metadata.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(ServerError::OpenToOthers {
                        path: path.display().to_string(),
                        mode,
                        fix,
                    });
                }
            }
        }
        Ok(())
    }

    fn write_profile(&self, profile: &ServerProfile) -> Result<(), ServerError> {
        let path = self.profile_file();
        let io = |source| ServerError::Io {
            what: format!("writing {}", path.display()),
            source,
        };
        let text = format!("{}\n", profile.to_json());
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        let temporary = self.path.join(format!(".{PROFILE_FILE_NAME}.tmp"));
        std::fs::write(&temporary, text).map_err(io)?;
        std::fs::rename(&temporary, &path).map_err(io)
    }
}

/// A server whose data folder is open and whose listener is bound, ready to run.
pub struct Server {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    state: AppState,
    folder: DataFolder,
    new_token: Option<IntegratorToken>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `config.listen` (first: an address in use stops the start before
    /// any file is made), opens (or creates) the data folder and writes the
    /// server profile.
    pub async fn bind(config: ServerConfig, clock: Arc<dyn Clock>) -> Result<Self, ServerError> {
        config.check()?;
        // Development mode reads time through a clock its tests can skip ahead
        // (`POST /v1/dev/clock`); production reads the given clock as it is.
        let dev_clock = config
            .dev
            .then(|| Arc::new(latchkey_core::clock::OffsetClock::new(clock.clone())));
        let clock: Arc<dyn Clock> = match &dev_clock {
            Some(dev_clock) => dev_clock.clone(),
            None => clock,
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Io {
                what: format!("listening on {}", config.listen),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Io {
            what: "reading the bound address".into(),
            source,
        })?;
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{local_addr}"));
        // The delivery providers: a missing one (production) or a credentials file
        // others may read stops the start before any file is made.
        let providers = match &config.delivery {
            Delivery::Outbox => Providers::default(),
            Delivery::Providers(delivery) => {
                crate::delivery::load(delivery, config.dev, clock.clone(), &base_url)?
            }
        };
        let folder = DataFolder::create(&config.data_dir)?;
        if !config.dev {
            folder.check_owner_only()?;
        }
        let (keys, keys_created) = FileKeys::load_or_create(&folder.key_file())?;
        let (token, token_created) = IntegratorToken::load_or_create(&folder.token_file())?;
        let (metrics_token, _) = MetricsToken::load_or_create(&folder.metrics_token_file())?;
        let store: Arc<dyn Store> = match &config.database {
            None => Arc::new(folder.open_store()?),
            Some(url) => {
                // The PostgreSQL client blocks (it runs a small runtime of its own).
                let url = url.clone();
                let connected = tokio::task::spawn_blocking(move || {
                    PostgresStore::connect(&url, DEFAULT_POOL_SIZE)
                })
                .await
                .map_err(|_| StoreError::Database("connecting to PostgreSQL failed".into()))?;
                Arc::new(connected?)
            }
        };
        // Long-polls here wake for decisions made on other nodes too (a no-op
        // for SQLite, which serves this node only).
        let decisions = Arc::new(tokio::sync::Notify::new());
        let watched = store.clone();
        let weak = Arc::downgrade(&decisions);
        tokio::task::spawn_blocking(move || watched.watch_decisions(weak))
            .await
            .map_err(|_| StoreError::Database("watching for decisions failed".into()))??;
        let policy = PolicyTable::builtin()?;
        let profile = ServerProfile::new(&base_url, keys.public_key())?;
        folder.write_profile(&profile)?;
        if keys_created {
            tracing::info!(key_id = %keys.signing_key_id(), "created the server keys");
        }
        let outbox = Arc::new(Outbox::new(store.clone(), clock.clone()));
        let users = Arc::new(
            UserDirectory::new(store.clone(), clock.clone(), config.password_iterations)
                .with_attempt_limits(config.password_attempts),
        );
        // From here on the public URL is the one the profile names, so that links
        // the server sends (the e-mail's cancel link) are absolute.
        let config = Arc::new(ServerConfig {
            public_url: Some(profile.base_url().to_owned()),
            ..config
        });
        let keys: Arc<dyn crate::ServerKeys> = Arc::new(keys);
        if let Some(voice) = &providers.voice {
            // Calls wait for their keypress in the shared store, so the provider's
            // callback may reach any node.
            voice.keep_calls_in(store.clone(), keys.clone());
        }
        let policy = Arc::new(policy);
        let channels = providers.channels(outbox.clone());
        let metrics = Arc::new(Metrics::new());
        // Outbox depth and durable commits are read from the store at each scrape.
        let depth_store = store.clone();
        metrics.watch_outbox_depth(move || {
            crate::store::StoreExt::outbox_counts(depth_store.as_ref())
                .ok()
                .map(|c| crate::metrics::OutboxDepth {
                    pending: c.pending,
                    dead: c.dead,
                })
        });
        let commit_store = store.clone();
        metrics.register_counter_reading(
            "store_durable_commits",
            "Durable commits (fsyncs on SQLite) the store made",
            move || commit_store.durable_commits(),
        );
        let verifier = Arc::new(
            crate::verifier::Verifier::new(
                config.clone(),
                clock.clone(),
                keys.clone(),
                store.clone(),
                policy.clone(),
                channels.clone(),
            )
            .with_metrics(metrics.clone()),
        );
        let readiness = Arc::new(ReadinessCheck::new(
            store.clone(),
            ReadinessCheck::DEFAULT_TIMEOUT,
        ));
        let state = AppState {
            config,
            clock,
            dev_clock,
            keys,
            store,
            users,
            policy,
            channels,
            outbox,
            voice_calls: providers.voice.clone(),
            profile: Arc::new(profile),
            integrator_token: Arc::new(token.clone()),
            verifier,
            decisions,
            metrics,
            metrics_token: Arc::new(metrics_token),
            readiness,
        };
        Ok(Self {
            listener,
            local_addr,
            state,
            folder,
            new_token: token_created.then_some(token),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server profile, as written to the data folder and served.
    pub fn profile(&self) -> &ServerProfile {
        &self.state.profile
    }

    /// The data folder.
    pub fn data_folder(&self) -> &DataFolder {
        &self.folder
    }

    /// The shared state handlers see (store, users, channels…).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The integrator token, only on the start that created it (to show it once).
    pub fn new_integrator_token(&self) -> Option<&IntegratorToken> {
        self.new_token.as_ref()
    }

    /// Serves requests until `shutdown` completes, then lets requests in flight
    /// finish. Connections are capped and timed out as the configuration's
    /// [`crate::config::ConnectionLimits`] say.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        tracing::info!(
            address = %self.local_addr,
            mode = self.state.config.mode_name(),
            "serving"
        );
        // Lost-phone replacements complete when their hold ends, even if neither
        // phone syncs: a sweep every minute (syncs also complete what is due).
        let verifier = self.state.verifier.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let verifier = verifier.clone();
                if let Ok(Err(error)) =
                    tokio::task::spawn_blocking(move || verifier.complete_due_replacements()).await
                {
                    tracing::warn!(%error, "completing due replacements failed");
                }
            }
        });
        // The outbox's retries: due messages are sent every second, by one node at
        // a time (docs/ARCHITECTURE.md, "The dispatcher").
        let dispatcher = self.state.verifier.dispatcher().clone();
        // SQLite serves one node: a claim left in its store is a dead process's.
        let alone = self.state.config.database.is_none();
        let dispatching = tokio::spawn(async move {
            if alone {
                let dispatcher = dispatcher.clone();
                match tokio::task::spawn_blocking(move || dispatcher.release_claims()).await {
                    Ok(Ok(0)) | Err(_) => {}
                    Ok(Ok(released)) => tracing::warn!(
                        released,
                        "outbox: messages a previous run was sending when it stopped are sent \
                         again now (providers that take the idempotency key drop a duplicate)"
                    ),
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "outbox: releasing a previous run's claims failed")
                    }
                }
            }
            let mut tick =
                tokio::time::interval(std::time::Duration::from_secs(crate::dispatch::TICK_SECS));
            loop {
                tick.tick().await;
                let dispatcher = dispatcher.clone();
                if let Ok(Err(error)) =
                    tokio::task::spawn_blocking(move || dispatcher.run_due_alone()).await
                {
                    tracing::warn!(%error, "sending due outbox messages failed");
                }
            }
        });
        let limits = self.state.config.connections;
        let app = http::router(self.state);
        let served = crate::connections::serve(self.listener, app, limits, shutdown)
            .await
            .map_err(|source| ServerError::Io {
                what: "serving".into(),
                source,
            });
        sweeper.abort();
        dispatching.abort();
        served
    }
}
