package dev.latchkey.android

import android.util.Log
import dev.latchkey.ffi.LogLevel
import dev.latchkey.ffi.LogRecord
import dev.latchkey.ffi.LogSink

/**
 * The library's [LogSink] on Logcat: `setLogSink(LogcatSink(redactIds = !BuildConfig.DEBUG),
 * if (BuildConfig.DEBUG) LogLevel.DEBUG else LogLevel.INFO)` at app start.
 *
 * Records carry ids, paths, statuses and error texts, never a PIN, key, code, response or
 * body (the library's rule). Any app on a rooted phone, and a bug report, can read Logcat,
 * so with [redactIds] (release builds) every number and every hex run that contains a digit
 * — account, request, enrollment and key ids, handles, fingerprints — is replaced by `…`
 * before the line is written; words, error kinds and HTTP statuses (three digits, 100 to
 * 599) stay readable.
 *
 * [log] is called on library threads, possibly under a lock: it returns at once and never
 * calls the `Authenticator`.
 */
class LogcatSink(
    private val tag: String = "Latchkey",
    private val redactIds: Boolean = true,
) : LogSink {
    override fun log(record: LogRecord) {
        val line = "${record.target}: ${record.message}"
        Log.println(priority(record.level), tag, if (redactIds) redact(line) else line)
    }

    private fun priority(level: LogLevel): Int =
        when (level) {
            LogLevel.ERROR -> Log.ERROR
            LogLevel.WARN -> Log.WARN
            LogLevel.INFO -> Log.INFO
            LogLevel.DEBUG -> Log.DEBUG
            LogLevel.TRACE -> Log.VERBOSE
        }

    /** How a release line is redacted. */
    companion object {
        // A run of digits, hex letters and '-' with at least one digit, not inside a longer
        // word: ids, handles, fingerprints, numbers. "sync", "account", "sha256" stay.
        private val ID = Regex("(?<![A-Za-z0-9_])(?=[0-9A-Fa-f-]*[0-9])[0-9A-Fa-f-]+(?![A-Za-z0-9_])")
        private val HTTP_STATUS = Regex("[1-5][0-9]{2}")

        /** [line] with every id-like run replaced by `…` (HTTP statuses kept). */
        fun redact(line: String): String =
            ID.replace(line) { match -> if (HTTP_STATUS.matches(match.value)) match.value else "…" }
    }
}
