import LatchkeyFFI
import LatchkeyShell
import SwiftUI

/// A login request: what, who, where and when; then the typed code; then PIN or biometrics.
/// "This wasn't me" denies and reports it, after one confirmation.
struct ReviewView: View {
    @EnvironmentObject private var shell: AppShell
    let review: ReviewScreen

    @State private var code = ""
    @State private var pin = ""

    var body: some View {
        Form {
            Section("Login request") {
                LabeledContent("App", value: review.request.app)
                LabeledContent("Account", value: review.request.accountLabel)
                LabeledContent("Device", value: review.request.client)
                LabeledContent("From", value: review.request.origin)
                LabeledContent("When", value: Date(timeIntervalSince1970: TimeInterval(review.request.requestedAt)).formatted())
            }
            Section {
                switch review.step {
                case .read:
                    Button("It's me: continue") { shell.send(.proceed) }
                        .buttonStyle(.borderedProminent)
                case .typeCode:
                    Text("Type the 6-digit code shown on the login screen.")
                    TextField("6-digit code", text: $code)
                        .keyboardType(.numberPad)
                    Button("Continue") { shell.send(.typeCode(code: code)) }
                        .disabled(code.isEmpty)
                case .unlock:
                    SecureField("PIN", text: $pin)
                        .keyboardType(.numberPad)
                    Button("Approve with PIN") {
                        shell.send(.approveWithPin(pin: pinData(pin)))
                        pin = ""
                    }
                    .disabled(pin.isEmpty)
                    if review.biometricAvailable {
                        Button("Approve with Face ID or Touch ID") { shell.send(.approveWithBiometric) }
                    }
                }
                ProblemText(problem: review.problem)
            }
            Section {
                Button("Deny") { shell.send(.deny(notMe: false)) }
                Button("This wasn't me", role: .destructive) { shell.confirmNotMe = true }
            }
        }
        .navigationTitle("Approve login?")
        .confirmationDialog(
            "Deny and report this login? Your password will have to be reset.",
            isPresented: $shell.confirmNotMe,
            titleVisibility: .visible
        ) {
            Button("Deny and report", role: .destructive) {
                shell.confirmNotMe = false
                shell.send(.deny(notMe: true))
            }
            Button("Cancel", role: .cancel) { shell.confirmNotMe = false }
        }
    }
}

/// Authenticate: the login screen's challenge → the 8-digit response, with the warning.
struct AuthenticateView: View {
    @EnvironmentObject private var shell: AppShell
    let screen: AuthenticateScreen

    @State private var challenge = ""
    @State private var pin = ""

    var body: some View {
        Form {
            Section {
                Label(screen.warning, systemImage: "exclamationmark.shield")
                    .foregroundStyle(.orange)
            }
            Section(screen.account.label) {
                TextField("Challenge from the login screen", text: $challenge)
                    .keyboardType(.numberPad)
                SecureField("PIN", text: $pin)
                    .keyboardType(.numberPad)
                Button("Get the response") {
                    shell.send(.respond(challenge: challenge, pin: pinData(pin)))
                    pin = ""
                }
                .disabled(challenge.isEmpty || pin.isEmpty)
                if screen.account.biometricEnabled {
                    Button("Use Face ID or Touch ID") { shell.send(.respond(challenge: challenge, pin: nil)) }
                        .disabled(challenge.isEmpty)
                }
                ProblemText(problem: screen.problem)
            }
            if let response = screen.response {
                Section("Type this into the login screen") {
                    Text(response)
                        .font(.system(.largeTitle, design: .monospaced))
                        .privacySensitive()
                }
            }
        }
        .navigationTitle("Authenticate")
    }
}
