package dev.latchkey.app

import android.Manifest
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.job.JobScheduler
import android.content.Context
import android.provider.Settings
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.Event
import dev.latchkey.ffi.PushAction
import dev.latchkey.ffi.PushAlert
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf

/** The login notification, the permission and channel checks, and what a push leads to. */
@RunWith(RobolectricTestRunner::class)
class NotificationsTest {
    private lateinit var app: TestApp
    private lateinit var manager: NotificationManager
    private val handle = "0123456789abcdef0123456789abcdef"

    @Before
    fun setUp() {
        app = RuntimeEnvironment.getApplication() as TestApp
        manager = app.getSystemService(Context.NOTIFICATION_SERVICE) as NotificationManager
    }

    private fun posted() = shadowOf(manager).allNotifications

    @Test
    fun theLoginNotificationIsPostedOnItsChannelWithReviewAndNotMe() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        assertTrue(LoginNotifications.post(app, handle, "Login request", "Tap to review a login to your account."))

        val all = posted()
        assertEquals(1, all.size)
        val notification = all.single()
        assertEquals(LoginNotifications.CHANNEL, notification.channelId)
        assertEquals("Login request", notification.extras.getString("android.title"))
        assertEquals("Tap to review a login to your account.", notification.extras.getCharSequence("android.text").toString())
        assertEquals(listOf("Review", "This wasn't me"), notification.actions.map { it.title.toString() })
        // It times out with the push (2 minutes) and opens the approval screen for this request.
        assertEquals(120_000L, notification.timeoutAfter)
        val opened = shadowOf(notification.contentIntent).savedIntent
        assertEquals(ApprovalActivity::class.java.name, opened.component?.className)
        assertEquals(handle, opened.getStringExtra(ApprovalActivity.EXTRA_HANDLE))
        val notMe = shadowOf(notification.actions[1].actionIntent).savedIntent
        assertEquals(ApprovalActivity.ENTRY_NOT_ME, notMe.getStringExtra(ApprovalActivity.EXTRA_ENTRY))

        // Opening the request removes its notification.
        LoginNotifications.cancel(app, handle)
        assertTrue(posted().isEmpty())
    }

    @Test
    fun theChannelIsHighImportanceAndPrivateOnTheLockScreen() {
        val channel = manager.getNotificationChannel(LoginNotifications.CHANNEL)
        assertNotNull("the app's start created the channel", channel)
        assertEquals(NotificationManager.IMPORTANCE_HIGH, channel.importance)
        assertEquals(android.app.Notification.VISIBILITY_PRIVATE, channel.lockscreenVisibility)
    }

    @Test
    fun aRefusedPermissionPostsNothingAndIsReported() {
        shadowOf(app).denyPermissions(Manifest.permission.POST_NOTIFICATIONS)
        assertFalse(LoginNotifications.post(app, handle, "Login request", "Tap to review"))
        assertTrue(posted().isEmpty())
        assertEquals(NotificationHealth.PERMISSION_DENIED, LoginNotifications.health(app))
        assertFalse(app.notificationsEnabled())
    }

    @Test
    fun aBlockedLoginChannelIsDetectedWithItsFix() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        assertEquals(NotificationHealth.OK, LoginNotifications.health(app))
        // The user blocks the "Login requests" channel in the system settings.
        manager.getNotificationChannel(LoginNotifications.CHANNEL).importance = NotificationManager.IMPORTANCE_NONE
        val blocked = NotificationChannel(LoginNotifications.CHANNEL, "Login requests", NotificationManager.IMPORTANCE_NONE)
        manager.createNotificationChannel(blocked)
        assertEquals(NotificationHealth.CHANNEL_BLOCKED, LoginNotifications.health(app))
        assertFalse("syncs and diagnose report notifications as off", app.notificationsEnabled())
        val fix = LoginNotifications.settingsIntent(app, NotificationHealth.CHANNEL_BLOCKED)
        assertEquals(Settings.ACTION_CHANNEL_NOTIFICATION_SETTINGS, fix.action)
        assertEquals(LoginNotifications.CHANNEL, fix.getStringExtra(Settings.EXTRA_CHANNEL_ID))
    }

    @Test
    fun appNotificationsTurnedOffAreDetected() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        shadowOf(manager).setNotificationsEnabled(false)
        assertEquals(NotificationHealth.APP_BLOCKED, LoginNotifications.health(app))
    }

    private fun loginPushes() {
        app.fake.alertFor = { data ->
            data["request"]?.let { PushAlert(it, "Login request", "Tap to review a login to your account.") }
        }
    }

    @Test
    fun aLoginPushPostsTheGenericNotification() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        loginPushes()
        val handled = PushReceiver(app).onMessage(mapOf("latchkey" to "1", "request" to handle))
        assertEquals(PushReceiver.Handled.NOTIFICATION_POSTED, handled)
        assertEquals("Login request", posted().single().extras.getString("android.title"))
    }

    @Test
    fun aLoginPushWithNotificationsRefusedPostsNothing() {
        shadowOf(app).denyPermissions(Manifest.permission.POST_NOTIFICATIONS)
        loginPushes()
        val handled = PushReceiver(app).onMessage(mapOf("latchkey" to "1", "request" to handle))
        assertEquals(PushReceiver.Handled.NOTIFICATIONS_BLOCKED, handled)
        assertTrue(posted().isEmpty())
    }

    @Test
    fun aNoticePushSchedulesTheSyncJobInsteadOfSyncingInTheCallback() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        val notice = mapOf("latchkey" to "1", "notice" to "revoked")
        val handled = PushReceiver(app).onMessage(notice)
        assertEquals(PushReceiver.Handled.SYNC_SCHEDULED, handled)
        assertTrue("nothing synced in the push callback", app.fake.pushes.isEmpty())
        val scheduler = app.getSystemService(JobScheduler::class.java)!!
        val job = scheduler.allPendingJobs.single()
        assertEquals(NoticeSyncJob.JOB_ID, job.id)
        assertEquals(NoticeSyncJob::class.java.name, job.service.className)
        assertNotNull("it waits for a network", job.requiredNetwork)
        assertEquals("revoked", job.extras.getString("notice"))
        // A second notice replaces the pending job rather than queueing another.
        PushReceiver(app).onMessage(mapOf("latchkey" to "1", "notice" to "password_reset_required"))
        assertEquals(1, scheduler.allPendingJobs.size)

        // When the job runs, the model syncs and the requests it finds waiting are notified.
        app.fake.pushAction = PushAction.Synced(listOf(handle))
        PushReceiver(app).onScheduled(notice)
        assertEquals(listOf(notice), app.fake.pushes)
        assertEquals(app.getString(R.string.waiting_title), posted().single().extras.getString("android.title"))
    }

    @Test
    fun foreignPushesAreLeftAloneAndNothingIsShownForOthers() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        val receiver = PushReceiver(app)
        assertEquals(PushReceiver.Handled.NOT_LATCHKEY, receiver.onMessage(mapOf("chat" to "hi")))
        assertEquals(0, app.opens)
        assertTrue(posted().isEmpty())
    }

    @Test
    fun aPushWhenTheLibraryDoesNotOpenIsIgnoredNotACrash() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        app.openFailure = AuthenticatorException.Storage("disk I/O error")
        val handled = PushReceiver(app).onMessage(mapOf("latchkey" to "1", "request" to handle))
        assertEquals(PushReceiver.Handled.IGNORED, handled)
        assertTrue(posted().isEmpty())
    }

    @Test
    fun aNewPushTokenIsKeptAndToldToTheModel() {
        app.model()
        app.tokenChanged("fcm-token-1")
        app.settle()
        assertEquals("fcm-token-1", PushTokenStore.read(app))
        assertEquals(Event.Platform("fcm-token-1", false), app.fake.events.last { it is Event.Platform })
    }

    @Test
    fun aSyncNotifiesTheRequestsWaiting() {
        shadowOf(app).grantPermissions(Manifest.permission.POST_NOTIFICATIONS)
        app.fake.waiting = listOf(handle)
        assertEquals(listOf(handle), app.syncAll())
        val opened = shadowOf(posted().single().contentIntent).savedIntent
        assertEquals(handle, opened.getStringExtra(ApprovalActivity.EXTRA_HANDLE))
    }
}
