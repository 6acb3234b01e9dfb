//! One fixture for the ceremony and fallback tests: a server (development or
//! production mode, on SQLite or on a PostgreSQL database of its own) in a data
//! folder of its own, and the steps most tests begin with — a user, an active
//! phone, a login session — as methods.
//!
//! A [`Fixture`] dereferences to the [`Running`] server, so `fx.state`,
//! `fx.clock`, `fx.post(…)` and functions taking `&Running` work on it; it owns
//! the data folder, so the integrator token and the database files stay
//! readable for as long as the test holds it.

use super::ceremonies::{
    TestPhone, activate_phone, activated, add_user, integrator_post, open_session, session_status,
    start_activation,
};
use super::fallbacks::{add_sms_user, open_sms, submit, try_open, user_view};
use super::{Answer, Running, TestStore, start_on, token_in};
use serde_json::Value;
use std::path::Path;

/// A running server with its data folder.
pub(super) struct Fixture {
    store: TestStore,
    dev: bool,
    /// The server (see [`Fixture::restart`]).
    pub(super) server: Running,
    /// The data folder (dropped last: the server reads it until stopped).
    dir: tempfile::TempDir,
}

impl std::ops::Deref for Fixture {
    type Target = Running;

    fn deref(&self) -> &Running {
        &self.server
    }
}

impl Fixture {
    /// A development server on SQLite.
    pub(super) fn new() -> Self {
        Self::start(&TestStore::sqlite(), true)
    }

    /// A production server on SQLite.
    pub(super) fn production() -> Self {
        Self::start(&TestStore::sqlite(), false)
    }

    /// A development server on `store`.
    pub(super) fn on(store: &TestStore) -> Self {
        Self::start(store, true)
    }

    /// A production server on `store`.
    pub(super) fn production_on(store: &TestStore) -> Self {
        Self::start(store, false)
    }

    /// A development server on SQLite where `username` (a US account) has an
    /// active phone.
    pub(super) fn with_active_phone(username: &str) -> (Self, TestPhone) {
        let fx = Self::new();
        let phone = fx.active_phone(username);
        (fx, phone)
    }

    fn start(store: &TestStore, dev: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = start_on(store, dir.path(), dev);
        Self {
            store: store.clone(),
            dev,
            server,
            dir,
        }
    }

    /// The data folder.
    pub(super) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The integrator token the server wrote into its data folder.
    pub(super) fn token(&self) -> String {
        token_in(self.path())
    }

    /// Stops the server and starts it again on the same data and store (with a
    /// fresh clock at `T0`, as a restarted process has).
    pub(super) fn restarted(self) -> Self {
        let Self {
            store,
            dev,
            server,
            dir,
        } = self;
        server.stop();
        let server = start_on(&store, dir.path(), dev);
        Self {
            store,
            dev,
            server,
            dir,
        }
    }

    /// Stops the server gracefully.
    pub(super) fn stop(self) {
        self.server.stop();
    }

    // -----------------------------------------------------------------------
    // Users and phones

    /// Adds a user whose second factor is the phone.
    pub(super) fn add_user(&self, username: &str, jurisdiction: &str) {
        add_user(&self.server, self.path(), username, jurisdiction);
    }

    /// Adds a user whose second factor is SMS.
    pub(super) fn add_sms_user(&self, username: &str) {
        add_sms_user(&self.server, self.path(), username);
    }

    /// Adds `username` (a US account) and activates a phone for it.
    pub(super) fn active_phone(&self, username: &str) -> TestPhone {
        self.activated(username, "US")
    }

    /// Adds `username` in `jurisdiction` and activates a phone for it.
    pub(super) fn activated(&self, username: &str, jurisdiction: &str) -> TestPhone {
        activated(&self.server, self.path(), username, jurisdiction)
    }

    /// Activates a phone for an existing user.
    pub(super) fn activate_phone(&self, username: &str) -> TestPhone {
        activate_phone(&self.server, self.path(), username)
    }

    /// Starts an activation (`replace`: the replacement mode, if any); any status.
    pub(super) fn start_activation(&self, username: &str, replace: Option<&str>) -> Answer {
        start_activation(&self.server, self.path(), username, replace)
    }

    /// The integrator's view of a user.
    pub(super) fn user_view(&self, username: &str) -> Value {
        user_view(&self.server, self.path(), username)
    }

    // -----------------------------------------------------------------------
    // The integrator API

    /// An authenticated integrator POST; any status.
    pub(super) fn integrator_post(&self, path: &str, body: Value) -> Answer {
        integrator_post(&self.server, self.path(), path, body)
    }

    /// Opens a login session from the web portal (must be created).
    pub(super) fn open_session(&self, username: &str) -> Answer {
        open_session(&self.server, self.path(), username)
    }

    /// A session's status.
    pub(super) fn session_status(&self, session: &Value) -> String {
        session_status(&self.server, self.path(), session)
    }

    /// Opens a session as the named client; any status.
    pub(super) fn try_open(&self, username: &str, client: &str, version: Option<&str>) -> Answer {
        try_open(&self.server, self.path(), username, client, version)
    }

    /// Opens an SMS session as "latchkey login".
    pub(super) fn open_sms(&self, username: &str) -> Answer {
        open_sms(&self.server, self.path(), username)
    }

    /// Submits a typed SMS or voice code; any status.
    pub(super) fn submit(&self, session: &str, code: &str) -> Answer {
        submit(&self.server, self.path(), session, code)
    }
}
