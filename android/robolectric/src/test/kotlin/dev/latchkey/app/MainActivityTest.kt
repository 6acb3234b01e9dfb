package dev.latchkey.app

import android.Manifest
import android.content.pm.PackageManager
import dev.latchkey.ffi.ActivationStep
import dev.latchkey.ffi.AuthenticateScreen
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.Event
import dev.latchkey.ffi.FindingKind
import dev.latchkey.ffi.FindingRow
import dev.latchkey.ffi.HistoryEvent
import dev.latchkey.ffi.HistoryRow
import dev.latchkey.ffi.Problem
import dev.latchkey.ffi.Screen
import dev.latchkey.ffi.SettingsScreen
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

/** The launcher renders each of the model's screens and sends the user's events. */
@RunWith(RobolectricTestRunner::class)
class MainActivityTest {
    private lateinit var app: TestApp

    @Before
    fun setUp() {
        app = RuntimeEnvironment.getApplication() as TestApp
    }

    private fun launch(): MainActivity {
        val activity = Robolectric.buildActivity(MainActivity::class.java).setup().get()
        app.settle()
        return activity
    }

    /** Launches, then shows [screen] as the model would after a change. */
    private fun showing(screen: Screen): MainActivity {
        val activity = launch()
        app.fake.show(screen)
        app.settle()
        return activity
    }

    private fun assertShows(activity: MainActivity, vararg expected: String) {
        val shown = texts(activity)
        for (text in expected) assertTrue("'$text' not in $shown", shown.contains(text))
    }

    private fun lastEvent(): Event = app.fake.events.last()

    @Test
    fun isTheLauncherActivity() {
        val launch = app.packageManager.getLaunchIntentForPackage(app.packageName)
        assertNotNull("the app has a launcher activity", launch)
        assertEquals(MainActivity::class.java.name, launch!!.component!!.className)
    }

    @Test
    fun startTellsTheModelThePlatformThenStarts() {
        launch()
        val events = app.fake.events
        assertTrue("$events", events[0] is Event.Platform)
        assertTrue("$events", events.contains(Event.Start))
    }

    @Test
    fun welcome() {
        val activity = launch()
        assertShows(activity, "Welcome to Latchkey")
        button(activity, "Add an account").performClick()
        app.settle()
        assertEquals(Event.AddAccount, lastEvent())
    }

    @Test
    fun activationTakesTheSmsCode() {
        val activity = showing(Screen.Activation(ActivationStep.CODE, "auth.example.com", Problem("Wrong code: 2 attempts left.", 2UL, null)))
        assertShows(activity, "Type the 13-digit code we sent you by SMS.", "Server: auth.example.com", "Wrong code: 2 attempts left.")
        fields(activity).single().setText("1234567890123")
        button(activity, "Continue").performClick()
        app.settle()
        assertEquals(Event.ActivationCode("1234567890123"), lastEvent())
    }

    @Test
    fun activationPinIsChosenTwiceAndTheFieldsAreCleared() {
        val activity = showing(Screen.Activation(ActivationStep.PIN, null, null))
        val (pin, again) = fields(activity)
        pin.setText("246810")
        again.setText("246810")
        button(activity, "Continue").performClick()
        app.settle()
        val chosen = lastEvent() as Event.ChoosePin
        assertArrayEquals("246810".toByteArray(), chosen.pin)
        assertArrayEquals("246810".toByteArray(), chosen.confirmation)
        assertEquals("", pin.text.toString())
    }

    @Test
    fun activationLinkAndBiometricOffer() {
        val activity = showing(Screen.Activation(ActivationStep.LINK, null, null))
        fields(activity).single().setText("latchkey://activate?t=abc")
        button(activity, "Continue").performClick()
        app.settle()
        assertEquals(Event.ActivationLink("latchkey://activate?t=abc"), lastEvent())
        app.fake.show(Screen.Activation(ActivationStep.BIOMETRIC_OFFER, null, null))
        app.settle()
        button(activity, "Not now").performClick()
        app.settle()
        assertEquals(Event.BiometricOffer(false), lastEvent())
    }

    @Test
    fun accountsWithNoticesAndTheirActions() {
        val activity = showing(Screen.Accounts(listOf(FakeModel.row(7)), listOf("Your account moved to Anna's Pixel."), null))
        assertShows(activity, "Your accounts", "alice @ auth.example.com — Active", "Your account moved to Anna's Pixel.")
        button(activity, "Respond to a challenge").performClick()
        app.settle()
        assertEquals(Event.Authenticate(7), lastEvent())
        button(activity, "Settings").performClick()
        app.settle()
        assertEquals(Event.Settings(7), lastEvent())
        button(activity, "History").performClick()
        app.settle()
        assertEquals(Event.History, lastEvent())
    }

    @Test
    fun authenticateShowsTheResponseWithTheWarning() {
        val screen = AuthenticateScreen(FakeModel.row(), "48213907", "Never read this code to anyone, not even us.", null)
        val activity = showing(Screen.Authenticate(screen))
        assertShows(activity, "48213907", "Never read this code to anyone, not even us.")
        val (challenge, pin) = fields(activity)
        challenge.setText("12345678")
        pin.setText("246810")
        button(activity, "Generate response").performClick()
        app.settle()
        val respond = lastEvent() as Event.Respond
        assertEquals("12345678", respond.challenge)
        assertArrayEquals("246810".toByteArray(), respond.pin)
    }

    @Test
    fun settingsWithAPendingMoveAndTheJurisdictionsRefusal() {
        val screen = SettingsScreen(
            FakeModel.row(),
            "move-1",
            null,
            Problem("Your organisation requires two-factor login in your jurisdiction.", null, null),
        )
        val activity = showing(Screen.Settings(screen))
        assertShows(activity, "This account is being moved to a new phone.", "Your organisation requires two-factor login in your jurisdiction.")
        val decisions = listOf("Approve the move to the new phone", "Cancel the move", "Turn off two-factor login", "Remove this account from the phone")
        for (label in decisions) assertTrue("$label filters obscured touches", button(activity, label).filterTouchesWhenObscured)
        fields(activity)[0].setText("246810")
        button(activity, "Approve the move to the new phone").performClick()
        app.settle()
        assertArrayEquals("246810".toByteArray(), (lastEvent() as Event.ApproveMove).pin)
        button(activity, "Check notifications").performClick()
        app.settle()
        assertEquals(Event.Diagnose, lastEvent())
    }

    @Test
    fun diagnoseShowsEachFindingWithItsFix() {
        val findings = listOf(FindingRow(FindingKind.NotificationsDisabled, "Notifications are off for Latchkey.", "Turn them on in Settings."))
        val activity = showing(Screen.Diagnose(FakeModel.row(), findings, null))
        assertShows(activity, "Notifications are off for Latchkey.", "Turn them on in Settings.")
    }

    @Test
    fun aBlockedLoginChannelIsReportedToTheModelAndDiagnoseOffersItsFix() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        val manager = app.getSystemService(android.app.NotificationManager::class.java)!!
        manager.createNotificationChannel(
            android.app.NotificationChannel(LoginNotifications.CHANNEL, "Login requests", android.app.NotificationManager.IMPORTANCE_NONE),
        )
        val activity = launch()
        assertEquals("the model hears that notifications do not reach the user", Event.Platform(null, false), app.fake.events.first())
        app.fake.show(Screen.Diagnose(FakeModel.row(), listOf(FindingRow(FindingKind.NotificationsDisabled, "Notifications are off for Latchkey.", "Turn them on.")), null))
        app.settle()
        val fixes = views(activity.window.decorView).filterIsInstance<android.widget.Button>().filter { it.text.toString() == "Turn on notifications" && it.isShown }
        assertTrue("a fix button on the diagnose screen", fixes.isNotEmpty())
        fixes.last().performClick()
        val opened = shadowOf(activity).nextStartedActivity
        assertEquals(android.provider.Settings.ACTION_CHANNEL_NOTIFICATION_SETTINGS, opened?.action)
        assertEquals(LoginNotifications.CHANNEL, opened?.getStringExtra(android.provider.Settings.EXTRA_CHANNEL_ID))
    }

    @Test
    fun historyListsWhatHappened() {
        val rows = listOf(HistoryRow(1_800_000_000UL, HistoryEvent.APPROVED, "Client Portal — Chrome — Hong Kong"))
        val activity = showing(Screen.History(rows, null))
        assertTrue(texts(activity).toString(), texts(activity).any { it.endsWith("— Client Portal — Chrome — Hong Kong") })
        button(activity, "Back").performClick()
        app.settle()
        assertEquals(Event.Back, lastEvent())
    }

    @Test
    fun waitingBusyAndFinished() {
        val activity = showing(Screen.Waiting(FakeModel.row(), true, null))
        assertShows(activity, "Waiting for activation", "The activation is held: your old phone or your organisation has to approve it.")
        app.fake.show(Screen.Busy("Checking the request…"))
        app.settle()
        assertShows(activity, "Checking the request…")
        app.fake.show(Screen.Finished("Approved", "The login continues on the other screen."))
        app.settle()
        assertShows(activity, "Approved", "The login continues on the other screen.")
    }

    @Test
    fun aLibraryThatDoesNotOpenIsShownWithTryAgainNotACrash() {
        app.openFailure = AuthenticatorException.StorageCorrupt()
        val activity = launch()
        assertTrue("shown: ${activity.shown::class.simpleName}", activity.shown is ScreenActivity.Shown.OpenFailed)
        assertTrue(texts(activity).toString(), texts(activity).any { it.startsWith("Latchkey could not open its data") && it.contains("StorageCorrupt") })
        // The user tries again once the cause is gone: the model's screen appears.
        app.openFailure = null
        val opensBefore = app.opens
        button(activity, "Try again").performClick()
        app.settle()
        assertEquals("Try again opens the library again", opensBefore + 1, app.opens)
        assertTrue(activity.shown is ScreenActivity.Shown.Model)
        assertShows(activity, "Welcome to Latchkey")
    }

    @Test
    fun asksForNotificationsOnceAndShowsTheCostOfARefusal() {
        val activity = launch()
        val asked = shadowOf(activity).lastRequestedPermission
        assertNotNull("POST_NOTIFICATIONS was requested", asked)
        assertTrue(asked!!.requestedPermissions.contains(Manifest.permission.POST_NOTIFICATIONS))

        // The user refuses: no crash, the banner says what that costs with the fix, the model is told.
        shadowOf(app).denyPermissions(Manifest.permission.POST_NOTIFICATIONS)
        @Suppress("DEPRECATION")
        activity.onRequestPermissionsResult(asked.requestCode, arrayOf(Manifest.permission.POST_NOTIFICATIONS), intArrayOf(PackageManager.PERMISSION_DENIED))
        app.settle()
        assertShows(activity, app.getString(R.string.notifications_off))
        assertEquals(Event.Platform(null, false), app.fake.events.last { it is Event.Platform })
        button(activity, "Turn on notifications").performClick()
        assertEquals(android.provider.Settings.ACTION_APP_NOTIFICATION_SETTINGS, shadowOf(activity).nextStartedActivity?.action)

        // The next start does not ask again.
        assertNull(shadowOf(launch()).lastRequestedPermission)
    }

    @Test
    fun noBannerWhenNotificationsAreAllowed() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        val activity = launch()
        assertNull("nothing to ask", shadowOf(activity).lastRequestedPermission)
        assertFalse(texts(activity).contains(app.getString(R.string.notifications_off)))
        assertEquals(Event.Platform(null, true), app.fake.events.first())
    }
}
