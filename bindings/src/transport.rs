//! The transport as a foreign trait ([`Transport`]: OkHttp or `HttpURLConnection`
//! on Android, `URLSession` on iOS, the JDK's `HttpClient` in the JVM tests),
//! its request and response records, and its adapter to core's `Transport`.
//!
//! Invariants: a transport carries bytes and reports what happened; it never
//! interprets bodies (core checks every signature on what comes back, so a
//! transport, a proxy or a captive portal cannot forge an answer); every host
//! failure, including an exception it did not declare, arrives as a
//! `TransportError`, which core reports as offline.

use crate::error::TransportError;
use latchkey_core::device as core;
use std::sync::Arc;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
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

/// One request to a Latchkey server.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct TransportRequest {
    /// The method.
    pub method: HttpMethod,
    /// The full URL: the server profile's base URL and the endpoint's path.
    pub url: String,
    /// The body (a signed protocol message); empty for a `GET`.
    pub body: Vec<u8>,
    /// The body's media type (`application/json`), if there is a body.
    pub content_type: Option<String>,
}

/// The server's answer to one request, whatever its status.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct TransportResponse {
    /// The HTTP status code (4xx and 5xx included: they are answers, not errors).
    pub status: u16,
    /// The body, possibly empty.
    pub body: Vec<u8>,
}

/// Sends one request to a Latchkey server and returns its response; implemented
/// by the app over its HTTP stack.
///
/// Rules for implementations:
/// - **never call back into the `Authenticator`**; block until the answer
///   arrives (the app calls the `Authenticator` off the main thread);
/// - return every HTTP answer, 4xx and 5xx included, as a `TransportResponse`;
///   throw `TransportError` only when there is no answer: `Offline` (no
///   network, connection refused), `Timeout`, `Tls`, or `Other`;
/// - follow no redirects (a redirect is returned as its 3xx answer), apply
///   your own timeouts, and keep certificate validation on;
/// - send `Content-Type` when the request has one, and nothing that identifies
///   the user beyond what the request holds.
#[uniffi::export(foreign)]
pub trait Transport: Send + Sync {
    /// Sends `request` and waits for the server's response.
    fn send(&self, request: TransportRequest) -> Result<TransportResponse, TransportError>;
}

/// Core's transport hook over the host's [`Transport`].
pub(crate) struct TransportAdapter {
    host: Arc<dyn Transport>,
}

impl TransportAdapter {
    pub(crate) fn new(host: Arc<dyn Transport>) -> Self {
        Self { host }
    }
}

impl core::Transport for TransportAdapter {
    fn send(
        &self,
        request: core::TransportRequest,
    ) -> Result<core::TransportResponse, core::TransportError> {
        let method = match request.method {
            core::HttpMethod::Get => HttpMethod::Get,
            core::HttpMethod::Post => HttpMethod::Post,
            core::HttpMethod::Put => HttpMethod::Put,
            core::HttpMethod::Delete => HttpMethod::Delete,
        };
        let response = self.host.send(TransportRequest {
            method,
            url: request.url,
            body: request.body,
            content_type: request.content_type,
        })?;
        Ok(core::TransportResponse {
            status: response.status,
            body: response.body,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use uniffi::UnexpectedUniFFICallbackError;

    /// A host transport written in Rust: core's scripted transport behind the
    /// foreign trait.
    pub(crate) struct HostTransport(pub(crate) core::ScriptedTransport);

    impl Transport for HostTransport {
        fn send(&self, request: TransportRequest) -> Result<TransportResponse, TransportError> {
            let method = match request.method {
                HttpMethod::Get => core::HttpMethod::Get,
                HttpMethod::Post => core::HttpMethod::Post,
                HttpMethod::Put => core::HttpMethod::Put,
                HttpMethod::Delete => core::HttpMethod::Delete,
            };
            core::Transport::send(
                &self.0,
                core::TransportRequest {
                    method,
                    url: request.url,
                    body: request.body,
                    content_type: request.content_type,
                },
            )
            .map(|response| TransportResponse {
                status: response.status,
                body: response.body,
            })
            .map_err(|error| TransportError::Other {
                reason: error.to_string(),
            })
        }
    }

    struct ThrowingTransport;

    impl Transport for ThrowingTransport {
        fn send(&self, _: TransportRequest) -> Result<TransportResponse, TransportError> {
            Err(UnexpectedUniFFICallbackError::new("java.lang.NullPointerException").into())
        }
    }

    fn post() -> core::TransportRequest {
        core::TransportRequest {
            method: core::HttpMethod::Post,
            url: "https://latchkey.example/v1/phone/sync".to_owned(),
            body: b"{}".to_vec(),
            content_type: Some("application/json".to_owned()),
        }
    }

    #[test]
    fn the_adapter_passes_requests_and_answers_through_unchanged() {
        let scripted = core::ScriptedTransport::new();
        scripted.push_response(503, b"busy".to_vec());
        let adapter = TransportAdapter::new(Arc::new(HostTransport(scripted.clone())));
        let response = core::Transport::send(&adapter, post()).unwrap();
        assert_eq!((response.status, response.body), (503, b"busy".to_vec()));
        assert_eq!(scripted.requests(), [post()]);
    }

    #[test]
    fn a_host_transport_that_throws_is_a_transport_error() {
        let adapter = TransportAdapter::new(Arc::new(ThrowingTransport));
        assert_eq!(
            core::Transport::send(&adapter, post()),
            Err(core::TransportError::Other(
                "unexpected exception: java.lang.NullPointerException".to_owned()
            ))
        );
    }
}
