package dev.latchkey.app

import dev.latchkey.ffi.AccountRow
import dev.latchkey.ffi.AppModelInterface
import dev.latchkey.ffi.Event
import dev.latchkey.ffi.MatchingMode
import dev.latchkey.ffi.PendingApproval
import dev.latchkey.ffi.PushAction
import dev.latchkey.ffi.PushAlert
import dev.latchkey.ffi.ReviewScreen
import dev.latchkey.ffi.ReviewStep
import dev.latchkey.ffi.Screen
import dev.latchkey.ffi.ScreenListener

/**
 * The core's app model as these tests need it: the screen is what the test says, every
 * event is recorded (PIN arrays copied before the shell wipes them), and [react] may move
 * to another screen, telling the listener as the real model does.
 */
class FakeModel : AppModelInterface {
    /** The screen [view] returns. */
    @Volatile
    var screen: Screen = Screen.Welcome(null)

    /** Every event dispatched, in order. */
    val events = mutableListOf<Event>()

    /** The next screen for an event, if it changes the screen. */
    var react: (Event) -> Screen? = { null }

    /** The notification a push asks for (a login push), if any. */
    var alertFor: (Map<String, String>) -> PushAlert? = { null }

    /** What a scheduled push leads to. */
    var pushAction: PushAction = PushAction.Ignored

    /** Every push handed to [pushReceived]. */
    val pushes = mutableListOf<Map<String, String>>()

    /** The requests a sync finds waiting. */
    var waiting: List<String> = emptyList()

    private var listener: ScreenListener? = null

    /** Shows [next], telling the shell (as the model does after each change). */
    fun show(next: Screen) {
        screen = next
        listener?.screenChanged()
    }

    override fun view(): Screen = screen

    override fun dispatch(event: Event) {
        events += copy(event)
        react(event)?.let { show(it) }
    }

    override fun setListener(listener: ScreenListener) {
        this.listener = listener
    }

    override fun notificationForPush(data: Map<String, String>): PushAlert? = alertFor(data)

    override fun pushReceived(data: Map<String, String>): PushAction {
        pushes += data
        return pushAction
    }

    override fun syncAll(): List<String> = waiting

    override fun hasSecrets(): Boolean = true

    private fun copy(event: Event): Event =
        when (event) {
            is Event.ApproveWithPin -> Event.ApproveWithPin(event.pin.copyOf())
            is Event.ChoosePin -> Event.ChoosePin(event.pin.copyOf(), event.confirmation.copyOf())
            is Event.Respond -> Event.Respond(event.challenge, event.pin?.copyOf())
            is Event.SetBiometric -> Event.SetBiometric(event.enabled, event.pin?.copyOf())
            is Event.ChangePin -> Event.ChangePin(event.oldPin.copyOf(), event.newPin.copyOf(), event.confirmation.copyOf())
            is Event.ApproveMove -> Event.ApproveMove(event.pin.copyOf())
            is Event.CancelMove -> Event.CancelMove(event.pin.copyOf())
            is Event.OptOut -> Event.OptOut(event.pin.copyOf())
            else -> event
        }

    /** Screens and rows for the tests. */
    companion object {
        /** A usable account. */
        fun row(id: Long = 1, label: String = "alice @ auth.example.com", biometric: Boolean = false): AccountRow =
            AccountRow(id, label, "Active", true, biometric)

        /** A login request. */
        fun request(handle: String, app: String): PendingApproval =
            PendingApproval(
                handle, 1, "alice @ auth.example.com", app, "Firefox on Linux", "Zurich, CH",
                1_800_000_000UL, MatchingMode.CODE, 1_800_000_120UL, true,
            )

        /** The review of [handle] at [step]. */
        fun review(handle: String, app: String, step: ReviewStep = ReviewStep.READ, biometric: Boolean = false): Screen =
            Screen.Review(ReviewScreen(request(handle, app), step, biometric, null, null))
    }
}
