import LatchkeyFFI
import LatchkeyShell
import SwiftUI

/// Renders the model's current screen; every tap becomes an `Event` sent through the shell
/// (off the main thread). The screen map is docs/SCREENS.md.
struct RootView: View {
    @EnvironmentObject private var shell: AppShell

    var body: some View {
        NavigationStack {
            screenView
                .toolbar {
                    if showsBack {
                        ToolbarItem(placement: .cancellationAction) {
                            Button("Back") { shell.dismiss() }
                        }
                    }
                }
        }
    }

    @ViewBuilder private var screenView: some View {
        switch shell.screen {
        case .welcome(let problem):
            WelcomeView(problem: problem)
        case .busy(let text):
            BusyView(text: text)
        case .activation(let step, let server, let problem):
            ActivationView(step: step, server: server, problem: problem)
        case .waiting(let account, let held, let effectiveAt):
            WaitingView(account: account, held: held, effectiveAt: effectiveAt)
        case .accounts(let accounts, let notices, let problem):
            AccountsView(accounts: accounts, notices: notices, problem: problem)
        case .review(let review):
            ReviewView(review: review)
        case .finished(let title, let text):
            FinishedView(title: title, text: text)
        case .authenticate(let screen):
            AuthenticateView(screen: screen)
        case .settings(let screen):
            SettingsView(screen: screen)
        case .diagnose(let account, let findings, let problem):
            DiagnoseView(account: account, findings: findings, problem: problem)
        case .history(let entries, let problem):
            HistoryView(entries: entries, problem: problem)
        }
    }

    /// The screens `Back` leaves (docs/SCREENS.md).
    private var showsBack: Bool {
        switch shell.screen {
        case .welcome, .busy, .accounts, .finished:
            return false
        default:
            return true
        }
    }
}

/// A problem's text, with the attempts left when the model knows them.
struct ProblemText: View {
    let problem: Problem?

    var body: some View {
        if let problem {
            Label(problem.text, systemImage: "exclamationmark.circle")
                .foregroundStyle(.red)
                .accessibilityIdentifier("problem")
        }
    }
}

/// Waiting for the server or the biometric prompt.
struct BusyView: View {
    let text: String

    var body: some View {
        VStack(spacing: 12) {
            ProgressView()
            Text(text)
        }
        .navigationTitle("Latchkey")
    }
}

/// No account yet.
struct WelcomeView: View {
    @EnvironmentObject private var shell: AppShell
    let problem: Problem?

    var body: some View {
        VStack(spacing: 20) {
            Image(systemName: "lock.shield")
                .font(.system(size: 64))
            Text("Latchkey approves your logins from this phone: you confirm each login with your PIN or your face or fingerprint.")
                .multilineTextAlignment(.center)
            ProblemText(problem: problem)
            Button("Add an account") { shell.send(.addAccount) }
                .buttonStyle(.borderedProminent)
        }
        .padding()
        .navigationTitle("Welcome")
    }
}

/// The activation, one step at a time: link or QR code, SMS code, PIN twice, biometric offer.
struct ActivationView: View {
    @EnvironmentObject private var shell: AppShell
    let step: ActivationStep
    let server: String?
    let problem: Problem?

    @State private var link = ""
    @State private var code = ""
    @State private var pin = ""
    @State private var confirmation = ""
    @State private var scanning = false

    var body: some View {
        Form {
            if let server {
                Section { Text("Server: \(server)") }
            }
            Section {
                switch step {
                case .link:
                    Text("Sign in on the web and choose \"Add a phone\": scan the QR code shown there, or paste the link.")
                    Button("Scan the QR code") { scanning = true }
                    TextField("latchkey://activate?…", text: $link)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                    Button("Continue") { shell.send(.activationLink(link: link)) }
                        .disabled(link.isEmpty)
                case .code:
                    Text("Type the 13-digit code we sent you by SMS.")
                    TextField("13-digit code", text: $code)
                        .keyboardType(.numberPad)
                        .textContentType(.oneTimeCode)
                    Button("Continue") { shell.send(.activationCode(code: code)) }
                        .disabled(code.isEmpty)
                case .pin:
                    Text("Choose a PIN of 6 to 12 digits. Easy PINs (123456, 111111, your birthday…) are refused.")
                    SecureField("PIN", text: $pin)
                        .keyboardType(.numberPad)
                    SecureField("PIN again", text: $confirmation)
                        .keyboardType(.numberPad)
                    Button("Activate") {
                        shell.send(.choosePin(pin: pinData(pin), confirmation: pinData(confirmation)))
                        pin = ""
                        confirmation = ""
                    }
                    .disabled(pin.isEmpty || confirmation.isEmpty)
                case .biometricOffer:
                    Text("Use Face ID or Touch ID to approve logins? Your PIN always works too.")
                    Button("Use Face ID or Touch ID") { shell.send(.biometricOffer(accept: true)) }
                    Button("Not now") { shell.send(.biometricOffer(accept: false)) }
                }
                ProblemText(problem: problem)
            }
        }
        .navigationTitle("Add an account")
        .sheet(isPresented: $scanning) {
            QRScannerView { scanned in
                scanning = false
                shell.send(.activationLink(link: scanned))
            }
        }
    }
}

/// The activation waits for the old phone or for the hold period.
struct WaitingView: View {
    let account: AccountRow
    let held: Bool
    let effectiveAt: UInt64?

    var body: some View {
        VStack(spacing: 16) {
            Text(account.label).font(.headline)
            Text(account.status)
            if held, let effectiveAt {
                Text("This phone takes over on \(Date(timeIntervalSince1970: TimeInterval(effectiveAt)).formatted()) unless the move is cancelled on your old phone.")
            } else {
                Text("Open Latchkey on your old phone and approve the move in the account's settings.")
            }
        }
        .multilineTextAlignment(.center)
        .padding()
        .navigationTitle("Almost done")
    }
}

/// The accounts on this phone.
struct AccountsView: View {
    @EnvironmentObject private var shell: AppShell
    let accounts: [AccountRow]
    let notices: [String]
    let problem: Problem?

    var body: some View {
        List {
            if !notices.isEmpty || problem != nil {
                Section {
                    ForEach(notices, id: \.self) { Text($0) }
                    ProblemText(problem: problem)
                }
            }
            Section("Accounts") {
                ForEach(accounts, id: \.id) { account in
                    VStack(alignment: .leading, spacing: 6) {
                        Text(account.label).font(.headline)
                        Text(account.status).font(.subheadline).foregroundStyle(.secondary)
                        HStack {
                            Button("Authenticate") { shell.send(.authenticate(account: account.id)) }
                                .disabled(!account.usable)
                            Spacer()
                            Button("Settings") { shell.send(.settings(account: account.id)) }
                        }
                        .buttonStyle(.borderless)
                    }
                }
            }
            Section {
                Button("Add an account") { shell.send(.addAccount) }
                Button("History") { shell.send(.history) }
            }
        }
        .refreshable { shell.send(.refresh) }
        .navigationTitle("Latchkey")
    }
}

/// How a flow ended.
struct FinishedView: View {
    @EnvironmentObject private var shell: AppShell
    let title: String
    let text: String

    var body: some View {
        VStack(spacing: 16) {
            Text(title).font(.title)
            Text(text).multilineTextAlignment(.center)
            Button("Done") { shell.dismiss() }
                .buttonStyle(.borderedProminent)
        }
        .padding()
    }
}
