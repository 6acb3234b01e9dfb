package dev.latchkey.android

import android.util.Log
import dev.latchkey.ffi.LogLevel
import dev.latchkey.ffi.LogRecord
import dev.latchkey.ffi.LogSink

/**
 * The library's [LogSink] on Logcat: `setLogSink(LogcatSink(), if (BuildConfig.DEBUG)
 * LogLevel.DEBUG else LogLevel.INFO)` at app start.
 *
 * Records carry ids, paths, statuses and error texts, never a PIN, key, code, response or
 * body (the library's rule). [log] is called on library threads, possibly under a lock: it
 * returns at once and never calls the `Authenticator`.
 */
class LogcatSink(private val tag: String = "Latchkey") : LogSink {
    override fun log(record: LogRecord) {
        Log.println(priority(record.level), tag, "${record.target}: ${record.message}")
    }

    private fun priority(level: LogLevel): Int =
        when (level) {
            LogLevel.ERROR -> Log.ERROR
            LogLevel.WARN -> Log.WARN
            LogLevel.INFO -> Log.INFO
            LogLevel.DEBUG -> Log.DEBUG
            LogLevel.TRACE -> Log.VERBOSE
        }
}
