package dev.latchkey.app

import android.content.Context
import android.text.InputType
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.TextView
import dev.latchkey.ffi.AccountRow
import dev.latchkey.ffi.ActivationStep
import dev.latchkey.ffi.Event
import dev.latchkey.ffi.Problem
import dev.latchkey.ffi.ReviewScreen
import dev.latchkey.ffi.ReviewStep
import dev.latchkey.ffi.Screen
import java.text.DateFormat
import java.util.Date

/**
 * Renders the app model's [Screen] (docs/SCREENS.md) with platform Views into [root], and
 * turns the user's taps into [Event]s for [send]. It holds no state of its own beyond the
 * fields being typed: the model decides what comes next.
 *
 * Every button that decides something (approve, deny, "This wasn't me", a move, opt-out,
 * removal) ignores touches while another window covers this one
 * (`filterTouchesWhenObscured`). PIN fields are read into byte arrays and cleared at once.
 * [confirmNotMe] is asked before "This wasn't me" is sent (the activity shows the dialog,
 * and only while it may).
 */
class ScreenRenderer(
    private val context: Context,
    private val root: LinearLayout,
    private val send: (Event) -> Unit,
    private val confirmNotMe: () -> Unit,
) {
    /** Replaces what is shown with [screen]. */
    fun render(screen: Screen) {
        root.removeAllViews()
        when (screen) {
            is Screen.Welcome -> {
                title(context.getString(R.string.welcome_title))
                text(context.getString(R.string.welcome_body))
                problem(screen.problem)
                button(R.string.button_add_account) { send(Event.AddAccount) }
            }
            is Screen.Busy -> text(screen.text)
            is Screen.Activation -> activation(screen)
            is Screen.Waiting -> {
                title(context.getString(R.string.waiting_activation_title))
                text(screen.account.label)
                text(context.getString(if (screen.held) R.string.waiting_activation_held else R.string.waiting_activation))
                screen.effectiveAt?.let { text(context.getString(R.string.effective_at, time(it))) }
                button(R.string.button_refresh) { send(Event.Refresh) }
                button(R.string.button_back) { send(Event.Back) }
            }
            is Screen.Accounts -> {
                title(context.getString(R.string.accounts_title))
                screen.notices.forEach { text(it) }
                problem(screen.problem)
                screen.accounts.forEach { account(it) }
                button(R.string.button_add_account) { send(Event.AddAccount) }
                button(R.string.button_history) { send(Event.History) }
                button(R.string.button_refresh) { send(Event.Refresh) }
            }
            is Screen.Review -> review(screen.review)
            is Screen.Finished -> {
                title(screen.title)
                text(screen.text)
                button(android.R.string.ok) { send(Event.Back) }
            }
            is Screen.Authenticate -> {
                val s = screen.screen
                title(context.getString(R.string.authenticate_title))
                text(s.account.label)
                text(s.warning)
                problem(s.problem)
                s.response?.let { response -> text(response).apply { textSize = 32f } }
                val challenge = field(InputType.TYPE_CLASS_NUMBER, 8, R.string.hint_challenge)
                val pin = pinField(R.string.hint_pin)
                button(R.string.button_generate) { send(Event.Respond(challenge.text.toString(), pin.takePin())) }
                button(R.string.button_back) { send(Event.Back) }
            }
            is Screen.Settings -> settings(screen)
            is Screen.Diagnose -> {
                title(context.getString(R.string.diagnose_title))
                text(screen.account.label)
                problem(screen.problem)
                if (screen.findings.isEmpty()) text(context.getString(R.string.diagnose_all_good))
                screen.findings.forEach { finding ->
                    text(finding.text)
                    text(finding.fix)
                }
                val health = LoginNotifications.health(context)
                if (health != NotificationHealth.OK) {
                    button(R.string.button_notification_settings) {
                        context.startActivity(LoginNotifications.settingsIntent(context, health).addFlags(android.content.Intent.FLAG_ACTIVITY_NEW_TASK))
                    }
                }
                button(R.string.button_back) { send(Event.Back) }
            }
            is Screen.History -> {
                title(context.getString(R.string.history_title))
                problem(screen.problem)
                if (screen.entries.isEmpty()) text(context.getString(R.string.history_empty))
                screen.entries.forEach { text("${time(it.at)} — ${it.summary}") }
                button(R.string.button_back) { send(Event.Back) }
            }
        }
    }

    private fun activation(screen: Screen.Activation) {
        title(context.getString(R.string.activation_title))
        screen.server?.let { text(context.getString(R.string.activation_server, it)) }
        problem(screen.problem)
        when (screen.step) {
            ActivationStep.LINK -> {
                text(context.getString(R.string.activation_link))
                val link = field(InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_VARIATION_URI, 4096, R.string.hint_link)
                button(R.string.button_continue) { send(Event.ActivationLink(link.text.toString())) }
            }
            ActivationStep.CODE -> {
                text(context.getString(R.string.activation_code))
                val code = field(InputType.TYPE_CLASS_NUMBER, 13, R.string.hint_sms_code)
                button(R.string.button_continue) { send(Event.ActivationCode(code.text.toString())) }
            }
            ActivationStep.PIN -> {
                text(context.getString(R.string.activation_pin))
                val pin = pinField(R.string.hint_pin)
                val again = pinField(R.string.hint_pin_again)
                button(R.string.button_continue) { send(Event.ChoosePin(pin.takePin(), again.takePin())) }
            }
            ActivationStep.BIOMETRIC_OFFER -> {
                text(context.getString(R.string.activation_biometric))
                button(R.string.button_use_biometric) { send(Event.BiometricOffer(true)) }
                button(R.string.button_not_now) { send(Event.BiometricOffer(false)) }
            }
        }
        button(R.string.button_back) { send(Event.Back) }
    }

    private fun review(review: ReviewScreen) {
        val request = review.request
        title(context.getString(R.string.review_title))
        text(context.getString(R.string.review_details, request.app, request.client, "${request.origin}, ${time(request.requestedAt)}", request.accountLabel))
        problem(review.problem)
        when (review.step) {
            ReviewStep.READ -> {
                decision(R.string.button_continue) { send(Event.Proceed) }
                decision(R.string.button_not_me) { confirmNotMe() }
                decision(R.string.button_deny) { send(Event.Deny(false)) }
            }
            ReviewStep.TYPE_CODE -> {
                text(context.getString(R.string.type_code))
                val code = field(InputType.TYPE_CLASS_NUMBER, 6, R.string.hint_login_code)
                decision(R.string.button_continue) { send(Event.TypeCode(code.text.toString())) }
                decision(R.string.button_not_me) { confirmNotMe() }
            }
            ReviewStep.UNLOCK -> {
                text(context.getString(R.string.enter_pin))
                val pin = pinField(R.string.hint_pin)
                decision(R.string.button_approve) { send(Event.ApproveWithPin(pin.takePin())) }
                if (review.biometricAvailable) decision(R.string.button_biometric) { send(Event.ApproveWithBiometric) }
                decision(R.string.button_not_me) { confirmNotMe() }
            }
        }
    }

    private fun settings(screen: Screen.Settings) {
        val s = screen.screen
        title(context.getString(R.string.settings_title))
        text("${s.account.label} — ${s.account.status}")
        s.notice?.let { text(it) }
        problem(s.problem)
        val pin = pinField(R.string.hint_pin)
        if (s.account.biometricEnabled) {
            button(R.string.button_biometric_off) { send(Event.SetBiometric(false, null)) }
        } else {
            button(R.string.button_biometric_on) { send(Event.SetBiometric(true, pin.takePin())) }
        }
        val newPin = pinField(R.string.hint_new_pin)
        val again = pinField(R.string.hint_pin_again)
        button(R.string.button_change_pin) { send(Event.ChangePin(pin.takePin(), newPin.takePin(), again.takePin())) }
        button(R.string.button_diagnose) { send(Event.Diagnose) }
        if (s.pendingMove != null) {
            text(context.getString(R.string.move_pending))
            decision(R.string.button_approve_move) { send(Event.ApproveMove(pin.takePin())) }
            decision(R.string.button_cancel_move) { send(Event.CancelMove(pin.takePin())) }
        }
        decision(R.string.button_opt_out) { send(Event.OptOut(pin.takePin())) }
        decision(R.string.button_remove) { send(Event.RemoveAccount) }
        button(R.string.button_back) { send(Event.Back) }
    }

    private fun account(row: AccountRow) {
        text(context.getString(R.string.account_line, row.label, row.status)).apply { textSize = 18f }
        if (row.usable) button(R.string.button_authenticate) { send(Event.Authenticate(row.id)) }
        button(R.string.button_settings) { send(Event.Settings(row.id)) }
    }

    private fun problem(problem: Problem?) {
        if (problem != null) text(problem.text)
    }

    private fun time(unixSeconds: ULong): String =
        DateFormat.getDateTimeInstance(DateFormat.SHORT, DateFormat.SHORT).format(Date(unixSeconds.toLong() * 1000))

    private fun title(text: String): TextView = text(text).apply { textSize = 22f }

    private fun text(text: String): TextView =
        TextView(context).apply {
            this.text = text
            textSize = 16f
            root.addView(this)
        }

    private fun button(label: Int, onClick: () -> Unit): Button =
        Button(context).apply {
            setText(label)
            setOnClickListener { onClick() }
            root.addView(this)
        }

    /** A button that decides something: no taps through an overlay. */
    private fun decision(label: Int, onClick: () -> Unit): Button =
        button(label, onClick).apply { filterTouchesWhenObscured = true }

    private fun field(type: Int, maxLength: Int, hint: Int): EditText =
        EditText(context).apply {
            inputType = type
            filters = arrayOf<android.text.InputFilter>(android.text.InputFilter.LengthFilter(maxLength))
            setHint(hint)
            root.addView(this)
        }

    private fun pinField(hint: Int): EditText =
        field(InputType.TYPE_CLASS_NUMBER or InputType.TYPE_NUMBER_VARIATION_PASSWORD, 12, hint)

    /** The field's digits as bytes, without making a String; the field is cleared. */
    private fun EditText.takePin(): ByteArray {
        val typed = text
        val pin = ByteArray(typed.length) { i -> typed[i].code.toByte() }
        typed.clear()
        return pin
    }

}
