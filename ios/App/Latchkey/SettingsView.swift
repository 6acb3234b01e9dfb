import LatchkeyFFI
import LatchkeyShell
import SwiftUI

/// One account's settings: biometrics, PIN change, notification diagnosis, a move to a new
/// phone (approve or cancel), turning two-factor off where allowed, removal.
struct SettingsView: View {
    @EnvironmentObject private var shell: AppShell
    let screen: SettingsScreen

    @State private var pin = ""
    @State private var newPin = ""
    @State private var confirmation = ""
    @State private var confirmOptOut = false
    @State private var confirmRemove = false

    var body: some View {
        Form {
            Section {
                Text(screen.account.label).font(.headline)
                Text(screen.account.status)
                if let notice = screen.notice {
                    Text(notice).foregroundStyle(.green)
                }
                ProblemText(problem: screen.problem)
            }
            Section("Your PIN (for the actions below)") {
                SecureField("PIN", text: $pin)
                    .keyboardType(.numberPad)
            }
            if let _ = screen.pendingMove {
                Section("Someone is moving this account to a new phone") {
                    Text("If it is you, approve. If not, cancel it now.")
                    Button("Approve the move") { send(.approveMove(pin: pinData(pin))) }
                        .disabled(pin.isEmpty)
                    Button("Cancel the move", role: .destructive) { send(.cancelMove(pin: pinData(pin))) }
                        .disabled(pin.isEmpty)
                }
            }
            Section("Face ID or Touch ID") {
                if screen.account.biometricEnabled {
                    Button("Turn off") { shell.send(.setBiometric(enabled: false, pin: nil)) }
                } else {
                    Button("Turn on") { send(.setBiometric(enabled: true, pin: pinData(pin))) }
                        .disabled(pin.isEmpty)
                }
            }
            Section("Change PIN") {
                SecureField("New PIN", text: $newPin)
                    .keyboardType(.numberPad)
                SecureField("New PIN again", text: $confirmation)
                    .keyboardType(.numberPad)
                Button("Change PIN") {
                    send(.changePin(oldPin: pinData(pin), newPin: pinData(newPin), confirmation: pinData(confirmation)))
                    newPin = ""
                    confirmation = ""
                }
                .disabled(pin.isEmpty || newPin.isEmpty || confirmation.isEmpty)
            }
            Section {
                Button("Login notifications not arriving?") { shell.send(.diagnose) }
                Text("Moving to a new phone? Start on the new phone: add the account there, then approve the move here.")
                    .font(.footnote)
            }
            Section {
                Button("Turn off two-factor authentication", role: .destructive) { confirmOptOut = true }
                    .disabled(pin.isEmpty)
                Button("Remove this account from this phone", role: .destructive) { confirmRemove = true }
            }
        }
        .navigationTitle("Settings")
        .confirmationDialog(
            "Anyone with your password will be able to log in. Turn off two-factor authentication?",
            isPresented: $confirmOptOut,
            titleVisibility: .visible
        ) {
            Button("Turn off", role: .destructive) { send(.optOut(pin: pinData(pin))) }
        }
        .confirmationDialog(
            "Remove this account from this phone? You will need to activate a phone again to log in.",
            isPresented: $confirmRemove,
            titleVisibility: .visible
        ) {
            Button("Remove", role: .destructive) { shell.send(.removeAccount) }
        }
    }

    /// Sends an event that carries the PIN, and clears the field.
    private func send(_ event: Event) {
        shell.send(event)
        pin = ""
    }
}

/// Why login notifications may not arrive, each finding with its fix.
struct DiagnoseView: View {
    let account: AccountRow
    let findings: [FindingRow]
    let problem: Problem?

    var body: some View {
        List {
            ProblemText(problem: problem)
            if findings.isEmpty && problem == nil {
                Text("Nothing wrong was found: login notifications should arrive.")
            }
            ForEach(findings, id: \.text) { finding in
                VStack(alignment: .leading, spacing: 4) {
                    Text(finding.text).font(.headline)
                    Text(finding.fix)
                }
            }
        }
        .navigationTitle(account.label)
    }
}

/// The phone's history: approvals, denials, responses, accounts added and removed.
struct HistoryView: View {
    let entries: [HistoryRow]
    let problem: Problem?

    var body: some View {
        List {
            ProblemText(problem: problem)
            ForEach(Array(entries.enumerated().reversed()), id: \.offset) { _, entry in
                VStack(alignment: .leading, spacing: 4) {
                    Text(Self.title(entry.event)).font(.headline)
                    Text(entry.summary)
                    Text(Date(timeIntervalSince1970: TimeInterval(entry.at)).formatted())
                        .font(.footnote)
                        .foregroundStyle(.secondary)
                }
            }
        }
        .navigationTitle("History")
    }

    private static func title(_ event: HistoryEvent) -> String {
        switch event {
        case .approved: return "Approved"
        case .denied: return "Denied"
        case .reportedFraud: return "Reported as not you"
        case .responseGenerated: return "Response generated"
        case .accountAdded: return "Account added"
        case .accountWiped: return "Account removed"
        case .other: return "Other"
        }
    }
}
