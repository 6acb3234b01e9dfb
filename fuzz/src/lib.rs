//! What the fuzz targets share: a phone (`Authenticator` on a real SQLite store in a
//! temporary folder, the software keystore, a transport that is always offline) made
//! once per process.

use latchkey_core::clock::ManualClock;
use latchkey_core::device::transport::{Transport, TransportError, TransportRequest, TransportResponse};
use latchkey_core::device::{
    Authenticator, AuthenticatorConfig, SimulatedBiometrics, SoftwareKeystore,
};
use latchkey_core::protocol::Platform;
use std::sync::{Arc, OnceLock};

/// A transport with no network: every request fails as offline.
struct Offline;

impl Transport for Offline {
    fn send(&self, _request: TransportRequest) -> Result<TransportResponse, TransportError> {
        Err(TransportError::Offline)
    }
}

struct Phone {
    _dir: tempfile::TempDir,
    authenticator: Authenticator,
}

/// The process's phone, made on first use; `None` if it could not be made.
pub fn phone() -> Option<&'static Authenticator> {
    static PHONE: OnceLock<Option<Phone>> = OnceLock::new();
    PHONE
        .get_or_init(|| {
            let dir = tempfile::tempdir().ok()?;
            let keystore =
                SoftwareKeystore::open(&dir.path().join("keys"), SimulatedBiometrics::new()).ok()?;
            let authenticator = Authenticator::open(
                &dir.path().join("phone.db"),
                Arc::new(keystore),
                Arc::new(Offline),
                Arc::new(ManualClock::new(1_800_000_000)),
                AuthenticatorConfig {
                    platform: Platform::Android,
                    app_version: "fuzz".to_owned(),
                },
            )
            .ok()?;
            Some(Phone {
                _dir: dir,
                authenticator,
            })
        })
        .as_ref()
        .map(|phone| &phone.authenticator)
}
