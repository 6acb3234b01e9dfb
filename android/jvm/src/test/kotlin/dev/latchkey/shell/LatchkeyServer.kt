package dev.latchkey.shell

import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/**
 * A real `latchkey serve --dev` on 127.0.0.1 and an ephemeral port, started from the binary
 * the build names (`-Dlatchkey.server.bin`), with its own data folder; and a client for
 * its integrator API and development outbox — the relying party's side of every journey.
 */
class LatchkeyServer private constructor(
    private val process: Process,
    private val root: Path,
    /** `http://127.0.0.1:<port>`, as the server printed it. */
    val baseUrl: String,
    /** The server profile JSON the server printed (what an app pins). */
    val profileJson: String,
) : AutoCloseable {
    /** The server's data folder (keys, token, database, profile). */
    val dataDir: Path = root.resolve("data")
    private val token: String = Files.readString(dataDir.resolve("integrator-token")).trim()
    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    private val users = AtomicInteger()

    /** An answer of the server: status and JSON body. */
    data class Answer(val status: Int, val json: Map<String, Any?>) {
        fun expect(status: Int): Answer {
            check(this.status == status) { "expected HTTP $status, got ${this.status}: $json" }
            return this
        }
    }

    /** An activation started for a user: the signed ticket (JSON text) the app receives. */
    data class Activation(val ticketJson: String, val enrollmentId: String)

    /** A login session: the challenge the login screen shows, and whether a push went out. */
    data class Session(val id: String, val challenge: String, val push: String)

    /** A user the integrator created; [phone] is where the SMS codes go. */
    data class User(val username: String, val phone: String)

    /** Creates a user (integrator API) with a phone number of its own. */
    fun createUser(prefix: String): User {
        val n = users.incrementAndGet()
        val user = User("$prefix$n", "+1555%07d".format(n))
        post(
            "/v1/integrator/users",
            mapOf(
                "username" to user.username,
                "phone" to user.phone,
                "email" to "${user.username}@example.com",
                "jurisdiction" to "US",
            ),
        ).expect(201)
        return user
    }

    /** Starts an activation (or, with [replace], a move to a new phone) for [user]. */
    fun startActivation(user: User, replace: String? = null): Activation {
        val body = mutableMapOf<String, Any?>("username" to user.username)
        replace?.let { body["replace"] = it }
        val answer = post("/v1/integrator/activations", body).expect(201).json
        return Activation(Json.write(answer["ticket"]), answer["enrollment_id"] as String)
    }

    /** The newest 13-digit activation code sent by SMS to [user]. */
    fun activationCode(user: User): String =
        outbox()
            .filter { it["channel"] == "sms" && it["recipient"] == user.phone }
            .mapNotNull { (it["body"] as Map<*, *>)["text"] as? String }
            .flatMap { text -> text.split(Regex("[^0-9]+")).filter { it.length == 13 } }
            .lastOrNull() ?: error("no activation code was sent to ${user.phone}")

    /** Opens a login session for [user], as the integrator does after its password check. */
    fun openSession(user: User, app: String = "Client Portal"): Session {
        val answer = post(
            "/v1/integrator/sessions",
            mapOf("username" to user.username, "app" to app, "client" to "Firefox on Linux", "origin" to "203.0.113.7"),
        ).expect(201).json
        return Session(answer["session_id"] as String, answer["challenge"] as String, answer["push"] as String)
    }

    /** A session's status: `pending`, `approved`, `denied`… */
    fun sessionStatus(session: Session): String =
        get("/v1/integrator/sessions/${session.id}", token).expect(200).json["status"] as String

    /** Submits the 8-digit response the user typed into the login screen. */
    fun submitTypedResponse(session: Session, response: String): Answer =
        post("/v1/integrator/sessions/${session.id}/response", mapOf("response" to response))

    /** The data maps of every push sent to [pushToken], oldest first (as FCM would deliver them). */
    fun pushesTo(pushToken: String): List<Map<String, String>> =
        outbox()
            .filter { it["channel"] == "push" && it["recipient"] == pushToken }
            .map { message ->
                val payload = Json.obj((message["body"] as Map<*, *>)["payload"] as String)
                payload.mapValues { (_, value) -> value.toString() }
            }

    /** Every message the server sent (development outbox). */
    @Suppress("UNCHECKED_CAST")
    fun outbox(): List<Map<String, Any?>> {
        val messages = mutableListOf<Map<String, Any?>>()
        var after = 0L
        while (true) {
            val page = get("/v1/dev/outbox?after=$after", null).expect(200).json["messages"] as List<Map<String, Any?>>
            if (page.isEmpty()) return messages
            messages += page
            after = page.last()["id"] as Long
        }
    }

    private fun post(path: String, body: Map<String, Any?>): Answer =
        send(
            HttpRequest.newBuilder(URI.create(baseUrl + path))
                .header("Authorization", "Bearer $token")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Json.write(body))),
        )

    private fun get(path: String, bearer: String?): Answer {
        val builder = HttpRequest.newBuilder(URI.create(baseUrl + path)).GET()
        bearer?.let { builder.header("Authorization", "Bearer $it") }
        return send(builder)
    }

    private fun send(builder: HttpRequest.Builder): Answer {
        val response = http.send(builder.timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString())
        return Answer(response.statusCode(), Json.obj(response.body()))
    }

    /** Stops the server (SIGTERM, then kill) and deletes its data folder. */
    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
        root.toFile().deleteRecursively()
    }

    companion object {
        /** Starts a server and waits until it printed its profile and address. */
        fun start(): LatchkeyServer {
            val binary = System.getProperty("latchkey.server.bin")
                ?: error("the build passes -Dlatchkey.server.bin (the latchkey binary)")
            check(File(binary).canExecute()) { "$binary is not an executable: build it with cargo build -p latchkey-cli" }
            val root = Files.createTempDirectory("latchkey-server-")
            val log = root.resolve("serve.log").toFile()
            val process = ProcessBuilder(binary, "serve", "--dev", "--listen", "127.0.0.1:0", "--data", root.resolve("data").toString())
                .redirectError(ProcessBuilder.Redirect.to(log))
                .start()
            try {
                val out = BufferedReader(InputStreamReader(process.inputStream, Charsets.UTF_8))
                val printed = mutableListOf<String>()
                var address: String? = null
                while (address == null) {
                    val line = out.readLine() ?: error("latchkey serve exited before listening: ${printed.joinToString("\n")}\n${log.readText()}")
                    printed += line
                    address = Regex("^listening on (http://127\\.0\\.0\\.1:[0-9]+) \\(development mode\\)$").find(line)?.groupValues?.get(1)
                }
                // Keep draining stdout so the server never blocks on a full pipe.
                Thread({ out.useLines { lines -> lines.forEach { } } }, "latchkey-serve-stdout").apply { isDaemon = true }.start()
                // The profile is the JSON object printed first.
                val profile = printed.takeWhile { !it.startsWith("integrator API token") && !it.startsWith("listening on") }
                    .joinToString("\n")
                val server = LatchkeyServer(process, root, address, profile)
                check(Json.obj(profile)["base_url"] == address) { "the profile names another URL: $profile" }
                return server
            } catch (e: Throwable) {
                process.destroyForcibly()
                throw e
            }
        }
    }
}
