package dev.latchkey.shell

/**
 * What a push message's data turned out to be, read from the FCM data map
 * (`RemoteMessage.data`).
 *
 * A Latchkey login push carries only `{"latchkey": "1", "request": "<request id hex>"}`
 * (PROTOCOL.md §6.2); a notice push (the server has a signed notice for this phone:
 * revoked, password reset required, a move to another phone…) carries
 * `{"latchkey": "1", "notice": "<kind>"}` and only asks the app to sync. Keys the platform
 * or other SDKs add are ignored; the Latchkey keys are read strictly.
 */
sealed interface PushPayload {
    /** A login request is waiting: fetch it with [handle] and show it once it checks out. */
    data class LoginRequest(val handle: RequestHandle) : PushPayload

    /**
     * The server has a notice for this phone: sync the accounts to fetch it (signed).
     * [kind] is informational only (`revoked`, `replacement_pending`…); nothing is done on
     * its word.
     */
    data class Notice(val kind: String) : PushPayload

    /** The push has no `latchkey` key: it belongs to someone else; pass it on. */
    data object NotLatchkey : PushPayload

    /** The push says it is Latchkey's but cannot be used; show nothing, log [problem]. */
    data class Malformed(val problem: Problem) : PushPayload

    /** Why a push that names Latchkey cannot be used. */
    enum class Problem {
        /** `latchkey` is not `"1"`: a payload version this app does not know. */
        UNSUPPORTED_VERSION,

        /** There is neither a `request` nor a `notice` key. */
        MISSING_REQUEST,

        /** `request` is not 32 lowercase hex characters. */
        INVALID_REQUEST,

        /** `notice` is not 1 to 64 characters of lowercase letters and `_`. */
        INVALID_NOTICE,
    }

    companion object {
        /** The key that marks a push as Latchkey's; its value is the payload version. */
        const val VERSION_KEY: String = "latchkey"

        /** The key holding the request handle. */
        const val REQUEST_KEY: String = "request"

        /** The key of a notice push, naming the notice's kind. */
        const val NOTICE_KEY: String = "notice"

        /** The only payload version this shell reads. */
        const val VERSION: String = "1"

        /** Reads an FCM data map. */
        fun parse(data: Map<String, String>): PushPayload {
            val version = data[VERSION_KEY] ?: return NotLatchkey
            if (version != VERSION) return Malformed(Problem.UNSUPPORTED_VERSION)
            val request = data[REQUEST_KEY] ?: return notice(data[NOTICE_KEY])
            val handle = RequestHandle.parse(request) ?: return Malformed(Problem.INVALID_REQUEST)
            return LoginRequest(handle)
        }

        private fun notice(kind: String?): PushPayload = when {
            kind == null -> Malformed(Problem.MISSING_REQUEST)
            kind.length in 1..64 && kind.all { it in 'a'..'z' || it == '_' } -> Notice(kind)
            else -> Malformed(Problem.INVALID_NOTICE)
        }
    }
}
