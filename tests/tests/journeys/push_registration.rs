//! A push token the push service no longer accepts, end to end: the real phone
//! core against the real server, whose FCM provider is a fake on 127.0.0.1.
//! FCM answers 404 `UNREGISTERED` → the server marks the phone's push
//! registration invalid → the phone's diagnose reports it with its fix → the
//! phone syncs the new token the platform gave it → the finding is gone and
//! pushes reach the new token (docs/PROTOCOL.md §6.4).

use latchkey_core::device::FindingKind;
use latchkey_journeys::journeys;
use latchkey_journeys::{Transcript, World};
use latchkey_server::config::Delivery;
use latchkey_server::delivery::config::DeliveryConfig;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// The test service account's RSA key (the server tests' fixture).
const FCM_PRIVATE_KEY: &str =
    include_str!("../../../server/tests/server/fixtures/fcm-test-key.pem");

/// A fake FCM: its OAuth2 token endpoint, and `messages:send`, which answers
/// 404 `UNREGISTERED` for the tokens in `dead` and records the others.
#[derive(Clone, Default)]
struct FakeFcm {
    dead: Arc<Mutex<Vec<String>>>,
    delivered: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<Vec<String>>>,
}

impl FakeFcm {
    /// Serves on 127.0.0.1; returns its base URL.
    fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fake = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let fake = fake.clone();
                std::thread::spawn(move || fake.serve(stream));
            }
        });
        base
    }

    /// One request per connection (the answer closes it).
    fn serve(&self, stream: std::net::TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        let (status, answer) = if path.ends_with("/token") {
            (
                "200 OK",
                serde_json::json!({"access_token": "fake-access", "expires_in": 3600}),
            )
        } else {
            let message: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let token = message["message"]["token"].as_str().unwrap().to_owned();
            if self.dead.lock().unwrap().contains(&token) {
                self.refused.lock().unwrap().push(token);
                (
                    "404 Not Found",
                    serde_json::json!({"error": {"code": 404, "status": "NOT_FOUND",
                        "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                     "errorCode": "UNREGISTERED"}]}}),
                )
            } else {
                self.delivered.lock().unwrap().push(token);
                (
                    "200 OK",
                    serde_json::json!({"name": "projects/latchkey-test/messages/1"}),
                )
            }
        };
        let answer = answer.to_string();
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{answer}",
            answer.len()
        );
        let _ = stream.flush();
    }
}

#[test]
fn a_push_token_fcm_calls_unregistered_shows_in_diagnose_until_the_phone_syncs_a_new_one() {
    let fcm = FakeFcm::default();
    let base = fcm.start();
    let secrets = latchkey_journeys::scratch::ScratchDir::new().unwrap();
    let account_file = secrets.path().join("fcm.json");
    std::fs::write(
        &account_file,
        serde_json::json!({
            "type": "service_account",
            "project_id": "latchkey-test",
            "private_key_id": "0123456789abcdef",
            "private_key": FCM_PRIVATE_KEY,
            "client_email": "latchkey@latchkey-test.iam.gserviceaccount.com",
            "token_uri": format!("{base}/token"),
        })
        .to_string(),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&account_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let delivery = DeliveryConfig::parse(&format!(
        "[push.fcm]\nservice_account_file = \"{}\"\napi_base = \"{base}\"",
        account_file.display()
    ))
    .unwrap();
    // Development mode (the phone's software keystore); push goes to the fake
    // FCM, the other channels to the recording outbox.
    let world = World::start_with(|config| {
        config.delivery = Delivery::Providers(Box::new(delivery));
    })
    .unwrap();
    let mut phone =
        journeys::activation(&world, &Transcript::quiet(), "anna", "US", "anna's phone").unwrap();
    let account = phone.account("anna").unwrap();
    let findings = |phone: &latchkey_journeys::Phone| {
        phone
            .authenticator
            .diagnose(account, true, Some(phone.push_token.clone()))
            .unwrap()
    };
    assert!(
        findings(&phone).is_empty(),
        "healthy: {:?}",
        findings(&phone)
    );

    // The app was reinstalled: FCM no longer knows the old token.
    fcm.dead.lock().unwrap().push(phone.push_token.clone());
    world.open_session("anna", "Client Portal").unwrap();
    assert_eq!(*fcm.refused.lock().unwrap(), [phone.push_token.clone()]);

    // The phone's diagnose (which syncs with the token the phone has) reports it.
    let found = findings(&phone);
    let finding = found
        .iter()
        .find(|f| f.kind == FindingKind::TokenNotRegistered)
        .unwrap_or_else(|| panic!("no push-registration finding in {found:?}"));
    assert_eq!(
        finding.text,
        "The server has no push registration for this phone."
    );
    assert!(finding.step.contains("register again"), "{finding:?}");

    // The platform hands the app a new token; the next sync registers it.
    phone.push_token = "fcm-token-of-anna's phone, reinstalled".into();
    let report = phone.sync("anna").unwrap();
    assert!(report.push_registered);
    assert!(
        findings(&phone).is_empty(),
        "the finding is gone: {:?}",
        findings(&phone)
    );
    world.advance(200);
    world.open_session("anna", "Client Portal").unwrap();
    assert_eq!(
        *fcm.delivered.lock().unwrap(),
        [phone.push_token.clone()],
        "the next login's push reaches the new token"
    );
}
