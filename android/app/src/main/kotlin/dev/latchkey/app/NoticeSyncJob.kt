package dev.latchkey.app

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context
import android.util.Log
import dev.latchkey.ffi.AuthenticatorException

/**
 * The sync a notice push asks for (the server has a signed notice for this phone: revoked,
 * password reset required, a move to another phone…), run by JobScheduler when the phone
 * has a network rather than inside the push callback.
 *
 * The job syncs every account on the app's background executor; when a report carries
 * events, the account notice ("open the app") is posted. A sync that failed as a whole (the
 * library did not open) asks JobScheduler to retry with its back-off; single accounts that
 * fail are logged and left to the next sync.
 */
class NoticeSyncJob : JobService() {
    override fun onStartJob(params: JobParameters): Boolean {
        val app = application as LatchkeyApp
        app.background.execute {
            val retry = try {
                val reports = app.syncAll()
                if (reports.any { it.events.isNotEmpty() }) LoginNotifications.postAccountNotice(app)
                false
            } catch (e: AuthenticatorException) {
                Log.w(LatchkeyApp.TAG, "notice sync: ${e.javaClass.simpleName}")
                true
            }
            jobFinished(params, retry)
        }
        return true
    }

    override fun onStopJob(params: JobParameters): Boolean = true

    companion object {
        /** The job's id (one pending notice sync at a time: a second push replaces it). */
        const val JOB_ID = 0x4c4b0001

        /** Schedules the sync: as soon as any network is up. */
        fun schedule(context: Context) {
            val job = JobInfo.Builder(JOB_ID, ComponentName(context, NoticeSyncJob::class.java))
                .setRequiredNetworkType(JobInfo.NETWORK_TYPE_ANY)
                .build()
            checkNotNull(context.getSystemService(JobScheduler::class.java)) { "no JobScheduler" }.schedule(job)
        }
    }
}
