import Foundation
import LatchkeyFFI
import LatchkeyShell
import XCTest

/// The user journeys through the Swift shell and the real library against the
/// `latchkey serve --dev` that `LATCHKEY_TEST_SERVER` names (see `LiveServer`); skipped
/// without it. The same journeys as the Kotlin shell's JVM tests, told from an iPhone: the
/// login flows through the app model (docs/SCREENS.md), the rest through the authenticator.
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

    func testALoginPushIsNotifiedReviewedAndApprovedThroughTheAppModel() async throws {
        let server = server!
        try await offMain {
            let phone = try Phone("iPhone 15")
            let (user, account) = try phone.activated(server, "push")
            let app = try phone.appModel()
            let session = try server.openSession(user)
            XCTAssertEqual(session.push, "sent")

            let data: [String: String] = try server.pushes(to: phone.pushToken).last ?? [:]
            guard case let .notify(alert) = app.pushReceived(data: data) else {
                return XCTFail("the login push posts nothing")
            }
            XCTAssertFalse(alert.body.contains("Client Portal"), "the alert is generic: \(alert.body)")

            try app.dispatch(event: .openRequest(handle: alert.request))
            guard case let .review(review) = app.view() else {
                return XCTFail("\(app.view())")
            }
            XCTAssertEqual(review.step, .read)
            XCTAssertEqual(review.request.app, "Client Portal")
            XCTAssertEqual(review.request.origin, "203.0.113.7")
            XCTAssertEqual(review.request.accountId, account.id)
            try app.dispatch(event: .proceed)
            try app.dispatch(event: .typeCode(code: "12345"))
            guard case let .review(typing) = app.view() else {
                return XCTFail("\(app.view())")
            }
            XCTAssertEqual(typing.step, .typeCode)
            XCTAssertNotNil(typing.problem)
            try app.dispatch(event: .typeCode(code: session.challenge))
            try app.dispatch(event: .approveWithPin(pin: Data(testPin.utf8)))

            XCTAssertEqual(app.view(), .finished(title: "Approved", text: "You can continue on the login screen."))
            XCTAssertEqual(try server.status(session), "approved")
        }
    }

    func testAWrongPinEndsTheRequestWithTheAttemptsLeftAndThisWasntMeReportsTheNext() async throws {
        let server = server!
        try await offMain {
            let phone = try Phone("iPhone 15")
            let (user, _) = try phone.activated(server, "wrongpin")
            let app = try phone.appModel()
            let session = try server.openSession(user)
            try app.dispatch(event: .openRequest(handle: try server.lastHandle(phone.pushToken)))
            try app.dispatch(event: .proceed)
            try app.dispatch(event: .typeCode(code: session.challenge))
            try app.dispatch(event: .approveWithPin(pin: Data("111111".utf8)))

            XCTAssertEqual(app.view(), .finished(title: "Not approved", text: "Wrong PIN. 9 attempts left."))
            XCTAssertEqual(try server.status(session), "failed")

            let second = try server.openSession(user)
            try app.dispatch(event: .back)
            try app.dispatch(event: .openRequest(handle: try server.lastHandle(phone.pushToken)))
            try app.dispatch(event: .deny(notMe: true))
            guard case .finished("Reported", _) = app.view() else {
                return XCTFail("\(app.view())")
            }
            XCTAssertEqual(try server.status(second), "fraud")
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
            let app = try phone.appModel()

            let first = try server.openSession(user)
            try app.dispatch(event: .openRequest(handle: try server.lastHandle(phone.pushToken)))
            try app.dispatch(event: .proceed)
            try app.dispatch(event: .typeCode(code: first.challenge))
            try app.dispatch(event: .approveWithBiometric)
            guard case .finished("Approved", _) = app.view() else {
                return XCTFail("\(app.view())")
            }
            XCTAssertEqual(phone.keystore.prompts, ["Approve login to Client Portal?"])

            let second = try server.openSession(user)
            try app.dispatch(event: .back)
            try app.dispatch(event: .openRequest(handle: try server.lastHandle(phone.pushToken)))
            try app.dispatch(event: .proceed)
            try app.dispatch(event: .typeCode(code: second.challenge))
            phone.keystore.nextAnswer = .cancel
            try app.dispatch(event: .approveWithBiometric)
            guard case let .review(cancelled) = app.view(), cancelled.step == .unlock, cancelled.biometricAvailable else {
                return XCTFail("\(app.view())")
            }

            phone.keystore.nextAnswer = .authenticate
            phone.keystore.enrollNewBiometric()
            try app.dispatch(event: .approveWithBiometric)
            guard case let .review(invalidated) = app.view(), invalidated.step == .unlock, !invalidated.biometricAvailable else {
                return XCTFail("\(app.view())")
            }
            XCTAssertFalse(try phone.authenticator.account(accountId: account.id).biometricEnabled)
            try app.dispatch(event: .approveWithPin(pin: Data(testPin.utf8)))
            guard case .finished("Approved", _) = app.view() else {
                return XCTFail("\(app.view())")
            }
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
                handle: try server.lastHandle(phone.pushToken),
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
