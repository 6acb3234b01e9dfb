package dev.latchkey.app

import android.app.Activity
import android.os.Looper
import android.view.View
import android.view.ViewGroup
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import org.robolectric.Shadows.shadowOf

/** Every view under [root]. */
fun views(root: View): List<View> =
    listOf(root) + if (root is ViewGroup) (0 until root.childCount).flatMap { views(root.getChildAt(it)) } else emptyList()

/** The visible texts of [activity] (labels and buttons, not fields). */
fun texts(activity: Activity): List<String> =
    views(activity.window.decorView)
        .filter { it is TextView && it !is EditText && it.isShown }
        .map { (it as TextView).text.toString() }

/** The visible button labelled [text]. */
fun button(activity: Activity, text: String): Button =
    views(activity.window.decorView).filterIsInstance<Button>().firstOrNull { it.text.toString() == text && it.isShown }
        ?: throw AssertionError("no visible button '$text' in ${texts(activity)}")

/** The visible text fields, in order. */
fun fields(activity: Activity): List<EditText> =
    views(activity.window.decorView).filterIsInstance<EditText>().filter { it.isShown }

/** Runs the background work and the main thread's posts until both are quiet. */
fun TestApp.settle() {
    repeat(3) {
        runBackground()
        shadowOf(Looper.getMainLooper()).idle()
    }
}
