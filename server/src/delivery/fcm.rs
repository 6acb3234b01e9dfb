//! Firebase Cloud Messaging, HTTP v1, for Android phones.
//!
//! The service account's JSON key signs an RS256 JWT (issuer: the account's
//! e-mail, scope `firebase.messaging`, audience: the account's `token_uri`),
//! exchanged at `token_uri` for an OAuth2 access token that is cached until a
//! minute before it expires. Each push is `POST
//! {api}/v1/projects/{project}/messages:send` with a data-only, high-priority
//! Android message whose data is the opaque handle alone — `{"latchkey": "1",
//! "request": …}` or `{"latchkey": "1", "notice": …}` (docs/PROTOCOL.md §7):
//! no alert text, no account, nothing the provider could link.
//!
//! FCM HTTP v1 takes no idempotency key (`messages:send` has no such header or
//! field), so the sender keeps the trait's default `send_keyed`, which drops
//! the key: a push sent again after a crash (docs/ARCHITECTURE.md, "The
//! dispatcher") may arrive twice; the phone fetches the request it names, so a
//! second copy only repeats the notification.
//!
//! Answers: 200 sent; `UNREGISTERED` (FCM's 404 for a token no longer
//! registered) →
//! [`OutboundError::Unregistered`]; 401 drops the cached access token and tries
//! once more; otherwise by status (`delivery::by_status`).

use super::config::FcmConfig;
use super::{DeliveryError, LazyClient, by_status, excerpt, read_credential, unreachable};
use crate::outbox::SecretText;
use crate::outbox::{OutboundError, PushMessage, PushSender};
use latchkey_core::clock::Clock;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// The OAuth2 scope for sending messages.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The JWT-bearer grant type (RFC 7523).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// An assertion's lifetime (Google accepts at most an hour).
const ASSERTION_SECS: u64 = 3600;
/// An access token is renewed this long before it expires.
const RENEW_EARLY_SECS: u64 = 60;

/// The fields of a service account key file this adapter uses.
#[derive(Deserialize)]
struct ServiceAccount {
    project_id: Option<String>,
    private_key_id: Option<String>,
    private_key: String,
    client_email: String,
    token_uri: String,
}

/// The claims of the assertion sent to `token_uri`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AssertionClaims {
    /// The service account's e-mail.
    pub iss: String,
    /// [`FCM_SCOPE`].
    pub scope: String,
    /// The token endpoint.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
}

struct AccessToken {
    token: SecretText,
    expires_at: u64,
}

/// Sends pushes through FCM HTTP v1.
pub struct FcmSender {
    project_id: String,
    client_email: String,
    token_uri: String,
    key_id: Option<String>,
    key: jsonwebtoken::EncodingKey,
    send_url: String,
    clock: Arc<dyn Clock>,
    client: LazyClient,
    access: Mutex<Option<AccessToken>>,
}

impl std::fmt::Debug for FcmSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmSender")
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl FcmSender {
    /// Reads the service account key file (mode 0600) and checks its key.
    pub fn load(config: &FcmConfig, clock: Arc<dyn Clock>) -> Result<Self, DeliveryError> {
        let path = &config.service_account_file;
        let text = read_credential(path)?;
        let malformed = |what: &str| DeliveryError::Malformed {
            path: path.clone(),
            what: format!("not a service account key file ({what})"),
        };
        let account: ServiceAccount =
            serde_json::from_str(&text).map_err(|_| malformed("not the expected JSON"))?;
        let private_key = zeroize::Zeroizing::new(account.private_key);
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key.as_bytes())
            .map_err(|_| malformed("private_key is not an RSA key in PEM"))?;
        let project_id = config
            .project_id
            .clone()
            .or(account.project_id)
            .ok_or_else(|| malformed("no project_id"))?;
        if project_id.is_empty()
            || !project_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(DeliveryError::Setting(format!(
                "push.fcm project_id {project_id:?} is not a Firebase project id"
            )));
        }
        let send_url = format!(
            "{}/v1/projects/{project_id}/messages:send",
            config.api_base.trim_end_matches('/')
        );
        Ok(Self {
            project_id,
            client_email: account.client_email,
            token_uri: account.token_uri,
            key_id: account.private_key_id,
            key,
            send_url,
            clock,
            client: LazyClient::new(config.extra_root_certificate.as_deref(), false)?,
            access: Mutex::new(None),
        })
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, Option<AccessToken>> {
        self.access
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An access token: the cached one while it is valid, else a new one.
    fn access_token(
        &self,
        client: &reqwest::blocking::Client,
    ) -> Result<SecretText, OutboundError> {
        let now = self.clock.now();
        if let Some(access) = self.cached().as_ref().filter(|a| now < a.expires_at) {
            return Ok(access.token.clone());
        }
        let claims = AssertionClaims {
            iss: self.client_email.clone(),
            scope: FCM_SCOPE.to_owned(),
            aud: self.token_uri.clone(),
            iat: now,
            exp: now + ASSERTION_SECS,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.key_id.clone();
        let assertion =
            zeroize::Zeroizing::new(jsonwebtoken::encode(&header, &claims, &self.key).map_err(
                |error| OutboundError::Credentials(format!("signing the FCM assertion: {error}")),
            )?);
        let answer = client
            .post(&self.token_uri)
            .form(&[
                ("grant_type", JWT_BEARER_GRANT),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .map_err(|error| unreachable("FCM token endpoint", error))?;
        let status = answer.status().as_u16();
        let body = zeroize::Zeroizing::new(answer.text().unwrap_or_default());
        if status != 200 {
            // The token endpoint's errors (invalid_grant…) name no secret.
            let error = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(excerpt))
                .unwrap_or_default();
            return Err(match status {
                400 | 401 | 403 => OutboundError::Credentials(format!(
                    "the FCM token endpoint answered {status} {error}"
                )),
                _ => by_status("the FCM token endpoint", status, &error),
            });
        }
        #[derive(Deserialize)]
        struct Granted {
            access_token: String,
            expires_in: u64,
        }
        let granted: Granted = serde_json::from_str(&body).map_err(|_| {
            OutboundError::Unavailable("the FCM token endpoint's answer is not a token".into())
        })?;
        let token = SecretText::new(granted.access_token);
        *self.cached() = Some(AccessToken {
            token: token.clone(),
            expires_at: now + granted.expires_in.saturating_sub(RENEW_EARLY_SECS),
        });
        Ok(token)
    }

    /// The message FCM is asked to deliver.
    fn message(message: &PushMessage) -> Result<serde_json::Value, OutboundError> {
        let payload: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&message.payload).map_err(|_| {
                OutboundError::InvalidMessage("the push payload is not a JSON object")
            })?;
        let mut data = serde_json::Map::new();
        for (key, value) in payload {
            let value = value.as_str().ok_or(OutboundError::InvalidMessage(
                "push payload values must be strings",
            ))?;
            data.insert(key, value.into());
        }
        Ok(serde_json::json!({
            "message": {
                "token": message.token,
                "data": data,
                "android": { "priority": "high" },
            }
        }))
    }
}

impl PushSender for FcmSender {
    fn send(&self, message: &PushMessage) -> Result<(), OutboundError> {
        let body = Self::message(message)?.to_string();
        let client = self.client.get()?;
        let mut retried = false;
        loop {
            let access = self.access_token(&client)?;
            let answer = client
                .post(&self.send_url)
                .bearer_auth(access.expose_secret())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .map_err(|error| unreachable("FCM", error))?;
            let status = answer.status().as_u16();
            if status == 200 {
                tracing::info!(channel = "push", provider = "fcm", "push sent");
                return Ok(());
            }
            if status == 401 && !retried {
                // The access token was revoked or expired early: get a new one once.
                *self.cached() = None;
                retried = true;
                continue;
            }
            let text = answer.text().unwrap_or_default();
            let error = fcm_error(&text);
            tracing::warn!(channel = "push", provider = "fcm", status, error = %error, "push refused");
            // Only FCM's own `UNREGISTERED` marks the phone's token invalid: a bare
            // 404 (a wrong project id, a proxy) is the operator's to fix.
            return Err(if error.contains("UNREGISTERED") {
                OutboundError::Unregistered(format!("FCM answered {status} {error}"))
            } else {
                by_status("FCM", status, &error)
            });
        }
    }
}

/// FCM's error status and code (`NOT_FOUND UNREGISTERED`), from its JSON answer.
fn fcm_error(text: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return String::new();
    };
    let status = value["error"]["status"].as_str().unwrap_or("");
    let code = value["error"]["details"]
        .as_array()
        .and_then(|details| details.iter().find_map(|d| d["errorCode"].as_str()))
        .unwrap_or("");
    excerpt(format!("{status} {code}").trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::protocol::Platform;

    #[test]
    fn the_message_is_data_only_high_priority_and_carries_only_the_handle() {
        let push = PushMessage {
            token: "t0k3n".into(),
            platform: Platform::Android,
            alert: "Login request".into(),
            payload: r#"{"latchkey":"1","request":"00ff"}"#.into(),
        };
        assert_eq!(
            FcmSender::message(&push).unwrap(),
            serde_json::json!({"message": {"token": "t0k3n",
                "data": {"latchkey": "1", "request": "00ff"},
                "android": {"priority": "high"}}})
        );
        let bad = PushMessage {
            payload: r#"{"latchkey":1}"#.into(),
            ..push
        };
        assert!(matches!(
            FcmSender::message(&bad),
            Err(OutboundError::InvalidMessage(_))
        ));
    }

    #[test]
    fn fcm_errors_are_read_from_their_details() {
        let text = r#"{"error":{"code":404,"status":"NOT_FOUND","details":[
            {"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
        assert_eq!(fcm_error(text), "NOT_FOUND UNREGISTERED");
        assert_eq!(fcm_error("<html>"), "");
    }
}
