package dev.latchkey.android

import dev.latchkey.ffi.HttpMethod
import dev.latchkey.ffi.Transport
import dev.latchkey.ffi.TransportException
import dev.latchkey.ffi.TransportRequest
import dev.latchkey.ffi.TransportResponse
import java.io.IOException
import java.io.InterruptedIOException
import java.net.ConnectException
import java.net.NoRouteToHostException
import java.net.SocketTimeoutException
import java.net.UnknownHostException
import java.util.concurrent.TimeUnit
import javax.net.ssl.SSLException
import okhttp3.MediaType.Companion.toMediaTypeOrNull
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody

/**
 * The library's [Transport] on OkHttp, for Android (which has no `java.net.http`; the JVM
 * module's `JdkHttpTransport` is the desktop twin and the model).
 *
 * Every HTTP answer, 4xx and 5xx included, is returned as a [TransportResponse]; only a
 * request without an answer throws: [TransportException.Offline] (no route, refused, unknown
 * host), [TransportException.Timeout], [TransportException.Tls], or
 * [TransportException.Other]. Redirects are not followed, TLS validation is the platform's,
 * and at most [maxBodyBytes] (+1) of a body are read. Blocking: the library calls it on its
 * own (background) thread.
 */
class OkHttpTransport(
    private val client: OkHttpClient = defaultClient(),
    private val maxBodyBytes: Int = 256 * 1024,
) : Transport {
    override fun send(request: TransportRequest): TransportResponse {
        val body = if (request.body.isEmpty()) {
            // OkHttp insists on a body for POST and PUT.
            if (request.method == HttpMethod.POST || request.method == HttpMethod.PUT) ByteArray(0).toRequestBody() else null
        } else {
            request.body.toRequestBody(request.contentType?.toMediaTypeOrNull())
        }
        val call = try {
            Request.Builder()
                .url(request.url)
                .method(methodName(request.method), body)
                .build()
        } catch (e: IllegalArgumentException) {
            throw TransportException.Other("the URL is not valid")
        }
        try {
            client.newCall(call).execute().use { response ->
                val bytes = response.body.source().use { source ->
                    source.request(maxBodyBytes + 1L)
                    val available = minOf(source.buffer.size, maxBodyBytes + 1L)
                    source.buffer.readByteArray(available)
                }
                return TransportResponse(response.code.toUShort(), bytes)
            }
        } catch (e: SocketTimeoutException) {
            throw TransportException.Timeout()
        } catch (e: SSLException) {
            throw TransportException.Tls()
        } catch (e: UnknownHostException) {
            throw TransportException.Offline()
        } catch (e: ConnectException) {
            throw TransportException.Offline()
        } catch (e: NoRouteToHostException) {
            throw TransportException.Offline()
        } catch (e: InterruptedIOException) {
            // OkHttp's call timeout.
            throw TransportException.Timeout()
        } catch (e: IOException) {
            throw TransportException.Other(e.javaClass.simpleName)
        }
    }

    companion object {
        /** A client that follows no redirects, connects within 10 s and gives a call 20 s in all. */
        fun defaultClient(): OkHttpClient =
            OkHttpClient.Builder()
                .followRedirects(false)
                .followSslRedirects(false)
                .retryOnConnectionFailure(false)
                .connectTimeout(10, TimeUnit.SECONDS)
                .readTimeout(20, TimeUnit.SECONDS)
                .callTimeout(20, TimeUnit.SECONDS)
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
