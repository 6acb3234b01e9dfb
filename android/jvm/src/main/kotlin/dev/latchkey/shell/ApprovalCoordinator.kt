package dev.latchkey.shell

import dev.latchkey.ffi.AuthenticatorException
import dev.latchkey.ffi.AuthenticatorInterface
import dev.latchkey.ffi.DenialReason
import dev.latchkey.ffi.PendingApproval
import dev.latchkey.ffi.Unlock

/**
 * The push-approval flow as a UI-agnostic state machine: review what is being approved,
 * type the code shown on the login screen, confirm with PIN or biometric, and the result.
 *
 * ```
 * Idle ─open→ Review ─proceed→ TypeCode ─enterCode→ Unlock ─unlockWith…→ Finished
 *               │                 │ (tap mode skips TypeCode)  │
 *               └──────deny───────┴────────────deny────────────┘→ Finished(Denied)
 * ```
 *
 * Every event method **blocks** while the library talks to the server or shows the
 * biometric prompt: call them off the main thread and render [state] (or the states
 * [onChange] receives, on the calling thread) on the main thread. Events that do not fit
 * the current state throw [IllegalStateException]: that is a bug in the screen, not a user
 * error. One coordinator serves one request at a time; it is thread-safe.
 *
 * Wrong inputs keep the user where they are when the request is still answerable (a
 * malformed code, a cancelled biometric prompt); answers the server decided end the flow
 * ([ApprovalOutcome.Failed] with the typed error: a wrong PIN ends the request, with the
 * attempts left). PIN arrays are overwritten after use.
 */
class ApprovalCoordinator(
    private val authenticator: AuthenticatorInterface,
    private val onChange: (ApprovalState) -> Unit = {},
) {
    /** The current state. */
    @Volatile
    var state: ApprovalState = ApprovalState.Idle
        private set

    /**
     * Fetches the login request [handle] names and checks it (network): [ApprovalState.Review]
     * when it checks out, else [ApprovalState.Finished] with the reason (expired, unknown —
     * show nothing, offline…).
     */
    @Synchronized
    fun open(handle: RequestHandle): ApprovalState {
        check(state is ApprovalState.Idle || state is ApprovalState.Finished) { "a request is already open" }
        move(ApprovalState.Busy)
        return move(
            try {
                val request = authenticator.pendingRequest(handle.hex)
                val biometric = authenticator.account(request.accountId).biometricEnabled
                ApprovalState.Review(request, biometric)
            } catch (e: AuthenticatorException) {
                ApprovalState.Finished(ApprovalOutcome.Failed(e))
            },
        )
    }

    /** The user read the request and goes on: to the code (code mode) or straight to unlocking. */
    @Synchronized
    fun proceed(): ApprovalState {
        val review = expect<ApprovalState.Review>()
        return move(
            if (review.request.needsTypedCode) {
                ApprovalState.TypeCode(review.request, review.biometricAvailable, problem = null)
            } else {
                ApprovalState.Unlock(review.request, null, review.biometricAvailable, problem = null)
            },
        )
    }

    /**
     * The code the user typed from the login screen. A malformed one (not six digits from
     * 100000 to 999999) keeps [ApprovalState.TypeCode] with [CodeProblem.MALFORMED]; whether
     * it is the *right* code only the server can say, after the PIN.
     */
    @Synchronized
    fun enterCode(code: String): ApprovalState {
        val typing = expect<ApprovalState.TypeCode>()
        val trimmed = code.filterNot { it == ' ' }
        return move(
            if (isChallenge(trimmed)) {
                ApprovalState.Unlock(typing.request, trimmed, typing.biometricAvailable, problem = null)
            } else {
                typing.copy(problem = CodeProblem.MALFORMED)
            },
        )
    }

    /** Approves with the PIN (network). [pin] is overwritten when the call returns. */
    @Synchronized
    fun unlockWithPin(pin: ByteArray): ApprovalState {
        try {
            val unlocking = expect<ApprovalState.Unlock>()
            return approve(unlocking, Unlock.Pin(pin))
        } finally {
            pin.fill(0)
        }
    }

    /**
     * Approves with biometrics: the library shows the system prompt with [prompt] and waits
     * for the user, then sends the approval. A cancelled prompt, a lockout or biometrics
     * changed on the phone keep [ApprovalState.Unlock] (with the PIN as the way on).
     */
    @Synchronized
    fun unlockWithBiometric(prompt: String): ApprovalState {
        val unlocking = expect<ApprovalState.Unlock>()
        check(unlocking.biometricAvailable) { "biometrics are not available for this account" }
        return approve(unlocking, Unlock.Biometric(prompt))
    }

    /** Denies the request; [DenialReason.NOT_ME] reports it as fraud (network, no PIN). */
    @Synchronized
    fun deny(reason: DenialReason): ApprovalState {
        val request = when (val current = state) {
            is ApprovalState.Review -> current.request
            is ApprovalState.TypeCode -> current.request
            is ApprovalState.Unlock -> current.request
            else -> throw IllegalStateException("nothing to deny in $current")
        }
        move(ApprovalState.Busy)
        return move(
            try {
                authenticator.deny(request.request, reason)
                ApprovalState.Finished(ApprovalOutcome.Denied(reportedFraud = reason == DenialReason.NOT_ME))
            } catch (e: AuthenticatorException) {
                ApprovalState.Finished(ApprovalOutcome.Failed(e))
            },
        )
    }

    /** The user left the screen without deciding: the request stays open on the server until it expires. */
    @Synchronized
    fun dismiss(): ApprovalState = move(ApprovalState.Finished(ApprovalOutcome.Dismissed))

    private fun approve(unlocking: ApprovalState.Unlock, unlock: Unlock): ApprovalState {
        move(ApprovalState.Busy)
        return move(
            try {
                authenticator.approve(unlocking.request.request, unlocking.typedCode, unlock)
                ApprovalState.Finished(ApprovalOutcome.Approved)
            } catch (e: AuthenticatorException.BiometricCancelled) {
                unlocking.copy(problem = UnlockProblem.BIOMETRIC_CANCELLED)
            } catch (e: AuthenticatorException.BiometricLockout) {
                unlocking.copy(biometricAvailable = false, problem = UnlockProblem.BIOMETRIC_LOCKOUT)
            } catch (e: AuthenticatorException.BiometricInvalidated) {
                unlocking.copy(biometricAvailable = false, problem = UnlockProblem.BIOMETRIC_INVALIDATED)
            } catch (e: AuthenticatorException.BiometricNotEnabled) {
                unlocking.copy(biometricAvailable = false, problem = UnlockProblem.BIOMETRIC_INVALIDATED)
            } catch (e: AuthenticatorException.BadInput) {
                // A PIN of the wrong form: the request was not sent, so it is still answerable.
                unlocking.copy(problem = UnlockProblem.MALFORMED_PIN)
            } catch (e: AuthenticatorException) {
                ApprovalState.Finished(ApprovalOutcome.Failed(e))
            },
        )
    }

    private inline fun <reified S : ApprovalState> expect(): S =
        state as? S ?: throw IllegalStateException("expected ${S::class.simpleName}, in $state")

    private fun move(next: ApprovalState): ApprovalState {
        state = next
        onChange(next)
        return next
    }

    companion object {
        /** Whether [code] is a login screen's code: six digits from 100000 to 999999. */
        fun isChallenge(code: String): Boolean =
            code.length == 6 && code.all { it in '0'..'9' } && code[0] != '0'
    }
}

/** Where an approval stands. */
sealed interface ApprovalState {
    /** Nothing open. */
    data object Idle : ApprovalState

    /** Waiting for the server or the biometric prompt: show progress. */
    data object Busy : ApprovalState

    /**
     * Show what is being approved: [request]'s app, client, origin, time and account. The
     * user goes on ([ApprovalCoordinator.proceed]) or denies.
     */
    data class Review(val request: PendingApproval, val biometricAvailable: Boolean) : ApprovalState

    /** Ask for the 6-digit code shown on the login screen; [problem] says why the last one was refused. */
    data class TypeCode(val request: PendingApproval, val biometricAvailable: Boolean, val problem: CodeProblem?) :
        ApprovalState

    /**
     * Ask for the PIN, or offer biometrics when [biometricAvailable]; [problem] says why the
     * last try did not go through (show the PIN entry then).
     */
    data class Unlock(
        val request: PendingApproval,
        val typedCode: String?,
        val biometricAvailable: Boolean,
        val problem: UnlockProblem?,
    ) : ApprovalState

    /** The flow ended. */
    data class Finished(val outcome: ApprovalOutcome) : ApprovalState
}

/** Why a typed code was refused before anything was sent. */
enum class CodeProblem {
    /** Not six digits from 100000 to 999999. */
    MALFORMED,
}

/** Why an unlock did not go through while the request is still answerable. */
enum class UnlockProblem {
    /** The user dismissed the biometric prompt: offer the PIN. */
    BIOMETRIC_CANCELLED,

    /** Too many biometric failures: use the PIN for now. */
    BIOMETRIC_LOCKOUT,

    /** Biometrics changed on the phone (or are off): use the PIN, then offer to turn them on again. */
    BIOMETRIC_INVALIDATED,

    /** The PIN is not 6 to 12 digits (nothing was sent). */
    MALFORMED_PIN,
}

/** How an approval flow ended. */
sealed interface ApprovalOutcome {
    /** The login proceeds on the login screen. */
    data object Approved : ApprovalOutcome

    /** Denied; [reportedFraud] when the user said "this wasn't me". */
    data class Denied(val reportedFraud: Boolean) : ApprovalOutcome

    /** The user left without deciding. */
    data object Dismissed : ApprovalOutcome

    /**
     * The library or the server said no; [error] is typed (see docs/INTEGRATION.md for the
     * screen each deserves): `WrongResponse` with the attempts left, `CodeMismatch`,
     * `Expired`, `Offline` (offer challenge/response), `UnknownRequest` (show nothing)…
     */
    data class Failed(val error: AuthenticatorException) : ApprovalOutcome
}
