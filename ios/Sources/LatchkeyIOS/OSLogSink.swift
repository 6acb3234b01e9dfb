import Foundation
import LatchkeyFFI
import os

/// The library's `LogSink` on the unified logging system (`os.Logger`, subsystem
/// `dev.latchkey`, category "core"): `setLogSink(sink: OSLogSink(), maxLevel: .info)` at app
/// start.
///
/// Records carry ids, paths, statuses and error texts, never a PIN, key, code, response or
/// body (the library's rule). Their text is still logged as private unless `publicMessages`
/// (a debug build): on a customer's device, ids stay out of sysdiagnose logs. `log` is called
/// on library threads, possibly under a lock: it returns at once and never calls the
/// `Authenticator`.
public final class OSLogSink: LogSink, @unchecked Sendable {
    // @unchecked: the state is immutable and `Logger` is thread-safe, but not every SDK
    // declares it Sendable.
    private let logger: Logger
    private let publicMessages: Bool

    public init(subsystem: String = "dev.latchkey", category: String = "core", publicMessages: Bool = false) {
        self.logger = Logger(subsystem: subsystem, category: category)
        self.publicMessages = publicMessages
    }

    public func log(record: LogRecord) throws {
        let type = Self.type(of: record.level)
        // The privacy of an interpolation must be a constant: one call per choice.
        if publicMessages {
            logger.log(level: type, "\(record.target, privacy: .public): \(record.message, privacy: .public)")
        } else {
            logger.log(level: type, "\(record.target, privacy: .public): \(record.message, privacy: .private)")
        }
    }

    static func type(of level: LogLevel) -> OSLogType {
        switch level {
        case .error: return .error
        case .warn: return .default
        case .info: return .info
        case .debug, .trace: return .debug
        }
    }
}
