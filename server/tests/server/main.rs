//! The real server on an ephemeral loopback port, spoken to over real HTTP.
//!
//! Each test starts `Server` in-process on `127.0.0.1:0` with its own data folder
//! and a `ManualClock`, talks to it with `ureq`, and stops it through its
//! graceful-shutdown signal. Nothing here waits on the clock.
//!
//! Tests written once for both stores ([`on_both_stores!`]) run twice: on
//! SQLite in the data folder, and on a fresh database of the PostgreSQL named by
//! `LATCHKEY_TEST_POSTGRES` (`scripts/with-postgres` starts one and sets it).
//! Unset, the PostgreSQL variants fail; `LATCHKEY_TEST_POSTGRES=skip` skips them
//! (each says so on stderr).

// Test helpers may unwrap: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_core::clock::ManualClock;
use latchkey_core::protocol::{ServerProfile, ServerPublicKey, b64};
use latchkey_server::http::AppState;
use latchkey_server::outbox::{MessageText, SecretText};
use latchkey_server::store::StoreExt;
use latchkey_server::users::PhoneNumber;
use latchkey_server::{Server, ServerConfig, ServerError};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// Writes, for each name, `#[test]`s running the function `name(&TestStore)` of
/// the calling module on SQLite (`on_sqlite::name`) and on PostgreSQL
/// (`on_postgres::name`).
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&crate::TestStore::sqlite());
                }
            )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(store) = crate::TestStore::postgres() {
                        super::$name(&store);
                    }
                }
            )*
        }
    };
}

mod audit;
mod ceremonies;
mod delivery;
mod fallbacks;
mod fixture;
mod hardening;
mod metrics;
mod store_conformance;
mod two_nodes;
mod web;

/// Which store a test's server keeps its state in.
#[derive(Debug, Clone)]
enum TestStore {
    /// SQLite, `server.db` in the data folder (the default).
    Sqlite,
    /// A database of its own on the test PostgreSQL.
    Postgres(latchkey_server::store::PostgresUrl),
}

impl TestStore {
    fn sqlite() -> Self {
        TestStore::Sqlite
    }

    /// A fresh database on the PostgreSQL that `LATCHKEY_TEST_POSTGRES` names;
    /// `None` (after saying so) when it is `skip`. Unset, the test fails: a
    /// PostgreSQL variant never passes without having run.
    fn postgres() -> Option<Self> {
        let admin = match std::env::var("LATCHKEY_TEST_POSTGRES") {
            Ok(value) if value == "skip" => {
                eprintln!("skipped: LATCHKEY_TEST_POSTGRES=skip");
                return None;
            }
            Ok(value) => value,
            Err(_) => panic!(
                "LATCHKEY_TEST_POSTGRES is not set: run the tests under scripts/with-postgres, or set it to `skip` to skip the PostgreSQL variants"
            ),
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "lk_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach LATCHKEY_TEST_POSTGRES: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let (base, query) = match admin.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin.as_str(), String::new()),
        };
        let (server, _) = base.rsplit_once('/').unwrap();
        Some(TestStore::Postgres(
            format!("{server}/{name}{query}").parse().unwrap(),
        ))
    }

    /// The store opened directly, without a server.
    fn open(&self, dir: &Path) -> Arc<dyn latchkey_server::Store> {
        match self {
            TestStore::Sqlite => {
                Arc::new(latchkey_server::store::SqliteStore::open(&dir.join("direct.db")).unwrap())
            }
            TestStore::Postgres(url) => {
                let url = url.clone();
                // Opened off any runtime, as the server does.
                std::thread::spawn(move || {
                    Arc::new(latchkey_server::store::PostgresStore::connect(&url, 8).unwrap())
                        as Arc<dyn latchkey_server::Store>
                })
                .join()
                .unwrap()
            }
        }
    }
}

const T0: u64 = 1_800_000_000;

/// Everything every test logged, to check that no secret reached the log.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A server running on its own tokio runtime.
struct Running {
    addr: SocketAddr,
    clock: Arc<ManualClock>,
    state: AppState,
    new_token: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), ServerError>>>,
    runtime: tokio::runtime::Runtime,
}

fn config(dir: &Path, dev: bool) -> ServerConfig {
    if !dev && dir.is_dir() {
        // A production data folder must be its owner's alone; tempdir makes 0755.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut config = ServerConfig::new(dir, "127.0.0.1:0".parse().unwrap());
    config.dev = dev;
    if dev {
        // Development mode may hash passwords cheaply; production may not.
        config.password_iterations = NonZeroU32::new(1_000).unwrap();
    }
    config
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn try_start(dir: &Path, dev: bool) -> Result<Running, ServerError> {
    try_start_on(&TestStore::Sqlite, dir, dev)
}

/// A server with the test configuration changed by `adjust`.
fn start_with(dir: &Path, dev: bool, adjust: impl FnOnce(&mut ServerConfig)) -> Running {
    let mut config = config(dir, dev);
    adjust(&mut config);
    try_start_with(config).unwrap()
}

fn try_start_on(store: &TestStore, dir: &Path, dev: bool) -> Result<Running, ServerError> {
    let mut config = config(dir, dev);
    if let TestStore::Postgres(url) = store {
        config.database = Some(url.clone());
    }
    try_start_with(config)
}

fn try_start_with(config: ServerConfig) -> Result<Running, ServerError> {
    captured_logs();
    let runtime = runtime();
    let clock = Arc::new(ManualClock::new(T0));
    let server = runtime.block_on(Server::bind(config, clock.clone()))?;
    let addr = server.local_addr();
    let state = server.state().clone();
    let new_token = server
        .new_integrator_token()
        .map(|t| t.expose_secret().to_owned());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = runtime.spawn(server.run(async {
        let _ = stopped.await;
    }));
    Ok(Running {
        addr,
        clock,
        state,
        new_token,
        stop: Some(stop),
        served: Some(served),
        runtime,
    })
}

fn start(dir: &Path, dev: bool) -> Running {
    try_start(dir, dev).unwrap()
}

/// A server on `store` (SQLite in `dir`, or its PostgreSQL database).
fn start_on(store: &TestStore, dir: &Path, dev: bool) -> Running {
    try_start_on(store, dir, dev).unwrap()
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = agent().get(&self.url(path));
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        Answer::from(request.call().unwrap())
    }

    fn post(&self, path: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> Answer {
        let mut request = agent()
            .post(&self.url(path))
            .header("Content-Type", content_type);
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        Answer::from(request.send(body).unwrap())
    }

    fn user_count(&self) -> u64 {
        self.state
            .store
            .in_transaction(|tx| tx.user_count())
            .unwrap()
    }

    fn audit_count(&self) -> usize {
        self.state
            .store
            .in_transaction(|tx| tx.audit_after(0, 1000))
            .unwrap()
            .len()
    }

    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let served = self.served.take().unwrap();
        self.runtime.block_on(served).unwrap().unwrap();
    }
}

/// A fresh agent per request, so that no pooled connection outlives a server.
fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    )
}

#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    www_authenticate: Option<String>,
    json: Value,
}

impl From<ureq::http::Response<ureq::Body>> for Answer {
    fn from(response: ureq::http::Response<ureq::Body>) -> Self {
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let content_type = header("content-type").unwrap_or_default();
        let www_authenticate = header("www-authenticate");
        let text = response.into_body().read_to_string().unwrap();
        let json =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}"));
        Self {
            status,
            content_type,
            www_authenticate,
            json,
        }
    }
}

impl Answer {
    /// Asserts a typed error body with this status and code, and one more member.
    fn assert_error_with(&self, status: u16, code: &str, member: &str, value: Value) {
        self.assert_error(status, code);
        assert_eq!(self.json["error"][member], value, "{self:?}");
    }

    /// Asserts a typed error body with this status and code.
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.content_type.starts_with("application/json"),
            "{self:?}"
        );
        assert_eq!(self.json["error"]["code"], code, "{self:?}");
        assert!(
            self.json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{self:?}"
        );
        assert_eq!(self.json.as_object().unwrap().len(), 1, "{self:?}");
    }
}

fn token_in(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("integrator-token"))
        .unwrap()
        .trim()
        .to_owned()
}

fn alice(password: &str) -> Vec<u8> {
    json!({
        "username": "alice",
        "password": password,
        "phone": "+85212345678",
        "email": "alice@example.com",
        "jurisdiction": "HK",
    })
    .to_string()
    .into_bytes()
}

#[test]
fn health_answers_ok_and_names_the_mode() {
    let dir = tempfile::tempdir().unwrap();
    let production = start(&dir.path().join("p"), false);
    let answer = production.get("/v1/health", None);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json, json!({"status": "ok", "mode": "production"}));
    production.stop();

    let development = start(&dir.path().join("d"), true);
    let answer = development.get("/v1/health", None);
    assert_eq!(answer.json, json!({"status": "ok", "mode": "development"}));
    development.stop();
}

#[test]
fn the_profile_served_and_written_names_the_key_in_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), false);
    let answer = server.get("/v1/profile", None);
    assert_eq!(answer.status, 200);
    let served = ServerProfile::from_json(&answer.json.to_string()).unwrap();
    assert_eq!(served.base_url(), format!("http://{}", server.addr));

    let keys: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("server-keys.json")).unwrap(),
    )
    .unwrap();
    let seed = b64::decode(keys["signing"]["key"].as_str().unwrap()).unwrap();
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let expected = ServerPublicKey::from_slice(pair.public_key().as_ref()).unwrap();
    assert_eq!(served.public_key(), &expected);

    let written = ServerProfile::from_json(
        &std::fs::read_to_string(dir.path().join("server-profile.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(written, served);
    server.stop();
}

#[test]
fn integrator_routes_refuse_requests_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let token = token_in(dir.path());
    assert_eq!(server.new_token.as_deref(), Some(token.as_str()));

    let answer = server.get("/v1/integrator/users/alice", None);
    answer.assert_error(401, "unauthorized");
    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
    server
        .get("/v1/integrator/users/alice", Some("lk_not-the-token"))
        .assert_error(401, "unauthorized");
    server
        .get("/v1/integrator/no-such-route", None)
        .assert_error(401, "unauthorized");
    server
        .post(
            "/v1/integrator/users",
            None,
            "application/json",
            &alice("correct horse"),
        )
        .assert_error(401, "unauthorized");
    let basic = Answer::from(
        agent()
            .get(&server.url("/v1/integrator/users/alice"))
            .header("Authorization", &format!("Basic {token}"))
            .call()
            .unwrap(),
    );
    basic.assert_error(401, "unauthorized");
    assert_eq!(server.user_count(), 0);

    server
        .get("/v1/integrator/users/alice", Some(&token))
        .assert_error(404, "user_not_found");
    server
        .get("/v1/integrator/no-such-route", Some(&token))
        .assert_error(404, "not_found");
    let created = server.post(
        "/v1/integrator/users",
        Some(&token),
        "application/json",
        &alice("correct horse"),
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json["policy"]["two_factor_mandatory"], true);
    assert_eq!(created.json["policy"]["matching_modes"], json!(["code"]));
    assert!(created.json.get("password_hash").is_none());
    server
        .post(
            "/v1/integrator/users",
            Some(&token),
            "application/json",
            &alice("another password"),
        )
        .assert_error(409, "user_exists");
    server.stop();
}

#[test]
fn a_malformed_json_body_is_refused_with_a_typed_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let token = token_in(dir.path());
    let users = "/v1/integrator/users";
    let json = "application/json";

    server
        .post(users, Some(&token), json, b"{\"username\": \"alice\", ")
        .assert_error(400, "malformed_body");
    server
        .post(users, Some(&token), json, b"")
        .assert_error(400, "malformed_body");
    server
        .post(users, Some(&token), json, b"[1, 2, 3]")
        .assert_error(400, "malformed_body");
    let mut unknown_field: Value = serde_json::from_slice(&alice("correct horse")).unwrap();
    unknown_field["is_admin"] = json!(true);
    server
        .post(
            users,
            Some(&token),
            json,
            unknown_field.to_string().as_bytes(),
        )
        .assert_error(400, "malformed_body");
    server
        .post(users, Some(&token), "text/plain", &alice("correct horse"))
        .assert_error(415, "unsupported_media_type");
    server
        .post(
            users,
            Some(&token),
            "application/jsonx",
            &alice("correct horse"),
        )
        .assert_error(415, "unsupported_media_type");
    let mut bad_phone: Value = serde_json::from_slice(&alice("correct horse")).unwrap();
    bad_phone["phone"] = json!("12345");
    let answer = server.post(users, Some(&token), json, bad_phone.to_string().as_bytes());
    answer.assert_error(400, "invalid_field");
    assert!(
        answer.json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("phone:")
    );
    server
        .post(users, Some(&token), json, &alice("short"))
        .assert_error(400, "invalid_field");

    assert_eq!(server.user_count(), 0);
    assert_eq!(server.audit_count(), 0);
    server
        .get("/v1/integrator/users/alice", Some(&token))
        .assert_error(404, "user_not_found");
    let accepted = server.post(
        users,
        Some(&token),
        "application/merge-patch+json; charset=utf-8",
        &alice("correct horse"),
    );
    assert_eq!(accepted.status, 201, "{accepted:?}");
    assert_eq!((server.user_count(), server.audit_count()), (1, 1));
    server.stop();
}

#[test]
fn an_oversized_body_is_refused_with_413_and_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let token = token_in(dir.path());
    let mut body: Value = serde_json::from_slice(&alice("correct horse")).unwrap();
    body["email"] = json!(format!("{}@example.com", "a".repeat(70 * 1024)));
    let body = body.to_string();
    assert!(body.len() > 64 * 1024);
    server
        .post(
            "/v1/integrator/users",
            Some(&token),
            "application/json",
            body.as_bytes(),
        )
        .assert_error(413, "body_too_large");
    assert_eq!(server.user_count(), 0);
    server.stop();
}

#[test]
fn unknown_routes_and_wrong_methods_answer_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), false);
    server
        .get("/nothing-here", None)
        .assert_error(404, "not_found");
    server.get("/v1", None).assert_error(404, "not_found");
    server
        .post("/v1/health", None, "application/json", b"{}")
        .assert_error(405, "method_not_allowed");
    let token = token_in(dir.path());
    Answer::from(
        agent()
            .delete(&server.url("/v1/integrator/users/alice"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap(),
    )
    .assert_error(405, "method_not_allowed");
    server.stop();
}

#[test]
fn the_dev_outbox_is_absent_in_production_and_present_in_development() {
    let dir = tempfile::tempdir().unwrap();
    let production = start(&dir.path().join("p"), false);
    production
        .get("/v1/dev/outbox", None)
        .assert_error(404, "not_found");
    production.stop();

    let development = start(&dir.path().join("d"), true);
    let empty = development.get("/v1/dev/outbox", None);
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json, json!({"messages": []}));

    let phone: PhoneNumber = "+85212345678".parse().unwrap();
    let text = MessageText::with_secret(
        "Your Latchkey code is {secret}.",
        SecretText::new("731904".into()),
    )
    .unwrap();
    development.state.channels.sms.send(&phone, &text).unwrap();
    let listed = development.get("/v1/dev/outbox", None);
    assert_eq!(listed.status, 200);
    let messages = listed.json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["channel"], "sms");
    assert_eq!(messages[0]["recipient"], "+85212345678");
    assert_eq!(messages[0]["created_at"], T0);
    assert_eq!(messages[0]["body"]["text"], "Your Latchkey code is 731904.");
    let id = messages[0]["id"].as_i64().unwrap();
    let later = development.get(&format!("/v1/dev/outbox?after={id}"), None);
    assert_eq!(later.json, json!({"messages": []}));
    development
        .get("/v1/dev/outbox?after=x", None)
        .assert_error(400, "invalid_field");
    development.stop();
}

#[test]
fn the_dev_store_counters_are_absent_in_production_and_count_durable_commits_in_development() {
    let dir = tempfile::tempdir().unwrap();
    let production = start(&dir.path().join("p"), false);
    production
        .get("/v1/dev/store", None)
        .assert_error(404, "not_found");
    production.stop();

    let development = start(&dir.path().join("d"), true);
    let before = development.get("/v1/dev/store", None);
    assert_eq!(before.status, 200);
    let before = before.json["durable_commits"].as_u64().unwrap();
    development
        .state
        .store
        .in_transaction(|tx| tx.add_push("anna", T0))
        .unwrap();
    let after = development.get("/v1/dev/store", None);
    assert_eq!(after.json["durable_commits"].as_u64().unwrap(), before + 1);
    development.stop();
}

#[test]
fn the_dev_clock_skips_ahead_in_development_only_and_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let production = start(&dir.path().join("p"), false);
    production
        .post(
            "/v1/dev/clock",
            None,
            "application/json",
            br#"{"advance":121}"#,
        )
        .assert_error(404, "not_found");
    assert_eq!(production.state.clock.now(), T0);
    production.stop();

    let development = start(&dir.path().join("d"), true);
    let skipped = development.post(
        "/v1/dev/clock",
        None,
        "application/json",
        br#"{"advance":121}"#,
    );
    assert_eq!(skipped.status, 200);
    assert_eq!(skipped.json, json!({"now": T0 + 121}));
    // The verifier and everything else read the same, skipped clock.
    assert_eq!(development.state.clock.now(), T0 + 121);
    development
        .post(
            "/v1/dev/clock",
            None,
            "application/json",
            br#"{"advance":-5}"#,
        )
        .assert_error(400, "malformed_body");
    development
        .post(
            "/v1/dev/clock",
            None,
            "application/json",
            br#"{"advance":99999999999}"#,
        )
        .assert_error(400, "invalid_field");
    assert_eq!(development.state.clock.now(), T0 + 121);
    development.stop();
}

#[test]
fn a_restart_on_the_same_data_folder_keeps_the_key_the_token_and_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), false);
    let token = first.new_token.clone().unwrap();
    let profile = first.get("/v1/profile", None).json;
    let created = first.post(
        "/v1/integrator/users",
        Some(&token),
        "application/json",
        &alice("correct horse battery"),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let keys_before = std::fs::read(dir.path().join("server-keys.json")).unwrap();
    first.stop();

    let second = start(dir.path(), false);
    assert_eq!(
        second.new_token, None,
        "the token is shown on the first start only"
    );
    assert_eq!(token_in(dir.path()), token);
    assert_eq!(
        std::fs::read(dir.path().join("server-keys.json")).unwrap(),
        keys_before
    );
    let again = second.get("/v1/profile", None).json;
    assert_eq!(again["public_key"], profile["public_key"]);
    assert_eq!(again["fingerprint"], profile["fingerprint"]);
    let user = second.get("/v1/integrator/users/alice", Some(&token));
    assert_eq!(user.status, 200, "{user:?}");
    assert_eq!(user.json, created.json);
    let alice = second.state.users.check_password(
        &"alice".parse().unwrap(),
        &latchkey_server::users::Password::new("correct horse battery".into()).unwrap(),
    );
    assert_eq!(alice.unwrap().password_hash.iterations().get(), 600_000);
    second.stop();
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_stops_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    start(dir.path(), false).stop();
    let keys = dir.path().join("server-keys.json");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = try_start(dir.path(), false).map(|running| running.stop());
    assert!(
        matches!(
            refused,
            Err(ServerError::Secrets(
                latchkey_server::secrets::SecretsError::Permissions { mode: 0o644, .. }
            ))
        ),
        "{refused:?}"
    );
    let token = dir.path().join("integrator-token");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o660)).unwrap();
    assert!(matches!(
        try_start(dir.path(), false).map(|running| running.stop()),
        Err(ServerError::Secrets(_))
    ));
}

#[test]
fn logs_hold_neither_passwords_nor_tokens_nor_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let token = token_in(dir.path());
    let password = "pa55word-that-must-not-be-logged";
    let created = server.post(
        "/v1/integrator/users",
        Some(&token),
        "application/json",
        &alice(password),
    );
    assert_eq!(created.status, 201);
    server
        .get(
            "/v1/integrator/users/alice",
            Some("lk_wrong-token-also-not-logged"),
        )
        .assert_error(401, "unauthorized");
    // serde quotes the scalars it refuses ("invalid type: integer `…`"); that
    // text must go nowhere.
    let mut wrong_shape: Value = serde_json::from_slice(&alice("x")).unwrap();
    wrong_shape["password"] = json!(7_319_046_628_153_u64);
    server
        .post(
            "/v1/integrator/users",
            Some(&token),
            "application/json",
            wrong_shape.to_string().as_bytes(),
        )
        .assert_error(400, "malformed_body");
    let text = MessageText::with_secret("code {secret}", SecretText::new("918273".into())).unwrap();
    server
        .state
        .channels
        .sms
        .send(&"+85212345678".parse().unwrap(), &text)
        .unwrap();
    server.stop();

    let logs = String::from_utf8(captured_logs().lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("route=/v1/integrator/users/{username}"),
        "{logs}"
    );
    assert!(logs.contains("code [redacted]"), "{logs}");
    for secret in [
        password,
        token.as_str(),
        &token[3..],
        "lk_wrong-token-also-not-logged",
        "7319046628153",
        "918273",
    ] {
        assert!(!logs.contains(secret), "{secret} is in the log");
    }
    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("server-keys.json")).unwrap(),
    )
    .unwrap();
    for key in ["signing", "wrapping", "pepper"] {
        assert!(!logs.contains(seed[key]["key"].as_str().unwrap()));
    }
}

#[cfg(unix)]
#[test]
fn the_first_start_creates_the_data_folder_with_owner_only_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new").join("data");
    let server = start(&data, false);
    let mode = |name: &str| {
        std::fs::metadata(data.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700);
    for secret in ["server-keys.json", "integrator-token", "server.db"] {
        assert_eq!(mode(secret), 0o600, "{secret}");
    }
    if data.join("server.db-wal").exists() {
        assert_eq!(mode("server.db-wal"), 0o600);
    }
    assert!(data.join("server-profile.json").is_file());
    server.stop();
}
