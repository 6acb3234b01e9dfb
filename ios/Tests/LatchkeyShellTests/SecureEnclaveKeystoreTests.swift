import CryptoKit
import Foundation
import LatchkeyFFI
import LatchkeyShell
import XCTest

/// The Secure Enclave keystore on real hardware: skipped where there is none (the
/// Simulator) or where the test runner has no keychain entitlement (`swift test` on a Mac
/// outside Xcode). The biometric key needs a finger or a face: its test runs only with
/// `LATCHKEY_TEST_BIOMETRIC=1`, on a device, with someone to answer the prompt.
final class SecureEnclaveKeystoreTests: XCTestCase {
    private var keystore: SecureEnclaveKeystore!
    private var created: [String] = []

    override func setUpWithError() throws {
        try XCTSkipUnless(SecureEnclaveKeystore.isAvailable, "no Secure Enclave here")
        keystore = SecureEnclaveKeystore(tagPrefix: "dev.latchkey.tests.\(UUID().uuidString).")
        do {
            _ = try keystore.createSigningKey(alias: alias("probe"))
        } catch KeystoreError.Platform(let reason) {
            throw XCTSkip("the keychain refused this test runner: \(reason)")
        }
    }

    override func tearDownWithError() throws {
        for alias in created {
            try? keystore?.deleteKey(alias: alias)
        }
    }

    private func alias(_ name: String) -> String {
        created.append(name)
        return name
    }

    func testTheKeystoreSaysItIsTheSecureEnclave() throws {
        XCTAssertEqual(try keystore.kind(), .secureEnclave)
    }

    func testASigningKeySignsInDerAndItsPublicKeyVerifies() throws {
        let name = alias("device")
        let publicKey = try keystore.createSigningKey(alias: name)
        XCTAssertEqual(publicKey.count, 65)
        XCTAssertEqual(publicKey.first, 0x04)

        let message = Data("latchkey/v1/approval".utf8)
        let signature = try keystore.sign(alias: name, message: message)

        let verifier = try P256.Signing.PublicKey(x963Representation: publicKey)
        XCTAssertTrue(verifier.isValidSignature(try P256.Signing.ECDSASignature(derRepresentation: signature), for: message))
        XCTAssertThrowsError(try keystore.createSigningKey(alias: name)) {
            XCTAssertEqual($0 as? KeystoreError, .AlreadyExists)
        }
    }

    func testSealingRoundTripsAndOpensOnlyUnderItsAliasUnchanged() throws {
        let seal = alias("seal"), other = alias("other")
        let secret = Data((0..<32).map { UInt8($0) })

        let blob = try keystore.seal(alias: seal, plaintext: secret)
        XCTAssertNil(blob.range(of: secret), "the plaintext is not in the blob")
        XCTAssertEqual(try keystore.open(alias: seal, blob: blob), secret)

        _ = try keystore.seal(alias: other, plaintext: Data([1]))
        XCTAssertThrowsError(try keystore.open(alias: other, blob: blob)) {
            XCTAssertEqual($0 as? KeystoreError, .BadBlob)
        }
        var changed = blob
        changed[changed.count - 1] ^= 0x01
        XCTAssertThrowsError(try keystore.open(alias: seal, blob: changed)) {
            XCTAssertEqual($0 as? KeystoreError, .BadBlob)
        }
    }

    func testKindsDoNotMixAndDeletedKeysAreGone() throws {
        let device = alias("device-kind")
        _ = try keystore.createSigningKey(alias: device)

        XCTAssertThrowsError(try keystore.seal(alias: device, plaintext: Data([1]))) {
            XCTAssertEqual($0 as? KeystoreError, .WrongKeyKind)
        }
        try keystore.deleteKey(alias: device)
        try keystore.deleteKey(alias: device)  // deleting an absent alias succeeds
        XCTAssertThrowsError(try keystore.sign(alias: device, message: Data([1]))) {
            XCTAssertEqual($0 as? KeystoreError, .KeyNotFound)
        }
        XCTAssertThrowsError(try keystore.open(alias: alias("never"), blob: Data(count: 100))) {
            XCTAssertEqual($0 as? KeystoreError, .KeyNotFound)
        }
    }

    func testTheBiometricCopyOpensOnlyAfterTheUserMatches() throws {
        try XCTSkipUnless(
            ProcessInfo.processInfo.environment["LATCHKEY_TEST_BIOMETRIC"] == "1",
            "needs a person at the sensor: set LATCHKEY_TEST_BIOMETRIC=1 on a device"
        )
        let name = alias("biometric")
        try keystore.createBiometricKey(alias: name)
        let secret = Data(repeating: 7, count: 32)

        let blob = try keystore.sealBiometric(alias: name, plaintext: secret)  // no prompt
        let opened = try keystore.openBiometric(alias: name, blob: blob, promptText: "Latchkey test: touch the sensor")

        XCTAssertEqual(opened, secret)
        XCTAssertThrowsError(try keystore.open(alias: name, blob: blob)) {
            XCTAssertEqual($0 as? KeystoreError, .WrongKeyKind)
        }
    }
}
