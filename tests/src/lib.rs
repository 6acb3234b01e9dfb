//! # latchkey-journeys
//!
//! Latchkey's journeys end to end: the real phone core (`Authenticator` with the
//! software keystore and an HTTP transport) against the real verifier server,
//! started in this process on 127.0.0.1 and spoken to over HTTP. `latchkey demo`
//! plays every journey and prints the transcript; the tests in `tests/` play them
//! and assert what a user would check. The protocol's shared vectors live in
//! `vectors/`.
//!
//! Invariants: every journey checks each step and fails with a sentence naming
//! the step; the server and the phones share one [`ManualClock`], so hold periods
//! and lifetimes pass without waiting; nothing leaves 127.0.0.1.

#![warn(missing_docs)]

pub mod journeys;
pub mod scratch;

use latchkey_core::clock::{Clock, ManualClock};
use latchkey_core::device::{
    AccountId, Authenticator, AuthenticatorConfig, HttpMethod, PlatformKeystore,
    SimulatedBiometrics, SoftwareKeystore, Transport, TransportError, TransportRequest,
    TransportResponse,
};
use latchkey_core::protocol::{Platform, ServerProfile};
use latchkey_http_transport::HttpTransport;
use latchkey_server::ServerConfig;
use latchkey_server::embedded::EmbeddedServer;
use serde_json::{Value, json};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The folder holding the shared vectors (`tests/vectors/*.json`).
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Where the journeys start on the demo clock: 2027-01-15 09:30 UTC.
pub const DEMO_START: u64 = 1_800_000_000;

/// Why a journey step did not behave as expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// The result of a journey step.
pub type Step<T = ()> = Result<T, Failure>;

/// Fails the journey with a sentence unless `condition` holds.
pub fn check(condition: bool, what: impl FnOnce() -> String) -> Step {
    if condition {
        Ok(())
    } else {
        Err(Failure(what()))
    }
}

/// Turns any error into a failure of the step it names.
pub trait OrFail<T> {
    /// The value, or a failure saying which step broke and why.
    fn or_fail(self, step: &str) -> Step<T>;
}

impl<T, E: std::fmt::Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, step: &str) -> Step<T> {
        self.map_err(|e| Failure(format!("{step}: {e}")))
    }
}

impl<T> OrFail<T> for Option<T> {
    fn or_fail(self, step: &str) -> Step<T> {
        self.ok_or_else(|| Failure(format!("{step}: nothing was there")))
    }
}

/// What a journey says as it goes: printed by the demo, kept by the tests.
#[derive(Debug, Default)]
pub struct Transcript {
    echo: bool,
    lines: std::sync::Mutex<Vec<String>>,
}

impl Transcript {
    /// A transcript that prints each line as it is said (the demo).
    pub fn printing() -> Self {
        Self {
            echo: true,
            lines: Default::default(),
        }
    }

    /// A transcript that only keeps its lines (the tests).
    pub fn quiet() -> Self {
        Self::default()
    }

    /// Says one line.
    pub fn say(&self, line: impl Into<String>) {
        let line = line.into();
        if self.echo {
            println!("{line}");
        }
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
    }

    /// Every line said so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Rewrites an answer on its way to the phone (a network attacker, a proxy).
pub type Tamper =
    Box<dyn Fn(&TransportRequest, TransportResponse) -> TransportResponse + Send + Sync>;

/// A transport that can be switched off (a phone going offline), that records
/// what the phone sent (for replay attacks) and can have its answers rewritten
/// (for network attacks).
pub struct Switchable {
    inner: HttpTransport,
    online: AtomicBool,
    sent: std::sync::Mutex<Vec<TransportRequest>>,
    tamper: std::sync::Mutex<Option<Tamper>>,
}

impl Switchable {
    fn new() -> Self {
        Self {
            inner: HttpTransport::default(),
            online: AtomicBool::new(true),
            sent: Default::default(),
            tamper: Default::default(),
        }
    }
}

impl Transport for Switchable {
    fn send(&self, request: TransportRequest) -> Result<TransportResponse, TransportError> {
        if !self.online.load(Ordering::SeqCst) {
            return Err(TransportError::Offline);
        }
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(request.clone());
        }
        let answer = self.inner.send(request.clone())?;
        match self.tamper.lock().ok().as_ref().and_then(|t| t.as_ref()) {
            Some(tamper) => Ok(tamper(&request, answer)),
            None => Ok(answer),
        }
    }
}

/// The server and everything around it: its data folder, the shared clock.
pub struct World {
    dir: scratch::ScratchDir,
    /// The clock the server and every phone read.
    pub clock: Arc<ManualClock>,
    server: EmbeddedServer,
    http: ureq::Agent,
}

/// An HTTP answer: status and JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The JSON body (`null` if the body was not JSON).
    pub json: Value,
}

impl World {
    /// Starts a development server on 127.0.0.1 with an ephemeral port, in a
    /// temporary data folder, on the demo clock.
    pub fn start() -> Step<Self> {
        Self::start_with(|_| {})
    }

    /// As [`Self::start`], with the server's configuration changed by `adjust`
    /// first (e.g. delivery providers pointing at a fake on 127.0.0.1).
    pub fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Step<Self> {
        let dir = scratch::ScratchDir::new().or_fail("making the data folder")?;
        let clock = Arc::new(ManualClock::new(DEMO_START));
        let mut config = ServerConfig::new(
            dir.path().join("server"),
            "127.0.0.1:0".parse().or_fail("address")?,
        );
        config.dev = true;
        // The built-in password store hashes cheaply in development only.
        config.password_iterations = NonZeroU32::new(1_000).or_fail("iterations")?;
        adjust(&mut config);
        let server = EmbeddedServer::start(config, clock.clone()).or_fail("starting the server")?;
        let http = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        Ok(Self {
            dir,
            clock,
            server,
            http,
        })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The profile an app would have compiled in.
    pub fn profile(&self) -> ServerProfile {
        self.server.state().profile.as_ref().clone()
    }

    /// The running server (store, verifier…).
    pub fn server(&self) -> &EmbeddedServer {
        &self.server
    }

    /// Moves the demo clock forward.
    pub fn advance(&self, seconds: u64) {
        self.clock.advance(seconds);
    }

    /// The demo clock's time.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    fn call(&self, method: &str, path: &str, token: bool, body: Option<&Value>) -> Step<Answer> {
        let url = format!("{}{path}", self.base_url());
        let auth = format!("Bearer {}", self.server.integrator_token());
        let response = match (method, body) {
            ("GET", _) => {
                let mut r = self.http.get(&url);
                if token {
                    r = r.header("Authorization", &auth);
                }
                r.call()
            }
            (_, body) => {
                let mut r = self
                    .http
                    .post(&url)
                    .header("Content-Type", "application/json");
                if token {
                    r = r.header("Authorization", &auth);
                }
                r.send(
                    body.map(|b| b.to_string())
                        .unwrap_or_else(|| "{}".into())
                        .as_bytes(),
                )
            }
        }
        .or_fail(&format!("{method} {path}"))?;
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .read_to_string()
            .or_fail("reading an answer")?;
        Ok(Answer {
            status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }

    /// A call to the integrator API (bearer token).
    pub fn integrator(&self, method: &str, path: &str, body: Option<Value>) -> Step<Answer> {
        self.call(method, path, true, body.as_ref())
    }

    /// A call to a public route (the reference login, the cancel link).
    pub fn public(&self, method: &str, path: &str, body: Option<Value>) -> Step<Answer> {
        self.call(method, path, false, body.as_ref())
    }

    /// Creates an account in the built-in store.
    pub fn add_user(&self, username: &str, jurisdiction: &str, second_factor: &str) -> Step {
        let answer = self.integrator(
            "POST",
            "/v1/integrator/users",
            Some(json!({
                "username": username,
                "password": format!("{username}'s long password"),
                "phone": "+85291234567",
                "email": format!("{username}@example.com"),
                "jurisdiction": jurisdiction,
                "second_factor": second_factor,
            })),
        )?;
        check(answer.status == 201, || {
            format!("creating {username}: {answer:?}")
        })
    }

    /// Every outbox message so far (development mode), oldest first.
    pub fn outbox(&self) -> Step<Vec<Value>> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let answer = self.public("GET", &format!("/v1/dev/outbox?after={after}"), None)?;
            let page = answer.json["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            match page.last().and_then(|m| m["id"].as_i64()) {
                Some(last) => after = last,
                None => return Ok(all),
            }
            all.extend(page);
        }
    }

    /// The newest SMS text.
    pub fn last_sms(&self) -> Step<String> {
        self.outbox()?
            .iter()
            .rev()
            .find(|m| m["channel"] == "sms")
            .and_then(|m| m["body"]["text"].as_str().map(str::to_owned))
            .or_fail("finding the newest SMS")
    }

    /// The activation code in the newest activation SMS.
    pub fn last_activation_code(&self) -> Step<String> {
        let texts: Vec<String> = self
            .outbox()?
            .iter()
            .filter(|m| m["channel"] == "sms")
            .filter_map(|m| m["body"]["text"].as_str().map(str::to_owned))
            .collect();
        texts
            .iter()
            .rev()
            .find_map(|t| {
                t.split(|c: char| !c.is_ascii_digit())
                    .find(|w| w.len() == 13)
                    .map(str::to_owned)
            })
            .or_fail("finding the activation code in the SMS")
    }

    /// The data map of the newest login push (what FCM/APNs would deliver).
    pub fn last_login_push(&self) -> Step<std::collections::HashMap<String, String>> {
        let outbox = self.outbox()?;
        let push = outbox
            .iter()
            .rev()
            .filter(|m| m["channel"] == "push")
            .find_map(|m| {
                let payload: Value = serde_json::from_str(m["body"]["payload"].as_str()?).ok()?;
                payload.get("request")?;
                Some(payload)
            })
            .or_fail("finding the newest login push")?;
        Ok(push
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Starts an activation through the integrator API; returns the ticket JSON.
    pub fn start_activation(&self, username: &str, replace: Option<&str>) -> Step<String> {
        let mut body = json!({ "username": username });
        if let Some(replace) = replace {
            body["replace"] = json!(replace);
        }
        let answer = self.integrator("POST", "/v1/integrator/activations", Some(body))?;
        check(answer.status == 201, || {
            format!("starting an activation for {username}: {answer:?}")
        })?;
        Ok(answer.json["ticket"].to_string())
    }

    /// Opens a login session; returns (session id, challenge, the whole answer).
    pub fn open_session(&self, username: &str, app: &str) -> Step<(String, String, Answer)> {
        let answer = self.integrator(
            "POST",
            "/v1/integrator/sessions",
            Some(json!({ "username": username, "app": app, "client": "Firefox on Linux", "origin": "203.0.113.7 (Hong Kong)" })),
        )?;
        check(answer.status == 201, || {
            format!("opening a session for {username}: {answer:?}")
        })?;
        let id = answer.json["session_id"]
            .as_str()
            .or_fail("session id")?
            .to_owned();
        let challenge = answer.json["challenge"]
            .as_str()
            .or_fail("challenge")?
            .to_owned();
        Ok((id, challenge, answer))
    }

    /// A session's status word.
    pub fn session_status(&self, id: &str) -> Step<String> {
        let answer = self.integrator("GET", &format!("/v1/integrator/sessions/{id}"), None)?;
        Ok(answer.json["status"].as_str().unwrap_or("?").to_owned())
    }

    /// Types a response into the login screen (integrator API).
    pub fn type_response(&self, id: &str, response: &str) -> Step<Answer> {
        self.integrator(
            "POST",
            &format!("/v1/integrator/sessions/{id}/response"),
            Some(json!({ "response": response })),
        )
    }

    /// The integrator's view of a user.
    pub fn user(&self, username: &str) -> Step<Value> {
        Ok(self
            .integrator("GET", &format!("/v1/integrator/users/{username}"), None)?
            .json)
    }

    /// Opens a phone (its own folder, keystore, store and biometrics).
    pub fn phone(&self, name: &str) -> Step<Phone> {
        let dir = self
            .dir
            .path()
            .join(name.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
        std::fs::create_dir_all(&dir).or_fail("making the phone's folder")?;
        let biometrics = SimulatedBiometrics::new();
        let keystore: Arc<dyn PlatformKeystore> = Arc::new(
            SoftwareKeystore::open(&dir.join("keys"), biometrics.clone())
                .or_fail("opening the keystore")?,
        );
        let transport = Arc::new(Switchable::new());
        let authenticator = Authenticator::open(
            &dir.join("latchkey.db"),
            keystore,
            transport.clone(),
            self.clock.clone(),
            AuthenticatorConfig {
                platform: Platform::Android,
                app_version: "1.0.0".into(),
            },
        )
        .or_fail("opening the authenticator")?;
        Ok(Phone {
            name: name.to_owned(),
            authenticator: Arc::new(authenticator),
            biometrics,
            transport,
            dir,
            push_token: format!("fcm-token-of-{name}"),
        })
    }

    /// The phone's HTTP method for a request, for completeness of the harness.
    pub fn method_name(method: HttpMethod) -> &'static str {
        method.as_str()
    }
}

/// A simulated phone: the real core with the software keystore.
pub struct Phone {
    /// Its name, as the user calls it.
    pub name: String,
    /// The core (shared with the app model in the app tests).
    pub authenticator: Arc<Authenticator>,
    /// Its simulated fingerprint sensor.
    pub biometrics: SimulatedBiometrics,
    transport: Arc<Switchable>,
    /// Its folder (database, keystore).
    pub dir: PathBuf,
    /// The push token the platform gave it.
    pub push_token: String,
}

impl Phone {
    /// The last request the phone sent to a path ending in `suffix`.
    pub fn last_sent(&self, suffix: &str) -> Option<TransportRequest> {
        self.transport
            .sent
            .lock()
            .ok()?
            .iter()
            .rev()
            .find(|r| r.url.ends_with(suffix))
            .cloned()
    }

    /// Puts a network attacker between the phone and the server (`None` removes it).
    pub fn set_tamper(&self, tamper: Option<Tamper>) {
        if let Ok(mut slot) = self.transport.tamper.lock() {
            *slot = tamper;
        }
    }

    /// Sends raw bytes to the server as the phone's transport would (replays).
    pub fn replay(&self, request: &TransportRequest) -> Step<(u16, serde_json::Value)> {
        let answer = self
            .transport
            .inner
            .send(request.clone())
            .or_fail("replaying")?;
        Ok((
            answer.status,
            serde_json::from_slice(&answer.body).unwrap_or(serde_json::Value::Null),
        ))
    }

    /// Takes the phone offline (airplane mode) or back online.
    pub fn set_online(&self, online: bool) {
        self.transport.online.store(online, Ordering::SeqCst);
    }

    /// Activates `username` on this phone with `pin`: starts the activation,
    /// reads the SMS code, activates.
    pub fn activate(
        &self,
        world: &World,
        username: &str,
        pin: &str,
        replace: Option<&str>,
    ) -> Step<latchkey_core::device::ActivationOutcome> {
        let ticket = world.start_activation(username, replace)?;
        let code = world.last_activation_code()?;
        self.authenticator
            .activate(
                &world.profile(),
                &ticket,
                &code,
                pin.to_owned(),
                pin.to_owned(),
                &self.name,
                Some(self.push_token.clone()),
            )
            .or_fail(&format!("activating {username} on {}", self.name))
    }

    /// The id of the account with this label.
    pub fn account(&self, username: &str) -> Step<AccountId> {
        self.authenticator
            .accounts()
            .or_fail("listing accounts")?
            .into_iter()
            .find(|a| a.label == username || a.label.starts_with(&format!("{username} @ ")))
            .map(|a| a.id)
            .or_fail(&format!("finding {username} on {}", self.name))
    }

    /// Syncs an account (as opening the app does).
    pub fn sync(&self, username: &str) -> Step<latchkey_core::device::SyncReport> {
        let id = self.account(username)?;
        self.authenticator
            .sync(id, Some(self.push_token.clone()), true)
            .or_fail(&format!("syncing {username} on {}", self.name))
    }

    /// Whether the file holds the bytes anywhere (secrets-at-rest checks).
    pub fn files_contain(&self, needle: &[u8]) -> bool {
        fn walk(dir: &Path, needle: &[u8]) -> bool {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .any(|entry| {
                    let path = entry.path();
                    if path.is_dir() {
                        walk(&path, needle)
                    } else {
                        std::fs::read(&path)
                            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                    }
                })
        }
        walk(&self.dir, needle)
    }
}
