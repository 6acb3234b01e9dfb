import LatchkeyFFI
import LatchkeyIOS
import LatchkeyShell
import SwiftUI
import UIKit
import UserNotifications

/// The Latchkey iPhone app: every screen comes from the library's app model
/// (docs/SCREENS.md); this target only renders them (`RootView`) and forwards taps.
@main
struct LatchkeyApp: App {
    @UIApplicationDelegateAdaptor(AppDelegate.self) private var delegate
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            switch delegate.launch {
            case .ready(let shell):
                RootView()
                    .environmentObject(shell)
            case .failed(let reason):
                LaunchFailedView(reason: reason)
            }
        }
        .onChange(of: scenePhase) { phase in
            if phase == .active {
                delegate.cameToForeground()
            }
        }
    }
}

/// How the app started: the shell over the model, or why the library could not open (a
/// damaged database is left untouched and reported, never deleted: credentials cannot be
/// recreated).
enum Launch {
    case ready(AppShell)
    case failed(String)
}

/// Opens the library once per process and keeps what must live as long as the app: the
/// shell (and through it the model) and the notification delegate, which
/// `UNUserNotificationCenter` holds only weakly.
@MainActor
final class AppDelegate: NSObject, UIApplicationDelegate, ObservableObject {
    /// The shell, or why there is none.
    let launch: Launch
    /// Retained here: the notification center's delegate reference is weak.
    private var notifications: LoginNotifications?
    /// The APNs token as hex, once registered.
    private var pushToken: String?

    override init() {
        setLogSink(sink: OSLogSink(), maxLevel: .info)
        do {
            let authenticator = try Authenticator.open(
                databasePath: try Self.databasePath(),
                keystore: SecureEnclaveKeystore(),
                transport: URLSessionTransport(),
                config: AuthenticatorConfig(platform: .ios, appVersion: Self.appVersion)
            )
            let model = try AppModel(
                authenticator: authenticator,
                options: AppOptions(builtinProfile: Self.builtinProfile, deviceName: UIDevice.current.name)
            )
            launch = .ready(AppShell(model: model))
        } catch {
            launch = .failed(String(describing: error))
        }
        super.init()
    }

    func application(
        _ application: UIApplication,
        didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]? = nil
    ) -> Bool {
        guard case .ready(let shell) = launch else {
            return true
        }
        // Before returning, so that a tap that launched the app is delivered.
        let notifications = LoginNotifications(shell: shell)
        notifications.install()
        self.notifications = notifications
        Task { @MainActor in
            _ = await PushRegistration.register()
            await self.tellPlatform()
        }
        return true
    }

    func application(_ application: UIApplication, didRegisterForRemoteNotificationsWithDeviceToken deviceToken: Data) {
        pushToken = PushRegistration.tokenHex(deviceToken)
        Task { @MainActor in
            await self.tellPlatform()
            self.shellIfReady?.send(.refresh)
        }
    }

    func application(_ application: UIApplication, didFailToRegisterForRemoteNotificationsWithError error: Error) {
        // Diagnose (in each account's settings) tells the user there is no push token.
    }

    func application(
        _ application: UIApplication,
        didReceiveRemoteNotification userInfo: [AnyHashable: Any]
    ) async -> UIBackgroundFetchResult {
        guard let notifications else {
            return .noData
        }
        return await notifications.handleBackgroundNotification(userInfo) ? .newData : .noData
    }

    /// The app came to the front: the platform's state, then a sync of every account.
    func cameToForeground() {
        Task { @MainActor in
            await self.tellPlatform()
            self.shellIfReady?.send(.start)
        }
    }

    private var shellIfReady: AppShell? {
        if case .ready(let shell) = launch {
            return shell
        }
        return nil
    }

    /// Tells the model the push token and whether notifications may be shown.
    private func tellPlatform() async {
        let enabled = await NotificationPermission.notificationsEnabled()
        shellIfReady?.send(.platform(pushToken: pushToken, notificationsEnabled: enabled))
    }

    /// The database in Application Support, excluded from backups (a restored copy on
    /// another phone could not open its keys anyway).
    private static func databasePath() throws -> String {
        var folder = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true
        ).appendingPathComponent("Latchkey", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try folder.setResourceValues(values)
        return folder.appendingPathComponent("device.db").path
    }

    private static var appVersion: String {
        Bundle.main.object(forInfoDictionaryKey: "CFBundleShortVersionString") as? String ?? "0"
    }

    /// The server profile an app for one relying party ships (`ServerProfile.json` in the
    /// bundle); without one, activation links carry the profile.
    private static var builtinProfile: String? {
        guard let url = Bundle.main.url(forResource: "ServerProfile", withExtension: "json"),
              let data = try? Data(contentsOf: url)
        else {
            return nil
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Shown when the library could not open: what happened, and that nothing was deleted.
struct LaunchFailedView: View {
    let reason: String

    var body: some View {
        VStack(spacing: 16) {
            Image(systemName: "exclamationmark.triangle")
                .font(.largeTitle)
            Text("Latchkey could not open its data")
                .font(.headline)
            Text("Your accounts were left untouched. Restart the phone and try again; if this persists, contact support.")
                .multilineTextAlignment(.center)
            Text(reason)
                .font(.footnote)
                .foregroundStyle(.secondary)
        }
        .padding()
    }
}
