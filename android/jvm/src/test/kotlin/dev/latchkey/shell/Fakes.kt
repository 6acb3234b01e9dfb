package dev.latchkey.shell

import dev.latchkey.ffi.AccountState
import dev.latchkey.ffi.AccountSummary
import dev.latchkey.ffi.AuthenticatorInterface
import dev.latchkey.ffi.MatchingMode
import dev.latchkey.ffi.PendingApproval
import java.lang.reflect.Proxy

/**
 * An [AuthenticatorInterface] whose every method throws [UnsupportedOperationException]: the
 * base of the unit tests' fakes (`object : AuthenticatorInterface by unsupported() { … }`),
 * which override the methods a test needs.
 */
fun unsupported(): AuthenticatorInterface =
    Proxy.newProxyInstance(
        AuthenticatorInterface::class.java.classLoader,
        arrayOf(AuthenticatorInterface::class.java),
    ) { _, method, _ -> throw UnsupportedOperationException(method.name) } as AuthenticatorInterface

const val HANDLE = "00112233445566778899aabbccddeeff"

fun pendingApproval(mode: MatchingMode = MatchingMode.CODE, accountId: Long = 1) =
    PendingApproval(
        request = HANDLE,
        accountId = accountId,
        accountLabel = "alice @ 127.0.0.1",
        app = "Client Portal",
        client = "Firefox on Linux",
        origin = "203.0.113.7",
        requestedAt = 1_800_000_000UL,
        matchingMode = mode,
        expiresAt = 1_800_000_120UL,
        needsTypedCode = mode == MatchingMode.CODE,
    )

fun accountSummary(id: Long, state: AccountState = AccountState.Active, biometric: Boolean = false) =
    AccountSummary(
        id = id,
        label = "account $id",
        serverUrl = "http://127.0.0.1:1",
        serverFingerprint = "sha256:" + "0".repeat(64),
        enrollmentId = "ab".repeat(16),
        epoch = 1UL,
        state = state,
        matchingMode = MatchingMode.CODE,
        biometricEnabled = biometric,
        lastSyncAt = null,
        clockOffset = 0,
    )
