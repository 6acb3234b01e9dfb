package dev.latchkey.shell

import dev.latchkey.ffi.AccountState
import dev.latchkey.ffi.ActivationOutcome
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.EnrollmentState
import dev.latchkey.ffi.HistoryEvent
import dev.latchkey.ffi.MatchingMode
import dev.latchkey.ffi.Unlock
import dev.latchkey.ffi.challengeWarning
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith

/**
 * The authenticator's own journeys through the real library (JNA) against a real
 * `latchkey serve --dev` on loopback, below the app model: activation, offline
 * challenge/response and removal. The screens on top are driven in [AppModelTest].
 */
@ExtendWith(LiveServerExtension::class)
class JourneyTest {
    @Test
    fun `a phone activates with the SMS code and registers its push token`(server: LatchkeyServer) {
        Phone("Pixel 8").use { phone ->
            val user = server.createUser("activation")

            val outcome = phone.activate(server, user)

            val account = assertInstanceOf(ActivationOutcome.Active::class.java, outcome).account
            assertEquals(AccountState.Active, account.state)
            assertEquals(1UL, account.epoch)
            assertEquals(MatchingMode.CODE, account.matchingMode)
            assertTrue(account.label.contains(user.username), account.label)
            assertEquals(server.baseUrl, account.serverUrl)
            val report = phone.authenticator.sync(account.id, phone.pushToken, true)
            assertEquals(EnrollmentState.ACTIVE, report.serverState)
            assertTrue(report.pushRegistered)
            assertEquals(listOf(HistoryEvent.ACCOUNT_ADDED), phone.authenticator.history().map { it.event })
        }
    }

    @Test
    fun `challenge and response log in without a network`(server: LatchkeyServer) {
        Phone("Pixel 8").use { phone ->
            val (user, account) = phone.activated(server, "offline")
            val session = server.openSession(user)
            phone.network.offline = true

            assertThrows(AuthenticatorException.Offline::class.java) {
                phone.authenticator.sync(account.id, phone.pushToken, true)
            }
            val response = phone.authenticator.respondToChallenge(account.id, session.challenge, Unlock.Pin(pin()))

            assertTrue(Regex("[0-9]{8}").matches(response.response), "8 digits")
            assertEquals(challengeWarning(), response.warning)
            server.submitTypedResponse(session, response.response).expect(200)
            assertEquals("approved", server.sessionStatus(session))
        }
    }

    @Test
    fun `removing the account revokes the phone on the server and wipes it here`(server: LatchkeyServer) {
        Phone("Pixel 8").use { phone ->
            val (user, account) = phone.activated(server, "removal")

            val report = phone.authenticator.removeAccount(account.id)

            assertTrue(report.serverRevoked)
            assertInstanceOf(AccountState.Wiped::class.java, phone.authenticator.account(account.id).state)
            assertThrows(AuthenticatorException.AccountWiped::class.java) {
                phone.authenticator.respondToChallenge(account.id, "583920", Unlock.Pin(pin()))
            }
            assertEquals("no_phone", server.openSession(user).push)
            assertTrue(phone.keystore.aliases().none { it.contains("seal") }, "${phone.keystore.aliases()}")
        }
    }
}
