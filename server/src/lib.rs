//! # latchkey-server
//!
//! The relying-party side of Latchkey: the verifier, its `Store`, outbound
//! channels and the HTTP API. It uses the protocol part of `latchkey-core`
//! without the phone's device store.
//!
//! This crate is laid out now so the workspace has its final shape; its content
//! arrives with the verifier server issue (see `ARCHITECTURE.md`). Until then it
//! only re-exports the OTP engine the verifier will be built on.
#![warn(missing_docs)]

pub use latchkey_core::otp;
