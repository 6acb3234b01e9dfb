package dev.latchkey.app

import android.app.Activity
import android.app.Application
import android.os.Bundle
import android.util.Log
import androidx.core.app.NotificationManagerCompat
import androidx.fragment.app.FragmentActivity
import com.google.firebase.messaging.FirebaseMessaging
import dev.latchkey.android.ActivityBiometricPrompter
import dev.latchkey.android.AndroidKeystoreAdapter
import dev.latchkey.android.LogcatSink
import dev.latchkey.android.OkHttpTransport
import dev.latchkey.ffi.Authenticator
import dev.latchkey.ffi.AuthenticatorConfig
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.LogLevel
import dev.latchkey.ffi.Platform
import dev.latchkey.ffi.setLogSink
import dev.latchkey.shell.KeystoreBridge
import dev.latchkey.shell.hasSecrets
import java.io.File
import java.lang.ref.WeakReference
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * The process-wide wiring: one [Authenticator] over the Android Keystore (with the
 * biometric prompt hosted by the resumed activity), OkHttp and Logcat; the background
 * executor every library call runs on; and the sync of every account when the app starts
 * and when FCM hands out a new token (which re-registers the token and picks up notices).
 */
class LatchkeyApp : Application() {
    /** Where every library call runs: never the main thread. */
    val background: ExecutorService = Executors.newCachedThreadPool { runnable ->
        Thread(runnable, "latchkey").apply { isDaemon = true }
    }

    @Volatile
    private var resumed: WeakReference<FragmentActivity> = WeakReference(null)

    /** Opened on first use, on a background thread (it reads and may migrate the database). */
    val authenticator: Authenticator by lazy {
        Authenticator.open(
            // Out of Auto Backup: it only opens with this phone's Keystore keys.
            File(noBackupFilesDir, "latchkey.db").path,
            KeystoreBridge(AndroidKeystoreAdapter(this), ActivityBiometricPrompter({ resumed.get() })),
            OkHttpTransport(),
            AuthenticatorConfig(Platform.ANDROID, BuildConfig.VERSION_NAME),
        )
    }

    /** The FCM token, once Firebase handed one out. */
    @Volatile
    var pushToken: String? = null
        private set

    override fun onCreate() {
        super.onCreate()
        setLogSink(LogcatSink(), if (BuildConfig.DEBUG) LogLevel.DEBUG else LogLevel.INFO)
        LoginNotifications.createChannel(this)
        registerActivityLifecycleCallbacks(ResumedActivityTracker())
        FirebaseMessaging.getInstance().token.addOnSuccessListener { token -> tokenChanged(token) }
    }

    /** Whether the user lets the app post notifications (sent with every sync). */
    fun notificationsEnabled(): Boolean = NotificationManagerCompat.from(this).areNotificationsEnabled()

    /** A new (or the first) FCM token: every account registers it with its server. */
    fun tokenChanged(token: String) {
        pushToken = token
        background.execute { syncAll() }
    }

    /** Syncs every account that still has its secrets; failures are logged (offline is normal). */
    fun syncAll() {
        try {
            for (account in authenticator.accounts().filter { it.state.hasSecrets() }) {
                try {
                    authenticator.sync(account.id, pushToken, notificationsEnabled())
                } catch (e: AuthenticatorException) {
                    Log.i(TAG, "sync of account ${account.id}: $e")
                }
            }
        } catch (e: AuthenticatorException) {
            Log.w(TAG, "accounts: $e")
        }
    }

    private inner class ResumedActivityTracker : Application.ActivityLifecycleCallbacks {
        override fun onActivityResumed(activity: Activity) {
            if (activity is FragmentActivity) resumed = WeakReference(activity)
        }

        override fun onActivityPaused(activity: Activity) {
            if (resumed.get() === activity) resumed = WeakReference(null)
        }

        override fun onActivityCreated(activity: Activity, savedInstanceState: Bundle?) {}

        override fun onActivityStarted(activity: Activity) {}

        override fun onActivityStopped(activity: Activity) {}

        override fun onActivitySaveInstanceState(activity: Activity, outState: Bundle) {}

        override fun onActivityDestroyed(activity: Activity) {}
    }

    companion object {
        const val TAG = "Latchkey"
    }
}
