//! The HTTP layer under attack (issue 13): idle and slowly trickled connections,
//! password guessing at the reference login, one API's sessions reached through
//! the other's routes, and the e-mail's cancel link opened in a mail client.
//!
//! Connection timeouts are real timers of the server, set to a fraction of a
//! second here; everything else runs on the server's `ManualClock`.

use super::ceremonies::{
    PIN, TestPhone, activated, failures_of, last_code, open_session, outbox_bodies, phone_post,
    start_activation,
};
use super::{Answer, Running, T0, agent, start, start_with, token_in};
use latchkey_core::protocol::KeystoreKind;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

/// An agent that gives up after 30 s instead of hanging a broken test.
fn patient_agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    )
}

/// Reads until the server closes the connection; panics if it stays open for
/// 10 s. Returns what was read.
fn read_until_closed(socket: &mut TcpStream) -> String {
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut read = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match socket.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => read.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(error) => panic!("the server kept the connection open: {error}"),
        }
    }
    String::from_utf8_lossy(&read).into_owned()
}

#[test]
fn five_hundred_idle_connections_neither_stop_health_answering_nor_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), false, |config| {
        config.connections.max_connections = 64;
        config.connections.idle_timeout = Duration::from_millis(200);
        config.connections.header_read_timeout = Duration::from_millis(200);
    });
    // 500 client sockets plus at most 64 accepted ones stay well under the usual
    // limit of 1024 descriptors.
    let mut idle: Vec<TcpStream> = (0..500)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();

    let health = Answer::from(
        patient_agent()
            .get(&server.url("/v1/health"))
            .call()
            .unwrap(),
    );
    assert_eq!(health.status, 200);
    assert_eq!(health.json["status"], "ok");
    for socket in &mut idle {
        assert_eq!(read_until_closed(socket), "");
    }
    server.stop();
}

/// Sends a keep-alive `GET /v1/health` and reads its answer, leaving the
/// connection open.
fn health_on(socket: &mut TcpStream) -> String {
    socket
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).ends_with('}') {
        let n = socket.read(&mut buffer).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn at_the_connection_cap_a_new_client_waits_until_a_connection_ends() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), false, |config| {
        config.connections.max_connections = 2;
    });
    let mut first = TcpStream::connect(server.addr).unwrap();
    let mut second = TcpStream::connect(server.addr).unwrap();
    assert!(health_on(&mut first).starts_with("HTTP/1.1 200"));
    assert!(health_on(&mut second).starts_with("HTTP/1.1 200"));

    // Both slots are held by idle keep-alive connections: a third is not served…
    let mut third = TcpStream::connect(server.addr).unwrap();
    third
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buffer = [0u8; 1024];
    let waiting = third.read(&mut buffer);
    assert!(
        matches!(&waiting, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "{waiting:?}"
    );
    // …until one of them ends.
    drop(first);
    let answer = read_until_closed_or(&mut third, '}');
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(health_on(&mut second).starts_with("HTTP/1.1 200"));
    drop((second, third));
    server.stop();
}

/// Reads until the text ends with `last` (or the connection closes).
fn read_until_closed_or(socket: &mut TcpStream, last: char) -> String {
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut read = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&read).ends_with(last) {
        match socket.read(&mut buffer).unwrap() {
            0 => break,
            n => read.extend_from_slice(&buffer[..n]),
        }
    }
    String::from_utf8_lossy(&read).into_owned()
}

#[test]
fn a_slowly_trickled_request_head_is_cut_off_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), false, |config| {
        config.connections.header_read_timeout = Duration::from_millis(300);
    });
    let mut socket = TcpStream::connect(server.addr).unwrap();
    socket
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    // The idle timeout is a minute: only the header timeout can close it this soon.
    assert!(!read_until_closed(&mut socket).contains("200 OK"));
    // The server still answers others.
    assert_eq!(server.get("/v1/health", None).status, 200);
    server.stop();
}

#[test]
fn a_request_body_that_does_not_arrive_in_time_is_answered_408() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), true, |config| {
        config.connections.body_read_timeout = Duration::from_millis(300);
    });
    let mut socket = TcpStream::connect(server.addr).unwrap();
    socket
        .write_all(
            b"POST /v1/login/account HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\": ",
        )
        .unwrap();
    let answer = read_until_closed(&mut socket);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"body_timeout\""), "{answer}");
    server.stop();
}

#[test]
fn a_long_poll_outlives_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), true, |config| {
        config.connections.idle_timeout = Duration::from_millis(200);
        config.connections.header_read_timeout = Duration::from_millis(200);
    });
    super::ceremonies::add_user(&server, dir.path(), "alice", "US");
    let session = open_session(&server, dir.path(), "alice");
    let id = session.json["session_id"].as_str().unwrap();
    let polled = Answer::from(
        patient_agent()
            .get(&server.url(&format!("/v1/integrator/sessions/{id}?wait=1")))
            .header("Authorization", &format!("Bearer {}", token_in(dir.path())))
            .call()
            .unwrap(),
    );
    assert_eq!(polled.status, 200, "{polled:?}");
    assert_eq!(polled.json["status"], "pending");
    server.stop();
}

fn login_account(server: &Running, username: &str, password: &str) -> Answer {
    server.post(
        "/v1/login/account",
        None,
        "application/json",
        json!({ "username": username, "password": password })
            .to_string()
            .as_bytes(),
    )
}

#[test]
fn wrong_passwords_for_one_username_are_delayed_growing_and_a_right_one_clears_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    super::ceremonies::add_user(&server, dir.path(), "alice", "US");

    for _ in 0..5 {
        login_account(&server, "alice", "wrong password").assert_error(401, "unauthorized");
    }
    // The sixth waits 30 s; even the right password is not checked meanwhile.
    login_account(&server, "alice", "wrong password").assert_error_with(
        429,
        "too_many_password_attempts",
        "retry_after",
        json!(T0 + 30),
    );
    login_account(&server, "ALICE", PASSWORD).assert_error_with(
        429,
        "too_many_password_attempts",
        "retry_after",
        json!(T0 + 30),
    );
    // An unknown username is counted alike: it cannot be told apart.
    for _ in 0..5 {
        login_account(&server, "nobody", "wrong password").assert_error(401, "unauthorized");
    }
    login_account(&server, "nobody", "wrong password")
        .assert_error(429, "too_many_password_attempts");

    server.clock.advance(29);
    login_account(&server, "alice", "wrong password")
        .assert_error(429, "too_many_password_attempts");
    server.clock.advance(1);
    login_account(&server, "alice", "wrong password").assert_error(401, "unauthorized");
    // The next delay is twice as long.
    login_account(&server, "alice", PASSWORD).assert_error_with(
        429,
        "too_many_password_attempts",
        "retry_after",
        json!(T0 + 30 + 60),
    );
    server.clock.advance(60);
    let account = login_account(&server, "alice", PASSWORD);
    assert_eq!(account.status, 200, "{account:?}");
    assert_eq!(account.json["username"], "alice");
    // The success cleared alice's failures: five free ones again.
    for _ in 0..5 {
        login_account(&server, "alice", "wrong password").assert_error(401, "unauthorized");
    }
    login_account(&server, "alice", "wrong password")
        .assert_error(429, "too_many_password_attempts");
    server.stop();
}

#[test]
fn one_address_guessing_across_usernames_is_delayed_after_twenty_failures() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    super::ceremonies::add_user(&server, dir.path(), "alice", "US");
    for n in 0..20 {
        login_account(&server, &format!("user{n}"), "wrong password")
            .assert_error(401, "unauthorized");
    }
    // Every test client is 127.0.0.1: the next guess waits, whatever the username.
    login_account(&server, "alice", PASSWORD).assert_error_with(
        429,
        "too_many_password_attempts",
        "retry_after",
        json!(T0 + 30),
    );
    server.clock.advance(30);
    assert_eq!(login_account(&server, "alice", PASSWORD).status, 200);
    server.stop();
}

#[test]
fn parallel_wrong_passwords_are_counted_exactly_and_never_past_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), true, |config| {
        config.password_attempts.max_concurrent_checks = 64;
    });
    super::ceremonies::add_user(&server, dir.path(), "alice", "US");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..12)
            .map(|_| scope.spawn(|| login_account(&server, "alice", "wrong password").status))
            .collect();
        guesses.into_iter().map(|g| g.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let delayed = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, delayed), (5, 7), "{statuses:?}");
    // Exactly five were counted: the sixth failure, 30 s later, sets a 60 s delay.
    server.clock.advance(30);
    login_account(&server, "alice", "wrong password").assert_error(401, "unauthorized");
    login_account(&server, "alice", PASSWORD).assert_error_with(
        429,
        "too_many_password_attempts",
        "retry_after",
        json!(T0 + 30 + 60),
    );
    server.stop();
}

#[test]
fn a_password_check_beyond_the_hashing_slots_is_answered_503_at_once_and_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    super::ceremonies::add_user(&server, dir.path(), "alice", "US");
    let attempts = server.state.users.attempts();
    let held: Vec<_> = (0..4)
        .map(|n| attempts.begin(T0, &format!("other{n}"), None).unwrap())
        .collect();
    for _ in 0..10 {
        let response = agent()
            .post(&server.url("/v1/login/account"))
            .header("Content-Type", "application/json")
            .send(json!({ "username": "alice", "password": "wrong password" }).to_string())
            .unwrap();
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            Some("1")
        );
        Answer::from(response).assert_error(503, "busy");
    }
    drop(held);
    // None of the ten refused checks was counted: five are still free.
    for _ in 0..5 {
        login_account(&server, "alice", "wrong password").assert_error(401, "unauthorized");
    }
    login_account(&server, "alice", "wrong password")
        .assert_error(429, "too_many_password_attempts");
    server.stop();
}

#[test]
fn each_session_api_answers_only_for_the_sessions_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let token = token_in(dir.path());
    let phone = activated(&server, dir.path(), "alice", "US");

    // A session the integrator opened is unknown to the reference login's routes:
    // a typed response there is neither verified nor counted.
    let integrators = open_session(&server, dir.path(), "alice");
    let id = integrators.json["session_id"].as_str().unwrap().to_owned();
    server
        .get(&format!("/v1/login/sessions/{id}"), None)
        .assert_error(404, "unknown_session");
    let json = "application/json";
    for (path, body) in [
        ("response", json!({ "response": "12345678" })),
        ("new-code", json!({ "channel": "sms" })),
        ("code", json!({ "code": "123456" })),
    ] {
        server
            .post(
                &format!("/v1/login/sessions/{id}/{path}"),
                None,
                json,
                body.to_string().as_bytes(),
            )
            .assert_error(404, "unknown_session");
    }
    assert_eq!(failures_of(&server, &phone), 0);
    let own = server.get(&format!("/v1/integrator/sessions/{id}"), Some(&token));
    assert_eq!(
        (own.status, own.json["status"].as_str()),
        (200, Some("pending"))
    );

    // And the other way round.
    let opened = server.post(
        "/v1/login/sessions",
        None,
        json,
        json!({ "username": "alice", "password": PASSWORD })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(opened.status, 201, "{opened:?}");
    let id = opened.json["session_id"].as_str().unwrap().to_owned();
    server
        .get(&format!("/v1/integrator/sessions/{id}"), Some(&token))
        .assert_error(404, "unknown_session");
    server
        .post(
            &format!("/v1/integrator/sessions/{id}/response"),
            Some(&token),
            json,
            json!({ "response": "12345678" }).to_string().as_bytes(),
        )
        .assert_error(404, "unknown_session");
    assert_eq!(failures_of(&server, &phone), 0);
    let challenge = opened.json["challenge"].as_str().unwrap();
    let response = phone.typed_response(&server, challenge, PIN);
    let approved = server.post(
        &format!("/v1/login/sessions/{id}/response"),
        None,
        json,
        json!({ "response": response }).to_string().as_bytes(),
    );
    assert_eq!(approved.json["status"], "approved", "{approved:?}");
    server.stop();
}

/// A pending lost-phone move of `anna`, and the token of its e-mailed cancel link.
fn lost_phone_move(server: &Running, dir: &std::path::Path) -> String {
    let _old = activated(server, dir, "anna", "US");
    let start = start_activation(server, dir, "anna", Some("lost_phone"));
    let mut new = TestPhone::new(server, "new phone");
    let request = new.activation_request(
        server,
        &start.json["ticket"],
        &last_code(server),
        KeystoreKind::Software,
    );
    let held = phone_post(server, "/v1/phone/activate", &request);
    assert_eq!(held.json["outcome"], "held", "{held:?}");
    let mail = outbox_bodies(server)
        .into_iter()
        .rev()
        .find(|b| b["channel"] == "email")
        .unwrap();
    let text = mail["body"]["body"].as_str().unwrap().to_owned();
    // An absolute link, which a mail client can open.
    let link = server.url("/v1/replacements/cancel?token=");
    assert!(text.contains(&link), "{text}");
    text.split("token=").nth(1).unwrap().trim().to_owned()
}

/// Status, headers and text of a raw answer.
fn page(response: ureq::http::Response<ureq::Body>) -> (u16, ureq::http::HeaderMap, String) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.into_body().read_to_string().unwrap();
    (status, headers, text)
}

fn header<'a>(headers: &'a ureq::http::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

fn post_form(server: &Running, body: &str) -> (u16, ureq::http::HeaderMap, String) {
    page(
        agent()
            .post(&server.url("/v1/replacements/cancel"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(body)
            .unwrap(),
    )
}

#[test]
fn the_cancel_link_opens_a_page_that_changes_nothing_and_its_form_cancels_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let token = lost_phone_move(&server, dir.path());
    let link = server.url(&format!("/v1/replacements/cancel?token={token}"));

    // Opened twice (a mail scanner, then the user): a page, nothing consumed.
    for _ in 0..2 {
        let (status, headers, text) = page(agent().get(&link).call().unwrap());
        assert_eq!(status, 200, "{text}");
        assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
        let csp = header(&headers, "content-security-policy");
        for directive in [
            "default-src 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
        assert_eq!(header(&headers, "cache-control"), "no-store");
        assert!(
            text.contains("<form method=\"post\" action=\"cancel\">"),
            "{text}"
        );
        assert!(
            text.contains(&format!("name=\"token\" value=\"{token}\"")),
            "{text}"
        );
        assert!(!text.contains("<script"), "{text}");
    }

    // The form's POST cancels, once.
    let (status, headers, text) = post_form(&server, &format!("token={token}"));
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("The move was cancelled"), "{text}");
    assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
    let (status, _, text) = post_form(&server, &format!("token={token}"));
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("The move was not cancelled"), "{text}");
    // The JSON form of the same request agrees.
    server
        .post(
            "/v1/replacements/cancel",
            None,
            "application/json",
            json!({ "token": token }).to_string().as_bytes(),
        )
        .assert_error(404, "unknown_replacement");
    server.stop();
}

#[test]
fn a_malformed_cancel_link_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    for query in [
        "",
        "?token=",
        "?token=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "?x=1",
    ] {
        let (status, headers, text) = page(
            agent()
                .get(&server.url(&format!("/v1/replacements/cancel{query}")))
                .call()
                .unwrap(),
        );
        assert_eq!(status, 400, "{text}");
        assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
        assert!(
            !text.contains("<script") && !text.contains("alert"),
            "{text}"
        );
    }
    let (status, _, text) = post_form(&server, "token=<script>&x=1");
    assert_eq!(status, 400, "{text}");
    assert!(!text.contains("<script"), "{text}");
    server
        .post("/v1/replacements/cancel", None, "text/plain", b"token=00")
        .assert_error(415, "unsupported_media_type");
    server.stop();
}
