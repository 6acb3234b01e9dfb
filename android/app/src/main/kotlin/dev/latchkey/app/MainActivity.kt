package dev.latchkey.app

import android.Manifest
import android.content.pm.PackageManager
import android.os.Build
import android.os.Bundle
import dev.latchkey.ffi.Event

/**
 * The launcher: the app model's screens from the start — welcome, activation, the accounts,
 * authenticate (challenge → response), settings, diagnose, history — rendered by
 * [ScreenActivity]. At each start it tells the model what the platform reports
 * (`Event.Platform`) and to sync and show the accounts (`Event.Start`).
 *
 * On Android 13+ it asks once for POST_NOTIFICATIONS (login requests arrive as
 * notifications). A refusal is respected: the banner says what it costs and links to the
 * settings; nothing is asked again unprompted.
 */
class MainActivity : ScreenActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        if (savedInstanceState == null) {
            askForNotifications()
            load { send(Event.Start) }
        }
    }

    @Deprecated("Deprecated in Java")
    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, grantResults: IntArray) {
        @Suppress("DEPRECATION")
        super.onRequestPermissionsResult(requestCode, permissions, grantResults)
        if (requestCode == REQUEST_NOTIFICATIONS) {
            // Granted or refused: the banner shows what is true now, and the model is told
            // (diagnose reports it); a refusal is not asked again.
            app.platformChanged()
            refreshBanner()
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

    private companion object {
        const val REQUEST_NOTIFICATIONS = 1
        const val PREFS = "latchkey_main"
        const val ASKED_NOTIFICATIONS = "asked_notifications"
    }
}
