import Foundation
import LatchkeyFFI

/// The push-approval flow as a UI-agnostic state machine: review what is being approved,
/// type the code shown on the login screen, confirm with PIN or biometric, and the result.
/// The same machine as the Kotlin shell's `ApprovalCoordinator`.
///
/// ```
/// idle ─open→ review ─proceed→ typeCode ─enterCode→ unlock ─unlockWith…→ finished
///               │                 │ (tap mode skips typeCode)  │
///               └──────deny───────┴────────────deny────────────┘→ finished(.denied)
/// ```
///
/// Every event method **blocks** while the library talks to the server or shows the
/// biometric prompt: call them off the main thread (a serial `DispatchQueue` of the screen,
/// or `Task.detached`) and render `state` (or the states `onChange` receives, on the calling
/// thread) on the main thread. An event that does not fit the current state throws
/// `ApprovalCoordinator.Misuse`: a bug in the screen, not a user error. One coordinator
/// serves one request at a time; it is thread-safe.
///
/// Wrong inputs keep the user where they are while the request is still answerable (a
/// malformed code, a cancelled biometric prompt); answers the server decided end the flow
/// (`.failed` with the typed error: a wrong PIN ends the request, with the attempts left).
/// PINs are overwritten after use.
public final class ApprovalCoordinator: @unchecked Sendable {
    // @unchecked: `events` serialises every event, `stateLock` guards `current`; the rest is
    // immutable.

    /// An event that does not fit the state the coordinator is in.
    public struct Misuse: Error, CustomStringConvertible {
        public let description: String
    }

    private let authenticator: AuthenticatorProtocol
    private let onChange: @Sendable (ApprovalState) -> Void
    private let events = NSLock()
    private let stateLock = NSLock()
    private var current: ApprovalState = .idle

    /// `onChange` receives every state the coordinator enters, on the thread of the event.
    public init(authenticator: AuthenticatorProtocol, onChange: @escaping @Sendable (ApprovalState) -> Void = { _ in }) {
        self.authenticator = authenticator
        self.onChange = onChange
    }

    /// The current state.
    public var state: ApprovalState {
        stateLock.lock()
        defer { stateLock.unlock() }
        return current
    }

    /// Fetches the login request `handle` names and checks it (network): `.review` when it
    /// checks out, else `.finished` with the reason (expired, unknown — show nothing,
    /// offline…).
    @discardableResult
    public func open(_ handle: RequestHandle) throws -> ApprovalState {
        try serially {
            switch state {
            case .idle, .finished:
                break
            default:
                throw Misuse(description: "a request is already open")
            }
            move(.busy)
            do {
                let request = try authenticator.pendingRequest(handle: handle.hex)
                let biometric = try authenticator.account(accountId: request.accountId).biometricEnabled
                return move(.review(request, biometricAvailable: biometric))
            } catch {
                return move(.finished(.failed(Self.typed(error))))
            }
        }
    }

    /// The user read the request and goes on: to the code (code mode) or straight to unlocking.
    @discardableResult
    public func proceed() throws -> ApprovalState {
        try serially {
            guard case let .review(request, biometric) = state else {
                throw Misuse(description: "proceed in \(state)")
            }
            if request.needsTypedCode {
                return move(.typeCode(request, biometricAvailable: biometric, problem: nil))
            }
            return move(.unlock(request, typedCode: nil, biometricAvailable: biometric, problem: nil))
        }
    }

    /// The code the user typed from the login screen. A malformed one (not six digits from
    /// 100000 to 999999) keeps `.typeCode` with `.malformed`; whether it is the *right* code
    /// only the server can say, after the PIN.
    @discardableResult
    public func enterCode(_ code: String) throws -> ApprovalState {
        try serially {
            guard case let .typeCode(request, biometric, _) = state else {
                throw Misuse(description: "enterCode in \(state)")
            }
            let trimmed = code.filter { $0 != " " }
            if Self.isChallenge(trimmed) {
                return move(.unlock(request, typedCode: trimmed, biometricAvailable: biometric, problem: nil))
            }
            return move(.typeCode(request, biometricAvailable: biometric, problem: .malformed))
        }
    }

    /// Approves with the PIN (network). `pin` holds the digits as ASCII bytes, filled from the
    /// PIN field without making a `String`; it is overwritten with zeros when the call returns.
    /// (Swift may have copied a value this small on its way to the library; those copies are
    /// beyond reach, as JVM strings are on Android. The library wipes its own.)
    @discardableResult
    public func unlockWithPin(_ pin: inout Data) throws -> ApprovalState {
        defer { pin.resetBytes(in: pin.startIndex..<pin.endIndex) }
        return try serially {
            guard case let .unlock(request, typedCode, biometric, _) = state else {
                throw Misuse(description: "unlockWithPin in \(state)")
            }
            return approve(request, typedCode, biometric, .pin(pin: pin))
        }
    }

    /// Approves with biometrics: the library shows the system prompt with `prompt` (what is
    /// being approved) and waits for the user, then sends the approval. A cancelled prompt,
    /// a lockout or biometrics changed on the phone keep `.unlock` (with the PIN as the way on).
    @discardableResult
    public func unlockWithBiometric(prompt: String) throws -> ApprovalState {
        try serially {
            guard case let .unlock(request, typedCode, biometric, _) = state else {
                throw Misuse(description: "unlockWithBiometric in \(state)")
            }
            guard biometric else {
                throw Misuse(description: "biometrics are not available for this account")
            }
            return approve(request, typedCode, biometric, .biometric(prompt: prompt))
        }
    }

    /// Denies the request; `.notMe` reports it as fraud (network, no PIN).
    @discardableResult
    public func deny(_ reason: DenialReason) throws -> ApprovalState {
        try serially {
            let request: PendingApproval
            switch state {
            case let .review(pending, _), let .typeCode(pending, _, _), let .unlock(pending, _, _, _):
                request = pending
            default:
                throw Misuse(description: "nothing to deny in \(state)")
            }
            move(.busy)
            do {
                try authenticator.deny(handle: request.request, reason: reason)
                return move(.finished(.denied(reportedFraud: reason == .notMe)))
            } catch {
                return move(.finished(.failed(Self.typed(error))))
            }
        }
    }

    /// The user left the screen without deciding: the request stays open on the server until
    /// it expires.
    @discardableResult
    public func dismiss() -> ApprovalState {
        events.lock()
        defer { events.unlock() }
        return move(.finished(.dismissed))
    }

    /// Whether `code` is a login screen's code: six digits from 100000 to 999999.
    public static func isChallenge(_ code: String) -> Bool {
        let bytes = Array(code.utf8)
        return bytes.count == 6
            && bytes.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
            && bytes[0] != UInt8(ascii: "0")
    }

    private func approve(
        _ request: PendingApproval,
        _ typedCode: String?,
        _ biometric: Bool,
        _ unlock: Unlock
    ) -> ApprovalState {
        let retry = { (available: Bool, problem: UnlockProblem) in
            ApprovalState.unlock(request, typedCode: typedCode, biometricAvailable: available, problem: problem)
        }
        move(.busy)
        do {
            try authenticator.approve(handle: request.request, typedCode: typedCode, unlock: unlock)
            return move(.finished(.approved))
        } catch AuthenticatorError.BiometricCancelled {
            return move(retry(biometric, .biometricCancelled))
        } catch AuthenticatorError.BiometricLockout {
            return move(retry(false, .biometricLockout))
        } catch AuthenticatorError.BiometricInvalidated {
            return move(retry(false, .biometricInvalidated))
        } catch AuthenticatorError.BiometricNotEnabled {
            return move(retry(false, .biometricInvalidated))
        } catch AuthenticatorError.BadInput {
            // A PIN of the wrong form: nothing was sent, so the request is still answerable.
            return move(retry(biometric, .malformedPin))
        } catch {
            return move(.finished(.failed(Self.typed(error))))
        }
    }

    private func serially<T>(_ event: () throws -> T) rethrows -> T {
        events.lock()
        defer { events.unlock() }
        return try event()
    }

    @discardableResult
    private func move(_ next: ApprovalState) -> ApprovalState {
        stateLock.lock()
        current = next
        stateLock.unlock()
        onChange(next)
        return next
    }

    private static func typed(_ error: Error) -> AuthenticatorError {
        (error as? AuthenticatorError) ?? .Internal(reason: String(describing: type(of: error)))
    }
}

/// Where an approval stands.
public enum ApprovalState: Equatable, Sendable {
    /// Nothing open.
    case idle
    /// Waiting for the server or the biometric prompt: show progress.
    case busy
    /// Show what is being approved: the request's app, client, origin, time and account. The
    /// user goes on (`proceed`) or denies.
    case review(PendingApproval, biometricAvailable: Bool)
    /// Ask for the 6-digit code shown on the login screen; `problem` says why the last one was
    /// refused.
    case typeCode(PendingApproval, biometricAvailable: Bool, problem: CodeProblem?)
    /// Ask for the PIN, or offer biometrics when available; `problem` says why the last try
    /// did not go through (show the PIN entry then).
    case unlock(PendingApproval, typedCode: String?, biometricAvailable: Bool, problem: UnlockProblem?)
    /// The flow ended.
    case finished(ApprovalOutcome)
}

/// Why a typed code was refused before anything was sent.
public enum CodeProblem: Equatable, Sendable {
    /// Not six digits from 100000 to 999999.
    case malformed
}

/// Why an unlock did not go through while the request is still answerable.
public enum UnlockProblem: Equatable, Sendable {
    /// The user dismissed the biometric prompt: offer the PIN.
    case biometricCancelled
    /// Too many biometric failures: use the PIN for now.
    case biometricLockout
    /// Biometrics changed on the phone (or are off): use the PIN, then offer to turn them on
    /// again.
    case biometricInvalidated
    /// The PIN is not 6 to 12 digits (nothing was sent).
    case malformedPin
}

/// How an approval flow ended.
public enum ApprovalOutcome: Equatable, Sendable {
    /// The login proceeds on the login screen.
    case approved
    /// Denied; `reportedFraud` when the user said "this wasn't me".
    case denied(reportedFraud: Bool)
    /// The user left without deciding.
    case dismissed
    /// The library or the server said no; the error is typed (docs/INTEGRATION.md suggests
    /// the screen for each): `.WrongResponse` with the attempts left, `.CodeMismatch`,
    /// `.Expired`, `.Offline` (offer challenge/response), `.UnknownRequest` (show nothing)…
    case failed(AuthenticatorError)
}
