package dev.latchkey.app

import android.app.AlertDialog
import android.content.Intent
import android.os.Bundle
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.Event
import dev.latchkey.ffi.ReviewStep
import dev.latchkey.ffi.Screen
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.android.controller.ActivityController
import org.robolectric.shadows.ShadowAlertDialog

/** The approval screen: opened from a notification, it renders the model's review. */
@RunWith(RobolectricTestRunner::class)
class ApprovalActivityTest {
    private lateinit var app: TestApp
    private val payroll = "0123456789abcdef0123456789abcdef"
    private val mail = "fedcba9876543210fedcba9876543210"

    @Before
    fun setUp() {
        app = RuntimeEnvironment.getApplication() as TestApp
        // The model opens the request an OpenRequest names.
        app.fake.react = { event ->
            when (event) {
                is Event.OpenRequest -> FakeModel.review(event.handle, if (event.handle == payroll) "Payroll" else "Mail")
                Event.Proceed -> FakeModel.review(payroll, "Payroll", ReviewStep.TYPE_CODE)
                is Event.TypeCode -> FakeModel.review(payroll, "Payroll", ReviewStep.UNLOCK, biometric = true)
                is Event.ApproveWithPin -> Screen.Finished("Approved", "The login continues on the other screen.")
                is Event.Deny -> Screen.Finished("Denied and reported", "Change your password at the login screen.")
                Event.Back -> Screen.Accounts(listOf(FakeModel.row()), emptyList(), null)
                else -> null
            }
        }
    }

    private fun intent(handle: String, entry: String = ApprovalActivity.ENTRY_REVIEW): Intent =
        Intent(app, ApprovalActivity::class.java)
            .putExtra(ApprovalActivity.EXTRA_HANDLE, handle)
            .putExtra(ApprovalActivity.EXTRA_ENTRY, entry)

    private fun launch(handle: String, entry: String = ApprovalActivity.ENTRY_REVIEW): ActivityController<ApprovalActivity> {
        val controller = Robolectric.buildActivity(ApprovalActivity::class.java, intent(handle, entry)).setup()
        app.settle()
        return controller
    }

    @Test
    fun theNotificationOpensTheRequestAndItsReviewIsShown() {
        val activity = launch(payroll).get()
        assertTrue(app.fake.events.contains(Event.OpenRequest(payroll)))
        val shown = texts(activity)
        assertTrue(shown.toString(), shown.contains("Approve this login?"))
        val details = shown.single { it.startsWith("Payroll") }
        assertTrue(details, details.contains("Firefox on Linux") && details.contains("Zurich, CH") && details.contains("alice @ auth.example.com"))
    }

    @Test
    fun theCodeThenThePinAreSentAndTheScreenClosesAfterTheResult() {
        val activity = launch(payroll).get()
        button(activity, "Continue").performClick()
        app.settle()
        assertTrue(texts(activity).contains("Type the 6-digit code shown on the login screen"))
        fields(activity).single().setText("482913")
        button(activity, "Continue").performClick()
        app.settle()
        assertEquals(Event.TypeCode("482913"), app.fake.events.last())
        assertTrue(texts(activity).contains("Enter your PIN"))
        assertTrue("biometrics offered", texts(activity).contains("Use fingerprint"))
        val pin = fields(activity).single()
        pin.setText("246810")
        button(activity, "Approve").performClick()
        app.settle()
        assertArrayEquals("246810".toByteArray(), (app.fake.events.last() as Event.ApproveWithPin).pin)
        assertEquals("the PIN field is cleared", "", pin.text.toString())
        assertTrue(texts(activity).contains("The login continues on the other screen."))
        button(activity, android.R.string.ok.let(app::getString)).performClick()
        app.settle()
        assertTrue("done: the screen closes", activity.isFinishing)
    }

    @Test
    fun approveAndDenyIgnoreTouchesThroughOverlays() {
        val activity = launch(payroll).get()
        for (label in listOf("Continue", "This wasn't me", "Deny")) {
            assertTrue("$label filters obscured touches", button(activity, label).filterTouchesWhenObscured)
        }
        button(activity, "This wasn't me").performClick()
        val dialog = ShadowAlertDialog.getLatestAlertDialog()
        assertNotNull(dialog)
        assertTrue("Deny and report ignores obscured touches", dialog.getButton(AlertDialog.BUTTON_POSITIVE).filterTouchesWhenObscured)
        dialog.getButton(AlertDialog.BUTTON_POSITIVE).performClick()
        app.settle()
        assertEquals(Event.Deny(true), app.fake.events.last())
    }

    @Test
    fun notMeFromTheNotificationAsksAtOnce() {
        launch(payroll, ApprovalActivity.ENTRY_NOT_ME)
        val dialog = ShadowAlertDialog.getLatestAlertDialog()
        assertNotNull("the deny-and-report question is up", dialog)
        assertTrue(dialog.isShowing)
        assertFalse("nothing denied before the user confirms", app.fake.events.any { it is Event.Deny })
    }

    @Test
    fun noPromptAfterOnSaveInstanceStateUntilTheScreenIsBack() {
        val controller = Robolectric.buildActivity(ApprovalActivity::class.java, intent(payroll, ApprovalActivity.ENTRY_NOT_ME))
        controller.create().start().resume().pause().saveInstanceState(Bundle())
        // The review arrives while the activity's state is saved.
        app.settle()
        assertTrue("the review is rendered", (controller.get().shown as? ScreenActivity.Shown.Model)?.screen is Screen.Review)
        assertNull("no dialog after onSaveInstanceState", ShadowAlertDialog.getLatestAlertDialog())
        controller.stop().restart().resume()
        app.settle()
        val dialog = ShadowAlertDialog.getLatestAlertDialog()
        assertNotNull("asked once the screen is back", dialog)
        assertTrue(dialog.isShowing)
    }

    @Test
    fun aSecondRequestArrivesInOnNewIntent() {
        val controller = launch(payroll)
        val activity = controller.get()
        assertTrue(texts(activity).any { it.startsWith("Payroll") })
        controller.newIntent(intent(mail))
        app.settle()
        assertEquals(listOf(payroll, mail), app.fake.events.filterIsInstance<Event.OpenRequest>().map { it.handle })
        assertTrue(texts(activity).toString(), texts(activity).any { it.startsWith("Mail") })
        assertFalse(texts(activity).any { it.startsWith("Payroll") })
        assertFalse("the same activity shows it", activity.isFinishing)
    }

    @Test
    fun theSameRequestAgainKeepsItsProgress() {
        val controller = launch(payroll)
        val activity = controller.get()
        button(activity, "Continue").performClick()
        app.settle()
        controller.newIntent(intent(payroll))
        app.settle()
        assertTrue(texts(activity).contains("Type the 6-digit code shown on the login screen"))
        assertEquals(1, app.fake.events.count { it is Event.OpenRequest })
    }

    @Test
    fun aLibraryThatDoesNotOpenIsShownNotACrash() {
        app.openFailure = AuthenticatorException.Keystore("the Keystore refused the key")
        val activity = launch(payroll).get()
        assertTrue(texts(activity).toString(), texts(activity).any { it.startsWith("Latchkey could not open its data") && it.contains("Keystore") })
        assertFalse(activity.isFinishing)
    }

    @Test
    fun theLauncherStoppingAfterTheApprovalScreenStartedLeavesItRendering() {
        val launcher = Robolectric.buildActivity(MainActivity::class.java).setup()
        app.settle()
        launcher.pause()
        val approval = launch(payroll).get()
        // Android stops the launcher only after the approval screen started.
        launcher.stop()
        app.fake.show(Screen.Finished("Approved", "The login continues on the other screen."))
        app.settle()
        assertTrue(texts(approval).toString(), texts(approval).contains("The login continues on the other screen."))
    }

    @Test
    fun aMissingHandleClosesTheScreen() {
        val controller = Robolectric.buildActivity(ApprovalActivity::class.java, Intent(app, ApprovalActivity::class.java)).setup()
        assertTrue(controller.get().isFinishing)
    }
}
