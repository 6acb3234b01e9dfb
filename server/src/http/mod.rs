//! The HTTP API (axum on tokio): the router, the shared [`AppState`], the
//! integrator token check and request logging. `server/openapi.yaml` describes
//! every endpoint.
//!
//! Routes today:
//! - `GET /v1/health`, `GET /v1/ready`, `GET /v1/profile` — public (readiness
//!   asks the store; module `observe`);
//! - `GET /metrics` — Prometheus metrics, behind the metrics token (module
//!   `observe`);
//! - `/v1/integrator/*` — the integrator API, behind the bearer token
//!   (`POST /v1/integrator/users`, `GET /v1/integrator/users/{username}`);
//! - `GET /v1/dev/outbox`, `POST /v1/dev/voice-calls/{call}/keypress` —
//!   development mode only (a typed 404 in production);
//! - `POST /v1/voice-calls/{call}/code` — the voice provider's callback after
//!   the callee pressed a key (module `voice`);
//! - `/web/*` — the reference login screen as a web page (HTML, module `web`).
//!
//! Invariants: every failure, including an unknown route, a wrong method and
//! every body rejection, is a typed JSON error ([`ApiError`]); bodies above the
//! configured limit (64 KiB) are refused with 413; the token is checked before
//! any body is read; request logs name the route template (never the concrete
//! path of a matched route), the method and the status, never headers, query
//! strings or bodies; blocking work (store, password hashing) runs on tokio's
//! blocking pool through [`blocking`].

mod dev;
mod error;
mod integrator;
mod login;
mod observe;
mod phone;
mod public;
mod sessions;
mod voice;
mod web;

pub use error::{ApiError, ApiJson};

use crate::config::ServerConfig;
use crate::outbox::{Channels, Outbox};
use crate::policy::PolicyTable;
use crate::secrets::{IntegratorToken, ServerKeys};
use crate::store::Store;
use crate::users::UserDirectory;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use latchkey_core::clock::Clock;
use latchkey_core::protocol::ServerProfile;
use std::sync::Arc;

/// What every handler can reach. Cheap to clone (all `Arc`s).
#[derive(Clone)]
pub struct AppState {
    /// The configuration, including the deployment numbers.
    pub config: Arc<ServerConfig>,
    /// The clock (the system clock in the binary, a `ManualClock` in tests).
    pub clock: Arc<dyn Clock>,
    /// In development mode, the same clock as `clock`, which `POST /v1/dev/clock`
    /// moves ahead; `None` in production.
    pub dev_clock: Option<Arc<latchkey_core::clock::OffsetClock>>,
    /// The server's keys.
    pub keys: Arc<dyn ServerKeys>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The built-in users.
    pub users: Arc<UserDirectory>,
    /// The policy table.
    pub policy: Arc<PolicyTable>,
    /// Push, SMS, voice and e-mail.
    pub channels: Channels,
    /// The recording outbox the channels send through (the development
    /// endpoints read it and press keys on its voice calls).
    pub outbox: Arc<Outbox>,
    /// The voice provider whose calls wait for a keypress callback
    /// (`POST /v1/voice-calls/{call}/code`); `None` when voice goes to the outbox.
    pub voice_calls: Option<Arc<crate::delivery::twilio::TwilioVoice>>,
    /// The server profile served at `/v1/profile`.
    pub profile: Arc<ServerProfile>,
    /// The integrator API's bearer token.
    pub integrator_token: Arc<IntegratorToken>,
    /// The ceremonies.
    pub verifier: Arc<crate::verifier::Verifier>,
    /// Woken whenever a login session may have been decided (long-polls wait on it).
    pub decisions: Arc<tokio::sync::Notify>,
    /// The server's metrics (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The bearer token that opens `GET /metrics`.
    pub metrics_token: Arc<crate::metrics::MetricsToken>,
    /// The readiness probe behind `GET /v1/ready`.
    pub readiness: Arc<crate::metrics::ReadinessCheck>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("mode", &self.config.mode_name())
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// The whole API as one router.
pub fn router(state: AppState) -> Router {
    let integrator = integrator::routes()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_integrator_token,
        ));
    let mut app = Router::new()
        .route("/v1/health", axum::routing::get(public::health))
        .route("/v1/ready", axum::routing::get(observe::ready))
        .route("/metrics", axum::routing::get(observe::metrics))
        .route("/v1/profile", axum::routing::get(public::profile))
        .nest("/v1/integrator", integrator)
        .merge(phone::routes())
        .nest("/v1/login", login::routes())
        .route(
            "/v1/replacements/cancel",
            axum::routing::get(public::cancel_page).post(public::cancel_replacement),
        )
        .route(
            "/v1/voice-calls/{call}/code",
            axum::routing::post(voice::keypress),
        )
        .merge(web::routes(&state));
    if state.config.dev {
        app = app.merge(dev::routes());
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

/// The client's address: the TCP peer of the connection the request came on
/// (`None` when the router is driven without the server's connection loop).
/// Behind a reverse proxy this is the proxy's address.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

/// Runs blocking work (store access, password hashing) on tokio's blocking pool.
pub async fn blocking<R, F>(work: F) -> Result<R, ApiError>
where
    F: FnOnce() -> Result<R, ApiError> + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal(format!("blocking task failed: {error}")))?
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Lets a request through only with `Authorization: Bearer <integrator token>`.
/// The token of an `Authorization: Bearer <token>` header, if the request has one.
pub(super) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

async fn require_integrator_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match bearer_token(request.headers()) {
        Some(token) if state.integrator_token.matches(token.as_bytes()) => {
            Ok(next.run(request).await)
        }
        _ => Err(ApiError::Unauthorized),
    }
}

/// One log line per request: method, route template, status; and the request's
/// latency (by the same three) and its typed error code, if any, in the metrics.
/// A request that matched no route is labelled `unmatched` in the metrics, so
/// that probing paths cannot grow the number of series.
async fn log_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let began = tokio::time::Instant::now();
    let method = request.method().clone();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let route = matched
        .clone()
        .unwrap_or_else(|| format!("unmatched {}", request.uri().path()));
    let response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::info!(%method, %route, status, "request");
    if let Some(code) = response
        .extensions()
        .get::<latchkey_core::protocol::ErrorCode>()
    {
        state.metrics.refused(*code);
    }
    state.metrics.observe_request(
        method.as_str(),
        matched.as_deref().unwrap_or("unmatched"),
        status,
        began.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    /// Every route in the router is described in `server/openapi.yaml`, and the
    /// description names no route that does not exist. The routes are read from
    /// the router's sources (`.route("…"` calls), each file with the prefix it is
    /// nested under; the phone routes come from their table in core.
    #[test]
    fn openapi_describes_exactly_the_routes_that_exist() {
        let yaml = include_str!("../../openapi.yaml");
        let mut described: Vec<&str> = yaml
            .lines()
            .filter(|line| line.starts_with("  /") && line.ends_with(':'))
            .map(|line| line.trim().trim_end_matches(':'))
            .collect();
        described.sort_unstable();
        let sources = [
            ("", include_str!("mod.rs")),
            ("", include_str!("dev.rs")),
            ("/v1/integrator", include_str!("integrator.rs")),
            ("/v1/login", include_str!("login.rs")),
            ("", include_str!("web.rs")),
        ];
        let mut routes: Vec<String> = Vec::new();
        for (prefix, source) in sources {
            // Only the router code, not this test's own text.
            let code = source.split("#[cfg(test)]").next().unwrap_or(source);
            for piece in code.split(".route(").skip(1) {
                let path = piece
                    .trim_start()
                    .strip_prefix('"')
                    .and_then(|rest| rest.split('"').next())
                    .expect("a literal route path");
                routes.push(format!("{prefix}{path}"));
            }
        }
        routes.extend(
            latchkey_core::protocol::phone_paths::ALL
                .iter()
                .map(|path| (*path).to_owned()),
        );
        routes.sort_unstable();
        assert!(routes.len() >= 30, "{routes:?}");
        assert_eq!(described, routes);
    }
}
