//! # latchkey-server
//!
//! The relying-party side of Latchkey:
//!
//! - [`secrets`]: the server's keys (Ed25519 signing, at-rest wrapping, code
//!   pepper) behind the [`ServerKeys`] trait, in a 0600 key file; the
//!   integrator API token;
//! - [`store`]: the [`Store`] trait (transactions over [`store::StoreTx`]) and
//!   its SQLite implementation with numbered migrations;
//! - [`users`]: the built-in user store of the reference login screen and demo,
//!   its password checks limited by [`password_attempts`];
//! - [`policy`]: the jurisdiction policy table, as data;
//! - [`outbox`]: the push, SMS, voice and e-mail traits and the recording outbox;
//! - [`delivery`]: the real providers behind those traits (FCM, APNs, Twilio,
//!   SMTP) and the delivery file that names them;
//! - [`rules`]: the PIN-bound failure counter, push limits and SMS/voice code
//!   rules, as pure rules;
//! - [`verifier`]: every ceremony of `docs/PROTOCOL.md` on the server side;
//! - [`config`]: mode, address, data folder and the numbers of docs/DESIGN.md §5;
//! - [`http`]: the axum API (public, phone, integrator, reference login and
//!   development routes; `server/openapi.yaml` describes each);
//! - [`metrics`]: the Prometheus metrics at `/metrics` and the readiness check;
//! - [`Server`]: opening the data folder, binding, serving (the connection loop
//!   with its cap and timeouts is in `connections`).
//!
//! It uses the protocol part of `latchkey-core` (and its SQLite migration
//! runner), never the phone's device store.
//!
//! Invariants kept by every module: no panics on input; time comes from the
//! injected [`latchkey_core::clock::Clock`]; secrets are `SecretBytes` and never
//! reach `Debug` output, logs or error messages; every state change is one store
//! transaction.
#![warn(missing_docs)]

pub mod config;
mod connections;
pub mod delivery;
pub mod dispatch;
pub mod embedded;
pub mod http;
mod launch;
pub mod metrics;
pub mod outbox;
pub mod password_attempts;
pub mod policy;
pub mod rules;
pub mod secrets;
pub mod store;
pub mod users;
pub mod verifier;

pub use config::ServerConfig;
pub use latchkey_core::otp;
pub use launch::{DATABASE_FILE_NAME, DataFolder, PROFILE_FILE_NAME, Server, ServerError};
pub use secrets::ServerKeys;
pub use store::Store;
