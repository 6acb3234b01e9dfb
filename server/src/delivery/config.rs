//! The delivery file (`latchkey serve --config latchkey.toml`): which provider
//! sends each channel, and where its credentials are. `latchkey.example.toml` at
//! the repository root documents every setting.
//!
//! Invariants: unknown keys are refused (a typo never silently drops a
//! provider); the file names credential *files*, never credentials; what a
//! production start needs is decided here ([`DeliveryConfig::missing`]).

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// FCM's HTTP v1 API.
pub const FCM_API: &str = "https://fcm.googleapis.com";
/// APNs, production.
pub const APNS_PRODUCTION: &str = "https://api.push.apple.com";
/// APNs, sandbox (development builds of the app).
pub const APNS_SANDBOX: &str = "https://api.sandbox.push.apple.com";
/// Twilio's REST API.
pub const TWILIO_API: &str = "https://api.twilio.com";

/// A second factor the deployment offers; it decides which channels must have
/// a provider in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OfferedFactor {
    /// The Latchkey phone app: push (FCM or APNs), SMS for activation codes,
    /// e-mail for phone-move notices.
    Phone,
    /// SMS and voice codes: SMS, voice, e-mail for suspension notices.
    Sms,
}

/// The whole delivery file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// The second factors offered (default: both).
    #[serde(default = "both_factors")]
    pub second_factors: Vec<OfferedFactor>,
    /// Push providers.
    #[serde(default)]
    pub push: PushProviders,
    /// Text messages.
    pub sms: Option<TwilioConfig>,
    /// Voice calls.
    pub voice: Option<TwilioConfig>,
    /// E-mail.
    pub email: Option<SmtpConfig>,
}

fn both_factors() -> Vec<OfferedFactor> {
    vec![OfferedFactor::Phone, OfferedFactor::Sms]
}

impl Default for DeliveryConfig {
    /// No provider at all, both factors offered: what a production start
    /// without `--config` has (and is refused with).
    fn default() -> Self {
        Self {
            second_factors: both_factors(),
            push: PushProviders::default(),
            sms: None,
            voice: None,
            email: None,
        }
    }
}

/// FCM for Android phones, APNs for iPhones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushProviders {
    /// Firebase Cloud Messaging (HTTP v1).
    pub fcm: Option<FcmConfig>,
    /// Apple Push Notification service.
    pub apns: Option<ApnsConfig>,
}

/// Firebase Cloud Messaging.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcmConfig {
    /// The service account's JSON key file (mode 0600).
    pub service_account_file: PathBuf,
    /// The Firebase project; default: the service account's `project_id`.
    pub project_id: Option<String>,
    /// The API's base URL (tests point it at a fake).
    #[serde(default = "fcm_api")]
    pub api_base: String,
    /// An extra PEM root certificate trusted for this provider (tests).
    pub extra_root_certificate: Option<PathBuf>,
}

fn fcm_api() -> String {
    FCM_API.to_owned()
}

/// APNs environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApnsEnvironment {
    /// `api.push.apple.com`: App Store and TestFlight builds.
    Production,
    /// `api.sandbox.push.apple.com`: builds signed for development.
    Sandbox,
}

/// Apple Push Notification service with a provider token (.p8 key).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApnsConfig {
    /// The `.p8` signing key from the Apple developer account (mode 0600).
    pub key_file: PathBuf,
    /// The key's 10-character key id.
    pub key_id: String,
    /// The 10-character team id.
    pub team_id: String,
    /// The app's bundle id (the `apns-topic`).
    pub topic: String,
    /// Production or sandbox.
    pub environment: ApnsEnvironment,
    /// Overrides the environment's base URL (tests point it at a fake).
    pub api_base: Option<String>,
    /// An extra PEM root certificate trusted for this provider (tests).
    pub extra_root_certificate: Option<PathBuf>,
}

impl ApnsConfig {
    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        match (&self.api_base, self.environment) {
            (Some(base), _) => base,
            (None, ApnsEnvironment::Production) => APNS_PRODUCTION,
            (None, ApnsEnvironment::Sandbox) => APNS_SANDBOX,
        }
    }
}

/// The SMS/voice provider's API flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneProvider {
    /// Twilio's REST API (or one that speaks it).
    Twilio,
}

/// A Twilio-compatible account for SMS or voice.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    /// `twilio`.
    pub provider: PhoneProvider,
    /// The account SID (`AC…`), the basic-auth user.
    pub account_sid: String,
    /// A file holding the auth token (mode 0600).
    pub auth_token_file: PathBuf,
    /// The sending number (E.164) or messaging service.
    pub from: String,
    /// The API's base URL (tests point it at a fake).
    #[serde(default = "twilio_api")]
    pub api_base: String,
    /// An extra PEM root certificate trusted for this provider (tests).
    pub extra_root_certificate: Option<PathBuf>,
}

fn twilio_api() -> String {
    TWILIO_API.to_owned()
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// STARTTLS, required (port 587): the default and the only choice for
    /// production.
    #[default]
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
}

/// The SMTP provider's API flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailProvider {
    /// Any SMTP submission server.
    Smtp,
}

/// An SMTP submission server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtp`.
    pub provider: MailProvider,
    /// The server's host name (also the name its certificate must carry).
    pub host: String,
    /// The port (default 587).
    #[serde(default = "submission_port")]
    pub port: u16,
    /// STARTTLS (default) or implicit TLS.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The login user name.
    pub username: String,
    /// A file holding the password (mode 0600).
    pub password_file: PathBuf,
    /// The sender, e.g. `Latchkey <security@example.com>`.
    pub from: String,
    /// The name this server greets with (EHLO); default `localhost`.
    pub hello_name: Option<String>,
    /// An extra PEM root certificate trusted for this server (tests).
    pub extra_root_certificate: Option<PathBuf>,
}

fn submission_port() -> u16 {
    587
}

/// Why the delivery file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryConfigError {
    /// The file could not be read.
    #[error("{path}: could not read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not a valid delivery file; the text says where.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

impl DeliveryConfig {
    /// Reads and parses the delivery file at `path`.
    pub fn load(path: &Path) -> Result<Self, DeliveryConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| DeliveryConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| DeliveryConfigError::Syntax {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses a delivery file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|error| error.to_string().trim_end().to_owned())
    }

    /// The channels the offered second factors need that have no provider, as
    /// the names an operator looks for in the file (`push (push.fcm or
    /// push.apns)`, `sms`, `voice`, `email`); empty when nothing is missing.
    pub fn missing(&self) -> Vec<&'static str> {
        let phone = self.second_factors.contains(&OfferedFactor::Phone);
        let sms = self.second_factors.contains(&OfferedFactor::Sms);
        let mut missing = Vec::new();
        if phone && self.push.fcm.is_none() && self.push.apns.is_none() {
            missing.push("push (push.fcm or push.apns)");
        }
        // Activation codes go by SMS, so the phone factor needs it too.
        if (phone || sms) && self.sms.is_none() {
            missing.push("sms");
        }
        if sms && self.voice.is_none() {
            missing.push("voice");
        }
        if (phone || sms) && self.email.is_none() {
            missing.push("email");
        }
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_names_every_channel() {
        let text = include_str!("../../../latchkey.example.toml");
        let config = DeliveryConfig::parse(text).unwrap();
        assert_eq!(config.missing(), Vec::<&str>::new());
        assert_eq!(config.push.apns.unwrap().base_url(), APNS_PRODUCTION);
        assert_eq!(config.push.fcm.unwrap().api_base, FCM_API);
        assert_eq!(config.email.unwrap().port, 587);
    }

    #[test]
    fn missing_channels_follow_the_offered_second_factors() {
        let none = DeliveryConfig::default();
        assert_eq!(
            none.missing(),
            ["push (push.fcm or push.apns)", "sms", "voice", "email"]
        );
        let phone_only = DeliveryConfig::parse("second_factors = [\"phone\"]").unwrap();
        assert_eq!(
            phone_only.missing(),
            ["push (push.fcm or push.apns)", "sms", "email"]
        );
    }

    #[test]
    fn unknown_keys_and_providers_are_refused() {
        let typo = DeliveryConfig::parse("[push.fcmm]\nservice_account_file = \"x\"");
        assert!(typo.unwrap_err().contains("fcmm"));
        let provider = DeliveryConfig::parse(
            "[sms]\nprovider = \"carrier-pigeon\"\naccount_sid = \"AC1\"\n\
             auth_token_file = \"t\"\nfrom = \"+1\"",
        );
        assert!(provider.unwrap_err().contains("carrier-pigeon"));
    }
}
