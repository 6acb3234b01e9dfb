//! The app model through the FFI: [`AppModel`] (every screen of the phone app
//! and the way between them, owned by core — docs/SCREENS.md), the [`Screen`]
//! the shells render, the [`Event`]s they forward, and the [`ScreenListener`]
//! they implement to be told to render again.
//!
//! Invariants: no behaviour of its own — each method converts, calls core's
//! `AppModel` once and converts back; PINs arrive as byte arrays and are moved
//! into core's zeroizing buffers (a PIN that is not UTF-8 is `BadInput`, wiped,
//! and changes nothing); a response is shown on its screen and never appears in
//! `Debug`; nothing panics across: a listener that throws is logged and ignored,
//! and a screen core shows that these bindings cannot carry becomes a
//! [`Screen::Finished`] that says to update the app.

use crate::authenticator::Authenticator;
use crate::error::{AuthenticatorError, ListenerError};
use crate::types::{FindingKind, HistoryEvent, PendingApproval, PushAlert, pin_text};
use latchkey_core::device::app as core;
use latchkey_core::protocol::ServerProfile;
use std::collections::HashMap;
use std::sync::Arc;
use zeroize::Zeroizing;

type Result<T> = std::result::Result<T, AuthenticatorError>;

/// How the app is set up.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AppOptions {
    /// The server profile JSON the app was built with (what `latchkey serve`
    /// writes), if any: an activation link without a profile uses it. An app
    /// for one relying party ships its profile; a generic app leaves this
    /// `null` and takes the profile from the link.
    pub builtin_profile: Option<String>,
    /// How this phone names itself to the server ("Anna's Pixel").
    pub device_name: String,
}

/// What the shell implements to be told that [`AppModel::view`] changed.
///
/// Called on the thread that runs [`AppModel::dispatch`] (never the main
/// thread): post to the main thread and read `view()` there. Never call
/// `dispatch` from inside it. Throwing is logged and ignored.
#[uniffi::export(foreign)]
pub trait ScreenListener: Send + Sync {
    /// The screen changed: read [`AppModel::view`] and render it (on the main thread).
    fn screen_changed(&self) -> std::result::Result<(), ListenerError>;
}

struct ListenerAdapter(Arc<dyn ScreenListener>);

impl core::ScreenListener for ListenerAdapter {
    fn screen_changed(&self) {
        if let Err(error) = self.0.screen_changed() {
            tracing::warn!(%error, "the screen listener failed");
        }
    }
}

/// The phone app: its screens and the way between them, over one
/// [`Authenticator`] (the shape of docs/SCREENS.md). The shell renders
/// [`AppModel::view`] and forwards the user's [`Event`]s to
/// [`AppModel::dispatch`]; the [`ScreenListener`] says when to render again.
///
/// `view` never blocks; `dispatch`, `sync_all` and `push_received` may block on
/// the network or the biometric prompt: call them off the main thread. Safe to
/// use from several threads at once (events are carried out one at a time).
#[derive(uniffi::Object)]
pub struct AppModel {
    inner: core::AppModel,
}

impl std::fmt::Debug for AppModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[uniffi::export]
impl AppModel {
    /// The model over `authenticator`. It shows `Welcome` until
    /// [`Event::Start`] looks at the accounts: send `Platform` (the push token,
    /// whether notifications are allowed) and then `Start` when the app opens.
    /// `BadInput` if `options.builtin_profile` is not a valid server profile.
    #[uniffi::constructor]
    pub fn new(authenticator: Arc<Authenticator>, options: AppOptions) -> Result<Arc<Self>> {
        let builtin_profile = options
            .builtin_profile
            .as_deref()
            .map(|json| {
                ServerProfile::from_json(json).map_err(|error| {
                    AuthenticatorError::bad_input(format!(
                        "the built-in server profile is not valid: {error}"
                    ))
                })
            })
            .transpose()?;
        let inner = core::AppModel::new(
            authenticator.core(),
            core::AppOptions {
                builtin_profile,
                device_name: options.device_name,
            },
        );
        Ok(Arc::new(Self { inner }))
    }

    /// Who is told when the screen changes (replaces the previous listener).
    /// Keep a strong reference to it in the app as well.
    pub fn set_listener(&self, listener: Arc<dyn ScreenListener>) {
        self.inner.set_listener(Arc::new(ListenerAdapter(listener)));
    }

    /// The screen to show now. Never blocks on the network: call it on the main
    /// thread.
    pub fn view(&self) -> Screen {
        Screen::from(self.inner.view())
    }

    /// Carries out one event: the screen is `Busy` while it waits for the
    /// network or the biometric prompt, then shows the result; the listener is
    /// told after each change. **Blocks**: call it off the main thread. An
    /// event that does not fit the current screen (or arrives while `Busy`)
    /// changes nothing. `BadInput` only for a PIN that is not UTF-8 (nothing
    /// changes then); every other refusal is shown on the screen as a
    /// `Problem`. Overwrite your PIN arrays after the call.
    pub fn dispatch(&self, event: Event) -> Result<()> {
        self.inner.dispatch(event.try_into()?);
        Ok(())
    }

    /// What to do with a push the app received (FCM `RemoteMessage.data`, APNs
    /// user info as strings). May sync every account (a notice push): call it
    /// from the push service's background thread or a job. Never fails.
    pub fn push_received(&self, data: HashMap<String, String>) -> PushAction {
        self.inner.push_received(&data).into()
    }

    /// The notification to post for a login push's data, or `None` (not
    /// Latchkey's, or no account here can answer it). No network.
    pub fn notification_for_push(&self, data: HashMap<String, String>) -> Option<PushAlert> {
        self.inner.notification_for_push(&data).map(PushAlert::from)
    }

    /// Syncs every account that still has its secrets and returns the handles
    /// of login requests waiting for this phone (post a notification for each).
    /// Offline accounts are skipped. Blocks on the network.
    pub fn sync_all(&self) -> Vec<String> {
        self.inner.sync_all()
    }

    /// Whether any account on this phone still holds secrets (active, locked,
    /// disabled or pending): decides between the welcome and the accounts
    /// screen at launch, and whether to warn before a backup or an uninstall.
    pub fn has_secrets(&self) -> bool {
        self.inner.has_secrets()
    }
}

/// Builds the activation link a sign-in page shows (as a QR code or a link) for
/// a signed activation ticket, with the server profile JSON when the app may not
/// have it built in: `latchkey://activate?ticket=…[&profile=…]`. `BadInput` if
/// the profile is not valid.
#[uniffi::export]
pub fn activation_link(ticket_json: String, profile: Option<String>) -> Result<String> {
    let profile = profile
        .as_deref()
        .map(|json| {
            ServerProfile::from_json(json).map_err(|error| {
                AuthenticatorError::bad_input(format!("the server profile is not valid: {error}"))
            })
        })
        .transpose()?;
    Ok(core::activation_link(&ticket_json, profile.as_ref()))
}

/// What [`AppModel::push_received`] made of a push.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum PushAction {
    /// A login request: post this generic notification; when the user taps it,
    /// dispatch `OpenRequest` with `alert.request`.
    Notify {
        /// What to post.
        alert: PushAlert,
    },
    /// A server notice: every account was synced. Post a notification for each
    /// handle in `waiting`; the accounts screen tells the news at its next render.
    Synced {
        /// Handles of login requests waiting for this phone.
        waiting: Vec<String>,
    },
    /// Not a Latchkey push: hand it to whoever else receives pushes in the app.
    NotLatchkey,
    /// A Latchkey push that leads nowhere (malformed, an unknown version, no
    /// account here can answer it): post nothing.
    Ignored,
}

impl From<core::PushAction> for PushAction {
    fn from(action: core::PushAction) -> Self {
        match action {
            core::PushAction::Notify(alert) => Self::Notify {
                alert: alert.into(),
            },
            core::PushAction::Synced { waiting } => Self::Synced { waiting },
            core::PushAction::NotLatchkey => Self::NotLatchkey,
            core::PushAction::Ignored => Self::Ignored,
        }
    }
}

/// A user's (or the platform's) action, for [`AppModel::dispatch`]. Each one
/// fits some screens (docs/SCREENS.md); elsewhere it is ignored. PINs are byte
/// arrays (from the PIN field's characters, never through a `String`).
#[derive(uniffi::Enum)]
pub enum Event {
    /// The app came to the foreground: sync every account, then show the
    /// accounts (or the welcome screen when there is none).
    Start,
    /// What the platform says now: the push token and whether notifications may
    /// be shown. Send it at start and whenever either changes.
    Platform {
        /// The platform's push token, if it has one.
        push_token: Option<String>,
        /// Whether the user allows the app's notifications.
        notifications_enabled: bool,
    },
    /// Sync every account again (pull to refresh on the accounts screen).
    Refresh,
    /// "Add an account": start an activation.
    AddAccount,
    /// The activation link, scanned from the QR code or pasted:
    /// `latchkey://activate?ticket=…[&profile=…]`.
    ActivationLink {
        /// The link's text.
        link: String,
    },
    /// The 13-digit activation code from the SMS.
    ActivationCode {
        /// The digits as typed (spaces and dashes are dropped).
        code: String,
    },
    /// The new PIN, typed twice (6 to 12 digits; easy PINs are refused).
    ChoosePin {
        /// The PIN.
        pin: Vec<u8>,
        /// The PIN again.
        confirmation: Vec<u8>,
    },
    /// The answer to "Use fingerprint or face to approve logins?" after activation.
    BiometricOffer {
        /// Whether to turn biometrics on.
        accept: bool,
    },
    /// A login request to review: the handle of a tapped notification, or of a
    /// request a sync found.
    OpenRequest {
        /// The request's handle (32 hex digits).
        handle: String,
    },
    /// The user read the request and goes on (to the code, or to unlocking).
    Proceed,
    /// The 6-digit code read off the login screen.
    TypeCode {
        /// The digits as typed.
        code: String,
    },
    /// Approve with the PIN.
    ApproveWithPin {
        /// The PIN.
        pin: Vec<u8>,
    },
    /// Approve with the biometric prompt (only when the review offers it).
    ApproveWithBiometric,
    /// Deny the request; `not_me` reports it as fraud ("This wasn't me").
    Deny {
        /// Whether the user says the login was not theirs.
        not_me: bool,
    },
    /// Open the Authenticate screen (challenge → response) for an account.
    Authenticate {
        /// The account's id.
        account: i64,
    },
    /// Generate the 8-digit response to a challenge read off the login screen.
    Respond {
        /// The 6-digit challenge.
        challenge: String,
        /// The PIN, or `null` to use the biometric prompt.
        pin: Option<Vec<u8>>,
    },
    /// Open an account's settings.
    Settings {
        /// The account's id.
        account: i64,
    },
    /// Turn biometric approval on (needs the PIN) or off.
    SetBiometric {
        /// On or off.
        enabled: bool,
        /// The PIN (to turn it on).
        pin: Option<Vec<u8>>,
    },
    /// Change the PIN: the old one, and the new one twice.
    ChangePin {
        /// The current PIN.
        old_pin: Vec<u8>,
        /// The new PIN.
        new_pin: Vec<u8>,
        /// The new PIN again.
        confirmation: Vec<u8>,
    },
    /// Explain why login notifications may not arrive (from the settings).
    Diagnose,
    /// Approve the pending move of this account to the new phone (PIN).
    ApproveMove {
        /// The PIN.
        pin: Vec<u8>,
    },
    /// Cancel the pending move of this account (PIN).
    CancelMove {
        /// The PIN.
        pin: Vec<u8>,
    },
    /// Turn two-factor authentication off, where the account's jurisdiction
    /// allows it (PIN). Warn first that anyone with the password can then log in.
    OptOut {
        /// The PIN.
        pin: Vec<u8>,
    },
    /// Remove the account from this phone.
    RemoveAccount,
    /// Open the history.
    History,
    /// Back (or "Done"): to the screen this one was opened from.
    Back,
}

/// A PIN's bytes as core's text; the bytes are wiped either way.
fn pin(bytes: Vec<u8>) -> Result<String> {
    let mut text: Zeroizing<String> = pin_text(bytes)?;
    // Moved, not copied: core holds it in its own zeroizing buffers.
    Ok(std::mem::take(&mut *text))
}

impl TryFrom<Event> for core::Event {
    type Error = AuthenticatorError;

    fn try_from(event: Event) -> Result<Self> {
        use core::Event as C;
        Ok(match event {
            Event::Start => C::Start,
            Event::Platform {
                push_token,
                notifications_enabled,
            } => C::Platform {
                push_token,
                notifications_enabled,
            },
            Event::Refresh => C::Refresh,
            Event::AddAccount => C::AddAccount,
            Event::ActivationLink { link } => C::ActivationLink { link },
            Event::ActivationCode { code } => C::ActivationCode { code },
            Event::ChoosePin {
                pin: p,
                confirmation,
            } => {
                // Both converted (and wiped) before either can fail the event.
                let (p, confirmation) = (pin(p), pin(confirmation));
                C::ChoosePin {
                    pin: p?,
                    confirmation: confirmation?,
                }
            }
            Event::BiometricOffer { accept } => C::BiometricOffer { accept },
            Event::OpenRequest { handle } => C::OpenRequest { handle },
            Event::Proceed => C::Proceed,
            Event::TypeCode { code } => C::TypeCode { code },
            Event::ApproveWithPin { pin: p } => C::ApproveWithPin { pin: pin(p)? },
            Event::ApproveWithBiometric => C::ApproveWithBiometric,
            Event::Deny { not_me } => C::Deny { not_me },
            Event::Authenticate { account } => C::Authenticate { account },
            Event::Respond { challenge, pin: p } => C::Respond {
                challenge,
                pin: p.map(pin).transpose()?,
            },
            Event::Settings { account } => C::Settings { account },
            Event::SetBiometric { enabled, pin: p } => C::SetBiometric {
                enabled,
                pin: p.map(pin).transpose()?,
            },
            Event::ChangePin {
                old_pin,
                new_pin,
                confirmation,
            } => {
                let (old_pin, new_pin, confirmation) =
                    (pin(old_pin), pin(new_pin), pin(confirmation));
                C::ChangePin {
                    old_pin: old_pin?,
                    new_pin: new_pin?,
                    confirmation: confirmation?,
                }
            }
            Event::Diagnose => C::Diagnose,
            Event::ApproveMove { pin: p } => C::ApproveMove { pin: pin(p)? },
            Event::CancelMove { pin: p } => C::CancelMove { pin: pin(p)? },
            Event::OptOut { pin: p } => C::OptOut { pin: pin(p)? },
            Event::RemoveAccount => C::RemoveAccount,
            Event::History => C::History,
            Event::Back => C::Back,
        })
    }
}

/// The screen the app shows (docs/SCREENS.md has the map of which event leads
/// where). Render every field; a `problem` says why the last action did not go
/// through.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Screen {
    /// No account yet: what Latchkey is, and "Add an account".
    Welcome {
        /// Why the last action did not go through, if it did not.
        problem: Option<Problem>,
    },
    /// Waiting for the server or the biometric prompt: show progress and `text`.
    Busy {
        /// What is being done ("Approving…").
        text: String,
    },
    /// Activating this phone for an account, one step at a time.
    Activation {
        /// The step.
        step: ActivationStep,
        /// The server being activated with ("auth.example.com"), once known.
        server: Option<String>,
        /// Why the last entry was refused, if it was.
        problem: Option<Problem>,
    },
    /// The activation waits: for the old phone's approval, or for the end of
    /// the lost-phone hold period.
    Waiting {
        /// The account (pending on this phone).
        account: AccountRow,
        /// Whether it is the lost-phone path (a hold period).
        held: bool,
        /// When the hold ends (Unix seconds, server time), if the server said.
        effective_at: Option<u64>,
    },
    /// The accounts on this phone.
    Accounts {
        /// Every account, oldest first.
        accounts: Vec<AccountRow>,
        /// News to tell once (an account moved away, a lockout…).
        notices: Vec<String>,
        /// Why the last action did not go through, if it did not.
        problem: Option<Problem>,
    },
    /// A login request to review and answer.
    Review {
        /// What the review shows.
        review: ReviewScreen,
    },
    /// How a flow ended ("Approved", "Expired"…); `Back` goes to the accounts.
    Finished {
        /// The headline.
        title: String,
        /// What happened and what to do next.
        text: String,
    },
    /// Authenticate: the offline challenge → 8-digit response.
    Authenticate {
        /// What the screen shows.
        screen: AuthenticateScreen,
    },
    /// One account's settings.
    Settings {
        /// What the screen shows.
        screen: SettingsScreen,
    },
    /// Why login notifications may not arrive, and the fix for each finding.
    Diagnose {
        /// The account.
        account: AccountRow,
        /// What was found (empty: nothing wrong was found).
        findings: Vec<FindingRow>,
        /// Why the diagnosis could not run, if it could not.
        problem: Option<Problem>,
    },
    /// The phone's history of approvals, denials and responses, oldest first.
    History {
        /// The entries.
        entries: Vec<HistoryRow>,
        /// Why the history could not be read (e.g. it was tampered with).
        problem: Option<Problem>,
    },
}

impl From<core::Screen> for Screen {
    fn from(screen: core::Screen) -> Self {
        use core::Screen as S;
        let problem = |p: Option<core::Problem>| p.map(Problem::from);
        match screen {
            S::Welcome { problem: p } => Self::Welcome {
                problem: problem(p),
            },
            S::Busy { text } => Self::Busy { text },
            S::Activation {
                step,
                server,
                problem: p,
            } => Self::Activation {
                step: step.into(),
                server,
                problem: problem(p),
            },
            S::Waiting {
                account,
                held,
                effective_at,
            } => Self::Waiting {
                account: account.into(),
                held,
                effective_at,
            },
            S::Accounts {
                accounts,
                notices,
                problem: p,
            } => Self::Accounts {
                accounts: accounts.into_iter().map(AccountRow::from).collect(),
                notices,
                problem: problem(p),
            },
            S::Review(review) => match ReviewScreen::try_from(review) {
                Ok(review) => Self::Review { review },
                // A request of a newer protocol than these bindings know.
                Err(error) => Self::Finished {
                    title: "Update the app".to_owned(),
                    text: format!(
                        "This version of the app cannot show this login request ({error}). Update the app, then open the request again."
                    ),
                },
            },
            S::Finished { title, text } => Self::Finished { title, text },
            S::Authenticate(screen) => Self::Authenticate {
                screen: screen.into(),
            },
            S::Settings(screen) => Self::Settings {
                screen: screen.into(),
            },
            S::Diagnose {
                account,
                findings,
                problem: p,
            } => Self::Diagnose {
                account: account.into(),
                findings: findings.into_iter().map(FindingRow::from).collect(),
                problem: problem(p),
            },
            S::History {
                entries,
                problem: p,
            } => Self::History {
                entries: entries.into_iter().map(HistoryRow::from).collect(),
                problem: problem(p),
            },
        }
    }
}

/// The steps of an activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ActivationStep {
    /// Scan the QR code shown after signing in, or paste the link.
    Link,
    /// Type the 13-digit code from the SMS.
    Code,
    /// Choose a PIN, typed twice (easy PINs are refused).
    Pin,
    /// "Use fingerprint or face to approve logins?"
    BiometricOffer,
}

impl From<core::ActivationStep> for ActivationStep {
    fn from(step: core::ActivationStep) -> Self {
        match step {
            core::ActivationStep::Link => Self::Link,
            core::ActivationStep::Code => Self::Code,
            core::ActivationStep::Pin => Self::Pin,
            core::ActivationStep::BiometricOffer => Self::BiometricOffer,
        }
    }
}

/// The steps of a login request's review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ReviewStep {
    /// Read the request; go on (`Proceed`), deny, or "This wasn't me".
    Read,
    /// Type the 6-digit code shown on the login screen (`TypeCode`).
    TypeCode,
    /// Confirm with the PIN (`ApproveWithPin`), or the biometric prompt
    /// (`ApproveWithBiometric`, when `biometric_available`).
    Unlock,
}

impl From<core::ReviewStep> for ReviewStep {
    fn from(step: core::ReviewStep) -> Self {
        match step {
            core::ReviewStep::Read => Self::Read,
            core::ReviewStep::TypeCode => Self::TypeCode,
            core::ReviewStep::Unlock => Self::Unlock,
        }
    }
}

/// The review of a login request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReviewScreen {
    /// What is being approved: app, client, origin (place), time, account.
    pub request: PendingApproval,
    /// Where the review stands.
    pub step: ReviewStep,
    /// Whether the biometric prompt may be offered.
    pub biometric_available: bool,
    /// The code typed from the login screen, once accepted.
    pub typed_code: Option<String>,
    /// Why the last entry was refused, if it was (the request is still answerable).
    pub problem: Option<Problem>,
}

impl TryFrom<core::ReviewScreen> for ReviewScreen {
    type Error = AuthenticatorError;

    fn try_from(review: core::ReviewScreen) -> Result<Self> {
        Ok(Self {
            request: review.request.try_into()?,
            step: review.step.into(),
            biometric_available: review.biometric_available,
            typed_code: review.typed_code,
            problem: review.problem.map(Problem::from),
        })
    }
}

/// The Authenticate screen: type the challenge shown on the login screen, get
/// the 8-digit response. Always show `warning`.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuthenticateScreen {
    /// The account.
    pub account: AccountRow,
    /// The 8-digit response, once generated. Show it; never log it.
    pub response: Option<String>,
    /// The warning shown with every response: never read a code to anyone.
    pub warning: String,
    /// Why the last try did not go through, if it did not.
    pub problem: Option<Problem>,
}

impl std::fmt::Debug for AuthenticateScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A response is a short-lived credential: shown, never logged.
        f.debug_struct("AuthenticateScreen")
            .field("account", &self.account)
            .field("response", &self.response.as_ref().map(|_| "[redacted]"))
            .field("problem", &self.problem)
            .finish_non_exhaustive()
    }
}

impl From<core::AuthenticateScreen> for AuthenticateScreen {
    fn from(screen: core::AuthenticateScreen) -> Self {
        Self {
            account: screen.account.into(),
            response: screen.response,
            warning: screen.warning,
            problem: screen.problem.map(Problem::from),
        }
    }
}

/// One account's settings: biometric on/off (`SetBiometric`), change PIN
/// (`ChangePin`), diagnose notifications (`Diagnose`), approve or cancel a
/// pending move (`ApproveMove`, `CancelMove`), opt out of two-factor
/// (`OptOut`), remove (`RemoveAccount`). Moving to a new phone starts on the
/// new phone (an activation); this phone then approves the move here.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SettingsScreen {
    /// The account.
    pub account: AccountRow,
    /// A move of this account to another phone that can be approved or
    /// cancelled here (the move's id), if one is pending.
    pub pending_move: Option<String>,
    /// What the last action did ("Your PIN was changed.").
    pub notice: Option<String>,
    /// Why the last action did not go through, if it did not (an opt-out the
    /// account's jurisdiction refuses cites its rule here).
    pub problem: Option<Problem>,
}

impl From<core::SettingsScreen> for SettingsScreen {
    fn from(screen: core::SettingsScreen) -> Self {
        Self {
            account: screen.account.into(),
            pending_move: screen.pending_move,
            notice: screen.notice,
            problem: screen.problem.map(Problem::from),
        }
    }
}

/// An account as a list row.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AccountRow {
    /// Its id on this phone (for the events that name an account).
    pub id: i64,
    /// What the user sees ("alice @ auth.example.com").
    pub label: String,
    /// Where it stands, in words ("Active", "Locked: reset your password"…).
    pub status: String,
    /// Whether this phone can approve logins and generate responses for it now.
    pub usable: bool,
    /// Whether biometric approval is on.
    pub biometric_enabled: bool,
}

impl From<core::AccountRow> for AccountRow {
    fn from(row: core::AccountRow) -> Self {
        Self {
            id: row.id,
            label: row.label,
            status: row.status,
            usable: row.usable,
            biometric_enabled: row.biometric_enabled,
        }
    }
}

/// A diagnosis finding with its fix.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FindingRow {
    /// The reason, as data.
    pub kind: FindingKind,
    /// What is wrong.
    pub text: String,
    /// What to do about it.
    pub fix: String,
}

impl From<core::FindingRow> for FindingRow {
    fn from(row: core::FindingRow) -> Self {
        Self {
            kind: row.kind.into(),
            text: row.text,
            fix: row.fix,
        }
    }
}

/// A history entry as a list row.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryRow {
    /// When (Unix seconds, this phone's clock).
    pub at: u64,
    /// What happened.
    pub event: HistoryEvent,
    /// What the user saw ("Client Portal — Chrome — Hong Kong").
    pub summary: String,
}

impl From<core::HistoryRow> for HistoryRow {
    fn from(row: core::HistoryRow) -> Self {
        Self {
            at: row.at,
            event: row.event.into(),
            summary: row.summary,
        }
    }
}

/// Why an action did not go through, in the user's words, with the numbers a
/// screen may show.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Problem {
    /// What to tell the user.
    pub text: String,
    /// Attempts left before the account is locked or the activation ends, if known.
    pub attempts_left: Option<u64>,
    /// When the next attempt is allowed (Unix seconds, server time), if delayed.
    pub retry_after: Option<u64>,
}

impl From<core::Problem> for Problem {
    fn from(problem: core::Problem) -> Self {
        Self {
            text: problem.text,
            attempts_left: problem.attempts_left,
            retry_after: problem.retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::tests::HostKeystore;
    use crate::transport::tests::HostTransport;
    use crate::types::{AuthenticatorConfig, Platform};
    use latchkey_core::device::{ScriptedTransport, SimulatedBiometrics, SoftwareKeystore};
    use std::sync::Mutex;

    /// A listener that records each call and throws from the second one on.
    #[derive(Default)]
    struct Recorder(Mutex<usize>);

    impl ScreenListener for Recorder {
        fn screen_changed(&self) -> std::result::Result<(), ListenerError> {
            let mut calls = self.0.lock().unwrap();
            *calls += 1;
            if *calls > 1 {
                return Err(ListenerError::Failed {
                    reason: "the host threw".to_owned(),
                });
            }
            Ok(())
        }
    }

    fn model(dir: &std::path::Path, builtin_profile: Option<String>) -> Result<Arc<AppModel>> {
        let authenticator = Authenticator::open(
            dir.join("device.db").to_string_lossy().into_owned(),
            Arc::new(HostKeystore(
                SoftwareKeystore::open(&dir.join("keys"), SimulatedBiometrics::new()).unwrap(),
            )),
            Arc::new(HostTransport(ScriptedTransport::new())),
            AuthenticatorConfig {
                platform: Platform::Desktop,
                app_version: "1.0.0".to_owned(),
            },
        )?;
        AppModel::new(
            authenticator,
            AppOptions {
                builtin_profile,
                device_name: "Pixel".to_owned(),
            },
        )
    }

    fn link_step(screen: &Screen) -> (ActivationStep, Option<String>) {
        match screen {
            Screen::Activation { step, problem, .. } => {
                (*step, problem.as_ref().map(|p| p.text.clone()))
            }
            other => panic!("not an activation screen: {other:?}"),
        }
    }

    #[test]
    fn the_model_starts_on_welcome_and_goes_to_the_link_step_telling_the_listener() {
        let dir = tempfile::tempdir().unwrap();
        let app = model(dir.path(), None).unwrap();
        assert_eq!(app.view(), Screen::Welcome { problem: None });
        assert!(!app.has_secrets());
        let recorder = Arc::new(Recorder::default());
        app.set_listener(recorder.clone());
        app.dispatch(Event::AddAccount).unwrap();
        assert_eq!(link_step(&app.view()), (ActivationStep::Link, None));
        // A throwing listener is logged and ignored: the model carries on.
        app.dispatch(Event::ActivationLink {
            link: "https://example.com/not-a-link".to_owned(),
        })
        .unwrap();
        let (step, problem) = link_step(&app.view());
        assert_eq!(step, ActivationStep::Link);
        assert!(problem.unwrap().contains("not a Latchkey activation link"));
        assert_eq!(*recorder.0.lock().unwrap(), 2);
        // An event that does not fit the screen changes nothing.
        app.dispatch(Event::Proceed).unwrap();
        assert_eq!(link_step(&app.view()).0, ActivationStep::Link);
        assert_eq!(*recorder.0.lock().unwrap(), 2);
    }

    #[test]
    fn a_pin_that_is_not_utf8_is_bad_input_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let app = model(dir.path(), None).unwrap();
        app.dispatch(Event::AddAccount).unwrap();
        let before = app.view();
        for event in [
            Event::ChoosePin {
                pin: vec![0xff; 6],
                confirmation: b"402917".to_vec(),
            },
            Event::ApproveWithPin { pin: vec![0xc3] },
            Event::Respond {
                challenge: "583920".to_owned(),
                pin: Some(vec![0xff]),
            },
            Event::ChangePin {
                old_pin: b"402917".to_vec(),
                new_pin: b"583016".to_vec(),
                confirmation: vec![0xfe],
            },
        ] {
            assert!(matches!(
                app.dispatch(event),
                Err(AuthenticatorError::BadInput { .. })
            ));
            assert_eq!(app.view(), before);
        }
    }

    #[test]
    fn a_bad_builtin_profile_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            model(dir.path(), Some("{}".to_owned())),
            Err(AuthenticatorError::BadInput { reason }) if reason.contains("built-in server profile")
        ));
        assert!(matches!(
            activation_link("{}".to_owned(), Some("not json".to_owned())),
            Err(AuthenticatorError::BadInput { .. })
        ));
        assert_eq!(
            activation_link(r#"{"t":1}"#.to_owned(), None).unwrap(),
            core::activation_link(r#"{"t":1}"#, None)
        );
    }

    #[test]
    fn pushes_are_routed_without_failing() {
        let dir = tempfile::tempdir().unwrap();
        let app = model(dir.path(), None).unwrap();
        let data = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            app.push_received(data(&[("from", "someone-else")])),
            PushAction::NotLatchkey
        );
        assert_eq!(
            app.push_received(data(&[("latchkey", "2"), ("notice", "revoked")])),
            PushAction::Ignored
        );
        assert_eq!(
            app.push_received(data(&[("latchkey", "1"), ("notice", "Revoked!")])),
            PushAction::Ignored
        );
        // A login push with no account here to answer it: nothing to post.
        let login = data(&[("latchkey", "1"), ("request", &"ab".repeat(16))]);
        assert_eq!(app.push_received(login.clone()), PushAction::Ignored);
        assert_eq!(app.notification_for_push(login), None);
        // A notice push syncs every account: there is none, so nothing waits.
        assert_eq!(
            app.push_received(data(&[("latchkey", "1"), ("notice", "revoked")])),
            PushAction::Synced {
                waiting: Vec::new()
            }
        );
        assert!(app.sync_all().is_empty());
    }

    #[test]
    fn the_authenticate_screen_never_shows_its_response_in_debug() {
        let screen = AuthenticateScreen {
            account: AccountRow {
                id: 1,
                label: "alice".to_owned(),
                status: "Active".to_owned(),
                usable: true,
                biometric_enabled: false,
            },
            response: Some("48213377".to_owned()),
            warning: "never".to_owned(),
            problem: None,
        };
        let text = format!("{:?}", Screen::Authenticate { screen });
        assert!(!text.contains("48213377"), "{text}");
        assert!(text.contains("[redacted]"));
    }
}
