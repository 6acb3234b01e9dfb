import Foundation
import LatchkeyFFI
import LatchkeyShell
import UserNotifications

/// The login notification's category and actions, and the `UNUserNotificationCenter`
/// delegate that routes Latchkey notifications through the app model.
///
/// **On the main actor, and retained by the app.** The delegate methods run on the main
/// actor: they only read the notification and hand events to the `AppShell` (whose `send`
/// returns at once) or ask the model off the main thread (`pushReceived` may sync over the
/// network for a notice push). `UNUserNotificationCenter.delegate` is a weak reference, so
/// the app keeps this object for its lifetime (the app delegate holds it: see
/// ios/App/Latchkey/AppDelegate.swift) — a delegate nobody retains is silently dropped and taps
/// then open nothing.
///
/// **"This wasn't me" opens the app.** It is a `.foreground` action (which also needs the
/// phone unlocked) that opens the request's review with the one-tap "Deny and report"
/// confirmation (`AppShell.confirmNotMe`), not a background denial from the lock screen:
/// the signed request must be fetched and checked before anything is decided on it (the push
/// names only a handle); reporting fraud has heavy effects — the login ends, pushes stop for
/// 24 hours and the password must be reset — so it should not happen by a mis-tap or by
/// someone holding a locked phone; and when the denial fails (offline, expired) the user
/// must be told. The Android app makes the same choice.
///
/// APNs pushes are shown by the system, so the server's APNs sender must put the category
/// in the payload (docs/INTEGRATION.md): `"aps": {"alert": {…generic text…}, "category":
/// "LATCHKEY_LOGIN", "interruption-level": "time-sensitive"}` beside `"latchkey": "1"` and
/// `"request"`. `time-sensitive` needs the entitlement in ios/App/Latchkey/Latchkey.entitlements.
@MainActor
public final class LoginNotifications: NSObject, UNUserNotificationCenterDelegate {
    /// The category of login notifications.
    public static let category = "LATCHKEY_LOGIN"
    /// The "Review" action.
    public static let reviewAction = "LATCHKEY_REVIEW"
    /// The "This wasn't me" action.
    public static let notMeAction = "LATCHKEY_NOT_ME"

    private let shell: AppShell
    private let otherPresentation: @Sendable (UNNotification) async -> UNNotificationPresentationOptions
    private let otherResponse: @Sendable (UNNotificationResponse) async -> Void

    /// - Parameters:
    ///   - shell: the app's shell over the model; taps become its events.
    ///   - otherPresentation, otherResponse: the app's handling of notifications that are
    ///     not Latchkey's (by default: shown as sent, taps ignored).
    public init(
        shell: AppShell,
        otherPresentation: @escaping @Sendable (UNNotification) async -> UNNotificationPresentationOptions = { _ in
            [.banner, .list, .sound]
        },
        otherResponse: @escaping @Sendable (UNNotificationResponse) async -> Void = { _ in }
    ) {
        self.shell = shell
        self.otherPresentation = otherPresentation
        self.otherResponse = otherResponse
    }

    /// Registers the login category and becomes `center`'s delegate. Call in
    /// `application(_:didFinishLaunchingWithOptions:)`, before it returns, so a tap that
    /// launched the app is delivered; keep this object (the center does not).
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
    /// the model accepted it (an account here can answer it); a notice syncs the accounts
    /// (off the main thread) and shows nothing; anything else is the app's.
    public func userNotificationCenter(
        _ center: UNUserNotificationCenter,
        willPresent notification: UNNotification
    ) async -> UNNotificationPresentationOptions {
        switch await pushAction(Self.strings(notification.request.content.userInfo)) {
        case .notify:
            return [.banner, .list, .sound]
        case .synced(let waiting):
            await Self.post(waiting)
            return []
        case .ignored:
            return []
        case .notLatchkey:
            return await otherPresentation(notification)
        }
    }

    /// A tap on a notification or one of its actions: opens the request's review (the model
    /// fetches and checks the signed request before it shows anything). Returns at once.
    public func userNotificationCenter(
        _ center: UNUserNotificationCenter,
        didReceive response: UNNotificationResponse
    ) async {
        let data = Self.strings(response.notification.request.content.userInfo)
        guard data["latchkey"] != nil else {
            await otherResponse(response)
            return
        }
        guard let handle = data["request"] else {
            return  // a notice: the sync already ran when it arrived
        }
        switch response.actionIdentifier {
        case UNNotificationDefaultActionIdentifier, Self.reviewAction:
            shell.confirmNotMe = false
        case Self.notMeAction:
            shell.confirmNotMe = true
        default:
            return  // dismissed: the request stays open until it expires
        }
        shell.send(.openRequest(handle: handle))
    }

    /// A notification delivered to the app in the background (`content-available` notice
    /// pushes; from `application(_:didReceiveRemoteNotification:fetchCompletionHandler:)`):
    /// syncs every account off the main thread and posts a login notification for each
    /// request still waiting. Returns whether it was Latchkey's and caused a sync.
    public func handleBackgroundNotification(_ userInfo: [AnyHashable: Any]) async -> Bool {
        guard case .synced(let waiting) = await pushAction(Self.strings(userInfo)) else {
            return false
        }
        await Self.post(waiting)
        return true
    }

    /// Asks the model off the main thread: a notice push syncs over the network.
    private func pushAction(_ data: [String: String]) async -> PushAction {
        let model = shell.model
        return await Task.detached(priority: .userInitiated) {
            model.pushReceived(data: data)
        }.value
    }

    /// Posts the generic login notification for requests a sync found waiting.
    private static func post(_ handles: [String], center: UNUserNotificationCenter = .current()) async {
        for handle in handles {
            let content = UNMutableNotificationContent()
            content.title = "Latchkey"
            content.body = NSLocalizedString("Login request: open to review it.", comment: "Login notification text")
            content.categoryIdentifier = category
            content.userInfo = ["latchkey": "1", "request": handle]
            content.interruptionLevel = .timeSensitive
            try? await center.add(UNNotificationRequest(identifier: handle, content: content, trigger: nil))
        }
    }

    /// The string entries of a push's user info (the Latchkey keys are strings; `aps` is not).
    private static func strings(_ userInfo: [AnyHashable: Any]) -> [String: String] {
        userInfo.reduce(into: [String: String]()) { result, entry in
            if let key = entry.key as? String, let value = entry.value as? String {
                result[key] = value
            }
        }
    }
}
