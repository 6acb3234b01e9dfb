//! The reference login screen as a web page (`/web/*`): what a person sees of
//! Latchkey in a browser. Username and password, then the account's second
//! factor — the 6-digit code with the push's live status and "Click here if you
//! do not receive the notification" (the 8-digit typed response), SMS codes with
//! "Didn't receive a security code?" (a new code by SMS or a voice callback), or
//! nothing for an account that opted out (approved at once, with the warning) —
//! the results of "This wasn't me" and of the lockouts with what to do next, the
//! phone's set-up and moves (the lost-phone path with its hold), and a security
//! settings page. Every step calls the same verifier operations as the JSON API
//! (docs/PROTOCOL.md §6) and checks passwords through the reference login's own
//! check (`login::check_password`), so its limits apply here too.
//!
//! Server-rendered HTML; the one script (`/web/static/app.js`) long-polls the
//! push's status and moves focus; the page works without it.
//!
//! Invariants:
//! - the browser holds only an opaque, random web-session cookie (`HttpOnly`,
//!   `SameSite=Strict`, `Secure` except in development mode on a loopback
//!   `http://` address); the login session id, the challenge's session and the
//!   account live on the server, bound to that cookie, and a password check
//!   replaces the cookie (no session fixation);
//! - every form `POST` carries the web session's CSRF token, compared in
//!   constant time before anything else is done (before any password hashing);
//! - every answer carries a strict Content-Security-Policy (scripts, styles and
//!   fetches from this origin only, no inline code, no framing, forms posting
//!   only here), `X-Content-Type-Options: nosniff`, `Referrer-Policy:
//!   no-referrer` and `Cache-Control: no-store`;
//! - passwords, codes and responses are never stored in the web session, echoed
//!   into a page or logged;
//! - web sessions expire after [`IDLE_SECS`] without use, by the server's clock,
//!   and at most [`MAX_WEB_SESSIONS`] exist at once.

use super::ClientAddress;
use super::login::{Credentials, check_password};
use super::sessions::wait_for_decision;
use super::{ApiError, AppState, blocking};
use crate::rules::ClientVersion;
use crate::store::{CodeChannel, EnrollmentStatus, LoginFactor, ReplacementKind, StoreExt};
use crate::users::{PhoneNumber, User, Username};
use crate::verifier::{
    ActivationStart, CodeDisposition, OpenedSession, PushDisposition, ReplaceMode, TwoFactorState,
    Verifier, VerifierError,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use latchkey_core::encoding::encode_hex;
use latchkey_core::protocol::{MatchingMode, SessionId};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

/// A web session ends after this long without a request (30 minutes).
pub const IDLE_SECS: u64 = 30 * 60;
/// The most web sessions held at once. Beyond it, expired sessions are dropped,
/// then the least recently used one that has not signed in; if every session
/// has signed in, new visitors are asked to come back later.
pub const MAX_WEB_SESSIONS: usize = 10_000;
/// The cookie's name where it is `Secure`: the `__Host-` prefix makes browsers
/// refuse it unless it is `Secure`, has `Path=/` and no `Domain`.
pub const SECURE_COOKIE: &str = "__Host-latchkey";
/// The cookie's name in development mode over `http://` on a loopback address.
pub const DEV_COOKIE: &str = "latchkey";
/// The client this page states when opening a session (docs/PROTOCOL.md §6.7:
/// voice callback depends on the client's name and version); a page launched by
/// another client may state its own with `?client=…&client_version=…`.
pub const WEB_CLIENT: &str = "Client Portal";
/// This page's version, as stated to the voice minimum-version table.
pub const WEB_CLIENT_VERSION: &str = "1.0";
/// The Content-Security-Policy of every `/web` answer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";
/// How long the status long-poll waits for a decision, in seconds.
const STATUS_WAIT_SECS: u64 = 25;

/// The web routes, with their own state (the web sessions) over [`AppState`].
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let web = Web {
        sessions: Arc::new(Mutex::new(HashMap::new())),
        secure: cookie_must_be_secure(&state.config),
        app: state.clone(),
    };
    Router::new()
        .route("/web", get(home))
        .route("/web/login", get(login_page).post(sign_in))
        .route("/web/login/status", get(status))
        .route("/web/login/response", post(typed_response))
        .route("/web/login/code", post(sms_code))
        .route("/web/login/new-code", post(new_code))
        .route("/web/login/activate", post(login_activate))
        .route("/web/logout", post(logout))
        .route("/web/activation", get(activation_page))
        .route("/web/activation/ticket.json", get(ticket_file))
        .route("/web/account", get(account_page))
        .route("/web/account/phone-number", post(change_phone_number))
        .route("/web/account/opt-out", post(opt_out))
        .route("/web/account/move", post(account_move))
        .route("/web/static/app.js", get(script))
        .route("/web/static/style.css", get(stylesheet))
        .layer(middleware::from_fn(security_headers))
        .with_state(web)
}

/// `Secure` is left off the cookie only in development mode, on a loopback
/// address, where the server is reached over plain `http://127.0.0.1` (browsers
/// would not send a `Secure` cookie back there). Production always sets it:
/// a production server sits behind TLS.
fn cookie_must_be_secure(config: &crate::config::ServerConfig) -> bool {
    let plain_loopback = config.listen.ip().is_loopback()
        && config
            .public_url
            .as_deref()
            .is_none_or(|url| url.starts_with("http://127.0.0.1"));
    !(config.dev && plain_loopback)
}

/// The headers every `/web` answer carries.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    insert_page_headers(response.headers_mut(), CONTENT_SECURITY_POLICY);
    response
}

/// The headers of every page this server shows a person (the `/web` answers,
/// and the pages of the e-mail's cancel link): the Content-Security-Policy
/// `csp`, no MIME sniffing, no referrer, no framing and no caching.
pub(super) fn insert_page_headers(headers: &mut HeaderMap, csp: &'static str) {
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

// ---------------------------------------------------------------------------
// Web sessions

/// The web page's state: the app's, and the browsers' sessions.
#[derive(Clone)]
struct Web {
    app: AppState,
    sessions: Arc<Mutex<HashMap<String, WebSession>>>,
    secure: bool,
}

/// One browser's session, found by its cookie.
#[derive(Clone)]
struct WebSession {
    /// The token every form of this session carries.
    csrf: String,
    /// When it ends unless used again.
    expires_at: u64,
    stage: Stage,
    /// Messages to show once, on the next page.
    flash: Vec<(Tone, String)>,
    /// The username typed last (to fill the form in again).
    last_username: String,
    /// An activation started from this session (the ticket for the phone).
    activation: Option<Activation>,
}

/// Where the browser stands.
#[derive(Clone)]
enum Stage {
    /// Not signed in.
    SignedOut,
    /// The password was right; the second factor is being asked.
    SecondFactor(Box<Login>),
    /// The password was right, but no login could be opened (the phone is
    /// disabled): only moving to a new phone is offered.
    Recover { username: String, reason: String },
    /// Signed in.
    SignedIn {
        username: String,
        /// For an account that opted out: the note and the recorded warning.
        opted_out: Option<(String, Option<String>)>,
    },
}

/// A login session opened for this browser.
#[derive(Clone)]
struct Login {
    username: String,
    session: SessionId,
    factor: LoginFactor,
    challenge: String,
    push: PushDisposition,
    /// SMS logins: `None` if voice callback is offered, else why not.
    voice_refused: Option<String>,
    /// SMS logins: what happened to the newest code (the first, or a new one).
    code_status: String,
    /// The account's number, masked.
    phone_masked: String,
    /// Once decided without approval: the result to show.
    result: Option<LoginResult>,
}

/// A login that ended without approval, as the page shows it.
#[derive(Clone)]
struct LoginResult {
    title: &'static str,
    text: String,
    next: String,
}

/// An activation started from the page: the ticket for the phone.
#[derive(Clone)]
struct Activation {
    username: String,
    ticket_json: String,
    replace: Option<ReplaceMode>,
    phone_masked: String,
    expires_at: u64,
    started_at: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tone {
    Info,
    Good,
    Warn,
    Bad,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Info => "status",
            Tone::Good => "status ok",
            Tone::Warn => "status warn",
            Tone::Bad => "status bad",
        }
    }
}

/// A page answered instead of going on (boxed: a `Response` is large).
struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(page: Response) -> Self {
        Self(Box::new(page))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

fn random_hex() -> Result<String, Refusal> {
    latchkey_core::protocol::ids::random_bytes::<32>()
        .map(|bytes| encode_hex(&bytes))
        .map_err(|_| failure_page("The server could not draw a random number.").into())
}

impl Web {
    fn cookie_name(&self) -> &'static str {
        if self.secure {
            SECURE_COOKIE
        } else {
            DEV_COOKIE
        }
    }

    fn now(&self) -> u64 {
        self.app.clock.now()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, WebSession>> {
        // A panic elsewhere while holding the lock leaves the map usable.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cookie's value, if the request has one.
    fn cookie(&self, headers: &HeaderMap) -> Option<String> {
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    }

    /// The live web session named by the request's cookie; its idle time
    /// starts again.
    fn session(&self, headers: &HeaderMap) -> Option<(String, WebSession)> {
        let key = self.cookie(headers)?;
        let now = self.now();
        let mut sessions = self.lock();
        match sessions.get_mut(&key) {
            Some(session) if now < session.expires_at => {
                session.expires_at = now.saturating_add(IDLE_SECS);
                Some((key, session.clone()))
            }
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// A new web session (with a new cookie value and CSRF token).
    fn create(&self, stage: Stage, carry: Option<&WebSession>) -> Result<String, Refusal> {
        let key = random_hex()?;
        let csrf = random_hex()?;
        let now = self.now();
        let mut sessions = self.lock();
        if sessions.len() >= MAX_WEB_SESSIONS {
            sessions.retain(|_, session| now < session.expires_at);
        }
        if sessions.len() >= MAX_WEB_SESSIONS {
            // A flood of visitors who never sign in pushes out the least recently
            // used of them, never a browser that typed its password.
            let oldest = sessions
                .iter()
                .filter(|(_, session)| matches!(session.stage, Stage::SignedOut))
                .min_by_key(|(_, session)| session.expires_at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        if sessions.len() >= MAX_WEB_SESSIONS {
            return Err(html(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later",
                "",
                "<p>Too many people are logging in right now. Please try again in a few minutes.</p>",
                None,
            )
            .into());
        }
        sessions.insert(
            key.clone(),
            WebSession {
                csrf,
                expires_at: now.saturating_add(IDLE_SECS),
                stage,
                flash: carry.map(|s| s.flash.clone()).unwrap_or_default(),
                last_username: carry.map(|s| s.last_username.clone()).unwrap_or_default(),
                activation: carry.and_then(|s| s.activation.clone()),
            },
        );
        Ok(key)
    }

    /// Replaces the session `old` by a fresh one (new cookie and token) in
    /// `stage`: done when the password has been checked.
    fn rotate(&self, old: &str, stage: Stage) -> Result<String, Refusal> {
        let carried = self.lock().remove(old);
        self.create(stage, carried.as_ref())
    }

    fn update(&self, key: &str, change: impl FnOnce(&mut WebSession)) {
        if let Some(session) = self.lock().get_mut(key) {
            change(session);
        }
    }

    fn flash(&self, key: &str, tone: Tone, text: impl Into<String>) {
        let text = text.into();
        self.update(key, |session| session.flash.push((tone, text)));
    }

    /// Takes the messages to show on this page.
    fn take_flash(&self, key: &str) -> Vec<(Tone, String)> {
        let mut taken = Vec::new();
        self.update(key, |session| taken = std::mem::take(&mut session.flash));
        taken
    }

    fn set_cookie(&self, key: &str) -> HeaderValue {
        // `Secure` is omitted only in development mode over http://127.0.0.1
        // (see `cookie_must_be_secure`); there the browser would drop it.
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={key}; Path=/; HttpOnly; SameSite=Strict{secure}",
            self.cookie_name()
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The web session of a form `POST`, if its CSRF token matches; otherwise
    /// the refusal to answer with. Nothing else is done before this check.
    fn check_post(
        &self,
        headers: &HeaderMap,
        token: &str,
    ) -> Result<(String, WebSession), Refusal> {
        let refused = || {
            Refusal::from(html(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "",
                "<p class=\"status bad\" role=\"alert\">The form was not accepted: it is too old, \
                 or it did not come from this page. Nothing was done.</p>\
                 <p><a class=\"button\" href=\"/web/login\">Start again</a></p>",
                None,
            ))
        };
        let (key, session) = self.session(headers).ok_or_else(refused)?;
        if bool::from(session.csrf.as_bytes().ct_eq(token.as_bytes())) {
            Ok((key, session))
        } else {
            Err(refused())
        }
    }

    /// Runs a verifier operation off the async runtime (its store calls block).
    async fn verifier<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&Verifier) -> Result<T, VerifierError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let verifier = self.app.verifier.clone();
        blocking(move || Ok(operation(&verifier)?)).await
    }

    /// Shows what the server refused, on the next page.
    fn flash_error(&self, key: &str, error: &ApiError) {
        self.flash(key, Tone::Bad, say_error(error));
    }
}

// ---------------------------------------------------------------------------
// Form posts

/// A form of this page: it carries the web session's CSRF token.
trait WebForm: DeserializeOwned + Send {
    /// The token as posted.
    fn csrf(&self) -> &str;
}

/// Implements [`WebForm`] for forms whose token is their `csrf` field.
macro_rules! web_forms {
    ($($form:ty),+ $(,)?) => {
        $(impl WebForm for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}

web_forms!(
    SignInForm,
    ResponseForm,
    CodeForm,
    NewCodeForm,
    CsrfForm,
    MoveForm,
    PhoneForm,
);

/// A form `POST` whose CSRF token matched its web session's: the form, and the
/// session's key and state. Extracting one is the only way for a handler to
/// read a form, so none can skip the check, and nothing runs before it (the
/// module's invariants).
struct CheckedPost<F> {
    form: F,
    key: String,
    session: WebSession,
}

impl<F: WebForm> FromRequest<Web> for CheckedPost<F> {
    type Rejection = Refusal;

    async fn from_request(request: Request, web: &Web) -> Result<Self, Refusal> {
        let headers = request.headers().clone();
        let Ok(Form(form)) = Form::<F>::from_request(request, web).await else {
            return Err(bad_form().into());
        };
        let (key, session) = web.check_post(&headers, form.csrf())?;
        Ok(Self { form, key, session })
    }
}

impl<F> CheckedPost<F> {
    /// The signed-in account's username, or the way back to the login page.
    fn signed_in(&self) -> Result<String, Refusal> {
        match &self.session.stage {
            Stage::SignedIn { username, .. } => Ok(username.clone()),
            _ => Err(see_other("/web/login").into()),
        }
    }

    /// The session's pending login, or the way back to the login page (which
    /// says that the login has ended).
    fn pending_login(&self, web: &Web) -> Result<Box<Login>, Refusal> {
        match &self.session.stage {
            Stage::SecondFactor(login) if login.result.is_none() => Ok(login.clone()),
            _ => {
                web.flash(&self.key, Tone::Info, "That login has ended.");
                Err(see_other("/web/login").into())
            }
        }
    }

    /// The session's pending login and the answer `typed` for it: `count`
    /// digits, spaces allowed. Otherwise the way back to the login page, which
    /// says that the login has ended, or `retype`.
    fn typed_answer(
        &self,
        web: &Web,
        typed: &str,
        count: usize,
        retype: &str,
    ) -> Result<(Box<Login>, String), Refusal> {
        let login = self.pending_login(web)?;
        let Some(answer) = digits(typed, count) else {
            web.flash(&self.key, Tone::Bad, retype);
            return Err(see_other("/web/login").into());
        };
        Ok((login, answer))
    }
}

/// What the login page shows when the verifier refuses an answer to the login.
enum Refused {
    /// The login has ended: its result, shown from then on (not a one-time
    /// message: the page's status script may load the page first).
    Ended(LoginResult),
    /// The login goes on: a message, shown once.
    Again(String),
    /// Any other refusal: shown once, as [`say_error`] words it.
    Other(ApiError),
}

/// Gives the pending `login` the `answer` typed for it and goes back to the
/// login page: `submit` hands it to the verifier (off the async runtime; it
/// may decide the login), the status long-polls wake, and a refusal is shown
/// as `refused` reads it.
async fn answer_login(
    web: &Web,
    key: &str,
    mut login: Box<Login>,
    answer: String,
    submit: fn(&Verifier, &SessionId, &str) -> Result<(), VerifierError>,
    refused: fn(ApiError) -> Refused,
) -> Response {
    let id = login.session;
    let outcome = web
        .verifier(move |verifier| submit(verifier, &id, &answer))
        .await;
    web.app.decisions.notify_waiters();
    if let Err(error) = outcome {
        match refused(error) {
            Refused::Ended(result) => {
                login.result = Some(result);
                web.update(key, |s| s.stage = Stage::SecondFactor(login));
            }
            Refused::Again(text) => web.flash(key, Tone::Bad, text),
            Refused::Other(error) => web.flash_error(key, &error),
        }
    }
    see_other("/web/login")
}

// ---------------------------------------------------------------------------
// Pages and their pieces

const LAYOUT: &str = include_str!("web/page.html");
const SCRIPT: &str = include_str!("web/app.js");
const STYLESHEET: &str = include_str!("web/style.css");

/// Escapes text for HTML element content and double-quoted attribute values.
/// Every page of this server (the `/web` pages and the cancel link's pages)
/// quotes its attributes with double quotes, so an apostrophe stays as it is.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// A Unix time as `2026-12-05 14:03 UTC`.
fn when(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(i64::MAX / 2);
    let secs = unix % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// A whole page.
fn html(
    status: StatusCode,
    title: &str,
    page: &str,
    body: &str,
    chrome: Option<&Chrome>,
) -> Response {
    let header = chrome.map(Chrome::header).unwrap_or_default();
    let flash = chrome.map(Chrome::flash).unwrap_or_default();
    let text = LAYOUT
        .replace("{{title}}", &esc(title))
        .replace("{{page}}", page)
        .replace("{{header}}", &header)
        .replace("{{flash}}", &flash)
        .replace(
            "{{footer}}",
            "Latchkey reference login. Never share a code or a response: nobody from support will \
             ask for one.",
        )
        .replace("{{body}}", body);
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        text,
    )
        .into_response()
}

/// What every page of a session shows around its content.
struct Chrome {
    csrf: String,
    signed_in: Option<String>,
    flash: Vec<(Tone, String)>,
}

impl Chrome {
    fn of(web: &Web, key: &str, session: &WebSession) -> Self {
        Self {
            csrf: session.csrf.clone(),
            signed_in: match &session.stage {
                Stage::SignedIn { username, .. } => Some(username.clone()),
                _ => None,
            },
            flash: web.take_flash(key),
        }
    }

    fn csrf_field(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            esc(&self.csrf)
        )
    }

    fn header(&self) -> String {
        match &self.signed_in {
            Some(username) => format!(
                "<form method=\"post\" action=\"/web/logout\" class=\"row\">{}\
                 <span>Signed in as <strong>{}</strong></span> \
                 <a href=\"/web/account\">Security settings</a> \
                 <button class=\"link\" type=\"submit\">Log out</button></form>",
                self.csrf_field(),
                esc(username)
            ),
            None => String::new(),
        }
    }

    fn flash(&self) -> String {
        let mut out = String::new();
        for (tone, text) in &self.flash {
            let role = if *tone == Tone::Bad {
                "alert"
            } else {
                "status"
            };
            let _ = write!(
                out,
                "<p class=\"{}\" role=\"{role}\">{}</p>",
                tone.class(),
                esc(text)
            );
        }
        out
    }
}

fn failure_page(text: &str) -> Response {
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "",
        &format!(
            "<p class=\"status bad\" role=\"alert\">{}</p><p><a class=\"button\" \
             href=\"/web/login\">Start again</a></p>",
            esc(text)
        ),
        None,
    )
}

fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

fn with_cookie(web: &Web, key: &str, mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::SET_COOKIE, web.set_cookie(key));
    response
}

/// A sentence from an error's text: capitalised, ending with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// What the page says when the server refused something.
fn say_error(error: &ApiError) -> String {
    match error {
        ApiError::Unauthorized => "Wrong username or password.".into(),
        ApiError::Internal(_) => "Something went wrong on the server; please try again.".into(),
        ApiError::Verifier(VerifierError::PasswordResetRequired) => {
            "This account needs a password reset before it can log in again (after wrong answers \
             on the phone, or a login reported with \u{201c}This wasn't me\u{201d}). Reset your \
             password with support; after the reset you can log in as before."
                .into()
        }
        ApiError::Verifier(VerifierError::AttemptDelayed { retry_after })
        | ApiError::Verifier(VerifierError::RateLimited { retry_after }) => format!(
            "{} Try again after {}.",
            sentence(&error.to_string()),
            when(*retry_after)
        ),
        ApiError::Verifier(VerifierError::CodeRefused(refusal)) => format!(
            "{} A new code is possible after {}.",
            sentence(&error.to_string()),
            when(refusal.until())
        ),
        other => sentence(&other.to_string()),
    }
}

// ---------------------------------------------------------------------------
// Static files

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response()
}

async fn home() -> Response {
    see_other("/web/login")
}

// ---------------------------------------------------------------------------
// Signing in

/// `?client=…&client_version=…`: the client that launched this page.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LaunchQuery {
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    client_version: Option<String>,
}

/// `GET /web/login`: the page for where this browser stands.
async fn login_page(
    State(web): State<Web>,
    headers: HeaderMap,
    query: Result<Query<LaunchQuery>, QueryRejection>,
) -> Response {
    let launch = query.map(|Query(q)| q).unwrap_or_default();
    let Some((key, session)) = web.session(&headers) else {
        let key = match web.create(Stage::SignedOut, None) {
            Ok(key) => key,
            Err(refusal) => return refusal.into_response(),
        };
        let Some((key, session)) = web.lock().get(&key).cloned().map(|s| (key, s)) else {
            return failure_page("The session could not be made.");
        };
        let chrome = Chrome::of(&web, &key, &session);
        return with_cookie(&web, &key, sign_in_page(&chrome, &session, &launch));
    };
    match session.stage.clone() {
        Stage::SignedOut => {
            let chrome = Chrome::of(&web, &key, &session);
            sign_in_page(&chrome, &session, &launch)
        }
        Stage::Recover { username, reason } => {
            let chrome = Chrome::of(&web, &key, &session);
            recover_page(&chrome, &username, &reason)
        }
        Stage::SignedIn {
            username,
            opted_out,
        } => {
            let chrome = Chrome::of(&web, &key, &session);
            signed_in_page(&chrome, &username, opted_out.as_ref())
        }
        Stage::SecondFactor(login) => {
            let login = match refresh(&web, &key, *login, 0).await {
                Ok(Refreshed::Approved) => {
                    let session = web.lock().get(&key).cloned().unwrap_or(session);
                    let chrome = Chrome::of(&web, &key, &session);
                    return signed_in_page(&chrome, &login_username(&session), None);
                }
                Ok(Refreshed::Still(login)) => login,
                Err(error) => {
                    web.flash(&key, Tone::Bad, say_error(&error));
                    let chrome = Chrome::of(&web, &key, &session);
                    return sign_in_page(&chrome, &session, &launch);
                }
            };
            let chrome = Chrome::of(&web, &key, &session);
            second_factor_page(&chrome, &login)
        }
    }
}

fn sign_in_page(chrome: &Chrome, session: &WebSession, launch: &LaunchQuery) -> Response {
    let hidden_client = match (&launch.client, &launch.client_version) {
        (None, None) => String::new(),
        (client, version) => format!(
            "<input type=\"hidden\" name=\"client\" value=\"{}\">\
             <input type=\"hidden\" name=\"client_version\" value=\"{}\">",
            esc(client.as_deref().unwrap_or(WEB_CLIENT)),
            esc(version.as_deref().unwrap_or(""))
        ),
    };
    let body = format!(
        "<form method=\"post\" action=\"/web/login\" novalidate>{csrf}{hidden_client}\
         <label for=\"username\">Username</label>\
         <input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" \
          autocapitalize=\"none\" spellcheck=\"false\" required value=\"{username}\">\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" \
          autocomplete=\"current-password\" required>\
         <button type=\"submit\">Log in</button></form>\
         <p class=\"hint\">After your password, approve the login on your Latchkey phone, or \
          type the security code we send you.</p>",
        csrf = chrome.csrf_field(),
        username = esc(&session.last_username),
    );
    html(StatusCode::OK, "Log in", "sign-in", &body, Some(chrome))
}

fn login_username(session: &WebSession) -> String {
    match &session.stage {
        Stage::SignedIn { username, .. } | Stage::Recover { username, .. } => username.clone(),
        Stage::SecondFactor(login) => login.username.clone(),
        Stage::SignedOut => String::new(),
    }
}

/// The sign-in form.
#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf: String,
    username: String,
    password: String,
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    client_version: Option<String>,
}

fn bad_form() -> Response {
    html(
        StatusCode::BAD_REQUEST,
        "The form could not be read",
        "",
        "<p class=\"status bad\" role=\"alert\">The form was incomplete. Nothing was done.</p>\
         <p><a class=\"button\" href=\"/web/login\">Start again</a></p>",
        None,
    )
}

/// `POST /web/login`: username and password → a login session.
async fn sign_in(
    State(web): State<Web>,
    client_address: ClientAddress,
    CheckedPost { form, key, .. }: CheckedPost<SignInForm>,
) -> Result<Response, Refusal> {
    let username = form.username.trim().to_owned();
    web.update(&key, |s| {
        s.last_username = username.chars().take(64).collect()
    });
    let client = form
        .client
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| WEB_CLIENT.to_owned());
    let version_text = form
        .client_version
        .filter(|v| !v.trim().is_empty())
        .or_else(|| (client == WEB_CLIENT).then(|| WEB_CLIENT_VERSION.to_owned()));
    let version = match version_text.as_deref().map(str::parse::<ClientVersion>) {
        None => None,
        Some(Ok(version)) => Some(version),
        Some(Err(_)) => {
            web.flash(
                &key,
                Tone::Bad,
                "The client version this page was opened with is not valid.",
            );
            return Ok(see_other("/web/login"));
        }
    };
    let credentials = Credentials {
        username: username.clone(),
        password: form.password,
    };
    let username = match check_password(&web.app, client_address, credentials).await {
        Ok(username) => username,
        Err(error) => {
            web.flash_error(&key, &error);
            return Ok(see_other("/web/login"));
        }
    };
    let user = username.clone();
    let opened = web
        .verifier(move |verifier| {
            verifier.open_session(
                &user,
                "Client Portal (web)",
                &client,
                version.as_ref(),
                "web browser",
            )
        })
        .await;
    let stage = match opened {
        Ok(opened) => opened_stage(&web, &username, opened).await,
        Err(ApiError::Verifier(VerifierError::EnrollmentDisabled)) => Stage::Recover {
            username: username.clone(),
            reason: "Your Latchkey phone is disabled after 10 wrong answers, so it cannot approve \
                     logins any more. Move the account to a new phone: it becomes your \
                     authentication phone after a 72-hour hold, during which your e-mail address \
                     and phone number are told and can cancel the move."
                .into(),
        },
        Err(error) => {
            web.flash_error(&key, &error);
            return Ok(see_other("/web/login"));
        }
    };
    let fresh = web.rotate(&key, stage)?;
    Ok(with_cookie(&web, &fresh, see_other("/web/login")))
}

/// The account's number, masked, for the page.
async fn masked_phone(web: &Web, username: &str) -> String {
    let users = web.app.users.clone();
    let Ok(username) = username.parse::<Username>() else {
        return "your phone number".into();
    };
    blocking(move || Ok(users.get(&username)?))
        .await
        .ok()
        .flatten()
        .map_or_else(|| "your phone number".into(), |user| user.phone.masked())
}

async fn opened_stage(web: &Web, username: &str, opened: OpenedSession) -> Stage {
    if opened.factor == LoginFactor::None {
        return Stage::SignedIn {
            username: username.to_owned(),
            opted_out: Some((
                "Approved without a second factor: this account opted out of two-factor \
                 authentication."
                    .into(),
                opened.opt_out_warning.clone(),
            )),
        };
    }
    let phone_masked = masked_phone(web, username).await;
    let code_status = match &opened.code {
        Some(CodeDisposition::Sent(_)) => {
            format!("A security code was sent by SMS to {phone_masked}. It expires in 5 minutes.")
        }
        Some(CodeDisposition::Refused(refusal)) => format!(
            "No security code was sent: {} A new code is possible after {}.",
            sentence(&VerifierError::CodeRefused(*refusal).to_string()),
            when(refusal.until())
        ),
        None => String::new(),
    };
    Stage::SecondFactor(Box::new(Login {
        username: username.to_owned(),
        session: opened.session,
        factor: opened.factor,
        challenge: opened.challenge.to_string(),
        push: opened.push.clone(),
        voice_refused: match &opened.voice {
            Some(Err(refusal)) => Some(sentence(&refusal.to_string())),
            _ => None,
        },
        code_status,
        phone_masked,
        result: None,
    }))
}

enum Refreshed {
    /// The login was approved: the browser is signed in now.
    Approved,
    /// Still pending, or ended (with its result set).
    Still(Box<Login>),
}

/// Reads the login's state (waiting up to `wait` seconds for a decision) and
/// moves the web session on: signed in when approved, the result when ended.
async fn refresh(web: &Web, key: &str, mut login: Login, wait: u64) -> Result<Refreshed, ApiError> {
    if login.result.is_some() {
        return Ok(Refreshed::Still(Box::new(login)));
    }
    let view = wait_for_decision(&web.app, login.session, wait).await?;
    let result = match view.status {
        "pending" => return Ok(Refreshed::Still(Box::new(login))),
        "approved" => {
            let username = login.username.clone();
            web.update(key, |s| {
                s.stage = Stage::SignedIn {
                    username,
                    opted_out: None,
                }
            });
            return Ok(Refreshed::Approved);
        }
        "denied" => LoginResult {
            title: "Login declined",
            text: "The login was declined on your Latchkey phone.".into(),
            next: "If you declined it by mistake, log in again.".into(),
        },
        "fraud" if view.password_reset_required => LoginResult {
            title: "Login reported: \u{201c}This wasn't me\u{201d}",
            text: "This login was stopped and reported from your phone. To protect the account, \
                   its password must be reset and login notifications are paused for 24 hours. \
                   We sent an e-mail and an SMS about it."
                .into(),
            next: "What to do next: reset your password with support; check the e-mail we sent \
                   and any activity you do not recognise; then log in again (with the \
                   challenge/response on your phone while notifications are paused)."
                .into(),
        },
        "fraud" => LoginResult {
            title: "Login stopped",
            text: "The code typed on the phone did not match the code on this screen, so the \
                   login was stopped and reported as possible fraud."
                .into(),
            next: "If you typed it yourself, log in again and type the code shown here. If you \
                   did not, someone else may know your password: change it."
                .into(),
        },
        "failed" if view.password_reset_required => LoginResult {
            title: "Account locked",
            text: "Too many wrong answers: this login ended and the account now needs a \
                   password reset."
                .into(),
            next: "Reset your password with support, then log in again. After 10 wrong answers \
                   in all, the phone is disabled and must be replaced."
                .into(),
        },
        "failed" => LoginResult {
            title: "Login failed",
            text: "The response was wrong, so this login ended.".into(),
            next: "Log in again: you get a new code, and your phone generates a new response \
                   for it."
                .into(),
        },
        _ => LoginResult {
            title: "Login expired",
            text: "This login was not approved within 5 minutes.".into(),
            next: "Log in again.".into(),
        },
    };
    login.result = Some(result);
    let stored = login.clone();
    web.update(key, |s| {
        // A result the page already holds (with more detail, from the handler
        // that decided the login) is kept.
        if let Stage::SecondFactor(held) = &s.stage {
            if held.session == stored.session && held.result.is_none() {
                s.stage = Stage::SecondFactor(Box::new(stored));
            }
        }
    });
    Ok(Refreshed::Still(Box::new(login)))
}

fn start_over(chrome: &Chrome, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/web/logout\">{}<button type=\"submit\" \
         class=\"secondary\">{}</button></form>",
        chrome.csrf_field(),
        esc(label)
    )
}

fn lost_phone_form(chrome: &Chrome) -> String {
    format!(
        "<h2>Lost your phone?</h2><p>Move the account to a new phone with your password and a \
         code we send by SMS. The move takes effect after a 72-hour hold; your old phone and \
         your e-mail address are told and can cancel it.</p>\
         <form method=\"post\" action=\"/web/login/activate\">{}\
         <input type=\"hidden\" name=\"how\" value=\"lost_phone\">\
         <button type=\"submit\" class=\"secondary\">Move to a new phone</button></form>",
        chrome.csrf_field()
    )
}

fn second_factor_page(chrome: &Chrome, login: &Login) -> Response {
    if let Some(result) = &login.result {
        let body = format!(
            "<div class=\"status bad\" role=\"alert\"><strong>{}</strong>{}</div><p>{}</p>{}",
            esc(result.title),
            esc(&result.text),
            esc(&result.next),
            start_over(chrome, "Log in again"),
        );
        return html(StatusCode::OK, result.title, "result", &body, Some(chrome));
    }
    match login.factor {
        LoginFactor::Sms => sms_page(chrome, login),
        _ => push_page(chrome, login),
    }
}

fn response_form(chrome: &Chrome, challenge: &str, open: bool) -> String {
    format!(
        "<details id=\"fallback\"{open}><summary>Click here if you do not receive the \
         notification</summary>\
         <ol class=\"steps\"><li>On your phone, open Latchkey and choose \
         <strong>Authenticate</strong>.</li><li>Enter your PIN (or use your fingerprint).</li>\
         <li>Enter the challenge <strong>{challenge}</strong> and choose \
         <strong>Generate</strong>.</li><li>Type the 8-digit response below.</li></ol>\
         <p class=\"hint\">This works without internet on the phone. Only use a challenge from \
         your own login screen.</p>\
         <form method=\"post\" action=\"/web/login/response\">{csrf}\
         <label for=\"response\">8-digit response</label>\
         <input type=\"text\" id=\"response\" name=\"response\" class=\"digits\" \
          inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{8}}\" \
          maxlength=\"8\" required aria-describedby=\"response-hint\">\
         <p class=\"hint\" id=\"response-hint\">Eight digits, from the Authenticate screen.</p>\
         <button type=\"submit\">Submit response</button></form></details>",
        open = if open { " open" } else { "" },
        challenge = esc(challenge),
        csrf = chrome.csrf_field(),
    )
}

fn push_page(chrome: &Chrome, login: &Login) -> Response {
    let (status, open, poll) = match &login.push {
        PushDisposition::Sent => (
            "Waiting for you to approve the login on your phone…".to_owned(),
            false,
            true,
        ),
        PushDisposition::Refused { reason, until } => (
            format!(
                "No notification was sent: {} Notifications resume after {}.",
                reason,
                when(*until)
            ),
            true,
            true,
        ),
        PushDisposition::NoPhone | PushDisposition::NotUsed => {
            let body = format!(
                "<div class=\"status warn\" role=\"status\"><strong>No Latchkey phone yet</strong>\
                 This account has no active Latchkey phone, so there is nothing to approve this \
                 login with.</div>\
                 <p>Set up the Latchkey app on your phone: we send a 13-digit activation code by \
                 SMS to {phone}, and give you a ticket for the app.</p>\
                 <form method=\"post\" action=\"/web/login/activate\">{csrf}\
                 <input type=\"hidden\" name=\"how\" value=\"first\">\
                 <button type=\"submit\">Set up Latchkey on my phone</button></form>{over}",
                phone = esc(&login.phone_masked),
                csrf = chrome.csrf_field(),
                over = start_over(chrome, "Start over"),
            );
            return html(
                StatusCode::OK,
                "Set up your phone",
                "setup",
                &body,
                Some(chrome),
            );
        }
    };
    let body = format!(
        "<p>Your login code:</p><p class=\"challenge\" id=\"challenge\">{challenge}</p>\
         <p>We sent a notification to your Latchkey phone. Open it, check that it is your login, \
         type this code, and confirm with your PIN or fingerprint.</p>\
         <p id=\"live-status\" class=\"status\" role=\"status\" aria-live=\"polite\">{status}</p>\
         <p><a id=\"check-again\" class=\"button secondary\" href=\"/web/login\">Check again</a></p>\
         {fallback}{lost}<h2>Not you?</h2><p>If you did not start this login, choose \
         <strong>This wasn't me</strong> on the phone's notification.</p>{over}",
        challenge = esc(&login.challenge),
        status = esc(&status),
        fallback = response_form(chrome, &login.challenge, open),
        lost = lost_phone_form(chrome),
        over = start_over(chrome, "Cancel this login"),
    );
    html(
        StatusCode::OK,
        "Approve on your phone",
        if poll { "push" } else { "" },
        &body,
        Some(chrome),
    )
}

fn sms_page(chrome: &Chrome, login: &Login) -> Response {
    let voice = match &login.voice_refused {
        None => "<button type=\"submit\" name=\"channel\" value=\"voice\" class=\"secondary\">\
                 Call me with a new code</button>"
            .to_owned(),
        Some(reason) => format!(
            "<button type=\"submit\" name=\"channel\" value=\"voice\" class=\"secondary\" \
             disabled aria-describedby=\"voice-reason\">Call me with a new code</button>\
             <p class=\"hint\" id=\"voice-reason\">{}</p>",
            esc(reason)
        ),
    };
    let body = format!(
        "<p class=\"status\" role=\"status\">{first}</p>\
         <form method=\"post\" action=\"/web/login/code\">{csrf}\
         <label for=\"code\">Security code</label>\
         <input type=\"text\" id=\"code\" name=\"code\" class=\"digits\" inputmode=\"numeric\" \
          autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" maxlength=\"6\" required \
          aria-describedby=\"code-hint\">\
         <p class=\"hint\" id=\"code-hint\">Six digits, from the SMS or the call.</p>\
         <button type=\"submit\">Continue</button></form>\
         <h2>Didn't receive a security code?</h2>\
         <p>Request a new code. It replaces the one before; you can ask once every 2 minutes. A \
          call reads the code after you press a key, so voicemail never records it.</p>\
         <form method=\"post\" action=\"/web/login/new-code\" class=\"row\">{csrf}\
         <button type=\"submit\" name=\"channel\" value=\"sms\" class=\"secondary\">Send a new \
          code by SMS</button>{voice}</form>{over}",
        first = esc(&login.code_status),
        csrf = chrome.csrf_field(),
        over = start_over(chrome, "Cancel this login"),
    );
    html(
        StatusCode::OK,
        "Enter your security code",
        "sms",
        &body,
        Some(chrome),
    )
}

fn recover_page(chrome: &Chrome, username: &str, reason: &str) -> Response {
    let body = format!(
        "<div class=\"status bad\" role=\"alert\"><strong>{user} cannot log in with this \
         phone</strong>{reason}</div>{lost}{over}",
        user = esc(username),
        reason = esc(reason),
        lost = lost_phone_form(chrome),
        over = start_over(chrome, "Start over"),
    );
    html(
        StatusCode::OK,
        "Phone disabled",
        "recover",
        &body,
        Some(chrome),
    )
}

fn signed_in_page(
    chrome: &Chrome,
    username: &str,
    opted_out: Option<&(String, Option<String>)>,
) -> Response {
    let note = match opted_out {
        Some((note, warning)) => format!(
            "<div class=\"status warn\" role=\"status\"><strong>{}</strong>{}</div>",
            esc(note),
            warning
                .as_deref()
                .map(|w| format!("Warning: {}", esc(w)))
                .unwrap_or_default()
        ),
        None => String::new(),
    };
    let body = format!(
        "<div class=\"status ok\" role=\"status\"><strong>Login approved</strong>You are logged in \
         as {}.</div>{note}<p><a class=\"button\" href=\"/web/account\">Security settings</a></p>",
        esc(username)
    );
    html(
        StatusCode::OK,
        "You are logged in",
        "done",
        &body,
        Some(chrome),
    )
}

// ---------------------------------------------------------------------------
// The second factor

/// `GET /web/login/status`: the push login's state for the script, waiting up
/// to 25 s for a decision. Answers only for this browser's own login.
async fn status(State(web): State<Web>, headers: HeaderMap) -> Response {
    let Some((key, session)) = web.session(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "status": "signed_out", "message": "Please log in again." })),
        )
            .into_response();
    };
    let answer = |status: &str, message: &str| {
        Json(serde_json::json!({ "status": status, "message": message })).into_response()
    };
    match session.stage {
        Stage::SecondFactor(login) => match refresh(&web, &key, *login, STATUS_WAIT_SECS).await {
            Ok(Refreshed::Approved) => answer("approved", "Login approved."),
            Ok(Refreshed::Still(login)) => match &login.result {
                Some(result) => answer("ended", &result.text),
                None => answer(
                    "pending",
                    "Waiting for you to approve the login on your phone…",
                ),
            },
            Err(error) => answer("ended", &say_error(&error)),
        },
        Stage::SignedIn { .. } => answer("approved", "Login approved."),
        _ => answer("signed_out", "Please log in again."),
    }
}

fn digits(text: &str, count: usize) -> Option<String> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (text.len() == count && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

#[derive(Deserialize)]
struct ResponseForm {
    #[serde(default)]
    csrf: String,
    response: String,
}

/// `POST /web/login/response`: the 8-digit response typed from the phone's
/// Authenticate screen.
async fn typed_response(
    State(web): State<Web>,
    post: CheckedPost<ResponseForm>,
) -> Result<Response, Refusal> {
    let retype = "A response is 8 digits: type it again.";
    let (login, response) = post.typed_answer(&web, &post.form.response, 8, retype)?;
    let submit = Verifier::submit_typed_response;
    Ok(answer_login(&web, &post.key, login, response, submit, wrong_response).await)
}

/// What a wrong typed response means to the page: the login has ended.
fn wrong_response(error: ApiError) -> Refused {
    let ApiError::Verifier(VerifierError::WrongResponse {
        attempts_left,
        password_reset_required,
        ..
    }) = error
    else {
        return Refused::Other(error);
    };
    Refused::Ended(if password_reset_required {
        LoginResult {
            title: "Account locked",
            text: format!(
                "Wrong response: this login ended, and after too many wrong answers the \
                 account now needs a password reset. {attempts_left} more wrong answers \
                 disable your Latchkey phone."
            ),
            next: "Reset your password with support, then log in again.".into(),
        }
    } else {
        LoginResult {
            title: "Login failed",
            text: format!(
                "Wrong response: this login ended. {attempts_left} more wrong answers \
                 disable your Latchkey phone."
            ),
            next: "Log in again: you get a new code, and your phone generates a new \
                   response for it."
                .into(),
        }
    })
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    code: String,
}

/// `POST /web/login/code`: the 6-digit SMS or voice code.
async fn sms_code(
    State(web): State<Web>,
    post: CheckedPost<CodeForm>,
) -> Result<Response, Refusal> {
    let retype = "A security code is 6 digits: type it again.";
    let (login, code) = post.typed_answer(&web, &post.form.code, 6, retype)?;
    let submit = Verifier::submit_code;
    Ok(answer_login(&web, &post.key, login, code, submit, wrong_code).await)
}

/// What a wrong security code means to the page: the login ends when it
/// suspends SMS and voice logins, and goes on otherwise.
fn wrong_code(error: ApiError) -> Refused {
    match error {
        ApiError::Verifier(VerifierError::WrongLoginCode {
            attempts_left: 0,
            suspended_until,
            password_reset_required,
        }) => Refused::Ended(LoginResult {
            title: "SMS and voice logins suspended",
            text: format!(
                "Too many wrong security codes: SMS and voice logins of this account are \
                 suspended until {}. We sent you an e-mail about it.",
                suspended_until.map_or_else(|| "later".to_owned(), when)
            ),
            next: if password_reset_required {
                "Wrong codes suspended these logins too often, so the account now also needs \
                 a password reset: reset your password with support, then log in again after \
                 the suspension."
                    .into()
            } else {
                "Wait until then and log in again. If you did not type these codes, \
                 someone may know your password: change it."
                    .into()
            },
        }),
        ApiError::Verifier(VerifierError::WrongLoginCode { attempts_left, .. }) => {
            Refused::Again(format!(
                "Wrong security code. {attempts_left} more wrong codes suspend SMS and voice \
                 logins for an hour."
            ))
        }
        other => Refused::Other(other),
    }
}

#[derive(Deserialize)]
struct NewCodeForm {
    #[serde(default)]
    csrf: String,
    channel: String,
}

/// `POST /web/login/new-code`: "Didn't receive a security code?" — a new code
/// by SMS or by voice callback.
async fn new_code(
    State(web): State<Web>,
    post: CheckedPost<NewCodeForm>,
) -> Result<Response, Refusal> {
    let login = post.pending_login(&web)?;
    let key = post.key;
    let channel = match post.form.channel.as_str() {
        "sms" => CodeChannel::Sms,
        "voice" => CodeChannel::Voice,
        _ => {
            web.flash(&key, Tone::Bad, "Choose SMS or a voice call.");
            return Ok(see_other("/web/login"));
        }
    };
    let id = login.session;
    match web
        .verifier(move |verifier| verifier.request_code(&id, channel))
        .await
    {
        Ok(sent) => {
            // The new code replaces the old one: so does the page's line about it.
            let text = if sent.channel == CodeChannel::Voice {
                format!(
                    "We are calling {} now. Answer, press any key when asked, and the call reads \
                     your new security code. It expires in 5 minutes.",
                    login.phone_masked
                )
            } else {
                format!(
                    "A new security code was sent by SMS to {}. It expires in 5 minutes.",
                    login.phone_masked
                )
            };
            web.update(&key, |s| {
                if let Stage::SecondFactor(held) = &mut s.stage {
                    if held.session == login.session {
                        held.code_status = text;
                    }
                }
            });
        }
        Err(error) => web.flash_error(&key, &error),
    }
    Ok(see_other("/web/login"))
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /web/logout`: ends the web session (and any login in it).
async fn logout(
    State(web): State<Web>,
    CheckedPost { key, .. }: CheckedPost<CsrfForm>,
) -> Result<Response, Refusal> {
    web.update(&key, |s| s.activation = None);
    let fresh = web.rotate(&key, Stage::SignedOut)?;
    Ok(with_cookie(&web, &fresh, see_other("/web/login")))
}

// ---------------------------------------------------------------------------
// Setting up and moving phones

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    csrf: String,
    how: String,
}

fn replace_mode(how: &str) -> Option<Option<ReplaceMode>> {
    match how {
        "first" => Some(None),
        "approve_on_old_phone" => Some(Some(ReplaceMode::ApproveOnOldPhone)),
        "lost_phone" => Some(Some(ReplaceMode::LostPhone)),
        _ => None,
    }
}

/// Starts an activation for `username` and keeps its ticket in the session.
async fn start_activation(
    web: &Web,
    key: &str,
    username: &str,
    replace: Option<ReplaceMode>,
) -> Response {
    let user = username.to_owned();
    let started: Result<ActivationStart, ApiError> = web
        .verifier(move |verifier| verifier.start_activation(&user, replace, MatchingMode::Code))
        .await;
    match started {
        Ok(start) => {
            let activation = Activation {
                username: username.to_owned(),
                ticket_json: super::sessions::activation_view(&start).to_string(),
                replace,
                phone_masked: masked_phone(web, username).await,
                expires_at: start.expires_at,
                started_at: web.now(),
            };
            web.update(key, |s| s.activation = Some(activation));
            see_other("/web/activation")
        }
        Err(ApiError::Verifier(VerifierError::AlreadyEnrolled)) => {
            web.flash(
                key,
                Tone::Warn,
                "This account already has a Latchkey phone: move it instead (with the old phone, \
                 or as a lost phone).",
            );
            see_other("/web/login")
        }
        Err(error) => {
            web.flash_error(key, &error);
            see_other("/web/login")
        }
    }
}

/// `POST /web/login/activate`: after the password, set up a first phone
/// (`how=first`) or move to a new one without the old (`how=lost_phone`: the
/// password and the SMS code, then the hold of docs/PROTOCOL.md §6.5).
async fn login_activate(
    State(web): State<Web>,
    CheckedPost { form, key, session }: CheckedPost<MoveForm>,
) -> Response {
    let username = match &session.stage {
        Stage::SecondFactor(login) => login.username.clone(),
        Stage::Recover { username, .. } | Stage::SignedIn { username, .. } => username.clone(),
        Stage::SignedOut => return see_other("/web/login"),
    };
    let replace = match form.how.as_str() {
        "first" => None,
        "lost_phone" => Some(ReplaceMode::LostPhone),
        _ => return bad_form(),
    };
    start_activation(&web, &key, &username, replace).await
}

/// `POST /web/account/move`: signed in — set up a phone, or move to a new one
/// (approved on the old phone, or as a lost phone).
async fn account_move(
    State(web): State<Web>,
    post: CheckedPost<MoveForm>,
) -> Result<Response, Refusal> {
    let username = post.signed_in()?;
    let Some(replace) = replace_mode(&post.form.how) else {
        return Ok(bad_form());
    };
    Ok(start_activation(&web, &post.key, &username, replace).await)
}

/// What the page knows of an account's phones and moves.
struct PhoneFacts {
    active: Option<(String, EnrollmentStatus)>,
    pending_move: Option<(ReplacementKind, Option<u64>, String)>,
    ended_move: Option<(bool, Option<u64>)>,
}

async fn phone_facts(web: &Web, username: &str, since: u64) -> Result<PhoneFacts, ApiError> {
    let store = web.app.store.clone();
    let username = username.to_owned();
    blocking(move || {
        store
            .in_transaction(|tx| {
                let enrollments = tx.enrollments_of(&username)?;
                let active = enrollments
                    .iter()
                    .find(|e| {
                        matches!(
                            e.status,
                            EnrollmentStatus::Active | EnrollmentStatus::Disabled
                        )
                    })
                    .map(|e| (e.device_name.clone(), e.status));
                let moves = tx.replacements_of(&username)?;
                let pending_move = moves
                    .iter()
                    .filter(|r| r.status == crate::store::ReplacementStatus::Pending)
                    .max_by_key(|r| r.created_at)
                    .map(|r| {
                        let name = enrollments
                            .iter()
                            .find(|e| e.id == r.new_enrollment)
                            .map(|e| e.device_name.clone())
                            .unwrap_or_default();
                        (r.kind, r.effective_at, name)
                    });
                let ended_move = moves
                    .iter()
                    .filter(|r| r.created_at >= since && r.ended_at.is_some())
                    .max_by_key(|r| r.created_at)
                    .map(|r| {
                        (
                            r.status == crate::store::ReplacementStatus::Completed,
                            r.ended_at,
                        )
                    });
                Ok(PhoneFacts {
                    active,
                    pending_move,
                    ended_move,
                })
            })
            .map_err(|error: crate::store::StoreError| ApiError::internal(error))
    })
    .await
}

fn pending_move_text(kind: ReplacementKind, effective_at: Option<u64>, name: &str) -> String {
    let name = if name.is_empty() {
        "The new phone"
    } else {
        name
    };
    match (kind, effective_at) {
        (ReplacementKind::LostPhone, Some(at)) => format!(
            "{name} will become this account's authentication phone on {} (after the 72-hour \
             hold) unless the move is cancelled. To cancel: open the link in the e-mail we sent, \
             or choose Cancel move in Latchkey on the old phone.",
            when(at)
        ),
        _ => format!(
            "{name} is waiting to replace the old phone. On the old phone, open Latchkey, sync, \
             and approve the move with your PIN; it takes effect at once."
        ),
    }
}

/// `GET /web/activation`: the ticket for the phone, what to do with it, and
/// where the move stands.
async fn activation_page(State(web): State<Web>, headers: HeaderMap) -> Response {
    let Some((key, session)) = web.session(&headers) else {
        return see_other("/web/login");
    };
    let Some(activation) = session.activation.clone() else {
        return see_other("/web/login");
    };
    let chrome = Chrome::of(&web, &key, &session);
    let facts = phone_facts(&web, &activation.username, activation.started_at).await;
    let progress = match facts {
        Ok(PhoneFacts {
            pending_move: Some((kind, at, name)),
            ..
        }) => format!(
            "<div class=\"status warn\" role=\"status\"><strong>Move pending</strong>{}</div>",
            esc(&pending_move_text(kind, at, &name))
        ),
        Ok(PhoneFacts {
            ended_move: Some((true, _)),
            ..
        }) => "<div class=\"status ok\" role=\"status\"><strong>Move completed</strong>The new \
               phone is now this account's authentication phone.</div>"
            .to_owned(),
        Ok(PhoneFacts {
            ended_move: Some((false, at)),
            ..
        }) => format!(
            "<div class=\"status bad\" role=\"status\"><strong>Move cancelled</strong>The move to \
             the new phone was cancelled{}. The old phone stays the authentication phone.</div>",
            at.map(|t| format!(" at {}", when(t))).unwrap_or_default()
        ),
        Ok(PhoneFacts {
            active: Some(_), ..
        }) if activation.replace.is_none() => "<div class=\"status ok\" role=\"status\">\
             <strong>Phone active</strong>Latchkey is set up: log in again and approve on your \
             phone.</div>"
            .to_owned(),
        _ => format!(
            "<p class=\"status\" role=\"status\">Waiting for the phone to be activated (the code \
             and this ticket expire at {}).</p>",
            when(activation.expires_at)
        ),
    };
    let what = match activation.replace {
        None => "Set up Latchkey on your phone",
        Some(ReplaceMode::ApproveOnOldPhone) => "Move to a new phone (approved on the old one)",
        Some(ReplaceMode::LostPhone) => "Move to a new phone (lost phone)",
    };
    let after = match activation.replace {
        None => "The phone becomes the account's authentication phone at once.".to_owned(),
        Some(ReplaceMode::ApproveOnOldPhone) => "Then approve the move on the old phone: open \
             Latchkey there, sync, and approve it with your PIN. It takes effect at once."
            .to_owned(),
        Some(ReplaceMode::LostPhone) => format!(
            "The new phone becomes the account's authentication phone {} after it is \
             activated. Until then the old phone, your e-mail address and your phone number are \
             told, and the move can be cancelled from the old phone or with the link in the \
             e-mail.",
            web.app.config.limits.replacement_hold_words()
        ),
    };
    let body = format!(
        "<ol class=\"steps\"><li>We sent a 13-digit activation code by SMS to {phone}. It \
         expires at {expires}.</li>\
         <li>In the Latchkey app on the new phone choose <strong>Add account</strong> and give it \
         this ticket (<a href=\"/web/activation/ticket.json\" download>download \
         ticket.json</a>):</li></ol>\
         <pre class=\"ticket\" id=\"ticket\" tabindex=\"0\" aria-label=\"Activation ticket\">\
         {ticket}</pre>\
         <ol class=\"steps\" start=\"3\"><li>Type the 13-digit code, and choose a PIN of at \
         least 6 digits (twice).</li><li>{after}</li></ol>{progress}\
         <p><a class=\"button secondary\" href=\"/web/activation\">Check again</a></p>{over}",
        phone = esc(&activation.phone_masked),
        expires = when(activation.expires_at),
        ticket = esc(&activation.ticket_json),
        after = esc(&after),
        over = if chrome.signed_in.is_some() {
            "<p><a class=\"button secondary\" href=\"/web/account\">Back to security \
             settings</a></p>"
                .to_owned()
        } else {
            start_over(&chrome, "Done: log in again")
        },
    );
    html(StatusCode::OK, what, "activation", &body, Some(&chrome))
}

/// `GET /web/activation/ticket.json`: the ticket, as a file for the phone.
async fn ticket_file(State(web): State<Web>, headers: HeaderMap) -> Response {
    match web.session(&headers).and_then(|(_, s)| s.activation) {
        Some(activation) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"ticket.json\"",
                ),
            ],
            activation.ticket_json,
        )
            .into_response(),
        None => ApiError::NotFound.into_response(),
    }
}

// ---------------------------------------------------------------------------
// Security settings

fn signed_in(web: &Web, headers: &HeaderMap) -> Option<(String, WebSession, String)> {
    let (key, session) = web.session(headers)?;
    match &session.stage {
        Stage::SignedIn { username, .. } => {
            let username = username.clone();
            Some((key, session, username))
        }
        _ => None,
    }
}

/// The account's record and its two-factor state, or the failure page.
async fn account_state(web: &Web, username: &str) -> Result<(User, TwoFactorState), Refusal> {
    let users = web.app.users.clone();
    let verifier = web.app.verifier.clone();
    let name = username.to_owned();
    blocking(move || {
        let parsed: Username = name.parse().map_err(|_| ApiError::UserNotFound)?;
        let user = users.get(&parsed)?.ok_or(ApiError::UserNotFound)?;
        let two_factor = verifier.two_factor_state(&name)?;
        Ok((user, two_factor))
    })
    .await
    .map_err(|error| failure_page(&say_error(&error)).into())
}

/// `GET /web/account`: the security settings of the signed-in account.
async fn account_page(State(web): State<Web>, headers: HeaderMap) -> Result<Response, Refusal> {
    let Some((key, session, username)) = signed_in(&web, &headers) else {
        return Ok(see_other("/web/login"));
    };
    let (user, two_factor) = account_state(&web, &username).await?;
    let facts = match phone_facts(&web, &username, 0).await {
        Ok(facts) => facts,
        Err(error) => return Ok(failure_page(&say_error(&error))),
    };
    let policy = web.app.policy.for_jurisdiction(&user.jurisdiction);
    let chrome = Chrome::of(&web, &key, &session);
    let csrf = chrome.csrf_field();
    let factor = if two_factor.opted_out {
        format!(
            "Off — opted out{}",
            two_factor
                .opted_out_at
                .map(|t| format!(" on {}", when(t)))
                .unwrap_or_default()
        )
    } else {
        match &facts.active {
            Some((name, EnrollmentStatus::Disabled)) => {
                format!(
                    "On — Latchkey phone \u{201c}{name}\u{201d} (disabled: move to a new phone)"
                )
            }
            Some((name, _)) => format!("On — Latchkey phone \u{201c}{name}\u{201d}"),
            None if user.second_factor.as_str() == "sms" => {
                format!("On — security codes by SMS to {}", user.phone.masked())
            }
            None => "On — no Latchkey phone set up yet".to_owned(),
        }
    };
    let mut body = format!(
        "<dl class=\"facts\"><dt>Username</dt><dd>{user}</dd>\
         <dt>Phone number</dt><dd>{phone}</dd><dt>E-mail</dt><dd>{email}</dd>\
         <dt>Two-factor</dt><dd id=\"two-factor\">{factor}</dd></dl>",
        user = esc(user.username.as_str()),
        phone = esc(&user.phone.masked()),
        email = esc(&user.email.masked()),
        factor = esc(&factor),
    );
    if let (Some(warning), true) = (&two_factor.opt_out_warning, two_factor.opted_out) {
        let _ = write!(
            body,
            "<p class=\"status warn\" role=\"status\">Warning: {}</p>",
            esc(warning)
        );
    }
    if let Some((kind, at, name)) = &facts.pending_move {
        let _ = write!(
            body,
            "<div class=\"status warn\" role=\"status\"><strong>Move pending</strong>{}</div>",
            esc(&pending_move_text(*kind, *at, name))
        );
    }

    // Phone number.
    let step_up = if facts.active.is_some() {
        "<p class=\"hint\">Your account has a Latchkey phone, so a new number counts as a new \
         authenticator: first confirm the change on the phone (Latchkey → the account → Change \
         phone number, with your PIN), then submit the new number here within 5 minutes.</p>"
    } else {
        ""
    };
    let _ = write!(
        body,
        "<h2>Phone number</h2><p>Security codes and notices go to {phone}.</p>{step_up}\
         <form method=\"post\" action=\"/web/account/phone-number\">{csrf}\
         <label for=\"phone\">New phone number</label>\
         <input type=\"tel\" id=\"phone\" name=\"phone\" autocomplete=\"tel\" required \
          aria-describedby=\"phone-hint\">\
         <p class=\"hint\" id=\"phone-hint\">International format, e.g. +14155550123.</p>\
         <button type=\"submit\">Change phone number</button></form>",
        phone = esc(&user.phone.masked()),
    );

    // Opting out.
    let _ = write!(body, "<h2>Two-factor authentication</h2>");
    if !policy.may_opt_out() {
        let _ = write!(
            body,
            "<p>Two-factor authentication is mandatory for accounts in your jurisdiction ({}): \
             {}.</p>",
            esc(user.jurisdiction.as_str()),
            esc(policy.citation().unwrap_or("the regulator's rules"))
        );
    } else if two_factor.opted_out {
        let _ = write!(
            body,
            "<p>Two-factor authentication is off: logins need only the password. Turn it on again \
             by setting up Latchkey on your phone.</p>"
        );
    } else {
        let _ = write!(
            body,
            "<p>You may turn two-factor authentication off. Then anyone who learns your password \
             can log in.</p>"
        );
    }
    if !two_factor.opted_out {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/web/account/opt-out\">{csrf}\
             <button type=\"submit\" class=\"secondary\">Turn off two-factor \
             authentication</button></form>"
        );
    }

    // Phones.
    let _ = write!(body, "<h2>Your Latchkey phone</h2>");
    match &facts.active {
        Some((_, EnrollmentStatus::Disabled)) => {
            let _ = write!(
                body,
                "<p>Your phone is disabled after too many wrong answers. Move the account to a \
                 new phone (it takes effect after a 72-hour hold).</p>\
                 <form method=\"post\" action=\"/web/account/move\">{csrf}\
                 <input type=\"hidden\" name=\"how\" value=\"lost_phone\">\
                 <button type=\"submit\">Move to a new phone</button></form>"
            );
        }
        Some(_) => {
            let _ = write!(
                body,
                "<p>Moving to a new phone: approve it on the old phone for an immediate move, or \
                 — if the old phone is lost — wait out a 72-hour hold.</p>\
                 <form method=\"post\" action=\"/web/account/move\" class=\"row\">{csrf}\
                 <button type=\"submit\" name=\"how\" value=\"approve_on_old_phone\">Move, \
                 approving on my old phone</button>\
                 <button type=\"submit\" name=\"how\" value=\"lost_phone\" \
                 class=\"secondary\">My old phone is lost</button></form>"
            );
        }
        None => {
            let _ = write!(
                body,
                "<p>No Latchkey phone is set up. With one, logins are approved on the phone (and \
                 SMS codes are no longer used).</p>\
                 <form method=\"post\" action=\"/web/account/move\">{csrf}\
                 <input type=\"hidden\" name=\"how\" value=\"first\">\
                 <button type=\"submit\">Set up Latchkey on my phone</button></form>"
            );
        }
    }
    Ok(html(
        StatusCode::OK,
        "Security settings",
        "account",
        &body,
        Some(&chrome),
    ))
}

#[derive(Deserialize)]
struct PhoneForm {
    #[serde(default)]
    csrf: String,
    phone: String,
}

/// `POST /web/account/phone-number`: the verifier's phone-number change; with
/// an active phone it needs a fresh PIN proof from that phone first
/// (docs/PROTOCOL.md §6.8), which the page then explains.
async fn change_phone_number(
    State(web): State<Web>,
    post: CheckedPost<PhoneForm>,
) -> Result<Response, Refusal> {
    let username = post.signed_in()?;
    let key = post.key;
    let phone: PhoneNumber = match post.form.phone.trim().parse() {
        Ok(phone) => phone,
        Err(error) => {
            web.flash(
                &key,
                Tone::Bad,
                sentence(&ApiError::from(error).to_string()),
            );
            return Ok(see_other("/web/account"));
        }
    };
    match web
        .verifier(move |verifier| verifier.change_phone_number(&username, phone))
        .await
    {
        Ok(user) => web.flash(
            &key,
            Tone::Good,
            format!(
                "Your verified phone number is now {}. We told your old number, your e-mail \
                 address and your Latchkey phone.",
                user.phone.masked()
            ),
        ),
        Err(ApiError::Verifier(VerifierError::StepUpRequired)) => web.flash(
            &key,
            Tone::Warn,
            "Confirm the change on your Latchkey phone first: it counts as adding a new \
             authenticator. In Latchkey on the phone choose the account, then Change phone \
             number, and enter your PIN. Then submit the new number here within 5 minutes.",
        ),
        Err(error) => web.flash_error(&key, &error),
    }
    Ok(see_other("/web/account"))
}

/// `POST /web/account/opt-out`: opting out is a PIN proof from the phone
/// (docs/PROTOCOL.md §6.8), so the page refuses it with the rule where the
/// jurisdiction makes 2FA mandatory, and otherwise says what to do on the phone.
async fn opt_out(State(web): State<Web>, post: CheckedPost<CsrfForm>) -> Result<Response, Refusal> {
    let username = post.signed_in()?;
    let key = post.key;
    let (user, two_factor) = account_state(&web, &username).await?;
    let policy = web.app.policy.for_jurisdiction(&user.jurisdiction);
    if !policy.may_opt_out() {
        let refusal = VerifierError::TwoFactorMandatory {
            citation: policy.citation().unwrap_or("policy").to_owned(),
        };
        web.flash(&key, Tone::Bad, sentence(&refusal.to_string()));
    } else if two_factor.opted_out {
        web.flash(
            &key,
            Tone::Info,
            "Two-factor authentication is already off.",
        );
    } else if two_factor.active_phone {
        web.flash(
            &key,
            Tone::Warn,
            "Turning two-factor authentication off is confirmed on your Latchkey phone: open \
             Latchkey, choose the account, then Turn off two-factor authentication, and enter \
             your PIN. Warning: without two-factor authentication, anyone who learns your \
             password can log in to this account and trade.",
        );
    } else {
        web.flash(
            &key,
            Tone::Warn,
            "Turning two-factor authentication off is confirmed with the PIN of a Latchkey \
             phone, and this account has none: set up Latchkey on your phone first.",
        );
    }
    Ok(see_other("/web/account"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form `POST` route's handler reads its form only as a
    /// [`CheckedPost`], so the CSRF check runs first for each of them (the
    /// module's invariants). Read from this file's router and handlers.
    #[test]
    fn every_form_post_is_read_through_the_csrf_check() {
        let source = include_str!("web.rs");
        let code = source.split("#[cfg(test)]").next().unwrap_or(source);
        let handlers: Vec<&str> = code
            .split("post(")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        assert_eq!(handlers.len(), 9, "{handlers:?}");
        for handler in handlers {
            let signature = code
                .split(&format!("async fn {handler}("))
                .nth(1)
                .and_then(|rest| rest.split(") ->").next())
                .unwrap_or_default();
            assert!(
                signature.contains("CheckedPost<") && !signature.contains("Form<"),
                "{handler}: {signature}"
            );
        }
    }

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;"
        );
    }

    #[test]
    fn unix_times_read_as_utc_dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_800_000_000), "2027-01-15 08:00 UTC");
        assert_eq!(when(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn codes_are_digits_with_spaces_allowed() {
        assert_eq!(digits(" 1234 5678 ", 8).as_deref(), Some("12345678"));
        assert_eq!(digits("1234567", 8), None);
        assert_eq!(digits("12345a78", 8), None);
        assert_eq!(digits("１２３４５６", 6), None);
    }

    #[test]
    fn error_texts_become_sentences() {
        assert_eq!(sentence("wrong response"), "Wrong response.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence(""), ".");
    }
}
