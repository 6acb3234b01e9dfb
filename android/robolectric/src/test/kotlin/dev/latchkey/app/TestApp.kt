package dev.latchkey.app

import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.AppModelInterface
import java.util.ArrayDeque
import java.util.concurrent.AbstractExecutorService
import java.util.concurrent.ExecutorService
import java.util.concurrent.TimeUnit

/**
 * The tests' application (robolectric.properties): the real [LatchkeyApp] with the app
 * model replaced by [fake] (or by [openFailure] when set), no native log sink, and a
 * background executor that runs its tasks when a test calls [runBackground].
 */
class TestApp : LatchkeyApp() {
    /** What [model] returns. */
    val fake: FakeModel = FakeModel()

    /** When set, opening the library throws it. */
    var openFailure: AuthenticatorException? = null

    /** How many times the library was opened (successfully or not). */
    var opens = 0
        private set

    /** The background executor's queue. */
    val queue = QueueExecutor()

    override fun openModel(): AppModelInterface {
        opens += 1
        openFailure?.let { throw it }
        return fake
    }

    override fun installLogSink() {
        // The native library is not loaded in these tests.
    }

    override fun newBackgroundExecutor(): ExecutorService = queue

    /** Runs every queued background task (and the tasks they queue). */
    fun runBackground() = queue.runAll()
}

/** An executor that queues tasks until [runAll]: the tests decide when background work happens. */
class QueueExecutor : AbstractExecutorService() {
    private val tasks = ArrayDeque<Runnable>()

    override fun execute(command: Runnable) {
        synchronized(tasks) { tasks.add(command) }
    }

    /** Runs queued tasks, in order, until none is left. */
    fun runAll() {
        while (true) {
            val next = synchronized(tasks) { tasks.pollFirst() } ?: return
            next.run()
        }
    }

    override fun shutdown() {}

    override fun shutdownNow(): MutableList<Runnable> = mutableListOf()

    override fun isShutdown(): Boolean = false

    override fun isTerminated(): Boolean = false

    override fun awaitTermination(timeout: Long, unit: TimeUnit): Boolean = true
}
