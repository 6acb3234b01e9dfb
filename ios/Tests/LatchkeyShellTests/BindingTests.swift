import Foundation
import LatchkeyFFI
import LatchkeyShell
import XCTest

/// The binding itself (docs/STYLE.md §15), against the real library and no server: errors arrive
/// as typed Swift errors with their fields and the Rust text, records and enums convert,
/// host hooks that throw fail one operation and never the process, a damaged database is
/// reported and left alone. Flows that need a server are in `LiveServerTests`.
final class BindingTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("latchkey-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func openAuthenticator(
        keystore: PlatformKeystore = SoftwareTestKeystore(),
        transport: Transport = URLSessionTransport()
    ) throws -> Authenticator {
        try Authenticator.open(
            databasePath: directory.appendingPathComponent("device.db").path,
            keystore: keystore,
            transport: transport,
            config: AuthenticatorConfig(platform: .ios, appVersion: "1.0.0")
        )
    }

    func testErrorsArriveTypedWithTheirFieldsAndTheRustText() throws {
        let authenticator = try openAuthenticator()

        XCTAssertEqual(try authenticator.accounts(), [])
        XCTAssertThrowsError(try authenticator.account(accountId: 42)) { error in
            XCTAssertEqual(error as? AuthenticatorError, .NoSuchAccount(accountId: 42))
            XCTAssertEqual((error as? AuthenticatorError)?.description, "no account 42 on this phone")
        }
        XCTAssertThrowsError(try authenticator.handlePush(data: ["latchkey": "1"])) { error in
            XCTAssertEqual(error as? AuthenticatorError, .BadInput(reason: "the push payload is not Latchkey's"))
        }
        XCTAssertThrowsError(try parseServerProfile(json: "{}")) { error in
            guard case let .BadInput(reason)? = error as? AuthenticatorError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(reason.hasPrefix("the server profile is not valid"), reason)
        }
    }

    func testAMalformedPinIsRefusedBeforeAnythingIsSent() throws {
        let authenticator = try openAuthenticator()

        XCTAssertThrowsError(
            try authenticator.respondToChallenge(accountId: 1, challenge: "583920", unlock: .pin(pin: Data("12".utf8)))
        ) { error in
            XCTAssertNotNil(error as? AuthenticatorError, "\(error)")
        }
    }

    func testTheChallengeWarningNamesTheUsersOwnLoginScreen() {
        XCTAssertFalse(challengeWarning().isEmpty)
    }

    func testAKeystoreThatThrowsAnUndeclaredErrorFailsOpeningNotTheProcess() {
        XCTAssertThrowsError(try openAuthenticator(keystore: BrokenKeystore())) { error in
            guard case .Keystore? = error as? AuthenticatorError else {
                return XCTFail("\(error)")
            }
        }
    }

    func testADamagedDatabaseIsStorageCorruptAndLeftUntouched() throws {
        let database = directory.appendingPathComponent("device.db")
        let garbage = Data(String(repeating: "SQLite format 3\u{0} and then a shopping list. ", count: 300).utf8)
        try garbage.write(to: database)

        XCTAssertThrowsError(try openAuthenticator()) { error in
            XCTAssertEqual(error as? AuthenticatorError, .StorageCorrupt)
        }
        XCTAssertEqual(try Data(contentsOf: database), garbage)
    }

    func testASinkThatThrowsLosesItsRecordsAndNothingElse() throws {
        // (What reaches a sink, and that it holds no secret, is in LiveServerTests: without a
        // server the library has little to log.)
        final class Throwing: LogSink {
            func log(record: LogRecord) throws { throw LogSinkError.Failed(reason: "full") }
        }
        setLogSink(sink: Throwing(), maxLevel: .trace)
        defer { clearLogSink() }
        let authenticator = try openAuthenticator()

        XCTAssertEqual(try authenticator.accounts(), [])
        XCTAssertThrowsError(try authenticator.account(accountId: 7)) {
            XCTAssertEqual($0 as? AuthenticatorError, .NoSuchAccount(accountId: 7))
        }
    }

    func testRecordsAndEnumsConvertBothWays() {
        // Values made in Swift and compared after a round trip through Rust's Display.
        XCTAssertEqual(AuthenticatorError.WrongResponse(attemptsLeft: 9, retryAfter: nil).description,
                       "the PIN (or the response) was wrong")
        XCTAssertEqual(KeystoreError.Invalidated.description,
                       "the biometric key was invalidated by a change of enrolled biometrics")
        XCTAssertNotEqual(TransportError.Offline.description, "")
    }
}
