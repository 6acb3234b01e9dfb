import Foundation
import LatchkeyFFI
import LatchkeyShell
import XCTest

/// The approval state machine over a fake authenticator: the states, the events that fit
/// them, and what each typed error does to the flow.
final class ApprovalCoordinatorTests: XCTestCase {
    private let handle = RequestHandle(hex: handleHex)!

    private func fake(mode: MatchingMode = .code, biometric: Bool = false) -> FakeAuthenticator {
        let fake = FakeAuthenticator()
        fake.onPendingRequest = { _ in pendingApproval(mode: mode) }
        fake.onAccount = { id in accountSummary(id: id, biometric: biometric) }
        return fake
    }

    func testCodeModeGoesReviewTypeCodeUnlockFinished() throws {
        let fake = fake()
        var sent: (String, String?, Unlock)?
        fake.onApprove = { sent = ($0, $1, $2) }
        let coordinator = ApprovalCoordinator(authenticator: fake)

        XCTAssertEqual(try coordinator.open(handle), .review(pendingApproval(), biometricAvailable: false))
        XCTAssertEqual(try coordinator.proceed(), .typeCode(pendingApproval(), biometricAvailable: false, problem: nil))
        XCTAssertEqual(
            try coordinator.enterCode("583 920"),
            .unlock(pendingApproval(), typedCode: "583920", biometricAvailable: false, problem: nil)
        )
        var pin = Data("402917".utf8)
        XCTAssertEqual(try coordinator.unlockWithPin(&pin), .finished(.approved))

        XCTAssertEqual(sent?.0, handleHex)
        XCTAssertEqual(sent?.1, "583920")
        XCTAssertEqual(sent?.2, .pin(pin: Data("402917".utf8)))
        XCTAssertEqual(pin, Data(count: 6), "the coordinator overwrote the PIN")
    }

    func testTapModeSkipsTheCode() throws {
        let coordinator = ApprovalCoordinator(authenticator: fake(mode: .tap))
        try coordinator.open(handle)

        XCTAssertEqual(
            try coordinator.proceed(),
            .unlock(pendingApproval(mode: .tap), typedCode: nil, biometricAvailable: false, problem: nil)
        )
    }

    func testAMalformedCodeKeepsTheUserTyping() throws {
        let coordinator = ApprovalCoordinator(authenticator: fake())
        try coordinator.open(handle)
        try coordinator.proceed()

        for code in ["", "12345", "1234567", "012345", "12a456", "１２３４５６"] {
            XCTAssertEqual(
                try coordinator.enterCode(code),
                .typeCode(pendingApproval(), biometricAvailable: false, problem: .malformed),
                "code \(code)"
            )
        }
    }

    func testEventsThatDoNotFitTheStateThrowMisuse() throws {
        let coordinator = ApprovalCoordinator(authenticator: fake())

        XCTAssertThrowsError(try coordinator.proceed()) { XCTAssertTrue($0 is ApprovalCoordinator.Misuse) }
        XCTAssertThrowsError(try coordinator.enterCode("583920"))
        XCTAssertThrowsError(try coordinator.deny(.notMe))
        try coordinator.open(handle)
        XCTAssertThrowsError(try coordinator.open(handle), "a request is already open")
        XCTAssertThrowsError(try coordinator.unlockWithBiometric(prompt: "Approve?"))
    }

    func testAFailedFetchFinishesWithTheTypedError() throws {
        let fake = FakeAuthenticator()
        fake.onPendingRequest = { _ in throw AuthenticatorError.Expired }

        XCTAssertEqual(try ApprovalCoordinator(authenticator: fake).open(handle), .finished(.failed(.Expired)))
    }

    func testAWrongPinEndsTheFlowWithTheAttemptsLeft() throws {
        let fake = fake()
        fake.onApprove = { _, _, _ in throw AuthenticatorError.WrongResponse(attemptsLeft: 9, retryAfter: nil) }
        let coordinator = ApprovalCoordinator(authenticator: fake)
        try coordinator.open(handle)
        try coordinator.proceed()
        try coordinator.enterCode("583920")
        var pin = Data("111111".utf8)

        XCTAssertEqual(
            try coordinator.unlockWithPin(&pin),
            .finished(.failed(.WrongResponse(attemptsLeft: 9, retryAfter: nil)))
        )
        XCTAssertEqual(pin, Data(count: 6))
    }

    func testBiometricRefusalsKeepTheRequestAnswerableWithThePin() throws {
        let fake = fake(biometric: true)
        var next: AuthenticatorError = .BiometricCancelled
        fake.onApprove = { _, _, _ in throw next }
        let coordinator = ApprovalCoordinator(authenticator: fake)
        try coordinator.open(handle)
        try coordinator.proceed()
        try coordinator.enterCode("583920")
        let unlock = { (available: Bool, problem: UnlockProblem) in
            ApprovalState.unlock(pendingApproval(), typedCode: "583920", biometricAvailable: available, problem: problem)
        }

        XCTAssertEqual(try coordinator.unlockWithBiometric(prompt: "Approve?"), unlock(true, .biometricCancelled))
        next = .BiometricLockout
        XCTAssertEqual(try coordinator.unlockWithBiometric(prompt: "Approve?"), unlock(false, .biometricLockout))
        XCTAssertThrowsError(try coordinator.unlockWithBiometric(prompt: "Approve?"), "biometrics are off now")
        fake.onApprove = { _, _, _ in throw AuthenticatorError.BadInput(reason: "PIN") }
        var short = Data("12".utf8)
        XCTAssertEqual(try coordinator.unlockWithPin(&short), unlock(false, .malformedPin))
    }

    func testThisWasntMeDeniesAndReports() throws {
        let fake = fake()
        var denied: DenialReason?
        fake.onDeny = { _, reason in denied = reason }
        let states = Collected<ApprovalState>()
        let coordinator = ApprovalCoordinator(authenticator: fake) { states.append($0) }
        try coordinator.open(handle)

        XCTAssertEqual(try coordinator.deny(.notMe), .finished(.denied(reportedFraud: true)))
        XCTAssertEqual(denied, .notMe)
        XCTAssertEqual(states.values.first, .busy)
        XCTAssertEqual(states.values.last, .finished(.denied(reportedFraud: true)))
    }

    func testAChallengeIsSixDigitsWithoutALeadingZero() {
        XCTAssertTrue(ApprovalCoordinator.isChallenge("100000"))
        XCTAssertTrue(ApprovalCoordinator.isChallenge("999999"))
        XCTAssertFalse(ApprovalCoordinator.isChallenge("099999"))
        XCTAssertFalse(ApprovalCoordinator.isChallenge("٥٨٣٩٢٠"))
    }
}

/// The push router over a fake authenticator.
final class PushRouterTests: XCTestCase {
    func testALoginPushBecomesTheGenericNotification() {
        let fake = FakeAuthenticator()
        var given: [String: String]?
        fake.onHandlePush = { data in
            given = data
            return PushAlert(request: handleHex, title: "Login request", body: "Open Latchkey to review it")
        }
        let userInfo: [AnyHashable: Any] = ["aps": ["alert": "x"], "latchkey": "1", "request": handleHex]

        let route = PushRouter(authenticator: fake).route(userInfo: userInfo, pushToken: nil, notificationsEnabled: true)

        guard case let .showLoginNotification(handle, title, body) = route else {
            return XCTFail("\(route)")
        }
        XCTAssertEqual(handle.hex, handleHex)
        XCTAssertEqual(title, "Login request")
        XCTAssertEqual(body, "Open Latchkey to review it")
        XCTAssertEqual(given, ["latchkey": "1", "request": handleHex], "only the string values reach the library")
    }

    func testAPushNoAccountCanAnswerIsIgnored() {
        let fake = FakeAuthenticator()
        fake.onHandlePush = { _ in throw AuthenticatorError.UnknownRequest }

        let route = PushRouter(authenticator: fake)
            .route(userInfo: ["latchkey": "1", "request": handleHex], pushToken: nil, notificationsEnabled: true)

        guard case .ignored(.noAccount, .UnknownRequest?) = route else {
            return XCTFail("\(route)")
        }
    }

    func testANoticeSyncsEveryAccountThatStillHasItsSecrets() {
        let fake = FakeAuthenticator()
        fake.onAccounts = {
            [accountSummary(id: 1), accountSummary(id: 2, state: .wiped(at: 5)), accountSummary(id: 3)]
        }
        var synced: [Int64] = []
        fake.onSync = { id, token, enabled in
            XCTAssertEqual(token, "abcd")
            XCTAssertTrue(enabled)
            synced.append(id)
            if id == 3 {
                throw AuthenticatorError.Offline
            }
            return syncReport(accountId: id)
        }

        let route = PushRouter(authenticator: fake)
            .route(userInfo: ["latchkey": "1", "notice": "revoked"], pushToken: "abcd", notificationsEnabled: true)

        guard case let .accountsSynced(reports, failures) = route else {
            return XCTFail("\(route)")
        }
        XCTAssertEqual(synced, [1, 3])
        XCTAssertEqual(reports.map(\.accountId), [1])
        XCTAssertEqual(failures, [3: .Offline])
    }

    func testOtherNotificationsAreNotLatchkeysAndBadOnesAreIgnored() {
        let router = PushRouter(authenticator: FakeAuthenticator())

        guard case .notLatchkey = router.route(userInfo: ["aps": [String: Any]()], pushToken: nil, notificationsEnabled: true) else {
            return XCTFail("not passed on")
        }
        guard case .ignored(.malformed, nil) = router.route(
            userInfo: ["latchkey": "1", "request": "nope"],
            pushToken: nil,
            notificationsEnabled: true
        ) else {
            return XCTFail("not ignored")
        }
    }
}
