package dev.latchkey.android

import android.os.Bundle
import androidx.fragment.app.FragmentActivity
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner

/** The biometric prompt is never added to an activity whose state is saved. */
@RunWith(RobolectricTestRunner::class)
class BiometricPrompterTest {
    @Test
    fun aResumedActivityHostsThePrompt() {
        val activity = Robolectric.buildActivity(FragmentActivity::class.java).setup().get()
        assertTrue(ActivityBiometricPrompter.canHost(activity))
    }

    @Test
    fun noPromptAfterOnSaveInstanceState() {
        val controller = Robolectric.buildActivity(FragmentActivity::class.java).setup()
        controller.pause().saveInstanceState(Bundle()).stop()
        assertFalse(ActivityBiometricPrompter.canHost(controller.get()))
        // Back on screen, it may again.
        controller.restart().resume()
        assertTrue(ActivityBiometricPrompter.canHost(controller.get()))
    }

    @Test
    fun noPromptOnAFinishingActivity() {
        val activity = Robolectric.buildActivity(FragmentActivity::class.java).setup().get()
        activity.finish()
        assertFalse(ActivityBiometricPrompter.canHost(activity))
    }
}
