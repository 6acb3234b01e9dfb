package dev.latchkey.shell

import dev.latchkey.ffi.AccountSummary
import dev.latchkey.ffi.ActivationOutcome
import dev.latchkey.ffi.AppModel
import dev.latchkey.ffi.AppOptions
import dev.latchkey.ffi.Authenticator
import dev.latchkey.ffi.AuthenticatorConfig
import dev.latchkey.ffi.Platform
import dev.latchkey.ffi.Transport
import dev.latchkey.ffi.TransportException
import dev.latchkey.ffi.TransportRequest
import dev.latchkey.ffi.TransportResponse
import java.nio.file.Files
import java.util.UUID

/** The PIN every test phone uses. */
const val PIN = "402917"

/** A fresh copy of [PIN]'s bytes (the library and the shell overwrite the arrays they get). */
fun pin(): ByteArray = PIN.toByteArray()

/**
 * A phone as an Android app would assemble it, on the JVM: the real library
 * ([Authenticator], loaded through JNA), the test keystore behind the [KeystoreBridge], the
 * JDK transport behind a switch that can take the phone offline, and a push token of its own.
 */
class Phone(val name: String) : AutoCloseable {
    val dir = Files.createTempDirectory("latchkey-phone-")
    val keystore = SoftwareTestKeystore()
    val prompter = TestBiometricPrompter(keystore)
    val network = SwitchableTransport(JdkHttpTransport())
    val pushToken = "fcm-${UUID.randomUUID()}"
    val authenticator: Authenticator = Authenticator.open(
        dir.resolve("device.db").toString(),
        KeystoreBridge(keystore, prompter),
        network,
        AuthenticatorConfig(Platform.ANDROID, "1.0.0"),
    )

    /** Activates this phone for [user] with the SMS code the server sent. */
    fun activate(server: LatchkeyServer, user: LatchkeyServer.User, replace: String? = null): ActivationOutcome {
        val activation = server.startActivation(user, replace)
        return authenticator.activate(
            server.profileJson,
            activation.ticketJson,
            server.activationCode(user),
            pin(),
            pin(),
            name,
            pushToken,
        )
    }

    /** Activates this phone for a new user and returns both. */
    fun activated(server: LatchkeyServer, prefix: String): Pair<LatchkeyServer.User, AccountSummary> {
        val user = server.createUser(prefix)
        val outcome = activate(server, user)
        check(outcome is ActivationOutcome.Active) { "activation did not complete: $outcome" }
        return user to outcome.account
    }

    /**
     * The app model over this phone's authenticator, as the app builds it: [builtinProfile] is
     * the server profile JSON an app for one relying party ships (`null`: a generic app that
     * takes the profile from the activation link).
     */
    fun appModel(builtinProfile: String? = null): AppModel =
        AppModel(authenticator, AppOptions(builtinProfile, name))

    override fun close() {
        authenticator.close()
        dir.toFile().deleteRecursively()
    }
}

/** A [Transport] that can be taken offline, as airplane mode does. */
class SwitchableTransport(private val online: Transport) : Transport {
    @Volatile
    var offline = false

    override fun send(request: TransportRequest): TransportResponse {
        if (offline) throw TransportException.Offline()
        return online.send(request)
    }
}
