//! The app model: every screen of the phone app and the way between them, owned
//! by the core so that the Android and iOS shells only render a [`Screen`] and
//! forward the user's [`Event`]s (the shape of docs/SCREENS.md).
//!
//! The shells call [`AppModel::dispatch`] off the main thread (it may block on the
//! network or the biometric prompt) and [`AppModel::view`] on it; the model never
//! holds its state lock while it waits, so `view` never blocks on the network.
//! While an event is being carried out the screen is [`Screen::Busy`] and further
//! events are ignored. After every change the [`ScreenListener`] is told to
//! render again.
//!
//! Invariants: an event that does not fit the current screen changes nothing (a
//! shell bug is not a user error, and nothing panics); PINs and activation codes
//! are held only in [`Zeroizing`] buffers and only between the two steps that
//! need them; a generated response is shown on its screen and never logged.

mod screens;

pub use screens::{
    AccountRow, ActivationStep, AuthenticateScreen, FindingRow, HistoryRow, Problem, ReviewScreen,
    ReviewStep, Screen, SettingsScreen,
};

use crate::device::authenticator::activation::{host_of, parse_code};
use crate::device::{
    AccountId, AccountState, ActivationOutcome, Authenticator, AuthenticatorError, PushAlert,
    SyncEvent, Unlock,
};
use crate::protocol::{DenialReason, ServerProfile};
use base64::Engine;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use zeroize::Zeroizing;

/// What the shell implements to be told that [`AppModel::view`] changed.
pub trait ScreenListener: Send + Sync {
    /// The screen changed: read [`AppModel::view`] and render it (on the main thread).
    fn screen_changed(&self);
}

/// What [`AppModel::push_received`] made of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushAction {
    /// A login request: post this (generic) notification; tapping it sends
    /// [`Event::OpenRequest`] with the alert's request handle.
    Notify(PushAlert),
    /// A server notice: every account was synced. `waiting` holds the handles
    /// of login requests waiting for this phone (post a notification for each);
    /// the accounts screen tells the news at its next render.
    Synced {
        /// Handles of login requests waiting for this phone.
        waiting: Vec<String>,
    },
    /// Not a Latchkey push: hand it to whoever else receives pushes in the app.
    NotLatchkey,
    /// A Latchkey push that leads nowhere (malformed, an unknown version, or no
    /// account here can answer it): post nothing.
    Ignored,
}

/// How the app is set up.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// The server profile the app was built with, if any: an activation link
    /// without a profile uses it. An app for one relying party ships its profile;
    /// a generic app takes it from the link.
    pub builtin_profile: Option<ServerProfile>,
    /// How this phone names itself to the server ("Anna's Pixel").
    pub device_name: String,
}

/// A user's (or the platform's) action. Each one fits some screens; elsewhere it
/// is ignored.
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// The app came to the foreground: sync every account, then show the
    /// accounts (or the welcome screen when there is none).
    Start,
    /// What the platform says now: the push token and whether notifications may
    /// be shown. Sent at start and whenever either changes.
    Platform {
        /// The platform's push token, if it has one.
        push_token: Option<String>,
        /// Whether the user allows the app's notifications.
        notifications_enabled: bool,
    },
    /// Sync every account again (pull to refresh).
    Refresh,
    /// "Add an account": start an activation.
    AddAccount,
    /// The activation link, scanned from the QR code or pasted:
    /// `latchkey://activate?ticket=<base64url>[&profile=<base64url>]`.
    ActivationLink {
        /// The link's text.
        link: String,
    },
    /// The 13-digit activation code from the SMS.
    ActivationCode {
        /// The digits as typed (spaces and dashes are dropped).
        code: String,
    },
    /// The new PIN, typed twice.
    ChoosePin {
        /// The PIN.
        pin: String,
        /// The PIN again.
        confirmation: String,
    },
    /// The answer to "Use fingerprint or face to approve?" after activation.
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
        pin: String,
    },
    /// Approve with the biometric prompt.
    ApproveWithBiometric,
    /// Deny the request; `not_me` reports it as fraud ("This wasn't me").
    Deny {
        /// Whether the user says the login was not theirs.
        not_me: bool,
    },
    /// Open the Authenticate screen (challenge → response) for an account.
    Authenticate {
        /// The account.
        account: i64,
    },
    /// Generate the 8-digit response to a challenge read off the login screen.
    Respond {
        /// The 6-digit challenge.
        challenge: String,
        /// The PIN, or `None` to use the biometric prompt.
        pin: Option<String>,
    },
    /// Open an account's settings.
    Settings {
        /// The account.
        account: i64,
    },
    /// Turn biometric approval on (needs the PIN) or off.
    SetBiometric {
        /// On or off.
        enabled: bool,
        /// The PIN (to turn it on).
        pin: Option<String>,
    },
    /// Change the PIN: the old one, and the new one twice.
    ChangePin {
        /// The current PIN.
        old_pin: String,
        /// The new PIN.
        new_pin: String,
        /// The new PIN again.
        confirmation: String,
    },
    /// Explain why login notifications may not arrive.
    Diagnose,
    /// Approve the pending move of this account to the new phone (PIN).
    ApproveMove {
        /// The PIN.
        pin: String,
    },
    /// Cancel the pending move of this account (PIN).
    CancelMove {
        /// The PIN.
        pin: String,
    },
    /// Turn two-factor authentication off (where the jurisdiction allows it).
    OptOut {
        /// The PIN.
        pin: String,
    },
    /// Remove the account from this phone.
    RemoveAccount,
    /// Open the history.
    History,
    /// Back (or "Done"): to the screen this one was opened from.
    Back,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // PINs, codes and links (which carry the ticket) never appear in logs.
        let name = match self {
            Event::Start => "Start",
            Event::Platform { .. } => "Platform",
            Event::Refresh => "Refresh",
            Event::AddAccount => "AddAccount",
            Event::ActivationLink { .. } => "ActivationLink",
            Event::ActivationCode { .. } => "ActivationCode",
            Event::ChoosePin { .. } => "ChoosePin",
            Event::BiometricOffer { .. } => "BiometricOffer",
            Event::OpenRequest { .. } => "OpenRequest",
            Event::Proceed => "Proceed",
            Event::TypeCode { .. } => "TypeCode",
            Event::ApproveWithPin { .. } => "ApproveWithPin",
            Event::ApproveWithBiometric => "ApproveWithBiometric",
            Event::Deny { .. } => "Deny",
            Event::Authenticate { .. } => "Authenticate",
            Event::Respond { .. } => "Respond",
            Event::Settings { .. } => "Settings",
            Event::SetBiometric { .. } => "SetBiometric",
            Event::ChangePin { .. } => "ChangePin",
            Event::Diagnose => "Diagnose",
            Event::ApproveMove { .. } => "ApproveMove",
            Event::CancelMove { .. } => "CancelMove",
            Event::OptOut { .. } => "OptOut",
            Event::RemoveAccount => "RemoveAccount",
            Event::History => "History",
            Event::Back => "Back",
        };
        write!(f, "Event::{name}")
    }
}

/// The scheme and path of an activation link.
pub const ACTIVATION_LINK_PREFIX: &str = "latchkey://activate?";

/// Builds the activation link a sign-in page shows (as a QR code or a link) for
/// a ticket, with the server's profile when the app may not have it built in.
pub fn activation_link(ticket_json: &str, profile: Option<&ServerProfile>) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut link = format!(
        "{ACTIVATION_LINK_PREFIX}ticket={}",
        b64.encode(ticket_json.as_bytes())
    );
    if let Some(profile) = profile {
        link.push_str("&profile=");
        link.push_str(&b64.encode(profile.to_json().as_bytes()));
    }
    link
}

/// The longest activation link read, in bytes.
const MAX_LINK: usize = 16 * 1024;

/// Reads an activation link: the ticket's JSON and the profile, if the link
/// carries one. Surrounding whitespace is ignored.
fn parse_activation_link(
    link: &str,
) -> Result<(String, Option<ServerProfile>), AuthenticatorError> {
    let bad = || {
        AuthenticatorError::BadInput("this is not a Latchkey activation link or QR code".to_owned())
    };
    let link = link.trim();
    if link.len() > MAX_LINK {
        return Err(bad());
    }
    let query = link.strip_prefix(ACTIVATION_LINK_PREFIX).ok_or_else(bad)?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |value: &str| -> Result<String, AuthenticatorError> {
        let bytes = b64.decode(value).map_err(|_| bad())?;
        String::from_utf8(bytes).map_err(|_| bad())
    };
    let (mut ticket, mut profile) = (None, None);
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("ticket", value)) if ticket.is_none() => ticket = Some(decode(value)?),
            Some(("profile", value)) if profile.is_none() => {
                profile = Some(ServerProfile::from_json(&decode(value)?).map_err(|_| bad())?);
            }
            _ => return Err(bad()),
        }
    }
    Ok((ticket.ok_or_else(bad)?, profile))
}

/// An activation under way: what the earlier steps collected.
struct Draft {
    profile: ServerProfile,
    ticket: String,
    code: Option<Zeroizing<String>>,
    /// The PIN just chosen, kept only until the biometric offer is answered.
    pin: Option<Zeroizing<String>>,
    account: Option<AccountId>,
}

/// What the model remembers besides the screen.
struct State {
    screen: Screen,
    /// The screen to go back to, for screens opened from another.
    back: Option<Screen>,
    draft: Option<Draft>,
    push_token: Option<String>,
    notifications_enabled: bool,
    /// Things a sync learnt that the accounts screen tells once.
    notices: Vec<String>,
}

/// The app: screens and navigation over one [`Authenticator`]. `Send + Sync`.
pub struct AppModel {
    authenticator: Arc<Authenticator>,
    options: AppOptions,
    state: Mutex<State>,
    listener: Mutex<Option<Arc<dyn ScreenListener>>>,
    /// Serialises events: one is carried out at a time.
    dispatching: Mutex<()>,
}

impl std::fmt::Debug for AppModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppModel")
            .field("screen", &self.view())
            .finish_non_exhaustive()
    }
}

/// How an event goes on once the state was read: a step that may block.
type Work = Box<dyn FnOnce(&AppModel) -> Screen + Send>;

impl AppModel {
    /// The model over `authenticator`, on the welcome screen until
    /// [`Event::Start`] looks at the accounts.
    pub fn new(authenticator: Arc<Authenticator>, options: AppOptions) -> Self {
        Self {
            authenticator,
            options,
            state: Mutex::new(State {
                screen: Screen::Welcome { problem: None },
                back: None,
                draft: None,
                push_token: None,
                notifications_enabled: true,
                notices: Vec::new(),
            }),
            listener: Mutex::new(None),
            dispatching: Mutex::new(()),
        }
    }

    /// Who is told when the screen changes (replaces the previous listener).
    pub fn set_listener(&self, listener: Arc<dyn ScreenListener>) {
        *lock(&self.listener) = Some(listener);
    }

    /// The screen to show now. Never blocks on the network.
    pub fn view(&self) -> Screen {
        lock(&self.state).screen.clone()
    }

    /// Whether any account on this phone still holds secrets (an active, locked,
    /// disabled or pending account): the app's launcher decides between welcome
    /// and accounts with it, and a backup or uninstall warning needs it.
    pub fn has_secrets(&self) -> bool {
        self.authenticator.accounts().is_ok_and(|accounts| {
            accounts.iter().any(|a| {
                !matches!(
                    a.state,
                    AccountState::Replaced { .. } | AccountState::Wiped { .. }
                )
            })
        })
    }

    /// The notification to post for a push's data (FCM data map, APNs user
    /// info): `None` when the payload is not Latchkey's or no account here can
    /// answer it — post nothing then. No network.
    pub fn notification_for_push(&self, data: &HashMap<String, String>) -> Option<PushAlert> {
        match self.authenticator.handle_push(data) {
            Ok(alert) => Some(alert),
            Err(error) => {
                tracing::info!(%error, "a push was not shown");
                None
            }
        }
    }

    /// What to do with a push the app received (FCM data map, APNs user info),
    /// the one place the shells read Latchkey's push payload (docs/PROTOCOL.md
    /// §6.2): a login push gives the alert to post; a notice push (`"notice"`:
    /// the server holds a signed notice for this phone) syncs every account —
    /// it may block on the network, so call it from a background job; a push
    /// without the `latchkey` key belongs to someone else. A malformed Latchkey
    /// push, or one no account here can answer, is [`PushAction::Ignored`]: post
    /// nothing. Never fails: a push is untrusted input.
    pub fn push_received(&self, data: &HashMap<String, String>) -> PushAction {
        let Some(version) = data.get("latchkey") else {
            return PushAction::NotLatchkey;
        };
        if version != "1" {
            return PushAction::Ignored;
        }
        if data.contains_key("request") {
            return match self.notification_for_push(data) {
                Some(alert) => PushAction::Notify(alert),
                None => PushAction::Ignored,
            };
        }
        match data.get("notice") {
            Some(kind)
                if (1..=64).contains(&kind.len())
                    && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                PushAction::Synced {
                    waiting: self.sync_all(),
                }
            }
            _ => PushAction::Ignored,
        }
    }

    /// Syncs every account (from a background job after a push, or at start):
    /// returns the handles of login requests waiting for this phone, for which
    /// the shell may post notifications. Offline accounts are skipped.
    pub fn sync_all(&self) -> Vec<String> {
        let (token, enabled) = {
            let state = lock(&self.state);
            (state.push_token.clone(), state.notifications_enabled)
        };
        let mut handles = Vec::new();
        let mut notices = Vec::new();
        for account in self.authenticator.accounts().unwrap_or_default() {
            if matches!(
                account.state,
                AccountState::Replaced { .. } | AccountState::Wiped { .. }
            ) {
                continue;
            }
            match self.authenticator.sync(account.id, token.clone(), enabled) {
                Ok(report) => {
                    handles.extend(report.pending_requests.iter().map(|r| r.to_string()));
                    notices.extend(
                        report
                            .events
                            .iter()
                            .filter_map(|e| sync_notice(&account.label, e)),
                    );
                }
                Err(error) => tracing::info!(account = %account.id, %error, "sync failed"),
            }
        }
        lock(&self.state).notices.extend(notices);
        handles
    }

    /// Carries out one event: reads the screen, shows [`Screen::Busy`] while it
    /// waits for the network or the prompt, then shows the result. Blocks: call
    /// it off the main thread. Events that do not fit the screen are ignored.
    pub fn dispatch(&self, event: Event) {
        let _one_at_a_time = lock(&self.dispatching);
        tracing::debug!(?event, "app event");
        let work = {
            let mut state = lock(&self.state);
            match self.plan(&mut state, event) {
                Plan::Ignore => return,
                Plan::Show(screen) => {
                    state.screen = screen;
                    None
                }
                Plan::Later(work) => {
                    drop(state);
                    let screen = work(self);
                    lock(&self.state).screen = screen;
                    None
                }
                Plan::Work { busy, work } => {
                    state.screen = Screen::Busy { text: busy };
                    Some(work)
                }
            }
        };
        self.changed();
        if let Some(work) = work {
            let screen = work(self);
            lock(&self.state).screen = screen;
            self.changed();
        }
    }

    fn changed(&self) {
        let listener = lock(&self.listener).clone();
        if let Some(listener) = listener {
            listener.screen_changed();
        }
    }

    /// Decides what an event does on the current screen.
    fn plan(&self, state: &mut State, event: Event) -> Plan {
        use Event as E;
        use Screen as S;
        let screen = state.screen.clone();
        match (screen, event) {
            (S::Busy { .. }, _) => Plan::Ignore,
            (
                _,
                E::Platform {
                    push_token,
                    notifications_enabled,
                },
            ) => {
                state.push_token = push_token.filter(|t| !t.is_empty());
                state.notifications_enabled = notifications_enabled;
                Plan::Ignore
            }
            (_, E::Start) | (S::Accounts { .. }, E::Refresh) => {
                state.back = None;
                state.draft = None;
                work("Checking your accounts…", |model| {
                    model.sync_all();
                    model.home(None)
                })
            }
            (S::Welcome { .. } | S::Accounts { .. }, E::AddAccount) => {
                state.draft = None;
                Plan::Show(S::Activation {
                    step: ActivationStep::Link,
                    server: None,
                    problem: None,
                })
            }
            (
                S::Welcome { .. } | S::Accounts { .. } | S::Activation { .. },
                E::ActivationLink { link },
            ) => {
                match parse_activation_link(&link).and_then(|(ticket, profile)| {
                    profile
                        .or_else(|| self.options.builtin_profile.clone())
                        .map(|profile| (ticket, profile))
                        .ok_or_else(|| {
                            AuthenticatorError::BadInput(
                                "this link does not say which server to use".to_owned(),
                            )
                        })
                }) {
                    Ok((ticket, profile)) => {
                        let server = host_of(profile.base_url()).to_owned();
                        state.draft = Some(Draft {
                            profile,
                            ticket,
                            code: None,
                            pin: None,
                            account: None,
                        });
                        Plan::Show(S::Activation {
                            step: ActivationStep::Code,
                            server: Some(server),
                            problem: None,
                        })
                    }
                    Err(error) => Plan::Show(S::Activation {
                        step: ActivationStep::Link,
                        server: None,
                        problem: Some(Problem::from_error(&error)),
                    }),
                }
            }
            (
                S::Activation {
                    step: ActivationStep::Code,
                    server,
                    ..
                },
                E::ActivationCode { code },
            ) => {
                let Some(draft) = state.draft.as_mut() else {
                    return Plan::Ignore;
                };
                // The same parser the activation uses: 13 digits, spaces and dashes dropped.
                if let Err(error) = parse_code(&code) {
                    return Plan::Show(S::Activation {
                        step: ActivationStep::Code,
                        server,
                        problem: Some(Problem::from_error(&error)),
                    });
                }
                draft.code = Some(Zeroizing::new(code));
                Plan::Show(S::Activation {
                    step: ActivationStep::Pin,
                    server,
                    problem: None,
                })
            }
            (
                S::Activation {
                    step: ActivationStep::Pin,
                    server,
                    ..
                },
                E::ChoosePin { pin, confirmation },
            ) => {
                let (pin, confirmation) = (Zeroizing::new(pin), Zeroizing::new(confirmation));
                let Some(draft) = state.draft.take() else {
                    return Plan::Ignore;
                };
                work("Activating this phone…", move |model| {
                    model.activate(draft, pin, confirmation, server)
                })
            }
            (
                S::Activation {
                    step: ActivationStep::BiometricOffer,
                    ..
                },
                E::BiometricOffer { accept },
            ) => {
                let draft = state.draft.take();
                match (accept, draft) {
                    (
                        true,
                        Some(Draft {
                            pin: Some(pin),
                            account: Some(account),
                            ..
                        }),
                    ) => work("Turning on biometrics…", move |model| {
                        match model
                            .authenticator
                            .enable_biometric(account, pin.as_str().to_owned())
                        {
                            Ok(()) => model.home(Some("Biometric approval is on.".to_owned())),
                            Err(error) => model.home_with_problem(&error),
                        }
                    }),
                    _ => later(|model| model.home(None)),
                }
            }
            (
                S::Accounts { .. } | S::Welcome { .. } | S::Finished { .. },
                E::OpenRequest { handle },
            ) => {
                state.back = None;
                work("Checking the login request…", move |model| {
                    model.open_request(&handle)
                })
            }
            (S::Review(review), event) => self.plan_review(review, event),
            (S::Accounts { .. }, E::Authenticate { account }) => {
                let id = AccountId::from_raw(account);
                match self.authenticator.account(id) {
                    Ok(summary) => Plan::Show(S::Authenticate(AuthenticateScreen {
                        account: AccountRow::from(&summary),
                        response: None,
                        warning: crate::device::CHALLENGE_WARNING.to_owned(),
                        problem: None,
                    })),
                    Err(_) => Plan::Ignore,
                }
            }
            (S::Authenticate(screen), E::Respond { challenge, pin }) => {
                let account = AccountId::from_raw(screen.account.id);
                let unlock = match pin {
                    Some(pin) => Unlock::pin(pin),
                    None => Unlock::biometric("Generate a login response?"),
                };
                work("Generating the response…", move |model| {
                    match model
                        .authenticator
                        .respond_to_challenge(account, &challenge, unlock)
                    {
                        Ok(answer) => S::Authenticate(AuthenticateScreen {
                            response: Some(answer.response.clone()),
                            warning: answer.warning.clone(),
                            problem: None,
                            ..screen
                        }),
                        Err(error) => S::Authenticate(AuthenticateScreen {
                            response: None,
                            problem: Some(Problem::from_error(&error)),
                            ..screen
                        }),
                    }
                })
            }
            (S::Accounts { .. }, E::Settings { account }) => {
                work("Opening the settings…", move |model| {
                    model.settings_or_home(AccountId::from_raw(account), None)
                })
            }
            (S::Settings(screen), event) => self.plan_settings(state, screen, event),
            (S::Diagnose { account, .. }, E::Back) => {
                work("Opening the settings…", move |model| {
                    model.settings_or_home(AccountId::from_raw(account.id), None)
                })
            }
            (S::Accounts { .. }, E::History) => {
                later(|model| match model.authenticator.history() {
                    Ok(entries) => S::History {
                        entries: entries.iter().map(HistoryRow::from).collect(),
                        problem: None,
                    },
                    Err(error) => S::History {
                        entries: Vec::new(),
                        problem: Some(Problem::from_error(&error)),
                    },
                })
            }
            (
                S::Activation { .. }
                | S::Authenticate(_)
                | S::History { .. }
                | S::Finished { .. }
                | S::Waiting { .. },
                E::Back,
            ) => {
                state.draft = None;
                later(|model| model.home(None))
            }
            _ => Plan::Ignore,
        }
    }

    fn plan_review(&self, review: ReviewScreen, event: Event) -> Plan {
        use Event as E;
        match (review.step, event) {
            (ReviewStep::Read, E::Proceed) => Plan::Show(Screen::Review(ReviewScreen {
                step: if review.request.needs_typed_code {
                    ReviewStep::TypeCode
                } else {
                    ReviewStep::Unlock
                },
                problem: None,
                ..review
            })),
            (ReviewStep::TypeCode, E::TypeCode { code }) => {
                let code: String = code.chars().filter(|c| *c != ' ').collect();
                if code.parse::<crate::protocol::Challenge>().is_ok() {
                    Plan::Show(Screen::Review(ReviewScreen {
                        step: ReviewStep::Unlock,
                        typed_code: Some(code),
                        problem: None,
                        ..review
                    }))
                } else {
                    Plan::Show(Screen::Review(ReviewScreen {
                        problem: Some(Problem::text(
                            "Type the 6-digit code shown on the login screen.",
                        )),
                        ..review
                    }))
                }
            }
            (ReviewStep::Unlock, E::ApproveWithPin { pin }) => work("Approving…", move |model| {
                model.approve(review, Unlock::pin(pin))
            }),
            (ReviewStep::Unlock, E::ApproveWithBiometric) if review.biometric_available => {
                let prompt = format!("Approve login to {}?", review.request.app);
                work("Approving…", move |model| {
                    model.approve(review, Unlock::biometric(prompt))
                })
            }
            (_, E::Deny { not_me }) => work("Denying…", move |model| {
                let reason = if not_me {
                    DenialReason::NotMe
                } else {
                    DenialReason::Declined
                };
                match model.authenticator.deny(&review.request.request.to_string(), reason) {
                    Ok(()) if not_me => Screen::Finished {
                        title: "Reported".to_owned(),
                        text: "The login was denied and reported. Change your password: until you do, login notifications are paused.".to_owned(),
                    },
                    Ok(()) => Screen::Finished {
                        title: "Denied".to_owned(),
                        text: "The login was denied.".to_owned(),
                    },
                    Err(error) => finished_with(&error),
                }
            }),
            // Leaving without deciding: the request stays open until it expires.
            (_, E::Back) => later(|model| model.home(None)),
            _ => Plan::Ignore,
        }
    }

    fn plan_settings(&self, state: &mut State, screen: SettingsScreen, event: Event) -> Plan {
        use Event as E;
        let account = AccountId::from_raw(screen.account.id);
        let (token, notifications) = (state.push_token.clone(), state.notifications_enabled);
        match event {
            E::SetBiometric { enabled: false, .. } => {
                work("Turning off biometrics…", move |model| {
                    let result = model.authenticator.disable_biometric(account);
                    model.settings_after(account, result, "Biometric approval is off.")
                })
            }
            E::SetBiometric {
                enabled: true,
                pin: Some(pin),
            } => work("Turning on biometrics…", move |model| {
                let result = model.authenticator.enable_biometric(account, pin);
                model.settings_after(account, result, "Biometric approval is on.")
            }),
            E::ChangePin {
                old_pin,
                new_pin,
                confirmation,
            } => work("Changing the PIN…", move |model| {
                let result =
                    model
                        .authenticator
                        .change_pin(account, old_pin, new_pin, confirmation);
                model.settings_after(account, result, "Your PIN was changed.")
            }),
            E::Diagnose => work("Checking notifications…", move |model| {
                match model.authenticator.diagnose(account, notifications, token) {
                    Ok(findings) => Screen::Diagnose {
                        account: screen.account.clone(),
                        findings: findings.iter().map(FindingRow::from).collect(),
                        problem: None,
                    },
                    Err(error) => Screen::Diagnose {
                        account: screen.account.clone(),
                        findings: Vec::new(),
                        problem: Some(Problem::from_error(&error)),
                    },
                }
            }),
            E::ApproveMove { pin } => match screen.pending_move.clone() {
                Some(replacement) => work("Approving the move…", move |model| {
                    match model
                        .authenticator
                        .approve_replacement(account, &replacement, Unlock::pin(pin))
                    {
                        Ok(()) => Screen::Finished {
                            title: "Moved".to_owned(),
                            text: "The account moved to your new phone. This phone no longer approves its logins.".to_owned(),
                        },
                        Err(error) => model.settings_or_home(account, Some(&error)),
                    }
                }),
                None => Plan::Ignore,
            },
            E::CancelMove { pin } => match screen.pending_move.clone() {
                Some(replacement) => work("Cancelling the move…", move |model| {
                    let result = model.authenticator.cancel_replacement(
                        account,
                        &replacement,
                        Unlock::pin(pin),
                    );
                    model.settings_after(
                        account,
                        result,
                        "The move was cancelled. This phone stays your authentication device.",
                    )
                }),
                None => Plan::Ignore,
            },
            E::OptOut { pin } => work("Turning off two-factor authentication…", move |model| {
                let result = model
                    .authenticator
                    .opt_out_of_two_factor(account, Unlock::pin(pin));
                model.settings_after(
                    account,
                    result,
                    "Two-factor authentication is off: anyone with your password can now log in.",
                )
            }),
            E::RemoveAccount => work("Removing the account…", move |model| {
                match model.authenticator.remove_account(account) {
                    Ok(report) => model.home(Some(if report.server_revoked {
                        format!("{} was removed from this phone.", screen.account.label)
                    } else {
                        format!(
                            "{} was removed from this phone, but the server could not be told: also remove this phone from your account on the web.",
                            screen.account.label
                        )
                    })),
                    Err(error) => model.settings_or_home(account, Some(&error)),
                }
            }),
            E::Back => later(|model| model.home(None)),
            _ => Plan::Ignore,
        }
    }

    fn activate(
        &self,
        mut draft: Draft,
        pin: Zeroizing<String>,
        confirmation: Zeroizing<String>,
        server: Option<String>,
    ) -> Screen {
        let Some(code) = draft.code.take() else {
            return self.home(None);
        };
        let token = lock(&self.state).push_token.clone();
        let result = self.authenticator.activate(
            &draft.profile,
            &draft.ticket,
            &code,
            pin.as_str().to_owned(),
            confirmation.as_str().to_owned(),
            &self.options.device_name,
            token,
        );
        match result {
            Ok(ActivationOutcome::Active(account)) => {
                draft.pin = Some(pin);
                draft.account = Some(account.id);
                lock(&self.state).draft = Some(draft);
                Screen::Activation {
                    step: ActivationStep::BiometricOffer,
                    server,
                    problem: None,
                }
            }
            Ok(ActivationOutcome::Pending {
                account,
                held,
                effective_at,
                ..
            }) => Screen::Waiting {
                account: AccountRow::from(&account),
                held,
                effective_at,
            },
            // A refused PIN (checked before anything is made or sent) is chosen again.
            Err(error @ (AuthenticatorError::WeakPin(_) | AuthenticatorError::PinMismatch)) => {
                draft.code = Some(code);
                lock(&self.state).draft = Some(draft);
                Screen::Activation {
                    step: ActivationStep::Pin,
                    server,
                    problem: Some(Problem::from_error(&error)),
                }
            }
            // A wrong code can be typed again while the ticket lasts.
            Err(error @ AuthenticatorError::WrongActivationCode { .. }) => {
                lock(&self.state).draft = Some(draft);
                Screen::Activation {
                    step: ActivationStep::Code,
                    server,
                    problem: Some(Problem::from_error(&error)),
                }
            }
            Err(error) => Screen::Activation {
                step: ActivationStep::Link,
                server: None,
                problem: Some(Problem::from_error(&error)),
            },
        }
    }

    fn open_request(&self, handle: &str) -> Screen {
        match self.authenticator.pending_request(handle) {
            Ok(request) => {
                let biometric_available = self
                    .authenticator
                    .account(request.account)
                    .is_ok_and(|a| a.biometric_enabled);
                Screen::Review(ReviewScreen {
                    request,
                    step: ReviewStep::Read,
                    biometric_available,
                    typed_code: None,
                    problem: None,
                })
            }
            Err(error) => finished_with(&error),
        }
    }

    fn approve(&self, review: ReviewScreen, unlock: Unlock) -> Screen {
        match self.authenticator.approve(
            &review.request.request.to_string(),
            review.typed_code.as_deref(),
            unlock,
        ) {
            Ok(()) => Screen::Finished {
                title: "Approved".to_owned(),
                text: "You can continue on the login screen.".to_owned(),
            },
            // The request is still answerable: stay, with the PIN as the way on.
            Err(
                error @ (AuthenticatorError::BiometricCancelled
                | AuthenticatorError::BiometricLockout
                | AuthenticatorError::BiometricInvalidated
                | AuthenticatorError::BiometricNotEnabled
                | AuthenticatorError::BadInput(_)),
            ) => Screen::Review(ReviewScreen {
                biometric_available: review.biometric_available
                    && matches!(error, AuthenticatorError::BiometricCancelled),
                problem: Some(Problem::from_error(&error)),
                ..review
            }),
            Err(error) => finished_with(&error),
        }
    }

    /// The accounts screen, or welcome when there is none.
    fn home(&self, notice: Option<String>) -> Screen {
        let mut notices = std::mem::take(&mut lock(&self.state).notices);
        notices.extend(notice);
        match self.authenticator.accounts() {
            Ok(accounts) if accounts.is_empty() && notices.is_empty() => {
                Screen::Welcome { problem: None }
            }
            Ok(accounts) => Screen::Accounts {
                accounts: accounts.iter().map(AccountRow::from).collect(),
                notices,
                problem: None,
            },
            Err(error) => Screen::Accounts {
                accounts: Vec::new(),
                notices,
                problem: Some(Problem::from_error(&error)),
            },
        }
    }

    fn home_with_problem(&self, error: &AuthenticatorError) -> Screen {
        match self.home(None) {
            Screen::Accounts {
                accounts, notices, ..
            } => Screen::Accounts {
                accounts,
                notices,
                problem: Some(Problem::from_error(error)),
            },
            other => other,
        }
    }

    /// An account's settings screen, `None` if the account is gone.
    fn settings(
        &self,
        account: AccountId,
        notice: Option<String>,
        problem: Option<Problem>,
    ) -> Option<Screen> {
        let summary = self.authenticator.account(account).ok()?;
        Some(Screen::Settings(SettingsScreen {
            account: AccountRow::from(&summary),
            pending_move: self.pending_move(account),
            notice,
            problem,
        }))
    }

    /// The move of this account the server last said is pending, from a sync.
    fn pending_move(&self, account: AccountId) -> Option<String> {
        let (token, enabled) = {
            let state = lock(&self.state);
            (state.push_token.clone(), state.notifications_enabled)
        };
        let report = self.authenticator.sync(account, token, enabled).ok()?;
        report.events.iter().find_map(|event| match event {
            SyncEvent::ReplacementPending {
                replacement: Some(id),
                ..
            } => Some(id.to_string()),
            _ => None,
        })
    }

    fn settings_after(
        &self,
        account: AccountId,
        result: Result<(), AuthenticatorError>,
        done: &str,
    ) -> Screen {
        match result {
            Ok(()) => self
                .settings(account, Some(done.to_owned()), None)
                .unwrap_or_else(|| self.home(Some(done.to_owned()))),
            Err(error) => self.settings_or_home(account, Some(&error)),
        }
    }

    fn settings_or_home(&self, account: AccountId, error: Option<&AuthenticatorError>) -> Screen {
        let problem = error.map(Problem::from_error);
        self.settings(account, None, problem.clone())
            .unwrap_or_else(|| match error {
                Some(error) => self.home_with_problem(error),
                None => self.home(None),
            })
    }
}

/// What an event does, decided under the state lock.
enum Plan {
    /// Nothing (the event does not fit the screen).
    Ignore,
    /// Show this screen now.
    Show(Screen),
    /// Work out the next screen once the lock is released, without a busy
    /// screen (local reads only).
    Later(Work),
    /// Show a busy screen with this text, then carry out the work (lock released).
    Work { busy: String, work: Work },
}

fn later(step: impl FnOnce(&AppModel) -> Screen + Send + 'static) -> Plan {
    Plan::Later(Box::new(step))
}

fn work(busy: &str, step: impl FnOnce(&AppModel) -> Screen + Send + 'static) -> Plan {
    Plan::Work {
        busy: busy.to_owned(),
        work: Box::new(step),
    }
}

/// The end of a request's flow when the library or the server said no.
fn finished_with(error: &AuthenticatorError) -> Screen {
    let title = match error {
        AuthenticatorError::Expired => "Expired",
        AuthenticatorError::AlreadyDecided => "Already answered",
        AuthenticatorError::UnknownRequest => "Nothing to approve",
        AuthenticatorError::Offline => "No connection",
        _ => "Not approved",
    };
    Screen::Finished {
        title: title.to_owned(),
        text: Problem::from_error(error).text,
    }
}

/// What the accounts screen tells about a sync's news.
fn sync_notice(label: &str, event: &SyncEvent) -> Option<String> {
    Some(match event {
        SyncEvent::Replaced { by, .. } => {
            format!("{label} moved to another phone ({by}) and was removed from this one.")
        }
        SyncEvent::Revoked { .. } => format!("{label} was removed from this phone."),
        SyncEvent::PasswordResetRequired => {
            format!("{label}: too many wrong PINs. Reset your password to use this phone again.")
        }
        SyncEvent::Disabled => format!(
            "{label}: this phone is disabled after too many wrong PINs. Activate a phone again."
        ),
        SyncEvent::Reactivated => format!("{label} can approve logins again."),
        SyncEvent::ReplacementPending { new_phone, .. } => format!(
            "{label}: someone is moving this account to {}. If this was not you, cancel it in the account's settings.",
            new_phone.as_deref().unwrap_or("a new phone")
        ),
        SyncEvent::ActivationCompleted { .. } => format!("{label} is active on this phone."),
        SyncEvent::ActivationStarted { text } => format!("{label}: {text}"),
        _ => return None,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_links_round_trip_and_anything_else_is_refused() {
        let ticket = r#"{"ticket":"t"}"#;
        let link = activation_link(ticket, None);
        assert!(link.starts_with(ACTIVATION_LINK_PREFIX));
        let (read, profile) = parse_activation_link(&format!("  {link}\n")).unwrap();
        assert_eq!((read.as_str(), profile), (ticket, None));
        for bad in [
            "",
            "latchkey://activate?",
            "latchkey://activate?ticket=%%%",
            "latchkey://activate?ticket=e30&ticket=e30",
            "latchkey://activate?ticket=e30&extra=1",
            "latchkey://activate?ticket=e30&profile=e30",
            "https://example.com/activate?ticket=e30",
            &format!("{ACTIVATION_LINK_PREFIX}ticket={}", "A".repeat(MAX_LINK)),
        ] {
            assert!(
                matches!(
                    parse_activation_link(bad),
                    Err(AuthenticatorError::BadInput(_))
                ),
                "{bad}"
            );
        }
    }
}
