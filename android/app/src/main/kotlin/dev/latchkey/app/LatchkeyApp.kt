package dev.latchkey.app

import android.app.Activity
import android.app.Application
import android.os.Build
import android.os.Bundle
import android.util.Log
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import dev.latchkey.android.ActivityBiometricPrompter
import dev.latchkey.android.AndroidKeystoreAdapter
import dev.latchkey.android.LogcatSink
import dev.latchkey.android.OkHttpTransport
import dev.latchkey.ffi.Authenticator
import dev.latchkey.ffi.AuthenticatorConfig
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.AppModel
import dev.latchkey.ffi.AppModelInterface
import dev.latchkey.ffi.AppOptions
import dev.latchkey.ffi.Event
import dev.latchkey.ffi.LogLevel
import dev.latchkey.ffi.Platform
import dev.latchkey.ffi.Screen
import dev.latchkey.ffi.setLogSink
import dev.latchkey.shell.KeystoreBridge
import dev.latchkey.shell.AppShell
import java.io.File
import java.lang.ref.WeakReference
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * The process-wide wiring: one [Authenticator] over the Android Keystore (with the
 * biometric prompt hosted by the resumed activity), OkHttp and Logcat, and the core's app
 * model over it (docs/SCREENS.md: the model owns every screen; the activities render its
 * [Screen] and send it [Event]s through one [AppShell]); the background executor every
 * library call runs on; and the sync of every account when the app starts and when the push
 * service hands out a new token (which re-registers the token and picks up notices).
 *
 * Nothing here depends on Firebase: the FCM adapter (`src/fcm`, Gradle only) calls
* [tokenChanged] and [PushReceiver]; the token is kept in [PushTokenStore] so that every
 * start knows it without asking Firebase.
 */
open class LatchkeyApp : Application() {
    /** Where every library call runs: never the main thread. */
    val background: ExecutorService by lazy { newBackgroundExecutor() }

    @Volatile
    private var resumed: WeakReference<FragmentActivity> = WeakReference(null)

    private val openLock = Any()

    @Volatile
    private var opened: AppModelInterface? = null

    @Volatile
    private var shell: AppShell? = null

    /** Where the model's screens go: the started screen activity, if any (main thread). */
    @Volatile
    var renderer: ((Screen) -> Unit)? = null

    /** The push token the push service handed out last, if any. */
    val pushToken: String?
        get() = PushTokenStore.read(this)

    override fun onCreate() {
        super.onCreate()
        installLogSink()
        LoginNotifications.createChannel(this)
        registerActivityLifecycleCallbacks(ResumedActivityTracker())
        background.execute { syncAllLogged() }
    }

    /**
     * The app model, opened on first use with the library under it (it reads and may migrate
     * the database): call off the main thread. A failure to open (a damaged database, a
     * Keystore that refuses its keys) is thrown as the library's typed
     * [AuthenticatorException] for the screen to show, and the next call tries again.
     */
    @Throws(AuthenticatorException::class)
    fun model(): AppModelInterface {
        opened?.let { return it }
        synchronized(openLock) {
            opened?.let { return it }
            val model = openModel()
            shell = AppShell(model, background, ContextCompat.getMainExecutor(this)) { screen -> renderer?.invoke(screen) }
            opened = model
            model.dispatch(Event.Platform(pushToken, notificationsEnabled()))
            return model
        }
    }

    /** The shell that carries events to the model; `null` until [model] opened it. */
    fun shell(): AppShell? = shell

    /** Opens the library and its app model; the tests' application replaces it with a fake. */
    @Throws(AuthenticatorException::class)
    protected open fun openModel(): AppModelInterface {
        val authenticator = Authenticator.open(
            // Out of Auto Backup: it only opens with this phone's Keystore keys.
            File(noBackupFilesDir, "latchkey.db").path,
            KeystoreBridge(AndroidKeystoreAdapter(this), ActivityBiometricPrompter({ resumed.get() })),
            OkHttpTransport(),
            AuthenticatorConfig(Platform.ANDROID, BuildConfig.VERSION_NAME),
        )
        return AppModel(authenticator, AppOptions(null, Build.MODEL ?: "Android phone"))
    }

    /** The executor behind [background]: daemon threads; the tests' application runs tasks when it says. */
    protected open fun newBackgroundExecutor(): ExecutorService =
        Executors.newCachedThreadPool { runnable -> Thread(runnable, "latchkey").apply { isDaemon = true } }

    /** Tells the model what the platform reports now: the push token and whether notifications reach the user. */
    fun platformChanged() {
        opened?.let { shell?.send(Event.Platform(pushToken, notificationsEnabled())) }
    }

    /**
     * Sends the library's log records to Logcat: debug builds at DEBUG; release builds at INFO
     * with ids and numbers redacted (no account, request or key ids in release logs).
     */
    protected open fun installLogSink() {
        setLogSink(
            LogcatSink(redactIds = !BuildConfig.DEBUG),
            if (BuildConfig.DEBUG) LogLevel.DEBUG else LogLevel.INFO,
        )
    }

    /**
     * Whether login notifications can reach the user now: the app may post and the login
     * channel is not blocked (sent with every sync, and used by diagnose).
     */
    fun notificationsEnabled(): Boolean = LoginNotifications.health(this) == NotificationHealth.OK

    /** A new (or the first) push token: kept, and every account registers it with its server. */
    fun tokenChanged(token: String) {
        PushTokenStore.write(this, token)
        platformChanged()
        background.execute { syncAllLogged() }
    }

    /**
     * Syncs every account that still has its secrets (network; off the main thread) and
     * posts the login notification of each request waiting for this phone. Returns the
     * waiting handles.
     */
    @Throws(AuthenticatorException::class)
    fun syncAll(): List<String> {
        val waiting = model().syncAll()
        waiting.forEach { handle -> LoginNotifications.post(this, handle, getString(R.string.waiting_title), getString(R.string.waiting_body)) }
        return waiting
    }

    private fun syncAllLogged() {
        try {
            syncAll()
        } catch (e: AuthenticatorException) {
            Log.w(TAG, "sync: ${e.javaClass.simpleName}")
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
        /** The Logcat tag of the app's own lines. */
        const val TAG = "Latchkey"
    }
}
