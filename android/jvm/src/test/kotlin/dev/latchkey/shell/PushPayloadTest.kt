package dev.latchkey.shell

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

class PushPayloadTest {
    private val handle = "00112233445566778899aabbccddeeff"

    @Test
    fun `a login push yields its request handle`() {
        val payload = PushPayload.parse(mapOf("latchkey" to "1", "request" to handle))

        assertEquals(PushPayload.LoginRequest(RequestHandle.parse(handle)!!), payload)
    }

    @Test
    fun `keys added by the platform or other SDKs are ignored`() {
        val payload = PushPayload.parse(
            mapOf("latchkey" to "1", "request" to handle, "google.c.a.e" to "1", "from" to "x"),
        )

        assertEquals(handle, (payload as PushPayload.LoginRequest).handle.hex)
    }

    @Test
    fun `a push without the latchkey key is not Latchkey's`() {
        assertEquals(PushPayload.NotLatchkey, PushPayload.parse(emptyMap()))
        assertEquals(PushPayload.NotLatchkey, PushPayload.parse(mapOf("request" to handle)))
    }

    @ParameterizedTest
    @ValueSource(strings = ["2", "", "01", "1 ", "v1"])
    fun `a payload version other than 1 is malformed`(version: String) {
        assertEquals(
            PushPayload.Malformed(PushPayload.Problem.UNSUPPORTED_VERSION),
            PushPayload.parse(mapOf("latchkey" to version, "request" to handle)),
        )
    }

    @Test
    fun `a Latchkey push without a request is malformed`() {
        assertEquals(
            PushPayload.Malformed(PushPayload.Problem.MISSING_REQUEST),
            PushPayload.parse(mapOf("latchkey" to "1")),
        )
    }

    @ParameterizedTest
    @ValueSource(
        strings = [
            "",
            "00112233445566778899AABBCCDDEEFF",
            "00112233445566778899aabbccddeef",
            "00112233445566778899aabbccddeeff0",
            "00112233445566778899aabbccddeefg",
            " 0112233445566778899aabbccddeeff",
            "00112233-4455-6677-8899-aabbccdd",
            "٠0112233445566778899aabbccddeeff",
        ],
    )
    fun `a request that is not 32 lowercase hex characters is malformed`(request: String) {
        assertEquals(
            PushPayload.Malformed(PushPayload.Problem.INVALID_REQUEST),
            PushPayload.parse(mapOf("latchkey" to "1", "request" to request)),
        )
        assertNull(RequestHandle.parse(request))
    }

    @Test
    fun `a notice push asks for a sync and names its kind`() {
        assertEquals(PushPayload.Notice("revoked"), PushPayload.parse(mapOf("latchkey" to "1", "notice" to "revoked")))
        assertEquals(
            PushPayload.Malformed(PushPayload.Problem.INVALID_NOTICE),
            PushPayload.parse(mapOf("latchkey" to "1", "notice" to "Revoked!")),
        )
    }

    @Test
    fun `a request handle prints as its hex`() {
        assertEquals(handle, RequestHandle.parse(handle).toString())
    }
}
