//! # latchkey-ffi
//!
//! The UniFFI surface over the phone's [`Authenticator`] for the Kotlin (Android)
//! and Swift (iOS) shells: the app model ([`AppModel`]: every screen and the way
//! between them, which the shells render and drive — docs/SCREENS.md), the
//! authenticator object under it, records and enums that mirror core's
//! results, one error enum ([`AuthenticatorError`], converted in `error.rs` only),
//! and the hooks the platform implements as foreign traits —
//! [`PlatformKeystore`], [`Transport`], [`LogSink`] and [`ScreenListener`].
//!
//! The `///` docs of everything exported here become the Kotlin and Swift docs:
//! they are written for app developers.
//!
//! Invariants:
//! - **this is the only library crate that depends on uniffi**; it adds no
//!   behaviour of its own beyond converting types, adapting the hooks and
//!   bridging `tracing` to the log sink;
//! - **plaintext secrets cross the FFI only into the keystore's `seal` /
//!   `seal_biometric` and out of its `open` / `open_biometric`**; PINs come in as
//!   byte arrays the shell can overwrite, and are wiped here after use;
//! - **nothing panics across**: every hook method returns a `Result` whose error
//!   type absorbs an unexpected host exception
//!   ([`uniffi::UnexpectedUniFFICallbackError`]), and with `panic = "unwind"` a
//!   bug in Rust becomes an exception in the host, never an abort;
//! - host errors carry typed fields and `Display` text, never `Debug` output of
//!   a lower error;
//! - every call may block (network, biometric prompt): the shells call the
//!   library off the main thread; hooks never call back into the
//!   [`Authenticator`].
#![warn(missing_docs)]

uniffi::setup_scaffolding!();

mod app;
mod authenticator;
mod clock;
mod error;
mod keystore;
mod log;
mod transport;
mod types;

pub use app::{
    AccountRow, ActivationStep, AppModel, AppOptions, AuthenticateScreen, Event, FindingRow,
    HistoryRow, Problem, PushAction, ReviewScreen, ReviewStep, Screen, ScreenListener,
    SettingsScreen, activation_link,
};
pub use authenticator::{Authenticator, challenge_warning, parse_server_profile};
pub use error::{AuthenticatorError, KeystoreError, ListenerError, LogSinkError, TransportError};
pub use keystore::PlatformKeystore;
pub use log::{LogLevel, LogRecord, LogSink, clear_log_sink, set_log_sink};
pub use transport::{HttpMethod, Transport, TransportRequest, TransportResponse};
pub use types::{
    AccountState, AccountSummary, ActivationOutcome, AuthenticatorConfig, ChallengeResponse,
    DenialReason, EnrollmentState, Finding, FindingKind, HistoryEntry, HistoryEvent, KeystoreKind,
    MatchingMode, PendingApproval, Platform, PushAlert, RemovalReport, ServerProfileSummary,
    SyncEvent, SyncReport, Unlock,
};
