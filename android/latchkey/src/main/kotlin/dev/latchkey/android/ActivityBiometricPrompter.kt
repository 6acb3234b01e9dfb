package dev.latchkey.android

import android.os.Handler
import android.os.Looper
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.biometric.BiometricPrompt
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import dev.latchkey.ffi.KeystoreException
import dev.latchkey.shell.BiometricPrompter
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicReference
import javax.crypto.Cipher

/**
 * The JVM module's [BiometricPrompter] on `androidx.biometric`: shows a [BiometricPrompt]
 * bound to the biometric key's [Cipher] through a `CryptoObject` — the prompt authorises
 * that one decryption — and blocks the calling background thread until the user answers.
 *
 * `BIOMETRIC_STRONG` only, no device-credential fallback: the negative button is "Use PIN"
 * and ends in [KeystoreException.Cancelled], after which the screen offers the PIN.
 *
 * [currentActivity] returns the resumed [FragmentActivity] that may host the prompt (track
 * it with `Application.ActivityLifecycleCallbacks`), or `null` when the app is in the
 * background: then nothing is shown and the call is [KeystoreException.Cancelled]. The same
 * holds for an activity that is finishing or whose state was saved ([canHost]): the prompt
 * is a fragment, and none may be added after `onSaveInstanceState`.
 */
class ActivityBiometricPrompter(
    private val currentActivity: () -> FragmentActivity?,
    private val negativeButtonText: String = "Use PIN",
    private val timeoutSeconds: Long = 120,
) : BiometricPrompter {
    private val main = Handler(Looper.getMainLooper())

    override fun authenticate(cipher: Cipher, promptText: String) {
        // The prompt needs the main thread; waiting for it there would deadlock.
        if (Looper.myLooper() == Looper.getMainLooper()) {
            throw KeystoreException.Platform("the biometric prompt was requested on the main thread")
        }
        val outcome = AtomicReference<KeystoreException?>()
        val answered = CountDownLatch(1)
        val shown = AtomicReference<BiometricPrompt?>()
        main.post {
            val activity = currentActivity()
            if (activity == null || !canHost(activity)) {
                outcome.set(KeystoreException.Cancelled())
                answered.countDown()
                return@post
            }
            val callback = object : BiometricPrompt.AuthenticationCallback() {
                override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) {
                    answered.countDown()
                }

                override fun onAuthenticationFailed() {
                    // One finger not recognised: the prompt stays up for another try.
                }

                override fun onAuthenticationError(errorCode: Int, errString: CharSequence) {
                    outcome.set(exceptionFor(errorCode, errString))
                    answered.countDown()
                }
            }
            val prompt = BiometricPrompt(activity, ContextCompat.getMainExecutor(activity), callback)
            shown.set(prompt)
            val info = BiometricPrompt.PromptInfo.Builder()
                .setTitle(promptText)
                .setAllowedAuthenticators(BIOMETRIC_STRONG)
                .setNegativeButtonText(negativeButtonText)
                .setConfirmationRequired(true)
                .build()
            prompt.authenticate(info, BiometricPrompt.CryptoObject(cipher))
        }
        val inTime = try {
            answered.await(timeoutSeconds, TimeUnit.SECONDS)
        } catch (e: InterruptedException) {
            Thread.currentThread().interrupt()
            false
        }
        if (!inTime) {
            main.post { shown.get()?.cancelAuthentication() }
            throw KeystoreException.Cancelled()
        }
        outcome.get()?.let { throw it }
    }

    /** Whether an activity may host the prompt now. */
    companion object {
        /**
         * Whether [activity] may show the prompt now: not finishing or destroyed, and its
         * state not saved (after `onSaveInstanceState` no fragment, the prompt included, may
         * be added: it would be lost or crash).
         */
        fun canHost(activity: FragmentActivity): Boolean =
            !activity.isFinishing && !activity.isDestroyed && !activity.supportFragmentManager.isStateSaved

        private fun exceptionFor(errorCode: Int, errString: CharSequence): KeystoreException =
            when (errorCode) {
                BiometricPrompt.ERROR_NEGATIVE_BUTTON,
                BiometricPrompt.ERROR_USER_CANCELED,
                BiometricPrompt.ERROR_CANCELED,
                BiometricPrompt.ERROR_TIMEOUT,
                -> KeystoreException.Cancelled()
                BiometricPrompt.ERROR_LOCKOUT,
                BiometricPrompt.ERROR_LOCKOUT_PERMANENT,
                -> KeystoreException.Lockout()
                BiometricPrompt.ERROR_NO_BIOMETRICS,
                BiometricPrompt.ERROR_HW_NOT_PRESENT,
                BiometricPrompt.ERROR_HW_UNAVAILABLE,
                -> KeystoreException.BiometricUnavailable()
                else -> KeystoreException.Platform("BiometricPrompt error $errorCode: ${errString.take(100)}")
            }
    }
}
