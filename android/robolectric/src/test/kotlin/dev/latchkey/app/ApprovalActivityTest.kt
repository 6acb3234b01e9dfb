package dev.latchkey.app

import android.app.AlertDialog
import android.content.Intent
import android.os.Bundle
import android.os.Looper
import android.view.View
import android.view.ViewGroup
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.DenialReason
import dev.latchkey.ffi.Unlock
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
import org.robolectric.Shadows.shadowOf
import org.robolectric.android.controller.ActivityController
import org.robolectric.shadows.ShadowAlertDialog

/** The approval screen over the fake library: what the user sees and what is sent. */
@RunWith(RobolectricTestRunner::class)
class ApprovalActivityTest {
    private lateinit var app: TestApp
    private val payroll = "0123456789abcdef0123456789abcdef"
    private val mail = "fedcba9876543210fedcba9876543210"

    @Before
    fun setUp() {
        app = RuntimeEnvironment.getApplication() as TestApp
        app.fake.accounts += FakeAuthenticator.account(1, "alice @ auth.example.com")
        app.fake.requests[payroll] = FakeAuthenticator.request(payroll, 1, "Payroll")
        app.fake.requests[mail] = FakeAuthenticator.request(mail, 1, "Mail", needsTypedCode = false)
    }

    private fun intent(handle: String, entry: String = ApprovalActivity.ENTRY_REVIEW): Intent =
        Intent(app, ApprovalActivity::class.java)
            .putExtra(ApprovalActivity.EXTRA_HANDLE, handle)
            .putExtra(ApprovalActivity.EXTRA_ENTRY, entry)

    /** Runs the background work and the main thread's posts until both are quiet. */
    private fun settle() {
        repeat(3) {
            app.runBackground()
            shadowOf(Looper.getMainLooper()).idle()
        }
    }

    private fun launch(handle: String, entry: String = ApprovalActivity.ENTRY_REVIEW): ActivityController<ApprovalActivity> {
        val controller = Robolectric.buildActivity(ApprovalActivity::class.java, intent(handle, entry)).setup()
        settle()
        return controller
    }

    private fun views(root: View): List<View> =
        listOf(root) + if (root is ViewGroup) (0 until root.childCount).flatMap { views(root.getChildAt(it)) } else emptyList()

    private fun visibleTexts(activity: ApprovalActivity): List<String> =
        views(activity.window.decorView).filter { it is TextView && it.visibility == View.VISIBLE && it !is EditText }
            .map { (it as TextView).text.toString() }

    private fun button(activity: ApprovalActivity, text: String): Button =
        views(activity.window.decorView).filterIsInstance<Button>().firstOrNull { it.text.toString() == text && it.visibility == View.VISIBLE }
            ?: throw AssertionError("no visible button '$text' in ${visibleTexts(activity)}")

    @Test
    fun theReviewShowsTheCheckedRequest() {
        val activity = launch(payroll).get()
        val texts = visibleTexts(activity)
        assertTrue(texts.toString(), texts.contains("Approve this login?"))
        val details = texts.single { it.startsWith("Payroll") }
        assertTrue(details, details.contains("Firefox on Linux") && details.contains("Zurich, CH") && details.contains("alice @ auth.example.com"))
        assertEquals(listOf(payroll), app.fake.fetched)
    }

    @Test
    fun approvingWithTheTypedCodeAndPinSendsBoth() {
        val activity = launch(payroll).get()
        button(activity, "Continue").performClick()
        settle()
        assertTrue(visibleTexts(activity).contains("Type the 6-digit code shown on the login screen"))
        views(activity.window.decorView).filterIsInstance<EditText>().single().setText("482913")
        button(activity, "Continue").performClick()
        settle()
        assertTrue(visibleTexts(activity).contains("Enter your PIN"))
        views(activity.window.decorView).filterIsInstance<EditText>().single().setText("246810")
        button(activity, "Approve").performClick()
        settle()

        val (handle, code, unlock) = app.fake.approvals.single()
        assertEquals(payroll, handle)
        assertEquals("482913", code)
        assertArrayEquals("246810".toByteArray(), (unlock as Unlock.Pin).pin)
        assertTrue(visibleTexts(activity).contains("Approved. The login continues on the other screen."))
        assertEquals("the PIN field is cleared", "", views(activity.window.decorView).filterIsInstance<EditText>().single().text.toString())
    }

    @Test
    fun approveAndDenyIgnoreTouchesThroughOverlays() {
        val activity = launch(payroll).get()
        assertTrue(button(activity, "Continue").filterTouchesWhenObscured)
        assertTrue(button(activity, "This wasn't me").filterTouchesWhenObscured)
        button(activity, "This wasn't me").performClick()
        val dialog = ShadowAlertDialog.getLatestAlertDialog()
        assertNotNull(dialog)
        assertTrue("Deny and report ignores obscured touches", dialog.getButton(AlertDialog.BUTTON_POSITIVE).filterTouchesWhenObscured)
        dialog.getButton(AlertDialog.BUTTON_POSITIVE).performClick()
        settle()
        assertEquals(listOf(payroll to DenialReason.NOT_ME), app.fake.denials)
        assertTrue(visibleTexts(activity).contains("Denied and reported. Change your password at the login screen."))
    }

    @Test
    fun notMeFromTheNotificationAsksAtOnce() {
        launch(payroll, ApprovalActivity.ENTRY_NOT_ME)
        val dialog = ShadowAlertDialog.getLatestAlertDialog()
        assertNotNull("the deny-and-report question is up", dialog)
        assertTrue(dialog.isShowing)
    }

    @Test
    fun noPromptAfterOnSaveInstanceStateUntilTheScreenIsBack() {
        val controller = Robolectric.buildActivity(ApprovalActivity::class.java, intent(payroll, ApprovalActivity.ENTRY_NOT_ME))
        controller.create().start().resume().pause().saveInstanceState(Bundle()).stop()
        // The request arrives while the activity's state is saved.
        settle()
        assertNull("no dialog after onSaveInstanceState", ShadowAlertDialog.getLatestAlertDialog())
        controller.restart().resume()
        settle()
        val dialog = ShadowAlertDialog.getLatestAlertDialog()
        assertNotNull("asked once the screen is back", dialog)
        assertTrue(dialog.isShowing)
    }

    @Test
    fun aSecondRequestArrivesInOnNewIntent() {
        val controller = launch(payroll)
        val activity = controller.get()
        assertTrue(visibleTexts(activity).any { it.startsWith("Payroll") })

        controller.newIntent(intent(mail))
        settle()
        assertTrue(visibleTexts(activity).toString(), visibleTexts(activity).any { it.startsWith("Mail") })
        assertFalse(visibleTexts(activity).any { it.startsWith("Payroll") })
        assertEquals(listOf(payroll, mail), app.fake.fetched)
        assertFalse("the same activity shows it", activity.isFinishing)
        // The mail one is a tap request: Continue goes straight to the PIN.
        button(activity, "Continue").performClick()
        settle()
        assertTrue(visibleTexts(activity).contains("Enter your PIN"))
    }

    @Test
    fun theSameRequestAgainKeepsItsProgress() {
        val controller = launch(payroll)
        val activity = controller.get()
        button(activity, "Continue").performClick()
        settle()
        controller.newIntent(intent(payroll))
        settle()
        assertTrue(visibleTexts(activity).contains("Type the 6-digit code shown on the login screen"))
        assertEquals(listOf(payroll), app.fake.fetched)
    }

    @Test
    fun aLibraryThatDoesNotOpenIsShownNotACrash() {
        app.openFailure = AuthenticatorException.Keystore("the Keystore refused the key")
        val activity = launch(payroll).get()
        val texts = visibleTexts(activity)
        assertTrue(texts.toString(), texts.any { it.startsWith("Latchkey could not open its data") && it.contains("Keystore") })
        button(activity, "Close").performClick()
        assertTrue(activity.isFinishing)
    }

    @Test
    fun anUnknownRequestClosesTheScreen() {
        val activity = launch("00000000000000000000000000000001").get()
        assertTrue(activity.isFinishing)
    }

    @Test
    fun aMissingHandleClosesTheScreen() {
        val controller = Robolectric.buildActivity(ApprovalActivity::class.java, Intent(app, ApprovalActivity::class.java)).setup()
        assertTrue(controller.get().isFinishing)
    }
}
