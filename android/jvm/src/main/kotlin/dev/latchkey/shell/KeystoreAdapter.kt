package dev.latchkey.shell

import dev.latchkey.ffi.KeystoreException
import dev.latchkey.ffi.KeystoreKind
import dev.latchkey.ffi.PlatformKeystore
import javax.crypto.Cipher

/**
 * What the app's keystore class implements: the Android Keystore (StrongBox when the
 * device has it, else the TEE) in an app; a software keystore in the JVM tests.
 * [KeystoreBridge] turns it into the library's [PlatformKeystore].
 *
 * Keys never leave the keystore: the library names them by alias (one alias, one key of
 * one kind) and asks for operations. Throw the [KeystoreException] variant that says what
 * happened; any other exception becomes [KeystoreException.Platform]. Implementations are
 * called off the main thread, from any thread, and must never call the `Authenticator`.
 *
 * Biometric opening is split in two so that the platform's prompt can authorise exactly
 * one cryptographic operation (Android: `BiometricPrompt` with a `CryptoObject`): the
 * adapter makes the [Cipher], the [BiometricPrompter] has the user authorise it, and the
 * adapter finishes with it.
 */
interface KeystoreAdapter {
    /** Where the keys live, as declared to servers (production servers refuse `SOFTWARE`). */
    val kind: KeystoreKind

    /**
     * Creates a non-exportable EC P-256 signing key (no user authentication) and returns its
     * public key as 65 bytes, uncompressed SEC1 `04 ‖ x ‖ y`. Throws
     * [KeystoreException.AlreadyExists] if the alias is taken.
     */
    fun createSigningKey(alias: String): ByteArray

    /** Signs [message] with `SHA256withECDSA` and returns the DER signature. */
    fun sign(alias: String, message: ByteArray): ByteArray

    /** Deletes the key under [alias] of whatever kind; an absent alias is not an error. */
    fun deleteKey(alias: String)

    /**
     * Seals [plaintext] with the AES-256-GCM sealing key [alias] (no user authentication,
     * device-bound), creating the key on first use; returns IV and ciphertext in one blob.
     */
    fun seal(alias: String, plaintext: ByteArray): ByteArray

    /** Opens a blob made by [seal] under the same alias ([KeystoreException.BadBlob] otherwise). */
    fun open(alias: String, blob: ByteArray): ByteArray

    /**
     * Creates the biometric-only key [alias]: strong biometric per use, no device-credential
     * fallback, invalidated by a new biometric enrollment. Throws
     * [KeystoreException.BiometricUnavailable] when the device has no strong biometric.
     */
    fun createBiometricKey(alias: String)

    /**
     * Seals [plaintext] under the biometric key. With an asymmetric biometric key (RSA-OAEP
     * or ECIES: encrypting uses the public half) no prompt is needed. Throws
     * [KeystoreException.Invalidated] when the key was invalidated.
     */
    fun sealBiometric(alias: String, plaintext: ByteArray): ByteArray

    /**
     * A cipher initialised to open [blob] with the biometric key [alias], usable only once the
     * user authenticated for it. Throws [KeystoreException.Invalidated] when the key was
     * invalidated (Android: `KeyPermanentlyInvalidatedException` from `Cipher.init`).
     */
    fun biometricCipher(alias: String, blob: ByteArray): Cipher

    /** Opens [blob] with [cipher], which the user just authorised through the prompt. */
    fun openWithCipher(cipher: Cipher, blob: ByteArray): ByteArray
}

/**
 * Shows the platform's biometric prompt for one cryptographic operation and waits for the
 * user (Android: `BiometricPrompt.authenticate(promptInfo, CryptoObject(cipher))` posted to
 * the main thread, the calling background thread blocking until the callback).
 *
 * Returns when the user authenticated; throws [KeystoreException.Cancelled] (dismissed,
 * "use PIN"), [KeystoreException.Lockout] (too many attempts) or
 * [KeystoreException.BiometricUnavailable].
 */
fun interface BiometricPrompter {
    /** Asks the user to authorise [cipher], showing [promptText]. */
    fun authenticate(cipher: Cipher, promptText: String)
}

/**
 * The library's [PlatformKeystore] over a [KeystoreAdapter] and a [BiometricPrompter]:
 * what the app passes to `Authenticator.open`.
 *
 * It overwrites the plaintext arrays it is given once they are sealed, and reports any
 * exception the adapter or the prompter throws that is not a [KeystoreException] as
 * [KeystoreException.Platform] (its class name and message), so a failing keystore fails
 * the operation, never the app.
 */
class KeystoreBridge(
    private val adapter: KeystoreAdapter,
    private val prompter: BiometricPrompter,
) : PlatformKeystore {
    override fun kind(): KeystoreKind = guarded { adapter.kind }

    override fun createSigningKey(alias: String): ByteArray = guarded { adapter.createSigningKey(alias) }

    override fun sign(alias: String, message: ByteArray): ByteArray = guarded { adapter.sign(alias, message) }

    override fun deleteKey(alias: String) = guarded { adapter.deleteKey(alias) }

    override fun seal(alias: String, plaintext: ByteArray): ByteArray =
        try {
            guarded { adapter.seal(alias, plaintext) }
        } finally {
            plaintext.fill(0)
        }

    override fun open(alias: String, blob: ByteArray): ByteArray = guarded { adapter.open(alias, blob) }

    override fun createBiometricKey(alias: String) = guarded { adapter.createBiometricKey(alias) }

    override fun sealBiometric(alias: String, plaintext: ByteArray): ByteArray =
        try {
            guarded { adapter.sealBiometric(alias, plaintext) }
        } finally {
            plaintext.fill(0)
        }

    override fun openBiometric(alias: String, blob: ByteArray, promptText: String): ByteArray =
        guarded {
            val cipher = adapter.biometricCipher(alias, blob)
            prompter.authenticate(cipher, promptText)
            adapter.openWithCipher(cipher, blob)
        }

    private inline fun <T> guarded(operation: () -> T): T =
        try {
            operation()
        } catch (e: KeystoreException) {
            throw e
        } catch (e: Exception) {
            throw KeystoreException.Platform(describe(e))
        }

    private companion object {
        fun describe(e: Exception): String =
            e.message?.let { "${e.javaClass.name}: ${it.take(200)}" } ?: e.javaClass.name
    }
}
