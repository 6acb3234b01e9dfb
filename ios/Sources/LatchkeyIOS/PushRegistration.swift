import Foundation
import UserNotifications
#if canImport(UIKit)
import UIKit
#endif

/// Whether the user lets the app notify: the `notifications_enabled` the library sends with
/// every sync and reads in `diagnose`.
public enum NotificationPermission {
    /// Authorised to show alerts (provisional and ephemeral authorisations count: the alert
    /// is delivered, quietly).
    public static func notificationsEnabled(center: UNUserNotificationCenter = .current()) async -> Bool {
        let settings = await center.notificationSettings()
        switch settings.authorizationStatus {
        case .authorized, .provisional, .ephemeral:
            return settings.alertSetting != .disabled || settings.lockScreenSetting != .disabled
        case .denied, .notDetermined:
            return false
        @unknown default:
            return false
        }
    }

    /// Asks once for alerts, sounds and time-sensitive delivery (a login is answerable for two
    /// minutes). Returns whether alerts may be shown.
    public static func request(center: UNUserNotificationCenter = .current()) async -> Bool {
        do {
            return try await center.requestAuthorization(options: [.alert, .sound, .badge])
        } catch {
            return false
        }
    }
}

/// APNs registration: the device token, as the hex string the library registers with the
/// server (`sync(accountId:pushToken:notificationsEnabled:)`).
public enum PushRegistration {
    /// The token `application(_:didRegisterForRemoteNotificationsWithDeviceToken:)` received,
    /// as lowercase hex.
    public static func tokenHex(_ deviceToken: Data) -> String {
        deviceToken.map { String(format: "%02x", $0) }.joined()
    }

    #if canImport(UIKit)
    /// Asks for permission, then registers with APNs; the token arrives in the app
    /// delegate's `didRegisterForRemoteNotificationsWithDeviceToken`. Call at every launch:
    /// APNs may hand out a new token, and each one must reach the server (sync every account
    /// with it).
    @MainActor
    public static func register(center: UNUserNotificationCenter = .current()) async -> Bool {
        let allowed = await NotificationPermission.request(center: center)
        // Registering even when alerts are refused keeps the token current for when the
        // user allows them in Settings; the server is told `notificationsEnabled: false`.
        UIApplication.shared.registerForRemoteNotifications()
        return allowed
    }
    #endif
}
