//! E-mail over SMTP submission (lettre, rustls): STARTTLS required on port 587
//! by default, or implicit TLS on 465; never plaintext. The server's
//! certificate must name the configured host; the login (`AUTH`) happens only
//! inside TLS.
//!
//! Each message's `Message-ID` is built from its outbox row's idempotency key
//! ([`message_id`]): SMTP has no idempotency header, but a resent message
//! (after a crash) carries the same id, which mail systems use to drop
//! duplicates.
//!
//! Answers: the message accepted → sent; a 5xx reply → [`OutboundError::Rejected`]
//! (535, authentication → [`OutboundError::Credentials`]); a 4xx reply, a
//! connection or TLS failure, a timeout → [`OutboundError::Unavailable`].

use super::config::{SmtpConfig, SmtpSecurity};
use super::{DeliveryError, PROVIDER_TIMEOUT, read_certificate, read_credential};
use crate::outbox::{Email, Mailer, OutboundError};
use crate::users::EmailAddress;
use lettre::Transport as _;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// Sends e-mail through an SMTP submission server.
pub struct SmtpMailer {
    transport: SmtpTransport,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Reads the password file (mode 0600) and prepares the connection
    /// settings (nothing is connected until the first message).
    pub fn load(config: &SmtpConfig) -> Result<Self, DeliveryError> {
        let password = read_credential(&config.password_file)?;
        let from: Mailbox = config.from.parse().map_err(|_| {
            DeliveryError::Setting(format!("email from {:?} is not a mailbox", config.from))
        })?;
        let mut tls = TlsParameters::builder(config.host.clone());
        if let Some(path) = &config.extra_root_certificate {
            let pem = read_certificate(path)?;
            let certificate =
                Certificate::from_pem(&pem).map_err(|_| DeliveryError::Malformed {
                    path: path.clone(),
                    what: "not a PEM certificate".into(),
                })?;
            tls = tls.add_root_certificate(certificate);
        }
        let tls = tls
            .build_rustls()
            .map_err(|error| DeliveryError::Setting(format!("email TLS: {error}")))?;
        let tls = match config.security {
            SmtpSecurity::Starttls => Tls::Required(tls),
            SmtpSecurity::Tls => Tls::Wrapper(tls),
        };
        let hello = config
            .hello_name
            .clone()
            .unwrap_or_else(|| "localhost".into());
        let transport = SmtpTransport::builder_dangerous(config.host.clone())
            .port(config.port)
            .tls(tls)
            .credentials(Credentials::new(
                config.username.clone(),
                password.as_str().to_owned(),
            ))
            .hello_name(ClientId::Domain(hello))
            .timeout(Some(PROVIDER_TIMEOUT))
            .build();
        Ok(Self { transport, from })
    }
}

/// The `Message-ID` of the e-mail of outbox row `key`: `<key@domain>`, the
/// domain being the sender's (RFC 5322 §3.6.4), so that a message sent again
/// after a crash carries the same id and receiving systems can drop it.
pub fn message_id(key: &str, from: &Mailbox) -> String {
    format!("<{key}@{}>", from.email.domain())
}

impl Mailer for SmtpMailer {
    fn send(&self, to: &EmailAddress, email: &Email) -> Result<(), OutboundError> {
        self.send_keyed("", to, email)
    }

    fn send_keyed(&self, key: &str, to: &EmailAddress, email: &Email) -> Result<(), OutboundError> {
        let recipient: Mailbox = to
            .as_str()
            .parse()
            .map_err(|_| OutboundError::InvalidMessage("the recipient is not a mailbox"))?;
        // Without a key (a direct send), lettre makes a random id.
        let id = (!key.is_empty()).then(|| message_id(key, &self.from));
        let message = lettre::Message::builder()
            .message_id(id)
            .from(self.from.clone())
            .to(recipient)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.expose_secret())
            .map_err(|_| OutboundError::InvalidMessage("the e-mail could not be built"))?;
        let outcome = self.transport.send(&message).map(|_| ()).map_err(|error| {
            let code = error.status().map(|c| c.to_string()).unwrap_or_default();
            let text = format!("SMTP {code}").trim().to_owned();
            if error.is_permanent() && code == "535" {
                OutboundError::Credentials(text)
            } else if error.is_permanent() {
                OutboundError::Rejected(text)
            } else if error.is_transient() {
                OutboundError::Unavailable(text)
            } else {
                OutboundError::Unavailable(format!("SMTP server unreachable: {error}"))
            }
        });
        match &outcome {
            Ok(()) => tracing::info!(channel = "email", provider = "smtp", to = %to.masked(),
                subject = %email.subject, body = %email.body.redacted(), "e-mail sent"),
            Err(error) => tracing::warn!(channel = "email", provider = "smtp", to = %to.masked(),
                %error, "e-mail not sent"),
        }
        outcome
    }
}
