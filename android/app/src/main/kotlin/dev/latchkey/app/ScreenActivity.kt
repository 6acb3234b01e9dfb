package dev.latchkey.app

import android.app.AlertDialog
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.view.View
import android.view.WindowManager
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.fragment.app.FragmentActivity
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.Event
import dev.latchkey.ffi.Screen

/**
 * An activity that shows the app model's current [Screen] (docs/SCREENS.md) and sends the
 * user's events to it through the app's one `AppShell`: the launcher ([MainActivity]) and
 * the approval screen opened from a notification ([ApprovalActivity]).
 *
 * - The model opens on the background executor; until then "Loading…", and when the library
 *   cannot be opened, its failure with "Try again" — never a crash.
 * - While started it is the app's renderer; it renders the model's screen again whenever it
 *   comes back.
 * - "This wasn't me" asks first ("Deny and report?"); no dialog is shown after
 *   `onSaveInstanceState` — the question waits until the activity is back.
 * - The window is secure (no screenshots of a PIN field or a response).
 */
abstract class ScreenActivity : FragmentActivity() {
    /** The app. */
    protected val app: LatchkeyApp
        get() = application as LatchkeyApp

    private val main = Handler(Looper.getMainLooper())
    private lateinit var banner: TextView
    private lateinit var bannerAction: Button
    private lateinit var content: LinearLayout
    private lateinit var renderer: ScreenRenderer
    private var notMeDialog: AlertDialog? = null
    private var notMeWaiting = false

    /** What is on screen now: a model screen, or the library's failure to open (for the tests). */
    var shown: Shown = Shown.Loading
        private set

    /** What a screen activity shows. */
    sealed interface Shown {
        /** The model is opening. */
        data object Loading : Shown

        /** The library could not be opened. */
        data class OpenFailed(val error: AuthenticatorException) : Shown

        /** The model's screen. */
        data class Model(val screen: Screen) : Shown
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        setContentView(layout())
        renderer = ScreenRenderer(this, content, ::send, ::confirmNotMe)
        show(Shown.Loading)
    }

    /** This activity's renderer, registered with the app while started. */
    private val render: (Screen) -> Unit = { screen -> if (!isDestroyed) show(Shown.Model(screen)) }

    override fun onStart() {
        super.onStart()
        app.renderer = render
        load()
    }

    override fun onResume() {
        super.onResume()
        refreshBanner()
        if (notMeWaiting) confirmNotMe()
    }

    override fun onStop() {
        // Only our own: the activity that replaced this one started before this one stops.
        if (app.renderer === render) app.renderer = null
        super.onStop()
    }

    /** Opens the model (off the main thread) and shows its screen, then runs [afterOpen] there. */
    protected fun load(afterOpen: (() -> Unit)? = null) {
        app.background.execute {
            val next = try {
                Shown.Model(app.model().view())
            } catch (e: AuthenticatorException) {
                Shown.OpenFailed(e)
            }
            main.post {
                if (!isDestroyed) show(next)
            }
            if (next is Shown.Model) afterOpen?.invoke()
        }
    }

    /** Sends [event] to the model (on the background executor). */
    protected fun send(event: Event) {
        app.shell()?.send(event)
    }

    /** Called for every screen shown, after it is rendered. */
    protected open fun onShown(screen: Screen) {}

    private fun show(next: Shown) {
        shown = next
        when (next) {
            Shown.Loading -> {
                content.removeAllViews()
                content.addView(TextView(this).apply { setText(R.string.loading) })
            }
            is Shown.OpenFailed -> {
                content.removeAllViews()
                content.addView(TextView(this).apply { text = getString(R.string.open_failed, next.error.javaClass.simpleName) })
                content.addView(
                    Button(this).apply {
                        setText(R.string.button_retry)
                        setOnClickListener {
                            show(Shown.Loading)
                            load()
                        }
                    },
                )
            }
            is Shown.Model -> {
                if (next.screen !is Screen.Review) notMeDialog?.dismiss()
                renderer.render(next.screen)
                onShown(next.screen)
            }
        }
        refreshBanner()
    }

    /** Asks "Deny and report?" — now if the activity may show a dialog, else when it is back. */
    protected fun confirmNotMe() {
        if (!canPrompt()) {
            notMeWaiting = true
            return
        }
        notMeWaiting = false
        if (notMeDialog?.isShowing == true) return
        val dialog = AlertDialog.Builder(this)
            .setMessage(R.string.confirm_not_me)
            .setPositiveButton(R.string.button_deny_report) { _, _ -> send(Event.Deny(true)) }
            .setNegativeButton(android.R.string.cancel, null)
            .setOnDismissListener { notMeDialog = null }
            .show()
        // A decision: no taps through an overlay.
        dialog.getButton(AlertDialog.BUTTON_POSITIVE)?.filterTouchesWhenObscured = true
        notMeDialog = dialog
    }

    /** Whether a prompt may be shown now: not after onSaveInstanceState, not while finishing. */
    protected fun canPrompt(): Boolean = !supportFragmentManager.isStateSaved && !isFinishing && !isDestroyed

    /** Shows or hides the "notifications are off" banner for what is true now. */
    protected fun refreshBanner() {
        if (!::banner.isInitialized) return
        val health = LoginNotifications.health(this)
        val off = health != NotificationHealth.OK
        banner.visibility = if (off) View.VISIBLE else View.GONE
        bannerAction.visibility = banner.visibility
        if (off) bannerAction.setOnClickListener { startActivity(LoginNotifications.settingsIntent(this, health)) }
    }

    private fun layout(): View {
        val padding = (24 * resources.displayMetrics.density).toInt()
        banner = TextView(this).apply {
            textSize = 14f
            setText(R.string.notifications_off)
        }
        bannerAction = Button(this).apply { setText(R.string.button_notification_settings) }
        content = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        val column = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(padding, padding, padding, padding)
            addView(banner)
            addView(bannerAction)
            addView(content)
        }
        return ScrollView(this).apply { addView(column) }
    }
}
