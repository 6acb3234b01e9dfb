import Foundation
import LatchkeyFFI
import LatchkeyShell
import UserNotifications

/// Where a tap on a login notification leads: the approval screen, at its start or straight
/// at the "this wasn't me" confirmation.
public enum ApprovalEntry: Equatable, Sendable {
    /// Open the request for review (a tap on the notification, or its "Review" action).
    case review
    /// Open the request and ask at once "Deny and report this login?" (the "This wasn't me"
    /// action). One tap confirms; no PIN is needed to deny.
    case confirmNotMe
}

/// The login notification's category and actions, and the `UNUserNotificationCenter`
/// delegate that routes Latchkey notifications.
///
/// **"This wasn't me" opens the app.** It is a `.foreground` action (which also needs the
/// phone unlocked) that leads to a one-tap confirmation, not a background denial from the
/// lock screen, because: the signed request must be fetched and checked before anything
/// is decided on it (the push names only a handle); reporting fraud has heavy effects — the
/// login ends, pushes stop for 24 hours and the password must be reset — so it should not
/// happen by a mis-tap or by someone holding a locked phone; and when the denial fails
/// (offline, expired) the user must be told. Denying needs no PIN, so the confirmation is
/// a single tap. The Android app makes the same choice.
///
/// APNs pushes are shown by the system, so the server's APNs sender must put the category
/// in the payload (docs/INTEGRATION.md): `"aps": {"alert": {…generic text…}, "category":
/// "LATCHKEY_LOGIN", "interruption-level": "time-sensitive"}` beside `"latchkey": "1"` and
/// `"request"`.
public final class LoginNotifications: NSObject, UNUserNotificationCenterDelegate, Sendable {
    /// The category of login notifications.
    public static let category = "LATCHKEY_LOGIN"
    /// The "Review" action.
    public static let reviewAction = "LATCHKEY_REVIEW"
    /// The "This wasn't me" action.
    public static let notMeAction = "LATCHKEY_NOT_ME"

    private let router: PushRouter
    private let pushToken: @Sendable () -> String?
    private let openApproval: @Sendable (RequestHandle, ApprovalEntry) -> Void
    private let synced: @Sendable (PushRoute) -> Void
    private let otherPresentation: @Sendable (UNNotification) async -> UNNotificationPresentationOptions
    private let otherResponse: @Sendable (UNNotificationResponse) async -> Void

    /// - Parameters:
    ///   - router: routes each notification through the library (no network for a login).
    ///   - pushToken: the APNs token as hex, once registered.
    ///   - open: shows the approval screen for a handle; called on the main thread.
    ///   - synced: receives the outcome of a notice push (the syncs it caused), to tell the
    ///     user what changed; called on a background thread.
    ///   - otherPresentation, otherResponse: the app's handling of notifications that are
    ///     not Latchkey's (by default: shown as sent, taps ignored).
    public init(
        router: PushRouter,
        pushToken: @escaping @Sendable () -> String?,
        open: @escaping @Sendable (RequestHandle, ApprovalEntry) -> Void,
        synced: @escaping @Sendable (PushRoute) -> Void = { _ in },
        otherPresentation: @escaping @Sendable (UNNotification) async -> UNNotificationPresentationOptions = { _ in
            [.banner, .list, .sound]
        },
        otherResponse: @escaping @Sendable (UNNotificationResponse) async -> Void = { _ in }
    ) {
        self.router = router
        self.pushToken = pushToken
        self.openApproval = open
        self.synced = synced
        self.otherPresentation = otherPresentation
        self.otherResponse = otherResponse
    }

    /// Registers the login category and becomes `center`'s delegate. Call in
    /// `application(_:didFinishLaunchingWithOptions:)`, before it returns, so a tap that
    /// launched the app is delivered.
    public func install(on center: UNUserNotificationCenter = .current()) {
        center.setNotificationCategories([Self.loginCategory()])
        center.delegate = self
    }

    /// The login category: "Review" and "This wasn't me", both opening the app.
    public static func loginCategory() -> UNNotificationCategory {
        let review = UNNotificationAction(
            identifier: reviewAction,
            title: NSLocalizedString("Review", comment: "Login notification action: open the request"),
            options: [.foreground]
        )
        let notMe = UNNotificationAction(
            identifier: notMeAction,
            title: NSLocalizedString("This wasn't me", comment: "Login notification action: deny and report"),
            options: [.foreground, .destructive]
        )
        return UNNotificationCategory(
            identifier: category,
            actions: [review, notMe],
            intentIdentifiers: [],
            // The generic text reveals nothing, so it may show on the lock screen as sent.
            options: [.customDismissAction]
        )
    }

    // MARK: UNUserNotificationCenterDelegate

    /// A notification while the app is in front: a Latchkey login is shown as a banner once
    /// the library accepted it (an account here can answer it); a notice syncs the accounts
    /// and shows nothing; anything else is the app's (`otherPresentation`).
    public func userNotificationCenter(
        _ center: UNUserNotificationCenter,
        willPresent notification: UNNotification
    ) async -> UNNotificationPresentationOptions {
        let userInfo = notification.request.content.userInfo
        guard case .notLatchkey = PushPayload(userInfo: userInfo) else {
            let route = await routed(userInfo)
            switch route {
            case .showLoginNotification:
                return [.banner, .list, .sound]
            case .accountsSynced:
                synced(route)
                return []
            case .ignored, .notLatchkey:
                return []
            }
        }
        return await otherPresentation(notification)
    }

    /// A tap on a notification or one of its actions.
    public func userNotificationCenter(
        _ center: UNUserNotificationCenter,
        didReceive response: UNNotificationResponse
    ) async {
        let userInfo = response.notification.request.content.userInfo
        switch PushPayload(userInfo: userInfo) {
        case .loginRequest(let handle):
            let entry: ApprovalEntry
            switch response.actionIdentifier {
            case UNNotificationDefaultActionIdentifier, Self.reviewAction:
                entry = .review
            case Self.notMeAction:
                entry = .confirmNotMe
            default:
                return  // dismissed: the request stays open until it expires
            }
            // The screen fetches and checks the signed request before it shows anything.
            let openApproval = self.openApproval
            await MainActor.run { openApproval(handle, entry) }
        case .notice, .malformed:
            return
        case .notLatchkey:
            await otherResponse(response)
        }
    }

    /// A notification delivered to the app in the background (`content-available` notice
    /// pushes; from `application(_:didReceiveRemoteNotification:fetchCompletionHandler:)`).
    /// Returns whether it was Latchkey's and caused a sync.
    public func handleBackgroundNotification(_ userInfo: [AnyHashable: Any]) async -> Bool {
        guard case .notice = PushPayload(userInfo: userInfo) else {
            return false
        }
        let route = await routed(userInfo)
        synced(route)
        if case .accountsSynced = route {
            return true
        }
        return false
    }

    /// Routes on a background thread: a notice push syncs over the network.
    private func routed(_ userInfo: [AnyHashable: Any]) async -> PushRoute {
        let strings = userInfo.reduce(into: [String: String]()) { result, entry in
            if let key = entry.key as? String, let value = entry.value as? String {
                result[key] = value
            }
        }
        let router = self.router
        let token = pushToken()
        let enabled = await NotificationPermission.notificationsEnabled()
        return await Task.detached(priority: .userInitiated) {
            router.route(userInfo: strings, pushToken: token, notificationsEnabled: enabled)
        }.value
    }
}
