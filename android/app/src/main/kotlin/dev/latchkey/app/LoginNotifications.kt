package dev.latchkey.app

import android.Manifest
import android.annotation.SuppressLint
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.core.content.ContextCompat

/**
 * The login notification: its channel, and the notification with its two actions.
 *
 * **"This wasn't me" opens the app** (as on iOS), at a one-tap "Deny and report"
 * confirmation, rather than denying from the notification shade: the signed request must
 * be fetched and checked before anything is decided on it (the push names only a handle);
 * reporting fraud ends the login, stops pushes for 24 hours and forces a password reset, so
 * it should not happen on a mis-tap or from a locked phone; and a failed denial (offline,
 * expired) must be shown. Denying needs no PIN.
 */
object LoginNotifications {
    const val CHANNEL = "latchkey_logins"

    /** Creates (or updates) the high-importance channel of login requests. */
    fun createChannel(context: Context) {
        val channel = NotificationChannel(
            CHANNEL,
            context.getString(R.string.channel_logins),
            NotificationManager.IMPORTANCE_HIGH,
        ).apply {
            description = context.getString(R.string.channel_logins_description)
            lockscreenVisibility = android.app.Notification.VISIBILITY_PRIVATE
        }
        notificationManager(context).createNotificationChannel(channel)
    }

    /**
     * Posts the generic login notification for [handle]; it times out when the push does (2
     * min). Returns false, posting nothing, when the user has not allowed notifications
     * (POST_NOTIFICATIONS refused): the login screen's "Click here if you do not receive the
     * notification" and the challenge/response screen remain.
     */
    @SuppressLint("MissingPermission") // checked by allowed()
    fun post(context: Context, handle: String, title: String, body: String): Boolean {
        if (!allowed(context)) return false
        val notification = NotificationCompat.Builder(context, CHANNEL)
            .setSmallIcon(R.drawable.ic_stat_latchkey)
            .setContentTitle(title)
            .setContentText(body)
            .setPriority(NotificationCompat.PRIORITY_HIGH)
            .setCategory(NotificationCompat.CATEGORY_STATUS)
            // The text is generic: nothing about the login shows before it was checked.
            .setVisibility(NotificationCompat.VISIBILITY_PUBLIC)
            .setAutoCancel(true)
            .setTimeoutAfter(PUSH_LIFETIME_MS)
            .setContentIntent(approvalIntent(context, handle, ApprovalActivity.ENTRY_REVIEW))
            .addAction(0, context.getString(R.string.action_review), approvalIntent(context, handle, ApprovalActivity.ENTRY_REVIEW))
            .addAction(0, context.getString(R.string.action_not_me), approvalIntent(context, handle, ApprovalActivity.ENTRY_NOT_ME))
            .build()
        NotificationManagerCompat.from(context).notify(handle, 0, notification)
        return true
    }

    /** Removes the notification of [handle] (the request was opened). */
    fun cancel(context: Context, handle: String) {
        NotificationManagerCompat.from(context).cancel(handle, 0)
    }

    private fun approvalIntent(context: Context, handle: String, entry: String): PendingIntent {
        val intent = Intent(context, ApprovalActivity::class.java)
            .setAction("dev.latchkey.app.APPROVE.$entry")
            .putExtra(ApprovalActivity.EXTRA_HANDLE, handle)
            .putExtra(ApprovalActivity.EXTRA_ENTRY, entry)
            .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK or Intent.FLAG_ACTIVITY_CLEAR_TOP)
        return PendingIntent.getActivity(
            context,
            (handle + entry).hashCode(),
            intent,
            PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
        )
    }

    /**
     * Whether login notifications can reach the user, and if not, which switch is off: the
     * POST_NOTIFICATIONS permission (Android 13+), the app's notifications as a whole, or the
     * login channel alone (a user can block one channel in the system settings). Diagnose
     * reports anything but [NotificationHealth.OK] with its fix.
     */
    fun health(context: Context): NotificationHealth {
        if (!allowed(context)) return NotificationHealth.PERMISSION_DENIED
        val manager = notificationManager(context)
        if (!manager.areNotificationsEnabled()) return NotificationHealth.APP_BLOCKED
        val channel = manager.getNotificationChannel(CHANNEL) ?: return NotificationHealth.OK
        return if (channel.importance == NotificationManager.IMPORTANCE_NONE) NotificationHealth.CHANNEL_BLOCKED else NotificationHealth.OK
    }

    /** The system settings screen that fixes [health]: the channel's, or the app's notifications. */
    fun settingsIntent(context: Context, health: NotificationHealth): Intent =
        if (health == NotificationHealth.CHANNEL_BLOCKED) {
            Intent(android.provider.Settings.ACTION_CHANNEL_NOTIFICATION_SETTINGS)
                .putExtra(android.provider.Settings.EXTRA_APP_PACKAGE, context.packageName)
                .putExtra(android.provider.Settings.EXTRA_CHANNEL_ID, CHANNEL)
        } else {
            Intent(android.provider.Settings.ACTION_APP_NOTIFICATION_SETTINGS)
                .putExtra(android.provider.Settings.EXTRA_APP_PACKAGE, context.packageName)
        }

    /** The system's notification service (present on every device this app runs on). */
    private fun notificationManager(context: Context): NotificationManager =
        checkNotNull(context.getSystemService(NotificationManager::class.java)) { "no NotificationManager" }

    private fun allowed(context: Context): Boolean =
        ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) == PackageManager.PERMISSION_GRANTED ||
            android.os.Build.VERSION.SDK_INT < android.os.Build.VERSION_CODES.TIRAMISU

    private const val PUSH_LIFETIME_MS = 120_000L
}

/** Whether login notifications reach the user ([LoginNotifications.health]). */
enum class NotificationHealth {
    /** They do. */
    OK,

    /** The user refused (or has not yet granted) POST_NOTIFICATIONS. */
    PERMISSION_DENIED,

    /** The app's notifications are turned off in the system settings. */
    APP_BLOCKED,

    /** The login channel alone is blocked in the system settings. */
    CHANNEL_BLOCKED,
}
