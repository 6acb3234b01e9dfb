package dev.latchkey.shell

import dev.latchkey.ffi.KeystoreException
import dev.latchkey.ffi.KeystoreKind
import java.math.BigInteger
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.SecureRandom
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import java.util.Collections
import java.util.IdentityHashMap
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The JVM tests' keystore: EC P-256 signing keys and AES-256-GCM sealing keys from
 * `java.security`, held in memory, with simulated biometrics — what an Android Keystore
 * implementation of [KeystoreAdapter] does, without the hardware.
 *
 * Biometric keys behave like Android's `setInvalidatedByBiometricEnrollment(true)` keys:
 * [enrollNewBiometric] (a new fingerprint on the phone) invalidates every biometric key made
 * before it, and a biometric cipher opens nothing until [TestBiometricPrompter] authorised
 * it. Declares itself [KeystoreKind.SOFTWARE], which only development servers accept.
 */
class SoftwareTestKeystore : KeystoreAdapter {
    private sealed interface Key {
        class Signing(val pair: KeyPair) : Key

        class Sealing(val key: SecretKey) : Key

        class Biometric(val key: SecretKey, val generation: Int) : Key
    }

    private val keys = mutableMapOf<String, Key>()
    private val authorised: MutableSet<Cipher> = Collections.newSetFromMap(IdentityHashMap())
    private val random = SecureRandom()
    private var generation = 0

    /** Whether the "device" has a strong biometric enrolled. */
    @Volatile
    var biometricAvailable: Boolean = true

    override val kind: KeystoreKind = KeystoreKind.SOFTWARE

    /** A new fingerprint was enrolled on the phone: every existing biometric key is invalidated. */
    @Synchronized
    fun enrollNewBiometric() {
        generation++
    }

    /** The aliases of the keys held now. */
    @Synchronized
    fun aliases(): Set<String> = keys.keys.toSet()

    @Synchronized
    override fun createSigningKey(alias: String): ByteArray {
        if (alias in keys) throw KeystoreException.AlreadyExists()
        val generator = KeyPairGenerator.getInstance("EC")
        generator.initialize(ECGenParameterSpec("secp256r1"), random)
        val pair = generator.generateKeyPair()
        keys[alias] = Key.Signing(pair)
        val point = (pair.public as ECPublicKey).w
        return byteArrayOf(4) + fixed32(point.affineX) + fixed32(point.affineY)
    }

    @Synchronized
    override fun sign(alias: String, message: ByteArray): ByteArray {
        val key = keyOf<Key.Signing>(alias)
        return Signature.getInstance("SHA256withECDSA").run {
            initSign(key.pair.private, random)
            update(message)
            sign()
        }
    }

    @Synchronized
    override fun deleteKey(alias: String) {
        keys.remove(alias)
    }

    @Synchronized
    override fun seal(alias: String, plaintext: ByteArray): ByteArray {
        val key = when (val existing = keys[alias]) {
            null -> Key.Sealing(newAesKey()).also { keys[alias] = it }
            is Key.Sealing -> existing
            else -> throw KeystoreException.WrongKeyKind()
        }
        return encrypt(key.key, alias, plaintext)
    }

    @Synchronized
    override fun open(alias: String, blob: ByteArray): ByteArray {
        val key = keyOf<Key.Sealing>(alias)
        val cipher = decryptCipher(key.key, alias, blob)
        return finish(cipher, blob)
    }

    @Synchronized
    override fun createBiometricKey(alias: String) {
        if (!biometricAvailable) throw KeystoreException.BiometricUnavailable()
        if (alias in keys) throw KeystoreException.AlreadyExists()
        keys[alias] = Key.Biometric(newAesKey(), generation)
    }

    @Synchronized
    override fun sealBiometric(alias: String, plaintext: ByteArray): ByteArray =
        encrypt(validBiometricKey(alias).key, alias, plaintext)

    @Synchronized
    override fun biometricCipher(alias: String, blob: ByteArray): Cipher =
        decryptCipher(validBiometricKey(alias).key, alias, blob)

    @Synchronized
    override fun openWithCipher(cipher: Cipher, blob: ByteArray): ByteArray {
        // Android refuses a per-use-authentication key's cipher that no prompt authorised.
        if (!authorised.remove(cipher)) throw KeystoreException.Platform("UserNotAuthenticatedException")
        return finish(cipher, blob)
    }

    /** What a successful biometric prompt does to the cipher it was shown for. */
    @Synchronized
    internal fun authorise(cipher: Cipher) {
        authorised += cipher
    }

    private fun validBiometricKey(alias: String): Key.Biometric {
        val key = keyOf<Key.Biometric>(alias)
        if (key.generation != generation) throw KeystoreException.Invalidated()
        return key
    }

    private inline fun <reified K : Key> keyOf(alias: String): K =
        when (val key = keys[alias]) {
            null -> throw KeystoreException.KeyNotFound()
            is K -> key
            else -> throw KeystoreException.WrongKeyKind()
        }

    private fun newAesKey(): SecretKey = KeyGenerator.getInstance("AES").run {
        init(256, random)
        generateKey()
    }

    private fun encrypt(key: SecretKey, alias: String, plaintext: ByteArray): ByteArray {
        val iv = ByteArray(IV_BYTES).also(random::nextBytes)
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, key, GCMParameterSpec(128, iv))
        cipher.updateAAD(alias.toByteArray())
        return iv + cipher.doFinal(plaintext)
    }

    private fun decryptCipher(key: SecretKey, alias: String, blob: ByteArray): Cipher {
        if (blob.size < IV_BYTES + 16) throw KeystoreException.BadBlob()
        return Cipher.getInstance("AES/GCM/NoPadding").apply {
            init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, blob.copyOfRange(0, IV_BYTES)))
            updateAAD(alias.toByteArray())
        }
    }

    private fun finish(cipher: Cipher, blob: ByteArray): ByteArray =
        try {
            cipher.doFinal(blob, IV_BYTES, blob.size - IV_BYTES)
        } catch (e: AEADBadTagException) {
            throw KeystoreException.BadBlob()
        }

    private companion object {
        const val IV_BYTES = 12

        fun fixed32(n: BigInteger): ByteArray {
            val bytes = n.toByteArray().dropWhile { it == 0.toByte() }.toByteArray()
            return ByteArray(32 - bytes.size) + bytes
        }
    }
}

/**
 * The tests' biometric prompt: answers as told by [next] and remembers what each prompt said.
 */
class TestBiometricPrompter(private val keystore: SoftwareTestKeystore) : BiometricPrompter {
    /** What the simulated user does at a prompt. */
    enum class Answer {
        AUTHENTICATE,
        CANCEL,
        LOCKOUT,
    }

    /** What the user does at the next prompts (the last answer repeats). */
    @Volatile
    var next: Answer = Answer.AUTHENTICATE

    private val shown = Collections.synchronizedList(mutableListOf<String>())

    /** The prompt texts shown so far. */
    val prompts: List<String>
        get() = shown.toList()

    override fun authenticate(cipher: Cipher, promptText: String) {
        shown += promptText
        when (next) {
            Answer.AUTHENTICATE -> keystore.authorise(cipher)
            Answer.CANCEL -> throw KeystoreException.Cancelled()
            Answer.LOCKOUT -> throw KeystoreException.Lockout()
        }
    }
}
