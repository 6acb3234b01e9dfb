package dev.latchkey.android

import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import androidx.biometric.BiometricManager
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import dev.latchkey.ffi.KeystoreException
import dev.latchkey.ffi.KeystoreKind
import dev.latchkey.shell.KeystoreAdapter
import java.math.BigInteger
import java.security.KeyFactory
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import java.security.spec.MGF1ParameterSpec
import java.security.spec.X509EncodedKeySpec
import javax.crypto.AEADBadTagException
import javax.crypto.BadPaddingException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import javax.crypto.spec.OAEPParameterSpec
import javax.crypto.spec.PSource

/**
 * The JVM module's [KeystoreAdapter] on the Android Keystore; wrap it in
 * `KeystoreBridge(AndroidKeystoreAdapter(context), ActivityBiometricPrompter(...))` and hand
 * that to `Authenticator.open`.
 *
 * | alias kind | key |
 * |---|---|
 * | signing | EC P-256, `PURPOSE_SIGN`, SHA-256 — the device key; `SHA256withECDSA` (DER) |
 * | sealing | AES-256-GCM, no user authentication; blob = 12-byte IV ‖ ciphertext ‖ tag, the alias as AAD |
 * | biometric | RSA-2048 OAEP (SHA-256), `setUserAuthenticationRequired(true)`, authentication for every use by `BIOMETRIC_STRONG` only, `setInvalidatedByBiometricEnrollment(true)` |
 *
 * Every key is made in StrongBox when the device has it ([PackageManager.FEATURE_STRONGBOX_KEYSTORE]),
 * else in the TEE, and [kind] says which: a device that declares StrongBox but refuses a key
 * there fails that operation ([KeystoreException.Platform]) rather than silently keeping the
 * key in the TEE under a StrongBox declaration. The biometric key is asymmetric so that
 * sealing (with a software copy of its public half) needs no prompt; opening needs the
 * private half, whose [Cipher] only a [androidx.biometric.BiometricPrompt] with a
 * `CryptoObject` can authorise.
 *
 * Called off the main thread by the library, from any thread; the Android Keystore is
 * thread-safe.
 */
class AndroidKeystoreAdapter(context: Context) : KeystoreAdapter {
    private val appContext: Context = context.applicationContext
    private val strongBox: Boolean =
        appContext.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)

    override val kind: KeystoreKind = if (strongBox) KeystoreKind.STRONG_BOX else KeystoreKind.HARDWARE_BACKED

    private fun keyStore(): KeyStore = KeyStore.getInstance(PROVIDER).apply { load(null) }

    override fun createSigningKey(alias: String): ByteArray {
        refuseTaken(alias)
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
            .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
            .setDigests(KeyProperties.DIGEST_SHA256)
            .setIsStrongBoxBacked(strongBox)
            .build()
        val pair = generate {
            val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, PROVIDER)
            generator.initialize(spec)
            generator.generateKeyPair()
        }
        val point = (pair.public as ECPublicKey).w
        return byteArrayOf(4) + fixed32(point.affineX) + fixed32(point.affineY)
    }

    override fun sign(alias: String, message: ByteArray): ByteArray {
        val key = privateKey(alias, KeyProperties.KEY_ALGORITHM_EC)
        return Signature.getInstance("SHA256withECDSA").run {
            initSign(key)
            update(message)
            sign()
        }
    }

    override fun deleteKey(alias: String) {
        val store = keyStore()
        if (store.containsAlias(alias)) store.deleteEntry(alias)
    }

    override fun seal(alias: String, plaintext: ByteArray): ByteArray {
        val key = sealingKey(alias) ?: createSealingKey(alias)
        val cipher = Cipher.getInstance(AES_GCM)
        cipher.init(Cipher.ENCRYPT_MODE, key)
        cipher.updateAAD(alias.toByteArray())
        return cipher.iv + cipher.doFinal(plaintext)
    }

    override fun open(alias: String, blob: ByteArray): ByteArray {
        val key = sealingKey(alias) ?: throw KeystoreException.KeyNotFound()
        if (blob.size < IV_BYTES + TAG_BYTES) throw KeystoreException.BadBlob()
        val cipher = Cipher.getInstance(AES_GCM)
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(TAG_BYTES * 8, blob, 0, IV_BYTES))
        cipher.updateAAD(alias.toByteArray())
        return try {
            cipher.doFinal(blob, IV_BYTES, blob.size - IV_BYTES)
        } catch (e: AEADBadTagException) {
            throw KeystoreException.BadBlob()
        }
    }

    override fun createBiometricKey(alias: String) {
        if (BiometricManager.from(appContext).canAuthenticate(BIOMETRIC_STRONG) != BiometricManager.BIOMETRIC_SUCCESS) {
            throw KeystoreException.BiometricUnavailable()
        }
        refuseTaken(alias)
        val builder = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_DECRYPT)
            .setKeySize(2048)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_RSA_OAEP)
            .setDigests(KeyProperties.DIGEST_SHA256)
            .setUserAuthenticationRequired(true)
            .setInvalidatedByBiometricEnrollment(true)
            .setIsStrongBoxBacked(strongBox)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            // Timeout 0: a prompt for every use; strong biometrics only, no device credential.
            builder.setUserAuthenticationParameters(0, KeyProperties.AUTH_BIOMETRIC_STRONG)
        } else {
            // API 28-29: -1 means "every use", and such a key accepts only biometrics.
            @Suppress("DEPRECATION")
            builder.setUserAuthenticationValidityDurationSeconds(-1)
        }
        generate {
            val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_RSA, PROVIDER)
            generator.initialize(builder.build())
            generator.generateKeyPair()
        }
    }

    override fun sealBiometric(alias: String, plaintext: ByteArray): ByteArray {
        // Initialising a decryption fails at once for a key that new biometrics invalidated;
        // sealing to it would make a blob nothing can open.
        decryptionCipher(alias)
        val certificate = keyStore().getCertificate(alias) ?: throw KeystoreException.KeyNotFound()
        // A software copy of the public half: the Keystore's own would enforce the key's
        // purposes (decrypt only) on encryption too.
        val publicKey = KeyFactory.getInstance(KeyProperties.KEY_ALGORITHM_RSA)
            .generatePublic(X509EncodedKeySpec(certificate.publicKey.encoded))
        val cipher = Cipher.getInstance(RSA_OAEP)
        cipher.init(Cipher.ENCRYPT_MODE, publicKey, OAEP)
        return cipher.doFinal(plaintext)
    }

    override fun biometricCipher(alias: String, blob: ByteArray): Cipher {
        if (blob.size != RSA_BYTES) throw KeystoreException.BadBlob()
        return decryptionCipher(alias)
    }

    override fun openWithCipher(cipher: Cipher, blob: ByteArray): ByteArray =
        try {
            cipher.doFinal(blob)
        } catch (e: BadPaddingException) {
            throw KeystoreException.BadBlob()
        }

    /** The private-key cipher of biometric key [alias], initialised to decrypt; unusable until a prompt authorises it. */
    private fun decryptionCipher(alias: String): Cipher {
        val key = privateKey(alias, KeyProperties.KEY_ALGORITHM_RSA)
        val cipher = Cipher.getInstance(RSA_OAEP)
        try {
            cipher.init(Cipher.DECRYPT_MODE, key, OAEP)
        } catch (e: KeyPermanentlyInvalidatedException) {
            throw KeystoreException.Invalidated()
        }
        return cipher
    }

    private fun refuseTaken(alias: String) {
        if (keyStore().containsAlias(alias)) throw KeystoreException.AlreadyExists()
    }

    private fun privateKey(alias: String, algorithm: String): PrivateKey {
        val key = keyStore().getKey(alias, null) ?: throw KeystoreException.KeyNotFound()
        if (key !is PrivateKey || key.algorithm != algorithm) throw KeystoreException.WrongKeyKind()
        return key
    }

    private fun sealingKey(alias: String): SecretKey? {
        val key = keyStore().getKey(alias, null) ?: return null
        if (key !is SecretKey) throw KeystoreException.WrongKeyKind()
        return key
    }

    private fun createSealingKey(alias: String): SecretKey {
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setKeySize(256)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setRandomizedEncryptionRequired(true)
            .setIsStrongBoxBacked(strongBox)
            .build()
        return generate {
            val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, PROVIDER)
            generator.init(spec)
            generator.generateKey()
        }
    }

    /** Runs a key generation, reporting a StrongBox refusal as what it is. */
    private inline fun <T> generate(make: () -> T): T =
        try {
            make()
        } catch (e: StrongBoxUnavailableException) {
            throw KeystoreException.Platform("StrongBox refused the key")
        }

    private companion object {
        const val PROVIDER = "AndroidKeyStore"
        const val AES_GCM = "AES/GCM/NoPadding"
        const val RSA_OAEP = "RSA/ECB/OAEPWithSHA-256AndMGF1Padding"
        const val IV_BYTES = 12
        const val TAG_BYTES = 16
        const val RSA_BYTES = 256

        /** OAEP with SHA-256 and MGF1-SHA-1: what the Android Keystore supports on every release. */
        val OAEP = OAEPParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA1, PSource.PSpecified.DEFAULT)

        fun fixed32(n: BigInteger): ByteArray {
            val bytes = n.toByteArray().dropWhile { it == 0.toByte() }.toByteArray()
            return ByteArray(32 - bytes.size) + bytes
        }
    }
}
