//! The verifier's rules as pure functions over the deployment's numbers
//! ([`crate::config::Limits`]): the PIN-bound failure counter, the push limits
//! and the SMS/voice code rules. The verifier applies them inside its
//! transactions.

pub mod attempts;
pub mod push_limits;
pub mod sms;

pub use attempts::FailureConsequence;
pub use push_limits::PushRefusal;
pub use sms::{
    ClientVersion, CodeGuard, CodeRefusal, VoiceMinimums, VoiceRefusal, WrongCodeOutcome,
};
