package dev.latchkey.android

import android.util.Log
import dev.latchkey.ffi.LogLevel
import dev.latchkey.ffi.LogRecord
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.shadows.ShadowLog

/** Release logs carry no ids; debug logs keep them. */
@RunWith(RobolectricTestRunner::class)
class LogcatSinkTest {
    private val record = LogRecord(
        LogLevel.INFO,
        "latchkey_core::device",
        "login push request=0123456789abcdef0123456789abcdef account=42 enrollment=9f8e7d6c-0001 status=404 fingerprint=sha256:ab12cd34ef",
    )

    private fun logged(): String = ShadowLog.getLogsForTag("Latchkey").single().msg

    @Test
    fun releaseLinesHaveNoIds() {
        LogcatSink(redactIds = true).log(record)
        val line = logged()
        for (id in listOf("0123456789abcdef0123456789abcdef", "42", "9f8e7d6c", "ab12cd34ef")) {
            assertFalse("$id leaked into: $line", line.contains(id))
        }
        assertTrue("words and statuses stay readable: $line", line.contains("login push request=") && line.contains("status=404"))
        assertEquals(Log.INFO, ShadowLog.getLogsForTag("Latchkey").single().type)
    }

    @Test
    fun debugLinesKeepThem() {
        LogcatSink(redactIds = false).log(record)
        assertTrue(logged().contains("request=0123456789abcdef0123456789abcdef account=42"))
    }
}
