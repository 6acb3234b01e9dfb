//! What each screen shows: plain data the shells render (docs/SCREENS.md).

use crate::device::{
    AccountState, AccountSummary, AuthenticatorError, Finding, FindingKind, HistoryEntry,
    HistoryEvent, PendingApproval,
};

/// The screen the app shows.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The activation waits: for the old phone's approval, or for the end of the
    /// lost-phone hold period.
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
        /// Every account, oldest first (removed ones kept while fraud reports need them).
        accounts: Vec<AccountRow>,
        /// News to tell once (an account moved away, a lockout…).
        notices: Vec<String>,
        /// Why the last action did not go through, if it did not.
        problem: Option<Problem>,
    },
    /// A login request to review and answer.
    Review(ReviewScreen),
    /// How a flow ended ("Approved", "Expired"…); Back goes to the accounts.
    Finished {
        /// The headline.
        title: String,
        /// What happened and what to do next.
        text: String,
    },
    /// Authenticate: the offline challenge → 8-digit response.
    Authenticate(AuthenticateScreen),
    /// One account's settings.
    Settings(SettingsScreen),
    /// Why login notifications may not arrive, and the fix for each finding.
    Diagnose {
        /// The account.
        account: AccountRow,
        /// What was found (empty: nothing wrong was found).
        findings: Vec<FindingRow>,
        /// Why the diagnosis could not run, if it could not.
        problem: Option<Problem>,
    },
    /// The phone's history of approvals, denials and responses, newest last.
    History {
        /// The entries.
        entries: Vec<HistoryRow>,
        /// Why the history could not be read (e.g. it was tampered with).
        problem: Option<Problem>,
    },
}

/// The steps of an activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The review of a login request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewScreen {
    /// What is being approved: app, client, origin, time, account.
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

/// The steps of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStep {
    /// Read the request; go on, deny, or "This wasn't me".
    Read,
    /// Type the 6-digit code shown on the login screen.
    TypeCode,
    /// Confirm with the PIN, or the biometric prompt.
    Unlock,
}

/// The Authenticate screen.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthenticateScreen {
    /// The account.
    pub account: AccountRow,
    /// The 8-digit response, once generated.
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

/// One account's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsScreen {
    /// The account.
    pub account: AccountRow,
    /// A move of this account to another phone that can be approved or cancelled
    /// here (the replacement's id), if one is pending.
    pub pending_move: Option<String>,
    /// What the last action did ("Your PIN was changed.").
    pub notice: Option<String>,
    /// Why the last action did not go through, if it did not.
    pub problem: Option<Problem>,
}

/// An account as a list row.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl From<&AccountSummary> for AccountRow {
    fn from(account: &AccountSummary) -> Self {
        let status = match &account.state {
            AccountState::Active => "Active".to_owned(),
            AccountState::Pending { held: true, .. } => {
                "Waiting for the hold period to end".to_owned()
            }
            AccountState::Pending { .. } => "Waiting for your old phone's approval".to_owned(),
            AccountState::Locked => "Locked: reset your password".to_owned(),
            AccountState::Disabled => "Disabled: activate a phone again".to_owned(),
            AccountState::Replaced { by, .. } => format!("Moved to {by}"),
            AccountState::Wiped { .. } => "Removed from this phone".to_owned(),
        };
        Self {
            id: account.id.get(),
            label: account.label.clone(),
            status,
            usable: matches!(account.state, AccountState::Active),
            biometric_enabled: account.biometric_enabled,
        }
    }
}

/// A diagnosis finding with its fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRow {
    /// The reason, as data.
    pub kind: FindingKind,
    /// What is wrong.
    pub text: String,
    /// What to do.
    pub fix: String,
}

impl From<&Finding> for FindingRow {
    fn from(finding: &Finding) -> Self {
        Self {
            kind: finding.kind.clone(),
            text: finding.text.clone(),
            fix: finding.step.clone(),
        }
    }
}

/// A history entry as a list row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// When (Unix seconds, this phone's clock).
    pub at: u64,
    /// What happened.
    pub event: HistoryEvent,
    /// What the user saw ("Client Portal — Chrome — Hong Kong").
    pub summary: String,
}

impl From<&HistoryEntry> for HistoryRow {
    fn from(entry: &HistoryEntry) -> Self {
        Self {
            at: entry.at,
            event: entry.event,
            summary: entry.summary.clone(),
        }
    }
}

/// Why an action did not go through, in the user's words, with the numbers a
/// screen may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What to tell the user.
    pub text: String,
    /// Attempts left before the account is locked or the activation ends, if known.
    pub attempts_left: Option<u64>,
    /// When the next attempt is allowed (Unix seconds, server time), if delayed.
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with only a text.
    pub fn text(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            attempts_left: None,
            retry_after: None,
        }
    }

    /// The user's words for an authenticator error.
    pub fn from_error(error: &AuthenticatorError) -> Self {
        use AuthenticatorError as E;
        let mut problem = Self::text("");
        problem.text = match error {
            E::WrongResponse {
                attempts_left,
                retry_after,
            } => {
                problem.attempts_left = *attempts_left;
                problem.retry_after = *retry_after;
                match attempts_left {
                    Some(left) => format!("Wrong PIN. {left} attempts left."),
                    None => "Wrong PIN.".to_owned(),
                }
            }
            E::Delayed { retry_after } => {
                problem.retry_after = *retry_after;
                "Too many wrong attempts: wait before trying again.".to_owned()
            }
            E::PasswordResetRequired => {
                "Too many wrong PINs: reset your password to use this phone again.".to_owned()
            }
            E::Disabled => {
                "This phone is disabled for the account: activate a phone again.".to_owned()
            }
            E::Replaced { by, .. } => {
                format!("This account moved to another phone ({by}).")
            }
            E::AccountWiped => "This account was removed from this phone.".to_owned(),
            E::ActivationPending => "This account's activation has not completed yet.".to_owned(),
            E::BiometricInvalidated => {
                "Biometrics changed on this phone: use your PIN, then turn biometrics on again."
                    .to_owned()
            }
            E::BiometricCancelled => "Use your PIN, or try the biometric prompt again.".to_owned(),
            E::BiometricLockout => "Biometrics are locked for now: use your PIN.".to_owned(),
            E::BiometricNotEnabled => "Biometric approval is off: use your PIN.".to_owned(),
            E::Offline => {
                "No connection. Use Authenticate: type the challenge shown on the login screen."
                    .to_owned()
            }
            E::Expired => "This login request has expired. Start the login again.".to_owned(),
            E::AlreadyDecided => "This login request was already answered.".to_owned(),
            E::UnknownRequest => "There is no login request to answer.".to_owned(),
            E::CodeMismatch => {
                "The code does not match the login screen, so the login was ended.".to_owned()
            }
            E::WrongActivationCode { attempts_left } => {
                problem.attempts_left = *attempts_left;
                "The activation code is wrong: check the SMS.".to_owned()
            }
            E::WeakPin(why) => format!("Choose another PIN: {why}."),
            E::PinMismatch => "The two PINs differ.".to_owned(),
            E::BadInput(what) => capitalised(what),
            E::ServerRefused { message, .. } => message.clone(),
            E::StorageCorrupt => {
                "Latchkey's data on this phone is damaged; it was left untouched.".to_owned()
            }
            E::HistoryTampered(_) => "The history on this phone was changed.".to_owned(),
            _ => "Something went wrong. Try again.".to_owned(),
        };
        problem
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(chars.as_str());
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}
