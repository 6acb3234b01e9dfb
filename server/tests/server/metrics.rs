//! Readiness and the Prometheus metrics over real HTTP: `/metrics` opens only
//! with the metrics token (its own 0600 file, not the integrator token); the
//! counters move by exactly what happened; latency histograms exist per route;
//! `/v1/ready` answers 200 while the store answers and 503 when it does not.

use super::ceremonies::{PIN, activated, open_session, phone_post, pushed_request};
use super::{TestStore, agent, start, start_on, token_in};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// The metrics token the server made in its data folder.
fn metrics_token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("metrics-token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// `GET /metrics` with `token`: the status and the body's text.
fn scrape_with(server: &super::Running, token: Option<&str>) -> (u16, String, String) {
    let mut request = agent().get(&server.url("/metrics"));
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let response = request.call().unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        response.into_body().read_to_string().unwrap(),
    )
}

/// Every sample of a scrape: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn scrape(server: &super::Running, dir: &Path) -> BTreeMap<String, f64> {
    let (status, content_type, text) = scrape_with(server, Some(&metrics_token(dir)));
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    samples(&text)
}

/// How much each named series moved between two scrapes (0 for one absent in both).
fn moved(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, series: &str) -> f64 {
    after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0)
}

#[test]
fn metrics_open_only_with_their_own_token_kept_in_a_0600_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), false);
    let mode = std::fs::metadata(dir.path().join("metrics-token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = metrics_token(dir.path());
    let integrator = token_in(dir.path());
    assert_ne!(token, integrator);

    for presented in [None, Some("lk_not-the-token"), Some(integrator.as_str())] {
        let (status, _, text) = scrape_with(&server, presented);
        assert_eq!(status, 401, "{presented:?}: {text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let (status, _, text) = scrape_with(&server, Some(&token));
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("latchkey_flows_started_total{kind=\"login_push\"} 0"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    server.stop();

    // A restart keeps the token; the log never shows it.
    let server = start(dir.path(), false);
    assert_eq!(metrics_token(dir.path()), token);
    let (status, _, _) = scrape_with(&server, Some(&token));
    assert_eq!(status, 200);
    server.stop();
    let logs = String::from_utf8_lossy(&super::captured_logs().lock().unwrap()).into_owned();
    assert!(!logs.contains(&token));
}

#[test]
fn counters_move_by_exactly_one_approved_login_and_one_wrong_typed_response() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let phone = activated(&server, dir.path(), "anna", "US");
    let before = scrape(&server, dir.path());

    // One login approved on the phone.
    let session = open_session(&server, dir.path(), "anna");
    assert_eq!(session.json["push"], "sent");
    let challenge = session.json["challenge"].as_str().unwrap().to_owned();
    let request = pushed_request(&server);
    let answer = phone_post(
        &server,
        "/v1/phone/approve",
        &phone.approval(&server, request, &challenge, PIN),
    );
    assert_eq!(answer.json, json!({ "outcome": "approved" }));

    // One wrong response typed into the login screen.
    let session = open_session(&server, dir.path(), "anna");
    let id = session.json["session_id"].as_str().unwrap();
    let wrong = phone.typed_response(
        &server,
        session.json["challenge"].as_str().unwrap(),
        "999888",
    );
    server
        .post(
            &format!("/v1/integrator/sessions/{id}/response"),
            Some(&token_in(dir.path())),
            "application/json",
            json!({ "response": wrong }).to_string().as_bytes(),
        )
        .assert_error(403, "wrong_response");

    let after = scrape(&server, dir.path());
    let expected = [
        ("latchkey_flows_started_total{kind=\"login_push\"}", 2.0),
        ("latchkey_flows_completed_total{kind=\"login_push\"}", 1.0),
        ("latchkey_flows_started_total{kind=\"login_typed\"}", 0.0),
        ("latchkey_flows_completed_total{kind=\"login_typed\"}", 0.0),
        ("latchkey_flows_started_total{kind=\"activation\"}", 0.0),
        ("latchkey_wrong_answers_total{kind=\"response\"}", 1.0),
        ("latchkey_lockouts_total{kind=\"phone_disabled\"}", 0.0),
        ("latchkey_refusals_total{code=\"wrong_response\"}", 1.0),
        ("latchkey_refusals_total{code=\"unauthorized\"}", 0.0),
        (
            "latchkey_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/phone/approve\",status=\"200\"}",
            1.0,
        ),
        (
            "latchkey_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/integrator/sessions/{session_id}/response\",status=\"403\"}",
            1.0,
        ),
    ];
    for (series, amount) in expected {
        assert_eq!(moved(&before, &after, series), amount, "{series}");
    }
    // The activation before the first scrape was counted once, started and completed.
    assert_eq!(
        after["latchkey_flows_started_total{kind=\"activation\"}"],
        1.0
    );
    assert_eq!(
        after["latchkey_flows_completed_total{kind=\"activation\"}"],
        1.0
    );
    // A histogram: buckets up to +Inf, which holds every request of the route.
    assert_eq!(
        after["latchkey_http_request_duration_seconds_bucket{le=\"+Inf\",method=\"POST\",route=\"/v1/phone/approve\",status=\"200\"}"],
        1.0
    );
    // Labels are templates and codes: no username, session id or token.
    let (_, _, text) = scrape_with(&server, Some(&metrics_token(dir.path())));
    assert!(!text.contains("anna"));
    assert!(!text.contains(id));
    assert!(!text.contains(&token_in(dir.path())));
    server.stop();
}

#[test]
fn unmatched_paths_share_one_latency_series() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), false);
    for path in ["/probe-a", "/probe-b", "/v1/nothing"] {
        server.get(path, None).assert_error(404, "not_found");
    }
    let after = scrape(&server, dir.path());
    assert_eq!(
        after["latchkey_http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\",status=\"404\"}"],
        3.0
    );
    assert_eq!(after["latchkey_refusals_total{code=\"not_found\"}"], 3.0);
    assert!(after.keys().all(|series| !series.contains("probe")));
    server.stop();
}

on_both_stores! {
    readiness_answers_ready_while_the_store_answers,
}

fn readiness_answers_ready_while_the_store_answers(store: &TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_on(store, dir.path(), false);
    let answer = server.get("/v1/ready", None);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json, json!({ "status": "ready" }));
    server.stop();
}

/// PostgreSQL refusing connections makes the node not ready (503) within the
/// probe's bound; once it accepts them again, the node is ready again.
#[test]
fn readiness_is_503_while_postgres_refuses_connections_and_200_after() {
    let Some(store) = TestStore::postgres() else {
        return;
    };
    let TestStore::Postgres(url) = &store else {
        unreachable!()
    };
    let database = url
        .expose()
        .rsplit_once('/')
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let admin = std::env::var("LATCHKEY_TEST_POSTGRES").unwrap();
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = start_on(&store, dir.path(), false);
    assert_eq!(server.get("/v1/ready", None).status, 200);

    client
        .batch_execute(&format!(
            "ALTER DATABASE {database} ALLOW_CONNECTIONS false"
        ))
        .unwrap();
    // Committed first, so that the pool cannot reconnect in between.
    client
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
        ))
        .unwrap();
    // Terminating backends is asynchronous: a probe may still find a live one.
    let answer = (0..8)
        .map(|_| server.get("/v1/ready", None))
        .find(|answer| answer.status == 503)
        .expect("never not ready");
    assert_eq!(
        answer.json,
        json!({ "status": "not_ready", "reason": "store_unavailable" })
    );
    // Liveness is not readiness: the process still answers health.
    assert_eq!(server.get("/v1/health", None).status, 200);

    client
        .batch_execute(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"))
        .unwrap();
    // A check still waiting on the pool may answer one more probe "not ready";
    // the pool reconnects within its own timeout (10 s: five 2-second probes).
    let ready = (0..8).any(|_| server.get("/v1/ready", None).status == 200);
    assert!(ready, "never ready again");
    server.stop();
}
