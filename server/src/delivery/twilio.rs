//! SMS and voice through a Twilio-compatible REST API.
//!
//! SMS: `POST {api}/2010-04-01/Accounts/{sid}/Messages.json`, form `To`, `From`,
//! `Body`, HTTP basic auth (account SID, auth token); 201 is sent.
//!
//! Voice: `POST {api}/2010-04-01/Accounts/{sid}/Calls.json`, form `To`, `From`,
//! `Twiml`. The code is never in that TwiML. The call says "press any key to
//! hear your code" inside a `<Gather numDigits="1">` whose `action` is this
//! server's `POST {public_url}/v1/voice-calls/{call}/code`; Twilio requests it
//! only after the callee pressed a key, and only then does the server answer
//! the TwiML that reads the code, digit by digit, twice. The code waits in the
//! store (table `voice_calls`), sealed under the server's wrapping key and
//! filed under the SHA-256 of a random 128-bit call id, for at most
//! [`crate::outbox::VOICE_KEYPRESS_WAIT_SECS`], and is handed out once (the
//! callback takes the row); so the callback may reach any node sharing the
//! store. The callback must carry a valid `X-Twilio-Signature` (HMAC-SHA1 under
//! the auth token of the URL and the sorted form fields, as Twilio documents).
//! A call nobody answers, voicemail included, hears only the prompt, never the
//! code.
//!
//! Every request carries the outbox row's idempotency key in
//! [`IDEMPOTENCY_HEADER`], so a message sent again after a crash (the lease of
//! `crate::dispatch` lapsed) is dropped by Twilio instead of reaching the user
//! twice.
//!
//! Answers: 2xx sent; Twilio's 400 (invalid or unreachable number,
//! unsubscribed recipient) → [`OutboundError::Rejected`]; 401/403 →
//! [`OutboundError::Credentials`]; 429 and 5xx → [`OutboundError::Unavailable`].

use super::config::TwilioConfig;
use super::{DeliveryError, LazyClient, by_status, excerpt, read_credential, unreachable};
use crate::outbox::{
    MessageText, OutboundError, SmsSender, VOICE_KEYPRESS_WAIT_SECS, VoiceCall, VoiceCaller,
};
use crate::secrets::ServerKeys;
use crate::store::{Store, StoreExt as _, VoiceCallRecord};
use crate::users::PhoneNumber;
use latchkey_core::clock::Clock;
use std::sync::{Arc, OnceLock};
use zeroize::Zeroizing;

/// The header carrying a message's idempotency key (the outbox row's key):
/// Twilio drops a second request with the same token instead of sending twice.
pub const IDEMPOTENCY_HEADER: &str = "I-Twilio-Idempotency-Token";

/// How long the call waits for the keypress after the prompt, in seconds.
pub const GATHER_TIMEOUT_SECS: u32 = 15;

/// One Twilio account: where to send, as whom, with which token.
struct Account {
    sid: String,
    auth_token: Zeroizing<String>,
    from: String,
    api: String,
    client: LazyClient,
}

impl Account {
    fn load(config: &TwilioConfig, channel: &str) -> Result<Self, DeliveryError> {
        if config.account_sid.is_empty()
            || !config
                .account_sid
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        {
            return Err(DeliveryError::Setting(format!(
                "{channel} account_sid must be the account's SID (letters and digits)"
            )));
        }
        if config.from.is_empty() {
            return Err(DeliveryError::Setting(format!("{channel} from is empty")));
        }
        Ok(Self {
            sid: config.account_sid.clone(),
            auth_token: read_credential(&config.auth_token_file)?,
            from: config.from.clone(),
            api: config.api_base.trim_end_matches('/').to_owned(),
            client: LazyClient::new(config.extra_root_certificate.as_deref(), false)?,
        })
    }

    /// Posts `form` to `{resource}.json`, with the message's idempotency key
    /// (if any) in [`IDEMPOTENCY_HEADER`]; Ok on 2xx.
    fn post(
        &self,
        resource: &str,
        key: Option<&str>,
        form: &[(&str, &str)],
    ) -> Result<(), OutboundError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}.json",
            self.api, self.sid
        );
        let mut request = self
            .client
            .get()?
            .post(url)
            .basic_auth(&self.sid, Some(self.auth_token.as_str()))
            .form(form);
        if let Some(key) = key.filter(|key| !key.is_empty()) {
            request = request.header(IDEMPOTENCY_HEADER, key);
        }
        let answer = request
            .send()
            .map_err(|error| unreachable("Twilio", error))?;
        let status = answer.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        // Twilio's error: {"code": 21211, "message": "The 'To' number … is not valid", …}.
        // The message may quote the number, so only the code is kept.
        let code = answer
            .text()
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|v| v["code"].as_u64())
            .map(|code| format!("(Twilio error {code})"))
            .unwrap_or_default();
        Err(by_status("Twilio", status, &excerpt(&code)))
    }
}

/// Sends SMS through Twilio.
pub struct TwilioSms {
    account: Account,
}

impl std::fmt::Debug for TwilioSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSms").finish_non_exhaustive()
    }
}

impl TwilioSms {
    /// Reads the auth token file (mode 0600).
    pub fn load(config: &TwilioConfig) -> Result<Self, DeliveryError> {
        Ok(Self {
            account: Account::load(config, "sms")?,
        })
    }
}

impl SmsSender for TwilioSms {
    fn send(&self, to: &PhoneNumber, text: &MessageText) -> Result<(), OutboundError> {
        self.send_keyed("", to, text)
    }

    fn send_keyed(
        &self,
        key: &str,
        to: &PhoneNumber,
        text: &MessageText,
    ) -> Result<(), OutboundError> {
        let body = Zeroizing::new(text.expose_secret());
        let outcome = self.account.post(
            "Messages",
            Some(key),
            &[
                ("To", to.as_str()),
                ("From", &self.account.from),
                ("Body", &body),
            ],
        );
        match &outcome {
            Ok(()) => tracing::info!(channel = "sms", provider = "twilio", to = %to.masked(),
                text = %text.redacted(), "sms sent"),
            Err(error) => tracing::warn!(channel = "sms", provider = "twilio", to = %to.masked(),
                %error, "sms not sent"),
        }
        outcome
    }
}

/// Where placed calls wait for their keypress: the store every node shares,
/// with the code sealed under the server's wrapping key.
struct CallBook {
    store: Arc<dyn Store>,
    keys: Arc<dyn ServerKeys>,
}

/// Places voice calls through Twilio and serves their keypress callback.
pub struct TwilioVoice {
    account: Account,
    callback_base: String,
    clock: Arc<dyn Clock>,
    book: OnceLock<CallBook>,
}

impl std::fmt::Debug for TwilioVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioVoice").finish_non_exhaustive()
    }
}

/// The AAD binding a sealed code to its call id.
fn call_aad(call: &str) -> Vec<u8> {
    [b"latchkey/v1/voice-call/".as_slice(), call.as_bytes()].concat()
}

/// What the store keeps of a call id: its SHA-256.
fn call_hash(call: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, call.as_bytes());
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest.as_ref());
    hash
}

/// Escapes text for an XML attribute or element.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The digits of `code` spoken one by one: "4, 9, 3".
fn spelled(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_digit)
        .map(String::from)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The TwiML that reads `code`: digit by digit, twice, then hangs up.
fn reading(code: &str) -> Zeroizing<String> {
    let digits = Zeroizing::new(spelled(code));
    Zeroizing::new(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Your Latchkey security code \
         is: {d}. Again: {d}.</Say><Hangup/></Response>",
        d = digits.as_str()
    ))
}

/// Twilio's request signature: base64(HMAC-SHA1(auth token, URL ‖ each form
/// field's name ‖ value, sorted by name)).
pub fn twilio_signature(auth_token: &str, url: &str, form: &[(String, String)]) -> String {
    let mut fields: Vec<&(String, String)> = form.iter().collect();
    fields.sort();
    let mut data = url.to_owned();
    for (name, value) in fields {
        data.push_str(name);
        data.push_str(value);
    }
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        auth_token.as_bytes(),
    );
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, data.as_bytes()))
}

impl TwilioVoice {
    /// Reads the auth token file (mode 0600); the keypress callback goes to
    /// `public_url`.
    pub fn load(
        config: &TwilioConfig,
        clock: Arc<dyn Clock>,
        public_url: &str,
    ) -> Result<Self, DeliveryError> {
        Ok(Self {
            account: Account::load(config, "voice")?,
            callback_base: public_url.trim_end_matches('/').to_owned(),
            clock,
            book: OnceLock::new(),
        })
    }

    /// Keeps placed calls in `store`, their codes sealed with `keys` (set once,
    /// when the store is open; before that a call is not placed). With the
    /// calls in the shared store, the keypress callback may reach any node.
    pub fn keep_calls_in(&self, store: Arc<dyn Store>, keys: Arc<dyn ServerKeys>) {
        // A second call keeps the first book: one server has one store.
        let _ = self.book.set(CallBook { store, keys });
    }

    fn book(&self) -> Result<&CallBook, OutboundError> {
        self.book.get().ok_or_else(|| {
            OutboundError::Unavailable("voice calls have no store to wait in yet".into())
        })
    }

    /// The URL Twilio calls back after the keypress of call `call`.
    pub fn callback_url(&self, call: &str) -> String {
        format!("{}/v1/voice-calls/{call}/code", self.callback_base)
    }

    /// The callee of `call` pressed a key: the TwiML that reads its code, once,
    /// if `signature` is Twilio's over the callback URL and `form`.
    /// [`OutboundError::NoSuchCall`] for an unknown, used or timed-out call or a
    /// wrong signature (the same answer, so a forger learns nothing). Blocking
    /// (it takes the call from the store).
    pub fn keypress(
        &self,
        call: &str,
        signature: Option<&str>,
        form: &[(String, String)],
    ) -> Result<Zeroizing<String>, OutboundError> {
        let expected = twilio_signature(&self.account.auth_token, &self.callback_url(call), form);
        let signed = signature.is_some_and(|given| {
            use subtle::ConstantTimeEq as _;
            bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
        });
        if !signed {
            tracing::warn!(
                channel = "voice",
                "a keypress callback without a valid signature"
            );
            return Err(OutboundError::NoSuchCall);
        }
        let now = self.clock.now();
        let book = self.book()?;
        let hash = call_hash(call);
        let taken = book
            .store
            .in_transaction(|tx| tx.take_voice_call(&hash))?
            .filter(|p| now.saturating_sub(p.placed_at) < VOICE_KEYPRESS_WAIT_SECS)
            .ok_or(OutboundError::NoSuchCall)?;
        let code = book
            .keys
            .unwrap(&taken.sealed, &call_aad(call))
            .map_err(|_| {
                tracing::warn!(
                    channel = "voice",
                    "a waiting call's sealed code does not open"
                );
                OutboundError::NoSuchCall
            })?;
        let code =
            std::str::from_utf8(code.expose_secret()).map_err(|_| OutboundError::NoSuchCall)?;
        tracing::info!(channel = "voice", provider = "twilio", code = %"[redacted]",
            "the callee pressed a key; the code is read");
        Ok(reading(code))
    }

    /// The TwiML placing a call for `call`: the prompt inside the keypress
    /// `<Gather>`, no code.
    fn prompt(&self, call: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather numDigits=\"1\" \
             timeout=\"{GATHER_TIMEOUT_SECS}\" method=\"POST\" action=\"{}\"><Say>This is \
             Latchkey. Press any key to hear your security code.</Say></Gather><Say>No key was \
             pressed. Goodbye.</Say></Response>",
            xml(&self.callback_url(call))
        )
    }
}

impl VoiceCaller for TwilioVoice {
    fn send(&self, to: &PhoneNumber, call: &VoiceCall) -> Result<(), OutboundError> {
        self.send_keyed("", to, call)
    }

    /// Places the call. With `press_key_first`, the code waits in the store
    /// (sealed, under the SHA-256 of a fresh random call id) for the keypress
    /// callback, and the call's TwiML holds only the prompt.
    fn send_keyed(
        &self,
        key: &str,
        to: &PhoneNumber,
        call: &VoiceCall,
    ) -> Result<(), OutboundError> {
        let waiting = if call.press_key_first {
            let id = latchkey_core::encoding::encode_hex(
                &latchkey_core::protocol::ids::random_bytes::<16>()
                    .map_err(|_| OutboundError::Unavailable("randomness failed".into()))?,
            );
            let book = self.book()?;
            let sealed = book
                .keys
                .wrap(call.code.expose_secret().as_bytes(), &call_aad(&id))
                .map_err(|error| {
                    OutboundError::Unavailable(format!("sealing the code: {error}"))
                })?;
            let now = self.clock.now();
            let record = VoiceCallRecord {
                call: call_hash(&id),
                sealed,
                placed_at: now,
            };
            book.store.in_transaction(|tx| {
                tx.forget_voice_calls_before(now.saturating_sub(VOICE_KEYPRESS_WAIT_SECS))?;
                tx.put_voice_call(&record)
            })?;
            Some((id, record.call))
        } else {
            None
        };
        let twiml = match &waiting {
            Some((id, _)) => Zeroizing::new(self.prompt(id)),
            None => reading(call.code.expose_secret()),
        };
        let outcome = self.account.post(
            "Calls",
            Some(key),
            &[
                ("To", to.as_str()),
                ("From", &self.account.from),
                ("Twiml", &twiml),
            ],
        );
        if let (Err(_), Some((_, hash)), Ok(book)) = (&outcome, &waiting, self.book()) {
            // Not placed: nobody will press a key for this one.
            let _ = book.store.in_transaction(|tx| tx.take_voice_call(hash));
        }
        match &outcome {
            Ok(()) => tracing::info!(channel = "voice", provider = "twilio", to = %to.masked(),
                press_key_first = call.press_key_first, "voice call placed"),
            Err(error) => tracing::warn!(channel = "voice", provider = "twilio",
                to = %to.masked(), %error, "voice call not placed"),
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_spelled_digit_by_digit_twice() {
        assert_eq!(spelled("493817"), "4, 9, 3, 8, 1, 7");
        let twiml = reading("42");
        assert!(
            twiml.contains("is: 4, 2. Again: 4, 2.</Say><Hangup/>"),
            "{}",
            *twiml
        );
    }

    #[test]
    fn the_signature_matches_twilios_documented_example() {
        // Twilio's security documentation example (auth token 12345).
        let form: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &form
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
