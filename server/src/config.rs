//! The server's configuration: mode, address, data folder, and the deployment
//! numbers of docs/DESIGN.md §5 as settings with the design's defaults.
//!
//! Invariants (checked by [`ServerConfig::check`]): every lifetime, window and
//! count is non-zero; the lockout comes before the disable; production mode does
//! not accept fewer than [`PRODUCTION_PASSWORD_ITERATIONS`] PBKDF2 iterations.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use crate::rules::VoiceMinimums;

/// PBKDF2-HMAC-SHA256 iterations for built-in users' passwords in production
/// (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const PRODUCTION_PASSWORD_ITERATIONS: u32 = 600_000;

/// The largest request body the HTTP API reads: 64 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting that must be positive is zero; the text names it.
    #[error("the setting {0} must be greater than zero")]
    Zero(&'static str),
    /// Two settings contradict each other; the text says how.
    #[error("inconsistent settings: {0}")]
    Inconsistent(&'static str),
    /// Production mode with a weak password hash.
    #[error("production mode needs at least {PRODUCTION_PASSWORD_ITERATIONS} PBKDF2 iterations")]
    WeakPasswordHashing,
    /// A public URL that is not `http(s)://host[:port][/path]`.
    #[error("the public URL must be http:// or https:// with a host, without query or fragment")]
    BadPublicUrl,
}

/// At most `max` events per `window_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// How many events the window allows.
    pub max: u32,
    /// The window's length in seconds.
    pub window_secs: u64,
}

/// The deployment numbers of docs/DESIGN.md §5. Times are whole seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// PIN-bound failures at which the account enters "password reset required" (5).
    pub password_reset_after_failures: u32,
    /// PIN-bound failures at which the enrollment is disabled until replaced (10).
    pub disable_after_failures: u32,
    /// The failure from which attempts are delayed (the 3rd).
    pub first_delayed_failure: u32,
    /// The first delay; each later failure doubles it (30 s).
    pub first_delay_secs: u64,
    /// A login session's lifetime (300 s).
    pub session_secs: u64,
    /// How long a push request can be answered (120 s).
    pub push_answerable_secs: u64,
    /// An activation code's lifetime (600 s).
    pub activation_code_secs: u64,
    /// Wrong tries that burn an activation code (3).
    pub activation_code_tries: u32,
    /// An SMS or voice code's lifetime (300 s).
    pub sms_code_secs: u64,
    /// The hold before a phone move without the old phone takes effect (72 h).
    pub replacement_hold_secs: u64,
    /// Pushes per account since the last success, short window (5 per 10 min).
    pub push_short: RateLimit,
    /// Pushes per account since the last success, long window (20 per 24 h).
    pub push_long: RateLimit,
    /// How long "this wasn't me" stops pushes to the account (24 h).
    pub push_stop_after_denial_secs: u64,
    /// The least time between two new SMS/voice codes for an account (120 s).
    pub sms_resend_after_secs: u64,
    /// SMS/voice sends per account, short window (5 per 15 min).
    pub sms_sends: RateLimit,
    /// SMS/voice sends per account per day (10 per 24 h; docs/DESIGN.md names a daily
    /// cap without a number, this default is the project's choice).
    pub sms_daily: RateLimit,
    /// Consecutive wrong SMS/voice codes per account that suspend those logins (5).
    pub sms_wrong_codes_before_suspension: u32,
    /// How long that suspension lasts (1 h).
    pub sms_suspension_secs: u64,
    /// Suspensions within [`Self::sms_suspension_window_secs`] at which the account
    /// needs a password reset instead of simply waiting again (3): guessing must
    /// not go on at 5 codes an hour for ever.
    pub sms_suspensions_before_reset: u32,
    /// The window those suspensions are counted in (24 h).
    pub sms_suspension_window_secs: u64,
    /// OCRA time steps accepted either side of the server's corrected time (±2).
    pub drift_window_steps: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            password_reset_after_failures: 5,
            disable_after_failures: 10,
            first_delayed_failure: 3,
            first_delay_secs: 30,
            session_secs: 300,
            push_answerable_secs: 120,
            activation_code_secs: 600,
            activation_code_tries: 3,
            sms_code_secs: 300,
            replacement_hold_secs: 72 * 3600,
            push_short: RateLimit {
                max: 5,
                window_secs: 600,
            },
            push_long: RateLimit {
                max: 20,
                window_secs: 24 * 3600,
            },
            push_stop_after_denial_secs: 24 * 3600,
            sms_resend_after_secs: 120,
            sms_sends: RateLimit {
                max: 5,
                window_secs: 900,
            },
            sms_daily: RateLimit {
                max: 10,
                window_secs: 24 * 3600,
            },
            sms_wrong_codes_before_suspension: 5,
            sms_suspension_secs: 3600,
            sms_suspensions_before_reset: 3,
            sms_suspension_window_secs: 24 * 3600,
            drift_window_steps: 2,
        }
    }
}

impl Limits {
    /// The replacement hold in words, as every notice, SMS and page states it
    /// ("72 hours" by default; "90 minutes", "45 seconds" for holds that are not
    /// whole hours or minutes).
    pub fn replacement_hold_words(&self) -> String {
        let secs = self.replacement_hold_secs;
        let (count, unit) = if secs != 0 && secs % 3600 == 0 {
            (secs / 3600, "hour")
        } else if secs != 0 && secs % 60 == 0 {
            (secs / 60, "minute")
        } else {
            (secs, "second")
        };
        let plural = if count == 1 { "" } else { "s" };
        format!("{count} {unit}{plural}")
    }

    /// How long an enrollment with `failures` consecutive PIN-bound failures must
    /// wait before its next attempt: none before the 3rd failure, then 30 s, 60 s,
    /// 120 s… (saturating, never overflowing).
    pub fn failure_delay_secs(&self, failures: u32) -> u64 {
        if failures < self.first_delayed_failure {
            return 0;
        }
        let doublings = failures - self.first_delayed_failure;
        self.first_delay_secs
            .checked_shl(doublings)
            .filter(|delay| delay >> doublings == self.first_delay_secs)
            .unwrap_or(u64::MAX)
    }

    /// Checks that the numbers make sense together.
    pub fn check(&self) -> Result<(), ConfigError> {
        let positive: [(&'static str, u64); 19] = [
            (
                "password_reset_after_failures",
                self.password_reset_after_failures.into(),
            ),
            ("disable_after_failures", self.disable_after_failures.into()),
            ("first_delayed_failure", self.first_delayed_failure.into()),
            ("first_delay_secs", self.first_delay_secs),
            ("session_secs", self.session_secs),
            ("push_answerable_secs", self.push_answerable_secs),
            ("activation_code_secs", self.activation_code_secs),
            ("activation_code_tries", self.activation_code_tries.into()),
            ("sms_code_secs", self.sms_code_secs),
            ("replacement_hold_secs", self.replacement_hold_secs),
            ("push_short", self.push_short.max.into()),
            ("push_long", self.push_long.max.into()),
            ("sms_sends", self.sms_sends.max.into()),
            ("sms_daily", self.sms_daily.max.into()),
            (
                "sms_wrong_codes_before_suspension",
                self.sms_wrong_codes_before_suspension.into(),
            ),
            ("sms_suspension_secs", self.sms_suspension_secs),
            (
                "sms_suspensions_before_reset",
                self.sms_suspensions_before_reset.into(),
            ),
            (
                "sms_suspension_window_secs",
                self.sms_suspension_window_secs,
            ),
            ("sms_resend_after_secs", self.sms_resend_after_secs),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError::Zero(name));
        }
        for limit in [
            self.push_short,
            self.push_long,
            self.sms_sends,
            self.sms_daily,
        ] {
            if limit.window_secs == 0 {
                return Err(ConfigError::Zero("rate limit window_secs"));
            }
        }
        if self.password_reset_after_failures >= self.disable_after_failures {
            return Err(ConfigError::Inconsistent(
                "the password reset must come before the disable",
            ));
        }
        if self.push_answerable_secs > self.session_secs {
            return Err(ConfigError::Inconsistent(
                "a push cannot stay answerable longer than its session",
            ));
        }
        Ok(())
    }
}

/// The HTTP server's connection cap and timeouts (docs/PROTOCOL.md §7,
/// "Connections"): what keeps idle, slow or abandoned connections from holding
/// the server's file descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The most connections served at once (512). At the cap the server stops
    /// accepting until one ends; the timeouts below make sure one does.
    pub max_connections: u32,
    /// How long a connection may wait, without sending a byte, for its first
    /// request or the next one after a response (60 s).
    pub idle_timeout: Duration,
    /// How long a request's head (request line and headers) may take from its
    /// first byte (10 s): a slowly trickled head is cut off.
    pub header_read_timeout: Duration,
    /// How long a request's body may take to arrive after its head (10 s); a late
    /// body is answered `408 body_timeout`.
    pub body_read_timeout: Duration,
    /// How long writing an answer may stall because the client does not read it
    /// (60 s).
    pub write_stall_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            idle_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            write_stall_timeout: Duration::from_secs(60),
        }
    }
}

impl ConnectionLimits {
    /// Checks that every number is positive.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::Zero("max_connections"));
        }
        for (name, value) in [
            ("idle_timeout", self.idle_timeout),
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("write_stall_timeout", self.write_stall_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::Zero(name));
            }
        }
        Ok(())
    }
}

/// Growing delays after consecutive wrong passwords for one key (a username, or
/// a client address): the first `free_failures` cost nothing; from then on the
/// next check waits `first_delay_secs` after the last failure, doubling with each
/// further failure up to `max_delay_secs`. A key without a failure for
/// `forget_after_secs` starts again from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptDelays {
    /// Consecutive failures allowed without a delay.
    pub free_failures: u32,
    /// The first delay, in seconds.
    pub first_delay_secs: u64,
    /// The longest delay, in seconds.
    pub max_delay_secs: u64,
    /// Seconds without a failure after which the key's failures are forgotten.
    pub forget_after_secs: u64,
}

impl AttemptDelays {
    /// The delay after `failures` consecutive failures: none below
    /// `free_failures`, then `first_delay_secs` doubling, never above
    /// `max_delay_secs` (saturating, never overflowing).
    pub fn delay_secs(&self, failures: u32) -> u64 {
        if failures < self.free_failures {
            return 0;
        }
        let doublings = failures - self.free_failures;
        self.first_delay_secs
            .checked_shl(doublings)
            .filter(|delay| delay >> doublings == self.first_delay_secs)
            .unwrap_or(u64::MAX)
            .min(self.max_delay_secs)
    }
}

/// Limits on password checks at the reference login (`/v1/login/*`;
/// docs/PROTOCOL.md §7, "Password attempts").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordAttemptLimits {
    /// Per username (known or not): 5 free failures, then 30 s doubling to 15 min;
    /// forgotten after 24 h without a failure; a right password clears it.
    pub per_username: AttemptDelays,
    /// Per client address (an IPv6 client by its /64): 20 free failures, then
    /// 30 s doubling to 15 min; forgotten after 1 h without a failure.
    pub per_client: AttemptDelays,
    /// Password hashes computed at once (4); a check beyond them is answered
    /// `503 busy` at once instead of queueing.
    pub max_concurrent_checks: u32,
    /// The most usernames and addresses remembered each (100 000); beyond it the
    /// one whose last failure is oldest is forgotten.
    pub max_tracked: usize,
}

impl Default for PasswordAttemptLimits {
    fn default() -> Self {
        Self {
            per_username: AttemptDelays {
                free_failures: 5,
                first_delay_secs: 30,
                max_delay_secs: 900,
                forget_after_secs: 24 * 3600,
            },
            per_client: AttemptDelays {
                free_failures: 20,
                first_delay_secs: 30,
                max_delay_secs: 900,
                forget_after_secs: 3600,
            },
            max_concurrent_checks: 4,
            max_tracked: 100_000,
        }
    }
}

impl PasswordAttemptLimits {
    /// Checks that every number is positive and the delays are ordered.
    pub fn check(&self) -> Result<(), ConfigError> {
        for delays in [self.per_username, self.per_client] {
            if delays.first_delay_secs == 0 || delays.forget_after_secs == 0 {
                return Err(ConfigError::Zero("password attempt delays"));
            }
            if delays.max_delay_secs < delays.first_delay_secs {
                return Err(ConfigError::Inconsistent(
                    "the longest password delay is shorter than the first",
                ));
            }
        }
        if self.max_concurrent_checks == 0 {
            return Err(ConfigError::Zero("max_concurrent_checks"));
        }
        if self.max_tracked == 0 {
            return Err(ConfigError::Zero("max_tracked"));
        }
        Ok(())
    }
}

/// Everything `latchkey serve` needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Development mode: the outbox's read endpoint is on and software-keystore
    /// phones are accepted. Production (the default) refuses both.
    pub dev: bool,
    /// The address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The data folder: key file, integrator token, server profile, and the
    /// SQLite database unless `database` names a PostgreSQL one.
    pub data_dir: PathBuf,
    /// The PostgreSQL database to keep state in (several nodes may share it);
    /// `None`, the default, keeps it in SQLite in the data folder.
    pub database: Option<crate::store::PostgresUrl>,
    /// The base URL apps reach the server at (for the server profile); `None`
    /// uses `http://` and the bound address.
    pub public_url: Option<String>,
    /// PBKDF2 iterations for new built-in user passwords.
    pub password_iterations: NonZeroU32,
    /// The largest request body read, in bytes.
    pub max_body_bytes: usize,
    /// The deployment numbers of docs/DESIGN.md §5.
    pub limits: Limits,
    /// The least client version offered voice callback, by the client name the
    /// login screen states (docs/DESIGN.md §1.5: clients too old for voice are told
    /// so). A client not listed has no minimum.
    pub voice_min_client_versions: VoiceMinimums,
    /// The HTTP server's connection cap and timeouts.
    pub connections: ConnectionLimits,
    /// Limits on password checks at the reference login.
    pub password_attempts: PasswordAttemptLimits,
    /// Where messages go.
    pub delivery: Delivery,
}

/// Where the server's messages (push, SMS, voice, e-mail) go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Delivery {
    /// Recorded in the outbox only, nothing sent: the library's default, for
    /// tests and embedding (the demo, `latchkey serve --dev` without a delivery
    /// file).
    #[default]
    Outbox,
    /// Through the providers a delivery file names (`latchkey serve --config`;
    /// see `crate::delivery`). In production every channel the offered second
    /// factors need must have one, or the start is refused.
    Providers(Box<crate::delivery::config::DeliveryConfig>),
}

/// The default minimum versions for voice callback: the trading desktop app
/// from 10.30 (as IB's offers voice only in its latest and beta builds), the
/// web portal from 1.0.
pub const DEFAULT_VOICE_MINIMUMS: [(&str, &str); 2] =
    [("Trader Workstation", "10.30"), ("Client Portal", "1.0")];

impl ServerConfig {
    /// A production configuration with the design's defaults.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Self {
            dev: false,
            listen,
            data_dir: data_dir.into(),
            database: None,
            public_url: None,
            password_iterations: NonZeroU32::new(PRODUCTION_PASSWORD_ITERATIONS)
                .unwrap_or(NonZeroU32::MIN),
            max_body_bytes: MAX_BODY_BYTES,
            limits: Limits::default(),
            voice_min_client_versions: VoiceMinimums::new(DEFAULT_VOICE_MINIMUMS)
                .unwrap_or_default(),
            connections: ConnectionLimits::default(),
            password_attempts: PasswordAttemptLimits::default(),
            delivery: Delivery::Outbox,
        }
    }

    /// The server's mode as the health endpoint names it.
    pub fn mode_name(&self) -> &'static str {
        if self.dev {
            "development"
        } else {
            "production"
        }
    }

    /// Checks the configuration as a whole.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.limits.check()?;
        self.connections.check()?;
        self.password_attempts.check()?;
        if !self.dev && self.password_iterations.get() < PRODUCTION_PASSWORD_ITERATIONS {
            return Err(ConfigError::WeakPasswordHashing);
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::Zero("max_body_bytes"));
        }
        if let Some(url) = &self.public_url {
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .ok_or(ConfigError::BadPublicUrl)?;
            if rest.split('/').next().unwrap_or("").is_empty() || url.contains(['?', '#', ' ']) {
                return Err(ConfigError::BadPublicUrl);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ServerConfig {
        ServerConfig::new("/tmp/x", "127.0.0.1:0".parse().unwrap())
    }

    #[test]
    fn defaults_are_the_numbers_of_the_design() {
        let l = Limits::default();
        assert_eq!(
            (l.password_reset_after_failures, l.disable_after_failures),
            (5, 10)
        );
        assert_eq!((l.session_secs, l.push_answerable_secs), (300, 120));
        assert_eq!((l.activation_code_secs, l.activation_code_tries), (600, 3));
        assert_eq!(l.sms_code_secs, 300);
        assert_eq!(l.replacement_hold_secs, 259_200);
        assert_eq!(l.replacement_hold_words(), "72 hours");
        for (secs, words) in [(3600, "1 hour"), (5400, "90 minutes"), (45, "45 seconds")] {
            let limits = Limits {
                replacement_hold_secs: secs,
                ..Limits::default()
            };
            assert_eq!(limits.replacement_hold_words(), words);
        }
        assert_eq!(
            (l.push_short, l.push_long),
            (
                RateLimit {
                    max: 5,
                    window_secs: 600
                },
                RateLimit {
                    max: 20,
                    window_secs: 86_400
                }
            )
        );
        assert_eq!(l.sms_resend_after_secs, 120);
        assert_eq!(
            l.sms_sends,
            RateLimit {
                max: 5,
                window_secs: 900
            }
        );
        assert_eq!(l.sms_daily.window_secs, 86_400);
        assert_eq!(
            (l.sms_wrong_codes_before_suspension, l.sms_suspension_secs),
            (5, 3600)
        );
        assert_eq!(
            (l.sms_suspensions_before_reset, l.sms_suspension_window_secs),
            (3, 86_400)
        );
        assert_eq!(l.drift_window_steps, 2);
        let c = config();
        assert!(!c.dev);
        assert_eq!(c.mode_name(), "production");
        assert_eq!(c.password_iterations.get(), 600_000);
        assert_eq!(c.max_body_bytes, 65_536);
        assert_eq!(
            c.voice_min_client_versions
                .rows()
                .map(|(name, v)| format!("{name} {v}"))
                .collect::<Vec<_>>(),
            ["Client Portal 1.0", "Trader Workstation 10.30"]
        );
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn delays_start_at_the_third_failure_and_double_from_thirty_seconds() {
        let l = Limits::default();
        let delays: Vec<u64> = (0..=6).map(|n| l.failure_delay_secs(n)).collect();
        assert_eq!(delays, [0, 0, 0, 30, 60, 120, 240]);
        assert_eq!(l.failure_delay_secs(u32::MAX), u64::MAX);
        // 30 · 2^59 still fits in 64 bits; 30 · 2^60 does not.
        assert_eq!(l.failure_delay_secs(3 + 59), 30 << 59);
        assert_eq!(l.failure_delay_secs(3 + 60), u64::MAX);
    }

    #[test]
    fn password_delays_start_after_the_free_failures_double_and_stop_at_the_maximum() {
        let limits = PasswordAttemptLimits::default();
        let user = limits.per_username;
        let delays: Vec<u64> = (0..=11).map(|n| user.delay_secs(n)).collect();
        assert_eq!(delays, [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]);
        assert_eq!(user.delay_secs(u32::MAX), 900);
        assert_eq!(limits.per_client.delay_secs(19), 0);
        assert_eq!(limits.per_client.delay_secs(20), 30);
        assert_eq!(limits.max_concurrent_checks, 4);
        let connections = ConnectionLimits::default();
        assert_eq!(connections.max_connections, 512);
        assert_eq!(connections.header_read_timeout, Duration::from_secs(10));
        let mut c = config();
        c.connections.idle_timeout = Duration::ZERO;
        assert_eq!(c.check(), Err(ConfigError::Zero("idle_timeout")));
        c.connections = ConnectionLimits::default();
        c.password_attempts.max_concurrent_checks = 0;
        assert_eq!(c.check(), Err(ConfigError::Zero("max_concurrent_checks")));
    }

    #[test]
    fn inconsistent_or_weak_settings_are_refused() {
        let mut c = config();
        c.password_iterations = NonZeroU32::new(1_000).unwrap();
        assert_eq!(c.check(), Err(ConfigError::WeakPasswordHashing));
        c.dev = true;
        assert_eq!(c.check(), Ok(()));
        c.limits.disable_after_failures = 5;
        assert!(matches!(c.check(), Err(ConfigError::Inconsistent(_))));
        c.limits = Limits::default();
        c.limits.session_secs = 0;
        assert_eq!(c.check(), Err(ConfigError::Zero("session_secs")));
        c.limits = Limits::default();
        c.limits.sms_daily.window_secs = 0;
        assert!(matches!(c.check(), Err(ConfigError::Zero(_))));
        c.limits = Limits::default();
        c.public_url = Some("ftp://x".into());
        assert_eq!(c.check(), Err(ConfigError::BadPublicUrl));
        c.public_url = Some("https://auth.example/latchkey".into());
        assert_eq!(c.check(), Ok(()));
    }
}
