//! # latchkey-http-transport
//!
//! The phone core speaks to its server through the [`Transport`] hook (one
//! request → one response); core has no HTTP of its own. On Android and iOS the
//! shells implement it on the platform's HTTP stack; on a desktop (the `latchkey
//! device` command) and in the end-to-end tests this crate implements it on a
//! small blocking client (`ureq`).
//!
//! Invariants: every HTTP status is a response, not an error (the core reads the
//! typed error bodies itself); only failures to get an answer are
//! [`TransportError`]s — no connection → `Offline`, no answer in time →
//! `Timeout`; bodies are never logged; redirects are not followed (a redirect is
//! an answer the core refuses).

#![warn(missing_docs)]

use latchkey_core::device::{
    HttpMethod, Transport, TransportError, TransportRequest, TransportResponse,
};
use std::io::Read;
use std::time::Duration;

/// The largest answer read, in bytes (the protocol's answers are far smaller).
const MAX_ANSWER: u64 = 256 * 1024;

/// A [`Transport`] over blocking HTTP.
pub struct HttpTransport {
    agent: ureq::Agent,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport").finish_non_exhaustive()
    }
}

impl Default for HttpTransport {
    fn default() -> Self {
        Self::new(Duration::from_secs(15))
    }
}

impl HttpTransport {
    /// A transport whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

fn classify(error: ureq::Error) -> TransportError {
    match error {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => TransportError::Timeout,
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            TransportError::Offline
        }
        other => TransportError::Other(other.to_string()),
    }
}

impl Transport for HttpTransport {
    fn send(&self, request: TransportRequest) -> Result<TransportResponse, TransportError> {
        let content_type = request
            .content_type
            .as_deref()
            .unwrap_or("application/json");
        let answer = match request.method {
            HttpMethod::Get => self.agent.get(&request.url).call(),
            HttpMethod::Delete => self.agent.delete(&request.url).call(),
            HttpMethod::Post => self
                .agent
                .post(&request.url)
                .header("Content-Type", content_type)
                .send(&request.body[..]),
            HttpMethod::Put => self
                .agent
                .put(&request.url)
                .header("Content-Type", content_type)
                .send(&request.body[..]),
        }
        .map_err(classify)?;
        let status = answer.status().as_u16();
        let mut body = Vec::new();
        answer
            .into_body()
            .into_reader()
            .take(MAX_ANSWER)
            .read_to_end(&mut body)
            .map_err(|e| TransportError::Other(format!("reading the answer failed: {e}")))?;
        Ok(TransportResponse { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_port_is_offline() {
        // Bind then drop: the port is very likely closed right after.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let transport = HttpTransport::new(Duration::from_secs(2));
        let result = transport.send(TransportRequest {
            method: HttpMethod::Post,
            url: format!("http://127.0.0.1:{port}/v1/phone/sync"),
            body: b"{}".to_vec(),
            content_type: None,
        });
        assert!(matches!(result, Err(TransportError::Offline)), "{result:?}");
    }

    #[test]
    fn every_status_is_an_answer_not_an_error() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buffer = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buffer);
            let body = br#"{"error":{"code":"wrong_response","message":"wrong"}}"#;
            write!(stream, "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
            stream.write_all(body).unwrap();
        });
        let answer = HttpTransport::default()
            .send(TransportRequest {
                method: HttpMethod::Post,
                url: format!("http://127.0.0.1:{port}/v1/phone/approve"),
                body: b"{}".to_vec(),
                content_type: None,
            })
            .unwrap();
        server.join().unwrap();
        assert_eq!(answer.status, 403);
        assert!(
            String::from_utf8(answer.body)
                .unwrap()
                .contains("wrong_response")
        );
    }
}
