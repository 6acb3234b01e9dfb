package dev.latchkey.shell

import dev.latchkey.ffi.KeystoreException
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Test

/** The tests' keystore behaves as the library expects of a platform keystore. */
class SoftwareTestKeystoreTest {
    private val keystore = SoftwareTestKeystore()
    private val bridge = KeystoreBridge(keystore, TestBiometricPrompter(keystore))

    @Test
    fun `signing keys give uncompressed P-256 points and refuse a second key under one alias`() {
        val public = bridge.createSigningKey("a/device")
        assertEquals(65, public.size)
        assertEquals(4.toByte(), public[0])
        assertThrows(KeystoreException.AlreadyExists::class.java) { bridge.createSigningKey("a/device") }
        assertThrows(KeystoreException.WrongKeyKind::class.java) { bridge.seal("a/device", ByteArray(32)) }
    }

    @Test
    fun `a sealed blob opens only under its alias and unchanged`() {
        val blob = bridge.seal("a/seal", ByteArray(32) { 3 })
        bridge.seal("b/seal", ByteArray(1))
        assertArrayEquals(ByteArray(32) { 3 }, bridge.open("a/seal", blob))
        assertThrows(KeystoreException.BadBlob::class.java) { bridge.open("b/seal", blob) }
        blob[blob.size - 1] = (blob[blob.size - 1] + 1).toByte()
        assertThrows(KeystoreException.BadBlob::class.java) { bridge.open("a/seal", blob) }
    }

    @Test
    fun `a biometric key opens only through the prompt and dies with a new fingerprint`() {
        bridge.createBiometricKey("a/bio")
        val blob = bridge.sealBiometric("a/bio", ByteArray(32) { 9 })
        assertArrayEquals(ByteArray(32) { 9 }, bridge.openBiometric("a/bio", blob, "Approve?"))
        assertThrows(KeystoreException.Platform::class.java) {
            keystore.openWithCipher(keystore.biometricCipher("a/bio", blob), blob)
        }

        keystore.enrollNewBiometric()

        assertThrows(KeystoreException.Invalidated::class.java) { bridge.openBiometric("a/bio", blob, "Approve?") }
        assertThrows(KeystoreException.Invalidated::class.java) { bridge.sealBiometric("a/bio", ByteArray(32)) }
        keystore.biometricAvailable = false
        assertThrows(KeystoreException.BiometricUnavailable::class.java) { bridge.createBiometricKey("b/bio") }
    }
}
