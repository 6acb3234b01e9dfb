//! Crash consistency of the server (docs/SECURITY.md, "Crash consistency"): the
//! real `latchkey serve --dev` as a child process, driven over HTTP by headless
//! phones (`SoftPhone`) and the integrator API through a small loopback relay
//! that counts requests. A seeded generator picks, per round, the request at
//! which the relay SIGKILLs the server — either right after handing the request
//! over (before any answer) or after the server answered (the answer is then
//! dropped: committed, never confirmed). No sleeps: the kill is tied to a
//! request, never to a time.
//!
//! After each kill, while the server is stopped, `server.db` is opened
//! read-only and checked: `PRAGMA integrity_check` is `ok`; no ceremony is half
//! done (a session is undecided or decided with its time and way; an activation
//! ticket is spent exactly when its enrollment exists, and an active enrollment
//! has its receipt and activation time; a pending enrollment is the new phone of
//! exactly one pending move; a cancelled move revoked its new phone; a PIN
//! change spent its rekey ticket exactly when `k_user` changed); the PIN-bound
//! failure counter is never lower than the wrong answers the client saw
//! confirmed, nor higher than the ones it sent. Then the server is restarted on
//! the same folder and what the client could not know is settled the way a user
//! would: the phone's receipt verifies, the activation resent completes, exactly
//! one of the old and new PIN works, the cancel resent is told it is done.

use latchkey_core::encoding::encode_hex;
use latchkey_core::protocol::envelope::open_server;
use latchkey_core::protocol::secrets::{hpke_info, seal_secret};
use latchkey_core::protocol::{
    Challenge, KeystoreKind, PinChange, PinChangeSecret, ProofAction, ProofChallenge, RekeyRequest,
    RekeyTicket, ReplacementId, ServerPublicKey, Signed, SoftPhone,
};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};

/// The generator's seed: the kill points are the same on every run
/// (`LATCHKEY_CRASH_SEED=<u64>` tries another order).
const SEED: u64 = 0x1a7c_4b3e_2026_1205;
/// Kill/restart rounds.
const PIN: &str = "402917";
const NEW_PIN: &str = "731904";
const WRONG_PIN: &str = "958273";

/// SplitMix64: small, seeded, good enough to pick kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// When the relay kills the server at its chosen request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kill {
    /// Right after the request was handed to the server, before any answer.
    BeforeAnswer,
    /// After the server answered; the answer is dropped.
    AfterAnswer,
}

/// What the relay and the test share.
struct Relayed {
    upstream: Mutex<String>,
    /// The server child, killed at the plan's request (and reaped).
    server: Mutex<Option<Child>>,
    /// Or another process the test waits for itself (a `latchkey device`).
    victim: Mutex<Option<u32>>,
    plan: Mutex<Option<Plan>>,
}

impl Relayed {
    fn kill(&self) {
        if let Some(pid) = self.victim.lock().unwrap().take() {
            let killed = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
            assert!(killed.success());
            return;
        }
        if let Some(mut child) = self.server.lock().unwrap().take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

/// Where the relay kills the server: at the `nth` request (from 0) of a route
/// since the plan was made.
#[derive(Clone, Copy, Debug)]
struct Plan {
    route: Route,
    nth: usize,
    how: Kill,
    seen: usize,
}

/// A request route: the request line starts with `.0` and contains `.1`.
type Route = (&'static str, &'static str);

/// Every route that changes the server's state, with how often a round sends it.
const ROUTES: [(Route, usize); 9] = [
    (("POST /v1/integrator/users ", ""), 1),
    (("POST /v1/integrator/activations ", ""), 2),
    (("POST /v1/phone/activate ", ""), 2),
    (("POST /v1/integrator/sessions ", ""), 3),
    (("POST /v1/integrator/sessions/", "/response "), 3),
    (("POST /v1/phone/sync ", ""), 2),
    (("POST /v1/phone/rekey ", ""), 1),
    (("POST /v1/phone/pin ", ""), 1),
    (("POST /v1/phone/proof ", ""), 1),
];

/// The loopback relay every request goes through: one request per connection
/// (`Connection: close`), forwarded, and — at the planned request — the
/// server (or the `latchkey device` waiting for it) killed.
struct Relay {
    address: String,
    shared: Arc<Relayed>,
}

impl Relay {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Relayed {
            upstream: Mutex::new(String::new()),
            server: Mutex::new(None),
            victim: Mutex::new(None),
            plan: Mutex::new(None),
        });
        let relayed = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let relayed = relayed.clone();
                std::thread::spawn(move || relay(client, &relayed));
            }
        });
        Self { address, shared }
    }
}

/// One HTTP/1.1 request from `client`, rewritten to close its connection after
/// the answer (so that the answer ends where the server closes).
fn read_request(client: &mut TcpStream) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = client.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8(bytes[..head_end].to_vec()).ok()?;
    let mut length = 0;
    let mut rewritten = String::new();
    for line in head.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().ok()?;
        }
        if !lower.starts_with("connection:") {
            rewritten.push_str(line);
            rewritten.push_str("\r\n");
        }
    }
    rewritten.push_str("Connection: close\r\n\r\n");
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = client.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&buffer[..n]);
    }
    let mut request = rewritten.into_bytes();
    request.extend_from_slice(&body);
    Some(request)
}

fn relay(mut client: TcpStream, relayed: &Relayed) {
    let Some(request) = read_request(&mut client) else {
        return;
    };
    let line = String::from_utf8_lossy(&request);
    let kill = relayed.plan.lock().unwrap().as_mut().and_then(|plan| {
        let (start, middle) = plan.route;
        if !(line.starts_with(start) && line.lines().next()?.contains(middle)) {
            return None;
        }
        plan.seen += 1;
        (plan.seen == plan.nth + 1).then_some(plan.how)
    });
    let upstream = relayed.upstream.lock().unwrap().clone();
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    if server.write_all(&request).is_err() {
        return;
    }
    if kill == Some(Kill::BeforeAnswer) {
        relayed.kill();
        return;
    }
    let mut answer = Vec::new();
    let _ = server.read_to_end(&mut answer);
    if kill == Some(Kill::AfterAnswer) {
        relayed.kill();
        return;
    }
    let _ = client.write_all(&answer);
}

/// The request got no answer: the server was killed while it was in flight.
#[derive(Debug)]
struct Lost;

/// A phone's clock: the server child reads the wall clock too.
fn now() -> u64 {
    #[allow(clippy::disallowed_methods)] // the phones talk to a server on the wall clock
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// One user's phone and what the test knows of it.
struct Phone {
    soft: SoftPhone,
    username: String,
}

/// The test's side: the relay, the server's data folder and credentials, and
/// what the client saw confirmed.
struct World {
    relay: Relay,
    token: String,
    server_key: ServerPublicKey,
    outbox_after: i64,
}

/// Starts `latchkey serve --dev` on the data folder, behind the relay.
fn start_server(relay: &Relay, data: &Path) {
    let served = super::serve(data, &["--dev"]);
    *relay.shared.upstream.lock().unwrap() = served.address;
    *relay.shared.server.lock().unwrap() = Some(served.child);
}

impl World {
    fn call(
        &self,
        method: &str,
        path: &str,
        bearer: bool,
        body: Option<&Value>,
    ) -> Result<(u16, Value), Lost> {
        let mut stream = TcpStream::connect(&self.relay.address).unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        let auth = if bearer {
            format!("Authorization: Bearer {}\r\n", self.token)
        } else {
            String::new()
        };
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.relay.address,
            body.len()
        )
        .unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8(answer).unwrap();
        let Some((head, json)) = answer.split_once("\r\n\r\n") else {
            return Err(Lost);
        };
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{answer}"));
        Ok((status, serde_json::from_str(json).unwrap_or(Value::Null)))
    }

    fn signed(&self, path: &str, message: &Signed) -> Result<(u16, Value), Lost> {
        let body: Value = serde_json::from_str(&message.to_json()).unwrap();
        self.call("POST", path, false, Some(&body))
    }

    /// The newest 13-digit code in the development outbox.
    fn activation_code(&mut self) -> Result<String, Lost> {
        let mut code = None;
        loop {
            let (_, page) = self.call(
                "GET",
                &format!("/v1/dev/outbox?after={}", self.outbox_after),
                false,
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
            self.outbox_after = last;
        }
        Ok(code.expect("an activation code in the outbox"))
    }

    fn create_user(&self, username: &str) -> Result<(), Lost> {
        let user = json!({ "username": username, "phone": "+14155550100",
            "email": format!("{username}@example.com"), "jurisdiction": "US" });
        let (status, body) = self.call("POST", "/v1/integrator/users", true, Some(&user))?;
        assert_eq!(status, 201, "{body}");
        Ok(())
    }

    /// Starts an activation (or a lost-phone move) and answers its ticket: the
    /// phone's signed activation request, not sent yet.
    fn ticket_answered(&mut self, phone: &mut Phone, replace: bool) -> Result<Signed, Lost> {
        let mut body = json!({ "username": phone.username });
        if replace {
            body["replace"] = json!("lost_phone");
        }
        let (status, start) = self.call("POST", "/v1/integrator/activations", true, Some(&body))?;
        assert_eq!(status, 201, "{start}");
        let code = self.activation_code()?;
        let ticket: Signed = serde_json::from_value(start["ticket"].clone()).unwrap();
        Ok(phone
            .soft
            .answer_ticket(&ticket, &code, PIN, KeystoreKind::Software, None, now())
            .unwrap())
    }

    /// Opens a login session for the account: its id and challenge.
    fn open_session(&self, username: &str) -> Result<(String, Challenge), Lost> {
        let body = json!({ "username": username, "app": "Crash test" });
        let (status, opened) = self.call("POST", "/v1/integrator/sessions", true, Some(&body))?;
        assert_eq!(status, 201, "{opened}");
        Ok((
            opened["session_id"].as_str().unwrap().to_owned(),
            opened["challenge"].as_str().unwrap().parse().unwrap(),
        ))
    }

    /// Submits a typed response; the answer's status and body.
    fn typed(&self, session: &str, response: &str) -> Result<(u16, Value), Lost> {
        self.call(
            "POST",
            &format!("/v1/integrator/sessions/{session}/response"),
            true,
            Some(&json!({ "response": response })),
        )
    }

    /// A sync: the failures the server signed and the proof challenge it handed out.
    fn sync(&self, phone: &SoftPhone) -> Result<(u64, ProofChallenge), Lost> {
        let (request, nonce) = phone.sync_request(None, now()).unwrap();
        let (status, answer) = self.signed("/v1/phone/sync", &request)?;
        assert_eq!(status, 200, "{answer}");
        let answer: Signed = serde_json::from_value(answer).unwrap();
        let answer = phone.open_sync_answer(&answer, &nonce).unwrap();
        Ok((answer.failures, answer.proof.expect("a proof challenge")))
    }
}

/// What the server may hold after a request whose answer never came.
enum InFlight {
    Nothing,
    UserCreated,
    Activation(Signed),
    Login {
        session: String,
        wrong: bool,
    },
    PinChange {
        ticket: String,
        new_pin: &'static str,
    },
    MoveActivation,
    Cancel(ReplacementId),
}

impl InFlight {
    fn name(&self) -> &'static str {
        match self {
            InFlight::Nothing => "nothing that matters",
            InFlight::UserCreated => "user created",
            InFlight::Activation(_) => "activation",
            InFlight::Login { wrong: true, .. } => "wrong typed response",
            InFlight::Login { wrong: false, .. } => "right typed response",
            InFlight::PinChange { .. } => "PIN change",
            InFlight::MoveActivation => "new phone of a lost-phone move",
            InFlight::Cancel(_) => "cancel of a move",
        }
    }
}

/// The long-lived account whose failure counter and PIN are followed.
struct Anna {
    phone: SoftPhone,
    pin: &'static str,
    /// The counter is at least this (confirmed) and at most this (sent).
    failures: (u64, u64),
    /// `k_user_wrapped` at the last stop, and whether a PIN change was
    /// confirmed since.
    k_user_wrapped: Option<String>,
    pin_changed: bool,
}

/// Where a round's load was cut: what was in flight, and the phone it concerns.
type Cut = Box<(InFlight, Option<Phone>)>;

fn cut(what: InFlight, phone: Option<Phone>) -> Cut {
    Box::new((what, phone))
}

/// Sessions whose outcome the client saw: id → status.
type Seen = Vec<(String, &'static str)>;

/// Anna types a wrong response while her counter is surely below 2 (from the
/// 3rd failure a delay refuses attempts, docs/DESIGN.md §5).
fn wrong_login(world: &mut World, anna: &mut Anna, seen: &mut Seen) -> Result<(), Cut> {
    if anna.failures.1 > 1 {
        return Ok(());
    }
    let (session, challenge) = world
        .open_session("anna")
        .map_err(|Lost| cut(InFlight::Nothing, None))?;
    let response = anna.phone.response(&challenge, WRONG_PIN, now()).unwrap();
    anna.failures.1 += 1;
    let (status, body) = world.typed(&session, response.as_str()).map_err(|Lost| {
        let session = session.clone();
        (
            InFlight::Login {
                session,
                wrong: true,
            },
            None,
        )
    })?;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "wrong_response", "{body}");
    anna.failures.0 += 1;
    assert_eq!(
        body["error"]["attempts_left"],
        10 - anna.failures.0,
        "the counter the client sees is the one it expects"
    );
    seen.push((session, "failed"));
    Ok(())
}

/// One round's load, until the request in flight when the server died.
fn load(world: &mut World, anna: &mut Anna, seen: &mut Seen, round: usize) -> Result<(), Cut> {
    let lost = |what| move |Lost| cut(what, None);
    wrong_login(world, anna, seen)?;

    // A new user's activation.
    let username = format!("user{round}");
    world
        .create_user(&username)
        .map_err(lost(InFlight::UserCreated))?;
    let mut phone = Phone {
        soft: SoftPhone::new(world.server_key, &format!("{username}'s phone")).unwrap(),
        username,
    };
    let request = world
        .ticket_answered(&mut phone, false)
        .map_err(lost(InFlight::Nothing))?;
    let answer = world.signed("/v1/phone/activate", &request);
    let Ok((status, receipt)) = answer else {
        return Err(cut(InFlight::Activation(request), Some(phone)));
    };
    assert_eq!(status, 200, "{receipt}");
    phone
        .soft
        .accept_receipt(&serde_json::from_value(receipt).unwrap(), now())
        .unwrap();

    // Anna: a right typed response resets the counter.
    let (session, challenge) = world
        .open_session("anna")
        .map_err(lost(InFlight::Nothing))?;
    let response = anna.phone.response(&challenge, anna.pin, now()).unwrap();
    anna.failures.0 = 0;
    let (status, body) =
        world
            .typed(&session, response.as_str())
            .map_err(lost(InFlight::Login {
                session: session.clone(),
                wrong: false,
            }))?;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("approved")),
        "{body}"
    );
    anna.failures.1 = 0;
    seen.push((session, "approved"));

    // Anna changes her PIN: sync (proof challenge), rekey ticket, the change.
    let (failures, proof) = world.sync(&anna.phone).map_err(lost(InFlight::Nothing))?;
    assert_eq!(failures, 0);
    let rekey = anna
        .phone
        .sign(
            now(),
            &RekeyRequest {
                nonce: latchkey_core::protocol::ids::random_bytes().unwrap(),
            },
        )
        .unwrap();
    let (status, ticket) = world
        .signed("/v1/phone/rekey", &rekey)
        .map_err(lost(InFlight::Nothing))?;
    assert_eq!(status, 200, "{ticket}");
    let ticket = open_server::<RekeyTicket>(
        &serde_json::from_value(ticket).unwrap(),
        &world.server_key,
        &anna.phone.expects(now()),
    )
    .unwrap()
    .into_message();
    let new_pin = if anna.pin == PIN { NEW_PIN } else { PIN };
    let info = hpke_info(
        PinChangeSecret::PURPOSE,
        &ticket.ticket,
        &anna.phone.enrollment(),
    );
    let secret = PinChangeSecret {
        k_user: anna.phone.k_user(new_pin),
    };
    let sealed = seal_secret(&ticket.ticket_key, &info, &secret.to_plaintext()).unwrap();
    let change = PinChange {
        proof: proof.proof,
        response: anna
            .phone
            .response(&proof.challenge, anna.pin, now())
            .unwrap()
            .to_string(),
        ticket: ticket.ticket,
        enc: sealed.enc,
        ciphertext: sealed.ciphertext,
    };
    let change = anna.phone.sign(now(), &change).unwrap();
    let (status, body) =
        world
            .signed("/v1/phone/pin", &change)
            .map_err(lost(InFlight::PinChange {
                ticket: ticket.ticket.to_string(),
                new_pin,
            }))?;
    assert_eq!(
        (status, &body["outcome"]),
        (200, &json!("pin_changed")),
        "{body}"
    );
    anna.pin = new_pin;
    anna.pin_changed = true;

    // The new user's phone is "lost": a move to another phone, held, then
    // cancelled from the old phone with a PIN proof.
    let mut new_phone = Phone {
        soft: SoftPhone::new(world.server_key, "replacement phone").unwrap(),
        username: phone.username.clone(),
    };
    let in_flight = |phone: Phone, what| move |Lost| cut(what, Some(phone));
    let request = match world.ticket_answered(&mut new_phone, true) {
        Ok(request) => request,
        Err(Lost) => return Err(cut(InFlight::Nothing, Some(phone))),
    };
    let answer = world.signed("/v1/phone/activate", &request);
    let Ok((status, held)) = answer else {
        return Err(cut(InFlight::MoveActivation, Some(phone)));
    };
    assert_eq!((status, &held["outcome"]), (202, &json!("held")), "{held}");
    let replacement: ReplacementId = held["replacement"].as_str().unwrap().parse().unwrap();
    let proof = match world.sync(&phone.soft) {
        Ok((_, proof)) => proof,
        Err(Lost) => return Err(cut(InFlight::Nothing, Some(phone))),
    };
    let cancel = phone
        .soft
        .proof(
            &proof,
            ProofAction::CancelReplacement,
            replacement.as_bytes().to_vec(),
            PIN,
            now(),
        )
        .unwrap();
    let (status, body) = world
        .signed("/v1/phone/proof", &cancel)
        .map_err(in_flight(phone, InFlight::Cancel(replacement)))?;
    assert_eq!(status, 200, "{body}");

    wrong_login(world, anna, seen)?;
    Ok(())
}

/// A table's rows: (id as hex, parsed data).
fn rows(db: &rusqlite::Connection, table: &str) -> Vec<(String, Value)> {
    let mut statement = db
        .prepare(&format!("SELECT id, data FROM {table}"))
        .unwrap();
    statement
        .query_map([], |row| {
            let id: Vec<u8> = row.get(0)?;
            let data: String = row.get(1)?;
            Ok((encode_hex(&id), serde_json::from_str(&data).unwrap()))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The checks on the stopped server's database, read-only.
fn check_stopped(data: &Path, anna: &mut Anna, seen: &Seen, in_flight: &InFlight) {
    let db = rusqlite::Connection::open_with_flags(
        data.join("server.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");

    let enrollments = rows(&db, "enrollments");
    let tickets = rows(&db, "tickets");
    let replacements = rows(&db, "replacements");
    let sessions = rows(&db, "sessions");
    let enrollment = |id: &str| {
        enrollments
            .iter()
            .find(|(e, _)| e == id)
            .map(|(_, data)| data)
    };

    // Sessions: undecided, or decided with its time and its way.
    for (id, s) in &sessions {
        let pending = s["status"] == "pending";
        assert_eq!(pending, s["decided_at"].is_null(), "session {id}: {s}");
        assert_eq!(pending, s["decided_by"].is_null(), "session {id}: {s}");
    }
    for (id, status) in seen {
        let (_, s) = sessions.iter().find(|(s, _)| s == id).unwrap();
        assert_eq!(s["status"], *status, "a confirmed outcome survives: {s}");
    }
    if let InFlight::Login { session, wrong } = in_flight {
        if let Some((_, s)) = sessions.iter().find(|(s, _)| s == session) {
            let decided = if *wrong { "failed" } else { "approved" };
            assert!(
                s["status"] == "pending" || s["status"] == decided,
                "the login in flight is undecided or decided as sent: {s}"
            );
        }
    }

    // Activations: a spent activation ticket has its enrollment, an open one
    // none; an active enrollment has its receipt, time and epoch.
    for (id, t) in &tickets {
        let made = enrollment(t["enrollment"].as_str().unwrap());
        match (t["kind"].as_str().unwrap(), t["status"].as_str().unwrap()) {
            ("activation", "spent") => assert!(made.is_some(), "ticket {id} spent, no phone"),
            ("activation", _) => assert!(made.is_none(), "ticket {id} open with a phone"),
            (_, "spent") => assert!(t["secret_wrapped"].is_null(), "{t}"),
            _ => {}
        }
    }
    for (id, e) in &enrollments {
        match e["status"].as_str().unwrap() {
            "active" => {
                assert!(!e["activated_at"].is_null(), "{id}: {e}");
                assert!(e["epoch"].as_u64().unwrap() >= 1, "{id}: {e}");
            }
            "pending" => {
                assert_eq!(e["epoch"], 0, "{id}: {e}");
                assert!(e["receipt"].is_null(), "{id}: {e}");
                let moves = replacements
                    .iter()
                    .filter(|(_, r)| r["status"] == "pending" && r["new_enrollment"] == *id)
                    .count();
                assert_eq!(moves, 1, "pending phone {id} is the new phone of one move");
            }
            "revoked" => assert!(!e["revoked_at"].is_null(), "{id}: {e}"),
            _ => {}
        }
    }
    // Moves: pending with a pending new phone; cancelled with it revoked.
    for (id, r) in &replacements {
        let new = enrollment(r["new_enrollment"].as_str().unwrap()).unwrap();
        match r["status"].as_str().unwrap() {
            "pending" => {
                assert!(r["ended_at"].is_null(), "{id}: {r}");
                assert_eq!(new["status"], "pending", "move {id}: {new}");
            }
            "cancelled" => {
                assert!(!r["ended_at"].is_null(), "{id}: {r}");
                assert_eq!(new["status"], "revoked", "move {id}: {new}");
            }
            other => panic!("move {id} {other}: no move completes within a test"),
        }
    }

    // Anna's counter: never lower than confirmed, never higher than sent.
    let own = encode_hex(anna.phone.enrollment().as_bytes());
    let e = enrollment(&own).unwrap();
    let failures = e["failures"].as_u64().unwrap();
    assert!(
        (anna.failures.0..=anna.failures.1).contains(&failures),
        "failures {failures} outside {:?}",
        anna.failures
    );
    anna.failures = (failures, failures);
    // Her PIN change: k_user changed exactly when the rekey ticket was spent.
    let wrapped = e["k_user_wrapped"].as_str().unwrap().to_owned();
    let changed = anna.k_user_wrapped.as_ref() != Some(&wrapped);
    match in_flight {
        _ if anna.k_user_wrapped.is_none() => {}
        InFlight::PinChange { ticket, .. } => {
            let spent = tickets
                .iter()
                .find(|(id, _)| id == ticket)
                .is_some_and(|(_, t)| t["status"] == "spent");
            assert_eq!(
                changed, spent,
                "k_user changed iff the rekey ticket was spent"
            );
        }
        _ => assert_eq!(
            changed, anna.pin_changed,
            "k_user changes only with a PIN change"
        ),
    }
    anna.k_user_wrapped = Some(wrapped);
    anna.pin_changed = false;
}

/// After the restart: what the client could not know, settled as a user would.
fn settle(
    world: &mut World,
    anna: &mut Anna,
    seen: &mut Seen,
    in_flight: InFlight,
    phone: Option<Phone>,
) {
    match in_flight {
        InFlight::Nothing | InFlight::UserCreated | InFlight::MoveActivation => {}
        InFlight::Activation(request) => {
            // Whether it was committed or not, the phone sending its request
            // again gets its receipt: the activation completes exactly once.
            let mut phone = phone.unwrap();
            let (status, receipt) = world.signed("/v1/phone/activate", &request).unwrap();
            assert_eq!(status, 200, "{receipt}");
            phone
                .soft
                .accept_receipt(&serde_json::from_value(receipt).unwrap(), now())
                .unwrap();
            assert_eq!(phone.soft.epoch(), 1);
            let (failures, _) = world.sync(&phone.soft).unwrap();
            assert_eq!(failures, 0);
        }
        InFlight::Login { session, wrong } => {
            let (_, body) = world
                .call(
                    "GET",
                    &format!("/v1/integrator/sessions/{session}"),
                    true,
                    None,
                )
                .unwrap();
            let status = body["status"].as_str().unwrap_or_default();
            let decided = if wrong { "failed" } else { "approved" };
            assert!(status == "pending" || status == decided, "{body}");
            if status == decided {
                seen.push((session, if wrong { "failed" } else { "approved" }));
            }
        }
        InFlight::PinChange { new_pin, .. } => {
            // Exactly one of the two PINs works (the counter is 0 here, so one
            // wrong try cannot reach a delay).
            let (session, challenge) = world.open_session("anna").unwrap();
            let response = anna.phone.response(&challenge, new_pin, now()).unwrap();
            let (status, body) = world.typed(&session, response.as_str()).unwrap();
            if status == 200 {
                seen.push((session, "approved"));
                anna.pin = new_pin;
            } else {
                assert_eq!(body["error"]["code"], "wrong_response", "{body}");
                seen.push((session, "failed"));
                let (session, challenge) = world.open_session("anna").unwrap();
                let response = anna.phone.response(&challenge, anna.pin, now()).unwrap();
                let (status, body) = world.typed(&session, response.as_str()).unwrap();
                assert_eq!(
                    (status, &body["status"]),
                    (200, &json!("approved")),
                    "{body}"
                );
                seen.push((session, "approved"));
            }
            anna.failures = (0, 0);
        }
        InFlight::Cancel(replacement) => {
            let phone = phone.unwrap();
            let (_, proof) = world.sync(&phone.soft).unwrap();
            let cancel = phone
                .soft
                .proof(
                    &proof,
                    ProofAction::CancelReplacement,
                    replacement.as_bytes().to_vec(),
                    PIN,
                    now(),
                )
                .unwrap();
            let (status, body) = world.signed("/v1/phone/proof", &cancel).unwrap();
            assert!(
                status == 200 || body["error"]["code"] == "replacement_ended",
                "cancelled now, or told it already was: {status} {body}"
            );
        }
    }
    // The counter the phone is shown agrees with the stored one.
    let (failures, _) = world.sync(&anna.phone).unwrap();
    assert_eq!((failures, failures), anna.failures);
}

#[test]
fn a_server_killed_at_seeded_points_of_a_load_restarts_with_every_ceremony_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let relay = Relay::start();
    start_server(&relay, &data);
    let profile = latchkey_core::protocol::ServerProfile::from_json(
        &std::fs::read_to_string(data.join("server-profile.json")).unwrap(),
    )
    .unwrap();
    let mut world = World {
        relay,
        token: std::fs::read_to_string(data.join("integrator-token"))
            .unwrap()
            .trim()
            .to_owned(),
        server_key: *profile.public_key(),
        outbox_after: 0,
    };

    // Anna, activated before any kill.
    world.create_user("anna").unwrap();
    let mut phone = Phone {
        soft: SoftPhone::new(world.server_key, "anna's phone").unwrap(),
        username: "anna".into(),
    };
    let request = world.ticket_answered(&mut phone, false).unwrap();
    let (status, receipt) = world.signed("/v1/phone/activate", &request).unwrap();
    assert_eq!(status, 200, "{receipt}");
    phone
        .soft
        .accept_receipt(&serde_json::from_value(receipt).unwrap(), now())
        .unwrap();
    let mut anna = Anna {
        phone: phone.soft,
        pin: PIN,
        failures: (0, 0),
        k_user_wrapped: None,
        pin_changed: false,
    };
    let mut seen = Seen::new();

    let seed = std::env::var("LATCHKEY_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let mut rng = Rng(seed);
    let mut kinds = Vec::new();
    // Every request of a round that changes state, killed once before and once
    // after its answer, in an order the seeded generator draws (so each kill
    // meets another history: counter, PIN, accounts).
    let mut plans = Vec::new();
    for how in [Kill::BeforeAnswer, Kill::AfterAnswer] {
        for (route, count) in ROUTES {
            for nth in 0..count {
                plans.push(Plan {
                    route,
                    nth,
                    how,
                    seen: 0,
                });
            }
        }
    }
    for i in (1..plans.len()).rev() {
        plans.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for (round, plan) in plans.into_iter().enumerate() {
        *world.relay.shared.plan.lock().unwrap() = Some(plan);
        let (in_flight, phone) = match load(&mut world, &mut anna, &mut seen, round) {
            Ok(()) => {
                // The kill point lay beyond this round's load: kill it idle.
                world.relay.shared.kill();
                (InFlight::Nothing, None)
            }
            Err(cut) => *cut,
        };
        assert!(
            world.relay.shared.server.lock().unwrap().is_none(),
            "the server was killed"
        );
        *world.relay.shared.plan.lock().unwrap() = None;
        kinds.push((plan.how, in_flight.name()));
        check_stopped(&data, &mut anna, &seen, &in_flight);
        start_server(&world.relay, &data);
        settle(&mut world, &mut anna, &mut seen, in_flight, phone);
    }
    // Every ceremony was in flight at a kill, answered and unanswered.
    for how in [Kill::BeforeAnswer, Kill::AfterAnswer] {
        for name in [
            "activation",
            "wrong typed response",
            "right typed response",
            "PIN change",
            "new phone of a lost-phone move",
            "cancel of a move",
        ] {
            assert!(kinds.contains(&(how, name)), "{how:?} {name}: {kinds:?}");
        }
    }
    world.relay.shared.kill();
}

/// Runs `latchkey device --home <home> <args>` with `stdin`; with `killed_at`,
/// the relay SIGKILLs it once the server answered that route (the answer never
/// reaches it). Returns the exit code (`None`: killed) and stdout.
fn device(
    relay: &Relay,
    home: &Path,
    args: &[&str],
    stdin: &str,
    killed_at: Option<Route>,
) -> (Option<i32>, String, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("device")
        .arg("--home")
        .arg(home)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(route) = killed_at {
        *relay.shared.victim.lock().unwrap() = Some(child.id());
        *relay.shared.plan.lock().unwrap() = Some(Plan {
            route,
            nth: 0,
            how: Kill::AfterAnswer,
            seen: 0,
        });
    }
    // The PINs only now: nothing is sent before the relay knows its victim.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    *relay.shared.plan.lock().unwrap() = None;
    *relay.shared.victim.lock().unwrap() = None;
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The phone's store, read-only: integrity, and whether a biometric copy is kept.
fn phone_store(home: &Path) -> bool {
    let db = rusqlite::Connection::open_with_flags(
        home.join("latchkey.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let (alias, sealed): (Option<String>, Option<Vec<u8>>) = db
        .query_row(
            "SELECT biometric_key_alias, sealed_biometric_k_user FROM account",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        alias.is_some(),
        sealed.is_some(),
        "a biometric copy is whole or absent"
    );
    sealed.is_some()
}

#[test]
fn a_phone_killed_inside_a_pin_change_keeps_the_old_state_or_the_new_never_a_stale_copy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let home = dir.path().join("phone");
    let relay = Relay::start();
    // The server stays up; its profile sends the phone through the relay.
    let served = super::serve(
        &data,
        &[
            "--dev",
            "--public-url",
            &format!("http://{}", relay.address),
        ],
    );
    *relay.shared.upstream.lock().unwrap() = served.address.clone();
    let profile = latchkey_core::protocol::ServerProfile::from_json(
        &std::fs::read_to_string(data.join("server-profile.json")).unwrap(),
    )
    .unwrap();
    let mut world = World {
        relay,
        token: std::fs::read_to_string(data.join("integrator-token"))
            .unwrap()
            .trim()
            .to_owned(),
        server_key: *profile.public_key(),
        outbox_after: 0,
    };
    world.create_user("anna").unwrap();
    let (status, start) = world
        .call(
            "POST",
            "/v1/integrator/activations",
            true,
            Some(&json!({ "username": "anna" })),
        )
        .unwrap();
    assert_eq!(status, 201, "{start}");
    let ticket = dir.path().join("ticket.json");
    std::fs::write(&ticket, start["ticket"].to_string()).unwrap();
    let code = world.activation_code().unwrap();
    let profile_file = data.join("server-profile.json");
    let activate = [
        "activate",
        "--profile",
        profile_file.to_str().unwrap(),
        "--ticket",
        ticket.to_str().unwrap(),
        "--code",
        &code,
    ];
    let (status, _, stderr) = device(&world.relay, &home, &activate, "402917\n402917\n", None);
    assert_eq!(status, Some(0), "{stderr}");
    let (status, _, stderr) = device(&world.relay, &home, &["biometric", "on"], "402917\n", None);
    assert_eq!(status, Some(0), "{stderr}");
    assert!(phone_store(&home));

    // The phone's answer (PIN or fingerprint) logs anna in, or not.
    let logs_in = |world: &World, unlock: &[&str], pin: &str| {
        let (session, challenge) = world.open_session("anna").unwrap();
        let challenge = challenge.to_string();
        let mut args = vec!["respond", "--challenge", challenge.as_str()];
        args.extend_from_slice(unlock);
        let (status, stdout, stderr) = device(&world.relay, &home, &args, pin, None);
        if status != Some(0) {
            return Err(stderr);
        }
        let (status, body) = world.typed(&session, stdout.trim()).unwrap();
        Ok(status == 200 && body["status"] == "approved")
    };

    // Killed once the server handed out the rekey ticket: the old state — the
    // old PIN and the fingerprint still log in.
    let change = ["change-pin"];
    let pins = "402917\n731904\n731904\n";
    let rekey = ("POST /v1/phone/rekey ", "");
    let (status, _, _) = device(&world.relay, &home, &change, pins, Some(rekey));
    assert_eq!(status, None, "killed");
    assert!(
        phone_store(&home),
        "the copy was not touched before the change was sent"
    );
    assert_eq!(logs_in(&world, &["--biometric"], ""), Ok(true));
    assert_eq!(logs_in(&world, &[], "402917\n"), Ok(true));

    // Killed once the server swapped k_user, before the phone heard: the new
    // state — the new PIN logs in, and no copy of the old k_user is left to
    // give wrong, counted answers (biometrics are off until turned on again).
    let pin = ("POST /v1/phone/pin ", "");
    let (status, _, _) = device(&world.relay, &home, &change, pins, Some(pin));
    assert_eq!(status, None, "killed");
    assert!(!phone_store(&home), "no stale biometric copy");
    let refused = logs_in(&world, &["--biometric"], "").unwrap_err();
    assert!(refused.contains("not enabled"), "{refused}");
    assert_eq!(logs_in(&world, &[], "731904\n"), Ok(true));
    let (status, _, stderr) = device(&world.relay, &home, &["biometric", "on"], "731904\n", None);
    assert_eq!(status, Some(0), "{stderr}");
    assert_eq!(logs_in(&world, &["--biometric"], ""), Ok(true));
    let mut server = served.child;
    server.kill().unwrap();
    server.wait().unwrap();
}
