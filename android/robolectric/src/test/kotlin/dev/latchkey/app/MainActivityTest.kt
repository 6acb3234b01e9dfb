package dev.latchkey.app

import android.Manifest
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Looper
import android.view.View
import android.widget.Button
import android.widget.TextView
import org.robolectric.RuntimeEnvironment
import dev.latchkey.ffi.AuthenticatorException
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
import org.robolectric.Shadows.shadowOf
import org.robolectric.android.controller.ActivityController

/** The launcher screen: welcome, accounts, the library's failure to open, the notification permission. */
@RunWith(RobolectricTestRunner::class)
class MainActivityTest {
    private lateinit var app: TestApp

    @Before
    fun setUp() {
        // The start-up sync is queued and runs with the activity's first read, in launch().
        app = RuntimeEnvironment.getApplication() as TestApp
    }

    private fun launch(): ActivityController<MainActivity> {
        val controller = Robolectric.buildActivity(MainActivity::class.java).setup()
        app.runBackground()
        shadowOf(Looper.getMainLooper()).idle()
        return controller
    }

    private fun texts(root: View): List<String> {
        val found = mutableListOf<String>()
        fun walk(view: View) {
            if (view is TextView && view.visibility == View.VISIBLE) found += view.text.toString()
            if (view is android.view.ViewGroup) (0 until view.childCount).forEach { walk(view.getChildAt(it)) }
        }
        walk(root)
        return found
    }

    @Test
    fun isTheLauncherActivity() {
        val launch = app.packageManager.getLaunchIntentForPackage(app.packageName)
        assertNotNull("the app has a launcher activity", launch)
        assertEquals(MainActivity::class.java.name, launch!!.component!!.className)
    }

    @Test
    fun aPhoneWithoutAccountsShowsTheWelcome() {
        val activity = launch().get()
        assertEquals(MainActivity.Shown.Welcome, activity.shown)
        val shown = texts(activity.window.decorView)
        assertTrue(shown.toString(), shown.contains(app.getString(R.string.welcome_title)))
    }

    @Test
    fun theAccountsAreListedWithWhereEachStands() {
        app.fake.accounts += FakeAuthenticator.account(1, "alice @ auth.example.com")
        app.fake.accounts += FakeAuthenticator.account(2, "bob @ sso.example.org")
        val activity = launch().get()
        val shown = texts(activity.window.decorView)
        assertTrue(shown.toString(), shown.contains("alice @ auth.example.com — active"))
        assertTrue(shown.toString(), shown.contains("bob @ sso.example.org — active"))
        assertTrue(shown.contains(app.getString(R.string.accounts_title)))
    }

    @Test
    fun aLibraryThatDoesNotOpenIsShownWithTryAgainNotACrash() {
        app.openFailure = AuthenticatorException.StorageCorrupt()
        val activity = launch().get()
        val shown = activity.shown
        assertTrue("shown: ${shown::class.simpleName}", shown is MainActivity.Shown.OpenFailed)
        val texts = texts(activity.window.decorView)
        assertTrue(texts.toString(), texts.any { it.startsWith("Latchkey could not open its data") && it.contains("StorageCorrupt") })
        // The user tries again once the cause is gone: the accounts appear.
        app.openFailure = null
        app.fake.accounts += FakeAuthenticator.account(1, "alice @ auth.example.com")
        val retry = findButton(activity.window.decorView, app.getString(R.string.button_retry))
        assertNotNull("a Try again button", retry)
        val opensBefore = app.opens
        retry!!.performClick()
        app.runBackground()
        shadowOf(Looper.getMainLooper()).idle()
        assertTrue("shown: ${activity.shown::class.simpleName}", activity.shown is MainActivity.Shown.Accounts)
        assertEquals("Try again opens the library again", opensBefore + 1, app.opens)
    }

    @Test
    fun asksForNotificationsOnceAndShowsTheCostOfARefusal() {
        val controller = launch()
        val activity = controller.get()
        val asked = shadowOf(activity).lastRequestedPermission
        assertNotNull("POST_NOTIFICATIONS was requested", asked)
        assertTrue(asked!!.requestedPermissions.contains(Manifest.permission.POST_NOTIFICATIONS))

        // The user refuses: no crash, and the banner says what that costs with the fix.
        shadowOf(app).denyPermissions(Manifest.permission.POST_NOTIFICATIONS)
        @Suppress("DEPRECATION")
        activity.onRequestPermissionsResult(
            asked.requestCode,
            arrayOf(Manifest.permission.POST_NOTIFICATIONS),
            intArrayOf(PackageManager.PERMISSION_DENIED),
        )
        val texts = texts(activity.window.decorView)
        assertTrue(texts.toString(), texts.contains(app.getString(R.string.notifications_off)))
        val fix = findButton(activity.window.decorView, app.getString(R.string.button_notification_settings))
        assertNotNull(fix)
        fix!!.performClick()
        val opened: Intent? = shadowOf(activity).nextStartedActivity
        assertEquals(android.provider.Settings.ACTION_APP_NOTIFICATION_SETTINGS, opened?.action)

        // The next start does not ask again.
        val again = launch().get()
        assertNull(shadowOf(again).lastRequestedPermission)
    }

    @Test
    fun noBannerWhenNotificationsAreAllowed() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        val activity = launch().get()
        assertNull("nothing to ask", shadowOf(activity).lastRequestedPermission)
        assertFalse(texts(activity.window.decorView).contains(app.getString(R.string.notifications_off)))
    }

    private fun findButton(root: View, text: String): Button? {
        if (root is Button && root.text.toString() == text && root.visibility == View.VISIBLE) return root
        if (root is android.view.ViewGroup) {
            for (i in 0 until root.childCount) findButton(root.getChildAt(i), text)?.let { return it }
        }
        return null
    }
}
