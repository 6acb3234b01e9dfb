package dev.latchkey.android

import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import dev.latchkey.ffi.KeystoreKind
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertSame
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner

/** How the Keystore adapter makes keys: serialised, per-key StrongBox fallback, level checked. */
@RunWith(RobolectricTestRunner::class)
class KeyCreationTest {
    @Test
    fun twoThreadsSealingWithANewAliasMakeOneKey() {
        val made = AtomicInteger()
        val key = AtomicReference<Any?>(null)
        val firstInside = CountDownLatch(1)
        val release = CountDownLatch(1)
        val results = arrayOfNulls<Any>(2)
        val first = Thread {
            results[0] = KeyCreation.findOrCreate({ key.get() }) {
                firstInside.countDown()
                release.await(10, TimeUnit.SECONDS)
                Any().also { made.incrementAndGet(); key.set(it) }
            }
        }
        val second = Thread {
            results[1] = KeyCreation.findOrCreate({ key.get() }) { Any().also { made.incrementAndGet(); key.set(it) } }
        }
        first.start()
        assertTrue(firstInside.await(10, TimeUnit.SECONDS))
        second.start()
        // The second thread waits for the lock while the first generates.
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
        while (second.state != Thread.State.BLOCKED && System.nanoTime() < deadline) Thread.onSpinWait()
        assertEquals("the second creation waits for the first", Thread.State.BLOCKED, second.state)
        release.countDown()
        first.join(10_000)
        second.join(10_000)
        assertEquals("one key under the alias", 1, made.get())
        assertSame("both sealed with the same key", results[0], results[1])
    }

    @Test
    fun aKeyStrongBoxRefusesIsMadeInTheTee() {
        val asked = mutableListOf<Boolean>()
        val (made, inStrongBox) = KeyCreation.withFallback(strongBoxAvailable = true) { strongBox ->
            asked += strongBox
            if (strongBox) throw StrongBoxUnavailableException()
            "tee key"
        }
        assertEquals(listOf(true, false), asked)
        assertEquals("tee key", made)
        assertEquals(false, inStrongBox)
    }

    @Test
    fun strongBoxIsTriedFirstAndTheTeeOnlyWithoutIt() {
        val withStrongBox = mutableListOf<Boolean>()
        assertEquals("sb" to true, KeyCreation.withFallback(true) { withStrongBox += it; "sb" })
        assertEquals(listOf(true), withStrongBox)
        val without = mutableListOf<Boolean>()
        assertEquals("tee" to false, KeyCreation.withFallback(false) { without += it; "tee" })
        assertEquals(listOf(false), without)
    }

    @Test
    fun theActualLevelDecidesAndSoftwareIsRefused() {
        assertEquals(KeystoreKind.STRONG_BOX, KeyCreation.kindOf(KeyProperties.SECURITY_LEVEL_STRONGBOX, true))
        assertEquals(KeystoreKind.HARDWARE_BACKED, KeyCreation.kindOf(KeyProperties.SECURITY_LEVEL_TRUSTED_ENVIRONMENT, true))
        assertEquals(KeystoreKind.HARDWARE_BACKED, KeyCreation.kindOf(KeyProperties.SECURITY_LEVEL_UNKNOWN_SECURE, true))
        assertNull(KeyCreation.kindOf(KeyProperties.SECURITY_LEVEL_SOFTWARE, false))
        assertNull(KeyCreation.kindOf(KeyProperties.SECURITY_LEVEL_UNKNOWN, false))
        // Before API 31 only "inside secure hardware" is known.
        assertEquals(KeystoreKind.HARDWARE_BACKED, KeyCreation.kindOf(null, true))
        assertNull(KeyCreation.kindOf(null, false))
    }
}
