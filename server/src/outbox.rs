//! Outbound channels — push, SMS, voice, e-mail — as traits, and the [`Outbox`]
//! that implements all four by recording each message in the store.
//!
//! The outbox is the embedded default, the demo's and the tests' channel: the
//! development endpoint `GET /v1/dev/outbox` reads it. The real provider
//! adapters (FCM, APNs, Twilio, SMTP) implement the same traits in
//! [`crate::delivery`].
//!
//! Voice calls follow the adapter contract of [`VoiceCaller`]: with
//! `press_key_first`, the code is read only after the callee presses a key (so a
//! voicemail never records it). The outbox models the call in two steps: placing
//! it records a row *without* the code ("call placed, code withheld until
//! keypress") and keeps the code in memory; [`Outbox::press_key`] — the callee's
//! keypress, driven by the development endpoint
//! `POST /v1/dev/voice-calls/{call}/keypress` or a test — records a second row
//! with the code read out, once. A call nobody answers within
//! [`VOICE_KEYPRESS_WAIT_SECS`] ends without reading anything.
//!
//! Invariants: what is secret in a message (a code, a cancel link's token) is a
//! [`SecretText`], kept apart from the text around it, so that log lines show
//! `[redacted]` in its place while the outbox row (and the real provider) gets
//! the full text; recipients are masked in log lines; a message is logged only
//! after its row is committed; a voice code reaches a row only after a keypress
//! (or for a call placed without `press_key_first`).

use crate::store::{Channel, OutboxEntry, Store, StoreError, StoreExt};
use crate::users::{EmailAddress, PhoneNumber};
use latchkey_core::clock::Clock;
use latchkey_core::secret::SecretBytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a placed voice call waits for the callee's keypress before it ends
/// (generous, so that a person trying the development server by hand has time).
pub const VOICE_KEYPRESS_WAIT_SECS: u64 = 300;

/// Where a message's secret goes in its text.
pub const SECRET_PLACEHOLDER: &str = "{secret}";

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// The message is not well-formed; the text says how.
    #[error("the message is not well-formed: {0}")]
    InvalidMessage(&'static str),
    /// The provider refused the message (unknown recipient, blocked number…).
    #[error("the provider refused the message: {0}")]
    Rejected(String),
    /// The provider failed or could not be reached; sending again may work.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused this server's credentials (expired, revoked, wrong
    /// account): nothing will go out until the operator fixes them.
    #[error("the provider refused the server's credentials: {0}")]
    Credentials(String),
    /// The push token is unregistered or invalid (FCM `UNREGISTERED`, APNs 410 or
    /// `BadDeviceToken`): pushes to it will never arrive; the phone must sync a
    /// new token.
    #[error("the push token is no longer valid: {0}")]
    Unregistered(String),
    /// No call with this id is waiting for a keypress (never placed, already
    /// read, or ended unanswered).
    #[error("no call with this id is waiting for a keypress")]
    NoSuchCall,
    /// The outbox could not record the message.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A secret carried by a message: a code or a link's token. Zeroized on drop,
/// `[redacted]` in `Debug` and in log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretText(SecretBytes);

impl SecretText {
    /// Takes `text` (moved, not copied).
    pub fn new(text: String) -> Self {
        Self(SecretBytes::new(text.into_bytes()))
    }

    /// The text. Callers: the provider delivering it, the outbox row.
    pub fn expose_secret(&self) -> &str {
        // Built from a String, so always UTF-8.
        std::str::from_utf8(self.0.expose_secret()).unwrap_or("")
    }
}

/// Message text that may hold one secret at [`SECRET_PLACEHOLDER`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText {
    template: String,
    secret: Option<SecretText>,
}

impl MessageText {
    /// Text without a secret. It must not contain the placeholder.
    pub fn plain(text: impl Into<String>) -> Result<Self, OutboundError> {
        let template = text.into();
        if template.contains(SECRET_PLACEHOLDER) {
            return Err(OutboundError::InvalidMessage(
                "plain text contains the secret placeholder",
            ));
        }
        Ok(Self {
            template,
            secret: None,
        })
    }

    /// Text with `secret` at the one `{secret}` in `template`, e.g.
    /// `"Your Latchkey code is {secret}. It expires in 5 minutes."`.
    pub fn with_secret(
        template: impl Into<String>,
        secret: SecretText,
    ) -> Result<Self, OutboundError> {
        let template = template.into();
        if template.matches(SECRET_PLACEHOLDER).count() != 1 {
            return Err(OutboundError::InvalidMessage(
                "the template must contain {secret} exactly once",
            ));
        }
        Ok(Self {
            template,
            secret: Some(secret),
        })
    }

    /// The text to deliver, secret included.
    pub fn expose_secret(&self) -> String {
        match &self.secret {
            Some(secret) => self
                .template
                .replace(SECRET_PLACEHOLDER, secret.expose_secret()),
            None => self.template.clone(),
        }
    }

    /// The text around the secret, with [`SECRET_PLACEHOLDER`] where it goes.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The secret, if the text carries one.
    pub fn secret(&self) -> Option<&SecretText> {
        self.secret.as_ref()
    }

    /// The text for logs: the secret replaced by `[redacted]`.
    pub fn redacted(&self) -> String {
        self.template.replace(SECRET_PLACEHOLDER, "[redacted]")
    }
}

/// A push notification. The payload is an opaque request handle; the alert text
/// is generic (docs/DESIGN.md §4): the phone fetches and checks the signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    /// The device's push token (FCM registration token or APNs device token).
    pub token: String,
    /// The phone's platform, which decides the provider (FCM or APNs).
    pub platform: latchkey_core::protocol::Platform,
    /// The alert text shown by the system.
    pub alert: String,
    /// The opaque payload the app receives.
    pub payload: String,
}

/// A voice call that reads a code after the callee presses a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceCall {
    /// The code to read out.
    pub code: SecretText,
    /// Whether the callee must press a key before the code is read (so that
    /// voicemail does not record it).
    pub press_key_first: bool,
}

/// An e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The subject line (never a secret).
    pub subject: String,
    /// The body; a cancel link's token is its secret.
    pub body: MessageText,
}

/// Sends push notifications. Must not call back into the server.
pub trait PushSender: Send + Sync {
    /// Sends `message` to the device whose token it names.
    fn send(&self, message: &PushMessage) -> Result<(), OutboundError>;

    /// As [`Self::send`], passing the message's idempotency key (32 hex digits) to
    /// providers that drop a duplicate under it. The default ignores it.
    fn send_keyed(&self, key: &str, message: &PushMessage) -> Result<(), OutboundError> {
        let _ = key;
        self.send(message)
    }
}

/// Sends text messages. Must not call back into the server.
pub trait SmsSender: Send + Sync {
    /// Sends `text` to `to`.
    fn send(&self, to: &PhoneNumber, text: &MessageText) -> Result<(), OutboundError>;

    /// As [`Self::send`], passing the message's idempotency key (32 hex digits) to
    /// providers that drop a duplicate under it. The default ignores it.
    fn send_keyed(
        &self,
        key: &str,
        to: &PhoneNumber,
        text: &MessageText,
    ) -> Result<(), OutboundError> {
        let _ = key;
        self.send(to, text)
    }
}

/// Places voice calls that read a code. Must not call back into the server.
///
/// Contract: with `call.press_key_first`, the adapter reads the code only after
/// the callee pressed a key (an IVR "press any key to hear your code"); a call
/// that gets no keypress reads nothing. `send` returns once the call is placed.
pub trait VoiceCaller: Send + Sync {
    /// Calls `to`; reads `call.code` after the keypress.
    fn send(&self, to: &PhoneNumber, call: &VoiceCall) -> Result<(), OutboundError>;

    /// As [`Self::send`], passing the message's idempotency key (32 hex digits) to
    /// providers that drop a duplicate under it. The default ignores it.
    fn send_keyed(
        &self,
        key: &str,
        to: &PhoneNumber,
        call: &VoiceCall,
    ) -> Result<(), OutboundError> {
        let _ = key;
        self.send(to, call)
    }
}

/// Sends e-mail. Must not call back into the server.
pub trait Mailer: Send + Sync {
    /// Sends `email` to `to`.
    fn send(&self, to: &EmailAddress, email: &Email) -> Result<(), OutboundError>;

    /// As [`Self::send`], passing the message's idempotency key (32 hex digits) to
    /// providers that drop a duplicate under it. The default ignores it.
    fn send_keyed(&self, key: &str, to: &EmailAddress, email: &Email) -> Result<(), OutboundError> {
        let _ = key;
        self.send(to, email)
    }
}

/// The four channels a ceremony sends through.
#[derive(Clone)]
pub struct Channels {
    /// Push notifications.
    pub push: Arc<dyn PushSender>,
    /// Text messages.
    pub sms: Arc<dyn SmsSender>,
    /// Voice calls.
    pub voice: Arc<dyn VoiceCaller>,
    /// E-mail.
    pub mail: Arc<dyn Mailer>,
}

impl Channels {
    /// All four channels through one outbox.
    pub fn outbox(outbox: Arc<Outbox>) -> Self {
        Self {
            push: outbox.clone(),
            sms: outbox.clone(),
            voice: outbox.clone(),
            mail: outbox,
        }
    }
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channels").finish_non_exhaustive()
    }
}

/// Records every message in the store (one transaction each) and logs a line
/// without secrets. Blocking, like the store.
pub struct Outbox {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Voice calls placed and waiting for the callee's keypress, by call id.
    calls: Mutex<HashMap<String, PendingCall>>,
}

/// A voice call waiting for its keypress: the code stays here, not in a row.
struct PendingCall {
    to: PhoneNumber,
    code: SecretText,
    placed_at: u64,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

/// A push token shortened for logs: its first 8 characters.
fn masked_token(token: &str) -> String {
    let head: String = token.chars().take(8).collect();
    format!("{head}…")
}

impl Outbox {
    /// An outbox over `store`, stamping messages with `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            calls: Mutex::new(HashMap::new()),
        }
    }

    fn pending_calls(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingCall>> {
        // A panic elsewhere while holding the map leaves it consistent (plain inserts
        // and removals), so a poisoned lock is still usable.
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The callee of voice call `call` pressed a key: the code is read out (a row
    /// with the code is recorded), once. [`OutboundError::NoSuchCall`] if no call
    /// with this id is waiting — never placed, already read, or ended unanswered
    /// after [`VOICE_KEYPRESS_WAIT_SECS`].
    pub fn press_key(&self, call: &str) -> Result<(), OutboundError> {
        let now = self.clock.now();
        let pending = self
            .pending_calls()
            .remove(call)
            .filter(|p| now.saturating_sub(p.placed_at) < VOICE_KEYPRESS_WAIT_SECS)
            .ok_or(OutboundError::NoSuchCall)?;
        self.read_code(call, &pending.to, &pending.code, true)
    }

    /// Records the code as read out on call `call`.
    fn read_code(
        &self,
        call: &str,
        to: &PhoneNumber,
        code: &SecretText,
        press_key_first: bool,
    ) -> Result<(), OutboundError> {
        let id = self.record(
            Channel::Voice,
            to.as_str(),
            serde_json::json!({
                "call": call,
                "event": "code_read",
                "press_key_first": press_key_first,
                "code": code.expose_secret(),
            }),
        )?;
        tracing::info!(
            id,
            channel = "voice",
            to = %to.masked(),
            call,
            code = %"[redacted]",
            "outbox: voice call read its code"
        );
        Ok(())
    }

    fn record(
        &self,
        channel: Channel,
        recipient: &str,
        body: serde_json::Value,
    ) -> Result<i64, OutboundError> {
        let entry = OutboxEntry {
            created_at: self.clock.now(),
            channel,
            recipient: recipient.to_owned(),
            body,
        };
        Ok(self.store.in_transaction(|tx| tx.append_outbox(&entry))?)
    }
}

impl PushSender for Outbox {
    fn send(&self, message: &PushMessage) -> Result<(), OutboundError> {
        let id = self.record(
            Channel::Push,
            &message.token,
            serde_json::json!({ "alert": message.alert, "payload": message.payload }),
        )?;
        tracing::info!(
            id,
            channel = "push",
            to = %masked_token(&message.token),
            alert = %message.alert,
            "outbox: message recorded"
        );
        Ok(())
    }
}

impl SmsSender for Outbox {
    fn send(&self, to: &PhoneNumber, text: &MessageText) -> Result<(), OutboundError> {
        let id = self.record(
            Channel::Sms,
            to.as_str(),
            serde_json::json!({ "text": text.expose_secret() }),
        )?;
        tracing::info!(
            id,
            channel = "sms",
            to = %to.masked(),
            text = %text.redacted(),
            "outbox: message recorded"
        );
        Ok(())
    }
}

impl VoiceCaller for Outbox {
    /// Places the call. With `press_key_first` the row says "placed, code withheld
    /// until keypress" and the code waits in memory for [`Outbox::press_key`];
    /// without it the code is read (recorded) at once.
    fn send(&self, to: &PhoneNumber, call: &VoiceCall) -> Result<(), OutboundError> {
        let call_id = latchkey_core::encoding::encode_hex(
            &latchkey_core::protocol::ids::random_bytes::<16>()
                .map_err(|_| OutboundError::Unavailable("randomness failed".into()))?,
        );
        if !call.press_key_first {
            return self.read_code(&call_id, to, &call.code, false);
        }
        let now = self.clock.now();
        let id = self.record(
            Channel::Voice,
            to.as_str(),
            serde_json::json!({
                "call": call_id,
                "event": "placed",
                "press_key_first": true,
                "note": "code withheld until the callee presses a key",
            }),
        )?;
        let mut calls = self.pending_calls();
        calls.retain(|_, p| now.saturating_sub(p.placed_at) < VOICE_KEYPRESS_WAIT_SECS);
        calls.insert(
            call_id.clone(),
            PendingCall {
                to: to.clone(),
                code: call.code.clone(),
                placed_at: now,
            },
        );
        drop(calls);
        tracing::info!(
            id,
            channel = "voice",
            to = %to.masked(),
            call = %call_id,
            press_key_first = true,
            "outbox: voice call placed, code withheld until keypress"
        );
        Ok(())
    }
}

impl Mailer for Outbox {
    fn send(&self, to: &EmailAddress, email: &Email) -> Result<(), OutboundError> {
        let id = self.record(
            Channel::Email,
            to.as_str(),
            serde_json::json!({ "subject": email.subject, "body": email.body.expose_secret() }),
        )?;
        tracing::info!(
            id,
            channel = "email",
            to = %to.masked(),
            subject = %email.subject,
            body = %email.body.redacted(),
            "outbox: message recorded"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;
    use latchkey_core::clock::ManualClock;
    use std::sync::Mutex;

    /// Collects log output of the current thread.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(f: impl FnOnce()) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    fn outbox() -> (Outbox, Arc<SqliteStore>) {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        (Outbox::new(store.clone(), clock), store)
    }

    fn rows(store: &SqliteStore) -> Vec<OutboxEntry> {
        store
            .in_transaction(|tx| tx.outbox_after(0, 100))
            .unwrap()
            .into_iter()
            .map(|row| row.entry)
            .collect()
    }

    #[test]
    fn an_sms_code_is_in_the_outbox_row_and_redacted_in_the_log() {
        let (outbox, store) = outbox();
        let phone: PhoneNumber = "+85212345678".parse().unwrap();
        let text = MessageText::with_secret(
            "Your Latchkey code is {secret}. It expires in 5 minutes.",
            SecretText::new("493817".into()),
        )
        .unwrap();
        let log = logged(|| SmsSender::send(&outbox, &phone, &text).unwrap());
        assert!(!log.contains("493817"), "{log}");
        assert!(log.contains("Your Latchkey code is [redacted]."), "{log}");
        assert!(
            log.contains("+852****5678") && !log.contains("12345678"),
            "{log}"
        );
        assert_eq!(
            rows(&store),
            [OutboxEntry {
                created_at: 1_800_000_000,
                channel: Channel::Sms,
                recipient: "+85212345678".into(),
                body: serde_json::json!({
                    "text": "Your Latchkey code is 493817. It expires in 5 minutes."
                }),
            }]
        );
    }

    #[test]
    fn a_voice_call_reads_its_code_only_after_the_keypress_and_only_once() {
        let (outbox, store) = outbox();
        let phone: PhoneNumber = "+919876543210".parse().unwrap();
        let call = VoiceCall {
            code: SecretText::new("602914".into()),
            press_key_first: true,
        };
        let log = logged(|| VoiceCaller::send(&outbox, &phone, &call).unwrap());
        assert!(!log.contains("602914"), "{log}");
        assert!(log.contains("press_key_first=true"), "{log}");
        let placed = rows(&store);
        assert_eq!(placed.len(), 1);
        assert_eq!(placed[0].channel, Channel::Voice);
        assert_eq!(placed[0].body["event"], "placed");
        assert!(!placed[0].body.to_string().contains("602914"), "withheld");
        let call_id = placed[0].body["call"].as_str().unwrap().to_owned();

        assert!(matches!(
            outbox.press_key("not-a-call"),
            Err(OutboundError::NoSuchCall)
        ));
        let log = logged(|| outbox.press_key(&call_id).unwrap());
        assert!(
            !log.contains("602914") && log.contains("code=[redacted]"),
            "{log}"
        );
        let read = rows(&store);
        assert_eq!(read.len(), 2);
        assert_eq!(
            read[1].body,
            serde_json::json!({"call": call_id, "event": "code_read",
                               "press_key_first": true, "code": "602914"})
        );
        assert!(matches!(
            outbox.press_key(&call_id),
            Err(OutboundError::NoSuchCall)
        ));
        assert_eq!(rows(&store).len(), 2, "read once");
    }

    #[test]
    fn an_unanswered_voice_call_ends_without_reading_its_code() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let outbox = Outbox::new(store.clone(), clock.clone());
        let phone: PhoneNumber = "+919876543210".parse().unwrap();
        let call = VoiceCall {
            code: SecretText::new("602914".into()),
            press_key_first: true,
        };
        VoiceCaller::send(&outbox, &phone, &call).unwrap();
        VoiceCaller::send(&outbox, &phone, &call).unwrap();
        let ids: Vec<String> = rows(&store)
            .iter()
            .map(|r| r.body["call"].as_str().unwrap().to_owned())
            .collect();
        clock.advance(VOICE_KEYPRESS_WAIT_SECS - 1);
        outbox.press_key(&ids[0]).unwrap();
        clock.advance(1);
        assert!(matches!(
            outbox.press_key(&ids[1]),
            Err(OutboundError::NoSuchCall)
        ));
        let read: Vec<_> = rows(&store)
            .into_iter()
            .filter(|r| r.body["event"] == "code_read")
            .collect();
        assert_eq!(read.len(), 1);
    }

    #[test]
    fn push_and_email_are_recorded_in_order_without_secrets_in_the_log() {
        let (outbox, store) = outbox();
        let push = PushMessage {
            token: "fcm-token-abcdefghijklmnop".into(),
            platform: latchkey_core::protocol::Platform::Android,
            alert: "Login request".into(),
            payload: "{\"request\":\"0123\"}".into(),
        };
        let email = Email {
            subject: "Your phone is being replaced".into(),
            body: MessageText::with_secret(
                "Not you? Cancel: https://auth.example/cancel/{secret}",
                SecretText::new("c4nc3l-t0k3n".into()),
            )
            .unwrap(),
        };
        let to: EmailAddress = "alice@example.com".parse().unwrap();
        let log = logged(|| {
            PushSender::send(&outbox, &push).unwrap();
            Mailer::send(&outbox, &to, &email).unwrap();
        });
        assert!(
            !log.contains("c4nc3l-t0k3n") && !log.contains("abcdefghijklmnop"),
            "{log}"
        );
        assert!(!log.contains("alice@"), "{log}");
        let recorded = rows(&store);
        assert_eq!(
            recorded.iter().map(|e| e.channel).collect::<Vec<_>>(),
            [Channel::Push, Channel::Email]
        );
        assert_eq!(recorded[0].recipient, "fcm-token-abcdefghijklmnop");
        assert_eq!(
            recorded[1].body["body"],
            "Not you? Cancel: https://auth.example/cancel/c4nc3l-t0k3n"
        );
    }

    #[test]
    fn templates_need_exactly_one_placeholder_and_secrets_print_redacted() {
        let secret = SecretText::new("123456".into());
        assert!(MessageText::with_secret("no placeholder", secret.clone()).is_err());
        assert!(MessageText::with_secret("{secret} {secret}", secret.clone()).is_err());
        assert!(MessageText::plain("a {secret}").is_err());
        let text = MessageText::with_secret("code {secret}", secret.clone()).unwrap();
        let printed = format!("{text:?} {secret:?}");
        assert!(!printed.contains("123456"), "{printed}");
        assert_eq!(text.expose_secret(), "code 123456");
        assert_eq!(text.redacted(), "code [redacted]");
    }

    #[test]
    fn channels_route_every_kind_through_one_outbox() {
        let (outbox, store) = outbox();
        let channels = Channels::outbox(Arc::new(outbox));
        let phone: PhoneNumber = "+85212345678".parse().unwrap();
        channels
            .sms
            .send(&phone, &MessageText::plain("hello").unwrap())
            .unwrap();
        channels
            .voice
            .send(
                &phone,
                &VoiceCall {
                    code: SecretText::new("1".into()),
                    press_key_first: false,
                },
            )
            .unwrap();
        assert_eq!(rows(&store).len(), 2);
    }
}
