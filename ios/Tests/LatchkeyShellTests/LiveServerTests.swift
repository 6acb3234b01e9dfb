import Foundation
import LatchkeyFFI
import LatchkeyShell
import XCTest

/// The user journeys through the Swift shell and the real library against the
/// `latchkey serve --dev` that `LATCHKEY_TEST_SERVER` names (see `LiveServer`); skipped
/// without it. The same journeys as the Kotlin shell's JVM tests, told from an iPhone.
final class LiveServerTests: XCTestCase {
    private var server: LiveServer!

    override func setUpWithError() throws {
        server = try LiveServer.fromEnvironment()
    }

    func testAPhoneActivatesWithTheSmsCodeAndRegistersItsPushToken() async throws {
        let server = server!
        try await offMain {
            let phone = try Phone("iPhone 15")
            let user = try server.createUser("activation")

            guard case let .active(account) = try phone.activate(server, user) else {
                return XCTFail("not active")
            }
            XCTAssertEqual(account.state, .active)
            XCTAssertEqual(account.epoch, 1)
            XCTAssertEqual(account.matchingMode, .code)
            XCTAssertEqual(account.serverUrl, server.baseURL)
            let report = try phone.authenticator.sync(accountId: account.id, pushToken: phone.pushToken, notificationsEnabled: true)
            XCTAssertEqual(report.serverState, .active)
            XCTAssertTrue(report.pushRegistered)
            XCTAssertEqual(try phone.authenticator.history().map(\.event), [.accountAdded])
        }
    }

    func testALoginPushIsRoutedReviewedAndApprovedWithTheCodeAndThePin() async throws {
        let server = server!
        try await offMain {
            let phone = try Phone("iPhone 15")
            let (user, account) = try phone.activated(server, "push")
            let session = try server.openSession(user)
            XCTAssertEqual(session.push, "sent")

            let data: [String: String] = try server.pushes(to: phone.pushToken).last ?? [:]
            var userInfo: [AnyHashable: Any] = data
            userInfo["aps"] = ["alert": ["title": "Login request"], "category": "LATCHKEY_LOGIN"] as [String: Any]
            let route = PushRouter(authenticator: phone.authenticator)
                .route(userInfo: userInfo, pushToken: phone.pushToken, notificationsEnabled: true)
            guard case let .showLoginNotification(handle, _, body) = route else {
                return XCTFail("\(route)")
            }
            XCTAssertFalse(body.contains("Client Portal"), "the alert is generic: \(body)")

            let states = Collected<ApprovalState>()
            let coordinator = ApprovalCoordinator(authenticator: phone.authenticator) { states.append($0) }
            guard case let .review(request, _) = try coordinator.open(handle) else {
                return XCTFail("\(coordinator.state)")
            }
            XCTAssertEqual(request.app, "Client Portal")
            XCTAssertEqual(request.origin, "203.0.113.7")
            XCTAssertEqual(request.accountId, account.id)
            try coordinator.proceed()
            try coordinator.enterCode(session.challenge)
            var pin = Data(testPin.utf8)

            XCTAssertEqual(try coordinator.unlockWithPin(&pin), .finished(.approved))
            XCTAssertEqual(pin, Data(count: 6), "the coordinator overwrote the PIN")
            XCTAssertEqual(try server.status(session), "approved")
            XCTAssertEqual(states.values.first, .busy)
        }
    }

    func testAWrongPinEndsTheRequestWithTheAttemptsLeft() async throws {
        let server = server!
        try await offMain {
            let phone = try Phone("iPhone 15")
            let (user, _) = try phone.activated(server, "wrongpin")
            let session = try server.openSession(user)
            let coordinator = ApprovalCoordinator(authenticator: phone.authenticator)
            try coordinator.open(try server.lastHandle(phone.pushToken))
            try coordinator.proceed()
            try coordinator.enterCode(session.challenge)
            var wrong = Data("111111".utf8)

            let done = try coordinator.unlockWithPin(&wrong)

            XCTAssertEqual(done, .finished(.failed(.WrongResponse(attemptsLeft: 9, retryAfter: nil))))
            XCTAssertEqual(try server.status(session), "failed")
        }
    }

    func testThisWasntMeDeniesTheLoginAndReportsIt() async throws {
        let server = server!
        try await offMain {
            let phone = try Phone("iPhone 15")
            let (user, _) = try phone.activated(server, "notme")
            let session = try server.openSession(user)
            let coordinator = ApprovalCoordinator(authenticator: phone.authenticator)
            try coordinator.open(try server.lastHandle(phone.pushToken))

            XCTAssertEqual(try coordinator.deny(.notMe), .finished(.denied(reportedFraud: true)))
            XCTAssertEqual(try server.status(session), "fraud")
            XCTAssertEqual(try phone.authenticator.history().last?.event, .reportedFraud)
        }
    }

    func testChallengeAndResponseLogInWithoutANetwork() async throws {
        let server = server!
        try await offMain {
            let phone = try Phone("iPhone 15")
            let (user, account) = try phone.activated(server, "offline")
            let session = try server.openSession(user)
            phone.network.fail(with: TransportError.Offline)

            XCTAssertThrowsError(try phone.authenticator.sync(accountId: account.id, pushToken: nil, notificationsEnabled: true)) {
                XCTAssertEqual($0 as? AuthenticatorError, .Offline)
            }
            let response = try phone.authenticator.respondToChallenge(
                accountId: account.id,
                challenge: session.challenge,
                unlock: .pin(pin: Data(testPin.utf8))
            )

            XCTAssertEqual(response.response.count, 8)
            XCTAssertEqual(response.warning, challengeWarning())
            XCTAssertEqual(try server.submitTypedResponse(session, response.response), 200)
            XCTAssertEqual(try server.status(session), "approved")
        }
    }

    func testBiometricsApproveUntilANewFingerprintInvalidatesThemThenThePinDoes() async throws {
        let server = server!
        try await offMain {
            let phone = try Phone("iPhone 15")
            let (user, account) = try phone.activated(server, "biometric")
            try phone.authenticator.enableBiometric(accountId: account.id, pin: Data(testPin.utf8))
            XCTAssertTrue(try phone.authenticator.account(accountId: account.id).biometricEnabled)

            let first = try server.openSession(user)
            let coordinator = ApprovalCoordinator(authenticator: phone.authenticator)
            try coordinator.open(try server.lastHandle(phone.pushToken))
            try coordinator.proceed()
            try coordinator.enterCode(first.challenge)
            XCTAssertEqual(try coordinator.unlockWithBiometric(prompt: "Approve login to Client Portal?"), .finished(.approved))
            XCTAssertEqual(phone.keystore.prompts, ["Approve login to Client Portal?"])

            let second = try server.openSession(user)
            try coordinator.open(try server.lastHandle(phone.pushToken))
            try coordinator.proceed()
            try coordinator.enterCode(second.challenge)
            phone.keystore.nextAnswer = .cancel
            guard case .unlock(_, _, true, .biometricCancelled?) = try coordinator.unlockWithBiometric(prompt: "Approve?") else {
                return XCTFail("\(coordinator.state)")
            }

            phone.keystore.nextAnswer = .authenticate
            phone.keystore.enrollNewBiometric()
            guard case .unlock(_, _, false, .biometricInvalidated?) = try coordinator.unlockWithBiometric(prompt: "Approve?") else {
                return XCTFail("\(coordinator.state)")
            }
            XCTAssertFalse(try phone.authenticator.account(accountId: account.id).biometricEnabled)
            var pin = Data(testPin.utf8)
            XCTAssertEqual(try coordinator.unlockWithPin(&pin), .finished(.approved))
            XCTAssertEqual(try server.status(second), "approved")
        }
    }

    func testAKeystoreThatThrowsFailsTheOperationAndTheLibraryCarriesOn() async throws {
        let server = server!
        try await offMain {
            var flaky: FlakyKeystore?
            let phone = try Phone("iPhone 15") { inner in
                let wrapper = FlakyKeystore(inner)
                flaky = wrapper
                return wrapper
            }
            let user = try server.createUser("flakykeystore")
            flaky?.failing = true

            XCTAssertThrowsError(try phone.activate(server, user)) { error in
                guard case let .Keystore(reason)? = error as? AuthenticatorError else {
                    return XCTFail("\(error)")
                }
                XCTAssertTrue(reason.contains("unexpected"), reason)
            }
            XCTAssertEqual(try phone.authenticator.accounts(), [])
            flaky?.failing = false
            guard case .active = try phone.activate(server, user) else {
                return XCTFail("the second activation did not complete")
            }
        }
    }

    func testATransportThatThrowsIsOfflineNeverACrash() async throws {
        let server = server!
        try await offMain {
            let phone = try Phone("iPhone 15")
            let (_, account) = try phone.activated(server, "flakytransport")

            struct SocketClosed: Error {}
            for failure: Error in [SocketClosed(), TransportError.Timeout, TransportError.Tls] {
                phone.network.fail(with: failure)
                XCTAssertThrowsError(try phone.authenticator.sync(accountId: account.id, pushToken: nil, notificationsEnabled: true)) {
                    XCTAssertEqual($0 as? AuthenticatorError, .Offline, "\(failure)")
                }
            }
            phone.network.fail(with: nil)
            XCTAssertEqual(try phone.authenticator.sync(accountId: account.id, pushToken: nil, notificationsEnabled: true).accountId, account.id)
        }
    }

    func testTheLogSinkNeverSeesAPinCodeOrResponse() async throws {
        let server = server!
        let sink = RecordingLogSink()
        setLogSink(sink: sink, maxLevel: .trace)
        defer { clearLogSink() }
        try await offMain {
            let phone = try Phone("iPhone 15")
            let user = try server.createUser("logs")
            _ = try phone.activate(server, user)
            let code = try server.activationCode(user)
            let account = try XCTUnwrap(phone.authenticator.accounts().first)
            let session = try server.openSession(user)
            let response = try phone.authenticator.respondToChallenge(
                accountId: account.id,
                challenge: session.challenge,
                unlock: .pin(pin: Data(testPin.utf8))
            )
            XCTAssertThrowsError(try phone.authenticator.approve(
                handle: try server.lastHandle(phone.pushToken).hex,
                typedCode: session.challenge,
                unlock: .pin(pin: Data("111111".utf8))
            ))

            let text = sink.records.map { "\($0.level) \($0.target) \($0.message)" }.joined(separator: "\n")
            XCTAssertTrue(sink.records.contains { $0.target.hasPrefix("latchkey_core") }, text)
            for secret in [testPin, "111111", code, response.response] {
                XCTAssertFalse(text.contains(secret), "the log holds a secret: \(secret)\n\(text)")
            }
        }
    }
}
