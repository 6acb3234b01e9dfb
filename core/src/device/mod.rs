//! The phone's foundation: the hooks the platform provides (keystore,
//! transport), the software keystore of desktops and tests, the SQLite store of
//! accounts, and the hash-chained local history. The `Authenticator` that the
//! shells call is built on these.
//!
//! Invariants kept by every part of this module:
//! - **no secret at rest in plaintext**: the seed and the biometric copy of
//!   `k_user` reach the store only as [`SealedBlob`]s made by a
//!   [`PlatformKeystore`]; the PIN is never stored in any form;
//! - **keys stay in the keystore**: the core names them by alias and asks for
//!   operations; deleting a key is how a wipe destroys what it sealed;
//! - **hooks never call back**: [`PlatformKeystore`] and [`Transport`]
//!   implementations must not call into the authenticator, may block, and are
//!   called off the main thread; every hook method returns a `Result`;
//! - **a corrupt store is reported, never deleted** ([`StoreError::Corrupt`]), and
//!   a store newer than the code is refused ([`StoreError::TooNew`]);
//! - **secrets stay out of logs**: `Debug` of anything holding one prints
//!   `[redacted]`, and sealed blobs and bodies print their length only;
//! - time comes from a [`crate::clock::Clock`]; nothing here reads the wall clock.

pub mod history;
pub mod keystore;
pub mod software_keystore;
pub mod store;
pub mod transport;

pub use history::{
    HISTORY_KEY_ALIAS, History, HistoryEntry, HistoryError, HistoryEvent, NewHistoryEntry,
    VerifiedHistory,
};
pub use keystore::{KeystoreError, KeystoreKind, PlatformKeystore, SealedBlob};
pub use software_keystore::{SimulatedBiometrics, SimulatedOutcome, SoftwareKeystore};
pub use store::{
    Account, AccountId, AccountState, BiometricCopy, DeviceStore, FRAUD_REPORT_RETENTION_SECS,
    MatchingMode, NewAccount, RemovedAccount, StoreError, UsableState, WipedKeys,
};
pub use transport::{
    HttpMethod, ScriptedTransport, Transport, TransportError, TransportRequest, TransportResponse,
};
