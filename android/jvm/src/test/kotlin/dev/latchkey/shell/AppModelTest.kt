package dev.latchkey.shell

import dev.latchkey.ffi.AccountRow
import dev.latchkey.ffi.ActivationStep
import dev.latchkey.ffi.AppModel
import dev.latchkey.ffi.Event
import dev.latchkey.ffi.FindingKind
import dev.latchkey.ffi.HistoryEvent
import dev.latchkey.ffi.PushAction
import dev.latchkey.ffi.ReviewStep
import dev.latchkey.ffi.Screen
import dev.latchkey.ffi.activationLink
import dev.latchkey.ffi.challengeWarning
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import java.util.Collections
import java.util.concurrent.Executor

/**
 * The app model (docs/SCREENS.md) driven through the generated bindings and [AppShell], as
 * the Android app drives it, against a live `latchkey serve --dev`: every screen the user
 * goes through, from the welcome screen to the history.
 */
@ExtendWith(LiveServerExtension::class)
class AppModelTest {
    /** One app on one phone: the model, the shell, and every screen the shell rendered. */
    private class App(val phone: Phone, builtinProfile: String? = null) : AutoCloseable {
        val model: AppModel = phone.appModel(builtinProfile)
        val rendered: MutableList<Screen> = Collections.synchronizedList(mutableListOf())

        // Direct executors: each event is carried out before send returns, so tests read
        // the outcome at once (an app passes a background executor and the main thread's).
        val shell = AppShell(model, DIRECT, DIRECT) { rendered += it }

        val screen: Screen
            get() = shell.screen

        fun send(event: Event) = shell.send(event)

        override fun close() = model.close()
    }

    @Test
    fun `a phone is activated through the screens, then approves a login push with the typed code and the PIN`(
        server: LatchkeyServer,
    ) {
        Phone("Pixel 8").use { phone ->
            App(phone).use { app ->
                app.send(Event.Platform(phone.pushToken, true))
                app.send(Event.Start)
                assertEquals(Screen.Welcome(null), app.screen)
                assertFalse(app.model.hasSecrets())

                val user = server.createUser("appflow")
                val activation = server.startActivation(user)
                app.send(Event.AddAccount)
                assertEquals(Screen.Activation(ActivationStep.LINK, null, null), app.screen)
                // A link that is not Latchkey's is refused with the reason.
                app.send(Event.ActivationLink("https://evil.example/activate"))
                val refused = assertInstanceOf(Screen.Activation::class.java, app.screen)
                assertEquals(ActivationStep.LINK, refused.step)
                assertTrue(refused.problem!!.text.contains("not a Latchkey activation link"), "${refused.problem}")

                // The QR code's link carries the ticket and the server profile.
                app.send(Event.ActivationLink(activationLink(activation.ticketJson, server.profileJson)))
                val code = assertInstanceOf(Screen.Activation::class.java, app.screen)
                assertEquals(ActivationStep.CODE, code.step)
                assertTrue(server.baseUrl.contains(code.server!!), "${code.server} names ${server.baseUrl}")
                app.send(Event.ActivationCode("12345"))
                assertEquals(ActivationStep.CODE, activationStep(app.screen))
                assertNotNull(problem(app.screen), "a code that is not 13 digits is refused")
                app.send(Event.ActivationCode(server.activationCode(user)))
                assertEquals(ActivationStep.PIN, activationStep(app.screen))

                // An easy PIN, then two different PINs, are refused before anything is sent.
                app.send(Event.ChoosePin("123456".toByteArray(), "123456".toByteArray()))
                assertEquals(ActivationStep.PIN, activationStep(app.screen))
                assertTrue(problem(app.screen)!!.text.startsWith("Choose another PIN"), "${problem(app.screen)}")
                app.send(Event.ChoosePin(pin(), "583016".toByteArray()))
                assertEquals("The two PINs differ.", problem(app.screen)!!.text)
                val chosen = pin()
                app.send(Event.ChoosePin(chosen, pin()))
                assertTrue(chosen.all { it == 0.toByte() }, "the shell overwrote the PIN")
                assertEquals(ActivationStep.BIOMETRIC_OFFER, activationStep(app.screen))
                assertTrue(app.rendered.contains(Screen.Busy("Activating this phone…")), "${app.rendered}")
                app.send(Event.BiometricOffer(false))

                val accounts = assertInstanceOf(Screen.Accounts::class.java, app.screen)
                val row = accounts.accounts.single()
                assertTrue(row.label.contains(user.username), row.label)
                assertEquals("Active", row.status)
                assertTrue(row.usable)
                assertFalse(row.biometricEnabled)
                assertTrue(app.model.hasSecrets())

                // A login: the push gives a generic notification, its tap opens the review.
                val session = server.openSession(user)
                val push = server.pushesTo(phone.pushToken).last()
                val notify = assertInstanceOf(PushAction.Notify::class.java, app.model.pushReceived(push))
                assertFalse(notify.alert.body.contains("Client Portal"), "the alert is generic: ${notify.alert.body}")
                app.send(Event.OpenRequest(notify.alert.request))
                val read = assertInstanceOf(Screen.Review::class.java, app.screen).review
                assertEquals(ReviewStep.READ, read.step)
                assertEquals("Client Portal", read.request.app)
                assertEquals("Firefox on Linux", read.request.client)
                assertEquals("203.0.113.7", read.request.origin)
                assertEquals(row.id, read.request.accountId)
                assertTrue(read.request.requestedAt > 0UL)
                // An event of another step changes nothing.
                app.send(Event.ApproveWithPin(pin()))
                assertEquals(Screen.Review(read), app.screen)

                app.send(Event.Proceed)
                assertEquals(ReviewStep.TYPE_CODE, reviewOf(app.screen).step)
                app.send(Event.TypeCode("12345"))
                assertEquals(ReviewStep.TYPE_CODE, reviewOf(app.screen).step)
                assertEquals("Type the 6-digit code shown on the login screen.", reviewOf(app.screen).problem?.text)
                app.send(Event.TypeCode(session.challenge))
                assertEquals(ReviewStep.UNLOCK, reviewOf(app.screen).step)
                assertEquals(session.challenge, reviewOf(app.screen).typedCode)
                val typed = pin()
                app.send(Event.ApproveWithPin(typed))

                assertEquals(Screen.Finished("Approved", "You can continue on the login screen."), app.screen)
                assertTrue(typed.all { it == 0.toByte() }, "the shell overwrote the PIN")
                assertTrue(app.rendered.contains(Screen.Busy("Approving…")), "${app.rendered}")
                assertEquals("approved", server.sessionStatus(session))

                app.send(Event.Back)
                app.send(Event.History)
                val history = assertInstanceOf(Screen.History::class.java, app.screen)
                assertNull(history.problem)
                assertEquals(listOf(HistoryEvent.ACCOUNT_ADDED, HistoryEvent.APPROVED), history.entries.map { it.event })
                assertTrue(history.entries.last().summary.contains("Client Portal"), "${history.entries.last()}")
            }
        }
    }

    @Test
    fun `a wrong PIN ends the request with the attempts left, and this wasn't me reports the next one`(
        server: LatchkeyServer,
    ) {
        Phone("Pixel 8").use { phone ->
            App(phone).use { app ->
                val (user, row) = activate(server, app, "appwrong")
                val session = server.openSession(user)
                app.send(Event.OpenRequest(lastRequest(server, phone)))
                app.send(Event.Proceed)
                app.send(Event.TypeCode(session.challenge))
                app.send(Event.ApproveWithPin("111111".toByteArray()))

                assertEquals(Screen.Finished("Not approved", "Wrong PIN. 9 attempts left."), app.screen)
                assertEquals("failed", server.sessionStatus(session))

                val second = server.openSession(user)
                app.send(Event.Back)
                app.send(Event.OpenRequest(lastRequest(server, phone)))
                assertEquals(row.id, reviewOf(app.screen).request.accountId)
                app.send(Event.Deny(true))
                assertEquals("Reported", assertInstanceOf(Screen.Finished::class.java, app.screen).title)
                assertEquals("fraud", server.sessionStatus(second))
            }
        }
    }

    @Test
    fun `biometric approval is offered after activation, and a cancelled prompt keeps the request answerable`(
        server: LatchkeyServer,
    ) {
        Phone("Pixel 8").use { phone ->
            App(phone).use { app ->
                val (user, row) = activate(server, app, "appbio", biometric = true)
                assertTrue(row.biometricEnabled)
                assertEquals(listOf("Biometric approval is on."), assertInstanceOf(Screen.Accounts::class.java, app.screen).notices)

                val session = server.openSession(user)
                app.send(Event.OpenRequest(lastRequest(server, phone)))
                assertTrue(reviewOf(app.screen).biometricAvailable)
                app.send(Event.Proceed)
                app.send(Event.TypeCode(session.challenge))
                phone.prompter.next = TestBiometricPrompter.Answer.CANCEL
                app.send(Event.ApproveWithBiometric)
                val unlock = reviewOf(app.screen)
                assertEquals(ReviewStep.UNLOCK, unlock.step)
                assertTrue(unlock.problem!!.text.contains("PIN"), "${unlock.problem}")
                assertEquals("pending", server.sessionStatus(session))

                phone.prompter.next = TestBiometricPrompter.Answer.AUTHENTICATE
                app.send(Event.ApproveWithBiometric)
                assertEquals("Approved", assertInstanceOf(Screen.Finished::class.java, app.screen).title)
                assertEquals("Approve login to Client Portal?", phone.prompter.prompts.last())
                assertEquals("approved", server.sessionStatus(session))

                // A new fingerprint on the phone: the biometric key is gone; the PIN approves.
                val next = server.openSession(user)
                app.send(Event.Back)
                app.send(Event.OpenRequest(lastRequest(server, phone)))
                app.send(Event.Proceed)
                app.send(Event.TypeCode(next.challenge))
                phone.keystore.enrollNewBiometric()
                app.send(Event.ApproveWithBiometric)
                val invalidated = reviewOf(app.screen)
                assertEquals(ReviewStep.UNLOCK, invalidated.step)
                assertFalse(invalidated.biometricAvailable)
                assertTrue(invalidated.problem!!.text.startsWith("Biometrics changed"), "${invalidated.problem}")
                // The biometric button is gone: the event is ignored.
                app.send(Event.ApproveWithBiometric)
                assertEquals(Screen.Review(invalidated), app.screen)
                app.send(Event.ApproveWithPin(pin()))
                assertEquals("Approved", assertInstanceOf(Screen.Finished::class.java, app.screen).title)
                assertEquals("approved", server.sessionStatus(next))
                assertFalse(phone.authenticator.account(row.id).biometricEnabled)
            }
        }
    }

    @Test
    fun `authenticate turns the login screen's challenge into an 8-digit response offline`(server: LatchkeyServer) {
        Phone("Pixel 8").use { phone ->
            App(phone).use { app ->
                val (user, row) = activate(server, app, "appchallenge")
                val session = server.openSession(user)
                phone.network.offline = true

                app.send(Event.Authenticate(row.id))
                val empty = assertInstanceOf(Screen.Authenticate::class.java, app.screen).screen
                assertEquals(challengeWarning(), empty.warning)
                assertNull(empty.response)
                app.send(Event.Respond("12", pin()))
                assertNotNull(assertInstanceOf(Screen.Authenticate::class.java, app.screen).screen.problem)
                app.send(Event.Respond(session.challenge, pin()))
                val answered = assertInstanceOf(Screen.Authenticate::class.java, app.screen).screen
                val response = answered.response!!
                assertTrue(Regex("[0-9]{8}").matches(response), "8 digits")
                assertTrue(answered.warning.contains("Never read a code"), answered.warning)

                phone.network.offline = false
                server.submitTypedResponse(session, response).expect(200)
                assertEquals("approved", server.sessionStatus(session))
            }
        }
    }

    @Test
    fun `settings turn biometrics on and off, change the PIN, diagnose notifications and remove the account`(
        server: LatchkeyServer,
    ) {
        Phone("Pixel 8").use { phone ->
            App(phone).use { app ->
                val (user, row) = activate(server, app, "appsettings")
                app.send(Event.Settings(row.id))
                val opened = settingsOf(app.screen)
                assertEquals(row, opened.account)
                assertNull(opened.pendingMove)

                app.send(Event.SetBiometric(true, pin()))
                assertEquals("Biometric approval is on.", settingsOf(app.screen).notice)
                assertTrue(settingsOf(app.screen).account.biometricEnabled)
                app.send(Event.SetBiometric(false, null))
                assertEquals("Biometric approval is off.", settingsOf(app.screen).notice)
                assertFalse(phone.authenticator.account(row.id).biometricEnabled)

                val newPin = "583016"
                app.send(Event.ChangePin(pin(), newPin.toByteArray(), "583017".toByteArray()))
                assertEquals("The two PINs differ.", settingsOf(app.screen).problem?.text)
                app.send(Event.ChangePin(pin(), newPin.toByteArray(), newPin.toByteArray()))
                assertEquals("Your PIN was changed.", settingsOf(app.screen).notice)
                // The new PIN is the one that works now.
                app.send(Event.SetBiometric(true, newPin.toByteArray()))
                assertTrue(settingsOf(app.screen).account.biometricEnabled, "${settingsOf(app.screen)}")

                // Notifications off in the system settings: diagnose says so, with the fix.
                app.send(Event.Platform(phone.pushToken, false))
                app.send(Event.Diagnose)
                val diagnosis = assertInstanceOf(Screen.Diagnose::class.java, app.screen)
                val finding = diagnosis.findings.single { it.kind == FindingKind.NotificationsDisabled }
                assertTrue(finding.fix.contains("system settings"), "$finding")
                app.send(Event.Back)
                settingsOf(app.screen)

                app.send(Event.RemoveAccount)
                val after = assertInstanceOf(Screen.Accounts::class.java, app.screen)
                assertTrue(after.notices.single().endsWith(" was removed from this phone."), "${after.notices}")
                assertFalse(app.model.hasSecrets())
                assertEquals("no_phone", server.openSession(user).push)
            }
        }
    }

    @Test
    fun `a move to a new phone waits, is announced by a notice push and approved in the old phone's settings`(
        server: LatchkeyServer,
    ) {
        Phone("Old Pixel").use { oldPhone ->
            Phone("New Pixel").use { newPhone ->
                App(oldPhone).use { old ->
                    App(newPhone, builtinProfile = server.profileJson).use { new ->
                        val (user, row) = activate(server, old, "appmove")

                        // The new phone: an app with the profile built in reads a link without one.
                        val move = server.startActivation(user, replace = "approve_on_old_phone")
                        new.send(Event.Platform(newPhone.pushToken, true))
                        new.send(Event.AddAccount)
                        new.send(Event.ActivationLink(activationLink(move.ticketJson, null)))
                        new.send(Event.ActivationCode(server.activationCode(user)))
                        new.send(Event.ChoosePin(pin(), pin()))
                        val waiting = assertInstanceOf(Screen.Waiting::class.java, new.screen)
                        assertFalse(waiting.held)
                        assertEquals("Waiting for your old phone's approval", waiting.account.status)

                        // The old phone's notice push syncs it; its settings offer the move.
                        val notice = server.pushesTo(oldPhone.pushToken).last { it.containsKey("notice") }
                        assertEquals(PushAction.Synced(emptyList()), old.model.pushReceived(notice))
                        old.send(Event.Refresh)
                        val news = assertInstanceOf(Screen.Accounts::class.java, old.screen).notices
                        assertTrue(news.any { it.contains("New Pixel") }, "$news")
                        old.send(Event.Settings(row.id))
                        assertNotNull(settingsOf(old.screen).pendingMove)
                        old.send(Event.ApproveMove(pin()))
                        assertEquals("Moved", assertInstanceOf(Screen.Finished::class.java, old.screen).title)
                        assertFalse(old.model.hasSecrets())

                        // The new phone completes at its next start and approves logins.
                        new.send(Event.Back)
                        new.send(Event.Start)
                        val moved = assertInstanceOf(Screen.Accounts::class.java, new.screen).accounts.single()
                        assertEquals("Active", moved.status)
                        val session = server.openSession(user)
                        new.send(Event.OpenRequest(lastRequest(server, newPhone)))
                        new.send(Event.Proceed)
                        new.send(Event.TypeCode(session.challenge))
                        new.send(Event.ApproveWithPin(pin()))
                        assertEquals("Approved", assertInstanceOf(Screen.Finished::class.java, new.screen).title)
                        assertEquals("approved", server.sessionStatus(session))
                    }
                }
            }
        }
    }

    /** Activates a new user through the screens; ends on the accounts list with its row. */
    private fun activate(
        server: LatchkeyServer,
        app: App,
        prefix: String,
        biometric: Boolean = false,
    ): Pair<LatchkeyServer.User, AccountRow> {
        val user = server.createUser(prefix)
        val activation = server.startActivation(user)
        app.send(Event.Platform(app.phone.pushToken, true))
        app.send(Event.AddAccount)
        app.send(Event.ActivationLink(activationLink(activation.ticketJson, server.profileJson)))
        app.send(Event.ActivationCode(server.activationCode(user)))
        app.send(Event.ChoosePin(pin(), pin()))
        assertEquals(ActivationStep.BIOMETRIC_OFFER, activationStep(app.screen), "${app.screen}")
        app.send(Event.BiometricOffer(biometric))
        val accounts = assertInstanceOf(Screen.Accounts::class.java, app.screen)
        return user to accounts.accounts.single { it.label.contains(user.username) }
    }

    private fun lastRequest(server: LatchkeyServer, phone: Phone): String =
        server.pushesTo(phone.pushToken).last { it.containsKey("request") }.getValue("request")

    private fun activationStep(screen: Screen): ActivationStep =
        assertInstanceOf(Screen.Activation::class.java, screen).step

    private fun reviewOf(screen: Screen) = assertInstanceOf(Screen.Review::class.java, screen).review

    private fun settingsOf(screen: Screen) = assertInstanceOf(Screen.Settings::class.java, screen).screen

    private fun problem(screen: Screen) =
        when (screen) {
            is Screen.Welcome -> screen.problem
            is Screen.Activation -> screen.problem
            is Screen.Accounts -> screen.problem
            is Screen.Review -> screen.review.problem
            is Screen.Authenticate -> screen.screen.problem
            is Screen.Settings -> screen.screen.problem
            is Screen.Diagnose -> screen.problem
            is Screen.History -> screen.problem
            else -> null
        }

    private companion object {
        val DIRECT = Executor { it.run() }
    }
}
