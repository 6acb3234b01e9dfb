import Foundation
import LatchkeyFFI

/// Turns a remote notification's `userInfo` into what the app does with it: post (or keep)
/// the generic login notification, sync the accounts for a server notice, or nothing. The
/// same rules as the Kotlin shell's `PushRouter`.
///
/// Call `route` off the main thread (from the notification delegate's callbacks, hop to a
/// background queue first): it may block on the network for a notice push. It never throws
/// for a push: whatever goes wrong is `.ignored` with the reason, because a push is
/// untrusted input.
///
/// A login push names an opaque request handle only; the alert text is generic. Nothing
/// about the login is shown before the user opens it and `ApprovalCoordinator.open`
/// fetched and checked the signed request.
public final class PushRouter: Sendable {
    private let authenticator: AuthenticatorProtocol

    public init(authenticator: AuthenticatorProtocol) {
        self.authenticator = authenticator
    }

    /// Routes one notification. `pushToken` (the APNs token as hex) and
    /// `notificationsEnabled` are what the platform reports now; they are sent with the
    /// syncs a notice push causes.
    public func route(userInfo: [AnyHashable: Any], pushToken: String?, notificationsEnabled: Bool) -> PushRoute {
        switch PushPayload(userInfo: userInfo) {
        case .notLatchkey:
            return .notLatchkey
        case .malformed:
            return .ignored(.malformed, nil)
        case .loginRequest(let handle):
            return loginNotification(Self.stringValues(userInfo), handle)
        case .notice:
            return syncAll(pushToken: pushToken, notificationsEnabled: notificationsEnabled)
        }
    }

    private func loginNotification(_ data: [String: String], _ handle: RequestHandle) -> PushRoute {
        do {
            let alert = try authenticator.handlePush(data: data)
            return .showLoginNotification(RequestHandle(hex: alert.request) ?? handle, title: alert.title, body: alert.body)
        } catch AuthenticatorError.UnknownRequest {
            return .ignored(.noAccount, .UnknownRequest)
        } catch let error as AuthenticatorError {
            return .ignored(.failed, error)
        } catch {
            return .ignored(.failed, .Internal(reason: String(describing: type(of: error))))
        }
    }

    private func syncAll(pushToken: String?, notificationsEnabled: Bool) -> PushRoute {
        let accounts: [AccountSummary]
        do {
            accounts = try authenticator.accounts()
        } catch {
            return .ignored(.failed, Self.typed(error))
        }
        var reports: [SyncReport] = []
        var failures: [Int64: AuthenticatorError] = [:]
        for account in accounts where account.state.hasSecrets {
            do {
                reports.append(try authenticator.sync(
                    accountId: account.id,
                    pushToken: pushToken,
                    notificationsEnabled: notificationsEnabled
                ))
            } catch {
                failures[account.id] = Self.typed(error)
            }
        }
        return .accountsSynced(reports, failures: failures)
    }

    /// The Latchkey library takes the push's data as strings: APNs `userInfo` values that are
    /// strings are kept (the `aps` dictionary and anything else is left out).
    static func stringValues(_ userInfo: [AnyHashable: Any]) -> [String: String] {
        var data: [String: String] = [:]
        for (key, value) in userInfo {
            if let key = key as? String, let value = value as? String {
                data[key] = value
            }
        }
        return data
    }

    private static func typed(_ error: Error) -> AuthenticatorError {
        (error as? AuthenticatorError) ?? .Internal(reason: String(describing: type(of: error)))
    }
}

/// What to do with one notification.
public enum PushRoute: Sendable {
    /// Post (or, for an APNs alert push already shown, keep) a notification with `title` and
    /// `body` (generic: the push carries no detail); when the user taps it, open the approval
    /// screen for the handle (`ApprovalCoordinator.open`).
    case showLoginNotification(RequestHandle, title: String, body: String)

    /// A server notice: every account that still has its secrets was synced. Each report's
    /// `events` say what to tell the user (moved to another phone, password reset
    /// required…); `failures` are the accounts that could not be synced, by account id.
    case accountsSynced([SyncReport], failures: [Int64: AuthenticatorError])

    /// Not a Latchkey notification: hand it to whoever else handles notifications in the app.
    case notLatchkey

    /// A Latchkey notification that leads nowhere: show nothing; the error is for the log.
    case ignored(IgnoreReason, AuthenticatorError?)
}

/// Why a Latchkey notification was ignored.
public enum IgnoreReason: Equatable, Sendable {
    /// The payload is not a valid Latchkey push.
    case malformed
    /// No account on this phone could answer the login request.
    case noAccount
    /// The library refused it (the error says why).
    case failed
}

extension AccountState {
    /// Whether an account in this state still has its secrets (not replaced or wiped).
    public var hasSecrets: Bool {
        switch self {
        case .replaced, .wiped:
            return false
        case .active, .pending, .locked, .disabled:
            return true
        }
    }
}
