//! The server's JSON bodies: the fuzz bytes as the body of each JSON route of the
//! real router (development mode, a real SQLite store in a temporary folder, one
//! user), driven in-process. Every answer must be a typed 4xx or a success: a 5xx or
//! a panic is a finding.
#![no_main]

use axum::body::Body;
use axum::http::{Request, header};
use latchkey_core::clock::ManualClock;
use latchkey_server::config::ServerConfig;
use latchkey_server::embedded::EmbeddedServer;
use latchkey_server::http::router;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

const ROUTES: [&str; 20] = [
    "/v1/integrator/users",
    "/v1/integrator/activations",
    "/v1/integrator/sessions",
    "/v1/integrator/sessions/000102030405060708090a0b0c0d0e0f/response",
    "/v1/integrator/sessions/000102030405060708090a0b0c0d0e0f/new-code",
    "/v1/integrator/sessions/000102030405060708090a0b0c0d0e0f/code",
    "/v1/integrator/users/anna/phone-number",
    "/v1/integrator/users/anna/password-reset-done",
    "/v1/login/activation",
    "/v1/login/sessions",
    "/v1/login/sessions/000102030405060708090a0b0c0d0e0f/response",
    "/v1/login/account",
    "/v1/phone/activate",
    "/v1/phone/sync",
    "/v1/phone/request",
    "/v1/phone/approve",
    "/v1/phone/proof",
    "/v1/phone/pin",
    "/v1/replacements/cancel",
    "/v1/dev/voice-calls/1/keypress",
];

struct Fixture {
    _dir: tempfile::TempDir,
    server: EmbeddedServer,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let dir = tempfile::tempdir().ok()?;
            let mut config = ServerConfig::new(dir.path().join("data"), "127.0.0.1:0".parse().ok()?);
            config.dev = true;
            config.password_iterations = std::num::NonZeroU32::new(1_000)?;
            let server =
                EmbeddedServer::start(config, Arc::new(ManualClock::new(1_800_000_000))).ok()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let fixture = Fixture {
                _dir: dir,
                server,
                runtime,
            };
            let user = br#"{"username":"anna","phone":"+85291234567","email":"anna@example.com","jurisdiction":"HK","password":"anna long password"}"#;
            send(&fixture, "/v1/integrator/users", user.to_vec());
            Some(fixture)
        })
        .as_ref()
}

fn send(fixture: &Fixture, path: &str, body: Vec<u8>) -> u16 {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", fixture.server.integrator_token()),
        )
        .body(Body::from(body));
    let Ok(request) = request else {
        return 0;
    };
    let app = router(fixture.server.state().clone());
    fixture
        .runtime
        .block_on(app.oneshot(request))
        .map(|response| response.status().as_u16())
        .unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let Some(fixture) = fixture() else {
        return;
    };
    let path = ROUTES[usize::from(which) % ROUTES.len()];
    let status = send(fixture, path, body.to_vec());
    assert!(
        (200..500).contains(&status),
        "{path} answered {status} to a fuzzed body"
    );
});
