package dev.latchkey.shell

import dev.latchkey.ffi.HttpMethod
import dev.latchkey.ffi.Transport
import dev.latchkey.ffi.TransportException
import dev.latchkey.ffi.TransportRequest
import dev.latchkey.ffi.TransportResponse
import java.io.IOException
import java.net.ConnectException
import java.net.NoRouteToHostException
import java.net.URI
import java.net.UnknownHostException
import java.net.http.HttpClient
import java.net.http.HttpConnectTimeoutException
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.net.http.HttpTimeoutException
import java.nio.channels.UnresolvedAddressException
import java.time.Duration
import javax.net.ssl.SSLException

/**
 * The library's [Transport] on the JDK's `java.net.http.HttpClient`: desktop JVMs and the
 * tests. (Android has no `java.net.http`; an Android app implements [Transport] on OkHttp
 * or `HttpURLConnection` the same way — see docs/INTEGRATION.md.)
 *
 * Every HTTP answer, 4xx and 5xx included, is returned as a [TransportResponse]; only a
 * request that got no answer throws a [TransportException]: [TransportException.Offline]
 * (no route, connection refused, unknown host), [TransportException.Timeout],
 * [TransportException.Tls], or [TransportException.Other]. Redirects are not followed (the
 * library treats a 3xx as an unexpected answer), and at most [maxBodyBytes] of a body are
 * read (the library refuses larger answers anyway).
 */
class JdkHttpTransport(
    private val client: HttpClient = defaultClient(),
    private val requestTimeout: Duration = Duration.ofSeconds(20),
    private val maxBodyBytes: Int = 256 * 1024,
) : Transport {
    override fun send(request: TransportRequest): TransportResponse {
        val httpRequest = try {
            val builder = HttpRequest.newBuilder(URI.create(request.url)).timeout(requestTimeout)
            request.contentType?.let { builder.header("Content-Type", it) }
            val body = if (request.body.isEmpty()) {
                HttpRequest.BodyPublishers.noBody()
            } else {
                HttpRequest.BodyPublishers.ofByteArray(request.body)
            }
            builder.method(methodName(request.method), body).build()
        } catch (e: IllegalArgumentException) {
            throw TransportException.Other("the URL is not valid")
        }
        try {
            val response = client.send(httpRequest, HttpResponse.BodyHandlers.ofInputStream())
            val body = response.body().use { it.readNBytes(maxBodyBytes + 1) }
            return TransportResponse(response.statusCode().toUShort(), body)
        } catch (e: HttpConnectTimeoutException) {
            throw TransportException.Offline()
        } catch (e: HttpTimeoutException) {
            throw TransportException.Timeout()
        } catch (e: SSLException) {
            throw TransportException.Tls()
        } catch (e: ConnectException) {
            throw TransportException.Offline()
        } catch (e: NoRouteToHostException) {
            throw TransportException.Offline()
        } catch (e: UnknownHostException) {
            throw TransportException.Offline()
        } catch (e: UnresolvedAddressException) {
            throw TransportException.Offline()
        } catch (e: IOException) {
            throw TransportException.Other(e.javaClass.simpleName)
        } catch (e: InterruptedException) {
            Thread.currentThread().interrupt()
            throw TransportException.Other("interrupted")
        }
    }

    companion object {
        /** A client that follows no redirects and gives up connecting after 10 s. */
        fun defaultClient(): HttpClient =
            HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(10))
                .build()

        private fun methodName(method: HttpMethod): String =
            when (method) {
                HttpMethod.GET -> "GET"
                HttpMethod.POST -> "POST"
                HttpMethod.PUT -> "PUT"
                HttpMethod.DELETE -> "DELETE"
            }
    }
}
