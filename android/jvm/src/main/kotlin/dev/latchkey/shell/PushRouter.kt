package dev.latchkey.shell

import dev.latchkey.ffi.AccountState
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.AuthenticatorInterface
import dev.latchkey.ffi.SyncReport

/**
 * Turns a push's data map (FCM `RemoteMessage.data`) into what the app does with it: post
 * the generic login notification, sync the accounts for a server notice, or nothing.
 *
 * Call [route] from the push service's message callback (a background thread: it may
 * block on the network for a notice push). It never throws for a push: whatever goes
 * wrong is a [PushRoute.Ignored] with the reason, because a push is untrusted input and
 * must not crash the service.
 *
 * A login push names an opaque request handle only; the notification text is generic
 * ([dev.latchkey.ffi.PushAlert]). Nothing about the login is shown before the user opens
 * it and [ApprovalCoordinator.open] fetched and checked the signed request.
 */
class PushRouter(private val authenticator: AuthenticatorInterface) {
    /**
     * Routes one push. [pushToken] and [notificationsEnabled] are what the platform reports
     * now; they are sent with the syncs a notice push causes.
     */
    fun route(data: Map<String, String>, pushToken: String?, notificationsEnabled: Boolean): PushRoute =
        when (val payload = PushPayload.parse(data)) {
            PushPayload.NotLatchkey -> PushRoute.NotLatchkey
            is PushPayload.Malformed -> PushRoute.Ignored(IgnoreReason.MALFORMED, null)
            is PushPayload.LoginRequest -> loginNotification(data, payload.handle)
            is PushPayload.Notice -> syncAll(pushToken, notificationsEnabled)
        }

    private fun loginNotification(data: Map<String, String>, handle: RequestHandle): PushRoute =
        try {
            val alert = authenticator.handlePush(data)
            PushRoute.ShowLoginNotification(RequestHandle.parse(alert.request) ?: handle, alert.title, alert.body)
        } catch (e: AuthenticatorException.UnknownRequest) {
            PushRoute.Ignored(IgnoreReason.NO_ACCOUNT, e)
        } catch (e: AuthenticatorException) {
            PushRoute.Ignored(IgnoreReason.FAILED, e)
        }

    private fun syncAll(pushToken: String?, notificationsEnabled: Boolean): PushRoute {
        val accounts = try {
            authenticator.accounts()
        } catch (e: AuthenticatorException) {
            return PushRoute.Ignored(IgnoreReason.FAILED, e)
        }
        val reports = mutableListOf<SyncReport>()
        val failures = mutableMapOf<Long, AuthenticatorException>()
        for (account in accounts.filter { it.state.hasSecrets() }) {
            try {
                reports += authenticator.sync(account.id, pushToken, notificationsEnabled)
            } catch (e: AuthenticatorException) {
                failures[account.id] = e
            }
        }
        return PushRoute.AccountsSynced(reports, failures)
    }
}

/** What to do with one push. */
sealed interface PushRoute {
    /**
     * Post a notification with [title] and [body] (generic: the push carries no detail);
     * when the user taps it, open the approval screen for [handle]
     * ([ApprovalCoordinator.open]).
     */
    data class ShowLoginNotification(val handle: RequestHandle, val title: String, val body: String) :
        PushRoute

    /**
     * A server notice: every account that still has its secrets was synced. Each report's
     * `events` say what to tell the user (moved to another phone, password reset
     * required…); [failures] are the accounts that could not be synced, by account id.
     */
    data class AccountsSynced(val reports: List<SyncReport>, val failures: Map<Long, AuthenticatorException>) :
        PushRoute

    /** Not a Latchkey push: hand it to whoever else receives pushes in the app. */
    data object NotLatchkey : PushRoute

    /** A Latchkey push that leads nowhere: show nothing; [error] is for the log. */
    data class Ignored(val reason: IgnoreReason, val error: AuthenticatorException?) : PushRoute
}

/** Why a Latchkey push was ignored. */
enum class IgnoreReason {
    /** The payload is not a valid Latchkey push. */
    MALFORMED,

    /** No account on this phone could answer the login request. */
    NO_ACCOUNT,

    /** The library refused it (the error says why). */
    FAILED,
}

/** Whether an account in this state still has its secrets (not replaced or wiped). */
fun AccountState.hasSecrets(): Boolean = this !is AccountState.Replaced && this !is AccountState.Wiped
