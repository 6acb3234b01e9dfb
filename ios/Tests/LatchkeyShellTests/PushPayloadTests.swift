import LatchkeyShell
import XCTest

final class PushPayloadTests: XCTestCase {
    private let handle = "00112233445566778899aabbccddeeff"

    func testALoginPushYieldsItsRequestHandle() throws {
        let payload = PushPayload(userInfo: ["latchkey": "1", "request": handle])

        let expected = try XCTUnwrap(RequestHandle(hex: handle))
        XCTAssertEqual(payload, .loginRequest(expected))
    }

    func testTheApsDictionaryAndOtherKeysAreIgnored() {
        let userInfo: [AnyHashable: Any] = [
            "aps": ["alert": "Login request — open Latchkey to review"],
            "latchkey": "1",
            "request": handle,
            "gcm.message_id": "0:1",
        ]

        guard case .loginRequest(let parsed) = PushPayload(userInfo: userInfo) else {
            return XCTFail("not read as a login request")
        }
        XCTAssertEqual(parsed.hex, handle)
    }

    func testANotificationWithoutTheLatchkeyKeyIsNotLatchkeys() {
        XCTAssertEqual(PushPayload(userInfo: [:]), .notLatchkey)
        XCTAssertEqual(PushPayload(userInfo: ["request": handle]), .notLatchkey)
    }

    func testAPayloadVersionOtherThanTheString1IsMalformed() {
        let versions: [Any] = ["2", "", "01", "1 ", "v1", 1]
        for version in versions {
            XCTAssertEqual(
                PushPayload(userInfo: ["latchkey": version, "request": handle]),
                .malformed(.unsupportedVersion),
                "version \(version)"
            )
        }
    }

    func testALatchkeyNotificationWithoutARequestIsMalformed() {
        XCTAssertEqual(PushPayload(userInfo: ["latchkey": "1"]), .malformed(.missingRequest))
    }

    func testANoticePushAsksForASyncAndNamesItsKind() {
        XCTAssertEqual(PushPayload(userInfo: ["latchkey": "1", "notice": "revoked"]), .notice("revoked"))
        XCTAssertEqual(
            PushPayload(userInfo: ["latchkey": "1", "notice": "Revoked!"]),
            .malformed(.invalidNotice)
        )
        XCTAssertEqual(PushPayload(userInfo: ["latchkey": "1", "notice": 5]), .malformed(.invalidNotice))
    }

    func testARequestThatIsNot32LowercaseHexCharactersIsMalformed() {
        let requests = [
            "",
            "00112233445566778899AABBCCDDEEFF",
            "00112233445566778899aabbccddeef",
            "00112233445566778899aabbccddeeff0",
            "00112233445566778899aabbccddeefg",
            " 0112233445566778899aabbccddeeff",
            "00112233-4455-6677-8899-aabbccdd",
            "٠0112233445566778899aabbccddeeff",
        ]
        for request in requests {
            XCTAssertEqual(
                PushPayload(userInfo: ["latchkey": "1", "request": request]),
                .malformed(.invalidRequest),
                "request \(request)"
            )
            XCTAssertNil(RequestHandle(hex: request), "request \(request)")
        }
    }

    func testARequestThatIsNotAStringIsMalformed() {
        let userInfo: [AnyHashable: Any] = ["latchkey": "1", "request": [handle]]

        XCTAssertEqual(PushPayload(userInfo: userInfo), .malformed(.invalidRequest))
    }

    func testARequestHandlePrintsAsItsHex() {
        XCTAssertEqual(RequestHandle(hex: handle)?.description, handle)
    }
}
