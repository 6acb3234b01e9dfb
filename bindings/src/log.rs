//! The log bridge: core's `tracing` events, forwarded to a [`LogSink`] the app
//! implements (Logcat on Android, `os_log` on iOS).
//!
//! Invariants: what reaches the sink is what core logs — ids, paths, statuses
//! and error texts, never a secret (core's rule: no PIN, key, code, response or
//! body in any event); events below the sink's level are not formatted; an event
//! raised while the sink is running on the same thread (a sink that logs through
//! a path leading back here) is dropped rather than recursing; a sink that throws
//! loses that record and nothing else.

use crate::error::LogSinkError;
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::{Arc, Once, RwLock};
use tracing::field::{Field, Visit};
use tracing::span;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// How important a log record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, uniffi::Enum)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something unexpected that the library handled.
    Warn,
    /// A step of a flow (request sent, account wiped…).
    Info,
    /// Detail for debugging (answer statuses and lengths).
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    fn of(level: &Level) -> Self {
        match *level {
            Level::ERROR => Self::Error,
            Level::WARN => Self::Warn,
            Level::INFO => Self::Info,
            Level::DEBUG => Self::Debug,
            Level::TRACE => Self::Trace,
        }
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    /// How important it is.
    pub level: LogLevel,
    /// Where it comes from (a Rust module path, `latchkey_core::device::…`);
    /// a Logcat tag can be derived from it.
    pub target: String,
    /// The message, followed by its fields as `key=value`.
    pub message: String,
}

/// Where the library's log records go; implemented by the app (Logcat,
/// `os_log`). Records hold no secrets.
///
/// `log` is called on whatever thread the library is running on, possibly
/// while the library holds a lock: return quickly, never call back into the
/// `Authenticator`, and do not block on the main thread.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    /// Takes one record. Throwing drops the record, nothing more.
    fn log(&self, record: LogRecord) -> Result<(), LogSinkError>;
}

struct Installed {
    sink: Arc<dyn LogSink>,
    max_level: LogLevel,
}

static SINK: RwLock<Option<Installed>> = RwLock::new(None);
static INSTALL: Once = Once::new();

thread_local! {
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Sends the library's log records at `max_level` and above to `sink`,
/// replacing any sink set before. Call once at app start (it is cheap to call
/// again, e.g. to change the level).
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, max_level: LogLevel) {
    *SINK
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Installed { sink, max_level });
    INSTALL.call_once(|| {
        // Fails only if the process already has a global `tracing` subscriber
        // (another Rust library that set one): then that one gets the events.
        let _ = tracing::subscriber::set_global_default(SinkSubscriber);
    });
}

/// Stops sending log records (the sink set before is released).
#[uniffi::export]
pub fn clear_log_sink() {
    *SINK
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
}

/// The `tracing` subscriber that forwards events to the installed sink.
pub(crate) struct SinkSubscriber;

impl SinkSubscriber {
    fn accepts(level: &Level) -> bool {
        SINK.read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_some_and(|installed| LogLevel::of(level) <= installed.max_level)
    }
}

impl Subscriber for SinkSubscriber {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The sink and its level can change at any time: ask on every event.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && Self::accepts(metadata.level()) && !IN_SINK.with(Cell::get)
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        // Spans are not forwarded; every span gets the same id.
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        if IN_SINK.with(|busy| busy.replace(true)) {
            return;
        }
        let sink = SINK
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .map(|installed| installed.sink.clone());
        if let Some(sink) = sink {
            let metadata = event.metadata();
            let mut text = Fields::default();
            event.record(&mut text);
            // A sink that throws loses this record; there is nowhere else to report it.
            let _ = sink.log(LogRecord {
                level: LogLevel::of(metadata.level()),
                target: metadata.target().to_owned(),
                message: text.finish(),
            });
        }
        IN_SINK.with(|busy| busy.set(false));
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// An event's message and its other fields as `key=value`.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Fields {
    fn finish(self) -> String {
        match (self.message.is_empty(), self.rest.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.rest,
            (false, false) => format!("{} {}", self.message, self.rest),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.rest.is_empty() {
                self.rest.push(' ');
            }
            let _ = write!(self.rest, "{}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<LogRecord>>);

    impl LogSink for Recorder {
        fn log(&self, record: LogRecord) -> Result<(), LogSinkError> {
            self.0.lock().unwrap().push(record);
            Ok(())
        }
    }

    struct Throwing;

    impl LogSink for Throwing {
        fn log(&self, _: LogRecord) -> Result<(), LogSinkError> {
            Err(uniffi::UnexpectedUniFFICallbackError::new("java.lang.RuntimeException").into())
        }
    }

    /// The sink is process-global: the tests that set it run one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn events_reach_the_sink_with_their_fields_at_its_level_and_above() {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let recorder = Arc::new(Recorder::default());
        set_log_sink(recorder.clone(), LogLevel::Info);
        tracing::subscriber::with_default(SinkSubscriber, || {
            tracing::info!(account = 3, path = "/v1/phone/sync", "request");
            tracing::debug!("not at this level");
            tracing::warn!(status = 503_u16, "server refused");
        });
        clear_log_sink();
        tracing::subscriber::with_default(SinkSubscriber, || tracing::error!("after clearing"));
        // Other tests' threads may log through the global subscriber meanwhile:
        // look at this test's records only.
        let records: Vec<LogRecord> = recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|record| record.target == module_path!())
            .cloned()
            .collect();
        assert_eq!(
            records,
            [
                LogRecord {
                    level: LogLevel::Info,
                    target: module_path!().to_owned(),
                    message: "request account=3 path=/v1/phone/sync".to_owned(),
                },
                LogRecord {
                    level: LogLevel::Warn,
                    target: module_path!().to_owned(),
                    message: "server refused status=503".to_owned(),
                },
            ]
        );
    }

    #[test]
    fn a_sink_that_throws_loses_the_record_and_nothing_else() {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        set_log_sink(Arc::new(Throwing), LogLevel::Trace);
        tracing::subscriber::with_default(SinkSubscriber, || {
            tracing::error!("dropped");
            tracing::info!("dropped too");
        });
        clear_log_sink();
    }
}
