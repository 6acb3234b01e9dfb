package dev.latchkey.app

import com.google.firebase.messaging.FirebaseMessagingService
import com.google.firebase.messaging.RemoteMessage

/**
 * FCM's entry point, and the app's only Firebase-dependent code: a thin adapter that hands
 * each data message to [PushReceiver] and each new token to [LatchkeyApp.tokenChanged].
 *
 * It lives in `src/fcm/kotlin`, a source root only the Gradle build compiles: Firebase is not
 * on Maven Central, and the Robolectric module (android/robolectric) compiles and tests
 * everything else, [PushReceiver] included. Keep logic out of this file.
 *
 * [onMessageReceived] runs on a Firebase worker thread with a short time budget: the receiver
 * posts the login notification (no network) and hands notice pushes to a JobScheduler job.
 */
class LatchkeyMessagingService : FirebaseMessagingService() {
    override fun onMessageReceived(message: RemoteMessage) {
        PushReceiver(application as LatchkeyApp).onMessage(message.data)
    }

    override fun onNewToken(token: String) {
        (application as LatchkeyApp).tokenChanged(token)
    }
}
