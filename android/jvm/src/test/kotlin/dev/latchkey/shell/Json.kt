package dev.latchkey.shell

/**
 * Just enough JSON for the tests to speak to the server's integrator API: objects become
 * `Map<String, Any?>`, arrays `List<Any?>`, numbers `Long` (or `Double`), and back.
 */
object Json {
    fun parse(text: String): Any? {
        val parser = Parser(text)
        val value = parser.value()
        parser.skipSpace()
        require(parser.atEnd()) { "trailing characters in JSON at ${parser.position}" }
        return value
    }

    @Suppress("UNCHECKED_CAST")
    fun obj(text: String): Map<String, Any?> = parse(text) as Map<String, Any?>

    fun write(value: Any?): String = StringBuilder().also { write(value, it) }.toString()

    private fun write(value: Any?, out: StringBuilder) {
        when (value) {
            null -> out.append("null")
            is String -> writeString(value, out)
            is Boolean, is Int, is Long, is Double -> out.append(value.toString())
            is Map<*, *> -> {
                out.append('{')
                value.entries.forEachIndexed { i, (key, item) ->
                    if (i > 0) out.append(',')
                    writeString(key as String, out)
                    out.append(':')
                    write(item, out)
                }
                out.append('}')
            }
            is List<*> -> {
                out.append('[')
                value.forEachIndexed { i, item ->
                    if (i > 0) out.append(',')
                    write(item, out)
                }
                out.append(']')
            }
            else -> throw IllegalArgumentException("cannot write ${value.javaClass}")
        }
    }

    private fun writeString(text: String, out: StringBuilder) {
        out.append('"')
        for (c in text) {
            when {
                c == '"' -> out.append("\\\"")
                c == '\\' -> out.append("\\\\")
                c < ' ' -> out.append(String.format("\\u%04x", c.code))
                else -> out.append(c)
            }
        }
        out.append('"')
    }

    private class Parser(private val text: String) {
        var position = 0

        fun atEnd() = position >= text.length

        fun skipSpace() {
            while (!atEnd() && text[position].isWhitespace()) position++
        }

        fun value(): Any? {
            skipSpace()
            require(!atEnd()) { "unexpected end of JSON" }
            return when (text[position]) {
                '{' -> objectValue()
                '[' -> arrayValue()
                '"' -> string()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> number()
            }
        }

        private fun literal(word: String, value: Any?): Any? {
            require(text.startsWith(word, position)) { "bad literal at $position" }
            position += word.length
            return value
        }

        private fun objectValue(): Map<String, Any?> {
            val result = LinkedHashMap<String, Any?>()
            position++
            skipSpace()
            if (text[position] == '}') {
                position++
                return result
            }
            while (true) {
                skipSpace()
                val key = string()
                skipSpace()
                expect(':')
                result[key] = value()
                skipSpace()
                if (text[position] == ',') {
                    position++
                } else {
                    expect('}')
                    return result
                }
            }
        }

        private fun arrayValue(): List<Any?> {
            val result = mutableListOf<Any?>()
            position++
            skipSpace()
            if (text[position] == ']') {
                position++
                return result
            }
            while (true) {
                result += value()
                skipSpace()
                if (text[position] == ',') {
                    position++
                } else {
                    expect(']')
                    return result
                }
            }
        }

        private fun string(): String {
            expect('"')
            val out = StringBuilder()
            while (true) {
                val c = text[position++]
                when (c) {
                    '"' -> return out.toString()
                    '\\' -> {
                        when (val escaped = text[position++]) {
                            'n' -> out.append('\n')
                            't' -> out.append('\t')
                            'r' -> out.append('\r')
                            'b' -> out.append('\b')
                            'f' -> out.append('\u000c')
                            'u' -> {
                                out.append(text.substring(position, position + 4).toInt(16).toChar())
                                position += 4
                            }
                            else -> out.append(escaped)
                        }
                    }
                    else -> out.append(c)
                }
            }
        }

        private fun number(): Any {
            val start = position
            while (!atEnd() && text[position] in "+-0123456789.eE") position++
            val token = text.substring(start, position)
            require(token.isNotEmpty()) { "unexpected character at $start" }
            return token.toLongOrNull() ?: token.toDouble()
        }

        private fun expect(c: Char) {
            require(!atEnd() && text[position] == c) { "expected '$c' at $position" }
            position++
        }
    }
}
