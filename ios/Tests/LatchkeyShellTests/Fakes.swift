import Foundation
import LatchkeyFFI

let handleHex = "00112233445566778899aabbccddeeff"

/// An `AuthenticatorProtocol` whose methods throw `.Internal("not faked")` unless a test
/// set the closure it needs: the unit tests of the router and the coordinator, without the
/// library's state or a server.
final class FakeAuthenticator: AuthenticatorProtocol, @unchecked Sendable {
    // @unchecked: the closures are set before the fake is used, then only read.
    var onAccount: (Int64) throws -> AccountSummary = { _ in throw notFaked }
    var onAccounts: () throws -> [AccountSummary] = { throw notFaked }
    var onHandlePush: ([String: String]) throws -> PushAlert = { _ in throw notFaked }
    var onPendingRequest: (String) throws -> PendingApproval = { _ in throw notFaked }
    var onApprove: (String, String?, Unlock) throws -> Void = { _, _, _ in throw notFaked }
    var onDeny: (String, DenialReason) throws -> Void = { _, _ in throw notFaked }
    var onSync: (Int64, String?, Bool) throws -> SyncReport = { _, _, _ in throw notFaked }

    func account(accountId: Int64) throws -> AccountSummary { try onAccount(accountId) }
    func accounts() throws -> [AccountSummary] { try onAccounts() }
    func activate(
        serverProfile: String,
        ticketJson: String,
        activationCode: String,
        pin: Data,
        pinConfirmation: Data,
        deviceName: String,
        pushToken: String?
    ) throws -> ActivationOutcome {
        throw notFaked
    }
    func approve(handle: String, typedCode: String?, unlock: Unlock) throws { try onApprove(handle, typedCode, unlock) }
    func approveReplacement(accountId: Int64, replacement: String, unlock: Unlock) throws { throw notFaked }
    func cancelReplacement(accountId: Int64, replacement: String, unlock: Unlock) throws { throw notFaked }
    func changePin(accountId: Int64, oldPin: Data, newPin: Data, confirmation: Data) throws { throw notFaked }
    func deny(handle: String, reason: DenialReason) throws { try onDeny(handle, reason) }
    func diagnose(accountId: Int64, notificationsEnabled: Bool, pushToken: String?) throws -> [Finding] { throw notFaked }
    func disableBiometric(accountId: Int64) throws { throw notFaked }
    func enableBiometric(accountId: Int64, pin: Data) throws { throw notFaked }
    func handlePush(data: [String: String]) throws -> PushAlert { try onHandlePush(data) }
    func handlePushJson(json: String) throws -> PushAlert { throw notFaked }
    func history() throws -> [HistoryEntry] { throw notFaked }
    func optOutOfTwoFactor(accountId: Int64, unlock: Unlock) throws { throw notFaked }
    func authorisePhoneNumberChange(accountId: Int64, unlock: Unlock) throws { throw notFaked }
    func pendingRequest(handle: String) throws -> PendingApproval { try onPendingRequest(handle) }
    func removeAccount(accountId: Int64) throws -> RemovalReport { throw notFaked }
    func respondToChallenge(accountId: Int64, challenge: String, unlock: Unlock) throws -> ChallengeResponse {
        throw notFaked
    }
    func sync(accountId: Int64, pushToken: String?, notificationsEnabled: Bool) throws -> SyncReport {
        try onSync(accountId, pushToken, notificationsEnabled)
    }
}

let notFaked = AuthenticatorError.Internal(reason: "not faked")

func pendingApproval(mode: MatchingMode = .code, accountId: Int64 = 1) -> PendingApproval {
    PendingApproval(
        request: handleHex,
        accountId: accountId,
        accountLabel: "alice @ 127.0.0.1",
        app: "Client Portal",
        client: "Firefox on Linux",
        origin: "203.0.113.7",
        requestedAt: 1_800_000_000,
        matchingMode: mode,
        expiresAt: 1_800_000_120,
        needsTypedCode: mode == .code
    )
}

func accountSummary(id: Int64, state: AccountState = .active, biometric: Bool = false) -> AccountSummary {
    AccountSummary(
        id: id,
        label: "account \(id)",
        serverUrl: "http://127.0.0.1:1",
        serverFingerprint: "sha256:" + String(repeating: "0", count: 64),
        enrollmentId: String(repeating: "ab", count: 16),
        epoch: 1,
        state: state,
        matchingMode: .code,
        biometricEnabled: biometric,
        lastSyncAt: nil,
        clockOffset: 0
    )
}

func syncReport(accountId: Int64) -> SyncReport {
    SyncReport(
        accountId: accountId,
        state: .active,
        serverState: .active,
        failures: 0,
        retryAfter: nil,
        pushRegistered: true,
        pendingRequests: [],
        clockOffset: 0,
        events: []
    )
}

/// Values collected from any thread (what a `@Sendable` callback records).
final class Collected<T>: @unchecked Sendable {
    // @unchecked: `lock` guards `items`.
    private let lock = NSLock()
    private var items: [T] = []

    func append(_ item: T) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var values: [T] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}
