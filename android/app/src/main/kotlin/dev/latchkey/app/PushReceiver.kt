package dev.latchkey.app

import android.util.Log
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.PushAction

/**
 * What the app does with one push's data map (FCM `RemoteMessage.data`); the FCM adapter
 * (`src/fcm`) only calls [onMessage]. The push is read by the core's app model, not here.
 *
 * - A login push: the model checks it (locally, no network) and hands back the generic
 *   notification, which is posted (`LoginNotifications.post`) if notifications are allowed.
 * - Any other Latchkey push (a server notice): a [NoticeSyncJob] is scheduled with
 *   JobScheduler, which gives the push to the model with the network as its constraint (the
 *   model syncs every account) — the push callback's short time budget is not spent on the
 *   network, and a push that arrives offline still leads to a sync.
 * - Anything else: ignored (never thrown: a push is untrusted input). Release logs name no
 *   request or account.
 */
class PushReceiver(private val app: LatchkeyApp) {
    /** Handles one push; returns what was done, for the tests and the log. */
    fun onMessage(data: Map<String, String>): Handled {
        if (!data.containsKey(MARKER)) return Handled.NOT_LATCHKEY
        val model = try {
            app.model()
        } catch (e: AuthenticatorException) {
            Log.w(LatchkeyApp.TAG, "push: the library did not open (${e.javaClass.simpleName})")
            return Handled.IGNORED
        }
        val alert = model.notificationForPush(data)
        if (alert == null) {
            // Not a login request: a notice (or something the model will ignore) — sync later.
            NoticeSyncJob.schedule(app, data)
            return Handled.SYNC_SCHEDULED
        }
        return if (LoginNotifications.post(app, alert.request, alert.title, alert.body)) {
            Handled.NOTIFICATION_POSTED
        } else {
            Handled.NOTIFICATIONS_BLOCKED
        }
    }

    /**
     * Runs a scheduled push through the model (network: the job's thread): the requests it
     * says are waiting get their notification. Returns the model's answer.
     */
    fun onScheduled(data: Map<String, String>): PushAction {
        val action = app.model().pushReceived(data)
        when (action) {
            is PushAction.Notify -> LoginNotifications.post(app, action.alert.request, action.alert.title, action.alert.body)
            is PushAction.Synced -> action.waiting.forEach { handle ->
                LoginNotifications.post(app, handle, app.getString(R.string.waiting_title), app.getString(R.string.waiting_body))
            }
            PushAction.NotLatchkey, PushAction.Ignored -> Log.i(LatchkeyApp.TAG, "push ignored")
        }
        return action
    }

    /** What [onMessage] did. */
    enum class Handled {
        /** The login notification was posted. */
        NOTIFICATION_POSTED,

        /** A valid login push, but the user does not let the app post notifications. */
        NOTIFICATIONS_BLOCKED,

        /** Not a login push: the sync job was scheduled. */
        SYNC_SCHEDULED,

        /** A Latchkey push that could not be handled (the library did not open). */
        IGNORED,

        /** Not a Latchkey push. */
        NOT_LATCHKEY,
    }

    private companion object {
        /** The key every Latchkey push carries (docs/PROTOCOL.md §6.2); the model reads the rest. */
        const val MARKER = "latchkey"
    }
}
