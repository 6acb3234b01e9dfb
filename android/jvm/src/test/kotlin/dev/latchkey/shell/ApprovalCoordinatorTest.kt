package dev.latchkey.shell

import dev.latchkey.ffi.AccountSummary
import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.AuthenticatorInterface
import dev.latchkey.ffi.MatchingMode
import dev.latchkey.ffi.PendingApproval
import dev.latchkey.ffi.Unlock
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

/** The approval state machine on its own, over a fake library. */
class ApprovalCoordinatorTest {
    private val handle = RequestHandle.parse(HANDLE)!!

    private class Library(
        private val request: PendingApproval = pendingApproval(),
        private val biometric: Boolean = true,
        private val approveWith: (String?, Unlock) -> Unit = { _, _ -> },
    ) : AuthenticatorInterface by unsupported() {
        val approvals = mutableListOf<String?>()

        override fun pendingRequest(handle: String): PendingApproval = request

        override fun account(accountId: Long): AccountSummary = accountSummary(accountId, biometric = biometric)

        override fun approve(handle: String, typedCode: String?, unlock: Unlock) {
            approvals += typedCode
            approveWith(typedCode, unlock)
        }
    }

    @Test
    fun `a malformed code keeps the user on the code screen and sends nothing`() {
        val library = Library()
        val coordinator = ApprovalCoordinator(library)
        coordinator.open(handle)
        coordinator.proceed()

        val state = assertInstanceOf(ApprovalState.TypeCode::class.java, coordinator.enterCode("012345"))

        assertEquals(CodeProblem.MALFORMED, state.problem)
        val unlock = assertInstanceOf(ApprovalState.Unlock::class.java, coordinator.enterCode("583 920"))
        assertEquals("583920", unlock.typedCode)
        assertNull(unlock.problem)
        assertTrue(library.approvals.isEmpty())
    }

    @Test
    fun `tap mode goes from review straight to unlocking, without a code`() {
        val library = Library(request = pendingApproval(MatchingMode.TAP))
        val coordinator = ApprovalCoordinator(library)
        coordinator.open(handle)

        val unlock = assertInstanceOf(ApprovalState.Unlock::class.java, coordinator.proceed())

        assertNull(unlock.typedCode)
        assertEquals(ApprovalState.Finished(ApprovalOutcome.Approved), coordinator.unlockWithPin(pin()))
        assertEquals(listOf<String?>(null), library.approvals)
    }

    @Test
    fun `a lockout leaves the PIN as the way on`() {
        val library = Library(approveWith = { _, unlock ->
            if (unlock is Unlock.Biometric) throw AuthenticatorException.BiometricLockout()
        })
        val coordinator = ApprovalCoordinator(library)
        coordinator.open(handle)
        coordinator.proceed()
        coordinator.enterCode("583920")

        val state = assertInstanceOf(ApprovalState.Unlock::class.java, coordinator.unlockWithBiometric("Approve?"))

        assertEquals(UnlockProblem.BIOMETRIC_LOCKOUT, state.problem)
        assertFalse(state.biometricAvailable)
        assertThrows(IllegalStateException::class.java) { coordinator.unlockWithBiometric("Approve?") }
        assertEquals(ApprovalState.Finished(ApprovalOutcome.Approved), coordinator.unlockWithPin(pin()))
    }

    @Test
    fun `an answer the server decided ends the flow with the typed error`() {
        val library = Library(approveWith = { _, _ -> throw AuthenticatorException.CodeMismatch() })
        val coordinator = ApprovalCoordinator(library)
        coordinator.open(handle)
        coordinator.proceed()
        coordinator.enterCode("583920")
        val typed = pin()

        val done = assertInstanceOf(ApprovalState.Finished::class.java, coordinator.unlockWithPin(typed))

        assertInstanceOf(AuthenticatorException.CodeMismatch::class.java, (done.outcome as ApprovalOutcome.Failed).error)
        assertTrue(typed.all { it == 0.toByte() })
    }

    @Test
    fun `a request that cannot be fetched ends the flow before anything is shown`() {
        val library = object : AuthenticatorInterface by unsupported() {
            override fun pendingRequest(handle: String): PendingApproval = throw AuthenticatorException.UnknownRequest()
        }
        val coordinator = ApprovalCoordinator(library)

        val done = assertInstanceOf(ApprovalState.Finished::class.java, coordinator.open(handle))

        assertInstanceOf(AuthenticatorException.UnknownRequest::class.java, (done.outcome as ApprovalOutcome.Failed).error)
    }

    @Test
    fun `events that do not fit the state are refused as bugs`() {
        val coordinator = ApprovalCoordinator(Library())
        assertThrows(IllegalStateException::class.java) { coordinator.proceed() }
        assertThrows(IllegalStateException::class.java) { coordinator.enterCode("583920") }
        assertThrows(IllegalStateException::class.java) { coordinator.deny(dev.latchkey.ffi.DenialReason.DECLINED) }
        val unused = pin()
        assertThrows(IllegalStateException::class.java) { coordinator.unlockWithPin(unused) }
        assertTrue(unused.all { it == 0.toByte() }, "the PIN is overwritten even then")
        coordinator.open(handle)
        assertThrows(IllegalStateException::class.java) { coordinator.open(handle) }
        assertEquals(ApprovalState.Finished(ApprovalOutcome.Dismissed), coordinator.dismiss())
    }

    @ParameterizedTest
    @ValueSource(strings = ["", "58392", "5839201", "012345", "58392a", "５８３９２０"])
    fun `only six digits from 100000 to 999999 are a login screen's code`(code: String) {
        assertFalse(ApprovalCoordinator.isChallenge(code))
        assertTrue(ApprovalCoordinator.isChallenge("100000"))
        assertTrue(ApprovalCoordinator.isChallenge("999999"))
    }
}
