package dev.latchkey.app

import android.util.Log
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.shell.PushPayload
import dev.latchkey.shell.PushRoute
import dev.latchkey.shell.PushRouter

/**
 * What the app does with one push's data map (FCM `RemoteMessage.data`); the FCM adapter
 * (`src/fcm`) only calls [onMessage].
 *
 * - A login push: the library checks it (locally, no network) and the generic login
 *   notification is posted (`LoginNotifications.post`), if notifications are allowed.
 * - A notice push: a [NoticeSyncJob] is scheduled with JobScheduler, which syncs every
 *   account with the network as its constraint — the push callback's short time budget is
 *   not spent on the network, and a push that arrives offline still leads to a sync.
 * - Anything else: ignored (never thrown: a push is untrusted input). Release logs name no
 *   request or account.
 */
class PushReceiver(private val app: LatchkeyApp) {
    /** Handles one push; returns what was done, for the tests and the log. */
    fun onMessage(data: Map<String, String>): Handled =
        when (PushPayload.parse(data)) {
            PushPayload.NotLatchkey -> Handled.NOT_LATCHKEY
            is PushPayload.Malformed -> Handled.IGNORED.also { Log.i(LatchkeyApp.TAG, "malformed push ignored") }
            is PushPayload.Notice -> {
                NoticeSyncJob.schedule(app)
                Handled.SYNC_SCHEDULED
            }
            is PushPayload.LoginRequest -> loginPush(data)
        }

    private fun loginPush(data: Map<String, String>): Handled {
        val authenticator = try {
            app.authenticator()
        } catch (e: AuthenticatorException) {
            Log.w(LatchkeyApp.TAG, "login push: the library did not open (${e.javaClass.simpleName})")
            return Handled.IGNORED
        }
        return when (val route = PushRouter(authenticator).route(data, app.pushToken, app.notificationsEnabled())) {
            is PushRoute.ShowLoginNotification ->
                if (LoginNotifications.post(app, route.handle, route.title, route.body)) {
                    Handled.NOTIFICATION_POSTED
                } else {
                    Handled.NOTIFICATIONS_BLOCKED
                }
            is PushRoute.Ignored -> {
                Log.i(LatchkeyApp.TAG, "push ignored: ${route.reason}")
                Handled.IGNORED
            }
            // A login payload never routes to these; a notice is scheduled above.
            is PushRoute.AccountsSynced, PushRoute.NotLatchkey -> Handled.IGNORED
        }
    }

    /** What [onMessage] did. */
    enum class Handled {
        /** The login notification was posted. */
        NOTIFICATION_POSTED,

        /** A valid login push, but the user does not let the app post notifications. */
        NOTIFICATIONS_BLOCKED,

        /** A notice push: the sync job was scheduled. */
        SYNC_SCHEDULED,

        /** A Latchkey push that leads nowhere (malformed, no account, library refused it). */
        IGNORED,

        /** Not a Latchkey push. */
        NOT_LATCHKEY,
    }
}
