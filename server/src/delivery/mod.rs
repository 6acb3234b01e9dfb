//! Real delivery: provider adapters for the channel traits of [`crate::outbox`]
//! — [`fcm`] (Firebase Cloud Messaging HTTP v1) and [`apns`] (Apple Push
//! Notification service over HTTP/2) behind one [`PushRouter`], [`twilio`] for
//! SMS and voice, [`smtp`] for e-mail — and [`load`], which turns the delivery
//! file ([`config`]) into them.
//!
//! Invariants: every adapter is blocking (the verifier sends after its commit,
//! on tokio's blocking pool) and builds its HTTP client on first use, never in
//! async code; credentials are read once at start from files that only their
//! owner may read (else the start is refused naming the file) and are never
//! logged, printed by `Debug` or put into an error; a log line names the
//! channel, the masked recipient and the outcome, never a code, a token or a
//! credential; a provider's answer becomes an [`OutboundError`] that says
//! whether sending again may work (`Unavailable`), will not (`Rejected`), needs
//! the operator (`Credentials`), or needs the phone to register again
//! (`Unregistered`).

pub mod apns;
pub mod config;
pub mod fcm;
pub mod smtp;
pub mod twilio;

use crate::outbox::{Channels, Mailer, OutboundError, Outbox, PushMessage, PushSender, SmsSender};
use crate::secrets::{SecretsError, read_secret_file};
use config::DeliveryConfig;
use latchkey_core::clock::Clock;
use latchkey_core::protocol::Platform;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zeroize::Zeroizing;

/// How long one provider request may take, connection included.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(15);

/// Why the configured providers could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// Production mode, and channels the offered second factors need have no
    /// provider; the text names them.
    #[error(
        "production mode needs a delivery provider for: {}; name them in the delivery file \
         (latchkey serve --config latchkey.toml; see latchkey.example.toml), or run with --dev \
         to only record messages",
        .0.join(", ")
    )]
    MissingProviders(Vec<&'static str>),
    /// A credentials file could not be read or may be read by others.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// A credentials or certificate file is not in the expected form.
    #[error("{path}: {what}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (never its content).
        what: String,
    },
    /// A setting is not usable; the text says which.
    #[error("the delivery setting {0}")]
    Setting(String),
}

/// Reads a credentials file (mode 0600 or stricter), trimmed of surrounding
/// white space.
pub(crate) fn read_credential(path: &Path) -> Result<Zeroizing<String>, DeliveryError> {
    let text = read_secret_file(path)?;
    let trimmed = Zeroizing::new(text.trim().to_owned());
    if trimmed.is_empty() {
        return Err(DeliveryError::Malformed {
            path: path.to_owned(),
            what: "the file is empty".into(),
        });
    }
    Ok(trimmed)
}

/// Reads an extra PEM root certificate (public; no mode check).
pub(crate) fn read_certificate(path: &Path) -> Result<Vec<u8>, DeliveryError> {
    std::fs::read(path).map_err(|source| {
        DeliveryError::Secrets(SecretsError::Io {
            path: path.to_owned(),
            action: "read",
            source,
        })
    })
}

/// A blocking HTTPS client built on first use (building one starts a thread
/// with its own runtime, which must not happen inside async code).
pub(crate) struct LazyClient {
    extra_root: Option<reqwest::Certificate>,
    http2_only: bool,
    client: Mutex<Option<reqwest::blocking::Client>>,
}

impl LazyClient {
    /// A client trusting the usual web roots plus `extra_root` (PEM).
    pub(crate) fn new(extra_root: Option<&Path>, http2_only: bool) -> Result<Self, DeliveryError> {
        let extra_root = match extra_root {
            Some(path) => {
                let pem = read_certificate(path)?;
                Some(reqwest::Certificate::from_pem(&pem).map_err(|_| {
                    DeliveryError::Malformed {
                        path: path.to_owned(),
                        what: "not a PEM certificate".into(),
                    }
                })?)
            }
            None => None,
        };
        Ok(Self {
            extra_root,
            http2_only,
            client: Mutex::new(None),
        })
    }

    /// The client, built now if this is the first call.
    pub(crate) fn get(&self) -> Result<reqwest::blocking::Client, OutboundError> {
        let mut slot = self
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(PROVIDER_TIMEOUT)
            .connect_timeout(PROVIDER_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(false);
        if let Some(root) = &self.extra_root {
            builder = builder.add_root_certificate(root.clone());
        }
        if self.http2_only {
            builder = builder.http2_prior_knowledge();
        }
        let client = builder
            .build()
            .map_err(|error| OutboundError::Unavailable(format!("HTTP client: {error}")))?;
        *slot = Some(client.clone());
        Ok(client)
    }
}

/// A request that got no answer: unreachable, timed out, TLS refused.
pub(crate) fn unreachable(provider: &str, error: reqwest::Error) -> OutboundError {
    // Without the URL: an APNs URL holds the device token, Twilio's the account SID.
    OutboundError::Unavailable(format!("{provider} unreachable: {}", error.without_url()))
}

/// The usual meaning of an HTTP status from a provider whose specific errors
/// were handled first.
pub(crate) fn by_status(provider: &str, status: u16, reason: &str) -> OutboundError {
    let text = format!("{provider} answered {status} {reason}");
    match status {
        401 | 403 => OutboundError::Credentials(text),
        408 | 429 | 500..=599 => OutboundError::Unavailable(text),
        _ => OutboundError::Rejected(text),
    }
}

/// A short, printable excerpt of a provider's error text (never our request).
pub(crate) fn excerpt(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Sends each push through the provider of the phone's platform: FCM for
/// Android, APNs for iOS.
pub struct PushRouter {
    fcm: Option<Arc<dyn PushSender>>,
    apns: Option<Arc<dyn PushSender>>,
}

impl std::fmt::Debug for PushRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushRouter")
            .field("fcm", &self.fcm.is_some())
            .field("apns", &self.apns.is_some())
            .finish()
    }
}

impl PushRouter {
    /// A router over the given providers (either may be absent).
    pub fn new(fcm: Option<Arc<dyn PushSender>>, apns: Option<Arc<dyn PushSender>>) -> Self {
        Self { fcm, apns }
    }
}

impl PushSender for PushRouter {
    fn send(&self, message: &PushMessage) -> Result<(), OutboundError> {
        self.send_keyed("", message)
    }

    fn send_keyed(&self, key: &str, message: &PushMessage) -> Result<(), OutboundError> {
        let provider = match message.platform {
            Platform::Android => self.fcm.as_ref(),
            Platform::Ios => self.apns.as_ref(),
            _ => None,
        };
        match provider {
            Some(provider) if key.is_empty() => provider.send(message),
            Some(provider) => provider.send_keyed(key, message),
            None => Err(OutboundError::Rejected(format!(
                "no push provider is configured for {:?} phones",
                message.platform
            ))),
        }
    }
}

/// The configured providers, loaded; a channel without one is `None`.
#[derive(Default)]
pub struct Providers {
    /// Push (FCM and/or APNs behind a [`PushRouter`]).
    pub push: Option<Arc<dyn PushSender>>,
    /// SMS.
    pub sms: Option<Arc<dyn SmsSender>>,
    /// Voice, whose keypress callback the HTTP API serves.
    pub voice: Option<Arc<twilio::TwilioVoice>>,
    /// E-mail.
    pub mail: Option<Arc<dyn Mailer>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("push", &self.push.is_some())
            .field("sms", &self.sms.is_some())
            .field("voice", &self.voice.is_some())
            .field("mail", &self.mail.is_some())
            .finish()
    }
}

impl Providers {
    /// The channels: each provider, and `outbox` for a channel without one.
    pub fn channels(&self, outbox: Arc<Outbox>) -> Channels {
        let mut channels = Channels::outbox(outbox);
        if let Some(push) = &self.push {
            channels.push = push.clone();
        }
        if let Some(sms) = &self.sms {
            channels.sms = sms.clone();
        }
        if let Some(voice) = &self.voice {
            channels.voice = voice.clone();
        }
        if let Some(mail) = &self.mail {
            channels.mail = mail.clone();
        }
        channels
    }
}

/// Loads the providers `config` names, reading their credentials files. In
/// production (`dev == false`) a channel the offered second factors need
/// without a provider refuses the start, naming what is missing (in development
/// such a channel records into the outbox). `public_url` is where the voice
/// provider calls back after the callee's keypress.
pub fn load(
    config: &DeliveryConfig,
    dev: bool,
    clock: Arc<dyn Clock>,
    public_url: &str,
) -> Result<Providers, DeliveryError> {
    let missing = config.missing();
    if !dev && !missing.is_empty() {
        return Err(DeliveryError::MissingProviders(missing));
    }
    let fcm = match &config.push.fcm {
        Some(fcm) => {
            Some(Arc::new(fcm::FcmSender::load(fcm, clock.clone())?) as Arc<dyn PushSender>)
        }
        None => None,
    };
    let apns = match &config.push.apns {
        Some(apns) => {
            Some(Arc::new(apns::ApnsSender::load(apns, clock.clone())?) as Arc<dyn PushSender>)
        }
        None => None,
    };
    let push = (fcm.is_some() || apns.is_some())
        .then(|| Arc::new(PushRouter::new(fcm, apns)) as Arc<dyn PushSender>);
    let sms = match &config.sms {
        Some(sms) => Some(Arc::new(twilio::TwilioSms::load(sms)?) as Arc<dyn SmsSender>),
        None => None,
    };
    let voice = match &config.voice {
        Some(voice) => Some(Arc::new(twilio::TwilioVoice::load(
            voice, clock, public_url,
        )?)),
        None => None,
    };
    let mail = match &config.email {
        Some(email) => Some(Arc::new(smtp::SmtpMailer::load(email)?) as Arc<dyn Mailer>),
        None => None,
    };
    Ok(Providers {
        push,
        sms,
        voice,
        mail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_statuses_say_whether_to_retry() {
        assert!(matches!(
            by_status("x", 503, ""),
            OutboundError::Unavailable(_)
        ));
        assert!(matches!(
            by_status("x", 429, ""),
            OutboundError::Unavailable(_)
        ));
        assert!(matches!(
            by_status("x", 401, ""),
            OutboundError::Credentials(_)
        ));
        assert!(matches!(
            by_status("x", 400, ""),
            OutboundError::Rejected(_)
        ));
        assert_eq!(excerpt("a\nb\u{7}c"), "abc");
    }
}
