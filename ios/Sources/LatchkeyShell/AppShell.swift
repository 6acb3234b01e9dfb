import Combine
import Foundation
import LatchkeyFFI

/// The whole of the shell's logic around the app model (docs/SCREENS.md): the library's
/// `AppModel` owns every screen and the way between them; SwiftUI renders `screen` and
/// forwards the user's `Event`s with `send(_:)`.
///
/// - `screen` is published on the main actor; SwiftUI views observe it.
/// - `send(_:)` returns at once: the event is carried out on a serial background queue (it
///   may block on the network or the biometric prompt), then its PIN bytes are overwritten.
///   The main thread never waits for the library — `dismiss()` and `Back` included.
/// - The model tells the `ScreenRelay` after every change, on that queue; the relay hops to
///   the main actor and the shell reads `view()` there (it never blocks on the network).
/// - While the model carries out an event the screen is `.busy` and further events are
///   ignored, so a double tap does nothing twice.
///
/// Keep one shell for the app's lifetime (the app's `@StateObject` or its delegate).
@MainActor
public final class AppShell: ObservableObject {
    /// The screen to render now.
    @Published public private(set) var screen: Screen

    /// Whether the review should open with the "Deny and report this login?" confirmation
    /// (the notification's "This wasn't me" action set it; the review view clears it).
    @Published public var confirmNotMe = false

    /// The model (for `pushReceived`, `syncAll` and `hasSecrets`, which the notification
    /// delegate and background tasks call off the main thread).
    public nonisolated let model: AppModel

    private nonisolated let queue = DispatchQueue(label: "dev.latchkey.app-model", qos: .userInitiated)
    private let relay: ScreenRelay

    /// A shell over `model`, which it tells of itself (the model keeps the relay).
    public init(model: AppModel) {
        self.model = model
        self.screen = model.view()
        let relay = ScreenRelay()
        self.relay = relay
        relay.shell = self
        model.setListener(listener: relay)
    }

    /// Carries `event` out on the background queue; returns at once.
    public func send(_ event: Event) {
        let model = self.model
        queue.async {
            do {
                try model.dispatch(event: event)
            } catch {
                // BadInput: a PIN that is not UTF-8 (a bug in the PIN field); nothing changed.
            }
        }
    }

    /// Leaves the current screen (the system Back, or "Done"): never blocks the main thread.
    /// A review left this way stays open on the server until it expires.
    public func dismiss() {
        send(.back)
    }

    /// Reads the model's screen (called by the relay on the main actor).
    fileprivate func refresh() {
        screen = model.view()
    }
}

/// The `ScreenListener` the model calls after every change (on the model's queue): it hops to
/// the main actor and has the shell read the new screen. Holds the shell weakly (the shell
/// holds the relay, and the model holds the relay too).
public final class ScreenRelay: ScreenListener, @unchecked Sendable {
    // @unchecked: `shell` is set once, on the main actor, before the model can call, and
    // only read on the main actor afterwards.
    fileprivate weak var shell: AppShell?

    /// The screen changed: render it on the main actor.
    public func screenChanged() {
        Task { @MainActor [weak self] in
            self?.shell?.refresh()
        }
    }
}

/// PIN bytes from a PIN field's text: what the PIN events carry (`Data`, never kept in a
/// `String` by the shell longer than the field holds it).
public func pinData(_ digits: String) -> Data {
    Data(digits.utf8)
}
