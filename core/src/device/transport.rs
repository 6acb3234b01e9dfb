//! The transport hook: how the phone core talks to a Latchkey server. One
//! request in, one response out; the host does the HTTP.
//!
//! Core has no HTTP client and no async runtime (ARCHITECTURE.md): the Android
//! and iOS shells implement [`Transport`] with their platform's HTTP stack, the
//! CLI with a small blocking client, and tests with `ScriptedTransport` (feature
//! `testing`, never in a shipped library: ARCHITECTURE.md "Test support").
//!
//! Invariants: a transport carries bytes and reports what happened to the
//! request; it never interprets bodies (the protocol layer checks signatures on
//! what comes back, so a transport, a proxy or a captive portal cannot forge an
//! answer); every failure is a [`TransportError`], never a panic.

#[cfg(any(test, feature = "testing"))]
use std::collections::VecDeque;
use std::sync::Arc;
#[cfg(any(test, feature = "testing"))]
use std::sync::{Mutex, MutexGuard};

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
}

impl HttpMethod {
    /// The method's name as HTTP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// One request to a server.
#[derive(Clone, PartialEq, Eq)]
pub struct TransportRequest {
    /// The method.
    pub method: HttpMethod,
    /// The full URL: the server profile's base URL and the endpoint's path.
    pub url: String,
    /// The body; empty for a `GET`.
    pub body: Vec<u8>,
    /// The body's media type (`application/json`), if there is a body.
    pub content_type: Option<String>,
}

impl std::fmt::Debug for TransportRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bodies are signed or encrypted protocol messages: their length is
        // what a log needs.
        f.debug_struct("TransportRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body_len", &self.body.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// The server's answer to one request, whatever its status.
#[derive(Clone, PartialEq, Eq)]
pub struct TransportResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body, possibly empty.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for TransportResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why a request got no response. An HTTP error status is not a transport
/// error: it is a [`TransportResponse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The device has no network (airplane mode, no data, no route).
    #[error("the device is offline")]
    Offline,
    /// The server did not answer in time.
    #[error("the server did not answer in time")]
    Timeout,
    /// The TLS connection could not be set up (certificate, handshake, captive portal).
    #[error("the secure connection to the server failed")]
    Tls,
    /// Anything else, described by the host. The bindings map an unexpected
    /// foreign exception here.
    #[error("the request failed: {0}")]
    Other(String),
}

/// Sends one request and returns its response.
///
/// Implementations **must not call back into the authenticator**, may block
/// (they are always called off the main thread, like the rest of the core), and
/// are called from any thread, hence `Send + Sync`. They should follow no
/// redirects to another origin and should apply their own timeouts, reporting
/// them as [`TransportError::Timeout`].
pub trait Transport: Send + Sync {
    /// Sends `request` and waits for the server's response.
    fn send(&self, request: TransportRequest) -> Result<TransportResponse, TransportError>;
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn send(&self, request: TransportRequest) -> Result<TransportResponse, TransportError> {
        (**self).send(request)
    }
}

#[cfg(any(test, feature = "testing"))]
type Handler =
    Box<dyn Fn(&TransportRequest) -> Result<TransportResponse, TransportError> + Send + Sync>;

#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
struct Script {
    answers: VecDeque<Result<TransportResponse, TransportError>>,
    requests: Vec<TransportRequest>,
}

/// A [`Transport`] for tests: it records every request and answers from a
/// script — queued answers first, in order, then a handler if one is set, and
/// otherwise [`TransportError::Offline`].
///
/// Test support behind the `testing` feature (ARCHITECTURE.md "Test
/// support"), so the tests of every crate and the bindings' tests can use it
/// while no shipped library carries it. Clones share the same script and record.
#[cfg(any(test, feature = "testing"))]
#[derive(Clone, Default)]
pub struct ScriptedTransport {
    script: Arc<Mutex<Script>>,
    handler: Option<Arc<Handler>>,
}

#[cfg(any(test, feature = "testing"))]
impl std::fmt::Debug for ScriptedTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let script = self.script();
        f.debug_struct("ScriptedTransport")
            .field("queued", &script.answers.len())
            .field("requests", &script.requests.len())
            .field("handler", &self.handler.is_some())
            .finish()
    }
}

#[cfg(any(test, feature = "testing"))]
impl ScriptedTransport {
    /// A transport with an empty script: every request finds it offline.
    pub fn new() -> Self {
        Self::default()
    }

    /// A transport that answers every request not covered by the queue with
    /// `handler` (a fake server in a test).
    pub fn with_handler(
        handler: impl Fn(&TransportRequest) -> Result<TransportResponse, TransportError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            script: Arc::default(),
            handler: Some(Arc::new(Box::new(handler))),
        }
    }

    fn script(&self) -> MutexGuard<'_, Script> {
        self.script
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a response with this status and body.
    pub fn push_response(&self, status: u16, body: impl Into<Vec<u8>>) {
        self.script().answers.push_back(Ok(TransportResponse {
            status,
            body: body.into(),
        }));
    }

    /// Queues a failure.
    pub fn push_error(&self, error: TransportError) {
        self.script().answers.push_back(Err(error));
    }

    /// Every request sent so far, oldest first.
    pub fn requests(&self) -> Vec<TransportRequest> {
        self.script().requests.clone()
    }

    /// How many queued answers are left.
    pub fn queued(&self) -> usize {
        self.script().answers.len()
    }
}

#[cfg(any(test, feature = "testing"))]
impl Transport for ScriptedTransport {
    fn send(&self, request: TransportRequest) -> Result<TransportResponse, TransportError> {
        let queued = {
            let mut script = self.script();
            script.requests.push(request.clone());
            script.answers.pop_front()
        };
        match (queued, &self.handler) {
            (Some(answer), _) => answer,
            (None, Some(handler)) => handler(&request),
            (None, None) => Err(TransportError::Offline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str, body: &[u8]) -> TransportRequest {
        TransportRequest {
            method: HttpMethod::Post,
            url: format!("https://latchkey.example{path}"),
            body: body.to_vec(),
            content_type: Some("application/json".to_owned()),
        }
    }

    #[test]
    fn a_scripted_transport_answers_in_order_and_records_requests() {
        let transport = ScriptedTransport::new();
        transport.push_response(200, b"first".to_vec());
        transport.push_error(TransportError::Timeout);
        transport.push_response(503, Vec::new());
        let shared: Arc<dyn Transport> = Arc::new(transport.clone());

        assert_eq!(shared.send(post("/a", b"1")).unwrap().body, b"first");
        assert_eq!(shared.send(post("/b", b"2")), Err(TransportError::Timeout));
        assert_eq!(shared.send(post("/c", b"3")).unwrap().status, 503);
        assert_eq!(shared.send(post("/d", b"4")), Err(TransportError::Offline));

        let urls: Vec<_> = transport.requests().into_iter().map(|r| r.url).collect();
        assert_eq!(
            urls,
            [
                "https://latchkey.example/a",
                "https://latchkey.example/b",
                "https://latchkey.example/c",
                "https://latchkey.example/d"
            ]
        );
        assert_eq!(transport.queued(), 0);
    }

    #[test]
    fn a_handler_answers_what_the_queue_does_not() {
        let transport = ScriptedTransport::with_handler(|request| {
            Ok(TransportResponse {
                status: 200,
                body: request.body.iter().rev().copied().collect(),
            })
        });
        transport.push_error(TransportError::Tls);
        assert_eq!(transport.send(post("/x", b"abc")), Err(TransportError::Tls));
        assert_eq!(transport.send(post("/x", b"abc")).unwrap().body, b"cba");
    }

    #[test]
    fn debug_of_requests_and_responses_shows_lengths_not_bodies() {
        let request = post("/approve", b"secret-ish body");
        let printed = format!("{request:?}");
        assert!(printed.contains("body_len: 15"), "{printed}");
        assert!(!printed.contains("secret-ish"));
        let response = TransportResponse {
            status: 200,
            body: b"payload".to_vec(),
        };
        assert!(!format!("{response:?}").contains("payload"));
        assert_eq!(HttpMethod::Delete.as_str(), "DELETE");
    }
}
