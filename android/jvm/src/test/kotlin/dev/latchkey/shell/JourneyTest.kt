package dev.latchkey.shell

import dev.latchkey.ffi.AccountState
import dev.latchkey.ffi.ActivationOutcome
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.DenialReason
import dev.latchkey.ffi.EnrollmentState
import dev.latchkey.ffi.HistoryEvent
import dev.latchkey.ffi.MatchingMode
import dev.latchkey.ffi.SyncEvent
import dev.latchkey.ffi.Unlock
import dev.latchkey.ffi.challengeWarning
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith

/**
 * The user journeys through the Kotlin shell and the real library (JNA) against a real
 * `latchkey serve --dev` on loopback: the integrator side is the server's own API, the phone
 * side is what an Android app does.
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
    fun `a login push is routed, reviewed and approved with the typed code and the PIN`(server: LatchkeyServer) {
        Phone("Pixel 8").use { phone ->
            val (user, account) = phone.activated(server, "push")
            val session = server.openSession(user)
            assertEquals("sent", session.push)

            val push = server.pushesTo(phone.pushToken).last()
            val route = PushRouter(phone.authenticator).route(push, phone.pushToken, true)
            val notification = assertInstanceOf(PushRoute.ShowLoginNotification::class.java, route)
            assertFalse(notification.body.contains("Client Portal"), "the alert is generic: ${notification.body}")

            val states = mutableListOf<ApprovalState>()
            val coordinator = ApprovalCoordinator(phone.authenticator) { states += it }
            val review = assertInstanceOf(ApprovalState.Review::class.java, coordinator.open(notification.handle))
            assertEquals("Client Portal", review.request.app)
            assertEquals("Firefox on Linux", review.request.client)
            assertEquals("203.0.113.7", review.request.origin)
            assertEquals(account.id, review.request.accountId)
            assertInstanceOf(ApprovalState.TypeCode::class.java, coordinator.proceed())
            assertInstanceOf(ApprovalState.Unlock::class.java, coordinator.enterCode(session.challenge))
            val typedPin = pin()
            val done = coordinator.unlockWithPin(typedPin)

            assertEquals(ApprovalState.Finished(ApprovalOutcome.Approved), done)
            assertTrue(typedPin.all { it == 0.toByte() }, "the coordinator overwrote the PIN")
            assertEquals("approved", server.sessionStatus(session))
            assertEquals(listOf(ApprovalState.Busy, review), states.take(2))
        }
    }

    @Test
    fun `a wrong PIN ends the request with the attempts left`(server: LatchkeyServer) {
        Phone("Pixel 8").use { phone ->
            val (user, _) = phone.activated(server, "wrongpin")
            val session = server.openSession(user)
            val handle = RequestHandle.parse(server.pushesTo(phone.pushToken).last().getValue("request"))!!
            val coordinator = ApprovalCoordinator(phone.authenticator)
            coordinator.open(handle)
            coordinator.proceed()
            coordinator.enterCode(session.challenge)

            val done = assertInstanceOf(ApprovalState.Finished::class.java, coordinator.unlockWithPin("111111".toByteArray()))

            val failed = assertInstanceOf(ApprovalOutcome.Failed::class.java, done.outcome)
            val wrong = assertInstanceOf(AuthenticatorException.WrongResponse::class.java, failed.error)
            assertEquals(9UL, wrong.attemptsLeft)
            assertNull(wrong.retryAfter)
            assertEquals("the PIN (or the response) was wrong", wrong.toString())
            assertEquals("failed", server.sessionStatus(session))
        }
    }

    @Test
    fun `this wasn't me denies the login and reports it`(server: LatchkeyServer) {
        Phone("Pixel 8").use { phone ->
            val (user, _) = phone.activated(server, "notme")
            val session = server.openSession(user)
            val handle = RequestHandle.parse(server.pushesTo(phone.pushToken).last().getValue("request"))!!
            val coordinator = ApprovalCoordinator(phone.authenticator)
            coordinator.open(handle)

            val done = coordinator.deny(DenialReason.NOT_ME)

            assertEquals(ApprovalState.Finished(ApprovalOutcome.Denied(reportedFraud = true)), done)
            assertEquals("fraud", server.sessionStatus(session))
            assertEquals(HistoryEvent.REPORTED_FRAUD, phone.authenticator.history().last().event)
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
    fun `biometrics approve until a new fingerprint invalidates them, then the PIN does`(server: LatchkeyServer) {
        Phone("Pixel 8").use { phone ->
            val (user, account) = phone.activated(server, "biometric")
            phone.authenticator.enableBiometric(account.id, pin())
            assertTrue(phone.authenticator.account(account.id).biometricEnabled)

            // Approved by fingerprint.
            val first = server.openSession(user)
            val coordinator = ApprovalCoordinator(phone.authenticator)
            val review = assertInstanceOf(ApprovalState.Review::class.java, coordinator.open(lastHandle(server, phone)))
            assertTrue(review.biometricAvailable)
            coordinator.proceed()
            coordinator.enterCode(first.challenge)
            assertEquals(
                ApprovalState.Finished(ApprovalOutcome.Approved),
                coordinator.unlockWithBiometric("Approve login to Client Portal?"),
            )
            assertEquals(listOf("Approve login to Client Portal?"), phone.prompter.prompts)
            assertEquals("approved", server.sessionStatus(first))

            // A dismissed prompt keeps the request answerable.
            val second = server.openSession(user)
            coordinator.open(lastHandle(server, phone))
            coordinator.proceed()
            coordinator.enterCode(second.challenge)
            phone.prompter.next = TestBiometricPrompter.Answer.CANCEL
            val cancelled = assertInstanceOf(ApprovalState.Unlock::class.java, coordinator.unlockWithBiometric("Approve?"))
            assertEquals(UnlockProblem.BIOMETRIC_CANCELLED, cancelled.problem)
            assertTrue(cancelled.biometricAvailable)

            // A new fingerprint on the phone: the biometric key is gone; the PIN approves.
            phone.prompter.next = TestBiometricPrompter.Answer.AUTHENTICATE
            phone.keystore.enrollNewBiometric()
            val invalidated = assertInstanceOf(ApprovalState.Unlock::class.java, coordinator.unlockWithBiometric("Approve?"))
            assertEquals(UnlockProblem.BIOMETRIC_INVALIDATED, invalidated.problem)
            assertFalse(invalidated.biometricAvailable)
            assertFalse(phone.authenticator.account(account.id).biometricEnabled)
            assertEquals(ApprovalState.Finished(ApprovalOutcome.Approved), coordinator.unlockWithPin(pin()))
            assertEquals("approved", server.sessionStatus(second))
            assertThrows(AuthenticatorException.BiometricNotEnabled::class.java) {
                phone.authenticator.respondToChallenge(account.id, "583920", Unlock.Biometric("Generate?"))
            }
        }
    }

    @Test
    fun `a new phone replaces the old one with the old phone's approval, and the old one is wiped`(server: LatchkeyServer) {
        Phone("Old Pixel").use { old ->
            Phone("New Pixel").use { new ->
                val (user, oldAccount) = old.activated(server, "move")

                val pending = new.activate(server, user, replace = "approve_on_old_phone")
                val waiting = assertInstanceOf(ActivationOutcome.Pending::class.java, pending)
                assertFalse(waiting.held)
                assertInstanceOf(AccountState.Pending::class.java, waiting.account.state)

                // The old phone is told by a notice push; routing it syncs and surfaces the move.
                val notice = old.pushesTo(server).last()
                val synced = assertInstanceOf(
                    PushRoute.AccountsSynced::class.java,
                    PushRouter(old.authenticator).route(notice, old.pushToken, true),
                )
                val event = synced.reports.single().events.filterIsInstance<SyncEvent.ReplacementPending>().single()
                assertEquals(waiting.replacement, event.replacement)
                assertEquals("New Pixel", event.newPhone)

                old.authenticator.approveReplacement(oldAccount.id, waiting.replacement, Unlock.Pin(pin()))

                val replaced = assertInstanceOf(AccountState.Replaced::class.java, old.authenticator.account(oldAccount.id).state)
                assertEquals("New Pixel", replaced.by)
                val error = assertThrows(AuthenticatorException.Replaced::class.java) {
                    old.authenticator.respondToChallenge(oldAccount.id, "583920", Unlock.Pin(pin()))
                }
                assertEquals("New Pixel", error.by)
                assertEquals(HistoryEvent.ACCOUNT_WIPED, old.authenticator.history().last().event)

                // The new phone completes its activation at its next sync and approves logins.
                val newAccount = new.authenticator.accounts().single()
                val report = new.authenticator.sync(newAccount.id, new.pushToken, true)
                assertTrue(report.events.any { it is SyncEvent.ActivationCompleted }, "${report.events}")
                assertEquals(AccountState.Active, new.authenticator.account(newAccount.id).state)
                assertEquals(2UL, new.authenticator.account(newAccount.id).epoch)
                val session = server.openSession(user)
                val coordinator = ApprovalCoordinator(new.authenticator)
                coordinator.open(lastHandle(server, new))
                coordinator.proceed()
                coordinator.enterCode(session.challenge)
                assertEquals(ApprovalState.Finished(ApprovalOutcome.Approved), coordinator.unlockWithPin(pin()))
            }
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

    private fun lastHandle(server: LatchkeyServer, phone: Phone): RequestHandle =
        RequestHandle.parse(server.pushesTo(phone.pushToken).last { it.containsKey("request") }.getValue("request"))!!

    private fun Phone.pushesTo(server: LatchkeyServer) = server.pushesTo(pushToken)
}
