package dev.latchkey.shell

/**
 * What a push message's data turned out to be, read from the FCM data map
 * (`RemoteMessage.data`).
 *
 * A Latchkey login push carries only `{"latchkey": "1", "request": "<request id hex>"}`
 * (PROTOCOL.md §6.2). Keys the platform or other SDKs add are ignored; the two Latchkey
 * keys are read strictly.
 */
sealed interface PushPayload {
    /** A login request is waiting: fetch it with [handle] and show it once it checks out. */
    data class LoginRequest(val handle: RequestHandle) : PushPayload

    /** The push has no `latchkey` key: it belongs to someone else; pass it on. */
    data object NotLatchkey : PushPayload

    /** The push says it is Latchkey's but cannot be used; show nothing, log [problem]. */
    data class Malformed(val problem: Problem) : PushPayload

    /** Why a push that names Latchkey cannot be used. */
    enum class Problem {
        /** `latchkey` is not `"1"`: a payload version this app does not know. */
        UNSUPPORTED_VERSION,

        /** There is no `request` key. */
        MISSING_REQUEST,

        /** `request` is not 32 lowercase hex characters. */
        INVALID_REQUEST,
    }

    companion object {
        /** The key that marks a push as Latchkey's; its value is the payload version. */
        const val VERSION_KEY: String = "latchkey"

        /** The key holding the request handle. */
        const val REQUEST_KEY: String = "request"

        /** The only payload version this shell reads. */
        const val VERSION: String = "1"

        /** Reads an FCM data map. */
        fun parse(data: Map<String, String>): PushPayload {
            val version = data[VERSION_KEY] ?: return NotLatchkey
            if (version != VERSION) return Malformed(Problem.UNSUPPORTED_VERSION)
            val request = data[REQUEST_KEY] ?: return Malformed(Problem.MISSING_REQUEST)
            val handle = RequestHandle.parse(request) ?: return Malformed(Problem.INVALID_REQUEST)
            return LoginRequest(handle)
        }
    }
}
