//! # latchkey-ffi
//!
//! The UniFFI surface over the phone's `Authenticator`, for the Kotlin (Android)
//! and Swift (iOS) shells. It will be the only library crate that depends on
//! uniffi. Its content arrives with the bindings issue, once the phone core exists
//! (see `ARCHITECTURE.md`); the crate is laid out now so the workspace has its
//! final shape.
#![warn(missing_docs)]
