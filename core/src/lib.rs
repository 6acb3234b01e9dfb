//! # latchkey-core
//!
//! The heart of Latchkey, an open authenticator in the style of IB Key.
//!
//! This crate knows nothing of UniFFI, HTTP, threads or async runtimes (see
//! `ARCHITECTURE.md`). Today it holds:
//!
//! - [`otp`]: the one-time-password engine — RFC 6287 OCRA, RFC 4226 HOTP and
//!   RFC 6238 TOTP — used by the offline challenge/response login, by push
//!   approvals (whose proof is an OCRA response) and by the server's verifier.
//! - [`secret`]: the secret-bytes type every key travels in (zeroized on drop,
//!   redacted in `Debug`).
//! - [`protocol`]: identifiers, the server profile, the canonical encoding and
//!   every message of `docs/PROTOCOL.md`, as pure functions.
//! - [`clock`]: the `Clock` hook through which time comes in.
//! - [`private_file`]: the one writer of owner-only (0600) files, atomic and
//!   never overwriting.
//! - `sql` (feature `sqlite`): the one migration runner of every SQLite store.
//! - `device` (feature `device`): the phone — the `Authenticator` the shells
//!   drive, over the `PlatformKeystore` and `Transport` hooks, the software
//!   keystore, the SQLite store of accounts and the hash-chained local history.
//!
//! Test support is behind features that no shipped library enables
//! (ARCHITECTURE.md "Test support"): `testing` adds
//! `device::ScriptedTransport`, `soft-phone` adds `protocol::SoftPhone`.
//!
//! Invariants kept by every module: no panics on input (every constructor that
//! takes bytes or text from outside returns a `Result`), the wall clock is never
//! read here (time is an argument), and secrets never appear in `Debug` output.
#![warn(missing_docs)]

pub mod clock;
#[cfg(feature = "device")]
pub mod device;
pub mod encoding;
pub mod otp;
pub mod private_file;
pub mod protocol;
pub mod secret;
#[cfg(feature = "sqlite")]
pub mod sql;
