package dev.latchkey.app

import android.app.AlertDialog
import android.content.Intent
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.text.InputType
import android.view.View
import android.view.WindowManager
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.TextView
import androidx.fragment.app.FragmentActivity
import androidx.lifecycle.ViewModel
import androidx.lifecycle.ViewModelProvider
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.DenialReason
import dev.latchkey.shell.ApprovalCoordinator
import dev.latchkey.shell.ApprovalOutcome
import dev.latchkey.shell.ApprovalState
import dev.latchkey.shell.CodeProblem
import dev.latchkey.shell.RequestHandle
import dev.latchkey.shell.UnlockProblem
import java.text.DateFormat
import java.util.Date

/**
 * The approval screen: renders the shell's [ApprovalCoordinator] — review → typed code → PIN
 * or biometric → result — and sends the user's events to it on the app's background
 * executor (every event blocks: network, biometric prompt). Opened from the login
 * notification with the request handle; with [ENTRY_NOT_ME] it asks at once whether to deny
 * and report. Nothing is shown before the library fetched and checked the signed request.
 *
 * - A second request while this one is on screen arrives in [onNewIntent] (the activity is
 *   `singleTop`): the first is dismissed (it stays open on the server until it expires) and
 *   the second is opened.
 * - When the library cannot be opened (`LatchkeyApp.authenticator` throws), the failure is
 *   shown with its kind; nothing crashes.
 * - Approve, deny and "Deny and report" ignore touches while another window covers this one
 *   (`filterTouchesWhenObscured`: no tapjacking of a decision).
 * - Nothing is prompted (dialog, biometric prompt) after `onSaveInstanceState`: a state that
 *   arrives then waits until the activity is back.
 *
 * A [FragmentActivity], so that the biometric prompt (hosted by the resumed activity, see
 * [LatchkeyApp]) can appear over it. The window is secure: no screenshots of a PIN field.
 */
class ApprovalActivity : FragmentActivity() {
    /** Keeps the request and its coordinator across configuration changes. */
    class Model : ViewModel() {
        /** The request on screen. */
        @Volatile
        var handle: RequestHandle? = null

        /** Its coordinator, once the library opened. */
        @Volatile
        var coordinator: ApprovalCoordinator? = null

        /** Why the library could not be opened, if it could not. */
        @Volatile
        var openFailure: AuthenticatorException? = null

        /** Whether "This wasn't me" was already asked for the request on screen. */
        var askedNotMe = false

        /** The activity's renderer, while there is one. */
        @Volatile
        var render: (() -> Unit)? = null
    }

    private lateinit var model: Model
    private val main = Handler(Looper.getMainLooper())
    private val app: LatchkeyApp
        get() = application as LatchkeyApp

    private lateinit var title: TextView
    private lateinit var details: TextView
    private lateinit var input: EditText
    private lateinit var primary: Button
    private lateinit var secondary: Button

    /** The "Deny and report?" dialog, while it is up. */
    private var notMeDialog: AlertDialog? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        model = ViewModelProvider(this)[Model::class.java]
        setContentView(layout())
        val handle = handleOf(intent)
        if (handle == null) {
            finish()
            return
        }
        model.render = { main.post { renderCurrent() } }
        if (model.handle == handle && (model.coordinator != null || model.openFailure != null)) {
            renderCurrent()
        } else {
            load(handle)
        }
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        val handle = handleOf(intent) ?: return
        setIntent(intent)
        if (handle == model.handle && model.openFailure == null) {
            // The same request again (a second tap on its notification): keep its progress.
            renderCurrent()
            return
        }
        notMeDialog?.dismiss()
        load(handle)
    }

    override fun onResume() {
        super.onResume()
        // A state that arrived after onSaveInstanceState was rendered without its prompt.
        renderCurrent()
    }

    override fun onDestroy() {
        model.render = null
        if (isFinishing) {
            val coordinator = model.coordinator
            if (coordinator != null && coordinator.state !is ApprovalState.Finished) {
                app.background.execute { coordinator.dismiss() }
            }
        }
        super.onDestroy()
    }

    /** Opens [handle]'s request, dismissing the one on screen if it was still undecided. */
    private fun load(handle: RequestHandle) {
        LoginNotifications.cancel(this, handle)
        val model = model
        val previous = model.coordinator
        model.handle = handle
        model.coordinator = null
        model.openFailure = null
        model.askedNotMe = false
        renderCurrent()
        // The first use of the Authenticator opens the database: off the main thread too.
        app.background.execute {
            if (previous != null && previous.state !is ApprovalState.Finished) previous.dismiss()
            val authenticator = try {
                app.authenticator()
            } catch (e: AuthenticatorException) {
                if (model.handle == handle) {
                    model.openFailure = e
                    model.render?.invoke()
                }
                return@execute
            }
            if (model.handle != handle) return@execute
            lateinit var coordinator: ApprovalCoordinator
            // Only the coordinator of the request on screen renders.
            coordinator = ApprovalCoordinator(authenticator) { if (model.coordinator === coordinator) model.render?.invoke() }
            model.coordinator = coordinator
            coordinator.open(handle)
        }
    }

    /** Renders the model as it is now (main thread). */
    private fun renderCurrent() {
        if (isDestroyed) return
        val failure = model.openFailure
        if (failure != null) {
            renderOpenFailure(failure)
            return
        }
        render(model.coordinator?.state ?: ApprovalState.Busy)
    }

    private fun renderOpenFailure(error: AuthenticatorException) {
        input.visibility = View.GONE
        secondary.visibility = View.GONE
        title.text = getString(R.string.app_name)
        details.text = getString(R.string.open_failed, error.javaClass.simpleName)
        primary.isEnabled = true
        primary.setText(R.string.button_close)
        primary.setOnClickListener { finish() }
    }

    private fun render(state: ApprovalState) {
        input.visibility = View.GONE
        secondary.visibility = View.GONE
        primary.isEnabled = true
        when (state) {
            ApprovalState.Idle, ApprovalState.Busy -> {
                title.text = getString(R.string.app_name)
                details.text = "…"
                primary.isEnabled = false
            }
            is ApprovalState.Review -> {
                val request = state.request
                title.text = getString(R.string.review_title)
                val at = DateFormat.getTimeInstance(DateFormat.SHORT).format(Date(request.requestedAt.toLong() * 1000))
                details.text = getString(R.string.review_details, request.app, request.client, "${request.origin}, $at", request.accountLabel)
                primary.setText(R.string.button_continue)
                primary.setOnClickListener { send { coordinator().proceed() } }
                secondary.visibility = View.VISIBLE
                secondary.setText(R.string.button_not_me)
                secondary.setOnClickListener { confirmNotMe() }
                if (intent.getStringExtra(EXTRA_ENTRY) == ENTRY_NOT_ME && !model.askedNotMe && canPrompt()) {
                    model.askedNotMe = true
                    confirmNotMe()
                }
            }
            is ApprovalState.TypeCode -> {
                title.text = getString(R.string.type_code)
                details.text = if (state.problem == CodeProblem.MALFORMED) getString(R.string.code_malformed) else ""
                showInput(InputType.TYPE_CLASS_NUMBER, 6)
                primary.setText(R.string.button_continue)
                primary.setOnClickListener {
                    val code = input.text.toString()
                    send { coordinator().enterCode(code) }
                }
            }
            is ApprovalState.Unlock -> {
                title.text = getString(R.string.enter_pin)
                details.text = when (state.problem) {
                    UnlockProblem.BIOMETRIC_CANCELLED -> getString(R.string.unlock_biometric_cancelled)
                    UnlockProblem.BIOMETRIC_LOCKOUT -> getString(R.string.unlock_biometric_lockout)
                    UnlockProblem.BIOMETRIC_INVALIDATED -> getString(R.string.unlock_biometric_invalidated)
                    UnlockProblem.MALFORMED_PIN -> getString(R.string.unlock_malformed_pin)
                    null -> ""
                }
                showInput(InputType.TYPE_CLASS_NUMBER or InputType.TYPE_NUMBER_VARIATION_PASSWORD, 12)
                primary.setText(R.string.button_approve)
                primary.setOnClickListener {
                    val pin = pinBytes()
                    send { coordinator().unlockWithPin(pin) }
                }
                if (state.biometricAvailable) {
                    secondary.visibility = View.VISIBLE
                    secondary.setText(R.string.button_biometric)
                    val prompt = getString(R.string.biometric_prompt, state.request.app)
                    secondary.setOnClickListener { send { coordinator().unlockWithBiometric(prompt) } }
                }
            }
            is ApprovalState.Finished -> {
                title.text = getString(R.string.app_name)
                details.text = outcomeText(state.outcome)
                primary.setText(android.R.string.ok)
                primary.setOnClickListener { finish() }
                if (state.outcome == ApprovalOutcome.Dismissed) finish()
            }
        }
    }

    private fun outcomeText(outcome: ApprovalOutcome): String =
        when (outcome) {
            ApprovalOutcome.Approved -> getString(R.string.result_approved)
            is ApprovalOutcome.Denied ->
                getString(if (outcome.reportedFraud) R.string.result_reported else R.string.result_denied)
            ApprovalOutcome.Dismissed -> ""
            is ApprovalOutcome.Failed -> when (val error = outcome.error) {
                is AuthenticatorException.WrongResponse ->
                    getString(R.string.result_wrong_pin, (error.attemptsLeft ?: 0UL).toInt())
                is AuthenticatorException.CodeMismatch -> getString(R.string.result_code_mismatch)
                is AuthenticatorException.Expired -> getString(R.string.result_expired)
                is AuthenticatorException.Offline -> getString(R.string.result_offline)
                is AuthenticatorException.AlreadyDecided -> getString(R.string.result_already_decided)
                is AuthenticatorException.UnknownRequest -> {
                    // The request ended or was not for this phone: show nothing.
                    finish()
                    ""
                }
                else -> getString(R.string.result_failed)
            }
        }

    private fun confirmNotMe() {
        if (!canPrompt() || notMeDialog?.isShowing == true) return
        val dialog = AlertDialog.Builder(this)
            .setMessage(R.string.confirm_not_me)
            .setPositiveButton(R.string.button_deny_report) { _, _ -> send { coordinator().deny(DenialReason.NOT_ME) } }
            .setNegativeButton(android.R.string.cancel, null)
            .setOnDismissListener { notMeDialog = null }
            .show()
        // A decision: no taps through an overlay.
        dialog.getButton(AlertDialog.BUTTON_POSITIVE)?.filterTouchesWhenObscured = true
        notMeDialog = dialog
    }

    /** Whether a prompt may be shown now: not after onSaveInstanceState, not while finishing. */
    private fun canPrompt(): Boolean = !supportFragmentManager.isStateSaved && !isFinishing && !isDestroyed

    /** The PIN field's digits as bytes, without making a String; the field is cleared. */
    private fun pinBytes(): ByteArray {
        val text = input.text
        val pin = ByteArray(text.length) { i -> text[i].code.toByte() }
        text.clear()
        return pin
    }

    private fun coordinator(): ApprovalCoordinator = checkNotNull(model.coordinator)

    /** Runs an event off the main thread; the states come back through [Model.render]. */
    private fun send(event: () -> Unit) {
        primary.isEnabled = false
        app.background.execute {
            try {
                event()
            } catch (e: IllegalStateException) {
                // A double tap delivered an event the state no longer takes.
            }
        }
    }

    private fun showInput(type: Int, maxLength: Int) {
        input.visibility = View.VISIBLE
        input.inputType = type
        input.filters = arrayOf<android.text.InputFilter>(android.text.InputFilter.LengthFilter(maxLength))
        input.text.clear()
        input.requestFocus()
    }

    private fun layout(): View {
        val padding = (24 * resources.displayMetrics.density).toInt()
        title = TextView(this).apply { textSize = 22f }
        details = TextView(this).apply { textSize = 16f }
        input = EditText(this)
        // Approve, deny, "this wasn't me": decisions ignore touches through another window.
        primary = Button(this).apply { filterTouchesWhenObscured = true }
        secondary = Button(this).apply { filterTouchesWhenObscured = true }
        return LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(padding, padding, padding, padding)
            addView(title)
            addView(details)
            addView(input)
            addView(primary)
            addView(secondary)
        }
    }

    private fun handleOf(intent: Intent?): RequestHandle? =
        intent?.getStringExtra(EXTRA_HANDLE)?.let { RequestHandle.parse(it) }

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
