//! Real delivery against fake providers on 127.0.0.1: FCM (its OAuth2 token
//! endpoint and `messages:send`), APNs (HTTP/2 over TLS with a test
//! certificate), Twilio (SMS, voice and its keypress callback) and an SMTP
//! server speaking STARTTLS. Each fake records the exact request — headers,
//! JWT claims checked with the public key, body — and can answer errors.
//! Also: what a production start refuses (missing providers, credentials files
//! others can read, an open data folder or database).

use super::ceremonies::{
    NowForTests, PIN, TestPhone, add_user, integrator_post, open_session, phone_post,
};
use super::fallbacks::{add_sms_user, id_of, open_sms, submit};
use super::{Running, T0, TestStore, agent, captured_logs, config, start_with, try_start_with};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri, Version};
use latchkey_core::clock::ManualClock;
use latchkey_core::protocol::{FetchRequest, KeystoreKind, Platform, RequestId};
use latchkey_core::protocol::{Signed, SyncAnswer};
use latchkey_server::ServerError;
use latchkey_server::config::Delivery;
use latchkey_server::delivery::config::DeliveryConfig;
use latchkey_server::delivery::twilio::twilio_signature;
use latchkey_server::delivery::{DeliveryError, apns::ApnsSender, fcm::FcmSender};
use latchkey_server::outbox::{OutboundError, PushMessage, PushSender};
use latchkey_server::store::{Channel, OutboundState, StoreExt};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "twilio-auth-token-not-real-0123";
const SMTP_PASSWORD: &str = "smtp-password-not-real-4567";
const FCM_PRIVATE_KEY: &str = include_str!("fixtures/fcm-test-key.pem");
const FCM_PUBLIC_KEY: &str = include_str!("fixtures/fcm-test-key.pub.pem");
const FCM_EMAIL: &str = "latchkey@latchkey-test.iam.gserviceaccount.com";

/// One request a fake provider received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    version: Version,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// The form-encoded body's fields.
    fn form(&self) -> Vec<(String, String)> {
        self.body
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect()
    }

    fn field(&self, name: &str) -> String {
        self.form()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.body))
    }
}

/// Percent-decoding of a form field (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Percent-encoding of a form field.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A fake provider: records every request, answers as scripted.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// (path fragment, status, body) overriding the default answer.
    answers: Arc<Mutex<Vec<(String, u16, String)>>>,
}

impl Recorder {
    fn answer_for(&self, path: &str) -> (u16, String) {
        if let Some((_, status, body)) = self
            .answers
            .lock()
            .unwrap()
            .iter()
            .find(|(fragment, _, _)| path.contains(fragment.as_str()))
        {
            return (*status, body.clone());
        }
        if path.ends_with("/token") {
            (
                200,
                json!({"access_token": "ya29.fake-access-token", "expires_in": 3600,
                       "token_type": "Bearer"})
                .to_string(),
            )
        } else if path.contains("messages:send") {
            (
                200,
                json!({"name": "projects/latchkey-test/messages/0:1"}).to_string(),
            )
        } else if path.contains("/2010-04-01/") {
            (201, json!({"sid": "SM0123"}).to_string())
        } else {
            (200, String::new())
        }
    }
}

async fn record(
    axum::extract::State(recorder): axum::extract::State<Recorder>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, String) {
    let path = uri.path().to_owned();
    recorder.seen.lock().unwrap().push(Seen {
        method,
        path: path.clone(),
        version,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    let (status, body) = recorder.answer_for(&path);
    (axum::http::StatusCode::from_u16(status).unwrap(), body)
}

/// A running fake provider.
struct Fake {
    base: String,
    recorder: Recorder,
    _runtime: tokio::runtime::Runtime,
}

impl Fake {
    /// Plain HTTP/1.1 on 127.0.0.1.
    fn http() -> Self {
        Self::start(None)
    }

    /// HTTP/2 only, over TLS with `tls` (ALPN h2), on 127.0.0.1.
    fn h2_tls(tls: Arc<rustls::ServerConfig>) -> Self {
        Self::start(Some(tls))
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let runtime = super::runtime();
        let recorder = Recorder::default();
        let app = axum::Router::new()
            .fallback(record)
            .with_state(recorder.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let base = match tls {
            None => {
                runtime.spawn(async move { axum::serve(listener, app).await });
                format!("http://{addr}")
            }
            Some(tls) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                runtime.spawn(async move {
                    loop {
                        let (tcp, _) = listener.accept().await.unwrap();
                        let acceptor = acceptor.clone();
                        let app = app.clone();
                        tokio::spawn(async move {
                            let Ok(stream) = acceptor.accept(tcp).await else {
                                return;
                            };
                            let service = hyper_util::service::TowerToHyperService::new(app);
                            let _ = hyper::server::conn::http2::Builder::new(
                                hyper_util::rt::TokioExecutor::new(),
                            )
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                        });
                    }
                });
                format!("https://{addr}")
            }
        };
        Self {
            base,
            recorder,
            _runtime: runtime,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.recorder.seen.lock().unwrap().clone()
    }

    fn seen_at(&self, fragment: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.contains(fragment))
            .collect()
    }

    fn answer(&self, fragment: &str, status: u16, body: Value) {
        self.recorder
            .answers
            .lock()
            .unwrap()
            .push((fragment.into(), status, body.to_string()));
    }
}

/// A test CA and a certificate for 127.0.0.1 it signed.
struct TestTls {
    root_pem: String,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key_der: Vec<u8>,
}

impl TestTls {
    fn new() -> Self {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        Self {
            root_pem: ca.pem(),
            chain: vec![leaf.der().clone()],
            key_der: leaf_key.serialize_der(),
        }
    }

    // ring is the provider this project builds (no aws-lc); post-quantum key
    // exchange does not matter to a loopback fake.
    #[allow(deprecated)]
    fn server_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(self.key_der.clone().into());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), key)
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

/// Writes `contents` to `dir/name` with `mode`.
fn write_file(dir: &Path, name: &str, contents: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// The service account key file of a fake FCM whose token endpoint is `token_uri`.
fn service_account(dir: &Path, token_uri: &str) -> PathBuf {
    let account = json!({
        "type": "service_account",
        "project_id": "latchkey-test",
        "private_key_id": "0123456789abcdef",
        "private_key": FCM_PRIVATE_KEY,
        "client_email": FCM_EMAIL,
        "token_uri": token_uri,
    });
    write_file(dir, "fcm.json", &account.to_string(), 0o600)
}

/// An APNs `.p8` key (P-256, PKCS#8 PEM) and its public half.
fn apns_key(dir: &Path) -> (PathBuf, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let path = write_file(dir, "AuthKey_KEY1234567.p8", &key.serialize_pem(), 0o600);
    (path, key.public_key_pem())
}

/// A delivery file's text naming every provider, all pointing at the fakes.
fn delivery_file(
    secrets: &Path,
    fcm: &Fake,
    apns: (&Fake, &Path, &Path),
    twilio: &Fake,
    smtp_port: u16,
    smtp_root: &Path,
) -> String {
    let service = service_account(secrets, &format!("{}/token", fcm.base));
    let token = write_file(secrets, "twilio-token", &format!("{TWILIO_TOKEN}\n"), 0o600);
    let password = write_file(secrets, "smtp-password", SMTP_PASSWORD, 0o600);
    let (apns, key, root) = apns;
    format!(
        r#"
[push.fcm]
service_account_file = "{service}"
api_base = "{fcm}"

[push.apns]
key_file = "{key}"
key_id = "KEY1234567"
team_id = "TEAM123456"
topic = "com.example.latchkey"
environment = "sandbox"
api_base = "{apns}"
extra_root_certificate = "{root}"

[sms]
provider = "twilio"
account_sid = "{TWILIO_SID}"
auth_token_file = "{token}"
from = "+15005550006"
api_base = "{twilio}"

[voice]
provider = "twilio"
account_sid = "{TWILIO_SID}"
auth_token_file = "{token}"
from = "+15005550007"
api_base = "{twilio}"

[email]
provider = "smtp"
host = "127.0.0.1"
port = {smtp_port}
username = "latchkey"
password_file = "{password}"
from = "Latchkey <security@example.com>"
extra_root_certificate = "{smtp_root}"
"#,
        service = service.display(),
        fcm = fcm.base,
        key = key.display(),
        apns = apns.base,
        root = root.display(),
        token = token.display(),
        twilio = twilio.base,
        password = password.display(),
        smtp_root = smtp_root.display(),
    )
}

/// What the fake SMTP server saw of one message.
#[derive(Debug, Default, Clone)]
struct Mail {
    commands: Vec<String>,
    tls: bool,
    auth: String,
    data: String,
}

/// A one-connection SMTP server on 127.0.0.1 that requires STARTTLS before
/// `AUTH PLAIN`, then takes one message. Returns its port and what it saw.
fn fake_smtp(tls: Arc<rustls::ServerConfig>) -> (u16, std::sync::mpsc::Receiver<Mail>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, mail_seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut mail = Mail::default();
        tcp.write_all(b"220 fake.smtp ESMTP\r\n").unwrap();
        // In the clear: EHLO, then STARTTLS and nothing else.
        loop {
            let line = read_line(&mut tcp);
            mail.commands.push(line.clone());
            let verb = line.to_ascii_uppercase();
            if verb.starts_with("EHLO") {
                tcp.write_all(b"250-fake.smtp\r\n250 STARTTLS\r\n").unwrap();
            } else if verb.starts_with("STARTTLS") {
                tcp.write_all(b"220 go ahead\r\n").unwrap();
                break;
            } else {
                tcp.write_all(b"530 must issue STARTTLS first\r\n").unwrap();
            }
        }
        let connection = rustls::ServerConnection::new(tls).unwrap();
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        mail.tls = true;
        loop {
            let line = read_line(&mut stream);
            if line.is_empty() {
                break;
            }
            mail.commands.push(line.clone());
            let verb = line.to_ascii_uppercase();
            let reply: &[u8] = if verb.starts_with("EHLO") {
                b"250-fake.smtp\r\n250 AUTH PLAIN LOGIN\r\n"
            } else if verb.starts_with("AUTH PLAIN") {
                mail.auth = line["AUTH PLAIN ".len()..].to_owned();
                b"235 2.7.0 accepted\r\n"
            } else if verb.starts_with("DATA") {
                stream.write_all(b"354 end with .\r\n").unwrap();
                loop {
                    let data = read_line(&mut stream);
                    if data == "." {
                        break;
                    }
                    mail.data.push_str(&data);
                    mail.data.push('\n');
                }
                b"250 2.0.0 queued\r\n"
            } else if verb.starts_with("QUIT") {
                stream.write_all(b"221 bye\r\n").unwrap();
                let _ = stream.flush();
                break;
            } else {
                b"250 ok\r\n"
            };
            stream.write_all(reply).unwrap();
            stream.flush().unwrap();
        }
        let _ = seen.send(mail);
    });
    (port, mail_seen)
}

/// One CRLF-terminated line, without the CRLF ("" at the end of the stream).
fn read_line(stream: &mut impl Read) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stream.read(&mut byte).unwrap_or(0) == 1 {
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    String::from_utf8(line)
        .unwrap()
        .trim_end_matches('\r')
        .to_owned()
}

/// Every fake provider and a development server delivering through them
/// (development mode, because the test phones use the software keystore).
struct Deployment {
    server: Running,
    dir: tempfile::TempDir,
    fcm: Fake,
    /// Kept running: the server's APNs provider points at it.
    _apns: Fake,
    twilio: Fake,
    smtp: std::sync::mpsc::Receiver<Mail>,
    /// The delivery file, the public URL and the PostgreSQL database (if
    /// not SQLite), for a second node.
    delivery: DeliveryConfig,
    public_url: Option<String>,
    database: Option<latchkey_server::store::PostgresUrl>,
    /// The credentials files the delivery file names.
    _secrets: tempfile::TempDir,
}

fn deployment() -> Deployment {
    deployment_with(None)
}

/// A deployment whose server calls itself `public_url` (the address behind
/// which several nodes would stand), or its own address if `None`.
fn deployment_with(public_url: Option<&str>) -> Deployment {
    deployment_on(&TestStore::Sqlite, public_url)
}

/// As [`deployment_with`], the state on `store`.
fn deployment_on(store: &TestStore, public_url: Option<&str>) -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let tls = TestTls::new();
    let root = write_file(secrets.path(), "root.pem", &tls.root_pem, 0o644);
    let fcm = Fake::http();
    let apns = Fake::h2_tls(tls.server_config(&[b"h2"]));
    let twilio = Fake::http();
    let (smtp_port, smtp) = fake_smtp(tls.server_config(&[]));
    let (key, _) = apns_key(secrets.path());
    let text = delivery_file(
        secrets.path(),
        &fcm,
        (&apns, &key, &root),
        &twilio,
        smtp_port,
        &root,
    );
    let delivery = DeliveryConfig::parse(&text).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let public_url = public_url.map(str::to_owned);
    let database = match store {
        TestStore::Sqlite => None,
        TestStore::Postgres(url) => Some(url.clone()),
    };
    let server = start_with(&data, true, |config| {
        config.delivery = Delivery::Providers(Box::new(delivery.clone()));
        config.public_url = public_url.clone();
        config.database = database.clone();
    });
    Deployment {
        server,
        dir,
        fcm,
        _apns: apns,
        twilio,
        smtp,
        delivery,
        public_url,
        database,
        _secrets: secrets,
    }
}

impl Deployment {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A second node: another server on the same data folder and store, with
    /// the same providers and public URL.
    fn second_node(&self) -> Running {
        start_with(&self.data(), true, |config| {
            config.delivery = Delivery::Providers(Box::new(self.delivery.clone()));
            config.public_url = self.public_url.clone();
            config.database = self.database.clone();
        })
    }

    /// Requests to the fake Twilio for `resource` (`Messages`, `Calls`).
    fn twilio_seen(&self, resource: &str) -> Vec<Seen> {
        self.twilio
            .seen_at(&format!("/Accounts/{TWILIO_SID}/{resource}.json"))
    }
}

/// The idempotency keys of the outbox rows on `channel`, oldest first.
fn row_keys(server: &Running, channel: Channel) -> Vec<String> {
    server
        .state
        .store
        .in_transaction(|tx| tx.outbound_after(0, None, 1000))
        .unwrap()
        .into_iter()
        .filter(|row| row.channel == channel)
        .map(|row| row.key)
        .collect()
}

/// The Twilio idempotency header of a request.
const TWILIO_IDEMPOTENCY: &str = "i-twilio-idempotency-token";

/// Checks the basic-auth header Twilio requests carry.
fn assert_twilio_auth(seen: &Seen) {
    use base64::Engine as _;
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"));
    assert_eq!(seen.header("authorization"), format!("Basic {expected}"));
    assert_eq!(
        seen.header("content-type"),
        "application/x-www-form-urlencoded"
    );
}

/// The 13-digit activation code in the newest SMS the fake Twilio got.
fn activation_code(deployment: &Deployment) -> String {
    let sent = deployment.twilio_seen("Messages");
    let body = sent.last().expect("an activation SMS").field("Body");
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 13)
        .unwrap()
        .to_owned()
}

#[test]
fn a_login_push_reaches_the_fake_fcm_with_a_signed_assertion_and_only_the_handle() {
    let deployment = deployment();
    let (server, data) = (&deployment.server, deployment.data());
    add_user(server, &data, "anna", "US");
    // Activation: the code goes by SMS through the fake Twilio.
    let start = integrator_post(
        server,
        &data,
        "/v1/integrator/activations",
        json!({"username": "anna"}),
    );
    assert_eq!(start.status, 201, "{start:?}");
    let sms = deployment.twilio_seen("Messages");
    assert_eq!(sms.len(), 1);
    assert_twilio_auth(&sms[0]);
    assert_eq!(sms[0].field("To"), "+85212345678");
    assert_eq!(sms[0].field("From"), "+15005550006");
    let mut phone = TestPhone::new(server, "anna's phone");
    let request = phone.activation_request(
        server,
        &start.json["ticket"],
        &activation_code(&deployment),
        KeystoreKind::Software,
    );
    let answer = phone_post(server, "/v1/phone/activate", &request);
    assert_eq!(answer.status, 200, "{answer:?}");
    phone.accept_receipt(server, &answer.json);

    // A login: the push goes to FCM.
    let session = open_session(server, &data, "anna");
    assert_eq!(session.json["push"], "sent", "{session:?}");

    // The assertion: RS256 under the service account's key, for the token endpoint.
    let token_requests = deployment.fcm.seen_at("/token");
    assert_eq!(token_requests.len(), 1, "one access token, then cached");
    let grant = &token_requests[0];
    assert_eq!(grant.method, Method::POST);
    assert_eq!(
        grant.field("grant_type"),
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let token_uri = format!("{}/token", deployment.fcm.base);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[token_uri.as_str()]);
    validation.set_issuer(&[FCM_EMAIL]);
    let assertion = jsonwebtoken::decode::<Value>(
        &grant.field("assertion"),
        &jsonwebtoken::DecodingKey::from_rsa_pem(FCM_PUBLIC_KEY.as_bytes()).unwrap(),
        &validation,
    )
    .expect("the assertion verifies under the service account's public key");
    assert_eq!(assertion.header.kid.as_deref(), Some("0123456789abcdef"));
    assert_eq!(
        assertion.claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    let iat = assertion.claims["iat"].as_u64().unwrap();
    assert_eq!(assertion.claims["exp"].as_u64().unwrap(), iat + 3600);

    // The message: data-only, high priority, the opaque handle alone.
    let sends = deployment
        .fcm
        .seen_at("/v1/projects/latchkey-test/messages:send");
    assert_eq!(sends.len(), 1);
    let send = &sends[0];
    assert_eq!(
        send.header("authorization"),
        "Bearer ya29.fake-access-token"
    );
    assert_eq!(send.header("content-type"), "application/json");
    let message = send.json();
    let handle = message["message"]["data"]["request"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        message,
        json!({"message": {"token": "push-token-anna's phone",
                           "data": {"latchkey": "1", "request": handle},
                           "android": {"priority": "high"}}})
    );
    // The handle is the request the phone fetches.
    let request: RequestId = handle.parse().unwrap();
    let fetched = phone_post(
        server,
        "/v1/phone/request",
        &phone.signed(server, &FetchRequest { request }),
    );
    assert_eq!(fetched.status, 200, "{fetched:?}");
    let approved = phone_post(
        server,
        "/v1/phone/approve",
        &phone.approval(
            server,
            request,
            session.json["challenge"].as_str().unwrap(),
            PIN,
        ),
    );
    assert_eq!(approved.json, json!({"outcome": "approved"}));

    // The access token is reused until a minute before it expires, then renewed.
    open_session(server, &data, "anna");
    assert_eq!(deployment.fcm.seen_at("messages:send").len(), 2);
    assert_eq!(deployment.fcm.seen_at("/token").len(), 1);
    server.clock.advance(3600 - 60);
    open_session(server, &data, "anna");
    assert_eq!(deployment.fcm.seen_at("messages:send").len(), 3);
    assert_eq!(deployment.fcm.seen_at("/token").len(), 2);
    assert!(
        !String::from_utf8_lossy(&captured_logs().lock().unwrap()).contains("fake-access-token"),
        "the access token is never logged"
    );
}

#[test]
fn an_sms_code_and_a_voice_call_reach_the_fake_twilio_and_the_call_reads_the_code_only_after_a_keypress()
 {
    let deployment = deployment();
    let (server, data) = (&deployment.server, deployment.data());
    add_sms_user(server, &data, "ravi");
    let session = open_sms(server, &data, "ravi");
    let session = id_of(&session);
    let sms = deployment.twilio_seen("Messages");
    assert_eq!(sms.len(), 1);
    assert_twilio_auth(&sms[0]);
    let text = sms[0].field("Body");
    assert!(text.contains("login security code is"), "{text}");
    let sms_keys = row_keys(server, Channel::Sms);
    assert_eq!(sms_keys.len(), 1);
    assert_eq!(
        sms[0].header(TWILIO_IDEMPOTENCY),
        sms_keys[0],
        "the outbox row's key reaches Twilio as its idempotency token"
    );

    // Two minutes later, a voice call instead.
    server.clock.advance(120);
    let voice = integrator_post(
        server,
        &data,
        &format!("/v1/integrator/sessions/{session}/new-code"),
        json!({"channel": "voice"}),
    );
    assert_eq!(voice.status, 200, "{voice:?}");
    let calls = deployment.twilio_seen("Calls");
    assert_eq!(calls.len(), 1);
    assert_twilio_auth(&calls[0]);
    assert_eq!(calls[0].field("From"), "+15005550007");
    assert_eq!(
        calls[0].header(TWILIO_IDEMPOTENCY),
        row_keys(server, Channel::Voice)[0]
    );
    let twiml = calls[0].field("Twiml");
    // The placed call asks for a key and holds no digit of any code.
    assert!(
        twiml.contains("<Gather numDigits=\"1\""),
        "the prompt waits for one key: {twiml}"
    );
    assert!(twiml.contains("Press any key to hear your security code."));
    let action = twiml
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(
        action.starts_with(&format!("http://{}/v1/voice-calls/", server.addr)),
        "{action}"
    );

    // Twilio's callback after the keypress: signed, it gets the code once.
    let form = vec![
        ("CallSid".to_owned(), "CA0123".to_owned()),
        ("Digits".to_owned(), "5".to_owned()),
    ];
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let callback = |signature: &str| {
        agent()
            .post(&action)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .send(body.as_bytes())
            .unwrap()
    };
    let forged = callback("bm90IGEgc2lnbmF0dXJl");
    assert_eq!(forged.status(), 404, "a forged keypress reads nothing");
    let signature = twilio_signature(TWILIO_TOKEN, &action, &form);
    let mut read = callback(&signature);
    assert_eq!(read.status(), 200);
    assert_eq!(
        read.headers()["content-type"].to_str().unwrap(),
        "application/xml"
    );
    let reading = read.body_mut().read_to_string().unwrap();
    let spoken: String = reading
        .split("is: ")
        .nth(1)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .replace(", ", "");
    assert_eq!(spoken.len(), 6, "{reading}");
    assert!(
        reading.contains(&format!(
            "Again: {}.",
            spoken
                .chars()
                .map(String::from)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        "{reading}"
    );
    let spelled = spoken
        .chars()
        .map(String::from)
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        !twiml.contains(&spoken) && !twiml.contains(&spelled),
        "the placed call holds no code: {twiml}"
    );
    let again = callback(&signature);
    assert_eq!(again.status(), 404, "the code is read once");
    // The code read out logs the user in.
    let answer = submit(server, &data, &session, &spoken);
    assert_eq!(answer.json["status"], "approved", "{answer:?}");
    let logs = String::from_utf8_lossy(&captured_logs().lock().unwrap()).into_owned();
    assert!(
        !logs.contains(TWILIO_TOKEN),
        "the auth token is never logged"
    );
    assert!(
        !logs.contains(&text),
        "the SMS with its code is never logged"
    );
    assert!(
        !logs.contains(&spelled),
        "the code read out is never logged"
    );
    assert!(!logs.contains(&action), "the callback URL is never logged");
}

#[test]
fn an_email_reaches_the_fake_smtp_server_inside_starttls() {
    let deployment = deployment();
    let (server, data) = (&deployment.server, deployment.data());
    add_sms_user(server, &data, "mei");
    let session = id_of(&open_sms(server, &data, "mei"));
    // Five wrong codes suspend SMS logins and tell the user by e-mail.
    for _ in 0..5 {
        submit(server, &data, &session, "000000");
    }
    let mail = deployment
        .smtp
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("an e-mail reached the fake SMTP server");
    assert!(mail.tls);
    let in_clear: Vec<&String> = mail
        .commands
        .iter()
        .take_while(|c| !c.eq_ignore_ascii_case("STARTTLS"))
        .collect();
    assert!(
        in_clear.iter().all(|c| c.starts_with("EHLO")),
        "only EHLO before STARTTLS: {in_clear:?}"
    );
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD
        .decode(mail.auth.trim())
        .unwrap();
    assert_eq!(auth, format!("\0latchkey\0{SMTP_PASSWORD}").as_bytes());
    assert!(
        mail.commands
            .iter()
            .any(|c| c == "MAIL FROM:<security@example.com>")
    );
    assert!(
        mail.commands
            .iter()
            .any(|c| c == "RCPT TO:<mei@example.com>"),
        "{:?}",
        mail.commands
    );
    assert!(mail.data.contains("To: mei@example.com"), "{}", mail.data);
    let mail_keys = row_keys(server, Channel::Email);
    assert_eq!(mail_keys.len(), 1);
    assert!(
        mail.data
            .contains(&format!("Message-ID: <{}@example.com>", mail_keys[0])),
        "the outbox row's key is the Message-ID: {}",
        mail.data
    );
    assert!(mail.data.contains("Subject: "), "{}", mail.data);
}

fn apns_sender(apns: &Fake, root: &Path, key: &Path, clock: Arc<ManualClock>) -> ApnsSender {
    let text = format!(
        r#"[push.apns]
key_file = "{}"
key_id = "KEY1234567"
team_id = "TEAM123456"
topic = "com.example.latchkey"
environment = "sandbox"
api_base = "{}"
extra_root_certificate = "{}""#,
        key.display(),
        apns.base,
        root.display()
    );
    let config = DeliveryConfig::parse(&text).unwrap();
    ApnsSender::load(config.push.apns.as_ref().unwrap(), clock).unwrap()
}

fn ios_push(token: &str) -> PushMessage {
    PushMessage {
        token: token.into(),
        platform: Platform::Ios,
        alert: "Login request".into(),
        payload: json!({"latchkey": "1", "request": "00112233445566778899aabbccddeeff"})
            .to_string(),
    }
}

#[test]
fn a_login_push_reaches_the_fake_apns_over_http2_with_a_fresh_provider_token() {
    let secrets = tempfile::tempdir().unwrap();
    let tls = TestTls::new();
    let root = write_file(secrets.path(), "root.pem", &tls.root_pem, 0o644);
    let apns = Fake::h2_tls(tls.server_config(&[b"h2"]));
    let (key, public_key) = apns_key(secrets.path());
    let clock = Arc::new(ManualClock::new(T0));
    let sender = apns_sender(&apns, &root, &key, clock.clone());
    let device = "a1b2c3d4".repeat(8);
    sender.send(&ios_push(&device)).unwrap();
    let seen = apns.seen();
    assert_eq!(seen.len(), 1);
    let push = &seen[0];
    assert_eq!(push.version, Version::HTTP_2);
    assert_eq!(push.method, Method::POST);
    assert_eq!(push.path, format!("/3/device/{device}"));
    assert_eq!(push.header("apns-id"), "", "no key, no apns-id");
    assert_eq!(push.header("apns-push-type"), "alert");
    assert_eq!(push.header("apns-priority"), "10");
    assert_eq!(push.header("apns-topic"), "com.example.latchkey");
    assert_eq!(
        push.header("apns-collapse-id"),
        "00112233445566778899aabbccddeeff"
    );
    assert_eq!(
        push.json(),
        json!({"aps": {"alert": "Login request", "sound": "default"},
               "latchkey": "1", "request": "00112233445566778899aabbccddeeff"})
    );
    let jwt = push
        .header("authorization")
        .strip_prefix("bearer ")
        .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let token = jsonwebtoken::decode::<Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_ec_pem(public_key.as_bytes()).unwrap(),
        &validation,
    )
    .expect("the provider token verifies under the .p8 key's public half");
    assert_eq!(token.header.kid.as_deref(), Some("KEY1234567"));
    assert_eq!(token.claims, json!({"iss": "TEAM123456", "iat": T0}));

    // Reused for 50 minutes, renewed after.
    clock.advance(49 * 60);
    sender.send(&ios_push(&device)).unwrap();
    clock.advance(60);
    sender.send(&ios_push(&device)).unwrap();
    let tokens: Vec<String> = apns
        .seen()
        .iter()
        .map(|s| s.header("authorization").to_owned())
        .collect();
    assert_eq!(tokens[1], tokens[0]);
    assert_ne!(tokens[2], tokens[0]);

    // Through the router: iOS goes to APNs.
    let router = latchkey_server::delivery::PushRouter::new(None, Some(Arc::new(sender)));
    router.send(&ios_push(&device)).unwrap();
    assert_eq!(apns.seen().len(), 4);
    // The dispatcher's send: the outbox row's key as `apns-id`, a canonical UUID.
    router
        .send_keyed("00ff00ff11ee11ee22dd22dd33cc33cc", &ios_push(&device))
        .unwrap();
    assert_eq!(
        apns.seen()[4].header("apns-id"),
        "00ff00ff-11ee-11ee-22dd-22dd33cc33cc"
    );
    let android = PushMessage {
        platform: Platform::Android,
        ..ios_push("fcm-token")
    };
    assert!(matches!(
        router.send(&android),
        Err(OutboundError::Rejected(_))
    ));
}

#[test]
fn unregistered_tokens_give_the_distinct_error_and_provider_failures_say_whether_to_retry() {
    let secrets = tempfile::tempdir().unwrap();
    let tls = TestTls::new();
    let root = write_file(secrets.path(), "root.pem", &tls.root_pem, 0o644);
    let apns = Fake::h2_tls(tls.server_config(&[b"h2"]));
    let (key, _) = apns_key(secrets.path());
    let clock = Arc::new(ManualClock::new(T0));
    let sender = apns_sender(&apns, &root, &key, clock.clone());
    apns.answer(
        "/3/device/dead",
        410,
        json!({"reason": "Unregistered", "timestamp": 1}),
    );
    apns.answer("/3/device/bad0", 400, json!({"reason": "BadDeviceToken"}));
    apns.answer(
        "/3/device/70",
        400,
        json!({"reason": "DeviceTokenNotForTopic"}),
    );
    apns.answer("/3/device/5e", 503, json!({"reason": "ServiceUnavailable"}));
    apns.answer(
        "/3/device/f0",
        403,
        json!({"reason": "InvalidProviderToken"}),
    );
    assert!(matches!(
        sender.send(&ios_push("deadbeef")),
        Err(OutboundError::Unregistered(_))
    ));
    assert!(matches!(
        sender.send(&ios_push("bad0")),
        Err(OutboundError::Unregistered(_))
    ));
    assert!(matches!(
        sender.send(&ios_push("5e")),
        Err(OutboundError::Unavailable(_))
    ));
    // The configured topic is not the app's: the operator's error, not the token's.
    assert!(matches!(
        sender.send(&ios_push("70")),
        Err(OutboundError::Rejected(_))
    ));
    assert!(matches!(
        sender.send(&ios_push("f0")),
        Err(OutboundError::Credentials(_))
    ));

    // Twilio: a refused number is Rejected, bad credentials need the operator; the
    // error keeps Twilio's code, not its message (which quotes the number).
    let twilio = Fake::http();
    let token = write_file(secrets.path(), "twilio-token", TWILIO_TOKEN, 0o600);
    let config = DeliveryConfig::parse(&format!(
        "[sms]\nprovider = \"twilio\"\naccount_sid = \"{TWILIO_SID}\"\n\
         auth_token_file = \"{}\"\nfrom = \"+15005550006\"\napi_base = \"{}\"",
        token.display(),
        twilio.base
    ))
    .unwrap();
    let sms =
        latchkey_server::delivery::twilio::TwilioSms::load(config.sms.as_ref().unwrap()).unwrap();
    let to: latchkey_server::users::PhoneNumber = "+15005550001".parse().unwrap();
    let text = latchkey_server::outbox::MessageText::plain("hello").unwrap();
    twilio.answer(
        "Messages.json",
        400,
        json!({"code": 21211, "message": "The 'To' number +15005550001 is not a valid phone number.",
               "status": 400}),
    );
    let error = latchkey_server::outbox::SmsSender::send(&sms, &to, &text).unwrap_err();
    assert!(
        matches!(&error, OutboundError::Rejected(t) if t.contains("21211")),
        "{error}"
    );
    assert!(!error.to_string().contains("5550001"), "{error}");
    twilio.recorder.answers.lock().unwrap().clear();
    twilio.answer("Messages.json", 401, json!({"code": 20003, "status": 401}));
    assert!(matches!(
        latchkey_server::outbox::SmsSender::send(&sms, &to, &text),
        Err(OutboundError::Credentials(_))
    ));

    let fcm = Fake::http();
    let account = service_account(secrets.path(), &format!("{}/token", fcm.base));
    let config = DeliveryConfig::parse(&format!(
        "[push.fcm]\nservice_account_file = \"{}\"\napi_base = \"{}\"",
        account.display(),
        fcm.base
    ))
    .unwrap();
    let fcm_sender = FcmSender::load(config.push.fcm.as_ref().unwrap(), clock).unwrap();
    fcm.answer(
        "messages:send",
        404,
        json!({"error": {"code": 404, "status": "NOT_FOUND", "message": "Requested entity was not found.",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                         "errorCode": "UNREGISTERED"}]}}),
    );
    let android = PushMessage {
        platform: Platform::Android,
        ..ios_push("stale-fcm-token")
    };
    let error = fcm_sender.send(&android).unwrap_err();
    assert!(
        matches!(&error, OutboundError::Unregistered(text) if text.contains("UNREGISTERED")),
        "{error}"
    );
    assert!(!error.to_string().contains("stale-fcm-token"));
    // A bare 404 (a wrong project id, a proxy) is refused, not a dead token.
    fcm.recorder.answers.lock().unwrap().clear();
    fcm.answer(
        "messages:send",
        404,
        json!({"error": {"code": 404, "status": "NOT_FOUND"}}),
    );
    assert!(matches!(
        fcm_sender.send(&android),
        Err(OutboundError::Rejected(_))
    ));
}

#[test]
fn a_production_start_without_providers_is_refused_naming_them_before_any_file_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut production = config(&data, false);
    production.delivery = Delivery::Providers(Box::default());
    let error = try_start_with(production).err().unwrap();
    assert!(
        matches!(
            &error,
            ServerError::Delivery(DeliveryError::MissingProviders(_))
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("push (push.fcm or push.apns), sms, voice, email"),
        "{message}"
    );
    assert!(!data.exists(), "nothing was made");

    // SMS-only deployments need no push; e-mail alone is still missing.
    let secrets = tempfile::tempdir().unwrap();
    let token = write_file(secrets.path(), "token", TWILIO_TOKEN, 0o600);
    let twilio = format!(
        "provider = \"twilio\"\naccount_sid = \"{TWILIO_SID}\"\nauth_token_file = \"{}\"\nfrom = \"+15005550006\"\n",
        token.display()
    );
    let text = format!("second_factors = [\"sms\"]\n[sms]\n{twilio}[voice]\n{twilio}");
    let mut production = config(&data, false);
    production.delivery = Delivery::Providers(Box::new(DeliveryConfig::parse(&text).unwrap()));
    let message = try_start_with(production).err().unwrap().to_string();
    assert!(message.contains("for: email;"), "{message}");
}

#[test]
fn a_credentials_file_others_can_read_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let token = write_file(secrets.path(), "twilio-token", TWILIO_TOKEN, 0o644);
    let text = format!(
        "second_factors = []\n[sms]\nprovider = \"twilio\"\naccount_sid = \"{TWILIO_SID}\"\n\
         auth_token_file = \"{}\"\nfrom = \"+15005550006\"\n",
        token.display()
    );
    let mut production = config(dir.path(), false);
    production.delivery = Delivery::Providers(Box::new(DeliveryConfig::parse(&text).unwrap()));
    let message = try_start_with(production).err().unwrap().to_string();
    assert!(
        message.contains(&format!("{} has mode 644", token.display())),
        "{message}"
    );
    assert!(message.contains("chmod 600"), "{message}");
    assert!(!message.contains(TWILIO_TOKEN));
}

#[test]
fn a_production_start_refuses_a_data_folder_or_database_others_can_open() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let production = || {
        let mut config = config(&data, false);
        config.delivery = Delivery::Providers(Box::new(
            DeliveryConfig::parse("second_factors = []").unwrap(),
        ));
        config
    };
    let open_folder = production();
    mode(&data, 0o750);
    let message = try_start_with(open_folder).err().unwrap().to_string();
    assert!(
        message.contains(&format!("{} has mode 750", data.display()))
            && message.contains("chmod 700"),
        "{message}"
    );
    let server = try_start_with(production()).unwrap();
    server.stop();
    let database = data.join("server.db");
    mode(&database, 0o644);
    let message = try_start_with(production()).err().unwrap().to_string();
    assert!(
        message.contains(&format!("{} has mode 644", database.display())),
        "{message}"
    );
    // Development mode does not check (its data folders are throwaway).
    let mut dev = config(&data, true);
    dev.delivery = Delivery::Outbox;
    try_start_with(dev).unwrap().stop();
}

#[test]
fn an_unreachable_provider_is_unavailable_and_the_error_names_no_device_token() {
    let secrets = tempfile::tempdir().unwrap();
    let tls = TestTls::new();
    let root = write_file(secrets.path(), "root.pem", &tls.root_pem, 0o644);
    let (key, _) = apns_key(secrets.path());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = Fake {
        base: format!("https://{}", closed.local_addr().unwrap()),
        recorder: Recorder::default(),
        _runtime: super::runtime(),
    };
    drop(closed);
    let sender = apns_sender(&gone, &root, &key, Arc::new(ManualClock::new(T0)));
    let device = "0badc0de".repeat(8);
    let error = sender.send(&ios_push(&device)).unwrap_err();
    assert!(matches!(error, OutboundError::Unavailable(_)), "{error}");
    assert!(!error.to_string().contains(&device), "{error}");
}

#[test]
fn an_expired_provider_token_is_renewed_once_but_never_within_twenty_minutes() {
    let secrets = tempfile::tempdir().unwrap();
    let tls = TestTls::new();
    let root = write_file(secrets.path(), "root.pem", &tls.root_pem, 0o644);
    let apns = Fake::h2_tls(tls.server_config(&[b"h2"]));
    let (key, _) = apns_key(secrets.path());
    let clock = Arc::new(ManualClock::new(T0));
    let sender = apns_sender(&apns, &root, &key, clock.clone());
    apns.answer("/3/device/", 403, json!({"reason": "ExpiredProviderToken"}));
    let tokens = || -> Vec<String> {
        apns.seen()
            .iter()
            .map(|s| s.header("authorization").to_owned())
            .collect()
    };
    assert!(matches!(
        sender.send(&ios_push("abcd")),
        Err(OutboundError::Credentials(_))
    ));
    let first = tokens();
    assert_eq!(first.len(), 2, "one retry");
    assert_eq!(first[0], first[1], "not renewed within 20 minutes");
    clock.advance(21 * 60);
    assert!(matches!(
        sender.send(&ios_push("abcd")),
        Err(OutboundError::Credentials(_))
    ));
    let later = tokens();
    assert_eq!(later.len(), 4);
    assert_eq!(later[2], first[0], "still the cached token first");
    assert_ne!(later[3], first[0], "renewed after 20 minutes");
}

/// Activates `username` (the SMS code through the fake Twilio) on a test phone
/// whose push token is `push-token-{phone}`.
fn activated_here(deployment: &Deployment, username: &str, phone: &str) -> TestPhone {
    let (server, data) = (&deployment.server, deployment.data());
    add_user(server, &data, username, "US");
    let start = integrator_post(
        server,
        &data,
        "/v1/integrator/activations",
        json!({"username": username}),
    );
    assert_eq!(start.status, 201, "{start:?}");
    let mut phone = TestPhone::new(server, phone);
    let request = phone.activation_request(
        server,
        &start.json["ticket"],
        &activation_code(deployment),
        KeystoreKind::Software,
    );
    let answer = phone_post(server, "/v1/phone/activate", &request);
    assert_eq!(answer.status, 200, "{answer:?}");
    phone.accept_receipt(server, &answer.json);
    phone
}

/// The phone's sync with `token` as its push token; the answer.
fn sync_with_token(phone: &TestPhone, server: &Running, token: &str) -> SyncAnswer {
    let (request, nonce) = phone
        .soft
        .sync_request(Some(token.to_owned()), server.clock.now_for_tests())
        .unwrap();
    let answer = phone_post(server, "/v1/phone/sync", &request);
    assert_eq!(answer.status, 200, "{answer:?}");
    let signed: Signed = serde_json::from_value(answer.json.clone()).unwrap();
    phone.soft.open_sync_answer(&signed, &nonce).unwrap()
}

#[test]
fn a_token_fcm_calls_unregistered_is_reported_to_the_phone_until_it_syncs_a_new_one() {
    let deployment = deployment();
    let (server, data) = (&deployment.server, deployment.data());
    let phone = activated_here(&deployment, "anna", "anna's phone");
    let old_token = "push-token-anna's phone";
    assert!(sync_with_token(&phone, server, old_token).push_registered);

    // FCM: the token is no longer registered (the app was reinstalled).
    deployment.fcm.answer(
        "messages:send",
        404,
        json!({"error": {"code": 404, "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                         "errorCode": "UNREGISTERED"}]}}),
    );
    open_session(server, &data, "anna");
    assert_eq!(deployment.fcm.seen_at("messages:send").len(), 1);
    let push_rows: Vec<_> = server
        .state
        .store
        .in_transaction(|tx| tx.outbound_after(0, None, 100))
        .unwrap()
        .into_iter()
        .filter(|row| row.channel == Channel::Push)
        .collect();
    assert_eq!(push_rows.len(), 1);
    assert_eq!(push_rows[0].state, OutboundState::Dead, "not retried");
    assert!(
        push_rows[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("UNREGISTERED")
    );

    // The phone's sync (what its diagnose runs) with the refused token: not
    // registered, which diagnose reports as "The server has no push registration
    // for this phone".
    assert!(!sync_with_token(&phone, server, old_token).push_registered);
    assert!(
        !sync_with_token(&phone, server, old_token).push_registered,
        "the refused token stays refused however often it is synced"
    );
    // No more pushes to a dead token: the next login goes without one.
    server.clock.advance(200);
    open_session(server, &data, "anna");
    assert_eq!(deployment.fcm.seen_at("messages:send").len(), 1);

    // The platform gave the app a new token; the next sync registers it.
    deployment.fcm.recorder.answers.lock().unwrap().clear();
    let new_token = "push-token-anna's phone, reinstalled";
    assert!(sync_with_token(&phone, server, new_token).push_registered);
    assert!(
        sync_with_token(&phone, server, new_token).push_registered,
        "the mark is cleared"
    );
    server.clock.advance(200);
    open_session(server, &data, "anna");
    let sends = deployment.fcm.seen_at("messages:send");
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[1].json()["message"]["token"], new_token);
}

// Two nodes on one store: SQLite (one file, two servers in this process) and
// PostgreSQL (the multi-node deployment).
on_both_stores! {
    a_voice_keypress_reaching_another_node_reads_the_code_once,
    two_nodes_sending_one_outbox_deliver_each_message_once,
}

fn a_voice_keypress_reaching_another_node_reads_the_code_once(store: &TestStore) {
    let deployment = deployment_on(store, Some("https://auth.example.test"));
    let (node_a, data) = (&deployment.server, deployment.data());
    let node_b = deployment.second_node();
    add_sms_user(node_a, &data, "ravi");
    let session = id_of(&open_sms(node_a, &data, "ravi"));
    node_a.clock.advance(120);
    let voice = integrator_post(
        node_a,
        &data,
        &format!("/v1/integrator/sessions/{session}/new-code"),
        json!({"channel": "voice"}),
    );
    assert_eq!(voice.status, 200, "{voice:?}");
    let calls = deployment.twilio_seen("Calls");
    assert_eq!(calls.len(), 1);
    let twiml = calls[0].field("Twiml");
    let action = twiml
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let path = action
        .strip_prefix("https://auth.example.test")
        .expect("the callback names the public URL")
        .to_owned();
    // What the store keeps of the call (SQLite's files are read here): no call
    // id, no code in clear.
    let call_id = path.split('/').nth(3).unwrap().to_owned();
    let db = std::fs::read(data.join("server.db")).unwrap_or_default();
    let wal = std::fs::read(data.join("server.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes
                .windows(call_id.len())
                .any(|w| w == call_id.as_bytes()),
            "the call id is not stored"
        );
    }

    let form = vec![
        ("CallSid".to_owned(), "CA0456".to_owned()),
        ("Digits".to_owned(), "1".to_owned()),
    ];
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let signature = twilio_signature(TWILIO_TOKEN, &action, &form);
    let keypress = |node: &Running| {
        agent()
            .post(&node.url(&path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", &signature)
            .send(body.as_bytes())
            .unwrap()
    };
    // The callback reaches node B, which did not place the call.
    let mut read = keypress(&node_b);
    assert_eq!(read.status(), 200);
    let reading = read.body_mut().read_to_string().unwrap();
    let spoken: String = reading
        .split("is: ")
        .nth(1)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .replace(", ", "");
    assert_eq!(spoken.len(), 6, "{reading}");
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(6).any(|w| w == spoken.as_bytes()),
            "the waiting code was not in the store in clear"
        );
    }
    // Once, on any node.
    assert_eq!(keypress(node_a).status(), 404);
    assert_eq!(keypress(&node_b).status(), 404);
    let answer = submit(node_a, &data, &session, &spoken);
    assert_eq!(answer.json["status"], "approved", "{answer:?}");
}

#[test]
fn a_voice_call_unanswered_for_five_minutes_reads_nothing() {
    let deployment = deployment();
    let (server, data) = (&deployment.server, deployment.data());
    add_sms_user(server, &data, "ravi");
    let session = id_of(&open_sms(server, &data, "ravi"));
    server.clock.advance(120);
    let voice = integrator_post(
        server,
        &data,
        &format!("/v1/integrator/sessions/{session}/new-code"),
        json!({"channel": "voice"}),
    );
    assert_eq!(voice.status, 200, "{voice:?}");
    let twiml = deployment.twilio_seen("Calls")[0].field("Twiml");
    let action = twiml
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let form = vec![("Digits".to_owned(), "1".to_owned())];
    let signature = twilio_signature(TWILIO_TOKEN, &action, &form);
    server
        .clock
        .advance(latchkey_server::outbox::VOICE_KEYPRESS_WAIT_SECS);
    let late = agent()
        .post(&action)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", &signature)
        .send("Digits=1".as_bytes())
        .unwrap();
    assert_eq!(late.status(), 404, "the wait is over");
}

fn two_nodes_sending_one_outbox_deliver_each_message_once(store: &TestStore) {
    let deployment = deployment_on(store, None);
    let (node_a, data) = (&deployment.server, deployment.data());
    let node_b = deployment.second_node();
    // Twilio is down while ten users ask for codes.
    deployment
        .twilio
        .answer("Messages.json", 503, json!({"code": 20500, "status": 503}));
    let mut sessions = Vec::new();
    for i in 0..10 {
        let name = format!("user{i}");
        add_sms_user(node_a, &data, &name);
        sessions.push(id_of(&open_sms(node_a, &data, &name)));
    }
    let keys = row_keys(node_a, Channel::Sms);
    assert_eq!(keys.len(), 10);
    // Back; both nodes' loops run at once, again and again.
    let refused = deployment.twilio_seen("Messages").len();
    deployment.twilio.recorder.answers.lock().unwrap().clear();
    for _ in 0..20 {
        node_a.clock.advance(5);
        node_b.clock.advance(5);
        let (a, b) = (
            node_a.state.verifier.dispatcher().clone(),
            node_b.state.verifier.dispatcher().clone(),
        );
        std::thread::scope(|scope| {
            let a = scope.spawn(move || a.run_due());
            let b = scope.spawn(move || b.run_due());
            // A pass that meets the other node's write lock leaves its rows to
            // the next pass (their claims lapse); the count below is what matters.
            let _ = a.join().unwrap();
            let _ = b.join().unwrap();
        });
    }
    // The fake provider counts what it accepted (every request since it came
    // back), by idempotency key.
    let mut delivered = std::collections::HashMap::<String, usize>::new();
    for request in &deployment.twilio_seen("Messages")[refused..] {
        *delivered
            .entry(request.header(TWILIO_IDEMPOTENCY).to_owned())
            .or_default() += 1;
    }
    assert_eq!(delivered.len(), 10, "{delivered:?}");
    let rows = node_a
        .state
        .store
        .in_transaction(|tx| tx.outbound_after(0, None, 100))
        .unwrap();
    assert!(
        rows.iter().all(|row| row.state == OutboundState::Sent),
        "{rows:?}"
    );
    for key in &keys {
        assert_eq!(delivered.get(key), Some(&1), "message {key} delivered once");
    }
}

/// Whether `needle` occurs in `haystack` on its own: not inside a longer run of
/// digits (a timestamp in a JSON record may contain any six digits by chance;
/// a code kept in clear stands alone, `"code":"493817"` or in a message text).
fn occurs_alone(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .any(|(at, _)| {
            let before = at.checked_sub(1).map(|i| haystack[i]);
            let after = haystack.get(at + needle.len()).copied();
            !before.is_some_and(|b| b.is_ascii_digit())
                && !after.is_some_and(|b| b.is_ascii_digit())
        })
}

#[test]
fn no_live_code_or_token_is_in_server_db_or_its_wal() {
    let deployment = deployment();
    let (server, data) = (&deployment.server, deployment.data());
    // A phone, then a lost-phone move held for 72 hours: the cancel link goes by e-mail.
    activated_here(&deployment, "anna", "anna's phone");
    let start = super::ceremonies::start_activation(server, &data, "anna", Some("lost_phone"));
    assert_eq!(start.status, 201, "{start:?}");
    let mut new = TestPhone::new(server, "anna's new phone");
    let held = phone_post(
        server,
        "/v1/phone/activate",
        &new.activation_request(
            server,
            &start.json["ticket"],
            &activation_code(&deployment),
            KeystoreKind::Software,
        ),
    );
    assert_eq!(held.json["outcome"], "held", "{held:?}");
    let mail = deployment
        .smtp
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the move's e-mail");
    let unfolded = mail.data.replace("=\n", "");
    let cancel_token = unfolded
        .split("token=")
        .nth(1)
        .expect("a cancel link")
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_owned();
    assert!(cancel_token.len() >= 16, "{cancel_token}");

    // An activation code not used yet.
    add_user(server, &data, "bob", "US");
    let bob = super::ceremonies::start_activation(server, &data, "bob", None);
    assert_eq!(bob.status, 201, "{bob:?}");
    let activation = activation_code(&deployment);

    // A login code by SMS, then one by voice read out after the keypress; both
    // still valid.
    add_sms_user(server, &data, "ravi");
    let session = id_of(&open_sms(server, &data, "ravi"));
    let sms_text = deployment
        .twilio_seen("Messages")
        .last()
        .unwrap()
        .field("Body");
    let sms_code: String = sms_text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    server.clock.advance(120);
    let voice = integrator_post(
        server,
        &data,
        &format!("/v1/integrator/sessions/{session}/new-code"),
        json!({"channel": "voice"}),
    );
    assert_eq!(voice.status, 200, "{voice:?}");
    let twiml = deployment.twilio_seen("Calls")[0].field("Twiml");
    let action = twiml
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    // Before the keypress the code waits in the store: scan now too.
    let scan = |what: &str, secrets: &[(&str, &str)]| {
        let db = std::fs::read(data.join("server.db")).unwrap();
        let wal = std::fs::read(data.join("server.db-wal")).unwrap_or_default();
        // The scan sees the data: the newest user's e-mail address is stored in
        // clear (in the WAL until a checkpoint).
        let known = b"ravi@example.com";
        assert!(
            [&db, &wal]
                .iter()
                .any(|bytes| bytes.windows(known.len()).any(|w| w == known)),
            "the scan reads the committed data"
        );
        for (file, bytes) in [("server.db", &db), ("server.db-wal", &wal)] {
            for (name, secret) in secrets {
                assert!(
                    !occurs_alone(bytes, secret.as_bytes()),
                    "{what}: the {name} is in {file} in clear"
                );
            }
            assert!(
                !bytes
                    .windows(b"security code is".len())
                    .any(|w| w == b"security code is"),
                "{what}: no message text is in {file}"
            );
        }
    };
    scan(
        "before the keypress",
        &[
            ("cancel token", &cancel_token),
            ("activation code", &activation),
            ("SMS code", &sms_code),
        ],
    );
    let form = vec![("Digits".to_owned(), "1".to_owned())];
    let mut read = agent()
        .post(&action)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "X-Twilio-Signature",
            &twilio_signature(TWILIO_TOKEN, &action, &form),
        )
        .send("Digits=1".as_bytes())
        .unwrap();
    assert_eq!(read.status(), 200);
    let reading = read.body_mut().read_to_string().unwrap();
    let voice_code: String = reading
        .split("is: ")
        .nth(1)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .replace(", ", "");
    assert_eq!(voice_code.len(), 6, "{reading}");
    scan(
        "after the keypress",
        &[
            ("cancel token", &cancel_token),
            ("activation code", &activation),
            ("SMS code", &sms_code),
            ("voice code", &voice_code),
        ],
    );
    // The voice code is live: it logs the user in.
    let answer = submit(server, &data, &session, &voice_code);
    assert_eq!(answer.json["status"], "approved", "{answer:?}");
}
