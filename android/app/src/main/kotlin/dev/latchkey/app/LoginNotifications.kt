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
import dev.latchkey.shell.RequestHandle

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
    private const val NOTICE_ID = 1

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
        context.getSystemService(NotificationManager::class.java).createNotificationChannel(channel)
    }

    /** Posts the generic login notification for [handle]; it times out when the push does (2 min). */
    @SuppressLint("MissingPermission") // checked by allowed()
    fun post(context: Context, handle: RequestHandle, title: String, body: String) {
        if (!allowed(context)) return
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
        NotificationManagerCompat.from(context).notify(handle.hex, 0, notification)
    }

    /** A server notice changed an account (moved, password reset required…): ask to open the app. */
    @SuppressLint("MissingPermission") // checked by allowed()
    fun postAccountNotice(context: Context) {
        if (!allowed(context)) return
        val open = context.packageManager.getLaunchIntentForPackage(context.packageName) ?: return
        val notification = NotificationCompat.Builder(context, CHANNEL)
            .setSmallIcon(R.drawable.ic_stat_latchkey)
            .setContentTitle(context.getString(R.string.app_name))
            .setContentText("Your Latchkey account changed. Open the app to see what happened.")
            .setAutoCancel(true)
            .setContentIntent(PendingIntent.getActivity(context, NOTICE_ID, open, PendingIntent.FLAG_IMMUTABLE))
            .build()
        NotificationManagerCompat.from(context).notify(NOTICE_ID, notification)
    }

    /** Removes the notification of [handle] (the request was opened). */
    fun cancel(context: Context, handle: RequestHandle) {
        NotificationManagerCompat.from(context).cancel(handle.hex, 0)
    }

    private fun approvalIntent(context: Context, handle: RequestHandle, entry: String): PendingIntent {
        val intent = Intent(context, ApprovalActivity::class.java)
            .setAction("dev.latchkey.app.APPROVE.$entry")
            .putExtra(ApprovalActivity.EXTRA_HANDLE, handle.hex)
            .putExtra(ApprovalActivity.EXTRA_ENTRY, entry)
            .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK or Intent.FLAG_ACTIVITY_CLEAR_TOP)
        return PendingIntent.getActivity(
            context,
            (handle.hex + entry).hashCode(),
            intent,
            PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
        )
    }

    private fun allowed(context: Context): Boolean =
        ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) == PackageManager.PERMISSION_GRANTED ||
            android.os.Build.VERSION.SDK_INT < android.os.Build.VERSION_CODES.TIRAMISU

    private const val PUSH_LIFETIME_MS = 120_000L
}
