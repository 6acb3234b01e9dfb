package dev.latchkey.app

import android.content.Context

/**
 * The push token the push service handed out last, kept in the app's private preferences so
 * that every start (and every sync) knows it without asking the push service again.
 *
 * The token is not a secret of the user's (the server has it and it only addresses this app
 * instance), so plain private preferences are enough; it is never logged.
 */
object PushTokenStore {
    private const val FILE = "latchkey_push"
    private const val KEY = "token"

    /** The token, or `null` before the push service handed one out. */
    fun read(context: Context): String? =
        context.getSharedPreferences(FILE, Context.MODE_PRIVATE).getString(KEY, null)

    /** Keeps [token] (replacing the previous one). */
    fun write(context: Context, token: String) {
        context.getSharedPreferences(FILE, Context.MODE_PRIVATE).edit().putString(KEY, token).apply()
    }
}
