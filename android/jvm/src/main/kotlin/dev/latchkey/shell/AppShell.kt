package dev.latchkey.shell

import dev.latchkey.ffi.AppModelInterface
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.Event
import dev.latchkey.ffi.Screen
import dev.latchkey.ffi.ScreenListener
import java.util.concurrent.Executor

/**
 * The whole of the shell's logic around the app model (docs/SCREENS.md): the library's
 * `AppModel` owns every screen and the way between them; the shell renders [Screen]s and
 * forwards the user's [Event]s. Android and the JVM tests use this class alike.
 *
 * [send] carries an event out on [background] (it may block on the network or the biometric
 * prompt), then overwrites the event's PIN arrays. The model tells this listener after each
 * change (on the background thread); [render] then gets the current screen on [main] — the
 * main thread's executor in an app (`Handler(Looper.getMainLooper())::post`), a direct one in
 * tests. While the model carries out an event the screen is `Screen.Busy` and further events
 * are ignored, so a double tap does nothing twice.
 *
 * The model is told of this shell at construction (it keeps a strong reference; keep the
 * shell for as long as the model).
 */
class AppShell(
    private val model: AppModelInterface,
    private val background: Executor,
    private val main: Executor,
    private val render: (Screen) -> Unit,
) : ScreenListener {
    init {
        model.setListener(this)
    }

    /** The screen to show now (never blocks on the network; fine on the main thread). */
    val screen: Screen
        get() = model.view()

    /** The model's screen changed: render it on [main]. */
    override fun screenChanged() {
        main.execute { render(model.view()) }
    }

    /**
     * Carries [event] out on [background]. A PIN that is not UTF-8 (a bug in the PIN field,
     * never the user's) is refused by the model without a change, and logged by the library;
     * the event's PIN arrays are overwritten either way.
     */
    fun send(event: Event) {
        background.execute {
            try {
                model.dispatch(event)
            } catch (e: AuthenticatorException.BadInput) {
                // Nothing changed: the screen stays as it was, with its fields to fill again.
            } finally {
                event.wipePins()
            }
        }
    }
}

/** Overwrites the PIN arrays this event carries (the model has its own zeroizing copies). */
fun Event.wipePins() {
    val pins: List<ByteArray?> = when (this) {
        is Event.ChoosePin -> listOf(pin, confirmation)
        is Event.ApproveWithPin -> listOf(pin)
        is Event.Respond -> listOf(pin)
        is Event.SetBiometric -> listOf(pin)
        is Event.ChangePin -> listOf(oldPin, newPin, confirmation)
        is Event.ApproveMove -> listOf(pin)
        is Event.CancelMove -> listOf(pin)
        is Event.OptOut -> listOf(pin)
        else -> emptyList()
    }
    pins.forEach { it?.fill(0) }
}
