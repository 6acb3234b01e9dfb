//! The real `latchkey serve` in production mode (no `--dev`), its delivery file
//! pointing at a fake Twilio on 127.0.0.1, killed with SIGKILL while the fake
//! holds a send open, then restarted on the same folder: every message is
//! delivered exactly once as the fake counts them — deduplicating by the
//! idempotency key, as Twilio does — and none is lost (docs/ARCHITECTURE.md,
//! "dispatch"). The kill is tied to the held request, never to a time.

use super::{Served, serve};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fake Twilio saw and did.
#[derive(Default)]
struct Ledger {
    /// Every `Messages.json` request's idempotency key, in order (resends included).
    requests: Vec<String>,
    /// Messages accepted, by key: a request whose key was accepted before is
    /// answered as the first was and not delivered again.
    delivered: HashMap<String, usize>,
}

/// A fake Twilio: accepts SMS, deduplicating by `I-Twilio-Idempotency-Token`.
/// The first request is held open (accepted, never answered) and announced on
/// `held`; every request is announced on `seen` with its key.
struct FakeTwilio {
    base: String,
    ledger: Arc<Mutex<Ledger>>,
    held: Receiver<String>,
    seen: Receiver<String>,
}

fn fake_twilio() -> FakeTwilio {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let (held_tx, held) = channel();
    let (seen_tx, seen) = channel();
    let shared = ledger.clone();
    std::thread::spawn(move || {
        let mut first = true;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let hold = std::mem::take(&mut first);
            let (ledger, held_tx, seen_tx) = (shared.clone(), held_tx.clone(), seen_tx.clone());
            std::thread::spawn(move || serve_one(stream, hold, &ledger, &held_tx, &seen_tx));
        }
    });
    FakeTwilio {
        base,
        ledger,
        held,
        seen,
    }
}

/// Reads one request; records it; answers 201 unless `hold`.
fn serve_one(
    stream: TcpStream,
    hold: bool,
    ledger: &Mutex<Ledger>,
    held: &Sender<String>,
    seen: &Sender<String>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    let mut key = String::new();
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
            if name.eq_ignore_ascii_case("i-twilio-idempotency-token") {
                value.trim().clone_into(&mut key);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    assert!(request_line.contains("/Messages.json"), "{request_line}");
    assert_eq!(key.len(), 32, "every send carries its key");
    {
        let mut ledger = ledger.lock().unwrap();
        ledger.requests.push(key.clone());
        // Accepted the moment the request is whole, as a provider would.
        let count = ledger.delivered.entry(key.clone()).or_default();
        if *count == 0 {
            *count = 1;
        }
    }
    if hold {
        let _ = held.send(key);
        // Never answered: the server is killed meanwhile; the read ends then.
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        return;
    }
    let answer = r#"{"sid": "SM0123", "status": "queued"}"#;
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.flush();
    let _ = seen.send(key);
}

/// A production delivery file: SMS and voice through the fake, e-mail to a
/// closed port (no step here sends e-mail); credentials owner-only.
fn delivery_file(dir: &Path, twilio: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let secret = |name: &str| {
        let path = dir.join(name);
        std::fs::write(&path, "not-a-real-secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path.display().to_string()
    };
    let token = secret("twilio-token");
    let password = secret("smtp-password");
    let provider = format!(
        "provider = \"twilio\"\naccount_sid = \"AC0123\"\nauth_token_file = \"{token}\"\n\
         from = \"+15005550006\"\napi_base = \"{twilio}\"\n"
    );
    let text = format!(
        "second_factors = [\"sms\"]\n[sms]\n{provider}[voice]\n{provider}[email]\n\
         provider = \"smtp\"\nhost = \"127.0.0.1\"\nport = 9\nusername = \"latchkey\"\n\
         password_file = \"{password}\"\nfrom = \"security@example.com\"\n"
    );
    let path = dir.join("latchkey.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// POSTs JSON with the integrator token; the status, or `None` if the
/// connection ended without an answer.
fn post(address: &str, token: &str, path: &str, body: &serde_json::Value) -> Option<u16> {
    let mut stream = TcpStream::connect(address).unwrap();
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
}

/// Opens an SMS login for `name`; the status, if the server answered.
fn login(address: &str, token: &str, name: &str) -> Option<u16> {
    post(
        address,
        token,
        "/v1/integrator/sessions",
        &serde_json::json!({"username": name, "app": "Client Portal",
            "client": "latchkey login", "origin": "203.0.113.7"}),
    )
}

/// The outbox rows' keys and states, read from `server.db`.
fn rows(data: &Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open_with_flags(
        data.join("server.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut statement = db
        .prepare("SELECT key, state FROM outbound ORDER BY id")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_production_server_killed_mid_send_delivers_every_message_exactly_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let twilio = fake_twilio();
    let config = delivery_file(dir.path(), &twilio.base);
    let args = ["--config", config.to_str().unwrap()];
    let first: Served = serve(&data, &args);
    let token = std::fs::read_to_string(data.join("integrator-token"))
        .unwrap()
        .trim()
        .to_owned();
    for name in ["ravi", "mei"] {
        let status = post(
            &first.address,
            &token,
            "/v1/integrator/users",
            &serde_json::json!({"username": name, "password": "correct horse battery",
                "phone": "+15005550001", "email": format!("{name}@example.com"),
                "jurisdiction": "US", "second_factor": "sms"}),
        );
        assert_eq!(status, Some(201), "adding {name}");
    }
    // Ravi's code: the fake takes the request whole and holds it unanswered.
    let ravi = std::thread::spawn({
        let (address, token) = (first.address.clone(), token.clone());
        move || login(&address, &token, "ravi")
    });
    let held = twilio
        .held
        .recv_timeout(Duration::from_secs(60))
        .expect("the fake holds ravi's SMS");
    // Mei's code goes through meanwhile.
    assert_eq!(login(&first.address, &token, "mei"), Some(201));
    let mei = twilio.seen.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_ne!(mei, held);

    // SIGKILL with ravi's send open: no answer was read, the row stays claimed.
    let mut child = first.child;
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = ravi.join();
    let stopped = rows(&data);
    assert_eq!(stopped.len(), 2, "{stopped:?}");
    assert!(
        stopped.contains(&(held.clone(), "sending".to_owned())),
        "{stopped:?}"
    );

    // Restarted: the killed run's claim is released and the message sent again,
    // with the same key; the fake (as Twilio) drops the duplicate.
    let second = serve(&data, &args);
    let resent = twilio.seen.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(resent, held, "the resend carries the row's key");
    // The row is marked sent right after the fake's answer; wait for that commit.
    let mut settled = rows(&data);
    for _ in 0..500 {
        if settled.iter().all(|(_, state)| state == "sent") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        settled = rows(&data);
    }
    assert!(
        settled.iter().all(|(_, state)| state == "sent"),
        "{settled:?}"
    );
    let ledger = twilio.ledger.lock().unwrap();
    assert_eq!(
        ledger.requests,
        [held.clone(), mei.clone(), held.clone()],
        "ravi's SMS was sent twice (the kill hid the first answer)"
    );
    let mut expected = HashMap::new();
    expected.insert(held, 1);
    expected.insert(mei, 1);
    assert_eq!(
        ledger.delivered, expected,
        "each message delivered exactly once"
    );
    let keys: Vec<String> = settled.into_iter().map(|(key, _)| key).collect();
    assert!(
        keys.iter().all(|key| ledger.delivered.contains_key(key)),
        "no message lost"
    );
    drop(ledger);
    assert_eq!(second.terminate(), 0);
}
