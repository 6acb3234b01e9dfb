//! Apple Push Notification service, for iPhones: HTTP/2 over TLS with a
//! provider token.
//!
//! The provider token is an ES256 JWT (header `kid`: the key id; claims `iss`:
//! the team id, `iat`) signed with the `.p8` key. Apple refuses a token older
//! than an hour and one renewed more often than every 20 minutes, so a token is
//! reused for [`TOKEN_REUSE_SECS`] (50 min) and renewed early only after an
//! `ExpiredProviderToken` answer, and then not before 20 minutes.
//!
//! Each push is `POST {base}/3/device/{token}` with `authorization: bearer
//! <jwt>`, `apns-push-type: alert`, `apns-priority: 10`, `apns-topic: <bundle
//! id>`, `apns-collapse-id` (the handle, so a repeated push replaces the
//! earlier one), and the body `{"aps": {"alert": <generic alert>, "sound":
//! "default"}, "latchkey": "1", "request" | "notice": …}` — the generic alert
//! and the opaque handle only (docs/PROTOCOL.md §7).
//!
//! Answers: 200 sent; 410, or 400 `BadDeviceToken` →
//! [`OutboundError::Unregistered`] (the phone's registration is then marked
//! invalid: `crate::dispatch`); 400 `DeviceTokenNotForTopic` →
//! [`OutboundError::Rejected`], because it means the configured `topic` is not
//! the app's bundle id — the operator's setting, which must not mark every
//! iPhone's token invalid; 403 → [`OutboundError::Credentials`]; otherwise by
//! status.

use super::config::ApnsConfig;
use super::{DeliveryError, LazyClient, by_status, excerpt, read_credential, unreachable};
use crate::outbox::{OutboundError, PushMessage, PushSender};
use latchkey_core::clock::Clock;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// How long a provider token is reused (Apple: at most 60 min).
pub const TOKEN_REUSE_SECS: u64 = 50 * 60;
/// The least age of a provider token before it may be renewed (Apple refuses
/// renewals more often than every 20 min).
pub const TOKEN_MIN_AGE_SECS: u64 = 20 * 60;

/// The provider token's claims.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProviderClaims {
    /// The team id.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
}

struct ProviderToken {
    jwt: String,
    issued_at: u64,
}

/// Sends pushes through APNs.
pub struct ApnsSender {
    key: jsonwebtoken::EncodingKey,
    key_id: String,
    team_id: String,
    topic: String,
    base: String,
    clock: Arc<dyn Clock>,
    client: LazyClient,
    token: Mutex<Option<ProviderToken>>,
}

impl std::fmt::Debug for ApnsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsSender")
            .field("topic", &self.topic)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn is_apple_id(text: &str) -> bool {
    text.len() == 10 && text.chars().all(|c| c.is_ascii_alphanumeric())
}

impl ApnsSender {
    /// Reads the `.p8` key (mode 0600) and checks the ids.
    pub fn load(config: &ApnsConfig, clock: Arc<dyn Clock>) -> Result<Self, DeliveryError> {
        let pem = read_credential(&config.key_file)?;
        let key = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|_| {
            DeliveryError::Malformed {
                path: config.key_file.clone(),
                what: "not an APNs signing key (a P-256 key in PEM, as in the .p8 file)".into(),
            }
        })?;
        for (name, value) in [("key_id", &config.key_id), ("team_id", &config.team_id)] {
            if !is_apple_id(value) {
                return Err(DeliveryError::Setting(format!(
                    "push.apns {name} must be Apple's 10-character id"
                )));
            }
        }
        if config.topic.is_empty() {
            return Err(DeliveryError::Setting(
                "push.apns topic (the app's bundle id) is empty".into(),
            ));
        }
        Ok(Self {
            key,
            key_id: config.key_id.clone(),
            team_id: config.team_id.clone(),
            topic: config.topic.clone(),
            base: config.base_url().trim_end_matches('/').to_owned(),
            clock,
            client: LazyClient::new(config.extra_root_certificate.as_deref(), true)?,
            token: Mutex::new(None),
        })
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, Option<ProviderToken>> {
        self.token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The provider token: the cached one while younger than 50 minutes (or
    /// when `renew` but younger than 20 minutes), else a new one.
    fn provider_token(&self, renew: bool) -> Result<String, OutboundError> {
        let now = self.clock.now();
        let mut cached = self.cached();
        if let Some(token) = cached.as_ref() {
            let age = now.saturating_sub(token.issued_at);
            let keep = if renew {
                age < TOKEN_MIN_AGE_SECS
            } else {
                age < TOKEN_REUSE_SECS
            };
            if keep {
                return Ok(token.jwt.clone());
            }
        }
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = ProviderClaims {
            iss: self.team_id.clone(),
            iat: now,
        };
        let jwt = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|error| {
            OutboundError::Credentials(format!("signing the APNs provider token: {error}"))
        })?;
        *cached = Some(ProviderToken {
            jwt: jwt.clone(),
            issued_at: now,
        });
        Ok(jwt)
    }

    /// The notification's body and collapse id.
    fn notification(message: &PushMessage) -> Result<(serde_json::Value, String), OutboundError> {
        let payload: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&message.payload).map_err(|_| {
                OutboundError::InvalidMessage("the push payload is not a JSON object")
            })?;
        let collapse_id = ["request", "notice"]
            .iter()
            .find_map(|key| payload.get(*key).and_then(|v| v.as_str()))
            .map(|handle| handle.chars().take(64).collect::<String>())
            .ok_or(OutboundError::InvalidMessage(
                "the push payload names neither a request nor a notice",
            ))?;
        let mut body = serde_json::Map::new();
        body.insert(
            "aps".into(),
            serde_json::json!({ "alert": message.alert, "sound": "default" }),
        );
        body.extend(payload);
        Ok((serde_json::Value::Object(body), collapse_id))
    }
}

/// The `apns-id` header value for an outbox row's key (32 hex digits): the same
/// 128 bits as a canonical lowercase UUID, 8-4-4-4-12. `None` for anything else.
pub fn apns_id(key: &str) -> Option<String> {
    if key.len() != 32 || !key.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let key = key.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &key[..8],
        &key[8..12],
        &key[12..16],
        &key[16..20],
        &key[20..]
    ))
}

impl PushSender for ApnsSender {
    fn send(&self, message: &PushMessage) -> Result<(), OutboundError> {
        self.send_keyed("", message)
    }

    /// Sends with the outbox row's key as `apns-id` (see [`apns_id`]), so that
    /// APNs' answer and Apple's delivery log name the message by its row.
    fn send_keyed(&self, key: &str, message: &PushMessage) -> Result<(), OutboundError> {
        if message.token.is_empty() || !message.token.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(OutboundError::Unregistered(
                "an APNs device token is hexadecimal".into(),
            ));
        }
        let (body, collapse_id) = Self::notification(message)?;
        let body = body.to_string();
        let url = format!("{}/3/device/{}", self.base, message.token);
        let client = self.client.get()?;
        let mut renewed = false;
        loop {
            let jwt = self.provider_token(renewed)?;
            let mut request = client.post(&url);
            if let Some(id) = apns_id(key) {
                request = request.header("apns-id", id);
            }
            let answer = request
                .header(reqwest::header::AUTHORIZATION, format!("bearer {jwt}"))
                .header("apns-push-type", "alert")
                .header("apns-priority", "10")
                .header("apns-topic", &self.topic)
                .header("apns-collapse-id", &collapse_id)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .map_err(|error| unreachable("APNs", error))?;
            let status = answer.status().as_u16();
            if status == 200 {
                tracing::info!(channel = "push", provider = "apns", "push sent");
                return Ok(());
            }
            let reason = answer
                .text()
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|v| v["reason"].as_str().map(excerpt))
                .unwrap_or_default();
            if status == 403 && reason == "ExpiredProviderToken" && !renewed {
                renewed = true;
                continue;
            }
            tracing::warn!(channel = "push", provider = "apns", status, reason = %reason, "push refused");
            let text = format!("APNs answered {status} {reason}");
            return Err(match (status, reason.as_str()) {
                (410, _) | (400, "BadDeviceToken") => OutboundError::Unregistered(text),
                (403, _) => OutboundError::Credentials(text),
                _ => by_status("APNs", status, &reason),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::protocol::Platform;

    #[test]
    fn the_notification_has_the_generic_alert_and_the_handle_only() {
        let push = PushMessage {
            token: "ab".into(),
            platform: Platform::Ios,
            alert: "Login request".into(),
            payload: r#"{"latchkey":"1","notice":"revoked"}"#.into(),
        };
        let (body, collapse) = ApnsSender::notification(&push).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"aps": {"alert": "Login request", "sound": "default"},
                               "latchkey": "1", "notice": "revoked"})
        );
        assert_eq!(collapse, "revoked");
    }

    #[test]
    fn the_row_key_becomes_a_canonical_uuid_for_apns_id() {
        assert_eq!(
            apns_id("0123456789ABCDEF0123456789abcdef").as_deref(),
            Some("01234567-89ab-cdef-0123-456789abcdef")
        );
        assert_eq!(apns_id(""), None);
        assert_eq!(apns_id("0123456789abcdef0123456789abcdeg"), None);
        assert_eq!(apns_id("0123"), None);
    }
}
