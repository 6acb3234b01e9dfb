//! `latchkey bench device`: the phone core's costs a user feels — opening a store
//! with 10 accounts, the offline response with PIN stretching (PBKDF2, 100 000
//! iterations) and with the biometric copy (no stretching), and building a signed
//! approval. The accounts are activated against an embedded development server on
//! 127.0.0.1 first; the figures cover only the phone's work.

use crate::CliError;
use clap::Args;
use latchkey_core::device::{
    Authenticator, AuthenticatorConfig, PlatformKeystore, SimulatedBiometrics, SoftwareKeystore,
    Unlock,
};
use latchkey_core::protocol::envelope::sign_device;
use latchkey_core::protocol::keys::compute_response;
use latchkey_core::protocol::{
    Approval, DeviceHeader, EnrollmentId, LATCHKEY_SUITE, Platform, ProtocolError, RequestId,
    Signer,
};
use latchkey_core::secret::SecretBytes;
use latchkey_journeys::World;
use latchkey_journeys::journeys::PIN;
use std::sync::Arc;

/// Arguments of `latchkey bench device`.
#[derive(Debug, Args)]
pub struct DeviceBenchArgs {
    /// Operations per figure.
    #[arg(long, default_value_t = 20)]
    iterations: u32,
}

fn runtime(e: impl std::fmt::Display) -> CliError {
    CliError::Runtime(e.to_string())
}

/// Mean milliseconds of `op` over `n` runs.
fn mean_ms(n: u32, mut op: impl FnMut() -> Result<(), CliError>) -> Result<f64, CliError> {
    #[allow(clippy::disallowed_methods)] // a benchmark measures wall time by definition
    let start = std::time::Instant::now();
    for _ in 0..n {
        op()?;
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0 / f64::from(n.max(1)))
}

struct KeystoreSigner<'a>(&'a dyn PlatformKeystore);

impl Signer for KeystoreSigner<'_> {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        self.0
            .sign("bench/device", message)
            .map_err(|_| ProtocolError::Randomness)
    }
}

/// `latchkey bench device`.
pub fn run(args: &DeviceBenchArgs) -> Result<(), CliError> {
    let n = args.iterations.max(1);
    let world = World::start().map_err(runtime)?;
    let phone = world.phone("bench phone").map_err(runtime)?;
    for i in 0..10 {
        let user = format!("user{i}");
        world.add_user(&user, "US", "phone").map_err(runtime)?;
        phone.activate(&world, &user, PIN, None).map_err(runtime)?;
    }
    let account = phone.account("user0").map_err(runtime)?;
    phone
        .authenticator
        .enable_biometric(account, PIN.into())
        .map_err(runtime)?;

    let build = if cfg!(debug_assertions) {
        "debug build: figures are NOT representative, use --release"
    } else {
        "release build"
    };
    println!("latchkey bench device ({n} operations per figure, {build})");

    let biometrics = SimulatedBiometrics::new();
    let dir = phone.dir.clone();
    let open = mean_ms(n, || {
        let keystore: Arc<dyn PlatformKeystore> = Arc::new(
            SoftwareKeystore::open(&dir.join("keys"), biometrics.clone()).map_err(runtime)?,
        );
        let reopened = Authenticator::open(
            &dir.join("latchkey.db"),
            keystore,
            Arc::new(latchkey_http_transport::HttpTransport::default()),
            world.clock.clone(),
            AuthenticatorConfig {
                platform: Platform::Desktop,
                app_version: "bench".into(),
            },
        )
        .map_err(runtime)?;
        let accounts = reopened.accounts().map_err(runtime)?;
        if accounts.len() != 10 {
            return Err(runtime(format!(
                "expected 10 accounts, found {}",
                accounts.len()
            )));
        }
        Ok(())
    })?;
    println!("  open the store with 10 accounts (and list them):      {open:>8.2} ms");

    let with_pin = mean_ms(n, || {
        phone
            .authenticator
            .respond_to_challenge(account, "418205", Unlock::pin(PIN))
            .map(drop)
            .map_err(runtime)
    })?;
    println!("  respond_to_challenge with the PIN (PBKDF2 100 000):   {with_pin:>8.2} ms");
    let with_biometric = mean_ms(n, || {
        phone
            .authenticator
            .respond_to_challenge(account, "418205", Unlock::biometric("bench"))
            .map(drop)
            .map_err(runtime)
    })?;
    println!("  respond_to_challenge with the biometric copy:         {with_biometric:>8.2} ms");

    let keys_dir = tempdir_for("keys")?;
    let keystore =
        SoftwareKeystore::open(&keys_dir, SimulatedBiometrics::new()).map_err(runtime)?;
    keystore
        .create_signing_key("bench/device")
        .map_err(runtime)?;
    let suite = LATCHKEY_SUITE.parse().map_err(runtime)?;
    let k_user = SecretBytes::from_slice(&[7; 32]);
    let signer = KeystoreSigner(&keystore);
    let header = DeviceHeader {
        server: world.profile().fingerprint(),
        enrollment: EnrollmentId::from_bytes([1; 16]),
        epoch: 1,
        issued_at: world.now(),
    };
    let approval = mean_ms(n * 10, || {
        let challenge = "418205".parse().map_err(runtime)?;
        let response =
            compute_response(&suite, &k_user, &challenge, world.now()).map_err(runtime)?;
        let message = Approval {
            request: RequestId::from_bytes([2; 16]),
            typed_code: challenge,
            response: response.to_string(),
        };
        sign_device(&header, &message, &signer)
            .map(drop)
            .map_err(runtime)
    })?;
    println!("  build a signed approval (given k_user; ECDSA P-256):  {approval:>8.3} ms");
    let _ = std::fs::remove_dir_all(&keys_dir);
    Ok(())
}

fn tempdir_for(what: &str) -> Result<std::path::PathBuf, CliError> {
    let dir = std::env::temp_dir().join(format!("latchkey-bench-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(runtime)?;
    Ok(dir)
}
