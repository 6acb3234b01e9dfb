package dev.latchkey.app

import android.util.Log
import com.google.firebase.messaging.FirebaseMessagingService
import com.google.firebase.messaging.RemoteMessage
import dev.latchkey.shell.PushRoute
import dev.latchkey.shell.PushRouter

/**
 * FCM's entry point: hands each data message to the shell's [PushRouter] and posts the
 * generic login notification it asks for.
 *
 * [onMessageReceived] already runs on a Firebase worker thread, not the main thread, and
 * the process is kept alive until it returns — so the router (which may sync over the
 * network for a notice push) runs right here rather than on another executor. Latchkey
 * pushes are data-only high-priority messages: the app posts the notification itself.
 */
class LatchkeyMessagingService : FirebaseMessagingService() {
    private val app: LatchkeyApp
        get() = application as LatchkeyApp

    override fun onMessageReceived(message: RemoteMessage) {
        val route = PushRouter(app.authenticator).route(message.data, app.pushToken, app.notificationsEnabled())
        when (route) {
            is PushRoute.ShowLoginNotification ->
                LoginNotifications.post(this, route.handle, route.title, route.body)
            is PushRoute.AccountsSynced -> {
                if (route.reports.any { it.events.isNotEmpty() }) LoginNotifications.postAccountNotice(this)
                route.failures.forEach { (account, error) -> Log.i(LatchkeyApp.TAG, "notice sync of $account: $error") }
            }
            is PushRoute.Ignored -> Log.i(LatchkeyApp.TAG, "push ignored: ${route.reason} ${route.error}")
            PushRoute.NotLatchkey -> Unit // the app's other pushes would be handled here
        }
    }

    override fun onNewToken(token: String) {
        app.tokenChanged(token)
    }
}
