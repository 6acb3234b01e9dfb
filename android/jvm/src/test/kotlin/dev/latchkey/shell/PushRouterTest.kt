package dev.latchkey.shell

import dev.latchkey.ffi.AccountState
import dev.latchkey.ffi.AccountSummary
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.AuthenticatorInterface
import dev.latchkey.ffi.EnrollmentState
import dev.latchkey.ffi.PushAlert
import dev.latchkey.ffi.SyncReport
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The push router on its own, over a fake library. */
class PushRouterTest {
    @Test
    fun `a login push becomes the library's generic notification`() {
        val library = object : AuthenticatorInterface by unsupported() {
            override fun handlePush(data: Map<String, String>): PushAlert =
                PushAlert(data.getValue("request"), "Latchkey", "Login request — open Latchkey to review")
        }

        val route = PushRouter(library).route(mapOf("latchkey" to "1", "request" to HANDLE, "from" to "x"), null, true)

        assertEquals(
            PushRoute.ShowLoginNotification(RequestHandle.parse(HANDLE)!!, "Latchkey", "Login request — open Latchkey to review"),
            route,
        )
    }

    @Test
    fun `other pushes pass through and malformed ones never reach the library`() {
        val router = PushRouter(unsupported())

        assertEquals(PushRoute.NotLatchkey, router.route(mapOf("from" to "another SDK"), null, true))
        assertEquals(
            PushRoute.Ignored(IgnoreReason.MALFORMED, null),
            router.route(mapOf("latchkey" to "1", "request" to "ZZ"), null, true),
        )
    }

    @Test
    fun `a push for a request no account here knows is ignored`() {
        val library = object : AuthenticatorInterface by unsupported() {
            override fun handlePush(data: Map<String, String>): PushAlert = throw AuthenticatorException.UnknownRequest()
        }

        val route = PushRouter(library).route(mapOf("latchkey" to "1", "request" to HANDLE), null, true)

        assertEquals(IgnoreReason.NO_ACCOUNT, assertInstanceOf(PushRoute.Ignored::class.java, route).reason)
    }

    @Test
    fun `a notice push syncs every account that still has its secrets`() {
        val synced = mutableListOf<Triple<Long, String?, Boolean>>()
        val library = object : AuthenticatorInterface by unsupported() {
            override fun accounts(): List<AccountSummary> =
                listOf(
                    accountSummary(1),
                    accountSummary(2, AccountState.Wiped(5UL)),
                    accountSummary(3, AccountState.Locked),
                    accountSummary(4, AccountState.Replaced("New Pixel", 5UL)),
                )

            override fun sync(accountId: Long, pushToken: String?, notificationsEnabled: Boolean): SyncReport {
                synced += Triple(accountId, pushToken, notificationsEnabled)
                if (accountId == 3L) throw AuthenticatorException.Offline()
                return SyncReport(accountId, AccountState.Active, EnrollmentState.ACTIVE, 0UL, null, true, emptyList(), 0, emptyList())
            }
        }

        val route = PushRouter(library).route(mapOf("latchkey" to "1", "notice" to "revoked"), "token", false)

        val result = assertInstanceOf(PushRoute.AccountsSynced::class.java, route)
        assertEquals(listOf(Triple(1L, "token", false), Triple(3L, "token", false)), synced)
        assertEquals(listOf(1L), result.reports.map { it.accountId })
        assertTrue(result.failures.getValue(3) is AuthenticatorException.Offline)
    }
}
