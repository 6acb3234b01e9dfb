package dev.latchkey.shell

import dev.latchkey.ffi.HttpMethod
import dev.latchkey.ffi.TransportException
import dev.latchkey.ffi.TransportRequest
import java.net.ServerSocket
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith

@ExtendWith(LiveServerExtension::class)
class JdkHttpTransportTest {
    private val transport = JdkHttpTransport()

    @Test
    fun `every HTTP answer comes back as a response, errors included`(server: LatchkeyServer) {
        val health = transport.send(TransportRequest(HttpMethod.GET, "${server.baseUrl}/v1/health", ByteArray(0), null))
        assertEquals(200.toUShort(), health.status)
        assertEquals("ok", Json.obj(String(health.body))["status"])

        val missing = transport.send(TransportRequest(HttpMethod.GET, "${server.baseUrl}/v1/nowhere", ByteArray(0), null))
        assertEquals(404.toUShort(), missing.status)
    }

    @Test
    fun `a POST carries its body and content type`(server: LatchkeyServer) {
        val answer = transport.send(
            TransportRequest(HttpMethod.POST, "${server.baseUrl}/v1/phone/sync", "{}".toByteArray(), "application/json"),
        )
        assertTrue(answer.status.toInt() in 400..499, "${answer.status}")
        assertTrue(Json.obj(String(answer.body)).containsKey("error"))
    }

    @Test
    fun `a refused connection is offline`() {
        val port = ServerSocket(0).use { it.localPort }
        assertThrows(TransportException.Offline::class.java) {
            transport.send(TransportRequest(HttpMethod.GET, "http://127.0.0.1:$port/v1/health", ByteArray(0), null))
        }
    }

    @Test
    fun `a URL that does not parse is refused before sending`() {
        assertThrows(TransportException.Other::class.java) {
            transport.send(TransportRequest(HttpMethod.GET, "http://exa mple/", ByteArray(0), null))
        }
    }
}
