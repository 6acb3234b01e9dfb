package dev.latchkey.app

import android.Manifest
import android.content.pm.PackageManager
import android.os.Build
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.view.View
import android.widget.Button
import android.widget.LinearLayout
import android.widget.TextView
import androidx.fragment.app.FragmentActivity
import dev.latchkey.ffi.AccountState
import dev.latchkey.ffi.AccountSummary
import dev.latchkey.ffi.AuthenticatorException

/**
 * The launcher screen: welcome when this phone has no account yet, else the accounts with
 * where each stands; a banner with the fix when login notifications cannot reach the user
 * ([LoginNotifications.health]); and the library's failure to open shown with "Try again"
 * rather than a crash.
 *
 * On Android 13+ it asks once for POST_NOTIFICATIONS (login requests arrive as
 * notifications). A refusal is respected: the banner says what it costs and links to the
 * settings; nothing is asked again unprompted.
 *
 * The accounts are read on the app's background executor (the first read opens the
 * database) and rendered on the main thread.
 */
class MainActivity : FragmentActivity() {
    private val main = Handler(Looper.getMainLooper())
    private val app: LatchkeyApp
        get() = application as LatchkeyApp

    private lateinit var title: TextView
    private lateinit var body: TextView
    private lateinit var accounts: LinearLayout
    private lateinit var action: Button
    private lateinit var banner: TextView
    private lateinit var bannerAction: Button

    /** What the screen shows. */
    sealed interface Shown {
        /** Reading the accounts. */
        data object Loading : Shown

        /** The library could not be opened. */
        data class OpenFailed(val error: AuthenticatorException) : Shown

        /** No account on this phone yet. */
        data object Welcome : Shown

        /** The accounts on this phone. */
        data class Accounts(val accounts: List<AccountSummary>) : Shown
    }

    /** What is on screen now (for the tests and for re-rendering). */
    var shown: Shown = Shown.Loading
        private set

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(layout())
        if (savedInstanceState == null) askForNotifications()
        render(Shown.Loading)
        reload()
    }

    override fun onResume() {
        super.onResume()
        // The user may come back from the notification settings.
        renderBanner()
    }

    /** Reads the accounts again (off the main thread). */
    fun reload() {
        app.background.execute {
            val next = try {
                val list = app.authenticator().accounts()
                if (list.isEmpty()) Shown.Welcome else Shown.Accounts(list)
            } catch (e: AuthenticatorException) {
                Shown.OpenFailed(e)
            }
            main.post { if (!isDestroyed) render(next) }
        }
    }

    @Deprecated("Deprecated in Java")
    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, grantResults: IntArray) {
        @Suppress("DEPRECATION")
        super.onRequestPermissionsResult(requestCode, permissions, grantResults)
        if (requestCode == REQUEST_NOTIFICATIONS) {
            // Granted or refused: the banner shows what is true now; a refusal is not asked again.
            renderBanner()
        }
    }

    private fun askForNotifications() {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) return
        if (checkSelfPermission(Manifest.permission.POST_NOTIFICATIONS) == PackageManager.PERMISSION_GRANTED) return
        val prefs = getSharedPreferences(PREFS, MODE_PRIVATE)
        if (prefs.getBoolean(ASKED_NOTIFICATIONS, false)) return
        prefs.edit().putBoolean(ASKED_NOTIFICATIONS, true).apply()
        requestPermissions(arrayOf(Manifest.permission.POST_NOTIFICATIONS), REQUEST_NOTIFICATIONS)
    }

    private fun render(next: Shown) {
        shown = next
        accounts.removeAllViews()
        action.visibility = View.GONE
        when (next) {
            Shown.Loading -> {
                title.text = getString(R.string.app_name)
                body.text = getString(R.string.loading)
            }
            is Shown.OpenFailed -> {
                title.text = getString(R.string.app_name)
                body.text = getString(R.string.open_failed, next.error.javaClass.simpleName)
                action.visibility = View.VISIBLE
                action.setText(R.string.button_retry)
                action.setOnClickListener {
                    render(Shown.Loading)
                    reload()
                }
            }
            Shown.Welcome -> {
                title.text = getString(R.string.welcome_title)
                body.text = getString(R.string.welcome_body)
            }
            is Shown.Accounts -> {
                title.text = getString(R.string.accounts_title)
                body.text = ""
                for (account in next.accounts) {
                    accounts.addView(
                        TextView(this).apply {
                            textSize = 16f
                            text = getString(R.string.account_line, account.label, stateText(account.state))
                        },
                    )
                }
            }
        }
        renderBanner()
    }

    private fun renderBanner() {
        val health = LoginNotifications.health(this)
        val off = health != NotificationHealth.OK
        banner.visibility = if (off) View.VISIBLE else View.GONE
        bannerAction.visibility = banner.visibility
        if (off) {
            bannerAction.setOnClickListener { startActivity(LoginNotifications.settingsIntent(this, health)) }
        }
    }

    private fun stateText(state: AccountState): String =
        getString(
            when (state) {
                AccountState.Active -> R.string.account_state_active
                AccountState.Locked -> R.string.account_state_locked
                AccountState.Disabled -> R.string.account_state_disabled
                is AccountState.Replaced -> R.string.account_state_replaced
                is AccountState.Wiped -> R.string.account_state_wiped
                is AccountState.Pending -> R.string.account_state_other
            },
        )

    private fun layout(): View {
        val padding = (24 * resources.displayMetrics.density).toInt()
        banner = TextView(this).apply {
            textSize = 14f
            setText(R.string.notifications_off)
        }
        bannerAction = Button(this).apply { setText(R.string.button_notification_settings) }
        title = TextView(this).apply { textSize = 22f }
        body = TextView(this).apply { textSize = 16f }
        accounts = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        action = Button(this)
        return LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(padding, padding, padding, padding)
            addView(banner)
            addView(bannerAction)
            addView(title)
            addView(body)
            addView(accounts)
            addView(action)
        }
    }

    private companion object {
        const val REQUEST_NOTIFICATIONS = 1
        const val PREFS = "latchkey_main"
        const val ASKED_NOTIFICATIONS = "asked_notifications"
    }
}
