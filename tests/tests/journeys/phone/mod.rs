//! The phone's flows (`latchkey_core::device::Authenticator`) against the REAL
//! verifier: the tests that core ran against a hand-made fake server until issue 17,
//! ported here because core cannot depend on the server (ARCHITECTURE.md "Test
//! support"). Each test drives one phone — the real core, the software keystore,
//! its own manual clock — whose transport is core's `ScriptedTransport` (feature
//! `testing`, a dev-dependency only) in front of HTTP to the embedded server on
//! 127.0.0.1: a test can queue a forged answer or a network failure ahead of the
//! server, and read what the phone sent.

mod activation;
mod authenticator;
mod diagnose;
mod login;
mod pin;
mod sync;

use latchkey_core::clock::{Clock, ManualClock};
use latchkey_core::device::{
    AccountId, ActivationOutcome, Authenticator, AuthenticatorConfig, PlatformKeystore,
    ScriptedTransport, SimulatedBiometrics, SoftwareKeystore, Transport, TransportError,
};
use latchkey_core::protocol::{EnrollmentId, Platform};
use latchkey_core::secret::SecretBytes;
use latchkey_http_transport::HttpTransport;
use latchkey_journeys::World;
use latchkey_journeys::scratch::ScratchDir;
use latchkey_server::store::StoreExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The PIN every test phone is activated with.
pub const PIN: &str = "402917";

/// A phone on the real server, with its own clock (tests move it apart from the
/// server's).
pub struct TestPhone {
    /// Its folder (`device.db`, `keys/`); removed on drop.
    pub dir: ScratchDir,
    /// The phone's clock, starting at the server's time.
    pub clock: Arc<ManualClock>,
    /// What the phone sent; forged answers and failures queue here.
    pub transport: ScriptedTransport,
    /// Its software keystore.
    pub keystore: Arc<SoftwareKeystore>,
    /// Its simulated fingerprint sensor.
    pub biometrics: SimulatedBiometrics,
    /// While set, every request the server would answer finds the phone offline
    /// (queued answers still come first).
    pub offline: Arc<AtomicBool>,
    /// The core.
    pub authenticator: Authenticator,
}

impl TestPhone {
    /// A fresh phone talking to `world`'s server.
    pub fn on(world: &World) -> Self {
        let dir = ScratchDir::new().unwrap();
        let clock = Arc::new(ManualClock::new(world.now()));
        let biometrics = SimulatedBiometrics::new();
        let keystore =
            Arc::new(SoftwareKeystore::open(&dir.path().join("keys"), biometrics.clone()).unwrap());
        let http = HttpTransport::default();
        let offline = Arc::new(AtomicBool::new(false));
        let switch = offline.clone();
        let transport = ScriptedTransport::with_handler(move |request| {
            if switch.load(Ordering::SeqCst) {
                return Err(TransportError::Offline);
            }
            http.send(request.clone())
        });
        let shared: Arc<dyn Transport> = Arc::new(transport.clone());
        let keystore_dyn: Arc<dyn PlatformKeystore> = keystore.clone();
        let clock_dyn: Arc<dyn Clock> = clock.clone();
        let authenticator = Authenticator::open(
            &dir.path().join("device.db"),
            keystore_dyn,
            shared,
            clock_dyn,
            AuthenticatorConfig {
                platform: Platform::Android,
                app_version: "1.0.0".to_owned(),
            },
        )
        .unwrap();
        Self {
            dir,
            clock,
            transport,
            keystore,
            biometrics,
            offline,
            authenticator,
        }
    }

    /// Activates `account` (created on first use) with [`PIN`].
    pub fn activated(&self, world: &World, account: &str) -> AccountId {
        let (ticket, code) = start_activation(world, account, None);
        match self
            .authenticator
            .activate(
                &world.profile(),
                &ticket,
                &code,
                PIN.to_owned(),
                PIN.to_owned(),
                "Anna's Pixel",
                Some("push-token-1".to_owned()),
            )
            .unwrap()
        {
            ActivationOutcome::Active(summary) => summary.id,
            other => panic!("{other:?}"),
        }
    }

    /// The account's enrollment id.
    pub fn enrollment_of(&self, account: AccountId) -> EnrollmentId {
        self.authenticator.account(account).unwrap().enrollment_id
    }

    /// The number of files in the phone's keystore folder.
    pub fn key_files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("keys"))
            .unwrap()
            .count()
    }

    /// The phone's database file and its WAL.
    pub fn database(&self) -> (Vec<u8>, Vec<u8>) {
        let read = |name: &str| std::fs::read(self.dir.path().join(name)).unwrap_or_default();
        (read("device.db"), read("device.db-wal"))
    }
}

/// A fresh server (development mode, its clock at the demo start).
pub fn world() -> World {
    World::start().unwrap()
}

/// Starts an activation for `account` (a built-in user, created on first use)
/// through the integrator API: the signed ticket's JSON and the SMS code.
/// `replace` is `approve_on_old_phone` or `lost_phone` when it has a phone.
pub fn start_activation(world: &World, account: &str, replace: Option<&str>) -> (String, String) {
    if world.user(account).unwrap()["username"].is_null() {
        world.add_user(account, "US", "sms").unwrap();
    }
    let ticket = world.start_activation(account, replace).unwrap();
    let code = world.last_activation_code().unwrap();
    (ticket, code)
}

/// The `k_user` the server holds for an enrollment, unwrapped with its keys (the
/// AAD is the verifier's: `latchkey/v1/k_user` ‖ enrollment id).
pub fn server_k_user(world: &World, enrollment: &EnrollmentId) -> SecretBytes {
    let state = world.server().state();
    let record = state
        .store
        .in_transaction(|tx| tx.enrollment(enrollment))
        .unwrap()
        .unwrap();
    let aad = [b"latchkey/v1/k_user".as_slice(), enrollment.as_bytes()].concat();
    state.keys.unwrap(&record.k_user_wrapped, &aad).unwrap()
}

/// The host part of the world's URL, as account labels show it.
pub fn host(world: &World) -> String {
    let url = world.base_url();
    let rest = url.split("://").nth(1).unwrap_or(&url).to_owned();
    rest.split('/').next().unwrap_or(&rest).to_owned()
}

/// Whether `haystack` holds `needle` anywhere.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A server message signed by `world`'s server key, valid `ttl` seconds from the
/// server's now (tests forge answers and notices with it, or with another world's
/// key as an impostor).
pub fn sign_by<M: latchkey_core::protocol::Message>(
    world: &World,
    enrollment: EnrollmentId,
    epoch: u64,
    ttl: u64,
    message: &M,
) -> latchkey_core::protocol::Signed {
    sign_naming(world, world, enrollment, epoch, ttl, message)
}

/// [`sign_by`] with `signer`'s key, the header naming `named`'s server (a
/// forgery when the two differ).
pub fn sign_naming<M: latchkey_core::protocol::Message>(
    signer: &World,
    named: &World,
    enrollment: EnrollmentId,
    epoch: u64,
    ttl: u64,
    message: &M,
) -> latchkey_core::protocol::Signed {
    let world = signer;
    let now = world.now();
    let header = latchkey_core::protocol::ServerHeader {
        server: named.profile().fingerprint(),
        enrollment,
        epoch,
        issued_at: now,
        expires_at: now + ttl,
    };
    let body = latchkey_core::protocol::envelope::server_body(&header, message);
    let signature = world.server().state().keys.sign(&body).unwrap();
    latchkey_core::protocol::Signed::from_parts(body, signature).unwrap()
}

/// Changes an enrollment as the verifier keeps it (one store transaction).
pub fn update_enrollment(
    world: &World,
    enrollment: &EnrollmentId,
    change: impl Fn(&mut latchkey_server::store::Enrollment),
) {
    world
        .server()
        .state()
        .store
        .in_transaction(|tx| {
            let mut record = tx.enrollment(enrollment)?.expect("the enrollment exists");
            change(&mut record);
            tx.put_enrollment(&record)
        })
        .unwrap();
}

/// Sets or clears the account's "password reset required" (as five PIN-bound
/// failures, or the integrator, would).
pub fn require_password_reset(world: &World, account: &str, required: bool) {
    let username: latchkey_server::users::Username = account.parse().unwrap();
    world
        .server()
        .state()
        .store
        .in_transaction(|tx| {
            let mut user = tx.user(&username)?.expect("the user exists");
            user.password_reset_required = required;
            tx.update_user(&user)
        })
        .unwrap();
}

/// Queues a signed notice for an enrollment on the verifier (delivered with the
/// next sync answer, for 30 days).
pub fn queue_notice(
    world: &World,
    enrollment: EnrollmentId,
    notice: latchkey_core::protocol::Signed,
) {
    let expires_at = world.now() + 30 * 86_400;
    world
        .server()
        .state()
        .store
        .in_transaction(|tx| {
            tx.add_notice(&latchkey_server::store::NoticeRecord {
                enrollment,
                notice: notice.clone(),
                expires_at,
            })
        })
        .unwrap();
}

/// A `Revoked` notice for `enrollment` at `epoch`, signed by `world`'s server key,
/// naming the phone that replaced it.
pub fn revoked_notice(
    world: &World,
    enrollment: EnrollmentId,
    epoch: u64,
    by: Option<&str>,
) -> latchkey_core::protocol::Signed {
    sign_by(
        world,
        enrollment,
        epoch,
        30 * 86_400,
        &latchkey_core::protocol::Notice {
            kind: latchkey_core::protocol::NoticeKind::Revoked,
            text: "This phone is no longer the account's authenticator".to_owned(),
            new_phone: by.map(str::to_owned),
            effective_at: Some(world.now()),
            replacement: None,
        },
    )
}

/// Opens a login session for `account` on the login screen (app "Client
/// Portal"): the push's request handle the phone receives and the 6-digit code
/// the screen shows.
pub fn open_login(world: &World, account: &str) -> (String, String) {
    let (_, challenge, _) = world.open_session(account, "Client Portal").unwrap();
    let push = world.last_login_push().unwrap();
    (push["request"].clone(), challenge)
}

/// The kinds of the verifier's audit events so far, oldest first.
pub fn audit_kinds(world: &World) -> Vec<latchkey_server::store::AuditKind> {
    world
        .server()
        .state()
        .store
        .in_transaction(|tx| tx.audit_after(0, 10_000))
        .unwrap()
        .into_iter()
        .map(|row| row.event.kind)
        .collect()
}
