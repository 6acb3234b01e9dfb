//! The web login page (`/web/*`) over real HTTP, as a browser would speak to it:
//! the security headers, the cookie's flags, CSRF tokens on every form, the
//! login bound to the browser that typed the password, and the second factors
//! (push, typed response, SMS, opted out) and settings that reuse the verifier.
//! A small cookie-keeping client stands in for the browser (the real browser
//! tests are `scripts/browser-test`); redirects are not followed, so each step's
//! answer is seen.

use super::ceremonies::{
    PIN, TestPhone, activated, add_user, integrator_post, outbox_bodies, phone_post, pushed_request,
};
use super::{Running, start};
use latchkey_core::protocol::ProofAction;
use serde_json::{Value, json};
use std::path::Path;

const PASSWORD: &str = "correct horse battery";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// One answer of the web page.
#[derive(Debug)]
struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    headers: Vec<(String, String)>,
    text: String,
}

impl Page {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let start = self
            .text
            .find("name=\"csrf\" value=\"")
            .expect("a CSRF field")
            + 19;
        self.text[start..start + 64].to_owned()
    }

    /// The 6-digit login code shown large.
    fn challenge(&self) -> String {
        let start = self.text.find("id=\"challenge\">").expect("a challenge") + 15;
        self.text[start..start + 6].to_owned()
    }
}

/// A browser: one cookie, redirects not followed.
struct Browser<'a> {
    server: &'a Running,
    cookie: Option<String>,
}

impl<'a> Browser<'a> {
    fn new(server: &'a Running) -> Self {
        Self {
            server,
            cookie: None,
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build(),
        )
    }

    fn keep(&mut self, response: ureq::http::Response<ureq::Body>) -> Page {
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let set_cookie = find("set-cookie");
        if let Some(cookie) = &set_cookie {
            self.cookie = Some(cookie.split(';').next().unwrap().to_owned());
        }
        Page {
            status,
            location: find("location"),
            set_cookie,
            headers,
            text: response.into_body().read_to_string().unwrap(),
        }
    }

    fn get(&mut self, path: &str) -> Page {
        let mut request = Self::agent().get(&self.server.url(path));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.call().unwrap();
        self.keep(response)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let mut request = Self::agent()
            .post(&self.server.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send(body.join("&").as_bytes()).unwrap();
        self.keep(response)
    }

    /// Opens the sign-in page and signs in; the page after the redirect.
    fn sign_in(&mut self, username: &str, password: &str) -> Page {
        self.sign_in_from("/web/login", username, password)
    }

    fn sign_in_from(&mut self, page: &str, username: &str, password: &str) -> Page {
        let form = self.get(page);
        assert_eq!(form.status, 200, "{form:?}");
        let mut fields = vec![
            ("csrf", form.csrf()),
            ("username", username.to_owned()),
            ("password", password.to_owned()),
        ];
        for hidden in ["client", "client_version"] {
            let marker = format!("name=\"{hidden}\" value=\"");
            if let Some(at) = form.text.find(&marker) {
                let rest = &form.text[at + marker.len()..];
                fields.push((hidden, rest[..rest.find('"').unwrap()].to_owned()));
            }
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = self.post("/web/login", &fields);
        assert_eq!(answer.status, 303, "{answer:?}");
        self.get("/web/login")
    }

    /// Posts a form of the current page with its CSRF token.
    fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get("/web/login").csrf();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        let answer = self.post(path, &all);
        assert_eq!(answer.status, 303, "{answer:?}");
        let to = answer.location.unwrap();
        self.get(&to)
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn add_sms_user(server: &Running, dir: &Path, username: &str) {
    let answer = integrator_post(
        server,
        dir,
        "/v1/integrator/users",
        json!({ "username": username, "password": PASSWORD, "phone": "+14155550123",
                "email": format!("{username}@example.com"), "jurisdiction": "US",
                "second_factor": "sms" }),
    );
    assert_eq!(answer.status, 201, "{answer:?}");
}

/// The newest 6-digit code the outbox sent by SMS.
fn last_sms_code(server: &Running) -> String {
    outbox_bodies(server)
        .iter()
        .rev()
        .filter(|b| b["channel"] == "sms")
        .filter_map(|b| b["body"]["text"].as_str())
        .find_map(|text| {
            text.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .map(str::to_owned)
        })
        .unwrap()
}

fn approve_push(server: &Running, phone: &TestPhone, code: &str) {
    let approval = phone.approval(server, pushed_request(server), code, PIN);
    let answer = phone_post(server, "/v1/phone/approve", &approval);
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[test]
fn every_web_answer_has_the_strict_csp_nosniff_and_no_referrer_and_no_inline_code() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let mut browser = Browser::new(&server);
    for (path, kind) in [
        ("/web/login", "text/html; charset=utf-8"),
        ("/web/static/app.js", "text/javascript; charset=utf-8"),
        ("/web/static/style.css", "text/css; charset=utf-8"),
    ] {
        let page = browser.get(path);
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.header("content-type"), Some(kind), "{path}");
        assert_eq!(page.header("content-security-policy"), Some(CSP), "{path}");
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }
    let page = browser.get("/web/login");
    assert!(
        page.text
            .contains("<script src=\"/web/static/app.js\" defer></script>")
    );
    assert_eq!(page.text.matches("<script").count(), 1, "only the file");
    for inline in ["style=", "<style", "onclick", "onload", "javascript:"] {
        assert!(!page.text.contains(inline), "{inline} in {}", page.text);
    }
    // Refusals carry the headers too.
    let refused = browser.post(
        "/web/login",
        &[("csrf", "x"), ("username", "a"), ("password", "b")],
    );
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("content-security-policy"), Some(CSP));
    server.stop();
}

#[test]
fn the_cookie_is_httponly_samesite_strict_and_secure_except_in_dev_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let production = start(&dir.path().join("p"), false);
    let cookie = Browser::new(&production)
        .get("/web/login")
        .set_cookie
        .unwrap();
    assert!(cookie.starts_with("__Host-latchkey="), "{cookie}");
    let flags: Vec<&str> = cookie.split("; ").skip(1).collect();
    assert_eq!(flags, ["Path=/", "HttpOnly", "SameSite=Strict", "Secure"]);
    let value = cookie.split(';').next().unwrap().split('=').nth(1).unwrap();
    assert_eq!(value.len(), 64, "256 random bits");
    production.stop();

    let development = start(&dir.path().join("d"), true);
    let cookie = Browser::new(&development)
        .get("/web/login")
        .set_cookie
        .unwrap();
    assert!(cookie.starts_with("latchkey="), "{cookie}");
    let flags: Vec<&str> = cookie.split("; ").skip(1).collect();
    assert_eq!(flags, ["Path=/", "HttpOnly", "SameSite=Strict"]);
    development.stop();
}

#[test]
fn a_form_without_its_sessions_csrf_token_is_refused_before_the_password_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let _phone = activated(&server, dir.path(), "anna", "US");
    let pushes = || {
        outbox_bodies(&server)
            .iter()
            .filter(|b| b["channel"] == "push")
            .count()
    };
    let mut browser = Browser::new(&server);
    let token = browser.get("/web/login").csrf();
    let mut other = Browser::new(&server);
    let others_token = other.get("/web/login").csrf();
    let credentials = [("username", "anna"), ("password", PASSWORD)];
    let with = |token: String| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", token),
            ("username", "anna".to_owned()),
            ("password", PASSWORD.to_owned()),
        ]
    };
    let post = |who: &mut Browser<'_>, fields: Vec<(&str, String)>| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = who.post("/web/login", &fields);
        assert_eq!(answer.status, 403, "{answer:?}");
        assert!(answer.text.contains("Nothing was done"));
    };

    // No cookie, no token, a wrong token, another browser's token.
    post(&mut Browser::new(&server), with(token.clone()));
    post(
        &mut browser,
        credentials
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect(),
    );
    post(&mut browser, with("0".repeat(64)));
    post(&mut browser, with(others_token));
    assert_eq!(pushes(), 0, "no login was opened");

    let fields = with(token);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = browser.post("/web/login", &fields);
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(pushes(), 1);
    // Every later form needs the token too.
    let page = browser.get("/web/login");
    assert!(page.text.contains("Approve on your phone"), "{}", page.text);
    for path in ["/web/login/response", "/web/login/new-code", "/web/logout"] {
        let answer = browser.post(path, &[("response", "12345678"), ("channel", "sms")]);
        assert_eq!(answer.status, 403, "{path}");
    }
    assert!(
        browser
            .get("/web/login")
            .text
            .contains("Approve on your phone")
    );
    server.stop();
}

#[test]
fn the_password_replaces_the_cookie_and_the_login_belongs_to_that_browser_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let phone = activated(&server, dir.path(), "anna", "US");
    let mut browser = Browser::new(&server);
    let before = {
        browser.get("/web/login");
        browser.cookie.clone().unwrap()
    };
    let page = browser.sign_in("anna", PASSWORD);
    let after = browser.cookie.clone().unwrap();
    assert_ne!(before, after, "a fresh cookie after the password");
    let challenge = page.challenge();

    // The old cookie is dead; a stranger's browser sees nothing of the login.
    let mut old = Browser::new(&server);
    old.cookie = Some(before);
    let page = old.get("/web/login");
    assert!(page.text.contains("<h1>Log in</h1>"));
    assert!(!page.text.contains(&challenge));
    let mut stranger = Browser::new(&server);
    let token = stranger.get("/web/login").csrf();
    let status = stranger.get("/web/login/status");
    assert_eq!(
        serde_json::from_str::<Value>(&status.text).unwrap()["status"],
        "signed_out"
    );
    let answer = stranger.post(
        "/web/login/response",
        &[
            ("csrf", &token),
            ("response", &phone.typed_response(&server, &challenge, PIN)),
        ],
    );
    assert_eq!(answer.status, 303);
    assert!(
        stranger
            .get("/web/login")
            .text
            .contains("That login has ended")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&browser.get("/web/login/status?").text).unwrap()["status"],
        "pending",
        "the stranger's response was not used"
    );
    // Neither the verifier's ids nor the push handle reach the browser.
    let page = browser.get("/web/login");
    for b in outbox_bodies(&server) {
        if let Some(payload) = b["body"]["payload"].as_str() {
            let payload: Value = serde_json::from_str(payload).unwrap();
            if let Some(request) = payload["request"].as_str() {
                assert!(!page.text.contains(request));
            }
        }
    }

    approve_push(&server, &phone, &challenge);
    let status: Value = serde_json::from_str(&browser.get("/web/login/status").text).unwrap();
    assert_eq!(status["status"], "approved");
    let page = browser.get("/web/login");
    assert!(page.text.contains("Login approved"), "{}", page.text);
    assert!(
        browser
            .get("/web/account")
            .text
            .contains("Security settings")
    );
    assert_eq!(stranger.get("/web/account").status, 303, "not signed in");
    server.stop();
}

#[test]
fn a_typed_response_signs_in_and_a_wrong_one_ends_the_login_with_attempts_left() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let phone = activated(&server, dir.path(), "anna", "US");
    let mut browser = Browser::new(&server);
    let page = browser.sign_in("anna", PASSWORD);
    assert!(
        page.text
            .contains("Click here if you do not receive the notification")
    );
    assert!(page.text.contains("autocomplete=\"one-time-code\""));
    let wrong = phone.typed_response(&server, &page.challenge(), "999888");
    let page = browser.submit("/web/login/response", &[("response", &wrong)]);
    assert!(page.text.contains("Login failed"), "{}", page.text);
    assert!(
        page.text
            .contains("9 more wrong answers disable your Latchkey phone")
    );

    browser.submit("/web/logout", &[]);
    let page = browser.sign_in("anna", PASSWORD);
    let right = phone.typed_response(&server, &page.challenge(), PIN);
    let page = browser.submit("/web/login/response", &[("response", &right)]);
    assert!(page.text.contains("Login approved"), "{}", page.text);
    server.stop();
}

#[test]
fn an_sms_login_takes_the_code_and_an_old_client_is_told_why_it_gets_no_voice_call() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    add_sms_user(&server, dir.path(), "sam");
    let mut browser = Browser::new(&server);
    let page = browser.sign_in_from(
        "/web/login?client=Trader%20Workstation&client_version=10.20",
        "sam",
        PASSWORD,
    );
    assert!(
        page.text.contains("Enter your security code"),
        "{}",
        page.text
    );
    assert!(page.text.contains("sent by SMS to +1"));
    assert!(page.text.contains("Didn't receive a security code?"));
    assert!(
        page.text
            .contains("Voice callback needs Trader Workstation 10.30 or later (this is 10.20)"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("disabled aria-describedby=\"voice-reason\"")
    );
    let page = browser.submit("/web/login/new-code", &[("channel", "voice")]);
    assert!(
        page.text.contains("Voice callback needs"),
        "refused by the server too"
    );
    let page = browser.submit("/web/login/code", &[("code", "000000")]);
    assert!(
        page.text
            .contains("Wrong security code. 4 more wrong codes"),
        "{}",
        page.text
    );
    let page = browser.submit("/web/login/code", &[("code", &last_sms_code(&server))]);
    assert!(page.text.contains("Login approved"), "{}", page.text);

    // The page's own client is offered voice.
    let mut web = Browser::new(&server);
    server.clock.advance(121);
    let page = web.sign_in("sam", PASSWORD);
    assert!(!page.text.contains("voice-reason"), "{}", page.text);
    server.stop();
}

#[test]
fn an_opted_out_account_is_signed_in_at_once_with_the_recorded_warning() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let phone = activated(&server, dir.path(), "ursula", "US");
    let proof = phone.proof(&server, ProofAction::OptOut, Vec::new(), PIN);
    let answer = phone_post(&server, "/v1/phone/proof", &proof);
    assert_eq!(answer.status, 200, "{answer:?}");
    let mut browser = Browser::new(&server);
    let page = browser.sign_in("ursula", PASSWORD);
    assert!(
        page.text.contains("Approved without a second factor"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("Warning: Without two-factor authentication")
    );
    let account = browser.get("/web/account");
    assert!(
        account.text.contains("Off — opted out on "),
        "{}",
        account.text
    );
    server.stop();
}

#[test]
fn opting_out_on_the_page_is_refused_in_hong_kong_with_the_citation() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let phone = activated(&server, dir.path(), "hana", "HK");
    let mut browser = Browser::new(&server);
    let page = browser.sign_in("hana", PASSWORD);
    approve_push(&server, &phone, &page.challenge());
    assert!(browser.get("/web/login").text.contains("Login approved"));
    let token = browser.get("/web/account").csrf();
    let answer = browser.post("/web/account/opt-out", &[("csrf", &token)]);
    assert_eq!(answer.location.as_deref(), Some("/web/account"));
    let page = browser.get("/web/account");
    assert!(
        page.text.contains(
            "Two-factor authentication cannot be turned off for this account: SFC Guidelines for \
             Reducing and Mitigating Hacking Risks Associated with Internet Trading, 27 Oct 2017, \
             art. 1.1"
        ),
        "{}",
        page.text
    );
    assert!(page.text.contains("role=\"alert\""));
    server.stop();
}

#[test]
fn a_phone_number_change_waits_for_the_phones_pin_proof_then_goes_through() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let phone = activated(&server, dir.path(), "anna", "US");
    let mut browser = Browser::new(&server);
    let page = browser.sign_in("anna", PASSWORD);
    approve_push(&server, &phone, &page.challenge());
    browser.get("/web/login");
    let change = |browser: &mut Browser<'_>| {
        let token = browser.get("/web/account").csrf();
        let answer = browser.post(
            "/web/account/phone-number",
            &[("csrf", &token), ("phone", "+14155550199")],
        );
        assert_eq!(answer.status, 303);
        browser.get("/web/account")
    };
    let page = change(&mut browser);
    assert!(
        page.text
            .contains("Confirm the change on your Latchkey phone first"),
        "{}",
        page.text
    );
    assert!(page.text.contains("+852"), "unchanged");

    let proof = phone.proof(&server, ProofAction::ChangePhoneNumber, Vec::new(), PIN);
    assert_eq!(phone_post(&server, "/v1/phone/proof", &proof).status, 200);
    let page = change(&mut browser);
    assert!(
        page.text.contains("Your verified phone number is now +1"),
        "{}",
        page.text
    );
    assert!(page.text.contains("<dd>+1"), "{}", page.text);
    server.stop();
}

#[test]
fn a_reported_login_shows_what_happened_and_the_next_login_needs_a_password_reset() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let phone = activated(&server, dir.path(), "anna", "US");
    let mut browser = Browser::new(&server);
    browser.sign_in("anna", PASSWORD);
    let denial = phone.signed(
        &server,
        &latchkey_core::protocol::Denial {
            request: pushed_request(&server),
            reason: latchkey_core::protocol::DenialReason::NotMe,
        },
    );
    assert_eq!(phone_post(&server, "/v1/phone/deny", &denial).status, 200);
    let page = browser.get("/web/login");
    assert!(page.text.contains("This wasn't me"), "{}", page.text);
    assert!(page.text.contains("password must be reset"));
    browser.submit("/web/logout", &[]);
    let page = browser.sign_in("anna", PASSWORD);
    assert!(
        page.text.contains("This account needs a password reset"),
        "{}",
        page.text
    );
    server.stop();
}

#[test]
fn a_wrong_password_gets_one_answer_for_every_account_and_no_login() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    add_user(&server, dir.path(), "anna", "US");
    let mut browser = Browser::new(&server);
    for user in ["anna", "nobody"] {
        let page = browser.sign_in(user, "not the password");
        assert!(
            page.text.contains("Wrong username or password."),
            "{}",
            page.text
        );
        assert!(page.text.contains("<h1>Log in</h1>"));
        assert!(!page.text.contains("not the password"));
    }
    server.stop();
}

#[test]
fn wrong_answers_lock_the_account_then_disable_the_phone_and_the_page_leads_to_a_new_phone() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let phone = activated(&server, dir.path(), "anna", "US");
    let token = super::token_in(dir.path());
    let mut browser = Browser::new(&server);
    let wrong_answer = |browser: &mut Browser<'_>| {
        let page = browser.sign_in("anna", PASSWORD);
        let wrong = phone.typed_response(&server, &page.challenge(), "999888");
        let page = browser.submit("/web/login/response", &[("response", &wrong)]);
        browser.submit("/web/logout", &[]);
        page
    };
    for _ in 0..3 {
        assert!(wrong_answer(&mut browser).text.contains("Login failed"));
    }
    // During the delay the answer is refused, not counted, and the login stays open.
    let page = browser.sign_in("anna", PASSWORD);
    let wrong = phone.typed_response(&server, &page.challenge(), "999888");
    let page = browser.submit("/web/login/response", &[("response", &wrong)]);
    assert!(
        page.text
            .contains("Too many wrong answers; wait before trying again. Try again after "),
        "{}",
        page.text
    );
    assert!(page.text.contains("8-digit response"), "still open");
    browser.submit("/web/logout", &[]);
    server.clock.advance(30);
    assert!(wrong_answer(&mut browser).text.contains("Login failed"));
    server.clock.advance(60);
    let page = wrong_answer(&mut browser);
    assert!(
        page.text.contains("<h1>Account locked</h1>"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("5 more wrong answers disable your Latchkey phone")
    );
    let page = browser.sign_in("anna", PASSWORD);
    assert!(
        page.text.contains("This account needs a password reset"),
        "{}",
        page.text
    );

    // After the reset, five more wrong answers disable the phone.
    for delay in [120, 240, 480, 960, 1920] {
        let reset = server.post(
            "/v1/integrator/users/anna/password-reset-done",
            Some(&token),
            "application/json",
            b"{}",
        );
        assert_eq!(reset.status, 200, "{reset:?}");
        server.clock.advance(delay);
        wrong_answer(&mut browser);
    }
    let reset = server.post(
        "/v1/integrator/users/anna/password-reset-done",
        Some(&token),
        "application/json",
        b"{}",
    );
    assert_eq!(reset.status, 200);
    let page = browser.sign_in("anna", PASSWORD);
    assert!(
        page.text.contains("<h1>Phone disabled</h1>"),
        "{}",
        page.text
    );
    assert!(page.text.contains("Move to a new phone"));

    // The lost-phone move: the ticket on the page, the hold, the e-mail's cancel link.
    let page = browser.submit("/web/login/activate", &[("how", "lost_phone")]);
    assert!(
        page.text.contains("Move to a new phone (lost phone)"),
        "{}",
        page.text
    );
    let ticket: Value =
        serde_json::from_str(&browser.get("/web/activation/ticket.json").text).unwrap();
    let mut new_phone = TestPhone::new(&server, "anna's new phone");
    let request = new_phone.activation_request(
        &server,
        &ticket["ticket"],
        &super::ceremonies::last_code(&server),
        latchkey_core::protocol::KeystoreKind::Software,
    );
    let held = phone_post(&server, "/v1/phone/activate", &request);
    assert_eq!(held.status, 202, "{held:?}");
    let page = browser.get("/web/activation");
    assert!(page.text.contains("Move pending"), "{}", page.text);
    assert!(page.text.contains("after the 72-hour hold"));
    let mail = outbox_bodies(&server)
        .into_iter()
        .rev()
        .find(|b| b["channel"] == "email" && b.to_string().contains("token="))
        .unwrap();
    let text = mail["body"]["body"].as_str().unwrap();
    let cancel = text.split("token=").nth(1).unwrap().trim();
    let answer = server.post(
        "/v1/replacements/cancel",
        None,
        "application/json",
        json!({ "token": cancel }).to_string().as_bytes(),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    let page = browser.get("/web/activation");
    assert!(page.text.contains("Move cancelled"), "{}", page.text);
    server.stop();
}

#[test]
fn a_web_session_ends_after_thirty_idle_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    let phone = activated(&server, dir.path(), "anna", "US");
    let mut browser = Browser::new(&server);
    let page = browser.sign_in("anna", PASSWORD);
    approve_push(&server, &phone, &page.challenge());
    assert!(browser.get("/web/login").text.contains("Login approved"));
    server.clock.advance(29 * 60);
    assert_eq!(
        browser.get("/web/account").status,
        200,
        "used: the idle time restarts"
    );
    server.clock.advance(30 * 60);
    let page = browser.get("/web/account");
    assert_eq!(page.location.as_deref(), Some("/web/login"), "{page:?}");
    assert!(browser.get("/web/login").text.contains("<h1>Log in</h1>"));
    server.stop();
}

#[test]
fn five_wrong_sms_codes_suspend_sms_logins_and_the_page_says_until_when() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true);
    add_sms_user(&server, dir.path(), "sam");
    let mut browser = Browser::new(&server);
    browser.sign_in("sam", PASSWORD);
    for left in (1..=4).rev() {
        let page = browser.submit("/web/login/code", &[("code", "000000")]);
        assert!(
            page.text.contains(&format!("{left} more wrong codes")),
            "{}",
            page.text
        );
    }
    let page = browser.submit("/web/login/code", &[("code", "000000")]);
    assert!(
        page.text
            .contains("<h1>SMS and voice logins suspended</h1>"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("suspended until 2027-01-15 09:00 UTC"),
        "{}",
        page.text
    );
    browser.submit("/web/logout", &[]);
    let page = browser.sign_in("sam", PASSWORD);
    assert!(
        page.text.contains("SMS and voice logins are suspended"),
        "{}",
        page.text
    );
    server.stop();
}
