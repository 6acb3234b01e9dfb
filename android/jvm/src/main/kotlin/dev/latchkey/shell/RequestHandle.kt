package dev.latchkey.shell

/**
 * The handle a Latchkey push carries: the text form of one approval request's id,
 * exactly 32 lowercase hex characters (16 bytes). Any other spelling is refused.
 *
 * A handle is only a pointer: the app fetches the signed login request it names and
 * checks it fully before showing anything, so a forged push can waste a fetch but cannot
 * put words on the screen.
 */
@JvmInline
value class RequestHandle private constructor(val hex: String) {
    override fun toString(): String = hex

    companion object {
        /** The number of hex characters in a handle (16 bytes). */
        const val LENGTH: Int = 32

        /** The handle spelled by [text], or `null` unless it is 32 lowercase hex characters. */
        fun parse(text: String): RequestHandle? =
            if (text.length == LENGTH && text.all(::isLowercaseHexDigit)) RequestHandle(text) else null

        private fun isLowercaseHexDigit(c: Char): Boolean = c in '0'..'9' || c in 'a'..'f'
    }
}
