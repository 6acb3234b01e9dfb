package dev.latchkey.android

import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyInfo
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import androidx.biometric.BiometricManager
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import dev.latchkey.ffi.KeystoreException
import dev.latchkey.ffi.KeystoreKind
import dev.latchkey.shell.KeystoreAdapter
import java.math.BigInteger
import java.security.Key
import java.security.KeyFactory
import java.security.KeyPair
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
import javax.crypto.SecretKeyFactory
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
 * Every key is made in StrongBox when the device has it ([PackageManager.FEATURE_STRONGBOX_KEYSTORE]);
 * a key StrongBox refuses is made in the TEE instead (per key), and each new key's actual
 * level is read back from its `KeyInfo`: a key in software is deleted and the operation fails
 * ([KeystoreException.Platform]). [kind] is the weakest level of the keys made so far
 * (remembered in the app's private preferences): `STRONG_BOX` only while every key is there.
 * Key creation is serialised in the process ([KeyCreation]). The biometric key is asymmetric so that
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
    private val levels = appContext.getSharedPreferences(LEVEL_PREFS, Context.MODE_PRIVATE)

    override val kind: KeystoreKind
        get() = if (strongBox && !levels.getBoolean(BELOW_STRONGBOX, false)) KeystoreKind.STRONG_BOX else KeystoreKind.HARDWARE_BACKED

    private fun keyStore(): KeyStore = KeyStore.getInstance(PROVIDER).apply { load(null) }

    override fun createSigningKey(alias: String): ByteArray {
        val pair = KeyCreation.serialised {
            refuseTaken(alias)
            generate<KeyPair>(alias, { it.private }) { inStrongBox ->
                val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
                    .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
                    .setDigests(KeyProperties.DIGEST_SHA256)
                    .setIsStrongBoxBacked(inStrongBox)
                    .build()
                val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, PROVIDER)
                generator.initialize(spec)
                generator.generateKeyPair()
            }
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
        val key = KeyCreation.findOrCreate({ sealingKey(alias) }, { createSealingKey(alias) })
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
        KeyCreation.serialised {
            refuseTaken(alias)
            generate<KeyPair>(alias, { it.private }) { inStrongBox ->
                val builder = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_DECRYPT)
                    .setKeySize(2048)
                    .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_RSA_OAEP)
                    .setDigests(KeyProperties.DIGEST_SHA256)
                    .setUserAuthenticationRequired(true)
                    .setInvalidatedByBiometricEnrollment(true)
                    .setIsStrongBoxBacked(inStrongBox)
                if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                    // Timeout 0: a prompt for every use; strong biometrics only, no device credential.
                    builder.setUserAuthenticationParameters(0, KeyProperties.AUTH_BIOMETRIC_STRONG)
                } else {
                    // API 28-29: -1 means "every use", and such a key accepts only biometrics.
                    @Suppress("DEPRECATION")
                    builder.setUserAuthenticationValidityDurationSeconds(-1)
                }
                val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_RSA, PROVIDER)
                generator.initialize(builder.build())
                generator.generateKeyPair()
            }
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

    /** Makes the sealing key of [alias]; called under [KeyCreation]'s lock by [seal]. */
    private fun createSealingKey(alias: String): SecretKey =
        generate<SecretKey>(alias, { it }) { inStrongBox ->
            val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setKeySize(256)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setRandomizedEncryptionRequired(true)
                .setIsStrongBoxBacked(inStrongBox)
                .build()
            val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, PROVIDER)
            generator.init(spec)
            generator.generateKey()
        }

    /**
     * Generates [alias]'s key with [make] — in StrongBox when the device has it, else (or when
     * StrongBox refuses this key) in the TEE — then checks the level its `KeyInfo` reports: a
     * key in software is deleted and refused; a key below StrongBox lowers [kind].
     */
    private fun <T> generate(alias: String, keyOf: (T) -> Key, make: (strongBox: Boolean) -> T): T {
        val (made, askedStrongBox) = KeyCreation.withFallback(strongBox, make)
        val actual = KeyCreation.kindOf(securityLevel(keyOf(made)), insideSecureHardware(keyOf(made)))
        if (actual == null) {
            deleteKey(alias)
            throw KeystoreException.Platform("the key was not made in secure hardware")
        }
        if (strongBox && (!askedStrongBox || actual != KeystoreKind.STRONG_BOX)) {
            levels.edit().putBoolean(BELOW_STRONGBOX, true).apply()
        }
        return made
    }

    private fun keyInfo(key: Key): KeyInfo =
        if (key is SecretKey) {
            SecretKeyFactory.getInstance(key.algorithm, PROVIDER).getKeySpec(key, KeyInfo::class.java) as KeyInfo
        } else {
            KeyFactory.getInstance(key.algorithm, PROVIDER).getKeySpec(key, KeyInfo::class.java)
        }

    private fun securityLevel(key: Key): Int? =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) keyInfo(key).securityLevel else null

    @Suppress("DEPRECATION") // the only signal before API 31; securityLevel is read first
    private fun insideSecureHardware(key: Key): Boolean = keyInfo(key).isInsideSecureHardware

    private companion object {
        const val PROVIDER = "AndroidKeyStore"
        const val LEVEL_PREFS = "latchkey_keystore"
        const val BELOW_STRONGBOX = "below_strongbox"
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
