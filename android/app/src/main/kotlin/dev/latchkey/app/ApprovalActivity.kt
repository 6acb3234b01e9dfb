package dev.latchkey.app

import android.content.Intent
import android.os.Bundle
import dev.latchkey.ffi.Event
import dev.latchkey.ffi.Screen

/**
 * The approval screen opened from a login notification: it asks the app model to open the
 * request its handle names (`Event.OpenRequest`: the library fetches and checks the signed
 * request before anything about it is shown) and renders the model's review — read, typed
 * code, PIN or biometric, result — like every screen ([ScreenActivity]).
 *
 * - With [ENTRY_NOT_ME] it asks at once whether to deny and report (once the review is up,
 *   and not after `onSaveInstanceState`).
 * - A second request while this one is on screen arrives in [onNewIntent] (`singleTop`) and
 *   is opened in its place; the same request again keeps its progress.
 * - When the user is done with the result, the activity finishes.
 */
class ApprovalActivity : ScreenActivity() {
    private var handle: String? = null
    private var askNotMe = false
    private var sawReview = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val requested = intent.getStringExtra(EXTRA_HANDLE)
        if (requested == null) {
            finish()
            return
        }
        handle = requested
        if (savedInstanceState == null) openRequest(requested, intent)
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        val requested = intent.getStringExtra(EXTRA_HANDLE) ?: return
        setIntent(intent)
        if (requested == handle) {
            // The same request again (a second tap on its notification): keep its progress.
            if (intent.getStringExtra(EXTRA_ENTRY) == ENTRY_NOT_ME) confirmNotMe()
            return
        }
        handle = requested
        sawReview = false
        openRequest(requested, intent)
    }

    override fun onShown(screen: Screen) {
        when (screen) {
            is Screen.Review -> {
                sawReview = true
                if (askNotMe) {
                    askNotMe = false
                    confirmNotMe()
                }
            }
            is Screen.Busy, is Screen.Finished -> Unit
            // Done with the result (or nothing to review): back to wherever the user was.
            else -> if (sawReview) finish()
        }
    }

    private fun openRequest(requested: String, intent: Intent) {
        LoginNotifications.cancel(this, requested)
        askNotMe = intent.getStringExtra(EXTRA_ENTRY) == ENTRY_NOT_ME
        load { send(Event.OpenRequest(requested)) }
    }

    /** The intent extras and entries the login notification opens this screen with. */
    companion object {
        /** The request handle (32 hex characters). */
        const val EXTRA_HANDLE = "dev.latchkey.app.HANDLE"

        /** How the screen was entered: [ENTRY_REVIEW] or [ENTRY_NOT_ME]. */
        const val EXTRA_ENTRY = "dev.latchkey.app.ENTRY"

        /** The notification or its "Review" action was tapped. */
        const val ENTRY_REVIEW = "review"

        /** Its "This wasn't me" action was tapped: ask at once whether to deny and report. */
        const val ENTRY_NOT_ME = "not_me"
    }
}
