package dev.latchkey.app

import android.app.job.JobInfo
import android.app.job.JobParameters
import android.app.job.JobScheduler
import android.app.job.JobService
import android.content.ComponentName
import android.content.Context
import android.os.PersistableBundle
import android.util.Log
import dev.latchkey.ffi.AuthenticatorException

/**
 * The sync a notice push asks for (the server has a signed notice for this phone: revoked,
 * password reset required, a move to another phone…), run by JobScheduler when the phone
 * has a network rather than inside the push callback.
 *
 * The job hands the push's data (kept in the job's extras) to the app model on the app's
 * background executor ([PushReceiver.onScheduled]): the model syncs every account and names
 * the login requests waiting for this phone, which get their notification; the accounts
 * screen tells the news at its next render. A failure as a whole (the library did not open)
 * asks JobScheduler to retry with its back-off.
 */
class NoticeSyncJob : JobService() {
    override fun onStartJob(params: JobParameters): Boolean {
        val app = application as LatchkeyApp
        app.background.execute {
            val extras = params.extras
            val data = extras.keySet().associateWith { key -> extras.getString(key).orEmpty() }
            val retry = try {
                PushReceiver(app).onScheduled(data)
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

        /** Schedules the push's sync: as soon as any network is up. */
        fun schedule(context: Context, data: Map<String, String>) {
            val extras = PersistableBundle().apply { data.forEach { (key, value) -> putString(key, value) } }
            val job = JobInfo.Builder(JOB_ID, ComponentName(context, NoticeSyncJob::class.java))
                .setRequiredNetworkType(JobInfo.NETWORK_TYPE_ANY)
                .setExtras(extras)
                .build()
            checkNotNull(context.getSystemService(JobScheduler::class.java)) { "no JobScheduler" }.schedule(job)
        }
    }
}
