package dev.latchkey.shell

import dev.latchkey.ffi.Authenticator
import dev.latchkey.ffi.AuthenticatorConfig
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.KeystoreException
import dev.latchkey.ffi.KeystoreKind
import dev.latchkey.ffi.LogLevel
import dev.latchkey.ffi.LogRecord
import dev.latchkey.ffi.LogSink
import dev.latchkey.ffi.Platform
import dev.latchkey.ffi.PlatformKeystore
import dev.latchkey.ffi.Transport
import dev.latchkey.ffi.TransportException
import dev.latchkey.ffi.TransportRequest
import dev.latchkey.ffi.TransportResponse
import dev.latchkey.ffi.Unlock
import dev.latchkey.ffi.clearLogSink
import dev.latchkey.ffi.parseServerProfile
import dev.latchkey.ffi.setLogSink
import java.nio.file.Files
import java.util.Collections
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith

/**
 * The binding itself (docs/STYLE.md §15): errors arrive as typed exceptions with their fields,
 * objects close, host hooks that throw fail an operation and never the library, logs reach
 * the sink without secrets. The protocol is tested in Rust; here only what crosses.
 */
@ExtendWith(LiveServerExtension::class)
class BindingTest {
    @Test
    fun `errors arrive as typed exceptions with their fields and their Rust text`() {
        Phone("Pixel 8").use { phone ->
            val missing = assertThrows(AuthenticatorException.NoSuchAccount::class.java) {
                phone.authenticator.account(42)
            }
            assertEquals(42L, missing.accountId)
            assertEquals("no account 42 on this phone", missing.toString())

            val malformed = assertThrows(AuthenticatorException.BadInput::class.java) {
                phone.authenticator.handlePush(mapOf("latchkey" to "1"))
            }
            assertEquals("the push payload is not Latchkey's", malformed.reason)

            val profile = assertThrows(AuthenticatorException.BadInput::class.java) { parseServerProfile("{}") }
            assertTrue(profile.reason.startsWith("the server profile is not valid"), profile.reason)
        }
    }

    @Test
    fun `a wrong activation code arrives with the tries left, and nothing is stored`(server: LatchkeyServer) {
        Phone("Pixel 8").use { phone ->
            val user = server.createUser("wrongcode")
            val activation = server.startActivation(user)
            val activate = { code: String, pin: String, confirmation: String ->
                phone.authenticator.activate(
                    server.profileJson,
                    activation.ticketJson,
                    code,
                    pin.toByteArray(),
                    confirmation.toByteArray(),
                    phone.name,
                    phone.pushToken,
                )
            }

            val wrong = assertThrows(AuthenticatorException.WrongActivationCode::class.java) {
                activate("0000000000000", PIN, PIN)
            }
            assertEquals(2UL, wrong.attemptsLeft)
            val weak = assertThrows(AuthenticatorException.WeakPin::class.java) {
                activate(server.activationCode(user), "123456", "123456")
            }
            assertTrue(weak.reason.isNotEmpty())
            assertThrows(AuthenticatorException.PinMismatch::class.java) {
                activate(server.activationCode(user), PIN, "402918")
            }
            assertEquals(emptyList<Any>(), phone.authenticator.accounts())
            assertEquals(emptySet<String>(), phone.keystore.aliases(), "the attempt's keys were deleted")
        }
    }

    @Test
    fun `a closed authenticator refuses calls instead of crashing`() {
        val phone = Phone("Pixel 8")
        phone.use { assertEquals(emptyList<Any>(), it.authenticator.accounts()) }

        assertThrows(IllegalStateException::class.java) { phone.authenticator.accounts() }
        phone.authenticator.close() // closing twice is harmless
    }

    @Test
    fun `a Kotlin keystore that throws fails the operation, and the library carries on`(server: LatchkeyServer) {
        val dir = Files.createTempDirectory("latchkey-phone-")
        val keystore = SoftwareTestKeystore()
        val flaky = FlakyKeystore(KeystoreBridge(keystore, TestBiometricPrompter(keystore)))
        Authenticator.open(
            dir.resolve("device.db").toString(),
            flaky,
            JdkHttpTransport(),
            AuthenticatorConfig(Platform.ANDROID, "1.0.0"),
        ).use { authenticator ->
            val user = server.createUser("flakykeystore")
            val activate = {
                authenticator.activate(
                    server.profileJson,
                    server.startActivation(user).ticketJson,
                    server.activationCode(user),
                    pin(),
                    pin(),
                    "Pixel 8",
                    null,
                )
            }
            flaky.failing = true

            val error = assertThrows(AuthenticatorException.Keystore::class.java) { activate() }

            assertTrue(error.reason.contains("IllegalStateException"), error.reason)
            assertTrue(error.reason.contains("the secure element is busy"), error.reason)
            assertEquals(emptyList<Any>(), authenticator.accounts())
            flaky.failing = false
            assertInstanceOf(dev.latchkey.ffi.ActivationOutcome.Active::class.java, activate())
        }
        dir.toFile().deleteRecursively()
    }

    @Test
    fun `a Kotlin transport that throws is offline, never a crash`(server: LatchkeyServer) {
        val dir = Files.createTempDirectory("latchkey-phone-")
        val keystore = SoftwareTestKeystore()
        val transport = ThrowingTransport(JdkHttpTransport())
        Authenticator.open(
            dir.resolve("device.db").toString(),
            KeystoreBridge(keystore, TestBiometricPrompter(keystore)),
            transport,
            AuthenticatorConfig(Platform.ANDROID, "1.0.0"),
        ).use { authenticator ->
            val user = server.createUser("flakytransport")
            val outcome = authenticator.activate(
                server.profileJson,
                server.startActivation(user).ticketJson,
                server.activationCode(user),
                pin(),
                pin(),
                "Pixel 8",
                null,
            )
            val account = assertInstanceOf(dev.latchkey.ffi.ActivationOutcome.Active::class.java, outcome).account

            for (failure in listOf(RuntimeException("socket closed"), TransportException.Timeout())) {
                transport.failure = failure
                assertThrows(AuthenticatorException.Offline::class.java) {
                    authenticator.sync(account.id, null, true)
                }
            }
            transport.failure = null
            assertEquals(account.id, authenticator.sync(account.id, null, true).accountId)
        }
        dir.toFile().deleteRecursively()
    }

    @Test
    fun `the keystore bridge reports foreign exceptions as Platform and overwrites plaintexts`() {
        val keystore = SoftwareTestKeystore()
        val bridge = KeystoreBridge(
            object : KeystoreAdapter by keystore {
                override fun sign(alias: String, message: ByteArray): ByteArray =
                    throw java.security.ProviderException("hardware unavailable")
            },
            TestBiometricPrompter(keystore),
        )
        val error = assertThrows(KeystoreException.Platform::class.java) { bridge.sign("d", byteArrayOf(1)) }
        assertEquals("java.security.ProviderException: hardware unavailable", error.reason)
        assertThrows(KeystoreException.KeyNotFound::class.java) { bridge.open("none", ByteArray(40)) }

        val secret = ByteArray(32) { 7 }
        val blob = bridge.seal("s", secret)
        assertTrue(secret.all { it == 0.toByte() }, "the plaintext was overwritten")
        assertArrayEquals(ByteArray(32) { 7 }, bridge.open("s", blob))
    }

    @Test
    fun `a corrupt database is StorageCorrupt and left untouched`() {
        val dir = Files.createTempDirectory("latchkey-phone-")
        val database = dir.resolve("device.db")
        val garbage = "SQLite format 3\u0000 and then a shopping list. ".repeat(300).toByteArray()
        Files.write(database, garbage)
        val keystore = SoftwareTestKeystore()

        assertThrows(AuthenticatorException.StorageCorrupt::class.java) {
            Authenticator.open(
                database.toString(),
                KeystoreBridge(keystore, TestBiometricPrompter(keystore)),
                JdkHttpTransport(),
                AuthenticatorConfig(Platform.ANDROID, "1.0.0"),
            )
        }
        assertArrayEquals(garbage, Files.readAllBytes(database))
        dir.toFile().deleteRecursively()
    }

    @Test
    fun `the log sink gets the library's records and never a PIN, code or response`(server: LatchkeyServer) {
        val records = Collections.synchronizedList(mutableListOf<LogRecord>())
        setLogSink(
            object : LogSink {
                override fun log(record: LogRecord) {
                    records += record
                }
            },
            LogLevel.TRACE,
        )
        try {
            Phone("Pixel 8").use { phone ->
                val user = server.createUser("logs")
                phone.activate(server, user)
                val code = server.activationCode(user)
                val account = phone.authenticator.accounts().single()
                val session = server.openSession(user)
                val response = phone.authenticator.respondToChallenge(account.id, session.challenge, Unlock.Pin(pin()))
                val wrong = runCatching {
                    phone.authenticator.approve(
                        server.pushesTo(phone.pushToken).last().getValue("request"),
                        session.challenge,
                        Unlock.Pin("111111".toByteArray()),
                    )
                }
                assertInstanceOf(AuthenticatorException.WrongResponse::class.java, wrong.exceptionOrNull())

                val text = records.joinToString("\n") { "${it.level} ${it.target} ${it.message}" }
                assertTrue(records.any { it.target.startsWith("latchkey_core") }, text)
                for (secret in listOf(PIN, "111111", code, response.response)) {
                    assertFalse(text.contains(secret), "the log holds a secret: $secret\n$text")
                }
            }
        } finally {
            clearLogSink()
        }
    }

    @Test
    fun `the server profile is checked and summarised`(server: LatchkeyServer) {
        val profile = parseServerProfile(server.profileJson)

        assertEquals(server.baseUrl, profile.baseUrl)
        assertTrue(Regex("sha256:[0-9a-f]{64}").matches(profile.fingerprint), profile.fingerprint)
    }

    /** A keystore whose signing throws an exception the interface does not declare, when told to. */
    private class FlakyKeystore(private val inner: PlatformKeystore) : PlatformKeystore by inner {
        @Volatile
        var failing = false

        override fun kind(): KeystoreKind = inner.kind()

        override fun sign(alias: String, message: ByteArray): ByteArray {
            if (failing) throw IllegalStateException("the secure element is busy")
            return inner.sign(alias, message)
        }
    }

    /** A transport that throws [failure] (declared or not) instead of sending, when set. */
    private class ThrowingTransport(private val inner: Transport) : Transport {
        @Volatile
        var failure: Exception? = null

        override fun send(request: TransportRequest): TransportResponse {
            failure?.let { throw it }
            return inner.send(request)
        }
    }
}
