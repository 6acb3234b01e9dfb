import CryptoKit
import Foundation
import LatchkeyFFI

/// The tests' keystore: CryptoKit P-256 signing keys and AES-256-GCM sealing keys held in
/// memory, with simulated biometrics — what `SecureEnclaveKeystore` does, without the
/// hardware or a finger, so the binding and the flows run in the Simulator and on a Mac.
///
/// Biometric keys behave like `.biometryCurrentSet` keys: `enrollNewBiometric()` (a new
/// finger on the phone) invalidates every biometric key made before it, and opening asks
/// the simulated user (`nextAnswer`) with the prompt text. Declares itself `.software`,
/// which only development servers accept.
final class SoftwareTestKeystore: PlatformKeystore, @unchecked Sendable {
    // @unchecked: `lock` guards every mutable field.

    enum Answer {
        case authenticate, cancel, lockout
    }

    private enum Key {
        case signing(P256.Signing.PrivateKey)
        case sealing(SymmetricKey)
        case biometric(SymmetricKey, generation: Int)
    }

    private let lock = NSLock()
    private var keys: [String: Key] = [:]
    private var generation = 0
    private var answer = Answer.authenticate
    private var shown: [String] = []

    /// Whether the simulated phone has a biometric enrolled.
    var biometricAvailable = true

    /// What the simulated user does at the next prompts (the last answer repeats).
    var nextAnswer: Answer {
        get { locked { answer } }
        set { locked { answer = newValue } }
    }

    /// The prompt texts shown so far.
    var prompts: [String] { locked { shown } }

    /// The aliases of the keys held now.
    var aliases: Set<String> { locked { Set(keys.keys) } }

    /// A new fingerprint was enrolled: every existing biometric key is invalidated.
    func enrollNewBiometric() {
        locked { generation += 1 }
    }

    func kind() throws -> KeystoreKind { .software }

    func createSigningKey(alias: String) throws -> Data {
        try locked {
            guard keys[alias] == nil else { throw KeystoreError.AlreadyExists }
            let key = P256.Signing.PrivateKey()
            keys[alias] = .signing(key)
            return key.publicKey.x963Representation
        }
    }

    func sign(alias: String, message: Data) throws -> Data {
        try locked {
            guard case let .signing(key) = try entry(alias) else { throw KeystoreError.WrongKeyKind }
            return try key.signature(for: message).derRepresentation
        }
    }

    func deleteKey(alias: String) throws {
        locked { keys[alias] = nil }
    }

    func seal(alias: String, plaintext: Data) throws -> Data {
        try locked {
            let sealing: SymmetricKey
            switch keys[alias] {
            case nil:
                sealing = SymmetricKey(size: .bits256)
                keys[alias] = .sealing(sealing)
            case let .sealing(existing)?:
                sealing = existing
            default:
                throw KeystoreError.WrongKeyKind
            }
            return try Self.encrypt(plaintext, sealing, alias)
        }
    }

    func `open`(alias: String, blob: Data) throws -> Data {
        try locked {
            guard case let .sealing(sealing) = try entry(alias) else { throw KeystoreError.WrongKeyKind }
            return try Self.decrypt(blob, sealing, alias)
        }
    }

    func createBiometricKey(alias: String) throws {
        try locked {
            guard biometricAvailable else { throw KeystoreError.BiometricUnavailable }
            guard keys[alias] == nil else { throw KeystoreError.AlreadyExists }
            keys[alias] = .biometric(SymmetricKey(size: .bits256), generation: generation)
        }
    }

    func sealBiometric(alias: String, plaintext: Data) throws -> Data {
        try locked { try Self.encrypt(plaintext, try validBiometricKey(alias), alias) }
    }

    func openBiometric(alias: String, blob: Data, promptText: String) throws -> Data {
        try locked {
            // As with the Secure Enclave: an invalidated key fails before any prompt.
            let key = try validBiometricKey(alias)
            shown.append(promptText)
            switch answer {
            case .authenticate: return try Self.decrypt(blob, key, alias)
            case .cancel: throw KeystoreError.Cancelled
            case .lockout: throw KeystoreError.Lockout
            }
        }
    }

    private func entry(_ alias: String) throws -> Key {
        guard let key = keys[alias] else { throw KeystoreError.KeyNotFound }
        return key
    }

    private func validBiometricKey(_ alias: String) throws -> SymmetricKey {
        guard case let .biometric(key, made) = try entry(alias) else { throw KeystoreError.WrongKeyKind }
        guard made == generation else { throw KeystoreError.Invalidated }
        return key
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private static func encrypt(_ plaintext: Data, _ key: SymmetricKey, _ alias: String) throws -> Data {
        guard let combined = try AES.GCM.seal(plaintext, using: key, authenticating: Data(alias.utf8)).combined else {
            throw KeystoreError.Platform(reason: "no combined form")
        }
        return combined
    }

    private static func decrypt(_ blob: Data, _ key: SymmetricKey, _ alias: String) throws -> Data {
        do {
            let box = try AES.GCM.SealedBox(combined: blob)
            return try AES.GCM.open(box, using: key, authenticating: Data(alias.utf8))
        } catch {
            throw KeystoreError.BadBlob
        }
    }
}

/// A keystore that fails every call with an error the generated code does not know (an
/// `NSError`, as a buggy keystore might throw) while `failing` is set.
final class FlakyKeystore: PlatformKeystore, @unchecked Sendable {
    // @unchecked: `failing` is only flipped by the test between calls.
    private let inner: PlatformKeystore
    var failing = false

    init(_ inner: PlatformKeystore) {
        self.inner = inner
    }

    private func check() throws {
        if failing {
            throw NSError(domain: "SecureElement", code: 42, userInfo: [NSLocalizedDescriptionKey: "the secure element is busy"])
        }
    }

    func kind() throws -> KeystoreKind { try inner.kind() }

    func createSigningKey(alias: String) throws -> Data {
        try check()
        return try inner.createSigningKey(alias: alias)
    }

    func sign(alias: String, message: Data) throws -> Data {
        try check()
        return try inner.sign(alias: alias, message: message)
    }

    func deleteKey(alias: String) throws {
        try inner.deleteKey(alias: alias)
    }

    func seal(alias: String, plaintext: Data) throws -> Data {
        try check()
        return try inner.seal(alias: alias, plaintext: plaintext)
    }

    func `open`(alias: String, blob: Data) throws -> Data {
        try check()
        return try inner.open(alias: alias, blob: blob)
    }

    func createBiometricKey(alias: String) throws {
        try check()
        try inner.createBiometricKey(alias: alias)
    }

    func sealBiometric(alias: String, plaintext: Data) throws -> Data {
        try check()
        return try inner.sealBiometric(alias: alias, plaintext: plaintext)
    }

    func openBiometric(alias: String, blob: Data, promptText: String) throws -> Data {
        try check()
        return try inner.openBiometric(alias: alias, blob: blob, promptText: promptText)
    }
}

/// A keystore whose `kind()` throws something that is not a `KeystoreError`.
final class BrokenKeystore: PlatformKeystore {
    struct Broken: Error {}

    func kind() throws -> KeystoreKind { throw Broken() }
    func createSigningKey(alias: String) throws -> Data { throw Broken() }
    func sign(alias: String, message: Data) throws -> Data { throw Broken() }
    func deleteKey(alias: String) throws { throw Broken() }
    func seal(alias: String, plaintext: Data) throws -> Data { throw Broken() }
    func `open`(alias: String, blob: Data) throws -> Data { throw Broken() }
    func createBiometricKey(alias: String) throws { throw Broken() }
    func sealBiometric(alias: String, plaintext: Data) throws -> Data { throw Broken() }
    func openBiometric(alias: String, blob: Data, promptText: String) throws -> Data { throw Broken() }
}

/// A transport that can be taken offline (airplane mode) or made to throw any error.
final class SwitchableTransport: Transport, @unchecked Sendable {
    // @unchecked: `lock` guards `failure`.
    private let online: Transport
    private let lock = NSLock()
    private var failure: Error?

    init(_ online: Transport) {
        self.online = online
    }

    /// What every request throws from now on; `nil` to go back online.
    func fail(with error: Error?) {
        lock.lock()
        failure = error
        lock.unlock()
    }

    func send(request: TransportRequest) throws -> TransportResponse {
        lock.lock()
        let failure = self.failure
        lock.unlock()
        if let failure {
            throw failure
        }
        return try online.send(request: request)
    }
}

/// A log sink that keeps every record.
final class RecordingLogSink: LogSink, @unchecked Sendable {
    // @unchecked: `lock` guards `kept`.
    private let lock = NSLock()
    private var kept: [LogRecord] = []

    var records: [LogRecord] {
        lock.lock()
        defer { lock.unlock() }
        return kept
    }

    func log(record: LogRecord) throws {
        lock.lock()
        kept.append(record)
        lock.unlock()
    }
}
