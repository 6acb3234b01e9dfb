package dev.latchkey.android

import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import dev.latchkey.ffi.KeystoreKind

/**
 * How [AndroidKeystoreAdapter] makes keys: one at a time in the process, in StrongBox when the
 * device has it and falling back to the TEE key by key, and never in software.
 *
 * - **Serialised.** Checking that an alias is free and generating its key happen under one
 *   process-wide lock: two library threads sealing with a new alias at once would otherwise
 *   both generate a key, the second replacing the first under the alias, and whatever the
 *   first sealed could never be opened again.
 * - **Per-key StrongBox fallback.** A device can declare StrongBox and still refuse a key
 *   there (a key size or algorithm its StrongBox lacks, or a full StrongBox): that key is
 *   made in the TEE instead, and the adapter's kind drops to the TEE's from then on.
 * - **The level checked.** After generation the key's actual security level is read back
 *   from its `KeyInfo`; a key that landed in software is deleted and the operation fails.
 */
internal object KeyCreation {
    private val lock = Any()

    /** Runs [block] while no other key creation in the process runs. */
    fun <T> serialised(block: () -> T): T = synchronized(lock, block)

    /** The key [find] returns, or the one [create] makes when there is none: both under the lock. */
    fun <T : Any> findOrCreate(find: () -> T?, create: () -> T): T = serialised { find() ?: create() }

    /**
     * Runs [make] with `strongBox = true` when [strongBoxAvailable], and again with `false`
     * when StrongBox refuses the key. Returns what [make] made and whether it was asked for
     * StrongBox the time it succeeded.
     */
    fun <T> withFallback(strongBoxAvailable: Boolean, make: (strongBox: Boolean) -> T): Pair<T, Boolean> {
        if (strongBoxAvailable) {
            try {
                return make(true) to true
            } catch (e: StrongBoxUnavailableException) {
                // This key does not fit StrongBox: the TEE below.
            }
        }
        return make(false) to false
    }

    /**
     * The keystore kind a key's `KeyInfo` reports: `securityLevel` (API 31+, else `null`) and
     * `isInsideSecureHardware`. `null` for a key in software (or of unknown level), which the
     * adapter refuses.
     */
    fun kindOf(securityLevel: Int?, insideSecureHardware: Boolean): KeystoreKind? =
        when (securityLevel) {
            KeyProperties.SECURITY_LEVEL_STRONGBOX -> KeystoreKind.STRONG_BOX
            KeyProperties.SECURITY_LEVEL_TRUSTED_ENVIRONMENT -> KeystoreKind.HARDWARE_BACKED
            // "Secure hardware of unknown kind": not StrongBox as far as anyone can tell.
            KeyProperties.SECURITY_LEVEL_UNKNOWN_SECURE -> KeystoreKind.HARDWARE_BACKED
            null -> if (insideSecureHardware) KeystoreKind.HARDWARE_BACKED else null
            else -> null
        }
}
