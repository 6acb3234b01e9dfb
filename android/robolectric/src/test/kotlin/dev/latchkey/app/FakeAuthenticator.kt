package dev.latchkey.app

import dev.latchkey.ffi.AccountState
import dev.latchkey.ffi.AccountSummary
import dev.latchkey.ffi.ActivationOutcome
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.AuthenticatorInterface
import dev.latchkey.ffi.ChallengeResponse
import dev.latchkey.ffi.DenialReason
import dev.latchkey.ffi.EnrollmentState
import dev.latchkey.ffi.Finding
import dev.latchkey.ffi.HistoryEntry
import dev.latchkey.ffi.MatchingMode
import dev.latchkey.ffi.PendingApproval
import dev.latchkey.ffi.PushAlert
import dev.latchkey.ffi.RemovalReport
import dev.latchkey.ffi.SyncEvent
import dev.latchkey.ffi.SyncReport
import dev.latchkey.ffi.Unlock

/**
 * The library as these tests need it: accounts, pending requests by handle, and a record of
 * every decision sent. What the app under test never calls fails loudly.
 */
class FakeAuthenticator : AuthenticatorInterface {
    /** The accounts on the phone. */
    val accounts = mutableListOf<AccountSummary>()

    /** The requests the server holds, by handle. */
    val requests = mutableMapOf<String, PendingApproval>()

    /** Events each sync reports. */
    var syncEvents: List<SyncEvent> = emptyList()

    /** Every approval: handle, typed code, and the unlock (PIN copied before it is wiped). */
    val approvals = mutableListOf<Triple<String, String?, Unlock>>()

    /** Every denial. */
    val denials = mutableListOf<Pair<String, DenialReason>>()

    /** Every handle asked for. */
    val fetched = mutableListOf<String>()

    /** Every sync: account id, push token, notifications enabled. */
    val syncs = mutableListOf<Triple<Long, String?, Boolean>>()

    override fun account(accountId: Long): AccountSummary =
        accounts.firstOrNull { it.id == accountId } ?: throw AuthenticatorException.NoSuchAccount(accountId)

    override fun accounts(): List<AccountSummary> = accounts.toList()

    override fun pendingRequest(handle: String): PendingApproval {
        fetched += handle
        return requests[handle] ?: throw AuthenticatorException.UnknownRequest()
    }

    override fun approve(handle: String, typedCode: String?, unlock: Unlock) {
        val copy = if (unlock is Unlock.Pin) Unlock.Pin(unlock.pin.copyOf()) else unlock
        approvals += Triple(handle, typedCode, copy)
    }

    override fun deny(handle: String, reason: DenialReason) {
        denials += handle to reason
    }

    override fun handlePush(data: Map<String, String>): PushAlert {
        if (accounts.isEmpty()) throw AuthenticatorException.UnknownRequest()
        return PushAlert(data.getValue("request"), "Login request", "Tap to review a login to your account.")
    }

    override fun sync(accountId: Long, pushToken: String?, notificationsEnabled: Boolean): SyncReport {
        syncs += Triple(accountId, pushToken, notificationsEnabled)
        return SyncReport(accountId, AccountState.Active, EnrollmentState.ACTIVE, 0UL, null, true, emptyList(), 0L, syncEvents)
    }

    override fun activate(
        serverProfile: String,
        ticketJson: String,
        activationCode: String,
        pin: ByteArray,
        pinConfirmation: ByteArray,
        deviceName: String,
        pushToken: String?,
    ): ActivationOutcome = unused()

    override fun approveReplacement(accountId: Long, replacement: String, unlock: Unlock) = unused()

    override fun authorisePhoneNumberChange(accountId: Long, unlock: Unlock) = unused()

    override fun cancelReplacement(accountId: Long, replacement: String, unlock: Unlock) = unused()

    override fun changePin(accountId: Long, oldPin: ByteArray, newPin: ByteArray, confirmation: ByteArray) = unused()

    override fun diagnose(accountId: Long, notificationsEnabled: Boolean, pushToken: String?): List<Finding> = unused()

    override fun disableBiometric(accountId: Long) = unused()

    override fun enableBiometric(accountId: Long, pin: ByteArray) = unused()

    override fun handlePushJson(json: String): PushAlert = unused()

    override fun history(): List<HistoryEntry> = unused()

    override fun optOutOfTwoFactor(accountId: Long, unlock: Unlock) = unused()

    override fun removeAccount(accountId: Long): RemovalReport = unused()

    override fun respondToChallenge(accountId: Long, challenge: String, unlock: Unlock): ChallengeResponse = unused()

    private fun unused(): Nothing = throw UnsupportedOperationException("not used by the app under test")

    companion object {
        /** An active account. */
        fun account(id: Long, label: String, biometric: Boolean = false): AccountSummary =
            AccountSummary(
                id, label, "https://auth.example.com", "sha256:" + "ab".repeat(32), "0f".repeat(16),
                1UL, AccountState.Active, MatchingMode.CODE, biometric, null, 0L,
            )

        /** A pending login request of [accountId]'s. */
        fun request(handle: String, accountId: Long, app: String, needsTypedCode: Boolean = true): PendingApproval =
            PendingApproval(
                handle, accountId, "alice @ auth.example.com", app, "Firefox on Linux", "Zurich, CH",
                1_800_000_000UL, if (needsTypedCode) MatchingMode.CODE else MatchingMode.TAP, 1_800_000_120UL, needsTypedCode,
            )
    }
}
