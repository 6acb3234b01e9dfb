import CryptoKit
import Foundation
import LatchkeyFFI
import LocalAuthentication
import Security

/// The library's `PlatformKeystore` on the Secure Enclave: every key is a non-exportable
/// P-256 key made inside it and kept in the data-protection keychain, `ThisDeviceOnly`.
///
/// | alias kind | key | protection |
/// |---|---|---|
/// | signing (`createSigningKey`, `sign`) | `.privateKeyUsage` | after first unlock, this device only |
/// | sealing (`seal`, `open`) | `.privateKeyUsage`, no user presence; blobs are ECIES to it | after first unlock, this device only |
/// | biometric (`createBiometricKey`, `sealBiometric`, `openBiometric`) | `.privateKeyUsage` + `.biometryCurrentSet`; blobs are ECIES to it | passcode set, this device only |
///
/// Signatures are `ecdsaSignatureMessageX962SHA256` (ASN.1 DER); sealing is
/// `eciesEncryptionCofactorVariableIVX963SHA256AESGCM` to the key's public half, so sealing
/// never prompts. Opening a biometric blob looks the private key up with an `LAContext`
/// carrying the prompt text (`localizedReason`) and decrypts with it: the Secure Enclave
/// itself demands the biometric match for that one decryption — the biometric is bound to
/// the key, not a yes/no from `LAContext.evaluatePolicy`. A change of enrolled fingers or
/// faces invalidates the key for good (`.biometryCurrentSet`): the keychain then no longer
/// finds it, which this keystore reports as `Invalidated` because it keeps the key's public
/// half beside it (a generic-password item without biometric protection) and so knows the
/// key existed.
///
/// Runs on devices with a Secure Enclave (iPhone, Apple-silicon or T2 Macs); the Simulator
/// has none, so `kind()` throws there and an app in the Simulator uses a test keystore. The
/// app needs the keychain entitlement its target gets by default; pass `accessGroup` only to
/// share the keys with an app extension.
///
/// Every method may block (the keychain; the biometric prompt waits for the user) and is
/// called off the main thread by the library. Plaintexts arrive as `Data` that this class
/// hands straight to Security without copies of its own; Swift values cannot be wiped
/// reliably, so keep them short-lived.
public final class SecureEnclaveKeystore: PlatformKeystore {
    private let tagPrefix: String
    private let accessGroup: String?

    /// `tagPrefix` namespaces this app's keys in the keychain (application tags and the
    /// service of the public-half items); `accessGroup` is a keychain access group shared
    /// with extensions, if any.
    public init(tagPrefix: String = "dev.latchkey.keystore.", accessGroup: String? = nil) {
        self.tagPrefix = tagPrefix
        self.accessGroup = accessGroup
    }

    /// Whether this device has a Secure Enclave to keep the keys in.
    public static var isAvailable: Bool { SecureEnclave.isAvailable }

    // MARK: PlatformKeystore

    public func kind() throws -> KeystoreKind {
        guard Self.isAvailable else {
            throw KeystoreError.Platform(reason: "this device has no Secure Enclave")
        }
        return .secureEnclave
    }

    public func createSigningKey(alias: String) throws -> Data {
        try refuseTaken(alias)
        let key = try createKey(alias: alias, kind: .signing)
        return try publicKeyBytes(of: key)
    }

    public func sign(alias: String, message: Data) throws -> Data {
        let key = try privateKey(alias: alias, kind: .signing)
        var error: Unmanaged<CFError>?
        guard let signature = SecKeyCreateSignature(key, .ecdsaSignatureMessageX962SHA256, message as CFData, &error) else {
            throw Self.failure("signing", error)
        }
        return signature as Data
    }

    public func deleteKey(alias: String) throws {
        for query in [keyQuery(alias), publicHalfQuery(alias)] {
            let status = SecItemDelete(query as CFDictionary)
            guard status == errSecSuccess || status == errSecItemNotFound else {
                throw Self.platform("deleting a key", status)
            }
        }
    }

    public func seal(alias: String, plaintext: Data) throws -> Data {
        let key: SecKey
        do {
            key = try privateKey(alias: alias, kind: .sealing)
        } catch KeystoreError.KeyNotFound {
            key = try createKey(alias: alias, kind: .sealing)
        }
        guard let publicKey = SecKeyCopyPublicKey(key) else {
            throw KeystoreError.Platform(reason: "the sealing key has no public half")
        }
        return try Self.encrypt(plaintext, to: publicKey)
    }

    public func `open`(alias: String, blob: Data) throws -> Data {
        let key = try privateKey(alias: alias, kind: .sealing)
        let ciphertext = try Self.ciphertext(of: blob)
        var error: Unmanaged<CFError>?
        guard let plaintext = SecKeyCreateDecryptedData(key, Self.sealing, ciphertext as CFData, &error) else {
            // The key is there and needs no user: a blob that does not open was changed or
            // sealed under another alias.
            error?.release()
            throw KeystoreError.BadBlob
        }
        return plaintext as Data
    }

    public func createBiometricKey(alias: String) throws {
        var problem: NSError?
        if !LAContext().canEvaluatePolicy(.deviceOwnerAuthenticationWithBiometrics, error: &problem),
           LAError.Code(rawValue: problem?.code ?? 0) != .biometryLockout {
            // No sensor, nothing enrolled, or no passcode: nothing to bind a key to. (A
            // locked-out sensor still has biometrics to bind to.)
            throw KeystoreError.BiometricUnavailable
        }
        try refuseTaken(alias)
        let key = try createKey(alias: alias, kind: .biometric)
        do {
            try storePublicHalf(of: key, alias: alias)
        } catch {
            _ = SecItemDelete(keyQuery(alias) as CFDictionary)
            throw error
        }
    }

    public func sealBiometric(alias: String, plaintext: Data) throws -> Data {
        let publicKey = try biometricPublicKey(alias: alias)
        // The private half must still exist: a key invalidated by new biometrics would take
        // a blob sealed to it down with it.
        try requirePrivateKey(alias: alias, kind: .biometric)
        return try Self.encrypt(plaintext, to: publicKey)
    }

    public func openBiometric(alias: String, blob: Data, promptText: String) throws -> Data {
        let ciphertext = try Self.ciphertext(of: blob)
        // Invalidated, missing or of another kind: said before any prompt.
        try requirePrivateKey(alias: alias, kind: .biometric)
        try Self.refuseUnusableBiometry()

        let context = LAContext()
        context.localizedReason = promptText
        context.localizedCancelTitle = "Use PIN"
        context.localizedFallbackTitle = ""  // no "Enter Password": the key takes biometrics only
        let key = try privateKey(alias: alias, kind: .biometric, context: context)
        var error: Unmanaged<CFError>?
        // The Secure Enclave asks for the biometric match here, showing `promptText`.
        guard let plaintext = SecKeyCreateDecryptedData(key, Self.sealing, ciphertext as CFData, &error) else {
            throw Self.biometricFailure(error?.takeRetainedValue())
        }
        return plaintext as Data
    }

    // MARK: Keys

    private enum KeyKind: String {
        case signing, sealing, biometric

        var label: String { "latchkey-\(rawValue)" }

        var accessFlags: SecAccessControlCreateFlags {
            switch self {
            case .signing, .sealing: return [.privateKeyUsage]
            case .biometric: return [.privateKeyUsage, .biometryCurrentSet]
            }
        }

        var protection: CFString {
            switch self {
            // Background syncs (a push-token refresh, a notice push) sign while the phone is
            // locked, after its first unlock.
            case .signing, .sealing: return kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
            // Removing the passcode deletes the biometric key, as it deletes the biometrics.
            case .biometric: return kSecAttrAccessibleWhenPasscodeSetThisDeviceOnly
            }
        }
    }

    private static var sealing: SecKeyAlgorithm { .eciesEncryptionCofactorVariableIVX963SHA256AESGCM }
    /// The first byte of every blob this keystore makes: the format, for later migrations.
    private static let blobVersion: UInt8 = 1

    private func tag(_ alias: String) -> Data { Data((tagPrefix + alias).utf8) }

    private func base(_ query: [String: Any]) -> [String: Any] {
        var query = query
        query[kSecUseDataProtectionKeychain as String] = true
        if let accessGroup {
            query[kSecAttrAccessGroup as String] = accessGroup
        }
        return query
    }

    /// Every private key item under `alias` (any kind).
    private func keyQuery(_ alias: String) -> [String: Any] {
        base([
            kSecClass as String: kSecClassKey,
            kSecAttrKeyClass as String: kSecAttrKeyClassPrivate,
            kSecAttrApplicationTag as String: tag(alias),
        ])
    }

    /// The item holding a biometric key's public half.
    private func publicHalfQuery(_ alias: String) -> [String: Any] {
        base([
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: tagPrefix + "biometric-public",
            kSecAttrAccount as String: alias,
        ])
    }

    /// A context that never shows UI: looking a key up must not prompt.
    private static func silentContext() -> LAContext {
        let context = LAContext()
        context.interactionNotAllowed = true
        return context
    }

    private func refuseTaken(_ alias: String) throws {
        var query = keyQuery(alias)
        query[kSecReturnAttributes as String] = true
        query[kSecUseAuthenticationContext as String] = Self.silentContext()
        let status = SecItemCopyMatching(query as CFDictionary, nil)
        guard status == errSecItemNotFound else {
            if status == errSecSuccess || status == errSecInteractionNotAllowed {
                throw KeystoreError.AlreadyExists
            }
            throw Self.platform("looking a key up", status)
        }
        if SecItemCopyMatching(publicHalfQuery(alias) as CFDictionary, nil) == errSecSuccess {
            throw KeystoreError.AlreadyExists  // a biometric key that was invalidated
        }
    }

    private func createKey(alias: String, kind: KeyKind) throws -> SecKey {
        var error: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(kCFAllocatorDefault, kind.protection, kind.accessFlags, &error) else {
            throw Self.failure("making the key's access control", error)
        }
        var attributes = base([
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecAttrTokenID as String: kSecAttrTokenIDSecureEnclave,
        ])
        attributes[kSecPrivateKeyAttrs as String] = [
            kSecAttrIsPermanent as String: true,
            kSecAttrApplicationTag as String: tag(alias),
            kSecAttrLabel as String: kind.label,
            kSecAttrAccessControl as String: access,
        ] as [String: Any]
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw Self.failure("making a Secure Enclave key", error)
        }
        return key
    }

    /// The private key of `kind` under `alias`. Looking a key up never prompts; `context`
    /// (carrying the prompt text) is the one the key's next use authenticates through.
    private func privateKey(alias: String, kind: KeyKind, context: LAContext? = nil) throws -> SecKey {
        var query = keyQuery(alias)
        query[kSecReturnRef as String] = true
        query[kSecReturnAttributes as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        query[kSecUseAuthenticationContext as String] = context ?? Self.silentContext()
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        guard status == errSecSuccess else {
            throw missing(alias: alias, kind: kind, status: status)
        }
        guard let item = result as? [String: Any], let ref = item[kSecValueRef as String] else {
            throw KeystoreError.Platform(reason: "the keychain returned no key")
        }
        guard (item[kSecAttrLabel as String] as? String) == kind.label else {
            throw KeystoreError.WrongKeyKind
        }
        // kSecValueRef of a key item is a SecKey (a CF type: only a forced cast converts it).
        return ref as! SecKey
    }

    /// Checks that the private key of `kind` under `alias` is there, without using it.
    private func requirePrivateKey(alias: String, kind: KeyKind) throws {
        var query = keyQuery(alias)
        query[kSecReturnAttributes as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        query[kSecUseAuthenticationContext as String] = Self.silentContext()
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        guard status == errSecSuccess else {
            throw missing(alias: alias, kind: kind, status: status)
        }
        guard let item = result as? [String: Any], (item[kSecAttrLabel as String] as? String) == kind.label else {
            throw KeystoreError.WrongKeyKind
        }
    }

    /// Why a private key lookup found nothing.
    private func missing(alias: String, kind: KeyKind, status: OSStatus) -> KeystoreError {
        guard status == errSecItemNotFound else {
            return Self.platform("looking a key up", status)
        }
        if kind == .biometric, SecItemCopyMatching(publicHalfQuery(alias) as CFDictionary, nil) == errSecSuccess {
            // The public half is still here, the private half is not: new biometrics
            // invalidated it (.biometryCurrentSet).
            return .Invalidated
        }
        return .KeyNotFound
    }

    private func publicKeyBytes(of key: SecKey) throws -> Data {
        var error: Unmanaged<CFError>?
        guard let publicKey = SecKeyCopyPublicKey(key),
              let bytes = SecKeyCopyExternalRepresentation(publicKey, &error) as Data?
        else {
            throw Self.failure("reading the public key", error)
        }
        // An EC public key's external representation is ANSI X9.63: 04 ‖ x ‖ y.
        guard bytes.count == 65, bytes.first == 0x04 else {
            throw KeystoreError.Platform(reason: "unexpected public key form")
        }
        return bytes
    }

    private func storePublicHalf(of key: SecKey, alias: String) throws {
        var item = publicHalfQuery(alias)
        item[kSecValueData as String] = try publicKeyBytes(of: key)
        item[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let status = SecItemAdd(item as CFDictionary, nil)
        guard status == errSecSuccess else {
            throw status == errSecDuplicateItem ? KeystoreError.AlreadyExists : Self.platform("storing a public key", status)
        }
    }

    private func biometricPublicKey(alias: String) throws -> SecKey {
        var query = publicHalfQuery(alias)
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        switch status {
        case errSecSuccess:
            break
        case errSecItemNotFound:
            // No biometric key under this alias; maybe a key of another kind.
            var other = keyQuery(alias)
            other[kSecUseAuthenticationContext as String] = Self.silentContext()
            let found = SecItemCopyMatching(other as CFDictionary, nil)
            throw found == errSecSuccess || found == errSecInteractionNotAllowed
                ? KeystoreError.WrongKeyKind : KeystoreError.KeyNotFound
        default:
            throw Self.platform("reading a public key", status)
        }
        var error: Unmanaged<CFError>?
        let attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeyClass as String: kSecAttrKeyClassPublic,
            kSecAttrKeySizeInBits as String: 256,
        ]
        guard let bytes = result as? Data,
              let key = SecKeyCreateWithData(bytes as CFData, attributes as CFDictionary, &error)
        else {
            throw Self.failure("reading a public key", error)
        }
        return key
    }

    // MARK: Sealing

    private static func encrypt(_ plaintext: Data, to publicKey: SecKey) throws -> Data {
        guard SecKeyIsAlgorithmSupported(publicKey, .encrypt, sealing) else {
            throw KeystoreError.Platform(reason: "ECIES is not supported for this key")
        }
        var error: Unmanaged<CFError>?
        guard let ciphertext = SecKeyCreateEncryptedData(publicKey, sealing, plaintext as CFData, &error) else {
            throw failure("sealing", error)
        }
        var blob = Data([blobVersion])
        blob.append(ciphertext as Data)
        return blob
    }

    private static func ciphertext(of blob: Data) throws -> Data {
        // 65 bytes of ephemeral public key and a 16-byte tag at the least.
        guard blob.count > 1 + 65 + 16, blob.first == blobVersion else {
            throw KeystoreError.BadBlob
        }
        return blob.dropFirst()
    }

    // MARK: Errors

    /// Lockout or no biometrics before the prompt: nothing for the user to answer.
    private static func refuseUnusableBiometry() throws {
        var problem: NSError?
        guard !LAContext().canEvaluatePolicy(.deviceOwnerAuthenticationWithBiometrics, error: &problem),
              let code = problem.flatMap({ LAError.Code(rawValue: $0.code) })
        else {
            return
        }
        switch code {
        case .biometryLockout:
            throw KeystoreError.Lockout
        case .biometryNotAvailable, .biometryNotEnrolled, .passcodeNotSet:
            throw KeystoreError.BiometricUnavailable
        default:
            return  // let the key's own use say what is wrong
        }
    }

    /// What a failed biometric decryption means: the user said no, the sensor is locked,
    /// the key was invalidated — or, after a successful match, the blob did not open. The
    /// keychain reports the LocalAuthentication error itself or wraps it; both are read.
    static func biometricFailure(_ error: CFError?) -> KeystoreError {
        guard let error else {
            return .Platform(reason: "the Secure Enclave failed without saying why")
        }
        let outer = error as Error as NSError
        var candidates = [outer]
        if let underlying = outer.userInfo[NSUnderlyingErrorKey] as? NSError {
            candidates.append(underlying)
        }
        for candidate in candidates {
            if let mapped = biometricFailure(domain: candidate.domain, code: candidate.code) {
                // Failed matches end in a generic "authentication failed": after the last
                // allowed one the sensor is locked, which the user should be told.
                return mapped == .Cancelled && isLockedOut() ? .Lockout : mapped
            }
        }
        return .Platform(reason: "\(outer.domain) \(outer.code)")
    }

    static func biometricFailure(domain: String, code: Int) -> KeystoreError? {
        switch domain {
        case NSOSStatusErrorDomain:
            switch OSStatus(code) {
            case errSecUserCanceled, errSecAuthFailed, errSecInteractionNotAllowed: return .Cancelled
            case errSecItemNotFound: return .Invalidated
            case errSecDecode, errSecParam: return .BadBlob
            default: return nil
            }
        case LAErrorDomain:
            guard let code = LAError.Code(rawValue: code) else {
                return nil
            }
            switch code {
            case .userCancel, .appCancel, .systemCancel, .userFallback, .authenticationFailed, .notInteractive:
                return .Cancelled
            case .biometryLockout:
                return .Lockout
            case .biometryNotAvailable, .biometryNotEnrolled, .passcodeNotSet:
                return .BiometricUnavailable
            default:
                return nil
            }
        case "CryptoTokenKit":
            // TKError.Code: -4 canceled by user, -5 authentication failed, -6 object not
            // found, -3 corrupted data, -8 bad parameter.
            switch code {
            case -4, -5: return .Cancelled
            case -6: return .Invalidated
            case -3, -8: return .BadBlob
            default: return nil
            }
        default:
            return nil
        }
    }

    private static func isLockedOut() -> Bool {
        var problem: NSError?
        return !LAContext().canEvaluatePolicy(.deviceOwnerAuthenticationWithBiometrics, error: &problem)
            && problem.map { LAError.Code(rawValue: $0.code) == .biometryLockout } == true
    }

    private static func failure(_ doing: String, _ error: Unmanaged<CFError>?) -> KeystoreError {
        guard let error = error?.takeRetainedValue() else {
            return .Platform(reason: "\(doing) failed")
        }
        let described = error as Error as NSError
        return .Platform(reason: "\(doing) failed: \(described.domain) \(described.code)")
    }

    private static func platform(_ doing: String, _ status: OSStatus) -> KeystoreError {
        let text = SecCopyErrorMessageString(status, nil) as String? ?? "OSStatus \(status)"
        return .Platform(reason: "\(doing) failed: \(text)")
    }
}
