//! The verifier's rules as pure functions over the deployment's numbers
//! ([`crate::config::Limits`]): the PIN-bound failure counter and the push limits.
//! The verifier applies them inside its transactions.

pub mod attempts;
pub mod push_limits;

pub use attempts::FailureConsequence;
pub use push_limits::PushRefusal;
